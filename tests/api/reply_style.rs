//! Preferences that act, end to end through the core on SQLite and (when configured) PostgreSQL +
//! Redis: `tone`, `verbosity`, `pronouns` and `language` set on Slack reach the next Discord
//! prompt as instructions (and not when the person turned that sharing off), a short verbosity
//! gives a one-sentence offline reply, a language other than English is answered with a plain
//! word that the offline responder speaks English only, or, in a language the character has lines
//! for, greeted and listened to in it, and a time zone must be a real one.

use crate::common;
use whisperengine_contract::{Platform, PlatformAccount};

#[tokio::test]
async fn preferences_set_on_one_platform_shape_the_next_reply_on_another() {
    for (_db, settings) in common::test_setups().await {
        let mut core = common::core_for(settings).await;
        let recorder = common::Recorder::install(&mut core);
        let (slack, discord) = common::linked_slack_and_discord(&core).await;
        common::say(&core, common::message(&slack, "My cat is called Miso.")).await;

        let before = common::say(
            &core,
            common::message(&discord, "Good morning! what's my cat called?"),
        )
        .await;
        assert!(before.contains("Miso"), "{before}");
        let sentences_before = before.matches(['.', '!', '?']).count();
        assert!(sentences_before >= 2, "a greeting and the answer: {before}");

        for preference in [
            "prefs set tone playful",
            "prefs set verbosity short",
            "prefs set pronouns she/her",
            "prefs set language Portuguese",
        ] {
            let answer = common::say(&core, common::command(&slack, preference, false)).await;
            assert!(
                !answer.to_lowercase().contains("must"),
                "{preference}: {answer}"
            );
        }
        let after = common::say(
            &core,
            common::message(&discord, "Good morning! what's my cat called?"),
        )
        .await;
        let prompt = common::prompt_text(&recorder.last());
        for instruction in [
            "Talk in a \"playful\" tone.",
            "Keep replies short: one or two sentences.",
            "Their pronouns are \"she/her\"",
            "Answer in \"Portuguese\".",
        ] {
            assert!(
                prompt.contains(instruction),
                "{instruction} not in {prompt}"
            );
        }
        assert!(after.contains("Miso"), "{after}");
        assert!(
            !after.contains("Good morning") && !after.to_lowercase().starts_with("hi"),
            "short: the answer alone: {after}"
        );
        assert!(
            after.ends_with("(Without a language model I can only answer in English.)"),
            "{after}"
        );

        // AI settings (tone, verbosity) no longer shared: Discord goes back to its own.
        common::say(
            &core,
            common::command(&discord, "privacy set ai_settings off", false),
        )
        .await;
        common::say(&core, common::message(&discord, "and my cat?")).await;
        let prompt = common::prompt_text(&recorder.last());
        assert!(
            !prompt.contains("playful") && !prompt.contains("Keep replies short"),
            "{prompt}"
        );
        assert!(
            prompt.contains("Answer in \"Portuguese\"."),
            "UI preferences are still shared"
        );
    }
}

#[tokio::test]
async fn a_time_zone_that_does_not_exist_is_refused_and_changes_nothing() {
    let db = common::fresh_sqlite();
    let core = common::core_for(common::settings_for(&db, false)).await;
    let ana = PlatformAccount::new(Platform::Slack, "T1", "U1");
    common::say(&core, common::message(&ana, "hello")).await;
    let refused = common::say(
        &core,
        common::command(&ana, "prefs set timezone Mars/Olympus", false),
    )
    .await;
    assert!(
        refused.contains("timezone must be a time zone name"),
        "{refused}"
    );
    let listed = common::say(&core, common::command(&ana, "prefs", false)).await;
    assert!(!listed.contains("Mars"), "{listed}");
    let accepted = common::say(
        &core,
        common::command(&ana, "prefs set timezone America/New_York", false),
    )
    .await;
    assert!(accepted.contains("America/New_York"), "{accepted}");
}

#[tokio::test]
async fn conversation_history_turned_on_by_the_person_brings_the_other_platforms_turns() {
    for (_db, mut settings) in common::test_setups().await {
        settings.sync_conversation_history = false;
        let mut core = common::core_for(settings).await;
        let recorder = common::Recorder::install(&mut core);
        let (slack, discord) = common::linked_slack_and_discord(&core).await;
        common::say(
            &core,
            common::message(&slack, "Planning a trip to Kyoto in spring"),
        )
        .await;
        let from_slack = |prompt: &whisperengine::llm::Prompt| {
            prompt
                .history
                .iter()
                .any(|turn| turn.is_other_platform && turn.text.contains("Kyoto"))
        };
        common::say(&core, common::message(&discord, "so anyway")).await;
        assert!(
            !from_slack(&recorder.last()),
            "host default off: Discord sees only its own turns"
        );
        common::say(
            &core,
            common::command(&discord, "privacy set conversation_history on", false),
        )
        .await;
        common::say(&core, common::message(&discord, "so anyway, again")).await;
        assert!(
            from_slack(&recorder.last()),
            "the person's own choice decides: {:?}",
            recorder.last().history
        );
    }
}

/// `language Spanish` set on Slack: Elena (who has Spanish lines) greets and listens in Spanish on
/// Discord without a language model, and says that what she remembers comes in English.
#[tokio::test]
async fn a_language_the_character_has_lines_for_is_spoken_on_the_other_platform() {
    for (db, settings) in common::test_setups().await {
        let core = common::core_for(settings).await;
        let (slack, discord) = common::linked_slack_and_discord(&core).await;
        common::say(&core, common::message(&slack, "My cat is called Miso.")).await;
        let before = common::say(&core, common::message(&discord, "hola!")).await;
        assert!(
            !before.contains("¡Hola"),
            "{}: English first: {before}",
            db.name
        );

        common::say(
            &core,
            common::command(&slack, "prefs set language Spanish", false),
        )
        .await;
        let greeting = common::say(&core, common::message(&discord, "hola!")).await;
        assert!(
            greeting.contains("¡Hola") || greeting.contains("¿Qué tal"),
            "{}: a Spanish greeting: {greeting}",
            db.name
        );
        assert!(
            !greeting.contains("only answer in English"),
            "{}: {greeting}",
            db.name
        );
        let answer = common::say(&core, common::message(&discord, "what's my cat called?")).await;
        assert!(answer.contains("Miso"), "{}: {answer}", db.name);
        assert!(
            answer.ends_with("(Sin un modelo de lenguaje, lo que recuerdo te lo digo en inglés.)"),
            "{}: {answer}",
            db.name
        );
    }
}

/// `name` and `timezone` set on Slack: the next Discord reply greets by that name, and its prompt
/// tells the time on the person's own clock; not with UI preferences kept per account.
#[tokio::test]
async fn a_name_and_time_zone_set_on_slack_shape_the_next_discord_reply() {
    for (db, settings) in common::test_setups().await {
        for shared in [true, false] {
            let mut settings = settings.clone();
            settings.sync_ui_preferences = shared;
            let mut core = common::core_for(settings).await;
            let recorder = common::Recorder::install(&mut core);
            let (slack, discord) = common::linked_slack_and_discord(&core).await;
            for preference in ["prefs set name Sunny", "prefs set timezone Asia/Tokyo"] {
                common::say(&core, common::command(&slack, preference, false)).await;
            }
            let reply = common::say(&core, common::message(&discord, "hello!")).await;
            let prompt = recorder.last();
            let text = common::prompt_text(&prompt);
            assert_eq!(reply.contains("Sunny"), shared, "{}: {reply}", db.name);
            assert_eq!(
                text.contains("their time, Asia/Tokyo"),
                shared,
                "{}: shared={shared}: {text}",
                db.name
            );
            if shared {
                let tokyo = prompt.now + chrono::Duration::hours(9);
                assert!(
                    text.contains(&tokyo.format("%H:%M their time").to_string()),
                    "{}: Tokyo is UTC+9: {text}",
                    db.name
                );
            }
        }
        db.cleanup().await;
    }
}
