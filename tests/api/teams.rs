//! The Teams connector end to end: the real host (real core, SQLite and — when configured —
//! PostgreSQL + Redis) behind `POST /api/messages`, and a fake Bot Framework on 127.0.0.1 serving
//! OpenID metadata, a JWKS with the test's RSA key, a token endpoint and a connector that records
//! what the bot sends. Tokens are minted here, the way the Bot Framework signs them.
//!
//! Over 500 lines: the Teams connector end to end, one scenario per behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use axum::http::StatusCode;
use common::fake_teams::{
    claims, sign, unix_now, valid_token, FakeBotFramework, Options, APP_ID, APP_PASSWORD, KID,
    SIGNING_KEY,
};
use common::metrics::{sample, scrape};
use common::{core_for, link_code_in, say, settings_for, test_setups, TestDb};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::time::Duration;
use whisperengine::config::Settings;
use whisperengine_contract::{Platform, PlatformAccount};

const TENANT: &str = "tenant-0001";
const BOT_ID: &str = "28:00000000-aaaa-bbbb-cccc-000000000001";
const ADMIN_AAD: &str = "aad-admin";
const SIGNING_PUBLIC_PEM: &[u8] =
    include_bytes!("../../adapters/teams/tests/keys/bot_framework.pub.pem");
const ATTACKER_KEY: &[u8] = include_bytes!("../../adapters/teams/tests/keys/attacker.der");

/// A Teams message activity from the person with AAD object id `aad`.
fn message_activity(
    fake: &FakeBotFramework,
    id: &str,
    conversation: (&str, &str),
    aad: &str,
    text: &str,
    entities: Value,
) -> Value {
    json!({
        "type": "message",
        "id": id,
        "timestamp": "2026-11-25T10:00:00.000Z",
        "serviceUrl": fake.service_url(),
        "channelId": "msteams",
        "from": {"id": format!("29:bf-{aad}"), "name": "Ana Lima", "aadObjectId": aad},
        "conversation": {"id": conversation.0, "conversationType": conversation.1, "tenantId": TENANT},
        "recipient": {"id": BOT_ID, "name": "Elena"},
        "text": text,
        "textFormat": "plain",
        "entities": entities,
        "channelData": {"tenant": {"id": TENANT}}
    })
}

fn personal(fake: &FakeBotFramework, id: &str, aad: &str, text: &str) -> Value {
    message_activity(
        fake,
        id,
        (&format!("a:dm-{aad}"), "personal"),
        aad,
        text,
        json!([]),
    )
}

/// The host on `settings`, pointed at the fake; returns its base URL and the application's core.
async fn start_host(
    fake: &FakeBotFramework,
    mut settings: Settings,
) -> (String, whisperengine::core::Core) {
    common::configure_teams(fake, &mut settings);
    settings.teams_admin_ids = vec![ADMIN_AAD.to_string()];
    common::spawn_app(settings).await
}

async fn post_activity(host: &str, token: Option<&str>, activity: &Value) -> StatusCode {
    let mut request = reqwest::Client::new()
        .post(format!("{host}/api/messages"))
        .json(activity);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let status = request.send().await.unwrap().status();
    StatusCode::from_u16(status.as_u16()).unwrap()
}

fn sqlite_only() -> TestDb {
    common::fresh_sqlite()
}

#[tokio::test]
async fn a_valid_activity_gets_exactly_one_reply_with_the_token_from_the_token_endpoint() {
    for (db, mut settings) in test_setups().await {
        // A reply that takes a moment to compose, as with a real model: the person sees the
        // companion typing meanwhile (an instant reply may come before any typing indicator).
        settings.llm_base_url = Some(
            common::fake_llm::slow(Duration::from_millis(800), "Hello Ana, good to see you!").await,
        );
        let fake = FakeBotFramework::start().await;
        let (host, _core) = start_host(&fake, settings).await;
        let token = valid_token(&fake.service_url());
        let activity = personal(&fake, "1700000000001", "aad-ana", "Hello there!");

        assert_eq!(
            post_activity(&host, Some(&token), &activity).await,
            StatusCode::OK
        );
        let messages = fake.wait_for_messages(1).await;
        assert_eq!(messages.len(), 1, "{}: {messages:?}", db.name);
        let reply = &messages[0];
        assert_eq!(
            reply.path, "/v3/conversations/a:dm-aad-ana/activities/1700000000001",
            "{}",
            db.name
        );
        assert_eq!(reply.authorization, "Bearer fake-access-token-1");
        assert_eq!(reply.body["replyToId"], "1700000000001");
        assert_eq!(reply.body["textFormat"], "markdown");
        assert!(!reply.body["text"].as_str().unwrap_or_default().is_empty());
        assert!(
            fake.sent().iter().any(|sent| sent.body["type"] == "typing"
                && sent.path == "/v3/conversations/a:dm-aad-ana/activities"),
            "{}: a typing indicator was shown",
            db.name
        );

        // The Bot Framework retries: the same activity again is acknowledged and not answered twice.
        assert_eq!(
            post_activity(&host, Some(&token), &activity).await,
            StatusCode::OK
        );
        assert_eq!(fake.wait_for_messages(2).await.len(), 1, "{}", db.name);
        let tokens = fake.token_requests();
        assert_eq!(tokens, 1, "{}: the token is cached", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn forged_tokens_are_refused_with_401_and_nothing_is_sent() {
    let db = sqlite_only();
    let fake = FakeBotFramework::start().await;
    let (host, _core) = start_host(&fake, settings_for(&db, false)).await;
    let service_url = fake.service_url();
    let activity = personal(&fake, "1700000000002", "aad-eve", "Hello");
    let valid = claims(&service_url);
    let with = |field: &str, value: Value| {
        let mut claims = valid.clone();
        claims[field] = value;
        claims
    };
    let alg_none = {
        let signed = valid_token(&service_url);
        let payload = signed.split('.').nth(1).unwrap().to_string();
        // {"alg":"none","typ":"JWT","kid":"test-key-1"}
        format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIiwia2lkIjoidGVzdC1rZXktMSJ9.{payload}.")
    };
    let hs256_with_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(KID.to_string());
        jsonwebtoken::encode(
            &header,
            &valid,
            &EncodingKey::from_secret(SIGNING_PUBLIC_PEM),
        )
        .unwrap()
    };
    let cases: Vec<(&str, Option<String>)> = vec![
        ("wrong signing key", Some(sign(&valid, ATTACKER_KEY, KID))),
        (
            "unknown kid",
            Some(sign(&valid, ATTACKER_KEY, "attacker-key")),
        ),
        ("alg none", Some(alg_none)),
        (
            "HS256 signed with the public key",
            Some(hs256_with_public_key),
        ),
        (
            "wrong audience",
            Some(sign(&with("aud", json!("someone-else")), SIGNING_KEY, KID)),
        ),
        (
            "wrong issuer",
            Some(sign(
                &with("iss", json!("https://evil.example")),
                SIGNING_KEY,
                KID,
            )),
        ),
        (
            "expired beyond the clock skew",
            Some(sign(
                &with("exp", json!(unix_now() - 400)),
                SIGNING_KEY,
                KID,
            )),
        ),
        (
            "not yet valid beyond the clock skew",
            Some(sign(
                &with("nbf", json!(unix_now() + 400)),
                SIGNING_KEY,
                KID,
            )),
        ),
        (
            "serviceurl claim differs from the activity",
            Some(sign(
                &with("serviceurl", json!("https://evil.example/")),
                SIGNING_KEY,
                KID,
            )),
        ),
        ("no Authorization header", None),
        ("garbage", Some("not.a.jwt".to_string())),
    ];
    for (case, token) in &cases {
        assert_eq!(
            post_activity(&host, token.as_deref(), &activity).await,
            StatusCode::UNAUTHORIZED,
            "{case}"
        );
    }
    // An activity whose serviceUrl points elsewhere than the token says is refused too.
    let mut redirected = activity.clone();
    redirected["serviceUrl"] = json!("http://127.0.0.1:9/");
    assert_eq!(
        post_activity(&host, Some(&valid_token(&service_url)), &redirected).await,
        StatusCode::UNAUTHORIZED
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        fake.sent().is_empty(),
        "nothing reached the connector: {:?}",
        fake.sent()
    );
    assert!(fake.token_requests() == 0);

    let metrics = scrape(&host).await;
    for reason in [
        "signature",
        "unknown_kid",
        "algorithm",
        "audience",
        "issuer",
        "expired",
        "not_yet_valid",
        "service_url",
        "missing_token",
    ] {
        let label = format!("reason=\"{reason}\"");
        assert!(
            sample(
                &metrics,
                "whisperengine_teams_auth_rejected_total",
                &[&label]
            )
            .is_some(),
            "metric for {reason} in:\n{metrics}"
        );
    }
}

#[tokio::test]
async fn a_key_not_endorsed_for_the_activitys_channel_is_refused_with_401() {
    let db = sqlite_only();
    let fake = FakeBotFramework::start_with(Options {
        endorsements: Some(vec!["emulator".into()]),
    })
    .await;
    let (host, _core) = start_host(&fake, settings_for(&db, false)).await;
    let token = valid_token(&fake.service_url());
    let activity = personal(&fake, "1700000000003", "aad-ana", "Hello");
    assert_eq!(
        post_activity(&host, Some(&token), &activity).await,
        StatusCode::UNAUTHORIZED,
        "an msteams activity signed with a key endorsed only for the emulator"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fake.sent().is_empty(), "{:?}", fake.sent());
    let metrics = scrape(&host).await;
    assert!(
        sample(
            &metrics,
            "whisperengine_teams_auth_rejected_total",
            &["reason=\"endorsement\""]
        )
        .is_some(),
        "{metrics}"
    );
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_refused_without_a_reply() {
    let db = sqlite_only();
    let fake = FakeBotFramework::start().await;
    let (host, _core) = start_host(&fake, settings_for(&db, false)).await;
    let token = valid_token(&fake.service_url());
    let client = reqwest::Client::new();
    let malformed = client
        .post(format!("{host}/api/messages"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"type\": \"message\", ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status().as_u16(), 400);
    let huge = personal(&fake, "1", "aad-ana", &"a".repeat(300 * 1024));
    assert_eq!(
        post_activity(&host, Some(&token), &huge).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fake.sent().is_empty());
}

#[tokio::test]
async fn a_code_from_teams_redeemed_on_slack_brings_slack_memory_into_teams_replies() {
    for (db, settings) in test_setups().await {
        let fake = FakeBotFramework::start().await;
        let (host, core) = start_host(&fake, settings).await;
        let token = valid_token(&fake.service_url());
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1").with_display_name("Ana");
        say(&core, common::message(&slack, "My cat is called Miso")).await;

        let start = personal(&fake, "2000", "aad-ana", "link start");
        assert_eq!(
            post_activity(&host, Some(&token), &start).await,
            StatusCode::OK
        );
        let messages = fake.wait_for_messages(1).await;
        let text = messages[0].body["text"].as_str().unwrap().to_string();
        let code = link_code_in(&text, "**");
        let linked = say(
            &core,
            common::command(&slack, &format!("link {code}"), false),
        )
        .await;
        assert!(linked.starts_with("Linked!"), "{}: {linked}", db.name);

        let question = personal(&fake, "2001", "aad-ana", "What's my cat called?");
        assert_eq!(
            post_activity(&host, Some(&token), &question).await,
            StatusCode::OK
        );
        let messages = fake.wait_for_messages(2).await;
        let answer = messages[1].body["text"].as_str().unwrap();
        assert!(answer.contains("Miso"), "{}: {answer}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_same_person_is_recognised_across_teams_chats_by_aad_object_id() {
    let db = sqlite_only();
    let fake = FakeBotFramework::start().await;
    let (host, core) = start_host(&fake, settings_for(&db, false)).await;
    let token = valid_token(&fake.service_url());
    let first = personal(&fake, "3000", "aad-ana", "My favourite colour is teal");
    assert_eq!(
        post_activity(&host, Some(&token), &first).await,
        StatusCode::OK
    );
    fake.wait_for_messages(1).await;
    // Another 1:1 chat (e.g. from another Teams client registration), another per-conversation
    // Bot Framework id, same AAD object id. (`whoami` is a personal answer: a group chat would only
    // get "ask me in a DM".)
    let mut other = message_activity(
        &fake,
        "3001",
        ("a:another-personal-chat", "personal"),
        "aad-ana",
        "whoami",
        json!([]),
    );
    other["from"]["id"] = json!("29:a-different-id");
    assert_eq!(
        post_activity(&host, Some(&token), &other).await,
        StatusCode::OK
    );
    let messages = fake.wait_for_messages(2).await;
    let card = &messages[1].body["attachments"][0]["content"];
    let accounts = serde_json::to_string(card).unwrap();
    assert!(
        accounts.contains(&format!("teams:{TENANT}/aad-ana")),
        "{accounts}"
    );
    let _ = core;
}

#[tokio::test]
async fn channel_mentions_are_stripped_and_unmentioned_channel_messages_get_no_reply() {
    let db = sqlite_only();
    let fake = FakeBotFramework::start().await;
    let (host, core) = start_host(&fake, settings_for(&db, false)).await;
    let token = valid_token(&fake.service_url());
    let channel = ("19:general@thread.tacv2;messageid=4000", "channel");
    let mention = json!([{"type": "mention", "mentioned": {"id": BOT_ID, "name": "Elena"}, "text": "<at>Elena</at>"}]);
    let chatter = message_activity(
        &fake,
        "4001",
        channel,
        "aad-ana",
        "lunch anyone?",
        json!([]),
    );
    assert_eq!(
        post_activity(&host, Some(&token), &chatter).await,
        StatusCode::OK
    );
    let addressed = message_activity(
        &fake,
        "4002",
        channel,
        "aad-ana",
        "<at>Elena</at> I love sailing",
        mention,
    );
    assert_eq!(
        post_activity(&host, Some(&token), &addressed).await,
        StatusCode::OK
    );
    let messages = fake.wait_for_messages(1).await;
    assert_eq!(
        messages.len(),
        1,
        "only the mention is answered: {messages:?}"
    );
    assert!(
        messages[0].path.ends_with("/activities/4002"),
        "{}",
        messages[0].path
    );

    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use whisperengine::store::entities::memory;
    let mut stored = Vec::new();
    for _ in 0..50 {
        stored = memory::Entity::find()
            .filter(memory::Column::Platform.eq("teams"))
            .filter(memory::Column::Role.eq("user"))
            .all(&core.store.db)
            .await
            .unwrap();
        if !stored.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let contents: Vec<&str> = stored.iter().map(|row| row.content.as_str()).collect();
    assert!(contents.contains(&"I love sailing"), "{contents:?}");
    assert!(
        contents.iter().all(|content| !content.contains("<at>")),
        "{contents:?}"
    );
}

#[tokio::test]
async fn whoami_answers_with_an_adaptive_card() {
    let db = sqlite_only();
    let fake = FakeBotFramework::start().await;
    let (host, _core) = start_host(&fake, settings_for(&db, false)).await;
    let token = valid_token(&fake.service_url());
    let whoami = personal(&fake, "5000", "aad-ana", "whoami");
    assert_eq!(
        post_activity(&host, Some(&token), &whoami).await,
        StatusCode::OK
    );
    let messages = fake.wait_for_messages(1).await;
    assert_eq!(messages.len(), 1);
    let attachment = &messages[0].body["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let content = &attachment["content"];
    assert_eq!(content["type"], "AdaptiveCard");
    assert_eq!(content["version"], "1.5");
    assert_eq!(content["body"][0]["type"], "TextBlock");
    assert_eq!(content["body"][0]["text"], "Who you are to me");
    assert_eq!(content["body"][1]["type"], "FactSet");
    assert!(content["body"]
        .as_array()
        .unwrap()
        .iter()
        .any(|block| block["isSubtle"] == true));
}

#[tokio::test]
async fn admin_commands_follow_teams_admin_ids() {
    let db = sqlite_only();
    let fake = FakeBotFramework::start().await;
    let (host, _core) = start_host(&fake, settings_for(&db, false)).await;
    let token = valid_token(&fake.service_url());
    let refused = personal(&fake, "6000", "aad-ana", "admin audit");
    assert_eq!(
        post_activity(&host, Some(&token), &refused).await,
        StatusCode::OK
    );
    let allowed = personal(&fake, "6001", ADMIN_AAD, "admin audit");
    assert_eq!(
        post_activity(&host, Some(&token), &allowed).await,
        StatusCode::OK
    );
    let messages = fake.wait_for_messages(2).await;
    let text_of = |id: &str| {
        let sent = messages
            .iter()
            .find(|sent| sent.path.ends_with(id))
            .expect("a reply");
        serde_json::to_string(&sent.body).unwrap()
    };
    assert!(
        text_of("/6000").contains("Only admins"),
        "{}",
        text_of("/6000")
    );
    assert!(
        !text_of("/6001").contains("Only admins"),
        "{}",
        text_of("/6001")
    );
}

#[tokio::test]
async fn installing_the_bot_sends_one_welcome_that_explains_linking() {
    let db = sqlite_only();
    let fake = FakeBotFramework::start().await;
    let (host, _core) = start_host(&fake, settings_for(&db, false)).await;
    let token = valid_token(&fake.service_url());
    let update = |id: &str, member: &str| {
        json!({
            "type": "conversationUpdate",
            "id": id,
            "serviceUrl": fake.service_url(),
            "channelId": "msteams",
            "from": {"id": "29:installer", "aadObjectId": "aad-ana"},
            "conversation": {"id": "a:dm-aad-ana", "conversationType": "personal", "tenantId": TENANT},
            "recipient": {"id": BOT_ID, "name": "Elena"},
            "membersAdded": [{"id": member}],
            "channelData": {"tenant": {"id": TENANT}}
        })
    };
    let someone_else = update("f:1", "29:someone");
    assert_eq!(
        post_activity(&host, Some(&token), &someone_else).await,
        StatusCode::OK
    );
    let installed = update("f:2", BOT_ID);
    assert_eq!(
        post_activity(&host, Some(&token), &installed).await,
        StatusCode::OK
    );
    assert_eq!(
        post_activity(&host, Some(&token), &installed).await,
        StatusCode::OK
    );
    let messages = fake.wait_for_messages(1).await;
    assert_eq!(messages.len(), 1, "one welcome: {messages:?}");
    assert_eq!(
        messages[0].path,
        "/v3/conversations/a:dm-aad-ana/activities"
    );
    let text = messages[0].body["text"].as_str().unwrap();
    assert!(
        text.contains("Elena") && text.contains("link start"),
        "{text}"
    );

    // The same update delivered to another process (or this one after a restart) on the same
    // database: the welcome was claimed in SQL, so it is not sent again.
    let (other_host, _other_core) = start_host(&fake, settings_for(&db, false)).await;
    assert_eq!(
        post_activity(&other_host, Some(&token), &installed).await,
        StatusCode::OK
    );
    let messages = fake.wait_for_messages(2).await;
    assert_eq!(messages.len(), 1, "still one welcome: {messages:?}");
}

#[tokio::test]
async fn a_refused_bot_token_is_replaced_once_and_the_reply_still_arrives() {
    let db = sqlite_only();
    let fake = FakeBotFramework::start().await;
    let (host, _core) = start_host(&fake, settings_for(&db, false)).await;
    let token = valid_token(&fake.service_url());
    // The reply's first post gets the 401 (a typing indicator sent meanwhile is not refused).
    let help = message_activity(
        &fake,
        "7000",
        ("a:dm-aad-ana", "personal"),
        "aad-ana",
        "help",
        json!([]),
    );
    fake.refuse_next(1);
    assert_eq!(
        post_activity(&host, Some(&token), &help).await,
        StatusCode::OK
    );
    let messages = fake.wait_for_messages(1).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].authorization, "Bearer fake-access-token-2");
    assert_eq!(fake.token_requests(), 2);
}

#[tokio::test]
async fn the_connector_is_off_in_desktop_mode() {
    let db = sqlite_only();
    let fake = FakeBotFramework::start().await;
    let mut settings = settings_for(&db, false);
    settings.deployment_mode = whisperengine::config::DeploymentMode::Desktop;
    let (host, _core) = start_host(&fake, settings).await;
    let token = valid_token(&fake.service_url());
    let activity = personal(&fake, "8000", "aad-ana", "Hello");
    assert_eq!(
        post_activity(&host, Some(&token), &activity).await,
        StatusCode::NOT_FOUND
    );
    let _ = core_for;
}

#[tokio::test]
async fn doctor_checks_the_teams_credentials_with_a_token_request() {
    let db = sqlite_only();
    let fake = FakeBotFramework::start().await;
    let mut settings = settings_for(&db, false);
    settings.microsoft_app_id = Some(APP_ID.to_string());
    settings.microsoft_app_password = Some(APP_PASSWORD.to_string().into());
    settings.teams_token_url = fake.token_url().parse().unwrap();
    let teams_row = |report: Vec<whisperengine::doctor::Check>| {
        report
            .into_iter()
            .find(|check| check.name == "teams")
            .expect("a teams row")
    };
    let good = teams_row(whisperengine::doctor::checks(&settings).await);
    assert_eq!(
        good.status,
        whisperengine::doctor::Status::Ok,
        "{}",
        good.detail
    );
    assert_eq!(fake.token_requests(), 1);

    settings.microsoft_app_password = Some("wrong-secret".to_string().into());
    let bad = teams_row(whisperengine::doctor::checks(&settings).await);
    assert_eq!(bad.status, whisperengine::doctor::Status::Failing);
    assert!(bad.detail.contains("401"), "{}", bad.detail);
    assert!(
        !bad.detail.contains("wrong-secret"),
        "no secret in the report"
    );
}

/// A reply long enough to need several streaming updates at one a second (26 chunks of two
/// words, 150 ms apart).
const STREAMED_REPLY: &str = "Sailing at dawn sounds wonderful, Ana. The water is calm, the light \
    is soft and the harbour is still asleep. Take a warm jacket, check the wind before you leave \
    and tell someone when you expect to be back. I would love to hear how the first morning on \
    the water goes for you.";

/// The host on a fresh SQLite database with a language model that streams [`STREAMED_REPLY`];
/// `stream_replies`: whether Teams is among STREAM_REPLIES.
async fn streaming_teams_host(
    fake: &FakeBotFramework,
    db: &TestDb,
    stream_replies: bool,
) -> (String, whisperengine::core::Core) {
    let (llm, fake_llm) = common::fake_llm::start().await;
    fake_llm.answer_chat_with(STREAMED_REPLY);
    fake_llm.stream_with(
        STREAMED_REPLY,
        common::fake_llm::StreamPace {
            first_token: Duration::from_millis(20),
            interval: Duration::from_millis(150),
            words_per_chunk: 2,
            cut_after: None,
        },
    );
    let mut settings = settings_for(db, false);
    settings.llm_base_url = Some(llm);
    settings.fact_extraction = whisperengine::config::FactExtraction::Rules;
    if !stream_replies {
        settings
            .stream_replies
            .retain(|platform| *platform != Platform::Teams);
    }
    start_host(fake, settings).await
}

/// The companion's stored rows of [`STREAMED_REPLY`] (polled: they are written after the reply).
async fn stored_streamed_replies(core: &whisperengine::core::Core) -> Vec<String> {
    let mut rows = Vec::new();
    for _ in 0..50 {
        rows = common::memory_contents(core)
            .await
            .into_iter()
            .filter(|content| content.starts_with("Sailing at dawn"))
            .collect();
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rows
}

fn has_stream_info(body: &Value) -> bool {
    body["entities"]
        .as_array()
        .is_some_and(|entities| entities.iter().any(|e| e["type"] == "streaminfo"))
}

#[tokio::test]
async fn a_personal_chat_sees_the_reply_grow_then_one_final_message_equal_to_the_stored_reply() {
    let db = sqlite_only();
    let fake = FakeBotFramework::start().await;
    let (host, core) = streaming_teams_host(&fake, &db, true).await;
    let token = valid_token(&fake.service_url());
    let activity = personal(&fake, "7000", "aad-ana", "I want to go sailing at dawn");
    assert_eq!(
        post_activity(&host, Some(&token), &activity).await,
        StatusCode::OK
    );
    let messages = fake.wait_for_messages(1).await;
    assert_eq!(
        messages.len(),
        1,
        "one message ends the stream: {messages:?}"
    );
    assert!(fake.rejections().is_empty(), "{:?}", fake.rejections());

    let streams = fake.streams();
    assert_eq!(streams.len(), 1, "{streams:?}");
    let stream = &streams[0];
    assert_eq!(stream.conversation, "a:dm-aad-ana");
    assert!(
        stream.updates.len() >= 2,
        "several updates: {:?}",
        stream.updates
    );
    let mut previous_text = String::new();
    for (index, update) in stream.updates.iter().enumerate() {
        assert_eq!(update["type"], "typing");
        let info = update["entities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entity| entity["type"] == "streaminfo")
            .unwrap();
        assert_eq!(info["streamType"], "streaming");
        assert_eq!(info["streamSequence"], json!(index + 1));
        if index == 0 {
            assert!(info.get("streamId").is_none(), "the first opens the stream");
        } else {
            assert_eq!(info["streamId"], json!(stream.id));
        }
        let text = update["text"].as_str().unwrap().to_string();
        assert!(text.len() > previous_text.len(), "{text:?}");
        assert!(text.starts_with(&previous_text), "cumulative: {text:?}");
        assert!(STREAMED_REPLY.starts_with(&text), "{text:?}");
        previous_text = text;
    }

    let last = stream.final_message.clone().expect("the stream was ended");
    assert_eq!(last, messages[0].body);
    assert_eq!(last["type"], "message");
    assert_eq!(last["replyToId"], "7000");
    let info = last["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entity| entity["type"] == "streaminfo")
        .unwrap()
        .clone();
    assert_eq!(info["streamType"], "final");
    assert_eq!(info["streamId"], json!(stream.id));
    assert!(info.get("streamSequence").is_none());
    let stored = stored_streamed_replies(&core).await;
    assert_eq!(stored.len(), 1, "the reply is stored once: {stored:?}");
    assert_eq!(last["text"].as_str().unwrap(), stored[0]);

    // The typing indicator stopped once the text itself showed.
    let sent = fake.sent();
    let first_update = sent
        .iter()
        .position(|sent| has_stream_info(&sent.body))
        .unwrap();
    assert!(
        sent[first_update..]
            .iter()
            .all(|sent| sent.body["type"] != "typing" || has_stream_info(&sent.body)),
        "no plain typing indicator after the first update"
    );
}

#[tokio::test]
async fn a_group_chat_gets_one_plain_message_and_no_stream() {
    let db = sqlite_only();
    let fake = FakeBotFramework::start().await;
    let (host, core) = streaming_teams_host(&fake, &db, true).await;
    let token = valid_token(&fake.service_url());
    let mention = json!([{"type": "mention", "mentioned": {"id": BOT_ID, "name": "Elena"}, "text": "<at>Elena</at>"}]);
    let activity = message_activity(
        &fake,
        "7100",
        ("19:crew@thread.v2", "groupChat"),
        "aad-ana",
        "<at>Elena</at> I want to go sailing at dawn",
        mention,
    );
    assert_eq!(
        post_activity(&host, Some(&token), &activity).await,
        StatusCode::OK
    );
    assert_one_plain_message_equal_to_the_stored_reply(&fake, &core).await;
}

/// One message arrived, with no streaming at all, and it is the reply stored once.
async fn assert_one_plain_message_equal_to_the_stored_reply(
    fake: &FakeBotFramework,
    core: &whisperengine::core::Core,
) {
    let messages = fake.wait_for_messages(1).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(fake.streams().is_empty());
    assert!(fake.rejections().is_empty(), "{:?}", fake.rejections());
    assert!(fake.sent().iter().all(|sent| !has_stream_info(&sent.body)));
    let stored = stored_streamed_replies(core).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(messages[0].body["text"].as_str().unwrap(), stored[0]);
}

#[tokio::test]
async fn with_streaming_off_for_teams_a_personal_chat_gets_one_plain_message() {
    let db = sqlite_only();
    let fake = FakeBotFramework::start().await;
    let (host, core) = streaming_teams_host(&fake, &db, false).await;
    let token = valid_token(&fake.service_url());
    let activity = personal(&fake, "7200", "aad-ana", "I want to go sailing at dawn");
    assert_eq!(
        post_activity(&host, Some(&token), &activity).await,
        StatusCode::OK
    );
    assert_one_plain_message_equal_to_the_stored_reply(&fake, &core).await;
}

#[tokio::test]
async fn when_a_streaming_update_fails_the_reply_still_arrives_as_a_plain_message() {
    let db = sqlite_only();
    let fake = FakeBotFramework::start().await;
    fake.fail_stream_updates_from(2);
    let (host, core) = streaming_teams_host(&fake, &db, true).await;
    let token = valid_token(&fake.service_url());
    let activity = personal(&fake, "7300", "aad-ana", "I want to go sailing at dawn");
    assert_eq!(
        post_activity(&host, Some(&token), &activity).await,
        StatusCode::OK
    );
    let messages = fake.wait_for_messages(1).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        fake.failed_stream_updates(),
        1,
        "no update after the failure"
    );
    assert!(fake.rejections().is_empty(), "{:?}", fake.rejections());
    let streams = fake.streams();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].updates.len(), 1);
    assert!(!has_stream_info(&messages[0].body), "a plain message");
    let stored = stored_streamed_replies(&core).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(messages[0].body["text"].as_str().unwrap(), stored[0]);
}

#[tokio::test]
async fn the_fake_bot_framework_refuses_what_teams_refuses_in_a_stream() {
    let fake = FakeBotFramework::start().await;
    let client = reqwest::Client::new();
    let post = |conversation: &'static str, body: Value| {
        let request = client
            .post(format!(
                "{}v3/conversations/{conversation}/activities",
                fake.service_url()
            ))
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }
    };
    let update = |conversation: &str, text: &str, sequence: u64, id: Option<&str>| {
        let mut info =
            json!({"type": "streaminfo", "streamType": "streaming", "streamSequence": sequence});
        if let Some(id) = id {
            info["streamId"] = json!(id);
        }
        json!({"type": "typing", "text": text, "conversation": {"id": conversation}, "entities": [info]})
    };
    let (status, body) = post(
        "19:crew@thread.v2",
        update("19:crew@thread.v2", "Hi", 1, None),
    )
    .await;
    assert_eq!(status, 400, "not in a group chat: {body}");
    let (status, body) = post("a:dm", update("a:dm", "Hello", 1, None)).await;
    assert_eq!(status, 200);
    let id = body["id"].as_str().unwrap().to_string();
    let (status, _) = post("a:dm", update("a:dm", "Hello there", 2, Some(&id))).await;
    assert_eq!(status, 429, "within a second of the previous update");
    tokio::time::sleep(Duration::from_millis(950)).await;
    let (status, _) = post("a:dm", update("a:dm", "Goodbye", 2, Some(&id))).await;
    assert_eq!(status, 400, "not cumulative");
    let (status, _) = post("a:dm", update("a:dm", "Hello there", 1, Some(&id))).await;
    assert_eq!(status, 400, "the sequence did not grow");
    let (status, _) = post("a:dm", update("a:dm", "Hello there", 2, Some(&id))).await;
    assert_eq!(status, 200);
    assert_eq!(fake.rejections().len(), 4);
    tokio::time::sleep(Duration::from_millis(950)).await;
    let last = json!({"type": "message", "text": "Hello there, Ana.", "conversation": {"id": "a:dm"},
        "entities": [{"type": "streaminfo", "streamType": "final", "streamId": id}]});
    let (status, _) = post("a:dm", last.clone()).await;
    assert_eq!(status, 200);
    let streams = fake.streams();
    assert_eq!(streams[0].updates.len(), 2);
    assert_eq!(streams[0].final_message.as_ref(), Some(&last));
    let (status, _) = post(
        "a:dm",
        update("a:dm", "Hello there, Ana. More", 3, Some(&id)),
    )
    .await;
    assert_eq!(status, 400, "the stream has ended");
}

/// A `messageReaction` on the companion's message `reply_to` from the person `aad`.
fn reaction_activity(
    fake: &FakeBotFramework,
    id: &str,
    aad: &str,
    reply_to: &str,
    kind: &str,
) -> Value {
    json!({
        "type": "messageReaction",
        "id": id,
        "timestamp": "2026-11-25T10:00:05.000Z",
        "serviceUrl": fake.service_url(),
        "channelId": "msteams",
        "from": {"id": format!("29:bf-{aad}"), "name": "Ana Lima", "aadObjectId": aad},
        "conversation": {"id": format!("a:dm-{aad}"), "conversationType": "personal", "tenantId": TENANT},
        "recipient": {"id": BOT_ID, "name": "Elena"},
        "replyToId": reply_to,
        "reactionsAdded": [{"type": kind}],
        "channelData": {"tenant": {"id": TENANT}}
    })
}

/// 👍/❤️ and 😢/😠 on the companion's replies are feedback (5 and 1) like Discord's and Slack's
/// reactions: stored, in the satisfaction gauge, never answered; a retried reaction counts once
/// and other reactions say nothing.
#[tokio::test]
async fn reactions_on_the_companions_replies_are_silent_feedback() {
    use sea_orm::EntityTrait;
    for (db, settings) in test_setups().await {
        let fake = FakeBotFramework::start().await;
        let (host, core) = start_host(&fake, settings).await;
        let token = valid_token(&fake.service_url());
        let hello = personal(&fake, "1700000000101", "aad-ana", "Hello there!");
        assert_eq!(
            post_activity(&host, Some(&token), &hello).await,
            StatusCode::OK
        );
        assert_eq!(fake.wait_for_messages(1).await.len(), 1, "{}", db.name);
        let reply = "1700000000102";
        for (id, kind) in [
            ("1700000000201", "like"),
            ("1700000000202", "sad"),
            ("1700000000203", "laugh"),
            ("1700000000204", "heart"),
        ] {
            let activity = reaction_activity(&fake, id, "aad-ana", reply, kind);
            assert_eq!(
                post_activity(&host, Some(&token), &activity).await,
                StatusCode::OK
            );
        }
        // The Bot Framework retries the first one.
        let retried = reaction_activity(&fake, "1700000000201", "aad-ana", reply, "like");
        assert_eq!(
            post_activity(&host, Some(&token), &retried).await,
            StatusCode::OK
        );

        let feedback = || async {
            core.store.flush().await;
            whisperengine::store::entities::feedback::Entity::find()
                .all(&core.store.db)
                .await
                .unwrap()
        };
        for _ in 0..100 {
            if feedback().await.len() >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A moment more: a second feedback for the retried reaction would have arrived by now.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rows = feedback().await;
        let mut scores: Vec<i16> = rows.iter().map(|row| row.score).collect();
        scores.sort_unstable();
        assert_eq!(
            scores,
            vec![1, 5, 5],
            "{}: like, sad and heart, once each",
            db.name
        );
        assert!(
            rows.iter().all(|row| row.platform == "teams"),
            "{}",
            db.name
        );
        assert_eq!(
            fake.wait_for_messages(2).await.len(),
            1,
            "{}: reactions are never answered",
            db.name
        );
        let metrics = scrape(&host).await;
        let satisfaction = sample(
            &metrics,
            "whisperengine_satisfaction_score",
            &["platform=\"teams\""],
        );
        assert!(
            satisfaction.is_some_and(|value| (value - 11.0 / 3.0).abs() < 1e-6),
            "{}: the Teams satisfaction gauge is the mean of 5, 1, 5: {satisfaction:?}",
            db.name
        );
        db.cleanup().await;
    }
}
