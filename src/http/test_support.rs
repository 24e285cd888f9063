//! Test helpers for the probes: a fixed readiness probe, and the router (plus any merged routes)
//! served on 127.0.0.1:0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{router, serve, HttpState, ReadinessProbe};
use crate::telemetry::install_metrics;
use axum::Router;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A readiness probe with a fixed answer.
pub struct FixedProbe(pub Result<(), String>);

#[async_trait::async_trait]
impl ReadinessProbe for FixedProbe {
    async fn check(&self) -> Result<(), String> {
        self.0.clone()
    }
}

/// A ready host without a metrics token; tweak before `spawn`.
pub fn test_state() -> HttpState {
    HttpState {
        readiness: Arc::new(FixedProbe(Ok(()))),
        metrics: install_metrics(),
        metrics_token: None,
    }
}

/// A running test server.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    /// Dropping it shuts the server down.
    pub _shutdown: oneshot::Sender<()>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// Serves `router(state)` merged with `more` on 127.0.0.1:0, as the host does.
pub async fn spawn_with(state: HttpState, more: Router) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, receiver) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, router(state).merge(more), async move {
        let _ = receiver.await;
    }));
    TestApp {
        base_url: format!("http://{address}"),
        client: reqwest::Client::new(),
        _shutdown: sender,
    }
}

/// Serves `router(state)` on 127.0.0.1:0.
pub async fn spawn(state: HttpState) -> TestApp {
    spawn_with(state, Router::new()).await
}
