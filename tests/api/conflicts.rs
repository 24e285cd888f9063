//! Conflicts: two linked platforms changing the same preference at the same time, many times over,
//! on both databases, under every strategy. No update is lost silently: each one is applied in
//! order on the account it was made on, and every edit that met a different value from the other
//! platform within SETTINGS_SYNC_INTERVAL is recorded in `sync_conflict`. The value in effect is
//! what the strategy says; under `manual` (or AUTO_RESOLVE_CONFLICTS=false) the previous value
//! holds until the person picks with `conflicts resolve <id> <choice>`.
#![allow(clippy::unwrap_used)]

use crate::common;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::time::Duration;
use whisperengine::config::{ConflictStrategy, Settings};
use whisperengine::core::Core;
use whisperengine::store::entities::{preference, sync_conflict};
use whisperengine_contract::{Platform, PlatformAccount};

const ITERATIONS: usize = 20;

fn slack() -> PlatformAccount {
    PlatformAccount::new(Platform::Slack, "T1", "U1")
}

fn discord() -> PlatformAccount {
    PlatformAccount::new(Platform::Discord, "", "99")
}

async fn linked(settings: Settings) -> Core {
    let core = common::core_for(settings).await;
    common::say(&core, common::message(&slack(), "hi")).await;
    common::say(&core, common::message(&discord(), "hi")).await;
    common::link_by_admin(&core, &slack(), &discord()).await;
    core
}

/// The value `prefs` shows for `tone`.
async fn tone(core: &Core, account: &PlatformAccount) -> String {
    let reply = common::say(core, common::command(account, "prefs", false)).await;
    let line = reply
        .lines()
        .find(|line| line.contains("`tone`:"))
        .unwrap_or_else(|| panic!("no tone line in {reply}"));
    line.split("`tone`: ")
        .nth(1)
        .and_then(|rest| rest.split(" _(").next())
        .unwrap()
        .to_string()
}

/// Both platforms set `tone` at the same moment, ITERATIONS times; returns (preference rows, conflicts).
async fn race(core: &Core) -> (Vec<preference::Model>, Vec<sync_conflict::Model>) {
    for iteration in 0..ITERATIONS {
        let from_slack = common::command(&slack(), &format!("prefs set tone a{iteration}"), false);
        let from_discord =
            common::command(&discord(), &format!("prefs set tone b{iteration}"), false);
        let (first, second) = tokio::join!(
            common::say(core, from_slack),
            common::say(core, from_discord)
        );
        assert!(first.starts_with("Saved"), "{first}");
        assert!(second.starts_with("Saved"), "{second}");
    }
    let rows = preference::Entity::find()
        .filter(preference::Column::Key.eq("tone"))
        .order_by_asc(preference::Column::AccountId)
        .all(&core.store.db)
        .await
        .unwrap();
    let conflicts = sync_conflict::Entity::find()
        .filter(sync_conflict::Column::Key.eq("tone"))
        .order_by_asc(sync_conflict::Column::Id)
        .all(&core.store.db)
        .await
        .unwrap();
    (rows, conflicts)
}

/// Every update is applied in order on its own account, and every one that met the other
/// platform's different value is in a conflict row.
fn assert_nothing_lost(name: &str, rows: &[preference::Model], conflicts: &[sync_conflict::Model]) {
    assert_eq!(rows.len(), 2, "{name}: one row per account");
    for row in rows {
        let prefix = if row.updated_by_platform == "slack" {
            "a"
        } else {
            "b"
        };
        assert!(
            row.value == format!("{prefix}{}", ITERATIONS - 1) || row.version > ITERATIONS as i64,
            "{name}: {row:?} holds its account's last edit"
        );
        assert!(
            row.version >= ITERATIONS as i64,
            "{name}: every edit counted: {row:?}"
        );
    }
    assert!(
        conflicts.len() >= 2 * ITERATIONS - 1,
        "{name}: {} conflicts for {} racing edits",
        conflicts.len(),
        2 * ITERATIONS
    );
    for iteration in 1..ITERATIONS {
        for value in [format!("a{iteration}"), format!("b{iteration}")] {
            assert!(
                conflicts
                    .iter()
                    .any(|c| c.kept_value == value || c.other_value == value),
                "{name}: edit {value} is neither in effect nor recorded"
            );
        }
    }
}

#[tokio::test]
async fn latest_wins_keeps_the_newest_edit_and_records_every_clash() {
    for (db, mut settings) in common::test_setups().await {
        settings.conflict_resolution_strategy = ConflictStrategy::LatestWins;
        let core = linked(settings).await;
        let (rows, conflicts) = race(&core).await;
        assert_nothing_lost(db.name, &rows, &conflicts);
        assert!(
            conflicts.iter().all(|c| c.status == "resolved"),
            "{}",
            db.name
        );
        // Newest first; the same instant goes to the platform first in PLATFORM_PRIORITY (discord).
        let newest = rows
            .iter()
            .max_by(|a, b| {
                a.updated_at.cmp(&b.updated_at).then(
                    (a.updated_by_platform == "discord").cmp(&(b.updated_by_platform == "discord")),
                )
            })
            .unwrap();
        assert_eq!(tone(&core, &slack()).await, newest.value, "{}", db.name);
        assert_eq!(tone(&core, &discord()).await, newest.value, "{}", db.name);
        drop(core);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn platform_priority_keeps_the_preferred_platforms_value() {
    for (db, mut settings) in common::test_setups().await {
        settings.conflict_resolution_strategy = ConflictStrategy::PlatformPriority;
        settings.platform_priority = vec![Platform::Slack, Platform::Discord];
        let core = linked(settings).await;
        let (rows, conflicts) = race(&core).await;
        assert_nothing_lost(db.name, &rows, &conflicts);
        assert!(conflicts.iter().all(|c| c.status == "resolved"));
        assert!(
            conflicts.iter().all(|c| c.kept_platform == "slack"),
            "{}: slack is first in PLATFORM_PRIORITY",
            db.name
        );
        let expected = format!("a{}", ITERATIONS - 1);
        assert_eq!(tone(&core, &discord()).await, expected, "{}", db.name);
        drop(core);
        db.cleanup().await;
    }
}

async fn assert_held_until_chosen(name: &str, core: &Core) {
    let (rows, conflicts) = race(core).await;
    assert_nothing_lost(name, &rows, &conflicts);
    assert!(conflicts.iter().all(|c| c.status == "open"), "{name}");
    let first = &conflicts[0];
    // The value in effect before the first clash holds: the first edit ever made.
    assert!(
        first.kept_value == "a0" || first.kept_value == "b0",
        "{name}: {first:?}"
    );
    assert!(
        conflicts.iter().all(|c| c.kept_value == first.kept_value),
        "{name}"
    );
    assert_eq!(tone(core, &slack()).await, first.kept_value, "{name}");

    let listed = common::say(core, common::command(&discord(), "conflicts", false)).await;
    assert!(
        listed.contains(&format!("`#{}`", first.id)),
        "{name}: {listed}"
    );

    // Bad choices change nothing.
    let reply = common::say(
        core,
        common::command(&discord(), "conflicts resolve 999999 1", false),
    )
    .await;
    assert!(reply.contains("no conflict"), "{name}: {reply}");
    let reply = common::say(
        core,
        common::command(
            &discord(),
            &format!("conflicts resolve {} maybe", first.id),
            false,
        ),
    )
    .await;
    assert!(reply.starts_with("Choose"), "{name}: {reply}");
    assert_eq!(tone(core, &slack()).await, first.kept_value, "{name}");

    let reply = common::say(
        core,
        common::command(
            &discord(),
            &format!("conflicts resolve {} 2", first.id),
            false,
        ),
    )
    .await;
    assert!(reply.starts_with("Done"), "{name}: {reply}");
    assert_eq!(tone(core, &slack()).await, first.other_value, "{name}");
    assert_eq!(tone(core, &discord()).await, first.other_value, "{name}");
    let open = sync_conflict::Entity::find()
        .filter(sync_conflict::Column::Status.eq("open"))
        .all(&core.store.db)
        .await
        .unwrap();
    assert!(
        open.is_empty(),
        "{name}: the choice closes every open conflict on the key"
    );
    let listed = common::say(core, common::command(&slack(), "conflicts", false)).await;
    assert!(listed.contains("Nothing is waiting"), "{name}: {listed}");
}

#[tokio::test]
async fn manual_holds_the_previous_value_until_the_person_chooses() {
    for (db, mut settings) in common::test_setups().await {
        settings.conflict_resolution_strategy = ConflictStrategy::Manual;
        let core = linked(settings).await;
        assert_held_until_chosen(db.name, &core).await;
        drop(core);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn auto_resolve_off_queues_conflicts_like_manual() {
    for (db, mut settings) in common::test_setups().await {
        settings.conflict_resolution_strategy = ConflictStrategy::LatestWins;
        settings.auto_resolve_conflicts = false;
        let core = linked(settings).await;
        assert_held_until_chosen(db.name, &core).await;
        drop(core);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn edits_further_apart_than_the_window_are_not_conflicts() {
    for (db, mut settings) in common::test_setups().await {
        settings.conflict_resolution_strategy = ConflictStrategy::Manual;
        settings.settings_sync_interval = Duration::from_millis(200);
        let core = linked(settings).await;
        common::say(
            &core,
            common::command(&slack(), "prefs set tone warm", false),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        common::say(
            &core,
            common::command(&discord(), "prefs set tone direct", false),
        )
        .await;
        assert_eq!(tone(&core, &slack()).await, "direct", "{}", db.name);
        let conflicts = sync_conflict::Entity::find()
            .all(&core.store.db)
            .await
            .unwrap();
        assert!(conflicts.is_empty(), "{}: {conflicts:?}", db.name);
        drop(core);
        db.cleanup().await;
    }
}

/// Two separate identities each set `tone`, then an admin links them.
async fn link_with_values(settings: Settings) -> Core {
    let core = common::core_for(settings).await;
    common::say(
        &core,
        common::command(&slack(), "prefs set tone warm", false),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    common::say(
        &core,
        common::command(&discord(), "prefs set tone direct", false),
    )
    .await;
    common::link_by_admin(&core, &slack(), &discord()).await;
    core
}

#[tokio::test]
async fn linking_two_histories_with_different_values_is_a_resolved_conflict_under_latest_wins() {
    for (db, mut settings) in common::test_setups().await {
        settings.conflict_resolution_strategy = ConflictStrategy::LatestWins;
        let core = link_with_values(settings).await;
        let conflicts = sync_conflict::Entity::find()
            .all(&core.store.db)
            .await
            .unwrap();
        assert_eq!(conflicts.len(), 1, "{}: {conflicts:?}", db.name);
        assert_eq!(conflicts[0].status, "resolved");
        assert_eq!(
            conflicts[0].kept_value, "direct",
            "{}: the newer value",
            db.name
        );
        assert_eq!(tone(&core, &slack()).await, "direct", "{}", db.name);
        drop(core);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn linking_two_histories_under_manual_holds_the_keepers_value_until_chosen() {
    for (db, mut settings) in common::test_setups().await {
        settings.conflict_resolution_strategy = ConflictStrategy::Manual;
        let core = link_with_values(settings).await;
        let conflicts = sync_conflict::Entity::find()
            .all(&core.store.db)
            .await
            .unwrap();
        assert_eq!(conflicts.len(), 1, "{}: {conflicts:?}", db.name);
        assert_eq!(conflicts[0].status, "open");
        // The value of the account linked to (Slack's) holds until the person picks.
        assert_eq!(tone(&core, &discord()).await, "warm", "{}", db.name);
        let reply = common::say(
            &core,
            common::command(
                &discord(),
                &format!("conflicts resolve {} discord", conflicts[0].id),
                false,
            ),
        )
        .await;
        assert!(reply.starts_with("Done"), "{}: {reply}", db.name);
        assert_eq!(tone(&core, &slack()).await, "direct", "{}", db.name);
        drop(core);
        db.cleanup().await;
    }
}
