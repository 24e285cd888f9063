//! The Microsoft Teams connector: Bot Framework activities in over HTTP, authenticated replies out.
//!
//! There is no maintained Rust Bot Framework SDK, so this crate speaks the REST protocol itself:
//! - [`activity`]: serde types of the activities read and written.
//! - [`auth`]: inbound JWT validation against the Bot Framework's published keys (cached).
//! - [`token`]: the bot's outbound client-credentials token (cached until shortly before expiry).
//! - [`client`]: the connector REST client (replies, typing indicators).
//! - [`service_url`]: the service URLs the bot's token may be sent to.
//! - [`card`]: Adaptive Cards from the contract's neutral cards.
//! - [`mapping`]: activity → contract event (identity, context, mentions, typed commands).
//! - [`handler`]: the `POST /api/messages` route tying them together.
//! - [`reply`]: a finished reply sent (cards, text split below the size limit).
//! - [`stream`]: a reply in a 1:1 chat shown while it is written (Teams' streaming activities).
//!
//! The host merges [`routes`] into its HTTP router; the crate depends on the contract only, never
//! on the core.

pub mod activity;
pub mod auth;
pub mod card;
pub mod client;
pub mod error;
pub mod handler;
pub mod mapping;
pub mod reply;
pub mod service_url;
pub mod stream;
pub mod token;

pub use error::{Result, TeamsError};
pub use service_url::AllowedServiceUrls;

use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use axum::Router;
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;
use url::Url;
use whisperengine_contract::{Capabilities, EventHandler, MarkupDialect};

/// Path of the messaging endpoint registered with the Azure Bot.
pub const MESSAGES_PATH: &str = "/api/messages";
/// Counter of refused inbound requests, labelled `reason`.
pub const AUTH_REJECTED_METRIC: &str = "whisperengine_teams_auth_rejected_total";
/// Counter of outbound requests not made, labelled `reason` (`service_url_not_allowed`: an
/// activity taken back from the inbox, or a send, towards a service URL outside the allow-list).
pub const OUTBOUND_REFUSED_METRIC: &str = "whisperengine_teams_outbound_refused_total";
/// The only channel served: activities from other Bot Framework channels (Web Chat, the
/// Emulator, ...) are refused.
pub const TEAMS_CHANNEL_ID: &str = "msteams";
/// The Bot Framework's OpenID metadata document (multi-tenant and single-tenant bots alike).
pub const DEFAULT_OPENID_METADATA_URL: &str =
    "https://login.botframework.com/v1/.well-known/openidconfiguration";
/// The multi-tenant token endpoint; single-tenant bots use their tenant's instead.
pub const DEFAULT_TOKEN_URL: &str =
    "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token";

/// What Teams shows: messages up to ~28 KB (replies are split at 25,000 characters and, for
/// multi-byte text, 25,000 bytes, leaving room for the activity around them), Teams markdown,
/// Adaptive Cards, no ephemeral messages.
pub const CAPABILITIES: Capabilities = Capabilities {
    max_message_length: 25_000,
    markup: MarkupDialect::TeamsMarkdown,
    supports_threads: false,
    supports_cards: true,
    supports_ephemeral: false,
};

/// Settings of the connector (from MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD, MICROSOFT_APP_TENANT_ID,
/// TEAMS_ADMIN_IDS, TEAMS_OPENID_METADATA_URL, TEAMS_TOKEN_URL, TEAMS_ALLOWED_SERVICE_URLS,
/// STREAM_REPLIES).
#[derive(Debug, Clone)]
pub struct TeamsConfig {
    /// The bot's Microsoft app id: the audience of inbound tokens and the client id of outbound ones.
    pub app_id: String,
    /// The app's client secret.
    pub app_password: SecretString,
    /// Set for single-tenant bots: tokens are then requested from this tenant and its issuers accepted.
    pub tenant_id: Option<String>,
    /// AAD object ids allowed to run admin commands.
    pub admin_ids: Vec<String>,
    pub openid_metadata_url: Url,
    pub token_url: Url,
    /// Service URLs activities may name: the bot's token is sent to no other.
    pub allowed_service_urls: AllowedServiceUrls,
    /// Largest activity accepted, in bytes (larger → 413).
    pub max_body_bytes: usize,
    /// Least time between two key refreshes caused by an unknown `kid`.
    pub key_refresh_interval: Duration,
    /// Timeout of each outbound HTTP request.
    pub request_timeout: Duration,
    /// Whether replies in 1:1 chats are shown while they are written (Teams' streaming
    /// activities); group chats and channels always get the finished reply.
    pub stream_replies: bool,
    /// Show the typing indicator while a reply is written (TEAMS_SHOW_TYPING).
    pub show_typing: bool,
}

impl TeamsConfig {
    /// A configuration with the Bot Framework's endpoints and default limits.
    pub fn new(app_id: impl Into<String>, app_password: SecretString) -> Self {
        TeamsConfig {
            app_id: app_id.into(),
            app_password,
            tenant_id: None,
            admin_ids: Vec::new(),
            openid_metadata_url: parse_builtin(DEFAULT_OPENID_METADATA_URL),
            token_url: parse_builtin(DEFAULT_TOKEN_URL),
            allowed_service_urls: AllowedServiceUrls::bot_framework_public(),
            max_body_bytes: 256 * 1024,
            key_refresh_interval: Duration::from_secs(5 * 60),
            request_timeout: Duration::from_secs(15),
            stream_replies: true,
            show_typing: true,
        }
    }

    /// Where tokens are requested: [`TeamsConfig::token_url`], except that a single-tenant bot left on
    /// the multi-tenant default asks its own tenant (Azure refuses the other for single-tenant apps).
    pub fn effective_token_url(&self) -> Url {
        match &self.tenant_id {
            Some(tenant) if self.token_url.as_str() == DEFAULT_TOKEN_URL => Url::parse(&format!(
                "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
            ))
            .unwrap_or_else(|_| self.token_url.clone()),
            _ => self.token_url.clone(),
        }
    }
}

fn parse_builtin(url: &str) -> Url {
    #[allow(clippy::expect_used)]
    Url::parse(url).expect("built-in Bot Framework URLs are valid")
}

fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "HTTP client with timeout unavailable; using the default client");
            reqwest::Client::new()
        })
}

fn connector_client(config: &TeamsConfig, http: reqwest::Client) -> client::ConnectorClient {
    let tokens = token::TokenClient::new(
        http.clone(),
        config.effective_token_url(),
        config.app_id.clone(),
        config.app_password.clone(),
    );
    client::ConnectorClient::new(http, tokens, config.allowed_service_urls.clone())
}

/// `POST /api/messages`, ready to merge into the host's router.
pub fn routes(
    config: TeamsConfig,
    handler: Arc<dyn EventHandler>,
    inbox: Arc<dyn whisperengine_contract::Inbox>,
) -> Router {
    let http = http_client(config.request_timeout);
    let verifier = auth::Verifier::new(
        http.clone(),
        config.openid_metadata_url.clone(),
        &config.app_id,
        config.tenant_id.as_deref(),
        config.key_refresh_interval,
    );
    let client = connector_client(&config, http);
    let body_limit = config.max_body_bytes;
    let state = Arc::new(handler::TeamsState::new(
        config,
        verifier,
        client,
        handler,
        inbox.clone(),
    ));
    inbox.register_replayer(
        handler::INBOX_KIND,
        Arc::new(handler::TeamsReplayer(Arc::downgrade(&state))),
    );
    Router::new()
        .route(MESSAGES_PATH, post(handler::messages))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Asks the token endpoint for a token with the configured credentials (for `doctor`).
pub async fn check_credentials(config: &TeamsConfig) -> Result<()> {
    let http = http_client(config.request_timeout);
    connector_client(config, http)
        .tokens()
        .token()
        .await
        .map(|_| ())
}
