//! Troubleshooting and satisfaction: `admin cache clear [identity]` (drop the hot layer and the Redis
//! cache; SQL stays the truth, so nothing stored is lost) and `feedback <1-5> [comment]`.

use crate::core::privacy::audit::{self, AuditEntry};
use crate::core::privacy::isolation::{Actor, IsolationTarget};
use crate::core::Result;
use crate::store::accounts;
use crate::store::entities::feedback;
use crate::store::hot::{AccountInfo, Rating};
use crate::store::kinds::AuditOutcome;
use crate::store::Store;
use crate::telemetry::names;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, Set, TransactionTrait};

/// Longest feedback comment kept, in characters.
pub const MAX_COMMENT_CHARS: usize = 500;

/// Drops cached state: of one identity (`Identity`/`Account`) or of everything (`All`), here and in
/// every other host process, plus the matching Redis keys (event-dedupe marks stay, so retries are
/// still recognised). Unsaved emotion blends of this process are written to SQL first.
pub async fn clear_cache(
    store: &Store,
    actor: Actor<'_>,
    target: &IsolationTarget,
) -> Result<std::result::Result<String, String>> {
    let target_text = target.to_string();
    let outcome = match target {
        IsolationTarget::All => {
            save_unsaved_emotions(store).await?;
            crate::store::changes::record_alone(&store.db, store.origin, &[]).await?;
            store.hot.clear();
            let mut keys = 0;
            if let Some(cache) = &store.cache {
                keys = cache.clear_cached().await.unwrap_or_else(|error| {
                    tracing::warn!(%error, "Redis cache not cleared");
                    0
                });
                if let Err(error) = cache.publish_invalidation(None).await {
                    tracing::warn!(%error, "cache clear not published to other processes");
                }
            }
            Ok(format!(
                "Cleared the hot layer of every host process and {keys} Redis keys. Everything is re-read from SQL on next use."
            ))
        }
        IsolationTarget::Identity(_) | IsolationTarget::Account(_) => {
            let identity_id = match target {
                IsolationTarget::Identity(id) => Some(*id),
                IsolationTarget::Account(account) => accounts::find_account(&store.db, account)
                    .await?
                    .map(|found| found.identity_id),
                IsolationTarget::All => None,
            };
            match identity_id {
                None => Err(format!("I don't know {target_text}: nothing cleared.")),
                Some(id) => {
                    crate::store::changes::record_alone(&store.db, store.origin, &[id]).await?;
                    store.invalidate_identities(&[id]).await;
                    let mut keys = 0;
                    if let Some(cache) = &store.cache {
                        keys = cache
                            .delete_keys_containing(&id.to_string())
                            .await
                            .unwrap_or(0);
                    }
                    Ok(format!(
                        "Cleared the cached state of {target_text} in every host process ({keys} Redis keys)."
                    ))
                }
            }
        }
    };
    audit::record(
        &store.db,
        AuditEntry::new(
            actor.label,
            actor.platform,
            "admin.cache_clear",
            if outcome.is_ok() {
                AuditOutcome::Ok
            } else {
                AuditOutcome::Refused
            },
        )
        .target(&target_text),
    )
    .await?;
    Ok(outcome)
}

/// Writes every dirty emotion state of this process to SQL.
async fn save_unsaved_emotions(store: &Store) -> Result<()> {
    for (identity_id, snapshot) in store.hot.take_dirty_emotions() {
        store.save_emotion_state(identity_id, &snapshot).await?;
    }
    Ok(())
}

/// Stores a `feedback` score (1–5) with an optional comment for the caller's identity and platform,
/// adds it to the identity's hot state (the adaptation note reads it from there on the next reply)
/// and refreshes the satisfaction gauge. Other host processes drop their copy of the identity: at
/// once through Redis when configured, and through the SQL change feed written with the row.
pub async fn record_feedback(
    store: &Store,
    caller: &AccountInfo,
    score: u8,
    comment: Option<String>,
) -> Result<()> {
    {
        // Held so that a load of this identity from SQL cannot start before the row is written and
        // be cached after the hot state was updated, leaving the rating out.
        let _guard = store.hot.lock_identity(caller.identity_id).await;
        let transaction = store.db.begin().await?;
        crate::store::changes::record(&transaction, store.origin, &[caller.identity_id]).await?;
        let row = feedback::ActiveModel {
            identity_id: Set(caller.identity_id.into()),
            platform: Set(caller.platform.as_str().to_string()),
            score: Set(i16::from(score)),
            comment: Set(comment),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&transaction)
        .await?;
        transaction.commit().await?;
        store.hot.update_identity(caller.identity_id, |hot| {
            hot.push_rating(Rating {
                id: row.id,
                platform: row.platform,
                score: row.score,
                comment: row.comment,
            })
        });
    }
    if let Some(cache) = store.cache.clone() {
        let identity_id = caller.identity_id;
        // In the background, like a new turn's announcement: the answer does not wait on Redis.
        tokio::spawn(async move {
            if let Err(error) = cache.publish_invalidation(Some(identity_id)).await {
                tracing::debug!(%error, "feedback not announced; the SQL change feed tells the other processes");
            }
        });
    }
    metrics::counter!(
        names::FEEDBACK,
        "platform" => caller.platform.as_str(),
        "score" => score.to_string()
    )
    .increment(1);
    crate::core::ops::kpi::refresh_satisfaction(store).await
}

/// Reads `feedback <1-5> [comment]`; the error is the usage line.
pub fn parse_feedback(args: &[&str]) -> std::result::Result<(u8, Option<String>), String> {
    let usage = || {
        "Usage: `feedback <1-5> [comment]`, e.g. `feedback 5 you remembered my cat!`.".to_string()
    };
    let (score, comment) = args.split_first().ok_or_else(usage)?;
    let score: u8 = score
        .parse()
        .ok()
        .filter(|score| (1..=5).contains(score))
        .ok_or_else(usage)?;
    let comment = comment.join(" ");
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(format!(
            "A feedback comment can be {MAX_COMMENT_CHARS} characters at most."
        ));
    }
    Ok((score, (!comment.trim().is_empty()).then_some(comment)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_takes_a_score_from_1_to_5_and_an_optional_comment() {
        assert_eq!(parse_feedback(&["5"]), Ok((5, None)));
        assert_eq!(
            parse_feedback(&["2", "too", "slow"]),
            Ok((2, Some("too slow".into())))
        );
        for bad in [vec![], vec!["0"], vec!["6"], vec!["great"], vec!["-1"]] {
            assert!(parse_feedback(&bad).is_err(), "{bad:?}");
        }
        let long = "x".repeat(MAX_COMMENT_CHARS + 1);
        assert!(parse_feedback(&["3", &long]).is_err());
    }
}
