//! At-rest encryption of memory content with DATA_ENCRYPTION_KEY, on SQLite and (when configured)
//! PostgreSQL + Redis: what is stored is sealed, the companion still remembers, and a wrong or missing
//! key stops start-up with a clear error instead of showing garbage.

use crate::common;

use common::{command, core_for, message, say, test_setups};
use sea_orm::{EntityTrait, QueryOrder};
use secrecy::SecretString;
use std::sync::Arc;
use whisperengine::store::entities::{fact, memory};
use whisperengine_contract::{Platform, PlatformAccount};

fn key(byte: &str) -> Option<SecretString> {
    Some(SecretString::from(byte.repeat(32)))
}

#[tokio::test]
async fn memories_are_sealed_at_rest_and_a_wrong_key_stops_start_up() {
    for (db, mut settings) in test_setups().await {
        settings.data_encryption_key = key("4f");
        let core = core_for(settings.clone()).await;
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        say(&core, message(&slack, "My cat is called Miso")).await;
        let rows = memory::Entity::find()
            .all(&core.store.db)
            .await
            .expect("readable");
        assert!(!rows.is_empty(), "{}", db.name);
        for row in &rows {
            assert!(
                row.content.starts_with("enc1:") && !row.content.contains("Miso"),
                "{}: stored in clear: {}",
                db.name,
                row.content
            );
        }

        // The facts learnt from it are sealed too.
        let facts = fact::Entity::find()
            .all(&core.store.db)
            .await
            .expect("readable");
        assert!(!facts.is_empty(), "{}: a fact was learnt", db.name);
        for row in &facts {
            assert!(
                row.value.starts_with("enc1:") && !row.value.contains("Miso"),
                "{}: fact stored in clear: {}",
                db.name,
                row.value
            );
        }

        // Another start with the same key reads everything back.
        let again = core_for(settings.clone()).await;
        let recalled = say(&again, message(&slack, "What's my cat called?")).await;
        assert!(recalled.contains("Miso"), "{}: {recalled}", db.name);
        let listed = say(&again, command(&slack, "memory", false)).await;
        assert!(
            listed.contains("My cat is called Miso"),
            "{}: {listed}",
            db.name
        );
        let account = whisperengine::store::accounts::find_account(&again.store.db, &slack)
            .await
            .expect("readable")
            .expect("exists");
        let exported =
            whisperengine::core::privacy::export::document(&again.store, account.identity_id)
                .await
                .expect("export");
        assert!(exported.to_string().contains("My cat is called Miso"));
        assert!(
            exported["facts"]
                .as_array()
                .is_some_and(|facts| facts.iter().any(|f| f["value"] == "Miso")),
            "{}: the export shows facts opened: {}",
            db.name,
            exported["facts"]
        );

        // Forgetting the message forgets the fact it stated, sealed values notwithstanding.
        let told = memory::Entity::find()
            .order_by_asc(memory::Column::Id)
            .all(&again.store.db)
            .await
            .expect("readable")
            .into_iter()
            .find(|row| row.role == "user")
            .expect("the user's message");
        let done = say(
            &again,
            command(&slack, &format!("forget {}", told.id), false),
        )
        .await;
        assert!(done.starts_with("Done."), "{}: {done}", db.name);
        let left = fact::Entity::find()
            .all(&again.store.db)
            .await
            .expect("readable");
        assert!(left.is_empty(), "{}: facts left: {left:?}", db.name);

        let mut wrong = settings.clone();
        wrong.data_encryption_key = key("77");
        let error = whisperengine::setup::build_core(Arc::new(wrong))
            .await
            .err()
            .map(|error| format!("{error:#}"))
            .unwrap_or_default();
        assert!(
            error.contains("DATA_ENCRYPTION_KEY does not decrypt the data already stored"),
            "{}: {error}",
            db.name
        );
        let mut missing = settings.clone();
        missing.data_encryption_key = None;
        let error = whisperengine::setup::build_core(Arc::new(missing))
            .await
            .err()
            .map(|error| format!("{error:#}"))
            .unwrap_or_default();
        assert!(
            error.contains(
                "DATA_ENCRYPTION_KEY is not set, but the memories in this database are encrypted"
            ),
            "{}: {error}",
            db.name
        );
        let mut malformed = settings.clone();
        malformed.data_encryption_key = Some(SecretString::from("not-a-key".to_string()));
        let error = whisperengine::setup::build_core(Arc::new(malformed))
            .await
            .err()
            .map(|error| format!("{error:#}"))
            .unwrap_or_default();
        assert!(
            error.contains("DATA_ENCRYPTION_KEY is malformed") && !error.contains("not-a-key"),
            "{}: {error}",
            db.name
        );
    }
}
