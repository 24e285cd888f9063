//! Where a feeling was seen: `emotion_observation.visibility`, `.scope` and `.channel_id` copy the
//! conversation of the message that showed it, so a mood read from a DM does not colour a reply in a
//! channel or a group chat (the same visibility rule as memories).
//!
//! The columns are nullable: an observation stored before this migration has no origin and counts as
//! said in a DM (the most private place), so it is never shown anywhere but the person's DMs.

use sea_orm_migration::{prelude::*, schema::*};

/// Adds the origin columns of `emotion_observation`.
#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: [(&str, EmotionObservation); 3] = [
    ("visibility", EmotionObservation::Visibility),
    ("scope", EmotionObservation::Scope),
    ("channel_id", EmotionObservation::ChannelId),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for (name, column) in COLUMNS {
            if !manager.has_column("emotion_observation", name).await? {
                manager
                    .alter_table(
                        Table::alter()
                            .table(EmotionObservation::Table)
                            .add_column(string_null(column))
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, column) in COLUMNS {
            if manager.has_column("emotion_observation", name).await? {
                manager
                    .alter_table(
                        Table::alter()
                            .table(EmotionObservation::Table)
                            .drop_column(column)
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum EmotionObservation {
    Table,
    Visibility,
    Scope,
    ChannelId,
}
