//! A stored turn announced to the other host processes with its content, so a process holding the
//! person in its hot layer appends the turn there instead of dropping the person and reading them
//! back from SQL with their next message.
//!
//! The announcement is published on Redis pub/sub right after the turn committed ([`crate::store::cache::SharedCache::publish_turn`]).
//! It carries the user's message and the reply as the hot layer keeps them (recall terms
//! included), the emotion observation the message made and the person's new emotion snapshot. With
//! DATA_ENCRYPTION_KEY set the whole payload is sealed like the memories in SQL, so Redis never
//! sees the content in clear; a process with another key cannot open it and drops the person's
//! hot state instead, as for an invalidation.
//!
//! A receiver that does not hold the person ignores the content (their next message reads SQL)
//! but still counts it as a change, so a load of that person already under way is not kept. One
//! that read the person from SQL after the turn committed ignores it too: the read holds the turn,
//! or the person had it forgotten in between, and it must not come back. A
//! turn that stated facts is not announced with its content: facts get ids in SQL that the hot
//! layer needs, so that turn is announced as an invalidation.

use crate::store::crypto::ContentCipher;
use crate::store::hot::{
    EmotionSnapshot, HotLayer, IdentityHot, Observation, TurnRecord, MAX_OBSERVATIONS,
};
use crate::store::ids::IdentityId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One stored turn as another process receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnAnnouncement {
    /// The publishing process (it ignores its own announcements).
    pub origin: Uuid,
    /// When the turn committed, for the propagation histogram.
    pub committed_at: DateTime<Utc>,
    pub identity: IdentityId,
    /// The user's message and the reply, oldest first.
    pub turns: Vec<TurnRecord>,
    /// The observation the user's message made, if it showed a feeling.
    pub observation: Option<Observation>,
    /// The person's emotion snapshot after the turn, if the turn moved it.
    pub emotion: Option<EmotionSnapshot>,
}

/// Why a payload was not applied.
#[derive(Debug, thiserror::Error)]
pub enum AnnouncementError {
    #[error("sealed announcement, but this process has no DATA_ENCRYPTION_KEY or another one")]
    CannotOpen,
    #[error("announcement in clear, but DATA_ENCRYPTION_KEY is set here")]
    NotSealed,
    #[error("malformed announcement: {0}")]
    Malformed(#[from] serde_json::Error),
}

/// What applying an announcement did to this process's hot layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The person is hot here: their turns were appended (`added` of them, the others were held already).
    Appended { added: usize },
    /// The person is not hot here: nothing to update.
    NotHeld,
}

impl TurnAnnouncement {
    /// The payload to publish: JSON, sealed when there is a cipher.
    pub fn encode(&self, cipher: Option<&ContentCipher>) -> Result<String, serde_json::Error> {
        let json = serde_json::to_string(self)?;
        Ok(match cipher {
            Some(cipher) => cipher.seal(&json),
            None => json,
        })
    }

    /// Reads a payload published by [`TurnAnnouncement::encode`] with the same cipher (or none).
    pub fn decode(
        payload: &str,
        cipher: Option<&ContentCipher>,
    ) -> Result<TurnAnnouncement, AnnouncementError> {
        let is_sealed = payload.starts_with(crate::store::crypto::SEALED_PREFIX);
        let json = match (cipher, is_sealed) {
            (Some(cipher), true) => cipher
                .open(payload)
                .map_err(|_| AnnouncementError::CannotOpen)?,
            (Some(_), false) => return Err(AnnouncementError::NotSealed),
            (None, true) => return Err(AnnouncementError::CannotOpen),
            (None, false) => payload.to_string(),
        };
        Ok(serde_json::from_str(&json)?)
    }

    /// Brings the person's hot state here up to date with the turn, when it is held. Either way the
    /// hot layer counts a change, so a load of this person that began before the commit (and so
    /// misses the turn) is not kept.
    pub fn apply(self, hot: &HotLayer) -> Applied {
        let TurnAnnouncement {
            identity,
            committed_at,
            turns,
            observation,
            emotion,
            ..
        } = self;
        let mut added = 0;
        let held = hot.update_identity(identity, |state| {
            // Read from SQL after the commit: the turn is in the state, or was forgotten since
            // (a `forget` here between the commit and this message must not bring it back).
            if state.read_since.is_some_and(|read| committed_at < read) {
                return;
            }
            added = merge(state, turns, observation, emotion);
        });
        if held {
            Applied::Appended { added }
        } else {
            hot.note_outside_change();
            Applied::NotHeld
        }
    }
}

/// Adds announced turns (in time order, skipping any held already: a reload after the commit may
/// have read them), the observation and, unless this process has a newer unsaved one, the snapshot.
fn merge(
    state: &mut IdentityHot,
    turns: Vec<TurnRecord>,
    observation: Option<Observation>,
    emotion: Option<EmotionSnapshot>,
) -> usize {
    let mut added = 0;
    for turn in turns {
        if state.insert_turn_in_order(turn) {
            added += 1;
        }
    }
    if let Some(observation) = observation {
        state.insert_observation_in_order(observation, MAX_OBSERVATIONS);
    }
    if let Some(snapshot) = emotion {
        let is_newer = state
            .emotion
            .as_ref()
            .is_none_or(|held| held.updated_at <= snapshot.updated_at);
        // An unsaved snapshot of this process is its own to write; the announced one was written
        // (or is being written) by its publisher.
        if is_newer && !state.emotion_dirty {
            state.emotion = Some(snapshot);
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ids::AccountId;
    use whisperengine_contract::{Platform, Visibility};

    fn turn(account: AccountId, is_user: bool, content: &str, at: DateTime<Utc>) -> TurnRecord {
        TurnRecord {
            memory_id: None,
            account_id: account,
            is_user,
            content: content.into(),
            platform: Platform::Slack,
            scope: "dm".into(),
            channel_id: "D1".into(),
            visibility: Visibility::Dm,
            importance: 0.5,
            emotion: None,
            created_at: at,
            terms: vec!["sourdough".to_string()].into(),
            last_recalled_at: None,
        }
    }

    fn announcement(
        identity: IdentityId,
        account: AccountId,
        at: DateTime<Utc>,
    ) -> TurnAnnouncement {
        TurnAnnouncement {
            origin: Uuid::new_v4(),
            committed_at: at,
            identity,
            turns: vec![
                turn(account, true, "I bake sourdough", at),
                turn(account, false, "Lovely!", at),
            ],
            observation: None,
            emotion: Some(EmotionSnapshot {
                mood: "joy".into(),
                valence: 0.6,
                intensity: 0.5,
                updated_at: at,
                updated_by_account_id: Some(account),
                version: 3,
            }),
        }
    }

    fn key() -> ContentCipher {
        let key = secrecy::SecretString::from("11".repeat(32));
        ContentCipher::from_key(&key).expect("a valid key")
    }

    #[test]
    fn encodes_and_decodes_in_clear_and_sealed() {
        let at = Utc::now();
        let sent = announcement(IdentityId::random(), AccountId::from(7), at);
        let clear = sent.encode(None).expect("encodes");
        assert_eq!(
            TurnAnnouncement::decode(&clear, None).expect("decodes"),
            sent
        );
        let cipher = key();
        let sealed = sent.encode(Some(&cipher)).expect("encodes");
        assert!(
            !sealed.contains("sourdough"),
            "sealed payload shows the content"
        );
        assert_eq!(
            TurnAnnouncement::decode(&sealed, Some(&cipher)).expect("opens"),
            sent
        );
        assert!(matches!(
            TurnAnnouncement::decode(&sealed, None),
            Err(AnnouncementError::CannotOpen)
        ));
        assert!(matches!(
            TurnAnnouncement::decode(&clear, Some(&cipher)),
            Err(AnnouncementError::NotSealed)
        ));
        assert!(matches!(
            TurnAnnouncement::decode("{\"origin\":1}", None),
            Err(AnnouncementError::Malformed(_))
        ));
    }

    #[test]
    fn appends_once_in_time_order_and_keeps_an_unsaved_snapshot() {
        let hot = HotLayer::new(16, std::time::Duration::from_secs(3600));
        let identity = IdentityId::random();
        let account = AccountId::from(7);
        let earlier = Utc::now() - chrono::Duration::seconds(5);
        let later = Utc::now();
        let mut state = IdentityHot::default();
        state.push_turn(turn(account, true, "I play chess", later));
        hot.insert_identity(identity, state);

        let sent = announcement(identity, account, earlier);
        assert_eq!(sent.clone().apply(&hot), Applied::Appended { added: 2 });
        assert_eq!(sent.clone().apply(&hot), Applied::Appended { added: 0 });
        let held = hot.identity(identity).expect("held");
        let contents: Vec<&str> = held
            .recent
            .iter()
            .map(|turn| turn.content.as_str())
            .collect();
        assert_eq!(contents, ["I bake sourdough", "Lovely!", "I play chess"]);
        assert_eq!(held.recallable.len(), 2);
        assert_eq!(held.emotion.as_ref().map(|e| e.version), Some(3));

        hot.update_identity(identity, |state| {
            state.emotion_dirty = true;
            if let Some(emotion) = state.emotion.as_mut() {
                emotion.version = 9;
            }
        });
        let mut newer = announcement(identity, account, later);
        newer.turns.clear();
        newer.apply(&hot);
        let held = hot.identity(identity).expect("held");
        assert_eq!(held.emotion.as_ref().map(|e| e.version), Some(9));
    }

    #[test]
    fn a_turn_committed_before_the_state_was_read_is_not_applied() {
        let hot = HotLayer::new(16, std::time::Duration::from_secs(3600));
        let identity = IdentityId::random();
        let account = AccountId::from(7);
        let committed = Utc::now() - chrono::Duration::seconds(2);
        // Read (say, right after a `forget` here) after the turn committed elsewhere.
        let state = IdentityHot {
            read_since: Some(Utc::now()),
            ..IdentityHot::default()
        };
        hot.insert_identity(identity, state);
        let sent = announcement(identity, account, committed);
        assert_eq!(sent.apply(&hot), Applied::Appended { added: 0 });
        let held = hot.identity(identity).expect("held");
        assert!(held.recent.is_empty() && held.emotion.is_none(), "{held:?}");

        // A turn committed after the read is new to the state.
        let newer = announcement(identity, account, Utc::now() + chrono::Duration::seconds(1));
        assert_eq!(newer.apply(&hot), Applied::Appended { added: 2 });
    }

    #[test]
    fn a_person_not_held_counts_as_a_change() {
        let hot = HotLayer::new(16, std::time::Duration::from_secs(3600));
        let before = hot.generation();
        let sent = announcement(IdentityId::random(), AccountId::from(7), Utc::now());
        assert_eq!(sent.apply(&hot), Applied::NotHeld);
        assert_ne!(hot.generation(), before);
    }
}
