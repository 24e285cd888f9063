//! The host's trust boundaries, one file per threat: who is a host admin, who may use the local
//! chat API, what is said where, what retention may delete, what the Teams endpoint accepts, and the
//! smaller holes (audit lookups, isolation scope, erasure coverage, logs, sealed values, admin
//! token). Each runs against the real host on SQLite and, when `TEST_DATABASE_URL` /
//! `TEST_REDIS_URL` are set, on PostgreSQL + Redis.

mod admin_rights;
mod admin_token;
mod audit_lookup;
mod erasure_coverage;
mod group_conversations;
mod isolation_scope;
mod local_api;
mod logs;
mod retention;
mod sealed_values;
mod teams_endpoint;
