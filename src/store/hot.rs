//! The in-process hot layer shared by every connector: account → identity lookups, and per identity its
//! linked accounts, recent turns, recallable memories, emotion, preferences and latest feedback
//! ratings. Bounded by size (least recently used entries are evicted, they are reloaded from SQL on
//! demand) and guarded per identity by a striped async lock, so two platforms writing for the same
//! person at once cannot interleave.
//!
//! Nothing here is the source of truth: SQL is. An entry can be dropped at any time (eviction, an
//! invalidation from another process) and is rebuilt from SQL the next time it is needed.
//!
//! Over 500 lines: the hot layer's types and its one cache, with tests; splitting would scatter one invariant.

use crate::store::ids::{AccountId, IdentityId};
use chrono::{DateTime, Utc};
use lru::LruCache;
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::Mutex;
use whisperengine_contract::{Platform, Visibility};

/// Lock stripes: identities hash onto these, so the lock table never grows or evicts.
const LOCK_STRIPES: usize = 1024;
/// Recent turns kept per identity.
pub const RECENT_TURNS: usize = 64;
/// Recallable user memories kept per identity in the hot layer (older ones are still in SQL).
pub const RECALL_WINDOW: usize = 2000;
/// Feedback ratings kept per identity and platform: the most the adaptation note reads
/// ([`crate::core::memory::adaptation`]), whether it reads one platform's or every platform's.
pub const RECENT_RATINGS: usize = 10;
/// Emotion observations kept per identity, the latest ones (the emotion state is built from them).
pub const MAX_OBSERVATIONS: usize = 32;

/// An account's row, as the core needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    pub id: AccountId,
    pub identity_id: IdentityId,
    pub platform: Platform,
    pub scope: String,
    pub user_id: String,
    pub display_name: Option<String>,
}

/// One stored message, as kept hot.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TurnRecord {
    /// The `memory` row's id; `None` for a turn stored in this session (its id arrives on reload).
    pub memory_id: Option<i64>,
    pub account_id: AccountId,
    pub is_user: bool,
    pub content: String,
    pub platform: Platform,
    pub scope: String,
    /// The conversation it was said in (a group chat's memories are recalled only there).
    pub channel_id: String,
    pub visibility: Visibility,
    pub importance: f64,
    pub emotion: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Stemmed terms of `content`, computed once for recall ([`crate::core::memory::recall::index_terms`]).
    pub terms: std::sync::Arc<[String]>,
    /// When it was last brought up in a reply.
    pub last_recalled_at: Option<DateTime<Utc>>,
}

/// One observation of a person's feeling (see [`crate::core::emotion`]), with its origin account.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Observation {
    pub account_id: AccountId,
    pub label: String,
    pub valence: f64,
    pub arousal: f64,
    pub intensity: f64,
    pub confidence: f64,
    pub at: DateTime<Utc>,
    /// Where the message that showed it was said: a mood seen in a DM does not colour a reply in
    /// a channel, by the same rule as memories.
    pub platform: Platform,
    pub scope: String,
    pub channel_id: String,
    pub visibility: Visibility,
}

/// A current fact of one of the identity's accounts.
#[derive(Debug, Clone, PartialEq)]
pub struct FactRecord {
    pub id: i64,
    pub account_id: AccountId,
    pub subject: String,
    pub attribute: String,
    pub value: String,
    pub confidence: f64,
    pub platform: Platform,
    pub scope: String,
    pub visibility: Visibility,
    pub updated_at: DateTime<Utc>,
}

/// The emotion state of an identity.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EmotionSnapshot {
    pub mood: String,
    pub valence: f64,
    pub intensity: f64,
    pub updated_at: DateTime<Utc>,
    pub updated_by_account_id: Option<AccountId>,
    pub version: i64,
}

/// A preference row of one of the identity's accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreferenceRecord {
    pub account_id: AccountId,
    pub key: String,
    pub value: String,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    pub updated_by_platform: String,
}

/// An open (manual) preference conflict: its key's previous value holds until the person chooses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenConflict {
    pub id: i64,
    pub key: String,
    pub kept_value: String,
    pub kept_platform: String,
}

/// One `feedback` rating given by the identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    /// The `feedback` row's id: newer ratings have larger ids.
    pub id: i64,
    /// The platform it was given on, as stored (`slack`, `discord`, ...).
    pub platform: String,
    /// 1 (bad) to 5 (great).
    pub score: i16,
    pub comment: Option<String>,
}

/// Everything hot about one identity.
#[derive(Debug, Clone, Default)]
pub struct IdentityHot {
    pub accounts: Vec<AccountInfo>,
    pub isolated: bool,
    /// Latest turns across the identity's accounts, oldest first.
    pub recent: VecDeque<TurnRecord>,
    /// Users' own messages that may be recalled, oldest first.
    pub recallable: VecDeque<TurnRecord>,
    pub emotion: Option<EmotionSnapshot>,
    /// Whether `emotion` changed since it was last written to SQL.
    pub emotion_dirty: bool,
    pub preferences: Vec<PreferenceRecord>,
    /// Current (not superseded) facts of the identity's accounts.
    pub facts: Vec<FactRecord>,
    /// Open preference conflicts, oldest first.
    pub open_conflicts: Vec<OpenConflict>,
    /// The latest emotion observations across the identity's accounts, oldest first.
    pub observations: VecDeque<Observation>,
    /// The latest [`RECENT_RATINGS`] feedback ratings of each platform, newest first: enough for
    /// the adaptation note both when it reads one platform and when it reads them all.
    pub ratings: Vec<Rating>,
    /// When this state was read from SQL; older than the refresh interval means re-read it.
    pub loaded_at: Option<std::time::Instant>,
    /// When the SQL read of this state began (`None`: a new person, nothing to read). A turn
    /// another process committed before then is in this state already, or was erased since, so
    /// its announcement is not applied ([`crate::store::announce`]).
    pub read_since: Option<DateTime<Utc>>,
}

/// What the hot layer holds for an identity.
// A transient return value, moved once: boxing the fresh state would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Lookup {
    Fresh(IdentityHot),
    /// Loaded longer ago than the refresh interval: re-read from SQL, keeping this unsaved emotion.
    Stale(Option<EmotionSnapshot>),
    Missing,
}

impl IdentityHot {
    /// Appends an emotion observation, keeping the latest `limit`.
    pub fn push_observation(&mut self, observation: Observation, limit: usize) {
        self.observations.push_back(observation);
        while self.observations.len() > limit {
            self.observations.pop_front();
        }
    }

    /// Adds a rating just stored (or read), keeping the newest [`RECENT_RATINGS`] of its platform.
    /// A rating already held (same id) is not added twice.
    pub fn push_rating(&mut self, rating: Rating) {
        if self.ratings.iter().any(|held| held.id == rating.id) {
            return;
        }
        let position = self
            .ratings
            .iter()
            .position(|held| held.id < rating.id)
            .unwrap_or(self.ratings.len());
        let platform = rating.platform.clone();
        self.ratings.insert(position, rating);
        let mut kept = 0;
        self.ratings.retain(|held| {
            if held.platform != platform {
                return true;
            }
            kept += 1;
            kept <= RECENT_RATINGS
        });
    }

    /// Adds a turn stored by another process at its place in time; false when it is held already
    /// (same account, side, time and content).
    pub fn insert_turn_in_order(&mut self, turn: TurnRecord) -> bool {
        let is_same = |held: &TurnRecord| {
            held.created_at == turn.created_at
                && held.account_id == turn.account_id
                && held.is_user == turn.is_user
                && held.content == turn.content
        };
        if self.recent.iter().rev().any(is_same)
            || (turn.is_user && self.recallable.iter().rev().any(is_same))
        {
            return false;
        }
        let at = |turn: &TurnRecord| turn.created_at;
        if turn.is_user {
            insert_in_time_order(&mut self.recallable, turn.clone(), at, RECALL_WINDOW);
        }
        insert_in_time_order(&mut self.recent, turn, at, RECENT_TURNS);
        true
    }

    /// Adds an observation made by another process at its place in time, keeping the latest
    /// `limit`; one held already (same account and time) is not added twice.
    pub fn insert_observation_in_order(&mut self, observation: Observation, limit: usize) {
        if self
            .observations
            .iter()
            .any(|held| held.at == observation.at && held.account_id == observation.account_id)
        {
            return;
        }
        insert_in_time_order(&mut self.observations, observation, |held| held.at, limit);
    }

    /// Appends a turn to the recent window (and to the recall window for user messages).
    pub fn push_turn(&mut self, turn: TurnRecord) {
        if turn.is_user {
            self.recallable.push_back(turn.clone());
            while self.recallable.len() > RECALL_WINDOW {
                self.recallable.pop_front();
            }
        }
        self.recent.push_back(turn);
        while self.recent.len() > RECENT_TURNS {
            self.recent.pop_front();
        }
    }
}

/// Puts `item` after the last one at or before its time (at the end, for the newest) and keeps
/// the latest `limit`.
fn insert_in_time_order<T>(
    items: &mut VecDeque<T>,
    item: T,
    at: impl Fn(&T) -> DateTime<Utc>,
    limit: usize,
) {
    let position = items
        .iter()
        .rposition(|held| at(held) <= at(&item))
        .map_or(0, |index| index + 1);
    items.insert(position, item);
    while items.len() > limit {
        items.pop_front();
    }
}

/// One lock stripe: `order` serialises everything done for its identities; `commits` is held
/// shared by each turn until its rows are committed, and exclusively by every other holder.
#[derive(Default)]
struct Stripe {
    order: tokio::sync::Mutex<()>,
    commits: tokio::sync::RwLock<()>,
}

/// An identity's lock ([`HotLayer::lock_identity`]), released when dropped.
pub struct IdentityGuard<'a> {
    _order: tokio::sync::MutexGuard<'a, ()>,
    _commits: tokio::sync::RwLockWriteGuard<'a, ()>,
}

/// An identity's lock held by a message's turn ([`HotLayer::lock_identity_for_turn`]).
pub struct TurnGuard<'a> {
    order: Option<tokio::sync::MutexGuard<'a, ()>>,
    _commit: tokio::sync::RwLockReadGuard<'a, ()>,
}

impl TurnGuard<'_> {
    /// Lets the identity's next turn start while this one's rows, already queued for the writer
    /// (which commits in queue order) and already in the hot state, are still being committed.
    /// Other holders of the lock still wait until this guard is dropped.
    pub fn let_next_in(&mut self) {
        self.order = None;
    }
}

/// The hot layer.
pub struct HotLayer {
    refresh_after: std::time::Duration,
    accounts: Mutex<LruCache<(Platform, String, String), AccountInfo>>,
    identities: Mutex<LruCache<IdentityId, IdentityHot>>,
    stripes: Vec<Stripe>,
    recent_events: Mutex<LruCache<(Platform, String), ()>>,
    /// Bumped by every invalidation, so a state read from SQL before one is not cached after it.
    generation: std::sync::atomic::AtomicU64,
}

impl HotLayer {
    /// A hot layer holding at most `capacity` identities (and as many account lookups), each
    /// re-read from SQL once it is older than `refresh_after` (MEMORY_SYNC_INTERVAL), so several host
    /// processes without Redis still converge.
    pub fn new(capacity: usize, refresh_after: std::time::Duration) -> HotLayer {
        let capacity = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        let events = NonZeroUsize::new(capacity.get().saturating_mul(4).max(1024))
            .unwrap_or(NonZeroUsize::MIN);
        HotLayer {
            refresh_after,
            accounts: Mutex::new(LruCache::new(capacity)),
            identities: Mutex::new(LruCache::new(capacity)),
            stripes: (0..LOCK_STRIPES).map(|_| Stripe::default()).collect(),
            recent_events: Mutex::new(LruCache::new(events)),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn stripe(&self, identity: IdentityId) -> &Stripe {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        identity.hash(&mut hasher);
        let stripe = (hasher.finish() as usize) % self.stripes.len();
        &self.stripes[stripe]
    }

    /// Serialises work for one identity: hold the guard while reading and writing its state. It is
    /// granted once no turn of the identity is still being committed
    /// ([`TurnGuard::let_next_in`]), so what it reads from SQL includes every turn before it.
    pub async fn lock_identity(&self, identity: IdentityId) -> IdentityGuard<'_> {
        let stripe = self.stripe(identity);
        let order = stripe.order.lock().await;
        let commits = stripe.commits.write().await;
        IdentityGuard {
            _order: order,
            _commits: commits,
        }
    }

    /// The identity's lock for a message's turn: like [`HotLayer::lock_identity`], but the turn may
    /// let the identity's next turn in while its own rows are still being committed
    /// ([`TurnGuard::let_next_in`]); anything else taking the lock waits for that commit.
    pub async fn lock_identity_for_turn(&self, identity: IdentityId) -> TurnGuard<'_> {
        let stripe = self.stripe(identity);
        let order = stripe.order.lock().await;
        let commit = stripe.commits.read().await;
        TurnGuard {
            order: Some(order),
            _commit: commit,
        }
    }

    pub fn account(&self, platform: Platform, scope: &str, user_id: &str) -> Option<AccountInfo> {
        let mut accounts = lock(&self.accounts);
        accounts
            .get(&(platform, scope.to_string(), user_id.to_string()))
            .cloned()
    }

    pub fn remember_account(&self, account: AccountInfo) {
        let key = (
            account.platform,
            account.scope.clone(),
            account.user_id.clone(),
        );
        lock(&self.accounts).put(key, account);
    }

    /// Whether the identity's state is loaded (fresh or not).
    pub fn contains_identity(&self, identity: IdentityId) -> bool {
        lock(&self.identities).contains(&identity)
    }

    /// A copy of the identity's hot state, if loaded.
    pub fn identity(&self, identity: IdentityId) -> Option<IdentityHot> {
        lock(&self.identities).get(&identity).cloned()
    }

    /// The identity's state if loaded and fresh.
    pub fn fresh_identity(&self, identity: IdentityId) -> Lookup {
        let mut identities = lock(&self.identities);
        let is_stale = match identities.get(&identity) {
            None => return Lookup::Missing,
            Some(state) => state
                .loaded_at
                .is_some_and(|at| at.elapsed() >= self.refresh_after),
        };
        if !is_stale {
            return identities
                .get(&identity)
                .cloned()
                .map_or(Lookup::Missing, Lookup::Fresh);
        }
        let dropped = identities.pop(&identity);
        Lookup::Stale(
            dropped
                .filter(|state| state.emotion_dirty)
                .and_then(|state| state.emotion),
        )
    }

    /// Runs `change` on the identity's hot state if it is loaded; returns whether it was.
    pub fn update_identity(
        &self,
        identity: IdentityId,
        change: impl FnOnce(&mut IdentityHot),
    ) -> bool {
        match lock(&self.identities).get_mut(&identity) {
            Some(state) => {
                change(state);
                true
            }
            None => false,
        }
    }

    /// Stores a freshly loaded state. Returns an evicted identity whose emotion was not yet written to
    /// SQL, so the caller can write it.
    pub fn insert_identity(
        &self,
        identity: IdentityId,
        state: IdentityHot,
    ) -> Option<(IdentityId, IdentityHot)> {
        let evicted = lock(&self.identities).push(identity, state);
        evicted.filter(|(id, state)| *id != identity && state.emotion_dirty)
    }

    /// The invalidation count so far: read it before loading a state from SQL, and cache the state
    /// with [`HotLayer::insert_identity_if_current`].
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Counts a change made elsewhere (another process) to a person not held here, so a load of
    /// them under way is not kept ([`HotLayer::insert_identity_if_current`]).
    pub fn note_outside_change(&self) {
        self.bump_generation();
    }

    fn bump_generation(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// [`HotLayer::insert_identity`], unless an invalidation happened since `generation` was read:
    /// then the state may predate a change another process made, and it is handed back uncached.
    pub fn insert_identity_if_current(
        &self,
        identity: IdentityId,
        state: IdentityHot,
        generation: u64,
    ) -> Result<Option<(IdentityId, IdentityHot)>, Box<IdentityHot>> {
        let mut identities = lock(&self.identities);
        if self.generation() != generation {
            return Err(Box::new(state));
        }
        let evicted = identities.push(identity, state);
        Ok(evicted.filter(|(id, state)| *id != identity && state.emotion_dirty))
    }

    /// Drops everything cached about an identity and its accounts (after link, unlink, forget, or an
    /// invalidation from another process). Returns the dropped state when its emotion was unsaved.
    pub fn invalidate_identity(&self, identity: IdentityId) -> Option<IdentityHot> {
        self.bump_generation();
        let stale: Vec<_> = lock(&self.accounts)
            .iter()
            .filter(|(_, account)| account.identity_id == identity)
            .map(|(key, _)| key.clone())
            .collect();
        {
            let mut accounts = lock(&self.accounts);
            for key in stale {
                accounts.pop(&key);
            }
        }
        lock(&self.identities)
            .pop(&identity)
            .filter(|state| state.emotion_dirty)
    }

    /// Drops every cached entry (used by `admin isolate all` and tests).
    pub fn clear(&self) {
        self.bump_generation();
        lock(&self.accounts).clear();
        lock(&self.identities).clear();
    }

    /// States whose emotion changed since they were last saved, marking them clean.
    pub fn take_dirty_emotions(&self) -> Vec<(IdentityId, EmotionSnapshot)> {
        let mut identities = lock(&self.identities);
        let mut dirty = Vec::new();
        for (id, state) in identities.iter_mut() {
            if state.emotion_dirty {
                state.emotion_dirty = false;
                if let Some(emotion) = &state.emotion {
                    dirty.push((*id, emotion.clone()));
                }
            }
        }
        dirty
    }

    /// Records an event id as seen in this process; false when it was already seen.
    pub fn mark_event(&self, platform: Platform, event_id: &str) -> bool {
        lock(&self.recent_events)
            .put((platform, event_id.to_string()), ())
            .is_none()
    }

    /// Forgets an event id (its processing failed before anything was stored, so a retry may run).
    pub fn unmark_event(&self, platform: Platform, event_id: &str) {
        lock(&self.recent_events).pop(&(platform, event_id.to_string()));
    }

    /// Up to `limit` identities currently hot, most recently used first (for consistency checks).
    pub fn identity_ids(&self, limit: usize) -> Vec<IdentityId> {
        lock(&self.identities)
            .iter()
            .take(limit)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Number of identities currently hot.
    pub fn len(&self) -> usize {
        lock(&self.identities).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Locks a std mutex, recovering from poisoning: the cache holds no invariants a panic could break
/// that a reload from SQL would not repair.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(text: &str, is_user: bool) -> TurnRecord {
        TurnRecord {
            account_id: 1.into(),
            is_user,
            content: text.into(),
            platform: Platform::Desktop,
            scope: String::new(),
            channel_id: "dm".into(),
            visibility: Visibility::Dm,
            importance: 0.5,
            emotion: None,
            created_at: Utc::now(),
            terms: crate::core::memory::recall::index_terms(text),
            memory_id: None,
            last_recalled_at: None,
        }
    }

    #[test]
    fn recent_turns_are_bounded_and_keep_the_latest() {
        let mut state = IdentityHot::default();
        for index in 0..(RECENT_TURNS + 10) {
            state.push_turn(turn(&index.to_string(), index % 2 == 0));
        }
        assert_eq!(state.recent.len(), RECENT_TURNS);
        assert_eq!(
            state.recent.back().map(|t| t.content.as_str()),
            Some((RECENT_TURNS + 9).to_string().as_str())
        );
        assert!(state.recallable.iter().all(|t| t.is_user));
    }

    fn rating(id: i64, platform: &str) -> Rating {
        Rating {
            id,
            platform: platform.into(),
            score: 3,
            comment: None,
        }
    }

    #[test]
    fn ratings_keep_the_newest_of_each_platform_newest_first() {
        let mut state = IdentityHot::default();
        state.push_rating(rating(1, "discord"));
        for id in 2..(RECENT_RATINGS as i64 + 5) {
            state.push_rating(rating(id, "slack"));
        }
        // Out of order (a reload raced a write) and a repeat: still sorted, still once.
        state.push_rating(rating(0, "discord"));
        state.push_rating(rating(1, "discord"));
        let ids: Vec<i64> = state.ratings.iter().map(|held| held.id).collect();
        let mut expected: Vec<i64> = (5..(RECENT_RATINGS as i64 + 5)).rev().collect();
        expected.extend([1, 0]);
        assert_eq!(ids, expected);
        let slack = state.ratings.iter().filter(|held| held.platform == "slack");
        assert_eq!(slack.count(), RECENT_RATINGS);
    }

    #[test]
    fn least_recently_used_identities_are_evicted() {
        let hot = HotLayer::new(2, std::time::Duration::from_secs(60));
        let (a, b, c) = (
            IdentityId::random(),
            IdentityId::random(),
            IdentityId::random(),
        );
        hot.insert_identity(a, IdentityHot::default());
        hot.insert_identity(b, IdentityHot::default());
        assert!(hot.identity(a).is_some()); // a is now most recent
        hot.insert_identity(c, IdentityHot::default());
        assert!(hot.identity(b).is_none());
        assert!(hot.identity(a).is_some() && hot.identity(c).is_some());
    }

    #[test]
    fn events_are_seen_once() {
        let hot = HotLayer::new(4, std::time::Duration::from_secs(60));
        assert!(hot.mark_event(Platform::Slack, "Ev1"));
        assert!(!hot.mark_event(Platform::Slack, "Ev1"));
        assert!(hot.mark_event(Platform::Discord, "Ev1"));
        hot.unmark_event(Platform::Slack, "Ev1");
        assert!(hot.mark_event(Platform::Slack, "Ev1"));
    }

    #[test]
    fn stale_states_are_reread_keeping_unsaved_emotion() {
        let hot = HotLayer::new(4, std::time::Duration::ZERO);
        let id = IdentityId::random();
        let emotion = EmotionSnapshot {
            mood: "sad".into(),
            valence: -0.5,
            intensity: 0.6,
            updated_at: Utc::now(),
            updated_by_account_id: None,
            version: 3,
        };
        hot.insert_identity(
            id,
            IdentityHot {
                emotion: Some(emotion.clone()),
                emotion_dirty: true,
                loaded_at: Some(std::time::Instant::now()),
                ..IdentityHot::default()
            },
        );
        assert!(matches!(hot.fresh_identity(id), Lookup::Stale(Some(kept)) if kept == emotion));
        assert!(matches!(hot.fresh_identity(id), Lookup::Missing));
    }

    #[test]
    fn a_state_read_before_an_invalidation_is_not_cached_after_it() {
        let hot = HotLayer::new(4, std::time::Duration::from_secs(60));
        let (id, other) = (IdentityId::random(), IdentityId::random());
        let before = hot.generation();
        // Another process's change arrives while the state is being read from SQL.
        hot.invalidate_identity(other);
        assert!(hot
            .insert_identity_if_current(id, IdentityHot::default(), before)
            .is_err());
        assert!(hot.identity(id).is_none());
        let now = hot.generation();
        assert!(hot
            .insert_identity_if_current(id, IdentityHot::default(), now)
            .is_ok());
        assert!(hot.identity(id).is_some());
    }

    #[tokio::test]
    async fn the_identity_lock_serialises_work_for_one_identity() {
        let hot = std::sync::Arc::new(HotLayer::new(4, std::time::Duration::from_secs(60)));
        let identity = IdentityId::random();
        let guard = hot.lock_identity(identity).await;
        let other = hot.clone();
        let waiter = tokio::spawn(async move {
            let _guard = other.lock_identity(identity).await;
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "a second lock must wait");
        drop(guard);
        waiter
            .await
            .expect("the waiter finishes once the lock is released");
    }

    #[tokio::test]
    async fn a_turn_lets_the_next_turn_in_but_not_other_work_before_its_commit() {
        let hot = std::sync::Arc::new(HotLayer::new(4, std::time::Duration::from_secs(60)));
        let identity = IdentityId::random();
        let mut turn = hot.lock_identity_for_turn(identity).await;
        let (other, next) = (hot.clone(), hot.clone());
        let command = tokio::spawn(async move {
            let _guard = other.lock_identity(identity).await;
        });
        let next_turn = tokio::spawn(async move {
            let _guard = next.lock_identity_for_turn(identity).await;
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!command.is_finished() && !next_turn.is_finished());
        turn.let_next_in();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(
            !command.is_finished(),
            "other work waits for the turn's commit"
        );
        drop(turn);
        command
            .await
            .expect("the command runs once the turn is committed");
        next_turn.await.expect("the next turn runs");
    }
}
