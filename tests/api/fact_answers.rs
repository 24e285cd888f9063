//! Facts that keep who is who, end to end through the core with the offline responder, on SQLite
//! and (when configured) PostgreSQL + Redis: a person tells the companion about themselves and
//! their family on Slack, then asks on Discord. The answer comes from the fact whose subject and
//! attribute the question names (the sister's city is not the person's, "born in" is not "lives
//! in", a value said to hold no more never wins), says where it was told, and is "I don't know
//! yet" when nothing answers, rather than another fact.

use crate::common;
use whisperengine_contract::{Platform, PlatformAccount};

/// (question asked on Discord, words the reply must hold, words it must not hold).
const ASKED: [(&str, &[&str], &[&str]); 7] = [
    (
        "where does my sister live?",
        &["Tromsø", "on Slack"],
        &["Lisbon"],
    ),
    ("which city was I born in?", &["Gdańsk"], &["Lisbon"]),
    (
        "what instrument does my daughter play?",
        &["cello"],
        &["Radiohead"],
    ),
    ("what's my favourite drink?", &["matcha"], &["espresso"]),
    ("where do I live?", &["Lisbon"], &["Tromsø", "Gdańsk"]),
    ("what's my sister called?", &["Ingrid"], &["Mireille"]),
    (
        "where does my brother live?",
        &["don't know"],
        &["Lisbon", "Tromsø", "Gdańsk"],
    ),
];

#[tokio::test]
async fn the_offline_responder_answers_from_the_fact_the_question_is_about() {
    for (_db, settings) in common::test_setups().await {
        let core = common::core_for(settings).await;
        let (slack, discord) = common::linked_slack_and_discord(&core).await;
        for told in [
            "I live in Lisbon, near the castle.",
            "My sister Ingrid lives in Tromsø",
            "I was born in 1987 in Gdańsk",
            "My favourite band is Radiohead.",
            "My daughter Mireille plays the cello",
            "My favourite drink is espresso.",
            "These days my favourite drink is matcha, not espresso any more",
        ] {
            common::say(&core, common::message(&slack, told)).await;
        }
        for (question, must, must_not) in ASKED {
            let reply = common::say(&core, common::message(&discord, question)).await;
            for word in must {
                assert!(reply.contains(word), "{question} → {reply:?}: no {word}");
            }
            for word in must_not {
                assert!(!reply.contains(word), "{question} → {reply:?}: says {word}");
            }
        }
    }
}

#[tokio::test]
async fn a_statement_that_ends_with_a_question_is_recalled() {
    for (_db, settings) in common::test_setups().await {
        let mut core = common::core_for(settings).await;
        let recorder = common::Recorder::install(&mut core);
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        common::say(
            &core,
            common::message(
                &slack,
                "I made a lopsided bowl in pottery class yesterday… have you ever tried it?",
            ),
        )
        .await;
        common::say(
            &core,
            common::message(&slack, "what's the capital of Peru?"),
        )
        .await;
        let reply = common::say(
            &core,
            common::message(&slack, "what did I make in pottery class?"),
        )
        .await;
        let prompt = recorder.last();
        let recalled: Vec<&str> = prompt
            .memories
            .iter()
            .map(|memory| memory.text.as_str())
            .collect();
        assert!(
            recalled.iter().any(|text| text.contains("lopsided bowl")),
            "{recalled:?}"
        );
        assert!(
            !recalled.iter().any(|text| text.contains("capital of Peru")),
            "a pure question is never recalled: {recalled:?}"
        );
        assert!(reply.contains("lopsided bowl"), "{reply}");
        assert!(!reply.contains("have you ever tried"), "{reply}");
    }
}

#[tokio::test]
async fn a_when_question_gets_the_day_it_was_said_and_the_day_yesterday_meant_in_the_persons_zone()
{
    for (_db, settings) in common::test_setups().await {
        let core = common::core_for(settings.clone()).await;
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        common::say(&core, common::message(&slack, "hello")).await;
        let set = common::say(
            &core,
            common::command(&slack, "prefs set timezone Asia/Tokyo", false),
        )
        .await;
        assert!(set.contains("Asia/Tokyo"), "{set}");
        common::say(
            &core,
            common::message(&slack, "We adopted a kitten called Pixel yesterday!"),
        )
        .await;
        let identity = whisperengine::store::accounts::find_account(&core.store.db, &slack)
            .await
            .unwrap()
            .unwrap()
            .identity_id;
        common::age_person(&core, identity, chrono::TimeDelta::days(40)).await;

        // A fresh process reads the aged rows.
        let mut later = common::core_for(settings).await;
        let recorder = common::Recorder::install(&mut later);
        let reply = common::say(&later, common::message(&slack, "When did we adopt Pixel?")).await;
        let prompt = recorder.last();
        let told = prompt
            .memories
            .iter()
            .find(|memory| memory.text.contains("Pixel"))
            .expect("the adoption is recalled");
        // Tokyo is UTC+9 all year.
        let said_on = (told.at + chrono::TimeDelta::hours(9)).date_naive();
        let said = said_on.format("%a %-d %B %Y").to_string();
        let meant = (said_on - chrono::TimeDelta::days(1))
            .format("%a %-d %B %Y")
            .to_string();
        assert!(
            reply.contains(&format!("On {said}")) && reply.contains(&format!("({meant})")),
            "{reply}"
        );
        let system = common::prompt_text(&prompt);
        assert!(
            system.contains(&format!("[\"yesterday\" = {meant}]")),
            "{system}"
        );
    }
}

/// The memories a prompt recalls hold the evidence when the question shares no word with it: the
/// memory that says what a known fact answers ("what's my profession?" ← "I work as a dental
/// hygienist …"), and, through a name that opens a sentence, the second memory of a two-step
/// question ("what frightens my dog?" ← "Clementine joined the family …, a little dog" and
/// "Clementine is terrified of thunderstorms").
#[tokio::test]
async fn the_recalled_memories_hold_the_evidence_a_fact_or_a_name_points_to() {
    for (db, settings) in common::test_setups().await {
        let mut core = common::core_for(settings).await;
        let recorder = common::Recorder::install(&mut core);
        let (slack, discord) = common::linked_slack_and_discord(&core).await;
        for told in [
            "I work as a dental hygienist at a family-run practice, most days I love it",
            "Clementine joined the family earlier this month, a little tabby dog from the shelter",
            "We went to the beach and the weather was lovely",
            "Clementine is terrified of thunderstorms",
            "The dog next door barks all night",
        ] {
            common::say(&core, common::message(&slack, told)).await;
        }
        let recalled = |prompt: whisperengine::llm::Prompt| -> Vec<String> {
            prompt
                .memories
                .into_iter()
                .map(|memory| memory.text)
                .collect()
        };
        common::say(&core, common::message(&discord, "What's my profession?")).await;
        let memories = recalled(recorder.last());
        assert!(
            memories
                .first()
                .is_some_and(|first| first.contains("dental hygienist")),
            "{}: {memories:?}",
            db.name
        );
        common::say(&core, common::message(&discord, "What frightens my dog?")).await;
        let memories = recalled(recorder.last());
        assert!(
            memories
                .iter()
                .any(|text| text.contains("joined the family"))
                && memories.iter().any(|text| text.contains("thunderstorms")),
            "{}: both steps: {memories:?}",
            db.name
        );
        db.cleanup().await;
    }
}
