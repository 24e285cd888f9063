//! Preferences and sharing settings, stored per origin account and read through the identity.
//! When linked accounts hold different values for one key, CONFLICT_RESOLUTION_STRATEGY decides which
//! one is in effect; a concurrent edit (two platforms within SETTINGS_SYNC_INTERVAL) is recorded in
//! `sync_conflict` with how it was resolved.

use crate::config::{ConflictStrategy, Settings, SyncCategory};
use crate::core::Result;
use crate::store::entities::{preference, sync_conflict};
use crate::store::hot::{AccountInfo, IdentityHot, PreferenceRecord};
use crate::store::Store;
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
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

/// The record in effect for one key among several accounts' records.
fn winner<'a>(
    settings: &Settings,
    records: &[&'a PreferenceRecord],
) -> Option<&'a PreferenceRecord> {
    match settings.conflict_resolution_strategy {
        ConflictStrategy::PlatformPriority => records.iter().copied().min_by(|a, b| {
            platform_rank(settings, &a.updated_by_platform)
                .cmp(&platform_rank(settings, &b.updated_by_platform))
                .then(b.updated_at.cmp(&a.updated_at))
        }),
        // Manual keeps the value set first until the person chooses; latest_wins the newest.
        ConflictStrategy::Manual => records.iter().copied().min_by_key(|r| r.updated_at),
        ConflictStrategy::LatestWins => records.iter().copied().max_by_key(|r| r.updated_at),
    }
}

/// Effective preferences of an identity (key → (value, platform it was set on)), including privacy keys.
pub fn effective(settings: &Settings, state: &IdentityHot) -> BTreeMap<String, (String, String)> {
    let mut by_key: BTreeMap<&str, Vec<&PreferenceRecord>> = BTreeMap::new();
    for record in &state.preferences {
        by_key.entry(record.key.as_str()).or_default().push(record);
    }
    by_key
        .into_iter()
        .filter_map(|(key, records)| {
            winner(settings, &records).map(|r| {
                (
                    key.to_string(),
                    (r.value.clone(), r.updated_by_platform.clone()),
                )
            })
        })
        .collect()
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
    let row = preference::ActiveModel {
        account_id: Set(caller.id),
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
        .exec_without_returning(&store.db)
        .await?;
    let window = chrono::Duration::from_std(settings.settings_sync_interval)
        .unwrap_or_else(|_| chrono::Duration::seconds(300));
    let concurrent = state.preferences.iter().find(|r| {
        r.account_id != caller.id && r.key == key && r.value != value && now - r.updated_at < window
    });
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
        let records = [&mine, other];
        let kept = winner(settings, &records).unwrap_or(&mine);
        let dropped = if kept.account_id == mine.account_id {
            other
        } else {
            &mine
        };
        let is_open = settings.conflict_resolution_strategy == ConflictStrategy::Manual
            || !settings.auto_resolve_conflicts;
        sync_conflict::ActiveModel {
            identity_id: Set(caller.identity_id),
            kind: Set("preference".into()),
            key: Set(key.to_string()),
            kept_value: Set(kept.value.clone()),
            other_value: Set(dropped.value.clone()),
            kept_platform: Set(kept.updated_by_platform.clone()),
            other_platform: Set(dropped.updated_by_platform.clone()),
            strategy: Set(strategy_name(settings).into()),
            status: Set(if is_open { "open" } else { "resolved" }.into()),
            resolution: Set(
                (!is_open).then(|| format!("kept the value set on {}", kept.updated_by_platform))
            ),
            created_at: Set(now),
            resolved_at: Set((!is_open).then_some(now)),
            ..Default::default()
        }
        .insert(&store.db)
        .await?;
        metrics::counter!("whisperengine_sync_conflicts_total", "kind" => "preference")
            .increment(1);
        let other_platform = other
            .updated_by_platform
            .parse::<Platform>()
            .map_or(other.updated_by_platform.clone(), |p| {
                p.display_name().to_string()
            });
        note = Some(format!(
            "You changed `{key}` on {other_platform} moments ago too; `{}` is in effect ({}).",
            kept.value,
            strategy_name(settings)
        ));
    }
    crate::core::identity::invalidate(store, &[caller.identity_id]).await;
    Ok(note)
}

pub fn strategy_name(settings: &Settings) -> &'static str {
    match settings.conflict_resolution_strategy {
        ConflictStrategy::LatestWins => "latest_wins",
        ConflictStrategy::PlatformPriority => "platform_priority",
        ConflictStrategy::Manual => "manual",
    }
}
