//! The acknowledgement rule's building blocks against the real store (SQLite, and PostgreSQL +
//! Redis when configured): a turn is claimed atomically, a stale Redis mark never drops an event,
//! and a host that is shutting down refuses (503) instead of acknowledging. The whole-host version
//! under faults is `tests/api/fault.rs`.

use crate::common;

use common::{core_for, fresh_sqlite, memory_rows, message, settings_for, test_setups};
use whisperengine::app::Application;
use whisperengine_contract::{
    Capabilities, HandlerOutcome, InboundEvent, Platform, PlatformAccount,
};

#[tokio::test]
async fn one_event_delivered_to_two_processes_at_once_is_stored_and_answered_once() {
    for (db, settings) in test_setups().await {
        let first = core_for(settings.clone()).await;
        let second = core_for(settings).await;
        let account = PlatformAccount::new(Platform::Slack, "T1", "U1");
        for round in 0..5 {
            let event = message(&account, &format!("Tell me about tides, round {round}"));
            let (a, b) = tokio::join!(
                first.handle_event(event.clone(), Capabilities::LOCAL),
                second.handle_event(event.clone(), Capabilities::LOCAL)
            );
            let replies = [&a, &b]
                .iter()
                .filter(|outcome| matches!(outcome, HandlerOutcome::Reply(_)))
                .count();
            assert_eq!(replies, 1, "{} round {round}: {a:?} / {b:?}", db.name);
            assert!(
                a == HandlerOutcome::Duplicate || b == HandlerOutcome::Duplicate,
                "{} round {round}",
                db.name
            );
        }
        assert_eq!(
            memory_rows(&first).await,
            10,
            "{}: five messages and five replies, none twice",
            db.name
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_stale_redis_mark_does_not_drop_an_event() {
    for (db, settings) in test_setups().await {
        let core = core_for(settings).await;
        let account = PlatformAccount::new(Platform::Teams, "tenant", "aad-1");
        let event = message(&account, "Is the sea calm today?");
        if let Some(cache) = &core.store.cache {
            // A delivery marked it, failed before storing anything and could not unmark it.
            let marked = cache
                .mark_event(Platform::Teams, event.event_id())
                .await
                .expect("redis answers");
            assert!(marked, "{}", db.name);
        }
        let outcome = core.handle_event(event.clone(), Capabilities::LOCAL).await;
        assert!(
            matches!(outcome, HandlerOutcome::Reply(_)),
            "{}: {outcome:?}",
            db.name
        );
        assert_eq!(memory_rows(&core).await, 2, "{}", db.name);
        let again = core_for_same(&core, event).await;
        assert_eq!(again, HandlerOutcome::Duplicate, "{}", db.name);
        assert_eq!(memory_rows(&core).await, 2, "{}", db.name);
        db.cleanup().await;
    }
}

/// The event handled by a fresh process (empty hot layer) on the same store settings.
async fn core_for_same(core: &whisperengine::core::Core, event: InboundEvent) -> HandlerOutcome {
    let other = core_for((*core.settings).clone()).await;
    other.handle_event(event, Capabilities::LOCAL).await
}

#[tokio::test]
async fn while_shutting_down_the_local_api_answers_503_and_stores_nothing() {
    let db = fresh_sqlite();
    let settings = settings_for(&db, false);
    let application = Application::build(settings).await.expect("the host builds");
    let base = format!("http://{}", application.address());
    let core = application.core.clone();
    let workers = application.workers.clone();
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    let client = reqwest::Client::new();
    let send = |event_id: &'static str| {
        client
            .post(format!("{base}/api/chat"))
            .bearer_auth(common::LOCAL_API_TOKEN)
            .json(&serde_json::json!({"text": "hello", "user": "ana", "event_id": event_id}))
            .send()
    };

    let accepted = send("local-1").await.expect("answered");
    assert_eq!(accepted.status(), 200);
    assert_eq!(memory_rows(&core).await, 2);

    workers.stop_accepting();
    let refused = send("local-2").await.expect("answered");
    assert_eq!(refused.status(), 503);
    let body: serde_json::Value = refused.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("send the same event_id again"),
        "{body}"
    );
    let ready = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("answered");
    assert_eq!(ready.status(), 503, "not ready while shutting down");
    assert_eq!(
        memory_rows(&core).await,
        2,
        "nothing of the refused message is stored"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn while_shutting_down_slack_gets_503_so_it_retries_and_nothing_is_answered() {
    use common::fake_slack::{FakeSlack, BOT_TOKEN, BOT_USER, TEAM};
    use common::slack_signing::signed_event;
    const SECRET: &str = "durable-test-signing-secret";
    let fake = FakeSlack::start().await;
    fake.add_user("U0ANA0001", "Ana", false);
    let db = fresh_sqlite();
    let mut settings = settings_for(&db, false);
    settings.slack_bot_token = Some(BOT_TOKEN.to_string().into());
    settings.slack_signing_secret = Some(SECRET.to_string().into());
    settings.slack_api_url = Some(fake.api_url());
    let application = Application::build(settings).await.expect("the host builds");
    let base = format!("http://{}", application.address());
    let core = application.core.clone();
    let workers = application.workers.clone();
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    let event = |event_id: &str, ts: &str| {
        serde_json::json!({
            "token": "t", "team_id": TEAM, "api_app_id": "A0TEST", "type": "event_callback",
            "event_id": event_id, "event_time": 1_700_000_000,
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false}],
            "event": {"type": "message", "text": "Hello there", "user": "U0ANA0001", "ts": ts,
                      "team": TEAM, "channel": "D0ANADM01", "event_ts": ts, "channel_type": "im"}
        })
        .to_string()
    };
    let post = |body: String| signed_event(&base, SECRET, &body).send();

    let accepted = post(event("Ev0DURABLE1", "1700000000.000100"))
        .await
        .expect("answered");
    assert_eq!(accepted.status(), 200);
    assert_eq!(fake.wait_for("chat.postMessage", 1).await.len(), 1);

    workers.stop_accepting();
    let refused = post(event("Ev0DURABLE2", "1700000000.000200"))
        .await
        .expect("answered");
    assert_eq!(refused.status(), 503, "Slack retries a non-2xx");
    assert_eq!(
        fake.wait_for("chat.postMessage", 2).await.len(),
        1,
        "the refused event is not answered"
    );
    assert_eq!(memory_rows(&core).await, 2, "nor stored");
    db.cleanup().await;
}
