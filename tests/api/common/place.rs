//! Where something is said, for the randomized privacy tests: a DM, the private channel, or a
//! public channel in one of two workspaces, and the conversation context each one is.

use whisperengine_contract::{ConversationContext, Visibility};

/// Where something is said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    Dm,
    /// The private channel (in workspace "W0").
    Private,
    /// A public channel in workspace 0 or 1 ("W0" / "W1").
    Public(u8),
}

impl Place {
    /// The context of `channel` at this place: DMs have no scope; channels are in workspace
    /// "W0"/"W1". The private channel is one conversation (`channel` is ignored): a group
    /// conversation recalls what was said in that same conversation.
    pub fn context(self, channel: &str) -> ConversationContext {
        let (scope, visibility, channel) = match self {
            Place::Dm => (String::new(), Visibility::Dm, channel),
            Place::Private => ("W0".to_string(), Visibility::Private, "G-private"),
            Place::Public(workspace) => (format!("W{workspace}"), Visibility::Public, channel),
        };
        ConversationContext {
            scope,
            channel_id: channel.to_string(),
            thread_id: None,
            visibility,
        }
    }
}
