//! Semantic recall end to end (EMBEDDING_MODEL): against a fake OpenAI-compatible `/embeddings` on
//! 127.0.0.1 whose vectors put paraphrases together, a paraphrase that BM25 cannot match is
//! recalled with embeddings on and not without; vectors are stored in `memory_embedding`, survive
//! a restart and go with `forget all`; with the endpoint down the reply still comes, BM25 alone.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::common::fake_llm;

use sea_orm::{EntityTrait, PaginatorTrait};
use std::time::{Duration, Instant};
use whisperengine::config::{FactExtraction, Settings};
use whisperengine::store::entities::memory_embedding;
use whisperengine_contract::{Platform, PlatformAccount};

const STATEMENT: &str = "My grandmother taught me to bake sourdough bread";
const SMALL_TALK: &[&str] = &[
    "I watched a documentary about sharks yesterday",
    "the weather is grey again today",
];
const PARAPHRASE: &str = "what did granny show me in the kitchen?";

fn with_embeddings(mut settings: Settings, base: url::Url) -> Settings {
    settings.llm_base_url = Some(base);
    settings.embedding_model = Some("fake-concepts".into());
    settings.fact_extraction = FactExtraction::Rules;
    settings
}

async fn stored_vectors(core: &whisperengine::core::Core) -> u64 {
    memory_embedding::Entity::find()
        .count(&core.store.db)
        .await
        .unwrap()
}

/// Waits (at most 5 s) until `count` vectors are stored by the background task.
async fn wait_for_vectors(core: &whisperengine::core::Core, count: u64) -> u64 {
    let started = Instant::now();
    loop {
        let stored = stored_vectors(core).await;
        if stored >= count || started.elapsed() > Duration::from_secs(5) {
            return stored;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn tell(core: &whisperengine::core::Core, account: &PlatformAccount) {
    for text in std::iter::once(&STATEMENT).chain(SMALL_TALK) {
        let reply = common::say(core, common::message(account, text)).await;
        assert!(!reply.is_empty());
    }
}

fn recalled(recorder: &common::Recorder) -> Vec<String> {
    recorder
        .last()
        .memories
        .into_iter()
        .map(|memory| memory.text)
        .collect()
}

#[tokio::test]
async fn a_paraphrase_bm25_misses_is_recalled_with_embeddings_and_not_without() {
    let (base, fake) = fake_llm::start().await;
    for (db, settings) in common::test_setups().await {
        let account = PlatformAccount::new(Platform::Slack, "T1", "U-ana");

        // Keywords only: the paraphrase shares no word (nor synonym) with the statement.
        let keyword_db = common::fresh_sqlite();
        let mut keyword_core = common::core_for(common::settings_for(&keyword_db, false)).await;
        let keyword_recorder = common::Recorder::install(&mut keyword_core);
        tell(&keyword_core, &account).await;
        common::say(&keyword_core, common::message(&account, PARAPHRASE)).await;
        assert!(
            !recalled(&keyword_recorder).contains(&STATEMENT.to_string()),
            "{}: BM25 alone should not find the paraphrase: {:?}",
            db.name,
            recalled(&keyword_recorder)
        );

        // With embeddings: the same conversation recalls it.
        let mut core = common::core_for(with_embeddings(settings.clone(), base.clone())).await;
        let recorder = common::Recorder::install(&mut core);
        tell(&core, &account).await;
        assert_eq!(
            wait_for_vectors(&core, 3).await,
            3,
            "{}: one vector per statement",
            db.name
        );
        common::say(&core, common::message(&account, PARAPHRASE)).await;
        let memories = recalled(&recorder);
        assert_eq!(
            memories.first().map(String::as_str),
            Some(STATEMENT),
            "{}: {memories:?}",
            db.name
        );
        assert!(
            SMALL_TALK
                .iter()
                .all(|text| !memories.contains(&text.to_string())),
            "{}: unrelated small talk stays out: {memories:?}",
            db.name
        );
        let row = memory_embedding::Entity::find()
            .one(&core.store.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.model, "fake-concepts");
        assert_eq!(row.dimensions as usize, fake_llm::DIMENSIONS);
        assert_eq!(row.vector.len(), fake_llm::DIMENSIONS * 4, "f32 bytes");
        drop(core);

        // After a restart the vectors come from SQL, not from the endpoint.
        let mut restarted = common::core_for(with_embeddings(settings, base.clone())).await;
        let recorder = common::Recorder::install(&mut restarted);
        let requests_before = fake.embedded_texts();
        common::say(&restarted, common::message(&account, PARAPHRASE)).await;
        assert_eq!(
            recalled(&recorder).first().map(String::as_str),
            Some(STATEMENT),
            "{}",
            db.name
        );
        assert_eq!(
            fake.embedded_texts(),
            requests_before + 1,
            "{}: only the question is embedded; stored memories' vectors come from SQL",
            db.name
        );

        // `forget all` takes the vectors with it.
        common::say(&restarted, common::command(&account, "forget all", false)).await;
        common::say(
            &restarted,
            common::command(&account, "forget all confirm", false),
        )
        .await;
        assert_eq!(stored_vectors(&restarted).await, 0, "{}", db.name);
        common::say(&restarted, common::message(&account, PARAPHRASE)).await;
        assert!(
            recalled(&recorder).is_empty(),
            "{}: nothing of the forgotten memories is recalled",
            db.name
        );
        drop(restarted);
        drop(keyword_core);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn memories_stored_before_embeddings_were_on_are_embedded_in_the_background() {
    let (base, fake) = fake_llm::start().await;
    for (db, settings) in common::test_setups().await {
        let account = PlatformAccount::new(Platform::Discord, "", "backfill-1");
        let plain = common::core_for(settings.clone()).await;
        tell(&plain, &account).await;
        drop(plain);

        let retention = Settings {
            memory_retention_days: Some(365),
            ..settings
        };
        let mut core = common::core_for(with_embeddings(retention, base.clone())).await;
        let recorder = common::Recorder::install(&mut core);
        // The first message reads the identity: its three older memories are queued in one batch.
        common::say(&core, common::message(&account, "hello there")).await;
        assert_eq!(wait_for_vectors(&core, 4).await, 4, "{}", db.name);
        let batched = fake
            .embedding_requests
            .lock()
            .unwrap()
            .iter()
            .any(|inputs| inputs.len() == 3 && inputs.contains(&STATEMENT.to_string()));
        assert!(batched, "{}: the backlog went in one request", db.name);
        common::say(&core, common::message(&account, PARAPHRASE)).await;
        assert_eq!(
            recalled(&recorder).first().map(String::as_str),
            Some(STATEMENT),
            "{}",
            db.name
        );

        // MEMORY_RETENTION_DAYS expiry takes the vectors with their memories.
        let later = chrono::Utc::now() + chrono::TimeDelta::days(400);
        let expired = whisperengine::core::ops::lifecycle::expire(&core, later)
            .await
            .unwrap();
        assert!(expired.rows > 0, "{}", db.name);
        assert_eq!(stored_vectors(&core).await, 0, "{}", db.name);
        drop(core);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn with_the_embeddings_endpoint_down_replies_still_come_with_keyword_recall() {
    let dead = fake_llm::dead_url().await;
    for (db, settings) in common::test_setups().await {
        let mut core = common::core_for(with_embeddings(settings, dead.clone())).await;
        let recorder = common::Recorder::install(&mut core);
        let account = PlatformAccount::new(Platform::Teams, "tenant", "down-1");
        let reply = common::say(&core, common::message(&account, "My cat is called Miso")).await;
        assert!(!reply.is_empty(), "{}", db.name);
        let reply = common::say(&core, common::message(&account, "what's my cat called?")).await;
        assert!(!reply.is_empty(), "{}", db.name);
        assert!(
            recalled(&recorder).contains(&"My cat is called Miso".to_string()),
            "{}: BM25 still recalls: {:?}",
            db.name,
            recalled(&recorder)
        );
        assert_eq!(stored_vectors(&core).await, 0, "{}", db.name);
        drop(core);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_slow_embeddings_endpoint_delays_a_reply_by_two_seconds_at_most() {
    let (base, fake) = fake_llm::start().await;
    fake.embedding_delay_ms
        .store(8_000, std::sync::atomic::Ordering::SeqCst);
    for (db, settings) in common::test_setups().await {
        let mut core = common::core_for(with_embeddings(settings, base.clone())).await;
        let recorder = common::Recorder::install(&mut core);
        let account = PlatformAccount::new(Platform::Desktop, "", "slow-1");
        common::say(&core, common::message(&account, "My cat is called Miso")).await;
        let started = Instant::now();
        let reply = common::say(&core, common::message(&account, "what's my cat called?")).await;
        let waited = started.elapsed();
        assert!(!reply.is_empty(), "{}", db.name);
        assert!(
            waited < Duration::from_secs(4),
            "{}: waited {waited:?} for an 8 s endpoint",
            db.name
        );
        assert!(
            recalled(&recorder).contains(&"My cat is called Miso".to_string()),
            "{}: keyword recall meanwhile",
            db.name
        );
        drop(core);
        db.cleanup().await;
    }
}
