//! Accounts and identities: every platform account starts with its own identity; linking points
//! accounts at one identity. Also keeps an identity's hot state.
//!
//! - [`hot_load`]: loading a cold identity's hot state from SQL in one round of reads.
//! - [`linking`]: one-time link codes, linking and unlinking (by users and admins).

pub mod hot_load;
pub mod linking;

use crate::core::Result;
use crate::store::entities::{identity, platform_account};
use crate::store::hot::{AccountInfo, IdentityHot, Lookup};
use crate::store::Store;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use uuid::Uuid;
use whisperengine_contract::{Platform, PlatformAccount};

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

/// Builds an identity's hot state from SQL (see [`crate::core::identity::hot_load`]).
pub use crate::core::identity::hot_load::load_identity;

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
