//! Keeping the connectors running while the host runs, and the signal that stops it.

use std::sync::Arc;
use whisperengine_contract::{Connector, ConnectorError, EventHandler};

/// Runs a connector until `stopped` turns true. A refused credential stops it for good (said once,
/// naming the setting: restarting cannot help); other failures are retried with a growing pause.
pub(super) async fn run_connector(
    connector: Arc<dyn Connector>,
    handler: Arc<dyn EventHandler>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let platform = connector.platform();
    let mut pause = std::time::Duration::from_secs(5);
    loop {
        let mut signal = stopped.clone();
        let shutdown = Box::pin(async move {
            let _ = signal.wait_for(|stop| *stop).await;
        });
        match connector.clone().run(handler.clone(), shutdown).await {
            Ok(()) => return,
            Err(error @ ConnectorError::BadCredentials { .. }) => {
                let name = platform.display_name();
                tracing::error!(%platform, "{error}. The {name} connector is off until the setting is fixed and the host restarted.");
                return;
            }
            Err(error) => {
                tracing::warn!(%platform, %error, retry_in = ?pause, "connector stopped; retrying");
            }
        }
        if *stopped.borrow() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        pause = (pause * 2).min(std::time::Duration::from_secs(300));
    }
}

/// Waits (at most 10 s) for the connectors to finish their in-flight events.
pub(super) async fn wait_for_connectors(tasks: Vec<tokio::task::JoinHandle<()>>) {
    let all = futures_util::future::join_all(tasks);
    if tokio::time::timeout(std::time::Duration::from_secs(10), all)
        .await
        .is_err()
    {
        tracing::warn!("connectors did not stop within 10 s");
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight messages");
}
