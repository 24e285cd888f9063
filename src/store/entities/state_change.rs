//! `state_change`: which identity a `state_counter` version touched (see [`crate::store::changes`]).

use sea_orm::entity::prelude::*;

/// One change; several rows may share a version (one write touching several identities).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "state_change")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub version: i64,
    /// The identity whose cached state is stale; `None`: every identity.
    pub identity_id: Option<Uuid>,
    /// The host process that made the change (it has already dropped its own cache).
    pub origin: Uuid,
    pub created_at: ChronoDateTimeUtc,
}

/// No relations: the identity may be gone (merged away, erased) by the time the row is read.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
