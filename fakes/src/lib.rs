//! Protocol-faithful fakes of the platforms WhisperEngine talks to, each an HTTP (and websocket)
//! server on 127.0.0.1 with a free port, answering the way the real service does so the host's own
//! clients (serenity, slack-morphism, reqwest) talk to them unchanged. The host's integration tests
//! (`tests/api`) and the load bench (`whisperengine-bench`) share them.
//!
//! A tour:
//! - [`slack`]: the Slack Web API (`chat.postMessage`, `users.info`, `auth.test`, …), a slash
//!   command `response_url` and a Socket Mode websocket; every call recorded, failures on demand.
//!   Opt-in for the load bench: `users.info` for any user ([`slack::FakeSlack::start_open`]) and
//!   replies awaited by the `ts` of the message they answer ([`slack::FakeSlack::expect_reply`]).
//! - [`slack_signing`]: requests to the host's Slack endpoints, signed the way Slack signs them.
//! - [`discord`]: Discord's REST endpoints and gateway (HELLO, IDENTIFY, READY, heartbeats,
//!   dispatches, RESUME), with [`payloads`] in Discord's documented shapes.
//! - [`teams`]: the Bot Framework: OpenID metadata, JWKS, token endpoint, connector, and inbound
//!   tokens minted with the test key.
//! - [`llm`]: an OpenAI-compatible server (chat completions and deterministic embeddings), slow or
//!   unreachable on demand.
//!
//! A fake that cannot bind or is misused panics (a broken fake should fail loudly), except through
//! the constructors that say they return an error ([`slack::FakeSlack::start_open`]).

pub mod discord;
pub mod llm;
/// Discord gateway and interaction payloads, shared with the Discord crate's own tests.
#[path = "../../adapters/discord/src/tests/payloads.rs"]
pub mod payloads;
pub mod slack;
pub mod slack_signing;
pub mod teams;

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now (token lifetimes, Slack request timestamps).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
