//! The group-commit writer: every message write of the pipeline goes through one task that puts all
//! writes queued at that moment into ONE transaction (multi-row inserts per table).
//!
//! Why: a message costs several rows (processed event, memory, emotion observation). Committing each
//! separately makes SQLite writers contend for its single write lock and makes every message pay a
//! commit. Batching what is queued keeps one writer, amortises commits under load, and still answers
//! each caller only once its rows are durable (written through, never write-behind).
//! If a batch fails, each job is retried alone so one bad row cannot sink its neighbours.
//!
//! A job that carries processed-event marks is written only if none of its events is marked yet,
//! checked inside the transaction and enforced by the table's unique key: a retry or a delivery to
//! another host process that raced past the dedupe check writes nothing and learns
//! [`Written::AlreadyProcessed`], so a message is never stored (or answered) twice.

use crate::store::entities::{emotion_observation, memory, processed_event};
use sea_orm::{
    ActiveValue, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    TransactionTrait,
};
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot};

/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 256;

/// Rows one pipeline step writes together.
#[derive(Debug, Default)]
pub struct WriteJob {
    pub processed_events: Vec<processed_event::ActiveModel>,
    pub memories: Vec<memory::ActiveModel>,
    pub observations: Vec<emotion_observation::ActiveModel>,
}

impl WriteJob {
    fn is_empty(&self) -> bool {
        self.processed_events.is_empty() && self.memories.is_empty() && self.observations.is_empty()
    }
}

/// What became of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Its rows are committed.
    Stored,
    /// One of its processed-event marks was already there: nothing of it was written.
    AlreadyProcessed,
}

type Done = oneshot::Sender<Result<Written, DbErr>>;

enum Command {
    Write(WriteJob, Done),
    Flush(oneshot::Sender<()>),
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    sender: mpsc::Sender<Command>,
    /// Seals memory content before it is queued, when DATA_ENCRYPTION_KEY is set.
    cipher: Option<std::sync::Arc<crate::store::crypto::ContentCipher>>,
}

impl Writer {
    /// Starts the writer task on `db`.
    pub fn spawn(
        db: DatabaseConnection,
        cipher: Option<std::sync::Arc<crate::store::crypto::ContentCipher>>,
    ) -> Writer {
        let (sender, receiver) = mpsc::channel(4096);
        tokio::spawn(run(db, receiver));
        Writer { sender, cipher }
    }

    /// Writes `job` and returns once it is committed (or skipped because its event was already
    /// processed: see [`Writer::write_once`]).
    pub async fn write(&self, job: WriteJob) -> Result<(), DbErr> {
        self.write_once(job).await.map(|_| ())
    }

    /// Writes `job` unless one of its processed-event marks exists, atomically: either all its rows
    /// are committed together with the marks ([`Written::Stored`]) or none ([`Written::AlreadyProcessed`]).
    pub async fn write_once(&self, mut job: WriteJob) -> Result<Written, DbErr> {
        if job.is_empty() {
            return Ok(Written::Stored);
        }
        if let Some(cipher) = &self.cipher {
            for row in &mut job.memories {
                if let sea_orm::ActiveValue::Set(content) = &row.content {
                    row.content = sea_orm::ActiveValue::Set(cipher.seal(content));
                }
            }
        }
        let (done, result) = oneshot::channel();
        self.sender
            .send(Command::Write(job, done))
            .await
            .map_err(|_| DbErr::Custom("the writer has stopped".into()))?;
        let result = result
            .await
            .map_err(|_| DbErr::Custom("the writer has stopped".into()))
            .and_then(|committed| committed);
        let outcome = match result {
            Ok(Written::Stored) => "ok",
            Ok(Written::AlreadyProcessed) => "duplicate",
            Err(_) => "failed",
        };
        metrics::counter!(crate::telemetry::names::SHARED_STATE_WRITES, "outcome" => outcome)
            .increment(1);
        result
    }

    /// Returns once everything queued before the call is committed.
    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.sender.send(Command::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }
}

async fn run(db: DatabaseConnection, mut receiver: mpsc::Receiver<Command>) {
    while let Some(first) = receiver.recv().await {
        let mut jobs = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Write(job, done) => jobs.push((job, done)),
                Command::Flush(done) => flushes.push(done),
            }
            if jobs.len() < MAX_BATCH {
                next = receiver.try_recv().ok();
            }
        }
        commit_batch(&db, jobs).await;
        for done in flushes {
            let _ = done.send(());
        }
    }
}

async fn commit_batch(db: &DatabaseConnection, jobs: Vec<(WriteJob, Done)>) {
    if jobs.is_empty() {
        return;
    }
    if jobs.len() == 1 {
        for (job, done) in jobs {
            let _ = done.send(commit_one(db, job).await);
        }
        return;
    }
    let (batch, senders): (Vec<WriteJob>, Vec<_>) = jobs.into_iter().unzip();
    // Keep a copy to retry one by one if the batch as a whole is refused.
    let retry: Vec<WriteJob> = batch.iter().map(clone_job).collect();
    match commit(db, batch).await {
        Ok(outcomes) => {
            for (done, outcome) in senders.into_iter().zip(outcomes) {
                let _ = done.send(Ok(outcome));
            }
        }
        Err(error) => {
            tracing::warn!(%error, jobs = senders.len(), "batched write failed; retrying each job alone");
            for (job, done) in retry.into_iter().zip(senders) {
                let _ = done.send(commit_one(db, job).await);
            }
        }
    }
}

async fn commit_one(db: &DatabaseConnection, job: WriteJob) -> Result<Written, DbErr> {
    let outcomes = commit(db, vec![job]).await?;
    Ok(outcomes.first().copied().unwrap_or(Written::Stored))
}

/// `(platform, event id)` of a processed-event row.
fn event_key(row: &processed_event::ActiveModel) -> Option<(String, String)> {
    match (&row.platform, &row.event_id) {
        (
            ActiveValue::Set(platform) | ActiveValue::Unchanged(platform),
            ActiveValue::Set(event_id) | ActiveValue::Unchanged(event_id),
        ) => Some((platform.clone(), event_id.clone())),
        _ => None,
    }
}

fn clone_job(job: &WriteJob) -> WriteJob {
    WriteJob {
        processed_events: job.processed_events.clone(),
        memories: job.memories.clone(),
        observations: job.observations.clone(),
    }
}

/// Commits `jobs` in one transaction; returns what became of each, in order.
async fn commit(db: &DatabaseConnection, jobs: Vec<WriteJob>) -> Result<Vec<Written>, DbErr> {
    let transaction = db.begin().await?;
    let keys: Vec<(String, String)> = jobs
        .iter()
        .flat_map(|job| job.processed_events.iter().filter_map(event_key))
        .collect();
    let mut existing = HashSet::new();
    for chunk in keys.chunks(MAX_BATCH) {
        let mut condition = Condition::any();
        for (platform, event_id) in chunk {
            condition = condition.add(
                Condition::all()
                    .add(processed_event::Column::Platform.eq(platform.as_str()))
                    .add(processed_event::Column::EventId.eq(event_id.as_str())),
            );
        }
        let found = processed_event::Entity::find()
            .filter(condition)
            .all(&transaction)
            .await?;
        existing.extend(found.into_iter().map(|row| (row.platform, row.event_id)));
    }
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut events = Vec::new();
    let mut memories = Vec::new();
    let mut observations = Vec::new();
    for job in jobs {
        let is_processed = job
            .processed_events
            .iter()
            .filter_map(event_key)
            .any(|key| existing.contains(&key));
        if is_processed {
            outcomes.push(Written::AlreadyProcessed);
            continue;
        }
        outcomes.push(Written::Stored);
        events.extend(job.processed_events);
        memories.extend(job.memories);
        observations.extend(job.observations);
    }
    if !events.is_empty() {
        // No ON CONFLICT: a mark inserted meanwhile by another process fails this transaction
        // (unique key), and the job retried alone then finds the mark and writes nothing.
        processed_event::Entity::insert_many(events)
            .exec_without_returning(&transaction)
            .await?;
    }
    if !memories.is_empty() {
        memory::Entity::insert_many(memories)
            .exec_without_returning(&transaction)
            .await?;
    }
    if !observations.is_empty() {
        emotion_observation::Entity::insert_many(observations)
            .exec_without_returning(&transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(outcomes)
}
