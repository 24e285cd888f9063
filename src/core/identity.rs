//! Accounts and identities: every platform account starts with its own identity; linking points
//! accounts at one identity. Also loads an identity's hot state from SQL.

use crate::core::Result;
use crate::store::entities::{
    emotion_observation, emotional_state, identity, memory, platform_account, preference,
    sync_conflict,
};
use crate::store::hot::{
    AccountInfo, IdentityHot, Lookup, PreferenceRecord, TurnRecord, RECALL_WINDOW, RECENT_TURNS,
};
use crate::store::Store;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use uuid::Uuid;
use whisperengine_contract::{Platform, PlatformAccount, Visibility};

/// Maps a stored account row.
pub fn account_info(row: platform_account::Model) -> AccountInfo {
    AccountInfo {
        id: row.id,
        identity_id: row.identity_id,
        platform: row.platform.parse().unwrap_or(Platform::Desktop),
        scope: row.scope,
        user_id: row.user_id,
        display_name: row.display_name,
    }
}

/// The account as written in commands (`slack:T1/U1`).
pub fn account_label(account: &AccountInfo) -> String {
    PlatformAccount::new(account.platform, &account.scope, &account.user_id).to_string()
}

/// Finds an account without creating it.
pub async fn find_account(
    db: &impl ConnectionTrait,
    account: &PlatformAccount,
) -> Result<Option<AccountInfo>> {
    let row = platform_account::Entity::find()
        .filter(platform_account::Column::Platform.eq(account.platform.as_str()))
        .filter(platform_account::Column::Scope.eq(account.scope.as_str()))
        .filter(platform_account::Column::UserId.eq(account.user_id.as_str()))
        .one(db)
        .await?;
    Ok(row.map(account_info))
}

/// The account's row, created (with a fresh identity of its own) on first contact.
pub async fn resolve_account(store: &Store, account: &PlatformAccount) -> Result<AccountInfo> {
    if let Some(known) = store
        .hot
        .account(account.platform, &account.scope, &account.user_id)
    {
        return Ok(known);
    }
    let info = match find_account(&store.db, account).await? {
        Some(found) => {
            if account.display_name.is_some() && found.display_name != account.display_name {
                platform_account::ActiveModel {
                    id: Set(found.id),
                    display_name: Set(account.display_name.clone()),
                    ..Default::default()
                }
                .update(&store.db)
                .await?;
            }
            AccountInfo {
                display_name: account.display_name.clone().or(found.display_name),
                ..found
            }
        }
        None => match create_account(store, account).await {
            Ok(created) => created,
            // Another task or process created it at the same moment: use theirs.
            Err(_) => find_account(&store.db, account).await?.ok_or_else(|| {
                crate::core::CoreError::Unexpected(format!("cannot create account {account}"))
            })?,
        },
    };
    store.hot.remember_account(info.clone());
    Ok(info)
}

async fn create_account(store: &Store, account: &PlatformAccount) -> Result<AccountInfo> {
    let now = Utc::now();
    let transaction = store.db.begin().await?;
    let identity_id = Uuid::new_v4();
    identity::ActiveModel {
        id: Set(identity_id),
        created_at: Set(now),
        isolated: Set(false),
    }
    .insert(&transaction)
    .await?;
    let row = platform_account::ActiveModel {
        identity_id: Set(identity_id),
        platform: Set(account.platform.as_str().to_string()),
        scope: Set(account.scope.clone()),
        user_id: Set(account.user_id.clone()),
        display_name: Set(account.display_name.clone()),
        created_at: Set(now),
        linked_at: Set(None),
        linked_by: Set(None),
        ..Default::default()
    }
    .insert(&transaction)
    .await?;
    transaction.commit().await?;
    tracing::debug!(identity = %identity_id, platform = %account.platform, "new identity");
    Ok(account_info(row))
}

/// Every account pointing at the identity, oldest first.
pub async fn linked_accounts(
    db: &impl ConnectionTrait,
    identity_id: Uuid,
) -> Result<Vec<AccountInfo>> {
    let rows = platform_account::Entity::find()
        .filter(platform_account::Column::IdentityId.eq(identity_id))
        .order_by_asc(platform_account::Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(account_info).collect())
}

/// Maps a stored memory row to a hot turn.
pub fn turn_record(row: &memory::Model) -> TurnRecord {
    TurnRecord {
        memory_id: Some(row.id),
        terms: crate::core::recall::index_terms(&row.content),
        last_recalled_at: row.last_recalled_at,
        account_id: row.account_id,
        is_user: row.role == "user",
        content: row.content.clone(),
        platform: row.platform.parse().unwrap_or(Platform::Desktop),
        scope: row.scope.clone(),
        visibility: Visibility::parse(&row.visibility).unwrap_or(Visibility::Private),
        importance: row.importance,
        emotion: row.emotion.clone(),
        created_at: row.created_at,
    }
}

/// A stored memory as a hot turn, its content decrypted when DATA_ENCRYPTION_KEY is set.
fn readable_turn(store: &Store, row: &memory::Model) -> TurnRecord {
    let mut turn = turn_record(row);
    if store.cipher.is_some() {
        turn.content = crate::store::crypto::readable(store.cipher.as_deref(), &turn.content);
        // The recall index is built from what was said, not from its ciphertext.
        turn.terms = crate::core::recall::index_terms(&turn.content);
    }
    turn
}

/// Builds an identity's hot state from SQL.
pub async fn load_identity(store: &Store, identity_id: Uuid) -> Result<IdentityHot> {
    let db = &store.db;
    // Independent reads run at once on the pool: a cold identity costs one round of queries, not nine.
    let (accounts, isolated, open_conflicts, emotion) = tokio::try_join!(
        linked_accounts(db, identity_id),
        crate::core::isolation::is_isolated(db, identity_id),
        async {
            Ok(sync_conflict::Entity::find()
                .filter(sync_conflict::Column::IdentityId.eq(identity_id))
                .filter(sync_conflict::Column::Status.eq("open"))
                .filter(sync_conflict::Column::Kind.eq("preference"))
                .order_by_asc(sync_conflict::Column::Id)
                .all(db)
                .await?
                .iter()
                .map(crate::core::preferences::open_conflict)
                .collect())
        },
        async {
            Ok::<_, crate::core::CoreError>(
                emotional_state::Entity::find_by_id(identity_id)
                    .one(db)
                    .await?
                    .map(crate::core::emotion::snapshot_of),
            )
        },
    )?;
    let account_ids: Vec<i64> = accounts.iter().map(|account| account.id).collect();
    let mut state = IdentityHot {
        accounts,
        isolated,
        open_conflicts,
        emotion,
        loaded_at: Some(std::time::Instant::now()),
        ..IdentityHot::default()
    };
    if account_ids.is_empty() {
        return Ok(state);
    }
    let (mut recent, mut recallable, facts, mut observations, preferences) = tokio::try_join!(
        async {
            Ok(memory::Entity::find()
                .filter(memory::Column::AccountId.is_in(account_ids.clone()))
                .order_by_desc(memory::Column::Id)
                .limit(RECENT_TURNS as u64)
                .all(db)
                .await?)
        },
        async {
            Ok(memory::Entity::find()
                .filter(memory::Column::AccountId.is_in(account_ids.clone()))
                .filter(memory::Column::Role.eq("user"))
                .order_by_desc(memory::Column::Id)
                .limit(RECALL_WINDOW as u64)
                .all(db)
                .await?)
        },
        crate::core::facts::load_current(db, store.cipher.as_deref(), &account_ids),
        async {
            Ok(emotion_observation::Entity::find()
                .filter(emotion_observation::Column::AccountId.is_in(account_ids.clone()))
                .order_by_desc(emotion_observation::Column::Id)
                .limit(crate::core::emotion::MAX_OBSERVATIONS as u64)
                .all(db)
                .await?)
        },
        async {
            Ok::<_, crate::core::CoreError>(
                preference::Entity::find()
                    .filter(preference::Column::AccountId.is_in(account_ids.clone()))
                    .all(db)
                    .await?,
            )
        },
    )?;
    recent.reverse();
    state.recent = recent.iter().map(|row| readable_turn(store, row)).collect();
    recallable.reverse();
    state.recallable = recallable
        .iter()
        .map(|row| readable_turn(store, row))
        .collect();
    state.facts = facts;
    observations.reverse();
    state.observations = observations
        .iter()
        .map(crate::core::emotion::Observation::from_row)
        .collect();
    state.preferences = preferences
        .into_iter()
        .map(|row| PreferenceRecord {
            account_id: row.account_id,
            key: row.key,
            value: row.value,
            version: row.version,
            updated_at: row.updated_at,
            updated_by_platform: row.updated_by_platform,
        })
        .collect();
    Ok(state)
}

/// The identity's hot state, loaded from SQL when not cached. Call with the identity lock held.
pub async fn hot_identity(store: &Store, identity_id: Uuid) -> Result<IdentityHot> {
    let unsaved_emotion = match store.hot.fresh_identity(identity_id) {
        Lookup::Fresh(state) => return Ok(state),
        Lookup::Stale(emotion) => emotion,
        Lookup::Missing => None,
    };
    let generation = store.hot.generation();
    let mut state = load_identity(store, identity_id).await?;
    if let Some(emotion) = unsaved_emotion {
        // Newer than what SQL has: it is written on the next flush.
        state.emotion = Some(emotion);
        state.emotion_dirty = true;
    }
    match store
        .hot
        .insert_identity_if_current(identity_id, state.clone(), generation)
    {
        Ok(Some((evicted, evicted_state))) => {
            if let Some(snapshot) = evicted_state.emotion {
                crate::core::emotion::save_state(store, evicted, &snapshot).await?;
            }
        }
        Ok(None) => {}
        // An invalidation arrived while this was read: serve it to this request, cache nothing.
        Err(uncached) => {
            if let Some(snapshot) = uncached.emotion.filter(|_| uncached.emotion_dirty) {
                crate::core::emotion::save_state(store, identity_id, &snapshot).await?;
            }
        }
    }
    Ok(state)
}

/// Drops cached state of identities whose accounts changed, here and in other processes.
pub async fn invalidate(store: &Store, identities: &[Uuid]) {
    for identity in identities {
        if let Some(state) = store.hot.invalidate_identity(*identity) {
            if let Some(snapshot) = state.emotion {
                if let Err(error) =
                    crate::core::emotion::save_state(store, *identity, &snapshot).await
                {
                    tracing::warn!(%error, "could not save emotion state of an invalidated identity");
                }
            }
        }
        if let Some(cache) = &store.cache {
            if let Err(error) = cache.publish_invalidation(Some(*identity)).await {
                tracing::debug!(%error, "invalidation not published; other processes refresh on their interval");
            }
        }
    }
}
