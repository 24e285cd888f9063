//! Streamed chat completions (`stream: true`, server-sent events): the reply's text is pushed into
//! a [`ReplySink`] as it arrives.
//!
//! The rules, beside the whole-reply client's:
//! - Before any text arrived, a failure is retried like a whole request (timeouts, unreachable
//!   endpoint, 429, 5xx) and then reported, so the caller can fall back to the offline responder.
//! - The first text must arrive within the timeout (counted from sending the request), each
//!   further chunk within the timeout of the one before, and the whole reply within
//!   [`STREAM_TOTAL_FACTOR`] timeouts.
//! - After text has started, a failure is [`LlmError::Interrupted`] with the text so far: it is
//!   never retried, since the person has seen the start.
//! - An endpoint that ignores `stream: true` and answers one JSON completion is read as such; its
//!   reply is returned without being pushed (nothing was written gradually to show).

use super::{Failure, OpenAiClient};
use crate::llm::{ChatMessage, LlmError};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde::Deserialize;
use std::time::Duration;
use tokio::time::Instant;
use whisperengine_contract::ReplySink;

/// A streamed reply may take this many timeouts in all (a long answer from a slow model).
pub const STREAM_TOTAL_FACTOR: u32 = 4;

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    delta: Option<Delta>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
}

impl OpenAiClient {
    /// The model's answer to `messages`, streamed into `sink`, with this client's model, timeout
    /// and retries before the first text.
    pub async fn chat_streaming(
        &self,
        messages: Vec<ChatMessage>,
        max_tokens: u32,
        temperature: f32,
        sink: &dyn ReplySink,
    ) -> Result<String, LlmError> {
        self.chat_streaming_as(&self.model, messages, max_tokens, temperature, sink)
            .await
    }

    /// [`OpenAiClient::chat_streaming`] with `model`.
    #[tracing::instrument(skip_all, fields(model = %model))]
    pub(super) async fn chat_streaming_as(
        &self,
        model: &str,
        messages: Vec<ChatMessage>,
        max_tokens: u32,
        temperature: f32,
        sink: &dyn ReplySink,
    ) -> Result<String, LlmError> {
        let request = super::ChatRequest {
            model,
            messages,
            max_tokens,
            temperature,
            stream: true,
        };
        self.with_retries(|| self.stream_attempt(&request, sink))
            .await
    }

    async fn stream_attempt(
        &self,
        request: &super::ChatRequest<'_>,
        sink: &dyn ReplySink,
    ) -> Result<String, Failure> {
        let started = Instant::now();
        let first_text_by = started + self.timeout;
        let send = self
            .authorize(self.http.post(self.chat_url.clone()))
            .timeout(self.timeout.saturating_mul(STREAM_TOTAL_FACTOR))
            .json(request)
            .send();
        let response = tokio::time::timeout_at(first_text_by, send)
            .await
            .map_err(|_| LlmError::Timeout)?
            .map_err(|error| self.transport_error(error))?;
        if !response.status().is_success() {
            return Err(self.failure_of(response).await);
        }
        let is_whole = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/json"));
        if is_whole {
            // An endpoint that does not stream answers the whole completion: it is returned
            // without being pushed, so the connector sends it the ordinary way.
            let body = tokio::time::timeout_at(first_text_by, response.bytes())
                .await
                .map_err(|_| LlmError::Timeout)?
                .map_err(|error| self.transport_error(error))?;
            return Ok(super::parse_completion(&body)?);
        }
        let mut events = response.bytes_stream().eventsource();
        let mut text = String::new();
        let mut finished = false;
        loop {
            let deadline = if text.is_empty() {
                first_text_by
            } else {
                Instant::now() + self.timeout
            };
            let event = match tokio::time::timeout_at(deadline, events.next()).await {
                Err(_) => Err(LlmError::Timeout),
                Ok(None) if finished => break,
                Ok(None) => Err(LlmError::Transport(
                    "the stream ended before the reply was finished".into(),
                )),
                Ok(Some(Err(error))) => Err(self.stream_error(error)),
                Ok(Some(Ok(event))) => Ok(event),
            };
            let event = match event {
                Ok(event) => event,
                Err(error) => return Err(self.failed_after(text, error)),
            };
            let data = event.data.trim();
            if data == "[DONE]" {
                break;
            }
            if data.is_empty() {
                continue;
            }
            let chunk: Chunk = match serde_json::from_str(data) {
                Ok(chunk) => chunk,
                Err(error) => {
                    let error =
                        LlmError::BadResponse(format!("not an OpenAI stream chunk: {error}"));
                    return Err(self.failed_after(text, error));
                }
            };
            for choice in chunk.choices.into_iter().take(1) {
                finished |= choice.finish_reason.is_some();
                let Some(content) = choice.delta.and_then(|delta| delta.content) else {
                    continue;
                };
                // Leading whitespace is dropped, as the whole-reply client trims its answer.
                let content = if text.is_empty() {
                    content.trim_start()
                } else {
                    content.as_str()
                };
                if !content.is_empty() {
                    sink.push(content);
                    text.push_str(content);
                }
            }
        }
        let reply = text.trim_end().to_string();
        if reply.is_empty() {
            return Err(LlmError::BadResponse("the stream carried no reply text".into()).into());
        }
        Ok(reply)
    }

    /// A failure after `text` was pushed is an interruption (never retried); before, an ordinary
    /// failure.
    fn failed_after(&self, text: String, error: LlmError) -> Failure {
        if text.trim().is_empty() {
            error.into()
        } else {
            LlmError::Interrupted {
                partial: text.trim_end().to_string(),
                reason: error.to_string(),
            }
            .into()
        }
    }

    fn stream_error(
        &self,
        error: eventsource_stream::EventStreamError<reqwest::Error>,
    ) -> LlmError {
        match error {
            eventsource_stream::EventStreamError::Transport(error) => self.transport_error(error),
            other => LlmError::BadResponse(format!("not a server-sent event stream: {other}")),
        }
    }

    /// The pause before retry `retries_done + 1`: the server's `Retry-After`, else backoff.
    pub(super) fn retry_delay(&self, failure: &Failure, retries_done: u32) -> Duration {
        failure
            .retry_after
            .unwrap_or_else(|| super::BASE_BACKOFF.saturating_mul(1 << retries_done.min(8)))
            .min(super::MAX_RETRY_DELAY)
    }
}
