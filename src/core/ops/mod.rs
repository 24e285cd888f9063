//! Running the core: what it measures, how it tunes itself, and the background upkeep of its data.
//!
//! - [`kpi`]: the measured KPIs (visibility latency, consistency checks, health, conflict and
//!   satisfaction gauges).
//! - [`tuning`]: adaptive context size per platform from measured reply latency.
//! - [`maintenance`]: `admin cache clear` and `feedback`.
//! - [`lifecycle`]: the demo notice and the expiry of old data (DEMO_DATA_TTL, MEMORY_RETENTION_DAYS).

pub mod kpi;
pub mod lifecycle;
pub mod maintenance;
pub mod tuning;
