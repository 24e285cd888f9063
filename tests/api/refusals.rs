//! A refused message is not a processed one, on SQLite and (when configured) PostgreSQL + Redis:
//! a message the rate limit turns away leaves no "processed" mark, so the same event sent again
//! later is taken in instead of being dropped as a duplicate; the local chat API answers such a
//! refusal with 429 and `Retry-After`.

use crate::common;
use whisperengine_contract::{HandlerOutcome, InboundEvent, Platform, PlatformAccount};

fn with_id(event: InboundEvent, id: &str) -> InboundEvent {
    match event {
        InboundEvent::Message(mut message) => {
            message.event_id = id.to_string().into();
            InboundEvent::Message(message)
        }
        other => other,
    }
}

async fn outcome(core: &whisperengine::core::Core, event: InboundEvent) -> HandlerOutcome {
    core.handle_event(event, whisperengine_contract::Capabilities::LOCAL)
        .await
}

#[tokio::test]
async fn a_message_the_rate_limit_refused_is_taken_in_when_sent_again() {
    for (_db, mut settings) in common::test_setups().await {
        settings.rate_limit_per_minute = 1;
        let core = common::core_for(settings.clone()).await;
        let ana = PlatformAccount::new(Platform::Slack, "T1", "U1");
        let first = outcome(&core, with_id(common::message(&ana, "hello"), "e-1")).await;
        assert!(
            matches!(first, HandlerOutcome::Reply(ref reply) if reply.retry_after_seconds.is_none())
        );
        let told = with_id(
            common::message(&ana, "My cat Miso learned to open doors"),
            "e-2",
        );
        for attempt in 0..2 {
            match outcome(&core, told.clone()).await {
                HandlerOutcome::Reply(reply) => {
                    assert_eq!(reply.retry_after_seconds, Some(60), "attempt {attempt}");
                    assert!(reply.text.contains("faster than I can take them in"));
                }
                other => panic!("attempt {attempt}: refused again, never a duplicate: {other:?}"),
            }
        }
        assert_eq!(
            common::memory_contents(&core)
                .await
                .iter()
                .filter(|text| text.contains("Miso"))
                .count(),
            0,
            "nothing of a refused message is stored"
        );

        // Later (another process, the limit no longer in the way) the same event is taken in once.
        settings.rate_limit_per_minute = 0;
        let later = common::core_for(settings).await;
        let taken = outcome(&later, told.clone()).await;
        assert!(
            matches!(taken, HandlerOutcome::Reply(ref reply) if reply.retry_after_seconds.is_none()),
            "{taken:?}"
        );
        assert!(matches!(
            outcome(&later, told).await,
            HandlerOutcome::Duplicate
        ));
        assert_eq!(
            common::memory_contents(&later)
                .await
                .iter()
                .filter(|text| text.contains("Miso"))
                .count(),
            1
        );
    }
}

#[tokio::test]
async fn the_local_api_answers_a_rate_limited_message_with_429_and_retry_after() {
    let db = common::fresh_sqlite();
    let mut settings = common::settings_for(&db, false);
    settings.deployment_mode = whisperengine::config::DeploymentMode::Desktop;
    settings.local_api_token = None;
    settings.rate_limit_per_minute = 1;
    let (base, _core) = common::spawn_app(settings).await;
    let client = reqwest::Client::new();
    let send = |event_id: &'static str| {
        let request = client
            .post(format!("{base}/api/chat"))
            .json(&serde_json::json!({"text": "hello there", "user": "ana", "event_id": event_id}));
        async move { request.send().await.expect("the host answers") }
    };
    assert_eq!(send("local-1").await.status().as_u16(), 200);
    let refused = send("local-2").await;
    assert_eq!(refused.status().as_u16(), 429);
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok()),
        Some("60")
    );
    let body: serde_json::Value = refused.json().await.expect("JSON");
    assert_eq!(body["duplicate"], false);
    assert!(
        body["reply"]
            .as_str()
            .is_some_and(|reply| reply.contains("faster than I can take them in")),
        "{body}"
    );
    let again = send("local-2").await;
    assert_eq!(
        again.status().as_u16(),
        429,
        "sent again: refused again, not a duplicate"
    );
}
