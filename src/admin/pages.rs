//! The dashboard's pages (GET): each reads what it shows (SQL, the sampler's ring buffer, the
//! settings) and renders it. A database failure becomes a 500 page that says so, never a panic.

use crate::admin::kpi;
use crate::admin::queries::{self, AuditFilter};
use crate::admin::views::{self, overview, Frame, Nav};
use crate::admin::{current_session, with_page_headers, AdminState, SignedIn};
use crate::setup::CONNECTORS_BUILT;
use crate::telemetry::names;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, Redirect, Response};
use maud::Markup;

/// Seconds between reloads of the overview (its charts move with the sampler).
const OVERVIEW_REFRESH_SECONDS: u32 = 15;

/// `GET /admin/login`: the login form (or the overview when already signed in).
pub async fn login(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    match current_session(&headers, &state.gate) {
        Some(_) => with_page_headers(Redirect::to("/admin")),
        None => with_page_headers(Html(views::login_page(None).into_string())),
    }
}

/// `GET /admin`: connectors, KPIs and charts.
pub async fn overview(State(state): State<AdminState>, SignedIn(session): SignedIn) -> Response {
    let db = &state.core.store.db;
    let read = async {
        Ok::<_, sea_orm::DbErr>((
            queries::platform_activity(db).await?,
            queries::totals(db).await?,
            queries::satisfaction(db).await?,
        ))
    };
    let (activity, totals, satisfaction) = match read.await {
        Ok(read) => read,
        Err(error) => return database_failure(&error),
    };
    let settings = &state.core.settings;
    let rendered = state.metrics.render();
    let mut connectors: Vec<overview::ConnectorStatus> = settings
        .connectors_summary()
        .into_iter()
        .map(|(name, is_configured, detail)| {
            let is_built = CONNECTORS_BUILT.contains(&name);
            overview::ConnectorStatus {
                name: name.to_string(),
                is_up: is_configured && is_built,
                detail: if is_built || !is_configured {
                    detail
                } else {
                    format!("{detail}; not built into this host yet")
                },
                last_message_at: last_message_at(&activity, name),
            }
        })
        .collect();
    connectors.push(overview::ConnectorStatus {
        name: "desktop".to_string(),
        is_up: true,
        detail: "on (local chat page and terminal)".to_string(),
        last_message_at: last_message_at(&activity, "desktop"),
    });
    let body = overview::body(
        &session.csrf_token,
        &overview::Overview {
            deployment_mode: settings.deployment_mode.to_string(),
            storage: storage_description(&state),
            connectors,
            activity,
            totals,
            satisfaction,
            writes: kpi::counter_by_label(&rendered, names::SHARED_STATE_WRITES, "outcome"),
            consistency_checks: kpi::counter_by_label(
                &rendered,
                names::CONSISTENCY_CHECKS,
                "result",
            ),
            propagation: kpi::propagation(&rendered),
            samples: state.history.snapshot(),
        },
    );
    render(
        &state,
        &session,
        "Overview",
        Nav::Overview,
        Some(OVERVIEW_REFRESH_SECONDS),
        body,
    )
}

fn last_message_at(
    activity: &[queries::PlatformActivity],
    platform: &str,
) -> Option<chrono::DateTime<chrono::Utc>> {
    activity
        .iter()
        .find(|a| a.platform.as_str() == platform)
        .and_then(|a| a.last_message_at)
}

fn storage_description(state: &AdminState) -> String {
    let database = if state.core.store.backend() == sea_orm::DbBackend::Postgres {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let cache = if state.core.store.cache.is_some() {
        "Redis"
    } else {
        "no Redis (single process)"
    };
    format!("{database} · {cache}")
}

/// The `?q=` of the identities page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
}

/// `GET /admin/identities?q=…`: search and the link / unlink / isolate forms.
pub async fn identities(
    State(state): State<AdminState>,
    SignedIn(session): SignedIn,
    Query(search): Query<SearchQuery>,
) -> Response {
    let query: String = search.q.trim().chars().take(200).collect();
    let db = &state.core.store.db;
    let results = match queries::search_identities(db, &query).await {
        Ok(results) => results,
        Err(error) => return database_failure(&error),
    };
    let is_host_isolated = match crate::core::privacy::isolation::is_host_isolated(db).await {
        Ok(is_host_isolated) => is_host_isolated,
        Err(error) => return database_failure(&sea_orm::DbErr::Custom(error.to_string())),
    };
    let body = views::identities::body(&session.csrf_token, &query, &results, is_host_isolated);
    render(&state, &session, "Identities", Nav::Identities, None, body)
}

/// The `?page=` of a list.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    pub page: Option<u64>,
}

/// `GET /admin/conflicts?page=…`: the conflicts queue, open first.
pub async fn conflicts(
    State(state): State<AdminState>,
    SignedIn(session): SignedIn,
    Query(page): Query<PageQuery>,
) -> Response {
    let page = match queries::conflicts_page(&state.core.store.db, page.page.unwrap_or(1)).await {
        Ok(page) => page,
        Err(error) => return database_failure(&error),
    };
    let body = views::logs::conflicts_body(&session.csrf_token, &page);
    render(&state, &session, "Conflicts", Nav::Conflicts, None, body)
}

/// `GET /admin/audit?actor=…&action=…&target=…&from=…&to=…&page=…`.
pub async fn audit(
    State(state): State<AdminState>,
    SignedIn(session): SignedIn,
    Query(filter): Query<AuditFilter>,
) -> Response {
    let (condition, problem) = match queries::audit_condition(&filter) {
        Ok(condition) => (condition, None),
        Err(problem) => (sea_orm::Condition::all(), Some(problem.to_string())),
    };
    let page = match queries::audit_page(&state.core.store.db, condition, filter.page.unwrap_or(1))
        .await
    {
        Ok(page) => page,
        Err(error) => return database_failure(&error),
    };
    let body = views::logs::audit_body(&filter, problem.as_deref(), &page);
    render(&state, &session, "Audit log", Nav::Audit, None, body)
}

fn render(
    state: &AdminState,
    session: &crate::admin::auth::SessionView,
    title: &str,
    active: Nav,
    refresh_seconds: Option<u32>,
    body: Markup,
) -> Response {
    let frame = Frame {
        title,
        active,
        csrf_token: &session.csrf_token,
        flash: state.gate.take_flash(&session.id),
        refresh_seconds,
    };
    with_page_headers(Html(views::page(frame, body).into_string()))
}

fn database_failure(error: &sea_orm::DbErr) -> Response {
    tracing::warn!(%error, "dashboard: reading the database failed");
    with_page_headers((
        StatusCode::INTERNAL_SERVER_ERROR,
        "The dashboard could not read the database; see the host's log.",
    ))
}
