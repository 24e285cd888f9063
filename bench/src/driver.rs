//! The load bench's sender: Slack `event_callback` DMs, signed the way Slack signs them
//! (HMAC-SHA256 over `v0:{timestamp}:{body}` with the signing secret), posted to `/slack/events` of
//! the host processes in turn by a fixed number of workers. Each worker waits for its message's reply
//! to reach the fake Slack before sending the next (a closed loop: `concurrency` messages in flight).

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use whisperengine_fakes::slack::{FakeSlack, BOT_USER, TEAM};

/// The signing secret the hosts are given.
pub const SIGNING_SECRET: &str = "bench-signing-secret-5c1e0b7d9a";
/// How long a worker waits for one reply before counting the message lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// What to send.
#[derive(Clone)]
pub struct Plan {
    /// Base URLs of the host processes; message `i` goes to host `(i / users) % len`, so each
    /// person's messages go to each host in turn.
    pub hosts: Vec<String>,
    /// Distinguishes this run's event ids and `ts` values from every other run's.
    pub run: String,
    /// Users are `user_id(first_user + i % users)`.
    pub first_user: usize,
    pub users: usize,
    pub messages: usize,
    pub concurrency: usize,
}

/// What came back.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Messages the host acknowledged with a 2xx.
    pub acknowledged: usize,
    /// Messages refused (non-2xx) or not delivered at all.
    pub refused: usize,
    /// Acknowledged messages whose reply reached the fake Slack.
    pub replied: usize,
    /// Request sent → reply received, for each replied message, sorted.
    pub latencies: Vec<Duration>,
    /// First send → last reply.
    pub elapsed: Duration,
}

/// The Slack user id of bench user `index` (also used when seeding identities).
pub fn user_id(index: usize) -> String {
    format!("UB{index:08}")
}

/// Sends the plan's messages and waits for their replies.
pub async fn drive(plan: &Plan, fake: &Arc<FakeSlack>, client: &reqwest::Client) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..plan.concurrency.clamp(1, plan.messages.max(1)) {
        let (plan, fake, client, next) = (plan.clone(), fake.clone(), client.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut outcome = Outcome::default();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= plan.messages {
                    break;
                }
                send_one(&plan, index, &fake, &client, &mut outcome).await;
            }
            outcome
        }));
    }
    let mut total = Outcome::default();
    for worker in workers {
        if let Ok(part) = worker.await {
            total.acknowledged += part.acknowledged;
            total.refused += part.refused;
            total.replied += part.replied;
            total.latencies.extend(part.latencies);
        }
    }
    total.elapsed = started.elapsed();
    total.latencies.sort();
    total
}

async fn send_one(
    plan: &Plan,
    index: usize,
    fake: &FakeSlack,
    client: &reqwest::Client,
    outcome: &mut Outcome,
) {
    let user = plan.first_user + index % plan.users.max(1);
    // Unique per run and message: the host replies in this thread, which is how the reply is matched.
    let ts = format!("{}.{index:06}", 1_700_000_000 + plan.run_number());
    let body = direct_message(&format!("Ev{}x{index}", plan.run), &ts, user, index);
    let reply = fake.expect_reply(&ts);
    // Each round over the users goes to the next host, so a person's successive messages land on
    // different processes (as behind a load balancer that does not route by person).
    let host = &plan.hosts[(index / plan.users.max(1)) % plan.hosts.len()];
    let sent = Instant::now();
    let timestamp = chrono::Utc::now().timestamp();
    let response = client
        .post(format!("{host}/slack/events"))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", signature(timestamp, &body))
        .body(body)
        .send()
        .await;
    if !response.is_ok_and(|response| response.status().is_success()) {
        outcome.refused += 1;
        fake.give_up(&ts);
        return;
    }
    outcome.acknowledged += 1;
    match tokio::time::timeout(REPLY_TIMEOUT, reply).await {
        Ok(Ok(arrived)) => {
            outcome.replied += 1;
            outcome
                .latencies
                .push(arrived.saturating_duration_since(sent));
        }
        _ => fake.give_up(&ts),
    }
}

impl Plan {
    /// A number derived from the run tag, so `ts` values of different runs never collide.
    fn run_number(&self) -> u64 {
        self.run.bytes().fold(0u64, |sum, byte| {
            sum.wrapping_mul(31).wrapping_add(u64::from(byte))
        }) % 100_000_000
    }
}

/// `v0=` + hex HMAC-SHA256(secret, `v0:{timestamp}:{body}`).
fn signature(timestamp: i64, body: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(SIGNING_SECRET.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// The `event_callback` envelope Slack posts for a `message.im` from `user` in their DM.
fn direct_message(event_id: &str, ts: &str, user: usize, index: usize) -> String {
    let text = crate::pipeline::SAMPLE_MESSAGES[index % crate::pipeline::SAMPLE_MESSAGES.len()];
    let user = user_id(user);
    let channel = format!("D{}", &user[1..]);
    json!({
        "token": "bench-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0BENCH",
        "event": {
            "client_msg_id": format!("c-{event_id}"),
            "type": "message", "text": text, "user": user, "ts": ts, "team": TEAM,
            "blocks": [{"type": "rich_text", "block_id": "b1", "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}],
            "channel": channel, "event_ts": ts, "channel_type": "im"
        },
        "type": "event_callback",
        "authorizations": [{"enterprise_id": null, "team_id": TEAM, "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false}],
        "is_ext_shared_channel": false,
        "event_id": event_id,
        "event_time": chrono::Utc::now().timestamp(),
    })
    .to_string()
}
