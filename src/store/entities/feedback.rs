//! `feedback`: satisfaction scores (1–5) people give with `feedback`, per identity and platform.

use sea_orm::entity::prelude::*;

/// One feedback entry.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "feedback")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub identity_id: Uuid,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub platform: String,
    /// 1 (bad) to 5 (great).
    pub score: i16,
    #[sea_orm(column_type = "Text", nullable)]
    pub comment: Option<String>,
    pub created_at: ChronoDateTimeUtc,
}

/// The identity it belongs to (cascade on delete).
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
