//! `inbox_event`: platform events acknowledged over HTTP (Slack, Teams) and not finished yet. A row
//! is written before the 2xx answer and deleted once the reply went out. `inbox_owner`: one row per
//! host process, its heartbeat; a row whose owner's heartbeat ran out (the process exited or died)
//! is taken over by another process, or by the restarted one. Times are Unix milliseconds so both
//! databases compare them the same way.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `inbox_event` (with its owner index) and `inbox_owner`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InboxEvent::Table)
                    .if_not_exists()
                    .col(string_len(InboxEvent::Id, 36).primary_key())
                    .col(string_len(InboxEvent::Kind, 32))
                    .col(text(InboxEvent::Payload))
                    .col(text_null(InboxEvent::Reply))
                    .col(string_len(InboxEvent::Owner, 36))
                    .col(integer(InboxEvent::Attempts))
                    .col(boolean(InboxEvent::Parked))
                    .col(big_integer(InboxEvent::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InboxOwner::Table)
                    .if_not_exists()
                    .col(string_len(InboxOwner::Owner, 36).primary_key())
                    .col(big_integer(InboxOwner::AliveUntil))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_inbox_event_owner")
                    .table(InboxEvent::Table)
                    .col(InboxEvent::Owner)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(InboxEvent::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum InboxEvent {
    Table,
    Id,
    Kind,
    Payload,
    Reply,
    Owner,
    Attempts,
    Parked,
    CreatedAt,
}

#[derive(DeriveIden)]
enum InboxOwner {
    Table,
    Owner,
    AliveUntil,
}
