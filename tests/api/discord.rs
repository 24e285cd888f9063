//! The Discord connector end to end: the real host (real core, SQLite and — when configured —
//! PostgreSQL + Redis) with serenity pointed at a fake Discord on 127.0.0.1 (REST + gateway
//! websocket, `fakes/src/discord.rs`). Gateway payloads are Discord's documented shapes
//! (`adapters/discord/src/tests/payloads.rs`).
//!
//! Over 500 lines: the Discord connector end to end, one scenario per behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::common::fake_discord;
use crate::common::payloads;

use common::{link_code_in, settings_for, test_setups};
use fake_discord::FakeDiscord;
use payloads::*;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};
use std::time::Duration;
use whisperengine::app::Application;
use whisperengine::config::Settings;
use whisperengine::store::entities::{
    audit_log, feedback, link_code, memory, platform_account, processed_event,
};

const TOKEN: &str = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.fake.bot-token";
const ANA: &str = "80351110224678912";
const DM_CHANNEL: &str = "1600000000000000001";
/// In DISCORD_ADMIN_IDS.
const ADMIN: &str = "80351110224678999";
/// No Administrator (8) or Manage Server (32) bit.
const MEMBER_PERMISSIONS: &str = "1071698660929";
const MESSAGE_CONTENT_INTENT: u64 = 1 << 15;
const GUILD_MESSAGE_REACTIONS_INTENT: u64 = 1 << 10;
const DIRECT_MESSAGE_REACTIONS_INTENT: u64 = 1 << 13;

fn ana() -> Value {
    user(ANA, "ana", Some("Ana"), false)
}

/// A running host and a way to stop it.
struct Host {
    base: String,
    core: whisperengine::core::Core,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Host {
    /// Stops the host and checks it shut down cleanly (shards stopped, hot layer flushed).
    async fn stop(self) {
        let _ = self.stop.send(());
        let finished = tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the host stops within 20 s");
        finished.unwrap().expect("the host stops without error");
    }
}

fn discord_settings(fake: &FakeDiscord, mut settings: Settings, token: &str) -> Settings {
    settings.discord_token = Some(token.to_string().into());
    settings.discord_api_url = Some(fake.api_url().parse().unwrap());
    settings.discord_admin_ids = vec![ADMIN.to_string()];
    settings.discord_channels = vec![LISTED_CHANNEL.to_string()];
    settings
}

async fn start_host(settings: Settings) -> Host {
    let application = Application::build(settings).await.expect("the host builds");
    let base = format!("http://{}", application.address());
    let core = application.core.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(application.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Host {
        base,
        core,
        stop,
        task,
    }
}

/// The host on `settings`, talking to a ready fake Discord.
async fn start_with_discord(settings: Settings) -> (FakeDiscord, Host) {
    let fake = FakeDiscord::start(TOKEN).await;
    let host = start_host(discord_settings(&fake, settings, TOKEN)).await;
    fake.wait_until_ready().await;
    (fake, host)
}

fn dm(id: &str, text: &str) -> Value {
    dm_message(id, DM_CHANNEL, ana(), text)
}

/// Sends `/name options…` from Ana in her DM and returns the body of the answer's edit.
async fn slash_in_dm(fake: &FakeDiscord, id: &str, name: &str, options: Vec<Value>) -> Value {
    let token = format!("token-{id}");
    fake.dispatch(
        "INTERACTION_CREATE",
        command_interaction(
            id,
            &token,
            ana(),
            Invoked::Dm {
                channel: DM_CHANNEL,
            },
            name,
            options,
        ),
    );
    fake.wait_for_answer(id, &token).await
}

/// The body of the interaction's callback (`POST /interactions/{id}/{token}/callback`).
fn callback(fake: &FakeDiscord, id: &str) -> Value {
    fake.interaction_calls(id, &format!("token-{id}"))
        .into_iter()
        .find(|call| call.path.ends_with("/callback"))
        .map(|call| call.body)
        .expect("the interaction was acknowledged")
}

fn content(body: &Value) -> String {
    body["content"].as_str().unwrap_or_default().to_string()
}

async fn local_chat(host: &Host, user: &str, text: &str) -> String {
    let response: Value = reqwest::Client::new()
        .post(format!("{}/api/chat", host.base))
        .bearer_auth(common::LOCAL_API_TOKEN)
        .json(&json!({ "text": text, "user": user }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["reply"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn dms_and_server_mentions_get_one_reply_each_that_pings_nobody() {
    for (db, settings) in test_setups().await {
        let (fake, host) = start_with_discord(settings).await;
        let identify = &fake.identifies()[0];
        assert_eq!(identify["token"], format!("Bot {TOKEN}"));
        let intents = identify["intents"].as_u64().unwrap();
        assert_ne!(
            intents & MESSAGE_CONTENT_INTENT,
            0,
            "Message Content is asked for"
        );
        let registered = fake
            .calls()
            .into_iter()
            .find(|call| call.method == "PUT")
            .unwrap();
        assert_eq!(
            registered.path,
            format!("/api/v10/applications/{APPLICATION_ID}/commands"),
            "{}: global registration without DISCORD_GUILD_ID",
            db.name
        );
        assert_eq!(registered.body.as_array().unwrap().len(), 13);

        fake.dispatch(
            "MESSAGE_CREATE",
            dm("1500000000000000001", "Hello there, I'm Ana!"),
        );
        let replies = fake.wait_for_messages(DM_CHANNEL, 1).await;
        assert_eq!(
            replies.len(),
            1,
            "{}: exactly one reply: {replies:?}",
            db.name
        );
        let reply = &replies[0];
        assert_eq!(
            reply.authorization.as_deref(),
            Some(format!("Bot {TOKEN}").as_str())
        );
        assert!(!content(&reply.body).is_empty(), "{}", db.name);
        assert_eq!(
            reply.body["allowed_mentions"],
            json!({"parse": [], "users": [], "roles": [], "replied_user": false}),
            "{}: the reply cannot ping anyone",
            db.name
        );
        assert!(
            fake.calls().iter().any(|call| call.method == "POST"
                && call.path == format!("/api/v10/channels/{DM_CHANNEL}/typing")),
            "{}: typing… was shown",
            db.name
        );

        // The bot's own message echoed back by the gateway is not answered.
        fake.dispatch(
            "MESSAGE_CREATE",
            dm_message(
                "1500000000000000002",
                DM_CHANNEL,
                bot_user(),
                "My own words",
            ),
        );
        // In a server: a message without a mention is left alone, a mention is answered as a reply.
        fake.dispatch(
            "MESSAGE_CREATE",
            guild_message(
                "1500000000000000003",
                GENERAL_CHANNEL,
                ana(),
                &[],
                "just chatting",
                vec![],
            ),
        );
        fake.dispatch(
            "MESSAGE_CREATE",
            guild_message(
                "1500000000000000004",
                GENERAL_CHANNEL,
                ana(),
                &[MODERATOR_ROLE],
                &format!("<@{BOT_ID}> good morning!"),
                vec![bot_user()],
            ),
        );
        let in_guild = fake.wait_for_messages(GENERAL_CHANNEL, 1).await;
        assert_eq!(
            in_guild.len(),
            1,
            "{}: only the mention is answered",
            db.name
        );
        assert_eq!(
            in_guild[0].body["message_reference"]["message_id"], "1500000000000000004",
            "{}: the answer replies to the mention",
            db.name
        );
        assert_eq!(
            fake.messages_to(DM_CHANNEL).len(),
            1,
            "{}: no loop on its own message",
            db.name
        );
        // In the server, one member's facts are not surfaced to another member.
        let mention = |id: &str, author: Value, text: &str| {
            guild_message(
                id,
                LISTED_CHANNEL,
                author,
                &[],
                &format!("<@{BOT_ID}> {text}"),
                vec![bot_user()],
            )
        };
        let bo = user("90000000000000001", "bo", Some("Bo"), false);
        fake.dispatch(
            "MESSAGE_CREATE",
            mention("1500000000000000005", ana(), "My dog is called Rex"),
        );
        fake.wait_for_messages(LISTED_CHANNEL, 1).await;
        fake.dispatch(
            "MESSAGE_CREATE",
            mention("1500000000000000006", bo, "What's my dog called?"),
        );
        let to_bo = fake.wait_for_messages(LISTED_CHANNEL, 2).await;
        assert!(
            !content(&to_bo[1].body).contains("Rex"),
            "{}: {:?}",
            db.name,
            to_bo[1].body
        );
        fake.dispatch(
            "MESSAGE_CREATE",
            mention("1500000000000000007", ana(), "What's my dog called?"),
        );
        let to_ana = fake.wait_for_messages(LISTED_CHANNEL, 3).await;
        assert!(
            content(&to_ana[2].body).contains("Rex"),
            "{}: Ana's own fact is recalled for her: {:?}",
            db.name,
            to_ana[2].body
        );

        // /help is not personal: deferred publicly and answered in place.
        let help = slash_in_dm(&fake, "1800000000000000001", "help", vec![]).await;
        assert!(
            content(&help).contains("here is what you can ask me"),
            "{}: {help}",
            db.name
        );
        let acknowledged = callback(&fake, "1800000000000000001");
        assert_eq!(acknowledged["type"], 5, "{}", db.name);
        assert_ne!(
            acknowledged["data"]["flags"], 64,
            "{}: /help is public",
            db.name
        );

        // HELLO asked for a heartbeat every 1.5 s; the fake acknowledges each (op 11), or serenity
        // would reconnect.
        fake.wait_until("a heartbeat", |fake| fake.heartbeats() >= 2)
            .await;
        assert_eq!(
            fake.connections(),
            1,
            "{}: heartbeats were acknowledged",
            db.name
        );
        host.stop().await;
        db.cleanup().await;
    }
}

/// DISCORD_SHOW_TYPING=false: the reply comes without "typing…" first (it is on by default, see
/// the test above).
#[tokio::test]
async fn with_typing_off_a_reply_comes_without_typing_first() {
    for (db, mut settings) in test_setups().await {
        settings.platform_overrides.discord.show_typing = Some(false);
        let (fake, host) = start_with_discord(settings).await;
        fake.dispatch(
            "MESSAGE_CREATE",
            dm("1500000000000000071", "Hello there, I'm Ana!"),
        );
        let replies = fake.wait_for_messages(DM_CHANNEL, 1).await;
        assert_eq!(replies.len(), 1, "{}", db.name);
        assert!(
            !fake
                .calls()
                .iter()
                .any(|call| call.path.ends_with("/typing")),
            "{}: no typing indicator",
            db.name
        );
        host.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_code_from_link_start_redeemed_locally_links_and_discord_then_recalls_the_local_fact() {
    for (db, settings) in test_setups().await {
        let (fake, host) = start_with_discord(settings).await;
        fake.dispatch(
            "MESSAGE_CREATE",
            dm("1500000000000000010", "Hi, nice to meet you"),
        );
        fake.wait_for_messages(DM_CHANNEL, 1).await;

        let answer = slash_in_dm(
            &fake,
            "1800000000000000010",
            "link",
            vec![subcommand("start", vec![])],
        )
        .await;
        let acknowledged = callback(&fake, "1800000000000000010");
        assert_eq!(acknowledged["type"], 5, "{}: deferred at once", db.name);
        assert_eq!(acknowledged["data"]["flags"], 64, "{}: ephemeral", db.name);
        let order: Vec<String> = fake
            .interaction_calls("1800000000000000010", "token-1800000000000000010")
            .into_iter()
            .map(|call| call.method)
            .collect();
        assert_eq!(
            order,
            ["POST", "PATCH"],
            "{}: acknowledged before the core answered",
            db.name
        );
        let code = link_code_in(&content(&answer), "**");

        local_chat(&host, "ana", "My cat is called Miso").await;
        let linked = local_chat(&host, "ana", &format!("/link {code}")).await;
        assert!(linked.starts_with("Linked!"), "{}: {linked}", db.name);

        fake.dispatch(
            "MESSAGE_CREATE",
            dm("1500000000000000011", "What's my cat called?"),
        );
        let replies = fake.wait_for_messages(DM_CHANNEL, 2).await;
        let recalled = content(&replies[1].body);
        assert!(
            recalled.contains("Miso"),
            "{}: the Discord reply uses what was said locally: {recalled}",
            db.name
        );

        // In a server channel, what was said privately is not brought up.
        fake.dispatch(
            "MESSAGE_CREATE",
            guild_message(
                "1500000000000000012",
                GENERAL_CHANNEL,
                ana(),
                &[],
                &format!("<@{BOT_ID}> what's my cat called?"),
                vec![bot_user()],
            ),
        );
        let in_public = fake.wait_for_messages(GENERAL_CHANNEL, 1).await;
        let public_reply = content(&in_public[0].body);
        assert!(
            !public_reply.contains("Miso"),
            "{}: a private fact stays out of a server channel: {public_reply}",
            db.name
        );

        let whoami = slash_in_dm(&fake, "1800000000000000011", "whoami", vec![]).await;
        let embed = &whoami["embeds"][0];
        assert_eq!(embed["title"], "Who you are to me", "{}: {whoami}", db.name);
        let accounts = embed["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|field| field["name"] == "Accounts")
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            accounts.contains(&format!("discord:{ANA}")) && accounts.contains("desktop:ana"),
            "{}: {accounts}",
            db.name
        );
        assert!(embed["footer"]["text"]
            .as_str()
            .unwrap()
            .contains("Discord"));
        host.stop().await;
        db.cleanup().await;
    }
}

/// Rows that must not change when a command is refused.
async fn snapshot(core: &whisperengine::core::Core) -> (Vec<(i64, uuid::Uuid)>, u64, u64, u64) {
    let db = &core.store.db;
    let accounts = platform_account::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|account| (account.id, account.identity_id))
        .collect();
    (
        accounts,
        link_code::Entity::find().count(db).await.unwrap(),
        memory::Entity::find().count(db).await.unwrap(),
        processed_event::Entity::find().count(db).await.unwrap(),
    )
}

#[tokio::test]
async fn bad_slash_commands_get_a_clear_ephemeral_error_and_change_nothing() {
    for (db, mut settings) in test_setups().await {
        // Also: commands registered in DISCORD_GUILD_ID, and this process running shard 0 of 2.
        settings.discord_guild_id = Some(GUILD_ID.to_string());
        settings.discord_shards = whisperengine::config::ShardSetting::Range {
            first: 0,
            last: 0,
            total: 2,
        };
        let (fake, host) = start_with_discord(settings).await;
        assert!(
            fake.calls().iter().any(|call| call.method == "PUT"
                && call.path
                    == format!(
                        "/api/v10/applications/{APPLICATION_ID}/guilds/{GUILD_ID}/commands"
                    )),
            "{}: commands registered in the guild",
            db.name
        );
        assert_eq!(fake.identifies().len(), 1, "{}: one shard here", db.name);
        assert_eq!(fake.identifies()[0]["shard"], json!([0, 2]), "{}", db.name);
        fake.dispatch("MESSAGE_CREATE", dm("1500000000000000020", "Hello!"));
        fake.wait_for_messages(DM_CHANNEL, 1).await;
        host.core.store.flush().await;
        let before = snapshot(&host.core).await;

        let cases: Vec<(&str, &str, Vec<Value>, &str)> = vec![
            (
                "1800000000000000020",
                "dance",
                vec![],
                "don't know the command `/dance`",
            ),
            (
                "1800000000000000021",
                "unlink",
                vec![],
                "needs the option `platform`",
            ),
            (
                "1800000000000000022",
                "link",
                vec![subcommand(
                    "code",
                    vec![option("code", 3, json!("AB$D-EF23;5"))],
                )],
                "only letters, digits",
            ),
            (
                "1800000000000000023",
                "prefs",
                vec![subcommand(
                    "set",
                    vec![
                        option("key", 3, json!("name")),
                        option("value", 3, json!("x".repeat(4000))),
                    ],
                )],
                "4000 characters long",
            ),
        ];
        for (id, name, options, expected) in cases {
            let answer = slash_in_dm(&fake, id, name, options).await;
            let text = content(&answer);
            assert!(text.contains(expected), "{}: /{name}: {text}", db.name);
            assert!(
                text.chars().count() < 300,
                "{}: the input is not echoed",
                db.name
            );
            assert_eq!(
                callback(&fake, id)["data"]["flags"],
                64,
                "{}: /{name} is ephemeral",
                db.name
            );
        }
        host.core.store.flush().await;
        assert_eq!(
            snapshot(&host.core).await,
            before,
            "{}: nothing changed",
            db.name
        );

        // A member without Manage Server calling /admin in the server: the core refuses (and audits
        // the attempt); no link is made.
        let token = "token-1800000000000000024";
        fake.dispatch(
            "INTERACTION_CREATE",
            command_interaction(
                "1800000000000000024",
                token,
                ana(),
                Invoked::Guild {
                    channel: GENERAL_CHANNEL,
                    permissions: MEMBER_PERMISSIONS,
                    roles: &[],
                },
                "admin",
                vec![subcommand(
                    "link",
                    vec![
                        option("first", 3, json!(format!("discord:{ANA}"))),
                        option("second", 3, json!("slack:T1/U1")),
                    ],
                )],
            ),
        );
        let refused = fake.wait_for_answer("1800000000000000024", token).await;
        assert!(
            content(&refused).contains("Only admins"),
            "{}: {refused}",
            db.name
        );
        assert_eq!(callback(&fake, "1800000000000000024")["data"]["flags"], 64);
        host.core.store.flush().await;
        let after = snapshot(&host.core).await;
        assert_eq!(
            after.0, before.0,
            "{}: no account was linked or created",
            db.name
        );
        assert_eq!((after.1, after.2), (before.1, before.2), "{}", db.name);
        let refusals = audit_log::Entity::find()
            .all(&host.core.store.db)
            .await
            .unwrap()
            .into_iter()
            .filter(|entry| entry.action == "admin_link" && entry.outcome == "refused")
            .count();
        assert_eq!(refusals, 1, "{}: the refused attempt is audited", db.name);
        host.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn after_the_gateway_drops_serenity_resumes_and_replayed_events_are_answered_once() {
    for (db, settings) in test_setups().await {
        let (fake, host) = start_with_discord(settings).await;
        let message_seq = fake.dispatch(
            "MESSAGE_CREATE",
            dm("1500000000000000030", "Are you there?"),
        );
        fake.wait_for_messages(DM_CHANNEL, 1).await;
        let interaction_seq = fake.dispatch(
            "INTERACTION_CREATE",
            command_interaction(
                "1800000000000000030",
                "token-1800000000000000030",
                ana(),
                Invoked::Dm {
                    channel: DM_CHANNEL,
                },
                "sync",
                vec![subcommand("status", vec![])],
            ),
        );
        fake.wait_for_answer("1800000000000000030", "token-1800000000000000030")
            .await;

        fake.drop_connection();
        fake.wait_until("a RESUME", |fake| !fake.resumes().is_empty())
            .await;
        assert_eq!(
            fake.resumes()[0],
            interaction_seq,
            "{}: resumed from the last event seen",
            db.name
        );
        // The fake replays both already delivered events on RESUME: neither is answered twice.
        fake.wait_until("the replay", |fake| {
            fake.replayed().contains(&message_seq) && fake.replayed().contains(&interaction_seq)
        })
        .await;
        fake.dispatch("MESSAGE_CREATE", dm("1500000000000000031", "Still there?"));
        let replies = fake.wait_for_messages(DM_CHANNEL, 2).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            fake.messages_to(DM_CHANNEL).len(),
            2,
            "{}: one reply per message, the replay dropped: {replies:?}",
            db.name
        );
        let answers = fake
            .interaction_calls("1800000000000000030", "token-1800000000000000030")
            .into_iter()
            .filter(|call| call.method == "PATCH")
            .count();
        assert_eq!(
            answers, 1,
            "{}: the replayed interaction is not answered again",
            db.name
        );
        assert_eq!(
            fake.identifies().len(),
            1,
            "{}: resumed, not re-identified",
            db.name
        );
        assert_eq!(fake.connections(), 2, "{}", db.name);
        host.stop().await;
        db.cleanup().await;
    }
}

fn is_fences_balanced(text: &str) -> bool {
    text.lines()
        .filter(|line| line.trim_start().starts_with("```"))
        .count()
        % 2
        == 0
}

#[tokio::test]
async fn a_long_reply_is_split_below_2000_characters_with_valid_code_fences() {
    for (db, mut settings) in test_setups().await {
        let fake = FakeDiscord::start(TOKEN).await;
        let code: String = (0..150)
            .map(|i| format!("let value_{i} = {i} * 2;\n"))
            .collect();
        let answer = format!(
            "{}\n\n```rust\n{code}```\n\n{}",
            "Here is a long thought about the sea. ".repeat(50),
            "That is the whole program. ".repeat(40)
        );
        fake.set_llm_answer(&answer);
        settings.llm_base_url = Some(fake.llm_url().parse().unwrap());
        let host = start_host(discord_settings(&fake, settings, TOKEN)).await;
        fake.wait_until_ready().await;

        fake.dispatch(
            "MESSAGE_CREATE",
            dm("1500000000000000040", "Show me a long program"),
        );
        fake.wait_for_messages(DM_CHANNEL, 3).await;
        let parts: Vec<String> = fake
            .messages_to(DM_CHANNEL)
            .iter()
            .map(|call| content(&call.body))
            .collect();
        assert!(parts.len() >= 3, "{}: {} parts", db.name, parts.len());
        for part in &parts {
            assert!(
                part.chars().count() <= 2000,
                "{}: {} chars",
                db.name,
                part.chars().count()
            );
            assert!(
                is_fences_balanced(part),
                "{}: unbalanced fences in {part}",
                db.name
            );
        }
        let rejoined: String = parts.concat();
        assert!(
            rejoined.contains("let value_149 = 149 * 2;"),
            "{}: nothing lost",
            db.name
        );
        host.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_refused_token_stops_the_connector_once_naming_discord_token_and_the_host_keeps_serving()
{
    let db = common::fresh_sqlite();
    let fake = FakeDiscord::start(TOKEN).await;
    let settings = discord_settings(&fake, settings_for(&db, false), "wrong-token");
    let doctor = whisperengine::doctor::checks(&settings).await;
    let discord = doctor.iter().find(|check| check.name == "discord").unwrap();
    assert_eq!(discord.status, whisperengine::doctor::Status::Failing);
    assert!(
        discord.detail.starts_with("DISCORD_TOKEN"),
        "{}",
        discord.detail
    );
    assert!(
        !discord.detail.contains("wrong-token"),
        "the token is never shown"
    );

    let valid = discord_settings(&fake, settings_for(&db, false), TOKEN);
    let doctor = whisperengine::doctor::checks(&valid).await;
    let discord_ok = doctor.iter().find(|check| check.name == "discord").unwrap();
    assert_eq!(
        discord_ok.status,
        whisperengine::doctor::Status::Ok,
        "{}",
        discord_ok.detail
    );
    assert!(discord_ok.detail.contains("elena"), "{}", discord_ok.detail);

    let host = start_host(settings).await;
    // Longer than the host's first retry pause (5 s) for connectors that fail for other reasons.
    tokio::time::sleep(Duration::from_millis(6000)).await;
    let me_calls = fake
        .calls()
        .iter()
        .filter(|call| call.path == "/api/v10/users/@me")
        .count();
    assert_eq!(
        me_calls, 3,
        "two doctor runs and the connector once: no retry loop"
    );
    assert_eq!(
        fake.connections(),
        0,
        "no gateway connection with a refused token"
    );
    let health = reqwest::get(format!("{}/healthz", host.base))
        .await
        .unwrap();
    assert!(health.status().is_success(), "the host keeps serving");
    host.stop().await;

    let error = whisperengine_discord::check_credentials(
        &whisperengine::setup::discord_config(&discord_settings(
            &fake,
            settings_for(&db, false),
            "wrong-token",
        ))
        .unwrap()
        .unwrap(),
    )
    .await
    .unwrap_err();
    let connector_error = whisperengine_contract::ConnectorError::from(error);
    assert!(
        matches!(
            connector_error,
            whisperengine_contract::ConnectorError::BadCredentials {
                setting: "DISCORD_TOKEN",
                ..
            }
        ),
        "{connector_error}"
    );
}

#[tokio::test]
async fn ids_that_are_not_numbers_stop_start_up_naming_the_variable() {
    let db = common::fresh_sqlite();
    let fake = FakeDiscord::start(TOKEN).await;
    for (variable, set) in [
        (
            "DISCORD_GUILD_ID",
            &(|s: &mut Settings| s.discord_guild_id = Some("my-server".into()))
                as &dyn Fn(&mut Settings),
        ),
        ("DISCORD_APPLICATION_ID", &|s: &mut Settings| {
            s.discord_application_id = Some("0".into())
        }),
        ("DISCORD_CHANNELS", &|s: &mut Settings| {
            s.discord_channels = vec!["general".into()]
        }),
    ] {
        let mut settings = discord_settings(&fake, settings_for(&db, false), TOKEN);
        set(&mut settings);
        let error = match Application::build(settings).await {
            Ok(_) => panic!("{variable}: start-up should fail"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.starts_with(variable), "{error}");
    }
    assert!(fake.calls().is_empty(), "nothing was sent to Discord");
}

/// Every feedback row as (identity, platform, score, comment), oldest first.
async fn feedback_rows(
    core: &whisperengine::core::Core,
) -> Vec<(uuid::Uuid, String, i16, Option<String>)> {
    let mut rows = feedback::Entity::find().all(&core.store.db).await.unwrap();
    rows.sort_by_key(|row| row.id);
    rows.into_iter()
        .map(|row| (row.identity_id, row.platform, row.score, row.comment))
        .collect()
}

/// Waits (up to 15 s) until there are `count` feedback rows.
async fn wait_for_feedback(core: &whisperengine::core::Core, count: usize) {
    for _ in 0..300 {
        if feedback_rows(core).await.len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "timed out waiting for {count} feedback row(s): {:?}",
        feedback_rows(core).await
    );
}

/// The identity of Ana's Discord account.
async fn identity_of_ana(core: &whisperengine::core::Core) -> uuid::Uuid {
    use sea_orm::{ColumnTrait, QueryFilter};
    platform_account::Entity::find()
        .filter(platform_account::Column::Platform.eq("discord"))
        .filter(platform_account::Column::UserId.eq(ANA))
        .one(&core.store.db)
        .await
        .unwrap()
        .expect("Ana's Discord account exists")
        .identity_id
}

#[tokio::test]
async fn thumbs_on_the_companions_replies_are_silent_feedback_counted_once() {
    for (db, settings) in test_setups().await {
        let (fake, host) = start_with_discord(settings).await;
        let intents = fake.identifies()[0]["intents"].as_u64().unwrap();
        assert_ne!(intents & GUILD_MESSAGE_REACTIONS_INTENT, 0, "{}", db.name);
        assert_ne!(intents & DIRECT_MESSAGE_REACTIONS_INTENT, 0, "{}", db.name);

        let anas_message = "1500000000000000050";
        fake.dispatch("MESSAGE_CREATE", dm(anas_message, "Hello, how are you?"));
        fake.wait_for_messages(DM_CHANNEL, 1).await;
        let reply = fake.sent_message_ids(DM_CHANNEL)[0].clone();
        let in_dm = || Reacted::Dm {
            channel: DM_CHANNEL,
        };

        // Not feedback: Ana's 👍 on her own message, a 🎉 on the reply, the bot's own 👍.
        fake.dispatch(
            "MESSAGE_REACTION_ADD",
            reaction_add(anas_message, ana(), in_dm(), "👍"),
        );
        fake.dispatch(
            "MESSAGE_REACTION_ADD",
            reaction_add(&reply, ana(), in_dm(), "🎉"),
        );
        fake.dispatch(
            "MESSAGE_REACTION_ADD",
            reaction_add(&reply, bot_user(), in_dm(), "👍"),
        );
        // Feedback: Ana's 👍 on the companion's reply; the same event again is dropped.
        let thumbs_up = reaction_add(&reply, ana(), in_dm(), "👍");
        fake.dispatch("MESSAGE_REACTION_ADD", thumbs_up.clone());
        wait_for_feedback(&host.core, 1).await;
        fake.dispatch("MESSAGE_REACTION_ADD", thumbs_up);
        fake.dispatch(
            "MESSAGE_REACTION_ADD",
            reaction_add(&reply, ana(), in_dm(), "👎"),
        );
        wait_for_feedback(&host.core, 2).await;
        assert!(
            fake.message_fetches(DM_CHANNEL, &reply) >= 1,
            "{}: a DM reaction does not say whose message it is, so the bot fetched it",
            db.name
        );
        assert!(
            fake.message_fetches(DM_CHANNEL, anas_message) >= 1,
            "{}: Ana's own message was looked up and found to be hers",
            db.name
        );

        // In a server, MESSAGE_REACTION_ADD names the message's author: no fetch needed.
        fake.dispatch(
            "MESSAGE_CREATE",
            guild_message(
                "1500000000000000051",
                GENERAL_CHANNEL,
                ana(),
                &[],
                &format!("<@{BOT_ID}> good evening!"),
                vec![bot_user()],
            ),
        );
        fake.wait_for_messages(GENERAL_CHANNEL, 1).await;
        let guild_reply = fake.sent_message_ids(GENERAL_CHANNEL)[0].clone();
        let bo = "90000000000000001";
        let on = |message_author: &'static str| Reacted::Guild {
            channel: GENERAL_CHANNEL,
            message_author,
        };
        // Not feedback: Ana's 👍 on Bo's message, another bot's 👍 on the companion's reply.
        fake.dispatch(
            "MESSAGE_REACTION_ADD",
            reaction_add("1500000000000000052", ana(), on(bo), "👍"),
        );
        fake.dispatch(
            "MESSAGE_REACTION_ADD",
            reaction_add(
                &guild_reply,
                user("90000000000000002", "helper", None, true),
                on(BOT_ID),
                "👍",
            ),
        );
        fake.dispatch(
            "MESSAGE_REACTION_ADD",
            reaction_add(&guild_reply, ana(), on(BOT_ID), "👍🏾"),
        );
        wait_for_feedback(&host.core, 3).await;
        // Let anything still in flight (the replay, the ignored reactions) finish.
        tokio::time::sleep(Duration::from_millis(1000)).await;

        let ana_identity = identity_of_ana(&host.core).await;
        let reaction = Some("(reaction)".to_string());
        assert_eq!(
            feedback_rows(&host.core).await,
            vec![
                (ana_identity, "discord".to_string(), 5, reaction.clone()),
                (ana_identity, "discord".to_string(), 1, reaction.clone()),
                (ana_identity, "discord".to_string(), 5, reaction),
            ],
            "{}: 👍 → 5 once despite the replay, 👎 → 1, the server 👍🏾 → 5, nothing else",
            db.name
        );
        assert_eq!(
            fake.message_fetches(GENERAL_CHANNEL, &guild_reply),
            0,
            "{}: message_author_id was used",
            db.name
        );
        assert_eq!(
            fake.messages_to(DM_CHANNEL).len(),
            1,
            "{}: reactions are silent",
            db.name
        );
        assert_eq!(
            fake.messages_to(GENERAL_CHANNEL).len(),
            1,
            "{}: reactions are silent",
            db.name
        );
        assert!(
            !fake.calls().iter().any(
                |call| call.path.contains("/webhooks/") || call.path.contains("/interactions/")
            ),
            "{}: nothing answered anywhere",
            db.name
        );
        host.core.store.flush().await;
        let event_id = format!("reaction:{reply}:{ANA}:👍");
        assert!(
            processed_event::Entity::find_by_id(("discord".to_string(), event_id.clone()))
                .one(&host.core.store.db)
                .await
                .unwrap()
                .is_some(),
            "{}: {event_id} recorded for dedupe",
            db.name
        );
        let metrics = common::metrics::scrape(&host.base).await;
        let satisfaction = common::metrics::sample(
            &metrics,
            "whisperengine_satisfaction_score",
            &["platform=\"discord\""],
        );
        assert!(
            satisfaction.is_some_and(|value| (value - 11.0 / 3.0).abs() < 1e-6),
            "{}: the Discord satisfaction gauge is the mean of 5, 1, 5: {satisfaction:?}",
            db.name
        );
        host.stop().await;
        db.cleanup().await;
    }
}

/// A core stand-in for connector-only tests: it answers nothing.
struct Silent;

#[async_trait::async_trait]
impl whisperengine_contract::EventHandler for Silent {
    async fn handle(
        &self,
        _event: whisperengine_contract::InboundEvent,
        _capabilities: whisperengine_contract::Capabilities,
    ) -> whisperengine_contract::HandlerOutcome {
        whisperengine_contract::HandlerOutcome::Ignored("silent")
    }
}

#[tokio::test]
async fn a_gateway_refusing_the_message_content_intent_says_to_enable_it() {
    use whisperengine_contract::Connector;
    let fake = FakeDiscord::start(TOKEN).await;
    fake.refuse_message_content();
    let mut config = whisperengine_discord::DiscordConfig::new(TOKEN.to_string().into());
    config.api_url = Some(fake.api_url());
    let connector = std::sync::Arc::new(whisperengine_discord::DiscordConnector::new(config, None));
    let run = connector.run(
        std::sync::Arc::new(Silent),
        Box::pin(std::future::pending::<()>()),
    );
    let error = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the connector gives up on refused intents")
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("enable the Message Content intent"),
        "{error}"
    );
    assert_eq!(fake.identifies().len(), 1, "no identify loop");
}
