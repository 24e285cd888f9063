//! The recall evaluation (`whisperengine-bench --recall`): how often the memories the host puts
//! into the LLM prompt contain the evidence for a question, next to a plain BM25 baseline over the
//! same turns.
//!
//! - [`generate`] writes the evaluation set: conversations of one person with the companion over
//!   many sessions months apart, and questions in four [`Category`]s, each naming the turns that
//!   hold its evidence. Seeded, so every run evaluates the same set.
//! - [`run`] feeds each conversation to a fresh host core on a fresh SQLite database, dates every
//!   stored turn back to its session, asks the questions and reads the recalled memories from the
//!   prompt; [`bm25`] ranks the same turns for the same questions.
//! - [`report`] counts hits at 5 and 10 and prints the table.

pub mod bm25;
pub mod generate;
pub mod report;
pub mod run;
mod vocabulary;

pub use generate::evaluation_set;
pub use report::RecallReport;
pub use run::{run_recall, RecallOptions};

use chrono::NaiveDate;
use serde::Serialize;

/// The seed of the evaluation set.
pub const SEED: u64 = 20_261_207;

/// The day the questions are asked, in the set's own calendar. When the set is run, every date
/// moves by the same amount so that this day is today: ages stay as written.
pub const QUESTION_DAY: (i32, u32, u32) = (2026, 12, 7);

/// What kind of question it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// One turn holds the answer.
    SingleHop,
    /// The answer needs two or more turns ("where does the friend I climb with live?").
    MultiHop,
    /// When something happened: the turn that told it.
    Temporal,
    /// An inference from the person's stated interests or dislikes: any of those turns.
    OpenDomain,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::SingleHop,
        Category::MultiHop,
        Category::Temporal,
        Category::OpenDomain,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::SingleHop => "single_hop",
            Category::MultiHop => "multi_hop",
            Category::Temporal => "temporal",
            Category::OpenDomain => "open_domain",
        }
    }

    /// Whether a question needs all of its evidence turns recalled to count as a hit (multi hop
    /// is reported both ways; open-domain evidence is several turns of which any one supports
    /// the inference).
    pub fn needs_all(self) -> bool {
        matches!(self, Category::MultiHop)
    }
}

/// One message of the person.
#[derive(Debug, Clone, Serialize)]
pub struct Turn {
    pub text: String,
    /// Index into [`Conversation::sessions`].
    pub session: usize,
    /// Minutes after the session's start.
    pub minute: u32,
}

/// One sitting: the turns of one evening.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub date: NaiveDate,
    /// Hour of the day it starts.
    pub hour: u32,
}

/// A question and the turns that hold its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Question {
    pub category: Category,
    pub text: String,
    /// What the evidence is, by the tags of its turns: `sibling.intro+sibling.city`.
    pub about: String,
    /// Indices into [`Conversation::turns`].
    pub evidence: Vec<usize>,
}

/// One person's conversation with the companion and the questions about it.
#[derive(Debug, Clone, Serialize)]
pub struct Conversation {
    /// The person's user id on the local chat.
    pub user: String,
    pub sessions: Vec<Session>,
    pub turns: Vec<Turn>,
    pub questions: Vec<Question>,
}
