//! Linking accounts into one identity: one-time codes for people, direct links for admins, and
//! unlinking. Data stays stored against its origin account and is read through the identity, so a
//! link moves no data and an unlink is exact: the account takes its own history with it.
//!
//! Over 500 lines: the three ways accounts are joined and parted share one set of checks (limits,
//! isolation, audit) that reads best in one place.

use crate::core::privacy::audit::{self, AuditEntry};
use crate::core::{emotion, Result};
use crate::store::accounts::{self, account_label};
use crate::store::entities::{
    identity as identity_entity, link_attempt, link_code, platform_account,
};
use crate::store::hot::AccountInfo;
use crate::store::ids::{AccountId, IdentityId};
use crate::store::kinds::AuditOutcome;
use crate::store::Store;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set, TransactionTrait,
};
use sha2::{Digest, Sha256};
use std::fmt;

/// Characters of a link code: no 0/O, 1/I/L, so codes survive being read aloud or retyped.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const CODE_LENGTH: usize = 10;
pub const CODE_TTL_MINUTES: i64 = 10;
/// Wrong codes allowed per account per hour before further attempts are refused.
pub const MAX_FAILED_ATTEMPTS_PER_HOUR: u64 = 5;

/// A one-time link code, normalised (upper case, no spaces or dashes). Shown as `ABCD-EF2345`
/// ([`fmt::Display`]); only its hash is stored, and it never appears in debug output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkCode(String);

impl LinkCode {
    /// A new random code over the unambiguous alphabet.
    fn generate() -> LinkCode {
        let mut rng = rand::thread_rng();
        LinkCode(
            (0..CODE_LENGTH)
                .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
                .collect(),
        )
    }

    /// Reads a typed code: any case, spaces and dashes ignored.
    pub fn from_typed(text: &str) -> LinkCode {
        LinkCode(
            text.chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .flat_map(char::to_uppercase)
                .collect(),
        )
    }

    /// The normalised code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What is stored instead of the code.
    fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl fmt::Display for LinkCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.get(..4).zip(self.0.get(4..)) {
            Some((head, tail)) if !tail.is_empty() => write!(f, "{head}-{tail}"),
            _ => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for LinkCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkCode(…)")
    }
}

/// A freshly issued code (shown once; only its hash is stored).
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub code: LinkCode,
    pub expires_at: DateTime<Utc>,
}

/// Why a link was refused; the text is what the person is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    #[error("That code is not valid. Check it and try again (codes look like `ABCD-EF2345`).")]
    UnknownCode,
    #[error("That code has expired. Ask for a new one with `link start` on your other account.")]
    Expired,
    #[error("That code was already used. Ask for a new one with `link start`.")]
    AlreadyUsed,
    #[error("That code was issued to this same account. Use it from your *other* account.")]
    SameAccount,
    #[error("These accounts are already linked.")]
    AlreadyLinked,
    #[error("Both accounts are on {0}. Two accounts of the same workspace can only be linked by an admin.")]
    SamePlatformScope(String),
    #[error("Too many wrong codes. For your safety, linking from this account is paused for up to an hour.")]
    TooManyAttempts,
    #[error("Linking is paused for this identity by an administrator.")]
    Isolated,
    #[error("There is nothing linked on {0} to unlink.")]
    NothingToUnlink(String),
}

/// The result of a link attempt.
pub type LinkResult<T> = std::result::Result<T, LinkRefusal>;

/// Issues a one-time code for `issuer`. Earlier unused codes of the same account stop working.
pub async fn start(store: &Store, issuer: &AccountInfo) -> Result<IssuedCode> {
    let now = Utc::now();
    let code = LinkCode::generate();
    let expires_at = now + Duration::minutes(CODE_TTL_MINUTES);
    let transaction = store.db.begin().await?;
    link_code::Entity::delete_many()
        .filter(link_code::Column::AccountId.eq(issuer.id))
        .filter(link_code::Column::UsedAt.is_null())
        .exec(&transaction)
        .await?;
    link_code::ActiveModel {
        code_hash: Set(code.hash()),
        account_id: Set(issuer.id.into()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
        used_by_account_id: Set(None),
        ..Default::default()
    }
    .insert(&transaction)
    .await?;
    audit::record(
        &transaction,
        AuditEntry {
            actor: &account_label(issuer),
            actor_platform: issuer.platform.as_str(),
            action: "link.start",
            target: None,
            outcome: AuditOutcome::Ok,
            detail: None,
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(IssuedCode { code, expires_at })
}

async fn failed_attempts_last_hour(store: &Store, account: &AccountInfo) -> Result<u64> {
    Ok(link_attempt::Entity::find()
        .filter(link_attempt::Column::AccountId.eq(account.id))
        .filter(link_attempt::Column::Succeeded.eq(false))
        .filter(link_attempt::Column::CreatedAt.gt(Utc::now() - Duration::hours(1)))
        .count(&store.db)
        .await?)
}

async fn record_attempt(store: &Store, account: &AccountInfo, succeeded: bool) -> Result<()> {
    link_attempt::ActiveModel {
        account_id: Set(account.id.into()),
        succeeded: Set(succeeded),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&store.db)
    .await?;
    Ok(())
}

async fn refuse(
    store: &Store,
    actor: &AccountInfo,
    action: &str,
    target: Option<&str>,
    refusal: LinkRefusal,
) -> Result<LinkResult<IdentityId>> {
    audit::record(
        &store.db,
        AuditEntry {
            actor: &account_label(actor),
            actor_platform: actor.platform.as_str(),
            action,
            target,
            outcome: AuditOutcome::Refused,
            detail: Some(format!("{refusal:?}")),
        },
    )
    .await?;
    metrics::counter!(crate::telemetry::names::LINKS, "outcome" => "refused").increment(1);
    Ok(Err(refusal))
}

async fn is_isolated(store: &Store, identity_id: IdentityId) -> Result<bool> {
    crate::core::privacy::isolation::is_isolated(&store.db, identity_id).await
}

/// Redeems a code typed on `redeemer`'s account: joins the redeemer's identity to the issuer's.
pub async fn redeem(
    store: &Store,
    redeemer: &AccountInfo,
    typed: &str,
) -> Result<LinkResult<IdentityId>> {
    if failed_attempts_last_hour(store, redeemer).await? >= MAX_FAILED_ATTEMPTS_PER_HOUR {
        return refuse(store, redeemer, "link", None, LinkRefusal::TooManyAttempts).await;
    }
    let code = LinkCode::from_typed(typed);
    let row = link_code::Entity::find()
        .filter(link_code::Column::CodeHash.eq(code.hash()))
        .one(&store.db)
        .await?;
    let refusal = match &row {
        None => Some(LinkRefusal::UnknownCode),
        Some(row) if row.used_at.is_some() => Some(LinkRefusal::AlreadyUsed),
        Some(row) if row.expires_at <= Utc::now() => Some(LinkRefusal::Expired),
        Some(row) if AccountId::from(row.account_id) == redeemer.id => {
            Some(LinkRefusal::SameAccount)
        }
        Some(_) => None,
    };
    let row = match (refusal, row) {
        (None, Some(row)) => row,
        (refusal, _) => {
            let refusal = refusal.unwrap_or(LinkRefusal::UnknownCode);
            // Only guesses count towards the limit; a stale or misdirected code is not an attack.
            if refusal == LinkRefusal::UnknownCode {
                record_attempt(store, redeemer, false).await?;
            }
            return refuse(store, redeemer, "link", None, refusal).await;
        }
    };
    let Some(issuer) = platform_account::Entity::find_by_id(row.account_id)
        .one(&store.db)
        .await?
        .map(AccountInfo::from)
    else {
        return refuse(store, redeemer, "link", None, LinkRefusal::UnknownCode).await;
    };
    let issuer_label = account_label(&issuer);
    if let Some(refusal) = link_blocker(store, &issuer, redeemer).await? {
        return refuse(store, redeemer, "link", Some(&issuer_label), refusal).await;
    }
    if let Some(clash) =
        platform_scope_clash(store, issuer.identity_id, redeemer.identity_id).await?
    {
        return refuse(
            store,
            redeemer,
            "link",
            Some(&issuer_label),
            LinkRefusal::SamePlatformScope(clash),
        )
        .await;
    }
    // Single use, even under a race: only the first update of an unused code counts.
    let claimed = link_code::Entity::update_many()
        .col_expr(
            link_code::Column::UsedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .col_expr(
            link_code::Column::UsedByAccountId,
            sea_orm::sea_query::Expr::value(redeemer.id),
        )
        .filter(link_code::Column::Id.eq(row.id))
        .filter(link_code::Column::UsedAt.is_null())
        .exec(&store.db)
        .await?;
    if claimed.rows_affected == 0 {
        return refuse(
            store,
            redeemer,
            "link",
            Some(&issuer_label),
            LinkRefusal::AlreadyUsed,
        )
        .await;
    }
    record_attempt(store, redeemer, true).await?;
    let survivor = merge(store, redeemer, &issuer, redeemer, "link").await?;
    Ok(Ok(survivor))
}

/// Links two accounts directly (admins): `second`'s identity joins `first`'s. Same platform and
/// scope is allowed here: an admin may know two accounts are one person.
pub async fn admin_link(
    store: &Store,
    actor: &AccountInfo,
    first: &AccountInfo,
    second: &AccountInfo,
) -> Result<LinkResult<IdentityId>> {
    let target = format!("{} {}", account_label(first), account_label(second));
    if let Some(refusal) = link_blocker(store, first, second).await? {
        return refuse(store, actor, "admin.link", Some(&target), refusal).await;
    }
    let survivor = merge(store, actor, first, second, "admin.link").await?;
    Ok(Ok(survivor))
}

/// Why two accounts cannot be linked whoever asks: already one identity, or either side isolated.
async fn link_blocker(
    store: &Store,
    first: &AccountInfo,
    second: &AccountInfo,
) -> Result<Option<LinkRefusal>> {
    if first.identity_id == second.identity_id {
        return Ok(Some(LinkRefusal::AlreadyLinked));
    }
    if is_isolated(store, first.identity_id).await?
        || is_isolated(store, second.identity_id).await?
    {
        return Ok(Some(LinkRefusal::Isolated));
    }
    Ok(None)
}

/// The platform+scope both identities have an account on, if any.
async fn platform_scope_clash(
    store: &Store,
    a: IdentityId,
    b: IdentityId,
) -> Result<Option<String>> {
    let left = accounts::linked_accounts(&store.db, a).await?;
    let right = accounts::linked_accounts(&store.db, b).await?;
    Ok(left.iter().find_map(|x| {
        right
            .iter()
            .find(|y| x.platform == y.platform && x.scope == y.scope)
            .map(|y| {
                if y.scope.is_empty() {
                    y.platform.display_name().to_string()
                } else {
                    format!("{} ({})", y.platform.display_name(), y.scope)
                }
            })
    }))
}

/// Points every account of `joining`'s identity at `keeper`'s identity, resolves the emotion state
/// of the two histories, drops the emptied identity and writes the audit entry.
async fn merge(
    store: &Store,
    actor: &AccountInfo,
    keeper: &AccountInfo,
    joining: &AccountInfo,
    action: &str,
) -> Result<IdentityId> {
    let survivor = keeper.identity_id;
    let absorbed = joining.identity_id;
    let now = Utc::now();
    let transaction = store.db.begin().await?;
    crate::store::changes::record(&transaction, store.origin, &[survivor, absorbed]).await?;
    crate::core::privacy::preferences::record_link_conflicts(
        &transaction,
        store,
        survivor,
        absorbed,
    )
    .await?;
    platform_account::Entity::update_many()
        .col_expr(
            platform_account::Column::IdentityId,
            sea_orm::sea_query::Expr::value(survivor),
        )
        .col_expr(
            platform_account::Column::LinkedAt,
            sea_orm::sea_query::Expr::value(Some(now)),
        )
        .col_expr(
            platform_account::Column::LinkedBy,
            sea_orm::sea_query::Expr::value(Some(account_label(actor))),
        )
        .filter(platform_account::Column::IdentityId.eq(absorbed))
        .exec(&transaction)
        .await?;
    emotion::merge_states(&transaction, store, survivor, absorbed).await?;
    identity_entity::Entity::delete_by_id(absorbed)
        .exec(&transaction)
        .await?;
    audit::record(
        &transaction,
        AuditEntry {
            actor: &account_label(actor),
            actor_platform: actor.platform.as_str(),
            action,
            target: Some(&format!(
                "{} {}",
                account_label(keeper),
                account_label(joining)
            )),
            outcome: AuditOutcome::Ok,
            detail: None,
        },
    )
    .await?;
    transaction.commit().await?;
    store.invalidate_identities(&[survivor, absorbed]).await;
    metrics::counter!(crate::telemetry::names::LINKS, "outcome" => "linked").increment(1);
    Ok(survivor)
}

/// Gives `account` an identity of its own again (its data goes with it, as it is stored against it).
async fn detach(
    store: &Store,
    actor: &AccountInfo,
    account: &AccountInfo,
    action: &str,
) -> Result<IdentityId> {
    let now = Utc::now();
    let fresh = IdentityId::random();
    let transaction = store.db.begin().await?;
    crate::store::changes::record(&transaction, store.origin, &[account.identity_id, fresh])
        .await?;
    identity_entity::ActiveModel {
        id: Set(fresh.into()),
        created_at: Set(now),
        isolated: Set(false),
    }
    .insert(&transaction)
    .await?;
    platform_account::ActiveModel {
        id: Set(account.id.into()),
        identity_id: Set(fresh.into()),
        linked_at: Set(None),
        linked_by: Set(None),
        ..Default::default()
    }
    .update(&transaction)
    .await?;
    audit::record(
        &transaction,
        AuditEntry {
            actor: &account_label(actor),
            actor_platform: actor.platform.as_str(),
            action,
            target: Some(&account_label(account)),
            outcome: AuditOutcome::Ok,
            detail: None,
        },
    )
    .await?;
    transaction.commit().await?;
    store
        .invalidate_identities(&[account.identity_id, fresh])
        .await;
    metrics::counter!(crate::telemetry::names::LINKS, "outcome" => "unlinked").increment(1);
    Ok(fresh)
}

/// Unlinks the caller's accounts on `platform` from the caller's identity. When the caller names
/// their own platform, the caller's own account leaves the group instead.
pub async fn unlink_platform(
    store: &Store,
    caller: &AccountInfo,
    platform: whisperengine_contract::Platform,
) -> Result<LinkResult<Vec<AccountInfo>>> {
    let accounts = accounts::linked_accounts(&store.db, caller.identity_id).await?;
    let targets: Vec<AccountInfo> = if accounts.len() < 2 {
        Vec::new()
    } else if platform == caller.platform {
        vec![caller.clone()]
    } else {
        accounts
            .into_iter()
            .filter(|account| account.platform == platform)
            .collect()
    };
    if targets.is_empty() {
        let _ = refuse(
            store,
            caller,
            "unlink",
            Some(platform.as_str()),
            LinkRefusal::NothingToUnlink(platform.display_name().to_string()),
        )
        .await?;
        return Ok(Err(LinkRefusal::NothingToUnlink(
            platform.display_name().to_string(),
        )));
    }
    for target in &targets {
        detach(store, caller, target, "unlink").await?;
    }
    Ok(Ok(targets))
}

/// Unlinks one account from whatever identity it shares (admins).
pub async fn admin_unlink(
    store: &Store,
    actor: &AccountInfo,
    account: &AccountInfo,
) -> Result<LinkResult<IdentityId>> {
    let accounts = accounts::linked_accounts(&store.db, account.identity_id).await?;
    if accounts.len() < 2 {
        return refuse(
            store,
            actor,
            "admin.unlink",
            Some(&account_label(account)),
            LinkRefusal::NothingToUnlink(account_label(account)),
        )
        .await;
    }
    Ok(Ok(detach(store, actor, account, "admin.unlink").await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_unambiguous_alphabet() {
        for _ in 0..200 {
            let code = LinkCode::generate();
            let text = code.as_str();
            assert_eq!(text.len(), CODE_LENGTH);
            assert!(text.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{code}");
            assert!(!text.contains(['0', 'O', '1', 'I', 'L']));
        }
    }

    #[test]
    fn typed_codes_are_normalised() {
        assert_eq!(
            LinkCode::from_typed(" abcd-ef23 45 ").as_str(),
            "ABCDEF2345"
        );
        assert_eq!(
            LinkCode::from_typed("ABCDEF2345").to_string(),
            "ABCD-EF2345"
        );
        assert_eq!(
            LinkCode::from_typed("ABCDEF2345").hash(),
            LinkCode::from_typed("abcd-ef2345").hash()
        );
        assert_eq!(
            format!("{:?}", LinkCode::from_typed("ABCDEF2345")),
            "LinkCode(…)"
        );
    }
}
