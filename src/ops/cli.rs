//! The operator's command-line tools. Each opens the store the settings describe (migrating it if
//! needed), does one thing, audits it as `operator`, and prints the outcome.

use crate::config::Settings;
use crate::core::privacy::isolation::{self, Actor, IsolationTarget};
use crate::setup;
use crate::store::Store;
use anyhow::Context;
use clap::Subcommand;

/// `whisperengine admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Stop sharing an identity's data across its linked accounts (or every identity's, with `all`)
    /// and refuse new links, in every host process within a second.
    Isolate {
        /// `all`, an identity id, or an account like `slack:T0123/U0456`.
        target: String,
    },
    /// Undo `admin isolate` for the same target.
    Release {
        /// `all`, an identity id, or an account like `slack:T0123/U0456`.
        target: String,
    },
}

/// `whisperengine cache …`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Drop the hot layer of every host process and the Redis cache (SQL stays the truth, so nothing
    /// stored is lost); with a target, only that identity's cached state.
    Clear {
        /// An identity id or an account like `slack:T0123/U0456`; everything when absent.
        target: Option<String>,
    },
}

/// Runs `whisperengine cache clear [target]`.
pub async fn cache(settings: Settings, command: CacheCommand) -> anyhow::Result<i32> {
    let CacheCommand::Clear { target } = command;
    let target = match IsolationTarget::parse(target.as_deref().unwrap_or("all")) {
        Ok(target) => target,
        Err(usage) => {
            eprintln!("error: {usage}");
            return Ok(2);
        }
    };
    let store = open_store(&settings).await?;
    let answer =
        crate::core::ops::maintenance::clear_cache(&store, Actor::OPERATOR, &target).await?;
    Ok(match answer {
        Ok(done) => {
            println!("{done}");
            0
        }
        Err(refused) => {
            eprintln!("refused: {refused}");
            1
        }
    })
}

/// Opens the store the settings describe, with pending migrations applied.
async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    Store::open(&setup::store_options(settings))
        .await
        .context("DATABASE_URL")
}

/// Runs `whisperengine admin …`; returns the exit code (1 when the change was refused).
pub async fn admin(settings: Settings, command: AdminCommand) -> anyhow::Result<i32> {
    let (text, isolate) = match &command {
        AdminCommand::Isolate { target } => (target, true),
        AdminCommand::Release { target } => (target, false),
    };
    let target = match IsolationTarget::parse(text) {
        Ok(target) => target,
        Err(usage) => {
            eprintln!("error: {usage}");
            return Ok(2);
        }
    };
    let store = open_store(&settings).await?;
    let answer = isolation::set_isolation(&store, Actor::OPERATOR, &target, isolate).await?;
    store.flush().await;
    Ok(match answer {
        Ok(done) => {
            println!("{done}");
            0
        }
        Err(refused) => {
            eprintln!("refused: {refused}");
            1
        }
    })
}

/// Reads `--since`: an RFC 3339 time (`2026-11-25T10:00:00Z`) or an age like `24h`, `30m`, `7d`,
/// `90s` counted back from `now`.
pub fn parse_since(
    text: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let text = text.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    let usage = || {
        format!("--since: expected an RFC 3339 time like 2026-11-25T10:00:00Z or an age like 24h, 30m, 7d (got \"{text}\")")
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(usage)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| usage())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(usage()),
    };
    number
        .checked_mul(seconds)
        .and_then(chrono::TimeDelta::try_seconds)
        .and_then(|age| now.checked_sub_signed(age))
        .ok_or_else(usage)
}

/// Runs `whisperengine audit --since … [--json]`: prints the entries, oldest first.
pub async fn audit(settings: Settings, since: &str, as_json: bool) -> anyhow::Result<i32> {
    let since = match parse_since(since, chrono::Utc::now()) {
        Ok(since) => since,
        Err(usage) => {
            eprintln!("error: {usage}");
            return Ok(2);
        }
    };
    let store = open_store(&settings).await?;
    let entries = crate::core::privacy::audit::since(&store.db, since).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
    } else {
        for entry in &entries {
            println!(
                "{} {:<16} {:<8} {} ({}){}{}",
                entry.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                entry.action,
                entry.outcome,
                entry.actor,
                entry.actor_platform,
                entry
                    .target
                    .as_deref()
                    .map(|t| format!(" → {t}"))
                    .unwrap_or_default(),
                entry
                    .detail
                    .as_deref()
                    .map(|d| format!(" — {d}"))
                    .unwrap_or_default(),
            );
        }
        println!("{} entries since {}", entries.len(), since.to_rfc3339());
    }
    Ok(0)
}

/// Runs `whisperengine export --account …`: prints the account's identity's export document.
pub async fn export(settings: Settings, account: &str) -> anyhow::Result<i32> {
    let account: whisperengine_contract::PlatformAccount = match account.parse() {
        Ok(account) => account,
        Err(error) => {
            eprintln!("error: --account: {error} (expected e.g. slack:T0123/U0456)");
            return Ok(2);
        }
    };
    let store = open_store(&settings).await?;
    let Some(found) = crate::store::accounts::find_account(&store.db, &account).await? else {
        eprintln!("error: no account {account} is stored on this host");
        return Ok(1);
    };
    let document = crate::core::privacy::export::document(&store, found.identity_id).await?;
    crate::core::privacy::audit::record(
        &store.db,
        crate::core::privacy::audit::AuditEntry::new(
            crate::core::privacy::audit::OPERATOR,
            crate::core::privacy::audit::OPERATOR_PLATFORM,
            "export",
            crate::store::kinds::AuditOutcome::Ok,
        )
        .target(&account.to_string())
        .detail("printed on the command line"),
    )
    .await?;
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn since_reads_rfc3339_and_ages() {
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
            .unwrap();
        assert_eq!(
            parse_since("24h", now),
            Ok(chrono::Utc
                .with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
                .unwrap())
        );
        assert_eq!(
            parse_since("30m", now),
            Ok(chrono::Utc
                .with_ymd_and_hms(2026, 11, 25, 11, 30, 0)
                .unwrap())
        );
        assert_eq!(
            parse_since("2026-11-25T10:00:00+01:00", now),
            Ok(chrono::Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap())
        );
        for bad in [
            "",
            "yesterday",
            "24",
            "h",
            "5w",
            "-3h",
            "99999999999999999d",
        ] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
