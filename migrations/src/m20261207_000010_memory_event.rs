//! Which event a stored turn answers: `memory.event_id`, the platform's id of the message the
//! row was stored for (the person's message and the companion's reply carry the same id). A
//! client that sends a message again after its answer was lost (the local chat API after a
//! dropped connection) gets the stored reply back instead of an empty "duplicate".
//!
//! The column is nullable: rows written before this migration name no event. No index: it is
//! read only among one account's latest replies, which `ix_memory_account_id_role_id` finds.

use sea_orm_migration::{prelude::*, schema::*};

/// Adds `memory.event_id`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !manager.has_column("memory", "event_id").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(Memory::Table)
                        .add_column(string_len_null(Memory::EventId, 256))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.has_column("memory", "event_id").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(Memory::Table)
                        .drop_column(Memory::EventId)
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
    EventId,
}
