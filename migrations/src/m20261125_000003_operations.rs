//! Operations: host-wide settings (the `admin isolate all` flag), single-use export download
//! tokens, and the satisfaction feedback people give with `feedback <1-5>`.
//!
//! Personal rows hang off the `identity` with `ON DELETE CASCADE`, so `forget all` and the expiry
//! task remove them with the identity. Every statement uses `IF NOT EXISTS`.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `host_setting`, `export_token` and `feedback`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_host_setting(manager).await?;
        create_export_token(manager).await?;
        create_feedback(manager).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables: [DynIden; 3] = [
            Feedback::Table.into_iden(),
            ExportToken::Table.into_iden(),
            HostSetting::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

fn cascade_to_identity(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(Identity::Table, Identity::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn create_host_setting(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(HostSetting::Table)
                .if_not_exists()
                .col(string_len(HostSetting::Key, 64).primary_key())
                .col(text(HostSetting::Value))
                .col(timestamp_with_time_zone(HostSetting::UpdatedAt))
                .col(string_len(HostSetting::UpdatedBy, 300))
                .to_owned(),
        )
        .await
}

async fn create_export_token(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(ExportToken::Table)
                .if_not_exists()
                .col(big_pk_auto(ExportToken::Id))
                .col(string_len(ExportToken::TokenHash, 64))
                .col(uuid(ExportToken::IdentityId))
                .col(timestamp_with_time_zone(ExportToken::CreatedAt))
                .col(timestamp_with_time_zone(ExportToken::ExpiresAt))
                .col(timestamp_with_time_zone_null(ExportToken::UsedAt))
                .foreign_key(&mut cascade_to_identity(
                    "fk_export_token_identity",
                    (ExportToken::Table, ExportToken::IdentityId),
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ux_export_token_token_hash")
                .table(ExportToken::Table)
                .col(ExportToken::TokenHash)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await
}

async fn create_feedback(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Feedback::Table)
                .if_not_exists()
                .col(big_pk_auto(Feedback::Id))
                .col(uuid(Feedback::IdentityId))
                .col(string_len(Feedback::Platform, 16))
                .col(small_integer(Feedback::Score))
                .col(text_null(Feedback::Comment))
                .col(timestamp_with_time_zone(Feedback::CreatedAt))
                .foreign_key(&mut cascade_to_identity(
                    "fk_feedback_identity",
                    (Feedback::Table, Feedback::IdentityId),
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_feedback_identity_id_platform")
                .table(Feedback::Table)
                .col(Feedback::IdentityId)
                .col(Feedback::Platform)
                .if_not_exists()
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
enum Identity {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum HostSetting {
    Table,
    Key,
    Value,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum ExportToken {
    Table,
    Id,
    TokenHash,
    IdentityId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Feedback {
    Table,
    Id,
    IdentityId,
    Platform,
    Score,
    Comment,
    CreatedAt,
}
