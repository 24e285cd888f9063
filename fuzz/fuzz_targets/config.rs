//! Configuration values through the loader the host starts with: environment values and a TOML
//! file, layered, parsed and validated into `Settings` or one `ConfigError` line. Neither the error
//! nor the settings' `Debug` may repeat a secret.
//!
//! Input: `NAME=value` lines (the environment); after a line `[toml]`, the TOML file's text.
//! Secrets that hold the marker `s3cr3t` are checked for leaks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| whisperengine_fuzz_checks::config::check(data));
