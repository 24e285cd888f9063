//! Maps a verified Teams `message` activity to a contract event: identity (tenant, AAD object id),
//! conversation context, mention stripping and typed-command detection. Pure functions, no I/O.

use crate::activity::Activity;
use whisperengine_contract::{
    CommandInvocation, ConversationContext, InboundEvent, InboundMessage, Platform,
    PlatformAccount, Visibility,
};

/// Command names recognised as the first word of a message (the manifest's command menu lists them).
pub const COMMAND_NAMES: [&str; 10] = [
    "help", "whoami", "link", "unlink", "memory", "forget", "prefs", "privacy", "sync", "admin",
];

/// Why a message activity is not handed to the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// No AAD object id: not a Teams user (another channel, or a bot).
    NoAadObjectId,
    /// No activity id to deduplicate on.
    NoActivityId,
    /// Nothing left after removing the mention.
    EmptyText,
}

/// Reads `activity` (a `message`) into an inbound event. `admin_ids` are the AAD object ids allowed
/// to run admin commands.
pub fn to_event(activity: &Activity, admin_ids: &[String]) -> Result<InboundEvent, Skip> {
    let aad_object_id = activity
        .from
        .aad_object_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .ok_or(Skip::NoAadObjectId)?;
    let activity_id = activity
        .id
        .as_deref()
        .filter(|id| !id.is_empty())
        .ok_or(Skip::NoActivityId)?;
    let tenant = activity.tenant_id().unwrap_or_default();
    let mut author = PlatformAccount::new(Platform::Teams, tenant, aad_object_id);
    if let Some(name) = activity
        .from
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
    {
        author = author.with_display_name(name.trim());
    }
    let context = context_of(activity, tenant);
    let (text, is_bot_mentioned, mentions) = strip_mentions(activity);
    let is_addressed = context.visibility == Visibility::Dm || is_bot_mentioned;
    if text.is_empty() {
        return Err(Skip::EmptyText);
    }
    // Activity ids in channels are timestamps, unique per conversation only.
    let event_id = whisperengine_contract::EventId::from(format!(
        "{}|{activity_id}",
        activity.conversation.id
    ));
    let first_word = text
        .split_whitespace()
        .next()
        .map(|word| word.trim_start_matches('/').to_ascii_lowercase())
        .unwrap_or_default();
    if is_addressed && COMMAND_NAMES.contains(&first_word.as_str()) {
        if let Some((name, args)) = CommandInvocation::parse_text(&text) {
            return Ok(InboundEvent::Command(CommandInvocation {
                event_id,
                invoker_is_admin: admin_ids.iter().any(|id| id == aad_object_id),
                invoker: author,
                context,
                name,
                args,
            }));
        }
    }
    Ok(InboundEvent::Message(InboundMessage {
        event_id,
        author,
        context,
        text,
        is_addressed,
        mentions,
        author_roles: Vec::new(),
        inbox: None,
    }))
}

/// The feedback score of a Teams reaction: 👍 `like` and ❤️ `heart` are 5, 😢 `sad` and 😠
/// `angry` are 1 (like 👍 and 👎 on Discord and Slack); the others say nothing about the reply.
pub fn reaction_score(kind: &str) -> Option<&'static str> {
    match kind {
        "like" | "heart" => Some("5"),
        "sad" | "angry" => Some("1"),
        _ => None,
    }
}

/// The comment a reaction's feedback carries.
pub const REACTION_COMMENT: &str = "(reaction)";

/// A `messageReaction` adding a scored reaction to one of the companion's messages (Teams sends
/// the bot reactions to its own messages only) as a silent `feedback` invocation; `None` for a
/// removal, a reaction without a score, or an activity naming no person or message.
pub fn feedback_from_reaction(activity: &Activity) -> Option<CommandInvocation> {
    let aad_object_id = activity
        .from
        .aad_object_id
        .as_deref()
        .filter(|id| !id.is_empty())?;
    let message = activity
        .reply_to_id
        .as_deref()
        .filter(|id| !id.is_empty())?;
    let (kind, score) = activity.reactions_added.iter().find_map(|reaction| {
        reaction_score(&reaction.kind).map(|score| (reaction.kind.as_str(), score))
    })?;
    let tenant = activity.tenant_id().unwrap_or_default();
    // One feedback per person, message and reaction: a retried activity is the same event.
    let event_id = whisperengine_contract::EventId::from(format!(
        "reaction|{}|{message}|{aad_object_id}|{kind}",
        activity.conversation.id
    ));
    Some(CommandInvocation {
        event_id,
        invoker: PlatformAccount::new(Platform::Teams, tenant, aad_object_id),
        context: context_of(activity, tenant),
        name: "feedback".to_string(),
        args: vec![score.to_string(), REACTION_COMMENT.to_string()],
        invoker_is_admin: false,
    })
}

/// Scope = tenant; channel = the conversation (without a channel thread's `;messageid=`, which
/// becomes the thread id); visibility from the conversation type.
fn context_of(activity: &Activity, tenant: &str) -> ConversationContext {
    let visibility = if activity.is_personal() {
        Visibility::Dm
    } else if activity.conversation_type() == Some("channel") {
        Visibility::Public
    } else {
        // A group chat, or a conversation whose type Teams did not state: treated as a
        // conversation with several people (so it needs an @mention, and personal answers are
        // not given there). Only an explicit `personal` is a 1:1 DM.
        Visibility::Private
    };
    let id = activity.conversation.id.as_str();
    let (channel_id, thread_id) = match id.split_once(";messageid=") {
        Some((channel, thread)) => (channel.to_string(), Some(thread.to_string())),
        None => (id.to_string(), None),
    };
    ConversationContext {
        scope: tenant.to_string(),
        channel_id,
        thread_id,
        visibility,
    }
}

/// The text with the bot's `<at>…</at>` mention removed and other mentions reduced to the name,
/// whether the bot was mentioned, and the other mentioned users (AAD ids where known).
pub fn strip_mentions(activity: &Activity) -> (String, bool, Vec<String>) {
    let mut text = activity.text.clone().unwrap_or_default();
    let bot_id = activity.recipient.as_ref().map(|bot| bot.id.as_str());
    let mut is_bot_mentioned = false;
    let mut mentions = Vec::new();
    for mention in activity.mentions() {
        let is_bot = Some(mention.mentioned.id.as_str()) == bot_id;
        let tag = mention.text.clone().unwrap_or_default();
        if is_bot {
            is_bot_mentioned = true;
            if !tag.is_empty() {
                text = text.replace(&tag, " ");
            }
        } else {
            let name = mention.mentioned.name.clone().unwrap_or_default();
            if !tag.is_empty() {
                text = text.replace(&tag, &name);
            }
            mentions.push(
                mention
                    .mentioned
                    .aad_object_id
                    .clone()
                    .unwrap_or(mention.mentioned.id),
            );
        }
    }
    // Leftover tags (a mention entity missing) and HTML spaces Teams puts around mentions.
    let text = remove_at_tags(&text).replace("&nbsp;", " ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (text, is_bot_mentioned, mentions)
}

/// Replaces `<at>Name</at>` with `Name`.
fn remove_at_tags(text: &str) -> String {
    text.replace("<at>", "").replace("</at>", "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn activity(conversation_type: &str, text: &str, entities: serde_json::Value) -> Activity {
        serde_json::from_value(json!({
            "type": "message", "id": "1001", "serviceUrl": "https://smba.example/",
            "channelId": "msteams",
            "from": {"id": "29:per-bot-id", "name": "Ana Lima", "aadObjectId": "aad-ana"},
            "conversation": {"id": "19:chan@thread.tacv2;messageid=999", "conversationType": conversation_type, "tenantId": "tenant-1"},
            "recipient": {"id": "28:app", "name": "Elena"},
            "text": text,
            "entities": entities,
            "channelData": {"tenant": {"id": "tenant-1"}}
        }))
        .unwrap()
    }

    fn bot_mention() -> serde_json::Value {
        json!({"type": "mention", "mentioned": {"id": "28:app", "name": "Elena"}, "text": "<at>Elena</at>"})
    }

    #[test]
    fn a_channel_mention_is_stripped_and_marks_the_message_addressed() {
        let event = to_event(
            &activity(
                "channel",
                "<at>Elena</at>&nbsp;how is <at>Bo</at> doing?",
                json!([bot_mention(), {"type": "mention", "mentioned": {"id": "29:bo", "name": "Bo", "aadObjectId": "aad-bo"}, "text": "<at>Bo</at>"}]),
            ),
            &[],
        )
        .unwrap();
        let InboundEvent::Message(message) = event else {
            panic!("a message")
        };
        assert_eq!(message.text, "how is Bo doing?");
        assert!(message.is_addressed);
        assert_eq!(message.mentions, vec!["aad-bo".to_string()]);
        assert_eq!(message.author.to_string(), "teams:tenant-1/aad-ana");
        assert_eq!(message.author.display_name.as_deref(), Some("Ana Lima"));
        assert_eq!(message.context.scope, "tenant-1");
        assert_eq!(message.context.channel_id, "19:chan@thread.tacv2");
        assert_eq!(message.context.thread_id.as_deref(), Some("999"));
        assert_eq!(message.context.visibility, Visibility::Public);
        assert_eq!(message.event_id, "19:chan@thread.tacv2;messageid=999|1001");
    }

    #[test]
    fn channel_and_group_messages_without_a_mention_are_not_addressed() {
        for (kind, visibility) in [
            ("channel", Visibility::Public),
            ("groupChat", Visibility::Private),
        ] {
            let InboundEvent::Message(message) =
                to_event(&activity(kind, "just chatting", json!([])), &[]).unwrap()
            else {
                panic!("a message")
            };
            assert!(!message.is_addressed, "{kind}");
            assert_eq!(message.context.visibility, visibility);
        }
    }

    #[test]
    fn typed_commands_become_invocations_with_admin_from_the_aad_id() {
        let admins = vec!["aad-ana".to_string()];
        let event = to_event(&activity("personal", "Link start", json!([])), &admins).unwrap();
        let InboundEvent::Command(command) = event else {
            panic!("a command")
        };
        assert_eq!(command.name, "link");
        assert_eq!(command.args, vec!["start".to_string()]);
        assert!(command.invoker_is_admin);
        assert_eq!(command.context.visibility, Visibility::Dm);

        let InboundEvent::Command(command) = to_event(
            &activity("channel", "<at>Elena</at> whoami", json!([bot_mention()])),
            &[],
        )
        .unwrap() else {
            panic!("a command")
        };
        assert_eq!(command.name, "whoami");
        assert!(!command.invoker_is_admin);

        assert!(matches!(
            to_event(
                &activity("personal", "helpful people exist", json!([])),
                &[]
            )
            .unwrap(),
            InboundEvent::Message(_)
        ));
    }

    #[test]
    fn activities_without_an_aad_id_or_text_are_skipped() {
        let mut anonymous = activity("personal", "hi", json!([]));
        anonymous.from.aad_object_id = None;
        assert_eq!(to_event(&anonymous, &[]).unwrap_err(), Skip::NoAadObjectId);
        assert_eq!(
            to_event(
                &activity("channel", "<at>Elena</at>", json!([bot_mention()])),
                &[]
            )
            .unwrap_err(),
            Skip::EmptyText
        );
    }

    #[test]
    fn a_conversation_without_a_type_is_a_group_conversation_never_a_dm() {
        let mut untyped = activity("personal", "link start", json!([]));
        untyped.conversation.conversation_type = None;
        let InboundEvent::Message(message) = to_event(&untyped, &[]).unwrap() else {
            panic!("not addressed, so a plain message")
        };
        assert_eq!(message.context.visibility, Visibility::Private);
        assert!(
            !message.is_addressed,
            "a group conversation needs a mention"
        );

        let mut mentioned = activity(
            "personal",
            "<at>Elena</at> link start",
            json!([bot_mention()]),
        );
        mentioned.conversation.conversation_type = None;
        let InboundEvent::Command(command) = to_event(&mentioned, &[]).unwrap() else {
            panic!("a command")
        };
        assert_eq!(command.context.visibility, Visibility::Private);

        let mut contradictory = activity("personal", "hi", json!([]));
        contradictory.conversation.is_group = Some(true);
        let InboundEvent::Message(message) = to_event(&contradictory, &[]).unwrap() else {
            panic!("a message")
        };
        assert_eq!(message.context.visibility, Visibility::Private);
    }
}
