//! The local chat connector's terminal side: chatting with the companion on stdin/stdout with no
//! platform tokens (the page side lives in [`crate::http`]).

pub mod terminal;

pub use terminal::{run_terminal, TERMINAL_CAPABILITIES};
