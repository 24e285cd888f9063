//! Preferences and sharing settings, stored per origin account and read through the identity.
//! When linked accounts hold different values for one key, CONFLICT_RESOLUTION_STRATEGY decides which
//! one is in effect; a concurrent edit (two platforms within SETTINGS_SYNC_INTERVAL) is recorded in
//! `sync_conflict` with how it was resolved.
//!
//! Over 500 lines: preferences, sharing switches and the three conflict strategies share one state; about a fifth is tests.

use crate::config::{ConflictStrategy, Settings, SyncCategory};
use crate::core::Result;
use crate::store::entities::{preference, sync_conflict};
use crate::store::hot::{AccountInfo, IdentityHot, OpenConflict, PreferenceRecord};
use crate::store::ids::{AccountId, IdentityId};
use crate::store::kinds::{ConflictKind, ConflictStatus};
use crate::store::Store;
use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use std::collections::BTreeMap;
use whisperengine_contract::Platform;

/// Preference keys people may set, with what they mean.
pub const KNOWN_KEYS: &[(&str, &str)] = &[
    ("name", "what the companion calls you"),
    ("pronouns", "your pronouns"),
    ("timezone", "your time zone, e.g. Europe/Lisbon"),
    ("language", "the language you prefer"),
    (
        "tone",
        "how the companion talks to you: warm, playful, direct, formal",
    ),
    ("verbosity", "reply length: short, medium, long"),
];

/// Prefix of the keys that hold sharing settings (`privacy.conversation_history`).
pub const PRIVACY_PREFIX: &str = "privacy.";

/// Checks a key and value typed in `prefs set`.
pub fn validate(key: &str, value: &str) -> std::result::Result<(), String> {
    if !KNOWN_KEYS.iter().any(|(known, _)| *known == key) {
        let keys: Vec<&str> = KNOWN_KEYS.iter().map(|(k, _)| *k).collect();
        return Err(format!(
            "Unknown preference `{key}`. You can set: {}.",
            keys.join(", ")
        ));
    }
    if value.trim().is_empty() || value.chars().count() > 200 {
        return Err("A preference value must be 1 to 200 characters.".into());
    }
    match key {
        "verbosity" if !["short", "medium", "long"].contains(&value) => {
            Err("verbosity must be short, medium or long.".into())
        }
        // Dates in replies are shown in it: it must be a zone the time zone database knows.
        "timezone" if jiff::tz::TimeZone::get(value.trim()).is_err() => Err(
            "timezone must be a time zone name such as Europe/Lisbon, America/New_York or UTC."
                .into(),
        ),
        _ => Ok(()),
    }
}

fn platform_rank(settings: &Settings, platform: &str) -> usize {
    settings
        .platform_priority
        .iter()
        .position(|p| p.as_str() == platform)
        .unwrap_or(usize::MAX)
}

/// The record in effect for one key among several accounts' records, by strategy. Ties are
/// broken deterministically: same time → the platform earlier in PLATFORM_PRIORITY → the older
/// account. (Under `manual` the latest edit is in effect unless a conflict is open; see [`effective`].)
fn winner<'a>(
    settings: &Settings,
    records: &[&'a PreferenceRecord],
) -> Option<&'a PreferenceRecord> {
    let latest_first = |a: &&PreferenceRecord, b: &&PreferenceRecord| {
        b.updated_at
            .cmp(&a.updated_at)
            .then(
                platform_rank(settings, &a.updated_by_platform)
                    .cmp(&platform_rank(settings, &b.updated_by_platform)),
            )
            .then(a.account_id.cmp(&b.account_id))
    };
    match settings.conflict_resolution_strategy {
        ConflictStrategy::PlatformPriority => records.iter().copied().min_by(|a, b| {
            platform_rank(settings, &a.updated_by_platform)
                .cmp(&platform_rank(settings, &b.updated_by_platform))
                .then(latest_first(a, b))
        }),
        ConflictStrategy::Manual | ConflictStrategy::LatestWins => {
            records.iter().copied().min_by(latest_first)
        }
    }
}

/// Whether edits of `key` wait for the person's choice when they conflict: under `manual` or with
/// AUTO_RESOLVE_CONFLICTS off. Sharing (privacy) switches never wait: a person's privacy choice
/// takes effect on the next message.
fn holds_on_conflict(settings: &Settings, key: &str) -> bool {
    !key.starts_with(PRIVACY_PREFIX)
        && (settings.conflict_resolution_strategy == ConflictStrategy::Manual
            || !settings.auto_resolve_conflicts)
}

/// Effective preferences of an identity (key → (value, platform it was set on)), including privacy keys.
/// While a conflict on a key is open, the value that held before it stays in effect.
pub fn effective(settings: &Settings, state: &IdentityHot) -> BTreeMap<String, (String, String)> {
    let records: Vec<&PreferenceRecord> = state.preferences.iter().collect();
    effective_among(settings, &records, &state.open_conflicts)
}

/// The sharing category of a preference key: `tone` and `verbosity` are AI settings, `privacy.*`
/// privacy settings, the rest (name, pronouns, timezone, language) UI preferences.
pub fn category_of(key: &str) -> SyncCategory {
    if key.starts_with(PRIVACY_PREFIX) {
        SyncCategory::PrivacySettings
    } else if matches!(key, "tone" | "verbosity") {
        SyncCategory::AiSettings
    } else {
        SyncCategory::UiPreferences
    }
}

/// Effective preferences as seen from one account: its own values always, other linked accounts'
/// values only for the categories (SYNC_UI_PREFERENCES, SYNC_AI_SETTINGS, ...) that are shared.
pub fn effective_for(
    settings: &Settings,
    state: &IdentityHot,
    account_id: AccountId,
) -> BTreeMap<String, (String, String)> {
    let is_readable = |key: &str| is_shared(settings, state, category_of(key));
    let records: Vec<&PreferenceRecord> = state
        .preferences
        .iter()
        .filter(|record| record.account_id == account_id || is_readable(&record.key))
        .collect();
    let open: Vec<OpenConflict> = state
        .open_conflicts
        .iter()
        .filter(|conflict| is_readable(&conflict.key))
        .cloned()
        .collect();
    effective_among(settings, &records, &open)
}

fn effective_among(
    settings: &Settings,
    records: &[&PreferenceRecord],
    open_conflicts: &[OpenConflict],
) -> BTreeMap<String, (String, String)> {
    let mut by_key: BTreeMap<&str, Vec<&PreferenceRecord>> = BTreeMap::new();
    for record in records {
        by_key.entry(record.key.as_str()).or_default().push(record);
    }
    by_key
        .into_iter()
        .filter_map(|(key, records)| {
            let held = open_conflicts
                .iter()
                .filter(|conflict| conflict.key == key)
                .min_by_key(|conflict| conflict.id);
            if let Some(held) = held {
                return Some((
                    key.to_string(),
                    (held.kept_value.clone(), held.kept_platform.clone()),
                ));
            }
            winner(settings, &records).map(|r| {
                (
                    key.to_string(),
                    (r.value.clone(), r.updated_by_platform.clone()),
                )
            })
        })
        .collect()
}

/// The identity's state as seen from one account, for its sharing switches (SYNC_PRIVACY_SETTINGS):
/// with privacy settings shared, a `privacy set` made on any linked account applies everywhere;
/// with them off, other accounts' `privacy.*` choices are dropped, so each account has its own
/// (the host default where it made none). `privacy.privacy_settings` itself says how choices
/// travel, so it is always read across the identity.
pub fn privacy_view(
    settings: &Settings,
    mut state: IdentityHot,
    account_id: AccountId,
) -> IdentityHot {
    if is_shared(settings, &state, SyncCategory::PrivacySettings) {
        return state;
    }
    let own_switch = format!("{PRIVACY_PREFIX}{}", SyncCategory::PrivacySettings.as_str());
    state.preferences.retain(|record| {
        record.account_id == account_id
            || !record.key.starts_with(PRIVACY_PREFIX)
            || record.key == own_switch
    });
    state
}

/// Whether a sharing category is on for this identity: the host switch, then the person's choice.
pub fn is_shared(settings: &Settings, state: &IdentityHot, category: SyncCategory) -> bool {
    if !settings.cross_platform_sync_enabled || state.isolated {
        return false;
    }
    let key = format!("{PRIVACY_PREFIX}{}", category.as_str());
    match effective(settings, state).get(&key) {
        Some((value, _)) => value == "on",
        None => settings.sync_default(category),
    }
}

/// Sets a preference on the caller's account. Returns a note when it conflicted with a value set on
/// another linked platform within SETTINGS_SYNC_INTERVAL.
pub async fn set(
    store: &Store,
    settings: &Settings,
    caller: &AccountInfo,
    state: &IdentityHot,
    key: &str,
    value: &str,
) -> Result<Option<String>> {
    let now = Utc::now();
    let own_version = state
        .preferences
        .iter()
        .find(|r| r.account_id == caller.id && r.key == key)
        .map_or(0, |r| r.version);
    // The write and the change-feed entry commit together, so other processes cannot miss it.
    let transaction = store.db.begin().await?;
    crate::store::changes::record(&transaction, store.origin, &[caller.identity_id]).await?;
    let row = preference::ActiveModel {
        account_id: Set(caller.id.into()),
        key: Set(key.to_string()),
        value: Set(value.to_string()),
        version: Set(own_version + 1),
        updated_at: Set(now),
        updated_by_platform: Set(caller.platform.as_str().to_string()),
        ..Default::default()
    };
    preference::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([preference::Column::AccountId, preference::Column::Key])
                .update_columns([
                    preference::Column::Value,
                    preference::Column::Version,
                    preference::Column::UpdatedAt,
                    preference::Column::UpdatedByPlatform,
                ])
                .to_owned(),
        )
        .exec_without_returning(&transaction)
        .await?;
    let window = chrono::Duration::from_std(settings.settings_sync_interval)
        .unwrap_or_else(|_| chrono::Duration::seconds(300));
    let concurrent = state
        .preferences
        .iter()
        .filter(|r| {
            r.account_id != caller.id
                && r.key == key
                && r.value != value
                && now - r.updated_at < window
        })
        .max_by_key(|r| r.updated_at);
    let mut note = None;
    if let Some(other) = concurrent {
        let mine = PreferenceRecord {
            account_id: caller.id,
            key: key.to_string(),
            value: value.to_string(),
            version: own_version + 1,
            updated_at: now,
            updated_by_platform: caller.platform.as_str().to_string(),
        };
        let is_open = holds_on_conflict(settings, key);
        // Held: the value in effect before this edit stays; otherwise the strategy picks.
        let (kept_value, kept_platform, other_value, other_platform) = if is_open {
            let before = effective(settings, state)
                .get(key)
                .cloned()
                .unwrap_or_else(|| (other.value.clone(), other.updated_by_platform.clone()));
            (
                before.0,
                before.1,
                mine.value.clone(),
                mine.updated_by_platform.clone(),
            )
        } else {
            let records = [&mine, other];
            let kept = winner(settings, &records).unwrap_or(&mine);
            let dropped = if kept.account_id == mine.account_id {
                other
            } else {
                &mine
            };
            (
                kept.value.clone(),
                kept.updated_by_platform.clone(),
                dropped.value.clone(),
                dropped.updated_by_platform.clone(),
            )
        };
        let row = sync_conflict::ActiveModel {
            identity_id: Set(caller.identity_id.into()),
            kind: Set("preference".into()),
            key: Set(key.to_string()),
            kept_value: Set(kept_value.clone()),
            other_value: Set(other_value),
            kept_platform: Set(kept_platform.clone()),
            other_platform: Set(other_platform),
            strategy: Set(strategy_name(settings).into()),
            status: Set(if is_open {
                ConflictStatus::Open
            } else {
                ConflictStatus::Resolved
            }
            .into()),
            resolution: Set((!is_open).then(|| format!("kept the value set on {kept_platform}"))),
            created_at: Set(now),
            resolved_at: Set((!is_open).then_some(now)),
            ..Default::default()
        }
        .insert(&transaction)
        .await?;
        metrics::counter!("whisperengine_sync_conflicts_total", "kind" => "preference")
            .increment(1);
        let other_platform = other
            .updated_by_platform
            .parse::<Platform>()
            .map_or(other.updated_by_platform.clone(), |p| {
                p.display_name().to_string()
            });
        note = Some(if is_open {
            format!(
                "You changed `{key}` on {other_platform} moments ago too, so I'm keeping `{kept_value}` until you choose: `conflicts resolve {} 1` keeps it, `conflicts resolve {} 2` uses `{value}`.",
                row.id, row.id
            )
        } else {
            format!(
                "You changed `{key}` on {other_platform} moments ago too; `{kept_value}` is in effect ({}).",
                strategy_name(settings)
            )
        });
    }
    transaction.commit().await?;
    store.invalidate_identities(&[caller.identity_id]).await;
    Ok(note)
}

/// When two identities are linked, every key both sides have a different value for is a conflict:
/// recorded, then resolved by the store's policy (under `manual` or with AUTO_RESOLVE_CONFLICTS
/// off it stays open and the keeper's value holds). Call before the accounts are re-pointed.
pub async fn record_link_conflicts(
    db: &impl sea_orm::ConnectionTrait,
    store: &Store,
    keeper: IdentityId,
    joining: IdentityId,
) -> Result<usize> {
    let policy = &store.conflict_policy;
    let settings = Settings {
        conflict_resolution_strategy: policy.strategy,
        auto_resolve_conflicts: policy.auto_resolve,
        platform_priority: policy.platform_priority.clone(),
        ..Settings::default()
    };
    let side = |identity: IdentityId| async move {
        let accounts = crate::store::accounts::linked_accounts(db, identity).await?;
        let ids: Vec<AccountId> = accounts.iter().map(|account| account.id).collect();
        let rows = preference::Entity::find()
            .filter(preference::Column::AccountId.is_in(ids))
            .all(db)
            .await?;
        Ok::<_, crate::core::CoreError>(
            rows.into_iter()
                .map(|row| PreferenceRecord {
                    account_id: row.account_id.into(),
                    key: row.key,
                    value: row.value,
                    version: row.version,
                    updated_at: row.updated_at,
                    updated_by_platform: row.updated_by_platform,
                })
                .collect::<Vec<_>>(),
        )
    };
    let kept_side = side(keeper).await?;
    let joining_side = side(joining).await?;
    let effective_of = |records: &[PreferenceRecord]| {
        let refs: Vec<&PreferenceRecord> = records.iter().collect();
        let mut by_key: BTreeMap<String, PreferenceRecord> = BTreeMap::new();
        for (key, _) in effective_among(&settings, &refs, &[]) {
            let matching: Vec<&PreferenceRecord> =
                refs.iter().copied().filter(|r| r.key == key).collect();
            if let Some(record) = winner(&settings, &matching) {
                by_key.insert(key, record.clone());
            }
        }
        by_key
    };
    let ours = effective_of(&kept_side);
    let theirs = effective_of(&joining_side);
    let now = Utc::now();
    let mut recorded = 0;
    for (key, mine) in &ours {
        let Some(other) = theirs.get(key) else {
            continue;
        };
        if mine.value == other.value {
            continue;
        }
        let is_open = holds_on_conflict(&settings, key);
        let (kept, dropped) = if is_open {
            (mine, other)
        } else {
            let records = [mine, other];
            let kept = winner(&settings, &records).unwrap_or(mine);
            if kept.account_id == mine.account_id {
                (mine, other)
            } else {
                (other, mine)
            }
        };
        sync_conflict::ActiveModel {
            identity_id: Set(keeper.into()),
            kind: Set("preference".into()),
            key: Set(key.clone()),
            kept_value: Set(kept.value.clone()),
            other_value: Set(dropped.value.clone()),
            kept_platform: Set(kept.updated_by_platform.clone()),
            other_platform: Set(dropped.updated_by_platform.clone()),
            strategy: Set(strategy_name(&settings).into()),
            status: Set(if is_open {
                ConflictStatus::Open
            } else {
                ConflictStatus::Resolved
            }
            .into()),
            resolution: Set((!is_open).then(|| {
                format!(
                    "on link: kept the value set on {}",
                    kept.updated_by_platform
                )
            })),
            created_at: Set(now),
            resolved_at: Set((!is_open).then_some(now)),
            ..Default::default()
        }
        .insert(db)
        .await?;
        metrics::counter!("whisperengine_sync_conflicts_total", "kind" => "link").increment(1);
        recorded += 1;
    }
    Ok(recorded)
}

/// The identity's open conflicts (oldest first) and its latest resolved ones (newest first, at most `resolved`).
pub async fn list_conflicts(
    store: &Store,
    identity: IdentityId,
    resolved: u64,
) -> Result<(Vec<sync_conflict::Model>, Vec<sync_conflict::Model>)> {
    let open = sync_conflict::Entity::find()
        .filter(sync_conflict::Column::IdentityId.eq(identity))
        .filter(sync_conflict::Column::Status.eq(ConflictStatus::Open))
        .order_by_asc(sync_conflict::Column::Id)
        .all(&store.db)
        .await?;
    let done = sync_conflict::Entity::find()
        .filter(sync_conflict::Column::IdentityId.eq(identity))
        .filter(sync_conflict::Column::Status.eq(ConflictStatus::Resolved))
        .order_by_desc(sync_conflict::Column::Id)
        .limit(resolved)
        .all(&store.db)
        .await?;
    let cipher = store.cipher.as_deref();
    Ok((
        open.into_iter()
            .map(|row| opened_values(row, cipher))
            .collect(),
        done.into_iter()
            .map(|row| opened_values(row, cipher))
            .collect(),
    ))
}

/// A conflict row with its values readable: fact conflicts keep them sealed under
/// DATA_ENCRYPTION_KEY (preference values are not personal content and are stored in clear).
pub fn opened_values(
    mut row: sync_conflict::Model,
    cipher: Option<&crate::store::crypto::ContentCipher>,
) -> sync_conflict::Model {
    if row.kind == ConflictKind::Fact {
        row.kept_value = crate::store::crypto::readable(cipher, &row.kept_value);
        row.other_value = crate::store::crypto::readable(cipher, &row.other_value);
    }
    row
}

/// Which side of a conflict a person picked: `1`/`kept`/the kept platform, `2`/`other`/the other
/// platform, or one of the two values typed out.
pub fn choose<'a>(conflict: &'a sync_conflict::Model, choice: &str) -> Option<&'a str> {
    let choice = choice.trim().to_lowercase();
    match choice.as_str() {
        "1" | "kept" | "keep" | "current" => Some(&conflict.kept_value),
        "2" | "other" | "new" => Some(&conflict.other_value),
        _ if choice == conflict.kept_platform && choice != conflict.other_platform => {
            Some(&conflict.kept_value)
        }
        _ if choice == conflict.other_platform && choice != conflict.kept_platform => {
            Some(&conflict.other_value)
        }
        _ if choice == conflict.kept_value.to_lowercase() => Some(&conflict.kept_value),
        _ if choice == conflict.other_value.to_lowercase() => Some(&conflict.other_value),
        _ => None,
    }
}

/// Who settles a conflict: the person it belongs to, or an operator (the admin dashboard, `admin
/// conflicts resolve`) on their behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolver {
    Person,
    Admin,
}

/// What resolving a conflict did: whether the choice was written, and the reply to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub done: bool,
    pub text: String,
}

impl Resolution {
    pub fn refused(text: String) -> Resolution {
        Resolution { done: false, text }
    }
}

/// Open conflict `id` (of `kind`) of the caller's identity and the value `choice` picks in it
/// (values opened); or the reply saying why there is nothing to resolve. `verb` says how the
/// values came about ("set", "told") in the reply asking to choose.
pub async fn chosen_side(
    store: &Store,
    caller: &AccountInfo,
    id: i64,
    choice: &str,
    kind: ConflictKind,
    verb: &str,
) -> Result<std::result::Result<(sync_conflict::Model, String), Resolution>> {
    let conflict = sync_conflict::Entity::find_by_id(id)
        .filter(sync_conflict::Column::IdentityId.eq(caller.identity_id))
        .filter(sync_conflict::Column::Kind.eq(kind))
        .one(&store.db)
        .await?;
    let Some(conflict) = conflict.map(|row| opened_values(row, store.cipher.as_deref())) else {
        return Ok(Err(Resolution::refused(format!(
            "There is no conflict #{id} of yours. `conflicts` lists them."
        ))));
    };
    if conflict.status != ConflictStatus::Open {
        return Ok(Err(Resolution::refused(format!(
            "Conflict #{id} is already resolved ({}).",
            conflict.resolution.clone().unwrap_or_default()
        ))));
    }
    let Some(chosen) = choose(&conflict, choice).map(str::to_string) else {
        return Ok(Err(Resolution::refused(format!(
            "Choose `1` (`{}`, {verb} on {}) or `2` (`{}`, {verb} on {}): `conflicts resolve {id} 1|2`.",
            conflict.kept_value,
            conflict.kept_platform,
            conflict.other_value,
            conflict.other_platform
        ))));
    };
    Ok(Ok((conflict, chosen)))
}

/// Closes every open conflict of `conflict`'s identity on its kind and key with `resolution`;
/// how many were closed.
pub async fn close_open(
    db: &impl sea_orm::ConnectionTrait,
    conflict: &sync_conflict::Model,
    resolution: String,
    now: chrono::DateTime<Utc>,
) -> Result<u64> {
    let closed = sync_conflict::Entity::update_many()
        .col_expr(
            sync_conflict::Column::Status,
            Expr::value(ConflictStatus::Resolved),
        )
        .col_expr(sync_conflict::Column::Resolution, Expr::value(resolution))
        .col_expr(sync_conflict::Column::ResolvedAt, Expr::value(now))
        .filter(sync_conflict::Column::IdentityId.eq(conflict.identity_id))
        .filter(sync_conflict::Column::Kind.eq(conflict.kind.as_str()))
        .filter(sync_conflict::Column::Key.eq(conflict.key.as_str()))
        .filter(sync_conflict::Column::Status.eq(ConflictStatus::Open))
        .exec(db)
        .await?;
    Ok(closed.rows_affected)
}

/// Resolves an open conflict of the caller's identity with the choice made: the chosen value is
/// written to every linked account holding the key (so every strategy agrees on it) and every open
/// conflict on that key is closed. Returns the reply to show. `caller` is an account of the
/// identity whose conflict it is (for an operator, the identity's first account).
pub async fn resolve(
    store: &Store,
    caller: &AccountInfo,
    state: &IdentityHot,
    id: i64,
    choice: &str,
    by: Resolver,
) -> Result<Resolution> {
    let (conflict, chosen) =
        match chosen_side(store, caller, id, choice, ConflictKind::Preference, "set").await? {
            Ok(found) => found,
            Err(refused) => return Ok(refused),
        };
    let now = Utc::now();
    let transaction = store.db.begin().await?;
    crate::store::changes::record(&transaction, store.origin, &[caller.identity_id]).await?;
    let mut holders: Vec<&PreferenceRecord> = state
        .preferences
        .iter()
        .filter(|record| record.key == conflict.key)
        .collect();
    let own = PreferenceRecord {
        account_id: caller.id,
        key: conflict.key.clone(),
        value: String::new(),
        version: 0,
        updated_at: now,
        updated_by_platform: caller.platform.as_str().to_string(),
    };
    if !holders.iter().any(|record| record.account_id == caller.id) {
        holders.push(&own);
    }
    for record in holders {
        preference::Entity::insert(preference::ActiveModel {
            account_id: Set(record.account_id.into()),
            key: Set(conflict.key.clone()),
            value: Set(chosen.clone()),
            version: Set(record.version + 1),
            updated_at: Set(now),
            updated_by_platform: Set(caller.platform.as_str().to_string()),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::columns([preference::Column::AccountId, preference::Column::Key])
                .update_columns([
                    preference::Column::Value,
                    preference::Column::Version,
                    preference::Column::UpdatedAt,
                    preference::Column::UpdatedByPlatform,
                ])
                .to_owned(),
        )
        .exec_without_returning(&transaction)
        .await?;
    }
    let resolution = match by {
        Resolver::Person => format!("you chose `{chosen}` (#{id})"),
        Resolver::Admin => format!("an admin chose `{chosen}` (#{id})"),
    };
    let closed = close_open(&transaction, &conflict, resolution, now).await?;
    transaction.commit().await?;
    store.invalidate_identities(&[caller.identity_id]).await;
    let others = closed.saturating_sub(1);
    let whose = match by {
        Resolver::Person => "your",
        Resolver::Admin => "their",
    };
    let also = if others > 0 {
        format!(" ({others} other open conflict(s) on it closed too)")
    } else {
        String::new()
    };
    Ok(Resolution {
        done: true,
        text: format!(
            "Done: `{}` is now `{chosen}` on all {whose} linked accounts{also}.",
            conflict.key
        ),
    })
}

/// Maps an open conflict row for the hot state.
pub fn open_conflict(row: &sync_conflict::Model) -> OpenConflict {
    OpenConflict {
        id: row.id,
        key: row.key.clone(),
        kept_value: row.kept_value.clone(),
        kept_platform: row.kept_platform.clone(),
    }
}

pub fn strategy_name(settings: &Settings) -> &'static str {
    match settings.conflict_resolution_strategy {
        ConflictStrategy::LatestWins => "latest_wins",
        ConflictStrategy::PlatformPriority => "platform_priority",
        ConflictStrategy::Manual => "manual",
    }
}
