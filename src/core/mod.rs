//! The platform-neutral core: every connector's events arrive here through [`Core`], which implements
//! the contract's `EventHandler`. Its folders, one concern each:
//!
//! - [`turn`]: a message's way in, and [`turn::pipeline`], where a message becomes a reply.
//! - [`identity`]: accounts, identities and their hot state; linking lives in [`identity::linking`].
//! - [`memory`]: what is remembered; recall is ranked in [`memory::context`] and [`memory::recall`].
//! - [`emotion`]: the lexicon-based emotion detector and a person's emotional state.
//! - [`privacy`]: preferences and sharing settings, isolation, erasure, export and the audit log.
//! - [`commands`]: the command set every platform shares (help, whoami, link, memory, ...).
//! - [`ops`]: the measured KPIs, adaptive context size, cache clear and feedback, data expiry.
//!
//! A message's steps, in [`turn::pipeline`]: dedupe → identity → gates → rate limit → store →
//! emotion → context → prompt → LLM → store reply.

pub mod commands;
pub mod emotion;
pub mod identity;
pub mod memory;
pub mod ops;
pub mod privacy;
pub mod turn;

use crate::config::Settings;
use crate::llm::Responder;
use crate::personality::Personality;
use crate::store::{Store, StoreError};
use async_trait::async_trait;
use std::sync::Arc;
use whisperengine_contract::{
    Capabilities, EventHandler, HandlerOutcome, InboundEvent, OutboundReply, Platform,
    PlatformAccount, RecentConversation, ReplySink,
};

/// Errors inside the core. User-facing refusals are replies, not errors; these are failures.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Unexpected(String),
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// The core: shared by every connector of the process; cheap to clone.
#[derive(Clone)]
pub struct Core {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub personality: Arc<Personality>,
    pub responder: Arc<dyn Responder>,
    /// Used when the configured LLM fails, so the person still gets an answer.
    pub fallback: Arc<dyn Responder>,
    rate_limiter: Arc<turn::rate_limit::RateLimiter>,
    /// Reply latency per platform and the context size it allows (ADAPTIVE_PERFORMANCE_TUNING).
    pub tuner: Arc<ops::tuning::Tuner>,
    /// Embeddings for recall: computed in process (LOCAL_EMBEDDINGS), or from the endpoint when
    /// EMBEDDING_MODEL and LLM_BASE_URL are set.
    pub semantic: Option<memory::semantic::Semantic>,
    /// The LLM fact extractor, when FACT_EXTRACTION picks it.
    pub fact_extractor: Option<Arc<memory::facts::llm::LlmFactExtractor>>,
}

impl Core {
    pub fn new(
        settings: Arc<Settings>,
        store: Store,
        personality: Arc<Personality>,
        responder: Arc<dyn Responder>,
    ) -> Core {
        let fallback: Arc<dyn Responder> =
            Arc::new(crate::llm::OfflineResponder::new(personality.clone()));
        let rate_limiter = Arc::new(turn::rate_limit::RateLimiter::new(
            settings.rate_limit_per_minute,
            store.cache.clone(),
        ));
        let semantic = memory::semantic::Semantic::from_settings(&settings, store.db.clone());
        let fact_extractor =
            memory::facts::llm::LlmFactExtractor::from_settings(&settings).map(Arc::new);
        Core {
            settings,
            store,
            personality,
            responder,
            fallback,
            rate_limiter,
            tuner: Arc::new(ops::tuning::Tuner::default()),
            semantic,
            fact_extractor,
        }
    }

    /// Handles one event; failures become an apologetic reply and a metric, never a panic.
    pub async fn handle_event(
        &self,
        event: InboundEvent,
        capabilities: Capabilities,
    ) -> HandlerOutcome {
        self.handle_event_streaming(event, capabilities, None).await
    }

    /// [`Core::handle_event`], pushing a conversational reply into `sink` as it is written.
    pub async fn handle_event_streaming(
        &self,
        event: InboundEvent,
        capabilities: Capabilities,
        sink: Option<&dyn ReplySink>,
    ) -> HandlerOutcome {
        let platform = event.account().platform;
        if let InboundEvent::Message(message) = &event {
            let row = turn::inbox::InboxRow::of(message.inbox.as_ref());
            if let Some(reply) = row.and_then(turn::inbox::InboxRow::stored_reply) {
                // Taken over from a process that stored this turn but did not deliver its reply.
                return HandlerOutcome::Reply(reply.clone());
            }
        }
        let outcome = match event {
            InboundEvent::Message(message) => {
                turn::retry::handle_message_retrying(self, message, capabilities, sink).await
            }
            InboundEvent::Command(command) => {
                commands::handle_command(self, command, capabilities).await
            }
        };
        match outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::error!(%error, %platform, "event failed");
                metrics::counter!(crate::telemetry::names::ERRORS, "kind" => "event").increment(1);
                HandlerOutcome::Reply(whisperengine_contract::OutboundReply::private(
                    "Sorry, something went wrong on my side and I could not handle that. Please try again in a moment.",
                ))
            }
        }
    }

    /// Writes emotion states changed since the last flush (the hot layer's periodic sync and shutdown).
    pub async fn flush_hot_state(&self) -> Result<usize> {
        let dirty = self.store.hot.take_dirty_emotions();
        let count = dirty.len();
        for (identity, snapshot) in dirty {
            self.store.save_emotion_state(identity, &snapshot).await?;
        }
        self.store.flush().await;
        Ok(count)
    }

    /// Runs the hot layer's periodic flush every EMOTIONAL_SYNC_INTERVAL until the task is dropped.
    pub fn spawn_periodic_flush(&self) -> tokio::task::JoinHandle<()> {
        let core = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(core.settings.emotional_sync_interval);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                if let Err(error) = core.flush_hot_state().await {
                    tracing::warn!(%error, "flushing the hot layer failed; will retry");
                }
            }
        })
    }
}

#[async_trait]
impl EventHandler for Core {
    async fn handle(&self, event: InboundEvent, capabilities: Capabilities) -> HandlerOutcome {
        self.handle_event(event, capabilities).await
    }

    async fn handle_streaming(
        &self,
        event: InboundEvent,
        capabilities: Capabilities,
        sink: Arc<dyn ReplySink>,
    ) -> HandlerOutcome {
        self.handle_event_streaming(event, capabilities, Some(sink.as_ref()))
            .await
    }

    /// The reply stored with the author's message `event_id`, among their latest replies (a
    /// resend comes soon after the message).
    async fn stored_reply(
        &self,
        author: &PlatformAccount,
        event_id: &str,
    ) -> Option<OutboundReply> {
        use crate::store::entities::memory;
        use crate::store::kinds::MemoryRole;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
        /// Latest replies looked through.
        const RECENT_REPLIES: u64 = 50;
        let account = crate::store::accounts::find_account(&self.store.db, author)
            .await
            .ok()??;
        let rows = memory::Entity::find()
            .filter(memory::Column::AccountId.eq(account.id))
            .filter(memory::Column::Role.eq(MemoryRole::Companion))
            .order_by_desc(memory::Column::Id)
            .limit(RECENT_REPLIES)
            .all(&self.store.db)
            .await
            .ok()?;
        let row = rows
            .into_iter()
            .find(|row| row.event_id.as_deref() == Some(event_id))?;
        let text = crate::store::crypto::opened(self.store.cipher.as_deref(), &row.content)?;
        Some(OutboundReply::text(text))
    }

    /// The channels of `platform` with the latest messages from people in the last 30 days, read
    /// from the stored messages. A database that cannot be asked knows none (catch-up is skipped).
    async fn recent_conversations(
        &self,
        platform: Platform,
        limit: usize,
    ) -> Vec<RecentConversation> {
        use crate::store::entities::memory;
        use sea_orm::sea_query::{Expr, Func};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
        let since = chrono::Utc::now() - chrono::Duration::days(30);
        let rows: Result<Vec<(String, String, String)>, _> = memory::Entity::find()
            .select_only()
            .column(memory::Column::Scope)
            .column(memory::Column::ChannelId)
            .column(memory::Column::Visibility)
            .filter(memory::Column::Platform.eq(platform.as_str()))
            .filter(memory::Column::Role.eq(crate::store::kinds::MemoryRole::User))
            .filter(memory::Column::CreatedAt.gt(since))
            .group_by(memory::Column::Scope)
            .group_by(memory::Column::ChannelId)
            .group_by(memory::Column::Visibility)
            .order_by_desc(Func::max(Expr::col(memory::Column::CreatedAt)))
            .limit(limit as u64)
            .into_tuple()
            .all(&self.store.db)
            .await;
        match rows {
            Ok(rows) => rows
                .into_iter()
                .filter_map(|(scope, channel_id, visibility)| {
                    Some(RecentConversation {
                        scope,
                        channel_id,
                        visibility: whisperengine_contract::Visibility::parse(&visibility)?,
                    })
                })
                .collect(),
            Err(error) => {
                tracing::warn!(%error, %platform, "recent conversations not read; no catch-up");
                Vec::new()
            }
        }
    }

    /// A processed-event row written only if none exists: the first process to write it wins.
    /// When the database cannot be asked, true (doing it twice beats not at all).
    async fn claim_event(&self, platform: Platform, event_id: &str) -> bool {
        use crate::store::entities::processed_event;
        use sea_orm::sea_query::OnConflict;
        use sea_orm::{EntityTrait, Set};
        let row = processed_event::ActiveModel {
            platform: Set(platform.as_str().to_string()),
            event_id: Set(event_id.to_string()),
            created_at: Set(chrono::Utc::now()),
        };
        let inserted = processed_event::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    processed_event::Column::Platform,
                    processed_event::Column::EventId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&self.store.db)
            .await;
        match inserted {
            Ok(rows) => rows > 0,
            Err(error) => {
                tracing::warn!(%error, %platform, "event not claimed in the database; going ahead");
                true
            }
        }
    }
}
