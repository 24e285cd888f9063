//! Deployment modes and the data lifecycle, on SQLite and (when configured) PostgreSQL + Redis: the
//! demo notice opens every new conversation, the expiry task deletes demo rows past DEMO_DATA_TTL
//! and erases the identities nothing is left of (every table, their Redis keys), content rows past
//! MEMORY_RETENTION_DAYS elsewhere, and cloud mode warns when several connectors run without Redis.

use crate::common;

use common::{command, core_for, message, say, test_setups};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::time::Duration;
use whisperengine::config::{DeploymentMode, Settings};
use whisperengine::store::accounts::find_account;
use whisperengine::store::entities::{audit_log, fact, identity, memory};
use whisperengine_contract::{
    ConversationContext, InboundEvent, InboundMessage, Platform, PlatformAccount,
};

fn message_in(account: &PlatformAccount, channel: &str, text: &str) -> InboundEvent {
    InboundEvent::Message(InboundMessage {
        event_id: uuid::Uuid::new_v4().to_string().into(),
        author: account.clone(),
        context: ConversationContext::direct(channel),
        text: text.to_string(),
        is_addressed: true,
        mentions: Vec::new(),
        author_roles: Vec::new(),
        inbox: None,
    })
}

#[tokio::test]
async fn demo_mode_opens_every_new_conversation_with_the_data_notice() {
    for (db, mut settings) in test_setups().await {
        settings.deployment_mode = DeploymentMode::Demo;
        settings.demo_data_ttl = Duration::from_secs(2 * 3600);
        let core = core_for(settings).await;
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        let first = say(&core, message_in(&slack, "D1", "Hello there")).await;
        assert!(
            first.starts_with("_Demo mode: what you tell me here is kept for 2 hours"),
            "{}: {first}",
            db.name
        );
        let second = say(&core, message_in(&slack, "D1", "How are you?")).await;
        assert!(!second.contains("Demo mode"), "{}: {second}", db.name);
        let elsewhere = say(&core, message_in(&slack, "C2", "Hi in a channel")).await;
        assert!(elsewhere.contains("Demo mode"), "{}: {elsewhere}", db.name);
        let stored = memory::Entity::find()
            .all(&core.store.db)
            .await
            .expect("readable");
        assert!(
            stored.iter().all(|row| !row.content.contains("Demo mode")),
            "{}: the notice is not remembered as something said",
            db.name
        );
        let status = say(&core, command(&slack, "sync status", false)).await;
        assert!(
            status.contains("Demo mode: what you tell me is deleted 2 hours after you say it"),
            "{}: {status}",
            db.name
        );
    }
}

#[tokio::test]
async fn cloud_mode_tells_nothing_about_demo_data() {
    for (db, settings) in test_setups().await {
        let core = core_for(settings).await;
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        let reply = say(&core, message(&slack, "Hello there")).await;
        assert!(!reply.contains("Demo mode"), "{}: {reply}", db.name);
        let status = say(&core, command(&slack, "sync status", false)).await;
        assert!(!status.contains("deleted"), "{}: {status}", db.name);
    }
}

async fn make_old(
    core: &whisperengine::core::Core,
    account: &PlatformAccount,
    age: chrono::TimeDelta,
) -> whisperengine::store::ids::IdentityId {
    let id = find_account(&core.store.db, account)
        .await
        .expect("readable")
        .expect("the account exists")
        .identity_id;
    // Demo data expires row by row: everything of the person is made old, not only the person.
    common::age_person(core, id, age).await;
    id
}

#[tokio::test]
async fn the_expiry_task_erases_demo_identities_past_their_ttl_everywhere() {
    for (db, mut settings) in test_setups().await {
        settings.deployment_mode = DeploymentMode::Demo;
        settings.demo_data_ttl = Duration::from_secs(60);
        // A rate limit makes per-identity Redis keys exist, so their removal is checked too.
        settings.rate_limit_per_minute = 1000;
        let core = core_for(settings.clone()).await;
        let old = PlatformAccount::new(Platform::Slack, "T1", "UOLD");
        let new = PlatformAccount::new(Platform::Slack, "T1", "UNEW");
        say(&core, message(&old, "My cat is called Miso")).await;
        say(&core, command(&old, "prefs set name Olga", false)).await;
        say(&core, message(&new, "My dog is called Rex")).await;
        core.flush_hot_state().await.expect("flushed");
        let old_id = make_old(&core, &old, chrono::TimeDelta::seconds(120)).await;
        let redis_keys = |id: uuid::Uuid| {
            let settings = settings.clone();
            async move {
                let Some(url) = settings.redis_url.as_ref() else {
                    return Vec::new();
                };
                let client = redis::Client::open(url.as_str()).expect("redis url");
                let mut connection = client
                    .get_multiplexed_async_connection()
                    .await
                    .expect("redis reachable");
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{}*{id}*", settings.redis_key_prefix))
                    .query_async(&mut connection)
                    .await
                    .expect("keys listed");
                keys
            }
        };
        if settings.redis_url.is_some() {
            assert!(
                !redis_keys(old_id.as_uuid()).await.is_empty(),
                "{}: keys exist first",
                db.name
            );
        }

        let task = whisperengine::core::ops::lifecycle::spawn_expiry_task(
            &core,
            Duration::from_millis(50),
        )
        .expect("demo mode runs the expiry task");
        let started = std::time::Instant::now();
        // The run is audited once everything (SQL and Redis) is gone.
        let expiry_entries = || async {
            audit_log::Entity::find()
                .filter(audit_log::Column::Action.eq("expire"))
                .all(&core.store.db)
                .await
                .expect("readable")
        };
        while expiry_entries().await.is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{}: the expired identity was never erased",
                db.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        task.abort();
        assert!(
            find_account(&core.store.db, &old)
                .await
                .expect("readable")
                .is_none(),
            "{}",
            db.name
        );

        let memories = common::memory_contents(&core).await;
        assert!(
            !memories.iter().any(|m| m.contains("Miso")),
            "{}: {memories:?}",
            db.name
        );
        assert!(
            memories.iter().any(|m| m.contains("Rex")),
            "{}: the young identity stays: {memories:?}",
            db.name
        );
        assert!(
            identity::Entity::find_by_id(old_id)
                .one(&core.store.db)
                .await
                .expect("readable")
                .is_none(),
            "{}",
            db.name
        );
        assert!(
            redis_keys(old_id.as_uuid()).await.is_empty(),
            "{}: Redis keys erased",
            db.name
        );
        let audited = expiry_entries().await;
        assert_eq!(audited.len(), 1, "{}: {audited:?}", db.name);
        let later = say(&core, message(&old, "What's my cat called?")).await;
        assert!(!later.contains("Miso"), "{}: {later}", db.name);
    }
}

#[tokio::test]
async fn memory_retention_deletes_rows_older_than_the_limit_only() {
    for (db, mut settings) in test_setups().await {
        settings.memory_retention_days = Some(2);
        let core = core_for(settings).await;
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        say(&core, message(&slack, "My cat is called Miso")).await;
        say(&core, message(&slack, "My dog is called Rex")).await;
        // Everything of the first exchange (the message, the companion's answer) is three days old.
        let three_days_ago = chrono::Utc::now() - chrono::TimeDelta::days(3);
        let aged_turns = memory::Entity::update_many()
            .col_expr(
                memory::Column::CreatedAt,
                sea_orm::sea_query::Expr::value(three_days_ago),
            )
            .filter(memory::Column::Content.contains("Miso"))
            .exec(&core.store.db)
            .await
            .expect("aged");
        assert!(aged_turns.rows_affected >= 1, "{}", db.name);
        // The fact extracted from that message was learnt (and last stated) at the same moment: it
        // ages with it.
        let aged_facts = fact::Entity::update_many()
            .col_expr(
                fact::Column::CreatedAt,
                sea_orm::sea_query::Expr::value(three_days_ago),
            )
            .col_expr(
                fact::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(three_days_ago),
            )
            .filter(fact::Column::Value.eq("Miso"))
            .exec(&core.store.db)
            .await
            .expect("facts aged");
        assert_eq!(
            aged_facts.rows_affected, 1,
            "{}: one fact about Miso",
            db.name
        );
        let expired = whisperengine::core::ops::lifecycle::expire(&core, chrono::Utc::now())
            .await
            .expect("expiry runs");
        assert_eq!(
            expired.rows,
            aged_turns.rows_affected + aged_facts.rows_affected,
            "{}: {expired:?}",
            db.name
        );
        let left = common::memory_contents(&core).await;
        assert!(!left.iter().any(|m| m.contains("Miso")), "{}", db.name);
        assert!(left.iter().any(|m| m.contains("Rex")), "{}", db.name);
        let recalled = say(&core, message(&slack, "What's my cat called?")).await;
        assert!(
            !recalled.contains("Miso"),
            "{}: the hot layer forgot it too: {recalled}",
            db.name
        );
        let status = say(&core, command(&slack, "sync status", false)).await;
        assert!(
            status.contains("older than 2 days"),
            "{}: {status}",
            db.name
        );
        let nothing = whisperengine::core::ops::lifecycle::expire(&core, chrono::Utc::now())
            .await
            .expect("expiry runs");
        assert_eq!(nothing.rows, 0, "{}", db.name);
    }
}

#[test]
fn cloud_mode_warns_when_several_connectors_run_without_redis() {
    let mut settings = Settings {
        deployment_mode: DeploymentMode::Cloud,
        discord_token: Some("discord-token".to_string().into()),
        slack_bot_token: Some("xoxb-1".to_string().into()),
        slack_signing_secret: Some("secret".to_string().into()),
        ..Default::default()
    };
    let warnings = settings.start_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("REDIS_URL is not set while 2 connectors run"));
    settings.redis_url = Some("redis://127.0.0.1:6379/".parse().expect("url"));
    assert!(settings.start_warnings().is_empty());
    settings.redis_url = None;
    settings.discord_token = None;
    assert!(
        settings.start_warnings().is_empty(),
        "one connector needs no shared cache"
    );
}

#[tokio::test]
async fn rediss_urls_are_accepted_for_tls_to_redis() {
    // Nothing listens there: the point is that a TLS URL is understood (the client is built with
    // rustls), so the cache starts and retries instead of refusing the URL.
    let cache =
        whisperengine::store::cache::SharedCache::connect("rediss://127.0.0.1:1/", "t:").await;
    assert!(cache.is_ok(), "{:?}", cache.err());
    assert!(cache.expect("accepted").ping().await.is_err());
}
