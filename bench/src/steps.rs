//! The per-step breakdown of the pipeline bench: a metrics recorder that keeps every sample of the
//! pipeline's finer steps ([`whisperengine::core::turn::steps`]) so the bench can print the mean
//! and p99 of each. Installed by the `whisperengine-bench` executable ([`install`]) before the
//! core is built; a process with another recorder (the host, the test binary) gets no breakdown.

use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use whisperengine::core::turn::steps::{STEPS, STEP_DETAIL_SECONDS};

/// Samples of one step, in seconds.
#[derive(Default)]
struct Samples(Mutex<Vec<f64>>);

impl HistogramFn for Samples {
    fn record(&self, value: f64) {
        lock(&self.0).push(value);
    }
}

/// Every step's samples since the last [`take`].
static SAMPLES: OnceLock<Mutex<HashMap<String, Arc<Samples>>>> = OnceLock::new();

struct StepRecorder;

impl Recorder for StepRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let Some(samples) = SAMPLES.get() else {
            return Histogram::noop();
        };
        if key.name() != STEP_DETAIL_SECONDS {
            return Histogram::noop();
        }
        let step = key
            .labels()
            .find(|label| label.key() == "step")
            .map(|label| label.value().to_string())
            .unwrap_or_default();
        let handle = lock(samples).entry(step).or_default().clone();
        Histogram::from_arc(handle)
    }
}

/// Installs the recorder for this process; false when another recorder was installed first.
pub fn install() -> bool {
    let _ = SAMPLES.set(Mutex::new(HashMap::new()));
    let installed = metrics::set_global_recorder(StepRecorder).is_ok();
    if installed {
        INSTALLED.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    installed
}

/// Set once [`install`] put the recorder in place.
static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the steps are being recorded in this process.
pub fn is_recording() -> bool {
    INSTALLED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Drops every sample recorded so far.
pub fn reset() {
    let _ = take();
}

/// One step's figures over a run.
#[derive(Debug, Clone, Serialize)]
pub struct StepFigures {
    pub step: String,
    pub what: String,
    pub samples: usize,
    pub mean_ms: f64,
    pub p99_ms: f64,
}

/// The figures of every step since the last call (in pipeline order), and forgets the samples.
pub fn take() -> Vec<StepFigures> {
    let Some(samples) = SAMPLES.get() else {
        return Vec::new();
    };
    let held: Vec<(String, Vec<f64>)> = lock(samples)
        .iter()
        .map(|(step, samples)| (step.clone(), std::mem::take(&mut *lock(&samples.0))))
        .collect();
    STEPS
        .iter()
        .map(|(step, what)| {
            let mut values: Vec<Duration> = held
                .iter()
                .filter(|(name, _)| name == step)
                .flat_map(|(_, values)| values.iter())
                .map(|seconds| Duration::from_secs_f64(seconds.max(0.0)))
                .collect();
            values.sort();
            let total: f64 = values.iter().map(Duration::as_secs_f64).sum();
            StepFigures {
                step: (*step).to_string(),
                what: (*what).to_string(),
                samples: values.len(),
                mean_ms: if values.is_empty() {
                    0.0
                } else {
                    total * 1000.0 / values.len() as f64
                },
                p99_ms: crate::percentile(&values, 0.99),
            }
        })
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
