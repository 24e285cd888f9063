//! Specification of `POST /api/chat` and `GET /api/config`, over a real listener.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::test_support::{expect_error, spawn, test_state, RecordingHandler};
use serde_json::json;
use std::sync::Arc;
use whisperengine_contract::{InboundEvent, Platform, Visibility};

async fn app() -> (crate::test_support::TestApp, Arc<RecordingHandler>) {
    let handler = Arc::new(RecordingHandler::default());
    (spawn(test_state(handler.clone())).await, handler)
}

#[tokio::test]
async fn a_message_reaches_the_core_as_an_addressed_dm_from_the_desktop_account() {
    let (app, handler) = app().await;
    let response = app
        .post_chat(json!({"text": "  hello there ", "user": "alice", "event_id": "e-1"}))
        .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"reply": "echo: hello there", "card": null, "duplicate": false})
    );

    let InboundEvent::Message(message) = handler.last() else {
        panic!("expected a message event");
    };
    assert_eq!(message.text, "hello there");
    assert_eq!(message.event_id, "e-1");
    assert!(message.is_addressed);
    assert_eq!(message.author.platform, Platform::Desktop);
    assert_eq!(message.author.scope, "");
    assert_eq!(message.author.user_id, "alice");
    assert_eq!(message.context.channel_id, "local-page");
    assert_eq!(message.context.visibility, Visibility::Dm);
    assert_eq!(message.context.thread_id, None);
}

#[tokio::test]
async fn without_user_or_event_id_the_local_user_and_a_fresh_uuid_are_used() {
    let (app, handler) = app().await;
    for _ in 0..2 {
        let response = app.post_chat(json!({"text": "hi"})).await;
        assert_eq!(response.status(), 200);
    }
    let events = handler.events.lock().unwrap().clone();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].account().user_id, "owner");
    assert!(uuid::Uuid::parse_str(events[0].event_id()).is_ok());
    assert_ne!(events[0].event_id(), events[1].event_id());
}

#[tokio::test]
async fn slash_text_becomes_a_command_with_the_owners_admin_flag() {
    let (app, handler) = app().await;
    let response = app.post_chat(json!({"text": "/Link start now"})).await;
    assert_eq!(response.status(), 200);
    let InboundEvent::Command(command) = handler.last() else {
        panic!("expected a command event");
    };
    assert_eq!(command.name, "link");
    assert_eq!(command.args, vec!["start", "now"]);
    assert!(
        command.invoker_is_admin,
        "desktop mode: the local user owns the host"
    );
    assert_eq!(command.context.channel_id, "local-page");

    let handler = Arc::new(RecordingHandler::default());
    let mut state = test_state(handler.clone());
    state.local_is_admin = false;
    let app = spawn(state).await;
    app.post_chat(json!({"text": "/help"})).await;
    let InboundEvent::Command(command) = handler.last() else {
        panic!("expected a command event");
    };
    assert_eq!(command.name, "help");
    assert!(!command.invoker_is_admin);
}

#[tokio::test]
async fn duplicates_and_ignored_events_answer_an_empty_reply() {
    let (app, _handler) = app().await;
    let body: serde_json::Value = app
        .post_chat(json!({"text": "say it twice"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({"reply": "", "card": null, "duplicate": true}));
    let body: serde_json::Value = app
        .post_chat(json!({"text": "not for you"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({"reply": "", "card": null, "duplicate": false}));
}

#[tokio::test]
async fn a_card_is_returned_as_structured_json() {
    let (app, _handler) = app().await;
    let body: serde_json::Value = app
        .post_chat(json!({"text": "show a card"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["card"],
        json!({
            "title": "Sync status",
            "fields": [{"name": "Linked", "value": "2 accounts", "inline": true}],
            "footer": "as of now"
        })
    );
}

#[tokio::test]
async fn malformed_json_is_a_400_and_never_reaches_the_core() {
    let (app, handler) = app().await;
    for body in ["{\"text\": ", "not json", "{\"text\": \"hi\"} trailing", ""] {
        let response = app.post_chat_raw(Some("application/json"), body).await;
        let reason = expect_error(response, 400).await;
        assert!(reason.starts_with("malformed JSON"), "{body:?}: {reason}");
    }
    assert_eq!(handler.calls(), 0);
}

#[tokio::test]
async fn a_non_json_content_type_is_a_415() {
    let (app, handler) = app().await;
    let body = json!({"text": "hi"}).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let response = app.post_chat_raw(content_type, body.clone()).await;
        let reason = expect_error(response, 415).await;
        assert!(reason.contains("application/json"), "{reason}");
    }
    assert_eq!(handler.calls(), 0);
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413() {
    let (app, handler) = app().await;
    let text = "a".repeat(70 * 1024);
    let response = app.post_chat(json!({ "text": text })).await;
    let reason = expect_error(response, 413).await;
    assert!(reason.contains("65536 bytes"), "{reason}");
    assert_eq!(handler.calls(), 0);
}

#[tokio::test]
async fn bytes_that_are_not_utf8_are_a_400() {
    let (app, handler) = app().await;
    let body: Vec<u8> = [&b"{\"text\": \"caf"[..], &[0xff, 0xfe], &b"\"}"[..]].concat();
    let response = app.post_chat_raw(Some("application/json"), body).await;
    let reason = expect_error(response, 400).await;
    assert_eq!(reason, "the request body is not valid UTF-8");
    assert_eq!(handler.calls(), 0);
}

#[tokio::test]
async fn missing_empty_or_blank_text_is_a_422() {
    let (app, handler) = app().await;
    for body in [
        json!({}),
        json!({"text": ""}),
        json!({"text": " \n\t "}),
        json!({"text": null}),
    ] {
        let reason = expect_error(app.post_chat(body.clone()).await, 422).await;
        assert_eq!(reason, "text is required and must not be empty", "{body}");
    }
    let reason = expect_error(app.post_chat(json!({"text": 5})).await, 422).await;
    assert!(reason.starts_with("invalid request"), "{reason}");
    let reason = expect_error(app.post_chat(json!({"text": "/  "})).await, 422).await;
    assert!(reason.contains("/help"), "{reason}");
    assert_eq!(handler.calls(), 0);
}

#[tokio::test]
async fn text_over_the_message_limit_is_refused_naming_the_limit() {
    let (app, handler) = app().await;
    let reason = expect_error(app.post_chat(json!({"text": "é".repeat(101)})).await, 413).await;
    assert_eq!(reason, "text is longer than 100 characters");
    assert_eq!(handler.calls(), 0);
    // Exactly at the limit (counted in characters, not bytes) is fine.
    let response = app.post_chat(json!({"text": "é".repeat(100)})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(handler.calls(), 1);
}

#[tokio::test]
async fn user_names_that_cannot_be_an_account_id_are_a_422() {
    let (app, handler) = app().await;
    let long = "u".repeat(65);
    for user in [
        "",
        "a b",
        "tab\there",
        "bell\u{7}",
        "a/b",
        "desktop:root",
        long.as_str(),
        "\u{85}x",
    ] {
        let response = app.post_chat(json!({"text": "hi", "user": user})).await;
        let reason = expect_error(response, 422).await;
        assert!(reason.starts_with("user must be"), "{user:?}: {reason}");
    }
    assert_eq!(handler.calls(), 0);
    let response = app
        .post_chat(json!({"text": "hi", "user": "u".repeat(64)}))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn event_ids_over_200_characters_or_empty_are_a_422() {
    let (app, handler) = app().await;
    for event_id in ["e".repeat(201), String::new(), "has space".into()] {
        let response = app
            .post_chat(json!({"text": "hi", "event_id": event_id}))
            .await;
        let reason = expect_error(response, 422).await;
        assert!(reason.starts_with("event_id must be"), "{reason}");
    }
    assert_eq!(handler.calls(), 0);
    let response = app
        .post_chat(json!({"text": "hi", "event_id": "e".repeat(200)}))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_disabled_chat_answers_404_and_calls_nothing() {
    let handler = Arc::new(RecordingHandler::default());
    let mut state = test_state(handler.clone());
    state.chat_enabled = false;
    let app = spawn(state).await;
    let reason = expect_error(app.post_chat(json!({"text": "hi"})).await, 404).await;
    assert!(reason.contains("disabled"));
    assert_eq!(handler.calls(), 0);
}

#[tokio::test]
async fn requests_naming_another_host_or_origin_are_refused() {
    let (app, handler) = app().await;
    let send = |host: Option<&'static str>, origin: Option<&'static str>| {
        let mut request = app
            .client
            .post(app.url("/api/chat"))
            .header("content-type", "application/json")
            .body(json!({"text": "/export"}).to_string());
        if let Some(host) = host {
            request = request.header("host", host);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let response = send(Some("attacker.example:8080"), None).await.unwrap();
    expect_error(response, 403).await;
    let response = send(None, Some("http://attacker.example")).await.unwrap();
    expect_error(response, 403).await;
    assert_eq!(handler.calls(), 0);

    for host in ["localhost:8080", "127.0.0.1", "[::1]:8080"] {
        let response = send(Some(host), Some("http://localhost:8080"))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{host}");
    }
    assert_eq!(handler.calls(), 3);
}

#[tokio::test]
async fn outside_desktop_mode_the_api_needs_the_token_and_a_known_host() {
    const TOKEN: &str = "a-local-api-token-of-at-least-32-characters";
    let handler = Arc::new(RecordingHandler::default());
    let mut state = test_state(handler.clone());
    state.local_is_admin = false;
    state.api_token = Some(super::ApiToken::new(TOKEN));
    state.allowed_hosts = vec!["chat.example.org".into()];
    let app = spawn(state).await;
    let send = |host: &'static str, authorization: Option<String>| {
        let mut request = app
            .client
            .post(app.url("/api/chat"))
            .header("content-type", "application/json")
            .header("host", host)
            .body(json!({"text": "hi"}).to_string());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send()
    };
    let response = send("localhost", None).await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    expect_error(response, 401).await;
    for wrong in [
        "Bearer wrong".to_string(),
        format!("Basic {TOKEN}"),
        format!("Bearer {TOKEN}x"),
        format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]),
    ] {
        expect_error(send("localhost", Some(wrong)).await.unwrap(), 401).await;
    }
    let config = app.client.get(app.url("/api/config")).send().await.unwrap();
    expect_error(config, 401).await;
    assert_eq!(handler.calls(), 0, "nothing reached the core");

    let response = send("evil.example", Some(format!("Bearer {TOKEN}")))
        .await
        .unwrap();
    expect_error(response, 403).await;
    assert_eq!(handler.calls(), 0);

    for host in ["localhost", "chat.example.org"] {
        let response = send(host, Some(format!("Bearer {TOKEN}"))).await.unwrap();
        assert_eq!(response.status(), 200, "{host}");
    }
    assert_eq!(handler.calls(), 2);
}

#[tokio::test]
async fn config_tells_the_page_its_companion_user_and_banner() {
    let handler = Arc::new(RecordingHandler::default());
    let mut state = test_state(handler);
    state.banner = Some("Demo data is deleted after 7 days".into());
    let app = spawn(state).await;
    let body: serde_json::Value = app
        .client
        .get(app.url("/api/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body,
        json!({
            "companion": "Elena",
            "user": "owner",
            "banner": "Demo data is deleted after 7 days",
            "chat_enabled": true
        })
    );
}

#[tokio::test]
async fn the_server_stops_when_shutdown_resolves() {
    let (mut app, _handler) = app().await;
    app.shutdown.take().unwrap().send(()).unwrap();
    let result = tokio::time::timeout(std::time::Duration::from_secs(5), &mut app.server)
        .await
        .expect("the server stopped in time");
    assert!(result.unwrap().is_ok());
}
