//! Every loop runs under a supervisor: a loop that panics, or returns while the daemon is still
//! meant to run (a store read it could not make, say), is logged with its name and reason and
//! started again after a backoff, and `/healthz` reports it until it has run cleanly again. A
//! daemon never stays up with one of its loops silently dead (DESIGN rule 5).
//!
//! A loop that neither ends nor moves (a deadlock, an await that never returns) is caught by its
//! progress: each loop calls [`beat`] as it goes round (and [`quiet_for`] before a wait or a step
//! it knows to be long), which promises its next beat within a budget. A loop past its promise is
//! stalled; `/healthz` says so and the systemd watchdog ([`super::systemd`]) stops being pinged,
//! so systemd restarts the process.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A loop that ran this long before failing starts its backoff from the beginning again.
const STEADY: Duration = Duration::from_secs(60);
/// The longest wait before a failed loop is started again.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// How one loop stands, as `/healthz` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LoopHealth {
    Running,
    /// The loop failed and waits to be started again.
    Restarting {
        reason: String,
        restarts: u32,
    },
}

/// How long a loop may go without a beat by default: longer than any single step of a loop
/// takes when the services it waits on answer or time out (a long poll, a Telegram request, a
/// store flush), by far.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(120);

/// The state of every supervised loop, by name, and the daemon's other signs of life.
#[derive(Debug)]
pub struct Health {
    loops: Mutex<BTreeMap<String, LoopHealth>>,
    progress: Mutex<BTreeMap<String, Arc<Progress>>>,
    /// When each helpdesk last answered a poll, by name.
    polls: Mutex<BTreeMap<String, tokio::time::Instant>>,
    budget: Duration,
    epoch: tokio::time::Instant,
}

impl Default for Health {
    fn default() -> Self {
        Self::with_budget(DEFAULT_BUDGET)
    }
}

/// One loop's promise of its next beat.
#[derive(Debug)]
pub struct Progress {
    /// Milliseconds after [`Health::epoch`] by which the loop beats again.
    deadline: std::sync::atomic::AtomicU64,
    /// The loop ended because the daemon stops: it owes no more beats.
    retired: std::sync::atomic::AtomicBool,
    budget: Duration,
    epoch: tokio::time::Instant,
}

impl Progress {
    /// Promises the next beat within `wait` and the budget from now.
    fn promise(&self, wait: Duration) {
        let at = tokio::time::Instant::now() + wait + self.budget;
        let ms = at.duration_since(self.epoch).as_millis() as u64;
        self.deadline
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// How long past its promise the loop is at `now`, if it is.
    fn overdue(&self, now: tokio::time::Instant) -> Option<Duration> {
        if self.retired.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let deadline = self.epoch
            + Duration::from_millis(self.deadline.load(std::sync::atomic::Ordering::Relaxed));
        (now > deadline).then(|| now - deadline)
    }
}

tokio::task_local! {
    /// The progress of the supervised loop this task runs.
    static CURRENT: Arc<Progress>;
}

/// Says the loop running on this task is moving: its next beat comes within its budget. Does
/// nothing outside a supervised loop.
pub(crate) fn beat() {
    quiet_for(Duration::ZERO);
}

/// Says the loop will be quiet for up to `wait` (a planned sleep, a file transfer) before its
/// next beat, which then comes within its budget.
pub(crate) fn quiet_for(wait: Duration) {
    let _ = CURRENT.try_with(|progress| progress.promise(wait));
}

impl Health {
    /// Loops are stalled after `budget` without a beat (tests shorten it).
    pub fn with_budget(budget: Duration) -> Self {
        Self {
            loops: Mutex::default(),
            progress: Mutex::default(),
            polls: Mutex::default(),
            budget,
            epoch: tokio::time::Instant::now(),
        }
    }

    /// The loops past their promised beat, with how long past.
    pub fn stalled(&self) -> BTreeMap<String, Duration> {
        let now = tokio::time::Instant::now();
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|(name, progress)| Some((name.clone(), progress.overdue(now)?)))
            .collect()
    }

    /// Notes that `helpdesk` answered a poll now.
    pub fn polled(&self, helpdesk: &str) {
        self.polls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(helpdesk.to_owned(), tokio::time::Instant::now());
    }

    /// How long ago `helpdesk` last answered a poll; `None` if it has not since the start.
    pub fn since_poll(&self, helpdesk: &str) -> Option<Duration> {
        self.polls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(helpdesk)
            .map(tokio::time::Instant::elapsed)
    }

    fn progress_of(&self, name: &str) -> Arc<Progress> {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_owned())
            .or_insert_with(|| {
                let progress = Progress {
                    deadline: Default::default(),
                    retired: Default::default(),
                    budget: self.budget,
                    epoch: self.epoch,
                };
                progress.promise(Duration::ZERO);
                Arc::new(progress)
            })
            .clone()
    }

    /// Every loop's state, by name.
    pub fn loops(&self) -> BTreeMap<String, LoopHealth> {
        self.lock().clone()
    }

    /// Whether every loop is running.
    pub fn all_running(&self) -> bool {
        self.lock().values().all(|l| *l == LoopHealth::Running)
    }

    fn set(&self, name: &str, state: LoopHealth) {
        self.lock().insert(name.to_owned(), state);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, LoopHealth>> {
        self.loops.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs `start()` on `tracker` until `cancel` fires, starting it again whenever it panics or
/// returns early.
pub(crate) fn supervise<F, Fut>(
    tracker: &TaskTracker,
    health: Arc<Health>,
    name: String,
    cancel: CancellationToken,
    start: F,
) where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    supervise_with(tracker, health, name, cancel, start, |restarts| {
        super::backoff(restarts.saturating_sub(1)).min(MAX_WAIT)
    });
}

fn supervise_with<F, Fut>(
    tracker: &TaskTracker,
    health: Arc<Health>,
    name: String,
    cancel: CancellationToken,
    start: F,
    backoff: fn(u32) -> Duration,
) where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    health.set(&name, LoopHealth::Running);
    let progress = health.progress_of(&name);
    tracker.spawn(async move {
        let mut restarts: u32 = 0;
        loop {
            let began = Instant::now();
            progress.promise(Duration::ZERO);
            // A task of its own, so a panic ends only this run of the loop and is seen here.
            let outcome = tokio::spawn(CURRENT.scope(progress.clone(), start())).await;
            if cancel.is_cancelled() {
                progress
                    .retired
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                return;
            }
            let reason = match outcome {
                Ok(()) => "it stopped by itself".to_owned(),
                Err(error) if error.is_panic() => {
                    format!("panicked: {}", panic_text(error.into_panic().as_ref()))
                }
                Err(error) => error.to_string(),
            };
            if began.elapsed() >= STEADY {
                restarts = 0;
            }
            restarts = restarts.saturating_add(1);
            let wait = backoff(restarts);
            tracing::error!(
                loop_name = %name,
                %reason,
                restarts,
                retry_in = ?wait,
                "A daemon loop stopped; starting it again."
            );
            health.set(&name, LoopHealth::Restarting { reason, restarts });
            progress.promise(wait);
            tokio::select! {
                _ = cancel.cancelled() => {
                    progress.retired.store(true, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
                _ = tokio::time::sleep(wait) => {}
            }
            health.set(&name, LoopHealth::Running);
        }
    });
}

/// The message a panic was raised with.
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_loop_that_panics_or_returns_is_started_again_and_reported_meanwhile() {
        let tracker = TaskTracker::new();
        let health = Arc::new(Health::default());
        let cancel = CancellationToken::new();
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let stop = cancel.clone();
        supervise(
            &tracker,
            health.clone(),
            "intake".into(),
            cancel.clone(),
            move || {
                let run = counter.fetch_add(1, Ordering::SeqCst);
                let stop = stop.clone();
                async move {
                    match run {
                        0 => panic!("store record inbox/7 is unreadable"),
                        1 => {}
                        _ => stop.cancelled().await,
                    }
                }
            },
        );
        tracker.close();
        until("the panic to be reported", || !health.all_running()).await;
        match &health.loops()["intake"] {
            LoopHealth::Restarting { reason, restarts } => {
                assert!(reason.contains("inbox/7 is unreadable"), "{reason}");
                assert_eq!(*restarts, 1);
            }
            other => panic!("{other:?}"),
        }
        until("the third run", || runs.load(Ordering::SeqCst) >= 3).await;
        assert!(health.all_running());
        cancel.cancel();
        tokio::time::timeout(Duration::from_secs(5), tracker.wait())
            .await
            .expect("the supervisor stops with the daemon");
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }
}
