//! The durable inbox: Slack events (over HTTP and Socket Mode) are stored before they are
//! acknowledged, and events a stopped process left are taken over by the next one and answered
//! exactly once.
//!
//! In-process hosts take over rows written as a stopped process leaves them (heartbeat expired); the
//! last test runs the real binary, stops it with SIGTERM while a message is still being answered
//! (a drain of 1 s against a language model that takes 4 s), and checks that a second process
//! answers it.
//!
//! Over 500 lines: each inbox guarantee is its own scenario against real stores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::fake_slack::{FakeSlack, BOT_TOKEN, BOT_USER, TEAM};
use common::host::HostProcess;
use common::slack_signing::signed_event;
use common::{test_setups, TestDb};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    Set,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use whisperengine::app::Application;
use whisperengine::config::Settings;
use whisperengine::store::entities::{inbox_event, inbox_owner, memory, processed_event};

const SIGNING_SECRET: &str = "inbox-test-signing-secret";
const ANA: &str = "U0ANA0001";
const DM_CHANNEL: &str = "D0ANADM01";

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A `message.im` event from Ana, as Slack posts it to the Events API.
fn dm(event_id: &str, text: &str) -> Value {
    // Slack's `ts` is unique within a channel: it names the message.
    static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(100);
    let sequence = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let ts = format!("{}.{sequence:06}", now_ms() / 1000);
    json!({
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "team_id": TEAM,
        "api_app_id": "A0TEST",
        "event": {
            "client_msg_id": format!("c-{event_id}"),
            "type": "message", "text": text, "user": ANA, "ts": ts, "team": TEAM,
            "channel": DM_CHANNEL, "event_ts": ts, "channel_type": "im"
        },
        "type": "event_callback",
        "authorizations": [{"enterprise_id": null, "team_id": TEAM, "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false}],
        "is_ext_shared_channel": false,
        "event_id": event_id,
        "event_time": now_ms() / 1000,
    })
}

/// A row as a process left it: owned by `owner` (a process whose heartbeat the test writes, or
/// nobody: given back).
fn left_row(
    kind: &str,
    payload: &str,
    reply: Option<String>,
    attempts: i32,
    owner: &str,
) -> inbox_event::ActiveModel {
    inbox_event::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        kind: Set(kind.to_string()),
        payload: Set(payload.to_string()),
        reply: Set(reply),
        owner: Set(owner.to_string()),
        attempts: Set(attempts),
        parked: Set(false),
        created_at: Set(now_ms() - 60_000),
        author_platform: Set(None),
        author_scope: Set(None),
        author_user_id: Set(None),
    }
}

fn slack_settings(fake: &FakeSlack, mut settings: Settings) -> Settings {
    fake.add_user(ANA, "Ana", false);
    settings.slack_bot_token = Some(BOT_TOKEN.to_string().into());
    settings.slack_signing_secret = Some(SIGNING_SECRET.to_string().into());
    settings.slack_api_url = Some(fake.api_url());
    settings
}

/// The chat.postMessage calls whose text contains `needle`.
fn posted(fake: &FakeSlack, needle: &str) -> Vec<String> {
    fake.delivered("chat.postMessage")
        .into_iter()
        .filter_map(|call| call.params["text"].as_str().map(str::to_string))
        .filter(|text| text.contains(needle))
        .collect()
}

pub(crate) async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> F,
) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn row(db: &DatabaseConnection, id: &str) -> Option<inbox_event::Model> {
    inbox_event::Entity::find_by_id(id.to_string())
        .one(db)
        .await
        .unwrap()
}

pub(crate) async fn stored_user_messages(db: &DatabaseConnection, text: &str) -> u64 {
    memory::Entity::find()
        .filter(memory::Column::Role.eq("user"))
        .filter(memory::Column::Content.eq(text))
        .count(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn events_a_stopped_process_left_are_taken_over_answered_once_or_set_aside() {
    for (db, settings) in test_setups().await {
        let fake = FakeSlack::start().await;
        let settings = slack_settings(&fake, settings);
        // Migrate first, so rows can be left before the host starts.
        let conn = db.connect_migrated().await;
        let text = "My sister Mira moved to Lisbon last week";
        // A process whose heartbeat ran out a minute ago, and one that is alive.
        let stopped = uuid::Uuid::new_v4().to_string();
        let alive = uuid::Uuid::new_v4().to_string();
        for (owner, alive_until) in [
            (&stopped, now_ms() - 60_000),
            (&alive, now_ms() + 3_600_000),
        ] {
            inbox_owner::ActiveModel {
                owner: Set(owner.clone()),
                alive_until: Set(alive_until),
            }
            .insert(&conn)
            .await
            .unwrap();
        }
        // 1. Never processed: taken over and answered.
        let fresh = left_row(
            "slack.event",
            &dm("EvLEFT0001", text).to_string(),
            None,
            1,
            &stopped,
        );
        let fresh_id = fresh.id.clone().unwrap();
        fresh.insert(&conn).await.unwrap();
        // 2. Its turn was committed, its reply not delivered, and it was given back (no owner):
        //    the stored reply goes out; the message is not processed (or stored) again.
        let answered_text = "This message was already answered before the crash";
        let stored = serde_json::to_string(&whisperengine_contract::OutboundReply::text(
            "the reply stored with the turn",
        ))
        .unwrap();
        processed_event::ActiveModel {
            platform: Set("slack".into()),
            event_id: Set("EvLEFT0002".into()),
            created_at: Set(chrono::Utc::now()),
        }
        .insert(&conn)
        .await
        .unwrap();
        let answered = left_row(
            "slack.event",
            &dm("EvLEFT0002", answered_text).to_string(),
            Some(stored),
            2,
            "",
        );
        let answered_id = answered.id.clone().unwrap();
        answered.insert(&conn).await.unwrap();
        // 6. Its turn was committed and its reply posted (the process died before deleting the
        //    row): the reply is found in the thread by its metadata and not posted again.
        let posted_event = dm("EvLEFT0006", "answered and posted before the crash");
        let posted_ts = posted_event["event"]["ts"].as_str().unwrap().to_string();
        let seconds = posted_ts.split('.').next().unwrap();
        fake.add_history_raw(
            DM_CHANNEL,
            json!({
                "type": "message", "user": BOT_USER, "bot_id": "B0BOT0001", "team": TEAM,
                "text": "the reply already posted", "ts": format!("{seconds}.999000"),
                "thread_ts": posted_ts,
                "metadata": {"event_type": "whisperengine_reply", "event_payload": {
                    "reply_to": format!("slack:msg:{DM_CHANNEL}:{posted_ts}"), "part": "0"}}
            }),
        );
        let already_posted = left_row(
            "slack.event",
            &posted_event.to_string(),
            Some(
                serde_json::to_string(&whisperengine_contract::OutboundReply::text(
                    "the reply already posted",
                ))
                .unwrap(),
            ),
            1,
            &stopped,
        );
        let already_posted_id = already_posted.id.clone().unwrap();
        already_posted.insert(&conn).await.unwrap();
        // 3. A live process holds it: left alone.
        let held = left_row(
            "slack.event",
            &dm("EvLEFT0003", "held elsewhere").to_string(),
            None,
            1,
            &alive,
        );
        let held_id = held.id.clone().unwrap();
        held.insert(&conn).await.unwrap();
        // 4. Failed too often, 5. unreadable: set aside, never run.
        let worn = left_row(
            "slack.event",
            &dm("EvLEFT0004", "tried five times").to_string(),
            None,
            5,
            &stopped,
        );
        let worn_id = worn.id.clone().unwrap();
        worn.insert(&conn).await.unwrap();
        let garbage = left_row("slack.event", "{not json", None, 1, &stopped);
        let garbage_id = garbage.id.clone().unwrap();
        garbage.insert(&conn).await.unwrap();

        let doctor_settings = settings.clone();
        let application = Application::build(settings).await.expect("the host builds");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(application.run_until_stopped(async move {
            let _ = stopped.await;
        }));

        wait_until(
            "the left rows are finished",
            Duration::from_secs(20),
            || async {
                row(&conn, &fresh_id).await.is_none()
                    && row(&conn, &answered_id).await.is_none()
                    && row(&conn, &already_posted_id).await.is_none()
            },
        )
        .await;
        assert_eq!(
            posted(&fake, "the reply stored with the turn").len(),
            1,
            "{}",
            db.name
        );
        assert!(
            posted(&fake, "the reply already posted").is_empty(),
            "{}: a reply found in the thread is not posted again",
            db.name
        );
        let looked = fake
            .delivered("conversations.replies")
            .into_iter()
            .filter(|call| call.params["ts"] == posted_ts.as_str())
            .count();
        assert_eq!(looked, 1, "{}: one look in the thread", db.name);
        assert_eq!(
            stored_user_messages(&conn, answered_text).await,
            0,
            "{}: not processed again",
            db.name
        );
        assert_eq!(
            stored_user_messages(&conn, text).await,
            1,
            "{}: stored once",
            db.name
        );
        let replies_to_fresh: Vec<_> = fake
            .delivered("chat.postMessage")
            .into_iter()
            .filter(|call| call.params["channel"] == DM_CHANNEL)
            .collect();
        assert_eq!(
            replies_to_fresh.len(),
            2,
            "{}: one answer each: {replies_to_fresh:?}",
            db.name
        );

        wait_until(
            "the bad rows are set aside",
            Duration::from_secs(10),
            || async {
                let worn = row(&conn, &worn_id).await.unwrap();
                let garbage = row(&conn, &garbage_id).await.unwrap();
                worn.parked && garbage.parked
            },
        )
        .await;
        assert_eq!(
            row(&conn, &worn_id).await.unwrap().attempts,
            6,
            "{}",
            db.name
        );
        let held = row(&conn, &held_id)
            .await
            .expect("a live process's row stays");
        assert_eq!(held.attempts, 1, "{}: not claimed", db.name);
        assert!(posted(&fake, "tried five times").is_empty());
        let report = whisperengine::doctor::checks(&doctor_settings).await;
        let inbox = report
            .iter()
            .find(|row| row.name == "inbox")
            .expect("an inbox row");
        assert_eq!(
            inbox.status,
            whisperengine::doctor::Status::Failing,
            "{}",
            db.name
        );
        assert!(
            inbox.detail.starts_with("1 event(s) waiting, 2 set aside"),
            "{}: {}",
            db.name,
            inbox.detail
        );

        let _ = stop.send(());
        running.await.unwrap().unwrap();
        conn.close().await.unwrap();
        db.cleanup().await;
    }
}

fn host_env(db: &TestDb, fake: &FakeSlack) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("DEPLOYMENT_MODE", "cloud".to_string()),
        ("DATABASE_URL", db.url.clone()),
        (
            "PERSONALITIES_DIR",
            format!("{}/personalities", env!("CARGO_MANIFEST_DIR")),
        ),
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_string()),
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.to_string()),
        ("SLACK_API_URL", fake.api_url().to_string()),
        ("SHUTDOWN_DRAIN_SECONDS", "1".to_string()),
        ("INBOX_LEASE_SECONDS", "2".to_string()),
    ];
    if let Some(redis) = common::redis_url() {
        env.push(("REDIS_URL", redis));
        env.push(("REDIS_KEY_PREFIX", format!("{}:", common::unique_prefix())));
    }
    env
}

#[tokio::test]
async fn a_message_acknowledged_by_a_process_stopped_mid_reply_is_answered_by_the_next_one() {
    for (db, _) in test_setups().await {
        let fake = FakeSlack::start().await;
        fake.add_user(ANA, "Ana", false);
        let conn = db.connect_migrated().await;
        let text = "My brother Teo starts his new job on Monday";

        let mut env = host_env(&db, &fake);
        env.push((
            "LLM_BASE_URL",
            common::fake_llm::slow(Duration::from_secs(4), "Lisbon is lovely in spring.")
                .await
                .to_string(),
        ));
        env.push(("LLM_TIMEOUT", "30".to_string()));
        let mut first = HostProcess::spawn(&env);
        let body = dm("EvSTOPPED1", text).to_string();
        let host = format!("http://{}", first.address);
        let answer = signed_event(&host, SIGNING_SECRET, &body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{}: acknowledged", db.name);
        assert_eq!(
            inbox_event::Entity::find().count(&conn).await.unwrap(),
            1,
            "{}: stored before the acknowledgement",
            db.name
        );
        // SIGTERM while the reply is still being written: the 1 s drain runs out.
        let status = first.terminate();
        assert!(status.success(), "{}: exits cleanly: {status}", db.name);
        assert_eq!(
            stored_user_messages(&conn, text).await,
            0,
            "{}: not stored by the first",
            db.name
        );
        assert_eq!(
            inbox_event::Entity::find().count(&conn).await.unwrap(),
            1,
            "{}: left in the inbox",
            db.name
        );
        assert!(fake.delivered("chat.postMessage").is_empty());

        let second = HostProcess::spawn(&host_env(&db, &fake));
        wait_until(
            "the second process answers",
            Duration::from_secs(30),
            || async {
                !fake.delivered("chat.postMessage").is_empty()
                    && inbox_event::Entity::find().count(&conn).await.unwrap() == 0
            },
        )
        .await;
        // Give a double answer the time to show.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            fake.delivered("chat.postMessage").len(),
            1,
            "{}: answered once",
            db.name
        );
        assert_eq!(
            stored_user_messages(&conn, text).await,
            1,
            "{}: stored once",
            db.name
        );
        drop(second);
        conn.close().await.unwrap();
        db.cleanup().await;
    }
}

/// The same over Socket Mode: the envelope is acknowledged only once its event is in the inbox,
/// so a process stopped mid-reply leaves it to the next one, which answers it once.
#[tokio::test]
async fn a_socket_mode_message_acknowledged_by_a_process_stopped_mid_reply_is_answered_by_the_next_one(
) {
    for (db, _) in test_setups().await {
        let fake = FakeSlack::start().await;
        fake.add_user(ANA, "Ana", false);
        let conn = db.connect_migrated().await;
        let text = "My sister Ingrid moved to Tromsø last spring";
        let mut env = host_env(&db, &fake);
        env.push(("SLACK_APP_TOKEN", common::fake_slack::APP_TOKEN.to_string()));
        let mut slow = env.clone();
        slow.push((
            "LLM_BASE_URL",
            common::fake_llm::slow(Duration::from_secs(4), "Tromsø has long winters.")
                .await
                .to_string(),
        ));
        slow.push(("LLM_TIMEOUT", "30".to_string()));
        let mut first = HostProcess::spawn(&slow);
        assert!(
            fake.wait_for_sockets(1).await >= 1,
            "{}: connected",
            db.name
        );
        let envelope_id = "3c1e1f9a-socket-inbox-1";
        fake.send_frame(&json!({
            "envelope_id": envelope_id,
            "payload": dm("EvSOCKSTOP1", text),
            "type": "events_api",
            "accepts_response_payload": false,
            "retry_attempt": 0,
            "retry_reason": ""
        }));
        assert!(
            fake.wait_for_ack(envelope_id).await.is_some(),
            "{}: acknowledged",
            db.name
        );
        assert_eq!(
            inbox_event::Entity::find().count(&conn).await.unwrap(),
            1,
            "{}: stored before the acknowledgement",
            db.name
        );
        let status = first.terminate();
        assert!(status.success(), "{}: exits cleanly: {status}", db.name);
        assert_eq!(stored_user_messages(&conn, text).await, 0, "{}", db.name);
        assert!(fake.delivered("chat.postMessage").is_empty());

        let second = HostProcess::spawn(&env);
        wait_until(
            "the second process answers",
            Duration::from_secs(30),
            || async {
                !fake.delivered("chat.postMessage").is_empty()
                    && inbox_event::Entity::find().count(&conn).await.unwrap() == 0
            },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            fake.delivered("chat.postMessage").len(),
            1,
            "{}: answered once",
            db.name
        );
        assert_eq!(
            stored_user_messages(&conn, text).await,
            1,
            "{}: stored once",
            db.name
        );
        drop(second);
        conn.close().await.unwrap();
        db.cleanup().await;
    }
}

/// A failed duplicate check (the database away while `processed_event` is read) leaves no mark
/// behind: the retry processes the message instead of taking its own mark for an earlier delivery
/// and dropping it unstored and unanswered. The table is renamed away for a moment to make the
/// check fail, on SQLite and on PostgreSQL (without Redis, so the check goes to SQL).
#[tokio::test]
async fn a_message_whose_duplicate_check_failed_is_retried_not_dropped() {
    for db in common::fresh_databases().await {
        let core = common::core_for(common::settings_for(&db, false)).await;
        let conn = db.connect().await;
        let execute = |sql: &'static str| {
            let conn = conn.clone();
            async move {
                use sea_orm::ConnectionTrait;
                conn.execute_unprepared(sql).await.unwrap();
            }
        };
        let ana = whisperengine_contract::PlatformAccount::new(
            whisperengine_contract::Platform::Slack,
            TEAM,
            ANA,
        );
        // Ana is known, so the message reaches the duplicate check before anything else fails.
        assert!(!common::say(&core, common::message(&ana, "Hello there"))
            .await
            .is_empty());
        execute("ALTER TABLE processed_event RENAME TO processed_event_away").await;
        let text = "My cousin Ilse bakes rye bread every Sunday";
        let sending = tokio::spawn({
            let core = core.clone();
            let message = common::message(&ana, text);
            async move { common::say(&core, message).await }
        });
        tokio::time::sleep(Duration::from_millis(400)).await;
        execute("ALTER TABLE processed_event_away RENAME TO processed_event").await;
        let reply = tokio::time::timeout(Duration::from_secs(30), sending)
            .await
            .expect("answered within the retry window")
            .unwrap();
        assert!(!reply.is_empty(), "{}: answered after the retry", db.name);
        assert_eq!(
            stored_user_messages(&conn, text).await,
            1,
            "{}: stored once",
            db.name
        );
        conn.close().await.unwrap();
        db.cleanup().await;
    }
}

/// A command whose run failed (its table away for a moment) leaves no processed mark: the same
/// event sent again runs it, instead of being dropped as a duplicate of a command that never
/// finished. The same holds for a command whose process stopped mid-run: the mark is written only
/// once the command has run.
#[tokio::test]
async fn a_command_whose_run_failed_runs_when_sent_again() {
    for db in common::fresh_databases().await {
        let core = common::core_for(common::settings_for(&db, false)).await;
        let conn = db.connect().await;
        let execute = |sql: &'static str| {
            let conn = conn.clone();
            async move {
                use sea_orm::ConnectionTrait;
                conn.execute_unprepared(sql).await.unwrap();
            }
        };
        let ana = whisperengine_contract::PlatformAccount::new(
            whisperengine_contract::Platform::Slack,
            TEAM,
            ANA,
        );
        let link_start = common::command(&ana, "link start", false);
        execute("ALTER TABLE link_code RENAME TO link_code_away").await;
        let failed = common::say(&core, link_start.clone()).await;
        assert!(failed.contains("went wrong"), "{}: {failed}", db.name);
        execute("ALTER TABLE link_code_away RENAME TO link_code").await;
        let again = common::say(&core, link_start.clone()).await;
        assert!(
            !common::link_code_in(&again, "**").is_empty(),
            "{}: the retry ran the command: {again}",
            db.name
        );
        // Once it ran, the same event is a duplicate.
        assert_eq!(common::say(&core, link_start).await, "", "{}", db.name);
        conn.close().await.unwrap();
        db.cleanup().await;
    }
}

/// A `message.im` event from Ana in DM channel `channel` (one per message, so each answer names
/// the message it answers).
fn dm_in(event_id: &str, channel: &str, text: &str) -> String {
    let mut event = dm(event_id, text);
    event["event"]["channel"] = json!(channel);
    event.to_string()
}

/// SIGKILL mid-load: the killed process neither drains nor deletes anything. Every message it
/// acknowledged is still stored exactly once and answered by the process that replaces it (its
/// inbox rows are taken over once the killed one's heartbeat runs out). A reply posted in the
/// last milliseconds before the kill, whose row was not deleted yet, is found in the thread by
/// its metadata and not posted again: no message is answered twice.
#[tokio::test]
async fn nothing_acknowledged_is_lost_when_the_host_is_killed_mid_load() {
    const MESSAGES: usize = 240;
    const SENDERS: usize = 8;
    for (db, _) in test_setups().await {
        let fake = FakeSlack::start().await;
        fake.add_user(ANA, "Ana", false);
        let conn = db.connect_migrated().await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("http://127.0.0.1:{port}");
        let mut env = host_env(&db, &fake);
        env.push(("HTTP_BIND", format!("127.0.0.1:{port}")));
        let first = HostProcess::spawn(&env);

        let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let senders: Vec<_> = (0..SENDERS)
            .map(|sender| {
                let host = host.clone();
                let acked = acked.clone();
                tokio::spawn(async move {
                    for index in (sender..MESSAGES).step_by(SENDERS) {
                        let body = dm_in(
                            &format!("EvKILL{index:05}"),
                            &format!("D0KILL{index:04}"),
                            &format!("killtag{index} is what I told you"),
                        );
                        let started = Instant::now();
                        loop {
                            assert!(
                                started.elapsed() < Duration::from_secs(60),
                                "never acknowledged"
                            );
                            let sent = signed_event(&host, SIGNING_SECRET, &body)
                                .timeout(Duration::from_secs(5))
                                .send()
                                .await;
                            if sent.is_ok_and(|answer| answer.status() == 200) {
                                acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                })
            })
            .collect();
        while acked.load(std::sync::atomic::Ordering::SeqCst) < MESSAGES / 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(first); // SIGKILL
        let killed_at = acked.load(std::sync::atomic::Ordering::SeqCst);
        let _second = HostProcess::spawn(&env);
        for sender in senders {
            sender.await.unwrap();
        }
        let answers = || {
            let mut answers = std::collections::HashMap::<String, usize>::new();
            for call in fake.delivered("chat.postMessage") {
                if let Some(channel) = call.params["channel"].as_str() {
                    *answers.entry(channel.to_string()).or_default() += 1;
                }
            }
            answers
        };
        wait_until("every message is answered", Duration::from_secs(60), || {
            let answered = answers().len();
            async move { answered >= MESSAGES }
        })
        .await;
        wait_until("the inbox is empty", Duration::from_secs(20), || async {
            inbox_event::Entity::find().count(&conn).await.unwrap() == 0
        })
        .await;
        let rows = memory::Entity::find()
            .filter(memory::Column::Role.eq("user"))
            .all(&conn)
            .await
            .unwrap();
        let answers = answers();
        let mut answered_twice = 0;
        for index in 0..MESSAGES {
            let tag = format!("killtag{index} ");
            let stored = rows
                .iter()
                .filter(|row| row.content.starts_with(&tag))
                .count();
            assert_eq!(
                stored, 1,
                "{}: message {index} stored {stored} times",
                db.name
            );
            let answered = answers
                .get(&format!("D0KILL{index:04}"))
                .copied()
                .unwrap_or(0);
            assert!(answered >= 1, "{}: message {index} not answered", db.name);
            answered_twice += usize::from(answered > 1);
        }
        // Each taken-over turn looks in its thread once before posting.
        let looked = fake.delivered("conversations.replies").len();
        println!(
            "{}: SIGKILL after {killed_at} of {MESSAGES} acknowledged: lost=0 stored_twice=0 answered_twice={answered_twice} taken_over_turns_that_looked={looked}",
            db.name
        );
        assert_eq!(answered_twice, 0, "{}: messages answered twice", db.name);
        conn.close().await.unwrap();
        db.cleanup().await;
    }
}
