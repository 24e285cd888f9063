//! The contract every WhisperEngine connector speaks.
//!
//! Platform-neutral types and traits, no I/O and no platform library:
//! - [`platform`]: [`Platform`] ids and [`PlatformAccount`]s (`discord:80351110224678912`, `slack:T0123/U0456`).
//! - [`event`]: what a connector hands to the core ([`InboundEvent`]: a message or a command invocation).
//! - [`reply`]: what the core hands back ([`OutboundReply`]: neutral markdown plus an optional [`Card`]).
//! - [`connector`]: [`Capabilities`], the [`Connector`] trait a platform implements and the
//!   [`EventHandler`] trait the core implements.
//! - [`inbox`]: where a connector hands acknowledged events ([`Inbox`]), stored before they are
//!   acknowledged and run on the host's workers.
//! - [`stream`]: a reply shown while it is written ([`ReplySink`] for the core, [`ReplyStream`]
//!   for the connector) and the [`stable_prefix`] of half-written markdown that is safe to show.
//! - [`preview`]: the connector's side: a [`Preview`] shows the growing text, and
//!   [`handle_with_preview`] runs the core and the preview together.
//! - [`split`]: splitting a long markdown reply below a platform's message limit without breaking
//!   code blocks or words.

pub mod connector;
pub mod event;
pub mod inbox;
pub mod platform;
pub mod preview;
pub mod reply;
pub mod split;
pub mod stream;

pub use connector::{
    Capabilities, Connector, ConnectorError, EventHandler, HandlerOutcome, MarkupDialect,
    RecentConversation, Shutdown,
};
pub use event::{
    CommandInvocation, ConversationContext, EventId, InboundEvent, InboundMessage, Visibility,
};
pub use inbox::{
    job_without_entry, Inbox, InboxEntry, InboxFuture, InboxJob, InboxRefusal, JobFuture, Replayer,
};
pub use platform::{AccountParseError, Platform, PlatformAccount};
pub use preview::{handle_with_preview, Preview};
pub use reply::{Card, CardField, OutboundReply};
pub use split::split_message;
pub use stream::{reply_stream, stable_prefix, NoStream, ReplySink, ReplyStream};
