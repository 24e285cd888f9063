//! Inbound events: what a connector hands to the core after verifying and parsing a platform payload.

use crate::platform::PlatformAccount;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The platform's id for one event (`slack:Ev0123`, a Discord snowflake, a Teams activity id),
/// used to drop retries and replays: the same event always carries the same id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(String);

impl EventId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for EventId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for EventId {
    fn from(id: String) -> EventId {
        EventId(id)
    }
}

impl From<&str> for EventId {
    fn from(id: &str) -> EventId {
        EventId(id.to_string())
    }
}

impl PartialEq<str> for EventId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for EventId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who can read the conversation a message was said in. Decides where a memory may be brought up
/// again: what was said in a DM is never repeated in a public channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// A one-to-one conversation with the companion (Discord DM, Slack IM, Teams personal chat).
    Dm,
    /// A private space: the local chat, a private channel or a small group chat.
    Private,
    /// A channel other members can read (a Discord server channel, a public Slack channel).
    Public,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Dm => "dm",
            Visibility::Private => "private",
            Visibility::Public => "public",
        }
    }

    /// Reads `dm`, `private` or `public`.
    pub fn parse(text: &str) -> Option<Visibility> {
        match text {
            "dm" => Some(Visibility::Dm),
            "private" => Some(Visibility::Private),
            "public" => Some(Visibility::Public),
            _ => None,
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a message was said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationContext {
    /// Guild id (Discord), team id (Slack), tenant id (Teams); empty for DMs on Discord and the local chat.
    pub scope: String,
    /// Channel or conversation id.
    pub channel_id: String,
    /// Thread id, where the platform has threads and the message is in one.
    pub thread_id: Option<String>,
    pub visibility: Visibility,
}

impl ConversationContext {
    /// A direct conversation in `channel_id`.
    pub fn direct(channel_id: impl Into<String>) -> Self {
        ConversationContext {
            scope: String::new(),
            channel_id: channel_id.into(),
            thread_id: None,
            visibility: Visibility::Dm,
        }
    }
}

/// A message from a person to (or in front of) the companion.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboundMessage {
    /// The platform's id for this event, used to drop retries and replays.
    pub event_id: EventId,
    pub author: PlatformAccount,
    pub context: ConversationContext,
    /// The text with any mention of the bot already removed.
    pub text: String,
    /// Whether the companion was addressed (mentioned, replied to, or a DM).
    pub is_addressed: bool,
    /// Other users mentioned in the message, as platform user ids.
    pub mentions: Vec<String>,
    /// The author's role names where the platform has roles (e.g. Discord "moderator").
    pub author_roles: Vec<String>,
    /// The host's stored copy of the event, when it came through the durable inbox: the connector
    /// passes on what its job was given, and the core records the reply in it.
    #[serde(skip)]
    pub inbox: Option<crate::InboxEntry>,
}

/// A command: a slash command, a `/whisper …` Slack command, typed text in Teams, `/…` locally.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandInvocation {
    pub event_id: EventId,
    pub invoker: PlatformAccount,
    pub context: ConversationContext,
    /// The command path, e.g. `link`, `admin`, `privacy`.
    pub name: String,
    /// Positional arguments after the name, e.g. `["start"]` or `["set", "timezone", "Europe/Lisbon"]`.
    pub args: Vec<String>,
    /// Whether the invoker is on the operator's admin list for this platform (DISCORD_ADMIN_IDS,
    /// SLACK_ADMIN_IDS, TEAMS_ADMIN_IDS; the local user in desktop mode). A platform's own admin
    /// flags never set it.
    pub invoker_is_admin: bool,
}

impl CommandInvocation {
    /// Reads `/link start`-style text into a name and arguments (the leading `/` is optional).
    /// Returns `None` for empty text.
    pub fn parse_text(text: &str) -> Option<(String, Vec<String>)> {
        let text = text.trim().trim_start_matches('/');
        let mut words = text.split_whitespace().map(str::to_string);
        let name = words.next()?.to_ascii_lowercase();
        Some((name, words.collect()))
    }
}

/// Everything a connector can hand to the core.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum InboundEvent {
    Message(InboundMessage),
    Command(CommandInvocation),
}

impl InboundEvent {
    pub fn event_id(&self) -> &str {
        match self {
            InboundEvent::Message(message) => &message.event_id,
            InboundEvent::Command(command) => &command.event_id,
        }
    }

    pub fn account(&self) -> &PlatformAccount {
        match self {
            InboundEvent::Message(message) => &message.author,
            InboundEvent::Command(command) => &command.invoker,
        }
    }

    pub fn context(&self) -> &ConversationContext {
        match self {
            InboundEvent::Message(message) => &message.context,
            InboundEvent::Command(command) => &command.context,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_text_is_split_into_name_and_arguments() {
        assert_eq!(
            CommandInvocation::parse_text("/Link  start "),
            Some(("link".to_string(), vec!["start".to_string()]))
        );
        assert_eq!(
            CommandInvocation::parse_text("prefs set tone warm"),
            Some((
                "prefs".to_string(),
                vec!["set".into(), "tone".into(), "warm".into()]
            ))
        );
        assert_eq!(CommandInvocation::parse_text("  / "), None);
    }
}
