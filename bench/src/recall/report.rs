//! Counting and printing: a question is a hit @k when the first k memories recalled for it hold
//! its evidence turn (single hop, temporal), any of its evidence turns (open domain), or all of
//! them (multi hop; "any" is reported too). Overall counts each question by its category's rule.
//!
//! For every evidence turn the host did not recall @10 in a question it missed, the report says
//! why: the turn ends with "?" (the host never recalls a question), it shares no term with the
//! question (after the host's stemming and synonyms: its relevance is 0), or it ranked below 10.

use super::{generate, Category, Conversation};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use whisperengine::core::memory::recall;

/// One question's outcome: what the host (at MEMORY_TOP_K 5 and 10) and BM25 recalled, as turn
/// indices, best first (`None`: a memory that is not one of the conversation's turns).
#[derive(Debug, Clone, Serialize)]
pub struct QuestionResult {
    pub conversation: usize,
    pub category: Category,
    pub text: String,
    pub about: String,
    pub evidence: Vec<usize>,
    /// The evidence turns' texts, for reading the JSON.
    pub evidence_text: Vec<String>,
    pub host_at_5: Vec<Option<usize>>,
    pub host_at_10: Vec<Option<usize>>,
    /// The host with semantic recall on local embeddings (`--embeddings`), when it was run.
    pub semantic_at_5: Option<Vec<Option<usize>>>,
    pub semantic_at_10: Option<Vec<Option<usize>>>,
    pub bm25_at_10: Vec<usize>,
}

/// Whether the first `k` of `recalled` hold any / all of `evidence`.
fn hits(evidence: &[usize], recalled: impl Iterator<Item = usize>, k: usize) -> (bool, bool) {
    let top: Vec<usize> = recalled.take(k).collect();
    let found = evidence.iter().filter(|turn| top.contains(turn)).count();
    (found > 0, found == evidence.len())
}

impl QuestionResult {
    fn host(&self, k: usize) -> (bool, bool) {
        let recalled = if k <= 5 {
            &self.host_at_5
        } else {
            &self.host_at_10
        };
        hits(
            &self.evidence,
            recalled.iter().map(|t| t.unwrap_or(usize::MAX)),
            k,
        )
    }

    /// The host with local embeddings; `None` when it was not run.
    fn semantic(&self, k: usize) -> Option<(bool, bool)> {
        let recalled = if k <= 5 {
            self.semantic_at_5.as_ref()?
        } else {
            self.semantic_at_10.as_ref()?
        };
        Some(hits(
            &self.evidence,
            recalled.iter().map(|t| t.unwrap_or(usize::MAX)),
            k,
        ))
    }

    fn bm25(&self, k: usize) -> (bool, bool) {
        hits(&self.evidence, self.bm25_at_10.iter().copied(), k)
    }

    /// The hit by this question's category rule.
    fn counts((any, all): (bool, bool), category: Category) -> bool {
        if category.needs_all() {
            all
        } else {
            any
        }
    }
}

/// Recall of one row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub category: String,
    pub questions: usize,
    pub host_at_5: f64,
    pub host_at_10: f64,
    /// The host with local embeddings (`--embeddings`), when it was run.
    pub semantic_at_5: Option<f64>,
    pub semantic_at_10: Option<f64>,
    pub bm25_at_5: f64,
    pub bm25_at_10: f64,
}

/// Why evidence turns were not recalled @10, in questions that were missed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Misses {
    /// The turn ends with "?" (the host never recalls a question; BM25 does not care).
    pub ends_with_question: usize,
    /// No term (host: stems and synonyms; BM25: words) in common with the question.
    pub no_term_in_common: usize,
    /// A candidate with some relevance, ranked below 10.
    pub ranked_below: usize,
}

/// What `--recall` measured.
#[derive(Debug, Clone, Serialize)]
pub struct RecallReport {
    pub mode: &'static str,
    pub seed: u64,
    pub conversations: usize,
    pub sessions: usize,
    pub turns: usize,
    pub questions: usize,
    /// Share of the person's statements (turns that are not questions to the companion) that end
    /// with "?".
    pub statements_ending_with_question: f64,
    pub seconds: f64,
    /// The model of the run with local embeddings (its folder's name), when there was one.
    pub embeddings: Option<String>,
    /// With local embeddings: one message's encoding alone, p50 and p99 in milliseconds.
    pub encode_ms: Option<(f64, f64)>,
    /// Per category, then multi hop counted on any evidence, then overall.
    pub rows: Vec<Row>,
    pub host_misses: Misses,
    pub bm25_misses: Misses,
    /// Host and BM25 recall@5 by what the evidence is about (`sibling.city`, `hobby.pottery*`, …).
    pub by_evidence: Vec<Row>,
    pub results: Vec<QuestionResult>,
}

impl RecallReport {
    pub fn new(
        is_small: bool,
        embeddings: Option<&std::path::Path>,
        set: &[Conversation],
        results: Vec<QuestionResult>,
        elapsed: Duration,
    ) -> RecallReport {
        let mut statements = 0;
        let mut with_question = 0;
        for conversation in set {
            let shape = generate::shape(conversation);
            let asking = shape.get("statement_with_question").copied().unwrap_or(0);
            with_question += asking;
            statements += asking + shape.get("statement").copied().unwrap_or(0);
        }
        let mut rows = Vec::new();
        for category in Category::ALL {
            let chosen: Vec<&QuestionResult> =
                results.iter().filter(|r| r.category == category).collect();
            let label = if category.needs_all() {
                format!("{} (all)", category.name())
            } else {
                category.name().to_string()
            };
            rows.push(row(&label, &chosen, |found| {
                QuestionResult::counts(found, category)
            }));
            if category.needs_all() {
                rows.push(row(
                    &format!("{} (any)", category.name()),
                    &chosen,
                    |(any, _)| any,
                ));
            }
        }
        let all: Vec<&QuestionResult> = results.iter().collect();
        let mut overall = row("overall", &all, |_| false);
        overall.host_at_5 = share(&all, |r| QuestionResult::counts(r.host(5), r.category));
        overall.host_at_10 = share(&all, |r| QuestionResult::counts(r.host(10), r.category));
        overall.bm25_at_5 = share(&all, |r| QuestionResult::counts(r.bm25(5), r.category));
        overall.bm25_at_10 = share(&all, |r| QuestionResult::counts(r.bm25(10), r.category));
        overall.semantic_at_5 = semantic_share(&all, 5, |r, found| {
            QuestionResult::counts(found, r.category)
        });
        overall.semantic_at_10 = semantic_share(&all, 10, |r, found| {
            QuestionResult::counts(found, r.category)
        });
        rows.push(overall);
        let (host_misses, bm25_misses) = misses(set, &results);
        RecallReport {
            mode: if is_small { "small" } else { "full" },
            seed: super::SEED,
            conversations: set.len(),
            sessions: set.iter().map(|c| c.sessions.len()).sum(),
            turns: set.iter().map(|c| c.turns.len()).sum(),
            questions: results.len(),
            statements_ending_with_question: with_question as f64 / statements.max(1) as f64,
            seconds: elapsed.as_secs_f64(),
            embeddings: embeddings.map(|folder| {
                folder
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_else(|| folder.display().to_string())
            }),
            encode_ms: None,
            rows,
            host_misses,
            bm25_misses,
            by_evidence: by_evidence(&results),
            results,
        }
    }

    /// The row named `category` ("overall", "multi_hop (all)", …).
    pub fn row(&self, category: &str) -> Option<&Row> {
        self.rows.iter().find(|row| row.category == category)
    }

    /// The table, as printed.
    pub fn table(&self) -> String {
        let mut out = format!(
            "Recall evaluation ({} set, seed {}): {} conversations, {} sessions, {} turns, {} questions; {:.0} % of statements end with \"?\"\n",
            self.mode,
            self.seed,
            self.conversations,
            self.sessions,
            self.turns,
            self.questions,
            self.statements_ending_with_question * 100.0
        );
        if let Some(model) = &self.embeddings {
            out.push_str(&format!(
                "  host+emb = the host with semantic recall on local embeddings ({model})\n"
            ));
        }
        let with_semantic = self.embeddings.is_some();
        let mut header = format!(
            "  {:<18} {:>9} {:>8} {:>8}",
            "category", "questions", "host@5", "host@10"
        );
        if with_semantic {
            header.push_str(&format!(" {:>11} {:>12}", "host+emb@5", "host+emb@10"));
        }
        header.push_str(&format!(" {:>8} {:>8}\n", "bm25@5", "bm25@10"));
        out.push_str(&header);
        for row in &self.rows {
            let mut line = format!(
                "  {:<18} {:>9} {:>8.2} {:>8.2}",
                row.category, row.questions, row.host_at_5, row.host_at_10
            );
            if with_semantic {
                line.push_str(&format!(
                    " {:>11.2} {:>12.2}",
                    row.semantic_at_5.unwrap_or(0.0),
                    row.semantic_at_10.unwrap_or(0.0)
                ));
            }
            line.push_str(&format!(
                " {:>8.2} {:>8.2}\n",
                row.bm25_at_5, row.bm25_at_10
            ));
            out.push_str(&line);
        }
        let host = &self.host_misses;
        let bm25 = &self.bm25_misses;
        out.push_str(&format!(
            "  evidence turns missed @10 (in missed questions): host: {} end with \"?\", {} share no term, {} ranked below 10; bm25: {} share no word, {} ranked below 10\n",
            host.ends_with_question, host.no_term_in_common, host.ranked_below, bm25.no_term_in_common, bm25.ranked_below
        ));
        out.push_str("  recall@5 by evidence (host / bm25):");
        for row in &self.by_evidence {
            out.push_str(&format!(
                " {} {:.2}/{:.2} ({}),",
                row.category, row.host_at_5, row.bm25_at_5, row.questions
            ));
        }
        out.pop();
        out.push('\n');
        if let Some((p50, p99)) = self.encode_ms {
            out.push_str(&format!(
                "  local embeddings: one message encoded in p50 {p50:.1} ms, p99 {p99:.1} ms (CPU, on the reply's path, in parallel with storing the message)\n"
            ));
        }
        out.push_str(&format!("  took {:.1} s\n", self.seconds));
        out
    }
}

fn share(results: &[&QuestionResult], hit: impl Fn(&QuestionResult) -> bool) -> f64 {
    if results.is_empty() {
        return 0.0;
    }
    results.iter().filter(|result| hit(result)).count() as f64 / results.len() as f64
}

/// The share for the run with local embeddings; `None` when it was not run.
fn semantic_share(
    results: &[&QuestionResult],
    k: usize,
    hit: impl Fn(&QuestionResult, (bool, bool)) -> bool,
) -> Option<f64> {
    if results.iter().any(|result| result.semantic(k).is_none()) {
        return None;
    }
    Some(share(results, |r| {
        r.semantic(k).is_some_and(|found| hit(r, found))
    }))
}

fn row(label: &str, results: &[&QuestionResult], rule: impl Fn((bool, bool)) -> bool) -> Row {
    Row {
        category: label.to_string(),
        questions: results.len(),
        host_at_5: share(results, |r| rule(r.host(5))),
        host_at_10: share(results, |r| rule(r.host(10))),
        semantic_at_5: semantic_share(results, 5, |_, found| rule(found)),
        semantic_at_10: semantic_share(results, 10, |_, found| rule(found)),
        bm25_at_5: share(results, |r| rule(r.bm25(5))),
        bm25_at_10: share(results, |r| rule(r.bm25(10))),
    }
}

/// Recall@5 grouped by the evidence's kind: the tags' first part (`sibling`, `hobby`, `pet`, …).
fn by_evidence(results: &[QuestionResult]) -> Vec<Row> {
    let mut groups: BTreeMap<String, Vec<&QuestionResult>> = BTreeMap::new();
    for result in results {
        let kind = result
            .about
            .split('+')
            .map(|tag| tag.split('.').next().unwrap_or(tag).trim_end_matches('*'))
            .map(|kind| kind.trim_end_matches(|c: char| c.is_ascii_digit()))
            .collect::<Vec<_>>()
            .join("+");
        groups.entry(kind).or_default().push(result);
    }
    groups
        .into_iter()
        .map(|(kind, chosen)| {
            let mut found = row(&kind, &chosen, |_| false);
            found.host_at_5 = share(&chosen, |r| QuestionResult::counts(r.host(5), r.category));
            found.host_at_10 = share(&chosen, |r| QuestionResult::counts(r.host(10), r.category));
            found.bm25_at_5 = share(&chosen, |r| QuestionResult::counts(r.bm25(5), r.category));
            found.bm25_at_10 = share(&chosen, |r| QuestionResult::counts(r.bm25(10), r.category));
            found.semantic_at_5 =
                semantic_share(&chosen, 5, |r, hit| QuestionResult::counts(hit, r.category));
            found.semantic_at_10 = semantic_share(&chosen, 10, |r, hit| {
                QuestionResult::counts(hit, r.category)
            });
            found
        })
        .collect()
}

/// Why the evidence of missed questions was not recalled @10, for the host and for BM25.
fn misses(set: &[Conversation], results: &[QuestionResult]) -> (Misses, Misses) {
    let mut host = Misses::default();
    let mut bm25 = Misses::default();
    for result in results {
        let Some(conversation) = set.get(result.conversation) else {
            continue;
        };
        let host_terms: Vec<String> = recall::Query::new(&result.text)
            .terms
            .into_iter()
            .map(|(term, _)| term)
            .collect();
        let question_words = super::bm25::tokens(&result.text);
        let host_missed = !QuestionResult::counts(result.host(10), result.category);
        let bm25_missed = !QuestionResult::counts(result.bm25(10), result.category);
        for &turn in &result.evidence {
            let text = &conversation.turns[turn].text;
            if host_missed && !result.host_at_10.contains(&Some(turn)) {
                if text.trim_end().ends_with('?') {
                    host.ends_with_question += 1;
                } else if !recall::index_terms(text)
                    .iter()
                    .any(|term| host_terms.contains(term))
                {
                    host.no_term_in_common += 1;
                } else {
                    host.ranked_below += 1;
                }
            }
            if bm25_missed && !result.bm25_at_10.contains(&turn) {
                let words = super::bm25::tokens(text);
                if words.iter().any(|word| question_words.contains(word)) {
                    bm25.ranked_below += 1;
                } else {
                    bm25.no_term_in_common += 1;
                }
            }
        }
    }
    (host, bm25)
}
