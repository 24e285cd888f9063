//! [`InFlight`]: the events (and late messages) being handled, so shutdown can wait for them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Counts events being handled, so shutdown can wait for them.
#[derive(Default)]
pub struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// Held while one event is handled.
pub struct InFlightGuard(Arc<InFlight>);

impl InFlight {
    /// Marks one more event as being handled until the guard drops.
    pub fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.clone())
    }

    /// Waits until no event is being handled, or `grace` has passed; true when idle.
    pub async fn wait_idle(&self, grace: Duration) -> bool {
        tokio::time::timeout(grace, async {
            loop {
                let notified = self.idle.notified();
                if self.count.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        })
        .await
        .is_ok()
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_waits_for_events_in_progress_but_not_beyond_the_grace() {
        let in_flight = Arc::new(InFlight::default());
        assert!(
            in_flight.wait_idle(Duration::from_millis(10)).await,
            "idle at once"
        );
        let guard = in_flight.enter();
        assert!(
            !in_flight.wait_idle(Duration::from_millis(50)).await,
            "busy"
        );
        let waiter = tokio::spawn({
            let in_flight = in_flight.clone();
            async move { in_flight.wait_idle(Duration::from_secs(5)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(guard);
        assert!(waiter.await.unwrap(), "idle once the event finished");
    }
}
