//! Account rows: finding an account, the accounts of an identity, and the one mapping of a stored
//! row to [`AccountInfo`] (used by the core and the dashboard alike).

use crate::store::entities::platform_account;
use crate::store::hot::AccountInfo;
use crate::store::ids::IdentityId;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use whisperengine_contract::{Platform, PlatformAccount};

impl From<platform_account::Model> for AccountInfo {
    fn from(row: platform_account::Model) -> AccountInfo {
        AccountInfo {
            id: row.id.into(),
            identity_id: row.identity_id.into(),
            platform: row.platform.parse().unwrap_or(Platform::Desktop),
            scope: row.scope,
            user_id: row.user_id,
            display_name: row.display_name,
        }
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
) -> Result<Option<AccountInfo>, DbErr> {
    let row = platform_account::Entity::find()
        .filter(platform_account::Column::Platform.eq(account.platform.as_str()))
        .filter(platform_account::Column::Scope.eq(account.scope.as_str()))
        .filter(platform_account::Column::UserId.eq(account.user_id.as_str()))
        .one(db)
        .await?;
    Ok(row.map(AccountInfo::from))
}

/// Every account pointing at the identity, oldest first.
pub async fn linked_accounts(
    db: &impl ConnectionTrait,
    identity_id: IdentityId,
) -> Result<Vec<AccountInfo>, DbErr> {
    let rows = platform_account::Entity::find()
        .filter(platform_account::Column::IdentityId.eq(identity_id))
        .order_by_asc(platform_account::Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(AccountInfo::from).collect())
}
