//! What feedback taught the companion about one person (the seed's "adaptation strategies": learned
//! response preferences). `feedback <1-5> [comment]` (and 👍/👎 on Discord) is stored per identity
//! and platform; before a reply, the latest ratings become a note in the system prompt: keep the
//! style when they are good, change course when they are poor, and what the comments asked for
//! ("too long" → shorter replies, "more detail" → fuller ones, ...).
//!
//! SYNC_ADAPTATION_STRATEGIES (and `privacy set adaptation_strategies on|off`) decides whether
//! what was learned on one platform applies on the others: on, every platform's feedback counts;
//! off, only the feedback given on the platform being answered. Read per reply, so a change takes
//! effect on the next message and is reversible. The host's latency tuning (`tuning`) is per
//! platform and not personal, so this switch does not touch it.

use crate::config::{Settings, SyncCategory};
use crate::core::{preferences, Result};
use crate::store::entities::feedback;
use crate::store::hot::{AccountInfo, IdentityHot};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// Latest ratings considered.
const RECENT_RATINGS: u64 = 10;

/// What a comment may ask for: words that signal it, and the instruction it becomes.
const CUES: &[(&[&str], &str)] = &[
    (
        &[
            "too long",
            "shorter",
            "verbose",
            "wordy",
            "ramble",
            "less text",
        ],
        "keep replies short and to the point",
    ),
    (
        &[
            "too short",
            "more detail",
            "longer",
            "elaborate",
            "too brief",
        ],
        "give fuller, more detailed replies",
    ),
    (
        &["cold", "robotic", "warmer", "more empathy", "impersonal"],
        "be warmer and more personal",
    ),
    (
        &["too many questions", "stop asking", "fewer questions"],
        "ask fewer questions",
    ),
    (
        &["too casual", "more formal", "unprofessional"],
        "be more formal",
    ),
];

/// One stored rating, as adaptation reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rating {
    pub platform: String,
    pub score: i16,
    pub comment: Option<String>,
}

/// The note for the system prompt learned from `ratings` (latest first); `None` with no ratings.
pub fn learned_note(ratings: &[Rating]) -> Option<String> {
    if ratings.is_empty() {
        return None;
    }
    let mean = ratings.iter().map(|r| f64::from(r.score)).sum::<f64>() / ratings.len() as f64;
    let mut platforms: Vec<&str> = ratings.iter().map(|r| r.platform.as_str()).collect();
    platforms.sort_unstable();
    platforms.dedup();
    let mut asks: Vec<&str> = Vec::new();
    for rating in ratings {
        let Some(comment) = &rating.comment else {
            continue;
        };
        let comment = comment.to_lowercase();
        for (signals, instruction) in CUES {
            if signals.iter().any(|signal| comment.contains(signal)) && !asks.contains(instruction)
            {
                asks.push(instruction);
            }
        }
    }
    let verdict = if mean <= 2.5 {
        "recent replies were rated poorly: change your approach"
    } else if mean >= 4.0 {
        "recent replies were rated well: keep this style"
    } else {
        "recent replies were rated as mixed"
    };
    let mut note = format!(
        "What this person's feedback taught you (mean {mean:.1}/5 over {} rating{}, given on {}): {verdict}",
        ratings.len(),
        if ratings.len() == 1 { "" } else { "s" },
        platforms.join(", ")
    );
    if !asks.is_empty() {
        note.push_str("; they asked you to ");
        note.push_str(&asks.join(", "));
    }
    note.push('.');
    Some(note)
}

/// The learned note for a reply to `account`: every platform's feedback when adaptation
/// strategies are shared, otherwise the feedback given on this platform only.
pub async fn note_for(
    db: &DatabaseConnection,
    settings: &Settings,
    state: &IdentityHot,
    account: &AccountInfo,
) -> Result<Option<String>> {
    let mut query = feedback::Entity::find()
        .filter(feedback::Column::IdentityId.eq(account.identity_id))
        .order_by_desc(feedback::Column::Id)
        .limit(RECENT_RATINGS);
    if !preferences::is_shared(settings, state, SyncCategory::AdaptationStrategies) {
        query = query.filter(feedback::Column::Platform.eq(account.platform.as_str()));
    }
    let ratings: Vec<Rating> = query
        .all(db)
        .await?
        .into_iter()
        .map(|row| Rating {
            platform: row.platform,
            score: row.score,
            comment: row.comment,
        })
        .collect();
    Ok(learned_note(&ratings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rating(platform: &str, score: i16, comment: Option<&str>) -> Rating {
        Rating {
            platform: platform.into(),
            score,
            comment: comment.map(str::to_string),
        }
    }

    #[test]
    fn poor_ratings_with_comments_become_instructions() {
        let note = learned_note(&[
            rating("slack", 2, Some("Your answers are way too long")),
            rating("discord", 1, None),
        ])
        .unwrap_or_default();
        assert!(note.contains("rated poorly"), "{note}");
        assert!(note.contains("keep replies short"), "{note}");
        assert!(note.contains("discord, slack"), "{note}");
    }

    #[test]
    fn good_ratings_keep_the_style_and_none_say_nothing() {
        let note = learned_note(&[rating("teams", 5, Some("lovely"))]).unwrap_or_default();
        assert!(note.contains("keep this style"), "{note}");
        assert!(!note.contains("asked you to"), "{note}");
        assert_eq!(learned_note(&[]), None);
    }
}
