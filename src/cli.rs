//! The command line: `serve` (default), `chat`, `migrate`, `doctor`, `bench`, and the operator's
//! `admin isolate|release`, `audit`, `export`, `cache clear` (see [`crate::ops::cli`]).
//!
//! `bench` is the `whisperengine-bench` executable (the `bench/` crate, built with
//! `cargo build --release -p whisperengine-bench`): run from beside this one with the arguments as
//! given, plus `--host-binary` naming this executable for the host processes of `bench --load`.

use crate::app::{self, Application};
use crate::config::{self, Settings};
use crate::setup;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::sync::Arc;

/// WhisperEngine host: one AI companion across Discord, Slack, Teams and a local chat.
#[derive(Debug, Parser)]
#[command(name = "whisperengine", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the host: HTTP (local chat page, APIs, health, metrics) and every configured connector.
    Serve,
    /// Talk to the companion in this terminal (same core, same memory; no server needed).
    Chat {
        /// Who you are in the local chat.
        #[arg(long)]
        user: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Check configuration, database, Redis, the LLM endpoint and each connector's credentials.
    Doctor,
    /// Measure raw writes, the full pipeline and retrieval, or the host under load (`--load`); runs
    /// `whisperengine-bench` (see `whisperengine bench --help`).
    #[command(disable_help_flag = true)]
    Bench {
        /// The bench's arguments, passed on as given.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Operator actions without chat access: `admin isolate <target>`, `admin release <target>`.
    Admin {
        #[command(subcommand)]
        command: crate::ops::cli::AdminCommand,
    },
    /// Print the audit log since a time (RFC 3339) or an age (`24h`, `7d`).
    Audit {
        #[arg(long, default_value = "24h")]
        since: String,
        /// One JSON array instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Troubleshooting: `cache clear [identity|account]`.
    Cache {
        #[command(subcommand)]
        command: crate::ops::cli::CacheCommand,
    },
    /// The local model's file: `model fetch [name]`, `model list`, `model path`, `model remove`.
    Model {
        #[command(subcommand)]
        command: crate::ops::model::ModelCommand,
    },
    /// Print everything stored about one person (the identity of an account) as JSON.
    Export {
        /// The account, e.g. `slack:T0123/U0456`.
        #[arg(long)]
        account: String,
    },
}

/// Parses the command line and runs it; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    if let Some(Command::Bench { args }) = &cli.command {
        // The bench loads the settings itself, exactly as below.
        return Ok(bench(args));
    }
    let settings = match config::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return Ok(2);
        }
    };
    let quiet = matches!(
        cli.command,
        Some(Command::Chat { .. })
            | Some(Command::Admin { .. })
            | Some(Command::Audit { .. })
            | Some(Command::Export { .. })
            | Some(Command::Cache { .. })
            | Some(Command::Model { .. })
    );
    // serenity's info-level spans carry whole gateway payloads and request bodies (message
    // content): keep its logs at warn unless RUST_LOG asks for more.
    crate::telemetry::init_tracing(if quiet { "warn" } else { "info,serenity=warn" });
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await.map(|()| 0),
        Command::Chat { user } => chat(settings, user).await.map(|()| 0),
        Command::Migrate => migrate(settings).await.map(|()| 0),
        Command::Doctor => crate::doctor::run(&settings).await,
        Command::Bench { args } => Ok(bench(&args)),
        Command::Admin { command } => crate::ops::cli::admin(settings, command).await,
        Command::Audit { since, json } => crate::ops::cli::audit(settings, &since, json).await,
        Command::Export { account } => crate::ops::cli::export(settings, &account).await,
        Command::Cache { command } => crate::ops::cli::cache(settings, command).await,
        Command::Model { command } => crate::ops::model::run(settings, command).await,
    }
}

/// The bench executable's name.
const BENCH_EXECUTABLE: &str = "whisperengine-bench";

/// Runs `whisperengine-bench` from beside this executable with `args` (and `--host-binary` naming
/// this executable unless given), sharing stdin, stdout and stderr; returns its exit code, or 2
/// when it is not there.
fn bench(args: &[String]) -> i32 {
    let this = match std::env::current_exe() {
        Ok(this) => this,
        Err(error) => {
            eprintln!("error: cannot locate this executable to find {BENCH_EXECUTABLE}: {error}");
            return 2;
        }
    };
    let bench = this.with_file_name(format!(
        "{BENCH_EXECUTABLE}{}",
        std::env::consts::EXE_SUFFIX
    ));
    if !bench.is_file() {
        eprintln!(
            "error: {} is missing: the benchmark is its own executable; build it with \
             `cargo build --release -p whisperengine-bench` (or `cargo build -p whisperengine-bench` \
             beside a debug build), then run `whisperengine bench` again",
            bench.display()
        );
        return 2;
    }
    let mut command = std::process::Command::new(&bench);
    command.args(args);
    if !names_host_binary(args) {
        command.arg("--host-binary").arg(&this);
    }
    match command.status() {
        Ok(status) => status.code().unwrap_or(1),
        Err(error) => {
            eprintln!("error: cannot run {}: {error}", bench.display());
            2
        }
    }
}

/// Whether the bench's arguments already say which host executable to start.
fn names_host_binary(args: &[String]) -> bool {
    args.iter()
        .any(|arg| arg == "--host-binary" || arg.starts_with("--host-binary="))
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let summary = settings.connectors_summary();
    let mode = settings.deployment_mode.as_str();
    let database = settings.database_display();
    let redis = match settings.redis_url {
        Some(_) => settings.redis_display(),
        None => "none (single process; set REDIS_URL to share state across processes)".into(),
    };
    let local_chat_note = match (
        settings.deployment_mode == crate::config::DeploymentMode::Desktop,
        settings.local_api_token.is_some(),
    ) {
        (_, true) => Some("needs `Authorization: Bearer <LOCAL_API_TOKEN>` (page: add #token=…)"),
        (true, false) => None,
        (false, false) => Some("off outside desktop mode: set LOCAL_API_TOKEN to turn it on"),
    };
    let application = Application::build(settings).await?;
    let core = &application.core;
    println!(
        "WhisperEngine host — {} ({mode} mode)",
        core.personality.name
    );
    println!("  database:   {database}");
    println!("  redis:      {redis}");
    println!("  responder:  {}", core.responder.describe());
    if let Some(absence) = setup::local_model_absence(&core.settings) {
        println!("              {absence}");
    }
    println!("  local chat: http://{}/", application.address());
    if let Some(note) = local_chat_note {
        println!("              {note}");
    }
    println!(
        "  health:     http://{0}/healthz · metrics: http://{0}/metrics",
        application.address()
    );
    for (name, is_on, reason) in summary {
        println!(
            "  {name:<10}  {} — {reason}",
            if is_on { "on " } else { "off" }
        );
    }
    println!("Press Ctrl-C to stop.");
    application.run_until_stopped(app::shutdown_signal()).await
}

async fn chat(settings: Settings, user: Option<String>) -> anyhow::Result<()> {
    let user = user.unwrap_or_else(|| settings.local_user.clone());
    let core = setup::build_core(Arc::new(settings)).await?;
    let intro = format!(
        "Talking to {} as `{user}` (data: {}). Type /help for commands, /quit to leave.",
        core.personality.name,
        core.store.location()
    );
    let flusher = core.spawn_periodic_flush();
    // Retention (and demo expiry) hold in the terminal chat too.
    let expiry = crate::core::ops::lifecycle::spawn_expiry_task(
        &core,
        crate::core::ops::lifecycle::EXPIRY_INTERVAL,
    );
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let result = whisperengine_local::run_terminal(
        Arc::new(core.clone()),
        &user,
        &core.personality.name,
        &intro,
        core.settings
            .stream_replies
            .contains(&whisperengine_contract::Platform::Desktop),
        stdin,
        tokio::io::stdout(),
    )
    .await;
    flusher.abort();
    if let Some(expiry) = expiry {
        expiry.abort();
    }
    core.flush_hot_state().await.context("saving state")?;
    result.context("terminal")
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let store = crate::store::Store::connect(&setup::store_options(&settings))
        .await
        .context("DATABASE_URL")?;
    let applied = store.migrate().await.context("applying migrations")?;
    println!(
        "{}: {applied} migration(s) applied; schema is current.",
        store.location()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench_args(line: &[&str]) -> Vec<String> {
        match Cli::try_parse_from(line).unwrap().command {
            Some(Command::Bench { args }) => args,
            other => panic!("not bench: {other:?}"),
        }
    }

    #[test]
    fn bench_passes_every_argument_on_as_given() {
        let line = ["whisperengine", "bench", "--load", "--small", "--json", "-"];
        assert_eq!(bench_args(&line), ["--load", "--small", "--json", "-"]);
        assert_eq!(
            bench_args(&["whisperengine", "bench", "--help"]),
            ["--help"]
        );
        assert!(bench_args(&["whisperengine", "bench"]).is_empty());
    }

    #[test]
    fn a_host_binary_given_to_bench_is_kept() {
        let given = |args: &[&str]| {
            names_host_binary(&args.iter().map(|arg| arg.to_string()).collect::<Vec<_>>())
        };
        assert!(!given(&["--load"]));
        assert!(given(&["--load", "--host-binary", "/opt/whisperengine"]));
        assert!(given(&["--load", "--host-binary=/opt/whisperengine"]));
    }
}
