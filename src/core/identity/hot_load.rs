//! Loading an identity's hot state from SQL: what the first message of someone who is not in the hot
//! layer pays for before retrieval can run, so it is kept to one round of reads and little work per row.
//!
//! - One round: every read names the identity's accounts with a subquery
//!   (`account_id IN (SELECT id FROM platform_account WHERE identity_id = ?)`), so none waits for
//!   another and they all run at once on the pool.
//! - The recall window (the latest [`RECALL_WINDOW`] user messages) and the latest
//!   [`RECENT_TURNS`] companion messages are read through `ix_memory_account_id_role_id` in index
//!   order; the recent turns are merged from both, so no memory row is read, decrypted or parsed
//!   twice. Only the columns the hot layer keeps are selected.
//! - Recall terms come from `memory.terms`, stored when the memory was written
//!   ([`recall::stored_terms`]), instead of re-tokenizing and re-stemming every memory. Rows without
//!   them (written before the column existed, or in an older format) are indexed from their content.
//! - Feedback ratings (for the adaptation note, [`crate::core::memory::adaptation`]) are read in the same
//!   round: the latest [`RECENT_RATINGS`] per platform, ranked in SQL with `ROW_NUMBER() OVER
//!   (PARTITION BY platform ...)` through `ix_feedback_identity_id_platform`, so the note is right
//!   whether it reads one platform or all of them, and no reply reads `feedback` again.
//! - With DATA_ENCRYPTION_KEY the terms are sealed like the content (a fresh nonce per value, so two
//!   memories sharing a word do not even look alike at rest) and opened here with it.

use crate::core::memory::recall;
use crate::core::Result;
use crate::store::crypto::ContentCipher;
use crate::store::entities::{
    emotion_observation, emotional_state, fact, feedback, memory, platform_account, preference,
    sync_conflict,
};
use crate::store::hot::{
    IdentityHot, PreferenceRecord, Rating, TurnRecord, RECALL_WINDOW, RECENT_RATINGS, RECENT_TURNS,
};
use crate::store::ids::{AccountId, IdentityId};
use crate::store::kinds::ConflictStatus;
use crate::store::Store;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement, WindowStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::collections::VecDeque;
use whisperengine_contract::{Platform, Visibility};

/// The columns of a `memory` row the hot layer keeps (not its channel, thread or recall counter).
#[derive(Debug, FromQueryResult)]
struct WindowRow {
    id: i64,
    account_id: i64,
    content: String,
    platform: String,
    scope: String,
    channel_id: String,
    visibility: String,
    importance: f64,
    emotion: Option<String>,
    created_at: DateTime<Utc>,
    last_recalled_at: Option<DateTime<Utc>>,
    terms: Option<String>,
}

/// `SELECT id FROM platform_account WHERE identity_id = ?`: the identity's accounts, for filters.
fn accounts_of(identity_id: IdentityId) -> SelectStatement {
    Query::select()
        .column(platform_account::Column::Id)
        .from(platform_account::Entity)
        .and_where(platform_account::Column::IdentityId.eq(identity_id))
        .to_owned()
}

/// The latest `limit` memories of the identity spoken by `role`, newest first.
async fn latest_memories(
    db: &impl ConnectionTrait,
    identity_id: IdentityId,
    role: &str,
    limit: usize,
) -> Result<Vec<WindowRow>> {
    Ok(memory::Entity::find()
        .select_only()
        .columns([
            memory::Column::Id,
            memory::Column::AccountId,
            memory::Column::Content,
            memory::Column::Platform,
            memory::Column::Scope,
            memory::Column::ChannelId,
            memory::Column::Visibility,
            memory::Column::Importance,
            memory::Column::Emotion,
            memory::Column::CreatedAt,
            memory::Column::LastRecalledAt,
            memory::Column::Terms,
        ])
        .filter(memory::Column::AccountId.in_subquery(accounts_of(identity_id)))
        .filter(memory::Column::Role.eq(role))
        .order_by_desc(memory::Column::Id)
        .limit(limit as u64)
        .into_model::<WindowRow>()
        .all(db)
        .await?)
}

/// The columns of a `feedback` row the adaptation note reads.
#[derive(Debug, FromQueryResult)]
struct RatingRow {
    id: i64,
    platform: String,
    score: i16,
    comment: Option<String>,
}

/// The identity's latest [`RECENT_RATINGS`] feedback ratings of each platform, newest first.
async fn latest_ratings(db: &impl ConnectionTrait, identity_id: IdentityId) -> Result<Vec<Rating>> {
    let recency = Alias::new("recency");
    let mut window = WindowStatement::partition_by(feedback::Column::Platform);
    window.order_by(feedback::Column::Id, Order::Desc);
    let ranked = Query::select()
        .columns([
            feedback::Column::Id,
            feedback::Column::Platform,
            feedback::Column::Score,
            feedback::Column::Comment,
        ])
        .expr_window_as(Expr::cust("ROW_NUMBER()"), window, recency.clone())
        .from(feedback::Entity)
        .and_where(feedback::Column::IdentityId.eq(identity_id))
        .to_owned();
    let latest = Query::select()
        .columns([
            feedback::Column::Id,
            feedback::Column::Platform,
            feedback::Column::Score,
            feedback::Column::Comment,
        ])
        .from_subquery(ranked, Alias::new("ranked"))
        .and_where(Expr::col(recency).lte(RECENT_RATINGS as i64))
        .order_by(feedback::Column::Id, Order::Desc)
        .to_owned();
    let rows = RatingRow::find_by_statement(db.get_database_backend().build(&latest))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Rating {
            id: row.id,
            platform: row.platform,
            score: row.score,
            comment: row.comment,
        })
        .collect())
}

/// A memory row as a hot turn: content opened with `cipher`, terms read back or, failing that,
/// computed from the content. `None` for a row whose content cannot be used (altered, or in clear
/// under DATA_ENCRYPTION_KEY): it is neither recalled nor shown as history.
fn hot_turn(cipher: Option<&ContentCipher>, row: WindowRow, is_user: bool) -> Option<TurnRecord> {
    let content = match cipher {
        Some(_) => crate::store::crypto::opened(cipher, &row.content)?,
        None => row.content,
    };
    let terms = row
        .terms
        .as_deref()
        .and_then(|stored| match cipher {
            Some(cipher) => cipher
                .open(stored)
                .ok()
                .and_then(|plain| recall::parse_stored_terms(&plain)),
            None => recall::parse_stored_terms(stored),
        })
        .unwrap_or_else(|| recall::index_terms(&content));
    Some(TurnRecord {
        memory_id: Some(row.id),
        account_id: row.account_id.into(),
        is_user,
        content,
        platform: row.platform.parse().unwrap_or(Platform::Desktop),
        scope: row.scope,
        channel_id: row.channel_id,
        visibility: Visibility::parse(&row.visibility).unwrap_or(Visibility::Dm),
        importance: row.importance,
        emotion: row.emotion,
        created_at: row.created_at,
        terms,
        last_recalled_at: row.last_recalled_at,
    })
}

/// The recall window (oldest first) and the recent turns (the newest [`RECENT_TURNS`] of both roles,
/// oldest first), from the newest-first user and companion rows. A user message among the recent turns
/// is the recall window's copy, not a second decryption of the same row.
fn windows(
    cipher: Option<&ContentCipher>,
    users: Vec<WindowRow>,
    companions: Vec<WindowRow>,
) -> (VecDeque<TurnRecord>, VecDeque<TurnRecord>) {
    let users: Vec<TurnRecord> = users
        .into_iter()
        .filter_map(|row| hot_turn(cipher, row, true))
        .collect();
    let mut companions = companions.into_iter().peekable();
    let mut next_user = users.iter().peekable();
    let mut recent = VecDeque::with_capacity(RECENT_TURNS);
    while recent.len() < RECENT_TURNS {
        let is_user_newer = match (next_user.peek(), companions.peek()) {
            (Some(user), Some(companion)) => user.memory_id > Some(companion.id),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let turn = if is_user_newer {
            next_user.next().cloned()
        } else {
            companions
                .next()
                .and_then(|row| hot_turn(cipher, row, false))
        };
        recent.extend(turn);
    }
    let recent = recent.into_iter().rev().collect();
    let recallable = users.into_iter().rev().collect();
    (recallable, recent)
}

/// Builds an identity's hot state from SQL, in one round of concurrent reads.
pub async fn load_identity(store: &Store, identity_id: IdentityId) -> Result<IdentityHot> {
    let db = &store.db;
    let cipher = store.cipher.as_deref();
    let read_since = chrono::Utc::now();
    let (
        accounts,
        isolated,
        open_conflicts,
        emotion,
        users,
        companions,
        facts,
        observations,
        preferences,
        ratings,
    ) = tokio::try_join!(
        async {
            Ok::<_, crate::core::CoreError>(
                crate::store::accounts::linked_accounts(db, identity_id).await?,
            )
        },
        crate::core::privacy::isolation::is_isolated(db, identity_id),
        async {
            Ok(sync_conflict::Entity::find()
                .filter(sync_conflict::Column::IdentityId.eq(identity_id))
                .filter(sync_conflict::Column::Status.eq(ConflictStatus::Open))
                .filter(sync_conflict::Column::Kind.eq("preference"))
                .order_by_asc(sync_conflict::Column::Id)
                .all(db)
                .await?
                .iter()
                .map(crate::core::privacy::preferences::open_conflict)
                .collect())
        },
        async {
            Ok::<_, crate::core::CoreError>(
                emotional_state::Entity::find_by_id(identity_id)
                    .one(db)
                    .await?
                    .map(crate::store::hot::EmotionSnapshot::from),
            )
        },
        latest_memories(db, identity_id, "user", RECALL_WINDOW),
        latest_memories(db, identity_id, "companion", RECENT_TURNS),
        async {
            Ok::<_, crate::core::CoreError>(
                fact::Entity::find()
                    .filter(fact::Column::AccountId.in_subquery(accounts_of(identity_id)))
                    .filter(fact::Column::SupersededAt.is_null())
                    .all(db)
                    .await?
                    .iter()
                    .filter_map(|row| crate::core::memory::facts::usable_fact(row, cipher))
                    .collect(),
            )
        },
        async {
            Ok::<_, crate::core::CoreError>(
                emotion_observation::Entity::find()
                    .filter(
                        emotion_observation::Column::AccountId
                            .in_subquery(accounts_of(identity_id)),
                    )
                    .order_by_desc(emotion_observation::Column::Id)
                    .limit(crate::core::emotion::MAX_OBSERVATIONS as u64)
                    .all(db)
                    .await?,
            )
        },
        async {
            Ok::<_, crate::core::CoreError>(
                preference::Entity::find()
                    .filter(preference::Column::AccountId.in_subquery(accounts_of(identity_id)))
                    .all(db)
                    .await?,
            )
        },
        latest_ratings(db, identity_id),
    )?;
    let (recallable, recent) = windows(cipher, users, companions);
    let observations = observations
        .iter()
        .rev()
        .map(|row| {
            let platform = accounts
                .iter()
                .find(|account| account.id == AccountId::from(row.account_id))
                .map_or(Platform::Desktop, |account| account.platform);
            crate::core::emotion::Observation::from_row(row, platform)
        })
        .collect();
    Ok(IdentityHot {
        accounts,
        isolated,
        open_conflicts,
        emotion,
        recent,
        recallable,
        facts,
        observations,
        preferences: preferences
            .into_iter()
            .map(|row| PreferenceRecord {
                account_id: row.account_id.into(),
                key: row.key,
                value: row.value,
                version: row.version,
                updated_at: row.updated_at,
                updated_by_platform: row.updated_by_platform,
            })
            .collect(),
        ratings,
        loaded_at: Some(std::time::Instant::now()),
        read_since: Some(read_since),
        ..IdentityHot::default()
    })
}
