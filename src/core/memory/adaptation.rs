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
//!
//! The ratings come from the identity's hot state ([`IdentityHot::ratings`]: loaded with it, added
//! to when feedback is stored, dropped with it by every invalidation), so a reply costs no SQL read.

use crate::config::{Settings, SyncCategory};
use crate::core::privacy::preferences;
use crate::store::hot::{AccountInfo, IdentityHot, RECENT_RATINGS};

/// One stored rating, as adaptation reads it.
pub use crate::store::hot::Rating;

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

/// The note for the system prompt learned from `ratings` (latest first); `None` with no ratings.
pub fn learned_note(ratings: &[&Rating]) -> Option<String> {
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

/// The learned note for a reply to `account`, from the identity's hot state: the latest
/// [`RECENT_RATINGS`] of every platform's feedback when adaptation strategies are shared, otherwise
/// of the feedback given on this platform only.
pub fn note_for(settings: &Settings, state: &IdentityHot, account: &AccountInfo) -> Option<String> {
    let is_shared = preferences::is_shared(settings, state, SyncCategory::AdaptationStrategies);
    let ratings: Vec<&Rating> = state
        .ratings
        .iter()
        .filter(|rating| is_shared || rating.platform == account.platform.as_str())
        .take(RECENT_RATINGS)
        .collect();
    learned_note(&ratings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rating(platform: &str, score: i16, comment: Option<&str>) -> Rating {
        Rating {
            id: 0.into(),
            platform: platform.into(),
            score,
            comment: comment.map(str::to_string),
        }
    }

    #[test]
    fn poor_ratings_with_comments_become_instructions() {
        let note = learned_note(&[
            &rating("slack", 2, Some("Your answers are way too long")),
            &rating("discord", 1, None),
        ])
        .unwrap_or_default();
        assert!(note.contains("rated poorly"), "{note}");
        assert!(note.contains("keep replies short"), "{note}");
        assert!(note.contains("discord, slack"), "{note}");
    }

    #[test]
    fn good_ratings_keep_the_style_and_none_say_nothing() {
        let note = learned_note(&[&rating("teams", 5, Some("lovely"))]).unwrap_or_default();
        assert!(note.contains("keep this style"), "{note}");
        assert!(!note.contains("asked you to"), "{note}");
        assert_eq!(learned_note(&[]), None);
    }

    fn account(platform: whisperengine_contract::Platform) -> AccountInfo {
        AccountInfo {
            id: 1.into(),
            identity_id: uuid::Uuid::nil().into(),
            platform,
            scope: String::new(),
            user_id: "u1".into(),
            display_name: None,
        }
    }

    #[test]
    fn the_note_reads_other_platforms_ratings_only_while_shared() {
        use whisperengine_contract::Platform;
        let mut state = IdentityHot::default();
        state.push_rating(Rating {
            id: 1.into(),
            ..rating("discord", 1, Some("way too long"))
        });
        for id in 2..(RECENT_RATINGS as i64 + 4) {
            state.push_rating(Rating {
                id,
                ..rating("slack", 5, None)
            });
        }
        let discord = account(Platform::Discord);
        let shared = Settings::default();
        let note = note_for(&shared, &state, &discord).unwrap_or_default();
        assert!(
            note.contains(&format!("over {RECENT_RATINGS} ratings, given on slack")),
            "shared: the latest ratings of every platform: {note}"
        );
        let apart = Settings {
            sync_adaptation_strategies: false,
            ..Settings::default()
        };
        let note = note_for(&apart, &state, &discord).unwrap_or_default();
        assert!(
            note.contains("over 1 rating, given on discord") && note.contains("keep replies short"),
            "apart: Discord's own rating, however many came later elsewhere: {note}"
        );
        assert_eq!(note_for(&apart, &state, &account(Platform::Teams)), None);
    }
}
