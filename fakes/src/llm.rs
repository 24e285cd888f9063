//! A fake OpenAI-compatible server on 127.0.0.1 (`/v1/embeddings`, `/v1/chat/completions`) with
//! deterministic answers:
//!
//! - embeddings are a hashed bag of *concepts*: words of one concept group (grandmother / granny /
//!   nana, bake / bread / kitchen, taught / show) land on the same dimension, every other content
//!   word on a dimension picked by its hash, so a paraphrase gets nearly the same vector as the
//!   statement it paraphrases while sharing no word with it;
//! - a chat completion answers with the text the test set (the fact extractor's JSON, valid or not).
#![allow(dead_code)]

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

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
    /// How long the embeddings endpoint takes to answer, in milliseconds (a slow endpoint).
    pub embedding_delay_ms: std::sync::atomic::AtomicU64,
}

impl FakeLlm {
    /// Sets what chat completions answer from now on.
    pub fn answer_chat_with(&self, content: &str) {
        *self.chat_answer.lock().expect("fake lock") = content.to_string();
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

async fn chat(State(state): State<Arc<FakeLlm>>, Json(body): Json<Value>) -> Json<Value> {
    let user = body["messages"]
        .as_array()
        .and_then(|messages| messages.last())
        .and_then(|message| message["content"].as_str())
        .unwrap_or_default()
        .to_string();
    state.chat_requests.lock().expect("fake lock").push(user);
    let content = state.chat_answer.lock().expect("fake lock").clone();
    Json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
    }))
}
