//! Operating the host: what an operator runs from the command line without chat access.
//!
//! - [`cli`]: `whisperengine admin isolate|release …`, `audit`, `export`, `cache clear`.
//! - [`http`]: `GET /export/{token}`, the download behind an `export` link.

pub mod cli;
pub mod http;
