//! The two traits that meet at the platform boundary: [`Connector`] (a platform implements it) and
//! [`EventHandler`] (the core implements it), plus what a connector tells the core about its platform.

use crate::event::{InboundEvent, Visibility};
use crate::platform::{Platform, PlatformAccount};
use crate::reply::OutboundReply;
use crate::stream::ReplySink;
use async_trait::async_trait;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The markup a platform renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkupDialect {
    /// CommonMark as the core writes it (local page).
    Markdown,
    /// Discord's markdown flavour.
    DiscordMarkdown,
    /// Slack mrkdwn (`*bold*`, `_italic_`, `<url|text>`).
    SlackMrkdwn,
    /// Teams markdown (a CommonMark subset).
    TeamsMarkdown,
    /// No markup (terminal).
    Plain,
}

/// What a platform can show, so the core can shape replies (length, cards, threads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Longest message the platform accepts, in characters.
    pub max_message_length: usize,
    pub markup: MarkupDialect,
    pub supports_threads: bool,
    pub supports_cards: bool,
    pub supports_ephemeral: bool,
}

impl Capabilities {
    /// The local chat: long messages, markdown, no cards.
    pub const LOCAL: Capabilities = Capabilities {
        max_message_length: 16_000,
        markup: MarkupDialect::Markdown,
        supports_threads: false,
        supports_cards: false,
        supports_ephemeral: false,
    };
}

/// What the core did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerOutcome {
    /// Send this back.
    Reply(OutboundReply),
    /// The event was seen before (a retry or a replay); send nothing.
    Duplicate,
    /// Nothing to say (e.g. a message not addressed to the companion); the reason is for logs.
    Ignored(&'static str),
}

/// A conversation the companion recently spoke in on a platform, most recent first: where a
/// connector looks for messages that arrived while no process was running (catch-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentConversation {
    /// Guild id (Discord), team id (Slack); empty for Discord DMs.
    pub scope: String,
    pub channel_id: String,
    pub visibility: Visibility,
}

/// Implemented by the core: every connector calls it for each verified inbound event.
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// Handles one event. Never fails from the connector's point of view: errors become a reply
    /// explaining what went wrong (without internals) or an `Ignored` outcome.
    async fn handle(&self, event: InboundEvent, capabilities: Capabilities) -> HandlerOutcome;

    /// Handles one event like [`EventHandler::handle`], pushing the reply's text into `sink` while
    /// it is composed (see [`crate::stream`] for the rules). The returned outcome is still the
    /// whole truth. A handler that cannot stream just answers.
    async fn handle_streaming(
        &self,
        event: InboundEvent,
        capabilities: Capabilities,
        sink: Arc<dyn ReplySink>,
    ) -> HandlerOutcome {
        drop(sink);
        self.handle(event, capabilities).await
    }

    /// Claims `event_id` of `platform` once for the whole host (every process, across restarts):
    /// true the first time it is asked, false after. For what a connector does on its own without
    /// the core (a welcome when the companion is added), so a platform's redelivery or a second
    /// process does not do it twice. A handler without a store says true.
    async fn claim_event(&self, platform: Platform, event_id: &str) -> bool {
        let _ = (platform, event_id);
        true
    }

    /// The reply stored for `author`'s message `event_id`, for a client that sends a message again
    /// because its answer was lost (the core answers the resend as a duplicate). `None` when no
    /// reply was stored for it (or it was forgotten since).
    async fn stored_reply(
        &self,
        author: &PlatformAccount,
        event_id: &str,
    ) -> Option<OutboundReply> {
        let _ = (author, event_id);
        None
    }

    /// The conversations on `platform` where people spoke with the companion most recently (at
    /// most `limit`, most recent first). A handler without a store knows none.
    async fn recent_conversations(
        &self,
        platform: Platform,
        limit: usize,
    ) -> Vec<RecentConversation> {
        let _ = (platform, limit);
        Vec::new()
    }
}

/// Resolves when the host is shutting down.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Why a connector stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// A credential was refused; names the setting (never its value).
    #[error("{setting} was refused by {platform}: {reason}")]
    BadCredentials {
        platform: Platform,
        setting: &'static str,
        reason: String,
    },
    #[error("{platform} connector failed: {reason}")]
    Failed { platform: Platform, reason: String },
}

/// Implemented by each platform crate. The host starts every configured connector with the core's
/// handler and a shutdown signal, and waits for them all on shutdown.
#[async_trait]
pub trait Connector: Send + Sync {
    fn platform(&self) -> Platform;
    fn capabilities(&self) -> Capabilities;
    /// Runs until `shutdown` resolves (then finishes in-flight events) or the connection fails for good.
    async fn run(
        self: Arc<Self>,
        handler: Arc<dyn EventHandler>,
        shutdown: Shutdown,
    ) -> Result<(), ConnectorError>;
}
