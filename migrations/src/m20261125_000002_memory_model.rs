//! The memory model: a typed `fact` table (subject / attribute / value) extracted from what people
//! say, kept against the ORIGIN platform account like every other personal row.
//!
//! A restated or corrected fact does not overwrite its predecessor: the old row gets
//! `superseded_at` / `superseded_by` and stays as history, the new row is the current one. So
//! "I moved to Lisbon" after "I live in Porto" leaves both rows, Porto marked superseded.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `fact` and its indexes.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Fact::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Fact::Id))
                    .col(big_integer(Fact::AccountId))
                    .col(string_len(Fact::Subject, 64))
                    .col(string_len(Fact::Attribute, 32))
                    .col(text(Fact::Value))
                    .col(double(Fact::Confidence))
                    .col(string_len(Fact::Platform, 16))
                    .col(string_len(Fact::Scope, 128))
                    .col(string_len(Fact::Visibility, 16))
                    .col(timestamp_with_time_zone(Fact::CreatedAt))
                    .col(timestamp_with_time_zone(Fact::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Fact::SupersededAt))
                    .col(big_integer_null(Fact::SupersededBy))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_fact_account")
                            .from(Fact::Table, Fact::AccountId)
                            .to(PlatformAccount::Table, PlatformAccount::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_fact_account_id_attribute")
                    .table(Fact::Table)
                    .col(Fact::AccountId)
                    .col(Fact::Attribute)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Fact::Table).if_exists().to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Fact {
    Table,
    Id,
    AccountId,
    Subject,
    Attribute,
    Value,
    Confidence,
    Platform,
    Scope,
    Visibility,
    CreatedAt,
    UpdatedAt,
    SupersededAt,
    SupersededBy,
}

#[derive(DeriveIden)]
enum PlatformAccount {
    Table,
    Id,
}
