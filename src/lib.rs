//! WhisperEngine host: one AI companion across Discord, Slack, Teams and a local chat.
//!
//! A tour of the layout (dependencies point one way: contract ← adapters ← this crate; the local
//! chat, page, JSON API and terminal, is the `whisperengine_local` adapter):
//! - [`config`]: the typed [`config::Settings`], loaded once (defaults < `whisperengine.toml` < environment)
//!   and validated before anything starts.
//! - [`store`]: SQL (sea-orm) as the source of truth, the in-process hot layer, optional Redis.
//! - [`core`]: the platform-neutral pipeline, identity and linking, the command set, emotion.
//! - [`llm`]: the OpenAI-compatible client and the deterministic offline responder.
//! - [`personality`]: characters loaded from `personalities/*.toml`.
//! - [`http`]: the one HTTP listener (health, readiness, metrics; connectors merge their routes).
//! - [`telemetry`]: tracing set-up and the Prometheus metrics registry.
//! - [`admin`]: the admin dashboard at `/admin` (only when `ADMIN_TOKEN` is set).
//! - [`setup`]: what the settings describe, built (store options, responder, core, connector configs).
//! - [`app`]: the composition root: wiring settings, store, core and HTTP into the running host.
//! - [`cli`]: `serve`, `chat`, `migrate`, `doctor`, and `bench`, which runs the `whisperengine-bench`
//!   executable (the `bench/` crate) beside this one.
//! - [`ops`]: the operator's tools (`admin isolate`, `audit`, `export`, `cache clear`) and data expiry.

pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod core;
pub mod doctor;
pub mod http;
pub mod llm;
pub mod models;
pub mod ops;
pub mod personality;
pub mod setup;
pub mod store;
pub mod telemetry;
