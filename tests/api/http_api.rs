//! The host over HTTP, built as `serve` builds it (real store, offline responder) on a free port:
//! the local chat API answers, bad input is refused with a reason and stores nothing, and the health,
//! readiness and metrics endpoints answer.

use crate::common;

use common::{fresh_sqlite, settings_for};
use whisperengine::app::Application;

struct TestApp {
    base: String,
    core: whisperengine::core::Core,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
    _db: common::TestDb,
}

async fn spawn_app() -> TestApp {
    let db = fresh_sqlite();
    let mut settings = settings_for(&db, false);
    settings.deployment_mode = whisperengine::config::DeploymentMode::Desktop;
    // Desktop mode's zero-config chat: loopback, no token.
    settings.local_api_token = None;
    settings.max_message_chars = 500;
    let app = Application::build(settings).await.expect("app builds");
    let base = format!("http://{}", app.address());
    let core = app.core.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        core,
        client: reqwest::Client::new(),
        _stop: stop,
        _db: db,
    }
}

impl TestApp {
    async fn stored_memories(&self) -> u64 {
        common::memory_rows(&self.core).await
    }

    async fn post_raw(&self, body: Vec<u8>, content_type: &str) -> (u16, String) {
        let response = self
            .client
            .post(format!("{}/api/chat", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }
}

#[tokio::test]
async fn the_chat_api_talks_to_the_companion_and_remembers() {
    let app = spawn_app().await;
    let json = |text: &str| {
        serde_json::json!({"user": "alice", "text": text})
            .to_string()
            .into_bytes()
    };
    let (status, _) = app
        .post_raw(json("My dog is called Rex"), "application/json")
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .post_raw(json("what is my dog called?"), "application/json")
        .await;
    assert_eq!(status, 200);
    let reply: serde_json::Value = serde_json::from_str(&body).expect("json reply");
    assert!(
        reply["reply"].as_str().unwrap_or_default().contains("Rex"),
        "{body}"
    );
    let (status, body) = app.post_raw(json("/whoami"), "application/json").await;
    assert_eq!(status, 200);
    assert!(body.contains("desktop:alice"), "{body}");
    assert_eq!(
        app.stored_memories().await,
        4,
        "two messages and two replies"
    );
}

/// A message sent again with its `event_id` (its answer lost with the connection) is not run
/// twice, and its answer is the reply stored with it; nobody else gets that reply by sending the
/// same id.
#[tokio::test]
async fn a_message_sent_again_is_answered_with_its_stored_reply_only_for_its_sender() {
    let app = spawn_app().await;
    let send = |user: &str| {
        serde_json::json!({"user": user, "text": "My sister Ada paints whales", "event_id": "resend-1"})
            .to_string()
            .into_bytes()
    };
    let (status, body) = app.post_raw(send("alice"), "application/json").await;
    assert_eq!(status, 200);
    let first: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(first["duplicate"], false);
    let reply = first["reply"].as_str().unwrap().to_string();
    assert!(!reply.is_empty(), "{body}");

    let (status, body) = app.post_raw(send("alice"), "application/json").await;
    assert_eq!(status, 200);
    let again: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(again["duplicate"], true, "{body}");
    assert_eq!(again["reply"], reply.as_str(), "the stored reply");

    let (status, body) = app.post_raw(send("mallory"), "application/json").await;
    assert_eq!(status, 200);
    let other: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(other["reply"], "", "not another person's reply: {body}");
    assert_eq!(app.stored_memories().await, 2, "stored once");
}

#[tokio::test]
async fn bad_input_is_refused_with_a_reason_and_stores_nothing() {
    let app = spawn_app().await;
    let long_text = serde_json::json!({"text": "a".repeat(501)})
        .to_string()
        .into_bytes();
    let huge = serde_json::json!({"text": "a".repeat(70_000)})
        .to_string()
        .into_bytes();
    let cases: Vec<(&str, Vec<u8>, &str, u16)> = vec![
        (
            "malformed json",
            b"{\"text\": ".to_vec(),
            "application/json",
            400,
        ),
        (
            "not json",
            b"text=hello".to_vec(),
            "application/x-www-form-urlencoded",
            415,
        ),
        (
            "invalid utf-8",
            b"{\"text\": \"\xff\xfe\"}".to_vec(),
            "application/json",
            400,
        ),
        (
            "empty text",
            br#"{"text": "   "}"#.to_vec(),
            "application/json",
            422,
        ),
        (
            "missing text",
            br#"{"user": "alice"}"#.to_vec(),
            "application/json",
            422,
        ),
        (
            "bad user",
            br#"{"text": "hi", "user": "a b/c"}"#.to_vec(),
            "application/json",
            422,
        ),
        ("text over the limit", long_text, "application/json", 413),
        ("huge body", huge, "application/json", 413),
    ];
    for (name, body, content_type, expected) in cases {
        let (status, text) = app.post_raw(body, content_type).await;
        assert_eq!(status, expected, "{name}: {text}");
        let error: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{name}: JSON error body, got {text}"));
        assert!(
            error["error"]
                .as_str()
                .is_some_and(|reason| !reason.is_empty()),
            "{name}: a reason is given: {text}"
        );
    }
    assert_eq!(app.stored_memories().await, 0, "nothing was stored");
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    let get = |path: &str| app.client.get(format!("{}{path}", app.base)).send();
    assert_eq!(get("/healthz").await.expect("healthz").status(), 200);
    let ready = get("/readyz").await.expect("readyz");
    assert_eq!(ready.status(), 200);
    let (_, _) = app
        .post_raw(br#"{"text": "hello"}"#.to_vec(), "application/json")
        .await;
    let metrics = get("/metrics")
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("whisperengine_messages_in_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains("whisperengine_pipeline_seconds"),
        "{metrics}"
    );
    let page = get("/").await.expect("page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("Elena Rodriguez"));
}
