//! Every host switch changes what the companion does, shown by a reply's prompt or a stored value
//! that differs with the switch on and off (the real core on SQLite and PostgreSQL + Redis):
//! CROSS_PLATFORM_SYNC_ENABLED, SYNC_AI_SETTINGS, SYNC_UI_PREFERENCES and EMOTIONAL_SYNC_INTERVAL.
//! (The other SYNC_* switches have theirs in privacy_property.rs and sync_switches.rs.)
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{prompt_text, Recorder};
use sea_orm::{EntityTrait, PaginatorTrait};
use std::time::Duration;
use whisperengine::config::Settings;
use whisperengine::store::entities::emotional_state;

/// A fresh database of the same kind as `db` for `settings` (each switch position starts from
/// nothing).
async fn fresh_like(db: &common::TestDb, settings: &mut Settings) -> common::TestDb {
    let fresh = common::fresh_databases()
        .await
        .into_iter()
        .find(|fresh| fresh.name == db.name)
        .unwrap();
    settings.database_url = fresh.url.clone();
    fresh
}

/// What Discord's prompt holds after `told` was said (or set) on Slack, with `settings`.
async fn discord_prompt_after(settings: Settings, told: &str, asked: &str) -> String {
    let mut core = common::core_for(settings).await;
    let recorder = Recorder::install(&mut core);
    let (slack, discord) = common::linked_slack_and_discord(&core).await;
    let event = if told.starts_with("prefs ") {
        common::command(&slack, told, false)
    } else {
        common::message(&slack, told)
    };
    common::say(&core, event).await;
    common::say(&core, common::message(&discord, asked)).await;
    prompt_text(&recorder.last())
}

#[tokio::test]
async fn cross_platform_sync_off_keeps_each_platform_to_itself() {
    for (db, settings) in common::test_setups().await {
        for on in [true, false] {
            let mut settings = settings.clone();
            let fresh = fresh_like(&db, &mut settings).await;
            settings.cross_platform_sync_enabled = on;
            let prompt =
                discord_prompt_after(settings, "My cat is called Miso", "what is my cat called?")
                    .await;
            assert_eq!(
                prompt.contains("Miso"),
                on,
                "{}: CROSS_PLATFORM_SYNC_ENABLED={on}: {prompt}",
                db.name
            );
            fresh.cleanup().await;
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn sync_ai_settings_decides_whether_a_tone_set_on_slack_shapes_discord_replies() {
    for (db, settings) in common::test_setups().await {
        for on in [true, false] {
            let mut settings = settings.clone();
            let fresh = fresh_like(&db, &mut settings).await;
            settings.sync_ai_settings = on;
            let prompt =
                discord_prompt_after(settings, "prefs set tone playful", "how are you?").await;
            assert_eq!(
                prompt.contains("\"playful\" tone"),
                on,
                "{}: SYNC_AI_SETTINGS={on}: {prompt}",
                db.name
            );
            fresh.cleanup().await;
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn sync_ui_preferences_decides_whether_pronouns_set_on_slack_reach_discord() {
    for (db, settings) in common::test_setups().await {
        for on in [true, false] {
            let mut settings = settings.clone();
            let fresh = fresh_like(&db, &mut settings).await;
            settings.sync_ui_preferences = on;
            let prompt =
                discord_prompt_after(settings, "prefs set pronouns they/them", "hello again").await;
            assert_eq!(
                prompt.contains("\"they/them\""),
                on,
                "{}: SYNC_UI_PREFERENCES={on}: {prompt}",
                db.name
            );
            fresh.cleanup().await;
        }
        db.cleanup().await;
    }
}

/// The mood is written behind: within EMOTIONAL_SYNC_INTERVAL of a message, not on it.
#[tokio::test]
async fn emotional_sync_interval_is_when_the_mood_reaches_sql() {
    for (db, settings) in common::test_setups().await {
        for (interval, written) in [
            (Duration::from_secs(1), true),
            (Duration::from_secs(3_600), false),
        ] {
            let mut settings = settings.clone();
            let fresh = fresh_like(&db, &mut settings).await;
            settings.emotional_sync_interval = interval;
            let (_base, core) = common::spawn_app(settings).await;
            let account = whisperengine_contract::PlatformAccount::new(
                whisperengine_contract::Platform::Slack,
                "T1",
                "U1",
            );
            common::say(
                &core,
                common::message(&account, "I'm so happy today, I got the job!"),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(2_500)).await;
            let rows = emotional_state::Entity::find()
                .count(&core.store.db)
                .await
                .unwrap();
            assert_eq!(
                rows > 0,
                written,
                "{}: EMOTIONAL_SYNC_INTERVAL={interval:?}: {rows} rows after 2.5 s",
                db.name
            );
            fresh.cleanup().await;
        }
        db.cleanup().await;
    }
}
