//! Discord replies shown while they are written, end to end: the real host with serenity against
//! the fake Discord enforcing its per-channel write bucket (5 writes per 5 s, `X-RateLimit-*`
//! headers, 429 past it) and a fake LLM streaming its answer: one message posted and edited as
//! the text grows, never refused, ending as the stored reply; a reply past 2,000 characters goes
//! on in a second message; with STREAM_REPLIES not naming Discord, one whole message.

use crate::common;
use crate::common::fake_discord::FakeDiscord;
use crate::common::fake_llm::StreamPace;
use crate::common::payloads::*;

use std::time::Duration;
use whisperengine::config::{FactExtraction, Settings};
use whisperengine_contract::Platform;

const TOKEN: &str = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.fake.bot-token";
const ANA: &str = "80351110224678912";
const DM_CHANNEL: &str = "1600000000000000001";

/// The host on `settings` talking to `fake` (REST, gateway and LLM), once the gateway is ready.
async fn start(fake: &FakeDiscord, mut settings: Settings) -> whisperengine::core::Core {
    settings.discord_token = Some(TOKEN.to_string().into());
    settings.discord_api_url = Some(fake.api_url().parse().unwrap());
    settings.llm_base_url = Some(fake.llm_url().parse().unwrap());
    settings.fact_extraction = FactExtraction::Rules;
    let (_base, core) = common::spawn_app(settings).await;
    fake.wait_until_ready().await;
    core
}

fn from_ana(id: &str, text: &str) -> serde_json::Value {
    dm_message(id, DM_CHANNEL, user(ANA, "ana", Some("Ana"), false), text)
}

fn words(count: usize) -> String {
    let mut text: Vec<String> = (1..=count).map(|i| format!("word{i}")).collect();
    text.push("done.".into());
    text.join(" ")
}

async fn stored_replies(core: &whisperengine::core::Core, answer: &str) -> usize {
    common::memory_contents(core)
        .await
        .iter()
        .filter(|content| content.as_str() == answer)
        .count()
}

#[tokio::test]
async fn a_reply_is_posted_then_edited_at_the_buckets_pace_and_ends_as_the_stored_reply() {
    for (db, settings) in common::test_setups().await {
        let fake = FakeDiscord::start(TOKEN).await;
        fake.enforce_write_limit();
        let answer = words(120);
        fake.set_llm_answer(&answer);
        // About 3.6 s of writing: more steps than the bucket's 5 writes per 5 s allow at once.
        fake.stream_llm_answers(StreamPace {
            first_token: Duration::from_millis(20),
            interval: Duration::from_millis(60),
            words_per_chunk: 2,
            cut_after: None,
        });
        let core = start(&fake, settings).await;
        fake.dispatch(
            "MESSAGE_CREATE",
            from_ana("1500000000000000090", "Tell me a story"),
        );
        fake.wait_until("the final reply in the preview", |fake| {
            fake.bot_messages_in(DM_CHANNEL) == vec![answer.clone()]
        })
        .await;
        let posts = fake.messages_to(DM_CHANNEL);
        assert_eq!(posts.len(), 1, "{}: one message, edited", db.name);
        let first = posts[0].body["content"].as_str().unwrap().to_string();
        assert!(
            answer.starts_with(&first) && first.len() < answer.len(),
            "{}: the first post shows the start: {first:?}",
            db.name
        );
        let edits = fake.edits_in(DM_CHANNEL);
        assert!(edits.len() >= 2, "{}: {} edits", db.name, edits.len());
        assert_eq!(fake.rate_limited(), 0, "{}: no write refused", db.name);
        assert_eq!(stored_replies(&core, &answer).await, 1, "{}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_streamed_reply_past_2000_characters_goes_on_in_a_second_message() {
    let db = common::fresh_sqlite();
    let fake = FakeDiscord::start(TOKEN).await;
    fake.enforce_write_limit();
    let answer = words(400);
    assert!(answer.chars().count() > 2000);
    fake.set_llm_answer(&answer);
    fake.stream_llm_answers(StreamPace {
        first_token: Duration::from_millis(20),
        interval: Duration::from_millis(40),
        words_per_chunk: 40,
        cut_after: None,
    });
    let core = start(&fake, common::settings_for(&db, false)).await;
    fake.dispatch(
        "MESSAGE_CREATE",
        from_ana("1500000000000000091", "A long one please"),
    );
    let rejoined = |parts: Vec<String>| {
        parts
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    fake.wait_until("two messages that make the reply", |fake| {
        rejoined(fake.bot_messages_in(DM_CHANNEL)) == answer
    })
    .await;
    let shown = fake.bot_messages_in(DM_CHANNEL);
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(shown.iter().all(|part| part.chars().count() <= 2000));
    assert_eq!(fake.rate_limited(), 0);
    assert_eq!(stored_replies(&core, &answer).await, 1);
}

#[tokio::test]
async fn with_streaming_off_for_discord_the_reply_is_one_whole_message() {
    let db = common::fresh_sqlite();
    let fake = FakeDiscord::start(TOKEN).await;
    let answer = words(30);
    fake.set_llm_answer(&answer);
    fake.stream_llm_answers(StreamPace::default());
    let mut settings = common::settings_for(&db, false);
    settings.stream_replies = vec![Platform::Slack, Platform::Desktop];
    let _core = start(&fake, settings).await;
    fake.dispatch("MESSAGE_CREATE", from_ana("1500000000000000092", "Hello"));
    let posts = fake.wait_for_messages(DM_CHANNEL, 1).await;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].body["content"], answer.as_str());
    assert!(fake.edits_in(DM_CHANNEL).is_empty());
}
