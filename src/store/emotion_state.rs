//! Emotional-state rows: the one mapping of a stored row to [`EmotionSnapshot`], and the upsert.

use crate::store::entities::emotional_state;
use crate::store::hot::EmotionSnapshot;
use crate::store::ids::{AccountId, IdentityId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};

impl From<emotional_state::Model> for EmotionSnapshot {
    fn from(row: emotional_state::Model) -> EmotionSnapshot {
        EmotionSnapshot {
            mood: row.mood,
            valence: row.valence,
            intensity: row.intensity,
            updated_at: row.updated_at,
            updated_by_account_id: row.updated_by_account_id.map(AccountId::from),
            version: row.version,
        }
    }
}

/// Writes (upserts) an identity's state on `db` (a connection or a transaction).
pub async fn save_on(
    db: &impl ConnectionTrait,
    identity: IdentityId,
    snapshot: &EmotionSnapshot,
) -> Result<(), DbErr> {
    let row = emotional_state::ActiveModel {
        identity_id: Set(identity.into()),
        mood: Set(snapshot.mood.clone()),
        valence: Set(snapshot.valence),
        intensity: Set(snapshot.intensity),
        updated_at: Set(snapshot.updated_at),
        updated_by_account_id: Set(snapshot.updated_by_account_id.map(AccountId::get)),
        version: Set(snapshot.version),
    };
    let result = emotional_state::Entity::insert(row)
        .on_conflict(
            OnConflict::column(emotional_state::Column::IdentityId)
                .update_columns([
                    emotional_state::Column::Mood,
                    emotional_state::Column::Valence,
                    emotional_state::Column::Intensity,
                    emotional_state::Column::UpdatedAt,
                    emotional_state::Column::UpdatedByAccountId,
                    emotional_state::Column::Version,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await;
    // A deleted identity (forget all, unlink race) has nothing left to save.
    match result {
        Ok(_) => Ok(()),
        Err(error) if error.to_string().to_lowercase().contains("foreign key") => Ok(()),
        Err(error) => Err(error),
    }
}
