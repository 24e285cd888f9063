//! Reading a value out of a lower-cased sentence: the words after a pattern up to where a value
//! ends, places (a year is no place), names in title case. Shared by [`super::extract`] and
//! [`super::relatives`]; pure functions.

use super::lexicon::VALUE_ENDS;
use super::Extracted;

/// The value after a pattern: up to `max_words` words, stopping at a word that ends a value.
pub(super) fn value_after(rest: &str, max_words: usize) -> Option<String> {
    let words: Vec<&str> = rest
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|word| !word.is_empty())
        .take_while(|word| !VALUE_ENDS.contains(word))
        .take(max_words)
        .collect();
    let value = words.join(" ");
    let value = value.trim_matches(|c: char| !c.is_alphanumeric());
    (!value.is_empty()).then(|| value.to_string())
}

/// Capitalises each word ("são paulo" → "São Paulo"), for names and places.
pub(super) fn title_case(value: &str) -> String {
    value
        .split(' ')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `rest` after the first of `patterns` found at a word boundary.
pub(super) fn after<'a>(sentence: &'a str, patterns: &[&str]) -> Option<&'a str> {
    patterns.iter().find_map(|pattern| {
        let mut search_from = 0;
        while let Some(index) = sentence[search_from..].find(pattern) {
            let start = search_from + index;
            let is_word_start = start == 0
                || sentence[..start]
                    .chars()
                    .last()
                    .is_some_and(|c| !c.is_alphanumeric());
            if is_word_start {
                return Some(&sentence[start + pattern.len()..]);
            }
            search_from = start + pattern.len();
        }
        None
    })
}

pub(super) fn push(
    found: &mut Vec<Extracted>,
    subject: &str,
    attribute: &'static str,
    value: String,
    confidence: f64,
) {
    if value.chars().count() > 120 {
        return;
    }
    found.push(Extracted {
        subject: subject.to_string(),
        attribute,
        value,
        confidence,
    });
}

/// A place after "born in" / "from": a year before it is skipped ("born in 1987 in gdańsk" →
/// "gdańsk"); a year alone is no place.
pub(super) fn place_after(rest: &str) -> Option<String> {
    let rest = rest.trim_start();
    let first = rest.split(|c: char| c.is_whitespace() || c == ',').next()?;
    let rest = if !first.is_empty() && first.chars().all(|c| c.is_ascii_digit()) {
        let after_year = rest[first.len()..].trim_start_matches([',', ' ']);
        after_year.strip_prefix("in ")?
    } else {
        rest
    };
    value_after(rest, 3).filter(|place| !place.chars().all(|c| c.is_ascii_digit() || c == ' '))
}
