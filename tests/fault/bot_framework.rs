//! A fake Bot Framework for the fault test: OpenID metadata, JWKS with the test key, the token
//! endpoint, and a connector that counts the replies to each activity (typing indicators aside).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

pub const APP_ID: &str = "00000000-aaaa-bbbb-cccc-0000000000f1";
pub const APP_PASSWORD: &str = "fault-test-client-secret";
const KID: &str = "test-key-1";
const SIGNING_KEY: &[u8] = include_bytes!("../../adapters/teams/tests/keys/bot_framework.der");

#[derive(Default)]
pub struct BotState {
    base: String,
    /// replyToId → replies (messages, not typing indicators) to that activity.
    pub replies: HashMap<String, usize>,
}

pub async fn start_bot_framework() -> (SocketAddr, Arc<Mutex<BotState>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let state = Arc::new(Mutex::new(BotState {
        base: format!("http://{address}"),
        ..BotState::default()
    }));
    let app = Router::new()
        .route("/openid", get(openid))
        .route("/jwks", get(jwks))
        .route("/token", post(token))
        .route("/v3/{*rest}", post(connector))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, state)
}

async fn openid(State(state): State<Arc<Mutex<BotState>>>) -> Json<Value> {
    let base = state.lock().unwrap().base.clone();
    Json(json!({
        "issuer": "https://api.botframework.com",
        "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": format!("{base}/jwks"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"]
    }))
}

async fn jwks() -> Json<Value> {
    let mut jwk =
        Jwk::from_encoding_key(&EncodingKey::from_rsa_der(SIGNING_KEY), Algorithm::RS256).unwrap();
    jwk.common.key_id = Some(KID.to_string());
    let mut key = serde_json::to_value(jwk).unwrap();
    key["use"] = json!("sig");
    key["endorsements"] = json!(["msteams"]);
    Json(json!({ "keys": [key] }))
}

async fn token(body: String) -> (StatusCode, Json<Value>) {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    if form.get("client_secret").map(String::as_str) != Some(APP_PASSWORD) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        );
    }
    (
        StatusCode::OK,
        Json(
            json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "fault-access-token"}),
        ),
    )
}

async fn connector(
    State(state): State<Arc<Mutex<BotState>>>,
    _uri: Uri,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if body["type"] == "message" {
        if let Some(reply_to) = body["replyToId"].as_str() {
            *state
                .lock()
                .unwrap()
                .replies
                .entry(reply_to.to_string())
                .or_default() += 1;
        }
    }
    (StatusCode::OK, Json(json!({ "id": "reply-id" })))
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn teams_token(service_url: &str) -> String {
    let claims = json!({
        "iss": "https://api.botframework.com",
        "aud": APP_ID,
        "exp": unix_now() + 3600,
        "nbf": unix_now() - 10,
        "serviceurl": service_url,
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_string());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(SIGNING_KEY)).unwrap()
}
