//! Typed settings: loaded once (built-in defaults < `whisperengine.toml` < environment, a `.env`
//! file read first), validated in one place, with errors that name the variable and what it accepts.
//!
//! - [`load`] is what the binary calls; [`load_from`] takes an explicit environment map and file
//!   and never reads the process environment, so tests can run in parallel.
//! - `kinds`: the small enums ([`DeploymentMode`], [`ConflictStrategy`], [`SyncCategory`], [`ShardSetting`]).
//! - `sources`: the layering with the `config` crate; `parse`: one parser per variable;
//!   `checks`: cross-field validation and the display helpers (passwords and tokens never shown).
//!
//! Over 500 lines: one field per setting, each with its documented default; the parsing is in parse.rs.

mod checks;
mod kinds;
mod parse;
mod platforms;
mod sources;

pub use kinds::{
    ConflictStrategy, DeploymentMode, FactExtraction, ShardSetting, SyncCategory, UnknownValue,
};
pub use platforms::{
    has_typing_indicator, table as platform_table, EmotionWrites, PlatformOverrides,
    PlatformProfile, ProfileOverrides, PLATFORMS, PLATFORM_VARIABLES,
};

use secrecy::SecretString;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;
use whisperengine_contract::Platform;

/// A setting that cannot be used, in one line: `DEPLOYMENT_MODE: expected one of desktop, cloud, demo (got "clod")`.
///
/// `variable` is the environment variable (or the TOML file) at fault; `message` says what it
/// accepts and what it got, except for secrets, whose values are never repeated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The variable (upper case, as in the environment) or the file the problem is in.
    pub variable: String,
    /// What the variable accepts and what it got.
    pub message: String,
}

impl ConfigError {
    /// An error about `variable`.
    pub fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.into(),
            message: message.into(),
        }
    }
}

/// Variables that are no longer read, with what replaces them: set, they are an error rather
/// than silently ignored.
pub const RETIRED: &[(&str, &str)] = &[(
    "MEMORY_TOP_K_BY_PLATFORM",
    "no longer read: set one variable per platform instead (DISCORD_MEMORY_TOP_K, \
     SLACK_MEMORY_TOP_K, TEAMS_MEMORY_TOP_K, DESKTOP_MEMORY_TOP_K)",
)];

/// Every setting's environment variable but the per-platform ones ([`PLATFORM_VARIABLES`]); the
/// TOML file uses the same names in lower case.
pub const VARIABLES: &[&str] = &[
    "DEPLOYMENT_MODE",
    "CROSS_PLATFORM_SYNC_ENABLED",
    "MEMORY_SYNC_INTERVAL",
    "EMOTIONAL_SYNC_INTERVAL",
    "SETTINGS_SYNC_INTERVAL",
    "AUTO_RESOLVE_CONFLICTS",
    "CONFLICT_RESOLUTION_STRATEGY",
    "PLATFORM_PRIORITY",
    "PLATFORM_SPECIFIC_OPTIMIZATIONS",
    "STREAM_REPLIES",
    "ADAPTIVE_PERFORMANCE_TUNING",
    "SYNC_CONVERSATION_HISTORY",
    "SYNC_MEMORY_IMPORTANCE",
    "SYNC_EMOTIONAL_MEMORIES",
    "SYNC_EMOTIONAL_STATE",
    "SYNC_EMOTIONAL_PATTERNS",
    "SYNC_ADAPTATION_STRATEGIES",
    "SYNC_UI_PREFERENCES",
    "SYNC_AI_SETTINGS",
    "SYNC_PRIVACY_SETTINGS",
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_KEY_PREFIX",
    "HTTP_BIND",
    "INTAKE_QUEUE_SIZE",
    "INTAKE_WORKERS",
    "SHUTDOWN_DRAIN_SECONDS",
    "INBOX_LEASE_SECONDS",
    "CATCH_UP_WINDOW",
    "PERSONALITY",
    "PERSONALITIES_DIR",
    "LOCAL_USER",
    "LOCAL_API_TOKEN",
    "METRICS_TOKEN",
    "LLM_BASE_URL",
    "LLM_API_KEY",
    "LLM_MODEL",
    "LLM_TIMEOUT",
    "LLM_MAX_RETRIES",
    "LLM_MAX_TOKENS",
    "LLM_TEMPERATURE",
    "LOCAL_MODEL",
    "MODEL_DIR",
    "MODEL_HUB_URL",
    "LOCAL_MODEL_MAX_TOKENS",
    "LOCAL_MODEL_TEMPERATURE",
    "LOCAL_MODEL_CONTEXT",
    "EMBEDDING_MODEL",
    "LOCAL_EMBEDDINGS",
    "FACT_EXTRACTION",
    "RATE_LIMIT_PER_MINUTE",
    "HISTORY_TURNS",
    "MEMORY_TOP_K",
    "EMOTION_HALF_LIFE",
    "HOT_CACHE_CAPACITY",
    "MAX_MESSAGE_CHARS",
    "DEMO_DATA_TTL",
    "MEMORY_RETENTION_DAYS",
    "ADMIN_TOKEN",
    "ADMIN_COOKIE_SECURE",
    "PUBLIC_URL",
    "DATA_ENCRYPTION_KEY",
    "DISCORD_TOKEN",
    "DISCORD_APPLICATION_ID",
    "DISCORD_GUILD_ID",
    "DISCORD_ADMIN_IDS",
    "DISCORD_CHANNELS",
    "DISCORD_API_URL",
    "DISCORD_SHARDS",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_COMMAND",
    "SLACK_ADMIN_IDS",
    "SLACK_API_URL",
    "SLACK_REPLY_IN_THREAD",
    "MICROSOFT_APP_ID",
    "MICROSOFT_APP_PASSWORD",
    "MICROSOFT_APP_TENANT_ID",
    "TEAMS_ADMIN_IDS",
    "TEAMS_OPENID_METADATA_URL",
    "TEAMS_TOKEN_URL",
    "TEAMS_ALLOWED_SERVICE_URLS",
];

/// The file read when `WHISPERENGINE_CONFIG` is not set (only if it exists).
pub const DEFAULT_TOML_FILE: &str = "whisperengine.toml";

/// Every setting of the host, typed. Field names are the environment variables in snake case.
///
/// `Debug` shows no secret: tokens are [`SecretString`]s and the database/Redis URLs are shown
/// with their passwords replaced by `***`.
#[derive(Clone)]
pub struct Settings {
    // --- mode and sync ---
    /// `DEPLOYMENT_MODE` [desktop].
    pub deployment_mode: DeploymentMode,
    /// `CROSS_PLATFORM_SYNC_ENABLED` [true]: whether linked accounts share anything at all.
    pub cross_platform_sync_enabled: bool,
    /// `MEMORY_SYNC_INTERVAL` seconds [30]: how often hot memory state is flushed to / refreshed from SQL and Redis.
    pub memory_sync_interval: Duration,
    /// `EMOTIONAL_SYNC_INTERVAL` seconds [60]: the same for emotional state.
    pub emotional_sync_interval: Duration,
    /// `SETTINGS_SYNC_INTERVAL` seconds [300]: the same for preferences.
    pub settings_sync_interval: Duration,
    /// `AUTO_RESOLVE_CONFLICTS` [true]: resolve conflicts with the strategy instead of queueing them.
    pub auto_resolve_conflicts: bool,
    /// `CONFLICT_RESOLUTION_STRATEGY` [latest_wins].
    pub conflict_resolution_strategy: ConflictStrategy,
    /// `PLATFORM_PRIORITY` [discord,slack,teams,desktop]: first wins under `platform_priority`.
    pub platform_priority: Vec<Platform>,
    /// `PLATFORM_SPECIFIC_OPTIMIZATIONS` [true]: each platform's replies use its own row of the
    /// per-platform table ([`Settings::profile`]); off, every platform uses the local chat's.
    /// (Length limits, markup and cards follow what each platform can show either way.)
    pub platform_specific_optimizations: bool,
    /// `STREAM_REPLIES` [discord,slack,teams,desktop]: platforms where a reply from the language
    /// model appears while it is written (`none` for none).
    pub stream_replies: Vec<Platform>,
    /// `ADAPTIVE_PERFORMANCE_TUNING` [true]: adapt work per reply (e.g. context size) to measured latency and load.
    pub adaptive_performance_tuning: bool,
    /// `SYNC_CONVERSATION_HISTORY` [true].
    pub sync_conversation_history: bool,
    /// `SYNC_MEMORY_IMPORTANCE` [true].
    pub sync_memory_importance: bool,
    /// `SYNC_EMOTIONAL_MEMORIES` [true].
    pub sync_emotional_memories: bool,
    /// `SYNC_EMOTIONAL_STATE` [true].
    pub sync_emotional_state: bool,
    /// `SYNC_EMOTIONAL_PATTERNS` [true].
    pub sync_emotional_patterns: bool,
    /// `SYNC_ADAPTATION_STRATEGIES` [true].
    pub sync_adaptation_strategies: bool,
    /// `SYNC_UI_PREFERENCES` [true].
    pub sync_ui_preferences: bool,
    /// `SYNC_AI_SETTINGS` [true].
    pub sync_ai_settings: bool,
    /// `SYNC_PRIVACY_SETTINGS` [true].
    pub sync_privacy_settings: bool,

    // --- storage ---
    /// `DATABASE_URL` [sqlite://data/whisperengine.db?mode=rwc]: `sqlite:` or `postgres://`.
    /// May hold a password: show it with [`Settings::database_display`].
    pub database_url: String,
    /// `REDIS_URL` [none]: `redis://` or `rediss://`. Show it with [`Settings::redis_display`].
    pub redis_url: Option<Url>,
    /// `REDIS_KEY_PREFIX` [whisperengine:]: put before every Redis key.
    pub redis_key_prefix: String,

    // --- HTTP ---
    /// `HTTP_BIND` [127.0.0.1:8080]: the one listener (loopback only in desktop mode).
    pub http_bind: SocketAddr,
    /// `INTAKE_QUEUE_SIZE` [2048]: acknowledged events queued or running before Slack and Teams
    /// are answered 503 (the platforms then retry).
    pub intake_queue_size: usize,
    /// `INTAKE_WORKERS` [256]: acknowledged events processed at once.
    pub intake_workers: usize,
    /// `SHUTDOWN_DRAIN_SECONDS` [30]: how long SIGTERM waits for acknowledged events; what is left
    /// stays in the database inbox for the next process.
    pub shutdown_drain: Duration,
    /// `INBOX_LEASE_SECONDS` [30]: how long a process that stopped (or died) keeps its unfinished
    /// inbox events before another process takes them over.
    pub inbox_lease: Duration,
    /// `CATCH_UP_WINDOW` [10m]: on start, how far back the Discord and Slack connectors look for
    /// messages to the companion that arrived while no process was running (`0` or `off`: not at
    /// all; at most 24h).
    pub catch_up_window: Duration,

    // --- personality and local chat ---
    /// `PERSONALITY` [elena]: the character, a file name in `personalities_dir`.
    pub personality: String,
    /// `PERSONALITIES_DIR` [personalities].
    pub personalities_dir: PathBuf,
    /// `LOCAL_USER` [$USER, else me]: the person using the local chat.
    pub local_user: String,
    /// `LOCAL_API_TOKEN` [none]: outside desktop mode, the local chat page and its JSON API are off
    /// unless this is set; then every request needs `Authorization: Bearer <token>` (at least 32
    /// characters). Whoever holds it speaks as any `desktop:` user it names. Never logged.
    pub local_api_token: Option<SecretString>,
    /// `METRICS_TOKEN` [none]: when set, `/metrics` answers only `Authorization: Bearer <token>`
    /// (at least 32 characters); unset, anyone who reaches the port may scrape it.
    pub metrics_token: Option<SecretString>,

    // --- LLM ---
    /// `LLM_BASE_URL` [none = offline responder]: an OpenAI-compatible endpoint.
    pub llm_base_url: Option<Url>,
    /// `LLM_API_KEY` [none].
    pub llm_api_key: Option<SecretString>,
    /// `LLM_MODEL` [gpt-4o-mini].
    pub llm_model: String,
    /// `LLM_TIMEOUT` seconds [30].
    pub llm_timeout: Duration,
    /// `LLM_MAX_RETRIES` [2].
    pub llm_max_retries: u32,
    /// `LLM_MAX_TOKENS` [400].
    pub llm_max_tokens: u32,
    /// `LLM_TEMPERATURE` [0.8], from 0 to 2.
    pub llm_temperature: f32,
    /// `LOCAL_MODEL` [smollm2-135m]: the model run in process when `LLM_BASE_URL` is not set: a
    /// catalogue name (fetched into `MODEL_DIR` by `whisperengine model fetch`), a path to a GGUF
    /// file, or `off`. With no such file the offline responder answers.
    pub local_model: crate::models::LocalModelChoice,
    /// `MODEL_DIR` [`$XDG_CACHE_HOME/whisperengine/models` or `~/.cache/whisperengine/models`].
    pub model_dir: crate::models::ModelDir,
    /// `MODEL_HUB_URL` [https://huggingface.co]: where `model fetch` downloads catalogue models.
    pub model_hub_url: Url,
    /// `LOCAL_MODEL_MAX_TOKENS` [160]: the longest reply of the local model, in tokens.
    pub local_model_max_tokens: u32,
    /// `LOCAL_MODEL_TEMPERATURE` [0.3], from 0 (always the likeliest word) to 2.
    pub local_model_temperature: f32,
    /// `LOCAL_MODEL_CONTEXT` [2048]: prompt plus reply, in tokens; older history is left out to
    /// fit, before memories and facts.
    pub local_model_context: usize,
    /// `EMBEDDING_MODEL` [none = keyword recall only].
    pub embedding_model: Option<String>,
    /// `LOCAL_EMBEDDINGS` [auto]: a sentence-transformers model folder (`config.json`,
    /// `model.safetensors`, `tokenizer.json`; all-MiniLM-L6-v2) whose embeddings are computed in
    /// this process for semantic recall, in place of EMBEDDING_MODEL's endpoint; `auto` takes
    /// `MODEL_DIR/all-MiniLM-L6-v2` in desktop mode when it is there, `off` none. The resolved
    /// folder, or `None`.
    pub local_embeddings: Option<PathBuf>,
    /// `FACT_EXTRACTION` [auto]: `auto` (the LLM when `LLM_BASE_URL` is set), `llm` or `rules`.
    pub fact_extraction: FactExtraction,

    // --- limits and data lifecycle ---
    /// `RATE_LIMIT_PER_MINUTE` [20] messages per person; 0 turns the limit off.
    pub rate_limit_per_minute: u32,
    /// `HISTORY_TURNS` [12]: recent turns put in the prompt.
    pub history_turns: usize,
    /// `MEMORY_TOP_K` [5]: long-term memories recalled per reply.
    pub memory_top_k: usize,
    /// `<PLATFORM>_RESPONSE_TARGET_MS`, `_LLM_MODEL`, `_LLM_MAX_TOKENS`, `_LLM_TEMPERATURE`,
    /// `_MEMORY_TOP_K`, `_HISTORY_TURNS`, `_SHOW_TYPING`, `_EMOTION_WRITES` [the platform's
    /// defaults]: the per-platform values that were set (see `platforms.rs`; read them through
    /// [`Settings::profile`]).
    pub platform_overrides: PlatformOverrides,
    /// `EMOTION_HALF_LIFE` [6h]: how fast the emotional state drifts back to the personality's baseline.
    pub emotion_half_life: Duration,
    /// `HOT_CACHE_CAPACITY` [10000]: identities kept in the in-process hot layer (≥ 1).
    pub hot_cache_capacity: usize,
    /// `MAX_MESSAGE_CHARS` [4000]: the longest user message accepted.
    pub max_message_chars: usize,
    /// `DEMO_DATA_TTL` [24h]: how long demo-mode data lives.
    pub demo_data_ttl: Duration,
    /// `MEMORY_RETENTION_DAYS` [keep]: forget memories older than this many days.
    pub memory_retention_days: Option<u32>,
    /// `ADMIN_TOKEN` [none]: protects `/admin`.
    pub admin_token: Option<SecretString>,
    /// `ADMIN_COOKIE_SECURE` [false]: mark the `/admin` session cookie `Secure` (set it when the
    /// host is reached over https, e.g. behind a TLS-terminating proxy).
    pub admin_cookie_secure: bool,
    /// `PUBLIC_URL` [none = `http://` + HTTP_BIND]: the address people reach this host at, for the
    /// download links of `export`.
    pub public_url: Option<Url>,
    /// `DATA_ENCRYPTION_KEY` [none]: 32 bytes (64 hex characters or base64); when set, memory content
    /// is encrypted at rest with ChaCha20-Poly1305. Never logged.
    pub data_encryption_key: Option<SecretString>,

    // --- Discord ---
    /// `DISCORD_TOKEN` [none]: the bot token; the Discord connector runs when set.
    pub discord_token: Option<SecretString>,
    /// `DISCORD_APPLICATION_ID` [none].
    pub discord_application_id: Option<String>,
    /// `DISCORD_GUILD_ID` [none]: register slash commands in this guild only (instant, for testing).
    pub discord_guild_id: Option<String>,
    /// `DISCORD_ADMIN_IDS` [none]: comma list of Discord user ids allowed to run admin commands.
    pub discord_admin_ids: Vec<String>,
    /// `DISCORD_CHANNELS` [none]: channel ids where every message is answered; elsewhere in servers
    /// only mentions and replies to the bot are (DMs always are).
    pub discord_channels: Vec<String>,
    /// `DISCORD_API_URL` [none = Discord]: REST base URL (tests point it at a fake).
    pub discord_api_url: Option<Url>,
    /// `DISCORD_SHARDS` [auto]: `auto`, a count, or this process's range of a total (`0-3/8`).
    pub discord_shards: ShardSetting,

    // --- Slack ---
    /// `SLACK_BOT_TOKEN` [none]: `xoxb-…`.
    pub slack_bot_token: Option<SecretString>,
    /// `SLACK_SIGNING_SECRET` [none]: verifies Events API and slash-command requests.
    pub slack_signing_secret: Option<SecretString>,
    /// `SLACK_APP_TOKEN` [none]: `xapp-…`, turns on Socket Mode.
    pub slack_app_token: Option<SecretString>,
    /// `SLACK_COMMAND` [/whisper].
    pub slack_command: String,
    /// `SLACK_ADMIN_IDS` [none]: comma list of Slack user ids allowed to run admin commands.
    pub slack_admin_ids: Vec<String>,
    /// `SLACK_API_URL` [none = Slack]: Web API base URL including `/api`.
    pub slack_api_url: Option<Url>,
    /// `SLACK_REPLY_IN_THREAD` [true].
    pub slack_reply_in_thread: bool,

    // --- Teams ---
    /// `MICROSOFT_APP_ID` [none]: the bot's app id; the Teams connector runs when set.
    pub microsoft_app_id: Option<String>,
    /// `MICROSOFT_APP_PASSWORD` [none]: required with `MICROSOFT_APP_ID`.
    pub microsoft_app_password: Option<SecretString>,
    /// `MICROSOFT_APP_TENANT_ID` [none = multi-tenant].
    pub microsoft_app_tenant_id: Option<String>,
    /// `TEAMS_ADMIN_IDS` [none]: comma list of AAD object ids allowed to run admin commands.
    pub teams_admin_ids: Vec<String>,
    /// `TEAMS_OPENID_METADATA_URL` [Bot Framework's].
    pub teams_openid_metadata_url: Url,
    /// `TEAMS_TOKEN_URL` [Bot Framework's].
    pub teams_token_url: Url,
    /// `TEAMS_ALLOWED_SERVICE_URLS` [Bot Framework's public service URLs]: comma list of URL
    /// prefixes an activity's `serviceUrl` must fall under; the bot's token is sent nowhere else.
    pub teams_allowed_service_urls: Vec<Url>,
}

/// Bot Framework's OpenID metadata, where the keys signing inbound Teams requests are published.
pub const TEAMS_OPENID_METADATA_URL: &str =
    "https://login.botframework.com/v1/.well-known/openidconfiguration";
/// Bot Framework's token service, where the bot gets its outbound token.
pub const TEAMS_TOKEN_URL: &str =
    "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token";
/// Bot Framework's service URLs for Teams in Microsoft's public cloud (commercial, and GCC which
/// public-cloud bots also serve); sovereign clouds set their own.
pub const TEAMS_ALLOWED_SERVICE_URLS: [&str; 2] = [
    "https://smba.trafficmanager.net/",
    "https://smba.infra.gcc.teams.microsoft.com/",
];
/// The database used when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/whisperengine.db?mode=rwc";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            deployment_mode: DeploymentMode::Desktop,
            cross_platform_sync_enabled: true,
            memory_sync_interval: Duration::from_secs(30),
            emotional_sync_interval: Duration::from_secs(60),
            settings_sync_interval: Duration::from_secs(300),
            auto_resolve_conflicts: true,
            conflict_resolution_strategy: ConflictStrategy::LatestWins,
            platform_priority: Platform::ALL.to_vec(),
            platform_specific_optimizations: true,
            stream_replies: Platform::ALL.to_vec(),
            adaptive_performance_tuning: true,
            sync_conversation_history: true,
            sync_memory_importance: true,
            sync_emotional_memories: true,
            sync_emotional_state: true,
            sync_emotional_patterns: true,
            sync_adaptation_strategies: true,
            sync_ui_preferences: true,
            sync_ai_settings: true,
            sync_privacy_settings: true,
            database_url: DEFAULT_DATABASE_URL.to_string(),
            redis_url: None,
            redis_key_prefix: "whisperengine:".to_string(),
            http_bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            intake_queue_size: 2_048,
            intake_workers: 256,
            shutdown_drain: Duration::from_secs(30),
            inbox_lease: Duration::from_secs(30),
            catch_up_window: Duration::from_secs(10 * 60),
            personality: "elena".to_string(),
            personalities_dir: PathBuf::from("personalities"),
            local_user: "me".to_string(),
            local_api_token: None,
            metrics_token: None,
            llm_base_url: None,
            llm_api_key: None,
            llm_model: "gpt-4o-mini".to_string(),
            llm_timeout: Duration::from_secs(30),
            llm_max_retries: 2,
            llm_max_tokens: 400,
            llm_temperature: 0.8,
            local_model: crate::models::LocalModelChoice::Named(crate::models::DEFAULT_MODEL),
            model_dir: crate::models::ModelDir::default_location(),
            model_hub_url: Url::parse("https://huggingface.co").expect("a valid URL"),
            local_model_max_tokens: 160,
            local_model_temperature: 0.3,
            local_model_context: 2048,
            embedding_model: None,
            local_embeddings: None,
            fact_extraction: FactExtraction::Auto,
            rate_limit_per_minute: 20,
            history_turns: 12,
            memory_top_k: 5,
            platform_overrides: PlatformOverrides::default(),
            emotion_half_life: Duration::from_secs(6 * 60 * 60),
            hot_cache_capacity: 10_000,
            max_message_chars: 4000,
            demo_data_ttl: Duration::from_secs(24 * 60 * 60),
            memory_retention_days: None,
            admin_token: None,
            admin_cookie_secure: false,
            public_url: None,
            data_encryption_key: None,
            discord_token: None,
            discord_application_id: None,
            discord_guild_id: None,
            discord_admin_ids: Vec::new(),
            discord_channels: Vec::new(),
            discord_api_url: None,
            discord_shards: ShardSetting::Auto,
            slack_bot_token: None,
            slack_signing_secret: None,
            slack_app_token: None,
            slack_command: "/whisper".to_string(),
            slack_admin_ids: Vec::new(),
            slack_api_url: None,
            slack_reply_in_thread: true,
            microsoft_app_id: None,
            microsoft_app_password: None,
            microsoft_app_tenant_id: None,
            teams_admin_ids: Vec::new(),
            // Both are constants checked by a unit test, so these cannot fail.
            teams_openid_metadata_url: Url::parse(TEAMS_OPENID_METADATA_URL)
                .expect("built-in Teams OpenID metadata URL is valid"),
            teams_token_url: Url::parse(TEAMS_TOKEN_URL)
                .expect("built-in Teams token URL is valid"),
            teams_allowed_service_urls: TEAMS_ALLOWED_SERVICE_URLS
                .iter()
                .map(|url| Url::parse(url).expect("built-in Teams service URLs are valid"))
                .collect(),
        }
    }
}

/// Loads the settings the binary runs with: reads `.env` (never overriding variables already set),
/// then `WHISPERENGINE_CONFIG` or `./whisperengine.toml` if present, then the process environment.
pub fn load() -> Result<Settings, ConfigError> {
    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(error) if error.not_found() => {}
        // dotenvy's parse error quotes the offending line, which may be a token: say where, not what.
        Err(dotenvy::Error::LineParse(_, index)) => {
            return Err(ConfigError::new(
                ".env",
                format!("a line is not KEY=value (error at character {index} of the line; the line is not shown, it may hold a secret)"),
            ))
        }
        Err(error) => {
            return Err(ConfigError::new(
                ".env",
                format!("could not be read ({error})"),
            ))
        }
    }
    // Variables that are not valid UTF-8 cannot be ours; skip them rather than panic.
    let env: HashMap<String, String> = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect();
    let toml_file = match env.get("WHISPERENGINE_CONFIG").map(|path| path.trim()) {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            if !path.is_file() {
                return Err(ConfigError::new(
                    "WHISPERENGINE_CONFIG",
                    format!(
                        "expected the path of a TOML file (got {:?}: no such file)",
                        path.display().to_string()
                    ),
                ));
            }
            Some(path)
        }
        _ => Some(PathBuf::from(DEFAULT_TOML_FILE)).filter(|path| path.is_file()),
    };
    load_from(&env, toml_file.as_deref())
}

/// Loads settings from `env` (variable → value) over the TOML file `toml_file` (which must exist
/// when given) over the defaults, then validates them. Reads neither the process environment nor `.env`.
pub fn load_from(
    env: &HashMap<String, String>,
    toml_file: Option<&Path>,
) -> Result<Settings, ConfigError> {
    if let Some((name, instead)) = RETIRED
        .iter()
        .find(|(name, _)| env.get(*name).is_some_and(|value| !value.trim().is_empty()))
    {
        return Err(ConfigError::new(*name, *instead));
    }
    let values = sources::layered(env, toml_file)?;
    let settings = parse::settings_from(&values)?;
    settings.validate()?;
    Ok(settings)
}

impl Settings {
    /// The host default for a sync category (a person's own choice overrides it).
    pub fn sync_default(&self, category: SyncCategory) -> bool {
        match category {
            SyncCategory::ConversationHistory => self.sync_conversation_history,
            SyncCategory::MemoryImportance => self.sync_memory_importance,
            SyncCategory::EmotionalMemories => self.sync_emotional_memories,
            SyncCategory::EmotionalState => self.sync_emotional_state,
            SyncCategory::EmotionalPatterns => self.sync_emotional_patterns,
            SyncCategory::AdaptationStrategies => self.sync_adaptation_strategies,
            SyncCategory::UiPreferences => self.sync_ui_preferences,
            SyncCategory::AiSettings => self.sync_ai_settings,
            SyncCategory::PrivacySettings => self.sync_privacy_settings,
        }
    }
}
