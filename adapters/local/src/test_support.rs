//! Test helpers for the local chat's routes: an echoing stand-in for the core that records what
//! reached it, and the routes served on 127.0.0.1:0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{routes, LocalState};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use whisperengine_contract::{
    Capabilities, Card, EventHandler, HandlerOutcome, InboundEvent, OutboundReply, ReplySink,
};

/// Echoes messages and commands back, and records every event it was given.
#[derive(Default)]
pub struct RecordingHandler {
    pub events: Mutex<Vec<InboundEvent>>,
}

impl RecordingHandler {
    pub fn calls(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    pub fn last(&self) -> InboundEvent {
        self.events
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("an event reached the handler")
    }
}

#[async_trait::async_trait]
impl EventHandler for RecordingHandler {
    async fn handle(&self, event: InboundEvent, _capabilities: Capabilities) -> HandlerOutcome {
        self.events.lock().unwrap().push(event.clone());
        match event {
            InboundEvent::Message(message) => match message.text.as_str() {
                "say it twice" => HandlerOutcome::Duplicate,
                "not for you" => HandlerOutcome::Ignored("not addressed"),
                "show a card" => HandlerOutcome::Reply(
                    OutboundReply::text("Here you go").with_card(
                        Card::new("Sync status")
                            .field("Linked", "2 accounts", true)
                            .footer("as of now"),
                    ),
                ),
                text => HandlerOutcome::Reply(OutboundReply::text(format!("echo: {text}"))),
            },
            InboundEvent::Command(command) => HandlerOutcome::Reply(OutboundReply::text(format!(
                "command {} {:?}",
                command.name, command.args
            ))),
        }
    }

    /// `stream <words>` is written word by word into the sink, then answered with the words (and
    /// `, finally` when the words end in `change`, a final reply that differs from the stream).
    async fn handle_streaming(
        &self,
        event: InboundEvent,
        capabilities: Capabilities,
        sink: std::sync::Arc<dyn ReplySink>,
    ) -> HandlerOutcome {
        let words = match &event {
            InboundEvent::Message(message) => {
                message.text.strip_prefix("stream ").map(str::to_string)
            }
            InboundEvent::Command(_) => None,
        };
        let Some(words) = words else {
            return self.handle(event, capabilities).await;
        };
        self.events.lock().unwrap().push(event);
        for (index, word) in words.split(' ').enumerate() {
            sink.push(&if index == 0 {
                word.to_string()
            } else {
                format!(" {word}")
            });
            tokio::task::yield_now().await;
        }
        let reply = if words.ends_with("change") {
            format!("{words}, finally")
        } else {
            words
        };
        HandlerOutcome::Reply(OutboundReply::text(reply))
    }
}

/// Settings of a test host; tweak before `spawn`.
pub fn test_state(handler: Arc<RecordingHandler>) -> LocalState {
    LocalState {
        inbox: None,
        handler,
        local_user: "owner".into(),
        local_is_admin: true,
        chat_enabled: true,
        api_token: None,
        allowed_hosts: Vec::new(),
        banner: None,
        companion_name: "Elena".into(),
        max_message_chars: 100,
        stream_replies: true,
    }
}

/// A running test server.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    /// Dropping it (or sending) shuts the server down.
    pub shutdown: Option<oneshot::Sender<()>>,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// POSTs a raw body to `/api/chat` with the given content type.
    pub async fn post_chat_raw(
        &self,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = self.client.post(self.url("/api/chat")).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send().await.unwrap()
    }

    /// POSTs a JSON value to `/api/chat`.
    pub async fn post_chat(&self, body: serde_json::Value) -> reqwest::Response {
        self.post_chat_raw(Some("application/json"), body.to_string())
            .await
    }
}

/// Serves `routes(state)` on 127.0.0.1:0.
pub async fn spawn(state: LocalState) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, receiver) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, routes(state))
            .with_graceful_shutdown(async move {
                let _ = receiver.await;
            })
            .await
    });
    TestApp {
        base_url: format!("http://{address}"),
        client: reqwest::Client::new(),
        shutdown: Some(sender),
        server,
    }
}

/// The `error` of a refused request, after checking its status.
pub async fn expect_error(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let body: serde_json::Value = response.json().await.expect("a JSON error body");
    body["error"]
        .as_str()
        .expect("an `error` string")
        .to_string()
}
