//! Long replies split below each platform's limit: the shared splitter (every part within the
//! limit, never empty), Discord's 2,000 characters and Teams' limit in characters and bytes.
//!
//! Input: the first byte picks the limit (32 to 2,072 characters), the rest is the markdown.

use whisperengine_contract::{split_message, OutboundReply};

/// Runs one input; panics when a property does not hold.
pub fn check(data: &[u8]) {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let max_chars = 32 + usize::from(*first) * 8;
    let parts = split_message(text, max_chars);
    for part in &parts {
        assert!(
            part.chars().count() <= max_chars,
            "a part of {} characters for a limit of {max_chars}",
            part.chars().count()
        );
        assert!(!part.trim().is_empty(), "an empty part");
    }
    if !text.trim().is_empty() {
        assert!(!parts.is_empty(), "text vanished");
    }
    for part in whisperengine_discord::render::text_parts(&OutboundReply::text(text)) {
        assert!(part.chars().count() <= 2_000);
    }
    for part in whisperengine_teams::handler::split_for_teams(text) {
        assert!(part.len() <= 25_000 && part.chars().count() <= 25_000);
    }
}
