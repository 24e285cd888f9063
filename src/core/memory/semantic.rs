//! Semantic recall (LOCAL_EMBEDDINGS or EMBEDDING_MODEL): an embedding per stored user memory and
//! per message, and cosine similarity added to a memory's relevance, so a paraphrase that shares no
//! word with what the person said ("what did granny show me in the kitchen?" → "my grandmother
//! taught me to bake sourdough") is still recalled.
//!
//! - The message's embedding is asked for as soon as the message is accepted ([`Semantic::start_query`]),
//!   in parallel with storing it; the reply waits for it at most [`QUERY_WAIT`], then goes on with
//!   BM25 alone. The same vector is the stored memory's vector (one request per message), and
//!   queries are cached by text.
//! - Vectors are kept in SQL (`memory_embedding`, f32 little-endian, tagged with the model) and
//!   per identity in memory. Memories without one (stored before the model was set, or while the
//!   endpoint was down) are embedded in the background, in batches, when the identity is next read.
//! - Failures are logged and counted (`whisperengine_embedding_errors_total`), never the message's.
//!
//! Vector math is a dot product of vectors normalised when they arrive: a dozen lines, where a
//! SIMD crate (simsimd builds C code) or ndarray would add a build step or a large tree for it.
//!
//! Over 500 lines: the embedding store, the client and their tests; about a third is tests.

use crate::config::Settings;
use crate::llm::embeddings::{Calibration, Embedder, EmbeddingClient, MAX_BATCH};
use crate::store::entities::{memory, memory_embedding};
use crate::store::hot::{IdentityHot, TurnRecord};
use crate::store::ids::{AccountId, IdentityId};
use crate::store::kinds::MemoryRole;
use chrono::{DateTime, Utc};
use lru::LruCache;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Longest a reply waits for its message's embedding.
pub const QUERY_WAIT: Duration = Duration::from_secs(2);
/// Longest one embeddings request may take (background batches included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Query vectors cached by text.
const QUERY_CACHE: usize = 1024;
/// Identities whose vectors are kept in memory.
const IDENTITY_CACHE: usize = 2048;
/// Most memories of one identity queued for embedding per read.
const BACKFILL_PER_READ: usize = 256;
/// Counter of failed embedding requests or stores, label `stage` (`query`, `backfill`, `store`, `load`).
pub const EMBEDDING_ERRORS: &str = "whisperengine_embedding_errors_total";
/// Counter of vectors stored in `memory_embedding`.
pub const EMBEDDINGS_STORED: &str = "whisperengine_embeddings_stored_total";

/// A memory's key in memory: origin account and creation time in microseconds (what both
/// databases keep), so a turn stored in this session and the same row read back agree.
type Key = (i64, i64);

fn key_of(account_id: AccountId, created_at: DateTime<Utc>) -> Key {
    (account_id.get(), created_at.timestamp_micros())
}

/// A cached message vector's key: the person and the text.
type QueryKey = (IdentityId, String);

/// What is known of one identity's vectors.
struct IdentityVectors {
    by_memory: Arc<HashMap<Key, Arc<[f32]>>>,
    /// When SQL was last asked for vectors this identity lacks.
    checked_at: Option<Instant>,
}

/// Work for the background task.
struct Job {
    identity_id: IdentityId,
    account_id: AccountId,
    created_at: DateTime<Utc>,
    memory_id: Option<i64>,
    /// The text to embed, when the vector is not known yet.
    text: Option<String>,
    vector: Option<Arc<[f32]>>,
}

struct Inner {
    client: Embedder,
    db: DatabaseConnection,
    /// Query vectors by (identity, text): kept per person so erasure can drop them.
    queries: Mutex<LruCache<QueryKey, Arc<[f32]>>>,
    identities: Mutex<LruCache<IdentityId, IdentityVectors>>,
    /// Memories queued for embedding, so a slow batch is not queued twice.
    pending: Mutex<HashSet<Key>>,
    refresh: Duration,
}

/// Embeddings for recall; present on the core when EMBEDDING_MODEL and LLM_BASE_URL are set.
#[derive(Clone)]
pub struct Semantic {
    inner: Arc<Inner>,
    jobs: mpsc::Sender<Job>,
}

/// The vectors one reply is scored with: the message's and the candidates'.
#[derive(Clone)]
pub struct SemanticScores {
    query: Arc<[f32]>,
    vectors: Arc<HashMap<Key, Arc<[f32]>>>,
    calibration: Calibration,
}

impl SemanticScores {
    /// The semantic part of `record`'s relevance: weight · (cosine − floor), or 0 at or below
    /// the floor or without a vector.
    pub fn relevance(&self, record: &TurnRecord) -> f64 {
        let Some(vector) = self
            .vectors
            .get(&key_of(record.account_id, record.created_at))
        else {
            return 0.0;
        };
        let cosine = cosine(&self.query, vector);
        self.calibration.weight * (cosine - self.calibration.min_cosine).max(0.0)
    }
}

/// Cosine similarity of two vectors already normalised to length 1 (0 when lengths differ).
///
/// Eight running sums in f32 let the compiler use SIMD lanes: a reply may score 2,000 candidates
/// of 1,536 dimensions, and this keeps that well inside the retrieval budget.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return 0.0;
    }
    let mut sums = [0.0_f32; 8];
    let mut a_chunks = a.chunks_exact(8);
    let mut b_chunks = b.chunks_exact(8);
    for (x, y) in (&mut a_chunks).zip(&mut b_chunks) {
        for lane in 0..8 {
            sums[lane] += x[lane] * y[lane];
        }
    }
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    f64::from(sums.iter().sum::<f32>() + tail)
}

/// f32 little-endian bytes, as stored.
pub fn to_bytes(vector: &[f32]) -> Vec<u8> {
    vector
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

/// The vector of stored bytes; `None` when the length is not a whole number of f32s.
pub fn from_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    if bytes.is_empty() || bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
            .collect(),
    )
}

impl Semantic {
    /// Semantic recall through the embeddings endpoint: `None` unless EMBEDDING_MODEL and
    /// LLM_BASE_URL are set (or when the client cannot be built, which is logged). Starts the
    /// background task. (`LOCAL_EMBEDDINGS` is loaded by the set-up, see [`Semantic::new`].)
    pub fn from_settings(settings: &Settings, db: DatabaseConnection) -> Option<Semantic> {
        let model = settings.embedding_model.clone()?;
        let base = settings.llm_base_url.as_ref()?;
        let timeout = settings.llm_timeout.min(REQUEST_TIMEOUT);
        let client = match EmbeddingClient::new(base, settings.llm_api_key.clone(), model, timeout)
        {
            Ok(client) => client,
            Err(error) => {
                tracing::warn!(%error, "EMBEDDING_MODEL: semantic recall is off");
                return None;
            }
        };
        Some(Semantic::new(Embedder::Endpoint(client), settings, db))
    }

    /// Semantic recall with vectors from `embedder`. Starts the background task.
    pub fn new(embedder: Embedder, settings: &Settings, db: DatabaseConnection) -> Semantic {
        let capacity = |n: usize| NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN);
        let inner = Arc::new(Inner {
            client: embedder,
            db,
            queries: Mutex::new(LruCache::new(capacity(QUERY_CACHE))),
            identities: Mutex::new(LruCache::new(capacity(IDENTITY_CACHE))),
            pending: Mutex::new(HashSet::new()),
            refresh: settings.memory_sync_interval,
        });
        let (jobs, receiver) = mpsc::channel(4096);
        tokio::spawn(run_jobs(inner.clone(), receiver));
        Semantic { inner, jobs }
    }

    /// Starts computing the embedding of a message of `identity_id` (or takes it from the cache).
    pub fn start_query(
        &self,
        identity_id: IdentityId,
        text: &str,
    ) -> JoinHandle<Option<Arc<[f32]>>> {
        let inner = self.inner.clone();
        let key = (identity_id, text.to_string());
        tokio::spawn(async move {
            if let Some(hit) = lock(&inner.queries).get(&key).cloned() {
                return Some(hit);
            }
            match inner.client.embed(std::slice::from_ref(&key.1)).await {
                Ok(mut vectors) => {
                    let vector: Arc<[f32]> = vectors.pop()?.into();
                    lock(&inner.queries).put(key, vector.clone());
                    Some(vector)
                }
                Err(error) => {
                    metrics::counter!(EMBEDDING_ERRORS, "stage" => "query").increment(1);
                    tracing::warn!(%error, "message embedding failed; recall uses keywords only");
                    None
                }
            }
        })
    }

    /// The vectors to score this reply with: waits for the message's embedding (at most
    /// [`QUERY_WAIT`]), keeps it in memory as the vector of the message `turn` (stored later, with
    /// the reply: see [`Semantic::persist`]), and reads the identity's vectors it lacks from SQL,
    /// queueing memories without one for embedding. `None` (BM25 alone) when the message's
    /// embedding is not there in time.
    pub async fn prepare(
        &self,
        query: JoinHandle<Option<Arc<[f32]>>>,
        state: &IdentityHot,
        identity_id: IdentityId,
        turn: &TurnRecord,
    ) -> Option<SemanticScores> {
        let query = match tokio::time::timeout(QUERY_WAIT, query).await {
            Ok(Ok(vector)) => vector,
            Ok(Err(error)) => {
                tracing::warn!(%error, "message embedding task failed");
                None
            }
            Err(_) => {
                metrics::counter!(EMBEDDING_ERRORS, "stage" => "query").increment(1);
                tracing::warn!("message embedding too slow; recall uses keywords only");
                None
            }
        };
        if let (Some(vector), true) = (&query, is_kept(turn)) {
            self.remember(
                identity_id,
                turn.account_id,
                turn.created_at,
                vector.clone(),
            );
        }
        let query = query?;
        let vectors = self.vectors_for(state, identity_id).await;
        Some(SemanticScores {
            query,
            vectors,
            calibration: self.inner.client.calibration(),
        })
    }

    /// Once the message `turn` is stored: queues its vector (the query's, from [`Semantic::prepare`])
    /// to be written against its `memory` row.
    pub fn persist(
        &self,
        identity_id: IdentityId,
        turn: &TurnRecord,
        scores: Option<&SemanticScores>,
    ) {
        let Some(scores) = scores else {
            return;
        };
        if !is_kept(turn) {
            return;
        }
        self.queue(Job {
            identity_id,
            account_id: turn.account_id,
            created_at: turn.created_at,
            memory_id: turn.memory_id,
            text: None,
            vector: Some(scores.query.clone()),
        });
    }

    /// The identity's known vectors; reads the missing ones from SQL (at most once per
    /// MEMORY_SYNC_INTERVAL) and queues those SQL does not have either.
    async fn vectors_for(
        &self,
        state: &IdentityHot,
        identity_id: IdentityId,
    ) -> Arc<HashMap<Key, Arc<[f32]>>> {
        let (known, checked_at) = {
            let mut identities = lock(&self.inner.identities);
            let entry = identities.get_or_insert_mut(identity_id, || IdentityVectors {
                by_memory: Arc::new(HashMap::new()),
                checked_at: None,
            });
            (entry.by_memory.clone(), entry.checked_at)
        };
        let missing: Vec<&TurnRecord> = state
            .recallable
            .iter()
            .filter(|record| !crate::core::memory::recall::is_pure_question(&record.content))
            .filter(|record| !known.contains_key(&key_of(record.account_id, record.created_at)))
            .collect();
        let is_due = checked_at.is_none_or(|at| at.elapsed() >= self.inner.refresh);
        if missing.is_empty() || !is_due {
            return known;
        }
        let account_ids: Vec<AccountId> = state.accounts.iter().map(|account| account.id).collect();
        let since = missing
            .iter()
            .map(|record| record.created_at)
            .min()
            .unwrap_or_else(Utc::now);
        let rows = memory_embedding::Entity::find()
            .filter(memory_embedding::Column::AccountId.is_in(account_ids))
            .filter(memory_embedding::Column::Model.eq(self.inner.client.model()))
            .filter(memory_embedding::Column::CreatedAt.gte(since))
            .order_by_desc(memory_embedding::Column::CreatedAt)
            .limit(crate::store::hot::RECALL_WINDOW as u64)
            .all(&self.inner.db)
            .await;
        let loaded: Vec<(Key, Arc<[f32]>)> = match rows {
            Ok(rows) => rows
                .into_iter()
                .filter_map(|row| {
                    let vector = from_bytes(&row.vector)?;
                    Some((key_of(row.account_id.into(), row.created_at), vector.into()))
                })
                .collect(),
            Err(error) => {
                metrics::counter!(EMBEDDING_ERRORS, "stage" => "load").increment(1);
                tracing::warn!(%error, "stored embeddings not read");
                Vec::new()
            }
        };
        let merged = {
            let mut identities = lock(&self.inner.identities);
            let entry = identities.get_or_insert_mut(identity_id, || IdentityVectors {
                by_memory: Arc::new(HashMap::new()),
                checked_at: None,
            });
            let map = Arc::make_mut(&mut entry.by_memory);
            map.extend(loaded);
            entry.checked_at = Some(Instant::now());
            entry.by_memory.clone()
        };
        for record in missing
            .iter()
            .rev()
            .filter(|record| !merged.contains_key(&key_of(record.account_id, record.created_at)))
            .take(BACKFILL_PER_READ)
        {
            self.queue(Job {
                identity_id,
                account_id: record.account_id,
                created_at: record.created_at,
                memory_id: record.memory_id,
                text: Some(record.content.clone()),
                vector: None,
            });
        }
        merged
    }

    fn remember(
        &self,
        identity_id: IdentityId,
        account_id: AccountId,
        at: DateTime<Utc>,
        vector: Arc<[f32]>,
    ) {
        remember(&self.inner, identity_id, key_of(account_id, at), vector);
    }

    fn queue(&self, job: Job) {
        let key = key_of(job.account_id, job.created_at);
        if !lock(&self.inner.pending).insert(key) {
            return;
        }
        if self.jobs.try_send(job).is_err() {
            lock(&self.inner.pending).remove(&key);
            tracing::debug!("embedding queue full; the memory is embedded on a later read");
        }
    }

    /// Waits until every queued memory is embedded and stored (or `within` passes); whether the
    /// queue is empty. For tools that read `memory_embedding` right after feeding messages.
    pub async fn settled(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if lock(&self.inner.pending).is_empty() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Drops what is kept in memory for an identity, its cached messages included (after erasure).
    pub fn forget_identity(&self, identity_id: IdentityId) {
        lock(&self.inner.identities).pop(&identity_id);
        let mut queries = lock(&self.inner.queries);
        let keys: Vec<QueryKey> = queries
            .iter()
            .filter(|((owner, _), _)| *owner == identity_id)
            .map(|(key, _)| key.clone())
            .collect();
        for key in keys {
            queries.pop(&key);
        }
    }
}

fn remember(inner: &Inner, identity_id: IdentityId, key: Key, vector: Arc<[f32]>) {
    let mut identities = lock(&inner.identities);
    if let Some(entry) = identities.get_mut(&identity_id) {
        Arc::make_mut(&mut entry.by_memory).insert(key, vector);
    } else {
        let mut by_memory = HashMap::new();
        by_memory.insert(key, vector);
        identities.put(
            identity_id,
            IdentityVectors {
                by_memory: Arc::new(by_memory),
                checked_at: None,
            },
        );
    }
}

/// Whether a message's vector is kept: questions are never recalled, so theirs is not.
fn is_kept(turn: &TurnRecord) -> bool {
    turn.is_user && !crate::core::memory::recall::is_pure_question(&turn.content)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The background task: embeds queued memories in batches and stores every vector.
async fn run_jobs(inner: Arc<Inner>, mut receiver: mpsc::Receiver<Job>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let keys: Vec<Key> = batch
            .iter()
            .map(|job| key_of(job.account_id, job.created_at))
            .collect();
        embed_missing(&inner, &mut batch).await;
        for job in batch {
            if let Some(vector) = job.vector.clone() {
                remember(
                    &inner,
                    job.identity_id,
                    key_of(job.account_id, job.created_at),
                    vector.clone(),
                );
                if let Err(error) = store(&inner, &job, &vector).await {
                    metrics::counter!(EMBEDDING_ERRORS, "stage" => "store").increment(1);
                    tracing::warn!(%error, "embedding not stored");
                }
            }
        }
        let mut pending = lock(&inner.pending);
        for key in keys {
            pending.remove(&key);
        }
    }
}

/// Fills in the vectors of the jobs that only have a text, with one request.
async fn embed_missing(inner: &Inner, batch: &mut [Job]) {
    let texts: Vec<String> = batch
        .iter()
        .filter(|job| job.vector.is_none())
        .filter_map(|job| job.text.clone())
        .collect();
    if texts.is_empty() {
        return;
    }
    match inner.client.embed(&texts).await {
        Ok(vectors) => {
            let mut vectors = vectors.into_iter();
            for job in batch
                .iter_mut()
                .filter(|job| job.vector.is_none() && job.text.is_some())
            {
                job.vector = vectors.next().map(Arc::from);
            }
        }
        Err(error) => {
            metrics::counter!(EMBEDDING_ERRORS, "stage" => "backfill").increment(1);
            tracing::warn!(%error, count = texts.len(), "memories not embedded; retried on a later read");
        }
    }
}

/// Writes one vector against its `memory` row (found by origin account and time when the id is
/// not known yet). A memory forgotten meanwhile simply gets no row.
async fn store(inner: &Inner, job: &Job, vector: &[f32]) -> Result<(), sea_orm::DbErr> {
    let memory_id = match job.memory_id {
        Some(id) => Some(id),
        None => {
            memory::Entity::find()
                .select_only()
                .column(memory::Column::Id)
                .filter(memory::Column::AccountId.eq(job.account_id))
                .filter(memory::Column::CreatedAt.eq(job.created_at))
                .filter(memory::Column::Role.eq(MemoryRole::User))
                .order_by_desc(memory::Column::Id)
                .into_tuple::<i64>()
                .one(&inner.db)
                .await?
        }
    };
    let Some(memory_id) = memory_id else {
        return Ok(());
    };
    let row = memory_embedding::ActiveModel {
        memory_id: Set(memory_id),
        account_id: Set(job.account_id.into()),
        model: Set(inner.client.model().to_string()),
        dimensions: Set(i32::try_from(vector.len()).unwrap_or(i32::MAX)),
        vector: Set(to_bytes(vector)),
        created_at: Set(job.created_at),
    };
    memory_embedding::Entity::insert(row)
        .on_conflict_do_nothing_on([memory_embedding::Column::MemoryId])
        .exec(&inner.db)
        .await?;
    metrics::counter!(EMBEDDINGS_STORED).increment(1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_as_little_endian_bytes() {
        let vector = vec![0.5_f32, -1.25, 3.0e-7];
        let bytes = to_bytes(&vector);
        assert_eq!(bytes.len(), 12);
        assert_eq!(&bytes[..4], &0.5_f32.to_le_bytes());
        assert_eq!(from_bytes(&bytes), Some(vector));
        assert_eq!(from_bytes(&bytes[..5]), None);
        assert_eq!(from_bytes(&[]), None);
    }

    #[test]
    fn cosine_of_unit_vectors_is_their_dot_product() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-9);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-9);
        assert_eq!(
            cosine(&[1.0], &[1.0, 0.0]),
            0.0,
            "different models never compare"
        );
    }
}
