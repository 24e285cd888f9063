//! `memory`: one stored message or memory, kept against its origin platform account.

use sea_orm::entity::prelude::*;

/// A message (user or companion) with its context, importance and emotion tags.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "memory")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The ORIGIN account (where the message was said).
    pub account_id: i64,
    /// `user` or `companion`.
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub role: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub platform: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub scope: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub channel_id: String,
    #[sea_orm(column_type = "String(StringLen::N(128))", nullable)]
    pub thread_id: Option<String>,
    /// `dm`, `private` or `public`.
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub visibility: String,
    pub importance: f64,
    #[sea_orm(column_type = "String(StringLen::N(32))", nullable)]
    pub emotion: Option<String>,
    pub emotion_intensity: Option<f64>,
    pub created_at: ChronoDateTimeUtc,
    pub last_recalled_at: Option<ChronoDateTimeUtc>,
    #[sea_orm(default_value = 0)]
    pub recall_count: i32,
    /// The stemmed recall terms of `content`, computed when it was stored
    /// ([`crate::core::memory::recall::stored_terms`]); sealed like `content` when DATA_ENCRYPTION_KEY is
    /// set. `None` for rows written before terms were stored: they are indexed from `content`.
    #[sea_orm(column_type = "Text", nullable)]
    pub terms: Option<String>,
    /// The platform's id of the message this turn was stored for (the person's message and the
    /// reply alike); `None` for rows written before it was kept.
    #[sea_orm(column_type = "String(StringLen::N(256))", nullable)]
    pub event_id: Option<String>,
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
