//! The user's rights end to end, on SQLite and (when configured) PostgreSQL + Redis: `export` hands
//! out a single-use, expiring download link served by the host's HTTP server; `forget all` asks for a
//! confirmation, then leaves nothing of the person in any table or Redis key but a tombstone; the
//! audit log records it all and the CLI reads it back.
//!
//! Over 500 lines: export and forget end to end, each checked against every table and Redis key.

use crate::common;

use common::{command, message, say, test_setups};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement};
use whisperengine::app::Application;
use whisperengine::core::privacy::erasure::{live_tables, quote};
use whisperengine::store::entities::{audit_log, export_token, memory};
use whisperengine_contract::{Platform, PlatformAccount};

/// Starts the host on a free port; returns its core and address. It stops when the test ends.
async fn start_host(
    settings: whisperengine::config::Settings,
) -> (whisperengine::core::Core, String) {
    let application = Application::build(settings).await.expect("the host builds");
    let core = application.core.clone();
    let address = application.address().to_string();
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    (core, address)
}

/// Adds a table this build's code does not know (as a later feature would, e.g. `fact`) holding one
/// row of `account`: export and forget must find it by its `account_id` column all the same.
async fn add_unknown_table_row(
    core: &whisperengine::core::Core,
    account: &PlatformAccount,
    text: &str,
) {
    let db = &core.store.db;
    let id = whisperengine::store::accounts::find_account(db, account)
        .await
        .expect("readable")
        .expect("the account exists")
        .id;
    db.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS later_feature (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, note TEXT NOT NULL)",
    )
    .await
    .expect("table created");
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        match db.get_database_backend() {
            DbBackend::Postgres => {
                "INSERT INTO later_feature (id, account_id, note) VALUES ($1, $2, $3)"
            }
            _ => "INSERT INTO later_feature (id, account_id, note) VALUES (?, ?, ?)",
        },
        [
            sea_orm::Value::from(rand::random::<u32>() as i64),
            sea_orm::Value::from(id),
            sea_orm::Value::from(text.to_string()),
        ],
    ))
    .await
    .expect("row inserted");
}

/// The link inside an `export` reply.
fn link_in(reply: &str) -> String {
    let start = reply.find("http://").expect("the reply has a link");
    reply[start..]
        .split_whitespace()
        .next()
        .expect("a link")
        .to_string()
}

#[tokio::test]
async fn export_gives_a_single_use_link_to_everything_about_the_caller() {
    for (db, settings) in test_setups().await {
        let (core, address) = start_host(settings).await;
        let admin = PlatformAccount::new(Platform::Slack, "T1", "UADMIN");
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1").with_display_name("Ana");
        let discord = PlatformAccount::new(Platform::Discord, "", "4242");
        say(&core, message(&slack, "My cat is called Miso")).await;
        say(&core, message(&discord, "I live in Lisbon and I love it")).await;
        say(
            &core,
            command(&admin, "admin link slack:T1/U1 discord:4242", true),
        )
        .await;
        say(
            &core,
            command(&discord, "prefs set timezone Asia/Tokyo", false),
        )
        .await;
        add_unknown_table_row(&core, &discord, "likes lighthouses").await;
        let stranger = PlatformAccount::new(Platform::Slack, "T1", "USTRANGER");
        say(&core, message(&stranger, "My dog is called Rex")).await;

        let reply = say(&core, command(&slack, "export", false)).await;
        let link = link_in(&reply);
        assert!(
            link.starts_with(&format!("http://{address}/export/")),
            "{}: {reply}",
            db.name
        );
        let token = link.rsplit('/').next().expect("a token").to_string();
        let stored = export_token::Entity::find()
            .all(&core.store.db)
            .await
            .expect("tokens readable");
        assert_eq!(stored.len(), 1, "{}", db.name);
        assert_ne!(
            stored[0].token_hash, token,
            "{}: only a hash is stored",
            db.name
        );

        let client = reqwest::Client::new();
        let response = client.get(&link).send().await.expect("the host answers");
        assert_eq!(response.status(), 200, "{}", db.name);
        assert!(response
            .headers()
            .get("content-disposition")
            .is_some_and(|value| value.to_str().unwrap_or_default().contains("attachment")));
        let document: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(document["format"], "whisperengine-export/1");
        let accounts: Vec<&str> = document["accounts"]
            .as_array()
            .expect("accounts")
            .iter()
            .filter_map(|a| a["account"].as_str())
            .collect();
        assert_eq!(accounts, vec!["slack:T1/U1", "discord:4242"], "{}", db.name);
        let text = document.to_string();
        assert!(text.contains("My cat is called Miso"), "{}", db.name);
        assert!(text.contains("I live in Lisbon"), "{}", db.name);
        assert_eq!(document["time_zone"], "Asia/Tokyo", "{}", db.name);
        for memory in document["memories"].as_array().expect("memories") {
            let at = memory["created_at"].as_str().unwrap_or_default();
            assert!(
                at.ends_with("+09:00") && chrono::DateTime::parse_from_rfc3339(at).is_ok(),
                "{}: times in the person's zone: {at}",
                db.name
            );
        }
        assert!(
            !text.contains("Rex") && !text.contains("USTRANGER"),
            "{}: nobody else's data",
            db.name
        );
        assert!(
            document["audit"]
                .as_array()
                .expect("audit")
                .iter()
                .any(|entry| entry["action"] == "export"),
            "{}: the audit entries about them are included",
            db.name
        );
        assert_eq!(
            document["other_tables"]["later_feature"][0]["note"], "likes lighthouses",
            "{}: a table added later is exported too: {}",
            db.name, document["other_tables"]
        );
        assert!(document["emotion_history"].is_array());
        assert!(document["conflicts"].is_array());

        let again = client.get(&link).send().await.expect("the host answers");
        assert_eq!(again.status(), 410, "{}: single use", db.name);
        let forged = client
            .get(format!("http://{address}/export/{}", "ab".repeat(32)))
            .send()
            .await
            .expect("the host answers");
        assert_eq!(forged.status(), 404, "{}", db.name);
        let malformed = client
            .get(format!("http://{address}/export/..%2Fetc"))
            .send()
            .await
            .expect("the host answers");
        assert_eq!(malformed.status(), 404, "{}", db.name);

        let reply = say(&core, command(&discord, "export", false)).await;
        let expiring = link_in(&reply);
        export_token::Entity::update_many()
            .col_expr(
                export_token::Column::ExpiresAt,
                sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::TimeDelta::seconds(1)),
            )
            .filter(export_token::Column::UsedAt.is_null())
            .exec(&core.store.db)
            .await
            .expect("expire the token");
        let expired = client
            .get(&expiring)
            .send()
            .await
            .expect("the host answers");
        assert_eq!(expired.status(), 410, "{}: expired", db.name);

        let actions: Vec<String> = audit_log::Entity::find()
            .all(&core.store.db)
            .await
            .expect("audit readable")
            .into_iter()
            .map(|row| row.action)
            .collect();
        assert_eq!(
            actions.iter().filter(|a| *a == "export").count(),
            2,
            "{}",
            db.name
        );
        assert_eq!(
            actions.iter().filter(|a| *a == "export.download").count(),
            1,
            "{}",
            db.name
        );
    }
}

/// Every row of every table as text (PostgreSQL: the row cast to text; SQLite: each column as text,
/// blobs such as UUIDs as hex).
async fn all_rows_as_text(db: &sea_orm::DatabaseConnection) -> Vec<(String, String)> {
    let backend = db.get_database_backend();
    let mut rows = Vec::new();
    for table in live_tables(db).await.expect("tables listed") {
        let sql = match backend {
            DbBackend::Postgres => format!(
                "SELECT CAST(t AS text) AS row_text FROM {} AS t",
                quote(&table.table)
            ),
            _ => {
                let parts: Vec<String> = table
                    .columns
                    .iter()
                    .map(|c| {
                        format!(
                            "coalesce(CASE WHEN typeof({0}) = 'blob' THEN hex({0}) ELSE CAST({0} AS TEXT) END, '')",
                            quote(c)
                        )
                    })
                    .collect();
                format!(
                    "SELECT {} AS row_text FROM {}",
                    parts.join(" || '|' || "),
                    quote(&table.table)
                )
            }
        };
        for row in db
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .expect("table readable")
        {
            let text: String = row.try_get("", "row_text").unwrap_or_default();
            rows.push((table.table.clone(), text));
        }
    }
    rows
}

/// `(table, column)` for every row whose `*account_id` column holds one of `ids`.
async fn rows_referring_to(db: &sea_orm::DatabaseConnection, ids: &[i64]) -> Vec<(String, String)> {
    let backend = db.get_database_backend();
    let list = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let mut found = Vec::new();
    for table in live_tables(db).await.expect("tables listed") {
        for column in table.columns.iter().filter(|c| c.ends_with("account_id")) {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM {} WHERE {} IN ({list})",
                quote(&table.table),
                quote(column)
            );
            let rows = db
                .query_all_raw(Statement::from_string(backend, sql))
                .await
                .expect("counted");
            let count: i64 = rows
                .first()
                .and_then(|row| row.try_get("", "n").ok())
                .unwrap_or_default();
            for _ in 0..count {
                found.push((table.table.clone(), column.clone()));
            }
        }
    }
    found
}

/// Every key of the prefix with its string value (other types: the key alone).
async fn redis_entries(url: &str, prefix: &str) -> Vec<(String, String)> {
    let client = redis::Client::open(url).expect("redis url");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis reachable");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .expect("keys listed");
    let mut entries = Vec::new();
    for key in keys {
        let value: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .unwrap_or(None);
        entries.push((key, value.unwrap_or_default()));
    }
    entries
}

#[tokio::test]
async fn forget_all_asks_first_then_leaves_nothing_but_a_tombstone() {
    for (db, mut settings) in test_setups().await {
        // A rate limit makes per-identity Redis keys exist, so their removal is checked too.
        settings.rate_limit_per_minute = 1000;
        let (core, _address) = start_host(settings.clone()).await;
        let tag = format!("{:08x}", rand::random::<u32>());
        let user_id = format!("Uforget{tag}");
        let discord_id = format!("77{}", rand::random::<u32>());
        let name = format!("Zephyrine{tag}");
        let secret = format!("my locker code is secret{tag}");
        let slack = PlatformAccount::new(Platform::Slack, "T1", &user_id).with_display_name(&name);
        let discord = PlatformAccount::new(Platform::Discord, "", &discord_id);
        let admin = PlatformAccount::new(Platform::Slack, "T1", "UADMIN");
        let bystander = PlatformAccount::new(Platform::Slack, "T1", "UBYSTANDER");

        say(&core, message(&slack, &secret)).await;
        say(&core, message(&slack, "I feel so happy and excited today!")).await;
        say(&core, message(&discord, "I am sad and lonely")).await;
        let linked = say(
            &core,
            command(
                &admin,
                &format!("admin link slack:T1/{user_id} discord:{discord_id}"),
                true,
            ),
        )
        .await;
        assert!(linked.starts_with("Linked"), "{}: {linked}", db.name);
        say(
            &core,
            command(&discord, &format!("prefs set name {name}"), false),
        )
        .await;
        say(&core, command(&slack, "link start", false)).await;
        say(&core, command(&slack, "export", false)).await;
        say(&core, message(&bystander, "My dog is called Rex")).await;
        add_unknown_table_row(&core, &discord, &format!("secret{tag} in a later table")).await;
        core.flush_hot_state().await.expect("flushed");
        let identity = whisperengine::store::accounts::find_account(&core.store.db, &slack)
            .await
            .expect("readable")
            .expect("the account exists")
            .identity_id;
        let needles = [
            user_id.clone(),
            discord_id.clone(),
            name.clone(),
            format!("secret{tag}"),
            identity.to_string(),
            identity.as_uuid().simple().to_string(),
            identity.as_uuid().simple().to_string().to_uppercase(),
        ];
        let personal = |text: &str| needles.iter().any(|needle| text.contains(needle.as_str()));
        let before = all_rows_as_text(&core.store.db).await;
        let tables_before: std::collections::BTreeSet<&str> = before
            .iter()
            .filter(|(_, text)| personal(text))
            .map(|(table, _)| table.as_str())
            .collect();
        let account_ids: Vec<i64> =
            whisperengine::store::accounts::linked_accounts(&core.store.db, identity)
                .await
                .expect("readable")
                .iter()
                .map(|account| account.id.get())
                .collect();
        assert_eq!(account_ids.len(), 2, "{}", db.name);
        let referring_before = rows_referring_to(&core.store.db, &account_ids).await;
        for table in ["emotion_observation", "link_code", "memory", "preference"] {
            assert!(
                referring_before.iter().any(|(t, _)| t == table),
                "{}: the test must see rows of the accounts in {table} first: {referring_before:?}",
                db.name
            );
        }
        for table in [
            "identity",
            "platform_account",
            "memory",
            "preference",
            "emotional_state",
            "export_token",
            "audit_log",
            "later_feature",
        ] {
            assert!(
                tables_before.contains(table),
                "{}: the test must see personal data in {table} first: {tables_before:?}",
                db.name
            );
        }
        let redis = common::redis_url().filter(|_| settings.redis_url.is_some());
        if let Some(url) = &redis {
            let entries = redis_entries(url, &settings.redis_key_prefix).await;
            assert!(
                entries.iter().any(|(key, _)| personal(key)),
                "{}: the identity has Redis keys first: {entries:?}",
                db.name
            );
        }

        let early = say(&core, command(&slack, "forget all confirm", false)).await;
        assert!(
            early.starts_with("Nothing was deleted"),
            "{}: {early}",
            db.name
        );
        let asked = say(&core, command(&discord, "forget all", false)).await;
        assert!(asked.contains("forget all confirm"), "{}: {asked}", db.name);
        let still = memory::Entity::find()
            .filter(memory::Column::Content.eq(secret.clone()))
            .all(&core.store.db)
            .await
            .expect("readable");
        assert_eq!(
            still.len(),
            1,
            "{}: nothing goes before the confirmation",
            db.name
        );

        let done = say(&core, command(&slack, "forget all confirm", false)).await;
        assert!(done.starts_with("Done."), "{}: {done}", db.name);

        let after = all_rows_as_text(&core.store.db).await;
        let left: Vec<&(String, String)> =
            after.iter().filter(|(_, text)| personal(text)).collect();
        assert!(
            left.is_empty(),
            "{}: personal data left: {left:#?}",
            db.name
        );
        let referring = rows_referring_to(&core.store.db, &account_ids).await;
        assert!(
            referring.is_empty(),
            "{}: rows still refer to the accounts: {referring:?}",
            db.name
        );
        let tombstones = audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq("forget.all"))
            .filter(audit_log::Column::Outcome.eq("ok"))
            .all(&core.store.db)
            .await
            .expect("readable");
        assert_eq!(tombstones.len(), 1, "{}", db.name);
        assert_eq!(tombstones[0].actor, "[forgotten]", "{}", db.name);
        let redacted = audit_log::Entity::find()
            .filter(audit_log::Column::Actor.eq("[forgotten]"))
            .all(&core.store.db)
            .await
            .expect("readable");
        assert!(
            redacted.len() > 3,
            "{}: earlier entries keep their place, without the person: {redacted:?}",
            db.name
        );
        if let Some(url) = &redis {
            let entries = redis_entries(url, &settings.redis_key_prefix).await;
            let left: Vec<_> = entries
                .iter()
                .filter(|(key, value)| personal(key) || personal(value))
                .collect();
            assert!(left.is_empty(), "{}: Redis keys left: {left:?}", db.name);
        }
        let rex = memory::Entity::find()
            .filter(memory::Column::Content.eq("My dog is called Rex"))
            .all(&core.store.db)
            .await
            .expect("readable");
        assert_eq!(rex.len(), 1, "{}: other people's data stays", db.name);

        let fresh = say(&core, command(&slack, "memory", false)).await;
        assert!(
            fresh.contains("don't remember anything"),
            "{}: {fresh}",
            db.name
        );
    }
}

#[tokio::test]
async fn the_cli_prints_the_audit_log_and_an_export() {
    for (db, settings) in test_setups().await {
        let (core, _address) = start_host(settings.clone()).await;
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        say(&core, message(&slack, "My cat is called Miso")).await;
        say(&core, command(&slack, "link start", false)).await;
        core.store.flush().await;
        let run = |args: &[&str]| {
            std::process::Command::new(env!("CARGO_BIN_EXE_whisperengine"))
                .args(args)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("DEPLOYMENT_MODE", "cloud")
                .env("DATABASE_URL", &settings.database_url)
                .env("PERSONALITIES_DIR", &settings.personalities_dir)
                .current_dir(std::env::temp_dir())
                .output()
                .expect("the binary runs")
        };
        let output = run(&["audit", "--since", "1h", "--json"]);
        assert!(output.status.success(), "{}: {output:?}", db.name);
        let entries: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("a JSON array");
        assert!(
            entries
                .as_array()
                .expect("array")
                .iter()
                .any(|e| e["action"] == "link.start" && e["actor"] == "slack:T1/U1"),
            "{}: {entries}",
            db.name
        );
        let future = run(&["audit", "--since", "2999-01-01T00:00:00Z"]);
        assert!(future.status.success());
        assert!(String::from_utf8_lossy(&future.stdout).contains("0 entries"));
        let bad = run(&["audit", "--since", "yesterday"]);
        assert_eq!(bad.status.code(), Some(2), "{}", db.name);

        let export = run(&["export", "--account", "slack:T1/U1"]);
        assert!(export.status.success(), "{}: {export:?}", db.name);
        let document: serde_json::Value =
            serde_json::from_slice(&export.stdout).expect("a JSON document");
        assert!(document.to_string().contains("My cat is called Miso"));
        let unknown = run(&["export", "--account", "slack:T1/NOBODY"]);
        assert_eq!(unknown.status.code(), Some(1));
        let malformed = run(&["export", "--account", "nonsense"]);
        assert_eq!(malformed.status.code(), Some(2));
    }
}

#[tokio::test]
async fn forget_one_deletes_only_the_callers_own_memory() {
    for (db, settings) in test_setups().await {
        let core = whisperengine::setup::build_core(std::sync::Arc::new(settings))
            .await
            .expect("the core builds");
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        let other = PlatformAccount::new(Platform::Slack, "T1", "U2");
        say(&core, message(&slack, "My cat is called Miso")).await;
        say(&core, message(&other, "My dog is called Rex")).await;
        let id_of = |text: &'static str| {
            let db = core.store.db.clone();
            async move {
                memory::Entity::find()
                    .filter(memory::Column::Content.eq(text))
                    .one(&db)
                    .await
                    .expect("readable")
                    .expect("stored")
                    .id
            }
        };
        let miso = id_of("My cat is called Miso").await;
        let rex = id_of("My dog is called Rex").await;
        let refused = say(&core, command(&slack, &format!("forget {rex}"), false)).await;
        assert!(
            refused.starts_with("I couldn't find"),
            "{}: {refused}",
            db.name
        );
        assert_eq!(id_of("My dog is called Rex").await, rex, "{}", db.name);
        let done = say(&core, command(&slack, &format!("forget #{miso}"), false)).await;
        assert!(done.starts_with("Done."), "{}: {done}", db.name);
        let gone = memory::Entity::find_by_id(miso)
            .one(&core.store.db)
            .await
            .expect("readable");
        assert!(gone.is_none(), "{}", db.name);
        let recalled = say(&core, message(&slack, "What's my cat called?")).await;
        assert!(!recalled.contains("Miso"), "{}: {recalled}", db.name);
        let audited = audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq("forget"))
            .all(&core.store.db)
            .await
            .expect("readable");
        let outcomes: Vec<&str> = audited.iter().map(|row| row.outcome.as_str()).collect();
        assert_eq!(outcomes, vec!["refused", "ok"], "{}", db.name);
        assert!(
            audited
                .iter()
                .all(|row| !row.detail.clone().unwrap_or_default().contains("Miso")),
            "{}: no content in the audit log",
            db.name
        );
    }
}
