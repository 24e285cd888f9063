//! `export`: everything stored about the caller's identity as one JSON document, handed out through a
//! single-use download link that expires after [`LINK_TTL_MINUTES`] (only the token's SHA-256 is
//! stored), or printed by `whisperengine export --account …`.
//!
//! Tables this module knows (accounts, memories, emotion, preferences, conflicts, feedback, audit, and
//! the platform events of the inbox the person sent, found by their account key) are written field
//! by field; any other table holding rows of the identity (`account_id` or
//! `identity_id` column, such as `fact`) is included as it is under `other_tables`, so a new feature's
//! data is never silently left out.

use crate::core::privacy::audit::{self, AuditEntry};
use crate::core::privacy::erasure::{live_tables, quote};
use crate::core::Result;
use crate::store::accounts::{self, account_label};
use crate::store::entities::{
    emotion_observation, emotional_state, export_token, feedback, identity as identity_entity,
    inbox_event, memory, preference, sync_conflict,
};
use crate::store::hot::AccountInfo;
use crate::store::ids::{AccountId, IdentityId};
use crate::store::kinds::AuditOutcome;
use crate::store::Store;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, Set,
    Statement, Value,
};
use serde_json::{json, Map};
use sha2::{Digest, Sha256};

/// How long a download link works.
pub const LINK_TTL_MINUTES: i64 = 15;
/// The format name written at the top of every export.
pub const FORMAT: &str = "whisperengine-export/1";

/// Tables written field by field, or never exported as personal data.
const HANDLED_TABLES: &[&str] = &[
    "identity",
    "platform_account",
    "memory",
    // Embedding vectors: numbers derived from the memories above, which are exported as text.
    "memory_embedding",
    "fact",
    "emotion_observation",
    "emotional_state",
    "preference",
    "sync_conflict",
    "feedback",
    "audit_log",
    "export_token",
    "link_code",
    "link_attempt",
    "processed_event",
    // Found by the sender's account key rather than an id column (see `inbox_events_of`).
    "inbox_event",
    "host_setting",
    "seaql_migrations",
];

/// The whole export document of an identity.
pub async fn document(store: &Store, identity_id: IdentityId) -> Result<serde_json::Value> {
    let db = &store.db;
    let accounts = accounts::linked_accounts(db, identity_id).await?;
    let account_ids: Vec<AccountId> = accounts.iter().map(|a| a.id).collect();
    let identity_row = identity_entity::Entity::find_by_id(identity_id)
        .one(db)
        .await?;
    let mut subjects: Vec<String> = accounts.iter().map(account_label).collect();
    subjects.push(identity_id.to_string());
    let memories = memory::Entity::find()
        .filter(memory::Column::AccountId.is_in(account_ids.clone()))
        .order_by_asc(memory::Column::Id)
        .all(db)
        .await?;
    let facts = crate::store::entities::fact::Entity::find()
        .filter(crate::store::entities::fact::Column::AccountId.is_in(account_ids.clone()))
        .order_by_asc(crate::store::entities::fact::Column::Id)
        .all(db)
        .await?;
    let observations = emotion_observation::Entity::find()
        .filter(emotion_observation::Column::AccountId.is_in(account_ids.clone()))
        .order_by_asc(emotion_observation::Column::Id)
        .all(db)
        .await?;
    let state = emotional_state::Entity::find_by_id(identity_id)
        .one(db)
        .await?;
    let preferences = preference::Entity::find()
        .filter(preference::Column::AccountId.is_in(account_ids.clone()))
        .order_by_asc(preference::Column::Id)
        .all(db)
        .await?;
    let conflicts = sync_conflict::Entity::find()
        .filter(sync_conflict::Column::IdentityId.eq(identity_id))
        .order_by_asc(sync_conflict::Column::Id)
        .all(db)
        .await?;
    let feedback_rows = feedback::Entity::find()
        .filter(feedback::Column::IdentityId.eq(identity_id))
        .order_by_asc(feedback::Column::Id)
        .all(db)
        .await?;
    let audit_entries = audit::about(db, &subjects).await?;
    let inbox = inbox_events_of(db, &accounts).await?;
    // Times are shown in the person's time zone (the `timezone` preference set last on any of
    // their accounts; UTC without one), as RFC 3339 with the offset: the same instants, read as
    // the person lives them.
    let time_zone = preferences
        .iter()
        .filter(|p| p.key == "timezone")
        .max_by_key(|p| p.updated_at)
        .map(|p| p.value.clone());
    let zone = crate::llm::dates::Zone::named(time_zone.as_deref());
    let at = |time: DateTime<Utc>| zone.local(time);
    let maybe_at = |time: Option<DateTime<Utc>>| time.map(at);
    let label_of = |account_id: AccountId| {
        accounts
            .iter()
            .find(|a| a.id == account_id)
            .map(account_label)
            .unwrap_or_default()
    };
    Ok(json!({
        "format": FORMAT,
        "exported_at": at(Utc::now()),
        "time_zone": time_zone.as_deref().unwrap_or("UTC"),
        "identity": {
            "id": identity_id,
            "created_at": maybe_at(identity_row.as_ref().map(|row| row.created_at)),
            "isolated": identity_row.as_ref().is_some_and(|row| row.isolated),
        },
        "accounts": accounts.iter().map(|a| json!({
            "account": account_label(a),
            "platform": a.platform.as_str(),
            "scope": a.scope,
            "user_id": a.user_id,
            "display_name": a.display_name,
        })).collect::<Vec<_>>(),
        "memories": memories.iter().map(|m| json!({
            "id": m.id,
            "account": label_of(m.account_id.into()),
            "role": m.role,
            "content": crate::store::crypto::readable(store.cipher.as_deref(), &m.content),
            "platform": m.platform,
            "scope": m.scope,
            "channel_id": m.channel_id,
            "thread_id": m.thread_id,
            "visibility": m.visibility,
            "importance": m.importance,
            "emotion": m.emotion,
            "created_at": at(m.created_at),
            "last_recalled_at": maybe_at(m.last_recalled_at),
            "recall_count": m.recall_count,
        })).collect::<Vec<_>>(),
        "facts": facts.iter().map(|f| json!({
            "id": f.id,
            "account": label_of(f.account_id.into()),
            "subject": f.subject,
            "attribute": f.attribute,
            "value": crate::store::crypto::readable(store.cipher.as_deref(), &f.value),
            "confidence": f.confidence,
            "platform": f.platform,
            "scope": f.scope,
            "visibility": f.visibility,
            "created_at": at(f.created_at),
            "updated_at": at(f.updated_at),
            "superseded_at": maybe_at(f.superseded_at),
            "superseded_by": f.superseded_by,
        })).collect::<Vec<_>>(),
        "emotional_state": state.map(|s| json!({
            "mood": s.mood,
            "valence": s.valence,
            "intensity": s.intensity,
            "updated_at": at(s.updated_at),
            "version": s.version,
        })),
        "emotion_history": observations.iter().map(|o| json!({
            "account": label_of(o.account_id.into()),
            "emotion": o.emotion,
            "valence": o.valence,
            "intensity": o.intensity,
            "memory_id": o.memory_id,
            "created_at": at(o.created_at),
        })).collect::<Vec<_>>(),
        "preferences": preferences.iter().map(|p| json!({
            "account": label_of(p.account_id.into()),
            "key": p.key,
            "value": p.value,
            "version": p.version,
            "updated_at": at(p.updated_at),
            "updated_by_platform": p.updated_by_platform,
        })).collect::<Vec<_>>(),
        "conflicts": conflicts.iter().map(|c| json!({
            "id": c.id,
            "kind": c.kind,
            "key": c.key,
            "kept_value": conflict_value(store, &c.kind, &c.kept_value),
            "other_value": conflict_value(store, &c.kind, &c.other_value),
            "kept_platform": c.kept_platform,
            "other_platform": c.other_platform,
            "strategy": c.strategy,
            "status": c.status,
            "resolution": c.resolution,
            "created_at": at(c.created_at),
            "resolved_at": maybe_at(c.resolved_at),
        })).collect::<Vec<_>>(),
        "feedback": feedback_rows.iter().map(|f| json!({
            "platform": f.platform,
            "score": f.score,
            "comment": f.comment,
            "created_at": at(f.created_at),
        })).collect::<Vec<_>>(),
        "audit": audit_entries,
        "inbox": inbox.iter().map(|(account, row)| json!({
            "account": account_label(account),
            "kind": row.kind,
            "state": if row.parked {
                "set aside"
            } else if row.reply.is_some() {
                "answered"
            } else {
                "waiting"
            },
            "received_at": maybe_at(DateTime::<Utc>::from_timestamp_millis(row.created_at)),
            "payload": crate::store::crypto::readable(store.cipher.as_deref(), &row.payload),
            "reply": row.reply.as_deref().map(|reply| crate::store::crypto::readable(store.cipher.as_deref(), reply)),
        })).collect::<Vec<_>>(),
        "other_tables": other_tables(db, identity_id, &account_ids).await?,
    }))
}

/// A conflict's value as the person reads it: fact values are sealed like the facts, preference
/// values are stored in clear like the preferences.
fn conflict_value(store: &Store, kind: &str, stored: &str) -> String {
    if kind == "fact" {
        crate::store::crypto::readable(store.cipher.as_deref(), stored)
    } else {
        stored.to_string()
    }
}

/// The stored platform events (`inbox_event`) each of `accounts` sent, oldest first.
async fn inbox_events_of<'a>(
    db: &impl ConnectionTrait,
    accounts: &'a [AccountInfo],
) -> Result<Vec<(&'a AccountInfo, inbox_event::Model)>> {
    let mut events = Vec::new();
    for account in accounts {
        let rows = inbox_event::Entity::find()
            .filter(inbox_event::Column::AuthorPlatform.eq(account.platform.as_str()))
            .filter(inbox_event::Column::AuthorScope.eq(account.scope.as_str()))
            .filter(inbox_event::Column::AuthorUserId.eq(account.user_id.as_str()))
            .all(db)
            .await?;
        events.extend(rows.into_iter().map(|row| (account, row)));
    }
    events.sort_by_key(|(_, row)| row.created_at);
    Ok(events)
}

/// Rows of the identity in tables this module does not know (e.g. `fact`), as JSON objects.
async fn other_tables(
    db: &impl ConnectionTrait,
    identity_id: IdentityId,
    account_ids: &[AccountId],
) -> Result<Map<String, serde_json::Value>> {
    let backend = db.get_database_backend();
    let mut tables = Map::new();
    for table in live_tables(db).await? {
        if HANDLED_TABLES.contains(&table.table.as_str()) {
            continue;
        }
        let has = |column: &str| table.columns.iter().any(|c| c == column);
        let mut conditions = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        let placeholder = |index: usize| match backend {
            sea_orm::DbBackend::Postgres => format!("${index}"),
            _ => "?".to_string(),
        };
        if has("identity_id") {
            values.push(identity_id.into());
            conditions.push(format!("identity_id = {}", placeholder(values.len())));
        }
        if has("account_id") && !account_ids.is_empty() {
            let mut marks = Vec::new();
            for id in account_ids {
                values.push((*id).into());
                marks.push(placeholder(values.len()));
            }
            conditions.push(format!("account_id IN ({})", marks.join(", ")));
        }
        if conditions.is_empty() {
            continue;
        }
        let sql = format!(
            "SELECT * FROM {} WHERE {}",
            quote(&table.table),
            conditions.join(" OR ")
        );
        let rows = serde_json::Value::find_by_statement(Statement::from_sql_and_values(
            backend, sql, values,
        ))
        .all(db)
        .await?;
        tables.insert(table.table, serde_json::Value::Array(rows));
    }
    Ok(tables)
}

/// A fresh token: 32 random bytes, hex.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Hex SHA-256 of a token, as stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Issues a download token for the caller's identity (audited); returns the token and its expiry.
pub async fn issue_link(store: &Store, caller: &AccountInfo) -> Result<(String, DateTime<Utc>)> {
    let token = new_token();
    let now = Utc::now();
    let expires_at = now + chrono::TimeDelta::minutes(LINK_TTL_MINUTES);
    export_token::Entity::insert(export_token::ActiveModel {
        token_hash: Set(hash_token(&token)),
        identity_id: Set(caller.identity_id.into()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
        ..Default::default()
    })
    .exec(&store.db)
    .await?;
    let label = account_label(caller);
    audit::record(
        &store.db,
        AuditEntry::new(&label, caller.platform.as_str(), "export", AuditOutcome::Ok)
            .detail(format!("download link, valid {LINK_TTL_MINUTES} minutes")),
    )
    .await?;
    Ok((token, expires_at))
}

/// What a download request gets.
#[derive(Debug)]
pub enum Download {
    Document(serde_json::Value),
    /// No such token (never issued, or its identity was forgotten).
    Unknown,
    Expired,
    AlreadyUsed,
}

/// Redeems a download token: the document once, then never again.
pub async fn redeem(store: &Store, token: &str) -> Result<Download> {
    let is_well_formed = token.len() == 64 && token.chars().all(|c| c.is_ascii_hexdigit());
    if !is_well_formed {
        return Ok(Download::Unknown);
    }
    let Some(row) = export_token::Entity::find()
        .filter(export_token::Column::TokenHash.eq(hash_token(token)))
        .one(&store.db)
        .await?
    else {
        return Ok(Download::Unknown);
    };
    if row.used_at.is_some() {
        return Ok(Download::AlreadyUsed);
    }
    if row.expires_at <= Utc::now() {
        return Ok(Download::Expired);
    }
    // Single use under a race too: only the first update of an unused token counts.
    let claimed = export_token::Entity::update_many()
        .col_expr(
            export_token::Column::UsedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(export_token::Column::Id.eq(row.id))
        .filter(export_token::Column::UsedAt.is_null())
        .exec(&store.db)
        .await?;
    if claimed.rows_affected == 0 {
        return Ok(Download::AlreadyUsed);
    }
    let document = document(store, row.identity_id.into()).await?;
    audit::record(
        &store.db,
        AuditEntry::new("http", "http", "export.download", AuditOutcome::Ok)
            .target(&format!("identity:{}", row.identity_id)),
    )
    .await?;
    Ok(Download::Document(document))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_stored_only_as_a_hash() {
        let first = new_token();
        let second = new_token();
        assert_eq!(first.len(), 64);
        assert_ne!(first, second);
        assert_eq!(hash_token(&first).len(), 64);
        assert_ne!(hash_token(&first), first);
        assert_eq!(hash_token(&first), hash_token(&first));
    }
}
