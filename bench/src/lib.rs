//! WhisperEngine's benchmark, the `whisperengine-bench` executable (`whisperengine bench …` runs it
//! with the same arguments). In one run, on one database, it measures (a) raw inserts/s of a memory
//! row through sea-orm, (b) full-pipeline messages/s with the offline responder for 1, 100 and
//! 10,000 distinct users, (c) pipeline latency p50/p99 with where one message's time goes step by
//! step (see [`pipeline`], [`steps`]); prints (b)/(a), every goal as measured / target with `met`
//! or `NOT met` (see [`goals`]) and, with `--json`, writes JSON.
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
pub mod goals;
mod host;
mod load;
pub mod local_model;
pub mod pipeline;
pub mod recall;
pub mod report;
mod retrieval;
pub mod steps;
pub mod stream;
pub mod visibility;

pub use load::{run_load, LoadOptions};
pub use pipeline::{run_pipeline, BenchReport, PipelineOptions, PipelineRun};
pub use recall::{run_recall, RecallOptions, RecallReport};
pub use report::LoadReport;
pub use stream::{run_stream, StreamOptions, StreamReport};

use anyhow::Context;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;
use whisperengine::config::Settings;

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
    /// With `--recall`: also run the host with semantic recall on embeddings computed in process
    /// from this sentence-transformers model folder (default: LOCAL_EMBEDDINGS, when set).
    #[arg(long, value_name = "FOLDER", requires = "recall")]
    pub embeddings: Option<PathBuf>,
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
    /// With `--load`: Redis for the PostgreSQL rows (default: TEST_REDIS_URL). In the pipeline
    /// bench: Redis for dedupe and the hot layer's announcements (none by default).
    #[arg(long)]
    pub redis_url: Option<String>,
    /// With `--load`: the host executable to start (`<PATH> serve`); default: `whisperengine` next
    /// to this executable.
    #[arg(long, value_name = "PATH")]
    pub host_binary: Option<PathBuf>,
}

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
        let embeddings = args
            .embeddings
            .or_else(|| settings.local_embeddings.clone());
        let report = run_recall(RecallOptions {
            settings,
            is_small: args.small,
            embeddings,
        })
        .await?;
        print!("{}", report.table());
        return write_json(args.json.as_deref(), &report);
    }
    let redis_url = args.redis_url.clone();
    let bench =
        pipeline::bench_core(settings, args.database_url.clone(), redis_url.clone()).await?;
    if args.retrieval_only {
        println!(
            "Benchmark on {} (offline responder, rate limit off)",
            bench.display
        );
        let report =
            retrieval::run(&bench.core, args.memories, args.identities, args.queries).await?;
        return write_json(args.json.as_deref(), &report);
    }
    let mut report =
        pipeline::run_on(&bench, args.messages, args.concurrency, SEQUENTIAL_MESSAGES).await?;
    if args.memories > 0 {
        report.retrieval =
            Some(retrieval::run(&bench.core, args.memories, args.identities, args.queries).await?);
    }
    write_json(args.json.as_deref(), &report)
}

/// Messages of the one-at-a-time run of the pipeline bench.
const SEQUENTIAL_MESSAGES: usize = 2_000;

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

fn percentile(sorted: &[Duration], share: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * share).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
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
