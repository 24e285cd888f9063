//! With DATA_ENCRYPTION_KEY set, a value read from a sealed column must be sealed: one found in
//! clear (written to the database behind the host's back) is refused — listed as unreadable, never
//! recalled or exported as text — and everything else keeps working. Values stored in clear before
//! the key was set are sealed at the first start with it, so they stay readable.

use crate::common::{command, core_for, message, say, test_setups};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use secrecy::SecretString;
use whisperengine::store::accounts::find_account;
use whisperengine::store::crypto::UNREADABLE;
use whisperengine::store::entities::{fact, memory};
use whisperengine_contract::{Platform, PlatformAccount};

fn key() -> Option<SecretString> {
    Some(SecretString::from("5a".repeat(32)))
}

#[tokio::test]
async fn a_value_in_clear_under_a_key_is_refused_not_shown() {
    for (db, mut settings) in test_setups().await {
        settings.data_encryption_key = key();
        let core = core_for(settings.clone()).await;
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U_SEALED");
        say(&core, message(&slack, "My cat is called Miso")).await;
        say(&core, message(&slack, "My dog is called Rex")).await;
        core.flush_hot_state().await.expect("flushed");
        // Someone writes a memory in clear straight into the database.
        let intruder = "PLAINTEXT-PLANTED my password is hunter2";
        let planted = memory::Entity::find()
            .filter(memory::Column::Role.eq("user"))
            .order_by_asc(memory::Column::Id)
            .one(&core.store.db)
            .await
            .expect("readable")
            .expect("a user memory");
        memory::Entity::update_many()
            .col_expr(memory::Column::Content, Expr::value(intruder))
            .col_expr(memory::Column::Terms, Expr::value(Option::<String>::None))
            .filter(memory::Column::Id.eq(planted.id))
            .exec(&core.store.db)
            .await
            .expect("planted");
        drop(core);

        // A new process reads it from SQL.
        let core = core_for(settings.clone()).await;
        let listed = say(&core, command(&slack, "memory", false)).await;
        assert!(!listed.contains("hunter2"), "{}: {listed}", db.name);
        assert!(listed.contains(UNREADABLE), "{}: {listed}", db.name);
        assert!(
            listed.contains("My dog is called Rex"),
            "{}: the sealed rows still list: {listed}",
            db.name
        );
        let recalled = say(&core, message(&slack, "What is my password?")).await;
        assert!(!recalled.contains("hunter2"), "{}: {recalled}", db.name);
        let dog = say(&core, message(&slack, "What's my dog called?")).await;
        assert!(
            dog.contains("Rex"),
            "{}: recall still works: {dog}",
            db.name
        );
        let identity = find_account(&core.store.db, &slack)
            .await
            .expect("readable")
            .expect("the account exists")
            .identity_id;
        let exported = whisperengine::core::privacy::export::document(&core.store, identity)
            .await
            .expect("the export still works")
            .to_string();
        assert!(!exported.contains("hunter2"), "{}", db.name);
        assert!(exported.contains(UNREADABLE), "{}", db.name);
    }
}

#[tokio::test]
async fn values_stored_before_the_key_was_set_are_sealed_at_the_first_start_with_it() {
    for (db, settings) in test_setups().await {
        let plain = core_for(settings.clone()).await;
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U_LATEKEY");
        say(&plain, message(&slack, "My dog is called Rex")).await;
        plain.flush_hot_state().await.expect("flushed");
        drop(plain);

        let mut with_key = settings.clone();
        with_key.data_encryption_key = key();
        let core = core_for(with_key).await;
        for row in memory::Entity::find()
            .all(&core.store.db)
            .await
            .expect("readable")
        {
            assert!(
                row.content.starts_with("enc1:")
                    && row.terms.as_deref().is_none_or(|t| t.starts_with("enc1:")),
                "{}: left in clear: {row:?}",
                db.name
            );
        }
        for row in fact::Entity::find()
            .all(&core.store.db)
            .await
            .expect("readable")
        {
            assert!(row.value.starts_with("enc1:"), "{}: {row:?}", db.name);
        }
        let dog = say(&core, message(&slack, "What's my dog called?")).await;
        assert!(dog.contains("Rex"), "{}: {dog}", db.name);
        let listed = say(&core, command(&slack, "memory", false)).await;
        assert!(
            listed.contains("My dog is called Rex"),
            "{}: {listed}",
            db.name
        );
    }
}
