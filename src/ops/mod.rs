//! Operating the host: what an operator runs from the command line without chat access.
//!
//! - [`cli`]: `whisperengine admin isolate|release …`, `audit`, `export`, `cache clear`.
//! - [`model`]: `whisperengine model fetch|list|path|remove`, the local model's file.
//! - [`http`]: `GET /export/{token}`, the download behind an `export` link.

pub mod cli;
pub mod http;
pub mod model;
