//! Catch-up after downtime: on start, the connector reads the recent history of the conversations
//! people spoke with the companion in most recently (the core names them), and answers the DMs
//! and mentions that arrived in the last CATCH_UP_WINDOW while no process was running.
//!
//! - **Once**: each message goes through the host's durable inbox under its own kind, with the
//!   event id every delivery of that message has (`slack:msg:<channel>:<ts>`), so one answered
//!   live before the outage, or by another process, is a duplicate the core drops; a catch-up a
//!   process did not finish is taken over like any stored event.
//! - **Only what no process saw**: messages sent before this process started (later ones arrive
//!   live) and within the window.
//! - **In order**: oldest first, one at a time (each waits for the one before, up to
//!   [`TURN_WAIT`]), so a person's messages are answered in the order they wrote them.
//! - **Marked late**: the reply starts with [`crate::runtime::LATE_NOTE`].
//! - **Bounded**: at most [`MAX_CONVERSATIONS`] `conversations.history` requests of
//!   [`MESSAGES_PER_CONVERSATION`] messages, [`REQUEST_GAP`] apart (Slack's tier 3 allows about 50
//!   a minute), and at most [`MAX_MESSAGES`] answers; a 429 ends the reading.
//! - **What it does not see**: replies inside threads (history lists top-level messages), and
//!   DMs from someone who never spoke with the companion before.

use crate::runtime::{Arrival, SlackRuntime};
use serde_json::{json, Value};
use slack_morphism::prelude::{SlackHistoryMessage, SlackPushEvent};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use whisperengine_contract::{
    Inbox, InboxJob, InboxRefusal, Platform, RecentConversation, Visibility,
};

/// The inbox kind of a message read from history (its payload is an Events API callback).
pub(crate) const CATCH_UP_KIND: &str = "slack.caught_up";
/// Conversations read at most.
pub const MAX_CONVERSATIONS: usize = 50;
/// Messages read per conversation (one request).
pub const MESSAGES_PER_CONVERSATION: u16 = 50;
/// Messages answered at most in one catch-up.
pub const MAX_MESSAGES: usize = 200;
/// Least time between two history requests.
pub const REQUEST_GAP: Duration = Duration::from_millis(1_200);
/// How long a caught-up turn is waited for before the next one starts anyway.
const TURN_WAIT: Duration = Duration::from_secs(120);
/// Pause before reading, so the host finishes starting.
const START_DELAY: Duration = Duration::from_secs(1);
/// Counter: messages found in history and handed to the inbox.
pub const CAUGHT_UP_METRIC: &str = "whisperengine_slack_caught_up_total";

/// Starts the catch-up in the background (nothing when CATCH_UP_WINDOW is zero).
pub(crate) fn spawn(runtime: Arc<SlackRuntime>, inbox: Arc<dyn Inbox>) {
    let window = runtime.config.catch_up_window;
    if window.is_zero() {
        return;
    }
    // Messages from now on arrive live; only those before are looked for.
    let started = SystemTime::now();
    tokio::spawn(async move {
        tokio::time::sleep(START_DELAY).await;
        let since = started
            .checked_sub(window)
            .unwrap_or(UNIX_EPOCH)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let until = started.duration_since(UNIX_EPOCH).unwrap_or_default();
        let (read, answered) = run(&runtime, inbox.as_ref(), since, until).await;
        tracing::info!(
            conversations = read,
            messages = answered,
            "Slack catch-up after downtime done"
        );
    });
}

/// Reads and answers what was sent between `since` and `until` (since the Unix epoch); the
/// conversations read and the messages handed on.
async fn run(
    runtime: &Arc<SlackRuntime>,
    inbox: &dyn Inbox,
    since: Duration,
    until: Duration,
) -> (usize, usize) {
    let Some(bot) = runtime.bot_user_id().await.map(str::to_string) else {
        tracing::warn!("Slack catch-up skipped: auth.test did not answer");
        return (0, 0);
    };
    let conversations = runtime
        .handler
        .recent_conversations(Platform::Slack, MAX_CONVERSATIONS)
        .await;
    let oldest = format!("{}.{:06}", since.as_secs(), since.subsec_micros());
    let mut missed = Vec::new();
    let mut read = 0;
    for conversation in conversations.iter().take(MAX_CONVERSATIONS) {
        if read > 0 {
            tokio::time::sleep(REQUEST_GAP).await;
        }
        read += 1;
        let history = runtime
            .api
            .history_since(&conversation.channel_id, &oldest, MESSAGES_PER_CONVERSATION)
            .await;
        match history {
            Ok(messages) => missed.extend(
                messages
                    .iter()
                    .filter_map(|message| callback_for(message, conversation, &bot)),
            ),
            // The client logged it; a rate limit ends the reading, anything else skips one.
            Err(error) if error.code() == Some("ratelimited") => break,
            Err(_) => continue,
        }
    }
    let until = (until.as_secs(), u64::from(until.subsec_micros()));
    missed.retain(|(ts, _)| *ts < until);
    missed.sort_by_key(|(ts, _)| *ts);
    missed.truncate(MAX_MESSAGES);
    let mut answered = 0;
    for (_, payload) in missed {
        match answer(runtime, inbox, payload).await {
            Ok(()) => answered += 1,
            Err(InboxRefusal::ShuttingDown) => break,
            Err(InboxRefusal::Full) => {
                tracing::warn!("Slack catch-up stopped: the work queue is full");
                break;
            }
        }
    }
    metrics::counter!(CAUGHT_UP_METRIC).increment(answered as u64);
    (read, answered)
}

/// Hands one missed message to the inbox and waits for its turn to end.
async fn answer(
    runtime: &Arc<SlackRuntime>,
    inbox: &dyn Inbox,
    payload: String,
) -> Result<(), InboxRefusal> {
    let Ok(SlackPushEvent::EventCallback(callback)) = serde_json::from_str(&payload) else {
        return Ok(());
    };
    let (done, finished) = tokio::sync::oneshot::channel();
    let runtime = runtime.clone();
    let job: InboxJob = Box::new(move |entry| {
        Box::pin(async move {
            runtime.on_push(callback, entry, Arrival::CaughtUp).await;
            let _ = done.send(());
        })
    });
    inbox.submit_durable(CATCH_UP_KIND, payload, job).await?;
    let _ = tokio::time::timeout(TURN_WAIT, finished).await;
    Ok(())
}

/// A history message the live path would have been given, as the Events API callback Slack
/// would have posted (its `ts` as a sortable key): a person's message in a DM, or one mentioning
/// the companion elsewhere. Bots, the companion itself, edits and joins are left out here, and
/// the mapping leaves out whatever else the live path does.
fn callback_for(
    message: &SlackHistoryMessage,
    conversation: &RecentConversation,
    bot: &str,
) -> Option<((u64, u64), String)> {
    if message.subtype.is_some()
        || message.sender.bot_id.is_some()
        || message.sender.bot_profile.is_some()
    {
        return None;
    }
    let user = message.sender.user.as_ref()?.0.as_str();
    let text = message.content.text.as_deref()?;
    if user == bot || text.trim().is_empty() {
        return None;
    }
    let ts = message.origin.ts.0.as_str();
    let (kind, channel_type) = match conversation.visibility {
        Visibility::Dm => ("message", "im"),
        _ if !text.contains(&format!("<@{bot}>")) => return None,
        Visibility::Private => ("app_mention", "group"),
        Visibility::Public => ("app_mention", "channel"),
    };
    let mut event = json!({
        "type": kind, "user": user, "text": text, "ts": ts, "event_ts": ts,
        "channel": conversation.channel_id, "channel_type": channel_type,
        "team": conversation.scope,
    });
    if let Some(thread) = &message.origin.thread_ts {
        event["thread_ts"] = Value::String(thread.0.clone());
    }
    let (seconds, micros) = ts.split_once('.')?;
    let key = (seconds.parse().ok()?, micros.parse().ok()?);
    let callback = json!({
        "type": "event_callback",
        "team_id": conversation.scope,
        "api_app_id": "",
        "event_id": format!("catch-up:{}:{ts}", conversation.channel_id),
        "event_time": key.0,
        "event": event,
    });
    Some((key, callback.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(value: Value) -> SlackHistoryMessage {
        serde_json::from_value(value).unwrap()
    }

    fn dm() -> RecentConversation {
        RecentConversation {
            scope: "T1".into(),
            channel_id: "D1".into(),
            visibility: Visibility::Dm,
        }
    }

    #[test]
    fn a_person_s_dm_becomes_the_callback_slack_would_have_posted() {
        let message = history(
            json!({"type": "message", "user": "U1", "text": "hi", "ts": "1700000000.000200"}),
        );
        let (key, payload) = callback_for(&message, &dm(), "UBOT").unwrap();
        assert_eq!(key, (1_700_000_000, 200));
        let Ok(SlackPushEvent::EventCallback(callback)) = serde_json::from_str(&payload) else {
            panic!("not a callback: {payload}");
        };
        let (mapped, target) =
            crate::mapping::message_from_push(&callback, Some("UBOT"), true).unwrap();
        assert_eq!(mapped.event_id, "slack:msg:D1:1700000000.000200");
        assert_eq!(mapped.text, "hi");
        assert!(target.is_dm);
    }

    #[test]
    fn bots_the_companion_and_unaddressed_channel_messages_are_left_out() {
        let channel = RecentConversation {
            scope: "T1".into(),
            channel_id: "C1".into(),
            visibility: Visibility::Public,
        };
        let plain =
            history(json!({"type": "message", "user": "U1", "text": "lunch?", "ts": "1.000001"}));
        assert!(callback_for(&plain, &channel, "UBOT").is_none());
        let mention = history(
            json!({"type": "message", "user": "U1", "text": "<@UBOT> hi", "ts": "1.000002"}),
        );
        assert!(callback_for(&mention, &channel, "UBOT").is_some());
        let own =
            history(json!({"type": "message", "user": "UBOT", "text": "hello", "ts": "1.000003"}));
        assert!(callback_for(&own, &dm(), "UBOT").is_none());
        let bot = history(
            json!({"type": "message", "user": "U2", "bot_id": "B2", "text": "beep", "ts": "1.000004"}),
        );
        assert!(callback_for(&bot, &dm(), "UBOT").is_none());
        let joined = history(
            json!({"type": "message", "subtype": "channel_join", "user": "U1", "text": "joined", "ts": "1.000005"}),
        );
        assert!(callback_for(&joined, &dm(), "UBOT").is_none());
    }
}
