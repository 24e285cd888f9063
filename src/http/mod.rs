//! The one HTTP listener: health and readiness probes and Prometheus metrics. The connectors'
//! routes (the local chat from `whisperengine_local`, Slack, Teams, the admin dashboard, export
//! downloads) are `.merge()`d into the one [`router`] builds, and [`serve`] runs the result until
//! shutdown.
//!
//! - [`health`]: `GET /healthz`, `/readyz`, `/metrics`.

pub mod health;

#[cfg(test)]
pub(crate) mod test_support;

use axum::extract::Request;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use std::future::Future;
use std::sync::Arc;
use tower_http::trace::TraceLayer;

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

/// Everything the probes and the metrics need, shared by every request.
#[derive(Clone)]
pub struct HttpState {
    pub readiness: Arc<dyn ReadinessProbe>,
    pub metrics: PrometheusHandle,
    /// METRICS_TOKEN: when set, `/metrics` needs `Authorization: Bearer`.
    pub metrics_token: Option<whisperengine_local::ApiToken>,
}

/// The probes and the metrics. Routes added by `.merge()` later get the same tracing in [`serve`].
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
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
