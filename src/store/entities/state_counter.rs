//! `state_counter`: the single row whose `version` is bumped by every write other host processes
//! must see at once (see [`crate::store::changes`]).

use sea_orm::entity::prelude::*;

/// The counter row (`id` is always 1).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "state_counter")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub version: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
