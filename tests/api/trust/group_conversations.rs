//! Conversations with several people: personal answers (link codes, export links, memory lists,
//! whoami, conflicts, sync status) never go to a group where the platform cannot answer privately;
//! a group recalls only what was said in that same group plus public content of its workspace; a
//! DM is recalled only in DMs, and the mood read in a DM does not colour a group or public reply.

use crate::common::{self, Recorder};
use sea_orm::{EntityTrait, PaginatorTrait};
use whisperengine::core::Core;
use whisperengine::store::entities::{export_token, link_code};
use whisperengine_contract::{
    CommandInvocation, ConversationContext, HandlerOutcome, InboundEvent, InboundMessage, Platform,
    PlatformAccount, Visibility,
};

const TENANT: &str = "tenant-1";

fn group(channel: &str) -> ConversationContext {
    ConversationContext {
        scope: TENANT.into(),
        channel_id: channel.into(),
        thread_id: None,
        visibility: Visibility::Private,
    }
}

fn public(channel: &str) -> ConversationContext {
    ConversationContext {
        visibility: Visibility::Public,
        ..group(channel)
    }
}

fn said(account: &PlatformAccount, context: ConversationContext, text: &str) -> InboundEvent {
    InboundEvent::Message(InboundMessage {
        event_id: uuid::Uuid::new_v4().to_string().into(),
        author: account.clone(),
        context,
        text: text.into(),
        is_addressed: true,
        mentions: Vec::new(),
        author_roles: Vec::new(),
        inbox: None,
    })
}

/// Runs `text` as a command in `context` with what Teams can do (no ephemeral messages).
async fn command_in(
    core: &Core,
    account: &PlatformAccount,
    context: ConversationContext,
    text: &str,
) -> String {
    let (name, args) = CommandInvocation::parse_text(text).expect("a command");
    let event = InboundEvent::Command(CommandInvocation {
        event_id: uuid::Uuid::new_v4().to_string().into(),
        invoker: account.clone(),
        context,
        name,
        args,
        invoker_is_admin: false,
    });
    match core
        .handle_event(event, whisperengine_teams::CAPABILITIES)
        .await
    {
        HandlerOutcome::Reply(reply) => reply.text,
        other => panic!("no reply to {text}: {other:?}"),
    }
}

#[tokio::test]
async fn personal_answers_are_not_posted_to_a_group_chat() {
    for (db, settings) in common::test_setups().await {
        let core = common::core_for(settings).await;
        let ana = PlatformAccount::new(Platform::Teams, TENANT, "aad-ana");
        common::say(
            &core,
            common::message(&ana, "I keep my diary in the blue box"),
        )
        .await;
        for text in [
            "link start",
            "export",
            "memory",
            "whoami",
            "conflicts",
            "sync status",
            "prefs",
        ] {
            let answer = command_in(&core, &ana, group("19:group@thread.v2"), text).await;
            assert!(
                answer.contains("direct message"),
                "{}: `{text}` in a group chat: {answer}",
                db.name
            );
            assert!(!answer.contains("blue box"), "{}: {answer}", db.name);
            assert!(!answer.contains("/export/"), "{}: {answer}", db.name);
        }
        let codes = link_code::Entity::find()
            .count(&core.store.db)
            .await
            .unwrap();
        let exports = export_token::Entity::find()
            .count(&core.store.db)
            .await
            .unwrap();
        assert_eq!(
            (codes, exports),
            (0, 0),
            "{}: no code or link was issued",
            db.name
        );

        // In the person's DM the same commands answer.
        let dm = ConversationContext::direct("a:ana-personal");
        let answer = command_in(&core, &ana, dm.clone(), "link start").await;
        assert!(answer.contains("link code"), "{}: {answer}", db.name);
        let answer = command_in(&core, &ana, dm, "memory").await;
        assert!(answer.contains("blue box"), "{}: {answer}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_group_recalls_only_itself_and_public_content_and_dms_stay_in_dms() {
    for (db, settings) in common::test_setups().await {
        let mut core = common::core_for(settings).await;
        let recorder = Recorder::install(&mut core);
        let ana = PlatformAccount::new(Platform::Slack, TENANT, "U0ANA");
        let dm = ConversationContext::direct("D0ANA");
        common::say(&core, said(&ana, dm.clone(), "My bank PIN hint is pelican")).await;
        common::say(
            &core,
            said(&ana, group("G-book-club"), "My book club reads tolstoy"),
        )
        .await;
        common::say(
            &core,
            said(&ana, group("G-family"), "My family trip goes to lofoten"),
        )
        .await;
        common::say(
            &core,
            said(&ana, public("C-general"), "My team mascot is walrus"),
        )
        .await;

        // A question is not itself recalled later, so the four statements fill the recall.
        let question = "what about my bank pin hint, book club, family trip and team mascot?";
        let prompt_in = |context: ConversationContext| {
            let core = &core;
            let recorder = &recorder;
            let ana = &ana;
            async move {
                common::say(core, said(ana, context, question)).await;
                common::prompt_text(&recorder.take_last().expect("a prompt")).to_lowercase()
            }
        };
        let in_book_club = prompt_in(group("G-book-club")).await;
        assert!(
            in_book_club.contains("tolstoy"),
            "{}: the group's own content: {in_book_club}",
            db.name
        );
        assert!(
            in_book_club.contains("walrus"),
            "{}: public content of the workspace: {in_book_club}",
            db.name
        );
        assert!(
            !in_book_club.contains("pelican"),
            "{}: a DM in a group: {in_book_club}",
            db.name
        );
        assert!(
            !in_book_club.contains("lofoten"),
            "{}: another group's content: {in_book_club}",
            db.name
        );

        let in_public = prompt_in(public("C-random")).await;
        assert!(in_public.contains("walrus"), "{}: {in_public}", db.name);
        for private in ["pelican", "tolstoy", "lofoten"] {
            assert!(
                !in_public.contains(private),
                "{}: {private} in public: {in_public}",
                db.name
            );
        }

        let in_dm = prompt_in(dm).await;
        for everything in ["pelican", "tolstoy", "lofoten", "walrus"] {
            assert!(
                in_dm.contains(everything),
                "{}: {everything} in the DM: {in_dm}",
                db.name
            );
        }
        drop(core);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_mood_read_in_a_dm_does_not_colour_a_group_or_public_reply() {
    for (db, settings) in common::test_setups().await {
        let mut core = common::core_for(settings.clone()).await;
        let recorder = Recorder::install(&mut core);
        let ana = PlatformAccount::new(Platform::Slack, TENANT, "U0ANA");
        let dm = ConversationContext::direct("D0ANA");
        common::say(
            &core,
            said(
                &ana,
                dm.clone(),
                "I'm so sad and heartbroken, I can't stop crying",
            ),
        )
        .await;
        let in_dm = recorder.take_last().expect("a prompt");
        assert!(
            in_dm.mood.is_some(),
            "{}: the DM reply knows the mood",
            db.name
        );

        for context in [group("G-book-club"), public("C-general")] {
            common::say(
                &core,
                said(&ana, context.clone(), "what's on the agenda today?"),
            )
            .await;
            let prompt = recorder.take_last().expect("a prompt");
            assert!(
                prompt.mood.is_none(),
                "{}: a {} reply coloured by the DM's mood: {:?}",
                db.name,
                context.visibility,
                prompt.mood
            );
        }
        // After a restart the observations are read back from SQL with where they were seen.
        core.store.flush().await;
        drop(core);
        let mut core = common::core_for(settings).await;
        let recorder = Recorder::install(&mut core);
        common::say(&core, said(&ana, group("G-book-club"), "what's new?")).await;
        let prompt = recorder.take_last().expect("a prompt");
        assert!(
            prompt.mood.is_none(),
            "{}: after a restart: {:?}",
            db.name,
            prompt.mood
        );
        common::say(&core, said(&ana, dm, "what's new?")).await;
        let prompt = recorder.take_last().expect("a prompt");
        assert!(
            prompt.mood.is_some(),
            "{}: the DM still knows the mood after a restart",
            db.name
        );
        drop(core);
        db.cleanup().await;
    }
}
