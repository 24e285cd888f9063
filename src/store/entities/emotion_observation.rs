//! `emotion_observation`: the history of detected emotions, kept against the origin account.

use sea_orm::entity::prelude::*;

/// One detected emotion, optionally tied to the memory it was detected in.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "emotion_observation")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub memory_id: Option<i64>,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub emotion: String,
    pub valence: f64,
    pub intensity: f64,
    pub created_at: ChronoDateTimeUtc,
    /// `dm`, `private` or `public`: the conversation the feeling was seen in (none: stored before
    /// origins were kept, read as a DM).
    pub visibility: Option<String>,
    /// Its workspace/server/tenant.
    pub scope: Option<String>,
    /// Its channel or conversation id.
    pub channel_id: Option<String>,
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
