//! One Discord message's turn, durable: the message (already mapped to the contract) is written to
//! the host's inbox before the turn starts, so a process that dies between MESSAGE_CREATE and the
//! reply leaves it to the next process, which runs it (Discord itself never sends a message
//! again). Replies carry a nonce derived from the message with `enforce_nonce`, so a taken-over
//! turn whose reply was already posted gets the earlier message back from Discord instead of a
//! second one.
//!
//! A late turn (a message found by [`crate::catch_up`] after downtime) goes the same way, through
//! the same inbox kind; its reply answers the message by reference, starts with
//! [`render::LATE_NOTE`], is not streamed and shows no "typing…" (the message may turn out to be
//! answered already, and then nothing follows). `late` is stored with the turn, so a process that
//! takes the turn over marks its reply late too.

use crate::render;
use crate::stream::{Finished, MessagePreview};
use crate::CAPABILITIES;
use serde::{Deserialize, Serialize};
use serenity::all::{ChannelId, CreateMessage, Http, MessageId};
use std::sync::Arc;
use tokio::sync::oneshot;
use whisperengine_contract::{
    handle_with_preview, EventHandler, HandlerOutcome, InboundEvent, InboundMessage, Inbox,
    InboxEntry, InboxJob, PlatformAccount, Replayer,
};

/// The kind Discord messages are stored under in the host's inbox.
pub const MESSAGE_KIND: &str = "discord.message";
/// Counter of Discord events by outcome (`reply`, `duplicate`, `ignored`, `skipped`, `refused`,
/// `feedback` for a reaction taken as feedback).
pub const EVENTS_METRIC: &str = "whisperengine_discord_events_total";

/// What a turn needs, as stored in the inbox: the contract message and where the reply goes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredTurn {
    pub message: InboundMessage,
    pub channel_id: u64,
    /// The message answered; its id is referenced by the reply in servers.
    pub message_id: u64,
    pub in_guild: bool,
    /// Found after downtime: the reply answers the message by reference and says it is late.
    /// Absent in turns stored before catch-up existed.
    #[serde(default)]
    pub late: bool,
}

/// Runs turns: the core, then the reply (streamed when `stream_replies`).
#[derive(Clone)]
pub struct TurnRunner {
    pub core: Arc<dyn EventHandler>,
    pub http: Arc<Http>,
    pub stream_replies: bool,
    /// Show "typing…" while a reply is written (DISCORD_SHOW_TYPING).
    pub show_typing: bool,
}

impl TurnRunner {
    /// The inbox job of `turn`.
    pub fn job(&self, turn: StoredTurn) -> InboxJob {
        let runner = self.clone();
        Box::new(move |entry| Box::pin(async move { runner.run(turn, entry).await }))
    }

    /// Stores `turn` in `inbox` (when there is one) and queues it on the host's workers; when the
    /// inbox refuses or is absent, runs it here and now (Discord never sends a message again).
    /// Resolves once the turn is queued or answered; `finished` is sent (or dropped) when the turn
    /// is over, for callers that answer one message after the other.
    pub async fn hand_over(
        &self,
        inbox: Option<&Arc<dyn Inbox>>,
        turn: StoredTurn,
        finished: Option<oneshot::Sender<()>>,
    ) {
        if let Some(inbox) = inbox {
            match serde_json::to_string(&turn) {
                Ok(payload) => {
                    let runner = self.clone();
                    let queued = turn.clone();
                    let job: InboxJob = Box::new(move |entry| {
                        Box::pin(async move {
                            runner.run(queued, entry).await;
                            if let Some(finished) = finished {
                                let _ = finished.send(());
                            }
                        })
                    });
                    match inbox.submit_durable(MESSAGE_KIND, payload, job).await {
                        Ok(()) => return,
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
        self.run(turn, None).await;
    }

    /// Runs `turn`: the core, then the reply posted (or the preview ended with it).
    pub async fn run(&self, turn: StoredTurn, entry: Option<InboxEntry>) {
        let StoredTurn {
            mut message,
            channel_id,
            message_id,
            in_guild,
            late,
        } = turn;
        message.inbox = entry;
        let channel = ChannelId::new(channel_id.max(1));
        let answered = MessageId::new(message_id.max(1));
        let reply_to = in_guild.then_some((channel, answered));
        let event = InboundEvent::Message(message);
        if late {
            let outcome = self.core.handle(event, CAPABILITIES).await;
            count(&outcome);
            if let HandlerOutcome::Reply(reply) = outcome {
                let parts = render::late_channel_messages(&reply, (channel, answered));
                self.post(channel, message_id, parts).await;
            }
            return;
        }
        let typing = self.show_typing.then(|| channel.start_typing(&self.http));
        let outcome = if self.stream_replies {
            let mut preview = MessagePreview::new(self.http.clone(), channel, reply_to, typing)
                .with_nonces_of(message_id);
            let outcome =
                handle_with_preview(self.core.as_ref(), event, CAPABILITIES, &mut preview).await;
            if preview.finish(&outcome).await == Finished::Done {
                count(&outcome);
                return;
            }
            outcome
        } else {
            let outcome = self.core.handle(event, CAPABILITIES).await;
            if let Some(typing) = typing {
                typing.stop();
            }
            outcome
        };
        count(&outcome);
        if let HandlerOutcome::Reply(reply) = outcome {
            let parts = render::channel_messages(&reply, reply_to);
            self.post(channel, message_id, parts).await;
        }
    }

    /// Posts the `parts` of the reply to the message `message_id`, each with its enforced nonce.
    async fn post(&self, channel: ChannelId, message_id: u64, parts: Vec<CreateMessage>) {
        for (index, part) in parts.into_iter().enumerate() {
            let part: CreateMessage = part
                .nonce(render::reply_nonce(message_id, index))
                .enforce_nonce(true);
            if let Err(error) = channel.send_message(&self.http, part).await {
                tracing::warn!(%error, %channel, "Discord reply not delivered");
                return;
            }
        }
    }
}

fn count(outcome: &HandlerOutcome) {
    let outcome = match outcome {
        HandlerOutcome::Reply(_) => "reply",
        HandlerOutcome::Duplicate => "duplicate",
        HandlerOutcome::Ignored(_) => "ignored",
    };
    metrics::counter!(EVENTS_METRIC, "outcome" => outcome).increment(1);
}

/// Runs stored Discord turns again in a process that took them over.
pub struct TurnReplayer(pub TurnRunner);

impl Replayer for TurnReplayer {
    fn replay(&self, payload: &str) -> Option<InboxJob> {
        let turn: StoredTurn = serde_json::from_str(payload).ok()?;
        Some(self.0.job(turn))
    }

    fn author(&self, payload: &str) -> Option<PlatformAccount> {
        let turn: StoredTurn = serde_json::from_str(payload).ok()?;
        Some(turn.message.author)
    }
}
