//! A gateway `MESSAGE_REACTION_ADD` → the core's `feedback` command: 👍 (any skin tone) or ❤️ on
//! one of the companion's own messages is a 5, 👎 (any skin tone) a 1. Reactions by the bot itself
//! or other bots, on anybody else's message, or with any other emoji are not feedback. Pure
//! functions over serenity's model types, no I/O: the handler resolves who wrote the reacted-to
//! message (the event's `message_author_id`, or a fetch of the message) before [`to_feedback`].

use crate::mapping::author_account;
use serenity::all::{Reaction, ReactionType, UserId};
use whisperengine_contract::{
    CommandInvocation, ConversationContext, Platform, PlatformAccount, Visibility,
};

/// The core command a feedback reaction becomes.
pub const FEEDBACK_COMMAND: &str = "feedback";

/// The comment stored with a feedback given by reaction (so it can be told from a typed one).
pub const REACTION_COMMENT: &str = "(reaction)";

/// The score of a thumbs up (or a heart).
pub const SCORE_UP: u8 = 5;

/// The score of a thumbs down.
pub const SCORE_DOWN: u8 = 1;

/// Why a reaction is not handed to the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactionSkip {
    /// The bot reacted itself.
    OwnReaction,
    /// Another bot reacted: only people give feedback.
    FromBot,
    /// Neither 👍, ❤️ nor 👎 (custom server emoji included).
    NotFeedback,
    /// The reacted-to message is not one the companion wrote.
    NotOnBotMessage,
}

/// The score `emoji` stands for: 👍/👍🏻…👍🏿 and ❤️ → 5, 👎/👎🏻…👎🏿 → 1, anything else → `None`.
pub fn score_of(emoji: &ReactionType) -> Option<u8> {
    let ReactionType::Unicode(text) = emoji else {
        return None;
    };
    // Clients may add the emoji presentation selector (U+FE0F); it does not change the meaning.
    let bare: String = text.chars().filter(|c| *c != '\u{FE0F}').collect();
    let mut chars = bare.chars();
    let base = chars.next()?;
    let rest: Vec<char> = chars.collect();
    let is_skin_tone = |c: &char| ('\u{1F3FB}'..='\u{1F3FF}').contains(c);
    let has_no_modifier_or_a_tone = match rest.as_slice() {
        [] => true,
        [tone] => is_skin_tone(tone),
        _ => false,
    };
    match base {
        '\u{1F44D}' if has_no_modifier_or_a_tone => Some(SCORE_UP),
        '\u{1F44E}' if has_no_modifier_or_a_tone => Some(SCORE_DOWN),
        '\u{2764}' if rest.is_empty() => Some(SCORE_UP),
        _ => None,
    }
}

/// The feedback score of `reaction` when it may be feedback, before knowing whose message it is on:
/// a person (not the bot `bot_id`, not another bot) reacting with a feedback emoji. Lets the
/// handler skip everything else without fetching the message.
pub fn feedback_score(reaction: &Reaction, bot_id: u64) -> Result<u8, ReactionSkip> {
    if reaction.user_id.map(UserId::get) == Some(bot_id) {
        return Err(ReactionSkip::OwnReaction);
    }
    let is_bot = reaction
        .member
        .as_ref()
        .is_some_and(|member| member.user.bot);
    if is_bot {
        return Err(ReactionSkip::FromBot);
    }
    score_of(&reaction.emoji).ok_or(ReactionSkip::NotFeedback)
}

/// Reads `reaction` on a message written by `message_author` into the core's `feedback <score>
/// (reaction)` command. The event id names message, user and emoji, so a replayed event (gateway
/// RESUME), or removing and adding the same reaction again, counts once.
pub fn to_feedback(
    reaction: &Reaction,
    bot_id: u64,
    message_author: UserId,
) -> Result<CommandInvocation, ReactionSkip> {
    let score = feedback_score(reaction, bot_id)?;
    if message_author.get() != bot_id {
        return Err(ReactionSkip::NotOnBotMessage);
    }
    // Discord always sends `user_id` on the gateway; without it there is nobody to credit.
    let Some(user_id) = reaction.user_id else {
        return Err(ReactionSkip::FromBot);
    };
    Ok(CommandInvocation {
        event_id: event_id_of_reaction(reaction, user_id).into(),
        invoker: reactor_account(reaction, user_id),
        context: context_of(reaction),
        name: FEEDBACK_COMMAND.to_string(),
        args: vec![score.to_string(), REACTION_COMMENT.to_string()],
        invoker_is_admin: false,
    })
}

/// `reaction:<message id>:<user id>:<emoji>`.
pub fn event_id_of_reaction(reaction: &Reaction, user_id: UserId) -> String {
    let emoji = match &reaction.emoji {
        ReactionType::Unicode(text) => text.clone(),
        ReactionType::Custom { id, .. } => id.to_string(),
        other => other.to_string(),
    };
    format!("reaction:{}:{user_id}:{emoji}", reaction.message_id)
}

/// The reacting account: with its names when the event carries the member (in servers), else the
/// bare user id (DMs), which leaves the stored display name as it is.
fn reactor_account(reaction: &Reaction, user_id: UserId) -> PlatformAccount {
    match reaction
        .member
        .as_ref()
        .filter(|member| member.user.id == user_id)
    {
        Some(member) => {
            let account = author_account(&member.user);
            match member.nick.clone() {
                Some(nick) => account.with_display_name(nick),
                None => account,
            }
        }
        None => PlatformAccount::new(Platform::Discord, "", user_id.to_string()),
    }
}

/// Scope = guild id in servers (public), a DM otherwise; the channel is where the message is.
fn context_of(reaction: &Reaction) -> ConversationContext {
    match reaction.guild_id {
        None => ConversationContext::direct(reaction.channel_id.to_string()),
        Some(guild) => ConversationContext {
            scope: guild.to_string(),
            channel_id: reaction.channel_id.to_string(),
            thread_id: None,
            visibility: Visibility::Public,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unicode(text: &str) -> ReactionType {
        ReactionType::Unicode(text.to_string())
    }

    #[test]
    fn thumbs_in_every_skin_tone_and_a_heart_are_scores_other_emoji_are_not() {
        for up in ["👍", "👍🏻", "👍🏼", "👍🏽", "👍🏾", "👍🏿", "👍\u{FE0F}", "❤️", "❤"]
        {
            assert_eq!(score_of(&unicode(up)), Some(5), "{up}");
        }
        for down in ["👎", "👎🏻", "👎🏿"] {
            assert_eq!(score_of(&unicode(down)), Some(1), "{down}");
        }
        for other in ["🎉", "😂", "👍👍", "👍x", "💔", "🩷", ""] {
            assert_eq!(score_of(&unicode(other)), None, "{other}");
        }
        let custom = ReactionType::Custom {
            animated: false,
            id: serenity::all::EmojiId::new(41771983429993937),
            name: Some("thumbsup".into()),
        };
        assert_eq!(
            score_of(&custom),
            None,
            "a server's own emoji is not feedback"
        );
    }
}
