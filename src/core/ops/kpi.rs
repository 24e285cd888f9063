//! The seed's KPIs, measured from the shared state (never estimated) and exported on `/metrics`:
//! the age of content at its first recall on another platform (observed in the pipeline; how fast a
//! change travels between processes is `store::propagation`), and a periodic task that refreshes
//! the health gauges, the conflict and satisfaction gauges from SQL, and compares a sample of the hot
//! layer with SQL (the consistency checks; a mismatch is repaired by dropping the hot state).

use crate::core::identity;
use crate::core::{Core, Result};
use crate::store::hot::{AccountInfo, IdentityHot};
use crate::store::ids::AccountId;
use crate::telemetry::names;
use chrono::{DateTime, Utc};
use lru::LruCache;
use sea_orm::{ConnectionTrait, Statement};
use std::num::NonZeroUsize;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// How often the KPI task runs by default.
pub const KPI_INTERVAL: Duration = Duration::from_secs(15);
/// Hot identities compared with SQL per run.
pub const CONSISTENCY_SAMPLE: usize = 20;

/// Per reading account: the newest other-platform turn already counted, so each is counted once.
fn watermarks() -> &'static Mutex<LruCache<AccountId, DateTime<Utc>>> {
    static WATERMARKS: OnceLock<Mutex<LruCache<AccountId, DateTime<Utc>>>> = OnceLock::new();
    WATERMARKS.get_or_init(|| {
        Mutex::new(LruCache::new(
            NonZeroUsize::new(100_000).unwrap_or(NonZeroUsize::MIN),
        ))
    })
}

/// Records, for each turn written on another platform and recalled in this reply for the first time
/// (as far as this process has seen), how old it was then: the content's age at first recall, which
/// includes however long the person waited before writing here.
pub fn observe_content_age(
    account: &AccountInfo,
    used: impl Iterator<Item = (bool, DateTime<Utc>)>,
    now: DateTime<Utc>,
) {
    let mut watermarks = watermarks()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let seen_up_to = watermarks.get(&account.id).copied();
    let mut newest = seen_up_to;
    for (is_other_platform, written_at) in used {
        if !is_other_platform || seen_up_to.is_some_and(|seen| written_at <= seen) {
            continue;
        }
        let latency = (now - written_at).to_std().unwrap_or_default();
        metrics::histogram!(
            names::CONTENT_AGE_AT_FIRST_RECALL_SECONDS,
            "platform" => account.platform.as_str()
        )
        .record(latency.as_secs_f64());
        newest = Some(newest.map_or(written_at, |n| n.max(written_at)));
    }
    if let Some(newest) = newest {
        watermarks.put(account.id, newest);
    }
}

/// What one consistency run found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Consistency {
    pub checked: u64,
    pub mismatched: u64,
}

/// Compares up to `sample` hot identities with SQL: accounts, isolation, preferences, recent turns,
/// current facts, and the emotional state. A mismatch is counted, logged and repaired (the hot
/// state is dropped and re-read on next use). An emotional state with a blend not written yet is
/// not compared: emotion is written behind, on EMOTIONAL_SYNC_INTERVAL, so hot and SQL differ by
/// design until the next flush.
pub async fn check_consistency(core: &Core, sample: usize) -> Result<Consistency> {
    let store = &core.store;
    let mut result = Consistency::default();
    for identity_id in store.hot.identity_ids(sample) {
        let _guard = store.hot.lock_identity(identity_id).await;
        let Some(hot) = store.hot.identity(identity_id) else {
            continue;
        };
        let stored = identity::load_identity(store, identity_id).await?;
        result.checked += 1;
        let is_same = agrees(&hot, &stored);
        metrics::counter!(
            names::CONSISTENCY_CHECKS,
            "result" => if is_same { "match" } else { "mismatch" }
        )
        .increment(1);
        if !is_same {
            result.mismatched += 1;
            tracing::warn!(identity = %identity_id, "hot state differs from SQL; dropping it");
            if let Some(state) = store.hot.invalidate_identity(identity_id) {
                if let Some(snapshot) = state.emotion {
                    store.save_emotion_state(identity_id, &snapshot).await?;
                }
            }
        }
    }
    Ok(result)
}

/// The parts of a hot state that must equal SQL at all times.
#[derive(Debug, PartialEq)]
struct Comparable {
    accounts: Vec<AccountId>,
    isolated: bool,
    preferences: Vec<(AccountId, String, String, i64)>,
    recent: Vec<(AccountId, String)>,
    /// Current facts: (id, account, subject, attribute, value).
    facts: Vec<(i64, AccountId, String, String, String)>,
    /// The emotional state as last written: (mood, version). `None` while the hot state holds a
    /// blend not written yet (emotion is written behind, on EMOTIONAL_SYNC_INTERVAL).
    emotion: Option<Option<(String, i64)>>,
}

fn comparable(state: &IdentityHot) -> Comparable {
    let mut accounts: Vec<AccountId> = state.accounts.iter().map(|a| a.id).collect();
    accounts.sort_unstable();
    let mut preferences: Vec<(AccountId, String, String, i64)> = state
        .preferences
        .iter()
        .map(|p| (p.account_id, p.key.clone(), p.value.clone(), p.version))
        .collect();
    preferences.sort();
    let recent = state
        .recent
        .iter()
        .map(|turn| (turn.account_id, turn.content.clone()))
        .collect();
    let mut facts: Vec<(i64, AccountId, String, String, String)> = state
        .facts
        .iter()
        .map(|fact| {
            (
                fact.id,
                fact.account_id,
                fact.subject.clone(),
                fact.attribute.clone(),
                fact.value.clone(),
            )
        })
        .collect();
    facts.sort();
    let emotion = (!state.emotion_dirty).then(|| {
        state
            .emotion
            .as_ref()
            .map(|snapshot| (snapshot.mood.clone(), snapshot.version))
    });
    Comparable {
        accounts,
        isolated: state.isolated,
        preferences,
        recent,
        facts,
        emotion,
    }
}

/// Whether the hot state agrees with SQL: everything written through, and the emotional state
/// when the hot one has no unwritten blend.
fn agrees(hot: &IdentityHot, stored: &IdentityHot) -> bool {
    let (hot, mut stored) = (comparable(hot), comparable(stored));
    if hot.emotion.is_none() {
        stored.emotion = None;
    }
    hot == stored
}

/// Sets the database and Redis health gauges.
pub async fn refresh_health(core: &Core) {
    let database_up = core.store.db.ping().await.is_ok();
    metrics::gauge!(names::DATABASE_UP).set(if database_up { 1.0 } else { 0.0 });
    if let Some(cache) = &core.store.cache {
        let redis_up = cache.ping().await.is_ok();
        metrics::gauge!(names::REDIS_UP).set(if redis_up { 1.0 } else { 0.0 });
    }
}

/// How far back the satisfaction gauge reads feedback.
pub const SATISFACTION_WINDOW: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// The label values each store last set a gauge for. A group that empties (the last open conflict
/// resolved, a platform's feedback gone out of the window) is set back to 0 by the store that set
/// it, and by no other: several hosts in one process (tests) never reset each other's groups.
fn emptied(gauge: &'static str, origin: uuid::Uuid, now: &[Vec<String>]) -> Vec<Vec<String>> {
    type Groups = std::collections::HashMap<(&'static str, uuid::Uuid), Vec<Vec<String>>>;
    static SET: OnceLock<Mutex<Groups>> = OnceLock::new();
    let mut set = SET
        .get_or_init(|| Mutex::new(Groups::new()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let before = set
        .insert((gauge, origin), now.to_vec())
        .unwrap_or_default();
    before
        .into_iter()
        .filter(|labels| !now.contains(labels))
        .collect()
}

/// Sets the conflict gauge (by status and strategy) from `sync_conflict`; a status and strategy
/// with no conflict left reads 0.
pub async fn refresh_conflicts(core: &Core) -> Result<()> {
    let db = &core.store.db;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT status, strategy, COUNT(*) AS n FROM sync_conflict GROUP BY status, strategy",
        ))
        .await?;
    let mut groups = Vec::new();
    for row in rows {
        let status: String = row.try_get("", "status")?;
        let strategy: String = row.try_get("", "strategy")?;
        let count: i64 = row.try_get("", "n")?;
        metrics::gauge!(names::CONFLICTS, "status" => status.clone(), "strategy" => strategy.clone())
            .set(count as f64);
        groups.push(vec![status, strategy]);
    }
    for labels in emptied(names::CONFLICTS, core.store.origin, &groups) {
        if let [status, strategy] = labels.as_slice() {
            metrics::gauge!(names::CONFLICTS, "status" => status.clone(), "strategy" => strategy.clone())
                .set(0.0);
        }
    }
    Ok(())
}

/// Sets the satisfaction gauges per platform from the last [`SATISFACTION_WINDOW`] of `feedback`:
/// the mean score, and how many entries it is the mean of. A platform whose feedback left the
/// window reads 0 entries and a mean of 0 (no score), not its last mean.
pub async fn refresh_satisfaction(store: &crate::store::Store) -> Result<()> {
    use sea_orm::Value;
    let db = &store.db;
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "SELECT platform, SUM(score) AS total, COUNT(*) AS n FROM feedback \
             WHERE created_at > $1 GROUP BY platform"
        }
        _ => {
            "SELECT platform, SUM(score) AS total, COUNT(*) AS n FROM feedback \
             WHERE created_at > ? GROUP BY platform"
        }
    };
    let since = Value::from(Utc::now() - SATISFACTION_WINDOW);
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [since]))
        .await?;
    let mut groups = Vec::new();
    for row in rows {
        let platform: String = row.try_get("", "platform")?;
        let total: i64 = row.try_get("", "total")?;
        let count: i64 = row.try_get("", "n")?;
        if count > 0 {
            metrics::gauge!(names::SATISFACTION, "platform" => platform.clone())
                .set(total as f64 / count as f64);
            metrics::gauge!(names::SATISFACTION_RESPONSES, "platform" => platform.clone())
                .set(count as f64);
            groups.push(vec![platform]);
        }
    }
    for labels in emptied(names::SATISFACTION, store.origin, &groups) {
        if let [platform] = labels.as_slice() {
            metrics::gauge!(names::SATISFACTION, "platform" => platform.clone()).set(0.0);
            metrics::gauge!(names::SATISFACTION_RESPONSES, "platform" => platform.clone()).set(0.0);
        }
    }
    Ok(())
}

/// Host-wide figures for an admin's `sync status`: people, accounts, memories, conflicts, feedback,
/// isolation, and this process's hot layer.
pub async fn host_figures(core: &Core) -> Result<String> {
    let db = &core.store.db;
    let count = |table: &str| {
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        async move {
            let rows = db
                .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
                .await?;
            let n: i64 = match rows.first() {
                Some(row) => row.try_get("", "n")?,
                None => 0,
            };
            Ok::<i64, crate::core::CoreError>(n)
        }
    };
    let identities = count("identity").await?;
    let accounts = count("platform_account").await?;
    let memories = count("memory").await?;
    let open_conflicts = count("sync_conflict WHERE status = 'open'").await?;
    let feedback = count("feedback").await?;
    let isolated = count("identity WHERE isolated").await?;
    let host_isolated = crate::core::privacy::isolation::is_host_isolated(db).await?;
    Ok(format!(
        "**Host** — {identities} people, {accounts} accounts, {memories} stored messages, \
         {open_conflicts} open conflicts, {feedback} feedback entries; isolated: {}; \
         hot identities in this process: {}.",
        if host_isolated {
            "the whole host".to_string()
        } else {
            format!("{isolated} people")
        },
        core.store.hot.len()
    ))
}

/// One run of the KPI task.
pub async fn refresh(core: &Core) -> Result<Consistency> {
    refresh_health(core).await;
    refresh_conflicts(core).await?;
    refresh_satisfaction(&core.store).await?;
    check_consistency(core, CONSISTENCY_SAMPLE).await
}

/// Runs [`refresh`] every `interval` until the task is dropped.
pub fn spawn_kpi_task(core: &Core, interval: Duration) -> tokio::task::JoinHandle<()> {
    let core = core.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            if let Err(error) = refresh(&core).await {
                tracing::warn!(%error, "refreshing the KPI gauges failed; will retry");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use whisperengine_contract::Platform;

    #[test]
    fn a_group_that_empties_is_reset_by_the_store_that_set_it_only() {
        let (one, other) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let group = |labels: &[&str]| labels.iter().map(|l| l.to_string()).collect::<Vec<_>>();
        let open = group(&["open", "manual"]);
        let resolved = group(&["resolved", "manual"]);
        assert!(emptied("test_gauge", one, &[open.clone(), resolved.clone()]).is_empty());
        assert!(emptied("test_gauge", other, std::slice::from_ref(&resolved)).is_empty());
        // The last open conflict was resolved: only the store that counted it resets it.
        assert_eq!(
            emptied("test_gauge", one, std::slice::from_ref(&resolved)),
            vec![open.clone()]
        );
        assert!(emptied("test_gauge", other, &[]).contains(&resolved));
        assert!(emptied("test_gauge", one, &[resolved]).is_empty());
    }

    #[test]
    fn the_consistency_check_compares_facts_and_a_written_emotional_state() {
        use crate::store::hot::{EmotionSnapshot, FactRecord};
        use whisperengine_contract::Visibility;
        let fact = |value: &str| FactRecord {
            id: 1,
            account_id: AccountId::from(7),
            subject: "self".into(),
            attribute: "hometown".into(),
            value: value.into(),
            confidence: 0.9,
            platform: Platform::Slack,
            scope: "T1".into(),
            visibility: Visibility::Dm,
            updated_at: Utc::now(),
        };
        let mood = |version: i64| EmotionSnapshot {
            mood: "joy".into(),
            valence: 0.5,
            intensity: 0.4,
            updated_at: Utc::now(),
            updated_by_account_id: None,
            version,
        };
        let state = |value: &str, version: i64, dirty: bool| IdentityHot {
            facts: vec![fact(value)],
            emotion: Some(mood(version)),
            emotion_dirty: dirty,
            ..IdentityHot::default()
        };
        assert!(agrees(&state("Porto", 3, false), &state("Porto", 3, false)));
        assert!(
            !agrees(&state("Lisbon", 3, false), &state("Porto", 3, false)),
            "facts differ"
        );
        assert!(
            !agrees(&state("Porto", 4, false), &state("Porto", 3, false)),
            "mood differs"
        );
        assert!(
            agrees(&state("Porto", 4, true), &state("Porto", 3, false)),
            "a blend not written yet is not a mismatch"
        );
    }

    #[test]
    fn each_other_platform_turn_is_counted_once() {
        let handle = crate::telemetry::install_metrics();
        let account = AccountInfo {
            id: AccountId::from(-4242),
            identity_id: uuid::Uuid::nil().into(),
            platform: Platform::Teams,
            scope: String::new(),
            user_id: "kpi-test".into(),
            display_name: None,
        };
        let now = Utc::now();
        let written = now - chrono::TimeDelta::seconds(3);
        let count = |rendered: &str| {
            rendered
                .lines()
                .find(|line| {
                    line.starts_with("whisperengine_content_age_at_first_recall_seconds_count")
                        && line.contains("platform=\"teams\"")
                })
                .and_then(|line| line.rsplit(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let before = count(&handle.render());
        observe_content_age(
            &account,
            [(true, written), (false, written)].into_iter(),
            now,
        );
        observe_content_age(&account, [(true, written)].into_iter(), now);
        assert_eq!(count(&handle.render()), before + 1);
    }
}
