//! The acknowledgement rule's interface: an HTTP connector acknowledges a platform event (2xx) only
//! once the host's [`Intake`] has taken it; the intake then processes it with retries. With
//! [`Intake::submit_durable`] the event is first written to the host's database, so an event the
//! process could not finish (a slow drain at shutdown, a crash) is run again by the restarted
//! process or another one, through the [`Replayer`] its connector registered. When the intake
//! refuses, the connector answers so that the platform retries.

use crate::PlatformAccount;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// One acknowledged event's work: call the core, deliver the reply.
pub type IntakeJob = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The answer of [`Intake::submit_durable`].
pub type IntakeFuture<'a> = Pin<Box<dyn Future<Output = Result<(), IntakeRefusal>> + Send + 'a>>;

/// Why the intake did not take a job. Either way the event was not acknowledged and nothing was
/// done: answer with a status that makes the platform send it again (Slack: non-2xx, Teams: 5xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IntakeRefusal {
    /// The queue is at its bound.
    #[error("the intake queue is full")]
    Full,
    /// The host is shutting down and only finishes what it already acknowledged.
    #[error("the host is shutting down")]
    ShuttingDown,
}

/// Rebuilds an acknowledged event's job from the payload its connector stored with it. The payload
/// was verified (signature, token) when it arrived and comes back from the host's own database.
pub trait Replayer: Send + Sync {
    /// The job for `payload`, or `None` when it cannot be read (the host sets the event aside).
    fn replay(&self, payload: &str) -> Option<IntakeJob>;

    /// The account that sent `payload`: the host stores it with the event, so the event is erased
    /// by that person's `forget all` and included in their `export`. `None` when the payload names
    /// no person (the event is then kept as nobody's, until it is finished).
    fn author(&self, _payload: &str) -> Option<PlatformAccount> {
        None
    }
}

/// A bounded queue of acknowledged events, implemented by the host.
pub trait Intake: Send + Sync {
    /// Queues `job`, or refuses at once (never waits) when full or shutting down. The job lives in
    /// this process only: it runs before the host exits, within the host's drain time.
    fn submit(&self, job: IntakeJob) -> Result<(), IntakeRefusal>;

    /// Stores `payload` under `kind` (a kind registered with [`Intake::register_replayer`]), then
    /// queues `job`. When this process does not finish the job, the replayer rebuilds it from the
    /// payload in a process that runs later. Only once this resolves `Ok` may the event be
    /// acknowledged. A host without a durable store queues the job as [`Intake::submit`] does.
    fn submit_durable(
        &self,
        _kind: &'static str,
        _payload: String,
        job: IntakeJob,
    ) -> IntakeFuture<'_> {
        Box::pin(std::future::ready(self.submit(job)))
    }

    /// Registers how events stored under `kind` are run again.
    fn register_replayer(&self, _kind: &'static str, _replayer: Arc<dyn Replayer>) {}
}
