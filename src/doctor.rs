//! `whisperengine doctor`: checks configuration, database, Redis, the LLM endpoint, the personality
//! and each connector's credentials, and prints a table of ok / missing / failing with the reason.
//! Exit code 1 when anything is failing ("missing" optional parts are not failures).

use crate::config::Settings;
use crate::llm::OpenAiClient;
use crate::personality::Personality;
use crate::setup;
use crate::store::Store;

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Missing,
    /// Works, but not as a careful operator would want it (not a failure).
    Warning,
    Failing,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Missing => "missing",
            Status::Warning => "WARNING",
            Status::Failing => "FAILING",
        }
    }
}

fn check(name: &str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        name: name.to_string(),
        status,
        detail: detail.into(),
    }
}

/// Runs every check.
pub async fn checks(settings: &Settings) -> Vec<Check> {
    let mut report = vec![check(
        "configuration",
        Status::Ok,
        format!("{} mode", settings.deployment_mode.as_str()),
    )];
    report.push(
        match Personality::load(&settings.personalities_dir, &settings.personality) {
            Ok(personality) => check("personality", Status::Ok, personality.name),
            Err(error) => check("personality", Status::Failing, error.to_string()),
        },
    );
    let mut options = setup::store_options(settings);
    options.redis_url = None;
    let mut inbox = None;
    report.push(match Store::connect(&options).await {
        Ok(store) => match store.pending_migrations().await {
            Ok(0) => {
                inbox = Some(inbox_check(&store).await);
                check("database", Status::Ok, settings.database_display())
            }
            Ok(pending) => check(
                "database",
                Status::Failing,
                format!("{pending} migration(s) pending: run `whisperengine migrate` (serve applies them at start)"),
            ),
            Err(error) => check("database", Status::Failing, error.to_string()),
        },
        Err(error) => check("database", Status::Failing, error.to_string()),
    });
    report.extend(inbox);
    report.push(match &settings.redis_url {
        None => check(
            "redis",
            Status::Missing,
            "REDIS_URL not set (fine for one process)",
        ),
        Some(url) => match crate::store::cache::SharedCache::connect(url.as_str(), "doctor:").await
        {
            Ok(cache) => match cache.ping().await {
                Ok(()) => check("redis", Status::Ok, settings.redis_display()),
                Err(error) => check(
                    "redis",
                    Status::Failing,
                    format!("{}: {error}", settings.redis_display()),
                ),
            },
            Err(error) => check("redis", Status::Failing, error.to_string()),
        },
    });
    report.push(match setup::llm_client(settings) {
        None => local_model_check(settings),
        Some(Ok(client)) => match client.check().await {
            Ok(()) => check("llm", Status::Ok, client_description(&client)),
            Err(error) => check(
                "llm",
                Status::Failing,
                format!("{}: {error}", client_description(&client)),
            ),
        },
        Some(Err(error)) => check("llm", Status::Failing, error.to_string()),
    });
    report.push(embeddings_check(settings));
    for (name, is_on, reason) in settings.connectors_summary() {
        if name == "teams" && is_on {
            report.push(teams_check(settings, reason).await);
            continue;
        }
        if name == "discord" && is_on {
            report.push(discord_check(settings, reason).await);
            continue;
        }
        if name == "slack" && is_on {
            report.push(slack_check(settings, reason).await);
            continue;
        }
        report.push(if is_on && !setup::CONNECTORS_BUILT.contains(&name) {
            check(
                name,
                Status::Failing,
                format!("credentials set, but this build has no {name} connector yet"),
            )
        } else {
            check(
                name,
                if is_on { Status::Ok } else { Status::Missing },
                reason,
            )
        });
    }
    report.push(admins_check(settings));
    report.push(check(
        "platform tuning",
        Status::Ok,
        if settings.platform_specific_optimizations {
            "each platform its own values (PLATFORM_SPECIFIC_OPTIMIZATIONS=true; table below)"
        } else {
            "every platform uses the local chat's values (PLATFORM_SPECIFIC_OPTIMIZATIONS=false; table below)"
        },
    ));
    report
}

/// Who may run host admin commands from a chat: only the ids listed in DISCORD_ADMIN_IDS,
/// SLACK_ADMIN_IDS and TEAMS_ADMIN_IDS (a platform's own admin flags count for nothing). A warning
/// when a platform connector is on and no list is set: then only the CLI and the dashboard can.
pub fn admins_check(settings: &Settings) -> Check {
    let listed = [
        ("Discord", settings.discord_admin_ids.len()),
        ("Slack", settings.slack_admin_ids.len()),
        ("Teams", settings.teams_admin_ids.len()),
    ];
    let total: usize = listed.iter().map(|(_, count)| count).sum();
    let platforms_on = settings
        .connectors_summary()
        .into_iter()
        .any(|(_, is_on, _)| is_on);
    if total > 0 {
        let named = listed
            .iter()
            .filter(|(_, count)| *count > 0)
            .map(|(platform, count)| format!("{platform}: {count}"))
            .collect::<Vec<_>>()
            .join(", ");
        return check("host admins", Status::Ok, format!("listed ids ({named})"));
    }
    if platforms_on {
        check(
            "host admins",
            Status::Warning,
            "no DISCORD_ADMIN_IDS, SLACK_ADMIN_IDS or TEAMS_ADMIN_IDS set: admin commands are refused \
             in every chat (server and workspace admins are not host admins); use the CLI or the dashboard",
        )
    } else {
        check(
            "host admins",
            Status::Ok,
            "no platform connector: the CLI, the dashboard and the desktop owner are the admins",
        )
    }
}

/// Acknowledged Slack/Teams events waiting in the inbox, and those set aside (they will not be
/// answered: the log says why). Failing while any is set aside.
async fn inbox_check(store: &Store) -> Check {
    use crate::store::entities::inbox_event;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let count = |parked: bool| {
        inbox_event::Entity::find()
            .filter(inbox_event::Column::Parked.eq(parked))
            .count(&store.db)
    };
    match (count(false).await, count(true).await) {
        (Ok(waiting), Ok(0)) => check("inbox", Status::Ok, format!("{waiting} event(s) waiting")),
        (Ok(waiting), Ok(parked)) => check(
            "inbox",
            Status::Failing,
            format!(
                "{waiting} event(s) waiting, {parked} set aside after failing 5 times or being \
                 unreadable (logged as \"inbox event set aside\"; deleted after 7 days)"
            ),
        ),
        (Err(error), _) | (_, Err(error)) => check("inbox", Status::Failing, error.to_string()),
    }
}

/// Asks TEAMS_TOKEN_URL for a token with the app's credentials: proves the app id and password.
async fn teams_check(settings: &Settings, state: String) -> Check {
    let Some(config) = setup::teams_config(settings) else {
        return check("teams", Status::Missing, state);
    };
    let token_url = config.effective_token_url();
    match whisperengine_teams::check_credentials(&config).await {
        Ok(()) => check(
            "teams",
            Status::Ok,
            format!("{state}; token from {token_url} ok"),
        ),
        Err(error) => check(
            "teams",
            Status::Failing,
            format!("MICROSOFT_APP_ID/MICROSOFT_APP_PASSWORD: {error}"),
        ),
    }
}

/// Asks Discord (or DISCORD_API_URL) who DISCORD_TOKEN belongs to: proves the token.
async fn discord_check(settings: &Settings, state: String) -> Check {
    let config = match setup::discord_config(settings) {
        Ok(Some(config)) => config,
        Ok(None) => return check("discord", Status::Missing, state),
        Err(error) => return check("discord", Status::Failing, format!("{error:#}")),
    };
    match whisperengine_discord::check_credentials(&config).await {
        Ok(bot) => check(
            "discord",
            Status::Ok,
            format!("{state}; token ok for bot {} ({})", bot.name, bot.id),
        ),
        Err(error) => check(
            "discord",
            Status::Failing,
            format!("DISCORD_TOKEN: {error}"),
        ),
    }
}

/// Calls auth.test on SLACK_API_URL with SLACK_BOT_TOKEN (and apps.connections.open with
/// SLACK_APP_TOKEN in Socket Mode): proves the tokens.
async fn slack_check(settings: &Settings, state: String) -> Check {
    let Some(config) = setup::slack_config(settings) else {
        return check("slack", Status::Missing, state);
    };
    match whisperengine_slack::check_credentials(&config).await {
        Ok(identity) => check("slack", Status::Ok, format!("{state}; {identity}")),
        Err(error) => check(
            "slack",
            Status::Failing,
            format!("SLACK_BOT_TOKEN/SLACK_APP_TOKEN: {error}"),
        ),
    }
}

fn client_description(client: &OpenAiClient) -> String {
    use crate::llm::Responder;
    client.describe()
}

/// Prints the table; returns the exit code.
pub async fn run(settings: &Settings) -> anyhow::Result<i32> {
    let report = checks(settings).await;
    let width = report.iter().map(|c| c.name.len()).max().unwrap_or(8);
    for row in &report {
        println!(
            "{:<width$}  {:<8} {}",
            row.name,
            row.status.label(),
            row.detail
        );
    }
    println!("\nPer-platform tuning (<PLATFORM>_* variables, docs/operations.md):");
    for row in crate::config::platform_table(settings) {
        println!("  {row}");
    }
    let failing = report
        .iter()
        .filter(|c| c.status == Status::Failing)
        .count();
    if failing > 0 {
        println!("\n{failing} check(s) failing.");
        Ok(1)
    } else {
        println!("\nAll required checks pass.");
        Ok(0)
    }
}

/// Without an LLM endpoint: whether the local model's file is there and loads.
fn local_model_check(settings: &Settings) -> Check {
    if let Some(absence) = setup::local_model_absence(settings) {
        return check("llm", Status::Missing, absence);
    }
    match setup::local_model_file(settings) {
        Ok(Some(path)) => match local_model_loads(&path) {
            Ok(description) => check("llm", Status::Ok, description),
            Err(error) => check(
                "llm",
                Status::Failing,
                format!("LOCAL_MODEL {}: {error}", path.display()),
            ),
        },
        Ok(None) => check(
            "llm",
            Status::Missing,
            "no local model: the offline responder answers",
        ),
        Err(error) => check("llm", Status::Failing, error.to_string()),
    }
}

/// Where semantic recall's vectors come from: the local encoder (loaded here), the endpoint's
/// model, or nowhere (keyword recall only).
fn embeddings_check(settings: &Settings) -> Check {
    match (&settings.local_embeddings, &settings.embedding_model) {
        (Some(folder), _) => match local_encoder_loads(folder) {
            Ok(description) => check("embeddings", Status::Ok, description),
            Err(error) => check(
                "embeddings",
                Status::Failing,
                format!("LOCAL_EMBEDDINGS {}: {error}", folder.display()),
            ),
        },
        (None, Some(model)) if settings.llm_base_url.is_some() => check(
            "embeddings",
            Status::Ok,
            format!("{model} from the LLM endpoint's /embeddings"),
        ),
        (None, Some(_)) => check(
            "embeddings",
            Status::Warning,
            "EMBEDDING_MODEL is set without LLM_BASE_URL: keyword recall only",
        ),
        (None, None) => check(
            "embeddings",
            Status::Missing,
            "keyword recall only; `whisperengine model fetch all-minilm-l6-v2` adds semantic recall in process (desktop mode finds it; elsewhere set LOCAL_EMBEDDINGS), or EMBEDDING_MODEL from the LLM endpoint",
        ),
    }
}

#[cfg(feature = "local-model")]
fn local_encoder_loads(folder: &std::path::Path) -> Result<String, String> {
    let encoder = whisperengine_local_model::SentenceEncoder::load(folder)
        .map_err(|error| error.to_string())?;
    Ok(format!(
        "local:{} ({} dimensions, computed in process) at {}",
        encoder.name(),
        encoder.dimensions(),
        folder.display()
    ))
}

#[cfg(not(feature = "local-model"))]
fn local_encoder_loads(_folder: &std::path::Path) -> Result<String, String> {
    Err("this build has no in-process models (built without the `local-model` feature)".into())
}

#[cfg(feature = "local-model")]
fn local_model_loads(path: &std::path::Path) -> Result<String, String> {
    let model = whisperengine_local_model::Model::load(path).map_err(|error| error.to_string())?;
    let info = model.info();
    Ok(format!(
        "local model {}{} ({} chat format) at {}",
        info.name,
        info.size
            .as_deref()
            .map(|size| format!(" {size}"))
            .unwrap_or_default(),
        info.chat_format.as_str(),
        path.display()
    ))
}

#[cfg(not(feature = "local-model"))]
fn local_model_loads(_path: &std::path::Path) -> Result<String, String> {
    Err("this build has no local model (built without the `local-model` feature)".into())
}
