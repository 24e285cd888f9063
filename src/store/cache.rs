//! Redis as the shared cache across host processes: event dedupe, rate-limit windows, and invalidation
//! of the hot layer by pub/sub. Every call here is an optimisation with an SQL or in-process fallback:
//! when Redis is unreachable the calls return errors, the caller falls back, and a reconnect is tried
//! at most every few seconds, so losing Redis costs speed, never data or correctness.

use crate::store::announce::{Applied, TurnAnnouncement};
use crate::store::crypto::ContentCipher;
use crate::store::hot::HotLayer;
use crate::store::ids::IdentityId;
use crate::store::propagation::{self, Arrivals, Via};
use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;
use whisperengine_contract::Platform;

/// Pause between reconnect attempts while Redis is away.
const RECONNECT_PAUSE: Duration = Duration::from_secs(3);
/// Pause between attempts to resubscribe to invalidations after Redis went away.
const RESUBSCRIBE_PAUSE: Duration = Duration::from_secs(1);
/// How long an event id is remembered for dedupe.
const EVENT_TTL_SECONDS: u64 = 24 * 3600;

/// Why a cache call did not answer.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis is not connected (next attempt in a few seconds)")]
    Disconnected,
    #[error("announcement not encoded: {0}")]
    Encode(String),
}

/// Handle to Redis; cheap to clone.
#[derive(Clone)]
pub struct SharedCache {
    client: redis::Client,
    prefix: Arc<str>,
    /// This process, so it ignores its own invalidations.
    process_id: Uuid,
    state: Arc<Mutex<ConnectionState>>,
}

#[derive(Default)]
struct ConnectionState {
    manager: Option<ConnectionManager>,
    last_attempt: Option<Instant>,
}

impl SharedCache {
    /// Prepares the cache and tries to connect once; a connection failure is logged, not fatal.
    /// Only an unreadable URL is an error.
    pub async fn connect(url: &str, prefix: &str) -> Result<SharedCache, CacheError> {
        let cache = SharedCache {
            client: redis::Client::open(url)?,
            prefix: prefix.into(),
            process_id: Uuid::new_v4(),
            state: Arc::new(Mutex::new(ConnectionState::default())),
        };
        if let Err(error) = cache.manager().await {
            tracing::warn!(%error, "redis unavailable at start; continuing on SQL alone and retrying");
        }
        Ok(cache)
    }

    /// This process on the invalidation channel (also its origin in the SQL change feed).
    pub fn process_id(&self) -> Uuid {
        self.process_id
    }

    fn key(&self, suffix: &str) -> String {
        format!("{}{}", self.prefix, suffix)
    }

    async fn manager(&self) -> Result<ConnectionManager, CacheError> {
        {
            let mut state = lock(&self.state);
            if let Some(manager) = &state.manager {
                return Ok(manager.clone());
            }
            if state
                .last_attempt
                .is_some_and(|at| at.elapsed() < RECONNECT_PAUSE)
            {
                return Err(CacheError::Disconnected);
            }
            state.last_attempt = Some(Instant::now());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(2);
        let manager = ConnectionManager::new_with_config(self.client.clone(), config).await?;
        lock(&self.state).manager = Some(manager.clone());
        Ok(manager)
    }

    /// Notes a failed command: when the connection itself is at fault, later calls fail fast with
    /// [`CacheError::Disconnected`] until the next reconnect attempt, instead of each waiting for
    /// Redis's timeouts while it is away.
    fn failed(&self, error: redis::RedisError) -> CacheError {
        if error.is_io_error()
            || error.is_connection_dropped()
            || error.is_connection_refusal()
            || error.is_timeout()
        {
            let mut state = lock(&self.state);
            state.manager = None;
            state.last_attempt = Some(Instant::now());
        }
        CacheError::Redis(error)
    }

    /// Answers when Redis is reachable.
    pub async fn ping(&self) -> Result<(), CacheError> {
        let mut manager = self.manager().await?;
        let _: String = redis::cmd("PING")
            .query_async(&mut manager)
            .await
            .map_err(|error| self.failed(error))?;
        Ok(())
    }

    /// Marks an event as processed; `Ok(false)` when another process or an earlier delivery has it.
    pub async fn mark_event(&self, platform: Platform, event_id: &str) -> Result<bool, CacheError> {
        let mut manager = self.manager().await?;
        let key = self.key(&format!("event:{platform}:{event_id}"));
        let was_set: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(EVENT_TTL_SECONDS)
            .query_async(&mut manager)
            .await
            .map_err(|error| self.failed(error))?;
        Ok(was_set.is_some())
    }

    /// Forgets an event mark (processing failed before anything was stored).
    pub async fn unmark_event(&self, platform: Platform, event_id: &str) -> Result<(), CacheError> {
        let mut manager = self.manager().await?;
        let _: i64 = manager
            .del(self.key(&format!("event:{platform}:{event_id}")))
            .await
            .map_err(|error| self.failed(error))?;
        Ok(())
    }

    /// Counts one hit in a fixed window shared by every process; returns the count so far.
    pub async fn count_in_window(&self, name: &str, window: Duration) -> Result<u64, CacheError> {
        let mut manager = self.manager().await?;
        let window_seconds = window.as_secs().max(1);
        let slot = chrono::Utc::now().timestamp() as u64 / window_seconds;
        let key = self.key(&format!("rate:{name}:{slot}"));
        let (count,): (u64,) = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .expire(&key, (window_seconds * 2) as i64)
            .ignore()
            .query_async(&mut manager)
            .await
            .map_err(|error| self.failed(error))?;
        Ok(count)
    }

    /// Deletes every key of this host (its prefix) whose name contains `text`; returns how many.
    pub async fn delete_keys_containing(&self, text: &str) -> Result<u64, CacheError> {
        let pattern = format!("{}*{}*", glob_escape(&self.prefix), glob_escape(text));
        self.delete_matching(&pattern, |_| true).await
    }

    /// Deletes this host's cached keys (rate-limit windows and whatever else is cached), keeping
    /// the event-dedupe marks so a platform's retry is still recognised; returns how many went.
    pub async fn clear_cached(&self) -> Result<u64, CacheError> {
        let pattern = format!("{}*", glob_escape(&self.prefix));
        let dedupe = self.key("event:");
        self.delete_matching(&pattern, |key| !key.starts_with(&dedupe))
            .await
    }

    async fn delete_matching(
        &self,
        pattern: &str,
        keep: impl Fn(&str) -> bool,
    ) -> Result<u64, CacheError> {
        let mut manager = self.manager().await?;
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut manager)
                .await
                .map_err(|error| self.failed(error))?;
            let keys: Vec<String> = keys.into_iter().filter(|key| keep(key)).collect();
            if !keys.is_empty() {
                let removed: u64 = manager
                    .del(&keys)
                    .await
                    .map_err(|error| self.failed(error))?;
                deleted += removed;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    fn channel(&self) -> String {
        self.key("invalidate")
    }

    /// The channel of turns announced with their content ([`crate::store::announce`]).
    fn turns_channel(&self) -> String {
        self.key("turns")
    }

    /// Announces a turn just committed, with its content, to the other host processes (sealed with
    /// `cipher` when there is one). The publisher and the commit time are set here.
    pub async fn publish_turn(
        &self,
        mut announcement: TurnAnnouncement,
        cipher: Option<&ContentCipher>,
    ) -> Result<(), CacheError> {
        announcement.origin = self.process_id;
        announcement.committed_at = Utc::now();
        let payload = announcement
            .encode(cipher)
            .map_err(|error| CacheError::Encode(error.to_string()))?;
        let mut manager = self.manager().await?;
        // The publisher in clear in front, so every process skips its own without opening them.
        let _: i64 = manager
            .publish(
                self.turns_channel(),
                format!("{}|{payload}", self.process_id),
            )
            .await
            .map_err(|error| self.failed(error))?;
        Ok(())
    }

    /// Tells other host processes to drop what they cache about an identity (`None`: everything).
    /// Called right after the change committed; the message carries that moment, so the receivers
    /// can time the propagation ([`InvalidationMessage`]).
    pub async fn publish_invalidation(
        &self,
        identity: Option<IdentityId>,
    ) -> Result<(), CacheError> {
        let message = InvalidationMessage {
            origin: self.process_id.to_string(),
            committed_at: Some(Utc::now()),
            target: identity,
        };
        let mut manager = self.manager().await?;
        let _: i64 = manager
            .publish(self.channel(), message.to_string())
            .await
            .map_err(|error| self.failed(error))?;
        Ok(())
    }

    /// Listens for other processes' invalidations until the task is dropped, reconnecting when Redis
    /// comes back. While disconnected, the hot layer is cleared on reconnect, since messages may
    /// have been missed.
    /// Each message from another process is timed into the propagation histogram and noted in
    /// `arrivals`.
    /// Announced turns are appended to the hot state of a person held here (opened with `cipher`).
    pub fn spawn_invalidation_listener(
        &self,
        hot: Arc<HotLayer>,
        arrivals: Arc<Arrivals>,
        cipher: Option<Arc<ContentCipher>>,
    ) -> tokio::task::JoinHandle<()> {
        let cache = self.clone();
        tokio::spawn(async move {
            let mut was_connected = false;
            loop {
                match cache
                    .listen(&hot, &arrivals, cipher.as_deref(), was_connected)
                    .await
                {
                    Ok(()) => tracing::warn!(
                        "redis invalidation subscription lost; resubscribing (the SQL change feed covers the gap)"
                    ),
                    Err(error) => {
                        tracing::debug!(%error, "redis invalidation listener cannot subscribe")
                    }
                }
                was_connected = true;
                tokio::time::sleep(RESUBSCRIBE_PAUSE).await;
            }
        })
    }

    async fn listen(
        &self,
        hot: &HotLayer,
        arrivals: &Arrivals,
        cipher: Option<&ContentCipher>,
        is_reconnect: bool,
    ) -> Result<(), CacheError> {
        use futures_util::StreamExt;
        let mut pubsub = self.client.get_async_pubsub().await?;
        let turns_channel = self.turns_channel();
        pubsub
            .subscribe(&[self.channel(), turns_channel.clone()])
            .await?;
        if is_reconnect {
            hot.clear();
        }
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            let Ok(payload) = message.get_payload::<String>() else {
                continue;
            };
            if message.get_channel_name() == turns_channel {
                self.receive_turn(hot, arrivals, cipher, &payload);
                continue;
            }
            let Some(message) = InvalidationMessage::parse(&payload) else {
                continue;
            };
            if message.origin == self.process_id.to_string() {
                continue;
            }
            let received_at = Utc::now();
            match message.target {
                None => hot.clear(),
                Some(identity) => {
                    hot.invalidate_identity(identity);
                }
            }
            if let Some(committed_at) = message.committed_at {
                propagation::observe(Via::PubSub, committed_at, received_at);
                if let Ok(origin) = message.origin.parse::<Uuid>() {
                    arrivals.received_by_pubsub(origin, message.target, committed_at);
                }
            }
        }
        Ok(())
    }

    /// Applies a turn another process announced; one that cannot be read drops what this process
    /// holds of everyone (the person is unknown), as a missed invalidation would.
    fn receive_turn(
        &self,
        hot: &HotLayer,
        arrivals: &Arrivals,
        cipher: Option<&ContentCipher>,
        payload: &str,
    ) {
        let (publisher, body) = payload.split_once('|').unwrap_or(("", payload));
        if publisher.parse::<Uuid>().ok() == Some(self.process_id) {
            return;
        }
        let announcement = match TurnAnnouncement::decode(body, cipher) {
            Ok(announcement) => announcement,
            Err(error) => {
                tracing::warn!(%error, "a turn announced by another process was not read; the hot layer starts over");
                hot.clear();
                return;
            }
        };
        let (origin, identity, committed_at) = (
            announcement.origin,
            announcement.identity,
            announcement.committed_at,
        );
        let applied = announcement.apply(hot);
        // Timed once applied: the first moment a reply here would see the turn.
        let received_at = Utc::now();
        metrics::counter!(
            crate::telemetry::names::TURNS_ANNOUNCED_IN,
            "outcome" => match applied {
                Applied::Appended { .. } => "appended",
                Applied::NotHeld => "not_held",
            }
        )
        .increment(1);
        propagation::observe(Via::PubSub, committed_at, received_at);
        metrics::histogram!(crate::telemetry::names::TURN_VISIBILITY_SECONDS)
            .record(propagation::latency(committed_at, received_at));
        arrivals.received_by_pubsub(origin, Some(identity), committed_at);
    }
}

/// One invalidation on the channel: `{origin}@{committed_at}|{target}`, where `origin` is the
/// publishing process, `committed_at` the moment the change committed (microseconds since the Unix
/// epoch, UTC) and `target` an identity id or `all`.
///
/// The older form `{origin}|{target}` (no commit time) is still applied, just not timed. A process
/// that only knows the older form reads the newer one too: it compares everything before the first
/// `|` with its own id, which never matches, and applies the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidationMessage {
    pub origin: String,
    pub committed_at: Option<DateTime<Utc>>,
    /// `None`: everything.
    pub target: Option<IdentityId>,
}

impl InvalidationMessage {
    /// Reads a message of either form; `None` when it is neither.
    pub fn parse(payload: &str) -> Option<InvalidationMessage> {
        let (sender, target) = payload.split_once('|')?;
        let target = match target {
            "all" => None,
            identity => Some(identity.parse::<IdentityId>().ok()?),
        };
        let (origin, committed_at) = match sender.split_once('@') {
            Some((origin, micros)) => (
                origin,
                micros
                    .parse::<i64>()
                    .ok()
                    .and_then(DateTime::<Utc>::from_timestamp_micros),
            ),
            None => (sender, None),
        };
        Some(InvalidationMessage {
            origin: origin.to_string(),
            committed_at,
            target,
        })
    }
}

impl std::fmt::Display for InvalidationMessage {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.origin)?;
        if let Some(committed_at) = self.committed_at {
            write!(formatter, "@{}", committed_at.timestamp_micros())?;
        }
        match self.target {
            Some(identity) => write!(formatter, "|{identity}"),
            None => formatter.write_str("|all"),
        }
    }
}

/// `text` with Redis glob characters escaped, to match literally inside a SCAN pattern.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '*' | '?' | '[' | ']' | '\\' | '^') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalidation_carries_its_commit_time_and_reads_back() {
        let identity = IdentityId::random();
        let committed_at =
            DateTime::<Utc>::from_timestamp_micros(1_765_000_000_123_456).unwrap_or_default();
        let message = InvalidationMessage {
            origin: Uuid::nil().to_string(),
            committed_at: Some(committed_at),
            target: Some(identity),
        };
        let text = message.to_string();
        assert_eq!(text, format!("{}@1765000000123456|{identity}", Uuid::nil()));
        assert_eq!(InvalidationMessage::parse(&text), Some(message));
        // What a process that only knows the older form reads: another origin, the same target.
        let (origin, target) = text.split_once('|').unwrap_or_default();
        assert_ne!(origin, Uuid::nil().to_string());
        assert_eq!(target.parse::<IdentityId>().ok(), Some(identity));
    }

    #[test]
    fn an_invalidation_without_a_commit_time_is_still_applied() {
        let identity = IdentityId::random();
        let old = format!("{}|{identity}", Uuid::nil());
        assert_eq!(
            InvalidationMessage::parse(&old),
            Some(InvalidationMessage {
                origin: Uuid::nil().to_string(),
                committed_at: None,
                target: Some(identity),
            })
        );
        let everything = InvalidationMessage::parse(&format!("{}|all", Uuid::nil()));
        assert_eq!(everything.and_then(|message| message.target), None);
        assert_eq!(InvalidationMessage::parse("no separator"), None);
        assert_eq!(InvalidationMessage::parse("origin|not-an-id"), None);
    }
}
