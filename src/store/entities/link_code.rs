//! `link_code`: one-time, short-lived account-link codes (only their hash is stored).

use sea_orm::entity::prelude::*;

/// An issued code; single use (`used_at` is set when redeemed).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "link_code")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Hex SHA-256 of the code, never the code itself; unique.
    #[sea_orm(column_type = "String(StringLen::N(64))", unique)]
    pub code_hash: String,
    /// The issuing account.
    pub account_id: i64,
    pub created_at: ChronoDateTimeUtc,
    pub expires_at: ChronoDateTimeUtc,
    pub used_at: Option<ChronoDateTimeUtc>,
    pub used_by_account_id: Option<i64>,
}

/// The issuing account.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::platform_account::Entity",
        from = "Column::AccountId",
        to = "super::platform_account::Column::Id",
        on_delete = "Cascade"
    )]
    PlatformAccount,
}

impl Related<super::platform_account::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PlatformAccount.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
