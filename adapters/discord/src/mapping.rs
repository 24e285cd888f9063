//! A gateway `MESSAGE_CREATE` → a contract message: who (the Discord user), where (guild, channel,
//! thread, DM or server), whether the companion is addressed (DM, mention, reply to it, or a channel
//! listed in DISCORD_CHANNELS), the text without the bot's mention, and the author's role names.
//! Pure functions over serenity's model types, no I/O.

use serenity::all::{ChannelId, Message, MessageType, RoleId, User};
use whisperengine_contract::{
    ConversationContext, InboundMessage, Platform, PlatformAccount, Visibility,
};

/// Why a message is not handed to the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The bot's own message (Discord echoes it back).
    OwnMessage,
    /// Another bot or a webhook: answering could start a loop.
    FromBot,
    /// A system message (join, pin, boost…), not something a person said.
    NotAMessage,
    /// A server message neither mentioning nor replying to the bot, outside the listed channels.
    NotAddressed,
    /// No text to read: an attachment alone, or the Message Content intent is off.
    NoContent,
}

/// Where a message was said, as the handler resolved it (threads need the channel cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Place {
    /// The thread's parent channel, when the message's channel is a thread.
    pub thread_parent: Option<ChannelId>,
}

/// Reads `message` into an inbound message. `bot_id` is the bot's user id, `listed_channels` the
/// DISCORD_CHANNELS ids, `guild_roles` the guild's (role id, role name) pairs where known.
pub fn to_message(
    message: &Message,
    bot_id: u64,
    listed_channels: &[u64],
    guild_roles: &[(u64, String)],
    place: Place,
) -> Result<InboundMessage, Skip> {
    if message.author.id.get() == bot_id {
        return Err(Skip::OwnMessage);
    }
    if message.author.bot || message.webhook_id.is_some() {
        return Err(Skip::FromBot);
    }
    if !matches!(
        message.kind,
        MessageType::Regular | MessageType::InlineReply
    ) {
        return Err(Skip::NotAMessage);
    }
    let is_mentioned = message.mentions.iter().any(|user| user.id.get() == bot_id);
    let is_reply_to_bot = message
        .referenced_message
        .as_ref()
        .is_some_and(|replied| replied.author.id.get() == bot_id);
    let channel = place.thread_parent.unwrap_or(message.channel_id);
    let is_listed = listed_channels.contains(&channel.get())
        || listed_channels.contains(&message.channel_id.get());
    let is_addressed = match message.guild_id {
        None => true,
        Some(_) => is_mentioned || is_reply_to_bot || is_listed,
    };
    if !is_addressed {
        return Err(Skip::NotAddressed);
    }
    let text = readable_text(message, bot_id);
    if text.is_empty() {
        return Err(Skip::NoContent);
    }
    let mut author = author_account(&message.author);
    if let Some(nick) = message
        .member
        .as_ref()
        .and_then(|member| member.nick.clone())
    {
        author = author.with_display_name(nick);
    }
    let author_roles = message
        .member
        .as_ref()
        .map(|member| role_names(&member.roles, guild_roles))
        .unwrap_or_default();
    Ok(InboundMessage {
        event_id: event_id_of_message(message.id.get()).into(),
        author,
        context: context_of(message, place),
        text,
        is_addressed,
        mentions: message
            .mentions
            .iter()
            .filter(|user| user.id.get() != bot_id)
            .map(|user| user.id.to_string())
            .collect(),
        author_roles,
        inbox: None,
    })
}

/// The dedupe key of a message: a gateway RESUME may replay it, and the core drops the replay.
pub fn event_id_of_message(id: u64) -> String {
    format!("msg:{id}")
}

/// The dedupe key of an interaction.
pub fn event_id_of_interaction(id: u64) -> String {
    format!("interaction:{id}")
}

/// The Discord account of `user`: user ids are global, so the scope is empty; the display name is
/// the global name, else the user name.
pub fn author_account(user: &User) -> PlatformAccount {
    let account = PlatformAccount::new(Platform::Discord, "", user.id.to_string());
    match user
        .global_name
        .as_deref()
        .filter(|name| !name.trim().is_empty())
    {
        Some(name) => account.with_display_name(name.trim()),
        None => account.with_display_name(user.name.clone()),
    }
}

/// Scope = guild id (empty in DMs); channel = the channel, or the thread's parent with the thread
/// as thread id; server channels are public, DMs are DMs.
fn context_of(message: &Message, place: Place) -> ConversationContext {
    match message.guild_id {
        None => ConversationContext::direct(message.channel_id.to_string()),
        Some(guild) => ConversationContext {
            scope: guild.to_string(),
            channel_id: place
                .thread_parent
                .unwrap_or(message.channel_id)
                .to_string(),
            thread_id: place.thread_parent.map(|_| message.channel_id.to_string()),
            visibility: Visibility::Public,
        },
    }
}

/// The content without the bot's mention; other user mentions become `@name` so the text reads as
/// people see it.
fn readable_text(message: &Message, bot_id: u64) -> String {
    let mut text = message
        .content
        .replace(&format!("<@{bot_id}>"), "")
        .replace(&format!("<@!{bot_id}>"), "");
    for user in message
        .mentions
        .iter()
        .filter(|user| user.id.get() != bot_id)
    {
        let name = format!(
            "@{}",
            user.global_name.as_deref().unwrap_or(user.name.as_str())
        );
        text = text
            .replace(&format!("<@{}>", user.id), &name)
            .replace(&format!("<@!{}>", user.id), &name);
    }
    text.trim().to_string()
}

/// The names of `role_ids` among `guild_roles`, in the member's order; `@everyone` is left out.
pub fn role_names(role_ids: &[RoleId], guild_roles: &[(u64, String)]) -> Vec<String> {
    role_ids
        .iter()
        .filter_map(|id| {
            guild_roles
                .iter()
                .find(|(role, _)| *role == id.get())
                .map(|(_, name)| name.clone())
        })
        .filter(|name| name != "@everyone")
        .collect()
}
