//! Facts about the people and animals around the person, kept under THEIR OWN subject so they
//! never pass for the person's: a relative's name said in passing ("my older sister Chiara"), and
//! what they do and where they live ("my sister Ingrid lives in Tromsø"). Pure rules, no database.

use super::lexicon::{kinds, naming_attribute, VALUE_ENDS};
use super::text::{after, place_after, push, title_case, value_after};
use super::Extracted;

/// Words between "my" and a relation that do not change who it is ("my older sister").
pub(super) const RELATION_ADJECTIVES: &[&str] = &[
    "older", "younger", "little", "big", "baby", "twin", "elder", "eldest", "oldest", "youngest",
    "kid", "dear", "lovely", "new", "old", "late",
];

/// Words written with a capital that are no one's name: "Hi, my sister …", "I think my dad …".
const NOT_NAMES: &[&str] = &[
    "i",
    "hi",
    "hey",
    "hello",
    "oh",
    "ok",
    "okay",
    "yes",
    "no",
    "well",
    "so",
    "and",
    "but",
    "also",
    "today",
    "tonight",
    "yesterday",
    "tomorrow",
    "honestly",
    "guess",
    "sorry",
    "thanks",
    "btw",
    "anyway",
    "luckily",
    "sadly",
    "apparently",
    "finally",
    "the",
    "a",
    "an",
    "my",
    "we",
    "he",
    "she",
    "they",
    "it",
    "lol",
    "haha",
    "wow",
];

/// "my younger sister Chiara called", "Chiara, my sister, came over": a relative's or pet's name
/// said in passing, told by its capital letter in the person's own writing.
pub(super) fn extract_names_in_passing(text: &str, found: &mut Vec<Extracted>) {
    let words: Vec<&str> = text
        .split_whitespace()
        .map(|word| word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\''))
        .collect();
    let lower: Vec<String> = words.iter().map(|word| word.to_lowercase()).collect();
    let is_name = |word: &str| {
        let lower = word.to_lowercase();
        word.chars().next().is_some_and(char::is_uppercase)
            && word.chars().all(|c| c.is_alphabetic() || c == '-')
            && !NOT_NAMES.contains(&lower.as_str())
            && !crate::llm::dates::CALENDAR_WORDS.contains(&lower.as_str())
    };
    let kinds: Vec<&str> = kinds().collect();
    // The kind (one or two words) starting at `at`, and where it ends.
    let kind_at = |at: usize| -> Option<(&str, usize)> {
        kinds.iter().copied().find_map(|kind| {
            let parts: Vec<&str> = kind.split(' ').collect();
            let matches = parts
                .iter()
                .enumerate()
                .all(|(offset, part)| lower.get(at + offset).is_some_and(|word| word == part));
            matches.then_some((kind, at + parts.len()))
        })
    };
    for at in 0..words.len() {
        if lower[at] != "my" {
            continue;
        }
        let mut next = at + 1;
        while lower
            .get(next)
            .is_some_and(|word| RELATION_ADJECTIVES.contains(&word.as_str()))
        {
            next += 1;
        }
        let Some((kind, after)) = kind_at(next) else {
            continue;
        };
        let attribute = naming_attribute(kind);
        if found
            .iter()
            .any(|fact| fact.subject == kind && fact.attribute == attribute)
        {
            continue;
        }
        // "my sister Chiara …"
        let following = words.get(after).copied().filter(|word| is_name(word));
        // "Chiara, my sister, …"
        let before = at
            .checked_sub(1)
            .and_then(|before| words.get(before).copied())
            .filter(|word| is_name(word) && text.contains(&format!("{word}, my")));
        if let Some(name) = following.or(before) {
            push(found, kind, attribute, name.to_string(), 0.7);
        }
    }
}

/// What a person says about the people and animals around them, kept as facts of THEIR OWN
/// subject so they never pass for the person's: "my sister ingrid lives in tromsø" → the sister's
/// name is Ingrid and her location Tromsø; "my daughter plays the cello"; "my brother works as a
/// nurse"; "my dad was born in cork".
pub(super) fn extract_about_others(sentence: &str, found: &mut Vec<Extracted>) {
    const CLAUSES: &[(&str, &str)] = &[
        ("lives in ", "location"),
        ("is living in ", "location"),
        ("moved to ", "location"),
        ("has moved to ", "location"),
        ("just moved to ", "location"),
        ("is based in ", "location"),
        ("was born in ", "hometown"),
        ("grew up in ", "hometown"),
        ("is from ", "hometown"),
        ("comes from ", "hometown"),
        ("works as a ", "job"),
        ("works as an ", "job"),
        ("works as ", "job"),
        ("works at ", "workplace"),
        ("works for ", "workplace"),
        ("plays the ", "plays"),
        ("loves ", "likes"),
        ("likes ", "likes"),
        ("enjoys ", "likes"),
        ("is allergic to ", "allergy"),
    ];
    for kind in kinds() {
        let Some(rest) = after(sentence, &[format!("my {kind} ").as_str()]) else {
            continue;
        };
        // An optional name between the kind and the clause: "my sister ingrid lives in …".
        let (name, clause_text) = match CLAUSES.iter().find(|(clause, _)| rest.starts_with(clause))
        {
            Some(_) => (None, rest),
            None => {
                let mut words = rest.splitn(2, ' ');
                let (Some(name), Some(after_name)) = (words.next(), words.next()) else {
                    continue;
                };
                let name = name.trim_matches(|c: char| !c.is_alphanumeric());
                let is_name = !name.is_empty()
                    && name.chars().all(|c| c.is_alphabetic() || c == '-')
                    && !VALUE_ENDS.contains(&name)
                    && ![
                        "is", "was", "has", "and", "who", "just", "also", "still", "now",
                    ]
                    .contains(&name);
                if !is_name {
                    continue;
                }
                (Some(name), after_name)
            }
        };
        let Some((clause, attribute)) = CLAUSES
            .iter()
            .find(|(clause, _)| clause_text.starts_with(clause))
        else {
            continue;
        };
        let rest = &clause_text[clause.len()..];
        let value = match *attribute {
            "hometown" => place_after(rest).map(|place| title_case(&place)),
            "location" | "workplace" => value_after(rest, 3).map(|value| title_case(&value)),
            "plays" => value_after(rest, 2),
            _ => value_after(rest, 4),
        };
        let Some(value) = value else {
            continue;
        };
        let attribute: &'static str = attribute;
        if let Some(name) = name {
            let naming = naming_attribute(kind);
            if !found
                .iter()
                .any(|fact| fact.subject == kind && fact.attribute == naming)
            {
                push(found, kind, naming, title_case(name), 0.75);
            }
        }
        push(found, kind, attribute, value, 0.75);
        return;
    }
}
