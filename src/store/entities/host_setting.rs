//! `host_setting`: host-wide switches shared by every host process (e.g. `isolate_all`).

use sea_orm::entity::prelude::*;

/// One setting; the key is its name.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "host_setting")]
pub struct Model {
    #[sea_orm(
        primary_key,
        auto_increment = false,
        column_type = "String(StringLen::N(64))"
    )]
    pub key: String,
    #[sea_orm(column_type = "Text")]
    pub value: String,
    pub updated_at: ChronoDateTimeUtc,
    /// Who changed it last (`slack:T1/U1`, or `operator` for the CLI).
    #[sea_orm(column_type = "String(StringLen::N(300))")]
    pub updated_by: String,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
