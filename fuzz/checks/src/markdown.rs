//! The core's markdown as each platform renders it: Slack mrkdwn (which must never turn text into
//! a `<!channel>`, `<@user>` or `<#channel>` control sequence), and the neutral card as Block Kit,
//! an Adaptive Card and a Discord embed.
//!
//! Input: markdown text; for the card, its first line is the title, each further line a field
//! (`name: value`, inline when the line starts with `~`), a line starting with `_` the footer.

use whisperengine_contract::Card;
use whisperengine_slack::blocks::card_blocks;
use whisperengine_slack::mrkdwn::{escape, to_mrkdwn};

/// Control sequences Slack acts on: a mention or a channel link written by the companion would
/// notify people.
const CONTROL_SEQUENCES: [&str; 3] = ["<!", "<@", "<#"];

fn card_of(text: &str) -> Card {
    let mut lines = text.lines();
    let mut card = Card::new(lines.next().unwrap_or_default());
    for line in lines {
        if let Some(footer) = line.strip_prefix('_') {
            card = card.footer(footer);
            continue;
        }
        let (inline, line) = match line.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        card = card.field(name, value, inline);
    }
    card
}

/// Runs one input; panics when a property does not hold.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mrkdwn = to_mrkdwn(text);
    for sequence in CONTROL_SEQUENCES {
        assert!(
            !mrkdwn.contains(sequence),
            "mrkdwn holds {sequence}: {mrkdwn:?}"
        );
    }
    let escaped = escape(text);
    assert!(!escaped.contains('<') && !escaped.contains('>'));
    let card = card_of(text);
    let _ = card.to_markdown();
    let blocks = card_blocks(&card);
    assert!(blocks.len() <= 50, "Block Kit takes at most 50 blocks");
    let _ = serde_json::to_vec(&blocks);
    let _ = serde_json::to_vec(&whisperengine_teams::card::adaptive_card(&card));
    let _ = whisperengine_discord::render::embed(&card);
}
