//! The baseline the host's recall is compared with: plain Okapi BM25 (k1 = 1.2, b = 0.75) over one
//! conversation's turns, with lowercase word tokens (split on anything that is not a letter or a
//! digit), no stemming, no synonyms, and Lucene's classic English stop-word list.
//!
//! Why not a crate: the one well-kept candidate, `bm25`, stems and removes its own stop words by
//! default, hashes tokens to 32-bit ids and takes the average document length as a separate fit;
//! bending it to the textbook formula would take as many lines as the formula itself, and it would
//! add crates the rest of the workspace does not compile. The formula is a dozen lines below.

use std::collections::HashMap;

const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Lucene's `EnglishAnalyzer` default stop words.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// The lowercase word tokens of `text`, stop words removed.
pub fn tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty() && !STOP_WORDS.contains(word))
        .map(str::to_owned)
        .collect()
}

/// An index over a fixed set of documents (one conversation's turns).
pub struct Index {
    documents: Vec<HashMap<String, usize>>,
    lengths: Vec<usize>,
    average_length: f64,
    frequencies: HashMap<String, usize>,
}

impl Index {
    pub fn new<'a>(texts: impl IntoIterator<Item = &'a str>) -> Index {
        let mut documents = Vec::new();
        let mut lengths = Vec::new();
        let mut frequencies: HashMap<String, usize> = HashMap::new();
        for text in texts {
            let words = tokens(text);
            lengths.push(words.len());
            let mut counts: HashMap<String, usize> = HashMap::new();
            for word in words {
                *counts.entry(word).or_insert(0) += 1;
            }
            for word in counts.keys() {
                *frequencies.entry(word.clone()).or_insert(0) += 1;
            }
            documents.push(counts);
        }
        let total: usize = lengths.iter().sum();
        let average_length = (total as f64 / documents.len().max(1) as f64).max(1.0);
        Index {
            documents,
            lengths,
            average_length,
            frequencies,
        }
    }

    /// The BM25 score of every document for `query` (a query word counted once per repeat).
    pub fn scores(&self, query: &str) -> Vec<f64> {
        let count = self.documents.len() as f64;
        let words = tokens(query);
        self.documents
            .iter()
            .zip(&self.lengths)
            .map(|(document, length)| {
                words
                    .iter()
                    .map(|word| {
                        let Some(&frequency) = document.get(word) else {
                            return 0.0;
                        };
                        let containing = self.frequencies.get(word).copied().unwrap_or(0) as f64;
                        let idf = ((count - containing + 0.5) / (containing + 0.5)).ln_1p();
                        let frequency = frequency as f64;
                        idf * frequency * (K1 + 1.0)
                            / (frequency
                                + K1 * (1.0 - B + B * *length as f64 / self.average_length))
                    })
                    .sum()
            })
            .collect()
    }

    /// The `k` best documents for `query` with a score above 0, best first (a tie goes to the
    /// later document, as the host prefers the newer memory).
    pub fn top(&self, query: &str, k: usize) -> Vec<usize> {
        let mut ranked: Vec<(usize, f64)> = self
            .scores(query)
            .into_iter()
            .enumerate()
            .filter(|(_, score)| *score > 0.0)
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
        ranked.into_iter().take(k).map(|(index, _)| index).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercased_split_and_stop_words_dropped_without_stemming() {
        assert_eq!(
            tokens("My sister's CATS live in Porto!"),
            ["my", "sister", "s", "cats", "live", "porto"]
        );
    }

    #[test]
    fn the_document_sharing_the_rarer_word_ranks_first_and_unrelated_ones_not_at_all() {
        let index = Index::new([
            "I went climbing with Noor",
            "Noor lives in Utrecht",
            "I went to the shop",
            "the weather is grim",
        ]);
        assert_eq!(index.top("Where does Noor live?", 5), [1, 0]);
        assert_eq!(index.top("climbing", 5), [0]);
        assert!(index.top("pottery", 5).is_empty());
    }

    #[test]
    fn scores_follow_the_okapi_formula() {
        let index = Index::new(["apple banana", "banana cherry cherry", "date"]);
        let scores = index.scores("cherry");
        // N = 3, n = 1: idf = ln(1 + 2.5 / 1.5); tf = 2, |d| = 3, avgdl = 2.
        let idf = (1.0_f64 + 2.5 / 1.5).ln();
        let expected = idf * 2.0 * 2.2 / (2.0 + 1.2 * (0.25 + 0.75 * 3.0 / 2.0));
        assert!((scores[1] - expected).abs() < 1e-12, "{scores:?}");
        assert_eq!(scores[0], 0.0);
    }
}
