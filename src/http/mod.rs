//! The HTTP server under `[server]`: the Mini App (its page and its API), helpdesk webhooks
//! (`/hooks/<helpdesk>`), Telegram's webhook in webhook mode, `/healthz` and `/metrics`.
//! It only runs when the config has a `[server]` table.
//!
//! Every request body is bounded (a few KB, or the form's file limits for a submission), every
//! response carries a strict CSP, and nothing secret — the bot token, `initData` — is logged.

mod hooks;
pub mod init_data;
mod miniapp;
mod problems;
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

/// What the server needs besides the daemon's shared context.
pub(crate) struct ServerSettings {
    pub init_data_max_age: Duration,
    /// Set in webhook mode: Telegram's calls to [`telegram_updates::PATH`] must carry it.
    pub webhook_secret: Option<teledesk_adapter::Secret>,
}

/// Binds `listen` (port 0 picks a free one) and serves until `cancel`; returns the bound address.
pub(crate) async fn start(
    ctx: Arc<Context>,
    settings: ServerSettings,
    listen: SocketAddr,
    cancel: CancellationToken,
    tracker: &tokio_util::task::TaskTracker,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = router(ctx, settings);
    tracker.spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { cancel.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "The HTTP server stopped.");
        }
    });
    tracing::info!(%addr, "HTTP server listening (Mini App at /app/, /healthz).");
    Ok(addr)
}

fn router(ctx: Arc<Context>, settings: ServerSettings) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(ctx.clone())
        .merge(hooks::routes(ctx.clone()));
    if let Some(secret) = settings.webhook_secret.clone() {
        router = router.merge(telegram_updates::routes(ctx.clone(), secret));
    }
    router
        .merge(miniapp::routes(ctx, settings))
        .layer(DefaultBodyLimit::max(SMALL_BODY))
        .layer(middleware::from_fn(security_headers))
}

/// Queue sizes; 200 while the store answers.
/// 200 `ok` while the store works and every loop runs; 503 `degraded`, saying why (the store's
/// error, or the loop being started again), so a load balancer or a monitor notices.
async fn healthz(State(ctx): State<Arc<Context>>) -> Response {
    let queues = crate::daemon::queues(&ctx.store);
    let store = ctx.store.failure();
    let healthy = ctx.health.all_running() && store.is_none();
    let body = serde_json::json!({
        "status": if healthy { "ok" } else { "degraded" },
        "store": store.as_deref().unwrap_or("ok"),
        "loops": ctx.health.loops(),
        "queues": queues,
    });
    let status = if healthy {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// Prometheus text format: queue sizes and tickets by status class. Reads the store on each
/// scrape (the ticket count walks every ticket record: fine at thousands, not at millions).
async fn metrics(State(ctx): State<Arc<Context>>) -> Response {
    let queues = crate::daemon::queues(&ctx.store);
    let mut by_status = std::collections::BTreeMap::new();
    for link in ctx.store.read().tickets().unwrap_or_default() {
        *by_status.entry(link.view.status).or_insert(0u64) += 1;
    }
    let mut text = String::from(
        "# HELP teledesk_queue_items Work waiting in each queue (dead: failed for good).\n\
         # TYPE teledesk_queue_items gauge\n",
    );
    for (queue, n) in [
        ("inbox", queues.inbox),
        ("jobs", queues.jobs),
        ("outbox", queues.outbox),
        ("dead", queues.dead),
    ] {
        text.push_str(&format!("teledesk_queue_items{{queue=\"{queue}\"}} {n}\n"));
    }
    text.push_str(
        "# HELP teledesk_tickets Tickets teledesk knows, by status class.\n\
         # TYPE teledesk_tickets gauge\n",
    );
    for (status, n) in by_status {
        let status = serde_json::to_value(status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        text.push_str(&format!("teledesk_tickets{{status=\"{status}\"}} {n}\n"));
    }
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
