//! Discord catch-up after downtime, end to end: the real host against the fake Discord, stopped
//! while people write to the companion, then started again. What was addressed to the companion
//! within CATCH_UP_WINDOW is answered once, oldest first, each as a reply to its message that
//! says it is late; what was answered live, what is older than the window, not addressed to the
//! companion or from a bot is not. A further restart answers nothing, CATCH_UP_WINDOW=off reads no
//! history, and the history requests stay within one per channel. A late turn left in the inbox
//! by a stopped process is answered as late by the next one. The fake's history pages and refuses
//! as Discord does.

use crate::common;
use crate::common::fake_discord::{Call, FakeDiscord};
use crate::common::payloads::*;

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use whisperengine::app::Application;
use whisperengine::config::Settings;
use whisperengine_discord::catch_up::snowflake_at;
use whisperengine_discord::render::LATE_NOTE;

const TOKEN: &str = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.fake.bot-token";
const ANA: &str = "80351110224678912";
const DM_CHANNEL: &str = "1600000000000000001";

fn ana() -> Value {
    user(ANA, "ana", Some("Ana"), false)
}

/// A running host and a way to stop it.
struct Host {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Host {
    async fn start(settings: Settings, fake: &FakeDiscord) -> Host {
        let identified = fake.identifies().len();
        let application = Application::build(settings).await.expect("the host builds");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(application.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        fake.wait_until("the host identified", |fake| {
            fake.identifies().len() > identified
        })
        .await;
        Host { stop, task }
    }

    /// Stops the host and checks it shut down cleanly.
    async fn stop(self) {
        let _ = self.stop.send(());
        let finished = tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the host stops within 20 s");
        finished.unwrap().expect("the host stops without error");
    }
}

/// A message id Discord would have given `ago` before now (unique within the test).
fn id_sent(ago: Duration) -> String {
    static UNIQUE: AtomicU64 = AtomicU64::new(1);
    (snowflake_at(SystemTime::now() - ago) + UNIQUE.fetch_add(1, Ordering::SeqCst)).to_string()
}

fn minutes(count: u64) -> Duration {
    Duration::from_secs(60 * count)
}

fn mention_of_the_bot(id: &str, channel: &str, author: Value, text: &str) -> Value {
    guild_message(
        id,
        channel,
        author,
        &[],
        &format!("<@{BOT_ID}> {text}"),
        vec![bot_user()],
    )
}

/// The bot's posts in the catch-up channels, in the order the fake received them.
fn posts(fake: &FakeDiscord) -> Vec<Call> {
    let paths: Vec<String> = [DM_CHANNEL, GENERAL_CHANNEL, LISTED_CHANNEL]
        .iter()
        .map(|channel| format!("/api/v10/channels/{channel}/messages"))
        .collect();
    fake.calls()
        .into_iter()
        .filter(|call| call.method == "POST" && paths.contains(&call.path))
        .collect()
}

fn content(call: &Call) -> String {
    call.body["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn answered_id(call: &Call) -> String {
    call.body["message_reference"]["message_id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn messages_sent_while_no_host_ran_are_answered_once_oldest_first_and_marked_late() {
    for (db, mut settings) in common::test_setups().await {
        let fake = FakeDiscord::start(TOKEN).await;
        settings.discord_token = Some(TOKEN.to_string().into());
        settings.discord_api_url = Some(fake.api_url().parse().unwrap());
        settings.discord_channels = vec![LISTED_CHANNEL.to_string()];
        settings.catch_up_window = minutes(10);

        // Live: Ana writes in her DM and mentions the companion in #general; both are answered.
        let host = Host::start(settings.clone(), &fake).await;
        // The first start's catch-up knows only the listed channel (nobody spoke yet).
        fake.wait_until("the first catch-up read", |fake| {
            fake.history_requests().len() == 1
        })
        .await;
        let live_dm = id_sent(minutes(5));
        fake.dispatch(
            "MESSAGE_CREATE",
            dm_message(&live_dm, DM_CHANNEL, ana(), "I'm Ana, hello!"),
        );
        let live_mention = id_sent(minutes(5));
        fake.dispatch(
            "MESSAGE_CREATE",
            mention_of_the_bot(&live_mention, GENERAL_CHANNEL, ana(), "hi from general"),
        );
        fake.wait_until("both live replies", |fake| posts(fake).len() == 2)
            .await;
        host.stop().await;
        let live_posts = posts(&fake).len();
        let reads_before = fake.history_requests().len();

        // Down: what people wrote meanwhile.
        let first = id_sent(minutes(4));
        fake.seed_message(
            DM_CHANNEL,
            dm_message(&first, DM_CHANNEL, ana(), "Are you around tomorrow?"),
        );
        let too_old = id_sent(minutes(30));
        fake.seed_message(
            DM_CHANNEL,
            dm_message(&too_old, DM_CHANNEL, ana(), "From long ago"),
        );
        let unaddressed = id_sent(minutes(3));
        fake.seed_message(
            GENERAL_CHANNEL,
            guild_message(
                &unaddressed,
                GENERAL_CHANNEL,
                ana(),
                &[],
                "lunch anyone?",
                vec![],
            ),
        );
        let other_bot = user("80351110224670001", "beeper", Some("Beeper"), true);
        let from_a_bot = id_sent(minutes(3));
        fake.seed_message(
            GENERAL_CHANNEL,
            mention_of_the_bot(&from_a_bot, GENERAL_CHANNEL, other_bot, "beep"),
        );
        let second = id_sent(minutes(2));
        fake.seed_message(
            DM_CHANNEL,
            dm_message(&second, DM_CHANNEL, ana(), "Also: my sister Mia visits."),
        );
        let listed = id_sent(minutes(1));
        fake.seed_message(
            LISTED_CHANNEL,
            mention_of_the_bot(&listed, LISTED_CHANNEL, ana(), "anyone here?"),
        );

        // Up again: exactly the three addressed messages in the window, oldest first, late.
        let host = Host::start(settings.clone(), &fake).await;
        fake.wait_until("three late answers", |fake| {
            posts(fake).len() >= live_posts + 3
        })
        .await;
        let late: Vec<Call> = posts(&fake).into_iter().skip(live_posts).collect();
        let answered: Vec<String> = late.iter().map(answered_id).collect();
        assert_eq!(
            answered,
            vec![first.clone(), second.clone(), listed.clone()],
            "{}: each a reply to its message, oldest first",
            db.name
        );
        let channels: Vec<&str> = late.iter().map(|call| call.path.as_str()).collect();
        assert_eq!(
            channels,
            vec![
                format!("/api/v10/channels/{DM_CHANNEL}/messages"),
                format!("/api/v10/channels/{DM_CHANNEL}/messages"),
                format!("/api/v10/channels/{LISTED_CHANNEL}/messages"),
            ],
            "{}",
            db.name
        );
        for call in &late {
            let text = content(call);
            assert!(
                text.starts_with(LATE_NOTE) && text.len() > LATE_NOTE.len() + 2,
                "{}: the late note, then the answer: {text:?}",
                db.name
            );
            assert_eq!(call.body["allowed_mentions"]["replied_user"], json!(false));
        }
        let reads: Vec<Call> = fake
            .history_requests()
            .into_iter()
            .skip(reads_before)
            .collect();
        let mut read_paths: Vec<String> = reads.iter().map(|call| call.path.clone()).collect();
        read_paths.sort();
        let mut expected: Vec<String> = [DM_CHANNEL, GENERAL_CHANNEL, LISTED_CHANNEL]
            .iter()
            .map(|channel| format!("/api/v10/channels/{channel}/messages"))
            .collect();
        expected.sort();
        assert_eq!(
            read_paths, expected,
            "{}: one history request per channel (the recent two and the listed one)",
            db.name
        );
        let window_start = snowflake_at(SystemTime::now() - minutes(10));
        for read in &reads {
            assert!(read.query.contains("limit=50"), "{}", read.query);
            let after: u64 = read
                .query
                .split('&')
                .find_map(|pair| pair.strip_prefix("after="))
                .and_then(|after| after.parse().ok())
                .expect("an after= bound");
            assert!(
                after <= window_start
                    && after + ((minutes(2).as_millis() as u64) << 22) >= window_start,
                "{}: after is the window's start",
                db.name
            );
        }
        for (gap, pair) in reads.windows(2).enumerate() {
            assert!(
                pair[1].at.duration_since(pair[0].at) >= Duration::from_millis(240),
                "{}: requests {gap} and {} are paced",
                db.name,
                gap + 1
            );
        }
        // Nothing else comes: the duplicates (the live messages) were handed over before the
        // newest late message, which is answered last.
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(posts(&fake).len(), live_posts + 3, "{}", db.name);
        host.stop().await;

        // A further restart finds the same messages, all answered: nothing new is posted.
        let reads_before = fake.history_requests().len();
        let host = Host::start(settings.clone(), &fake).await;
        fake.wait_until("the third start read the history", |fake| {
            fake.history_requests().len() == reads_before + 3
        })
        .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            posts(&fake).len(),
            live_posts + 3,
            "{}: nothing is answered twice",
            db.name
        );
        host.stop().await;

        // CATCH_UP_WINDOW=off: no history request at all, and what was sent is left alone.
        let unread = id_sent(Duration::from_secs(30));
        fake.seed_message(
            DM_CHANNEL,
            dm_message(&unread, DM_CHANNEL, ana(), "Hello again?"),
        );
        let reads_before = fake.history_requests().len();
        settings.catch_up_window = Duration::ZERO;
        let host = Host::start(settings.clone(), &fake).await;
        fake.wait_until_ready().await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            fake.history_requests().len(),
            reads_before,
            "{}: no history read",
            db.name
        );
        assert_eq!(posts(&fake).len(), live_posts + 3, "{}", db.name);
        host.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_late_turn_taken_over_from_the_inbox_is_still_answered_as_late() {
    use crate::inbox::{now_ms, wait_until};
    use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
    use whisperengine::store::entities::inbox_event;
    use whisperengine_contract::{Platform, PlatformAccount};

    let db = common::fresh_sqlite();
    let fake = FakeDiscord::start(TOKEN).await;
    let conn = db.connect_migrated().await;
    // A stopped process had stored a late turn (found by its catch-up) and not answered it.
    let message_id = id_sent(minutes(3));
    let account = PlatformAccount::new(Platform::Discord, "", ANA);
    let whisperengine_contract::InboundEvent::Message(mut message) =
        common::message(&account, "Did you see my message?")
    else {
        unreachable!("common::message makes a message")
    };
    message.event_id = format!("msg:{message_id}").into();
    let payload = json!({
        "message": message, "channel_id": DM_CHANNEL.parse::<u64>().unwrap(),
        "message_id": message_id.parse::<u64>().unwrap(), "in_guild": false, "late": true
    });
    inbox_event::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        kind: Set("discord.message".into()),
        payload: Set(payload.to_string()),
        reply: Set(None),
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
    settings.discord_token = Some(TOKEN.to_string().into());
    settings.discord_api_url = Some(fake.api_url().parse().unwrap());
    settings.catch_up_window = Duration::ZERO;
    let host = Host::start(settings, &fake).await;
    wait_until(
        "the row is taken over and answered",
        Duration::from_secs(30),
        || async { inbox_event::Entity::find().count(&conn).await.unwrap() == 0 },
    )
    .await;
    let posts = fake.messages_to(DM_CHANNEL);
    assert_eq!(posts.len(), 1, "answered once: {posts:?}");
    assert!(
        content(&posts[0]).starts_with(LATE_NOTE),
        "{:?}",
        posts[0].body
    );
    assert_eq!(answered_id(&posts[0]), message_id, "a reply to its message");
    assert!(
        fake.history_requests().is_empty(),
        "CATCH_UP_WINDOW=0 reads no history"
    );
    host.stop().await;
}

#[tokio::test]
async fn the_fake_history_pages_like_discord_and_refuses_like_it() {
    let fake = FakeDiscord::start(TOKEN).await;
    for id in [
        "1500000000000000001",
        "1500000000000000002",
        "1500000000000000003",
    ] {
        fake.seed_message(DM_CHANNEL, dm_message(id, DM_CHANNEL, ana(), id));
    }
    let client = reqwest::Client::new();
    let get = |channel: &str, query: &str, token: &str| {
        client
            .get(format!(
                "{}/api/v10/channels/{channel}/messages?{query}",
                fake.api_url()
            ))
            .header("authorization", format!("Bot {token}"))
            .send()
    };
    let ids = |page: Value| -> Vec<String> {
        page.as_array()
            .unwrap()
            .iter()
            .map(|message| message["id"].as_str().unwrap().to_string())
            .collect()
    };
    let after: Value = get(DM_CHANNEL, "after=1500000000000000001&limit=1", TOKEN)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ids(after), vec!["1500000000000000002"], "right after it");
    let before: Value = get(DM_CHANNEL, "before=1500000000000000003", TOKEN)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ids(before),
        vec!["1500000000000000002", "1500000000000000001"],
        "newest first"
    );
    let unknown = get("1600000000000000999", "limit=50", TOKEN).await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.json::<Value>().await.unwrap()["code"], 10003);
    let refused = get(DM_CHANNEL, "limit=50", "wrong").await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(fake.history_requests().len(), 4, "every request counted");
}
