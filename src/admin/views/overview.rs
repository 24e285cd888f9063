//! The overview page: connectors up or down, KPIs read from SQL and the counters, and small
//! time-series charts drawn from the sampler's ring buffer.

use super::{csrf_field, maybe_time, time};
use crate::admin::kpi::{increases, sparkline, Propagation, Sample, SAMPLE_EVERY};
use crate::admin::queries::{PlatformActivity, Satisfaction, Totals};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use std::collections::BTreeMap;

/// Width and height of a chart, in SVG units.
const CHART_WIDTH: f64 = 320.0;
const CHART_HEIGHT: f64 = 48.0;

/// One connector's state.
#[derive(Debug, Clone)]
pub struct ConnectorStatus {
    pub name: String,
    /// Whether it is running in this process.
    pub is_up: bool,
    /// Why (from the settings), e.g. `off: DISCORD_TOKEN not set`.
    pub detail: String,
    /// When a person's message from this platform last arrived.
    pub last_message_at: Option<DateTime<Utc>>,
}

/// Everything the overview shows.
pub struct Overview {
    pub deployment_mode: String,
    pub storage: String,
    pub connectors: Vec<ConnectorStatus>,
    pub activity: Vec<PlatformActivity>,
    pub totals: Totals,
    pub satisfaction: Vec<Satisfaction>,
    /// Shared-state writes since the process started, by outcome (`ok`, `duplicate`, `failed`).
    pub writes: BTreeMap<String, f64>,
    /// Hot-layer vs SQL comparisons since the process started, by result (`match`, `mismatch`).
    pub consistency_checks: BTreeMap<String, f64>,
    /// How fast other processes' changes reach this one; `None` before the first arrived.
    pub propagation: Option<Propagation>,
    pub samples: Vec<Sample>,
}

/// The overview's body.
pub fn body(csrf_token: &str, overview: &Overview) -> Markup {
    html! {
        p.muted { "Mode " strong { (overview.deployment_mode) } " · storage " (overview.storage) }
        (host_isolation(csrf_token, overview.totals.is_host_isolated))
        section #connectors {
            h2 { "Connectors" }
            table {
                thead { tr { th { "connector" } th { "state" } th { "why" } th { "last message" } } }
                tbody {
                    @for connector in &overview.connectors {
                        tr data-connector=(connector.name) {
                            td { (connector.name) }
                            td {
                                @if connector.is_up { span.badge.up { "up" } }
                                @else { span.badge.down { "down" } }
                            }
                            td { (connector.detail) }
                            td { (maybe_time(connector.last_message_at)) }
                        }
                    }
                }
            }
        }
        section #kpis {
            h2 { "Key figures" }
            div.cards {
                (card("identities", overview.totals.identities.to_string(),
                    &format!("{} accounts", overview.totals.accounts)))
                (card("isolated identities", overview.totals.isolated_identities.to_string(), "no sharing across accounts"))
                (card("open conflicts", overview.totals.open_conflicts.to_string(),
                    &format!("{} resolved", overview.totals.resolved_conflicts)))
                (card("sync success rate", success_rate(&overview.writes),
                    &format!("of {} shared-state writes since start", overview.writes.values().sum::<f64>())))
                (card("consistency checks", format!("{}", overview.consistency_checks.values().sum::<f64>()),
                    &format!("hot layer vs SQL since start; {} mismatched",
                        overview.consistency_checks.get("mismatch").copied().unwrap_or(0.0))))
                (card("conflict rate", conflict_rate(&overview.totals, &overview.activity),
                    "conflicts per 1,000 messages"))
                (propagation_card(overview.propagation))
                @for score in &overview.satisfaction {
                    (card(&format!("satisfaction · {}", score.platform), format!("{:.2} / 5", score.average_score),
                        &format!("{} feedback responses", score.responses)))
                }
                @if overview.satisfaction.is_empty() {
                    (card("satisfaction", "—".to_string(), "no feedback yet"))
                }
                @for activity in &overview.activity {
                    (card(&format!("messages · {}", activity.platform.as_str()), activity.messages.to_string(),
                        &match activity.last_message_at {
                            Some(at) => format!("last {}", at.format("%Y-%m-%d %H:%M UTC")),
                            None => "none yet".to_string(),
                        }))
                }
            }
        }
        section #charts {
            h2 { "Recent activity (last " (window_minutes(&overview.samples)) " min, sampled every " (SAMPLE_EVERY.as_secs()) " s)" }
            (charts(&overview.samples))
        }
    }
}

/// The host-wide isolation state and the emergency switch.
fn host_isolation(csrf_token: &str, is_host_isolated: bool) -> Markup {
    html! {
        section #host-isolation.isolation-on[is_host_isolated] {
            @if is_host_isolated {
                p.flash.error { strong { "Host-wide isolation is ON" } ": nothing is read across linked accounts and linking is refused." }
                form method="post" action="/admin/host/release" {
                    (csrf_field(csrf_token))
                    button.release type="submit" { "Release the whole host" }
                }
            } @else {
                form method="post" action="/admin/host/isolate" {
                    (csrf_field(csrf_token))
                    button.isolate type="submit" { "Isolate the whole host (emergency)" }
                    span.muted { " Stops all sharing across linked accounts at once; undo with Release." }
                }
            }
        }
    }
}

/// p50 and p99 of how long other processes' changes took to arrive here; `—` before the first.
fn propagation_card(propagation: Option<Propagation>) -> Markup {
    match propagation {
        Some(figures) => card(
            "propagation",
            format!(
                "p50 {} · p99 {}",
                seconds(figures.p50),
                seconds(figures.p99)
            ),
            &format!(
                "commit in another host process to arrival here; {} changes since start",
                figures.changes
            ),
        ),
        None => card(
            "propagation",
            "—".to_string(),
            "no change from another host process yet",
        ),
    }
}

/// A duration in seconds for people: `12 ms` below a second, `1.5 s` above.
fn seconds(value: f64) -> String {
    if value < 1.0 {
        format!("{:.0} ms", value * 1000.0)
    } else {
        format!("{value:.1} s")
    }
}

fn card(title: &str, value: String, note: &str) -> Markup {
    html! {
        div.card {
            div.card-title { (title) }
            div.card-value { (value) }
            div.card-note { (note) }
        }
    }
}

/// Share of shared-state writes that did not fail, e.g. `100.00 %`. A `duplicate` (a retry of a
/// turn already stored, written nothing) is a success: the state is what it should be.
fn success_rate(writes: &BTreeMap<String, f64>) -> String {
    let total: f64 = writes.values().sum();
    if total == 0.0 {
        return "—".to_string();
    }
    let failed = writes.get("failed").copied().unwrap_or(0.0);
    format!("{:.2} %", (total - failed) * 100.0 / total)
}

/// Conflicts recorded per 1,000 messages people sent (all time, from SQL).
fn conflict_rate(totals: &Totals, activity: &[PlatformActivity]) -> String {
    let messages: u64 = activity.iter().map(|a| a.messages).sum();
    if messages == 0 {
        return "—".to_string();
    }
    let conflicts = totals.open_conflicts + totals.resolved_conflicts;
    format!("{:.1}", conflicts as f64 * 1000.0 / messages as f64)
}

fn window_minutes(samples: &[Sample]) -> i64 {
    match (samples.first(), samples.last()) {
        (Some(first), Some(last)) => ((last.at - first.at).num_seconds() / 60).max(1),
        _ => 1,
    }
}

fn charts(samples: &[Sample]) -> Markup {
    if samples.len() < 2 {
        return html! {
            p.muted #charts-pending {
                "Collecting samples (one every " (SAMPLE_EVERY.as_secs()) " s); the charts appear after the second one."
            }
        };
    }
    let mut platforms: Vec<&String> = samples
        .iter()
        .flat_map(|sample| sample.messages_in.keys())
        .collect();
    platforms.sort();
    platforms.dedup();
    let errors: Vec<f64> = samples.iter().map(|s| s.errors).collect();
    let conflicts: Vec<f64> = samples.iter().map(|s| s.open_conflicts as f64).collect();
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return html! {};
    };
    html! {
        div.charts {
            figure.chart {
                figcaption { "messages in, per " (SAMPLE_EVERY.as_secs()) " s" }
                (chart_svg("messages in", &platforms.iter().map(|platform| {
                    let values: Vec<f64> = samples.iter()
                        .map(|s| s.messages_in.get(*platform).copied().unwrap_or(0.0))
                        .collect();
                    (platform.to_string(), increases(&values))
                }).collect::<Vec<_>>()))
                @if platforms.is_empty() { p.muted { "no messages since the host started" } }
                ul.legend {
                    @for platform in &platforms {
                        li { span class=(format!("swatch series-{platform}")) {} (platform) }
                    }
                }
            }
            figure.chart {
                figcaption { "shared-state writes, per " (SAMPLE_EVERY.as_secs()) " s" }
                (chart_svg("shared-state writes", &["ok", "failed"].iter().map(|outcome| {
                    let values: Vec<f64> = samples.iter()
                        .map(|s| s.writes.get(*outcome).copied().unwrap_or(0.0))
                        .collect();
                    (format!("writes-{outcome}"), increases(&values))
                }).collect::<Vec<_>>()))
                ul.legend {
                    li { span.swatch.series-writes-ok {} "ok" }
                    li { span.swatch.series-writes-failed {} "failed" }
                }
            }
            figure.chart {
                figcaption { "errors, per " (SAMPLE_EVERY.as_secs()) " s" }
                (chart_svg("errors", &[("errors".to_string(), increases(&errors))]))
            }
            figure.chart {
                figcaption { "open conflicts" }
                (chart_svg("open conflicts", &[("conflicts".to_string(), conflicts)]))
            }
        }
        p.muted { "From " (time(first.at)) " to " (time(last.at)) "." }
    }
}

fn chart_svg(label: &str, series: &[(String, Vec<f64>)]) -> Markup {
    let view_box = format!("0 0 {CHART_WIDTH} {CHART_HEIGHT}");
    let largest = series
        .iter()
        .flat_map(|(_, values)| values.iter().copied())
        .fold(0.0_f64, f64::max);
    html! {
        svg.sparkline viewBox=(view_box) width=(CHART_WIDTH) height=(CHART_HEIGHT)
            role="img" aria-label=(label) preserveAspectRatio="none" {
            line.axis x1="0" y1=(CHART_HEIGHT - 0.5) x2=(CHART_WIDTH) y2=(CHART_HEIGHT - 0.5) {}
            @for (name, values) in series {
                polyline class=(format!("series series-{name}")) fill="none"
                    points=(sparkline(values, largest, CHART_WIDTH, CHART_HEIGHT)) {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_not_failures_in_the_success_rate() {
        let writes: BTreeMap<String, f64> = [("ok", 90.0), ("duplicate", 8.0), ("failed", 2.0)]
            .into_iter()
            .map(|(outcome, count)| (outcome.to_string(), count))
            .collect();
        assert_eq!(success_rate(&writes), "98.00 %");
        assert_eq!(success_rate(&BTreeMap::new()), "—");
    }

    #[test]
    fn the_propagation_card_shows_p50_and_p99_or_a_dash() {
        let shown = propagation_card(Some(Propagation {
            p50: 0.004,
            p99: 1.5,
            changes: 12.0,
        }))
        .into_string();
        assert!(shown.contains("p50 4 ms · p99 1.5 s"), "{shown}");
        assert!(shown.contains("12 changes"), "{shown}");
        let empty = propagation_card(None).into_string();
        assert!(empty.contains(">—<"), "{empty}");
    }
}
