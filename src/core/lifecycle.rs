//! The data lifecycle of the deployment modes: the demo notice on the first message of every new
//! conversation, and the background task that deletes expired data.
//!
//! - `demo`: an identity's data lives DEMO_DATA_TTL from the identity's creation; then it is erased
//!   everywhere (every table, its Redis keys; see [`erasure::erase_identity`]).
//! - `cloud` / `desktop` with MEMORY_RETENTION_DAYS: rows older than that many days are deleted from
//!   every table holding a person's rows with their time (`account_id` or `identity_id`, and
//!   `created_at`): memories, emotion observations, link codes, facts, ...

use crate::config::DeploymentMode;
use crate::core::audit::{self, AuditEntry};
use crate::core::erasure::{self, live_tables, quote};
use crate::core::{Core, Result};
use crate::store::entities::{identity, memory};
use crate::store::hot::AccountInfo;
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    Statement, Value,
};
use std::time::Duration;
use uuid::Uuid;
use whisperengine_contract::ConversationContext;

/// How often the expiry task runs by default.
pub const EXPIRY_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Identities erased per run, so one run never holds the database for long.
const EXPIRY_BATCH: u64 = 500;

/// Whether this message opens a conversation the account has not had before (demo mode only:
/// elsewhere nothing is shown, so nothing is asked). Call before the message is stored.
pub async fn is_new_demo_conversation(
    core: &Core,
    account: &AccountInfo,
    context: &ConversationContext,
) -> Result<bool> {
    if core.settings.deployment_mode != DeploymentMode::Demo {
        return Ok(false);
    }
    let earlier = memory::Entity::find()
        .filter(memory::Column::AccountId.eq(account.id))
        .filter(memory::Column::ChannelId.eq(context.channel_id.as_str()))
        .count(&core.store.db)
        .await?;
    Ok(earlier == 0)
}

/// The notice that opens every new demo conversation.
pub fn demo_notice(core: &Core) -> String {
    format!(
        "_Demo mode: what you tell me here is kept for {} and then deleted._",
        describe_duration(core.settings.demo_data_ttl)
    )
}

/// `reply` with the demo notice in front when `is_new` says so.
pub fn with_demo_notice(core: &Core, is_new: bool, reply: String) -> String {
    if is_new {
        format!("{}\n\n{reply}", demo_notice(core))
    } else {
        reply
    }
}

/// "24 hours", "30 minutes", "2 days", "90 seconds".
pub fn describe_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (count, unit) = if seconds >= 86_400 && seconds % 86_400 == 0 {
        (seconds / 86_400, "day")
    } else if seconds >= 3600 && seconds % 3600 == 0 {
        (seconds / 3600, "hour")
    } else if seconds >= 60 && seconds % 60 == 0 {
        (seconds / 60, "minute")
    } else {
        (seconds, "second")
    };
    format!("{count} {unit}{}", if count == 1 { "" } else { "s" })
}

/// The line `sync status` shows about when the person's data goes, if it ever does.
pub async fn expiry_line(core: &Core, identity_id: Uuid) -> Result<Option<String>> {
    match core.settings.deployment_mode {
        DeploymentMode::Demo => {
            let created = identity::Entity::find_by_id(identity_id)
                .one(&core.store.db)
                .await?
                .map_or_else(Utc::now, |row| row.created_at);
            let expires = created + to_delta(core.settings.demo_data_ttl);
            Ok(Some(format!(
                "Demo mode: your data is deleted at {} UTC (kept {} from your first message).",
                expires.format("%Y-%m-%d %H:%M"),
                describe_duration(core.settings.demo_data_ttl)
            )))
        }
        _ => Ok(core
            .settings
            .memory_retention_days
            .map(|days| format!("Retention: memories older than {days} days are deleted."))),
    }
}

fn to_delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// What one run of the expiry task removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Expired {
    pub identities: u64,
    pub rows: u64,
    pub redis_keys: u64,
}

/// One run of the expiry task at `now`: demo identities past DEMO_DATA_TTL are erased; elsewhere
/// rows past MEMORY_RETENTION_DAYS are deleted. Audited when anything went.
pub async fn expire(core: &Core, now: DateTime<Utc>) -> Result<Expired> {
    let expired = match core.settings.deployment_mode {
        DeploymentMode::Demo => expire_demo_identities(core, now).await?,
        _ => match core.settings.memory_retention_days {
            Some(days) => expire_old_rows(core, now - TimeDelta::days(i64::from(days))).await?,
            None => Expired::default(),
        },
    };
    if expired != Expired::default() {
        audit::record(
            &core.store.db,
            AuditEntry::new("expiry", "host", "expire", "ok").detail(format!(
                "{} identities, {} rows, {} cache keys",
                expired.identities, expired.rows, expired.redis_keys
            )),
        )
        .await?;
    }
    Ok(expired)
}

async fn expire_demo_identities(core: &Core, now: DateTime<Utc>) -> Result<Expired> {
    let cutoff = now - to_delta(core.settings.demo_data_ttl);
    let ids: Vec<Uuid> = identity::Entity::find()
        .select_only()
        .column(identity::Column::Id)
        .filter(identity::Column::CreatedAt.lte(cutoff))
        .limit(EXPIRY_BATCH)
        .into_tuple()
        .all(&core.store.db)
        .await?;
    let mut expired = Expired::default();
    for id in ids {
        let erased = erasure::erase_identity(&core.store, id).await?;
        expired.identities += 1;
        expired.rows += erased.rows;
        expired.redis_keys += erased.redis_keys;
    }
    Ok(expired)
}

/// Deletes personal rows created before `cutoff` in every table that has them.
async fn expire_old_rows(core: &Core, cutoff: DateTime<Utc>) -> Result<Expired> {
    let db = &core.store.db;
    let backend = db.get_database_backend();
    let placeholder = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    let mut expired = Expired::default();
    for table in live_tables(db).await? {
        let has = |column: &str| table.columns.iter().any(|c| c == column);
        let is_personal = has("account_id") || has("identity_id");
        if !is_personal || !has("created_at") || table.table == "identity" {
            continue;
        }
        let sql = format!(
            "DELETE FROM {} WHERE created_at < {placeholder}",
            quote(&table.table)
        );
        expired.rows += db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [Value::from(cutoff)],
            ))
            .await?
            .rows_affected();
    }
    if expired.rows > 0 {
        // Hot state may still hold what was deleted: every process re-reads from SQL.
        crate::store::changes::record_alone(db, core.store.origin, &[]).await?;
        core.store.hot.clear();
        if let Some(cache) = &core.store.cache {
            if let Err(error) = cache.publish_invalidation(None).await {
                tracing::debug!(%error, "expiry not published; other processes refresh on their interval");
            }
        }
    }
    Ok(expired)
}

/// Runs [`expire`] every `interval` until the task is dropped (demo mode, or when
/// MEMORY_RETENTION_DAYS is set; otherwise there is nothing to do and no task is started).
pub fn spawn_expiry_task(core: &Core, interval: Duration) -> Option<tokio::task::JoinHandle<()>> {
    let has_work = core.settings.deployment_mode == DeploymentMode::Demo
        || core.settings.memory_retention_days.is_some();
    if !has_work {
        return None;
    }
    let core = core.clone();
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            match expire(&core, Utc::now()).await {
                Ok(expired) if expired != Expired::default() => {
                    tracing::info!(
                        identities = expired.identities,
                        rows = expired.rows,
                        "expired data deleted"
                    )
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "expiring data failed; will retry"),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(describe_duration(Duration::from_secs(86_400)), "1 day");
        assert_eq!(
            describe_duration(Duration::from_secs(24 * 3600 * 2)),
            "2 days"
        );
        assert_eq!(describe_duration(Duration::from_secs(3600 * 5)), "5 hours");
        assert_eq!(describe_duration(Duration::from_secs(1800)), "30 minutes");
        assert_eq!(describe_duration(Duration::from_secs(90)), "90 seconds");
    }
}
