//! The store's watchdog. When a write or flush fails (a full disk, an I/O error) every loop stops
//! taking new work; this loop opens the store again as soon as the disk takes writes, and work
//! resumes by itself. Opening again is a new boot: what had not reached the disk is gone as in a
//! crash, and jobs of the old boot look for their earlier writes before repeating them. If the
//! store cannot be opened for [`GIVE_UP`], the daemon ends with an error so systemd starts it
//! afresh (`Restart=on-failure`).

use super::Context;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How often a failed store is tried again.
const RETRY: Duration = Duration::from_millis(500);
/// After this long without a working store the process gives up and exits non-zero.
const GIVE_UP: Duration = Duration::from_secs(15 * 60);

pub(crate) async fn run(ctx: Arc<Context>, cancel: CancellationToken) {
    let mut failing_since: Option<Instant> = None;
    loop {
        super::supervisor::quiet_for(RETRY);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(RETRY) => {}
        }
        if ctx.store.failure().is_none() {
            failing_since = None;
            continue;
        }
        let since = *failing_since.get_or_insert_with(Instant::now);
        match ctx.store.recover() {
            Ok(()) => {
                failing_since = None;
                // Everything paused on the store goes on now.
                ctx.signals.inbox.notify_one();
                ctx.signals.jobs.notify_one();
                ctx.signals.sends.notify_one();
            }
            Err(error) if since.elapsed() >= GIVE_UP => {
                tracing::error!(%error, "The store has not worked for {GIVE_UP:?}; exiting so the service manager starts teledesk afresh.");
                ctx.fatal.cancel();
                return;
            }
            Err(error) => tracing::debug!(%error, "The store cannot be opened again yet."),
        }
    }
}

/// Whether a loop must wait instead of taking new work: the store failed and is not open again
/// yet. Waits a little (or until `cancel`) before answering `true`, so callers can just retry.
pub(crate) async fn paused(ctx: &Context, cancel: &CancellationToken) -> bool {
    super::supervisor::beat();
    if ctx.store.failure().is_none() {
        return false;
    }
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = tokio::time::sleep(RETRY) => {}
    }
    true
}
