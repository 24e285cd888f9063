//! `POST /api/chat` answered while the reply is written, for a client that sends
//! `Accept: text/event-stream` (the page does) when STREAM_REPLIES names `desktop`.
//!
//! The answer is decided by what comes first from the core:
//! - the outcome (nothing was streamed: a command, a refusal, the offline responder) → the same
//!   JSON answer as without streaming, status and `Retry-After` included;
//! - text → `200 text/event-stream` with `delta` events (`{"text": "<appended text>"}`) as the
//!   language model writes, then one `reply` event carrying the [`ChatResponse`] — the final reply,
//!   which replaces what the deltas showed (it may differ: a note after a cut, a card).
//!
//! The turn runs on the host's workers whatever the client does: a client that goes away mid-reply
//! still has its message stored and answered once (sending the same `event_id` again gets the
//! stored answer or `duplicate`).

use super::{to_response, ChatApiError, Sent};
use crate::LocalState;
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use tokio::sync::oneshot;
use whisperengine_contract::{
    reply_stream, Capabilities, HandlerOutcome, InboundEvent, ReplyStream,
};

/// Whether the client asked for server-sent events.
pub fn is_accepted(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            item.split(';')
                .next()
                .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("text/event-stream"))
        })
}

/// Runs `event` and answers with its reply as it is written (or whole, when nothing streamed).
pub async fn answer(state: &LocalState, event: InboundEvent) -> Result<Response, ChatApiError> {
    let sent = Sent::of(&event);
    let (sink, mut stream) = reply_stream();
    let (sender, mut receiver) = oneshot::channel();
    let handler = state.handler.clone();
    let job = async move {
        let outcome = handler
            .handle_streaming(event, Capabilities::LOCAL, sink)
            .await;
        let _ = sender.send(outcome);
    };
    match &state.inbox {
        Some(inbox) => inbox
            .submit(whisperengine_contract::job_without_entry(job))
            .map_err(|_| ChatApiError::Unavailable)?,
        None => {
            tokio::spawn(job);
        }
    }
    let first = tokio::select! {
        outcome = &mut receiver => {
            let outcome = outcome.map_err(|_| ChatApiError::Unavailable)?;
            return Ok(sent.answer(state, outcome).await);
        }
        first = stream.next() => first,
    };
    let Some(first) = first else {
        // Composing ended without text: the outcome is on its way.
        let outcome = receiver.await.map_err(|_| ChatApiError::Unavailable)?;
        return Ok(sent.answer(state, outcome).await);
    };
    let events = futures_util::stream::unfold(
        Progress::Text {
            stream,
            receiver,
            sent: 0,
            pending: Some(first),
        },
        Progress::step,
    );
    Ok(Sse::new(events).into_response())
}

/// Where the event stream is.
enum Progress {
    /// Deltas are being sent; `pending` is text read but not yet sent.
    Text {
        stream: ReplyStream,
        receiver: oneshot::Receiver<HandlerOutcome>,
        sent: usize,
        pending: Option<String>,
    },
    Done,
}

impl Progress {
    async fn step(self) -> Option<(Result<Event, Infallible>, Progress)> {
        let Progress::Text {
            mut stream,
            receiver,
            sent,
            pending,
        } = self
        else {
            return None;
        };
        let text = match pending {
            Some(text) => Some(text),
            None => stream.next().await,
        };
        match text {
            Some(text) => {
                // The text only grows, so what was sent is a prefix of it.
                let delta = text.get(sent..).unwrap_or_default();
                let event = Event::default()
                    .event("delta")
                    .data(serde_json::json!({ "text": delta }).to_string());
                let next = Progress::Text {
                    stream,
                    receiver,
                    sent: text.len(),
                    pending: None,
                };
                Some((Ok(event), next))
            }
            None => {
                let response = match receiver.await {
                    Ok(outcome) => serde_json::to_value(to_response(outcome)),
                    Err(_) => Ok(serde_json::json!({
                        "error": ChatApiError::Unavailable.to_string()
                    })),
                };
                let data = response.map(|value| value.to_string()).unwrap_or_default();
                let event = Event::default().event("reply").data(data);
                Some((Ok(event), Progress::Done))
            }
        }
    }
}
