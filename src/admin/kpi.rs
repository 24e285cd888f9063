//! The overview's time series: a background task samples the host's own counters every
//! [`SAMPLE_EVERY`] into a bounded ring buffer, and [`sparkline`] draws a series as the points of
//! an inline SVG polyline. Figures are measured (the Prometheus registry of this process and SQL),
//! never estimated.

use crate::admin::queries;
use crate::core::Core;
use crate::store::kinds::ConflictStatus;
use crate::telemetry::names;
use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::PrometheusHandle;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the sampler reads the counters.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// Samples kept (15 minutes at one sample every 5 s).
pub const SAMPLES_KEPT: usize = 180;

/// The counters at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub at: DateTime<Utc>,
    /// Messages accepted by the core since the process started, per platform.
    pub messages_in: BTreeMap<String, f64>,
    /// Errors since the process started.
    pub errors: f64,
    /// Shared-state writes since the process started, by outcome (`ok`, `failed`).
    pub writes: BTreeMap<String, f64>,
    /// Conflicts waiting in the queue (SQL).
    pub open_conflicts: u64,
}

/// The ring buffer of samples, newest last.
#[derive(Default)]
pub struct KpiHistory {
    samples: Mutex<VecDeque<Sample>>,
}

impl KpiHistory {
    /// Adds a sample, dropping the oldest beyond [`SAMPLES_KEPT`].
    pub fn push(&self, sample: Sample) {
        let mut samples = self
            .samples
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if samples.len() >= SAMPLES_KEPT {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    /// A copy of every sample, oldest first.
    pub fn snapshot(&self) -> Vec<Sample> {
        self.samples
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// Aborts the sampler when the dashboard's router (which owns this) is dropped.
pub struct SamplerTask(tokio::task::JoinHandle<()>);

impl Drop for SamplerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts sampling into `history` every [`SAMPLE_EVERY`] (the first sample at once).
pub fn spawn_sampler(
    core: Core,
    metrics: PrometheusHandle,
    history: Arc<KpiHistory>,
) -> SamplerTask {
    SamplerTask(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(SAMPLE_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            match take_sample(&core, &metrics).await {
                Ok(sample) => history.push(sample),
                Err(error) => tracing::warn!(%error, "dashboard: sampling the counters failed"),
            }
        }
    }))
}

/// Reads the counters now.
pub async fn take_sample(
    core: &Core,
    metrics: &PrometheusHandle,
) -> Result<Sample, sea_orm::DbErr> {
    let rendered = metrics.render();
    Ok(Sample {
        at: Utc::now(),
        messages_in: counter_by_label(&rendered, names::MESSAGES_IN, "platform"),
        errors: counter_by_label(&rendered, names::ERRORS, "kind")
            .values()
            .sum(),
        writes: counter_by_label(&rendered, names::SHARED_STATE_WRITES, "outcome"),
        open_conflicts: queries::conflicts_with_status(&core.store.db, ConflictStatus::Open)
            .await?,
    })
}

/// The values of counter `name` in Prometheus text, summed per value of `label`.
pub fn counter_by_label(rendered: &str, name: &str, label: &str) -> BTreeMap<String, f64> {
    let mut values = BTreeMap::new();
    for line in rendered.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (labels, value) = match rest.strip_prefix('{') {
            Some(labelled) => match labelled.split_once('}') {
                Some((labels, value)) => (labels, value),
                None => continue,
            },
            // A different metric whose name merely starts with `name`.
            None if !rest.starts_with(' ') => continue,
            None => ("", rest),
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let key = label_value(labels, label).unwrap_or_default();
        *values.entry(key).or_insert(0.0) += value;
    }
    values
}

fn label_value(labels: &str, wanted: &str) -> Option<String> {
    labels.split(',').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name.trim() == wanted).then(|| value.trim().trim_matches('"').to_string())
    })
}

/// The cumulative buckets of histogram `name` in Prometheus text, summed over its other labels:
/// `(upper bound, samples at or below it)`, ascending, `+Inf` last.
pub fn histogram_buckets(rendered: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{");
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for line in rendered.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let Some((labels, value)) = rest.split_once('}') else {
            continue;
        };
        let bound = match label_value(labels, "le").as_deref() {
            Some("+Inf") => f64::INFINITY,
            Some(bound) => match bound.parse::<f64>() {
                Ok(bound) => bound,
                Err(_) => continue,
            },
            None => continue,
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        match buckets.iter_mut().find(|(known, _)| *known == bound) {
            Some((_, count)) => *count += value,
            None => buckets.push((bound, value)),
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// The `q` quantile (0–1) of cumulative `buckets`, interpolated linearly inside its bucket as
/// Prometheus's `histogram_quantile` does (a quantile in the `+Inf` bucket is the largest finite
/// bound); `None` when there is no sample.
pub fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last().map(|(_, count)| *count)?;
    if total <= 0.0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total;
    let (mut lower_bound, mut lower_count) = (0.0, 0.0);
    for (bound, count) in buckets {
        if *count >= rank {
            if bound.is_infinite() {
                return Some(lower_bound);
            }
            let width = count - lower_count;
            let within = if width > 0.0 {
                (rank - lower_count) / width
            } else {
                1.0
            };
            return Some(lower_bound + (bound - lower_bound) * within);
        }
        (lower_bound, lower_count) = (*bound, *count);
    }
    Some(lower_bound)
}

/// Propagation between host processes, from [`names::STATE_PROPAGATION_SECONDS`] (every `via`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Propagation {
    /// Median seconds from a commit in another process to its arrival here.
    pub p50: f64,
    pub p99: f64,
    /// Changes of other processes received since this one started.
    pub changes: f64,
}

/// The propagation figures of this process; `None` before any change arrived from another.
pub fn propagation(rendered: &str) -> Option<Propagation> {
    let buckets = histogram_buckets(rendered, names::STATE_PROPAGATION_SECONDS);
    Some(Propagation {
        p50: quantile(&buckets, 0.5)?,
        p99: quantile(&buckets, 0.99)?,
        changes: buckets.last().map_or(0.0, |(_, count)| *count),
    })
}

/// Per interval: how much each cumulative series grew between consecutive samples (a restart of
/// the counter counts as growth from zero).
pub fn increases(values: &[f64]) -> Vec<f64> {
    values
        .windows(2)
        .map(|pair| {
            if pair[1] >= pair[0] {
                pair[1] - pair[0]
            } else {
                pair[1]
            }
        })
        .collect()
}

/// The `points` of an SVG polyline drawing `values` in a `width`×`height` box (0 at the bottom,
/// `largest` at the top, so several series share one scale). Fewer than two values draw nothing.
pub fn sparkline(values: &[f64], largest: f64, width: f64, height: f64) -> String {
    if values.len() < 2 {
        return String::new();
    }
    let scale = if largest > 0.0 {
        (height - 2.0) / largest
    } else {
        0.0
    };
    let step = width / (values.len() - 1) as f64;
    values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            format!(
                "{:.1},{:.1}",
                index as f64 * step,
                height - 1.0 - value.max(0.0) * scale
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RENDERED: &str = "# HELP whisperengine_messages_in_total Inbound events\n\
        # TYPE whisperengine_messages_in_total counter\n\
        whisperengine_messages_in_total{platform=\"slack\"} 7\n\
        whisperengine_messages_in_total{platform=\"discord\"} 2\n\
        whisperengine_messages_in_total_extra{platform=\"slack\"} 100\n\
        whisperengine_errors_total{kind=\"event\"} 1\n\
        whisperengine_errors_total{kind=\"llm\"} 2\n";

    #[test]
    fn counters_are_read_per_label_from_prometheus_text() {
        let messages = counter_by_label(RENDERED, names::MESSAGES_IN, "platform");
        assert_eq!(messages.get("slack"), Some(&7.0));
        assert_eq!(messages.get("discord"), Some(&2.0));
        assert_eq!(messages.len(), 2);
        let errors: f64 = counter_by_label(RENDERED, names::ERRORS, "kind")
            .values()
            .sum();
        assert_eq!(errors, 3.0);
    }

    #[test]
    fn propagation_quantiles_come_from_the_buckets_of_every_via() {
        let rendered =
            "whisperengine_state_propagation_seconds_bucket{via=\"pubsub\",le=\"0.001\"} 0\n\
            whisperengine_state_propagation_seconds_bucket{via=\"pubsub\",le=\"0.01\"} 90\n\
            whisperengine_state_propagation_seconds_bucket{via=\"pubsub\",le=\"+Inf\"} 90\n\
            whisperengine_state_propagation_seconds_bucket{via=\"change_feed\",le=\"0.001\"} 0\n\
            whisperengine_state_propagation_seconds_bucket{via=\"change_feed\",le=\"0.01\"} 0\n\
            whisperengine_state_propagation_seconds_bucket{via=\"change_feed\",le=\"+Inf\"} 10\n\
            whisperengine_state_propagation_seconds_sum{via=\"pubsub\"} 0.4\n";
        let buckets = histogram_buckets(rendered, names::STATE_PROPAGATION_SECONDS);
        assert_eq!(
            buckets,
            vec![(0.001, 0.0), (0.01, 90.0), (f64::INFINITY, 100.0)]
        );
        let figures = propagation(rendered).expect("samples");
        assert!((figures.p50 - (0.001 + 0.009 * 50.0 / 90.0)).abs() < 1e-12);
        assert_eq!(figures.p99, 0.01, "in +Inf: the largest finite bound");
        assert_eq!(figures.changes, 100.0);
        assert_eq!(propagation(RENDERED), None);
        assert_eq!(
            propagation(
                "whisperengine_state_propagation_seconds_bucket{via=\"pubsub\",le=\"+Inf\"} 0\n"
            ),
            None
        );
    }

    #[test]
    fn increases_are_per_interval_and_survive_a_counter_reset() {
        assert_eq!(increases(&[1.0, 4.0, 4.0, 2.0]), vec![3.0, 0.0, 2.0]);
        assert!(increases(&[5.0]).is_empty());
    }

    #[test]
    fn the_sparkline_spans_the_box() {
        let points = sparkline(&[0.0, 5.0, 10.0], 10.0, 100.0, 22.0);
        assert_eq!(points, "0.0,21.0 50.0,11.0 100.0,1.0");
        assert_eq!(
            sparkline(&[0.0, 5.0], 20.0, 10.0, 22.0),
            "0.0,21.0 10.0,16.0"
        );
        assert_eq!(sparkline(&[3.0], 3.0, 100.0, 20.0), "");
        assert_eq!(
            sparkline(&[0.0, 0.0], 0.0, 10.0, 20.0),
            "0.0,19.0 10.0,19.0"
        );
    }

    #[test]
    fn the_ring_buffer_keeps_the_newest_samples() {
        let history = KpiHistory::default();
        for index in 0..SAMPLES_KEPT + 3 {
            history.push(Sample {
                at: Utc::now(),
                messages_in: BTreeMap::new(),
                errors: index as f64,
                writes: BTreeMap::new(),
                open_conflicts: 0,
            });
        }
        let samples = history.snapshot();
        assert_eq!(samples.len(), SAMPLES_KEPT);
        assert_eq!(samples[0].errors, 3.0);
    }
}
