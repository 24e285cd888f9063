//! The acknowledgement rule, host side: the bounded work queue and the workers that run the jobs
//! of acknowledged events ([`Workers`]).
//!
//! A connector acknowledges an event only once a place in the queue was taken for it (and, for
//! stored events, its row was written: see [`crate::core::turn::inbox`]). Workers run the queued
//! jobs. On shutdown the queue stops taking jobs (connectors answer 503 and the platform retries)
//! and [`Workers::drain`] waits, for a bounded time, until every acknowledged job has run.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Mutex, Notify};
use whisperengine_contract::{Inbox, InboxEntry, InboxJob, InboxRefusal, JobFuture};

/// Gauge: jobs queued or running.
pub const DEPTH_METRIC: &str = "whisperengine_intake_depth";
/// Counter: jobs refused, labelled `reason` (`full`, `shutting_down`).
pub const REFUSED_METRIC: &str = "whisperengine_intake_refused_total";

/// The bounded work queue of acknowledged events and its workers; cheap to share behind an `Arc`.
pub struct Workers {
    sender: mpsc::Sender<JobFuture>,
    /// Queued plus running jobs; incremented before the `accepting` check (see [`Inbox::submit`]).
    pending: Arc<AtomicUsize>,
    accepting: AtomicBool,
    /// Signalled whenever a job finishes.
    finished: Arc<Notify>,
}

impl Workers {
    /// Starts `workers` tasks running jobs from a queue of `capacity` jobs.
    pub fn start(capacity: usize, workers: usize) -> Arc<Workers> {
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
                        tracing::error!(%error, "a job failed");
                    }
                    let left = pending.fetch_sub(1, Ordering::SeqCst) - 1;
                    metrics::gauge!(DEPTH_METRIC).set(left as f64);
                    finished.notify_waiters();
                }
            });
        }
        Arc::new(Workers {
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

    /// Stops taking jobs: from now on [`Inbox::submit`] answers `ShuttingDown`.
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

impl Workers {
    /// Holds a place for one job, or refuses at once when full or shutting down. The place is
    /// counted as pending (a drain waits for it) until the job it takes has run, or until the
    /// reservation is dropped unused.
    pub fn reserve(&self) -> std::result::Result<Slot, InboxRefusal> {
        // Counted before the check: a drain that has seen `accepting` turn false either sees this
        // job in `pending` or this call sees `accepting` false and refuses.
        self.pending.fetch_add(1, Ordering::SeqCst);
        let permit = if !self.is_accepting() {
            Err(InboxRefusal::ShuttingDown)
        } else {
            match self.sender.clone().try_reserve_owned() {
                Ok(permit) => Ok(permit),
                Err(mpsc::error::TrySendError::Full(_)) => Err(InboxRefusal::Full),
                Err(mpsc::error::TrySendError::Closed(_)) => Err(InboxRefusal::ShuttingDown),
            }
        };
        match permit {
            Ok(permit) => {
                metrics::gauge!(DEPTH_METRIC).set(self.pending() as f64);
                Ok(Slot {
                    permit: Some(permit),
                    pending: self.pending.clone(),
                    finished: self.finished.clone(),
                })
            }
            Err(refusal) => {
                self.pending.fetch_sub(1, Ordering::SeqCst);
                self.finished.notify_waiters();
                let reason = match refusal {
                    InboxRefusal::Full => "full",
                    InboxRefusal::ShuttingDown => "shutting_down",
                };
                metrics::counter!(REFUSED_METRIC, "reason" => reason).increment(1);
                Err(refusal)
            }
        }
    }
}

/// A place held in the queue ([`Workers::reserve`]).
pub struct Slot {
    permit: Option<mpsc::OwnedPermit<JobFuture>>,
    pending: Arc<AtomicUsize>,
    finished: Arc<Notify>,
}

impl Slot {
    /// Queues `work` in the held place.
    pub fn run(mut self, work: JobFuture) {
        if let Some(permit) = self.permit.take() {
            permit.send(work);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.permit.take().is_some() {
            // Given back unused: no job will run in this place.
            self.pending.fetch_sub(1, Ordering::SeqCst);
            self.finished.notify_waiters();
        }
    }
}

/// Without a durable store (tests, and the bench's in-process runs) the work queue is the inbox:
/// every job runs in memory only.
impl Inbox for Workers {
    fn submit(&self, job: InboxJob) -> std::result::Result<(), InboxRefusal> {
        self.reserve()?.run(job(None::<InboxEntry>));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn counting_job(done: &Arc<AtomicUsize>, wait: Duration) -> InboxJob {
        let done = done.clone();
        whisperengine_contract::job_without_entry(async move {
            tokio::time::sleep(wait).await;
            done.fetch_add(1, Ordering::SeqCst);
        })
    }

    // The clock is paused: the jobs' sleeps and the drain's deadline pass in virtual time.
    #[tokio::test(start_paused = true)]
    async fn a_full_queue_refuses_and_a_drain_runs_every_accepted_job() {
        let done = Arc::new(AtomicUsize::new(0));
        let queue = Workers::start(4, 1);
        let mut accepted = 0;
        let mut refused = 0;
        for _ in 0..10 {
            match queue.submit(counting_job(&done, Duration::from_millis(20))) {
                Ok(()) => accepted += 1,
                Err(refusal) => {
                    assert_eq!(refusal, InboxRefusal::Full);
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
            Err(InboxRefusal::ShuttingDown)
        );
        assert_eq!(queue.pending(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_that_times_out_reports_the_unfinished_jobs() {
        let done = Arc::new(AtomicUsize::new(0));
        let queue = Workers::start(8, 1);
        queue
            .submit(counting_job(&done, Duration::from_secs(30)))
            .unwrap();
        queue
            .submit(counting_job(&done, Duration::from_secs(30)))
            .unwrap();
        let started = tokio::time::Instant::now();
        assert_eq!(queue.drain(Duration::from_millis(100)).await, 2);
        assert_eq!(
            started.elapsed(),
            Duration::from_millis(100),
            "gave up at the deadline"
        );
        assert_eq!(done.load(Ordering::SeqCst), 0);
    }
}
