//! The platform-neutral core: every connector's events arrive here through [`Core`], which implements
//! the contract's `EventHandler`.
//!
//! - [`pipeline`]: a message's path, one function per step (dedupe → identity → gates → rate limit →
//!   store → emotion → context → prompt → LLM → store reply).
//! - [`intake`]: the bounded queue of acknowledged events and the retry loop that keeps a message
//!   until it is durably stored.
//! - [`identity`]: accounts and identities, and an identity's hot state.
//! - [`hot_load`]: loading a cold identity's hot state from SQL in one round of reads.
//! - [`linking`]: one-time link codes, linking and unlinking (by users and admins).
//! - [`commands`]: the command set every platform shares (help, whoami, link, memory, ...).
//! - [`context`]: what may be recalled where (visibility, sharing settings) and how it is ranked.
//! - [`facts`]: the rule-based fact extractor and the typed, versioned fact store.
//! - [`recall`]: stemming, synonyms and BM25 relevance for recall.
//! - [`semantic`]: embeddings (EMBEDDING_MODEL) and cosine similarity for recall.
//! - [`adaptation`]: what feedback taught about a person's preferred replies (SYNC_ADAPTATION_STRATEGIES).
//! - [`facts_llm`]: fact extraction by the LLM (FACT_EXTRACTION), validated, rules as fallback.
//! - [`tuning`]: adaptive context size per platform from measured reply latency.
//! - [`emotion`]: the lexicon-based emotion detector and the identity's emotional state.
//! - [`preferences`]: preferences and sharing settings read through the identity, with conflicts.
//! - [`audit`]: the append-only audit log.
//! - [`erasure`]: erasing a person everywhere (`forget all`, data expiry).
//! - [`export`]: everything about a person as one JSON document, and its download links.
//! - [`isolation`]: emergency isolation of one identity or the whole host.
//! - [`kpi`]: the measured KPIs (visibility latency, consistency checks, health, conflict and
//!   satisfaction gauges).
//! - [`maintenance`]: `admin cache clear` and `feedback`.
//! - [`lifecycle`]: the demo notice and the expiry of old data (DEMO_DATA_TTL, MEMORY_RETENTION_DAYS).

pub mod adaptation;
pub mod audit;
pub mod commands;
pub mod context;
pub mod emotion;
pub mod erasure;
pub mod export;
pub mod facts;
pub mod facts_llm;
pub mod hot_load;
pub mod identity;
pub mod inbox;
pub mod intake;
pub mod isolation;
pub mod kpi;
pub mod lifecycle;
pub mod linking;
pub mod maintenance;
pub mod pipeline;
pub mod preferences;
pub mod rate_limit;
pub mod recall;
pub mod semantic;
pub mod tuning;

use crate::config::Settings;
use crate::llm::Responder;
use crate::personality::Personality;
use crate::store::{Store, StoreError};
use async_trait::async_trait;
use std::sync::Arc;
use whisperengine_contract::{Capabilities, EventHandler, HandlerOutcome, InboundEvent};

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
    rate_limiter: Arc<rate_limit::RateLimiter>,
    /// Reply latency per platform and the context size it allows (ADAPTIVE_PERFORMANCE_TUNING).
    pub tuner: Arc<tuning::Tuner>,
    /// Embeddings for recall, when EMBEDDING_MODEL and LLM_BASE_URL are set.
    pub semantic: Option<semantic::Semantic>,
    /// The LLM fact extractor, when FACT_EXTRACTION picks it.
    pub fact_extractor: Option<Arc<facts_llm::LlmFactExtractor>>,
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
        let rate_limiter = Arc::new(rate_limit::RateLimiter::new(
            settings.rate_limit_per_minute,
            store.cache.clone(),
        ));
        let semantic = semantic::Semantic::from_settings(&settings, store.db.clone());
        let fact_extractor = facts_llm::LlmFactExtractor::from_settings(&settings).map(Arc::new);
        Core {
            settings,
            store,
            personality,
            responder,
            fallback,
            rate_limiter,
            tuner: Arc::new(tuning::Tuner::default()),
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
        let platform = event.account().platform;
        if let (InboundEvent::Message(_), Some(reply)) = (&event, inbox::stored_reply()) {
            // Taken over from a process that stored this turn but did not deliver its reply.
            return HandlerOutcome::Reply(reply);
        }
        let outcome = match event {
            InboundEvent::Message(message) => {
                intake::handle_message_retrying(self, message, capabilities).await
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
            emotion::save_state(&self.store, identity, &snapshot).await?;
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
}
