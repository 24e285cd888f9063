//! serenity's event handler: READY registers the slash commands; MESSAGE_CREATE goes through
//! [`mapping`] to the core with "typing…" showing, and the reply is posted; INTERACTION_CREATE is
//! acknowledged at once (deferred, ephemeral for personal commands), checked against
//! [`commands`], handed to the core, and answered by editing the deferred response.
//! MESSAGE_REACTION_ADD of 👍/👎 on the bot's own message goes through [`reaction`] to the core as
//! `feedback`, and the core's answer is dropped: a reaction gets no reply.

use crate::commands;
use crate::mapping::{self, Place};
use crate::reaction;
use crate::render;
use crate::turn::{StoredTurn, TurnRunner, MESSAGE_KIND};
use crate::CAPABILITIES;
use serenity::all::{
    ChannelId, ChannelType, Command, CommandInteraction, Context, GuildId, Interaction, Message,
    Reaction, Ready, UserId,
};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use whisperengine_contract::{EventHandler, HandlerOutcome, InboundEvent, Inbox, OutboundReply};

pub use crate::turn::EVENTS_METRIC;

/// Counts events being handled, so shutdown can wait for them.
#[derive(Default)]
pub struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// Held while one event is handled.
pub struct InFlightGuard(Arc<InFlight>);

impl InFlight {
    /// Marks one more event as being handled until the guard drops.
    pub fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.clone())
    }

    /// Waits until no event is being handled, or `grace` has passed; true when idle.
    pub async fn wait_idle(&self, grace: Duration) -> bool {
        tokio::time::timeout(grace, async {
            loop {
                let notified = self.idle.notified();
                if self.count.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        })
        .await
        .is_ok()
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// The gateway event handler of one connector (shared by all its shards).
pub struct GatewayHandler {
    core: Arc<dyn EventHandler>,
    bot_id: AtomicU64,
    guild_id: Option<u64>,
    admin_ids: Vec<u64>,
    channels: Vec<u64>,
    commands_registered: AtomicBool,
    in_flight: Arc<InFlight>,
    runner: TurnRunner,
    /// Where messages are stored before their turn starts (`None`: run at once).
    inbox: Option<Arc<dyn Inbox>>,
}

impl GatewayHandler {
    pub fn new(
        config: &crate::DiscordConfig,
        bot_id: u64,
        core: Arc<dyn EventHandler>,
        in_flight: Arc<InFlight>,
        runner: TurnRunner,
        inbox: Option<Arc<dyn Inbox>>,
    ) -> Self {
        GatewayHandler {
            core,
            bot_id: AtomicU64::new(bot_id),
            guild_id: config.guild_id.filter(|id| *id != 0),
            admin_ids: config.admin_ids.clone(),
            channels: config.channels.clone(),
            commands_registered: AtomicBool::new(false),
            in_flight,
            runner,
            inbox,
        }
    }

    /// Registers the slash commands in DISCORD_GUILD_ID, or globally; once per process (every
    /// shard sends READY), again after a failure.
    async fn register_commands(&self, ctx: &Context) {
        if self.commands_registered.swap(true, Ordering::SeqCst) {
            return;
        }
        let registrations = commands::registrations();
        let result = match self.guild_id {
            Some(guild) => GuildId::new(guild)
                .set_commands(&ctx.http, registrations)
                .await
                .map(|registered| (registered.len(), "in the guild")),
            None => Command::set_global_commands(&ctx.http, registrations)
                .await
                .map(|registered| (registered.len(), "globally")),
        };
        match result {
            Ok((count, place)) => tracing::info!(count, place, "Discord slash commands registered"),
            Err(error) => {
                self.commands_registered.store(false, Ordering::SeqCst);
                tracing::warn!(%error, "Discord slash commands not registered; retrying at the next READY");
            }
        }
    }

    async fn handle_message(&self, ctx: &Context, message: &Message) {
        let guild_roles = message
            .guild_id
            .map(|guild| roles_of(ctx, guild))
            .unwrap_or_default();
        let place = place_of(ctx, message);
        let bot_id = self.bot_id.load(Ordering::SeqCst);
        let inbound =
            match mapping::to_message(message, bot_id, &self.channels, &guild_roles, place) {
                Ok(inbound) => inbound,
                Err(skip) => {
                    tracing::trace!(?skip, "Discord message not handed to the core");
                    count("skipped");
                    return;
                }
            };
        let turn = StoredTurn {
            message: inbound,
            channel_id: message.channel_id.get(),
            message_id: message.id.get(),
            in_guild: message.guild_id.is_some(),
        };
        let _in_flight = self.in_flight.enter();
        if let Some(inbox) = &self.inbox {
            match serde_json::to_string(&turn) {
                Ok(payload) => {
                    let job = self.runner.job(turn.clone());
                    match inbox.submit_durable(MESSAGE_KIND, payload, job).await {
                        Ok(()) => return,
                        // Discord never sends the message again: it is answered here and now.
                        Err(refusal) => {
                            tracing::warn!(%refusal, "Discord message not queued; answering it directly")
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "Discord message not storable; answering it directly")
                }
            }
        }
        self.runner.run(turn, None).await;
    }

    /// A reaction: 👍/👎 by a person on the bot's message becomes `feedback`; nothing is posted.
    async fn handle_reaction(&self, ctx: &Context, added: &Reaction) {
        let bot_id = self.bot_id.load(Ordering::SeqCst);
        if let Err(skip) = reaction::feedback_score(added, bot_id) {
            tracing::trace!(?skip, "Discord reaction is not feedback");
            count("skipped");
            return;
        }
        let Some(author) = message_author(ctx, added).await else {
            count("skipped");
            return;
        };
        let invocation = match reaction::to_feedback(added, bot_id, author) {
            Ok(invocation) => invocation,
            Err(skip) => {
                tracing::trace!(?skip, "Discord reaction is not feedback");
                count("skipped");
                return;
            }
        };
        // The core's answer ("Thank you! …") is dropped on purpose: reactions are silent.
        match self
            .core
            .handle(InboundEvent::Command(invocation), CAPABILITIES)
            .await
        {
            HandlerOutcome::Reply(_) => {
                tracing::debug!(message = %added.message_id, "Discord reaction recorded as feedback");
                count("feedback");
            }
            HandlerOutcome::Duplicate => {
                tracing::debug!(message = %added.message_id, "replayed Discord reaction dropped");
                count("duplicate");
            }
            HandlerOutcome::Ignored(reason) => {
                tracing::debug!(reason, "reaction feedback not recorded");
                count("ignored");
            }
        }
    }

    async fn handle_command(&self, ctx: &Context, interaction: &CommandInteraction) {
        // Discord wants an acknowledgement within 3 s: defer before anything that can be slow.
        let is_ephemeral = commands::is_personal(&interaction.data.name);
        let deferred = if is_ephemeral {
            interaction.defer_ephemeral(&ctx.http).await
        } else {
            interaction.defer(&ctx.http).await
        };
        if let Err(error) = deferred {
            // Most often a replayed interaction that was already acknowledged.
            tracing::debug!(%error, interaction = %interaction.id, "interaction not acknowledged");
            count("duplicate");
            return;
        }
        let reply = match commands::to_invocation(interaction, &self.admin_ids) {
            Ok(invocation) => {
                match self
                    .core
                    .handle(InboundEvent::Command(invocation), CAPABILITIES)
                    .await
                {
                    HandlerOutcome::Reply(reply) => {
                        count("reply");
                        reply
                    }
                    HandlerOutcome::Duplicate => {
                        count("duplicate");
                        return;
                    }
                    HandlerOutcome::Ignored(reason) => {
                        count("ignored");
                        OutboundReply::private(format!("Nothing to do ({reason})."))
                    }
                }
            }
            Err(refusal) => {
                tracing::debug!(%refusal, "slash command refused");
                count("refused");
                OutboundReply::private(refusal.to_string())
            }
        };
        answer_interaction(ctx, interaction, is_ephemeral, &reply).await;
    }
}

fn count(outcome: &'static str) {
    metrics::counter!(EVENTS_METRIC, "outcome" => outcome).increment(1);
}

/// Edits the deferred response with the first part and follows up with the rest. A private reply
/// to a publicly deferred command replaces the public placeholder with an ephemeral follow-up.
async fn answer_interaction(
    ctx: &Context,
    interaction: &CommandInteraction,
    is_deferred_ephemeral: bool,
    reply: &OutboundReply,
) {
    let ephemeral = is_deferred_ephemeral || reply.ephemeral;
    let answer = render::interaction_answer(reply, ephemeral);
    if reply.ephemeral && !is_deferred_ephemeral {
        if let Err(error) = interaction.delete_response(&ctx.http).await {
            tracing::debug!(%error, "public placeholder not deleted");
        }
        let first = render::ephemeral_followup(&reply.text);
        if let Err(error) = interaction.create_followup(&ctx.http, first).await {
            tracing::warn!(%error, "Discord interaction answer not delivered");
        }
        return;
    }
    if let Err(error) = interaction.edit_response(&ctx.http, answer.first).await {
        tracing::warn!(%error, "Discord interaction answer not delivered");
        return;
    }
    for followup in answer.followups {
        if let Err(error) = interaction.create_followup(&ctx.http, followup).await {
            tracing::warn!(%error, "Discord follow-up not delivered");
            return;
        }
    }
}

/// Who wrote the reacted-to message: the event's `message_author_id` (sent in servers), else the
/// message itself from serenity's cache or `GET /channels/{channel}/messages/{message}` (DMs).
/// `None` when it cannot be fetched (deleted, no Read Message History): then it is not feedback.
async fn message_author(ctx: &Context, added: &Reaction) -> Option<UserId> {
    if let Some(author) = added.message_author_id {
        return Some(author);
    }
    match added.channel_id.message(ctx, added.message_id).await {
        Ok(message) => Some(message.author.id),
        Err(error) => {
            tracing::debug!(%error, message = %added.message_id, "reacted-to Discord message not fetched");
            None
        }
    }
}

/// The guild's (role id, name) pairs from the cache (filled by GUILD_CREATE).
fn roles_of(ctx: &Context, guild: GuildId) -> Vec<(u64, String)> {
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
fn place_of(ctx: &Context, message: &Message) -> Place {
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

#[serenity::async_trait]
impl serenity::client::EventHandler for GatewayHandler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        self.bot_id.store(ready.user.id.get(), Ordering::SeqCst);
        tracing::info!(
            bot = %ready.user.name,
            shard = ?ready.shard.map(|shard| shard.id.0),
            guilds = ready.guilds.len(),
            invite = %crate::invite_url(ready.application.id.get()),
            "Discord gateway ready"
        );
        self.register_commands(&ctx).await;
    }

    async fn message(&self, ctx: Context, message: Message) {
        let _guard = self.in_flight.enter();
        self.handle_message(&ctx, &message).await;
    }

    async fn reaction_add(&self, ctx: Context, added: Reaction) {
        let _guard = self.in_flight.enter();
        self.handle_reaction(&ctx, &added).await;
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let _guard = self.in_flight.enter();
        match interaction {
            Interaction::Command(command) => self.handle_command(&ctx, &command).await,
            other => tracing::debug!(kind = ?other.kind(), "interaction ignored"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_waits_for_events_in_progress_but_not_beyond_the_grace() {
        let in_flight = Arc::new(InFlight::default());
        assert!(
            in_flight.wait_idle(Duration::from_millis(10)).await,
            "idle at once"
        );
        let guard = in_flight.enter();
        assert!(
            !in_flight.wait_idle(Duration::from_millis(50)).await,
            "busy"
        );
        let waiter = tokio::spawn({
            let in_flight = in_flight.clone();
            async move { in_flight.wait_idle(Duration::from_secs(5)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(guard);
        assert!(waiter.await.unwrap(), "idle once the event finished");
    }
}
