//! Sentence embeddings in process: a BERT encoder in the layout sentence-transformers saves
//! (`config.json`, `model.safetensors`, `tokenizer.json`; all-MiniLM-L6-v2 and its kin), mean
//! pooling over the tokens and normalisation to length 1, as sentence-transformers computes them.
//!
//! Per layer: self-attention (every token sees every other, padding masked) → dense → residual →
//! LayerNorm → dense → GELU → dense → residual → LayerNorm. Like the llama network it is written
//! on candle-core and candle-nn (about a hundred lines) rather than taken from candle-transformers.

use crate::Error;
use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder};
use serde::Deserialize;
use std::path::Path;
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

/// Longest text read, in tokens (sentence-transformers' `max_seq_length` for these models); the
/// rest of a longer text is left out.
pub const MAX_TOKENS: usize = 256;

/// What `config.json` says of the network.
#[derive(Debug, Deserialize)]
struct Config {
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    type_vocab_size: usize,
    #[serde(default = "default_eps")]
    layer_norm_eps: f64,
    #[serde(default)]
    hidden_act: Option<String>,
    #[serde(default)]
    model_type: Option<String>,
}

fn default_type_vocab() -> usize {
    2
}

fn default_eps() -> f64 {
    1e-12
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// A loaded sentence encoder. [`SentenceEncoder::embed`] takes `&self`: one encoder serves every
/// caller.
pub struct SentenceEncoder {
    words: Embedding,
    positions: Embedding,
    token_types: Embedding,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_size: usize,
    max_tokens: usize,
    dimensions: usize,
    tokenizer: Tokenizer,
    name: String,
}

fn linear(inputs: usize, outputs: usize, vb: VarBuilder) -> candle_core::Result<Linear> {
    candle_nn::linear(inputs, outputs, vb)
}

fn norm(size: usize, eps: f64, vb: VarBuilder) -> candle_core::Result<LayerNorm> {
    candle_nn::layer_norm(size, eps, vb)
}

impl SentenceEncoder {
    /// Loads the model in `folder` (sentence-transformers' layout). The name is the folder's.
    pub fn load(folder: &Path) -> Result<SentenceEncoder, Error> {
        let read = |file: &str| {
            std::fs::read(folder.join(file)).map_err(|error| {
                Error::Format(format!(
                    "cannot read {file} in {}: {error}",
                    folder.display()
                ))
            })
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|error| Error::Format(format!("config.json: {error}")))?;
        if config
            .model_type
            .as_deref()
            .is_some_and(|kind| kind != "bert")
        {
            return Err(Error::Format(format!(
                "config.json describes a `{}` model; only BERT encoders are supported",
                config.model_type.as_deref().unwrap_or_default()
            )));
        }
        if config
            .hidden_act
            .as_deref()
            .is_some_and(|act| act != "gelu")
        {
            return Err(Error::Format(
                "config.json: only the GELU activation is supported".into(),
            ));
        }
        if config.num_attention_heads == 0 || config.hidden_size % config.num_attention_heads != 0 {
            return Err(Error::Format(format!(
                "config.json: {} attention heads do not divide {} dimensions",
                config.num_attention_heads, config.hidden_size
            )));
        }
        let weights = read("model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|error| Error::Format(format!("model.safetensors: {error}")))?;
        // Some exports put everything under `bert.`.
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        };
        let size = config.hidden_size;
        let eps = config.layer_norm_eps;
        let build =
            || -> candle_core::Result<(Embedding, Embedding, Embedding, LayerNorm, Vec<Layer>)> {
                let embeddings = vb.pp("embeddings");
                let words = candle_nn::embedding(
                    config.vocab_size,
                    size,
                    embeddings.pp("word_embeddings"),
                )?;
                let positions = candle_nn::embedding(
                    config.max_position_embeddings,
                    size,
                    embeddings.pp("position_embeddings"),
                )?;
                let token_types = candle_nn::embedding(
                    config.type_vocab_size,
                    size,
                    embeddings.pp("token_type_embeddings"),
                )?;
                let embedding_norm = norm(size, eps, embeddings.pp("LayerNorm"))?;
                let mut layers = Vec::with_capacity(config.num_hidden_layers);
                for index in 0..config.num_hidden_layers {
                    let layer = vb.pp(format!("encoder.layer.{index}"));
                    let attention = layer.pp("attention");
                    layers.push(Layer {
                        query: linear(size, size, attention.pp("self.query"))?,
                        key: linear(size, size, attention.pp("self.key"))?,
                        value: linear(size, size, attention.pp("self.value"))?,
                        attention_out: linear(size, size, attention.pp("output.dense"))?,
                        attention_norm: norm(size, eps, attention.pp("output.LayerNorm"))?,
                        intermediate: linear(
                            size,
                            config.intermediate_size,
                            layer.pp("intermediate.dense"),
                        )?,
                        output: linear(config.intermediate_size, size, layer.pp("output.dense"))?,
                        output_norm: norm(size, eps, layer.pp("output.LayerNorm"))?,
                    });
                }
                Ok((words, positions, token_types, embedding_norm, layers))
            };
        let (words, positions, token_types, embedding_norm, layers) =
            build().map_err(|error| Error::Format(format!("model.safetensors: {error}")))?;
        let mut tokenizer = Tokenizer::from_file(folder.join("tokenizer.json"))
            .map_err(|error| Error::Format(format!("tokenizer.json: {error}")))?;
        let max_tokens = MAX_TOKENS.min(config.max_position_embeddings);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|error| Error::Format(format!("tokenizer.json: {error}")))?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        let name = folder
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sentence-encoder".into());
        Ok(SentenceEncoder {
            words,
            positions,
            token_types,
            embedding_norm,
            layers,
            heads: config.num_attention_heads,
            head_size: size / config.num_attention_heads,
            max_tokens,
            dimensions: size,
            tokenizer,
            name,
        })
    }

    /// The model's name (its folder's), stored with each vector.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Length of each vector.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// One vector of length 1 per text, in order. Texts are read together, padded to the longest
    /// (each at most [`MAX_TOKENS`] tokens).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Error> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|error| Error::Inference(format!("cannot tokenize: {error}")))?;
        let length = encodings
            .iter()
            .map(|encoding| encoding.get_ids().len())
            .max()
            .unwrap_or(0)
            .clamp(1, self.max_tokens);
        let mut ids = Vec::with_capacity(texts.len() * length);
        let mut mask = Vec::with_capacity(texts.len() * length);
        for encoding in &encodings {
            let own_ids = encoding.get_ids();
            let own_mask = encoding.get_attention_mask();
            for position in 0..length {
                ids.push(own_ids.get(position).copied().unwrap_or(0));
                mask.push(own_mask.get(position).copied().unwrap_or(0) as f32);
            }
        }
        let vectors = self.forward(&ids, &mask, texts.len(), length)?;
        Ok(vectors)
    }

    fn forward(
        &self,
        ids: &[u32],
        mask: &[f32],
        batch: usize,
        length: usize,
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let device = Device::Cpu;
        let ids = Tensor::from_slice(ids, (batch, length), &device)?;
        let mask = Tensor::from_slice(mask, (batch, length), &device)?;
        let positions = Tensor::arange(0u32, length as u32, &device)?.unsqueeze(0)?;
        let token_types = Tensor::zeros((batch, length), DType::U32, &device)?;
        let mut hidden = self
            .words
            .forward(&ids)?
            .broadcast_add(&self.positions.forward(&positions)?)?
            .broadcast_add(&self.token_types.forward(&token_types)?)?;
        hidden = self.embedding_norm.forward(&hidden)?;
        // Padding gets a large negative score before the softmax: (batch, 1, 1, positions).
        let attention_bias = ((mask.clone() - 1.0)? * 1e9)?.unsqueeze(1)?.unsqueeze(1)?;
        let scale = 1.0 / (self.head_size as f64).sqrt();
        let heads = |x: Tensor| -> candle_core::Result<Tensor> {
            x.reshape((batch, length, self.heads, self.head_size))?
                .transpose(1, 2)?
                .contiguous()
        };
        for layer in &self.layers {
            let query = heads(layer.query.forward(&hidden)?)?;
            let key = heads(layer.key.forward(&hidden)?)?;
            let value = heads(layer.value.forward(&hidden)?)?;
            let scores = (query.matmul(&key.t()?)? * scale)?.broadcast_add(&attention_bias)?;
            let weights = candle_nn::ops::softmax_last_dim(&scores)?;
            let context = weights.matmul(&value)?.transpose(1, 2)?.reshape((
                batch,
                length,
                self.dimensions,
            ))?;
            let attended = layer
                .attention_norm
                .forward(&(layer.attention_out.forward(&context)? + &hidden)?)?;
            let inner = layer.intermediate.forward(&attended)?.gelu_erf()?;
            hidden = layer
                .output_norm
                .forward(&(layer.output.forward(&inner)? + &attended)?)?;
        }
        // Mean over the real tokens, then length 1.
        let weights = mask.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&weights)?.sum(1)?;
        let counts = weights.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .sqrt()?
            .clamp(1e-12, f64::MAX)?;
        mean.broadcast_div(&norms)?.to_vec2::<f32>()
    }
}
