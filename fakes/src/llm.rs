//! A fake OpenAI-compatible server on 127.0.0.1 (`/v1/embeddings`, `/v1/chat/completions`) with
//! deterministic answers:
//!
//! - embeddings are a hashed bag of *concepts*: words of one concept group (grandmother / granny /
//!   nana, bake / bread / kitchen, taught / show) land on the same dimension, every other content
//!   word on a dimension picked by its hash, so a paraphrase gets nearly the same vector as the
//!   statement it paraphrases while sharing no word with it;
//! - a chat completion answers with the text the test set (the fact extractor's JSON, valid or not);
//!   asked with `stream: true`, it streams [`FakeLlm::stream_answer`] (or that text) as server-sent
//!   events the way OpenAI does (`data: {chunk}` per delta, then `data: [DONE]`), at the pace of
//!   its [`StreamPace`], and can break the connection part-way.
#![allow(dead_code)]

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Dimensions of the fake vectors.
pub const DIMENSIONS: usize = 64;

/// Words that mean the same thing to the fake model (one dimension per group).
const CONCEPTS: &[&[&str]] = &[
    &["grandmother", "granny", "grandma", "nana"],
    &[
        "bake",
        "baking",
        "bread",
        "sourdough",
        "kitchen",
        "cook",
        "cooking",
    ],
    &["taught", "teach", "show", "showed", "learn", "learned"],
];

const STOPWORDS: &[&str] = &[
    "a", "an", "the", "i", "me", "my", "to", "in", "of", "what", "did", "is", "was", "about",
    "again", "and", "it", "you",
];

/// The fake model's vector of `text`.
pub fn embed(text: &str) -> Vec<f32> {
    let mut vector = vec![0.0_f32; DIMENSIONS];
    // A small constant part, so no text has a zero vector.
    vector[DIMENSIONS - 1] = 0.1;
    for word in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty() && !STOPWORDS.contains(word))
    {
        let dimension = CONCEPTS
            .iter()
            .position(|group| group.contains(&word))
            .unwrap_or_else(|| {
                // FNV-1a, so the dimension is the same on every run.
                let hash = word.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                    (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
                });
                CONCEPTS.len() + (hash as usize) % (DIMENSIONS - CONCEPTS.len() - 1)
            });
        vector[dimension] += 1.0;
    }
    vector
}

/// What the fake has seen and what it answers.
#[derive(Default)]
pub struct FakeLlm {
    /// The content of every chat completion (the fact extractor's JSON).
    pub chat_answer: Mutex<String>,
    /// Inputs of every embeddings request, one entry per request.
    pub embedding_requests: Mutex<Vec<Vec<String>>>,
    /// User messages of every chat completion request.
    pub chat_requests: Mutex<Vec<String>>,
    /// Every chat completion request body as sent (model, max_tokens, temperature, messages).
    pub chat_bodies: Mutex<Vec<Value>>,
    /// How long chat completions take to answer, in milliseconds (a slow model).
    pub chat_delay_ms: std::sync::atomic::AtomicU64,
    /// How long the embeddings endpoint takes to answer, in milliseconds (a slow endpoint).
    pub embedding_delay_ms: std::sync::atomic::AtomicU64,
    /// What streamed chat completions write; `chat_answer` when unset.
    pub stream_answer: Mutex<Option<String>>,
    /// How streamed chat completions are paced.
    pub stream_pace: Mutex<StreamPace>,
    /// How many streamed chat completions were asked for.
    pub stream_requests: std::sync::atomic::AtomicUsize,
}

/// How the fake writes a streamed reply: `words_per_chunk` words per event, the first after
/// `first_token`, the next ones `interval` apart; with `cut_after`, the connection breaks after
/// that many events (no `[DONE]`), like a model server that died mid-reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamPace {
    pub first_token: Duration,
    pub interval: Duration,
    pub words_per_chunk: usize,
    pub cut_after: Option<usize>,
}

impl Default for StreamPace {
    fn default() -> Self {
        StreamPace {
            first_token: Duration::from_millis(20),
            interval: Duration::from_millis(20),
            words_per_chunk: 2,
            cut_after: None,
        }
    }
}

impl FakeLlm {
    /// Sets what chat completions answer from now on.
    pub fn answer_chat_with(&self, content: &str) {
        *self.chat_answer.lock().expect("fake lock") = content.to_string();
    }

    /// Sets what streamed chat completions write and how fast.
    pub fn stream_with(&self, content: &str, pace: StreamPace) {
        *self.stream_answer.lock().expect("fake lock") = Some(content.to_string());
        *self.stream_pace.lock().expect("fake lock") = pace;
    }

    /// How many texts were sent for embedding, over all requests.
    pub fn embedded_texts(&self) -> usize {
        self.embedding_requests
            .lock()
            .expect("fake lock")
            .iter()
            .map(Vec::len)
            .sum()
    }
}

/// Starts the fake on a free port; returns its base URL (`http://127.0.0.1:N/v1`) and state.
pub async fn start() -> (url::Url, Arc<FakeLlm>) {
    let state = Arc::new(FakeLlm {
        chat_answer: Mutex::new("{\"facts\":[]}".into()),
        ..FakeLlm::default()
    });
    let app = Router::new()
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/chat/completions", post(chat))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the fake LLM");
    let address = listener.local_addr().expect("fake LLM address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let base = format!("http://{address}/v1").parse().expect("a URL");
    (base, state)
}

/// A chat-completions endpoint that answers `content` after `delay` (a slow language model, so an
/// event stays in the inbox a while); returns its base URL.
pub async fn slow(delay: std::time::Duration, content: &'static str) -> url::Url {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move || async move {
            tokio::time::sleep(delay).await;
            Json(json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "slow",
                "choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the slow LLM");
    let address = listener.local_addr().expect("slow LLM address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{address}/v1").parse().expect("a URL")
}

/// A base URL where nothing listens (the endpoint is down).
pub async fn dead_url() -> url::Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{address}/v1").parse().expect("a URL")
}

async fn embeddings(
    State(state): State<Arc<FakeLlm>>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, StatusCode> {
    let inputs: Vec<String> = match &body["input"] {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or(StatusCode::BAD_REQUEST)?,
        _ => return Err(StatusCode::BAD_REQUEST),
    };
    if body["model"].as_str().is_none() {
        return Err(StatusCode::BAD_REQUEST);
    }
    let delay = state
        .embedding_delay_ms
        .load(std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    state
        .embedding_requests
        .lock()
        .expect("fake lock")
        .push(inputs.clone());
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| json!({"object": "embedding", "index": index, "embedding": embed(text)}))
        .collect();
    Ok(Json(
        json!({"object": "list", "data": data, "model": body["model"]}),
    ))
}

async fn chat(State(state): State<Arc<FakeLlm>>, Json(body): Json<Value>) -> Response {
    let user = body["messages"]
        .as_array()
        .and_then(|messages| messages.last())
        .and_then(|message| message["content"].as_str())
        .unwrap_or_default()
        .to_string();
    state.chat_requests.lock().expect("fake lock").push(user);
    state
        .chat_bodies
        .lock()
        .expect("fake lock")
        .push(body.clone());
    let delay = state
        .chat_delay_ms
        .load(std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let content = state.chat_answer.lock().expect("fake lock").clone();
    if body["stream"] == json!(true) {
        state
            .stream_requests
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let content = state
            .stream_answer
            .lock()
            .expect("fake lock")
            .clone()
            .unwrap_or(content);
        let pace = *state.stream_pace.lock().expect("fake lock");
        return stream_reply(content, pace);
    }
    Json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
    }))
    .into_response()
}

/// `content` as OpenAI's chat-completion chunks: a role chunk, `words_per_chunk` words per content
/// chunk (each word keeps the space before it), a finish chunk and `[DONE]`.
pub fn stream_reply(content: String, pace: StreamPace) -> Response {
    let mut pieces: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut words = 0;
    for (index, word) in content.split(' ').enumerate() {
        if index > 0 {
            current.push(' ');
        }
        current.push_str(word);
        words += 1;
        if words == pace.words_per_chunk.max(1) {
            pieces.push(std::mem::take(&mut current));
            words = 0;
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1,
            "model": "fake", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
        })
        .to_string()
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(4);
    tokio::spawn(async move {
        let _ = sender
            .send(Ok(Event::default().data(chunk(
                json!({"role": "assistant", "content": ""}),
                Value::Null,
            ))))
            .await;
        tokio::time::sleep(pace.first_token).await;
        for (sent, piece) in pieces.into_iter().enumerate() {
            if pace.cut_after == Some(sent) {
                // Dropping the sender mid-reply ends the body without `[DONE]`.
                return;
            }
            if sent > 0 {
                tokio::time::sleep(pace.interval).await;
            }
            let event = Event::default().data(chunk(json!({"content": piece}), Value::Null));
            if sender.send(Ok(event)).await.is_err() {
                return;
            }
        }
        let _ = sender
            .send(Ok(Event::default().data(chunk(json!({}), json!("stop")))))
            .await;
        let _ = sender.send(Ok(Event::default().data("[DONE]"))).await;
    });
    let events = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (event, receiver))
    });
    Sse::new(events).into_response()
}
