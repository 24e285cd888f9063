//! The load bench's report: one row per (database, process count), the footprint per database, the
//! machine it ran on; printed as a table and serialized as JSON.

use super::driver::{Outcome, Plan};
use super::host::Memory;
use super::percentile;
use serde::Serialize;
use whisperengine_fakes::slack::FakeSlack;

/// Everything one `bench --load` run measured.
#[derive(Debug, Serialize)]
pub struct LoadReport {
    /// `small` (CI) or `full`.
    pub mode: String,
    pub machine: Machine,
    pub runs: Vec<LoadRun>,
    /// Rows that were not run, and why.
    pub skipped: Vec<Skipped>,
    pub footprint: Vec<Footprint>,
    /// The cross-process visibility delay of a new message in the two-process run, as the hosts
    /// measured it.
    pub visibility: Option<crate::visibility::Visibility>,
}

/// The machine the figures come from.
#[derive(Debug, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_mb: u64,
    pub summary: String,
}

/// Messages through the HTTP path on one database with some host processes.
#[derive(Debug, Serialize)]
pub struct LoadRun {
    /// `sqlite` or `postgres+redis`.
    pub database: String,
    pub processes: usize,
    pub users: usize,
    pub concurrency: usize,
    /// Messages sent.
    pub messages: usize,
    /// Answered 2xx by a host.
    pub acknowledged: usize,
    /// Acknowledged and answered (the reply reached the fake Slack).
    pub replied: usize,
    /// Acknowledged but never answered.
    pub lost: usize,
    /// Refused or undeliverable requests.
    pub refused: usize,
    /// Posts beyond the first for one message, plus posts answering nothing sent.
    pub extra_posts: u64,
    pub messages_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Raw memory-row inserts per second through sea-orm on the same database, same run.
    pub raw_inserts_per_second: f64,
    /// messages_per_second ÷ raw_inserts_per_second.
    pub ratio_to_raw: f64,
}

/// A row that was not measured.
#[derive(Debug, Serialize)]
pub struct Skipped {
    pub database: String,
    pub processes: usize,
    pub reason: String,
}

/// Resident memory with many known identities, and cold start.
#[derive(Debug, Serialize)]
pub struct Footprint {
    pub database: String,
    /// Identities (each with a Slack account) in the database.
    pub identities: usize,
    /// Distinct seeded identities that sent a message (the hot layer's capacity, at most).
    pub touched: usize,
    /// Of those, how many got their reply.
    pub touched_replied: usize,
    /// VmRSS right after `/readyz` answered 200.
    pub rss_at_ready_mb: f64,
    /// VmRSS after the identities were touched.
    pub rss_mb: f64,
    /// VmHWM: the peak resident size over the host's life.
    pub peak_rss_mb: f64,
    /// Spawn → first 200 of `/readyz`, each run, in milliseconds.
    pub cold_start_ms: Vec<f64>,
    pub cold_start_median_ms: f64,
}

impl Machine {
    /// Cores, CPU model and memory of this machine (from `/proc` where present).
    pub fn describe() -> Machine {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_string())
            .unwrap_or_else(|| "unknown CPU".into());
        let memory_mb = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kilobytes| kilobytes / 1024);
        let summary = format!(
            "{cores} cores ({cpu}), {:.1} GB RAM, {}",
            memory_mb as f64 / 1024.0,
            std::env::consts::OS
        );
        Machine {
            cores,
            cpu,
            memory_mb,
            summary,
        }
    }
}

impl LoadRun {
    /// The row for one driven plan.
    pub fn from_outcome(
        database: &str,
        processes: usize,
        plan: &Plan,
        outcome: &Outcome,
        fake: &FakeSlack,
        raw_inserts_per_second: f64,
    ) -> LoadRun {
        let seconds = outcome.elapsed.as_secs_f64().max(f64::EPSILON);
        let messages_per_second = outcome.replied as f64 / seconds;
        LoadRun {
            database: database.to_string(),
            processes,
            users: plan.users,
            concurrency: plan.concurrency,
            messages: plan.messages,
            acknowledged: outcome.acknowledged,
            replied: outcome.replied,
            lost: outcome.acknowledged - outcome.replied,
            refused: outcome.refused,
            extra_posts: fake.extra_posts() + fake.stray_calls(),
            messages_per_second,
            p50_ms: percentile(&outcome.latencies, 0.5),
            p99_ms: percentile(&outcome.latencies, 0.99),
            raw_inserts_per_second,
            ratio_to_raw: messages_per_second / raw_inserts_per_second.max(f64::EPSILON),
        }
    }
}

impl Skipped {
    pub fn new(database: &str, processes: usize, reason: &str) -> Skipped {
        Skipped {
            database: database.to_string(),
            processes,
            reason: reason.to_string(),
        }
    }
}

impl Footprint {
    pub fn new(
        database: &str,
        identities: usize,
        touch: &Outcome,
        at_ready: Memory,
        after: Memory,
        cold_start_ms: Vec<f64>,
    ) -> Footprint {
        let mut sorted = cold_start_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
        Footprint {
            database: database.to_string(),
            identities,
            touched: touch.acknowledged + touch.refused,
            touched_replied: touch.replied,
            rss_at_ready_mb: at_ready.rss_mb,
            rss_mb: after.rss_mb,
            peak_rss_mb: after.peak_mb,
            cold_start_ms,
            cold_start_median_ms: median,
        }
    }
}

impl LoadReport {
    /// The goals of the HTTP path this run measured: the ratio to raw inserts with signature
    /// checks (SQLite ≥ 0.5×, PostgreSQL + Redis ≥ 0.7×, one process each), and two processes at
    /// least as fast as one.
    pub fn goals(&self) -> Vec<crate::goals::Goal> {
        use crate::goals::Goal;
        let run = |database: &str, processes: usize| {
            self.runs
                .iter()
                .find(|run| run.database == database && run.processes == processes)
        };
        let mut goals = Vec::new();
        if let Some(run) = run("sqlite", 1) {
            goals.push(Goal::at_least_raw(
                "HTTP path, SQLite, one process",
                run.ratio_to_raw,
                0.5,
            ));
        }
        if let Some(run) = run("postgres+redis", 1) {
            goals.push(Goal::at_least_raw(
                "HTTP path, PostgreSQL + Redis, one process",
                run.ratio_to_raw,
                0.7,
            ));
            if let Some(visibility) = &self.visibility {
                goals.push(Goal::at_most_ms(
                    "a new message visible in the other process, p99 (PostgreSQL + Redis)",
                    visibility.p99_at_most_ms,
                    50.0,
                ));
            }
            if let Some(two) = run_two(self) {
                goals.push(Goal::at_least_ratio(
                    "two processes against one (PostgreSQL + Redis)",
                    two.messages_per_second / run.messages_per_second.max(f64::EPSILON),
                    1.0,
                    "one process",
                ));
            }
        }
        goals
    }

    /// Prints the tables.
    pub fn print(&self) {
        println!(
            "\n(e) HTTP path: signed Slack events → host → reply at the fake Slack Web API\n    {:<15} {:>5} {:>8} {:>8} {:>6} {:>11} {:>8} {:>8} {:>10} {:>7}",
            "database", "procs", "messages", "replied", "lost", "messages/s", "p50 ms", "p99 ms", "raw rows/s", "÷ raw"
        );
        for run in &self.runs {
            println!(
                "    {:<15} {:>5} {:>8} {:>8} {:>6} {:>11.0} {:>8.1} {:>8.1} {:>10.0} {:>7.2}",
                run.database,
                run.processes,
                run.messages,
                run.replied,
                run.lost,
                run.messages_per_second,
                run.p50_ms,
                run.p99_ms,
                run.raw_inserts_per_second,
                run.ratio_to_raw
            );
        }
        for skipped in &self.skipped {
            println!(
                "    {:<15} {:>5}  not run: {}",
                skipped.database, skipped.processes, skipped.reason
            );
        }
        print!(
            "{}",
            crate::goals::table(
                "    Goals of the HTTP path (measured / target, this run):",
                &self.goals()
            )
        );
        match &self.visibility {
            Some(visibility) => println!(
                "    a new message in the other process (two processes, Redis pub/sub, the hosts' histogram): {} turns, {} appended to a person held there, {} not held; p50 ≤ {} ms, p99 ≤ {} ms (bucket bounds), mean {:.2} ms",
                visibility.received,
                visibility.appended,
                visibility.not_held,
                visibility.p50_at_most_ms,
                visibility.p99_at_most_ms,
                visibility.mean_ms
            ),
            None => println!("    (no cross-process visibility measured: the two-process run did not run or no turn crossed)"),
        }
        println!(
            "(f) footprint\n    {:<15} {:>10} {:>8} {:>12} {:>9} {:>9} {:>15}",
            "database",
            "identities",
            "touched",
            "RSS ready MB",
            "RSS MB",
            "peak MB",
            "cold start ms"
        );
        for footprint in &self.footprint {
            println!(
                "    {:<15} {:>10} {:>8} {:>12.0} {:>9.0} {:>9.0} {:>15.0}",
                footprint.database,
                footprint.identities,
                footprint.touched,
                footprint.rss_at_ready_mb,
                footprint.rss_mb,
                footprint.peak_rss_mb,
                footprint.cold_start_median_ms
            );
        }
    }
}

/// The two-process PostgreSQL + Redis run, when it ran.
fn run_two(report: &LoadReport) -> Option<&LoadRun> {
    report
        .runs
        .iter()
        .find(|run| run.database == "postgres+redis" && run.processes == 2)
}
