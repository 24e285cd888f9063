//! Requests to the host's Slack HTTP endpoints, signed the way Slack signs them: header
//! `X-Slack-Request-Timestamp` and `X-Slack-Signature: v0=` + hex HMAC-SHA256(signing secret,
//! `v0:{timestamp}:{body}`). One helper per request kind: an Events API callback (JSON) and a
//! slash command (form); [`Endpoint`] and [`sign`] build the unsigned and mis-signed variants.
#![allow(clippy::expect_used)] // a broken fake should fail loudly

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::unix_now;

/// The host's Slack endpoints, each with the content type Slack posts to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /slack/events`: Events API callbacks and `url_verification`, JSON.
    Events,
    /// `POST /slack/commands`: slash commands, `application/x-www-form-urlencoded`.
    Commands,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Events => "/slack/events",
            Endpoint::Commands => "/slack/commands",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Endpoint::Events => "application/json",
            Endpoint::Commands => "application/x-www-form-urlencoded",
        }
    }

    /// A POST of `body` to this endpoint of `host` (`http://…`), without signature headers.
    pub fn post(self, host: &str, body: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .post(format!("{host}{}", self.path()))
            .header("content-type", self.content_type())
            .body(body.to_string())
    }

    /// A POST of `body` to this endpoint, signed now with `secret`.
    pub fn signed(self, host: &str, secret: &str, body: &str) -> reqwest::RequestBuilder {
        sign(self.post(host, body), secret, unix_now(), body)
    }
}

/// An Events API request (JSON `body`) to `host`, signed now with `secret`.
pub fn signed_event(host: &str, secret: &str, body: &str) -> reqwest::RequestBuilder {
    Endpoint::Events.signed(host, secret, body)
}

/// A slash command request (`form` body) to `host`, signed now with `secret`.
pub fn signed_command(host: &str, secret: &str, form: &str) -> reqwest::RequestBuilder {
    Endpoint::Commands.signed(host, secret, form)
}

/// Adds Slack's timestamp and signature headers for `signed_body` to `request` (whose own body
/// may differ, to test a body modified in transit).
pub fn sign(
    request: reqwest::RequestBuilder,
    secret: &str,
    timestamp: u64,
    signed_body: &str,
) -> reqwest::RequestBuilder {
    request
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header(
            "x-slack-signature",
            signature(secret, timestamp, signed_body),
        )
}

/// `v0=` + hex HMAC-SHA256(secret, `v0:{timestamp}:{body}`), as Slack computes it.
pub fn signature(secret: &str, timestamp: u64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}
