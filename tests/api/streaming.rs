//! Replies shown while they are written: the OpenAI-compatible client against a fake that streams
//! server-sent events on 127.0.0.1 (chunks in order, a cut mid-reply, a first token too late), and
//! the local chat API end to end on the real host (deltas, then the final reply, stored once).

use crate::common;
use crate::common::fake_llm::{self, StreamPace};

use secrecy::SecretString;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use whisperengine::config::{DeploymentMode, FactExtraction};
use whisperengine::core::turn::pipeline::CUT_OFF_NOTE;
use whisperengine::llm::{ChatMessage, LlmError, OpenAiClient};
use whisperengine_contract::{reply_stream, ReplyStream};

const REPLY: &str = "Miso sounds like a clever little escape artist, doors stand no chance now.";

fn client(base: url::Url, timeout: Duration, max_retries: u32) -> OpenAiClient {
    OpenAiClient::new(
        base,
        Some(SecretString::from("sk-test".to_string())),
        "fake".into(),
        timeout,
        max_retries,
        200,
        0.5,
    )
    .unwrap()
}

/// Every distinct text the stream showed, in order, until it ended.
async fn collect(mut stream: ReplyStream) -> Vec<String> {
    let mut seen = Vec::new();
    while let Some(text) = stream.next().await {
        seen.push(text);
    }
    seen
}

#[tokio::test]
async fn the_client_pushes_the_reply_as_it_arrives_and_returns_it_whole() {
    let (base, fake) = fake_llm::start().await;
    fake.stream_with(REPLY, StreamPace::default());
    let client = client(base, Duration::from_secs(5), 0);
    let (sink, stream) = reply_stream();
    let reading = tokio::spawn(collect(stream));
    let reply = client
        .chat_streaming(
            vec![ChatMessage::user("my cat opens doors")],
            100,
            0.5,
            sink.as_ref(),
        )
        .await
        .unwrap();
    drop(sink);
    let seen = reading.await.unwrap();
    assert_eq!(reply, REPLY);
    assert!(seen.len() >= 3, "the reply came in several steps: {seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some(REPLY));
    for pair in seen.windows(2) {
        assert!(pair[1].starts_with(&pair[0]), "text only grows: {pair:?}");
    }
    assert_eq!(fake.stream_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_stream_cut_after_text_is_an_interruption_with_the_text_so_far() {
    let (base, fake) = fake_llm::start().await;
    fake.stream_with(
        REPLY,
        StreamPace {
            cut_after: Some(3),
            ..StreamPace::default()
        },
    );
    let client = client(base, Duration::from_secs(5), 2);
    let (sink, _stream) = reply_stream();
    let error = client
        .chat_streaming(vec![ChatMessage::user("hi")], 100, 0.5, sink.as_ref())
        .await
        .unwrap_err();
    match error {
        LlmError::Interrupted { partial, .. } => {
            assert!(REPLY.starts_with(&partial), "{partial:?}");
            assert!(!partial.is_empty() && partial.len() < REPLY.len());
        }
        other => panic!("expected an interruption, got {other:?}"),
    }
    // Not retried: the person has already seen the start.
    assert_eq!(fake.stream_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_first_token_later_than_the_timeout_is_retried_then_a_timeout() {
    let (base, fake) = fake_llm::start().await;
    fake.stream_with(
        REPLY,
        StreamPace {
            first_token: Duration::from_secs(3),
            ..StreamPace::default()
        },
    );
    let client = client(base, Duration::from_millis(300), 1);
    let (sink, stream) = reply_stream();
    let error = client
        .chat_streaming(vec![ChatMessage::user("hi")], 100, 0.5, sink.as_ref())
        .await
        .unwrap_err();
    assert_eq!(error, LlmError::Timeout);
    assert_eq!(fake.stream_requests.load(Ordering::SeqCst), 2);
    assert_eq!(stream.current(), "", "nothing was shown");
}

struct StreamingHost {
    base: String,
    core: whisperengine::core::Core,
    fake: Arc<fake_llm::FakeLlm>,
    client: reqwest::Client,
    _db: common::TestDb,
}

async fn streaming_host(stream_replies: bool) -> StreamingHost {
    let (llm, fake) = fake_llm::start().await;
    fake.answer_chat_with(REPLY);
    fake.stream_with(REPLY, StreamPace::default());
    let db = common::fresh_sqlite();
    let mut settings = common::settings_for(&db, false);
    settings.deployment_mode = DeploymentMode::Desktop;
    settings.local_api_token = None;
    settings.llm_base_url = Some(llm);
    settings.fact_extraction = FactExtraction::Rules;
    if !stream_replies {
        settings.stream_replies.clear();
    }
    let (base, core) = common::spawn_app(settings).await;
    StreamingHost {
        base,
        core,
        fake,
        client: reqwest::Client::new(),
        _db: db,
    }
}

/// One server-sent event: its name and data.
#[derive(Debug)]
struct Sse {
    event: String,
    data: serde_json::Value,
}

fn parse_events(body: &str) -> Vec<Sse> {
    body.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let mut event = String::from("message");
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_string();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                }
            }
            Sse {
                event,
                data: serde_json::from_str(&data).unwrap(),
            }
        })
        .collect()
}

impl StreamingHost {
    async fn post(&self, text: &str, event_id: &str, stream: bool) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/api/chat", self.base))
            .json(&serde_json::json!({"text": text, "user": "ana", "event_id": event_id}));
        if stream {
            request = request.header("accept", "text/event-stream");
        }
        request.send().await.unwrap()
    }

    async fn companion_rows(&self) -> Vec<String> {
        let contents = common::memory_contents(&self.core).await;
        contents
            .into_iter()
            .filter(|content| content.starts_with("Miso") || content.contains(CUT_OFF_NOTE))
            .collect()
    }
}

#[tokio::test]
async fn the_local_api_streams_deltas_then_the_final_reply_stored_once() {
    let host = streaming_host(true).await;
    let response = host
        .post("My cat Miso just learned to open doors", "e-1", true)
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = parse_events(&response.text().await.unwrap());
    let deltas: Vec<&str> = events
        .iter()
        .filter(|event| event.event == "delta")
        .map(|event| event.data["text"].as_str().unwrap())
        .collect();
    assert!(deltas.len() >= 2, "several chunks: {events:?}");
    assert_eq!(deltas.concat().trim_end(), REPLY);
    let last = events.last().unwrap();
    assert_eq!(last.event, "reply");
    assert_eq!(last.data["reply"], REPLY);
    assert_eq!(host.companion_rows().await, vec![REPLY.to_string()]);

    // The same event again (its answer lost, say): answered as a duplicate with the reply stored
    // with the turn, nothing streamed or stored twice.
    let again = host
        .post("My cat Miso just learned to open doors", "e-1", true)
        .await;
    assert_eq!(again.status(), 200);
    let body: serde_json::Value = again.json().await.unwrap();
    assert_eq!(body["duplicate"], true);
    assert_eq!(body["reply"], REPLY);
    assert_eq!(host.fake.stream_requests.load(Ordering::SeqCst), 1);
    assert_eq!(host.companion_rows().await.len(), 1);
}

#[tokio::test]
async fn without_the_accept_header_or_with_streaming_off_the_answer_is_plain_json() {
    for stream_replies in [true, false] {
        let host = streaming_host(stream_replies).await;
        let asked_to_stream = !stream_replies;
        let response = host
            .post("Tell me about doors", "e-json", asked_to_stream)
            .await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["reply"], REPLY);
        assert_eq!(host.fake.stream_requests.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test]
async fn a_reply_cut_mid_stream_ends_with_a_note_and_is_stored_once_as_shown() {
    let host = streaming_host(true).await;
    host.fake.stream_with(
        REPLY,
        StreamPace {
            cut_after: Some(2),
            ..StreamPace::default()
        },
    );
    let response = host.post("How are you?", "e-cut", true).await;
    let events = parse_events(&response.text().await.unwrap());
    let last = events.last().unwrap();
    assert_eq!(last.event, "reply");
    let reply = last.data["reply"].as_str().unwrap();
    assert!(reply.ends_with(CUT_OFF_NOTE), "{reply}");
    let shown: String = events
        .iter()
        .filter(|event| event.event == "delta")
        .map(|event| event.data["text"].as_str().unwrap())
        .collect();
    assert_eq!(shown, reply, "the note was shown too");
    assert_eq!(host.companion_rows().await, vec![reply.to_string()]);
    assert_eq!(host.fake.stream_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn commands_are_never_streamed() {
    let host = streaming_host(true).await;
    let response = host.post("/help", "e-help", true).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(!body["reply"].as_str().unwrap().is_empty());
    assert_eq!(host.fake.stream_requests.load(Ordering::SeqCst), 0);
}
