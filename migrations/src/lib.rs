//! The WhisperEngine schema: every table, index and foreign key, for SQLite and PostgreSQL alike.
//!
//! The schema changes ONLY through the migrations listed in [`Migrator`]; the root crate runs
//! `Migrator::up(&db, None)` at start (and `migrate`), and checks
//! `Migrator::get_pending_migrations(&db)` for readiness. Every statement is built with sea-query
//! so the same migration means the same thing on both databases.

pub use sea_orm_migration;
pub use sea_orm_migration::MigratorTrait;

mod m20261125_000001_initial;
mod m20261125_000002_memory_model;
mod m20261125_000003_operations;
mod m20261125_000004_state_change;
mod m20261125_000005_memory_embedding;
mod m20261125_000006_recall_terms;
mod m20261125_000007_inbox;
mod m20261202_000008_observation_origin;
mod m20261202_000009_inbox_author;
mod m20261207_000010_memory_event;

use sea_orm_migration::MigrationTrait;

/// The ordered list of schema migrations (oldest first).
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_initial::Migration),
            Box::new(m20261125_000002_memory_model::Migration),
            Box::new(m20261125_000003_operations::Migration),
            Box::new(m20261125_000004_state_change::Migration),
            Box::new(m20261125_000005_memory_embedding::Migration),
            Box::new(m20261125_000006_recall_terms::Migration),
            Box::new(m20261125_000007_inbox::Migration),
            Box::new(m20261202_000008_observation_origin::Migration),
            Box::new(m20261202_000009_inbox_author::Migration),
            Box::new(m20261207_000010_memory_event::Migration),
        ]
    }
}
