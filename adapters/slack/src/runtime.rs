//! One verified Slack event, from mapping to the delivered answer, shared by the HTTP routes and
//! Socket Mode: map → look the user up (display name, admin) → the core → mrkdwn / Block Kit →
//! chat.postMessage in the thread, or an ephemeral answer for personal replies and slash commands.
//! 👍/👎 reactions on the companion's messages go to the core as `feedback` and are never answered.

use crate::blocks::card_blocks;
use crate::client::{Outgoing, PostedPart, SlackApi};
use crate::error::Result;
use crate::mapping::{self, ReplyTarget, Skip};
use crate::mrkdwn::to_mrkdwn;
use crate::stream::{Finished, MessagePreview};
use crate::users::UserDirectory;
use crate::{SlackConfig, CAPABILITIES};
use slack_morphism::prelude::{SlackCommandEvent, SlackEventCallbackBody, SlackPushEventCallback};
use std::sync::Arc;
use tokio::sync::OnceCell;
use whisperengine_contract::{
    handle_with_preview, split_message, EventHandler, HandlerOutcome, InboundEvent, InboundMessage,
    InboxEntry, OutboundReply,
};

/// The role shown in the prompt for a Slack workspace admin or owner.
pub const WORKSPACE_ADMIN_ROLE: &str = "workspace admin";
/// The first line of a reply to a message read from history on start (see [`Arrival::CaughtUp`]).
pub const LATE_NOTE: &str = "_(Sorry for the late answer: I was offline when you wrote this.)_";
/// Counter: reply parts a taken-over turn found already posted (and did not post again).
pub const ALREADY_POSTED_METRIC: &str = "whisperengine_slack_replies_already_posted_total";
/// Web API errors after which an ephemeral answer is retried through the command's response_url.
const NOT_IN_CHANNEL: [&str; 3] = ["channel_not_found", "not_in_channel", "user_not_in_channel"];

/// How an event reached the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// From Slack just now (Events API or Socket Mode).
    Live,
    /// Run again from the inbox after the process that took it stopped: some of its reply may
    /// already be posted, so what is there (found by its metadata) is not posted again.
    TakenOver,
    /// Read from the conversation's history on start: it arrived while no process was running.
    /// Its reply says it is late, and is checked for like a taken-over one.
    CaughtUp,
}

/// What every event needs: settings, the Web API, the user cache and the core.
pub struct SlackRuntime {
    pub(crate) config: SlackConfig,
    pub(crate) api: SlackApi,
    users: UserDirectory,
    pub(crate) handler: Arc<dyn EventHandler>,
    /// The companion's own user id, from `auth.test` (asked once it succeeds).
    bot_user_id: OnceCell<String>,
}

impl SlackRuntime {
    pub fn new(config: SlackConfig, handler: Arc<dyn EventHandler>) -> Result<Self> {
        let api = SlackApi::new(&config)?;
        let users = UserDirectory::new(api.clone(), config.user_cache_ttl);
        Ok(SlackRuntime {
            config,
            api,
            users,
            handler,
            bot_user_id: OnceCell::new(),
        })
    }

    /// The bot's user id, asking `auth.test` until it answers once.
    pub(crate) async fn bot_user_id(&self) -> Option<&str> {
        self.bot_user_id
            .get_or_try_init(|| async { self.api.auth_test().await.map(|me| me.user_id.0) })
            .await
            .ok()
            .map(String::as_str)
    }

    /// Handles an Events API callback (already acknowledged to Slack). `inbox` is the host's
    /// stored copy of the event, handed on with the message.
    #[tracing::instrument(skip_all, fields(platform = "slack", event_id = %callback.event_id.0))]
    pub async fn on_push(
        self: Arc<Self>,
        callback: SlackPushEventCallback,
        inbox: Option<InboxEntry>,
        arrival: Arrival,
    ) {
        if matches!(callback.event, SlackEventCallbackBody::ReactionAdded(_)) {
            return self.on_reaction(callback).await;
        }
        let bot_user_id = self.bot_user_id().await;
        let (mut message, target) =
            match mapping::message_from_push(&callback, bot_user_id, self.config.reply_in_thread) {
                Ok(mapped) => mapped,
                Err(skip) => return log_skip(&skip),
            };
        message.inbox = inbox;
        if let Some(info) = self
            .users
            .lookup(&message.author.scope, &message.author.user_id)
            .await
        {
            if info.is_bot {
                return log_skip(&Skip::FromBot);
            }
            // A workspace admin is a role in the conversation (shown in the prompt like a Discord
            // role), never a host admin.
            if info.is_admin {
                message.author_roles.push(WORKSPACE_ADMIN_ROLE.to_string());
            }
            if let Some(name) = info.display_name {
                message.author = message.author.with_display_name(name);
            }
        }
        if let Some(mut invocation) = mapping::typed_command(&message) {
            invocation.invoker_is_admin = self.is_admin(&invocation.invoker);
            return self
                .dispatch(InboundEvent::Command(invocation), &target, arrival)
                .await;
        }
        self.dispatch_message(message, &target, arrival).await;
    }

    /// A conversational message: its reply shown while it is written when STREAM_REPLIES names
    /// Slack (see [`crate::stream`]), else answered whole. A message that is not live is answered
    /// whole: it is late already, and what an earlier process posted is looked for first.
    async fn dispatch_message(
        &self,
        message: InboundMessage,
        target: &ReplyTarget,
        arrival: Arrival,
    ) {
        if !self.config.stream_replies || arrival != Arrival::Live {
            return self
                .dispatch(InboundEvent::Message(message), target, arrival)
                .await;
        }
        let team = message.author.scope.clone();
        let mut preview = MessagePreview::new(&self.api, target, team);
        let outcome = handle_with_preview(
            self.handler.as_ref(),
            InboundEvent::Message(message),
            CAPABILITIES,
            &mut preview,
        )
        .await;
        if preview.finish(&outcome).await == Finished::NotShown {
            self.answer(outcome, target, arrival).await;
        }
    }

    /// Handles a `reaction_added` event: 👍/👎 on the companion's own message is recorded as
    /// `feedback` (5 or 1). Reactions are silent: whatever the core answers is dropped, so nothing
    /// is posted. Reactions by bots (per users.info) are ignored.
    async fn on_reaction(&self, callback: SlackPushEventCallback) {
        let bot_user_id = self.bot_user_id().await;
        let mut invocation = match mapping::feedback_from_reaction(&callback, bot_user_id) {
            Ok(invocation) => invocation,
            Err(skip) => return log_skip(&skip),
        };
        if let Some(info) = self
            .users
            .lookup(&invocation.invoker.scope, &invocation.invoker.user_id)
            .await
        {
            if info.is_bot {
                return log_skip(&Skip::FromBot);
            }
            if let Some(name) = info.display_name {
                invocation.invoker = invocation.invoker.with_display_name(name);
            }
        }
        match self
            .handler
            .handle(InboundEvent::Command(invocation), CAPABILITIES)
            .await
        {
            HandlerOutcome::Reply(_) => {
                tracing::debug!("reaction recorded as feedback; answer dropped")
            }
            HandlerOutcome::Duplicate => tracing::debug!("duplicate Slack reaction dropped"),
            HandlerOutcome::Ignored(reason) => tracing::debug!(reason, "reaction not recorded"),
        }
    }

    /// Whether the user may run host admin commands: listed in SLACK_ADMIN_IDS, nothing else. A
    /// workspace admin or owner is nobody special to the host: anyone can create a workspace and
    /// install the app there.
    fn is_admin(&self, account: &whisperengine_contract::PlatformAccount) -> bool {
        self.config.admin_ids.contains(&account.user_id)
    }

    /// Handles a slash command (already acknowledged to Slack).
    #[tracing::instrument(skip_all, fields(platform = "slack", trigger_id = %command.trigger_id.0))]
    pub async fn on_command(self: Arc<Self>, command: SlackCommandEvent) {
        let (mut invocation, target) =
            match mapping::command_from_slash(&command, &self.config.command) {
                Ok(mapped) => mapped,
                Err(skip) => return log_skip(&skip),
            };
        let user = invocation.invoker.user_id.clone();
        invocation.invoker_is_admin = self.is_admin(&invocation.invoker);
        let info = self.users.lookup(&invocation.invoker.scope, &user).await;
        if let Some(name) = info.and_then(|info| info.display_name) {
            invocation.invoker = invocation.invoker.with_display_name(name);
        }
        self.dispatch(InboundEvent::Command(invocation), &target, Arrival::Live)
            .await;
    }

    async fn dispatch(&self, event: InboundEvent, target: &ReplyTarget, arrival: Arrival) {
        let outcome = self.handler.handle(event, CAPABILITIES).await;
        self.answer(outcome, target, arrival).await;
    }

    async fn answer(&self, outcome: HandlerOutcome, target: &ReplyTarget, arrival: Arrival) {
        match outcome {
            HandlerOutcome::Reply(reply) => self.deliver(target, &reply, arrival).await,
            HandlerOutcome::Duplicate => tracing::debug!("duplicate Slack event dropped"),
            HandlerOutcome::Ignored(reason) => tracing::debug!(reason, "no reply"),
        }
    }

    /// Sends `reply`: a card as Block Kit (its title as the notification text), otherwise the text
    /// in mrkdwn, split below Slack's limit, each part marked with the answered message (see
    /// [`crate::client::ReplyMark`]). Ephemeral for slash commands and for personal replies
    /// outside a DM. A turn that is not live first looks for the parts an earlier process posted:
    /// a part already there is not posted again (one showing other text, a preview cut short, is
    /// updated to the reply). Failures are logged and counted by the client, never raised.
    pub async fn deliver(&self, target: &ReplyTarget, reply: &OutboundReply, arrival: Arrival) {
        let text = match arrival {
            Arrival::CaughtUp => format!("{LATE_NOTE}\n{}", to_mrkdwn(&reply.text)),
            Arrival::Live | Arrival::TakenOver => to_mrkdwn(&reply.text),
        };
        let messages: Vec<Outgoing> = match &reply.card {
            Some(card) => vec![Outgoing {
                text: to_mrkdwn(&card.title),
                blocks: Some(card_blocks(card)),
                mark: None,
            }],
            None => split_message(&text, CAPABILITIES.max_message_length)
                .into_iter()
                .map(Outgoing::text)
                .collect(),
        };
        let key = target.reply_key.as_deref();
        let is_private = target.always_ephemeral || (reply.ephemeral && !target.is_dm);
        let posted = match arrival {
            Arrival::Live => Vec::new(),
            Arrival::TakenOver | Arrival::CaughtUp if is_private => Vec::new(),
            Arrival::TakenOver | Arrival::CaughtUp => self.posted_parts(target).await,
        };
        for (index, message) in messages.into_iter().enumerate() {
            let message = message.marked(key, index);
            let earlier = posted.iter().find(|part| part.part == index);
            let sent = match earlier {
                _ if is_private => self.send_ephemeral(target, &message).await,
                Some(part) if part.text.as_deref() == Some(message.text.as_str()) => {
                    metrics::counter!(ALREADY_POSTED_METRIC).increment(1);
                    tracing::debug!(part = index, "reply part already posted; not posted again");
                    Ok(())
                }
                Some(part) => {
                    metrics::counter!(ALREADY_POSTED_METRIC).increment(1);
                    self.api
                        .update_message(&target.channel, &part.ts, &message, true)
                        .await
                }
                None => self
                    .api
                    .post_message(&target.channel, target.thread_ts.as_deref(), &message)
                    .await
                    .map(|_| ()),
            };
            if sent.is_err() {
                // The client logged and counted it; later parts would read oddly without this one.
                return;
            }
        }
    }

    /// The parts of the reply to `target`'s message already in the conversation. When they cannot
    /// be read, none: posting again beats not answering.
    async fn posted_parts(&self, target: &ReplyTarget) -> Vec<PostedPart> {
        let (Some(key), Some(after)) = (&target.reply_key, &target.message_ts) else {
            return Vec::new();
        };
        self.api
            .posted_parts(&target.channel, target.thread_ts.as_deref(), after, key)
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "earlier replies not read; the reply is posted");
                Vec::new()
            })
    }

    /// chat.postEphemeral, or the command's response_url where the bot is not in the channel.
    async fn send_ephemeral(&self, target: &ReplyTarget, message: &Outgoing) -> Result<()> {
        let posted = self
            .api
            .post_ephemeral(
                &target.channel,
                &target.user,
                target.thread_ts.as_deref(),
                message,
            )
            .await;
        match (&posted, &target.response_url) {
            (Err(error), Some(url))
                if error.code().is_some_and(|c| NOT_IN_CHANNEL.contains(&c)) =>
            {
                self.api.respond(url, message).await
            }
            _ => posted,
        }
    }
}

fn log_skip(skip: &Skip) {
    match skip {
        Skip::UnknownCommand(command) => {
            tracing::warn!(%command, "a slash command other than SLACK_COMMAND was ignored");
        }
        other => tracing::debug!(skip = ?other, "Slack event not handed to the core"),
    }
}
