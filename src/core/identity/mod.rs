//! Accounts and identities: every platform account starts with its own identity; linking points
//! accounts at one identity. Also keeps an identity's hot state.
//!
//! - [`hot_load`]: loading a cold identity's hot state from SQL in one round of reads.
//! - [`linking`]: one-time link codes, linking and unlinking (by users and admins).

pub mod hot_load;
pub mod linking;

use crate::core::Result;
use crate::store::accounts;
use crate::store::entities::{identity, platform_account};
use crate::store::hot::{AccountInfo, IdentityHot, Lookup};
use crate::store::ids::IdentityId;
use crate::store::Store;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, Set};
use whisperengine_contract::PlatformAccount;

/// The account's row, created (with a fresh identity of its own) on first contact.
pub async fn resolve_account(store: &Store, account: &PlatformAccount) -> Result<AccountInfo> {
    Ok(resolve_account_noting_creation(store, account).await?.0)
}

/// [`resolve_account`], with the hot layer's generation read before the account was created when
/// this call created it (for [`make_new_identity_hot`]), `None` when it existed.
pub async fn resolve_account_noting_creation(
    store: &Store,
    account: &PlatformAccount,
) -> Result<(AccountInfo, Option<u64>)> {
    if let Some(known) = store
        .hot
        .account(account.platform, &account.scope, &account.user_id)
    {
        return Ok((known, None));
    }
    let mut created = None;
    let info = match accounts::find_account(&store.db, account).await? {
        Some(found) => {
            if account.display_name.is_some() && found.display_name != account.display_name {
                platform_account::ActiveModel {
                    id: Set(found.id.into()),
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
            Ok((info, generation)) => {
                created = Some(generation);
                info
            }
            // Another task or process created it at the same moment: use theirs.
            Err(_) => accounts::find_account(&store.db, account)
                .await?
                .ok_or_else(|| {
                    crate::core::CoreError::Unexpected(format!("cannot create account {account}"))
                })?,
        },
    };
    store.hot.remember_account(info.clone());
    Ok((info, created))
}

/// Creates the account with a fresh identity of its own, through the group-commit writer (one
/// transaction shared with the other writes queued at that moment). Returns it with the hot
/// layer's generation read before.
async fn create_account(store: &Store, account: &PlatformAccount) -> Result<(AccountInfo, u64)> {
    let now = Utc::now();
    let identity_id = IdentityId::random();
    let generation = store.hot.generation();
    let identity_row = identity::ActiveModel {
        id: Set(identity_id.into()),
        created_at: Set(now),
        isolated: Set(false),
    };
    let row = platform_account::ActiveModel {
        identity_id: Set(identity_id.into()),
        platform: Set(account.platform.as_str().to_string()),
        scope: Set(account.scope.clone()),
        user_id: Set(account.user_id.clone()),
        display_name: Set(account.display_name.clone()),
        created_at: Set(now),
        linked_at: Set(None),
        linked_by: Set(None),
        ..Default::default()
    };
    let row = store.writer.create_account(identity_row, row).await?;
    tracing::debug!(identity = %identity_id, platform = %account.platform, "new identity");
    Ok((AccountInfo::from(row), generation))
}

/// Makes the identity of an account just created hot without reading it from SQL: it has nothing
/// stored yet, so only the host-wide isolation is read. Call with the identity lock held, in place
/// of the first [`hot_identity`]; `generation` is what [`resolve_account_noting_creation`]
/// returned, so a change made since (an invalidation) leaves the state to be read from SQL.
pub async fn make_new_identity_hot(
    store: &Store,
    info: &AccountInfo,
    generation: u64,
) -> Result<()> {
    let identity_id = info.identity_id;
    if store.hot.contains_identity(identity_id) {
        // Another message of the same new person came first and holds it already.
        return Ok(());
    }
    let fresh = IdentityHot {
        accounts: vec![info.clone()],
        isolated: crate::core::privacy::isolation::is_host_isolated(&store.db).await?,
        loaded_at: Some(std::time::Instant::now()),
        ..IdentityHot::default()
    };
    // Cached only if no invalidation arrived meanwhile (then the next message reads SQL).
    if let Ok(Some((evicted, evicted_state))) =
        store
            .hot
            .insert_identity_if_current(identity_id, fresh, generation)
    {
        if let Some(snapshot) = evicted_state.emotion {
            store.save_emotion_state(evicted, &snapshot).await?;
        }
    }
    Ok(())
}

/// Builds an identity's hot state from SQL (see [`crate::core::identity::hot_load`]).
pub use crate::core::identity::hot_load::load_identity;

/// The identity's hot state, loaded from SQL when not cached. Call with the identity lock held.
pub async fn hot_identity(store: &Store, identity_id: IdentityId) -> Result<IdentityHot> {
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
                store.save_emotion_state(evicted, &snapshot).await?;
            }
        }
        Ok(None) => {}
        // An invalidation arrived while this was read: serve it to this request, cache nothing.
        Err(uncached) => {
            if let Some(snapshot) = uncached.emotion.filter(|_| uncached.emotion_dirty) {
                store.save_emotion_state(identity_id, &snapshot).await?;
            }
        }
    }
    Ok(state)
}
