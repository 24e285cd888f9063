//! llm (in progress)
