//! The `whisperengine` binary: parses the command line and hands over to [`whisperengine::cli`].

fn main() {}
