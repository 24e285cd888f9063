//! The dashboard's stylesheet and script, embedded in the binary (no build step, no CDN).

use crate::admin::with_page_headers;
use axum::http::header;
use axum::response::Response;

const ADMIN_CSS: &str = include_str!("assets/admin.css");
const ADMIN_JS: &str = include_str!("assets/admin.js");

/// `GET /admin/assets/admin.css`.
pub async fn stylesheet() -> Response {
    with_page_headers((
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        ADMIN_CSS,
    ))
}

/// `GET /admin/assets/admin.js`.
pub async fn script() -> Response {
    with_page_headers((
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        ADMIN_JS,
    ))
}
