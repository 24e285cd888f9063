//! What the companion may bring up where: the visibility rule for memories, facts and observed
//! moods.
//!
//! Visibility rule, by the kind of conversation the reply goes to:
//! - a 1:1 DM with the companion: everything of the identity that sharing allows;
//! - a conversation with several people (group chat, private channel, multi-person DM): what was
//!   said in that same conversation, plus what the person said publicly in the same
//!   workspace/server;
//! - a public channel: only what the person said publicly in that same workspace/server.
//!
//! So a DM is never repeated in front of others, a group chat stays in its group, and nothing said
//! on one platform's channels is aired in another's. Sharing rule: turns from the identity's OTHER
//! accounts are read only when CROSS_PLATFORM_SYNC_ENABLED and the person's `conversation_history`
//! sharing are on.

use crate::store::hot::{AccountInfo, FactRecord, TurnRecord};
use crate::store::ids::AccountId;
use whisperengine_contract::{ConversationContext, Platform, Visibility};

/// Whether a stored record may be brought up in `context` for `account`.
pub fn is_visible(
    record: &TurnRecord,
    account: &AccountInfo,
    context: &ConversationContext,
    shares_history: bool,
) -> bool {
    is_origin_visible(
        Origin {
            account_id: record.account_id,
            platform: record.platform,
            scope: &record.scope,
            channel_id: Some(&record.channel_id),
            visibility: record.visibility,
        },
        account,
        context,
        shares_history,
    )
}

/// Where something was said: what visibility is decided on.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub account_id: AccountId,
    pub platform: Platform,
    pub scope: &'a str,
    /// The conversation; `None` where it is not kept (facts): such an origin is seen in a group
    /// conversation only when it was public.
    pub channel_id: Option<&'a str>,
    pub visibility: Visibility,
}

/// The visibility rule, for anything with an origin (memories, facts).
pub fn is_origin_visible(
    origin: Origin<'_>,
    account: &AccountInfo,
    context: &ConversationContext,
    shares_history: bool,
) -> bool {
    if origin.account_id != account.id && !shares_history {
        return false;
    }
    let is_same_place = origin.platform == account.platform && origin.scope == context.scope;
    let is_public_here = is_same_place && origin.visibility == Visibility::Public;
    match context.visibility {
        Visibility::Dm => true,
        Visibility::Private => {
            is_public_here
                || (is_same_place
                    && origin.visibility != Visibility::Dm
                    && origin.channel_id == Some(context.channel_id.as_str()))
        }
        Visibility::Public => is_public_here,
    }
}

/// Whether a fact may be brought up in `context` for `account` (the same rule as memories).
pub fn is_fact_visible(
    fact: &FactRecord,
    account: &AccountInfo,
    context: &ConversationContext,
    shares_history: bool,
) -> bool {
    is_origin_visible(
        Origin {
            account_id: fact.account_id,
            platform: fact.platform,
            scope: &fact.scope,
            channel_id: None,
            visibility: fact.visibility,
        },
        account,
        context,
        shares_history,
    )
}
