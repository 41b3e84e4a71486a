//! Talking to systemd (`Type=notify`): `READY=1` once the daemon runs, `STOPPING=1` when it
//! drains, and the watchdog: `WATCHDOG=1` every half `WatchdogSec=`, sent only while every loop
//! keeps its promise of progress ([`super::supervisor::beat`]). A loop that hangs stops the
//! pings, and systemd kills and restarts the process (`Restart=on-failure` covers a watchdog
//! timeout); a loop that is merely slow within its budget does not.

use super::supervisor::Health;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Where systemd listens for notifications (`$NOTIFY_SOCKET`): a path, or an abstract socket
/// name written with a leading `@`.
#[derive(Clone, Debug)]
pub struct Notifier {
    socket: String,
}

impl Notifier {
    /// The socket systemd named in `$NOTIFY_SOCKET`, when started by it.
    pub fn from_env() -> Option<Self> {
        std::env::var_os("NOTIFY_SOCKET").map(|path| Self {
            socket: path.to_string_lossy().into_owned(),
        })
    }

    /// A notifier sending to `socket` (a path, or `@name` for an abstract socket).
    pub fn at(socket: impl Into<String>) -> Self {
        Self {
            socket: socket.into(),
        }
    }

    /// Sends `state` (`READY=1`, `WATCHDOG=1`, ...). A failure is logged, never fatal: the
    /// service manager's view is not worth stopping the work for.
    pub fn notify(&self, state: &str) {
        let sent = std::os::unix::net::UnixDatagram::unbound().and_then(|socket| {
            // Never wait on a receiver that does not read (a full queue): this runs on the
            // async runtime's threads, and a blocked send would stall the loops it watches.
            socket.set_nonblocking(true)?;
            if let Some(name) = self.socket.strip_prefix('@') {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                    .and_then(|addr| socket.send_to_addr(state.as_bytes(), &addr))
            } else {
                socket.send_to(state.as_bytes(), &self.socket)
            }
        });
        if let Err(error) = sent {
            tracing::warn!(%error, state, "Cannot notify systemd.");
        }
    }
}

/// How often to ping the watchdog: half the `WatchdogSec=` systemd passed in `$WATCHDOG_USEC`,
/// as sd_watchdog_enabled(3) advises; `None` when the watchdog is off or meant for another
/// process (`$WATCHDOG_PID`).
pub fn watchdog_interval_from_env() -> Option<Duration> {
    if let Some(pid) = std::env::var_os("WATCHDOG_PID")
        && pid.to_str().and_then(|p| p.parse::<u32>().ok()) != Some(std::process::id())
    {
        return None;
    }
    let usec = std::env::var("WATCHDOG_USEC").ok()?.parse::<u64>().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec) / 2)
}

/// Pings `notifier` with `WATCHDOG=1` every `every` while no loop of `health` is stalled, until
/// `cancel`. A stalled loop is logged once per stall, as an error: the process is about to be
/// restarted.
pub(crate) async fn watchdog(
    health: Arc<Health>,
    notifier: Notifier,
    every: Duration,
    cancel: CancellationToken,
) {
    let mut reported = false;
    loop {
        let stalled = health.stalled();
        if stalled.is_empty() {
            notifier.notify("WATCHDOG=1");
            reported = false;
        } else if !reported {
            reported = true;
            for (name, overdue) in &stalled {
                tracing::error!(
                    loop_name = %name,
                    overdue = ?overdue,
                    "A daemon loop has stopped making progress; no longer pinging the watchdog, so systemd restarts teledesk."
                );
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::supervisor::{beat, supervise};
    use std::os::unix::net::UnixDatagram;
    use tokio_util::task::TaskTracker;

    /// What arrives on `socket` over `secs` seconds, read every second (the kernel queues only
    /// a few datagrams; a notifier never waits for room).
    async fn listen(socket: &UnixDatagram, secs: u64) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..secs {
            tokio::time::sleep(Duration::from_secs(1)).await;
            out.extend(drain(socket));
        }
        out
    }

    /// Datagrams waiting on `socket` now.
    fn drain(socket: &UnixDatagram) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        while let Ok(n) = socket.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_is_pinged_while_loops_move_and_not_once_one_hangs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let systemd = UnixDatagram::bind(&path).unwrap();
        systemd.set_nonblocking(true).unwrap();
        let health = Arc::new(Health::with_budget(Duration::from_secs(5)));
        let tracker = TaskTracker::new();
        let cancel = CancellationToken::new();
        let hang = Arc::new(tokio::sync::Notify::new());
        let steps = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let (held, counter) = (hang.clone(), steps.clone());
        let stop = cancel.clone();
        // Goes round every second until told to hang, then awaits what never comes.
        supervise(
            &tracker,
            health.clone(),
            "runner".into(),
            cancel.clone(),
            move || {
                let (held, counter, stop) = (held.clone(), counter.clone(), stop.clone());
                async move {
                    loop {
                        beat();
                        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = held.notified() => std::future::pending::<()>().await,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                }
            },
        );
        tracker.spawn(watchdog(
            health.clone(),
            Notifier::at(path.to_string_lossy()),
            Duration::from_secs(2),
            cancel.clone(),
        ));
        tracker.close();

        let pings = listen(&systemd, 30).await;
        assert!(pings.iter().all(|p| p == "WATCHDOG=1"), "{pings:?}");
        assert!(pings.len() >= 14, "a ping every 2 s for 30 s: {pings:?}");
        assert!(health.stalled().is_empty());
        assert!(steps.load(std::sync::atomic::Ordering::SeqCst) >= 29);

        hang.notify_one();
        // Within its budget a quiet loop is still trusted...
        assert!(!listen(&systemd, 3).await.is_empty());
        // ...past it, it is stalled and the pings stop for good.
        listen(&systemd, 4).await;
        let stalled = health.stalled();
        assert!(stalled.contains_key("runner"), "{stalled:?}");
        drain(&systemd);
        let steps_when_hung = steps.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            listen(&systemd, 60).await,
            Vec::<String>::new(),
            "no ping for a hung loop"
        );
        assert_eq!(
            steps.load(std::sync::atomic::Ordering::SeqCst),
            steps_when_hung
        );
        // The hung loop never ends (that is the point); the test's runtime drops it.
        cancel.cancel();
    }

    #[test]
    fn an_abstract_socket_name_is_reached() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("teledesk-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let systemd = UnixDatagram::bind_addr(&addr).unwrap();
        systemd.set_nonblocking(true).unwrap();
        Notifier::at(format!("@{name}")).notify("READY=1");
        assert_eq!(drain(&systemd), vec!["READY=1".to_owned()]);
    }
}
