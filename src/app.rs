//! Wiring the host together: settings → store → personality → responder → core → HTTP listener (and,
//! as they land, the platform connectors). Tests build the same [`Application`] on port 0.

use crate::config::{DeploymentMode, Settings, ShardSetting};
use crate::core::Core;
use crate::http::{HttpState, ReadinessProbe};
use crate::llm::{OfflineResponder, OpenAiClient, Responder};
use crate::personality::Personality;
use crate::store::{Store, StoreOptions};
use anyhow::Context;
use async_trait::async_trait;
use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::sync::Arc;
use whisperengine_contract::{Connector, ConnectorError, EventHandler};

/// Platform connectors this build contains (the others are reported as not built yet).
pub const CONNECTORS_BUILT: &[&str] = &["discord", "slack", "teams"];

/// The store options the settings describe.
pub fn store_options(settings: &Settings) -> StoreOptions {
    StoreOptions {
        database_url: settings.database_url.clone(),
        database_display: settings.database_display(),
        redis_url: settings.redis_url.as_ref().map(|url| url.to_string()),
        redis_key_prefix: settings.redis_key_prefix.clone(),
        hot_capacity: settings.hot_cache_capacity,
        hot_refresh: settings.memory_sync_interval,
        encryption_key: settings.data_encryption_key.clone(),
        conflict_policy: crate::store::ConflictPolicy::from(settings),
    }
}

/// The LLM client the settings describe, if LLM_BASE_URL is set.
pub fn llm_client(settings: &Settings) -> Option<Result<OpenAiClient, crate::llm::LlmError>> {
    settings.llm_base_url.as_ref().map(|base_url| {
        OpenAiClient::new(
            base_url.clone(),
            settings.llm_api_key.clone(),
            settings.llm_model.clone(),
            settings.llm_timeout,
            settings.llm_max_retries,
            settings.llm_max_tokens,
            settings.llm_temperature,
        )
    })
}

/// The responder the settings ask for: the LLM endpoint, or the offline responder.
pub fn responder(
    settings: &Settings,
    personality: &Arc<Personality>,
) -> anyhow::Result<Arc<dyn Responder>> {
    Ok(match llm_client(settings) {
        Some(client) => Arc::new(client.context("LLM_BASE_URL")?),
        None => Arc::new(OfflineResponder::new(personality.clone())),
    })
}

/// Builds the core (store opened and migrated) from settings.
pub async fn build_core(settings: Arc<Settings>) -> anyhow::Result<Core> {
    let personality = Arc::new(
        Personality::load(&settings.personalities_dir, &settings.personality)
            .context("PERSONALITY")?,
    );
    let store = Store::open(&store_options(&settings))
        .await
        .context("DATABASE_URL")?;
    let responder = responder(&settings, &personality)?;
    Ok(Core::new(settings, store, personality, responder))
}

/// Ready when the store answers (within [`READINESS_TIMEOUT`]) and the intake takes events (not
/// while shutting down).
struct StoreReadiness(Store, Arc<crate::core::turn::intake::IntakeQueue>);

/// A probe must answer quickly: a database that does not answer within this is unreachable.
const READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

#[async_trait]
impl ReadinessProbe for StoreReadiness {
    async fn check(&self) -> Result<(), String> {
        if !self.1.is_accepting() {
            return Err("shutting down".into());
        }
        tokio::time::timeout(READINESS_TIMEOUT, self.0.check_ready())
            .await
            .unwrap_or_else(|_| Err("database unreachable: no answer within 2 s".into()))
    }

    async fn degraded(&self) -> Vec<String> {
        let redis = tokio::time::timeout(READINESS_TIMEOUT, self.0.check_redis())
            .await
            .unwrap_or_else(|_| Err("redis unreachable: no answer within 2 s".into()));
        redis
            .err()
            .map(|reason| {
                format!("{reason} (other processes see changes through the SQL change feed)")
            })
            .into_iter()
            .collect()
    }
}

/// The running host: its core, its bound HTTP listener and the connectors that run as tasks.
pub struct Application {
    pub core: Core,
    /// The bounded queue of acknowledged events (Slack, Teams, local chat API); drained on shutdown.
    pub intake: Arc<crate::core::turn::intake::IntakeQueue>,
    /// The durable side of the intake: stores Slack and Teams events before they are acknowledged
    /// and takes over those a stopped process did not finish.
    pub inbox: crate::core::turn::inbox::DurableIntake,
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
        let queue = crate::core::turn::intake::IntakeQueue::start(
            settings.intake_queue_size,
            settings.intake_workers,
        );
        // Slack and Teams events are stored in the inbox before they are acknowledged.
        let inbox = crate::core::turn::inbox::DurableIntake::new(
            queue.clone(),
            core.store.db.clone(),
            core.store.cipher.clone(),
            core.store.origin,
            settings.inbox_lease,
        );
        inbox
            .beat()
            .await
            .context("the inbox heartbeat (inbox_owner) cannot be written")?;
        let intake: Arc<dyn whisperengine_contract::Intake> = Arc::new(inbox.clone());
        let state = HttpState {
            readiness: Arc::new(StoreReadiness(core.store.clone(), queue.clone())),
            metrics: metrics.clone(),
            metrics_token: settings
                .metrics_token
                .as_ref()
                .map(|token| whisperengine_local::ApiToken::new(token.expose_secret())),
        };
        let local = whisperengine_local::LocalState {
            handler: Arc::new(core.clone()),
            intake: Some(intake.clone()),
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
        };
        let mut router = crate::http::router(state)
            .merge(whisperengine_local::routes(local))
            .merge(crate::ops::http::routes(core.clone()));
        if let Some(teams) = teams_config(&settings) {
            router = router.merge(whisperengine_teams::routes(
                teams,
                Arc::new(core.clone()),
                intake.clone(),
            ));
        }
        if let Some(admin) = crate::admin::router(&core, metrics) {
            router = router.merge(admin);
        }
        let mut connectors: Vec<Arc<dyn Connector>> = Vec::new();
        if let Some(discord) = discord_config(&settings)? {
            connectors.push(Arc::new(whisperengine_discord::DiscordConnector::new(
                discord,
            )));
        }
        if let Some(slack) = slack_config(&settings) {
            if slack.signing_secret.is_some() {
                let routes = whisperengine_slack::routes(
                    slack.clone(),
                    Arc::new(core.clone()),
                    intake.clone(),
                )
                .context("Slack connector")?;
                router = router.merge(routes);
            }
            if slack.app_token.is_some() {
                connectors.push(Arc::new(whisperengine_slack::SocketModeConnector::new(
                    slack,
                )));
            }
        }
        Ok(Application {
            core,
            intake: queue,
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
        let intake = self.intake.clone();
        let served = crate::http::serve(self.listener, self.router, async move {
            shutdown.await;
            // From here on HTTP connectors answer 503 (the platforms retry elsewhere or later).
            intake.stop_accepting();
            let _ = stop_on_signal.send(true);
        })
        .await;
        let _ = stop.send(true);
        // Every acknowledged event is processed (and answered) before the process exits.
        let pending = self.intake.pending();
        if pending > 0 {
            tracing::info!(pending, "shutdown: processing acknowledged events");
        }
        self.intake.drain(self.core.settings.shutdown_drain).await;
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

/// The Teams connector's settings, when the mode runs connectors and the app id and password are set.
pub fn teams_config(settings: &Settings) -> Option<whisperengine_teams::TeamsConfig> {
    if !settings.deployment_mode.runs_connectors() {
        return None;
    }
    let app_id = settings.microsoft_app_id.clone()?;
    let password = settings.microsoft_app_password.clone()?;
    let mut config = whisperengine_teams::TeamsConfig::new(app_id, password);
    config.tenant_id = settings.microsoft_app_tenant_id.clone();
    config.admin_ids = settings.teams_admin_ids.clone();
    config.openid_metadata_url = settings.teams_openid_metadata_url.clone();
    config.token_url = settings.teams_token_url.clone();
    config.allowed_service_urls =
        whisperengine_teams::AllowedServiceUrls::new(settings.teams_allowed_service_urls.clone());
    Some(config)
}

/// The Discord connector's settings, when the mode runs connectors and DISCORD_TOKEN is set. Ids
/// that are not numbers stop start-up with the variable's name.
pub fn discord_config(
    settings: &Settings,
) -> anyhow::Result<Option<whisperengine_discord::DiscordConfig>> {
    if !settings.deployment_mode.runs_connectors() {
        return Ok(None);
    }
    let Some(token) = settings.discord_token.clone() else {
        return Ok(None);
    };
    let mut config = whisperengine_discord::DiscordConfig::new(token);
    config.application_id = discord_id(
        "DISCORD_APPLICATION_ID",
        settings.discord_application_id.as_deref(),
    )?;
    config.guild_id = discord_id("DISCORD_GUILD_ID", settings.discord_guild_id.as_deref())?;
    config.admin_ids = discord_ids("DISCORD_ADMIN_IDS", &settings.discord_admin_ids)?;
    config.channels = discord_ids("DISCORD_CHANNELS", &settings.discord_channels)?;
    config.api_url = settings.discord_api_url.as_ref().map(|url| url.to_string());
    config.shards = match settings.discord_shards {
        ShardSetting::Auto => whisperengine_discord::ShardPlan::Auto,
        ShardSetting::Count(count) => whisperengine_discord::ShardPlan::Count(count),
        ShardSetting::Range { first, last, total } => {
            whisperengine_discord::ShardPlan::Range { first, last, total }
        }
    };
    Ok(Some(config))
}

fn discord_id(variable: &str, text: Option<&str>) -> anyhow::Result<Option<u64>> {
    text.map(|text| {
        text.trim()
            .parse::<u64>()
            .ok()
            .filter(|id| *id != 0)
            .with_context(|| format!("{variable}: expected a Discord id (a number), got {text:?}"))
    })
    .transpose()
}

fn discord_ids(variable: &str, texts: &[String]) -> anyhow::Result<Vec<u64>> {
    texts
        .iter()
        .map(|text| discord_id(variable, Some(text)).map(Option::unwrap_or_default))
        .collect()
}

/// Runs a connector until `stopped` turns true. A refused credential stops it for good (said once,
/// naming the setting: restarting cannot help); other failures are retried with a growing pause.
async fn run_connector(
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
async fn wait_for_connectors(tasks: Vec<tokio::task::JoinHandle<()>>) {
    let all = futures_util::future::join_all(tasks);
    if tokio::time::timeout(std::time::Duration::from_secs(10), all)
        .await
        .is_err()
    {
        tracing::warn!("connectors did not stop within 10 s");
    }
}

/// The Slack connector's settings, when the mode runs connectors and SLACK_BOT_TOKEN is set (the
/// HTTP routes need SLACK_SIGNING_SECRET, Socket Mode SLACK_APP_TOKEN).
pub fn slack_config(settings: &Settings) -> Option<whisperengine_slack::SlackConfig> {
    if !settings.deployment_mode.runs_connectors() {
        return None;
    }
    let mut config = whisperengine_slack::SlackConfig::new(settings.slack_bot_token.clone()?);
    config.signing_secret = settings.slack_signing_secret.clone();
    config.app_token = settings.slack_app_token.clone();
    config.command = settings.slack_command.clone();
    config.admin_ids = settings.slack_admin_ids.clone();
    config.api_url = settings.slack_api_url.clone();
    config.reply_in_thread = settings.slack_reply_in_thread;
    Some(config)
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
