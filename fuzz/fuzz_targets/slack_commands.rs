//! Slash command form bodies through the path `POST /slack/commands` takes: the signature check
//! over the raw body, the form parse, then the mapping to a command invocation.
//!
//! Input: the `X-Slack-Request-Timestamp` value on the first line (`now` for the current time),
//! the form body after it, signed with the test secret.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| whisperengine_fuzz_checks::slack_commands::check(data));
