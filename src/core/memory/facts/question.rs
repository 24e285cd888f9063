//! What a question asks about, in terms of facts: whose (the person, or "my sister", "my cat") and
//! which attributes would answer it ("where does my sister live?" → the sister's `location`;
//! "which city was I born in?" → the person's `hometown`, never their `location`). Pure rules, no
//! database: the recall ranks the facts that answer a question first, and a fact about someone
//! else, or about another attribute, never passes for the answer.

use super::favourite_kind;
use super::lexicon::kinds;
use crate::store::hot::FactRecord;

/// What a question asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// `user` for the person themselves, else the kind named ("sister", "cat", "best friend").
    pub subject: String,
    /// The attributes whose value would answer it, best first.
    pub attributes: Vec<&'static str>,
    /// For a favourite: its kind ("what's my favourite drink?" → `drink`).
    pub favourite: Option<String>,
}

impl Asked {
    /// Whether `fact` answers the question: same subject, one of the attributes, same favourite.
    pub fn is_answered_by(&self, fact: &FactRecord) -> bool {
        fact.subject == self.subject
            && self.attributes.contains(&fact.attribute.as_str())
            && match &self.favourite {
                Some(kind) => favourite_kind(&fact.value) == Some(kind.as_str()),
                None => true,
            }
    }
}

impl Asked {
    /// The question for the responder: whom it is about and the words an answering memory holds.
    pub fn for_responder(&self) -> crate::llm::FactQuestion {
        let mut cues: Vec<String> = Vec::new();
        for attribute in &self.attributes {
            for cue in cues_of(attribute) {
                if !cues.iter().any(|held| held == cue) {
                    cues.push((*cue).to_string());
                }
            }
        }
        if let Some(kind) = &self.favourite {
            cues.push(kind.clone());
        }
        crate::llm::FactQuestion {
            about: (self.subject != "user").then(|| self.subject.clone()),
            cues,
        }
    }
}

/// Words a sentence stating `attribute` holds ("I moved to Ghent" → `moved`).
fn cues_of(attribute: &str) -> &'static [&'static str] {
    match attribute {
        "location" => &[
            "live",
            "lives",
            "living",
            "moved",
            "moving",
            "based",
            "home",
            "relocated",
            "reside",
        ],
        "hometown" => &["born", "grew", "from", "hometown", "raised"],
        "birthday" => &["birthday", "born"],
        "job" => &["work", "works", "working", "job", "profession", "employed"],
        "workplace" => &["work", "works", "working", "job", "company", "employer"],
        "plays" => &["play", "plays", "playing", "instrument"],
        "allergy" => &["allergic", "allergy"],
        "pronouns" => &["pronouns"],
        "timezone" => &["timezone", "zone"],
        "languages" => &["speak", "speaks", "language", "languages"],
        "diet" => &["vegan", "vegetarian", "pescatarian", "diet", "eat"],
        "goal" => &[
            "goal", "want", "plan", "planning", "hope", "dream", "trying",
        ],
        "likes" => &[
            "love",
            "loves",
            "like",
            "likes",
            "favourite",
            "favorite",
            "enjoy",
            "into",
        ],
        "dislikes" => &["hate", "hates", "dislike", "stand"],
        "name" => &["name", "called", "call"],
        "family" | "pet" | "partner" => &["name", "called", "named"],
        _ => &[],
    }
}

/// What `text` asks about, when it is a question about the person or someone of theirs that a
/// fact could answer; `None` for anything else (a statement, a question about the companion).
pub fn asked(text: &str) -> Option<Asked> {
    let question = text.to_lowercase().replace(['’', '‘'], "'");
    let question = question.trim();
    if !looks_like_question(question) {
        return None;
    }
    let words: Vec<&str> = question
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '/'))
        .filter(|word| !word.is_empty())
        .collect();
    let has = |word: &str| words.iter().any(|held| held.trim_end_matches("'s") == word);
    let has_any = |list: &[&str]| list.iter().any(|word| has(word));
    let phrase = |text: &str| question.contains(text);

    let subject = named_subject(question);
    let about_person = subject.is_some()
        || has_any(&["i", "my", "me", "i'm", "am", "myself"])
        || phrase("do i ")
        || phrase("did i ");
    if !about_person {
        return None;
    }
    let subject = subject.unwrap_or_else(|| "user".to_string());
    let is_user = subject == "user";

    let favourite = words
        .iter()
        .position(|word| *word == "favourite" || *word == "favorite")
        .and_then(|at| words.get(at + 1))
        .map(|kind| kind.trim_end_matches("'s").to_string());
    let mut attributes: Vec<&'static str> = Vec::new();
    if favourite.is_some() {
        attributes.push("likes");
    } else if has("birthday") || (has("born") && has_any(&["when", "year", "date", "day"])) {
        attributes.push("birthday");
    } else if has("born")
        || phrase("grew up")
        || phrase("grow up")
        || has("hometown")
        || (has("from") && has("where") && !has("moved"))
    {
        attributes.push("hometown");
    } else if has_any(&["live", "lives", "living", "based", "reside", "resides"])
        || (has_any(&["city", "town", "country"]) && !has_any(&["visit", "visited", "trip"]))
        || (has("moved") && has("where"))
    {
        attributes.push("location");
    } else if has_any(&["company", "employer", "employed"])
        || (has("where") && has_any(&["work", "works"]))
    {
        attributes.extend(["workplace", "job"]);
    } else if has_any(&["job", "profession", "occupation", "work", "works"])
        || phrase("for a living")
    {
        attributes.extend(["job", "workplace"]);
    } else if has("instrument") || (has_any(&["play", "plays"]) && !has("games")) {
        attributes.push("plays");
    } else if has_any(&["allergic", "allergy", "allergies"]) {
        attributes.push("allergy");
    } else if has("pronouns") {
        attributes.push("pronouns");
    } else if has_any(&["timezone", "zone"]) {
        attributes.push("timezone");
    } else if has_any(&["languages", "language", "speak", "speaks"]) {
        attributes.push("languages");
    } else if has_any(&["diet", "vegan", "vegetarian", "pescatarian"]) {
        attributes.push("diet");
    } else if has_any(&["goal", "goals", "dream"]) {
        attributes.push("goal");
    } else if has_any(&["hate", "hates", "dislike", "dislikes", "stand"]) {
        attributes.push("dislikes");
    } else if has_any(&["like", "likes", "love", "loves", "enjoy", "enjoys", "into"]) {
        attributes.push("likes");
    } else if has_any(&["name", "called", "named", "who"]) {
        if is_user {
            attributes.push("name");
        } else {
            attributes.extend(["family", "pet", "partner"]);
        }
    }
    if attributes.is_empty() {
        return None;
    }
    Some(Asked {
        subject,
        attributes,
        favourite,
    })
}

/// The kind in "my sister", "my best friend's", "my cat" — the first one named.
fn named_subject(question: &str) -> Option<String> {
    kinds()
        .filter_map(|kind| {
            let at = find_word(question, &format!("my {kind}"))?;
            Some((at, kind.to_string()))
        })
        .min_by_key(|(at, kind)| (*at, usize::MAX - kind.len()))
        .map(|(_, kind)| kind)
}

/// Where `phrase` starts in `text` as whole words (a possessive `'s` may follow).
fn find_word(text: &str, phrase: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text[from..].find(phrase) {
        let start = from + found;
        let end = start + phrase.len();
        let starts_word = text[..start]
            .chars()
            .last()
            .is_none_or(|c| !c.is_alphanumeric());
        let ends_word = text[end..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        if starts_word && ends_word {
            return Some(start);
        }
        from = end;
    }
    None
}

/// Ends with a question mark, or opens like a question.
fn looks_like_question(question: &str) -> bool {
    if question.ends_with('?') {
        return true;
    }
    let first = question.split_whitespace().next().unwrap_or("");
    matches!(
        first.trim_matches(|c: char| !c.is_alphanumeric() && c != '\''),
        "what"
            | "what's"
            | "whats"
            | "who"
            | "who's"
            | "where"
            | "where's"
            | "when"
            | "which"
            | "how"
            | "do"
            | "does"
            | "did"
            | "am"
            | "is"
            | "remind"
            | "tell"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asks(text: &str) -> (String, Vec<&'static str>) {
        let asked = asked(text).unwrap_or_else(|| panic!("{text}: no question read"));
        (asked.subject, asked.attributes)
    }

    #[test]
    fn questions_name_whose_fact_and_which_attribute() {
        assert_eq!(
            asks("where does my sister live?"),
            ("sister".into(), vec!["location"])
        );
        assert_eq!(
            asks("Which city was I born in?"),
            ("user".into(), vec!["hometown"])
        );
        assert_eq!(
            asks("what instrument does my daughter play?"),
            ("daughter".into(), vec!["plays"])
        );
        assert_eq!(
            asks("Which city do I live in?"),
            ("user".into(), vec!["location"])
        );
        assert_eq!(
            asks("What's my sister called?"),
            ("sister".into(), vec!["family", "pet", "partner"])
        );
        assert_eq!(
            asks("Do you remember my dog's name?"),
            ("dog".into(), vec!["family", "pet", "partner"])
        );
        assert_eq!(
            asks("what do I do for work?"),
            ("user".into(), vec!["job", "workplace"])
        );
        assert_eq!(
            asks("where does my best friend work?"),
            ("best friend".into(), vec!["workplace", "job"])
        );
        assert_eq!(asks("when was I born?"), ("user".into(), vec!["birthday"]));
        let drink = asked("what's my favourite drink these days?").unwrap();
        assert_eq!(drink.attributes, vec!["likes"]);
        assert_eq!(drink.favourite.as_deref(), Some("drink"));
    }

    #[test]
    fn statements_and_questions_about_the_companion_ask_nothing() {
        for text in [
            "my sister lives in Tromsø",
            "where do you live?",
            "how are you?",
            "I moved to Ghent last year.",
        ] {
            assert_eq!(asked(text), None, "{text}");
        }
    }
}
