//! The adaptation note (what `feedback` taught, [`whisperengine::core::memory::adaptation`]) is built from
//! the identity's hot state, on SQLite and (when configured) PostgreSQL + Redis:
//! - feedback given in this process shapes the next reply without `feedback` being read again;
//! - feedback another process stored is used once that process's invalidation arrives (simulated,
//!   and through a second core on the same database with the real change feed);
//! - a reload keeps the latest ratings of each platform, so with adaptation strategies not shared a
//!   platform's own older ratings still count however many came later elsewhere.
#![allow(clippy::unwrap_used)]

use crate::common;

use chrono::Utc;
use common::{command, core_for, message, say, test_setups, Recorder};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use std::time::{Duration, Instant};
use whisperengine::config::Settings;
use whisperengine::core::Core;
use whisperengine::store::accounts;
use whisperengine::store::entities::feedback;
use whisperengine_contract::{Platform, PlatformAccount};

/// What the note says when a comment asked for shorter replies.
const LEARNED: &str = "keep replies short";

async fn identity_of(
    core: &Core,
    account: &PlatformAccount,
) -> whisperengine::store::ids::IdentityId {
    accounts::find_account(&core.store.db, account)
        .await
        .unwrap()
        .unwrap()
        .identity_id
}

/// The system prompt of the reply to a plain message from `account`.
async fn system_prompt(core: &Core, recorder: &Recorder, account: &PlatformAccount) -> String {
    say(core, message(account, "how are you today")).await;
    recorder.last().system
}

/// Stores a rating the way another host process would: a row in SQL, nothing in this process.
async fn store_elsewhere(
    core: &Core,
    identity_id: whisperengine::store::ids::IdentityId,
    platform: Platform,
    comment: &str,
) {
    feedback::ActiveModel {
        identity_id: Set(identity_id.into()),
        platform: Set(platform.as_str().to_string()),
        score: Set(1),
        comment: Set(Some(comment.to_string())),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&core.store.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn feedback_given_here_shapes_the_next_reply_without_reading_feedback_again() {
    for (db, settings) in test_setups().await {
        let mut core = core_for(settings).await;
        let recorder = Recorder::install(&mut core);
        let account = PlatformAccount::new(Platform::Slack, "T1", "U-here");
        assert!(
            !system_prompt(&core, &recorder, &account)
                .await
                .contains(LEARNED),
            "{}: nothing learned yet",
            db.name
        );
        let identity_id = identity_of(&core, &account).await;
        let reply = say(
            &core,
            command(&account, "feedback 2 your replies are too long", false),
        )
        .await;
        assert!(reply.contains("2/5"), "{}: {reply}", db.name);
        // Gone from SQL behind the host's back: a reply that read `feedback` would find nothing.
        let deleted = feedback::Entity::delete_many()
            .filter(feedback::Column::IdentityId.eq(identity_id))
            .exec(&core.store.db)
            .await
            .unwrap();
        assert_eq!(
            deleted.rows_affected, 1,
            "{}: the rating was stored",
            db.name
        );
        let prompt = system_prompt(&core, &recorder, &account).await;
        assert!(
            prompt.contains(LEARNED) && prompt.contains("over 1 rating, given on slack"),
            "{}: the rating was added to the hot state in place: {prompt}",
            db.name
        );
        drop(core);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn feedback_stored_by_another_process_is_used_once_its_invalidation_arrives() {
    for (db, settings) in test_setups().await {
        let mut core = core_for(settings.clone()).await;
        let recorder = Recorder::install(&mut core);
        let account = PlatformAccount::new(Platform::Discord, "", "4242");
        system_prompt(&core, &recorder, &account).await;
        let identity_id = identity_of(&core, &account).await;

        // Simulated: the row arrives in SQL, then the other process's invalidation.
        store_elsewhere(&core, identity_id, Platform::Discord, "far too long").await;
        assert!(
            !system_prompt(&core, &recorder, &account)
                .await
                .contains(LEARNED),
            "{}: replies read the hot state, not `feedback`",
            db.name
        );
        core.store.hot.invalidate_identity(identity_id);
        assert!(
            system_prompt(&core, &recorder, &account)
                .await
                .contains(LEARNED),
            "{}: reloaded with the other process's rating",
            db.name
        );

        // For real: a second core on the same database takes `feedback`; this one hears of it
        // through the SQL change feed (and Redis, when configured) and reloads.
        let other = core_for(settings.clone()).await;
        say(
            &other,
            command(&account, "feedback 5 more detail please", false),
        )
        .await;
        let started = Instant::now();
        loop {
            let prompt = system_prompt(&core, &recorder, &account).await;
            if prompt.contains("give fuller, more detailed replies") {
                assert!(prompt.contains("over 2 ratings"), "{}: {prompt}", db.name);
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{}: the other core's feedback never reached this one: {prompt}",
                db.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drop(other);
        drop(core);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_reload_keeps_each_platforms_latest_ratings_for_unshared_adaptation() {
    for (db, settings) in test_setups().await {
        let apart = Settings {
            sync_adaptation_strategies: false,
            ..settings
        };
        let mut core = core_for(apart).await;
        let recorder = Recorder::install(&mut core);
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U-apart");
        let discord = PlatformAccount::new(Platform::Discord, "", "777");
        say(
            &core,
            command(&slack, &format!("admin link {slack} {discord}"), true),
        )
        .await;
        say(&core, command(&discord, "feedback 1 way too long", false)).await;
        for _ in 0..12 {
            say(&core, command(&slack, "feedback 5 lovely", false)).await;
        }
        // Read back from SQL: the ranking per platform is the database's.
        core.store.hot.clear();
        let on_discord = system_prompt(&core, &recorder, &discord).await;
        assert!(
            on_discord.contains("over 1 rating, given on discord") && on_discord.contains(LEARNED),
            "{}: Discord's own rating, behind 12 newer Slack ones: {on_discord}",
            db.name
        );
        let on_slack = system_prompt(&core, &recorder, &slack).await;
        assert!(
            on_slack.contains("over 10 ratings, given on slack") && !on_slack.contains(LEARNED),
            "{}: Slack's latest ten: {on_slack}",
            db.name
        );
        drop(core);
        db.cleanup().await;
    }
}
