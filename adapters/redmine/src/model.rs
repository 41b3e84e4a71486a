//! Redmine's REST API wire format (JSON flavour), serde only.
//!
//! Shapes as recorded from Redmine 5.0.4 in `fixtures/redmine/`. Fields the adapter does not read
//! are left out; serde ignores them. Times are ISO 8601 UTC with `Z` and whole seconds.

use serde::{Deserialize, Serialize};
use teledesk_adapter::lenient;
use time::OffsetDateTime;

/// `{"id": …, "name": …}`: how Redmine embeds a project, tracker, priority, user...
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    /// The object's id.
    pub id: i64,
    /// Its display name (a user's name follows the instance's user display format).
    #[serde(default)]
    pub name: String,
}

/// An issue's status as embedded in an issue (`is_closed` since Redmine 5.0).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRef {
    /// Status id.
    pub id: i64,
    /// Status name.
    #[serde(default)]
    pub name: String,
    /// Whether issues in this status count as closed.
    #[serde(default)]
    pub is_closed: Option<bool>,
}

/// One custom field value of an issue; multi-value fields carry an array.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomValue {
    /// Custom field id.
    pub id: i64,
    /// Field name.
    #[serde(default)]
    pub name: String,
    /// A string, an array of strings, or `null`.
    #[serde(default)]
    pub value: serde_json::Value,
}

/// One change recorded in a journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    /// `attr`, `cf`, `attachment`, `relation`.
    pub property: String,
    /// The attribute (`status_id`), custom field id, attachment id or relation type.
    pub name: String,
    /// The previous value, as text.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub old_value: Option<String>,
    /// The new value, as text (for `attachment`: the file name).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub new_value: Option<String>,
}

/// A journal: one update of an issue, with notes and/or changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Journal id.
    pub id: i64,
    /// Who made the update; absent for deleted users.
    #[serde(default)]
    pub user: Option<Named>,
    /// The comment text: `null` or `""` when the update only changed fields.
    #[serde(default)]
    pub notes: Option<String>,
    /// When it was written.
    #[serde(with = "time::serde::rfc3339")]
    pub created_on: OffsetDateTime,
    /// A private note: visible only to roles with "View private notes" (and its author).
    #[serde(default)]
    pub private_notes: bool,
    /// What the update changed.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub details: Vec<Detail>,
}

/// A file attached to an issue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Attachment id.
    pub id: i64,
    /// File name.
    pub filename: String,
    /// Size in bytes.
    #[serde(default, deserialize_with = "lenient::opt_number")]
    pub filesize: Option<u64>,
    /// MIME type, when Redmine knows it.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Absolute download address (built from the host the request came to).
    #[serde(default)]
    pub content_url: Option<String>,
}

/// A relation between two issues (`relates`, `follows`...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    /// Relation id.
    pub id: i64,
    /// The "from" issue (for `relates` Redmine stores the lower id here).
    pub issue_id: i64,
    /// The "to" issue.
    pub issue_to_id: i64,
    /// `relates`, `duplicates`, `blocks`, `precedes`, `follows`, `copied_to`...
    pub relation_type: String,
}

impl Relation {
    /// Whether this relation joins `a` and `b`, in either direction.
    pub fn joins(&self, a: i64, b: i64) -> bool {
        (self.issue_id == a && self.issue_to_id == b)
            || (self.issue_id == b && self.issue_to_id == a)
    }
}

/// An issue as `GET /issues/{id}.json` and `GET /issues.json` return it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    /// Issue id, also the number people use (`#123`).
    pub id: i64,
    /// The project.
    pub project: Named,
    /// The tracker.
    #[serde(default)]
    pub tracker: Option<Named>,
    /// The status.
    pub status: StatusRef,
    /// The priority.
    #[serde(default)]
    pub priority: Option<Named>,
    /// Who created it (the integration user for tickets teledesk opened).
    #[serde(default)]
    pub author: Option<Named>,
    /// The assignee.
    #[serde(default)]
    pub assigned_to: Option<Named>,
    /// Subject.
    pub subject: String,
    /// Description; Redmine stores line breaks as `\r\n`.
    #[serde(default)]
    pub description: Option<String>,
    /// The due date (`YYYY-MM-DD`), when set.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub due_date: Option<String>,
    /// Custom fields enabled for the issue's project and tracker.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub custom_fields: Vec<CustomValue>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_on: OffsetDateTime,
    /// Last update time; any journal (notes, private notes, field changes) moves it.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_on: OffsetDateTime,
    /// With `include=journals`.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub journals: Vec<Journal>,
    /// With `include=attachments`.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub attachments: Vec<Attachment>,
    /// With `include=relations`.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub relations: Vec<Relation>,
}

impl Issue {
    /// The text value of a custom field, when the issue has it and it is not empty.
    pub fn custom_value(&self, field_id: i64) -> Option<String> {
        let field = self.custom_fields.iter().find(|f| f.id == field_id)?;
        let text = match &field.value {
            serde_json::Value::String(s) => s.trim().to_owned(),
            serde_json::Value::Array(items) => items
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        (!text.is_empty()).then_some(text)
    }
}

/// `{"issue": …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueEnvelope {
    /// The issue.
    pub issue: Issue,
}

/// `GET /issues.json`: one page with its issues undecoded, for the change feed, which counts what
/// Redmine sent to page and skips an issue it cannot read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RawIssuePage {
    /// The issues of this page, as sent.
    #[serde(default)]
    pub issues: Vec<serde_json::Value>,
}

/// `GET /issues.json`: one page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssuePage {
    /// The issues of this page; one the adapter cannot read (and so cannot check) is skipped.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub issues: Vec<Issue>,
    /// How many match in total.
    #[serde(default)]
    pub total_count: Option<u64>,
}

/// A user as `GET /users/current.json` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub id: i64,
    /// Login.
    #[serde(default)]
    pub login: String,
    /// First name.
    #[serde(default)]
    pub firstname: String,
    /// Last name.
    #[serde(default)]
    pub lastname: String,
    /// Administrator.
    #[serde(default)]
    pub admin: bool,
}

impl User {
    /// "First Last", as Redmine's default user format shows it; the login when both are empty.
    pub fn display_name(&self) -> String {
        let name = format!("{} {}", self.firstname, self.lastname)
            .trim()
            .to_owned();
        if name.is_empty() {
            self.login.clone()
        } else {
            name
        }
    }
}

/// `{"user": …}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEnvelope {
    /// The user.
    pub user: User,
}

/// A project as `GET /projects/{id}.json` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Project id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// URL identifier.
    pub identifier: String,
}

/// `{"project": …}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectEnvelope {
    /// The project.
    pub project: Project,
}

/// One status of `GET /issue_statuses.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueStatus {
    /// Status id.
    pub id: i64,
    /// Status name.
    pub name: String,
    /// Closed statuses end an issue.
    #[serde(default)]
    pub is_closed: bool,
}

/// `GET /issue_statuses.json`, in the admin-defined order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueStatuses {
    /// Every status.
    pub issue_statuses: Vec<IssueStatus>,
}

/// One priority of `GET /enumerations/issue_priorities.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Priority {
    /// Priority id.
    pub id: i64,
    /// Priority name.
    pub name: String,
    /// The priority new issues get.
    #[serde(default)]
    pub is_default: bool,
    /// Inactive priorities cannot be set.
    #[serde(default = "active_by_default")]
    pub active: bool,
}

fn active_by_default() -> bool {
    true
}

/// `GET /enumerations/issue_priorities.json`, lowest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Priorities {
    /// Every priority, in the admin-defined order (lowest first).
    pub issue_priorities: Vec<Priority>,
}

/// `POST /uploads.json` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadEnvelope {
    /// The upload.
    pub upload: Upload,
}

/// A file uploaded but not yet attached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// Attachment id it will become.
    #[serde(default)]
    pub id: Option<i64>,
    /// The token an issue create/update attaches it with.
    pub token: String,
}

/// `GET /issues/{id}/relations.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relations {
    /// The issue's relations.
    pub relations: Vec<Relation>,
}

/// Validation errors: `{"errors": ["Subject cannot be blank"]}` (422).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Human-readable messages, in the instance's default language.
    pub errors: Vec<String>,
}

/// A file reference inside an issue create/update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UploadRef {
    /// From [`Upload::token`].
    pub token: String,
    /// The file name the attachment gets.
    pub filename: String,
    /// Its MIME type.
    pub content_type: String,
}

/// One custom field value in a create/update.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomFieldValue {
    /// Custom field id.
    pub id: i64,
    /// The value: a string, or an array for multi-value fields.
    pub value: serde_json::Value,
}

/// `POST /issues.json` body (inside `{"issue": …}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NewIssue {
    /// Project id or identifier.
    pub project_id: serde_json::Value,
    /// Tracker; the project's first tracker when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracker_id: Option<i64>,
    /// Subject (at most 255 characters).
    pub subject: String,
    /// Description.
    pub description: String,
    /// Priority; the default priority when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_id: Option<i64>,
    /// Category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category_id: Option<i64>,
    /// Assignee (user or group id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to_id: Option<i64>,
    /// Custom field values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<CustomFieldValue>,
    /// Files uploaded before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uploads: Vec<UploadRef>,
}

/// `PUT /issues/{id}.json` body (inside `{"issue": …}`); unset fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct IssueUpdate {
    /// A journal note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Makes the note private (needs "Set notes as private", silently dropped otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_notes: Option<bool>,
    /// New status (silently dropped when the workflow forbids it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_id: Option<i64>,
    /// New priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_id: Option<i64>,
    /// Files uploaded before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uploads: Vec<UploadRef>,
}

/// `{"issue": …}` for requests.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Wrap<T> {
    /// The wrapped body.
    pub issue: T,
}

/// `POST /issues/{id}/relations.json` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewRelation {
    /// The other issue.
    pub issue_to_id: i64,
    /// `relates`.
    pub relation_type: String,
}

/// `{"relation": …}` for requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RelationWrap {
    /// The relation.
    pub relation: NewRelation,
}

/// `GET /custom_fields.json` (administrators only).
#[derive(Debug, Deserialize)]
pub struct CustomFieldList {
    /// Every custom field, of every customized type.
    pub custom_fields: Vec<CustomFieldDefinition>,
}

/// One custom field's definition.
#[derive(Debug, Deserialize)]
pub struct CustomFieldDefinition {
    /// Its id (the key of `custom_fields` in a chat's ticket table).
    pub id: i64,
    /// Its name.
    pub name: String,
    /// `issue`, `project`, `user`...: only issue fields can be written on an issue.
    pub customized_type: String,
    /// `string`, `list`, `int`...
    pub field_format: String,
    /// A list field's values.
    #[serde(default)]
    pub possible_values: Vec<PossibleValue>,
}

/// One value of a list custom field.
#[derive(Debug, Deserialize)]
pub struct PossibleValue {
    /// The value an issue stores.
    pub value: String,
}
