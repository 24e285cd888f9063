//! A client for OpenAI-compatible chat endpoints (OpenAI, LM Studio, Ollama, vLLM, llama.cpp, ...)
//! with a timeout per attempt and retries with backoff on failures worth retrying; a reply is
//! fetched whole or streamed ([`stream`]).

mod stream;

pub use stream::STREAM_TOTAL_FACTOR;

use super::{LlmError, Prompt, Responder};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;
use url::Url;

/// First retry delay; doubled for each further retry.
const BASE_BACKOFF: Duration = Duration::from_millis(200);
/// Longest wait between attempts, whether from backoff or from the server's `Retry-After`.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// How much of an error body is kept for diagnosis, in characters.
const MAX_ERROR_BODY_CHARS: usize = 300;

/// Talks to `{base_url}/chat/completions`. Its `Debug` output and errors never show the key.
pub struct OpenAiClient {
    http: reqwest::Client,
    /// For display: no credentials, query or trailing slash.
    display_url: String,
    chat_url: Url,
    models_url: Url,
    api_key: Option<SecretString>,
    model: String,
    timeout: Duration,
    max_retries: u32,
    max_tokens: u32,
    temperature: f32,
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<super::ChatMessage>,
    max_tokens: u32,
    temperature: f32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

#[derive(Deserialize)]
struct ChatResponse {
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: Option<ChoiceMessage>,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

/// One failed attempt, with the server's `Retry-After` when it sent one.
struct Failure {
    error: LlmError,
    retry_after: Option<Duration>,
}

impl From<LlmError> for Failure {
    fn from(error: LlmError) -> Self {
        Failure {
            error,
            retry_after: None,
        }
    }
}

impl OpenAiClient {
    /// A client for `base_url` (e.g. `http://127.0.0.1:9999/v1`, with or without a trailing
    /// slash). `timeout` bounds each attempt; `max_retries` more attempts follow timeouts,
    /// connection errors, 429 and 5xx.
    pub fn new(
        base_url: Url,
        api_key: Option<SecretString>,
        model: String,
        timeout: Duration,
        max_retries: u32,
        max_tokens: u32,
        temperature: f32,
    ) -> Result<Self, LlmError> {
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(LlmError::InvalidConfig(format!(
                "the base URL must be an http(s) URL such as http://127.0.0.1:11434/v1 (got scheme `{}`)",
                base_url.scheme()
            )));
        }
        if timeout.is_zero() {
            return Err(LlmError::InvalidConfig(
                "the timeout must be above zero".into(),
            ));
        }
        if !temperature.is_finite() {
            return Err(LlmError::InvalidConfig(
                "the temperature must be a number".into(),
            ));
        }
        if let Some(key) = &api_key {
            // Checked here so a bad key fails at start-up, not on the first message.
            if reqwest::header::HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
                .is_err()
            {
                return Err(LlmError::InvalidConfig(
                    "the API key contains characters that cannot go in an HTTP header".into(),
                ));
            }
        }
        let mut base = base_url;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let join = |path: &str| {
            base.join(path).map_err(|error| {
                LlmError::InvalidConfig(format!("cannot build the {path} URL: {error}"))
            })
        };
        let chat_url = join("chat/completions")?;
        let models_url = join("models")?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|error| {
                LlmError::InvalidConfig(format!("cannot build the HTTP client: {error}"))
            })?;
        Ok(OpenAiClient {
            http,
            display_url: display_url(&base),
            chat_url,
            models_url,
            api_key,
            model,
            timeout,
            max_retries,
            max_tokens,
            temperature,
        })
    }

    /// Whether the endpoint answers `GET {base}/models` with 2xx (for `doctor`). One attempt.
    pub async fn check(&self) -> Result<(), LlmError> {
        let response = self
            .authorize(self.http.get(self.models_url.clone()))
            .send()
            .await
            .map_err(|error| self.transport_error(error))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            let body = response.text().await.unwrap_or_default();
            Err(LlmError::Http {
                status: status.as_u16(),
                body: self.redact(&body),
            })
        }
    }

    async fn complete(&self, prompt: &Prompt) -> Result<String, LlmError> {
        let (model, max_tokens, temperature) = self.asked_with(prompt);
        self.chat_as(model, prompt.to_chat_messages(), max_tokens, temperature)
            .await
    }

    /// The model, reply length and temperature for `prompt`: its platform's values where set,
    /// else this client's.
    fn asked_with<'a>(&'a self, prompt: &'a Prompt) -> (&'a str, u32, f32) {
        let generation = &prompt.generation;
        (
            generation.model.as_deref().unwrap_or(&self.model),
            generation.max_tokens.unwrap_or(self.max_tokens),
            generation.temperature.unwrap_or(self.temperature),
        )
    }

    /// The model's answer to `messages` (any task, not only replies), with this client's model,
    /// timeout and retries.
    pub async fn chat(
        &self,
        messages: Vec<super::ChatMessage>,
        max_tokens: u32,
        temperature: f32,
    ) -> Result<String, LlmError> {
        self.chat_as(&self.model, messages, max_tokens, temperature)
            .await
    }

    /// [`OpenAiClient::chat`] with `model`.
    #[tracing::instrument(skip_all, fields(model = %model))]
    async fn chat_as(
        &self,
        model: &str,
        messages: Vec<super::ChatMessage>,
        max_tokens: u32,
        temperature: f32,
    ) -> Result<String, LlmError> {
        let request = ChatRequest {
            model,
            messages,
            max_tokens,
            temperature,
            stream: false,
        };
        self.with_retries(|| self.attempt(&request)).await
    }

    /// Runs `attempt` again after failures worth retrying (timeouts, unreachable endpoint, 429,
    /// 5xx; never an interrupted stream), at most `max_retries` more times, with backoff or the
    /// server's `Retry-After`.
    async fn with_retries<Attempt, Answer>(&self, mut attempt: Attempt) -> Result<String, LlmError>
    where
        Attempt: FnMut() -> Answer,
        Answer: std::future::Future<Output = Result<String, Failure>>,
    {
        let mut retries_done = 0;
        loop {
            match attempt().await {
                Ok(reply) => return Ok(reply),
                Err(failure) if failure.error.is_retryable() && retries_done < self.max_retries => {
                    let delay = self.retry_delay(&failure, retries_done);
                    retries_done += 1;
                    tracing::warn!(
                        error = %failure.error,
                        retry = retries_done,
                        delay_ms = delay.as_millis() as u64,
                        "language model call failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(failure) => return Err(failure.error),
            }
        }
    }

    async fn attempt(&self, request: &ChatRequest<'_>) -> Result<String, Failure> {
        let response = self
            .authorize(self.http.post(self.chat_url.clone()))
            .json(request)
            .send()
            .await
            .map_err(|error| self.transport_error(error))?;
        if !response.status().is_success() {
            return Err(self.failure_of(response).await);
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| self.transport_error(error))?;
        Ok(parse_completion(&body)?)
    }

    /// The failure an error status stands for, with the server's `Retry-After`.
    async fn failure_of(&self, response: reqwest::Response) -> Failure {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.text().await.unwrap_or_default();
        Failure {
            error: LlmError::Http {
                status: status.as_u16(),
                body: self.redact(&truncate(&body, MAX_ERROR_BODY_CHARS)),
            },
            retry_after,
        }
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(key) => request.bearer_auth(key.expose_secret()),
            None => request,
        }
    }

    fn transport_error(&self, error: reqwest::Error) -> LlmError {
        if error.is_timeout() {
            return LlmError::Timeout;
        }
        // The cause chain says what went wrong ("connection refused"); the URL is left out because
        // it may carry credentials, and `describe()` names the endpoint anyway.
        let error = error.without_url();
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        LlmError::Transport(self.redact(&message))
    }

    /// The text with the API key replaced, in case a server echoes request headers back.
    fn redact(&self, text: &str) -> String {
        match &self.api_key {
            Some(key) if !key.expose_secret().is_empty() => {
                text.replace(key.expose_secret(), "[redacted]")
            }
            _ => text.to_string(),
        }
    }
}

#[async_trait::async_trait]
impl Responder for OpenAiClient {
    async fn respond(&self, prompt: &Prompt) -> Result<String, LlmError> {
        self.complete(prompt).await
    }

    async fn respond_streaming(
        &self,
        prompt: &Prompt,
        sink: &dyn whisperengine_contract::ReplySink,
    ) -> Result<String, LlmError> {
        let (model, max_tokens, temperature) = self.asked_with(prompt);
        self.chat_streaming_as(
            model,
            prompt.to_chat_messages(),
            max_tokens,
            temperature,
            sink,
        )
        .await
    }

    fn describe(&self) -> String {
        format!("{} at {}", self.model, self.display_url)
    }
}

impl fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("base_url", &self.display_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("max_tokens", &self.max_tokens)
            .field("temperature", &self.temperature)
            .finish()
    }
}

/// The reply text of a whole (not streamed) chat completion.
fn parse_completion(body: &[u8]) -> Result<String, LlmError> {
    let parsed: ChatResponse = serde_json::from_slice(body).map_err(|error| {
        LlmError::BadResponse(format!("not an OpenAI chat completion: {error}"))
    })?;
    let content = parsed
        .choices
        .into_iter()
        .next()
        .and_then(|choice| choice.message)
        .and_then(|message| message.content)
        .map(|content| content.trim().to_string())
        .unwrap_or_default();
    if content.is_empty() {
        return Err(LlmError::BadResponse(
            "no reply text in choices[0].message.content".into(),
        ));
    }
    Ok(content)
}

/// The base URL without user info, query or fragment, and without the trailing slash.
fn display_url(base: &Url) -> String {
    let mut shown = base.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.as_str().trim_end_matches('/').to_string()
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn client(base: &str, key: Option<&str>) -> OpenAiClient {
        OpenAiClient::new(
            Url::parse(base).unwrap(),
            key.map(|key| SecretString::from(key.to_string())),
            "test-model".into(),
            Duration::from_secs(1),
            0,
            100,
            0.7,
        )
        .unwrap()
    }

    #[test]
    fn paths_join_with_or_without_a_trailing_slash() {
        for base in ["http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1/"] {
            let client = client(base, None);
            assert_eq!(
                client.chat_url.as_str(),
                "http://127.0.0.1:9/v1/chat/completions"
            );
            assert_eq!(client.models_url.as_str(), "http://127.0.0.1:9/v1/models");
            assert_eq!(client.describe(), "test-model at http://127.0.0.1:9/v1");
        }
    }

    #[test]
    fn credentials_in_the_url_are_not_displayed() {
        let client = client("https://user:pw@llm.example/v1?token=t", None);
        assert_eq!(client.describe(), "test-model at https://llm.example/v1");
        assert!(!format!("{client:?}").contains("pw"));
    }

    #[test]
    fn unusable_settings_are_refused() {
        let new = |base: &str, timeout: Duration, key: Option<&str>| {
            OpenAiClient::new(
                Url::parse(base).unwrap(),
                key.map(|key| SecretString::from(key.to_string())),
                "m".into(),
                timeout,
                0,
                1,
                0.0,
            )
        };
        let second = Duration::from_secs(1);
        assert!(matches!(
            new("ftp://x/v1", second, None),
            Err(LlmError::InvalidConfig(_))
        ));
        assert!(matches!(
            new("http://x/v1", Duration::ZERO, None),
            Err(LlmError::InvalidConfig(_))
        ));
        let error = new("http://x/v1", second, Some("sk-bad\nkey")).unwrap_err();
        assert!(!error.to_string().contains("sk-bad"));
    }

    #[test]
    fn only_timeouts_transport_errors_429_and_5xx_are_retryable() {
        let http = |status| LlmError::Http {
            status,
            body: String::new(),
        };
        assert!(LlmError::Timeout.is_retryable());
        assert!(LlmError::Transport("refused".into()).is_retryable());
        assert!(http(429).is_retryable());
        assert!(http(503).is_retryable());
        assert!(!http(400).is_retryable());
        assert!(!http(401).is_retryable());
        assert!(!LlmError::BadResponse("empty".into()).is_retryable());
    }

    #[test]
    fn the_key_is_redacted_from_echoed_text() {
        let client = client("http://127.0.0.1:9/v1", Some("sk-secret-123"));
        assert_eq!(
            client.redact("Authorization: Bearer sk-secret-123"),
            "Authorization: Bearer [redacted]"
        );
    }
}
