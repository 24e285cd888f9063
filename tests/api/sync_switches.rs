//! SYNC_ADAPTATION_STRATEGIES and SYNC_PRIVACY_SETTINGS have an effect, read per reply and
//! reversible, with the host default and the person's `privacy set` override:
//! - adaptation strategies: what feedback on one platform taught (shorter replies, ...) shapes the
//!   prompt on the identity's other platforms only while shared;
//! - privacy settings: a `privacy set` made on one platform applies to the other platforms only
//!   while shared; off, each account keeps its own choices.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{command, message, say, Recorder};
use whisperengine::config::Settings;
use whisperengine_contract::{Platform, PlatformAccount};

const LEARNED: &str = "keep replies short";

/// A person's Slack and Discord accounts (`person` tells people apart).
fn accounts(person: u32) -> (PlatformAccount, PlatformAccount) {
    (
        PlatformAccount::new(Platform::Slack, "T1", format!("U-sync-{person}")),
        PlatformAccount::new(Platform::Discord, "", format!("9000{person}")),
    )
}

/// A core on `settings` with a recorder, and `person`'s two accounts linked by an admin.
async fn linked_core(
    settings: Settings,
    person: u32,
) -> (whisperengine::core::Core, std::sync::Arc<Recorder>) {
    let mut core = common::core_for(settings).await;
    let recorder = Recorder::install(&mut core);
    let (slack, discord) = accounts(person);
    common::link_by_admin(&core, &slack, &discord).await;
    (core, recorder)
}

/// Whether the system prompt of a reply to `text` from `account` carries the learned note.
async fn adapts(
    core: &whisperengine::core::Core,
    recorder: &Recorder,
    account: &PlatformAccount,
) -> bool {
    say(core, message(account, "how are you today")).await;
    recorder.last().system.contains(LEARNED)
}

#[tokio::test]
async fn feedback_learned_on_one_platform_shapes_the_others_only_while_adaptation_is_shared() {
    for (db, settings) in common::test_setups().await {
        let (core, recorder) = linked_core(settings.clone(), 1).await;
        let (slack, discord) = accounts(1);
        assert!(
            !adapts(&core, &recorder, &discord).await,
            "{}: nothing learned yet",
            db.name
        );
        say(
            &core,
            command(&slack, "feedback 2 your replies are too long", false),
        )
        .await;
        assert!(adapts(&core, &recorder, &slack).await, "{}", db.name);
        assert!(
            adapts(&core, &recorder, &discord).await,
            "{}: learned on Slack, applied on Discord",
            db.name
        );
        say(
            &core,
            command(&discord, "privacy set adaptation_strategies off", false),
        )
        .await;
        assert!(
            !adapts(&core, &recorder, &discord).await,
            "{}: off: Slack's lesson stays on Slack",
            db.name
        );
        assert!(adapts(&core, &recorder, &slack).await, "{}", db.name);
        say(
            &core,
            command(&discord, "privacy set adaptation_strategies on", false),
        )
        .await;
        assert!(
            adapts(&core, &recorder, &discord).await,
            "{}: reversible",
            db.name
        );
        drop(core);

        // The host default alone, with no personal choice.
        let off = Settings {
            sync_adaptation_strategies: false,
            ..settings
        };
        let (core, recorder) = linked_core(off, 2).await;
        let (slack, discord) = accounts(2);
        say(
            &core,
            command(&slack, "feedback 1 far too long, shorter please", false),
        )
        .await;
        assert!(!adapts(&core, &recorder, &discord).await, "{}", db.name);
        assert!(adapts(&core, &recorder, &slack).await, "{}", db.name);
        drop(core);
        db.cleanup().await;
    }
}

/// Whether a reply on `account` to a question about the cat recalls what Slack was told.
async fn recalls_the_cat(
    core: &whisperengine::core::Core,
    recorder: &Recorder,
    account: &PlatformAccount,
) -> bool {
    say(core, message(account, "what's my cat called?")).await;
    recorder
        .last()
        .memories
        .iter()
        .any(|memory| memory.text.contains("Miso"))
}

#[tokio::test]
async fn a_privacy_choice_travels_to_the_other_platforms_only_while_privacy_settings_are_shared() {
    for (db, settings) in common::test_setups().await {
        let (core, recorder) = linked_core(settings.clone(), 1).await;
        let (slack, discord) = accounts(1);
        say(&core, message(&slack, "My cat is called Miso")).await;
        say(&core, message(&discord, "My dog is called Rex")).await;
        assert!(
            recalls_the_cat(&core, &recorder, &discord).await,
            "{}",
            db.name
        );

        // Shared (the default): Slack's choice holds on Discord too.
        say(
            &core,
            command(&slack, "privacy set conversation_history off", false),
        )
        .await;
        assert!(
            !recalls_the_cat(&core, &recorder, &discord).await,
            "{}: Slack's choice applies on Discord",
            db.name
        );
        let shown = say(&core, command(&discord, "privacy", false)).await;
        assert!(
            shown.contains("`conversation_history`: not shared"),
            "{}: {shown}",
            db.name
        );

        // Off: each account keeps its own choices.
        say(
            &core,
            command(&slack, "privacy set privacy_settings off", false),
        )
        .await;
        assert!(
            recalls_the_cat(&core, &recorder, &discord).await,
            "{}: Discord's own choice (the default) holds on Discord",
            db.name
        );
        let shown = say(&core, command(&discord, "privacy", false)).await;
        assert!(
            shown.contains("`conversation_history`: shared"),
            "{}: {shown}",
            db.name
        );
        let shown = say(&core, command(&slack, "privacy", false)).await;
        assert!(
            shown.contains("`conversation_history`: not shared"),
            "{}: Slack keeps its own: {shown}",
            db.name
        );
        say(&core, message(&slack, "what's my dog called?")).await;
        assert!(
            !recorder
                .last()
                .memories
                .iter()
                .any(|memory| memory.text.contains("Rex")),
            "{}: on Slack, Discord's turns stay out",
            db.name
        );

        // Reversible: shared again, Slack's choice is back in force on Discord.
        say(
            &core,
            command(&discord, "privacy set privacy_settings on", false),
        )
        .await;
        assert!(
            !recalls_the_cat(&core, &recorder, &discord).await,
            "{}",
            db.name
        );
        drop(core);

        // The host default alone: SYNC_PRIVACY_SETTINGS=false keeps choices per account.
        let off = Settings {
            sync_privacy_settings: false,
            ..settings
        };
        let (core, recorder) = linked_core(off, 2).await;
        let (slack, discord) = accounts(2);
        say(&core, message(&slack, "My cat is called Miso")).await;
        say(
            &core,
            command(&slack, "privacy set conversation_history off", false),
        )
        .await;
        assert!(
            recalls_the_cat(&core, &recorder, &discord).await,
            "{}",
            db.name
        );
        drop(core);
        db.cleanup().await;
    }
}
