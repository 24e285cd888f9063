//! The schema on real databases: migrations apply and are idempotent, every entity round-trips,
//! and the constraints the core relies on (uniqueness, cascading deletes) hold — on SQLite
//! always and on PostgreSQL when `TEST_DATABASE_URL` is set.
//!
//! Over 500 lines: every entity round-trips: one block per table.
#![allow(clippy::unwrap_used)]

use crate::common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set,
    SqlErr, Statement,
};
use uuid::Uuid;
use whisperengine::store::entities::{
    audit_log, emotion_observation, emotional_state, identity, link_attempt, link_code, memory,
    platform_account, preference, prelude::*, processed_event, sync_conflict,
};
use whisperengine_migrations::sea_orm_migration::SchemaManager;
use whisperengine_migrations::{Migrator, MigratorTrait};

const TABLES: [&str; 11] = [
    "identity",
    "platform_account",
    "memory",
    "emotional_state",
    "emotion_observation",
    "preference",
    "link_code",
    "link_attempt",
    "audit_log",
    "processed_event",
    "sync_conflict",
];

/// A timestamp with microseconds (PostgreSQL's precision) and no whole-second rounding luck.
fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 30, 15).unwrap()
        + Duration::microseconds(123_456)
        + Duration::minutes(minutes)
}

async fn new_identity(db: &DatabaseConnection) -> identity::Model {
    identity::ActiveModel {
        id: Set(Uuid::new_v4()),
        created_at: Set(at(0)),
        isolated: Set(false),
    }
    .insert(db)
    .await
    .unwrap()
}

async fn new_account(
    db: &DatabaseConnection,
    identity_id: Uuid,
    platform: &str,
    scope: &str,
    user_id: &str,
) -> Result<platform_account::Model, sea_orm::DbErr> {
    platform_account::ActiveModel {
        identity_id: Set(identity_id),
        platform: Set(platform.to_owned()),
        scope: Set(scope.to_owned()),
        user_id: Set(user_id.to_owned()),
        display_name: Set(Some("Ada".to_owned())),
        created_at: Set(at(1)),
        linked_at: Set(None),
        linked_by: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
}

async fn new_memory(db: &DatabaseConnection, account_id: i64, content: &str) -> memory::Model {
    memory::ActiveModel {
        account_id: Set(account_id),
        role: Set("user".to_owned()),
        content: Set(content.to_owned()),
        platform: Set("discord".to_owned()),
        scope: Set("guild-1".to_owned()),
        channel_id: Set("channel-1".to_owned()),
        thread_id: Set(None),
        visibility: Set("public".to_owned()),
        importance: Set(0.5),
        emotion: Set(None),
        emotion_intensity: Set(None),
        created_at: Set(at(2)),
        last_recalled_at: Set(None),
        recall_count: Set(0),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap()
}

async fn table_exists(db: &DatabaseConnection, table: &str) -> bool {
    SchemaManager::new(db).has_table(table).await.unwrap()
}

#[tokio::test]
async fn migrations_create_every_table_on_an_empty_database() {
    for test_db in common::fresh_databases().await {
        let db = test_db.connect().await;
        for table in TABLES {
            assert!(
                !table_exists(&db, table).await,
                "{}: {table} before migrating",
                test_db.name
            );
        }

        Migrator::up(&db, None).await.unwrap();

        for table in TABLES {
            assert!(
                table_exists(&db, table).await,
                "{}: {table} missing",
                test_db.name
            );
        }
        assert!(Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty());
        db.close().await.unwrap();
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn running_the_migrations_twice_is_a_no_op() {
    for test_db in common::fresh_databases().await {
        let db = test_db.connect_migrated().await;
        let account_identity = new_identity(&db).await;

        Migrator::up(&db, None).await.unwrap();

        assert!(Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty());
        let applied = Migrator::get_applied_migrations(&db).await.unwrap();
        assert_eq!(
            applied.len(),
            Migrator::migrations().len(),
            "{}",
            test_db.name
        );
        let kept = Identity::find_by_id(account_identity.id)
            .one(&db)
            .await
            .unwrap();
        assert_eq!(
            kept,
            Some(account_identity),
            "{}: data survives a second run",
            test_db.name
        );
        db.close().await.unwrap();
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn migrations_roll_back_completely_and_apply_again() {
    for test_db in common::fresh_databases().await {
        let db = test_db.connect_migrated().await;

        Migrator::down(&db, None).await.unwrap();
        for table in TABLES {
            assert!(
                !table_exists(&db, table).await,
                "{}: {table} after down",
                test_db.name
            );
        }
        Migrator::up(&db, None).await.unwrap();
        for table in TABLES {
            assert!(
                table_exists(&db, table).await,
                "{}: {table} after up",
                test_db.name
            );
        }
        db.close().await.unwrap();
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn every_entity_round_trips_one_row() {
    for test_db in common::fresh_databases().await {
        let name = test_db.name;
        let db = test_db.connect_migrated().await;

        let person = new_identity(&db).await;
        assert_eq!(
            Identity::find_by_id(person.id).one(&db).await.unwrap(),
            Some(person.clone())
        );

        let account = platform_account::ActiveModel {
            identity_id: Set(person.id),
            platform: Set("slack".to_owned()),
            scope: Set("T0123".to_owned()),
            user_id: Set("U0456".to_owned()),
            display_name: Set(None),
            created_at: Set(at(1)),
            linked_at: Set(Some(at(3))),
            linked_by: Set(Some("discord:80351110224678912".to_owned())),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        let read = PlatformAccount::find_by_id(account.id)
            .one(&db)
            .await
            .unwrap();
        assert_eq!(read, Some(account.clone()), "{name}: platform_account");
        assert_eq!(
            account.linked_at,
            Some(at(3)),
            "{name}: tz timestamp keeps microseconds"
        );

        let bare = new_memory(&db, account.id, "hello").await;
        let full = memory::ActiveModel {
            account_id: Set(account.id),
            role: Set("companion".to_owned()),
            content: Set("multi\nline — ünïcode ✓".to_owned()),
            platform: Set("slack".to_owned()),
            scope: Set("T0123".to_owned()),
            channel_id: Set("C1".to_owned()),
            thread_id: Set(Some("1700000000.000100".to_owned())),
            visibility: Set("dm".to_owned()),
            importance: Set(0.123_456_789_012_345_6),
            emotion: Set(Some("joy".to_owned())),
            emotion_intensity: Set(Some(-0.75)),
            created_at: Set(at(4)),
            last_recalled_at: Set(Some(at(5))),
            recall_count: Set(7),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        for expected in [bare, full] {
            let read = Memory::find_by_id(expected.id).one(&db).await.unwrap();
            assert_eq!(read, Some(expected), "{name}: memory");
        }

        let state = emotional_state::ActiveModel {
            identity_id: Set(person.id),
            mood: Set("calm".to_owned()),
            valence: Set(0.25),
            intensity: Set(0.5),
            updated_at: Set(at(6)),
            updated_by_account_id: Set(Some(account.id)),
            version: Set(5_000_000_000),
        }
        .insert(&db)
        .await
        .unwrap();
        let read = EmotionalState::find_by_id(person.id)
            .one(&db)
            .await
            .unwrap();
        assert_eq!(read, Some(state), "{name}: emotional_state");

        let observation = emotion_observation::ActiveModel {
            account_id: Set(account.id),
            memory_id: Set(None),
            emotion: Set("sadness".to_owned()),
            valence: Set(-0.6),
            intensity: Set(0.9),
            created_at: Set(at(7)),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        let read = EmotionObservation::find_by_id(observation.id)
            .one(&db)
            .await
            .unwrap();
        assert_eq!(read, Some(observation), "{name}: emotion_observation");

        let setting = preference::ActiveModel {
            account_id: Set(account.id),
            key: Set("language".to_owned()),
            value: Set("en".to_owned()),
            version: Set(1),
            updated_at: Set(at(8)),
            updated_by_platform: Set("slack".to_owned()),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        let read = Preference::find_by_id(setting.id).one(&db).await.unwrap();
        assert_eq!(read, Some(setting), "{name}: preference");

        let code = link_code::ActiveModel {
            code_hash: Set("ab".repeat(32)),
            account_id: Set(account.id),
            created_at: Set(at(9)),
            expires_at: Set(at(19)),
            used_at: Set(Some(at(10))),
            used_by_account_id: Set(Some(account.id)),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        let read = LinkCode::find_by_id(code.id).one(&db).await.unwrap();
        assert_eq!(read, Some(code), "{name}: link_code");

        let attempt = link_attempt::ActiveModel {
            account_id: Set(account.id),
            succeeded: Set(true),
            created_at: Set(at(10)),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        let read = LinkAttempt::find_by_id(attempt.id).one(&db).await.unwrap();
        assert_eq!(read, Some(attempt), "{name}: link_attempt");

        let entry = audit_log::ActiveModel {
            created_at: Set(at(11)),
            actor: Set("slack:T0123/U0456".to_owned()),
            actor_platform: Set("slack".to_owned()),
            action: Set("link".to_owned()),
            target: Set(None),
            outcome: Set("ok".to_owned()),
            detail: Set(Some("{\"merged\":2}".to_owned())),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        let read = AuditLog::find_by_id(entry.id).one(&db).await.unwrap();
        assert_eq!(read, Some(entry), "{name}: audit_log");

        let event = processed_event::ActiveModel {
            platform: Set("discord".to_owned()),
            event_id: Set("1234567890".to_owned()),
            created_at: Set(at(12)),
        }
        .insert(&db)
        .await
        .unwrap();
        let read = ProcessedEvent::find_by_id(("discord".to_owned(), "1234567890".to_owned()))
            .one(&db)
            .await
            .unwrap();
        assert_eq!(read, Some(event), "{name}: processed_event");

        let conflict = sync_conflict::ActiveModel {
            identity_id: Set(person.id),
            kind: Set("preference".to_owned()),
            key: Set("language".to_owned()),
            kept_value: Set("en".to_owned()),
            other_value: Set("fr".to_owned()),
            kept_platform: Set("slack".to_owned()),
            other_platform: Set("discord".to_owned()),
            strategy: Set("latest_wins".to_owned()),
            status: Set("open".to_owned()),
            resolution: Set(None),
            created_at: Set(at(13)),
            resolved_at: Set(None),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        let read = SyncConflict::find_by_id(conflict.id)
            .one(&db)
            .await
            .unwrap();
        assert_eq!(read, Some(conflict), "{name}: sync_conflict");

        db.close().await.unwrap();
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn a_platform_account_is_unique_per_platform_scope_and_user() {
    for test_db in common::fresh_databases().await {
        let name = test_db.name;
        let db = test_db.connect_migrated().await;
        let first = new_identity(&db).await;
        let second = new_identity(&db).await;
        new_account(&db, first.id, "slack", "T1", "U1")
            .await
            .unwrap();

        let duplicate = new_account(&db, second.id, "slack", "T1", "U1").await;

        let error = duplicate.expect_err("a second slack:T1/U1 must be rejected");
        assert!(
            matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
            "{name}: expected a unique violation, got {error}"
        );
        // The same user id in another workspace, or on another platform, is another account.
        new_account(&db, second.id, "slack", "T2", "U1")
            .await
            .unwrap();
        new_account(&db, second.id, "discord", "T1", "U1")
            .await
            .unwrap();
        assert_eq!(
            PlatformAccount::find().count(&db).await.unwrap(),
            3,
            "{name}"
        );
        db.close().await.unwrap();
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn a_preference_key_is_unique_per_account() {
    for test_db in common::fresh_databases().await {
        let db = test_db.connect_migrated().await;
        let person = new_identity(&db).await;
        let account = new_account(&db, person.id, "teams", "tenant", "aad")
            .await
            .unwrap();
        let set_language = |value: &str| preference::ActiveModel {
            account_id: Set(account.id),
            key: Set("language".to_owned()),
            value: Set(value.to_owned()),
            version: Set(1),
            updated_at: Set(at(0)),
            updated_by_platform: Set("teams".to_owned()),
            ..Default::default()
        };
        set_language("en").insert(&db).await.unwrap();

        let error = set_language("fr").insert(&db).await.unwrap_err();

        assert!(
            matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
            "{}: expected a unique violation, got {error}",
            test_db.name
        );
        db.close().await.unwrap();
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn deleting_a_platform_account_deletes_its_memories_only() {
    for test_db in common::fresh_databases().await {
        let name = test_db.name;
        let db = test_db.connect_migrated().await;
        let person = new_identity(&db).await;
        let forgotten = new_account(&db, person.id, "discord", "", "1")
            .await
            .unwrap();
        let kept = new_account(&db, person.id, "slack", "T1", "U1")
            .await
            .unwrap();
        new_memory(&db, forgotten.id, "one").await;
        new_memory(&db, forgotten.id, "two").await;
        let kept_memory = new_memory(&db, kept.id, "three").await;

        PlatformAccount::delete_by_id(forgotten.id)
            .exec(&db)
            .await
            .unwrap();

        let left = Memory::find().all(&db).await.unwrap();
        assert_eq!(
            left,
            vec![kept_memory],
            "{name}: only the other account's memory is left"
        );
        db.close().await.unwrap();
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn deleting_an_identity_deletes_its_accounts_and_everything_under_them() {
    for test_db in common::fresh_databases().await {
        let name = test_db.name;
        let db = test_db.connect_migrated().await;
        let person = new_identity(&db).await;
        let other = new_identity(&db).await;
        let account = new_account(&db, person.id, "discord", "", "1")
            .await
            .unwrap();
        let other_account = new_account(&db, other.id, "discord", "", "2")
            .await
            .unwrap();
        new_memory(&db, account.id, "mine").await;
        new_memory(&db, other_account.id, "theirs").await;
        emotional_state::ActiveModel {
            identity_id: Set(person.id),
            mood: Set("calm".to_owned()),
            valence: Set(0.0),
            intensity: Set(0.0),
            updated_at: Set(at(0)),
            updated_by_account_id: Set(None),
            version: Set(1),
        }
        .insert(&db)
        .await
        .unwrap();

        Identity::delete_by_id(person.id).exec(&db).await.unwrap();

        assert_eq!(
            PlatformAccount::find().all(&db).await.unwrap(),
            vec![other_account.clone()],
            "{name}"
        );
        let memories = Memory::find().all(&db).await.unwrap();
        assert_eq!(memories.len(), 1, "{name}");
        assert_eq!(memories[0].account_id, other_account.id, "{name}");
        assert_eq!(
            EmotionalState::find().count(&db).await.unwrap(),
            0,
            "{name}"
        );
        db.close().await.unwrap();
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn a_row_pointing_at_a_missing_account_is_rejected() {
    for test_db in common::fresh_databases().await {
        let db = test_db.connect_migrated().await;

        let orphan = memory::ActiveModel {
            account_id: Set(999_999),
            role: Set("user".to_owned()),
            content: Set("nobody".to_owned()),
            platform: Set("discord".to_owned()),
            scope: Set(String::new()),
            channel_id: Set("c".to_owned()),
            thread_id: Set(None),
            visibility: Set("dm".to_owned()),
            importance: Set(0.0),
            emotion: Set(None),
            emotion_intensity: Set(None),
            created_at: Set(at(0)),
            last_recalled_at: Set(None),
            recall_count: Set(0),
            ..Default::default()
        }
        .insert(&db)
        .await;

        let error = orphan.expect_err("foreign keys must be enforced");
        assert!(
            matches!(
                error.sql_err(),
                Some(SqlErr::ForeignKeyConstraintViolation(_))
            ),
            "{}: expected a foreign key violation, got {error}",
            test_db.name
        );
        db.close().await.unwrap();
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn each_postgres_test_database_is_its_own_schema() {
    let Some(admin_url) = common::postgres_url() else {
        eprintln!("skipped: PostgreSQL tests (TEST_DATABASE_URL not set)");
        return;
    };
    let migrated = common::fresh_postgres(&admin_url).await;
    let untouched = common::fresh_postgres(&admin_url).await;
    let migrated_db = migrated.connect_migrated().await;
    let untouched_db = untouched.connect().await;

    let current = migrated_db
        .query_one_raw(Statement::from_string(
            migrated_db.get_database_backend(),
            "SELECT current_schema() AS schema",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "schema")
        .unwrap();
    assert_eq!(Some(current.as_str()), migrated.schema());
    assert!(table_exists(&migrated_db, "identity").await);
    assert!(
        !table_exists(&untouched_db, "identity").await,
        "the other schema sees no tables"
    );
    assert!(!table_exists(&untouched_db, "seaql_migrations").await);

    migrated_db.close().await.unwrap();
    untouched_db.close().await.unwrap();
    migrated.cleanup().await;
    untouched.cleanup().await;
}

#[tokio::test]
async fn sqlite_connections_enforce_foreign_keys() {
    let test_db = common::fresh_sqlite();
    let db = test_db.connect().await;

    let enabled = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "PRAGMA foreign_keys",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i32>(0)
        .unwrap();

    assert_eq!(
        enabled, 1,
        "sqlx turns `PRAGMA foreign_keys` on for every connection"
    );
}
