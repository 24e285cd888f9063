//! The KPIs on `/metrics` after real traffic, on SQLite and (when configured) PostgreSQL + Redis:
//! messages, per-step latency, LLM latency, shared-state writes, content age at first recall,
//! consistency checks (which catch and repair a hot state that differs from SQL), health, conflicts
//! and satisfaction from `feedback`; and `admin cache clear`, which loses nothing stored.

use crate::common;

use common::metrics::{sample, scrape};
use common::{command, core_for, message, say, test_setups};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use whisperengine::app::Application;
use whisperengine::store::entities::{feedback, preference, sync_conflict};
use whisperengine_contract::{Platform, PlatformAccount};

#[tokio::test]
async fn metrics_show_every_kpi_after_traffic() {
    for (db, settings) in test_setups().await {
        let has_redis = settings.redis_url.is_some();
        let application = Application::build(settings).await.expect("the host builds");
        let core = application.core.clone();
        let address = application.address();
        tokio::spawn(application.run_until_stopped(std::future::pending()));
        let admin = PlatformAccount::new(Platform::Slack, "T1", "UADMIN");
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        let discord = PlatformAccount::new(Platform::Discord, "", "4242");
        say(
            &core,
            command(&admin, "admin link slack:T1/U1 discord:4242", true),
        )
        .await;
        say(&core, message(&slack, "My cat is called Miso")).await;
        let reply = say(&core, message(&discord, "Tell me about my cat Miso")).await;
        assert!(reply.contains("Miso"), "{}: {reply}", db.name);
        let thanks = say(&core, command(&slack, "feedback 5 you remembered!", false)).await;
        assert!(thanks.starts_with("Thank you"), "{}: {thanks}", db.name);
        say(&core, command(&discord, "feedback 2", false)).await;
        say(&core, command(&discord, "feedback 3", false)).await;
        let refused = say(&core, command(&discord, "feedback 9", false)).await;
        assert!(refused.starts_with("Usage"), "{}: {refused}", db.name);
        let identity = whisperengine::store::accounts::find_account(&core.store.db, &slack)
            .await
            .expect("readable")
            .expect("exists")
            .identity_id;
        sync_conflict::Entity::insert(sync_conflict::ActiveModel {
            identity_id: Set(identity.into()),
            kind: Set("preference".into()),
            key: Set("name".into()),
            kept_value: Set("Ana".into()),
            other_value: Set("Anna".into()),
            kept_platform: Set("slack".into()),
            other_platform: Set("discord".into()),
            strategy: Set("kpitest_latest_wins".into()),
            status: Set("resolved".into()),
            resolution: Set(Some("kept the newest".into())),
            created_at: Set(chrono::Utc::now()),
            resolved_at: Set(Some(chrono::Utc::now())),
            ..Default::default()
        })
        .exec(&core.store.db)
        .await
        .expect("conflict stored");
        let consistency = whisperengine::core::ops::kpi::refresh(&core)
            .await
            .expect("the KPI refresh runs");
        assert!(consistency.checked >= 1, "{}: {consistency:?}", db.name);
        assert_eq!(consistency.mismatched, 0, "{}", db.name);

        let metrics = scrape(&format!("http://{address}")).await;
        let expectations: &[(&str, &[&str])] = &[
            ("whisperengine_messages_in_total", &["platform=\"discord\""]),
            ("whisperengine_messages_out_total", &["platform=\"slack\""]),
            (
                "whisperengine_pipeline_step_seconds_count",
                &["platform=\"discord\"", "step=\"llm\""],
            ),
            (
                "whisperengine_pipeline_step_seconds_count",
                &["platform=\"slack\"", "step=\"store\""],
            ),
            ("whisperengine_llm_seconds_count", &["outcome=\"ok\""]),
            (
                "whisperengine_shared_state_writes_total",
                &["outcome=\"ok\""],
            ),
            (
                "whisperengine_content_age_at_first_recall_seconds_count",
                &["platform=\"discord\""],
            ),
            (
                "whisperengine_consistency_checks_total",
                &["result=\"match\""],
            ),
            (
                "whisperengine_feedback_total",
                &["platform=\"slack\"", "score=\"5\""],
            ),
        ];
        for (name, labels) in expectations {
            let value = sample(&metrics, name, labels);
            assert!(
                value.is_some_and(|v| v >= 1.0),
                "{}: {name}{labels:?} missing or zero in:\n{metrics}",
                db.name
            );
        }
        assert_eq!(
            sample(
                &metrics,
                "whisperengine_satisfaction_score",
                &["platform=\"slack\""]
            ),
            Some(5.0),
            "{}",
            db.name
        );
        assert_eq!(
            sample(
                &metrics,
                "whisperengine_satisfaction_score",
                &["platform=\"discord\""]
            ),
            Some(2.5),
            "{}",
            db.name
        );
        assert_eq!(
            sample(
                &metrics,
                "whisperengine_conflicts",
                &["status=\"resolved\"", "strategy=\"kpitest_latest_wins\""]
            ),
            Some(1.0),
            "{}",
            db.name
        );
        assert_eq!(
            sample(&metrics, "whisperengine_database_up", &[]),
            Some(1.0)
        );
        if has_redis {
            assert_eq!(sample(&metrics, "whisperengine_redis_up", &[]), Some(1.0));
        }
        let host = say(&core, command(&admin, "sync status", true)).await;
        assert!(
            host.contains("**Host** — 2 people, 3 accounts") && host.contains("3 feedback entries"),
            "{}: an admin's sync status has host-wide figures: {host}",
            db.name
        );
        let personal = say(&core, command(&slack, "sync status", false)).await;
        assert!(!personal.contains("**Host**"), "{}: {personal}", db.name);
        let limits = core.tuner.limits(&core.settings, Platform::Slack);
        assert!(
            personal.contains(&format!(
                "Context per reply on Slack: up to {} memories and {} recent turns",
                limits.memories, limits.history_turns
            )),
            "{}: the person sees the context their replies get: {personal}",
            db.name
        );
        let stored = feedback::Entity::find()
            .filter(feedback::Column::Platform.eq("slack"))
            .all(&core.store.db)
            .await
            .expect("readable");
        assert_eq!(stored.len(), 1, "{}", db.name);
        assert_eq!(stored[0].comment.as_deref(), Some("you remembered!"));
    }
}

#[tokio::test]
async fn a_consistency_check_catches_and_repairs_a_hot_state_that_differs_from_sql() {
    for (db, settings) in test_setups().await {
        let core = core_for(settings).await;
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        say(&core, command(&slack, "prefs set name Ana", false)).await;
        say(&core, message(&slack, "Hello")).await;
        let clean = whisperengine::core::ops::kpi::check_consistency(&core, 10)
            .await
            .expect("runs");
        assert_eq!((clean.checked, clean.mismatched), (1, 0), "{}", db.name);

        // A write behind the hot layer's back (another tool, a restore, a bug).
        preference::Entity::update_many()
            .col_expr(
                preference::Column::Value,
                sea_orm::sea_query::Expr::value("Beatriz"),
            )
            .filter(preference::Column::Key.eq("name"))
            .exec(&core.store.db)
            .await
            .expect("updated");
        let before = say(&core, command(&slack, "prefs", false)).await;
        assert!(
            before.contains("Ana"),
            "{}: still the hot value: {before}",
            db.name
        );
        let found = whisperengine::core::ops::kpi::check_consistency(&core, 10)
            .await
            .expect("runs");
        assert_eq!((found.checked, found.mismatched), (1, 1), "{}", db.name);
        let after = say(&core, command(&slack, "prefs", false)).await;
        assert!(after.contains("Beatriz"), "{}: repaired: {after}", db.name);
    }
}

#[tokio::test]
async fn admin_cache_clear_drops_cached_state_but_nothing_stored() {
    for (db, mut settings) in test_setups().await {
        settings.rate_limit_per_minute = 1000;
        let core = core_for(settings.clone()).await;
        let admin = PlatformAccount::new(Platform::Slack, "T1", "UADMIN");
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        say(&core, message(&slack, "My cat is called Miso")).await;
        assert!(!core.store.hot.is_empty(), "{}", db.name);
        let refused = say(&core, command(&slack, "admin cache clear", false)).await;
        assert_eq!(refused, "Only admins can do that.");
        let one = say(
            &core,
            command(&admin, "admin cache clear slack:T1/U1", true),
        )
        .await;
        assert!(
            one.starts_with("Cleared the cached state of slack:T1/U1"),
            "{}: {one}",
            db.name
        );
        let all = say(&core, command(&admin, "admin cache clear", true)).await;
        assert!(
            all.starts_with("Cleared the hot layer"),
            "{}: {all}",
            db.name
        );
        assert!(core.store.hot.is_empty(), "{}", db.name);
        if let Some(url) = &settings.redis_url {
            let client = redis::Client::open(url.as_str()).expect("url");
            let mut connection = client
                .get_multiplexed_async_connection()
                .await
                .expect("redis");
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}*", settings.redis_key_prefix))
                .query_async(&mut connection)
                .await
                .expect("keys");
            assert!(
                keys.iter().all(|key| key.contains(":event:")),
                "{}: only dedupe marks stay: {keys:?}",
                db.name
            );
            assert!(!keys.is_empty(), "{}: dedupe marks stay", db.name);
        }
        let recalled = say(&core, message(&slack, "What's my cat called?")).await;
        assert!(
            recalled.contains("Miso"),
            "{}: nothing lost: {recalled}",
            db.name
        );

        let output = std::process::Command::new(env!("CARGO_BIN_EXE_whisperengine"))
            .args(["cache", "clear"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DEPLOYMENT_MODE", "cloud")
            .env("DATABASE_URL", &settings.database_url)
            .env("PERSONALITIES_DIR", &settings.personalities_dir)
            .current_dir(std::env::temp_dir())
            .output()
            .expect("runs");
        assert!(output.status.success(), "{}: {output:?}", db.name);
        let bad = std::process::Command::new(env!("CARGO_BIN_EXE_whisperengine"))
            .args(["cache", "clear", "nonsense"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &settings.database_url)
            .env("PERSONALITIES_DIR", &settings.personalities_dir)
            .current_dir(std::env::temp_dir())
            .output()
            .expect("runs");
        assert_eq!(bad.status.code(), Some(2), "{}", db.name);
    }
}
