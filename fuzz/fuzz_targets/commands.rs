//! Chat commands as people type them (`/link ABCD-EF2345`, `prefs set tone warm`, `admin link
//! slack:T1/U2 discord:3`) through the shared parser: words first, then the core's command parser,
//! which must answer every input with a command or a usage line.
//!
//! Input: the command text.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| whisperengine_fuzz_checks::commands::check(data));
