//! A message's path through the core, one function per step, in this order:
//! dedupe → resolve identity → gates → rate limit → store the user's message → update emotion →
//! gather context → build the prompt → LLM → store the reply → hand the reply back.
//!
//! From the identity's state being read to the turn being queued for the writer (and put into the
//! hot state), the identity's lock is held, so two platforms writing for the same person at once
//! are serialised and their turns never interleave. The next message of the person may then start
//! while this turn commits (the writer commits in queue order); anything else taking the lock
//! (commands, erasure, linking) waits for the commit. A turn stating facts holds the lock until
//! they are written (the next message's facts may refer to their ids).
//!
//! The user's message, its processed-event mark, its emotion observation, the facts it states and
//! the reply are written in ONE transaction after the reply is composed (see [`crate::store::writer::Writer::write_once`]):
//! a failure or a crash before it leaves nothing behind, so the platform's retry runs the message
//! again and it is stored and answered once; a retry after it finds the mark and answers nothing.
//!
//! Over 500 lines: one function per step of a message's path, in order, so the path reads top to bottom.

use crate::config::{DeploymentMode, EmotionWrites, SyncCategory};
use crate::core::emotion::{self, Detected};
use crate::core::memory::context::{self, RecallRequest};
use crate::core::memory::facts;
use crate::core::privacy::preferences;
use crate::core::turn::inbox::{self, InboxRow};
use crate::core::turn::steps::StepClock;
use crate::core::turn::streaming::NoticeFirst;
use crate::core::{identity, Core, Result};
use crate::llm::{LlmError, Mood, Prompt};
use crate::store::announce::TurnAnnouncement;
use crate::store::entities::{emotion_observation, memory, processed_event};
use crate::store::hot::{AccountInfo, IdentityHot, TurnRecord};
use crate::store::ids::IdentityId;
use crate::store::kinds::MemoryRole;
use crate::store::writer::{WriteJob, Written};
use crate::telemetry::names;
use chrono::{DateTime, Utc};
use sea_orm::{EntityTrait, Set};
use std::time::Instant;
use tracing::Instrument;
use whisperengine_contract::{
    Capabilities, ConversationContext, HandlerOutcome, InboundMessage, OutboundReply, Platform,
    ReplySink, Visibility,
};

/// Arousal of every personality's resting state (the files give a baseline valence only).
const BASELINE_AROUSAL: f64 = 0.3;

/// Runs the pipeline for one message. The reply is neutral markdown: the connector shapes it to its
/// capabilities (splitting, markup), so the pipeline does not read them yet. With a `sink`, a
/// conversational reply is pushed into it as the language model writes it (refusals and other
/// private answers never are).
pub async fn handle_message(
    core: &Core,
    message: InboundMessage,
    _capabilities: Capabilities,
    sink: Option<&dyn ReplySink>,
) -> Result<HandlerOutcome> {
    let span = tracing::info_span!(
        "message",
        platform = %message.author.platform,
        event_id = %message.event_id,
        identity = tracing::field::Empty,
    );
    async move {
        let started = Instant::now();
        let platform = message.author.platform;
        let mut clock = StepClock::start(platform.as_str());
        metrics::counter!(names::MESSAGES_IN, "platform" => platform.as_str()).increment(1);
        if !message.is_addressed {
            return Ok(HandlerOutcome::Ignored("not addressed to the companion"));
        }
        let is_new = match dedupe(core, platform, &message.event_id).await {
            Ok(is_new) => is_new,
            Err(error) => {
                // The check could not be made (the database is away): drop the marks this attempt
                // set, or the retry would take its own mark for an earlier delivery and drop the
                // message as a duplicate, unstored and unanswered.
                forget_event(core, platform, &message.event_id).await;
                return Err(error);
            }
        };
        clock.lap("dedupe");
        if !is_new {
            metrics::counter!(names::DUPLICATES, "platform" => platform.as_str()).increment(1);
            return Ok(HandlerOutcome::Duplicate);
        }
        let outcome = match process(core, &message, sink, &mut clock).await {
            Ok(Turn::Stored(outcome)) => outcome,
            Ok(Turn::NotStored(outcome)) => {
                // A refused message is not a processed one: sent again later (after the rate
                // limit's minute), the same event is taken in, not dropped as a duplicate.
                forget_event(core, platform, &message.event_id).await;
                outcome
            }
            Err(error) => {
                // Nothing was answered: let the platform's retry run again.
                forget_event(core, platform, &message.event_id).await;
                return Err(error);
            }
        };
        metrics::histogram!(names::PIPELINE_SECONDS, "platform" => platform.as_str())
            .record(started.elapsed().as_secs_f64());
        if matches!(outcome, HandlerOutcome::Reply(_)) {
            metrics::counter!(names::MESSAGES_OUT, "platform" => platform.as_str()).increment(1);
            core.tuner
                .record(&core.settings, platform, started.elapsed());
        }
        Ok(outcome)
    }
    .instrument(span)
    .await
}

/// What became of a message that was taken in.
enum Turn {
    /// Stored with its reply (or found stored by another delivery): its event is processed.
    Stored(HandlerOutcome),
    /// Refused or ignored before anything was stored: its event stays unprocessed.
    NotStored(HandlerOutcome),
}

/// How long a person refused by the rate limit waits before sending again (its window).
const RATE_LIMIT_RETRY_AFTER_SECONDS: u32 = 60;

async fn process(
    core: &Core,
    message: &InboundMessage,
    sink: Option<&dyn ReplySink>,
    clock: &mut StepClock,
) -> Result<Turn> {
    let step = Instant::now();
    let platform = message.author.platform.as_str();
    let (account, created) =
        identity::resolve_account_noting_creation(&core.store, &message.author).await?;
    tracing::Span::current().record("identity", tracing::field::display(account.identity_id));
    if let Some(refusal) = gate(core, &account) {
        metrics::counter!(names::REJECTED, "reason" => "deployment_mode").increment(1);
        return Ok(Turn::NotStored(HandlerOutcome::Reply(
            OutboundReply::private(refusal),
        )));
    }
    if !core.rate_limiter.allow(account.identity_id).await {
        metrics::counter!(names::RATE_LIMITED, "platform" => account.platform.as_str())
            .increment(1);
        metrics::counter!(names::REJECTED, "reason" => "rate_limited").increment(1);
        return Ok(Turn::NotStored(HandlerOutcome::Reply(
            OutboundReply::private(
                "You're sending messages faster than I can take them in. Give me a minute and try again.",
            )
            .retry_after(RATE_LIMIT_RETRY_AFTER_SECONDS),
        )));
    }
    let text = message.text.trim();
    if text.is_empty() {
        return Ok(Turn::NotStored(HandlerOutcome::Ignored("empty message")));
    }
    if text.chars().count() > core.settings.max_message_chars {
        return Ok(Turn::NotStored(HandlerOutcome::Reply(OutboundReply::private(
            format!(
                "That message is longer than I can take in ({} characters at most). Could you split it?",
                core.settings.max_message_chars
            ),
        ))));
    }
    // Never the text itself: logs are kept and shipped where the memories' protections do not go.
    tracing::debug!(chars = text.chars().count(), "message received");
    // Asked before the identity's lock, so they overlap with waiting for it and with storing.
    let pending_query = core
        .semantic
        .as_ref()
        .map(|semantic| semantic.start_query(account.identity_id, text));
    clock.lap("identity");
    let extracted =
        crate::core::memory::facts::llm::extract(core.fact_extractor.as_deref(), text).await;
    clock.lap("extract");
    let mut guard = core
        .store
        .hot
        .lock_identity_for_turn(account.identity_id)
        .await;
    clock.lap("lock_wait");
    if let Some(generation) = created {
        // A new person: nothing of them is stored yet, so nothing needs reading from SQL.
        identity::make_new_identity_hot(&core.store, &account, generation).await?;
    }
    let mut state = preferences::privacy_view(
        &core.settings,
        crate::core::privacy::isolation::origin_view(
            identity::hot_identity(&core.store, account.identity_id).await?,
            &account,
        ),
        account.id,
    );
    let is_new_conversation =
        crate::core::ops::lifecycle::is_new_demo_conversation(core, &account, &message.context)
            .await?;
    clock.lap("hot_state");
    crate::telemetry::record_step(platform, "resolve", step);
    let step = Instant::now();
    let detected = emotion::detect(text);
    let now = Utc::now();
    let (user_turn, mut turn_job) = prepare_user_message(
        message,
        &account,
        text,
        &detected,
        !extracted.is_empty(),
        now,
    );
    clock.lap("prepare");
    let planned_facts = plan_facts(
        core,
        message,
        &account,
        &mut state,
        &extracted,
        &mut turn_job,
        now,
    );
    clock.lap("facts");
    crate::telemetry::record_step(platform, "store", step);
    let step = Instant::now();
    let mood = update_emotion(core, &mut state, &account, &message.context, &detected, now);
    if core.settings.profile(account.platform).emotion_writes == EmotionWrites::Realtime {
        write_mood_now(core, &mut state, account.identity_id).await;
    }
    clock.lap("emotion");
    let limits = core.tuner.limits(&core.settings, account.platform);
    let semantic = match (&core.semantic, pending_query) {
        (Some(semantic), Some(query)) => {
            semantic
                .prepare(query, &state, account.identity_id, &user_turn)
                .await
        }
        _ => None,
    };
    let gathered = RecallRequest::new(
        &core.settings,
        &state,
        &account,
        &message.context,
        text,
        now,
    )
    .with_limits(limits)
    .with_semantic(semantic.as_ref())
    .gather();
    crate::core::ops::kpi::observe_content_age(
        &account,
        gathered
            .history
            .iter()
            .map(|turn| (turn.is_other_platform, turn.at))
            .chain(
                gathered
                    .memories
                    .iter()
                    .map(|memory| (memory.is_other_platform, memory.at)),
            ),
        now,
    );
    note_recalled(core, &account, &mut state, &gathered.recalled, now);
    clock.lap("recall");
    let written_with = WrittenWith {
        gathered,
        mood,
        now,
    };
    let mut prompt = build_prompt(core, message, &account, &state, text, written_with);
    if let Some(note) = crate::core::memory::adaptation::note_for(&core.settings, &state, &account)
    {
        prompt.system.push_str("\n\n");
        prompt.system.push_str(&note);
    }
    clock.lap("prompt");
    crate::telemetry::record_step(platform, "context", step);
    let step = Instant::now();
    let reply_text = match sink {
        Some(sink) if is_new_conversation => {
            let notice = crate::core::ops::lifecycle::demo_notice(core);
            respond(core, &prompt, Some(&NoticeFirst::new(sink, notice))).await
        }
        sink => respond(core, &prompt, sink).await,
    };
    clock.lap("llm");
    crate::telemetry::record_step(platform, "llm", step);
    let step = Instant::now();
    let answer = OutboundReply::text(crate::core::ops::lifecycle::with_demo_notice(
        core,
        is_new_conversation,
        reply_text.clone(),
    ));
    let (reply_turn, pending) =
        queue_turn(core, message, &account, turn_job, &reply_text, &answer).await?;
    // A turn stating no facts lets the person's next message in now: its rows are queued ahead
    // of the next one's (the writer commits in order) and it is in the hot state already. One that
    // states facts waits for their ids, which the next message's facts may refer to.
    let is_early = planned_facts.is_none();
    if is_early {
        remember_turn(core, &account, &mut state, user_turn.clone());
        remember_turn(core, &account, &mut state, reply_turn.clone());
        guard.let_next_in();
    }
    let written = match pending.written().await {
        Ok(written) => written,
        Err(error) => {
            if is_early {
                forget_hot_state(core, account.identity_id).await;
            }
            return Err(error.into());
        }
    };
    if written.written == Written::AlreadyProcessed {
        if is_early {
            forget_hot_state(core, account.identity_id).await;
        }
        // Another delivery of this event (a retry, or another host process) stored it first.
        metrics::counter!(names::DUPLICATES, "platform" => platform).increment(1);
        return Ok(Turn::Stored(HandlerOutcome::Duplicate));
    }
    clock.lap("commit");
    if let Some(semantic_index) = &core.semantic {
        semantic_index.persist(account.identity_id, &user_turn, semantic.as_ref());
    }
    // A turn that stated facts is announced as a change (their ids are in SQL only); any other
    // with its content, so other processes append it to a person they hold.
    let announced = planned_facts.is_none().then(|| TurnAnnouncement {
        origin: uuid::Uuid::nil(),
        committed_at: now,
        identity: account.identity_id,
        turns: vec![user_turn.clone(), reply_turn.clone()],
        observation: (!detected.is_neutral())
            .then(|| emotion::Observation::of(&detected, &account, &message.context, now)),
        emotion: state.emotion.clone().filter(|_| !detected.is_neutral()),
    });
    if let Some(planned) = planned_facts {
        remember_facts(core, &account, &mut state, planned, &written.fact_ids);
        remember_turn(core, &account, &mut state, user_turn);
        remember_turn(core, &account, &mut state, reply_turn);
    }
    drop(guard);
    announce_turn(core, account.identity_id, announced);
    clock.lap("hot_update");
    crate::telemetry::record_step(platform, "store_reply", step);
    Ok(Turn::Stored(HandlerOutcome::Reply(answer)))
}

/// Tells other host processes about the stored turn, so the next message they take for this
/// person (a load balancer may send it to any of them) sees it: with its content, which a process
/// holding the person appends to their hot state ([`crate::store::announce`]); without (a turn
/// that stated facts), as an invalidation, so they read the person back from SQL. Sent in the
/// background: the reply does not wait on Redis; without Redis there is one process, or the
/// others catch up within MEMORY_SYNC_INTERVAL.
fn announce_turn(core: &Core, identity_id: IdentityId, announced: Option<TurnAnnouncement>) {
    if let Some(cache) = core.store.cache.clone() {
        let cipher = core.store.cipher.clone();
        tokio::spawn(async move {
            let result = match announced {
                Some(announcement) => cache.publish_turn(announcement, cipher.as_deref()).await,
                None => cache.publish_invalidation(Some(identity_id)).await,
            };
            if let Err(error) = result {
                tracing::debug!(%error, "new turn not announced to other processes");
            }
        });
    }
}

/// Step 1: true when the event is new. The hot layer catches retries seen by this process, Redis
/// those seen by any process; without Redis, the processed_event table is asked.
pub async fn dedupe(core: &Core, platform: Platform, event_id: &str) -> Result<bool> {
    if !core.store.hot.mark_event(platform, event_id) {
        return Ok(false);
    }
    if let Some(cache) = &core.store.cache {
        match cache.mark_event(platform, event_id).await {
            Ok(true) => return Ok(true),
            // Marked, but the mark may be stale (a delivery that failed and could not unmark it):
            // SQL, where the mark is written with the turn, decides.
            Ok(false) => {}
            Err(error) => tracing::debug!(%error, "dedupe falls back to SQL"),
        }
    }
    let seen =
        processed_event::Entity::find_by_id((platform.as_str().to_string(), event_id.to_string()))
            .one(&core.store.db)
            .await?;
    Ok(seen.is_none())
}

/// Drops this attempt's dedupe marks (hot layer and Redis), so a retry of the event is taken in.
pub(crate) async fn forget_event(core: &Core, platform: Platform, event_id: &str) {
    core.store.hot.unmark_event(platform, event_id);
    if let Some(cache) = &core.store.cache {
        let _ = cache.unmark_event(platform, event_id).await;
    }
}

/// Step 3: deployment mode and isolation. Returns the refusal to show, if any.
fn gate(core: &Core, account: &AccountInfo) -> Option<String> {
    if core.settings.deployment_mode == DeploymentMode::Desktop
        && account.platform != Platform::Desktop
    {
        return Some(
            "This host runs in desktop mode and only talks through the local chat.".into(),
        );
    }
    None
}

/// How important a user's message is to remember (0..=1): personal facts, explicit requests and strong
/// feelings high; small talk low.
pub fn importance(text: &str, detected: &Detected) -> f64 {
    let lower = text.to_lowercase();
    let words = lower.split_whitespace().count();
    let mut score: f64 = if words <= 3 { 0.1 } else { 0.3 };
    let personal = [
        "my ",
        "i am ",
        "i'm ",
        "i live",
        "i work",
        "i have",
        "i've",
        "i was born",
        "i like",
        "i love",
        "i hate",
        "i moved",
        "call me",
        "i prefer",
    ];
    if personal
        .iter()
        .any(|marker| lower.starts_with(marker) || lower.contains(&format!(" {marker}")))
    {
        score += 0.3;
    }
    if lower.contains("remember") || lower.contains("don't forget") || lower.contains("important") {
        score += 0.3;
    }
    score += 0.3 * detected.intensity;
    score.clamp(0.0, 1.0)
}

/// Step 5b: facts the message states, planned against the identity's current facts (a restated or
/// corrected fact replaces the current one, which is kept as history) and put into the turn's job,
/// so they are written in its transaction. `state` holds them at once (with placeholder ids) for
/// this reply; the hot layer gets them once written ([`remember_facts`]).
fn plan_facts(
    core: &Core,
    message: &InboundMessage,
    account: &AccountInfo,
    state: &mut IdentityHot,
    extracted: &[facts::Extracted],
    job: &mut WriteJob,
    now: DateTime<Utc>,
) -> Option<facts::Planned> {
    if extracted.is_empty() {
        return None;
    }
    let planned = facts::plan(
        &core.store,
        account,
        &message.context,
        extracted,
        &state.facts,
        core.settings.settings_sync_interval,
        now,
    );
    job.facts = planned.writes.clone();
    job.conflicts =
        facts::contradiction_rows(&core.store, account.identity_id, &planned.outcomes, now);
    state.facts = planned.working.clone();
    Some(planned)
}

/// Step 10b: the facts written with the turn, with their real ids, made current in the hot state.
fn remember_facts(
    core: &Core,
    account: &AccountInfo,
    state: &mut IdentityHot,
    planned: facts::Planned,
    fact_ids: &[i64],
) {
    let outcomes = planned.finish(fact_ids, &mut state.facts);
    let contradictions = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, facts::Stored::Contradiction { .. }))
        .count();
    facts::count_contradictions(contradictions);
    let current = state.facts.clone();
    core.store
        .hot
        .update_identity(account.identity_id, |hot| hot.facts = current);
}

/// Step 7b: recalled memories get their recall time (a small ranking boost) and counter. The hot
/// copies change at once; the SQL counters ride the next group commit, off the reply's path.
fn note_recalled(
    core: &Core,
    account: &AccountInfo,
    state: &mut IdentityHot,
    recalled: &[context::Recalled],
    now: DateTime<Utc>,
) {
    if recalled.is_empty() {
        return;
    }
    let mark = |hot: &mut IdentityHot| {
        for record in hot.recallable.iter_mut() {
            if recalled.iter().any(|(account_id, at, _)| {
                *account_id == record.account_id && *at == record.created_at
            }) {
                record.last_recalled_at = Some(now);
            }
        }
    };
    mark(state);
    core.store.hot.update_identity(account.identity_id, mark);
    let ids: Vec<i64> = recalled.iter().filter_map(|(_, _, id)| *id).collect();
    if ids.is_empty() {
        return;
    }
    core.store.writer.note_recalled(ids, now);
}

/// Step 5: the user's message as rows (with its processed-event mark and emotion observation),
/// written together with the reply by [`store_turn`].
fn prepare_user_message(
    message: &InboundMessage,
    account: &AccountInfo,
    text: &str,
    detected: &Detected,
    states_facts: bool,
    now: DateTime<Utc>,
) -> (TurnRecord, WriteJob) {
    let mut importance = importance(text, detected);
    if states_facts {
        // A personal fact is worth remembering even when said in few words ("I'm vegan").
        importance = importance.max(0.7);
    }
    let turn = TurnRecord {
        memory_id: None,
        terms: crate::core::memory::recall::index_terms(text),
        last_recalled_at: None,
        account_id: account.id,
        is_user: true,
        content: text.to_string(),
        platform: account.platform,
        scope: message.context.scope.clone(),
        channel_id: message.context.channel_id.clone(),
        visibility: message.context.visibility,
        importance,
        emotion: (!detected.is_neutral()).then(|| detected.label.to_string()),
        created_at: now,
    };
    let mut job = WriteJob {
        processed_events: vec![processed_event::ActiveModel {
            platform: Set(account.platform.as_str().to_string()),
            event_id: Set(message.event_id.to_string()),
            created_at: Set(now),
        }],
        memories: vec![memory_row(message, account, &turn, detected)],
        ..WriteJob::default()
    };
    if !detected.is_neutral() {
        job.observations.push(emotion_observation::ActiveModel {
            account_id: Set(account.id.into()),
            memory_id: Set(None),
            emotion: Set(detected.label.to_string()),
            valence: Set(detected.valence),
            intensity: Set(detected.intensity),
            created_at: Set(now),
            visibility: Set(Some(message.context.visibility.as_str().to_string())),
            scope: Set(Some(message.context.scope.clone())),
            channel_id: Set(Some(message.context.channel_id.clone())),
            ..Default::default()
        });
    }
    (turn, job)
}

fn memory_row(
    message: &InboundMessage,
    account: &AccountInfo,
    turn: &TurnRecord,
    detected: &Detected,
) -> memory::ActiveModel {
    memory::ActiveModel {
        account_id: Set(account.id.into()),
        role: Set(if turn.is_user {
            MemoryRole::User
        } else {
            MemoryRole::Companion
        }
        .into()),
        content: Set(turn.content.clone()),
        platform: Set(account.platform.as_str().to_string()),
        scope: Set(message.context.scope.clone()),
        channel_id: Set(message.context.channel_id.clone()),
        thread_id: Set(message.context.thread_id.clone()),
        visibility: Set(message.context.visibility.as_str().to_string()),
        importance: Set(turn.importance),
        emotion: Set(turn.emotion.clone()),
        emotion_intensity: Set((!detected.is_neutral()).then_some(detected.intensity)),
        created_at: Set(turn.created_at),
        last_recalled_at: Set(None),
        recall_count: Set(0),
        // Kept with the row so loading it later does not re-stem it (sealed by the writer when
        // DATA_ENCRYPTION_KEY is set, like the content).
        terms: Set(Some(crate::core::memory::recall::stored_terms(&turn.terms))),
        event_id: Set(Some(message.event_id.to_string())),
        ..Default::default()
    }
}

/// `<PLATFORM>_EMOTION_WRITES=realtime`: the mood this message moved goes to SQL now rather than
/// with the next flush (EMOTIONAL_SYNC_INTERVAL). If the write fails, the flush writes it later.
async fn write_mood_now(core: &Core, state: &mut IdentityHot, identity: IdentityId) {
    if !state.emotion_dirty {
        return;
    }
    let Some(snapshot) = state.emotion.clone() else {
        return;
    };
    match core.store.save_emotion_state(identity, &snapshot).await {
        Ok(()) => {
            state.emotion_dirty = false;
            core.store
                .hot
                .update_identity(identity, |hot| hot.emotion_dirty = false);
        }
        Err(error) => {
            tracing::warn!(%error, "the mood could not be written now; the next flush writes it")
        }
    }
}

/// Step 6: adds the observation and rebuilds the identity's state (kept hot, flushed on its
/// interval). Returns the mood to show the responder: the state across linked accounts when
/// emotional-state sharing is on, otherwise the state from this account's observations alone; in
/// both cases only from observations whose origin may be seen in `context` (a mood read in a DM
/// does not colour a reply in a channel or a group chat).
fn update_emotion(
    core: &Core,
    state: &mut IdentityHot,
    account: &AccountInfo,
    context: &ConversationContext,
    detected: &Detected,
    now: DateTime<Utc>,
) -> Option<Mood> {
    let baseline = emotion::Baseline {
        valence: core.personality.emotional_baseline.valence,
        arousal: BASELINE_AROUSAL,
    };
    let half_life = core.settings.emotion_half_life;
    if !detected.is_neutral() {
        let observation = emotion::Observation::of(detected, account, context, now);
        state.push_observation(observation.clone(), emotion::MAX_OBSERVATIONS);
        core.store.hot.update_identity(account.identity_id, |hot| {
            hot.push_observation(observation, emotion::MAX_OBSERVATIONS)
        });
    }
    let shared = emotion::state_of(state.observations.iter(), baseline, half_life, now);
    let is_seen_here = |observation: &&emotion::Observation| {
        crate::core::privacy::visibility::is_origin_visible(
            observation.origin(),
            account,
            context,
            true,
        )
    };
    if !detected.is_neutral() {
        let snapshot = emotion::snapshot(&shared, state.emotion.as_ref(), account.id, now);
        state.emotion = Some(snapshot.clone());
        state.emotion_dirty = true;
        core.store.hot.update_identity(account.identity_id, |hot| {
            hot.emotion = Some(snapshot);
            hot.emotion_dirty = true;
        });
    }
    let own = || {
        let mine = state
            .observations
            .iter()
            .filter(|observation| observation.account_id == account.id)
            .filter(is_seen_here);
        emotion::state_of(mine, baseline, half_life, now)
    };
    let mut shown = if preferences::is_shared(&core.settings, state, SyncCategory::EmotionalState) {
        if context.visibility == Visibility::Dm {
            shared
        } else {
            let seen_here = state.observations.iter().filter(is_seen_here);
            emotion::state_of(seen_here, baseline, half_life, now)
        }
    } else {
        own()
    };
    // The trajectory is an emotional pattern: read across accounts only when that is shared.
    if !preferences::is_shared(&core.settings, state, SyncCategory::EmotionalPatterns) {
        shown.trajectory = own().trajectory;
    }
    let label = shown.label();
    (label != "neutral").then(|| Mood {
        label: label.to_string(),
        intensity: shown.intensity,
        valence: shown.valence,
        trajectory: shown.trajectory,
    })
}

/// What a reply is written with besides the personality: the context gathered, the mood shown
/// and the time.
struct WrittenWith {
    gathered: context::Gathered,
    mood: Option<Mood>,
    now: DateTime<Utc>,
}

/// Steps 7–8: the prompt from the personality, the platform and the gathered context.
fn build_prompt(
    core: &Core,
    message: &InboundMessage,
    account: &AccountInfo,
    state: &IdentityHot,
    text: &str,
    written_with: WrittenWith,
) -> Prompt {
    let WrittenWith {
        gathered,
        mood,
        now,
    } = written_with;
    let preferences = preferences::effective_for(&core.settings, state, account.id);
    let preferred_name = preferences.get("name").map(|(value, _)| value.clone());
    let preference = |key: &str| preferences.get(key).map(|(value, _)| value.clone());
    let time_zone = preference("timezone");
    let style = crate::llm::ReplyStyle {
        tone: preference("tone"),
        verbosity: preference("verbosity"),
        pronouns: preference("pronouns"),
        language: preference("language"),
    };
    let profile = core.settings.profile(account.platform);
    Prompt {
        system: core.personality.system_prompt(
            account.platform,
            core.settings.platform_specific_optimizations,
        ),
        platform: account.platform,
        user_name: preferred_name.unwrap_or_else(|| message.author.name().to_string()),
        user_roles: message.author_roles.clone(),
        user_text: text.to_string(),
        history: gathered.history,
        memories: gathered.memories,
        facts: gathered.facts,
        mood,
        question: gathered.question,
        time_zone,
        style,
        generation: crate::llm::Generation {
            model: Some(profile.llm_model),
            max_tokens: Some(profile.llm_max_tokens),
            temperature: Some(profile.llm_temperature),
        },
        now,
    }
}

/// What ends a reply whose stream stopped part-way: the person sees why it stops there.
pub const CUT_OFF_NOTE: &str =
    "_(My reply was cut off there. Ask me to go on if you want the rest.)_";

/// Step 9: the configured responder (streamed into `sink` when there is one), falling back to the
/// offline one so the person still gets an answer. A stream cut part-way ends with
/// [`CUT_OFF_NOTE`] rather than being answered again: the person has seen its start.
async fn respond(core: &Core, prompt: &Prompt, sink: Option<&dyn ReplySink>) -> String {
    let started = Instant::now();
    let answer = match sink {
        Some(sink) => core.responder.respond_streaming(prompt, sink).await,
        None => core.responder.respond(prompt).await,
    };
    let outcome = if answer.is_ok() { "ok" } else { "error" };
    metrics::histogram!(names::LLM_SECONDS, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
    match answer {
        Ok(reply) => reply,
        Err(LlmError::Interrupted { partial, reason }) => {
            metrics::counter!(names::LLM_ERRORS).increment(1);
            tracing::warn!(%reason, "LLM stream cut off; ending the reply with a note");
            let note = format!("\n\n{CUT_OFF_NOTE}");
            if let Some(sink) = sink {
                sink.push(&note);
            }
            format!("{partial}{note}")
        }
        Err(error) => {
            metrics::counter!(names::LLM_ERRORS).increment(1);
            tracing::warn!(%error, "LLM failed; answering with the offline responder");
            metrics::counter!(names::ERRORS, "kind" => "llm").increment(1);
            core.fallback.respond(prompt).await.unwrap_or_else(|_| {
                "I lost my train of thought for a moment. Could you say that again?".into()
            })
        }
    }
}

/// A turn put into the hot state before its rows were committed, whose commit then failed (or
/// found the event stored by another delivery): the identity's state is read from SQL again.
async fn forget_hot_state(core: &Core, identity_id: IdentityId) {
    if let Some(dropped) = core.store.hot.invalidate_identity(identity_id) {
        if let Some(snapshot) = dropped.emotion {
            if let Err(error) = core.store.save_emotion_state(identity_id, &snapshot).await {
                tracing::warn!(%error, "unsaved emotion state lost with a failed turn");
            }
        }
    }
}

/// Step 10: the user's message and the companion's reply, queued to be written through in one
/// transaction, with `answer` (what the person is sent) recorded in the event's inbox row when it
/// came through the inbox. Returns the reply's turn and the pending write.
async fn queue_turn(
    core: &Core,
    message: &InboundMessage,
    account: &AccountInfo,
    mut job: WriteJob,
    reply: &str,
    answer: &OutboundReply,
) -> Result<(TurnRecord, crate::store::writer::PendingTurn)> {
    let turn = TurnRecord {
        memory_id: None,
        terms: crate::core::memory::recall::index_terms(reply),
        last_recalled_at: None,
        account_id: account.id,
        is_user: false,
        content: reply.to_string(),
        platform: account.platform,
        scope: message.context.scope.clone(),
        channel_id: message.context.channel_id.clone(),
        visibility: message.context.visibility,
        importance: 0.1,
        emotion: None,
        created_at: Utc::now(),
    };
    let neutral = emotion::detect("");
    job.memories
        .push(memory_row(message, account, &turn, &neutral));
    if let Some(row) = InboxRow::of(message.inbox.as_ref()) {
        if let Some(stored) = inbox::stored_form(core.store.cipher.as_deref(), answer) {
            job.inbox_replies
                .push((row.id_once_stored().await.to_string(), stored));
        }
    }
    let pending = core.store.writer.queue_turn(job).await?;
    Ok((turn, pending))
}

fn remember_turn(core: &Core, account: &AccountInfo, state: &mut IdentityHot, turn: TurnRecord) {
    state.push_turn(turn.clone());
    core.store
        .hot
        .update_identity(account.identity_id, |hot| hot.push_turn(turn));
}
