//! The daemon's control socket, `<store>/control.sock`: how `teledesk export` reads a consistent
//! snapshot of the store while the daemon holds it (sled admits one process). The socket is made
//! owner-only in the store's directory (itself owner-only under the systemd unit), so only the
//! daemon's user and root can ask for the store's contents.
//!
//! Protocol: the client sends one line, `export`; the daemon answers with the backup
//! ([`crate::store::Store::export`]) and closes. A failed export ends without its last line, which
//! the client reports.

use super::Context;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Longest request line taken (the one command is 6 bytes).
const MAX_REQUEST: u64 = 64;

/// Listens on the control socket until `cancel`; a socket that cannot be made is logged, and
/// `teledesk export` then needs the daemon stopped.
pub(crate) fn start(ctx: Arc<Context>, cancel: CancellationToken, tracker: &TaskTracker) {
    let path = crate::store::control_socket(ctx.store.dir());
    // A socket a killed daemon left behind; this process holds the store, so it is no one's.
    let _ = std::fs::remove_file(&path);
    let listener = match UnixListener::bind(&path) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(%error, path = %path.display(), "No control socket; `teledesk export` needs the daemon stopped.");
            return;
        }
    };
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(error) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        {
            tracing::warn!(%error, "Cannot make the control socket owner-only; closing it.");
            let _ = std::fs::remove_file(&path);
            return;
        }
    }
    let connections = tracker.clone();
    tracker.spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = cancel.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        tracing::warn!(%error, "Control socket accept failed.");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            connections.spawn(serve(ctx.clone(), stream));
        }
        let _ = std::fs::remove_file(&path);
    });
}

async fn serve(ctx: Arc<Context>, stream: tokio::net::UnixStream) {
    let mut reader = tokio::io::BufReader::new(stream).take(MAX_REQUEST);
    let mut request = String::new();
    if reader.read_line(&mut request).await.is_err() {
        return;
    }
    let stream = reader.into_inner().into_inner();
    if request.trim() != "export" {
        tracing::warn!(request = %request.trim(), "Unknown control request.");
        return;
    }
    let stream = match stream.into_std().and_then(|s| {
        s.set_nonblocking(false)?;
        Ok(s)
    }) {
        Ok(stream) => stream,
        Err(error) => {
            tracing::warn!(%error, "Control socket unusable.");
            return;
        }
    };
    let exported = tokio::task::spawn_blocking(move || {
        let mut stream = stream;
        ctx.store.export(&mut stream)
    })
    .await;
    match exported {
        Ok(Ok(summary)) => tracing::info!(
            records = summary.records,
            files = summary.files,
            "Exported the store."
        ),
        Ok(Err(error)) => tracing::warn!(%error, "Export failed."),
        Err(error) => tracing::warn!(%error, "Export failed."),
    }
}
