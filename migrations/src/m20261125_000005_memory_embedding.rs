//! Embeddings for semantic recall: one vector per stored user memory, computed by the
//! OpenAI-compatible `/embeddings` endpoint when `EMBEDDING_MODEL` is set.
//!
//! The vector is f32 little-endian bytes (`dimensions` × 4 bytes) tagged with the model that made
//! it, so changing `EMBEDDING_MODEL` never mixes vectors of two models. The row carries its
//! memory's `account_id` and `created_at` so erasure (`forget all`) and expiry
//! (MEMORY_RETENTION_DAYS, demo TTL) remove it like every other personal row, and it cascades
//! with its `memory` row (`forget <id>`).

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `memory_embedding`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MemoryEmbedding::Table)
                    .if_not_exists()
                    .col(big_integer(MemoryEmbedding::MemoryId).primary_key())
                    .col(big_integer(MemoryEmbedding::AccountId))
                    .col(string_len(MemoryEmbedding::Model, 128))
                    .col(integer(MemoryEmbedding::Dimensions))
                    .col(blob(MemoryEmbedding::Vector))
                    .col(timestamp_with_time_zone(MemoryEmbedding::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_memory_embedding_memory")
                            .from(MemoryEmbedding::Table, MemoryEmbedding::MemoryId)
                            .to(Memory::Table, Memory::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_memory_embedding_account")
                            .from(MemoryEmbedding::Table, MemoryEmbedding::AccountId)
                            .to(PlatformAccount::Table, PlatformAccount::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_memory_embedding_account_id")
                    .table(MemoryEmbedding::Table)
                    .col(MemoryEmbedding::AccountId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(MemoryEmbedding::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum MemoryEmbedding {
    Table,
    MemoryId,
    AccountId,
    Model,
    Dimensions,
    Vector,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Memory {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PlatformAccount {
    Table,
    Id,
}
