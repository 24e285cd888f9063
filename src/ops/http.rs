//! `GET /export/{token}`: the download behind an `export` link. A token works once, for
//! [`crate::core::privacy::export::LINK_TTL_MINUTES`] minutes; a wrong, used or expired one gets 404/410 and
//! changes nothing.

use crate::core::privacy::export::{self, Download};
use crate::core::Core;
use crate::telemetry::names;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The route, to `.merge()` into the host's router.
pub fn routes(core: Core) -> Router {
    Router::new()
        .route("/export/{token}", get(download))
        .with_state(core)
}

fn refuse(status: StatusCode, reason: &'static str, message: &'static str) -> Response {
    metrics::counter!(names::HTTP_REJECTED, "route" => "/export", "reason" => reason).increment(1);
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

async fn download(State(core): State<Core>, Path(token): Path<String>) -> Response {
    match export::redeem(&core.store, &token).await {
        Ok(Download::Document(document)) => {
            let body = match serde_json::to_vec_pretty(&document) {
                Ok(body) => body,
                Err(error) => {
                    tracing::error!(%error, "export could not be serialised");
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            };
            (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"whisperengine-export.json\"",
                    ),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                body,
            )
                .into_response()
        }
        Ok(Download::Unknown) => {
            refuse(StatusCode::NOT_FOUND, "bad_token", "unknown download link")
        }
        Ok(Download::Expired) => refuse(
            StatusCode::GONE,
            "expired_token",
            "this download link has expired: ask for a new one with `export`",
        ),
        Ok(Download::AlreadyUsed) => refuse(
            StatusCode::GONE,
            "used_token",
            "this download link was already used: ask for a new one with `export`",
        ),
        Err(error) => {
            tracing::error!(%error, "export failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
