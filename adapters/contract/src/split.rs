//! Splitting a long markdown reply into parts below a platform's message limit.
//!
//! Parts break at the best boundary available (paragraph, line, sentence, word), never inside a word,
//! and never leave a code fence open: a code block too long for one part is closed at a line break and
//! reopened (with its language) in the next part, so every part is valid markdown on its own.

/// Splits `text` into parts of at most `max_chars` characters each (`max_chars` is raised to 32).
pub fn split_message(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(32);
    let mut parts = Vec::new();
    let mut rest = text.trim().to_string();
    while rest.chars().count() > max_chars {
        let window_end = byte_index_of_char(&rest, max_chars);
        let (cut, reopen) = choose_cut(&rest, window_end);
        let (head, tail) = rest.split_at(cut);
        let mut part = head.trim_end().to_string();
        let mut next = tail.trim_start_matches([' ', '\n']).to_string();
        if let Some(fence) = reopen.and_then(|fence| reopening(fence, head)) {
            part.push_str("\n```");
            next = format!("{fence}\n{next}");
        }
        if !part.trim().is_empty() {
            parts.push(part);
        }
        rest = next;
    }
    if !rest.trim().is_empty() {
        parts.push(rest);
    }
    parts
}

/// The fence line to reopen a code block with after cutting off `head`: the block's own (with its
/// language) when repeating it is shorter than what the cut removed, else a bare fence, else none.
/// Each part must make progress: a fence line longer than the cut (a long info string) would
/// otherwise make the rest grow with every part, for ever.
fn reopening(fence: String, head: &str) -> Option<String> {
    let removed = head.chars().count();
    if fence.chars().count() + 1 < removed {
        Some(fence)
    } else if "```".len() + 1 < removed {
        Some("```".to_string())
    } else {
        None
    }
}

/// Byte index of the `n`th character (or the end).
fn byte_index_of_char(text: &str, n: usize) -> usize {
    text.char_indices()
        .nth(n)
        .map_or(text.len(), |(index, _)| index)
}

/// The opening fence line (e.g. "```rust") of the code block open at byte `at`, if any.
fn open_fence_at(text: &str, at: usize) -> Option<&str> {
    let mut open: Option<&str> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if offset >= at {
            break;
        }
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            open = match open {
                Some(_) => None,
                None => Some(trimmed),
            };
        }
        offset += line.len();
    }
    open
}

/// Picks where to cut within the first `window_end` bytes. Returns the cut and, when the cut falls
/// inside a code block, the fence to reopen it with.
fn choose_cut(text: &str, window_end: usize) -> (usize, Option<String>) {
    // Room for "\n```" in case a code block has to be closed.
    let window_end = byte_index_of_char(text, text[..window_end].chars().count().saturating_sub(4));
    let window = &text[..window_end];
    let is_outside_code = |at: usize| open_fence_at(text, at).is_none();
    let candidates = |pattern: &'static str| {
        window
            .rmatch_indices(pattern)
            .map(move |(index, _)| index + pattern.len())
    };
    let minimum = window_end / 4;
    for pattern in ["\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " "] {
        if let Some(cut) = candidates(pattern).find(|&cut| cut > minimum && is_outside_code(cut)) {
            return (cut, None);
        }
    }
    // Inside a long code block: cut at a line break in the block and reopen the fence.
    if let Some(fence) = open_fence_at(text, window_end) {
        let fence = fence.to_string();
        if let Some(cut) = candidates("\n").find(|&cut| cut > minimum) {
            return (cut, Some(fence));
        }
        return (window_end, Some(fence));
    }
    // One unbroken word longer than the limit: nothing better than a hard cut.
    (window_end.max(1), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fences_balanced(part: &str) -> bool {
        part.lines()
            .filter(|line| line.trim().starts_with("```"))
            .count()
            % 2
            == 0
    }

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_message("hello there", 2000), vec!["hello there"]);
    }

    #[test]
    fn parts_respect_the_limit_and_break_between_words() {
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(100);
        let parts = split_message(&text, 200);
        assert!(parts.len() > 5);
        for part in &parts {
            assert!(
                part.chars().count() <= 200,
                "{} chars",
                part.chars().count()
            );
            assert!(
                part.ends_with('.'),
                "part should end at a sentence: {part:?}"
            );
        }
        let rejoined: Vec<&str> = parts.iter().flat_map(|p| p.split_whitespace()).collect();
        let original: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(rejoined, original, "no word is lost or broken");
    }

    #[test]
    fn code_blocks_are_never_left_open() {
        let code: String = (0..80).map(|i| format!("let x{i} = {i};\n")).collect();
        let text = format!("Here is the code:\n\n```rust\n{code}```\n\nThat is all.");
        let parts = split_message(&text, 300);
        assert!(parts.len() > 3);
        for part in &parts {
            assert!(part.chars().count() <= 300);
            assert!(fences_balanced(part), "unbalanced fences in {part:?}");
        }
        assert!(
            parts[1].starts_with("```rust"),
            "the block reopens with its language"
        );
    }

    #[test]
    fn a_small_code_block_moves_whole_to_the_next_part() {
        let text = format!("{}\n\n```\nfn main() {{}}\n```", "word ".repeat(30));
        let parts = split_message(&text, 160);
        for part in &parts {
            assert!(fences_balanced(part), "{part:?}");
        }
        assert!(parts.iter().any(|p| p.contains("```\nfn main() {}\n```")));
    }

    #[test]
    fn a_fence_line_longer_than_the_limit_still_ends() {
        // Reopening this fence (longer than a part) in every part made the rest grow without end.
        let text = format!("```{}\n{}", "x".repeat(100), "y ".repeat(200));
        let parts = split_message(&text, 32);
        assert!(parts.len() > 5);
        assert!(parts.iter().all(|part| part.chars().count() <= 32));
    }

    /// Inputs in the `split` fuzz format that never finished before (first byte: the limit, as the target reads
    /// it; then the text): every part within the limit, in bounded time.
    #[test]
    fn fuzz_regressions_split_within_the_limit() {
        let directory =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/split");
        let mut checked = 0;
        for entry in std::fs::read_dir(directory).unwrap() {
            let input = std::fs::read(entry.unwrap().path()).unwrap();
            let (first, text) = input.split_first().unwrap();
            let max_chars = 32 + usize::from(*first) * 8;
            let parts = split_message(std::str::from_utf8(text).unwrap(), max_chars);
            assert!(!parts.is_empty());
            assert!(parts.iter().all(|part| part.chars().count() <= max_chars));
            checked += 1;
        }
        assert!(checked >= 1, "the regression inputs were found");
    }

    #[test]
    fn multibyte_text_is_cut_on_character_boundaries() {
        let text = "héllo wörld ünïcode ".repeat(50);
        let parts = split_message(&text, 64);
        assert!(parts.iter().all(|p| p.chars().count() <= 64));
    }
}
