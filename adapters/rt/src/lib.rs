//! Request Tracker 5 adapter for teledesk: Telegram tickets become RT tickets, over REST2.
//!
//! A ticket is an RT ticket in a configured queue; its first message carries the client's text, a
//! block with the Telegram requester (RT requestors are e-mail addresses, Telegram users have
//! none) and a `tg-key:` marker line. Client messages are correspondence (`Correspond`, public),
//! teledesk's notes are comments (`Comment`, internal), files are message parts. The idempotency
//! key is found again through REST2's JSON search on stored message parts, or in a ticket custom
//! field (`idempotency_field`). Changes are polled through a JSON search on transactions, which,
//! unlike TicketSQL, compares UTC database times whatever the API user's time zone. See
//! `README.md` for the capability table, what the live server taught and the open questions.

#![warn(missing_docs)]

mod client;
mod config;
mod map;
mod model;

pub use config::{Priority, RtConfig, TicketDefaults};

use async_trait::async_trait;
use client::RtClient;
use reqwest::Method;
use serde_json::{Value, json};
use teledesk_adapter::http::JsonStep;
use teledesk_adapter::{
    Attachment, AttachmentRef, Capability, ChangeBatch, CommentDraft, CommentId, ConfigProblem,
    ConfigTable, Content, Cursor, DEFAULT_OVERLAP, Error, ErrorKind, Escalation, Helpdesk,
    IdempotencyKey, Identity, NoteDraft, Problem, Result, StatusClass, Ticket, TicketDraft,
    TicketId, TicketRef, lenient,
};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

/// The config tag (`kind = "rt"`), also the log field and metrics label.
pub const KIND: &str = "rt";

/// What the RT adapter can do; the README's table shows the same values.
///
/// [`RtAdapter::capability`] reports `native_idempotency` as `true` when the helpdesk sets
/// `idempotency_field`.
pub const CAPABILITY: Capability = Capability {
    comment: true,
    comment_internal: true,
    attachment: true,
    // RT's $MaxAttachmentSize (default 10 MB) only applies where the admin enabled truncating or
    // dropping; the server's own limit is not visible through REST2.
    attachment_max_size: None,
    download: true,
    set_status: true,
    // Without `idempotency_field` the key is a marker line in the message text.
    native_idempotency: false,
    poll: true,
    // RT 5 core has no webhooks (a Scrip could post one, but nothing signs it).
    webhook: false,
    webhook_signed: false,
    internal_note: true,
    priority: true,
    native_rating: false,
    // A follow-up `RefersTo` the closed ticket.
    native_link: true,
    custom_fields: true,
    check_fields: false,
    // The listing names tickets only; a change is read with `get_ticket`.
    change_snapshot: false,
    // Self-hosted: no limit of its own; `requests_per_second` protects the server.
    rate_limit: None,
    staff_tickets: false,
    due_times: true,
};

/// REST2's maximum page size.
const PAGE_SIZE: usize = 100;
/// Pages of one poll; a larger backlog is read by the following polls (the cursor moves to the
/// newest transaction read).
const MAX_POLL_PAGES: i64 = 20;
/// Pages of a ticket's history, attachments or of an idempotency search read at most.
const MAX_PAGES: i64 = 50;
/// How far before the Telegram time a retried create looks for the ticket an earlier attempt made:
/// room for the RT server's clock running behind Telegram's.
const CREATE_LOOKBACK: time::Duration = time::Duration::hours(1);

/// Validates a `[helpdesks.<name>]` table of kind `rt`, reporting every problem.
pub fn validate_helpdesk(table: &ConfigTable) -> Vec<ConfigProblem> {
    RtConfig::from_table(table).err().unwrap_or_default()
}

/// Validates a chat's `[chats.ticket]` table for an RT helpdesk, reporting every problem.
pub fn validate_ticket_defaults(table: &ConfigTable) -> Vec<ConfigProblem> {
    TicketDefaults::from_table(table).err().unwrap_or_default()
}

/// The RT adapter: one per `[helpdesks.<name>]` table, shared by every daemon task.
#[derive(Debug)]
pub struct RtAdapter {
    config: RtConfig,
    client: RtClient,
    /// The integration user, learned on first need; what it writes with a marker is teledesk's.
    me: OnceCell<model::User>,
}

impl RtAdapter {
    /// Builds the adapter from its `[helpdesks.<name>]` table (secrets resolved).
    pub fn from_config(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let config = RtConfig::from_table(table)?;
        let client = RtClient::new(&config).map_err(|e| {
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
    pub fn config(&self) -> &RtConfig {
        &self.config
    }

    async fn load_me(&self, op: &'static str) -> Result<model::User> {
        let who = match &self.config.user {
            Some(user) => user.clone(),
            None => config::token_user_id(self.config.token.expose())
                .map(|id| id.to_string())
                .unwrap_or_default(),
        };
        let user: model::User = self
            .client
            .get(op, &format!("/user/{}", segment(&who)), &[])
            .await?;
        let _ = self.me.set(user.clone());
        Ok(user)
    }

    async fn me(&self, op: &'static str) -> Result<&model::User> {
        self.me.get_or_try_init(|| self.load_me(op)).await
    }

    async fn ticket(&self, op: &'static str, id: i64) -> Result<model::Ticket> {
        self.client.get(op, &format!("/ticket/{id}"), &[]).await
    }

    /// Every page of a collection, up to [`MAX_PAGES`].
    async fn all_pages<T: serde::de::DeserializeOwned>(
        &self,
        op: &'static str,
        path: &str,
        query: &[(&str, String)],
        search: Option<&[model::Limit]>,
    ) -> Result<Vec<T>> {
        let mut items = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut query = query.to_vec();
            query.push(("per_page", PAGE_SIZE.to_string()));
            query.push(("page", page.to_string()));
            // Read raw so paging counts what RT sent, then skip items of an unknown shape.
            let collection: model::Collection<serde_json::Value> = match search {
                Some(limits) => {
                    self.client
                        .send_json_for(op, Method::POST, path, &query, limits)
                        .await?
                }
                None => self.client.get(op, path, &query).await?,
            };
            let count = collection.items.len();
            items.extend(lenient::keep_decodable::<T>(collection.items));
            if count < PAGE_SIZE || (collection.page as f64) >= collection.pages {
                return Ok(items);
            }
        }
        Ok(items)
    }

    /// The transaction of `ticket` the integration user wrote whose message ends with the marker
    /// of `key`, found through a `Content LIKE` search on the ticket's message parts (cheap: RT
    /// limits it to the ticket). A staff message that merely copies the marker does not count.
    async fn find_marked(
        &self,
        op: &'static str,
        ticket: i64,
        key: &IdempotencyKey,
    ) -> Result<Option<(i64, String)>> {
        let limits = [model::Limit {
            field: "Content",
            operator: Some("LIKE"),
            value: format!("{}{}", map::MARKER, key.as_str()),
        }];
        let me = self.me(op).await?.name.clone();
        let query = [(
            "fields",
            "TransactionId,ContentType,Filename,Content,Creator".to_owned(),
        )];
        let parts: Vec<model::AttachmentItem> = self
            .all_pages(
                op,
                &format!("/ticket/{ticket}/attachments"),
                &query,
                Some(&limits),
            )
            .await?;
        Ok(parts.into_iter().find_map(|part| {
            let content = part.content?;
            let mine = part.creator.is_some_and(|c| c.id.eq_ignore_ascii_case(&me));
            (mine && part.filename.is_empty() && map::has_marker_for(&content, key.as_str()))
                .then_some((part.transaction_id?, content))
        }))
    }

    /// The ticket an earlier attempt of this create made, if any.
    async fn find_ticket(&self, op: &'static str, draft: &TicketDraft) -> Result<Option<i64>> {
        if let Some(field) = &self.config.idempotency_field {
            // Not limited to the queue: staff may have moved the ticket meanwhile.
            let query = [
                (
                    "query",
                    format!(
                        "'CF.{{{}}}' = '{}'",
                        ticketsql_escape(field),
                        ticketsql_escape(draft.key.as_str())
                    ),
                ),
                ("fields", "id".to_owned()),
            ];
            let found: model::Collection<model::ObjectRef> =
                self.client.get(op, "/tickets", &query).await?;
            return Ok(found.items.first().and_then(|t| t.id.parse().ok()));
        }
        // Tickets the integration user created since shortly before the Telegram message, newest
        // first; the one whose first message carries the marker is ours.
        let me = self.me(op).await?;
        let [object, kind, creator] = model::Limit::ticket_creations_by(me.id);
        let limits = [
            object,
            kind,
            creator,
            model::Limit {
                field: "Created",
                operator: Some(">="),
                value: map::query_time(draft.registered_at - CREATE_LOOKBACK),
            },
        ];
        // Page by page: the ticket is usually among the newest, so stop at the first match.
        for page in 1..=MAX_PAGES {
            let query = [
                ("fields", "ObjectId,Created".to_owned()),
                ("orderby", "id".to_owned()),
                ("order", "DESC".to_owned()),
                ("per_page", PAGE_SIZE.to_string()),
                ("page", page.to_string()),
            ];
            let created: model::Collection<model::FoundTransaction> = self
                .client
                .send_json_for(op, Method::POST, "/transactions", &query, &limits)
                .await?;
            let count = created.items.len();
            for txn in created.items {
                if self
                    .find_marked(op, txn.object_id, &draft.key)
                    .await?
                    .is_some()
                {
                    return Ok(Some(txn.object_id));
                }
            }
            if count < PAGE_SIZE || (created.page as f64) >= created.pages {
                break;
            }
        }
        Ok(None)
    }

    /// RT answers 400 "Message could not be recorded" for a message to a ticket that does not
    /// exist; tell that apart from a refused message.
    async fn not_found_or(&self, op: &'static str, ticket: i64, error: Error) -> Error {
        if error.kind() != ErrorKind::InvalidInput {
            return error;
        }
        match self.ticket(op, ticket).await {
            Err(missing) if missing.kind() == ErrorKind::NotFound => missing,
            _ => error,
        }
    }

    /// Posts a correspondence or comment (multipart when it carries files); returns the new
    /// transaction's id.
    async fn post_message(
        &self,
        op: &'static str,
        ticket: i64,
        kind: &str,
        content: String,
        files: &[Attachment],
    ) -> Result<i64> {
        let path = format!("/ticket/{ticket}/{kind}");
        let sent = if files.is_empty() {
            let body = model::Message {
                content,
                content_type: "text/plain",
            };
            self.client
                .send_json(op, Method::POST, &path, &[], &body)
                .await
        } else {
            let body = json!({"Content": content, "ContentType": "text/plain"});
            self.client.post_multipart(op, &path, &body, files).await
        };
        match sent {
            Ok(response) => client::location_id(op, &response),
            Err(error) => Err(self.not_found_or(op, ticket, error).await),
        }
    }

    /// Sets fields with `PUT /ticket/{id}` and reads the ticket back: RT answers 200 with
    /// (localised) messages even when it refused a change, so the ticket itself is the proof.
    async fn update(
        &self,
        op: &'static str,
        ticket: i64,
        update: &model::UpdateTicket,
    ) -> Result<model::Ticket> {
        let messages: Vec<String> = self
            .client
            .send_json_for(op, Method::PUT, &format!("/ticket/{ticket}"), &[], update)
            .await?;
        let now = self.ticket(op, ticket).await?;
        let status_ok = update
            .status
            .as_ref()
            .is_none_or(|s| now.status.eq_ignore_ascii_case(s));
        let priority_ok = update.priority.is_none_or(|p| now.priority == Some(p));
        if status_ok && priority_ok {
            Ok(now)
        } else {
            Err(Error::new(
                ErrorKind::InvalidInput,
                op,
                format!("RT did not apply the change: {}", messages.join("; ")),
            ))
        }
    }

    async fn set_rt_status(&self, op: &'static str, ticket: &TicketId, status: &str) -> Result<()> {
        let id = ticket_id(op, ticket)?;
        let update = model::UpdateTicket {
            status: Some(status.to_owned()),
            priority: None,
        };
        self.update(op, id, &update).await.map(|_| ())
    }

    async fn write_note(
        &self,
        op: &'static str,
        ticket: i64,
        note: &NoteDraft,
        extra: Option<&str>,
    ) -> Result<i64> {
        let text = map::note_text(&note.body, note.key.as_str(), extra);
        self.post_message(op, ticket, "comment", text, &[]).await
    }

    fn priority_of(&self, op: &'static str, priority: &Priority) -> Result<i64> {
        match priority {
            Priority::Value(value) => Ok(*value),
            Priority::Label(label) => self.config.priority_value(label).ok_or_else(|| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    op,
                    format!(
                        "[chats.ticket] priority \"{label}\" is not one of the helpdesk's priorities ({})",
                        self.config
                            .priorities
                            .iter()
                            .map(|(name, _)| name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            }),
        }
    }

    /// Checks that the queue exists and carries the configured custom fields: RT silently drops
    /// values of custom fields that do not apply to a ticket.
    async fn check_queue(&self, op: &'static str) -> Result<()> {
        let queue: model::Queue = self
            .client
            .get(op, &format!("/queue/{}", segment(&self.config.queue)), &[])
            .await
            .map_err(|e| {
                if e.kind() == ErrorKind::NotFound {
                    let queue = self.config.queue.clone();
                    Error::config(
                        op,
                        [ConfigProblem::new("queue", Problem::NoSuchQueue { queue })],
                    )
                } else {
                    e
                }
            })?;
        let wanted: Vec<&String> = [
            &self.config.idempotency_field,
            &self.config.resolution_field,
        ]
        .into_iter()
        .flatten()
        .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let mut names = Vec::new();
        for cf in &queue.ticket_custom_fields {
            let field: model::CustomField = self
                .client
                .get(op, &format!("/customfield/{}", segment(&cf.id)), &[])
                .await?;
            names.push(field.name);
        }
        for field in wanted {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(field)) {
                let problem = Problem::FieldNotInQueue {
                    field: field.clone(),
                    queue: queue.name,
                };
                return Err(Error::config(op, [ConfigProblem::new("", problem)]));
            }
        }
        Ok(())
    }
}

/// Percent-encodes one path segment (queue names have spaces, logins may have `@`).
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'@') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Escapes a value for a single-quoted TicketSQL string.
fn ticketsql_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\'', "\\'")
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
                format!("{ticket:?} is not an RT ticket id"),
            )
        })
}

#[async_trait]
impl Helpdesk for RtAdapter {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capability(&self) -> Capability {
        Capability {
            native_idempotency: self.config.idempotency_field.is_some(),
            // Staff address a ticket through a custom field the config must name.
            staff_tickets: self.config.chat_field.is_some(),
            ..CAPABILITY
        }
    }

    async fn check(&self) -> Result<Identity> {
        const OP: &str = "check";
        let me = self.load_me(OP).await?;
        self.check_queue(OP).await?;
        Ok(Identity {
            id: me.id.to_string(),
            name: me
                .real_name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or(me.name),
        })
    }

    async fn create_ticket(&self, draft: &TicketDraft) -> Result<TicketRef> {
        const OP: &str = "create_ticket";
        let defaults = TicketDefaults::from_table(&draft.ticket_table()).map_err(|problems| {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            Error::new(ErrorKind::ConfigInvalid, OP, text.join("; "))
        })?;
        let queue = defaults.queue.as_deref().unwrap_or(&self.config.queue);
        if draft.retry
            && let Some(id) = self.find_ticket(OP, draft).await?
        {
            tracing::debug!(
                adapter = KIND,
                ticket = id,
                "Found the ticket an earlier attempt created."
            );
            return Ok(map::ticket_ref(&self.config.url, id));
        }

        let mut body = serde_json::Map::new();
        body.insert("Queue".into(), json!(queue));
        body.insert("Subject".into(), json!(map::subject_of(draft)));
        body.insert(
            "Content".into(),
            json!(map::description(draft, &self.config.url)),
        );
        body.insert("ContentType".into(), json!("text/plain"));
        let requestor = defaults
            .requestor
            .as_ref()
            .unwrap_or(&self.config.requestor);
        if !requestor.is_empty() {
            body.insert("Requestor".into(), json!(requestor));
        }
        if let Some(priority) = &defaults.priority {
            // RT's create stores a label verbatim instead of its number, so only numbers go up.
            body.insert("Priority".into(), json!(self.priority_of(OP, priority)?));
        }
        if let Some(owner) = &defaults.owner {
            body.insert("Owner".into(), json!(owner));
        }
        let mut custom_fields = defaults.custom_fields.clone();
        if let Some(field) = &self.config.idempotency_field {
            custom_fields.insert(field.clone(), json!(draft.key.as_str()));
        }
        if !custom_fields.is_empty() {
            body.insert("CustomFields".into(), Value::Object(custom_fields));
        }
        if let Some(original) = &draft.follow_up_of {
            body.insert("RefersTo".into(), json!(original.id.0));
        }
        let body = Value::Object(body);
        let created: model::Created = if draft.attachments.is_empty() {
            self.client
                .send_json_for(OP, Method::POST, "/ticket", &[], &body)
                .await?
        } else {
            let response = self
                .client
                .post_multipart(OP, "/ticket", &body, &draft.attachments)
                .await?;
            self.client.json(OP, response).await?
        };
        let id: i64 = created.id.parse().map_err(|_| {
            Error::new(
                ErrorKind::Unexpected,
                OP,
                format!("RT created a ticket with id {:?}", created.id),
            )
        })?;
        tracing::debug!(adapter = KIND, ticket = id, "Created a ticket.");
        Ok(map::ticket_ref(&self.config.url, id))
    }

    async fn add_comment(&self, ticket: &TicketId, draft: &CommentDraft) -> Result<CommentId> {
        const OP: &str = "add_comment";
        let id = ticket_id(OP, ticket)?;
        if draft.retry
            && let Some((txn, _)) = self.find_marked(OP, id, &draft.key).await?
        {
            return Ok(CommentId(txn.to_string()));
        }
        // A correspondence, like a requester's e-mail: public, and RT's default scrip opens a
        // new or resolved ticket on it.
        let txn = self
            .post_message(
                OP,
                id,
                "correspond",
                map::comment_text(draft),
                &draft.attachments,
            )
            .await?;
        Ok(CommentId(txn.to_string()))
    }

    /// The ticket record carries its custom fields: one request tells whether staff named a chat,
    /// instead of the ticket, its owner and every page of its history.
    async fn addressed_ticket(&self, ticket: &TicketId) -> Result<Option<Ticket>> {
        const OP: &str = "addressed_ticket";
        let id = ticket_id(OP, ticket)?;
        if map::chat_named(&self.config, &self.ticket(OP, id).await?).is_none() {
            return Ok(None);
        }
        let ticket = self.get_ticket(ticket).await?;
        Ok(ticket.addressed_to.is_some().then_some(ticket))
    }

    async fn get_ticket(&self, ticket: &TicketId) -> Result<Ticket> {
        const OP: &str = "get_ticket";
        let id = ticket_id(OP, ticket)?;
        let me = self.me(OP).await?;
        let wire = self.ticket(OP, id).await?;
        let owner = if wire.owner.id.eq_ignore_ascii_case(model::NOBODY) {
            None
        } else {
            Some(
                self.client
                    .get::<model::User>(OP, &format!("/user/{}", segment(&wire.owner.id)), &[])
                    .await?,
            )
        };
        let history: Vec<model::Transaction> = self
            .all_pages(
                OP,
                &format!("/ticket/{id}/history"),
                &[
                    (
                        "fields",
                        "Type,Created,Creator,Field,OldValue,NewValue".to_owned(),
                    ),
                    ("fields[Creator]", "Name,RealName,EmailAddress".to_owned()),
                    ("orderby", "id".to_owned()),
                ],
                None,
            )
            .await?;
        let attachments = format!("/ticket/{id}/attachments");
        let parts: Vec<model::AttachmentItem> = self
            .all_pages(
                OP,
                &attachments,
                &[
                    (
                        "fields",
                        "TransactionId,ContentType,Filename,ContentLength".to_owned(),
                    ),
                    ("orderby", "id".to_owned()),
                ],
                None,
            )
            .await?;
        // Content only of the text parts: in a collection RT sends binary content as mangled
        // text, and files are downloaded one by one instead.
        let text_types = [
            model::Limit {
                field: "ContentType",
                operator: None,
                value: "text/plain".into(),
            },
            model::Limit {
                field: "ContentType",
                operator: None,
                value: "text/html".into(),
            },
        ];
        let bodies: Vec<model::AttachmentItem> = self
            .all_pages(
                OP,
                &attachments,
                &[
                    (
                        "fields",
                        "TransactionId,ContentType,Filename,Content".to_owned(),
                    ),
                    ("orderby", "id".to_owned()),
                ],
                Some(&text_types),
            )
            .await?;
        let ctx = map::Context {
            config: &self.config,
            integration_login: &me.name,
        };
        Ok(map::to_ticket(
            &ctx,
            &wire,
            owner.as_ref(),
            &history,
            &parts,
            &bodies,
        ))
    }

    async fn changes_since(&self, cursor: &Cursor) -> Result<ChangeBatch> {
        const OP: &str = "changes_since";
        let Some(from) = cursor.query_from(DEFAULT_OVERLAP) else {
            // A first poll starts now: replaying RT's history would flood Telegram.
            return Ok(ChangeBatch {
                changes: Vec::new(),
                cursor: Cursor::starting_at(OffsetDateTime::now_utc()),
            });
        };
        // TicketSQL reads dates in the API user's time zone (and ignores a zone in the text), so
        // `LastUpdated >= '…'` would miss changes for a user west of UTC. A JSON search compares
        // the UTC column as stored.
        let limits = [
            model::Limit {
                field: "ObjectType",
                operator: None,
                value: "RT::Ticket".into(),
            },
            model::Limit {
                field: "Created",
                operator: Some(">="),
                value: map::query_time(from),
            },
            // The copies of outgoing mail RT records change nothing teledesk shows.
            model::Limit {
                field: "Type",
                operator: Some("!="),
                value: "EmailRecord".into(),
            },
        ];
        let mut items = Vec::new();
        for page in 1..=MAX_POLL_PAGES {
            let query = [
                ("fields", "ObjectId,Created".to_owned()),
                ("orderby", "id".to_owned()),
                ("per_page", PAGE_SIZE.to_string()),
                ("page", page.to_string()),
            ];
            let found: model::Collection<model::FoundTransaction> = self
                .client
                .send_json_for(OP, Method::POST, "/transactions", &query, &limits)
                .await?;
            let count = found.items.len();
            items.extend(found.items.into_iter().map(|txn| {
                (
                    TicketId(txn.object_id.to_string()),
                    map::change_stamp(txn.created, txn.id),
                )
            }));
            if count < PAGE_SIZE || (found.page as f64) >= found.pages {
                break;
            }
        }
        let (changes, cursor) = cursor.advance(items, DEFAULT_OVERLAP);
        Ok(ChangeBatch { changes, cursor })
    }

    async fn set_status(&self, ticket: &TicketId, status: StatusClass) -> Result<()> {
        const OP: &str = "set_status";
        let target = match status {
            // RT's default lifecycle has no "client replied": back to active work, as RT 3's
            // AutoOpen did on a requester's reply.
            StatusClass::InProgress | StatusClass::ClientReplied => self
                .config
                .status_for(status)
                .unwrap_or(&self.config.reopen_status),
            other => self
                .config
                .status_for(other)
                .ok_or_else(|| Error::unsupported(OP))?,
        }
        .to_owned();
        self.set_rt_status(OP, ticket, &target).await
    }

    async fn reopen(&self, ticket: &TicketId) -> Result<()> {
        let status = self.config.reopen_status.clone();
        self.set_rt_status("reopen", ticket, &status).await
    }

    async fn download(&self, attachment: &AttachmentRef) -> Result<Attachment> {
        const OP: &str = "download";
        let id: i64 = attachment.id.parse().map_err(|_| {
            Error::new(
                ErrorKind::InvalidInput,
                OP,
                format!("{:?} is not an RT attachment id", attachment.id),
            )
        })?;
        // The file is base64 inside the JSON: decoded into the spool as it arrives.
        let is_content = |path: &[JsonStep<'_>]| path == [JsonStep::Key("Content")];
        let (record, mut files): (model::AttachmentRecord, _) = match self
            .client
            .get_with_files(OP, &format!("/attachment/{id}"), is_content)
            .await
        {
            Ok(answer) => answer,
            // RT 5.0.3 answers 500 for an attachment id that does not exist.
            Err(error) if error.kind() == ErrorKind::Unavailable => {
                let probe = [model::Limit {
                    field: "id",
                    operator: None,
                    value: id.to_string(),
                }];
                let found: Result<model::Collection<model::ObjectRef>> = self
                    .client
                    .send_json_for(OP, Method::POST, "/attachments", &[], &probe)
                    .await;
                return Err(match found {
                    Ok(found) if found.items.is_empty() => Error::new(
                        ErrorKind::NotFound,
                        OP,
                        format!("attachment {id} does not exist"),
                    ),
                    _ => error,
                });
            }
            Err(error) => return Err(error),
        };
        // A part without content (a missing or null `Content`) reads as empty.
        let content = match files.take(&record.content) {
            Some(content) => content,
            None if record.content.is_empty() => Content::from_vec(Vec::new()),
            None => {
                return Err(Error::new(
                    ErrorKind::Unexpected,
                    OP,
                    format!("attachment {id} has no readable content"),
                ));
            }
        };
        let file_name = if record.filename.is_empty() {
            attachment.file_name.clone()
        } else {
            record.filename
        };
        let content_type = if record.content_type.is_empty() {
            attachment
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_owned())
        } else {
            record.content_type
        };
        Ok(Attachment {
            file_name,
            content_type,
            content,
        })
    }

    async fn add_internal_note(&self, ticket: &TicketId, note: &NoteDraft) -> Result<CommentId> {
        const OP: &str = "add_internal_note";
        let id = ticket_id(OP, ticket)?;
        if note.retry
            && let Some((txn, _)) = self.find_marked(OP, id, &note.key).await?
        {
            return Ok(CommentId(txn.to_string()));
        }
        let txn = self.write_note(OP, id, note, None).await?;
        Ok(CommentId(txn.to_string()))
    }

    async fn escalate(&self, ticket: &TicketId, note: &NoteDraft) -> Result<Escalation> {
        const OP: &str = "escalate";
        let id = ticket_id(OP, ticket)?;
        // The note goes first and records the step (`priority 0 → 50`), so a retry after a
        // failure in between finishes the raise instead of raising twice.
        if note.retry
            && let Some((_, text)) = self.find_marked(OP, id, &note.key).await?
        {
            let Some(target) = map::priority_step_target(&text) else {
                return Ok(Escalation::AlreadyHighest);
            };
            let current = self.ticket(OP, id).await?.priority.unwrap_or(0);
            if current < target {
                let update = model::UpdateTicket {
                    status: None,
                    priority: Some(target),
                };
                self.update(OP, id, &update).await?;
            }
            return Ok(Escalation::PriorityRaised {
                to: self.config.priority_label(target),
            });
        }
        let current = self.ticket(OP, id).await?.priority.unwrap_or(0);
        let next = self
            .config
            .priorities
            .iter()
            .map(|(_, value)| *value)
            .find(|value| *value > current);
        let Some(next) = next else {
            self.write_note(OP, id, note, None).await?;
            return Ok(Escalation::AlreadyHighest);
        };
        let step = map::priority_step(current, next);
        self.write_note(OP, id, note, Some(&step)).await?;
        let update = model::UpdateTicket {
            status: None,
            priority: Some(next),
        };
        self.update(OP, id, &update).await?;
        Ok(Escalation::PriorityRaised {
            to: self.config.priority_label(next),
        })
    }

    /// The tickets the integration user created (a search on `Create` transactions, paged by
    /// id, oldest first), each with the key of its first message's footer: the message parts of
    /// that transaction, found by a `Content LIKE` search on the ticket.
    async fn own_tickets(&self) -> Result<Vec<teledesk_adapter::OwnTicket>> {
        const OP: &str = "own_tickets";
        let me = self.me(OP).await?;
        let my_name = me.name.clone();
        let limits = model::Limit::ticket_creations_by(me.id);
        let mut created = Vec::new();
        for page in 1.. {
            let query = [
                ("fields", "ObjectId,Created".to_owned()),
                ("orderby", "id".to_owned()),
                ("order", "ASC".to_owned()),
                ("per_page", PAGE_SIZE.to_string()),
                ("page", page.to_string()),
            ];
            let found: model::Collection<serde_json::Value> = self
                .client
                .send_json_for(OP, Method::POST, "/transactions", &query, &limits)
                .await?;
            let count = found.items.len();
            created.extend(lenient::keep_decodable::<model::FoundTransaction>(
                found.items,
            ));
            if count < PAGE_SIZE || (found.page as f64) >= found.pages {
                break;
            }
        }
        let marked = [model::Limit {
            field: "Content",
            operator: Some("LIKE"),
            value: map::MARKER.trim_end().to_owned(),
        }];
        let fields = [(
            "fields",
            "TransactionId,ContentType,Filename,Content,Creator".to_owned(),
        )];
        let mut own = Vec::new();
        for txn in created {
            let parts: Vec<model::AttachmentItem> = self
                .all_pages(
                    OP,
                    &format!("/ticket/{}/attachments", txn.object_id),
                    &fields,
                    Some(&marked),
                )
                .await?;
            let first_message = parts.into_iter().find_map(|part| {
                let mine = part
                    .creator
                    .as_ref()
                    .is_some_and(|c| c.id.eq_ignore_ascii_case(&my_name));
                (mine && part.filename.is_empty() && part.transaction_id == Some(txn.id))
                    .then_some(part.content)
                    .flatten()
            });
            let Some(content) = first_message else {
                continue;
            };
            if let Some(key) = teledesk_adapter::text::footer_key(&content) {
                own.push(teledesk_adapter::OwnTicket {
                    reference: map::ticket_ref(&self.config.url, txn.object_id),
                    key,
                    requester: teledesk_adapter::text::parse_requester(&content),
                });
            }
        }
        Ok(own)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("CI Support"), "CI%20Support");
        assert_eq!(segment("ann@acme.example"), "ann@acme.example");
        assert_eq!(segment("a/b"), "a%2Fb");
        assert_eq!(
            segment("Поддержка"),
            "%D0%9F%D0%BE%D0%B4%D0%B4%D0%B5%D1%80%D0%B6%D0%BA%D0%B0"
        );
    }

    #[test]
    fn ticketsql_strings_are_escaped() {
        assert_eq!(ticketsql_escape(r"it's a\b"), r"it\'s a\\b");
    }

    #[test]
    fn ticket_ids_are_positive_numbers() {
        assert_eq!(ticket_id("x", &TicketId("12".into())).expect("id"), 12);
        for bad in ["", "0", "-1", "abc"] {
            let e = ticket_id("x", &TicketId(bad.into())).expect_err(bad);
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn capability_reflects_the_idempotency_field() {
        let table = |extra: Value| -> ConfigTable {
            let mut t = json!({
                "url": "https://rt.example.com",
                "token": "1-14-e64463c7d8021d4e80672911497f575c",
                "queue": "General",
            })
            .as_object()
            .cloned()
            .expect("table");
            t.extend(extra.as_object().cloned().unwrap_or_default());
            t
        };
        let plain = RtAdapter::from_config(&table(json!({}))).expect("valid");
        assert_eq!(plain.capability(), CAPABILITY);
        let native = RtAdapter::from_config(&table(json!({"idempotency_field": "Telegram key"})))
            .expect("valid");
        assert!(native.capability().native_idempotency);
        assert!(validate_helpdesk(&table(json!({}))).is_empty());
        assert_eq!(validate_ticket_defaults(&table(json!({}))).len(), 2);
    }
}
