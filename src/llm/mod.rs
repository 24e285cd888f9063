//! The language-model layer: what a reply is built from ([`Prompt`]), who writes it ([`Responder`]):
//! an OpenAI-compatible endpoint ([`OpenAiClient`]), with none configured a small model run in
//! process (`local`), and without a model file the deterministic in-character [`OfflineResponder`].
//!
//! - [`prompt`]: the prompt, its rendering into chat messages, ages in words.
//! - [`openai`]: the HTTP client with timeouts and retries, whole or streamed.
//! - [`embeddings`]: the `/embeddings` client (semantic recall).
//! - `local`: a small GGUF model run in process (with the `local-model` feature);
//!   `local_embeddings`: sentence embeddings computed in process (`LOCAL_EMBEDDINGS`).
//! - [`offline`]: the offline responder; [`pronouns`]: "my cat" → "your cat" for it.

pub mod dates;
pub mod embeddings;
#[cfg(feature = "local-model")]
pub mod local;
#[cfg(feature = "local-model")]
pub mod local_embeddings;
pub mod offline;
pub mod openai;
pub mod prompt;
pub mod pronouns;

pub use offline::OfflineResponder;
pub use openai::OpenAiClient;
pub use prompt::{describe_age, FactQuestion, Generation, Prompt, ReplyStyle};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use whisperengine_contract::{Platform, ReplySink};

/// Who said a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    User,
    Companion,
}

/// One earlier turn of conversation, oldest first in [`Prompt::history`].
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub speaker: Speaker,
    pub text: String,
    /// Where the turn was said.
    pub platform: Platform,
    /// Said on another platform than the one being answered (a linked account).
    pub is_other_platform: bool,
    pub at: DateTime<Utc>,
}

/// A long-term memory recalled for this reply: something the user said earlier, maybe elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub struct RecalledMemory {
    /// The user's words, as they said them.
    pub text: String,
    pub platform: Platform,
    pub at: DateTime<Utc>,
    /// Relevance as the retriever scored it; higher is better.
    pub score: f64,
    /// Said on another platform than the one being answered.
    pub is_other_platform: bool,
}

/// A current fact about the user (from the fact table), for the prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownFact {
    /// The fact in the second person: "you live in Lisbon", "your cat is called Miso".
    pub phrase: String,
    /// Whose fact it is: `user` for the person, else "sister", "cat", ...
    pub subject: String,
    /// `location`, `job`, `pet`, ...
    pub attribute: String,
    pub value: String,
    /// Where it was said (last confirmed).
    pub platform: Platform,
    pub at: DateTime<Utc>,
    /// Relevance to the message being answered (0 when unrelated).
    pub score: f64,
    /// Whether it answers the question asked: its subject and attribute are what the question is
    /// about ("where does my sister live?" → the sister's location, not the person's).
    pub answers_question: bool,
    pub is_other_platform: bool,
    /// Another current statement of the same fact, told on another platform, that the person has
    /// not chosen between yet (manual conflict strategy): its value and platform. The companion
    /// says it is unsure rather than picking one.
    pub disputed_by: Option<(String, Platform)>,
}

/// Where the user's feelings are heading over their last few messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trajectory {
    Improving,
    Steady,
    Declining,
}

impl Trajectory {
    pub fn as_str(self) -> &'static str {
        match self {
            Trajectory::Improving => "improving",
            Trajectory::Steady => "steady",
            Trajectory::Declining => "declining",
        }
    }
}

/// The user's mood as the core detected it.
#[derive(Debug, Clone, PartialEq)]
pub struct Mood {
    /// "sad", "happy", "angry", "anxious", "neutral", ...
    pub label: String,
    /// 0 (barely) ..= 1 (overwhelming).
    pub intensity: f64,
    /// -1 (negative) ..= 1 (positive).
    pub valence: f64,
    /// Where it is heading, when enough observations are known.
    pub trajectory: Option<Trajectory>,
}

/// One message in the OpenAI chat format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "system".into(),
            content: content.into(),
        }
    }

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "user".into(),
            content: content.into(),
        }
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "assistant".into(),
            content: content.into(),
        }
    }
}

/// Why no reply came from the model. Never carries the API key (bodies and messages are redacted).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// No answer within the configured timeout (after any retries).
    #[error("the language model did not answer in time")]
    Timeout,
    /// The endpoint answered with an error status.
    #[error("the language model endpoint answered HTTP {status}: {body}")]
    Http {
        status: u16,
        /// The start of the response body, for diagnosis.
        body: String,
    },
    /// The endpoint could not be reached (connection refused, DNS, TLS, ...).
    #[error("could not reach the language model endpoint: {0}")]
    Transport(String),
    /// The endpoint answered 2xx but not with a usable reply.
    #[error("the language model answered something unusable: {0}")]
    BadResponse(String),
    /// The client settings cannot work (a base URL that is not http(s), a key that is not a header).
    #[error("invalid language model settings: {0}")]
    InvalidConfig(String),
    /// A streamed reply stopped after some of it was written (and shown): `partial` is that text,
    /// `reason` what stopped it. Not retried: the person has already seen the start.
    #[error("the language model's reply was cut off: {reason}")]
    Interrupted { partial: String, reason: String },
}

impl LlmError {
    /// Whether trying again may help: timeouts, unreachable endpoints, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            LlmError::Timeout | LlmError::Transport(_) => true,
            LlmError::Http { status, .. } => *status == 429 || *status >= 500,
            LlmError::BadResponse(_)
            | LlmError::InvalidConfig(_)
            | LlmError::Interrupted { .. } => false,
        }
    }
}

/// Something that writes the companion's reply to a prompt.
#[async_trait::async_trait]
pub trait Responder: Send + Sync {
    /// The reply text.
    async fn respond(&self, prompt: &Prompt) -> Result<String, LlmError>;

    /// The reply text, pushing it into `sink` as it is written (see
    /// [`whisperengine_contract::stream`]). What was pushed is a preview; the returned text is the
    /// reply. A responder that cannot stream answers whole and pushes nothing.
    async fn respond_streaming(
        &self,
        prompt: &Prompt,
        sink: &dyn ReplySink,
    ) -> Result<String, LlmError> {
        let _ = sink;
        self.respond(prompt).await
    }

    /// For logs and `doctor`, e.g. "offline responder (Elena Rodriguez)" or
    /// "gpt-4o-mini at http://127.0.0.1:9999/v1". Never includes the key.
    fn describe(&self) -> String;
}
