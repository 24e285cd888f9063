//! Slack Events API bodies through the path `POST /slack/events` takes: the signature check over
//! the raw body, the JSON parse, then the mapping to a contract message or a reaction's feedback.
//!
//! Input: the `X-Slack-Request-Timestamp` value on the first line (`now` for the current time),
//! the body after it. The body is signed with the test secret, so every input reaches the parser;
//! a forged signature (the body's own hash under another secret) must always be refused.

use crate::slack_signed::{signature, split_timestamp, SECRET};
use slack_morphism::prelude::{SlackPushEvent, SlackSigningSecret};
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use whisperengine_slack::mapping::{feedback_from_reaction, message_from_push, typed_command};
use whisperengine_slack::signature::check_signature;

const BOT_USER: &str = "UBOT0001";

/// Runs one input; panics when a property does not hold.
pub fn check(data: &[u8]) {
    let Some((timestamp, body)) = split_timestamp(data) else {
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
}
