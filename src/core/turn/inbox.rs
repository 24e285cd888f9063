//! The durable inbox: Slack and Teams events are written to `inbox_event` before they are
//! acknowledged, so an acknowledged event outlives the process that took it.
//!
//! - **Taking an event** ([`DurableInbox::submit_durable`]): a place in the bounded work queue
//!   ([`Workers`]) is reserved first (full or shutting down: 503 at once, nothing stored), then
//!   the row is inserted (on SQLite, inserts queued at the same moment share one statement; on
//!   PostgreSQL each runs on a connection of its own) and the job starts beside it; the connector
//!   answers 2xx once the row is stored. (Making the job wait for the insert put a PostgreSQL round
//!   trip under load on every reply's path.) The row names this process as its owner. If the platform hangs up before the 2xx, the job still runs
//!   and the platform's retry is dropped as a duplicate.
//! - **Whose it is**: the row keeps the account that sent the event (the connector's
//!   [`Replayer::author`]), so `forget all` erases the person's finished and set-aside events and
//!   `export` includes them (see [`crate::core::privacy::erasure`], [`crate::core::privacy::export`]).
//! - **Finishing it**: the job is called with the row ([`InboxRow`], inside the contract's
//!   `InboxEntry`), the connector puts it on the message, and the pipeline records the reply in the
//!   row in the same transaction as the turn ([`InboxRow::id_once_stored`]); once the connector
//!   delivered the reply, the row is deleted.
//! - **A process that stops**: every process writes a heartbeat to `inbox_owner` every third of
//!   [`Settings::inbox_lease`], valid for the whole lease. Rows whose owner's heartbeat ran out
//!   (it exited or died) are claimed by any other process, one compare-and-set update per row, and
//!   run again through the [`Replayer`] their connector registered. A process never claims its own
//!   rows: they are running or queued in it, even when an outage kept its heartbeat from being
//!   written. (One heartbeat row per process, rather than a lease renewed on every row, keeps the
//!   renewal from contending with the turns that write replies into the rows.) A row whose turn was already committed is not processed again: its
//!   stored reply is delivered ([`InboxRow::stored_reply`]), so the message is stored once and
//!   answered.
//! - **A database that does not take the row** in time: the event is kept in memory only, as
//!   before the inbox existed (it runs before shutdown, within the drain time), and a warning says
//!   so; the platform is not made to wait for an outage.
//! - **A row that keeps failing** is set aside after [`MAX_ATTEMPTS`] runs (an error is logged
//!   and [`PARKED_METRIC`] counted) instead of looping forever.
//!
//! What it does not promise by itself: a process killed between delivering a reply and deleting
//! its row delivers that reply again when the row is taken over, unless the connector can tell it
//! was posted (Slack: the reply's metadata found in the thread; Discord: the reply's nonce). Teams
//! offers no such key, so that window stays at-least-once there.
//!
//! [`Settings::inbox_lease`]: crate::config::Settings::inbox_lease
//!
//! Over 500 lines: the durable inbox: insert, take-over, replay and its writer task share one state.

use crate::core::turn::workers::{Slot, Workers};
use crate::store::crypto::{sealed, ContentCipher};
use crate::store::entities::{inbox_event, inbox_owner};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use whisperengine_contract::{
    Inbox, InboxEntry, InboxFuture, InboxJob, InboxRefusal, OutboundReply, PlatformAccount,
    Replayer,
};

/// Runs of one row (its first included) before it is set aside.
pub const MAX_ATTEMPTS: i32 = 5;
/// How long taking an event waits for its row before it keeps the event in memory only (Slack
/// wants its answer within 3 s).
const INSERT_WAIT: Duration = Duration::from_millis(1_500);
/// How often a process looks for rows whose owner stopped.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Rows claimed per sweep.
const SWEEP_ROWS: u64 = 64;
/// Most rows inserted (or deleted) in one statement.
const MAX_BATCH: usize = 256;
/// Heartbeats older than this are deleted (their processes are long gone).
const FORGET_OWNERS_AFTER_MS: i64 = 24 * 60 * 60 * 1000;
/// Set-aside rows older than this are deleted.
const KEEP_PARKED_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Counter: acknowledged events kept in memory only (their row was not stored in time).
pub const MEMORY_ONLY_METRIC: &str = "whisperengine_inbox_memory_only_total";
/// Counter: rows taken over from a process that stopped.
pub const RECOVERED_METRIC: &str = "whisperengine_inbox_recovered_total";
/// Counter: rows set aside after [`MAX_ATTEMPTS`] runs or because they could not be read.
pub const PARKED_METRIC: &str = "whisperengine_inbox_parked_total";

/// The inbox row a job runs for: the host calls the job with it (inside the contract's
/// [`InboxEntry`]) and the connector hands it on with the message.
pub struct InboxRow {
    id: String,
    stored_reply: Option<OutboundReply>,
    /// `Some(true)` once the row is stored, `Some(false)` if storing it failed or timed out.
    stored: tokio::sync::watch::Receiver<Option<bool>>,
}

impl InboxRow {
    /// The row `entry` carries, if it is one of this inbox's.
    pub fn of(entry: Option<&InboxEntry>) -> Option<&InboxRow> {
        entry?.get::<InboxRow>()
    }

    /// The row's id, for the pipeline to record the reply there in the turn's transaction. The job
    /// starts while its row is still being inserted (the acknowledgement waits for the insert, the
    /// work does not), so this waits for the insert first, at most as long as the acknowledgement
    /// does.
    pub async fn id_once_stored(&self) -> &str {
        let mut stored = self.stored.clone();
        let _ = tokio::time::timeout(INSERT_WAIT, stored.wait_for(Option::is_some)).await;
        &self.id
    }

    /// The reply already committed for this event when it is run again (a row taken over from a
    /// process that stopped after storing the turn): it is delivered instead of processing the
    /// message a second time.
    pub fn stored_reply(&self) -> Option<&OutboundReply> {
        self.stored_reply.as_ref()
    }
}

/// Milliseconds since the Unix epoch (the inbox's clock; processes sharing a database are assumed
/// to share a synchronised clock).
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2)
}

enum Op {
    Insert(
        Box<inbox_event::ActiveModel>,
        oneshot::Sender<Result<(), String>>,
    ),
    Delete(String),
    /// Gives a row back so that a sweep (here or elsewhere) runs it again.
    Release(String),
    /// Nothing queued for a while: retry the deletes that failed.
    Tick,
    /// Answered once everything queued before it was written.
    Flush(oneshot::Sender<()>),
}

struct Inner {
    queue: Arc<Workers>,
    db: DatabaseConnection,
    cipher: Option<Arc<ContentCipher>>,
    owner: String,
    lease: Duration,
    replayers: RwLock<HashMap<&'static str, Arc<dyn Replayer>>>,
    ops: mpsc::UnboundedSender<Op>,
}

/// The host's [`Inbox`]: events stored in SQL before they are acknowledged, run on [`Workers`].
#[derive(Clone)]
pub struct DurableInbox {
    inner: Arc<Inner>,
}

impl DurableInbox {
    /// Starts the inbox's writer on `db`; rows are owned by `owner` (this process), whose heartbeat
    /// is valid for `lease`.
    /// [`DurableInbox::spawn_upkeep`] starts taking over stopped processes' rows.
    pub fn new(
        queue: Arc<Workers>,
        db: DatabaseConnection,
        cipher: Option<Arc<ContentCipher>>,
        owner: uuid::Uuid,
        lease: Duration,
    ) -> DurableInbox {
        let (ops, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run_ops(db.clone(), receiver));
        DurableInbox {
            inner: Arc::new(Inner {
                queue,
                db,
                cipher,
                owner: owner.to_string(),
                lease,
                replayers: RwLock::new(HashMap::new()),
                ops,
            }),
        }
    }

    /// The workers jobs run on.
    pub fn workers(&self) -> &Arc<Workers> {
        &self.inner.queue
    }

    /// Writes this process's heartbeat; the host does it once before it takes any event, so no
    /// other process sees its rows without one.
    pub async fn beat(&self) -> Result<(), DbErr> {
        heartbeat(&self.inner).await
    }

    /// Keeps this process's heartbeat and takes over rows whose owner stopped, until the task is
    /// aborted. Sweeping stops once the queue stops accepting (shutdown); the heartbeat goes on,
    /// so rows still running here are not taken over while this process finishes them.
    pub fn spawn_upkeep(&self) -> tokio::task::JoinHandle<()> {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let beat_every = (inner.lease / 3).max(Duration::from_millis(200));
            // The host wrote the first heartbeat before taking events ([`DurableInbox::beat`]).
            let mut beat =
                tokio::time::interval_at(tokio::time::Instant::now() + beat_every, beat_every);
            let mut sweep = tokio::time::interval(SWEEP_EVERY);
            beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut sweeps: u64 = 0;
            loop {
                tokio::select! {
                    _ = beat.tick() => {
                        if let Err(error) = heartbeat(&inner).await {
                            tracing::warn!(%error, "inbox heartbeat not written; will retry");
                        }
                    }
                    _ = sweep.tick() => {
                        if inner.queue.is_accepting() {
                            sweeps += 1;
                            if let Err(error) = take_over(&inner, sweeps % 600 == 1).await {
                                tracing::warn!(%error, "inbox sweep failed; will retry");
                            }
                        }
                    }
                }
            }
        })
    }

    /// The account that sent `payload`, as the connector registered for `kind` reads it.
    fn author_of(&self, kind: &str, payload: &str) -> Option<PlatformAccount> {
        let replayer = self
            .inner
            .replayers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(kind)
            .cloned()?;
        replayer.author(payload)
    }

    /// Returns once every insert, delete and release queued so far is written (at shutdown, so
    /// the rows of delivered replies are gone before the process exits).
    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.inner.ops.send(Op::Flush(done)).is_ok() {
            let _ = flushed.await;
        }
    }
}

impl Inbox for DurableInbox {
    fn submit(&self, job: InboxJob) -> Result<(), InboxRefusal> {
        self.inner.queue.submit(job)
    }

    fn submit_durable(
        &self,
        kind: &'static str,
        payload: String,
        job: InboxJob,
    ) -> InboxFuture<'_> {
        Box::pin(async move {
            let slot = self.inner.queue.reserve()?;
            let id = uuid::Uuid::new_v4().to_string();
            let now = now_ms();
            let author = self.author_of(kind, &payload);
            let row = inbox_event::ActiveModel {
                id: Set(id.clone()),
                kind: Set(kind.to_string()),
                payload: Set(sealed(self.inner.cipher.as_deref(), &payload)),
                reply: Set(None),
                owner: Set(self.inner.owner.clone()),
                attempts: Set(1),
                parked: Set(false),
                created_at: Set(now),
                author_platform: Set(author.as_ref().map(|a| a.platform.as_str().to_string())),
                author_scope: Set(author.as_ref().map(|a| a.scope.clone())),
                author_user_id: Set(author.map(|a| a.user_id)),
            };
            let (done, inserted) = oneshot::channel();
            let queued = if self.inner.db.get_database_backend() == sea_orm::DbBackend::Sqlite {
                // SQLite has one writer: inserts queued at the same moment share a statement.
                self.inner.ops.send(Op::Insert(Box::new(row), done)).is_ok()
            } else {
                // PostgreSQL takes inserts side by side: each on a connection of its own, instead
                // of all of them waiting for one writer task (which a busy runtime schedules late).
                let db = self.inner.db.clone();
                tokio::spawn(async move {
                    let result = inbox_event::Entity::insert(row)
                        .exec_without_returning(&db)
                        .await
                        .map(|_| ())
                        .map_err(|error| error.to_string());
                    let _ = done.send(result);
                });
                true
            };
            // The job starts now, beside the insert: only the acknowledgement waits for the row.
            // Its delete is queued behind the insert, so a row never outlives a finished job.
            let (stored, stored_seen) = tokio::sync::watch::channel(None);
            run_tracked(&self.inner, slot, id, None, job, stored_seen);
            let outcome = match tokio::time::timeout(INSERT_WAIT, inserted).await {
                Ok(Ok(Ok(()))) if queued => Ok(()),
                Ok(Ok(Err(error))) => Err(error),
                Ok(_) => Err("the inbox writer has stopped".to_string()),
                Err(_) => Err(format!("no answer within {INSERT_WAIT:?}")),
            };
            let _ = stored.send(Some(outcome.is_ok()));
            if let Err(error) = outcome {
                // Acknowledged anyway: the job runs in this process, drained before it exits.
                metrics::counter!(MEMORY_ONLY_METRIC, "kind" => kind).increment(1);
                tracing::warn!(
                    kind,
                    %error,
                    "inbox row not stored; the event is kept in memory only until it is processed"
                );
            }
            Ok(())
        })
    }

    fn register_replayer(&self, kind: &'static str, replayer: Arc<dyn Replayer>) {
        self.inner
            .replayers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(kind, replayer);
    }
}

/// Queues `job` in `slot`, called with its row; deletes the row once it ran, or gives it back (for
/// another attempt) if the job panicked.
fn run_tracked(
    inner: &Arc<Inner>,
    slot: Slot,
    id: String,
    stored_reply: Option<OutboundReply>,
    job: InboxJob,
    stored: tokio::sync::watch::Receiver<Option<bool>>,
) {
    let ops = inner.ops.clone();
    let mut row_stored = stored.clone();
    let work = job(Some(InboxEntry::new(InboxRow {
        id: id.clone(),
        stored_reply,
        stored,
    })));
    slot.run(Box::pin(async move {
        match tokio::spawn(work).await {
            Ok(()) => {
                // Never before the row's insert finished (a quick job can end first), or the row
                // would land after its delete and outlive the job.
                let _ =
                    tokio::time::timeout(INSERT_WAIT, row_stored.wait_for(Option::is_some)).await;
                let _ = ops.send(Op::Delete(id));
            }
            Err(error) => {
                tracing::error!(%error, "an inbox job failed; it will be tried again");
                let _ = ops.send(Op::Release(id));
            }
        }
    }));
}

fn open(cipher: Option<&ContentCipher>, stored: &str) -> Option<String> {
    match cipher {
        Some(cipher) => cipher.open(stored).ok(),
        None => Some(stored.to_string()),
    }
}

/// The sealed JSON of `reply`, as the pipeline stores it in the row with the turn.
pub fn stored_form(cipher: Option<&ContentCipher>, reply: &OutboundReply) -> Option<String> {
    serde_json::to_string(reply)
        .ok()
        .map(|json| sealed(cipher, &json))
}

async fn heartbeat(inner: &Inner) -> Result<(), DbErr> {
    use sea_orm::sea_query::OnConflict;
    let row = inbox_owner::ActiveModel {
        owner: Set(inner.owner.clone()),
        alive_until: Set(now_ms().saturating_add(lease_ms(inner.lease))),
    };
    inbox_owner::Entity::insert(row)
        .on_conflict(
            OnConflict::column(inbox_owner::Column::Owner)
                .update_column(inbox_owner::Column::AliveUntil)
                .to_owned(),
        )
        .exec_without_returning(&inner.db)
        .await
        .map(|_| ())
}

/// Claims rows whose owner's heartbeat ran out (or that were given back) and queues them again;
/// with `tidy`, also deletes long-expired heartbeats.
async fn take_over(inner: &Arc<Inner>, tidy: bool) -> Result<(), DbErr> {
    use sea_orm::sea_query::Query;
    let kinds: Vec<String> = inner
        .replayers
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .keys()
        .map(|kind| kind.to_string())
        .collect();
    if kinds.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    if tidy {
        inbox_owner::Entity::delete_many()
            .filter(inbox_owner::Column::AliveUntil.lt(now.saturating_sub(FORGET_OWNERS_AFTER_MS)))
            .exec(&inner.db)
            .await?;
        // Set-aside rows hold message content: kept a week for an operator to look, then gone.
        inbox_event::Entity::delete_many()
            .filter(inbox_event::Column::Parked.eq(true))
            .filter(inbox_event::Column::CreatedAt.lt(now.saturating_sub(KEEP_PARKED_MS)))
            .exec(&inner.db)
            .await?;
    }
    let alive = Query::select()
        .column(inbox_owner::Column::Owner)
        .from(inbox_owner::Entity)
        .and_where(inbox_owner::Column::AliveUntil.gte(now))
        .to_owned();
    let candidates: Vec<(String, String)> = inbox_event::Entity::find()
        .select_only()
        .column(inbox_event::Column::Id)
        .column(inbox_event::Column::Owner)
        .filter(inbox_event::Column::Parked.eq(false))
        // This process's own rows are running or queued here, even when an outage kept its
        // heartbeat from being written: taking them over would run them twice.
        .filter(inbox_event::Column::Owner.ne(inner.owner.as_str()))
        .filter(inbox_event::Column::Owner.not_in_subquery(alive))
        .filter(inbox_event::Column::Kind.is_in(kinds))
        .order_by_asc(inbox_event::Column::CreatedAt)
        .limit(SWEEP_ROWS)
        .into_tuple()
        .all(&inner.db)
        .await?;
    for (id, stopped_owner) in candidates {
        let Ok(slot) = inner.queue.reserve() else {
            // Full or shutting down: the rows stay for a later sweep or another process.
            return Ok(());
        };
        // Compare-and-set on the owner: of several processes sweeping at once, one wins.
        let claimed = inbox_event::Entity::update_many()
            .col_expr(inbox_event::Column::Owner, Expr::value(inner.owner.clone()))
            .col_expr(
                inbox_event::Column::Attempts,
                Expr::col(inbox_event::Column::Attempts).add(1),
            )
            .filter(inbox_event::Column::Id.eq(id.as_str()))
            .filter(inbox_event::Column::Owner.eq(stopped_owner.as_str()))
            .filter(inbox_event::Column::Parked.eq(false))
            .exec(&inner.db)
            .await?;
        if claimed.rows_affected != 1 {
            continue; // another process claimed it first
        }
        let Some(row) = inbox_event::Entity::find_by_id(id.clone())
            .one(&inner.db)
            .await?
        else {
            continue;
        };
        match rebuild(inner, &row) {
            Ok((job, stored_reply)) => {
                metrics::counter!(RECOVERED_METRIC, "kind" => row.kind.clone()).increment(1);
                tracing::info!(
                    kind = %row.kind,
                    attempt = row.attempts,
                    answered = stored_reply.is_some(),
                    "took over an acknowledged event a stopped process did not finish"
                );
                let (_, stored) = tokio::sync::watch::channel(Some(true));
                run_tracked(inner, slot, id, stored_reply, job, stored);
            }
            Err(reason) => {
                metrics::counter!(PARKED_METRIC, "kind" => row.kind.clone()).increment(1);
                tracing::error!(kind = %row.kind, id = %row.id, reason, "inbox event set aside");
                inbox_event::Entity::update_many()
                    .col_expr(inbox_event::Column::Parked, Expr::value(true))
                    .filter(inbox_event::Column::Id.eq(id.as_str()))
                    .exec(&inner.db)
                    .await?;
            }
        }
    }
    Ok(())
}

/// The job for a claimed row and the reply already committed for it, or why it is set aside.
fn rebuild(
    inner: &Inner,
    row: &inbox_event::Model,
) -> Result<(InboxJob, Option<OutboundReply>), &'static str> {
    if row.attempts > MAX_ATTEMPTS {
        return Err("it failed too many times");
    }
    let replayer = inner
        .replayers
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(row.kind.as_str())
        .cloned()
        .ok_or("no connector here takes this kind")?;
    let payload = open(inner.cipher.as_deref(), &row.payload)
        .ok_or("its payload cannot be decrypted with DATA_ENCRYPTION_KEY")?;
    let stored_reply = match &row.reply {
        None => None,
        Some(sealed) => Some(
            open(inner.cipher.as_deref(), sealed)
                .and_then(|json| serde_json::from_str(&json).ok())
                .ok_or("its stored reply cannot be read")?,
        ),
    };
    let job = replayer
        .replay(&payload)
        .ok_or("its connector cannot read the payload")?;
    Ok((job, stored_reply))
}

/// The inbox's writer: inserts, deletes and releases queued at the same moment share statements,
/// in the order they were queued (a row's delete never runs before its insert). Deletes that fail
/// are kept and tried again.
async fn run_ops(db: DatabaseConnection, mut receiver: mpsc::UnboundedReceiver<Op>) {
    let mut failed_deletes: Vec<String> = Vec::new();
    loop {
        let first = if failed_deletes.is_empty() {
            receiver.recv().await
        } else {
            match tokio::time::timeout(Duration::from_secs(1), receiver.recv()).await {
                Ok(op) => op,
                Err(_) => Some(Op::Tick),
            }
        };
        let Some(first) = first else { return };
        let mut inserts = Vec::new();
        let mut waiting = Vec::new();
        let mut deletes = std::mem::take(&mut failed_deletes);
        let mut releases = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(op) = next.take() {
            match op {
                Op::Insert(row, done) => {
                    inserts.push(*row);
                    waiting.push(done);
                }
                Op::Delete(id) => deletes.push(id),
                Op::Release(id) => releases.push(id),
                Op::Tick => {}
                Op::Flush(done) => flushes.push(done),
            }
            if inserts.len() + deletes.len() + releases.len() < MAX_BATCH {
                next = receiver.try_recv().ok();
            }
        }
        if !inserts.is_empty() {
            let result = inbox_event::Entity::insert_many(inserts)
                .exec_without_returning(&db)
                .await
                .map(|_| ())
                .map_err(|error| error.to_string());
            for done in waiting {
                let _ = done.send(result.clone());
            }
        }
        if !deletes.is_empty() {
            let deleted = inbox_event::Entity::delete_many()
                .filter(inbox_event::Column::Id.is_in(deletes.iter().map(String::as_str)))
                .exec(&db)
                .await;
            if let Err(error) = deleted {
                tracing::warn!(%error, rows = deletes.len(), "finished inbox events not deleted yet; will retry");
                failed_deletes = deletes;
            }
        }
        if !releases.is_empty() {
            let released = inbox_event::Entity::update_many()
                .col_expr(inbox_event::Column::Owner, Expr::value(String::new()))
                .filter(inbox_event::Column::Id.is_in(releases.iter().map(String::as_str)))
                .exec(&db)
                .await;
            if let Err(error) = released {
                // Still ours: it is taken over once this process's heartbeat runs out.
                tracing::warn!(%error, "inbox event not given back");
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}
