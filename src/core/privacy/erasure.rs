//! Erasing a person: `forget all`, and a demo identity once nothing of it is left (see
//! [`crate::core::ops::lifecycle`]).
//!
//! The schema grows (other features add tables), so erasure does not list tables by hand: it reads
//! the live schema and, in every table, deletes the rows whose `account_id` is one of the identity's
//! accounts or whose `identity_id` is the identity, clears `*_by_account_id` references to them from
//! other people's rows, then deletes the accounts and the identity (cascades catch the rest). Redis
//! keys naming the identity go too, and the audit log is redacted (see [`audit::redact_subject`]) and
//! given a tombstone without personal content.
//!
//! The inbox (`inbox_event`) keeps the sender's account key rather than an account id: the
//! person's events that are answered or set aside are deleted by it. An event still waiting for its
//! answer stays: it was acknowledged, so it is answered (meeting the person as someone new) and
//! its row goes once the answer is delivered, as every row does.

use crate::core::privacy::audit::{self, AuditEntry};
use crate::core::Result;
use crate::store::accounts::{self, account_label};
use crate::store::entities::{audit_log, inbox_event};
use crate::store::hot::AccountInfo;
use crate::store::ids::{AccountId, IdentityId};
use crate::store::kinds::AuditOutcome;
use crate::store::Store;
use chrono::Utc;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    Statement, TransactionTrait, Value,
};

/// Tables erasure never deletes from: the audit log is redacted instead, and migrations are schema.
const PROTECTED_TABLES: &[&str] = &["audit_log", "seaql_migrations"];
/// Deleted last, in this order, after everything that refers to them.
const OWNER_TABLES: &[&str] = &["platform_account", "identity"];

/// A table of the live schema and its column names.
#[derive(Debug, Clone)]
pub struct TableColumns {
    pub table: String,
    pub columns: Vec<String>,
}

/// Every table of the database (the current schema on PostgreSQL) with its columns.
pub async fn live_tables(db: &impl ConnectionTrait) -> Result<Vec<TableColumns>> {
    let backend = db.get_database_backend();
    let mut tables: Vec<TableColumns> = Vec::new();
    match backend {
        DbBackend::Postgres => {
            let rows = db
                .query_all_raw(Statement::from_string(
                    backend,
                    "SELECT table_name::text AS table_name, column_name::text AS column_name \
                     FROM information_schema.columns WHERE table_schema = current_schema() \
                     ORDER BY table_name, ordinal_position",
                ))
                .await?;
            for row in rows {
                let table: String = row.try_get("", "table_name")?;
                let column: String = row.try_get("", "column_name")?;
                match tables.last_mut() {
                    Some(last) if last.table == table => last.columns.push(column),
                    _ => tables.push(TableColumns {
                        table,
                        columns: vec![column],
                    }),
                }
            }
        }
        _ => {
            let rows = db
                .query_all_raw(Statement::from_string(
                    backend,
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                ))
                .await?;
            for row in rows {
                let table: String = row.try_get("", "name")?;
                let columns = db
                    .query_all_raw(Statement::from_string(
                        backend,
                        format!("PRAGMA table_info({})", quote(&table)),
                    ))
                    .await?
                    .into_iter()
                    .filter_map(|column| column.try_get::<String>("", "name").ok())
                    .collect();
                tables.push(TableColumns { table, columns });
            }
        }
    }
    Ok(tables)
}

/// A quoted SQL identifier (both databases accept double quotes).
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// `$1, $2, …` or `?, ?, …` for `count` values.
fn placeholders(backend: DbBackend, start: usize, count: usize) -> String {
    (0..count)
        .map(|index| match backend {
            DbBackend::Postgres => format!("${}", start + index),
            _ => "?".to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What an erasure removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Erased {
    pub rows: u64,
    pub tables: usize,
    pub redis_keys: u64,
    pub audit_entries_redacted: u64,
}

/// Deletes every row of the identity in every table, its accounts and the identity itself, in one
/// transaction; then its Redis keys and hot state, redacting the audit log. Call without holding
/// the identity's lock (this takes it).
pub async fn erase_identity(store: &Store, identity_id: IdentityId) -> Result<Erased> {
    Ok(erase(store, identity_id, None).await?.unwrap_or_default())
}

/// [`erase_identity`], but only when `still_due` returns a row: it runs inside the erasure's
/// transaction, after the queued writes landed and under the identity's lock, so a row stored
/// since the caller last looked keeps the identity. `None` when it did not erase.
pub async fn erase_identity_if(
    store: &Store,
    identity_id: IdentityId,
    still_due: Statement,
) -> Result<Option<Erased>> {
    erase(store, identity_id, Some(still_due)).await
}

async fn erase(
    store: &Store,
    identity_id: IdentityId,
    still_due: Option<Statement>,
) -> Result<Option<Erased>> {
    // Queued writes of this person must land before the delete, not after it.
    store.flush().await;
    let guard = store.hot.lock_identity(identity_id).await;
    let accounts = accounts::linked_accounts(&store.db, identity_id).await?;
    let account_ids: Vec<AccountId> = accounts.iter().map(|a| a.id).collect();
    let mut subjects: Vec<String> = accounts.iter().map(account_label).collect();
    subjects.push(identity_id.to_string());
    let tables = live_tables(&store.db).await?;
    let transaction = store.db.begin().await?;
    // Recorded as a host-wide change: the feed must not keep the erased identity's id. (Written
    // first: on SQLite a transaction that reads before it writes fails when another connection
    // committed in between.)
    crate::store::changes::record(&transaction, store.origin, &[]).await?;
    if let Some(still_due) = still_due {
        if transaction.query_one_raw(still_due).await?.is_none() {
            transaction.rollback().await?;
            return Ok(None);
        }
    }
    let mut erased = delete_rows(&transaction, &tables, identity_id, &account_ids).await?;
    let inbox_events = delete_inbox_events(&transaction, &accounts).await?;
    if inbox_events > 0 {
        erased.rows += inbox_events;
        erased.tables += 1;
    }
    erased.audit_entries_redacted = audit::redact_subject(&transaction, &subjects).await?;
    transaction.commit().await?;
    store.hot.invalidate_identity(identity_id);
    drop(guard);
    if let Some(cache) = &store.cache {
        let mut patterns = vec![identity_id.to_string()];
        patterns.extend(subjects.iter().take(accounts.len()).cloned());
        for pattern in patterns {
            match cache.delete_keys_containing(&pattern).await {
                Ok(count) => erased.redis_keys += count,
                Err(error) => {
                    tracing::warn!(%error, "could not delete an erased identity's Redis keys")
                }
            }
        }
        if let Err(error) = cache.publish_invalidation(Some(identity_id)).await {
            tracing::debug!(%error, "erasure not published; other processes refresh on their interval");
        }
    }
    Ok(Some(erased))
}

/// The stored platform events `accounts` sent that are answered or set aside (one still waiting
/// for its answer stays; see the module notes).
async fn delete_inbox_events(db: &impl ConnectionTrait, accounts: &[AccountInfo]) -> Result<u64> {
    let mut removed = 0;
    for account in accounts {
        removed += inbox_event::Entity::delete_many()
            .filter(inbox_event::Column::AuthorPlatform.eq(account.platform.as_str()))
            .filter(inbox_event::Column::AuthorScope.eq(account.scope.as_str()))
            .filter(inbox_event::Column::AuthorUserId.eq(account.user_id.as_str()))
            .filter(
                Condition::any()
                    .add(inbox_event::Column::Reply.is_not_null())
                    .add(inbox_event::Column::Parked.eq(true)),
            )
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(removed)
}

/// The deletes of [`erase_identity`], inside its transaction.
async fn delete_rows(
    db: &impl ConnectionTrait,
    tables: &[TableColumns],
    identity_id: IdentityId,
    account_ids: &[AccountId],
) -> Result<Erased> {
    let backend = db.get_database_backend();
    let mut erased = Erased::default();
    let account_values: Vec<Value> = account_ids.iter().map(|id| Value::from(*id)).collect();
    let ordered = tables
        .iter()
        .filter(|t| !PROTECTED_TABLES.contains(&t.table.as_str()))
        .filter(|t| !OWNER_TABLES.contains(&t.table.as_str()))
        .chain(
            OWNER_TABLES
                .iter()
                .filter_map(|owner| tables.iter().find(|t| t.table == *owner)),
        );
    for table in ordered {
        let name = quote(&table.table);
        let mut removed = 0;
        // References from other people's rows (e.g. who last updated a shared state) are cleared.
        for column in table
            .columns
            .iter()
            .filter(|c| c.ends_with("_by_account_id"))
        {
            if account_values.is_empty() {
                continue;
            }
            let sql = format!(
                "UPDATE {name} SET {} = NULL WHERE {} IN ({})",
                quote(column),
                quote(column),
                placeholders(backend, 1, account_values.len())
            );
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                account_values.clone(),
            ))
            .await?;
        }
        let has = |column: &str| table.columns.iter().any(|c| c == column);
        if has("account_id") && !account_values.is_empty() {
            let sql = format!(
                "DELETE FROM {name} WHERE account_id IN ({})",
                placeholders(backend, 1, account_values.len())
            );
            removed += db
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    sql,
                    account_values.clone(),
                ))
                .await?
                .rows_affected();
        }
        let identity_column = if table.table == "identity" {
            Some("id")
        } else if has("identity_id") {
            Some("identity_id")
        } else {
            None
        };
        if let Some(column) = identity_column {
            let sql = format!(
                "DELETE FROM {name} WHERE {} = {}",
                quote(column),
                placeholders(backend, 1, 1)
            );
            removed += db
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    sql,
                    [Value::from(identity_id)],
                ))
                .await?
                .rows_affected();
        }
        if removed > 0 {
            erased.rows += removed;
            erased.tables += 1;
        }
    }
    Ok(erased)
}

/// Records the tombstone of a `forget all`: that it happened and how much went, nothing personal.
pub async fn record_tombstone(store: &Store, platform: &str, erased: &Erased) -> Result<()> {
    audit::record(
        &store.db,
        AuditEntry::new(audit::FORGOTTEN, platform, "forget.all", AuditOutcome::Ok).detail(
            format!(
                "{} rows in {} tables, {} cache keys; {} audit entries redacted",
                erased.rows, erased.tables, erased.redis_keys, erased.audit_entries_redacted
            ),
        ),
    )
    .await
}

/// How long a `forget all` waits for its `forget all confirm`.
pub const CONFIRM_WITHIN_MINUTES: i64 = 5;

/// `forget all`: records the request (audited, so every host process sees it) and asks for the
/// confirmation.
pub async fn request_forget_all(store: &Store, caller: &AccountInfo) -> Result<String> {
    let label = account_label(caller);
    audit::record(
        &store.db,
        AuditEntry::new(
            &label,
            caller.platform.as_str(),
            "forget.request",
            AuditOutcome::Ok,
        ),
    )
    .await?;
    Ok(format!(
        "This deletes **everything** I know about you, on every linked platform: your accounts' \
         links, memories, moods, preferences and feedback. It cannot be undone. If you are sure, \
         type `forget all confirm` within {CONFIRM_WITHIN_MINUTES} minutes."
    ))
}

/// `forget all confirm`: erases the caller's identity when a `forget all` of theirs is recent.
pub async fn confirm_forget_all(store: &Store, caller: &AccountInfo) -> Result<String> {
    let accounts = accounts::linked_accounts(&store.db, caller.identity_id).await?;
    let labels: Vec<String> = accounts.iter().map(account_label).collect();
    let since = Utc::now() - chrono::TimeDelta::minutes(CONFIRM_WITHIN_MINUTES);
    let requested = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("forget.request"))
        .filter(audit_log::Column::Actor.is_in(labels))
        .filter(audit_log::Column::CreatedAt.gte(since))
        .count(&store.db)
        .await?;
    if requested == 0 {
        let label = account_label(caller);
        audit::record(
            &store.db,
            AuditEntry::new(
                &label,
                caller.platform.as_str(),
                "forget.all",
                AuditOutcome::Refused,
            )
            .detail("no `forget all` in the last 5 minutes"),
        )
        .await?;
        return Ok(format!(
            "Nothing was deleted: say `forget all` first, then `forget all confirm` within {CONFIRM_WITHIN_MINUTES} minutes."
        ));
    }
    let erased = erase_identity(store, caller.identity_id).await?;
    record_tombstone(store, caller.platform.as_str(), &erased).await?;
    Ok(format!(
        "Done. I've forgotten everything about you on every platform ({} records). \
         If you talk to me again, I'll meet you as someone new.",
        erased.rows
    ))
}
