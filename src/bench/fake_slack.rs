//! The load bench's stand-in for the Slack Web API: a small axum server on 127.0.0.1 answering
//! `auth.test`, `users.info` (any user) and `chat.postMessage` the way Slack does (HTTP 200 with
//! `ok`, bearer token checked), so the host's slack-morphism client talks to it unchanged.
//!
//! Every bench message carries a unique Slack `ts`, and the host replies in the message's thread, so
//! a reply's `thread_ts` says which message it answers: the sender waiting on that `ts` is woken with
//! the arrival time, and posts per `ts` are counted to catch doubled replies.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// The bot token the hosts are given (and the fake insists on).
pub const BOT_TOKEN: &str = "xoxb-bench-0000-fake-bot-token";
/// The workspace every bench user belongs to.
pub const TEAM: &str = "T0BENCH01";
const BOT_USER: &str = "U0BENCHBOT";
const BOT_ID: &str = "B0BENCHBOT";

#[derive(Default)]
struct Recorded {
    /// Senders waiting for the reply to the message with this `ts`.
    waiting: HashMap<String, oneshot::Sender<Instant>>,
    /// Posts seen per answered `ts`.
    posts: HashMap<String, u64>,
}

#[derive(Default)]
struct FakeState {
    recorded: Mutex<Recorded>,
    /// Posts whose `thread_ts` named no bench message.
    unmatched: AtomicU64,
    /// Calls refused for a wrong or missing token.
    refused: AtomicU64,
    next_ts: AtomicU64,
}

/// The running fake; its server task ends when the bench process does.
pub struct FakeSlack {
    address: SocketAddr,
    state: Arc<FakeState>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeSlack {
    /// Binds 127.0.0.1 on a free port and starts answering.
    pub async fn start() -> std::io::Result<FakeSlack> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let state = Arc::new(FakeState::default());
        let app = Router::new()
            .route("/api/{method}", any(web_api))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "bench fake Slack stopped");
            }
        });
        Ok(FakeSlack {
            address,
            state,
            server,
        })
    }

    /// SLACK_API_URL for the hosts.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.address)
    }

    /// Registers interest in the reply to the message with `ts`; the receiver gets its arrival time.
    pub fn expect_reply(&self, ts: &str) -> oneshot::Receiver<Instant> {
        let (sender, receiver) = oneshot::channel();
        if let Ok(mut recorded) = self.state.recorded.lock() {
            recorded.waiting.insert(ts.to_string(), sender);
        }
        receiver
    }

    /// Forgets a message whose reply is no longer awaited (it is then counted as unmatched if it
    /// still comes).
    pub fn give_up(&self, ts: &str) {
        if let Ok(mut recorded) = self.state.recorded.lock() {
            recorded.waiting.remove(ts);
        }
    }

    /// Posts beyond the first for the same message (0 when nothing was answered twice).
    pub fn extra_posts(&self) -> u64 {
        self.state.recorded.lock().map_or(0, |recorded| {
            recorded.posts.values().map(|count| count - 1).sum()
        })
    }

    /// Posts that answered no bench message, plus calls refused for a bad token.
    pub fn stray_calls(&self) -> u64 {
        self.state.unmatched.load(Ordering::Relaxed) + self.state.refused.load(Ordering::Relaxed)
    }

    /// Clears the per-message records between runs.
    pub fn reset(&self) {
        if let Ok(mut recorded) = self.state.recorded.lock() {
            *recorded = Recorded::default();
        }
        self.state.unmatched.store(0, Ordering::Relaxed);
        self.state.refused.store(0, Ordering::Relaxed);
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A request's parameters: the query string, then a JSON or form body on top.
fn params_of(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Map<String, Value> {
    let mut params = Map::new();
    let mut add_form = |text: &[u8]| {
        for (key, value) in url::form_urlencoded::parse(text) {
            params.insert(key.into_owned(), Value::String(value.into_owned()));
        }
    };
    if let Some(query) = query {
        add_form(query.as_bytes());
    }
    let is_json = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json {
        if let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) {
            params.extend(object);
        }
    } else if !body.is_empty() {
        add_form(body);
    }
    params
}

async fn web_api(
    State(state): State<Arc<FakeState>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let arrived = Instant::now();
    let params = params_of(query.as_deref(), &headers, &body);
    let token = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if token != Some(BOT_TOKEN) {
        state.refused.fetch_add(1, Ordering::Relaxed);
        return Json(json!({"ok": false, "error": "invalid_auth"}));
    }
    let text = |key: &str| params.get(key).and_then(Value::as_str).unwrap_or_default();
    Json(match method.as_str() {
        "auth.test" => json!({
            "ok": true, "url": "https://bench.slack.com/", "team": "Bench", "user": "bench",
            "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": false
        }),
        "users.info" => {
            let user = text("user");
            json!({"ok": true, "user": {
                "id": user, "team_id": TEAM, "name": user.to_lowercase(), "deleted": false,
                "real_name": user, "tz": "Europe/Lisbon", "is_admin": false, "is_owner": false,
                "is_primary_owner": false, "is_restricted": false, "is_ultra_restricted": false,
                "is_bot": false, "is_app_user": false, "updated": 1_700_000_000,
                "profile": {"display_name": user, "real_name": user, "display_name_normalized": user, "team": TEAM}
            }})
        }
        "chat.postMessage" => {
            let thread = text("thread_ts").to_string();
            let waiting = state.recorded.lock().ok().and_then(|mut recorded| {
                let known =
                    recorded.posts.contains_key(&thread) || recorded.waiting.contains_key(&thread);
                if known {
                    *recorded.posts.entry(thread.clone()).or_default() += 1;
                }
                let waiting = recorded.waiting.remove(&thread);
                (known || waiting.is_some()).then_some(waiting)
            });
            match waiting {
                Some(Some(sender)) => {
                    let _ = sender.send(arrived);
                }
                Some(None) => {}
                None => {
                    state.unmatched.fetch_add(1, Ordering::Relaxed);
                }
            }
            let ts = format!(
                "1800000000.{:06}",
                state.next_ts.fetch_add(1, Ordering::Relaxed)
            );
            json!({
                "ok": true, "channel": text("channel"), "ts": ts,
                "message": {"type": "message", "subtype": "bot_message", "text": text("text"),
                            "user": BOT_USER, "bot_id": BOT_ID, "ts": ts, "team": TEAM}
            })
        }
        _ => json!({"ok": false, "error": "unknown_method"}),
    })
}
