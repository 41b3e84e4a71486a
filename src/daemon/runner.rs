//! Jobs → helpdesk, and dirty tickets ← helpdesk.
//!
//! The first job of every ticket runs as soon as it is due; a ticket's later jobs wait for it
//! (order per ticket), other tickets go on in parallel (one slow ticket never stalls the rest).
//! A ticket with no jobs left and a dirty mark is re-read and synced to Telegram.

use super::{Context, MAX_ATTEMPTS, backoff, idle, now};
use crate::engine::{self, sync};
use crate::model::{
    ClientFile, CommentLine, DeadItem, Dirty, Job, JobKind, LocalId, SendAction, StaffFile,
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
    Attachment, CommentDraft, CommentMark, Content, Error as HelpdeskError, ErrorKind, Helpdesk,
    NoteDraft, Rating, StatusClass, TicketDraft, TicketRef, work,
};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Files larger than this are not forwarded to Telegram (the Bot API's upload limit).
const TELEGRAM_UPLOAD_LIMIT: u64 = 50 * 1024 * 1024;

/// The helpdesk of this many tickets is remembered between scheduling passes; past it the memory
/// starts afresh (a ticket's helpdesk is one store read away).
const REMEMBERED_HELPDESKS: usize = 100_000;

#[derive(Default)]
struct Busy {
    tickets: HashSet<LocalId>,
    /// Refreshes that failed wait until then; only tickets still marked dirty are held.
    refresh_after: HashMap<LocalId, (tokio::time::Instant, u32)>,
    /// Which helpdesk each ticket lives in (it never moves), so scheduling reads no ticket twice.
    helpdesk_of: HashMap<LocalId, String>,
    /// Each refresh under way: what stops it, and whether it has sent a request yet.
    refreshing: HashMap<LocalId, Refreshing>,
}

/// A refresh under way. A job of its ticket stops it while it still waits at the helpdesk's pacer
/// (it has spent nothing, and the job goes first); one that has sent its read is let finish, as
/// stopping it would throw that read away and make another.
struct Refreshing {
    stop: CancellationToken,
    sent: Arc<AtomicBool>,
}

impl Refreshing {
    /// Stops the refresh for a job of its ticket, unless it has sent a request already. Says
    /// whether it stopped it.
    fn yield_to_job(&self) -> bool {
        if self.sent.load(Ordering::SeqCst) {
            return false;
        }
        self.stop.cancel();
        true
    }
}

/// How many tickets are worked on at once: per helpdesk (its `max_in_flight`), plus one slot for
/// tickets of a helpdesk no longer configured (their work fails into the dead letters).
struct Limits {
    per_helpdesk: HashMap<String, Arc<Semaphore>>,
    unknown: Arc<Semaphore>,
}

impl Limits {
    fn new(ctx: &Context) -> Self {
        Self {
            per_helpdesk: ctx
                .max_in_flight
                .iter()
                .map(|(name, limit)| (name.clone(), Arc::new(Semaphore::new(*limit))))
                .collect(),
            unknown: Arc::new(Semaphore::new(1)),
        }
    }

    fn for_helpdesk(&self, name: &str) -> &Arc<Semaphore> {
        self.per_helpdesk.get(name).unwrap_or(&self.unknown)
    }

    fn all_taken(&self) -> bool {
        self.per_helpdesk
            .values()
            .all(|s| s.available_permits() == 0)
            && self.unknown.available_permits() == 0
    }
}

impl Busy {
    /// Forgets the waits of tickets no longer marked dirty (re-read after a job, say): every
    /// ticket whose refresh ever failed would otherwise stay for the life of the process.
    fn keep_waits_of<T>(&mut self, dirty: &[(LocalId, T)]) {
        if self.refresh_after.is_empty() {
            return;
        }
        let dirty: HashSet<LocalId> = dirty.iter().map(|(local, _)| *local).collect();
        self.refresh_after.retain(|local, _| dirty.contains(local));
    }
}

pub(crate) async fn run(ctx: Arc<Context>, cancel: CancellationToken) {
    let busy = Arc::new(Mutex::new(Busy::default()));
    let limits = Limits::new(&ctx);
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
        if let Err(error) = schedule(&ctx, &busy, &limits, &tasks) {
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

/// A slot to work on `local` now, from its helpdesk's limit; `None` when that helpdesk has as
/// many tickets in flight as it allows.
fn permit_for(
    read: &crate::store::Tx<'_>,
    busy: &Mutex<Busy>,
    limits: &Limits,
    local: LocalId,
) -> crate::store::Result<Option<tokio::sync::OwnedSemaphorePermit>> {
    let known = busy
        .lock()
        .expect("busy lock")
        .helpdesk_of
        .get(&local)
        .cloned();
    let helpdesk = match known {
        Some(name) => name,
        None => {
            let name = read
                .ticket(local)?
                .map(|link| link.helpdesk)
                .unwrap_or_default();
            let mut busy = busy.lock().expect("busy lock");
            if busy.helpdesk_of.len() >= REMEMBERED_HELPDESKS {
                busy.helpdesk_of.clear();
            }
            busy.helpdesk_of.insert(local, name.clone());
            name
        }
    };
    Ok(limits
        .for_helpdesk(&helpdesk)
        .clone()
        .try_acquire_owned()
        .ok())
}

fn schedule(
    ctx: &Arc<Context>,
    busy: &Arc<Mutex<Busy>>,
    limits: &Limits,
    tasks: &tokio_util::task::TaskTracker,
) -> crate::store::Result<()> {
    let read = ctx.store.read();
    let heads = read.job_heads()?;
    let with_jobs: HashSet<LocalId> = heads.iter().map(|(local, _, _)| *local).collect();
    let now = now();
    for (local, seq, job) in heads {
        if limits.all_taken() {
            return Ok(());
        }
        if job.not_before > now {
            continue;
        }
        {
            let busy = busy.lock().expect("busy lock");
            if busy.tickets.contains(&local) {
                // A client's job goes ahead of a background refresh of its ticket, which may be
                // waiting seconds at the helpdesk's pace behind a poll's reads (a Kaiten comment
                // waited 3 to 5 s, BENCHMARKS.md). Stopped, the refresh wrote nothing and the
                // ticket stays dirty: it is read again after the job, which frees the ticket.
                if let Some(refreshing) = busy.refreshing.get(&local) {
                    refreshing.yield_to_job();
                }
                continue;
            }
        }
        let Some(permit) = permit_for(&read, busy, limits, local)? else {
            continue;
        };
        busy.lock().expect("busy lock").tickets.insert(local);
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
    let dirty = read.dirty()?;
    busy.lock().expect("busy lock").keep_waits_of(&dirty);
    for (local, dirty) in dirty {
        if limits.all_taken() {
            return Ok(());
        }
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
        let Some(permit) = permit_for(&read, busy, limits, local)? else {
            continue;
        };
        let (stop, sent) = (CancellationToken::new(), Arc::new(AtomicBool::new(false)));
        {
            let mut busy = busy.lock().expect("busy lock");
            busy.tickets.insert(local);
            let refreshing = Refreshing {
                stop: stop.clone(),
                sent: sent.clone(),
            };
            busy.refreshing.insert(local, refreshing);
        }
        let (ctx, busy) = (ctx.clone(), busy.clone());
        tasks.spawn(async move {
            let span = tracing::info_span!("refresh", ticket = local);
            // Stopped while no request has passed the pacer (or, in a rare race, just after),
            // so at an await before its store write, having written nothing (a staff file it
            // kept is removed with its `Unrecorded`), or after it, with only the flush left.
            let work = work::background_work(sent, refresh(&ctx, local, dirty));
            let failed = tokio::select! {
                failed = work.instrument(span) => failed,
                () = stop.cancelled() => {
                    tracing::debug!(ticket = local, "Refresh stopped for a job of its ticket.");
                    None
                }
            };
            let mut state = busy.lock().expect("busy lock");
            state.tickets.remove(&local);
            state.refreshing.remove(&local);
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
    // A job queued by an earlier run may have reached the helpdesk before that run died; one
    // that failed may have too, unless the helpdesk refused it.
    let retry = job.boot != ctx.store.boot() || (job.attempts > 0 && job.uncertain);
    let (result, trace) = work::client_work(async {
        match &job.kind {
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
        }
    })
    .await;
    let uncertain = retry || trace.may_have_written;
    match result {
        Ok(()) => match &job.kind {
            JobKind::CreateTicket { .. } => crate::telemetry::ticket_created(&link.helpdesk),
            JobKind::AddComment { .. } => crate::telemetry::comment_mirrored("to_helpdesk"),
            _ => {}
        },
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
            again.uncertain = uncertain;
            let notify_client = attempts == 1 && matches!(job.kind, JobKind::CreateTicket { .. });
            let written = ctx.store.write(|tx| {
                // The job may have grown (an album item) while it ran; keep what is stored.
                let mut current = tx.job(local, seq)?.unwrap_or(job.clone());
                current.attempts = again.attempts;
                current.not_before = again.not_before;
                current.last_error = again.last_error.clone();
                current.uncertain = again.uncertain;
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

/// The ticket-table path where the chat's tickets record their registration time, if any.
fn registered_at_target(ctx: &Context, chat_id: i64) -> Option<&str> {
    let alias = || ctx.store.read().chat_alias(chat_id).ok().flatten();
    ctx.registered_at
        .get(&chat_id)
        .or_else(|| alias().and_then(|other| ctx.registered_at.get(&other)))
        .map(String::as_str)
}

fn lang(ctx: &Context) -> Lang {
    ctx.settings.lang
}

/// Calls the helpdesk for a client's write, as client work ([`work::client_work`]: ahead of
/// background reads at the pacer), with a few quick retries for temporary errors. `retry` tells
/// the adapter an earlier attempt may have landed: true when `first_is_retry`, and from the
/// attempt after one whose writes may have reached the helpdesk, never after a refusal (a 429
/// wrote nothing, so the next attempt writes without looking first).
async fn with_retries<T, F, Fut>(first_is_retry: bool, call: F) -> Result<T, HelpdeskError>
where
    F: Fn(bool) -> Fut,
    Fut: std::future::Future<Output = Result<T, HelpdeskError>>,
{
    let landed = AtomicBool::new(first_is_retry);
    (|| async {
        let retry = landed.load(Ordering::SeqCst);
        let (result, trace) = work::client_work(call(retry)).await;
        if trace.may_have_written {
            landed.store(true, Ordering::SeqCst);
            // The job's own scope learns it too: a later attempt of the job must look.
            work::note_possible_write();
        }
        result
    })
    .retry(quick_retries())
    .when(|e: &HelpdeskError| e.is_temporary() && e.retry_after().is_none_or(|d| d <= Duration::from_secs(5)))
    .adjust(|e: &HelpdeskError, d| e.retry_after().or(d))
    .notify(|e: &HelpdeskError, d| tracing::debug!(error = %e, retry_in = ?d, "Retrying a helpdesk call."))
    .await
}

/// Reads from the helpdesk as background work, with the same quick retries.
async fn read_with_retries<T, F, Fut>(call: F) -> Result<T, HelpdeskError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, HelpdeskError>>,
{
    call.retry(quick_retries())
        .when(|e: &HelpdeskError| e.is_temporary() && e.retry_after().is_none_or(|d| d <= Duration::from_secs(5)))
        .adjust(|e: &HelpdeskError, d| e.retry_after().or(d))
        .notify(|e: &HelpdeskError, d| tracing::debug!(error = %e, retry_in = ?d, "Retrying a helpdesk read."))
        .await
}

fn quick_retries() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(300))
        .with_max_delay(Duration::from_secs(5))
        .with_max_times(2)
        .with_jitter()
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
        intake,
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
    // Fields the helpdesk has no field for are kept where staff read: the description.
    let untargeted: Vec<String> = intake
        .fields
        .iter()
        .filter(|f| f.target.is_none())
        .map(|f| format!("{}: {}", f.label, f.value))
        .collect();
    if !untargeted.is_empty() {
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description.push_str(&untargeted.join("\n"));
    }
    let mut draft = TicketDraft {
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
        intake: intake.clone(),
    };
    if let Some(target) = registered_at_target(ctx, link.chat_id) {
        draft.write_registered_at(target);
    }
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
    let written = with_retries(retry, |retry| {
        let mut draft = draft.clone();
        draft.retry = retry;
        let ticket_id = ticket_id.clone();
        async move { helpdesk.write_comment(&ticket_id, &draft).await }
    })
    .await?;
    let comment_id = written.id.clone();
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
    // With snapshots the next poll shows the new state at no cost; without, a refresh reads it.
    let snapshots = helpdesk.capability().change_snapshot;
    ctx.store
        .write(|tx| {
            let mut link = tx.ticket(local)?.unwrap_or(link.clone());
            link.comment_mark = mark_after_own_comment(link.comment_mark, written.created_at);
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
            if waiting_client && !snapshots {
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
            Ok(()) if snapshots => show_client_replied(ctx, local).await,
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Unsupported => {}
            Err(error) => {
                tracing::warn!(%error, "Could not mark the ticket as answered by the client.")
            }
        }
    }
    Ok(())
}

/// Where the ticket's comment mark stands after teledesk's own comment: one more, at the time the
/// helpdesk gave it, so the next snapshot showing exactly that costs no read. Unknown when the
/// mark or the time was.
fn mark_after_own_comment(
    mark: Option<CommentMark>,
    created_at: Option<time::OffsetDateTime>,
) -> Option<CommentMark> {
    let (mark, at) = (mark?, created_at?);
    Some(CommentMark {
        count: mark.count + 1,
        last_added_at: Some(mark.last_added_at.map_or(at, |last| last.max(at))),
    })
}

/// teledesk moved the ticket to "client replied" itself: the card shows it at once, without
/// reading the ticket back (the next poll's snapshot brings the state's own name).
async fn show_client_replied(ctx: &Context, local: LocalId) {
    let written = ctx.store.write(|tx| {
        if let Some(mut link) = tx.ticket(local)?
            && link.view.status == StatusClass::WaitingClient
        {
            link.view.status = StatusClass::ClientReplied;
            tx.put_ticket(&link);
            tx.mark_card_stale(local);
        }
        Ok(())
    });
    match written {
        Ok(()) => ctx.signals.sends.notify_one(),
        Err(error) => tracing::warn!(%error, "Cannot record the client-replied state."),
    }
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

/// Whether a ticket's comments moved between the mark teledesk recorded and a new one: unknown
/// counts as moved, except that a ticket with no comment at all has nothing to read.
fn comments_moved(recorded: Option<CommentMark>, now: CommentMark) -> bool {
    match recorded {
        Some(recorded) => recorded != now,
        None => now.count > 0,
    }
}

/// Syncs a changed ticket's card and thread: from the change's snapshot alone when its comments
/// did not move, reading only the comments when they did, and the whole ticket when there is no
/// snapshot (or something besides the listing asked for a full read). Returns how long to wait
/// before trying again when it failed.
async fn refresh(ctx: &Context, local: LocalId, dirty: Dirty) -> Option<Duration> {
    let stamp = dirty.stamp;
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
    let read = match &dirty.snapshot {
        Some(snapshot) if !dirty.full => {
            if comments_moved(link.comment_mark, snapshot.comments) {
                read_with_retries(|| helpdesk.get_comments(&ticket_id, &link.known_comments))
                    .await
                    .map(|comments| {
                        let ticket = sync::ticket_from(&link, snapshot, comments);
                        (sync::diff(&link, &ticket), ticket.updated_at)
                    })
            } else {
                Ok((sync::apply_snapshot(&link, snapshot), snapshot.updated_at))
            }
        }
        _ => read_with_retries(|| helpdesk.get_ticket(&ticket_id))
            .await
            .map(|ticket| (sync::diff(&link, &ticket), ticket.updated_at)),
    };
    let (sync, updated_at) = match read {
        Ok(read) => read,
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
    // Every comment up to the listing's mark is known now: it was read after the listing.
    let mark = dirty.snapshot.as_ref().map(|snapshot| snapshot.comments);
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
        sync::observe_times(&mut current, &sync, updated_at, now());
        if current.view != sync.view {
            current.view = sync.view.clone();
            tx.mark_card_stale(local);
        }
        if mark.is_some() {
            current.comment_mark = mark;
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn mark(count: u64, at: Option<time::OffsetDateTime>) -> CommentMark {
        CommentMark {
            count,
            last_added_at: at,
        }
    }

    #[test]
    fn comments_moved_unless_the_mark_is_the_recorded_one() {
        let t = datetime!(2026-11-21 12:00:00 UTC);
        assert!(!comments_moved(Some(mark(2, Some(t))), mark(2, Some(t))));
        assert!(comments_moved(Some(mark(2, Some(t))), mark(3, Some(t))));
        assert!(comments_moved(Some(mark(2, Some(t))), mark(1, Some(t))));
        assert!(comments_moved(
            Some(mark(2, Some(t))),
            mark(2, Some(datetime!(2026-11-21 12:00:01 UTC)))
        ));
        // Nothing recorded: only a ticket without any comment needs no read.
        assert!(!comments_moved(None, mark(0, None)));
        assert!(comments_moved(None, mark(1, Some(t))));
    }

    #[test]
    fn an_own_comment_moves_a_known_mark_by_one_at_its_time() {
        let (t0, t1) = (
            datetime!(2026-11-21 12:00:00 UTC),
            datetime!(2026-11-21 12:00:05 UTC),
        );
        assert_eq!(
            mark_after_own_comment(Some(mark(2, Some(t0))), Some(t1)),
            Some(mark(3, Some(t1)))
        );
        assert_eq!(
            mark_after_own_comment(Some(mark(0, None)), Some(t1)),
            Some(mark(1, Some(t1)))
        );
        assert_eq!(mark_after_own_comment(Some(mark(2, Some(t0))), None), None);
        assert_eq!(mark_after_own_comment(None, Some(t1)), None);
    }

    #[test]
    fn a_job_stops_a_refresh_only_while_it_has_sent_nothing() {
        let waiting = Refreshing {
            stop: CancellationToken::new(),
            sent: Arc::new(AtomicBool::new(false)),
        };
        assert!(waiting.yield_to_job());
        assert!(waiting.stop.is_cancelled());
        let reading = Refreshing {
            stop: CancellationToken::new(),
            sent: Arc::new(AtomicBool::new(true)),
        };
        assert!(!reading.yield_to_job());
        assert!(
            !reading.stop.is_cancelled(),
            "its read would be thrown away"
        );
    }

    #[test]
    fn failed_refreshes_are_remembered_only_while_their_ticket_is_dirty() {
        let mut busy = Busy::default();
        let later = tokio::time::Instant::now() + Duration::from_secs(60);
        for local in 0..10_000 {
            busy.refresh_after.insert(local, (later, 1));
        }
        busy.keep_waits_of(&[(7, 1), (20_000, 2)]);
        assert_eq!(busy.refresh_after.len(), 1);
        assert!(busy.refresh_after.contains_key(&7));
    }
}
