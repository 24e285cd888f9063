//! The one HTTP listener: the local chat page and its JSON API, health and readiness probes and
//! Prometheus metrics. Platform connectors (Slack, Teams, admin) `.merge()` their own routers into
//! the one [`router`] builds, and [`serve`] runs the result until shutdown.
//!
//! - [`chat_api`]: `POST /api/chat`, `GET /api/config` (input checks, mapping to contract events).
//! - [`page`]: `GET /`, `/app.js`, `/style.css` (embedded, no build step, no external resources).
//! - [`health`]: `GET /healthz`, `/readyz`, `/metrics`.

pub mod chat_api;
pub mod health;
pub mod page;

#[cfg(test)]
pub(crate) mod test_support;

use axum::extract::{DefaultBodyLimit, Request};
use axum::routing::{get, post};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use std::future::Future;
use std::sync::Arc;
use tower_http::trace::TraceLayer;
use whisperengine_contract::EventHandler;

/// Largest request body `/api/chat` reads, in bytes.
pub const MAX_CHAT_BODY_BYTES: usize = 64 * 1024;

/// Tells `/readyz` whether the host can serve (database reachable, migrations applied, ...).
#[async_trait::async_trait]
pub trait ReadinessProbe: Send + Sync {
    /// `Ok(())` when ready, else `Err(reason)`; the reason is shown to whoever asks `/readyz`, so it
    /// must not contain secrets (no connection strings).
    async fn check(&self) -> Result<(), String>;

    /// What works less well while the host stays ready (a dependency that only costs speed is
    /// away); shown by `/readyz` under `degraded`. Nothing by default.
    async fn degraded(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Everything the HTTP routes need, shared by every request.
#[derive(Clone)]
pub struct HttpState {
    /// The core: every chat message and command goes here.
    pub handler: Arc<dyn EventHandler>,
    /// The host's bounded intake: `/api/chat` runs its events there, so they count against the
    /// same bound and are finished before shutdown; a refusal is a 503. `None` calls the handler
    /// directly (unit tests of the routes).
    pub intake: Option<Arc<dyn whisperengine_contract::Intake>>,
    pub readiness: Arc<dyn ReadinessProbe>,
    pub metrics: PrometheusHandle,
    /// Default user name of the local chat page.
    pub local_user: String,
    /// True in desktop mode: the person at the keyboard owns the host, so their commands are admin
    /// commands. Also restricts the chat API to loopback host names (see [`chat_api`]).
    pub local_is_admin: bool,
    /// False → `/api/chat` answers 404 and `/` shows a "local chat disabled" page.
    pub chat_enabled: bool,
    /// LOCAL_API_TOKEN: when set, `/api/chat` and `/api/config` need `Authorization: Bearer`.
    pub api_token: Option<chat_api::ApiToken>,
    /// METRICS_TOKEN: when set, `/metrics` needs `Authorization: Bearer`.
    pub metrics_token: Option<chat_api::ApiToken>,
    /// Host names besides loopback ones that requests may be addressed to (PUBLIC_URL's host):
    /// a request naming any other `Host` or `Origin` is refused (DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// A notice shown on the page (e.g. the demo-mode data notice).
    pub banner: Option<String>,
    /// Page title and header.
    pub companion_name: String,
    /// Longest chat message accepted, in characters.
    pub max_message_chars: usize,
}

/// Every route of this module. Routes added by `.merge()` later get the same tracing in [`serve`].
pub fn router(state: HttpState) -> Router {
    let chat = Router::new()
        .route("/api/chat", post(chat_api::chat))
        .layer(DefaultBodyLimit::max(MAX_CHAT_BODY_BYTES));
    Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/style.css", get(page::stylesheet))
        .route("/api/config", get(chat_api::config))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(chat)
        .with_state(state)
}

/// Paths whose last segment is a secret (a bearer of the link gets the data).
const SECRET_PATH_PREFIXES: &[&str] = &["/export/"];

/// `path` as it may be logged: a secret segment is replaced by `…`.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match SECRET_PATH_PREFIXES
        .iter()
        .find(|prefix| path.starts_with(*prefix) && path.len() > prefix.len())
    {
        Some(prefix) => format!("{prefix}…").into(),
        None => path.into(),
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The span carries the path only (query strings may carry tokens), and without the secret
    // segment of a path that is one (`/export/{token}` is logged as `/export/…`).
    let app = app.layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
        tracing::debug_span!("http", method = %request.method(), path = %loggable_path(request.uri().path()))
    }));
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "HTTP listener ready");
    }
    // The peer address is kept for handlers that need it (the admin login's lock-out per client).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
