//! Retries and replays are processed once (in one process, across a restart, with and without Redis),
//! memory survives a restart, and a Redis that is gone costs speed, not correctness.

use crate::common;

use common::{core_for, fresh_sqlite, memory_rows, message, say, settings_for, test_setups};
use whisperengine_contract::{Capabilities, HandlerOutcome, Platform, PlatformAccount};

#[tokio::test]
async fn a_redelivered_event_is_answered_once_even_after_a_restart() {
    for (db, settings) in test_setups().await {
        let account = PlatformAccount::new(Platform::Slack, "T1", "U1");
        let event = message(&account, "I work as a lighthouse keeper");
        let core = core_for(settings.clone()).await;
        let first = core.handle_event(event.clone(), Capabilities::LOCAL).await;
        assert!(matches!(first, HandlerOutcome::Reply(_)), "{}", db.name);
        let again = core.handle_event(event.clone(), Capabilities::LOCAL).await;
        assert_eq!(again, HandlerOutcome::Duplicate, "{}", db.name);
        core.flush_hot_state().await.expect("flush");

        let restarted = core_for(settings).await;
        let replay = restarted.handle_event(event, Capabilities::LOCAL).await;
        assert_eq!(
            replay,
            HandlerOutcome::Duplicate,
            "{}: replay after restart",
            db.name
        );
        assert_eq!(
            memory_rows(&restarted).await,
            2,
            "{}: one message, one reply",
            db.name
        );

        let recalled = say(&restarted, message(&account, "what do I work as?")).await;
        assert!(
            recalled.contains("lighthouse keeper"),
            "{}: {recalled}",
            db.name
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn with_redis_unreachable_messages_flow_and_duplicates_are_still_caught() {
    let db = fresh_sqlite();
    let mut settings = settings_for(&db, false);
    settings.redis_url = Some("redis://127.0.0.1:1/".parse().expect("url"));
    let account = PlatformAccount::new(Platform::Discord, "", "5");
    let event = message(&account, "My favourite colour is teal");
    let core = core_for(settings.clone()).await;
    assert!(matches!(
        core.handle_event(event.clone(), Capabilities::LOCAL).await,
        HandlerOutcome::Reply(_)
    ));
    let restarted = core_for(settings).await;
    assert_eq!(
        restarted.handle_event(event, Capabilities::LOCAL).await,
        HandlerOutcome::Duplicate,
        "the SQL record catches the replay when Redis is gone"
    );
    // Redis only costs speed: the host stays ready and names it as a degradation.
    assert_eq!(restarted.store.check_ready().await, Ok(()));
    let redis = restarted.store.check_redis().await;
    assert!(
        redis.is_err_and(|reason| reason.contains("redis")),
        "the degradation names redis"
    );
}
