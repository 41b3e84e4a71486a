//! Telegram's flood limits for sends and edits, as the Bot FAQ and the maintainers describe them:
//! about one message a second per chat with short bursts, 20 a minute in a group, 30 a second
//! overall. The exact server algorithm is unknown, so this models the documented numbers.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// Per-chat burst size: a bot may send this many messages at once before the 1/s refill matters.
pub const CHAT_BURST: f64 = 3.0;
/// Per-chat refill, tokens per second.
pub const CHAT_RATE_PER_SEC: f64 = 1.0;
/// Messages per rolling minute in a group, supergroup or channel.
pub const GROUP_PER_MINUTE: usize = 20;
/// Messages per rolling second over all chats.
pub const GLOBAL_PER_SECOND: usize = 30;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Sliding-window and token-bucket state for every chat.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    buckets: HashMap<i64, Bucket>,
    group_windows: HashMap<i64, VecDeque<Instant>>,
    global_window: VecDeque<Instant>,
}

fn whole_seconds(wait: Duration) -> u32 {
    let secs = wait.as_secs_f64().ceil() as u32;
    secs.max(1)
}

/// How long until `needed` more entries fit under `cap` in a window of `span`.
fn window_wait(
    window: &VecDeque<Instant>,
    cap: usize,
    needed: usize,
    span: Duration,
    now: Instant,
) -> Option<Duration> {
    let live = window
        .iter()
        .filter(|t| now.duration_since(**t) < span)
        .count();
    if live + needed <= cap {
        return None;
    }
    let must_expire = live + needed - cap;
    let live_times: Vec<&Instant> = window
        .iter()
        .filter(|t| now.duration_since(**t) < span)
        .collect();
    let expiring = live_times
        .get(must_expire - 1)
        .copied()
        .copied()
        .unwrap_or(now);
    Some((expiring + span).saturating_duration_since(now))
}

impl Limiter {
    /// Checks whether `count` messages may go to `chat_id` now; on success they are charged.
    /// On refusal nothing is charged and the error is the `retry_after` in whole seconds.
    ///
    /// An album charges one token per item but needs at most a full burst to start, so a 10-item
    /// album is possible and then delays the chat's next messages.
    pub(crate) fn try_acquire(
        &mut self,
        chat_id: i64,
        is_group: bool,
        count: usize,
    ) -> Result<(), u32> {
        let now = Instant::now();
        let mut wait = Duration::ZERO;

        let bucket = self.buckets.entry(chat_id).or_insert(Bucket {
            tokens: CHAT_BURST,
            at: now,
        });
        let tokens = (bucket.tokens
            + now.duration_since(bucket.at).as_secs_f64() * CHAT_RATE_PER_SEC)
            .min(CHAT_BURST);
        let needed = (count as f64).min(CHAT_BURST);
        // A tiny tolerance keeps float rounding from refusing a call that is exactly on time.
        if tokens + 1e-9 < needed {
            wait = wait.max(Duration::from_secs_f64(
                (needed - tokens) / CHAT_RATE_PER_SEC,
            ));
        }

        if is_group {
            let window = self.group_windows.entry(chat_id).or_default();
            if let Some(w) = window_wait(
                window,
                GROUP_PER_MINUTE,
                count,
                Duration::from_secs(60),
                now,
            ) {
                wait = wait.max(w);
            }
        }
        if let Some(w) = window_wait(
            &self.global_window,
            GLOBAL_PER_SECOND,
            count,
            Duration::from_secs(1),
            now,
        ) {
            wait = wait.max(w);
        }
        if !wait.is_zero() {
            return Err(whole_seconds(wait));
        }

        let bucket = self
            .buckets
            .get_mut(&chat_id)
            .expect("bucket inserted above");
        bucket.tokens = tokens - count as f64;
        bucket.at = now;
        if is_group {
            let window = self.group_windows.entry(chat_id).or_default();
            window.retain(|t| now.duration_since(*t) < Duration::from_secs(60));
            window.extend(std::iter::repeat_n(now, count));
        }
        self.global_window
            .retain(|t| now.duration_since(*t) < Duration::from_secs(1));
        self.global_window.extend(std::iter::repeat_n(now, count));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused_with_retry_after() {
        let mut limiter = Limiter::default();
        for _ in 0..3 {
            limiter.try_acquire(1, false, 1).unwrap();
        }
        assert_eq!(limiter.try_acquire(1, false, 1), Err(1));
        // Other chats are independent.
        limiter.try_acquire(2, true, 1).unwrap();
    }

    #[test]
    fn album_may_exceed_burst_but_then_delays() {
        let mut limiter = Limiter::default();
        limiter.try_acquire(1, true, 10).unwrap();
        // 3 - 10 = -7 tokens: the next message needs 8 s of refill.
        assert_eq!(limiter.try_acquire(1, true, 1), Err(8));
    }

    #[test]
    fn global_limit() {
        let mut limiter = Limiter::default();
        for chat in 0..10 {
            limiter.try_acquire(chat, false, 3).unwrap();
        }
        assert_eq!(limiter.try_acquire(99, false, 1), Err(1));
    }

    #[test]
    fn group_window_counts_items() {
        let mut window = VecDeque::new();
        let now = Instant::now();
        window.extend(std::iter::repeat_n(now, 20));
        let wait = window_wait(&window, 20, 1, Duration::from_secs(60), now).unwrap();
        assert_eq!(whole_seconds(wait), 60);
        assert!(window_wait(&window, 21, 1, Duration::from_secs(60), now).is_none());
    }
}
