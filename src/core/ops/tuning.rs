//! Adaptive performance tuning (ADAPTIVE_PERFORMANCE_TUNING): the host measures its reply latency
//! per platform and shrinks the context (recalled memories, history turns) when replies run over
//! the platform's response-time target, growing it back when they are comfortably under. The
//! target and the full context are the platform's row of the per-platform table
//! ([`Settings::profile`]: `<PLATFORM>_RESPONSE_TARGET_MS`, `_MEMORY_TOP_K`, `_HISTORY_TURNS`). The
//! current values are exported on /metrics (`whisperengine_context_memories`,
//! `whisperengine_context_history_turns`, `whisperengine_reply_latency_ema_seconds`).

use crate::config::Settings;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use whisperengine_contract::Platform;

/// Smallest share of the configured context kept under load.
const MIN_SCALE: f64 = 0.25;
/// Weight of the newest reply in the latency average.
const EMA_WEIGHT: f64 = 0.2;
/// Shrink by this factor when over target; grow by [`GROW`] when under half of it.
const SHRINK: f64 = 0.8;
const GROW: f64 = 1.1;

use crate::core::memory::context::Limits;

#[derive(Debug, Clone, Copy)]
struct Budget {
    latency_ema_seconds: f64,
    scale: f64,
}

/// Per-platform latency averages and context scale; shared by the whole process.
#[derive(Debug, Default)]
pub struct Tuner {
    budgets: Mutex<HashMap<Platform, Budget>>,
}

impl Tuner {
    /// The context a reply on `platform` gets now.
    pub fn limits(&self, settings: &Settings, platform: Platform) -> Limits {
        let base = Limits::configured(settings, platform);
        if !settings.adaptive_performance_tuning {
            return base;
        }
        let scale = self.scale(platform);
        scaled(base, scale)
    }

    /// The current scale (1 = the configured context) for `platform`.
    pub fn scale(&self, platform: Platform) -> f64 {
        self.lock()
            .get(&platform)
            .map_or(1.0, |budget| budget.scale)
    }

    /// Records one reply's latency and adapts the platform's scale.
    pub fn record(&self, settings: &Settings, platform: Platform, latency: Duration) {
        if !settings.adaptive_performance_tuning {
            return;
        }
        let target = settings.profile(platform).response_target.as_secs_f64();
        let seconds = latency.as_secs_f64();
        let budget = {
            let mut budgets = self.lock();
            let budget = budgets.entry(platform).or_insert(Budget {
                latency_ema_seconds: seconds,
                scale: 1.0,
            });
            budget.latency_ema_seconds += EMA_WEIGHT * (seconds - budget.latency_ema_seconds);
            budget.scale = adapt(budget.scale, budget.latency_ema_seconds, target);
            *budget
        };
        let limits = scaled(Limits::configured(settings, platform), budget.scale);
        let label = platform.as_str();
        metrics::gauge!("whisperengine_reply_latency_ema_seconds", "platform" => label)
            .set(budget.latency_ema_seconds);
        metrics::gauge!("whisperengine_context_memories", "platform" => label)
            .set(limits.memories as f64);
        metrics::gauge!("whisperengine_context_history_turns", "platform" => label)
            .set(limits.history_turns as f64);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Platform, Budget>> {
        self.budgets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The next scale: smaller when the average is over target, larger when well under it.
fn adapt(scale: f64, latency_seconds: f64, target_seconds: f64) -> f64 {
    if latency_seconds > target_seconds {
        (scale * SHRINK).max(MIN_SCALE)
    } else if latency_seconds < target_seconds / 2.0 {
        (scale * GROW).min(1.0)
    } else {
        scale
    }
}

fn scaled(base: Limits, scale: f64) -> Limits {
    let apply = |count: usize| {
        if count == 0 {
            0
        } else {
            ((count as f64 * scale).round() as usize).max(1)
        }
    };
    Limits {
        memories: apply(base.memories),
        history_turns: apply(base.history_turns),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_replies_shrink_the_context_and_fast_ones_grow_it_back() {
        let settings = Settings::default();
        let tuner = Tuner::default();
        let full = tuner.limits(&settings, Platform::Slack);
        assert_eq!(full.memories, settings.memory_top_k);
        let teams = tuner.limits(&settings, Platform::Teams);
        for _ in 0..20 {
            tuner.record(&settings, Platform::Slack, Duration::from_secs(6));
        }
        let shrunk = tuner.limits(&settings, Platform::Slack);
        assert!(
            shrunk.memories < full.memories && shrunk.memories >= 1,
            "{shrunk:?}"
        );
        assert!(shrunk.history_turns < full.history_turns);
        assert_eq!(
            tuner.limits(&settings, Platform::Teams),
            teams,
            "per platform"
        );
        for _ in 0..60 {
            tuner.record(&settings, Platform::Slack, Duration::from_millis(100));
        }
        assert_eq!(tuner.limits(&settings, Platform::Slack), full);
    }

    #[test]
    fn with_tuning_off_the_configured_context_is_used() {
        let settings = Settings {
            adaptive_performance_tuning: false,
            ..Settings::default()
        };
        let tuner = Tuner::default();
        for _ in 0..20 {
            tuner.record(&settings, Platform::Slack, Duration::from_secs(60));
        }
        assert_eq!(
            tuner.limits(&settings, Platform::Slack).memories,
            settings.memory_top_k
        );
    }
}
