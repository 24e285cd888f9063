//! The rule-based extractor: reads facts from the common English ways people say things about
//! themselves, sentence by sentence. Pure rules, no database.

use super::lexicon::{FAMILY, PARTNERS, PETS};
use super::relatives::{extract_about_others, extract_names_in_passing, RELATION_ADJECTIVES};
use super::text::{after, place_after, push, title_case, value_after};
use super::Extracted;

/// Reads the facts stated in `text`.
pub fn extract(text: &str) -> Vec<Extracted> {
    let mut found = Vec::new();
    for sentence in sentences(text) {
        extract_sentence(&sentence, &mut found);
    }
    extract_names_in_passing(text, &mut found);
    found
}

/// Lower-cased sentences with typographic apostrophes folded and "remember that" dropped.
fn sentences(text: &str) -> Vec<String> {
    text.replace(['’', '‘'], "'")
        .split_inclusive(['.', '!', '?', ';', '\n'])
        // A question states nothing ("is my cat called Miso?").
        .filter(|part| !part.trim_end().ends_with('?'))
        .map(|part| part.trim_end_matches(['.', '!', ';', '\n']))
        .map(|part| {
            let lower = part.trim().to_lowercase();
            let lower = lower
                .trim_start_matches("please ")
                .trim_start_matches("remember that ")
                .trim_start_matches("remember ")
                .trim_start_matches("just so you know, ")
                .trim_start_matches("fyi ")
                .trim_start_matches("btw ")
                .trim_start_matches("by the way, ")
                .trim_start_matches("also ")
                .trim_start_matches("oh and ")
                .trim_start_matches("and ");
            lower.to_string()
        })
        .filter(|sentence| !sentence.is_empty())
        .map(|sentence| {
            // "my older sister lives in …" is about "my sister".
            let mut sentence = sentence;
            for adjective in RELATION_ADJECTIVES {
                sentence = sentence.replace(&format!("my {adjective} "), "my ");
            }
            sentence
        })
        .collect()
}

fn is_negated(sentence: &str) -> bool {
    [
        "don't live",
        "no longer",
        "not anymore",
        "used to",
        "i'm not",
        "i am not",
        "isn't",
        "never",
    ]
    .iter()
    .any(|marker| sentence.contains(marker))
}

fn extract_sentence(sentence: &str, found: &mut Vec<Extracted>) {
    let negated = is_negated(sentence);
    if !negated {
        if let Some(name) = after(
            sentence,
            &[
                "my name is ",
                "my name's ",
                "call me ",
                "i'm called ",
                "i am called ",
            ],
        )
        .and_then(|rest| value_after(rest, 3))
        {
            push(found, "user", "name", title_case(&name), 0.9);
        }
        if let Some(pronouns) = after(sentence, &["my pronouns are ", "i use the pronouns "])
            .and_then(|rest| value_after(rest, 1))
        {
            push(found, "user", "pronouns", pronouns, 0.9);
        }
        if let Some(place) = after(
            sentence,
            &[
                "i live in ",
                "i'm living in ",
                "i am living in ",
                "i moved to ",
                "i've moved to ",
                "i have moved to ",
                "i just moved to ",
                "i relocated to ",
                "i'm based in ",
                "i am based in ",
                "we moved to ",
                "i now live in ",
            ],
        )
        .and_then(|rest| value_after(rest, 3))
        {
            push(found, "user", "location", title_case(&place), 0.85);
        }
        if let Some(place) = after(
            sentence,
            &["i'm from ", "i am from ", "i grew up in ", "i was born in "],
        )
        .and_then(place_after)
        {
            push(found, "user", "hometown", title_case(&place), 0.8);
        }
        if let Some(job) = after(
            sentence,
            &[
                "i work as a ",
                "i work as an ",
                "i work as ",
                "my job is ",
                "i'm working as a ",
                "i am working as a ",
                "my profession is ",
            ],
        )
        .and_then(|rest| value_after(rest, 4))
        {
            let job = job
                .trim_start_matches("a ")
                .trim_start_matches("an ")
                .to_string();
            push(found, "user", "job", job, 0.85);
        }
        if let Some(employer) =
            after(sentence, &["i work at ", "i work for "]).and_then(|rest| value_after(rest, 4))
        {
            push(found, "user", "workplace", title_case(&employer), 0.8);
        }
        if let Some(zone) = after(sentence, &["my timezone is ", "my time zone is "])
            .and_then(|rest| value_after(rest, 2))
        {
            push(found, "user", "timezone", zone, 0.9);
        }
        if let Some(day) = after(sentence, &["my birthday is ", "my birthday's "])
            .and_then(|rest| value_after(rest, 4))
        {
            push(found, "user", "birthday", day, 0.9);
        }
        if let Some(goal) = after(
            sentence,
            &[
                "my goal is to ",
                "my dream is to ",
                "i want to ",
                "i'm trying to ",
                "i am trying to ",
                "i hope to ",
                "i plan to ",
                "i'm planning to ",
            ],
        )
        .and_then(|rest| value_after(rest, 6))
        {
            push(found, "user", "goal", goal, 0.7);
        }
        for diet in ["vegan", "vegetarian", "pescatarian"] {
            if after(sentence, &["i'm ", "i am "]).is_some_and(|rest| {
                rest.split(|c: char| !c.is_alphanumeric())
                    .take(3)
                    .any(|word| word == diet)
            }) {
                push(found, "user", "diet", diet.to_string(), 0.85);
            }
        }
        if let Some(allergy) = after(sentence, &["i'm allergic to ", "i am allergic to "])
            .and_then(|rest| value_after(rest, 3))
        {
            push(found, "user", "allergy", allergy, 0.9);
        }
        if let Some(languages) = after(sentence, &["i speak "]).and_then(|rest| {
            let words: Vec<&str> = rest.split_whitespace().take(6).collect();
            (!words.is_empty()).then(|| words.join(" "))
        }) {
            push(
                found,
                "user",
                "languages",
                languages
                    .trim_matches(|c: char| !c.is_alphanumeric())
                    .to_string(),
                0.8,
            );
        }
        if let Some(instrument) =
            after(sentence, &["i play the "]).and_then(|rest| value_after(rest, 2))
        {
            push(found, "user", "plays", instrument, 0.8);
        }
        extract_named(sentence, PETS, "pet", found);
        extract_named(sentence, FAMILY, "family", found);
        extract_named(sentence, PARTNERS, "partner", found);
        extract_about_others(sentence, found);
    }
    // Dislikes first, so "I don't like X" is not read as liking X.
    if let Some(thing) = after(
        sentence,
        &[
            "i don't like ",
            "i do not like ",
            "i no longer like ",
            "i don't love ",
            "i hate ",
            "i dislike ",
            "i can't stand ",
            "i cannot stand ",
        ],
    )
    .and_then(|rest| value_after(rest, 4))
    {
        push(found, "user", "dislikes", thing, 0.75);
    } else if !negated {
        if let Some(thing) = after(
            sentence,
            &[
                "i really love ",
                "i really like ",
                "i love ",
                "i like ",
                "i enjoy ",
                "i adore ",
                "i'm into ",
                "i am into ",
                "i'm a big fan of ",
                "i'm a fan of ",
            ],
        )
        .and_then(|rest| value_after(rest, 4))
        {
            if !["you", "it", "that", "this", "to"].contains(&thing.as_str()) {
                push(found, "user", "likes", thing, 0.7);
            }
        }
        if let Some(rest) = after(sentence, &["my favourite ", "my favorite "]) {
            if let Some((what, value)) = rest.split_once(" is ") {
                if let Some(value) = value_after(value, 4) {
                    push(
                        found,
                        "user",
                        "likes",
                        format!("{value} ({})", what.trim()),
                        0.8,
                    );
                }
            }
        }
    }
}

/// "my cat is called Miso", "my cat's name is Miso", "i have a cat called/named Miso".
fn extract_named(
    sentence: &str,
    kinds: &[&str],
    attribute: &'static str,
    found: &mut Vec<Extracted>,
) {
    for kind in kinds {
        let patterns = [
            format!("my {kind} is called "),
            format!("my {kind} is named "),
            format!("my {kind}'s name is "),
            format!("my {kind} is "),
            format!("a {kind} called "),
            format!("a {kind} named "),
        ];
        for (index, pattern) in patterns.iter().enumerate() {
            let Some(rest) = after(sentence, &[pattern.as_str()]) else {
                continue;
            };
            // "my sister is a nurse" is not a name: accept "my X is <Name>" only for one word.
            let max_words = if index == 3 { 1 } else { 2 };
            let Some(name) = value_after(rest, max_words) else {
                continue;
            };
            if index == 3
                && ([
                    "a", "an", "the", "very", "so", "really", "sick", "old", "young", "called",
                    "named",
                ]
                .contains(&name.as_str())
                    || rest.split_whitespace().count() > 2)
            {
                continue;
            }
            push(
                found,
                kind,
                attribute,
                title_case(&name),
                if index == 3 { 0.6 } else { 0.85 },
            );
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> (String, &'static str, String) {
        let found = extract(text);
        assert_eq!(found.len(), 1, "{text}: {found:?}");
        let fact = &found[0];
        (fact.subject.clone(), fact.attribute, fact.value.clone())
    }

    #[test]
    fn common_phrasings_are_read() {
        assert_eq!(
            one("My name is ana silva."),
            ("user".into(), "name", "Ana Silva".into())
        );
        assert_eq!(
            one("I live in Porto with my wife"),
            ("user".into(), "location", "Porto".into())
        );
        assert_eq!(
            one("I moved to Lisbon last month"),
            ("user".into(), "location", "Lisbon".into())
        );
        assert_eq!(
            one("I work as a nurse"),
            ("user".into(), "job", "nurse".into())
        );
        assert_eq!(
            one("my cat is called Miso"),
            ("cat".into(), "pet", "Miso".into())
        );
        assert_eq!(
            one("My sister's name is Joana"),
            ("sister".into(), "family", "Joana".into())
        );
        assert_eq!(
            one("I love sailing"),
            ("user".into(), "likes", "sailing".into())
        );
        assert_eq!(
            one("I don't like olives"),
            ("user".into(), "dislikes", "olives".into())
        );
        assert_eq!(
            one("my pronouns are she/her"),
            ("user".into(), "pronouns", "she/her".into())
        );
        assert_eq!(
            one("Remember that my timezone is Europe/Lisbon"),
            ("user".into(), "timezone", "europe/lisbon".into())
        );
        assert_eq!(
            one("my goal is to run a marathon"),
            ("user".into(), "goal", "run a marathon".into())
        );
    }

    fn all(text: &str) -> Vec<(String, &'static str, String)> {
        extract(text)
            .into_iter()
            .map(|fact| (fact.subject, fact.attribute, fact.value))
            .collect()
    }

    #[test]
    fn facts_about_relatives_and_pets_keep_their_own_subject() {
        assert_eq!(
            all("My sister Ingrid lives in Tromsø"),
            vec![
                ("sister".into(), "family", "Ingrid".into()),
                ("sister".into(), "location", "Tromsø".into()),
            ]
        );
        assert_eq!(
            all("My daughter Mireille plays the cello"),
            vec![
                ("daughter".into(), "family", "Mireille".into()),
                ("daughter".into(), "plays", "cello".into()),
            ]
        );
        assert_eq!(
            all("my brother works as a nurse in Leeds"),
            vec![("brother".into(), "job", "nurse".into())]
        );
        assert_eq!(
            all("My dad was born in 1951 in Cork."),
            vec![("dad".into(), "hometown", "Cork".into())]
        );
        assert_eq!(
            all("my best friend Noor moved to Utrecht last spring"),
            vec![
                ("best friend".into(), "family", "Noor".into()),
                ("best friend".into(), "location", "Utrecht".into()),
            ]
        );
        assert!(all("my sister no longer lives in Oslo").is_empty());
        assert_eq!(
            all("my older sister Chiara called me for two hours tonight"),
            vec![("sister".into(), "family", "Chiara".into())]
        );
        assert_eq!(
            all("Chiara, my younger sister, came over for dinner"),
            vec![("sister".into(), "family", "Chiara".into())]
        );
        assert_eq!(
            all("my little brother lives in Turin"),
            vec![("brother".into(), "location", "Turin".into())]
        );
        assert!(all("my sister is the funniest person I know").is_empty());
        assert!(all("Hi, my sister says hello").is_empty());
        assert!(all("I saw my mom Monday and my dad Yesterday").is_empty());
    }

    #[test]
    fn born_in_is_the_hometown_and_a_year_is_no_place() {
        assert_eq!(
            all("I was born in 1987 in Gdańsk"),
            vec![("user".into(), "hometown", "Gdańsk".into())]
        );
        assert!(all("I was born in 1987").is_empty());
        assert_eq!(
            one("I grew up in Porto"),
            ("user".into(), "hometown", "Porto".into())
        );
    }

    #[test]
    fn a_value_said_not_to_hold_any_more_is_not_part_of_the_new_one() {
        assert_eq!(
            one("These days my favourite drink is matcha, not espresso any more"),
            ("user".into(), "likes", "matcha (drink)".into())
        );
        assert_eq!(
            one("I no longer like espresso"),
            ("user".into(), "dislikes", "espresso".into())
        );
    }

    #[test]
    fn non_facts_are_not_read() {
        for text in [
            "what's my cat called?",
            "I don't live in Porto anymore",
            "hello there",
            "my sister is a very kind person",
        ] {
            let found = extract(text);
            assert!(
                found
                    .iter()
                    .all(|f| f.attribute != "location" && f.attribute != "family"),
                "{text}: {found:?}"
            );
        }
        assert!(extract("I love you").is_empty());
    }
}
