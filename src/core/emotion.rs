//! Emotion: a small lexicon-based detector for a user's message, and the identity's emotional state
//! (a blend of recent observations), kept hot and flushed to SQL on EMOTIONAL_SYNC_INTERVAL.

use crate::core::Result;
use crate::store::entities::{emotional_state, sync_conflict};
use crate::store::hot::EmotionSnapshot;
use crate::store::Store;
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use uuid::Uuid;

/// What the detector read in one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Detected {
    /// `happy`, `excited`, `grateful`, `sad`, `lonely`, `angry`, `anxious`, `tired` or `neutral`.
    pub label: &'static str,
    /// -1 (negative) ..= 1 (positive).
    pub valence: f64,
    /// 0 ..= 1.
    pub intensity: f64,
}

impl Detected {
    pub fn is_neutral(&self) -> bool {
        self.label == "neutral"
    }
}

/// (label, valence, words). Stems match word starts ("excit" matches "excited", "exciting").
const LEXICON: &[(&str, f64, &[&str])] = &[
    (
        "happy",
        0.7,
        &[
            "happy",
            "glad",
            "great",
            "wonderful",
            "awesome",
            "love",
            "loving",
            "joy",
            "delight",
            "good",
            "fantastic",
            "amazing",
            "yay",
            "proud",
        ],
    ),
    (
        "excited",
        0.8,
        &[
            "excit",
            "thrill",
            "can't wait",
            "cant wait",
            "pumped",
            "stoked",
        ],
    ),
    ("grateful", 0.7, &["thank", "grateful", "appreciat"]),
    (
        "sad",
        -0.7,
        &[
            "sad",
            "unhappy",
            "depress",
            "miserable",
            "cry",
            "crying",
            "heartbroken",
            "down",
            "upset",
            "grief",
            "griev",
            "miss him",
            "miss her",
            "lost my",
        ],
    ),
    (
        "lonely",
        -0.6,
        &["lonely", "alone", "isolat", "no friends", "nobody"],
    ),
    (
        "angry",
        -0.8,
        &[
            "angry", "furious", "mad", "annoy", "hate", "irritat", "pissed", "frustrat", "rage",
        ],
    ),
    (
        "anxious",
        -0.6,
        &[
            "anxious",
            "worried",
            "worry",
            "nervous",
            "scared",
            "afraid",
            "stress",
            "panic",
            "overwhelm",
            "fear",
        ],
    ),
    (
        "tired",
        -0.3,
        &[
            "tired",
            "exhausted",
            "sleepy",
            "drained",
            "burnt out",
            "burned out",
        ],
    ),
];

const INTENSIFIERS: &[&str] = &[
    "very",
    "so",
    "really",
    "extremely",
    "incredibly",
    "super",
    "totally",
];
const NEGATIONS: &[&str] = &[
    "not", "no", "never", "don't", "dont", "isn't", "isnt", "wasn't", "barely",
];

/// Reads the dominant emotion of a message.
pub fn detect(text: &str) -> Detected {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|word| !word.is_empty())
        .collect();
    let mut scores: Vec<(&'static str, f64, f64)> = Vec::new();
    for (label, valence, stems) in LEXICON {
        let mut hits = 0.0;
        for stem in *stems {
            if stem.contains(' ') {
                if lower.contains(stem) {
                    hits += 1.0;
                }
                continue;
            }
            for (index, word) in words.iter().enumerate() {
                if word.starts_with(stem) && (stem.len() >= 4 || *word == *stem) {
                    let before = &words[index.saturating_sub(3)..index];
                    if before.iter().any(|w| NEGATIONS.contains(w)) {
                        continue; // "not happy" is not happiness; we do not guess its opposite
                    }
                    let boost = if before.iter().any(|w| INTENSIFIERS.contains(w)) {
                        1.5
                    } else {
                        1.0
                    };
                    hits += boost;
                }
            }
        }
        if hits > 0.0 {
            scores.push((label, *valence, hits));
        }
    }
    let Some((label, valence, hits)) = scores
        .into_iter()
        .max_by(|a, b| a.2.partial_cmp(&b.2).unwrap_or(std::cmp::Ordering::Equal))
    else {
        return Detected {
            label: "neutral",
            valence: 0.0,
            intensity: 0.0,
        };
    };
    let exclamations = text.matches('!').count().min(3) as f64;
    let shouting = text.len() > 8
        && text
            .chars()
            .filter(|c| c.is_alphabetic())
            .all(|c| c.is_uppercase());
    let intensity = (0.35 + 0.2 * hits + 0.08 * exclamations + if shouting { 0.15 } else { 0.0 })
        .clamp(0.0, 1.0);
    Detected {
        label,
        valence,
        intensity,
    }
}

/// Blends an observation into the state: recent feelings weigh more, strong ones most.
pub fn blend(
    previous: Option<&EmotionSnapshot>,
    observed: &Detected,
    account_id: i64,
) -> EmotionSnapshot {
    let now = Utc::now();
    let weight = 0.3 + 0.5 * observed.intensity;
    match previous {
        None => EmotionSnapshot {
            mood: observed.label.to_string(),
            valence: observed.valence * observed.intensity,
            intensity: observed.intensity,
            updated_at: now,
            updated_by_account_id: Some(account_id),
            version: 1,
        },
        Some(previous) => {
            let valence =
                previous.valence * (1.0 - weight) + observed.valence * observed.intensity * weight;
            let intensity = previous.intensity * (1.0 - weight) + observed.intensity * weight;
            let mood = if observed.is_neutral() && intensity < 0.25 {
                "neutral".to_string()
            } else if observed.is_neutral() {
                previous.mood.clone()
            } else {
                observed.label.to_string()
            };
            EmotionSnapshot {
                mood,
                valence: valence.clamp(-1.0, 1.0),
                intensity: intensity.clamp(0.0, 1.0),
                updated_at: now,
                updated_by_account_id: Some(account_id),
                version: previous.version + 1,
            }
        }
    }
}

/// Writes (upserts) an identity's state.
pub async fn save_state(store: &Store, identity: Uuid, snapshot: &EmotionSnapshot) -> Result<()> {
    save_state_on(&store.db, identity, snapshot).await
}

async fn save_state_on(
    db: &impl ConnectionTrait,
    identity: Uuid,
    snapshot: &EmotionSnapshot,
) -> Result<()> {
    let row = emotional_state::ActiveModel {
        identity_id: Set(identity),
        mood: Set(snapshot.mood.clone()),
        valence: Set(snapshot.valence),
        intensity: Set(snapshot.intensity),
        updated_at: Set(snapshot.updated_at),
        updated_by_account_id: Set(snapshot.updated_by_account_id),
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
        Err(error) => Err(error.into()),
    }
}

/// When two identities are linked, one emotional state survives: the most recently updated one
/// (both are recent feelings of the same person; the newer is the better guess). Recorded as a
/// resolved conflict when both had a state.
pub async fn merge_states(
    db: &impl ConnectionTrait,
    store: &Store,
    survivor: Uuid,
    absorbed: Uuid,
) -> Result<()> {
    let hot_state = |id| store.hot.identity(id).and_then(|state| state.emotion);
    let kept = match hot_state(survivor) {
        Some(state) => Some(state),
        None => emotional_state::Entity::find_by_id(survivor)
            .one(db)
            .await?
            .map(snapshot_of),
    };
    let other = match hot_state(absorbed) {
        Some(state) => Some(state),
        None => emotional_state::Entity::find_by_id(absorbed)
            .one(db)
            .await?
            .map(snapshot_of),
    };
    let (Some(kept), Some(other)) = (kept.clone(), other.clone()) else {
        if let Some(only) = other.or(kept) {
            save_state_on(db, survivor, &only).await?;
        }
        return Ok(());
    };
    let (winner, loser) = if other.updated_at > kept.updated_at {
        (other, kept)
    } else {
        (kept, other)
    };
    save_state_on(db, survivor, &winner).await?;
    sync_conflict::ActiveModel {
        identity_id: Set(survivor),
        kind: Set("emotional_state".into()),
        key: Set("mood".into()),
        kept_value: Set(format!("{} ({:+.2})", winner.mood, winner.valence)),
        other_value: Set(format!("{} ({:+.2})", loser.mood, loser.valence)),
        kept_platform: Set(String::new()),
        other_platform: Set(String::new()),
        strategy: Set("latest_wins".into()),
        status: Set("resolved".into()),
        resolution: Set(Some("kept the most recently updated state on link".into())),
        created_at: Set(Utc::now()),
        resolved_at: Set(Some(Utc::now())),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Maps a stored state row.
pub fn snapshot_of(row: emotional_state::Model) -> EmotionSnapshot {
    EmotionSnapshot {
        mood: row.mood,
        valence: row.valence,
        intensity: row.intensity,
        updated_at: row.updated_at,
        updated_by_account_id: row.updated_by_account_id,
        version: row.version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_common_feelings() {
        assert_eq!(detect("I'm so sad today, I miss her").label, "sad");
        assert_eq!(detect("This is amazing, I'm really happy!").label, "happy");
        assert_eq!(detect("I'm worried about my exam").label, "anxious");
        assert_eq!(detect("I hate this, it's so frustrating").label, "angry");
        assert_eq!(detect("What's the weather like?").label, "neutral");
    }

    #[test]
    fn negation_and_intensity_are_read() {
        assert_eq!(detect("I'm not happy about it").label, "neutral");
        assert!(detect("I am very very sad!!!").intensity > detect("I am sad").intensity);
    }

    #[test]
    fn the_state_follows_strong_feelings_and_settles_on_neutral_talk() {
        let sad = detect("I'm really sad and heartbroken");
        let state = blend(None, &sad, 1);
        assert_eq!(state.mood, "sad");
        assert!(state.valence < 0.0);
        let mut settled = state.clone();
        for _ in 0..8 {
            settled = blend(Some(&settled), &detect("ok, what is the time"), 1);
        }
        assert_eq!(settled.mood, "neutral");
        assert!(settled.version > state.version);
    }
}
