//! Socket Mode: slack-morphism opens `apps.connections.open` with the app-level token (through
//! SLACK_API_URL), keeps the websocket(s) alive and acknowledges each envelope with its
//! `envelope_id`. The callbacks write the payload to the host's durable inbox (in the shape the
//! Events API posts it, so the same replayer runs it) and only then let the envelope be
//! acknowledged; the answer follows through the Web API like on the HTTP path. A payload the inbox
//! refuses (full, shutting down, the database away) is not acknowledged, so Slack delivers it
//! again; one stored and acknowledged survives a restart and is taken over like an HTTP event.

use crate::client::api_token;
use crate::runtime::{Arrival, SlackRuntime};
use crate::{SlackConfig, CAPABILITIES};
use async_trait::async_trait;
use slack_morphism::prelude::{
    SlackClientEventsListenerEnvironment, SlackClientEventsUserState, SlackClientSocketModeConfig,
    SlackClientSocketModeListener, SlackCommandEvent, SlackCommandEventResponse, SlackHyperClient,
    SlackMessageContent, SlackPushEvent, SlackPushEventCallback, SlackSocketModeListenerCallbacks,
    UserCallbackResult,
};
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
use slack_morphism::errors::{SlackClientError, SlackClientProtocolError};
use std::sync::Arc;
use whisperengine_contract::{
    job_without_entry, Capabilities, Connector, ConnectorError, EventHandler, Inbox, InboxJob,
    Platform, Shutdown,
};

/// The Socket Mode connector the host runs when SLACK_APP_TOKEN is set.
pub struct SocketModeConnector {
    config: SlackConfig,
    inbox: Arc<dyn Inbox>,
}

impl SocketModeConnector {
    /// Payloads go to `inbox` before their envelope is acknowledged.
    pub fn new(config: SlackConfig, inbox: Arc<dyn Inbox>) -> Self {
        SocketModeConnector { config, inbox }
    }
}

/// What the listener's callbacks need.
struct SocketState {
    runtime: Arc<SlackRuntime>,
    inbox: Arc<dyn Inbox>,
}

/// A payload the inbox did not take: its envelope must not be acknowledged.
#[derive(Debug, thiserror::Error)]
#[error("the event was not stored ({0}); it is left unacknowledged for Slack to deliver again")]
struct NotStored(String);

#[async_trait]
impl Connector for SocketModeConnector {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn run(
        self: Arc<Self>,
        handler: Arc<dyn EventHandler>,
        shutdown: Shutdown,
    ) -> Result<(), ConnectorError> {
        let Some(app_token) = &self.config.app_token else {
            return Err(failed("SLACK_APP_TOKEN is not set"));
        };
        let runtime = Arc::new(
            SlackRuntime::new(self.config.clone(), handler)
                .map_err(|error| failed(&error.to_string()))?,
        );
        crate::http::register_replayers_for(&runtime, self.inbox.as_ref());
        let state = Arc::new(SocketState {
            runtime: runtime.clone(),
            inbox: self.inbox.clone(),
        });
        let environment = Arc::new(
            SlackClientEventsListenerEnvironment::new(runtime.api.client())
                .with_error_handler(on_error)
                .with_user_state(state),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_push_events(on_push)
            .with_command_events(on_command);
        let listener = SlackClientSocketModeListener::new(
            &SlackClientSocketModeConfig::new(),
            environment,
            callbacks,
        );
        // slack-morphism retries refused connections forever; a wrong token is said once, clearly.
        // Other failures (network down at start) are left to its reconnecting.
        match runtime.api.check_app_token(app_token).await {
            Err(error) if error.is_auth() => {
                return Err(ConnectorError::BadCredentials {
                    platform: Platform::Slack,
                    setting: "SLACK_APP_TOKEN",
                    reason: error.to_string(),
                });
            }
            Err(error) => tracing::warn!(%error, "Socket Mode not reachable yet; retrying"),
            Ok(()) => {}
        }
        listener
            .listen_for(&api_token(app_token))
            .await
            .map_err(|error| failed(&crate::client::error_code(&error)))?;
        listener.start().await;
        tracing::info!("Slack Socket Mode started");
        crate::catch_up::spawn(runtime.clone(), self.inbox.clone());
        shutdown.await;
        listener.shutdown().await;
        tracing::info!("Slack Socket Mode stopped");
        Ok(())
    }
}

fn failed(reason: &str) -> ConnectorError {
    ConnectorError::Failed {
        platform: Platform::Slack,
        reason: reason.to_string(),
    }
}

async fn state_of(states: &SlackClientEventsUserState) -> Option<Arc<SocketState>> {
    states
        .read()
        .await
        .get_user_state::<Arc<SocketState>>()
        .cloned()
}

/// An `events_api` envelope: stored in the inbox (which runs it), then acknowledged by the
/// listener; not acknowledged when the inbox refuses it.
async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let Some(state) = state_of(&states).await else {
        return Err(Box::new(NotStored("the connector is not running".into())));
    };
    let body = serde_json::to_string(&SlackPushEvent::EventCallback(event.clone()))
        .map_err(|error| NotStored(format!("unserialisable event: {error}")))?;
    let runtime = state.runtime.clone();
    let job: InboxJob =
        Box::new(move |entry| Box::pin(runtime.on_push(event, entry, Arrival::Live)));
    state
        .inbox
        .submit_durable(crate::http::EVENT_KIND, body, job)
        .await
        .map_err(|refusal| Box::new(NotStored(refusal.to_string())) as BoxError)
}

/// A `slash_commands` envelope: stored in the inbox, then acknowledged with an empty payload; the
/// answer follows as an ephemeral message.
async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let Some(state) = state_of(&states).await else {
        return Err(Box::new(NotStored("the connector is not running".into())));
    };
    let body = serde_urlencoded::to_string(&event)
        .map_err(|error| NotStored(format!("unserialisable command: {error}")))?;
    let job = job_without_entry(state.runtime.clone().on_command(event));
    state
        .inbox
        .submit_durable(crate::http::COMMAND_KIND, body, job)
        .await
        .map_err(|refusal| Box::new(NotStored(refusal.to_string())) as BoxError)?;
    Ok(SlackCommandEventResponse::new(SlackMessageContent::new()))
}

/// Errors inside the listener (unreadable envelopes, dropped sockets): logged; answering "OK" lets
/// the listener acknowledge what it could not read, so Slack does not redeliver it forever.
fn on_error(
    error: BoxError,
    _client: Arc<SlackHyperClient>,
    _states: SlackClientEventsUserState,
) -> axum::http::StatusCode {
    if let Some(not_stored) = error.downcast_ref::<NotStored>() {
        // Not acknowledged: Slack delivers the envelope again.
        tracing::warn!(reason = %not_stored, "Socket Mode event not stored; left for Slack to redeliver");
        metrics::counter!(crate::REJECTED_METRIC, "reason" => "not_stored").increment(1);
        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
    }
    // A protocol error's text carries the frame, which may carry a message: only at debug.
    let unreadable = error
        .downcast_ref::<SlackClientProtocolError>()
        .map(|protocol| protocol.json_error.to_string())
        .or_else(|| match error.downcast_ref::<SlackClientError>() {
            Some(SlackClientError::ProtocolError(protocol)) => {
                Some(protocol.json_error.to_string())
            }
            _ => None,
        });
    match unreadable {
        Some(reason) => {
            tracing::warn!(%reason, "unreadable Socket Mode frame acknowledged and dropped");
            tracing::debug!(%error, "the unreadable frame");
        }
        None => tracing::warn!(%error, "Slack Socket Mode error"),
    }
    axum::http::StatusCode::OK
}
