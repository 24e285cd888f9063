//! `identity`: a person as the companion knows them; platform accounts point at one.

use sea_orm::entity::prelude::*;

/// One person. Every platform account starts with its own identity; linking re-points accounts.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identity")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub created_at: ChronoDateTimeUtc,
    /// Emergency isolation: the identity's data is not read across accounts while set.
    #[sea_orm(default_value = false)]
    pub isolated: bool,
}

/// Tables that hang off an identity (all `ON DELETE CASCADE`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::platform_account::Entity")]
    PlatformAccount,
    #[sea_orm(has_one = "super::emotional_state::Entity")]
    EmotionalState,
    #[sea_orm(has_many = "super::sync_conflict::Entity")]
    SyncConflict,
}

impl Related<super::platform_account::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PlatformAccount.def()
    }
}

impl Related<super::emotional_state::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::EmotionalState.def()
    }
}

impl Related<super::sync_conflict::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SyncConflict.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
