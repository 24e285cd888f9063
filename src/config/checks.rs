//! Cross-field validation (the one place start-up refuses a combination of settings), the
//! connector summary for the banner and `doctor`, and display helpers that never show a secret.

use super::{ConfigError, DeploymentMode, Settings};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// The URL with the password of its user-info part replaced by `***`
/// (`postgres://app:***@db/whisper`). Works on text that is not a valid URL too, and errs on the
/// side of hiding more: anything between the first `:` of the user-info and the last `@` goes.
pub(crate) fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    // Passwords are often written unencoded (with `/` or `@` in them), so look for the user-info
    // end as far as the query, not just to the first `/`.
    let before_query = rest.find(['?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..before_query].rfind('@') else {
        return url.to_string();
    };
    let user_info = &rest[..at];
    match user_info.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..rest_start],
            &user_info[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

impl Settings {
    /// Refuses combinations that cannot work; each error names the variable to change.
    ///
    /// [`super::load_from`] calls this; call it again after changing settings in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.deployment_mode == DeploymentMode::Desktop {
            if !self.http_bind.ip().is_loopback() {
                return Err(ConfigError::new(
                    "HTTP_BIND",
                    format!(
                        "expected a loopback address like 127.0.0.1:8080 in desktop mode (got \"{}\"); set DEPLOYMENT_MODE=cloud to listen on other interfaces",
                        self.http_bind
                    ),
                ));
            }
            let platform_settings = [
                ("DISCORD_TOKEN", self.discord_token.is_some()),
                ("SLACK_BOT_TOKEN", self.slack_bot_token.is_some()),
                ("SLACK_APP_TOKEN", self.slack_app_token.is_some()),
                ("MICROSOFT_APP_ID", self.microsoft_app_id.is_some()),
            ];
            if let Some((variable, _)) = platform_settings.iter().find(|(_, is_set)| *is_set) {
                return Err(ConfigError::new(
                    *variable,
                    "is set, but desktop mode runs the local chat only: set DEPLOYMENT_MODE=cloud to run platform connectors (or unset it)",
                ));
            }
        }
        check_prefix(
            "SLACK_BOT_TOKEN",
            self.slack_bot_token.as_ref(),
            "xoxb-",
            "a bot token",
        )?;
        check_prefix(
            "SLACK_APP_TOKEN",
            self.slack_app_token.as_ref(),
            "xapp-",
            "an app-level token",
        )?;
        match (
            self.microsoft_app_id.is_some(),
            self.microsoft_app_password.is_some(),
        ) {
            (true, false) => Err(ConfigError::new(
                "MICROSOFT_APP_PASSWORD",
                "expected the bot's client secret, required when MICROSOFT_APP_ID is set (got nothing)",
            )),
            (false, true) => Err(ConfigError::new(
                "MICROSOFT_APP_ID",
                "expected the bot's app id, required when MICROSOFT_APP_PASSWORD is set (got nothing)",
            )),
            _ => Ok(()),
        }
    }

    /// Settings that work but are not recommended, one sentence each naming the variable; the host
    /// logs them at start. Today: cloud or demo mode with several platform connectors and no Redis.
    pub fn start_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let connectors: Vec<&str> = self
            .connectors_summary()
            .into_iter()
            .filter(|(_, is_on, _)| *is_on)
            .map(|(name, _, _)| name)
            .collect();
        if self.deployment_mode.runs_connectors()
            && self.redis_url.is_none()
            && connectors.len() > 1
        {
            warnings.push(format!(
                "REDIS_URL is not set while {} connectors run ({}): set it to share event dedupe, rate limits and cache invalidation across host processes",
                connectors.len(),
                connectors.join(", ")
            ));
        }
        warnings
    }

    /// Whether `DATABASE_URL` is a SQLite database.
    pub fn database_is_sqlite(&self) -> bool {
        self.database_url
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("sqlite:"))
    }

    /// `DATABASE_URL` fit for logs and banners: any password replaced by `***`.
    pub fn database_display(&self) -> String {
        redact_password(&self.database_url)
    }

    /// `REDIS_URL` fit for logs and banners (password replaced by `***`), or `none` when unset.
    pub fn redis_display(&self) -> String {
        self.redis_url
            .as_ref()
            .map(|url| redact_password(url.as_str()))
            .unwrap_or_else(|| "none".to_string())
    }

    /// For each platform connector (`discord`, `slack`, `teams`): whether it will run, and why
    /// (`"off: DISCORD_TOKEN not set"`). For the start-up banner and `doctor`.
    pub fn connectors_summary(&self) -> Vec<(&'static str, bool, String)> {
        if !self.deployment_mode.runs_connectors() {
            return ["discord", "slack", "teams"]
                .into_iter()
                .map(|name| {
                    (
                        name,
                        false,
                        "off: desktop mode runs the local chat only (set DEPLOYMENT_MODE=cloud)"
                            .to_string(),
                    )
                })
                .collect();
        }
        let discord = match self.discord_token {
            Some(_) => (true, format!("on (shards: {})", self.discord_shards)),
            None => (false, "off: DISCORD_TOKEN not set".to_string()),
        };
        let slack = match (
            &self.slack_bot_token,
            &self.slack_app_token,
            &self.slack_signing_secret,
        ) {
            (None, _, _) => (false, "off: SLACK_BOT_TOKEN not set".to_string()),
            (Some(_), Some(_), _) => (true, "on (Socket Mode, SLACK_APP_TOKEN set)".to_string()),
            (Some(_), None, Some(_)) => (true, "on (Events API at POST /slack/events)".to_string()),
            (Some(_), None, None) => (
                false,
                "off: SLACK_BOT_TOKEN is set but neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET (Events API) is".to_string(),
            ),
        };
        let teams = match (&self.microsoft_app_id, &self.microsoft_app_password) {
            (Some(_), Some(_)) => (true, "on (Bot Framework at POST /api/messages)".to_string()),
            (None, _) => (false, "off: MICROSOFT_APP_ID not set".to_string()),
            (Some(_), None) => (false, "off: MICROSOFT_APP_PASSWORD not set".to_string()),
        };
        vec![
            ("discord", discord.0, discord.1),
            ("slack", slack.0, slack.1),
            ("teams", teams.0, teams.1),
        ]
    }
}

/// A Slack token of the wrong kind; says which kind it looks like, never the token itself.
fn check_prefix(
    variable: &str,
    token: Option<&SecretString>,
    prefix: &str,
    kind: &str,
) -> Result<(), ConfigError> {
    let Some(token) = token else { return Ok(()) };
    let token = token.expose_secret();
    if token.starts_with(prefix) {
        return Ok(());
    }
    // Naming the kind of token found (from its public prefix) points at the usual mix-up.
    let got = if token.starts_with("xoxb-") {
        "a bot token, xoxb-…, which belongs in SLACK_BOT_TOKEN"
    } else if token.starts_with("xapp-") {
        "an app-level token, xapp-…, which belongs in SLACK_APP_TOKEN"
    } else if token.starts_with("xoxp-") {
        "a user token, xoxp-…, which the host does not use"
    } else {
        "something else; the value is not shown"
    };
    Err(ConfigError::new(
        variable,
        format!("expected {kind} starting with {prefix} (got {got})"),
    ))
}

impl fmt::Debug for Settings {
    /// Every field, with secrets redacted and URL passwords replaced by `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("deployment_mode", &self.deployment_mode)
            .field(
                "cross_platform_sync_enabled",
                &self.cross_platform_sync_enabled,
            )
            .field("memory_sync_interval", &self.memory_sync_interval)
            .field("emotional_sync_interval", &self.emotional_sync_interval)
            .field("settings_sync_interval", &self.settings_sync_interval)
            .field("auto_resolve_conflicts", &self.auto_resolve_conflicts)
            .field(
                "conflict_resolution_strategy",
                &self.conflict_resolution_strategy,
            )
            .field("platform_priority", &self.platform_priority)
            .field(
                "platform_specific_optimizations",
                &self.platform_specific_optimizations,
            )
            .field("stream_replies", &self.stream_replies)
            .field(
                "adaptive_performance_tuning",
                &self.adaptive_performance_tuning,
            )
            .field("sync_conversation_history", &self.sync_conversation_history)
            .field("sync_memory_importance", &self.sync_memory_importance)
            .field("sync_emotional_memories", &self.sync_emotional_memories)
            .field("sync_emotional_state", &self.sync_emotional_state)
            .field("sync_emotional_patterns", &self.sync_emotional_patterns)
            .field(
                "sync_adaptation_strategies",
                &self.sync_adaptation_strategies,
            )
            .field("sync_ui_preferences", &self.sync_ui_preferences)
            .field("sync_ai_settings", &self.sync_ai_settings)
            .field("sync_privacy_settings", &self.sync_privacy_settings)
            .field("database_url", &self.database_display())
            .field("redis_url", &self.redis_display())
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("http_bind", &self.http_bind)
            .field("intake_queue_size", &self.intake_queue_size)
            .field("intake_workers", &self.intake_workers)
            .field("shutdown_drain", &self.shutdown_drain)
            .field("inbox_lease", &self.inbox_lease)
            .field("catch_up_window", &self.catch_up_window)
            .field("personality", &self.personality)
            .field("personalities_dir", &self.personalities_dir)
            .field("local_user", &self.local_user)
            .field("local_api_token", &self.local_api_token)
            .field("metrics_token", &self.metrics_token)
            .field(
                "llm_base_url",
                &self.llm_base_url.as_ref().map(|u| u.as_str()),
            )
            .field("llm_api_key", &self.llm_api_key)
            .field("llm_model", &self.llm_model)
            .field("llm_timeout", &self.llm_timeout)
            .field("llm_max_retries", &self.llm_max_retries)
            .field("llm_max_tokens", &self.llm_max_tokens)
            .field("llm_temperature", &self.llm_temperature)
            .field("local_model", &self.local_model)
            .field("model_dir", &self.model_dir)
            .field("model_hub_url", &self.model_hub_url.as_str())
            .field("local_model_max_tokens", &self.local_model_max_tokens)
            .field("local_model_temperature", &self.local_model_temperature)
            .field("local_model_context", &self.local_model_context)
            .field("embedding_model", &self.embedding_model)
            .field("local_embeddings", &self.local_embeddings)
            .field("fact_extraction", &self.fact_extraction)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("history_turns", &self.history_turns)
            .field("memory_top_k", &self.memory_top_k)
            .field("platform_overrides", &self.platform_overrides)
            .field("emotion_half_life", &self.emotion_half_life)
            .field("hot_cache_capacity", &self.hot_cache_capacity)
            .field("max_message_chars", &self.max_message_chars)
            .field("demo_data_ttl", &self.demo_data_ttl)
            .field("memory_retention_days", &self.memory_retention_days)
            .field("admin_token", &self.admin_token)
            .field("admin_cookie_secure", &self.admin_cookie_secure)
            .field("public_url", &self.public_url.as_ref().map(|u| u.as_str()))
            .field("data_encryption_key", &self.data_encryption_key)
            .field("discord_token", &self.discord_token)
            .field("discord_application_id", &self.discord_application_id)
            .field("discord_guild_id", &self.discord_guild_id)
            .field("discord_admin_ids", &self.discord_admin_ids)
            .field("discord_channels", &self.discord_channels)
            .field(
                "discord_api_url",
                &self.discord_api_url.as_ref().map(|u| u.as_str()),
            )
            .field("discord_shards", &self.discord_shards)
            .field("slack_bot_token", &self.slack_bot_token)
            .field("slack_signing_secret", &self.slack_signing_secret)
            .field("slack_app_token", &self.slack_app_token)
            .field("slack_command", &self.slack_command)
            .field("slack_admin_ids", &self.slack_admin_ids)
            .field(
                "slack_api_url",
                &self.slack_api_url.as_ref().map(|u| u.as_str()),
            )
            .field("slack_reply_in_thread", &self.slack_reply_in_thread)
            .field("microsoft_app_id", &self.microsoft_app_id)
            .field("microsoft_app_password", &self.microsoft_app_password)
            .field("microsoft_app_tenant_id", &self.microsoft_app_tenant_id)
            .field("teams_admin_ids", &self.teams_admin_ids)
            .field(
                "teams_allowed_service_urls",
                &self
                    .teams_allowed_service_urls
                    .iter()
                    .map(|url| url.as_str())
                    .collect::<Vec<_>>(),
            )
            .field(
                "teams_openid_metadata_url",
                &self.teams_openid_metadata_url.as_str(),
            )
            .field("teams_token_url", &self.teams_token_url.as_str())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_in_displayed_urls() {
        let cases = [
            (
                "postgres://app:hunter2@db:5432/whisper",
                "postgres://app:***@db:5432/whisper",
            ),
            ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
            (
                "postgres://app:p/ss@w@rd@db/whisper?sslmode=require",
                "postgres://app:***@db/whisper?sslmode=require",
            ),
            ("postgres://app@db/whisper", "postgres://app@db/whisper"),
            (
                "sqlite://data/whisperengine.db?mode=rwc",
                "sqlite://data/whisperengine.db?mode=rwc",
            ),
        ];
        for (url, displayed) in cases {
            assert_eq!(redact_password(url), displayed);
        }
    }

    #[test]
    fn the_built_in_teams_urls_parse() {
        assert!(url::Url::parse(super::super::TEAMS_OPENID_METADATA_URL).is_ok());
        assert!(url::Url::parse(super::super::TEAMS_TOKEN_URL).is_ok());
    }
}
