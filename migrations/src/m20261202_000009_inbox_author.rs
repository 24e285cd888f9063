//! Who sent each stored inbox event: `inbox_event.author_platform`, `author_scope` and
//! `author_user_id` (the platform account, as the connector read it from the payload). The inbox
//! stores an event before the core resolves its account, so the account key is kept rather than an
//! account id; `forget all` deletes the person's finished and set-aside events by it, and `export`
//! includes their events.
//!
//! The columns are nullable: rows written before this migration, and events that name nobody, have
//! no author. No index: the table only holds events not finished yet, so it stays small.

use sea_orm_migration::{prelude::*, schema::*};

/// Adds the author columns to `inbox_event`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds a single column per ALTER TABLE.
        for (name, column) in [
            (
                "author_platform",
                string_len_null(InboxEvent::AuthorPlatform, 16),
            ),
            (
                "author_scope",
                string_len_null(InboxEvent::AuthorScope, 256),
            ),
            (
                "author_user_id",
                string_len_null(InboxEvent::AuthorUserId, 256),
            ),
        ] {
            if !manager.has_column("inbox_event", name).await? {
                manager
                    .alter_table(
                        Table::alter()
                            .table(InboxEvent::Table)
                            .add_column(column)
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, column) in [
            ("author_platform", InboxEvent::AuthorPlatform),
            ("author_scope", InboxEvent::AuthorScope),
            ("author_user_id", InboxEvent::AuthorUserId),
        ] {
            if manager.has_column("inbox_event", name).await? {
                manager
                    .alter_table(
                        Table::alter()
                            .table(InboxEvent::Table)
                            .drop_column(column)
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum InboxEvent {
    Table,
    AuthorPlatform,
    AuthorScope,
    AuthorUserId,
}
