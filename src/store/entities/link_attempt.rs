//! `link_attempt`: every attempt to redeem a link code, counted for rate limiting.

use sea_orm::entity::prelude::*;

/// One redemption attempt by an account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "link_attempt")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub succeeded: bool,
    pub created_at: ChronoDateTimeUtc,
}

/// The attempting account.
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
