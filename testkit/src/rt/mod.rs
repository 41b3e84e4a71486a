//! Fake Request Tracker 5 REST2 server (see crate docs).
//!
//! [`FakeRt`] serves RT 5's REST 2.0 API under `/REST/2.0` on loopback, in the wire format recorded
//! from a live RT 5.0.3 (`fixtures/rt/*.json`), so the real adapter and [`RtBackstage`] talk to it
//! unchanged. Tests act as support staff through the Rust helpers ([`FakeRt::staff_reply`],
//! [`FakeRt::set_status`], [`FakeRt::assign`], [`FakeRt::resolve`]...) or, like the conformance
//! suite, through REST2 with [`FakeRt::staff_token`]; they observe what teledesk did with
//! [`FakeRt::tickets`], [`FakeRt::transactions`], [`FakeRt::attachments`] and [`FakeRt::calls`].
//!
//! The world: queues 1 "General" and 3 "Support" (default lifecycle), ticket custom fields 1
//! "Telegram key" and 2 "Resolution" applied to both; users 1 `RT_System`, 6 `Nobody`, 14 `root`
//! ("Enoch Root"), 22 `teledesk` ("teledesk bot", the integration user, token
//! [`FakeRt::token`]) and 23 `maria` ("Мария Иванова", staff, token [`FakeRt::staff_token`]).
//! Staff named in helpers are created on demand (ids from 100); requestor addresses become users
//! named by the address, as RT does.
//!
//! Behaviour checked on live RT 5.0.3 (`../shared/helpdesks/rt5-up.sh`) and modelled here:
//! - auth: `Authorization: token <t>` of a known user, else 401 `{"message":"Unauthorized"}`;
//! - times: whole seconds, sent as `2026-11-21T13:43:35Z`; unset dates are
//!   `1970-01-01T00:00:00Z`; several transactions share a second;
//! - types: a single record's `id` is a number, collection ids and most numbers (`Priority`,
//!   `ContentLength`, `ObjectId`, `TransactionId`) are strings; an empty collection has
//!   `"pages": 0.0`; paging by `page`/`per_page` (default 20, at most 100) with `next_page` /
//!   `prev_page` links; `orderby` (one field) and `order=DESC`;
//! - user references name the login (`{"type":"user","id":"root",…}`), expanded with
//!   `fields[Creator]=Name,RealName,EmailAddress`;
//! - `POST /ticket` (JSON, or multipart with a `JSON` part and `Attachments` parts): 201
//!   `{"id":"7","type":"ticket","_url":…}` with `Location`; an unknown queue is 403 "No permission
//!   to create tickets in the queue '…'"; unknown custom fields are silently ignored; a `Priority`
//!   label is stored verbatim (RT's create does not translate it, `PUT` does); `RefersTo` and the
//!   other link types link tickets; no requestor unless `Requestor` is given;
//! - correspond/comment: 201 `["Correspondence added"]` / `["Comments added"]` with `Location:
//!   /REST/2.0/transaction/<id>`; `Status` in the body is applied afterwards; a JSON attachment
//!   whose `FileName` is not ASCII is a 500 that records nothing; a missing ticket is 400
//!   "Message could not be recorded"; `text/*` files that are not UTF-8 are re-encoded (bytes
//!   change); any correspondence opens a `new`, `resolved`, `rejected` or `deleted` ticket (RT's
//!   "On Correspond Open Inactive Tickets" scrip, a `Status` transaction by `RT_System`);
//! - `PUT /ticket/{id}` answers 200 with messages even for refused changes ("Status 'x' isn't a
//!   valid status for this ticket.", "That user does not exist"), `[]` when nothing changed, 404
//!   "Resource does not exist; use POST to create" for a missing ticket; `DELETE` sets `deleted`
//!   (204);
//! - `GET /ticket/{id}` of a missing ticket is 404 `{"message":"Not Found"}`, but its history and
//!   attachments are empty collections; `GET /attachment/{id}` of a missing attachment is 500;
//! - [`FakeRt::add_oddities`] makes a ticket's answers carry custom field values that are objects,
//!   transactions of other types with `null` values, and entries of unseen shapes;
//! - `GET /attachment/{id}` sends `Content` as base64 in 76-column lines and leaves out an empty
//!   `Filename`; in collections `Content` is the decoded text (binary parts come out as Latin-1
//!   characters), and `fields=Parent` on a top-level part kills the request (500, empty body in
//!   RT, `{"message":…}` here);
//! - JSON searches (`/transactions`, `/attachments`, `/ticket/{id}/attachments`): conditions on
//!   the same field are OR-ed, on different fields AND-ed; `LIKE` matches a substring,
//!   case-insensitively; dates compare as the database's UTC text (`YYYY-MM-DD HH:MM:SS`), unknown
//!   fields are ignored, a body that is not an array is 400 "JSON object must be a ARRAY";
//! - TicketSQL (`GET /tickets?query=`) reads dates in the API user's time zone and ignores a zone
//!   written in the value (live: with the user at America/New_York, `LastUpdated >= '<UTC time>'`
//!   missed five hours of changes), which is why the adapter polls with a JSON search instead.
//!   The fake implements only the TicketSQL the adapter sends (`id`, `Queue`, `Subject`, `Status`
//!   and `'CF.{name}'` compared with `=` or `!=`, joined by `AND`; deleted tickets excluded) and
//!   answers anything else with 400 "Wrong query…".
//!
//! Requests are checked in this order: outage (503 HTML from a "proxy"), token (401), failures
//! injected with [`FakeRt::fail_next`] / [`FakeRt::fail_next_method`].
//!
//! Not modelled [U]: rights (every known token may do everything; RT checks `ShowTicket`,
//! `ReplyToTicket`, `CommentOnTicket`...); e-mail (RT's `EmailRecord` transactions and the
//! autoreply on create); custom lifecycles and `%PriorityAsString` other than RT 5's default;
//! Basic auth; `ETag`/`If-Match`; RT 5's web UI writes replies as `text/html` only — the fake has
//! them only when a test writes them ([`FakeRt::staff_reply_html`]), in the shape REST2-posted HTML
//! had live, not CKEditor's real output.

mod backstage;
mod oddities;
mod server;

pub use backstage::RtBackstage;

use crate::serve::{FakeState, serve_on_loopback};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;
use time::OffsetDateTime;
use time::macros::format_description;

/// A ticket as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeTicket {
    /// Ticket number.
    pub id: i64,
    /// Subject.
    pub subject: String,
    /// Status.
    pub status: String,
    /// Queue name.
    pub queue: String,
    /// Owner's login (`Nobody` when unowned).
    pub owner: String,
    /// Requestors' logins.
    pub requestors: Vec<String>,
    /// Priority as stored (a number, or a label the create call stored verbatim).
    pub priority: String,
    /// Custom field name → values.
    pub custom_fields: BTreeMap<String, Vec<String>>,
    /// Tickets this one refers to.
    pub refers_to: Vec<i64>,
    /// Last update, as the API shows it.
    pub last_updated: String,
}

/// A transaction as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeTransaction {
    /// Transaction id.
    pub id: i64,
    /// The ticket.
    pub ticket: i64,
    /// `Create`, `Correspond`, `Comment`, `Status`, `Set`, `CustomField`, `AddLink`.
    pub kind: String,
    /// Creator's login.
    pub creator: String,
    /// The text body of its message, if it has one.
    pub content: Option<String>,
    /// Changed field, old and new value (status and field changes).
    pub field: String,
    /// Old value.
    pub old_value: String,
    /// New value.
    pub new_value: String,
    /// Time, as the API shows it.
    pub created: String,
}

/// A message part as a test sees it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeAttachment {
    /// Attachment id.
    pub id: i64,
    /// The transaction.
    pub transaction: i64,
    /// File name; empty for message bodies.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Content as stored.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for FakeAttachment {
    // Bytes would flood assertion messages; their length is what helps.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAttachment")
            .field("id", &self.id)
            .field("transaction", &self.transaction)
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// One request the fake received.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RtCall {
    /// HTTP method (`GET`).
    pub method: String,
    /// Full path (`/REST/2.0/ticket/7`).
    pub path: String,
    /// Raw query string, empty when none.
    pub query: String,
    /// The JSON body (for multipart: the `JSON` part), when there was one.
    pub body: Option<serde_json::Value>,
    /// The login the token belongs to, when it was valid.
    pub user: Option<String>,
    /// The status the fake answered.
    pub status: u16,
}

#[derive(Clone, Debug)]
struct User {
    id: i64,
    name: String,
    real_name: String,
    email: String,
    token: Option<String>,
}

#[derive(Clone, Debug)]
struct Queue {
    id: i64,
    name: String,
}

#[derive(Clone, Debug)]
struct CustomField {
    id: i64,
    name: String,
}

#[derive(Clone, Debug)]
struct Ticket {
    id: i64,
    subject: String,
    status: String,
    queue: i64,
    owner: i64,
    requestors: Vec<i64>,
    /// As stored: RT's column is numeric, but a create with a label stores the label.
    priority: String,
    custom_fields: BTreeMap<i64, Vec<String>>,
    /// `(type, target ticket)`: `RefersTo`, `DependsOn`, `MemberOf`...
    links: Vec<(String, i64)>,
    creator: i64,
    created: OffsetDateTime,
    last_updated: OffsetDateTime,
    last_updated_by: i64,
    resolved: Option<OffsetDateTime>,
    /// `Due`; RT shows an unset date as the epoch.
    due: Option<OffsetDateTime>,
}

#[derive(Clone, Debug)]
struct Transaction {
    id: i64,
    ticket: i64,
    kind: String,
    field: String,
    old_value: String,
    new_value: String,
    data: String,
    creator: i64,
    created: OffsetDateTime,
}

#[derive(Clone, Debug)]
struct Part {
    id: i64,
    transaction: i64,
    parent: i64,
    content_type: String,
    filename: String,
    bytes: Vec<u8>,
    created: OffsetDateTime,
    creator: i64,
}

/// A file arriving in a message.
#[derive(Clone, Debug)]
struct NewFile {
    name: String,
    content_type: String,
    bytes: Vec<u8>,
}

/// Everything the fake knows; one lock, never held across an await.
struct World {
    base_url: String,
    users: Vec<User>,
    queues: Vec<Queue>,
    custom_fields: Vec<CustomField>,
    tickets: BTreeMap<i64, Ticket>,
    transactions: BTreeMap<i64, Transaction>,
    parts: BTreeMap<i64, Part>,
    next_ticket: i64,
    next_transaction: i64,
    next_part: i64,
    next_user: i64,
    last_stamp: OffsetDateTime,
    calls: Vec<RtCall>,
    outage: bool,
    /// Injected failures: `(method or any, status)`, used up in order.
    fail_next: crate::faults::InjectedFailures,
    /// Tickets whose answers carry odd entries (see [`FakeRt::add_oddities`]).
    oddities: BTreeSet<i64>,
}

const RT_SYSTEM: i64 = 1;
const NOBODY: i64 = 6;
const INTEGRATION_USER: i64 = 22;
const STAFF_USER: i64 = 23;
const TOKEN: &str = "1-22-7f3a9c0d5e2b4a6f8091a2b3c4d5e6f7";
const STAFF_TOKEN: &str = "1-23-0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// RT 5's default lifecycle.
const STATUSES: [&str; 6] = ["new", "open", "stalled", "resolved", "rejected", "deleted"];
/// Statuses the auto-open scrip moves to `open` on correspondence (initial and inactive).
const AUTO_OPEN: [&str; 4] = ["new", "resolved", "rejected", "deleted"];
/// RT 5's default `%PriorityAsString`.
const PRIORITY_LABELS: [(&str, i64); 3] = [("Low", 0), ("Medium", 50), ("High", 100)];

impl World {
    fn new(base_url: String) -> Self {
        let user = |id, name: &str, real_name: &str, email: &str, token: Option<&str>| User {
            id,
            name: name.into(),
            real_name: real_name.into(),
            email: email.into(),
            token: token.map(Into::into),
        };
        Self {
            base_url,
            users: vec![
                user(RT_SYSTEM, "RT_System", "The RT System itself", "", None),
                user(NOBODY, "Nobody", "Nobody in particular", "", None),
                user(14, "root", "Enoch Root", "root@localhost", None),
                user(
                    INTEGRATION_USER,
                    "teledesk",
                    "teledesk bot",
                    "teledesk@helpdesk.test",
                    Some(TOKEN),
                ),
                user(
                    STAFF_USER,
                    "maria",
                    "Мария Иванова",
                    "maria@helpdesk.test",
                    Some(STAFF_TOKEN),
                ),
            ],
            queues: vec![
                Queue {
                    id: FakeRt::QUEUE_GENERAL,
                    name: "General".into(),
                },
                Queue {
                    id: FakeRt::QUEUE_SUPPORT,
                    name: "Support".into(),
                },
            ],
            custom_fields: vec![
                CustomField {
                    id: 1,
                    name: FakeRt::CF_KEY.into(),
                },
                CustomField {
                    id: 2,
                    name: FakeRt::CF_RESOLUTION.into(),
                },
                CustomField {
                    id: 3,
                    name: FakeRt::CF_CHAT.into(),
                },
                CustomField {
                    id: 4,
                    name: FakeRt::CF_ANNOUNCEMENT.into(),
                },
                CustomField {
                    id: 5,
                    name: FakeRt::CF_REGISTERED.into(),
                },
            ],
            tickets: BTreeMap::new(),
            transactions: BTreeMap::new(),
            parts: BTreeMap::new(),
            next_ticket: 1,
            next_transaction: 30,
            next_part: 1,
            next_user: 100,
            last_stamp: OffsetDateTime::UNIX_EPOCH,
            calls: Vec::new(),
            outage: false,
            fail_next: Default::default(),
            oddities: BTreeSet::new(),
        }
    }

    /// The server time: now in whole seconds, never earlier than the last one (RT's clock has
    /// second granularity, so several writes share a second).
    fn stamp(&mut self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let next = now.max(self.last_stamp);
        self.last_stamp = next;
        next
    }

    fn user(&self, id: i64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// A user by number, login or e-mail (case-insensitive, like RT).
    fn find_user(&self, key: &str) -> Option<&User> {
        let key = key.trim();
        if let Ok(id) = key.parse::<i64>() {
            return self.user(id);
        }
        self.users.iter().find(|u| {
            u.name.eq_ignore_ascii_case(key)
                || (!u.email.is_empty() && u.email.eq_ignore_ascii_case(key))
        })
    }

    fn login(&self, id: i64) -> String {
        self.user(id).map(|u| u.name.clone()).unwrap_or_default()
    }

    /// A user by login or address, created as RT creates requestors it does not know.
    fn user_for(&mut self, key: &str, real_name: &str) -> i64 {
        if let Some(user) = self.find_user(key) {
            return user.id;
        }
        let id = self.next_user;
        self.next_user += 1;
        let email = if key.contains('@') { key } else { "" };
        self.users.push(User {
            id,
            name: key.to_owned(),
            real_name: real_name.to_owned(),
            email: email.to_owned(),
            token: None,
        });
        id
    }

    /// A staff member by display name, created on demand.
    fn staff_named(&mut self, real_name: &str) -> i64 {
        if let Some(user) = self.users.iter().find(|u| u.real_name == real_name) {
            return user.id;
        }
        let id = self.next_user;
        let login = format!("staff{id}");
        self.user_for(&login, real_name)
    }

    fn queue(&self, key: &str) -> Option<&Queue> {
        match key.trim().parse::<i64>() {
            Ok(id) => self.queues.iter().find(|q| q.id == id),
            Err(_) => self
                .queues
                .iter()
                .find(|q| q.name.eq_ignore_ascii_case(key.trim())),
        }
    }

    fn custom_field(&self, key: &str) -> Option<&CustomField> {
        match key.trim().parse::<i64>() {
            Ok(id) => self.custom_fields.iter().find(|c| c.id == id),
            Err(_) => self
                .custom_fields
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(key.trim())),
        }
    }

    fn ticket_mut(&mut self, id: i64) -> &mut Ticket {
        self.tickets
            .get_mut(&id)
            .unwrap_or_else(|| panic!("FakeRt has no ticket {id}"))
    }

    /// Records a transaction and bumps the ticket's `LastUpdated`.
    fn record(&mut self, ticket: i64, creator: i64, kind: &str, change: (&str, &str, &str)) -> i64 {
        let created = self.stamp();
        let id = self.next_transaction;
        self.next_transaction += 1;
        let (field, old_value, new_value) = change;
        self.transactions.insert(
            id,
            Transaction {
                id,
                ticket,
                kind: kind.to_owned(),
                field: field.to_owned(),
                old_value: old_value.to_owned(),
                new_value: new_value.to_owned(),
                data: String::new(),
                creator,
                created,
            },
        );
        let t = self.ticket_mut(ticket);
        t.last_updated = created;
        t.last_updated_by = creator;
        id
    }

    fn add_part(&mut self, transaction: i64, parent: i64, part: NewFile, filename: &str) -> i64 {
        let id = self.next_part;
        self.next_part += 1;
        let (created, creator) = self
            .transactions
            .get(&transaction)
            .map(|t| (t.created, t.creator))
            .unwrap_or((OffsetDateTime::UNIX_EPOCH, RT_SYSTEM));
        // RT re-encodes text parts that are not UTF-8.
        let bytes = if part.content_type.to_ascii_lowercase().starts_with("text/") {
            String::from_utf8_lossy(&part.bytes)
                .into_owned()
                .into_bytes()
        } else {
            part.bytes
        };
        self.parts.insert(
            id,
            Part {
                id,
                transaction,
                parent,
                content_type: part.content_type,
                filename: filename.to_owned(),
                bytes,
                created,
                creator,
            },
        );
        id
    }

    /// Stores a message as RT does: a lone text part, or a `multipart/mixed` container with the
    /// text part and one part per file.
    fn add_message(
        &mut self,
        transaction: i64,
        body: Option<(String, String)>,
        files: Vec<NewFile>,
    ) {
        if files.is_empty() {
            if let Some((content_type, content)) = body {
                let part = NewFile {
                    name: String::new(),
                    content_type,
                    bytes: content.into_bytes(),
                };
                self.add_part(transaction, 0, part, "");
            }
            return;
        }
        let container = NewFile {
            name: String::new(),
            content_type: "multipart/mixed".into(),
            bytes: Vec::new(),
        };
        let parent = self.add_part(transaction, 0, container, "");
        if let Some((content_type, content)) = body {
            let part = NewFile {
                name: String::new(),
                content_type,
                bytes: content.into_bytes(),
            };
            self.add_part(transaction, parent, part, "");
        }
        for file in files {
            let name = file.name.clone();
            self.add_part(transaction, parent, file, &name);
        }
    }

    /// Sets a status as RT's `SetStatus` does: `None` when nothing changed, else the message.
    fn set_status(
        &mut self,
        ticket: i64,
        actor: i64,
        status: &str,
    ) -> Result<Option<String>, String> {
        let status = status.trim().to_ascii_lowercase();
        if !STATUSES.contains(&status.as_str()) {
            return Err(format!(
                "Status '{status}' isn't a valid status for this ticket."
            ));
        }
        let old = self.tickets[&ticket].status.clone();
        if old == status {
            return Ok(None);
        }
        let at = self.stamp();
        let t = self.ticket_mut(ticket);
        t.status = status.clone();
        if status == "resolved" {
            t.resolved = Some(at);
        }
        self.record(ticket, actor, "Status", ("Status", &old, &status));
        Ok(Some(if status == "deleted" {
            "Ticket deleted".to_owned()
        } else {
            format!("Status changed from '{old}' to '{status}'")
        }))
    }

    fn set_owner(
        &mut self,
        ticket: i64,
        actor: i64,
        owner: &str,
    ) -> Result<Option<String>, String> {
        let Some(user) = self.find_user(owner).map(|u| u.id) else {
            return Err("That user does not exist".into());
        };
        let old = self.tickets[&ticket].owner;
        if old == user {
            return Ok(None);
        }
        self.ticket_mut(ticket).owner = user;
        self.record(
            ticket,
            actor,
            "Set",
            ("Owner", &old.to_string(), &user.to_string()),
        );
        let name = |w: &World, id| {
            if id == NOBODY {
                "Nobody".to_owned()
            } else {
                w.login(id)
            }
        };
        Ok(Some(format!(
            "Owner changed from {} to {}",
            name(self, old),
            name(self, user)
        )))
    }

    fn set_priority(&mut self, ticket: i64, actor: i64, value: i64) -> Option<String> {
        let old = self.tickets[&ticket].priority.clone();
        if old == value.to_string() {
            return None;
        }
        self.ticket_mut(ticket).priority = value.to_string();
        self.record(ticket, actor, "Set", ("Priority", &old, &value.to_string()));
        Some(format!(
            "Priority changed from '{}' to '{}'",
            priority_label(&old),
            priority_label(&value.to_string())
        ))
    }

    fn set_custom_field(&mut self, ticket: i64, actor: i64, field: i64, values: Vec<String>) {
        let old = self
            .ticket_mut(ticket)
            .custom_fields
            .insert(field, values.clone());
        let old = old.unwrap_or_default().join(", ");
        let new = values.join(", ");
        if old != new {
            self.record(ticket, actor, "CustomField", ("", &old, &new));
        }
    }

    /// RT's "On Correspond Open Inactive Tickets" scrip.
    fn auto_open(&mut self, ticket: i64) {
        if AUTO_OPEN.contains(&self.tickets[&ticket].status.as_str()) {
            let _ = self.set_status(ticket, RT_SYSTEM, "open");
        }
    }

    fn correspond(
        &mut self,
        ticket: i64,
        author: i64,
        kind: &str,
        body: Option<(String, String)>,
        files: Vec<NewFile>,
    ) -> i64 {
        let txn = self.record(ticket, author, kind, ("", "", ""));
        if let Some(t) = self.transactions.get_mut(&txn) {
            t.data = "No Subject".into();
        }
        self.add_message(txn, body, files);
        if kind == "Correspond" {
            self.auto_open(ticket);
        }
        txn
    }

    fn fake_ticket(&self, t: &Ticket) -> FakeTicket {
        FakeTicket {
            id: t.id,
            subject: t.subject.clone(),
            status: t.status.clone(),
            queue: self
                .queues
                .iter()
                .find(|q| q.id == t.queue)
                .map(|q| q.name.clone())
                .unwrap_or_default(),
            owner: self.login(t.owner),
            requestors: t.requestors.iter().map(|r| self.login(*r)).collect(),
            priority: t.priority.clone(),
            custom_fields: t
                .custom_fields
                .iter()
                .map(|(id, values)| {
                    let name = self
                        .custom_fields
                        .iter()
                        .find(|c| c.id == *id)
                        .map(|c| c.name.clone())
                        .unwrap_or_default();
                    (name, values.clone())
                })
                .collect(),
            refers_to: t
                .links
                .iter()
                .filter(|(kind, _)| kind == "RefersTo")
                .map(|(_, target)| *target)
                .collect(),
            last_updated: format_time(t.last_updated),
        }
    }

    /// The text body of a transaction (its first unnamed `text/*` part).
    fn body_of(&self, transaction: i64) -> Option<String> {
        self.parts
            .values()
            .find(|p| {
                p.transaction == transaction
                    && p.filename.is_empty()
                    && p.content_type.starts_with("text/")
            })
            .map(|p| String::from_utf8_lossy(&p.bytes).into_owned())
    }
}

/// The label RT shows for a priority, as in its change messages.
fn priority_label(value: &str) -> String {
    let Ok(number) = value.parse::<i64>() else {
        return value.to_owned();
    };
    PRIORITY_LABELS
        .iter()
        .rev()
        .find(|(_, v)| number >= *v)
        .map_or_else(|| value.to_owned(), |(label, _)| (*label).to_owned())
}

/// RT's timestamp format: UTC, whole seconds, `Z`.
fn format_time(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.format(&format).expect("a UTC time formats")
}

/// The database's format, which JSON searches compare against.
fn db_time(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    at.format(&format).expect("a UTC time formats")
}

/// A running fake RT; cheap to clone, every clone is the same server.
#[derive(Clone)]
pub struct FakeRt {
    inner: Arc<FakeState<World>>,
}

impl std::fmt::Debug for FakeRt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeRt")
            .field("addr", &self.inner.addr())
            .finish_non_exhaustive()
    }
}

impl FakeRt {
    /// Queue "General".
    pub const QUEUE_GENERAL: i64 = 1;
    /// Queue "Support".
    pub const QUEUE_SUPPORT: i64 = 3;
    /// The ticket custom field made for teledesk's idempotency key.
    pub const CF_KEY: &'static str = "Telegram key";
    /// The ticket custom field holding a resolution text.
    pub const CF_RESOLUTION: &'static str = "Resolution";
    /// The custom field staff address a ticket to a Telegram chat with.
    pub const CF_CHAT: &'static str = "Telegram chat";
    /// The custom field that marks an addressed ticket as an announcement.
    pub const CF_ANNOUNCEMENT: &'static str = "Announcement";
    /// A free-text custom field that takes a ticket's registration time (`registered_at`).
    pub const CF_REGISTERED: &'static str = "Registered";
    /// The integration user's id (the owner of [`FakeRt::token`]).
    pub const INTEGRATION_USER_ID: i64 = INTEGRATION_USER;
    /// The integration user's login.
    pub const INTEGRATION_LOGIN: &'static str = "teledesk";
    /// The staff user's login (the owner of [`FakeRt::staff_token`]).
    pub const STAFF_LOGIN: &'static str = "maria";
    /// The staff user's display name.
    pub const STAFF_NAME: &'static str = "Мария Иванова";

    /// Starts the server on `127.0.0.1:0` in the current Tokio runtime; it runs until the runtime
    /// shuts down.
    pub async fn start() -> FakeRt {
        let fake_at = |addr| FakeRt {
            inner: Arc::new(FakeState::new(World::new(format!("http://{addr}")), addr)),
        };
        serve_on_loopback("FakeRt", fake_at, server::router).await
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.inner.world()
    }

    /// Runs `change` on the world and wakes waiters.
    fn change<T>(&self, change: impl FnOnce(&mut World) -> T) -> T {
        self.inner.change(change)
    }

    /// RT's web address (`http://127.0.0.1:PORT`); REST2 is under `/REST/2.0`.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr())
    }

    /// The integration user's auth token.
    pub fn token(&self) -> String {
        TOKEN.to_owned()
    }

    /// The staff user's auth token, for [`RtBackstage`].
    pub fn staff_token(&self) -> String {
        STAFF_TOKEN.to_owned()
    }

    /// A staff member writes a public reply; returns the transaction id.
    pub fn staff_reply(&self, ticket: i64, staff_name: &str, text: &str) -> i64 {
        self.change(|w| {
            let author = w.staff_named(staff_name);
            let body = Some(("text/plain".to_owned(), text.to_owned()));
            w.correspond(ticket, author, "Correspond", body, Vec::new())
        })
    }

    /// A staff member writes a public reply in RT 5's rich-text editor (a `text/html` body only).
    pub fn staff_reply_html(&self, ticket: i64, staff_name: &str, html: &str) -> i64 {
        self.change(|w| {
            let author = w.staff_named(staff_name);
            let body = Some(("text/html".to_owned(), html.to_owned()));
            w.correspond(ticket, author, "Correspond", body, Vec::new())
        })
    }

    /// A staff member writes a public reply with one file; returns the transaction id.
    pub fn staff_reply_with_file(
        &self,
        ticket: i64,
        staff_name: &str,
        text: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> i64 {
        self.change(|w| {
            let author = w.staff_named(staff_name);
            let body = Some(("text/plain".to_owned(), text.to_owned()));
            let file = NewFile {
                name: file_name.to_owned(),
                content_type: "application/octet-stream".to_owned(),
                bytes,
            };
            w.correspond(ticket, author, "Correspond", body, vec![file])
        })
    }

    /// A requestor answers by e-mail (a correspondence by the user named by `address`); returns
    /// the transaction id.
    pub fn requestor_reply(&self, ticket: i64, address: &str, text: &str) -> i64 {
        self.change(|w| {
            let author = w.user_for(address, "");
            let body = Some(("text/plain".to_owned(), text.to_owned()));
            w.correspond(ticket, author, "Correspond", body, Vec::new())
        })
    }

    /// A staff member writes an internal comment; returns the transaction id.
    pub fn internal_note(&self, ticket: i64, staff_name: &str, text: &str) -> i64 {
        self.change(|w| {
            let author = w.staff_named(staff_name);
            let body = Some(("text/plain".to_owned(), text.to_owned()));
            w.correspond(ticket, author, "Comment", body, Vec::new())
        })
    }

    /// A staff member sets the status (one of the default lifecycle's).
    pub fn set_status(&self, ticket: i64, staff_name: &str, status: &str) {
        self.change(|w| {
            let author = w.staff_named(staff_name);
            w.set_status(ticket, author, status)
        })
        .unwrap_or_else(|e| panic!("FakeRt::set_status: {e}"));
    }

    /// A staff member takes the ticket.
    pub fn assign(&self, ticket: i64, staff_name: &str) {
        self.change(|w| {
            let author = w.staff_named(staff_name);
            let login = w.login(author);
            w.set_owner(ticket, author, &login)
        })
        .unwrap_or_else(|e| panic!("FakeRt::assign: {e}"));
    }

    /// A staff member resolves the ticket with a reply, as RT's "Resolve" action does.
    pub fn resolve(&self, ticket: i64, staff_name: &str, text: &str) {
        self.change(|w| {
            let author = w.staff_named(staff_name);
            let body = Some(("text/plain".to_owned(), text.to_owned()));
            w.correspond(ticket, author, "Correspond", body, Vec::new());
            w.set_status(ticket, author, "resolved")
        })
        .unwrap_or_else(|e| panic!("FakeRt::resolve: {e}"));
    }

    /// A staff member sets a ticket custom field (by name).
    pub fn set_custom_field(&self, ticket: i64, staff_name: &str, field: &str, value: &str) {
        self.change(|w| {
            let author = w.staff_named(staff_name);
            let field = w
                .custom_field(field)
                .map(|c| c.id)
                .unwrap_or_else(|| panic!("FakeRt has no custom field {field:?}"));
            w.set_custom_field(ticket, author, field, vec![value.to_owned()]);
        });
    }

    /// Every ticket, by id.
    pub fn tickets(&self) -> Vec<FakeTicket> {
        let w = self.world();
        w.tickets.values().map(|t| w.fake_ticket(t)).collect()
    }

    /// One ticket.
    pub fn ticket(&self, id: i64) -> Option<FakeTicket> {
        let w = self.world();
        w.tickets.get(&id).map(|t| w.fake_ticket(t))
    }

    /// From now on REST2's answers about the ticket carry what RT may send beside the usual: an
    /// image custom field whose value is an object, a `customfield` hyperlink, a `CustomField`
    /// transaction with a `null` old value and a number as new value, and entries of unseen
    /// shapes (a custom field without id, a link without `ref`, a requestor whose id is an
    /// object, a transaction and a file part whose ids are objects). Every text in them contains
    /// [`crate::conformance::ODDITY`]. Bumps `LastUpdated`.
    pub fn add_oddities(&self, ticket: i64) {
        self.change(|w| {
            w.oddities.insert(ticket);
            let at = w.stamp();
            w.ticket_mut(ticket).last_updated = at;
        });
    }

    /// A ticket's transactions, oldest first.
    pub fn transactions(&self, ticket: i64) -> Vec<FakeTransaction> {
        let w = self.world();
        w.transactions
            .values()
            .filter(|t| t.ticket == ticket)
            .map(|t| FakeTransaction {
                id: t.id,
                ticket: t.ticket,
                kind: t.kind.clone(),
                creator: w.login(t.creator),
                content: w.body_of(t.id),
                field: t.field.clone(),
                old_value: t.old_value.clone(),
                new_value: t.new_value.clone(),
                created: format_time(t.created),
            })
            .collect()
    }

    /// A ticket's message parts (bodies and files), oldest first.
    pub fn attachments(&self, ticket: i64) -> Vec<FakeAttachment> {
        let w = self.world();
        w.parts
            .values()
            .filter(|p| {
                w.transactions
                    .get(&p.transaction)
                    .is_some_and(|t| t.ticket == ticket)
                    && !p.content_type.starts_with("multipart/")
            })
            .map(|p| FakeAttachment {
                id: p.id,
                transaction: p.transaction,
                filename: p.filename.clone(),
                content_type: p.content_type.clone(),
                bytes: p.bytes.clone(),
            })
            .collect()
    }

    /// Every request received so far, in the order they were answered.
    pub fn calls(&self) -> Vec<RtCall> {
        self.world().calls.clone()
    }

    /// While on, every request gets 503 with an HTML body, as a proxy in front of RT sends.
    pub fn set_outage(&self, on: bool) {
        self.change(|w| w.outage = on);
    }

    /// The next `times` authenticated requests fail with `status` and RT's error body.
    pub fn fail_next(&self, times: usize, status: u16) {
        self.change(|w| w.fail_next.any(times, status));
    }

    /// The next `times` authenticated requests with `method` (`"PUT"`) fail with `status`;
    /// others pass.
    pub fn fail_next_method(&self, method: &str, times: usize, status: u16) {
        self.change(|w| w.fail_next.of_method(method, times, status));
    }

    /// Waits until `check` returns `Some`, re-checking after every change; panics after
    /// `timeout` naming `what`.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&FakeRt) -> Option<T>,
    ) -> T {
        self.inner.wait_until(timeout, what, || check(self)).await
    }
}
