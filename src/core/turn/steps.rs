//! Where one message's time goes: the pipeline's finer steps, each recorded as a histogram sample
//! of [`STEP_DETAIL_SECONDS`] (labels `platform`, `step`), in the order of [`STEPS`]. They split
//! the documented coarse steps of `whisperengine_pipeline_step_seconds` further (and add the dedupe
//! check before them), so `whisperengine bench` can print where the time of one message goes.

use std::time::Instant;

/// Histogram in seconds, labels `platform` and `step` (one of [`STEPS`]): time spent in each
/// finer step of the message pipeline.
pub const STEP_DETAIL_SECONDS: &str = "whisperengine_pipeline_step_detail_seconds";

/// The finer steps, in the order a message passes them.
pub const STEPS: &[(&str, &str)] = &[
    ("dedupe", "the event seen before? (hot layer, Redis, SQL)"),
    ("identity", "account → identity, gates, rate limit"),
    ("extract", "facts stated in the text"),
    ("lock_wait", "waiting for the person's lock"),
    ("hot_state", "the person's hot state (SQL when not hot)"),
    ("prepare", "emotion detected, the message's rows and terms"),
    ("facts", "facts stored and made current"),
    ("emotion", "emotional state updated"),
    ("recall", "memories, history and facts gathered"),
    ("prompt", "the prompt built"),
    ("llm", "the responder"),
    ("commit", "the turn written (group commit)"),
    ("hot_update", "the turn added to the hot state"),
];

/// Records the time since the previous lap under each step's name.
pub struct StepClock {
    platform: &'static str,
    last: Instant,
}

impl StepClock {
    /// Starts timing now.
    pub fn start(platform: &'static str) -> StepClock {
        StepClock {
            platform,
            last: Instant::now(),
        }
    }

    /// Records the time since the previous lap (or the start) as `step`.
    pub fn lap(&mut self, step: &'static str) {
        let now = Instant::now();
        metrics::histogram!(STEP_DETAIL_SECONDS, "platform" => self.platform, "step" => step)
            .record(now.duration_since(self.last).as_secs_f64());
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_is_named_once() {
        let mut names: Vec<&str> = STEPS.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), STEPS.len());
    }
}
