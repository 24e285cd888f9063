//! Discord messages through the durable inbox: a message is stored before its turn starts, so a
//! process stopped mid-reply leaves it to the next one, which answers it once (Discord never sends
//! it again); and a taken-over turn whose reply was already posted is not posted twice, because
//! replies carry a nonce Discord enforces (the fake answers a repeated nonce with the earlier
//! message, as Discord does).

use crate::common;
use crate::common::fake_discord::FakeDiscord;
use crate::common::host::HostProcess;
use crate::common::payloads::{dm_message, user};
use crate::inbox::{now_ms, stored_user_messages, wait_until};

use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use serde_json::json;
use std::time::Duration;
use whisperengine::app::Application;
use whisperengine::store::entities::{inbox_event, processed_event};
use whisperengine_contract::{Platform, PlatformAccount};

const TOKEN: &str = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.fake.bot-token";
const ANA: &str = "80351110224678912";
const DM_CHANNEL: &str = "1600000000000000001";

fn host_env(db: &common::TestDb, fake: &FakeDiscord) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("DEPLOYMENT_MODE", "cloud".to_string()),
        ("DATABASE_URL", db.url.clone()),
        (
            "PERSONALITIES_DIR",
            format!("{}/personalities", env!("CARGO_MANIFEST_DIR")),
        ),
        ("DISCORD_TOKEN", TOKEN.to_string()),
        ("DISCORD_API_URL", fake.api_url()),
        ("FACT_EXTRACTION", "rules".to_string()),
        ("SHUTDOWN_DRAIN_SECONDS", "1".to_string()),
        ("INBOX_LEASE_SECONDS", "2".to_string()),
    ];
    if let Some(redis) = common::redis_url() {
        env.push(("REDIS_URL", redis));
        env.push(("REDIS_KEY_PREFIX", format!("{}:", common::unique_prefix())));
    }
    env
}

#[tokio::test]
async fn a_message_whose_process_stopped_mid_reply_is_answered_once_by_the_next_one() {
    for (db, _) in common::test_setups().await {
        let fake = FakeDiscord::start(TOKEN).await;
        let conn = db.connect_migrated().await;
        let text = "My brother Teo starts his new job on Monday";
        let mut slow = host_env(&db, &fake);
        slow.push((
            "LLM_BASE_URL",
            common::fake_llm::slow(Duration::from_secs(4), "Good luck to Teo!")
                .await
                .to_string(),
        ));
        slow.push(("LLM_TIMEOUT", "30".to_string()));
        let mut first = HostProcess::spawn(&slow);
        fake.wait_until_ready().await;
        let author = user(ANA, "ana", Some("Ana"), false);
        fake.dispatch(
            "MESSAGE_CREATE",
            dm_message("1500000000000000777", DM_CHANNEL, author, text),
        );
        wait_until(
            "the message is in the inbox",
            Duration::from_secs(10),
            || async { inbox_event::Entity::find().count(&conn).await.unwrap() == 1 },
        )
        .await;
        let status = first.terminate();
        assert!(status.success(), "{}: exits cleanly: {status}", db.name);
        assert_eq!(stored_user_messages(&conn, text).await, 0, "{}", db.name);
        assert!(fake.bot_messages_in(DM_CHANNEL).is_empty(), "{}", db.name);

        let second = HostProcess::spawn(&host_env(&db, &fake));
        wait_until(
            "the second process answers",
            Duration::from_secs(30),
            || async {
                !fake.bot_messages_in(DM_CHANNEL).is_empty()
                    && inbox_event::Entity::find().count(&conn).await.unwrap() == 0
            },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            fake.bot_messages_in(DM_CHANNEL).len(),
            1,
            "{}: answered once",
            db.name
        );
        assert_eq!(
            stored_user_messages(&conn, text).await,
            1,
            "{}: stored once",
            db.name
        );
        drop(second);
        conn.close().await.unwrap();
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_taken_over_reply_already_posted_is_not_posted_again() {
    let db = common::fresh_sqlite();
    let fake = FakeDiscord::start(TOKEN).await;
    let conn = db.connect_migrated().await;
    let message_id = 1_500_000_000_000_000_888_u64;
    let event_id = format!("msg:{message_id}");
    let reply = "the reply stored with the turn";
    // The stopped process had stored the turn (its processed mark and the reply in the row) and
    // posted the reply, with the nonce of the reply's first part.
    processed_event::ActiveModel {
        platform: Set("discord".into()),
        event_id: Set(event_id.clone()),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(&conn)
    .await
    .unwrap();
    let posted = reqwest::Client::new()
        .post(format!(
            "{}/api/v10/channels/{DM_CHANNEL}/messages",
            fake.api_url()
        ))
        .header("authorization", format!("Bot {TOKEN}"))
        .json(
            &json!({"content": reply, "nonce": format!("r{message_id}00"), "enforce_nonce": true}),
        )
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success());
    let account = PlatformAccount::new(Platform::Discord, "", ANA);
    let whisperengine_contract::InboundEvent::Message(mut message) =
        common::message(&account, "Did you get my message?")
    else {
        unreachable!("common::message makes a message")
    };
    message.event_id = event_id.clone().into();
    let payload = json!({
        "message": message, "channel_id": DM_CHANNEL.parse::<u64>().unwrap(),
        "message_id": message_id, "in_guild": false
    });
    let stored =
        serde_json::to_string(&whisperengine_contract::OutboundReply::text(reply)).unwrap();
    inbox_event::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        kind: Set("discord.message".into()),
        payload: Set(payload.to_string()),
        reply: Set(Some(stored)),
        owner: Set(String::new()),
        attempts: Set(1),
        parked: Set(false),
        created_at: Set(now_ms() - 60_000),
        author_platform: Set(None),
        author_scope: Set(None),
        author_user_id: Set(None),
    }
    .insert(&conn)
    .await
    .unwrap();

    let mut settings = common::settings_for(&db, false);
    settings.deployment_mode = whisperengine::config::DeploymentMode::Cloud;
    settings.discord_token = Some(TOKEN.to_string().into());
    settings.discord_api_url = Some(fake.api_url().parse().unwrap());
    let application = Application::build(settings).await.expect("the host builds");
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(application.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    wait_until(
        "the row is taken over and delivered",
        Duration::from_secs(30),
        || async { inbox_event::Entity::find().count(&conn).await.unwrap() == 0 },
    )
    .await;
    let posts = fake.messages_to(DM_CHANNEL);
    assert_eq!(posts.len(), 2, "the taken-over turn posted its reply again");
    assert_eq!(posts[1].body["nonce"], format!("r{message_id}00"));
    assert_eq!(posts[1].body["enforce_nonce"], true);
    assert_eq!(
        fake.bot_messages_in(DM_CHANNEL),
        vec![reply.to_string()],
        "Discord answered the repeated nonce with the earlier message"
    );
}
