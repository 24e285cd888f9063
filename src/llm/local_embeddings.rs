//! Sentence embeddings computed in this process (`LOCAL_EMBEDDINGS`): a small BERT encoder such as
//! all-MiniLM-L6-v2 ([`whisperengine_local_model::SentenceEncoder`]), for semantic recall without
//! an embeddings endpoint. Loaded once; texts are encoded on tokio's blocking pool, one batch at a
//! time, so the async runtime is never held up.

use super::LlmError;
use std::path::Path;
use std::sync::Arc;
use whisperengine_local_model::SentenceEncoder;

/// The encoder, shared by every caller.
pub struct LocalEmbedder {
    encoder: Arc<SentenceEncoder>,
    /// `local:<folder name>`, stored with each vector.
    model: String,
    /// One batch at a time: both cores go to it.
    turn: Arc<tokio::sync::Semaphore>,
}

impl LocalEmbedder {
    /// Loads the model folder (on the blocking pool).
    pub async fn load(folder: &Path) -> Result<LocalEmbedder, LlmError> {
        let owned = folder.to_path_buf();
        let encoder = tokio::task::spawn_blocking(move || SentenceEncoder::load(&owned))
            .await
            .map_err(|error| LlmError::InvalidConfig(format!("loading stopped: {error}")))?
            .map_err(|error| {
                LlmError::InvalidConfig(format!("cannot load {}: {error}", folder.display()))
            })?;
        let model = format!("local:{}", encoder.name());
        Ok(LocalEmbedder {
            encoder: Arc::new(encoder),
            model,
            turn: Arc::new(tokio::sync::Semaphore::new(1)),
        })
    }

    /// The model the vectors come from.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Length of each vector.
    pub fn dimensions(&self) -> usize {
        self.encoder.dimensions()
    }

    /// One vector of length 1 per text, in order.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let _turn = self
            .turn
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| LlmError::Transport("the encoder is shut down".into()))?;
        let encoder = self.encoder.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || {
            let borrowed: Vec<&str> = texts.iter().map(String::as_str).collect();
            encoder.embed(&borrowed)
        })
        .await
        .map_err(|error| LlmError::Transport(format!("the encoder stopped: {error}")))?
        .map_err(|error| LlmError::BadResponse(format!("the encoder failed: {error}")))
    }
}
