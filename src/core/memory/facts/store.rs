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
    /// A fact contradicting one told on another platform within SETTINGS_SYNC_INTERVAL, settled by
    /// CONFLICT_RESOLUTION_STRATEGY: `new` is what was just said, `earlier` the other platform's.
    Contradiction {
        new: FactRecord,
        earlier: FactRecord,
        kept: Kept,
    },
}

/// Which statement a contradiction left current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// The new one (latest_wins, or platform_priority when its platform ranks first): the earlier
    /// one is history.
    New,
    /// The earlier one (platform_priority when its platform ranks first): the new one is stored as
    /// history.
    Earlier,
    /// Both, until the person chooses (manual, or AUTO_RESOLVE_CONFLICTS=false): the companion
    /// says it is unsure rather than picking one.
    Both,
}

/// How CONFLICT_RESOLUTION_STRATEGY settles a contradiction between `earlier` and a new statement
/// made on `platform`.
fn settle(
    policy: &crate::store::ConflictPolicy,
    earlier: &FactRecord,
    platform: whisperengine_contract::Platform,
) -> Kept {
    use crate::config::ConflictStrategy;
    if !policy.auto_resolve {
        return Kept::Both;
    }
    match policy.strategy {
        ConflictStrategy::LatestWins => Kept::New,
        ConflictStrategy::Manual => Kept::Both,
        ConflictStrategy::PlatformPriority => {
            let rank = |platform| {
                policy
                    .platform_priority
                    .iter()
                    .position(|ranked| *ranked == platform)
                    .unwrap_or(usize::MAX)
            };
            if rank(earlier.platform) < rank(platform) {
                Kept::Earlier
            } else {
                Kept::New
            }
        }
    }
}

/// Stores extracted facts for `account`, updating `current` (the identity's current facts). A fact
/// replacing another keeps the old row as history (`superseded_at`, `superseded_by`).
///
/// The changes are planned against a copy of `current`, then committed together through the
/// group-commit writer (one commit shared with other messages' writes, not one per fact); facts
/// added here carry a placeholder id (`-1 - position`) until the writer returns the real ones.
///
/// A statement contradicting a fact told on another platform less than `window` ago
/// (SETTINGS_SYNC_INTERVAL) is settled by the store's conflict policy (see [`Kept`]).
pub async fn store(
    store: &Store,
    account: &AccountInfo,
    context: &ConversationContext,
    extracted: &[Extracted],
    current: &mut Vec<FactRecord>,
    window: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Stored>> {
    let planned = plan(store, account, context, extracted, current, window, now);
    let ids = store.writer.write_facts(planned.writes.clone()).await?;
    Ok(planned.finish(&ids, current))
}

/// Fact changes planned for one message, not written yet: the writes for the group-commit writer,
/// the identity's current facts after them and what became of each extracted fact, both with
/// placeholder ids (`-1 - position`) for the facts added, until [`Planned::finish`] gets the real
/// ones.
#[derive(Debug, Clone)]
pub struct Planned {
    pub writes: Vec<FactWrite>,
    /// The current facts once the writes are made (placeholder ids for additions).
    pub working: Vec<FactRecord>,
    pub outcomes: Vec<Stored>,
}

impl Planned {
    /// Puts the real ids (`ids`, one per write, as the writer returns them) in place of the
    /// placeholders, makes `current` the facts after the writes, and returns the outcomes.
    pub fn finish(self, ids: &[i64], current: &mut Vec<FactRecord>) -> Vec<Stored> {
        let Planned {
            mut working,
            mut outcomes,
            ..
        } = self;
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
                Stored::Contradiction { new, .. } => new.id = real(new.id),
            }
        }
        *current = working;
        outcomes
    }
}

/// Plans the changes [`store`] makes, against a copy of `current`, without writing them.
pub fn plan(
    store: &Store,
    account: &AccountInfo,
    context: &ConversationContext,
    extracted: &[Extracted],
    current: &[FactRecord],
    window: std::time::Duration,
    now: DateTime<Utc>,
) -> Planned {
    let window =
        chrono::Duration::from_std(window).unwrap_or_else(|_| chrono::Duration::seconds(300));
    let mut working = current.to_vec();
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
        // A contradiction with another platform's recent statement (a stored fact, not one of
        // this call's) is settled by the strategy.
        let contradiction = existing.map(|index| working[index].clone()).filter(|old| {
            old.id > 0 && old.platform != account.platform && now - old.updated_at < window
        });
        let kept = contradiction
            .as_ref()
            .map(|old| settle(&store.conflict_policy, old, account.platform));
        let mut row = row;
        if let (Some(Kept::Earlier), Some(old)) = (kept, &contradiction) {
            // Stored as history: the earlier platform's statement stays current.
            row.superseded_at = Set(Some(now));
            row.superseded_by = Set(Some(old.id));
        }
        let replaced = match kept {
            Some(Kept::Earlier | Kept::Both) => None,
            _ => existing.map(|index| working.remove(index)),
        };
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
        if kept != Some(Kept::Earlier) {
            working.push(record.clone());
        }
        match (kept, contradiction) {
            (Some(kept), Some(earlier)) => outcomes.push(Stored::Contradiction {
                new: record,
                earlier,
                kept,
            }),
            _ => outcomes.push(Stored::Added {
                fact: record,
                replaced,
            }),
        }
    }
    Planned {
        writes,
        working,
        outcomes,
    }
}

/// A fact id as the writer refers to it: placeholders (negative) name this call's additions.
fn fact_ref(id: i64) -> FactRef {
    if id < 0 {
        FactRef::Added((-1 - id) as usize)
    } else {
        FactRef::Stored(id)
    }
}

/// Records each contradiction as a `fact` conflict, with the strategy that settled it: resolved
/// when one statement was kept (latest_wins, platform_priority), open when both are kept until the
/// person chooses (manual; `conflicts resolve`).
pub async fn record_contradictions(
    store: &Store,
    identity: IdentityId,
    outcomes: &[Stored],
    now: DateTime<Utc>,
) -> Result<usize> {
    let rows = contradiction_rows(store, identity, outcomes, now);
    let recorded = rows.len();
    for row in rows {
        row.insert(&store.db).await?;
    }
    count_contradictions(recorded);
    Ok(recorded)
}

/// Counts `recorded` contradictions just written (the conflict counter).
pub fn count_contradictions(recorded: usize) {
    if recorded > 0 {
        metrics::counter!("whisperengine_sync_conflicts_total", "kind" => "fact")
            .increment(recorded as u64);
    }
}

/// The `fact` conflict rows [`record_contradictions`] writes for `outcomes`, not written yet.
pub fn contradiction_rows(
    store: &Store,
    identity: IdentityId,
    outcomes: &[Stored],
    now: DateTime<Utc>,
) -> Vec<sync_conflict::ActiveModel> {
    use crate::config::ConflictStrategy;
    let policy = &store.conflict_policy;
    let mut rows = Vec::new();
    for outcome in outcomes {
        let Stored::Contradiction { new, earlier, kept } = outcome else {
            continue;
        };
        let strategy = match (policy.auto_resolve, policy.strategy) {
            (false, _) | (true, ConflictStrategy::Manual) => "manual",
            (true, ConflictStrategy::LatestWins) => "latest_wins",
            (true, ConflictStrategy::PlatformPriority) => "platform_priority",
        };
        let (current, other, status, resolution) = match kept {
            Kept::New => (
                new,
                earlier,
                ConflictStatus::Resolved,
                Some("the newer statement is current; the older one is kept as history"),
            ),
            Kept::Earlier => (
                earlier,
                new,
                ConflictStatus::Resolved,
                Some("the higher-ranked platform's statement is current; the other is kept as history"),
            ),
            Kept::Both => (earlier, new, ConflictStatus::Open, None),
        };
        let seal = |value: &str| crate::store::crypto::sealed(store.cipher.as_deref(), value);
        rows.push(sync_conflict::ActiveModel {
            identity_id: Set(identity.into()),
            kind: Set(crate::store::kinds::ConflictKind::Fact.into()),
            key: Set(format!("{}.{}", new.subject, new.attribute)),
            kept_value: Set(seal(&current.value)),
            other_value: Set(seal(&other.value)),
            kept_platform: Set(current.platform.as_str().to_string()),
            other_platform: Set(other.platform.as_str().to_string()),
            strategy: Set(strategy.into()),
            status: Set(status.into()),
            resolution: Set(resolution.map(str::to_string)),
            created_at: Set(now),
            resolved_at: Set((status == ConflictStatus::Resolved).then_some(now)),
            ..Default::default()
        });
    }
    rows
}

/// Settles an open fact conflict on `key` (`subject.attribute`) of these accounts with `chosen`:
/// every current fact in that slot with another value becomes history, superseded by the chosen
/// one. Values are compared opened (they may be sealed).
pub async fn keep_chosen(
    db: &impl sea_orm::ConnectionTrait,
    cipher: Option<&crate::store::crypto::ContentCipher>,
    account_ids: &[AccountId],
    key: &str,
    chosen: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some((subject, attribute)) = key.rsplit_once('.') else {
        return Ok(());
    };
    let rows = fact::Entity::find()
        .filter(fact::Column::AccountId.is_in(account_ids.iter().map(|id| id.get())))
        .filter(fact::Column::Subject.eq(subject))
        .filter(fact::Column::Attribute.eq(attribute))
        .filter(fact::Column::SupersededAt.is_null())
        .all(db)
        .await?;
    let is_chosen = |row: &fact::Model| {
        crate::store::crypto::readable(cipher, &row.value).eq_ignore_ascii_case(chosen)
    };
    let Some(keeper) = rows.iter().find(|row| is_chosen(row)).map(|row| row.id) else {
        return Ok(());
    };
    let others: Vec<i64> = rows
        .iter()
        .filter(|row| !is_chosen(row))
        .map(|row| row.id)
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    fact::Entity::update_many()
        .col_expr(
            fact::Column::SupersededAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            fact::Column::SupersededBy,
            sea_orm::sea_query::Expr::value(keeper),
        )
        .filter(fact::Column::Id.is_in(others))
        .exec(db)
        .await?;
    Ok(())
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
