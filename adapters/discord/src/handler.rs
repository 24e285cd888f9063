//! serenity's event handler: READY registers the slash commands and, the first time in the
//! process, starts [`catch_up`](crate::catch_up) in the background; MESSAGE_CREATE goes through
//! [`mapping`] (by way of [`lookup`]) to the core with "typing…" showing, and the reply is posted; INTERACTION_CREATE is
//! acknowledged at once (deferred, ephemeral for personal commands), checked against
//! [`commands`], handed to the core, and answered by editing the deferred response.
//! MESSAGE_REACTION_ADD of 👍/👎 on the bot's own message goes through [`reaction`] to the core as
//! `feedback`, and the core's answer is dropped: a reaction gets no reply.

use crate::catch_up::CatchUp;
use crate::commands;
use crate::lookup;
use crate::reaction;
use crate::render;
use crate::turn::TurnRunner;
use crate::CAPABILITIES;
use serenity::all::{
    Command, CommandInteraction, Context, GuildId, Interaction, Message, Reaction, Ready, UserId,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use whisperengine_contract::{EventHandler, HandlerOutcome, InboundEvent, Inbox, OutboundReply};

pub use crate::in_flight::{InFlight, InFlightGuard};
pub use crate::turn::EVENTS_METRIC;

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
    /// CATCH_UP_WINDOW (zero: no catch-up).
    catch_up_window: Duration,
    /// Set at the first READY that starts catch-up: reconnects do not start it again.
    catch_up_started: AtomicBool,
    /// Turns true when shutdown begins.
    stopping: watch::Receiver<bool>,
}

impl GatewayHandler {
    pub fn new(
        config: &crate::DiscordConfig,
        bot_id: u64,
        core: Arc<dyn EventHandler>,
        in_flight: Arc<InFlight>,
        runner: TurnRunner,
        inbox: Option<Arc<dyn Inbox>>,
        stopping: watch::Receiver<bool>,
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
            catch_up_window: config.catch_up_window,
            catch_up_started: AtomicBool::new(false),
            stopping,
        }
    }

    /// Starts [`catch_up`](crate::catch_up) in the background once per process, on shard 0's READY (the shard
    /// that receives DMs: with shards spread over processes, one process catches up).
    fn start_catch_up(&self, ctx: &Context, ready: &Ready) {
        let is_first_shard = ready.shard.is_none_or(|shard| shard.id.0 == 0);
        if self.catch_up_window.is_zero()
            || !is_first_shard
            || self.catch_up_started.swap(true, Ordering::SeqCst)
        {
            return;
        }
        let catch_up = CatchUp {
            window: self.catch_up_window,
            listed_channels: self.channels.clone(),
            core: self.core.clone(),
            runner: self.runner.clone(),
            inbox: self.inbox.clone(),
            in_flight: self.in_flight.clone(),
            stopping: self.stopping.clone(),
        };
        tokio::spawn(catch_up.run(ctx.clone(), ready.user.id.get(), SystemTime::now()));
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
        let bot_id = self.bot_id.load(Ordering::SeqCst);
        let turn = match lookup::turn_of(ctx, message, bot_id, &self.channels, false) {
            Ok(turn) => turn,
            Err(skip) => {
                tracing::trace!(?skip, "Discord message not handed to the core");
                count("skipped");
                return;
            }
        };
        let _in_flight = self.in_flight.enter();
        self.runner.hand_over(self.inbox.as_ref(), turn, None).await;
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
        self.start_catch_up(&ctx, &ready);
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
