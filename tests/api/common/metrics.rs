//! Reading the host's `/metrics` (Prometheus text format) in tests.
#![allow(clippy::expect_used)] // test code

/// The text the host at `base` (`http://…`) serves at `/metrics`.
pub async fn scrape(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .expect("the host answers /metrics")
        .text()
        .await
        .expect("/metrics is text")
}

/// The value of the first sample line starting with `prefix` (a metric name) and containing every
/// one of `labels` (written as in the text: `reason="expired"`); `None` when there is none.
pub fn sample(metrics: &str, prefix: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| line.starts_with(prefix) && labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}
