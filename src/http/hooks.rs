//! Helpdesk webhooks: `POST /hooks/<helpdesk name>`. The adapter verifies the request (its
//! vendor's signature, where the vendor signs) and names the tickets that changed; they are
//! marked for a re-read exactly as a poll would mark them. A webhook is only a hint — what the
//! ticket now says is read back from the helpdesk — so a forged one can cost a read, never a lie.

use crate::daemon::Context;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use std::sync::Arc;
use teledesk_adapter::{ErrorKind, WebhookRequest};

/// Vendors' webhook payloads are a ticket and an article or two.
const WEBHOOK_BODY: usize = 1024 * 1024;

pub(super) fn routes(ctx: Arc<Context>) -> Router {
    Router::new()
        .route(
            "/hooks/{helpdesk}",
            post(receive).layer(DefaultBodyLimit::max(WEBHOOK_BODY)),
        )
        .with_state(ctx)
}

async fn receive(
    State(ctx): State<Arc<Context>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let refuse =
        |status: StatusCode, error: &str| (status, Json(json!({ "error": error }))).into_response();
    let Some(helpdesk) = ctx.helpdesk(&name).cloned() else {
        return refuse(StatusCode::NOT_FOUND, "no such helpdesk");
    };
    let request = WebhookRequest {
        headers: headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: body.to_vec(),
    };
    let tickets = match helpdesk.parse_webhook(&request) {
        Ok(tickets) => tickets,
        Err(error) => {
            // The body may carry client data; the error says what was wrong, not what was sent.
            tracing::warn!(helpdesk = %name, %error, "Webhook refused.");
            return match error.kind() {
                ErrorKind::PermissionDenied => {
                    refuse(StatusCode::UNAUTHORIZED, "signature missing or wrong")
                }
                ErrorKind::Unsupported => refuse(
                    StatusCode::NOT_FOUND,
                    "webhooks are not configured for this helpdesk",
                ),
                _ => refuse(StatusCode::BAD_REQUEST, "not a webhook this helpdesk sends"),
            };
        }
    };
    let marked = ctx.store.write(|tx| {
        let mut marked = 0;
        for ticket in &tickets {
            if let Some(local) = tx.ticket_by_helpdesk(&name, ticket)? {
                tx.mark_dirty(local)?;
                marked += 1;
            }
        }
        Ok(marked)
    });
    match marked {
        Ok(marked) => {
            if marked > 0 {
                if let Err(error) = ctx.store.flush().await {
                    tracing::error!(%error, "Cannot flush the store.");
                }
                ctx.signals.jobs.notify_one();
            }
            tracing::debug!(helpdesk = %name, tickets = tickets.len(), marked, "Webhook taken.");
            // Tickets teledesk does not know (filed by staff, or by e-mail) are fine: 200, so the
            // helpdesk does not retry them.
            Json(json!({ "tickets": marked })).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "Cannot record a webhook.");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "store unavailable; retry")
        }
    }
}
