//! Long replies split below each platform's limit: the shared splitter (every part within the
//! limit, never empty), Discord's 2,000 characters and Teams' limit in characters and bytes.
//!
//! Input: the first byte picks the limit (32 to 2,072 characters), the rest is the markdown.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| whisperengine_fuzz_checks::split::check(data));
