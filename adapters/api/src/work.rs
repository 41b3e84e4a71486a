//! Whose work an adapter call is, and what it may have written: told by the daemon around a
//! call, read by the shared HTTP plumbing inside it.
//!
//! The daemon runs a client's write (a ticket, a comment, a rating) inside [`client_work`]. Every
//! request the adapter sends for it, lookups included, then gets [`Priority::Client`] at the
//! pacer, and every write request that may have reached the helpdesk is noted, so that the daemon
//! knows whether a retry must look for an earlier write ([`WriteTrace::may_have_written`]) or can
//! simply write (a 429 or any other refusal means the helpdesk wrote nothing). Outside a scope a
//! request's priority follows its method: reads are background work, writes are a client's.

use crate::Priority;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

tokio::task_local! {
    static WORK: Work;
}

#[derive(Clone, Debug)]
struct Work {
    priority: Priority,
    wrote: Arc<AtomicBool>,
    /// Set once a request of the call has passed the pacer ([`background_work`]).
    sent: Option<Arc<AtomicBool>>,
}

/// What [`client_work`] saw its call send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteTrace {
    /// A write request (not `GET`/`HEAD`) was sent and answered with success, or its answer was
    /// lost (a timeout, a dropped connection, a 5xx): the helpdesk may hold what it asked for. A
    /// write the helpdesk refused (any 4xx, 429 included) or that never connected does not
    /// count.
    pub may_have_written: bool,
}

/// Runs `call` as a client's work: its requests go ahead of background work at the pacer. Returns
/// what `call` returned, and whether any write it sent may have reached the helpdesk.
pub async fn client_work<F>(call: F) -> (F::Output, WriteTrace)
where
    F: Future,
{
    let wrote = Arc::new(AtomicBool::new(false));
    let work = Work {
        priority: Priority::Client,
        wrote: wrote.clone(),
        sent: None,
    };
    let output = WORK.scope(work, call).await;
    let trace = WriteTrace {
        may_have_written: wrote.load(Ordering::SeqCst),
    };
    (output, trace)
}

/// Runs `call` as background work (its requests wait behind a client's at the pacer) and sets
/// `sent` once any of its requests has passed the pacer on its way to the helpdesk. Until then
/// the call has spent nothing of the helpdesk's limit, so dropping it wastes nothing: the daemon
/// stops a refresh still waiting at the pacer when a client's write for the same ticket comes,
/// and lets one that has sent its read finish.
pub async fn background_work<F>(sent: Arc<AtomicBool>, call: F) -> F::Output
where
    F: Future,
{
    let work = Work {
        priority: Priority::Background,
        wrote: Arc::new(AtomicBool::new(false)),
        sent: Some(sent),
    };
    WORK.scope(work, call).await
}

/// Notes that a request of the current call passed the pacer (see [`background_work`]).
pub fn note_sent() {
    let _ = WORK.try_with(|work| {
        if let Some(sent) = &work.sent {
            sent.store(true, Ordering::SeqCst);
        }
    });
}

/// The priority the current call was given by [`client_work`] or [`background_work`], if any.
pub fn current_priority() -> Option<Priority> {
    WORK.try_with(|work| work.priority).ok()
}

/// Notes that a write request of the current call may have reached the helpdesk.
pub fn note_possible_write() {
    let _ = WORK.try_with(|work| work.wrote.store(true, Ordering::SeqCst));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scope_gives_its_priority_and_collects_writes() {
        assert_eq!(current_priority(), None);
        note_possible_write();
        let (priority, trace) = client_work(async { current_priority() }).await;
        assert_eq!(priority, Some(Priority::Client));
        assert!(!trace.may_have_written);
        let ((), trace) = client_work(async {
            tokio::task::yield_now().await;
            note_possible_write();
        })
        .await;
        assert!(trace.may_have_written);
    }

    #[tokio::test]
    async fn background_work_tells_when_a_request_passed_the_pacer() {
        note_sent();
        let sent = Arc::new(AtomicBool::new(false));
        let priority = background_work(sent.clone(), async { current_priority() }).await;
        assert_eq!(priority, Some(Priority::Background));
        assert!(!sent.load(Ordering::SeqCst));
        background_work(sent.clone(), async {
            tokio::task::yield_now().await;
            note_sent();
        })
        .await;
        assert!(sent.load(Ordering::SeqCst));
        let (_, trace) = client_work(async { note_sent() }).await;
        assert!(!trace.may_have_written, "a client's send is no write");
    }
}
