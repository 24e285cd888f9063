//! A Discord message → the turn that answers it: what serenity's cache (filled by GUILD_CREATE)
//! knows about it (the guild's roles, whether its channel is a thread), then [`crate::mapping`].
//! The one way in for live messages ([`crate::handler`]) and for messages found after downtime
//! ([`crate::catch_up`]), so both decide alike what is answered.

use crate::mapping::{self, Place, Skip};
use crate::turn::StoredTurn;
use serenity::all::{ChannelId, ChannelType, Context, GuildId, Message};

/// The turn answering `message`, or why it is not answered. `bot_id` is the bot's user id,
/// `listed_channels` the DISCORD_CHANNELS ids; `late` marks a message found after downtime.
pub fn turn_of(
    ctx: &Context,
    message: &Message,
    bot_id: u64,
    listed_channels: &[u64],
    late: bool,
) -> Result<StoredTurn, Skip> {
    let guild_roles = message
        .guild_id
        .map(|guild| roles_of(ctx, guild))
        .unwrap_or_default();
    let place = place_of(ctx, message);
    let inbound = mapping::to_message(message, bot_id, listed_channels, &guild_roles, place)?;
    Ok(StoredTurn {
        message: inbound,
        channel_id: message.channel_id.get(),
        message_id: message.id.get(),
        in_guild: message.guild_id.is_some(),
        late,
    })
}

/// The guild's (role id, name) pairs from the cache (filled by GUILD_CREATE).
pub fn roles_of(ctx: &Context, guild: GuildId) -> Vec<(u64, String)> {
    ctx.cache
        .guild(guild)
        .map(|guild| {
            guild
                .roles
                .values()
                .map(|role| (role.id.get(), role.name.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the message's channel is a thread (then its parent is the channel), from the cache.
pub fn place_of(ctx: &Context, message: &Message) -> Place {
    let Some(guild) = message.guild_id else {
        return Place::default();
    };
    let thread_parent = ctx.cache.guild(guild).and_then(|guild| {
        guild
            .threads
            .iter()
            .find(|thread| thread.id == message.channel_id)
            .filter(|thread| {
                matches!(
                    thread.kind,
                    ChannelType::PublicThread
                        | ChannelType::PrivateThread
                        | ChannelType::NewsThread
                )
            })
            .and_then(|thread| thread.parent_id)
    });
    Place {
        thread_parent: thread_parent.filter(|parent: &ChannelId| *parent != message.channel_id),
    }
}
