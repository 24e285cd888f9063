//! `whisperengine bench --stream`: how soon a reply from the language model starts to show, per
//! platform, against a fake LLM on 127.0.0.1 that writes at a fixed rate (first token after
//! [`FIRST_TOKEN`], then two words every [`TOKEN_INTERVAL`]).
//!
//! One host in this process (the real core and connectors, SQLite) talks to the fake Discord
//! (enforcing its 5-writes-per-5-s channel bucket), the fake Slack Web API, the fake Bot Framework
//! (enforcing one streaming request a second) and the local chat API.
//! Each reply goes to a new person in a new DM, one after another. Time to first text is the
//! request in (the gateway dispatch, the signed Slack event, the Teams activity, the
//! `POST /api/chat`) → the first chunk at the fake platform (the first message post, the
//! `chat.startStream`, the first streaming update, the first SSE delta), beside the fake LLM's own time to its first token measured the same way; the table
//! shows both and what the host adds. Platform calls per reply and writes refused with 429 are
//! counted.

use anyhow::{bail, Context};
use serde::Serialize;
use std::time::Duration;
use tokio::time::Instant;
use whisperengine::app::Application;
use whisperengine::config::{DeploymentMode, FactExtraction, Settings};
use whisperengine_fakes::discord::FakeDiscord;
use whisperengine_fakes::llm::StreamPace;
use whisperengine_fakes::slack::FakeSlack;

/// The fake LLM's delay before its first token.
pub const FIRST_TOKEN: Duration = Duration::from_millis(200);
/// The fake LLM's pause between chunks (two words each).
pub const TOKEN_INTERVAL: Duration = Duration::from_millis(25);
const DISCORD_TOKEN: &str = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.bench.bot-token";
const SLACK_SECRET: &str = "bench-signing-secret-0123456789ab";
const LOCAL_TOKEN: &str = "bench-local-api-token-0123456789abcdef";
/// How long one reply may take to end before the bench gives up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// What `--stream` measures.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    pub settings: Settings,
    /// Replies per platform.
    pub replies: usize,
}

/// One platform's row.
#[derive(Debug, Serialize)]
pub struct StreamRow {
    pub platform: String,
    pub replies: usize,
    pub first_text_p50_ms: f64,
    pub first_text_p99_ms: f64,
    /// The fake LLM's own time to its first token, measured in the same run.
    pub llm_first_token_p50_ms: f64,
    pub llm_first_token_p99_ms: f64,
    /// Platform writes (posts, edits, appends, stops) per reply.
    pub writes_per_reply: f64,
    /// Writes the platform refused (429, or an error).
    pub refused: usize,
}

#[derive(Debug, Serialize)]
pub struct StreamReport {
    pub reply_words: usize,
    pub rows: Vec<StreamRow>,
}

impl StreamReport {
    /// The table the bench prints.
    pub fn table(&self) -> String {
        let mut out = format!(
            "Time to first visible text ({} replies per platform, fake LLM: first token after {} ms, then 2 words / {} ms, {} words):\n",
            self.rows.first().map_or(0, |row| row.replies),
            FIRST_TOKEN.as_millis(),
            TOKEN_INTERVAL.as_millis(),
            self.reply_words
        );
        out.push_str(&format!(
            "    {:<9} {:>14} {:>14} {:>12} {:>12} {:>13} {:>7}\n",
            "platform",
            "first text p50",
            "first text p99",
            "LLM p50",
            "+ host p50",
            "writes/reply",
            "refused"
        ));
        for row in &self.rows {
            out.push_str(&format!(
                "    {:<9} {:>11.1} ms {:>11.1} ms {:>9.1} ms {:>9.1} ms {:>13.1} {:>7}\n",
                row.platform,
                row.first_text_p50_ms,
                row.first_text_p99_ms,
                row.llm_first_token_p50_ms,
                row.first_text_p50_ms - row.llm_first_token_p50_ms,
                row.writes_per_reply,
                row.refused
            ));
        }
        out
    }
}

fn reply_text(words: usize) -> String {
    let mut text: Vec<String> = (1..=words).map(|i| format!("word{i}")).collect();
    text.push("done.".into());
    text.join(" ")
}

fn percentile(sorted: &[Duration], share: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * share).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Runs the streaming bench.
pub async fn run_stream(options: StreamOptions) -> anyhow::Result<StreamReport> {
    let words = 60;
    let answer = reply_text(words);
    let pace = StreamPace {
        first_token: FIRST_TOKEN,
        interval: TOKEN_INTERVAL,
        words_per_chunk: 2,
        cut_after: None,
    };
    let (llm_url, llm) = whisperengine_fakes::llm::start().await;
    llm.answer_chat_with(&answer);
    llm.stream_with(&answer, pace);
    let discord = FakeDiscord::start(DISCORD_TOKEN).await;
    discord.enforce_write_limit();
    let slack = FakeSlack::start_open()
        .await
        .context("starting the fake Slack")?;

    let folder = tempfile::tempdir().context("creating a temporary folder")?;
    let mut settings = options.settings;
    settings.database_url = format!(
        "sqlite://{}?mode=rwc",
        folder.path().join("stream.db").display()
    );
    settings.redis_url = None;
    settings.deployment_mode = DeploymentMode::Cloud;
    settings.http_bind = "127.0.0.1:0".parse().context("the bench's bind address")?;
    settings.rate_limit_per_minute = 0;
    settings.llm_base_url = Some(llm_url.clone());
    settings.fact_extraction = FactExtraction::Rules;
    settings.embedding_model = None;
    settings.local_api_token = Some(LOCAL_TOKEN.to_string().into());
    settings.discord_token = Some(DISCORD_TOKEN.to_string().into());
    settings.discord_api_url = Some(discord.api_url().parse().context("the fake Discord URL")?);
    settings.slack_bot_token = Some(whisperengine_fakes::slack::BOT_TOKEN.to_string().into());
    settings.slack_signing_secret = Some(SLACK_SECRET.to_string().into());
    settings.slack_app_token = None;
    settings.slack_api_url = Some(slack.api_url());
    let teams = whisperengine_fakes::teams::FakeBotFramework::start().await;
    settings.microsoft_app_id = Some(whisperengine_fakes::teams::APP_ID.to_string());
    settings.microsoft_app_password =
        Some(whisperengine_fakes::teams::APP_PASSWORD.to_string().into());
    settings.teams_openid_metadata_url = teams.openid_url().parse().context("the fake's URL")?;
    settings.teams_token_url = teams.token_url().parse().context("the fake's URL")?;
    settings.teams_allowed_service_urls =
        vec![teams.service_url().parse().context("the fake's URL")?];
    let application = Application::build(settings)
        .await
        .context("building the host")?;
    let base = format!("http://{}", application.address());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let host = tokio::spawn(application.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    discord.wait_until_ready().await;
    let client = reqwest::Client::new();

    let mut rows = Vec::new();
    rows.push(local_row(&client, &base, &llm_url, options.replies, &answer).await?);
    rows.push(discord_row(&client, &discord, &llm_url, options.replies, &answer).await?);
    rows.push(slack_row(&client, &base, &slack, &llm_url, options.replies, &answer).await?);
    rows.push(teams_row(&client, &base, &teams, &llm_url, options.replies, &answer).await?);
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(20), host).await;
    Ok(StreamReport {
        reply_words: words + 1,
        rows,
    })
}

/// The fake LLM's own time to its first content chunk, asked directly.
async fn llm_first_token(
    client: &reqwest::Client,
    llm_url: &reqwest::Url,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut response = client
        .post(format!(
            "{}/chat/completions",
            llm_url.as_str().trim_end_matches('/')
        ))
        .json(&serde_json::json!({"model": "fake", "stream": true,
            "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .context("asking the fake LLM")?;
    let mut body = String::new();
    while let Some(chunk) = response.chunk().await.context("reading the fake LLM")? {
        body.push_str(&String::from_utf8_lossy(&chunk));
        let has_text = body
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str::<serde_json::Value>(data.trim()).ok())
            .any(|chunk| {
                chunk["choices"][0]["delta"]["content"]
                    .as_str()
                    .is_some_and(|text| !text.is_empty())
            });
        if has_text {
            return Ok(started.elapsed());
        }
    }
    bail!("the fake LLM streamed no content")
}

/// Polls `check` every 5 ms until it answers, for at most [`REPLY_TIMEOUT`].
async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> anyhow::Result<T> {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        if let Some(found) = check() {
            return Ok(found);
        }
        if Instant::now() > deadline {
            bail!("{what} did not come within {} s", REPLY_TIMEOUT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

struct Measured {
    first_text: Vec<Duration>,
    llm: Vec<Duration>,
    writes: usize,
}

impl Measured {
    fn new() -> Self {
        Measured {
            first_text: Vec::new(),
            llm: Vec::new(),
            writes: 0,
        }
    }

    fn row(mut self, platform: &str, refused: usize) -> StreamRow {
        self.first_text.sort();
        self.llm.sort();
        let replies = self.first_text.len();
        StreamRow {
            platform: platform.to_string(),
            replies,
            first_text_p50_ms: percentile(&self.first_text, 0.5),
            first_text_p99_ms: percentile(&self.first_text, 0.99),
            llm_first_token_p50_ms: percentile(&self.llm, 0.5),
            llm_first_token_p99_ms: percentile(&self.llm, 0.99),
            writes_per_reply: self.writes as f64 / replies.max(1) as f64,
            refused,
        }
    }
}

async fn local_row(
    client: &reqwest::Client,
    base: &str,
    llm_url: &reqwest::Url,
    replies: usize,
    answer: &str,
) -> anyhow::Result<StreamRow> {
    let mut measured = Measured::new();
    for index in 0..replies {
        measured.llm.push(llm_first_token(client, llm_url).await?);
        let started = Instant::now();
        let mut response = client
            .post(format!("{base}/api/chat"))
            .bearer_auth(LOCAL_TOKEN)
            .header("accept", "text/event-stream")
            .json(&serde_json::json!({"text": "Tell me a story", "user": format!("bench{index}")}))
            .send()
            .await
            .context("asking the local chat API")?;
        let mut body = String::new();
        let mut first = None;
        while let Some(chunk) = response.chunk().await.context("reading the local chat")? {
            body.push_str(&String::from_utf8_lossy(&chunk));
            if first.is_none() && body.contains("event: delta") {
                first = Some(started.elapsed());
            }
        }
        let Some(first) = first else {
            bail!("the local chat answered without streaming: {body}");
        };
        if !body.contains(answer) {
            bail!("the local chat's final reply is not the model's");
        }
        measured.writes += body.matches("event: delta").count();
        measured.first_text.push(first);
    }
    Ok(measured.row("local", 0))
}

async fn discord_row(
    client: &reqwest::Client,
    discord: &FakeDiscord,
    llm_url: &reqwest::Url,
    replies: usize,
    answer: &str,
) -> anyhow::Result<StreamRow> {
    use whisperengine_fakes::payloads::{dm_message, user};
    let mut measured = Measured::new();
    for index in 0..replies {
        measured.llm.push(llm_first_token(client, llm_url).await?);
        let channel = format!("16000000000000{index:05}");
        let author = format!("80351110224{index:06}");
        let message = dm_message(
            &format!("15000000000000{index:05}"),
            &channel,
            user(&author, &format!("bench{index}"), None, false),
            "Tell me a story",
        );
        let started = std::time::Instant::now();
        discord.dispatch("MESSAGE_CREATE", message);
        wait_for("the final Discord reply", || {
            (discord.bot_messages_in(&channel) == [answer.to_string()]).then_some(())
        })
        .await?;
        let posts = discord.messages_to(&channel);
        let Some(first) = posts.first() else {
            bail!("no Discord post in {channel}");
        };
        measured
            .first_text
            .push(first.at.saturating_duration_since(started));
        measured.writes += posts.len() + discord.edits_in(&channel).len();
    }
    Ok(measured.row("discord", discord.rate_limited()))
}

async fn slack_row(
    client: &reqwest::Client,
    base: &str,
    slack: &FakeSlack,
    llm_url: &reqwest::Url,
    replies: usize,
    answer: &str,
) -> anyhow::Result<StreamRow> {
    let mut measured = Measured::new();
    let team = whisperengine_fakes::slack::TEAM;
    for index in 0..replies {
        measured.llm.push(llm_first_token(client, llm_url).await?);
        let user = format!("U0STREAM{index:04}");
        let channel = format!("D0STREAM{index:04}");
        let ts = format!("1700000{index:03}.000100");
        let event = serde_json::json!({
            "token": "bench-verification-token", "team_id": team, "api_app_id": "A0BENCH",
            "event": {"client_msg_id": format!("c-stream-{index}"), "type": "message",
                "text": "Tell me a story", "user": user, "ts": ts, "team": team,
                "channel": channel, "event_ts": ts, "channel_type": "im"},
            "type": "event_callback",
            "authorizations": [{"enterprise_id": null, "team_id": team,
                "user_id": whisperengine_fakes::slack::BOT_USER, "is_bot": true,
                "is_enterprise_install": false}],
            "is_ext_shared_channel": false, "event_id": format!("Ev0STREAM{index:04}"),
            "event_time": chrono::Utc::now().timestamp(),
        });
        let arrived = slack.expect_reply(&ts);
        let started = Instant::now();
        let status = whisperengine_fakes::slack_signing::signed_event(
            base,
            SLACK_SECRET,
            &event.to_string(),
        )
        .send()
        .await
        .context("posting a Slack event")?
        .status();
        if !status.is_success() {
            bail!("the host answered a Slack event with {status}");
        }
        let arrived = tokio::time::timeout(REPLY_TIMEOUT, arrived)
            .await
            .context("no Slack reply in time")?
            .context("the fake Slack dropped the awaited reply")?;
        wait_for("the final Slack reply", || {
            slack
                .bot_messages(&channel)
                .iter()
                .any(|message| message.text == answer && !message.streaming)
                .then_some(())
        })
        .await?;
        measured
            .first_text
            .push(arrived.saturating_duration_since(started));
        measured.writes += slack
            .calls()
            .iter()
            .filter(|call| call.params["channel"] == channel.as_str())
            .filter(|call| call.method.starts_with("chat."))
            .count();
    }
    let refused = slack
        .calls()
        .iter()
        .filter(|call| !call.ok && call.method.starts_with("chat."))
        .count();
    Ok(measured.row("slack", refused))
}

async fn teams_row(
    client: &reqwest::Client,
    base: &str,
    teams: &whisperengine_fakes::teams::FakeBotFramework,
    llm_url: &reqwest::Url,
    replies: usize,
    answer: &str,
) -> anyhow::Result<StreamRow> {
    let mut measured = Measured::new();
    let token = whisperengine_fakes::teams::valid_token(&teams.service_url());
    for index in 0..replies {
        measured.llm.push(llm_first_token(client, llm_url).await?);
        let aad = format!("aad-stream-{index}");
        let conversation = format!("a:dm-{aad}");
        let activity = serde_json::json!({
            "type": "message", "id": format!("9{index:05}"),
            "timestamp": chrono::Utc::now().to_rfc3339(),
            "serviceUrl": teams.service_url(), "channelId": "msteams",
            "from": {"id": format!("29:bf-{aad}"), "name": "Bench", "aadObjectId": aad},
            "conversation": {"id": conversation, "conversationType": "personal",
                "tenantId": "tenant-bench"},
            "recipient": {"id": "28:bench-bot", "name": "Elena"},
            "text": "Tell me a story", "textFormat": "plain", "entities": [],
            "channelData": {"tenant": {"id": "tenant-bench"}}
        });
        let started = std::time::Instant::now();
        let status = client
            .post(format!("{base}/api/messages"))
            .bearer_auth(&token)
            .json(&activity)
            .send()
            .await
            .context("posting a Teams activity")?
            .status();
        if !status.is_success() {
            bail!("the host answered a Teams activity with {status}");
        }
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let stream = loop {
            let finished = teams.streams().into_iter().find(|stream| {
                stream.conversation == conversation && stream.final_message.is_some()
            });
            if let Some(stream) = finished {
                break stream;
            }
            if Instant::now() > deadline {
                bail!("no final Teams reply in {conversation}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let final_text = stream
            .final_message
            .as_ref()
            .and_then(|message| message["text"].as_str())
            .unwrap_or_default();
        if final_text != answer {
            bail!("the Teams stream did not end with the model's reply");
        }
        measured
            .first_text
            .push(stream.opened_at.saturating_duration_since(started));
        measured.writes += stream.updates.len() + 1;
    }
    Ok(measured.row("teams", teams.rejections().len()))
}
