//! Operating the host: what an operator runs from the command line without chat access.
//!
//! - [`cli`]: `whisperengine admin isolate|release …`, `audit`, `export`, `cache clear`.

pub mod cli;
