//! Reading a `personalities/<id>.toml` file: the on-disk shape, and the checks that turn it into a
//! [`Personality`] (or a message naming the offending field).

use super::{
    BigFive, Communication, EmotionalBaseline, Identity, LanguageLines, Personality, PlatformStyles,
};
use serde::Deserialize;

/// The file as written. It differs from [`Personality`] only where the format is looser than the
/// type: `values` may sit at the top level or inside `[big_five]` (where the documented layout
/// puts it, since it follows that table).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonalityFile {
    name: String,
    tagline: String,
    #[serde(default)]
    values: Option<Vec<String>>,
    identity: Identity,
    big_five: BigFiveFile,
    communication: Communication,
    emotional_baseline: EmotionalBaseline,
    #[serde(default)]
    platform_styles: PlatformStyles,
    #[serde(default)]
    languages: std::collections::BTreeMap<String, LanguageLines>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BigFiveFile {
    openness: f64,
    conscientiousness: f64,
    extraversion: f64,
    agreeableness: f64,
    neuroticism: f64,
    #[serde(default)]
    values: Option<Vec<String>>,
}

/// Parses and validates; the error is a message naming the field (and the line, for syntax errors).
pub(super) fn parse(id: &str, text: &str) -> Result<Personality, String> {
    let file: PersonalityFile =
        toml::from_str(text).map_err(|error| describe_toml_error(&error, text))?;
    let values = match (file.values, file.big_five.values) {
        (Some(_), Some(_)) => {
            return Err(
                "values: written twice (at the top level and in [big_five]); keep one".into(),
            )
        }
        (Some(values), None) | (None, Some(values)) => values,
        (None, None) => Vec::new(),
    };
    let personality = Personality {
        id: id.to_string(),
        name: file.name.trim().to_string(),
        tagline: file.tagline.trim().to_string(),
        identity: file.identity,
        big_five: BigFive {
            openness: file.big_five.openness,
            conscientiousness: file.big_five.conscientiousness,
            extraversion: file.big_five.extraversion,
            agreeableness: file.big_five.agreeableness,
            neuroticism: file.big_five.neuroticism,
        },
        values,
        communication: file.communication,
        emotional_baseline: file.emotional_baseline,
        platform_styles: file.platform_styles,
        languages: file.languages,
    };
    validate(&personality)?;
    Ok(personality)
}

/// The checks serde cannot express: ranges and non-empty lists.
fn validate(personality: &Personality) -> Result<(), String> {
    if personality.name.is_empty() {
        return Err("name: must not be empty".into());
    }
    let traits = &personality.big_five;
    for (field, value) in [
        ("big_five.openness", traits.openness),
        ("big_five.conscientiousness", traits.conscientiousness),
        ("big_five.extraversion", traits.extraversion),
        ("big_five.agreeableness", traits.agreeableness),
        ("big_five.neuroticism", traits.neuroticism),
        (
            "emotional_baseline.expressiveness",
            personality.emotional_baseline.expressiveness,
        ),
    ] {
        check_range(field, value, 0.0, 1.0)?;
    }
    check_range(
        "emotional_baseline.valence",
        personality.emotional_baseline.valence,
        -1.0,
        1.0,
    )?;
    let communication = &personality.communication;
    check_lines("communication.greetings", &communication.greetings, true)?;
    check_lines(
        "communication.acknowledgements",
        &communication.acknowledgements,
        true,
    )?;
    check_lines(
        "communication.speech_patterns",
        &communication.speech_patterns,
        false,
    )?;
    let empathy = &communication.empathy;
    for (field, lines) in [
        ("communication.empathy.sad", &empathy.sad),
        ("communication.empathy.angry", &empathy.angry),
        ("communication.empathy.anxious", &empathy.anxious),
        ("communication.empathy.happy", &empathy.happy),
    ] {
        check_lines(field, lines, false)?;
    }
    check_lines("values", &personality.values, false)?;
    for (code, lines) in &personality.languages {
        let field = |name: &str| format!("languages.{code}.{name}");
        if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphabetic() || c == '-') {
            return Err(format!(
                "languages.{code}: expected a language code such as es or pt-BR"
            ));
        }
        check_lines(&field("greetings"), &lines.greetings, true)?;
        check_lines(&field("acknowledgements"), &lines.acknowledgements, true)?;
        for (mood, mood_lines) in [
            ("sad", &lines.empathy.sad),
            ("angry", &lines.empathy.angry),
            ("anxious", &lines.empathy.anxious),
            ("happy", &lines.empathy.happy),
        ] {
            check_lines(&field(&format!("empathy.{mood}")), mood_lines, false)?;
        }
        if lines.english_note.trim().is_empty() {
            return Err(format!("{}: must not be empty", field("english_note")));
        }
    }
    if personality.emotional_baseline.mood.trim().is_empty() {
        return Err("emotional_baseline.mood: must not be empty (a word such as \"calm\")".into());
    }
    Ok(())
}

fn check_range(field: &str, value: f64, low: f64, high: f64) -> Result<(), String> {
    // `contains` is false for NaN, which TOML can spell as `nan`.
    if (low..=high).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{field}: expected a number between {low} and {high} (got {value})"
        ))
    }
}

fn check_lines(field: &str, lines: &[String], is_required: bool) -> Result<(), String> {
    if is_required && lines.is_empty() {
        return Err(format!("{field}: needs at least one line"));
    }
    match lines.iter().position(|line| line.trim().is_empty()) {
        Some(index) => Err(format!("{field}[{index}]: must not be blank")),
        None => Ok(()),
    }
}

/// toml's own message (it names the field: "missing field `name`", "unknown field `nmae`, expected
/// one of ...") plus where it points, on one line.
fn describe_toml_error(error: &toml::de::Error, text: &str) -> String {
    let message = error
        .message()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    // Some syntax errors (a key with no value) come without a message.
    let message = if message.is_empty() {
        "invalid TOML syntax".to_string()
    } else {
        message
    };
    match error.span() {
        // Errors about the whole document (a missing top-level key) span all of it: no position.
        Some(span) if span.start > 0 || span.end < text.len() => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before
                .rsplit('\n')
                .next()
                .map_or(0, |last| last.chars().count())
                + 1;
            format!("{message} (line {line}, column {column})")
        }
        _ => message,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "Test Person"
tagline = "a test"
[identity]
backstory = "Born in a test."
occupation = "tester"
[big_five]
openness = 0.5
conscientiousness = 0.5
extraversion = 0.5
agreeableness = 0.5
neuroticism = 0.5
values = ["care"]
[communication]
style = "plain"
formality = "balanced"
verbosity = "short"
speech_patterns = []
greetings = ["Hi {user}."]
acknowledgements = ["I see."]
[emotional_baseline]
mood = "calm"
valence = 0.0
expressiveness = 0.5
"#;

    #[test]
    fn a_minimal_file_parses_with_defaults_for_optional_tables() {
        let personality = parse("test", MINIMAL).unwrap();
        assert_eq!(personality.name, "Test Person");
        assert_eq!(personality.values, vec!["care".to_string()]);
        assert!(personality.communication.empathy.sad.is_empty());
        assert_eq!(personality.platform_styles, PlatformStyles::default());
    }

    #[test]
    fn values_may_be_written_at_the_top_level_but_not_twice() {
        let top_level = MINIMAL.replace("values = [\"care\"]\n", "").replace(
            "tagline = \"a test\"",
            "tagline = \"a test\"\nvalues = [\"care\"]",
        );
        assert_eq!(parse("test", &top_level).unwrap().values, vec!["care"]);
        let twice = MINIMAL.replace(
            "tagline = \"a test\"",
            "tagline = \"a test\"\nvalues = [\"x\"]",
        );
        assert!(parse("test", &twice).unwrap_err().starts_with("values:"));
    }

    #[test]
    fn out_of_range_numbers_name_the_field_and_value() {
        let error =
            parse("test", &MINIMAL.replace("openness = 0.5", "openness = 1.7")).unwrap_err();
        assert_eq!(
            error,
            "big_five.openness: expected a number between 0 and 1 (got 1.7)"
        );
        let error = parse("test", &MINIMAL.replace("valence = 0.0", "valence = -1.5")).unwrap_err();
        assert!(error.starts_with("emotional_baseline.valence:"), "{error}");
        let error = parse(
            "test",
            &MINIMAL.replace("neuroticism = 0.5", "neuroticism = nan"),
        )
        .unwrap_err();
        assert!(error.starts_with("big_five.neuroticism:"), "{error}");
    }

    #[test]
    fn lines_in_another_language_are_found_by_code_or_name_and_checked() {
        let with_spanish = format!(
            "{MINIMAL}\n[languages.es]\nnames = [\"Spanish\"]\ngreetings = [\"¡Hola, {{user}}!\"]\n\
             acknowledgements = [\"Te escucho.\"]\nenglish_note = \"(en inglés)\"\n"
        );
        let personality = parse("test", &with_spanish).unwrap();
        for asked in ["es", "ES-mx", "spanish", " Spanish "] {
            assert!(personality.lines_in(asked).is_some(), "{asked}");
        }
        assert!(personality.lines_in("pt").is_none());
        let error = parse(
            "test",
            &with_spanish.replace("english_note = \"(en inglés)\"", "english_note = \" \""),
        )
        .unwrap_err();
        assert_eq!(error, "languages.es.english_note: must not be empty");
        let error = parse(
            "test",
            &with_spanish.replace("greetings = [\"¡Hola, {user}!\"]", "greetings = []"),
        )
        .unwrap_err();
        assert_eq!(error, "languages.es.greetings: needs at least one line");
    }

    #[test]
    fn integers_are_accepted_where_numbers_are_expected() {
        let personality =
            parse("test", &MINIMAL.replace("openness = 0.5", "openness = 1")).unwrap();
        assert_eq!(personality.big_five.openness, 1.0);
    }

    #[test]
    fn empty_required_lists_and_blank_lines_are_refused() {
        let error = parse(
            "test",
            &MINIMAL.replace("greetings = [\"Hi {user}.\"]", "greetings = []"),
        )
        .unwrap_err();
        assert_eq!(error, "communication.greetings: needs at least one line");
        let error = parse(
            "test",
            &MINIMAL.replace("[\"I see.\"]", "[\"I see.\", \"  \"]"),
        )
        .unwrap_err();
        assert_eq!(
            error,
            "communication.acknowledgements[1]: must not be blank"
        );
    }

    #[test]
    fn unknown_keys_and_bad_choices_are_named_with_their_line() {
        let error = parse("test", &MINIMAL.replace("occupation", "ocupation")).unwrap_err();
        assert!(
            error.contains("ocupation") && error.contains("(line 6, column 1)"),
            "{error}"
        );
        let error = parse("test", "name = ").unwrap_err();
        assert_eq!(
            error,
            "string values must be quoted, expected literal string (line 1, column 8)"
        );
        let error = parse("test", &MINIMAL.replace("\"balanced\"", "\"chatty\"")).unwrap_err();
        assert!(
            error.contains("chatty") && error.contains("formal"),
            "{error}"
        );
    }
}
