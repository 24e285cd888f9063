//! Configuration values through the loader the host starts with: environment values and a TOML
//! file, layered, parsed and validated into `Settings` or one `ConfigError` line. Neither the error
//! nor the settings' `Debug` may repeat a secret.
//!
//! Input: `NAME=value` lines (the environment); after a line `[toml]`, the TOML file's text.
//! Secrets that hold the marker `s3cr3t` are checked for leaks.

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;
use whisperengine::config::load_from;

/// Variables whose values are never shown.
const SECRETS: [&str; 8] = [
    "LLM_API_KEY",
    "ADMIN_TOKEN",
    "DATA_ENCRYPTION_KEY",
    "DISCORD_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "MICROSOFT_APP_PASSWORD",
];
const MARKER: &str = "s3cr3t";

fn toml_file() -> &'static tempfile::TempDir {
    static DIRECTORY: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIRECTORY.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
}

/// Runs one input; panics when a property does not hold.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (env_text, toml_text) = match text.split_once("\n[toml]\n") {
        Some((env, toml)) => (env, Some(toml)),
        None => (text, None),
    };
    let env: HashMap<String, String> = env_text
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let path = toml_file().path().join("whisperengine.toml");
    if let Some(toml_text) = toml_text {
        let written =
            std::fs::File::create(&path).and_then(|mut file| file.write_all(toml_text.as_bytes()));
        if written.is_err() {
            return;
        }
    }
    let result = load_from(&env, toml_text.map(|_| path.as_path()));
    // The marker counts as a secret only when nothing but secret values holds it.
    let is_marker_secret = env
        .iter()
        .any(|(name, value)| SECRETS.contains(&name.as_str()) && value.contains(MARKER))
        && !env.iter().any(|(name, value)| {
            !SECRETS.contains(&name.as_str()) && (name.contains(MARKER) || value.contains(MARKER))
        })
        && !toml_text.is_some_and(|toml| toml.contains(MARKER));
    let shown = match &result {
        Ok(settings) => format!("{settings:?}"),
        Err(error) => {
            assert!(!error.to_string().trim().is_empty(), "an empty error");
            error.to_string()
        }
    };
    if is_marker_secret {
        assert!(!shown.contains(MARKER), "a secret is shown: {shown}");
    }
}
