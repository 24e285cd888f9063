//! The Discord connector: serenity's gateway brings messages and slash commands in, serenity's REST
//! client sends replies, typing indicators, embeds and interaction answers out.
//!
//! - [`commands`]: the slash commands, declared once as data: registered with Discord from it, and
//!   every incoming interaction re-checked against it before the core sees it.
//! - [`mapping`]: a gateway `MESSAGE_CREATE` → contract message (DM / mention / reply / listed channel).
//! - [`reaction`]: a gateway `MESSAGE_REACTION_ADD` (👍/👎 on the companion's message) → the core's
//!   `feedback` command; its reply is not posted (reactions are silent).
//! - [`render`]: contract replies → Discord messages, embeds and interaction responses (split at
//!   2,000 characters, no mass mentions).
//! - [`stream`]: a reply shown while it is written (a message posted, then edited at the pace
//!   Discord's bucket headers allow).
//! - [`turn`]: one message's turn, stored in the host's inbox before it starts (taken over by
//!   another process after a crash), replies with nonces Discord enforces.
//! - [`lookup`]: a gateway or history message → its turn (serenity's cache, then [`mapping`]).
//! - [`catch_up`]: on start, messages to the companion sent while no process ran, answered late.
//! - [`in_flight`]: the events being handled, which shutdown waits for.
//! - [`handler`]: serenity's event handler tying them to the core's [`EventHandler`].
//! - [`connector`]: [`DiscordConnector`], the contract's `Connector`: token check, shards, shutdown.
//!
//! The crate depends on the contract and serenity only, never on the core.
//!
//! [`EventHandler`]: whisperengine_contract::EventHandler

pub mod catch_up;
pub mod commands;
pub mod connector;
pub mod error;
pub mod handler;
pub mod in_flight;
pub mod lookup;
pub mod mapping;
pub mod reaction;
pub mod render;
pub mod stream;
pub mod turn;

pub use connector::{check_credentials, DiscordConnector};
pub use error::{DiscordError, Result};

use secrecy::SecretString;
use serenity::all::Permissions;
use std::time::Duration;
use whisperengine_contract::{Capabilities, MarkupDialect};

/// Discord's limit for a message's content, in characters.
pub const MESSAGE_LIMIT: usize = 2000;

/// What Discord shows: 2,000-character messages, Discord markdown, threads, embeds, ephemeral
/// interaction answers.
pub const CAPABILITIES: Capabilities = Capabilities {
    max_message_length: MESSAGE_LIMIT,
    markup: MarkupDialect::DiscordMarkdown,
    supports_threads: true,
    supports_cards: true,
    supports_ephemeral: true,
};

/// Which gateway shards this process runs (`DISCORD_SHARDS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShardPlan {
    /// As many as Discord recommends (`GET /gateway/bot`), all in this process.
    #[default]
    Auto,
    /// Exactly this many shards, all in this process.
    Count(u32),
    /// Shards `first..=last` of `total`: the rest run in other processes.
    Range { first: u32, last: u32, total: u32 },
}

/// Settings of the connector (from DISCORD_TOKEN, DISCORD_APPLICATION_ID, DISCORD_GUILD_ID,
/// DISCORD_ADMIN_IDS, DISCORD_CHANNELS, DISCORD_API_URL, DISCORD_SHARDS).
#[derive(Debug, Clone)]
pub struct DiscordConfig {
    /// The bot token (without the `Bot ` prefix; serenity adds it).
    pub token: SecretString,
    /// The application id; learnt from READY when not set.
    pub application_id: Option<u64>,
    /// Register slash commands in this guild only (instant updates while developing).
    pub guild_id: Option<u64>,
    /// User ids allowed to run admin commands whatever their server permissions.
    pub admin_ids: Vec<u64>,
    /// Channels where every message is answered, not only mentions and replies.
    pub channels: Vec<u64>,
    /// REST base URL (scheme and host, e.g. `http://127.0.0.1:3000`) instead of Discord's. Requests
    /// then go there with serenity's rate limiter off: meant for tests and for a rate-limiting
    /// HTTP proxy in front of Discord.
    pub api_url: Option<String>,
    pub shards: ShardPlan,
    /// How long shutdown waits for events already being handled.
    pub shutdown_grace: Duration,
    /// Show replies while they are written (STREAM_REPLIES names `discord`).
    pub stream_replies: bool,
    /// Show "typing…" while a reply is written (DISCORD_SHOW_TYPING).
    pub show_typing: bool,
    /// On start, how far back to look for messages to the companion that arrived while no process
    /// was running (CATCH_UP_WINDOW; zero: no catch-up).
    pub catch_up_window: Duration,
}

impl DiscordConfig {
    /// A configuration with Discord's endpoints, automatic sharding and global commands.
    pub fn new(token: SecretString) -> Self {
        DiscordConfig {
            token,
            application_id: None,
            guild_id: None,
            admin_ids: Vec::new(),
            channels: Vec::new(),
            api_url: None,
            shards: ShardPlan::Auto,
            shutdown_grace: Duration::from_secs(10),
            stream_replies: true,
            show_typing: true,
            catch_up_window: Duration::from_secs(10 * 60),
        }
    }
}

/// The permissions the invite URL asks for: view channels, send messages (also in threads), embed
/// links, read message history, add reactions, use application commands.
pub fn invite_permissions() -> Permissions {
    Permissions::VIEW_CHANNEL
        | Permissions::SEND_MESSAGES
        | Permissions::SEND_MESSAGES_IN_THREADS
        | Permissions::EMBED_LINKS
        | Permissions::READ_MESSAGE_HISTORY
        | Permissions::ADD_REACTIONS
        | Permissions::USE_APPLICATION_COMMANDS
}

/// The URL a server admin opens to add the bot, with the `bot` and `applications.commands` scopes.
pub fn invite_url(application_id: u64) -> String {
    format!(
        "https://discord.com/oauth2/authorize?client_id={application_id}&scope=bot%20applications.commands&permissions={}",
        invite_permissions().bits()
    )
}

#[cfg(test)]
mod tests {
    //! Besides the invite: [`mapping`] drives Discord's documented [`payloads`] through serenity's
    //! model types into the connector's mapping and rendering.
    mod mapping;
    pub mod payloads;

    use super::*;

    #[test]
    fn the_invite_asks_for_the_documented_permissions_and_scopes() {
        assert_eq!(
            invite_permissions().bits(),
            277_025_475_648,
            "the number in adapters/discord/README.md"
        );
        assert_eq!(
            invite_url(42),
            "https://discord.com/oauth2/authorize?client_id=42&scope=bot%20applications.commands&permissions=277025475648"
        );
    }
}
