//! The retrieval benchmark: `--memories` stored memories (default 1,000,000) across `--identities`
//! identities (default 10,000), bulk-inserted with multi-row inserts inside transactions; then
//! `--queries` recall queries through the core's own retrieval: the identity's state from the hot
//! layer or, when it is not there, from SQL ([`whisperengine::core::identity::hot_identity`]),
//! then [`whisperengine::core::memory::context::RecallRequest`]. Queries come in conversations of 1
//! to 9 messages from random identities; each conversation starts cold (the person's state left
//! the hot layer since they last spoke, as MEMORY_SYNC_INTERVAL or eviction would have it). Three
//! figures, p50/p99 each:
//! - hot: the later messages of a conversation,
//! - cold: the first message, loading the identity's state from SQL included,
//! - every query of the mix.

use anyhow::Context;
use chrono::{Duration as ChronoDuration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::Serialize;
use std::time::{Duration, Instant};
use uuid::Uuid;
use whisperengine::core::memory::{context, recall};
use whisperengine::core::{identity, Core};
use whisperengine::store::crypto;
use whisperengine::store::entities::{identity as identity_entity, memory, platform_account};
use whisperengine::store::ids::{AccountId, IdentityId};
use whisperengine::store::kinds::MemoryRole;
use whisperengine_contract::{ConversationContext, Platform};

/// Rows per INSERT statement (well under SQLite's and PostgreSQL's bind-parameter limits).
const ROWS_PER_STATEMENT: usize = 1_000;
/// Rows per transaction.
const ROWS_PER_TRANSACTION: usize = 50_000;
/// Prefix of the benchmark's user ids, so reruns on one database find their own data.
const USER_PREFIX: &str = "bench-recall-";

/// What the retrieval benchmark measured.
#[derive(Debug, Serialize)]
pub struct RetrievalReport {
    pub memories: usize,
    pub identities: usize,
    pub queries: usize,
    pub insert_rows_per_second: f64,
    /// Later messages of a conversation: the identity's state is hot.
    pub hot_queries: usize,
    pub hot_p50_ms: f64,
    pub hot_p99_ms: f64,
    /// First message of a conversation: the identity's state is loaded from SQL first.
    pub cold_queries: usize,
    pub cold_p50_ms: f64,
    pub cold_p99_ms: f64,
    /// Every query of the run (hot and cold as they came).
    pub all_p50_ms: f64,
    pub all_p99_ms: f64,
    /// Cold p99 ≤ 5 ms and the mix's p99 ≤ 2 ms.
    pub goals: Vec<crate::goals::Goal>,
}

/// Longest conversation: each has 1 to this many messages (uniformly), so about one query in five
/// is the cold first message.
const MAX_CONVERSATION: usize = 9;

const TOPICS: &[&str] = &[
    "cat",
    "dog",
    "sailing",
    "marathon",
    "coffee",
    "tea",
    "lisbon",
    "porto",
    "berlin",
    "nurse",
    "engineer",
    "teacher",
    "guitar",
    "cello",
    "piano",
    "sister",
    "brother",
    "mother",
    "father",
    "garden",
    "tomato",
    "bicycle",
    "volvo",
    "train",
    "exam",
    "university",
    "physics",
    "novel",
    "dune",
    "radiohead",
    "jazz",
    "football",
    "benfica",
    "swimming",
    "yoga",
    "hiking",
    "pizza",
    "sushi",
    "olives",
    "peanuts",
    "iceland",
    "japan",
    "japanese",
    "spanish",
    "birthday",
    "march",
    "june",
    "winter",
    "autumn",
    "balcony",
    "apartment",
    "laptop",
    "phone",
    "shift",
    "hospital",
    "office",
    "meeting",
    "deadline",
    "holiday",
    "beach",
    "mountain",
    "river",
    "museum",
    "concert",
];

const FRAMES: &[&str] = &[
    "I really love {a} and {b}",
    "my {a} is called {b}",
    "yesterday I went to the {a} with my {b}",
    "I am worried about the {a} tomorrow",
    "remember that my {a} is on {b}",
    "I work near the {a} and take the {b} home",
    "haha ok",
    "the {a} was nice today",
    "I can't stand {a} but {b} is fine",
    "thinking about {a} and {b} again",
];

fn sentence(rng: &mut StdRng) -> String {
    let frame = FRAMES[rng.gen_range(0..FRAMES.len())];
    frame
        .replace("{a}", TOPICS[rng.gen_range(0..TOPICS.len())])
        .replace("{b}", TOPICS[rng.gen_range(0..TOPICS.len())])
}

/// Runs the retrieval benchmark on the core's database and prints the figures.
pub async fn run(
    core: &Core,
    memories: usize,
    identities: usize,
    queries: usize,
) -> anyhow::Result<RetrievalReport> {
    let identities = identities.max(1);
    println!(
        "(d) retrieval: storing {memories} memories across {identities} identities (multi-row inserts, {ROWS_PER_TRANSACTION} rows per transaction)"
    );
    let started = Instant::now();
    let accounts = create_accounts(core, identities).await?;
    insert_memories(core, &accounts, memories).await?;
    let insert_rate = memories as f64 / started.elapsed().as_secs_f64();
    println!(
        "    stored in {:.1} s ({insert_rate:.0} rows/s)",
        started.elapsed().as_secs_f64()
    );

    let mut rng = StdRng::seed_from_u64(7);
    let mut hot = Vec::with_capacity(queries);
    let mut cold = Vec::new();
    let context = ConversationContext::direct("bench");
    while hot.len() + cold.len() < queries {
        // A conversation: someone comes back and sends a few messages. Their state left the hot
        // layer since their last conversation (MEMORY_SYNC_INTERVAL, default 30 s, makes any older
        // state stale; eviction does the rest), so the first message loads it from SQL: cold.
        let (account_id, identity_id) = accounts[rng.gen_range(0..accounts.len())];
        let (account_id, identity_id) =
            (AccountId::from(account_id), IdentityId::from(identity_id));
        let _ = core.store.hot.invalidate_identity(identity_id);
        let length = rng.gen_range(1..=MAX_CONVERSATION);
        for turn in 0..length.min(queries - hot.len() - cold.len()) {
            let query = format!(
                "what do you remember about my {}?",
                TOPICS[rng.gen_range(0..TOPICS.len())]
            );
            let started = Instant::now();
            let state = {
                let _guard = core.store.hot.lock_identity(identity_id).await;
                identity::hot_identity(&core.store, identity_id).await?
            };
            let account = state
                .accounts
                .iter()
                .find(|account| account.id == account_id)
                .context("the benchmark account belongs to its identity")?;
            let gathered = context::RecallRequest::new(
                &core.settings,
                &state,
                account,
                &context,
                &query,
                Utc::now(),
            )
            .gather();
            let elapsed = started.elapsed();
            std::hint::black_box(&gathered);
            if turn == 0 {
                cold.push(elapsed);
            } else {
                hot.push(elapsed);
            }
        }
    }
    let mut all: Vec<Duration> = hot.iter().chain(&cold).copied().collect();
    hot.sort();
    cold.sort();
    all.sort();
    let mut report = RetrievalReport {
        memories,
        identities,
        queries,
        insert_rows_per_second: insert_rate,
        hot_queries: hot.len(),
        hot_p50_ms: super::percentile(&hot, 0.5),
        hot_p99_ms: super::percentile(&hot, 0.99),
        cold_queries: cold.len(),
        cold_p50_ms: super::percentile(&cold, 0.5),
        cold_p99_ms: super::percentile(&cold, 0.99),
        all_p50_ms: super::percentile(&all, 0.5),
        all_p99_ms: super::percentile(&all, 0.99),
        goals: Vec::new(),
    };
    report.goals = vec![
        crate::goals::Goal::at_most_ms(
            "cold retrieval p99 (SQL load included)",
            report.cold_p99_ms,
            5.0,
        ),
        crate::goals::Goal::at_most_ms("retrieval p99 over the mix", report.all_p99_ms, 2.0),
    ];
    println!(
        "    retrieval per query (hot-layer lookup or SQL load + BM25 ranking), {} queries in conversations of 1-{MAX_CONVERSATION} messages:",
        all.len()
    );
    println!(
        "      identity hot (later messages, {} queries):          p50 {:.3} ms, p99 {:.3} ms",
        hot.len(),
        report.hot_p50_ms,
        report.hot_p99_ms
    );
    println!(
        "      identity cold, SQL load included (first message, {} queries): p50 {:.3} ms, p99 {:.3} ms",
        cold.len(),
        report.cold_p50_ms,
        report.cold_p99_ms
    );
    println!(
        "      every query (the mix above):                    p50 {:.3} ms, p99 {:.3} ms",
        report.all_p50_ms, report.all_p99_ms
    );
    print!(
        "{}",
        crate::goals::table(
            "    Goals of retrieval (measured / target, this run):",
            &report.goals
        )
    );
    Ok(report)
}

/// One identity with one local-chat account each; returns (account id, identity id).
async fn create_accounts(core: &Core, count: usize) -> anyhow::Result<Vec<(i64, Uuid)>> {
    let db = &core.store.db;
    let now = Utc::now();
    let batch_tag = Uuid::new_v4().simple().to_string();
    let prefix = format!("{USER_PREFIX}{}-", &batch_tag[..8]);
    let ids: Vec<Uuid> = (0..count).map(|_| Uuid::new_v4()).collect();
    let transaction = db.begin().await?;
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        identity_entity::Entity::insert_many(chunk.iter().map(|id| identity_entity::ActiveModel {
            id: Set(*id),
            created_at: Set(now),
            isolated: Set(false),
        }))
        .exec_without_returning(&transaction)
        .await?;
    }
    for (offset, chunk) in ids.chunks(ROWS_PER_STATEMENT).enumerate() {
        platform_account::Entity::insert_many(chunk.iter().enumerate().map(|(index, id)| {
            platform_account::ActiveModel {
                identity_id: Set(*id),
                platform: Set(Platform::Desktop.as_str().to_string()),
                scope: Set(String::new()),
                user_id: Set(format!("{prefix}{}", offset * ROWS_PER_STATEMENT + index)),
                display_name: Set(None),
                created_at: Set(now),
                linked_at: Set(None),
                linked_by: Set(None),
                ..Default::default()
            }
        }))
        .exec_without_returning(&transaction)
        .await?;
    }
    transaction.commit().await?;
    let rows: Vec<(i64, Uuid)> = platform_account::Entity::find()
        .select_only()
        .column(platform_account::Column::Id)
        .column(platform_account::Column::IdentityId)
        .filter(platform_account::Column::UserId.starts_with(&prefix))
        .order_by_asc(platform_account::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows)
}

/// `count` memories spread evenly over the accounts, oldest first, in big transactions.
async fn insert_memories(
    core: &Core,
    accounts: &[(i64, Uuid)],
    count: usize,
) -> anyhow::Result<()> {
    let db = &core.store.db;
    let cipher = core.store.cipher.as_deref();
    let mut rng = StdRng::seed_from_u64(42);
    let start = Utc::now() - ChronoDuration::days(365);
    let step = ChronoDuration::seconds((365 * 86_400 / count.max(1) as i64).max(1));
    let mut written = 0;
    while written < count {
        let transaction = db.begin().await?;
        let in_transaction = ROWS_PER_TRANSACTION.min(count - written);
        let mut done = 0;
        while done < in_transaction {
            let rows = ROWS_PER_STATEMENT.min(in_transaction - done);
            let batch: Vec<memory::ActiveModel> = (0..rows)
                .map(|offset| {
                    let index = written + done + offset;
                    let (account_id, _) = accounts[index % accounts.len()];
                    let content = sentence(&mut rng);
                    // What the pipeline stores: the terms with the content, both sealed with
                    // DATA_ENCRYPTION_KEY when it is set.
                    let terms = recall::stored_terms(&recall::index_terms(&content));
                    memory::ActiveModel {
                        account_id: Set(account_id),
                        role: Set(MemoryRole::User.into()),
                        content: Set(crypto::sealed(cipher, &content)),
                        terms: Set(Some(crypto::sealed(cipher, &terms))),
                        platform: Set(Platform::Desktop.as_str().to_string()),
                        scope: Set(String::new()),
                        channel_id: Set("bench".into()),
                        thread_id: Set(None),
                        visibility: Set("dm".into()),
                        importance: Set(rng.gen_range(0.1..0.9)),
                        emotion: Set(None),
                        emotion_intensity: Set(None),
                        created_at: Set(start + step * index as i32),
                        last_recalled_at: Set(None),
                        recall_count: Set(0),
                        ..Default::default()
                    }
                })
                .collect();
            memory::Entity::insert_many(batch)
                .exec_without_returning(&transaction)
                .await?;
            done += rows;
        }
        transaction.commit().await?;
        written += in_transaction;
    }
    Ok(())
}
