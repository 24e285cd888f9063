//! Slash command form bodies through the path `POST /slack/commands` takes: the signature check
//! over the raw body, the form parse, then the mapping to a command invocation.
//!
//! Input: the `X-Slack-Request-Timestamp` value on the first line (`now` for the current time),
//! the form body after it, signed with the test secret.
#![no_main]

use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use slack_morphism::prelude::{SlackCommandEvent, SlackSigningSecret};
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use std::time::{SystemTime, UNIX_EPOCH};
use whisperengine_slack::http::check_signature;
use whisperengine_slack::mapping::command_from_slash;

const SECRET: &str = "fuzz-signing-secret";

fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fuzz_target!(|data: &[u8]| {
    let Some(newline) = data.iter().position(|byte| *byte == b'\n') else {
        return;
    };
    let Ok(timestamp) = std::str::from_utf8(&data[..newline]) else {
        return;
    };
    let timestamp = match timestamp {
        "now" => match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(now) => now.as_secs().to_string(),
            Err(_) => return,
        },
        other => other.to_string(),
    };
    let body = &data[newline + 1..];
    let verifier = SlackEventSignatureVerifier::new(&SlackSigningSecret::new(SECRET.into()));
    let signed = signature(SECRET, &timestamp, body);
    let Ok(text) = check_signature(Some(&verifier), Some(&signed), Some(&timestamp), body) else {
        return;
    };
    let Ok(command) = serde_urlencoded::from_str::<SlackCommandEvent>(text) else {
        return;
    };
    if let Ok((invocation, target)) = command_from_slash(&command, "/whisper") {
        assert!(!invocation.name.is_empty(), "a command without a name");
        assert!(
            target.always_ephemeral,
            "slash command answers are ephemeral"
        );
    }
});
