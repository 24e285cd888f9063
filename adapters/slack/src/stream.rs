//! A reply shown while it is written, Slack's way.
//!
//! - In a thread (every reply with SLACK_REPLY_IN_THREAD on, the default): Slack's own streaming,
//!   `chat.startStream` with the first words, `chat.appendStream` with each further stable
//!   piece, `chat.stopStream` at the end. Streamed text is standard markdown, which Slack renders
//!   itself. Outside DMs the stream names its recipient (the person and their workspace), as
//!   Slack requires.
//! - Where Slack does not stream (a top-level reply, or `chat.startStream` refused, for example
//!   a workspace without the feature): `chat.postMessage` with the first words in mrkdwn, then
//!   `chat.update` as the text grows.
//!
//! Only [`stable_prefix`] text is shown, so half-written markup never shows broken (converted to
//! mrkdwn only as a whole stable prefix). Every message the reply is shown in carries its
//! [`ReplyMark`](crate::client::ReplyMark) as metadata (a stream from its end), so a process that
//! takes the turn over finds it. Writes are at least [`MIN_WRITE_GAP`] apart, and a
//! preview step Slack answers 429 is skipped, not retried (the next one carries newer text);
//! final writes are retried. The final reply is never lost: when the preview cannot be turned
//! into it, the preview is removed and the reply is delivered the ordinary way.

use crate::client::{Outgoing, SlackApi};
use crate::mapping::ReplyTarget;
use crate::mrkdwn::to_mrkdwn;
use crate::CAPABILITIES;
use std::time::Duration;
use tokio::time::Instant;
use whisperengine_contract::{split_message, stable_prefix, HandlerOutcome, Preview};

/// Least time between two writes of one preview.
pub const MIN_WRITE_GAP: Duration = Duration::from_millis(800);

/// How the preview is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shown {
    Nothing,
    /// A Slack stream with `ts`, holding `sent` (markdown).
    Stream {
        ts: String,
        sent: String,
    },
    /// A posted message with `ts`, showing the stable prefix `shown` (markdown, before mrkdwn).
    Message {
        ts: String,
        shown: String,
    },
}

/// What became of a preview at the end.
#[derive(Debug, PartialEq, Eq)]
pub enum Finished {
    /// Nothing was shown (or it was removed): deliver the outcome the ordinary way.
    NotShown,
    /// The preview now shows the final reply (or was removed for an outcome that is no reply).
    Done,
}

/// The message showing one reply while it is written.
pub struct MessagePreview<'a> {
    api: &'a SlackApi,
    target: &'a ReplyTarget,
    /// The person's workspace (the stream's recipient team outside DMs).
    team: String,
    shown: Shown,
    /// Slack refused to stream here: post and update instead.
    no_stream: bool,
    /// A write failed for another reason than the rate limit: nothing more is shown.
    failed: bool,
    last_write: Option<Instant>,
}

impl<'a> MessagePreview<'a> {
    pub fn new(api: &'a SlackApi, target: &'a ReplyTarget, team: String) -> Self {
        MessagePreview {
            api,
            target,
            team,
            shown: Shown::Nothing,
            no_stream: false,
            failed: false,
            last_write: None,
        }
    }

    async fn pace(&mut self) {
        if let Some(last) = self.last_write {
            tokio::time::sleep_until(last + MIN_WRITE_GAP).await;
        }
        self.last_write = Some(Instant::now());
    }

    fn recipient(&self) -> Option<(&str, &str)> {
        (!self.target.is_dm).then_some((self.target.user.as_str(), self.team.as_str()))
    }

    /// Shows `stable` (a stable prefix, at most one Slack message long).
    async fn step(&mut self, stable: &str) -> crate::error::Result<()> {
        match self.shown.clone() {
            Shown::Nothing => {
                self.pace().await;
                match (&self.target.thread_ts, self.no_stream) {
                    (Some(thread_ts), false) => {
                        let started = self
                            .api
                            .start_stream(&self.target.channel, thread_ts, self.recipient(), stable)
                            .await;
                        match started {
                            Ok(ts) => {
                                self.shown = Shown::Stream {
                                    ts,
                                    sent: stable.to_string(),
                                };
                                return Ok(());
                            }
                            Err(error) if error.code() == Some("ratelimited") => return Err(error),
                            Err(_) => {
                                tracing::debug!("Slack did not stream here; posting and updating");
                                self.no_stream = true;
                            }
                        }
                    }
                    _ => self.no_stream = true,
                }
                let ts = self
                    .api
                    .post_message(
                        &self.target.channel,
                        self.target.thread_ts.as_deref(),
                        &self.marked(text(stable), 0),
                    )
                    .await?;
                self.shown = Shown::Message {
                    ts,
                    shown: stable.to_string(),
                };
            }
            Shown::Stream { ts, sent } => {
                let Some(delta) = stable.strip_prefix(sent.as_str()).filter(|d| !d.is_empty())
                else {
                    return Ok(());
                };
                self.pace().await;
                self.api
                    .append_stream(&self.target.channel, &ts, delta)
                    .await?;
                self.shown = Shown::Stream {
                    ts,
                    sent: stable.to_string(),
                };
            }
            Shown::Message { ts, shown } => {
                if stable.len() <= shown.len() {
                    return Ok(());
                }
                self.pace().await;
                self.api
                    .update_message(
                        &self.target.channel,
                        &ts,
                        &self.marked(text(stable), 0),
                        false,
                    )
                    .await?;
                self.shown = Shown::Message {
                    ts,
                    shown: stable.to_string(),
                };
            }
        }
        Ok(())
    }

    /// Ends the preview with `outcome`: the final reply replaces what was shown.
    pub async fn finish(self, outcome: &HandlerOutcome) -> Finished {
        let (ts, is_stream, sent) = match &self.shown {
            Shown::Nothing => return Finished::NotShown,
            Shown::Stream { ts, sent } => (ts.clone(), true, sent.clone()),
            Shown::Message { ts, .. } => (ts.clone(), false, String::new()),
        };
        let reply = match outcome {
            HandlerOutcome::Reply(reply) if reply.card.is_none() && !reply.ephemeral => reply,
            HandlerOutcome::Reply(_) => {
                self.remove(&ts, is_stream).await;
                return Finished::NotShown;
            }
            HandlerOutcome::Duplicate | HandlerOutcome::Ignored(_) => {
                self.remove(&ts, is_stream).await;
                return Finished::Done;
            }
        };
        let parts = split_message(&to_mrkdwn(&reply.text), CAPABILITIES.max_message_length);
        let ended = if is_stream {
            self.end_stream(&ts, &sent, &reply.text, &parts).await
        } else {
            self.end_message(&ts, &parts).await
        };
        match ended {
            Ok(()) => Finished::Done,
            Err(error) => {
                tracing::warn!(%error, "Slack preview not turned into the reply; sending it anew");
                self.remove(&ts, is_stream).await;
                Finished::NotShown
            }
        }
    }

    /// A stream whose text the reply continues ends with the rest of it; otherwise it ends and
    /// its message is replaced by the reply.
    async fn end_stream(
        &self,
        ts: &str,
        sent: &str,
        reply: &str,
        parts: &[String],
    ) -> crate::error::Result<()> {
        let channel = &self.target.channel;
        let fits = reply.chars().count() <= CAPABILITIES.max_message_length;
        match reply.strip_prefix(sent) {
            Some(rest) if fits => {
                let rest = (!rest.is_empty()).then_some(rest);
                let mark = self.marked(Outgoing::default(), 0).mark;
                self.api.stop_stream(channel, ts, rest, mark.as_ref()).await
            }
            _ => {
                self.api.stop_stream(channel, ts, None, None).await?;
                self.end_message(ts, parts).await
            }
        }
    }

    /// The message shows the first part; the others follow in the thread.
    async fn end_message(&self, ts: &str, parts: &[String]) -> crate::error::Result<()> {
        let Some((first, rest)) = parts.split_first() else {
            return Ok(());
        };
        self.api
            .update_message(
                &self.target.channel,
                ts,
                &self.marked(Outgoing::text(first), 0),
                true,
            )
            .await?;
        for (index, part) in rest.iter().enumerate() {
            self.api
                .post_message(
                    &self.target.channel,
                    self.target.thread_ts.as_deref(),
                    &self.marked(Outgoing::text(part), index + 1),
                )
                .await?;
        }
        Ok(())
    }

    /// `message` marked as part `part` of the reply (see [`crate::client::ReplyMark`]).
    fn marked(&self, message: Outgoing, part: usize) -> Outgoing {
        message.marked(self.target.reply_key.as_deref(), part)
    }

    async fn remove(&self, ts: &str, is_stream: bool) {
        if is_stream {
            let _ = self
                .api
                .stop_stream(&self.target.channel, ts, None, None)
                .await;
        }
        if let Err(error) = self.api.delete_message(&self.target.channel, ts).await {
            tracing::debug!(%error, "Slack preview message not deleted");
        }
    }
}

/// A stable markdown prefix as a message: mrkdwn, cut to one Slack message.
fn text(stable: &str) -> Outgoing {
    Outgoing::text(to_mrkdwn(stable))
}

#[async_trait::async_trait]
impl Preview for MessagePreview<'_> {
    async fn show(&mut self, text: String) {
        if self.failed {
            return;
        }
        let stable = stable_prefix(&text);
        // The preview stops at one message; the rest comes with the final reply.
        let stable = split_message(stable, CAPABILITIES.max_message_length)
            .into_iter()
            .next()
            .unwrap_or_default();
        if stable.is_empty() {
            return;
        }
        match self.step(&stable).await {
            Ok(()) => {}
            Err(error) if error.code() == Some("ratelimited") => {}
            Err(error) => {
                tracing::debug!(%error, "Slack preview stopped; the reply follows whole");
                self.failed = true;
            }
        }
    }
}
