//! Znuny / OTRS 6 / OTOBO adapter for teledesk: Telegram tickets become Znuny tickets through the
//! Generic Interface REST web service `teledesk-webservice.yml` (shipped next to this crate).
//!
//! A ticket's first article carries the description, the Telegram requester block and a
//! `tg-key:` marker; the idempotency key also goes into a ticket dynamic field when
//! `idempotency_field` is set. Client comments are `customer` articles written by the integration
//! agent, internal notes `Internal` articles invisible to the customer. Status comes from the
//! ticket's state (`statuses` over Znuny's defaults, then its state type). Changes are polled with
//! `TicketSearch` on `TicketLastChangeTimeNewerDate`; webhooks from a `Ticket::Generic` invoker are
//! accepted as hints when they carry the shared secret. See `README.md` for the capability table
//! and the open questions.

#![warn(missing_docs)]

mod client;
mod config;
mod map;
mod model;

pub use config::{
    DEFAULT_PRIORITIES, DEFAULT_STATUSES, FieldValue, TicketDefaults, ZnunyConfig, parse_offset,
};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use client::{Call, ZnunyClient};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::Value;
use sha2::Sha256;
use std::time::Duration;
use teledesk_adapter::http::Base64Files;
use teledesk_adapter::{
    Attachment, AttachmentRef, Capability, ChangeBatch, CommentDraft, CommentId, ConfigProblem,
    ConfigTable, Content, Cursor, DEFAULT_OVERLAP, Error, ErrorKind, Escalation, Helpdesk,
    Identity, NoteDraft, Problem, Result, StatusClass, Ticket, TicketDraft, TicketId, TicketRef,
    WebhookRequest,
};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

/// The config tag (`kind = "znuny"`), also the log field and metrics label.
pub const KIND: &str = "znuny";

/// What the Znuny adapter can do; the README's table shows the same values.
///
/// Two flags depend on the config and [`Helpdesk::capability`] reports them per instance:
/// `native_idempotency` needs `idempotency_field`, `webhook` needs `webhook_secret`.
pub const CAPABILITY: Capability = Capability {
    comment: true,
    comment_internal: true,
    attachment: true,
    // The shipped web service allows 100 MB requests; base64 makes a file 4/3 larger, and MySQL's
    // default max_allowed_packet (64 MiB) must hold it in one row.
    attachment_max_size: Some(ATTACHMENT_MAX_SIZE),
    download: true,
    set_status: true,
    native_idempotency: true,
    poll: true,
    webhook: true,
    // Znuny's requester authenticates (HTTP Basic) but does not sign bodies.
    webhook_signed: false,
    internal_note: true,
    priority: true,
    // Satisfaction surveys are an add-on, not core.
    native_rating: false,
    // LinkObject is not a core Generic Interface operation.
    native_link: false,
    custom_fields: true,
    check_fields: false,
    // The listing names tickets only; a change is read with `get_ticket`.
    change_snapshot: false,
    // Self-hosted: no limit of its own; `requests_per_second` protects the server.
    rate_limit: None,
    // An instance whose config names the address field says true (`capability()`).
    staff_tickets: false,
    due_times: true,
};

/// The largest file teledesk sends to Znuny.
pub const ATTACHMENT_MAX_SIZE: u64 = 45 * 1024 * 1024;
/// `TicketSearch` answers at most this many ids; more changes wait for the next poll.
const SEARCH_LIMIT: u32 = 500;
/// Ids per `TicketGet`: a long URL and a big answer are both worse than one more request.
const GET_CHUNK: usize = 25;
/// The most tickets `teledesk rebuild` finds in one Znuny (`TicketSearch` has no paging).
const OWN_TICKETS_LIMIT: u32 = 100_000;
/// How far before the Telegram message time a retried create looks for its ticket (clock skew
/// between Telegram and Znuny).
const CREATE_LOOKBACK: Duration = Duration::from_secs(600);
/// Pending states need a pending time; teledesk sets one day ahead.
const PENDING_MINUTES: u32 = 24 * 60;
/// Every article body teledesk writes is plain UTF-8.
const TEXT_PLAIN: &str = "text/plain; charset=utf8";
/// The channel of client articles: a message relayed by the helpdesk, as a phone call is.
const CLIENT_CHANNEL: &str = "Phone";
/// The ticket history line of teledesk's writes.
const HISTORY_COMMENT: &str = "teledesk (Telegram)";

/// Validates a `[helpdesks.<name>]` table of kind `znuny`, reporting every problem.
pub fn validate_helpdesk(table: &ConfigTable) -> Vec<ConfigProblem> {
    ZnunyConfig::from_table(table).err().unwrap_or_default()
}

/// Validates a chat's `[chats.ticket]` table for a Znuny helpdesk, reporting every problem.
pub fn validate_ticket_defaults(table: &ConfigTable) -> Vec<ConfigProblem> {
    TicketDefaults::from_table(table).err().unwrap_or_default()
}

/// The Znuny adapter: one per `[helpdesks.<name>]` table, shared by every daemon task.
#[derive(Debug)]
pub struct ZnunyAdapter {
    config: ZnunyConfig,
    client: ZnunyClient,
    /// The integration agent's user id, learned on first need; its articles are teledesk's own.
    me: OnceCell<i64>,
}

impl ZnunyAdapter {
    /// Builds the adapter from its `[helpdesks.<name>]` table (secrets resolved).
    pub fn from_config(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let config = ZnunyConfig::from_table(table)?;
        let client = ZnunyClient::new(&config).map_err(|e| {
            vec![ConfigProblem::new(
                "",
                Problem::HttpClient {
                    error: e.message().to_owned(),
                },
            )]
        })?;
        Ok(Self {
            config,
            client,
            me: OnceCell::new(),
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &ZnunyConfig {
        &self.config
    }

    async fn session_info(&self, op: &'static str) -> Result<model::SessionInfo> {
        let info = self.client.session_get(op).await?;
        if let Some(id) = info.get("UserID").and_then(|id| id.parse::<i64>().ok()) {
            // Losing the race to another task is fine: both read the same agent.
            let _ = self.me.set(id);
        }
        Ok(info)
    }

    async fn integration_user(&self, op: &'static str) -> Result<i64> {
        self.me
            .get_or_try_init(|| async {
                let info = self.session_info(op).await?;
                info.get("UserID")
                    .and_then(|id| id.parse::<i64>().ok())
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::Unexpected,
                            op,
                            "SessionGet did not name the agent's UserID",
                        )
                    })
            })
            .await
            .copied()
    }

    fn context(&self, integration_user: i64) -> map::Context<'_> {
        map::Context {
            config: &self.config,
            integration_user,
        }
    }

    /// `TicketGet` of some tickets with the given options.
    async fn tickets(
        &self,
        op: &'static str,
        ids: &[i64],
        options: &[(&'static str, &str)],
    ) -> Result<Vec<model::Ticket>> {
        let joined: Vec<String> = ids.iter().map(i64::to_string).collect();
        let route = format!("/Ticket/{}", joined.join(","));
        let query = options
            .iter()
            .map(|(key, value)| (*key, (*value).to_owned()))
            .collect();
        let list: model::TicketList = self.client.call(op, &Call::get(&route, query)).await?;
        Ok(list.tickets)
    }

    async fn ticket(
        &self,
        op: &'static str,
        id: i64,
        options: &[(&'static str, &str)],
    ) -> Result<model::Ticket> {
        self.tickets(op, &[id], options)
            .await?
            .into_iter()
            .find(|t| t.ticket_id == id)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    op,
                    format!("Znuny returned no data for ticket {id}"),
                )
            })
    }

    async fn search(&self, op: &'static str, search: &model::TicketSearch) -> Result<Vec<i64>> {
        let body = serde_json::to_value(search)
            .map_err(|e| Error::new(ErrorKind::Unexpected, op, e.to_string()))?;
        let result: model::SearchResult = self
            .client
            .call(op, &Call::send(Method::POST, "/TicketSearch", body))
            .await?;
        Ok(result.ticket_ids)
    }

    async fn update(
        &self,
        op: &'static str,
        id: i64,
        update: &model::TicketUpdate,
        files: Base64Files,
    ) -> Result<model::TicketUpdated> {
        let body = serde_json::to_value(update)
            .map_err(|e| Error::new(ErrorKind::Unexpected, op, e.to_string()))?;
        let route = format!("/Ticket/{id}");
        self.client
            .call(
                op,
                &Call::send(Method::PATCH, &route, body).with_files(files),
            )
            .await
    }

    /// Adds one article (with its files) and returns its id.
    async fn add_article(
        &self,
        op: &'static str,
        id: i64,
        ticket: Option<model::TicketChange>,
        article: model::NewArticle,
        (attachments, files): (Vec<model::NewAttachment>, Base64Files),
    ) -> Result<i64> {
        let update = model::TicketUpdate {
            ticket,
            article: Some(article),
            attachments,
        };
        self.update(op, id, &update, files)
            .await?
            .article_id
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Unexpected,
                    op,
                    "Znuny created no article (no ArticleID in its answer)",
                )
            })
    }

    /// The article of ticket `id` the integration agent wrote with `key` in its footer, if an
    /// earlier attempt wrote one.
    async fn find_article(
        &self,
        op: &'static str,
        id: i64,
        key: &str,
    ) -> Result<Option<model::Article>> {
        let me = self.integration_user(op).await?;
        let ticket = self.ticket(op, id, &[("AllArticles", "1")]).await?;
        Ok(ticket
            .articles
            .into_iter()
            .filter(|a| a.create_by == Some(me) && map::has_footer_for(&a.body, key))
            .min_by_key(|a| a.article_id))
    }

    /// The ticket an earlier attempt of this create made, by the dynamic field or by the marker in
    /// the first article of the integration agent's recent tickets.
    async fn find_created(
        &self,
        op: &'static str,
        draft: &TicketDraft,
    ) -> Result<Option<TicketRef>> {
        let key = draft.key.as_str();
        let ids = match &self.config.idempotency_field {
            Some(field) => {
                let search = model::TicketSearch {
                    search_in_archive: Some("AllTickets".into()),
                    limit: Some(10),
                    ..Default::default()
                }
                .field_equals(field, key);
                let mut ids = self.search(op, &search).await?;
                ids.sort_unstable();
                ids.truncate(1);
                ids
            }
            None => {
                let me = self.integration_user(op).await?;
                let since = draft.registered_at - CREATE_LOOKBACK;
                let search = model::TicketSearch {
                    created_since: Some(map::local_time(since, self.config.timezone)),
                    created_by: vec![me.to_string()],
                    search_in_archive: Some("AllTickets".into()),
                    sort_by: Some("Age".into()),
                    order_by: Some("Down".into()),
                    limit: Some(SEARCH_LIMIT),
                    ..Default::default()
                };
                let candidates = self.search(op, &search).await?;
                let mut found = Vec::new();
                for chunk in candidates.chunks(GET_CHUNK) {
                    let tickets = self
                        .tickets(
                            op,
                            chunk,
                            &[
                                ("AllArticles", "1"),
                                ("ArticleLimit", "1"),
                                ("ArticleOrder", "ASC"),
                            ],
                        )
                        .await?;
                    found.extend(
                        tickets
                            .iter()
                            .filter(|t| {
                                t.articles
                                    .first()
                                    .is_some_and(|a| map::has_footer_for(&a.body, key))
                            })
                            .map(|t| t.ticket_id),
                    );
                }
                found.sort_unstable();
                found.truncate(1);
                found
            }
        };
        let Some(id) = ids.first().copied() else {
            return Ok(None);
        };
        let ticket = self.ticket(op, id, &[]).await?;
        tracing::debug!(
            adapter = KIND,
            ticket_id = id,
            "Found the ticket an earlier attempt created."
        );
        Ok(Some(map::ticket_ref(
            &self.config,
            ticket.ticket_id,
            &ticket.ticket_number,
        )))
    }

    /// `TicketGet` of changed tickets with what the change stamp needs; tickets that vanished
    /// between search and read are skipped.
    async fn changed_tickets(&self, op: &'static str, ids: &[i64]) -> Result<Vec<model::Ticket>> {
        const OPTIONS: [(&str, &str); 4] = [
            ("DynamicFields", "1"),
            ("AllArticles", "1"),
            ("ArticleLimit", "1"),
            ("ArticleOrder", "DESC"),
        ];
        let mut tickets = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(GET_CHUNK) {
            match self.tickets(op, chunk, &OPTIONS).await {
                Ok(found) => tickets.extend(found),
                // One ticket merged away or moved out of reach fails the whole batch.
                Err(e) if e.kind() == ErrorKind::NotFound && chunk.len() > 1 => {
                    for id in chunk {
                        match self.ticket(op, *id, &OPTIONS).await {
                            Ok(ticket) => tickets.push(ticket),
                            Err(e) if e.kind() == ErrorKind::NotFound => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(tickets)
    }
}

fn ticket_id(op: &'static str, ticket: &TicketId) -> Result<i64> {
    ticket
        .0
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                op,
                format!("{ticket:?} is not a Znuny ticket id"),
            )
        })
}

fn defaults_of(op: &'static str, draft: &TicketDraft) -> Result<TicketDefaults> {
    TicketDefaults::from_table(&draft.ticket_table()).map_err(|problems| {
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        Error::new(ErrorKind::ConfigInvalid, op, text.join("; "))
    })
}

/// A MIME type Znuny accepts: it reads `^\w+/\w+` out of the value and refuses anything else.
fn safe_content_type(content_type: &str) -> String {
    let bare = content_type.split(';').next().unwrap_or_default().trim();
    let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let valid = bare.split_once('/').is_some_and(|(kind, sub)| {
        let sub_head: String = sub
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        word(kind) && !sub_head.is_empty()
    });
    if valid {
        bare.to_ascii_lowercase()
    } else {
        "application/octet-stream".to_owned()
    }
}

/// What an article's files become: the attachments of its JSON (their `Content` a placeholder)
/// and the files whose base64 replaces the placeholders as the request is sent.
type Attachments = (Vec<model::NewAttachment>, Base64Files);

/// Files as Znuny attachments; empty files are left out (Znuny refuses an empty `Content`) and
/// their names returned so the article can say so. No file is read here: each is encoded while
/// the request is sent, never whole in memory.
fn attachments_of(files: &[Attachment]) -> (Attachments, Vec<&str>) {
    let mut attachments = Vec::with_capacity(files.len());
    let mut embedded = Base64Files::new();
    let mut empty = Vec::new();
    for file in files {
        if file.content.is_empty() {
            empty.push(file.file_name.as_str());
            continue;
        }
        attachments.push(model::NewAttachment {
            content: embedded.embed(&file.content),
            content_type: safe_content_type(&file.content_type),
            filename: if file.file_name.trim().is_empty() {
                "file".to_owned()
            } else {
                file.file_name.clone()
            },
        });
    }
    ((attachments, embedded), empty)
}

fn no_files() -> Attachments {
    (Vec::new(), Base64Files::default())
}

fn field_value(value: &FieldValue) -> Value {
    match value {
        FieldValue::One(text) => Value::String(text.clone()),
        FieldValue::Many(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
    }
}

/// Compares a presented secret with the configured one in constant time: both go through an HMAC
/// keyed with the configured secret, and `verify_slice` compares the tags.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let Ok(mut reference) = Hmac::<Sha256>::new_from_slice(expected) else {
        return false;
    };
    reference.update(expected);
    let tag = reference.finalize().into_bytes();
    let Ok(mut presented) = Hmac::<Sha256>::new_from_slice(expected) else {
        return false;
    };
    presented.update(given);
    presented.verify_slice(&tag).is_ok()
}

/// The password of an `Authorization: Basic …` header.
fn basic_password(header: &str) -> Option<Vec<u8>> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = BASE64.decode(encoded.trim()).ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    Some(decoded[colon + 1..].to_vec())
}

#[async_trait]
impl Helpdesk for ZnunyAdapter {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capability(&self) -> Capability {
        Capability {
            native_idempotency: self.config.idempotency_field.is_some(),
            webhook: self.config.webhook_secret.is_some(),
            staff_tickets: self.config.chat_field.is_some(),
            ..CAPABILITY
        }
    }

    async fn check(&self) -> Result<Identity> {
        let info = self.session_info("check").await?;
        let id = info.get("UserID").ok_or_else(|| {
            Error::new(
                ErrorKind::Unexpected,
                "check",
                "SessionGet did not name the agent's UserID",
            )
        })?;
        let name = info
            .get("UserFullname")
            .or_else(|| {
                let first = info.get("UserFirstname").unwrap_or_default();
                let last = info.get("UserLastname").unwrap_or_default();
                Some(format!("{first} {last}").trim().to_owned()).filter(|n| !n.is_empty())
            })
            .or_else(|| info.get("UserLogin"))
            .unwrap_or_else(|| self.config.user.clone());
        Ok(Identity { id, name })
    }

    async fn create_ticket(&self, draft: &TicketDraft) -> Result<TicketRef> {
        const OP: &str = "create_ticket";
        let defaults = defaults_of(OP, draft)?;
        if draft.retry
            && let Some(found) = self.find_created(OP, draft).await?
        {
            return Ok(found);
        }
        let mut dynamic_fields: Vec<model::DynamicFieldValue> = defaults
            .dynamic_fields
            .iter()
            .filter(|(name, _)| Some(name.as_str()) != self.config.idempotency_field.as_deref())
            .map(|(name, value)| model::DynamicFieldValue {
                name: name.clone(),
                value: field_value(value),
            })
            .collect();
        if let Some(field) = &self.config.idempotency_field {
            dynamic_fields.push(model::DynamicFieldValue {
                name: field.clone(),
                value: Value::String(draft.key.0.clone()),
            });
        }
        let ((attachments, files), empty) = attachments_of(&draft.attachments);
        let request = model::TicketCreate {
            ticket: model::NewTicket {
                title: map::title_of(draft),
                queue: defaults.queue.unwrap_or_else(|| self.config.queue.clone()),
                state: self
                    .config
                    .state_for(StatusClass::New)
                    .unwrap_or("new")
                    .to_owned(),
                priority: defaults
                    .priority
                    .unwrap_or_else(|| self.config.priority.clone()),
                customer_user: defaults
                    .customer_user
                    .unwrap_or_else(|| self.config.customer_user.clone()),
                ticket_type: defaults
                    .ticket_type
                    .or_else(|| self.config.ticket_type.clone()),
                service: defaults.service.or_else(|| self.config.service.clone()),
            },
            article: model::NewArticle {
                channel: CLIENT_CHANNEL.into(),
                sender_type: "customer".into(),
                visible_for_customer: 1,
                subject: map::description_subject(draft),
                body: map::description_body(draft, &empty),
                content_type: TEXT_PLAIN.into(),
                history_comment: HISTORY_COMMENT.into(),
            },
            dynamic_fields,
            attachments,
        };
        let body = serde_json::to_value(&request)
            .map_err(|e| Error::new(ErrorKind::Unexpected, OP, e.to_string()))?;
        let created: model::TicketCreated = self
            .client
            .call(
                OP,
                &Call::send(Method::POST, "/Ticket", body).with_files(files),
            )
            .await?;
        tracing::debug!(
            adapter = KIND,
            ticket_id = created.ticket_id,
            "Created a ticket."
        );
        Ok(map::ticket_ref(
            &self.config,
            created.ticket_id,
            &created.ticket_number,
        ))
    }

    async fn add_comment(&self, ticket: &TicketId, draft: &CommentDraft) -> Result<CommentId> {
        const OP: &str = "add_comment";
        let id = ticket_id(OP, ticket)?;
        if draft.retry
            && let Some(earlier) = self.find_article(OP, id, draft.key.as_str()).await?
        {
            return Ok(CommentId(earlier.article_id.to_string()));
        }
        let (attachments, empty) = attachments_of(&draft.attachments);
        let article = model::NewArticle {
            channel: CLIENT_CHANNEL.into(),
            sender_type: "customer".into(),
            visible_for_customer: 1,
            subject: map::comment_subject(&draft.author),
            body: map::comment_body(draft, &empty),
            content_type: TEXT_PLAIN.into(),
            history_comment: HISTORY_COMMENT.into(),
        };
        let article_id = self.add_article(OP, id, None, article, attachments).await?;
        Ok(CommentId(article_id.to_string()))
    }

    async fn get_ticket(&self, ticket: &TicketId) -> Result<Ticket> {
        const OP: &str = "get_ticket";
        let id = ticket_id(OP, ticket)?;
        let me = self.integration_user(OP).await?;
        let wire = self
            .ticket(
                OP,
                id,
                &[
                    ("AllArticles", "1"),
                    ("DynamicFields", "1"),
                    ("Attachments", "1"),
                    ("GetAttachmentContents", "0"),
                    ("ArticleOrder", "ASC"),
                ],
            )
            .await?;
        Ok(map::to_ticket(&self.context(me), &wire))
    }

    async fn changes_since(&self, cursor: &Cursor) -> Result<ChangeBatch> {
        const OP: &str = "changes_since";
        let Some(from) = cursor.query_from(DEFAULT_OVERLAP) else {
            // A first poll starts now: replaying the helpdesk's history would flood Telegram.
            return Ok(ChangeBatch {
                changes: Vec::new(),
                cursor: Cursor::starting_at(OffsetDateTime::now_utc()),
            });
        };
        let me = self.integration_user(OP).await?;
        let search = model::TicketSearch {
            changed_since: Some(map::local_time(from, self.config.timezone)),
            created_by: vec![me.to_string()],
            sort_by: Some("Changed".into()),
            order_by: Some("Up".into()),
            limit: Some(SEARCH_LIMIT),
            ..Default::default()
        };
        let own = self.search(OP, &search).await?;
        // Tickets staff started are not the integration agent's: a second search finds those
        // addressed to a chat, to publish them and then to follow them like teledesk's own.
        let addressed = match &self.config.chat_field {
            Some(field) => {
                let search = model::TicketSearch {
                    created_by: Vec::new(),
                    ..search.clone()
                }
                .field_not_empty(field);
                self.search(OP, &search).await?
            }
            None => Vec::new(),
        };
        let mut ids = own.clone();
        ids.extend(addressed.iter().filter(|id| !own.contains(id)));
        let tickets = if ids.is_empty() {
            Vec::new()
        } else {
            self.changed_tickets(OP, &ids).await?
        };
        let mut items = Vec::with_capacity(tickets.len());
        for ticket in &tickets {
            let stamp = map::change_stamp(self.config.timezone, ticket).ok_or_else(|| {
                Error::new(
                    ErrorKind::Unexpected,
                    OP,
                    format!(
                        "ticket {} has an unreadable Changed time {:?}",
                        ticket.ticket_id, ticket.changed
                    ),
                )
            })?;
            items.push((ticket.ticket_id, stamp));
        }
        // A search cut at its limit saw only its oldest changes: the cursor must not pass the
        // newest of them, or the other search's newer changes would carry it over the rest.
        let horizon = [&own, &addressed]
            .into_iter()
            .filter(|found| found.len() >= SEARCH_LIMIT as usize)
            .filter_map(|found| {
                items
                    .iter()
                    .filter(|(id, _)| found.contains(id))
                    .map(|(_, stamp)| *stamp)
                    .max()
            })
            .min();
        let items = items
            .into_iter()
            .map(|(id, stamp)| (TicketId(id.to_string()), stamp));
        let (changes, cursor) = cursor.advance_through(items, horizon, DEFAULT_OVERLAP);
        Ok(ChangeBatch { changes, cursor })
    }

    async fn set_status(&self, ticket: &TicketId, status: StatusClass) -> Result<()> {
        const OP: &str = "set_status";
        // Znuny has no "customer answered" state of its own; its follow-up rule reopens.
        let state = self.config.state_for(status).or_else(|| {
            (status == StatusClass::ClientReplied)
                .then(|| self.config.state_for(StatusClass::InProgress))
                .flatten()
        });
        let Some(state) = state else {
            return Err(Error::unsupported(OP));
        };
        let id = ticket_id(OP, ticket)?;
        let change = model::TicketChange {
            state: Some(state.to_owned()),
            pending_time: map::is_pending_state(state).then_some(model::PendingTime {
                diff: PENDING_MINUTES,
            }),
            priority: None,
        };
        let update = model::TicketUpdate {
            ticket: Some(change),
            ..Default::default()
        };
        self.update(OP, id, &update, Base64Files::default())
            .await
            .map(|_| ())
    }

    async fn download(&self, attachment: &AttachmentRef) -> Result<Attachment> {
        const OP: &str = "download";
        let location = map::parse_attachment_id(&attachment.id).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                OP,
                format!("{:?} is not a Znuny attachment reference", attachment.id),
            )
        })?;
        let mut options = vec![
            ("AllArticles", "1"),
            ("Attachments", "1"),
            ("GetAttachmentContents", "1"),
        ];
        if let Some(sender) = &location.sender_type {
            options.push(("ArticleSenderType", sender.as_str()));
        }
        // TicketGet has no article filter, so it answers every attachment of the articles with
        // its content: each is decoded into the spool as the answer arrives (never the answer
        // whole in memory), and the one asked for is kept; the others go with `files`.
        let route = format!("/Ticket/{}", location.ticket);
        let query = options
            .iter()
            .map(|(key, value)| (*key, (*value).to_owned()))
            .collect();
        let (list, mut files): (model::TicketList, _) = self
            .client
            .call_with_files(
                OP,
                &Call::get(&route, query),
                Some(&map::is_attachment_content),
            )
            .await?;
        let ticket = list
            .tickets
            .into_iter()
            .find(|t| t.ticket_id == location.ticket)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    OP,
                    format!("Znuny returned no data for ticket {}", location.ticket),
                )
            })?;
        let file = ticket
            .articles
            .iter()
            .find(|a| a.article_id == location.article)
            .and_then(|a| a.attachments.iter().find(|f| f.file_id == location.file))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    OP,
                    format!("file {} is no longer on the ticket", attachment.id),
                )
            })?;
        // An attachment without content (a missing or null `Content`) reads as empty.
        let content = match files.take(&file.content) {
            Some(content) => content,
            None if file.content.is_empty() => Content::from_vec(Vec::new()),
            None => {
                return Err(Error::new(
                    ErrorKind::Unexpected,
                    OP,
                    format!("Znuny sent no readable content for {}", attachment.id),
                ));
            }
        };
        let content_type = map::bare_mime(&file.content_type)
            .or_else(|| attachment.content_type.clone())
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        Ok(Attachment {
            file_name: if file.filename.is_empty() {
                attachment.file_name.clone()
            } else {
                file.filename.clone()
            },
            content_type,
            content,
        })
    }

    async fn add_internal_note(&self, ticket: &TicketId, note: &NoteDraft) -> Result<CommentId> {
        const OP: &str = "add_internal_note";
        let id = ticket_id(OP, ticket)?;
        if note.retry
            && let Some(earlier) = self.find_article(OP, id, note.key.as_str()).await?
        {
            return Ok(CommentId(earlier.article_id.to_string()));
        }
        let article = internal_article(map::note_body(&note.body, note.key.as_str(), None));
        let article_id = self.add_article(OP, id, None, article, no_files()).await?;
        Ok(CommentId(article_id.to_string()))
    }

    async fn escalate(&self, ticket: &TicketId, note: &NoteDraft) -> Result<Escalation> {
        const OP: &str = "escalate";
        let id = ticket_id(OP, ticket)?;
        let current = self.ticket(OP, id, &[]).await?.priority;
        let ladder = &self.config.priorities;
        let position = ladder.iter().position(|p| *p == current);
        if note.retry
            && let Some(earlier) = self.find_article(OP, id, note.key.as_str()).await?
        {
            // The note and the priority went in one request, so the note tells what it did.
            return Ok(match map::recorded_priority_step(&earlier.body) {
                Some((_, to)) => Escalation::PriorityRaised { to },
                None if position == Some(ladder.len() - 1) => Escalation::AlreadyHighest,
                None => Escalation::NoteOnly,
            });
        }
        let (outcome, change, step) = match position {
            Some(at) if at + 1 < ladder.len() => {
                let to = ladder[at + 1].clone();
                let change = model::TicketChange {
                    priority: Some(to.clone()),
                    ..Default::default()
                };
                (
                    Escalation::PriorityRaised { to: to.clone() },
                    Some(change),
                    Some((current.clone(), to)),
                )
            }
            Some(_) => (Escalation::AlreadyHighest, None, None),
            None => {
                tracing::warn!(
                    adapter = KIND,
                    ticket_id = id,
                    priority = %current,
                    "The ticket's priority is not in `priorities`; escalation only writes the note."
                );
                (Escalation::NoteOnly, None, None)
            }
        };
        let body = map::note_body(
            &note.body,
            note.key.as_str(),
            step.as_ref().map(|(from, to)| (from.as_str(), to.as_str())),
        );
        self.add_article(OP, id, change, internal_article(body), no_files())
            .await?;
        Ok(outcome)
    }

    fn parse_webhook(&self, request: &WebhookRequest) -> Result<Vec<TicketId>> {
        const OP: &str = "parse_webhook";
        let Some(secret) = &self.config.webhook_secret else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                OP,
                "set webhook_secret to accept Znuny webhooks",
            ));
        };
        let presented = request
            .header("authorization")
            .and_then(basic_password)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::PermissionDenied,
                    OP,
                    "the webhook carries no HTTP Basic credentials",
                )
            })?;
        if !same_secret(&presented, secret.expose().as_bytes()) {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                OP,
                "the webhook's Basic auth password is not webhook_secret",
            ));
        }
        let payload: model::InvokerPayload = serde_json::from_slice(&request.body)
            .map_err(|e| Error::new(ErrorKind::InvalidInput, OP, format!("not JSON: {e}")))?;
        let id = payload
            .event
            .and_then(|e| e.ticket_id)
            .or_else(|| payload.ticket.and_then(|t| t.ticket_id))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    OP,
                    "the webhook names no TicketID (Event.TicketID or Ticket.TicketID)",
                )
            })?;
        Ok(vec![TicketId(id.to_string())])
    }

    /// The tickets the integration agent created (`TicketSearch` has no paging: one search of up
    /// to [`OWN_TICKETS_LIMIT`], oldest first), each read with its first article, whose footer
    /// names the key and whose block names the requester.
    async fn own_tickets(&self) -> Result<Vec<teledesk_adapter::OwnTicket>> {
        const OP: &str = "own_tickets";
        let me = self.integration_user(OP).await?;
        let search = model::TicketSearch {
            created_by: vec![me.to_string()],
            search_in_archive: Some("AllTickets".into()),
            sort_by: Some("Age".into()),
            order_by: Some("Up".into()),
            limit: Some(OWN_TICKETS_LIMIT),
            ..Default::default()
        };
        let ids = self.search(OP, &search).await?;
        let mut own = Vec::new();
        for chunk in ids.chunks(GET_CHUNK) {
            let first_article = [
                ("AllArticles", "1"),
                ("ArticleLimit", "1"),
                ("ArticleOrder", "ASC"),
            ];
            for ticket in self.tickets(OP, chunk, &first_article).await? {
                let Some(first) = ticket.articles.first() else {
                    continue;
                };
                if let Some(key) = teledesk_adapter::text::footer_key(&first.body) {
                    own.push(teledesk_adapter::OwnTicket {
                        reference: map::ticket_ref(
                            &self.config,
                            ticket.ticket_id,
                            &ticket.ticket_number,
                        ),
                        key,
                        requester: teledesk_adapter::text::parse_requester(&first.body),
                    });
                }
            }
        }
        Ok(own)
    }
}

fn internal_article(body: String) -> model::NewArticle {
    model::NewArticle {
        channel: "Internal".into(),
        sender_type: "agent".into(),
        visible_for_customer: 0,
        subject: "teledesk".into(),
        body,
        content_type: TEXT_PLAIN.into(),
        history_comment: HISTORY_COMMENT.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_made_acceptable_to_znuny() {
        assert_eq!(safe_content_type("image/png"), "image/png");
        assert_eq!(
            safe_content_type("Application/Octet-Stream; name=x"),
            "application/octet-stream"
        );
        assert_eq!(
            safe_content_type("application/vnd.ms-excel"),
            "application/vnd.ms-excel"
        );
        assert_eq!(
            safe_content_type("x-world/x-vrml"),
            "application/octet-stream"
        );
        assert_eq!(safe_content_type(""), "application/octet-stream");
        assert_eq!(safe_content_type("image/"), "application/octet-stream");
    }

    #[tokio::test]
    async fn empty_files_are_named_not_sent() {
        let files = [
            Attachment {
                file_name: "a.bin".into(),
                content_type: "application/octet-stream".into(),
                content: vec![0, 255].into(),
            },
            Attachment {
                file_name: "empty.txt".into(),
                content_type: "text/plain".into(),
                content: Vec::new().into(),
            },
        ];
        let ((sent, embedded), empty) = attachments_of(&files);
        assert_eq!(sent.len(), 1);
        assert_eq!(empty, ["empty.txt"]);
        let body = embedded.into_json("test", &sent).expect("a body");
        let mut json = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut body.reader(), &mut json)
            .await
            .unwrap();
        let sent: Value = serde_json::from_slice(&json).expect("JSON");
        assert_eq!(sent[0]["Content"], "AP8=");
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret(b"hook-secret", b"hook-secret"));
        assert!(!same_secret(b"hook-secreT", b"hook-secret"));
        assert!(!same_secret(b"hook-secret ", b"hook-secret"));
        assert!(!same_secret(b"", b"hook-secret"));
    }

    #[test]
    fn basic_auth_passwords_are_extracted() {
        let header = format!("Basic {}", BASE64.encode("znuny:pa:ss"));
        assert_eq!(basic_password(&header), Some(b"pa:ss".to_vec()));
        assert_eq!(basic_password("Bearer abc"), None);
        assert_eq!(basic_password("Basic !!!"), None);
        assert_eq!(
            basic_password(&format!("basic {}", BASE64.encode("nocolon"))),
            None
        );
    }
}
