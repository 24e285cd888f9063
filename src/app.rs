//! Wiring the host together: settings → store → personality → responder → core → HTTP listener (and,
//! as they land, the platform connectors). Tests build the same [`Application`] on port 0.

use crate::config::{DeploymentMode, Settings};
use crate::core::Core;
use crate::http::{HttpState, ReadinessProbe};
use crate::llm::{OfflineResponder, OpenAiClient, Responder};
use crate::personality::Personality;
use crate::store::{Store, StoreOptions};
use anyhow::Context;
use async_trait::async_trait;
use std::net::SocketAddr;
use std::sync::Arc;

/// Platform connectors this build contains (the others are reported as not built yet).
pub const CONNECTORS_BUILT: &[&str] = &["teams"];

/// The store options the settings describe.
pub fn store_options(settings: &Settings) -> StoreOptions {
    StoreOptions {
        database_url: settings.database_url.clone(),
        database_display: settings.database_display(),
        redis_url: settings.redis_url.as_ref().map(|url| url.to_string()),
        redis_key_prefix: settings.redis_key_prefix.clone(),
        hot_capacity: settings.hot_cache_capacity,
        hot_refresh: settings.memory_sync_interval,
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

struct StoreReadiness(Store);

#[async_trait]
impl ReadinessProbe for StoreReadiness {
    async fn check(&self) -> Result<(), String> {
        self.0.check_ready().await
    }
}

/// The running host: its core and its bound HTTP listener.
pub struct Application {
    pub core: Core,
    listener: tokio::net::TcpListener,
    router: axum::Router,
}

impl Application {
    /// Builds everything and binds HTTP_BIND (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let settings = Arc::new(settings);
        let core = build_core(settings.clone()).await?;
        let metrics = crate::telemetry::install_metrics();
        let state = HttpState {
            handler: Arc::new(core.clone()),
            readiness: Arc::new(StoreReadiness(core.store.clone())),
            metrics,
            local_user: settings.local_user.clone(),
            local_is_admin: settings.deployment_mode == DeploymentMode::Desktop,
            chat_enabled: true,
            banner: banner(&settings),
            companion_name: core.personality.name.clone(),
            max_message_chars: settings.max_message_chars,
        };
        let mut router = crate::http::router(state);
        if let Some(teams) = teams_config(&settings) {
            router = router.merge(whisperengine_teams::routes(teams, Arc::new(core.clone())));
        }
        let listener = tokio::net::TcpListener::bind(settings.http_bind)
            .await
            .with_context(|| format!("HTTP_BIND: cannot listen on {}", settings.http_bind))?;
        Ok(Application {
            core,
            listener,
            router,
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
        let served = crate::http::serve(self.listener, self.router, shutdown).await;
        flusher.abort();
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
