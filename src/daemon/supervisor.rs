//! Every loop runs under a supervisor: a loop that panics, or returns while the daemon is still
//! meant to run (a store read it could not make, say), is logged with its name and reason and
//! started again after a backoff, and `/healthz` reports it until it has run cleanly again. A
//! daemon never stays up with one of its loops silently dead (DESIGN rule 5).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
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

/// The state of every supervised loop, by name.
#[derive(Debug, Default)]
pub struct Health {
    loops: Mutex<BTreeMap<String, LoopHealth>>,
}

impl Health {
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
    health: std::sync::Arc<Health>,
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
    health: std::sync::Arc<Health>,
    name: String,
    cancel: CancellationToken,
    start: F,
    backoff: fn(u32) -> Duration,
) where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    health.set(&name, LoopHealth::Running);
    tracker.spawn(async move {
        let mut restarts: u32 = 0;
        loop {
            let began = Instant::now();
            // A task of its own, so a panic ends only this run of the loop and is seen here.
            let outcome = tokio::spawn(start()).await;
            if cancel.is_cancelled() {
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
            tokio::select! {
                _ = cancel.cancelled() => return,
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
