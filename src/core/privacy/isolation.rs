//! Emergency isolation: `admin isolate <account|identity|all>` stops an identity's data (or every
//! identity's, with `all`) from being read across its linked accounts, and refuses new links, until
//! `admin release …`.
//!
//! The switch lives in SQL (`identity.isolated`, or `host_setting.isolate_all`), so every host process
//! agrees on it; the hot layer caches it inside each identity's state, so a change drops that state
//! here and publishes an invalidation over Redis, and every other process re-reads it from SQL on the
//! next message (within the pub/sub delivery time, well under a second).

use crate::core::privacy::audit::{self, AuditEntry};
use crate::core::Result;
use crate::store::accounts;
use crate::store::entities::{host_setting, identity as identity_entity};
use crate::store::hot::{AccountInfo, IdentityHot};
use crate::store::ids::IdentityId;
use crate::store::kinds::AuditOutcome;
use crate::store::Store;
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set, TransactionTrait};
use std::fmt;
use whisperengine_contract::PlatformAccount;

/// The `host_setting` key of the host-wide isolation switch.
pub const ISOLATE_ALL_KEY: &str = "isolate_all";

/// What `admin isolate` / `admin release` act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsolationTarget {
    /// Every identity of the host.
    All,
    /// One identity, by its UUID (shown by `whoami` and the dashboard).
    Identity(IdentityId),
    /// The identity one account belongs to.
    Account(PlatformAccount),
}

impl IsolationTarget {
    /// Reads `all`, an identity UUID, or an account (`slack:T1/U1`); the error is the usage line.
    pub fn parse(text: &str) -> std::result::Result<IsolationTarget, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("all") {
            return Ok(IsolationTarget::All);
        }
        if let Ok(id) = text.parse::<IdentityId>() {
            return Ok(IsolationTarget::Identity(id));
        }
        text.parse::<PlatformAccount>()
            .map(IsolationTarget::Account)
            .map_err(|error| {
                format!(
                    "{error}. Give `all`, an identity id, or an account like `slack:T0123/U0456`."
                )
            })
    }
}

impl fmt::Display for IsolationTarget {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IsolationTarget::All => formatter.write_str("all"),
            IsolationTarget::Identity(id) => write!(formatter, "identity:{id}"),
            IsolationTarget::Account(account) => write!(formatter, "{account}"),
        }
    }
}

/// Who asks: an account label (`slack:T1/U1`) and its platform, or the CLI operator.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub label: &'a str,
    pub platform: &'a str,
}

impl Actor<'static> {
    /// The operator at the command line.
    pub const OPERATOR: Actor<'static> = Actor {
        label: audit::OPERATOR,
        platform: audit::OPERATOR_PLATFORM,
    };
}

/// Whether `admin isolate all` is in force.
pub async fn is_host_isolated(db: &impl ConnectionTrait) -> Result<bool> {
    Ok(
        host_setting::Entity::find_by_id(ISOLATE_ALL_KEY.to_string())
            .one(db)
            .await?
            .is_some_and(|row| row.value == "on"),
    )
}

/// Whether the identity is isolated, by itself or host-wide.
pub async fn is_isolated(db: &impl ConnectionTrait, identity_id: IdentityId) -> Result<bool> {
    if is_host_isolated(db).await? {
        return Ok(true);
    }
    Ok(identity_entity::Entity::find_by_id(identity_id)
        .one(db)
        .await?
        .is_some_and(|row| row.isolated))
}

/// What a target names in this database.
#[derive(Debug, Clone, Copy)]
enum Resolved {
    Host,
    Identity(IdentityId),
    /// An account this host has never seen.
    Unknown,
}

async fn resolve(store: &Store, target: &IsolationTarget) -> Result<Resolved> {
    Ok(match target {
        IsolationTarget::All => Resolved::Host,
        IsolationTarget::Identity(id) => Resolved::Identity(*id),
        IsolationTarget::Account(account) => accounts::find_account(&store.db, account)
            .await?
            .map_or(Resolved::Unknown, |found| {
                Resolved::Identity(found.identity_id)
            }),
    })
}

/// Isolates (`isolate = true`) or releases the target. Returns the answer to show: `Ok` when done,
/// `Err` when refused (unknown account or identity). Either way it is audited.
pub async fn set_isolation(
    store: &Store,
    actor: Actor<'_>,
    target: &IsolationTarget,
    isolate: bool,
) -> Result<std::result::Result<String, String>> {
    let action = if isolate {
        "admin.isolate"
    } else {
        "admin.release"
    };
    let target_text = target.to_string();
    let resolved = resolve(store, target).await?;
    let outcome = match resolved {
        Resolved::Unknown => Err(format!("I don't know {target_text}: nothing changed.")),
        Resolved::Host => {
            set_host_isolation(store, actor, isolate).await?;
            Ok(if isolate {
                "Isolated the whole host: from the next message on, nothing is read across linked accounts and linking is refused. Undo with `admin release all`.".to_string()
            } else {
                "Released host-wide isolation: sharing follows each person's settings again (identities isolated one by one stay isolated).".to_string()
            })
        }
        Resolved::Identity(id) => match set_identity_isolation(store, id, isolate).await? {
            false => Err(format!("I don't know {target_text}: nothing changed.")),
            true if isolate => Ok(format!(
                "Isolated {target_text}: from the next message on, its data is read only on the account it came from, and linking is refused. Undo with `admin release {target_text}`."
            )),
            true => {
                let note = if is_host_isolated(&store.db).await? {
                    " (Host-wide isolation is still on.)"
                } else {
                    ""
                };
                Ok(format!(
                    "Released {target_text}: its linked accounts share again as their settings allow.{note}"
                ))
            }
        },
    };
    let entry = AuditEntry::new(
        actor.label,
        actor.platform,
        action,
        if outcome.is_ok() {
            AuditOutcome::Ok
        } else {
            AuditOutcome::Refused
        },
    )
    .target(&target_text);
    let entry = match resolved {
        Resolved::Identity(id)
            if outcome.is_ok() && !matches!(target, IsolationTarget::Identity(_)) =>
        {
            entry.detail(format!("identity {id}"))
        }
        _ => entry,
    };
    audit::record(&store.db, entry).await?;
    Ok(outcome)
}

/// Sets the host-wide switch and makes every process drop its hot state.
async fn set_host_isolation(store: &Store, actor: Actor<'_>, isolate: bool) -> Result<()> {
    let transaction = store.db.begin().await?;
    crate::store::changes::record(&transaction, store.origin, &[]).await?;
    host_setting::Entity::insert(host_setting::ActiveModel {
        key: Set(ISOLATE_ALL_KEY.to_string()),
        value: Set(if isolate { "on" } else { "off" }.to_string()),
        updated_at: Set(Utc::now()),
        updated_by: Set(actor.label.to_string()),
    })
    .on_conflict(
        OnConflict::column(host_setting::Column::Key)
            .update_columns([
                host_setting::Column::Value,
                host_setting::Column::UpdatedAt,
                host_setting::Column::UpdatedBy,
            ])
            .to_owned(),
    )
    .exec(&transaction)
    .await?;
    transaction.commit().await?;
    store.hot.clear();
    if let Some(cache) = &store.cache {
        if let Err(error) = cache.publish_invalidation(None).await {
            tracing::warn!(%error, "host isolation not published; other processes see it after MEMORY_SYNC_INTERVAL");
        }
    }
    Ok(())
}

/// Sets one identity's flag; false when there is no such identity.
async fn set_identity_isolation(
    store: &Store,
    identity_id: IdentityId,
    isolate: bool,
) -> Result<bool> {
    let Some(row) = identity_entity::Entity::find_by_id(identity_id)
        .one(&store.db)
        .await?
    else {
        return Ok(false);
    };
    {
        let _guard = store.hot.lock_identity(identity_id).await;
        let mut row: identity_entity::ActiveModel = row.into();
        row.isolated = Set(isolate);
        let transaction = store.db.begin().await?;
        crate::store::changes::record(&transaction, store.origin, &[identity_id]).await?;
        row.update(&transaction).await?;
        transaction.commit().await?;
    }
    store.invalidate_identities(&[identity_id]).await;
    Ok(true)
}

/// What an identity's state looks like from one of its accounts while it is isolated: only what
/// that account itself said, set and felt. Unchanged when the identity is not isolated.
pub fn origin_view(mut state: IdentityHot, account: &AccountInfo) -> IdentityHot {
    if !state.isolated {
        return state;
    }
    state.accounts.retain(|other| other.id == account.id);
    state.recent.retain(|turn| turn.account_id == account.id);
    state
        .recallable
        .retain(|turn| turn.account_id == account.id);
    state
        .preferences
        .retain(|record| record.account_id == account.id);
    state.facts.retain(|fact| fact.account_id == account.id);
    state
        .observations
        .retain(|observation| observation.account_id == account.id);
    if state
        .emotion
        .as_ref()
        .is_some_and(|emotion| emotion.updated_by_account_id != Some(account.id))
    {
        state.emotion = None;
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::hot::{PreferenceRecord, TurnRecord};
    use whisperengine_contract::{Platform, Visibility};

    #[test]
    fn targets_parse_as_all_identity_or_account() {
        assert_eq!(IsolationTarget::parse("ALL"), Ok(IsolationTarget::All));
        let id = IdentityId::random();
        assert_eq!(
            IsolationTarget::parse(&id.to_string()),
            Ok(IsolationTarget::Identity(id))
        );
        assert_eq!(
            IsolationTarget::parse("slack:T1/U1"),
            Ok(IsolationTarget::Account(PlatformAccount::new(
                Platform::Slack,
                "T1",
                "U1"
            )))
        );
        assert!(IsolationTarget::parse("nonsense").is_err());
        assert!(IsolationTarget::parse("myspace:42").is_err());
    }

    fn account(id: i64) -> AccountInfo {
        AccountInfo {
            id: id.into(),
            identity_id: IdentityId::from(uuid::Uuid::nil()),
            platform: Platform::Slack,
            scope: String::new(),
            user_id: id.to_string(),
            display_name: None,
        }
    }

    fn turn(account_id: i64) -> TurnRecord {
        TurnRecord {
            memory_id: None,
            terms: Vec::new().into(),
            last_recalled_at: None,
            account_id: account_id.into(),
            is_user: true,
            content: format!("from {account_id}"),
            platform: Platform::Slack,
            scope: String::new(),
            channel_id: "D1".into(),
            visibility: Visibility::Dm,
            importance: 0.5,
            emotion: None,
            created_at: Utc::now(),
        }
    }

    fn state(isolated: bool) -> IdentityHot {
        let mut state = IdentityHot {
            accounts: vec![account(1), account(2)],
            isolated,
            ..IdentityHot::default()
        };
        for id in [1, 2, 1, 2] {
            state.push_turn(turn(id));
        }
        state.preferences = [1, 2]
            .into_iter()
            .map(|account_id: i64| PreferenceRecord {
                account_id: account_id.into(),
                key: "name".into(),
                value: format!("name {account_id}"),
                version: 1,
                updated_at: Utc::now(),
                updated_by_platform: "slack".into(),
            })
            .collect();
        state
    }

    #[test]
    fn an_isolated_state_keeps_only_the_origin_accounts_records() {
        let view = origin_view(state(true), &account(2));
        assert_eq!(view.accounts.len(), 1);
        assert!(view.recent.iter().all(|turn| turn.account_id == 2.into()));
        assert_eq!(view.recent.len(), 2);
        assert!(view
            .recallable
            .iter()
            .all(|turn| turn.account_id == 2.into()));
        assert_eq!(view.preferences.len(), 1);
        assert_eq!(view.preferences[0].value, "name 2");
    }

    #[test]
    fn a_state_that_is_not_isolated_is_left_whole() {
        let view = origin_view(state(false), &account(2));
        assert_eq!(view.accounts.len(), 2);
        assert_eq!(view.recent.len(), 4);
        assert_eq!(view.preferences.len(), 2);
    }
}
