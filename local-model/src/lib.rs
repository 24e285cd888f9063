//! A small instruction-tuned language model in GGUF format (the llama architecture: SmolLM2,
//! TinyLlama, Llama 3 and their fine-tunes), run on the CPU in this process with candle.
//!
//! - [`Model::load`] reads the file once: the weights, the tokenizer the file carries
//!   ([`tokenizer`]) and its chat format ([`ChatFormat`]). Weights stored in a format candle has no
//!   vectorised kernel for (Q4_1, Q5_0, Q5_1) are converted to Q8_0 on load: nearly lossless, and
//!   several times faster on x86 and ARM.
//! - The network itself is the llama architecture on candle's quantized kernels ([`llama`]).
//! - [`Model::generate`] writes a reply to a prompt, one token at a time, handing each new piece of
//!   text to a callback that may stop it; bounded in tokens and in time.
//! - The attention state of the longest prompt start seen twice (in practice the personality's
//!   system prompt) is kept, so the next reply reads only what follows it ([`prefix`]).
//!
//! - [`SentenceEncoder`] turns texts into sentence embeddings (a BERT encoder such as
//!   all-MiniLM-L6-v2), for semantic recall without an embeddings endpoint.
//!
//! Everything here is synchronous and CPU-bound: callers run it on a blocking-friendly thread.

mod bert;
mod chat;
mod llama;
mod load;
mod prefix;
pub mod tokenizer;

pub use bert::SentenceEncoder;
pub use chat::{ChatFormat, Message, Role};

use candle_core::{Device, Tensor};
use llama::ModelWeights;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokenizers::Tokenizer;

/// The longest prompt plus reply the model's position table holds.
pub const MAX_CONTEXT_TOKENS: usize = llama::MAX_SEQ_LEN;

/// Tokens already in the reply are made this much less likely (small models otherwise loop).
const REPEAT_PENALTY: f32 = 1.3;
/// Over the last this-many reply tokens.
const REPEAT_WINDOW: usize = 64;
/// Above temperature 0, the next token is drawn from the likeliest tokens that together reach
/// this probability.
const TOP_P: f32 = 0.9;

/// Why a model could not be loaded or could not write.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the model file: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a usable GGUF model: {0}")]
    Format(String),
    #[error("the model failed while writing: {0}")]
    Inference(String),
}

impl From<candle_core::Error> for Error {
    fn from(error: candle_core::Error) -> Self {
        Error::Inference(error.to_string())
    }
}

/// What the file says about itself, for `doctor` and the logs.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// `general.name`, or the file name.
    pub name: String,
    /// `general.size_label`, e.g. "135M", when the file has one.
    pub size: Option<String>,
    /// The context length the model was trained for (`llama.context_length`).
    pub trained_context: Option<usize>,
    pub chat_format: ChatFormat,
}

/// How one reply is written.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// At most this many tokens of reply.
    pub max_tokens: usize,
    /// 0 picks the likeliest token every time (reproducible); above 0 samples (top-p 0.9).
    pub temperature: f64,
    /// The sampler's seed (used when `temperature` > 0).
    pub seed: u64,
    /// Writing stops here, keeping what was written.
    pub deadline: Instant,
}

/// Why writing stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The model ended its reply.
    Done,
    /// `max_tokens` were written.
    Length,
    /// The deadline passed.
    Deadline,
    /// The callback asked to stop.
    Stopped,
}

/// A written reply and what it took.
#[derive(Debug, Clone)]
pub struct Generation {
    pub text: String,
    pub finish: Finish,
    pub prompt_tokens: usize,
    /// Prompt tokens whose attention state came from the kept prompt start.
    pub reused_tokens: usize,
    pub reply_tokens: usize,
    /// From the call to the first reply token.
    pub first_token: Duration,
    pub total: Duration,
}

/// A loaded model. Shared by every connector: [`Model::generate`] takes `&self`, each call works
/// on its own copy of the attention state.
pub struct Model {
    pub(crate) weights: ModelWeights,
    pub(crate) tokenizer: Tokenizer,
    pub(crate) stop_tokens: Vec<u32>,
    pub(crate) info: ModelInfo,
    pub(crate) prefix: Mutex<prefix::PrefixCache>,
}

impl Model {
    /// Loads a GGUF file.
    pub fn load(path: &Path) -> Result<Model, Error> {
        load::load(path)
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The prompt text for `messages` in the model's chat format, ending where the reply starts.
    pub fn chat_prompt(&self, messages: &[Message]) -> String {
        self.info.chat_format.render(messages)
    }

    /// How many tokens `text` is for this model.
    pub fn count_tokens(&self, text: &str) -> Result<usize, Error> {
        Ok(self.encode(text)?.len())
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>, Error> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|error| Error::Inference(format!("cannot tokenize the prompt: {error}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    fn decode(&self, tokens: &[u32]) -> Result<String, Error> {
        self.tokenizer
            .decode(tokens, true)
            .map_err(|error| Error::Inference(format!("cannot decode the reply: {error}")))
    }

    /// Writes the reply to `prompt` (see [`Model::chat_prompt`]). `on_text` gets each new piece
    /// of text as it is written (never half a character) and returns `false` to stop.
    pub fn generate(
        &self,
        prompt: &str,
        options: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Generation, Error> {
        let started = Instant::now();
        let tokens = self.encode(prompt)?;
        if tokens.is_empty() {
            return Err(Error::Inference("the prompt is empty".into()));
        }
        if tokens.len() + options.max_tokens > MAX_CONTEXT_TOKENS {
            return Err(Error::Inference(format!(
                "the prompt is {} tokens; with {} for the reply it does not fit in {MAX_CONTEXT_TOKENS}",
                tokens.len(),
                options.max_tokens
            )));
        }
        let (mut state, mut logits, reused) = self.read_prompt(&tokens)?;
        let mut sampler = llama::Sampler::new(options.seed, options.temperature, TOP_P);
        let mut position = tokens.len();
        let mut reply: Vec<u32> = Vec::new();
        let mut shown = 0;
        let mut first_token = None;
        let finish = loop {
            let recent = &reply[reply.len().saturating_sub(REPEAT_WINDOW)..];
            let scored = if recent.is_empty() {
                logits.clone()
            } else {
                llama::repeat_penalty(&logits, REPEAT_PENALTY, recent)?
            };
            let next = sampler.sample(&scored)?;
            first_token.get_or_insert_with(|| started.elapsed());
            if self.stop_tokens.contains(&next) {
                break Finish::Done;
            }
            reply.push(next);
            let text = self.decode(&reply)?;
            // A character split over tokens decodes as U+FFFD until its last byte arrives.
            if text.len() > shown && !text.ends_with('\u{FFFD}') && text.is_char_boundary(shown) {
                let keep_going = on_text(&text[shown..]);
                shown = text.len();
                if !keep_going {
                    break Finish::Stopped;
                }
            }
            if reply.len() >= options.max_tokens {
                break Finish::Length;
            }
            if Instant::now() >= options.deadline {
                break Finish::Deadline;
            }
            let input = Tensor::new(&[next], &Device::Cpu)?.unsqueeze(0)?;
            logits = state.forward(&input, position)?.squeeze(0)?;
            position += 1;
        };
        let text = self.decode(&reply)?;
        if text.len() > shown && text.is_char_boundary(shown) {
            on_text(&text[shown..]);
        }
        Ok(Generation {
            text,
            finish,
            prompt_tokens: tokens.len(),
            reused_tokens: reused,
            reply_tokens: reply.len(),
            first_token: first_token.unwrap_or_else(|| started.elapsed()),
            total: started.elapsed(),
        })
    }

    /// Reads the system message `system` (the start every prompt will have, e.g. the
    /// personality's system prompt) and keeps its attention state, so the first reply does not pay
    /// for it; returns how many tokens were kept. The message's end marker and its last tokens are
    /// left out: what follows differs with every reply and may merge with them.
    pub fn warm(&self, system: &str) -> Result<usize, Error> {
        let prompt = self.chat_prompt(&[Message {
            role: Role::System,
            content: system.to_string(),
        }]);
        let start = self
            .info
            .chat_format
            .system_end(&prompt)
            .map_or("", |end| &prompt[..end]);
        let mut tokens = self.encode(start)?;
        tokens.truncate(tokens.len().saturating_sub(2));
        if tokens.len() < 2 {
            return Ok(0);
        }
        let mut state = self.weights.clone();
        let chunk = Tensor::new(tokens.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
        state.forward(&chunk, 0)?;
        if let Ok(mut cache) = self.prefix.lock() {
            cache.pin(&tokens, &state);
        }
        Ok(tokens.len())
    }

    /// Drops the kept prompt starts, the pinned one too (the next reply reads its whole prompt).
    pub fn forget(&self) {
        if let Ok(mut cache) = self.prefix.lock() {
            *cache = prefix::PrefixCache::default();
        }
    }

    /// The attention state after reading `tokens` and the logits for the next token, starting
    /// from the kept prompt start when it matches; returns how many tokens it saved.
    fn read_prompt(&self, tokens: &[u32]) -> Result<(ModelWeights, Tensor, usize), Error> {
        let plan = match self.prefix.lock() {
            Ok(cache) => cache.plan(tokens, &self.weights),
            Err(_) => prefix::Plan::fresh(&self.weights),
        };
        let mut weights = plan.start;
        let mut position = plan.reused;
        if plan.keep_at > position {
            let chunk = Tensor::new(&tokens[position..plan.keep_at], &Device::Cpu)?.unsqueeze(0)?;
            weights.forward(&chunk, position)?;
            position = plan.keep_at;
            if let Ok(mut cache) = self.prefix.lock() {
                cache.keep(&tokens[..position], &weights);
            }
        }
        // The plan leaves at least the last token to read here, for its logits.
        let rest = Tensor::new(&tokens[position..], &Device::Cpu)?.unsqueeze(0)?;
        let logits = weights.forward(&rest, position)?.squeeze(0)?;
        if let Ok(mut cache) = self.prefix.lock() {
            cache.saw(tokens);
        }
        Ok((weights, logits, plan.reused))
    }
}
