//! The cross-process visibility delay of a new message, read from the hosts' own `/metrics` after a
//! run with several processes: `whisperengine_turn_visibility_seconds` (commit of a turn in one
//! process → the turn applied to the person's hot state in another, by Redis pub/sub) and
//! `whisperengine_turns_announced_in_total` (announced turns, by whether the receiver held the
//! person). The histogram's buckets bound each percentile from above: "p99 ≤ 10 ms" means at least
//! 99 % of the turns arrived within 10 ms.

use serde::Serialize;

const HISTOGRAM: &str = "whisperengine_turn_visibility_seconds";
const ANNOUNCED: &str = "whisperengine_turns_announced_in_total";

/// What every host of one run reported, summed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Visibility {
    pub processes: usize,
    /// Turns received from another process.
    pub received: u64,
    /// Of those, appended to a person held by the receiver.
    pub appended: u64,
    /// Of those, for a person the receiver did not hold.
    pub not_held: u64,
    /// Upper bound of the bucket holding the median, in milliseconds.
    pub p50_at_most_ms: f64,
    /// Upper bound of the bucket holding the 99th percentile, in milliseconds.
    pub p99_at_most_ms: f64,
    pub mean_ms: f64,
}

/// One host's histogram and counters, from its `/metrics` text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scraped {
    /// (upper bound in seconds, cumulative count), in the order given.
    buckets: Vec<(f64, u64)>,
    sum_seconds: f64,
    count: u64,
    appended: u64,
    not_held: u64,
}

/// Reads the lines of interest from a Prometheus text exposition.
pub fn scrape(text: &str) -> Scraped {
    let mut scraped = Scraped::default();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        if let Some(labels) = series.strip_prefix(&format!("{HISTOGRAM}_bucket")) {
            let Some(bound) = label(labels, "le") else {
                continue;
            };
            let bound = if bound == "+Inf" {
                f64::INFINITY
            } else {
                match bound.parse::<f64>() {
                    Ok(bound) => bound,
                    Err(_) => continue,
                }
            };
            scraped.buckets.push((bound, value as u64));
        } else if series == format!("{HISTOGRAM}_sum") {
            scraped.sum_seconds = value;
        } else if series == format!("{HISTOGRAM}_count") {
            scraped.count = value as u64;
        } else if let Some(labels) = series.strip_prefix(ANNOUNCED) {
            match label(labels, "outcome") {
                Some("appended") => scraped.appended += value as u64,
                Some("not_held") => scraped.not_held += value as u64,
                _ => {}
            }
        }
    }
    scraped
}

/// The value of `name` in a `{a="x",b="y"}` label set.
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let inner = labels.strip_prefix('{')?.strip_suffix('}')?;
    inner.split(',').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('"'))
    })
}

/// The hosts' figures summed; `None` when no turn crossed between them.
pub fn combine(hosts: &[Scraped]) -> Option<Visibility> {
    let count: u64 = hosts.iter().map(|host| host.count).sum();
    if count == 0 {
        return None;
    }
    let mut bounds: Vec<f64> = hosts
        .iter()
        .flat_map(|host| host.buckets.iter().map(|(bound, _)| *bound))
        .collect();
    bounds.sort_by(f64::total_cmp);
    bounds.dedup();
    let cumulative = |bound: f64| -> u64 {
        hosts
            .iter()
            .map(|host| {
                host.buckets
                    .iter()
                    .filter(|(held, _)| *held <= bound)
                    .map(|(_, count)| *count)
                    .max()
                    .unwrap_or(0)
            })
            .sum()
    };
    let at_most = |share: f64| -> f64 {
        let needed = (share * count as f64).ceil() as u64;
        bounds
            .iter()
            .copied()
            .find(|bound| cumulative(*bound) >= needed)
            .map_or(f64::INFINITY, |bound| bound * 1000.0)
    };
    let sum: f64 = hosts.iter().map(|host| host.sum_seconds).sum();
    Some(Visibility {
        processes: hosts.len(),
        received: count,
        appended: hosts.iter().map(|host| host.appended).sum(),
        not_held: hosts.iter().map(|host| host.not_held).sum(),
        p50_at_most_ms: at_most(0.5),
        p99_at_most_ms: at_most(0.99),
        mean_ms: sum / count as f64 * 1000.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "\
# TYPE whisperengine_turn_visibility_seconds histogram
whisperengine_turn_visibility_seconds_bucket{le=\"0.001\"} 10
whisperengine_turn_visibility_seconds_bucket{le=\"0.005\"} 90
whisperengine_turn_visibility_seconds_bucket{le=\"0.05\"} 99
whisperengine_turn_visibility_seconds_bucket{le=\"+Inf\"} 100
whisperengine_turn_visibility_seconds_sum 0.4
whisperengine_turn_visibility_seconds_count 100
whisperengine_turns_announced_in_total{outcome=\"appended\"} 97
whisperengine_turns_announced_in_total{outcome=\"not_held\"} 3
whisperengine_state_propagation_seconds_count 7
";

    #[test]
    fn reads_a_hosts_histogram_and_counters() {
        let scraped = scrape(ONE);
        assert_eq!(scraped.count, 100);
        assert_eq!(scraped.appended, 97);
        assert_eq!(scraped.not_held, 3);
        assert_eq!(scraped.buckets.len(), 4);
        assert_eq!(scraped.buckets[3], (f64::INFINITY, 100));
    }

    #[test]
    fn percentiles_are_bucket_bounds_over_every_host() {
        let both = combine(&[scrape(ONE), scrape(ONE)]).expect("turns crossed");
        assert_eq!(both.received, 200);
        assert_eq!(both.appended, 194);
        assert_eq!(both.p50_at_most_ms, 5.0);
        assert_eq!(both.p99_at_most_ms, 50.0);
        assert!((both.mean_ms - 4.0).abs() < 1e-9, "{}", both.mean_ms);
        assert_eq!(combine(&[scrape("")]), None);
    }
}
