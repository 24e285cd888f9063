//! Emotion end to end: the state carries across linked platforms, the prompt carries it with its
//! trajectory, and the offline responder answers a sad person and a happy person differently.
#![allow(clippy::unwrap_used)]

use crate::common;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use whisperengine::llm::Trajectory;
use whisperengine::store::entities::emotion_observation;
use whisperengine_contract::{Platform, PlatformAccount};

#[tokio::test]
async fn the_offline_responder_meets_a_sad_and_a_happy_person_differently() {
    for (db, settings) in common::test_setups().await {
        let core = common::core_for(settings).await;
        let sad = PlatformAccount::new(Platform::Discord, "", "sad-1");
        let happy = PlatformAccount::new(Platform::Discord, "", "happy-1");
        let sad_reply = common::say(
            &core,
            common::message(
                &sad,
                "I'm so sad today, everything feels awful and I keep crying",
            ),
        )
        .await;
        let happy_reply = common::say(
            &core,
            common::message(
                &happy,
                "I'm so happy today, everything feels wonderful and amazing!",
            ),
        )
        .await;
        let empathy = &core.personality.communication.empathy;
        let uses = |reply: &str, lines: &[String]| {
            lines
                .iter()
                .any(|line| reply.contains(line.split("{user}").next().unwrap_or(line).trim()))
        };
        assert_ne!(sad_reply, happy_reply, "{}", db.name);
        assert!(uses(&sad_reply, &empathy.sad), "{}: {sad_reply}", db.name);
        assert!(
            !uses(&sad_reply, &empathy.happy),
            "{}: {sad_reply}",
            db.name
        );
        assert!(
            uses(&happy_reply, &empathy.happy),
            "{}: {happy_reply}",
            db.name
        );
        drop(core);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_prompt_carries_the_shared_state_and_its_trajectory_across_platforms() {
    for (db, settings) in common::test_setups().await {
        let mut core = common::core_for(settings).await;
        let recorder = common::Recorder::install(&mut core);
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U9");
        let teams = PlatformAccount::new(Platform::Teams, "tenant", "aad-9");
        common::say(&core, common::message(&slack, "hi")).await;
        common::say(&core, common::message(&teams, "hi")).await;
        common::link_by_admin(&core, &slack, &teams).await;
        for text in [
            "I'm so sad and miserable",
            "still really sad, I cried all night",
            "feeling down and lonely",
            "actually today was good",
            "I'm really happy now!",
            "this is wonderful, I'm so glad",
        ] {
            common::say(&core, common::message(&slack, text)).await;
        }
        common::say(
            &core,
            common::message(&teams, "what should I cook tonight?"),
        )
        .await;
        let prompt = recorder.last();
        let mood = prompt.mood.clone().expect("the shared mood reaches Teams");
        assert_eq!(mood.label, "joy", "{}: {mood:?}", db.name);
        assert_eq!(mood.trajectory, Some(Trajectory::Improving), "{}", db.name);
        let system = &prompt.to_chat_messages()[0].content;
        assert!(system.contains("joy"), "{}: {system}", db.name);
        assert!(system.contains("improving"), "{}: {system}", db.name);

        // Every observation keeps its origin account.
        core.store.flush().await;
        let observations = emotion_observation::Entity::find()
            .filter(emotion_observation::Column::Emotion.ne("neutral"))
            .all(&core.store.db)
            .await
            .unwrap();
        assert!(observations.len() >= 6, "{}", db.name);
        drop(core);
        db.cleanup().await;
    }
}
