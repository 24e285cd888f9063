//! The dashboard's POST routes: login and logout, the identity actions and resolving a conflict. An action checks the
//! session's CSRF token first (403 and nothing done when it is missing or wrong), then runs the
//! core's own `admin …` command as the dashboard's admin account, so it is permission-checked and
//! audited exactly like the same command typed in a chat; the core's reply is shown as a message.

use crate::admin::auth::{csrf_token_matches, Flash, SessionView};
use crate::admin::{views, with_page_headers, AdminState, ClientAddress, SignedIn};
use crate::core::privacy::audit::{self, AuditEntry};
use crate::core::Core;
use crate::store::kinds::AuditOutcome;
use crate::telemetry::names;
use axum::extract::{Form, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::net::IpAddr;
use whisperengine_contract::{
    Capabilities, CommandInvocation, ConversationContext, HandlerOutcome, InboundEvent, Platform,
    PlatformAccount, Visibility,
};

/// The account the dashboard acts as: `desktop:admin/dashboard`.
pub fn dashboard_account() -> PlatformAccount {
    PlatformAccount::new(Platform::Desktop, "admin", "dashboard")
        .with_display_name("admin dashboard")
}

/// Longest account or target accepted from a form.
const MAX_WORD_CHARS: usize = 300;

/// `POST /admin/login` form.
#[derive(Debug, serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub token: String,
}

/// `POST /admin/login`: a locked-out address gets 429 whatever it sends; a wrong token 401 and
/// one more failure; the right one a new session and a redirect to the overview.
pub async fn login(
    State(state): State<AdminState>,
    ClientAddress(address): ClientAddress,
    Form(form): Form<LoginForm>,
) -> Response {
    if state.gate.is_locked_out(address) {
        metrics::counter!(names::HTTP_REJECTED, "route" => "admin", "reason" => "locked_out")
            .increment(1);
        let minutes = crate::admin::auth::LOCKOUT_WINDOW.as_secs() / 60;
        let message = format!(
            "Too many wrong tokens from your address: try again in up to {minutes} minutes."
        );
        return with_page_headers((
            StatusCode::TOO_MANY_REQUESTS,
            Html(views::login_page(Some(&message)).into_string()),
        ));
    }
    if !state.gate.is_admin_token(&form.token) {
        state.gate.record_failure(address);
        metrics::counter!(names::HTTP_REJECTED, "route" => "admin", "reason" => "bad_token")
            .increment(1);
        record_login(&state.core, address, AuditOutcome::Refused).await;
        return with_page_headers((
            StatusCode::UNAUTHORIZED,
            Html(views::login_page(Some("That token is not right.")).into_string()),
        ));
    }
    state.gate.clear_failures(address);
    record_login(&state.core, address, AuditOutcome::Ok).await;
    let session = state.gate.open_session();
    let cookie = state.gate.session_cookie(&session);
    with_page_headers(([(header::SET_COOKIE, cookie)], Redirect::to("/admin")))
}

/// Audits a login attempt; a failure to write is logged, not shown (the login itself stands).
async fn record_login(core: &Core, address: IpAddr, outcome: AuditOutcome) {
    let actor = dashboard_account().to_string();
    let written = audit::record(
        &core.store.db,
        AuditEntry {
            actor: &actor,
            actor_platform: Platform::Desktop.as_str(),
            action: "admin.login",
            target: None,
            outcome,
            detail: Some(format!("dashboard login from {address}")),
        },
    )
    .await;
    if let Err(error) = written {
        tracing::warn!(%error, "dashboard: could not audit a login");
    }
}

/// A form that carries only the CSRF token (logout, host-wide isolation).
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /admin/logout`: ends the session and clears the cookie.
pub async fn logout(
    State(state): State<AdminState>,
    SignedIn(session): SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_token_matches(&session, &form.csrf) {
        return csrf_refused();
    }
    state.gate.close_session(&session.id);
    with_page_headers((
        [(header::SET_COOKIE, state.gate.clearing_cookie())],
        Redirect::to("/admin/login"),
    ))
}

/// `POST /admin/identities/link` form.
#[derive(Debug, serde::Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub first: String,
    #[serde(default)]
    pub second: String,
}

/// `POST /admin/identities/link`: `admin link <first> <second>`.
pub async fn link(
    State(state): State<AdminState>,
    SignedIn(session): SignedIn,
    Form(form): Form<LinkForm>,
) -> Response {
    let args = word("first account", &form.first).and_then(|first| {
        word("second account", &form.second).map(|second| vec!["link".into(), first, second])
    });
    run_action(&state, &session, &form.csrf, identities_page(&form.q), args).await
}

/// `POST /admin/identities/unlink` form.
#[derive(Debug, serde::Deserialize)]
pub struct UnlinkForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub account: String,
}

/// `POST /admin/identities/unlink`: `admin unlink <account>`.
pub async fn unlink(
    State(state): State<AdminState>,
    SignedIn(session): SignedIn,
    Form(form): Form<UnlinkForm>,
) -> Response {
    let args = word("account", &form.account).map(|account| vec!["unlink".into(), account]);
    run_action(&state, &session, &form.csrf, identities_page(&form.q), args).await
}

/// `POST /admin/identities/isolate` and `/release` form.
#[derive(Debug, serde::Deserialize)]
pub struct TargetForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub target: String,
}

/// `POST /admin/identities/isolate`: `admin isolate <target>`.
pub async fn isolate(
    State(state): State<AdminState>,
    SignedIn(session): SignedIn,
    Form(form): Form<TargetForm>,
) -> Response {
    let args = word("target", &form.target).map(|target| vec!["isolate".into(), target]);
    run_action(&state, &session, &form.csrf, identities_page(&form.q), args).await
}

/// `POST /admin/identities/release`: `admin release <target>`.
pub async fn release(
    State(state): State<AdminState>,
    SignedIn(session): SignedIn,
    Form(form): Form<TargetForm>,
) -> Response {
    let args = word("target", &form.target).map(|target| vec!["release".into(), target]);
    run_action(&state, &session, &form.csrf, identities_page(&form.q), args).await
}

/// One command argument from a form field: trimmed, not empty, no spaces, not too long.
fn word(field: &str, text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("The {field} is missing."));
    }
    if text.chars().count() > MAX_WORD_CHARS {
        return Err(format!(
            "The {field} is longer than {MAX_WORD_CHARS} characters."
        ));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "The {field} must be one account like slack:T0123/U0456, without spaces."
        ));
    }
    Ok(text.to_string())
}

/// Checks the CSRF token, runs `admin <args>` through the core, leaves its reply as the next
/// page's message and goes back to the identities page with the same search.
async fn run_action(
    state: &AdminState,
    session: &SessionView,
    sent_csrf: &str,
    back: String,
    args: Result<Vec<String>, String>,
) -> Response {
    if !csrf_token_matches(session, sent_csrf) {
        return csrf_refused();
    }
    let flash = match args {
        Ok(args) => match run_admin_command(&state.core, args).await {
            Some(reply) => Flash {
                text: plain_text(&reply),
                is_error: false,
            },
            None => Flash {
                text: "The core did not answer that command.".into(),
                is_error: true,
            },
        },
        Err(problem) => Flash {
            text: problem,
            is_error: true,
        },
    };
    state.gate.set_flash(&session.id, flash);
    with_page_headers(Redirect::to(&back))
}

/// The identities page with the search `query`.
fn identities_page(query: &str) -> String {
    let mut back = url::form_urlencoded::Serializer::new(String::new());
    back.append_pair("q", query.trim());
    format!("/admin/identities?{}", back.finish())
}

/// `POST /admin/host/isolate`: `admin isolate all`.
pub async fn isolate_host(
    State(state): State<AdminState>,
    SignedIn(session): SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    let args = Ok(vec!["isolate".into(), "all".into()]);
    run_action(&state, &session, &form.csrf, "/admin".into(), args).await
}

/// `POST /admin/host/release`: `admin release all`.
pub async fn release_host(
    State(state): State<AdminState>,
    SignedIn(session): SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    let args = Ok(vec!["release".into(), "all".into()]);
    run_action(&state, &session, &form.csrf, "/admin".into(), args).await
}

/// `POST /admin/conflicts/resolve` form.
#[derive(Debug, serde::Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub choice: String,
    #[serde(default)]
    pub page: Option<u64>,
}

/// `POST /admin/conflicts/resolve`: `admin conflicts resolve <id> <1|2>`, back to the same page
/// of the conflicts queue.
pub async fn resolve_conflict(
    State(state): State<AdminState>,
    SignedIn(session): SignedIn,
    Form(form): Form<ResolveForm>,
) -> Response {
    let id = form.id.trim();
    let args = match (id.parse::<i64>(), form.choice.trim()) {
        (Ok(_), choice @ ("1" | "2")) => Ok(vec![
            "conflicts".into(),
            "resolve".into(),
            id.to_string(),
            choice.to_string(),
        ]),
        (Err(_), _) => Err("The conflict id is missing or not a number.".to_string()),
        _ => Err("Choose which value to keep: 1 or 2.".to_string()),
    };
    let back = format!("/admin/conflicts?page={}", form.page.unwrap_or(1).max(1));
    run_action(&state, &session, &form.csrf, back, args).await
}

/// Runs `admin <args>` as the dashboard's admin account through the core's command handler and
/// returns its reply text (`None` if the core sent no reply).
pub async fn run_admin_command(core: &Core, args: Vec<String>) -> Option<String> {
    let invocation = CommandInvocation {
        event_id: format!("admin-dashboard-{}", uuid::Uuid::new_v4()).into(),
        invoker: dashboard_account(),
        context: ConversationContext {
            scope: "admin".into(),
            channel_id: "dashboard".into(),
            thread_id: None,
            visibility: Visibility::Private,
        },
        name: "admin".into(),
        args,
        invoker_is_admin: true,
    };
    let capabilities = Capabilities {
        supports_ephemeral: true,
        ..Capabilities::LOCAL
    };
    match core
        .handle_event(InboundEvent::Command(invocation), capabilities)
        .await
    {
        HandlerOutcome::Reply(reply) => Some(reply.text),
        HandlerOutcome::Duplicate | HandlerOutcome::Ignored(_) => None,
    }
}

/// The core's markdown reply as plain text for the message bar (`**`, `` ` `` and `_` markers go).
fn plain_text(markdown: &str) -> String {
    markdown
        .replace("**", "")
        .replace('`', "")
        .lines()
        .map(|line| line.trim_matches('_'))
        .collect::<Vec<_>>()
        .join("\n")
}

fn csrf_refused() -> Response {
    metrics::counter!(names::HTTP_REJECTED, "route" => "admin", "reason" => "csrf").increment(1);
    with_page_headers((
        StatusCode::FORBIDDEN,
        "This form is missing its security token or carries an old one: reload the page and try again.",
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_become_one_command_word_or_a_reason() {
        assert_eq!(word("account", "  slack:T1/U1 "), Ok("slack:T1/U1".into()));
        assert!(word("account", "   ").unwrap_err().contains("missing"));
        assert!(word("account", "slack:T1/U1 all")
            .unwrap_err()
            .contains("without spaces"));
        assert!(word("account", &"x".repeat(MAX_WORD_CHARS + 1))
            .unwrap_err()
            .contains("longer"));
    }

    #[test]
    fn replies_lose_their_markdown_markers() {
        assert_eq!(
            plain_text("Linked **slack:T1/U1** and `discord:42`."),
            "Linked slack:T1/U1 and discord:42."
        );
    }
}
