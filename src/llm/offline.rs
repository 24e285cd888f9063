//! The offline responder: in-character replies with no language model, for desktop and demo use
//! without an endpoint, and for tests. Deterministic: the same prompt always gets the same reply.
//!
//! Over 500 lines: one reply builder with its answer kinds (greeting, empathy, fact, memory, small
//! talk, languages), and their tests.

use super::prompt::one_line;
use super::pronouns::to_second_person;
use super::{KnownFact, LlmError, Prompt, RecalledMemory, Responder};
use crate::personality::{where_phrase, Personality};
use std::sync::Arc;

/// Most sentences in one reply; each piece below is one sentence.
const MAX_SENTENCES: usize = 3;
/// Longest memory quoted back, in characters.
const MAX_RECALL_CHARS: usize = 200;
/// Mood intensity from which the reply opens with an empathy line.
const EMPATHY_THRESHOLD: f64 = 0.4;

/// Replies from the personality's own lines (greetings, acknowledgements, empathy, speech patterns)
/// and visibly uses memory: "You told me on Slack that your cat is called Miso."
#[derive(Debug, Clone)]
pub struct OfflineResponder {
    personality: Arc<Personality>,
}

impl OfflineResponder {
    /// A responder speaking as `personality`.
    pub fn new(personality: Arc<Personality>) -> Self {
        OfflineResponder { personality }
    }

    /// The reply, 1–3 sentences: a greeting when greeted, an empathy line when the mood is strong,
    /// the best memory when there is one, an honest answer to a question, else an acknowledgement.
    pub fn reply(&self, prompt: &Prompt) -> String {
        let communication = &self.personality.communication;
        // A language the character has lines for: greetings, acknowledgements and empathy in it.
        let other_language = prompt.style.other_language();
        let translated = other_language.and_then(|language| self.personality.lines_in(language));
        let greetings = translated.map_or(&communication.greetings, |lines| &lines.greetings);
        let acknowledgements = translated.map_or(&communication.acknowledgements, |lines| {
            &lines.acknowledgements
        });
        let empathy = translated.map_or(&communication.empathy, |lines| &lines.empathy);
        let text = prompt.user_text.trim();
        let seed = stable_hash(&text.to_lowercase());
        let user_name = match prompt.user_name.trim() {
            "" => "friend",
            name => name,
        };
        let fill = |line: &str| line.trim().replace("{user}", user_name);
        let mut sentences: Vec<String> = Vec::new();
        let has_words = text.chars().any(char::is_alphanumeric);

        if is_greeting(text) {
            // Prefer lines that address the person by name.
            let named: Vec<String> = greetings
                .iter()
                .filter(|line| line.contains("{user}"))
                .cloned()
                .collect();
            sentences.push(match pick(&named, seed, "greeting") {
                Some(line) => fill(line),
                None => format!("Hi {user_name}!"),
            });
        }
        if let Some(mood) = &prompt.mood {
            if mood.intensity >= EMPATHY_THRESHOLD {
                let lines = empathy.lines_for(&mood.label);
                if let Some(line) = pick(lines, seed, "empathy") {
                    sentences.push(fill(line));
                }
            }
        }
        // A question a current fact answers is answered from the fact: facts are corrected over
        // time ("I moved to Lisbon"), memories are what was said then. Only a fact whose subject
        // and attribute are what was asked answers: the person's city is no answer to "where
        // does my sister live?".
        let answering_fact = prompt
            .facts
            .iter()
            .find(|fact| fact.answers_question)
            .filter(|_| is_question(text));
        // For such a question without an answering fact, only a memory that can answer it (it
        // names whom it is about and says the kind of thing asked) is brought up; otherwise the
        // honest answer is "I don't know yet", not another fact.
        let memory = match &prompt.question {
            Some(question) if is_question(text) => prompt
                .memories
                .iter()
                .find(|memory| question.may_be_answered_by(&memory.text)),
            _ => prompt.memories.first(),
        };
        let recall_memory = |memory: &RecalledMemory| {
            if super::dates::asks_when(text) {
                recall_dated(memory, &prompt.zone())
            } else {
                recall(memory)
            }
        };
        let substance = sentences.len();
        let mut is_in_english = false;
        let answer = match answering_fact {
            Some(fact) => Some(recall_fact(fact)),
            None => match memory.and_then(recall_memory) {
                Some(recalled) => Some(recalled),
                None if is_question(text) => Some(self.answer(text, seed)),
                None => None,
            },
        };
        if let Some(answer) = answer {
            sentences.push(answer);
            is_in_english = true;
        }
        if sentences.is_empty() && !has_words {
            // Nothing to acknowledge (an empty message, a lone emoji or mention).
            sentences.push(format!("I'm here whenever you're ready, {user_name}."));
            is_in_english = true;
        }
        if sentences.is_empty() {
            let acknowledgement = pick(acknowledgements, seed, "acknowledgement")
                .map_or_else(|| "I hear you.".to_string(), |line| fill(line));
            sentences.push(acknowledgement);
            // A signature phrase now and then, but not when the person is having a hard time
            // (the phrases are English: not when answering in another language).
            let is_low_mood = prompt.mood.as_ref().is_some_and(|mood| mood.valence < 0.0);
            if !is_low_mood && seed % 2 == 0 && other_language.is_none() {
                if let Some(pattern) = pick(&communication.speech_patterns, seed, "pattern") {
                    sentences.push(fill(pattern));
                }
            }
        }
        if prompt.style.is_short() && sentences.len() > 1 {
            // One sentence: the answer when there is one, else the opening.
            let kept = sentences
                .get(substance)
                .cloned()
                .unwrap_or_else(|| sentences[0].clone());
            sentences = vec![kept];
        }
        sentences.truncate(MAX_SENTENCES);
        match (other_language, translated) {
            (Some(_), None) => {
                sentences.push("(Without a language model I can only answer in English.)".into())
            }
            (Some(_), Some(lines)) if is_in_english => sentences.push(lines.english_note.clone()),
            _ => {}
        }
        sentences.join(" ")
    }

    /// A question no memory answers: small talk about the character, else an honest "don't know".
    fn answer(&self, text: &str, seed: u64) -> String {
        let question = text.to_lowercase().replace('’', "'");
        let has = |phrases: &[&str]| phrases.iter().any(|phrase| question.contains(phrase));
        if has(&[
            "how are you",
            "how're you",
            "how are things",
            "how's it going",
            "how do you feel",
        ]) {
            return format!(
                "I'm feeling {} today, thanks for asking.",
                self.personality.emotional_baseline.mood.trim()
            );
        }
        if has(&[
            "who are you",
            "your name",
            "what do you do",
            "about yourself",
            "your job",
        ]) {
            let tagline = self.personality.tagline.trim();
            return if tagline.is_empty() {
                format!("I'm {}.", self.personality.name)
            } else {
                format!("I'm {}, {tagline}.", self.personality.name)
            };
        }
        const HONEST: [&str; 3] = [
            "Honestly, I don't know that yet.",
            "I don't know that yet, and I'd rather not guess.",
            "I don't know that yet; you haven't told me.",
        ];
        let index = (stable_hash(&format!("honest:{seed}")) % HONEST.len() as u64) as usize;
        HONEST[index].to_string()
    }
}

#[async_trait::async_trait]
impl Responder for OfflineResponder {
    async fn respond(&self, prompt: &Prompt) -> Result<String, LlmError> {
        Ok(self.reply(prompt))
    }

    fn describe(&self) -> String {
        format!("offline responder ({})", self.personality.name)
    }
}

/// The sentence that brings a memory up: "You told me on Slack that your cat is called Miso." for
/// another platform, "You mentioned earlier that ..." for this one. None for an empty memory.
fn recall(memory: &RecalledMemory) -> Option<String> {
    let text = one_line(&memory.text, MAX_RECALL_CHARS);
    let text = text.trim_end_matches(['.', ' ']).trim();
    if text.chars().all(|c| !c.is_alphanumeric()) {
        return None;
    }
    // "I made a bowl in pottery class yesterday… have you tried it?": the statement is what they
    // told us; the question after it was for then.
    let text = statement_before_question(text).unwrap_or(text);
    if text.ends_with('?') {
        // A question they asked; turning it around would garble it, so quote it.
        let place = if memory.is_other_platform {
            where_phrase(memory.platform)
        } else {
            "earlier".to_string()
        };
        return Some(format!("You asked me {place}, \"{text}\""));
    }
    let ending = if text.ends_with('!') { "" } else { "." };
    let clause = to_second_person(text);
    Some(if memory.is_other_platform {
        format!(
            "You told me {} that {clause}{ending}",
            where_phrase(memory.platform)
        )
    } else {
        format!("You mentioned earlier that {clause}{ending}")
    })
}

/// A memory brought up with the day it was said, and the day its relative words meant: "On Wed 4
/// March 2026 you told me on Slack that you adopted Pixel yesterday (Tue 3 March 2026)."
fn recall_dated(memory: &RecalledMemory, zone: &super::dates::Zone) -> Option<String> {
    let text = one_line(&memory.text, MAX_RECALL_CHARS);
    let text = statement_before_question(&text)
        .unwrap_or(&text)
        .to_string();
    let text = text.trim_end_matches(['.', ' ', '!']).trim();
    if text.chars().all(|c| !c.is_alphanumeric()) {
        return None;
    }
    let meant = super::dates::resolved_in(text, memory.at, zone);
    let meant = match meant.as_slice() {
        [] => String::new(),
        [(_, day)] => format!(" ({day})"),
        many => format!(
            " ({})",
            many.iter()
                .map(|(said, day)| format!("{said}: {day}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    let place = if memory.is_other_platform {
        format!(" {}", where_phrase(memory.platform))
    } else {
        String::new()
    };
    Some(format!(
        "On {} you told me{place} that {}{meant}.",
        zone.day(memory.at),
        lowercase_opening(&to_second_person(text))
    ))
}

/// "We adopted …" → "we adopted …" inside a sentence; names keep their capital.
fn lowercase_opening(clause: &str) -> String {
    const OPENINGS: &[&str] = &[
        "We",
        "My",
        "Our",
        "The",
        "A",
        "An",
        "It",
        "This",
        "That",
        "Today",
        "Yesterday",
        "Last",
        "Your",
        "You",
    ];
    let first = clause.split_whitespace().next().unwrap_or("");
    if OPENINGS.contains(&first) {
        let mut chars = clause.chars();
        chars
            .next()
            .map(|c| c.to_lowercase().chain(chars).collect())
            .unwrap_or_default()
    } else {
        clause.to_string()
    }
}

/// The sentences before a closing question, when there are any: "We adopted a kitten! Cute,
/// right?" → "We adopted a kitten".
fn statement_before_question(text: &str) -> Option<&str> {
    if !text.ends_with('?') {
        return None;
    }
    let cut = text[..text.len() - 1].rfind(['.', '!', '…', '?', '\n'])?;
    let statement = text[..cut].trim_end_matches(['.', '!', '…', ' ']).trim();
    statement
        .chars()
        .any(char::is_alphanumeric)
        .then_some(statement)
}

/// "You told me on Slack that your cat is called Miso." / "As far as I know, you live in Lisbon."
/// A fact told two ways on two platforms is not picked: "I'm not sure: …".
fn recall_fact(fact: &KnownFact) -> String {
    if let Some((other, platform)) = &fact.disputed_by {
        return format!(
            "I'm not sure: you told me {} that {}, and {} that it's {other}. Which is right? \
             (`conflicts` lets you settle it.)",
            where_phrase(fact.platform),
            fact.phrase,
            where_phrase(*platform),
        );
    }
    if fact.is_other_platform {
        format!(
            "You told me {} that {}.",
            where_phrase(fact.platform),
            fact.phrase
        )
    } else {
        format!("As far as I know, {}.", fact.phrase)
    }
}

/// "hi", "Hello there!", "hey @elena", "good morning" (mentions before the greeting are skipped).
fn is_greeting(text: &str) -> bool {
    let mut words = text
        .split_whitespace()
        .filter(|word| !word.starts_with("<@") && !word.starts_with('@'))
        .map(|word| {
            word.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        });
    match words.next().as_deref() {
        Some(
            "hi" | "hello" | "hey" | "heya" | "hiya" | "howdy" | "hola" | "yo" | "greetings"
            | "hallo" | "morning" | "evening" | "afternoon",
        ) => true,
        Some("good") => matches!(
            words.next().as_deref(),
            Some("morning" | "afternoon" | "evening" | "day")
        ),
        _ => false,
    }
}

/// Ends with a question mark, or opens like one ("what is", "do you", "can I").
fn is_question(text: &str) -> bool {
    if text.ends_with('?') {
        return true;
    }
    let first = text
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    matches!(
        first.as_str(),
        "what"
            | "who"
            | "where"
            | "when"
            | "why"
            | "how"
            | "which"
            | "whats"
            | "what's"
            | "do"
            | "does"
            | "did"
            | "can"
            | "could"
            | "would"
            | "will"
            | "should"
            | "is"
            | "are"
            | "am"
            | "have"
            | "has"
    )
}

/// One line chosen by the text's hash; `salt` decorrelates the choices made for one text.
fn pick<'a>(lines: &'a [String], seed: u64, salt: &str) -> Option<&'a String> {
    if lines.is_empty() {
        return None;
    }
    let index = stable_hash(&format!("{salt}:{seed}")) % lines.len() as u64;
    lines.get(index as usize)
}

/// FNV-1a: stable across runs, platforms and Rust versions, unlike `DefaultHasher`.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use whisperengine_contract::Platform;

    fn memory(text: &str, platform: Platform, is_other_platform: bool) -> RecalledMemory {
        RecalledMemory {
            text: text.into(),
            platform,
            at: Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap(),
            score: 0.8,
            is_other_platform,
        }
    }

    #[test]
    fn memories_are_recalled_with_their_platform_and_pronouns_swapped() {
        assert_eq!(
            recall(&memory("My cat is called Miso.", Platform::Slack, true)).unwrap(),
            "You told me on Slack that your cat is called Miso."
        );
        assert_eq!(
            recall(&memory("I am learning to surf!", Platform::Discord, false)).unwrap(),
            "You mentioned earlier that you are learning to surf!"
        );
        assert_eq!(
            recall(&memory("i'm vegan", Platform::Desktop, true)).unwrap(),
            "You told me in the local chat that you're vegan."
        );
        assert_eq!(
            recall(&memory("do octopuses dream?", Platform::Teams, true)).unwrap(),
            "You asked me on Teams, \"do octopuses dream?\""
        );
        assert_eq!(recall(&memory(" ... ", Platform::Slack, true)), None);
    }

    #[test]
    fn a_statement_before_a_question_is_recalled_without_the_question() {
        let said = memory(
            "I made a bowl in pottery class yesterday… have you ever tried it?",
            Platform::Slack,
            true,
        );
        assert_eq!(
            recall(&said).as_deref(),
            Some("You told me on Slack that you made a bowl in pottery class yesterday.")
        );
        let asked = memory("is it raining in Oslo?", Platform::Slack, false);
        assert_eq!(
            recall(&asked).as_deref(),
            Some("You asked me earlier, \"is it raining in Oslo?\"")
        );
    }

    #[test]
    fn a_when_question_gets_the_day_it_was_said_and_the_day_it_meant() {
        let mut said = memory("We adopted Pixel yesterday!", Platform::Slack, true);
        said.at = chrono::DateTime::parse_from_rfc3339("2026-03-04T10:00:00Z")
            .map(|at| at.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        assert_eq!(
            recall_dated(&said, &super::super::dates::Zone::default()).as_deref(),
            Some("On Wed 4 March 2026 you told me on Slack that we adopted Pixel yesterday (Tue 3 March 2026).")
        );
    }

    #[test]
    fn greetings_and_questions_are_recognised() {
        for text in [
            "hi",
            "Hello there!",
            "hey, you",
            "<@123> hey",
            "Good morning Elena",
        ] {
            assert!(is_greeting(text), "{text}");
        }
        for text in ["", "history is fun", "goodness", "this is high"] {
            assert!(!is_greeting(text), "{text}");
        }
        assert!(is_question("what's my dog's name"));
        assert!(is_question("you like tea?"));
        assert!(!is_question("I like tea"));
        assert!(!is_question(""));
    }

    #[test]
    fn the_hash_is_stable() {
        // Fixed vectors of FNV-1a 64: replies must not change between builds.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
