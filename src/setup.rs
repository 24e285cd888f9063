//! What the settings describe, built: the store options, the LLM client and responder, the core,
//! and each connector's configuration. The host ([`crate::app`]) composes these; `doctor`, the
//! operator's CLI, the dashboard and the bench use them too, without depending on the host.

use crate::config::{Settings, ShardSetting};
use crate::core::Core;
use crate::llm::{OfflineResponder, OpenAiClient, Responder};
use crate::personality::Personality;
use crate::store::{Store, StoreOptions};
use anyhow::Context;
use std::sync::Arc;

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

/// The local model file the settings point at, if there is one to load: `None` for `off`, with an
/// LLM endpoint set, or when the catalogue model has not been fetched. A `LOCAL_MODEL` path that
/// does not exist is an error.
pub fn local_model_file(settings: &Settings) -> anyhow::Result<Option<std::path::PathBuf>> {
    if settings.llm_base_url.is_some() {
        return Ok(None);
    }
    match &settings.local_model {
        crate::models::LocalModelChoice::Off => Ok(None),
        crate::models::LocalModelChoice::Named(model) => {
            let path = settings.model_dir.file(model);
            Ok(path.is_file().then_some(path))
        }
        crate::models::LocalModelChoice::File(path) if path.is_file() => Ok(Some(path.clone())),
        crate::models::LocalModelChoice::File(path) => Err(anyhow::anyhow!(
            "LOCAL_MODEL: there is no file at {}",
            path.display()
        )),
    }
}

/// Why no local model runs, when none does, in a line for the start-up log and `doctor`.
pub fn local_model_absence(settings: &Settings) -> Option<String> {
    if settings.llm_base_url.is_some() {
        return None;
    }
    match &settings.local_model {
        crate::models::LocalModelChoice::Off => {
            Some("LOCAL_MODEL=off and no LLM_BASE_URL: the offline responder answers".into())
        }
        crate::models::LocalModelChoice::Named(model) if !settings.model_dir.file(model).is_file() => {
            Some(format!(
                "no LLM_BASE_URL and {} is not fetched: the offline responder answers; `whisperengine model fetch` downloads it{}",
                model.name,
                model
                    .bytes
                    .map(|bytes| format!(" ({} MB)", bytes / 1_000_000))
                    .unwrap_or_default()
            ))
        }
        _ if !cfg!(feature = "local-model") => Some(
            "this build has no local model (built without the `local-model` feature): the offline responder answers".into(),
        ),
        _ => None,
    }
}

/// The responder the settings ask for: the LLM endpoint; else the local model when its file is
/// there (loaded now); else the offline responder.
pub async fn responder(
    settings: &Settings,
    personality: &Arc<Personality>,
) -> anyhow::Result<Arc<dyn Responder>> {
    if let Some(client) = llm_client(settings) {
        return Ok(Arc::new(client.context("LLM_BASE_URL")?));
    }
    #[cfg(feature = "local-model")]
    if let Some(path) = local_model_file(settings)? {
        let options = crate::llm::local::LocalOptions {
            max_tokens: settings.local_model_max_tokens,
            temperature: settings.local_model_temperature,
            context_tokens: settings.local_model_context,
            timeout: settings.llm_timeout,
            seed: 299_792_458,
        };
        let system = personality.system_prompt(
            whisperengine_contract::Platform::Desktop,
            settings.platform_specific_optimizations,
        );
        let local = crate::llm::local::LocalResponder::load(&path, options, Some(system))
            .await
            .context("LOCAL_MODEL")?;
        tracing::info!(model = %local.describe(), "replies are written by the local model");
        return Ok(Arc::new(local));
    }
    #[cfg(not(feature = "local-model"))]
    local_model_file(settings)?;
    if let Some(absence) = local_model_absence(settings) {
        tracing::info!("{absence}");
    }
    Ok(Arc::new(OfflineResponder::new(personality.clone())))
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
    let responder = responder(&settings, &personality).await?;
    let core = Core::new(settings.clone(), store, personality, responder);
    #[cfg(feature = "local-model")]
    let core = with_local_embeddings(core, &settings).await?;
    Ok(core)
}

/// `core` with semantic recall on the encoder LOCAL_EMBEDDINGS names, loaded now (in place of
/// EMBEDDING_MODEL's endpoint); as it is when none is named.
#[cfg(feature = "local-model")]
async fn with_local_embeddings(mut core: Core, settings: &Settings) -> anyhow::Result<Core> {
    let Some(folder) = &settings.local_embeddings else {
        return Ok(core);
    };
    let embedder = crate::llm::local_embeddings::LocalEmbedder::load(folder)
        .await
        .context("LOCAL_EMBEDDINGS")?;
    tracing::info!(
        model = embedder.model(),
        dimensions = embedder.dimensions(),
        "semantic recall with embeddings computed in process"
    );
    core.semantic = Some(crate::core::memory::semantic::Semantic::new(
        crate::llm::embeddings::Embedder::Local(embedder),
        settings,
        core.store.db.clone(),
    ));
    Ok(core)
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
    config.stream_replies = settings
        .stream_replies
        .contains(&whisperengine_contract::Platform::Teams);
    config.show_typing = shows_typing(settings, whisperengine_contract::Platform::Teams);
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
    config.stream_replies = settings
        .stream_replies
        .contains(&whisperengine_contract::Platform::Discord);
    config.show_typing = shows_typing(settings, whisperengine_contract::Platform::Discord);
    config.application_id = discord_id(
        "DISCORD_APPLICATION_ID",
        settings.discord_application_id.as_deref(),
    )?;
    config.catch_up_window = settings.catch_up_window;
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

/// Whether `platform` shows a typing indicator while a reply is written (`<PLATFORM>_SHOW_TYPING`).
fn shows_typing(settings: &Settings, platform: whisperengine_contract::Platform) -> bool {
    settings.profile(platform).show_typing.unwrap_or(false)
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
    config.catch_up_window = settings.catch_up_window;
    config.stream_replies = settings
        .stream_replies
        .contains(&whisperengine_contract::Platform::Slack);
    Some(config)
}
