//! Telegram → inbox. An update is in the inbox, flushed to disk, before the next `getUpdates`
//! acknowledges it (rule 1: nothing is lost). In webhook mode the HTTP server takes updates
//! through [`store_updates`] instead, answering Telegram only once they are on disk.

use super::Context;
use crate::telegram::client::TgError;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub(crate) async fn run(ctx: Arc<Context>, cancel: CancellationToken) {
    let mut failures: u32 = 0;
    loop {
        let offset = match ctx.store.read().telegram_offset() {
            Ok(offset) => offset,
            Err(error) => {
                tracing::error!(%error, "Cannot read the Telegram offset; intake stops.");
                return;
            }
        };
        let poll = tokio::select! {
            _ = cancel.cancelled() => return,
            poll = ctx.telegram.get_updates(offset) => poll,
        };
        match poll {
            Ok(updates) => {
                failures = 0;
                if updates.is_empty() {
                    continue;
                }
                if let Err(error) = store_updates(&ctx, &updates).await {
                    tracing::error!(%error, "Cannot store updates; they will be fetched again.");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                ctx.signals.inbox.notify_one();
            }
            Err(error) => {
                failures += 1;
                let wait = match &error {
                    TgError::RetryAfter(wait) => *wait,
                    _ => super::backoff(failures).min(Duration::from_secs(30)),
                };
                if failures == 1 || failures.is_multiple_of(10) {
                    tracing::warn!(%error, retry_in = ?wait, "getUpdates failed.");
                }
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Puts updates into the inbox and moves the offset past them, durably. Updates below the stored
/// offset are already in the inbox or processed, however they came back (a repeated
/// `getUpdates`, a webhook delivery Telegram retried).
pub(crate) async fn store_updates(
    ctx: &Context,
    updates: &[serde_json::Value],
) -> crate::store::Result<()> {
    ctx.store.write(|tx| {
        let offset = tx.telegram_offset()?;
        let mut next = offset;
        for update in updates {
            let Some(id) = update["update_id"].as_i64() else {
                tracing::warn!("Skipped an update without update_id.");
                continue;
            };
            if id < offset {
                continue;
            }
            tx.push_inbox(id as u64, update);
            next = next.max(id + 1);
        }
        tx.set_telegram_offset(next);
        Ok(())
    })?;
    for update in updates {
        forget_leaving_member(ctx, update);
    }
    ctx.store.flush().await
}

/// A user who left a chat (or was removed) loses the Mini App at once, not when their cached
/// membership runs out. Groups say so with a `left_chat_member` message; channels only with a
/// `chat_member` update, which reaches an admin bot. Done at intake, not in the engine: the cache
/// is memory, not state.
fn forget_leaving_member(ctx: &Context, update: &serde_json::Value) {
    let message = &update["message"];
    let member = &update["chat_member"];
    let left = if let Some(user_id) = message["left_chat_member"]["id"].as_i64() {
        message["chat"]["id"]
            .as_i64()
            .map(|chat_id| (chat_id, user_id))
    } else if matches!(
        member["new_chat_member"]["status"].as_str(),
        Some("left" | "kicked")
    ) || (member["new_chat_member"]["status"] == "restricted"
        && member["new_chat_member"]["is_member"] == false)
    {
        member["chat"]["id"]
            .as_i64()
            .zip(member["new_chat_member"]["user"]["id"].as_i64())
    } else {
        None
    };
    if let Some((chat_id, user_id)) = left {
        ctx.memberships.forget(chat_id, user_id);
    }
}
