//! A person's emotional state: valence/arousal plus a label distribution, an exponential moving
//! average of observations weighted by intensity × confidence that decays toward the personality's
//! baseline with EMOTION_HALF_LIFE, and a trajectory over the last observations. Also the snapshot
//! kept in SQL, and how two linked identities' states merge.

use crate::core::emotion::detect::{coordinates, Detected, LABELS};
use crate::core::privacy::visibility::Origin;
use crate::core::Result;
use crate::llm::Trajectory;
use crate::store::entities::{emotion_observation, emotional_state};
use crate::store::hot::{AccountInfo, EmotionSnapshot};
use crate::store::ids::{AccountId, IdentityId};
use crate::store::{emotion_state, Store};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, EntityTrait};
use whisperengine_contract::{ConversationContext, Platform, Visibility};

pub use crate::store::hot::Observation;

impl Observation {
    /// What a message from `account` in `context` showed, as an observation.
    pub fn of(
        detected: &Detected,
        account: &AccountInfo,
        context: &ConversationContext,
        at: DateTime<Utc>,
    ) -> Observation {
        Observation {
            account_id: account.id,
            label: detected.label.to_string(),
            valence: detected.valence,
            arousal: detected.arousal,
            intensity: detected.intensity,
            confidence: detected.confidence,
            at,
            platform: account.platform,
            scope: context.scope.clone(),
            channel_id: context.channel_id.clone(),
            visibility: context.visibility,
        }
    }

    /// A stored observation of an account on `platform` (the table keeps no arousal or confidence:
    /// the label's arousal and a middling confidence stand in). One stored without its origin
    /// counts as seen in a DM.
    pub fn from_row(row: &emotion_observation::Model, platform: Platform) -> Observation {
        Observation {
            account_id: row.account_id.into(),
            label: row.emotion.clone(),
            valence: row.valence,
            arousal: coordinates(&row.emotion).1,
            intensity: row.intensity,
            confidence: STORED_CONFIDENCE,
            at: row.created_at,
            platform,
            scope: row.scope.clone().unwrap_or_default(),
            channel_id: row.channel_id.clone().unwrap_or_default(),
            visibility: row
                .visibility
                .as_deref()
                .and_then(Visibility::parse)
                .unwrap_or(Visibility::Dm),
        }
    }

    /// Where it was seen, for the visibility rule of [`crate::core::memory::context`].
    pub fn origin(&self) -> Origin<'_> {
        Origin {
            account_id: self.account_id,
            platform: self.platform,
            scope: &self.scope,
            channel_id: Some(&self.channel_id),
            visibility: self.visibility,
        }
    }
}

/// Confidence assumed for observations read back from SQL.
const STORED_CONFIDENCE: f64 = 0.7;

/// The personality's resting state the person's state drifts back to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub valence: f64,
    pub arousal: f64,
}

/// A person's emotional state at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub valence: f64,
    pub arousal: f64,
    pub intensity: f64,
    /// Share of each label in [`LABELS`] order, summing to 1.
    pub distribution: [f64; LABELS.len()],
    pub trajectory: Option<Trajectory>,
}

/// Most observations the state is built from (the hot layer's window of them).
pub use crate::store::hot::MAX_OBSERVATIONS;
/// Observations the trajectory compares (older half against newer half).
pub const TRAJECTORY_WINDOW: usize = 6;
/// How far one fully intense, fully confident observation moves the state.
const LEARNING_RATE: f64 = 0.6;
/// A label leads the state when it holds at least this share; otherwise the state is neutral.
const LEADING_SHARE: f64 = 0.25;

impl State {
    fn baseline(baseline: Baseline) -> State {
        let mut distribution = [0.0; LABELS.len()];
        distribution[LABELS.len() - 1] = 1.0;
        State {
            valence: baseline.valence,
            arousal: baseline.arousal,
            intensity: 0.0,
            distribution,
            trajectory: None,
        }
    }

    /// The leading label, or `neutral` when no feeling holds a clear share.
    pub fn label(&self) -> &'static str {
        let (index, share) = self
            .distribution
            .iter()
            .enumerate()
            .take(LABELS.len() - 1)
            .fold((LABELS.len() - 1, 0.0), |best, (index, share)| {
                if *share > best.1 {
                    (index, *share)
                } else {
                    best
                }
            });
        if share >= LEADING_SHARE {
            LABELS[index]
        } else {
            "neutral"
        }
    }

    /// Moves toward the baseline by the time passed: half the way every `half_life`.
    fn decay(
        &mut self,
        baseline: Baseline,
        elapsed: chrono::Duration,
        half_life: std::time::Duration,
    ) {
        let seconds = elapsed.num_milliseconds().max(0) as f64 / 1000.0;
        let factor = 0.5_f64.powf(seconds / half_life.as_secs_f64().max(1.0));
        let rest = State::baseline(baseline);
        self.valence = rest.valence + (self.valence - rest.valence) * factor;
        self.arousal = rest.arousal + (self.arousal - rest.arousal) * factor;
        self.intensity *= factor;
        for (share, resting) in self.distribution.iter_mut().zip(rest.distribution) {
            *share = resting + (*share - resting) * factor;
        }
    }

    /// Exponential moving average, weighted by intensity × confidence.
    fn observe(&mut self, observation: &Observation) {
        let weight =
            (LEARNING_RATE * observation.intensity * observation.confidence).clamp(0.0, 1.0);
        self.valence += weight * (observation.valence - self.valence);
        self.arousal += weight * (observation.arousal - self.arousal);
        self.intensity += weight * (observation.intensity - self.intensity);
        for (index, share) in self.distribution.iter_mut().enumerate() {
            let target = if LABELS[index] == observation.label {
                1.0
            } else {
                0.0
            };
            *share += weight * (target - *share);
        }
    }
}

/// The state from `observations` (oldest first): each one blended in, the state decaying toward
/// the baseline between them and up to `now`; plus the trajectory of the last few.
pub fn state_of<'a>(
    observations: impl IntoIterator<Item = &'a Observation>,
    baseline: Baseline,
    half_life: std::time::Duration,
    now: DateTime<Utc>,
) -> State {
    let mut state = State::baseline(baseline);
    let mut last_at: Option<DateTime<Utc>> = None;
    let mut valences = Vec::new();
    for observation in observations {
        if let Some(previous) = last_at {
            state.decay(baseline, observation.at - previous, half_life);
        }
        state.observe(observation);
        last_at = Some(observation.at);
        valences.push(observation.valence * observation.intensity);
    }
    if let Some(previous) = last_at {
        state.decay(baseline, now - previous, half_life);
    }
    state.trajectory = trajectory(&valences);
    state
}

/// Improving / steady / declining: the newer half of the last [`TRAJECTORY_WINDOW`] valences
/// against the older half. None with fewer than four observations.
pub fn trajectory(valences: &[f64]) -> Option<Trajectory> {
    let recent = &valences[valences.len().saturating_sub(TRAJECTORY_WINDOW)..];
    if recent.len() < 4 {
        return None;
    }
    let half = recent.len() / 2;
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
    let change = mean(&recent[recent.len() - half..]) - mean(&recent[..half]);
    Some(if change > 0.2 {
        Trajectory::Improving
    } else if change < -0.2 {
        Trajectory::Declining
    } else {
        Trajectory::Steady
    })
}

/// The snapshot kept in SQL (label, valence, intensity) for a state.
pub fn snapshot(
    state: &State,
    previous: Option<&EmotionSnapshot>,
    account_id: AccountId,
    now: DateTime<Utc>,
) -> EmotionSnapshot {
    EmotionSnapshot {
        mood: state.label().to_string(),
        valence: state.valence.clamp(-1.0, 1.0),
        intensity: state.intensity.clamp(0.0, 1.0),
        updated_at: now,
        updated_by_account_id: Some(account_id),
        version: previous.map_or(1, |previous| previous.version + 1),
    }
}

/// When two identities are linked, their emotional states merge as a weighted combination (each
/// weighs by its intensity): both are recent feelings of the same person, so this is not a conflict.
pub async fn merge_states(
    db: &impl ConnectionTrait,
    store: &Store,
    survivor: IdentityId,
    absorbed: IdentityId,
) -> Result<()> {
    let hot_state = |id| store.hot.identity(id).and_then(|state| state.emotion);
    let kept = match hot_state(survivor) {
        Some(state) => Some(state),
        None => emotional_state::Entity::find_by_id(survivor)
            .one(db)
            .await?
            .map(EmotionSnapshot::from),
    };
    let other = match hot_state(absorbed) {
        Some(state) => Some(state),
        None => emotional_state::Entity::find_by_id(absorbed)
            .one(db)
            .await?
            .map(EmotionSnapshot::from),
    };
    let merged = match (kept, other) {
        (Some(kept), Some(other)) => merge_two(&kept, &other),
        (Some(only), None) | (None, Some(only)) => only,
        (None, None) => return Ok(()),
    };
    Ok(emotion_state::save_on(db, survivor, &merged).await?)
}

/// The weighted combination of two states (weights: intensity, equal when both are calm).
pub fn merge_two(first: &EmotionSnapshot, second: &EmotionSnapshot) -> EmotionSnapshot {
    let (weight_first, weight_second) = if first.intensity + second.intensity > 0.0 {
        (first.intensity, second.intensity)
    } else {
        (1.0, 1.0)
    };
    let total = weight_first + weight_second;
    let newer = if second.updated_at > first.updated_at {
        second
    } else {
        first
    };
    let stronger = if weight_second > weight_first {
        second
    } else {
        first
    };
    EmotionSnapshot {
        mood: stronger.mood.clone(),
        valence: (first.valence * weight_first + second.valence * weight_second) / total,
        intensity: (first.intensity * weight_first + second.intensity * weight_second) / total,
        updated_at: newer.updated_at,
        updated_by_account_id: newer.updated_by_account_id,
        version: first.version.max(second.version) + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::emotion::detect::detect;

    const BASELINE: Baseline = Baseline {
        valence: 0.3,
        arousal: 0.3,
    };
    const HALF_LIFE: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

    fn observed(text: &str, minutes: i64) -> Observation {
        let at = Utc::now() - chrono::Duration::minutes(minutes);
        let account = AccountInfo {
            id: 1.into(),
            identity_id: IdentityId::from(uuid::Uuid::nil()),
            platform: Platform::Discord,
            scope: String::new(),
            user_id: "u".into(),
            display_name: None,
        };
        Observation::of(
            &detect(text),
            &account,
            &ConversationContext::direct("dm"),
            at,
        )
    }

    #[test]
    fn the_state_follows_strong_feelings_and_drifts_back_to_the_baseline() {
        let sad = [observed("I'm really sad and heartbroken", 0)];
        let now = Utc::now();
        let state = state_of(&sad, BASELINE, HALF_LIFE, now);
        assert_eq!(state.label(), "sadness");
        assert!(state.valence < BASELINE.valence);
        let later = state_of(&sad, BASELINE, HALF_LIFE, now + chrono::Duration::hours(48));
        assert_eq!(later.label(), "neutral");
        assert!((later.valence - BASELINE.valence).abs() < 0.01);
    }

    #[test]
    fn weak_unsure_observations_move_the_state_less() {
        let now = Utc::now();
        let strong = state_of(
            &[observed("I'm SO furious!!!", 0)],
            BASELINE,
            HALF_LIFE,
            now,
        );
        let weak = state_of(&[observed("a bit annoyed", 0)], BASELINE, HALF_LIFE, now);
        assert!(strong.valence < weak.valence);
    }

    #[test]
    fn the_trajectory_compares_recent_observations() {
        let now = Utc::now();
        let improving: Vec<Observation> = [
            "I'm so sad and miserable",
            "still sad, crying",
            "feeling down",
            "it's good today",
            "I'm really happy!",
            "this is wonderful, so glad",
        ]
        .iter()
        .enumerate()
        .map(|(index, text)| observed(text, 60 - index as i64))
        .collect();
        let state = state_of(&improving, BASELINE, HALF_LIFE, now);
        assert_eq!(state.trajectory, Some(Trajectory::Improving));
        let reversed: Vec<Observation> = improving
            .iter()
            .rev()
            .enumerate()
            .map(|(index, o)| Observation {
                at: now - chrono::Duration::minutes(60 - index as i64),
                ..o.clone()
            })
            .collect();
        let state = state_of(&reversed, BASELINE, HALF_LIFE, now);
        assert_eq!(state.trajectory, Some(Trajectory::Declining));
        assert_eq!(trajectory(&[0.1, 0.2]), None);
    }

    #[test]
    fn linked_states_merge_as_a_weighted_combination() {
        let at = Utc::now();
        let sad = EmotionSnapshot {
            mood: "sadness".into(),
            valence: -0.6,
            intensity: 0.9,
            updated_at: at,
            updated_by_account_id: Some(1.into()),
            version: 3,
        };
        let calm = EmotionSnapshot {
            mood: "joy".into(),
            valence: 0.4,
            intensity: 0.1,
            updated_at: at + chrono::Duration::seconds(1),
            updated_by_account_id: Some(2.into()),
            version: 5,
        };
        let merged = merge_two(&sad, &calm);
        assert!((merged.valence - (-0.5)).abs() < 1e-9, "{merged:?}");
        assert_eq!(merged.mood, "sadness");
        assert_eq!(merged.version, 6);
    }
}
