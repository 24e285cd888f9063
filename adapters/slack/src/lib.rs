//! The Slack connector: Events API and slash commands over HTTP, or Socket Mode, through
//! slack-morphism; replies in Slack mrkdwn and Block Kit.
//!
//! - [`mapping`]: verified payload → contract event (identity, context, mentions, commands) and
//!   where the answer goes. Pure functions.
//! - [`mrkdwn`]: the core's markdown → Slack mrkdwn, escaped so replies cannot ping `@channel`.
//! - [`blocks`]: the contract's cards → Block Kit sections.
//! - [`client`]: the Web API (chat.postMessage/update/delete, the chat streams, chat.postEphemeral,
//!   users.info, auth.test) on
//!   SLACK_API_URL, with 429 retries.
//! - [`users`]: display names and roles (bot, workspace admin) from users.info, cached with a TTL.
//! - [`stream`]: a reply shown while it is written (Slack's chat streaming in threads, else a
//!   message posted and updated).
//! - [`runtime`]: one verified event → the core → the rendered reply, shared by both ways in.
//! - [`signature`]: Slack's request signature (HMAC-SHA256 over the raw body, 5-minute window).
//! - [`http`]: `POST /slack/events` and `POST /slack/commands`: verify the signature, hand the
//!   event to the host's bounded inbox, answer 200 (or 503 when the inbox refuses).
//! - [`socket`]: Socket Mode as a contract [`Connector`](whisperengine_contract::Connector).
//! - [`catch_up`]: on start, the DMs and mentions that arrived while no process was running.
//!
//! The host merges [`routes`] into its HTTP router and runs [`SocketModeConnector`] when
//! SLACK_APP_TOKEN is set. The crate depends on the contract only, never on the core.

pub mod blocks;
pub mod catch_up;
pub mod client;
pub mod error;
pub mod http;
pub mod mapping;
pub mod mrkdwn;
pub mod runtime;
pub mod signature;
pub mod socket;
pub mod stream;
pub mod users;

pub use error::{Result, SlackError};
pub use socket::SocketModeConnector;

use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use axum::Router;
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;
use url::Url;
use whisperengine_contract::{Capabilities, EventHandler, Inbox, MarkupDialect};

/// Path of the Events API request URL.
pub const EVENTS_PATH: &str = "/slack/events";
/// Path of the slash command request URL.
pub const COMMANDS_PATH: &str = "/slack/commands";
/// Counter of refused inbound requests, labelled `reason`.
pub const REJECTED_METRIC: &str = "whisperengine_slack_requests_rejected_total";
/// Counter of failed Web API calls, labelled `method` and `code` (Slack's error code).
pub const API_ERRORS_METRIC: &str = "whisperengine_slack_api_errors_total";

/// What Slack shows: mrkdwn, threads, Block Kit, ephemeral messages. Slack accepts 40,000
/// characters but advises staying under 4,000 per message, so replies are split below that.
pub const CAPABILITIES: Capabilities = Capabilities {
    max_message_length: 3_900,
    markup: MarkupDialect::SlackMrkdwn,
    supports_threads: true,
    supports_cards: true,
    supports_ephemeral: true,
};

/// Settings of the connector (from SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN,
/// SLACK_COMMAND, SLACK_ADMIN_IDS, SLACK_API_URL, SLACK_REPLY_IN_THREAD).
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// `xoxb-…`: every Web API call.
    pub bot_token: SecretString,
    /// Verifies HTTP requests; without it the HTTP routes refuse everything.
    pub signing_secret: Option<SecretString>,
    /// `xapp-…`: turns on Socket Mode.
    pub app_token: Option<SecretString>,
    /// The slash command, e.g. `/whisper`.
    pub command: String,
    /// Slack user ids allowed to run admin commands (besides workspace admins and owners).
    pub admin_ids: Vec<String>,
    /// Web API base URL including `/api`; Slack's when `None`.
    pub api_url: Option<Url>,
    /// Start a thread under messages that are not in one.
    pub reply_in_thread: bool,
    /// Largest request body accepted, in bytes (larger → 413).
    pub max_body_bytes: usize,
    /// How long users.info answers are trusted.
    pub user_cache_ttl: Duration,
    /// Retries of a rate-limited (429) Web API call.
    pub max_retries: usize,
    /// Show replies while they are written (STREAM_REPLIES names `slack`).
    pub stream_replies: bool,
    /// On start, how far back to look for messages to the companion that arrived while no process
    /// was running (CATCH_UP_WINDOW; zero: no catch-up).
    pub catch_up_window: Duration,
}

impl SlackConfig {
    /// A configuration with Slack's endpoints and default limits.
    pub fn new(bot_token: SecretString) -> Self {
        SlackConfig {
            bot_token,
            signing_secret: None,
            app_token: None,
            command: "/whisper".to_string(),
            admin_ids: Vec::new(),
            api_url: None,
            reply_in_thread: true,
            max_body_bytes: 128 * 1024,
            user_cache_ttl: Duration::from_secs(10 * 60),
            max_retries: 3,
            stream_replies: true,
            catch_up_window: Duration::from_secs(10 * 60),
        }
    }

    /// The Web API base URL in use.
    pub fn api_url(&self) -> Url {
        self.api_url.clone().unwrap_or_else(|| {
            #[allow(clippy::expect_used)]
            Url::parse(client::DEFAULT_API_URL).expect("the built-in Slack API URL is valid")
        })
    }
}

/// `POST /slack/events` and `POST /slack/commands`, ready to merge into the host's router. Verified
/// events go to `inbox`, which runs them and drains before the host exits.
pub fn routes(
    config: SlackConfig,
    handler: Arc<dyn EventHandler>,
    inbox: Arc<dyn Inbox>,
) -> Result<Router> {
    let body_limit = config.max_body_bytes;
    // With Socket Mode on, its connector catches up once it is connected.
    let catches_up = config.app_token.is_none();
    let state = Arc::new(http::HttpState::new(
        runtime::SlackRuntime::new(config, handler)?,
        inbox.clone(),
    ));
    http::register_replayers(&state, inbox.as_ref());
    if catches_up {
        catch_up::spawn(state.runtime.clone(), inbox.clone());
    }
    Ok(Router::new()
        .route(EVENTS_PATH, post(http::events))
        .route(COMMANDS_PATH, post(http::commands))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state))
}

/// Checks the tokens (for `doctor`): `auth.test` with the bot token, and `apps.connections.open`
/// with the app-level token when Socket Mode is on. Says which workspace and bot user they belong to.
pub async fn check_credentials(config: &SlackConfig) -> Result<String> {
    let api = client::SlackApi::new(config)?;
    let identity = api.auth_test().await?;
    let mut report = format!(
        "auth.test ok: workspace {} ({}), bot user {}",
        identity.team, identity.team_id.0, identity.user_id.0
    );
    if let Some(app_token) = &config.app_token {
        api.check_app_token(app_token).await?;
        report.push_str("; apps.connections.open ok");
    }
    Ok(report)
}
