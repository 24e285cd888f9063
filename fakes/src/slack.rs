//! A fake Slack on 127.0.0.1 for end-to-end tests and the load bench: the Web API methods the
//! connector calls (`chat.postMessage`, `chat.update`, `chat.delete`, `chat.startStream`,
//! `chat.appendStream`, `chat.stopStream`, `chat.postEphemeral`, `users.info`, `auth.test`,
//! `apps.connections.open`), a slash command `response_url`, and a Socket Mode websocket endpoint
//! (tokio-tungstenite).
//!
//! It answers the way Slack does: HTTP 200 with `{"ok": false, "error": …}` for refused calls, 429
//! with `Retry-After` when told to rate limit, tokens checked per method (bot token for the Web API,
//! app-level token for `apps.connections.open`). Every call is recorded with its parameters (JSON or
//! form body, or the query string of a GET such as `users.info?user=…`).
//!
//! For the load bench, two opt-ins: `users.info` answers any user id, not only the members added
//! with [`FakeSlack::add_user`] ([`FakeSlack::answer_any_user`], or [`FakeSlack::start_open`]); and
//! replies are matched to the message they answer. The host replies in the message's thread, so a
//! `chat.postMessage` whose `thread_ts` is the `ts` of a message awaited with
//! [`FakeSlack::expect_reply`] wakes its receiver with the arrival time, and posts per awaited `ts`
//! are counted to catch doubled replies ([`FakeSlack::extra_posts`], [`FakeSlack::stray_calls`]).
//!
//! Over 500 lines: a protocol-faithful fake: the Web API, Socket Mode and the bench's reply
//! matching together, as slack-morphism sees them, with the tests of its own bookkeeping.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a broken fake should fail loudly

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

pub const BOT_TOKEN: &str = "xoxb-1111-2222-fake-bot-token";
pub const APP_TOKEN: &str = "xapp-1-A0TEST-3333-fake-app-token";
pub const TEAM: &str = "T0TEST001";
pub const BOT_USER: &str = "U0BOT0001";
pub const BOT_ID: &str = "B0BOT0001";

/// One Web API request the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub http_method: String,
    /// The bearer token (or `token` parameter) it carried.
    pub token: Option<String>,
    /// Body (JSON or form) and query parameters, as a JSON object.
    pub params: Value,
    /// Whether the fake answered `ok: true`.
    pub ok: bool,
}

/// A failure to answer the next call of a method with.
#[derive(Debug, Clone)]
pub enum Failure {
    /// HTTP 429 with `Retry-After: seconds`.
    RateLimited(u64),
    /// HTTP 200 with `{"ok": false, "error": code}`.
    Error(&'static str),
}

#[derive(Default)]
struct FakeState {
    websocket_url: String,
    calls: Vec<Call>,
    users: HashMap<String, Value>,
    failures: HashMap<String, VecDeque<Failure>>,
    /// Senders to the connected websockets, in connection order.
    sockets: Vec<mpsc::UnboundedSender<String>>,
    /// Frames received from the client over the websockets (acknowledgements).
    acks: Vec<Value>,
    /// Whether `users.info` answers any user id (not only the added ones).
    answers_any_user: bool,
    /// Receivers of the reply to the message with this `ts`, still waiting.
    awaited: HashMap<String, oneshot::Sender<Instant>>,
    /// `chat.postMessage` calls seen per awaited `ts`.
    posts: HashMap<String, u64>,
    /// `chat.postMessage` calls whose `thread_ts` named no awaited message.
    unmatched: u64,
    /// Calls refused for a wrong or missing token.
    refused: u64,
    /// The bot's messages by `ts`, in posting order (posted, updated, streamed, deleted).
    messages: Vec<BotMessage>,
    /// `chat.startStream` answers this error (a workspace where streaming is not available).
    refuse_streams: bool,
    /// People's messages in the conversations' history (`conversations.history` / `.replies`),
    /// as Slack lists them, with their `channel`.
    history: Vec<Value>,
    /// The last `ts` handed out, as (seconds, sequence).
    last_ts: (u64, u64),
}

/// A message the bot posted or streamed, as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotMessage {
    pub ts: String,
    pub channel: String,
    pub thread_ts: Option<String>,
    /// mrkdwn text, or the markdown streamed so far.
    pub text: String,
    /// Whether it was written by `chat.startStream`.
    pub streamed: bool,
    /// A stream not stopped yet.
    pub streaming: bool,
    pub deleted: bool,
    /// The message metadata it was posted, updated or stopped with (`event_type`, `event_payload`).
    pub metadata: Option<Value>,
}

impl FakeState {
    /// Counts a delivered `chat.postMessage` in the thread `thread_ts` (arrived at `arrived`) and
    /// wakes whoever awaits the reply to that message.
    fn match_reply(&mut self, thread_ts: &str, arrived: Instant) {
        let is_known = self.posts.contains_key(thread_ts) || self.awaited.contains_key(thread_ts);
        if !is_known {
            self.unmatched += 1;
            return;
        }
        *self.posts.entry(thread_ts.to_string()).or_default() += 1;
        if let Some(receiver) = self.awaited.remove(thread_ts) {
            let _ = receiver.send(arrived);
        }
    }
}

/// The running fake.
pub struct FakeSlack {
    pub address: SocketAddr,
    state: Arc<Mutex<FakeState>>,
}

impl FakeSlack {
    /// Binds two free ports on 127.0.0.1 (Web API, Socket Mode) and starts answering; panics when
    /// it cannot.
    pub async fn start() -> FakeSlack {
        FakeSlack::try_start()
            .await
            .expect("the fake Slack binds 127.0.0.1")
    }

    /// [`FakeSlack::start`], answering `users.info` for any user id (the load bench's users are
    /// never added), and an error instead of a panic when it cannot bind.
    pub async fn start_open() -> std::io::Result<FakeSlack> {
        let fake = FakeSlack::try_start().await?;
        fake.answer_any_user(true);
        Ok(fake)
    }

    /// [`FakeSlack::start`], with an error instead of a panic when it cannot bind.
    pub async fn try_start() -> std::io::Result<FakeSlack> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let websocket = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let websocket_address = websocket.local_addr()?;
        let state = Arc::new(Mutex::new(FakeState {
            websocket_url: format!("ws://{websocket_address}/link/?ticket=fake-ticket"),
            ..FakeState::default()
        }));
        let app = Router::new()
            .route("/api/{method}", any(web_api))
            .route("/respond/{id}", post(response_url))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        tokio::spawn(accept_websockets(websocket, state.clone()));
        Ok(FakeSlack { address, state })
    }

    /// SLACK_API_URL for the host.
    pub fn api_url(&self) -> url::Url {
        format!("http://{}/api", self.address).parse().unwrap()
    }

    /// A slash command `response_url` pointing at this fake.
    pub fn response_url(&self) -> String {
        format!("http://{}/respond/T0TEST001-1234", self.address)
    }

    /// A `/whisper <text>` slash command from `user` in `channel` (a `D…` channel is their DM with
    /// the app, a `G…` one a private group), as the form body Slack posts.
    pub fn slash_form(&self, user: &str, channel: &str, text: &str, trigger: &str) -> String {
        let channel_name = match channel.chars().next() {
            Some('D') => "directmessage",
            Some('G') => "privategroup",
            _ => "general",
        };
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", "gIkuvaNzQIHg97ATvDxqgjtO")
            .append_pair("team_id", TEAM)
            .append_pair("team_domain", "whisper-test")
            .append_pair("channel_id", channel)
            .append_pair("channel_name", channel_name)
            .append_pair("user_id", user)
            .append_pair("user_name", "someone")
            .append_pair("command", "/whisper")
            .append_pair("text", text)
            .append_pair("api_app_id", "A0TEST")
            .append_pair("is_enterprise_install", "false")
            .append_pair("response_url", &self.response_url())
            .append_pair("trigger_id", trigger)
            .finish()
    }

    /// Adds a workspace member `users.info` knows.
    pub fn add_user(&self, id: &str, display_name: &str, is_admin: bool) {
        let user = member(id, display_name, is_admin);
        self.state
            .lock()
            .unwrap()
            .users
            .insert(id.to_string(), user);
    }

    /// Adds another app's bot user (`is_bot: true` in `users.info`).
    pub fn add_bot_user(&self, id: &str, display_name: &str) {
        self.add_user(id, display_name, false);
        if let Some(user) = self.state.lock().unwrap().users.get_mut(id) {
            user["is_bot"] = Value::Bool(true);
        }
    }

    /// Makes the next call of `method` fail with `failure` (queued in order).
    pub fn fail_next(&self, method: &str, failure: Failure) {
        self.state
            .lock()
            .unwrap()
            .failures
            .entry(method.to_string())
            .or_default()
            .push_back(failure);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The bot's messages in `channel` that were not deleted, in posting order.
    pub fn bot_messages(&self, channel: &str) -> Vec<BotMessage> {
        self.state
            .lock()
            .unwrap()
            .messages
            .iter()
            .filter(|message| message.channel == channel && !message.deleted)
            .cloned()
            .collect()
    }

    /// Makes `chat.startStream` answer `method_not_supported_for_channel_type`.
    pub fn refuse_streams(&self) {
        self.state.lock().unwrap().refuse_streams = true;
    }

    /// Calls of `method` that were answered `ok: true`.
    pub fn delivered(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|call| call.method == method && call.ok)
            .collect()
    }

    /// Waits until `count` calls of `method` were answered `ok` (or 10 s), then a little longer to
    /// catch extras, and returns them all.
    pub async fn wait_for(&self, method: &str, count: usize) -> Vec<Call> {
        for _ in 0..200 {
            if self.delivered(method).len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.delivered(method)
    }

    /// Adds a person's message to `channel`'s history (what `conversations.history` lists): `ts`,
    /// `user`, `text`, and `thread_ts` for a reply in a thread.
    pub fn add_history_message(
        &self,
        channel: &str,
        ts: &str,
        user: &str,
        text: &str,
        thread_ts: Option<&str>,
    ) {
        let mut message = json!({
            "type": "message", "user": user, "text": text, "ts": ts, "team": TEAM,
            "channel": channel,
        });
        if let Some(thread_ts) = thread_ts {
            message["thread_ts"] = json!(thread_ts);
        }
        self.state.lock().unwrap().history.push(message);
    }

    /// Adds any message object (a bot's, a channel join) to `channel`'s history as given.
    pub fn add_history_raw(&self, channel: &str, mut message: Value) {
        message["channel"] = json!(channel);
        self.state.lock().unwrap().history.push(message);
    }

    /// Waits until `count` websockets are connected (or 10 s); returns how many are.
    pub async fn wait_for_sockets(&self, count: usize) -> usize {
        for _ in 0..200 {
            if self.state.lock().unwrap().sockets.len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.state.lock().unwrap().sockets.len()
    }

    /// Sends a frame to the first open websocket, as Slack delivers each envelope to one
    /// connection; false when none is open (the client is away: Slack would deliver it later).
    pub fn try_send_frame(&self, frame: &Value) -> bool {
        let state = self.state.lock().unwrap();
        state
            .sockets
            .iter()
            .any(|socket| socket.send(frame.to_string()).is_ok())
    }

    /// Whether an acknowledgement carrying `envelope_id` has arrived.
    pub fn acknowledged(&self, envelope_id: &str) -> bool {
        self.state
            .lock()
            .unwrap()
            .acks
            .iter()
            .any(|ack| ack["envelope_id"] == envelope_id)
    }

    /// Sends a frame to the first connected websocket, as Slack delivers each envelope to one
    /// connection.
    pub fn send_frame(&self, frame: &Value) {
        let state = self.state.lock().unwrap();
        let socket = state.sockets.first().expect("a connected websocket");
        socket.send(frame.to_string()).unwrap();
    }

    /// Whether `users.info` answers any user id: an unknown one as a member (not an admin) whose
    /// display name is the id. Off by default: only added users are found.
    pub fn answer_any_user(&self, answers: bool) {
        self.state.lock().unwrap().answers_any_user = answers;
    }

    /// Awaits the reply to the message with `ts`: the receiver gets the arrival time of the first
    /// delivered `chat.postMessage` whose `thread_ts` is `ts`.
    pub fn expect_reply(&self, ts: &str) -> oneshot::Receiver<Instant> {
        let (sender, receiver) = oneshot::channel();
        self.state
            .lock()
            .unwrap()
            .awaited
            .insert(ts.to_string(), sender);
        receiver
    }

    /// Stops awaiting the reply to the message with `ts` (a reply that still comes is then counted
    /// among the [`FakeSlack::stray_calls`]).
    pub fn give_up(&self, ts: &str) {
        self.state.lock().unwrap().awaited.remove(ts);
    }

    /// Posts beyond the first in the thread of an awaited message (0 when nothing was answered
    /// twice).
    pub fn extra_posts(&self) -> u64 {
        let state = self.state.lock().unwrap();
        state.posts.values().map(|count| count - 1).sum()
    }

    /// Posts that answered no awaited message, plus calls refused for a wrong or missing token.
    pub fn stray_calls(&self) -> u64 {
        let state = self.state.lock().unwrap();
        state.unmatched + state.refused
    }

    /// Forgets the recorded calls, the awaited replies and the counts (between bench runs); added
    /// users, queued failures and websockets stay.
    pub fn reset(&self) {
        let mut state = self.state.lock().unwrap();
        state.calls.clear();
        state.awaited.clear();
        state.posts.clear();
        state.unmatched = 0;
        state.refused = 0;
    }

    /// Waits (up to 10 s) for an acknowledgement frame carrying `envelope_id`.
    pub async fn wait_for_ack(&self, envelope_id: &str) -> Option<Value> {
        for _ in 0..200 {
            let found = self
                .state
                .lock()
                .unwrap()
                .acks
                .iter()
                .find(|ack| ack["envelope_id"] == envelope_id)
                .cloned();
            if found.is_some() {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

/// Reads a request's parameters: the query string, then a JSON or form body on top.
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
    let content_type = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/json") {
        if let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) {
            params.extend(object);
        }
    } else if !body.is_empty() {
        add_form(body);
    }
    params
}

async fn web_api(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    request_method: axum::http::Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrived = Instant::now();
    let params = params_of(query.as_deref(), &headers, &body);
    let token = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_string)
        .or_else(|| {
            params
                .get("token")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let mut state = state.lock().unwrap();
    let expected_token = if method == "apps.connections.open" {
        APP_TOKEN
    } else {
        BOT_TOKEN
    };
    let failure = state
        .failures
        .get_mut(&method)
        .and_then(VecDeque::pop_front);
    let (status, headers_out, answer) = if token.as_deref() != Some(expected_token) {
        state.refused += 1;
        (
            StatusCode::OK,
            None,
            json!({"ok": false, "error": "invalid_auth"}),
        )
    } else {
        match failure {
            Some(Failure::RateLimited(seconds)) => (
                StatusCode::TOO_MANY_REQUESTS,
                Some(seconds),
                json!({"ok": false, "error": "ratelimited"}),
            ),
            Some(Failure::Error(code)) => {
                (StatusCode::OK, None, json!({"ok": false, "error": code}))
            }
            None => (StatusCode::OK, None, answer(&mut state, &method, &params)),
        }
    };
    let ok = status == StatusCode::OK && answer["ok"] == true;
    if ok && (method == "chat.postMessage" || method == "chat.startStream") {
        let thread_ts = params
            .get("thread_ts")
            .and_then(Value::as_str)
            .unwrap_or_default();
        state.match_reply(thread_ts, arrived);
    }
    state.calls.push(Call {
        method,
        http_method: request_method.to_string(),
        token,
        params: Value::Object(params),
        ok,
    });
    let mut response = (status, Json(answer)).into_response();
    if let Some(seconds) = headers_out {
        response
            .headers_mut()
            .insert("retry-after", seconds.to_string().parse().unwrap());
    }
    response
}

/// The successful answer of a Web API method.
fn answer(state: &mut FakeState, method: &str, params: &Map<String, Value>) -> Value {
    // Like Slack's, a new message's `ts` is later than the thread it is posted in.
    if let Some(thread_ts) = params.get("thread_ts").and_then(Value::as_str) {
        state.last_ts = state.last_ts.max(ts_key(thread_ts));
    }
    let ts = state.new_ts();
    match method {
        "chat.postMessage" => {
            let channel = text_param(params, "channel");
            state.messages.push(BotMessage {
                ts: ts.clone(),
                channel,
                thread_ts: params
                    .get("thread_ts")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                text: text_param(params, "text"),
                streamed: false,
                streaming: false,
                deleted: false,
                metadata: metadata_param(params),
            });
            json!({
            "ok": true,
            "channel": params.get("channel").cloned().unwrap_or_default(),
            "ts": ts,
            "message": {"type": "message", "subtype": "bot_message", "text": params.get("text").cloned().unwrap_or_default(),
                        "user": BOT_USER, "bot_id": BOT_ID, "ts": ts, "team": TEAM}
            })
        }
        "chat.postEphemeral" => json!({"ok": true, "message_ts": ts}),
        "chat.update" | "chat.delete" | "chat.startStream" | "chat.appendStream"
        | "chat.stopStream" => state.write_message(method, params, &ts),
        "users.info" => {
            let user = params
                .get("user")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match state.users.get(user) {
                Some(user) => json!({"ok": true, "user": user}),
                None if state.answers_any_user && !user.is_empty() => {
                    json!({"ok": true, "user": member(user, user, false)})
                }
                None => json!({"ok": false, "error": "user_not_found"}),
            }
        }
        "auth.test" => json!({
            "ok": true, "url": "https://whisper-test.slack.com/", "team": "Whisper Test",
            "user": "elena", "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID,
            "is_enterprise_install": false
        }),
        "apps.connections.open" => json!({"ok": true, "url": state.websocket_url}),
        "conversations.history" | "conversations.replies" => state.history_of(method, params),
        _ => json!({"ok": false, "error": "unknown_method"}),
    }
}

/// The `metadata` parameter: a JSON object, or the JSON text of one (form posts).
fn metadata_param(params: &Map<String, Value>) -> Option<Value> {
    match params.get("metadata")? {
        Value::String(text) => serde_json::from_str(text).ok(),
        Value::Object(object) => Some(Value::Object(object.clone())),
        _ => None,
    }
}

/// A `ts` as (seconds, micro part), for ordering; (0, 0) when unreadable.
fn ts_key(ts: &str) -> (u64, u64) {
    let (seconds, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    (seconds.parse().unwrap_or(0), micros.parse().unwrap_or(0))
}

fn text_param(params: &Map<String, Value>, name: &str) -> String {
    params
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

impl FakeState {
    /// A new message `ts`: now, after every earlier one.
    fn new_ts(&mut self) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|since| since.as_secs())
            .unwrap_or(0);
        self.last_ts = if now > self.last_ts.0 {
            (now, 100)
        } else {
            (self.last_ts.0, self.last_ts.1 + 1)
        };
        format!("{}.{:06}", self.last_ts.0, self.last_ts.1)
    }

    /// `conversations.history` (top-level messages of `channel`, newest first) or
    /// `conversations.replies` (the thread `ts`: its parent, then its replies, oldest first), newer
    /// than `oldest`, at most `limit`; metadata only with `include_all_metadata=true`, as Slack
    /// answers.
    fn history_of(&self, method: &str, params: &Map<String, Value>) -> Value {
        let channel = text_param(params, "channel");
        if channel.is_empty() {
            return json!({"ok": false, "error": "channel_not_found"});
        }
        let oldest = ts_key(&text_param(params, "oldest"));
        let inclusive = text_param(params, "inclusive") == "true";
        let limit: usize = text_param(params, "limit").parse().unwrap_or(100);
        let with_metadata = text_param(params, "include_all_metadata") == "true";
        let thread = (method == "conversations.replies").then(|| text_param(params, "ts"));
        let bots = self
            .messages
            .iter()
            .filter(|message| message.channel == channel && !message.deleted)
            .map(|message| {
                let mut listed = json!({
                    "type": "message", "user": BOT_USER, "bot_id": BOT_ID, "text": message.text,
                    "ts": message.ts, "team": TEAM,
                });
                if let Some(thread_ts) = &message.thread_ts {
                    listed["thread_ts"] = json!(thread_ts);
                }
                if let (true, Some(metadata)) = (with_metadata, &message.metadata) {
                    listed["metadata"] = metadata.clone();
                }
                listed
            });
        let people = self
            .history
            .iter()
            .filter(|message| message["channel"] == channel.as_str())
            .map(|message| {
                let mut listed = message.clone();
                if let Some(object) = listed.as_object_mut() {
                    object.remove("channel");
                    if !with_metadata {
                        object.remove("metadata");
                    }
                }
                listed
            });
        let mut listed: Vec<Value> = bots
            .chain(people)
            .filter(|message| {
                let ts = message["ts"].as_str().unwrap_or_default();
                let parent = message["thread_ts"].as_str();
                let in_place = match &thread {
                    Some(thread) => ts == thread || parent == Some(thread.as_str()),
                    None => parent.is_none() || parent == Some(ts),
                };
                let key = ts_key(ts);
                in_place && (key > oldest || (inclusive && key == oldest))
            })
            .collect();
        listed.sort_by_key(|message| ts_key(message["ts"].as_str().unwrap_or_default()));
        if thread.is_none() {
            listed.reverse();
        }
        let has_more = listed.len() > limit;
        listed.truncate(limit);
        json!({"ok": true, "messages": listed, "has_more": has_more})
    }

    /// `chat.update`, `chat.delete` and the chat streams, as Slack answers them: the message must
    /// be the bot's and in `channel`; a stream is appended to or stopped only while it streams, and
    /// a streaming message is not updated; outside a DM a stream names its recipient.
    fn write_message(&mut self, method: &str, params: &Map<String, Value>, new_ts: &str) -> Value {
        let channel = text_param(params, "channel");
        if method == "chat.startStream" {
            if self.refuse_streams {
                return json!({"ok": false, "error": "method_not_supported_for_channel_type"});
            }
            let is_dm = channel.starts_with('D');
            let named = params.contains_key("recipient_user_id")
                && params.contains_key("recipient_team_id");
            if channel.is_empty() || (!is_dm && !named) {
                return json!({"ok": false, "error": "invalid_arguments"});
            }
            self.messages.push(BotMessage {
                ts: new_ts.to_string(),
                channel: channel.clone(),
                thread_ts: params
                    .get("thread_ts")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                text: text_param(params, "markdown_text"),
                streamed: true,
                streaming: true,
                deleted: false,
                metadata: None,
            });
            return json!({"ok": true, "channel": channel, "ts": new_ts});
        }
        let ts = text_param(params, "ts");
        let Some(message) = self
            .messages
            .iter_mut()
            .find(|message| message.ts == ts && message.channel == channel && !message.deleted)
        else {
            return json!({"ok": false, "error": "message_not_found"});
        };
        match method {
            "chat.update" if message.streaming => {
                return json!({"ok": false, "error": "cant_update_message"})
            }
            "chat.update" => {
                message.text = text_param(params, "text");
                if let Some(metadata) = metadata_param(params) {
                    message.metadata = Some(metadata);
                }
                return json!({
                    "ok": true, "channel": channel, "ts": ts, "text": message.text,
                    "message": {"type": "message", "text": message.text, "user": BOT_USER,
                                "bot_id": BOT_ID, "team": TEAM,
                                "edited": {"user": BOT_USER, "ts": new_ts}}
                });
            }
            "chat.delete" => message.deleted = true,
            "chat.appendStream" | "chat.stopStream" if !message.streaming => {
                return json!({"ok": false, "error": "message_not_in_streaming_state"})
            }
            "chat.appendStream" => message.text.push_str(&text_param(params, "markdown_text")),
            _ => {
                message.text.push_str(&text_param(params, "markdown_text"));
                message.streaming = false;
                if let Some(metadata) = metadata_param(params) {
                    message.metadata = Some(metadata);
                }
            }
        }
        json!({"ok": true, "channel": channel, "ts": ts})
    }
}

/// A workspace member as `users.info` describes one.
fn member(id: &str, display_name: &str, is_admin: bool) -> Value {
    json!({
        "id": id, "team_id": TEAM, "name": display_name.to_lowercase(), "deleted": false,
        "real_name": format!("{display_name} Real"), "tz": "Europe/Lisbon",
        "is_admin": is_admin, "is_owner": false, "is_primary_owner": false,
        "is_restricted": false, "is_ultra_restricted": false, "is_bot": false, "is_app_user": false,
        "updated": 1_700_000_000,
        "profile": {"display_name": display_name, "real_name": format!("{display_name} Real"),
                    "display_name_normalized": display_name, "team": TEAM}
    })
}

/// A slash command's response_url: records the message like a Web API call named `response_url`.
async fn response_url(
    State(state): State<Arc<Mutex<FakeState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let params = params_of(None, &headers, &body);
    state.lock().unwrap().calls.push(Call {
        method: "response_url".to_string(),
        http_method: "POST".to_string(),
        token: None,
        params: Value::Object(params),
        ok: true,
    });
    Json(json!({"ok": true}))
}

/// Accepts Socket Mode connections: each gets a `hello`, then the frames the test sends; whatever
/// the client sends back is recorded.
async fn accept_websockets(listener: tokio::net::TcpListener, state: Arc<Mutex<FakeState>>) {
    while let Ok((stream, _)) = listener.accept().await {
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let (mut sink, mut stream) = socket.split();
            let hello = json!({
                "type": "hello", "num_connections": 1,
                "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": "A0TEST"}
            });
            if sink.send(Message::text(hello.to_string())).await.is_err() {
                return;
            }
            let (sender, mut outgoing) = mpsc::unbounded_channel::<String>();
            state.lock().unwrap().sockets.push(sender.clone());
            loop {
                tokio::select! {
                    frame = outgoing.recv() => match frame {
                        Some(frame) => {
                            if sink.send(Message::text(frame)).await.is_err() {
                                break;
                            }
                        }
                        None => break,
                    },
                    incoming = stream.next() => match incoming {
                        Some(Ok(Message::Text(text))) => {
                            if let Ok(frame) = serde_json::from_str::<Value>(&text) {
                                state.lock().unwrap().acks.push(frame);
                            }
                        }
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => {}
                    },
                }
            }
            // A closed connection gets no more envelopes.
            state
                .lock()
                .unwrap()
                .sockets
                .retain(|open| !open.same_channel(&sender));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn call(fake: &FakeSlack, method: &str, token: &str, body: Value) -> Value {
        reqwest::Client::new()
            .post(format!("{}/{method}", fake.api_url()))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn post_in(thread_ts: &str) -> Value {
        json!({"channel": "D0001", "text": "hello", "thread_ts": thread_ts})
    }

    #[tokio::test]
    async fn users_info_knows_only_added_users_unless_told_to_answer_any() {
        let fake = FakeSlack::start().await;
        fake.add_user("U0KNOWN", "Known", false);
        let known = call(&fake, "users.info", BOT_TOKEN, json!({"user": "U0KNOWN"})).await;
        assert_eq!(known["user"]["profile"]["display_name"], "Known");
        let unknown = call(&fake, "users.info", BOT_TOKEN, json!({"user": "U0OTHER"})).await;
        assert_eq!(unknown["error"], "user_not_found");

        fake.answer_any_user(true);
        let any = call(&fake, "users.info", BOT_TOKEN, json!({"user": "U0OTHER"})).await;
        assert_eq!(any["ok"], true, "{any}");
        assert_eq!(any["user"]["id"], "U0OTHER");
        assert_eq!(any["user"]["team_id"], TEAM);
        let known = call(&fake, "users.info", BOT_TOKEN, json!({"user": "U0KNOWN"})).await;
        assert_eq!(known["user"]["profile"]["display_name"], "Known");
    }

    #[tokio::test]
    async fn a_reply_wakes_whoever_awaits_its_message_and_doubles_and_strays_are_counted() {
        let fake = FakeSlack::start_open().await.unwrap();
        let before = Instant::now();
        let reply = fake.expect_reply("1700000000.000001");
        let abandoned = fake.expect_reply("1700000000.000002");
        fake.give_up("1700000000.000002");
        drop(abandoned);

        call(
            &fake,
            "chat.postMessage",
            BOT_TOKEN,
            post_in("1700000000.000001"),
        )
        .await;
        let arrived = reply.await.expect("the reply was seen");
        assert!(arrived >= before);
        assert_eq!((fake.extra_posts(), fake.stray_calls()), (0, 0));

        // A second answer to the same message, one to a message given up on, one to nothing sent,
        // and one with another token.
        call(
            &fake,
            "chat.postMessage",
            BOT_TOKEN,
            post_in("1700000000.000001"),
        )
        .await;
        call(
            &fake,
            "chat.postMessage",
            BOT_TOKEN,
            post_in("1700000000.000002"),
        )
        .await;
        call(
            &fake,
            "chat.postMessage",
            BOT_TOKEN,
            post_in("1700000000.000009"),
        )
        .await;
        let refused = call(&fake, "auth.test", "xoxb-wrong", json!({})).await;
        assert_eq!(refused["error"], "invalid_auth");
        assert_eq!(fake.extra_posts(), 1);
        assert_eq!(fake.stray_calls(), 3);
        assert_eq!(fake.delivered("chat.postMessage").len(), 4);

        fake.reset();
        assert_eq!((fake.extra_posts(), fake.stray_calls()), (0, 0));
        assert!(fake.calls().is_empty());
    }
}
