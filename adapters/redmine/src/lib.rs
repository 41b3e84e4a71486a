//! Redmine adapter for teledesk: Telegram tickets become Redmine issues.
//!
//! A ticket is an issue in a configured project, authored by the integration user (the API key's
//! owner); the requester's Telegram identity and the idempotency marker (`tg-key: <key>`) sit in a
//! block at the end of the description (and, when configured, the key also in a custom field).
//! Client comments and teledesk's internal notes are journal notes (`private_notes` for internal
//! ones) with the same marker, found again by re-reading the journals, because Redmine answers an
//! update with `204 No Content`. Files go through Redmine's two-step upload. Changes are polled
//! with `GET /issues.json?author_id=me&updated_on=>=…`; Redmine 7's signed webhooks are verified.
//! See `README.md` for the capability table and the open questions.

#![warn(missing_docs)]

mod client;
mod config;
mod map;
mod model;

pub use config::{DEFAULT_STATUSES, ProjectRef, RedmineConfig, StatusMap, TicketDefaults};

use async_trait::async_trait;
use client::RedmineClient;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashSet;
use std::time::Duration;
use teledesk_adapter::{
    Attachment, AttachmentRef, Capability, ChangeBatch, CommentDraft, CommentId, ConfigProblem,
    ConfigTable, Cursor, DEFAULT_OVERLAP, Error, ErrorKind, Escalation, Helpdesk, IdempotencyKey,
    Identity, NoteDraft, Problem, Result, StatusClass, Ticket, TicketDraft, TicketId, TicketRef,
    WebhookRequest, lenient,
};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

/// The config tag (`kind = "redmine"`), also the log field and metrics label.
pub const KIND: &str = "redmine";

/// What the Redmine adapter can do; the README's table shows the same values.
pub const CAPABILITY: Capability = Capability {
    comment: true,
    // Journals carry `private_notes`.
    comment_internal: true,
    // `POST /uploads.json`, then the token on the issue or journal.
    attachment: true,
    // Redmine's limit is an admin setting ("Maximum attachment size", 5 MB by default); a bigger
    // file is refused with 422 by the upload itself.
    attachment_max_size: None,
    download: true,
    set_status: true,
    // The key lives in the description marker; a custom field only when `idempotency_field_id`
    // is configured, which a constant cannot promise.
    native_idempotency: false,
    poll: true,
    // Native webhooks exist from Redmine 7 on (signed with `X-Redmine-Signature-256`); older
    // versions are polled only.
    webhook: true,
    webhook_signed: true,
    internal_note: true,
    // Issue priorities (`/enumerations/issue_priorities.json`).
    priority: true,
    native_rating: false,
    // `relates` relations.
    native_link: true,
    custom_fields: true,
    check_fields: true,
    // The listing names tickets only; a change is read with `get_ticket`.
    change_snapshot: false,
    // Self-hosted: no limit of its own; `requests_per_second` protects the server.
    rate_limit: None,
    staff_tickets: false,
    due_times: true,
};

/// `GET /issues.json` returns at most 100 issues per page.
const PAGE_SIZE: usize = 100;
/// Stops paging within one poll; the rest is picked up by the next one.
const MAX_PAGES: usize = 50;
/// Redmine's times have whole seconds, so a change is reported only once its second is over (and
/// one more second has passed for a transaction that straddles the boundary): a later change of
/// the same issue then always carries a later `updated_on`, and `(id, updated_on)` identifies a
/// change exactly. Measured against the local clock, so teledesk's and Redmine's clocks must
/// agree within about a second (NTP).
const SETTLE: Duration = Duration::from_secs(1);
/// The webhook signature header of Redmine 7+.
const SIGNATURE_HEADER: &str = "X-Redmine-Signature-256";

/// Validates a `[helpdesks.<name>]` table of kind `redmine`, reporting every problem.
pub fn validate_helpdesk(table: &ConfigTable) -> Vec<ConfigProblem> {
    RedmineConfig::from_table(table).err().unwrap_or_default()
}

/// Validates a chat's `[chats.ticket]` table for a Redmine helpdesk, reporting every problem.
pub fn validate_ticket_defaults(table: &ConfigTable) -> Vec<ConfigProblem> {
    TicketDefaults::from_table(table).err().unwrap_or_default()
}

/// The Redmine adapter: one per `[helpdesks.<name>]` table, shared by every daemon task.
#[derive(Debug)]
pub struct RedmineAdapter {
    config: RedmineConfig,
    client: RedmineClient,
    /// The integration user's id, learned on first need; its journals are teledesk's own.
    me: OnceCell<i64>,
    /// The instance's statuses (id, name, closed), learned on first need; a renamed or added
    /// status is seen after a restart.
    statuses: OnceCell<Vec<model::IssueStatus>>,
    /// The instance's priorities, lowest first, learned on first need.
    priorities: OnceCell<Vec<model::Priority>>,
}

impl RedmineAdapter {
    /// Builds the adapter from its `[helpdesks.<name>]` table (secrets resolved).
    pub fn from_config(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let config = RedmineConfig::from_table(table)?;
        let client = RedmineClient::new(&config).map_err(|e| {
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
            statuses: OnceCell::new(),
            priorities: OnceCell::new(),
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &RedmineConfig {
        &self.config
    }

    async fn current_user(&self, op: &'static str) -> Result<model::User> {
        let envelope: model::UserEnvelope = self.client.get(op, "/users/current.json", &[]).await?;
        // Losing the race to another task is fine: both read the same user.
        let _ = self.me.set(envelope.user.id);
        Ok(envelope.user)
    }

    async fn integration_user(&self, op: &'static str) -> Result<i64> {
        self.me
            .get_or_try_init(|| async { self.current_user(op).await.map(|u| u.id) })
            .await
            .copied()
    }

    async fn known_statuses(&self, op: &'static str) -> Result<&[model::IssueStatus]> {
        self.statuses
            .get_or_try_init(|| async {
                let list: model::IssueStatuses =
                    self.client.get(op, "/issue_statuses.json", &[]).await?;
                Ok::<_, Error>(list.issue_statuses)
            })
            .await
            .map(Vec::as_slice)
    }

    async fn known_priorities(&self, op: &'static str) -> Result<&[model::Priority]> {
        self.priorities
            .get_or_try_init(|| async {
                let list: model::Priorities = self
                    .client
                    .get(op, "/enumerations/issue_priorities.json", &[])
                    .await?;
                Ok::<_, Error>(list.issue_priorities)
            })
            .await
            .map(Vec::as_slice)
    }

    async fn issue(&self, op: &'static str, id: i64, include: &str) -> Result<model::Issue> {
        let query: Vec<(&str, String)> = if include.is_empty() {
            Vec::new()
        } else {
            vec![("include", include.to_owned())]
        };
        let envelope: model::IssueEnvelope = self
            .client
            .get(op, &format!("/issues/{id}.json"), &query)
            .await?;
        Ok(envelope.issue)
    }

    async fn update(&self, op: &'static str, id: i64, update: &model::IssueUpdate) -> Result<()> {
        self.client
            .put_json(
                op,
                &format!("/issues/{id}.json"),
                &model::Wrap { issue: update },
            )
            .await
    }

    /// The newest journal teledesk wrote with `key` in its footer, with the issue it was read from.
    async fn find_journal(
        &self,
        op: &'static str,
        id: i64,
        key: &IdempotencyKey,
    ) -> Result<(model::Issue, Option<model::Journal>)> {
        let me = self.integration_user(op).await?;
        let issue = self.issue(op, id, "journals").await?;
        let journal = issue
            .journals
            .iter()
            .rev()
            .find(|j| {
                j.user.as_ref().is_some_and(|u| u.id == me)
                    && j.notes
                        .as_deref()
                        .is_some_and(|n| teledesk_adapter::text::has_footer_for(n, key.as_str()))
            })
            .cloned();
        Ok((issue, journal))
    }

    /// Adds to `items` the issues `filter` selects that were updated from `from` on and before
    /// `settled_before` (each `(id, updated_on)` once, by `collected`), paging by time.
    /// Returns the time through which the listing was read, when it stopped at `MAX_PAGES` with
    /// more left (`None`: read to the end).
    async fn updated_issues(
        &self,
        op: &'static str,
        filter: (&str, String),
        mut from: OffsetDateTime,
        settled_before: OffsetDateTime,
        items: &mut Vec<(TicketId, OffsetDateTime)>,
        collected: &mut HashSet<(i64, OffsetDateTime)>,
    ) -> Result<Option<OffsetDateTime>> {
        let mut offset = 0;
        for _ in 0..MAX_PAGES {
            let query = [
                ("status_id", "*".to_owned()),
                (filter.0, filter.1.clone()),
                ("updated_on", format!(">={}", map::query_time(from))),
                ("sort", "updated_on".to_owned()),
                ("limit", PAGE_SIZE.to_string()),
                ("offset", offset.to_string()),
            ];
            // Count what Redmine sent, so paging is right, then skip an issue of a shape the
            // adapter does not know instead of stalling every poll on it.
            let page: model::RawIssuePage = self.client.get(op, "/issues.json", &query).await?;
            let count = page.issues.len();
            let issues: Vec<model::Issue> = lenient::keep_decodable(page.issues);
            let last = issues.last().map(|i| i.updated_on);
            for issue in issues {
                if issue.updated_on < settled_before
                    && collected.insert((issue.id, issue.updated_on))
                {
                    items.push((TicketId(issue.id.to_string()), issue.updated_on));
                }
            }
            let Some(last) = last.filter(|_| count == PAGE_SIZE) else {
                return Ok(None);
            };
            if last >= settled_before {
                return Ok(None);
            }
            // Pages by time rather than offset where it can: an issue updated while paging moves
            // to the end instead of shifting its neighbours out of sight.
            if last > from {
                from = last;
                offset = 0;
            } else {
                offset += count;
            }
        }
        Ok(Some(from))
    }

    /// An issue an earlier attempt created with `key`: by the custom field when configured, then
    /// by the description marker (`description=~` searches the text; the marker is then checked
    /// exactly, as `~` matches substrings and a server ignores filters it does not know).
    async fn find_issue_by_key(
        &self,
        op: &'static str,
        key: &IdempotencyKey,
    ) -> Result<Option<model::Issue>> {
        if let Some(field) = self.config.idempotency_field_id {
            let filter = format!("cf_{field}");
            let query = [
                ("status_id", "*".to_owned()),
                ("author_id", "me".to_owned()),
                (filter.as_str(), key.0.clone()),
                ("sort", "id:desc".to_owned()),
                ("limit", PAGE_SIZE.to_string()),
            ];
            let page: model::IssuePage = self.client.get(op, "/issues.json", &query).await?;
            if let Some(found) = page
                .issues
                .into_iter()
                .find(|i| i.custom_value(field).as_deref() == Some(key.as_str()))
            {
                return Ok(Some(found));
            }
        }
        let query = [
            ("status_id", "*".to_owned()),
            ("author_id", "me".to_owned()),
            ("description", format!("~{}", key.as_str())),
            ("sort", "id:desc".to_owned()),
            ("limit", PAGE_SIZE.to_string()),
        ];
        let page: model::IssuePage = self.client.get(op, "/issues.json", &query).await?;
        Ok(page.issues.into_iter().find(|i| {
            i.description
                .as_deref()
                .is_some_and(|d| teledesk_adapter::text::has_footer_for(d, key.as_str()))
        }))
    }

    /// Links a follow-up to the issue it continues, unless a relation between them exists.
    async fn link_follow_up(&self, op: &'static str, issue_id: i64, original: i64) -> Result<()> {
        let relations: model::Relations = self
            .client
            .get(op, &format!("/issues/{issue_id}/relations.json"), &[])
            .await?;
        if relations
            .relations
            .iter()
            .any(|r| r.joins(issue_id, original))
        {
            return Ok(());
        }
        let body = model::RelationWrap {
            relation: model::NewRelation {
                issue_to_id: original,
                relation_type: "relates".to_owned(),
            },
        };
        let created: Result<serde_json::Value> = self
            .client
            .post_json(op, &format!("/issues/{issue_id}/relations.json"), &body)
            .await;
        match created {
            Ok(_) => Ok(()),
            // Staff (or a parallel attempt) linked them in the meantime.
            Err(e) if e.kind() == ErrorKind::InvalidInput && e.message().contains("taken") => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn upload_all(
        &self,
        op: &'static str,
        files: &[Attachment],
    ) -> Result<Vec<model::UploadRef>> {
        let mut uploads = Vec::with_capacity(files.len());
        for file in files {
            let upload = self.client.upload(op, file).await?;
            uploads.push(model::UploadRef {
                token: upload.token,
                filename: file.file_name.clone(),
                content_type: file.content_type.clone(),
            });
        }
        Ok(uploads)
    }

    /// The status `class` moves an issue to: the configured one, else the first status of the
    /// instance that maps to `class`.
    async fn status_for(&self, op: &'static str, class: StatusClass) -> Result<model::IssueStatus> {
        let known = self.known_statuses(op).await?;
        let configured = match class {
            StatusClass::InProgress => self.config.reopen_status_id,
            StatusClass::ClientReplied => self.config.client_replied_status_id,
            _ => None,
        };
        if let Some(id) = configured {
            return Ok(known
                .iter()
                .find(|s| s.id == id)
                .cloned()
                .unwrap_or(model::IssueStatus {
                    id,
                    name: format!("status {id}"),
                    is_closed: false,
                }));
        }
        known
            .iter()
            .find(|s| {
                map::class_of(&self.config.statuses, s.id, &s.name, Some(s.is_closed)) == class
            })
            .cloned()
            .ok_or_else(|| Error::unsupported(op))
    }

    /// The priority one step above `current`: the next of `priority_ids` (or of the instance's
    /// active priorities) that Redmine orders higher.
    async fn next_priority(
        &self,
        op: &'static str,
        current: Option<i64>,
    ) -> Result<Option<model::Priority>> {
        let all = self.known_priorities(op).await?;
        let position = |id: i64| all.iter().position(|p| p.id == id);
        let steps: Vec<model::Priority> = match &self.config.priority_ids {
            Some(ids) => ids
                .iter()
                .map(|id| {
                    all.iter()
                        .find(|p| p.id == *id)
                        .cloned()
                        .unwrap_or(model::Priority {
                            id: *id,
                            name: format!("priority {id}"),
                            is_default: false,
                            active: true,
                        })
                })
                .collect(),
            None => all.iter().filter(|p| p.active).cloned().collect(),
        };
        let Some(current) = current else {
            return Ok(steps.first().cloned());
        };
        if let Some(at) = steps.iter().position(|p| p.id == current) {
            return Ok(steps.get(at + 1).cloned());
        }
        // A priority outside the steps: climb to the first step Redmine orders above it.
        let Some(rank) = position(current) else {
            return Ok(None);
        };
        Ok(steps
            .into_iter()
            .find(|p| position(p.id).is_some_and(|r| r > rank)))
    }

    /// What an earlier escalation with `key` did, read from its journals: Redmine splits a
    /// private note written with field changes into a public journal with the changes, saved
    /// just before the private one with the same time.
    async fn earlier_escalation(
        &self,
        op: &'static str,
        id: i64,
        key: &IdempotencyKey,
    ) -> Result<Option<Escalation>> {
        let (issue, Some(note)) = self.find_journal(op, id, key).await? else {
            return Ok(None);
        };
        let author = note.user.as_ref().map(|u| u.id);
        let raised_to = std::iter::once(&note)
            .chain(issue.journals.iter().filter(|j| {
                j.id < note.id
                    && j.created_on == note.created_on
                    && j.user.as_ref().map(|u| u.id) == author
            }))
            .flat_map(|j| j.details.iter())
            .find(|d| d.property == "attr" && d.name == "priority_id")
            .and_then(|d| d.new_value.as_deref())
            .and_then(|v| v.parse::<i64>().ok());
        Ok(Some(match raised_to {
            Some(priority) => {
                let name = self
                    .known_priorities(op)
                    .await?
                    .iter()
                    .find(|p| p.id == priority)
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| format!("priority {priority}"));
                Escalation::PriorityRaised { to: name }
            }
            None => Escalation::AlreadyHighest,
        }))
    }

    /// Writes a private note and returns its journal, refusing to report success when Redmine
    /// dropped the private flag (the user's role lacks "Set notes as private").
    async fn write_private_note(
        &self,
        op: &'static str,
        id: i64,
        key: &IdempotencyKey,
        update: &model::IssueUpdate,
    ) -> Result<model::Journal> {
        self.update(op, id, update).await?;
        let (_, journal) = self.find_journal(op, id, key).await?;
        let journal = journal.ok_or_else(|| {
            Error::new(
                ErrorKind::Unexpected,
                op,
                format!("wrote a note on #{id} but cannot find it in the journals"),
            )
        })?;
        ensure_private(op, id, &journal)?;
        Ok(journal)
    }
}

fn ensure_private(op: &'static str, id: i64, journal: &model::Journal) -> Result<()> {
    if journal.private_notes {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::PermissionDenied,
        op,
        format!(
            "Redmine stored note {} on #{id} as PUBLIC: give the integration user's role the \
             permission \"Set notes as private\"",
            journal.id
        ),
    ))
}

fn issue_id(op: &'static str, ticket: &TicketId) -> Result<i64> {
    ticket
        .0
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                op,
                format!("{ticket:?} is not a Redmine issue id"),
            )
        })
}

fn verify_signature(secret: &[u8], request: &WebhookRequest) -> Result<()> {
    const OP: &str = "parse_webhook";
    let denied = |why: &str| Error::new(ErrorKind::PermissionDenied, OP, why.to_owned());
    let header = request
        .header(SIGNATURE_HEADER)
        .ok_or_else(|| denied("the webhook carries no X-Redmine-Signature-256"))?;
    let hex_digest = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or_else(|| denied("X-Redmine-Signature-256 is not sha256=<hex>"))?;
    let signature =
        hex::decode(hex_digest).map_err(|_| denied("X-Redmine-Signature-256 is not hex"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .map_err(|_| denied("the webhook secret cannot key HMAC-SHA256"))?;
    mac.update(&request.body);
    mac.verify_slice(&signature)
        .map_err(|_| denied("the webhook signature does not match its body"))
}

#[async_trait]
impl Helpdesk for RedmineAdapter {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capability(&self) -> Capability {
        Capability {
            // Staff address an issue through a custom field the config must name.
            staff_tickets: self.config.chat_field_id.is_some(),
            ..CAPABILITY
        }
    }

    /// Checks the custom fields a chat's ticket table (with its intake fields) writes: each id
    /// must be an issue custom field, a list field's value one of its possible values, and an
    /// integer, float, date or boolean field's value one Redmine takes.
    /// Redmine answers `GET /custom_fields.json` to administrators only; for another API key the
    /// check fails with `PermissionDenied` and doctor says it could not check.
    async fn check_ticket_defaults(&self, defaults: &ConfigTable) -> Result<Vec<ConfigProblem>> {
        const OP: &str = "check_ticket_defaults";
        let defaults = match TicketDefaults::from_table(defaults) {
            Ok(defaults) => defaults,
            Err(problems) => return Ok(problems),
        };
        if defaults.custom_fields.is_empty() {
            return Ok(Vec::new());
        }
        let list: model::CustomFieldList = self.client.get(OP, "/custom_fields.json", &[]).await?;
        let mut problems = Vec::new();
        for (id, value) in &defaults.custom_fields {
            let key = format!("custom_fields.{id}");
            let Some(field) = list
                .custom_fields
                .iter()
                .find(|f| f.id == *id && f.customized_type == "issue")
            else {
                problems.push(ConfigProblem::new(
                    key,
                    Problem::NoSuchField {
                        id: id.to_string(),
                        property: false,
                    },
                ));
                continue;
            };
            let allowed: Vec<&str> = field
                .possible_values
                .iter()
                .map(|v| v.value.as_str())
                .collect();
            let values: Vec<&str> = match value {
                serde_json::Value::Array(items) => {
                    items.iter().filter_map(|v| v.as_str()).collect()
                }
                other => other.as_str().into_iter().collect(),
            };
            // Redmine refuses a value its field's format does not take (422 on create): said
            // here, at `teledesk check`, it is a config finding instead of dead letters later. A
            // chat's `registered_at` aimed at a date field is one (Redmine has no date-time
            // format; a text field takes the full time).
            if let Some(wanted) = map::format_wants(&field.field_format)
                && values
                    .iter()
                    .any(|v| !map::format_takes(&field.field_format, v))
            {
                problems.push(ConfigProblem::new(
                    key.clone(),
                    Problem::FieldWants {
                        id: id.to_string(),
                        name: field.name.clone(),
                        kind: field.field_format.clone(),
                        wanted,
                    },
                ));
            }
            if field.field_format == "list"
                && let Some(missing) = values.iter().find(|v| !allowed.contains(v))
            {
                problems.push(ConfigProblem::new(
                    key,
                    Problem::NotAnOption {
                        value: (*missing).to_owned(),
                        id: None,
                        name: field.name.clone(),
                        options: allowed.iter().map(|v| (*v).to_owned()).collect(),
                    },
                ));
            }
        }
        Ok(problems)
    }

    async fn check(&self) -> Result<Identity> {
        const OP: &str = "check";
        let user = self.current_user(OP).await?;
        let project = self.config.project_id.to_string();
        let found: Result<model::ProjectEnvelope> = self
            .client
            .get(OP, &format!("/projects/{project}.json"), &[])
            .await;
        match found {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let problem = Problem::NoSuchProject {
                    project,
                    user: user.login,
                };
                return Err(Error::config(
                    OP,
                    [ConfigProblem::new("project_id", problem)],
                ));
            }
            Err(e) => return Err(e),
        }
        Ok(Identity {
            id: user.id.to_string(),
            name: user.display_name(),
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
            .map(|o| issue_id(OP, &o.id))
            .transpose()?;

        if draft.retry
            && let Some(found) = self.find_issue_by_key(OP, &draft.key).await?
        {
            // Files went in with the create itself; only the relation can be missing.
            if let Some(original) = original {
                self.link_follow_up(OP, found.id, original).await?;
            }
            tracing::debug!(
                adapter = KIND,
                issue_id = found.id,
                "Found the issue an earlier attempt created."
            );
            return Ok(map::ticket_ref(self.client.base(), found.id));
        }

        let uploads = self.upload_all(OP, &draft.attachments).await?;
        let mut custom_fields: Vec<model::CustomFieldValue> = defaults
            .custom_fields
            .iter()
            .filter(|(id, _)| Some(**id) != self.config.idempotency_field_id)
            .map(|(id, value)| model::CustomFieldValue {
                id: *id,
                value: value.clone(),
            })
            .collect();
        if let Some(field) = self.config.idempotency_field_id {
            custom_fields.push(model::CustomFieldValue {
                id: field,
                value: serde_json::Value::from(draft.key.as_str()),
            });
        }
        let tracker_id = defaults.tracker_id.or(self.config.tracker_id);
        let body = model::NewIssue {
            project_id: defaults
                .project_id
                .as_ref()
                .unwrap_or(&self.config.project_id)
                .to_json(),
            tracker_id,
            subject: map::subject_of(draft),
            description: map::issue_description(draft),
            priority_id: defaults.priority_id.or(self.config.priority_id),
            category_id: defaults.category_id,
            assigned_to_id: defaults.assigned_to_id,
            custom_fields,
            uploads,
        };
        let created: model::IssueEnvelope = self
            .client
            .post_json(OP, "/issues.json", &model::Wrap { issue: &body })
            .await?;
        let issue = created.issue;
        // Redmine silently replaces a tracker the project does not use, and drops custom fields
        // the project/tracker does not have: say so once per issue instead of failing after the
        // issue exists.
        if let Some(wanted) = tracker_id
            && issue.tracker.as_ref().map(|t| t.id) != Some(wanted)
        {
            tracing::warn!(
                adapter = KIND,
                issue_id = issue.id,
                tracker_id = wanted,
                "Redmine did not apply the configured tracker; is it enabled in the project?"
            );
        }
        if let Some(field) = self.config.idempotency_field_id
            && issue.custom_value(field).as_deref() != Some(draft.key.as_str())
        {
            tracing::warn!(
                adapter = KIND,
                issue_id = issue.id,
                field_id = field,
                "Redmine did not store the idempotency custom field; retries use the description marker."
            );
        }
        if let Some(original) = original {
            self.link_follow_up(OP, issue.id, original).await?;
        }
        tracing::debug!(adapter = KIND, issue_id = issue.id, "Created an issue.");
        Ok(map::ticket_ref(self.client.base(), issue.id))
    }

    async fn add_comment(&self, ticket: &TicketId, draft: &CommentDraft) -> Result<CommentId> {
        const OP: &str = "add_comment";
        let id = issue_id(OP, ticket)?;
        if draft.retry
            && let (_, Some(earlier)) = self.find_journal(OP, id, &draft.key).await?
        {
            return Ok(CommentId(earlier.id.to_string()));
        }
        let update = model::IssueUpdate {
            notes: Some(map::comment_text(draft)),
            uploads: self.upload_all(OP, &draft.attachments).await?,
            ..Default::default()
        };
        self.update(OP, id, &update).await?;
        // Redmine answers 204 without the journal; the marker finds it.
        let (_, journal) = self.find_journal(OP, id, &draft.key).await?;
        let journal = journal.ok_or_else(|| {
            Error::new(
                ErrorKind::Unexpected,
                OP,
                format!("wrote a comment on #{id} but cannot find it in the journals"),
            )
        })?;
        Ok(CommentId(journal.id.to_string()))
    }

    async fn get_ticket(&self, ticket: &TicketId) -> Result<Ticket> {
        const OP: &str = "get_ticket";
        let id = issue_id(OP, ticket)?;
        let issue = self.issue(OP, id, "journals,attachments").await?;
        let integration_user = self.integration_user(OP).await?;
        let known = self.known_statuses(OP).await?;
        let ctx = map::Context {
            base: self.client.base(),
            statuses: &self.config.statuses,
            known_statuses: known,
            integration_user,
            resolution_field_id: self.config.resolution_field_id,
            chat_field_id: self.config.chat_field_id,
            announcement_field_id: self.config.announcement_field_id,
        };
        Ok(map::to_ticket(&ctx, &issue))
    }

    async fn changes_since(&self, cursor: &Cursor) -> Result<ChangeBatch> {
        const OP: &str = "changes_since";
        let now = map::floor_second(OffsetDateTime::now_utc());
        let Some(from) = cursor.query_from(DEFAULT_OVERLAP) else {
            // A first poll starts now: replaying the project's history would flood Telegram.
            return Ok(ChangeBatch {
                changes: Vec::new(),
                cursor: Cursor::starting_at(now),
            });
        };
        let settled_before = now - SETTLE;
        let from = map::floor_second(from);
        let mut items: Vec<(TicketId, OffsetDateTime)> = Vec::new();
        let mut collected: HashSet<(i64, OffsetDateTime)> = HashSet::new();
        // `author_id=me`: every issue teledesk opened, in whatever project staff moved it to.
        let mut complete_through = self
            .updated_issues(
                OP,
                ("author_id", "me".to_owned()),
                from,
                settled_before,
                &mut items,
                &mut collected,
            )
            .await?;
        // Staff open issues for a chat themselves (issue 14.3): those are not teledesk's, so the
        // feed also lists every issue whose chat field is set (`*`: any value). Redmine ignores
        // the filter if the field is not marked "Used as a filter"; then every updated issue is
        // listed, which costs reads but misses none.
        if let Some(field) = self.config.chat_field_id {
            let filter = (format!("cf_{field}"), "*".to_owned());
            let through = self
                .updated_issues(
                    OP,
                    (&filter.0, filter.1),
                    from,
                    settled_before,
                    &mut items,
                    &mut collected,
                )
                .await?;
            complete_through = complete_through.into_iter().chain(through).min();
        }
        let (changes, cursor) = cursor.advance_through(items, complete_through, DEFAULT_OVERLAP);
        Ok(ChangeBatch { changes, cursor })
    }

    async fn set_status(&self, ticket: &TicketId, status: StatusClass) -> Result<()> {
        const OP: &str = "set_status";
        let id = issue_id(OP, ticket)?;
        let target = self.status_for(OP, status).await?;
        let update = model::IssueUpdate {
            status_id: Some(target.id),
            ..Default::default()
        };
        self.update(OP, id, &update).await?;
        // Redmine drops a status its workflow does not allow without an error.
        let issue = self.issue(OP, id, "").await?;
        if issue.status.id != target.id {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                OP,
                format!(
                    "Redmine's workflow does not let the integration user move #{id} from \
                     \"{}\" to \"{}\" (Administration → Workflow)",
                    issue.status.name, target.name
                ),
            ));
        }
        Ok(())
    }

    async fn download(&self, attachment: &AttachmentRef) -> Result<Attachment> {
        const OP: &str = "download";
        let id = attachment.id.parse::<i64>().map_err(|_| {
            Error::new(
                ErrorKind::InvalidInput,
                OP,
                format!("{:?} is not a Redmine attachment id", attachment.id),
            )
        })?;
        let mut file = self
            .client
            .download(OP, &id.to_string(), &attachment.file_name)
            .await?;
        if let Some(content_type) = &attachment.content_type
            && file.content_type == "application/octet-stream"
        {
            file.content_type = content_type.clone();
        }
        Ok(file)
    }

    async fn add_internal_note(&self, ticket: &TicketId, note: &NoteDraft) -> Result<CommentId> {
        const OP: &str = "add_internal_note";
        let id = issue_id(OP, ticket)?;
        if note.retry
            && let (_, Some(earlier)) = self.find_journal(OP, id, &note.key).await?
        {
            ensure_private(OP, id, &earlier)?;
            return Ok(CommentId(earlier.id.to_string()));
        }
        let update = model::IssueUpdate {
            notes: Some(map::note_text(&note.body, note.key.as_str())),
            private_notes: Some(true),
            ..Default::default()
        };
        let journal = self.write_private_note(OP, id, &note.key, &update).await?;
        Ok(CommentId(journal.id.to_string()))
    }

    async fn escalate(&self, ticket: &TicketId, note: &NoteDraft) -> Result<Escalation> {
        const OP: &str = "escalate";
        let id = issue_id(OP, ticket)?;
        if note.retry
            && let Some(outcome) = self.earlier_escalation(OP, id, &note.key).await?
        {
            return Ok(outcome);
        }
        let issue = self.issue(OP, id, "").await?;
        let next = self
            .next_priority(OP, issue.priority.as_ref().map(|p| p.id))
            .await?;
        // One update, so the raise and its note are one transaction: a retry that finds the
        // note knows the priority moved too.
        let update = model::IssueUpdate {
            notes: Some(map::note_text(&note.body, note.key.as_str())),
            private_notes: Some(true),
            priority_id: next.as_ref().map(|p| p.id),
            ..Default::default()
        };
        self.write_private_note(OP, id, &note.key, &update).await?;
        let Some(next) = next else {
            return Ok(Escalation::AlreadyHighest);
        };
        let after = self.issue(OP, id, "").await?;
        if after.priority.as_ref().map(|p| p.id) == Some(next.id) {
            Ok(Escalation::PriorityRaised { to: next.name })
        } else {
            // Redmine drops a priority the user may not set without an error.
            tracing::warn!(
                adapter = KIND,
                issue_id = id,
                "Redmine did not raise the priority; may the integration user edit issues?"
            );
            Ok(Escalation::NoteOnly)
        }
    }

    fn parse_webhook(&self, request: &WebhookRequest) -> Result<Vec<TicketId>> {
        let secret = self.config.webhook_secret.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::PermissionDenied,
                "parse_webhook",
                "webhook_secret is not configured: set it to the Redmine webhook's secret",
            )
        })?;
        verify_signature(secret.expose().as_bytes(), request)?;
        map::webhook_ticket_ids(&request.body)
    }

    /// The issues the integration user wrote with a marker in the description (`description=~`
    /// narrows the search; the footer is then read exactly), paged by id, oldest first.
    async fn own_tickets(&self) -> Result<Vec<teledesk_adapter::OwnTicket>> {
        const OP: &str = "own_tickets";
        let mut own = Vec::new();
        let mut offset = 0;
        loop {
            let query = [
                ("status_id", "*".to_owned()),
                ("author_id", "me".to_owned()),
                ("description", format!("~{}", map::MARKER.trim_end())),
                ("sort", "id".to_owned()),
                ("offset", offset.to_string()),
                ("limit", PAGE_SIZE.to_string()),
            ];
            let page: model::IssuePage = self.client.get(OP, "/issues.json", &query).await?;
            let listed = page.issues.len();
            for issue in &page.issues {
                let description = issue.description.as_deref().unwrap_or_default();
                if let Some(key) = teledesk_adapter::text::footer_key(description) {
                    own.push(teledesk_adapter::OwnTicket {
                        reference: map::ticket_ref(self.client.base(), issue.id),
                        key,
                        requester: teledesk_adapter::text::parse_requester(description),
                    });
                }
            }
            // The server sent a full page even when an issue in it could not be read.
            offset += PAGE_SIZE;
            let more = match page.total_count {
                Some(total) => (offset as u64) < total,
                None => listed == PAGE_SIZE,
            };
            if !more {
                return Ok(own);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const WEBHOOK: &str = include_str!("../../../fixtures/redmine/webhook_issue_updated.json");

    fn adapter(extra: serde_json::Value) -> RedmineAdapter {
        let mut table: ConfigTable = json!({
            "url": "http://127.0.0.1:9",
            "api_key": "key",
            "project_id": "ci-support",
        })
        .as_object()
        .cloned()
        .expect("table");
        table.extend(extra.as_object().cloned().unwrap_or_default());
        RedmineAdapter::from_config(&table).expect("valid")
    }

    fn signed(secret: &str, body: &[u8]) -> WebhookRequest {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(body);
        let signature = hex::encode(mac.finalize().into_bytes());
        WebhookRequest {
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("user-agent".into(), "Redmine".into()),
                (
                    "x-redmine-signature-256".into(),
                    format!("sha256={signature}"),
                ),
            ],
            body: body.to_vec(),
        }
    }

    #[test]
    fn a_signed_webhook_names_its_issue() {
        let a = adapter(json!({"webhook_secret": "hook-secret"}));
        let request = signed("hook-secret", WEBHOOK.as_bytes());
        assert_eq!(
            a.parse_webhook(&request).expect("valid"),
            vec![TicketId("5".into())]
        );
    }

    #[test]
    fn a_tampered_or_foreign_webhook_is_refused() {
        let a = adapter(json!({"webhook_secret": "hook-secret"}));
        let mut tampered = signed("hook-secret", WEBHOOK.as_bytes());
        tampered.body = WEBHOOK.replace("\"id\": 5", "\"id\": 6").into_bytes();
        let foreign = signed("other-secret", WEBHOOK.as_bytes());
        let mut unsigned = signed("hook-secret", WEBHOOK.as_bytes());
        unsigned.headers.retain(|(n, _)| !n.contains("signature"));
        let mut not_hex = signed("hook-secret", WEBHOOK.as_bytes());
        not_hex.headers[2].1 = "sha256=zz".into();
        let mut sha1 = signed("hook-secret", WEBHOOK.as_bytes());
        sha1.headers[2].1 = sha1.headers[2].1.replace("sha256=", "sha1=");
        for request in [tampered, foreign, unsigned, not_hex, sha1] {
            let e = a.parse_webhook(&request).expect_err("refused");
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        }
    }

    #[test]
    fn webhooks_need_a_configured_secret() {
        let a = adapter(json!({}));
        let e = a
            .parse_webhook(&signed("anything", WEBHOOK.as_bytes()))
            .expect_err("no secret");
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.message().contains("webhook_secret"));
    }

    #[test]
    fn a_signed_body_that_is_not_json_is_invalid_input() {
        let a = adapter(json!({"webhook_secret": "s"}));
        let e = a.parse_webhook(&signed("s", b"<xml/>")).expect_err("bad");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn issue_ids_must_be_positive_integers() {
        assert_eq!(issue_id("x", &TicketId("42".into())).expect("ok"), 42);
        for bad in ["", "0", "-1", "abc", "4.2"] {
            let e = issue_id("x", &TicketId(bad.into())).expect_err("bad");
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn validators_report_problems() {
        assert!(validate_helpdesk(&ConfigTable::new()).len() >= 3);
        assert!(validate_ticket_defaults(&ConfigTable::new()).is_empty());
        let bad = json!({"queue": 1}).as_object().cloned().expect("table");
        assert_eq!(validate_ticket_defaults(&bad).len(), 1);
    }

    #[test]
    fn debug_does_not_print_the_key() {
        let a = adapter(json!({"api_key": "very-secret-key"}));
        assert!(!format!("{a:?}").contains("very-secret-key"));
    }
}
