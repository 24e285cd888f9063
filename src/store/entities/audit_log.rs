//! `audit_log`: the append-only record of links, unlinks, admin actions, isolation, export, forget.

use sea_orm::entity::prelude::*;

/// One audited action. No foreign keys: the record outlives the accounts it names.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub created_at: ChronoDateTimeUtc,
    #[sea_orm(column_type = "String(StringLen::N(300))")]
    pub actor: String,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub actor_platform: String,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub action: String,
    #[sea_orm(column_type = "String(StringLen::N(300))", nullable)]
    pub target: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub outcome: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub detail: Option<String>,
}

/// No relations (see [`Model`]).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
