//! The Mini App: its page (`/app/`) and the JSON API the page calls (`/api/app/…`).
//!
//! Every API call carries the launch data (`Authorization: tma <initData>`). The user comes from
//! that data once its signature checks out; the chat comes from the `startapp` token teledesk
//! signed (`start_param`), never from the page; and the user must be a member of that chat.
//! A submission is written to the inbox (with its files) in one store transaction, keyed by the
//! id the page generated for the form, so a double tap or a retry opens one ticket.

use super::init_data::{self, InitDataError, WebAppUser};
use super::problems::{ApiError, Problem};
use super::uploads::{self, Limits};
use super::{SMALL_BODY, ServerSettings};
use crate::bounded::KeyedRate;
use crate::config::Visibility;
use crate::daemon::Context;
use crate::engine::ChatSettings;
use crate::engine::search::{Filter, Request, Sort};
use crate::model::{AppSubmission, ClientFile, FileSource, Submission};
use crate::store::{Shelf, Unrecorded};
use crate::telegram::chat_token;
use crate::telegram::membership::LookupError;
use crate::telegram::texts::Lang;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use teledesk_adapter::{Content, Requester, Spool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const INDEX_HTML: &str = include_str!("app/index.html");
const APP_JS: &str = include_str!("app/app.js");
const APP_CSS: &str = include_str!("app/app.css");

/// The largest text field read from a form; the limits that matter are checked after.
const TEXT_FIELD_MAX: usize = 64 * 1024;

/// New tickets one user may file from the app: a burst of 5, then one every 2 minutes. A person
/// filing support requests stays far below it; a script or a stuck retry loop does not.
const SUBMISSIONS: (Duration, u32) = (Duration::from_secs(120), 5);
/// Users whose submissions are counted at once, at most (see [`KeyedRate`]).
const COUNTED_USERS: usize = 10_000;

/// The page names the form's submission id in this header too, so that a retry is recognised —
/// and answered — before a byte of its body is read.
const SUBMISSION_ID_HEADER: &str = "x-submission-id";

/// What `Retry-After` says when every upload slot is taken: uploads take seconds to minutes.
const UPLOADS_BUSY_RETRY: Duration = Duration::from_secs(5);

struct AppState {
    ctx: Arc<Context>,
    init_data_max_age: Duration,
    submissions: Mutex<KeyedRate<i64>>,
    uploads: Arc<Uploads>,
}

/// The submissions whose bodies are being read: at most so many for the whole server (each holds
/// a spool file and a connection for as long as its client takes to send), and per user.
struct Uploads {
    server: Arc<Semaphore>,
    per_user_max: usize,
    /// Uploads in flight per user; a user is held only while one is.
    per_user: Mutex<HashMap<i64, usize>>,
}

/// One upload's place; given back when dropped.
struct UploadSlot {
    uploads: Arc<Uploads>,
    user: i64,
    _server: Option<OwnedSemaphorePermit>,
}

impl Uploads {
    fn new(limits: &super::HttpLimits) -> Self {
        Self {
            server: Arc::new(Semaphore::new(limits.max_uploads)),
            per_user_max: limits.max_uploads_per_user,
            per_user: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, usize>> {
        self.per_user.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for one more upload of `user`, or why there is none.
    fn take(self: &Arc<Self>, user: i64, lang: Lang) -> Result<UploadSlot, ApiError> {
        {
            let mut per_user = self.lock();
            let running = per_user.entry(user).or_default();
            if *running >= self.per_user_max {
                if *running == 0 {
                    per_user.remove(&user);
                }
                tracing::info!(
                    user,
                    "A Mini App user's uploads at once are over the limit."
                );
                return Err(
                    ApiError::new(lang, Problem::TooManyRequests).retry_after(UPLOADS_BUSY_RETRY)
                );
            }
            *running += 1;
        }
        let mut slot = UploadSlot {
            uploads: self.clone(),
            user,
            _server: None,
        };
        match self.server.clone().try_acquire_owned() {
            Ok(permit) => {
                slot._server = Some(permit);
                Ok(slot)
            }
            Err(_) => {
                tracing::warn!(
                    "Every Mini App upload slot is taken; a submission is asked to wait."
                );
                Err(ApiError::new(lang, Problem::UploadsBusy).retry_after(UPLOADS_BUSY_RETRY))
            }
        }
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut per_user = self.uploads.lock();
        if let Some(running) = per_user.get_mut(&self.user) {
            *running = running.saturating_sub(1);
            if *running == 0 {
                per_user.remove(&self.user);
            }
        }
    }
}

pub(super) fn routes(ctx: Arc<Context>, settings: ServerSettings) -> Router {
    // The body limit of the one route that takes files: the largest any chat allows. Each form is
    // held to its own chat's limits as it is read.
    let submission_body = ctx
        .settings
        .chats
        .values()
        .map(|chat| limits_of(&ctx, chat).body_limit())
        .max()
        .unwrap_or(SMALL_BODY);
    let state = Arc::new(AppState {
        ctx,
        init_data_max_age: settings.init_data_max_age,
        submissions: Mutex::new(KeyedRate::new(SUBMISSIONS.0, SUBMISSIONS.1, COUNTED_USERS)),
        uploads: Arc::new(Uploads::new(&settings.limits)),
    });
    Router::new()
        .route("/app", get(|| async { Redirect::permanent("/app/") }))
        .route(
            "/app/",
            get(|| asset("text/html; charset=utf-8", INDEX_HTML)),
        )
        .route(
            "/app/app.js",
            get(|| asset("text/javascript; charset=utf-8", APP_JS)),
        )
        .route(
            "/app/app.css",
            get(|| asset("text/css; charset=utf-8", APP_CSS)),
        )
        .route("/api/app/session", get(session))
        .route(
            "/api/app/tickets",
            get(list)
                .post(submit)
                .layer(DefaultBodyLimit::max(submission_body)),
        )
        .route("/api/app/submissions/{id}", get(submission_status))
        .with_state(state)
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // Revalidate on every open: a new release must not meet an old cached page.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

// --- who is asking -------------------------------------------------------------------------

struct Caller {
    user: WebAppUser,
    chat: ChatSettings,
    lang: Lang,
}

/// The user's language for the app: theirs when it is Russian or English-speaking Telegram,
/// else the deployment's.
fn lang_for(user_language: Option<&str>, default: Lang) -> Lang {
    match user_language {
        Some(code) if code.starts_with("ru") => Lang::Ru,
        Some(code) if !code.is_empty() => Lang::En,
        _ => default,
    }
}

impl AppState {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let settings = &self.ctx.settings;
        let raw = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("tma "))
            .unwrap_or("");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let data = init_data::validate(raw, &settings.chat_key, now, self.init_data_max_age)
            .map_err(|error| {
                tracing::info!(%error, "Mini App launch data refused.");
                let problem = match error {
                    InitDataError::Missing => Problem::InitDataMissing,
                    InitDataError::Expired { .. } => Problem::InitDataExpired,
                    _ => Problem::InitDataInvalid,
                };
                ApiError::new(settings.lang, problem)
            })?;
        let lang = lang_for(data.user.language_code.as_deref(), settings.lang);
        let chat_id = data
            .start_param
            .as_deref()
            .and_then(|token| chat_token::verify(&settings.chat_key, token))
            .ok_or_else(|| {
                tracing::info!(
                    user = data.user.id,
                    "Mini App opened with a start token teledesk did not sign."
                );
                ApiError::new(lang, Problem::ChatTokenInvalid)
            })?;
        let chat = settings
            .chat(&self.ctx.store.read(), chat_id)
            .map_err(|e| ApiError::store(lang, e))?
            // A channel's discussion group is not where tickets are filed.
            .filter(|chat| chat.id == chat.ticket_chat)
            .ok_or_else(|| {
                tracing::info!(
                    chat_id,
                    "Mini App opened for a chat that is not configured."
                );
                ApiError::new(lang, Problem::ChatNotServed)
            })?;
        self.check_member(chat.ticket_chat, data.user.id, lang)
            .await?;
        Ok(Caller {
            user: data.user,
            chat,
            lang,
        })
    }

    async fn check_member(&self, chat_id: i64, user_id: i64, lang: Lang) -> Result<(), ApiError> {
        match self
            .ctx
            .memberships
            .is_member(&self.ctx.telegram, chat_id, user_id)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(ApiError::new(lang, Problem::NotAMember)),
            Err(LookupError::Busy(wait)) => {
                tracing::info!(
                    chat_id,
                    user_id,
                    "Membership lookups over their limit; the Mini App user is asked to wait."
                );
                Err(ApiError::new(lang, Problem::TooManyRequests).retry_after(wait))
            }
            Err(error) if error.is_temporary() => {
                tracing::warn!(%error, chat_id, "Cannot check chat membership for the Mini App.");
                Err(ApiError::new(lang, Problem::TelegramUnavailable))
            }
            Err(error) => {
                // The bot cannot see the chat's members: it cannot vouch for the user.
                tracing::warn!(%error, chat_id, "Chat membership check failed; refusing the Mini App user.");
                Err(ApiError::new(lang, Problem::NotAMember))
            }
        }
    }

    fn limits(&self, chat: &ChatSettings) -> Limits {
        limits_of(&self.ctx, chat)
    }
}

/// What a form for `chat` may carry: the chat's file limits within its helpdesk's.
fn limits_of(ctx: &Context, chat: &ChatSettings) -> Limits {
    let capability = ctx
        .helpdesk(&chat.helpdesk)
        .map(|h| h.capability())
        .unwrap_or_default();
    Limits::for_chat(
        chat.files,
        capability.attachment,
        capability.attachment_max_size,
    )
}

// --- handlers ------------------------------------------------------------------------------

async fn session(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = state.authenticate(&headers).await?;
    let user_id = caller.user.id;
    let can_write = state
        .ctx
        .store
        .write(|tx| {
            let known = tx.dm_state(user_id)?;
            if caller.user.allows_write_to_pm == Some(true) {
                // Telegram vouches that the bot may write; a refusal recorded earlier is stale.
                if known != crate::model::DmState::Started {
                    tx.set_dm_state(user_id, crate::model::DmState::Started);
                }
                return Ok(true);
            }
            Ok(known == crate::model::DmState::Started)
        })
        .map_err(|e| ApiError::store(caller.lang, e))?;
    let limits = state.limits(&caller.chat);
    let remembered = state
        .ctx
        .store
        .read()
        .intake_memory(user_id, caller.chat.ticket_chat)
        .map_err(|e| ApiError::store(caller.lang, e))?;
    Ok(Json(json!({
        "language": caller.lang.code(),
        "intake": intake_view(&caller.chat.intake, &remembered),
        "chat": { "title": caller.chat.name, "mode": caller.chat.mode.as_str() },
        "companies": caller.chat.companies,
        "user": { "id": caller.user.id, "first_name": caller.user.first_name },
        "notifications": if can_write { "allowed" } else { "ask" },
        "limits": {
            "max_files": limits.max_files,
            "max_file_bytes": limits.max_file_bytes,
            "max_total_bytes": limits.max_total_bytes,
            "subject_max": limits.subject_max,
            "description_max": limits.description_max,
            "accept": uploads::accept_list(),
        },
    }))
    .into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    scope: Option<String>,
    limit: Option<usize>,
    /// A search: a number, words of the subject or description, a date or a range of dates.
    q: Option<String>,
    /// `all` | `open` | `closed`.
    filter: Option<String>,
    /// `newest` | `oldest` | `activity`.
    sort: Option<String>,
}

/// The most tickets one search answer lists.
const SEARCH_LIMIT: usize = 100;

/// The chat's tickets the caller may see (their own, or everyone's where the chat's
/// `visibility` is `chat`): the open ones or the last 10 or 20, newest first; or, with any of
/// `q`, `filter` or `sort`, a search among them.
async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = state.authenticate(&headers).await?;
    let lang = caller.lang;
    let Ok(Query(query)) = query else {
        return Err(ApiError::new(lang, Problem::BadQuery));
    };
    let bad = || ApiError::new(lang, Problem::BadQuery);
    let searching = query.q.is_some() || query.filter.is_some() || query.sort.is_some();
    let request = if searching {
        let filter = match query.filter.as_deref() {
            None => Filter::All,
            Some(word) => Filter::parse(word).ok_or_else(bad)?,
        };
        let sort = match query.sort.as_deref() {
            None => Sort::Newest,
            Some(word) => Sort::parse(word).ok_or_else(bad)?,
        };
        Request::new(query.q.as_deref().unwrap_or(""), filter, sort)
    } else {
        let filter = match query.scope.as_deref() {
            None | Some("open") => Filter::Open,
            Some("last") => Filter::All,
            Some(_) => return Err(bad()),
        };
        Request::new("", filter, Sort::Newest)
    };
    let limit = match (searching, request.filter) {
        (true, _) => query.limit.unwrap_or(SEARCH_LIMIT).clamp(1, SEARCH_LIMIT),
        (false, Filter::Open) => usize::MAX,
        (false, _) => query.limit.unwrap_or(10).clamp(1, 20),
    };
    let chat = caller.chat.ticket_chat;
    let read = state.ctx.store.read();
    let candidates = match caller.chat.visibility {
        Visibility::Chat => read.tickets_in_chat(chat),
        // Tickets staff started are addressed to the whole chat; they have no Telegram author.
        Visibility::Own => read.tickets_by_author(caller.user.id).and_then(|own| {
            let staff = read.tickets_by_author(crate::engine::staff::STAFF_AUTHOR)?;
            Ok(own
                .into_iter()
                .chain(staff.into_iter().filter(|l| l.staff_started.is_some()))
                .filter(|l| l.chat_id == chat)
                .collect())
        }),
    }
    .map_err(|e| ApiError::store(lang, e))?;
    let mut tickets = request.run(candidates);
    let total = tickets.len();
    tickets.truncate(limit);
    let stamp = |at: time::OffsetDateTime| {
        at.format(&time::format_description::well_known::Rfc3339)
            .ok()
    };
    let rows: Vec<Value> = tickets
        .iter()
        .map(|l| {
            json!({
                "number": l.number,
                "subject": l.view.subject,
                "status": l.view.status,
                "status_label": lang.status(l.view.status),
                "done": l.view.status.is_done(),
                "url": l.post_link(),
                "priority": l.view.priority,
                "author": l.author.display_name,
                "created_at": stamp(l.registered_at()),
                "last_activity_at": stamp(l.last_activity_at()),
                // The intake category, by id and by the label the chat shows.
                "category": l.category.as_ref().map(|id| json!({
                    "id": id,
                    "label": caller.chat.intake.category(id).map_or(id.as_str(), |c| c.label.as_str()),
                })),
            })
        })
        .collect();
    Ok(Json(json!({ "tickets": rows, "total": total })).into_response())
}

async fn submission_status(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = state.authenticate(&headers).await?;
    let lang = caller.lang;
    let read = state.ctx.store.read();
    let record = read
        .submission(caller.user.id, &id)
        .map_err(|e| ApiError::store(lang, e))?
        .ok_or_else(|| ApiError::new(lang, Problem::UnknownSubmission))?;
    if record.refused.is_some() {
        return Err(ApiError::new(lang, Problem::SubmissionRefused));
    }
    let view = submission_view(&read, &record).map_err(|e| ApiError::store(lang, e))?;
    Ok(Json(view).into_response())
}

/// Where a submission stands: `queued` (in the inbox), `creating` (being registered in the
/// helpdesk), `created` (it has a number), `posted` (its post is in the chat).
fn submission_view(tx: &crate::store::Tx<'_>, record: &Submission) -> crate::store::Result<Value> {
    let link = match record.ticket {
        Some(local) => tx.ticket(local)?,
        None => None,
    };
    let state = match &link {
        None if record.ticket.is_none() => "queued",
        None => "creating",
        Some(link) if link.number.is_none() => "creating",
        Some(link) if link.card_message_id.is_none() => "created",
        Some(_) => "posted",
    };
    let ticket = link
        .filter(|l| l.number.is_some())
        .map(|l| json!({ "number": l.number, "url": l.post_link() }));
    Ok(json!({ "submission_id": record.id, "state": state, "ticket": ticket }))
}

/// One file of a submission, checked.
struct Upload {
    file_name: String,
    content_type: &'static str,
    content: Content,
}

/// How much of a file's start the type check reads (the longest signature ends at byte 12).
const HEAD_BYTES: usize = 64;

fn spool_failed(lang: Lang, error: std::io::Error) -> ApiError {
    tracing::error!(%error, "Cannot spool a Mini App upload.");
    ApiError::new(lang, Problem::Unavailable)
}

#[derive(Default)]
struct Form {
    submission_id: String,
    company: String,
    subject: String,
    description: String,
    files: Vec<Upload>,
    /// `category`: the chosen category's id.
    category: String,
    /// `field.<id>`: the answers to the chat's fields, by field id.
    fields: HashMap<String, String>,
    /// What the checked category and fields make for the adapter.
    intake: teledesk_adapter::Intake,
}

/// The chat's intake questions as the page renders them, with what the user answered last time
/// (offered, not filled in silently: the page shows it as the field's initial value).
fn intake_view(
    intake: &crate::config::intake::IntakeConfig,
    remembered: &std::collections::BTreeMap<String, String>,
) -> Value {
    use crate::config::intake::FieldKind;
    let categories: Vec<Value> = intake
        .categories
        .iter()
        .map(|c| json!({ "id": c.id, "label": c.label }))
        .collect();
    let fields: Vec<Value> = intake
        .fields
        .iter()
        .map(|f| {
            json!({
                "id": f.id,
                "label": f.label,
                "type": match f.kind {
                    FieldKind::Text => "text",
                    FieldKind::Phone => "phone",
                    FieldKind::Contract => "contract",
                    FieldKind::Choice => "choice",
                },
                "required": f.required,
                "example": f.example,
                "choices": f.choices.iter().map(|c| json!({ "id": c.key(), "label": c.label })).collect::<Vec<_>>(),
                "last": remembered.get(&f.id),
            })
        })
        .collect();
    json!({
        // A single category is not asked: every ticket goes there.
        "categories": if categories.len() > 1 { categories } else { Vec::new() },
        "last_category": remembered.get(crate::model::REMEMBERED_CATEGORY),
        "fields": fields,
    })
}

async fn submit(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    // Everything that can refuse the request is decided before its body is read: who is asking,
    // whether it is a retry of a form taken already, whether the user may file another ticket
    // now, and whether an upload slot is free.
    let caller = state.authenticate(&headers).await?;
    let lang = caller.lang;
    let announced = announced_submission_id(&headers, lang)?;
    if let Some(id) = &announced {
        let existing = state
            .ctx
            .store
            .read()
            .submission(caller.user.id, id)
            .map_err(|e| ApiError::store(lang, e))?;
        if let Some(record) = existing {
            return answer(&state, &record, false, lang);
        }
    }
    if let Err(wait) = state
        .submissions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .check(&caller.user.id, Instant::now())
    {
        tracing::warn!(
            user = caller.user.id,
            "Mini App submissions over the per-user limit."
        );
        return Err(ApiError::new(lang, Problem::TooManySubmissions).retry_after(wait));
    }
    let _slot = state.uploads.take(caller.user.id, lang)?;
    let mut multipart = multipart.map_err(|_| ApiError::new(lang, Problem::NotMultipart))?;
    let limits = state.limits(&caller.chat);
    let spool = state.ctx.store.files().transit_spool();
    let form = read_form(&mut multipart, &limits, &spool, lang).await?;
    let form = check_form(form, &caller.chat, &limits, lang)?;
    if announced
        .as_ref()
        .is_some_and(|id| *id != form.submission_id)
    {
        return Err(ApiError::new(lang, Problem::BadSubmissionId));
    }

    let user = &caller.user;
    let company = if form.company.is_empty() {
        caller.chat.name.clone()
    } else {
        form.company.clone()
    };
    let author = Requester {
        display_name: match &user.last_name {
            Some(last) if !last.is_empty() => format!("{} {last}", user.first_name),
            _ => user.first_name.clone(),
        },
        telegram_id: user.id,
        username: user.username.clone(),
        company: Some(company),
    };
    let chat_id = caller.chat.ticket_chat;
    // Durable beside the store before the records naming them; removed again unless recorded
    // (a repeated submission, a refusal, a failed write).
    let mut kept = Unrecorded::new(state.ctx.store.files());
    let mut stored = Vec::with_capacity(form.files.len());
    for upload in &form.files {
        let name = kept
            .keep(Shelf::Uploads, &upload.content)
            .await
            .map_err(|e| spool_failed(lang, e))?;
        stored.push(name);
    }
    let taken = state
        .ctx
        .store
        .write(|tx| {
            if let Some(existing) = tx.submission(user.id, &form.submission_id)? {
                return Ok(Taken::Again(existing));
            }
            // Counted only for new tickets: retries and double taps of one form are free.
            if let Err(wait) = state
                .submissions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .charge(&user.id, Instant::now())
            {
                return Ok(Taken::OverLimit(wait));
            }
            let mut files = Vec::with_capacity(form.files.len());
            for (upload, name) in form.files.iter().zip(&stored) {
                let id = tx.put_upload(name)?;
                files.push(ClientFile {
                    file_id: id.to_string(),
                    file_name: upload.file_name.clone(),
                    content_type: upload.content_type.to_owned(),
                    size: Some(upload.content.len()),
                    source: FileSource::Upload,
                });
            }
            let record = Submission {
                id: form.submission_id.clone(),
                user_id: user.id,
                chat_id,
                ticket: None,
                refused: None,
            };
            let submission = AppSubmission {
                id: form.submission_id.clone(),
                chat_id,
                author: author.clone(),
                subject: form.subject.clone(),
                description: form.description.clone(),
                files,
                submitted_at: time::OffsetDateTime::now_utc(),
                intake: form.intake.clone(),
            };
            tx.push_submission(&record, &crate::engine::app::payload(&submission))?;
            Ok(Taken::New(record))
        })
        .map_err(|e| ApiError::store(lang, e))?;
    let (created, record) = match taken {
        Taken::New(record) => {
            kept.recorded();
            (true, record)
        }
        Taken::Again(record) => (false, record),
        Taken::OverLimit(wait) => {
            tracing::warn!(
                user = user.id,
                "Mini App submissions over the per-user limit."
            );
            return Err(ApiError::new(lang, Problem::TooManySubmissions).retry_after(wait));
        }
    };
    if created {
        // Durable before the page is told it was accepted.
        state
            .ctx
            .store
            .flush()
            .await
            .map_err(|e| ApiError::store(lang, e))?;
        state.ctx.signals.inbox.notify_one();
        crate::telemetry::update_received("mini_app");
        tracing::info!(
            chat_id,
            files = form.files.len(),
            "Mini App submission accepted."
        );
    }
    answer(&state, &record, created, lang)
}

/// Where a submission stands, as the page gets it: 202 for one just taken, 200 for one taken
/// before (a retry, a double tap).
fn answer(
    state: &AppState,
    record: &Submission,
    created: bool,
    lang: Lang,
) -> Result<Response, ApiError> {
    let view =
        submission_view(&state.ctx.store.read(), record).map_err(|e| ApiError::store(lang, e))?;
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)).into_response())
}

/// The submission id the request names in [`SUBMISSION_ID_HEADER`], when it names one; it must
/// have the form's shape (and, once the form is read, be the form's).
fn announced_submission_id(headers: &HeaderMap, lang: Lang) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(SUBMISSION_ID_HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(id) if valid_submission_id(id) => Ok(Some(id.to_owned())),
        _ => Err(ApiError::new(lang, Problem::BadSubmissionId)),
    }
}

/// 8 to 64 letters, digits and dashes: a UUID, as the page makes them.
fn valid_submission_id(id: &str) -> bool {
    (8..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// What the store write made of a submission.
enum Taken {
    /// A new ticket request, queued.
    New(Submission),
    /// The same form again (a retry, a double tap): what became of the first one.
    Again(Submission),
    /// A new ticket request over the user's limit (free again after this long); nothing was
    /// written.
    OverLimit(Duration),
}

/// Reads the multipart form, refusing a file as soon as it is over the limits (it is not read to
/// the end first).
async fn read_form(
    multipart: &mut Multipart,
    limits: &Limits,
    spool: &Spool,
    lang: Lang,
) -> Result<Form, ApiError> {
    let broken = |error: axum::extract::multipart::MultipartError| {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(lang, Problem::BodyTooLarge).on("files")
        } else {
            ApiError::new(lang, Problem::BadForm)
        }
    };
    let mut form = Form::default();
    let mut total: u64 = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "files" {
            let file_name = clean_file_name(field.file_name().unwrap_or_default());
            let declared = field.content_type().map(str::to_owned);
            // Streamed into the spool as it arrives: only its head (for the type check) and the
            // spool's small-file buffer are ever in memory.
            let mut content = spool.writer();
            let mut head = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(broken)? {
                if content.len() + chunk.len() as u64 > limits.max_file_bytes {
                    let problem = Problem::FileTooLarge {
                        file: file_name,
                        max_bytes: limits.max_file_bytes,
                    };
                    return Err(ApiError::new(lang, problem).on("files"));
                }
                let wanted = HEAD_BYTES.saturating_sub(head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..wanted]);
                content
                    .write(&chunk)
                    .await
                    .map_err(|e| spool_failed(lang, e))?;
            }
            if file_name.is_empty() && content.is_empty() {
                // What a browser sends for a file input left empty.
                continue;
            }
            if limits.max_files == 0 {
                return Err(ApiError::new(lang, Problem::FilesNotAccepted).on("files"));
            }
            if form.files.len() == limits.max_files {
                return Err(ApiError::new(lang, Problem::TooManyFiles).on("files"));
            }
            total += content.len();
            if total > limits.max_total_bytes {
                return Err(ApiError::new(lang, Problem::BodyTooLarge).on("files"));
            }
            let content_type =
                uploads::check(&file_name, declared.as_deref(), &head).map_err(|problem| {
                    let file = file_name.clone();
                    ApiError::new(lang, Problem::FileType { file, problem }).on("files")
                })?;
            form.files.push(Upload {
                file_name,
                content_type,
                content: content.finish().await.map_err(|e| spool_failed(lang, e))?,
            });
            continue;
        }
        let mut text = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(broken)? {
            text.extend_from_slice(&chunk);
            if text.len() > TEXT_FIELD_MAX {
                return Err(ApiError::new(lang, Problem::BodyTooLarge));
            }
        }
        let text = String::from_utf8(text).map_err(|_| ApiError::new(lang, Problem::BadForm))?;
        match name.as_str() {
            "submission_id" => form.submission_id = text,
            "company" => form.company = text,
            "subject" => form.subject = text,
            "description" => form.description = text,
            "category" => form.category = text,
            other => {
                if let Some(id) = other.strip_prefix("field.") {
                    form.fields.insert(id.to_owned(), text);
                }
                // Fields a later page may send are not an error for this server.
            }
        }
    }
    Ok(form)
}

/// The text fields' rules, the same ones the page applies before sending.
fn check_form(
    mut form: Form,
    chat: &ChatSettings,
    limits: &Limits,
    lang: Lang,
) -> Result<Form, ApiError> {
    let bad = |problem| ApiError::new(lang, problem);
    if !valid_submission_id(&form.submission_id) {
        return Err(bad(Problem::BadSubmissionId));
    }
    form.subject = form.subject.trim().to_owned();
    form.description = form.description.trim().to_owned();
    form.company = form.company.trim().to_owned();
    if form.subject.is_empty() {
        return Err(bad(Problem::SubjectRequired).on("subject"));
    }
    if form.subject.chars().count() > limits.subject_max {
        return Err(bad(Problem::SubjectTooLong).on("subject"));
    }
    if form.description.chars().count() > limits.description_max {
        return Err(bad(Problem::DescriptionTooLong).on("description"));
    }
    if chat.companies.is_empty() {
        form.company.clear();
    } else if !chat.companies.contains(&form.company) {
        return Err(bad(Problem::CompanyRequired).on("company"));
    }
    // The same rules as the bot's dialogue, so a form cannot file what a chat would refuse.
    let intake = &chat.intake;
    let category =
        match intake.categories.as_slice() {
            [] => None,
            [only] => Some(only),
            _ => Some(intake.category(form.category.trim()).ok_or_else(|| {
                bad(Problem::Intake(lang.category_required().into())).on("category")
            })?),
        };
    let mut fields = Vec::new();
    for field in &intake.fields {
        let answer = form
            .fields
            .get(&field.id)
            .map(|t| t.trim())
            .unwrap_or_default();
        if answer.is_empty() && !field.required {
            continue;
        }
        match field.accept(answer) {
            Ok(value) => fields.push(value),
            Err(why) => {
                let text = lang.field_rejected(&field.label, why, field.example.as_deref());
                return Err(bad(Problem::Intake(text)).on(format!("field.{}", field.id)));
            }
        }
    }
    form.intake = teledesk_adapter::Intake {
        category: category.map(|c| c.to_intake()),
        fields,
    };
    Ok(form)
}

/// The last path component, without control characters, at most 200 characters: browsers send
/// a bare name, but nothing stops a client from sending `../../x`.
fn clean_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    base.chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("C:\\Users\\ann\\скрин.png"), "скрин.png");
        assert_eq!(clean_file_name("a\u{0}b\n.txt"), "ab.txt");
        assert_eq!(clean_file_name(&"x".repeat(500)).len(), 200);
    }

    #[test]
    fn the_app_speaks_the_users_language_when_it_can() {
        assert_eq!(lang_for(Some("ru"), Lang::En), Lang::Ru);
        assert_eq!(lang_for(Some("ru-RU"), Lang::En), Lang::Ru);
        assert_eq!(lang_for(Some("de"), Lang::Ru), Lang::En);
        assert_eq!(lang_for(None, Lang::Ru), Lang::Ru);
    }
}
