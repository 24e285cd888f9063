//! Maps verified Slack payloads to contract events, and says where the answer goes. Pure functions,
//! no I/O: a push event (`message` in a DM, `app_mention` in a channel) becomes an
//! [`InboundMessage`]; a slash command becomes a [`CommandInvocation`]; a 👍/👎 `reaction_added` on
//! one of the companion's own messages becomes a silent `feedback` invocation.
//!
//! Identity is (team id, user id). A message's event id is `slack:msg:<channel>:<ts>`: Slack's
//! `ts` is unique within a channel, so every delivery of one message (a retry, the `message.im` and
//! `app_mention` of the same words, a catch-up read from history) has one id. Reactions are
//! `slack:<event_id>` (the Events API's id, the same on every retry) and slash commands
//! `slack:cmd:<trigger_id>`.

use slack_morphism::prelude::{
    SlackCommandEvent, SlackEventCallbackBody, SlackPushEventCallback, SlackReactionsItem,
    ValueStruct,
};
use url::Url;
use whisperengine_contract::{
    CommandInvocation, ConversationContext, InboundMessage, Platform, PlatformAccount, Visibility,
};

/// Command names recognised as the first word of a DM or a mention, so "say `link ABCD-EF2345` on
/// your other account" works on Slack as typed, not only as `/whisper link …`.
pub const COMMAND_NAMES: [&str; 10] = [
    "help", "whoami", "link", "unlink", "memory", "forget", "prefs", "privacy", "sync", "admin",
];
/// Longer messages starting with a command word are conversation ("memory is a funny thing, …").
const MAX_TYPED_COMMAND_WORDS: usize = 6;

/// Why a payload is not handed to the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// An event type the connector does not handle (channel changes, removed reactions, ...).
    Unhandled(String),
    /// A message with a subtype: bot messages, edits, deletions, joins, file shares, ...
    Subtype(String),
    /// Posted by a bot (including this one).
    FromBot,
    /// Posted by the companion's own bot user.
    OwnMessage,
    /// An edited mention (Slack sends it again; the first version was answered).
    Edited,
    /// A channel message that is not a DM (mentions arrive as `app_mention`).
    NotDirect,
    /// No user or channel on the event.
    Incomplete,
    /// Nothing left after removing the mention.
    EmptyText,
    /// A slash command other than SLACK_COMMAND.
    UnknownCommand(String),
    /// A reaction on something other than the companion's own message (another user's message,
    /// a file), or while the companion's user id is unknown.
    NotOnOwnMessage,
    /// A reaction other than 👍/👎 (the emoji name, without skin tone).
    OtherReaction(String),
}

/// The `feedback` score a 👍 reaction gives.
pub const THUMBS_UP_SCORE: &str = "5";
/// The `feedback` score a 👎 reaction gives.
pub const THUMBS_DOWN_SCORE: &str = "1";
/// The comment stored with a reaction's feedback, telling it apart from a typed `feedback`.
pub const REACTION_COMMENT: &str = "(reaction)";

/// Where and how to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTarget {
    pub channel: String,
    /// The person who spoke (ephemeral answers go to them).
    pub user: String,
    /// The thread to answer in, if any.
    pub thread_ts: Option<String>,
    pub is_dm: bool,
    /// Answers are ephemeral whatever the reply says (slash commands).
    pub always_ephemeral: bool,
    /// A slash command's `response_url` (answers where the bot is not in the channel).
    pub response_url: Option<Url>,
    /// The answered message's event id, carried in every reply's metadata so a reply already
    /// posted can be found again (`None` for slash commands).
    pub reply_key: Option<String>,
    /// The answered message's `ts`: replies to it are newer.
    pub message_ts: Option<String>,
}

/// A push event as a message for the core. `bot_user_id` is the companion's own user (from
/// `auth.test`); `reply_in_thread` starts a thread on unthreaded messages.
pub fn message_from_push(
    callback: &SlackPushEventCallback,
    bot_user_id: Option<&str>,
    reply_in_thread: bool,
) -> Result<(InboundMessage, ReplyTarget), Skip> {
    let team = callback.team_id.value().as_str();
    let (user, channel, text, ts, thread_ts, channel_type) = match &callback.event {
        SlackEventCallbackBody::Message(event) => {
            if let Some(subtype) = &event.subtype {
                return Err(Skip::Subtype(format!("{subtype:?}")));
            }
            if event.message.is_some()
                || event.previous_message.is_some()
                || event.deleted_ts.is_some()
            {
                return Err(Skip::Edited);
            }
            if event.sender.bot_id.is_some() || event.sender.bot_profile.is_some() {
                return Err(Skip::FromBot);
            }
            let channel_type = event
                .origin
                .channel_type
                .as_ref()
                .map(|t| t.value().as_str());
            if channel_type != Some("im") {
                return Err(Skip::NotDirect);
            }
            (
                event.sender.user.as_ref().map(|u| u.value().clone()),
                event.origin.channel.as_ref().map(|c| c.value().clone()),
                event.content.as_ref().and_then(|c| c.text.clone()),
                event.origin.ts.value().clone(),
                event.origin.thread_ts.as_ref().map(|t| t.value().clone()),
                channel_type,
            )
        }
        SlackEventCallbackBody::AppMention(event) => {
            if event.edited.is_some() {
                return Err(Skip::Edited);
            }
            (
                Some(event.user.value().clone()),
                Some(event.channel.value().clone()),
                event.content.text.clone(),
                event.origin.ts.value().clone(),
                event.origin.thread_ts.as_ref().map(|t| t.value().clone()),
                event
                    .origin
                    .channel_type
                    .as_ref()
                    .map(|t| t.value().as_str()),
            )
        }
        other => return Err(Skip::Unhandled(event_kind(other))),
    };
    let (Some(user), Some(channel)) = (user, channel) else {
        return Err(Skip::Incomplete);
    };
    if bot_user_id == Some(user.as_str()) {
        return Err(Skip::OwnMessage);
    }
    let (text, mentions) = plain_text(text.as_deref().unwrap_or_default(), bot_user_id);
    if text.is_empty() {
        return Err(Skip::EmptyText);
    }
    let visibility = visibility_of(&channel, channel_type);
    let is_dm = visibility == Visibility::Dm;
    let event_id = message_event_id(&channel, &ts);
    let message = InboundMessage {
        event_id: event_id.clone().into(),
        author: PlatformAccount::new(Platform::Slack, team, user.clone()),
        context: ConversationContext {
            scope: team.to_string(),
            channel_id: channel.clone(),
            thread_id: thread_ts.clone(),
            visibility,
        },
        text,
        is_addressed: true,
        mentions,
        author_roles: Vec::new(),
        inbox: None,
    };
    let reply_thread = thread_ts.or_else(|| reply_in_thread.then(|| ts.clone()));
    let target = ReplyTarget {
        channel,
        user,
        thread_ts: reply_thread,
        is_dm,
        always_ephemeral: false,
        response_url: None,
        reply_key: Some(event_id),
        message_ts: Some(ts),
    };
    Ok((message, target))
}

/// The event id of the message `ts` in `channel`, however it reached the host.
pub fn message_event_id(channel: &str, ts: &str) -> String {
    format!("slack:msg:{channel}:{ts}")
}

/// A slash command as a command invocation (admin flag and display name are the caller's to fill).
/// `command` is SLACK_COMMAND; `/whisper link start` becomes `link` with `["start"]`, and an empty
/// `/whisper` is `help`.
pub fn command_from_slash(
    event: &SlackCommandEvent,
    command: &str,
) -> Result<(CommandInvocation, ReplyTarget), Skip> {
    let invoked = event.command.value();
    if !invoked.eq_ignore_ascii_case(command) {
        return Err(Skip::UnknownCommand(invoked.clone()));
    }
    let team = event.team_id.value().clone();
    let user = event.user_id.value().clone();
    let channel = event.channel_id.value().clone();
    let text = event.text.clone().unwrap_or_default();
    let (name, args) = whisperengine_contract::CommandInvocation::parse_text(&text)
        .unwrap_or_else(|| ("help".to_string(), Vec::new()));
    let channel_type = match event.channel_name.as_deref() {
        Some("directmessage") => Some("im"),
        Some("privategroup") => Some("group"),
        _ => None,
    };
    let visibility = visibility_of(&channel, channel_type);
    let invocation = CommandInvocation {
        event_id: format!("slack:cmd:{}", event.trigger_id.value()).into(),
        invoker: PlatformAccount::new(Platform::Slack, team.clone(), user.clone()),
        context: ConversationContext {
            scope: team,
            channel_id: channel.clone(),
            thread_id: None,
            visibility,
        },
        name,
        args,
        invoker_is_admin: false,
    };
    let target = ReplyTarget {
        channel,
        user,
        thread_ts: None,
        is_dm: visibility == Visibility::Dm,
        always_ephemeral: true,
        response_url: Some(event.response_url.value().clone()),
        reply_key: None,
        message_ts: None,
    };
    Ok((invocation, target))
}

/// A `reaction_added` event as a `feedback` invocation (admin flag and display name are the
/// caller's to fill; the core's answer is for the caller to drop, reactions are silent). Only 👍
/// (`+1`, `thumbsup`, any skin tone) → score 5 and 👎 (`-1`, `thumbsdown`) → score 1, only on a
/// message posted by `bot_user_id`, and not by the bot itself; the event id is `slack:<event_id>`,
/// so a retried event is dropped by the core.
pub fn feedback_from_reaction(
    callback: &SlackPushEventCallback,
    bot_user_id: Option<&str>,
) -> Result<CommandInvocation, Skip> {
    let SlackEventCallbackBody::ReactionAdded(event) = &callback.event else {
        return Err(Skip::Unhandled(event_kind(&callback.event)));
    };
    let Some(bot_user_id) = bot_user_id else {
        return Err(Skip::NotOnOwnMessage);
    };
    if event.item_user.as_ref().map(|u| u.value().as_str()) != Some(bot_user_id) {
        return Err(Skip::NotOnOwnMessage);
    }
    let SlackReactionsItem::Message(item) = &event.item else {
        return Err(Skip::NotOnOwnMessage);
    };
    let user = event.user.value().clone();
    if user == bot_user_id {
        return Err(Skip::OwnMessage);
    }
    let score = reaction_score(event.reaction.value())?;
    let Some(channel) = item.origin.channel.as_ref().map(|c| c.value().clone()) else {
        return Err(Skip::Incomplete);
    };
    let team = callback.team_id.value().clone();
    let channel_type = item
        .origin
        .channel_type
        .as_ref()
        .map(|t| t.value().as_str());
    Ok(CommandInvocation {
        event_id: format!("slack:{}", callback.event_id.value()).into(),
        invoker: PlatformAccount::new(Platform::Slack, team.clone(), user),
        context: ConversationContext {
            scope: team,
            visibility: visibility_of(&channel, channel_type),
            channel_id: channel,
            thread_id: item.origin.thread_ts.as_ref().map(|t| t.value().clone()),
        },
        name: "feedback".to_string(),
        args: vec![score.to_string(), REACTION_COMMENT.to_string()],
        invoker_is_admin: false,
    })
}

/// The feedback score of a reaction name (`+1`, `thumbsup::skin-tone-3`, `-1`, ...).
fn reaction_score(reaction: &str) -> Result<&'static str, Skip> {
    let emoji = reaction.split("::").next().unwrap_or(reaction);
    match emoji {
        "+1" | "thumbsup" => Ok(THUMBS_UP_SCORE),
        "-1" | "thumbsdown" => Ok(THUMBS_DOWN_SCORE),
        other => Err(Skip::OtherReaction(other.to_string())),
    }
}

/// A DM or mention that is a typed command (`link ABCD-EF2345`, `whoami`, `sync status`), as an
/// invocation (admin flag to be filled by the caller); `None` for conversation.
pub fn typed_command(message: &InboundMessage) -> Option<CommandInvocation> {
    let words: Vec<&str> = message.text.split_whitespace().collect();
    let first = words.first()?.trim_start_matches('/').to_ascii_lowercase();
    if !COMMAND_NAMES.contains(&first.as_str()) || words.len() > MAX_TYPED_COMMAND_WORDS {
        return None;
    }
    let (name, args) = CommandInvocation::parse_text(&message.text)?;
    Some(CommandInvocation {
        event_id: message.event_id.clone(),
        invoker: message.author.clone(),
        context: message.context.clone(),
        name,
        args,
        invoker_is_admin: false,
    })
}

/// Who can read a channel: `D…`/`im` is a DM, `G…`/`mpim`/`group` private, `C…` public.
pub fn visibility_of(channel: &str, channel_type: Option<&str>) -> Visibility {
    match channel_type {
        Some("im") => return Visibility::Dm,
        Some("mpim" | "group" | "private") => return Visibility::Private,
        Some("channel") => return Visibility::Public,
        _ => {}
    }
    match channel.chars().next() {
        Some('D') => Visibility::Dm,
        Some('G') => Visibility::Private,
        _ => Visibility::Public,
    }
}

/// Slack's message text as plain text for the core: the bot's own mention removed, other user
/// mentions as `@U123` (listed in the second value), channels as `#name`, `<!here>` as `@here`,
/// links as their label and URL, and `&amp;`/`&lt;`/`&gt;` unescaped.
pub fn plain_text(text: &str, bot_user_id: Option<&str>) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut mentions = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let inner = &after[..close];
        rest = &after[close + 1..];
        let (target, label) = match inner.split_once('|') {
            Some((target, label)) => (target, Some(label)),
            None => (inner, None),
        };
        if let Some(user) = target.strip_prefix('@') {
            if Some(user) == bot_user_id {
                continue;
            }
            mentions.push(user.to_string());
            out.push('@');
            out.push_str(label.unwrap_or(user));
        } else if let Some(channel) = target.strip_prefix('#') {
            out.push('#');
            out.push_str(label.unwrap_or(channel));
        } else if let Some(special) = target.strip_prefix('!') {
            let name = special.split('^').next().unwrap_or(special);
            out.push('@');
            out.push_str(label.unwrap_or(name));
        } else {
            match label {
                Some(label) if label != target => {
                    out.push_str(&format!("{label} ({target})"));
                }
                _ => out.push_str(target),
            }
        }
    }
    out.push_str(rest);
    let unescaped = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    (unescaped.trim().to_string(), mentions)
}

/// The event's `type`, for logs.
fn event_kind(body: &SlackEventCallbackBody) -> String {
    serde_json::to_value(body)
        .ok()
        .and_then(|value| {
            value
                .get("type")
                .and_then(|t| t.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
