//! The terminal chat: reads lines, hands them to the core as the local user's messages and
//! `/commands`, and prints the replies as plain text.

use std::sync::Arc;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use whisperengine_contract::{
    Capabilities, Card, EventHandler, HandlerOutcome, InboundEvent, MarkupDialect, OutboundReply,
};

/// Channel id of the terminal conversation.
pub const CHANNEL_ID: &str = "terminal";

/// What a terminal shows: long plain-text messages, no cards (they are printed as lines).
pub const TERMINAL_CAPABILITIES: Capabilities = Capabilities {
    markup: MarkupDialect::Plain,
    ..Capabilities::LOCAL
};

const PROMPT: &[u8] = b"you> ";

/// Runs a chat on `input`/`output` until `/quit`, `/exit` or end of input.
///
/// Prints `intro`, then a `you> ` prompt per line. Lines starting with `/` are commands run as the
/// host's owner (the person at the terminal owns the host); other lines are messages from `user`.
/// Replies are printed as `{companion_name}> {reply}`, a card as plain lines after it; with
/// `stream`, a reply from the language model is printed as it is written. Duplicates and ignored
/// events print nothing.
pub async fn run_terminal<R, W>(
    handler: Arc<dyn EventHandler>,
    user: &str,
    companion_name: &str,
    intro: &str,
    stream: bool,
    mut input: R,
    mut output: W,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if !intro.is_empty() {
        output.write_all(intro.trim_end().as_bytes()).await?;
        output.write_all(b"\n").await?;
    }
    let mut buffer = Vec::new();
    loop {
        output.write_all(PROMPT).await?;
        output.flush().await?;
        buffer.clear();
        if input.read_until(b'\n', &mut buffer).await? == 0 {
            // End of input (Ctrl-D): leave the shell prompt on a line of its own.
            output.write_all(b"\n").await?;
            output.flush().await?;
            return Ok(());
        }
        // A stray invalid byte should not end the chat; it becomes U+FFFD.
        let line = String::from_utf8_lossy(&buffer);
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if is_quit(text) {
            output.flush().await?;
            return Ok(());
        }
        let Some(event) = to_event(text, user) else {
            output
                .write_all(b"(a command needs a name after /, e.g. /help)\n")
                .await?;
            continue;
        };
        if stream {
            answer_streaming(handler.as_ref(), event, companion_name, &mut output).await?;
            continue;
        }
        match handler.handle(event, TERMINAL_CAPABILITIES).await {
            HandlerOutcome::Reply(reply) => {
                let rendered = render_reply(companion_name, &reply);
                output.write_all(rendered.as_bytes()).await?;
            }
            HandlerOutcome::Duplicate | HandlerOutcome::Ignored(_) => {}
        }
    }
}

/// Runs `event`, printing the reply's text as it arrives, then what the final reply adds (its
/// card, or the whole reply again when it is not what was printed).
async fn answer_streaming<W>(
    handler: &dyn EventHandler,
    event: InboundEvent,
    companion_name: &str,
    output: &mut W,
) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let (sink, mut stream) = whisperengine_contract::reply_stream();
    let mut printed = String::new();
    let printing = async {
        while let Some(text) = stream.next().await {
            if printed.is_empty() {
                output
                    .write_all(format!("{companion_name}> ").as_bytes())
                    .await?;
            }
            // The text only grows, so what was printed is a prefix of it.
            output
                .write_all(text.get(printed.len()..).unwrap_or_default().as_bytes())
                .await?;
            output.flush().await?;
            printed = text;
        }
        Ok::<(), std::io::Error>(())
    };
    let (outcome, printed_ok) = tokio::join!(
        handler.handle_streaming(event, TERMINAL_CAPABILITIES, sink),
        printing
    );
    printed_ok?;
    let reply = match outcome {
        HandlerOutcome::Reply(reply) => Some(reply),
        HandlerOutcome::Duplicate | HandlerOutcome::Ignored(_) => None,
    };
    if printed.is_empty() {
        if let Some(reply) = reply {
            output
                .write_all(render_reply(companion_name, &reply).as_bytes())
                .await?;
        }
        return Ok(());
    }
    output.write_all(b"\n").await?;
    let Some(reply) = reply else {
        return Ok(());
    };
    if reply.text.trim_end() != printed.trim_end() {
        // Not what was shown (it changed at the end): the reply as it stands.
        output
            .write_all(render_reply(companion_name, &reply).as_bytes())
            .await?;
    } else if let Some(card) = &reply.card {
        output
            .write_all(format!("{}\n", card_lines(card).join("\n")).as_bytes())
            .await?;
    }
    Ok(())
}

fn is_quit(text: &str) -> bool {
    let lowered = text.to_ascii_lowercase();
    lowered == "/quit" || lowered == "/exit"
}

/// The event for one typed line (the person at the terminal owns the host), or `None` for a bare
/// `/`.
fn to_event(text: &str, user: &str) -> Option<InboundEvent> {
    let event_id = uuid::Uuid::new_v4().to_string();
    crate::event::from_line(text, user, CHANNEL_ID, event_id, true)
}

/// `{companion}> {text}` followed by the card's plain lines, ending with a newline.
pub fn render_reply(companion_name: &str, reply: &OutboundReply) -> String {
    let mut lines: Vec<String> = Vec::new();
    let text = reply.text.trim_end();
    if !text.is_empty() {
        lines.push(text.to_string());
    }
    if let Some(card) = &reply.card {
        lines.extend(card_lines(card));
    }
    format!("{companion_name}> {}\n", lines.join("\n"))
}

/// A card as plain text: the title, one indented `name: value` line per field, the footer.
pub fn card_lines(card: &Card) -> Vec<String> {
    let mut lines = vec![format!("[{}]", card.title)];
    for field in &card.fields {
        lines.push(format!("  {}: {}", field.name, field.value));
    }
    if let Some(footer) = &card.footer {
        lines.push(format!("  ({footer})"));
    }
    lines
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::test_support::RecordingHandler;
    use whisperengine_contract::{Platform, Visibility};

    async fn chat(input: &[u8]) -> (String, Arc<RecordingHandler>) {
        chat_with(input, false).await
    }

    async fn chat_with(input: &[u8], stream: bool) -> (String, Arc<RecordingHandler>) {
        let handler = Arc::new(RecordingHandler::default());
        let mut output = Vec::new();
        run_terminal(
            handler.clone(),
            "owner",
            "Elena",
            "Hi, I am Elena. Type /help.",
            stream,
            input,
            &mut output,
        )
        .await
        .unwrap();
        (String::from_utf8(output).unwrap(), handler)
    }

    #[tokio::test]
    async fn messages_get_replies_after_the_intro_and_prompt() {
        let (output, handler) = chat(b"hello there\n").await;
        assert_eq!(
            output,
            "Hi, I am Elena. Type /help.\nyou> Elena> echo: hello there\nyou> \n"
        );
        let InboundEvent::Message(message) = handler.last() else {
            panic!("expected a message");
        };
        assert_eq!(message.author.user_id, "owner");
        assert_eq!(message.author.platform, Platform::Desktop);
        assert_eq!(message.context.channel_id, "terminal");
        assert_eq!(message.context.visibility, Visibility::Dm);
        assert!(message.is_addressed);
        assert!(uuid::Uuid::parse_str(&message.event_id).is_ok());
    }

    #[tokio::test]
    async fn a_streamed_reply_is_printed_as_it_arrives_and_corrected_when_the_end_differs() {
        let (output, _) = chat_with(b"stream one two three\nhello\n", true).await;
        assert_eq!(
            output,
            "Hi, I am Elena. Type /help.\nyou> Elena> one two three\nyou> Elena> echo: hello\nyou> \n"
        );
        let (output, _) = chat_with(b"stream words that change\n", true).await;
        assert!(
            output.contains("Elena> words that change\nElena> words that change, finally\n"),
            "{output}"
        );
    }

    #[tokio::test]
    async fn slash_lines_are_owner_commands() {
        let (output, handler) = chat(b"/Prefs set tone warm\n").await;
        assert!(output.contains("Elena> command prefs"), "{output}");
        let InboundEvent::Command(command) = handler.last() else {
            panic!("expected a command");
        };
        assert_eq!(command.name, "prefs");
        assert_eq!(command.args, vec!["set", "tone", "warm"]);
        assert!(command.invoker_is_admin);
    }

    #[tokio::test]
    async fn quit_exit_and_end_of_input_stop_the_chat() {
        let (_, handler) = chat(b"one\n/quit\ntwo\n").await;
        assert_eq!(handler.calls(), 1);
        let (_, handler) = chat(b"one\n/EXIT\ntwo\n").await;
        assert_eq!(handler.calls(), 1);
        let (_, handler) = chat(b"one\ntwo").await;
        assert_eq!(
            handler.calls(),
            2,
            "a last line without a newline still counts"
        );
    }

    #[tokio::test]
    async fn blank_lines_and_a_bare_slash_reach_nothing() {
        let (output, handler) = chat(b"\n   \r\n/\n").await;
        assert_eq!(handler.calls(), 0);
        assert!(output.contains("/help"), "{output}");
    }

    #[tokio::test]
    async fn duplicates_and_ignored_events_print_nothing() {
        let (output, handler) = chat(b"say it twice\nnot for you\n").await;
        assert_eq!(handler.calls(), 2);
        assert!(!output.contains("Elena>"), "{output}");
    }

    #[tokio::test]
    async fn cards_print_as_plain_lines() {
        let (output, _) = chat(b"show a card\n").await;
        assert!(
            output.contains(
                "Elena> Here you go\n[Sync status]\n  Linked: 2 accounts\n  (as of now)\n"
            ),
            "{output}"
        );
    }

    #[tokio::test]
    async fn invalid_utf8_does_not_end_the_chat() {
        let (_, handler) = chat(b"caf\xff\nstill here\n").await;
        assert_eq!(handler.calls(), 2);
        assert!(matches!(handler.last(), InboundEvent::Message(m) if m.text == "still here"));
    }

    #[tokio::test]
    async fn long_replies_are_printed_whole() {
        let long = "word ".repeat(5_000);
        let (output, _) = chat(format!("{long}\n").as_bytes()).await;
        assert!(output.contains(&format!("Elena> echo: {}", long.trim())));
    }
}
