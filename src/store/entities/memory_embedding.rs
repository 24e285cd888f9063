//! `memory_embedding`: the embedding vector of a user memory (semantic recall), as f32
//! little-endian bytes, tagged with the model that computed it.

use sea_orm::entity::prelude::*;

/// One memory's vector.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "memory_embedding")]
pub struct Model {
    /// The `memory` row (cascade on delete).
    #[sea_orm(primary_key, auto_increment = false)]
    pub memory_id: i64,
    /// The memory's ORIGIN account (erasure deletes by it).
    pub account_id: i64,
    /// `EMBEDDING_MODEL` when it was computed; vectors of another model are ignored.
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub model: String,
    pub dimensions: i32,
    /// `dimensions` f32 values, little-endian.
    #[sea_orm(column_type = "Blob")]
    pub vector: Vec<u8>,
    /// The memory's own `created_at` (expiry deletes by it).
    pub created_at: ChronoDateTimeUtc,
}

/// The memory and the origin account.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::memory::Entity",
        from = "Column::MemoryId",
        to = "super::memory::Column::Id",
        on_delete = "Cascade"
    )]
    Memory,
}

impl Related<super::memory::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Memory.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
