//! sea-orm entities, one module per table; column names match `whisperengine-migrations` exactly.
//!
//! Enum-like columns (`platform`, `role`, `visibility`, `status`, ...) stay `String` here; the
//! core maps them to its own types. Use [`prelude`] for the entity aliases.

pub mod audit_log;
pub mod emotion_observation;
pub mod emotional_state;
pub mod export_token;
pub mod fact;
pub mod feedback;
pub mod host_setting;
pub mod identity;
pub mod inbox_event;
pub mod inbox_owner;
pub mod link_attempt;
pub mod link_code;
pub mod memory;
pub mod memory_embedding;
pub mod platform_account;
pub mod preference;
pub mod processed_event;
pub mod state_change;
pub mod state_counter;
pub mod sync_conflict;

/// Entity aliases: `Identity`, `PlatformAccount`, `Memory`, ...
pub mod prelude {
    pub use super::audit_log::Entity as AuditLog;
    pub use super::emotion_observation::Entity as EmotionObservation;
    pub use super::emotional_state::Entity as EmotionalState;
    pub use super::export_token::Entity as ExportToken;
    pub use super::fact::Entity as Fact;
    pub use super::feedback::Entity as Feedback;
    pub use super::host_setting::Entity as HostSetting;
    pub use super::identity::Entity as Identity;
    pub use super::link_attempt::Entity as LinkAttempt;
    pub use super::link_code::Entity as LinkCode;
    pub use super::memory::Entity as Memory;
    pub use super::memory_embedding::Entity as MemoryEmbedding;
    pub use super::platform_account::Entity as PlatformAccount;
    pub use super::preference::Entity as Preference;
    pub use super::processed_event::Entity as ProcessedEvent;
    pub use super::sync_conflict::Entity as SyncConflict;
}
