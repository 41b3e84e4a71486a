//! The least time any client could take under the limits the fakes enforce: the baselines the
//! outbound figures are divided by.

use std::collections::VecDeque;
use std::time::Duration;
use teledesk_testkit::telegram::limits::{
    CHAT_BURST, CHAT_RATE_PER_SEC, GLOBAL_PER_SECOND, GROUP_PER_MINUTE,
};

/// When the last of `per_chat[i]` messages (sends or edits) to each of `per_chat.len()` groups
/// can go out at the earliest under the fake Telegram's limits (per-chat bucket of
/// [`CHAT_BURST`] refilled at [`CHAT_RATE_PER_SEC`], [`GROUP_PER_MINUTE`] per group,
/// [`GLOBAL_PER_SECOND`] overall), all of them queued at time zero. A 10 ms step simulation that
/// serves the chat with the most left first, which is optimal for these limits.
pub fn telegram(per_chat: &[usize]) -> Duration {
    const STEP: f64 = 0.01;
    let mut left: Vec<usize> = per_chat.to_vec();
    let mut tokens = vec![CHAT_BURST; left.len()];
    let mut group: Vec<VecDeque<f64>> = vec![VecDeque::new(); left.len()];
    let mut global: VecDeque<f64> = VecDeque::new();
    let mut last = 0.0;
    let mut t = 0.0;
    let mut order: Vec<usize> = (0..left.len()).collect();
    while left.iter().any(|n| *n > 0) {
        while global.front().is_some_and(|s| t - s >= 1.0 - 1e-9) {
            global.pop_front();
        }
        order.sort_by_key(|i| std::cmp::Reverse(left[*i]));
        for &i in &order {
            tokens[i] = (tokens[i] + STEP * CHAT_RATE_PER_SEC).min(CHAT_BURST);
            let window = &mut group[i];
            while window.front().is_some_and(|s| t - s >= 60.0 - 1e-9) {
                window.pop_front();
            }
            while left[i] > 0
                && tokens[i] >= 1.0 - 1e-9
                && window.len() < GROUP_PER_MINUTE
                && global.len() < GLOBAL_PER_SECOND
            {
                left[i] -= 1;
                tokens[i] -= 1.0;
                window.push_back(t);
                global.push_back(t);
                last = t;
            }
        }
        t += STEP;
    }
    Duration::from_secs_f64(last)
}

/// `requests` at `per_second`, the first second's worth at once (a rolling-second limit).
pub fn helpdesk(requests: usize, per_second: f64) -> Duration {
    Duration::from_secs_f64(requests.saturating_sub(per_second as usize) as f64 / per_second)
}

/// The floors' own sanity, checked at every start of the benchmark (a bench target has no test
/// harness): a burst of three and then one a second; twenty a minute per group; thirty a second
/// overall; a rolling second's worth at once.
pub fn self_check() {
    let close = |d: Duration, secs: f64| (d.as_secs_f64() - secs).abs() < 0.05;
    assert!(close(telegram(&[5]), 2.0), "{:?}", telegram(&[5]));
    assert!(telegram(&[21]).as_secs_f64() >= 60.0);
    assert!(close(telegram(&[1; 61]), 2.0), "{:?}", telegram(&[1; 61]));
    assert_eq!(helpdesk(10, 5.0), Duration::from_secs(1));
}
