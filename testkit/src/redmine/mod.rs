//! Fake Redmine REST API server (see crate docs), and the staff side for the conformance suite.
//!
//! [`FakeRedmine`] serves Redmine's JSON REST API on loopback in the wire format of
//! `fixtures/redmine/*.json` (recorded from Redmine 5.0.4, Debian's package), so the real adapter
//! talks to it unchanged. Tests act as support staff ([`FakeRedmine::staff_reply`],
//! [`FakeRedmine::set_status`], [`FakeRedmine::assign`]...) and observe what teledesk did
//! ([`FakeRedmine::issues`], [`FakeRedmine::journals`], [`FakeRedmine::calls`]).
//! [`RedmineBackstage`] is the staff side over HTTP, for the conformance suite, and works against
//! this fake and a real Redmine alike.
//!
//! The world mirrors what `shared/helpdesks/redmine-up.sh` provisions on a real server: user 1
//! `admin` (administrator, the only key a test gets), user 5 `alice` (Reporter in the project),
//! private project 1 "CI Support" (`ci-support`) with trackers 1 Bug, 2 Feature, 3 Support, and
//! Redmine's English default data: statuses 1 New, 2 In Progress, 3 Resolved, 4 Feedback,
//! 5 Closed (closed), 6 Rejected (closed); priorities 1 Low, 2 Normal (default), 3 High, 4 Urgent,
//! 5 Immediate; roles 3 Manager, 4 Developer, 5 Reporter. The fake adds a project category 1
//! "Принтеры" (a real server has none until an admin creates one). Custom fields exist only when a
//! test adds them with [`FakeRedmine::add_custom_field`] (Redmine's API cannot create them).
//!
//! Modelled server behaviour, as observed on the live server (assumptions marked [U]):
//! - auth by `X-Redmine-API-Key` (or `?key=`); a missing or unknown key is 401 with an empty body
//!   and `WWW-Authenticate: Basic realm="Redmine API"`; an admin key may act as another user with
//!   `X-Redmine-Switch-User: <login>` (412, empty body, for an unknown or locked login; ignored for
//!   non-admin keys); a download without a key is a 302 to the login page;
//! - times are stored with microseconds (like SQLite) and shown as whole UTC seconds with `Z`; the
//!   `updated_on`/`created_on` filters take `>=T`, `<=T`, `><T1|T2` with `T` a date or
//!   `YYYY-MM-DDTHH:MM:SSZ` (fractions and offsets are 422 "Updated is invalid"); `>=T` matches
//!   stored times after `T − 1 s` (Redmine's `> T − 1s` on the precise column), `<=T` those up to
//!   `T`;
//! - `GET /issues.json` shows open issues only unless `status_id` says otherwise (`*`, `closed`,
//!   ids joined by `|`); filters `project_id` (404 when unknown), `author_id`/`assigned_to_id`
//!   (`me` or an id), `tracker_id`, `subject`/`description` (`~`: every word, case-insensitive,
//!   as a substring; `!~`), `cf_<id>` (only for existing filterable fields; unknown filters are
//!   ignored, like Redmine does); `sort` by `id`, `updated_on`, `created_on`, `priority`,
//!   `status`, `subject` with `:desc`, default `id:desc`; `offset`, `limit` (default 25, max 100);
//! - `POST /issues.json` → 201 with the issue; a tracker the project does not use and unknown
//!   custom fields are silently replaced/ignored; descriptions are stored with `\r\n`; journal
//!   notes are stored as sent;
//! - `PUT /issues/{id}.json` → 204 with no body; every update that changes something writes one
//!   journal and moves `updated_on` (notes only and private notes included); a status the workflow
//!   forbids or that does not exist, and `private_notes` without "Set notes as private", are
//!   dropped silently; a private note sent together with field changes is split into a public
//!   journal with the changes (`notes: null`) and a private one with the notes, with the same
//!   time; a status-only journal has `notes: ""`;
//! - a user who is not a member of a (private) project gets 403 for its issues, its issue list
//!   and the project itself, and 422 "Project cannot be blank" when creating an issue in it;
//! - private journals are shown only to users allowed "View private notes" and to their author;
//! - workflow [U, simplified]: administrators, Managers and Developers may set any status, set
//!   priorities, assign and set private notes; Reporters may only create issues and add notes;
//! - relations: `relates` is stored from the lower id to the higher, `follows`/`blocked`/
//!   `duplicated`/`copied_from` as their reverse; a second relation between the same pair is 422
//!   "Related issue has already been taken"; creating one journals both issues without moving
//!   their `updated_on`;
//! - `POST /uploads.json?filename=` takes `application/octet-stream` only (406 otherwise), at most
//!   5 MB (Redmine's default setting; 422 above), needs a `Content-Length` (411 for a chunked
//!   body, which Thin, the server Debian's Redmine runs on, does not read: assumed), and answers
//!   201 `{"upload":{"id","token"}}`;
//!   a token that names no unattached upload of the same user makes the whole create/update 422
//!   "1 file(s) could not be saved.";
//! - [`FakeRedmine::add_oddities`] makes an issue's answers carry multi-value custom fields,
//!   system journals and entries of unseen shapes;
//! - validation failures are 422 `{"errors":[...]}` with Redmine's English messages; 403, 404
//!   and 412 have empty bodies; malformed JSON is 400 with an empty body;
//! - requests are checked in this order: outage (503 HTML from a "proxy"), key (401), switch user
//!   (412), then failures injected with [`FakeRedmine::fail_next`] (429 carries `Retry-After`).
//!   Redmine itself has no rate limit.
//!
//! Differences from the live server: the fake always sends a `Date` header (hyper does; Redmine
//! under thin sends none); the fake's workflow and permissions are the simplification above; HTML
//! pages (the web UI, the login page) are not served.

mod backstage;
mod oddities;
mod server;
#[cfg(test)]
mod tests;

pub use backstage::RedmineBackstage;

use crate::serve::{FakeState, serve_on_loopback};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

/// An issue as a test sees it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FakeIssue {
    /// Issue id.
    pub id: i64,
    /// Project id.
    pub project_id: i64,
    /// Tracker id.
    pub tracker_id: i64,
    /// Status id.
    pub status_id: i64,
    /// Priority id.
    pub priority_id: i64,
    /// Author's user id (1 is the integration user `admin`).
    pub author_id: i64,
    /// Assignee's user id.
    pub assigned_to_id: Option<i64>,
    /// Category id.
    pub category_id: Option<i64>,
    /// Subject.
    pub subject: String,
    /// Description as stored (with `\r\n`), empty when none.
    pub description: String,
    /// Custom field id → value.
    pub custom_values: BTreeMap<i64, String>,
    /// Last update, as the API shows it (`2026-11-21T12:00:00Z`).
    pub updated_on: String,
}

/// A journal as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeJournal {
    /// Journal id.
    pub id: i64,
    /// Author's user id.
    pub user_id: i64,
    /// Notes as stored (`None` for a split-off change journal).
    pub notes: Option<String>,
    /// Private note.
    pub private_notes: bool,
    /// Changes as `(property, name, old, new)`.
    pub details: Vec<(String, String, Option<String>, Option<String>)>,
    /// Creation time, as the API shows it.
    pub created_on: String,
}

/// An attachment as a test sees it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeAttachment {
    /// Attachment id.
    pub id: i64,
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Content, byte-exact.
    pub bytes: Vec<u8>,
    /// Uploader's user id.
    pub author_id: i64,
}

impl std::fmt::Debug for FakeAttachment {
    // Bytes would flood assertion messages; their length is what helps.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAttachment")
            .field("id", &self.id)
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .field("author_id", &self.author_id)
            .finish()
    }
}

/// One request the fake received.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RedmineCall {
    /// HTTP method (`GET`).
    pub method: String,
    /// Path (`/issues/1.json`).
    pub path: String,
    /// Raw query string, empty when none.
    pub query: String,
    /// The JSON body, when there was one (uploads: `None`).
    pub body: Option<serde_json::Value>,
    /// The login the request acted as (after `X-Redmine-Switch-User`), when authenticated.
    pub acting_as: Option<String>,
    /// The status the fake answered.
    pub status: u16,
}

#[derive(Clone, Debug)]
struct User {
    id: i64,
    login: String,
    firstname: String,
    lastname: String,
    mail: String,
    admin: bool,
    api_key: String,
    /// 1 active, 3 locked.
    status: i64,
    created_on: OffsetDateTime,
}

impl User {
    fn name(&self) -> String {
        format!("{} {}", self.firstname, self.lastname)
            .trim()
            .to_owned()
    }
}

#[derive(Clone, Debug)]
struct Project {
    id: i64,
    name: String,
    identifier: String,
    tracker_ids: Vec<i64>,
    categories: Vec<(i64, String)>,
    created_on: OffsetDateTime,
}

#[derive(Clone, Debug)]
struct Membership {
    id: i64,
    project_id: i64,
    user_id: i64,
    role_ids: Vec<i64>,
}

#[derive(Clone, Debug)]
struct Role {
    id: i64,
    name: &'static str,
    /// Set statuses, priorities, assignees; see private notes and make notes private.
    staff: bool,
}

#[derive(Clone, Debug)]
struct Status {
    id: i64,
    name: &'static str,
    is_closed: bool,
}

#[derive(Clone, Debug)]
struct Priority {
    id: i64,
    name: &'static str,
    is_default: bool,
}

#[derive(Clone, Debug)]
struct CustomField {
    id: i64,
    name: String,
    field_format: String,
    is_filter: bool,
}

#[derive(Clone, Debug)]
struct Issue {
    id: i64,
    project_id: i64,
    tracker_id: i64,
    status_id: i64,
    priority_id: i64,
    author_id: i64,
    assigned_to_id: Option<i64>,
    category_id: Option<i64>,
    subject: String,
    description: Option<String>,
    custom_values: BTreeMap<i64, String>,
    start_date: Date,
    /// The issue's due date (a date, no time).
    due_date: Option<Date>,
    created_on: OffsetDateTime,
    updated_on: OffsetDateTime,
    closed_on: Option<OffsetDateTime>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Detail {
    property: String,
    name: String,
    old_value: Option<String>,
    new_value: Option<String>,
}

#[derive(Clone, Debug)]
struct Journal {
    id: i64,
    issue_id: i64,
    user_id: i64,
    notes: Option<String>,
    private_notes: bool,
    created_on: OffsetDateTime,
    details: Vec<Detail>,
}

#[derive(Clone, Debug)]
struct StoredFile {
    id: i64,
    /// `None` while uploaded but not attached.
    issue_id: Option<i64>,
    filename: String,
    content_type: String,
    bytes: Vec<u8>,
    author_id: i64,
    token: String,
    created_on: OffsetDateTime,
}

#[derive(Clone, Debug)]
struct Relation {
    id: i64,
    from: i64,
    to: i64,
    relation_type: String,
}

/// An update of an issue, as the HTTP layer and the staff helpers describe it.
#[derive(Clone, Debug, Default)]
struct Update {
    notes: Option<String>,
    private_notes: bool,
    status_id: Option<i64>,
    priority_id: Option<i64>,
    /// `Some(None)` unassigns.
    assigned_to_id: Option<Option<i64>>,
    subject: Option<String>,
    description: Option<String>,
    custom_values: Vec<(i64, String)>,
    /// `Some(None)` clears the due date.
    due_date: Option<Option<Date>>,
    start_date: Option<Date>,
    /// `(token, filename, content type)`.
    uploads: Vec<(String, Option<String>, Option<String>)>,
}

/// Everything the fake knows; one lock, never held across an await.
struct World {
    base_url: String,
    users: Vec<User>,
    projects: Vec<Project>,
    memberships: Vec<Membership>,
    roles: Vec<Role>,
    statuses: Vec<Status>,
    priorities: Vec<Priority>,
    trackers: Vec<(i64, &'static str)>,
    custom_fields: Vec<CustomField>,
    issues: BTreeMap<i64, Issue>,
    journals: Vec<Journal>,
    files: BTreeMap<i64, StoredFile>,
    relations: Vec<Relation>,
    next_issue: i64,
    next_journal: i64,
    next_file: i64,
    next_user: i64,
    next_relation: i64,
    next_membership: i64,
    last_stamp: OffsetDateTime,
    calls: Vec<RedmineCall>,
    outage: bool,
    fail_next: VecDeque<u16>,
    /// Issues whose answers carry odd entries (see [`FakeRedmine::add_oddities`]).
    oddities: BTreeSet<i64>,
}

const ADMIN_KEY: &str = "f4ce0d1e2a3b4c5d6e7f8091a2b3c4d5e6f70812";
const REPORTER: i64 = 5;
const MANAGER: i64 = 3;
/// Redmine's default "Maximum attachment size": 5120 KB.
const MAX_ATTACHMENT: usize = 5 * 1024 * 1024;

impl World {
    fn new(base_url: String) -> Self {
        let at = OffsetDateTime::now_utc();
        let user = |id: i64, login: &str, first: &str, last: &str, admin: bool| User {
            id,
            login: login.into(),
            firstname: first.into(),
            lastname: last.into(),
            mail: format!("{login}@example.test"),
            admin,
            api_key: if admin {
                ADMIN_KEY.into()
            } else {
                format!("{:040x}", id * 7919)
            },
            status: 1,
            created_on: at,
        };
        Self {
            base_url,
            users: vec![
                user(FakeRedmine::ADMIN_ID, "admin", "Redmine", "Admin", true),
                user(
                    FakeRedmine::REQUESTER_ID,
                    "alice",
                    "Alice",
                    "Customer",
                    false,
                ),
            ],
            projects: vec![Project {
                id: FakeRedmine::PROJECT_ID,
                name: "CI Support".into(),
                identifier: FakeRedmine::PROJECT_IDENTIFIER.into(),
                tracker_ids: vec![1, 2, 3],
                categories: vec![(FakeRedmine::CATEGORY_ID, "Принтеры".into())],
                created_on: at,
            }],
            memberships: vec![Membership {
                id: 1,
                project_id: FakeRedmine::PROJECT_ID,
                user_id: FakeRedmine::REQUESTER_ID,
                role_ids: vec![REPORTER],
            }],
            roles: vec![
                Role {
                    id: MANAGER,
                    name: "Manager",
                    staff: true,
                },
                Role {
                    id: 4,
                    name: "Developer",
                    staff: true,
                },
                Role {
                    id: REPORTER,
                    name: "Reporter",
                    staff: false,
                },
            ],
            statuses: vec![
                Status {
                    id: 1,
                    name: "New",
                    is_closed: false,
                },
                Status {
                    id: 2,
                    name: "In Progress",
                    is_closed: false,
                },
                Status {
                    id: 3,
                    name: "Resolved",
                    is_closed: false,
                },
                Status {
                    id: 4,
                    name: "Feedback",
                    is_closed: false,
                },
                Status {
                    id: 5,
                    name: "Closed",
                    is_closed: true,
                },
                Status {
                    id: 6,
                    name: "Rejected",
                    is_closed: true,
                },
            ],
            priorities: vec![
                Priority {
                    id: 1,
                    name: "Low",
                    is_default: false,
                },
                Priority {
                    id: 2,
                    name: "Normal",
                    is_default: true,
                },
                Priority {
                    id: 3,
                    name: "High",
                    is_default: false,
                },
                Priority {
                    id: 4,
                    name: "Urgent",
                    is_default: false,
                },
                Priority {
                    id: 5,
                    name: "Immediate",
                    is_default: false,
                },
            ],
            trackers: vec![(1, "Bug"), (2, "Feature"), (3, "Support")],
            custom_fields: Vec::new(),
            issues: BTreeMap::new(),
            journals: Vec::new(),
            files: BTreeMap::new(),
            relations: Vec::new(),
            next_issue: 1,
            next_journal: 1,
            next_file: 1,
            next_user: 6,
            next_relation: 1,
            next_membership: 2,
            last_stamp: OffsetDateTime::UNIX_EPOCH,
            calls: Vec::new(),
            outage: false,
            fail_next: VecDeque::new(),
            oddities: BTreeSet::new(),
        }
    }

    /// The next server time: now with microseconds, and always later than the last one (the
    /// database keeps microseconds; the API shows whole seconds).
    fn stamp(&mut self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        let now = now
            .replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
            .unwrap_or(now);
        let next = now.max(self.last_stamp + Duration::from_micros(1));
        self.last_stamp = next;
        next
    }

    fn user(&self, id: i64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    fn user_name(&self, id: i64) -> String {
        self.user(id).map(User::name).unwrap_or_default()
    }

    fn project(&self, id: i64) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }

    /// A project by id or identifier, as URLs and `project_id` name it.
    fn project_by_ref(&self, text: &str) -> Option<&Project> {
        match text.parse::<i64>() {
            Ok(id) => self.project(id),
            Err(_) => self.projects.iter().find(|p| p.identifier == text),
        }
    }

    fn status(&self, id: i64) -> Option<&Status> {
        self.statuses.iter().find(|s| s.id == id)
    }

    fn priority(&self, id: i64) -> Option<&Priority> {
        self.priorities.iter().find(|p| p.id == id)
    }

    fn tracker_name(&self, id: i64) -> &'static str {
        self.trackers
            .iter()
            .find(|(t, _)| *t == id)
            .map(|(_, name)| *name)
            .unwrap_or("")
    }

    fn roles_in(&self, user: i64, project: i64) -> Vec<&Role> {
        self.memberships
            .iter()
            .filter(|m| m.user_id == user && m.project_id == project)
            .flat_map(|m| m.role_ids.iter())
            .filter_map(|r| self.roles.iter().find(|role| role.id == *r))
            .collect()
    }

    fn is_admin(&self, user: i64) -> bool {
        self.user(user).is_some_and(|u| u.admin)
    }

    fn can_see_project(&self, user: i64, project: i64) -> bool {
        self.is_admin(user) || !self.roles_in(user, project).is_empty()
    }

    /// Staff rights in a project (status, priority, assignment, private notes).
    fn is_staff(&self, user: i64, project: i64) -> bool {
        self.is_admin(user) || self.roles_in(user, project).iter().any(|r| r.staff)
    }

    fn is_assignable(&self, user: i64, project: i64) -> bool {
        self.roles_in(user, project).iter().any(|r| r.staff)
    }

    fn can_see_journal(&self, viewer: i64, journal: &Journal, project: i64) -> bool {
        !journal.private_notes || journal.user_id == viewer || self.is_staff(viewer, project)
    }

    /// Creates a user by display name if none has it, with the Manager role in the project.
    fn staff_named(&mut self, name: &str) -> i64 {
        if let Some(user) = self.users.iter().find(|u| u.name() == name) {
            return user.id;
        }
        let (first, last) = name.split_once(' ').unwrap_or((name, ""));
        let id = self.next_user;
        let login = format!("staff{id}");
        self.add_user(&login, first, last, Some(MANAGER));
        id
    }

    fn add_user(&mut self, login: &str, first: &str, last: &str, role: Option<i64>) -> i64 {
        let id = self.next_user;
        self.next_user += 1;
        let created_on = self.stamp();
        self.users.push(User {
            id,
            login: login.to_owned(),
            firstname: first.to_owned(),
            lastname: last.to_owned(),
            mail: format!("{login}@example.test"),
            admin: false,
            api_key: format!("{:040x}", id * 7919),
            status: 1,
            created_on,
        });
        if let Some(role) = role {
            let membership = self.next_membership;
            self.next_membership += 1;
            self.memberships.push(Membership {
                id: membership,
                project_id: FakeRedmine::PROJECT_ID,
                user_id: id,
                role_ids: vec![role],
            });
        }
        id
    }

    fn upload(&mut self, author: i64, filename: &str, bytes: Vec<u8>) -> (i64, String) {
        let id = self.next_file;
        self.next_file += 1;
        let token = format!("{id}.{}", token_digest(id, &bytes));
        let created_on = self.stamp();
        self.files.insert(
            id,
            StoredFile {
                id,
                issue_id: None,
                filename: filename.to_owned(),
                content_type: "application/octet-stream".into(),
                bytes,
                author_id: author,
                token: token.clone(),
                created_on,
            },
        );
        (id, token)
    }

    /// Applies an update as Redmine does: one journal for what changed, silently dropping what
    /// the actor may not change. Returns the validation errors Redmine would answer 422 with.
    /// Redmine's own check of a custom value against its field's format (lib/redmine/
    /// field_format.rb, `validate_single_value`), with its English messages: an integer
    /// (`/^[+-]?\d+$/`), a float, a date `YYYY-MM-DD`, a boolean `0`/`1`; an empty value is
    /// always allowed.
    pub(crate) fn custom_value_errors(&self, values: &[(i64, String)]) -> Vec<String> {
        let mut errors = Vec::new();
        for (id, value) in values {
            let Some(field) = self.custom_fields.iter().find(|f| f.id == *id) else {
                continue;
            };
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let problem = match field.field_format.as_str() {
                "int" => {
                    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
                    (digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()))
                        .then_some("is not a number")
                }
                "float" => value.parse::<f64>().is_err().then_some("is invalid"),
                "date" => {
                    let format = time::macros::format_description!("[year]-[month]-[day]");
                    (value.len() != 10 || time::Date::parse(value, &format).is_err())
                        .then_some("is not a valid date")
                }
                "bool" => (!matches!(value, "0" | "1")).then_some("is not included in the list"),
                _ => None,
            };
            if let Some(problem) = problem {
                errors.push(format!("{} {problem}", field.name));
            }
        }
        errors
    }

    fn apply(&mut self, actor: i64, issue_id: i64, update: Update) -> Result<(), Vec<String>> {
        let issue = self.issues.get(&issue_id).cloned().expect("issue exists");
        let staff = self.is_staff(actor, issue.project_id);
        let mut changed = issue.clone();
        let mut details = Vec::new();
        let mut errors = self.custom_value_errors(&update.custom_values);
        let attr = |name: &str, old: Option<String>, new: Option<String>| Detail {
            property: "attr".into(),
            name: name.into(),
            old_value: old,
            new_value: new,
        };
        if let Some(status) = update.status_id
            && staff
            && status != issue.status_id
            && self.status(status).is_some()
        {
            details.push(attr(
                "status_id",
                Some(issue.status_id.to_string()),
                Some(status.to_string()),
            ));
            changed.status_id = status;
        }
        if let Some(priority) = update.priority_id
            && staff
            && priority != issue.priority_id
        {
            if self.priority(priority).is_some() {
                details.push(attr(
                    "priority_id",
                    Some(issue.priority_id.to_string()),
                    Some(priority.to_string()),
                ));
                changed.priority_id = priority;
            } else {
                errors.push("Priority cannot be blank".to_owned());
            }
        }
        if let Some(assignee) = update.assigned_to_id
            && staff
            && assignee != issue.assigned_to_id
        {
            if assignee.is_none_or(|a| self.is_assignable(a, issue.project_id)) {
                details.push(attr(
                    "assigned_to_id",
                    issue.assigned_to_id.map(|a| a.to_string()),
                    assignee.map(|a| a.to_string()),
                ));
                changed.assigned_to_id = assignee;
            } else {
                errors.push("Assignee is invalid".to_owned());
            }
        }
        if let Some(subject) = update.subject
            && staff
            && subject != issue.subject
        {
            if subject.trim().is_empty() {
                errors.push("Subject cannot be blank".to_owned());
            } else {
                details.push(attr(
                    "subject",
                    Some(issue.subject.clone()),
                    Some(subject.clone()),
                ));
                changed.subject = subject;
            }
        }
        if let Some(description) = update.description
            && staff
        {
            let description = crlf(&description);
            if Some(&description) != issue.description.as_ref() {
                details.push(attr(
                    "description",
                    issue.description.clone(),
                    Some(description.clone()),
                ));
                changed.description = Some(description);
            }
        }
        if let Some(due) = update.due_date
            && due != issue.due_date
        {
            let text = |d: Option<Date>| d.map(|d| d.to_string());
            details.push(attr("due_date", text(issue.due_date), text(due)));
            changed.due_date = due;
        }
        if let Some(start) = update.start_date
            && start != issue.start_date
        {
            details.push(attr(
                "start_date",
                Some(issue.start_date.to_string()),
                Some(start.to_string()),
            ));
            changed.start_date = start;
        }
        if changed.due_date.is_some_and(|due| due < changed.start_date) {
            errors.push("Due date must be greater than start date".to_owned());
        }
        for (field, value) in update.custom_values {
            if self.custom_fields.iter().any(|f| f.id == field) {
                let old = issue.custom_values.get(&field).cloned();
                if old.as_deref() != Some(value.as_str()) {
                    details.push(Detail {
                        property: "cf".into(),
                        name: field.to_string(),
                        old_value: old,
                        new_value: Some(value.clone()),
                    });
                    changed.custom_values.insert(field, value);
                }
            }
        }
        let unknown = self.unknown_uploads(actor, &update.uploads);
        if unknown > 0 {
            errors.push(format!("{unknown} file(s) could not be saved."));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let attached = self.attach(actor, issue_id, &update.uploads);
        for (id, name) in attached {
            details.push(Detail {
                property: "attachment".into(),
                name: id.to_string(),
                old_value: None,
                new_value: Some(name),
            });
        }
        let notes = update.notes.filter(|n| !n.trim().is_empty());
        if details.is_empty() && notes.is_none() {
            return Ok(());
        }
        let at = self.stamp();
        let private = update.private_notes && staff && notes.is_some();
        if private && !details.is_empty() {
            // Redmine's Journal#split_private_notes: no half-private journals.
            self.push_journal(issue_id, actor, None, false, at, details);
            self.push_journal(issue_id, actor, notes, true, at, Vec::new());
        } else {
            let notes = Some(notes.unwrap_or_default());
            self.push_journal(issue_id, actor, notes, private, at, details);
        }
        let was_closed = self.status(issue.status_id).is_some_and(|s| s.is_closed);
        let is_closed = self.status(changed.status_id).is_some_and(|s| s.is_closed);
        if is_closed && !was_closed {
            changed.closed_on = Some(at);
        }
        changed.updated_on = at;
        self.issues.insert(issue_id, changed);
        Ok(())
    }

    fn push_journal(
        &mut self,
        issue_id: i64,
        user_id: i64,
        notes: Option<String>,
        private_notes: bool,
        created_on: OffsetDateTime,
        details: Vec<Detail>,
    ) -> i64 {
        let id = self.next_journal;
        self.next_journal += 1;
        self.journals.push(Journal {
            id,
            issue_id,
            user_id,
            notes,
            private_notes,
            created_on,
            details,
        });
        id
    }

    /// How many of `uploads` name no file this actor uploaded and has not attached yet; Redmine
    /// refuses the whole write then ("1 file(s) could not be saved.").
    fn unknown_uploads(
        &self,
        actor: i64,
        uploads: &[(String, Option<String>, Option<String>)],
    ) -> usize {
        uploads
            .iter()
            .filter(|(token, _, _)| {
                !self
                    .files
                    .values()
                    .any(|f| &f.token == token && f.issue_id.is_none() && f.author_id == actor)
            })
            .count()
    }

    /// Attaches uploads by token; returns `(attachment id, file name)` of each attached file.
    fn attach(
        &mut self,
        actor: i64,
        issue_id: i64,
        uploads: &[(String, Option<String>, Option<String>)],
    ) -> Vec<(i64, String)> {
        let mut attached = Vec::new();
        for (token, filename, content_type) in uploads {
            let Some(file) = self
                .files
                .values_mut()
                .find(|f| &f.token == token && f.issue_id.is_none() && f.author_id == actor)
            else {
                continue;
            };
            file.issue_id = Some(issue_id);
            if let Some(name) = filename.as_ref().filter(|n| !n.trim().is_empty()) {
                file.filename = name.clone();
            }
            if let Some(kind) = content_type.as_ref().filter(|t| !t.trim().is_empty()) {
                file.content_type = kind.clone();
            }
            attached.push((file.id, file.filename.clone()));
        }
        attached
    }

    fn fake_issue(&self, issue: &Issue) -> FakeIssue {
        FakeIssue {
            id: issue.id,
            project_id: issue.project_id,
            tracker_id: issue.tracker_id,
            status_id: issue.status_id,
            priority_id: issue.priority_id,
            author_id: issue.author_id,
            assigned_to_id: issue.assigned_to_id,
            category_id: issue.category_id,
            subject: issue.subject.clone(),
            description: issue.description.clone().unwrap_or_default(),
            custom_values: issue.custom_values.clone(),
            updated_on: format_time(issue.updated_on),
        }
    }

    fn expect_issue(&self, id: i64) -> &Issue {
        self.issues
            .get(&id)
            .unwrap_or_else(|| panic!("FakeRedmine has no issue {id}"))
    }
}

/// Redmine's `Issue#description=` stores line breaks as `\r\n`.
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}

fn token_digest(id: i64, bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(id.to_be_bytes());
    hasher.update(bytes);
    hex::encode(hasher.finalize())
}

/// Redmine's API time format: UTC, whole seconds, `Z`.
fn format_time(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.format(&format).expect("a UTC time formats")
}

/// A running fake Redmine; cheap to clone, every clone is the same server.
#[derive(Clone)]
pub struct FakeRedmine {
    inner: Arc<FakeState<World>>,
}

impl std::fmt::Debug for FakeRedmine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeRedmine")
            .field("addr", &self.inner.addr())
            .finish_non_exhaustive()
    }
}

impl FakeRedmine {
    /// The project (`ci-support`).
    pub const PROJECT_ID: i64 = 1;
    /// The project's identifier.
    pub const PROJECT_IDENTIFIER: &'static str = "ci-support";
    /// The project's only category ("Принтеры"); a fake-only convenience.
    pub const CATEGORY_ID: i64 = 1;
    /// The administrator whose key tests get: the integration user.
    pub const ADMIN_ID: i64 = 1;
    /// `alice`, a Reporter in the project.
    pub const REQUESTER_ID: i64 = 5;
    /// Tracker "Support".
    pub const TRACKER_SUPPORT: i64 = 3;
    /// Status "New".
    pub const STATUS_NEW: i64 = 1;
    /// Status "In Progress".
    pub const STATUS_IN_PROGRESS: i64 = 2;
    /// Status "Resolved" (not closed in Redmine's terms).
    pub const STATUS_RESOLVED: i64 = 3;
    /// Status "Feedback".
    pub const STATUS_FEEDBACK: i64 = 4;
    /// Status "Closed".
    pub const STATUS_CLOSED: i64 = 5;
    /// Status "Rejected" (closed).
    pub const STATUS_REJECTED: i64 = 6;
    /// Priority "Normal", the default.
    pub const PRIORITY_NORMAL: i64 = 2;
    /// Priority "High".
    pub const PRIORITY_HIGH: i64 = 3;
    /// Priority "Immediate", the highest.
    pub const PRIORITY_IMMEDIATE: i64 = 5;

    /// Starts the server on `127.0.0.1:0` in the current Tokio runtime; it runs until the runtime
    /// shuts down.
    pub async fn start() -> FakeRedmine {
        let fake_at = |addr| FakeRedmine {
            inner: Arc::new(FakeState::new(World::new(format!("http://{addr}")), addr)),
        };
        serve_on_loopback("FakeRedmine", fake_at, server::router).await
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.inner.world()
    }

    /// Runs `change` on the world and wakes waiters.
    fn change<T>(&self, change: impl FnOnce(&mut World) -> T) -> T {
        self.inner.change(change)
    }

    /// The Redmine root (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr())
    }

    /// The administrator's API key (the integration user's); anything else gets 401.
    pub fn admin_key(&self) -> String {
        ADMIN_KEY.to_owned()
    }

    /// The API key of a user by login, e.g. `alice`.
    pub fn api_key_of(&self, login: &str) -> Option<String> {
        self.world()
            .users
            .iter()
            .find(|u| u.login == login)
            .map(|u| u.api_key.clone())
    }

    /// Adds an issue custom field for every project and tracker (Redmine's API cannot); returns
    /// its id. `field_format` is `string`, `text`...; `is_filter` makes `cf_<id>` filter by it.
    pub fn add_custom_field(&self, name: &str, field_format: &str, is_filter: bool) -> i64 {
        self.change(|w| {
            let id = w.custom_fields.len() as i64 + 1;
            w.custom_fields.push(CustomField {
                id,
                name: name.to_owned(),
                field_format: field_format.to_owned(),
                is_filter,
            });
            id
        })
    }

    /// Adds a user with `role_id` (3 Manager, 4 Developer, 5 Reporter) in the project; returns
    /// the id. The user's name is "`first` `last`".
    pub fn add_user(&self, login: &str, first: &str, last: &str, role_id: Option<i64>) -> i64 {
        self.change(|w| w.add_user(login, first, last, role_id))
    }

    /// Creates an issue in the project as `author_id` (not through the API: no description, no
    /// marker), like staff filing one in the web UI; returns its id.
    pub fn create_issue(&self, author_id: i64, subject: &str) -> i64 {
        self.change(|w| {
            let at = w.stamp();
            let id = w.next_issue;
            w.next_issue += 1;
            w.issues.insert(
                id,
                Issue {
                    id,
                    project_id: Self::PROJECT_ID,
                    tracker_id: 1,
                    status_id: Self::STATUS_NEW,
                    priority_id: Self::PRIORITY_NORMAL,
                    author_id,
                    assigned_to_id: None,
                    category_id: None,
                    subject: subject.to_owned(),
                    description: None,
                    custom_values: BTreeMap::new(),
                    start_date: at.date(),
                    due_date: None,
                    created_on: at,
                    updated_on: at,
                    closed_on: None,
                },
            );
            id
        })
    }

    /// A staff member (created on demand by display name, Manager) posts a public note; returns
    /// the journal id.
    pub fn staff_reply(&self, issue_id: i64, staff_name: &str, text: &str) -> i64 {
        self.staff_update(
            issue_id,
            staff_name,
            Update {
                notes: Some(text.to_owned()),
                ..Default::default()
            },
        )
    }

    /// A staff member posts a public note with a file attached to it; returns the journal id.
    pub fn staff_reply_with_file(
        &self,
        issue_id: i64,
        staff_name: &str,
        text: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> i64 {
        self.change(|w| {
            let author = w.staff_named(staff_name);
            let (_, token) = w.upload(author, file_name, bytes);
            let update = Update {
                notes: Some(text.to_owned()),
                uploads: vec![(token, Some(file_name.to_owned()), None)],
                ..Default::default()
            };
            w.expect_issue(issue_id);
            w.apply(author, issue_id, update)
                .unwrap_or_else(|e| panic!("FakeRedmine::staff_reply_with_file: {e:?}"));
            w.next_journal - 1
        })
    }

    /// A staff member writes a private note; returns the journal id.
    pub fn internal_note(&self, issue_id: i64, staff_name: &str, text: &str) -> i64 {
        self.staff_update(
            issue_id,
            staff_name,
            Update {
                notes: Some(text.to_owned()),
                private_notes: true,
                ..Default::default()
            },
        )
    }

    /// Staff move the issue to a status (by id).
    pub fn set_status(&self, issue_id: i64, status_id: i64) {
        self.staff_update(
            issue_id,
            "Мария Петрова",
            Update {
                status_id: Some(status_id),
                ..Default::default()
            },
        );
    }

    /// Staff assign the issue to a staff member (created on demand by display name).
    pub fn assign(&self, issue_id: i64, staff_name: &str) {
        self.change(|w| {
            let user = w.staff_named(staff_name);
            w.expect_issue(issue_id);
            w.apply(
                user,
                issue_id,
                Update {
                    assigned_to_id: Some(Some(user)),
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| panic!("FakeRedmine::assign: {e:?}"));
        });
    }

    /// Staff resolve the issue with a note (status Resolved).
    pub fn resolve(&self, issue_id: i64, staff_name: &str, text: &str) {
        self.staff_update(
            issue_id,
            staff_name,
            Update {
                notes: Some(text.to_owned()),
                status_id: Some(Self::STATUS_RESOLVED),
                ..Default::default()
            },
        );
    }

    /// Staff set an issue's due date.
    pub fn set_due_date(&self, issue_id: i64, due: Option<Date>) {
        self.staff_update(
            issue_id,
            "Мария Петрова",
            Update {
                due_date: Some(due),
                ..Default::default()
            },
        );
    }

    /// Staff set a custom field value.
    pub fn set_custom_value(&self, issue_id: i64, field_id: i64, value: &str) {
        self.staff_update(
            issue_id,
            "Мария Петрова",
            Update {
                custom_values: vec![(field_id, value.to_owned())],
                ..Default::default()
            },
        );
    }

    fn staff_update(&self, issue_id: i64, staff_name: &str, update: Update) -> i64 {
        self.change(|w| {
            let author = w.staff_named(staff_name);
            w.expect_issue(issue_id);
            w.apply(author, issue_id, update)
                .unwrap_or_else(|e| panic!("FakeRedmine staff update: {e:?}"));
            w.next_journal - 1
        })
    }

    /// Every issue, by id.
    pub fn issues(&self) -> Vec<FakeIssue> {
        let w = self.world();
        w.issues.values().map(|i| w.fake_issue(i)).collect()
    }

    /// One issue.
    pub fn issue(&self, id: i64) -> Option<FakeIssue> {
        let w = self.world();
        w.issues.get(&id).map(|i| w.fake_issue(i))
    }

    /// From now on `GET /issues/{id}.json` carries what Redmine and its plugins may send beside
    /// the usual: a multi-value custom field, a custom field valued with an object and one whose
    /// id is text, a system journal with relation and custom field details (numbers, `null`)
    /// and one whose id is text, a file with its size as text and no address and one without
    /// id, plugin keys. Every text in them contains [`crate::conformance::ODDITY`]. Bumps
    /// `updated_on`.
    pub fn add_oddities(&self, issue: i64) {
        self.change(|w| {
            w.oddities.insert(issue);
            let at = w.stamp();
            if let Some(stored) = w.issues.get_mut(&issue) {
                stored.updated_on = at;
            }
        });
    }

    /// An issue's journals, oldest first (private ones included).
    pub fn journals(&self, issue_id: i64) -> Vec<FakeJournal> {
        self.world()
            .journals
            .iter()
            .filter(|j| j.issue_id == issue_id)
            .map(|j| FakeJournal {
                id: j.id,
                user_id: j.user_id,
                notes: j.notes.clone(),
                private_notes: j.private_notes,
                details: j
                    .details
                    .iter()
                    .map(|d| {
                        (
                            d.property.clone(),
                            d.name.clone(),
                            d.old_value.clone(),
                            d.new_value.clone(),
                        )
                    })
                    .collect(),
                created_on: format_time(j.created_on),
            })
            .collect()
    }

    /// An issue's attachments, oldest first.
    pub fn attachments(&self, issue_id: i64) -> Vec<FakeAttachment> {
        self.world()
            .files
            .values()
            .filter(|f| f.issue_id == Some(issue_id))
            .map(|f| FakeAttachment {
                id: f.id,
                filename: f.filename.clone(),
                content_type: f.content_type.clone(),
                bytes: f.bytes.clone(),
                author_id: f.author_id,
            })
            .collect()
    }

    /// The issues related to `issue_id`, with the relation type as stored.
    pub fn relations(&self, issue_id: i64) -> Vec<(i64, String)> {
        self.world()
            .relations
            .iter()
            .filter_map(|r| {
                if r.from == issue_id {
                    Some((r.to, r.relation_type.clone()))
                } else if r.to == issue_id {
                    Some((r.from, r.relation_type.clone()))
                } else {
                    None
                }
            })
            .collect()
    }

    /// Every request received so far, in the order they were answered.
    pub fn calls(&self) -> Vec<RedmineCall> {
        self.world().calls.clone()
    }

    /// While on, every request gets 503 with an HTML body, as a proxy in front of Redmine sends.
    pub fn set_outage(&self, on: bool) {
        self.change(|w| w.outage = on);
    }

    /// The next `times` authenticated requests fail with `status` (empty body; 429 with
    /// `Retry-After: 1`).
    pub fn fail_next(&self, times: usize, status: u16) {
        self.change(|w| w.fail_next.extend(std::iter::repeat_n(status, times)));
    }

    /// Waits until `check` returns `Some`, re-checking after every change; panics after
    /// `timeout` naming `what`.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&FakeRedmine) -> Option<T>,
    ) -> T {
        self.inner.wait_until(timeout, what, || check(self)).await
    }
}
