//! The propagation KPI between two real host processes: a preference changed through one process
//! is counted in the other's `/metrics` as `whisperengine_state_propagation_seconds` with
//! `via="change_feed"` (SQLite, no Redis) or `via="pubsub"` (PostgreSQL + Redis, one prefix), with
//! a plausible time (no more than the change feed's poll interval plus a margin), and the process
//! that made the change does not count it. Values are checked for plausibility, not speed.

use crate::common;
use crate::multiprocess::Launch;

use common::host::HostProcess;
use common::metrics::{sample, scrape};
use std::time::{Duration, Instant};

const COUNT: &str = "whisperengine_state_propagation_seconds_count";
const SUM: &str = "whisperengine_state_propagation_seconds_sum";
/// The change feed polls every 250 ms; a change is at most one interval plus the read late, and a
/// loaded test machine gets half a second more.
const PLAUSIBLE: Duration = Duration::from_millis(750);

/// `(count, sum)` of the histogram for `via` in `process`'s `/metrics` (0 before any sample).
async fn propagation(process: &HostProcess, via: &str) -> (f64, f64) {
    let metrics = scrape(&format!("http://{}", process.address)).await;
    let label = format!("via=\"{via}\"");
    (
        sample(&metrics, COUNT, &[&label]).unwrap_or(0.0),
        sample(&metrics, SUM, &[&label]).unwrap_or(0.0),
    )
}

/// Changes a preference through `writer` and checks that `reader` times it `via`, and `writer`
/// does not.
async fn a_preference_change_is_timed_by_the_other_process(
    name: &str,
    writer: &HostProcess,
    reader: &HostProcess,
    via: &str,
) {
    let client = reqwest::Client::new();
    // Both processes know alice, and whatever that wrote has arrived everywhere.
    writer.ask(&client, "alice", "/prefs").await;
    reader.ask(&client, "alice", "/prefs").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (reader_count, reader_sum) = propagation(reader, via).await;
    let (writer_count, _) = propagation(writer, via).await;

    let reply = writer
        .ask(&client, "alice", "/prefs set timezone Asia/Tokyo")
        .await;
    assert!(
        !reply.is_empty(),
        "{name}: the preference change was not answered"
    );
    let started = Instant::now();
    let (count, sum) = loop {
        let (count, sum) = propagation(reader, via).await;
        if count > reader_count {
            break (count, sum);
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: the other process never counted the change via {via}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mean = (sum - reader_sum) / (count - reader_count);
    eprintln!(
        "{name}: {} change(s) via {via}, {:.1} ms on average from commit to arrival",
        count - reader_count,
        mean * 1000.0
    );
    assert!(
        (0.0..PLAUSIBLE.as_secs_f64()).contains(&mean),
        "{name}: {mean} s per change via {via}"
    );
    // Let a second path (the feed after pub/sub) arrive too before looking at the writer.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        propagation(writer, via).await.0,
        writer_count,
        "{name}: the process that made the change counted it"
    );
    if via == "pubsub" {
        let feed = propagation(reader, "change_feed").await.0;
        eprintln!("{name}: the change feed timed {feed} change(s) pub/sub had not delivered first");
    }
}

#[tokio::test]
async fn a_change_made_through_one_process_is_timed_by_the_other() {
    let sqlite = common::fresh_sqlite();
    let launch = |mode| Launch {
        database_url: &sqlite.url,
        redis: None,
        mode,
    };
    let (writer, reader) = (launch("desktop").spawn(), launch("cloud").spawn());
    a_preference_change_is_timed_by_the_other_process(
        "sqlite, no redis",
        &writer,
        &reader,
        "change_feed",
    )
    .await;
    drop((writer, reader));

    let (Some(postgres), Some(redis)) = (common::postgres_url(), common::redis_url()) else {
        eprintln!("skipped: PostgreSQL + Redis (TEST_DATABASE_URL / TEST_REDIS_URL not set)");
        return;
    };
    let database = common::fresh_postgres(&postgres).await;
    let prefix = format!("{}:", common::unique_prefix());
    let launch = |mode| Launch {
        database_url: &database.url,
        redis: Some((&redis, &prefix)),
        mode,
    };
    let (writer, reader) = (launch("desktop").spawn(), launch("cloud").spawn());
    a_preference_change_is_timed_by_the_other_process(
        "postgres + redis",
        &writer,
        &reader,
        "pubsub",
    )
    .await;
    drop((writer, reader));
    database.cleanup().await;
}
