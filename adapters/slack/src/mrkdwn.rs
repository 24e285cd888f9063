//! Markdown (what the core writes) to Slack mrkdwn (what Slack renders), through pulldown-cmark's
//! parser so nesting, code and links are read the way CommonMark reads them.
//!
//! Slack's dialect: `*bold*`, `_italic_`, `~strike~`, `` `code` ``, fenced blocks without a
//! language, `<url|label>` links, `>` quotes, and no lists or headings (written as `•`/`1.` lines and
//! bold lines). Every `&`, `<` and `>` of the text is escaped, so nothing the core (or a person it
//! quotes) writes can become `<!channel>`, `<!here>`, `<!everyone>` or a `<@user>` mention.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Converts CommonMark to Slack mrkdwn.
pub fn to_mrkdwn(markdown: &str) -> String {
    let mut writer = Writer::default();
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS,
    );
    for event in parser {
        writer.event(event);
    }
    writer.out.trim_end().to_string()
}

/// Escapes the three characters Slack reserves for its control sequences.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// A URL made safe inside `<url|label>`: the characters that would end or split it are encoded.
fn link_target(url: &str) -> String {
    url.replace('<', "%3C")
        .replace('>', "%3E")
        .replace('|', "%7C")
        .replace(' ', "%20")
}

/// Whether a link target may be written as a Slack link (other schemes stay plain text).
fn is_linkable(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
}

#[derive(Default)]
struct Writer {
    out: String,
    /// One entry per open list: the next number of an ordered list, `None` for bullets.
    lists: Vec<Option<u64>>,
    /// Where each open link's label starts in `out`, and its target.
    links: Vec<(usize, String)>,
    quote_depth: usize,
    in_code_block: bool,
    /// Just wrote a list item's bullet: the item's first paragraph goes on the same line.
    at_item_start: bool,
}

impl Writer {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => {
                if self.in_code_block {
                    self.out.push_str(&escape(&text));
                } else {
                    self.text(&escape(&text));
                }
            }
            Event::Code(code) => self.text(&format!("`{}`", escape(&code))),
            Event::InlineMath(math) | Event::DisplayMath(math) => {
                self.text(&format!("`{}`", escape(&math)));
            }
            Event::Html(html) | Event::InlineHtml(html) => self.text(&escape(&html)),
            Event::SoftBreak | Event::HardBreak => self.line_break(),
            Event::Rule => {
                self.block_gap();
                self.out.push_str("――――――――");
            }
            Event::TaskListMarker(done) => self.text(if done { "☑ " } else { "☐ " }),
            Event::FootnoteReference(name) => self.text(&format!("[{}]", escape(&name))),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => {
                if self.at_item_start {
                    self.at_item_start = false;
                } else {
                    self.block_gap();
                }
            }
            Tag::Heading { .. } => {
                self.block_gap();
                self.out.push('*');
            }
            Tag::BlockQuote(_) => {
                self.block_gap();
                self.quote_depth += 1;
            }
            Tag::CodeBlock(_) => {
                // Slack has no syntax highlighting: the language is dropped.
                self.block_gap();
                self.out.push_str("```\n");
                self.in_code_block = true;
            }
            Tag::List(first) => {
                if self.lists.is_empty() {
                    self.block_gap();
                }
                self.lists.push(first);
            }
            Tag::Item => {
                self.new_line();
                let indent = "    ".repeat(self.lists.len().saturating_sub(1));
                self.out.push_str(&indent);
                let bullet = match self.lists.last_mut() {
                    Some(Some(number)) => {
                        let bullet = format!("{number}. ");
                        *number += 1;
                        bullet
                    }
                    _ => "• ".to_string(),
                };
                self.out.push_str(&bullet);
                self.at_item_start = true;
            }
            Tag::Emphasis => self.text("_"),
            Tag::Strong => self.text("*"),
            Tag::Strikethrough => self.text("~"),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.at_item_start = false;
                self.links.push((self.out.len(), dest_url.to_string()));
            }
            Tag::TableRow | Tag::TableHead => self.new_line(),
            Tag::TableCell if !self.out.ends_with('\n') && !self.out.is_empty() => {
                self.out.push_str(" | ");
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(_) => self.out.push('*'),
            TagEnd::BlockQuote(_) => self.quote_depth = self.quote_depth.saturating_sub(1),
            TagEnd::CodeBlock => {
                if !self.out.ends_with('\n') {
                    self.out.push('\n');
                }
                self.out.push_str("```");
                self.in_code_block = false;
            }
            TagEnd::List(_) => {
                self.lists.pop();
            }
            TagEnd::Item => self.at_item_start = false,
            TagEnd::Emphasis => self.out.push('_'),
            TagEnd::Strong => self.out.push('*'),
            TagEnd::Strikethrough => self.out.push('~'),
            TagEnd::Link | TagEnd::Image => self.close_link(),
            _ => {}
        }
    }

    /// Replaces the label written since the link opened with `<url|label>`.
    fn close_link(&mut self) {
        let Some((start, url)) = self.links.pop() else {
            return;
        };
        if !is_linkable(&url) {
            return;
        }
        let label: String = self.out.split_off(start.min(self.out.len()));
        let target = link_target(&url);
        if label.is_empty() || label == escape(&url) {
            self.out.push_str(&format!("<{target}>"));
        } else {
            // A `|` or `>` in the label would end the link early.
            let label = label.replace('|', "¦");
            self.out.push_str(&format!("<{target}|{label}>"));
        }
    }

    fn text(&mut self, text: &str) {
        self.at_item_start = false;
        self.out.push_str(text);
    }

    fn line_break(&mut self) {
        self.out.push('\n');
        self.quote_prefix();
    }

    /// Starts a new line unless already at one.
    fn new_line(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    /// Leaves one blank line before a new block (none at the start, a single line break in lists).
    fn block_gap(&mut self) {
        if self.out.is_empty() {
            self.quote_prefix();
            return;
        }
        if !self.lists.is_empty() {
            self.new_line();
        } else if !self.out.ends_with("\n\n") {
            self.out.push_str(if self.out.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            });
        }
        self.quote_prefix();
    }

    fn quote_prefix(&mut self) {
        for _ in 0..self.quote_depth {
            self.out.push_str("> ");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emphasis_becomes_slack_emphasis() {
        assert_eq!(
            to_mrkdwn("**bold**, *italic*, _also italic_ and ~~gone~~"),
            "*bold*, _italic_, _also italic_ and ~gone~"
        );
        assert_eq!(to_mrkdwn("***both***"), "_*both*_");
    }

    #[test]
    fn links_become_angle_bracket_links() {
        assert_eq!(
            to_mrkdwn("See [the docs](https://example.com/a?b=1&c=2) now"),
            "See <https://example.com/a?b=1&c=2|the docs> now"
        );
        assert_eq!(to_mrkdwn("<https://example.com>"), "<https://example.com>");
        assert_eq!(
            to_mrkdwn("[**bold** label](https://x.test/p|q)"),
            "<https://x.test/p%7Cq|*bold* label>"
        );
        assert_eq!(
            to_mrkdwn("[click](javascript:alert(1))"),
            "click",
            "other schemes stay plain text"
        );
    }

    #[test]
    fn code_is_kept_verbatim_but_escaped() {
        assert_eq!(to_mrkdwn("run `a < b && c`"), "run `a &lt; b &amp;&amp; c`");
        assert_eq!(
            to_mrkdwn(
                "Code:\n\n```rust\nfn main() { if a < b { println!(\"**x**\"); } }\n```\n\nDone."
            ),
            "Code:\n\n```\nfn main() { if a &lt; b { println!(\"**x**\"); } }\n```\n\nDone."
        );
    }

    #[test]
    fn lists_become_bullet_and_numbered_lines() {
        assert_eq!(
            to_mrkdwn("Things:\n\n- one\n- **two**\n  - nested\n- three"),
            "Things:\n\n• one\n• *two*\n    • nested\n• three"
        );
        assert_eq!(to_mrkdwn("3. c\n4. d"), "3. c\n4. d");
        assert_eq!(to_mrkdwn("- [x] done\n- [ ] todo"), "• ☑ done\n• ☐ todo");
    }

    #[test]
    fn headings_quotes_and_paragraphs() {
        assert_eq!(
            to_mrkdwn("# Title\n\nText here.\nSame paragraph.\n\n> quoted\n> more"),
            "*Title*\n\nText here.\nSame paragraph.\n\n> quoted\n> more"
        );
    }

    #[test]
    fn special_characters_and_broadcast_mentions_are_neutralised() {
        let converted = to_mrkdwn("Tom & Jerry <!channel> <!here> <!everyone> <@U123> 3 > 2");
        assert_eq!(
            converted,
            "Tom &amp; Jerry &lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;@U123&gt; 3 &gt; 2"
        );
        assert!(!converted.contains("<!"));
        let html = to_mrkdwn("<div><!here></div>\n\nok");
        assert!(!html.contains("<!here>"), "{html}");
    }

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(
            to_mrkdwn("Hello there! How are you today?"),
            "Hello there! How are you today?"
        );
        assert_eq!(to_mrkdwn(""), "");
    }
}
