//! Recall at load time without re-reading every word: `memory.terms` keeps the stemmed recall terms
//! computed when the memory was stored (sealed like the content when DATA_ENCRYPTION_KEY is set), and
//! `ix_memory_account_id_role_id` lets the recall window ("the latest user messages of these
//! accounts") be read in index order without visiting the companion's rows.
//!
//! The column is nullable: rows written before this migration have no terms and are indexed from
//! their content when loaded, exactly as before, so no backfill is needed.

use sea_orm_migration::{prelude::*, schema::*};

/// Adds `memory.terms` and the `(account_id, role, id)` index.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !manager.has_column("memory", "terms").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(Memory::Table)
                        .add_column(text_null(Memory::Terms))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_memory_account_id_role_id")
                    .table(Memory::Table)
                    .col(Memory::AccountId)
                    .col(Memory::Role)
                    .col(Memory::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_memory_account_id_role_id")
                    .table(Memory::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        if manager.has_column("memory", "terms").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(Memory::Table)
                        .drop_column(Memory::Terms)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Memory {
    Table,
    AccountId,
    Role,
    Id,
    Terms,
}
