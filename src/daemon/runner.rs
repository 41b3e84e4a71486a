//! Jobs → helpdesk, and dirty tickets ← helpdesk.
//!
//! The first job of every ticket runs as soon as it is due; a ticket's later jobs wait for it
//! (order per ticket), other tickets go on in parallel (one slow ticket never stalls the rest).
//! A ticket with no jobs left and a dirty mark is re-read and synced to Telegram.

use super::{Context, MAX_ATTEMPTS, backoff, idle, now};
use crate::engine::{self, sync};
use crate::model::{
    ClientFile, CommentLine, DeadItem, Job, JobKind, LocalId, SendAction, StaffFile,
};
use crate::store::{Shelf, Unrecorded, UploadAt};
use crate::telegram::client::TgError;
use crate::telegram::texts::{Lang, truncate};
use backon::{ExponentialBuilder, Retryable};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use teledesk_adapter::{
    Attachment, CommentDraft, Content, Error as HelpdeskError, ErrorKind, Helpdesk, NoteDraft,
    Rating, StatusClass, TicketDraft, TicketRef,
};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Tickets worked on at once. Helpdesks pace their own requests; this bounds memory and sockets.
const PARALLEL_TICKETS: usize = 8;

/// Files larger than this are not forwarded to Telegram (the Bot API's upload limit).
const TELEGRAM_UPLOAD_LIMIT: u64 = 50 * 1024 * 1024;

#[derive(Default)]
struct Busy {
    tickets: HashSet<LocalId>,
    /// Refreshes that failed wait until then.
    refresh_after: HashMap<LocalId, (tokio::time::Instant, u32)>,
}

pub(crate) async fn run(ctx: Arc<Context>, cancel: CancellationToken) {
    let busy = Arc::new(Mutex::new(Busy::default()));
    let permits = Arc::new(Semaphore::new(PARALLEL_TICKETS));
    let tasks = tokio_util::task::TaskTracker::new();
    loop {
        // A job whose effect could not be recorded stays queued; it runs again only once the
        // store works, under a new boot, so it first looks for its earlier write.
        if super::store_watch::paused(&ctx, &cancel).await {
            if cancel.is_cancelled() {
                break;
            }
            continue;
        }
        // Act only on durable state: a job whose creation could still be lost in a crash would
        // be created again after restart under a new boot, and its retry lookup skipped.
        if let Err(error) = ctx.store.flush().await {
            tracing::error!(%error, "Cannot flush the store; no job starts until it works.");
            continue;
        }
        if let Err(error) = schedule(&ctx, &busy, &permits, &tasks) {
            tracing::error!(%error, "Cannot read the job queue.");
            super::set_aside_unreadable(&ctx, &error);
        }
        if !idle(&ctx.signals.jobs, Duration::from_millis(250), &cancel).await {
            break;
        }
    }
    tasks.close();
    tasks.wait().await;
}

fn schedule(
    ctx: &Arc<Context>,
    busy: &Arc<Mutex<Busy>>,
    permits: &Arc<Semaphore>,
    tasks: &tokio_util::task::TaskTracker,
) -> crate::store::Result<()> {
    let read = ctx.store.read();
    let heads = read.job_heads()?;
    let with_jobs: HashSet<LocalId> = heads.iter().map(|(local, _, _)| *local).collect();
    let now = now();
    for (local, seq, job) in heads {
        if job.not_before > now {
            continue;
        }
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            return Ok(());
        };
        if !busy.lock().expect("busy lock").tickets.insert(local) {
            continue;
        }
        let (ctx, busy) = (ctx.clone(), busy.clone());
        tasks.spawn(async move {
            let span = tracing::info_span!("job", ticket = local, job = job.kind.name());
            run_job(&ctx, local, seq).instrument(span).await;
            busy.lock().expect("busy lock").tickets.remove(&local);
            drop(permit);
            ctx.signals.jobs.notify_one();
        });
    }
    let instant = tokio::time::Instant::now();
    for (local, stamp) in read.dirty()? {
        if with_jobs.contains(&local) {
            continue;
        }
        {
            let busy = busy.lock().expect("busy lock");
            if busy.tickets.contains(&local)
                || busy
                    .refresh_after
                    .get(&local)
                    .is_some_and(|(after, _)| *after > instant)
            {
                continue;
            }
        }
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            return Ok(());
        };
        busy.lock().expect("busy lock").tickets.insert(local);
        let (ctx, busy) = (ctx.clone(), busy.clone());
        tasks.spawn(async move {
            let span = tracing::info_span!("refresh", ticket = local);
            let failed = refresh(&ctx, local, stamp).instrument(span).await;
            let mut state = busy.lock().expect("busy lock");
            state.tickets.remove(&local);
            match failed {
                None => {
                    state.refresh_after.remove(&local);
                }
                Some(wait) => {
                    let attempts = state.refresh_after.get(&local).map_or(0, |(_, n)| *n) + 1;
                    let wait = wait.max(backoff(attempts));
                    state
                        .refresh_after
                        .insert(local, (tokio::time::Instant::now() + wait, attempts));
                }
            }
            drop(state);
            drop(permit);
            ctx.signals.jobs.notify_one();
        });
    }
    Ok(())
}

/// A job's failure, as the queue sees it.
enum Failure {
    /// Try again later (backoff, or the server's hint).
    Later(String, Option<Duration>),
    /// It will never work.
    Never(String),
}

impl From<HelpdeskError> for Failure {
    fn from(error: HelpdeskError) -> Self {
        if error.is_temporary() {
            Failure::Later(error.to_string(), error.retry_after())
        } else {
            Failure::Never(error.to_string())
        }
    }
}

async fn run_job(ctx: &Context, local: LocalId, seq: u64) {
    // The heads were read before this task was spawned; another task may have finished this very
    // job in between (and freed the ticket). The store is the truth: act on what it holds now.
    let job = match ctx.store.read().job(local, seq) {
        Ok(Some(current)) => current,
        Ok(None) => return,
        Err(error) => {
            tracing::error!(%error, "Cannot read the job.");
            return;
        }
    };
    let link = match ctx.store.read().ticket(local) {
        Ok(Some(link)) => link,
        Ok(None) => {
            tracing::error!(
                ticket = local,
                "Job for an unknown ticket; dropped to dead letters."
            );
            dead_letter(
                ctx,
                local,
                seq,
                &job,
                "the ticket record is missing".into(),
                None,
            );
            return;
        }
        Err(error) => {
            tracing::error!(ticket = local, %error, "Cannot read the ticket.");
            return;
        }
    };
    let Some(helpdesk) = ctx.helpdesk(&link.helpdesk).cloned() else {
        dead_letter(
            ctx,
            local,
            seq,
            &job,
            format!("helpdesk `{}` is not configured", link.helpdesk),
            None,
        );
        return;
    };
    // A job queued by an earlier run may have reached the helpdesk before that run died.
    let retry = job.attempts > 0 || job.boot != ctx.store.boot();
    let result = match &job.kind {
        JobKind::CreateTicket { .. } => {
            create_ticket(ctx, helpdesk.as_ref(), local, seq, &job, retry).await
        }
        JobKind::AddComment { .. } => {
            add_comment(ctx, helpdesk.as_ref(), local, seq, &job, retry).await
        }
        JobKind::Rate { .. }
        | JobKind::Reopen { .. }
        | JobKind::Escalate { .. }
        | JobKind::NoteToStaff { .. } => {
            lifecycle_job(ctx, helpdesk.as_ref(), local, seq, &job, retry).await
        }
    };
    match result {
        Ok(()) => {}
        Err(Failure::Later(error, retry_after)) => {
            let attempts = job.attempts + 1;
            if attempts >= MAX_ATTEMPTS {
                tracing::error!(%error, attempts, "Giving up on a helpdesk write.");
                dead_letter(ctx, local, seq, &job, error, Some(&link));
                return;
            }
            let wait = backoff(attempts).max(retry_after.unwrap_or_default());
            tracing::warn!(%error, attempts, retry_in = ?wait, "Helpdesk write failed; will retry.");
            let mut again = job.clone();
            again.attempts = attempts;
            again.not_before = now() + wait;
            again.last_error = Some(error);
            let notify_client = attempts == 1 && matches!(job.kind, JobKind::CreateTicket { .. });
            let written = ctx.store.write(|tx| {
                // The job may have grown (an album item) while it ran; keep what is stored.
                let mut current = tx.job(local, seq)?.unwrap_or(job.clone());
                current.attempts = again.attempts;
                current.not_before = again.not_before;
                current.last_error = again.last_error.clone();
                tx.put_job(local, seq, &current);
                // A Mini App submission has no message to answer: the app itself shows that
                // the ticket is accepted and waits to be registered.
                if notify_client && link.source_message_id.is_some() {
                    engine::say(
                        tx,
                        link.source_chat(),
                        link.source_message_id,
                        lang(ctx).helpdesk_unavailable(),
                        now(),
                    )?;
                }
                Ok(())
            });
            if let Err(error) = written {
                tracing::error!(%error, "Cannot record the retry.");
            }
            if notify_client {
                ctx.signals.sends.notify_one();
            }
        }
        Err(Failure::Never(error)) => {
            tracing::error!(%error, "Helpdesk refused a write; moved to dead letters.");
            dead_letter(ctx, local, seq, &job, error, Some(&link));
        }
    }
}

/// The chat's `[chats.ticket]`, also when the config names the other id of an upgraded group.
fn ticket_defaults(ctx: &Context, chat_id: i64) -> teledesk_adapter::ConfigTable {
    let alias = || ctx.store.read().chat_alias(chat_id).ok().flatten();
    ctx.ticket_defaults
        .get(&chat_id)
        .or_else(|| alias().and_then(|other| ctx.ticket_defaults.get(&other)))
        .cloned()
        .unwrap_or_default()
}

fn lang(ctx: &Context) -> Lang {
    ctx.settings.lang
}

/// Calls the helpdesk with a few quick retries for temporary errors; `retry` tells the adapter an
/// earlier attempt may have landed, which is true from the second try on.
async fn with_retries<T, F, Fut>(first_is_retry: bool, call: F) -> Result<T, HelpdeskError>
where
    F: Fn(bool) -> Fut,
    Fut: std::future::Future<Output = Result<T, HelpdeskError>>,
{
    let attempted = AtomicBool::new(false);
    (|| async {
        let retry = first_is_retry || attempted.swap(true, Ordering::SeqCst);
        call(retry).await
    })
    .retry(
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(300))
            .with_max_delay(Duration::from_secs(5))
            .with_max_times(2)
            .with_jitter(),
    )
    .when(|e: &HelpdeskError| e.is_temporary() && e.retry_after().is_none_or(|d| d <= Duration::from_secs(5)))
    .adjust(|e: &HelpdeskError, d| e.retry_after().or(d))
    .notify(|e: &HelpdeskError, d| tracing::debug!(error = %e, retry_in = ?d, "Retrying a helpdesk call."))
    .await
}

/// Downloads a client's files from Telegram. Files Telegram will not give (over 20 MB) are
/// replaced by a note in the text rather than blocking the comment forever.
async fn download_files(
    ctx: &Context,
    files: &[ClientFile],
) -> Result<(Vec<Attachment>, Vec<String>), Failure> {
    let mut attachments = Vec::new();
    let mut notes = Vec::new();
    let spool = ctx.store.files().transit_spool();
    for file in files {
        if let Some(upload) = file.upload_id() {
            // Uploaded through the Mini App: the bytes wait in the store.
            let content = match ctx.store.read().upload(upload) {
                Ok(Some(UploadAt::Stored(name))) => ctx.store.files().open(&name).ok(),
                Ok(Some(UploadAt::Inline(bytes))) => Some(Content::from_vec(bytes)),
                Ok(None) => None,
                Err(error) => return Err(Failure::Later(error.to_string(), None)),
            };
            match content {
                Some(content) => attachments.push(Attachment {
                    file_name: file.file_name.clone(),
                    content_type: file.content_type.clone(),
                    content,
                }),
                None => notes.push(format!("[{}: the upload is gone]", file.file_name)),
            }
            continue;
        }
        match ctx.telegram.download(&file.file_id, &spool).await {
            Ok(content) => attachments.push(Attachment {
                file_name: file.file_name.clone(),
                content_type: file.content_type.clone(),
                content,
            }),
            Err(error) if error.is_temporary() => {
                let wait = match error {
                    TgError::RetryAfter(d) => Some(d),
                    _ => None,
                };
                return Err(Failure::Later(
                    format!("downloading {}: {error}", file.file_name),
                    wait,
                ));
            }
            Err(error) => {
                tracing::warn!(file = %file.file_name, %error, "A client's file could not be downloaded.");
                notes.push(format!("[{}: {error}]", file.file_name));
            }
        }
    }
    Ok((attachments, notes))
}

async fn create_ticket(
    ctx: &Context,
    helpdesk: &dyn Helpdesk,
    local: LocalId,
    seq: u64,
    job: &Job,
    retry: bool,
) -> Result<(), Failure> {
    let JobKind::CreateTicket {
        key,
        subject,
        description,
        files,
        registered_at,
        source_url,
        follow_up_of,
    } = &job.kind
    else {
        unreachable!("dispatched by kind");
    };
    // The original was created before the comment that closed-over it could arrive, so its
    // helpdesk id is known.
    let follow_up_of = follow_up_of
        .and_then(|original| ctx.store.read().ticket(original).ok().flatten())
        .and_then(|original| {
            Some(TicketRef {
                id: original.ticket_id?,
                number: original.number.unwrap_or_default(),
                url: None,
            })
        });
    let link = ctx
        .store
        .read()
        .ticket(local)
        .ok()
        .flatten()
        .ok_or_else(|| Failure::Never("ticket record vanished".into()))?;
    let (attachments, notes) = download_files(ctx, files).await?;
    let mut description = description.clone();
    for note in notes {
        description.push('\n');
        description.push_str(&note);
    }
    let draft = TicketDraft {
        follow_up_of,
        key: key.clone(),
        subject: subject.clone(),
        description,
        requester: link.author.clone(),
        source_url: source_url.clone(),
        registered_at: *registered_at,
        attachments,
        defaults: ticket_defaults(ctx, link.chat_id),
        retry,
    };
    let created = with_retries(retry, |retry| {
        let mut draft = draft.clone();
        draft.retry = retry;
        async move { helpdesk.create_ticket(&draft).await }
    })
    .await?;
    tracing::info!(number = %created.number, "Ticket created.");
    ctx.store
        .write(|tx| {
            let mut link = tx.ticket(local)?.unwrap_or(link.clone());
            link.ticket_id = Some(created.id.clone());
            link.number = Some(created.number.clone());
            tx.put_ticket(&link);
            tx.remove_job(local, seq);
            for upload in files.iter().filter_map(ClientFile::upload_id) {
                tx.remove_upload(upload);
            }
            engine::send(tx, link.chat_id, SendAction::Card { ticket: local }, now())?;
            Ok(())
        })
        .map_err(|e| Failure::Later(e.to_string(), None))?;
    let _ = ctx.store.flush().await;
    ctx.signals.sends.notify_one();
    Ok(())
}

async fn add_comment(
    ctx: &Context,
    helpdesk: &dyn Helpdesk,
    local: LocalId,
    seq: u64,
    job: &Job,
    retry: bool,
) -> Result<(), Failure> {
    let JobKind::AddComment {
        key,
        author,
        body,
        files,
        written_at,
        source_url,
        message_ids,
        ..
    } = &job.kind
    else {
        unreachable!("dispatched by kind");
    };
    let link = ctx
        .store
        .read()
        .ticket(local)
        .ok()
        .flatten()
        .ok_or_else(|| Failure::Never("ticket record vanished".into()))?;
    let Some(ticket_id) = link.ticket_id.clone() else {
        return Err(Failure::Never(
            "the ticket was never created in the helpdesk".into(),
        ));
    };
    let (attachments, notes) = download_files(ctx, files).await?;
    let mut text = body.clone();
    for note in notes {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&note);
    }
    let draft = CommentDraft {
        key: key.clone(),
        author: author.clone(),
        body: text.clone(),
        attachments,
        source_url: source_url.clone(),
        written_at: *written_at,
        retry,
    };
    let comment_id = with_retries(retry, |retry| {
        let mut draft = draft.clone();
        draft.retry = retry;
        let ticket_id = ticket_id.clone();
        async move { helpdesk.add_comment(&ticket_id, &draft).await }
    })
    .await?;
    let line = CommentLine {
        author: author.display_name.clone(),
        text: if text.trim().is_empty() {
            format!(
                "📎 {}",
                files
                    .iter()
                    .map(|f| f.file_name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            truncate(&text.replace('\n', " "), 300)
        },
    };
    let waiting_client = link.view.status == StatusClass::WaitingClient;
    ctx.store
        .write(|tx| {
            let mut link = tx.ticket(local)?.unwrap_or(link.clone());
            link.known_comments.push(comment_id.clone());
            link.comment_authors
                .push((comment_id.clone(), author.display_name.clone()));
            link.view.last_comments.push(line.clone());
            let excess = link
                .view
                .last_comments
                .len()
                .saturating_sub(sync::CARD_COMMENTS);
            link.view.last_comments.drain(..excess);
            tx.put_ticket(&link);
            tx.mark_card_stale(local);
            // An album item that arrived while this ran stays queued as its own comment.
            match tx.job(local, seq)? {
                Some(mut current) if current != *job => {
                    if let JobKind::AddComment {
                        key,
                        files: f,
                        message_ids: m,
                        body: b,
                        ..
                    } = &mut current.kind
                    {
                        let done: HashSet<i32> = message_ids.iter().copied().collect();
                        let done_files: HashSet<&str> =
                            files.iter().map(|x| x.file_id.as_str()).collect();
                        m.retain(|id| !done.contains(id));
                        f.retain(|x| !done_files.contains(x.file_id.as_str()));
                        b.clear();
                        if let Some(first) = m.first() {
                            *key = teledesk_adapter::IdempotencyKey::telegram(link.chat_id, *first);
                            current.not_before = now();
                            tx.put_job(local, seq, &current);
                        } else {
                            tx.remove_job(local, seq);
                        }
                    }
                }
                _ => tx.remove_job(local, seq),
            }
            if waiting_client {
                tx.mark_dirty(local)?;
            }
            Ok(())
        })
        .map_err(|e| Failure::Later(e.to_string(), None))?;
    let _ = ctx.store.flush().await;
    ctx.signals.sends.notify_one();
    if waiting_client && helpdesk.capability().set_status {
        match helpdesk
            .set_status(&ticket_id, StatusClass::ClientReplied)
            .await
        {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Unsupported => {}
            Err(error) => {
                tracing::warn!(%error, "Could not mark the ticket as answered by the client.")
            }
        }
    }
    Ok(())
}

/// Rating, reopening and escalation: one helpdesk call each, then a refresh so the card shows what
/// the helpdesk made of it.
async fn lifecycle_job(
    ctx: &Context,
    helpdesk: &dyn Helpdesk,
    local: LocalId,
    seq: u64,
    job: &Job,
    retry: bool,
) -> Result<(), Failure> {
    let link = ctx
        .store
        .read()
        .ticket(local)
        .ok()
        .flatten()
        .ok_or_else(|| Failure::Never("ticket record vanished".into()))?;
    let Some(ticket_id) = link.ticket_id.clone() else {
        return Err(Failure::Never(
            "the ticket was never created in the helpdesk".into(),
        ));
    };
    let lang = lang(ctx);
    let outcome = match &job.kind {
        JobKind::Rate {
            key,
            score,
            comment,
            by,
        } => {
            let rating = Rating {
                key: key.clone(),
                score: *score,
                comment: comment.clone(),
                by: by.clone(),
                note: lang.rating_note(*score, &by.label(), comment.as_deref()),
                retry,
            };
            with_retries(retry, |retry| {
                let mut rating = rating.clone();
                rating.retry = retry;
                let ticket_id = ticket_id.clone();
                async move { helpdesk.rate(&ticket_id, &rating).await.map(|_| ()) }
            })
            .await
        }
        JobKind::Reopen { .. } => {
            with_retries(retry, |_| {
                let ticket_id = ticket_id.clone();
                async move { helpdesk.reopen(&ticket_id).await }
            })
            .await
        }
        JobKind::Escalate { key, by, .. } => {
            let note = NoteDraft {
                key: key.clone(),
                body: lang.escalation_note(&by.label()),
                retry,
            };
            with_retries(retry, |retry| {
                let mut note = note.clone();
                note.retry = retry;
                let ticket_id = ticket_id.clone();
                async move { helpdesk.escalate(&ticket_id, &note).await.map(|_| ()) }
            })
            .await
        }
        JobKind::NoteToStaff { key, body } => {
            let note = NoteDraft {
                key: key.clone(),
                body: body.clone(),
                retry,
            };
            with_retries(retry, |retry| {
                let mut note = note.clone();
                note.retry = retry;
                let ticket_id = ticket_id.clone();
                async move {
                    helpdesk
                        .add_internal_note(&ticket_id, &note)
                        .await
                        .map(|_| ())
                }
            })
            .await
        }
        _ => unreachable!("dispatched by kind"),
    };
    match outcome {
        Ok(()) => {}
        Err(error) if error.kind() == ErrorKind::Unsupported => {
            // The helpdesk has no place for it (no internal notes, no reopen state): Telegram
            // already shows what the client did, and there is nothing to retry.
            tracing::warn!(job = job.kind.name(), %error, "The helpdesk cannot do this; skipped.");
        }
        Err(error) => return Err(error.into()),
    }
    ctx.store
        .write(|tx| {
            tx.remove_job(local, seq);
            tx.mark_dirty(local)?;
            if let JobKind::Escalate { message_id, .. } = &job.kind {
                engine::say(
                    tx,
                    link.reply_target().0,
                    Some(*message_id),
                    lang.escalated(link.number.as_deref()),
                    now(),
                )?;
            }
            Ok(())
        })
        .map_err(|e| Failure::Later(e.to_string(), None))?;
    let _ = ctx.store.flush().await;
    ctx.signals.sends.notify_one();
    Ok(())
}

/// Re-reads a ticket and syncs its card and thread. Returns how long to wait before trying again
/// when it failed.
async fn refresh(ctx: &Context, local: LocalId, stamp: u64) -> Option<Duration> {
    let link = match ctx.store.read().ticket(local) {
        Ok(Some(link)) => link,
        _ => {
            let _ = ctx.store.write(|tx| tx.clear_dirty(local, stamp));
            return None;
        }
    };
    let (Some(helpdesk), Some(ticket_id)) = (
        ctx.helpdesk(&link.helpdesk).cloned(),
        link.ticket_id.clone(),
    ) else {
        let _ = ctx.store.write(|tx| tx.clear_dirty(local, stamp));
        return None;
    };
    let ticket = match with_retries(false, |_| helpdesk.get_ticket(&ticket_id)).await {
        Ok(ticket) => ticket,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            tracing::warn!(ticket = local, %error, "The ticket is gone from the helpdesk; it is no longer synced.");
            let _ = ctx.store.write(|tx| tx.clear_dirty(local, stamp));
            return None;
        }
        Err(error) => {
            tracing::warn!(ticket = local, %error, "Cannot read the ticket; will retry.");
            return Some(error.retry_after().unwrap_or_default());
        }
    };
    let sync = sync::diff(&link, &ticket);
    let mut replies = Vec::new();
    let mut kept = Unrecorded::new(ctx.store.files());
    for comment in &sync.replies {
        let mut files = Vec::new();
        let mut body = comment.body.clone();
        for attachment in &comment.attachments {
            let too_big = attachment.size.is_some_and(|s| s > TELEGRAM_UPLOAD_LIMIT);
            if too_big || !helpdesk.capability().download {
                body.push_str(&format!(
                    "\n{}",
                    lang(ctx).attachment_too_big(&attachment.file_name)
                ));
                continue;
            }
            match helpdesk.download(attachment).await {
                Ok(file) => {
                    // Durable before the outbox record naming it is written.
                    let stored = match kept.keep(Shelf::Outbox, &file.content).await {
                        Ok(name) => name,
                        Err(error) => {
                            tracing::warn!(%error, "Cannot keep a staff file beside the store; will retry.");
                            return Some(Duration::from_secs(5));
                        }
                    };
                    files.push(StaffFile {
                        file_name: file.file_name,
                        content_type: file.content_type,
                        stored: Some(stored),
                        bytes: Vec::new(),
                    })
                }
                Err(error) if error.is_temporary() => {
                    return Some(error.retry_after().unwrap_or_default());
                }
                Err(error) => {
                    tracing::warn!(%error, file = %attachment.file_name, "A staff file could not be downloaded.");
                    body.push_str(&format!("\n[{}]", attachment.file_name));
                }
            }
        }
        replies.push(SendAction::StaffReply {
            ticket: local,
            comment: comment.id.clone(),
            author: comment.author.clone(),
            body,
            files,
        });
    }
    let written = ctx.store.write(|tx| {
        let mut current = tx.ticket(local)?.unwrap_or(link.clone());
        // Comments learned meanwhile (a client comment that landed during this read) stay known.
        for id in &sync.newly_known {
            if !current.known_comments.contains(id) {
                current.known_comments.push(id.clone());
            }
        }
        sync::observe_times(&mut current, &sync, &ticket, now());
        if current.view != sync.view {
            current.view = sync.view.clone();
            tx.mark_card_stale(local);
        }
        if current.topic.is_some() && current.topic_closed != sync.view.status.is_done() {
            current.topic_closed = sync.view.status.is_done();
            let action = SendAction::TopicState {
                ticket: local,
                closed: current.topic_closed,
            };
            engine::send(tx, current.chat_id, action, now())?;
        }
        for html in notifications(ctx, &mut current, &sync) {
            let author = current.author.telegram_id;
            // A user Telegram refused before (never started the bot, blocked it) is not asked
            // again until they write to the bot.
            if author > 0 && tx.dm_state(author)?.may_send() {
                let action = SendAction::Notify {
                    html,
                    link: current.post_link(),
                };
                engine::send(tx, author, action, now())?;
            }
        }
        tx.put_ticket(&current);
        for reply in &replies {
            engine::send(tx, current.reply_target().0, reply.clone(), now())?;
        }
        tx.clear_dirty(local, stamp)?;
        Ok(())
    });
    match written {
        Ok(()) => {
            kept.recorded();
            let _ = ctx.store.flush().await;
            ctx.signals.sends.notify_one();
            None
        }
        Err(error) => {
            tracing::error!(%error, "Cannot record a ticket refresh.");
            Some(Duration::from_secs(1))
        }
    }
}

/// The private notifications a refresh owes the ticket's author: the first staff reply, and the
/// resolution. Marks them as owed on `link` so each goes once.
fn notifications(
    ctx: &Context,
    link: &mut crate::model::TicketLink,
    sync: &sync::Sync,
) -> Vec<String> {
    let lang = lang(ctx);
    let mut out = Vec::new();
    if let Some(first) = sync.replies.first()
        && !link.notified_reply
    {
        link.notified_reply = true;
        out.push(lang.notify_reply(link.number.as_deref(), &sync.view.subject, &first.author));
    }
    if sync.view.status.is_done() && !link.notified_done {
        link.notified_done = true;
        out.push(lang.notify_done(link.number.as_deref(), &sync.view.subject));
    } else if !sync.view.status.is_done() {
        // Reopened: a later resolution is news again.
        link.notified_done = false;
    }
    out
}

fn dead_letter(
    ctx: &Context,
    local: LocalId,
    seq: u64,
    job: &Job,
    error: String,
    link: Option<&crate::model::TicketLink>,
) {
    let written = ctx.store.write(|tx| {
        let mut job = tx.job(local, seq)?.unwrap_or(job.clone());
        job.last_error = Some(error.clone());
        tx.bury(
            error.clone(),
            DeadItem::Job {
                ticket: local,
                job: job.clone(),
            },
        )?;
        tx.remove_job(local, seq);
        if let Some(link) = link {
            // Answer the message the work came from, in the chat it is in.
            let (chat, reply_to) = match &job.kind {
                JobKind::AddComment { message_ids, .. } => {
                    (link.reply_target().0, message_ids.first().copied())
                }
                JobKind::CreateTicket { .. } => (link.source_chat(), link.source_message_id),
                JobKind::Escalate { message_id, .. } => (link.reply_target().0, Some(*message_id)),
                JobKind::Rate { .. } | JobKind::Reopen { .. } => link.reply_target(),
                // Staff could not be told something; the chat has nothing to do with it.
                JobKind::NoteToStaff { .. } => return Ok(()),
            };
            if reply_to.is_none() && matches!(job.kind, JobKind::CreateTicket { .. }) {
                // A Mini App submission: no message in the chat to answer, so tell its author.
                let author = link.author.telegram_id;
                if author > 0 && tx.dm_state(author)?.may_send() {
                    let html = lang(ctx).not_delivered().to_owned();
                    engine::send(tx, author, SendAction::Notify { html, link: None }, now())?;
                }
            } else {
                engine::say(tx, chat, reply_to, lang(ctx).not_delivered(), now())?;
            }
        }
        Ok(())
    });
    if let Err(error) = written {
        tracing::error!(%error, "Cannot record a dead letter.");
    }
    ctx.signals.sends.notify_one();
}
