//! `sync_conflict`: conflicts detected on link-merge or concurrent edits, and their resolution.

use sea_orm::entity::prelude::*;

/// One detected conflict for an identity.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_conflict")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub identity_id: Uuid,
    /// What conflicted (e.g. a preference or the emotional state).
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub kind: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub key: String,
    #[sea_orm(column_type = "Text")]
    pub kept_value: String,
    #[sea_orm(column_type = "Text")]
    pub other_value: String,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub kept_platform: String,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub other_platform: String,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub strategy: String,
    /// `open` or `resolved`.
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub status: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub resolution: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub resolved_at: Option<ChronoDateTimeUtc>,
}

/// The identity the conflict belongs to.
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
