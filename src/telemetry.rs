//! Telemetry: tracing set-up (stderr, `RUST_LOG`) and the process-wide Prometheus metrics registry,
//! with the names every module records under.

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
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
    /// Histogram in seconds, labels `platform` and `step` (`resolve`, `store`, `context`, `llm`,
    /// `store_reply`): time spent in each step of the message pipeline.
    pub const PIPELINE_STEP_SECONDS: &str = "whisperengine_pipeline_step_seconds";
    /// Histogram in seconds, label `outcome` (`ok`, `error`): time the configured responder took.
    pub const LLM_SECONDS: &str = "whisperengine_llm_seconds";
    /// Counter: responder failures (the offline responder answered instead).
    pub const LLM_ERRORS: &str = "whisperengine_llm_errors_total";
    /// Counter, label `outcome` (`ok`, `failed`): shared-state writes through the group-commit
    /// writer (the seed's "sync success rate").
    pub const SHARED_STATE_WRITES: &str = "whisperengine_shared_state_writes_total";
    /// Histogram in seconds, label `platform` (where it was used): how old a turn written on one
    /// platform was when a reply on another platform first recalled it. This is the age of the
    /// content at first recall (it includes however long the person waited before writing on the
    /// other platform), not how fast a change travels; that is [`STATE_PROPAGATION_SECONDS`].
    pub const CONTENT_AGE_AT_FIRST_RECALL_SECONDS: &str =
        "whisperengine_content_age_at_first_recall_seconds";
    /// Histogram in seconds, label `via` (`pubsub`, `change_feed`): for each change committed by
    /// another host process (link, unlink, isolation, preference, privacy, forget, erasure, and with
    /// Redis a new turn), the time from its commit there to its arrival here, the first moment this
    /// process would use it (cross-platform propagation latency). Commit and arrival are read on two
    /// machines' clocks: a value made negative by clock skew is recorded as 0.
    pub const STATE_PROPAGATION_SECONDS: &str = "whisperengine_state_propagation_seconds";
    /// Counter, label `outcome` (`appended`: the person is held here, and the turn was added to
    /// their hot state unless it was there already or read from SQL after its commit; `not_held`):
    /// turns another host process announced with their content.
    pub const TURNS_ANNOUNCED_IN: &str = "whisperengine_turns_announced_in_total";
    /// Histogram in seconds: for each new turn another host process stored and announced with its
    /// content, the time from its commit there to its arrival here (where it is appended to the
    /// person's hot state when they are held): the cross-process visibility delay of a new message.
    /// Same clocks as [`STATE_PROPAGATION_SECONDS`].
    pub const TURN_VISIBILITY_SECONDS: &str = "whisperengine_turn_visibility_seconds";
    /// Gauge, labels `status` (`open`, `resolved`, ...) and `strategy`: conflicts in SQL, refreshed
    /// periodically (detected = all, resolved = status resolved; the conflict rate).
    pub const CONFLICTS: &str = "whisperengine_conflicts";
    /// Counter, label `result` (`match`, `mismatch`): periodic comparisons of an identity's hot state
    /// with SQL.
    pub const CONSISTENCY_CHECKS: &str = "whisperengine_consistency_checks_total";
    /// Gauge: 1 when the database answered the last health probe, else 0.
    pub const DATABASE_UP: &str = "whisperengine_database_up";
    /// Gauge: 1 when Redis answered the last health probe, 0 when not; absent without REDIS_URL.
    pub const REDIS_UP: &str = "whisperengine_redis_up";
    /// Counter, labels `platform` and `score` (1–5): `feedback` given.
    pub const FEEDBACK: &str = "whisperengine_feedback_total";
    /// Gauge, label `platform`: mean `feedback` score (1–5) of the last 30 days, per platform (0
    /// when there was none).
    pub const SATISFACTION: &str = "whisperengine_satisfaction_score";
    /// Gauge, label `platform`: how many `feedback` entries of the last 30 days that mean is of.
    pub const SATISFACTION_RESPONSES: &str = "whisperengine_satisfaction_responses";
    /// Counter, label `reason`: requests refused by the core (`rate_limited`, `isolated_link`, ...).
    pub const REJECTED: &str = "whisperengine_rejected_requests_total";
}

/// Histogram buckets (seconds) for [`names::CONTENT_AGE_AT_FIRST_RECALL_SECONDS`]: from 10 ms (the
/// same process, immediately) to a day (someone coming back on another platform tomorrow).
pub const CONTENT_AGE_BUCKETS: [f64; 12] = [
    0.01,
    0.1,
    1.0,
    5.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    4.0 * 3600.0,
    12.0 * 3600.0,
    86_400.0,
];

/// Histogram buckets (seconds) for [`names::STATE_PROPAGATION_SECONDS`]: from 1 ms (pub/sub on one
/// network) through the change feed's 250 ms poll to 60 s (a process that was away).
pub const PROPAGATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

/// Histogram buckets (seconds) for [`names::TURN_VISIBILITY_SECONDS`]: pub/sub on one machine or
/// one network, from half a millisecond to a second.
pub const TURN_VISIBILITY_BUCKETS: [f64; 17] = [
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.035, 0.05, 0.075, 0.1,
    0.25, 0.5, 1.0,
];

/// Records the time one pipeline step took since `started`.
pub fn record_step(platform: &'static str, step: &'static str, started: std::time::Instant) {
    metrics::histogram!(names::PIPELINE_STEP_SECONDS, "platform" => platform, "step" => step)
        .record(started.elapsed().as_secs_f64());
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

/// Libraries whose logs below a level carry whole payloads: serenity's info-level spans hold gateway
/// events, slack-morphism logs Socket Mode envelopes at trace, tungstenite logs every websocket
/// message at trace — what people said, and connection tickets. Each is capped at the level given
/// unless the filter names it itself (`RUST_LOG=info,serenity=debug` still shows serenity), so a
/// bare `RUST_LOG=trace` keeps message text out of the logs.
const PAYLOAD_LOG_CAPS: &[(&str, &str)] = &[
    ("serenity", "warn"),
    ("slack_morphism", "debug"),
    ("tungstenite", "debug"),
    ("tokio_tungstenite", "debug"),
];

/// `filter` with the [`PAYLOAD_LOG_CAPS`] it does not name itself put in front.
fn with_payload_caps(filter: &str) -> String {
    let named: Vec<&str> = filter
        .split(',')
        .filter_map(|directive| directive.split(['=', '[', ':']).next())
        .map(str::trim)
        .collect();
    PAYLOAD_LOG_CAPS
        .iter()
        .filter(|(target, _)| !named.contains(target))
        .map(|(target, level)| format!("{target}={level}"))
        .chain(std::iter::once(filter.to_string()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Installs the tracing subscriber: human-readable lines on stderr, filtered by `RUST_LOG` when it is
/// set and valid, else by `default_filter` (e.g. `"info,whisperengine=debug"`), with the libraries
/// that log payloads capped (see [`PAYLOAD_LOG_CAPS`]). Safe to call more than once: later calls
/// leave the first subscriber in place.
pub fn init_tracing(default_filter: &str) {
    let filter = std::env::var(EnvFilter::DEFAULT_ENV)
        .ok()
        .and_then(|text| EnvFilter::try_new(with_payload_caps(&text)).ok())
        .or_else(|| EnvFilter::try_new(with_payload_caps(default_filter)).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
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
    let builder = builder
        .set_buckets_for_metric(
            Matcher::Full(names::PIPELINE_STEP_SECONDS.to_string()),
            &PIPELINE_BUCKETS,
        )
        .and_then(|builder| {
            builder.set_buckets_for_metric(
                Matcher::Full(names::LLM_SECONDS.to_string()),
                &PIPELINE_BUCKETS,
            )
        })
        .and_then(|builder| {
            builder.set_buckets_for_metric(
                Matcher::Full(names::CONTENT_AGE_AT_FIRST_RECALL_SECONDS.to_string()),
                &CONTENT_AGE_BUCKETS,
            )
        })
        .and_then(|builder| {
            builder.set_buckets_for_metric(
                Matcher::Full(names::STATE_PROPAGATION_SECONDS.to_string()),
                &PROPAGATION_BUCKETS,
            )
        })
        .and_then(|builder| {
            builder.set_buckets_for_metric(
                Matcher::Full(names::TURN_VISIBILITY_SECONDS.to_string()),
                &TURN_VISIBILITY_BUCKETS,
            )
        })
        .and_then(|builder| {
            builder.set_buckets_for_metric(
                Matcher::Full(names::PIPELINE_SECONDS.to_string()),
                &PIPELINE_BUCKETS,
            )
        });
    let builder = match builder {
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
    describe_histogram!(
        names::PIPELINE_STEP_SECONDS,
        Unit::Seconds,
        "Time spent in each pipeline step, by platform and step."
    );
    describe_histogram!(
        names::LLM_SECONDS,
        Unit::Seconds,
        "Time the configured responder took, by outcome."
    );
    describe_counter!(
        names::LLM_ERRORS,
        "Responder failures (answered by the offline responder instead)."
    );
    describe_counter!(
        names::SHARED_STATE_WRITES,
        "Shared-state writes (group commits of messages, events, observations), by outcome."
    );
    describe_histogram!(
        names::CONTENT_AGE_AT_FIRST_RECALL_SECONDS,
        Unit::Seconds,
        "Age of a turn written on one platform when a reply on another first recalled it, by the platform it was recalled on."
    );
    describe_histogram!(
        names::STATE_PROPAGATION_SECONDS,
        Unit::Seconds,
        "Time from a change committed by another host process to its arrival in this one, by how it arrived (pubsub, change_feed); clock skew below 0 is recorded as 0."
    );
    describe_histogram!(
        names::TURN_VISIBILITY_SECONDS,
        Unit::Seconds,
        "Time from a new turn committed by another host process to its arrival in this one (the cross-process visibility delay of a new message)."
    );
    describe_counter!(
        names::TURNS_ANNOUNCED_IN,
        "Turns another host process announced with their content, by outcome (appended to a person held here, not_held)."
    );
    describe_gauge!(
        names::CONFLICTS,
        "Conflicts stored in SQL, by status and resolution strategy."
    );
    describe_counter!(
        names::CONSISTENCY_CHECKS,
        "Periodic comparisons of an identity's hot state with SQL, by result."
    );
    describe_gauge!(
        names::DATABASE_UP,
        "1 when the database answered the last health probe, else 0."
    );
    describe_gauge!(
        names::REDIS_UP,
        "1 when Redis answered the last health probe, else 0 (absent without REDIS_URL)."
    );
    describe_counter!(
        names::FEEDBACK,
        "Feedback given, by platform and score (1-5)."
    );
    describe_gauge!(
        names::SATISFACTION,
        "Mean feedback score (1-5) per platform over the last 30 days; 0 when there was none."
    );
    describe_gauge!(
        names::SATISFACTION_RESPONSES,
        "Feedback entries of the last 30 days per platform (what the satisfaction score is the mean of)."
    );
    describe_counter!(names::REJECTED, "Requests refused by the core, by reason.");
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
    fn payload_logging_libraries_are_capped_unless_named() {
        assert_eq!(
            with_payload_caps("trace"),
            "serenity=warn,slack_morphism=debug,tungstenite=debug,tokio_tungstenite=debug,trace"
        );
        assert_eq!(
            with_payload_caps("info,serenity::gateway=debug,tungstenite=trace"),
            "slack_morphism=debug,tokio_tungstenite=debug,info,serenity::gateway=debug,tungstenite=trace"
        );
    }

    #[test]
    fn init_tracing_can_be_called_twice() {
        init_tracing("warn");
        init_tracing("not a ((valid filter");
    }
}
