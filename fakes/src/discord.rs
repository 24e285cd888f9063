//! A fake Discord on 127.0.0.1 for end-to-end tests of the Discord connector: the REST endpoints
//! serenity calls (gateway discovery, `/users/@me`, channel messages and typing, fetching one
//! message, command registration, interaction callbacks, webhook edits and follow-ups), recorded
//! for assertions, and
//! a gateway websocket speaking Discord's protocol: HELLO (op 10) → IDENTIFY (op 2) → READY and
//! GUILD_CREATE dispatches, heartbeats (op 1 → op 11), dispatches with sequence numbers, and
//! RESUME (op 6) → a replay of the events from the client's sequence on, starting
//! [`REPLAY_OVERLAP`] events early (events it already had, as a replay after a reconnect can
//! deliver) → RESUMED. Messages it dispatched (MESSAGE_CREATE), was sent or a test seeded
//! ([`FakeDiscord::seed_message`], sent while no bot was connected) are kept, so
//! `GET /channels/{channel}/messages/{message}` answers them as Discord would (10008 otherwise),
//! and so does a channel's history, `GET /channels/{channel}/messages` with `after`, `before`,
//! `limit` (newest first, without `guild_id` and `member` as Discord's REST answers; 10003 for an
//! unknown channel).
//!
//! It also answers `POST /v1/chat/completions` like an OpenAI-compatible LLM with a fixed long
//! markdown answer, for the reply-splitting test.
//!
//! Over 500 lines: a protocol-faithful fake: REST and gateway together, as serenity sees them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use crate::llm::StreamPace;
use crate::payloads;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite_021::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite_021::tungstenite::protocol::CloseFrame;
use tokio_tungstenite_021::tungstenite::Message as Frame;

/// How many already delivered events a RESUME replays (besides the missed ones).
pub const REPLAY_OVERLAP: u64 = 2;

/// The heartbeat interval HELLO announces, in milliseconds.
pub const HEARTBEAT_MS: u64 = 1500;

/// One REST request the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    /// The query string (`after=…&limit=…`), empty when none.
    pub query: String,
    pub authorization: Option<String>,
    pub body: Value,
    /// When the fake received it.
    pub at: Instant,
}

/// What the test tells the current gateway connection to do.
enum Outgoing {
    Send(Value),
    Close(u16),
}

#[derive(Default)]
struct State {
    token: String,
    gateway_url: String,
    calls: Vec<Call>,
    acknowledged: HashSet<String>,
    /// Every message the fake knows, by id: dispatched in MESSAGE_CREATE or sent by the bot.
    messages: HashMap<String, Value>,
    /// Ids of the messages the bot sent, in order, with their channel.
    sent: Vec<(String, String)>,
    /// Channels that exist: the guild's, and every channel a message was dispatched, seeded or
    /// sent to.
    channels: HashSet<String>,
    next_id: u64,
    llm_answer: String,
    /// Bodies of the LLM requests received.
    llm_requests: Vec<Value>,
    // Gateway.
    session_id: Option<String>,
    seq: u64,
    /// Dispatches that a RESUME replays: (sequence, full payload).
    replayable: Vec<(u64, Value)>,
    connection: Option<mpsc::UnboundedSender<Outgoing>>,
    connections: usize,
    identifies: Vec<Value>,
    /// The `seq` of each RESUME received.
    resumes: Vec<u64>,
    /// Sequence numbers of the dispatches sent again after a RESUME.
    replayed: Vec<u64>,
    heartbeats: usize,
    /// Close the gateway with 4014 (disallowed intents) when IDENTIFY asks for Message Content.
    refuse_message_content: bool,
    /// How the fake LLM streams when asked to (`stream: true`); whole answers when `None`.
    llm_stream: Option<StreamPace>,
    /// Enforce Discord's per-channel limit on message writes (posts and edits) with bucket
    /// headers and 429s.
    enforce_write_limit: bool,
    /// Per channel: when its current window started and the writes in it.
    write_windows: HashMap<String, (Instant, usize)>,
    /// Writes refused with 429.
    rate_limited: usize,
    /// Messages the bot posted with a nonce, by (channel, nonce): a post repeating the nonce with
    /// `enforce_nonce` gets the earlier message back, as Discord answers it.
    nonces: HashMap<(String, String), String>,
}

/// Message writes (posts and edits) allowed per channel in each [`WRITE_WINDOW`], as Discord's
/// per-channel bucket does.
pub const WRITES_PER_WINDOW: usize = 5;
/// The window of [`WRITES_PER_WINDOW`].
pub const WRITE_WINDOW: Duration = Duration::from_secs(5);

/// The fake: a REST server and a gateway server, sharing their state.
#[derive(Clone)]
pub struct FakeDiscord {
    pub rest: SocketAddr,
    pub gateway: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeDiscord {
    /// Starts both servers; `token` is the only bot token accepted.
    pub async fn start(token: &str) -> FakeDiscord {
        let rest_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let rest = rest_listener.local_addr().unwrap();
        let gateway = gateway_listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            gateway_url: format!("ws://{gateway}"),
            next_id: 1_900_000_000_000_000_000,
            channels: [payloads::GENERAL_CHANNEL, payloads::LISTED_CHANNEL]
                .into_iter()
                .map(str::to_string)
                .collect(),
            ..State::default()
        }));
        let fake = FakeDiscord {
            rest,
            gateway,
            state,
        };
        let for_rest = fake.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let fake = for_rest.clone();
                async move { fake.rest(method, uri, headers, body) }
            },
        );
        tokio::spawn(async move { axum::serve(rest_listener, app).await.unwrap() });
        let for_gateway = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = gateway_listener.accept().await else {
                    return;
                };
                tokio::spawn(for_gateway.clone().serve_connection(stream));
            }
        });
        fake
    }

    /// The value for DISCORD_API_URL.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.rest)
    }

    /// The value for LLM_BASE_URL (the fake's OpenAI-compatible endpoint).
    pub fn llm_url(&self) -> String {
        format!("http://{}/v1", self.rest)
    }

    /// Makes the gateway refuse the Message Content intent, as Discord does when it is not
    /// enabled in the developer portal.
    pub fn refuse_message_content(&self) {
        self.state.lock().unwrap().refuse_message_content = true;
    }

    /// Sets what the fake LLM answers.
    pub fn set_llm_answer(&self, answer: &str) {
        self.state.lock().unwrap().llm_answer = answer.to_string();
    }

    /// The system messages of the LLM requests received so far.
    pub fn llm_system_messages(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .llm_requests
            .iter()
            .map(|request| {
                request["messages"][0]["content"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    fn new_id(&self) -> String {
        let mut state = self.state.lock().unwrap();
        state.next_id += 1;
        state.next_id.to_string()
    }

    // --- REST ---------------------------------------------------------------------------------

    fn rest(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let path = uri.path().to_string();
        let authorization = headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if path == "/v1/chat/completions" {
            let mut state = self.state.lock().unwrap();
            let streamed = body["stream"] == json!(true);
            state.llm_requests.push(body);
            let answer = state.llm_answer.clone();
            if let (true, Some(pace)) = (streamed, state.llm_stream) {
                return crate::llm::stream_reply(answer, pace);
            }
            return Json(json!({
                "id": "chatcmpl-1", "object": "chat.completion", "model": "fake",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}]
            }))
            .into_response();
        }
        self.state.lock().unwrap().calls.push(Call {
            method: method.to_string(),
            path: path.clone(),
            query: uri.query().unwrap_or_default().to_string(),
            authorization: authorization.clone(),
            body: body.clone(),
            at: Instant::now(),
        });
        let segments: Vec<&str> = path.trim_start_matches("/api/v10/").split('/').collect();
        // Interaction callbacks and webhooks are authorised by the interaction token in the path.
        let needs_bot_token = !matches!(segments.first(), Some(&"interactions" | &"webhooks"));
        let expected = format!("Bot {}", self.state.lock().unwrap().token);
        if needs_bot_token && authorization.as_deref() != Some(expected.as_str()) {
            return error(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized");
        }
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["gateway"]) => {
                Json(json!({ "url": self.state.lock().unwrap().gateway_url })).into_response()
            }
            ("GET", ["gateway", "bot"]) => Json(json!({
                "url": self.state.lock().unwrap().gateway_url,
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
            }))
            .into_response(),
            ("GET", ["users", "@me"]) => {
                let mut user = payloads::bot_user();
                user["verified"] = json!(true);
                user["mfa_enabled"] = json!(false);
                user["flags"] = json!(0);
                Json(user).into_response()
            }
            ("POST", ["channels", _, "typing"]) => StatusCode::NO_CONTENT.into_response(),
            ("GET", ["channels", channel]) => {
                if !self.state.lock().unwrap().channels.contains(*channel) {
                    return error(StatusCode::NOT_FOUND, 10003, "Unknown Channel");
                }
                if *channel == payloads::GENERAL_CHANNEL {
                    Json(payloads::text_channel(channel, "general", 0)).into_response()
                } else if *channel == payloads::LISTED_CHANNEL {
                    Json(payloads::text_channel(channel, "companion", 1)).into_response()
                } else {
                    let recipient = payloads::user("80351110224678912", "ana", Some("Ana"), false);
                    Json(json!({"id": channel, "type": 1, "last_message_id": null, "flags": 0, "recipients": [recipient]}))
                        .into_response()
                }
            }
            ("GET", ["channels", channel, "messages"]) => {
                let query = uri.query().unwrap_or_default();
                match self.history(channel, query) {
                    Some(messages) => Json(Value::Array(messages)).into_response(),
                    None => error(StatusCode::NOT_FOUND, 10003, "Unknown Channel"),
                }
            }
            ("POST", ["channels", channel, "messages"]) => {
                let nonce = body["nonce"]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| body["nonce"].as_u64().map(|nonce| nonce.to_string()));
                if let (Some(nonce), true) = (&nonce, body["enforce_nonce"] == json!(true)) {
                    let state = self.state.lock().unwrap();
                    let earlier = state
                        .nonces
                        .get(&(channel.to_string(), nonce.clone()))
                        .and_then(|id| state.messages.get(id))
                        .cloned();
                    if let Some(earlier) = earlier {
                        return Json(earlier).into_response();
                    }
                }
                let headers = match self.take_write(channel) {
                    Ok(headers) => headers,
                    Err(refusal) => return *refusal,
                };
                let message = self.message_json(channel, &body);
                let id = message["id"].as_str().unwrap_or_default().to_string();
                let mut state = self.state.lock().unwrap();
                state.messages.insert(id.clone(), message.clone());
                state.channels.insert(channel.to_string());
                if let Some(nonce) = nonce {
                    state.nonces.insert((channel.to_string(), nonce), id.clone());
                }
                state.sent.push((channel.to_string(), id));
                with_headers(Json(message).into_response(), headers)
            }
            ("PATCH", ["channels", channel, "messages", id]) => {
                let known = self.state.lock().unwrap().messages.get(*id).cloned();
                let Some(mut message) = known.filter(|message| message["channel_id"] == *channel)
                else {
                    return error(StatusCode::NOT_FOUND, 10008, "Unknown Message");
                };
                let headers = match self.take_write(channel) {
                    Ok(headers) => headers,
                    Err(refusal) => return *refusal,
                };
                if let Some(content) = body.get("content") {
                    message["content"] = content.clone();
                }
                message["edited_timestamp"] = json!("2024-01-01T00:00:01.000000+00:00");
                self.state
                    .lock()
                    .unwrap()
                    .messages
                    .insert(id.to_string(), message.clone());
                with_headers(Json(message).into_response(), headers)
            }
            ("DELETE", ["channels", channel, "messages", id]) => {
                let mut state = self.state.lock().unwrap();
                let is_here = state
                    .messages
                    .get(*id)
                    .is_some_and(|message| message["channel_id"] == *channel);
                if !is_here {
                    return error(StatusCode::NOT_FOUND, 10008, "Unknown Message");
                }
                state.messages.remove(*id);
                StatusCode::NO_CONTENT.into_response()
            }
            ("GET", ["channels", channel, "messages", id]) => {
                let known = self.state.lock().unwrap().messages.get(*id).cloned();
                match known.filter(|message| message["channel_id"] == *channel) {
                    Some(message) => Json(message).into_response(),
                    None => error(StatusCode::NOT_FOUND, 10008, "Unknown Message"),
                }
            }
            ("PUT", ["applications", application, "commands"])
            | ("PUT", ["applications", application, "guilds", _, "commands"]) => {
                let registered: Vec<Value> = body
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|mut command| {
                        command["id"] = json!(self.new_id());
                        command["application_id"] = json!(application);
                        command["version"] = json!(self.new_id());
                        command["type"] = json!(1);
                        command
                    })
                    .collect();
                Json(Value::Array(registered)).into_response()
            }
            ("POST", ["interactions", id, _token, "callback"]) => {
                if self
                    .state
                    .lock()
                    .unwrap()
                    .acknowledged
                    .insert(id.to_string())
                {
                    StatusCode::NO_CONTENT.into_response()
                } else {
                    error(
                        StatusCode::BAD_REQUEST,
                        40060,
                        "Interaction has already been acknowledged.",
                    )
                }
            }
            ("PATCH", ["webhooks", _, _, "messages", "@original"])
            | ("POST", ["webhooks", _, _]) => {
                Json(self.message_json("1600000000000000999", &body)).into_response()
            }
            ("DELETE", ["webhooks", _, _, "messages", "@original"]) => {
                StatusCode::NO_CONTENT.into_response()
            }
            _ => error(StatusCode::NOT_FOUND, 0, "404: Not Found"),
        }
    }

    /// A channel's history as `GET /channels/{channel}/messages?{query}` answers it: at most
    /// `limit` (default 50, at most 100) messages, newest first; with `after`, the ones right
    /// after it, with `before`, the ones right before it. `None` for an unknown channel.
    fn history(&self, channel: &str, query: &str) -> Option<Vec<Value>> {
        let parameter = |name: &str| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| *key == name)
                .and_then(|(_, value)| value.parse::<u64>().ok())
        };
        let limit = parameter("limit").unwrap_or(50).clamp(1, 100) as usize;
        let after = parameter("after");
        let before = parameter("before");
        let state = self.state.lock().unwrap();
        if !state.channels.contains(channel) {
            return None;
        }
        let mut messages: Vec<(u64, Value)> = state
            .messages
            .values()
            .filter(|message| message["channel_id"] == channel)
            .filter_map(|message| Some((message["id"].as_str()?.parse().ok()?, message.clone())))
            .filter(|(id, _)| after.is_none_or(|after| *id > after))
            .filter(|(id, _)| before.is_none_or(|before| *id < before))
            .collect();
        messages.sort_by_key(|(id, _)| *id);
        let page: Vec<(u64, Value)> = if after.is_some() {
            messages.into_iter().take(limit).collect()
        } else {
            let skip = messages.len().saturating_sub(limit);
            messages.into_iter().skip(skip).collect()
        };
        Some(
            page.into_iter()
                .rev()
                .map(|(_, mut message)| {
                    if let Some(fields) = message.as_object_mut() {
                        fields.remove("guild_id");
                        fields.remove("member");
                    }
                    message
                })
                .collect(),
        )
    }

    /// Adds `message` (a message object, e.g. [`payloads::dm_message`]) to `channel` without
    /// dispatching it: a message sent while no bot was connected, found in the channel's history.
    pub fn seed_message(&self, channel: &str, mut message: Value) {
        message["channel_id"] = json!(channel);
        let id = message["id"].as_str().unwrap().to_string();
        let mut state = self.state.lock().unwrap();
        state.channels.insert(channel.to_string());
        state.messages.insert(id, message);
    }

    /// `GET /channels/{channel}/messages` (history) calls so far, in any channel.
    pub fn history_requests(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|call| {
                call.method == "GET"
                    && call.path.starts_with("/api/v10/channels/")
                    && call.path.ends_with("/messages")
            })
            .collect()
    }

    /// The message object Discord answers a send with.
    fn message_json(&self, channel: &str, body: &Value) -> Value {
        let content = body["content"].as_str().unwrap_or_default();
        let mut message =
            payloads::dm_message(&self.new_id(), channel, payloads::bot_user(), content);
        // Discord echoes the nonce it was sent, and the message a reply refers to.
        message["nonce"] = body["nonce"].clone();
        if let Some(reference) = body.get("message_reference") {
            message["message_reference"] = reference.clone();
        }
        message
    }

    /// The messages the bot created (a post whose enforced nonce returned an earlier message
    /// created none), oldest first, as Discord keeps them.
    pub fn sent_messages(&self) -> Vec<Value> {
        let state = self.state.lock().unwrap();
        state
            .sent
            .iter()
            .filter_map(|(_, id)| state.messages.get(id).cloned())
            .collect()
    }

    /// Makes the fake LLM stream its answer at `pace` when asked to.
    pub fn stream_llm_answers(&self, pace: StreamPace) {
        self.state.lock().unwrap().llm_stream = Some(pace);
    }

    /// Makes message writes count against Discord's per-channel bucket: answers carry
    /// `X-RateLimit-*` headers and writes past the bucket get 429.
    pub fn enforce_write_limit(&self) {
        self.state.lock().unwrap().enforce_write_limit = true;
    }

    /// Message writes refused with 429 so far.
    pub fn rate_limited(&self) -> usize {
        self.state.lock().unwrap().rate_limited
    }

    /// The contents of the bot's messages in `channel` that still exist, oldest first.
    pub fn bot_messages_in(&self, channel: &str) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .sent
            .iter()
            .filter(|(to, _)| to == channel)
            .filter_map(|(_, id)| state.messages.get(id))
            .map(|message| message["content"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Edits of messages in `channel` (`PATCH /channels/{channel}/messages/{id}`) so far.
    pub fn edits_in(&self, channel: &str) -> Vec<Call> {
        let prefix = format!("/api/v10/channels/{channel}/messages/");
        self.calls()
            .into_iter()
            .filter(|call| call.method == "PATCH" && call.path.starts_with(&prefix))
            .collect()
    }

    /// Counts one message write in `channel`: the bucket headers to answer with, or the 429.
    fn take_write(&self, channel: &str) -> Result<Vec<(&'static str, String)>, Box<Response>> {
        let mut state = self.state.lock().unwrap();
        if !state.enforce_write_limit {
            return Ok(Vec::new());
        }
        let now = Instant::now();
        let window = state
            .write_windows
            .entry(channel.to_string())
            .or_insert((now, 0));
        if now.duration_since(window.0) >= WRITE_WINDOW {
            *window = (now, 0);
        }
        let reset_after = WRITE_WINDOW.saturating_sub(now.duration_since(window.0));
        let headers = |remaining: usize| {
            vec![
                ("x-ratelimit-limit", WRITES_PER_WINDOW.to_string()),
                ("x-ratelimit-remaining", remaining.to_string()),
                (
                    "x-ratelimit-reset-after",
                    format!("{:.3}", reset_after.as_secs_f64()),
                ),
                ("x-ratelimit-bucket", format!("messages-{channel}")),
            ]
        };
        if window.1 >= WRITES_PER_WINDOW {
            state.rate_limited += 1;
            let body = json!({
                "message": "You are being rate limited.",
                "retry_after": reset_after.as_secs_f64(),
                "global": false
            });
            let response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
            return Err(Box::new(with_headers(response, headers(0))));
        }
        window.1 += 1;
        Ok(headers(WRITES_PER_WINDOW - window.1))
    }

    /// Ids of the messages the bot sent to `channel`, in order.
    pub fn sent_message_ids(&self, channel: &str) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .sent
            .iter()
            .filter(|(to, _)| to == channel)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// `GET /channels/{channel}/messages/{id}` calls so far (the bot fetching a message).
    pub fn message_fetches(&self, channel: &str, id: &str) -> usize {
        let path = format!("/api/v10/channels/{channel}/messages/{id}");
        self.calls()
            .iter()
            .filter(|call| call.method == "GET" && call.path == path)
            .count()
    }

    /// Every REST call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// Messages posted to `channel` (`POST /channels/{channel}/messages`).
    pub fn messages_to(&self, channel: &str) -> Vec<Call> {
        let path = format!("/api/v10/channels/{channel}/messages");
        self.calls()
            .into_iter()
            .filter(|call| call.method == "POST" && call.path == path)
            .collect()
    }

    /// Calls answering the interaction with `id` and `token`: the callback, edits and follow-ups.
    pub fn interaction_calls(&self, id: &str, token: &str) -> Vec<Call> {
        let callback = format!("/api/v10/interactions/{id}/{token}/callback");
        self.calls()
            .into_iter()
            .filter(|call| call.path == callback || call.path.contains(&format!("/{token}")))
            .collect()
    }

    /// Waits (up to 15 s) until `condition` holds for the fake's calls; panics naming `what`.
    pub async fn wait_until(&self, what: &str, condition: impl Fn(&FakeDiscord) -> bool) {
        for _ in 0..300 {
            if condition(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}; calls: {:#?}", self.calls());
    }

    /// Waits for `count` messages in `channel`, then a little more to catch any extra.
    pub async fn wait_for_messages(&self, channel: &str, count: usize) -> Vec<Call> {
        self.wait_until(&format!("{count} message(s) in {channel}"), |fake| {
            fake.messages_to(channel).len() >= count
        })
        .await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        self.messages_to(channel)
    }

    /// Waits for the edit of the interaction's deferred answer and returns its body.
    pub async fn wait_for_answer(&self, id: &str, token: &str) -> Value {
        let is_answer = |call: &Call| {
            call.path.contains(&format!("/{token}")) && !call.path.ends_with("/callback")
        };
        self.wait_until(&format!("an answer to interaction {id}"), |fake| {
            fake.interaction_calls(id, token).iter().any(is_answer)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.interaction_calls(id, token)
            .into_iter()
            .find(|call| is_answer(call))
            .map(|call| call.body)
            .unwrap_or_default()
    }

    // --- Gateway ------------------------------------------------------------------------------

    /// Waits until a client identified and registered its commands (the bot is fully up).
    pub async fn wait_until_ready(&self) {
        self.wait_until("IDENTIFY and command registration", |fake| {
            !fake.identifies().is_empty()
                && fake
                    .calls()
                    .iter()
                    .any(|call| call.method == "PUT" && call.path.ends_with("/commands"))
        })
        .await;
    }

    pub fn identifies(&self) -> Vec<Value> {
        self.state.lock().unwrap().identifies.clone()
    }

    pub fn resumes(&self) -> Vec<u64> {
        self.state.lock().unwrap().resumes.clone()
    }

    pub fn replayed(&self) -> Vec<u64> {
        self.state.lock().unwrap().replayed.clone()
    }

    pub fn heartbeats(&self) -> usize {
        self.state.lock().unwrap().heartbeats
    }

    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    /// Sends a dispatch (op 0) of type `kind` on the live connection; returns its sequence number.
    pub fn dispatch(&self, kind: &str, data: Value) -> u64 {
        let mut state = self.state.lock().unwrap();
        state.seq += 1;
        let seq = state.seq;
        if kind == "MESSAGE_CREATE" {
            if let Some(id) = data["id"].as_str() {
                state.messages.insert(id.to_string(), data.clone());
            }
            if let Some(channel) = data["channel_id"].as_str() {
                state.channels.insert(channel.to_string());
            }
        }
        let payload = json!({ "op": 0, "t": kind, "s": seq, "d": data });
        state.replayable.push((seq, payload.clone()));
        if let Some(connection) = &state.connection {
            let _ = connection.send(Outgoing::Send(payload));
        }
        state.seq
    }

    /// Closes the live connection with code 4000 ("unknown error: reconnect"), as Discord does.
    pub fn drop_connection(&self) {
        if let Some(connection) = self.state.lock().unwrap().connection.take() {
            let _ = connection.send(Outgoing::Close(4000));
        }
    }

    async fn serve_connection(self, stream: tokio::net::TcpStream) {
        let Ok(socket) = tokio_tungstenite_021::accept_async(stream).await else {
            return;
        };
        let (mut sink, mut source) = socket.split();
        let (sender, mut outgoing) = mpsc::unbounded_channel();
        {
            let mut state = self.state.lock().unwrap();
            state.connections += 1;
            state.connection = Some(sender.clone());
        }
        let hello =
            json!({"op": 10, "s": null, "t": null, "d": {"heartbeat_interval": HEARTBEAT_MS}});
        if sink.send(Frame::text(hello.to_string())).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                frame = source.next() => {
                    let Some(Ok(frame)) = frame else { return };
                    let Frame::Text(text) = frame else { continue };
                    let Ok(payload) = serde_json::from_str::<Value>(&text) else { continue };
                    for reply in self.answer(&payload) {
                        let _ = sender.send(reply);
                    }
                }
                command = outgoing.recv() => {
                    match command {
                        Some(Outgoing::Send(payload)) => {
                            if sink.send(Frame::text(payload.to_string())).await.is_err() {
                                return;
                            }
                        }
                        Some(Outgoing::Close(code)) => {
                            let frame = CloseFrame { code: CloseCode::from(code), reason: "Unknown error".into() };
                            let _ = sink.send(Frame::Close(Some(frame))).await;
                            return;
                        }
                        None => return,
                    }
                }
            }
        }
    }

    /// What the gateway sends back for one client payload.
    fn answer(&self, payload: &Value) -> Vec<Outgoing> {
        let mut state = self.state.lock().unwrap();
        let expected = format!("Bot {}", state.token);
        match payload["op"].as_u64() {
            Some(1) => {
                state.heartbeats += 1;
                vec![Outgoing::Send(
                    json!({"op": 11, "s": null, "t": null, "d": null}),
                )]
            }
            Some(2) => {
                state.identifies.push(payload["d"].clone());
                if payload["d"]["token"].as_str() != Some(expected.as_str()) {
                    return vec![Outgoing::Close(4004)];
                }
                let intents = payload["d"]["intents"].as_u64().unwrap_or(0);
                if state.refuse_message_content && intents & (1 << 15) != 0 {
                    return vec![Outgoing::Close(4014)];
                }
                let session = format!("session-{}", state.identifies.len());
                state.session_id = Some(session.clone());
                let resume_url = state.gateway_url.clone();
                let mut replies = Vec::new();
                for (kind, data) in [
                    ("READY", payloads::ready(&session, &resume_url)),
                    ("GUILD_CREATE", payloads::guild_create()),
                ] {
                    state.seq += 1;
                    replies.push(Outgoing::Send(
                        json!({"op": 0, "t": kind, "s": state.seq, "d": data}),
                    ));
                }
                replies
            }
            Some(6) => {
                let data = &payload["d"];
                let from = data["seq"].as_u64().unwrap_or(0);
                state.resumes.push(from);
                let is_known = data["token"].as_str() == Some(expected.as_str())
                    && data["session_id"].as_str() == state.session_id.as_deref();
                if !is_known {
                    return vec![Outgoing::Send(
                        json!({"op": 9, "s": null, "t": null, "d": false}),
                    )];
                }
                let replay: Vec<(u64, Value)> = state
                    .replayable
                    .iter()
                    .filter(|(seq, _)| *seq + REPLAY_OVERLAP > from)
                    .cloned()
                    .collect();
                let mut replies = Vec::new();
                for (seq, payload) in replay {
                    state.replayed.push(seq);
                    replies.push(Outgoing::Send(payload));
                }
                state.seq += 1;
                replies.push(Outgoing::Send(
                    json!({"op": 0, "t": "RESUMED", "s": state.seq, "d": {}}),
                ));
                replies
            }
            _ => Vec::new(),
        }
    }
}

fn with_headers(mut response: Response, headers: Vec<(&'static str, String)>) -> Response {
    for (name, value) in headers {
        if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn error(status: StatusCode, code: u64, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}
