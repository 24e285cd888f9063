//! Emotion: a lexicon-based detector (ten labels, intensity, confidence, negation, intensifiers) for
//! a user's message, and the person's state: valence/arousal plus a label distribution, an
//! exponential moving average of observations weighted by intensity × confidence that decays toward
//! the personality's baseline with EMOTION_HALF_LIFE, and a trajectory over the last observations.
//! The state is rebuilt from the recent observations (kept hot, with their origin account), so it is
//! shared across linked accounts when SYNC_EMOTIONAL_STATE is on and per account when off; its
//! summary is flushed to SQL on EMOTIONAL_SYNC_INTERVAL.
//!
//! - [`detect`](mod@detect): the lexicon detector, one message → [`Detected`].
//! - [`state`]: observations, the state built from them, and its snapshot in SQL.

pub mod detect;
pub mod state;

pub use detect::{detect, Detected};
pub use state::{merge_states, snapshot, state_of, Baseline, Observation, State, MAX_OBSERVATIONS};
