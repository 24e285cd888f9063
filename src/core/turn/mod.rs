//! A message's way through the host, from an acknowledged platform event to a stored reply.
//!
//! - [`pipeline`]: where a message becomes a reply, one function per step (dedupe → identity →
//!   gates → rate limit → store → emotion → context → prompt → LLM → store reply).
//! - [`inbox`]: the durable inbox: events written to SQL before they are acknowledged, taken over
//!   from a process that stopped; the row travels with the job to the pipeline.
//! - [`workers`]: the bounded work queue acknowledged events wait in, and the workers that run them.
//! - [`retry`]: keeping a message until it is durably stored (retries while storage fails).
//! - [`rate_limit`]: the per-identity rate limit (RATE_LIMIT_PER_MINUTE).
//! - [`streaming`]: the sinks a reply is streamed through (notice first, retries).
//! - [`steps`]: where one message's time goes, step by step (a histogram per finer step).

pub mod inbox;
pub mod pipeline;
pub mod rate_limit;
pub mod retry;
pub mod steps;
pub mod streaming;
pub mod workers;
