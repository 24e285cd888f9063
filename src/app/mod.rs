//! The composition root: settings → store → personality → responder → core → work queue and
//! inbox → HTTP routes and connectors, then running them until a shutdown signal and draining.
//! What each part is built from lives in [`crate::setup`]; tests build the same [`Application`]
//! on port 0.
//!
//! - [`readiness`]: what `/readyz` checks for the host.
//! - [`supervise`]: restarting a connector that stopped, and the shutdown signal.

mod readiness;
mod supervise;

pub use supervise::shutdown_signal;

use crate::config::{DeploymentMode, Settings};
use crate::core::turn::inbox::DurableInbox;
use crate::core::turn::workers::Workers;
use crate::core::Core;
use crate::http::HttpState;
use crate::setup::{build_core, discord_config, slack_config, teams_config};
use anyhow::Context;
use readiness::StoreReadiness;
use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::sync::Arc;
use supervise::{run_connector, wait_for_connectors};
use whisperengine_contract::{Connector, EventHandler, Inbox, Platform};

/// The running host: its core, its bound HTTP listener and the connectors that run as tasks.
pub struct Application {
    pub core: Core,
    /// The bounded work queue of acknowledged events (Slack, Teams, local chat API) and its
    /// workers; drained on shutdown.
    pub workers: Arc<Workers>,
    /// The durable inbox: stores Slack and Teams events before they are acknowledged and takes
    /// over those a stopped process did not finish.
    pub inbox: DurableInbox,
    listener: tokio::net::TcpListener,
    router: axum::Router,
    connectors: Vec<Arc<dyn Connector>>,
}

impl Application {
    /// Builds everything and binds HTTP_BIND (port 0 picks a free port).
    pub async fn build(mut settings: Settings) -> anyhow::Result<Application> {
        let listener = tokio::net::TcpListener::bind(settings.http_bind)
            .await
            .with_context(|| format!("HTTP_BIND: cannot listen on {}", settings.http_bind))?;
        // Port 0 picks a free port: from here on the settings name the one actually bound (links
        // the host hands out, such as `export`'s, point at it).
        if let Ok(bound) = listener.local_addr() {
            settings.http_bind = bound;
        }
        for warning in settings.start_warnings() {
            tracing::warn!("{warning}");
        }
        let settings = Arc::new(settings);
        let core = build_core(settings.clone()).await?;
        let metrics = crate::telemetry::install_metrics();
        // HTTP connectors acknowledge only what this queue took.
        let workers = Workers::start(settings.intake_queue_size, settings.intake_workers);
        // Slack and Teams events are stored in the inbox before they are acknowledged.
        let inbox = DurableInbox::new(
            workers.clone(),
            core.store.db.clone(),
            core.store.cipher.clone(),
            core.store.origin,
            settings.inbox_lease,
        );
        inbox
            .beat()
            .await
            .context("the inbox heartbeat (inbox_owner) cannot be written")?;
        let shared_inbox: Arc<dyn Inbox> = Arc::new(inbox.clone());
        let state = HttpState {
            readiness: Arc::new(StoreReadiness(core.store.clone(), workers.clone())),
            metrics: metrics.clone(),
            metrics_token: settings
                .metrics_token
                .as_ref()
                .map(|token| whisperengine_local::ApiToken::new(token.expose_secret())),
        };
        let local = whisperengine_local::LocalState {
            handler: Arc::new(core.clone()),
            inbox: Some(shared_inbox.clone()),
            local_user: settings.local_user.clone(),
            local_is_admin: settings.deployment_mode == DeploymentMode::Desktop,
            // Outside desktop mode the local chat is on only behind LOCAL_API_TOKEN.
            chat_enabled: settings.deployment_mode == DeploymentMode::Desktop
                || settings.local_api_token.is_some(),
            api_token: settings
                .local_api_token
                .as_ref()
                .map(|token| whisperengine_local::ApiToken::new(token.expose_secret())),
            allowed_hosts: settings
                .public_url
                .as_ref()
                .and_then(|url| url.host_str())
                .map(|host| vec![host.to_string()])
                .unwrap_or_default(),
            banner: banner(&settings),
            companion_name: core.personality.name.clone(),
            max_message_chars: settings.max_message_chars,
            stream_replies: settings.stream_replies.contains(&Platform::Desktop),
        };
        let mut router = crate::http::router(state)
            .merge(whisperengine_local::routes(local))
            .merge(crate::ops::http::routes(core.clone()));
        if let Some(teams) = teams_config(&settings) {
            router = router.merge(whisperengine_teams::routes(
                teams,
                Arc::new(core.clone()),
                shared_inbox.clone(),
            ));
        }
        if let Some(admin) = crate::admin::router(&core, metrics) {
            router = router.merge(admin);
        }
        let mut connectors: Vec<Arc<dyn Connector>> = Vec::new();
        if let Some(discord) = discord_config(&settings)? {
            connectors.push(Arc::new(whisperengine_discord::DiscordConnector::new(
                discord,
                Some(shared_inbox.clone()),
            )));
        }
        if let Some(slack) = slack_config(&settings) {
            if slack.signing_secret.is_some() {
                let routes = whisperengine_slack::routes(
                    slack.clone(),
                    Arc::new(core.clone()),
                    shared_inbox.clone(),
                )
                .context("Slack connector")?;
                router = router.merge(routes);
            }
            if slack.app_token.is_some() {
                connectors.push(Arc::new(whisperengine_slack::SocketModeConnector::new(
                    slack,
                    shared_inbox.clone(),
                )));
            }
        }
        Ok(Application {
            core,
            workers,
            inbox,
            listener,
            router,
            connectors,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests and flushes the hot layer.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let flusher = self.core.spawn_periodic_flush();
        let expiry = crate::core::ops::lifecycle::spawn_expiry_task(
            &self.core,
            crate::core::ops::lifecycle::EXPIRY_INTERVAL,
        );
        let kpis =
            crate::core::ops::kpi::spawn_kpi_task(&self.core, crate::core::ops::kpi::KPI_INTERVAL);
        let inbox_upkeep = self.inbox.spawn_upkeep();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let handler: Arc<dyn EventHandler> = Arc::new(self.core.clone());
        let connectors: Vec<_> = self
            .connectors
            .into_iter()
            .map(|connector| {
                tokio::spawn(run_connector(connector, handler.clone(), stopped.clone()))
            })
            .collect();
        let stop_on_signal = stop.clone();
        let workers = self.workers.clone();
        let served = crate::http::serve(self.listener, self.router, async move {
            shutdown.await;
            // From here on HTTP connectors answer 503 (the platforms retry elsewhere or later).
            workers.stop_accepting();
            let _ = stop_on_signal.send(true);
        })
        .await;
        let _ = stop.send(true);
        // Every acknowledged event is processed (and answered) before the process exits.
        let pending = self.workers.pending();
        if pending > 0 {
            tracing::info!(pending, "shutdown: processing acknowledged events");
        }
        self.workers.drain(self.core.settings.shutdown_drain).await;
        // The rows of delivered replies are deleted before the process exits; what did not finish
        // stays, and is taken over once this process's heartbeat runs out.
        self.inbox.flush().await;
        inbox_upkeep.abort();
        wait_for_connectors(connectors).await;
        flusher.abort();
        kpis.abort();
        if let Some(expiry) = expiry {
            expiry.abort();
        }
        let flushed = self.core.flush_hot_state().await;
        served.context("HTTP server")?;
        flushed.context("flushing the hot layer")?;
        Ok(())
    }
}

/// The notice the local page shows, if any.
fn banner(settings: &Settings) -> Option<String> {
    (settings.deployment_mode == DeploymentMode::Demo).then(|| {
        format!(
            "Demo mode: conversations are kept for {} and then deleted.",
            humanize(settings.demo_data_ttl)
        )
    })
}

fn humanize(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs();
    if seconds % 86_400 == 0 && seconds >= 86_400 {
        format!("{} day(s)", seconds / 86_400)
    } else if seconds % 3600 == 0 && seconds >= 3600 {
        format!("{} hours", seconds / 3600)
    } else if seconds % 60 == 0 && seconds >= 60 {
        format!("{} minutes", seconds / 60)
    } else {
        format!("{seconds} seconds")
    }
}
