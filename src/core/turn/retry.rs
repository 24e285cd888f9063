//! Keeping a message until it is durably stored: a message whose storage fails (database or Redis
//! away, PostgreSQL restarting) is tried again with a growing pause instead of being answered with
//! an apology, so it is never dropped while the outage lasts.

use crate::core::turn::pipeline;
use crate::core::turn::streaming::Tracked;
use crate::core::{Core, Result};
use std::time::{Duration, Instant};
use whisperengine_contract::{Capabilities, HandlerOutcome, InboundMessage, ReplySink};

/// How long a message is retried while its storage fails before the person gets an apology.
pub const RETRY_FOR: Duration = Duration::from_secs(90);
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const LONGEST_PAUSE: Duration = Duration::from_secs(2);

/// Counter: message attempts that failed and were retried.
pub const RETRIES_METRIC: &str = "whisperengine_intake_retries_total";

/// Runs the pipeline for `message`, trying again with a growing pause (50 ms doubling to 2 s) while
/// it fails, for up to [`RETRY_FOR`]. A failed attempt stored nothing of the turn (the pipeline
/// writes the message, its reply and its processed-event mark in one transaction) and forgot its
/// dedupe mark, so the next attempt starts clean and the message is stored and answered once.
///
/// With a `sink`, an attempt streams its reply only while no earlier attempt pushed any text, so
/// what the person sees is never two replies run together.
pub async fn handle_message_retrying(
    core: &Core,
    message: InboundMessage,
    capabilities: Capabilities,
    sink: Option<&dyn ReplySink>,
) -> Result<HandlerOutcome> {
    let started = Instant::now();
    let mut pause = FIRST_PAUSE;
    let tracked = sink.map(Tracked::new);
    loop {
        let attempt_sink = tracked
            .as_ref()
            .filter(|tracked| !tracked.has_pushed())
            .map(|tracked| tracked as &dyn ReplySink);
        match pipeline::handle_message(core, message.clone(), capabilities, attempt_sink).await {
            Ok(outcome) => return Ok(outcome),
            Err(error) if started.elapsed() + pause < RETRY_FOR => {
                metrics::counter!(RETRIES_METRIC).increment(1);
                tracing::warn!(%error, event_id = %message.event_id, retry_in = ?pause, "message not stored yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
            Err(error) => return Err(error),
        }
    }
}
