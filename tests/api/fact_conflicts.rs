//! Fact contradictions follow CONFLICT_RESOLUTION_STRATEGY, end to end across two linked
//! platforms (the real core, SQLite and PostgreSQL + Redis, sealed values under
//! DATA_ENCRYPTION_KEY on one of them): "I live in Lisbon" on Slack, then "I live in Porto" on
//! Discord within SETTINGS_SYNC_INTERVAL, then "where do I live?".
//! - latest_wins: Porto, the newer statement; a resolved `fact` conflict.
//! - platform_priority: the higher-ranked platform's statement, whichever came first.
//! - manual: both kept; the companion says it is unsure and names both until the person picks
//!   with `conflicts resolve <id> 1|2`, after which only the chosen one is current.
#![allow(clippy::unwrap_used)]

use crate::common;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use whisperengine::config::{ConflictStrategy, Settings};
use whisperengine::core::Core;
use whisperengine::store::entities::{fact, sync_conflict};
use whisperengine_contract::{Platform, PlatformAccount};

/// A DATA_ENCRYPTION_KEY (fact values and fact conflicts are sealed under it).
const KEY: &str = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b";

/// Two linked accounts on a core with `settings`; Lisbon said on Slack, then Porto on Discord.
async fn told_twice(settings: Settings) -> (Core, PlatformAccount, PlatformAccount) {
    let core = common::core_for(settings).await;
    let (slack, discord) = common::linked_slack_and_discord(&core).await;
    common::say(
        &core,
        common::message(&slack, "I live in Lisbon, near the castle."),
    )
    .await;
    common::say(&core, common::message(&discord, "I live in Porto now.")).await;
    (core, slack, discord)
}

async fn fact_conflicts(core: &Core) -> Vec<sync_conflict::Model> {
    sync_conflict::Entity::find()
        .filter(sync_conflict::Column::Kind.eq("fact"))
        .all(&core.store.db)
        .await
        .unwrap()
}

/// Current `location` rows (values opened).
async fn current_locations(core: &Core) -> Vec<String> {
    let mut values: Vec<String> = fact::Entity::find()
        .filter(fact::Column::Attribute.eq("location"))
        .filter(fact::Column::SupersededAt.is_null())
        .all(&core.store.db)
        .await
        .unwrap()
        .iter()
        .map(|row| whisperengine::store::crypto::readable(core.store.cipher.as_deref(), &row.value))
        .collect();
    values.sort();
    values
}

fn with_strategy(mut settings: Settings, strategy: ConflictStrategy) -> Settings {
    settings.conflict_resolution_strategy = strategy;
    settings
}

#[tokio::test]
async fn latest_wins_answers_with_the_newer_statement() {
    for (db, settings) in common::test_setups().await {
        let (core, slack, _) =
            told_twice(with_strategy(settings, ConflictStrategy::LatestWins)).await;
        let reply = common::say(&core, common::message(&slack, "where do I live?")).await;
        assert!(
            reply.contains("Porto") && !reply.contains("Lisbon"),
            "{}: {reply}",
            db.name
        );
        assert_eq!(current_locations(&core).await, vec!["Porto"], "{}", db.name);
        let conflicts = fact_conflicts(&core).await;
        assert_eq!(conflicts.len(), 1, "{}: {conflicts:?}", db.name);
        assert_eq!(conflicts[0].status, "resolved");
        assert_eq!(conflicts[0].strategy, "latest_wins");
        assert_eq!(conflicts[0].kept_platform, "discord");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn platform_priority_keeps_the_higher_ranked_platforms_statement() {
    for (priority, expected, kept) in [
        ([Platform::Slack, Platform::Discord], "Lisbon", "slack"),
        ([Platform::Discord, Platform::Slack], "Porto", "discord"),
    ] {
        for (db, settings) in common::test_setups().await {
            let mut settings = with_strategy(settings, ConflictStrategy::PlatformPriority);
            settings.platform_priority = priority.to_vec();
            let (core, _, discord) = told_twice(settings).await;
            let reply = common::say(&core, common::message(&discord, "where do I live?")).await;
            let other = if expected == "Lisbon" {
                "Porto"
            } else {
                "Lisbon"
            };
            assert!(
                reply.contains(expected) && !reply.contains(other),
                "{} {priority:?}: {reply}",
                db.name
            );
            assert_eq!(
                current_locations(&core).await,
                vec![expected],
                "{}",
                db.name
            );
            let conflicts = fact_conflicts(&core).await;
            assert_eq!(conflicts.len(), 1, "{}: {conflicts:?}", db.name);
            assert_eq!(conflicts[0].status, "resolved");
            assert_eq!(conflicts[0].strategy, "platform_priority");
            assert_eq!(conflicts[0].kept_platform, kept, "{}", db.name);
            db.cleanup().await;
        }
    }
}

#[tokio::test]
async fn manual_keeps_both_says_it_is_unsure_and_follows_the_persons_choice() {
    for (db, mut settings) in common::test_setups().await {
        settings.data_encryption_key = (db.name == "postgres").then(|| KEY.to_string().into());
        let (core, slack, discord) =
            told_twice(with_strategy(settings, ConflictStrategy::Manual)).await;
        assert_eq!(
            current_locations(&core).await,
            vec!["Lisbon", "Porto"],
            "{}",
            db.name
        );
        let unsure = common::say(&core, common::message(&discord, "where do I live?")).await;
        assert!(
            unsure.contains("not sure") && unsure.contains("Lisbon") && unsure.contains("Porto"),
            "{}: {unsure}",
            db.name
        );
        let conflicts = fact_conflicts(&core).await;
        assert_eq!(conflicts.len(), 1, "{}: {conflicts:?}", db.name);
        assert_eq!(conflicts[0].status, "open");
        assert_eq!(conflicts[0].strategy, "manual");
        let listed = common::say(&core, common::command(&slack, "conflicts", false)).await;
        assert!(
            listed.contains("Lisbon") && listed.contains("Porto"),
            "{}: the values are readable in the list: {listed}",
            db.name
        );
        let id = conflicts[0].id;
        let done = common::say(
            &core,
            common::command(&slack, &format!("conflicts resolve {id} 2"), false),
        )
        .await;
        assert!(done.contains("Porto"), "{}: {done}", db.name);
        assert_eq!(current_locations(&core).await, vec!["Porto"], "{}", db.name);
        let answer = common::say(&core, common::message(&slack, "where do I live?")).await;
        assert!(
            answer.contains("Porto") && !answer.contains("Lisbon") && !answer.contains("not sure"),
            "{}: {answer}",
            db.name
        );
        assert_eq!(
            fact_conflicts(&core).await[0].status,
            "resolved",
            "{}",
            db.name
        );
        db.cleanup().await;
    }
}
