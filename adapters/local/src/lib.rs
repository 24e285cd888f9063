//! The local chat connector (the "Desktop" platform): a chat page on localhost, the JSON API it
//! talks to, and a terminal chat. Like the other connectors it speaks only the contract: it turns
//! what the person typed into contract events ([`event`]), hands them to the host's
//! [`EventHandler`], and shows the neutral reply. It needs no platform token.
//!
//! - [`event`]: one typed line (a message, or a `/command`) → a contract event; shared by the page's
//!   API and the terminal.
//! - [`chat_api`]: `POST /api/chat` and `GET /api/config`: input checks, who may call (loopback in
//!   desktop mode, LOCAL_API_TOKEN elsewhere, `Host`/`Origin` always), the host's inbox.
//! - [`page`]: `GET /`, `/app.js`, `/style.css` (embedded, no build step, no external resources).
//! - [`terminal`]: the chat on stdin/stdout.

pub mod chat_api;
pub mod event;
pub mod page;
pub mod terminal;

#[cfg(test)]
pub(crate) mod test_support;

pub use chat_api::ApiToken;
pub use terminal::{run_terminal, TERMINAL_CAPABILITIES};

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use whisperengine_contract::{EventHandler, Inbox};

/// Largest request body `/api/chat` reads, in bytes.
pub const MAX_CHAT_BODY_BYTES: usize = 64 * 1024;

/// Everything the local chat's routes need, shared by every request.
#[derive(Clone)]
pub struct LocalState {
    /// The core: every chat message and command goes here.
    pub handler: Arc<dyn EventHandler>,
    /// The host's inbox: `/api/chat` runs its events on the host's workers, so they count against the
    /// same bound and are finished before shutdown; a refusal is a 503. `None` calls the handler
    /// directly (unit tests of the routes).
    pub inbox: Option<Arc<dyn Inbox>>,
    /// Default user name of the local chat page.
    pub local_user: String,
    /// True in desktop mode: the person at the keyboard owns the host, so their commands are admin
    /// commands.
    pub local_is_admin: bool,
    /// False → `/api/chat` answers 404 and `/` shows a "local chat disabled" page.
    pub chat_enabled: bool,
    /// LOCAL_API_TOKEN: when set, `/api/chat` and `/api/config` need `Authorization: Bearer`.
    pub api_token: Option<ApiToken>,
    /// Host names besides loopback ones that requests may be addressed to (PUBLIC_URL's host):
    /// a request naming any other `Host` or `Origin` is refused (DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// A notice shown on the page (e.g. the demo-mode data notice).
    pub banner: Option<String>,
    /// Page title and header.
    pub companion_name: String,
    /// Longest chat message accepted, in characters.
    pub max_message_chars: usize,
    /// Whether `/api/chat` may answer a client that accepts `text/event-stream` with the reply as
    /// it is written (STREAM_REPLIES names `desktop`).
    pub stream_replies: bool,
}

/// The local chat's routes: the page, its assets and the JSON API.
pub fn routes(state: LocalState) -> Router {
    let chat = Router::new()
        .route("/api/chat", post(chat_api::chat))
        .layer(DefaultBodyLimit::max(MAX_CHAT_BODY_BYTES));
    Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/style.css", get(page::stylesheet))
        .route("/api/config", get(chat_api::config))
        .merge(chat)
        .with_state(state)
}
