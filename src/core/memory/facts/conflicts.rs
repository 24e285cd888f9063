//! Settling an open fact conflict: under the manual strategy (or AUTO_RESOLVE_CONFLICTS=false) two
//! platforms' statements of one fact both stay current, and the companion says it is unsure, until
//! the person (`conflicts resolve <id> 1|2`) or an operator chooses; the other statement then
//! becomes history, superseded by the chosen one.

use super::store::keep_chosen;
use crate::core::privacy::preferences::{chosen_side, close_open, Resolution, Resolver};
use crate::core::Result;
use crate::store::hot::{AccountInfo, IdentityHot};
use crate::store::kinds::ConflictKind;
use crate::store::Store;
use chrono::Utc;
use sea_orm::TransactionTrait;

/// Resolves open fact conflict `id` of the caller's identity with the choice made (`1`, `2`, a
/// platform or one of the two values), like a preference conflict is resolved.
pub async fn resolve(
    store: &Store,
    caller: &AccountInfo,
    state: &IdentityHot,
    id: i64,
    choice: &str,
    by: Resolver,
) -> Result<Resolution> {
    let (conflict, chosen) =
        match chosen_side(store, caller, id, choice, ConflictKind::Fact, "told").await? {
            Ok(found) => found,
            Err(refused) => return Ok(refused),
        };
    let now = Utc::now();
    let accounts: Vec<_> = state.accounts.iter().map(|account| account.id).collect();
    let transaction = store.db.begin().await?;
    crate::store::changes::record(&transaction, store.origin, &[caller.identity_id]).await?;
    keep_chosen(
        &transaction,
        store.cipher.as_deref(),
        &accounts,
        &conflict.key,
        &chosen,
        now,
    )
    .await?;
    let resolution = match by {
        Resolver::Person => {
            format!("you chose one statement (#{id}); the other is kept as history")
        }
        Resolver::Admin => {
            format!("an admin chose one statement (#{id}); the other is kept as history")
        }
    };
    close_open(&transaction, &conflict, resolution, now).await?;
    transaction.commit().await?;
    store.invalidate_identities(&[caller.identity_id]).await;
    let whose = match by {
        Resolver::Person => "I'll go with",
        Resolver::Admin => "Their fact is now",
    };
    Ok(Resolution {
        done: true,
        text: format!(
            "Done: {whose} `{chosen}` ({}).",
            readable_key(&conflict.key)
        ),
    })
}

/// `sister.location` → "sister's location", `self.job` → "job".
fn readable_key(key: &str) -> String {
    match key.split_once('.') {
        Some(("user", attribute)) => attribute.to_string(),
        Some((subject, attribute)) => format!("{subject}'s {attribute}"),
        None => key.to_string(),
    }
}
