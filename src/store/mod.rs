//! The store: SQL (sea-orm) is the source of truth, an in-process hot layer shared by every connector
//! sits in front of it, and optional Redis is the shared cache across host processes.
//!
//! - [`entities`]: the sea-orm entities (schema lives in the `whisperengine-migrations` crate).
//! - [`hot`]: the bounded in-process layer (account lookups, recent turns, emotion, per-identity locks).
//! - [`writer`]: the group-commit writer every pipeline write goes through.
//! - [`crypto`]: optional at-rest encryption of memory content (DATA_ENCRYPTION_KEY).
//! - [`cache`]: Redis (event dedupe, rate-limit windows, invalidation by pub/sub). Losing it costs
//!   speed, never data: every decision it speeds up has an SQL fallback.
//! - [`announce`]: a stored turn sent to the other processes with its content, so they append it
//!   to a person they hold instead of reading the person back from SQL.
//! - [`changes`]: the SQL change feed other processes poll when a pub/sub invalidation was missed.
//! - [`propagation`]: how long another process's changes take to arrive here, by pub/sub or feed.
//! - [`ids`]: the identity and account id types; [`kinds`]: the closed sets of values some
//!   columns hold (memory role, conflict status, audit outcome).
//! - [`accounts`], [`emotion_state`]: queries on account and emotional-state rows, and the one
//!   mapping of each stored row.

pub mod accounts;
pub mod announce;
pub mod cache;
pub mod changes;
pub mod crypto;
pub mod emotion_state;
pub mod entities;
pub mod hot;
pub mod ids;
pub mod kinds;
pub mod propagation;
pub mod writer;

use crate::store::cache::SharedCache;
use crate::store::hot::HotLayer;
use crate::store::writer::Writer;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};
use std::sync::Arc;
use std::time::Duration;
use whisperengine_migrations::{Migrator, MigratorTrait};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error("cannot open the database at {location}: {reason}")]
    Open { location: String, reason: String },
    #[error("the database has {0} pending migration(s): run `whisperengine migrate`")]
    NotMigrated(usize),
    #[error("the store is shutting down")]
    ShuttingDown,
    /// DATA_ENCRYPTION_KEY is malformed, wrong for the stored data, or missing for encrypted data.
    #[error("DATA_ENCRYPTION_KEY {0}")]
    Encryption(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub database_url: String,
    /// Shown in messages instead of the URL (passwords masked).
    pub database_display: String,
    pub redis_url: Option<String>,
    pub redis_key_prefix: String,
    pub hot_capacity: usize,
    /// How long a hot identity is trusted before it is re-read from SQL (MEMORY_SYNC_INTERVAL).
    pub hot_refresh: Duration,
    /// DATA_ENCRYPTION_KEY: when set, memory content is sealed at rest.
    pub encryption_key: Option<secrecy::SecretString>,
    /// How clashing preference writes are resolved.
    pub conflict_policy: ConflictPolicy,
}

/// How clashing writes to one person's settings are resolved (CONFLICT_RESOLUTION_STRATEGY,
/// AUTO_RESOLVE_CONFLICTS, PLATFORM_PRIORITY): the store needs it where no request's settings are
/// at hand, e.g. when linking two identities merges their preferences.
#[derive(Debug, Clone)]
pub struct ConflictPolicy {
    pub strategy: crate::config::ConflictStrategy,
    pub auto_resolve: bool,
    pub platform_priority: Vec<whisperengine_contract::Platform>,
}

impl Default for ConflictPolicy {
    fn default() -> Self {
        ConflictPolicy::from(&crate::config::Settings::default())
    }
}

impl From<&crate::config::Settings> for ConflictPolicy {
    fn from(settings: &crate::config::Settings) -> Self {
        ConflictPolicy {
            strategy: settings.conflict_resolution_strategy,
            auto_resolve: settings.auto_resolve_conflicts,
            platform_priority: settings.platform_priority.clone(),
        }
    }
}

/// Handle to every storage layer; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub db: DatabaseConnection,
    pub hot: Arc<HotLayer>,
    pub cache: Option<SharedCache>,
    pub writer: Writer,
    /// The memory-content cipher, when DATA_ENCRYPTION_KEY is set.
    pub cipher: Option<Arc<crypto::ContentCipher>>,
    /// How clashing preference writes are resolved (also when linking merges two identities).
    pub conflict_policy: Arc<ConflictPolicy>,
    /// This process in the change feed ([`changes::record`]), so it skips its own changes.
    pub origin: uuid::Uuid,
    /// What pub/sub delivered, so the change feed does not time it again.
    arrivals: Arc<propagation::Arrivals>,
    display: Arc<str>,
}

impl Store {
    /// Connects (creating the SQLite file and its folder if needed) without migrating.
    pub async fn connect(options: &StoreOptions) -> Result<Store> {
        let db = connect_database(&options.database_url, &options.database_display).await?;
        let cache = match &options.redis_url {
            Some(url) => Some(
                SharedCache::connect(url, &options.redis_key_prefix)
                    .await
                    .map_err(|error| StoreError::Open {
                        location: "REDIS_URL".into(),
                        reason: error.to_string(),
                    })?,
            ),
            None => None,
        };
        let cipher = match &options.encryption_key {
            Some(key) => Some(Arc::new(crypto::ContentCipher::from_key(key).map_err(
                |error| StoreError::Encryption(format!("is malformed: {error}")),
            )?)),
            None => None,
        };
        let writer = Writer::spawn(db.clone(), cipher.clone());
        let hot = Arc::new(HotLayer::new(options.hot_capacity, options.hot_refresh));
        let arrivals = Arc::new(propagation::Arrivals::default());
        if let Some(cache) = &cache {
            cache.spawn_invalidation_listener(hot.clone(), arrivals.clone(), cipher.clone());
        }
        // One id on the channel and in the change feed, so each path knows the other's messages.
        let origin = cache
            .as_ref()
            .map_or_else(uuid::Uuid::new_v4, SharedCache::process_id);
        Ok(Store {
            db,
            hot,
            cache,
            writer,
            cipher,
            conflict_policy: Arc::new(options.conflict_policy.clone()),
            origin,
            arrivals,
            display: options.database_display.clone().into(),
        })
    }

    /// Connects and applies pending migrations (what `serve` and `chat` do at start).
    pub async fn open(options: &StoreOptions) -> Result<Store> {
        let store = Store::connect(options).await?;
        store.migrate().await?;
        store.check_encryption_key().await?;
        // Read before anything is cached, so no change between now and the first poll is missed.
        let seen = changes::current_version(&store.db).await.ok();
        changes::spawn_watcher(
            store.db.clone(),
            store.hot.clone(),
            store.origin,
            seen,
            store.arrivals.clone(),
        );
        Ok(store)
    }

    /// Refuses to start with a key that cannot read the data already stored, or without a key when
    /// the data is encrypted; stores the check value on the first start with a key.
    pub async fn check_encryption_key(&self) -> Result<()> {
        use crate::store::entities::host_setting;
        use sea_orm::EntityTrait;
        let stored = host_setting::Entity::find_by_id(crypto::CHECK_KEY.to_string())
            .one(&self.db)
            .await?;
        let refuse = |reason: &str| StoreError::Encryption(reason.to_string());
        match (&self.cipher, stored) {
            (Some(cipher), Some(row)) if !cipher.opens_check(&row.value) => Err(refuse(
                "does not decrypt the data already stored in this database (wrong key?); start with the key the data was written with",
            )),
            (Some(cipher), None) => {
                // With a key every value is sealed: what was stored in clear before is sealed now,
                // before the check value says that this database is encrypted.
                let sealed = crypto::seal_stored_plaintext(&self.db, cipher).await?;
                if sealed > 0 {
                    tracing::info!(sealed, "values stored before DATA_ENCRYPTION_KEY was set are now encrypted");
                }
                host_setting::Entity::insert(host_setting::ActiveModel {
                    key: sea_orm::Set(crypto::CHECK_KEY.to_string()),
                    value: sea_orm::Set(cipher.seal_check()),
                    updated_at: sea_orm::Set(chrono::Utc::now()),
                    updated_by: sea_orm::Set("host".to_string()),
                })
                .exec(&self.db)
                .await?;
                Ok(())
            }
            (None, Some(_)) => Err(refuse(
                "is not set, but the memories in this database are encrypted: set the key they were written with",
            )),
            _ => Ok(()),
        }
    }

    /// Applies pending migrations; a no-op when the schema is current.
    pub async fn migrate(&self) -> Result<usize> {
        let pending = Migrator::get_pending_migrations(&self.db).await?.len();
        Migrator::up(&self.db, None).await?;
        Ok(pending)
    }

    /// Number of migrations not yet applied.
    pub async fn pending_migrations(&self) -> Result<usize> {
        Ok(Migrator::get_pending_migrations(&self.db).await?.len())
    }

    /// Database reachable and migrated. Redis is not required: without it the host still answers
    /// correctly (duplicate checks go to SQL, other processes learn changes from the SQL change
    /// feed), so its absence is reported by [`Store::check_redis`] as a degradation instead.
    pub async fn check_ready(&self) -> std::result::Result<(), String> {
        self.db
            .ping()
            .await
            .map_err(|error| format!("database unreachable: {error}"))?;
        let pending = self
            .pending_migrations()
            .await
            .map_err(|error| format!("cannot read migrations: {error}"))?;
        if pending > 0 {
            return Err(format!("{pending} migration(s) pending"));
        }
        Ok(())
    }

    /// `Err(reason)` when Redis is configured and does not answer.
    pub async fn check_redis(&self) -> std::result::Result<(), String> {
        match &self.cache {
            Some(cache) => cache
                .ping()
                .await
                .map_err(|error| format!("redis unreachable: {error}")),
            None => Ok(()),
        }
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Where the data lives, for people (passwords masked).
    pub fn location(&self) -> &str {
        &self.display
    }

    /// Finishes queued writes; called last on shutdown.
    pub async fn flush(&self) {
        self.writer.flush().await;
    }

    /// Writes (upserts) an identity's emotional state.
    pub async fn save_emotion_state(
        &self,
        identity: ids::IdentityId,
        snapshot: &hot::EmotionSnapshot,
    ) -> std::result::Result<(), DbErr> {
        emotion_state::save_on(&self.db, identity, snapshot).await
    }

    /// Drops cached state of identities whose accounts or settings changed, here and in other
    /// processes (an unsaved emotional state is written first).
    pub async fn invalidate_identities(&self, identities: &[ids::IdentityId]) {
        for identity in identities {
            if let Some(state) = self.hot.invalidate_identity(*identity) {
                if let Some(snapshot) = state.emotion {
                    if let Err(error) = self.save_emotion_state(*identity, &snapshot).await {
                        tracing::warn!(%error, "could not save emotion state of an invalidated identity");
                    }
                }
            }
            if let Some(cache) = &self.cache {
                if let Err(error) = cache.publish_invalidation(Some(*identity)).await {
                    tracing::debug!(%error, "invalidation not published; other processes refresh on their interval");
                }
            }
        }
    }
}

/// Opens the database with server settings: several connections, and for SQLite WAL journaling,
/// NORMAL sync, a busy timeout and foreign keys.
async fn connect_database(url: &str, display: &str) -> Result<DatabaseConnection> {
    if let Some(path) = sqlite_file_path(url) {
        if let Some(parent) = std::path::Path::new(&path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|error| StoreError::Open {
                    location: display.to_string(),
                    reason: format!("cannot create folder {}: {error}", parent.display()),
                })?;
            }
        }
    }
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(8)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|options| {
            options
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    let db = Database::connect(options)
        .await
        .map_err(|error| StoreError::Open {
            location: display.to_string(),
            reason: error.to_string(),
        })?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
    }
    Ok(db)
}

/// The file behind a `sqlite:` URL, if it names one (not `:memory:`).
pub fn sqlite_file_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Some(path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file_path("sqlite://data/whisperengine.db?mode=rwc").as_deref(),
            Some("data/whisperengine.db")
        );
        assert_eq!(
            sqlite_file_path("sqlite:///tmp/x.db").as_deref(),
            Some("/tmp/x.db")
        );
        assert_eq!(sqlite_file_path("sqlite::memory:"), None);
        assert_eq!(sqlite_file_path("postgres://h/db"), None);
    }
}
