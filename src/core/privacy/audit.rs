//! The append-only audit log: links, unlinks, refusals, admin commands, isolation, export, forget and
//! conflict resolution. There is deliberately no delete path here, and the one update path is
//! [`redact_subject`]: `forget all` replaces the forgotten person's account labels with a placeholder
//! and appends a tombstone entry without personal content.

use crate::core::Result;
use crate::store::entities::audit_log;
use crate::store::kinds::AuditOutcome;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

/// One audit entry to write.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// The account that acted (`slack:T1/U1`), or `operator` for the CLI.
    pub actor: &'a str,
    pub actor_platform: &'a str,
    /// e.g. `link`, `link.start`, `unlink`, `admin.link`, `forget`.
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub outcome: AuditOutcome,
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
        outcome: AuditOutcome,
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
        outcome: Set(entry.outcome.into()),
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
    Ok(rows.into_iter().map(record_of).collect())
}

fn record_of(row: audit_log::Model) -> AuditRecord {
    AuditRecord {
        id: row.id,
        at: row.created_at,
        actor: row.actor,
        actor_platform: row.actor_platform,
        action: row.action,
        target: row.target,
        outcome: row.outcome,
        detail: row.detail,
    }
}

/// Every entry written at or after `since`, oldest first.
pub async fn since(db: &impl ConnectionTrait, since: DateTime<Utc>) -> Result<Vec<AuditRecord>> {
    let rows = audit_log::Entity::find()
        .filter(audit_log::Column::CreatedAt.gte(since))
        .order_by_asc(audit_log::Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(record_of).collect())
}

/// Entries naming any of `subjects` (account labels, an identity id) as actor or target, or in
/// their detail, oldest first: what `export` hands a person about themselves. A subject matches
/// whole words only (`desktop:me` is not in `desktop:mega`), and `%` or `_` in it are just
/// characters (a local user called `%` gets their own entries, not everyone's).
pub async fn about(db: &impl ConnectionTrait, subjects: &[String]) -> Result<Vec<AuditRecord>> {
    let subjects = non_empty(subjects);
    if subjects.is_empty() {
        return Ok(Vec::new());
    }
    let rows = audit_log::Entity::find()
        .filter(may_mention_any(&subjects))
        .order_by_asc(audit_log::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|row| mentions_any(row, &subjects))
        .map(record_of)
        .collect())
}

fn non_empty(subjects: &[String]) -> Vec<&str> {
    subjects
        .iter()
        .map(String::as_str)
        .filter(|subject| !subject.is_empty())
        .collect()
}

/// The SQL side of the lookup: entries whose actor is a subject, or whose target or detail
/// contain one literally (LIKE wildcards escaped). Whole words are checked by [`mentions_any`].
fn may_mention_any(subjects: &[&str]) -> Condition {
    subjects
        .iter()
        .fold(Condition::any(), |condition, subject| {
            let pattern = format!("%{}%", like_escaped(subject));
            condition
                .add(audit_log::Column::Actor.eq(*subject))
                .add(like(audit_log::Column::Target, pattern.clone()))
                .add(like(audit_log::Column::Detail, pattern))
        })
}

/// `column LIKE pattern ESCAPE '\'`.
fn like(column: audit_log::Column, pattern: String) -> Expr {
    Expr::col(column).like(LikeExpr::new(pattern).escape('\\'))
}

/// `text` made literal inside a LIKE pattern (`\` escapes `%`, `_` and itself).
pub fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// Whether the entry names one of `subjects` as its actor, or as a whole word of its target or
/// detail.
fn mentions_any(row: &audit_log::Model, subjects: &[&str]) -> bool {
    let texts = [
        Some(row.actor.as_str()),
        row.target.as_deref(),
        row.detail.as_deref(),
    ];
    row_subjects_in(&texts, subjects)
}

fn row_subjects_in(texts: &[Option<&str>], subjects: &[&str]) -> bool {
    texts
        .iter()
        .flatten()
        .any(|text| subjects.iter().any(|subject| names(text, subject)))
}

/// Whether `subject` is a whole word of `text`. Account labels and identity ids never contain
/// whitespace, and entries separate them with spaces (`slack:T1/U1 discord:42`).
fn names(text: &str, subject: &str) -> bool {
    text.split_whitespace().any(|word| word == subject)
}

/// `text` with every whole word that is one of `subjects` replaced by [`FORGOTTEN`]; the
/// whitespace between words is kept as it was.
fn without_subjects(text: &str, subjects: &[&str]) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|piece| {
            let word = piece.trim_end_matches(char::is_whitespace);
            if subjects.contains(&word) {
                format!("{FORGOTTEN}{}", &piece[word.len()..])
            } else {
                piece.to_string()
            }
        })
        .collect()
}

/// The placeholder that replaces a forgotten person's account labels in the audit log.
pub const FORGOTTEN: &str = "[forgotten]";

/// `forget all`'s erasure of a person from the log: entries naming them keep their place, time,
/// action and outcome (so the record of what happened stays whole and nothing is deleted), but
/// their account labels and identity id are replaced by [`FORGOTTEN`] and a detail naming them is
/// dropped. This is the only path that changes a written entry. Returns how many were redacted.
pub async fn redact_subject(db: &impl ConnectionTrait, subjects: &[String]) -> Result<u64> {
    let subjects = non_empty(subjects);
    if subjects.is_empty() {
        return Ok(0);
    }
    let rows: Vec<audit_log::Model> = audit_log::Entity::find()
        .filter(may_mention_any(&subjects))
        .all(db)
        .await?
        .into_iter()
        .filter(|row| mentions_any(row, &subjects))
        .collect();
    let count = rows.len() as u64;
    for row in rows {
        let update = audit_log::ActiveModel {
            id: Set(row.id),
            actor: Set(without_subjects(&row.actor, &subjects)),
            target: Set(row
                .target
                .as_deref()
                .map(|target| without_subjects(target, &subjects))),
            detail: Set(row
                .detail
                .filter(|detail| !row_subjects_in(&[Some(detail)], &subjects))),
            ..Default::default()
        };
        audit_log::Entity::update(update).exec(db).await?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_match_whole_words_only() {
        assert!(names("slack:T1/U1 desktop:me", "desktop:me"));
        assert!(!names("desktop:mega", "desktop:me"));
        assert!(!names("desktop:mega", "desktop:%"));
        assert_eq!(
            without_subjects("desktop:me desktop:mega", &["desktop:me"]),
            "[forgotten] desktop:mega"
        );
        assert_eq!(like_escaped("desktop:%_\\"), "desktop:\\%\\_\\\\");
    }
}
