//! `platform_account`: one (platform, scope, user id) and the identity it belongs to.

use sea_orm::entity::prelude::*;

/// An account on one platform. Personal data is stored against this ORIGIN account and read
/// through its identity, so linking and unlinking never copy data.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "platform_account")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub identity_id: Uuid,
    /// `discord`, `slack`, `teams` or `desktop`.
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub platform: String,
    /// Workspace / guild / tenant; the empty string where the platform has none.
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub scope: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub user_id: String,
    #[sea_orm(column_type = "String(StringLen::N(256))", nullable)]
    pub display_name: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub linked_at: Option<ChronoDateTimeUtc>,
    /// The actor who linked this account (the user themself or an admin).
    #[sea_orm(column_type = "String(StringLen::N(300))", nullable)]
    pub linked_by: Option<String>,
}

/// The owning identity, and the tables stored against this account (all `ON DELETE CASCADE`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::identity::Entity",
        from = "Column::IdentityId",
        to = "super::identity::Column::Id",
        on_delete = "Cascade"
    )]
    Identity,
    #[sea_orm(has_many = "super::memory::Entity")]
    Memory,
    #[sea_orm(has_many = "super::emotion_observation::Entity")]
    EmotionObservation,
    #[sea_orm(has_many = "super::preference::Entity")]
    Preference,
    #[sea_orm(has_many = "super::link_code::Entity")]
    LinkCode,
    #[sea_orm(has_many = "super::link_attempt::Entity")]
    LinkAttempt,
}

impl Related<super::identity::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Identity.def()
    }
}

impl Related<super::memory::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Memory.def()
    }
}

impl Related<super::emotion_observation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::EmotionObservation.def()
    }
}

impl Related<super::preference::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Preference.def()
    }
}

impl Related<super::link_code::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::LinkCode.def()
    }
}

impl Related<super::link_attempt::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::LinkAttempt.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
