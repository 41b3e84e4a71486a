//! Inbox → engine. Each update's effects and its removal from the inbox are one atomic write.

use super::{Context, idle, now};
use crate::engine;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub(crate) async fn run(ctx: Arc<Context>, cancel: CancellationToken) {
    loop {
        let batch = match ctx.store.read().inbox(100) {
            Ok(batch) => batch,
            Err(error) => {
                tracing::error!(%error, "Cannot read the inbox.");
                Vec::new()
            }
        };
        if batch.is_empty() {
            if !idle(&ctx.signals.inbox, Duration::from_millis(500), &cancel).await {
                return;
            }
            continue;
        }
        let (mut jobs, mut sends) = (false, false);
        for (update_id, raw) in batch {
            let Some(facts) = facts_for(&ctx, &raw).await else {
                // Telegram could not answer a question the update depends on; keep the update
                // (and everything after it, to stay in order) for the next round.
                tokio::time::sleep(Duration::from_secs(1)).await;
                break;
            };
            let result = ctx.store.write(|tx| {
                let outcome = engine::process_update(tx, &ctx.settings, &raw, facts, now())?;
                if outcome.defer {
                    // Nothing it did may stand: the whole transaction is dropped.
                    return Err(crate::store::StoreError::Deferred);
                }
                tx.remove_inbox(update_id);
                Ok(outcome)
            });
            match result {
                Err(crate::store::StoreError::Deferred) => {
                    tracing::debug!(update_id, "Update waits for a post to be recorded.");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    break;
                }
                Ok(outcome) => {
                    jobs |= outcome.jobs;
                    sends |= outcome.sends;
                    if let Some(reason) = outcome.skipped.filter(|r| !r.is_empty()) {
                        tracing::info!(update_id, reason = %reason, "Update skipped.");
                    }
                }
                Err(error) => {
                    // A store failure: leave the update in the inbox for the next round, but do
                    // not spin on it.
                    tracing::error!(update_id, %error, "Cannot process update; will retry.");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
        if let Err(error) = ctx.store.flush().await {
            tracing::error!(%error, "Cannot flush the store.");
        }
        if jobs {
            ctx.signals.jobs.notify_one();
        }
        if sends {
            ctx.signals.sends.notify_one();
        }
    }
}

/// Looks up what the engine needs from Telegram to process `raw`; `None` when Telegram could not
/// be asked right now.
async fn facts_for(ctx: &Context, raw: &serde_json::Value) -> Option<engine::Facts> {
    let mut member_of = Vec::new();
    for chat_id in engine::chats_to_offer(&ctx.settings, raw) {
        let user_id = raw["message"]["from"]["id"].as_i64()?;
        match ctx.telegram.is_member(chat_id, user_id).await {
            Ok(true) => member_of.push(chat_id),
            Ok(false) => {}
            Err(error) if error.is_temporary() => {
                tracing::warn!(%error, chat_id, user_id, "Cannot check chat membership; will retry.");
                return None;
            }
            Err(error) => {
                tracing::warn!(%error, chat_id, user_id, "Chat membership check failed; not offering the chat.")
            }
        }
    }
    if !member_of.is_empty() {
        return Some(engine::Facts {
            member_of,
            ..engine::Facts::default()
        });
    }
    let check = match engine::membership_to_check(&ctx.store.read(), &ctx.settings, raw) {
        Ok(check) => check,
        Err(error) => {
            tracing::error!(%error, "Cannot read the store.");
            return None;
        }
    };
    let Some((chat_id, user_id)) = check else {
        return Some(engine::Facts::default());
    };
    match ctx.telegram.is_member(chat_id, user_id).await {
        Ok(member) => Some(engine::Facts {
            presser_is_member: Some(member),
            ..engine::Facts::default()
        }),
        Err(error) if error.is_temporary() => {
            tracing::warn!(%error, chat_id, user_id, "Cannot check chat membership; will retry.");
            None
        }
        Err(error) => {
            // The bot cannot see the chat's members (it was removed, or lost its rights): it
            // cannot vouch for the user, so the action is refused.
            tracing::warn!(%error, chat_id, user_id, "Chat membership check failed; treating the user as not a member.");
            Some(engine::Facts {
                presser_is_member: Some(false),
                ..engine::Facts::default()
            })
        }
    }
}
