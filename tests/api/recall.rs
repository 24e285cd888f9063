//! Recall evaluation and the memory model, end to end through the core on real databases.
//!
//! One person links Slack, Discord, Teams and the local chat, tells the companion 50 facts spread
//! over those platforms (with small talk in between), and later asks about each fact on ANOTHER
//! platform. recall@5 is the share of questions whose answer is among the five memories the core
//! actually put in the prompt (captured from the responder). It is printed and must stay ≥ 0.9.
//!
//! Over 500 lines: one recall evaluation with its 50-fact fixture, which is most of the file.
#![allow(clippy::unwrap_used)]

use crate::common;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::sync::Arc;
use whisperengine::store::entities::fact;
use whisperengine_contract::{Platform, PlatformAccount};

/// (what the person says, what they ask later, a word the answer must contain).
const FACTS: [(&str, &str, &str); 50] = [
    ("My cat is called Miso.", "What is my cat called?", "Miso"),
    (
        "My dog's name is Bolt.",
        "Do you remember my dog's name?",
        "Bolt",
    ),
    (
        "I work as a marine engineer.",
        "What do I do for work?",
        "engineer",
    ),
    (
        "I live in Porto, near the river.",
        "Which city do I live in?",
        "Porto",
    ),
    (
        "My sister is called Joana.",
        "What's my sister called?",
        "Joana",
    ),
    (
        "My brother Tiago lives in Berlin.",
        "Where does my brother live?",
        "Berlin",
    ),
    (
        "I love sailing on weekends.",
        "What do I love doing on weekends?",
        "sailing",
    ),
    ("I hate olives.", "Which food do I hate?", "olives"),
    (
        "My birthday is on the 14th of March.",
        "When is my birthday?",
        "March",
    ),
    (
        "My favourite book is Dune.",
        "What's my favourite book?",
        "Dune",
    ),
    (
        "My timezone is Europe/Lisbon.",
        "What timezone am I in?",
        "Europe/Lisbon",
    ),
    (
        "I'm allergic to peanuts.",
        "What am I allergic to?",
        "peanuts",
    ),
    (
        "My goal is to run a marathon this year.",
        "What is my goal for this year?",
        "marathon",
    ),
    (
        "I drive an old blue Volvo.",
        "What car do I drive?",
        "Volvo",
    ),
    (
        "My favourite band is Radiohead.",
        "Which band is my favourite?",
        "Radiohead",
    ),
    (
        "My partner is called Sam.",
        "What's my partner's name?",
        "Sam",
    ),
    (
        "I studied physics at the University of Coimbra.",
        "Where did I study?",
        "Coimbra",
    ),
    (
        "My daughter Lia is five years old.",
        "How old is my daughter?",
        "five",
    ),
    (
        "I play the cello in a community orchestra.",
        "Which instrument do I play?",
        "cello",
    ),
    (
        "My favourite coffee is a flat white.",
        "How do I like my coffee?",
        "flat white",
    ),
    (
        "I'm learning Japanese on my phone.",
        "Which language am I learning?",
        "Japanese",
    ),
    (
        "My mom is a retired teacher.",
        "What did my mom do?",
        "teacher",
    ),
    (
        "I grew up in a small town called Tavira.",
        "Where did I grow up?",
        "Tavira",
    ),
    (
        "My best friend is called Rui.",
        "Who is my best friend?",
        "Rui",
    ),
    (
        "I support Benfica.",
        "Which football team do I support?",
        "Benfica",
    ),
    (
        "I'm vegetarian since 2019.",
        "What is my diet?",
        "vegetarian",
    ),
    (
        "My hamster is named Pipoca.",
        "What's my hamster called?",
        "Pipoca",
    ),
    (
        "I have a real fear of heights.",
        "What is my biggest fear?",
        "heights",
    ),
    (
        "I work the night shift on Tuesdays.",
        "Which shift do I work on Tuesdays?",
        "night",
    ),
    (
        "My favourite movie is Spirited Away.",
        "What's my favourite movie?",
        "Spirited Away",
    ),
    (
        "I go swimming every Thursday morning.",
        "What do I do on Thursday mornings?",
        "swimming",
    ),
    (
        "My grandmother makes the best pastel de nata.",
        "What does my grandmother make?",
        "pastel de nata",
    ),
    (
        "I'm saving up for a trip to Iceland.",
        "What trip am I saving up for?",
        "Iceland",
    ),
    (
        "My laptop is a ThinkPad X1.",
        "What laptop do I use?",
        "ThinkPad",
    ),
    (
        "I drink green tea every afternoon.",
        "What do I drink in the afternoon?",
        "green tea",
    ),
    (
        "My father was a fisherman.",
        "What was my father's job?",
        "fisherman",
    ),
    (
        "I collect vintage postcards.",
        "What do I collect?",
        "postcards",
    ),
    (
        "My favourite season is autumn.",
        "Which season is my favourite?",
        "autumn",
    ),
    (
        "I'm training for a triathlon in June.",
        "What am I training for?",
        "triathlon",
    ),
    (
        "My son is called Duarte.",
        "What is my son called?",
        "Duarte",
    ),
    (
        "I broke my arm skiing in 2018.",
        "How did I break my arm?",
        "skiing",
    ),
    (
        "My balcony is full of tomato plants.",
        "What grows on my balcony?",
        "tomato",
    ),
    (
        "I read mostly science fiction.",
        "What kind of books do I read?",
        "science fiction",
    ),
    (
        "My parrot Kiwi can say hello.",
        "What's my parrot's name?",
        "Kiwi",
    ),
    (
        "I wake up at six every day.",
        "What time do I wake up?",
        "six",
    ),
    (
        "My favourite colour is green.",
        "What's my favourite colour?",
        "green",
    ),
    (
        "I volunteer at an animal shelter on Saturdays.",
        "Where do I volunteer?",
        "shelter",
    ),
    (
        "My nephew Leo loves dinosaurs.",
        "What does my nephew love?",
        "dinosaurs",
    ),
    (
        "I'm scared of spiders.",
        "Which animal scares me?",
        "spiders",
    ),
    (
        "I speak Portuguese, English and French.",
        "Which languages do I speak?",
        "French",
    ),
];

/// Small talk between the facts, some of it sharing words with them.
const SMALL_TALK: [&str; 12] = [
    "haha that's funny",
    "the weather is nice today",
    "I had a long day at work",
    "ok",
    "thanks, that helps",
    "let's talk later",
    "my coffee went cold again",
    "I watched a movie yesterday",
    "the cat knocked over a glass",
    "good morning!",
    "what a week",
    "I'm going to bed soon",
];

fn accounts() -> [PlatformAccount; 4] {
    [
        PlatformAccount::new(Platform::Slack, "T1", "U1"),
        PlatformAccount::new(Platform::Discord, "", "4242"),
        PlatformAccount::new(Platform::Teams, "tenant", "aad-1"),
        PlatformAccount::new(Platform::Desktop, "", "ana"),
    ]
}

async fn linked_core(
    settings: whisperengine::config::Settings,
) -> (whisperengine::core::Core, Arc<common::Recorder>) {
    let mut core = common::core_for(settings).await;
    let recorder = common::Recorder::install(&mut core);
    let accounts = accounts();
    for account in &accounts {
        common::say(&core, common::message(account, "hello")).await;
    }
    for other in &accounts[1..] {
        common::link_by_admin(&core, &accounts[0], other).await;
    }
    (core, recorder)
}

#[tokio::test]
async fn recall_at_5_across_platforms_is_at_least_0_9() {
    for (db, settings) in common::test_setups().await {
        let (core, recorder) = linked_core(settings).await;
        let accounts = accounts();
        for (index, (statement, _, _)) in FACTS.iter().enumerate() {
            let account = &accounts[index % accounts.len()];
            common::say(&core, common::message(account, statement)).await;
            let chatter = SMALL_TALK[index % SMALL_TALK.len()];
            common::say(&core, common::message(account, chatter)).await;
        }
        let mut memory_hits = 0;
        let mut first_hits = 0;
        let mut fact_or_memory_hits = 0;
        let mut misses = Vec::new();
        for (index, (_, question, answer)) in FACTS.iter().enumerate() {
            // Asked on another platform than the one it was told on.
            let account = &accounts[(index + 1) % accounts.len()];
            common::say(&core, common::message(account, question)).await;
            let prompt = recorder.last();
            assert_eq!(prompt.user_text, *question);
            assert!(prompt.memories.len() <= 5, "top-k is 5");
            let answer = answer.to_lowercase();
            let in_memories = prompt
                .memories
                .iter()
                .any(|memory| memory.text.to_lowercase().contains(&answer));
            let in_facts = prompt
                .facts
                .iter()
                .take(5)
                .any(|fact| fact.value.to_lowercase().contains(&answer));
            if prompt
                .memories
                .first()
                .is_some_and(|memory| memory.text.to_lowercase().contains(&answer))
            {
                first_hits += 1;
            }
            if in_memories {
                memory_hits += 1;
            } else {
                misses.push(*question);
            }
            if in_memories || in_facts {
                fact_or_memory_hits += 1;
            }
        }
        let recall = memory_hits as f64 / FACTS.len() as f64;
        let with_facts = fact_or_memory_hits as f64 / FACTS.len() as f64;
        println!(
            "{}: recall@5 (memories) = {recall:.2} ({memory_hits}/{}); recall@1 = {:.2}; memories or top-5 facts = {with_facts:.2}; missed: {misses:?}",
            db.name,
            FACTS.len(),
            first_hits as f64 / FACTS.len() as f64
        );
        assert!(
            recall >= 0.9,
            "{}: recall@5 {recall:.2} < 0.9; missed {misses:?}",
            db.name
        );
        drop(core);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_corrected_fact_replaces_the_old_one_and_keeps_its_history() {
    for (db, settings) in common::test_setups().await {
        let (core, recorder) = linked_core(settings).await;
        let [slack, discord, teams, _] = accounts();
        common::say(&core, common::message(&slack, "I live in Porto")).await;
        common::say(
            &core,
            common::message(&discord, "I moved to Lisbon last month!"),
        )
        .await;
        common::say(&core, common::message(&discord, "I moved to Lisbon")).await;

        let rows = fact::Entity::find()
            .filter(fact::Column::Attribute.eq("location"))
            .order_by_asc(fact::Column::Id)
            .all(&core.store.db)
            .await
            .unwrap();
        assert_eq!(
            rows.len(),
            2,
            "{}: one row per distinct value: {rows:?}",
            db.name
        );
        assert_eq!(rows[0].value, "Porto");
        assert_eq!(rows[0].superseded_by, Some(rows[1].id), "{}", db.name);
        assert!(rows[0].superseded_at.is_some());
        assert_eq!(rows[1].value, "Lisbon");
        assert_eq!(rows[1].superseded_at, None);
        assert_eq!(rows[1].platform, "discord");
        let clashes = whisperengine::store::entities::sync_conflict::Entity::find()
            .filter(whisperengine::store::entities::sync_conflict::Column::Kind.eq("fact"))
            .all(&core.store.db)
            .await
            .unwrap();
        assert_eq!(
            clashes.len(),
            1,
            "{}: a cross-platform contradiction is recorded",
            db.name
        );
        assert_eq!(clashes[0].key, "user.location");
        assert_eq!(
            (
                clashes[0].kept_value.as_str(),
                clashes[0].other_value.as_str()
            ),
            ("Lisbon", "Porto")
        );
        assert_eq!(clashes[0].status, "resolved");

        let reply = common::say(&core, common::message(&teams, "Where do I live now?")).await;
        let prompt = recorder.last();
        assert_eq!(
            prompt.facts[0].value, "Lisbon",
            "{}: {:?}",
            db.name, prompt.facts
        );
        assert!(
            !prompt.facts.iter().any(|fact| fact.value == "Porto"),
            "{}: the superseded fact is history, not current",
            db.name
        );
        assert!(reply.contains("Lisbon"), "{}: {reply}", db.name);
        assert!(!reply.contains("Porto"), "{}: {reply}", db.name);
        drop(core);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn facts_and_strong_requests_are_important_and_small_talk_is_not() {
    for (db, settings) in common::test_setups().await {
        let core = common::core_for(settings).await;
        let me = PlatformAccount::new(Platform::Desktop, "", "imp");
        for text in [
            "ok",
            "I'm vegan",
            "Remember that my exam is on Friday, it's really important",
        ] {
            common::say(&core, common::message(&me, text)).await;
        }
        core.store.flush().await;
        let rows = whisperengine::store::entities::memory::Entity::find()
            .filter(whisperengine::store::entities::memory::Column::Role.eq("user"))
            .order_by_asc(whisperengine::store::entities::memory::Column::Id)
            .all(&core.store.db)
            .await
            .unwrap();
        let importance: Vec<f64> = rows.iter().map(|row| row.importance).collect();
        assert_eq!(importance.len(), 3, "{}", db.name);
        assert!(
            importance[0] < 0.3,
            "{}: small talk {importance:?}",
            db.name
        );
        assert!(importance[1] >= 0.7, "{}: a fact {importance:?}", db.name);
        assert!(
            importance[2] >= 0.8,
            "{}: remember that {importance:?}",
            db.name
        );
        drop(core);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn forget_all_forgets_facts_too() {
    for (db, settings) in common::test_setups().await {
        let (core, recorder) = linked_core(settings).await;
        let [slack, discord, ..] = accounts();
        common::say(&core, common::message(&slack, "My cat is called Miso")).await;
        let asked = common::say(&core, common::command(&discord, "forget all", false)).await;
        assert!(asked.contains("forget all confirm"), "{}: {asked}", db.name);
        let reply = common::say(
            &core,
            common::command(&discord, "forget all confirm", false),
        )
        .await;
        assert!(reply.starts_with("Done"), "{}: {reply}", db.name);
        let left = fact::Entity::find().all(&core.store.db).await.unwrap();
        assert!(left.is_empty(), "{}: {left:?}", db.name);
        common::say(&core, common::message(&discord, "What's my cat called?")).await;
        let prompt = recorder.last();
        assert!(
            prompt.facts.is_empty() && prompt.memories.is_empty(),
            "{}",
            db.name
        );
        drop(core);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn forgetting_a_memory_forgets_the_facts_it_stated() {
    for (db, settings) in common::test_setups().await {
        let (core, recorder) = linked_core(settings).await;
        let [slack, discord, ..] = accounts();
        common::say(&core, common::message(&slack, "My cat is called Miso")).await;
        common::say(&core, common::message(&slack, "I live in Porto")).await;
        core.store.flush().await;
        let stated = whisperengine::store::entities::memory::Entity::find()
            .filter(
                whisperengine::store::entities::memory::Column::Content.eq("My cat is called Miso"),
            )
            .one(&core.store.db)
            .await
            .unwrap()
            .unwrap();
        let reply = common::say(
            &core,
            common::command(&discord, &format!("forget {}", stated.id), false),
        )
        .await;
        assert!(reply.starts_with("Done"), "{}: {reply}", db.name);
        let left: Vec<String> = fact::Entity::find()
            .all(&core.store.db)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.value)
            .collect();
        assert_eq!(left, vec!["Porto".to_string()], "{}", db.name);
        common::say(&core, common::message(&discord, "What's my cat called?")).await;
        let prompt = recorder.last();
        assert!(
            !prompt.facts.iter().any(|f| f.value == "Miso")
                && !prompt.memories.iter().any(|m| m.text.contains("Miso")),
            "{}: {:?} {:?}",
            db.name,
            prompt.facts,
            prompt.memories
        );
        drop(core);
        db.cleanup().await;
    }
}
