//! Slack replies shown while they are written, end to end: the real host with slack-morphism
//! against the fake Slack Web API and a fake LLM streaming its answer. In a thread the reply is a
//! Slack stream (`chat.startStream`, several `chat.appendStream`, `chat.stopStream`) ending as
//! the stored reply; outside a DM the stream names its recipient; where Slack refuses to stream,
//! one message is posted and updated; with STREAM_REPLIES not naming Slack, one whole message.

use crate::common;
use crate::common::fake_llm::{self, StreamPace};
use crate::common::fake_slack::{FakeSlack, BOT_USER, TEAM};
use crate::slack::{callback, dm, post_event, start_host, ANA, DM_CHANNEL};

use serde_json::json;
use std::time::Duration;
use whisperengine::config::{FactExtraction, Settings};
use whisperengine_contract::Platform;

fn answer() -> String {
    let mut words: Vec<String> = (1..=60).map(|i| format!("word{i}")).collect();
    words.push("done.".into());
    words.join(" ")
}

/// Settings with a fake LLM that streams `answer()` over about 1.5 s.
async fn streaming(mut settings: Settings) -> (Settings, std::sync::Arc<fake_llm::FakeLlm>) {
    let (llm, fake) = fake_llm::start().await;
    fake.answer_chat_with(&answer());
    fake.stream_with(
        &answer(),
        StreamPace {
            first_token: Duration::from_millis(20),
            interval: Duration::from_millis(50),
            words_per_chunk: 2,
            cut_after: None,
        },
    );
    settings.llm_base_url = Some(llm);
    settings.fact_extraction = FactExtraction::Rules;
    (settings, fake)
}

async fn wait_for_final(fake: &FakeSlack, channel: &str, text: &str) {
    for _ in 0..200 {
        let messages = fake.bot_messages(channel);
        if messages
            .iter()
            .any(|message| message.text == text && !message.streaming)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no final message {text:?} in {channel}: {:?}",
        fake.bot_messages(channel)
    );
}

async fn stored_replies(core: &whisperengine::core::Core) -> usize {
    common::memory_contents(core)
        .await
        .iter()
        .filter(|content| **content == answer())
        .count()
}

#[tokio::test]
async fn a_reply_in_a_dm_thread_is_a_slack_stream_ending_as_the_stored_reply() {
    for (db, settings) in common::test_setups().await {
        let fake = FakeSlack::start().await;
        let (settings, llm) = streaming(settings).await;
        let (host, core) = start_host(&fake, settings).await;
        let event = dm("Ev0STREAM1", "1700000000.000100", ANA, "Tell me a story");
        assert_eq!(post_event(&host, &event).await, 200);
        wait_for_final(&fake, DM_CHANNEL, &answer()).await;
        let messages = fake.bot_messages(DM_CHANNEL);
        assert_eq!(messages.len(), 1, "{}: {messages:?}", db.name);
        assert!(messages[0].streamed);
        assert_eq!(messages[0].thread_ts.as_deref(), Some("1700000000.000100"));
        let started = fake.delivered("chat.startStream");
        assert_eq!(started.len(), 1, "{}", db.name);
        let first = started[0].params["markdown_text"].as_str().unwrap();
        assert!(answer().starts_with(first) && first.len() < answer().len());
        assert!(
            fake.delivered("chat.appendStream").len() >= 2,
            "{}: several chunks",
            db.name
        );
        assert_eq!(fake.delivered("chat.stopStream").len(), 1);
        assert!(fake.delivered("chat.postMessage").is_empty());
        assert!(
            fake.calls().iter().all(|call| call.ok),
            "{}: no refused call",
            db.name
        );
        assert_eq!(stored_replies(&core).await, 1, "{}", db.name);
        assert_eq!(
            llm.stream_requests
                .load(std::sync::atomic::Ordering::SeqCst),
            1
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_stream_in_a_channel_names_the_person_and_their_workspace() {
    let db = common::fresh_sqlite();
    let fake = FakeSlack::start().await;
    let (settings, _llm) = streaming(common::settings_for(&db, false)).await;
    let (host, _core) = start_host(&fake, settings).await;
    let mention = callback(
        "Ev0STREAM2",
        json!({"type": "app_mention", "user": ANA, "text": format!("<@{BOT_USER}> tell me a story"),
               "ts": "1700000001.000100", "team": TEAM,
               "channel": "C0GENERAL1", "event_ts": "1700000001.000100"}),
    );
    assert_eq!(post_event(&host, &mention).await, 200);
    wait_for_final(&fake, "C0GENERAL1", &answer()).await;
    let started = fake.delivered("chat.startStream");
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].params["recipient_user_id"], ANA);
    assert_eq!(started[0].params["recipient_team_id"], TEAM);
    assert_eq!(started[0].params["thread_ts"], "1700000001.000100");
}

#[tokio::test]
async fn where_slack_does_not_stream_one_message_is_posted_and_updated() {
    let db = common::fresh_sqlite();
    let fake = FakeSlack::start().await;
    fake.refuse_streams();
    let (settings, _llm) = streaming(common::settings_for(&db, false)).await;
    let (host, core) = start_host(&fake, settings).await;
    let event = dm("Ev0STREAM3", "1700000000.000200", ANA, "Tell me a story");
    assert_eq!(post_event(&host, &event).await, 200);
    wait_for_final(&fake, DM_CHANNEL, &answer()).await;
    let messages = fake.bot_messages(DM_CHANNEL);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(!messages[0].streamed);
    let posts = fake.delivered("chat.postMessage");
    assert_eq!(posts.len(), 1);
    let first = posts[0].params["text"].as_str().unwrap();
    assert!(answer().starts_with(first) && first.len() < answer().len());
    assert!(
        fake.delivered("chat.update").len() >= 2,
        "updated as it grew"
    );
    assert!(fake.delivered("chat.delete").is_empty());
    assert_eq!(stored_replies(&core).await, 1);
}

#[tokio::test]
async fn with_streaming_off_for_slack_the_reply_is_one_whole_message() {
    let db = common::fresh_sqlite();
    let fake = FakeSlack::start().await;
    let (mut settings, _llm) = streaming(common::settings_for(&db, false)).await;
    settings.stream_replies = vec![Platform::Discord];
    let (host, _core) = start_host(&fake, settings).await;
    let event = dm("Ev0STREAM4", "1700000000.000300", ANA, "Hello");
    assert_eq!(post_event(&host, &event).await, 200);
    let posts = fake.wait_for("chat.postMessage", 1).await;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].params["text"], answer().as_str());
    assert!(fake.delivered("chat.startStream").is_empty());
    assert!(fake.delivered("chat.update").is_empty());
}
