//! Local model files: the catalogue of models the host knows how to fetch ([`catalogue`]), where
//! they live ([`ModelDir`]), and `whisperengine model fetch|list|path|remove` ([`fetch`]).
//!
//! Nothing is downloaded unless the operator runs `whisperengine model fetch`.

pub mod catalogue;
pub mod fetch;

pub use catalogue::{CatalogueModel, CATALOGUE, DEFAULT_MODEL};

use std::path::{Path, PathBuf};

/// Which model the host runs in process (`LOCAL_MODEL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalModelChoice {
    /// `off`: never a local model (the LLM endpoint or the offline responder).
    Off,
    /// A catalogue model by name, looked up in the model directory.
    Named(&'static CatalogueModel),
    /// A GGUF file given by path.
    File(PathBuf),
}

impl LocalModelChoice {
    /// Reads `off`/`none`, a catalogue name, or a path (anything with a `/` or ending in `.gguf`).
    pub fn parse(text: &str) -> Result<LocalModelChoice, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none") {
            return Ok(LocalModelChoice::Off);
        }
        if text.contains('/') || text.contains('\\') || text.ends_with(".gguf") {
            return Ok(LocalModelChoice::File(PathBuf::from(text)));
        }
        catalogue::find(text)
            .map(LocalModelChoice::Named)
            .ok_or_else(|| {
                format!(
                    "expected off, a path to a .gguf file, or one of {}",
                    catalogue::names().join(", ")
                )
            })
    }

    /// The file this choice stands for in `dir`, if it is not `off`.
    pub fn path_in(&self, dir: &ModelDir) -> Option<PathBuf> {
        match self {
            LocalModelChoice::Off => None,
            LocalModelChoice::Named(model) => Some(dir.file(model)),
            LocalModelChoice::File(path) => Some(path.clone()),
        }
    }
}

/// The directory model files are fetched into (`MODEL_DIR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDir(pub PathBuf);

impl ModelDir {
    /// `$XDG_CACHE_HOME/whisperengine/models`, else `~/.cache/whisperengine/models`, else
    /// `models` in the working directory.
    pub fn default_location() -> ModelDir {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|home| !home.is_empty())
                    .map(|home| PathBuf::from(home).join(".cache"))
            });
        match cache {
            Some(cache) => ModelDir(cache.join("whisperengine").join("models")),
            None => ModelDir(PathBuf::from("models")),
        }
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Where `model` is (or would be) stored.
    pub fn file(&self, model: &CatalogueModel) -> PathBuf {
        self.0.join(model.file_name)
    }
}
