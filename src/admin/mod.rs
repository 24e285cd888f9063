//! The admin dashboard at `/admin`, on only when `ADMIN_TOKEN` is set (otherwise its routes do not
//! exist and `/admin` answers 404).
//!
//! Server-rendered pages (maud), one stylesheet and one small script served from the binary, no
//! front-end build. Every change an admin makes here (link, unlink, isolate, release) is run as the
//! core's own `admin …` command, invoked by the dashboard's admin account, so it is checked and
//! audited exactly like the same command typed in a chat.
//!
//! - [`auth`]: token check, sessions, CSRF tokens, lock-out.
//! - [`pages`]: the pages (overview, identities, conflicts, audit log) and the login page.
//! - [`actions`]: login, logout and the POST actions that run core commands.
//! - [`queries`]: the SQL the pages read.
//! - [`kpi`]: the sampler's ring buffer and the charts' geometry.
//! - [`views`]: the HTML.
//! - `assets`: the stylesheet and script.

pub mod actions;
mod assets;
pub mod auth;
pub mod kpi;
pub mod pages;
pub mod queries;
pub mod views;

use crate::core::Core;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// Everything the dashboard's routes share.
#[derive(Clone)]
pub struct AdminState {
    pub core: Core,
    pub gate: Arc<auth::Gatekeeper>,
    pub history: Arc<kpi::KpiHistory>,
    pub metrics: PrometheusHandle,
    /// Stops the sampler when the last clone of the router goes.
    _sampler: Arc<kpi::SamplerTask>,
}

/// The dashboard's routes, or `None` when `ADMIN_TOKEN` is not set. Starts the KPI sampler.
pub fn router(core: &Core, metrics: PrometheusHandle) -> Option<Router> {
    let token = core.settings.admin_token.as_ref()?;
    let gate = Arc::new(auth::Gatekeeper::new(
        token,
        auth::is_cookie_secure(
            core.settings.admin_cookie_secure,
            core.settings.public_url.as_ref(),
        ),
    ));
    let history = Arc::new(kpi::KpiHistory::default());
    let sampler = kpi::spawn_sampler(core.clone(), metrics.clone(), history.clone());
    let state = AdminState {
        core: core.clone(),
        gate,
        history,
        metrics,
        _sampler: Arc::new(sampler),
    };
    Some(
        Router::new()
            .route("/admin", get(pages::overview))
            .route("/admin/", get(pages::overview))
            .route("/admin/login", get(pages::login).post(actions::login))
            .route("/admin/logout", post(actions::logout))
            .route("/admin/identities", get(pages::identities))
            .route("/admin/identities/link", post(actions::link))
            .route("/admin/identities/unlink", post(actions::unlink))
            .route("/admin/identities/isolate", post(actions::isolate))
            .route("/admin/identities/release", post(actions::release))
            .route("/admin/host/isolate", post(actions::isolate_host))
            .route("/admin/host/release", post(actions::release_host))
            .route("/admin/conflicts", get(pages::conflicts))
            .route("/admin/conflicts/resolve", post(actions::resolve_conflict))
            .route("/admin/audit", get(pages::audit))
            .route("/admin/assets/admin.css", get(assets::stylesheet))
            .route("/admin/assets/admin.js", get(assets::script))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
            .with_state(state),
    )
}

/// Largest form body the dashboard reads.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// Only this origin's scripts and styles; no framing; forms post here only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the dashboard's security headers (CSP, no caching, no sniffing, no referrer).
pub fn with_page_headers(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The client's address (for the lock-out). Unknown peers (no connection info) share one bucket,
/// which errs on the side of locking out.
pub fn client_address(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// The live session the request's cookie names, if any.
pub fn current_session(headers: &HeaderMap, gate: &auth::Gatekeeper) -> Option<auth::SessionView> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(auth::session_id_from_cookies)
        .and_then(|id| gate.session(id))
}

/// The client's address, as an extractor.
pub struct ClientAddress(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(parts)))
    }
}

/// A signed-in request: extracting it refuses requests without a live session (pages redirect to
/// the login page; actions get 403).
pub struct SignedIn(pub auth::SessionView);

impl FromRequestParts<AdminState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AdminState,
    ) -> Result<Self, Self::Rejection> {
        match current_session(&parts.headers, &state.gate) {
            Some(session) => Ok(SignedIn(session)),
            None if parts.method == Method::GET || parts.method == Method::HEAD => {
                Err(with_page_headers(Redirect::to("/admin/login")))
            }
            None => {
                metrics::counter!(crate::telemetry::names::HTTP_REJECTED, "route" => "admin", "reason" => "no_session")
                    .increment(1);
                Err(with_page_headers((
                    StatusCode::FORBIDDEN,
                    "Your admin session has ended or was never started: log in again at /admin/login.",
                )))
            }
        }
    }
}
