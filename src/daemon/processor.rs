//! Inbox → engine. Each update's effects and its removal from the inbox are one atomic write.

use super::{Context, idle, now};
use crate::engine;
use crate::telegram::membership::LookupError;
use crate::telegram::wire::Update;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often albums and dialogues past their time are removed (see [`engine::expiry`]).
const SWEEP_EVERY: Duration = Duration::from_secs(300);

/// Updates read from the store at once.
const PAGE: usize = 100;
/// Updates handled before the round's flush, which makes their effects durable and lets the jobs
/// and sends they queued begin.
const PER_ROUND: usize = 100;

pub(crate) async fn run(ctx: Arc<Context>, cancel: CancellationToken) {
    let mut next_sweep = tokio::time::Instant::now();
    loop {
        // Checked here too: while a chat's updates wait, the loop never idles.
        if cancel.is_cancelled() {
            return;
        }
        if super::store_watch::paused(&ctx, &cancel).await {
            if cancel.is_cancelled() {
                return;
            }
            continue;
        }
        if tokio::time::Instant::now() >= next_sweep {
            sweep(&ctx);
            next_sweep = tokio::time::Instant::now() + SWEEP_EVERY;
        }
        let (mut jobs, mut sends) = (false, false);
        // Chats with an update that must wait: their later updates wait behind it (order per
        // chat), every other chat goes on.
        let mut held: HashSet<Option<i64>> = HashSet::new();
        let mut pause = Duration::ZERO;
        // The inbox is read a page at a time, past the updates of held chats: a chat with a
        // hundred updates waiting must not hide the next chat's update behind them.
        let (mut after, mut handled, mut seen) = (None, 0, 0);
        'pages: while handled < PER_ROUND {
            let batch = match ctx.store.read().inbox_after(after, PAGE) {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(%error, "Cannot read the inbox.");
                    Vec::new()
                }
            };
            let Some(&(last, _)) = batch.last() else {
                break;
            };
            after = Some(last);
            seen += batch.len();
            for (position, raw) in batch {
                let raw = match raw {
                    Ok(raw) => raw,
                    Err(text) => {
                        set_aside(&ctx, position, text, "the inbox record is not JSON".into());
                        continue;
                    }
                };
                super::supervisor::beat();
                let chat = Update::chat_of(&raw);
                if held.contains(&chat) {
                    continue;
                }
                let Some(facts) = facts_for(&ctx, &raw).await else {
                    // Telegram could not answer a question the update depends on; keep the update
                    // (and its chat's later ones, to stay in order) for the next round.
                    held.insert(chat);
                    pause = pause.max(Duration::from_secs(1));
                    continue;
                };
                let mut panicked = None;
                let result = ctx.store.write(|tx| {
                    // The engine is plain code over the update; a panic on one update must not stop
                    // every update behind it, so it is caught, and the transaction with whatever the
                    // engine wrote before it is dropped.
                    let run = std::panic::AssertUnwindSafe(|| {
                        engine::process_update(tx, &ctx.settings, &raw, facts, now())
                    });
                    let outcome = match std::panic::catch_unwind(run) {
                        Ok(outcome) => outcome?,
                        Err(payload) => {
                            panicked = Some(super::supervisor::panic_text(payload.as_ref()));
                            return Err(crate::store::StoreError::Deferred);
                        }
                    };
                    if outcome.defer {
                        // Nothing it did may stand: the whole transaction is dropped.
                        return Err(crate::store::StoreError::Deferred);
                    }
                    tx.remove_inbox(position);
                    Ok(outcome)
                });
                if let Some(reason) = panicked {
                    set_aside(
                        &ctx,
                        position,
                        raw.to_string(),
                        format!("the engine panicked: {reason}"),
                    );
                    continue;
                }
                let update_id = raw["update_id"].as_i64();
                match result {
                    Err(crate::store::StoreError::Deferred) => {
                        tracing::debug!(?update_id, "Update waits for a post to be recorded.");
                        held.insert(chat);
                        pause = pause.max(Duration::from_millis(200));
                        continue;
                    }
                    Ok(outcome) => {
                        handled += 1;
                        jobs |= outcome.jobs;
                        sends |= outcome.sends;
                        if let Some(reason) = outcome.skipped.filter(|r| !r.is_empty()) {
                            tracing::info!(?update_id, reason = %reason, "Update skipped.");
                        }
                    }
                    Err(error) => {
                        // A store failure: leave the update in the inbox for the next round, but do
                        // not spin on it.
                        tracing::error!(?update_id, %error, "Cannot process update; will retry.");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break 'pages;
                    }
                }
            }
        }
        if seen == 0 {
            if !idle(&ctx.signals.inbox, Duration::from_millis(500), &cancel).await {
                return;
            }
            continue;
        }
        if !pause.is_zero() {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = tokio::time::sleep(pause) => {}
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

/// Removes albums and dialogues past their time. A failure is only logged: the next sweep does it.
fn sweep(ctx: &Context) {
    match ctx.store.write(|tx| engine::expiry::sweep(tx, now())) {
        Ok((swept, outcome)) => {
            if swept != engine::expiry::Swept::default() {
                tracing::info!(
                    albums = swept.albums,
                    dialogues = swept.dialogues,
                    "Forgot albums and dialogues past their time."
                );
            }
            if outcome.sends {
                ctx.signals.sends.notify_one();
            }
        }
        Err(error) => tracing::error!(%error, "Cannot remove old albums and dialogues."),
    }
}

/// Moves an inbox record the daemon cannot process to the dead-letter list, raw, so the updates
/// behind it go on; `teledesk queue` shows it.
fn set_aside(ctx: &Context, position: u64, raw: String, error: String) {
    tracing::error!(position, %error, "An update cannot be processed; it is set aside as a dead letter.");
    let written = ctx.store.write(|tx| {
        tx.bury(
            error.clone(),
            crate::model::DeadItem::Update { raw: raw.clone() },
        )?;
        tx.remove_inbox(position);
        Ok(())
    });
    if let Err(error) = written {
        tracing::error!(%error, "Cannot set the update aside; it stays in the inbox.");
    }
}

/// Looks up what the engine needs from Telegram to process `raw`; `None` when Telegram could not
/// be asked right now. Lookups go through the membership cache and its limits, so a flood of
/// requests from people who are not members costs no flood of `getChatMember` calls; one over
/// the limits is answered "try again later" (it is not held back, which would stall its chat).
async fn facts_for(ctx: &Context, raw: &serde_json::Value) -> Option<engine::Facts> {
    let busy = || {
        Some(engine::Facts {
            membership_busy: true,
            ..engine::Facts::default()
        })
    };
    let mut member_of = Vec::new();
    // The chats with tickets staff started: their members find those tickets (read only for what
    // may be a search: a private message or a button).
    let may_search =
        raw["message"]["chat"]["type"] == "private" || raw["callback_query"].is_object();
    let mut staff_chats: Vec<i64> = if may_search {
        ctx.store
            .read()
            .tickets_by_author(engine::staff::STAFF_AUTHOR)
            .unwrap_or_default()
            .into_iter()
            .filter(|l| l.staff_started.is_some())
            .map(|l| l.chat_id)
            .collect()
    } else {
        Vec::new()
    };
    staff_chats.sort_unstable();
    staff_chats.dedup();
    for chat_id in engine::chats_to_offer(&ctx.settings, raw, &staff_chats) {
        let user_id = raw["message"]["from"]["id"]
            .as_i64()
            .or(raw["callback_query"]["from"]["id"].as_i64())?;
        match ctx
            .memberships
            .is_member(&ctx.telegram, chat_id, user_id)
            .await
        {
            Ok(true) => member_of.push(chat_id),
            Ok(false) => {}
            Err(LookupError::Busy(_)) => return busy(),
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
    match ctx
        .memberships
        .is_member(&ctx.telegram, chat_id, user_id)
        .await
    {
        Ok(member) => Some(engine::Facts {
            presser_is_member: Some(member),
            ..engine::Facts::default()
        }),
        Err(LookupError::Busy(_)) => busy(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Settings;
    use crate::store::Store;
    use crate::telegram::client::TelegramClient;
    use crate::telegram::texts::Lang;
    use teledesk_adapter::Secret;

    /// A daemon context with no chats and a Telegram nobody listens at: enough for updates the
    /// engine skips without asking Telegram anything.
    fn context(store: Store) -> Arc<Context> {
        let token = Secret::new("123:test".to_owned());
        Arc::new(Context {
            store,
            telegram: TelegramClient::new("http://127.0.0.1:9", &token).unwrap(),
            settings: Settings {
                bot_id: 1,
                bot_username: "teledesk_bot".into(),
                lang: Lang::En,
                chats: Default::default(),
                chat_key: token,
                admins: Vec::new(),
            },
            helpdesks: Default::default(),
            ticket_defaults: Default::default(),
            registered_at: Default::default(),
            poll_intervals: Default::default(),
            max_in_flight: Default::default(),
            signals: Default::default(),
            options: Default::default(),
            memberships: crate::telegram::membership::Memberships::new(Duration::from_secs(1)),
            health: Default::default(),
            fatal: CancellationToken::new(),
            sampled: Default::default(),
            unrecorded_sends: Default::default(),
        })
    }

    #[tokio::test]
    async fn an_unreadable_inbox_record_is_set_aside_and_the_updates_behind_it_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|tx| tx.put_unreadable_inbox_record(b"{\"update_id\": 5, \"mess"))
            .unwrap();
        let update = serde_json::json!({"update_id": 6, "message": {"message_id": 1, "date": 0,
            "chat": {"id": -42, "type": "group", "title": "Not served"}, "text": "hello"}});
        store
            .write(|tx| tx.accept_update(6, &update).map(|_| ()))
            .unwrap();
        let ctx = context(store);
        let cancel = CancellationToken::new();
        let running = tokio::spawn(run(ctx.clone(), cancel.clone()));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while ctx.store.read().inbox_len() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the inbox did not drain"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
        running.await.unwrap();
        let dead = ctx.store.read().dead_letters().unwrap();
        assert_eq!(dead.len(), 1, "{dead:?}");
        assert!(dead[0].error.contains("not JSON"), "{}", dead[0].error);
        assert_eq!(
            dead[0].item,
            crate::model::DeadItem::Update {
                raw: "{\"update_id\": 5, \"mess".into()
            }
        );
    }
}
