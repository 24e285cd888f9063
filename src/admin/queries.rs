//! What the dashboard reads from SQL (the source of truth): totals per platform, identities with
//! their linked accounts, the conflicts queue and the audit log with filters. Read-only: every
//! change the dashboard makes goes through the core's command set instead.

use crate::core::privacy::audit::{like_escaped, AuditRecord};
use crate::store::accounts::account_label;
use crate::store::entities::{
    audit_log, feedback, identity, memory, platform_account, sync_conflict,
};
use crate::store::hot::AccountInfo;
use crate::store::kinds::{ConflictStatus, MemoryRole};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, Func, LikeExpr, Order};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;
use whisperengine_contract::{Platform, PlatformAccount};

/// Rows per page of the conflicts queue and the audit log.
pub const PAGE_SIZE: u64 = 50;
/// Most identities a search shows.
pub const SEARCH_LIMIT: u64 = 50;

/// Messages people sent on one platform, and when the last one arrived.
#[derive(Debug, Clone)]
pub struct PlatformActivity {
    pub platform: Platform,
    pub messages: u64,
    pub last_message_at: Option<DateTime<Utc>>,
}

/// Host-wide counts for the overview.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub identities: u64,
    pub accounts: u64,
    pub isolated_identities: u64,
    pub open_conflicts: u64,
    pub resolved_conflicts: u64,
    /// `admin isolate all` is in force.
    pub is_host_isolated: bool,
}

/// One account as the identities page shows it.
#[derive(Debug, Clone)]
pub struct AccountRow {
    /// As written in commands: `slack:T1/U1`.
    pub label: String,
    pub platform: Platform,
    pub display_name: Option<String>,
    pub linked_at: Option<DateTime<Utc>>,
    pub linked_by: Option<String>,
}

/// An identity and every account pointing at it.
#[derive(Debug, Clone)]
pub struct IdentityRow {
    pub id: Uuid,
    pub isolated: bool,
    pub created_at: DateTime<Utc>,
    pub accounts: Vec<AccountRow>,
}

/// One row of the conflicts queue.
pub type ConflictRow = sync_conflict::Model;

/// The audit log filters; empty fields do not filter.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AuditFilter {
    /// Part of the actor (`slack:T1/U1`, `operator`).
    #[serde(default)]
    pub actor: String,
    /// Start of the action (`admin.` matches every admin action).
    #[serde(default)]
    pub action: String,
    /// Part of the target.
    #[serde(default)]
    pub target: String,
    /// First day included, `YYYY-MM-DD` (UTC).
    #[serde(default)]
    pub from: String,
    /// Last day included, `YYYY-MM-DD` (UTC).
    #[serde(default)]
    pub to: String,
    /// Page number from 1.
    #[serde(default)]
    pub page: Option<u64>,
}

/// One page of rows and how many there are in all.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub number: u64,
    pub total_rows: u64,
}

impl<T> Page<T> {
    /// How many pages there are (at least 1).
    pub fn page_count(&self) -> u64 {
        self.total_rows.div_ceil(PAGE_SIZE).max(1)
    }
}

/// Messages people sent per platform (every platform listed, zero where none).
pub async fn platform_activity(db: &impl ConnectionTrait) -> Result<Vec<PlatformActivity>, DbErr> {
    let mut activity = Vec::new();
    for platform in Platform::ALL {
        let from_platform = memory::Entity::find()
            .filter(memory::Column::Platform.eq(platform.as_str()))
            .filter(memory::Column::Role.eq(MemoryRole::User));
        let messages = from_platform.clone().count(db).await?;
        let last_message_at = from_platform
            .order_by_desc(memory::Column::Id)
            .one(db)
            .await?
            .map(|row| row.created_at);
        activity.push(PlatformActivity {
            platform,
            messages,
            last_message_at,
        });
    }
    Ok(activity)
}

/// Satisfaction on one platform: the `feedback` scores (1–5) people gave there.
#[derive(Debug, Clone, PartialEq)]
pub struct Satisfaction {
    pub platform: String,
    pub responses: u64,
    pub average_score: f64,
}

/// Average feedback score per platform (platforms without feedback are left out).
pub async fn satisfaction(db: &impl ConnectionTrait) -> Result<Vec<Satisfaction>, DbErr> {
    let rows: Vec<(String, i64, Option<i64>)> = feedback::Entity::find()
        .select_only()
        .column(feedback::Column::Platform)
        .column_as(
            Expr::expr(Func::count(Expr::col(feedback::Column::Id))),
            "responses",
        )
        .column_as(
            Expr::expr(Func::sum(Func::cast_as(
                Expr::col(feedback::Column::Score),
                "bigint",
            ))),
            "total",
        )
        .group_by(feedback::Column::Platform)
        .order_by_asc(feedback::Column::Platform)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, responses, _)| *responses > 0)
        .map(|(platform, responses, total)| Satisfaction {
            platform,
            responses: responses.unsigned_abs(),
            average_score: total.unwrap_or(0) as f64 / responses as f64,
        })
        .collect())
}

/// Host-wide counts.
pub async fn totals(db: &impl ConnectionTrait) -> Result<Totals, DbErr> {
    Ok(Totals {
        identities: identity::Entity::find().count(db).await?,
        accounts: platform_account::Entity::find().count(db).await?,
        isolated_identities: identity::Entity::find()
            .filter(identity::Column::Isolated.eq(true))
            .count(db)
            .await?,
        open_conflicts: conflicts_with_status(db, ConflictStatus::Open).await?,
        resolved_conflicts: conflicts_with_status(db, ConflictStatus::Resolved).await?,
        is_host_isolated: crate::core::privacy::isolation::is_host_isolated(db)
            .await
            .map_err(|error| DbErr::Custom(error.to_string()))?,
    })
}

/// How many conflicts have `status`.
pub async fn conflicts_with_status(
    db: &impl ConnectionTrait,
    status: ConflictStatus,
) -> Result<u64, DbErr> {
    sync_conflict::Entity::find()
        .filter(sync_conflict::Column::Status.eq(status))
        .count(db)
        .await
}

/// `expression LIKE pattern ESCAPE '\'`.
fn like(expression: Expr, pattern: String) -> Expr {
    sea_orm::sea_query::ExprTrait::like(expression, LikeExpr::new(pattern).escape('\\'))
}

/// A case-insensitive "contains" condition on `column`.
fn contains_ignoring_case(column: impl sea_orm::sea_query::IntoColumnRef, text: &str) -> Condition {
    let pattern = format!("%{}%", like_escaped(&text.to_lowercase()));
    Condition::all().add(like(Expr::expr(Func::lower(Expr::col(column))), pattern))
}

/// Identities with an account whose user id or display name contains `query` (any case), whose
/// label is `query` (`slack:T1/U1`), or whose id is `query`; each with all its accounts.
pub async fn search_identities(
    db: &impl ConnectionTrait,
    query: &str,
) -> Result<Vec<IdentityRow>, DbErr> {
    let query = query.trim();
    if query.is_empty() {
        return Ok(Vec::new());
    }
    let mut matches = Condition::any()
        .add(contains_ignoring_case(
            platform_account::Column::UserId,
            query,
        ))
        .add(contains_ignoring_case(
            platform_account::Column::DisplayName,
            query,
        ));
    if let Ok(account) = query.parse::<PlatformAccount>() {
        matches = matches.add(
            Condition::all()
                .add(platform_account::Column::Platform.eq(account.platform.as_str()))
                .add(platform_account::Column::Scope.eq(account.scope))
                .add(platform_account::Column::UserId.eq(account.user_id)),
        );
    }
    if let Ok(id) = query.parse::<Uuid>() {
        matches = matches.add(platform_account::Column::IdentityId.eq(id));
    }
    let identity_ids: Vec<Uuid> = platform_account::Entity::find()
        .select_only()
        .column(platform_account::Column::IdentityId)
        .filter(matches)
        .distinct()
        .limit(SEARCH_LIMIT)
        .into_tuple()
        .all(db)
        .await?;
    identities_with_accounts(db, identity_ids).await
}

async fn identities_with_accounts(
    db: &impl ConnectionTrait,
    identity_ids: Vec<Uuid>,
) -> Result<Vec<IdentityRow>, DbErr> {
    if identity_ids.is_empty() {
        return Ok(Vec::new());
    }
    let identities = identity::Entity::find()
        .filter(identity::Column::Id.is_in(identity_ids.clone()))
        .order_by_asc(identity::Column::CreatedAt)
        .all(db)
        .await?;
    let accounts = platform_account::Entity::find()
        .filter(platform_account::Column::IdentityId.is_in(identity_ids))
        .order_by_asc(platform_account::Column::Id)
        .all(db)
        .await?;
    Ok(identities
        .into_iter()
        .map(|identity| IdentityRow {
            id: identity.id,
            isolated: identity.isolated,
            created_at: identity.created_at,
            accounts: accounts
                .iter()
                .filter(|account| account.identity_id == identity.id)
                .map(|account| AccountRow {
                    label: account_label(&AccountInfo::from(account.clone())),
                    platform: account.platform.parse().unwrap_or(Platform::Desktop),
                    display_name: account.display_name.clone(),
                    linked_at: account.linked_at,
                    linked_by: account.linked_by.clone(),
                })
                .collect(),
        })
        .collect())
}

/// A page of the conflicts queue: open conflicts first, newest first within each status.
pub async fn conflicts_page(
    db: &impl ConnectionTrait,
    page: u64,
) -> Result<Page<ConflictRow>, DbErr> {
    let page = page.max(1);
    let total_rows = sync_conflict::Entity::find().count(db).await?;
    let open_first: Expr = Expr::case(sync_conflict::Column::Status.eq(ConflictStatus::Open), 0)
        .finally(1)
        .into();
    let rows = sync_conflict::Entity::find()
        .order_by(open_first, Order::Asc)
        .order_by_desc(sync_conflict::Column::Id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .all(db)
        .await?;
    Ok(Page {
        rows,
        number: page,
        total_rows,
    })
}

/// Why an audit filter was refused (shown above the form).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: expected a date like 2026-11-25 (got {value:?})")]
pub struct BadFilter {
    pub field: &'static str,
    pub value: String,
}

fn day(field: &'static str, text: &str) -> Result<Option<NaiveDate>, BadFilter> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| BadFilter {
            field,
            value: text.chars().take(40).collect(),
        })
}

/// The condition `filter` describes, or why it cannot be used.
pub fn audit_condition(filter: &AuditFilter) -> Result<Condition, BadFilter> {
    let mut condition = Condition::all();
    if !filter.actor.trim().is_empty() {
        condition = condition.add(contains_ignoring_case(
            audit_log::Column::Actor,
            filter.actor.trim(),
        ));
    }
    if !filter.action.trim().is_empty() {
        let pattern = format!("{}%", like_escaped(filter.action.trim()));
        condition = condition.add(like(Expr::col(audit_log::Column::Action), pattern));
    }
    if !filter.target.trim().is_empty() {
        condition = condition.add(contains_ignoring_case(
            audit_log::Column::Target,
            filter.target.trim(),
        ));
    }
    if let Some(from) = day("from", &filter.from)? {
        let start = from.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        if let Some(start) = start {
            condition = condition.add(audit_log::Column::CreatedAt.gte(start));
        }
    }
    if let Some(to) = day("to", &filter.to)? {
        let end = to
            .succ_opt()
            .and_then(|next| next.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
        if let Some(end) = end {
            condition = condition.add(audit_log::Column::CreatedAt.lt(end));
        }
    }
    Ok(condition)
}

/// A page of the audit log matching `condition`, newest first.
pub async fn audit_page(
    db: &impl ConnectionTrait,
    condition: Condition,
    page: u64,
) -> Result<Page<AuditRecord>, DbErr> {
    let page = page.max(1);
    let matching = audit_log::Entity::find().filter(condition);
    let total_rows = matching.clone().count(db).await?;
    let rows = matching
        .order_by_desc(audit_log::Column::Id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .all(db)
        .await?;
    Ok(Page {
        rows: rows
            .into_iter()
            .map(|row| AuditRecord {
                id: row.id,
                at: row.created_at,
                actor: row.actor,
                actor_platform: row.actor_platform,
                action: row.action,
                target: row.target,
                outcome: row.outcome,
                detail: row.detail,
            })
            .collect(),
        number: page,
        total_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_searches_are_taken_literally() {
        assert_eq!(like_escaped("50%_off\\"), "50\\%\\_off\\\\");
    }

    #[test]
    fn audit_dates_must_be_calendar_days() {
        let good = AuditFilter {
            from: "2026-11-01".into(),
            to: "2026-11-25".into(),
            ..Default::default()
        };
        assert!(audit_condition(&good).is_ok());
        let bad = AuditFilter {
            to: "yesterday".into(),
            ..Default::default()
        };
        assert_eq!(audit_condition(&bad).unwrap_err().field, "to");
    }

    #[test]
    fn pages_count_at_least_one() {
        let empty: Page<()> = Page {
            rows: vec![],
            number: 1,
            total_rows: 0,
        };
        assert_eq!(empty.page_count(), 1);
        let full: Page<()> = Page {
            rows: vec![],
            number: 1,
            total_rows: PAGE_SIZE + 1,
        };
        assert_eq!(full.page_count(), 2);
    }
}
