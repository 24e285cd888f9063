//! Loading a cold identity from SQL, on SQLite and (when configured) PostgreSQL + Redis: recall terms
//! are stored with every memory (sealed with DATA_ENCRYPTION_KEY, never in clear), a cold load builds
//! the same state the hot layer built message by message, and memories stored without terms (before
//! the column existed, or in an older format) are still recalled.
#![allow(clippy::unwrap_used)]

use crate::common;

use chrono::Utc;
use common::{command, core_for, link_by_admin, message, say, test_setups};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use secrecy::SecretString;
use whisperengine::core::identity;
use whisperengine::core::memory::recall;
use whisperengine::store::accounts;
use whisperengine::store::crypto::ContentCipher;
use whisperengine::store::entities::memory;
use whisperengine::store::hot::{IdentityHot, TurnRecord};
use whisperengine_contract::{Platform, PlatformAccount};

const KEY: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

/// What must be the same whether a turn was kept hot as it happened or read back from SQL.
fn comparable(turn: &TurnRecord) -> (i64, bool, String, Vec<String>, String, f64) {
    (
        turn.account_id.get(),
        turn.is_user,
        turn.content.clone(),
        turn.terms.to_vec(),
        turn.visibility.as_str().to_string(),
        turn.importance,
    )
}

fn turns(
    turns: &std::collections::VecDeque<TurnRecord>,
) -> Vec<(i64, bool, String, Vec<String>, String, f64)> {
    turns.iter().map(comparable).collect()
}

async fn identity_of(
    core: &whisperengine::core::Core,
    account: &PlatformAccount,
) -> whisperengine::store::ids::IdentityId {
    accounts::find_account(&core.store.db, account)
        .await
        .unwrap()
        .unwrap()
        .identity_id
}

#[tokio::test]
async fn terms_are_stored_with_each_memory_in_clear_only_without_a_key() {
    for (db, settings) in test_setups().await {
        for encrypted in [false, true] {
            let mut settings = settings.clone();
            if encrypted {
                settings.data_encryption_key = Some(SecretString::from(KEY.to_string()));
            }
            let core = core_for(settings).await;
            let account = PlatformAccount::new(Platform::Slack, "T1", format!("U-{encrypted}"));
            say(
                &core,
                message(&account, "My cat Miso sleeps on the balcony"),
            )
            .await;
            core.store.flush().await;
            let account_id = accounts::find_account(&core.store.db, &account)
                .await
                .unwrap()
                .unwrap()
                .id;
            let rows = memory::Entity::find()
                .filter(memory::Column::AccountId.eq(account_id))
                .all(&core.store.db)
                .await
                .unwrap();
            assert_eq!(rows.len(), 2, "{}: the message and the reply", db.name);
            let cipher = ContentCipher::from_key(&SecretString::from(KEY.to_string())).unwrap();
            for row in &rows {
                let stored = row.terms.clone().unwrap_or_default();
                let (content, terms) = if encrypted {
                    assert!(
                        stored.starts_with("enc1:")
                            && !stored.contains("miso")
                            && !stored.contains("balconi"),
                        "{}: terms stored in clear: {stored}",
                        db.name
                    );
                    (
                        cipher.open(&row.content).unwrap(),
                        cipher.open(&stored).unwrap(),
                    )
                } else {
                    (row.content.clone(), stored)
                };
                assert_eq!(
                    recall::parse_stored_terms(&terms).as_deref(),
                    Some(&recall::index_terms(&content)[..]),
                    "{}: stored terms are the content's terms",
                    db.name
                );
            }
            if !encrypted {
                let told = rows.iter().find(|row| row.role == "user").unwrap();
                assert_eq!(
                    told.terms.as_deref(),
                    Some("t1:cat miso sleep balconi"),
                    "{}: stemmed, stop words dropped",
                    db.name
                );
            }
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_cold_load_builds_the_state_the_hot_layer_built_message_by_message() {
    for (db, settings) in test_setups().await {
        for encrypted in [false, true] {
            let mut settings = settings.clone();
            if encrypted {
                settings.data_encryption_key = Some(SecretString::from(KEY.to_string()));
            }
            let core = core_for(settings.clone()).await;
            let slack = PlatformAccount::new(Platform::Slack, "T1", format!("ana-{encrypted}"));
            let discord = PlatformAccount::new(Platform::Discord, "", format!("ana-{encrypted}"));
            say(&core, message(&slack, "hello")).await;
            say(&core, message(&discord, "hello")).await;
            link_by_admin(&core, &slack, &discord).await;
            // More than the recent window (64 turns) of messages and replies, on both accounts.
            for index in 0..40 {
                let account = if index % 3 == 0 { &discord } else { &slack };
                let text = match index % 4 {
                    0 => format!("My cat number {index} is called Miso{index}"),
                    1 => format!("I went sailing near Porto on day {index}!"),
                    2 => "haha ok".to_string(),
                    _ => format!("Remember that exam {index} is in March"),
                };
                say(&core, message(account, &text)).await;
            }
            core.store.flush().await;
            let identity_id = identity_of(&core, &slack).await;
            let hot: IdentityHot = core.store.hot.identity(identity_id).expect("hot");
            assert_eq!(hot.recent.len(), 64, "{}", db.name);
            assert!(hot.recallable.len() > 40, "{}", db.name);

            // Another process (an empty hot layer) reads the same state from SQL.
            let cold_core = core_for(settings.clone()).await;
            let cold = identity::load_identity(&cold_core.store, identity_id)
                .await
                .unwrap();
            assert_eq!(
                turns(&cold.recent),
                turns(&hot.recent),
                "{}: recent",
                db.name
            );
            assert_eq!(
                turns(&cold.recallable),
                turns(&hot.recallable),
                "{}: recall window",
                db.name
            );
            assert!(cold.recallable.iter().all(|turn| turn.memory_id.is_some()));
            let ordered = cold
                .recent
                .iter()
                .zip(cold.recent.iter().skip(1))
                .all(|(older, newer)| older.memory_id < newer.memory_id);
            assert!(ordered, "{}: recent turns oldest first", db.name);

            // Forgotten on one account: gone from the next cold load too.
            let forgotten = cold
                .recallable
                .iter()
                .find(|turn| turn.content.contains("Miso8"))
                .and_then(|turn| turn.memory_id)
                .expect("a memory to forget");
            let done = say(
                &cold_core,
                command(&slack, &format!("forget {forgotten}"), false),
            )
            .await;
            assert!(done.starts_with("Done"), "{}: {done}", db.name);
            let again = core_for(settings.clone()).await;
            let reloaded = identity::load_identity(&again.store, identity_id)
                .await
                .unwrap();
            assert!(
                !reloaded
                    .recallable
                    .iter()
                    .any(|turn| turn.content.contains("Miso8"))
                    && !reloaded
                        .recent
                        .iter()
                        .any(|turn| turn.memory_id == Some(forgotten)),
                "{}: a forgotten memory came back",
                db.name
            );
            assert_eq!(
                reloaded.recallable.len(),
                cold.recallable.len() - 1,
                "{}",
                db.name
            );
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn memories_stored_without_terms_or_in_an_older_format_are_still_recalled() {
    for (db, settings) in test_setups().await {
        for encrypted in [false, true] {
            let mut settings = settings.clone();
            if encrypted {
                settings.data_encryption_key = Some(SecretString::from(KEY.to_string()));
            }
            let cipher = ContentCipher::from_key(&SecretString::from(KEY.to_string())).unwrap();
            let core = core_for(settings.clone()).await;
            let account = PlatformAccount::new(Platform::Desktop, "", format!("old-{encrypted}"));
            say(&core, message(&account, "hello")).await;
            let account_id = accounts::find_account(&core.store.db, &account)
                .await
                .unwrap()
                .unwrap()
                .id;
            // Rows as an older build wrote them: no terms, or terms in a format this build does not read.
            for (content, terms) in [
                ("My parrot is called Kiwi", None),
                (
                    "My tortoise is called Boulder",
                    Some("t0:tortois call boulder"),
                ),
            ] {
                let content = if encrypted {
                    cipher.seal(content)
                } else {
                    content.to_string()
                };
                memory::ActiveModel {
                    account_id: Set(account_id.into()),
                    role: Set("user".into()),
                    content: Set(content),
                    platform: Set("desktop".into()),
                    scope: Set(String::new()),
                    channel_id: Set(format!("dm-{}", account.user_id)),
                    thread_id: Set(None),
                    visibility: Set("dm".into()),
                    importance: Set(0.7),
                    emotion: Set(None),
                    emotion_intensity: Set(None),
                    created_at: Set(Utc::now()),
                    last_recalled_at: Set(None),
                    recall_count: Set(0),
                    terms: Set(terms.map(str::to_string)),
                    ..Default::default()
                }
                .insert(&core.store.db)
                .await
                .unwrap();
            }
            let cold_core = core_for(settings.clone()).await;
            let identity_id = identity_of(&cold_core, &account).await;
            let cold = identity::load_identity(&cold_core.store, identity_id)
                .await
                .unwrap();
            for (said, stem) in [("Kiwi", "kiwi"), ("Boulder", "boulder")] {
                let turn = cold
                    .recallable
                    .iter()
                    .find(|turn| turn.content.contains(said))
                    .expect("loaded");
                assert_eq!(
                    turn.terms,
                    recall::index_terms(&turn.content),
                    "{}",
                    db.name
                );
                assert!(turn.terms.iter().any(|term| term == stem), "{}", db.name);
            }
            let reply = say(&cold_core, message(&account, "What's my parrot called?")).await;
            assert!(reply.contains("Kiwi"), "{}: {reply}", db.name);
            let reply = say(&cold_core, message(&account, "What's my tortoise called?")).await;
            assert!(reply.contains("Boulder"), "{}: {reply}", db.name);
            let newest = memory::Entity::find()
                .order_by_desc(memory::Column::Id)
                .one(&cold_core.store.db)
                .await
                .unwrap()
                .unwrap();
            assert!(newest.terms.is_some(), "{}: new rows get terms", db.name);
        }
        db.cleanup().await;
    }
}
