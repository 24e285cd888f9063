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
use std::time::Duration;

pub use crate::unix_now;

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
    (StatusCode::OK, Json(json!({ "id": "reply-id" })))
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
