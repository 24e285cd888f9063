//! Privacy by construction, checked on the prompt the core actually builds.
//!
//! Property: for random conversations across people, platforms, link states and contexts (DM,
//! private channel, public channels in two workspaces), no prompt ever contains
//! - content of another identity, or
//! - in a public channel, anything said in a DM or private channel, or in another platform's or
//!   workspace's public channels.
//!
//! Every message carries a unique marker word that encodes where it was said; each prompt (system
//! message with memories, facts and mood, plus history) is searched for every marker sent so far.
//! Also: a person's `privacy set <category> off` takes effect on the next message and is reversible.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::place::Place;
use common::prompt_text;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use whisperengine::core::Core;
use whisperengine::llm::Prompt;
use whisperengine_contract::{InboundEvent, InboundMessage, Platform, PlatformAccount};

const PLATFORMS: [Platform; 4] = [
    Platform::Slack,
    Platform::Discord,
    Platform::Teams,
    Platform::Desktop,
];
const PEOPLE: usize = 3;
const TOPICS: [&str; 4] = ["cat", "dog", "sister", "job"];

#[derive(Debug, Clone)]
struct Step {
    person: usize,
    platform: usize,
    place: Place,
    topic: usize,
    /// A question (recalls) rather than a statement (stores).
    is_question: bool,
}

#[derive(Debug, Clone)]
struct Conversation {
    /// linked[person][platform]: whether that account is linked to the person's Slack account.
    linked: Vec<Vec<bool>>,
    steps: Vec<Step>,
}

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        Just(Place::Dm),
        Just(Place::Private),
        Just(Place::Public(0)),
        Just(Place::Public(1)),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (
        0..PEOPLE,
        0..PLATFORMS.len(),
        place(),
        0..TOPICS.len(),
        any::<bool>(),
    )
        .prop_map(|(person, platform, place, topic, is_question)| Step {
            person,
            platform,
            place,
            topic,
            is_question,
        })
}

fn conversation() -> impl Strategy<Value = Conversation> {
    (
        proptest::collection::vec(
            proptest::collection::vec(any::<bool>(), PLATFORMS.len()),
            PEOPLE,
        ),
        proptest::collection::vec(step(), 4..14),
    )
        .prop_map(|(linked, steps)| Conversation { linked, steps })
}

/// Where a marker was said, to decide where it may appear.
#[derive(Debug, Clone)]
struct Origin {
    identity_key: (usize, usize),
    platform: usize,
    place: Place,
}

fn account(run: usize, person: usize, platform: usize) -> PlatformAccount {
    PlatformAccount::new(PLATFORMS[platform], "", format!("r{run}p{person}"))
}

/// Which identity an account ends up in: the person's Slack identity when linked, else its own.
fn identity_key(conversation: &Conversation, person: usize, platform: usize) -> (usize, usize) {
    if platform == 0 || conversation.linked[person][platform] {
        (person, 0)
    } else {
        (person, platform)
    }
}

/// Whether a marker from `origin` may appear in a prompt for (`identity`, `platform`, `place`).
fn may_appear(origin: &Origin, identity: (usize, usize), platform: usize, place: Place) -> bool {
    if origin.identity_key != identity {
        return false;
    }
    let is_same_platform = origin.platform == platform;
    match place {
        // A DM sees everything sharing allows.
        Place::Dm => true,
        // The private channel (in workspace 0) sees itself and workspace 0's public content.
        Place::Private => {
            is_same_platform && matches!(origin.place, Place::Private | Place::Public(0))
        }
        Place::Public(workspace) => is_same_platform && origin.place == Place::Public(workspace),
    }
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

async fn check(
    core: &Core,
    recorder: &common::Recorder,
    conversation: &Conversation,
) -> Result<(), TestCaseError> {
    let run = RUNS.fetch_add(1, Ordering::SeqCst);
    for person in 0..PEOPLE {
        for platform in 0..PLATFORMS.len() {
            common::say(
                core,
                common::message(&account(run, person, platform), "hello"),
            )
            .await;
        }
        for platform in 1..PLATFORMS.len() {
            if conversation.linked[person][platform] {
                let command = format!(
                    "admin link {} {}",
                    account(run, person, 0),
                    account(run, person, platform)
                );
                let reply = common::say(
                    core,
                    common::command(&account(run, person, 0), &command, true),
                )
                .await;
                prop_assert!(reply.to_lowercase().contains("linked"), "{}", reply);
            }
        }
    }
    recorder.prompts.lock().unwrap().clear();
    let mut markers: HashMap<String, Origin> = HashMap::new();
    for (index, step) in conversation.steps.iter().enumerate() {
        let marker = format!("mk{run}x{index}q");
        let topic = TOPICS[step.topic];
        let text = if step.is_question {
            format!("what is my {topic} called? {}", TOPICS.join(" "))
        } else {
            format!("my {topic} is {marker}")
        };
        let author = account(run, step.person, step.platform);
        let event = InboundEvent::Message(InboundMessage {
            event_id: format!("r{run}e{index}").into(),
            author: author.clone(),
            context: step.place.context(&format!("c{index}")),
            text,
            is_addressed: true,
            mentions: Vec::new(),
            author_roles: Vec::new(),
            inbox: None,
        });
        common::say(core, event).await;
        let prompt = recorder
            .take_last()
            .ok_or_else(|| TestCaseError::fail("no prompt was built"))?;
        let rendered = prompt_text(&prompt).to_lowercase();
        let identity = identity_key(conversation, step.person, step.platform);
        for (other, origin) in &markers {
            if rendered.contains(other.as_str()) {
                prop_assert!(
                    may_appear(origin, identity, step.platform, step.place),
                    "step {index} ({step:?}) prompt shows {other} from {origin:?}:\n{rendered}"
                );
            }
        }
        if !step.is_question {
            markers.insert(
                marker,
                Origin {
                    identity_key: identity,
                    platform: step.platform,
                    place: step.place,
                },
            );
        }
    }
    Ok(())
}

#[test]
fn no_prompt_shows_private_content_in_public_or_another_identitys_content() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let setups = runtime.block_on(common::test_setups());
    for (db, settings) in setups {
        let (core, recorder) = runtime.block_on(async {
            let mut core = common::core_for(settings).await;
            let recorder = common::Recorder::install(&mut core);
            (core, recorder)
        });
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&conversation(), |conversation| {
            runtime.block_on(check(&core, &recorder, &conversation))
        });
        if let Err(error) = result {
            panic!("{}: {error}", db.name);
        }
        drop(core);
        runtime.block_on(db.cleanup());
    }
}

#[tokio::test]
async fn a_privacy_switch_applies_on_the_next_message_and_is_reversible() {
    for (db, settings) in common::test_setups().await {
        let mut core = common::core_for(settings).await;
        let recorder = common::Recorder::install(&mut core);
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        let discord = PlatformAccount::new(Platform::Discord, "", "77");
        common::say(&core, common::message(&slack, "hi")).await;
        common::say(&core, common::message(&discord, "hi")).await;
        common::link_by_admin(&core, &slack, &discord).await;
        common::say(&core, common::command(&slack, "prefs set name Ana", false)).await;
        common::say(&core, common::message(&slack, "My cat is called Miso")).await;
        common::say(
            &core,
            common::message(
                &slack,
                "I'm so sad and heartbroken today, I can't stop crying",
            ),
        )
        .await;

        // Slack content reaches a Discord prompt only as recalled memories, facts or history turns
        // marked as from another platform (the companion's own Discord replies are Discord's).
        let shows_slack = |prompt: &Prompt| {
            prompt.memories.iter().any(|m| m.is_other_platform)
                || prompt.facts.iter().any(|f| f.is_other_platform)
                || prompt.history.iter().any(|t| t.is_other_platform)
        };
        common::say(&core, common::message(&discord, "what's my cat called?")).await;
        let prompt = recorder.take_last().unwrap();
        assert!(shows_slack(&prompt), "{}: shared by default", db.name);
        assert!(
            prompt_text(&prompt).to_lowercase().contains("miso"),
            "{}",
            db.name
        );
        assert_eq!(
            prompt.mood.as_ref().map(|m| m.label.as_str()),
            Some("sadness"),
            "{}",
            db.name
        );

        assert_eq!(
            prompt.user_name, "Ana",
            "{}: the name set on Slack",
            db.name
        );

        for (category, key) in [
            ("conversation_history", "history"),
            ("emotional_state", "mood"),
            ("ui_preferences", "name"),
        ] {
            let reply = common::say(
                &core,
                common::command(&discord, &format!("privacy set {category} off"), false),
            )
            .await;
            assert!(!reply.is_empty(), "{}", db.name);
            common::say(&core, common::message(&discord, "what's my cat called?")).await;
            let prompt = recorder.take_last().unwrap();
            match key {
                "history" => {
                    assert!(
                        !shows_slack(&prompt),
                        "{}: off at once: {}",
                        db.name,
                        prompt_text(&prompt).to_lowercase()
                    );
                    assert!(prompt.history.iter().all(|turn| !turn.is_other_platform));
                }
                "mood" => assert_eq!(prompt.mood, None, "{}: only this message's mood", db.name),
                _ => assert_ne!(
                    prompt.user_name, "Ana",
                    "{}: Slack's name stays on Slack",
                    db.name
                ),
            }
            common::say(
                &core,
                common::command(&discord, &format!("privacy set {category} on"), false),
            )
            .await;
            common::say(&core, common::message(&discord, "what's my cat called?")).await;
            let prompt = recorder.take_last().unwrap();
            match key {
                "history" => assert!(shows_slack(&prompt), "{}: back on", db.name),
                _ => assert!(
                    prompt.mood.is_some(),
                    "{}: the shared mood is back",
                    db.name
                ),
            }
        }
        drop(core);
        db.cleanup().await;
    }
}
