//! The append-only audit log: links, unlinks, refusals, admin commands, forget. There is deliberately
//! no update or delete path here; `forget` leaves a tombstone entry without personal content.

use crate::core::Result;
use crate::store::entities::audit_log;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryOrder, QuerySelect, Set};

/// One audit entry to write.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// The account that acted (`slack:T1/U1`), or `operator` for the CLI.
    pub actor: &'a str,
    pub actor_platform: &'a str,
    /// e.g. `link`, `link.start`, `unlink`, `admin.link`, `forget`.
    pub action: &'a str,
    pub target: Option<&'a str>,
    /// `ok`, `refused`, `failed`.
    pub outcome: &'a str,
    /// Why (for refusals) or what (counts); never message content.
    pub detail: Option<String>,
}

impl<'a> AuditEntry<'a> {
    /// An entry with no target or detail; add them with [`AuditEntry::target`] and
    /// [`AuditEntry::detail`].
    pub fn new(
        actor: &'a str,
        actor_platform: &'a str,
        action: &'a str,
        outcome: &'a str,
    ) -> AuditEntry<'a> {
        AuditEntry {
            actor,
            actor_platform,
            action,
            target: None,
            outcome,
            detail: None,
        }
    }

    /// The same entry naming what was acted on.
    pub fn target(self, target: &'a str) -> AuditEntry<'a> {
        AuditEntry {
            target: Some(target),
            ..self
        }
    }

    /// The same entry with a detail (why, or how much; never message content).
    pub fn detail(self, detail: impl Into<String>) -> AuditEntry<'a> {
        AuditEntry {
            detail: Some(detail.into()),
            ..self
        }
    }
}

/// The actor of entries written from the command line (`whisperengine admin …`).
pub const OPERATOR: &str = "operator";
/// The platform column of entries written from the command line.
pub const OPERATOR_PLATFORM: &str = "cli";

/// Appends an entry.
pub async fn record(db: &impl ConnectionTrait, entry: AuditEntry<'_>) -> Result<()> {
    audit_log::ActiveModel {
        created_at: Set(Utc::now()),
        actor: Set(entry.actor.to_string()),
        actor_platform: Set(entry.actor_platform.to_string()),
        action: Set(entry.action.to_string()),
        target: Set(entry.target.map(str::to_string)),
        outcome: Set(entry.outcome.to_string()),
        detail: Set(entry.detail),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A stored entry, as shown to admins.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_platform: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

/// The latest `limit` entries, newest first.
pub async fn latest(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<AuditRecord>> {
    let rows = audit_log::Entity::find()
        .order_by_desc(audit_log::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| AuditRecord {
            id: row.id,
            at: row.created_at,
            actor: row.actor,
            actor_platform: row.actor_platform,
            action: row.action,
            target: row.target,
            outcome: row.outcome,
            detail: row.detail,
        })
        .collect())
}
