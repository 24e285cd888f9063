//! Slash command form bodies through the path `POST /slack/commands` takes: the signature check
//! over the raw body, the form parse, then the mapping to a command invocation.
//!
//! Input: the `X-Slack-Request-Timestamp` value on the first line (`now` for the current time),
//! the form body after it, signed with the test secret.

use crate::slack_signed::{signature, split_timestamp, SECRET};
use slack_morphism::prelude::{SlackCommandEvent, SlackSigningSecret};
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use whisperengine_slack::mapping::command_from_slash;
use whisperengine_slack::signature::check_signature;

/// Runs one input; panics when a property does not hold.
pub fn check(data: &[u8]) {
    let Some((timestamp, body)) = split_timestamp(data) else {
        return;
    };
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
}
