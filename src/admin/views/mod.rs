//! Server-rendered HTML of the dashboard (maud: every interpolated value is HTML-escaped). The
//! shared page frame and the login page live here; each page's body has its own file.
//!
//! - [`overview`]: connectors, KPIs and the time-series charts.
//! - [`identities`]: search, linked accounts, link / unlink / isolate / release forms.
//! - [`logs`]: the conflicts queue and the audit log with filters, both paginated.

pub mod identities;
pub mod logs;
pub mod overview;

use crate::admin::auth::Flash;
use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};

/// The pages in the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Identities,
    Conflicts,
    Audit,
}

impl Nav {
    const ALL: [Nav; 4] = [Nav::Overview, Nav::Identities, Nav::Conflicts, Nav::Audit];

    fn path(self) -> &'static str {
        match self {
            Nav::Overview => "/admin",
            Nav::Identities => "/admin/identities",
            Nav::Conflicts => "/admin/conflicts",
            Nav::Audit => "/admin/audit",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Nav::Overview => "Overview",
            Nav::Identities => "Identities",
            Nav::Conflicts => "Conflicts",
            Nav::Audit => "Audit log",
        }
    }
}

/// What every signed-in page shows around its body.
pub struct Frame<'a> {
    pub title: &'a str,
    pub active: Nav,
    /// The session's CSRF token, put in every form.
    pub csrf_token: &'a str,
    pub flash: Option<Flash>,
    /// Reload the page every this many seconds (the overview's charts), if set.
    pub refresh_seconds: Option<u32>,
}

/// A signed-in page: navigation, the pending message, `body`.
pub fn page(frame: Frame<'_>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(frame.title))
            body data-refresh=[frame.refresh_seconds] {
                header.topbar {
                    span.brand { "WhisperEngine · admin" }
                    nav {
                        @for item in Nav::ALL {
                            a href=(item.path()) aria-current=[(item == frame.active).then_some("page")] {
                                (item.label())
                            }
                        }
                    }
                    form.logout method="post" action="/admin/logout" {
                        (csrf_field(frame.csrf_token))
                        button type="submit" { "Log out" }
                    }
                }
                main {
                    @if let Some(flash) = &frame.flash {
                        p.flash.error[flash.is_error] #flash role="status" { (flash.text) }
                    }
                    h1 { (frame.title) }
                    (body)
                }
            }
        }
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="robots" content="noindex";
            title { (title) " · WhisperEngine admin" }
            link rel="stylesheet" href="/admin/assets/admin.css";
            script src="/admin/assets/admin.js" defer {}
        }
    }
}

/// The hidden field carrying the session's CSRF token.
pub fn csrf_field(csrf_token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf_token); }
}

/// The login page, with `error` (a refusal) above the form if given.
pub fn login_page(error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Log in"))
            body.login {
                main {
                    h1 { "WhisperEngine admin" }
                    @if let Some(error) = error {
                        p.flash.error #login-error role="alert" { (error) }
                    }
                    form method="post" action="/admin/login" {
                        label for="token" { "Admin token" }
                        input #token type="password" name="token" autocomplete="current-password" required autofocus;
                        button #login type="submit" { "Log in" }
                    }
                    p.hint { "The token is the host's ADMIN_TOKEN setting." }
                }
            }
        }
    }
}

/// A time for people: `2026-11-25 13:40:05 UTC`, marked up so the script can add "3 min ago".
pub fn time(at: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S UTC")) }
    }
}

/// An optional time, or a dash.
pub fn maybe_time(at: Option<DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => time(at),
        None => html! { span.muted { "—" } },
    }
}

/// Previous / next links for a paginated list; `link(page)` builds each page's URL.
pub fn pagination(number: u64, page_count: u64, link: impl Fn(u64) -> String) -> Markup {
    html! {
        nav.pagination aria-label="pages" {
            @if number > 1 {
                a rel="prev" href=(link(number - 1)) { "← newer" }
            }
            span { "page " (number) " of " (page_count) }
            @if number < page_count {
                a rel="next" href=(link(number + 1)) { "older →" }
            }
        }
    }
}

/// `text` cut to `max` characters with an ellipsis.
pub fn shortened(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolated_text_is_escaped() {
        let frame = Frame {
            title: "<script>alert(1)</script>",
            active: Nav::Overview,
            csrf_token: "\"><img src=x>",
            flash: Some(Flash {
                text: "<b>bold</b>".into(),
                is_error: false,
            }),
            refresh_seconds: None,
        };
        let html = page(frame, html! { p { "body" } }).into_string();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("\"><img"), "{html}");
        assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"));
    }

    #[test]
    fn the_current_page_is_marked_in_the_navigation() {
        let frame = Frame {
            title: "Audit log",
            active: Nav::Audit,
            csrf_token: "t",
            flash: None,
            refresh_seconds: Some(15),
        };
        let html = page(frame, html! {}).into_string();
        assert!(html.contains("<a href=\"/admin/audit\" aria-current=\"page\">"));
        assert!(html.contains("data-refresh=\"15\""));
    }
}
