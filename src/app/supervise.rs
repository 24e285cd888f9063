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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use async_trait::async_trait;
    use std::sync::Mutex;
    use std::time::Duration;
    use tokio::time::Instant;
    use whisperengine_contract::{Capabilities, HandlerOutcome, InboundEvent, Platform, Shutdown};

    /// A connector that fails every run with the error it is built with, noting when each run began.
    struct Failing {
        refused: bool,
        runs: Mutex<Vec<Instant>>,
    }

    #[async_trait]
    impl Connector for Failing {
        fn platform(&self) -> Platform {
            Platform::Slack
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::LOCAL
        }
        async fn run(
            self: Arc<Self>,
            _handler: Arc<dyn EventHandler>,
            _shutdown: Shutdown,
        ) -> Result<(), ConnectorError> {
            self.runs.lock().unwrap().push(Instant::now());
            Err(if self.refused {
                ConnectorError::BadCredentials {
                    platform: Platform::Slack,
                    setting: "SLACK_BOT_TOKEN",
                    reason: "invalid_auth".into(),
                }
            } else {
                ConnectorError::Failed {
                    platform: Platform::Slack,
                    reason: "connection reset".into(),
                }
            })
        }
    }

    struct Silent;

    #[async_trait]
    impl EventHandler for Silent {
        async fn handle(
            &self,
            _event: InboundEvent,
            _capabilities: Capabilities,
        ) -> HandlerOutcome {
            HandlerOutcome::Ignored("test")
        }
    }

    fn failing(refused: bool) -> Arc<Failing> {
        Arc::new(Failing {
            refused,
            runs: Mutex::new(Vec::new()),
        })
    }

    // The clock is paused: minutes of back-off pass in virtual time.
    #[tokio::test(start_paused = true)]
    async fn a_failing_connector_is_retried_with_a_doubling_pause_until_the_host_stops() {
        let connector = failing(false);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let started = Instant::now();
        let task = tokio::spawn(run_connector(connector.clone(), Arc::new(Silent), stopped));
        tokio::time::sleep(Duration::from_secs(5 + 10 + 20 + 40 + 1)).await;
        let pauses: Vec<Duration> = connector
            .runs
            .lock()
            .unwrap()
            .iter()
            .map(|run| run.duration_since(started))
            .collect();
        assert_eq!(
            pauses,
            [0, 5, 15, 35, 75].map(Duration::from_secs),
            "runs at 0 s, then after 5, 10, 20 and 40 s"
        );
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_millis(1), task)
            .await
            .expect("stops during its pause, at once")
            .unwrap();
        assert_eq!(
            connector.runs.lock().unwrap().len(),
            5,
            "no run after the stop"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_credential_stops_the_connector_without_a_retry() {
        let connector = failing(true);
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        tokio::time::timeout(
            Duration::from_secs(1),
            run_connector(connector.clone(), Arc::new(Silent), stopped),
        )
        .await
        .expect("returns at once");
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(connector.runs.lock().unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_pause_between_retries_stops_growing_at_five_minutes() {
        let connector = failing(false);
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(run_connector(connector.clone(), Arc::new(Silent), stopped));
        tokio::time::sleep(Duration::from_secs(3 * 3600)).await;
        let runs = connector.runs.lock().unwrap();
        let longest = runs
            .windows(2)
            .map(|pair| pair[1].duration_since(pair[0]))
            .max()
            .unwrap();
        assert_eq!(longest, Duration::from_secs(300));
    }
}
