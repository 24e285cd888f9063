//! Discord gateway payloads in the shapes Discord documents (API v10): the `d` of READY,
//! GUILD_CREATE, MESSAGE_CREATE, MESSAGE_REACTION_ADD and INTERACTION_CREATE dispatches. Shared by the crate's mapping
//! tests and the fake Discord of `whisperengine-fakes` (which includes this file by path), which
//! the host's end-to-end tests use.
#![allow(dead_code)]

use serde_json::{json, Value};

pub const BOT_ID: &str = "1100000000000000001";
pub const APPLICATION_ID: &str = "1100000000000000001";
pub const GUILD_ID: &str = "1200000000000000001";
pub const GENERAL_CHANNEL: &str = "1300000000000000001";
pub const LISTED_CHANNEL: &str = "1300000000000000002";
pub const MODERATOR_ROLE: &str = "1400000000000000001";
pub const TIMESTAMP: &str = "2026-11-25T10:00:00.000000+00:00";

/// A user object.
pub fn user(id: &str, username: &str, global_name: Option<&str>, is_bot: bool) -> Value {
    let mut user = json!({
        "id": id,
        "username": username,
        "discriminator": "0",
        "global_name": global_name,
        "avatar": null,
        "public_flags": 0,
    });
    if is_bot {
        user["bot"] = json!(true);
    }
    user
}

/// The bot's own user.
pub fn bot_user() -> Value {
    user(BOT_ID, "elena", Some("Elena"), true)
}

/// A guild member object (without `user`, as in MESSAGE_CREATE).
pub fn member(roles: &[&str], nick: Option<&str>) -> Value {
    json!({
        "roles": roles,
        "nick": nick,
        "avatar": null,
        "premium_since": null,
        "joined_at": "2025-01-01T00:00:00.000000+00:00",
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "communication_disabled_until": null,
    })
}

/// A MESSAGE_CREATE in a DM channel.
pub fn dm_message(id: &str, channel: &str, author: Value, content: &str) -> Value {
    json!({
        "id": id,
        "type": 0,
        "channel_id": channel,
        "author": author,
        "content": content,
        "timestamp": TIMESTAMP,
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "flags": 0,
        "components": [],
        "nonce": "1234567890",
    })
}

/// A MESSAGE_CREATE in a guild channel, mentioning `mentions` (user objects).
pub fn guild_message(
    id: &str,
    channel: &str,
    author: Value,
    roles: &[&str],
    content: &str,
    mentions: Vec<Value>,
) -> Value {
    let mut message = dm_message(id, channel, author, content);
    message["guild_id"] = json!(GUILD_ID);
    message["member"] = member(roles, None);
    message["mentions"] = Value::Array(mentions);
    message
}

/// `message` made a reply (type 19) to `replied`.
pub fn as_reply_to(mut message: Value, replied: Value) -> Value {
    message["type"] = json!(19);
    message["message_reference"] = json!({
        "type": 0,
        "message_id": replied["id"],
        "channel_id": replied["channel_id"],
        "guild_id": GUILD_ID,
    });
    message["referenced_message"] = replied;
    message
}

/// Where a reaction was added.
pub enum Reacted<'a> {
    /// In a DM channel: no guild, member or `message_author_id` (Discord sends them in servers).
    Dm { channel: &'a str },
    /// In the guild's channel, on a message written by `message_author` (a user id).
    Guild {
        channel: &'a str,
        message_author: &'a str,
    },
}

/// A MESSAGE_REACTION_ADD of the unicode `emoji` by `reactor` (a user object) on `message_id`.
pub fn reaction_add(message_id: &str, reactor: Value, reacted: Reacted<'_>, emoji: &str) -> Value {
    let mut reaction = json!({
        "type": 0,
        "user_id": reactor["id"],
        "message_id": message_id,
        "emoji": { "id": null, "name": emoji },
        "burst": false,
        "burst_colors": [],
    });
    match reacted {
        Reacted::Dm { channel } => reaction["channel_id"] = json!(channel),
        Reacted::Guild {
            channel,
            message_author,
        } => {
            let mut member = member(&[], None);
            member["user"] = reactor;
            reaction["channel_id"] = json!(channel);
            reaction["guild_id"] = json!(GUILD_ID);
            reaction["member"] = member;
            reaction["message_author_id"] = json!(message_author);
        }
    }
    reaction
}

/// A slash command option of type `kind` (3 string, 4 integer, 5 boolean) with `value`.
pub fn option(name: &str, kind: u8, value: Value) -> Value {
    json!({ "name": name, "type": kind, "value": value })
}

/// A subcommand option holding `options`.
pub fn subcommand(name: &str, options: Vec<Value>) -> Value {
    json!({ "name": name, "type": 1, "options": options })
}

/// Where an interaction was invoked.
pub enum Invoked<'a> {
    /// In a DM channel.
    Dm { channel: &'a str },
    /// In the guild's channel, by a member with these permissions (a decimal string) and roles.
    Guild {
        channel: &'a str,
        permissions: &'a str,
        roles: &'a [&'a str],
    },
}

/// An INTERACTION_CREATE of type 2 (application command).
pub fn command_interaction(
    id: &str,
    token: &str,
    invoker: Value,
    invoked: Invoked<'_>,
    name: &str,
    options: Vec<Value>,
) -> Value {
    let mut interaction = json!({
        "id": id,
        "application_id": APPLICATION_ID,
        "type": 2,
        "data": {
            "id": format!("15000000000000000{:02}", name.len()),
            "name": name,
            "type": 1,
            "options": options,
        },
        "token": token,
        "version": 1,
        "app_permissions": "562949953421311",
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": 26214400,
    });
    match invoked {
        Invoked::Dm { channel } => {
            interaction["channel_id"] = json!(channel);
            interaction["channel"] = json!({ "id": channel, "type": 1, "flags": 0 });
            interaction["user"] = invoker;
            interaction["context"] = json!(1);
            interaction["authorizing_integration_owners"] = json!({ "0": "0" });
        }
        Invoked::Guild {
            channel,
            permissions,
            roles,
        } => {
            let mut member = member(roles, None);
            member["user"] = invoker;
            member["permissions"] = json!(permissions);
            interaction["guild_id"] = json!(GUILD_ID);
            interaction["guild_locale"] = json!("en-US");
            interaction["channel_id"] = json!(channel);
            interaction["channel"] = json!({ "id": channel, "type": 0, "guild_id": GUILD_ID, "name": "general", "flags": 0 });
            interaction["member"] = member;
            interaction["context"] = json!(0);
            interaction["authorizing_integration_owners"] = json!({ "0": GUILD_ID });
        }
    }
    interaction
}

/// READY for the bot, in one guild, on shard 0 of 1.
pub fn ready(session_id: &str, resume_gateway_url: &str) -> Value {
    let mut user = bot_user();
    user["verified"] = json!(true);
    user["mfa_enabled"] = json!(false);
    user["flags"] = json!(0);
    json!({
        "v": 10,
        "user": user,
        "guilds": [{ "id": GUILD_ID, "unavailable": true }],
        "session_id": session_id,
        "resume_gateway_url": resume_gateway_url,
        "shard": [0, 1],
        "application": { "id": APPLICATION_ID, "flags": 8953856 },
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "geo_ordered_rtc_regions": ["rotterdam"],
        "session_type": "normal",
        "auth_session_id_hash": "aGFzaA==",
    })
}

/// A role object.
pub fn role(id: &str, name: &str, position: u16, permissions: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "color": 0,
        "colors": { "primary_color": 0, "secondary_color": null, "tertiary_color": null },
        "hoist": false,
        "icon": null,
        "unicode_emoji": null,
        "position": position,
        "permissions": permissions,
        "managed": false,
        "mentionable": false,
        "flags": 0,
    })
}

/// A text channel object of the guild.
pub fn text_channel(id: &str, name: &str, position: u16) -> Value {
    json!({
        "id": id,
        "type": 0,
        "guild_id": GUILD_ID,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "parent_id": null,
        "nsfw": false,
        "topic": null,
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "flags": 0,
    })
}

/// GUILD_CREATE for the guild: @everyone and a "moderator" role, two text channels.
pub fn guild_create() -> Value {
    let mut guild = json!({
        "id": GUILD_ID,
        "name": "Test Guild",
        "icon": null,
        "splash": null,
        "discovery_splash": null,
        "owner_id": "1000000000000000999",
        "afk_channel_id": null,
        "afk_timeout": 300,
        "verification_level": 1,
        "default_message_notifications": 1,
        "explicit_content_filter": 2,
        "roles": [
            role(GUILD_ID, "@everyone", 0, "1071698660929"),
            role(MODERATOR_ROLE, "moderator", 1, "1099511627775"),
        ],
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": GENERAL_CHANNEL,
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "max_members": 500000,
        "vanity_url_code": null,
        "description": null,
        "banner": null,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
    });
    let rest = json!({
        "public_updates_channel_id": null,
        "nsfw_level": 0,
        "stickers": [],
        "premium_progress_bar_enabled": false,
        "safety_alerts_channel_id": null,
        "joined_at": "2025-01-01T00:00:00.000000+00:00",
        "large": false,
        "unavailable": false,
        "member_count": 3,
        "voice_states": [],
        "members": [],
        "channels": [
            text_channel(GENERAL_CHANNEL, "general", 0),
            text_channel(LISTED_CHANNEL, "companion", 1),
        ],
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "embedded_activities": [],
        "lazy": true,
    });
    if let (Some(guild), Value::Object(rest)) = (guild.as_object_mut(), rest) {
        guild.extend(rest);
    }
    guild
}
