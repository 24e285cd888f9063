//! Several host processes on one database serve as one: a link, a preference change, a privacy
//! change, an isolation, a release and an unlink made through one real host process (the binary,
//! driven through its local chat API) are used by a second real host process within a second.
//!
//! Three topologies: PostgreSQL + Redis with both processes on one Redis prefix (pub/sub
//! invalidation), PostgreSQL + Redis with the second process on another prefix so it misses every
//! pub/sub message (only the SQL change feed tells it), and SQLite without Redis (the SQL change
//! feed alone). With one Redis, a new message told to one process is recalled by the other too.
//! The second process trusts its hot state for an hour (MEMORY_SYNC_INTERVAL=3600),
//! so nothing but an invalidation can make a change visible in time. Each delay is printed.

use crate::common;

use common::host::HostProcess;
use std::time::{Duration, Instant};

/// The visibility bound the issue sets.
const BOUND: Duration = Duration::from_secs(1);

/// How to start one process.
pub(crate) struct Launch<'a> {
    pub(crate) database_url: &'a str,
    /// `(REDIS_URL, REDIS_KEY_PREFIX)`, or no Redis at all.
    pub(crate) redis: Option<(&'a str, &'a str)>,
    /// `desktop`: the local chat is the owner's, so admin commands are allowed through it.
    pub(crate) mode: &'a str,
}

impl Launch<'_> {
    /// Starts one host process as described.
    pub(crate) fn spawn(&self) -> HostProcess {
        let personalities =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("personalities");
        let mut env = vec![
            ("DEPLOYMENT_MODE", self.mode.to_string()),
            ("DATABASE_URL", self.database_url.to_string()),
            ("PERSONALITIES_DIR", personalities.display().to_string()),
            // Without an invalidation, this process would trust its hot state for an hour.
            ("MEMORY_SYNC_INTERVAL", "3600".to_string()),
        ];
        if let Some((url, prefix)) = self.redis {
            env.push(("REDIS_URL", url.to_string()));
            env.push(("REDIS_KEY_PREFIX", prefix.to_string()));
        }
        HostProcess::spawn(&env)
    }
}

/// The two processes of one topology.
struct Pair {
    name: String,
    /// Where changes are made (desktop mode: its local chat may run admin commands).
    writer: HostProcess,
    /// Where they must be used.
    reader: HostProcess,
    client: reqwest::Client,
}

impl Pair {
    /// Makes a change through the writer, then asks the reader `question` until `is_seen` holds;
    /// prints and returns the delay, failing past [`BOUND`].
    async fn change_and_wait(
        &self,
        what: &str,
        change: &str,
        expect_reply: &str,
        question: &str,
        is_seen: impl Fn(&str) -> bool,
    ) -> Duration {
        // The reader has the state hot, and it does not show the change yet.
        let before = self.reader.ask(&self.client, "alice", question).await;
        assert!(
            !is_seen(&before),
            "{}: {what} already visible before it was made: {before}",
            self.name
        );
        let started = Instant::now();
        let reply = self.writer.ask(&self.client, "alice", change).await;
        let answered = started.elapsed();
        assert!(
            reply.contains(expect_reply),
            "{}: {what}: `{change}` answered: {reply}",
            self.name
        );
        let delay = loop {
            let seen = self.reader.ask(&self.client, "alice", question).await;
            if is_seen(&seen) {
                break started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{}: the other process never used the {what}: {seen}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        eprintln!(
            "{}: {what} used by the other host process {} ms after it was sent ({} ms after the \
             writing process answered)",
            self.name,
            delay.as_millis(),
            delay.saturating_sub(answered).as_millis()
        );
        assert!(delay < BOUND, "{}: {what} took {delay:?}", self.name);
        delay
    }
}

/// Runs every kind of change through `pair` and checks each reaches the reader in time; with
/// `messages_announced` (both processes on one Redis), a message told to one process is also
/// recalled by the other.
async fn every_change_is_used_by_the_other_process(pair: &Pair, messages_announced: bool) {
    if messages_announced {
        pair.change_and_wait(
            "new message",
            "My cat is called Zanzibar.",
            "",
            "What is my cat called?",
            |reply| reply.contains("Zanzibar"),
        )
        .await;
        // No fact in it: announced with its content and appended to the reader's hot state.
        pair.change_and_wait(
            "new message (no fact)",
            "Yesterday we walked along the canal up to the old lighthouse.",
            "",
            "Where did we walk along the canal?",
            |reply| reply.contains("lighthouse"),
        )
        .await;
    }
    let linked = "slack:T1/U1";
    // The account to link to exists (the admin command creates it on first mention).
    pair.change_and_wait(
        "link",
        &format!("/admin link desktop:alice {linked}"),
        "Linked",
        "/whoami",
        |reply| reply.contains(linked),
    )
    .await;
    pair.change_and_wait(
        "preference change",
        "/prefs set timezone Asia/Tokyo",
        "",
        "/prefs",
        |reply| reply.contains("Asia/Tokyo"),
    )
    .await;
    pair.change_and_wait(
        "privacy change",
        "/privacy set conversation_history off",
        "",
        "/privacy",
        |reply| reply.contains("`conversation_history`: not shared"),
    )
    .await;
    pair.change_and_wait(
        "isolation",
        "/admin isolate desktop:alice",
        "Isolated",
        "/sync status",
        |reply| reply.contains("Cross-platform sharing: off"),
    )
    .await;
    pair.change_and_wait(
        "release",
        "/admin release desktop:alice",
        "Released",
        "/sync status",
        |reply| reply.contains("Cross-platform sharing: on"),
    )
    .await;
    pair.change_and_wait(
        "unlink",
        "/admin unlink desktop:alice",
        "",
        "/whoami",
        |reply| !reply.contains(linked),
    )
    .await;
}

#[tokio::test]
async fn changes_made_through_one_process_are_used_by_another_within_a_second() {
    let client = reqwest::Client::new();

    // SQLite, no Redis: the SQL change feed alone.
    let sqlite = common::fresh_sqlite();
    let launch = |mode| Launch {
        database_url: &sqlite.url,
        redis: None,
        mode,
    };
    let writer = launch("desktop").spawn();
    let reader = launch("cloud").spawn();
    every_change_is_used_by_the_other_process(
        &Pair {
            name: "sqlite, no redis (SQL change feed)".into(),
            writer,
            reader,
            client: client.clone(),
        },
        false,
    )
    .await;

    let (Some(postgres), Some(redis)) = (common::postgres_url(), common::redis_url()) else {
        eprintln!(
            "skipped: PostgreSQL + Redis topologies (TEST_DATABASE_URL / TEST_REDIS_URL not set)"
        );
        return;
    };
    for pub_sub_missed in [false, true] {
        let database = common::fresh_postgres(&postgres).await;
        let prefix = format!("{}:", common::unique_prefix());
        let other_prefix = format!("{}:", common::unique_prefix());
        let writer = Launch {
            database_url: &database.url,
            redis: Some((&redis, &prefix)),
            mode: "desktop",
        }
        .spawn();
        let reader = Launch {
            database_url: &database.url,
            redis: Some((
                &redis,
                if pub_sub_missed {
                    &other_prefix
                } else {
                    &prefix
                },
            )),
            mode: "cloud",
        }
        .spawn();
        let name = if pub_sub_missed {
            "postgres, pub/sub missed (SQL change feed)"
        } else {
            "postgres + redis (pub/sub)"
        };
        let pair = Pair {
            name: name.into(),
            writer,
            reader,
            client: client.clone(),
        };
        every_change_is_used_by_the_other_process(&pair, !pub_sub_missed).await;
        drop(pair);
        database.cleanup().await;
    }
}

/// A Redis server of this test's own on a free loopback port, so it can be stopped and restarted
/// without touching the shared one; killed when dropped.
struct PrivateRedis {
    child: std::process::Child,
    port: u16,
}

impl PrivateRedis {
    /// Starts `redis-server`; `None` when it is not installed.
    fn start(port: u16) -> Option<PrivateRedis> {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        Some(PrivateRedis { child, port })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// How many clients subscribe to `channel`, once the server answers (waits up to 10 s).
    async fn subscribers(&self, channel: &str) -> usize {
        let client = redis::Client::open(self.url()).expect("a redis URL");
        let started = Instant::now();
        loop {
            if let Ok(mut connection) = client.get_multiplexed_async_connection().await {
                let counts: Result<Vec<(String, usize)>, _> = redis::cmd("PUBSUB")
                    .arg("NUMSUB")
                    .arg(channel)
                    .query_async(&mut connection)
                    .await;
                if let Ok(counts) = counts {
                    return counts.first().map_or(0, |(_, count)| *count);
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the private Redis never answered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `count` clients subscribe to `channel`; returns how long it took.
    async fn wait_for_subscribers(&self, channel: &str, count: usize) -> Duration {
        let started = Instant::now();
        loop {
            if self.subscribers(channel).await >= count {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{count} subscribers never came back to {channel}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

#[tokio::test]
async fn changes_still_arrive_while_redis_restarts_and_the_subscribers_come_back() {
    if common::redis_url().is_none() {
        eprintln!("skipped: Redis restart (TEST_REDIS_URL not set)");
        return;
    }
    let port = free_port();
    let Some(redis) = PrivateRedis::start(port) else {
        eprintln!("skipped: Redis restart (no redis-server on PATH to start a private one)");
        return;
    };
    let sqlite = common::fresh_sqlite();
    let url = redis.url();
    let prefix = format!("{}:", common::unique_prefix());
    let channel = format!("{prefix}invalidate");
    redis.subscribers(&channel).await;
    let launch = |mode| Launch {
        database_url: &sqlite.url,
        redis: Some((&url, &prefix)),
        mode,
    };
    let pair = Pair {
        name: "sqlite + private redis".into(),
        writer: launch("desktop").spawn(),
        reader: launch("cloud").spawn(),
        client: reqwest::Client::new(),
    };
    redis.wait_for_subscribers(&channel, 2).await;

    drop(redis);
    // One request each notices Redis is gone (that one waits for Redis's timeouts; later ones fail
    // fast), so what is measured next is the change reaching the other process.
    for process in [&pair.writer, &pair.reader] {
        process.ask(&pair.client, "bob", "/whoami").await;
    }
    pair.change_and_wait(
        "isolation while Redis is down",
        "/admin isolate desktop:alice",
        "Isolated",
        "/sync status",
        |reply| reply.contains("Cross-platform sharing: off"),
    )
    .await;

    let redis = PrivateRedis::start(port).expect("redis-server starts again");
    let resubscribed = redis.wait_for_subscribers(&channel, 2).await;
    eprintln!(
        "both processes resubscribed {} ms after Redis came back",
        resubscribed.as_millis()
    );
    pair.change_and_wait(
        "release after Redis came back",
        "/admin release desktop:alice",
        "Released",
        "/sync status",
        |reply| reply.contains("Cross-platform sharing: on"),
    )
    .await;
}
