//! Slack's request signature as Slack computes it (`v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`),
//! and the input format the two Slack targets share: the timestamp on the first line, the body
//! after it.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::{SystemTime, UNIX_EPOCH};

/// The signing secret the targets' verifier is built with.
pub const SECRET: &str = "fuzz-signing-secret";

/// The `X-Slack-Signature` value Slack would send for `body` at `timestamp`, signed with `secret`.
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Splits the input into the `X-Slack-Request-Timestamp` value (`now` stands for the current time)
/// and the body.
pub fn split_timestamp(data: &[u8]) -> Option<(String, &[u8])> {
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
