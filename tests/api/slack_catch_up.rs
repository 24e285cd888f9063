//! Catch-up after downtime on Slack: a host that starts reads the recent history of the
//! conversations people spoke with the companion in, and answers — once, oldest first, marked as
//! late — the DMs and mentions that arrived while no process was running. Against the fake Slack
//! Web API, on SQLite and PostgreSQL + Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::inbox::wait_until;
use crate::slack::{callback, dm, post_event, slack_settings, ANA, DM_CHANNEL};

use common::fake_slack::{Call, FakeSlack, BOT_USER, TEAM};
use common::{test_setups, unix_now};
use serde_json::json;
use std::time::Duration;
use whisperengine::app::Application;
use whisperengine::config::Settings;

const TEAM_CHANNEL: &str = "C0TEAM0001";
/// The first words of a reply to a message read from history.
const LATE: &str = "_(Sorry for the late answer";

/// A host on `settings` that stops when the sender is dropped or sent to, and its base URL.
async fn run_host(
    settings: Settings,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let application = Application::build(settings).await.expect("the host builds");
    let base = format!("http://{}", application.address());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(application.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    (base, stop, running)
}

fn ts(seconds: u64) -> String {
    format!("{seconds}.000100")
}

fn replies(fake: &FakeSlack) -> Vec<Call> {
    fake.delivered("chat.postMessage")
}

fn history_reads(fake: &FakeSlack) -> usize {
    fake.delivered("conversations.history").len()
}

#[tokio::test]
async fn messages_sent_while_the_host_was_down_are_answered_once_in_order_and_marked_late() {
    for (db, settings) in test_setups().await {
        let fake = FakeSlack::start().await;
        let mut settings = slack_settings(&fake, settings);
        settings.catch_up_window = Duration::from_secs(10 * 60);
        let now = unix_now();

        // Live: Ana writes in her DM and mentions the companion in a team channel; both are
        // answered, and both are in the conversations' history as Slack keeps it. (This host
        // started with nothing to catch up on.)
        let mut live_settings = settings.clone();
        live_settings.catch_up_window = Duration::ZERO;
        let (host, stop, running) = run_host(live_settings).await;
        let live = ts(now - 300);
        assert_eq!(
            post_event(&host, &dm("EvLIVE0001", &live, ANA, "I live in Porto")).await,
            200
        );
        fake.add_history_message(DM_CHANNEL, &live, ANA, "I live in Porto", None);
        let mention_live = ts(now - 290);
        let mention = format!("<@{BOT_USER}> hello team");
        let event = callback(
            "EvLIVE0002",
            json!({"type": "app_mention", "user": ANA, "text": mention, "ts": mention_live,
                   "channel": TEAM_CHANNEL, "event_ts": mention_live, "channel_type": "channel",
                   "team": TEAM}),
        );
        assert_eq!(post_event(&host, &event).await, 200);
        fake.add_history_message(TEAM_CHANNEL, &mention_live, ANA, &mention, None);
        fake.wait_for("chat.postMessage", 2).await;
        assert_eq!(
            replies(&fake).len(),
            2,
            "{}: both live messages answered",
            db.name
        );
        let _ = stop.send(());
        running.await.unwrap().unwrap();

        // While no process runs: what people wrote.
        let (first, second, third) = (ts(now - 200), ts(now - 150), ts(now - 100));
        fake.add_history_message(DM_CHANNEL, &ts(now - 3_600), ANA, "old news", None);
        fake.add_history_message(DM_CHANNEL, &first, ANA, "Are you still there?", None);
        let asked = format!("<@{BOT_USER}> are you around?");
        fake.add_history_message(TEAM_CHANNEL, &second, ANA, &asked, None);
        fake.add_history_message(TEAM_CHANNEL, &ts(now - 140), ANA, "lunch anyone?", None);
        fake.add_history_message(DM_CHANNEL, &third, ANA, "Hello again", None);
        fake.add_history_raw(
            DM_CHANNEL,
            json!({"type": "message", "user": "U0OTHERBOT", "bot_id": "B0OTHER", "text": "beep",
                   "ts": ts(now - 120)}),
        );
        fake.add_history_raw(
            TEAM_CHANNEL,
            json!({"type": "message", "subtype": "channel_join", "user": "U0NEW0001",
                   "text": "<@U0NEW0001> has joined the channel", "ts": ts(now - 130)}),
        );

        let (_, stop, running) = run_host(settings.clone()).await;
        fake.wait_for("chat.postMessage", 5).await;
        let late: Vec<Call> = replies(&fake).into_iter().skip(2).collect();
        let answered: Vec<&str> = late
            .iter()
            .map(|call| call.params["thread_ts"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            answered,
            vec![first.as_str(), second.as_str(), third.as_str()],
            "{}: the missed messages, oldest first",
            db.name
        );
        for call in &late {
            let text = call.params["text"].as_str().unwrap_or_default();
            assert!(text.starts_with(LATE), "{}: marked late: {text}", db.name);
            assert_eq!(
                call.params["metadata"]["event_payload"]["part"], "0",
                "{}: the reply names what it answers",
                db.name
            );
        }
        assert_eq!(
            late[1].params["channel"], TEAM_CHANNEL,
            "{}: the mention is answered where it was said",
            db.name
        );
        assert_eq!(
            history_reads(&fake),
            2,
            "{}: one read per conversation",
            db.name
        );
        // Nothing else: the old message, the unaddressed one, the bot and the join stay unanswered,
        // and the two live messages are not answered again.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(replies(&fake).len(), 5, "{}: {:?}", db.name, replies(&fake));
        let _ = stop.send(());
        running.await.unwrap().unwrap();

        // Starting again answers nothing twice.
        let (_, stop, running) = run_host(settings.clone()).await;
        wait_until("the history is read again", Duration::from_secs(20), || {
            let reads = history_reads(&fake);
            async move { reads >= 4 }
        })
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(replies(&fake).len(), 5, "{}: answered once", db.name);
        let _ = stop.send(());
        running.await.unwrap().unwrap();

        // CATCH_UP_WINDOW=off: no history is read at all.
        let mut off = settings.clone();
        off.catch_up_window = Duration::ZERO;
        fake.add_history_message(DM_CHANNEL, &ts(unix_now()), ANA, "one more", None);
        let (_, stop, running) = run_host(off).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(history_reads(&fake), 4, "{}: nothing read", db.name);
        assert_eq!(replies(&fake).len(), 5, "{}", db.name);
        let _ = stop.send(());
        running.await.unwrap().unwrap();
        db.cleanup().await;
    }
}
