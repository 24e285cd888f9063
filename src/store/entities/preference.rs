//! `preference`: key → value preferences, kept against the account that set them.

use sea_orm::entity::prelude::*;

/// One preference; unique per (account, key). `version` grows by one per write.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "preference")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The ORIGIN account that set it.
    pub account_id: i64,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub key: String,
    #[sea_orm(column_type = "Text")]
    pub value: String,
    pub version: i64,
    pub updated_at: ChronoDateTimeUtc,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub updated_by_platform: String,
}

/// The origin account.
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
