//! Relevance for recall: text → stemmed terms (Snowball English stemmer from `rust-stemmers`), a
//! small synonym table for the questions people ask about themselves ("where do I live" must find
//! "I moved to Lisbon"), and Okapi BM25 over the candidates of ONE query.
//!
//! Why BM25 is computed here rather than with a search-engine crate: the corpus of a query is not
//! a global index but the memories of one identity that are visible in this conversation (a
//! visibility filter that changes per query), a few hundred documents at most. Document
//! frequencies over exactly those candidates are what BM25 needs; a global index (tantivy, the
//! `bm25` crate's scorer) would compute them over everything and be far heavier to keep per
//! identity. Terms are computed once per memory when it is stored, kept in `memory.terms` (see
//! [`stored_terms`]) so a cold load reads them instead of re-stemming, and kept hot.
//!
//! Over 500 lines: the query, its two rounds, the question-shape rules (pure questions, where-
//! questions and places) and their tests (about two fifths).

use rust_stemmers::{Algorithm, Stemmer};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use super::words::{LEAD_INS, QUESTION_OPENERS, STOPWORDS, SYNONYMS, TELLING_QUESTIONS};

/// BM25 term-frequency saturation.
const K1: f64 = 1.2;
/// BM25 length normalisation.
const B: f64 = 0.75;
/// Weight of a synonym added to the query, relative to a word the person typed.
const SYNONYM_WEIGHT: f64 = 0.5;

static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// Stem groups, built once.
static SYNONYM_STEMS: LazyLock<HashMap<String, Vec<String>>> = LazyLock::new(|| {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for group in SYNONYMS {
        let stems: Vec<String> = group.iter().map(|word| stem(word)).collect();
        for own in &stems {
            let entry = map.entry(own.clone()).or_default();
            for other in &stems {
                if other != own && !entry.contains(other) {
                    entry.push(other.clone());
                }
            }
        }
    }
    map
});

fn stem(word: &str) -> String {
    STEMMER.stem(word).into_owned()
}

/// The stemmed content words of `text`, in order, repeats kept (BM25 counts them).
pub fn index_terms(text: &str) -> Arc<[String]> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|word| word.trim_matches('\''))
        .map(|word| word.strip_suffix("'s").unwrap_or(word))
        .filter(|word| !word.is_empty() && !STOPWORDS.contains(word))
        .filter(|word| word.chars().count() > 1 || word.chars().all(char::is_numeric))
        .map(stem)
        .collect()
}

/// Whether `text` only asks and states nothing, so it is never recalled as something the person
/// told us. A message that states something is recallable even when it ends with a question: "I
/// made a bowl in pottery class yesterday… have you tried it?", "my sister lives in Tromsø, did I
/// say?". A part (a sentence, or a clause between commas) that does not open like a question and
/// holds two or more content words counts as a statement.
pub fn is_pure_question(text: &str) -> bool {
    let text = text.trim_end();
    if !text.ends_with('?') {
        return false;
    }
    let lower = text.to_lowercase().replace(['’', '‘'], "'");
    if TELLING_QUESTIONS
        .iter()
        .any(|opening| lower.contains(opening))
    {
        return false;
    }
    !lower
        .split(['.', '!', '?', '…', ';', ',', '\n'])
        .any(|part| {
            let mut words = part
                .split_whitespace()
                .map(|word| word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\''))
                .filter(|word| !word.is_empty())
                .skip_while(|word| LEAD_INS.contains(word));
            let opens_a_question = words
                .next()
                .is_none_or(|first| QUESTION_OPENERS.contains(&first));
            !opens_a_question && index_terms(part).len() >= 2
        })
}

/// Format tag of stored terms (`memory.terms`). Bump it whenever [`index_terms`] changes (tokenizer,
/// stop words, stemmer): terms stored in an older format are then recomputed from the content when
/// loaded instead of being trusted.
const STORED_TERMS_FORMAT: &str = "t1:";

/// `terms` as stored in `memory.terms` next to the content they were computed from, so loading a
/// cold identity does not re-tokenize and re-stem every memory: the format tag, then the terms
/// separated by single spaces (a term never contains whitespace, see [`index_terms`]).
pub fn stored_terms(terms: &[String]) -> String {
    let mut stored = String::with_capacity(
        STORED_TERMS_FORMAT.len() + terms.iter().map(|term| term.len() + 1).sum::<usize>(),
    );
    stored.push_str(STORED_TERMS_FORMAT);
    for (index, term) in terms.iter().enumerate() {
        if index > 0 {
            stored.push(' ');
        }
        stored.push_str(term);
    }
    stored
}

/// Terms read back from [`stored_terms`]; `None` when they were stored in another format (the caller
/// then indexes the content itself).
pub fn parse_stored_terms(stored: &str) -> Option<Arc<[String]>> {
    let list = stored.strip_prefix(STORED_TERMS_FORMAT)?;
    Some(list.split_ascii_whitespace().map(str::to_owned).collect())
}

/// A query: each term with its weight (1 for a typed word, less for a synonym).
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub terms: Vec<(String, f64)>,
}

impl Query {
    /// The query for `text`: its terms plus their synonyms.
    pub fn new(text: &str) -> Query {
        let mut terms: Vec<(String, f64)> = Vec::new();
        for term in index_terms(text).iter() {
            if !terms.iter().any(|(known, _)| known == term) {
                terms.push((term.clone(), 1.0));
            }
        }
        let typed: Vec<String> = terms.iter().map(|(term, _)| term.clone()).collect();
        for term in &typed {
            for synonym in SYNONYM_STEMS.get(term).into_iter().flatten() {
                if !terms.iter().any(|(known, _)| known == synonym) {
                    terms.push((synonym.clone(), SYNONYM_WEIGHT));
                }
            }
        }
        Query { terms }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

impl Query {
    /// The query with the names of those it speaks of: for each (relation, name) — ("sister",
    /// "Chiara"), ("cat", "Miso") — whose relation the query holds, the name's terms at full
    /// weight (the name is who the person means).
    pub fn with_names_of<'n>(&self, names: impl IntoIterator<Item = (&'n str, &'n str)>) -> Query {
        let mut query = self.clone();
        let typed: Vec<&str> = self
            .terms
            .iter()
            .filter(|(_, weight)| *weight >= 1.0)
            .map(|(term, _)| term.as_str())
            .collect();
        for (relation, name) in names {
            let relation_terms = index_terms(relation);
            let is_spoken_of = !relation_terms.is_empty()
                && relation_terms
                    .iter()
                    .all(|term| typed.contains(&term.as_str()));
            if !is_spoken_of {
                continue;
            }
            for term in index_terms(name).iter() {
                if !query.terms.iter().any(|(held, _)| held == term) {
                    query.terms.push((term.clone(), 1.0));
                }
            }
        }
        query
    }
}

/// Weight of a name taken from the first round's best memories in the second round.
const EXPANSION_WEIGHT: f64 = 0.5;
/// How many of the first round's best memories lend their names to the second round.
pub const EXPANSION_SEEDS: usize = 2;

impl Query {
    /// The second round of a recall: the names (people, pets, places, things with a capital) in
    /// `seeds` — the first round's best memories — that the question did not use. "Where does the
    /// friend I went climbing with live?" finds "I went climbing with Noor" first, and then, by
    /// "Noor", "Noor lives in Utrecht": the two memories the answer joins.
    ///
    /// A capitalised word that opens a sentence is a name too when the person never writes it in
    /// lower case (`is_written_lowercase` looks through what they said): "Clementine joined the
    /// family" names Clementine, "Went climbing with Noor" does not name "Went".
    pub fn expansion<'t>(
        &self,
        seeds: impl IntoIterator<Item = &'t str>,
        is_written_lowercase: impl Fn(&str) -> bool,
    ) -> Query {
        let mut terms: Vec<(String, f64)> = Vec::new();
        for text in seeds {
            for name in names_in(text, &is_written_lowercase) {
                for term in index_terms(&name).iter() {
                    let known = self
                        .terms
                        .iter()
                        .chain(&terms)
                        .any(|(held, _)| held == term);
                    if !known {
                        terms.push((term.clone(), EXPANSION_WEIGHT));
                    }
                }
            }
        }
        Query { terms }
    }
}

/// Words written with a capital, nor "I", nor a day or month: the names in a message. A word
/// that opens a sentence counts only when `is_written_lowercase` says the person never writes it
/// in lower case.
fn names_in(text: &str, is_written_lowercase: &impl Fn(&str) -> bool) -> Vec<String> {
    let mut names = Vec::new();
    let mut sentence_start = true;
    for word in text.split_whitespace() {
        let bare = word.trim_matches(|c: char| !c.is_alphanumeric());
        let lower = bare.to_lowercase();
        let is_name = bare.chars().next().is_some_and(char::is_uppercase)
            && !matches!(bare, "I" | "I'm" | "I've" | "I'll" | "I'd")
            && !crate::llm::dates::CALENDAR_WORDS.contains(&lower.as_str())
            && (!sentence_start
                || (bare.chars().count() > 2
                    && !STOPWORDS.contains(&lower.as_str())
                    && !is_written_lowercase(&lower)));
        if is_name {
            names.push(bare.to_string());
        }
        sentence_start =
            word.ends_with(['.', '!', '?', '…', ':']) || bare.is_empty() && sentence_start;
    }
    names
}

/// Whether `text` asks where someone or something is: "where …", "which city …", "what country
/// …", "where's …".
pub fn asks_where(text: &str) -> bool {
    let lower = text.to_lowercase().replace('’', "'");
    lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .any(|word| matches!(word, "where" | "where's" | "whereabouts"))
        || ["city", "town", "country", "place"].iter().any(|place| {
            lower.contains(&format!("which {place}")) || lower.contains(&format!("what {place}"))
        })
}

/// Words after which a capitalised word is a place: "a flat in Turin", "back to Utrecht", "from
/// Cork", "near Bergen".
const PLACE_PREPOSITIONS: [&str; 6] = ["in", "to", "from", "near", "at", "around"];

/// Whether `text` names a place: a capitalised word (not "I", a day or a month) right after
/// [`PLACE_PREPOSITIONS`].
pub fn names_a_place(text: &str) -> bool {
    let mut after_preposition = false;
    for word in text.split_whitespace() {
        let bare = word.trim_matches(|c: char| !c.is_alphanumeric());
        if after_preposition
            && bare.chars().next().is_some_and(char::is_uppercase)
            && !matches!(bare, "I" | "I'm")
            && !crate::llm::dates::CALENDAR_WORDS.contains(&bare.to_lowercase().as_str())
        {
            return true;
        }
        after_preposition = PLACE_PREPOSITIONS.contains(&bare.to_lowercase().as_str())
            && !word.ends_with(['.', ',', '!', '?', ';', ':']);
    }
    false
}

/// Whether `word` (lower case) appears in lower case in any of `texts`, as a whole word.
pub fn is_written_lowercase<'t>(word: &str, texts: impl IntoIterator<Item = &'t str>) -> bool {
    texts.into_iter().any(|text| {
        text.match_indices(word).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + word.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
    })
}

/// BM25 score of each document for `query`, with document frequencies over `documents` alone.
pub fn bm25(query: &Query, documents: &[&[String]]) -> Vec<f64> {
    let count = documents.len();
    if count == 0 || query.is_empty() {
        return vec![0.0; count];
    }
    let total_length: usize = documents.iter().map(|terms| terms.len()).sum();
    let average_length = (total_length as f64 / count as f64).max(1.0);
    let idf: Vec<f64> = query
        .terms
        .iter()
        .map(|(term, _)| {
            let frequency = documents
                .iter()
                .filter(|terms| terms.contains(term))
                .count() as f64;
            ((count as f64 - frequency + 0.5) / (frequency + 0.5)).ln_1p()
        })
        .collect();
    documents
        .iter()
        .map(|terms| {
            let length = terms.len() as f64;
            query
                .terms
                .iter()
                .zip(&idf)
                .map(|((term, weight), idf)| {
                    let frequency = terms.iter().filter(|t| *t == term).count() as f64;
                    if frequency == 0.0 {
                        return 0.0;
                    }
                    weight * idf * frequency * (K1 + 1.0)
                        / (frequency + K1 * (1.0 - B + B * length / average_length))
                })
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relation_in_the_question_brings_its_name() {
        let query = Query::new("Where is my sister living these days?").with_names_of([
            ("sister", "Chiara"),
            ("cat", "Miso"),
            ("best friend", "Noor"),
        ]);
        let terms: Vec<&str> = query.terms.iter().map(|(term, _)| term.as_str()).collect();
        assert!(terms.contains(&stem("chiara").as_str()), "{terms:?}");
        assert!(!terms.contains(&stem("miso").as_str()), "{terms:?}");
        assert!(!terms.contains(&stem("noor").as_str()), "{terms:?}");
    }

    #[test]
    fn the_second_round_looks_for_the_names_the_first_round_found() {
        let query = Query::new("where does the friend I went climbing with live?");
        let expansion = query.expansion(
            [
                "Last Sunday I went climbing with Noor at the quarry.",
                "I love climbing. Sunday was great.",
            ],
            |_| true,
        );
        let terms: Vec<&str> = expansion
            .terms
            .iter()
            .map(|(term, _)| term.as_str())
            .collect();
        assert_eq!(
            terms,
            vec![stem("noor")],
            "a name, not the sentence's first word"
        );
        let documents: Vec<Arc<[String]>> = ["Noor lives in Utrecht now", "I went to Utrecht"]
            .iter()
            .map(|text| index_terms(text))
            .collect();
        let documents: Vec<&[String]> = documents.iter().map(|terms| &terms[..]).collect();
        let scores = bm25(&expansion, &documents);
        assert!(scores[0] > 0.0 && scores[1] == 0.0, "{scores:?}");
    }

    #[test]
    fn a_word_opening_a_sentence_is_a_name_when_never_written_in_lower_case() {
        let said = [
            "Clementine joined the family, a little tabby dog",
            "Went to the park. we went home after",
        ];
        let lowercase = |word: &str| is_written_lowercase(word, said);
        let query = Query::new("what frightens my dog?");
        let names: Vec<String> = said
            .iter()
            .flat_map(|text| names_in(text, &lowercase))
            .collect();
        assert_eq!(names, vec!["Clementine".to_string()]);
        let expansion = query.expansion(said, lowercase);
        let terms: Vec<&str> = expansion.terms.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(terms, vec![stem("clementine")]);
        assert!(!is_written_lowercase("went", ["Wentworth is here"]));
    }

    #[test]
    fn where_questions_and_the_memories_that_name_a_place() {
        for question in [
            "Where is my sister living these days?",
            "Which city is the friend I ride with from?",
            "what country did I move to?",
            "and where's Noor now?",
        ] {
            assert!(asks_where(question), "{question}");
        }
        for question in [
            "What's my sister's job?",
            "When did I move?",
            "anywhere nice?",
        ] {
            assert!(!asks_where(question), "{question}");
        }
        for memory in [
            "Chiara has a flat in Turin right above a bakery",
            "Selin took the train back to Utrecht tonight",
            "my dad was born in Cork",
        ] {
            assert!(names_a_place(memory), "{memory}");
        }
        for memory in [
            "Chiara came over for dinner and beat me at cards",
            "I moved in. Lisbon is great",
            "see you in March",
            "I went to the shop",
        ] {
            assert!(!names_a_place(memory), "{memory}");
        }
    }

    #[test]
    fn only_questions_that_state_nothing_are_pure_questions() {
        for question in [
            "what's my cat called?",
            "Where do I live?",
            "hmm. which city was I born in?",
            "ok! and my sister?",
        ] {
            assert!(is_pure_question(question), "{question}");
        }
        for statement in [
            "I made a bowl in pottery class yesterday… have you ever tried it?",
            "We finally adopted a kitten. Her name is Pixel. Cute, right?",
            "Did you know I moved to Ghent?",
            "I love sailing",
            "my sister lives in Tromsø, did I say?",
        ] {
            assert!(!is_pure_question(statement), "{statement}");
        }
    }

    fn score(query: &str, documents: &[&str]) -> Vec<f64> {
        let terms: Vec<Arc<[String]>> = documents.iter().map(|d| index_terms(d)).collect();
        let slices: Vec<&[String]> = terms.iter().map(|t| &t[..]).collect();
        bm25(&Query::new(query), &slices)
    }

    #[test]
    fn stems_fold_inflections() {
        assert_eq!(index_terms("cats"), index_terms("cat"));
        assert_eq!(index_terms("living"), index_terms("lives"));
        assert!(index_terms("What's my cat called?").contains(&"cat".to_string()));
    }

    #[test]
    fn questions_rank_the_statement_they_ask_about_first() {
        let scores = score(
            "What's my cat called?",
            &[
                "I work as a nurse in Porto",
                "My cat is called Miso",
                "I had pasta",
            ],
        );
        assert!(scores[1] > scores[0] && scores[1] > scores[2], "{scores:?}");
        assert_eq!(scores[2], 0.0);
    }

    #[test]
    fn synonyms_find_paraphrases_at_a_lower_weight() {
        let scores = score(
            "where do I live these days?",
            &[
                "I moved to Lisbon last year",
                "I live in Porto",
                "lunch was nice",
            ],
        );
        assert!(scores[0] > 0.0, "{scores:?}");
        assert!(
            scores[1] > scores[0],
            "an exact word beats a synonym: {scores:?}"
        );
        assert_eq!(scores[2], 0.0);
    }

    #[test]
    fn stored_terms_read_back_as_computed_and_other_formats_are_refused() {
        for text in [
            "My cat is called Miso",
            "I moved to Lisbon last year — naïve café",
            "haha ok",
            "",
        ] {
            let terms = index_terms(text);
            let stored = stored_terms(&terms);
            assert_eq!(
                parse_stored_terms(&stored).as_deref(),
                Some(&terms[..]),
                "{text}"
            );
        }
        assert_eq!(parse_stored_terms("cat miso"), None, "no format tag");
        assert_eq!(parse_stored_terms("t0:cat miso"), None, "an older format");
        assert_eq!(parse_stored_terms("enc1:AAAA"), None, "still sealed");
    }

    #[test]
    fn rare_terms_weigh_more_than_common_ones() {
        let scores = score(
            "sailing trip",
            &[
                "a trip to the shop",
                "a trip to the park",
                "sailing lessons",
            ],
        );
        assert!(scores[2] > scores[0], "{scores:?}");
    }
}
