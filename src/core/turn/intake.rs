//! The acknowledgement rule, host side: a bounded queue of acknowledged events ([`IntakeQueue`])
//! and the retry loop that keeps a message until it is durably stored ([`handle_message_retrying`]).
//!
//! An HTTP connector acknowledges an event (2xx) only once the queue took it. Workers run the
//! queued jobs; a message whose storage fails (database or Redis away, PostgreSQL restarting) is
//! tried again with a growing pause instead of being answered with an apology, so it is never
//! dropped while the outage lasts. On shutdown the queue stops taking jobs (connectors answer 503
//! and the platform retries) and [`IntakeQueue::drain`] waits, for a bounded time, until every
//! acknowledged job has run.

use crate::core::turn::pipeline;
use crate::core::{Core, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Mutex, Notify};
use whisperengine_contract::{
    Capabilities, HandlerOutcome, InboundMessage, Intake, IntakeJob, IntakeRefusal,
};

/// How long a message is retried while its storage fails before the person gets an apology.
pub const RETRY_FOR: Duration = Duration::from_secs(90);
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const LONGEST_PAUSE: Duration = Duration::from_secs(2);

/// Gauge: jobs queued or running.
pub const DEPTH_METRIC: &str = "whisperengine_intake_depth";
/// Counter: jobs refused, labelled `reason` (`full`, `shutting_down`).
pub const REFUSED_METRIC: &str = "whisperengine_intake_refused_total";
/// Counter: message attempts that failed and were retried.
pub const RETRIES_METRIC: &str = "whisperengine_intake_retries_total";

/// The bounded queue of acknowledged events; cheap to share behind an `Arc`.
pub struct IntakeQueue {
    sender: mpsc::Sender<IntakeJob>,
    /// Queued plus running jobs; incremented before the `accepting` check (see [`Intake::submit`]).
    pending: Arc<AtomicUsize>,
    accepting: AtomicBool,
    /// Signalled whenever a job finishes.
    finished: Arc<Notify>,
}

impl IntakeQueue {
    /// Starts `workers` tasks running jobs from a queue of `capacity` jobs.
    pub fn start(capacity: usize, workers: usize) -> Arc<IntakeQueue> {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        let pending = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(Notify::new());
        for _ in 0..workers.max(1) {
            let receiver = receiver.clone();
            let pending = pending.clone();
            let finished = finished.clone();
            tokio::spawn(async move {
                loop {
                    let job = receiver.lock().await.recv().await;
                    let Some(job) = job else { return };
                    // In a task of its own, so a panic in one job is reported and costs neither
                    // this worker nor the pending count the drain waits on.
                    if let Err(error) = tokio::spawn(job).await {
                        tracing::error!(%error, "an intake job failed");
                    }
                    let left = pending.fetch_sub(1, Ordering::SeqCst) - 1;
                    metrics::gauge!(DEPTH_METRIC).set(left as f64);
                    finished.notify_waiters();
                }
            });
        }
        Arc::new(IntakeQueue {
            sender,
            pending,
            accepting: AtomicBool::new(true),
            finished,
        })
    }

    /// Jobs queued or running.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Whether new jobs are taken (false once shutdown began).
    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }

    /// Stops taking jobs: from now on [`Intake::submit`] answers `ShuttingDown`.
    pub fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::SeqCst);
    }

    /// Stops taking jobs and waits until every accepted one has run, at most `timeout`. Returns how
    /// many did not finish (0 when drained); those are logged as lost to this process.
    pub async fn drain(&self, timeout: Duration) -> usize {
        self.stop_accepting();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before the check, so a job finishing in between still wakes us.
            let finished = self.finished.notified();
            let left = self.pending();
            if left == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, finished).await.is_err() {
                let left = self.pending();
                if left > 0 {
                    tracing::warn!(
                        unfinished = left,
                        "shutdown: acknowledged events not finished within the drain time; those \
                         stored in the inbox are taken over by the next process"
                    );
                }
                return left;
            }
        }
    }
}

impl IntakeQueue {
    /// Holds a place for one job, or refuses at once when full or shutting down. The place is
    /// counted as pending (a drain waits for it) until the job it takes has run, or until the
    /// reservation is dropped unused.
    pub fn reserve(&self) -> std::result::Result<Reservation, IntakeRefusal> {
        // Counted before the check: a drain that has seen `accepting` turn false either sees this
        // job in `pending` or this call sees `accepting` false and refuses.
        self.pending.fetch_add(1, Ordering::SeqCst);
        let permit = if !self.is_accepting() {
            Err(IntakeRefusal::ShuttingDown)
        } else {
            match self.sender.clone().try_reserve_owned() {
                Ok(permit) => Ok(permit),
                Err(mpsc::error::TrySendError::Full(_)) => Err(IntakeRefusal::Full),
                Err(mpsc::error::TrySendError::Closed(_)) => Err(IntakeRefusal::ShuttingDown),
            }
        };
        match permit {
            Ok(permit) => {
                metrics::gauge!(DEPTH_METRIC).set(self.pending() as f64);
                Ok(Reservation {
                    permit: Some(permit),
                    pending: self.pending.clone(),
                    finished: self.finished.clone(),
                })
            }
            Err(refusal) => {
                self.pending.fetch_sub(1, Ordering::SeqCst);
                self.finished.notify_waiters();
                let reason = match refusal {
                    IntakeRefusal::Full => "full",
                    IntakeRefusal::ShuttingDown => "shutting_down",
                };
                metrics::counter!(REFUSED_METRIC, "reason" => reason).increment(1);
                Err(refusal)
            }
        }
    }
}

/// A place held in the queue ([`IntakeQueue::reserve`]).
pub struct Reservation {
    permit: Option<mpsc::OwnedPermit<IntakeJob>>,
    pending: Arc<AtomicUsize>,
    finished: Arc<Notify>,
}

impl Reservation {
    /// Queues `job` in the held place.
    pub fn run(mut self, job: IntakeJob) {
        if let Some(permit) = self.permit.take() {
            permit.send(job);
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.permit.take().is_some() {
            // Given back unused: no job will run in this place.
            self.pending.fetch_sub(1, Ordering::SeqCst);
            self.finished.notify_waiters();
        }
    }
}

impl Intake for IntakeQueue {
    fn submit(&self, job: IntakeJob) -> std::result::Result<(), IntakeRefusal> {
        self.reserve()?.run(job);
        Ok(())
    }
}

/// Runs the pipeline for `message`, trying again with a growing pause (50 ms doubling to 2 s) while
/// it fails, for up to [`RETRY_FOR`]. A failed attempt stored nothing of the turn (the pipeline
/// writes the message, its reply and its processed-event mark in one transaction) and forgot its
/// dedupe mark, so the next attempt starts clean and the message is stored and answered once.
pub async fn handle_message_retrying(
    core: &Core,
    message: InboundMessage,
    capabilities: Capabilities,
) -> Result<HandlerOutcome> {
    let started = Instant::now();
    let mut pause = FIRST_PAUSE;
    loop {
        match pipeline::handle_message(core, message.clone(), capabilities).await {
            Ok(outcome) => return Ok(outcome),
            Err(error) if started.elapsed() + pause < RETRY_FOR => {
                metrics::counter!(RETRIES_METRIC).increment(1);
                tracing::warn!(%error, event_id = %message.event_id, retry_in = ?pause, "message not stored yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn counting_job(done: &Arc<AtomicUsize>, wait: Duration) -> IntakeJob {
        let done = done.clone();
        Box::pin(async move {
            tokio::time::sleep(wait).await;
            done.fetch_add(1, Ordering::SeqCst);
        })
    }

    #[tokio::test]
    async fn a_full_queue_refuses_and_a_drain_runs_every_accepted_job() {
        let done = Arc::new(AtomicUsize::new(0));
        let queue = IntakeQueue::start(4, 1);
        let mut accepted = 0;
        let mut refused = 0;
        for _ in 0..10 {
            match queue.submit(counting_job(&done, Duration::from_millis(20))) {
                Ok(()) => accepted += 1,
                Err(refusal) => {
                    assert_eq!(refusal, IntakeRefusal::Full);
                    refused += 1;
                }
            }
        }
        assert!(accepted >= 4, "accepted {accepted}");
        assert!(refused >= 1, "a bounded queue must refuse some of 10 jobs");
        assert_eq!(queue.drain(Duration::from_secs(5)).await, 0);
        assert_eq!(done.load(Ordering::SeqCst), accepted);
        assert_eq!(
            queue.submit(counting_job(&done, Duration::ZERO)),
            Err(IntakeRefusal::ShuttingDown)
        );
        assert_eq!(queue.pending(), 0);
    }

    #[tokio::test]
    async fn a_drain_that_times_out_reports_the_unfinished_jobs() {
        let done = Arc::new(AtomicUsize::new(0));
        let queue = IntakeQueue::start(8, 1);
        queue
            .submit(counting_job(&done, Duration::from_secs(30)))
            .unwrap();
        queue
            .submit(counting_job(&done, Duration::from_secs(30)))
            .unwrap();
        assert_eq!(queue.drain(Duration::from_millis(100)).await, 2);
        assert_eq!(done.load(Ordering::SeqCst), 0);
    }
}
