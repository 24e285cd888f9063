//! A client for the OpenAI-compatible `POST {LLM_BASE_URL}/embeddings` endpoint (OpenAI, Ollama,
//! LM Studio, vLLM, llama.cpp all speak it): many texts in, one vector per text out, validated.
//!
//! One attempt per call, bounded by a timeout: a query embedding sits on a reply's path, where a
//! retry would only make the person wait, and stored memories without a vector are embedded again
//! later in the background (see [`crate::core::memory::semantic`]).

use super::LlmError;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;
use url::Url;

/// Longest vector accepted (text-embedding-3-large has 3,072 dimensions).
pub const MAX_DIMENSIONS: usize = 8_192;
/// Most texts sent in one request (OpenAI accepts 2,048; local servers are happier with fewer).
pub const MAX_BATCH: usize = 64;

/// Talks to `{base_url}/embeddings`. Its `Debug` output and errors never show the key.
pub struct EmbeddingClient {
    http: reqwest::Client,
    url: Url,
    api_key: Option<SecretString>,
    model: String,
}

#[derive(Serialize)]
struct EmbeddingRequest<'a> {
    model: &'a str,
    input: &'a [String],
}

#[derive(Deserialize)]
struct EmbeddingResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

impl EmbeddingClient {
    /// A client for `model` at `base_url` (e.g. `http://127.0.0.1:11434/v1`); `timeout` bounds
    /// each request.
    pub fn new(
        base_url: &Url,
        api_key: Option<SecretString>,
        model: String,
        timeout: Duration,
    ) -> Result<Self, LlmError> {
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(LlmError::InvalidConfig(
                "the base URL must be an http(s) URL".into(),
            ));
        }
        if model.trim().is_empty() {
            return Err(LlmError::InvalidConfig(
                "the embedding model name is empty".into(),
            ));
        }
        let mut base = base_url.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let url = base.join("embeddings").map_err(|error| {
            LlmError::InvalidConfig(format!("cannot build the embeddings URL: {error}"))
        })?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|error| {
                LlmError::InvalidConfig(format!("cannot build the HTTP client: {error}"))
            })?;
        Ok(EmbeddingClient {
            http,
            url,
            api_key,
            model,
        })
    }

    /// The model the vectors come from (stored with each vector).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// One vector per text, in the order of `texts` (at most [`MAX_BATCH`] texts), each
    /// normalised to length 1 so cosine similarity is a dot product.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        if texts.len() > MAX_BATCH {
            return Err(LlmError::InvalidConfig(format!(
                "at most {MAX_BATCH} texts per embeddings request"
            )));
        }
        let mut request = self.http.post(self.url.clone()).json(&EmbeddingRequest {
            model: &self.model,
            input: texts,
        });
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let response = request.send().await.map_err(|error| {
            if error.is_timeout() {
                LlmError::Timeout
            } else {
                LlmError::Transport(self.redact(&error.without_url().to_string()))
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let body: String = body.chars().take(300).collect();
            return Err(LlmError::Http {
                status: status.as_u16(),
                body: self.redact(&body),
            });
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| LlmError::Transport(self.redact(&error.without_url().to_string())))?;
        let parsed: EmbeddingResponse = serde_json::from_slice(&body).map_err(|error| {
            LlmError::BadResponse(format!("not an OpenAI embeddings response: {error}"))
        })?;
        order_and_check(parsed.data, texts.len())
    }

    fn redact(&self, text: &str) -> String {
        match &self.api_key {
            Some(key) if !key.expose_secret().is_empty() => {
                text.replace(key.expose_secret(), "[redacted]")
            }
            _ => text.to_string(),
        }
    }
}

/// The vectors in input order, checked: one per input, one dimension count, finite, not zero.
fn order_and_check(items: Vec<EmbeddingItem>, expected: usize) -> Result<Vec<Vec<f32>>, LlmError> {
    if items.len() != expected {
        return Err(LlmError::BadResponse(format!(
            "{} vectors for {expected} texts",
            items.len()
        )));
    }
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (position, item) in items.into_iter().enumerate() {
        let index = item.index.unwrap_or(position);
        let slot = slots
            .get_mut(index)
            .ok_or_else(|| LlmError::BadResponse(format!("vector index {index} out of range")))?;
        if slot.is_some() {
            return Err(LlmError::BadResponse(format!("vector index {index} twice")));
        }
        *slot = Some(item.embedding);
    }
    let vectors: Vec<Vec<f32>> = slots.into_iter().flatten().collect();
    let dimensions = vectors.first().map_or(0, Vec::len);
    if dimensions == 0 || dimensions > MAX_DIMENSIONS {
        return Err(LlmError::BadResponse(format!(
            "vectors of {dimensions} dimensions (expected 1 to {MAX_DIMENSIONS})"
        )));
    }
    vectors
        .into_iter()
        .map(|vector| {
            if vector.len() != dimensions {
                return Err(LlmError::BadResponse("vectors of different lengths".into()));
            }
            normalised(vector)
                .ok_or_else(|| LlmError::BadResponse("a vector is zero or not finite".into()))
        })
        .collect()
}

/// `vector` scaled to length 1; `None` when it is zero or holds NaN/infinity.
pub fn normalised(mut vector: Vec<f32>) -> Option<Vec<f32>> {
    let norm = vector
        .iter()
        .map(|value| f64::from(*value) * f64::from(*value))
        .sum::<f64>()
        .sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return None;
    }
    for value in &mut vector {
        *value = (f64::from(*value) / norm) as f32;
    }
    Some(vector)
}

/// How cosine similarity counts next to BM25: relevance = BM25 + weight · (cosine − floor), and
/// nothing under the floor. Embeddings of unrelated texts are rarely orthogonal, so only the
/// likeness above what unrelated texts reach counts: a faint one must not pull small talk into the
/// prompt, nor crowd out a memory that matches the question's words. Each model has its own range
/// of cosines, so each embedder brings its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub weight: f64,
    pub min_cosine: f64,
}

/// For an endpoint's model (OpenAI's text-embedding-3 and its kin: unrelated texts around
/// 0.1–0.3). Not measured here (no such model is reachable from the build machine).
pub const ENDPOINT_CALIBRATION: Calibration = Calibration {
    weight: 3.0,
    min_cosine: 0.3,
};

/// For a small local encoder such as all-MiniLM-L6-v2, whose cosines are lower (unrelated texts
/// under 0.15, a paraphrase 0.3–0.6). Measured with `whisperengine bench --recall --embeddings`
/// (docs/benchmarks.md: weights 4–12 and floors 0.1–0.4 tried).
pub const LOCAL_CALIBRATION: Calibration = Calibration {
    weight: 8.0,
    min_cosine: 0.2,
};

/// Where the vectors of semantic recall come from: the `/embeddings` endpoint, or a sentence
/// encoder run in this process (`LOCAL_EMBEDDINGS`).
pub enum Embedder {
    Endpoint(EmbeddingClient),
    #[cfg(feature = "local-model")]
    Local(super::local_embeddings::LocalEmbedder),
}

impl Embedder {
    /// The model the vectors come from (stored with each vector).
    pub fn model(&self) -> &str {
        match self {
            Embedder::Endpoint(client) => client.model(),
            #[cfg(feature = "local-model")]
            Embedder::Local(local) => local.model(),
        }
    }

    /// How its cosines count next to BM25.
    pub fn calibration(&self) -> Calibration {
        match self {
            Embedder::Endpoint(_) => ENDPOINT_CALIBRATION,
            #[cfg(feature = "local-model")]
            Embedder::Local(_) => LOCAL_CALIBRATION,
        }
    }

    /// One vector of length 1 per text, in order (at most [`MAX_BATCH`] texts).
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        match self {
            Embedder::Endpoint(client) => client.embed(texts).await,
            #[cfg(feature = "local-model")]
            Embedder::Local(local) => local.embed(texts).await,
        }
    }
}

impl fmt::Debug for EmbeddingClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddingClient")
            .field("url", &self.url.path())
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn item(index: usize, embedding: Vec<f32>) -> EmbeddingItem {
        EmbeddingItem {
            index: Some(index),
            embedding,
        }
    }

    #[test]
    fn vectors_come_back_in_input_order_and_normalised() {
        let vectors =
            order_and_check(vec![item(1, vec![0.0, 2.0]), item(0, vec![3.0, 4.0])], 2).unwrap();
        assert_eq!(vectors[0], vec![0.6, 0.8]);
        assert_eq!(vectors[1], vec![0.0, 1.0]);
    }

    #[test]
    fn unusable_answers_are_refused() {
        assert!(order_and_check(vec![item(0, vec![1.0])], 2).is_err());
        assert!(order_and_check(vec![item(0, vec![1.0]), item(0, vec![1.0])], 2).is_err());
        assert!(order_and_check(vec![item(0, vec![1.0]), item(1, vec![1.0, 2.0])], 2).is_err());
        assert!(order_and_check(vec![item(0, vec![0.0, 0.0])], 1).is_err());
        assert!(order_and_check(vec![item(0, vec![f32::NAN, 1.0])], 1).is_err());
        assert!(order_and_check(vec![item(0, Vec::new())], 1).is_err());
        assert!(order_and_check(vec![item(5, vec![1.0])], 1).is_err());
    }
}
