//! What every fake server does alike: it serves its router on a loopback port, and its handle
//! shares one locked world with the HTTP handlers.

use crate::wait::Changes;
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Binds `127.0.0.1:0`, makes the fake's handle for the bound address with `fake_at`, and serves
/// the router that `router` builds from a clone of the handle. The server runs on a task of the
/// current Tokio runtime until the runtime shuts down. `name` appears in the bind panic and in
/// the log line written if the server stops.
pub(crate) async fn serve_on_loopback<F>(
    name: &'static str,
    fake_at: impl FnOnce(SocketAddr) -> F,
    router: impl FnOnce(F) -> Router,
) -> F
where
    F: Clone,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind a loopback port for {name}: {e:?}"));
    let addr = listener.local_addr().expect("a bound address");
    let fake = fake_at(addr);
    let app = router(fake.clone());
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "{name} stopped.");
        }
    });
    fake
}

/// What a fake helpdesk's handle shares with its HTTP handlers: the modelled world `W`, the change
/// counter that tests wait on, and the address the fake serves on.
pub(crate) struct FakeState<W> {
    world: Mutex<W>,
    changes: Changes,
    addr: SocketAddr,
}

impl<W> FakeState<W> {
    /// The state of a fake serving on `addr`, starting with `world`.
    pub(crate) fn new(world: W, addr: SocketAddr) -> Self {
        Self {
            world: Mutex::new(world),
            changes: Changes::new(),
            addr,
        }
    }

    /// The loopback address the fake serves on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The world, locked. If a test thread panics while it holds the lock, the server must keep
    /// working for the other callers, so a poisoned lock is still used.
    pub(crate) fn world(&self) -> MutexGuard<'_, W> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `change` on the world and wakes waiters.
    pub(crate) fn change<T>(&self, change: impl FnOnce(&mut W) -> T) -> T {
        let value = change(&mut self.world());
        self.changes.bump();
        value
    }

    /// Waits until `check` returns `Some`, re-checking after every change; panics after
    /// `timeout` naming `what`.
    pub(crate) async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        check: impl FnMut() -> Option<T>,
    ) -> T {
        self.changes.wait_until(timeout, what, check).await
    }
}
