//! `emotional_state`: the current emotional state per identity (one row each).

use sea_orm::entity::prelude::*;

/// The identity's current state; `version` grows by one per write (optimistic concurrency).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "emotional_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub identity_id: Uuid,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub mood: String,
    pub valence: f64,
    pub intensity: f64,
    pub updated_at: ChronoDateTimeUtc,
    /// The account whose message caused the last update (no foreign key: history survives it).
    pub updated_by_account_id: Option<i64>,
    pub version: i64,
}

/// The identity this state belongs to.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::identity::Entity",
        from = "Column::IdentityId",
        to = "super::identity::Column::Id",
        on_delete = "Cascade"
    )]
    Identity,
}

impl Related<super::identity::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Identity.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
