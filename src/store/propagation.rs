//! Propagation latency between host processes: for each change another process committed, how long
//! after its commit this process received it, by the way it arrived (`via`: `pubsub` or
//! `change_feed`), recorded as [`names::STATE_PROPAGATION_SECONDS`].
//!
//! The commit time comes from the writer: the timestamp a pub/sub invalidation carries (taken when
//! it is published, right after the commit), or the `created_at` of the `state_change` row (taken
//! in the transaction, just before the commit). The receipt time is this process's clock when the
//! message or the row arrived. The two clocks are different machines' clocks: skew can make a value
//! negative, and such a value is recorded as 0.
//!
//! A change normally arrives twice (pub/sub first, then the change feed at its next poll); only the
//! first arrival is the moment this process would use it. [`Arrivals`] remembers, per writing
//! process and target, the newest commit time received by pub/sub, so the change feed does not time
//! a change again that pub/sub already delivered. A change the feed reads before its pub/sub
//! message arrives is timed by both.

use crate::store::ids::IdentityId;
use crate::telemetry::names;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use uuid::Uuid;

/// How a change reached this process (the histogram's `via` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A Redis pub/sub invalidation.
    PubSub,
    /// A row of the SQL change feed.
    ChangeFeed,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::PubSub => "pubsub",
            Via::ChangeFeed => "change_feed",
        }
    }
}

/// Seconds from `committed_at` to `received_at`; 0 when clock skew makes it negative.
pub fn latency(committed_at: DateTime<Utc>, received_at: DateTime<Utc>) -> f64 {
    (received_at - committed_at)
        .to_std()
        .map_or(0.0, |latency| latency.as_secs_f64())
}

/// Records one change received `via` one way.
pub fn observe(via: Via, committed_at: DateTime<Utc>, received_at: DateTime<Utc>) {
    metrics::histogram!(names::STATE_PROPAGATION_SECONDS, "via" => via.as_str())
        .record(latency(committed_at, received_at));
}

/// Entries kept before the old ones are dropped.
const MAX_ENTRIES: usize = 4096;
/// How long a pub/sub arrival is remembered once [`MAX_ENTRIES`] is reached: far longer than the
/// change feed takes to read the same change.
const REMEMBER_FOR: Duration = Duration::from_secs(60);

/// A writing process and the target of its change (`None`: everything).
type Source = (Uuid, Option<IdentityId>);

/// Per writing process and target, the newest commit time received by pub/sub; shared by the pub/sub listener and the change-feed watcher of one process.
#[derive(Default)]
pub struct Arrivals {
    by_pubsub: Mutex<HashMap<Source, DateTime<Utc>>>,
}

impl Arrivals {
    /// Notes that pub/sub delivered a change of `target` committed by `origin` at `committed_at`.
    pub fn received_by_pubsub(
        &self,
        origin: Uuid,
        target: Option<IdentityId>,
        committed_at: DateTime<Utc>,
    ) {
        let mut by_pubsub = self
            .by_pubsub
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if by_pubsub.len() >= MAX_ENTRIES {
            let cutoff = Utc::now()
                - chrono::Duration::from_std(REMEMBER_FOR).unwrap_or(chrono::Duration::minutes(1));
            by_pubsub.retain(|_, at| *at >= cutoff);
            if by_pubsub.len() >= MAX_ENTRIES {
                by_pubsub.clear();
            }
        }
        let newest = by_pubsub.entry((origin, target)).or_insert(committed_at);
        *newest = (*newest).max(committed_at);
    }

    /// Whether pub/sub already delivered the change of `target` (`None`: everything) that `origin`
    /// created at `created_at`: a message from `origin` about that target (any target, for a
    /// host-wide change) published at or after that moment.
    pub fn was_received_by_pubsub(
        &self,
        origin: Uuid,
        target: Option<IdentityId>,
        created_at: DateTime<Utc>,
    ) -> bool {
        let by_pubsub = self
            .by_pubsub
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match target {
            Some(_) => by_pubsub
                .get(&(origin, target))
                .is_some_and(|at| *at >= created_at),
            None => by_pubsub
                .iter()
                .any(|((from, _), at)| *from == origin && *at >= created_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negative_latency_from_clock_skew_is_zero() {
        let now = Utc::now();
        assert_eq!(latency(now + chrono::Duration::seconds(2), now), 0.0);
        let waited = latency(now - chrono::Duration::milliseconds(250), now);
        assert!((waited - 0.25).abs() < 1e-9, "{waited}");
    }

    #[test]
    fn the_feed_skips_what_pubsub_delivered_after_the_row_was_created() {
        let arrivals = Arrivals::default();
        let (writer, other) = (Uuid::new_v4(), Uuid::new_v4());
        let identity = IdentityId::random();
        let created = Utc::now();
        assert!(!arrivals.was_received_by_pubsub(writer, Some(identity), created));
        arrivals.received_by_pubsub(
            writer,
            Some(identity),
            created + chrono::Duration::milliseconds(3),
        );
        assert!(arrivals.was_received_by_pubsub(writer, Some(identity), created));
        assert!(arrivals.was_received_by_pubsub(writer, None, created));
        assert!(!arrivals.was_received_by_pubsub(other, Some(identity), created));
        assert!(!arrivals.was_received_by_pubsub(writer, Some(IdentityId::random()), created));
        // A later change of the same identity is not covered by the earlier message.
        let later = created + chrono::Duration::seconds(1);
        assert!(!arrivals.was_received_by_pubsub(writer, Some(identity), later));
    }
}
