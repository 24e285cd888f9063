//! The acknowledgement rule's interface: a connector acknowledges a platform event only once the
//! host's [`Inbox`] has taken it; the host then runs the event's [`InboxJob`] on its workers, with
//! retries. With [`Inbox::submit_durable`] the event is first written to the host's database, so
//! an event the process could not finish (a slow drain at shutdown, a crash) is run again by the
//! restarted process or another one, through the [`Replayer`] its connector registered. When the
//! inbox refuses, the connector answers so that the platform retries.
//!
//! The stored event travels with its job explicitly: the host calls the job with the event's
//! [`InboxEntry`], and the connector puts it on the [`InboundMessage`](crate::InboundMessage) it
//! hands to the core, which records the reply in it in the turn's transaction.

use crate::PlatformAccount;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The host's record of one stored event, opaque to connectors: they only pass it on.
#[derive(Clone)]
pub struct InboxEntry(Arc<dyn Any + Send + Sync>);

impl InboxEntry {
    /// Wraps the host's record.
    pub fn new<T: Any + Send + Sync>(record: T) -> InboxEntry {
        InboxEntry(Arc::new(record))
    }

    /// The host's record, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for InboxEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InboxEntry")
    }
}

/// What a job runs.
pub type JobFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One acknowledged event's work: call the core, deliver the reply. The host calls it with the
/// event's [`InboxEntry`] (`None` when the event was kept in memory only).
pub type InboxJob = Box<dyn FnOnce(Option<InboxEntry>) -> JobFuture + Send>;

/// A job from a future that needs no inbox entry (commands, and tests).
pub fn job_without_entry(work: impl Future<Output = ()> + Send + 'static) -> InboxJob {
    Box::new(move |_| Box::pin(work))
}

/// The answer of [`Inbox::submit_durable`].
pub type InboxFuture<'a> = Pin<Box<dyn Future<Output = Result<(), InboxRefusal>> + Send + 'a>>;

/// Why the inbox did not take a job. Either way the event was not acknowledged and nothing was
/// done: answer with a status that makes the platform send it again (Slack: non-2xx, Teams: 5xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InboxRefusal {
    /// The work queue is at its bound.
    #[error("the work queue is full")]
    Full,
    /// The host is shutting down and only finishes what it already acknowledged.
    #[error("the host is shutting down")]
    ShuttingDown,
}

/// Rebuilds an acknowledged event's job from the payload its connector stored with it. The payload
/// was verified (signature, token) when it arrived and comes back from the host's own database.
pub trait Replayer: Send + Sync {
    /// The job for `payload`, or `None` when it cannot be read (the host sets the event aside).
    fn replay(&self, payload: &str) -> Option<InboxJob>;

    /// The account that sent `payload`: the host stores it with the event, so the event is erased
    /// by that person's `forget all` and included in their `export`. `None` when the payload names
    /// no person (the event is then kept as nobody's, until it is finished).
    fn author(&self, _payload: &str) -> Option<PlatformAccount> {
        None
    }
}

/// Where a connector hands acknowledged events, implemented by the host.
pub trait Inbox: Send + Sync {
    /// Queues `job` on the host's workers, or refuses at once (never waits) when full or shutting
    /// down. The job lives in this process only: it runs before the host exits, within the host's
    /// drain time.
    fn submit(&self, job: InboxJob) -> Result<(), InboxRefusal>;

    /// Stores `payload` under `kind` (a kind registered with [`Inbox::register_replayer`]), then
    /// queues `job`. When this process does not finish the job, the replayer rebuilds it from the
    /// payload in a process that runs later. Only once this resolves `Ok` may the event be
    /// acknowledged. A host without a durable store queues the job as [`Inbox::submit`] does.
    fn submit_durable(
        &self,
        _kind: &'static str,
        _payload: String,
        job: InboxJob,
    ) -> InboxFuture<'_> {
        Box::pin(std::future::ready(self.submit(job)))
    }

    /// Registers how events stored under `kind` are run again.
    fn register_replayer(&self, _kind: &'static str, _replayer: Arc<dyn Replayer>) {}
}
