//! A reply in a 1:1 chat shown while it is written, with Teams' streaming protocol: `typing`
//! activities carrying a `streaminfo` entity (`streamType: streaming`, a `streamSequence` that
//! grows by one per request) and the whole text so far, the first of which opens the stream (the
//! service answers its id), then one `message` with `streamType: final` that ends it with the final
//! reply.
//!
//! The limits Teams sets are kept: about one request a second per stream ([`UPDATE_EVERY`], the
//! final included), each update's text starts with the previous one's (only the stable prefix of
//! the markdown is shown, and an update is sent only when it grew), a stream lasts at most two
//! minutes (no updates after [`STREAM_FOR_AT_MOST`]; the final still closes it) and the text fits
//! one message. The typing indicator runs until the first update shows.
//!
//! The final reply is never lost: when an update fails, no more are sent and the reply goes out
//! as an ordinary message; when the final fails, the reply goes out as ordinary messages too.
//! When nothing was shown, the reply is sent exactly as a reply that is not streamed.
//!
//! Over 500 lines: the pacing rules and the turn that applies them belong together; about half
//! is tests, with a recording connector service and a scripted core.

use crate::activity::{Activity, OutgoingActivity};
use crate::card::adaptive_card;
use crate::client::ConnectorClient;
use crate::reply::{send_reply, split_for_teams, AbortOnDrop};
use crate::CAPABILITIES;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::time::Instant;
use url::Url;
use whisperengine_contract::{
    handle_with_preview, stable_prefix, EventHandler, HandlerOutcome, InboundEvent, Preview,
};

/// Least time between two requests of one stream: Teams takes about one a second.
pub const UPDATE_EVERY: Duration = Duration::from_millis(1_000);
/// No update is sent once a stream is this old (Teams ends a stream after two minutes); the final
/// message still closes it.
pub const STREAM_FOR_AT_MOST: Duration = Duration::from_secs(90);

/// One streaming update to send: its sequence number and the whole text shown with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// `streamSequence`: 1 for the first request of the stream, one more for each next.
    pub sequence: u32,
    /// The whole text shown so far (never a delta).
    pub text: String,
}

/// Decides what a stream shows next from the text written so far: the pacing, sequence and
/// growth rules, without I/O.
#[derive(Debug, Clone)]
pub struct StreamPacer {
    every: Duration,
    lifetime: Duration,
    max_len: usize,
    shown: String,
    sequence: u32,
    started: Option<Instant>,
    last_sent: Option<Instant>,
}

impl StreamPacer {
    /// A pacer sending at most one request per `every`, no update once the stream is `lifetime`
    /// old, and no update longer than `max_len` bytes.
    pub fn new(every: Duration, lifetime: Duration, max_len: usize) -> Self {
        StreamPacer {
            every,
            lifetime,
            max_len,
            shown: String::new(),
            sequence: 0,
            started: None,
            last_sent: None,
        }
    }

    /// The pacer Teams' limits call for.
    pub fn for_teams() -> Self {
        StreamPacer::new(
            UPDATE_EVERY,
            STREAM_FOR_AT_MOST,
            CAPABILITIES.max_message_length,
        )
    }

    /// The update to send for `text` (the whole reply written so far) at `now`, or `None` when its
    /// stable prefix did not grow, does not start with what was shown, is too long for one
    /// message, or the stream is too old. Pacing is the caller's: wait for
    /// [`StreamPacer::next_allowed`] first.
    pub fn update(&self, text: &str, now: Instant) -> Option<Update> {
        if self
            .started
            .is_some_and(|started| now.saturating_duration_since(started) >= self.lifetime)
        {
            return None;
        }
        let prefix = stable_prefix(text);
        if prefix.len() <= self.shown.len()
            || !prefix.starts_with(&self.shown)
            || prefix.len() > self.max_len
        {
            return None;
        }
        Some(Update {
            sequence: self.sequence + 1,
            text: prefix.to_string(),
        })
    }

    /// Records that `update` was taken by the service at `now`.
    pub fn delivered(&mut self, update: Update, now: Instant) {
        self.sequence = update.sequence;
        self.shown = update.text;
        self.started.get_or_insert(now);
        self.last_sent = Some(now);
    }

    /// When the next request of the stream (an update or the final) may go; `None`: at once.
    pub fn next_allowed(&self) -> Option<Instant> {
        self.last_sent.map(|last| last + self.every)
    }

    /// The text the last delivered update showed ("" before the first).
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// The `streaminfo` entity of a streaming update; the first has no stream id yet.
fn streaming_entity(stream_id: Option<&str>, sequence: u32) -> Value {
    let mut entity = json!({
        "type": "streaminfo",
        "streamType": "streaming",
        "streamSequence": sequence,
    });
    if let Some(id) = stream_id {
        entity["streamId"] = json!(id);
    }
    entity
}

/// The `streaminfo` entity of the message that ends stream `stream_id`.
fn final_entity(stream_id: &str) -> Value {
    json!({"type": "streaminfo", "streamId": stream_id, "streamType": "final"})
}

/// What one turn has shown so far, and how to show more.
struct Streamer<'a> {
    client: &'a ConnectorClient,
    activity: &'a Activity,
    service_url: &'a Url,
    typing: Option<AbortOnDrop>,
    pacer: StreamPacer,
    stream_id: Option<String>,
    failed: bool,
}

#[async_trait::async_trait]
impl Preview for Streamer<'_> {
    async fn show(&mut self, text: String) {
        Streamer::show(self, text).await;
    }
}

impl Streamer<'_> {
    /// Posts `outgoing` in reply to the inbound activity; the id the service answers.
    async fn send(&self, outgoing: &OutgoingActivity) -> crate::Result<Option<String>> {
        self.client
            .send(
                self.service_url,
                &self.activity.conversation.id,
                self.activity.id.as_deref(),
                outgoing,
            )
            .await
    }

    /// Shows `text` (the whole reply so far) when its stable prefix grew, then waits until the
    /// next request may go, so text written meanwhile folds into the next update.
    async fn show(&mut self, text: String) {
        if self.failed {
            return;
        }
        let Some(update) = self.pacer.update(&text, Instant::now()) else {
            return;
        };
        // The text itself now shows that the companion is writing.
        self.typing = None;
        let outgoing = OutgoingActivity {
            kind: "typing",
            entities: vec![streaming_entity(self.stream_id.as_deref(), update.sequence)],
            ..OutgoingActivity::message_to(self.activity, Some(update.text.clone()), Vec::new())
        };
        match self.send(&outgoing).await {
            Ok(id) => {
                if self.stream_id.is_none() {
                    match id {
                        Some(id) => self.stream_id = Some(id),
                        None => {
                            tracing::warn!(
                                "Teams opened no stream (no id answered); the reply follows as a message"
                            );
                            self.failed = true;
                            return;
                        }
                    }
                }
                self.pacer.delivered(update, Instant::now());
                if let Some(at) = self.pacer.next_allowed() {
                    tokio::time::sleep_until(at).await;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "Teams streaming update not delivered; the reply follows as a message");
                self.failed = true;
            }
        }
    }
}

/// Runs `event` through the core showing its reply while it is written, then ends what was shown
/// with the outcome (see the module doc). `typing` runs until the first update shows.
pub(crate) async fn reply_while_written(
    client: &ConnectorClient,
    handler: &dyn EventHandler,
    activity: &Activity,
    service_url: &Url,
    event: InboundEvent,
    typing: Option<AbortOnDrop>,
) {
    let mut streamer = Streamer {
        client,
        activity,
        service_url,
        typing,
        pacer: StreamPacer::for_teams(),
        stream_id: None,
        failed: false,
    };
    let outcome = handle_with_preview(handler, event, crate::CAPABILITIES, &mut streamer).await;
    let Streamer {
        typing,
        pacer,
        stream_id,
        failed,
        ..
    } = streamer;
    drop(typing);
    match (stream_id, failed) {
        (Some(stream_id), false) => {
            finish(client, activity, service_url, &stream_id, &pacer, outcome).await;
        }
        _ => match outcome {
            HandlerOutcome::Reply(reply) => send_reply(client, activity, service_url, &reply).await,
            HandlerOutcome::Duplicate => tracing::debug!("duplicate activity"),
            HandlerOutcome::Ignored(reason) => tracing::debug!(reason, "no reply"),
        },
    }
}

/// Ends stream `stream_id` with the outcome: the final reply (a card as its attachment; text too
/// long for one message continues in ordinary messages), or, when there is no reply after all,
/// the text already shown, so the stream closes as it is.
async fn finish(
    client: &ConnectorClient,
    activity: &Activity,
    service_url: &Url,
    stream_id: &str,
    pacer: &StreamPacer,
    outcome: HandlerOutcome,
) {
    let (mut last, rest, reply) = match outcome {
        HandlerOutcome::Reply(reply) => match &reply.card {
            Some(card) => (
                OutgoingActivity::message_to(activity, None, vec![adaptive_card(card)]),
                Vec::new(),
                Some(reply),
            ),
            None => {
                let mut parts = split_for_teams(&reply.text).into_iter();
                let first = parts.next().unwrap_or_else(|| pacer.shown().to_string());
                (
                    OutgoingActivity::message_to(activity, Some(first), Vec::new()),
                    parts.collect(),
                    Some(reply),
                )
            }
        },
        HandlerOutcome::Duplicate | HandlerOutcome::Ignored(_) => {
            tracing::debug!("no reply after all; the stream ends with what it showed");
            (
                OutgoingActivity::message_to(activity, Some(pacer.shown().to_string()), Vec::new()),
                Vec::new(),
                None,
            )
        }
    };
    last.entities = vec![final_entity(stream_id)];
    if let Some(at) = pacer.next_allowed() {
        tokio::time::sleep_until(at).await;
    }
    let send = |outgoing: OutgoingActivity| async move {
        client
            .send(
                service_url,
                &activity.conversation.id,
                activity.id.as_deref(),
                &outgoing,
            )
            .await
    };
    if let Err(error) = send(last).await {
        tracing::warn!(%error, "Teams stream not ended; the reply follows as a message");
        if let Some(reply) = reply {
            send_reply(client, activity, service_url, &reply).await;
        }
        return;
    }
    for part in rest {
        let outgoing = OutgoingActivity::message_to(activity, Some(part), Vec::new());
        if let Err(error) = send(outgoing).await {
            tracing::warn!(%error, "Teams reply not delivered");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer() -> StreamPacer {
        StreamPacer::new(Duration::from_secs(1), Duration::from_secs(90), 40)
    }

    #[tokio::test(start_paused = true)]
    async fn updates_show_the_stable_prefix_only_when_it_grows_with_sequence_numbers_from_one() {
        let mut pacer = pacer();
        let now = Instant::now();
        assert_eq!(
            pacer.next_allowed(),
            None,
            "the first update may go at once"
        );
        assert_eq!(pacer.update("Hel", now), None, "no whole word yet");
        let first = pacer.update("Hello the", now).unwrap();
        assert_eq!(
            first,
            Update {
                sequence: 1,
                text: "Hello".into()
            }
        );
        pacer.delivered(first, now);
        assert_eq!(pacer.next_allowed(), Some(now + Duration::from_secs(1)));
        assert_eq!(pacer.update("Hello the", now), None, "nothing new to show");
        assert_eq!(
            pacer.update("Hello **the", now),
            None,
            "open markup is held back"
        );
        let second = pacer.update("Hello there, friend", now).unwrap();
        assert_eq!(second.sequence, 2);
        assert_eq!(second.text, "Hello there,");
        assert!(second.text.starts_with(pacer.shown()));
        pacer.delivered(second, now + Duration::from_secs(1));
        assert_eq!(pacer.shown(), "Hello there,");
        assert_eq!(pacer.next_allowed(), Some(now + Duration::from_secs(2)));
    }

    #[tokio::test(start_paused = true)]
    async fn text_that_no_longer_starts_with_what_was_shown_or_is_too_long_is_not_shown() {
        let mut pacer = pacer();
        let now = Instant::now();
        pacer.delivered(pacer.update("Hello there ", now).unwrap(), now);
        assert_eq!(pacer.update("Goodbye there friend ", now), None);
        let long = format!("Hello there {} ", "word ".repeat(20));
        assert_eq!(pacer.update(&long, now), None, "longer than one message");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_older_than_its_lifetime_gets_no_more_updates() {
        let mut pacer = pacer();
        let start = Instant::now();
        pacer.delivered(pacer.update("One ", start).unwrap(), start);
        let later = start + Duration::from_secs(89);
        let update = pacer.update("One two ", later).unwrap();
        pacer.delivered(update, later);
        assert_eq!(
            pacer.update("One two three ", start + Duration::from_secs(90)),
            None
        );
    }

    use crate::service_url::AllowedServiceUrls;
    use crate::token::TokenClient;
    use std::sync::{Arc, Mutex};
    use whisperengine_contract::{
        Capabilities, Card, CommandInvocation, ConversationContext, OutboundReply, Platform,
        PlatformAccount, ReplySink,
    };

    /// A core stand-in that pushes `pushes` (50 ms apart) and then answers `outcome`.
    struct Scripted {
        pushes: Vec<&'static str>,
        outcome: HandlerOutcome,
    }

    #[async_trait::async_trait]
    impl EventHandler for Scripted {
        async fn handle(
            &self,
            _event: InboundEvent,
            _capabilities: Capabilities,
        ) -> HandlerOutcome {
            self.outcome.clone()
        }

        async fn handle_streaming(
            &self,
            _event: InboundEvent,
            _capabilities: Capabilities,
            sink: Arc<dyn ReplySink>,
        ) -> HandlerOutcome {
            for push in &self.pushes {
                sink.push(push);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            self.outcome.clone()
        }
    }

    /// A connector service on 127.0.0.1 recording every activity posted to it (answering the
    /// stream id `s-1`), with a token endpoint; its base URL and the bodies.
    async fn service() -> (Url, Arc<Mutex<Vec<Value>>>) {
        use axum::routing::post;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        let app = axum::Router::new()
            .route(
                "/token",
                post(|| async { axum::Json(json!({"access_token": "token", "expires_in": 3600})) }),
            )
            .route(
                "/v3/{*rest}",
                post(move |axum::Json(body): axum::Json<Value>| async move {
                    recorded.lock().unwrap().push(body);
                    axum::Json(json!({"id": "s-1"}))
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (Url::parse(&format!("http://{address}/")).unwrap(), seen)
    }

    /// Runs one turn of `handler` in a 1:1 chat against a fresh service; what it was sent.
    async fn turn(handler: Scripted) -> Vec<Value> {
        let (base, seen) = service().await;
        let http = reqwest::Client::new();
        let tokens = TokenClient::new(
            http.clone(),
            base.join("token").unwrap(),
            "app".into(),
            secrecy::SecretString::from("secret"),
        );
        let client =
            ConnectorClient::new(http, tokens, AllowedServiceUrls::new(vec![base.clone()]));
        let activity: Activity = serde_json::from_value(json!({
            "type": "message", "id": "1", "serviceUrl": base.as_str(), "channelId": "msteams",
            "from": {"id": "29:ana", "aadObjectId": "aad-ana"},
            "conversation": {"id": "a:dm", "conversationType": "personal", "tenantId": "t1"},
            "recipient": {"id": "28:app"}, "text": "hello"
        }))
        .unwrap();
        let event = InboundEvent::Command(CommandInvocation {
            event_id: "e-1".into(),
            invoker: PlatformAccount::new(Platform::Teams, "t1", "aad-ana"),
            context: ConversationContext::direct("a:dm"),
            name: "help".into(),
            args: Vec::new(),
            invoker_is_admin: false,
        });
        reply_while_written(&client, &handler, &activity, &base, event, None).await;
        let sent = seen.lock().unwrap().clone();
        sent
    }

    fn stream_type(body: &Value) -> Option<&str> {
        body["entities"]
            .as_array()?
            .iter()
            .find(|entity| entity["type"] == "streaminfo")?["streamType"]
            .as_str()
    }

    #[tokio::test]
    async fn a_duplicate_found_after_text_showed_ends_the_stream_with_what_it_showed() {
        let sent = turn(Scripted {
            pushes: vec!["Hello ", "there ", "my friend"],
            outcome: HandlerOutcome::Duplicate,
        })
        .await;
        let (last, updates) = sent.split_last().unwrap();
        assert!(!updates.is_empty());
        assert!(updates
            .iter()
            .all(|body| stream_type(body) == Some("streaming")));
        assert_eq!(stream_type(last), Some("final"));
        assert_eq!(last["type"], "message");
        assert_eq!(last["text"], updates.last().unwrap()["text"]);
    }

    #[tokio::test]
    async fn a_card_outcome_ends_the_stream_with_the_card_attached() {
        let mut reply = OutboundReply::text("Who you are");
        reply.card = Some(Card::new("Who you are"));
        let sent = turn(Scripted {
            pushes: vec!["Who ", "you ", "are "],
            outcome: HandlerOutcome::Reply(reply),
        })
        .await;
        let last = sent.last().unwrap();
        assert_eq!(stream_type(last), Some("final"));
        assert_eq!(
            last["attachments"][0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(
            sent.iter().filter(|body| body["type"] == "message").count(),
            1
        );
    }

    #[tokio::test]
    async fn when_nothing_was_pushed_the_reply_is_one_plain_message() {
        let sent = turn(Scripted {
            pushes: Vec::new(),
            outcome: HandlerOutcome::Reply(OutboundReply::text("Hello there")),
        })
        .await;
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0]["type"], "message");
        assert_eq!(sent[0]["text"], "Hello there");
        assert!(sent[0].get("entities").is_none());
    }

    #[test]
    fn entities_follow_the_streaming_protocol() {
        assert_eq!(
            streaming_entity(None, 1),
            json!({"type": "streaminfo", "streamType": "streaming", "streamSequence": 1})
        );
        assert_eq!(
            streaming_entity(Some("s-1"), 2),
            json!({"type": "streaminfo", "streamType": "streaming", "streamSequence": 2, "streamId": "s-1"})
        );
        let last = final_entity("s-1");
        assert_eq!(last["streamType"], "final");
        assert!(last.get("streamSequence").is_none());
    }
}
