//! Emergency isolation end to end, on SQLite and (when configured) PostgreSQL + Redis: an isolated
//! identity reads only what came from the account a message arrives on, linking is refused, `all`
//! does it host-wide, `release` undoes it, only admins may do it, and every step is audited. A second
//! host process (the real binary) sees an isolation within a second, through Redis pub/sub.

use crate::common;

use common::host::HostProcess;
use common::{command, core_for, message, say, test_setups};
use sea_orm::{EntityTrait, QueryOrder};
use std::time::{Duration, Instant};
use whisperengine::store::entities::audit_log;
use whisperengine_contract::{Platform, PlatformAccount};

async fn audit_rows(core: &whisperengine::core::Core) -> Vec<audit_log::Model> {
    audit_log::Entity::find()
        .order_by_asc(audit_log::Column::Id)
        .all(&core.store.db)
        .await
        .expect("audit log readable")
}

#[tokio::test]
async fn an_isolated_identity_reads_only_its_origin_and_cannot_link_until_released() {
    for (db, settings) in test_setups().await {
        let core = core_for(settings).await;
        let admin = PlatformAccount::new(Platform::Slack, "T1", "UADMIN");
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        let discord = PlatformAccount::new(Platform::Discord, "", "4242");
        let linked = say(
            &core,
            command(&admin, "admin link slack:T1/U1 discord:4242", true),
        )
        .await;
        assert!(linked.starts_with("Linked"), "{}: {linked}", db.name);
        say(&core, message(&slack, "My cat is called Miso")).await;
        say(
            &core,
            command(&slack, "prefs set timezone Asia/Tokyo", false),
        )
        .await;
        let shared = say(&core, message(&discord, "What's my cat called?")).await;
        assert!(shared.contains("Miso"), "{}: linked: {shared}", db.name);
        let prefs = say(&core, command(&discord, "prefs", false)).await;
        assert!(prefs.contains("Asia/Tokyo"), "{}: {prefs}", db.name);

        let refused = say(
            &core,
            command(&discord, "admin isolate discord:4242", false),
        )
        .await;
        assert_eq!(refused, "Only admins can do that.", "{}", db.name);

        let isolated = say(&core, command(&admin, "admin isolate discord:4242", true)).await;
        assert!(isolated.starts_with("Isolated"), "{}: {isolated}", db.name);
        let origin_only = say(&core, message(&discord, "What's my cat called?")).await;
        assert!(
            !origin_only.contains("Miso"),
            "{}: isolated, Discord must not read Slack's memory: {origin_only}",
            db.name
        );
        let own = say(&core, message(&slack, "What's my cat called?")).await;
        assert!(
            own.contains("Miso"),
            "{}: Slack still reads its own: {own}",
            db.name
        );
        let status = say(&core, command(&discord, "sync status", false)).await;
        assert!(
            status.contains("Cross-platform sharing: off"),
            "{}: {status}",
            db.name
        );
        let prefs = say(&core, command(&discord, "prefs", false)).await;
        assert!(
            !prefs.contains("Asia/Tokyo"),
            "{}: Slack's preference is not read on Discord: {prefs}",
            db.name
        );
        let whoami = say(&core, command(&discord, "whoami", false)).await;
        assert!(!whoami.contains("slack:T1/U1"), "{}: {whoami}", db.name);
        for paused in ["export", "forget all", "forget all confirm"] {
            let reply = say(&core, command(&discord, paused, false)).await;
            assert!(
                reply.starts_with("Your accounts are isolated"),
                "{}: {paused}: {reply}",
                db.name
            );
        }

        let other = PlatformAccount::new(Platform::Teams, "tenant", "aad1");
        say(&core, message(&other, "hello")).await;
        let link = say(
            &core,
            command(&admin, "admin link discord:4242 teams:tenant/aad1", true),
        )
        .await;
        assert!(
            !link.starts_with("Linked"),
            "{}: linking an isolated identity is refused: {link}",
            db.name
        );

        let released = say(&core, command(&admin, "admin release slack:T1/U1", true)).await;
        assert!(released.starts_with("Released"), "{}: {released}", db.name);
        let again = say(&core, message(&discord, "What's my cat called?")).await;
        assert!(again.contains("Miso"), "{}: released: {again}", db.name);

        let unknown = say(&core, command(&admin, "admin isolate discord:999", true)).await;
        assert!(unknown.contains("don't know"), "{}: {unknown}", db.name);

        let all = say(&core, command(&admin, "admin isolate all", true)).await;
        assert!(
            all.starts_with("Isolated the whole host"),
            "{}: {all}",
            db.name
        );
        let host_wide = say(&core, message(&discord, "What's my cat called?")).await;
        assert!(
            !host_wide.contains("Miso"),
            "{}: host-wide isolation: {host_wide}",
            db.name
        );
        let link = say(
            &core,
            command(&admin, "admin link teams:tenant/aad1 slack:T1/UADMIN", true),
        )
        .await;
        assert!(!link.starts_with("Linked"), "{}: {link}", db.name);
        let released = say(&core, command(&admin, "admin release all", true)).await;
        assert!(released.starts_with("Released"), "{}: {released}", db.name);
        let back = say(&core, message(&discord, "What's my cat called?")).await;
        assert!(back.contains("Miso"), "{}: {back}", db.name);

        let audited: Vec<(String, String, Option<String>)> = audit_rows(&core)
            .await
            .into_iter()
            .filter(|row| row.action == "admin.isolate" || row.action == "admin.release")
            .map(|row| (row.action, row.outcome, row.target))
            .collect();
        assert_eq!(
            audited,
            vec![
                (
                    "admin.isolate".into(),
                    "ok".into(),
                    Some("discord:4242".into())
                ),
                (
                    "admin.release".into(),
                    "ok".into(),
                    Some("slack:T1/U1".into())
                ),
                (
                    "admin.isolate".into(),
                    "refused".into(),
                    Some("discord:999".into())
                ),
                ("admin.isolate".into(), "ok".into(), Some("all".into())),
                ("admin.release".into(), "ok".into(), Some("all".into())),
            ],
            "{}",
            db.name
        );
        let refusals = audit_rows(&core)
            .await
            .into_iter()
            .filter(|row| row.action == "admin_isolate" && row.outcome == "refused")
            .count();
        assert_eq!(refusals, 1, "{}: the non-admin attempt is audited", db.name);
    }
}

/// A second host process on the same database and Redis as `settings`.
fn spawn_other_process(settings: &whisperengine::config::Settings) -> HostProcess {
    let redis = settings
        .redis_url
        .as_ref()
        .expect("the second process needs Redis")
        .to_string();
    HostProcess::spawn(&[
        ("DEPLOYMENT_MODE", "cloud".into()),
        ("DATABASE_URL", settings.database_url.clone()),
        ("REDIS_URL", redis),
        ("REDIS_KEY_PREFIX", settings.redis_key_prefix.clone()),
        (
            "PERSONALITIES_DIR",
            settings.personalities_dir.display().to_string(),
        ),
        // Without the invalidation, this process would trust its hot state for an hour.
        ("MEMORY_SYNC_INTERVAL", "3600".into()),
    ])
}

#[tokio::test]
async fn an_isolation_reaches_another_host_process_within_a_second() {
    if common::redis_url().is_none() {
        eprintln!("skipped: two-process isolation (TEST_REDIS_URL not set)");
        return;
    }
    for db in common::fresh_databases().await {
        let settings = common::settings_for(&db, true);
        let core = core_for(settings.clone()).await;
        let other_process = spawn_other_process(&settings);
        let client = reqwest::Client::new();
        let admin = PlatformAccount::new(Platform::Slack, "T1", "UADMIN");

        // The other process loads alice's state into its hot layer.
        let before = other_process.ask(&client, "alice", "/sync status").await;
        assert!(
            before.contains("Cross-platform sharing: on"),
            "{}: {before}",
            db.name
        );
        let again = other_process.ask(&client, "alice", "/sync status").await;
        assert!(again.contains("Cross-platform sharing: on"), "{}", db.name);

        let started = Instant::now();
        let isolated = say(&core, command(&admin, "admin isolate desktop:alice", true)).await;
        assert!(isolated.starts_with("Isolated"), "{}: {isolated}", db.name);
        let seen_after = loop {
            let status = other_process.ask(&client, "alice", "/sync status").await;
            if status.contains("Cross-platform sharing: off") {
                break started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{}: the other process never saw the isolation: {status}",
                db.name
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        eprintln!(
            "{}: isolation visible in the other host process after {:?}",
            db.name, seen_after
        );
        assert!(
            seen_after < Duration::from_secs(1),
            "{}: took {seen_after:?}",
            db.name
        );

        // Host-wide, and released again, the same way.
        let started = Instant::now();
        say(&core, command(&admin, "admin release desktop:alice", true)).await;
        say(&core, command(&admin, "admin isolate all", true)).await;
        loop {
            let status = other_process.ask(&client, "bob", "/sync status").await;
            if status.contains("Cross-platform sharing: off") {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{}: host-wide isolation not seen in time: {status}",
                db.name
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        say(&core, command(&admin, "admin release all", true)).await;
        let started = Instant::now();
        loop {
            let status = other_process.ask(&client, "alice", "/sync status").await;
            if status.contains("Cross-platform sharing: on") {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{}: release not seen in time: {status}",
                db.name
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(other_process);
    }
}

#[tokio::test]
async fn the_operator_isolates_and_releases_from_the_command_line() {
    for (db, settings) in test_setups().await {
        let core = core_for(settings.clone()).await;
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        // The account exists, but nothing of it is hot yet: without Redis, this process would not
        // hear of a change made by another one until MEMORY_SYNC_INTERVAL.
        whisperengine::core::identity::resolve_account(&core.store, &slack)
            .await
            .expect("the account is created");
        let run = |args: &[&str]| {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_whisperengine"));
            command
                .args(args)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("DEPLOYMENT_MODE", "cloud")
                .env("DATABASE_URL", &settings.database_url)
                .env("PERSONALITIES_DIR", &settings.personalities_dir)
                .current_dir(std::env::temp_dir());
            if let Some(url) = &settings.redis_url {
                command
                    .env("REDIS_URL", url.to_string())
                    .env("REDIS_KEY_PREFIX", &settings.redis_key_prefix);
            }
            command.output().expect("the binary runs")
        };
        let output = run(&["admin", "isolate", "slack:T1/U1"]);
        assert!(
            output.status.success(),
            "{}: {}",
            db.name,
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).starts_with("Isolated slack:T1/U1"));
        let status = say(&core, command(&slack, "sync status", false)).await;
        assert!(
            status.contains("Cross-platform sharing: off"),
            "{}: {status}",
            db.name
        );
        let unknown = run(&["admin", "isolate", "slack:T1/NOBODY"]);
        assert_eq!(unknown.status.code(), Some(1), "{}", db.name);
        let malformed = run(&["admin", "isolate", "nonsense"]);
        assert_eq!(malformed.status.code(), Some(2), "{}", db.name);
        let released = run(&["admin", "release", "slack:T1/U1"]);
        assert!(released.status.success(), "{}", db.name);
        let rows = audit_rows(&core).await;
        let operator: Vec<(&str, &str)> = rows
            .iter()
            .filter(|row| row.actor == "operator")
            .map(|row| (row.action.as_str(), row.outcome.as_str()))
            .collect();
        assert_eq!(
            operator,
            vec![
                ("admin.isolate", "ok"),
                ("admin.isolate", "refused"),
                ("admin.release", "ok")
            ],
            "{}",
            db.name
        );
    }
}
