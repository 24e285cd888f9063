//! `whisperengine bench --load`: the host measured from the outside, the way Slack sees it.
//!
//! (e) Throughput and latency through the real HTTP path: host processes (`<host binary> serve`)
//! get signed Slack Events API DMs on `/slack/events` (signature check, JSON parsing, pipeline,
//! storage, offline responder) and reply through slack-morphism to a fake Slack Web API on
//! 127.0.0.1 ([`whisperengine_fakes::slack`]); a message counts once its reply reached the fake.
//! Rows: SQLite with one process, PostgreSQL + Redis with one and two processes, each beside the
//! raw insert rate measured on the same database in the same run.
//! (f) Footprint: resident memory of a host with many known identities after it touched them, and
//! cold start (spawn → first 200 of `/readyz`).
//!
//! Every database is fresh: a SQLite file in a temporary folder, or a new PostgreSQL schema that is
//! dropped at the end; Redis keys carry a prefix of their own.

use super::driver::{self, Plan, SIGNING_SECRET};
use super::host::HostProcess;
use super::report::{Footprint, LoadReport, LoadRun, Machine, Skipped};
use anyhow::{bail, Context};
use chrono::Utc;
use sea_orm::{ConnectionTrait, Database, EntityTrait, Set};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use whisperengine::config::Settings;
use whisperengine::store::entities::{identity, platform_account};
use whisperengine::store::Store;
use whisperengine_fakes::slack::{FakeSlack, BOT_TOKEN, TEAM};

/// Sizes of one bench run.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub messages: usize,
    pub users: usize,
    pub concurrency: usize,
    pub identities: usize,
    pub cold_starts: usize,
}

impl Sizes {
    /// `--small`: seconds, for CI. Otherwise the figures docs/benchmarks.md quotes.
    pub fn new(is_small: bool) -> Sizes {
        if is_small {
            Sizes {
                messages: 300,
                users: 20,
                concurrency: 16,
                identities: 1_000,
                cold_starts: 3,
            }
        } else {
            Sizes {
                messages: 5_000,
                users: 100,
                concurrency: 64,
                identities: 100_000,
                cold_starts: 5,
            }
        }
    }
}

/// Where one set of rows runs.
struct Backend {
    /// `sqlite` or `postgres+redis`.
    name: &'static str,
    database_url: String,
    redis_url: Option<String>,
    /// For PostgreSQL: the server URL and the schema to drop afterwards.
    schema: Option<(String, String)>,
}

/// What one load bench run measures, and with what.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The settings the hosts share with the bench: `personality`, `personalities_dir`,
    /// `hot_cache_capacity`, and what opening the bench's own store reads. Everything else a host
    /// gets is set by the bench (its environment is nothing but that).
    pub settings: Settings,
    /// `--small`: seconds (what CI runs) instead of the figures docs/benchmarks.md quotes.
    pub is_small: bool,
    /// The PostgreSQL server for the PostgreSQL rows (another URL is ignored); with `redis_url`,
    /// or those rows are skipped.
    pub database_url: Option<String>,
    /// Redis for the PostgreSQL rows.
    pub redis_url: Option<String>,
    /// The `whisperengine` executable started as `<host_binary> serve`.
    pub host_binary: PathBuf,
}

/// Runs the load and footprint bench, prints its tables and returns the report.
pub async fn run_load(options: LoadOptions) -> anyhow::Result<LoadReport> {
    let LoadOptions {
        settings,
        is_small,
        database_url,
        redis_url,
        host_binary,
    } = options;
    if !host_binary.is_file() {
        bail!(
            "the host executable {} is missing: build it with `cargo build --release` (it lands \
             next to whisperengine-bench), or pass --host-binary <PATH>",
            host_binary.display()
        );
    }
    let sizes = Sizes::new(is_small);
    let folder = tempfile::tempdir().context("creating a temporary folder")?;
    let fake = Arc::new(
        FakeSlack::start_open()
            .await
            .context("starting the fake Slack")?,
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(sizes.concurrency)
        .build()
        .context("building the HTTP client")?;
    let mut report = LoadReport {
        mode: if is_small { "small" } else { "full" }.into(),
        machine: Machine::describe(),
        runs: Vec::new(),
        skipped: Vec::new(),
        footprint: Vec::new(),
        visibility: None,
    };
    println!(
        "Load bench ({} mode) on {}: Slack Events API over HTTP → host process(es) → fake Slack Web API",
        report.mode, report.machine.summary
    );
    let mut backends = vec![Backend {
        name: "sqlite",
        database_url: format!(
            "sqlite://{}?mode=rwc",
            folder.path().join("load.db").display()
        ),
        redis_url: None,
        schema: None,
    }];
    let postgres = database_url.filter(|url| url.starts_with("postgres"));
    match (postgres, redis_url) {
        (Some(server), Some(redis)) => backends.push(fresh_postgres(&server, redis).await?),
        (postgres, redis) => {
            let missing = match (postgres, redis) {
                (None, None) => "no PostgreSQL and no Redis URL",
                (None, Some(_)) => "no PostgreSQL URL",
                _ => "no Redis URL",
            };
            let reason = format!("{missing} (pass --database-url postgres://… and --redis-url redis://…, or set TEST_DATABASE_URL and TEST_REDIS_URL)");
            println!("skipped: postgres+redis rows: {reason}");
            for processes in [1, 2] {
                report
                    .skipped
                    .push(Skipped::new("postgres+redis", processes, &reason));
            }
        }
    }
    let rig = Rig {
        settings: &settings,
        host_binary: &host_binary,
        sizes,
        folder: folder.path(),
        fake: &fake,
        client: &client,
    };
    for backend in &backends {
        let result = run_backend(&rig, backend, &mut report).await;
        if let Some((server, schema)) = &backend.schema {
            drop_schema(server, schema).await;
        }
        result.with_context(|| format!("{} rows", backend.name))?;
    }
    report.print();
    Ok(report)
}

/// What every row of one run shares: the hosts' settings and executable, the sizes, the working
/// folder, the fake Slack and the HTTP client.
struct Rig<'a> {
    settings: &'a Settings,
    host_binary: &'a Path,
    sizes: Sizes,
    folder: &'a Path,
    fake: &'a Arc<FakeSlack>,
    client: &'a reqwest::Client,
}

impl Rig<'_> {
    /// A host process with `environment`, working in `home`, ready.
    async fn start_host(
        &self,
        environment: &[(String, String)],
        home: &Path,
    ) -> anyhow::Result<HostProcess> {
        HostProcess::start(self.host_binary, environment, home, self.client).await
    }
}

async fn run_backend(
    rig: &Rig<'_>,
    backend: &Backend,
    report: &mut LoadReport,
) -> anyhow::Result<()> {
    let Rig {
        settings,
        sizes,
        folder,
        fake,
        client,
        ..
    } = *rig;
    let store = open_store(settings, &backend.database_url).await?;
    let raw = crate::pipeline::raw_inserts(&store, sizes.messages, "load").await?;
    seed_identities(&store, sizes.identities).await?;
    store.db.clone().close().await.ok();
    let prefix = format!("bench{}:", rand::random::<u32>());
    let environment = host_environment(settings, backend, fake, &prefix);
    let process_counts: &[usize] = if backend.redis_url.is_some() {
        &[1, 2]
    } else {
        report.skipped.push(Skipped::new(
            backend.name,
            2,
            "two processes need Redis to share event dedupe and hot-layer invalidation; without it \
             each process would answer from its own stale hot state, so SQLite runs one process",
        ));
        &[1]
    };
    for &processes in process_counts {
        let mut hosts = Vec::new();
        for number in 0..processes {
            let home = folder.join(format!(
                "{}-{processes}-{number}",
                backend.name.replace('+', "-")
            ));
            hosts.push(rig.start_host(&environment, &home).await?);
        }
        fake.reset();
        // Users beyond the seeded identities: these runs measure messaging, not the seed.
        let plan = Plan {
            hosts: hosts.iter().map(|host| host.base_url.clone()).collect(),
            run: format!(
                "{}p{processes}{}",
                &backend.name[..2],
                rand::random::<u16>()
            ),
            first_user: sizes.identities + processes * sizes.users,
            users: sizes.users,
            messages: sizes.messages,
            concurrency: sizes.concurrency,
        };
        let outcome = driver::drive(&plan, fake, client).await;
        if processes > 1 {
            report.visibility = visibility_of(&hosts, client).await;
        }
        let run = LoadRun::from_outcome(backend.name, processes, &plan, &outcome, fake, raw);
        println!(
            "  {} × {processes}: {:.0} messages/s, p50 {:.1} ms, p99 {:.1} ms ({} of {} replied)",
            backend.name,
            run.messages_per_second,
            run.p50_ms,
            run.p99_ms,
            run.replied,
            run.messages
        );
        report.runs.push(run);
        for host in hosts {
            host.stop().await;
        }
    }
    report
        .footprint
        .push(footprint(rig, backend, &environment).await?);
    Ok(())
}

/// The cross-process visibility delay the hosts measured during a run, from their `/metrics`.
async fn visibility_of(
    hosts: &[HostProcess],
    client: &reqwest::Client,
) -> Option<crate::visibility::Visibility> {
    // The last replies' announcements are still on their way when the last reply arrives.
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let mut scraped = Vec::new();
    for host in hosts {
        let response = client
            .get(format!("{}/metrics", host.base_url))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        scraped.push(crate::visibility::scrape(&response.text().await.ok()?));
    }
    crate::visibility::combine(&scraped)
}

/// Cold starts, then one host that touches as many seeded identities as its hot layer holds.
async fn footprint(
    rig: &Rig<'_>,
    backend: &Backend,
    environment: &[(String, String)],
) -> anyhow::Result<Footprint> {
    let Rig {
        sizes,
        folder,
        fake,
        client,
        ..
    } = *rig;
    let home = folder.join(format!("{}-footprint", backend.name.replace('+', "-")));
    let mut cold_starts = Vec::new();
    for _ in 0..sizes.cold_starts {
        let host = rig.start_host(environment, &home).await?;
        cold_starts.push(host.ready_after.as_secs_f64() * 1000.0);
        host.stop().await;
    }
    let host = rig.start_host(environment, &home).await?;
    let at_ready = host.memory()?;
    let capacity = environment
        .iter()
        .find(|(key, _)| key == "HOT_CACHE_CAPACITY")
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(10_000);
    let touched = capacity.min(sizes.identities);
    fake.reset();
    let plan = Plan {
        hosts: vec![host.base_url.clone()],
        run: format!("fp{}", rand::random::<u16>()),
        first_user: 0,
        users: touched,
        messages: touched,
        concurrency: sizes.concurrency,
    };
    let outcome = driver::drive(&plan, fake, client).await;
    let after = host.memory()?;
    host.stop().await;
    let footprint = Footprint::new(
        backend.name,
        sizes.identities,
        &outcome,
        at_ready,
        after,
        cold_starts,
    );
    println!(
        "  {}: {} identities, {} touched: RSS {:.0} MB (peak {:.0} MB); cold start median {:.0} ms",
        footprint.database,
        footprint.identities,
        footprint.touched,
        footprint.rss_mb,
        footprint.peak_rss_mb,
        footprint.cold_start_median_ms
    );
    Ok(footprint)
}

/// The whole environment of a host process: nothing is inherited from the bench's own.
fn host_environment(
    settings: &Settings,
    backend: &Backend,
    fake: &FakeSlack,
    redis_prefix: &str,
) -> Vec<(String, String)> {
    let personalities = std::fs::canonicalize(&settings.personalities_dir)
        .unwrap_or_else(|_| settings.personalities_dir.clone());
    let mut environment: Vec<(String, String)> = [
        ("DEPLOYMENT_MODE", "cloud".to_string()),
        ("HTTP_BIND", "127.0.0.1:0".to_string()),
        ("DATABASE_URL", backend.database_url.clone()),
        ("PERSONALITY", settings.personality.clone()),
        ("PERSONALITIES_DIR", personalities.display().to_string()),
        (
            "HOT_CACHE_CAPACITY",
            settings.hot_cache_capacity.to_string(),
        ),
        ("RATE_LIMIT_PER_MINUTE", "0".to_string()),
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_string()),
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.to_string()),
        ("SLACK_API_URL", fake.api_url().to_string()),
        ("RUST_LOG", "warn".to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    if let Some(redis) = &backend.redis_url {
        environment.push(("REDIS_URL".into(), redis.clone()));
        environment.push(("REDIS_KEY_PREFIX".into(), redis_prefix.to_string()));
    }
    environment
}

/// Opens (and migrates) `url` from the bench process, without Redis or an encryption key.
async fn open_store(settings: &Settings, url: &str) -> anyhow::Result<Store> {
    let mut settings = settings.clone();
    settings.database_url = url.to_string();
    settings.redis_url = None;
    settings.data_encryption_key = None;
    Store::open(&whisperengine::setup::store_options(&settings))
        .await
        .context("opening the bench database")
}

/// Seeds `count` identities, each with one Slack account, in multi-row inserts.
async fn seed_identities(store: &Store, count: usize) -> anyhow::Result<()> {
    const CHUNK: usize = 1_000;
    let now = Utc::now();
    for start in (0..count).step_by(CHUNK) {
        let end = (start + CHUNK).min(count);
        let ids: Vec<uuid::Uuid> = (start..end).map(|_| uuid::Uuid::new_v4()).collect();
        let transaction = sea_orm::TransactionTrait::begin(&store.db).await?;
        identity::Entity::insert_many(ids.iter().map(|id| identity::ActiveModel {
            id: Set(*id),
            created_at: Set(now),
            isolated: Set(false),
        }))
        .exec_without_returning(&transaction)
        .await?;
        platform_account::Entity::insert_many(ids.iter().zip(start..end).map(|(id, index)| {
            platform_account::ActiveModel {
                identity_id: Set(*id),
                platform: Set("slack".into()),
                scope: Set(TEAM.into()),
                user_id: Set(driver::user_id(index)),
                display_name: Set(Some(driver::user_id(index))),
                created_at: Set(now),
                linked_at: Set(None),
                linked_by: Set(None),
                ..Default::default()
            }
        }))
        .exec_without_returning(&transaction)
        .await?;
        transaction.commit().await?;
    }
    Ok(())
}

/// A new schema in the PostgreSQL database at `server`, and a URL confined to it.
async fn fresh_postgres(server: &str, redis_url: String) -> anyhow::Result<Backend> {
    let schema = format!(
        "bench_{}_{:08x}",
        Utc::now().timestamp(),
        rand::random::<u32>()
    );
    let admin = Database::connect(server)
        .await
        .context("connecting to PostgreSQL")?;
    admin
        .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
        .await
        .context("creating the bench schema")?;
    admin.close().await.ok();
    let separator = if server.contains('?') { '&' } else { '?' };
    Ok(Backend {
        name: "postgres+redis",
        database_url: format!("{server}{separator}options=-c%20search_path%3D{schema}"),
        redis_url: Some(redis_url),
        schema: Some((server.to_string(), schema)),
    })
}

async fn drop_schema(server: &str, schema: &str) {
    let dropped = async {
        let admin = Database::connect(server).await?;
        admin
            .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await?;
        admin.close().await
    };
    if let Err(error) = dropped.await {
        eprintln!("note: the bench schema {schema} was not dropped: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_host_executable_is_named_with_how_to_build_it() {
        let options = LoadOptions {
            settings: Settings::default(),
            is_small: true,
            database_url: None,
            redis_url: None,
            host_binary: PathBuf::from("/nonexistent/whisperengine"),
        };
        let error = run_load(options).await.unwrap_err().to_string();
        assert!(error.contains("/nonexistent/whisperengine"), "{error}");
        assert!(error.contains("cargo build --release"), "{error}");
    }
}
