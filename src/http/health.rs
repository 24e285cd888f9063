//! Probes for orchestrators and monitoring: liveness (`/healthz`), readiness (`/readyz`) and the
//! Prometheus scrape endpoint (`/metrics`).

use super::HttpState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The content type of the Prometheus text exposition format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// `GET /healthz`: the process is up and answering.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 `{"status":"ready"}` when the readiness probe passes (with `degraded`
/// listing what works less well, if anything), else 503 with the reason.
pub async fn readyz(State(state): State<HttpState>) -> Response {
    match state.readiness.check().await {
        Ok(()) => {
            let degraded = state.readiness.degraded().await;
            if degraded.is_empty() {
                Json(serde_json::json!({ "status": "ready" })).into_response()
            } else {
                tracing::warn!(?degraded, "ready, degraded");
                Json(serde_json::json!({ "status": "ready", "degraded": degraded })).into_response()
            }
        }
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "not ready", "reason": reason })),
            )
                .into_response()
        }
    }
}

/// `GET /metrics`: every metric of the process in the Prometheus text format; with METRICS_TOKEN
/// set, only for `Authorization: Bearer <token>` (401 otherwise).
pub async fn metrics(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.metrics_token {
        if !token.admits(&headers) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "this endpoint needs `Authorization: Bearer <METRICS_TOKEN>`\n",
            )
                .into_response();
        }
    }
    (
        [(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::http::test_support::{spawn, spawn_with, test_state, FixedProbe};
    use std::sync::Arc;
    use whisperengine_contract::{Capabilities, EventHandler, HandlerOutcome, InboundEvent};

    #[tokio::test]
    async fn healthz_answers_ok() {
        let app = spawn(test_state()).await;
        let response = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "ok");
    }

    #[tokio::test]
    async fn readyz_reports_ready_or_the_reason_it_is_not() {
        let app = spawn(test_state()).await;
        let response = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "ready"}));

        let mut state = test_state();
        state.readiness = Arc::new(FixedProbe(Err("database unreachable".into())));
        let app = spawn(state).await;
        let response = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(response.status(), 503);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            body,
            serde_json::json!({"status": "not ready", "reason": "database unreachable"})
        );
    }

    #[tokio::test]
    async fn metrics_are_served_in_the_prometheus_text_format() {
        let app = spawn(test_state()).await;
        metrics::counter!(crate::telemetry::names::COMMANDS, "command" => "health_test")
            .increment(1);
        let response = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; version=0.0.4"
        );
        let text = response.text().await.unwrap();
        assert!(
            text.contains("whisperengine_commands_total{command=\"health_test\"} 1"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn with_a_metrics_token_only_its_bearer_may_scrape() {
        const TOKEN: &str = "a-metrics-token-of-at-least-32-characters";
        let mut state = test_state();
        state.metrics_token = Some(whisperengine_local::ApiToken::new(TOKEN));
        let app = spawn(state).await;
        let url = app.url("/metrics");
        let refused = app.client.get(&url).send().await.unwrap();
        assert_eq!(refused.status(), 401);
        assert_eq!(refused.headers()["www-authenticate"], "Bearer");
        let wrong = app
            .client
            .get(&url)
            .bearer_auth("nope")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
        let scraped = app
            .client
            .get(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(scraped.status(), 200);
        let health = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200, "probes stay open");
    }

    /// A core that answers nothing (the chat API's refusals happen before it).
    struct Silent;

    #[async_trait::async_trait]
    impl EventHandler for Silent {
        async fn handle(
            &self,
            _event: InboundEvent,
            _capabilities: Capabilities,
        ) -> HandlerOutcome {
            HandlerOutcome::Ignored("silent")
        }
    }

    fn rejected_count(metrics: &str, reason: &str) -> u64 {
        let prefix = format!(
            "whisperengine_http_rejected_total{{route=\"/api/chat\",reason=\"{reason}\"}} "
        );
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .map_or(0, |value| value.trim().parse().unwrap())
    }

    #[tokio::test]
    async fn the_local_chats_rejections_are_counted_by_reason() {
        let local = whisperengine_local::LocalState {
            handler: Arc::new(Silent),
            inbox: None,
            local_user: "owner".into(),
            local_is_admin: true,
            chat_enabled: true,
            api_token: None,
            allowed_hosts: Vec::new(),
            banner: None,
            companion_name: "Elena".into(),
            max_message_chars: 100,
            stream_replies: false,
        };
        let app = spawn_with(test_state(), whisperengine_local::routes(local)).await;
        let metrics_text = || async {
            let response = app.client.get(app.url("/metrics")).send().await.unwrap();
            response.text().await.unwrap()
        };
        let before = rejected_count(&metrics_text().await, "invalid_event_id");
        let response = app
            .client
            .post(app.url("/api/chat"))
            .json(&serde_json::json!({"text": "hi", "event_id": ""}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
        let after = rejected_count(&metrics_text().await, "invalid_event_id");
        assert!(after > before, "before {before}, after {after}");
    }
}
