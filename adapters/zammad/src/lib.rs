//! Zammad adapter for teledesk: Telegram requests become Zammad tickets.
//!
//! A ticket is created with `POST /api/v1/tickets` and its first article (the client's description
//! with a block naming the Telegram requester); the idempotency key goes into the ticket's `note`
//! column and into every article's `message_id`. Client comments are `web` articles from the
//! `Customer` side written by the integration user, internal notes are `note` articles with
//! `internal: true`. Status comes from the state name (`statuses` table, then Zammad's defaults,
//! then the state type). Changes are polled with the ticket search (Elasticsearch) and announced by
//! signed webhooks. See `README.md` for the capability table and the open questions.

#![warn(missing_docs)]

mod client;
mod config;
mod map;
mod model;

pub use config::{CustomerRule, TicketDefaults, ZammadConfig};
pub use map::{DEFAULT_STATUSES, signature};

use async_trait::async_trait;
use client::ZammadClient;
use reqwest::Method;
use std::collections::HashMap;
use std::sync::Mutex;
use teledesk_adapter::http::Base64Files;
use teledesk_adapter::{
    Attachment, AttachmentRef, Capability, ChangeBatch, CommentDraft, CommentId, ConfigProblem,
    ConfigTable, Cursor, DEFAULT_OVERLAP, Error, ErrorKind, Escalation, Helpdesk, IdempotencyKey,
    Identity, NoteDraft, Problem, Result, StatusClass, Ticket, TicketDraft, TicketId, TicketRef,
    WebhookRequest, lenient,
};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

/// The config tag (`kind = "zammad"`), also the log field and metrics label.
pub const KIND: &str = "zammad";

/// What the Zammad adapter can do with a `webhook_secret` configured; the README's table shows the
/// same values. Without the secret, [`Helpdesk::capability`] reports `webhook` and
/// `webhook_signed` as `false`: unsigned webhooks are not accepted.
pub const CAPABILITY: Capability = Capability {
    comment: true,
    comment_internal: true,
    attachment: true,
    // Zammad sets no limit of its own; the packaged nginx allows 50 MB per request, which base64
    // makes about 37 MB of file. Deployments differ, so none is declared.
    attachment_max_size: None,
    download: true,
    set_status: true,
    // The key lives in the ticket's `note` column and the articles' `message_id`.
    native_idempotency: true,
    poll: true,
    webhook: true,
    webhook_signed: true,
    internal_note: true,
    priority: true,
    // Zammad has no satisfaction rating; ratings become internal notes.
    native_rating: false,
    // `POST /links/add`, link type "normal".
    native_link: true,
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

/// Results per search page; Zammad's search allows up to 200.
const PAGE_SIZE: usize = 100;
/// Stops paging a server that ignores `page` instead of looping forever.
const MAX_PAGES: usize = 100;

/// Validates a `[helpdesks.<name>]` table of kind `zammad`, reporting every problem.
pub fn validate_helpdesk(table: &ConfigTable) -> Vec<ConfigProblem> {
    ZammadConfig::from_table(table).err().unwrap_or_default()
}

/// Validates a chat's `[chats.ticket]` table for a Zammad helpdesk, reporting every problem.
pub fn validate_ticket_defaults(table: &ConfigTable) -> Vec<ConfigProblem> {
    TicketDefaults::from_table(table).err().unwrap_or_default()
}

/// The Zammad adapter: one per `[helpdesks.<name>]` table, shared by every daemon task.
#[derive(Debug)]
pub struct ZammadAdapter {
    config: ZammadConfig,
    client: ZammadClient,
    /// The integration user's id, learned on first need; its articles are teledesk's own.
    me: OnceCell<i64>,
    /// State id → (name, state type id); custom states are classed by type.
    states: Mutex<HashMap<i64, model::State>>,
    /// Priority id → name.
    priorities: Mutex<HashMap<i64, String>>,
    /// User id → display name, for owners (the expanded ticket only names their login).
    users: Mutex<HashMap<i64, String>>,
}

impl ZammadAdapter {
    /// Builds the adapter from its `[helpdesks.<name>]` table (secrets resolved).
    pub fn from_config(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let config = ZammadConfig::from_table(table)?;
        let client = ZammadClient::new(&config).map_err(|e| {
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
            states: Mutex::new(HashMap::new()),
            priorities: Mutex::new(HashMap::new()),
            users: Mutex::new(HashMap::new()),
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &ZammadConfig {
        &self.config
    }

    async fn current_user(&self, op: &'static str) -> Result<model::User> {
        let user: model::User = self.client.get(op, "/users/me", &[]).await?;
        // Losing the race to another task is fine: both read the same user.
        let _ = self.me.set(user.id);
        Ok(user)
    }

    async fn integration_user(&self, op: &'static str) -> Result<i64> {
        self.me
            .get_or_try_init(|| async { self.current_user(op).await.map(|u| u.id) })
            .await
            .copied()
    }

    async fn ticket(&self, op: &'static str, id: i64) -> Result<model::Ticket> {
        let query = [("expand", "true".to_owned())];
        self.client.get(op, &format!("/tickets/{id}"), &query).await
    }

    /// A ticket's articles; one of a shape the adapter does not know is skipped, not fatal.
    async fn articles(&self, op: &'static str, id: i64) -> Result<Vec<model::Article>> {
        self.client
            .get::<lenient::Lenient<model::Article>>(
                op,
                &format!("/ticket_articles/by_ticket/{id}"),
                &[],
            )
            .await
            .map(lenient::Lenient::into_inner)
    }

    /// The article an earlier attempt wrote with `key`: the integration user's, with the key's
    /// message id (a mail's sender could choose the same one).
    async fn article_with_key(
        &self,
        op: &'static str,
        ticket_id: i64,
        key: &IdempotencyKey,
    ) -> Result<Option<model::Article>> {
        let wanted = map::message_id(key);
        let me = self.integration_user(op).await?;
        let articles = self.articles(op, ticket_id).await?;
        Ok(articles
            .into_iter()
            .find(|a| a.created_by_id == me && a.message_id.as_deref() == Some(wanted.as_str())))
    }

    /// The ticket an earlier attempt created with `key`, found by the search index.
    async fn ticket_with_key(
        &self,
        op: &'static str,
        key: &IdempotencyKey,
    ) -> Result<Option<model::Ticket>> {
        let query = [
            ("query", map::key_query(key)),
            ("expand", "true".to_owned()),
            ("per_page", "20".to_owned()),
        ];
        // A hit of a shape the adapter cannot read cannot be checked for the key either.
        let found: lenient::Lenient<model::Ticket> =
            self.client.get(op, "/tickets/search", &query).await?;
        // The search matches the phrase; only an exact note is ours.
        Ok(found
            .into_inner()
            .into_iter()
            .find(|t| t.note.as_deref().map(str::trim) == Some(key.as_str())))
    }

    async fn update(
        &self,
        op: &'static str,
        id: i64,
        update: &model::UpdateTicket,
    ) -> Result<model::Ticket> {
        let query = [("expand", "true".to_owned())];
        self.client
            .send_json(op, Method::PUT, &format!("/tickets/{id}"), &query, update)
            .await
    }

    async fn write_article(
        &self,
        op: &'static str,
        article: &model::NewArticle,
        files: Base64Files,
    ) -> Result<model::Article> {
        self.client
            .send_json_with_files(op, Method::POST, "/ticket_articles", article, files)
            .await
    }

    async fn status_of(&self, op: &'static str, ticket: &model::Ticket) -> Result<StatusClass> {
        if let Some(class) = ticket
            .state
            .as_deref()
            .and_then(|name| map::class_by_name(name, &self.config.statuses))
        {
            return Ok(class);
        }
        let state = self.state(op, ticket.state_id).await?;
        if let Some(class) = state
            .as_ref()
            .and_then(|s| map::class_by_name(&s.name, &self.config.statuses))
        {
            return Ok(class);
        }
        Ok(state
            .map(|s| map::class_by_type(s.state_type_id))
            .unwrap_or(StatusClass::InProgress))
    }

    /// A state by id; the list is read again when an unknown id shows up (an admin added one).
    async fn state(&self, op: &'static str, id: i64) -> Result<Option<model::State>> {
        if let Some(state) = lock(&self.states).get(&id) {
            return Ok(Some(state.clone()));
        }
        let states: Vec<model::State> = self.client.get(op, "/ticket_states", &[]).await?;
        let mut cache = lock(&self.states);
        cache.extend(states.into_iter().map(|s| (s.id, s)));
        Ok(cache.get(&id).cloned())
    }

    async fn priority_name(&self, op: &'static str, id: i64) -> Result<String> {
        if let Some(name) = lock(&self.priorities).get(&id) {
            return Ok(name.clone());
        }
        let priorities: Vec<model::Priority> =
            self.client.get(op, "/ticket_priorities", &[]).await?;
        let mut cache = lock(&self.priorities);
        cache.extend(priorities.into_iter().map(|p| (p.id, p.name)));
        Ok(cache
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("priority {id}")))
    }

    async fn priority_id(&self, op: &'static str, name: &str) -> Result<Option<i64>> {
        let find = |cache: &HashMap<i64, String>| {
            cache
                .iter()
                .find(|(_, n)| n.as_str() == name)
                .map(|(id, _)| *id)
        };
        if let Some(id) = find(&lock(&self.priorities)) {
            return Ok(Some(id));
        }
        let priorities: Vec<model::Priority> =
            self.client.get(op, "/ticket_priorities", &[]).await?;
        let mut cache = lock(&self.priorities);
        cache.extend(priorities.into_iter().map(|p| (p.id, p.name)));
        Ok(find(&cache))
    }

    async fn user_name(&self, op: &'static str, id: i64) -> Result<String> {
        if let Some(name) = lock(&self.users).get(&id) {
            return Ok(name.clone());
        }
        let name = match self
            .client
            .get::<model::User>(op, &format!("/users/{id}"), &[])
            .await
        {
            Ok(user) => map::user_name(&user),
            // An owner the integration user may not read still has a name worth showing.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied) => {
                return Ok(format!("Zammad user {id}"));
            }
            Err(e) => return Err(e),
        };
        lock(&self.users).insert(id, name.clone());
        Ok(name)
    }

    /// Links a follow-up to the ticket it continues. A permanent refusal (the original was merged
    /// or deleted) is logged and not an error: the description names the original anyway, and
    /// failing would orphan the ticket just created.
    async fn link_follow_up(
        &self,
        op: &'static str,
        original: &TicketRef,
        follow_up: i64,
        look_first: bool,
    ) -> Result<()> {
        if look_first {
            let original_id = original.id.0.parse::<i64>().ok();
            let query = [
                ("link_object", "Ticket".to_owned()),
                ("link_object_value", follow_up.to_string()),
            ];
            let links: model::Links = self.client.get(op, "/links", &query).await?;
            if links
                .links
                .iter()
                .any(|l| l.link_object == "Ticket" && Some(l.link_object_value) == original_id)
            {
                return Ok(());
            }
        }
        let body = model::AddLink {
            link_type: "normal",
            link_object_source: "Ticket",
            link_object_source_number: original.number.clone(),
            link_object_target: "Ticket",
            link_object_target_value: follow_up,
        };
        match self
            .client
            .send_json::<_, serde_json::Value>(op, Method::POST, "/links/add", &[], &body)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_temporary() || e.kind() == ErrorKind::PermissionDenied => Err(e),
            Err(e) => {
                tracing::warn!(
                    adapter = KIND,
                    ticket_id = follow_up,
                    original = %original.number,
                    error = %e,
                    "Could not link a follow-up ticket to the one it continues."
                );
                Ok(())
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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
                format!("{ticket:?} is not a Zammad ticket id"),
            )
        })
}

#[async_trait]
impl Helpdesk for ZammadAdapter {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capability(&self) -> Capability {
        let signed = self.config.webhook_secret.is_some();
        Capability {
            webhook: signed,
            webhook_signed: signed,
            staff_tickets: self.config.chat_field.is_some(),
            ..CAPABILITY
        }
    }

    async fn check(&self) -> Result<Identity> {
        let user = self.current_user("check").await?;
        Ok(Identity {
            id: user.id.to_string(),
            name: map::user_name(&user),
        })
    }

    async fn create_ticket(&self, draft: &TicketDraft) -> Result<TicketRef> {
        const OP: &str = "create_ticket";
        let defaults = TicketDefaults::from_table(&draft.ticket_table()).map_err(|problems| {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            Error::new(ErrorKind::ConfigInvalid, OP, text.join("; "))
        })?;

        if draft.retry
            && let Some(found) = self.ticket_with_key(OP, &draft.key).await?
        {
            if let Some(original) = &draft.follow_up_of {
                self.link_follow_up(OP, original, found.id, true).await?;
            }
            tracing::debug!(
                adapter = KIND,
                ticket_id = found.id,
                "Found the ticket an earlier attempt created."
            );
            return Ok(map::ticket_ref(self.client.site(), found.id, &found.number));
        }

        let customer = defaults.customer.as_ref().unwrap_or(&self.config.customer);
        let mut files = Base64Files::new();
        let body = model::CreateTicket {
            title: map::title_of(draft),
            group: defaults
                .group
                .clone()
                .unwrap_or_else(|| self.config.group.clone()),
            customer_id: customer.customer_id(&draft.requester),
            priority_id: defaults.priority_id,
            organization: defaults.organization.clone(),
            note: draft.key.0.clone(),
            article: model::NewArticle {
                ticket_id: None,
                subject: Some(map::title_of(draft)),
                body: map::ticket_body(draft),
                content_type: "text/plain",
                article_type: "web",
                internal: false,
                sender: "Customer",
                message_id: map::message_id(&draft.key),
                attachments: map::new_attachments(&draft.attachments, &mut files),
            },
            attributes: defaults.attributes.clone(),
        };
        let created: model::Ticket = self
            .client
            .send_json_with_files(OP, Method::POST, "/tickets", &body, files)
            .await?;
        if let Some(original) = &draft.follow_up_of {
            self.link_follow_up(OP, original, created.id, false).await?;
        }
        tracing::debug!(adapter = KIND, ticket_id = created.id, "Created a ticket.");
        Ok(map::ticket_ref(
            self.client.site(),
            created.id,
            &created.number,
        ))
    }

    async fn add_comment(&self, ticket: &TicketId, draft: &CommentDraft) -> Result<CommentId> {
        const OP: &str = "add_comment";
        let id = ticket_id(OP, ticket)?;
        if draft.retry
            && let Some(earlier) = self.article_with_key(OP, id, &draft.key).await?
        {
            return Ok(CommentId(earlier.id.to_string()));
        }
        let mut files = Base64Files::new();
        let article = model::NewArticle {
            ticket_id: Some(id),
            subject: None,
            body: map::comment_body(draft),
            content_type: "text/plain",
            article_type: "web",
            internal: false,
            sender: "Customer",
            message_id: map::message_id(&draft.key),
            attachments: map::new_attachments(&draft.attachments, &mut files),
        };
        let created = self.write_article(OP, &article, files).await?;
        Ok(CommentId(created.id.to_string()))
    }

    /// The ticket alone says whether its chat attribute is set: one request for the many tickets
    /// staff did not address, instead of the ticket, its articles, its state and its owner.
    async fn addressed_ticket(&self, ticket: &TicketId) -> Result<Option<Ticket>> {
        const OP: &str = "addressed_ticket";
        let id = ticket_id(OP, ticket)?;
        let found = self.ticket(OP, id).await?;
        if map::chat_named(self.config.chat_field.as_deref(), &found).is_none_or(|c| c.is_empty()) {
            return Ok(None);
        }
        let ticket = self.get_ticket(ticket).await?;
        Ok(ticket.addressed_to.is_some().then_some(ticket))
    }

    async fn get_ticket(&self, ticket: &TicketId) -> Result<Ticket> {
        const OP: &str = "get_ticket";
        let id = ticket_id(OP, ticket)?;
        let integration_user = self.integration_user(OP).await?;
        let found = self.ticket(OP, id).await?;
        let articles = self.articles(OP, id).await?;
        let status = self.status_of(OP, &found).await?;
        let assignee = match found.owner_id {
            Some(owner) if owner != map::SYSTEM_USER => Some(self.user_name(OP, owner).await?),
            _ => None,
        };
        let ctx = map::Context {
            site: self.client.site(),
            integration_user,
            resolution_field: self.config.resolution_field.as_deref(),
            address_fields: (
                self.config.chat_field.as_deref(),
                self.config.announcement_field.as_deref(),
            ),
        };
        Ok(map::to_ticket(&ctx, &found, &articles, status, assignee))
    }

    async fn changes_since(&self, cursor: &Cursor) -> Result<ChangeBatch> {
        const OP: &str = "changes_since";
        let Some(mut from) = cursor.query_from(DEFAULT_OVERLAP) else {
            // A first poll starts now: replaying the helpdesk's history would flood Telegram.
            return Ok(ChangeBatch {
                changes: Vec::new(),
                cursor: Cursor::starting_at(OffsetDateTime::now_utc()),
            });
        };
        let mut items = Vec::new();
        let mut page = 1;
        for _ in 0..MAX_PAGES {
            let query = [
                ("query", map::changes_query(from)),
                ("sort_by", "updated_at".to_owned()),
                ("order_by", "asc".to_owned()),
                ("per_page", PAGE_SIZE.to_string()),
                ("page", page.to_string()),
                ("expand", "true".to_owned()),
            ];
            // Count what Zammad sent, so paging is right, then skip a ticket of a shape the
            // adapter does not know instead of stalling every poll on it.
            let raw: Vec<serde_json::Value> =
                self.client.get(OP, "/tickets/search", &query).await?;
            let count = raw.len();
            let found: Vec<model::Ticket> = lenient::keep_decodable(raw);
            let last = found.last().map(|t| t.updated_at);
            items.extend(
                found
                    .into_iter()
                    .map(|t| (TicketId(t.id.to_string()), t.updated_at)),
            );
            if count < PAGE_SIZE {
                let (changes, cursor) = cursor.advance(items, DEFAULT_OVERLAP);
                return Ok(ChangeBatch { changes, cursor });
            }
            // Ask again from the newest time seen rather than for the next page: a ticket updated
            // while we page moves to the end of the order and would shift an unseen one onto a page
            // already read. Page on only when a whole page shares one time.
            match last {
                Some(last) if last > from => {
                    from = last;
                    page = 1;
                }
                _ => page += 1,
            }
        }
        Err(Error::new(
            ErrorKind::Unexpected,
            OP,
            format!(
                "more than {} changed tickets in one poll; is Zammad ignoring `page`?",
                PAGE_SIZE * MAX_PAGES
            ),
        ))
    }

    async fn set_status(&self, ticket: &TicketId, status: StatusClass) -> Result<()> {
        const OP: &str = "set_status";
        let state = map::target_state(status, &self.config.statuses)
            .ok_or_else(|| Error::unsupported(OP))?;
        let id = ticket_id(OP, ticket)?;
        let update = model::UpdateTicket {
            state: Some(state),
            ..Default::default()
        };
        self.update(OP, id, &update).await.map(|_| ())
    }

    async fn download(&self, attachment: &AttachmentRef) -> Result<Attachment> {
        const OP: &str = "download";
        let (ticket, article, file) =
            map::parse_attachment_id(&attachment.id).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    OP,
                    format!("{:?} is not a Zammad attachment id", attachment.id),
                )
            })?;
        let download = self
            .client
            .download(OP, &format!("/ticket_attachment/{ticket}/{article}/{file}"))
            .await?;
        let content_type = match &attachment.content_type {
            Some(known) if download.content_type == "application/octet-stream" => known.clone(),
            _ => download.content_type,
        };
        Ok(Attachment {
            file_name: attachment.file_name.clone(),
            content_type,
            content: download.content,
        })
    }

    async fn add_internal_note(&self, ticket: &TicketId, note: &NoteDraft) -> Result<CommentId> {
        const OP: &str = "add_internal_note";
        let id = ticket_id(OP, ticket)?;
        if note.retry
            && let Some(earlier) = self.article_with_key(OP, id, &note.key).await?
        {
            return Ok(CommentId(earlier.id.to_string()));
        }
        let article = internal_note(id, &note.key, note.body.clone());
        let created = self
            .write_article(OP, &article, Base64Files::default())
            .await?;
        Ok(CommentId(created.id.to_string()))
    }

    async fn escalate(&self, ticket: &TicketId, note: &NoteDraft) -> Result<Escalation> {
        const OP: &str = "escalate";
        let id = ticket_id(OP, ticket)?;
        // The note is written first and says which step it stands for, so a retry after a crash
        // finishes that step instead of climbing another one.
        if note.retry
            && let Some(earlier) = self.article_with_key(OP, id, &note.key).await?
        {
            return match map::escalation_of(&earlier.body) {
                Some(Some(to)) => {
                    let current = self.ticket(OP, id).await?;
                    if current.priority.as_deref() != Some(to.as_str())
                        && let Some(to_id) = self.priority_id(OP, &to).await?
                    {
                        let update = model::UpdateTicket {
                            priority_id: Some(to_id),
                            ..Default::default()
                        };
                        self.update(OP, id, &update).await?;
                    }
                    Ok(Escalation::PriorityRaised { to })
                }
                _ => Ok(Escalation::AlreadyHighest),
            };
        }
        let current = self.ticket(OP, id).await?;
        let from = match &current.priority {
            Some(name) => name.clone(),
            None => self.priority_name(OP, current.priority_id).await?,
        };
        match map::next_priority(current.priority_id, &self.config.priority_ids) {
            map::Step::Raise(to_id) => {
                let to = self.priority_name(OP, to_id).await?;
                let body = map::escalation_body(&note.body, &from, Some(&to));
                self.write_article(
                    OP,
                    &internal_note(id, &note.key, body),
                    Base64Files::default(),
                )
                .await?;
                let update = model::UpdateTicket {
                    priority_id: Some(to_id),
                    ..Default::default()
                };
                let updated = self.update(OP, id, &update).await?;
                Ok(Escalation::PriorityRaised {
                    to: updated.priority.unwrap_or(to),
                })
            }
            map::Step::AlreadyHighest => {
                let body = map::escalation_body(&note.body, &from, None);
                self.write_article(
                    OP,
                    &internal_note(id, &note.key, body),
                    Base64Files::default(),
                )
                .await?;
                Ok(Escalation::AlreadyHighest)
            }
        }
    }

    fn parse_webhook(&self, request: &WebhookRequest) -> Result<Vec<TicketId>> {
        const OP: &str = "parse_webhook";
        let Some(secret) = &self.config.webhook_secret else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                OP,
                "webhooks need `webhook_secret` (the webhook's HMAC SHA1 signature token)",
            ));
        };
        if !map::signature_valid(
            secret.expose(),
            &request.body,
            request.header("x-hub-signature"),
        ) {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                OP,
                "missing or wrong X-Hub-Signature",
            ));
        }
        let ticket = map::webhook_ticket(&request.body)
            .map_err(|why| Error::new(ErrorKind::InvalidInput, OP, why))?;
        Ok(vec![ticket])
    }

    /// Every ticket whose `note` holds a teledesk key, searched by id upwards (`id:>last`, so no
    /// page sits deep in the search index), and the requester from each one's first article.
    async fn own_tickets(&self) -> Result<Vec<teledesk_adapter::OwnTicket>> {
        const OP: &str = "own_tickets";
        let mut own = Vec::new();
        let mut after = 0i64;
        loop {
            let query = [
                ("query", format!("id:>{after}")),
                ("sort_by", "id".to_owned()),
                ("order_by", "asc".to_owned()),
                ("per_page", PAGE_SIZE.to_string()),
                ("expand", "true".to_owned()),
            ];
            let raw: Vec<serde_json::Value> =
                self.client.get(OP, "/tickets/search", &query).await?;
            let count = raw.len();
            let newest = raw.iter().filter_map(|t| t["id"].as_i64()).max();
            for ticket in lenient::keep_decodable::<model::Ticket>(raw) {
                let Some(key) = ticket
                    .note
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| n.starts_with("tg:") || n.starts_with("tg-app:"))
                else {
                    continue;
                };
                let articles = self.articles(OP, ticket.id).await?;
                let requester = articles
                    .iter()
                    .min_by_key(|a| (a.created_at, a.id))
                    .and_then(|first| {
                        teledesk_adapter::text::parse_requester(&map::plain_body(first))
                    });
                own.push(teledesk_adapter::OwnTicket {
                    reference: map::ticket_ref(self.client.site(), ticket.id, &ticket.number),
                    key: IdempotencyKey(key.to_owned()),
                    requester,
                });
            }
            match newest {
                Some(newest) if count == PAGE_SIZE && newest > after => after = newest,
                _ => return Ok(own),
            }
        }
    }
}

fn internal_note(ticket_id: i64, key: &IdempotencyKey, body: String) -> model::NewArticle {
    model::NewArticle {
        ticket_id: Some(ticket_id),
        subject: None,
        body,
        content_type: "text/plain",
        article_type: "note",
        internal: true,
        sender: "Agent",
        message_id: map::message_id(key),
        attachments: Vec::new(),
    }
}
