//! GLPI adapter for teledesk: Telegram tickets become GLPI tickets, over the legacy REST API
//! (`apirest.php`, GLPI 9.5–11).
//!
//! A ticket's description carries the requester block and a `tg-key:` marker (GLPI tickets have
//! no external id), which a retried create finds through the search engine. Client comments are
//! public followups, internal notes private ones, both marked the same way; files are `Document`s
//! linked to the ticket or followup. Status comes from the ticket's status code (`statuses`),
//! the resolution from its `ITILSolution`, ratings go to `TicketSatisfaction`, follow-ups are
//! linked with `Ticket_Ticket`. Changes are polled with `GET /search/Ticket` on `date_mod`;
//! GLPI 11 webhooks are verified by their HMAC signature. See `README.md` for the capability
//! table and the open questions.

#![warn(missing_docs)]

mod client;
mod config;
mod map;
mod model;
mod webhook;

pub use config::{DEFAULT_STATUSES, GlpiConfig, TicketDefaults};
pub use webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign as sign_webhook};

use async_trait::async_trait;
use client::GlpiClient;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use teledesk_adapter::{
    Attachment, AttachmentRef, Capability, ChangeBatch, CommentDraft, CommentId, ConfigProblem,
    ConfigTable, Cursor, DEFAULT_OVERLAP, Error, ErrorKind, Escalation, Helpdesk, Identity,
    NoteDraft, Problem, Rating, RatingStored, Result, StatusClass, Ticket, TicketDraft, TicketId,
    TicketRef, WebhookRequest, lenient,
};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

/// The config tag (`kind = "glpi"`), also the log field and metrics label.
pub const KIND: &str = "glpi";

/// What the GLPI adapter can do; the README's table shows the same values.
pub const CAPABILITY: Capability = Capability {
    comment: true,
    comment_internal: true,
    attachment: true,
    // GLPI's limit is its `document_max_size` setting (2 MB by default) and PHP's upload limits,
    // both per installation.
    attachment_max_size: None,
    download: true,
    set_status: true,
    // The key is a marker in the description, found by a search, not a field of its own.
    native_idempotency: false,
    poll: true,
    // GLPI 11 webhooks, signed with HMAC-SHA256.
    webhook: true,
    webhook_signed: true,
    // Private followups.
    internal_note: true,
    // `priority` 1–6 (and `urgency` 1–5).
    priority: true,
    // `TicketSatisfaction`.
    native_rating: true,
    // `Ticket_Ticket` "linked to".
    native_link: true,
    custom_fields: false,
    check_fields: false,
    // The listing names tickets only; a change is read with `get_ticket`.
    change_snapshot: false,
    // Self-hosted: no limit of its own; `requests_per_second` protects the server.
    rate_limit: None,
    // An instance whose config names the address field says true (`capability()`).
    staff_tickets: false,
    due_times: true,
};

/// Search option ids of `Ticket` (`GET /listSearchOptions/Ticket`).
mod field {
    /// ID.
    pub const ID: &str = "2";
    /// Priority.
    pub const PRIORITY: &str = "3";
    /// Assigned technicians.
    pub const TECHNICIANS: &str = "5";
    /// Status.
    pub const STATUS: &str = "12";
    /// Last update (`date_mod`).
    pub const DATE_MOD: &str = "19";
    /// Description (`content`).
    pub const CONTENT: &str = "21";
    /// Number of followups.
    pub const FOLLOWUPS: &str = "27";
}

/// Rows per page of `GET /search/Ticket`.
const SEARCH_PAGE: usize = 100;
/// Stops paging a server that ignores `range`.
const MAX_SEARCH_PAGES: usize = 100;
/// Items per `getMultipleItems` call, to keep URLs short.
const MULTIPLE_ITEMS_CHUNK: usize = 40;
/// `TicketSatisfaction.type` of an internal survey.
const SURVEY_INTERNAL: i64 = 1;

/// Validates a `[helpdesks.<name>]` table of kind `glpi`, reporting every problem.
pub fn validate_helpdesk(table: &ConfigTable) -> Vec<ConfigProblem> {
    GlpiConfig::from_table(table).err().unwrap_or_default()
}

/// Validates a chat's `[chats.ticket]` table for a GLPI helpdesk, reporting every problem.
pub fn validate_ticket_defaults(table: &ConfigTable) -> Vec<ConfigProblem> {
    TicketDefaults::from_table(table).err().unwrap_or_default()
}

/// The GLPI adapter: one per `[helpdesks.<name>]` table, shared by every daemon task.
#[derive(Debug)]
pub struct GlpiAdapter {
    config: GlpiConfig,
    client: GlpiClient,
    /// The integration user, learned on first need; its followups are teledesk's own.
    me: OnceCell<model::SessionUser>,
}

fn unexpected(op: &'static str, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unexpected, op, message)
}

fn numeric_id(op: &'static str, ticket: &TicketId) -> Result<i64> {
    ticket
        .0
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                op,
                format!("{ticket:?} is not a GLPI ticket id"),
            )
        })
}

fn input(fields: Value) -> Value {
    json!({ "input": fields })
}

impl GlpiAdapter {
    /// Builds the adapter from its `[helpdesks.<name>]` table (secrets resolved).
    pub fn from_config(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let config = GlpiConfig::from_table(table)?;
        let client = GlpiClient::new(&config).map_err(|e| {
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
    pub fn config(&self) -> &GlpiConfig {
        &self.config
    }

    async fn session_user(&self, op: &'static str) -> Result<model::SessionUser> {
        let session: model::FullSession = self.client.get(op, "/getFullSession", &[]).await?;
        // Losing the race to another task is fine: both read the same user.
        let _ = self.me.set(session.session.clone());
        Ok(session.session)
    }

    async fn integration_user(&self, op: &'static str) -> Result<i64> {
        self.me
            .get_or_try_init(|| self.session_user(op))
            .await
            .map(|user| user.id)
    }

    fn web_url(&self) -> Option<String> {
        self.config.web_url()
    }

    async fn ticket(&self, op: &'static str, id: i64) -> Result<model::Ticket> {
        // The entity's name costs nothing here and names the chat of a ticket staff addressed.
        self.client
            .get(
                op,
                &format!("/Ticket/{id}"),
                &[("add_keys_names[]", "entities_id".to_owned())],
            )
            .await
    }

    async fn followups(&self, op: &'static str, ticket: i64) -> Result<Vec<model::Followup>> {
        self.client
            .get_all(
                op,
                &format!("/Ticket/{ticket}/ITILFollowup"),
                &[("add_keys_names[]", "users_id".to_owned())],
            )
            .await
    }

    /// The followup an earlier attempt wrote with `key`: by the integration user, `key` in its
    /// footer.
    async fn followup_with_key(
        &self,
        op: &'static str,
        ticket: i64,
        key: &str,
    ) -> Result<Option<model::Followup>> {
        let me = self.integration_user(op).await?;
        let followups = self.followups(op, ticket).await?;
        Ok(followups.into_iter().find(|f| {
            f.users_id == Some(me)
                && map::has_footer_for(
                    &map::html_to_text(f.content.as_deref().unwrap_or_default()),
                    key,
                )
        }))
    }

    /// The ticket an earlier attempt created with `key`: a search on the description, then an
    /// exact check of the marker (`contains` is a `LIKE`, so `tg:1:2` also finds `tg:1:23`).
    async fn ticket_with_key(&self, op: &'static str, key: &str) -> Result<Option<model::Ticket>> {
        let me = self.integration_user(op).await?;
        let query = [
            ("criteria[0][field]", field::CONTENT.to_owned()),
            ("criteria[0][searchtype]", "contains".to_owned()),
            ("criteria[0][value]", format!("{}{key}", map::MARKER)),
            ("forcedisplay[0]", field::ID.to_owned()),
            ("range", "0-49".to_owned()),
        ];
        let found: model::SearchResult = self.client.get(op, "/search/Ticket", &query).await?;
        for row in &found.data {
            let id = map::row_id(row, field::ID);
            let Some(id) = id else { continue };
            let ticket = self.ticket(op, id).await?;
            let text = map::html_to_text(ticket.content.as_deref().unwrap_or_default());
            // A client's description can carry `tg-key: <key>` as typed text; only the footer of
            // a ticket the integration user wrote is the earlier attempt.
            if ticket.users_id_recipient == Some(me) && map::has_footer_for(&text, key) {
                return Ok(Some(ticket));
            }
        }
        Ok(None)
    }

    /// Documents by id, in one `getMultipleItems` call per chunk.
    async fn documents(&self, op: &'static str, ids: &[i64]) -> Result<Vec<model::Document>> {
        let mut documents = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MULTIPLE_ITEMS_CHUNK) {
            let mut query: Vec<(String, String)> = Vec::with_capacity(chunk.len() * 2);
            for (i, id) in chunk.iter().enumerate() {
                query.push((format!("items[{i}][itemtype]"), "Document".to_owned()));
                query.push((format!("items[{i}][items_id]"), id.to_string()));
            }
            let query: Vec<(&str, String)> =
                query.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            let found: lenient::Lenient<model::Document> =
                self.client.get(op, "/getMultipleItems", &query).await?;
            documents.extend(found.into_inner());
        }
        Ok(documents)
    }

    async fn document_links(
        &self,
        op: &'static str,
        itemtype: &str,
        id: i64,
    ) -> Result<Vec<model::DocumentItem>> {
        self.client
            .get_all(op, &format!("/{itemtype}/{id}/Document_Item"), &[])
            .await
    }

    /// Uploads a file and links it to a ticket or followup.
    async fn attach(
        &self,
        op: &'static str,
        file: &Attachment,
        itemtype: &'static str,
        items_id: i64,
    ) -> Result<()> {
        let document = self.client.upload(op, file).await?;
        let link = model::Input {
            input: model::NewDocumentItem {
                documents_id: document.id,
                itemtype,
                items_id,
            },
        };
        let _: model::Created = self
            .client
            .send_json(op, Method::POST, "/Document_Item", &link)
            .await?;
        Ok(())
    }

    /// Attaches the files an interrupted write did not get to (matched by file name).
    async fn complete_files(
        &self,
        op: &'static str,
        itemtype: &'static str,
        items_id: i64,
        files: &[Attachment],
    ) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        let links = self.document_links(op, itemtype, items_id).await?;
        let ids: Vec<i64> = links.iter().map(|l| l.documents_id).collect();
        let present: BTreeSet<String> = self
            .documents(op, &ids)
            .await?
            .iter()
            .map(|d| map::attachment_ref(d).file_name)
            .collect();
        for file in files {
            if !present.contains(&file.file_name) {
                self.attach(op, file, itemtype, items_id).await?;
            }
        }
        Ok(())
    }

    /// Links a follow-up to the ticket it follows, unless an earlier attempt did.
    async fn link_follow_up(
        &self,
        op: &'static str,
        follow_up: i64,
        original: i64,
        check_first: bool,
    ) -> Result<()> {
        if check_first {
            let links: Vec<model::TicketLink> = self
                .client
                .get_all(
                    op,
                    "/Ticket_Ticket",
                    &[("searchText[tickets_id_1]", follow_up.to_string())],
                )
                .await?;
            if links
                .iter()
                .any(|l| l.tickets_id_1 == follow_up && l.tickets_id_2 == original)
            {
                return Ok(());
            }
        }
        let link = model::Input {
            input: model::NewTicketLink {
                tickets_id_1: follow_up,
                tickets_id_2: original,
                link: model::LINK_TO,
            },
        };
        let _: model::Created = self
            .client
            .send_json(op, Method::POST, "/Ticket_Ticket", &link)
            .await?;
        Ok(())
    }

    async fn add_followup(
        &self,
        op: &'static str,
        ticket: i64,
        content: String,
        private: bool,
    ) -> Result<i64> {
        let body = model::Input {
            input: model::NewFollowup {
                itemtype: "Ticket",
                items_id: ticket,
                content,
                is_private: i64::from(private),
            },
        };
        let created: model::Created = self
            .client
            .send_json(op, Method::POST, "/ITILFollowup", &body)
            .await?;
        Ok(created.id)
    }

    /// Sets the priority (and one step more urgency); with `priority` given, GLPI keeps it
    /// instead of recomputing it from urgency × impact.
    async fn raise_priority(&self, ticket: i64, priority: i64, urgency: i64) -> Result<()> {
        let urgency = (urgency + 1).clamp(1, 5);
        self.client
            .update(
                "escalate",
                &format!("/Ticket/{ticket}"),
                &input(json!({"urgency": urgency, "priority": priority})),
            )
            .await
    }

    async fn note(&self, op: &'static str, ticket: i64, note: &NoteDraft) -> Result<CommentId> {
        if note.retry
            && let Some(earlier) = self
                .followup_with_key(op, ticket, note.key.as_str())
                .await?
        {
            return Ok(CommentId(earlier.id.to_string()));
        }
        let id = self
            .add_followup(op, ticket, map::note_content(note), true)
            .await?;
        Ok(CommentId(id.to_string()))
    }

    async fn native_rating(&self, op: &'static str, ticket: i64, rating: &Rating) -> Result<()> {
        let satisfaction = i64::from(rating.score.min(5));
        let surveys: Vec<model::Satisfaction> = self
            .client
            .get_all(op, &format!("/Ticket/{ticket}/TicketSatisfaction"), &[])
            .await?;
        let mut fields = serde_json::Map::new();
        fields.insert("satisfaction".into(), json!(satisfaction));
        if let Some(comment) = rating.comment.as_deref().map(str::trim)
            && !comment.is_empty()
        {
            fields.insert("comment".into(), json!(comment));
        }
        if let Some(survey) = surveys.first() {
            return self
                .client
                .update(
                    op,
                    &format!("/TicketSatisfaction/{}", survey.id),
                    &input(Value::Object(fields)),
                )
                .await;
        }
        // GLPI creates surveys from its cron when the entity asks for them; without one, the
        // answer creates it (GLPI allows this to the ticket's writer, the integration user).
        let now = map::format_time(OffsetDateTime::now_utc(), self.config.timezone);
        fields.insert("tickets_id".into(), json!(ticket));
        fields.insert("type".into(), json!(SURVEY_INTERNAL));
        fields.insert("date_begin".into(), json!(now));
        fields.insert("date_answered".into(), json!(now));
        let _: model::Created = self
            .client
            .send_json(
                op,
                Method::POST,
                "/TicketSatisfaction",
                &input(Value::Object(fields)),
            )
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Helpdesk for GlpiAdapter {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capability(&self) -> Capability {
        Capability {
            staff_tickets: self.config.chat_requesttype_id.is_some(),
            ..CAPABILITY
        }
    }

    async fn check(&self) -> Result<Identity> {
        let user = self.session_user("check").await?;
        let name = user
            .friendly_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(user.login.clone());
        Ok(Identity {
            id: user.id.to_string(),
            name,
        })
    }

    async fn create_ticket(&self, draft: &TicketDraft) -> Result<TicketRef> {
        const OP: &str = "create_ticket";
        let defaults = TicketDefaults::from_table(&draft.ticket_table()).map_err(|problems| {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            Error::new(ErrorKind::ConfigInvalid, OP, text.join("; "))
        })?;
        let original = draft
            .follow_up_of
            .as_ref()
            .map(|o| numeric_id(OP, &o.id))
            .transpose()?;
        let web_url = self.web_url();

        if draft.retry
            && let Some(found) = self.ticket_with_key(OP, draft.key.as_str()).await?
        {
            self.complete_files(OP, "Ticket", found.id, &draft.attachments)
                .await?;
            if let Some(original) = original {
                self.link_follow_up(OP, found.id, original, true).await?;
            }
            tracing::debug!(
                adapter = KIND,
                ticket_id = found.id,
                "Found the ticket an earlier attempt created."
            );
            return Ok(map::ticket_ref(web_url.as_deref(), found.id));
        }

        let mut fields = serde_json::Map::new();
        fields.insert("name".into(), json!(map::title_of(draft)));
        fields.insert("content".into(), json!(map::ticket_content(draft)));
        if let Some(entity) = self.config.entities_id {
            fields.insert("entities_id".into(), json!(entity));
        }
        for (key, value) in &defaults.fields {
            fields.insert(key.clone(), json!(value));
        }
        let created: model::Created = self
            .client
            .send_json(OP, Method::POST, "/Ticket", &input(Value::Object(fields)))
            .await?;
        for file in &draft.attachments {
            self.attach(OP, file, "Ticket", created.id).await?;
        }
        if let Some(original) = original {
            self.link_follow_up(OP, created.id, original, false).await?;
        }
        tracing::debug!(adapter = KIND, ticket_id = created.id, "Created a ticket.");
        Ok(map::ticket_ref(web_url.as_deref(), created.id))
    }

    async fn add_comment(&self, ticket: &TicketId, draft: &CommentDraft) -> Result<CommentId> {
        const OP: &str = "add_comment";
        let ticket = numeric_id(OP, ticket)?;
        if draft.retry
            && let Some(earlier) = self
                .followup_with_key(OP, ticket, draft.key.as_str())
                .await?
        {
            self.complete_files(OP, "ITILFollowup", earlier.id, &draft.attachments)
                .await?;
            return Ok(CommentId(earlier.id.to_string()));
        }
        let id = self
            .add_followup(OP, ticket, map::comment_content(draft), false)
            .await?;
        for file in &draft.attachments {
            self.attach(OP, file, "ITILFollowup", id).await?;
        }
        Ok(CommentId(id.to_string()))
    }

    /// The ticket record says whether staff picked an addressing request source: one request for
    /// the many tickets they did not, instead of the five or more of a full read.
    async fn addressed_ticket(&self, ticket: &TicketId) -> Result<Option<Ticket>> {
        const OP: &str = "addressed_ticket";
        let id = numeric_id(OP, ticket)?;
        let sources = (
            self.config.chat_requesttype_id,
            self.config.announcement_requesttype_id,
        );
        if !map::has_address_source(sources, &self.ticket(OP, id).await?) {
            return Ok(None);
        }
        let ticket = self.get_ticket(ticket).await?;
        Ok(ticket.addressed_to.is_some().then_some(ticket))
    }

    async fn get_ticket(&self, ticket: &TicketId) -> Result<Ticket> {
        const OP: &str = "get_ticket";
        let id = numeric_id(OP, ticket)?;
        let integration_user = self.integration_user(OP).await?;
        let ticket = self.ticket(OP, id).await?;
        let followups = self.followups(OP, id).await?;
        let solutions: Vec<model::Solution> = self
            .client
            .get_all(OP, &format!("/Ticket/{id}/ITILSolution"), &[])
            .await?;
        let actors: Vec<model::TicketUser> = self
            .client
            .get_all(
                OP,
                &format!("/Ticket/{id}/Ticket_User"),
                &[("add_keys_names[]", "users_id".to_owned())],
            )
            .await?;
        let mut links = Vec::new();
        for followup in &followups {
            links.extend(self.document_links(OP, "ITILFollowup", followup.id).await?);
        }
        let ids: Vec<i64> = links
            .iter()
            .map(|l| l.documents_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let documents: BTreeMap<i64, AttachmentRef> = self
            .documents(OP, &ids)
            .await?
            .iter()
            .map(|d| (d.id, map::attachment_ref(d)))
            .collect();
        let mut by_followup: BTreeMap<i64, Vec<AttachmentRef>> = BTreeMap::new();
        for link in &links {
            if let Some(document) = documents.get(&link.documents_id) {
                by_followup
                    .entry(link.items_id)
                    .or_default()
                    .push(document.clone());
            }
        }
        let web_url = self.web_url();
        let ctx = map::Context {
            web_url: web_url.as_deref(),
            statuses: &self.config.statuses,
            integration_user,
            timezone: self.config.timezone,
            address_sources: (
                self.config.chat_requesttype_id,
                self.config.announcement_requesttype_id,
            ),
        };
        let parts = map::TicketParts {
            ticket: Some(ticket),
            followups,
            solutions,
            actors,
            documents: by_followup,
        };
        map::to_ticket(&ctx, parts).map_err(|e| unexpected(OP, e))
    }

    async fn changes_since(&self, cursor: &Cursor) -> Result<ChangeBatch> {
        const OP: &str = "changes_since";
        let Some(from) = cursor.query_from(DEFAULT_OVERLAP) else {
            // A first poll starts now: replaying GLPI's history would flood Telegram.
            return Ok(ChangeBatch {
                changes: Vec::new(),
                cursor: Cursor::starting_at(OffsetDateTime::now_utc()),
            });
        };
        let since = map::format_time(from, self.config.timezone);
        let mut items = Vec::new();
        for page in 0..MAX_SEARCH_PAGES {
            let start = page * SEARCH_PAGE;
            let query = [
                ("criteria[0][field]", field::DATE_MOD.to_owned()),
                ("criteria[0][searchtype]", "morethan".to_owned()),
                ("criteria[0][value]", since.clone()),
                ("sort", field::DATE_MOD.to_owned()),
                ("order", "ASC".to_owned()),
                ("range", format!("{}-{}", start, start + SEARCH_PAGE - 1)),
                ("forcedisplay[0]", field::ID.to_owned()),
                ("forcedisplay[1]", field::DATE_MOD.to_owned()),
                ("forcedisplay[2]", field::STATUS.to_owned()),
                ("forcedisplay[3]", field::FOLLOWUPS.to_owned()),
                ("forcedisplay[4]", field::PRIORITY.to_owned()),
                ("forcedisplay[5]", field::TECHNICIANS.to_owned()),
            ];
            let result: model::SearchResult = self.client.get(OP, "/search/Ticket", &query).await?;
            let count = result.data.len();
            for row in &result.data {
                items.push(
                    map::search_row(row, field::DATE_MOD, field::ID, self.config.timezone)
                        .map_err(|e| unexpected(OP, e))?,
                );
            }
            let total = usize::try_from(result.totalcount).unwrap_or(0);
            if count == 0 || start + count >= total {
                let (changes, cursor) = cursor.advance(items, DEFAULT_OVERLAP);
                return Ok(ChangeBatch { changes, cursor });
            }
        }
        Err(unexpected(
            OP,
            format!(
                "more than {} changed tickets in one poll; is GLPI ignoring `range`?",
                SEARCH_PAGE * MAX_SEARCH_PAGES
            ),
        ))
    }

    async fn set_status(&self, ticket: &TicketId, status: StatusClass) -> Result<()> {
        const OP: &str = "set_status";
        let code = self
            .config
            .status_for(status)
            .ok_or_else(|| Error::unsupported(OP))?;
        let id = numeric_id(OP, ticket)?;
        self.client
            .update(
                OP,
                &format!("/Ticket/{id}"),
                &input(json!({"status": code})),
            )
            .await
    }

    async fn download(&self, attachment: &AttachmentRef) -> Result<Attachment> {
        const OP: &str = "download";
        let id = attachment
            .id
            .parse::<i64>()
            .map_err(|_| unexpected(OP, format!("{:?} is not a document id", attachment.id)))?;
        let (content, mut content_type) = self.client.download(OP, id).await?;
        if let Some(known) = &attachment.content_type
            && content_type == "application/octet-stream"
        {
            content_type = known.clone();
        }
        Ok(Attachment {
            file_name: attachment.file_name.clone(),
            content_type,
            content,
        })
    }

    async fn add_internal_note(&self, ticket: &TicketId, note: &NoteDraft) -> Result<CommentId> {
        const OP: &str = "add_internal_note";
        let ticket = numeric_id(OP, ticket)?;
        self.note(OP, ticket, note).await
    }

    async fn escalate(&self, ticket: &TicketId, note: &NoteDraft) -> Result<Escalation> {
        const OP: &str = "escalate";
        let id = numeric_id(OP, ticket)?;
        let current = self.ticket(OP, id).await?;
        let priority = current.priority.unwrap_or(3);
        let urgency = current.urgency.unwrap_or(3);
        // The note goes first and records the step (`priority 3 → 4`), so a retry after a
        // failure in between finishes the raise instead of raising twice.
        if note.retry
            && let Some(earlier) = self.followup_with_key(OP, id, note.key.as_str()).await?
        {
            let text = map::html_to_text(earlier.content.as_deref().unwrap_or_default());
            let Some(target) = map::recorded_priority_target(&text) else {
                return Ok(Escalation::AlreadyHighest);
            };
            if priority < target {
                self.raise_priority(id, target, urgency).await?;
            }
            return Ok(Escalation::PriorityRaised {
                to: map::priority_name(target),
            });
        }
        // 6 "Major" is reserved for what staff declare major; an escalation stops at 5.
        if priority >= 5 {
            self.add_followup(OP, id, map::note_content(note), true)
                .await?;
            return Ok(Escalation::AlreadyHighest);
        }
        let raised = priority + 1;
        self.add_followup(
            OP,
            id,
            map::escalation_note_content(note, priority, raised),
            true,
        )
        .await?;
        self.raise_priority(id, raised, urgency).await?;
        Ok(Escalation::PriorityRaised {
            to: map::priority_name(raised),
        })
    }

    async fn rate(&self, ticket: &TicketId, rating: &Rating) -> Result<RatingStored> {
        const OP: &str = "rate";
        let id = numeric_id(OP, ticket)?;
        match self.native_rating(OP, id, rating).await {
            Ok(()) => Ok(RatingStored::Native),
            // A profile without the survey right, or a survey GLPI closed (answers are accepted
            // for 12 h), must not lose the client's rating: staff get it as a note instead.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::PermissionDenied | ErrorKind::InvalidInput
                ) =>
            {
                tracing::warn!(
                    adapter = KIND,
                    ticket_id = id,
                    error = %e,
                    "GLPI refused the satisfaction answer; writing the rating as a private followup."
                );
                let note = NoteDraft {
                    key: rating.key.clone(),
                    body: rating.note.clone(),
                    retry: rating.retry,
                };
                self.note(OP, id, &note).await?;
                Ok(RatingStored::Note)
            }
            Err(e) => Err(e),
        }
    }

    fn parse_webhook(&self, request: &WebhookRequest) -> Result<Vec<TicketId>> {
        let secret = self.config.webhook_secret.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::ConfigInvalid,
                "parse_webhook",
                "webhook_secret is not set for this helpdesk, so its webhooks cannot be verified",
            )
        })?;
        webhook::verify(secret.expose(), request)?;
        webhook::ticket_ids(&request.body)
    }

    /// The tickets whose description carries a marker (a `contains` search, paged by `range`),
    /// each read to keep those the integration user wrote and to take the key from the footer
    /// exactly: one request per ticket, which an operator's rebuild can afford.
    async fn own_tickets(&self) -> Result<Vec<teledesk_adapter::OwnTicket>> {
        const OP: &str = "own_tickets";
        const PAGE: usize = 100;
        let me = self.integration_user(OP).await?;
        let web_url = self.web_url();
        let mut own = Vec::new();
        let mut start = 0;
        loop {
            let query = [
                ("criteria[0][field]", field::CONTENT.to_owned()),
                ("criteria[0][searchtype]", "contains".to_owned()),
                ("criteria[0][value]", map::MARKER.trim_end().to_owned()),
                ("forcedisplay[0]", field::ID.to_owned()),
                ("sort", field::ID.to_owned()),
                ("order", "ASC".to_owned()),
                ("range", format!("{start}-{}", start + PAGE - 1)),
            ];
            let found: model::SearchResult = self.client.get(OP, "/search/Ticket", &query).await?;
            for row in &found.data {
                let id = map::row_id(row, field::ID);
                let Some(id) = id else { continue };
                let ticket = self.ticket(OP, id).await?;
                let text = map::html_to_text(ticket.content.as_deref().unwrap_or_default());
                if ticket.users_id_recipient != Some(me) {
                    continue;
                }
                if let Some(key) = teledesk_adapter::text::footer_key(&text) {
                    own.push(teledesk_adapter::OwnTicket {
                        reference: map::ticket_ref(web_url.as_deref(), ticket.id),
                        key,
                        requester: teledesk_adapter::text::parse_requester(&text),
                    });
                }
            }
            start += PAGE;
            if start as i64 >= found.totalcount {
                return Ok(own);
            }
        }
    }
}
