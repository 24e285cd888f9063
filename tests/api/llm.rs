//! Specifications of the personality files and the LLM layer: the shipped characters, error
//! messages for broken files, the offline responder, and the OpenAI client against a fake
//! OpenAI-compatible server on 127.0.0.1.
//!
//! Over 500 lines: the personality files and the LLM client, one scenario per error the client handles.
#![allow(clippy::unwrap_used)]

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use secrecy::SecretString;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::Url;
use whisperengine::llm::{
    LlmError, Mood, OfflineResponder, OpenAiClient, Prompt, RecalledMemory, Responder, Speaker,
    Turn,
};
use whisperengine::personality::{Personality, PersonalityError};
use whisperengine_contract::Platform;

const KEY: &str = "sk-test-key-0123456789";

fn personalities_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("personalities")
}

fn elena() -> Arc<Personality> {
    Arc::new(Personality::load(&personalities_dir(), "elena").unwrap())
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 3, 14, 5, 0).unwrap()
}

fn prompt(platform: Platform, user_text: &str) -> Prompt {
    Prompt {
        system: elena().system_prompt(platform, true),
        platform,
        user_name: "Ana".into(),
        user_roles: Vec::new(),
        user_text: user_text.into(),
        history: Vec::new(),
        memories: Vec::new(),
        facts: Vec::new(),
        mood: None,
        question: None,
        time_zone: None,
        style: Default::default(),
        generation: Default::default(),
        now: now(),
    }
}

fn memory(text: &str, platform: Platform, is_other_platform: bool) -> RecalledMemory {
    RecalledMemory {
        text: text.into(),
        platform,
        at: now() - ChronoDuration::days(3),
        score: 0.9,
        is_other_platform,
    }
}

// ---------------------------------------------------------------- personalities

#[test]
fn both_shipped_personalities_load_sorted_by_id() {
    let all = Personality::load_all(&personalities_dir()).unwrap();
    let ids: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["elena", "marcus"]);
    assert_eq!(all[0].name, "Elena Rodriguez");
    assert_eq!(all[1].name, "Marcus Thompson");
    for personality in &all {
        assert!(
            personality.identity.backstory.len() > 200,
            "{} needs a real backstory",
            personality.id
        );
        assert!(personality.communication.greetings.len() >= 3);
        assert!(!personality.communication.empathy.sad.is_empty());
        for platform in Platform::ALL {
            assert!(personality.platform_styles.for_platform(platform).is_some());
        }
    }
}

#[test]
fn the_system_prompt_describes_the_character_and_the_rules() {
    let elena = elena();
    let prompt = elena.system_prompt(Platform::Slack, false);
    assert!(
        prompt.starts_with("You are Elena Rodriguez, a marine biologist"),
        "{prompt}"
    );
    assert!(
        prompt.contains("deeply curious"),
        "Big Five in plain words: {prompt}"
    );
    assert!(prompt.contains("honesty"), "values: {prompt}");
    assert!(
        prompt.contains("Oh, that's fascinating!"),
        "speech patterns: {prompt}"
    );
    assert!(prompt.contains("on Slack"));
    assert!(prompt.contains("Never invent facts about the user"));
    assert!(
        prompt.contains("[on slack]"),
        "explains other-platform marks: {prompt}"
    );
    let slack_note = elena.platform_styles.slack.clone().unwrap();
    assert!(
        !prompt.contains(&slack_note),
        "no platform note unless platform-specific"
    );
    assert!(elena
        .system_prompt(Platform::Slack, true)
        .contains(&slack_note));
    assert!(!elena
        .system_prompt(Platform::Teams, true)
        .contains(&slack_note));
}

#[test]
fn an_unknown_id_is_not_found_and_lists_the_available_ones() {
    let error = Personality::load(&personalities_dir(), "nemo").unwrap_err();
    assert!(matches!(error, PersonalityError::NotFound { .. }));
    let message = error.to_string();
    assert!(
        message.contains("`nemo`") && message.contains("elena, marcus"),
        "{message}"
    );
    let error = Personality::load(&personalities_dir(), "../personalities/elena").unwrap_err();
    assert!(
        matches!(error, PersonalityError::NotFound { .. }),
        "ids are file stems, not paths"
    );
}

/// Writes Elena's file, edited by `edit`, as `<dir>/broken.toml` and loads it.
fn load_edited(edit: impl Fn(String) -> String) -> String {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(personalities_dir().join("elena.toml")).unwrap();
    let edited = edit(original.clone());
    assert_ne!(edited, original, "the edit must change something");
    std::fs::write(dir.path().join("broken.toml"), edited).unwrap();
    let error = Personality::load(dir.path(), "broken").unwrap_err();
    assert!(
        matches!(error, PersonalityError::Invalid { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("broken.toml: "),
        "names the file: {message}"
    );
    message
}

#[test]
fn a_broken_file_is_named_with_the_field_at_fault() {
    let message = load_edited(|text| text.replace("openness = 0.9", "openness = 1.7"));
    assert!(
        message.ends_with("big_five.openness: expected a number between 0 and 1 (got 1.7)"),
        "{message}"
    );
    let message = load_edited(|text| text.replace("valence = 0.5", "valence = 2"));
    assert!(message.contains("emotional_baseline.valence"), "{message}");
    let message = load_edited(|text| text.replace("name = \"Elena Rodriguez\"\n", ""));
    assert!(message.contains("missing field `name`"), "{message}");
    let message = load_edited(|text| text.replace("name = \"Elena Rodriguez\"", "name = \" \""));
    assert!(message.contains("name: must not be empty"), "{message}");
    let message = load_edited(|text| text.replace("occupation =", "ocupation ="));
    assert!(message.contains("unknown field `ocupation`"), "{message}");
    let message =
        load_edited(|text| text.replace("formality = \"casual\"", "formality = \"chill\""));
    assert!(message.contains("chill"), "{message}");
    let message = load_edited(|text| text.replace("[big_five]", "[big_five"));
    assert!(
        message.contains("(line "),
        "a syntax error points at its line: {message}"
    );
    assert!(!message.contains('\n'), "one line for logs: {message}");
}

#[test]
fn load_all_stops_at_the_first_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let elena = std::fs::read_to_string(personalities_dir().join("elena.toml")).unwrap();
    std::fs::write(dir.path().join("a_good.toml"), &elena).unwrap();
    std::fs::write(dir.path().join("b_bad.toml"), "name = ").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a personality").unwrap();
    let error = Personality::load_all(dir.path()).unwrap_err();
    assert!(error.to_string().contains("b_bad.toml"), "{error}");
    std::fs::remove_file(dir.path().join("b_bad.toml")).unwrap();
    let ids: Vec<String> = Personality::load_all(dir.path())
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["a_good"]);
}

// ---------------------------------------------------------------- offline responder

#[tokio::test]
async fn the_offline_responder_recalls_a_memory_from_another_platform_in_the_second_person() {
    let responder = OfflineResponder::new(elena());
    let mut prompt = prompt(
        Platform::Discord,
        "any idea what I should name the new fish?",
    );
    prompt.memories = vec![
        memory("My cat is called Miso.", Platform::Slack, true),
        memory("I'm vegetarian", Platform::Teams, true),
    ];
    let reply = responder.respond(&prompt).await.unwrap();
    assert!(
        reply.contains("You told me on Slack that your cat is called Miso."),
        "{reply}"
    );
    assert!(
        !reply.contains("vegetarian"),
        "only the best memory: {reply}"
    );

    prompt.memories = vec![memory(
        "I am training for a half marathon",
        Platform::Discord,
        false,
    )];
    let reply = responder.respond(&prompt).await.unwrap();
    assert!(
        reply.contains("You mentioned earlier that you are training for a half marathon."),
        "{reply}"
    );
}

#[tokio::test]
async fn the_offline_responder_is_deterministic_and_varies_with_the_text() {
    let responder = OfflineResponder::new(elena());
    let mut replies = std::collections::BTreeSet::new();
    for text in [
        "I went diving today",
        "work was long",
        "the bus was late",
        "I baked bread",
        "it rained",
    ] {
        let first = responder
            .respond(&prompt(Platform::Desktop, text))
            .await
            .unwrap();
        let second = responder
            .respond(&prompt(Platform::Desktop, text))
            .await
            .unwrap();
        assert_eq!(first, second, "same prompt, same reply");
        replies.insert(first);
    }
    assert!(replies.len() > 1, "replies vary with the text: {replies:?}");
}

#[tokio::test]
async fn the_offline_responder_greets_by_name_and_meets_strong_moods_with_empathy() {
    let elena = elena();
    let responder = OfflineResponder::new(elena.clone());
    let reply = responder
        .respond(&prompt(Platform::Discord, "hey!"))
        .await
        .unwrap();
    assert!(reply.contains("Ana"), "{reply}");

    let mut sad = prompt(Platform::Discord, "my grandmother is in hospital");
    sad.mood = Some(Mood {
        label: "sad".into(),
        intensity: 0.8,
        valence: -0.7,
        trajectory: None,
    });
    let reply = responder.respond(&sad).await.unwrap();
    let empathy: Vec<String> = elena
        .communication
        .empathy
        .sad
        .iter()
        .map(|line| line.replace("{user}", "Ana"))
        .collect();
    assert!(
        empathy.iter().any(|line| reply.contains(line.as_str())),
        "{reply}"
    );

    sad.mood = Some(Mood {
        label: "sad".into(),
        intensity: 0.2,
        valence: -0.2,
        trajectory: None,
    });
    let reply = responder.respond(&sad).await.unwrap();
    assert!(
        !empathy.iter().any(|line| reply.contains(line.as_str())),
        "mild moods pass: {reply}"
    );
}

#[tokio::test]
async fn the_offline_responder_admits_what_it_does_not_know() {
    let responder = OfflineResponder::new(elena());
    let reply = responder
        .respond(&prompt(Platform::Slack, "What's my dog's name?"))
        .await
        .unwrap();
    assert!(reply.contains("don't know that yet"), "{reply}");
    assert!(!reply.contains("You told me"), "{reply}");
}

#[tokio::test]
async fn the_offline_responder_survives_odd_text() {
    let responder = OfflineResponder::new(elena());
    let long = "I ".repeat(5_000);
    for text in ["", "   ", "?", "🐙🐙🐙", "\u{0}", "<@123>", long.as_str()] {
        let mut prompt = prompt(Platform::Teams, text);
        prompt.memories = vec![memory(text, Platform::Slack, true)];
        prompt.user_name = String::new();
        let reply = responder.respond(&prompt).await.unwrap();
        assert!(!reply.trim().is_empty(), "a reply for {text:?}");
        assert!(reply.chars().count() < 600, "stays short: {reply}");
    }
    assert!(responder.describe().contains("offline"));
}

// ---------------------------------------------------------------- OpenAI client against a fake

/// One scripted answer of the fake server.
#[derive(Clone)]
struct Step {
    status: u16,
    body: Value,
    delay: Duration,
    retry_after: Option<&'static str>,
}

fn reply_step(content: &str) -> Step {
    Step {
        status: 200,
        body: json!({"id": "c1", "object": "chat.completion",
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                  "finish_reason": "stop"}]}),
        delay: Duration::ZERO,
        retry_after: None,
    }
}

fn error_step(status: u16) -> Step {
    Step {
        status,
        body: json!({"error": {"message": "scripted failure"}}),
        delay: Duration::ZERO,
        retry_after: None,
    }
}

/// What the fake saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    authorization: Option<String>,
    body: Value,
}

#[derive(Default)]
struct FakeState {
    script: Mutex<VecDeque<Step>>,
    seen: Mutex<Vec<Seen>>,
}

/// A fake OpenAI-compatible server on 127.0.0.1:0 answering from a script (the last step repeats).
struct FakeLlm {
    base: Url,
    state: Arc<FakeState>,
}

impl FakeLlm {
    async fn start(script: Vec<Step>) -> FakeLlm {
        let state = Arc::new(FakeState {
            script: Mutex::new(script.into()),
            seen: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(answer))
            .route("/v1/models", get(answer))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeLlm {
            base: Url::parse(&format!("http://{address}/v1")).unwrap(),
            state,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    fn client(&self, key: Option<&str>, timeout: Duration, max_retries: u32) -> OpenAiClient {
        OpenAiClient::new(
            self.base.clone(),
            key.map(|key| SecretString::from(key.to_string())),
            "test-model".into(),
            timeout,
            max_retries,
            123,
            0.5,
        )
        .unwrap()
    }
}

async fn answer(State(state): State<Arc<FakeState>>, headers: HeaderMap, body: String) -> Response {
    let authorization = headers
        .get("authorization")
        .map(|value| value.to_str().unwrap().to_string());
    state.seen.lock().unwrap().push(Seen {
        authorization: authorization.clone(),
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
    });
    let step = {
        let mut script = state.script.lock().unwrap();
        if script.len() > 1 {
            script.pop_front().unwrap()
        } else {
            script.front().cloned().unwrap()
        }
    };
    tokio::time::sleep(step.delay).await;
    let mut body = step.body;
    if step.status == 401 {
        // Like a careless proxy: echo the credentials back in the error.
        body = json!({"error": format!("bad credentials: {}", authorization.unwrap_or_default())});
    }
    let mut response =
        (StatusCode::from_u16(step.status).unwrap(), axum::Json(body)).into_response();
    if let Some(seconds) = step.retry_after {
        response
            .headers_mut()
            .insert("retry-after", seconds.parse().unwrap());
    }
    response
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn the_client_sends_the_chat_request_with_the_key_and_returns_the_reply() {
    let fake = FakeLlm::start(vec![reply_step("  Hello from the reef!  ")]).await;
    let client = fake.client(Some(KEY), SECOND, 2);
    let mut prompt = prompt(Platform::Discord, "hello there");
    prompt.history = vec![Turn {
        speaker: Speaker::User,
        text: "I adopted a cat".into(),
        platform: Platform::Slack,
        is_other_platform: true,
        at: now() - ChronoDuration::days(1),
    }];
    assert_eq!(
        client.respond(&prompt).await.unwrap(),
        "Hello from the reef!"
    );

    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = &seen[0].body;
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["max_tokens"], 123);
    assert_eq!(body["temperature"], 0.5);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(messages[1]["content"], "[on slack] I adopted a cat");
    assert_eq!(
        messages[2],
        json!({"role": "user", "content": "hello there"})
    );
    assert_eq!(client.describe(), format!("test-model at {}", fake.base));
}

#[tokio::test]
async fn without_a_key_no_authorization_header_is_sent_and_a_trailing_slash_is_fine() {
    let fake = FakeLlm::start(vec![reply_step("hi")]).await;
    let base = Url::parse(&format!("{}/", fake.base)).unwrap();
    let client = OpenAiClient::new(base, None, "m".into(), SECOND, 0, 10, 0.0).unwrap();
    assert_eq!(
        client
            .respond(&prompt(Platform::Slack, "hi"))
            .await
            .unwrap(),
        "hi"
    );
    assert_eq!(fake.seen()[0].authorization, None);
}

#[tokio::test]
async fn a_server_error_is_retried_and_the_retry_succeeds() {
    let fake = FakeLlm::start(vec![error_step(500), reply_step("second time lucky")]).await;
    let client = fake.client(Some(KEY), SECOND, 2);
    let reply = client
        .respond(&prompt(Platform::Slack, "hi"))
        .await
        .unwrap();
    assert_eq!(reply, "second time lucky");
    assert_eq!(fake.seen().len(), 2);
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let fake = FakeLlm::start(vec![error_step(400), reply_step("never reached")]).await;
    let client = fake.client(Some(KEY), SECOND, 3);
    let error = client
        .respond(&prompt(Platform::Slack, "hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, LlmError::Http { status: 400, .. }),
        "{error:?}"
    );
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn retries_stop_after_max_retries() {
    let fake = FakeLlm::start(vec![error_step(503)]).await;
    let client = fake.client(None, SECOND, 2);
    let error = client
        .respond(&prompt(Platform::Slack, "hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, LlmError::Http { status: 503, .. }),
        "{error:?}"
    );
    assert_eq!(fake.seen().len(), 3, "one attempt plus two retries");
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let mut limited = error_step(429);
    limited.retry_after = Some("1");
    let fake = FakeLlm::start(vec![limited, reply_step("after the wait")]).await;
    let client = fake.client(None, SECOND, 1);
    let started = Instant::now();
    assert_eq!(
        client
            .respond(&prompt(Platform::Slack, "hi"))
            .await
            .unwrap(),
        "after the wait"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_slow_server_gives_a_timeout() {
    let mut slow = reply_step("too late");
    slow.delay = Duration::from_secs(5);
    let fake = FakeLlm::start(vec![slow]).await;
    let client = fake.client(None, Duration::from_millis(300), 1);
    let started = Instant::now();
    let error = client
        .respond(&prompt(Platform::Slack, "hi"))
        .await
        .unwrap_err();
    assert_eq!(error, LlmError::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.seen().len(), 2, "a timeout is retried");
}

#[tokio::test]
async fn an_unusable_answer_is_a_bad_response() {
    for body in [
        json!({"choices": [{"message": {"role": "assistant", "content": "   "}}]}),
        json!({"choices": []}),
        json!({"unexpected": true}),
    ] {
        let fake = FakeLlm::start(vec![Step {
            body,
            ..reply_step("")
        }])
        .await;
        let error = fake
            .client(None, SECOND, 2)
            .respond(&prompt(Platform::Slack, "hi"))
            .await
            .unwrap_err();
        assert!(matches!(error, LlmError::BadResponse(_)), "{error:?}");
        assert_eq!(fake.seen().len(), 1, "not retried");
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let base = Url::parse(&format!("http://{address}/v1")).unwrap();
    let client = OpenAiClient::new(
        base,
        Some(SecretString::from(KEY)),
        "m".into(),
        SECOND,
        1,
        10,
        0.0,
    )
    .unwrap();
    let error = client
        .respond(&prompt(Platform::Slack, "hi"))
        .await
        .unwrap_err();
    assert!(matches!(error, LlmError::Transport(_)), "{error:?}");
    assert!(!error.to_string().contains(KEY));
}

#[tokio::test]
async fn the_key_never_shows_in_debug_output_or_errors() {
    let fake = FakeLlm::start(vec![error_step(401)]).await;
    let client = fake.client(Some(KEY), SECOND, 0);
    assert!(!format!("{client:?}").contains(KEY));
    assert!(!client.describe().contains(KEY));
    let error = client
        .respond(&prompt(Platform::Slack, "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        fake.seen()[0].authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(
        matches!(error, LlmError::Http { status: 401, .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains(KEY), "{error}");
    assert!(!format!("{error:?}").contains(KEY), "{error:?}");
    let error = client.check().await.unwrap_err();
    assert!(!error.to_string().contains(KEY), "{error}");
}

#[tokio::test]
async fn check_asks_the_models_endpoint() {
    let fake = FakeLlm::start(vec![Step {
        body: json!({"data": []}),
        ..reply_step("")
    }])
    .await;
    fake.client(Some(KEY), SECOND, 0).check().await.unwrap();
    assert_eq!(
        fake.seen()[0].authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
}
