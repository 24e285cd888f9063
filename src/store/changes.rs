//! The SQL change feed: the fallback that keeps several host processes consistent when a Redis
//! invalidation is missed (Redis down or restarting, a subscriber reconnecting, no Redis at all).
//!
//! Every write that other processes must see at once (link, unlink, isolation, preference and
//! privacy changes, forget, erasure) calls [`record`] inside its own transaction: it bumps the one
//! `state_counter` row and adds a `state_change` row per identity touched. The counter row is locked
//! by the update until commit, so versions become visible in order and a reader that sees version
//! `v` has every version below it. Each process polls the counter every [`POLL_INTERVAL`] (one
//! primary-key read), reads the new rows when it moved, and drops the named identities from its hot
//! layer, the same way a pub/sub message does. When rows are missing (pruned, or the process was
//! away longer than [`KEEP_FOR`]) it treats everything as stale and clears its hot layer.
//!
//! Each change of another process read here, and not already delivered by pub/sub, is timed from
//! its row's `created_at` to now ([`crate::store::propagation`], `via="change_feed"`).

use crate::store::entities::{state_change, state_counter};
use crate::store::hot::HotLayer;
use crate::store::ids::IdentityId;
use crate::store::propagation::{self, Arrivals, Via};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How often each process looks at the counter: the worst-case delay of the fallback.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long change rows are kept; a process away longer clears its whole hot layer instead.
pub const KEEP_FOR: Duration = Duration::from_secs(600);
/// How often a process deletes change rows older than [`KEEP_FOR`].
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Most rows read per poll; a larger backlog clears the hot layer instead of replaying it.
const MAX_ROWS: u64 = 1000;
/// The counter's only row.
const COUNTER_ID: i32 = 1;

/// Records, inside the caller's transaction, that the cached state of `identities` is stale in
/// every process but `origin` (empty: every identity). Returns the new version.
///
/// Call it FIRST in the transaction: its update takes the write lock at once (on SQLite a deferred
/// transaction that reads first fails with SQLITE_BUSY when it later upgrades to write after another
/// connection committed), and every such transaction takes the counter before anything else, so they
/// cannot deadlock on each other.
pub async fn record(
    db: &impl ConnectionTrait,
    origin: Uuid,
    identities: &[IdentityId],
) -> Result<i64, DbErr> {
    let bumped = bump(db).await?;
    if bumped == 0 {
        // The row is created by the migration; recreate it if it was removed by hand.
        state_counter::Entity::insert(state_counter::ActiveModel {
            id: Set(COUNTER_ID),
            version: Set(0),
        })
        .on_conflict(
            OnConflict::column(state_counter::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        bump(db).await?;
    }
    let version = current_version(db).await?;
    let now = Utc::now();
    let targets: Vec<Option<Uuid>> = if identities.is_empty() {
        vec![None]
    } else {
        identities.iter().map(|id| Some(id.as_uuid())).collect()
    };
    state_change::Entity::insert_many(targets.into_iter().map(|identity_id| {
        state_change::ActiveModel {
            version: Set(version),
            identity_id: Set(identity_id),
            origin: Set(origin),
            created_at: Set(now),
            ..Default::default()
        }
    }))
    .exec_without_returning(db)
    .await?;
    Ok(version)
}

/// [`record`] in a transaction of its own, for writes that are not already in one.
pub async fn record_alone(
    db: &DatabaseConnection,
    origin: Uuid,
    identities: &[IdentityId],
) -> Result<i64, DbErr> {
    let transaction = db.begin().await?;
    let version = record(&transaction, origin, identities).await?;
    transaction.commit().await?;
    Ok(version)
}

async fn bump(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    Ok(state_counter::Entity::update_many()
        .col_expr(
            state_counter::Column::Version,
            Expr::col(state_counter::Column::Version).add(1),
        )
        .filter(state_counter::Column::Id.eq(COUNTER_ID))
        .exec(db)
        .await?
        .rows_affected)
}

/// The latest recorded version (0 before any change).
pub async fn current_version(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    Ok(state_counter::Entity::find_by_id(COUNTER_ID)
        .one(db)
        .await?
        .map_or(0, |row| row.version))
}

/// What one poll did to the hot layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Nothing new.
    Nothing,
    /// These many identities were dropped.
    Identities(usize),
    /// The whole hot layer was dropped (a host-wide change, or rows were missing).
    Everything,
}

/// Drops from `hot` what the change rows of versions `seen + 1 ..= current` name, skipping this
/// process's own changes; clears it all when any version in that range has no row.
pub fn apply(
    hot: &HotLayer,
    origin: Uuid,
    seen: i64,
    current: i64,
    rows: &[state_change::Model],
) -> Applied {
    if current <= seen {
        return Applied::Nothing;
    }
    let versions: BTreeSet<i64> = rows.iter().map(|row| row.version).collect();
    let is_complete = current - seen <= MAX_ROWS as i64
        && rows.len() < MAX_ROWS as usize
        && (seen + 1..=current).all(|version| versions.contains(&version));
    if !is_complete {
        hot.clear();
        return Applied::Everything;
    }
    let mut dropped = 0;
    for row in rows.iter().filter(|row| row.origin != origin) {
        match row.identity_id {
            Some(identity) => {
                hot.invalidate_identity(identity.into());
                dropped += 1;
            }
            None => {
                hot.clear();
                return Applied::Everything;
            }
        }
    }
    Applied::Identities(dropped)
}

/// Per change (version) of another process in `rows` that pub/sub has not delivered already per
/// `arrivals`: its commit time (the rows' `created_at`), oldest version first.
pub fn untimed_changes(
    origin: Uuid,
    rows: &[state_change::Model],
    arrivals: &Arrivals,
) -> Vec<DateTime<Utc>> {
    let mut by_version: std::collections::BTreeMap<i64, Vec<&state_change::Model>> =
        std::collections::BTreeMap::new();
    for row in rows.iter().filter(|row| row.origin != origin) {
        by_version.entry(row.version).or_default().push(row);
    }
    by_version
        .into_values()
        .filter(|rows| {
            !rows.iter().any(|row| {
                arrivals.was_received_by_pubsub(
                    row.origin,
                    row.identity_id.map(IdentityId::from),
                    row.created_at,
                )
            })
        })
        .filter_map(|rows| rows.iter().map(|row| row.created_at).min())
        .collect()
}

/// Polls the change feed until the task is dropped. `seen` is the version the hot layer is known to
/// be current with (read before anything was cached); `None` clears the hot layer on the first poll.
/// `arrivals` tells which changes pub/sub delivered first (those are not timed again).
pub fn spawn_watcher(
    db: DatabaseConnection,
    hot: Arc<HotLayer>,
    origin: Uuid,
    seen: Option<i64>,
    arrivals: Arc<Arrivals>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut watcher = Watcher {
            db,
            hot,
            origin,
            seen,
            arrivals,
            last_prune: Instant::now(),
        };
        let mut ticker = tokio::time::interval(POLL_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(error) = watcher.poll().await {
                tracing::debug!(%error, "change feed not readable; retrying");
            }
        }
    })
}

struct Watcher {
    db: DatabaseConnection,
    hot: Arc<HotLayer>,
    origin: Uuid,
    seen: Option<i64>,
    arrivals: Arc<Arrivals>,
    last_prune: Instant,
}

impl Watcher {
    async fn poll(&mut self) -> Result<(), DbErr> {
        let current = current_version(&self.db).await?;
        let Some(seen) = self.seen else {
            self.hot.clear();
            self.seen = Some(current);
            return Ok(());
        };
        if current < seen {
            // The counter went back (the database was restored): nothing cached can be trusted.
            self.hot.clear();
        } else if current > seen {
            let rows = state_change::Entity::find()
                .filter(state_change::Column::Version.gt(seen))
                .filter(state_change::Column::Version.lte(current))
                .order_by_asc(state_change::Column::Version)
                .limit(MAX_ROWS)
                .all(&self.db)
                .await?;
            let applied = apply(&self.hot, self.origin, seen, current, &rows);
            let received_at = Utc::now();
            for committed_at in untimed_changes(self.origin, &rows, &self.arrivals) {
                propagation::observe(Via::ChangeFeed, committed_at, received_at);
            }
            tracing::debug!(seen, current, ?applied, "change feed applied");
        }
        self.seen = Some(current);
        if self.last_prune.elapsed() >= PRUNE_EVERY {
            self.last_prune = Instant::now();
            let cutoff = Utc::now()
                - chrono::Duration::from_std(KEEP_FOR).unwrap_or(chrono::Duration::minutes(10));
            state_change::Entity::delete_many()
                .filter(state_change::Column::CreatedAt.lt(cutoff))
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::hot::IdentityHot;

    fn change(version: i64, identity: Option<IdentityId>, origin: Uuid) -> state_change::Model {
        state_change::Model {
            id: version,
            version,
            identity_id: identity.map(IdentityId::as_uuid),
            origin,
            created_at: Utc::now(),
        }
    }

    fn hot_with(identities: &[IdentityId]) -> HotLayer {
        let hot = HotLayer::new(16, Duration::from_secs(3600));
        for identity in identities {
            hot.insert_identity(*identity, IdentityHot::default());
        }
        hot
    }

    #[test]
    fn named_identities_are_dropped_and_own_changes_skipped() {
        let (me, other) = (Uuid::new_v4(), Uuid::new_v4());
        let (a, b, c) = (
            IdentityId::random(),
            IdentityId::random(),
            IdentityId::random(),
        );
        let hot = hot_with(&[a, b, c]);
        let rows = [change(4, Some(a), other), change(5, Some(b), me)];
        assert_eq!(apply(&hot, me, 3, 5, &rows), Applied::Identities(1));
        assert!(hot.identity(a).is_none());
        assert!(
            hot.identity(b).is_some(),
            "own change: already dropped here"
        );
        assert!(hot.identity(c).is_some());
    }

    #[test]
    fn each_change_of_another_process_is_timed_once_unless_pubsub_had_it() {
        let (me, other) = (Uuid::new_v4(), Uuid::new_v4());
        let (a, b, c) = (
            IdentityId::random(),
            IdentityId::random(),
            IdentityId::random(),
        );
        let arrivals = Arrivals::default();
        let mut linked = [change(7, Some(a), other), change(7, Some(c), other)];
        linked[1].id = 70;
        let rows = [
            change(6, Some(a), me),
            linked[0].clone(),
            linked[1].clone(),
            change(8, Some(b), other),
        ];
        assert_eq!(untimed_changes(me, &rows, &arrivals).len(), 2);
        arrivals.received_by_pubsub(other, Some(b), rows[3].created_at);
        assert_eq!(
            untimed_changes(me, &rows, &arrivals),
            vec![rows[1].created_at],
            "version 8 came by pub/sub; version 6 is this process's own"
        );
        // A message about an identity published after a change to it was created covers that
        // change too: the invalidation it caused came after that change committed.
        arrivals.received_by_pubsub(other, Some(c), rows[3].created_at);
        assert!(untimed_changes(me, &rows, &arrivals).is_empty());
    }

    #[test]
    fn a_missing_version_or_a_host_wide_change_clears_everything() {
        let (me, other) = (Uuid::new_v4(), Uuid::new_v4());
        let a = IdentityId::random();
        let hot = hot_with(&[a]);
        // Version 5 has no row (pruned): something may have been missed.
        assert_eq!(
            apply(&hot, me, 3, 6, &[change(4, None, me), change(6, None, me)]),
            Applied::Everything
        );
        assert!(hot.is_empty());
        let hot = hot_with(&[a]);
        assert_eq!(
            apply(&hot, me, 1, 2, &[change(2, None, other)]),
            Applied::Everything
        );
        assert!(hot.is_empty());
        let hot = hot_with(&[a]);
        assert_eq!(apply(&hot, me, 2, 2, &[]), Applied::Nothing);
        assert!(!hot.is_empty());
    }
}
