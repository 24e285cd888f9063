//! A fake Bot Framework on 127.0.0.1 for end-to-end tests: the OpenID metadata and the JWKS (with
//! the test's RSA key) the connector verifies inbound tokens against, the token endpoint it gets
//! its own bearer token from (OAuth client credentials), and a connector (`/v3/…`) that records
//! everything the bot sends. Inbound tokens are minted here the way the Bot Framework signs them.
//!
//! It answers the way the Bot Framework does: 401 `invalid_client` for a token request with other
//! credentials than [`APP_ID`] / [`APP_PASSWORD`], `{"id": …}` for a connector request, and 401 to
//! the next message activities when told to ([`FakeBotFramework::refuse_next`]). The OpenID
//! metadata and JWKS answer 503 while told to ([`FakeBotFramework::set_keys_failing`]), and reads
//! of the signing keys are counted ([`FakeBotFramework::key_reads`]).
//!
//! Streaming (`streaminfo` entities) is checked the way Teams does: a `typing` activity with a
//! `streaminfo` and no `streamId` opens a stream and is answered with its id; updates must name an
//! open stream, grow `streamSequence`, carry text starting with the previous update's, and come
//! at least [`STREAM_UPDATE_GAP`] after the stream's previous request (else 429); the `final`
//! message ends the stream. Streaming outside a 1:1 chat (a conversation id not starting with
//! `a:`, as Teams' personal conversation ids do) is refused with 400. Refusals are recorded
//! ([`FakeBotFramework::rejections`]) and refused requests are not in [`BotFrameworkState::sent`].
//!
//! Over 500 lines: the token service, the keys and the connector with its streaming checks are
//! one fake service, as they are one service in production.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a broken fake should fail loudly

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use crate::unix_now;

/// The least time between two requests of one stream the fake takes (Teams: about one a second).
pub const STREAM_UPDATE_GAP: Duration = Duration::from_millis(900);

/// The bot's Microsoft App ID: the audience of inbound tokens and the token endpoint's client id.
pub const APP_ID: &str = "00000000-aaaa-bbbb-cccc-000000000001";
/// The client secret the token endpoint accepts.
pub const APP_PASSWORD: &str = "test-client-secret";
/// The key id of the signing key in the JWKS.
pub const KID: &str = "test-key-1";
/// The private key (DER) the Bot Framework signs inbound tokens with; its public half is the JWKS.
pub const SIGNING_KEY: &[u8] = include_bytes!("../../adapters/teams/tests/keys/bot_framework.der");
/// The scope the connector asks the token endpoint for.
const SCOPE: &str = "https://api.botframework.com/.default";
/// The issuer of inbound tokens (and of the OpenID metadata).
const ISSUER: &str = "https://api.botframework.com";

/// How the fake differs between tests.
#[derive(Debug, Clone)]
pub struct Options {
    /// The channels the signing key is endorsed for (the JWKS `endorsements`; `None`: no such
    /// field): the connector refuses a token for an activity whose `channelId` is not among them.
    pub endorsements: Option<Vec<String>>,
}

impl Default for Options {
    /// Endorsed for Teams, as the keys signing Teams traffic are.
    fn default() -> Options {
        Options {
            endorsements: Some(vec!["msteams".into()]),
        }
    }
}

/// A request the fake connector received.
#[derive(Debug, Clone)]
pub struct Sent {
    pub path: String,
    /// The `Authorization` header it carried ("" when none).
    pub authorization: String,
    pub body: Value,
}

/// What the fake saw; shared with its handlers.
#[derive(Default)]
pub struct BotFrameworkState {
    base: String,
    endorsements: Option<Vec<String>>,
    /// While set, the OpenID metadata and the JWKS answer 503.
    keys_failing: bool,
    /// Reads of the signing keys: requests for the OpenID metadata, where each read starts
    /// (answered or failed).
    pub key_reads: usize,
    /// Every connector request (messages and typing indicators), in arrival order.
    pub sent: Vec<Sent>,
    /// `replyToId` → messages (not typing indicators) sent in reply to that activity.
    pub replies: HashMap<String, usize>,
    /// Every token request's form, valid or not.
    pub token_requests: Vec<HashMap<String, String>>,
    /// Answer 401 to this many connector requests first (to test the token refresh).
    refuse_next: usize,
    /// Streams by id, in the order they were opened.
    pub streams: Vec<FakeStream>,
    /// Streaming requests refused, in arrival order.
    pub rejections: Vec<Rejection>,
    /// Streaming updates with at least this `streamSequence` are answered 503 (an outage, not a
    /// protocol refusal: not in `rejections`).
    fail_stream_updates_from: Option<u64>,
    /// Streaming updates answered 503 on purpose.
    pub failed_stream_updates: usize,
}

/// One stream the bot opened.
#[derive(Debug, Clone)]
pub struct FakeStream {
    pub id: String,
    pub conversation: String,
    /// The accepted `typing` updates (bodies), in order.
    pub updates: Vec<Value>,
    /// The `final` message that ended it, once it came.
    pub final_message: Option<Value>,
    last_sequence: u64,
    last_text: String,
    last_at: Instant,
    /// When the first update arrived (the stream opened).
    pub opened_at: Instant,
}

/// A streaming request the fake refused.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// 400 or 429.
    pub status: u16,
    /// Why, as the error body's message says.
    pub reason: String,
    pub body: Value,
}

/// The running fake: token service, OpenID metadata + JWKS, connector.
pub struct FakeBotFramework {
    pub address: SocketAddr,
    pub state: Arc<Mutex<BotFrameworkState>>,
}

impl FakeBotFramework {
    /// Starts the fake with [`Options::default`].
    pub async fn start() -> FakeBotFramework {
        FakeBotFramework::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> FakeBotFramework {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(BotFrameworkState {
            base: format!("http://{address}"),
            endorsements: options.endorsements,
            ..BotFrameworkState::default()
        }));
        let app = Router::new()
            .route("/openid", get(openid))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .route("/v3/{*rest}", post(connector))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeBotFramework { address, state }
    }

    /// The service URL activities carry (with the trailing `/` real traffic has).
    pub fn service_url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// The OpenID metadata URL (`TEAMS_OPENID_METADATA_URL`).
    pub fn openid_url(&self) -> String {
        format!("http://{}/openid", self.address)
    }

    /// The token endpoint (`TEAMS_TOKEN_URL`).
    pub fn token_url(&self) -> String {
        format!("http://{}/token", self.address)
    }

    /// Every connector request so far.
    pub fn sent(&self) -> Vec<Sent> {
        self.state.lock().unwrap().sent.clone()
    }

    /// Messages (not typing indicators) the bot sent.
    pub fn messages(&self) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|sent| sent.body["type"] == "message")
            .collect()
    }

    /// Waits until `count` messages arrived (or 10 s), then a little longer to catch extras.
    pub async fn wait_for_messages(&self, count: usize) -> Vec<Sent> {
        for _ in 0..200 {
            if self.messages().len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.messages()
    }

    /// How many token requests arrived (valid or not).
    pub fn token_requests(&self) -> usize {
        self.state.lock().unwrap().token_requests.len()
    }

    /// Answers the next `count` message activities posted to the connector with 401 (typing
    /// indicators pass, so when one is sent first depends on no timing).
    pub fn refuse_next(&self, count: usize) {
        self.state.lock().unwrap().refuse_next = count;
    }

    /// Makes the OpenID metadata and the JWKS answer 503 (`true`) or work again (`false`).
    pub fn set_keys_failing(&self, failing: bool) {
        self.state.lock().unwrap().keys_failing = failing;
    }

    /// Every stream the bot opened, with its updates and final message.
    pub fn streams(&self) -> Vec<FakeStream> {
        self.state.lock().unwrap().streams.clone()
    }

    /// Streaming requests refused (400, 429).
    pub fn rejections(&self) -> Vec<Rejection> {
        self.state.lock().unwrap().rejections.clone()
    }

    /// Answers streaming updates with `streamSequence` ≥ `sequence` with 503 from now on.
    pub fn fail_stream_updates_from(&self, sequence: u64) {
        self.state.lock().unwrap().fail_stream_updates_from = Some(sequence);
    }

    /// How many streaming updates were answered 503 on purpose.
    pub fn failed_stream_updates(&self) -> usize {
        self.state.lock().unwrap().failed_stream_updates
    }

    /// Accepted activities carrying a `streaminfo` entity (updates and finals), in order.
    pub fn streaming_activities(&self) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|sent| stream_info(&sent.body).is_some())
            .collect()
    }

    /// How many reads of the signing keys started (OpenID metadata requests), answered or not.
    pub fn key_reads(&self) -> usize {
        self.state.lock().unwrap().key_reads
    }
}

/// Starts a fake with [`Options::default`] and returns its address and state (for tests that only
/// count replies: [`BotFrameworkState::replies`]).
pub async fn start_bot_framework() -> (SocketAddr, Arc<Mutex<BotFrameworkState>>) {
    let fake = FakeBotFramework::start().await;
    (fake.address, fake.state)
}

async fn openid(
    State(state): State<Arc<Mutex<BotFrameworkState>>>,
) -> Result<Json<Value>, StatusCode> {
    let (base, is_failing) = {
        let mut state = state.lock().unwrap();
        state.key_reads += 1;
        (state.base.clone(), state.keys_failing)
    };
    if is_failing {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    Ok(Json(json!({
        "issuer": ISSUER,
        "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": format!("{base}/jwks"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"]
    })))
}

async fn jwks(
    State(state): State<Arc<Mutex<BotFrameworkState>>>,
) -> Result<Json<Value>, StatusCode> {
    let (endorsements, is_failing) = {
        let state = state.lock().unwrap();
        (state.endorsements.clone(), state.keys_failing)
    };
    if is_failing {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    let mut jwk =
        Jwk::from_encoding_key(&EncodingKey::from_rsa_der(SIGNING_KEY), Algorithm::RS256).unwrap();
    jwk.common.key_id = Some(KID.to_string());
    let mut key = serde_json::to_value(jwk).unwrap();
    key["use"] = json!("sig");
    if let Some(endorsements) = endorsements {
        key["endorsements"] = json!(endorsements);
    }
    Ok(Json(json!({ "keys": [key] })))
}

/// The OAuth client-credentials grant: every field must be what the connector is configured with.
async fn token(
    State(state): State<Arc<Mutex<BotFrameworkState>>>,
    body: String,
) -> (StatusCode, Json<Value>) {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let mut state = state.lock().unwrap();
    state.token_requests.push(form.clone());
    let field = |name: &str| form.get(name).map(String::as_str);
    let is_valid = field("grant_type") == Some("client_credentials")
        && field("client_id") == Some(APP_ID)
        && field("client_secret") == Some(APP_PASSWORD)
        && field("scope") == Some(SCOPE);
    if !is_valid {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        );
    }
    let number = state.token_requests.len();
    (
        StatusCode::OK,
        Json(json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": format!("fake-access-token-{number}")
        })),
    )
}

async fn connector(
    State(state): State<Arc<Mutex<BotFrameworkState>>>,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut state = state.lock().unwrap();
    if state.refuse_next > 0 && body["type"] == "message" {
        state.refuse_next -= 1;
        return (StatusCode::UNAUTHORIZED, Json(json!({})));
    }
    let mut id = "reply-id".to_string();
    if let Some(info) = stream_info(&body) {
        let sequence = info["streamSequence"].as_u64();
        if body["type"] == "typing"
            && sequence
                .is_some_and(|n| state.fail_stream_updates_from.is_some_and(|from| n >= from))
        {
            state.failed_stream_updates += 1;
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": {"code": "ServiceError", "message": "unavailable"}})),
            );
        }
        match check_stream(&mut state, &info, &body) {
            Ok(stream_id) => id = stream_id,
            Err((status, reason)) => {
                state.rejections.push(Rejection {
                    status: status.as_u16(),
                    reason: reason.clone(),
                    body: body.clone(),
                });
                let code = if status == StatusCode::TOO_MANY_REQUESTS {
                    "Throttled"
                } else {
                    "BadArgument"
                };
                return (
                    status,
                    Json(json!({"error": {"code": code, "message": reason}})),
                );
            }
        }
    }
    if body["type"] == "message" {
        if let Some(reply_to) = body["replyToId"].as_str() {
            *state.replies.entry(reply_to.to_string()).or_default() += 1;
        }
    }
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    state.sent.push(Sent {
        path: uri.path().to_string(),
        authorization,
        body,
    });
    (StatusCode::OK, Json(json!({ "id": id })))
}

/// The activity's `streaminfo` entity, if it has one.
fn stream_info(body: &Value) -> Option<Value> {
    body["entities"]
        .as_array()?
        .iter()
        .find(|entity| entity["type"] == "streaminfo")
        .cloned()
}

/// Checks a streaming request against the protocol and records it; the stream's id, or the
/// refusal's status and reason.
fn check_stream(
    state: &mut BotFrameworkState,
    info: &Value,
    body: &Value,
) -> Result<String, (StatusCode, String)> {
    let bad = |reason: &str| Err((StatusCode::BAD_REQUEST, reason.to_string()));
    let conversation = body["conversation"]["id"].as_str().unwrap_or_default();
    if !conversation.starts_with("a:") {
        return bad("streaming is supported in 1:1 chats only");
    }
    let kind = body["type"].as_str().unwrap_or_default();
    let stream_type = info["streamType"].as_str().unwrap_or_default();
    let text = body["text"].as_str().unwrap_or_default().to_string();
    let now = Instant::now();
    match (kind, stream_type) {
        ("typing", "streaming" | "informative") => {
            let Some(sequence) = info["streamSequence"].as_u64() else {
                return bad("streamSequence is required");
            };
            let Some(stream_id) = info["streamId"].as_str() else {
                if sequence < 1 {
                    return bad("streamSequence starts at 1");
                }
                let id = format!("stream-{}", state.streams.len() + 1);
                state.streams.push(FakeStream {
                    id: id.clone(),
                    conversation: conversation.to_string(),
                    updates: vec![body.clone()],
                    final_message: None,
                    last_sequence: sequence,
                    last_text: if stream_type == "streaming" {
                        text
                    } else {
                        String::new()
                    },
                    last_at: now,
                    opened_at: now,
                });
                return Ok(id);
            };
            let Some(stream) = state.streams.iter_mut().find(|s| s.id == stream_id) else {
                return bad("unknown streamId");
            };
            if stream.final_message.is_some() {
                return bad("the stream has ended");
            }
            if now.duration_since(stream.opened_at) > Duration::from_secs(120) {
                return bad("the stream has timed out");
            }
            if sequence <= stream.last_sequence {
                return bad("streamSequence must increase");
            }
            if stream_type == "streaming" && !text.starts_with(&stream.last_text) {
                return bad("the streamed content must start with the previous content");
            }
            if now.duration_since(stream.last_at) < STREAM_UPDATE_GAP {
                return Err((
                    StatusCode::TOO_MANY_REQUESTS,
                    "more than one update a second".into(),
                ));
            }
            stream.last_sequence = sequence;
            if stream_type == "streaming" {
                stream.last_text = text;
            }
            stream.last_at = now;
            stream.updates.push(body.clone());
            Ok(stream.id.clone())
        }
        ("message", "final") => {
            let Some(stream_id) = info["streamId"].as_str() else {
                return bad("a final message names its streamId");
            };
            if info.get("streamSequence").is_some() {
                return bad("a final message has no streamSequence");
            }
            let Some(stream) = state.streams.iter_mut().find(|s| s.id == stream_id) else {
                return bad("unknown streamId");
            };
            if stream.final_message.is_some() {
                return bad("the stream has ended");
            }
            if now.duration_since(stream.last_at) < STREAM_UPDATE_GAP {
                return Err((
                    StatusCode::TOO_MANY_REQUESTS,
                    "more than one update a second".into(),
                ));
            }
            stream.final_message = Some(body.clone());
            Ok(stream.id.clone())
        }
        _ => bad("unexpected streamType for this activity type"),
    }
}

/// Claims of a valid Bot Framework token for an activity from `service_url`.
pub fn claims(service_url: &str) -> Value {
    json!({
        "iss": ISSUER,
        "aud": APP_ID,
        "exp": unix_now() + 3600,
        "nbf": unix_now() - 10,
        "serviceurl": service_url,
    })
}

/// `claims` signed with RS256 by the private key `key` (DER), naming `kid` in the header.
pub fn sign(claims: &Value, key: &[u8], kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(key)).unwrap()
}

/// A valid Bot Framework token for activities from `service_url` (valid for an hour).
pub fn valid_token(service_url: &str) -> String {
    sign(&claims(service_url), SIGNING_KEY, KID)
}
