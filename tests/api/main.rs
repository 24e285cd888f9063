//! Every integration test of the host in one binary (one link instead of one per area): one
//! module per area, the shared helpers and platform fakes in [`common`]. Tests start the real host
//! (in process with `Application`, or the binary), on SQLite and, when `TEST_DATABASE_URL` /
//! `TEST_REDIS_URL` are set, on PostgreSQL + Redis.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod adaptation;
mod admin_dashboard;
mod architecture;
mod bench_smoke;
mod cold_load;
mod concurrency;
mod config;
mod conflicts;
mod dedupe_and_restart;
mod deployment_modes;
mod discord;
mod discord_catch_up;
mod discord_inbox;
mod discord_stream;
mod durable;
mod emotion;
mod encryption;
mod fact_answers;
mod fact_conflicts;
mod fact_writes;
mod facts_llm;
mod fault;
mod http_api;
mod inbox;
mod isolation;
mod isolation_random;
mod link_flow;
mod llm;
mod local_embeddings;
mod local_model;
mod local_page;
mod metrics_kpis;
mod migrations;
mod model_fetch;
mod multiprocess;
mod multiprocess_propagation;
mod platform_tuning;
mod privacy_property;
mod privacy_rights;
mod recall;
mod recall_eval;
mod refusals;
mod reply_style;
mod semantic;
mod slack;
mod slack_catch_up;
mod slack_stream;
mod streaming;
mod switches;
mod sync_switches;
mod teams;
mod trust;
