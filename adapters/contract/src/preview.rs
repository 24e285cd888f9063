//! Showing a reply while it is written: the connector's side of [`crate::stream`]. A connector
//! implements [`Preview`] (post then edit, append to a platform stream, print) and runs the core
//! through [`handle_with_preview`].

use crate::connector::{Capabilities, EventHandler, HandlerOutcome};
use crate::event::InboundEvent;

/// How a connector shows a reply while it is written (posting, then editing a message; appending
/// to a platform stream; writing to a terminal).
#[async_trait::async_trait]
pub trait Preview: Send {
    /// Shows `text`, the whole reply so far. Called again each time more has arrived; pushes made
    /// while it runs fold into the next call, so a slow platform edits less often and never falls
    /// behind.
    async fn show(&mut self, text: String);
}

/// Runs `event` through `handler` while `preview` shows its reply as it is written. Both run in
/// this task, so composing goes on while a platform call is in flight. Returns the outcome (the
/// truth, see the module doc) once composing has ended and the last `show` has returned.
pub async fn handle_with_preview(
    handler: &dyn EventHandler,
    event: InboundEvent,
    capabilities: Capabilities,
    preview: &mut dyn Preview,
) -> HandlerOutcome {
    let (sink, mut stream) = crate::stream::reply_stream();
    let showing = async {
        while let Some(text) = stream.next().await {
            preview.show(text).await;
        }
    };
    let (outcome, ()) = tokio::join!(handler.handle_streaming(event, capabilities, sink), showing);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::ReplySink;
    use std::sync::Arc;

    struct Writer;

    #[async_trait::async_trait]
    impl EventHandler for Writer {
        async fn handle(
            &self,
            _event: InboundEvent,
            _capabilities: Capabilities,
        ) -> HandlerOutcome {
            HandlerOutcome::Ignored("not streamed")
        }

        async fn handle_streaming(
            &self,
            _event: InboundEvent,
            _capabilities: Capabilities,
            sink: Arc<dyn ReplySink>,
        ) -> HandlerOutcome {
            for word in ["one ", "two ", "three"] {
                sink.push(word);
                tokio::task::yield_now().await;
            }
            HandlerOutcome::Reply(crate::OutboundReply::text("one two three"))
        }
    }

    struct Shown(Vec<String>);

    #[async_trait::async_trait]
    impl Preview for Shown {
        async fn show(&mut self, text: String) {
            self.0.push(text);
        }
    }

    #[tokio::test]
    async fn the_preview_sees_the_text_grow_while_the_handler_composes() {
        let event = InboundEvent::Command(crate::CommandInvocation {
            event_id: "e-1".into(),
            invoker: crate::PlatformAccount::new(crate::Platform::Desktop, "local", "me"),
            context: crate::ConversationContext::direct("local"),
            name: "help".into(),
            args: Vec::new(),
            invoker_is_admin: false,
        });
        let mut shown = Shown(Vec::new());
        let outcome = handle_with_preview(&Writer, event, Capabilities::LOCAL, &mut shown).await;
        let shown = shown.0;
        assert_eq!(
            outcome,
            HandlerOutcome::Reply(crate::OutboundReply::text("one two three"))
        );
        assert!(shown.len() >= 2, "{shown:?}");
        assert_eq!(shown.last().map(String::as_str), Some("one two three"));
    }
}
