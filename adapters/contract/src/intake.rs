//! The acknowledgement rule's interface: an HTTP connector acknowledges a platform event (2xx) only
//! once the host's bounded [`Intake`] has taken it; the intake then processes it with retries and
//! drains before the host exits. When it refuses, the connector answers so that the platform retries.

use std::future::Future;
use std::pin::Pin;

/// One acknowledged event's work: call the core, deliver the reply.
pub type IntakeJob = Pin<Box<dyn Future<Output = ()> + Send>>;

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

/// A bounded queue of acknowledged events, implemented by the host. Every job it accepts is run
/// before the host exits (within the host's drain time).
pub trait Intake: Send + Sync {
    /// Queues `job`, or refuses at once (never waits) when full or shutting down.
    fn submit(&self, job: IntakeJob) -> Result<(), IntakeRefusal>;
}
