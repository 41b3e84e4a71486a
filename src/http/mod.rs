//! The HTTP server under `[server]`: the Mini App (its page and its API), helpdesk webhooks
//! (`/hooks/<helpdesk>`), Telegram's webhook in webhook mode, `/healthz`, `/readyz` and `/metrics`.
//! It only runs when the config has a `[server]` table.
//!
//! Every request body is bounded (a few KB, a webhook's 1 MB, or the form's file limits for a
//! submission), every connection, request and body is bounded in time and number ([`serve`],
//! [`HttpLimits`]), every response carries a strict CSP, and nothing secret — the bot token,
//! `initData` — is logged.

mod hooks;
pub mod init_data;
mod miniapp;
mod problems;
mod serve;
pub mod telegram_updates;
pub mod uploads;

use crate::daemon::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Bodies of everything but a submission are a few fields at most.
const SMALL_BODY: usize = 16 * 1024;

/// How much the server takes at once and how long it waits for a client. Process knobs
/// ([`crate::daemon::Options`]), not config: the defaults suit a support desk behind a reverse
/// proxy, and tests shrink them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections served at once, per listener; the next one waits in the kernel's backlog
    /// until one ends.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers — and how long an idle kept-alive
    /// connection stays open.
    pub header_timeout: Duration,
    /// How long a whole request may take, body included, except a Mini App submission.
    pub request_timeout: Duration,
    /// How long a Mini App submission (its files) may take; the page gives up after 10 minutes.
    pub upload_timeout: Duration,
    /// A body that sends nothing for this long is cut off.
    pub body_idle_timeout: Duration,
    /// After [`Self::body_idle_timeout`], a body must have come at least this fast on average
    /// (bytes per second), or it is cut off: a client trickling a byte now and then does not
    /// hold a connection for the whole upload timeout.
    pub min_body_rate: u64,
    /// Mini App submissions read at once, for the whole server.
    pub max_uploads: usize,
    /// Mini App submissions read at once for one user (a retry while the first is still
    /// arriving).
    pub max_uploads_per_user: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(600),
            body_idle_timeout: Duration::from_secs(15),
            // 50 MB in 10 minutes is about 85 KB/s; a slow mobile link does better than 8.
            min_body_rate: 8 * 1024,
            max_uploads: 8,
            max_uploads_per_user: 2,
        }
    }
}

/// What the server needs besides the daemon's shared context.
pub(crate) struct ServerSettings {
    pub limits: HttpLimits,
    pub init_data_max_age: Duration,
    /// Serve `/healthz`, `/readyz` and `/metrics` here, and not on the public listener.
    pub admin_listen: Option<SocketAddr>,
    /// Set in webhook mode: Telegram's calls to [`telegram_updates::PATH`] must carry it.
    pub webhook_secret: Option<teledesk_adapter::Secret>,
}

/// Where the server listens (ports picked when the config asked for port 0).
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    pub public: SocketAddr,
    /// The admin listener (`/healthz`, `/metrics`), when one is configured.
    pub admin: Option<SocketAddr>,
}

/// Binds `listen` (and the admin address, if any) and serves until `cancel`.
pub(crate) async fn start(
    ctx: Arc<Context>,
    settings: ServerSettings,
    listen: SocketAddr,
    cancel: CancellationToken,
    tracker: &tokio_util::task::TaskTracker,
) -> std::io::Result<Bound> {
    let listener = TcpListener::bind(listen).await?;
    let public = listener.local_addr()?;
    let admin = match settings.admin_listen {
        Some(admin_listen) => {
            let admin_listener = TcpListener::bind(admin_listen).await.map_err(|e| {
                std::io::Error::new(e.kind(), format!("server.admin_listen {admin_listen}: {e}"))
            })?;
            let admin = admin_listener.local_addr()?;
            serve::serve(
                admin_listener,
                admin_router(ctx.clone()),
                settings.limits,
                cancel.clone(),
                tracker,
            );
            tracing::info!(%admin, "Admin listener (/healthz, /readyz, /metrics).");
            Some(admin)
        }
        None => None,
    };
    let limits = settings.limits;
    let app = router(ctx, settings);
    serve::serve(listener, app, limits, cancel, tracker);
    tracing::info!(addr = %public, "HTTP server listening (Mini App at /app/).");
    Ok(Bound { public, admin })
}

/// What an operator's monitoring reads; on the public listener only when no admin one is set.
fn admin_router(ctx: Arc<Context>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(ctx)
}

fn router(ctx: Arc<Context>, settings: ServerSettings) -> Router {
    let mut router = Router::new().merge(hooks::routes(ctx.clone()));
    if settings.admin_listen.is_none() {
        router = router.merge(admin_router(ctx.clone()));
    }
    if let Some(secret) = settings.webhook_secret.clone() {
        router = router.merge(telegram_updates::routes(ctx.clone(), secret));
    }
    router
        .merge(miniapp::routes(ctx, settings))
        .layer(DefaultBodyLimit::max(SMALL_BODY))
        .layer(middleware::from_fn(security_headers))
}

/// Liveness: 200 `ok` while the store works and every loop runs and makes progress; 503
/// `degraded`, saying why (the store's error, a loop being started again, a loop past its
/// promised progress), so a monitor notices. Whether the daemon can reach what it serves is
/// `/readyz`'s question. Reads only what is kept in memory.
async fn healthz(State(ctx): State<Arc<Context>>) -> Response {
    let queues = crate::daemon::queues(&ctx.store);
    let store = ctx.store.failure();
    let stalled: std::collections::BTreeMap<String, u64> = ctx
        .health
        .stalled()
        .into_iter()
        .map(|(name, overdue)| (name, overdue.as_secs()))
        .collect();
    let healthy = ctx.health.all_running() && store.is_none() && stalled.is_empty();
    let body = serde_json::json!({
        "status": if healthy { "ok" } else { "degraded" },
        "store": store.as_deref().unwrap_or("ok"),
        "loops": ctx.health.loops(),
        "stalled_seconds": stalled,
        "queues": queues,
    });
    let status = if healthy {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// Readiness: 200 `ready` while the store works, Telegram answers and every polled helpdesk
/// answered a poll lately; 503 `not ready` with each part's state otherwise, so a load balancer
/// sends nothing to a daemon that could not act on it. Reads only what is kept in memory.
async fn readyz(State(ctx): State<Arc<Context>>) -> Response {
    let readiness = crate::daemon::readiness(&ctx);
    let status = if readiness.ready {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if readiness.ready { "ready" } else { "not ready" },
        "store": readiness.store,
        "telegram": readiness.telegram,
        "helpdesks": readiness.helpdesks,
    });
    (status, axum::Json(body)).into_response()
}

/// The Prometheus text format (see [`crate::telemetry`]): counters kept as events happen, levels
/// from what the store and the daemon keep in memory; no read of the store per scrape.
async fn metrics(State(ctx): State<Arc<Context>>) -> Response {
    let text = crate::telemetry::render(&ctx);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The app runs inside Telegram's webview (or web.telegram.org's iframe) and needs nothing but
/// its own origin.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
             connect-src 'self'; frame-ancestors https://web.telegram.org https://*.telegram.org",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
