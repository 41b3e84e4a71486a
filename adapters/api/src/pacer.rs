//! Client-side pacing of requests to a helpdesk.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Spaces requests to stay under a vendor's rate limit, and holds everyone back after a 429.
///
/// Each call to [`RequestPacer::ready`] reserves the next free slot (`1 / rate` apart) and sleeps
/// until it; [`RequestPacer::hold_for`] pushes the next slot past the server's `Retry-After`. Shared
/// by all tasks of an adapter (`&self`), fair in arrival order.
#[derive(Debug)]
pub struct RequestPacer {
    interval: Duration,
    next_slot: Mutex<Instant>,
}

impl RequestPacer {
    /// A pacer allowing `per_second` requests per second (at least one per minute).
    pub fn new(per_second: f64) -> Self {
        let per_second = per_second.max(1.0 / 60.0);
        Self {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this caller's slot.
    pub async fn ready(&self) {
        let slot = {
            let mut next = self.next_slot.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Holds every caller back for `wait` (the server's `Retry-After`).
    pub fn hold_for(&self, wait: Duration) {
        let mut next = self.next_slot.lock().unwrap_or_else(|e| e.into_inner());
        let until = Instant::now() + wait;
        if *next < until {
            *next = until;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_requests() {
        let pacer = RequestPacer::new(5.0);
        let start = Instant::now();
        for _ in 0..6 {
            pacer.ready().await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(1000));
    }

    #[tokio::test(start_paused = true)]
    async fn holds_after_retry_after() {
        let pacer = RequestPacer::new(5.0);
        let start = Instant::now();
        pacer.hold_for(Duration::from_secs(3));
        pacer.ready().await;
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }
}
