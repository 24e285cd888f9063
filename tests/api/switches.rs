//! Every host switch changes what the companion does, shown by a reply's prompt or a stored value
//! that differs with the switch on and off (the real core on SQLite and PostgreSQL + Redis):
//! CROSS_PLATFORM_SYNC_ENABLED, SYNC_AI_SETTINGS, SYNC_UI_PREFERENCES, SYNC_MEMORY_IMPORTANCE,
//! SYNC_EMOTIONAL_PATTERNS, EMOTIONAL_SYNC_INTERVAL and `<PLATFORM>_EMOTION_WRITES`. (The other
//! SYNC_* switches have theirs in privacy_property.rs and sync_switches.rs.)
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

/// Batched, the mood is written behind: within EMOTIONAL_SYNC_INTERVAL of a message, not on it.
#[tokio::test]
async fn emotional_sync_interval_is_when_a_batched_mood_reaches_sql() {
    for (db, settings) in common::test_setups().await {
        for (interval, written) in [
            (Duration::from_secs(1), true),
            (Duration::from_secs(3_600), false),
        ] {
            let mut settings = settings.clone();
            let fresh = fresh_like(&db, &mut settings).await;
            settings.emotional_sync_interval = interval;
            settings.platform_overrides.slack.emotion_writes =
                Some(whisperengine::config::EmotionWrites::Batched);
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

/// How many emotional-state rows SQL holds.
async fn mood_rows(core: &whisperengine::core::Core) -> u64 {
    emotional_state::Entity::find()
        .count(&core.store.db)
        .await
        .unwrap()
}

/// Realtime (Slack's and Teams' default), the mood is in SQL when the reply is; batched
/// (Discord's), it waits for the flush however long EMOTIONAL_SYNC_INTERVAL is.
#[tokio::test]
async fn realtime_emotion_writes_put_the_mood_in_sql_with_the_message() {
    use whisperengine::config::EmotionWrites;
    use whisperengine_contract::{Platform, PlatformAccount};
    for (db, settings) in common::test_setups().await {
        for (platform, writes, written) in [
            (Platform::Slack, None, true),
            (Platform::Teams, None, true),
            (Platform::Discord, None, false),
            (Platform::Discord, Some(EmotionWrites::Realtime), true),
            (Platform::Slack, Some(EmotionWrites::Batched), false),
        ] {
            let mut settings = settings.clone();
            let fresh = fresh_like(&db, &mut settings).await;
            settings.emotional_sync_interval = Duration::from_secs(3_600);
            settings.platform_overrides.of_mut(platform).emotion_writes = writes;
            let core = common::core_for(settings).await;
            let account = PlatformAccount::new(platform, "T1", "4711");
            common::say(
                &core,
                common::message(&account, "I'm so happy today, I got the job!"),
            )
            .await;
            let rows = mood_rows(&core).await;
            assert_eq!(
                rows > 0,
                written,
                "{}: {platform:?} with {writes:?}: {rows} rows right after the reply",
                db.name
            );
            fresh.cleanup().await;
        }
        db.cleanup().await;
    }
}

/// SYNC_MEMORY_IMPORTANCE: on, what Slack was asked to remember outranks an equally relevant
/// passing remark on Discord; off, Slack's importance counts for nothing on Discord and the remark
/// made there comes first.
#[tokio::test]
async fn sync_memory_importance_decides_whether_slacks_importance_ranks_memories_on_discord() {
    const IMPORTANT: &str = "Remember my red umbrella story from the lake";
    const REMARK: &str = "my red umbrella story from the lake again";
    for (db, settings) in common::test_setups().await {
        for on in [true, false] {
            let mut settings = settings.clone();
            let fresh = fresh_like(&db, &mut settings).await;
            settings.sync_memory_importance = on;
            settings.memory_top_k = 1;
            settings.history_turns = 0;
            let mut core = common::core_for(settings).await;
            let recorder = Recorder::install(&mut core);
            let (slack, discord) = common::linked_slack_and_discord(&core).await;
            common::say(&core, common::message(&slack, IMPORTANT)).await;
            common::say(&core, common::message(&discord, REMARK)).await;
            common::say(
                &core,
                common::message(&discord, "what was the umbrella story?"),
            )
            .await;
            let recalled: Vec<String> = recorder
                .last()
                .memories
                .iter()
                .map(|memory| memory.text.clone())
                .collect();
            assert_eq!(
                recalled,
                vec![if on { IMPORTANT } else { REMARK }.to_string()],
                "{}: SYNC_MEMORY_IMPORTANCE={on}",
                db.name
            );
            fresh.cleanup().await;
        }
        db.cleanup().await;
    }
}

/// SYNC_EMOTIONAL_PATTERNS: on, Discord's prompt carries the mood's direction over the person's
/// Slack messages (sad, then happier and happier); off, Discord has too few of its own to tell one.
#[tokio::test]
async fn sync_emotional_patterns_decides_whether_the_mood_trend_on_slack_reaches_discord() {
    for (db, settings) in common::test_setups().await {
        for on in [true, false] {
            let mut settings = settings.clone();
            let fresh = fresh_like(&db, &mut settings).await;
            settings.sync_emotional_patterns = on;
            let mut core = common::core_for(settings).await;
            let recorder = Recorder::install(&mut core);
            let (slack, discord) = common::linked_slack_and_discord(&core).await;
            for text in [
                "I'm so sad and miserable today",
                "I feel awful and lonely",
                "I'm happy, things got better",
                "I'm so happy and excited, great news!",
            ] {
                common::say(&core, common::message(&slack, text)).await;
            }
            common::say(
                &core,
                common::message(&discord, "I'm really happy right now!"),
            )
            .await;
            let prompt = prompt_text(&recorder.last());
            assert_eq!(
                prompt.contains("Their mood over the last messages is improving"),
                on,
                "{}: SYNC_EMOTIONAL_PATTERNS={on}: {prompt}",
                db.name
            );
            assert!(
                prompt.contains("seems"),
                "{}: the mood itself is shown either way: {prompt}",
                db.name
            );
            fresh.cleanup().await;
        }
        db.cleanup().await;
    }
}
