//! `whisperengine bench --load --small` runs end to end (so the bench never rots): the load bench
//! (`whisperengine_bench::run_load`, in process) spawns real host processes of the `whisperengine`
//! binary, drives signed Slack events through them to the fake Slack Web API, and its JSON has every
//! row with counts that add up and values in range. Timings are printed by the bench, never asserted
//! here.
//!
//! SQLite always; the PostgreSQL + Redis rows (one and two processes, and how the two processes'
//! turns reached each other) when `TEST_DATABASE_URL` and `TEST_REDIS_URL` are set, and otherwise
//! the JSON must say why they were skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use serde_json::Value;
use whisperengine_bench::{run_load, LoadOptions};

fn number(row: &Value, field: &str) -> f64 {
    row[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} missing in {row}"))
}

/// Runs the small load bench as `whisperengine bench --load --small --json -` would, with the
/// PostgreSQL and Redis URLs only when both are given, and returns its JSON.
async fn run_small_bench(postgres: Option<&str>, redis: Option<&str>) -> Value {
    // What the bench reads from the configuration: the defaults, and the repository's characters.
    let settings = whisperengine::config::Settings {
        personalities_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/personalities").into(),
        ..Default::default()
    };
    let (database_url, redis_url) = match (postgres, redis) {
        (Some(postgres), Some(redis)) => (Some(postgres.to_string()), Some(redis.to_string())),
        _ => (None, None),
    };
    let report = run_load(LoadOptions {
        settings,
        is_small: true,
        database_url,
        redis_url,
        host_binary: env!("CARGO_BIN_EXE_whisperengine").into(),
    })
    .await
    .unwrap_or_else(|error| panic!("bench failed: {error:#}"));
    serde_json::to_value(&report).expect("the report is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_load_bench_reports_every_row_with_no_lost_or_doubled_replies() {
    let postgres = common::postgres_url();
    let redis = common::redis_url();
    let has_postgres = postgres.is_some() && redis.is_some();
    let report = run_small_bench(postgres.as_deref(), redis.as_deref()).await;

    assert_eq!(report["mode"], "small");
    assert!(number(&report["machine"], "cores") >= 1.0);
    let runs = report["runs"].as_array().unwrap();
    let mut expected = vec![("sqlite", 1)];
    if has_postgres {
        expected.extend([("postgres+redis", 1), ("postgres+redis", 2)]);
    }
    let found: Vec<(&str, u64)> = runs
        .iter()
        .map(|run| {
            (
                run["database"].as_str().unwrap(),
                run["processes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        expected
            .iter()
            .map(|(database, processes)| (*database, *processes as u64))
            .collect::<Vec<_>>()
    );
    for run in runs {
        let messages = number(run, "messages");
        assert!(messages >= 100.0, "{run}");
        assert_eq!(
            number(run, "acknowledged"),
            messages,
            "every event acknowledged: {run}"
        );
        assert_eq!(
            number(run, "replied"),
            messages,
            "every message answered: {run}"
        );
        assert_eq!(number(run, "lost"), 0.0, "{run}");
        assert_eq!(number(run, "refused"), 0.0, "{run}");
        assert_eq!(
            number(run, "extra_posts"),
            0.0,
            "nothing answered twice: {run}"
        );
        let (p50, p99) = (number(run, "p50_ms"), number(run, "p99_ms"));
        assert!(p50 > 0.0 && p99 >= p50, "{run}");
        let rate = number(run, "messages_per_second");
        let raw = number(run, "raw_inserts_per_second");
        assert!(rate > 0.0 && raw > 0.0, "{run}");
        assert!(
            (number(run, "ratio_to_raw") - rate / raw).abs() < 1e-6,
            "{run}"
        );
    }

    let skipped = report["skipped"].as_array().unwrap();
    let is_skipped = |database: &str, processes: u64| {
        skipped.iter().any(|row| {
            row["database"] == database
                && row["processes"] == processes
                && !row["reason"].as_str().unwrap_or_default().is_empty()
        })
    };
    assert!(is_skipped("sqlite", 2), "{skipped:?}");
    assert_eq!(
        is_skipped("postgres+redis", 1),
        !has_postgres,
        "{skipped:?}"
    );

    // With two processes, the turns each one stored reached the other by pub/sub with their
    // content and were appended to the people it held (the bench spreads each person's messages
    // over both). The delay is printed by the bench, not asserted.
    if has_postgres {
        let visibility = &report["visibility"];
        let received = number(visibility, "received");
        let appended = number(visibility, "appended");
        assert!(received > 0.0, "no turn crossed: {visibility}");
        assert_eq!(
            received,
            appended + number(visibility, "not_held"),
            "{visibility}"
        );
        assert!(
            appended >= received / 2.0,
            "most turns should reach a person held there: {visibility}"
        );
        let (p50, p99) = (
            number(visibility, "p50_at_most_ms"),
            number(visibility, "p99_at_most_ms"),
        );
        assert!(p50 > 0.0 && p99 >= p50, "{visibility}");
    } else {
        assert!(report["visibility"].is_null(), "{}", report["visibility"]);
    }

    let footprint = report["footprint"].as_array().unwrap();
    let databases: Vec<&str> = footprint
        .iter()
        .map(|row| row["database"].as_str().unwrap())
        .collect();
    if has_postgres {
        assert_eq!(databases, ["sqlite", "postgres+redis"]);
    } else {
        assert_eq!(databases, ["sqlite"]);
    }
    for row in footprint {
        assert_eq!(number(row, "identities"), 1000.0, "{row}");
        assert_eq!(number(row, "touched"), 1000.0, "{row}");
        assert_eq!(number(row, "touched_replied"), 1000.0, "{row}");
        let (ready, now, peak) = (
            number(row, "rss_at_ready_mb"),
            number(row, "rss_mb"),
            number(row, "peak_rss_mb"),
        );
        assert!(ready > 1.0 && now > 1.0 && peak >= now, "{row}");
        let starts = row["cold_start_ms"].as_array().unwrap();
        assert_eq!(starts.len(), 3, "{row}");
        let median = number(row, "cold_start_median_ms");
        assert!(median > 0.0, "{row}");
        assert!(
            starts.iter().any(|start| start.as_f64() == Some(median)),
            "{row}"
        );
    }
}

/// `whisperengine bench --stream --small` runs end to end: every platform's reply streams (more
/// than one write each), nothing is refused, and no first text comes before the fake model's
/// first token. Timings beyond that are printed by the bench, never asserted.
#[tokio::test]
async fn the_streaming_bench_measures_every_platform() {
    let settings = whisperengine::config::Settings {
        personalities_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/personalities").into(),
        ..Default::default()
    };
    let report = whisperengine_bench::run_stream(whisperengine_bench::StreamOptions {
        settings,
        replies: 2,
    })
    .await
    .unwrap();
    let platforms: Vec<&str> = report
        .rows
        .iter()
        .map(|row| row.platform.as_str())
        .collect();
    assert_eq!(platforms, ["local", "discord", "slack", "teams"]);
    let first_token = whisperengine_bench::stream::FIRST_TOKEN.as_secs_f64() * 1000.0;
    for row in &report.rows {
        assert_eq!(row.replies, 2, "{row:?}");
        assert_eq!(row.refused, 0, "{row:?}");
        assert!(row.writes_per_reply >= 2.0, "{row:?}");
        assert!(row.first_text_p50_ms >= first_token, "{row:?}");
        assert!(row.llm_first_token_p50_ms >= first_token, "{row:?}");
    }
}

/// Floor of the 100-people run's ratio to raw inserts.
const FLOOR_100_PEOPLE: f64 = 0.15;
/// Floor of the first-contact run's rate as a share of the 100-people run's.
const FIRST_CONTACT_SHARE_OF_100: f64 = 0.3;

/// The pipeline bench (`whisperengine bench --messages N --memories 0`) in small: every goal is
/// reported, and the ratios it measures against the raw insert rate of the same run stay above
/// floors far under what the release bench measures (a debug build on a shared machine), so a
/// change that loses what the group commit and the hot layer won shows here. Never absolute times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_bench_keeps_its_ratios_to_raw_inserts() {
    let settings = whisperengine::config::Settings {
        personalities_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/personalities").into(),
        ..Default::default()
    };
    let report = whisperengine_bench::run_pipeline(whisperengine_bench::PipelineOptions {
        settings,
        database_url: None,
        redis_url: None,
        messages: 600,
        concurrency: 16,
        sequential: 100,
    })
    .await
    .unwrap_or_else(|error| panic!("bench failed: {error:#}"));
    let goals: Vec<&str> = report.goals.iter().map(|goal| goal.goal.as_str()).collect();
    assert_eq!(goals.len(), 5, "{goals:?}");
    let ratio = |users: usize| {
        report
            .runs
            .iter()
            .find(|run| run.users == users)
            .map(|run| run.ratio_to_raw)
            .unwrap_or_else(|| panic!("no run with {users} users"))
    };
    for run in &report.runs {
        assert_eq!(run.messages, 600, "every message answered: {run:?}");
    }
    let (one, hundred, first_contact) = (ratio(1), ratio(100), ratio(10_000));
    println!("ratios to raw: one person {one:.2}, 100 people {hundred:.2}, first contact {first_contact:.2}");
    assert!(hundred >= FLOOR_100_PEOPLE, "100 people: {hundred:.2}× raw");
    // First contact creates the person through the group commit and needs no SQL read of them.
    assert!(
        first_contact >= FIRST_CONTACT_SHARE_OF_100 * hundred,
        "first contact {first_contact:.2}× raw against 100 people's {hundred:.2}×"
    );
    assert!(one > 0.0);
}
