//! The Slack connector end to end: the real host (real core, SQLite and — when configured —
//! PostgreSQL + Redis) behind `POST /slack/events` and `POST /slack/commands`, slack-morphism
//! talking to a fake Slack Web API on 127.0.0.1 (`fakes/src/slack.rs`), requests signed here
//! the way Slack signs them, and Socket Mode against the fake's websocket endpoint.
//!
//! Over 500 lines: the Slack connector end to end (HTTP and Socket Mode), one scenario per behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::fake_slack::{Failure, FakeSlack, APP_TOKEN, BOT_TOKEN, BOT_USER, TEAM};
use common::metrics::{sample, scrape};
use common::slack_signing::{sign, signature, signed_command, signed_event, Endpoint};
use common::{link_code_in, say, settings_for, test_setups, unix_now};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use std::time::Duration;
use whisperengine::app::Application;
use whisperengine::config::Settings;
use whisperengine::store::entities::{feedback, memory, platform_account, processed_event};
use whisperengine_contract::{Platform, PlatformAccount};

const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub(crate) const ANA: &str = "U0ANA0001";
const ADMIN: &str = "U0ADMIN01";
const LISTED_ADMIN: &str = "U0LISTED1";
pub(crate) const DM_CHANNEL: &str = "D0ANADM01";

/// The host in HTTP mode (signing secret set), pointed at the fake; returns its base URL and core.
pub(crate) async fn start_host(
    fake: &FakeSlack,
    settings: Settings,
) -> (String, whisperengine::core::Core) {
    common::spawn_app(slack_settings(fake, settings)).await
}

/// `settings` for the HTTP mode against the fake, whose users it adds.
pub(crate) fn slack_settings(fake: &FakeSlack, mut settings: Settings) -> Settings {
    fake.add_user(ANA, "Ana", false);
    fake.add_user(ADMIN, "Boss", true);
    fake.add_user(LISTED_ADMIN, "Listed", false);
    settings.slack_bot_token = Some(BOT_TOKEN.to_string().into());
    settings.slack_signing_secret = Some(SIGNING_SECRET.to_string().into());
    settings.slack_api_url = Some(fake.api_url());
    settings.slack_admin_ids = vec![LISTED_ADMIN.to_string()];
    settings
}

/// Posts `event` to the Events API endpoint, signed; returns the status.
pub(crate) async fn post_event(host: &str, event: &Value) -> u16 {
    signed_event(host, SIGNING_SECRET, &event.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Posts `event` again the way Slack retries it after a slow answer (`X-Slack-Retry-Num: 1`,
/// reason `http_timeout`), signed; returns the status.
async fn post_event_retry(host: &str, event: &Value) -> u16 {
    signed_event(host, SIGNING_SECRET, &event.to_string())
        .header("x-slack-retry-num", "1")
        .header("x-slack-retry-reason", "http_timeout")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The `event_callback` envelope Slack posts for `event`.
pub(crate) fn callback(event_id: &str, event: Value) -> Value {
    json!({
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "team_id": TEAM,
        "api_app_id": "A0TEST",
        "event": event,
        "type": "event_callback",
        "authorizations": [{"enterprise_id": null, "team_id": TEAM, "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false}],
        "is_ext_shared_channel": false,
        "event_id": event_id,
        "event_time": unix_now(),
        "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ"
    })
}

/// A `message.im` event from `user` in their DM with the companion.
pub(crate) fn dm(event_id: &str, ts: &str, user: &str, text: &str) -> Value {
    callback(
        event_id,
        json!({
            "client_msg_id": format!("c-{event_id}"),
            "type": "message", "text": text, "user": user, "ts": ts, "team": TEAM,
            "blocks": [{"type": "rich_text", "block_id": "b1", "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}],
            "channel": DM_CHANNEL, "event_ts": ts, "channel_type": "im"
        }),
    )
}

async fn post_command(
    host: &str,
    fake: &FakeSlack,
    user: &str,
    channel: &str,
    text: &str,
    trigger: &str,
) -> u16 {
    let form = fake.slash_form(user, channel, text, trigger);
    signed_command(host, SIGNING_SECRET, &form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A `reaction_added` event: `user` reacted with `reaction` to a message `item_user` posted in the
/// DM (Slack's documented shape).
fn reaction(event_id: &str, user: &str, reaction: &str, item_user: &str, item_ts: &str) -> Value {
    callback(
        event_id,
        json!({"type": "reaction_added", "user": user, "reaction": reaction, "item_user": item_user,
               "item": {"type": "message", "channel": DM_CHANNEL, "ts": item_ts},
               "event_ts": "1700000099.000100"}),
    )
}

/// Waits (up to 10 s) for `count` feedback rows, then a little longer to catch extras; returns all
/// rows, oldest first.
async fn feedback_rows(core: &whisperengine::core::Core, count: usize) -> Vec<feedback::Model> {
    let all = || async {
        feedback::Entity::find()
            .order_by_asc(feedback::Column::Id)
            .all(&core.store.db)
            .await
            .unwrap()
    };
    for _ in 0..200 {
        if all().await.len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    all().await
}

/// The identity the Slack account `user` belongs to.
async fn slack_identity(core: &whisperengine::core::Core, user: &str) -> uuid::Uuid {
    platform_account::Entity::find()
        .filter(platform_account::Column::Platform.eq("slack"))
        .filter(platform_account::Column::Scope.eq(TEAM))
        .filter(platform_account::Column::UserId.eq(user))
        .one(&core.store.db)
        .await
        .unwrap()
        .expect("the Slack account exists")
        .identity_id
}

/// Web API calls that post something (answered or not), and response_url posts.
fn posts(fake: &FakeSlack) -> Vec<common::fake_slack::Call> {
    fake.calls()
        .into_iter()
        .filter(|call| call.method.starts_with("chat.") || call.method == "response_url")
        .collect()
}

fn text_of(call: &common::fake_slack::Call) -> String {
    call.params["text"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_signed_direct_message_gets_one_threaded_reply_and_retries_get_none() {
    for (db, settings) in test_setups().await {
        let fake = FakeSlack::start().await;
        let (host, _core) = start_host(&fake, settings).await;
        let event = dm("Ev0DM00001", "1700000000.000100", ANA, "Hello there!");
        assert_eq!(post_event(&host, &event).await, 200, "{}", db.name);

        let replies = fake.wait_for("chat.postMessage", 1).await;
        assert_eq!(replies.len(), 1, "{}: {replies:?}", db.name);
        let reply = &replies[0];
        assert_eq!(reply.token.as_deref(), Some(BOT_TOKEN));
        assert_eq!(reply.params["channel"], DM_CHANNEL);
        assert_eq!(
            reply.params["thread_ts"], "1700000000.000100",
            "{}: threaded",
            db.name
        );
        assert!(!text_of(reply).is_empty());
        let lookups = fake.delivered("users.info");
        assert_eq!(lookups[0].http_method, "GET");
        assert_eq!(lookups[0].params["user"], ANA);

        // Slack retries the same event id (after a slow answer, or with X-Slack-Retry-Num): both
        // are acknowledged, neither answered again.
        assert_eq!(post_event(&host, &event).await, 200);
        let status = post_event_retry(&host, &event).await;
        assert_eq!(status, 200);
        assert_eq!(
            fake.wait_for("chat.postMessage", 2).await.len(),
            1,
            "{}",
            db.name
        );
        assert_eq!(
            fake.delivered("users.info").len(),
            1,
            "{}: display name cached",
            db.name
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn replies_are_slack_mrkdwn_and_cannot_ping_the_channel() {
    let db = common::fresh_sqlite();
    let fake = FakeSlack::start().await;
    let (host, _core) = start_host(&fake, settings_for(&db, false)).await;
    assert_eq!(
        post_command(&host, &fake, ANA, DM_CHANNEL, "help", "1.2.help").await,
        200
    );
    let answers = fake.wait_for("chat.postEphemeral", 1).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    let help = text_of(&answers[0]);
    assert!(
        help.starts_with("*Elena Rodriguez* —"),
        "bold is single-star mrkdwn: {help}"
    );
    assert!(!help.contains("**"), "{help}");
    assert!(
        help.contains("\n• `whoami`"),
        "lists become bullets: {help}"
    );

    // Typed literally, `<!here>` reaches the bot escaped; the core stores it as text and, when the
    // reply quotes it back, it is escaped again instead of pinging everyone.
    let told = dm(
        "Ev0DM00777",
        "1700000000.000700",
        ANA,
        "My cat is called &lt;!here&gt;",
    );
    assert_eq!(post_event(&host, &told).await, 200);
    fake.wait_for("chat.postMessage", 1).await;
    let asked = dm(
        "Ev0DM00778",
        "1700000000.000800",
        ANA,
        "What's my cat called?",
    );
    assert_eq!(post_event(&host, &asked).await, 200);
    let replies = fake.wait_for("chat.postMessage", 2).await;
    assert_eq!(replies.len(), 2);
    let recalled = text_of(&replies[1]);
    assert!(
        recalled.contains("&lt;!here&gt;"),
        "the memory is quoted, escaped: {recalled}"
    );
    assert!(!recalled.contains("<!"), "{recalled}");
}

#[tokio::test]
async fn forged_stale_and_unsigned_requests_are_refused_with_401_and_change_nothing() {
    let db = common::fresh_sqlite();
    let fake = FakeSlack::start().await;
    let (host, core) = start_host(&fake, settings_for(&db, false)).await;
    let event = dm("Ev0FORGED1", "1700000000.000200", ANA, "Hello there!").to_string();
    let command = fake.slash_form(ANA, DM_CHANNEL, "link start", "9.9.forged");
    let tampered_event = event.replace("Hello there!", "Hello there?");
    let tampered_command = command.replace("link+start", "admin+audit");
    assert_ne!(tampered_command, command);
    let now = unix_now();
    for (endpoint, body, sent_body, signed) in [
        (
            Endpoint::Events,
            &event,
            &event,
            Some(("wrong-secret", now)),
        ),
        (
            Endpoint::Events,
            &event,
            &tampered_event,
            Some((SIGNING_SECRET, now)),
        ),
        (
            Endpoint::Events,
            &event,
            &event,
            Some((SIGNING_SECRET, now - 600)),
        ),
        (
            Endpoint::Events,
            &event,
            &event,
            Some((SIGNING_SECRET, now + 600)),
        ),
        (Endpoint::Events, &event, &event, None),
        (
            Endpoint::Commands,
            &command,
            &command,
            Some(("wrong-secret", now)),
        ),
        (
            Endpoint::Commands,
            &command,
            &tampered_command,
            Some((SIGNING_SECRET, now)),
        ),
        (
            Endpoint::Commands,
            &command,
            &command,
            Some((SIGNING_SECRET, now - 301)),
        ),
        (Endpoint::Commands, &command, &command, None),
    ] {
        // Sign `body`, send `sent_body` (different when the body was modified in transit).
        let mut request = endpoint.post(&host, sent_body);
        if let Some((secret, timestamp)) = signed {
            request = sign(request, secret, timestamp, body);
        }
        let status = request.send().await.unwrap().status().as_u16();
        assert_eq!(
            status,
            401,
            "{endpoint:?} {signed:?} modified={}",
            body != sent_body
        );
    }
    // A signature without its timestamp header is as good as none.
    let status = Endpoint::Events
        .post(&host, &event)
        .header("x-slack-signature", signature(SIGNING_SECRET, now, &event))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 401);

    tokio::time::sleep(Duration::from_millis(400)).await;
    let calls = fake.calls();
    assert!(calls.is_empty(), "nothing reached Slack: {calls:?}");
    assert_eq!(
        processed_event::Entity::find()
            .count(&core.store.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        memory::Entity::find().count(&core.store.db).await.unwrap(),
        0
    );

    let metrics = scrape(&host).await;
    for reason in ["bad_signature", "stale_timestamp", "missing_signature"] {
        let label = format!("reason=\"{reason}\"");
        assert!(
            sample(
                &metrics,
                "whisperengine_slack_requests_rejected_total",
                &[&label]
            )
            .is_some(),
            "metric for {reason} in:\n{metrics}"
        );
    }
}

#[tokio::test]
async fn url_verification_is_answered_only_when_signed() {
    let db = common::fresh_sqlite();
    let fake = FakeSlack::start().await;
    let (host, _core) = start_host(&fake, settings_for(&db, false)).await;
    let body = json!({
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification"
    })
    .to_string();
    let unsigned = Endpoint::Events.post(&host, &body).send().await.unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    assert!(!unsigned.text().await.unwrap().contains("3eZbrw1a"));
    let signed = signed_event(&host, SIGNING_SECRET, &body)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status().as_u16(), 200);
    let answer: Value = signed.json().await.unwrap();
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
}

#[tokio::test]
async fn malformed_bodies_get_400_and_oversized_bodies_413_without_a_reply() {
    let db = common::fresh_sqlite();
    let fake = FakeSlack::start().await;
    let (host, _core) = start_host(&fake, settings_for(&db, false)).await;
    for (endpoint, body) in [
        (Endpoint::Events, "{\"type\": \"event_callback\", "),
        (Endpoint::Events, "{\"type\": \"something_else\"}"),
        (Endpoint::Events, "[]"),
        (Endpoint::Commands, "team_id=T1&text=link"),
        (Endpoint::Commands, "%%%"),
    ] {
        let status = endpoint
            .signed(&host, SIGNING_SECRET, body)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 400, "{endpoint:?} {body}");
    }
    let huge = dm(
        "Ev0HUGE001",
        "1700000000.000300",
        ANA,
        &"a".repeat(200 * 1024),
    )
    .to_string();
    let status = signed_event(&host, SIGNING_SECRET, &huge)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 413);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fake.delivered("chat.postMessage").is_empty());
    assert!(fake.delivered("chat.postEphemeral").is_empty());
}

#[tokio::test]
async fn a_code_from_a_slack_command_redeemed_locally_brings_local_memory_into_slack_replies() {
    for (db, settings) in test_setups().await {
        let fake = FakeSlack::start().await;
        let (host, core) = start_host(&fake, settings).await;
        let desktop =
            PlatformAccount::new(Platform::Desktop, "", "alice").with_display_name("Alice");
        say(&core, common::message(&desktop, "My cat is called Miso")).await;

        assert_eq!(
            post_command(&host, &fake, ANA, DM_CHANNEL, "link start", "100.1.link").await,
            200
        );
        let answers = fake.wait_for("chat.postEphemeral", 1).await;
        assert_eq!(answers.len(), 1, "{}: {answers:?}", db.name);
        assert_eq!(
            answers[0].params["user"], ANA,
            "{}: only Ana sees it",
            db.name
        );
        assert_eq!(answers[0].params["channel"], DM_CHANNEL);
        let code = link_code_in(&text_of(&answers[0]), "*");
        assert!(
            fake.delivered("chat.postMessage").is_empty(),
            "{}: nothing public",
            db.name
        );

        let linked = say(
            &core,
            common::command(&desktop, &format!("link {code}"), false),
        )
        .await;
        assert!(linked.starts_with("Linked!"), "{}: {linked}", db.name);

        let question = dm(
            "Ev0LINK002",
            "1700000000.000500",
            ANA,
            "What's my cat called?",
        );
        assert_eq!(post_event(&host, &question).await, 200);
        let replies = fake.wait_for("chat.postMessage", 1).await;
        assert_eq!(replies.len(), 1, "{}", db.name);
        let answer = text_of(&replies[0]);
        assert!(
            answer.contains("Miso"),
            "{}: the Slack reply recalls the local fact: {answer}",
            db.name
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn whoami_and_memory_answer_with_block_kit_in_ephemeral_messages() {
    let db = common::fresh_sqlite();
    let fake = FakeSlack::start().await;
    let (host, _core) = start_host(&fake, settings_for(&db, false)).await;
    assert_eq!(
        post_event(
            &host,
            &dm("Ev0MEM0001", "1700000000.000600", ANA, "I love sailing")
        )
        .await,
        200
    );
    fake.wait_for("chat.postMessage", 1).await;
    assert_eq!(
        post_command(&host, &fake, ANA, "C0GENERAL1", "whoami", "200.1.who").await,
        200
    );
    assert_eq!(
        post_command(&host, &fake, ANA, DM_CHANNEL, "memory", "200.2.mem").await,
        200
    );
    let answers = fake.wait_for("chat.postEphemeral", 2).await;
    assert_eq!(answers.len(), 2, "{answers:?}");
    let whoami = answers
        .iter()
        .find(|a| a.params["channel"] == "C0GENERAL1")
        .unwrap();
    assert_eq!(
        whoami.params["user"], ANA,
        "personal answers in a channel are ephemeral"
    );
    let blocks = whoami.params["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "Who you are to me");
    assert!(blocks.iter().any(|b| b["type"] == "section"));
    assert!(serde_json::to_string(blocks)
        .unwrap()
        .contains(&format!("slack:{TEAM}/{ANA}")));
    let memory = answers
        .iter()
        .find(|a| a.params["channel"] == DM_CHANNEL)
        .unwrap();
    let blocks = serde_json::to_string(&memory.params["blocks"]).unwrap();
    assert!(blocks.contains("sailing"), "{blocks}");
}

#[tokio::test]
async fn admin_commands_follow_slack_admin_ids_only_never_workspace_admin_flags() {
    let db = common::fresh_sqlite();
    let fake = FakeSlack::start().await;
    let (host, _core) = start_host(&fake, settings_for(&db, false)).await;
    for (user, trigger) in [(ANA, "300.1"), (ADMIN, "300.2"), (LISTED_ADMIN, "300.3")] {
        assert_eq!(
            post_command(&host, &fake, user, "C0GENERAL1", "admin audit", trigger).await,
            200
        );
    }
    let answers = fake.wait_for("chat.postEphemeral", 3).await;
    assert_eq!(answers.len(), 3);
    let answer_to = |user: &str| {
        text_of(
            answers
                .iter()
                .find(|a| a.params["user"] == user)
                .expect("an answer"),
        )
    };
    assert!(answer_to(ANA).contains("Only admins"), "{}", answer_to(ANA));
    assert!(
        answer_to(ADMIN).contains("Only admins"),
        "a workspace admin is no host admin: {}",
        answer_to(ADMIN)
    );
    assert!(
        !answer_to(LISTED_ADMIN).contains("Only admins"),
        "SLACK_ADMIN_IDS: {}",
        answer_to(LISTED_ADMIN)
    );
}

#[tokio::test]
async fn mentions_are_answered_in_their_thread_and_bots_edits_and_own_messages_are_ignored() {
    let db = common::fresh_sqlite();
    let fake = FakeSlack::start().await;
    let (host, _core) = start_host(&fake, settings_for(&db, false)).await;
    let mention = callback(
        "Ev0MENTION",
        json!({"type": "app_mention", "user": ANA, "text": format!("<@{BOT_USER}> how are you?"),
               "ts": "1700000001.000100", "thread_ts": "1700000000.000900", "team": TEAM,
               "channel": "C0GENERAL1", "event_ts": "1700000001.000100"}),
    );
    let mut bot = dm("Ev0BOT0001", "1700000002.000100", "U0OTHERBOT", "beep");
    bot["event"]["subtype"] = json!("bot_message");
    bot["event"]["bot_id"] = json!("B0OTHER01");
    let mut own = dm("Ev0OWN0001", "1700000003.000100", BOT_USER, "my own reply");
    own["event"]["bot_id"] = json!(common::fake_slack::BOT_ID);
    let edit = callback(
        "Ev0EDIT001",
        json!({"type": "message", "subtype": "message_changed", "hidden": true, "channel": DM_CHANNEL,
               "channel_type": "im", "ts": "1700000004.000100", "event_ts": "1700000004.000100",
               "message": {"type": "message", "user": ANA, "text": "edited", "ts": "1700000000.000100"},
               "previous_message": {"type": "message", "user": ANA, "text": "hi", "ts": "1700000000.000100"}}),
    );
    let reaction = callback(
        "Ev0REACT01",
        json!({"type": "reaction_added", "user": ANA, "reaction": "tada", "item_user": BOT_USER,
               "item": {"type": "message", "channel": DM_CHANNEL, "ts": "1700000000.000100"},
               "event_ts": "1700000005.000100"}),
    );
    for event in [&bot, &own, &edit, &reaction, &mention] {
        assert_eq!(post_event(&host, event).await, 200);
    }
    let replies = fake.wait_for("chat.postMessage", 1).await;
    assert_eq!(
        replies.len(),
        1,
        "only the mention is answered: {replies:?}"
    );
    assert_eq!(replies[0].params["channel"], "C0GENERAL1");
    assert_eq!(
        replies[0].params["thread_ts"], "1700000000.000900",
        "in the mention's thread"
    );
}

#[tokio::test]
async fn thumbs_on_the_companions_replies_are_silent_feedback_recorded_once_per_event() {
    for (db, settings) in test_setups().await {
        let fake = FakeSlack::start().await;
        fake.add_user("U0CAROL01", "Carol", false);
        fake.add_bot_user("U0OTHERBOT", "Pollster");
        let (host, core) = start_host(&fake, settings).await;
        let said = "1700000030.000100";
        assert_eq!(
            post_event(&host, &dm("Ev0FBDM001", said, ANA, "Hello!")).await,
            200
        );
        assert_eq!(
            fake.wait_for("chat.postMessage", 1).await.len(),
            1,
            "{}",
            db.name
        );
        let reply_ts = "1700000031.000100";

        // Ignored: a 👍 on Ana's own message, an emoji that is not a thumb, the companion's own 👍,
        // another app's bot's 👍.
        for ignored in [
            reaction("Ev0FBOTHR1", "U0CAROL01", "+1", ANA, said),
            reaction("Ev0FBBOT01", "U0OTHERBOT", "+1", BOT_USER, reply_ts),
            reaction("Ev0FBTADA1", ANA, "tada", BOT_USER, reply_ts),
            reaction("Ev0FBSELF1", BOT_USER, "+1", BOT_USER, reply_ts),
        ] {
            assert_eq!(post_event(&host, &ignored).await, 200, "{}", db.name);
        }
        let thumbs_up = reaction("Ev0FBUP001", ANA, "+1::skin-tone-3", BOT_USER, reply_ts);
        assert_eq!(post_event(&host, &thumbs_up).await, 200, "{}", db.name);
        let rows = feedback_rows(&core, 1).await;
        assert_eq!(
            rows.len(),
            1,
            "{}: only the 👍 on the reply: {rows:?}",
            db.name
        );
        let ana = slack_identity(&core, ANA).await;
        assert_eq!(rows[0].identity_id, ana, "{}", db.name);
        assert_eq!(rows[0].platform, "slack", "{}", db.name);
        assert_eq!(rows[0].score, 5, "{}", db.name);
        assert_eq!(
            rows[0].comment.as_deref(),
            Some("(reaction)"),
            "{}",
            db.name
        );

        // 👎 scores 1; Slack retrying that event (same event_id) adds nothing.
        let thumbs_down = reaction("Ev0FBDOWN1", ANA, "-1", BOT_USER, reply_ts);
        assert_eq!(post_event(&host, &thumbs_down).await, 200, "{}", db.name);
        let rows = feedback_rows(&core, 2).await;
        assert_eq!(rows.len(), 2, "{}: {rows:?}", db.name);
        assert_eq!(
            (
                rows[1].identity_id,
                rows[1].platform.as_str(),
                rows[1].score
            ),
            (ana, "slack", 1),
            "{}",
            db.name
        );
        let status = post_event_retry(&host, &thumbs_down).await;
        assert_eq!(status, 200, "{}", db.name);
        assert_eq!(post_event(&host, &thumbs_down).await, 200, "{}", db.name);
        // A later, new 👍 marks the point by which the retries were handled too.
        let again = reaction("Ev0FBUP002", ANA, "thumbsup", BOT_USER, reply_ts);
        assert_eq!(post_event(&host, &again).await, 200, "{}", db.name);
        let rows = feedback_rows(&core, 3).await;
        let scores: Vec<i16> = rows.iter().map(|row| row.score).collect();
        assert_eq!(
            scores,
            [5, 1, 5],
            "{}: retries are dropped: {rows:?}",
            db.name
        );
        assert_eq!(
            platform_account::Entity::find()
                .filter(platform_account::Column::UserId.eq("U0CAROL01"))
                .count(&core.store.db)
                .await
                .unwrap(),
            0,
            "{}: Carol's 👍 on Ana's message never reached the core",
            db.name
        );
        assert_eq!(
            platform_account::Entity::find()
                .filter(platform_account::Column::UserId.eq("U0OTHERBOT"))
                .count(&core.store.db)
                .await
                .unwrap(),
            0,
            "{}: a bot's 👍 never reached the core",
            db.name
        );

        // Reactions are silent: the only post is the answer to Ana's DM.
        let posted = posts(&fake);
        assert_eq!(posted.len(), 1, "{}: {posted:?}", db.name);
        assert_eq!(posted[0].method, "chat.postMessage", "{}", db.name);
        assert_eq!(posted[0].params["thread_ts"], said, "{}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn web_api_errors_are_retried_or_reported_and_the_connector_keeps_working() {
    let db = common::fresh_sqlite();
    let fake = FakeSlack::start().await;
    let (host, _core) = start_host(&fake, settings_for(&db, false)).await;

    fake.fail_next("chat.postMessage", Failure::RateLimited(1));
    assert_eq!(
        post_event(&host, &dm("Ev0RATE001", "1700000010.000100", ANA, "Hello!")).await,
        200
    );
    let replies = fake.wait_for("chat.postMessage", 1).await;
    assert_eq!(replies.len(), 1, "delivered after Retry-After");
    let attempts = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage")
        .count();
    assert_eq!(attempts, 2, "one 429, one retry");

    fake.fail_next("chat.postMessage", Failure::Error("channel_not_found"));
    assert_eq!(
        post_event(
            &host,
            &dm("Ev0GONE001", "1700000011.000100", ANA, "Still there?")
        )
        .await,
        200
    );
    assert_eq!(
        fake.wait_for("chat.postMessage", 2).await.len(),
        1,
        "not delivered, not retried"
    );

    // A slash command in a channel the bot is not in: postEphemeral refuses, response_url answers.
    fake.fail_next("chat.postEphemeral", Failure::Error("channel_not_found"));
    assert_eq!(
        post_command(&host, &fake, ANA, "C0NOTJOIN1", "sync status", "400.1").await,
        200
    );
    let responses = fake.wait_for("response_url", 1).await;
    assert_eq!(responses.len(), 1);
    assert!(!text_of(&responses[0]).is_empty());

    assert_eq!(
        post_event(
            &host,
            &dm("Ev0AFTER01", "1700000012.000100", ANA, "And now?")
        )
        .await,
        200
    );
    assert_eq!(
        fake.wait_for("chat.postMessage", 2).await.len(),
        2,
        "the connector still answers"
    );
    let metrics = scrape(&host).await;
    assert!(
        sample(
            &metrics,
            "whisperengine_slack_api_errors_total",
            &["code=\"channel_not_found\""]
        )
        .is_some(),
        "{metrics}"
    );
}

#[tokio::test]
async fn socket_mode_envelopes_are_acknowledged_with_their_envelope_id_and_answered() {
    for (db, mut settings) in test_setups().await {
        let fake = FakeSlack::start().await;
        fake.add_user(ANA, "Ana", false);
        settings.slack_bot_token = Some(BOT_TOKEN.to_string().into());
        settings.slack_app_token = Some(APP_TOKEN.to_string().into());
        settings.slack_api_url = Some(fake.api_url());
        let application = Application::build(settings).await.expect("the host builds");
        let core = application.core.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(application.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        assert!(
            fake.wait_for_sockets(1).await >= 1,
            "{}: connected",
            db.name
        );
        let opened = fake.delivered("apps.connections.open");
        assert_eq!(opened[0].token.as_deref(), Some(APP_TOKEN), "{}", db.name);

        let envelope_id = "57d6a792-4d35-4d0b-b6aa-3361493e1caf";
        fake.send_frame(&json!({
            "envelope_id": envelope_id,
            "payload": dm("Ev0SOCKET1", "1700000020.000100", ANA, "Hello over the socket"),
            "type": "events_api",
            "accepts_response_payload": false,
            "retry_attempt": 0,
            "retry_reason": ""
        }));
        let ack = fake
            .wait_for_ack(envelope_id)
            .await
            .expect("an acknowledgement");
        assert_eq!(ack["envelope_id"], envelope_id, "{}", db.name);
        let replies = fake.wait_for("chat.postMessage", 1).await;
        assert_eq!(replies.len(), 1, "{}: {replies:?}", db.name);
        assert_eq!(replies[0].params["channel"], DM_CHANNEL);
        assert_eq!(replies[0].params["thread_ts"], "1700000020.000100");

        // A frame that does not parse is acknowledged (so Slack does not redeliver it) and dropped.
        let broken_envelope = "9b1e-broken-envelope";
        fake.send_frame(&json!({
            "envelope_id": broken_envelope, "type": "events_api",
            "payload": {"type": "event_callback", "event": "not an event"},
            "accepts_response_payload": false
        }));
        assert!(
            fake.wait_for_ack(broken_envelope).await.is_some(),
            "{}",
            db.name
        );

        let command_envelope = "0f5a1c2e-socket-command";
        let form = fake.slash_form(ANA, DM_CHANNEL, "link start", "500.1.sock");
        let payload: serde_json::Map<String, Value> = url::form_urlencoded::parse(form.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        fake.send_frame(&json!({
            "envelope_id": command_envelope, "payload": payload, "type": "slash_commands",
            "accepts_response_payload": true
        }));
        assert!(
            fake.wait_for_ack(command_envelope).await.is_some(),
            "{}",
            db.name
        );
        let answers = fake.wait_for("chat.postEphemeral", 1).await;
        assert_eq!(answers.len(), 1, "{}", db.name);
        assert!(text_of(&answers[0]).contains("link code"), "{}", db.name);
        assert_eq!(
            fake.delivered("chat.postMessage").len(),
            1,
            "{}: the broken frame got no reply",
            db.name
        );

        // A 👎 on the companion's reply, over the socket: acknowledged, feedback 1, no answer.
        let reaction_envelope = "3c7e-socket-reaction";
        fake.send_frame(&json!({
            "envelope_id": reaction_envelope, "type": "events_api",
            "payload": reaction("Ev0SOCKRE1", ANA, "thumbsdown", BOT_USER, "1700000021.000100"),
            "accepts_response_payload": false, "retry_attempt": 0, "retry_reason": ""
        }));
        assert!(
            fake.wait_for_ack(reaction_envelope).await.is_some(),
            "{}",
            db.name
        );
        let rows = feedback_rows(&core, 1).await;
        let scores: Vec<(&str, i16)> = rows
            .iter()
            .map(|row| (row.platform.as_str(), row.score))
            .collect();
        assert_eq!(scores, [("slack", 1)], "{}", db.name);
        assert_eq!(
            rows[0].identity_id,
            slack_identity(&core, ANA).await,
            "{}",
            db.name
        );
        assert_eq!(
            posts(&fake).len(),
            2,
            "{}: DM reply and command answer only",
            db.name
        );

        stop.send(()).unwrap();
        let finished = tokio::time::timeout(Duration::from_secs(15), running).await;
        assert!(
            matches!(finished, Ok(Ok(Ok(())))),
            "{}: the host stops cleanly",
            db.name
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_connector_is_off_in_desktop_mode() {
    let db = common::fresh_sqlite();
    let fake = FakeSlack::start().await;
    let mut settings = settings_for(&db, false);
    settings.deployment_mode = whisperengine::config::DeploymentMode::Desktop;
    let (host, _core) = start_host(&fake, settings).await;
    let event = dm("Ev0DESK001", "1700000030.000100", ANA, "Hello");
    assert_eq!(post_event(&host, &event).await, 404);
}

#[tokio::test]
async fn doctor_checks_the_slack_bot_token_with_auth_test() {
    let db = common::fresh_sqlite();
    let fake = FakeSlack::start().await;
    let mut settings = settings_for(&db, false);
    settings.slack_bot_token = Some(BOT_TOKEN.to_string().into());
    settings.slack_signing_secret = Some(SIGNING_SECRET.to_string().into());
    settings.slack_api_url = Some(fake.api_url());
    let slack_row = |report: Vec<whisperengine::doctor::Check>| {
        report
            .into_iter()
            .find(|check| check.name == "slack")
            .expect("a slack row")
    };
    let good = slack_row(whisperengine::doctor::checks(&settings).await);
    assert_eq!(
        good.status,
        whisperengine::doctor::Status::Ok,
        "{}",
        good.detail
    );
    assert!(
        good.detail.contains(TEAM) && good.detail.contains(BOT_USER),
        "{}",
        good.detail
    );
    assert_eq!(fake.delivered("auth.test").len(), 1);

    settings.slack_bot_token = Some("xoxb-revoked-token".to_string().into());
    let bad = slack_row(whisperengine::doctor::checks(&settings).await);
    assert_eq!(bad.status, whisperengine::doctor::Status::Failing);
    assert!(bad.detail.contains("invalid_auth"), "{}", bad.detail);
    assert!(
        !bad.detail.contains("xoxb-revoked"),
        "no token in the report"
    );

    // Socket Mode: the app-level token is checked too.
    settings.slack_bot_token = Some(BOT_TOKEN.to_string().into());
    settings.slack_app_token = Some(APP_TOKEN.to_string().into());
    let socket = slack_row(whisperengine::doctor::checks(&settings).await);
    assert_eq!(
        socket.status,
        whisperengine::doctor::Status::Ok,
        "{}",
        socket.detail
    );
    assert!(
        socket.detail.contains("apps.connections.open ok"),
        "{}",
        socket.detail
    );
    settings.slack_app_token = Some("xapp-1-revoked".to_string().into());
    let refused = slack_row(whisperengine::doctor::checks(&settings).await);
    assert_eq!(refused.status, whisperengine::doctor::Status::Failing);
    assert!(
        refused
            .detail
            .contains("apps.connections.open failed: invalid_auth"),
        "{}",
        refused.detail
    );
    assert!(
        !refused.detail.contains("xapp-1-revoked"),
        "{}",
        refused.detail
    );
}

#[tokio::test]
async fn a_refused_app_token_stops_socket_mode_once_and_the_host_keeps_serving() {
    let db = common::fresh_sqlite();
    let fake = FakeSlack::start().await;
    let mut settings = settings_for(&db, false);
    settings.slack_bot_token = Some(BOT_TOKEN.to_string().into());
    settings.slack_app_token = Some("xapp-1-revoked".to_string().into());
    settings.slack_api_url = Some(fake.api_url());
    let application = Application::build(settings).await.expect("the host builds");
    let host = format!("http://{}", application.address());
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let opens: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|call| call.method == "apps.connections.open")
        .collect();
    assert_eq!(opens.len(), 1, "asked once by the token check; no Socket Mode clients (two by default) were started: {opens:?}");
    assert!(!opens[0].ok);
    assert_eq!(fake.wait_for_sockets(0).await, 0, "no websocket opened");
    let health = reqwest::get(format!("{host}/healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test]
async fn a_code_typed_in_a_slack_dm_links_the_account_like_the_slash_command() {
    let db = common::fresh_sqlite();
    let fake = FakeSlack::start().await;
    let (host, core) = start_host(&fake, settings_for(&db, false)).await;
    let desktop = PlatformAccount::new(Platform::Desktop, "", "alice");
    say(&core, common::message(&desktop, "I live in Porto")).await;
    let issued = say(&core, common::command(&desktop, "link start", false)).await;
    let code = link_code_in(&issued, "**");

    let typed = dm(
        "Ev0TYPED01",
        "1700000040.000100",
        ANA,
        &format!("link {code}"),
    );
    assert_eq!(post_event(&host, &typed).await, 200);
    let replies = fake.wait_for("chat.postMessage", 1).await;
    assert_eq!(replies.len(), 1);
    assert!(
        text_of(&replies[0]).starts_with("Linked!"),
        "{}",
        text_of(&replies[0])
    );

    let question = dm("Ev0TYPED02", "1700000041.000100", ANA, "Where do I live?");
    assert_eq!(post_event(&host, &question).await, 200);
    let replies = fake.wait_for("chat.postMessage", 2).await;
    assert!(
        text_of(&replies[1]).contains("Porto"),
        "{}",
        text_of(&replies[1])
    );
}
