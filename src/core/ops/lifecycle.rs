//! The data lifecycle of the deployment modes: the demo notice on the first message of every new
//! conversation, and the background task that deletes expired data.
//!
//! Expiry goes by each row's own age, never by its owner's: a memory told a minute ago stays
//! however old the account that told it is.
//!
//! - `cloud` / `desktop` with MEMORY_RETENTION_DAYS: the content tables of [`RETAINED_CONTENT`]
//!   (memories and their embeddings, emotion observations, feedback, facts, and fact conflicts,
//!   which hold copies of fact values) lose their rows older than that many days. Facts count as
//!   content: they are what was said, extracted from the messages (a fact's age is the last time it
//!   was stated). Accounts, identities, links, preferences, emotional state, the audit log, the
//!   inbox and the change feed are never expired by it.
//! - `demo`: every row of a person (in every table with `account_id` or `identity_id`, aged by
//!   `updated_at` where the table has one, else by `created_at`) goes DEMO_DATA_TTL after it was
//!   written. An identity, with its accounts and links, is erased (see
//!   [`erasure::erase_identity_if`]) once nothing of it is left, it is older than DEMO_DATA_TTL and
//!   none of its accounts is younger.
//! - Always: the marks of handled platform events (`processed_event`) go after
//!   [`PROCESSED_MARKS_KEPT`].

use crate::config::DeploymentMode;
use crate::core::privacy::audit::{self, AuditEntry};
use crate::core::privacy::erasure::{self, live_tables, quote, TableColumns};
use crate::core::{Core, Result};
use crate::store::entities::{memory, platform_account, processed_event};
use crate::store::hot::AccountInfo;
use crate::store::ids::IdentityId;
use crate::store::kinds::AuditOutcome;
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Statement,
    Value,
};
use std::time::Duration;
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
pub async fn expiry_line(core: &Core, identity_id: IdentityId) -> Result<Option<String>> {
    match core.settings.deployment_mode {
        DeploymentMode::Demo => {
            let ttl = describe_duration(core.settings.demo_data_ttl);
            let oldest: Option<DateTime<Utc>> = memory::Entity::find()
                .select_only()
                .column_as(memory::Column::CreatedAt.min(), "oldest")
                .filter(
                    memory::Column::AccountId.in_subquery(
                        sea_orm::sea_query::Query::select()
                            .column(platform_account::Column::Id)
                            .from(platform_account::Entity)
                            .and_where(platform_account::Column::IdentityId.eq(identity_id))
                            .to_owned(),
                    ),
                )
                .into_tuple::<Option<DateTime<Utc>>>()
                .one(&core.store.db)
                .await?
                .flatten();
            let next = oldest.map_or_else(String::new, |oldest| {
                let at = oldest + to_delta(core.settings.demo_data_ttl);
                format!(
                    " The oldest of it goes at {} UTC.",
                    at.format("%Y-%m-%d %H:%M")
                )
            });
            Ok(Some(format!(
                "Demo mode: what you tell me is deleted {ttl} after you say it.{next}"
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

/// A content table MEMORY_RETENTION_DAYS applies to.
#[derive(Debug, Clone, Copy)]
pub struct ContentTable {
    pub table: &'static str,
    /// The column a row's age is read from.
    pub age_column: &'static str,
    /// Only rows meeting this SQL condition are content.
    pub only: Option<&'static str>,
}

/// What MEMORY_RETENTION_DAYS deletes, each row by its own age (see the module notes).
pub const RETAINED_CONTENT: &[ContentTable] = &[
    ContentTable {
        table: "memory",
        age_column: "created_at",
        only: None,
    },
    // Also deleted with their memories (a foreign key cascades); an older vector of a memory kept
    // fresh cannot exist, since a vector is computed after its memory is written.
    ContentTable {
        table: "memory_embedding",
        age_column: "created_at",
        only: None,
    },
    ContentTable {
        table: "emotion_observation",
        age_column: "created_at",
        only: None,
    },
    ContentTable {
        table: "feedback",
        age_column: "created_at",
        only: None,
    },
    // Restating a fact moves its `updated_at`: a fact is as old as its last statement.
    ContentTable {
        table: "fact",
        age_column: "updated_at",
        only: None,
    },
    // Fact contradictions keep both values: content like the facts. Preference conflicts are not.
    ContentTable {
        table: "sync_conflict",
        age_column: "created_at",
        only: Some("kind = 'fact'"),
    },
];

/// Tables demo expiry never ages row by row: the people themselves (erased whole once nothing of
/// them is left), the change feed, the append-only audit log and the schema's own.
const NOT_AGED_IN_DEMO: &[&str] = &[
    "identity",
    "platform_account",
    "state_change",
    "audit_log",
    "seaql_migrations",
];

/// How long a handled platform event's mark is kept. Platforms retry within minutes (Slack three
/// times in about half an hour, the Bot Framework for minutes) and a Discord gateway replays on
/// resume; set-aside inbox events are kept as long. Past that a retry of the same event cannot
/// arrive, so the marks would only grow the table.
pub const PROCESSED_MARKS_KEPT: TimeDelta = TimeDelta::days(7);

/// What one run of the expiry task removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Expired {
    /// Demo identities erased whole (nothing of them was left).
    pub identities: u64,
    /// Personal rows deleted.
    pub rows: u64,
    pub redis_keys: u64,
    /// Marks of handled platform events past [`PROCESSED_MARKS_KEPT`] (nothing personal).
    pub processed_marks: u64,
}

impl Expired {
    /// Whether anything of a person went (what is audited).
    pub fn has_personal_data(&self) -> bool {
        self.identities + self.rows + self.redis_keys > 0
    }
}

/// One run of the expiry task at `now`: in demo mode rows past DEMO_DATA_TTL and the identities
/// left empty; elsewhere the content rows past MEMORY_RETENTION_DAYS; always the old marks of
/// handled events. Audited when anything of a person went.
pub async fn expire(core: &Core, now: DateTime<Utc>) -> Result<Expired> {
    let mut expired = match core.settings.deployment_mode {
        DeploymentMode::Demo => {
            let cutoff = now - to_delta(core.settings.demo_data_ttl);
            let tables = demo_tables(&core.store.db).await?;
            let mut expired = delete_older(core, &tables, cutoff).await?;
            let erased = expire_empty_identities(core, &tables, cutoff).await?;
            expired.identities = erased.identities;
            expired.rows += erased.rows;
            expired.redis_keys = erased.redis_keys;
            expired
        }
        _ => match core.settings.memory_retention_days {
            Some(days) => {
                let cutoff = now - TimeDelta::days(i64::from(days));
                let tables = retained_tables(&core.store.db).await?;
                delete_older(core, &tables, cutoff).await?
            }
            None => Expired::default(),
        },
    };
    expired.processed_marks = processed_event::Entity::delete_many()
        .filter(processed_event::Column::CreatedAt.lt(now - PROCESSED_MARKS_KEPT))
        .exec(&core.store.db)
        .await?
        .rows_affected;
    if expired.has_personal_data() {
        audit::record(
            &core.store.db,
            AuditEntry::new("expiry", "host", "expire", AuditOutcome::Ok).detail(format!(
                "{} identities, {} rows, {} cache keys",
                expired.identities, expired.rows, expired.redis_keys
            )),
        )
        .await?;
    }
    Ok(expired)
}

/// A live table expiry deletes from, with what it knows of its columns.
#[derive(Debug, Clone)]
struct AgedTable {
    table: String,
    age_column: &'static str,
    only: Option<&'static str>,
    has_identity_id: bool,
    has_account_id: bool,
}

impl AgedTable {
    fn of(table: &TableColumns, age_column: &'static str, only: Option<&'static str>) -> Self {
        let has = |column: &str| table.columns.iter().any(|c| c == column);
        AgedTable {
            table: table.table.clone(),
            age_column,
            only,
            has_identity_id: has("identity_id"),
            has_account_id: has("account_id"),
        }
    }

    /// The SQL condition saying a row `t` of this table belongs to identity `i`.
    fn owned_by_identity(&self) -> String {
        let accounts = "SELECT a.id FROM platform_account a WHERE a.identity_id = i.id";
        match (self.has_identity_id, self.has_account_id) {
            (true, true) => format!("(t.identity_id = i.id OR t.account_id IN ({accounts}))"),
            (true, false) => "t.identity_id = i.id".to_string(),
            _ => format!("t.account_id IN ({accounts})"),
        }
    }
}

/// The tables of [`RETAINED_CONTENT`] present in the live schema.
async fn retained_tables(db: &impl ConnectionTrait) -> Result<Vec<AgedTable>> {
    let live = live_tables(db).await?;
    Ok(RETAINED_CONTENT
        .iter()
        .filter_map(|content| {
            let table = live.iter().find(|t| t.table == content.table)?;
            let has_age = table.columns.iter().any(|c| c == content.age_column);
            has_age.then(|| AgedTable::of(table, content.age_column, content.only))
        })
        .collect())
}

/// Every live table demo expiry ages: a person's rows (`account_id` or `identity_id`) with a time,
/// aged by `updated_at` where there is one, else by `created_at`.
async fn demo_tables(db: &impl ConnectionTrait) -> Result<Vec<AgedTable>> {
    let mut tables = Vec::new();
    for table in live_tables(db).await? {
        let has = |column: &str| table.columns.iter().any(|c| c == column);
        let is_personal = has("account_id") || has("identity_id");
        if !is_personal || NOT_AGED_IN_DEMO.contains(&table.table.as_str()) {
            continue;
        }
        let age_column = if has("updated_at") {
            "updated_at"
        } else if has("created_at") {
            "created_at"
        } else {
            continue;
        };
        tables.push(AgedTable::of(&table, age_column, None));
    }
    Ok(tables)
}

/// Deletes the rows of `tables` whose age is before `cutoff`; the hot state of every process is
/// dropped when any went.
async fn delete_older(core: &Core, tables: &[AgedTable], cutoff: DateTime<Utc>) -> Result<Expired> {
    let db = &core.store.db;
    let backend = db.get_database_backend();
    let mut expired = Expired::default();
    for table in tables {
        let only = table
            .only
            .map_or_else(String::new, |condition| format!(" AND {condition}"));
        let sql = format!(
            "DELETE FROM {} WHERE {} < $1{only}",
            quote(&table.table),
            quote(table.age_column)
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

/// Identities created before `$1` (the cutoff) with no account younger and no row left in
/// `tables`; with `only_one`, the identity `$2` if it is one of them.
fn empty_identities_sql(tables: &[AgedTable], only_one: bool) -> String {
    let mut sql = "SELECT i.id FROM identity i WHERE i.created_at <= $1 AND NOT EXISTS \
                   (SELECT 1 FROM platform_account a WHERE a.identity_id = i.id AND a.created_at > $1)"
        .to_string();
    for table in tables {
        sql.push_str(&format!(
            " AND NOT EXISTS (SELECT 1 FROM {} t WHERE {})",
            quote(&table.table),
            table.owned_by_identity()
        ));
    }
    if only_one {
        sql.push_str(" AND i.id = $2");
    }
    sql
}

/// Erases (everywhere, Redis and audit included) the demo identities nothing is left of.
async fn expire_empty_identities(
    core: &Core,
    tables: &[AgedTable],
    cutoff: DateTime<Utc>,
) -> Result<Expired> {
    let db = &core.store.db;
    let backend = db.get_database_backend();
    let candidates = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "{} LIMIT {EXPIRY_BATCH}",
                empty_identities_sql(tables, false)
            ),
            [Value::from(cutoff)],
        ))
        .await?;
    let mut expired = Expired::default();
    for row in candidates {
        let id = IdentityId::from(row.try_get::<uuid::Uuid>("", "id")?);
        // Checked again once queued writes landed: a message stored meanwhile keeps the person.
        let still_empty = Statement::from_sql_and_values(
            backend,
            empty_identities_sql(tables, true),
            [Value::from(cutoff), Value::from(id)],
        );
        if let Some(erased) = erasure::erase_identity_if(&core.store, id, still_empty).await? {
            expired.identities += 1;
            expired.rows += erased.rows;
            expired.redis_keys += erased.redis_keys;
        }
    }
    Ok(expired)
}

/// Runs [`expire`] every `interval` until the task is dropped. There is always something to do:
/// the marks of handled events expire in every mode (hence `Some` always; the `Option` is kept
/// for callers written when it could be `None`).
pub fn spawn_expiry_task(core: &Core, interval: Duration) -> Option<tokio::task::JoinHandle<()>> {
    let core = core.clone();
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            match expire(&core, Utc::now()).await {
                Ok(expired) if expired.has_personal_data() => {
                    tracing::info!(
                        identities = expired.identities,
                        rows = expired.rows,
                        processed_marks = expired.processed_marks,
                        "expired data deleted"
                    )
                }
                Ok(expired) if expired.processed_marks > 0 => {
                    tracing::debug!(
                        processed_marks = expired.processed_marks,
                        "old marks of handled events deleted"
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
