//! The rule-based extractor: reads facts from the common English ways people say things about
//! themselves, sentence by sentence. Pure rules, no database.

use super::lexicon::{FAMILY, PARTNERS, PETS, VALUE_ENDS};
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

/// Words between "my" and a relation that do not change who it is ("my older sister").
const RELATION_ADJECTIVES: &[&str] = &[
    "older", "younger", "little", "big", "baby", "twin", "elder", "eldest", "oldest", "youngest",
    "kid", "dear", "lovely", "new", "old", "late",
];

/// "my younger sister Chiara called", "Chiara, my sister, came over": a relative's or pet's name
/// said in passing, told by its capital letter in the person's own writing.
fn extract_names_in_passing(text: &str, found: &mut Vec<Extracted>) {
    let words: Vec<&str> = text
        .split_whitespace()
        .map(|word| word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\''))
        .collect();
    let lower: Vec<String> = words.iter().map(|word| word.to_lowercase()).collect();
    let is_name = |word: &str| {
        word.chars().next().is_some_and(char::is_uppercase)
            && word.chars().all(|c| c.is_alphabetic() || c == '-')
            && !matches!(word, "I" | "I'm" | "I've")
    };
    let kinds: Vec<&str> = PETS.iter().chain(FAMILY).chain(PARTNERS).copied().collect();
    let naming = |kind: &str| {
        if PETS.contains(&kind) {
            "pet"
        } else if PARTNERS.contains(&kind) {
            "partner"
        } else {
            "family"
        }
    };
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
        let attribute = naming(kind);
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

/// The value after a pattern: up to `max_words` words, stopping at a word that ends a value.
fn value_after(rest: &str, max_words: usize) -> Option<String> {
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
fn title_case(value: &str) -> String {
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
fn after<'a>(sentence: &'a str, patterns: &[&str]) -> Option<&'a str> {
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

fn push(
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

/// A place after "born in" / "from": a year before it is skipped ("born in 1987 in gdańsk" →
/// "gdańsk"); a year alone is no place.
fn place_after(rest: &str) -> Option<String> {
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

/// What a person says about the people and animals around them, kept as facts of THEIR OWN
/// subject so they never pass for the person's: "my sister ingrid lives in tromsø" → the sister's
/// name is Ingrid and her location Tromsø; "my daughter plays the cello"; "my brother works as a
/// nurse"; "my dad was born in cork".
fn extract_about_others(sentence: &str, found: &mut Vec<Extracted>) {
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
    let kinds = PETS.iter().chain(FAMILY).chain(PARTNERS);
    for kind in kinds {
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
            let naming = if PETS.contains(kind) {
                "pet"
            } else if PARTNERS.contains(kind) {
                "partner"
            } else {
                "family"
            };
            if !found
                .iter()
                .any(|fact| fact.subject == *kind && fact.attribute == naming)
            {
                push(found, kind, naming, title_case(name), 0.75);
            }
        }
        push(found, kind, attribute, value, 0.75);
        return;
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
