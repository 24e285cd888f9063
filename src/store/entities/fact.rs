//! `fact`: one typed fact about a person (subject / attribute / value), kept against the origin
//! account it was told on. Superseded rows stay as history.

use sea_orm::entity::prelude::*;

/// A fact; current while `superseded_at` is empty.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "fact")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The ORIGIN account (where it was said).
    pub account_id: i64,
    /// Who or what the fact is about: `user`, or e.g. `cat`, `sister`.
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub subject: String,
    /// `name`, `pronouns`, `location`, `job`, `likes`, `dislikes`, `pet`, `family`, `goal`, `timezone`, ...
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub attribute: String,
    #[sea_orm(column_type = "Text")]
    pub value: String,
    /// 0 ..= 1: how sure the extractor is.
    pub confidence: f64,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub platform: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub scope: String,
    /// `dm`, `private` or `public`: the context it was told in.
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub visibility: String,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub superseded_at: Option<ChronoDateTimeUtc>,
    /// The fact that replaced this one.
    pub superseded_by: Option<i64>,
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
