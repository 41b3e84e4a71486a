//! Kaiten adapter for teledesk: Telegram tickets become Kaiten cards.
//!
//! A ticket is a card on a configured board and column; its idempotency key is the card's
//! `external_id`. Client comments are card comments written by the integration user, with the
//! Telegram author in a header and a `tg-key:` marker in a footer (Kaiten comments have no external
//! id). Status comes from the card's column (`statuses` table) or its `state`. Changes are polled
//! from three feeds (`updated`, `comment_last_added_at`, a bounded member sweep; see `feed.rs`).
//! See `README.md` for the capability table and the open questions.

mod client;
mod config;
mod feed;
mod map;
mod model;

pub use config::{KaitenConfig, TicketDefaults};

use async_trait::async_trait;
use client::KaitenClient;
use feed::{MAX_PAGES, PAGE_SIZE};
use reqwest::Method;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use teledesk_adapter::{
    Attachment, AttachmentRef, Capability, ChangeBatch, Comment, CommentDraft, CommentId,
    ConfigProblem, ConfigTable, Cursor, Error, ErrorKind, Escalation, FieldKeyForm, Helpdesk,
    Identity, NoteDraft, Problem, RateLimit, Result, StatusClass, Ticket, TicketDraft, TicketId,
    TicketRef, Visibility, WrittenComment, lenient::Lenient, text,
};
use tokio::sync::OnceCell;

/// The config tag (`kind = "kaiten"`), also the log field and metrics label.
pub const KIND: &str = "kaiten";

/// What the Kaiten adapter can do; the README's table shows the same values.
pub const CAPABILITY: Capability = Capability {
    comment: true,
    comment_internal: true,
    attachment: true,
    // Kaiten documents no upload limit.
    attachment_max_size: None,
    download: true,
    set_status: true,
    native_idempotency: true,
    poll: true,
    // Kaiten's webhooks are unsigned and per space; not wired up yet.
    webhook: false,
    webhook_signed: false,
    // Comments with `internal: true`.
    internal_note: true,
    // Kaiten has no priority field; escalation sets the card's ASAP flag instead.
    priority: true,
    native_rating: false,
    // Kaiten has parent/child cards, but linking them is not wired up: the follow-up names the
    // original in its description.
    native_link: false,
    custom_fields: true,
    check_fields: true,
    // The card list carries column, members, properties, `comments_total` and
    // `comment_last_added_at`.
    change_snapshot: true,
    // developers.kaiten.ru: 5 requests per second per token, 429 beyond.
    rate_limit: Some(RateLimit::per_second(5)),
    staff_tickets: true,
    due_times: true,
};

/// Kaiten's title limit is undocumented; long subjects are cut to stay clear of a 400.
const MAX_TITLE_CHARS: usize = 250;

/// Validates a `[helpdesks.<name>]` table of kind `kaiten`, reporting every problem.
pub fn validate_helpdesk(table: &ConfigTable) -> Vec<ConfigProblem> {
    KaitenConfig::from_table(table).err().unwrap_or_default()
}

/// Validates a chat's `[chats.ticket]` table for a Kaiten helpdesk, reporting every problem.
pub fn validate_ticket_defaults(table: &ConfigTable) -> Vec<ConfigProblem> {
    TicketDefaults::from_table(table).err().unwrap_or_default()
}

/// The Kaiten adapter: one per `[helpdesks.<name>]` table, shared by every daemon task.
#[derive(Debug)]
pub struct KaitenAdapter {
    config: KaitenConfig,
    client: KaitenClient,
    /// The integration user's id, learned on first need; its comments are teledesk's own.
    me: OnceCell<i64>,
    /// The company's property definitions and select options, read on first need.
    properties: PropertyCache,
}

/// Property definitions change rarely (an admin's edit), so they are read once and re-read only
/// when a property or option teledesk looks for is not in the cached copy.
#[derive(Debug, Default)]
struct PropertyCache {
    definitions: Mutex<Option<Arc<Vec<model::PropertyDefinition>>>>,
    options: Mutex<HashMap<i64, Arc<Vec<model::SelectValue>>>>,
}

/// `id_<n>` → `n`.
fn property_number(key: &str) -> Option<i64> {
    key.strip_prefix("id_")?.parse().ok()
}

impl KaitenAdapter {
    /// Builds the adapter from its `[helpdesks.<name>]` table (secrets resolved).
    pub fn from_config(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let config = KaitenConfig::from_table(table)?;
        let client = KaitenClient::new(&config).map_err(|e| {
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
            properties: PropertyCache::default(),
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &KaitenConfig {
        &self.config
    }

    async fn current_user(&self, op: &'static str) -> Result<model::User> {
        let user: model::User = self.client.get(op, "/users/current", &[]).await?;
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

    async fn fetch_definitions(
        &self,
        op: &'static str,
    ) -> Result<Arc<Vec<model::PropertyDefinition>>> {
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let query = [
                ("limit", PAGE_SIZE.to_string()),
                ("offset", all.len().to_string()),
            ];
            let page: Vec<model::PropertyDefinition> = self
                .client
                .get(op, "/company/custom-properties", &query)
                .await?;
            let count = page.len();
            all.extend(page);
            if count < PAGE_SIZE {
                let all = Arc::new(all);
                *self
                    .properties
                    .definitions
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(all.clone());
                return Ok(all);
            }
        }
        Err(Error::new(
            ErrorKind::Unexpected,
            op,
            format!(
                "more than {} custom properties; is Kaiten ignoring `offset`?",
                PAGE_SIZE * MAX_PAGES
            ),
        ))
    }

    /// The definition of property `id`, from the cache, re-read once when it is not there (an admin
    /// may have added it since); `None` when the company has no such property.
    async fn definition(
        &self,
        op: &'static str,
        id: i64,
    ) -> Result<Option<model::PropertyDefinition>> {
        let cached = self
            .properties
            .definitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(found) = cached
            .as_ref()
            .and_then(|all| all.iter().find(|d| d.id == id))
        {
            return Ok(Some(found.clone()));
        }
        let fresh = self.fetch_definitions(op).await?;
        Ok(fresh.iter().find(|d| d.id == id).cloned())
    }

    /// The options of select property `id`; `refresh` re-reads them (an option may be new).
    async fn select_values(
        &self,
        op: &'static str,
        id: i64,
        refresh: bool,
    ) -> Result<Arc<Vec<model::SelectValue>>> {
        if !refresh
            && let Some(cached) = self
                .properties
                .options
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&id)
        {
            return Ok(cached.clone());
        }
        let values: Vec<model::SelectValue> = self
            .client
            .get(
                op,
                &format!("/company/custom-properties/{id}/select-values"),
                &[],
            )
            .await?;
        let values = Arc::new(values);
        self.properties
            .options
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, values.clone());
        Ok(values)
    }

    /// `key = value` of a `[chats.ticket] properties` table in the wire shape of the property's
    /// type; `Err(message)` when the property is missing or the value cannot be written to it.
    async fn property_value(
        &self,
        op: &'static str,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<std::result::Result<serde_json::Value, Problem>> {
        let Some(id) = property_number(key) else {
            return Ok(Err(Problem::FieldKey {
                must_be: FieldKeyForm::PropertyKey,
            }));
        };
        let Some(definition) = self.definition(op, id).await? else {
            return Ok(Err(Problem::NoSuchField {
                id: id.to_string(),
                property: true,
            }));
        };
        if map::shape_of(&definition.kind) != Some(map::PropertyShape::Select) {
            return Ok(map::property_value(&definition, &[], value));
        }
        let options = self.select_values(op, id, false).await?;
        match map::property_value(&definition, &options, value) {
            Ok(shaped) => Ok(Ok(shaped)),
            // The option may have been added after the options were cached.
            Err(_) => {
                let options = self.select_values(op, id, true).await?;
                Ok(map::property_value(&definition, &options, value))
            }
        }
    }

    /// The chat's `[chats.ticket] properties` in the wire shape of each property's type, or the
    /// problems, one per key.
    async fn property_values(
        &self,
        op: &'static str,
        properties: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<std::result::Result<serde_json::Map<String, serde_json::Value>, Vec<ConfigProblem>>>
    {
        let mut shaped = serde_json::Map::new();
        let mut problems = Vec::new();
        for (key, value) in properties {
            match self.property_value(op, key, value).await? {
                Ok(value) => {
                    shaped.insert(key.clone(), value);
                }
                Err(problem) => {
                    problems.push(ConfigProblem::new(format!("properties.{key}"), problem))
                }
            }
        }
        Ok(if problems.is_empty() {
            Ok(shaped)
        } else {
            Err(problems)
        })
    }

    /// What is wrong with `resolution_property` in this company, if anything.
    async fn resolution_problem(&self, op: &'static str) -> Result<Option<ConfigProblem>> {
        let Some(key) = self.config.resolution_property.as_deref() else {
            return Ok(None);
        };
        let Some(id) = property_number(key) else {
            return Ok(None);
        };
        let problem = |problem| Some(ConfigProblem::new("resolution_property", problem));
        Ok(match self.definition(op, id).await? {
            None => problem(Problem::NoSuchField {
                id: id.to_string(),
                property: true,
            }),
            Some(d) if !map::shape_of(&d.kind).is_some_and(map::readable_as_text) => {
                problem(Problem::FieldTypeUnusable {
                    id: id.to_string(),
                    name: d.name,
                    kind: d.kind,
                    for_resolution: true,
                })
            }
            Some(_) => None,
        })
    }

    /// The options of the resolution property when the card holds option ids for it; re-read once
    /// when an id is not among the cached ones.
    async fn resolution_options(
        &self,
        op: &'static str,
        card: &model::Card,
    ) -> Result<Arc<Vec<model::SelectValue>>> {
        let Some((key, ids)) = self.config.resolution_property.as_deref().and_then(|key| {
            card.properties
                .get(key)
                .and_then(serde_json::Value::as_array)
                .map(|ids| (key, ids))
        }) else {
            return Ok(Arc::default());
        };
        let Some(id) = property_number(key) else {
            return Ok(Arc::default());
        };
        let options = self.select_values(op, id, false).await?;
        let all_known = ids
            .iter()
            .filter_map(serde_json::Value::as_i64)
            .all(|wanted| options.iter().any(|o| o.id == wanted));
        if all_known {
            Ok(options)
        } else {
            self.select_values(op, id, true).await
        }
    }

    async fn card(&self, op: &'static str, card_id: i64) -> Result<model::Card> {
        self.client.get(op, &format!("/cards/{card_id}"), &[]).await
    }

    /// The card's comments; one of a kind this adapter does not know is skipped, not fatal.
    async fn comments(&self, op: &'static str, card_id: i64) -> Result<Vec<model::Comment>> {
        self.client
            .get::<Lenient<model::Comment>>(op, &format!("/cards/{card_id}/comments"), &[])
            .await
            .map(Lenient::into_inner)
    }

    async fn patch(
        &self,
        op: &'static str,
        card_id: i64,
        update: &model::UpdateCard,
    ) -> Result<()> {
        let _: serde_json::Value = self
            .client
            .send_json(op, Method::PATCH, &format!("/cards/{card_id}"), update)
            .await?;
        Ok(())
    }

    /// Finishes what an interrupted create may have left undone: the service and the files.
    async fn complete_card(
        &self,
        op: &'static str,
        card: &model::Card,
        service_id: Option<i64>,
        attachments: &[Attachment],
    ) -> Result<()> {
        if let Some(service_id) = service_id
            && card.service_id != Some(service_id)
        {
            let update = model::UpdateCard {
                service_id: Some(service_id),
                ..Default::default()
            };
            self.patch(op, card.id, &update).await?;
        }
        for attachment in attachments {
            let present = card
                .files
                .iter()
                .any(|f| !f.deleted && f.comment_id.is_none() && f.name == attachment.file_name);
            if !present {
                self.client.upload(op, card.id, attachment).await?;
            }
        }
        Ok(())
    }
}

fn card_id(op: &'static str, ticket: &TicketId) -> Result<i64> {
    ticket.0.parse::<i64>().map_err(|_| {
        Error::new(
            ErrorKind::InvalidInput,
            op,
            format!("{ticket:?} is not a Kaiten card id"),
        )
    })
}

#[async_trait]
impl Helpdesk for KaitenAdapter {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capability(&self) -> Capability {
        CAPABILITY
    }

    /// Also checks that `resolution_property` exists in the company and has a type teledesk can
    /// show; the definitions are re-read, so a fix in Kaiten shows at the next check.
    async fn check(&self) -> Result<Identity> {
        const OP: &str = "check";
        let user = self.current_user(OP).await?;
        if self.config.resolution_property.is_some() {
            match self.fetch_definitions(OP).await {
                Ok(_) => {
                    if let Some(problem) = self.resolution_problem(OP).await? {
                        return Err(Error::config(OP, [problem]));
                    }
                }
                // The token works (it just read the user); a right it lacks on the property list
                // is not a reason to call the helpdesk unusable.
                Err(e) if e.kind() == ErrorKind::PermissionDenied => tracing::warn!(
                    adapter = KIND,
                    error = %e,
                    "Cannot read the company's custom properties to check resolution_property."
                ),
                Err(e) => return Err(e),
            }
        }
        Ok(Identity {
            id: user.id.to_string(),
            name: user.full_name,
        })
    }

    /// Every `properties` key must name a property of the company whose type teledesk can write,
    /// with a value that fits it (a select's option must exist).
    async fn check_ticket_defaults(&self, defaults: &ConfigTable) -> Result<Vec<ConfigProblem>> {
        const OP: &str = "check_ticket_defaults";
        let defaults = match TicketDefaults::from_table(defaults) {
            Ok(defaults) => defaults,
            Err(problems) => return Ok(problems),
        };
        Ok(self
            .property_values(OP, &defaults.properties)
            .await?
            .err()
            .unwrap_or_default())
    }

    async fn create_ticket(&self, draft: &TicketDraft) -> Result<TicketRef> {
        const OP: &str = "create_ticket";
        let defaults = TicketDefaults::from_table(&draft.ticket_table()).map_err(|problems| {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            Error::new(ErrorKind::ConfigInvalid, OP, text.join("; "))
        })?;
        let board_id = defaults.board_id.unwrap_or(self.config.board_id);
        let service_id = defaults.service_id.or(self.config.service_id);

        if draft.retry {
            let query = [("external_id", draft.key.0.clone())];
            let found: Vec<model::Card> = self.client.get(OP, "/cards", &query).await?;
            if let Some(found) = found
                .into_iter()
                .find(|c| c.external_id.as_deref() == Some(draft.key.as_str()))
            {
                let card = self.card(OP, found.id).await?;
                self.complete_card(OP, &card, service_id, &draft.attachments)
                    .await?;
                tracing::debug!(
                    adapter = KIND,
                    card_id = card.id,
                    "Found the card an earlier attempt created."
                );
                return Ok(map::ticket_ref(self.client.site(), &card));
            }
        }

        // The helpdesk's lane belongs to its board; a chat on another board gets that board's
        // default lane unless it names one.
        let lane_id = defaults.lane_id.or(if board_id == self.config.board_id {
            self.config.lane_id
        } else {
            None
        });
        let properties = match self.property_values(OP, &defaults.properties).await {
            Ok(Ok(shaped)) => shaped,
            Ok(Err(problems)) => {
                let text: Vec<String> = problems
                    .iter()
                    .map(|p| format!("[chats.ticket] {p}"))
                    .collect();
                return Err(Error::new(ErrorKind::ConfigInvalid, OP, text.join("; ")));
            }
            // The spec allows 403 on the company's property list; a token without that right
            // still creates cards, with the values as configured (right for text and numbers).
            // `teledesk doctor` says the chat's properties could not be checked.
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                tracing::warn!(
                    adapter = KIND,
                    error = %e,
                    "Cannot read the company's custom properties; writing them as configured."
                );
                defaults.properties.clone()
            }
            Err(e) => return Err(e),
        };
        let body = model::CreateCard {
            title: text::ticket_title(&draft.subject, &draft.description, MAX_TITLE_CHARS),
            board_id,
            column_id: defaults.column_id.unwrap_or(self.config.column_id),
            lane_id,
            type_id: defaults.type_id.or(self.config.type_id),
            owner_id: defaults.owner_id,
            responsible_id: defaults.responsible_id,
            properties: (!properties.is_empty()).then_some(properties),
            external_id: draft.key.0.clone(),
            description: map::card_description(draft),
            text_format_type_id: 1,
        };
        let card: model::Card = self
            .client
            .send_json(OP, Method::POST, "/cards", &body)
            .await?;
        // `service_id` is documented on update only, and a card without files has none to skip.
        let fresh = model::Card {
            files: Vec::new(),
            ..card
        };
        self.complete_card(OP, &fresh, service_id, &draft.attachments)
            .await?;
        tracing::debug!(adapter = KIND, card_id = fresh.id, "Created a card.");
        Ok(map::ticket_ref(self.client.site(), &fresh))
    }

    async fn add_comment(&self, ticket: &TicketId, draft: &CommentDraft) -> Result<CommentId> {
        self.write_comment(ticket, draft)
            .await
            .map(|written| written.id)
    }

    /// The comment's `created`, from the answer to the write (or the earlier comment a retry
    /// found).
    async fn write_comment(
        &self,
        ticket: &TicketId,
        draft: &CommentDraft,
    ) -> Result<WrittenComment> {
        const OP: &str = "add_comment";
        let card_id = card_id(OP, ticket)?;
        if draft.retry {
            let me = self.integration_user(OP).await?;
            let comments = self.comments(OP, card_id).await?;
            if let Some(earlier) = comments.iter().find(|c| {
                !c.deleted
                    && c.author_id == Some(me)
                    && map::has_footer_for(&c.text, draft.key.as_str())
            }) {
                return Ok(WrittenComment {
                    id: CommentId(earlier.id.to_string()),
                    created_at: Some(earlier.created),
                });
            }
        }
        // Non-restricted tenants cannot attach files to a comment, so they go on the card and the
        // comment links them.
        let mut links = Vec::with_capacity(draft.attachments.len());
        for attachment in &draft.attachments {
            let file = self.client.upload(OP, card_id, attachment).await?;
            let url = match &file.url {
                Some(url) => map::absolute_url(self.client.site(), url),
                None => map::card_url(self.client.site(), None, card_id),
            };
            links.push((file.name, url));
        }
        let body = model::CreateComment {
            text: map::comment_text(draft, &links),
            internal: false,
        };
        let comment: model::Comment = self
            .client
            .send_json(
                OP,
                Method::POST,
                &format!("/cards/{card_id}/comments"),
                &body,
            )
            .await?;
        Ok(WrittenComment {
            id: CommentId(comment.id.to_string()),
            created_at: Some(comment.created),
        })
    }

    /// `GET /cards/{id}/comments`, plus `GET /cards/{id}` only when a comment not in `known`
    /// may be a public staff reply: Kaiten lists a comment's files on the card alone.
    async fn get_comments(&self, ticket: &TicketId, known: &[CommentId]) -> Result<Vec<Comment>> {
        const OP: &str = "get_comments";
        let card_id = card_id(OP, ticket)?;
        let integration_user = self.integration_user(OP).await?;
        let comments = self.comments(OP, card_id).await?;
        let known: std::collections::HashSet<&str> = known.iter().map(|k| k.0.as_str()).collect();
        let needs_files = comments.iter().any(|c| {
            !c.deleted
                && c.author_id != Some(integration_user)
                && map::visibility_of(c) == Visibility::Public
                && !known.contains(c.id.to_string().as_str())
        });
        let files = if needs_files {
            self.card(OP, card_id).await?.files
        } else {
            Vec::new()
        };
        let ctx = map::Context {
            site: self.client.site(),
            statuses: &self.config.statuses,
            resolution_property: self.config.resolution_property.as_deref(),
            resolution_options: &[],
            integration_user,
        };
        Ok(map::to_comments(&ctx, &files, &comments))
    }

    async fn get_ticket(&self, ticket: &TicketId) -> Result<Ticket> {
        const OP: &str = "get_ticket";
        let card_id = card_id(OP, ticket)?;
        let integration_user = self.integration_user(OP).await?;
        // Comments first: a file comes with its comment (or before it), so every comment read
        // has its files in the card read after it. Read the other way round, a staff reply
        // written in between shows without its file, and the daemon would mirror it so.
        let comments = self.comments(OP, card_id).await?;
        let card = self.card(OP, card_id).await?;
        let options = match self.resolution_options(OP, &card).await {
            Ok(options) => options,
            // A token that may not read the company's properties must not stall the ticket: the
            // options then show as their ids.
            Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound) => {
                tracing::warn!(adapter = KIND, error = %e, "Cannot read the resolution property's options.");
                Arc::default()
            }
            Err(e) => return Err(e),
        };
        let ctx = map::Context {
            site: self.client.site(),
            statuses: &self.config.statuses,
            resolution_property: self.config.resolution_property.as_deref(),
            resolution_options: &options,
            integration_user,
        };
        Ok(map::to_ticket(&ctx, &card, &comments))
    }

    /// Three feeds, because comments and members do not move a card's `updated`; see `feed.rs`
    /// for how each is read and what a poll costs.
    ///
    /// Each change carries a snapshot of the card as the feed listed it (whole cards: column,
    /// members, properties, comment count and time), read as `get_ticket` reads the card.
    async fn changes_since(&self, cursor: &Cursor) -> Result<ChangeBatch> {
        const OP: &str = "changes_since";
        let (mut batch, listed) = feed::changes_since(&self.client, cursor).await?;
        for change in &mut batch.changes {
            let Some(card) = change
                .ticket
                .0
                .parse::<i64>()
                .ok()
                .and_then(|id| listed.get(&id))
            else {
                continue;
            };
            let options = match self.resolution_options(OP, card).await {
                Ok(options) => options,
                Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound) => {
                    Arc::default()
                }
                Err(e) => return Err(e),
            };
            let ctx = map::Context {
                site: self.client.site(),
                statuses: &self.config.statuses,
                resolution_property: self.config.resolution_property.as_deref(),
                resolution_options: &options,
                // Snapshots hold no comments, so whose they are does not matter here.
                integration_user: 0,
            };
            change.snapshot = map::to_snapshot(&ctx, card);
        }
        Ok(batch)
    }

    async fn set_status(&self, ticket: &TicketId, status: StatusClass) -> Result<()> {
        const OP: &str = "set_status";
        let column_id = match status {
            StatusClass::New | StatusClass::InProgress => Some(self.config.reopen_column_id),
            StatusClass::ClientReplied => self.config.client_replied_column_id,
            _ => None,
        }
        .ok_or_else(|| Error::unsupported(OP))?;
        let card_id = card_id(OP, ticket)?;
        let update = model::UpdateCard {
            column_id: Some(column_id),
            ..Default::default()
        };
        self.patch(OP, card_id, &update).await
    }

    async fn add_internal_note(&self, ticket: &TicketId, note: &NoteDraft) -> Result<CommentId> {
        const OP: &str = "add_internal_note";
        let card_id = card_id(OP, ticket)?;
        if note.retry {
            let me = self.integration_user(OP).await?;
            let comments = self.comments(OP, card_id).await?;
            if let Some(earlier) = comments.iter().find(|c| {
                !c.deleted
                    && c.author_id == Some(me)
                    && map::has_footer_for(&c.text, note.key.as_str())
            }) {
                return Ok(CommentId(earlier.id.to_string()));
            }
        }
        let body = model::CreateComment {
            text: map::note_text(note),
            internal: true,
        };
        let comment: model::Comment = self
            .client
            .send_json(
                OP,
                Method::POST,
                &format!("/cards/{card_id}/comments"),
                &body,
            )
            .await?;
        Ok(CommentId(comment.id.to_string()))
    }

    /// Kaiten cards have no priority scale; the ASAP flag is the one urgency marker staff sort and
    /// filter by, so escalation sets it.
    async fn escalate(&self, ticket: &TicketId, note: &NoteDraft) -> Result<Escalation> {
        const OP: &str = "escalate";
        let card_id = card_id(OP, ticket)?;
        let card = self.card(OP, card_id).await?;
        let outcome = if card.asap {
            Escalation::AlreadyHighest
        } else {
            let update = model::UpdateCard {
                asap: Some(true),
                ..Default::default()
            };
            self.patch(OP, card_id, &update).await?;
            Escalation::PriorityRaised { to: "ASAP".into() }
        };
        self.add_internal_note(ticket, note).await?;
        Ok(outcome)
    }

    async fn download(&self, attachment: &AttachmentRef) -> Result<Attachment> {
        const OP: &str = "download";
        let url = attachment.url.as_deref().ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                OP,
                format!("file {} has no download address", attachment.id),
            )
        })?;
        let url = map::absolute_url(self.client.site(), url);
        let mut file = self
            .client
            .download(OP, &url, &attachment.file_name)
            .await?;
        if let Some(content_type) = &attachment.content_type
            && file.content_type == "application/octet-stream"
        {
            file.content_type = content_type.clone();
        }
        Ok(file)
    }
    /// Every card with a teledesk key in its `external_id`, paged by id (oldest first, so cards
    /// created meanwhile only add pages at the end).
    async fn own_tickets(&self) -> Result<Vec<teledesk_adapter::OwnTicket>> {
        const OP: &str = "own_tickets";
        let mut own = Vec::new();
        let mut offset = 0;
        loop {
            let query = [
                ("order_by", "id".to_owned()),
                ("order_direction", "asc".to_owned()),
                ("offset", offset.to_string()),
                ("limit", PAGE_SIZE.to_string()),
            ];
            // Read one by one: a card this adapter cannot read is skipped, not the page.
            let page: Vec<serde_json::Value> = self.client.get(OP, "/cards", &query).await?;
            let listed = page.len();
            let cards = page
                .into_iter()
                .filter_map(|card| serde_json::from_value::<model::Card>(card).ok());
            for card in cards {
                let Some(key) = card.external_id.as_deref().filter(|k| k.starts_with("tg")) else {
                    continue;
                };
                own.push(teledesk_adapter::OwnTicket {
                    reference: map::ticket_ref(self.client.site(), &card),
                    key: teledesk_adapter::IdempotencyKey(key.to_owned()),
                    requester: card.description.as_deref().and_then(map::requester_of),
                });
            }
            if listed < PAGE_SIZE {
                return Ok(own);
            }
            offset += listed;
        }
    }
}
