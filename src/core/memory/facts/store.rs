//! The versioned fact rows: a restated or corrected fact supersedes the current one (the old row
//! is kept), contradictions are recorded, and current facts are loaded for the hot layer.

use super::{extract, same_slot, Extracted};
use crate::core::Result;
use crate::store::entities::{fact, sync_conflict};
use crate::store::hot::{AccountInfo, FactRecord};
use crate::store::ids::{AccountId, IdentityId};
use crate::store::kinds::ConflictStatus;
use crate::store::writer::{FactRef, FactWrite};
use crate::store::Store;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use whisperengine_contract::{ConversationContext, Visibility};

/// What happened to one extracted fact.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// A new fact (maybe replacing `replaced`).
    Added {
        fact: FactRecord,
        replaced: Option<FactRecord>,
    },
    /// The same value restated: only its time and confidence moved.
    Confirmed(FactRecord),
}

/// Stores extracted facts for `account`, updating `current` (the identity's current facts). A fact
/// replacing another keeps the old row as history (`superseded_at`, `superseded_by`).
///
/// The changes are planned against a copy of `current`, then committed together through the
/// group-commit writer (one commit shared with other messages' writes, not one per fact); facts
/// added here carry a placeholder id (`-1 - position`) until the writer returns the real ones.
pub async fn store(
    store: &Store,
    account: &AccountInfo,
    context: &ConversationContext,
    extracted: &[Extracted],
    current: &mut Vec<FactRecord>,
    now: DateTime<Utc>,
) -> Result<Vec<Stored>> {
    let mut working = current.clone();
    let mut writes = Vec::new();
    let mut outcomes = Vec::new();
    for new in extracted {
        let existing = working.iter().position(|fact| same_slot(fact, new));
        if let Some(index) = existing {
            let old = &mut working[index];
            if old.attribute == new.attribute && old.value.eq_ignore_ascii_case(&new.value) {
                let confidence = (old.confidence.max(new.confidence) + 0.05).min(1.0);
                writes.push(FactWrite::Confirm {
                    fact: fact_ref(old.id),
                    confidence,
                    updated_at: now,
                });
                old.confidence = confidence;
                old.updated_at = now;
                outcomes.push(Stored::Confirmed(old.clone()));
                continue;
            }
        }
        let row = fact::ActiveModel {
            account_id: Set(account.id.into()),
            subject: Set(new.subject.clone()),
            attribute: Set(new.attribute.to_string()),
            value: Set(crate::store::crypto::sealed(
                store.cipher.as_deref(),
                &new.value,
            )),
            confidence: Set(new.confidence),
            platform: Set(account.platform.as_str().to_string()),
            scope: Set(context.scope.clone()),
            visibility: Set(context.visibility.as_str().to_string()),
            created_at: Set(now),
            updated_at: Set(now),
            superseded_at: Set(None),
            superseded_by: Set(None),
            ..Default::default()
        };
        let replaced = existing.map(|index| working.remove(index));
        let record = FactRecord {
            id: -1 - writes.len() as i64,
            account_id: account.id,
            subject: new.subject.clone(),
            attribute: new.attribute.to_string(),
            value: new.value.clone(),
            confidence: new.confidence,
            platform: account.platform,
            scope: context.scope.clone(),
            visibility: context.visibility,
            updated_at: now,
        };
        writes.push(FactWrite::Add {
            row: Box::new(row),
            replaces: replaced.as_ref().map(|old| fact_ref(old.id)),
        });
        working.push(record.clone());
        outcomes.push(Stored::Added {
            fact: record,
            replaced,
        });
    }
    let ids = store.writer.write_facts(writes).await?;
    let real = |id: i64| match fact_ref(id) {
        FactRef::Added(index) => ids.get(index).copied().unwrap_or(id),
        FactRef::Stored(id) => id,
    };
    for fact in &mut working {
        fact.id = real(fact.id);
    }
    for outcome in &mut outcomes {
        match outcome {
            Stored::Added { fact, replaced } => {
                fact.id = real(fact.id);
                if let Some(replaced) = replaced {
                    replaced.id = real(replaced.id);
                }
            }
            Stored::Confirmed(fact) => fact.id = real(fact.id),
        }
    }
    *current = working;
    Ok(outcomes)
}

/// A fact id as the writer refers to it: placeholders (negative) name this call's additions.
fn fact_ref(id: i64) -> FactRef {
    if id < 0 {
        FactRef::Added((-1 - id) as usize)
    } else {
        FactRef::Stored(id)
    }
}

/// Records, as resolved conflicts, facts that replaced a fact told on ANOTHER platform within
/// `window` (SETTINGS_SYNC_INTERVAL): the newer statement is current, the older one stays as
/// history, and the person can see the clash with `conflicts`.
pub async fn record_contradictions(
    store: &Store,
    identity: IdentityId,
    outcomes: &[Stored],
    window: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<usize> {
    let window =
        chrono::Duration::from_std(window).unwrap_or_else(|_| chrono::Duration::seconds(300));
    let mut recorded = 0;
    for outcome in outcomes {
        let Stored::Added {
            fact,
            replaced: Some(old),
        } = outcome
        else {
            continue;
        };
        if old.platform == fact.platform || now - old.updated_at >= window {
            continue;
        }
        sync_conflict::ActiveModel {
            identity_id: Set(identity.into()),
            kind: Set("fact".into()),
            key: Set(format!("{}.{}", fact.subject, fact.attribute)),
            kept_value: Set(crate::store::crypto::sealed(
                store.cipher.as_deref(),
                &fact.value,
            )),
            other_value: Set(crate::store::crypto::sealed(
                store.cipher.as_deref(),
                &old.value,
            )),
            kept_platform: Set(fact.platform.as_str().to_string()),
            other_platform: Set(old.platform.as_str().to_string()),
            strategy: Set("latest_wins".into()),
            status: Set(ConflictStatus::Resolved.into()),
            resolution: Set(Some(
                "the newer statement is current; the older one is kept as history".into(),
            )),
            created_at: Set(now),
            resolved_at: Set(Some(now)),
            ..Default::default()
        }
        .insert(&store.db)
        .await?;
        metrics::counter!("whisperengine_sync_conflicts_total", "kind" => "fact").increment(1);
        recorded += 1;
    }
    Ok(recorded)
}

/// Forgets the facts a memory stated (before the memory itself is forgotten): its text is read
/// again and the matching facts of its account (current or history) are deleted. A fact that was
/// since replaced by another statement goes with it; the newer one stays.
pub async fn forget_stated_in(
    db: &impl sea_orm::ConnectionTrait,
    cipher: Option<&crate::store::crypto::ContentCipher>,
    memory_id: i64,
    account_ids: &[AccountId],
) -> Result<u64> {
    let Some(row) = crate::store::entities::memory::Entity::find_by_id(memory_id)
        .filter(crate::store::entities::memory::Column::AccountId.is_in(account_ids.to_vec()))
        .one(db)
        .await?
    else {
        return Ok(0);
    };
    let content = crate::store::crypto::readable(cipher, &row.content);
    let mut doomed = Vec::new();
    for stated in extract(&content) {
        // Values may be sealed (a fresh nonce each time), so they are compared once opened.
        let candidates = fact::Entity::find()
            .filter(fact::Column::AccountId.eq(row.account_id))
            .filter(fact::Column::Subject.eq(stated.subject.as_str()))
            .filter(fact::Column::Attribute.eq(stated.attribute))
            .all(db)
            .await?;
        doomed.extend(
            candidates
                .iter()
                .filter(|fact| crate::store::crypto::readable(cipher, &fact.value) == stated.value)
                .map(|fact| fact.id),
        );
    }
    if doomed.is_empty() {
        return Ok(0);
    }
    let deleted = fact::Entity::delete_many()
        .filter(fact::Column::Id.is_in(doomed))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// The current facts of these accounts.
pub async fn load_current(
    db: &impl sea_orm::ConnectionTrait,
    cipher: Option<&crate::store::crypto::ContentCipher>,
    account_ids: &[i64],
) -> Result<Vec<FactRecord>> {
    let rows = fact::Entity::find()
        .filter(fact::Column::AccountId.is_in(account_ids.to_vec()))
        .filter(fact::Column::SupersededAt.is_null())
        .all(db)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| usable_fact(row, cipher))
        .collect())
}

/// [`fact_record`], or `None` for a fact whose value cannot be used (altered, or in clear under
/// DATA_ENCRYPTION_KEY): the companion does not rely on it.
pub fn usable_fact(
    row: &fact::Model,
    cipher: Option<&crate::store::crypto::ContentCipher>,
) -> Option<FactRecord> {
    let value = crate::store::crypto::opened(cipher, &row.value)?;
    Some(FactRecord {
        value,
        ..fact_record_with(row, String::new())
    })
}

/// Maps a stored fact row, its value opened with `cipher` when DATA_ENCRYPTION_KEY is set.
pub fn fact_record(
    row: &fact::Model,
    cipher: Option<&crate::store::crypto::ContentCipher>,
) -> FactRecord {
    fact_record_with(row, crate::store::crypto::readable(cipher, &row.value))
}

fn fact_record_with(row: &fact::Model, value: String) -> FactRecord {
    FactRecord {
        id: row.id,
        account_id: row.account_id.into(),
        subject: row.subject.clone(),
        attribute: row.attribute.clone(),
        value,
        confidence: row.confidence,
        platform: row
            .platform
            .parse()
            .unwrap_or(whisperengine_contract::Platform::Desktop),
        scope: row.scope.clone(),
        visibility: Visibility::parse(&row.visibility).unwrap_or(Visibility::Private),
        updated_at: row.updated_at,
    }
}
