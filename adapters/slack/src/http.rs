//! `POST /slack/events` and `POST /slack/commands`: verify the signature over the raw body (before
//! anything is parsed, [`crate::signature`]) → parse → hand the event to the host's bounded inbox → answer (Slack
//! retries after 3 s) → the inbox processes it.
//!
//! Statuses: 401 for a missing, forged or stale signature; 400 for a body that is not the JSON or
//! form Slack sends; 413 (from the body limit) for oversized bodies; 503 when the inbox refuses
//! (full, or the host is shutting down), so Slack delivers the event again later. `url_verification` is answered
//! with its challenge, and only when signed. Retries (`X-Slack-Retry-Num`) are acknowledged like
//! first deliveries: the core drops an event id it has seen, so a retry never answers twice, and a
//! first delivery that was lost still gets its answer.

use crate::catch_up::CATCH_UP_KIND;
use crate::runtime::{Arrival, SlackRuntime};
use crate::signature::check_signature;
use crate::REJECTED_METRIC;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::ExposeSecret;
use slack_morphism::prelude::{SlackCommandEvent, SlackPushEvent, SlackSigningSecret};
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use std::sync::Arc;
use whisperengine_contract::{
    job_without_entry, Inbox, InboxJob, InboxRefusal, Platform, PlatformAccount, Replayer,
};

/// Shared by every request of the routes.
pub struct HttpState {
    pub(crate) runtime: Arc<SlackRuntime>,
    /// `None` when SLACK_SIGNING_SECRET is unset: every request is refused.
    verifier: Option<SlackEventSignatureVerifier>,
    /// Takes acknowledged events; a refusal is answered with 503.
    inbox: Arc<dyn Inbox>,
}

impl HttpState {
    pub fn new(runtime: SlackRuntime, inbox: Arc<dyn Inbox>) -> Self {
        let verifier = runtime.config.signing_secret.as_ref().map(|secret| {
            SlackEventSignatureVerifier::new(&SlackSigningSecret::new(
                secret.expose_secret().to_string(),
            ))
        });
        HttpState {
            runtime: Arc::new(runtime),
            verifier,
            inbox,
        }
    }
}

/// The Events API route.
pub async fn events(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match verify(&state, &headers, &body) {
        Ok(body) => body,
        Err(status) => return status.into_response(),
    };
    let event: SlackPushEvent = match serde_json::from_str(body) {
        Ok(event) => event,
        Err(error) => return refuse(StatusCode::BAD_REQUEST, "unreadable_event", &error),
    };
    if let Some(retry) = headers.get("x-slack-retry-num") {
        tracing::debug!(retry = ?retry, reason = ?headers.get("x-slack-retry-reason"), "Slack retry");
    }
    match event {
        SlackPushEvent::UrlVerification(verification) => {
            Json(serde_json::json!({ "challenge": verification.challenge })).into_response()
        }
        SlackPushEvent::EventCallback(callback) => {
            let runtime = state.runtime.clone();
            let job: InboxJob =
                Box::new(move |entry| Box::pin(runtime.on_push(callback, entry, Arrival::Live)));
            acknowledge(
                state
                    .inbox
                    .submit_durable(EVENT_KIND, body.to_string(), job)
                    .await,
            )
        }
        SlackPushEvent::AppRateLimited(limited) => {
            tracing::warn!(
                team = %limited.team_id,
                "Slack is rate limiting this app's events (more than 30,000 an hour)"
            );
            StatusCode::OK.into_response()
        }
    }
}

/// The slash command route. The answer follows as an ephemeral message, so the immediate
/// response is an empty 200 (Slack then shows nothing for it).
pub async fn commands(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match verify(&state, &headers, &body) {
        Ok(body) => body,
        Err(status) => return status.into_response(),
    };
    let command: SlackCommandEvent = match serde_urlencoded::from_str(body) {
        Ok(command) => command,
        Err(error) => return refuse(StatusCode::BAD_REQUEST, "unreadable_command", &error),
    };
    let job = job_without_entry(state.runtime.clone().on_command(command));
    acknowledge(
        state
            .inbox
            .submit_durable(COMMAND_KIND, body.to_string(), job)
            .await,
    )
}

/// The kinds Slack events are stored under in the host's inbox (the verified body as received).
pub(crate) const EVENT_KIND: &str = "slack.event";
pub(crate) const COMMAND_KIND: &str = "slack.command";

/// Runs stored Slack bodies again (in a process that took them over from one that stopped). They
/// were verified when they arrived; the signature is not checked again (its 5-minute window may
/// have passed), since they come back from the host's own database.
struct SlackReplayer {
    runtime: std::sync::Weak<SlackRuntime>,
    is_command: bool,
    /// How the stored events of this kind arrived first: a taken-over live event, or one read
    /// from history at start (still late).
    arrival: Arrival,
}

impl Replayer for SlackReplayer {
    fn replay(&self, payload: &str) -> Option<InboxJob> {
        let runtime = self.runtime.upgrade()?;
        if self.is_command {
            let command: SlackCommandEvent = serde_urlencoded::from_str(payload).ok()?;
            return Some(job_without_entry(runtime.on_command(command)));
        }
        let arrival = self.arrival;
        match serde_json::from_str(payload).ok()? {
            SlackPushEvent::EventCallback(callback) => Some(Box::new(move |entry| {
                Box::pin(runtime.on_push(callback, entry, arrival))
            })),
            _ => None,
        }
    }

    fn author(&self, payload: &str) -> Option<PlatformAccount> {
        let (team, user) = if self.is_command {
            let command: SlackCommandEvent = serde_urlencoded::from_str(payload).ok()?;
            (command.team_id.0, command.user_id.0)
        } else {
            // Every event the host handles (messages, mentions, reactions) names its user here.
            let event: serde_json::Value = serde_json::from_str(payload).ok()?;
            (
                event["team_id"].as_str()?.to_string(),
                event["event"]["user"].as_str()?.to_string(),
            )
        };
        Some(PlatformAccount::new(Platform::Slack, team, user))
    }
}

/// Registers how stored Slack events and commands are run again.
pub(crate) fn register_replayers(state: &Arc<HttpState>, inbox: &dyn Inbox) {
    register_replayers_for(&state.runtime, inbox);
}

/// Registers `runtime` to run stored Slack events and commands again (the HTTP routes and Socket
/// Mode store the same shapes).
pub(crate) fn register_replayers_for(runtime: &Arc<SlackRuntime>, inbox: &dyn Inbox) {
    let kinds = [
        (EVENT_KIND, false, Arrival::TakenOver),
        (COMMAND_KIND, true, Arrival::TakenOver),
        (CATCH_UP_KIND, false, Arrival::CaughtUp),
    ];
    for (kind, is_command, arrival) in kinds {
        inbox.register_replayer(
            kind,
            Arc::new(SlackReplayer {
                runtime: Arc::downgrade(runtime),
                is_command,
                arrival,
            }),
        );
    }
}

/// 200 once the inbox holds the event; otherwise 503 so that Slack retries it.
fn acknowledge(submitted: Result<(), InboxRefusal>) -> Response {
    match submitted {
        Ok(()) => StatusCode::OK.into_response(),
        Err(refusal) => {
            let reason = match refusal {
                InboxRefusal::Full => "intake_full",
                InboxRefusal::ShuttingDown => "shutting_down",
            };
            metrics::counter!(REJECTED_METRIC, "reason" => reason).increment(1);
            tracing::warn!(%refusal, "Slack event not acknowledged; Slack will retry");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Checks `X-Slack-Signature` over `v0:{timestamp}:{body}` (constant time, 5-minute window) and
/// returns the body as text.
fn verify<'b>(
    state: &HttpState,
    headers: &HeaderMap,
    body: &'b Bytes,
) -> Result<&'b str, StatusCode> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    check_signature(
        state.verifier.as_ref(),
        header(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER),
        header(SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP),
        body,
    )
    .map_err(reject)
}

fn reject(reason: &'static str) -> StatusCode {
    metrics::counter!(REJECTED_METRIC, "reason" => reason).increment(1);
    tracing::warn!(reason, "Slack request refused");
    StatusCode::UNAUTHORIZED
}

fn refuse(status: StatusCode, reason: &'static str, error: &dyn std::fmt::Display) -> Response {
    metrics::counter!(REJECTED_METRIC, "reason" => reason).increment(1);
    tracing::debug!(%error, reason, "unreadable Slack request");
    status.into_response()
}
