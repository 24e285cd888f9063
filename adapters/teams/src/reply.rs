//! Sending a finished reply to a Teams conversation: a card as an Adaptive Card, text split below
//! Teams' size limit; and the guard that stops a typing indicator.

use crate::activity::{Activity, OutgoingActivity};
use crate::card::adaptive_card;
use crate::client::ConnectorClient;
use crate::CAPABILITIES;
use url::Url;
use whisperengine_contract::{split_message, OutboundReply};

/// Aborts its task when dropped.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends `reply`: a card as an Adaptive Card attachment (it carries the same content as the text),
/// otherwise the markdown text split below Teams' size limit.
pub(crate) async fn send_reply(
    client: &ConnectorClient,
    activity: &Activity,
    service_url: &Url,
    reply: &OutboundReply,
) {
    let activities: Vec<OutgoingActivity> = match &reply.card {
        Some(card) => vec![OutgoingActivity::message_to(
            activity,
            None,
            vec![adaptive_card(card)],
        )],
        None => split_for_teams(&reply.text)
            .into_iter()
            .map(|part| OutgoingActivity::message_to(activity, Some(part), Vec::new()))
            .collect(),
    };
    for outgoing in &activities {
        if let Err(error) = client
            .send(
                service_url,
                &activity.conversation.id,
                activity.id.as_deref(),
                outgoing,
            )
            .await
        {
            tracing::warn!(%error, "Teams reply not delivered");
            return;
        }
    }
}

/// Splits `text` into parts of at most [`CAPABILITIES`]' length in characters and in bytes (Teams
/// limits the size of the whole activity, so multi-byte text needs shorter parts).
pub fn split_for_teams(text: &str) -> Vec<String> {
    let max = CAPABILITIES.max_message_length;
    split_message(text, max)
        .into_iter()
        .flat_map(|part| {
            if part.len() <= max {
                return vec![part];
            }
            let chars = part.chars().count().max(1);
            let average = split_message(&part, max * chars / part.len());
            if average.iter().all(|piece| piece.len() <= max) {
                average
            } else {
                // Four bytes is the longest UTF-8 character: this always fits.
                split_message(&part, max / 4)
            }
        })
        .collect()
}
