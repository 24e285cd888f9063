//! Telemetry: tracing set-up (stderr, `RUST_LOG`) and the process-wide Prometheus metrics registry,
//! with the names every module records under.

use metrics::{describe_counter, describe_histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

/// Metric names. Labels are named beside each; keep label values low-cardinality (platform ids,
/// command names, fixed reason codes — never user ids or message text).
pub mod names {
    /// Counter, label `platform`: inbound events accepted by the core.
    pub const MESSAGES_IN: &str = "whisperengine_messages_in_total";
    /// Counter, label `platform`: replies sent.
    pub const MESSAGES_OUT: &str = "whisperengine_messages_out_total";
    /// Histogram in seconds, label `platform`: time from inbound event to reply.
    pub const PIPELINE_SECONDS: &str = "whisperengine_pipeline_seconds";
    /// Counter, label `kind`: errors by kind.
    pub const ERRORS: &str = "whisperengine_errors_total";
    /// Counter, label `platform`: events dropped as retries or replays.
    pub const DUPLICATES: &str = "whisperengine_duplicate_events_total";
    /// Counter, label `platform`: events refused by the rate limiter.
    pub const RATE_LIMITED: &str = "whisperengine_rate_limited_total";
    /// Counter, label `command`: commands handled.
    pub const COMMANDS: &str = "whisperengine_commands_total";
    /// Counter, label `outcome`: account link attempts by outcome.
    pub const LINKS: &str = "whisperengine_links_total";
    /// Counter, labels `route` and `reason`: HTTP requests refused before reaching the core.
    pub const HTTP_REJECTED: &str = "whisperengine_http_rejected_total";
}

/// Histogram buckets (seconds) for [`names::PIPELINE_SECONDS`]: from 100 µs (offline responder,
/// hot cache) up to 30 s (a slow remote LLM).
pub const PIPELINE_BUCKETS: [f64; 17] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// How often histogram samples are drained into their buckets when nobody scrapes `/metrics`,
/// so memory stays bounded.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs the tracing subscriber: human-readable lines on stderr, filtered by `RUST_LOG` when it is
/// set and valid, else by `default_filter` (e.g. `"info,whisperengine=debug"`). Safe to call more than
/// once: later calls leave the first subscriber in place.
pub fn init_tracing(default_filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // An error only means a subscriber is already installed (a second call, or a test harness).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Installs the global Prometheus recorder once per process and returns a handle to it (a clone of
/// the same handle on every call, so tests and the host can call this freely). Serve
/// [`PrometheusHandle::render`] from `/metrics`.
pub fn install_metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(build_and_install).clone()
}

fn build_and_install() -> PrometheusHandle {
    let builder = PrometheusBuilder::new();
    let builder = match builder.set_buckets_for_metric(
        Matcher::Full(names::PIPELINE_SECONDS.to_string()),
        &PIPELINE_BUCKETS,
    ) {
        Ok(builder) => builder,
        // Only refused for an empty bucket list, which PIPELINE_BUCKETS is not.
        Err(error) => {
            tracing::warn!(%error, "pipeline histogram buckets refused; using summaries");
            PrometheusBuilder::new()
        }
    };
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if let Err(error) = metrics::set_global_recorder(recorder) {
        // Someone installed another recorder first; /metrics will then show nothing of ours, but
        // the host keeps running.
        tracing::warn!(%error, "a metrics recorder was already installed; /metrics will be empty");
    }
    describe_metrics();
    spawn_upkeep(handle.clone());
    handle
}

/// Runs the exporter's upkeep on a small background thread. A thread rather than a tokio task
/// because `install_metrics` may be called before (or outside) any runtime.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_INTERVAL);
            handle.run_upkeep();
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "could not start the metrics upkeep thread");
    }
}

/// Registers a one-line description for every metric in [`names`] (shown as `# HELP`).
pub fn describe_metrics() {
    describe_counter!(
        names::MESSAGES_IN,
        "Inbound events accepted by the core, by platform."
    );
    describe_counter!(names::MESSAGES_OUT, "Replies sent, by platform.");
    describe_histogram!(
        names::PIPELINE_SECONDS,
        Unit::Seconds,
        "Time from an inbound event to its reply, by platform."
    );
    describe_counter!(names::ERRORS, "Errors, by kind.");
    describe_counter!(
        names::DUPLICATES,
        "Events dropped as retries or replays, by platform."
    );
    describe_counter!(
        names::RATE_LIMITED,
        "Events refused by the rate limiter, by platform."
    );
    describe_counter!(names::COMMANDS, "Commands handled, by command name.");
    describe_counter!(names::LINKS, "Account link attempts, by outcome.");
    describe_counter!(
        names::HTTP_REJECTED,
        "HTTP requests refused before reaching the core, by route and reason."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installing_metrics_twice_returns_the_same_registry() {
        let first = install_metrics();
        let second = install_metrics();
        metrics::counter!(names::LINKS, "outcome" => "telemetry_test").increment(1);
        let rendered = second.render();
        assert!(
            rendered.contains("whisperengine_links_total{outcome=\"telemetry_test\"} 1"),
            "{rendered}"
        );
        assert!(first.render().contains("telemetry_test"));
    }

    #[test]
    fn pipeline_latency_is_a_histogram_with_the_configured_buckets() {
        let handle = install_metrics();
        metrics::histogram!(names::PIPELINE_SECONDS, "platform" => "telemetry_test").record(0.003);
        let rendered = handle.render();
        assert!(
            rendered.contains(
                "whisperengine_pipeline_seconds_bucket{platform=\"telemetry_test\",le=\"0.005\"} 1"
            ),
            "{rendered}"
        );
        assert!(
            rendered.contains(
                "whisperengine_pipeline_seconds_bucket{platform=\"telemetry_test\",le=\"0.0025\"} 0"
            ),
            "{rendered}"
        );
        assert!(rendered.contains("# HELP whisperengine_pipeline_seconds"));
    }

    #[test]
    fn init_tracing_can_be_called_twice() {
        init_tracing("warn");
        init_tracing("not a ((valid filter");
    }
}
