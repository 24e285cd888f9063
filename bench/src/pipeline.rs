//! The pipeline in one process, in one run on one database: (a) raw inserts of a memory row
//! through sea-orm, one at a time; (c) one message at a time through the whole pipeline (offline
//! responder: everything but a language model), with where its time goes step by step; (b) 64
//! concurrent senders spread over 1, 100 and 10,000 distinct people. Every goal is printed as
//! measured / target, ratios against (a) of the same run.
//!
//! Every run's people and event ids carry a tag of their own, so reruns on one database neither
//! find earlier runs' events (they would be answered as duplicates) nor their people.

use crate::goals::{self, Goal};
use crate::steps::{self, StepFigures};
use anyhow::Context;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use whisperengine::config::{DeploymentMode, Settings};
use whisperengine::core::Core;
use whisperengine::store::entities::{memory, platform_account};
use whisperengine::store::kinds::MemoryRole;
use whisperengine::store::Store;
use whisperengine_contract::{
    Capabilities, ConversationContext, EventHandler, InboundEvent, InboundMessage, Platform,
    PlatformAccount,
};

/// What the pipeline bench runs.
pub struct PipelineOptions {
    /// The host's settings (the database, the responder and the rate limit are set by the bench).
    pub settings: Settings,
    /// Database to measure (default: a fresh SQLite file in a temporary folder).
    pub database_url: Option<String>,
    /// Redis for dedupe and the hot layer's announcements (none by default).
    pub redis_url: Option<String>,
    /// Raw inserts, and messages per concurrent run.
    pub messages: usize,
    /// Concurrent senders in the throughput runs.
    pub concurrency: usize,
    /// Messages of the one-at-a-time run.
    pub sequential: usize,
}

#[derive(Debug, Serialize)]
pub struct PipelineRun {
    pub users: usize,
    pub messages: usize,
    pub messages_per_second: f64,
    pub ratio_to_raw: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Mean and p99 per step in this run (empty when the steps were not recorded).
    pub steps: Vec<StepFigures>,
}

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub database: String,
    pub redis: bool,
    pub raw_inserts_per_second: f64,
    /// Latency of one message at a time (the pipeline's own overhead, no queueing).
    pub sequential_p50_ms: f64,
    pub sequential_p99_ms: f64,
    pub sequential_mean_ms: f64,
    /// Where the time of one message goes, one at a time (empty when not recorded).
    pub sequential_steps: Vec<StepFigures>,
    pub runs: Vec<PipelineRun>,
    /// Every goal of this mode, measured / target.
    pub goals: Vec<Goal>,
    /// Retrieval over many stored memories, when run.
    pub retrieval: Option<crate::retrieval::RetrievalReport>,
}

pub(crate) const SAMPLE_MESSAGES: &[&str] = &[
    "My cat is called Miso and she loves boxes",
    "I live in Lisbon near the river",
    "I'm a nurse and work night shifts",
    "what's my cat called?",
    "I feel a bit anxious about tomorrow",
    "Remember that my sister's birthday is in May",
    "hello!",
    "I love sailing on weekends",
    "where do I live?",
    "thanks, that really helps",
];

/// The core the pipeline bench runs on, with what it printed about it.
pub(crate) struct BenchCore {
    pub core: Core,
    pub display: String,
    pub has_redis: bool,
    pub is_postgres: bool,
    /// Holds the temporary SQLite file while the bench runs.
    _folder: tempfile::TempDir,
}

/// Builds the core the pipeline and retrieval benches run on.
pub(crate) async fn bench_core(
    settings: Settings,
    database_url: Option<String>,
    redis_url: Option<String>,
) -> anyhow::Result<BenchCore> {
    let folder = tempfile::tempdir().context("creating a temporary folder")?;
    let database_url = database_url.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            folder.path().join("bench.db").display()
        )
    });
    let mut settings = settings;
    let is_postgres = database_url.starts_with("postgres");
    settings.database_url = database_url;
    settings.deployment_mode = DeploymentMode::Cloud;
    settings.rate_limit_per_minute = 0;
    settings.llm_base_url = None;
    settings.local_model = whisperengine::models::LocalModelChoice::Off;
    settings.hot_cache_capacity = settings.hot_cache_capacity.max(10_000);
    settings.redis_url = match redis_url {
        Some(url) => Some(url::Url::parse(&url).context("--redis-url")?),
        None => None,
    };
    let has_redis = settings.redis_url.is_some();
    if has_redis {
        settings.redis_key_prefix = format!("bench-{}:", run_tag());
    }
    let display = settings.database_display();
    let core = whisperengine::setup::build_core(Arc::new(settings)).await?;
    Ok(BenchCore {
        core,
        display,
        has_redis,
        is_postgres,
        _folder: folder,
    })
}

/// A short tag of this run, for ids that must not collide with an earlier run's.
fn run_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

/// Runs (a), (c) and (b) on `bench`, printing every figure, the breakdown and the goals.
pub(crate) async fn run_on(
    bench: &BenchCore,
    messages: usize,
    concurrency: usize,
    sequential: usize,
) -> anyhow::Result<BenchReport> {
    let core = &bench.core;
    let tag = run_tag();
    println!(
        "Benchmark on {}{} (offline responder, rate limit off)",
        bench.display,
        if bench.has_redis { " + Redis" } else { "" }
    );
    let raw = raw_inserts(&core.store, messages, &tag).await?;
    println!("(a) raw memory inserts through sea-orm: {raw:>10.0} rows/s");

    steps::reset();
    let sequential_figures = sequential_latency(core, sequential, &tag).await;
    let sequential_steps = steps::take();
    println!(
        "(c) one message at a time ({sequential} messages): p50 {:.3} ms, p99 {:.3} ms, mean {:.3} ms",
        sequential_figures.p50_ms, sequential_figures.p99_ms, sequential_figures.mean_ms
    );
    print_breakdown(&sequential_steps, sequential_figures.mean_ms);

    let mut runs = Vec::new();
    println!(
        "(b) pipeline, {} concurrent senders:\n    {:>7} {:>9} {:>12} {:>8} {:>9} {:>9}",
        concurrency, "users", "messages", "messages/s", "÷ raw", "p50 ms", "p99 ms"
    );
    for users in [1usize, 100, 10_000] {
        steps::reset();
        let mut run = pipeline_run(core, users, messages, concurrency, raw, &tag).await;
        run.steps = steps::take();
        println!(
            "    {:>7} {:>9} {:>12.0} {:>8.2} {:>9.3} {:>9.3}",
            run.users,
            run.messages,
            run.messages_per_second,
            run.ratio_to_raw,
            run.p50_ms,
            run.p99_ms
        );
        runs.push(run);
    }
    print_concurrent_breakdown(&runs);
    core.flush_hot_state().await?;
    let goals = pipeline_goals(bench, &sequential_figures, &runs);
    print!(
        "{}",
        goals::table("Goals (measured / target, this run):", &goals)
    );
    Ok(BenchReport {
        database: bench.display.clone(),
        redis: bench.has_redis,
        raw_inserts_per_second: raw,
        sequential_p50_ms: sequential_figures.p50_ms,
        sequential_p99_ms: sequential_figures.p99_ms,
        sequential_mean_ms: sequential_figures.mean_ms,
        sequential_steps,
        runs,
        goals,
        retrieval: None,
    })
}

/// The pipeline bench alone, on a core of its own (what CI runs with small counts).
pub async fn run_pipeline(options: PipelineOptions) -> anyhow::Result<BenchReport> {
    let bench = bench_core(options.settings, options.database_url, options.redis_url).await?;
    run_on(
        &bench,
        options.messages,
        options.concurrency,
        options.sequential,
    )
    .await
}

/// The goals of this mode, from this run's figures.
fn pipeline_goals(bench: &BenchCore, sequential: &Latency, runs: &[PipelineRun]) -> Vec<Goal> {
    let (database, p99_target) = if bench.is_postgres {
        ("PostgreSQL", 3.0)
    } else {
        ("SQLite", 2.0)
    };
    let mut goals = vec![
        Goal::at_most_ms(
            "per-message overhead p50, one at a time",
            sequential.p50_ms,
            0.5,
        ),
        Goal::at_most_ms(
            format!("per-message overhead p99, one at a time ({database})"),
            sequential.p99_ms,
            p99_target,
        ),
    ];
    let ratio = |users: usize| {
        runs.iter()
            .find(|run| run.users == users)
            .map_or(f64::NAN, |run| run.ratio_to_raw)
    };
    goals.push(Goal::at_least_raw(
        "one person, concurrent senders",
        ratio(1),
        0.5,
    ));
    goals.push(Goal::at_least_raw("100 people", ratio(100), 1.0));
    goals.push(Goal::at_least_raw(
        "10,000 people (first contact)",
        ratio(10_000),
        0.5,
    ));
    goals
}

fn print_breakdown(figures: &[StepFigures], measured_mean_ms: f64) {
    if figures.is_empty() || !steps::is_recording() {
        println!(
            "    (no per-step breakdown: the steps are recorded by the whisperengine-bench executable)"
        );
        return;
    }
    let total: f64 = figures.iter().map(|step| step.mean_ms).sum();
    println!("    where one message's time goes (ms per message):");
    println!(
        "    {:<11} {:>8} {:>8} {:>6}  what",
        "step", "mean", "p99", "share"
    );
    for step in figures {
        println!(
            "    {:<11} {:>8.4} {:>8.4} {:>5.1}%  {}",
            step.step,
            step.mean_ms,
            step.p99_ms,
            if total > 0.0 {
                step.mean_ms * 100.0 / total
            } else {
                0.0
            },
            step.what
        );
    }
    println!(
        "    {:<11} {:>8.4}           (the measured mean of a whole message: {:.4})",
        "all steps", total, measured_mean_ms
    );
}

fn print_concurrent_breakdown(runs: &[PipelineRun]) {
    if runs.iter().all(|run| run.steps.is_empty()) || !steps::is_recording() {
        return;
    }
    let mut header = format!("    {:<11}", "step (mean)");
    for run in runs {
        header.push_str(&format!(" {:>14}", format!("{} users, ms", run.users)));
    }
    println!("    where the time goes with concurrent senders (waiting for a core included):");
    println!("{header}");
    let Some(first) = runs.first() else {
        return;
    };
    for (index, step) in first.steps.iter().enumerate() {
        let mut line = format!("    {:<11}", step.step);
        for run in runs {
            let mean = run.steps.get(index).map_or(0.0, |step| step.mean_ms);
            line.push_str(&format!(" {mean:>14.4}"));
        }
        println!("{line}");
    }
}

pub(crate) async fn raw_inserts(store: &Store, count: usize, tag: &str) -> anyhow::Result<f64> {
    let account = whisperengine::core::identity::resolve_account(
        store,
        &PlatformAccount::new(Platform::Desktop, "", format!("bench-raw-{tag}")),
    )
    .await?;
    let _ = platform_account::Entity::find_by_id(account.id)
        .one(&store.db)
        .await?;
    let started = Instant::now();
    for index in 0..count {
        memory::ActiveModel {
            account_id: Set(account.id.into()),
            role: Set(MemoryRole::User.into()),
            content: Set(SAMPLE_MESSAGES[index % SAMPLE_MESSAGES.len()].into()),
            platform: Set("desktop".into()),
            scope: Set(String::new()),
            channel_id: Set("bench".into()),
            thread_id: Set(None),
            visibility: Set("dm".into()),
            importance: Set(0.5),
            emotion: Set(None),
            emotion_intensity: Set(None),
            created_at: Set(Utc::now()),
            last_recalled_at: Set(None),
            recall_count: Set(0),
            ..Default::default()
        }
        .insert(&store.db)
        .await?;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

fn message(user: usize, sequence: usize, prefix: &str) -> InboundEvent {
    InboundEvent::Message(InboundMessage {
        event_id: format!("{prefix}-{user}-{sequence}").into(),
        author: PlatformAccount::new(Platform::Desktop, "", format!("{prefix}-user-{user}")),
        context: ConversationContext::direct("bench"),
        text: SAMPLE_MESSAGES[sequence % SAMPLE_MESSAGES.len()].to_string(),
        is_addressed: true,
        mentions: Vec::new(),
        author_roles: Vec::new(),
        inbox: None,
    })
}

/// Percentiles and mean of one-at-a-time messages, in milliseconds.
struct Latency {
    p50_ms: f64,
    p99_ms: f64,
    mean_ms: f64,
}

async fn sequential_latency(core: &Core, count: usize, tag: &str) -> Latency {
    let mut latencies = Vec::with_capacity(count);
    let prefix = format!("seq-{tag}");
    for sequence in 0..count {
        let started = Instant::now();
        core.handle(message(0, sequence, &prefix), Capabilities::LOCAL)
            .await;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let total: Duration = latencies.iter().sum();
    Latency {
        p50_ms: crate::percentile(&latencies, 0.5),
        p99_ms: crate::percentile(&latencies, 0.99),
        mean_ms: if latencies.is_empty() {
            0.0
        } else {
            total.as_secs_f64() * 1000.0 / latencies.len() as f64
        },
    }
}

async fn pipeline_run(
    core: &Core,
    users: usize,
    messages: usize,
    concurrency: usize,
    raw: f64,
    tag: &str,
) -> PipelineRun {
    let prefix = format!("run{users}-{tag}");
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let core = core.clone();
        let next = next.clone();
        let prefix = prefix.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if index >= messages {
                    break;
                }
                let event = message(index % users, index / users, &prefix);
                let sent = Instant::now();
                core.handle(event, Capabilities::LOCAL).await;
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(messages);
    for task in tasks {
        if let Ok(part) = task.await {
            latencies.extend(part);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let rate = latencies.len() as f64 / elapsed;
    PipelineRun {
        users,
        messages: latencies.len(),
        messages_per_second: rate,
        ratio_to_raw: rate / raw,
        p50_ms: crate::percentile(&latencies, 0.5),
        p99_ms: crate::percentile(&latencies, 0.99),
        steps: Vec::new(),
    }
}
