//! What the companion may bring up where, and what it recalls for a reply.
//!
//! Visibility rule: in a DM or private conversation, everything of the identity that sharing allows
//! may be recalled; in a public channel, only what the person said publicly in that same
//! workspace/server. So a DM is never repeated in a channel, and nothing said on one platform's
//! channels is aired in another's. Sharing rule: turns from the identity's OTHER accounts are read only
//! when CROSS_PLATFORM_SYNC_ENABLED and the person's `conversation_history` sharing are on.

use crate::config::{Settings, SyncCategory};
use crate::core::preferences;
use crate::llm::{RecalledMemory, Speaker, Turn};
use crate::store::hot::{AccountInfo, IdentityHot, TurnRecord};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

use whisperengine_contract::{ConversationContext, Visibility};

/// Turns from other platforms added to the recent history when conversation sharing is on.
const OTHER_PLATFORM_TURNS: usize = 4;

/// Whether a stored record may be brought up in `context` for `account`.
pub fn is_visible(
    record: &TurnRecord,
    account: &AccountInfo,
    context: &ConversationContext,
    shares_history: bool,
) -> bool {
    if record.account_id != account.id && !shares_history {
        return false;
    }
    match context.visibility {
        Visibility::Dm | Visibility::Private => true,
        Visibility::Public => {
            record.visibility == Visibility::Public
                && record.platform == account.platform
                && record.scope == context.scope
        }
    }
}

/// The context gathered for one reply.
#[derive(Debug, Default)]
pub struct Gathered {
    pub history: Vec<Turn>,
    pub memories: Vec<RecalledMemory>,
}

/// Gathers recent turns and relevant memories for a reply to `text`. The message being answered
/// must not yet be in `state`.
pub fn gather(
    settings: &Settings,
    state: &IdentityHot,
    account: &AccountInfo,
    context: &ConversationContext,
    text: &str,
    now: DateTime<Utc>,
) -> Gathered {
    let shares_history = preferences::is_shared(settings, state, SyncCategory::ConversationHistory);
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
        .skip(own.len().saturating_sub(settings.history_turns))
        .collect();
    if settings.sync_conversation_history && shares_history {
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
    let history = chosen
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
        .collect();
    let query = terms(text);
    // Recent turns may be recalled too: "what did I just say my cat was called?" is a recall.
    // Questions are not facts, so they are never recalled as something the person told us.
    let mut scored: Vec<(f64, &TurnRecord)> = state
        .recallable
        .iter()
        .filter(|record| !record.content.trim_end().ends_with('?'))
        .filter(|record| is_visible(record, account, context, shares_history))
        .filter_map(|record| {
            let score = relevance(&query, &terms(&record.content));
            (score > 0.0).then(|| {
                let age_days = (now - record.created_at).num_seconds().max(0) as f64 / 86_400.0;
                let recency = 1.0 / (1.0 + age_days / 30.0);
                (
                    score * (0.5 + record.importance) * (0.5 + 0.5 * recency),
                    record,
                )
            })
        })
        .collect();
    scored.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    let memories = scored
        .into_iter()
        .take(settings.memory_top_k)
        .map(|(score, record)| RecalledMemory {
            text: record.content.clone(),
            platform: record.platform,
            at: record.created_at,
            score,
            is_other_platform: record.account_id != account.id,
        })
        .collect();
    Gathered { history, memories }
}

const STOPWORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "but", "is", "are", "was", "were", "be", "been", "am", "i",
    "me", "my", "mine", "you", "your", "yours", "we", "our", "it", "its", "to", "of", "in", "on",
    "at", "for", "with", "what", "whats", "what's", "who", "where", "when", "how", "why", "which",
    "do", "does", "did", "that", "this", "these", "those", "there", "here", "have", "has", "had",
    "so", "not", "no", "yes", "can", "could", "would", "should", "will", "just", "about", "tell",
    "know", "remember", "again", "im", "i'm", "ive", "i've", "it's", "is", "by", "from", "as",
    "if", "then", "than", "too", "very", "really", "some", "any", "all", "called", "name", "named",
];

/// Lower-cased content words with a light plural/suffix folding ("cats" → "cat").
pub fn terms(text: &str) -> HashSet<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|word| word.trim_matches('\''))
        .filter(|word| word.len() > 1 && !STOPWORDS.contains(word))
        .map(|word| {
            let word = word.strip_suffix("'s").unwrap_or(word);
            if word.len() > 4 && word.ends_with("ies") {
                format!("{}y", &word[..word.len() - 3])
            } else if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") {
                word[..word.len() - 1].to_string()
            } else {
                word.to_string()
            }
        })
        .collect()
}

/// Share of the query's terms found in a memory (0 when none).
fn relevance(query: &HashSet<String>, memory: &HashSet<String>) -> f64 {
    if query.is_empty() || memory.is_empty() {
        return 0.0;
    }
    let shared = query.intersection(memory).count() as f64;
    shared / (query.len() as f64).sqrt() / (memory.len() as f64).sqrt().max(1.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use whisperengine_contract::Platform;

    fn record(
        account_id: i64,
        text: &str,
        platform: Platform,
        visibility: Visibility,
    ) -> TurnRecord {
        TurnRecord {
            account_id,
            is_user: true,
            content: text.into(),
            platform,
            scope: "G1".into(),
            visibility,
            importance: 0.6,
            emotion: None,
            created_at: Utc::now(),
        }
    }

    fn account(id: i64, platform: Platform) -> AccountInfo {
        AccountInfo {
            id,
            identity_id: uuid::Uuid::nil(),
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

    #[test]
    fn questions_match_the_statements_they_ask_about() {
        let question = terms("What's my cat called?");
        let relevant = terms("My cat is called Miso");
        let unrelated = terms("I work as a nurse in Porto");
        assert!(relevance(&question, &relevant) > 0.0);
        assert_eq!(relevance(&question, &unrelated), 0.0);
        assert!(terms("cats and puppies").contains("puppy"));
    }
}
