//! What the companion recalls for a reply: recent turns, memories and facts, filtered by the
//! visibility and sharing rules of [`crate::core::privacy::visibility`] and ranked.
//!
//! Over 500 lines: the ranking and the visibility cases it must respect, with their tests (about a
//! third).

use crate::config::{Settings, SyncCategory};
use crate::core::memory::facts;
use crate::core::memory::recall::{self, Query};
use crate::core::memory::semantic::SemanticScores;
use crate::core::privacy::preferences;
use crate::core::privacy::visibility::{is_fact_visible, is_visible};
use crate::llm::{KnownFact, RecalledMemory, Speaker, Turn};
use crate::store::hot::{AccountInfo, FactRecord, IdentityHot, TurnRecord};
use crate::store::ids::AccountId;
use chrono::{DateTime, Utc};

use whisperengine_contract::{ConversationContext, Platform};

/// Turns from other platforms added to the recent history when conversation sharing is on.
const OTHER_PLATFORM_TURNS: usize = 4;
/// At most this many facts go into a prompt.
const MAX_FACTS: usize = 12;
/// Half-life of the recency factor, in days: decay only ranks, it never deletes.
const RECENCY_HALF_LIFE_DAYS: f64 = 30.0;
/// How much more a memory that says when something happened counts for a "when" question.
const WHEN_BOOST: f64 = 1.5;
/// How much more a memory that names a place counts for a "where" question.
const WHERE_BOOST: f64 = 1.5;
/// How long a recall keeps its small boost, in hours.
const RECALL_BOOST_HOURS: f64 = 24.0;

/// The context gathered for one reply.
#[derive(Debug, Default)]
pub struct Gathered {
    pub history: Vec<Turn>,
    pub memories: Vec<RecalledMemory>,
    pub facts: Vec<KnownFact>,
    /// Each recalled memory, to update its recall counters.
    pub recalled: Vec<Recalled>,
    /// What the message asks about, when a fact could answer it.
    pub question: Option<crate::llm::FactQuestion>,
}

/// A memory brought up in a reply: (origin account, created at, `memory` row id when known).
pub type Recalled = (AccountId, DateTime<Utc>, Option<i64>);

/// How much context a reply gets (configured, or chosen by adaptive tuning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Memories recalled.
    pub memories: usize,
    /// Recent turns of the conversation.
    pub history_turns: usize,
}

impl Limits {
    /// The configured amount for a reply on `platform`: its row of the per-platform table
    /// (MEMORY_TOP_K and HISTORY_TURNS unless the platform has its own).
    pub fn configured(settings: &Settings, platform: Platform) -> Limits {
        let profile = settings.profile(platform);
        Limits {
            memories: profile.memory_top_k,
            history_turns: profile.history_turns,
        }
    }
}

/// What one reply recalls for: whose state, which account asks, where the reply goes, about what,
/// and how much context it gets. [`RecallRequest::gather`] applies the visibility and sharing
/// rules and ranks what is left.
#[derive(Clone, Copy)]
pub struct RecallRequest<'a> {
    pub settings: &'a Settings,
    /// The identity's hot state; the message being answered must not be in it yet.
    pub state: &'a IdentityHot,
    /// The account the message came from.
    pub account: &'a AccountInfo,
    /// Where the reply goes.
    pub context: &'a ConversationContext,
    /// The message being answered.
    pub text: &'a str,
    pub now: DateTime<Utc>,
    pub limits: Limits,
    /// Cosine similarity on embeddings, added to each memory's relevance (EMBEDDING_MODEL; see
    /// [`crate::core::memory::semantic`]).
    pub semantic: Option<&'a SemanticScores>,
}

impl<'a> RecallRequest<'a> {
    /// A request with the configured amount of context and no embeddings.
    pub fn new(
        settings: &'a Settings,
        state: &'a IdentityHot,
        account: &'a AccountInfo,
        context: &'a ConversationContext,
        text: &'a str,
        now: DateTime<Utc>,
    ) -> RecallRequest<'a> {
        RecallRequest {
            settings,
            state,
            account,
            context,
            text,
            now,
            limits: Limits::configured(settings, account.platform),
            semantic: None,
        }
    }

    /// With the amount of context chosen by the caller (adaptive tuning).
    pub fn with_limits(self, limits: Limits) -> RecallRequest<'a> {
        RecallRequest { limits, ..self }
    }

    /// With embedding similarities, when there are any.
    pub fn with_semantic(self, semantic: Option<&'a SemanticScores>) -> RecallRequest<'a> {
        RecallRequest { semantic, ..self }
    }

    /// Gathers recent turns, relevant memories and facts for the reply.
    pub fn gather(&self) -> Gathered {
        let shares_history =
            preferences::is_shared(self.settings, self.state, SyncCategory::ConversationHistory);
        let query = Query::new(self.text);
        // "Where is my sister living?" also looks for the sister's name ("Chiara has a flat in
        // Turin"): the names of the relatives, partners and pets the question speaks of.
        let names: Vec<(&str, &str)> = self
            .state
            .facts
            .iter()
            .filter(|fact| matches!(fact.attribute.as_str(), "family" | "partner" | "pet"))
            .filter(|fact| is_fact_visible(fact, self.account, self.context, shares_history))
            .map(|fact| (fact.subject.as_str(), fact.value.as_str()))
            .collect();
        let memory_query = query.with_names_of(names);
        let asked = facts::question::asked(self.text);
        let facts = known_facts(self, &query, asked.as_ref(), shares_history);
        // What a known fact says the answer is: the memories that say it come first.
        let answers: Vec<String> = facts
            .iter()
            .filter(|fact| fact.answers_question)
            .map(|fact| fact.value.trim().to_lowercase())
            .filter(|value| value.chars().count() >= 3)
            .collect();
        let (memories, recalled) = recall_memories(self, &memory_query, shares_history, &answers);
        Gathered {
            history: recent_history(self, shares_history),
            memories,
            facts,
            recalled,
            question: asked.map(|asked| asked.for_responder()),
        }
    }
}

/// The recent turns on this account and, when conversation sharing is on, the last few on the
/// identity's other accounts.
fn recent_history(request: &RecallRequest<'_>, shares_history: bool) -> Vec<Turn> {
    let RecallRequest {
        state,
        account,
        context,
        ..
    } = *request;
    let history_turns = request.limits.history_turns;
    let visible: Vec<&TurnRecord> = state
        .recent
        .iter()
        .filter(|record| is_visible(record, account, context, shares_history))
        .collect();
    let own: Vec<&TurnRecord> = visible
        .iter()
        .copied()
        .filter(|record| record.account_id == account.id)
        .collect();
    let mut chosen: Vec<&TurnRecord> = own
        .iter()
        .copied()
        .skip(own.len().saturating_sub(history_turns))
        .collect();
    // The person's own `privacy set conversation_history on|off` decides over the host default.
    if shares_history {
        let others: Vec<&TurnRecord> = visible
            .iter()
            .copied()
            .filter(|record| record.account_id != account.id)
            .collect();
        chosen.extend(
            others
                .iter()
                .skip(others.len().saturating_sub(OTHER_PLATFORM_TURNS)),
        );
        chosen.sort_by_key(|record| record.created_at);
    }
    chosen
        .iter()
        .map(|record| Turn {
            speaker: if record.is_user {
                Speaker::User
            } else {
                Speaker::Companion
            },
            text: record.content.clone(),
            platform: record.platform,
            is_other_platform: record.account_id != account.id,
            at: record.created_at,
        })
        .collect()
}

/// How much recency weighs: 1 for now, halving every [`RECENCY_HALF_LIFE_DAYS`], never below 0.5.
pub fn recency_factor(at: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    let age_days = (now - at).num_seconds().max(0) as f64 / 86_400.0;
    0.5 + 0.5 * 0.5_f64.powf(age_days / RECENCY_HALF_LIFE_DAYS)
}

/// A small boost for a memory brought up lately (so a thread of conversation stays on topic).
pub fn recall_boost(last_recalled_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> f64 {
    match last_recalled_at {
        Some(at) => {
            let hours = (now - at).num_seconds().max(0) as f64 / 3_600.0;
            1.0 + 0.1 * (-hours / RECALL_BOOST_HOURS).exp()
        }
        None => 1.0,
    }
}

/// Top-k memories: (BM25 + w · cosine) relevance × recency × importance × recall boost, over the identity's
/// memories visible here. Recent turns may be recalled too ("what did I just say my cat was
/// called?"); a message that only asks states nothing, so it is never recalled as something the
/// person told us ([`recall::is_pure_question`]).
fn recall_memories(
    request: &RecallRequest<'_>,
    query: &Query,
    shares_history: bool,
    answers: &[String],
) -> (Vec<RecalledMemory>, Vec<Recalled>) {
    let RecallRequest {
        settings,
        state,
        account,
        context,
        now,
        semantic,
        ..
    } = *request;
    let top_k = request.limits.memories;
    let shares_importance = preferences::is_shared(settings, state, SyncCategory::MemoryImportance);
    let shares_emotional = preferences::is_shared(settings, state, SyncCategory::EmotionalMemories);
    let candidates: Vec<&TurnRecord> = state
        .recallable
        .iter()
        .filter(|record| !recall::is_pure_question(&record.content))
        .filter(|record| is_visible(record, account, context, shares_history))
        .filter(|record| {
            shares_emotional || record.account_id == account.id || record.emotion.is_none()
        })
        .collect();
    let documents: Vec<&[String]> = candidates.iter().map(|record| &record.terms[..]).collect();
    let mut relevance = recall::bm25(query, &documents);
    // Semantic recall: relevance = BM25 + w · cosine (0 without embeddings), in the first round,
    // so the second starts from what the two find together.
    if let Some(semantic) = semantic {
        for (score, record) in relevance.iter_mut().zip(&candidates) {
            *score += semantic.relevance(record);
        }
    }
    // A second round with the names the best memories of the first round hold, for questions that
    // join two memories ("where does the friend I went climbing with live?").
    let mut best_first: Vec<(f64, &TurnRecord)> = relevance
        .iter()
        .copied()
        .zip(candidates.iter().copied())
        .filter(|(score, _)| *score > 0.0)
        .collect();
    best_first.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    let lowercase = |word: &str| {
        recall::is_written_lowercase(word, candidates.iter().map(|r| r.content.as_str()))
    };
    let seeds = &best_first[..best_first.len().min(recall::EXPANSION_SEEDS)];
    let expansion = query.expansion(
        seeds.iter().map(|(_, record)| record.content.as_str()),
        lowercase,
    );
    if let (false, Some((lowest_seed, _))) = (expansion.is_empty(), seeds.last()) {
        // What the second round finds comes after the memories it started from, never before.
        let ceiling = lowest_seed * 0.999;
        for ((score, extra), record) in relevance
            .iter_mut()
            .zip(recall::bm25(&expansion, &documents))
            .zip(&candidates)
        {
            let is_seed = seeds.iter().any(|(_, seed)| std::ptr::eq(*seed, *record));
            if extra > 0.0 && !is_seed {
                *score = (*score + extra).min(ceiling).max(*score);
            }
        }
    }
    // A memory that says what a known fact answers ("I work as a dental hygienist…" for "what's
    // my profession?") is the evidence for that answer, whatever words the question used.
    let best_relevance = relevance.iter().copied().fold(0.0_f64, f64::max).max(1.0);
    // (A "when did I …" question wants the memory that says when, not every mention.)
    let asks_when = crate::llm::dates::asks_when(request.text);
    let asks_where = recall::asks_where(request.text);
    let says_answer = |record: &TurnRecord| {
        !asks_when && !answers.is_empty() && {
            let content = record.content.to_lowercase();
            answers
                .iter()
                .any(|answer| recall::is_written_lowercase(answer, [content.as_str()]))
        }
    };
    let mut scored: Vec<(f64, &TurnRecord)> = candidates
        .iter()
        .zip(relevance)
        .map(|(record, relevance)| {
            if says_answer(record) {
                (record, relevance.max(best_relevance) * ANSWER_MEMORY_BOOST)
            } else {
                (record, relevance)
            }
        })
        .filter(|(_, relevance)| *relevance > 0.0)
        .map(|(record, relevance)| {
            // With importance sharing off, another account's importance does not count.
            let importance = if shares_importance || record.account_id == account.id {
                record.importance
            } else {
                0.5
            };
            // A "when did I …" question is answered by a memory that says when.
            let says_when = if asks_when && crate::llm::dates::tells_when(&record.content) {
                WHEN_BOOST
            } else {
                1.0
            };
            // A "where …" question is answered by a memory that names a place.
            let says_where = if asks_where && recall::names_a_place(&record.content) {
                WHERE_BOOST
            } else {
                1.0
            };
            let score = relevance
                * (0.5 + importance)
                * recency_factor(record.created_at, now)
                * recall_boost(record.last_recalled_at, now)
                * says_when
                * says_where;
            (score, *record)
        })
        .collect();
    scored.sort_by(|a, b| {
        b.0.partial_cmp(&a.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.1.created_at.cmp(&a.1.created_at))
    });
    // Words said again ("tell me about my trips", twice) are one memory: the best-ranked copy
    // stands for the others, so repeats do not crowd out what else was said.
    let mut kept: Vec<String> = Vec::with_capacity(top_k);
    scored.retain(|(_, record)| {
        if kept.len() >= top_k {
            return false;
        }
        let words = record.content.trim().to_lowercase();
        if kept.contains(&words) {
            return false;
        }
        kept.push(words);
        true
    });
    let recalled = scored
        .iter()
        .map(|(_, record)| (record.account_id, record.created_at, record.memory_id))
        .collect();
    let memories = scored
        .into_iter()
        .map(|(score, record)| RecalledMemory {
            text: record.content.clone(),
            platform: record.platform,
            at: record.created_at,
            score,
            is_other_platform: record.account_id != account.id,
        })
        .collect();
    (memories, recalled)
}

/// How much more relevant a memory is that says what a known fact answers.
const ANSWER_MEMORY_BOOST: f64 = 3.0;

/// Added to the relevance of a fact that answers the question asked (its subject and attribute
/// match), so it comes before every fact that merely shares words with the question.
const ANSWER_BONUS: f64 = 100.0;

/// The identity's current facts visible here, the ones the message is about first: a fact that
/// answers the question ("where does my sister live?" → the sister's location) before any other,
/// then by relevance.
fn known_facts(
    request: &RecallRequest<'_>,
    query: &Query,
    asked: Option<&facts::question::Asked>,
    shares_history: bool,
) -> Vec<KnownFact> {
    let RecallRequest {
        state,
        account,
        context,
        ..
    } = *request;
    let visible: Vec<&FactRecord> = state
        .facts
        .iter()
        .filter(|fact| is_fact_visible(fact, account, context, shares_history))
        .collect();
    let visible_facts = visible.clone();
    let terms: Vec<std::sync::Arc<[String]>> = visible
        .iter()
        .map(|fact| recall::index_terms(&facts::search_text(fact)))
        .collect();
    let documents: Vec<&[String]> = terms.iter().map(|terms| &terms[..]).collect();
    let relevance = recall::bm25(query, &documents);
    let mut ranked: Vec<(f64, bool, &FactRecord)> = relevance
        .into_iter()
        .zip(visible)
        .map(|(relevance, fact)| {
            let answers = asked.is_some_and(|asked| asked.is_answered_by(fact));
            let score = if answers {
                relevance + ANSWER_BONUS
            } else {
                relevance
            };
            (score, answers, fact)
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.0.partial_cmp(&a.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.2.updated_at.cmp(&a.2.updated_at))
    });
    // Two current statements of one single-valued fact (told on two platforms, not chosen between
    // yet): each names the other, when the other may be seen here too.
    let disputed_by = |fact: &FactRecord| {
        visible_facts
            .iter()
            .find(|other| {
                other.id != fact.id
                    && other.subject == fact.subject
                    && other.attribute == fact.attribute
                    && other.platform != fact.platform
                    && !other.value.eq_ignore_ascii_case(&fact.value)
                    && facts::is_single_valued(&fact.attribute)
            })
            .map(|other| (other.value.clone(), other.platform))
    };
    ranked
        .into_iter()
        .take(MAX_FACTS)
        .map(|(score, answers_question, fact)| KnownFact {
            phrase: facts::phrase(fact),
            subject: fact.subject.clone(),
            attribute: fact.attribute.clone(),
            value: fact.value.clone(),
            platform: fact.platform,
            at: fact.updated_at,
            score,
            answers_question,
            is_other_platform: fact.account_id != account.id,
            disputed_by: disputed_by(fact),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use whisperengine_contract::{Platform, Visibility};

    fn record(
        account_id: i64,
        text: &str,
        platform: Platform,
        visibility: Visibility,
    ) -> TurnRecord {
        TurnRecord {
            memory_id: None,
            terms: recall::index_terms(text),
            last_recalled_at: None,
            account_id: account_id.into(),
            is_user: true,
            content: text.into(),
            platform,
            scope: "G1".into(),
            channel_id: format!("{visibility}-channel"),
            visibility,
            importance: 0.6,
            emotion: None,
            created_at: Utc::now(),
        }
    }

    fn account(id: i64, platform: Platform) -> AccountInfo {
        AccountInfo {
            id: id.into(),
            identity_id: uuid::Uuid::nil().into(),
            platform,
            scope: "G1".into(),
            user_id: "u".into(),
            display_name: None,
        }
    }

    fn context(visibility: Visibility) -> ConversationContext {
        ConversationContext {
            scope: "G1".into(),
            channel_id: "c".into(),
            thread_id: None,
            visibility,
        }
    }

    #[test]
    fn dms_are_never_brought_up_in_public_channels() {
        let dm = record(1, "my secret", Platform::Discord, Visibility::Dm);
        let me = account(1, Platform::Discord);
        assert!(is_visible(&dm, &me, &context(Visibility::Dm), true));
        assert!(!is_visible(&dm, &me, &context(Visibility::Public), true));
        let public = record(1, "hello all", Platform::Discord, Visibility::Public);
        assert!(is_visible(&public, &me, &context(Visibility::Public), true));
    }

    #[test]
    fn a_group_conversation_sees_itself_and_public_content_never_dms_or_other_groups() {
        let me = account(1, Platform::Slack);
        let group = |channel: &str| ConversationContext {
            channel_id: channel.into(),
            ..context(Visibility::Private)
        };
        let dm = record(1, "my secret", Platform::Slack, Visibility::Dm);
        let public = record(1, "hello all", Platform::Slack, Visibility::Public);
        let mut here = record(1, "our plan", Platform::Slack, Visibility::Private);
        here.channel_id = "G-here".into();
        let mut elsewhere = record(1, "their plan", Platform::Slack, Visibility::Private);
        elsewhere.channel_id = "G-other".into();
        assert!(!is_visible(&dm, &me, &group("G-here"), true));
        assert!(is_visible(&public, &me, &group("G-here"), true));
        assert!(is_visible(&here, &me, &group("G-here"), true));
        assert!(!is_visible(&elsewhere, &me, &group("G-here"), true));
        let mut dm_in_same_channel_id = dm.clone();
        dm_in_same_channel_id.channel_id = "G-here".into();
        assert!(!is_visible(
            &dm_in_same_channel_id,
            &me,
            &group("G-here"),
            true
        ));
        let mut other_workspace = here.clone();
        other_workspace.scope = "T-other".into();
        assert!(!is_visible(&other_workspace, &me, &group("G-here"), true));
        // The person's own DM sees all of it.
        for record in [&dm, &public, &here, &elsewhere] {
            assert!(is_visible(record, &me, &context(Visibility::Dm), true));
        }
    }

    #[test]
    fn other_accounts_are_read_only_when_sharing_is_on() {
        let from_slack = record(2, "I love sailing", Platform::Slack, Visibility::Dm);
        let me = account(1, Platform::Discord);
        assert!(is_visible(&from_slack, &me, &context(Visibility::Dm), true));
        assert!(!is_visible(
            &from_slack,
            &me,
            &context(Visibility::Dm),
            false
        ));
        assert!(!is_visible(
            &from_slack,
            &me,
            &context(Visibility::Public),
            true
        ));
    }

    fn state_with(records: Vec<TurnRecord>, switches: &[(&str, &str)]) -> IdentityHot {
        let mut state = IdentityHot::default();
        for record in records {
            state.push_turn(record);
        }
        state.preferences = switches
            .iter()
            .map(|(key, value)| crate::store::hot::PreferenceRecord {
                account_id: 1.into(),
                key: format!("privacy.{key}"),
                value: value.to_string(),
                version: 1,
                updated_at: Utc::now(),
                updated_by_platform: "discord".into(),
            })
            .collect();
        state
    }

    #[test]
    fn emotional_memories_from_other_accounts_follow_their_switch() {
        let mut sad = record(
            2,
            "my exam went badly and I cried",
            Platform::Slack,
            Visibility::Dm,
        );
        sad.emotion = Some("sadness".into());
        let calm = record(2, "my exam is on Friday", Platform::Slack, Visibility::Dm);
        let me = account(1, Platform::Discord);
        let settings = Settings::default();
        let recalled = |state: &IdentityHot| -> Vec<String> {
            RecallRequest::new(
                &settings,
                state,
                &me,
                &context(Visibility::Dm),
                "how was my exam",
                Utc::now(),
            )
            .gather()
            .memories
            .into_iter()
            .map(|m| m.text)
            .collect()
        };
        let shared = state_with(vec![sad.clone(), calm.clone()], &[]);
        assert_eq!(recalled(&shared).len(), 2);
        let off = state_with(vec![sad, calm], &[("emotional_memories", "off")]);
        assert_eq!(recalled(&off), vec!["my exam is on Friday".to_string()]);
    }

    #[test]
    fn top_k_is_per_platform_when_optimizations_are_on() {
        let mut settings = Settings::default();
        settings.platform_overrides.teams.memory_top_k = Some(2);
        let records: Vec<TurnRecord> = (0..8)
            .map(|n| {
                record(
                    1,
                    &format!("my sailing trip number {n}"),
                    Platform::Teams,
                    Visibility::Dm,
                )
            })
            .collect();
        let state = state_with(records, &[]);
        let me = account(1, Platform::Teams);
        let count = |settings: &Settings| {
            RecallRequest::new(
                settings,
                &state,
                &me,
                &context(Visibility::Dm),
                "sailing",
                Utc::now(),
            )
            .gather()
            .memories
            .len()
        };
        assert_eq!(count(&settings), 2);
        settings.platform_specific_optimizations = false;
        assert_eq!(count(&settings), 5);
    }

    #[test]
    fn the_same_words_said_twice_are_recalled_once() {
        let settings = Settings::default();
        let records: Vec<TurnRecord> = [
            "tell me about my kayak",
            "Tell me about my kayak ",
            "my kayak is red",
        ]
        .iter()
        .map(|text| record(1, text, Platform::Discord, Visibility::Dm))
        .collect();
        let state = state_with(records, &[]);
        let me = account(1, Platform::Discord);
        let recalled: Vec<String> = RecallRequest::new(
            &settings,
            &state,
            &me,
            &context(Visibility::Dm),
            "kayak",
            Utc::now(),
        )
        .gather()
        .memories
        .into_iter()
        .map(|memory| memory.text.trim().to_lowercase())
        .collect();
        assert_eq!(recalled.len(), 2, "{recalled:?}");
        assert!(recalled.contains(&"my kayak is red".to_string()));
    }

    #[test]
    fn recency_and_recall_only_rank() {
        let now = Utc::now();
        assert!((recency_factor(now, now) - 1.0).abs() < 1e-9);
        let month = recency_factor(now - chrono::Duration::days(30), now);
        assert!((month - 0.75).abs() < 1e-6, "{month}");
        assert!(recency_factor(now - chrono::Duration::days(3650), now) >= 0.5);
        assert!(recall_boost(Some(now), now) > recall_boost(None, now));
    }
}
