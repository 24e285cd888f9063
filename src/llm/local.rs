//! The in-process responder: a small GGUF model run on the CPU ([`whisperengine_local_model`]),
//! used when no LLM endpoint is configured and a model file is there (`LOCAL_MODEL`).
//!
//! - Same prompt as the endpoint's (personality, memories, facts, history), cut to the context
//!   budget by leaving out the oldest history first; memories and facts stay.
//! - One model, loaded once, shared by every connector. Replies are written one at a time on
//!   tokio's blocking pool, so the async runtime is never held up; a reply waits at most the
//!   timeout for its turn and is bounded in tokens and time.
//! - Streamed: each piece of text goes to the connector's sink as it is written. A reply nobody
//!   waits for any more (its turn was dropped) stops being written.

use super::{ChatMessage, LlmError, Prompt, Responder};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use whisperengine_contract::{NoStream, ReplySink};
use whisperengine_local_model::{Finish, GenerateOptions, Message, Model, Role};

/// How the local model writes.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    pub max_tokens: u32,
    pub temperature: f32,
    /// Prompt plus reply, in tokens.
    pub context_tokens: usize,
    /// The longest a reply may take, waiting for its turn included.
    pub timeout: Duration,
    /// The sampler's seed (fixed: the same prompt at temperature 0 gives the same reply).
    pub seed: u64,
}

/// The local model as a [`Responder`].
pub struct LocalResponder {
    model: Arc<Model>,
    path: PathBuf,
    options: LocalOptions,
    /// One reply written at a time: both cores go to it, and a queue stays in arrival order.
    turn: Arc<tokio::sync::Semaphore>,
}

impl LocalResponder {
    /// Loads the model file (on the blocking pool), then reads `system` (the personality's system
    /// prompt) in the background so the first reply does not wait for it.
    pub async fn load(
        path: &Path,
        options: LocalOptions,
        system: Option<String>,
    ) -> Result<LocalResponder, LlmError> {
        let owned = path.to_path_buf();
        let model = tokio::task::spawn_blocking(move || Model::load(&owned))
            .await
            .map_err(|error| {
                LlmError::InvalidConfig(format!("loading the model stopped: {error}"))
            })?
            .map_err(|error| {
                LlmError::InvalidConfig(format!("cannot load {}: {error}", path.display()))
            })?;
        let model = Arc::new(model);
        if let Some(system) = system {
            let warming = model.clone();
            tokio::task::spawn_blocking(move || match warming.warm(&system) {
                Ok(tokens) => tracing::debug!(tokens, "local model: personality prompt read"),
                Err(error) => {
                    tracing::warn!(%error, "local model: reading the personality prompt failed")
                }
            });
        }
        Ok(LocalResponder {
            model,
            path: path.to_path_buf(),
            options,
            turn: Arc::new(tokio::sync::Semaphore::new(1)),
        })
    }
}

/// The model's prompt for `messages`: the oldest history left out until it fits the budget.
fn prompt_text(
    model: &Model,
    options: &LocalOptions,
    mut messages: Vec<Message>,
) -> Result<String, whisperengine_local_model::Error> {
    let budget = options
        .context_tokens
        .min(whisperengine_local_model::MAX_CONTEXT_TOKENS)
        .saturating_sub(options.max_tokens as usize);
    loop {
        let text = model.chat_prompt(&messages);
        // The system message (first) and the message being answered (last) always stay.
        if messages.len() <= 2 || model.count_tokens(&text)? <= budget {
            return Ok(text);
        }
        messages.remove(1);
    }
}

fn message(chat: ChatMessage) -> Message {
    let role = match chat.role.as_str() {
        "system" => Role::System,
        "assistant" => Role::Assistant,
        _ => Role::User,
    };
    Message {
        role,
        content: chat.content,
    }
}

#[async_trait::async_trait]
impl Responder for LocalResponder {
    async fn respond(&self, prompt: &Prompt) -> Result<String, LlmError> {
        self.respond_streaming(prompt, &NoStream).await
    }

    async fn respond_streaming(
        &self,
        prompt: &Prompt,
        sink: &dyn ReplySink,
    ) -> Result<String, LlmError> {
        let started = Instant::now();
        let deadline = started + self.options.timeout;
        let permit = tokio::time::timeout(self.options.timeout, self.turn.clone().acquire_owned())
            .await
            .map_err(|_| LlmError::Timeout)?
            .map_err(|_| LlmError::Timeout)?;
        let messages: Vec<Message> = prompt.to_chat_messages().into_iter().map(message).collect();
        let local = self.options.clone();
        let options = GenerateOptions {
            max_tokens: self.options.max_tokens as usize,
            temperature: f64::from(self.options.temperature),
            seed: self.options.seed,
            deadline,
        };
        let (sender, mut pieces) = tokio::sync::mpsc::unbounded_channel::<String>();
        let model = self.model.clone();
        let writing = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let text = prompt_text(&model, &local, messages)?;
            model.generate(&text, &options, &mut |piece| {
                sender.send(piece.to_string()).is_ok()
            })
        });
        let mut shown = String::new();
        while let Some(piece) = pieces.recv().await {
            sink.push(&piece);
            shown.push_str(&piece);
        }
        let generation = writing
            .await
            .map_err(|error| LlmError::BadResponse(format!("the local model stopped: {error}")))?
            .map_err(|error| {
                if shown.is_empty() {
                    LlmError::BadResponse(error.to_string())
                } else {
                    LlmError::Interrupted {
                        partial: shown.clone(),
                        reason: error.to_string(),
                    }
                }
            })?;
        tracing::debug!(
            prompt_tokens = generation.prompt_tokens,
            reused_tokens = generation.reused_tokens,
            reply_tokens = generation.reply_tokens,
            first_token_ms = generation.first_token.as_millis() as u64,
            total_ms = generation.total.as_millis() as u64,
            finish = ?generation.finish,
            "local model reply"
        );
        let reply = generation.text.trim().to_string();
        if reply.is_empty() {
            return Err(match generation.finish {
                Finish::Deadline => LlmError::Timeout,
                _ => LlmError::BadResponse("the local model wrote an empty reply".into()),
            });
        }
        Ok(reply)
    }

    fn describe(&self) -> String {
        let info = self.model.info();
        format!(
            "local model {}{} ({}, in process)",
            info.name,
            info.size
                .as_deref()
                .map(|size| format!(" {size}"))
                .unwrap_or_default(),
            self.path.display()
        )
    }
}
