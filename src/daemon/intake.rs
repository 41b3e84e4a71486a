//! Telegram → inbox. An update is in the inbox, flushed to disk, before the next `getUpdates`
//! acknowledges it (rule 1: nothing is lost). In webhook mode the HTTP server takes updates
//! through [`store_updates`] instead, answering Telegram only once they are on disk.

use super::Context;
use crate::telegram::client::TgError;
use crate::telegram::wire::Update;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub(crate) async fn run(ctx: Arc<Context>, cancel: CancellationToken) {
    let mut failures: u32 = 0;
    loop {
        super::supervisor::beat();
        // Nothing is taken from Telegram while it could not be stored: not asking is what keeps
        // Telegram from forgetting it.
        if super::store_watch::paused(&ctx, &cancel).await {
            if cancel.is_cancelled() {
                return;
            }
            continue;
        }
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
                super::supervisor::quiet_for(wait);
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Puts new updates into the inbox and moves the offset past the batch, durably. An update taken
/// before (a repeated `getUpdates`, a webhook delivery Telegram retried) is recognised by its id
/// and content and skipped; ids are not assumed to grow (see [`crate::store::Tx::accept_update`]).
///
/// The next offset is one past the newest id of *this* batch, not of all time: when Telegram
/// restarts its sequence lower, a stored offset far above it makes Telegram answer from its queue's
/// head without confirming anything (TDLib's "from_id is in the future"), and only an offset taken
/// from what it sent confirms those updates.
pub(crate) async fn store_updates(
    ctx: &Context,
    updates: &[serde_json::Value],
) -> crate::store::Result<()> {
    let mut taken = Vec::new();
    ctx.store.write(|tx| {
        taken.clear();
        let mut next_offset: Option<i64> = None;
        for update in updates {
            let Some(id) = update["update_id"].as_i64() else {
                tracing::warn!("Skipped an update without a numeric update_id.");
                continue;
            };
            if tx.accept_update(id, update)? {
                taken.push(crate::telemetry::update_kind(update));
            } else {
                tracing::debug!(update_id = id, "Update taken before; skipped.");
            }
            // Telegram's ids are positive 32-bit numbers; anything else cannot be confirmed by an
            // offset (a negative one would mean "the last n updates"), and must not wrap.
            if let Some(next) = id.checked_add(1).filter(|_| id >= 0) {
                next_offset = Some(next_offset.map_or(next, |n| n.max(next)));
            }
        }
        if let Some(next) = next_offset {
            tx.set_telegram_offset(next);
        }
        Ok(())
    })?;
    for update in updates {
        forget_changed_members(ctx, update);
    }
    let flushed = ctx.store.flush().await;
    if flushed.is_ok() {
        for kind in taken {
            crate::telemetry::update_received(kind);
        }
    }
    flushed
}

/// A user who left a chat (or was removed) loses the Mini App at once, and one who joined is let
/// in at once, not when the cached answer runs out. Done at intake, not in the engine: the cache
/// is memory, not state.
fn forget_changed_members(ctx: &Context, update: &serde_json::Value) {
    if let Ok(update) = Update::deserialize(update) {
        for (chat_id, user_id) in update
            .member_left()
            .into_iter()
            .chain(update.members_joined())
        {
            ctx.memberships.forget(chat_id, user_id);
        }
    }
}
