//! Webhook mode (`setWebhook`): while a webhook is set, queued updates are POSTed to it one at a
//! time, in order, with `X-Telegram-Bot-Api-Secret-Token`; an update leaves the queue only on a
//! 2xx answer, otherwise it is retried (every 250 ms here; the real server backs off for longer)
//! and `getWebhookInfo` reports the last error. `getUpdates` is refused with 409 while a webhook
//! is set; `deleteWebhook` hands the queue back to `getUpdates`.
//!
//! Like a local Bot API server (`telegram-bot-api --local`), the fake accepts `http://` URLs on
//! loopback; api.telegram.org demands https on ports 443, 80, 88 or 8443.

use super::Shared;
use super::state::World;
use serde_json::{Value, json};
use std::sync::{Arc, Weak};
use std::time::Duration;

const RETRY: Duration = Duration::from_millis(250);

/// The webhook the bot set.
#[derive(Clone, Debug)]
pub(crate) struct Webhook {
    pub url: String,
    pub secret_token: Option<String>,
    pub max_connections: i64,
    /// `(unix time, message)` of the last failed delivery.
    pub last_error: Option<(i64, String)>,
}

/// Checks `setWebhook`'s URL; the error is Telegram's description.
pub(crate) fn check_url(url: &str) -> Result<(), &'static str> {
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
    if url.starts_with("https://") || loopback.iter().any(|p| url.starts_with(p)) {
        Ok(())
    } else {
        Err("bad webhook: An HTTPS URL must be provided for webhook")
    }
}

/// `getWebhookInfo`.
pub(crate) fn info(w: &World) -> Value {
    let mut info = json!({
        "url": w.webhook.as_ref().map(|h| h.url.clone()).unwrap_or_default(),
        "has_custom_certificate": false,
        "pending_update_count": w.updates.len(),
    });
    if let Some(hook) = &w.webhook {
        info["max_connections"] = json!(hook.max_connections);
        if let Some((date, message)) = &hook.last_error {
            info["last_error_date"] = json!(date);
            info["last_error_message"] = json!(message);
        }
    }
    info
}

/// Delivers updates while a webhook is set; ends when the fake is dropped.
pub(crate) async fn deliver(shared: Weak<Shared>) {
    let http = reqwest::Client::new();
    let mut wake = match shared.upgrade() {
        Some(shared) => shared.updates.subscribe(),
        None => return,
    };
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let next = {
            let w = strong.world();
            w.webhook.as_ref().and_then(|hook| {
                let (id, update) = w.deliverable().next()?;
                Some((hook.clone(), *id, update.clone()))
            })
        };
        let Some((hook, id, update)) = next else {
            drop(strong);
            tokio::select! {
                _ = wake.changed() => {}
                _ = tokio::time::sleep(RETRY) => {}
            }
            continue;
        };
        let mut request = http
            .post(&hook.url)
            .json(&update)
            .timeout(Duration::from_secs(10));
        if let Some(secret) = &hook.secret_token {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        let failure = match request.send().await {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => Some(format!(
                "Wrong response from the webhook: {}",
                response.status()
            )),
            Err(error) if error.is_timeout() => Some("Read timeout expired".to_owned()),
            Err(_) => Some("Connection refused".to_owned()),
        };
        delivered(&strong, id, failure.clone());
        drop(strong);
        if failure.is_some() {
            tokio::time::sleep(RETRY).await;
        }
    }
}

fn delivered(shared: &Arc<Shared>, id: i64, failure: Option<String>) {
    {
        let mut w = shared.world();
        match failure {
            None => w.updates.retain(|(queued, _)| *queued != id),
            Some(message) => {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                if let Some(hook) = &mut w.webhook {
                    hook.last_error = Some((now, message));
                }
            }
        }
    }
    shared.taken.send_if_modified(|taken| {
        let newer = id > *taken;
        if newer {
            *taken = id;
        }
        newer
    });
    shared.changes.bump();
}
