//! The llama architecture (SmolLM2, Llama 3 and their kin in GGUF files) on candle's quantized
//! tensors: token embedding, then per block RMS norm → grouped-query attention with interleaved
//! rotary positions and a key/value cache → residual → RMS norm → SiLU-gated feed-forward →
//! residual; a last RMS norm and the output projection give the next token's logits.
//!
//! It is written here on candle-core and candle-nn rather than taken from candle-transformers,
//! whose hundred other architectures cost a cold release build about three CPU minutes for the
//! one used. The arithmetic is the reference one, step for step (the same kernels in the same
//! order), so a prompt gives the same tokens.
//!
//! The whole state of a conversation is the key/value cache inside [`ModelWeights`]: cloning it
//! (cheap: tensors are shared) keeps an attention state to continue from later
//! ([`crate::prefix`]).

use candle_core::quantized::{gguf_file, QMatMul, QTensor};
use candle_core::{DType, Device, IndexOp, Module, Result, Tensor, D};
use candle_nn::Embedding;
use std::collections::HashMap;
use std::io::{Read, Seek};

/// Most positions a conversation may reach (prompt and reply).
pub const MAX_SEQ_LEN: usize = 4096;

#[derive(Debug, Clone)]
struct Block {
    query: QMatMul,
    key: QMatMul,
    value: QMatMul,
    attention_out: QMatMul,
    attention_norm: Tensor,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
    ffn_norm: Tensor,
    /// Keys and values of every position read so far, `(batch, kv heads, positions, head size)`.
    cache: Option<(Tensor, Tensor)>,
}

/// The model's weights and the attention state of what it has read.
#[derive(Debug, Clone)]
pub struct ModelWeights {
    embedding: Embedding,
    blocks: Vec<Block>,
    norm: Tensor,
    output: QMatMul,
    heads: usize,
    kv_heads: usize,
    head_size: usize,
    norm_eps: f32,
    /// Rotary position tables, `(MAX_SEQ_LEN, rotary dimensions / 2)`.
    cos: Tensor,
    sin: Tensor,
    neg_inf: Tensor,
    /// Causal masks by (new positions, all positions).
    masks: HashMap<(usize, usize), Tensor>,
}

impl ModelWeights {
    /// Reads the weights a GGUF file of the llama architecture holds.
    pub fn from_gguf<R: Seek + Read>(
        content: gguf_file::Content,
        reader: &mut R,
        device: &Device,
    ) -> Result<ModelWeights> {
        let metadata = |key: &str| match content.metadata.get(key) {
            Some(value) => Ok(value),
            None => candle_core::bail!("cannot find {key} in the metadata"),
        };
        let heads = metadata("llama.attention.head_count")?.to_u32()? as usize;
        let kv_heads = metadata("llama.attention.head_count_kv")?.to_u32()? as usize;
        let block_count = metadata("llama.block_count")?.to_u32()? as usize;
        let embedding_size = metadata("llama.embedding_length")?.to_u32()? as usize;
        let rotary_size = metadata("llama.rope.dimension_count")?.to_u32()? as usize;
        let norm_eps = metadata("llama.attention.layer_norm_rms_epsilon")?.to_f32()?;
        let freq_base = metadata("llama.rope.freq_base")
            .and_then(|value| value.to_f32())
            .unwrap_or(10_000.0);
        if heads == 0 || kv_heads == 0 || heads % kv_heads != 0 {
            candle_core::bail!("{heads} attention heads cannot share {kv_heads} key/value heads");
        }
        let (cos, sin) = rotary_tables(rotary_size, freq_base, device)?;
        let mut tensor = |name: &str| content.tensor(reader, name, device);
        let embedding_weights = tensor("token_embd.weight")?;
        let embedding = Embedding::new(embedding_weights.dequantize(device)?, embedding_size);
        let norm = tensor("output_norm.weight")?.dequantize(device)?;
        // Small models share the embedding with the output projection.
        let output = match tensor("output.weight") {
            Ok(output) => output,
            Err(_) => embedding_weights,
        };
        let mut blocks = Vec::with_capacity(block_count);
        for index in 0..block_count {
            let mut weights =
                |part: &str| -> Result<QTensor> { tensor(&format!("blk.{index}.{part}.weight")) };
            blocks.push(Block {
                query: QMatMul::from_qtensor(weights("attn_q")?)?,
                key: QMatMul::from_qtensor(weights("attn_k")?)?,
                value: QMatMul::from_qtensor(weights("attn_v")?)?,
                attention_out: QMatMul::from_qtensor(weights("attn_output")?)?,
                attention_norm: weights("attn_norm")?.dequantize(device)?,
                gate: QMatMul::from_qtensor(weights("ffn_gate")?)?,
                up: QMatMul::from_qtensor(weights("ffn_up")?)?,
                down: QMatMul::from_qtensor(weights("ffn_down")?)?,
                ffn_norm: weights("ffn_norm")?.dequantize(device)?,
                cache: None,
            });
        }
        Ok(ModelWeights {
            embedding,
            blocks,
            norm,
            output: QMatMul::from_qtensor(output)?,
            heads,
            kv_heads,
            head_size: embedding_size / heads,
            norm_eps,
            cos,
            sin,
            neg_inf: Tensor::new(f32::NEG_INFINITY, device)?,
            masks: HashMap::new(),
        })
    }

    /// Reads `tokens` (`(1, n)`) placed from `position` on, after what the state holds up to
    /// there, and returns the logits of the token that follows the last one (`(1, vocabulary)`).
    pub fn forward(&mut self, tokens: &Tensor, position: usize) -> Result<Tensor> {
        let (_batch, length) = tokens.dims2()?;
        let mask = if length == 1 {
            None
        } else {
            Some(self.mask(length, position, tokens.device())?)
        };
        let mut hidden = self.embedding.forward(tokens)?;
        let shape = Shape {
            heads: self.heads,
            kv_heads: self.kv_heads,
            head_size: self.head_size,
        };
        for block in &mut self.blocks {
            let normed = candle_nn::ops::rms_norm(&hidden, &block.attention_norm, self.norm_eps)?;
            let attended = block.attend(
                &normed,
                mask.as_ref(),
                position,
                shape,
                (&self.cos, &self.sin),
                &self.neg_inf,
            )?;
            let hidden_after_attention = (attended + &hidden)?;
            let normed =
                candle_nn::ops::rms_norm(&hidden_after_attention, &block.ffn_norm, self.norm_eps)?;
            let gated = (candle_nn::ops::silu(&block.gate.forward(&normed)?)?
                * block.up.forward(&normed)?)?;
            hidden = (block.down.forward(&gated)? + &hidden_after_attention)?;
        }
        let last = candle_nn::ops::rms_norm(&hidden, &self.norm, self.norm_eps)?.i((
            ..,
            length - 1,
            ..,
        ))?;
        self.output.forward(&last)
    }

    /// The causal mask of `length` new positions after `position` kept ones: 1 where a new
    /// position may not look (at a later one), 0 elsewhere.
    fn mask(&mut self, length: usize, position: usize, device: &Device) -> Result<Tensor> {
        let total = position + length;
        if let Some(mask) = self.masks.get(&(length, total)) {
            return Ok(mask.clone());
        }
        let mask = Tensor::from_slice(&causal_mask(length, position), (length, total), device)?;
        self.masks.insert((length, total), mask.clone());
        Ok(mask)
    }
}

/// The cells of [`ModelWeights::mask`], row by row.
fn causal_mask(length: usize, position: usize) -> Vec<u8> {
    let total = position + length;
    (0..length)
        .flat_map(|row| (0..total).map(move |column| u8::from(column > position + row)))
        .collect()
}

/// Head counts and size of the attention.
#[derive(Debug, Clone, Copy)]
struct Shape {
    heads: usize,
    kv_heads: usize,
    head_size: usize,
}

impl Block {
    fn attend(
        &mut self,
        x: &Tensor,
        mask: Option<&Tensor>,
        position: usize,
        shape: Shape,
        (cos, sin): (&Tensor, &Tensor),
        neg_inf: &Tensor,
    ) -> Result<Tensor> {
        let (batch, length, width) = x.dims3()?;
        let split = |projected: Tensor, heads: usize| {
            projected
                .reshape((batch, length, heads, shape.head_size))?
                .transpose(1, 2)
        };
        let query = split(self.query.forward(x)?, shape.heads)?;
        let key = split(self.key.forward(x)?, shape.kv_heads)?;
        let value = split(self.value.forward(x)?, shape.kv_heads)?.contiguous()?;
        let cos = cos.narrow(0, position, length)?;
        let sin = sin.narrow(0, position, length)?;
        let query = candle_nn::rotary_emb::rope_i(&query.contiguous()?, &cos, &sin)?;
        let key = candle_nn::rotary_emb::rope_i(&key.contiguous()?, &cos, &sin)?;
        let (key, value) = match &self.cache {
            Some((kept_keys, kept_values)) if position > 0 => (
                Tensor::cat(&[kept_keys, &key], 2)?,
                Tensor::cat(&[kept_values, &value], 2)?,
            ),
            _ => (key, value),
        };
        self.cache = Some((key.clone(), value.clone()));
        let repeats = shape.heads / shape.kv_heads;
        let key = repeat_heads(key, repeats)?;
        let value = repeat_heads(value, repeats)?;
        let scores = (query.matmul(&key.t()?)? / (shape.head_size as f64).sqrt())?;
        let scores = match mask {
            None => scores,
            Some(mask) => {
                let mask = mask.broadcast_as(scores.shape())?;
                mask.where_cond(&neg_inf.broadcast_as(scores.shape().dims())?, &scores)?
            }
        };
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let attended = weights
            .matmul(&value.contiguous()?)?
            .transpose(1, 2)?
            .reshape(&[batch, length, width])?;
        self.attention_out.forward(&attended)
    }
}

/// Each key/value head repeated for the query heads that share it.
fn repeat_heads(x: Tensor, repeats: usize) -> Result<Tensor> {
    if repeats == 1 {
        return Ok(x);
    }
    let (batch, heads, length, size) = x.dims4()?;
    // Concatenating is faster than a broadcast, which goes through a strided copy.
    Tensor::cat(&vec![&x; repeats], 2)?.reshape((batch, heads * repeats, length, size))
}

/// Cosine and sine of every position's rotation for each pair of the `size` rotated dimensions.
fn rotary_tables(size: usize, freq_base: f32, device: &Device) -> Result<(Tensor, Tensor)> {
    let frequencies: Vec<f32> = (0..size)
        .step_by(2)
        .map(|index| 1.0 / freq_base.powf(index as f32 / size as f32))
        .collect();
    let count = frequencies.len();
    let frequencies = Tensor::new(frequencies.as_slice(), device)?;
    let angles = Tensor::arange(0, MAX_SEQ_LEN as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((MAX_SEQ_LEN, 1))?
        .matmul(&frequencies.reshape((1, count))?)?;
    Ok((angles.cos()?, angles.sin()?))
}

/// Picks the next token from logits: the most likely one at temperature 0, otherwise a draw from
/// the smallest set of tokens whose probabilities reach `top_p` (nucleus sampling), with a seeded
/// generator so a seed repeats a reply.
pub struct Sampler {
    rng: rand::rngs::StdRng,
    /// `None`: the most likely token.
    nucleus: Option<(f64, f32)>,
}

impl Sampler {
    /// `temperature` ≤ 0 picks the most likely token every time.
    pub fn new(seed: u64, temperature: f64, top_p: f32) -> Sampler {
        use rand::SeedableRng;
        Sampler {
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            nucleus: (temperature > 0.0).then_some((temperature, top_p)),
        }
    }

    pub fn sample(&mut self, logits: &Tensor) -> Result<u32> {
        let logits = logits.to_dtype(DType::F32)?;
        let Some((temperature, top_p)) = self.nucleus else {
            return logits.argmax(D::Minus1)?.to_scalar::<u32>();
        };
        let mut probabilities =
            candle_nn::ops::softmax_last_dim(&(&logits / temperature)?)?.to_vec1::<f32>()?;
        if top_p > 0.0 && top_p < 1.0 {
            let mut order: Vec<usize> = (0..probabilities.len()).collect();
            order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
            let mut total = 0.0;
            for index in order {
                if total >= top_p {
                    probabilities[index] = 0.0;
                } else {
                    total += probabilities[index];
                }
            }
        }
        use rand::distr::Distribution;
        let draw = rand::distr::weighted::WeightedIndex::new(&probabilities)
            .map_err(candle_core::Error::wrap)?;
        Ok(draw.sample(&mut self.rng) as u32)
    }
}

/// Makes the tokens in `recent` less likely (each once): a positive logit is divided by
/// `penalty`, a negative one multiplied, so a reply does not loop on itself.
pub fn repeat_penalty(logits: &Tensor, penalty: f32, recent: &[u32]) -> Result<Tensor> {
    let mut values = logits.to_dtype(DType::F32)?.to_vec1::<f32>()?;
    let mut seen = std::collections::HashSet::new();
    for &token in recent {
        if !seen.insert(token) {
            continue;
        }
        if let Some(logit) = values.get_mut(token as usize) {
            if *logit >= 0.0 {
                *logit /= penalty;
            } else {
                *logit *= penalty;
            }
        }
    }
    let length = values.len();
    Tensor::from_vec(values, length, logits.device())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_position_never_looks_at_a_later_one() {
        assert_eq!(causal_mask(3, 0), [0, 1, 1, 0, 0, 1, 0, 0, 0]);
        #[rustfmt::skip]
        assert_eq!(causal_mask(3, 2), [
            0, 0, 0, 1, 1,
            0, 0, 0, 0, 1,
            0, 0, 0, 0, 0,
        ]);
        assert!(causal_mask(1, 10).iter().all(|&cell| cell == 0));
    }

    #[test]
    fn the_penalty_lowers_each_recent_token_once() -> Result<()> {
        let logits = Tensor::new(&[2.0f32, -1.0, 0.5], &Device::Cpu)?;
        let scored = repeat_penalty(&logits, 2.0, &[0, 1, 0])?.to_vec1::<f32>()?;
        assert_eq!(scored, [1.0, -2.0, 0.5]);
        Ok(())
    }

    #[test]
    fn temperature_zero_takes_the_most_likely_token_and_a_seed_repeats_a_draw() -> Result<()> {
        let logits = Tensor::new(&[0.1f32, 3.0, 0.2, 2.9], &Device::Cpu)?;
        assert_eq!(Sampler::new(1, 0.0, 0.9).sample(&logits)?, 1);
        let draws = |seed| -> Result<Vec<u32>> {
            let mut sampler = Sampler::new(seed, 1.0, 0.9);
            (0..20).map(|_| sampler.sample(&logits)).collect()
        };
        let first = draws(7)?;
        assert_eq!(first, draws(7)?);
        // Top-p 0.9 keeps the two likely tokens and drops the unlikely ones.
        assert!(
            first.iter().all(|token| *token == 1 || *token == 3),
            "{first:?}"
        );
        Ok(())
    }

    #[test]
    fn rotary_tables_start_unrotated() -> Result<()> {
        let (cos, sin) = rotary_tables(8, 10_000.0, &Device::Cpu)?;
        assert_eq!(cos.dims(), [MAX_SEQ_LEN, 4]);
        assert_eq!(cos.i(0)?.to_vec1::<f32>()?, [1.0; 4]);
        assert_eq!(sin.i(0)?.to_vec1::<f32>()?, [0.0; 4]);
        Ok(())
    }
}
