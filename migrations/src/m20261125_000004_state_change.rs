//! Cross-process change feed: `state_counter` (one row, a version bumped in the same transaction as
//! every link, unlink, isolation, preference or erasure write) and `state_change` (which identity
//! each version touched; no identity means "everything"). Host processes poll the counter as the
//! fallback for a missed Redis invalidation. Every statement uses `IF NOT EXISTS`.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `state_counter` (with its single row) and `state_change`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StateCounter::Table)
                    .if_not_exists()
                    .col(integer(StateCounter::Id).primary_key())
                    .col(big_integer(StateCounter::Version))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(StateCounter::Table)
                    .columns([StateCounter::Id, StateCounter::Version])
                    .values_panic([1.into(), 0i64.into()])
                    .on_conflict(OnConflict::column(StateCounter::Id).do_nothing().to_owned())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StateChange::Table)
                    .if_not_exists()
                    .col(big_pk_auto(StateChange::Id))
                    .col(big_integer(StateChange::Version))
                    .col(uuid_null(StateChange::IdentityId))
                    .col(uuid(StateChange::Origin))
                    .col(timestamp_with_time_zone(StateChange::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_state_change_version")
                    .table(StateChange::Table)
                    .col(StateChange::Version)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables: [DynIden; 2] = [
            StateChange::Table.into_iden(),
            StateCounter::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum StateCounter {
    Table,
    Id,
    Version,
}

#[derive(DeriveIden)]
enum StateChange {
    Table,
    Id,
    Version,
    IdentityId,
    Origin,
    CreatedAt,
}
