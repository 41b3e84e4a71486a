//! Outbox → Telegram, paced (rule 6). Each chat's messages go out in order; chats do not wait for
//! each other. Card edits are coalesced: the card is re-rendered from the latest state when its
//! turn comes, so ten changes in a burst cost one edit.

use super::{Context, MAX_ATTEMPTS, backoff, idle, now};
use crate::bounded::ExpiringMap;
use crate::model::{Button, DeadItem, DmState, Keyboard, Outgoing, SendAction};
use crate::telegram::client::TgError;
use crate::telegram::pacing::Pacer;
use crate::telegram::render;
use crate::telegram::split::{TEXT_LIMIT, split_html};
use crate::telegram::texts::escape;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use teledesk_adapter::Content;
use tokio_util::sync::CancellationToken;

/// A card is edited at most this often, whatever happens to its ticket.
const CARD_EDIT_SPACING: Duration = Duration::from_secs(2);

pub(crate) async fn run(ctx: Arc<Context>, cancel: CancellationToken) {
    let pacer = Arc::new(Pacer::new(ctx.options.pacing));
    let mut last_edit = EditSpacing::default();
    let mut in_flight = InFlight::default();
    loop {
        // Sends run on tasks of their own, so the loop comes round at least every 250 ms, however
        // long a file takes to upload.
        super::supervisor::beat();
        let mut progressed = in_flight.reap();
        if super::store_watch::paused(&ctx, &cancel).await {
            if cancel.is_cancelled() {
                break;
            }
            continue;
        }
        // Send only what is durably queued: a send whose cause could be lost in a crash would
        // happen again after restart. The same flush puts the outcomes of finished sends on
        // disk, so a chat's next message goes out only after its previous one is recorded.
        let boot = ctx.store.boot();
        let mark = ctx.unrecorded_sends.mark();
        if let Err(error) = ctx.store.flush().await {
            tracing::error!(%error, "Cannot flush the store; nothing is sent until it works.");
            continue;
        }
        ctx.unrecorded_sends.flushed(boot, mark);
        match ctx.store.read().outbox_heads() {
            Ok(heads) => {
                let now_utc = now();
                for (seq, item) in heads {
                    if item.not_before > now_utc || in_flight.busy(item.chat_id, seq) {
                        continue;
                    }
                    if in_flight.full() {
                        break;
                    }
                    let paced = !matches!(item.action, SendAction::AnswerCallback { .. });
                    if paced && pacer.try_acquire(item.chat_id).is_err() {
                        continue;
                    }
                    in_flight.start(&ctx, &pacer, seq, item);
                    progressed = true;
                }
            }
            Err(error) => {
                tracing::error!(%error, "Cannot read the outbox.");
                super::set_aside_unreadable(&ctx, &error);
            }
        }
        progressed |= edit_stale_cards(&ctx, &pacer, &mut last_edit).await;
        if progressed {
            let boot = ctx.store.boot();
            let mark = ctx.unrecorded_sends.mark();
            if ctx.store.flush().await.is_ok() {
                ctx.unrecorded_sends.flushed(boot, mark);
            }
        }
        if !idle(
            &ctx.signals.sends,
            Duration::from_millis(if progressed { 20 } else { 250 }),
            &cancel,
        )
        .await
        {
            break;
        }
    }
    // A send under way is let finish and recorded: cut off, its message could reach the chat
    // with no record of it, and go out again after the restart.
    in_flight.finish().await;
    let boot = ctx.store.boot();
    let mark = ctx.unrecorded_sends.mark();
    if ctx.store.flush().await.is_ok() {
        ctx.unrecorded_sends.flushed(boot, mark);
    }
}

/// At most this many sends are under way at once, each to another chat. Telegram's own limits
/// (the pacer) bound the rate; this bounds what a burst of slow uploads holds open.
const MAX_SENDS_IN_FLIGHT: usize = 16;

/// Sends under way. Each chat has at most one, so its messages keep their order; a slow one (a
/// 20 MB file on a slow link takes minutes) holds back only its own chat.
#[derive(Default)]
struct InFlight {
    tasks: tokio::task::JoinSet<(i64, u64)>,
    /// By chat and by outbox item: an item whose chat was upgraded to a supergroup while it was
    /// being sent heads the new chat's queue under the same sequence number.
    chats: std::collections::HashSet<i64>,
    seqs: std::collections::HashSet<u64>,
}

impl InFlight {
    fn busy(&self, chat_id: i64, seq: u64) -> bool {
        self.chats.contains(&chat_id) || self.seqs.contains(&seq)
    }

    fn full(&self) -> bool {
        self.tasks.len() >= MAX_SENDS_IN_FLIGHT
    }

    fn start(&mut self, ctx: &Arc<Context>, pacer: &Arc<Pacer>, seq: u64, item: Outgoing) {
        let chat_id = item.chat_id;
        self.chats.insert(chat_id);
        self.seqs.insert(seq);
        let (ctx, pacer) = (Arc::clone(ctx), Arc::clone(pacer));
        self.tasks.spawn(async move {
            deliver(&ctx, &pacer, seq, item).await;
            // The chat's next message may be due now.
            ctx.signals.sends.notify_one();
            (chat_id, seq)
        });
    }

    /// Forgets the sends that have finished; true when there were any.
    fn reap(&mut self) -> bool {
        let mut any = false;
        while let Some(done) = self.tasks.try_join_next() {
            any = true;
            self.forget(done);
        }
        any
    }

    async fn finish(&mut self) {
        while let Some(done) = self.tasks.join_next().await {
            self.forget(done);
        }
    }

    fn forget(&mut self, done: Result<(i64, u64), tokio::task::JoinError>) {
        match done {
            Ok((chat_id, seq)) => {
                self.chats.remove(&chat_id);
                self.seqs.remove(&seq);
            }
            Err(error) => {
                // A panicked send names no chat: start over with none marked busy rather than
                // hold a chat for good. The others' outcomes are recorded by their own tasks.
                tracing::error!(%error, "A Telegram send ended abnormally.");
                if self.tasks.is_empty() {
                    self.chats.clear();
                    self.seqs.clear();
                }
            }
        }
    }
}

async fn deliver(ctx: &Context, pacer: &Pacer, seq: u64, item: Outgoing) {
    let chat_id = item.chat_id;
    // A send whose record failed (a full disk) is not made again: the store comes back with the
    // item as it was before the send, and what the send produced is taken from memory instead.
    let memo = SendMemo::key(seq, &item);
    let remembered = ctx.unrecorded_sends.take(&memo);
    let sent_now = remembered.is_none();
    let result = match remembered {
        Some(sent) => {
            tracing::info!(
                chat_id,
                seq,
                "Recording a send made before the store failed."
            );
            Ok(sent)
        }
        None => send(ctx, &item).await,
    };
    if let Err(TgError::RetryAfter(wait)) = &result {
        // Nothing more goes to the chat until Telegram's wait is over, this item or another.
        pacer.hold(chat_id, *wait);
    }
    let written = ctx.store.write(|tx| {
        // The chat's queue may have moved while the send was in flight (the group became a
        // supergroup): the outcome goes to the item where it is now, and never brings it back
        // under the old chat, where it would be sent a second time.
        let Some(queued) = tx.outgoing_followed(chat_id, seq)? else {
            // No longer queued anywhere: what was sent is still recorded, nothing is re-queued.
            return match &result {
                Ok(Sent::Part(id)) => record(tx, &item, &Sent::Messages(vec![*id])),
                Ok(sent) => record(tx, &item, sent),
                Err(_) => Ok(()),
            };
        };
        match &result {
            Ok(Sent::Part(message_id)) => {
                // The part is recorded before the next one is sent (the pass that sends it
                // flushes the store first), so a retry or a restart resumes after it.
                let mut rest = queued;
                rest.sent_parts.push(*message_id);
                // The failures counted so far were about parts that have gone out since.
                rest.attempts = 0;
                tx.put_outgoing(seq, &rest);
                record(tx, &item, &Sent::Messages(vec![*message_id]))?;
            }
            Ok(sent) => {
                tx.remove_outgoing(queued.chat_id, seq);
                record(tx, &item, sent)?;
            }
            Err(TgError::RetryAfter(wait)) => {
                let mut again = queued;
                again.not_before = now() + *wait;
                tx.put_outgoing(seq, &again);
            }
            Err(TgError::Migrated(new_chat)) => {
                tracing::warn!(
                    old = chat_id,
                    new = new_chat,
                    "Group upgraded to a supergroup; following it."
                );
                tx.move_outbox(chat_id, *new_chat)?;
            }
            Err(error) if error.is_temporary() && queued.attempts + 1 < MAX_ATTEMPTS => {
                let mut again = queued;
                again.attempts += 1;
                again.not_before = now() + backoff(again.attempts);
                tx.put_outgoing(seq, &again);
            }
            Err(error) => {
                tx.remove_outgoing(queued.chat_id, seq);
                let id = tx.bury(
                    error.to_string(),
                    DeadItem::Send {
                        item: queued.clone(),
                    },
                )?;
                tell_staff_reply_undelivered(ctx, tx, &queued, id, &error.to_string())?;
            }
        }
        Ok(())
    });
    // Until its record is on disk, a send is remembered: a flush can still fail after the write
    // succeeded, and the store then comes back without the record.
    if let Ok(sent) = &result {
        let recorded_in = written.is_ok().then(|| ctx.store.boot());
        ctx.unrecorded_sends.keep(memo, sent.clone(), recorded_in);
    }
    match (&result, written) {
        (_, Err(error)) => tracing::error!(%error, "Cannot record a Telegram send."),
        (Err(TgError::RetryAfter(wait)), _) => {
            tracing::warn!(chat_id, retry_in = ?wait, "Telegram flood control; rescheduled.")
        }
        (Err(error), _) if error.is_temporary() => {
            tracing::warn!(chat_id, %error, "Telegram send failed; will retry.")
        }
        (Err(error), _) => {
            tracing::error!(chat_id, %error, "Telegram refused a message; moved to dead letters.")
        }
        (Ok(sent), _) => {
            // The last part of a staff reply: the reply is in Telegram (counted once, when sent).
            if sent_now
                && matches!(item.action, SendAction::StaffReply { .. })
                && matches!(sent, Sent::Messages(_))
            {
                crate::telemetry::comment_mirrored("to_telegram");
            }
        }
    }
}

/// Sends Telegram accepted whose record is not known to be on disk, by outbox item as it stood
/// when sent. Kept in memory across the store's recovery (never across a restart: that window
/// is the one crash window every send has), for at most [`MEMO_KEEP`] and [`MEMO_CAPACITY`]
/// sends: a memo whose item never comes back (its record did reach the disk after all) would
/// otherwise stay for the life of the process.
pub(crate) struct SendMemo {
    memos: std::sync::Mutex<ExpiringMap<MemoKey, Memo>>,
    /// Counts the memos kept, so that a flush clears only those recorded before it began
    /// (sends finish while another task flushes).
    kept: std::sync::atomic::AtomicU64,
}

/// What a send produced, the boot whose store holds its record (`None`: recording it failed), and
/// when it was kept (see [`SendMemo::mark`]).
type Memo = (Sent, Option<u64>, u64);

/// Where the memos stood when a flush began: see [`SendMemo::mark`].
#[derive(Clone, Copy)]
pub(crate) struct MemoMark(u64);

/// How long a memo waits for its item to come round again. The item is due again as soon as the
/// store works, and a store that does not work for 15 minutes ends the process
/// ([`super::store_watch`]), so an hour-old memo is one nobody will ask for.
const MEMO_KEEP: Duration = Duration::from_secs(3600);
/// More sends than the sender makes between two flushes, by far.
const MEMO_CAPACITY: usize = 10_000;

impl Default for SendMemo {
    fn default() -> Self {
        Self {
            memos: std::sync::Mutex::new(ExpiringMap::new(MEMO_CAPACITY)),
            kept: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

/// An outbox item's sequence number and the digest of its stored form.
type MemoKey = (u64, u64);

impl SendMemo {
    /// The item's sequence number and a digest of its stored form: a sequence number handed out
    /// again after a recovery names another item, with another digest.
    fn key(seq: u64, item: &Outgoing) -> MemoKey {
        (seq, crate::model::json_digest(item))
    }

    fn take(&self, key: &MemoKey) -> Option<Sent> {
        self.lock()
            .take(key, Instant::now())
            .map(|(sent, _, _)| sent)
    }

    /// Remembers a send; `recorded_in` is the boot whose store holds its record (in memory),
    /// `None` when recording it failed.
    /// The record is written before its memo is kept, so a memo kept before a flush begins has
    /// its record in that flush.
    fn keep(&self, key: MemoKey, sent: Sent, recorded_in: Option<u64>) {
        let now = Instant::now();
        let order = self.kept.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.lock()
            .insert(key, (sent, recorded_in, order), now + MEMO_KEEP, now);
    }

    /// Taken just before a flush, and handed to [`SendMemo::flushed`] when it succeeds.
    pub(crate) fn mark(&self) -> MemoMark {
        MemoMark(self.kept.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// A flush of `boot`'s store that began at `mark` succeeded: the sends recorded in it before
    /// then are on disk now. A send recorded while it ran waits for the next flush.
    pub(crate) fn flushed(&self, boot: u64, mark: MemoMark) {
        self.lock()
            .retain(|_, (_, recorded_in, order)| *recorded_in != Some(boot) || *order >= mark.0);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ExpiringMap<MemoKey, Memo>> {
        self.memos.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A staff reply that Telegram refused for good: the client will not see it, so staff are told
/// in the ticket (rule 5), once per dead letter.
fn tell_staff_reply_undelivered(
    ctx: &Context,
    tx: &mut crate::store::Tx<'_>,
    item: &Outgoing,
    dead_letter: u64,
    error: &str,
) -> crate::store::Result<()> {
    let SendAction::StaffReply { ticket, body, .. } = &item.action else {
        return Ok(());
    };
    let Some(link) = tx.ticket(*ticket)? else {
        return Ok(());
    };
    if link.ticket_id.is_none() {
        return Ok(());
    }
    let note = ctx.settings.lang.reply_undelivered_note(
        &crate::telegram::texts::truncate(body.trim(), 300),
        error,
        item.sent_parts.len(),
    );
    crate::engine::push_job(
        tx,
        *ticket,
        crate::model::JobKind::NoteToStaff {
            key: teledesk_adapter::IdempotencyKey(format!(
                "tg-undelivered:{}:{dead_letter}",
                item.chat_id
            )),
            body: note,
        },
        now(),
    )?;
    ctx.signals.jobs.notify_one();
    Ok(())
}

/// What a successful send produced.
#[derive(Clone, Debug)]
pub(crate) enum Sent {
    Messages(Vec<i32>),
    /// One part of a multi-part action, with more to come.
    Part(i32),
    Card {
        message_id: i32,
        fingerprint: u64,
    },
    Nothing,
    /// The user cannot receive private messages from the bot.
    Undeliverable(DmState),
}

async fn send(ctx: &Context, item: &Outgoing) -> Result<Sent, TgError> {
    let tg = &ctx.telegram;
    let chat_id = item.chat_id;
    match &item.action {
        SendAction::Text {
            html,
            reply_to,
            keyboard,
            ticket,
            ..
        } => {
            let topic = topic_of(ctx, chat_id, *ticket, *reply_to);
            // A long list (`/my` of a busy client) becomes several messages.
            let ids = tg
                .send_html_parts(chat_id, topic, html, *reply_to, keyboard.as_ref())
                .await?;
            Ok(Sent::Messages(ids))
        }
        SendAction::Card { ticket } => {
            let mut link = ctx
                .store
                .read()
                .ticket(*ticket)
                .ok()
                .flatten()
                .ok_or_else(|| TgError::Rejected(format!("ticket {ticket} is gone")))?;
            if link.topic.is_none() && is_forum(ctx, chat_id) {
                link.topic = Some(open_topic(ctx, chat_id, &link).await?);
            }
            let topic = link.topic;
            let card = render_card(ctx, &link);
            // A channel post cannot answer a message of the discussion group it came from, and a
            // topic's first message answers nothing.
            let reply_to = link
                .source_message_id
                .filter(|_| link.source_chat() == chat_id && topic.is_none());
            let id = tg
                .send_html_in(chat_id, topic, &card.html, reply_to, card.keyboard.as_ref())
                .await?;
            Ok(Sent::Card {
                message_id: id,
                fingerprint: card.fingerprint(),
            })
        }
        SendAction::StaffReply {
            ticket,
            author,
            body,
            files,
            ..
        } => {
            let link = ctx.store.read().ticket(*ticket).ok().flatten();
            let reply_to = link.as_ref().and_then(|l| match l.reply_target() {
                (chat, Some(root)) if chat == chat_id => Some(root),
                _ => l.card_message_id.or(l.source_message_id),
            });
            let topic = link.as_ref().and_then(|l| l.topic);
            let header = ctx.settings.lang.staff_reply_header(author);
            // The text chunks, then the files: one message each, sent one per call so that each
            // is recorded (`sent_parts`) before the next goes out. A crash after Telegram
            // accepted a part but before its record resends that one part: the only window,
            // since Telegram has no idempotency key to ask whether it already has it.
            let html = format!("{header}\n\n{}", escape(body.trim()));
            let chunks = split_html(&html, TEXT_LIMIT);
            let next = item.sent_parts.len();
            let id = if let Some(chunk) = chunks.get(next) {
                tg.send_html_in(chat_id, topic, chunk, reply_to, None)
                    .await?
            } else if let Some(file) = files.get(next - chunks.len()) {
                let content = match &file.stored {
                    Some(name) => ctx.store.files().open(name),
                    None => Ok(Content::from_vec(file.bytes.clone())),
                };
                match content {
                    Ok(content) => {
                        tg.send_file(chat_id, topic, &file.file_name, &content, reply_to)
                            .await?
                    }
                    // Gone for good (removed by hand, a damaged record): its name keeps the
                    // part's place so the parts after it are still counted right.
                    Err(error) => {
                        tracing::warn!(%error, file = %file.file_name, "A staff file to send is missing.");
                        let note = escape(&format!("[{}]", file.file_name));
                        tg.send_html_in(chat_id, topic, &note, reply_to, None)
                            .await?
                    }
                }
            } else {
                // Every part went out before (the text now splits into fewer pieces).
                return Ok(Sent::Nothing);
            };
            Ok(if next + 1 < chunks.len() + files.len() {
                Sent::Part(id)
            } else {
                Sent::Messages(vec![id])
            })
        }
        SendAction::AnswerCallback {
            query_id,
            text,
            alert,
        } => {
            match tg.answer_callback(query_id, text.as_deref(), *alert).await {
                // An old query cannot be answered any more; nothing is lost by dropping it.
                Err(TgError::Rejected(_)) | Ok(()) => Ok(Sent::Nothing),
                Err(e) => Err(e),
            }
        }
        SendAction::TopicState { ticket, closed } => {
            let topic = ctx
                .store
                .read()
                .ticket(*ticket)
                .ok()
                .flatten()
                .and_then(|l| l.topic);
            if let Some(topic) = topic {
                tg.set_forum_topic_closed(chat_id, topic, *closed).await?;
            }
            Ok(Sent::Nothing)
        }
        SendAction::Notify { html, link } => {
            let keyboard = link.as_ref().map(|url| Keyboard {
                rows: vec![vec![Button::link(
                    ctx.settings.lang.button_open_thread(),
                    url,
                )]],
            });
            match tg
                .send_html_parts(chat_id, None, html, None, keyboard.as_ref())
                .await
            {
                Ok(ids) => Ok(Sent::Messages(ids)),
                // Telegram lets a bot write only to users who started it; a refusal is a fact
                // about the user, recorded once, not a failure to retry or dead-letter.
                Err(TgError::Forbidden(reason)) if reason.contains("blocked") => {
                    Ok(Sent::Undeliverable(DmState::Blocked))
                }
                Err(TgError::Forbidden(_)) => Ok(Sent::Undeliverable(DmState::NeverStarted)),
                Err(TgError::Rejected(reason)) if reason.contains("chat not found") => {
                    Ok(Sent::Undeliverable(DmState::NeverStarted))
                }
                Err(e) => Err(e),
            }
        }
        SendAction::EditKeyboard {
            message_id,
            keyboard,
        } => {
            match tg
                .edit_keyboard(chat_id, *message_id, keyboard.as_ref())
                .await
            {
                // The prompt may have been deleted by an admin: fine.
                Err(TgError::Rejected(_)) | Ok(()) => Ok(Sent::Nothing),
                Err(e) => Err(e),
            }
        }
    }
}

fn record(tx: &mut crate::store::Tx<'_>, item: &Outgoing, sent: &Sent) -> crate::store::Result<()> {
    let chat_id = item.chat_id;
    if let Sent::Undeliverable(state) = sent {
        tracing::info!(
            user_id = chat_id,
            ?state,
            "The user cannot receive notifications; noted."
        );
        tx.set_dm_state(chat_id, *state);
        return Ok(());
    }
    match (&item.action, sent) {
        (
            SendAction::Text {
                ticket,
                dialogue_user,
                keyboard,
                ..
            },
            Sent::Messages(ids),
        ) => {
            if let Some(local) = ticket {
                for id in ids {
                    tx.index_message(chat_id, *id, *local);
                }
            }
            if let (Some(user), Some(id)) = (dialogue_user, ids.last())
                && keyboard.is_some()
                && let Some(mut dialogue) = tx.dialogue(chat_id, *user)?
            {
                dialogue.prompt_message_id = Some(*id);
                tx.put_dialogue(&dialogue);
            }
        }
        (
            SendAction::Card { ticket },
            Sent::Card {
                message_id,
                fingerprint,
            },
        ) => {
            // A card sent to a chat the ticket has since left (the group was upgraded while the
            // send was in flight) is history: the ticket's card is re-posted in its new chat.
            if let Some(mut link) = tx.ticket(*ticket)?.filter(|l| l.chat_id == chat_id) {
                link.card_message_id = Some(*message_id);
                link.rendered_hash = Some(*fingerprint);
                tx.put_ticket(&link);
                tx.index_message(chat_id, *message_id, *ticket);
                crate::engine::channel::on_post_recorded(tx, *ticket, chat_id, *message_id)?;
            }
        }
        (SendAction::StaffReply { ticket, .. }, Sent::Messages(ids)) => {
            for id in ids {
                tx.index_message(chat_id, *id, *ticket);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Brings cards whose ticket changed up to date. Returns whether it did anything.
async fn edit_stale_cards(ctx: &Context, pacer: &Pacer, last_edit: &mut EditSpacing) -> bool {
    let stale = match ctx.store.read().stale_cards() {
        Ok(stale) => stale,
        Err(error) => {
            tracing::error!(%error, "Cannot read stale cards.");
            return false;
        }
    };
    let mut progressed = false;
    for local in stale {
        let Ok(Some(link)) = ctx.store.read().ticket(local) else {
            forget_stale(ctx, local);
            continue;
        };
        let Some(message_id) = link.card_message_id else {
            // Not sent yet: the first send renders the latest state anyway.
            if link.ticket_id.is_some() || link.number.is_none() {
                forget_stale(ctx, local);
            }
            continue;
        };
        if !last_edit.may_edit(local, Instant::now()) {
            continue;
        }
        let card = render_card(ctx, &link);
        let fingerprint = card.fingerprint();
        if link.rendered_hash == Some(fingerprint) {
            forget_stale(ctx, local);
            continue;
        }
        if pacer.try_acquire(link.chat_id).is_err() {
            continue;
        }
        last_edit.edited(local, Instant::now());
        progressed = true;
        let result = ctx
            .telegram
            .edit_html(link.chat_id, message_id, &card.html, card.keyboard.as_ref())
            .await;
        if let Err(TgError::RetryAfter(wait)) = &result {
            // The card stays stale and is edited once the chat's wait is over.
            pacer.hold(link.chat_id, *wait);
        }
        let written = ctx.store.write(|tx| {
            let Some(mut current) = tx.ticket(local)? else {
                return Ok(());
            };
            if (current.chat_id, current.card_message_id) != (link.chat_id, Some(message_id)) {
                // The card moved (a re-post, a group upgrade) while this edit was in flight; the
                // edit's outcome says nothing about the card the ticket has now.
                return Ok(());
            }
            match &result {
                Ok(()) => {
                    current.rendered_hash = Some(fingerprint);
                    tx.put_ticket(&current);
                    // Changed again while the edit was in flight? Then it stays stale.
                    if render_card(ctx, &current).fingerprint() == fingerprint {
                        tx.clear_card_stale(local);
                    }
                }
                Err(TgError::Rejected(reason)) if reason.contains("not found") => {
                    // Someone deleted the card: post a fresh one.
                    current.card_message_id = None;
                    tx.put_ticket(&current);
                    tx.clear_card_stale(local);
                    crate::engine::send(
                        tx,
                        current.chat_id,
                        SendAction::Card { ticket: local },
                        now(),
                    )?;
                }
                Err(error) if error.is_temporary() => {}
                Err(error) => {
                    tracing::error!(ticket = local, %error, "Cannot edit the ticket card.");
                    tx.clear_card_stale(local);
                }
            }
            Ok(())
        });
        if let Err(error) = written {
            tracing::error!(%error, "Cannot record a card edit.");
        }
    }
    progressed
}

/// When each card was last edited, for [`CARD_EDIT_SPACING`]; holds only the cards edited within
/// it (every ticket ever edited would otherwise stay for the life of the process).
#[derive(Default)]
struct EditSpacing(HashMap<u64, Instant>);

impl EditSpacing {
    fn may_edit(&self, local: u64, now: Instant) -> bool {
        self.0
            .get(&local)
            .is_none_or(|at| now.duration_since(*at) >= CARD_EDIT_SPACING)
    }

    fn edited(&mut self, local: u64, now: Instant) {
        self.0
            .retain(|_, at| now.duration_since(*at) < CARD_EDIT_SPACING);
        self.0.insert(local, now);
    }
}

/// Drops a card's stale mark when there is nothing to edit.
fn forget_stale(ctx: &Context, local: u64) {
    if let Err(error) = ctx.store.write(|tx| {
        tx.clear_card_stale(local);
        Ok(())
    }) {
        tracing::error!(%error, "Cannot update stale cards.");
    }
}

fn is_forum(ctx: &Context, chat_id: i64) -> bool {
    ctx.settings
        .chats
        .get(&chat_id)
        .is_some_and(|c| c.mode == crate::config::ChatMode::Forum)
}

/// The forum topic a message belongs in: its ticket's, named or found by the message it answers.
fn topic_of(
    ctx: &Context,
    chat_id: i64,
    ticket: Option<crate::model::LocalId>,
    reply_to: Option<i32>,
) -> Option<i32> {
    if !is_forum(ctx, chat_id) {
        return None;
    }
    let read = ctx.store.read();
    let local = match ticket {
        Some(local) => Some(local),
        None => read.ticket_of_message(chat_id, reply_to?).ok().flatten(),
    }?;
    read.ticket(local).ok().flatten()?.topic
}

/// Creates the ticket's topic (`#<number> <subject>`) and records it before anything is posted in
/// it, so a failed card send does not open a second topic.
async fn open_topic(
    ctx: &Context,
    chat_id: i64,
    link: &crate::model::TicketLink,
) -> Result<i32, TgError> {
    let number = link.number.as_deref().unwrap_or("?");
    let name = crate::telegram::texts::truncate(&format!("#{number} {}", link.view.subject), 128);
    let topic = ctx.telegram.create_forum_topic(chat_id, &name).await?;
    let local = link.local;
    let written = ctx.store.write(|tx| {
        if let Some(mut current) = tx.ticket(local)? {
            current.topic = Some(topic);
            tx.put_ticket(&current);
            tx.index_message(chat_id, topic, local);
        }
        Ok(())
    });
    if let Err(error) = written {
        tracing::error!(%error, "Cannot record a forum topic.");
    }
    Ok(topic)
}

/// The card of a ticket as its chat shows it (a channel post says where comments go).
fn render_card(ctx: &Context, link: &crate::model::TicketLink) -> render::Card {
    let surface = match ctx.settings.chats.get(&link.chat_id).map(|c| c.mode) {
        Some(crate::config::ChatMode::Channel) => render::Surface::ChannelPost,
        _ if link.topic.is_some() => render::Surface::ForumTopic,
        _ => render::Surface::Group,
    };
    render::card_on(link, ctx.settings.lang, &ctx.settings.bot_username, surface)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_spacing_holds_only_the_cards_edited_lately() {
        let mut spacing = EditSpacing::default();
        let t0 = Instant::now();
        assert!(spacing.may_edit(1, t0));
        spacing.edited(1, t0);
        assert!(!spacing.may_edit(1, t0 + CARD_EDIT_SPACING / 2));
        assert!(spacing.may_edit(1, t0 + CARD_EDIT_SPACING));
        // A card a second, for hours: only the last couple of seconds' are held.
        for local in 0..10_000u64 {
            spacing.edited(local, t0 + Duration::from_secs(local));
        }
        assert!(spacing.0.len() <= 3, "{} cards held", spacing.0.len());
    }

    #[test]
    fn the_send_memo_forgets_what_no_one_will_ask_for() {
        let memo = SendMemo::default();
        for seq in 0..(MEMO_CAPACITY as u64 * 3) {
            memo.keep((seq, 0), Sent::Nothing, None);
        }
        assert!(memo.lock().len() <= MEMO_CAPACITY);
        // The newest are still there to be recorded.
        let newest = MEMO_CAPACITY as u64 * 3 - 1;
        assert!(matches!(memo.take(&(newest, 0)), Some(Sent::Nothing)));
        let mark = memo.mark();
        memo.keep((1, 1), Sent::Nothing, Some(7));
        // Recorded while the flush ran: not known to be on disk.
        memo.flushed(7, mark);
        assert!(memo.lock().len() > 1 && memo.take(&(1, 1)).is_some());
        memo.keep((1, 1), Sent::Nothing, Some(7));
        memo.flushed(7, memo.mark());
        assert!(memo.take(&(1, 1)).is_none());
    }
}
