//! One parser per variable: raw text in, typed value or a one-line [`ConfigError`] out.
//!
//! Empty values count as unset everywhere, so `REDIS_URL=` in the environment turns off a Redis
//! URL set in the TOML file, and `LLM_MODEL=` falls back to the default.
//!
//! Over 500 lines: one parser per variable, each with its error message.

use super::checks::redact_password;
use super::platforms::{self, PlatformOverrides};
use super::{ConfigError, DeploymentMode, Settings, ShardSetting};
use crate::models::catalogue::ENCODER;
use secrecy::SecretString;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use url::Url;
use whisperengine_contract::Platform;

type Result<T> = std::result::Result<T, ConfigError>;

/// Shortest token accepted for an endpoint reachable from the network.
pub const MIN_TOKEN_CHARS: usize = 32;
/// Values longer than this are cut in error messages.
const SHOWN_CHARS: usize = 80;

/// A value quoted for an error message, cut if long.
fn shown(value: &str) -> String {
    if value.chars().count() > SHOWN_CHARS {
        let cut: String = value.chars().take(SHOWN_CHARS).collect();
        format!("{cut:?}…")
    } else {
        format!("{value:?}")
    }
}

/// `expected … (got "…")` for `variable`.
fn expected(variable: &str, what: &str, got: &str) -> ConfigError {
    ConfigError::new(variable, format!("expected {what} (got {})", shown(got)))
}

/// `LOCAL_EMBEDDINGS`: `off` = none; unset or `auto` = the catalogue encoder's folder in `MODEL_DIR`
/// (`model fetch all-minilm-l6-v2`)
/// when the host runs in desktop mode (one person: the encoder's CPU per message is no concern)
/// and the folder holds the model; otherwise a folder holding the same files.
fn local_embeddings(
    raw: &Raw<'_>,
    mode: DeploymentMode,
    model_dir: &crate::models::ModelDir,
) -> Result<Option<PathBuf>> {
    let text = raw.text("LOCAL_EMBEDDINGS").unwrap_or("auto");
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    if text.eq_ignore_ascii_case("auto") {
        let folder = model_dir.path().join(ENCODER.folder);
        let is_used = cfg!(feature = "local-model")
            && mode == DeploymentMode::Desktop
            && ENCODER.missing_in(&folder).is_empty();
        return Ok(is_used.then_some(folder));
    }
    if !cfg!(feature = "local-model") {
        return Err(ConfigError::new(
            "LOCAL_EMBEDDINGS",
            "this build has no in-process models (built without the `local-model` feature)",
        ));
    }
    let folder = PathBuf::from(text);
    let missing = ENCODER.missing_in(&folder);
    if !missing.is_empty() {
        return Err(ConfigError::new(
            "LOCAL_EMBEDDINGS",
            format!(
                "expected a sentence-transformers model folder; {} has no {}",
                shown(text),
                missing.join(", ")
            ),
        ));
    }
    Ok(Some(folder))
}

/// The raw values of one load, read variable by variable.
struct Raw<'a> {
    values: &'a HashMap<String, String>,
}

impl Raw<'_> {
    /// The trimmed text of `variable`, or `None` when unset or empty.
    fn text(&self, variable: &str) -> Option<&str> {
        self.values
            .get(variable)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }

    fn string_or(&self, variable: &str, default: String) -> String {
        self.text(variable).map(str::to_string).unwrap_or(default)
    }

    fn optional_string(&self, variable: &str) -> Option<String> {
        self.text(variable).map(str::to_string)
    }

    /// A whole number ≥ `minimum`, or `None` when unset.
    fn optional_whole<T: TryFrom<u64>>(&self, variable: &str, minimum: u64) -> Result<Option<T>> {
        self.parse_or(
            variable,
            None,
            |text| read_whole(text, minimum).and_then(|n| T::try_from(n).ok().map(Some)),
            &format!("a whole number ≥ {minimum}"),
        )
    }

    /// A sampling temperature from 0 to 2, or `None` when unset.
    fn optional_temperature(&self, variable: &str) -> Result<Option<f32>> {
        self.parse_or(
            variable,
            None,
            |text| {
                text.parse::<f32>()
                    .ok()
                    .filter(|t| (0.0..=2.0).contains(t))
                    .map(Some)
            },
            "a number from 0 to 2",
        )
    }

    fn optional_bool(&self, variable: &str) -> Result<Option<bool>> {
        self.parse_or(
            variable,
            None,
            |text| read_bool(text).map(Some),
            "true or false",
        )
    }

    fn optional_enum<T: FromStr<Err = super::UnknownValue>>(
        &self,
        variable: &str,
    ) -> Result<Option<T>> {
        match self.text(variable) {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|error: super::UnknownValue| {
                    ConfigError::new(variable, error.to_string())
                }),
        }
    }

    /// A secret is taken as given (not trimmed inside): only surrounding whitespace goes.
    fn secret(&self, variable: &str) -> Option<SecretString> {
        self.text(variable).map(SecretString::from)
    }

    /// A secret that guards a network endpoint: at least [`MIN_TOKEN_CHARS`] characters, so it
    /// cannot be guessed. The error never shows the value.
    fn long_secret(&self, variable: &str) -> Result<Option<SecretString>> {
        match self.text(variable) {
            Some(token) if token.chars().count() < MIN_TOKEN_CHARS => Err(ConfigError::new(
                variable,
                format!(
                    "expected at least {MIN_TOKEN_CHARS} characters (got {}); generate one with \
                     `openssl rand -hex 32`",
                    token.chars().count()
                ),
            )),
            Some(token) => Ok(Some(SecretString::from(token))),
            None => Ok(None),
        }
    }

    fn parse_or<T>(
        &self,
        variable: &str,
        default: T,
        read: impl FnOnce(&str) -> Option<T>,
        what: &str,
    ) -> Result<T> {
        match self.text(variable) {
            None => Ok(default),
            Some(text) => read(text).ok_or_else(|| expected(variable, what, text)),
        }
    }

    fn bool_or(&self, variable: &str, default: bool) -> Result<bool> {
        self.parse_or(variable, default, read_bool, "true or false")
    }

    fn seconds_or(&self, variable: &str, default: Duration) -> Result<Duration> {
        self.parse_or(
            variable,
            default,
            |text| read_whole(text, 1).map(Duration::from_secs),
            "a whole number of seconds ≥ 1",
        )
    }

    fn whole_or<T: TryFrom<u64>>(&self, variable: &str, default: T, minimum: u64) -> Result<T> {
        self.parse_or(
            variable,
            default,
            |text| read_whole(text, minimum).and_then(|n| T::try_from(n).ok()),
            &format!("a whole number ≥ {minimum}"),
        )
    }

    fn enum_or<T: FromStr<Err = super::UnknownValue>>(
        &self,
        variable: &str,
        default: T,
    ) -> Result<T> {
        match self.text(variable) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|error: super::UnknownValue| {
                ConfigError::new(variable, error.to_string())
            }),
        }
    }

    fn http_url(&self, variable: &str) -> Result<Option<Url>> {
        self.text(variable)
            .map(|text| {
                read_http_url(text).ok_or_else(|| expected(variable, "an http(s) URL", text))
            })
            .transpose()
    }

    fn http_url_or(&self, variable: &str, default: Url) -> Result<Url> {
        Ok(self.http_url(variable)?.unwrap_or(default))
    }

    /// A comma list of http(s) URL prefixes (no credentials, query or fragment), or `default`
    /// when unset. Set but holding no URL is an error, not an empty list.
    fn url_prefixes_or(&self, variable: &str, default: Vec<Url>) -> Result<Vec<Url>> {
        let Some(text) = self.text(variable) else {
            return Ok(default);
        };
        let what = "a comma-separated list of http(s) URL prefixes without credentials, query \
                    or fragment, e.g. https://smba.trafficmanager.net/";
        let prefixes = self
            .list(variable)
            .iter()
            .map(|item| {
                read_http_url(item)
                    .filter(|url| {
                        url.username().is_empty()
                            && url.password().is_none()
                            && url.query().is_none()
                            && url.fragment().is_none()
                    })
                    .ok_or_else(|| expected(variable, what, &redact_password(item)))
            })
            .collect::<Result<Vec<Url>>>()?;
        if prefixes.is_empty() {
            return Err(expected(variable, what, text));
        }
        Ok(prefixes)
    }

    /// A comma list, each item trimmed, empty items dropped.
    fn list(&self, variable: &str) -> Vec<String> {
        self.text(variable)
            .map(|text| {
                text.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn read_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn read_whole(text: &str, minimum: u64) -> Option<u64> {
    text.parse::<u64>().ok().filter(|n| *n >= minimum)
}

fn read_http_url(text: &str) -> Option<Url> {
    Url::parse(text)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
}

/// `24h`, `30m`, `90s`, `2d`, `1h30m` or plain seconds; at least one second.
/// CATCH_UP_WINDOW: a duration up to a day, or `0` / `off` for no catch-up.
fn read_catch_up_window(text: &str) -> Option<Duration> {
    if text == "0" || text.eq_ignore_ascii_case("off") {
        return Some(Duration::ZERO);
    }
    read_duration(text).filter(|window| *window <= Duration::from_secs(24 * 60 * 60))
}

pub(super) fn read_duration(text: &str) -> Option<Duration> {
    if let Ok(seconds) = text.parse::<u64>() {
        return (seconds >= 1).then(|| Duration::from_secs(seconds));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for character in text.chars().filter(|c| !c.is_whitespace()) {
        if character.is_ascii_digit() {
            digits.push(character);
            continue;
        }
        let unit: u64 = match character.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 60 * 60,
            'd' => 24 * 60 * 60,
            'w' => 7 * 24 * 60 * 60,
            _ => return None,
        };
        let amount: u64 = digits.parse().ok()?;
        total = total.checked_add(amount.checked_mul(unit)?)?;
        digits.clear();
    }
    // A trailing number without a unit (`1h30`) is ambiguous: refuse it.
    (digits.is_empty() && total >= 1).then(|| Duration::from_secs(total))
}

/// Accepts `IP:port` and `localhost:port` (read as 127.0.0.1).
fn read_socket_address(text: &str) -> Option<SocketAddr> {
    if let Ok(address) = text.parse() {
        return Some(address);
    }
    let port = text.strip_prefix("localhost:")?.parse::<u16>().ok()?;
    Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
}

fn read_platforms(variable: &str, text: &str) -> Result<Vec<Platform>> {
    let mut platforms = Vec::new();
    for item in text
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let platform: Platform = item.parse().map_err(|_| {
            ConfigError::new(
                variable,
                format!(
                    "expected a comma-separated list of discord, slack, teams, desktop (got {}: unknown platform {})",
                    shown(text),
                    shown(item)
                ),
            )
        })?;
        // A platform named twice keeps its first (highest) place.
        if !platforms.contains(&platform) {
            platforms.push(platform);
        }
    }
    Ok(platforms)
}

/// `discord=5,teams=3`: a count per platform.
/// Reads every `<PLATFORM>_*` variable.
fn platform_overrides(raw: &Raw<'_>) -> Result<PlatformOverrides> {
    let mut overrides = PlatformOverrides::default();
    for platform in platforms::PLATFORMS {
        let name = |value: &str| format!("{}_{value}", platforms::prefix(platform));
        let set = overrides.of_mut(platform);
        set.response_target = raw
            .optional_whole::<u64>(&name("RESPONSE_TARGET_MS"), 1)?
            .map(Duration::from_millis);
        set.llm_model = raw.optional_string(&name("LLM_MODEL"));
        set.llm_max_tokens = raw.optional_whole(&name("LLM_MAX_TOKENS"), 1)?;
        set.llm_temperature = raw.optional_temperature(&name("LLM_TEMPERATURE"))?;
        set.memory_top_k = raw.optional_whole(&name("MEMORY_TOP_K"), 0)?;
        set.history_turns = raw.optional_whole(&name("HISTORY_TURNS"), 0)?;
        if platforms::has_typing_indicator(platform) {
            set.show_typing = raw.optional_bool(&name("SHOW_TYPING"))?;
        }
        set.emotion_writes = raw.optional_enum(&name("EMOTION_WRITES"))?;
    }
    Ok(overrides)
}

fn is_name(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Reads every variable; anything unset takes its value from [`Settings::default`].
pub(super) fn settings_from(values: &HashMap<String, String>) -> Result<Settings> {
    let raw = Raw { values };
    let d = Settings::default();

    let database_url = match raw.text("DATABASE_URL") {
        None => d.database_url,
        Some(text) => {
            let lower = text.to_ascii_lowercase();
            if !["sqlite:", "postgres://", "postgresql://"]
                .iter()
                .any(|scheme| lower.starts_with(scheme))
            {
                // The URL may carry a password: quote it with the password hidden.
                return Err(expected(
                    "DATABASE_URL",
                    "a sqlite: or postgres:// URL",
                    &redact_password(text),
                ));
            }
            text.to_string()
        }
    };

    let redis_url = match raw.text("REDIS_URL") {
        None => None,
        Some(text) => {
            let url = Url::parse(text)
                .ok()
                .filter(|url| matches!(url.scheme(), "redis" | "rediss"));
            let url = url.ok_or_else(|| {
                expected(
                    "REDIS_URL",
                    "a redis:// or rediss:// URL",
                    &redact_password(text),
                )
            })?;
            Some(url)
        }
    };

    let platform_priority = match raw.text("PLATFORM_PRIORITY") {
        None => d.platform_priority,
        Some(text) => read_platforms("PLATFORM_PRIORITY", text)?,
    };

    let stream_replies = match raw.text("STREAM_REPLIES") {
        None => d.stream_replies,
        Some(text) if matches!(text.trim(), "none" | "off") => Vec::new(),
        Some(text) => read_platforms("STREAM_REPLIES", text)?,
    };

    let personality = raw.string_or("PERSONALITY", d.personality);
    if !is_name(&personality) {
        return Err(expected(
            "PERSONALITY",
            "a personality name of letters, digits, - and _",
            &personality,
        ));
    }

    let local_user = raw
        .optional_string("LOCAL_USER")
        .or_else(|| raw.optional_string("USER"))
        .unwrap_or(d.local_user);

    let llm_temperature = raw.parse_or(
        "LLM_TEMPERATURE",
        d.llm_temperature,
        |text| text.parse::<f32>().ok().filter(|t| (0.0..=2.0).contains(t)),
        "a number from 0 to 2",
    )?;

    let memory_retention_days = raw.parse_or(
        "MEMORY_RETENTION_DAYS",
        d.memory_retention_days,
        |text| match text.to_ascii_lowercase().as_str() {
            "keep" | "forever" | "none" => Some(None),
            _ => text.parse::<u32>().ok().filter(|days| *days >= 1).map(Some),
        },
        "a whole number of days ≥ 1, or keep",
    )?;

    let discord_admin_ids = raw.list("DISCORD_ADMIN_IDS");
    if let Some(bad) = discord_admin_ids
        .iter()
        .find(|id| !id.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(ConfigError::new(
            "DISCORD_ADMIN_IDS",
            format!(
                "expected a comma-separated list of Discord user ids (got {}: {} is not a number)",
                shown(raw.text("DISCORD_ADMIN_IDS").unwrap_or_default()),
                shown(bad)
            ),
        ));
    }

    let discord_shards = raw.parse_or(
        "DISCORD_SHARDS",
        d.discord_shards,
        ShardSetting::parse,
        "auto, a whole number of shards ≥ 1, or this process's range of a total like 0-3/8",
    )?;

    let slack_command = raw.string_or("SLACK_COMMAND", d.slack_command);
    if !slack_command.starts_with('/') || slack_command.len() < 2 || !is_name(&slack_command[1..]) {
        return Err(expected(
            "SLACK_COMMAND",
            "a slash command like /whisper",
            &slack_command,
        ));
    }

    let deployment_mode: DeploymentMode = raw.enum_or("DEPLOYMENT_MODE", d.deployment_mode)?;
    let model_dir = raw
        .optional_string("MODEL_DIR")
        .map(|dir| crate::models::ModelDir(PathBuf::from(dir)))
        .unwrap_or(d.model_dir);
    Ok(Settings {
        deployment_mode,
        cross_platform_sync_enabled: raw
            .bool_or("CROSS_PLATFORM_SYNC_ENABLED", d.cross_platform_sync_enabled)?,
        memory_sync_interval: raw.seconds_or("MEMORY_SYNC_INTERVAL", d.memory_sync_interval)?,
        emotional_sync_interval: raw
            .seconds_or("EMOTIONAL_SYNC_INTERVAL", d.emotional_sync_interval)?,
        settings_sync_interval: raw
            .seconds_or("SETTINGS_SYNC_INTERVAL", d.settings_sync_interval)?,
        auto_resolve_conflicts: raw.bool_or("AUTO_RESOLVE_CONFLICTS", d.auto_resolve_conflicts)?,
        conflict_resolution_strategy: raw.enum_or(
            "CONFLICT_RESOLUTION_STRATEGY",
            d.conflict_resolution_strategy,
        )?,
        platform_priority,
        platform_specific_optimizations: raw.bool_or(
            "PLATFORM_SPECIFIC_OPTIMIZATIONS",
            d.platform_specific_optimizations,
        )?,
        stream_replies,
        adaptive_performance_tuning: raw
            .bool_or("ADAPTIVE_PERFORMANCE_TUNING", d.adaptive_performance_tuning)?,
        sync_conversation_history: raw
            .bool_or("SYNC_CONVERSATION_HISTORY", d.sync_conversation_history)?,
        sync_memory_importance: raw.bool_or("SYNC_MEMORY_IMPORTANCE", d.sync_memory_importance)?,
        sync_emotional_memories: raw
            .bool_or("SYNC_EMOTIONAL_MEMORIES", d.sync_emotional_memories)?,
        sync_emotional_state: raw.bool_or("SYNC_EMOTIONAL_STATE", d.sync_emotional_state)?,
        sync_emotional_patterns: raw
            .bool_or("SYNC_EMOTIONAL_PATTERNS", d.sync_emotional_patterns)?,
        sync_adaptation_strategies: raw
            .bool_or("SYNC_ADAPTATION_STRATEGIES", d.sync_adaptation_strategies)?,
        sync_ui_preferences: raw.bool_or("SYNC_UI_PREFERENCES", d.sync_ui_preferences)?,
        sync_ai_settings: raw.bool_or("SYNC_AI_SETTINGS", d.sync_ai_settings)?,
        sync_privacy_settings: raw.bool_or("SYNC_PRIVACY_SETTINGS", d.sync_privacy_settings)?,
        database_url,
        redis_url,
        redis_key_prefix: raw.string_or("REDIS_KEY_PREFIX", d.redis_key_prefix),
        http_bind: raw.parse_or(
            "HTTP_BIND",
            d.http_bind,
            read_socket_address,
            "an address and port like 127.0.0.1:8080",
        )?,
        intake_queue_size: raw.whole_or("INTAKE_QUEUE_SIZE", d.intake_queue_size, 1)?,
        intake_workers: raw.whole_or("INTAKE_WORKERS", d.intake_workers, 1)?,
        shutdown_drain: raw.seconds_or("SHUTDOWN_DRAIN_SECONDS", d.shutdown_drain)?,
        inbox_lease: raw.seconds_or("INBOX_LEASE_SECONDS", d.inbox_lease)?,
        catch_up_window: raw.parse_or(
            "CATCH_UP_WINDOW",
            d.catch_up_window,
            read_catch_up_window,
            "a duration up to 24h like 10m, 90s or 2h, or 0 / off",
        )?,
        personality,
        personalities_dir: raw
            .optional_string("PERSONALITIES_DIR")
            .map(PathBuf::from)
            .unwrap_or(d.personalities_dir),
        local_user,
        local_api_token: raw.long_secret("LOCAL_API_TOKEN")?,
        metrics_token: raw.long_secret("METRICS_TOKEN")?,
        llm_base_url: raw.http_url("LLM_BASE_URL")?,
        llm_api_key: raw.secret("LLM_API_KEY"),
        llm_model: raw.string_or("LLM_MODEL", d.llm_model),
        llm_timeout: raw.seconds_or("LLM_TIMEOUT", d.llm_timeout)?,
        llm_max_retries: raw.whole_or("LLM_MAX_RETRIES", d.llm_max_retries, 0)?,
        llm_max_tokens: raw.whole_or("LLM_MAX_TOKENS", d.llm_max_tokens, 1)?,
        llm_temperature,
        local_model: match raw.text("LOCAL_MODEL") {
            None => d.local_model,
            Some(text) => crate::models::LocalModelChoice::parse(text)
                .map_err(|what| expected("LOCAL_MODEL", &what, text))?,
        },
        local_embeddings: local_embeddings(&raw, deployment_mode, &model_dir)?,
        model_dir,
        model_hub_url: raw.http_url("MODEL_HUB_URL")?.unwrap_or(d.model_hub_url),
        local_model_max_tokens: raw.whole_or(
            "LOCAL_MODEL_MAX_TOKENS",
            d.local_model_max_tokens,
            1,
        )?,
        local_model_temperature: raw.parse_or(
            "LOCAL_MODEL_TEMPERATURE",
            d.local_model_temperature,
            |text| {
                text.trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|t| (0.0..=2.0).contains(t))
            },
            "a number from 0 to 2",
        )?,
        local_model_context: raw.whole_or("LOCAL_MODEL_CONTEXT", d.local_model_context, 256)?,
        embedding_model: raw.optional_string("EMBEDDING_MODEL"),
        fact_extraction: raw.enum_or("FACT_EXTRACTION", d.fact_extraction)?,
        rate_limit_per_minute: raw.whole_or("RATE_LIMIT_PER_MINUTE", d.rate_limit_per_minute, 0)?,
        history_turns: raw.whole_or("HISTORY_TURNS", d.history_turns, 0)?,
        memory_top_k: raw.whole_or("MEMORY_TOP_K", d.memory_top_k, 0)?,
        platform_overrides: platform_overrides(&raw)?,
        emotion_half_life: raw.parse_or(
            "EMOTION_HALF_LIFE",
            d.emotion_half_life,
            |text| read_duration(text).filter(|d| !d.is_zero()),
            "a duration above zero, e.g. 6h, 90m or 3600 (seconds)",
        )?,
        hot_cache_capacity: raw.whole_or("HOT_CACHE_CAPACITY", d.hot_cache_capacity, 1)?,
        max_message_chars: raw.whole_or("MAX_MESSAGE_CHARS", d.max_message_chars, 1)?,
        demo_data_ttl: raw.parse_or(
            "DEMO_DATA_TTL",
            d.demo_data_ttl,
            read_duration,
            "a duration like 24h, 30m, 90s, 2d or a whole number of seconds ≥ 1",
        )?,
        memory_retention_days,
        admin_token: raw.long_secret("ADMIN_TOKEN")?,
        admin_cookie_secure: raw.bool_or("ADMIN_COOKIE_SECURE", false)?,
        public_url: raw.http_url("PUBLIC_URL")?,
        data_encryption_key: raw.secret("DATA_ENCRYPTION_KEY"),
        discord_token: raw.secret("DISCORD_TOKEN"),
        discord_application_id: raw.optional_string("DISCORD_APPLICATION_ID"),
        discord_guild_id: raw.optional_string("DISCORD_GUILD_ID"),
        discord_admin_ids,
        discord_channels: raw.list("DISCORD_CHANNELS"),
        discord_api_url: raw.http_url("DISCORD_API_URL")?,
        discord_shards,
        slack_bot_token: raw.secret("SLACK_BOT_TOKEN"),
        slack_signing_secret: raw.secret("SLACK_SIGNING_SECRET"),
        slack_app_token: raw.secret("SLACK_APP_TOKEN"),
        slack_command,
        slack_admin_ids: raw.list("SLACK_ADMIN_IDS"),
        slack_api_url: raw.http_url("SLACK_API_URL")?,
        slack_reply_in_thread: raw.bool_or("SLACK_REPLY_IN_THREAD", d.slack_reply_in_thread)?,
        microsoft_app_id: raw.optional_string("MICROSOFT_APP_ID"),
        microsoft_app_password: raw.secret("MICROSOFT_APP_PASSWORD"),
        microsoft_app_tenant_id: raw.optional_string("MICROSOFT_APP_TENANT_ID"),
        teams_admin_ids: raw.list("TEAMS_ADMIN_IDS"),
        teams_openid_metadata_url: raw
            .http_url_or("TEAMS_OPENID_METADATA_URL", d.teams_openid_metadata_url)?,
        teams_token_url: raw.http_url_or("TEAMS_TOKEN_URL", d.teams_token_url)?,
        teams_allowed_service_urls: raw
            .url_prefixes_or("TEAMS_ALLOWED_SERVICE_URLS", d.teams_allowed_service_urls)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_units_and_plain_seconds() {
        let cases = [
            ("24h", 86_400),
            ("30m", 1_800),
            ("90s", 90),
            ("2d", 172_800),
            ("1h30m", 5_400),
            ("45", 45),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                read_duration(text),
                Some(Duration::from_secs(seconds)),
                "{text}"
            );
        }
    }

    #[test]
    fn the_catch_up_window_reads_off_and_refuses_more_than_a_day() {
        assert_eq!(read_catch_up_window("off"), Some(Duration::ZERO));
        assert_eq!(read_catch_up_window("0"), Some(Duration::ZERO));
        assert_eq!(read_catch_up_window("10m"), Some(Duration::from_secs(600)));
        assert_eq!(
            read_catch_up_window("24h"),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(read_catch_up_window("25h"), None);
        assert_eq!(read_catch_up_window("soon"), None);
    }

    #[test]
    fn durations_refuse_zero_nonsense_and_bare_trailing_numbers() {
        for text in ["0", "0s", "soon", "1h30", "h", "-5", "3y"] {
            assert_eq!(read_duration(text), None, "{text}");
        }
    }

    #[test]
    fn booleans_accept_the_usual_spellings() {
        assert_eq!(read_bool("TRUE"), Some(true));
        assert_eq!(read_bool("off"), Some(false));
        assert_eq!(read_bool("maybe"), None);
    }

    #[test]
    fn localhost_binds_read_as_loopback() {
        assert_eq!(
            read_socket_address("localhost:9000"),
            Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 9000)))
        );
        assert_eq!(read_socket_address("example.com:80"), None);
    }

    #[test]
    fn teams_service_url_prefixes_are_read_as_urls_and_a_bad_one_names_the_variable() {
        let read = |text: &str| {
            let values =
                HashMap::from([("TEAMS_ALLOWED_SERVICE_URLS".to_string(), text.to_string())]);
            Raw { values: &values }.url_prefixes_or("TEAMS_ALLOWED_SERVICE_URLS", Vec::new())
        };
        let urls =
            read(" https://smba.trafficmanager.net/ , http://127.0.0.1:3978/amer/,").unwrap();
        let urls: Vec<&str> = urls.iter().map(Url::as_str).collect();
        assert_eq!(
            urls,
            [
                "https://smba.trafficmanager.net/",
                "http://127.0.0.1:3978/amer/"
            ]
        );
        for bad in [
            "smba.trafficmanager.net",
            "https://smba.trafficmanager.net/,ftp://files.example/",
            "https://user:secret@smba.trafficmanager.net/",
            "https://smba.trafficmanager.net/?x=1",
            ",",
        ] {
            let error = read(bad).unwrap_err();
            assert_eq!(error.variable, "TEAMS_ALLOWED_SERVICE_URLS", "{bad}");
            assert!(error.message.contains("URL prefixes"), "{bad}: {error}");
            assert!(!error.message.contains("secret"), "{error}");
        }
        assert!(read("").unwrap().is_empty(), "unset: the default");
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let message = shown(&"x".repeat(500));
        assert!(message.len() < 100, "{message}");
    }
}
