//! The tokenizer a GGUF file carries in its metadata (`tokenizer.ggml.*`), rebuilt as the
//! byte-level BPE tokenizer it was exported from (`tokenizer.ggml.model = gpt2`: SmolLM2, Llama 3,
//! Qwen). SentencePiece vocabularies (`llama`) are refused with a clear error.

use crate::Error;
use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

/// GGUF's token type of control tokens (`<|im_start|>`, `<|endoftext|>`, ...).
const CONTROL_TOKEN: i32 = 3;

fn text<'a>(content: &'a Content, key: &str) -> Option<&'a str> {
    match content.metadata.get(key) {
        Some(Value::String(value)) => Some(value),
        _ => None,
    }
}

fn strings<'a>(content: &'a Content, key: &str) -> Result<Vec<&'a str>, Error> {
    match content.metadata.get(key) {
        Some(Value::Array(values)) => values
            .iter()
            .map(|value| match value {
                Value::String(value) => Ok(value.as_str()),
                _ => Err(Error::Format(format!(
                    "{key} holds something else than text"
                ))),
            })
            .collect(),
        _ => Err(Error::Format(format!("the file has no {key}"))),
    }
}

/// The tokenizer of the file.
pub fn from_gguf(content: &Content) -> Result<Tokenizer, Error> {
    match text(content, "tokenizer.ggml.model") {
        Some("gpt2") => {}
        Some(other) => {
            return Err(Error::Format(format!(
                "its tokenizer is `{other}`; only byte-level BPE (`gpt2`: SmolLM2, Llama 3, Qwen) is supported"
            )))
        }
        None => return Err(Error::Format("the file has no tokenizer.ggml.model".into())),
    }
    let tokens = strings(content, "tokenizer.ggml.tokens")?;
    let merges = strings(content, "tokenizer.ggml.merges")?;
    let types: Vec<i32> = match content.metadata.get("tokenizer.ggml.token_type") {
        Some(Value::Array(values)) => values
            .iter()
            .map(|value| value.to_i32().unwrap_or(1))
            .collect(),
        _ => Vec::new(),
    };
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, token)| (token.to_string(), id as u32))
        .collect();
    let merges: Vec<(String, String)> = merges
        .iter()
        .filter_map(|merge| merge.split_once(' '))
        .map(|(left, right)| (left.to_string(), right.to_string()))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|error| Error::Format(format!("its BPE vocabulary is inconsistent: {error}")))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let byte_level = PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true));
    // SmolLM2 splits numbers into single digits before the byte-level split.
    let pre_tokenizer = match text(content, "tokenizer.ggml.pre") {
        Some("smollm") => PreTokenizerWrapper::Sequence(Sequence::new(vec![
            PreTokenizerWrapper::Digits(Digits::new(true)),
            byte_level,
        ])),
        _ => byte_level,
    };
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    let control: Vec<AddedToken> = tokens
        .iter()
        .zip(&types)
        .filter(|(_, kind)| **kind == CONTROL_TOKEN)
        .map(|(token, _)| AddedToken::from(token.to_string(), true))
        .collect();
    tokenizer
        .add_special_tokens(control)
        .map_err(|error| Error::Format(format!("its control tokens: {error}")))?;
    Ok(tokenizer)
}
