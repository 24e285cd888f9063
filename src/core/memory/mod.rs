//! What the companion remembers about a person and what it recalls for a reply.
//!
//! - [`context`]: what may be recalled where (visibility, sharing settings) and how it is ranked;
//!   the entry point for a reply's recall is [`context::RecallRequest`].
//! - [`recall`]: stemming, synonyms, BM25 relevance and the second round for recall; the words it
//!   knows are in [`words`].
//! - [`semantic`]: embeddings (LOCAL_EMBEDDINGS or EMBEDDING_MODEL) and cosine similarity for recall.
//! - [`facts`]: facts read from messages (rules in [`facts::extract`], the LLM in [`facts::llm`])
//!   and the typed, versioned fact store ([`facts::store`]).
//! - [`adaptation`]: what feedback taught about a person's preferred replies (SYNC_ADAPTATION_STRATEGIES).

pub mod adaptation;
pub mod context;
pub mod facts;
pub mod recall;
pub mod semantic;
pub mod words;
