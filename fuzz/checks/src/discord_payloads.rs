//! Discord gateway payloads (the `d` of MESSAGE_CREATE, MESSAGE_REACTION_ADD and
//! INTERACTION_CREATE) through serenity's model types into the connector's mapping: a message for
//! the core, a reaction's feedback, a slash command's invocation.
//!
//! Input: one payload's JSON; each kind is tried, as the gateway's `t` would pick one.

use serenity::all::{ChannelId, CommandInteraction, Message, Reaction, UserId};
use whisperengine_discord::commands::to_invocation;
use whisperengine_discord::mapping::{to_message, Place};
use whisperengine_discord::reaction::to_feedback;

const BOT_ID: u64 = 1_100_000_000_000_000_001;
const LISTED_CHANNEL: u64 = 1_300_000_000_000_000_002;
const MODERATOR_ROLE: u64 = 1_400_000_000_000_000_001;
const ADMIN_ID: u64 = 1_000_000_000_000_000_009;

/// Runs one input; panics when a property does not hold.
pub fn check(data: &[u8]) {
    if let Ok(message) = serde_json::from_slice::<Message>(data) {
        let roles = [(MODERATOR_ROLE, "Moderator".to_string())];
        for place in [
            Place::default(),
            Place {
                thread_parent: Some(ChannelId::new(LISTED_CHANNEL)),
            },
        ] {
            if let Ok(inbound) = to_message(&message, BOT_ID, &[LISTED_CHANNEL], &roles, place) {
                assert!(
                    !inbound.text.is_empty(),
                    "an empty message reached the core"
                );
            }
        }
    }
    if let Ok(reaction) = serde_json::from_slice::<Reaction>(data) {
        let _ = to_feedback(&reaction, BOT_ID, UserId::new(BOT_ID));
        if let Some(author) = reaction.message_author_id {
            let _ = to_feedback(&reaction, BOT_ID, author);
        }
    }
    if let Ok(interaction) = serde_json::from_slice::<CommandInteraction>(data) {
        let _ = to_invocation(&interaction, &[ADMIN_ID]);
    }
}
