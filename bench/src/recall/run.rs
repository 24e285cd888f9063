//! Running the evaluation: every conversation on a fresh core with a fresh SQLite database in a
//! temporary folder, once with MEMORY_TOP_K = 5 and once with 10 (the two side by side).
//!
//! 1. Every turn goes through the whole pipeline as a DM on the local chat
//!    (`Core::handle_event`), as the person typed it.
//! 2. Then the turns are put back in their sessions: each stored row's `created_at` becomes its
//!    session's date and time (the companion's reply half a minute after the message), recall
//!    counters are reset (no turn was recalled months ago just because the feeding was quick),
//!    and the identity's hot state is dropped so it is read again from SQL, as after a restart.
//! 3. Each question is asked the same way, in the set's (shuffled) order; a recorder in place of
//!    the responder keeps the prompt, whose `memories` are what the host recalled, best first.
//!    Asked questions are stored like any message, but a question is never recalled, and the
//!    small boost recalled memories get fades within a day; so earlier questions hardly touch
//!    later ones.
//!
//! With `--embeddings <model folder>` the host is run again with semantic recall on embeddings
//! computed in process (`LOCAL_EMBEDDINGS`), once more at each MEMORY_TOP_K; its vectors are
//! dated with their turns.
//!
//! The baseline ranks the same turns for the same questions with [`super::bm25`].

use super::bm25;
use super::report::{QuestionResult, RecallReport};
use super::{evaluation_set, Conversation, QUESTION_DAY, SEED};
use anyhow::Context;
use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use whisperengine::config::{DeploymentMode, FactExtraction, Settings};
use whisperengine::core::Core;
use whisperengine::llm::{LlmError, OfflineResponder, Prompt, Responder};
use whisperengine::store::entities::{memory, memory_embedding};
use whisperengine::store::kinds::MemoryRole;
use whisperengine_contract::{
    Capabilities, ConversationContext, HandlerOutcome, InboundEvent, InboundMessage, Platform,
    PlatformAccount,
};

/// Conversations in a full run and in `--small`.
pub const FULL_CONVERSATIONS: usize = 10;
pub const SMALL_CONVERSATIONS: usize = 2;
/// The MEMORY_TOP_K values the host is run with.
pub const TOP_KS: [usize; 2] = [5, 10];

/// What the evaluation runs on.
pub struct RecallOptions {
    /// The host's settings (as loaded); the database, the model and the context size are
    /// replaced for the run.
    pub settings: Settings,
    /// [`SMALL_CONVERSATIONS`] instead of [`FULL_CONVERSATIONS`] (what CI runs).
    pub is_small: bool,
    /// A sentence-transformers model folder (`LOCAL_EMBEDDINGS`): the host is run a second time
    /// with semantic recall on these embeddings, beside the keyword-only run.
    pub embeddings: Option<PathBuf>,
}

/// Runs the evaluation and returns its figures (the caller prints them).
pub async fn run_recall(options: RecallOptions) -> anyhow::Result<RecallReport> {
    let started = Instant::now();
    let count = if options.is_small {
        SMALL_CONVERSATIONS
    } else {
        FULL_CONVERSATIONS
    };
    let set = evaluation_set(count, SEED);
    let mut results = Vec::new();
    for (number, conversation) in set.iter().enumerate() {
        let (at_5, at_10) = tokio::try_join!(
            host_recall(&options.settings, conversation, TOP_KS[0], None),
            host_recall(&options.settings, conversation, TOP_KS[1], None),
        )?;
        let (semantic_at_5, semantic_at_10) = match &options.embeddings {
            Some(folder) => tokio::try_join!(
                host_recall(&options.settings, conversation, TOP_KS[0], Some(folder)),
                host_recall(&options.settings, conversation, TOP_KS[1], Some(folder)),
            )?,
            None => (Vec::new(), Vec::new()),
        };
        let index = bm25::Index::new(conversation.turns.iter().map(|turn| turn.text.as_str()));
        for (question_number, question) in conversation.questions.iter().enumerate() {
            results.push(QuestionResult {
                conversation: number,
                category: question.category,
                text: question.text.clone(),
                about: question.about.clone(),
                evidence: question.evidence.clone(),
                evidence_text: question
                    .evidence
                    .iter()
                    .map(|&turn| conversation.turns[turn].text.clone())
                    .collect(),
                host_at_5: at_5[question_number].clone(),
                host_at_10: at_10[question_number].clone(),
                semantic_at_5: semantic_at_5.get(question_number).cloned(),
                semantic_at_10: semantic_at_10.get(question_number).cloned(),
                bm25_at_10: index.top(&question.text, TOP_KS[1]),
            });
        }
    }
    let encode_times = match &options.embeddings {
        Some(folder) => Some(encode_times(folder, &set).await?),
        None => None,
    };
    let mut report = RecallReport::new(
        options.is_small,
        options.embeddings.as_deref(),
        &set,
        results,
        started.elapsed(),
    );
    report.encode_ms = encode_times;
    Ok(report)
}

/// What a message costs the local encoder alone, as a reply waits for it: each question of the
/// set encoded by itself, one after the other; p50 and p99 in milliseconds.
async fn encode_times(folder: &Path, set: &[Conversation]) -> anyhow::Result<(f64, f64)> {
    let embedder = whisperengine::llm::local_embeddings::LocalEmbedder::load(folder).await?;
    let mut times: Vec<f64> = Vec::new();
    for question in set.iter().flat_map(|conversation| &conversation.questions) {
        let started = Instant::now();
        embedder.embed(std::slice::from_ref(&question.text)).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let at = |share: f64| {
        times
            .get(((times.len() as f64 * share) as usize).min(times.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Ok((at(0.5), at(0.99)))
}

/// What the host recalled for each question of `conversation` with MEMORY_TOP_K = `top_k` (and
/// semantic recall on the embeddings of the model in `embeddings`, when given): the turn each
/// recalled memory is (by its text), best first; `None` for a memory that is not one of the
/// conversation's turns.
async fn host_recall(
    base: &Settings,
    conversation: &Conversation,
    top_k: usize,
    embeddings: Option<&Path>,
) -> anyhow::Result<Vec<Vec<Option<usize>>>> {
    let folder = tempfile::tempdir().context("creating a temporary folder")?;
    let mut settings = base.clone();
    settings.database_url = format!(
        "sqlite://{}?mode=rwc",
        folder.path().join("recall.db").display()
    );
    settings.deployment_mode = DeploymentMode::Cloud;
    settings.rate_limit_per_minute = 0;
    settings.redis_url = None;
    settings.llm_base_url = None;
    settings.local_model = whisperengine::models::LocalModelChoice::Off;
    settings.embedding_model = None;
    settings.local_embeddings = embeddings.map(Path::to_path_buf);
    settings.fact_extraction = FactExtraction::Rules;
    settings.memory_top_k = top_k;
    settings.platform_overrides = Default::default();
    settings.adaptive_performance_tuning = false;
    // The hot state is re-read from SQL only when the run says so (after dating the turns).
    settings.memory_sync_interval = std::time::Duration::from_secs(24 * 60 * 60);
    let mut core = whisperengine::setup::build_core(Arc::new(settings)).await?;
    let recorder = Arc::new(Recorder {
        last: Mutex::new(None),
        offline: OfflineResponder::new(core.personality.clone()),
    });
    core.responder = recorder.clone();
    let account = PlatformAccount::new(Platform::Desktop, "", conversation.user.clone());

    for (number, turn) in conversation.turns.iter().enumerate() {
        send(&core, &account, &turn.text, &format!("turn-{number}")).await?;
    }
    core.store.flush().await;
    if let Some(semantic) = &core.semantic {
        anyhow::ensure!(
            semantic.settled(std::time::Duration::from_secs(600)).await,
            "the turns' embeddings were not all stored within 10 minutes"
        );
    }
    date_turns(&core, &account, conversation).await?;

    let turn_of: HashMap<&str, usize> = conversation
        .turns
        .iter()
        .enumerate()
        .map(|(index, turn)| (turn.text.as_str(), index))
        .collect();
    let mut recalled = Vec::with_capacity(conversation.questions.len());
    for (number, question) in conversation.questions.iter().enumerate() {
        send(
            &core,
            &account,
            &question.text,
            &format!("question-{number}"),
        )
        .await?;
        let prompt = recorder
            .take()
            .with_context(|| format!("no prompt was built for {:?}", question.text))?;
        recalled.push(
            prompt
                .memories
                .iter()
                .map(|memory| turn_of.get(memory.text.as_str()).copied())
                .collect(),
        );
    }
    core.store.flush().await;
    drop(core);
    Ok(recalled)
}

/// Sends `text` from `account` as a DM on the local chat; it must be answered.
async fn send(
    core: &Core,
    account: &PlatformAccount,
    text: &str,
    event_id: &str,
) -> anyhow::Result<()> {
    let event = InboundEvent::Message(InboundMessage {
        event_id: format!("{}-{event_id}", account.user_id).into(),
        author: account.clone(),
        context: ConversationContext::direct(format!("dm-{}", account.user_id)),
        text: text.to_string(),
        is_addressed: true,
        mentions: Vec::new(),
        author_roles: Vec::new(),
        inbox: None,
    });
    match core.handle_event(event, Capabilities::LOCAL).await {
        HandlerOutcome::Reply(_) => Ok(()),
        other => anyhow::bail!("{text:?} was not answered: {other:?}"),
    }
}

/// When turn `turn` of `conversation` was said, on a calendar moved so that [`QUESTION_DAY`] is
/// `today`.
fn said_at(conversation: &Conversation, turn: usize, today: NaiveDate) -> DateTime<Utc> {
    let (year, month, day) = QUESTION_DAY;
    let question_day = NaiveDate::from_ymd_opt(year, month, day).unwrap_or(today);
    let turn = &conversation.turns[turn];
    let session = &conversation.sessions[turn.session];
    let days_before = (question_day - session.date).num_days();
    let date = today - ChronoDuration::days(days_before);
    let start = date
        .and_hms_opt(session.hour, 0, 0)
        .unwrap_or_default()
        .and_utc();
    start + ChronoDuration::minutes(i64::from(turn.minute))
}

/// Dates every stored row of `account` back to its session (rows are in the order the turns were
/// sent: each user row is the next turn, each companion row the reply to the one before), resets
/// recall counters and drops the identity's hot state so it is read again from SQL.
async fn date_turns(
    core: &Core,
    account: &PlatformAccount,
    conversation: &Conversation,
) -> anyhow::Result<()> {
    let info = whisperengine::core::identity::resolve_account(&core.store, account).await?;
    let db = &core.store.db;
    let rows: Vec<(i64, String)> = memory::Entity::find()
        .select_only()
        .column(memory::Column::Id)
        .column(memory::Column::Role)
        .filter(memory::Column::AccountId.eq(i64::from(info.id)))
        .order_by_asc(memory::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let user_role: String = MemoryRole::User.into();
    let user_rows = rows.iter().filter(|(_, role)| *role == user_role).count();
    anyhow::ensure!(
        user_rows == conversation.turns.len(),
        "{} turns sent but {user_rows} stored",
        conversation.turns.len()
    );
    let today = Utc::now().date_naive();
    let transaction = db.begin().await?;
    let mut turn = 0;
    let mut last_said: Option<DateTime<Utc>> = None;
    for (id, role) in rows {
        let at = if role == user_role {
            let at = said_at(conversation, turn, today);
            turn += 1;
            last_said = Some(at);
            at
        } else {
            last_said.unwrap_or_else(Utc::now) + ChronoDuration::seconds(30)
        };
        memory::Entity::update_many()
            .col_expr(memory::Column::CreatedAt, Expr::value(at))
            .col_expr(
                memory::Column::LastRecalledAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(memory::Column::RecallCount, Expr::value(0))
            .filter(memory::Column::Id.eq(id))
            .exec(&transaction)
            .await?;
        // A vector is found by its memory's origin and time.
        memory_embedding::Entity::update_many()
            .col_expr(memory_embedding::Column::CreatedAt, Expr::value(at))
            .filter(memory_embedding::Column::MemoryId.eq(id))
            .exec(&transaction)
            .await?;
    }
    transaction.commit().await?;
    core.store.invalidate_identities(&[info.identity_id]).await;
    if let Some(semantic) = &core.semantic {
        semantic.forget_identity(info.identity_id);
    }
    Ok(())
}

/// Answers like the offline responder and keeps the latest prompt.
struct Recorder {
    last: Mutex<Option<Prompt>>,
    offline: OfflineResponder,
}

impl Recorder {
    fn take(&self) -> Option<Prompt> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

#[async_trait::async_trait]
impl Responder for Recorder {
    async fn respond(&self, prompt: &Prompt) -> Result<String, LlmError> {
        *self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(prompt.clone());
        self.offline.respond(prompt).await
    }

    fn describe(&self) -> String {
        "recall evaluation recorder (offline replies)".into()
    }
}
