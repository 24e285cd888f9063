//! The group-commit writer: every message write of the pipeline goes through one task that puts all
//! writes queued at that moment into ONE transaction (multi-row inserts per table).
//!
//! Why: a message costs several rows (processed event, memory, emotion observation). Committing each
//! separately makes SQLite writers contend for its single write lock and makes every message pay a
//! commit. Batching what is queued keeps one writer, amortises commits under load, and still answers
//! each caller only once its rows are durable (written through, never write-behind).
//! If a batch fails, each job is retried alone so one bad row cannot sink its neighbours.

use crate::store::entities::{emotion_observation, memory, processed_event};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, TransactionTrait};
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

enum Command {
    Write(WriteJob, oneshot::Sender<Result<(), DbErr>>),
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

    /// Writes `job` and returns once it is committed.
    pub async fn write(&self, mut job: WriteJob) -> Result<(), DbErr> {
        if job.is_empty() {
            return Ok(());
        }
        if let Some(cipher) = &self.cipher {
            for row in &mut job.memories {
                if let sea_orm::ActiveValue::Set(content) = &row.content {
                    row.content = sea_orm::ActiveValue::Set(cipher.seal(content));
                }
                // The recall terms are the content's words: sealed too, never stored in clear.
                if let sea_orm::ActiveValue::Set(Some(terms)) = &row.terms {
                    row.terms = sea_orm::ActiveValue::Set(Some(cipher.seal(terms)));
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
        let outcome = if result.is_ok() { "ok" } else { "failed" };
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

async fn commit_batch(
    db: &DatabaseConnection,
    jobs: Vec<(WriteJob, oneshot::Sender<Result<(), DbErr>>)>,
) {
    if jobs.is_empty() {
        return;
    }
    if jobs.len() == 1 {
        for (job, done) in jobs {
            let _ = done.send(commit(db, vec![job]).await);
        }
        return;
    }
    let (batch, senders): (Vec<WriteJob>, Vec<_>) = jobs.into_iter().unzip();
    // Keep a copy to retry one by one if the batch as a whole is refused.
    let retry: Vec<WriteJob> = batch.iter().map(clone_job).collect();
    match commit(db, batch).await {
        Ok(()) => {
            for done in senders {
                let _ = done.send(Ok(()));
            }
        }
        Err(error) => {
            tracing::warn!(%error, jobs = senders.len(), "batched write failed; retrying each job alone");
            for (job, done) in retry.into_iter().zip(senders) {
                let _ = done.send(commit(db, vec![job]).await);
            }
        }
    }
}

fn clone_job(job: &WriteJob) -> WriteJob {
    WriteJob {
        processed_events: job.processed_events.clone(),
        memories: job.memories.clone(),
        observations: job.observations.clone(),
    }
}

async fn commit(db: &DatabaseConnection, jobs: Vec<WriteJob>) -> Result<(), DbErr> {
    let mut events = Vec::new();
    let mut memories = Vec::new();
    let mut observations = Vec::new();
    for job in jobs {
        events.extend(job.processed_events);
        memories.extend(job.memories);
        observations.extend(job.observations);
    }
    let transaction = db.begin().await?;
    if !events.is_empty() {
        // A replay that raced past the dedupe check is not an error: the first copy won.
        processed_event::Entity::insert_many(events)
            .on_conflict_do_nothing_on([
                processed_event::Column::Platform,
                processed_event::Column::EventId,
            ])
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
    transaction.commit().await
}
