//! Catch-up after downtime: once per process start, the messages addressed to the companion that
//! arrived within CATCH_UP_WINDOW while no process was running are answered once, oldest first,
//! marked late.
//!
//! Where it looks: the conversations the core names as recent ([`EventHandler::recent_conversations`];
//! a bot cannot list its DM channels) and the DISCORD_CHANNELS, at most [`MAX_CHANNELS`]. One
//! `GET /channels/{id}/messages?after=…&limit=50` per channel, [`REQUEST_GAP`] apart; a channel
//! that cannot be read is skipped, and a 429 ends the reading (what was read is still answered).
//! At most [`MAX_ANSWERS`] late answers.
//! Only messages older than the READY are kept: later ones come through the gateway.
//!
//! What it answers is decided as for live messages ([`lookup::turn_of`], which is
//! [`crate::mapping`]), and answered the live way ([`TurnRunner::hand_over`]: the durable inbox,
//! then the turn), one message after the other. A message already answered (live, or by an earlier
//! catch-up) is dropped by the core as a duplicate: its dedupe key is the message id.

use crate::in_flight::InFlight;
use crate::lookup;
use crate::turn::{StoredTurn, TurnRunner};
use serenity::all::{Channel, ChannelId, Context, GuildId, Message, MessageId, MessagePagination};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{oneshot, watch};
use whisperengine_contract::{EventHandler, Inbox, Platform, RecentConversation, Visibility};

/// The most channels one catch-up reads.
pub const MAX_CHANNELS: usize = 50;
/// The most messages read per channel (one request; Discord's maximum page).
pub const MESSAGES_PER_CHANNEL: u8 = 50;
/// The most late messages one catch-up answers (the oldest first).
pub const MAX_ANSWERS: usize = 200;
/// Counter of late messages handed over to be answered.
pub const CAUGHT_UP_METRIC: &str = "whisperengine_discord_caught_up_total";
/// Least time between two history requests.
pub const REQUEST_GAP: Duration = Duration::from_millis(250);
/// How long one late message's turn is awaited before the next is handed over.
const TURN_WAIT: Duration = Duration::from_secs(120);
/// How long catch-up waits for the GUILD_CREATE of the servers READY named (their channels and
/// roles come with it).
const CACHE_WAIT: Duration = Duration::from_secs(5);
/// Discord's epoch (2015-01-01T00:00:00Z) in milliseconds since the Unix epoch.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// A channel catch-up reads, and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversation {
    pub channel: u64,
    pub kind: ConversationKind,
}

/// Whether a channel is a DM or in a server. Discord's message history does not say (its
/// messages carry no guild id), so it comes from where the channel is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationKind {
    Direct,
    Guild(u64),
    /// A DISCORD_CHANNELS channel: its server is looked up before reading it.
    Listed,
}

/// The channels to read: the recent conversations (most recent first), then the listed channels,
/// each once, at most [`MAX_CHANNELS`].
pub fn conversations_to_read(recent: &[RecentConversation], listed: &[u64]) -> Vec<Conversation> {
    let known = recent.iter().filter_map(|conversation| {
        let channel = conversation.channel_id.parse::<u64>().ok()?;
        let kind = if conversation.scope.is_empty() {
            (conversation.visibility == Visibility::Dm).then_some(ConversationKind::Direct)?
        } else {
            ConversationKind::Guild(conversation.scope.parse().ok()?)
        };
        Some(Conversation { channel, kind })
    });
    let listed = listed.iter().map(|channel| Conversation {
        channel: *channel,
        kind: ConversationKind::Listed,
    });
    let mut conversations: Vec<Conversation> = Vec::new();
    for conversation in known.chain(listed) {
        if conversation.channel == 0
            || conversations
                .iter()
                .any(|seen| seen.channel == conversation.channel)
        {
            continue;
        }
        conversations.push(conversation);
        if conversations.len() == MAX_CHANNELS {
            break;
        }
    }
    conversations
}

/// The smallest message id Discord gives at `time` (ids start with their creation time).
pub fn snowflake_at(time: SystemTime) -> u64 {
    let millis = time
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_millis() as u64)
        .unwrap_or(0);
    millis.saturating_sub(DISCORD_EPOCH_MS) << 22
}

/// The turns to answer among `found`, oldest first: in the window (`after` < id < `before`),
/// decided by `turn_of` exactly as live messages are.
pub fn late_turns(
    found: Vec<Message>,
    after: u64,
    before: u64,
    turn_of: impl Fn(&Message) -> Option<StoredTurn>,
) -> Vec<StoredTurn> {
    let mut turns: Vec<StoredTurn> = found
        .iter()
        .filter(|message| (after.saturating_add(1)..before).contains(&message.id.get()))
        .filter_map(turn_of)
        .collect();
    turns.sort_by_key(|turn| turn.message_id);
    turns.dedup_by_key(|turn| turn.message_id);
    turns
}

/// What one catch-up needs from the connector.
pub struct CatchUp {
    /// CATCH_UP_WINDOW (not zero).
    pub window: Duration,
    /// DISCORD_CHANNELS.
    pub listed_channels: Vec<u64>,
    pub core: Arc<dyn EventHandler>,
    pub runner: TurnRunner,
    pub inbox: Option<Arc<dyn Inbox>>,
    pub in_flight: Arc<InFlight>,
    /// Turns true when shutdown begins.
    pub stopping: watch::Receiver<bool>,
}

/// Why reading a channel's history ended.
enum Read {
    Messages(Vec<Message>),
    Skipped,
    /// Discord answered 429: no more history requests.
    RateLimited,
}

impl CatchUp {
    /// Reads the window before `ready_at` (when the gateway became ready) and answers what it
    /// finds; returns early when shutdown begins.
    pub async fn run(mut self, ctx: Context, bot_id: u64, ready_at: SystemTime) {
        let after = snowflake_at(ready_at.checked_sub(self.window).unwrap_or(UNIX_EPOCH));
        let before = snowflake_at(ready_at);
        if !self.pause(Duration::ZERO).await {
            return;
        }
        self.wait_for_guilds(&ctx).await;
        let recent = self
            .core
            .recent_conversations(Platform::Discord, MAX_CHANNELS)
            .await;
        let conversations = conversations_to_read(&recent, &self.listed_channels);
        let mut turns = Vec::new();
        let mut requests = 0_usize;
        for conversation in &conversations {
            if requests > 0 && !self.pause(REQUEST_GAP).await {
                return;
            }
            let Some(guild) = self.guild_of(&ctx, *conversation).await else {
                continue;
            };
            requests += 1;
            let mut messages = match read_history(&ctx, conversation.channel, after).await {
                Read::Messages(messages) => messages,
                Read::Skipped => continue,
                Read::RateLimited => break,
            };
            for message in &mut messages {
                // Discord's history leaves the guild id out; the live path reads it.
                message.guild_id = guild;
            }
            let listed = &self.listed_channels;
            turns.extend(late_turns(messages, after, before, |message| {
                lookup::turn_of(&ctx, message, bot_id, listed, true).ok()
            }));
        }
        turns.sort_by_key(|turn| turn.message_id);
        turns.truncate(MAX_ANSWERS);
        tracing::info!(
            channels = conversations.len(),
            requests,
            late = turns.len(),
            "Discord catch-up read the messages sent while no process was running"
        );
        for turn in turns {
            if *self.stopping.borrow() {
                return;
            }
            let (finished, answered) = oneshot::channel();
            {
                let _in_flight = self.in_flight.enter();
                self.runner
                    .hand_over(self.inbox.as_ref(), turn, Some(finished))
                    .await;
            }
            metrics::counter!(CAUGHT_UP_METRIC).increment(1);
            let mut stopping = self.stopping.clone();
            tokio::select! {
                _ = tokio::time::timeout(TURN_WAIT, answered) => {}
                _ = stopping.wait_for(|stopping| *stopping) => return,
            }
        }
    }

    /// Waits `gap`; false when shutdown began (then catch-up ends).
    async fn pause(&mut self, gap: Duration) -> bool {
        if *self.stopping.borrow() {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep(gap) => true,
            _ = self.stopping.wait_for(|stopping| *stopping) => false,
        }
    }

    /// Waits (up to [`CACHE_WAIT`]) until every server READY named has arrived in the cache.
    async fn wait_for_guilds(&mut self, ctx: &Context) {
        let deadline = tokio::time::Instant::now() + CACHE_WAIT;
        while ctx.cache.unavailable_guilds().len() > 0 && tokio::time::Instant::now() < deadline {
            if !self.pause(Duration::from_millis(100)).await {
                return;
            }
        }
    }

    /// The server of `conversation` (`Some(None)`: a DM); `None` when it cannot be known, then
    /// the channel is not read.
    async fn guild_of(&self, ctx: &Context, conversation: Conversation) -> Option<Option<GuildId>> {
        let channel = ChannelId::new(conversation.channel);
        match conversation.kind {
            ConversationKind::Direct => Some(None),
            ConversationKind::Guild(guild) => Some(Some(GuildId::new(guild.max(1)))),
            ConversationKind::Listed => {
                if let Some(known) = cached_guild_of(ctx, channel) {
                    return Some(Some(known));
                }
                match ctx.http.get_channel(channel).await {
                    Ok(Channel::Guild(found)) => Some(Some(found.guild_id)),
                    Ok(Channel::Private(_)) => Some(None),
                    Ok(_) => None,
                    Err(error) => {
                        tracing::debug!(%error, %channel, "listed Discord channel not found; not caught up");
                        None
                    }
                }
            }
        }
    }
}

/// The server whose channels or threads in serenity's cache include `channel`.
fn cached_guild_of(ctx: &Context, channel: ChannelId) -> Option<GuildId> {
    ctx.cache.guilds().into_iter().find(|guild| {
        ctx.cache.guild(*guild).is_some_and(|guild| {
            guild.channels.contains_key(&channel)
                || guild.threads.iter().any(|thread| thread.id == channel)
        })
    })
}

/// One page of `channel`'s messages after `after`.
async fn read_history(ctx: &Context, channel: u64, after: u64) -> Read {
    let channel = ChannelId::new(channel);
    let page = Some(MessagePagination::After(MessageId::new(after.max(1))));
    match ctx
        .http
        .get_messages(channel, page, Some(MESSAGES_PER_CHANNEL))
        .await
    {
        Ok(messages) => Read::Messages(messages),
        Err(error) => match status_of(&error) {
            Some(429) => {
                tracing::warn!(%channel, "Discord rate-limited catch-up; the remaining channels are not read");
                Read::RateLimited
            }
            Some(403 | 404) => {
                tracing::debug!(%error, %channel, "Discord channel not readable; not caught up");
                Read::Skipped
            }
            _ => {
                tracing::warn!(%error, %channel, "Discord channel history not read; not caught up");
                Read::Skipped
            }
        },
    }
}

/// The HTTP status of a refused request.
fn status_of(error: &serenity::Error) -> Option<u16> {
    match error {
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(response)) => {
            Some(response.status_code.as_u16())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recent(scope: &str, channel: &str, visibility: Visibility) -> RecentConversation {
        RecentConversation {
            scope: scope.into(),
            channel_id: channel.into(),
            visibility,
        }
    }

    #[test]
    fn recent_conversations_come_first_then_listed_channels_each_once() {
        let found = conversations_to_read(
            &[
                recent("", "11", Visibility::Dm),
                recent("7", "12", Visibility::Public),
                recent("", "not-a-number", Visibility::Dm),
                recent("", "13", Visibility::Private),
            ],
            &[12, 14, 11],
        );
        assert_eq!(
            found,
            vec![
                Conversation {
                    channel: 11,
                    kind: ConversationKind::Direct
                },
                Conversation {
                    channel: 12,
                    kind: ConversationKind::Guild(7)
                },
                Conversation {
                    channel: 14,
                    kind: ConversationKind::Listed
                },
            ]
        );
    }

    #[test]
    fn at_most_fifty_channels_are_read() {
        let many: Vec<RecentConversation> = (1..=80)
            .map(|channel| recent("", &channel.to_string(), Visibility::Dm))
            .collect();
        let listed: Vec<u64> = (100..120).collect();
        let found = conversations_to_read(&many, &listed);
        assert_eq!(found.len(), MAX_CHANNELS);
        assert_eq!(found[0].channel, 1, "most recent first");
    }

    #[test]
    fn snowflakes_start_with_their_time_since_discords_epoch() {
        // Discord's documented example: 175928847299117063 was created at 1462015105796 ms.
        let created = UNIX_EPOCH + Duration::from_millis(1_462_015_105_796);
        assert_eq!(snowflake_at(created), 175_928_847_299_117_063 >> 22 << 22);
        assert_eq!(snowflake_at(UNIX_EPOCH), 0, "before Discord's epoch");
    }

    fn message_at(id: u64, author: serde_json::Value, text: &str) -> Message {
        let payload = crate::tests::payloads::dm_message(
            &id.to_string(),
            "1600000000000000001",
            author,
            text,
        );
        serde_json::from_value(payload).unwrap()
    }

    #[test]
    fn late_turns_are_the_answerable_messages_in_the_window_oldest_first() {
        use crate::tests::payloads::{bot_user, user, BOT_ID};
        let ana = user("80351110224678912", "ana", Some("Ana"), false);
        let other_bot = user("80351110224678000", "beeper", None, true);
        let found = vec![
            message_at(900, ana.clone(), "too late: after the READY"),
            message_at(300, ana.clone(), "second"),
            message_at(250, bot_user(), "the companion's own message"),
            message_at(240, other_bot, "another bot"),
            message_at(200, ana.clone(), "first"),
            message_at(200, ana.clone(), "first"),
            message_at(100, ana.clone(), "too early: before the window"),
            message_at(220, ana, "   "),
        ];
        let bot_id: u64 = BOT_ID.parse().unwrap();
        let turns = late_turns(found, 100, 900, |message| {
            let inbound =
                crate::mapping::to_message(message, bot_id, &[], &[], Default::default()).ok()?;
            Some(StoredTurn {
                message: inbound,
                channel_id: message.channel_id.get(),
                message_id: message.id.get(),
                in_guild: false,
                late: true,
            })
        });
        let texts: Vec<&str> = turns
            .iter()
            .map(|turn| turn.message.text.as_str())
            .collect();
        assert_eq!(texts, vec!["first", "second"]);
    }
}
