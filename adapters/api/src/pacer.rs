//! Client-side pacing of requests to a helpdesk, and reading the waits servers ask for.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};
use tokio::time::Instant;

/// How long everyone waits after a 429 that names no time: long enough for a per-second limit to
/// roll over, short enough not to stall a chat.
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(1);

/// Whose request it is, which decides who goes first when the rate limit is the bottleneck.
///
/// A client waiting for their comment to reach the helpdesk goes ahead of the daemon re-reading
/// tickets in the background: see [`RequestPacer`] for how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Priority {
    /// Work a person waits for: a client's ticket or comment, with every request it takes
    /// (lookups included).
    Client,
    /// Work nobody waits for at this moment: polling for changes, re-reading changed tickets.
    Background,
}

/// Keeps requests under a vendor's rate limit with the burst the limit allows, puts client work
/// ahead of background work, and holds everyone back after a 429.
///
/// The limit is `burst` requests in any window of `burst / per_second` seconds (a sliding log of
/// the last `burst` send times): an idle helpdesk takes `burst` requests at once, a busy one gets
/// `per_second` on average, and no window of that length ever holds more than `burst`, whether the
/// server counts in a rolling window or in fixed ones. With `burst = 1` requests are spaced
/// `1 / per_second` apart.
///
/// [`Priority::Client`] requests reserve the next free slot in arrival order and sleep until it.
/// [`Priority::Background`] requests reserve nothing: they go only when a slot is free now with
/// one more left over for a client (when `burst > 1`) and no client is waiting, and otherwise
/// sleep and look again, so a client request arriving behind a backlog of background reads goes
/// first. The price: background work alone gets `burst - 1` of every `burst` slots (Kaiten: 4 of
/// 5), since the last one of each window waits for a client. [`RequestPacer::hold_for`] pushes
/// every slot past the server's `Retry-After`. An [unlimited](RequestPacer::unlimited) pacer
/// only does the latter. Shared by
/// all tasks of an adapter (and by every adapter with the same credential, see
/// `HttpClient::pace_with_credential`).
#[derive(Debug)]
pub struct RequestPacer {
    /// No client-side limit: only the server's holds apply.
    unlimited: bool,
    /// The window `burst` requests may share.
    window: Duration,
    burst: usize,
    /// Slots background work leaves free for clients.
    reserve: usize,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Send times of the last `burst` requests, oldest first; a client's reservation may lie in
    /// the future.
    sent: VecDeque<Instant>,
    /// Nobody sends before this (the server asked us to wait).
    hold_until: Instant,
}

impl RequestPacer {
    /// A pacer allowing `per_second` requests per second (at least one per minute), one at a
    /// time: requests are spaced `1 / per_second` apart.
    pub fn new(per_second: f64) -> Self {
        Self::with_burst(per_second, 1)
    }

    /// A pacer allowing `per_second` requests per second on average and up to `burst` at once
    /// (the bucket's size; at least 1). An infinite `per_second` (a self-hosted helpdesk's
    /// `requests_per_second = "unlimited"`) makes it [unlimited](RequestPacer::unlimited),
    /// whatever `burst` says.
    pub fn with_burst(per_second: f64, burst: u32) -> Self {
        if per_second == f64::INFINITY {
            return Self::unlimited();
        }
        let per_second = per_second.max(1.0 / 60.0);
        let burst = burst.max(1) as usize;
        Self {
            unlimited: false,
            window: Duration::from_secs_f64(burst as f64 / per_second),
            burst,
            reserve: usize::from(burst > 1),
            state: Mutex::new(State {
                sent: VecDeque::with_capacity(burst),
                hold_until: Instant::now(),
            }),
        }
    }

    /// A pacer that lets every request go at once: for a self-hosted helpdesk whose admin lifted
    /// the client-side limit, where how much is sent at once is bounded by how many tickets the
    /// daemon works on. A 429 still holds everyone for its `Retry-After`, and a used-up quota
    /// reported by the server (`X-RateLimit-Remaining: 0`) until its reset.
    pub fn unlimited() -> Self {
        Self {
            unlimited: true,
            window: Duration::ZERO,
            burst: usize::MAX,
            reserve: 0,
            state: Mutex::new(State {
                sent: VecDeque::new(),
                hold_until: Instant::now(),
            }),
        }
    }

    /// How many requests may go at once (`u32::MAX` when [unlimited](RequestPacer::unlimited)).
    pub fn burst(&self) -> u32 {
        u32::try_from(self.burst).unwrap_or(u32::MAX)
    }

    /// Whether this pacer sets no limit of its own.
    pub fn is_unlimited(&self) -> bool {
        self.unlimited
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a client's slot (see [`RequestPacer::ready_as`]).
    pub async fn ready(&self) {
        self.ready_as(Priority::Client).await;
    }

    /// Waits until a request of `priority` may be sent, and counts it as sent then.
    pub async fn ready_as(&self, priority: Priority) {
        if self.unlimited {
            // Nothing to count: only a hold the server asked for delays anyone.
            let hold_until = self.state().hold_until;
            tokio::time::sleep_until(hold_until).await;
            return;
        }
        match priority {
            Priority::Client => {
                let slot = {
                    let mut state = self.state();
                    let now = Instant::now();
                    let mut slot = now.max(state.hold_until);
                    if let Some(last) = state.sent.back() {
                        slot = slot.max(*last);
                    }
                    if state.sent.len() >= self.burst
                        && let Some(oldest) = state.sent.pop_front()
                    {
                        slot = slot.max(oldest + self.window);
                    }
                    state.sent.push_back(slot);
                    slot
                };
                tokio::time::sleep_until(slot).await;
            }
            Priority::Background => loop {
                let wait = {
                    let mut state = self.state();
                    let now = Instant::now();
                    let mut at = now.max(state.hold_until);
                    // A client's reservation still ahead: it goes first.
                    if let Some(last) = state.sent.back() {
                        at = at.max(*last);
                    }
                    // Taking a slot must leave `reserve` free within the window.
                    let allowed = self.burst - self.reserve;
                    if state.sent.len() >= allowed {
                        let bound = state.sent[state.sent.len() - allowed];
                        at = at.max(bound + self.window);
                    }
                    if at <= now {
                        state.sent.push_back(now);
                        if state.sent.len() > self.burst {
                            state.sent.pop_front();
                        }
                        return;
                    }
                    at
                };
                tokio::time::sleep_until(wait).await;
            },
        }
    }

    /// How many requests could go right now by this pacer's own count.
    fn free_now(&self, state: &State) -> usize {
        let now = Instant::now();
        if state.hold_until > now {
            return 0;
        }
        if self.unlimited {
            return usize::MAX;
        }
        let in_window = state
            .sent
            .iter()
            .filter(|at| **at + self.window > now)
            .count();
        self.burst.saturating_sub(in_window)
    }

    /// Holds every caller back for `wait` (the server's `Retry-After`).
    pub fn hold_for(&self, wait: Duration) {
        let mut state = self.state();
        let until = Instant::now() + wait;
        if state.hold_until < until {
            state.hold_until = until;
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

    /// The server says the quota is used up (`X-RateLimit-Remaining: 0`) until `wait` has
    /// passed. Holds every caller back for `wait` only when this pacer's own count says requests
    /// are still free, i.e. when someone else spends the same quota: the pacer's own last request
    /// of a window uses it up as planned, and waiting for the server's reset (whole seconds,
    /// rounded up) would then only lose time.
    pub fn hold_if_exhausted(&self, wait: Duration) {
        let mut state = self.state();
        if self.free_now(&state) > 0 {
            let until = Instant::now() + wait;
            if state.hold_until < until {
                state.hold_until = until;
            }
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
    use std::sync::Arc;

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
    async fn a_burst_goes_at_once_and_no_window_holds_more() {
        let pacer = RequestPacer::with_burst(5.0, 5);
        let start = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..12 {
            pacer.ready().await;
            sent.push(start.elapsed());
        }
        assert!(sent[..5].iter().all(|at| at.is_zero()), "{sent:?}");
        assert_eq!(sent[5], Duration::from_secs(1));
        assert_eq!(sent[10], Duration::from_secs(2));
        for (i, at) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .filter(|later| **later < *at + Duration::from_secs(1))
                .count();
            assert!(
                in_window <= 5,
                "{in_window} requests within a second of {at:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn background_work_leaves_a_slot_for_a_client() {
        let pacer = RequestPacer::with_burst(5.0, 5);
        let start = Instant::now();
        for _ in 0..4 {
            pacer.ready_as(Priority::Background).await;
        }
        assert!(start.elapsed().is_zero());
        // The fifth slot is a client's: a client goes at once, more background work waits.
        pacer.ready_as(Priority::Client).await;
        assert!(start.elapsed().is_zero());
        pacer.ready_as(Priority::Background).await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_goes_ahead_of_waiting_background_work() {
        let pacer = Arc::new(RequestPacer::with_burst(5.0, 5));
        let start = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Twenty background reads queue up; the bucket lets four through at once.
        for i in 0..20 {
            let (pacer, order) = (pacer.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                pacer.ready_as(Priority::Background).await;
                order
                    .lock()
                    .expect("order")
                    .push((format!("read {i}"), start.elapsed()));
            }));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        pacer.ready_as(Priority::Client).await;
        let client_at = start.elapsed();
        for task in tasks {
            task.await.expect("a read");
        }
        let order = order.lock().expect("order").clone();
        let reads_before = order.iter().filter(|(_, at)| *at <= client_at).count();
        assert_eq!(
            client_at,
            Duration::from_millis(10),
            "the client waited behind background reads: {order:?}"
        );
        assert_eq!(reads_before, 4, "{order:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn holds_after_retry_after() {
        let pacer = RequestPacer::new(5.0);
        let start = Instant::now();
        pacer.hold_for(Duration::from_secs(3));
        pacer.ready().await;
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        pacer.hold_for(Duration::from_secs(1));
        pacer.ready_as(Priority::Background).await;
        assert_eq!(start.elapsed(), Duration::from_secs(4));
    }

    #[tokio::test(start_paused = true)]
    async fn a_used_up_quota_holds_only_when_someone_else_used_it() {
        let pacer = RequestPacer::with_burst(5.0, 5);
        let start = Instant::now();
        for _ in 0..5 {
            pacer.ready().await;
        }
        // Our own fifth request used the quota up: the window's end is waited for anyway.
        pacer.hold_if_exhausted(Duration::from_secs(3));
        pacer.ready().await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        // Now four are free by our count; a server saying none are means another client.
        pacer.hold_if_exhausted(Duration::from_secs(3));
        pacer.ready().await;
        assert_eq!(start.elapsed(), Duration::from_secs(4));
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

    #[tokio::test(start_paused = true)]
    async fn an_unlimited_pacer_holds_only_when_the_server_asks() {
        for pacer in [
            RequestPacer::unlimited(),
            RequestPacer::with_burst(f64::INFINITY, 1),
        ] {
            assert!(pacer.is_unlimited());
            let start = Instant::now();
            for _ in 0..10_000 {
                pacer.ready().await;
                pacer.ready_as(Priority::Background).await;
            }
            assert!(start.elapsed().is_zero());
            assert!(
                pacer.state().sent.is_empty(),
                "an unlimited pacer keeps no log"
            );
            pacer.hold_if_rate_limited(429, Some(Duration::from_secs(2)));
            pacer.ready_as(Priority::Background).await;
            assert_eq!(start.elapsed(), Duration::from_secs(2));
            // The server says its quota is used up: someone else spends it, since we set none.
            pacer.hold_if_exhausted(Duration::from_secs(1));
            pacer.ready().await;
            assert_eq!(start.elapsed(), Duration::from_secs(3));
        }
        assert!(!RequestPacer::with_burst(1e9, 5).is_unlimited());
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
