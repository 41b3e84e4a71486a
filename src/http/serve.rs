//! How the server takes connections and requests, bounded whatever clients do: at most
//! [`HttpLimits::max_connections`] connections per listener (the next waits in the kernel's
//! backlog until one ends), headers within [`HttpLimits::header_timeout`] (which also closes idle
//! kept-alive connections), every request within its deadline, and every body kept flowing
//! ([`Paced`]). A client that trickles its headers or its body a byte at a time is cut off.

use super::HttpLimits;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long requests in flight may finish once the server is told to stop; then their
/// connections are closed (the daemon's whole stop must fit systemd's `TimeoutStopSec`).
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The one route whose body is files, with its own (longer) deadline.
const UPLOAD_PATH: &str = "/api/app/tickets";

/// Serves `app` on `listener` until `cancel`, on a task of `tracker`.
pub(super) fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    let app = app.layer(axum::middleware::from_fn_with_state(limits, bounded));
    tracker.spawn(accept_loop(listener, app, limits, cancel));
}

async fn accept_loop(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    cancel: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    loop {
        // A slot first: at the limit, connections wait in the backlog instead of being accepted
        // and held.
        let slot = tokio::select! {
            _ = cancel.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!(%error, "Cannot accept an HTTP connection.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(app.clone());
        let cancel = cancel.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(error) = served {
                        tracing::debug!(%error, "HTTP connection ended with an error.");
                    }
                }
                _ = cancel.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    if tokio::time::timeout(STOP_GRACE, connection).await.is_err() {
                        tracing::info!("An HTTP request did not finish in time; its connection is closed.");
                    }
                }
            }
        });
    }
    connections.close();
    connections.wait().await;
}

/// Puts every request under its deadline and its body under [`Paced`].
async fn bounded(State(limits): State<HttpLimits>, request: Request, next: Next) -> Response {
    let upload = request.method() == Method::POST && request.uri().path() == UPLOAD_PATH;
    let deadline = if upload {
        limits.upload_timeout
    } else {
        limits.request_timeout
    };
    let request = request.map(|body| {
        Body::new(Paced::new(
            body,
            limits.body_idle_timeout,
            limits.min_body_rate,
        ))
    });
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::info!(?deadline, upload, "An HTTP request took too long; cut off.");
            let mut response = (
                StatusCode::REQUEST_TIMEOUT,
                axum::Json(serde_json::json!({ "error": "request_timeout" })),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// A request body that must keep coming: nothing for `idle` ends it with an error, and so does an
/// average rate below `min_rate` bytes a second once `idle` has passed since it started (a
/// client sending a byte just often enough to beat the idle timer).
pub(super) struct Paced {
    inner: Body,
    idle: Duration,
    min_rate: u64,
    started: Instant,
    received: u64,
    timer: Pin<Box<Sleep>>,
}

impl Paced {
    pub(super) fn new(inner: Body, idle: Duration, min_rate: u64) -> Self {
        let started = Instant::now();
        Self {
            inner,
            idle,
            min_rate,
            started,
            received: 0,
            timer: Box::pin(tokio::time::sleep_until(started + idle)),
        }
    }

    fn too_slow(&self, now: Instant) -> bool {
        let elapsed = now.duration_since(self.started);
        elapsed > self.idle && (self.received as f64) < self.min_rate as f64 * elapsed.as_secs_f64()
    }
}

fn cut_off(what: &str) -> axum::Error {
    axum::Error::new(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("request body {what}; cut off"),
    ))
}

impl HttpBody for Paced {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let now = Instant::now();
                if let Some(data) = frame.data_ref() {
                    this.received = this.received.saturating_add(data.len() as u64);
                }
                if this.too_slow(now) {
                    tracing::info!(
                        bytes = this.received,
                        "A request body came too slowly; cut off."
                    );
                    return Poll::Ready(Some(Err(cut_off("too slow"))));
                }
                this.timer.as_mut().reset(now + this.idle);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                if this.timer.as_mut().poll(cx).is_ready() {
                    tracing::info!(
                        bytes = this.received,
                        "A request body stopped coming; cut off."
                    );
                    return Poll::Ready(Some(Err(cut_off("stalled"))));
                }
                Poll::Pending
            }
            done => done,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A body that sends chunks of `len` bytes, each after its pause.
    struct Trickle {
        chunks: VecDeque<(usize, Duration)>,
        pause: Option<Pin<Box<Sleep>>>,
    }

    impl HttpBody for Trickle {
        type Data = axum::body::Bytes;
        type Error = axum::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
            let this = &mut *self;
            let Some((len, pause)) = this.chunks.front().copied() else {
                return Poll::Ready(None);
            };
            let sleep = this
                .pause
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(pause)));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.pause = None;
            this.chunks.pop_front();
            Poll::Ready(Some(Ok(Frame::data(vec![b'x'; len].into()))))
        }
    }

    async fn read(chunks: &[(usize, u64)]) -> Result<usize, String> {
        let trickle = Trickle {
            chunks: chunks
                .iter()
                .map(|(len, ms)| (*len, Duration::from_millis(*ms)))
                .collect(),
            pause: None,
        };
        let paced = Paced::new(Body::new(trickle), Duration::from_secs(10), 1000);
        axum::body::to_bytes(Body::new(paced), usize::MAX)
            .await
            .map(|bytes| bytes.len())
            .map_err(|e| std::error::Error::source(&e).map_or(e.to_string(), |s| s.to_string()))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_keeps_coming_is_read_whole() {
        // 2 KB a second for a minute: above 1000 bytes a second on average.
        let steady: Vec<(usize, u64)> = (0..60).map(|_| (2000, 1000)).collect();
        assert_eq!(read(&steady).await, Ok(120_000));
        // A burst, then a pause shorter than the idle timeout, then the rest.
        assert_eq!(read(&[(50_000, 0), (50_000, 9_000)]).await, Ok(100_000));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_or_trickling_body_is_cut_off() {
        let stalled = read(&[(100, 0), (100, 11_000)]).await;
        assert!(
            stalled.as_ref().is_err_and(|e| e.contains("stalled")),
            "{stalled:?}"
        );
        // A byte every 9 s beats the idle timer, not the average rate.
        let trickle: Vec<(usize, u64)> = (0..100).map(|_| (1, 9_000)).collect();
        let slow = read(&trickle).await;
        assert!(
            slow.as_ref().is_err_and(|e| e.contains("too slow")),
            "{slow:?}"
        );
    }
}
