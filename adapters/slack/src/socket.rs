//! Socket Mode: slack-morphism opens `apps.connections.open` with the app-level token (through
//! SLACK_API_URL), keeps the websocket(s) alive and acknowledges each envelope with its
//! `envelope_id`. The callbacks only hand the payload to a task, so the acknowledgement goes out at
//! once; the answer follows through the Web API like on the HTTP path.

use crate::client::api_token;
use crate::runtime::SlackRuntime;
use crate::{SlackConfig, CAPABILITIES};
use async_trait::async_trait;
use slack_morphism::prelude::{
    SlackClientEventsListenerEnvironment, SlackClientEventsUserState, SlackClientSocketModeConfig,
    SlackClientSocketModeListener, SlackCommandEvent, SlackCommandEventResponse, SlackHyperClient,
    SlackMessageContent, SlackPushEventCallback, SlackSocketModeListenerCallbacks,
    UserCallbackResult,
};
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
use slack_morphism::errors::{SlackClientError, SlackClientProtocolError};
use std::sync::Arc;
use whisperengine_contract::{
    Capabilities, Connector, ConnectorError, EventHandler, Platform, Shutdown,
};

/// The Socket Mode connector the host runs when SLACK_APP_TOKEN is set.
pub struct SocketModeConnector {
    config: SlackConfig,
}

impl SocketModeConnector {
    pub fn new(config: SlackConfig) -> Self {
        SocketModeConnector { config }
    }
}

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
        let environment = Arc::new(
            SlackClientEventsListenerEnvironment::new(runtime.api.client())
                .with_error_handler(on_error)
                .with_user_state(runtime.clone()),
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

async fn runtime_of(states: &SlackClientEventsUserState) -> Option<Arc<SlackRuntime>> {
    states
        .read()
        .await
        .get_user_state::<Arc<SlackRuntime>>()
        .cloned()
}

/// An `events_api` envelope: hand it to a task and let the listener acknowledge it.
async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if let Some(runtime) = runtime_of(&states).await {
        tokio::spawn(runtime.on_push(event, None));
    }
    Ok(())
}

/// A `slash_commands` envelope: acknowledged with an empty payload; the answer follows as an
/// ephemeral message.
async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    if let Some(runtime) = runtime_of(&states).await {
        tokio::spawn(runtime.on_command(event));
    }
    Ok(SlackCommandEventResponse::new(SlackMessageContent::new()))
}

/// Errors inside the listener (unreadable envelopes, dropped sockets): logged; answering "OK" lets
/// the listener acknowledge what it could not read, so Slack does not redeliver it forever.
fn on_error(
    error: BoxError,
    _client: Arc<SlackHyperClient>,
    _states: SlackClientEventsUserState,
) -> axum::http::StatusCode {
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
