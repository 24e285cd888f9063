//! The local chat page: one HTML page, a small vanilla script and a stylesheet, embedded in the
//! binary (no build step, no external resources: the host may be offline).
//!
//! The page is served with a strict Content-Security-Policy (scripts and styles from this origin
//! only, no inline script), so even a rendering bug in the script cannot run injected code.

use crate::LocalState;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// Everything the page loads comes from this origin; nothing may frame it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `GET /`: the chat page, or a short notice when the local chat is disabled.
pub async fn index(State(state): State<LocalState>) -> Response {
    let html = if state.chat_enabled {
        render_index(&state.companion_name, state.banner.as_deref())
    } else {
        render_disabled(&state.companion_name)
    };
    with_page_headers(Html(html))
}

/// `GET /app.js`.
pub async fn script() -> Response {
    with_page_headers((
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    ))
}

/// `GET /style.css`.
pub async fn stylesheet() -> Response {
    with_page_headers((
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLE_CSS,
    ))
}

/// The page with the companion's name and the banner filled in (both HTML-escaped).
pub fn render_index(companion_name: &str, banner: Option<&str>) -> String {
    let banner = match banner {
        Some(text) if !text.trim().is_empty() => format!(
            "<p class=\"banner\" role=\"note\">{}</p>",
            escape_html(text)
        ),
        _ => String::new(),
    };
    INDEX_HTML
        .replace("{{companion}}", &escape_html(companion_name))
        .replace("{{banner}}", &banner)
}

fn render_disabled(companion_name: &str) -> String {
    let name = escape_html(companion_name);
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{name}</title><link rel=\"stylesheet\" href=\"/style.css\"></head>\
         <body><main class=\"disabled\"><h1>{name}</h1>\
         <p>The local chat is disabled on this host. Talk to {name} on Discord, Slack or Teams.</p>\
         </main></body></html>\n"
    )
}

fn with_page_headers(response: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        response,
    )
        .into_response()
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_companion_name_and_banner_are_escaped_into_the_page() {
        let html = render_index("<Elena & co>", Some("Demo: data is <b>deleted</b> daily"));
        assert!(
            html.contains("<title>&lt;Elena &amp; co&gt;</title>"),
            "{html}"
        );
        assert!(html.contains("Demo: data is &lt;b&gt;deleted&lt;/b&gt; daily"));
        assert!(!html.contains("{{"), "every placeholder is filled");
    }

    #[test]
    fn no_banner_leaves_no_banner_element() {
        let html = render_index("Elena", None);
        assert!(!html.contains("class=\"banner\""));
        let html = render_index("Elena", Some("  "));
        assert!(!html.contains("class=\"banner\""));
    }

    #[test]
    fn the_page_loads_nothing_from_other_origins() {
        for asset in [INDEX_HTML, APP_JS, STYLE_CSS] {
            assert!(!asset.contains("http://"), "external reference in an asset");
            assert!(
                !asset.contains("https://"),
                "external reference in an asset"
            );
            assert!(
                !asset.contains("@import"),
                "external stylesheet in an asset"
            );
        }
        assert!(
            !INDEX_HTML.contains("<script>"),
            "no inline script under the CSP"
        );
    }

    #[tokio::test]
    async fn the_page_and_its_assets_are_served_with_their_content_types() {
        use crate::test_support::{spawn, test_state, RecordingHandler};
        let app = spawn(test_state(std::sync::Arc::new(RecordingHandler::default()))).await;
        for (path, content_type, marker) in [
            ("/", "text/html; charset=utf-8", "<title>Elena</title>"),
            ("/app.js", "text/javascript; charset=utf-8", "/api/chat"),
            ("/style.css", "text/css; charset=utf-8", ".composer"),
        ] {
            let response = app.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(response.headers()["content-type"], content_type, "{path}");
            assert!(response.headers().contains_key("content-security-policy"));
            assert!(response.text().await.unwrap().contains(marker), "{path}");
        }
    }

    #[tokio::test]
    async fn a_disabled_chat_shows_a_notice_instead_of_the_page() {
        use crate::test_support::{spawn, test_state, RecordingHandler};
        let mut state = test_state(std::sync::Arc::new(RecordingHandler::default()));
        state.chat_enabled = false;
        let app = spawn(state).await;
        let response = app.client.get(app.url("/")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let html = response.text().await.unwrap();
        assert!(html.contains("local chat is disabled"), "{html}");
        assert!(!html.contains("app.js"));
    }
}
