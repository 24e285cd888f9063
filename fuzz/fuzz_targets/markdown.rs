//! The core's markdown as each platform renders it: Slack mrkdwn (which must never turn text into
//! a `<!channel>`, `<@user>` or `<#channel>` control sequence), and the neutral card as Block Kit,
//! an Adaptive Card and a Discord embed.
//!
//! Input: markdown text; for the card, its first line is the title, each further line a field
//! (`name: value`, inline when the line starts with `~`), a line starting with `_` the footer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| whisperengine_fuzz_checks::markdown::check(data));
