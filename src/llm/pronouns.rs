//! Turning what the user said about themselves into what the companion says back to them:
//! "I'm allergic to my cat" → "you're allergic to your cat".

/// Rewrites first-person words into the second person and leaves everything else verbatim.
///
/// I/me → you, my → your, mine → yours, myself → yourself, I'm/I've/I'll/I'd → you're/you've/
/// you'll/you'd, and the verb right after "I": am → are, was → were, wasn't → weren't. Matching is
/// case-insensitive and accepts the typographic apostrophe (’), which is kept. "am" is only changed
/// after "I", so "7 am" stays. Words the user addressed to the companion ("you") are left alone.
///
/// A replaced word at the very start comes out in lower case, because the result is meant to
/// follow "that" ("You told me that your cat..."); one opening a later sentence is capitalised.
pub fn to_second_person(text: &str) -> String {
    let mut output = String::with_capacity(text.len() + 16);
    let mut previous_word: Option<String> = None;
    let mut is_sentence_start = false;
    let mut rest = text;
    while let Some(first) = rest.chars().next() {
        if !is_word_char(first) {
            let end = rest.find(is_word_char).unwrap_or(rest.len());
            let gap = &rest[..end];
            if gap.contains(['.', '!', '?']) {
                is_sentence_start = true;
            }
            output.push_str(gap);
            rest = &rest[end..];
            continue;
        }
        let end = rest.find(|c| !is_word_char(c)).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        // "i.e." is an abbreviation, not a pronoun.
        let is_abbreviation = word.eq_ignore_ascii_case("i") && rest.starts_with(".e");
        let key = word.replace('’', "'").to_lowercase();
        let is_after_i = previous_word.as_deref() == Some("i");
        let replacement = match key.as_str() {
            _ if is_abbreviation => None,
            "i" | "me" => Some("you"),
            "my" => Some("your"),
            "mine" => Some("yours"),
            "myself" => Some("yourself"),
            "i'm" => Some("you're"),
            "i've" => Some("you've"),
            "i'll" => Some("you'll"),
            "i'd" => Some("you'd"),
            "am" if is_after_i => Some("are"),
            "was" if is_after_i => Some("were"),
            "wasn't" if is_after_i => Some("weren't"),
            _ => None,
        };
        match replacement {
            Some(replacement) => {
                let replacement = if word.contains('’') {
                    replacement.replace('\'', "’")
                } else {
                    replacement.to_string()
                };
                let is_uppercase_context = is_sentence_start && !output.is_empty();
                output.push_str(&if is_uppercase_context {
                    capitalise(&replacement)
                } else {
                    replacement
                });
            }
            None => output.push_str(word),
        }
        previous_word = Some(key);
        is_sentence_start = false;
    }
    output
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '\'' || c == '’'
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::to_second_person;

    #[test]
    fn first_person_words_become_second_person() {
        let cases = [
            ("my cat is called Miso", "your cat is called Miso"),
            ("I am a nurse", "you are a nurse"),
            ("i am tired", "you are tired"),
            ("I'm moving to Porto", "you're moving to Porto"),
            ("I've got two sisters", "you've got two sisters"),
            ("I'll be in Oslo", "you'll be in Oslo"),
            ("I'd love a dog", "you'd love a dog"),
            ("the red one is mine", "the red one is yours"),
            ("I taught myself piano", "you taught yourself piano"),
            ("my mom calls me Bea", "your mom calls you Bea"),
            ("I was born in Lima", "you were born in Lima"),
            ("Miso is MY cat", "Miso is your cat"),
        ];
        for (input, expected) in cases {
            assert_eq!(to_second_person(input), expected, "for {input:?}");
        }
    }

    #[test]
    fn other_words_and_punctuation_stay_verbatim() {
        assert_eq!(
            to_second_person("I wake at 7 am, mostly."),
            "you wake at 7 am, mostly."
        );
        assert_eq!(to_second_person("Imagine my Mimi"), "Imagine your Mimi");
        assert_eq!(to_second_person("I’m fine"), "you’re fine");
        assert_eq!(to_second_person("pets, i.e. cats"), "pets, i.e. cats");
    }

    #[test]
    fn later_sentences_start_with_a_capital() {
        assert_eq!(
            to_second_person("I have a cat. My cat is Miso!"),
            "you have a cat. Your cat is Miso!"
        );
    }

    #[test]
    fn odd_input_does_not_panic() {
        for input in ["", " ", "...", "'", "’’", "ß I ü", "🐱 my 🐟", "I\u{0}me"] {
            let _ = to_second_person(input);
        }
        assert_eq!(to_second_person(""), "");
    }
}
