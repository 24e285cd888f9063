//! Contract replies → what serenity sends: channel messages (split below 2,000 characters, valid
//! markdown in every part), embeds from cards, and interaction answers (edit of the deferred answer
//! plus follow-ups). No reply can ping @everyone, @here, a role or a user: every message carries
//! allowed_mentions with nothing to parse.

use crate::MESSAGE_LIMIT;
use serenity::all::{
    ChannelId, Colour, CreateAllowedMentions, CreateEmbed, CreateEmbedFooter,
    CreateInteractionResponseFollowup, CreateMessage, EditInteractionResponse, MessageId, Nonce,
};
use whisperengine_contract::{split_message, Card, OutboundReply};

/// The embeds' accent colour.
pub const EMBED_COLOUR: Colour = Colour(0x8E6CEF);

// Discord's embed limits.
const TITLE_LIMIT: usize = 256;
const FIELD_NAME_LIMIT: usize = 256;
const FIELD_VALUE_LIMIT: usize = 1024;
const FIELDS_LIMIT: usize = 25;
const FOOTER_LIMIT: usize = 2048;

/// Mentions in the companion's words notify nobody: no @everyone/@here, roles, users or the
/// replied-to author.
pub fn allowed_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
        .everyone(false)
        .all_roles(false)
        .all_users(false)
        .replied_user(false)
}

/// A card as an embed: title, fields (inline where the card says so), footer, accent colour.
pub fn embed(card: &Card) -> CreateEmbed {
    let mut embed = CreateEmbed::new()
        .title(truncate(&card.title, TITLE_LIMIT))
        .colour(EMBED_COLOUR);
    for field in card.fields.iter().take(FIELDS_LIMIT) {
        let value = if field.value.trim().is_empty() {
            "—".to_string()
        } else {
            truncate(&field.value, FIELD_VALUE_LIMIT)
        };
        embed = embed.field(truncate(&field.name, FIELD_NAME_LIMIT), value, field.inline);
    }
    if let Some(footer) = &card.footer {
        embed = embed.footer(CreateEmbedFooter::new(truncate(footer, FOOTER_LIMIT)));
    }
    embed
}

/// The text parts of `reply`: one part when it has a card (the embed carries the content), else
/// the markdown split below Discord's limit.
pub fn text_parts(reply: &OutboundReply) -> Vec<String> {
    if reply.card.is_some() {
        return Vec::new();
    }
    split_message(&reply.text, MESSAGE_LIMIT)
}

/// What a reply to a message found after downtime starts with.
pub const LATE_NOTE: &str = "*(Sorry for the late answer, I was offline when you wrote this.)*";

/// The channel messages for `reply`; the first answers `reply_to` (a server message) when given.
pub fn channel_messages(
    reply: &OutboundReply,
    reply_to: Option<(ChannelId, MessageId)>,
) -> Vec<CreateMessage> {
    with_reference(bodies(reply, None), reply_to)
}

/// The channel messages for a late `reply` (see [`crate::catch_up`]): the first answers
/// `answered` (in DMs too, so it shows which message it is about) and starts with [`LATE_NOTE`].
pub fn late_channel_messages(
    reply: &OutboundReply,
    answered: (ChannelId, MessageId),
) -> Vec<CreateMessage> {
    with_reference(bodies(reply, Some(LATE_NOTE)), Some(answered))
}

/// The message bodies of `reply`, `note` leading the text (or beside the embed).
fn bodies(reply: &OutboundReply, note: Option<&str>) -> Vec<CreateMessage> {
    match (&reply.card, note) {
        (Some(card), None) => vec![CreateMessage::new().embed(embed(card))],
        (Some(card), Some(note)) => vec![CreateMessage::new().content(note).embed(embed(card))],
        (None, None) => text_parts(reply)
            .into_iter()
            .map(|part| CreateMessage::new().content(part))
            .collect(),
        (None, Some(note)) => split_message(&format!("{note}\n\n{}", reply.text), MESSAGE_LIMIT)
            .into_iter()
            .map(|part| CreateMessage::new().content(part))
            .collect(),
    }
}

/// `bodies` with mentions that ping nobody; the first references `reply_to` when given.
fn with_reference(
    bodies: Vec<CreateMessage>,
    reply_to: Option<(ChannelId, MessageId)>,
) -> Vec<CreateMessage> {
    bodies
        .into_iter()
        .enumerate()
        .map(|(index, message)| {
            let message = message.allowed_mentions(allowed_mentions());
            match reply_to {
                Some(reference) if index == 0 => message.reference_message(reference),
                _ => message,
            }
        })
        .collect()
}

/// The nonce of part `index` of the reply to the message `message_id` (Discord keeps nonces of up
/// to 25 characters).
pub fn reply_nonce(message_id: u64, index: usize) -> Nonce {
    Nonce::String(format!("r{message_id}{index:02}"))
}

/// An interaction answer: the edit of the deferred response, then follow-ups for further parts.
pub struct InteractionAnswer {
    pub first: EditInteractionResponse,
    pub followups: Vec<CreateInteractionResponseFollowup>,
}

/// The answer to a deferred interaction. `ephemeral` marks the follow-ups (the deferred response
/// already fixed the first part's visibility).
pub fn interaction_answer(reply: &OutboundReply, ephemeral: bool) -> InteractionAnswer {
    let first = EditInteractionResponse::new().allowed_mentions(allowed_mentions());
    if let Some(card) = &reply.card {
        return InteractionAnswer {
            first: first.content("").embed(embed(card)),
            followups: Vec::new(),
        };
    }
    let mut parts = text_parts(reply).into_iter();
    let first = first.content(parts.next().unwrap_or_else(|| "Done.".to_string()));
    let followups = parts
        .map(|part| {
            CreateInteractionResponseFollowup::new()
                .content(part)
                .ephemeral(ephemeral)
                .allowed_mentions(allowed_mentions())
        })
        .collect();
    InteractionAnswer { first, followups }
}

/// A refusal or short note only the invoker sees, as an immediate follow-up.
pub fn ephemeral_followup(text: &str) -> CreateInteractionResponseFollowup {
    CreateInteractionResponseFollowup::new()
        .content(truncate(text, MESSAGE_LIMIT))
        .ephemeral(true)
        .allowed_mentions(allowed_mentions())
}

/// At most `max` characters, with an ellipsis when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use whisperengine_contract::Card;

    fn bodies_of(messages: Vec<CreateMessage>) -> Vec<Value> {
        messages
            .into_iter()
            .map(|message| serde_json::to_value(message).unwrap())
            .collect()
    }

    #[test]
    fn a_late_reply_answers_its_message_and_starts_with_the_note() {
        let answered = (ChannelId::new(16), MessageId::new(15));
        let bodies = bodies_of(late_channel_messages(
            &OutboundReply::text("Yes, Monday works."),
            answered,
        ));
        assert_eq!(bodies.len(), 1);
        assert_eq!(
            bodies[0]["content"],
            format!("{LATE_NOTE}\n\nYes, Monday works.")
        );
        assert_eq!(bodies[0]["message_reference"]["message_id"], "15");
        assert_eq!(bodies[0]["allowed_mentions"]["replied_user"], json!(false));

        let card = OutboundReply::text("").with_card(Card::new("Your memory"));
        let bodies = bodies_of(late_channel_messages(&card, answered));
        assert_eq!(bodies[0]["content"], LATE_NOTE, "beside the embed");
        assert_eq!(bodies[0]["embeds"][0]["title"], "Your memory");
    }

    #[test]
    fn a_live_reply_in_a_dm_references_nothing_and_has_no_note() {
        let bodies = bodies_of(channel_messages(&OutboundReply::text("Hello!"), None));
        assert_eq!(bodies[0]["content"], "Hello!");
        assert!(bodies[0]
            .get("message_reference")
            .is_none_or(Value::is_null));
    }
}
