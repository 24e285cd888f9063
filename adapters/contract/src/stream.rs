//! A reply shown while it is written: the core pushes text into a [`ReplySink`] as the language
//! model produces it, and the connector reads the growing text from the paired [`ReplyStream`] and
//! shows it the platform's own way (edits, appends, streaming activities). The core never learns
//! how a platform shows it.
//!
//! The rules both sides keep:
//! - The core streams only a reply it would send whole to the same place: a conversational reply,
//!   never a private (ephemeral) command answer. Streamed text is a preview of that reply.
//! - The [`HandlerOutcome`](crate::HandlerOutcome) returned by
//!   [`EventHandler::handle_streaming`](crate::EventHandler::handle_streaming) is the truth: its
//!   reply is the whole final text (it may differ from what was streamed: a notice put first, a
//!   note after a failure, a card), and the connector ends what it showed with it. When the outcome
//!   is not a reply (a duplicate found at the end), the connector removes what it showed, where the
//!   platform allows.
//! - When nothing was pushed, the connector sends the final reply as it always did.
//! - The sink is dropped when composing ends, so [`ReplyStream::next`] then returns `None`.

use std::sync::Arc;
use tokio::sync::watch;

/// Where the core writes a reply's text as it is composed.
pub trait ReplySink: Send + Sync {
    /// Appends `delta` to the text being shown. Never blocks: the reader takes the latest text.
    fn push(&self, delta: &str);
}

/// A sink that shows nothing: for callers that do not stream.
pub struct NoStream;

impl ReplySink for NoStream {
    fn push(&self, _delta: &str) {}
}

/// The reading side of [`reply_stream`].
pub struct ReplyStream {
    text: watch::Receiver<String>,
}

impl ReplyStream {
    /// Waits for more text and returns the whole text so far, or `None` once composing has ended
    /// (the sink was dropped) and everything pushed was already returned. Pushes that happen while
    /// the reader is busy are folded into one: a slow reader sees fewer, larger steps.
    pub async fn next(&mut self) -> Option<String> {
        match self.text.changed().await {
            Ok(()) => Some(self.text.borrow_and_update().clone()),
            Err(_) => None,
        }
    }

    /// The whole text pushed so far, without waiting.
    pub fn current(&self) -> String {
        self.text.borrow().clone()
    }
}

struct WatchSink {
    text: watch::Sender<String>,
}

impl ReplySink for WatchSink {
    fn push(&self, delta: &str) {
        if delta.is_empty() {
            return;
        }
        self.text.send_modify(|text| text.push_str(delta));
    }
}

/// A connected sink and stream: hand the sink to the core, read the stream while it composes.
pub fn reply_stream() -> (Arc<dyn ReplySink>, ReplyStream) {
    let (sender, receiver) = watch::channel(String::new());
    (
        Arc::new(WatchSink { text: sender }),
        ReplyStream { text: receiver },
    )
}

/// The longest prefix of `text` (neutral markdown being written) that shows the same once the
/// rest arrives: it ends at a word boundary, outside an unclosed code fence (a fence still open is
/// closed by the caller or cut before), with balanced `**`, `_`, `` ` `` and no half-written link.
/// Converting only this prefix to a platform's markup means half-written markup never shows broken.
pub fn stable_prefix(text: &str) -> &str {
    // Cut back to the last whitespace: the word being written may still change.
    let mut end = if text.ends_with(char::is_whitespace) {
        text.len()
    } else {
        // No whitespace yet: the first word is still being written.
        text.rfind(char::is_whitespace).unwrap_or(0)
    };
    // A code fence still open: show only what came before it.
    if let Some(open) = open_fence_start(&text[..end]) {
        end = open;
    }
    // Unbalanced inline markup or a half link: step back to before the construct that is open.
    while end > 0 {
        let candidate = &text[..end];
        match first_open_construct(candidate) {
            Some(start) => end = start,
            None => break,
        }
    }
    text[..end].trim_end()
}

/// Byte offset of the line that opens a code fence not closed in `text`.
fn open_fence_start(text: &str) -> Option<usize> {
    let mut open = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            open = match open {
                Some(_) => None,
                None => Some(offset),
            };
        }
        offset += line.len();
    }
    open
}

/// Byte offset where an inline construct starts that is not closed in `text` (outside fences).
fn first_open_construct(text: &str) -> Option<usize> {
    let mut in_fence = false;
    let mut offset = 0;
    let mut open_code: Option<usize> = None;
    let mut open_bold: Option<usize> = None;
    let mut open_italic: Option<usize> = None;
    let mut open_link: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            offset += line.len();
            continue;
        }
        if in_fence {
            offset += line.len();
            continue;
        }
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let at = offset + i;
            match bytes[i] {
                b'`' => {
                    open_code = if open_code.is_some() { None } else { Some(at) };
                }
                _ if open_code.is_some() => {}
                b'*' if bytes.get(i + 1) == Some(&b'*') => {
                    open_bold = if open_bold.is_some() { None } else { Some(at) };
                    i += 1;
                }
                b'_' if is_emphasis_underscore(bytes, i) => {
                    open_italic = if open_italic.is_some() {
                        None
                    } else {
                        Some(at)
                    };
                }
                b'[' if open_link.is_none() => open_link = Some(at),
                b')' if open_link.is_some() => {
                    let start = open_link.unwrap_or(at);
                    if text[start..=at].contains("](") {
                        open_link = None;
                    }
                }
                b']' if open_link.is_some() && bytes.get(i + 1) != Some(&b'(') => {
                    // Brackets that are not a link.
                    open_link = None;
                }
                _ => {}
            }
            i += 1;
        }
        offset += line.len();
    }
    [open_code, open_bold, open_italic, open_link]
        .into_iter()
        .flatten()
        .min()
}

/// An underscore that opens or closes emphasis, not one inside a word (`snake_case`).
fn is_emphasis_underscore(bytes: &[u8], i: usize) -> bool {
    let before = i.checked_sub(1).map(|j| bytes[j]);
    let after = bytes.get(i + 1).copied();
    let word = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    !(word(before) && word(after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pushed_text_arrives_whole_and_the_stream_ends_when_the_sink_is_dropped() {
        let (sink, mut stream) = reply_stream();
        sink.push("Hello");
        assert_eq!(stream.next().await.as_deref(), Some("Hello"));
        sink.push(", ");
        sink.push("world");
        assert_eq!(stream.next().await.as_deref(), Some("Hello, world"));
        drop(sink);
        assert_eq!(stream.next().await, None);
        assert_eq!(stream.current(), "Hello, world");
    }

    #[test]
    fn the_word_being_written_is_held_back() {
        assert_eq!(stable_prefix("I think the ans"), "I think the");
        assert_eq!(stable_prefix("I think the answer "), "I think the answer");
        assert_eq!(stable_prefix("Hel"), "");
        assert_eq!(stable_prefix("Hello "), "Hello");
    }

    #[test]
    fn open_markup_is_held_back_until_it_closes() {
        assert_eq!(stable_prefix("That is **really im"), "That is");
        assert_eq!(
            stable_prefix("That is **really** nice "),
            "That is **really** nice"
        );
        assert_eq!(stable_prefix("Run `cargo te"), "Run");
        assert_eq!(stable_prefix("See [the docs](http://exa"), "See");
        assert_eq!(
            stable_prefix("See [the docs](http://example.com) now "),
            "See [the docs](http://example.com) now"
        );
        assert_eq!(stable_prefix("a snake_case name "), "a snake_case name");
        assert_eq!(stable_prefix("so _very "), "so");
    }

    #[test]
    fn an_open_code_fence_is_held_back() {
        let text = "Here:\n```rust\nfn main() {\n";
        assert_eq!(stable_prefix(text), "Here:");
        let closed = "Here:\n```rust\nfn main() {}\n```\nDone ";
        assert_eq!(
            stable_prefix(closed),
            "Here:\n```rust\nfn main() {}\n```\nDone"
        );
    }

    #[test]
    fn multibyte_text_is_cut_on_char_boundaries() {
        assert_eq!(stable_prefix("Tromsø er fin"), "Tromsø er");
        assert_eq!(stable_prefix("ünïcødé **bø"), "ünïcødé");
    }
}
