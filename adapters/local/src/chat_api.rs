//! The local chat's JSON API: `POST /api/chat` (a message or `/command` from the page, answered with
//! the companion's reply, as JSON or, when asked, as server-sent events while it is written: see
//! [`stream`]) and `GET /api/config` (what the page needs to start).
//!
//! Every input is checked before the core sees it; a refused request gets a 4xx with
//! `{"error": "<reason>"}` and is counted in `whisperengine_http_rejected_total`.
//!
//! Who may call it: in desktop mode the person at this machine (loopback only, no token needed).
//! Elsewhere the API is off unless LOCAL_API_TOKEN is set, and then every request carries it as a
//! bearer token, compared in constant time. The `user` a request names is the token holder's claim,
//! not a proven identity: `desktop:` accounts belong to whoever holds the token (one operator).
//!
//! In every mode `Host` and `Origin` must name this machine (or PUBLIC_URL's host), so a
//! DNS-rebinding page cannot drive the API from a browser. Requiring
//! `Content-Type: application/json` is the CSRF defence: a foreign web page can only send that type
//! after a CORS preflight, which this server never approves.

use crate::LocalState;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, FailedToBufferBody, JsonRejection};
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use whisperengine_contract::{Capabilities, Card, HandlerOutcome, InboundEvent};

/// Channel id of every conversation held on the local page.
pub const CHANNEL_ID: &str = "local-page";
/// Longest accepted user name, in characters.
pub const MAX_USER_CHARS: usize = 64;
/// Longest accepted client-supplied event id, in characters.
pub const MAX_EVENT_ID_CHARS: usize = 200;
/// The host's counter of HTTP requests refused before the core (`route`, `reason`).
pub const REJECTED_METRIC: &str = "whisperengine_http_rejected_total";
/// The `route` label of this API's rejections.
const ROUTE: &str = "/api/chat";

/// LOCAL_API_TOKEN, kept as its SHA-256 digest: both sides are hashed before the comparison, so it
/// takes the same time whatever the candidate's length and content.
#[derive(Clone)]
pub struct ApiToken([u8; 32]);

impl ApiToken {
    pub fn new(token: &str) -> ApiToken {
        ApiToken(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `headers` carry `Authorization: Bearer <this token>`.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(candidate) = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
        else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(candidate.trim().as_bytes()).into();
        bool::from(digest.ct_eq(&self.0))
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// The body of `POST /api/chat`.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    /// The message, or a command starting with `/`.
    pub text: Option<String>,
    /// Who is talking; the configured local user when absent.
    pub user: Option<String>,
    /// The client's id for this message, so a resend is recognised; a fresh UUID when absent.
    pub event_id: Option<String>,
}

/// The answer of `POST /api/chat`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct ChatResponse {
    /// The reply in markdown; empty when there is nothing to say.
    pub reply: String,
    pub card: Option<Card>,
    /// Whether the event id was seen before (nothing was done); `reply` is then the reply stored
    /// with that message, when there is one.
    pub duplicate: bool,
}

/// The answer of `GET /api/config`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct ChatConfig {
    pub companion: String,
    pub user: String,
    pub banner: Option<String>,
    pub chat_enabled: bool,
}

/// Why a chat request was refused. The message is the `error` shown to the client.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ChatApiError {
    #[error("the local chat is disabled on this host")]
    Disabled,
    #[error("the chat API only answers requests addressed to this machine (localhost)")]
    ForeignHost,
    #[error("this API needs `Authorization: Bearer <LOCAL_API_TOKEN>`")]
    Unauthorized,
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("the request body could not be read")]
    BodyUnreadable,
    #[error("the request body is not valid UTF-8")]
    InvalidUtf8,
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("invalid request: {0}")]
    InvalidField(String),
    #[error("text is required and must not be empty")]
    MissingText,
    #[error("a command needs a name after `/`, e.g. /help")]
    EmptyCommand,
    #[error("text is longer than {limit} characters")]
    TextTooLong { limit: usize },
    #[error("user must be 1 to {MAX_USER_CHARS} characters without spaces, control characters, `/` or `:`")]
    InvalidUser,
    #[error("event_id must be 1 to {MAX_EVENT_ID_CHARS} characters without spaces or control characters")]
    InvalidEventId,
    #[error("the host is busy or shutting down; send the same event_id again shortly")]
    Unavailable,
}

impl ChatApiError {
    /// The HTTP status this refusal is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ChatApiError::Disabled => StatusCode::NOT_FOUND,
            ChatApiError::ForeignHost => StatusCode::FORBIDDEN,
            ChatApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ChatApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ChatApiError::BodyTooLarge { .. } | ChatApiError::TextTooLong { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ChatApiError::BodyUnreadable
            | ChatApiError::InvalidUtf8
            | ChatApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ChatApiError::InvalidField(_)
            | ChatApiError::MissingText
            | ChatApiError::EmptyCommand
            | ChatApiError::InvalidUser
            | ChatApiError::InvalidEventId => StatusCode::UNPROCESSABLE_ENTITY,
            ChatApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A fixed, low-cardinality reason code for the rejection metric.
    pub fn reason_code(&self) -> &'static str {
        match self {
            ChatApiError::Disabled => "disabled",
            ChatApiError::ForeignHost => "foreign_host",
            ChatApiError::Unauthorized => "unauthorized",
            ChatApiError::UnsupportedMediaType => "content_type",
            ChatApiError::BodyTooLarge { .. } => "body_too_large",
            ChatApiError::BodyUnreadable => "body_unreadable",
            ChatApiError::InvalidUtf8 => "invalid_utf8",
            ChatApiError::MalformedJson(_) => "malformed_json",
            ChatApiError::InvalidField(_) => "invalid_field",
            ChatApiError::MissingText => "missing_text",
            ChatApiError::EmptyCommand => "empty_command",
            ChatApiError::TextTooLong { .. } => "text_too_long",
            ChatApiError::InvalidUser => "invalid_user",
            ChatApiError::InvalidEventId => "invalid_event_id",
            ChatApiError::Unavailable => "unavailable",
        }
    }

    fn from_bytes_rejection(rejection: BytesRejection) -> Self {
        match rejection {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                ChatApiError::BodyTooLarge {
                    limit: crate::MAX_CHAT_BODY_BYTES,
                }
            }
            _ => ChatApiError::BodyUnreadable,
        }
    }

    fn from_json_rejection(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ChatApiError::UnsupportedMediaType,
            JsonRejection::JsonSyntaxError(error) => ChatApiError::MalformedJson(error.body_text()),
            JsonRejection::JsonDataError(error) => ChatApiError::InvalidField(error.body_text()),
            JsonRejection::BytesRejection(error) => ChatApiError::from_bytes_rejection(error),
            _ => ChatApiError::BodyUnreadable,
        }
    }
}

impl IntoResponse for ChatApiError {
    fn into_response(self) -> Response {
        metrics::counter!(REJECTED_METRIC, "route" => ROUTE, "reason" => self.reason_code())
            .increment(1);
        tracing::debug!(reason = self.reason_code(), "chat request refused");
        let body = serde_json::json!({ "error": self.to_string() });
        let mut response = (self.status(), Json(body)).into_response();
        if matches!(self, ChatApiError::Unauthorized) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// The chat body, extracted with axum's `Json` (content type, size limit, syntax and shape) and
/// refined: a syntax error caused by bytes that are not UTF-8 is reported as such.
pub struct ChatBody(pub ChatRequest);

impl<S: Send + Sync> FromRequest<S> for ChatBody {
    type Rejection = ChatApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
        // Reading the bytes here honours the route's DefaultBodyLimit, like `Json` itself would.
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(ChatApiError::from_bytes_rejection)?;
        let mut rebuilt = Request::new(Body::from(bytes.clone()));
        if let Some(content_type) = content_type {
            rebuilt
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
        }
        match Json::<ChatRequest>::from_request(rebuilt, state).await {
            Ok(Json(chat_request)) => Ok(ChatBody(chat_request)),
            Err(JsonRejection::JsonSyntaxError(_)) if std::str::from_utf8(&bytes).is_err() => {
                Err(ChatApiError::InvalidUtf8)
            }
            Err(rejection) => Err(ChatApiError::from_json_rejection(rejection)),
        }
    }
}

/// `POST /api/chat`.
pub async fn chat(
    State(state): State<LocalState>,
    headers: HeaderMap,
    body: Result<ChatBody, ChatApiError>,
) -> Result<Response, ChatApiError> {
    // Availability, origin and the caller come before the body's own faults.
    admit(&state, &headers)?;
    let ChatBody(request) = body?;
    let event = to_event(request, &state)?;
    tracing::debug!(event_id = event.event_id(), "local chat event");
    if state.stream_replies && stream::is_accepted(&headers) {
        return stream::answer(&state, event).await;
    }
    let sent = Sent::of(&event);
    let outcome = match &state.inbox {
        Some(inbox) => through_inbox(inbox.as_ref(), state.handler.clone(), event).await?,
        None => state.handler.handle(event, Capabilities::LOCAL).await,
    };
    Ok(sent.answer(&state, outcome).await)
}

/// Who sent an event and its id, kept to answer a duplicate.
pub(crate) struct Sent {
    author: whisperengine_contract::PlatformAccount,
    event_id: String,
}

impl Sent {
    pub(crate) fn of(event: &InboundEvent) -> Sent {
        Sent {
            author: event.account().clone(),
            event_id: event.event_id().to_string(),
        }
    }

    /// The JSON answer to `outcome`. A duplicate is most likely a message sent again because its
    /// answer was lost with its connection: the reply stored with the turn is the answer.
    pub(crate) async fn answer(&self, state: &LocalState, outcome: HandlerOutcome) -> Response {
        if outcome == HandlerOutcome::Duplicate {
            let stored = state
                .handler
                .stored_reply(&self.author, &self.event_id)
                .await;
            if let Some(reply) = stored {
                let body = ChatResponse {
                    reply: reply.text,
                    card: reply.card,
                    duplicate: true,
                };
                return Json(body).into_response();
            }
        }
        outcome_response(outcome)
    }
}

/// The JSON answer to `outcome`.
fn outcome_response(outcome: HandlerOutcome) -> Response {
    // A refusal to send again later (the rate limit): nothing was taken in, so the client is told
    // to send the same event_id again after `Retry-After` seconds; the body carries the words.
    let retry_after = match &outcome {
        HandlerOutcome::Reply(reply) => reply.retry_after_seconds,
        _ => None,
    };
    let body = Json(to_response(outcome));
    match retry_after {
        Some(seconds) => {
            metrics::counter!(REJECTED_METRIC, "route" => ROUTE, "reason" => "rate_limited")
                .increment(1);
            let mut response = (StatusCode::TOO_MANY_REQUESTS, body).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
            response
        }
        None => body.into_response(),
    }
}

/// Runs `event` as a job on the host's workers and waits for its outcome: the answer is sent only
/// once the turn is stored, and a refused job (queue full, shutting down) is a 503 with nothing done.
async fn through_inbox(
    inbox: &dyn whisperengine_contract::Inbox,
    handler: std::sync::Arc<dyn whisperengine_contract::EventHandler>,
    event: InboundEvent,
) -> Result<HandlerOutcome, ChatApiError> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    inbox
        .submit(whisperengine_contract::job_without_entry(async move {
            let _ = sender.send(handler.handle(event, Capabilities::LOCAL).await);
        }))
        .map_err(|_| ChatApiError::Unavailable)?;
    receiver.await.map_err(|_| ChatApiError::Unavailable)
}

/// `GET /api/config`.
pub async fn config(
    State(state): State<LocalState>,
    headers: HeaderMap,
) -> Result<Json<ChatConfig>, ChatApiError> {
    admit(&state, &headers)?;
    Ok(Json(ChatConfig {
        companion: state.companion_name.clone(),
        user: state.local_user.clone(),
        banner: state.banner.clone(),
        chat_enabled: state.chat_enabled,
    }))
}

/// Whether this request may use the API at all: the chat is on, the request is addressed to this
/// machine, and it carries the token when one is set.
fn admit(state: &LocalState, headers: &HeaderMap) -> Result<(), ChatApiError> {
    if !state.chat_enabled {
        return Err(ChatApiError::Disabled);
    }
    if !is_addressed_here(headers, &state.allowed_hosts) {
        return Err(ChatApiError::ForeignHost);
    }
    match &state.api_token {
        Some(token) if !token.admits(headers) => Err(ChatApiError::Unauthorized),
        _ => Ok(()),
    }
}

/// Checks a request and turns it into the contract event the core expects.
pub fn to_event(request: ChatRequest, state: &LocalState) -> Result<InboundEvent, ChatApiError> {
    let text = request.text.unwrap_or_default();
    let text = text.trim();
    if text.is_empty() {
        return Err(ChatApiError::MissingText);
    }
    if text.chars().count() > state.max_message_chars {
        return Err(ChatApiError::TextTooLong {
            limit: state.max_message_chars,
        });
    }
    let user = match request.user {
        Some(user) => parse_user(&user)?,
        None => state.local_user.clone(),
    };
    let event_id = match request.event_id {
        Some(event_id) => parse_event_id(&event_id)?,
        None => uuid::Uuid::new_v4().to_string(),
    };
    crate::event::from_line(text, &user, CHANNEL_ID, event_id, state.local_is_admin)
        .ok_or(ChatApiError::EmptyCommand)
}

/// A user name becomes part of the account notation `desktop:<user>`, so it may not contain the
/// notation's separators, whitespace or control characters.
fn parse_user(user: &str) -> Result<String, ChatApiError> {
    let is_valid = !user.is_empty()
        && user.chars().count() <= MAX_USER_CHARS
        && user
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '/' && c != ':');
    if is_valid {
        Ok(user.to_string())
    } else {
        Err(ChatApiError::InvalidUser)
    }
}

fn parse_event_id(event_id: &str) -> Result<String, ChatApiError> {
    let is_valid = !event_id.is_empty()
        && event_id.chars().count() <= MAX_EVENT_ID_CHARS
        && event_id
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control());
    if is_valid {
        Ok(event_id.to_string())
    } else {
        Err(ChatApiError::InvalidEventId)
    }
}

fn to_response(outcome: HandlerOutcome) -> ChatResponse {
    match outcome {
        HandlerOutcome::Reply(reply) => ChatResponse {
            reply: reply.text,
            card: reply.card,
            duplicate: false,
        },
        HandlerOutcome::Duplicate => ChatResponse {
            reply: String::new(),
            card: None,
            duplicate: true,
        },
        HandlerOutcome::Ignored(reason) => {
            tracing::debug!(reason, "local chat event ignored");
            ChatResponse {
                reply: String::new(),
                card: None,
                duplicate: false,
            }
        }
    }
}

/// Whether `Host` (and `Origin`, when a browser sent one) name this machine or one of
/// `allowed_hosts`.
fn is_addressed_here(headers: &HeaderMap, allowed_hosts: &[String]) -> bool {
    let is_allowed = |name: &str| {
        is_loopback_name(name)
            || allowed_hosts
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(name.trim_end_matches('.')))
    };
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    let is_host_allowed = host.is_some_and(|host| is_allowed(strip_port(host)));
    let is_origin_allowed = match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => origin
            .to_str()
            .ok()
            .and_then(|origin| url::Url::parse(origin).ok())
            .is_some_and(|origin| origin.host_str().is_some_and(is_allowed)),
    };
    is_host_allowed && is_origin_allowed
}

/// `localhost:8080` → `localhost`, `[::1]:8080` → `[::1]`, `127.0.0.1` → `127.0.0.1`.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

fn is_loopback_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .is_ok_and(|address| address.is_loopback())
}

pub mod stream;

#[cfg(test)]
mod tests;
