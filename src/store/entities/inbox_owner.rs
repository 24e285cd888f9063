//! `inbox_owner`: each host process's heartbeat; the inbox rows of a process whose heartbeat ran
//! out are taken over (see [`crate::core::turn::inbox`]).

use sea_orm::entity::prelude::*;

/// One host process (`store.origin`) and until when it counts as alive (Unix milliseconds).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox_owner")]
pub struct Model {
    #[sea_orm(
        primary_key,
        auto_increment = false,
        column_type = "String(StringLen::N(36))"
    )]
    pub owner: String,
    pub alive_until: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
