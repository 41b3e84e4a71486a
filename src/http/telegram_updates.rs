//! Telegram's webhook (`updates = "webhook"`): `POST /telegram/updates`. Telegram proves it is
//! Telegram with the `secret_token` given to `setWebhook` (header
//! `X-Telegram-Bot-Api-Secret-Token`, compared in constant time); an update is answered 200 only
//! once it is in the inbox on disk, so a crash before that makes Telegram deliver it again.

use crate::daemon::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::Mac;
use std::sync::Arc;
use teledesk_adapter::Secret;

/// Where `setWebhook` points, below `public_url`.
pub const PATH: &str = "/telegram/updates";

/// An update is a message with its entities and a few file descriptors.
const UPDATE_BODY: usize = 1024 * 1024;

struct HookState {
    ctx: Arc<Context>,
    secret: Secret,
}

pub(super) fn routes(ctx: Arc<Context>, secret: Secret) -> Router {
    Router::new()
        .route(
            PATH,
            post(receive).layer(DefaultBodyLimit::max(UPDATE_BODY)),
        )
        .with_state(Arc::new(HookState { ctx, secret }))
}

async fn receive(
    State(state): State<Arc<HookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !same_secret(given, state.secret.expose().as_bytes()) {
        tracing::warn!("A Telegram webhook call without the right secret token was refused.");
        return StatusCode::UNAUTHORIZED;
    }
    let update: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(error) => {
            // Telegram would send the same bytes again and again; say so once and drop it.
            tracing::warn!(%error, "Telegram sent an update that is not JSON; skipped.");
            return StatusCode::OK;
        }
    };
    match crate::daemon::intake::store_updates(&state.ctx, std::slice::from_ref(&update)).await {
        Ok(()) => {
            state.ctx.signals.inbox.notify_one();
            StatusCode::OK
        }
        Err(error) => {
            tracing::error!(%error, "Cannot store a webhook update; Telegram will retry it.");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// Constant-time equality of two secrets (HMAC both with a fixed key, compare the tags), so the
/// answer time says nothing about how much of a guess was right.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let tag = |bytes: &[u8]| {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"teledesk webhook secret")
            .expect("HMAC takes any key");
        mac.update(bytes);
        mac
    };
    let expected = tag(expected).finalize().into_bytes();
    tag(given).verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn only_the_exact_secret_matches() {
        assert!(same_secret(b"s3cret-token", b"s3cret-token"));
        assert!(!same_secret(b"s3cret-toke", b"s3cret-token"));
        assert!(!same_secret(b"", b"s3cret-token"));
        assert!(!same_secret(b"s3cret-token ", b"s3cret-token"));
    }
}
