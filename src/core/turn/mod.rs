//! A message's way through the host, from an acknowledged platform event to a stored reply.
//!
//! - [`pipeline`]: where a message becomes a reply, one function per step (dedupe → identity →
//!   gates → rate limit → store → emotion → context → prompt → LLM → store reply).
//! - [`inbox`]: the durable inbox: events written to SQL before they are acknowledged, taken over
//!   from a process that stopped.
//! - [`intake`]: the bounded in-process queue of acknowledged events and the retry loop that keeps a
//!   message until it is durably stored.
//! - [`rate_limit`]: the per-identity rate limit (RATE_LIMIT_PER_MINUTE).

pub mod inbox;
pub mod intake;
pub mod pipeline;
pub mod rate_limit;
