//! A reply shown while it is written, Discord's way: "typing…" until the first words, then one
//! message posted and edited as the text grows, further messages once it passes 2,000 characters
//! (code fences kept valid in every part), and at the end the final reply in place of the preview.
//!
//! Only [`stable_prefix`] text is shown, so half-written markdown never renders broken. Writes are
//! paced by Discord's own per-route bucket headers (`X-RateLimit-Remaining`,
//! `X-RateLimit-Reset-After`) read from each answer, with at least [`MIN_EDIT_GAP`] between
//! writes; a 429 pauses the preview (the next step carries newer text anyway) and the final reply
//! is retried. When serenity's own rate limiter is on (no DISCORD_API_URL), it paces too.
//!
//! The final reply is never lost: when the preview cannot be turned into it, the preview is
//! removed and the reply is sent the ordinary way.

use crate::render;
use crate::MESSAGE_LIMIT;
use serenity::all::{
    ChannelId, CreateMessage, EditMessage, Http, HttpError, LightMethod, Message, MessageId,
    Request, Route, Typing,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use whisperengine_contract::{split_message, stable_prefix, HandlerOutcome, Preview};

/// Least time between two writes of one preview.
pub const MIN_EDIT_GAP: Duration = Duration::from_millis(500);
/// How often the final reply is tried when Discord answers 429.
const FINAL_ATTEMPTS: usize = 4;
/// Counter of preview writes Discord refused with 429.
pub const RATE_LIMITED_METRIC: &str = "whisperengine_discord_rate_limited_total";
/// Counter of preview writes (posts, edits, deletes) by kind.
pub const PREVIEW_WRITES_METRIC: &str = "whisperengine_discord_preview_writes_total";

/// Why a preview write failed.
#[derive(Debug)]
enum WriteError {
    RateLimited,
    Failed(String),
}

/// What a route's bucket allows, from the last answer's headers.
#[derive(Debug, Default)]
struct Bucket {
    remaining: Option<u64>,
    reset_at: Option<Instant>,
    last_write: Option<Instant>,
}

impl Bucket {
    /// Waits until a write may go: the gap since the last one, and the bucket's reset when it is
    /// empty.
    async fn wait(&self) {
        if let Some(last) = self.last_write {
            tokio::time::sleep_until(last + MIN_EDIT_GAP).await;
        }
        if let (Some(0), Some(reset)) = (self.remaining, self.reset_at) {
            tokio::time::sleep_until(reset).await;
        }
    }

    /// Notes an answer's `X-RateLimit-Remaining` and `X-RateLimit-Reset-After` (seconds).
    fn note(&mut self, remaining: Option<f64>, reset_after: Option<f64>) {
        let valid = |value: f64| value.is_finite() && value >= 0.0;
        let now = Instant::now();
        self.last_write = Some(now);
        self.remaining = remaining
            .filter(|value| valid(*value))
            .map(|value| value as u64);
        self.reset_at = reset_after
            .filter(|value| valid(*value))
            .map(|seconds| now + Duration::from_secs_f64(seconds.min(60.0)));
    }

    fn refused(&mut self) {
        let now = Instant::now();
        self.last_write = Some(now);
        self.remaining = Some(0);
        self.reset_at = Some(now + Duration::from_secs(1));
    }
}

/// The messages showing one reply while it is written.
pub struct MessagePreview {
    http: Arc<Http>,
    channel: ChannelId,
    /// The message being answered (in servers), referenced by the first part.
    reply_to: Option<(ChannelId, MessageId)>,
    typing: Option<Typing>,
    /// The messages posted, with the content each shows.
    posted: Vec<(MessageId, String)>,
    bucket: Bucket,
    /// A write failed for another reason than the rate limit: nothing more is shown.
    failed: bool,
    /// The answered message's id: posts carry nonces derived from it (see
    /// [`render::reply_nonce`]), so a taken-over turn gets its earlier posts back.
    nonces_of: Option<u64>,
}

/// What became of a preview at the end.
#[derive(Debug, PartialEq, Eq)]
pub enum Finished {
    /// Nothing was shown (or it was removed): send the outcome the ordinary way.
    NotShown,
    /// The preview now shows the final reply (or was removed for an outcome that is no reply).
    Done,
}

impl MessagePreview {
    /// A preview in `channel`; `typing`, if any, shows until the first words are posted.
    pub fn new(
        http: Arc<Http>,
        channel: ChannelId,
        reply_to: Option<(ChannelId, MessageId)>,
        typing: Option<Typing>,
    ) -> Self {
        MessagePreview {
            http,
            channel,
            reply_to,
            typing,
            posted: Vec::new(),
            bucket: Bucket::default(),
            failed: false,
            nonces_of: None,
        }
    }

    /// Posts carry nonces derived from the answered message `message_id`, enforced by Discord.
    pub fn with_nonces_of(mut self, message_id: u64) -> Self {
        self.nonces_of = Some(message_id);
        self
    }

    /// Ends the preview with `outcome`: the final reply replaces what was shown.
    pub async fn finish(mut self, outcome: &HandlerOutcome) -> Finished {
        self.stop_typing();
        if self.posted.is_empty() {
            return Finished::NotShown;
        }
        let reply = match outcome {
            // A card or a private answer is not what the preview showed: sent the ordinary way.
            HandlerOutcome::Reply(reply) if reply.card.is_none() && !reply.ephemeral => reply,
            HandlerOutcome::Reply(_) => {
                self.remove_from(0).await;
                return Finished::NotShown;
            }
            HandlerOutcome::Duplicate | HandlerOutcome::Ignored(_) => {
                self.remove_from(0).await;
                return Finished::Done;
            }
        };
        let parts = render::text_parts(reply);
        for _ in 0..FINAL_ATTEMPTS {
            match self.sync(&parts).await {
                Ok(()) => {
                    self.remove_from(parts.len()).await;
                    return Finished::Done;
                }
                Err(WriteError::RateLimited) => continue,
                Err(WriteError::Failed(error)) => {
                    tracing::warn!(%error, channel = %self.channel, "Discord preview not turned into the reply; sending it anew");
                    break;
                }
            }
        }
        self.remove_from(0).await;
        Finished::NotShown
    }

    fn stop_typing(&mut self) {
        if let Some(typing) = self.typing.take() {
            typing.stop();
        }
    }

    /// Makes the posted messages show `parts`: edits the ones that differ, posts the missing ones.
    async fn sync(&mut self, parts: &[String]) -> Result<(), WriteError> {
        for (index, part) in parts.iter().enumerate() {
            match self.posted.get(index) {
                Some((_, shown)) if shown == part => {}
                Some((id, _)) => {
                    let id = *id;
                    self.edit(id, part).await?;
                    self.posted[index].1 = part.clone();
                }
                None => {
                    let id = self.post(part, index).await?;
                    self.stop_typing();
                    self.posted.push((id, part.clone()));
                }
            }
        }
        Ok(())
    }

    async fn post(&mut self, content: &str, index: usize) -> Result<MessageId, WriteError> {
        let mut body = CreateMessage::new()
            .content(content)
            .allowed_mentions(render::allowed_mentions());
        if let (0, Some(reference)) = (index, self.reply_to) {
            body = body.reference_message(reference);
        }
        if let Some(message_id) = self.nonces_of {
            body = body
                .nonce(render::reply_nonce(message_id, index))
                .enforce_nonce(true);
        }
        let route = Route::ChannelMessages {
            channel_id: self.channel,
        };
        let message = self.write(route, LightMethod::Post, &body, "post").await?;
        message
            .map(|message| message.id)
            .ok_or_else(|| WriteError::Failed("Discord answered a post without a message".into()))
    }

    async fn edit(&mut self, id: MessageId, content: &str) -> Result<(), WriteError> {
        let body = EditMessage::new()
            .content(content)
            .allowed_mentions(render::allowed_mentions());
        let route = Route::ChannelMessage {
            channel_id: self.channel,
            message_id: id,
        };
        self.write(route, LightMethod::Patch, &body, "edit")
            .await
            .map(|_| ())
    }

    /// Deletes the posted messages from `first` on.
    async fn remove_from(&mut self, first: usize) {
        while self.posted.len() > first {
            let Some((id, _)) = self.posted.pop() else {
                break;
            };
            let route = Route::ChannelMessage {
                channel_id: self.channel,
                message_id: id,
            };
            if let Err(error) = self.write(route, LightMethod::Delete, &(), "delete").await {
                tracing::debug!(?error, "Discord preview message not deleted");
            }
        }
    }

    /// One write, after the bucket allows it; the answer's headers update the bucket. A post or
    /// an edit answers the message.
    async fn write(
        &mut self,
        route: Route<'_>,
        method: LightMethod,
        body: &impl serde::Serialize,
        kind: &'static str,
    ) -> Result<Option<Message>, WriteError> {
        self.bucket.wait().await;
        let body = match method {
            LightMethod::Delete => None,
            _ => Some(
                serde_json::to_vec(body)
                    .map_err(|error| WriteError::Failed(format!("unserialisable body: {error}")))?,
            ),
        };
        metrics::counter!(PREVIEW_WRITES_METRIC, "kind" => kind).increment(1);
        let response = match self
            .http
            .request(Request::new(route, method).body(body))
            .await
        {
            Ok(response) => response,
            Err(serenity::Error::Http(HttpError::UnsuccessfulRequest(error)))
                if error.status_code.as_u16() == 429 =>
            {
                metrics::counter!(RATE_LIMITED_METRIC).increment(1);
                self.bucket.refused();
                return Err(WriteError::RateLimited);
            }
            Err(error) => {
                self.bucket.refused();
                return Err(WriteError::Failed(error.to_string()));
            }
        };
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<f64>().ok())
        };
        self.bucket.note(
            header("x-ratelimit-remaining"),
            header("x-ratelimit-reset-after"),
        );
        if matches!(method, LightMethod::Delete) {
            return Ok(None);
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|error| WriteError::Failed(error.to_string()))?;
        serde_json::from_slice::<Message>(&bytes)
            .map(Some)
            .map_err(|error| WriteError::Failed(format!("not a Discord message: {error}")))
    }
}

#[async_trait::async_trait]
impl Preview for MessagePreview {
    async fn show(&mut self, text: String) {
        if self.failed {
            return;
        }
        let stable = stable_prefix(&text);
        if stable.is_empty() {
            return;
        }
        let parts = split_message(stable, MESSAGE_LIMIT);
        match self.sync(&parts).await {
            Ok(()) | Err(WriteError::RateLimited) => {}
            Err(WriteError::Failed(error)) => {
                tracing::debug!(%error, "Discord preview stopped; the reply follows whole");
                self.failed = true;
            }
        }
    }
}
