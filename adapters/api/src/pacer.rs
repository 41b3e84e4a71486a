//! Client-side pacing of requests to a helpdesk, and reading the waits servers ask for.

use std::sync::Mutex;
use std::time::Duration;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};
use tokio::time::Instant;

/// How long everyone waits after a 429 that names no time: long enough for a per-second limit to
/// roll over, short enough not to stall a chat.
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(1);

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

    /// After an answer with HTTP `status`, holds every caller back when it is 429: for the
    /// server's `Retry-After` (see [`parse_retry_after`]), or a second when it named no time.
    /// Other statuses leave the pacer alone.
    pub fn hold_if_rate_limited(&self, status: u16, retry_after: Option<Duration>) {
        if status == 429 {
            self.hold_for(retry_after.unwrap_or(DEFAULT_RATE_LIMIT_WAIT));
        }
    }
}

/// The wait a `Retry-After` header value asks for: delta-seconds (`"120"`) or an HTTP-date
/// (`"Sun, 06 Nov 1994 08:49:37 GMT"`) counted from `now`, a date already past meaning no wait.
/// `None` for a value that is neither.
pub fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let http_date = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = PrimitiveDateTime::parse(value, http_date)
        .ok()?
        .assume_utc();
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
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

    #[tokio::test(start_paused = true)]
    async fn only_a_429_holds() {
        let pacer = RequestPacer::new(1000.0);
        let start = Instant::now();
        pacer.hold_if_rate_limited(503, Some(Duration::from_secs(30)));
        pacer.ready().await;
        assert!(start.elapsed() < Duration::from_millis(10));
        pacer.hold_if_rate_limited(429, None);
        pacer.ready().await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        pacer.hold_if_rate_limited(429, Some(Duration::from_secs(5)));
        pacer.ready().await;
        assert_eq!(start.elapsed(), Duration::from_secs(6));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = time::macros::datetime!(2026-11-21 12:00:00 UTC);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sat, 21 Nov 2026 12:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Sat, 21 Nov 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in ["", "soon", "-1", "1.5", "2026-11-21T12:01:30Z"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }
}
