//! Slack Events API bodies through the path `POST /slack/events` takes: the signature check over
//! the raw body, the JSON parse, then the mapping to a contract message or a reaction's feedback.
//!
//! Input: the `X-Slack-Request-Timestamp` value on the first line (`now` for the current time),
//! the body after it. The body is signed with the test secret, so every input reaches the parser;
//! a forged signature (the body's own hash under another secret) must always be refused.
#![no_main]

use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use slack_morphism::prelude::{SlackPushEvent, SlackSigningSecret};
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use std::time::{SystemTime, UNIX_EPOCH};
use whisperengine_slack::http::check_signature;
use whisperengine_slack::mapping::{feedback_from_reaction, message_from_push, typed_command};

const SECRET: &str = "fuzz-signing-secret";
const BOT_USER: &str = "UBOT0001";

fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Splits the input into the timestamp header value and the body.
fn split(data: &[u8]) -> Option<(String, &[u8])> {
    let newline = data.iter().position(|byte| *byte == b'\n')?;
    let timestamp = std::str::from_utf8(&data[..newline]).ok()?;
    let timestamp = if timestamp == "now" {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
        now.to_string()
    } else {
        timestamp.to_string()
    };
    Some((timestamp, &data[newline + 1..]))
}

fuzz_target!(|data: &[u8]| {
    let Some((timestamp, body)) = split(data) else {
        return;
    };
    let verifier = SlackEventSignatureVerifier::new(&SlackSigningSecret::new(SECRET.into()));
    let forged = signature("another-secret", &timestamp, body);
    assert!(
        check_signature(Some(&verifier), Some(&forged), Some(&timestamp), body).is_err(),
        "a body signed with another secret was accepted"
    );
    let signed = signature(SECRET, &timestamp, body);
    let Ok(text) = check_signature(Some(&verifier), Some(&signed), Some(&timestamp), body) else {
        return;
    };
    let Ok(event) = serde_json::from_str::<SlackPushEvent>(text) else {
        return;
    };
    let SlackPushEvent::EventCallback(callback) = event else {
        return;
    };
    for bot_user in [Some(BOT_USER), None] {
        if let Ok((message, _target)) = message_from_push(&callback, bot_user, true) {
            assert!(
                !message.text.is_empty(),
                "an empty message reached the core"
            );
            let _ = typed_command(&message);
        }
        let _ = feedback_from_reaction(&callback, bot_user);
    }
});
