//! A person's control over their data, and the host's record of who did what.
//!
//! - [`visibility`]: what may be brought up where (DMs, group conversations, public channels).
//! - [`preferences`]: preferences and sharing settings read through the identity, with conflicts.
//! - [`isolation`]: emergency isolation of one identity or the whole host.
//! - [`erasure`]: erasing a person everywhere (`forget all`, data expiry).
//! - [`export`]: everything about a person as one JSON document, and its download links.
//! - [`audit`]: the append-only audit log.

pub mod audit;
pub mod erasure;
pub mod export;
pub mod isolation;
pub mod preferences;
pub mod visibility;
