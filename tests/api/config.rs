//! Specification of the typed settings: defaults, layering (defaults < TOML file < environment),
//! one-line errors naming the variable, validation of combinations, and secrets never shown.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;
use whisperengine::config::{
    load_from, ConfigError, ConflictStrategy, DeploymentMode, EmotionWrites, Settings,
    ShardSetting, SyncCategory, PLATFORM_VARIABLES, VARIABLES,
};
use whisperengine_contract::Platform;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn load_env(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    load_from(&env(pairs), None)
}

fn error_for(pairs: &[(&str, &str)]) -> ConfigError {
    match load_env(pairs) {
        Ok(settings) => panic!("expected an error for {pairs:?}, got {settings:?}"),
        Err(error) => error,
    }
}

fn toml_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

const CLOUD: (&str, &str) = ("DEPLOYMENT_MODE", "cloud");

#[test]
fn with_nothing_set_the_documented_defaults_apply() {
    let settings = load_env(&[]).unwrap();
    assert_eq!(settings.deployment_mode, DeploymentMode::Desktop);
    assert!(settings.cross_platform_sync_enabled);
    assert_eq!(settings.memory_sync_interval, Duration::from_secs(30));
    assert_eq!(settings.emotional_sync_interval, Duration::from_secs(60));
    assert_eq!(settings.settings_sync_interval, Duration::from_secs(300));
    assert_eq!(
        settings.conflict_resolution_strategy,
        ConflictStrategy::LatestWins
    );
    assert_eq!(
        settings.platform_priority,
        vec![
            Platform::Discord,
            Platform::Slack,
            Platform::Teams,
            Platform::Desktop
        ]
    );
    assert!(SyncCategory::ALL.iter().all(|c| settings.sync_default(*c)));
    assert_eq!(
        settings.database_url,
        "sqlite://data/whisperengine.db?mode=rwc"
    );
    assert!(settings.database_is_sqlite());
    assert!(settings.redis_url.is_none());
    assert_eq!(settings.redis_key_prefix, "whisperengine:");
    assert_eq!(settings.http_bind.to_string(), "127.0.0.1:8080");
    assert_eq!(settings.personality, "elena");
    assert_eq!(settings.local_user, "me");
    assert_eq!(settings.llm_model, "gpt-4o-mini");
    assert_eq!(settings.llm_timeout, Duration::from_secs(30));
    assert_eq!(
        (settings.llm_max_retries, settings.llm_max_tokens),
        (2, 400)
    );
    assert_eq!(settings.llm_temperature, 0.8);
    assert_eq!(settings.rate_limit_per_minute, 20);
    assert_eq!(settings.hot_cache_capacity, 10_000);
    assert_eq!(settings.max_message_chars, 4000);
    assert_eq!(settings.demo_data_ttl, Duration::from_secs(24 * 3600));
    assert_eq!(settings.memory_retention_days, None);
    assert_eq!(settings.discord_shards, ShardSetting::Auto);
    assert_eq!(settings.slack_command, "/whisper");
    assert!(settings.slack_reply_in_thread);
    assert_eq!(
        settings.teams_token_url.as_str(),
        "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
    );
    // Default::default() is exactly what an empty load gives.
    assert_eq!(
        format!("{settings:?}"),
        format!("{:?}", Settings::default())
    );
}

#[test]
fn the_local_user_comes_from_user_unless_local_user_is_set() {
    assert_eq!(load_env(&[("USER", "ada")]).unwrap().local_user, "ada");
    let both = load_env(&[("USER", "ada"), ("LOCAL_USER", "grace")]).unwrap();
    assert_eq!(both.local_user, "grace");
}

#[test]
fn the_toml_file_overrides_defaults_and_the_environment_overrides_the_file() {
    let file = toml_file(
        r#"
deployment_mode = "cloud"
memory_sync_interval = 45
llm_model = "from-toml"
platform_priority = ["slack", "discord"]
redis_url = "redis://cache:6379/0"
"#,
    );
    let settings = load_from(&env(&[("LLM_MODEL", "from-env")]), Some(file.path())).unwrap();
    assert_eq!(settings.deployment_mode, DeploymentMode::Cloud);
    assert_eq!(settings.memory_sync_interval, Duration::from_secs(45));
    assert_eq!(settings.llm_model, "from-env");
    assert_eq!(
        settings.platform_priority,
        vec![Platform::Slack, Platform::Discord]
    );
    assert_eq!(settings.redis_display(), "redis://cache:6379/0");

    // An empty environment value unsets what the file set.
    let unset = load_from(&env(&[("REDIS_URL", "")]), Some(file.path())).unwrap();
    assert!(unset.redis_url.is_none());
}

#[test]
fn an_unknown_key_in_the_toml_file_is_refused() {
    let file = toml_file("deploymnet_mode = \"cloud\"\n");
    let error = load_from(&env(&[]), Some(file.path())).unwrap_err();
    assert!(error.message.contains("deploymnet_mode"), "{error}");
}

#[test]
fn a_broken_toml_file_is_refused_without_quoting_its_lines() {
    let file = toml_file("llm_model = \"ok\"\nslack_bot_token = \"xoxb-secret-value\n");
    let error = load_from(&env(&[]), Some(file.path())).unwrap_err();
    assert!(error.message.contains("line 2"), "{error}");
    assert!(!error.to_string().contains("xoxb-secret-value"), "{error}");
}

#[test]
fn the_three_documented_messages_read_exactly() {
    assert_eq!(
        error_for(&[("DEPLOYMENT_MODE", "clod")]).to_string(),
        r#"DEPLOYMENT_MODE: expected one of desktop, cloud, demo (got "clod")"#
    );
    assert_eq!(
        error_for(&[("MEMORY_SYNC_INTERVAL", "soon")]).to_string(),
        r#"MEMORY_SYNC_INTERVAL: expected a whole number of seconds ≥ 1 (got "soon")"#
    );
    assert_eq!(
        error_for(&[("LLM_BASE_URL", "not a url")]).to_string(),
        r#"LLM_BASE_URL: expected an http(s) URL (got "not a url")"#
    );
}

#[test]
fn each_bad_value_is_refused_naming_its_variable_and_what_it_got() {
    let cases: &[(&str, &str, &str)] = &[
        ("DEPLOYMENT_MODE", "clod", "desktop, cloud, demo"),
        ("MEMORY_SYNC_INTERVAL", "soon", "seconds"),
        ("EMOTIONAL_SYNC_INTERVAL", "0", "≥ 1"),
        ("SETTINGS_SYNC_INTERVAL", "-5", "≥ 1"),
        ("CROSS_PLATFORM_SYNC_ENABLED", "perhaps", "true or false"),
        ("CONFLICT_RESOLUTION_STRATEGY", "coin_flip", "latest_wins"),
        ("PLATFORM_PRIORITY", "discord,skype", "skype"),
        ("STREAM_REPLIES", "discord,irc", "irc"),
        ("LLM_BASE_URL", "ftp://models.example", "http(s) URL"),
        ("DISCORD_API_URL", "localhost", "http(s) URL"),
        (
            "DATABASE_URL",
            "mysql://db/whisper",
            "sqlite: or postgres://",
        ),
        ("REDIS_URL", "http://cache:6379", "redis://"),
        ("HTTP_BIND", "everywhere", "127.0.0.1:8080"),
        ("LLM_TEMPERATURE", "3", "0 to 2"),
        ("LLM_MAX_TOKENS", "0", "≥ 1"),
        ("HOT_CACHE_CAPACITY", "0", "≥ 1"),
        ("DEMO_DATA_TTL", "a while", "24h"),
        ("MEMORY_RETENTION_DAYS", "0", "keep"),
        ("DISCORD_SHARDS", "many", "auto"),
        ("DISCORD_ADMIN_IDS", "123,bob", "Discord user ids"),
        ("SLACK_COMMAND", "whisper", "/whisper"),
        ("PERSONALITY", "../etc/passwd", "personality name"),
    ];
    for (variable, value, accepted) in cases {
        let error = error_for(&[(variable, value)]);
        assert_eq!(error.variable, *variable, "{error}");
        assert!(error.message.contains(accepted), "{error}");
        assert!(error.message.contains(value), "{error}");
        assert!(!error.to_string().contains('\n'), "one line: {error}");
    }
}

#[test]
fn desktop_mode_listens_on_loopback_only() {
    let error = error_for(&[("HTTP_BIND", "0.0.0.0:8080")]);
    assert_eq!(error.variable, "HTTP_BIND");
    assert!(error.message.contains("0.0.0.0:8080"), "{error}");
    assert!(load_env(&[CLOUD, ("HTTP_BIND", "0.0.0.0:8080")]).is_ok());
    assert!(load_env(&[("HTTP_BIND", "[::1]:9000")]).is_ok());
}

#[test]
fn a_platform_token_in_desktop_mode_asks_for_cloud_mode() {
    for variable in [
        "DISCORD_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "MICROSOFT_APP_ID",
    ] {
        let value = match variable {
            "SLACK_BOT_TOKEN" => "xoxb-1-secret",
            "SLACK_APP_TOKEN" => "xapp-1-secret",
            _ => "secret-value-1",
        };
        let error = error_for(&[(variable, value)]);
        assert_eq!(error.variable, variable);
        assert!(
            error
                .message
                .contains("set DEPLOYMENT_MODE=cloud to run platform connectors"),
            "{error}"
        );
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}

#[test]
fn slack_tokens_must_be_of_the_right_kind_and_are_never_echoed() {
    let error = error_for(&[CLOUD, ("SLACK_APP_TOKEN", "xoxb-1234-topsecret")]);
    assert_eq!(error.variable, "SLACK_APP_TOKEN");
    assert!(error.message.contains("xapp-"), "{error}");
    assert!(!error.to_string().contains("topsecret"), "{error}");

    let error = error_for(&[CLOUD, ("SLACK_BOT_TOKEN", "hunter2-not-a-token")]);
    assert_eq!(error.variable, "SLACK_BOT_TOKEN");
    assert!(error.message.contains("xoxb-"), "{error}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

#[test]
fn a_teams_app_id_needs_its_password_and_the_reverse() {
    let error = error_for(&[CLOUD, ("MICROSOFT_APP_ID", "00000000-app")]);
    assert_eq!(error.variable, "MICROSOFT_APP_PASSWORD");
    let error = error_for(&[CLOUD, ("MICROSOFT_APP_PASSWORD", "pw")]);
    assert_eq!(error.variable, "MICROSOFT_APP_ID");
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let settings = load_env(&[
        CLOUD,
        ("DISCORD_TOKEN", "discord-SECRET-1"),
        ("SLACK_BOT_TOKEN", "xoxb-SECRET-2"),
        ("SLACK_SIGNING_SECRET", "SECRET-3"),
        ("SLACK_APP_TOKEN", "xapp-SECRET-4"),
        ("MICROSOFT_APP_ID", "teams-app"),
        ("MICROSOFT_APP_PASSWORD", "SECRET-5"),
        ("LLM_API_KEY", "sk-SECRET-6"),
        ("ADMIN_TOKEN", "SECRET-7-admin-token-of-forty-characters"),
        ("DATABASE_URL", "postgres://app:SECRET-8@db/whisper"),
        ("REDIS_URL", "redis://:SECRET-9@cache:6379"),
    ])
    .unwrap();
    let debug = format!("{settings:?}");
    assert!(!debug.contains("SECRET"), "{debug}");
    assert!(debug.contains("postgres://app:***@db/whisper"), "{debug}");
    assert_eq!(settings.database_display(), "postgres://app:***@db/whisper");
    assert_eq!(settings.redis_display(), "redis://:***@cache:6379");
    assert!(!settings.database_is_sqlite());
}

#[test]
fn a_bad_database_url_is_quoted_without_its_password() {
    let error = error_for(&[("DATABASE_URL", "mysql://app:SECRET@db/whisper")]);
    assert_eq!(error.variable, "DATABASE_URL");
    assert!(!error.to_string().contains("SECRET"), "{error}");
    assert!(
        error.message.contains("mysql://app:***@db/whisper"),
        "{error}"
    );
}

#[test]
fn values_are_read_in_their_documented_forms() {
    let settings = load_env(&[
        CLOUD,
        ("MEMORY_SYNC_INTERVAL", " 5 "),
        ("SYNC_EMOTIONAL_STATE", "false"),
        ("CONFLICT_RESOLUTION_STRATEGY", "platform_priority"),
        ("PLATFORM_PRIORITY", "teams, desktop"),
        ("DEMO_DATA_TTL", "30m"),
        ("MEMORY_RETENTION_DAYS", "90"),
        ("DISCORD_SHARDS", "4"),
        ("DISCORD_ADMIN_IDS", "80351110224678912, 123"),
        ("HTTP_BIND", "0.0.0.0:3000"),
        ("EMBEDDING_MODEL", ""),
        ("STREAM_REPLIES", "slack, desktop"),
    ])
    .unwrap();
    assert_eq!(settings.memory_sync_interval, Duration::from_secs(5));
    assert_eq!(
        settings.stream_replies,
        vec![Platform::Slack, Platform::Desktop]
    );
    assert_eq!(
        load_env(&[]).unwrap().stream_replies,
        Platform::ALL.to_vec()
    );
    let off = load_env(&[("STREAM_REPLIES", "none")]).unwrap();
    assert!(off.stream_replies.is_empty());
    assert!(!settings.sync_default(SyncCategory::EmotionalState));
    assert!(settings.sync_default(SyncCategory::EmotionalPatterns));
    assert_eq!(
        settings.conflict_resolution_strategy,
        ConflictStrategy::PlatformPriority
    );
    assert_eq!(
        settings.platform_priority,
        vec![Platform::Teams, Platform::Desktop]
    );
    assert_eq!(settings.demo_data_ttl, Duration::from_secs(1800));
    assert_eq!(settings.memory_retention_days, Some(90));
    assert_eq!(settings.discord_shards, ShardSetting::Count(4));
    assert_eq!(settings.discord_admin_ids, vec!["80351110224678912", "123"]);
    assert_eq!(settings.embedding_model, None);
}

#[test]
fn the_connector_summary_says_which_connectors_run_and_why_not() {
    let desktop = load_env(&[]).unwrap().connectors_summary();
    assert_eq!(desktop.len(), 3);
    assert!(desktop
        .iter()
        .all(|(_, on, reason)| !on && reason.contains("desktop")));

    let cloud = load_env(&[CLOUD, ("DISCORD_TOKEN", "t"), ("SLACK_BOT_TOKEN", "xoxb-1")])
        .unwrap()
        .connectors_summary();
    let find = |name: &str| cloud.iter().find(|(n, _, _)| *n == name).unwrap().clone();
    assert!(find("discord").1);
    let (_, slack_on, slack_reason) = find("slack");
    assert!(!slack_on);
    assert!(
        slack_reason.contains("SLACK_SIGNING_SECRET"),
        "{slack_reason}"
    );
    let (_, teams_on, teams_reason) = find("teams");
    assert!(!teams_on);
    assert_eq!(teams_reason, "off: MICROSOFT_APP_ID not set");
}

#[test]
fn env_example_documents_every_variable() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".env.example");
    let text = std::fs::read_to_string(path).unwrap();
    let documented: Vec<&str> = text
        .lines()
        .map(|line| line.trim_start_matches('#').trim())
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
        .collect();
    for variable in VARIABLES.iter().chain(PLATFORM_VARIABLES) {
        assert!(
            documented.contains(variable),
            "{variable} is missing from .env.example"
        );
    }
}

#[test]
fn per_platform_variables_set_their_platform_and_bad_ones_name_themselves() {
    let settings = load_env(&[
        ("SLACK_LLM_MODEL", "small-fast"),
        ("DISCORD_RESPONSE_TARGET_MS", "1500"),
        ("TEAMS_MEMORY_TOP_K", "2"),
        ("DISCORD_SHOW_TYPING", "off"),
        ("DESKTOP_EMOTION_WRITES", "realtime"),
        ("LLM_MAX_TOKENS", "250"),
    ])
    .unwrap();
    assert_eq!(settings.profile(Platform::Slack).llm_model, "small-fast");
    assert_eq!(settings.profile(Platform::Teams).llm_model, "gpt-4o-mini");
    assert_eq!(
        settings.profile(Platform::Discord).response_target,
        Duration::from_millis(1500)
    );
    assert_eq!(settings.profile(Platform::Teams).memory_top_k, 2);
    assert_eq!(settings.profile(Platform::Discord).show_typing, Some(false));
    assert_eq!(settings.profile(Platform::Teams).show_typing, Some(true));
    assert_eq!(
        settings.profile(Platform::Desktop).emotion_writes,
        EmotionWrites::Realtime
    );
    // Below the workplace cap of 300, the host-wide value holds on Slack too.
    assert_eq!(settings.profile(Platform::Slack).llm_max_tokens, 250);

    let file = toml_file("slack_history_turns = 3\n");
    let from_file = load_from(&env(&[]), Some(file.path())).unwrap();
    assert_eq!(from_file.profile(Platform::Slack).history_turns, 3);

    for (variable, value, says) in [
        ("DISCORD_RESPONSE_TARGET_MS", "fast", "whole number"),
        ("SLACK_LLM_TEMPERATURE", "3", "from 0 to 2"),
        ("TEAMS_LLM_MAX_TOKENS", "0", "≥ 1"),
        ("DESKTOP_EMOTION_WRITES", "sometimes", "realtime"),
        ("TEAMS_SHOW_TYPING", "maybe", "true or false"),
    ] {
        let error = error_for(&[(variable, value)]);
        assert_eq!(error.variable, variable);
        assert!(error.message.contains(says), "{variable}: {error}");
    }
    // Slack has no typing indicator for apps: there is no such setting to make.
    let file = toml_file("slack_show_typing = true\n");
    let error = load_from(&env(&[]), Some(file.path())).unwrap_err();
    assert!(error.message.contains("unknown setting"), "{error}");
}

#[test]
fn the_retired_per_platform_top_k_list_is_refused_naming_what_replaces_it() {
    let error = error_for(&[("MEMORY_TOP_K_BY_PLATFORM", "teams=3")]);
    assert_eq!(error.variable, "MEMORY_TOP_K_BY_PLATFORM");
    assert!(error.message.contains("TEAMS_MEMORY_TOP_K"), "{error}");
    let file = toml_file("memory_top_k_by_platform = \"teams=3\"\n");
    let error = load_from(&env(&[]), Some(file.path())).unwrap_err();
    assert!(error.message.contains("TEAMS_MEMORY_TOP_K"), "{error}");
}
