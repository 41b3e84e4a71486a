//! Waiting on conditions instead of sleeping.

use std::time::Duration;
use tokio::sync::watch;

/// A change counter a fake bumps on every state change; tests wait on it.
#[derive(Clone, Debug)]
pub struct Changes {
    sender: watch::Sender<u64>,
}

impl Default for Changes {
    fn default() -> Self {
        Self::new()
    }
}

impl Changes {
    /// A new counter.
    pub fn new() -> Self {
        Self {
            sender: watch::channel(0).0,
        }
    }

    /// Records that the state changed and wakes every waiter.
    pub fn bump(&self) {
        self.sender.send_modify(|n| *n += 1);
    }

    /// Re-evaluates `check` after every change until it returns `Some`, or panics after `timeout`
    /// naming `what` was awaited.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut() -> Option<T>,
    ) -> T {
        let mut receiver = self.sender.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            receiver.borrow_and_update();
            if let Some(value) = check() {
                return value;
            }
            // Re-check at least every 200 ms: some conditions depend on time, not on a change.
            let tick = tokio::time::Instant::now() + Duration::from_millis(200);
            let wake = deadline.min(tick);
            let _ = tokio::time::timeout_at(wake, receiver.changed()).await;
            if tokio::time::Instant::now() >= deadline {
                if let Some(value) = check() {
                    return value;
                }
                panic!("timed out after {timeout:?} waiting for {what}");
            }
        }
    }
}
