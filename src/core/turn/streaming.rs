//! The sinks the pipeline streams a reply through: one that puts a notice before the first text
//! (the demo notice leads the reply, streamed or not) and one that remembers whether anything was
//! pushed (a retried attempt streams only when the first showed nothing, so a preview never shows
//! two replies run together).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use whisperengine_contract::ReplySink;

/// Pushes `notice` and a blank line before the first delta.
pub struct NoticeFirst<'a> {
    inner: &'a dyn ReplySink,
    notice: Mutex<Option<String>>,
}

impl<'a> NoticeFirst<'a> {
    pub fn new(inner: &'a dyn ReplySink, notice: String) -> Self {
        NoticeFirst {
            inner,
            notice: Mutex::new(Some(notice)),
        }
    }
}

impl ReplySink for NoticeFirst<'_> {
    fn push(&self, delta: &str) {
        if delta.is_empty() {
            return;
        }
        let notice = self
            .notice
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(notice) = notice {
            self.inner.push(&format!("{notice}\n\n"));
        }
        self.inner.push(delta);
    }
}

/// Passes pushes through and remembers that there were some.
pub struct Tracked<'a> {
    inner: &'a dyn ReplySink,
    pushed: AtomicBool,
}

impl<'a> Tracked<'a> {
    pub fn new(inner: &'a dyn ReplySink) -> Self {
        Tracked {
            inner,
            pushed: AtomicBool::new(false),
        }
    }

    /// Whether any text went through.
    pub fn has_pushed(&self) -> bool {
        self.pushed.load(Ordering::Relaxed)
    }
}

impl ReplySink for Tracked<'_> {
    fn push(&self, delta: &str) {
        if delta.is_empty() {
            return;
        }
        self.pushed.store(true, Ordering::Relaxed);
        self.inner.push(delta);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use whisperengine_contract::reply_stream;

    #[tokio::test]
    async fn the_notice_comes_once_before_the_first_text() {
        let (sink, mut stream) = reply_stream();
        let first = NoticeFirst::new(sink.as_ref(), "Demo: data expires.".into());
        first.push("");
        assert_eq!(stream.current(), "");
        first.push("Hi");
        first.push(" there");
        assert_eq!(
            stream.next().await.unwrap(),
            "Demo: data expires.\n\nHi there"
        );
    }

    #[test]
    fn tracking_notices_only_real_text() {
        let (sink, _stream) = reply_stream();
        let tracked = Tracked::new(sink.as_ref());
        tracked.push("");
        assert!(!tracked.has_pushed());
        tracked.push("a");
        assert!(tracked.has_pushed());
    }
}
