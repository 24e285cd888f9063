//! The initial schema: identities, platform accounts and everything stored against them.
//!
//! Personal data hangs off the ORIGIN `platform_account` (or the `identity`) with
//! `ON DELETE CASCADE`, so deleting an account or an identity removes its data (forget,
//! retention). Foreign keys are declared inside `CREATE TABLE` because SQLite cannot add them
//! afterwards. Every statement uses `IF NOT EXISTS`, so a half-applied run can be repeated.
//!
//! Over 500 lines: the whole initial schema, one table after another.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates the eleven tables of the first release.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_identity(manager).await?;
        create_platform_account(manager).await?;
        create_memory(manager).await?;
        create_emotional_state(manager).await?;
        create_emotion_observation(manager).await?;
        create_preference(manager).await?;
        create_link_code(manager).await?;
        create_link_attempt(manager).await?;
        create_audit_log(manager).await?;
        create_processed_event(manager).await?;
        create_sync_conflict(manager).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents, so no foreign key blocks a drop.
        let tables: [DynIden; 11] = [
            SyncConflict::Table.into_iden(),
            ProcessedEvent::Table.into_iden(),
            AuditLog::Table.into_iden(),
            LinkAttempt::Table.into_iden(),
            LinkCode::Table.into_iden(),
            Preference::Table.into_iden(),
            EmotionObservation::Table.into_iden(),
            EmotionalState::Table.into_iden(),
            Memory::Table.into_iden(),
            PlatformAccount::Table.into_iden(),
            Identity::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

/// A foreign key `from_table.from_column → to_table.to_column` that deletes the child row with
/// its parent.
fn cascade_to(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn create_identity(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Identity::Table)
                .if_not_exists()
                .col(pk_uuid(Identity::Id))
                .col(timestamp_with_time_zone(Identity::CreatedAt))
                .col(boolean(Identity::Isolated).default(false))
                .to_owned(),
        )
        .await
}

async fn create_platform_account(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(PlatformAccount::Table)
                .if_not_exists()
                .col(big_pk_auto(PlatformAccount::Id))
                .col(uuid(PlatformAccount::IdentityId))
                .col(string_len(PlatformAccount::Platform, 16))
                .col(string_len(PlatformAccount::Scope, 128))
                .col(string_len(PlatformAccount::UserId, 128))
                .col(string_len_null(PlatformAccount::DisplayName, 256))
                .col(timestamp_with_time_zone(PlatformAccount::CreatedAt))
                .col(timestamp_with_time_zone_null(PlatformAccount::LinkedAt))
                .col(string_len_null(PlatformAccount::LinkedBy, 300))
                .foreign_key(&mut cascade_to(
                    "fk_platform_account_identity",
                    (PlatformAccount::Table, PlatformAccount::IdentityId),
                    (Identity::Table, Identity::Id),
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ux_platform_account_platform_scope_user_id")
                .table(PlatformAccount::Table)
                .col(PlatformAccount::Platform)
                .col(PlatformAccount::Scope)
                .col(PlatformAccount::UserId)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_platform_account_identity_id")
                .table(PlatformAccount::Table)
                .col(PlatformAccount::IdentityId)
                .if_not_exists()
                .to_owned(),
        )
        .await
}

async fn create_memory(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Memory::Table)
                .if_not_exists()
                .col(big_pk_auto(Memory::Id))
                .col(big_integer(Memory::AccountId))
                .col(string_len(Memory::Role, 16))
                .col(text(Memory::Content))
                .col(string_len(Memory::Platform, 16))
                .col(string_len(Memory::Scope, 128))
                .col(string_len(Memory::ChannelId, 128))
                .col(string_len_null(Memory::ThreadId, 128))
                .col(string_len(Memory::Visibility, 16))
                .col(double(Memory::Importance))
                .col(string_len_null(Memory::Emotion, 32))
                .col(double_null(Memory::EmotionIntensity))
                .col(timestamp_with_time_zone(Memory::CreatedAt))
                .col(timestamp_with_time_zone_null(Memory::LastRecalledAt))
                .col(integer(Memory::RecallCount).default(0))
                .foreign_key(&mut cascade_to(
                    "fk_memory_account",
                    (Memory::Table, Memory::AccountId),
                    (PlatformAccount::Table, PlatformAccount::Id),
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_memory_account_id_id")
                .table(Memory::Table)
                .col(Memory::AccountId)
                .col(Memory::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_memory_created_at")
                .table(Memory::Table)
                .col(Memory::CreatedAt)
                .if_not_exists()
                .to_owned(),
        )
        .await
}

async fn create_emotional_state(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(EmotionalState::Table)
                .if_not_exists()
                .col(pk_uuid(EmotionalState::IdentityId))
                .col(string_len(EmotionalState::Mood, 32))
                .col(double(EmotionalState::Valence))
                .col(double(EmotionalState::Intensity))
                .col(timestamp_with_time_zone(EmotionalState::UpdatedAt))
                .col(big_integer_null(EmotionalState::UpdatedByAccountId))
                .col(big_integer(EmotionalState::Version))
                .foreign_key(&mut cascade_to(
                    "fk_emotional_state_identity",
                    (EmotionalState::Table, EmotionalState::IdentityId),
                    (Identity::Table, Identity::Id),
                ))
                .to_owned(),
        )
        .await
}

async fn create_emotion_observation(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(EmotionObservation::Table)
                .if_not_exists()
                .col(big_pk_auto(EmotionObservation::Id))
                .col(big_integer(EmotionObservation::AccountId))
                .col(big_integer_null(EmotionObservation::MemoryId))
                .col(string_len(EmotionObservation::Emotion, 32))
                .col(double(EmotionObservation::Valence))
                .col(double(EmotionObservation::Intensity))
                .col(timestamp_with_time_zone(EmotionObservation::CreatedAt))
                .foreign_key(&mut cascade_to(
                    "fk_emotion_observation_account",
                    (EmotionObservation::Table, EmotionObservation::AccountId),
                    (PlatformAccount::Table, PlatformAccount::Id),
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_emotion_observation_account_id_id")
                .table(EmotionObservation::Table)
                .col(EmotionObservation::AccountId)
                .col(EmotionObservation::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await
}

async fn create_preference(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Preference::Table)
                .if_not_exists()
                .col(big_pk_auto(Preference::Id))
                .col(big_integer(Preference::AccountId))
                .col(string_len(Preference::Key, 64))
                .col(text(Preference::Value))
                .col(big_integer(Preference::Version))
                .col(timestamp_with_time_zone(Preference::UpdatedAt))
                .col(string_len(Preference::UpdatedByPlatform, 16))
                .foreign_key(&mut cascade_to(
                    "fk_preference_account",
                    (Preference::Table, Preference::AccountId),
                    (PlatformAccount::Table, PlatformAccount::Id),
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ux_preference_account_id_key")
                .table(Preference::Table)
                .col(Preference::AccountId)
                .col(Preference::Key)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await
}

async fn create_link_code(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(LinkCode::Table)
                .if_not_exists()
                .col(big_pk_auto(LinkCode::Id))
                .col(string_len(LinkCode::CodeHash, 64))
                .col(big_integer(LinkCode::AccountId))
                .col(timestamp_with_time_zone(LinkCode::CreatedAt))
                .col(timestamp_with_time_zone(LinkCode::ExpiresAt))
                .col(timestamp_with_time_zone_null(LinkCode::UsedAt))
                .col(big_integer_null(LinkCode::UsedByAccountId))
                .foreign_key(&mut cascade_to(
                    "fk_link_code_account",
                    (LinkCode::Table, LinkCode::AccountId),
                    (PlatformAccount::Table, PlatformAccount::Id),
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ux_link_code_code_hash")
                .table(LinkCode::Table)
                .col(LinkCode::CodeHash)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await
}

async fn create_link_attempt(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(LinkAttempt::Table)
                .if_not_exists()
                .col(big_pk_auto(LinkAttempt::Id))
                .col(big_integer(LinkAttempt::AccountId))
                .col(boolean(LinkAttempt::Succeeded))
                .col(timestamp_with_time_zone(LinkAttempt::CreatedAt))
                .foreign_key(&mut cascade_to(
                    "fk_link_attempt_account",
                    (LinkAttempt::Table, LinkAttempt::AccountId),
                    (PlatformAccount::Table, PlatformAccount::Id),
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_link_attempt_account_id_created_at")
                .table(LinkAttempt::Table)
                .col(LinkAttempt::AccountId)
                .col(LinkAttempt::CreatedAt)
                .if_not_exists()
                .to_owned(),
        )
        .await
}

async fn create_audit_log(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(AuditLog::Table)
                .if_not_exists()
                .col(big_pk_auto(AuditLog::Id))
                .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                .col(string_len(AuditLog::Actor, 300))
                .col(string_len(AuditLog::ActorPlatform, 16))
                .col(string_len(AuditLog::Action, 64))
                .col(string_len_null(AuditLog::Target, 300))
                .col(string_len(AuditLog::Outcome, 32))
                .col(text_null(AuditLog::Detail))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_audit_log_created_at")
                .table(AuditLog::Table)
                .col(AuditLog::CreatedAt)
                .if_not_exists()
                .to_owned(),
        )
        .await
}

async fn create_processed_event(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(ProcessedEvent::Table)
                .if_not_exists()
                .col(string_len(ProcessedEvent::Platform, 16))
                .col(string_len(ProcessedEvent::EventId, 256))
                .col(timestamp_with_time_zone(ProcessedEvent::CreatedAt))
                .primary_key(
                    Index::create()
                        .name("pk_processed_event")
                        .col(ProcessedEvent::Platform)
                        .col(ProcessedEvent::EventId),
                )
                .to_owned(),
        )
        .await
}

async fn create_sync_conflict(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(SyncConflict::Table)
                .if_not_exists()
                .col(big_pk_auto(SyncConflict::Id))
                .col(uuid(SyncConflict::IdentityId))
                .col(string_len(SyncConflict::Kind, 32))
                .col(string_len(SyncConflict::Key, 128))
                .col(text(SyncConflict::KeptValue))
                .col(text(SyncConflict::OtherValue))
                .col(string_len(SyncConflict::KeptPlatform, 16))
                .col(string_len(SyncConflict::OtherPlatform, 16))
                .col(string_len(SyncConflict::Strategy, 32))
                .col(string_len(SyncConflict::Status, 16))
                .col(text_null(SyncConflict::Resolution))
                .col(timestamp_with_time_zone(SyncConflict::CreatedAt))
                .col(timestamp_with_time_zone_null(SyncConflict::ResolvedAt))
                .foreign_key(&mut cascade_to(
                    "fk_sync_conflict_identity",
                    (SyncConflict::Table, SyncConflict::IdentityId),
                    (Identity::Table, Identity::Id),
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_sync_conflict_identity_id_status")
                .table(SyncConflict::Table)
                .col(SyncConflict::IdentityId)
                .col(SyncConflict::Status)
                .if_not_exists()
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
enum Identity {
    Table,
    Id,
    CreatedAt,
    Isolated,
}

#[derive(DeriveIden)]
enum PlatformAccount {
    Table,
    Id,
    IdentityId,
    Platform,
    Scope,
    UserId,
    DisplayName,
    CreatedAt,
    LinkedAt,
    LinkedBy,
}

#[derive(DeriveIden)]
enum Memory {
    Table,
    Id,
    AccountId,
    Role,
    Content,
    Platform,
    Scope,
    ChannelId,
    ThreadId,
    Visibility,
    Importance,
    Emotion,
    EmotionIntensity,
    CreatedAt,
    LastRecalledAt,
    RecallCount,
}

#[derive(DeriveIden)]
enum EmotionalState {
    Table,
    IdentityId,
    Mood,
    Valence,
    Intensity,
    UpdatedAt,
    UpdatedByAccountId,
    Version,
}

#[derive(DeriveIden)]
enum EmotionObservation {
    Table,
    Id,
    AccountId,
    MemoryId,
    Emotion,
    Valence,
    Intensity,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Preference {
    Table,
    Id,
    AccountId,
    Key,
    Value,
    Version,
    UpdatedAt,
    UpdatedByPlatform,
}

#[derive(DeriveIden)]
enum LinkCode {
    Table,
    Id,
    CodeHash,
    AccountId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    UsedByAccountId,
}

#[derive(DeriveIden)]
enum LinkAttempt {
    Table,
    Id,
    AccountId,
    Succeeded,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    CreatedAt,
    Actor,
    ActorPlatform,
    Action,
    Target,
    Outcome,
    Detail,
}

#[derive(DeriveIden)]
enum ProcessedEvent {
    Table,
    Platform,
    EventId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SyncConflict {
    Table,
    Id,
    IdentityId,
    Kind,
    Key,
    KeptValue,
    OtherValue,
    KeptPlatform,
    OtherPlatform,
    Strategy,
    Status,
    Resolution,
    CreatedAt,
    ResolvedAt,
}
