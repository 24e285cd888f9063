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
//!
//! Facts ride in the same transactions ([`Writer::write_facts`]): they need their new row ids back
//! (a replaced fact points at its successor), so they are inserted one by one, but they share the
//! batch's single commit instead of paying one of their own; a message's own fact changes (and the
//! contradictions they settle) ride its turn's job ([`WriteJob::facts`]), so a message stating a
//! fact still pays one commit, shared with its neighbours. So do a new person's identity and
//! account ([`Writer::create_account`]) and the recall counters of recalled memories
//! ([`Writer::note_recalled`], nobody waits for those): on SQLite every write then comes from this
//! one task, and none waits out another connection's write lock.
//!
//! The marks already stored are not read before a first attempt: the table's unique key refuses a
//! second mark, which fails the batch, and each job retried alone reads the marks first and learns
//! whether it was processed. A race between two deliveries is rare, so most batches save the read.
//!
//! Over 500 lines: one writer task and the one transaction every kind of queued write shares;
//! splitting it would scatter the batch's order and retry rules.

use crate::store::entities::{
    emotion_observation, fact, identity, inbox_event, memory, platform_account, processed_event,
    sync_conflict,
};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction,
    DbErr, EntityTrait, QueryFilter, Set, TransactionTrait,
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
    /// `(inbox row, sealed reply)`: the reply recorded in the event's inbox row with the turn, so a
    /// process taking the row over delivers it instead of processing the message again.
    pub inbox_replies: Vec<(String, String)>,
    /// Fact changes the message makes, written with its rows (none when it was already processed).
    pub facts: Vec<FactWrite>,
    /// Contradictions between its facts and another platform's, recorded with them.
    pub conflicts: Vec<sync_conflict::ActiveModel>,
}

impl WriteJob {
    fn is_empty(&self) -> bool {
        self.processed_events.is_empty()
            && self.memories.is_empty()
            && self.observations.is_empty()
            && self.facts.is_empty()
            && self.conflicts.is_empty()
    }
}

/// What became of a turn's job: [`Written`], and the fact id of each of its fact writes, in order
/// (empty when nothing was written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnWritten {
    pub written: Written,
    pub fact_ids: Vec<i64>,
}

/// What became of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Its rows are committed.
    Stored,
    /// One of its processed-event marks was already there: nothing of it was written.
    AlreadyProcessed,
}

/// A job queued by [`Writer::queue_turn`], not necessarily committed yet.
pub struct PendingTurn {
    /// `None` for an empty job (nothing to write).
    result: Option<oneshot::Receiver<Result<TurnWritten, DbErr>>>,
}

impl PendingTurn {
    /// Waits until the job is committed (or skipped because its event was already processed).
    pub async fn written(self) -> Result<TurnWritten, DbErr> {
        let Some(result) = self.result else {
            return Ok(TurnWritten {
                written: Written::Stored,
                fact_ids: Vec::new(),
            });
        };
        let result = result
            .await
            .map_err(|_| DbErr::Custom("the writer has stopped".into()))
            .and_then(|committed| committed);
        let outcome = match result.as_ref().map(|turn| turn.written) {
            Ok(Written::Stored) => "ok",
            Ok(Written::AlreadyProcessed) => "duplicate",
            Err(_) => "failed",
        };
        metrics::counter!(crate::telemetry::names::SHARED_STATE_WRITES, "outcome" => outcome)
            .increment(1);
        result
    }
}

/// What became of one queued work: its row job's fate, and the fact ids of its fact writes.
#[derive(Debug)]
struct Outcome {
    written: Written,
    fact_ids: Vec<i64>,
    /// The account row a [`Work::Account`] created.
    /// `Err` when the account existed already: refused in its own savepoint, so the rest of the
    /// batch is still written.
    account: Option<Result<platform_account::Model, String>>,
}

/// The fact a [`FactWrite`] refers to: a stored row, or one added by an earlier write of the same
/// [`Writer::write_facts`] call (its position in that call's list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactRef {
    Stored(i64),
    Added(usize),
}

/// One change to the facts table.
#[derive(Debug, Clone)]
pub enum FactWrite {
    /// The same value restated: its confidence and time move.
    Confirm {
        fact: FactRef,
        confidence: f64,
        updated_at: DateTime<Utc>,
    },
    /// A new fact; `replaces` (if any) is marked superseded by it at the row's `created_at`.
    Add {
        row: Box<fact::ActiveModel>,
        replaces: Option<FactRef>,
    },
}

/// What one caller queued.
#[derive(Debug)]
enum Work {
    Rows(WriteJob),
    Facts(Vec<FactWrite>),
    /// A new identity and its first account.
    Account(Box<(identity::ActiveModel, platform_account::ActiveModel)>),
    /// Memories recalled at this time: their counter goes up by one.
    Recalled(Vec<i64>, DateTime<Utc>),
}

/// Where its outcome goes.
enum Reply {
    Rows(oneshot::Sender<Result<TurnWritten, DbErr>>),
    /// The fact id of each write, in order.
    Facts(oneshot::Sender<Result<Vec<i64>, DbErr>>),
    Account(oneshot::Sender<Result<platform_account::Model, DbErr>>),
    /// Nobody waits for it.
    Nobody,
}

impl Reply {
    fn send(self, outcome: Result<Outcome, DbErr>) {
        match self {
            Reply::Rows(done) => {
                let _ = done.send(outcome.map(|outcome| TurnWritten {
                    written: outcome.written,
                    fact_ids: outcome.fact_ids,
                }));
            }
            Reply::Facts(done) => {
                let _ = done.send(outcome.map(|outcome| outcome.fact_ids));
            }
            Reply::Account(done) => {
                let _ = done.send(outcome.and_then(|outcome| match outcome.account {
                    Some(Ok(row)) => Ok(row),
                    Some(Err(refused)) => Err(DbErr::Custom(refused)),
                    None => Err(DbErr::Custom("a created account left no row".into())),
                }));
            }
            Reply::Nobody => {
                if let Err(error) = outcome {
                    tracing::debug!(%error, "recall counters not updated");
                }
            }
        }
    }
}

enum Command {
    Write(Work, Reply),
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
    pub async fn write_once(&self, job: WriteJob) -> Result<Written, DbErr> {
        self.write_turn(job).await.map(|turn| turn.written)
    }

    /// [`Writer::write_once`], returning the fact ids of the job's fact writes too.
    pub async fn write_turn(&self, job: WriteJob) -> Result<TurnWritten, DbErr> {
        self.queue_turn(job).await?.written().await
    }

    /// Queues `job` for the next group transaction and returns at once: jobs are committed in the
    /// order they were queued. [`PendingTurn::written`] says what became of it.
    pub async fn queue_turn(&self, mut job: WriteJob) -> Result<PendingTurn, DbErr> {
        if job.is_empty() {
            return Ok(PendingTurn { result: None });
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
            .send(Command::Write(Work::Rows(job), Reply::Rows(done)))
            .await
            .map_err(|_| DbErr::Custom("the writer has stopped".into()))?;
        Ok(PendingTurn {
            result: Some(result),
        })
    }

    /// Writes fact changes in the next group transaction; returns each write's fact id (the new row's
    /// for an addition) once committed. The writes of one call commit together or not at all.
    pub async fn write_facts(&self, writes: Vec<FactWrite>) -> Result<Vec<i64>, DbErr> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let (done, result) = oneshot::channel();
        self.sender
            .send(Command::Write(Work::Facts(writes), Reply::Facts(done)))
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

    /// Creates an identity and its first account in the next group transaction; returns the
    /// account's row once committed. Fails when the account exists (another task or process
    /// created it at the same moment).
    pub async fn create_account(
        &self,
        identity: identity::ActiveModel,
        account: platform_account::ActiveModel,
    ) -> Result<platform_account::Model, DbErr> {
        let (done, result) = oneshot::channel();
        self.sender
            .send(Command::Write(
                Work::Account(Box::new((identity, account))),
                Reply::Account(done),
            ))
            .await
            .map_err(|_| DbErr::Custom("the writer has stopped".into()))?;
        result
            .await
            .map_err(|_| DbErr::Custom("the writer has stopped".into()))
            .and_then(|created| created)
    }

    /// Counts a recall of each memory in `ids` at `at` (its counter and time) in the next group
    /// transaction, without waiting for it: a lost count only weakens a small ranking boost.
    pub fn note_recalled(&self, ids: Vec<i64>, at: DateTime<Utc>) {
        if ids.is_empty() {
            return;
        }
        let command = Command::Write(Work::Recalled(ids, at), Reply::Nobody);
        if let Err(error) = self.sender.try_send(command) {
            tracing::debug!(%error, "recall counters not queued");
        }
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
                Command::Write(work, reply) => jobs.push((work, reply)),
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

async fn commit_batch(db: &DatabaseConnection, jobs: Vec<(Work, Reply)>) {
    if jobs.is_empty() {
        return;
    }
    let (batch, replies): (Vec<Work>, Vec<Reply>) = jobs.into_iter().unzip();
    // Keep a copy to retry one by one if the batch as a whole is refused.
    let retry: Vec<Work> = batch.iter().map(clone_work).collect();
    match commit(db, batch, Marks::Unread).await {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                reply.send(Ok(outcome));
            }
        }
        Err(error) => {
            if replies.len() > 1 {
                tracing::warn!(%error, jobs = replies.len(), "batched write failed; retrying each job alone");
            } else {
                tracing::debug!(%error, "write refused; trying it again, reading the marks first");
            }
            for (work, reply) in retry.into_iter().zip(replies) {
                reply.send(commit_one(db, work).await);
            }
        }
    }
}

/// Commits one work (reading the marks already stored first); a refused attempt is tried once
/// more, since the usual cause is a race that the second attempt resolves (another process stored
/// the same event first: the retry finds its mark and writes nothing).
async fn commit_one(db: &DatabaseConnection, work: Work) -> Result<Outcome, DbErr> {
    let again = clone_work(&work);
    let outcome = match commit(db, vec![work], Marks::Read).await {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::debug!(%error, "write refused; trying it once more");
            commit(db, vec![again], Marks::Read).await?
        }
    };
    outcome
        .into_iter()
        .next()
        .ok_or_else(|| DbErr::Custom("a committed work left no outcome".into()))
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

fn clone_work(work: &Work) -> Work {
    match work {
        Work::Rows(job) => Work::Rows(WriteJob {
            processed_events: job.processed_events.clone(),
            memories: job.memories.clone(),
            observations: job.observations.clone(),
            inbox_replies: job.inbox_replies.clone(),
            facts: job.facts.clone(),
            conflicts: job.conflicts.clone(),
        }),
        Work::Facts(writes) => Work::Facts(writes.clone()),
        Work::Account(rows) => Work::Account(rows.clone()),
        Work::Recalled(ids, at) => Work::Recalled(ids.clone(), *at),
    }
}

/// Whether [`commit`] reads the processed-event marks already stored before writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marks {
    /// A first attempt: the unique key refuses a mark stored meanwhile (failing the batch).
    Unread,
    /// A job retried alone: a job whose mark is there is skipped ([`Written::AlreadyProcessed`]).
    Read,
}

/// Commits `works` in one transaction; returns what became of each, in order (fact ids are empty
/// for row jobs).
async fn commit(
    db: &DatabaseConnection,
    works: Vec<Work>,
    marks: Marks,
) -> Result<Vec<Outcome>, DbErr> {
    // The marks already there are read BEFORE the transaction, so its first statement is a write:
    // on SQLite (WAL) a transaction that reads and then writes fails at once (SQLITE_BUSY_SNAPSHOT)
    // when another connection committed in between, instead of waiting its turn. A mark added after
    // this read still cannot be written twice: the insert below has no ON CONFLICT, the unique key
    // fails the transaction, and the job retried alone then reads the mark and writes nothing.
    let keys: Vec<(String, String)> = works
        .iter()
        .filter(|_| marks == Marks::Read)
        .filter_map(|work| match work {
            Work::Rows(job) => Some(job.processed_events.iter().filter_map(event_key)),
            _ => None,
        })
        .flatten()
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
            .all(db)
            .await?;
        existing.extend(found.into_iter().map(|row| (row.platform, row.event_id)));
    }
    let mut events = Vec::new();
    let mut memories = Vec::new();
    let mut observations = Vec::new();
    let mut inbox_replies = Vec::new();
    let mut conflicts = Vec::new();
    let mut fact_writes = Vec::new();
    let mut recalled: Vec<(Vec<i64>, DateTime<Utc>)> = Vec::new();
    let mut written = Vec::with_capacity(works.len());
    let transaction = db.begin().await?;
    for work in works {
        match work {
            Work::Rows(job) => {
                let is_processed = job
                    .processed_events
                    .iter()
                    .filter_map(event_key)
                    .any(|key| existing.contains(&key));
                if is_processed {
                    fact_writes.push(None);
                    written.push(Written::AlreadyProcessed);
                    continue;
                }
                fact_writes.push((!job.facts.is_empty()).then_some(PerWork::Facts(job.facts)));
                written.push(Written::Stored);
                events.extend(job.processed_events);
                memories.extend(job.memories);
                observations.extend(job.observations);
                inbox_replies.extend(job.inbox_replies);
                conflicts.extend(job.conflicts);
            }
            Work::Facts(writes) => {
                written.push(Written::Stored);
                fact_writes.push(Some(PerWork::Facts(writes)));
            }
            Work::Account(rows) => {
                written.push(Written::Stored);
                fact_writes.push(Some(PerWork::Account(rows)));
            }
            Work::Recalled(ids, at) => {
                written.push(Written::Stored);
                fact_writes.push(None);
                recalled.push((ids, at));
            }
        }
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
    if !conflicts.is_empty() {
        sync_conflict::Entity::insert_many(conflicts)
            .exec_without_returning(&transaction)
            .await?;
    }
    // One statement for the batch's replies (a round trip per reply would stretch every batch).
    for chunk in inbox_replies.chunks(MAX_BATCH) {
        let mut replies: Option<sea_orm::sea_query::CaseStatement> = None;
        for (id, reply) in chunk {
            let when = inbox_event::Column::Id.eq(id.as_str());
            replies = Some(match replies {
                None => Expr::case(when, reply.as_str()),
                Some(cases) => cases.case(when, reply.as_str()),
            });
        }
        if let Some(replies) = replies {
            inbox_event::Entity::update_many()
                .col_expr(
                    inbox_event::Column::Reply,
                    replies
                        .finally(Expr::col(inbox_event::Column::Reply))
                        .into(),
                )
                .filter(inbox_event::Column::Id.is_in(chunk.iter().map(|(id, _)| id.as_str())))
                .exec(&transaction)
                .await?;
        }
    }
    for (ids, at) in recalled {
        memory::Entity::update_many()
            .col_expr(
                memory::Column::RecallCount,
                Expr::col(memory::Column::RecallCount).add(1),
            )
            .col_expr(memory::Column::LastRecalledAt, Expr::value(at))
            .filter(memory::Column::Id.is_in(ids))
            .exec(&transaction)
            .await?;
    }
    let mut outcomes = Vec::with_capacity(fact_writes.len());
    for (per_work, written) in fact_writes.into_iter().zip(written) {
        let mut outcome = Outcome {
            written,
            fact_ids: Vec::new(),
            account: None,
        };
        match per_work {
            Some(PerWork::Facts(writes)) => {
                outcome.fact_ids = apply_facts(&transaction, writes).await?;
            }
            Some(PerWork::Account(rows)) => {
                // In a savepoint of its own: an account another task or process created at the
                // same moment is refused alone, not with the whole batch.
                let (identity, account) = *rows;
                let savepoint = transaction.begin().await?;
                let inserted = match identity.insert(&savepoint).await {
                    Ok(_) => account.insert(&savepoint).await,
                    Err(error) => Err(error),
                };
                outcome.account = Some(match inserted {
                    Ok(row) => {
                        savepoint.commit().await?;
                        Ok(row)
                    }
                    Err(error) => {
                        savepoint.rollback().await?;
                        Err(error.to_string())
                    }
                });
            }
            None => {}
        }
        outcomes.push(outcome);
    }
    transaction.commit().await?;
    Ok(outcomes)
}

/// What a work writes one by one, after the batch's multi-row inserts.
enum PerWork {
    Facts(Vec<FactWrite>),
    Account(Box<(identity::ActiveModel, platform_account::ActiveModel)>),
}

/// Applies one caller's fact writes in order; returns the fact id of each.
async fn apply_facts(
    transaction: &DatabaseTransaction,
    writes: Vec<FactWrite>,
) -> Result<Vec<i64>, DbErr> {
    let mut ids: Vec<i64> = Vec::with_capacity(writes.len());
    let resolve = |fact: FactRef, ids: &[i64]| match fact {
        FactRef::Stored(id) => Ok(id),
        FactRef::Added(index) => ids
            .get(index)
            .copied()
            .ok_or_else(|| DbErr::Custom("a fact write refers to a later one".into())),
    };
    for write in writes {
        match write {
            FactWrite::Confirm {
                fact,
                confidence,
                updated_at,
            } => {
                let id = resolve(fact, &ids)?;
                fact::ActiveModel {
                    id: Set(id),
                    confidence: Set(confidence),
                    updated_at: Set(updated_at),
                    ..Default::default()
                }
                .update(transaction)
                .await?;
                ids.push(id);
            }
            FactWrite::Add { row, replaces } => {
                let inserted = (*row).insert(transaction).await?;
                if let Some(old) = replaces {
                    fact::Entity::update_many()
                        .col_expr(
                            fact::Column::SupersededAt,
                            sea_orm::sea_query::Expr::value(inserted.created_at),
                        )
                        .col_expr(
                            fact::Column::SupersededBy,
                            sea_orm::sea_query::Expr::value(inserted.id),
                        )
                        .filter(fact::Column::Id.eq(resolve(old, &ids)?))
                        .exec(transaction)
                        .await?;
                }
                ids.push(inserted.id);
            }
        }
    }
    Ok(ids)
}
