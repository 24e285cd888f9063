//! Where raw values come from: built-in defaults < the optional TOML file < the environment,
//! layered with the `config` crate into one map of variable name → text.

use super::{ConfigError, PLATFORM_VARIABLES, RETIRED, VARIABLES};
use config::{Config, Environment, File, FileFormat, Value, ValueKind};
use std::collections::HashMap;
use std::path::Path;

/// Variables read from the environment besides the settings themselves (`USER` seeds `LOCAL_USER`).
const EXTRA_ENV: &[&str] = &["USER"];

/// Merges the TOML file (if any) under the environment and returns every value found, keyed by
/// the upper-case variable name. Defaults are not in the map: the parser falls back to
/// [`super::Settings::default`] for anything missing, so defaults live in one place.
pub(super) fn layered(
    env: &HashMap<String, String>,
    toml_file: Option<&Path>,
) -> Result<HashMap<String, String>, ConfigError> {
    let mut builder = Config::builder();
    if let Some(path) = toml_file {
        let text = read_toml(path)?;
        builder = builder.add_source(File::from_str(&text, FileFormat::Toml));
    }
    // Only our own variables go in: the rest of a process environment is none of our business, and
    // odd names (with dots) would otherwise be read as nested tables.
    let ours: config::Map<String, String> = env
        .iter()
        .filter(|(name, _)| is_ours(name) || EXTRA_ENV.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    builder = builder.add_source(Environment::default().source(Some(ours)));

    // The file was checked by `read_toml`, so a failure here is a bug, not a value to echo.
    let merged = builder
        .build()
        .and_then(|config| config.cache.into_table())
        .map_err(|_| ConfigError::new("configuration", "the settings could not be merged"))?;

    let mut values = HashMap::new();
    for (key, value) in merged {
        let name = key.to_ascii_uppercase();
        if let Some(text) = value_text(value) {
            values.insert(name, text);
        }
    }
    Ok(values)
}

/// Reads and checks the TOML file: valid TOML, only known keys (lower case), only plain values
/// or lists. Errors name the file and never quote its lines, which may hold secrets.
/// Whether `name` is one of the host's variables.
fn is_ours(name: &str) -> bool {
    VARIABLES.contains(&name) || PLATFORM_VARIABLES.contains(&name)
}

fn read_toml(path: &Path) -> Result<String, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| {
        ConfigError::new(&shown, format!("expected a readable TOML file ({error})"))
    })?;
    let table: toml::Table = text.parse().map_err(|error: toml::de::Error| {
        let line = error
            .span()
            .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
        let place = line.map(|n| format!(" at line {n}")).unwrap_or_default();
        ConfigError::new(
            &shown,
            format!("not valid TOML{place}: {}", error.message().trim()),
        )
    })?;
    for (key, value) in &table {
        let upper = key.to_ascii_uppercase();
        if let Some((_, instead)) = RETIRED.iter().find(|(name, _)| *name == upper) {
            return Err(ConfigError::new(&shown, format!("`{key}` is {instead}")));
        }
        if !is_ours(&upper) {
            return Err(ConfigError::new(
                &shown,
                format!(
                    "unknown setting `{key}` (keys are the environment variable names in lower case, e.g. deployment_mode)"
                ),
            ));
        }
        if *key != upper.to_ascii_lowercase() {
            return Err(ConfigError::new(
                &shown,
                format!(
                    "write `{key}` in lower case: `{}`",
                    key.to_ascii_lowercase()
                ),
            ));
        }
        let is_plain =
            |value: &toml::Value| !matches!(value, toml::Value::Table(_) | toml::Value::Array(_));
        let is_allowed = match value {
            toml::Value::Table(_) => false,
            toml::Value::Array(items) => items.iter().all(is_plain),
            _ => true,
        };
        if !is_allowed {
            return Err(ConfigError::new(
                &shown,
                format!("`{key}` expected a single value or a list of values, not a table"),
            ));
        }
    }
    Ok(text)
}

/// The text of a merged value: lists are joined with commas, as in the environment.
fn value_text(value: Value) -> Option<String> {
    match value.kind {
        ValueKind::Nil => None,
        ValueKind::Array(items) => {
            let parts: Vec<String> = items.into_iter().filter_map(value_text).collect();
            Some(parts.join(","))
        }
        kind => Value::new(None, kind).into_string().ok(),
    }
}
