//! Nothing lost, nothing doubled: the real host binary (`whisperengine serve`) on its OWN
//! PostgreSQL (initdb into a temporary directory) and its OWN redis-server, both on free loopback
//! ports, takes thousands of messages through Slack HTTP (signed), Slack Socket Mode (envelopes
//! sent again until acknowledged), Teams (Bot Framework tokens) and the local chat API while the
//! test kills and restarts Redis, restarts PostgreSQL (checking that `/readyz` fails while it is
//! down and recovers without a restart), sends SIGTERM to the host mid-load and starts it again,
//! then kills that one with SIGKILL and starts a third. Clients behave like the platforms:
//! anything but a 2xx (or a connection error) is sent again with the same event id.
//!
//! At the end every acknowledged message must be stored exactly once (rows counted in SQL) and
//! answered exactly once (replies counted at the fakes), per path: it prints `lost` and
//! `duplicated` for each. Lost must be 0 everywhere and duplicated 0 on every path with an
//! idempotency key (Teams has none: a reply posted just before the SIGKILL may be posted again).
//! The shared PostgreSQL and Redis of the other tests are never touched. Needs PostgreSQL's server
//! binaries (`initdb`, `pg_ctl`; found under /usr/lib/postgresql/*/bin or via PG_BIN) and
//! `redis-server`; see DEVELOPERS.md.
//!
//! Over 500 lines: one fault scenario end to end; the process helpers are in fault/processes.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
#[path = "fault/processes.rs"]
mod processes;

use common::fake_discord::FakeDiscord;
use common::fake_slack::{FakeSlack, APP_TOKEN, BOT_TOKEN, BOT_USER, TEAM};
use common::fake_teams::{
    start_bot_framework, unix_now, valid_token as teams_token, APP_ID, APP_PASSWORD,
};
use processes::{free_port, tail, Host, Postgres, Redis};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Messages through Slack's Events API, and as many through Socket Mode. slack-morphism keeps
/// chat.postMessage to Slack's limit of one per second per workspace, so each Slack share is sent
/// at that pace by one client.
const SLACK_MESSAGES: usize = 60;
/// Messages through the Discord gateway, one every [`DISCORD_GAP`].
const DISCORD_MESSAGES: usize = 300;
const DISCORD_GAP: Duration = Duration::from_millis(150);
const DISCORD_TOKEN: &str = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.fault.bot-token";
/// Discord's epoch (2015-01-01), in Unix milliseconds: snowflakes count from it.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
/// How long a Socket Mode client waits for an envelope's acknowledgement before sending it again.
const ACK_WAIT: Duration = Duration::from_secs(5);
/// Messages through Teams and through the local API each: 3,000 messages in all.
const OTHER_MESSAGES: usize = 1_470;
/// Clients sending at once through Teams and through the local API.
const CONCURRENCY: usize = 8;
/// Longest a client keeps resending one message.
const SEND_DEADLINE: Duration = Duration::from_secs(120);
const SIGNING_SECRET: &str = "fault-test-signing-secret-0001";
const TENANT: &str = "tenant-fault";
const TEAMS_BOT: &str = "28:00000000-aaaa-bbbb-cccc-0000000000f1";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Slack,
    Socket,
    Discord,
    Teams,
    Local,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Slack,
        Kind::Socket,
        Kind::Discord,
        Kind::Teams,
        Kind::Local,
    ];

    fn count(self) -> usize {
        match self {
            Kind::Slack | Kind::Socket => SLACK_MESSAGES,
            Kind::Discord => DISCORD_MESSAGES,
            Kind::Teams | Kind::Local => OTHER_MESSAGES,
        }
    }

    fn clients(self) -> usize {
        match self {
            Kind::Slack | Kind::Socket | Kind::Discord => 1,
            Kind::Teams | Kind::Local => CONCURRENCY,
        }
    }

    fn letter(self) -> char {
        match self {
            Kind::Slack => 's',
            Kind::Socket => 'k',
            Kind::Discord => 'd',
            Kind::Teams => 't',
            Kind::Local => 'l',
        }
    }

    /// Whether Slack answers it (counted at the fake Slack by thread).
    fn is_slack(self) -> bool {
        matches!(self, Kind::Slack | Kind::Socket)
    }
}

/// The tag a message carries in its text, so its stored row can be found.
fn tag(kind: Kind, index: usize) -> String {
    format!("faulttag{}x{index}", kind.letter())
}

/// The `ts` of Slack message `index` of `kind` (the thread its answer goes to).
fn slack_ts(kind: Kind, index: usize) -> String {
    match kind {
        Kind::Socket => format!("1700002000.{index:06}"),
        _ => format!("1700001000.{index:06}"),
    }
}

fn slack_event(kind: Kind, index: usize) -> Value {
    let user = format!("U0FAULT{:03}", index % 50);
    let ts = slack_ts(kind, index);
    let text = format!("Tell me about the sea, ref {}", tag(kind, index));
    json!({
        "token": "verification-token", "team_id": TEAM, "api_app_id": "A0TEST",
        "type": "event_callback", "event_id": format!("Ev0FAULT{}{index:05}", kind.letter()),
        "event_time": unix_now(),
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false}],
        "event": {
            "type": "message", "text": text, "user": user, "ts": ts, "team": TEAM,
            "channel": format!("D0FAULT{:03}", index % 50), "event_ts": ts, "channel_type": "im"
        }
    })
}

/// The DM channel of Discord sender `person`.
fn discord_channel(person: usize) -> String {
    format!("16000000000000{person:05}")
}

/// Sends Discord message `index` on the gateway, as Discord does: once, to whatever session is
/// connected (none while the host restarts). It is in the channel's history either way, where a
/// host that starts looks back for what it missed. Discord has no acknowledgement: a message is
/// counted as sent.
fn send_over_gateway(discord: &FakeDiscord, index: usize, outcomes: &Mutex<Outcomes>) -> String {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let id = (((now_ms - DISCORD_EPOCH_MS) << 22) | index as u64).to_string();
    let person = index % 50;
    let author = common::payloads::user(
        &format!("9100000000000{person:05}"),
        &format!("tester{person}"),
        None,
        false,
    );
    let text = format!("Tell me about the hills, ref {}", tag(Kind::Discord, index));
    discord.dispatch(
        "MESSAGE_CREATE",
        common::payloads::dm_message(&id, &discord_channel(person), author, &text),
    );
    outcomes
        .lock()
        .unwrap()
        .acked
        .insert((Kind::Discord, index), ());
    id
}

/// Sends Socket Mode message `index` until its envelope is acknowledged, the way Slack does: an
/// envelope not acknowledged in time (or with no connection open) is delivered again.
async fn send_over_socket(slack: &FakeSlack, index: usize, outcomes: &Mutex<Outcomes>) {
    let started = Instant::now();
    let payload = slack_event(Kind::Socket, index);
    for attempt in 0.. {
        assert!(
            started.elapsed() < SEND_DEADLINE,
            "Socket Mode message {index} never acknowledged"
        );
        let envelope_id = format!("fault-envelope-{index}-{attempt}");
        let frame = json!({
            "envelope_id": envelope_id, "payload": payload, "type": "events_api",
            "accepts_response_payload": false, "retry_attempt": attempt,
            "retry_reason": if attempt == 0 { "" } else { "timeout" }
        });
        if slack.try_send_frame(&frame) {
            let sent = Instant::now();
            while sent.elapsed() < ACK_WAIT {
                if slack.acknowledged(&envelope_id) {
                    outcomes
                        .lock()
                        .unwrap()
                        .acked
                        .insert((Kind::Socket, index), ());
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        outcomes.lock().unwrap().resends += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn teams_activity(service_url: &str, index: usize) -> Value {
    let aad = format!("aad-fault-{}", index % 50);
    json!({
        "type": "message", "id": format!("fault-{index}"), "timestamp": "2026-11-25T10:00:00.000Z",
        "serviceUrl": service_url, "channelId": "msteams",
        "from": {"id": format!("29:bf-{aad}"), "name": "Fault Tester", "aadObjectId": aad},
        "conversation": {"id": format!("a:dm-{aad}"), "conversationType": "personal", "tenantId": TENANT},
        "recipient": {"id": TEAMS_BOT, "name": "Elena"},
        "text": format!("Tell me about the stars, ref {}", tag(Kind::Teams, index)),
        "textFormat": "plain", "entities": [], "channelData": {"tenant": {"id": TENANT}}
    })
}

/// What the clients saw.
#[derive(Default)]
struct Outcomes {
    /// Messages acknowledged with a 2xx.
    acked: HashMap<(Kind, usize), ()>,
    /// Local API: 200 answers with a reply, per message.
    local_answers: HashMap<usize, usize>,
    /// Discord: the id of message `index`.
    discord_ids: HashMap<usize, String>,
    /// Non-2xx answers and connection errors that made a client resend.
    resends: usize,
}

/// Sends message `index` of `kind` over HTTP until a 2xx, the way the platform would (same event
/// id).
async fn send_until_acknowledged(
    client: &reqwest::Client,
    host: &str,
    kind: Kind,
    index: usize,
    service_url: &str,
    token: &str,
    outcomes: &Mutex<Outcomes>,
) {
    let started = Instant::now();
    let mut pause = Duration::from_millis(100);
    let slack_body = slack_event(kind, index).to_string();
    let activity = teams_activity(service_url, index);
    while started.elapsed() < SEND_DEADLINE {
        let request = match kind {
            // Not over HTTP: sent by send_over_socket and send_over_gateway.
            Kind::Socket | Kind::Discord => return,
            Kind::Slack => {
                let now = unix_now();
                client
                    .post(format!("{host}/slack/events"))
                    .header("content-type", "application/json")
                    .header("x-slack-request-timestamp", now.to_string())
                    .header(
                        "x-slack-signature",
                        common::slack_signing::signature(SIGNING_SECRET, now, &slack_body),
                    )
                    .body(slack_body.clone())
            }
            Kind::Teams => client
                .post(format!("{host}/api/messages"))
                .bearer_auth(token)
                .json(&activity),
            Kind::Local => client
                .post(format!("{host}/api/chat"))
                .bearer_auth(common::LOCAL_API_TOKEN)
                .json(&json!({
                    "text": format!("Tell me about the moon, ref {}", tag(Kind::Local, index)),
                    "user": format!("fault{}", index % 50),
                    "event_id": format!("local-fault-{index}"),
                })),
        };
        match request.send().await {
            Ok(response) if response.status().is_success() => {
                // Local: the reply, or, for a message sent again after its answer was lost with
                // the connection, the reply stored with it (`duplicate: true`).
                let mut answered = false;
                if kind == Kind::Local {
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    answered = !body["reply"].as_str().unwrap_or_default().is_empty();
                }
                let mut outcomes = outcomes.lock().unwrap();
                outcomes.acked.insert((kind, index), ());
                if answered {
                    *outcomes.local_answers.entry(index).or_default() += 1;
                }
                return;
            }
            Ok(response) => {
                assert!(
                    response.status().is_server_error(),
                    "{kind:?} {index}: refused with {} (a client error is not retried by platforms)",
                    response.status()
                );
            }
            Err(_) => {}
        }
        outcomes.lock().unwrap().resends += 1;
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

async fn status_of(client: &reqwest::Client, url: &str) -> Option<u16> {
    client
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()
        .map(|response| response.status().as_u16())
}

/// Polls `url` until it answers `wanted` (or `within` passes); true when it did.
async fn wait_for_status(
    client: &reqwest::Client,
    url: &str,
    wanted: u16,
    within: Duration,
) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if status_of(client, url).await == Some(wanted) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_acknowledged_message_is_lost_or_doubled_while_redis_postgres_and_the_host_restart() {
    let test_started = Instant::now();
    let workdir = tempfile::tempdir().unwrap();
    let postgres = tokio::task::spawn_blocking(Postgres::init).await.unwrap();
    let redis_port = free_port();
    let mut redis = Redis::start(redis_port);
    let slack = Arc::new(FakeSlack::start().await);
    for user in 0..50 {
        slack.add_user(
            &format!("U0FAULT{user:03}"),
            &format!("Tester{user}"),
            false,
        );
    }
    let discord = Arc::new(FakeDiscord::start(DISCORD_TOKEN).await);
    let (bot_address, bot) = start_bot_framework().await;
    let service_url = format!("http://{bot_address}/");
    let http_port = free_port();
    let host_url = format!("http://127.0.0.1:{http_port}");
    let env: Vec<(String, String)> = [
        ("DEPLOYMENT_MODE", "cloud".to_string()),
        ("LOCAL_API_TOKEN", common::LOCAL_API_TOKEN.to_string()),
        ("DATABASE_URL", postgres.url()),
        ("REDIS_URL", format!("redis://127.0.0.1:{redis_port}/")),
        ("HTTP_BIND", format!("127.0.0.1:{http_port}")),
        (
            "PERSONALITIES_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/personalities").to_string(),
        ),
        ("RATE_LIMIT_PER_MINUTE", "0".to_string()),
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_string()),
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.to_string()),
        // Socket Mode beside the Events API, on the same fake workspace.
        ("SLACK_APP_TOKEN", APP_TOKEN.to_string()),
        ("DISCORD_TOKEN", DISCORD_TOKEN.to_string()),
        ("DISCORD_API_URL", discord.api_url()),
        ("SLACK_API_URL", slack.api_url().to_string()),
        ("MICROSOFT_APP_ID", APP_ID.to_string()),
        ("MICROSOFT_APP_PASSWORD", APP_PASSWORD.to_string()),
        (
            "TEAMS_OPENID_METADATA_URL",
            format!("http://{bot_address}/openid"),
        ),
        ("TEAMS_TOKEN_URL", format!("http://{bot_address}/token")),
        ("TEAMS_ALLOWED_SERVICE_URLS", service_url.clone()),
        ("RUST_LOG", "info".to_string()),
        // A short drain and lease: what the stopped host did not finish in 2 s is taken over by
        // the restarted one from the inbox, so that path runs under load in every run.
        ("SHUTDOWN_DRAIN_SECONDS", "2".to_string()),
        ("INBOX_LEASE_SECONDS", "3".to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    let mut host = Host::start(&env, workdir.path(), 1);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    assert!(
        wait_for_status(
            &client,
            &format!("{host_url}/readyz"),
            200,
            Duration::from_secs(60)
        )
        .await,
        "the host did not become ready:\n{}",
        host.log_tail()
    );

    // The load: Slack paced at one message a second, Teams and the local API CONCURRENCY clients each. One Bot Framework token
    // serves every Teams request (valid for an hour, as the real ones).
    let token = teams_token(&service_url);
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let mut clients = Vec::new();
    // Discord: one sender, once the bot is connected (people who never spoke with it before are
    // not looked for after an outage), a message every DISCORD_GAP whatever happens to the host.
    {
        let (discord, outcomes) = (discord.clone(), outcomes.clone());
        clients.push(tokio::spawn(async move {
            discord.wait_until_ready().await;
            for index in 0..DISCORD_MESSAGES {
                let id = send_over_gateway(&discord, index, &outcomes);
                outcomes.lock().unwrap().discord_ids.insert(index, id);
                tokio::time::sleep(DISCORD_GAP).await;
            }
        }));
    }
    for kind in Kind::ALL {
        if kind == Kind::Discord {
            continue;
        }
        let next = Arc::new(AtomicUsize::new(0));
        for _ in 0..kind.clients() {
            let (client, host_url, service_url, token, outcomes, next, slack) = (
                client.clone(),
                host_url.clone(),
                service_url.clone(),
                token.clone(),
                outcomes.clone(),
                next.clone(),
                slack.clone(),
            );
            clients.push(tokio::spawn(async move {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= kind.count() {
                        return;
                    }
                    let started = Instant::now();
                    if kind == Kind::Socket {
                        send_over_socket(&slack, index, &outcomes).await;
                    } else {
                        send_until_acknowledged(
                            &client,
                            &host_url,
                            kind,
                            index,
                            &service_url,
                            &token,
                            &outcomes,
                        )
                        .await;
                    }
                    if kind.is_slack() {
                        tokio::time::sleep(
                            Duration::from_secs(1).saturating_sub(started.elapsed()),
                        )
                        .await;
                    }
                }
            }));
        }
    }
    let total: usize = Kind::ALL.iter().map(|kind| kind.count()).sum();
    let acked = || outcomes.lock().unwrap().acked.len();
    let first_log = host.log.clone();
    let wait_until_acked = |share: usize| {
        let first_log = &first_log;
        let acked = &acked;
        async move {
            let started = Instant::now();
            while acked() < total * share / 100 {
                assert!(
                    started.elapsed() < Duration::from_secs(90),
                    "stalled at {} acknowledged:\n{}",
                    acked(),
                    tail(first_log)
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };

    // (1) Redis killed (its data gone) and started again.
    wait_until_acked(15).await;
    redis.kill();
    // Redis only costs speed: the host stays ready and says it is degraded.
    let readiness = client
        .get(format!("{host_url}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(readiness.status(), 200, "ready without Redis");
    let readiness: serde_json::Value = readiness.json().await.unwrap();
    assert!(
        readiness["degraded"][0]
            .as_str()
            .is_some_and(|reason| reason.contains("redis")),
        "{readiness}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let redis = Redis::start(redis_port);
    println!("redis killed and restarted at {} acknowledged", acked());
    // The Discord session drops; the bot resumes it and the gateway replays what it missed.
    discord.drop_connection();

    // (2) PostgreSQL stopped and started: /readyz fails meanwhile and recovers without a restart.
    wait_until_acked(40).await;
    let pg = Arc::new(postgres);
    let stopping = pg.clone();
    tokio::task::spawn_blocking(move || stopping.stop())
        .await
        .unwrap();
    let readyz = format!("{host_url}/readyz");
    let was_unready = wait_for_status(&client, &readyz, 503, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let starting = pg.clone();
    tokio::task::spawn_blocking(move || starting.start())
        .await
        .unwrap();
    let recovered = wait_for_status(&client, &readyz, 200, Duration::from_secs(30)).await;
    println!("postgres restarted at {} acknowledged", acked());
    assert!(
        was_unready,
        "/readyz kept answering 200 with PostgreSQL stopped"
    );
    assert!(
        recovered,
        "/readyz did not recover after PostgreSQL came back:\n{}",
        host.log_tail()
    );

    // (3) SIGTERM to the host mid-load; it drains and exits; a new one takes over the port.
    wait_until_acked(70).await;
    let status = tokio::task::spawn_blocking(move || {
        let status = host.terminate();
        (status, host)
    })
    .await
    .unwrap();
    let (status, old_host) = status;
    println!(
        "host stopped by SIGTERM at {} acknowledged ({status})",
        acked()
    );
    assert!(
        status.success(),
        "the host exited with {status} after SIGTERM:\n{}",
        old_host.log_tail()
    );
    let host = Host::start(&env, workdir.path(), 2);
    assert!(
        wait_for_status(&client, &readyz, 200, Duration::from_secs(60)).await,
        "the restarted host did not become ready:\n{}",
        host.log_tail()
    );

    // (4) SIGKILL mid-load: no drain and no deletes; a third host takes over the killed one's
    //     inbox rows once its lease runs out. A reply posted just before the kill is found again
    //     where the platform allows it (Slack metadata); Teams has no way to, and may post twice.
    wait_until_acked(85).await;
    drop(host);
    println!("host killed (SIGKILL) at {} acknowledged", acked());
    let host = Host::start(&env, workdir.path(), 3);
    assert!(
        wait_for_status(&client, &readyz, 200, Duration::from_secs(60)).await,
        "the host started after SIGKILL did not become ready:\n{}",
        host.log_tail()
    );

    for client in clients {
        client.await.unwrap();
    }
    let acked_keys: Vec<(Kind, usize)> = outcomes.lock().unwrap().acked.keys().copied().collect();

    // Acknowledged Slack and Teams events are answered on the host's workers after the 200: wait for them.
    let slack_answers = || {
        let mut answers: HashMap<String, usize> = HashMap::new();
        for call in slack.delivered("chat.postMessage") {
            if let Some(ts) = call.params["thread_ts"].as_str() {
                *answers.entry(ts.to_string()).or_default() += 1;
            }
        }
        answers
    };
    // Discord: the messages the bot created per answered message, by the nonce each reply
    // carries (`r<message id><part>`); a post whose nonce Discord already saw creates none.
    let discord_answers = || {
        let mut answers: HashMap<String, usize> = HashMap::new();
        for message in discord.sent_messages() {
            let nonce = message["nonce"].as_str().unwrap_or_default();
            if let Some(answered) = nonce
                .strip_prefix('r')
                .and_then(|rest| rest.get(..rest.len().saturating_sub(2)))
            {
                *answers.entry(answered.to_string()).or_default() += 1;
            }
        }
        answers
    };
    let started = Instant::now();
    loop {
        let slack_answered = slack_answers().len() + discord_answers().len();
        let teams_answered = bot.lock().unwrap().replies.len();
        let acked_platform = acked_keys
            .iter()
            .filter(|(kind, _)| *kind != Kind::Local)
            .count();
        if slack_answered + teams_answered >= acked_platform
            || started.elapsed() > Duration::from_secs(60)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Count stored rows: each message's tag in user rows, and the replies stored with them.
    let db = Database::connect(pg.url()).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT role, content FROM memory".to_string(),
        ))
        .await
        .unwrap();
    let mut stored: HashMap<String, usize> = HashMap::new();
    let (mut user_rows, mut companion_rows) = (0, 0);
    for row in &rows {
        let role: String = row.try_get("", "role").unwrap();
        let content: String = row.try_get("", "content").unwrap();
        if role == "user" {
            user_rows += 1;
            if let Some(found) = content
                .split_whitespace()
                .find(|word| word.starts_with("faulttag"))
            {
                *stored.entry(found.to_string()).or_default() += 1;
            }
        } else {
            companion_rows += 1;
        }
    }

    let inbox_left = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS left_over FROM inbox_event".to_string(),
        ))
        .await
        .unwrap()
        .map(|row| row.try_get::<i64>("", "left_over").unwrap())
        .unwrap_or(-1);
    let logs: Vec<std::path::PathBuf> = (1..=3)
        .map(|generation| workdir.path().join(format!("host-{generation}.log")))
        .collect();
    let taken_over: usize = logs[1..]
        .iter()
        .map(|log| {
            std::fs::read_to_string(log)
                .unwrap_or_default()
                .lines()
                .filter(|line| line.contains("took over an acknowledged event"))
                .count()
        })
        .sum();
    let slack_answers = slack_answers();
    let discord_answers = discord_answers();
    let teams_answers = bot.lock().unwrap().replies.clone();
    let outcomes = outcomes.lock().unwrap();
    let (mut lost, mut duplicated) = (0, 0);
    let mut per_path: HashMap<Kind, (usize, usize)> = HashMap::new();
    let mut examples = Vec::new();
    for &(kind, index) in &acked_keys {
        let stored_count = stored.get(&tag(kind, index)).copied().unwrap_or(0);
        let answered = match kind {
            Kind::Slack | Kind::Socket => slack_answers
                .get(&slack_ts(kind, index))
                .copied()
                .unwrap_or(0),
            Kind::Discord => outcomes
                .discord_ids
                .get(&index)
                .and_then(|id| discord_answers.get(id))
                .copied()
                .unwrap_or(0),
            Kind::Teams => teams_answers
                .get(&format!("fault-{index}"))
                .copied()
                .unwrap_or(0),
            Kind::Local => outcomes.local_answers.get(&index).copied().unwrap_or(0),
        };
        let path = per_path.entry(kind).or_default();
        if stored_count == 0 || answered == 0 {
            lost += 1;
            path.0 += 1;
        }
        if stored_count > 1 || answered > 1 {
            duplicated += 1;
            path.1 += 1;
        }
        if (stored_count != 1 || answered != 1) && examples.len() < 10 {
            examples.push(format!(
                "{kind:?} {index}: stored {stored_count}, answered {answered}"
            ));
        }
    }
    println!(
        "messages={total} acknowledged={} resends={} user_rows={user_rows} reply_rows={companion_rows} elapsed={:.1}s",
        acked_keys.len(),
        outcomes.resends,
        test_started.elapsed().as_secs_f64()
    );
    if let Ok(keep) = std::env::var("FAULT_KEEP_LOGS") {
        for name in ["host-1.log", "host-2.log", "host-3.log"] {
            let _ = std::fs::copy(workdir.path().join(name), format!("{keep}/{name}"));
        }
    }
    for kind in Kind::ALL {
        let (path_lost, path_duplicated) = per_path.get(&kind).copied().unwrap_or_default();
        println!("{kind:?}: lost={path_lost} duplicated={path_duplicated}");
    }
    // Discord messages sent while no host was connected, answered after a start as late ones.
    let discord_late = discord
        .sent_messages()
        .iter()
        .filter(|message| {
            message["content"]
                .as_str()
                .is_some_and(|text| text.contains("late answer"))
        })
        .count();
    println!("lost={lost} duplicated={duplicated} discord_answered_late={discord_late} taken_over_from_inbox={taken_over} inbox_left={inbox_left}");
    assert_eq!(
        acked_keys.len(),
        total,
        "every message is acknowledged in the end (clients resend for up to {SEND_DEADLINE:?})"
    );
    assert_eq!(
        lost,
        0,
        "lost messages: {examples:?}\nwarnings and errors of the host runs:\n{}",
        processes::problems(&logs)
    );
    // Every path with an idempotency key answers once; Teams has none (see docs/reliability.md).
    let teams_duplicated = per_path.get(&Kind::Teams).map_or(0, |path| path.1);
    assert_eq!(
        duplicated - teams_duplicated,
        0,
        "duplicated messages: {examples:?}"
    );
    assert_eq!(
        inbox_left, 0,
        "every inbox row is finished (none set aside)"
    );
    assert_eq!(
        user_rows, total,
        "one user row per message, none from elsewhere"
    );
    assert_eq!(
        companion_rows, user_rows,
        "each stored message has its reply stored with it"
    );
    drop(host);
    drop(redis);
}
