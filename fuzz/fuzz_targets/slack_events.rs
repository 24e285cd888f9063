//! Slack Events API bodies through the path `POST /slack/events` takes: the signature check over
//! the raw body, the JSON parse, then the mapping to a contract message or a reaction's feedback.
//!
//! Input: the `X-Slack-Request-Timestamp` value on the first line (`now` for the current time),
//! the body after it. The body is signed with the test secret, so every input reaches the parser;
//! a forged signature (the body's own hash under another secret) must always be refused.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| whisperengine_fuzz_checks::slack_events::check(data));
