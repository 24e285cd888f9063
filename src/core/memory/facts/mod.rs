//! Facts: what a person says about themselves, read from messages and kept so a restated or
//! corrected fact UPDATES the current one (the old row is kept, marked superseded).
//!
//! - [`extract`]: the rule-based extractor for the common English ways people say things about
//!   themselves ("my name is", "I live in / I moved to", "I work as", "I love", "my cat is called",
//!   "my sister is called", "my goal is to", "my timezone is", ...); the words it knows are in
//!   [`lexicon`]. Pure rules, no database.
//! - [`llm`]: the LLM extractor (FACT_EXTRACTION), keeping to the same attributes.
//! - [`relatives`]: facts about relatives, partners and pets, under their own subject. Pure rules.
//! - [`question`]: what a question asks about (whose fact, which attribute), so the fact that
//!   answers it is told apart from facts that merely share its words. Pure rules.
//! - [`store`]: the versioned fact rows: storing, superseding, contradictions, loading.
//! - Here: what a fact is, which facts replace each other, and how one is said back.

pub mod conflicts;
pub mod extract;
pub mod lexicon;
pub mod llm;
pub mod question;
pub mod relatives;
pub mod store;
mod text;

pub use extract::extract;
pub use store::{
    contradiction_rows, count_contradictions, fact_record, forget_stated_in, keep_chosen,
    load_current, plan, record_contradictions, store, usable_fact, Kept, Planned, Stored,
};

use crate::store::hot::FactRecord;

/// One fact read from a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    /// `user`, or what the fact is about (`cat`, `sister`).
    pub subject: String,
    pub attribute: &'static str,
    pub value: String,
    /// 0 ..= 1.
    pub confidence: f64,
}
/// Attributes the fact table knows (see docs/memory.md, "Memory model"); the rules and the LLM
/// extractor ([`crate::core::memory::facts::llm`]) both keep to them.
pub const ATTRIBUTES: &[&str] = &[
    "name",
    "pronouns",
    "location",
    "hometown",
    "job",
    "workplace",
    "timezone",
    "birthday",
    "pet",
    "family",
    "partner",
    "likes",
    "dislikes",
    "goal",
    "diet",
    "allergy",
    "languages",
    "plays",
];

/// Attributes a person has several values of at once (a new value adds to them); every other
/// known attribute has one value at a time, and a new value replaces the old one.
const MULTI_VALUED: &[&str] = &["likes", "dislikes", "goal", "allergy", "plays"];

/// Whether a new value for (subject, attribute) replaces the current one rather than adding to it.
pub fn is_single_valued(attribute: &str) -> bool {
    ATTRIBUTES.contains(&attribute) && !MULTI_VALUED.contains(&attribute)
}

/// The key under which facts replace each other.
pub(crate) fn same_slot(current: &FactRecord, new: &Extracted) -> bool {
    if current.subject != new.subject {
        return false;
    }
    if current.attribute == new.attribute {
        // One favourite per kind: "my favourite drink is matcha" replaces "… is espresso".
        let same_favourite = new.attribute == "likes"
            && favourite_kind(&new.value).is_some()
            && favourite_kind(&current.value) == favourite_kind(&new.value);
        return is_single_valued(new.attribute)
            || same_favourite
            || current.value.eq_ignore_ascii_case(&new.value);
    }
    // Liking what you said you disliked (or the reverse) replaces it.
    matches!(
        (current.attribute.as_str(), new.attribute),
        ("likes", "dislikes") | ("dislikes", "likes")
    ) && current.value.eq_ignore_ascii_case(&new.value)
}
/// The kind of a favourite, stored as "matcha (drink)" → "drink".
pub fn favourite_kind(value: &str) -> Option<&str> {
    let open = value.rfind(" (")?;
    value[open + 2..]
        .strip_suffix(')')
        .filter(|kind| !kind.is_empty())
}

/// The fact as a short phrase in the second person: "you live in Lisbon", "your cat is called
/// Miso", "your sister lives in Tromsø", "your favourite drink is matcha".
pub fn phrase(fact: &FactRecord) -> String {
    let value = &fact.value;
    if fact.subject != "user" && !matches!(fact.attribute.as_str(), "pet" | "family" | "partner") {
        let who = format!("your {}", fact.subject);
        return match fact.attribute.as_str() {
            "location" => format!("{who} lives in {value}"),
            "hometown" => format!("{who} is from {value}"),
            "job" => format!("{who} works as {}", with_article(value)),
            "workplace" => format!("{who} works at {value}"),
            "plays" => format!("{who} plays the {value}"),
            "likes" => format!("{who} likes {value}"),
            "allergy" => format!("{who} is allergic to {value}"),
            other => format!("{who}'s {other} is {value}"),
        };
    }
    match fact.attribute.as_str() {
        "name" => format!("your name is {value}"),
        "pronouns" => format!("your pronouns are {value}"),
        "location" => format!("you live in {value}"),
        "hometown" => format!("you're from {value}"),
        "job" => format!("you work as {}", with_article(value)),
        "workplace" => format!("you work at {value}"),
        "timezone" => format!("your time zone is {value}"),
        "birthday" => format!("your birthday is {value}"),
        "goal" => format!("you want to {value}"),
        "likes" => match (favourite_kind(value), value.rfind(" (")) {
            (Some(kind), Some(open)) => format!("your favourite {kind} is {}", &value[..open]),
            _ => format!("you like {value}"),
        },
        "dislikes" => format!("you don't like {value}"),
        "pet" | "family" | "partner" => format!("your {} is called {value}", fact.subject),
        "diet" => format!("you're {value}"),
        "allergy" => format!("you're allergic to {value}"),
        "languages" => format!("you speak {value}"),
        "plays" => format!("you play the {value}"),
        other => format!("your {other} is {value}"),
    }
}

fn with_article(value: &str) -> String {
    let starts_with_vowel = value
        .chars()
        .next()
        .is_some_and(|c| "aeiou".contains(c.to_ascii_lowercase()));
    if starts_with_vowel {
        format!("an {value}")
    } else {
        format!("a {value}")
    }
}

/// Words a question about this fact may use, for ranking facts against a message.
pub fn search_text(fact: &FactRecord) -> String {
    let attribute_words = match fact.attribute.as_str() {
        "location" => "live city home",
        "hometown" => "from grew born",
        "job" => "job work",
        "workplace" => "work company",
        "timezone" => "timezone time zone",
        "birthday" => "birthday born",
        "goal" => "goal want",
        "likes" => "like",
        "dislikes" => "dislike hate",
        "pet" => "pet",
        "family" => "family",
        "partner" => "partner",
        "pronouns" => "pronouns",
        "diet" => "diet eat food",
        "allergy" => "allergic allergy",
        "languages" => "languages speak",
        "plays" => "play instrument",
        other => other,
    };
    format!("{} {attribute_words} {}", fact.subject, fact.value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use whisperengine_contract::Visibility;

    fn record(attribute: &str, subject: &str, value: &str) -> FactRecord {
        FactRecord {
            id: 1.into(),
            account_id: 1.into(),
            subject: subject.into(),
            attribute: attribute.into(),
            value: value.into(),
            confidence: 0.8,
            platform: whisperengine_contract::Platform::Slack,
            scope: String::new(),
            visibility: Visibility::Dm,
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn single_valued_facts_replace_and_lists_accumulate() {
        let moved = &extract("I moved to Lisbon")[0];
        assert!(same_slot(&record("location", "user", "Porto"), moved));
        let likes = &extract("I love jazz")[0];
        assert!(!same_slot(&record("likes", "user", "sailing"), likes));
        assert!(same_slot(&record("dislikes", "user", "jazz"), likes));
        // A name that is no word ("<!here>") is no fact; "called" itself is never the name.
        assert!(extract("my cat is called <!here>").is_empty());
        let dog = &extract("my dog is called Rex")[0];
        assert!(!same_slot(&record("pet", "cat", "Miso"), dog));
        assert_eq!(
            phrase(&record("pet", "cat", "Miso")),
            "your cat is called Miso"
        );
    }

    #[test]
    fn one_favourite_per_kind_and_relatives_phrased_as_theirs() {
        let matcha = &extract("my favourite drink is matcha")[0];
        assert!(same_slot(
            &record("likes", "user", "espresso (drink)"),
            matcha
        ));
        assert!(!same_slot(&record("likes", "user", "Dune (book)"), matcha));
        assert!(!same_slot(&record("likes", "user", "espresso"), matcha));
        assert_eq!(
            phrase(&record("likes", "user", "matcha (drink)")),
            "your favourite drink is matcha"
        );
        assert_eq!(
            phrase(&record("location", "sister", "Tromsø")),
            "your sister lives in Tromsø"
        );
        let sisters_city = &extract("my sister lives in Bergen")[0];
        assert!(!same_slot(
            &record("location", "user", "Oslo"),
            sisters_city
        ));
    }
}
