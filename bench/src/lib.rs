//! WhisperEngine's benchmark, the `whisperengine-bench` executable (`whisperengine bench …` runs it
//! with the same arguments). In one run, on one database, it measures (a) raw inserts/s of a memory
//! row through sea-orm, (b) full-pipeline messages/s with the offline responder for 1, 100 and
//! 10,000 distinct users, (c) pipeline latency p50/p99; prints (b)/(a) and, with `--json`, writes
//! JSON.
//!
//! (d) retrieval over `--memories` stored memories across `--identities` identities, p50/p99
//! (see [`retrieval`]); `--retrieval-only` runs just that.
//!
//! (e)/(f) `--load`: the real HTTP path with host processes of the `whisperengine` executable
//! (`--host-binary`), and the footprint (see [`load`], in process: [`run_load`]); `--small` shrinks
//! it to seconds for CI. The Slack the hosts reply to is [`whisperengine_fakes::slack`].
//!
//! (g) `--recall`: the recall evaluation — conversations of our own over months of sessions, and
//! questions about them; how often the memories the host puts into the prompt hold the evidence,
//! next to plain BM25 over the same turns (see [`recall`], in process: [`run_recall`]); `--small`
//! runs two conversations, for CI.
//!
//! By default it runs on a fresh SQLite file in a temporary folder (never on your data); pass
//! `--database-url` to measure PostgreSQL or another file.

mod driver;
mod host;
mod load;
pub mod local_model;
pub mod recall;
pub mod report;
mod retrieval;
pub mod stream;

pub use load::{run_load, LoadOptions};
pub use recall::{run_recall, RecallOptions, RecallReport};
pub use report::LoadReport;
pub use stream::{run_stream, StreamOptions, StreamReport};

use anyhow::Context;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde::Serialize;
use std::path::PathBuf;
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

#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("small_modes").args(["load", "recall", "stream", "local_model"]).multiple(false)))]
pub struct BenchArgs {
    /// Database to measure (default: a fresh SQLite file in a temporary folder). With `--load`: the
    /// PostgreSQL server for the PostgreSQL rows, used through a fresh schema that is dropped
    /// afterwards (default: TEST_DATABASE_URL).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Write the results as JSON to this file ("-" for stdout).
    #[arg(long)]
    pub json: Option<String>,
    /// Messages per pipeline run (and raw inserts).
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// Concurrent senders in the throughput runs.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Memories stored for the retrieval benchmark (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    pub memories: usize,
    /// Identities the retrieval benchmark's memories are spread over.
    #[arg(long, default_value_t = 10_000)]
    pub identities: usize,
    /// Recall queries in the retrieval benchmark.
    #[arg(long, default_value_t = 5_000)]
    pub queries: usize,
    /// Run only the retrieval benchmark.
    #[arg(long)]
    pub retrieval_only: bool,
    /// Run only the load and footprint bench: host processes behind the Slack HTTP endpoint.
    #[arg(long)]
    pub load: bool,
    /// Run only the recall evaluation: how often the memories put into the prompt hold the
    /// evidence for a question, for the host at MEMORY_TOP_K 5 and 10 and for plain BM25.
    #[arg(long)]
    pub recall: bool,
    /// Run only the streaming bench: time to the first visible text of a reply per platform,
    /// against a fake LLM writing at a fixed rate (Discord, Slack and the local chat in one host).
    #[arg(long)]
    pub stream: bool,
    /// Run only the local model bench: load time, first token, tokens/s, reply time and memory of
    /// the in-process model LOCAL_MODEL picks (fetched first with `whisperengine model fetch`).
    #[arg(long)]
    pub local_model: bool,
    /// With `--load`: a few hundred messages and 1,000 identities; with `--recall`: two
    /// conversations; with `--stream`: 5 replies per platform; with `--local-model`: 2 replies
    /// per prompt (what CI runs).
    #[arg(long, requires = "small_modes")]
    pub small: bool,
    /// With `--load`: Redis for the PostgreSQL rows (default: TEST_REDIS_URL).
    #[arg(long, requires = "load")]
    pub redis_url: Option<String>,
    /// With `--load`: the host executable to start (`<PATH> serve`); default: `whisperengine` next
    /// to this executable.
    #[arg(long, value_name = "PATH")]
    pub host_binary: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct PipelineRun {
    pub users: usize,
    pub messages: usize,
    pub messages_per_second: f64,
    pub ratio_to_raw: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub database: String,
    pub raw_inserts_per_second: f64,
    /// Latency of one message at a time (the pipeline's own overhead, no queueing).
    pub sequential_p50_ms: f64,
    pub sequential_p99_ms: f64,
    pub runs: Vec<PipelineRun>,
    /// Retrieval over many stored memories, when run.
    pub retrieval: Option<retrieval::RetrievalReport>,
}

const SAMPLE_MESSAGES: &[&str] = &[
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

/// Runs what `args` ask for on `settings` (as loaded for the host), printing the figures.
pub async fn run(settings: Settings, args: BenchArgs) -> anyhow::Result<()> {
    if args.load {
        let host_binary = match args.host_binary {
            Some(path) => path,
            None => default_host_binary()?,
        };
        let options = LoadOptions {
            settings,
            is_small: args.small,
            database_url: args
                .database_url
                .or_else(|| non_empty_env("TEST_DATABASE_URL")),
            redis_url: args.redis_url.or_else(|| non_empty_env("TEST_REDIS_URL")),
            host_binary,
        };
        let report = run_load(options).await?;
        return write_json(args.json.as_deref(), &report);
    }
    if args.local_model {
        let replies = if args.small { 2 } else { 10 };
        let report =
            tokio::task::spawn_blocking(move || local_model::run(&settings, replies)).await??;
        print!("{}", report.table());
        return write_json(args.json.as_deref(), &report);
    }
    if args.stream {
        let report = run_stream(StreamOptions {
            settings,
            replies: if args.small { 5 } else { 30 },
        })
        .await?;
        print!("{}", report.table());
        return write_json(args.json.as_deref(), &report);
    }
    if args.recall {
        let report = run_recall(RecallOptions {
            settings,
            is_small: args.small,
        })
        .await?;
        print!("{}", report.table());
        return write_json(args.json.as_deref(), &report);
    }
    let folder = tempfile::tempdir().context("creating a temporary folder")?;
    let database_url = args.database_url.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            folder.path().join("bench.db").display()
        )
    });
    let mut settings = settings;
    settings.database_url = database_url;
    settings.deployment_mode = DeploymentMode::Cloud;
    settings.rate_limit_per_minute = 0;
    settings.llm_base_url = None;
    settings.local_model = whisperengine::models::LocalModelChoice::Off;
    settings.hot_cache_capacity = settings.hot_cache_capacity.max(10_000);
    let display = settings.database_display();
    let settings = Arc::new(settings);
    let core = whisperengine::setup::build_core(settings.clone()).await?;
    println!("Benchmark on {display} (offline responder, rate limit off)");

    if args.retrieval_only {
        let report = retrieval::run(&core, args.memories, args.identities, args.queries).await?;
        return write_json(args.json.as_deref(), &report);
    }
    let raw = raw_inserts(&core.store, args.messages).await?;
    println!("(a) raw memory inserts through sea-orm: {raw:>10.0} rows/s");

    let (sequential_p50, sequential_p99) = sequential_latency(&core, 2_000).await;
    println!("(c) one message at a time: p50 {sequential_p50:.3} ms, p99 {sequential_p99:.3} ms");

    let mut runs = Vec::new();
    println!(
        "(b) pipeline, {} concurrent senders:\n    {:>7} {:>9} {:>12} {:>8} {:>9} {:>9}",
        args.concurrency, "users", "messages", "messages/s", "÷ raw", "p50 ms", "p99 ms"
    );
    for users in [1usize, 100, 10_000] {
        let run = pipeline_run(&core, users, args.messages, args.concurrency, raw).await;
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
    core.flush_hot_state().await?;
    let retrieval = if args.memories > 0 {
        Some(retrieval::run(&core, args.memories, args.identities, args.queries).await?)
    } else {
        None
    };
    let report = BenchReport {
        database: display,
        raw_inserts_per_second: raw,
        sequential_p50_ms: sequential_p50,
        sequential_p99_ms: sequential_p99,
        runs,
        retrieval,
    };
    write_json(args.json.as_deref(), &report)
}

/// The `whisperengine` executable next to this one (where `cargo build` puts both).
fn default_host_binary() -> anyhow::Result<PathBuf> {
    let executable = std::env::current_exe().context("locating this executable")?;
    Ok(executable.with_file_name(format!("whisperengine{}", std::env::consts::EXE_SUFFIX)))
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// Writes the report as JSON to `target` ("-" for stdout), when asked.
fn write_json(target: Option<&str>, report: &impl Serialize) -> anyhow::Result<()> {
    if let Some(target) = target {
        let json = serde_json::to_string_pretty(report)?;
        if target == "-" {
            println!("{json}");
        } else {
            std::fs::write(target, json).with_context(|| format!("writing {target}"))?;
            println!("JSON written to {target}");
        }
    }
    Ok(())
}

async fn raw_inserts(store: &Store, count: usize) -> anyhow::Result<f64> {
    let account = whisperengine::core::identity::resolve_account(
        store,
        &PlatformAccount::new(Platform::Desktop, "", "bench-raw"),
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

fn percentile(sorted: &[Duration], share: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * share).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn sequential_latency(core: &Core, count: usize) -> (f64, f64) {
    let mut latencies = Vec::with_capacity(count);
    for sequence in 0..count {
        let started = Instant::now();
        core.handle(message(0, sequence, "seq"), Capabilities::LOCAL)
            .await;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    (percentile(&latencies, 0.5), percentile(&latencies, 0.99))
}

async fn pipeline_run(
    core: &Core,
    users: usize,
    messages: usize,
    concurrency: usize,
    raw: f64,
) -> PipelineRun {
    let prefix = format!("run{users}");
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
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    #[test]
    fn the_load_bench_takes_the_host_executable_to_start() {
        let cli = Cli::try_parse_from([
            "whisperengine-bench",
            "--load",
            "--small",
            "--json",
            "-",
            "--host-binary",
            "/opt/whisperengine",
        ]);
        let args = cli.unwrap().args;
        assert!(args.load && args.small);
        assert_eq!(args.json.as_deref(), Some("-"));
        assert_eq!(args.host_binary, Some(PathBuf::from("/opt/whisperengine")));
    }

    #[test]
    fn small_goes_with_the_load_bench_or_the_recall_evaluation_alone() {
        let parse = |line: &[&str]| Cli::try_parse_from(line).map(|cli| cli.args);
        let recall = parse(&[
            "whisperengine-bench",
            "--recall",
            "--small",
            "--json",
            "r.json",
        ]);
        let recall = recall.unwrap();
        assert!(recall.recall && recall.small && !recall.load);
        assert!(parse(&["whisperengine-bench", "--small"]).is_err());
        assert!(parse(&["whisperengine-bench", "--load", "--recall"]).is_err());
    }
}
