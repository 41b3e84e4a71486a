//! Fake Zammad REST API server.
//!
//! [`FakeZammad`] serves Zammad's REST API under `/api/v1` on loopback, in the wire format of
//! `fixtures/zammad/*.json` (docs.zammad.org and the controllers of github.com/zammad/zammad), so
//! the real adapter talks to it unchanged. Tests act as support staff ([`FakeZammad::staff_reply`],
//! [`FakeZammad::set_state`], [`FakeZammad::assign`], [`FakeZammad::resolve`]...) or drive the staff
//! side over HTTP with [`ZammadBackstage`], and observe what teledesk did ([`FakeZammad::tickets`],
//! [`FakeZammad::articles`], [`FakeZammad::calls`]).
//!
//! The world, as a fresh Zammad with a little setup:
//! - users: 1 `-` (system), 2 Nicole Braun (customer of organization 1), 3 "teledesk bot" (agent,
//!   the integration user, token [`FakeZammad::token`]), 4 "Мария Иванова" (agent, token
//!   [`FakeZammad::staff_token`]); more agents are created on demand by name (ids from 10),
//!   customers by `guess:<email>` (ids from 100);
//! - groups 1 "Users" and 2 "Telegram"; organizations 1 "Zammad Foundation" and 2 "Acme";
//! - the default states (1 new, 2 open, 3 pending reminder, 4 closed, 5 merged, 6 removed,
//!   7 pending close, with their state types) and priorities (1 low, 2 normal, 3 high);
//! - one custom ticket attribute, `resolution` (a text field), like an admin would add;
//! - tickets get ids from 101 and numbers from 31001, articles ids from 501, files from 901.
//!
//! Modelled server behaviour (assumptions the docs and sources do not settle are marked \[U\]):
//! - auth is `Authorization: Token token=<t>` (also `Bearer <t>`, as Rails accepts both); no
//!   header → 403 `Authentication required`, an unknown token → 401 `Can't find User for Token`;
//! - errors are `{"error": …, "error_human": …}` as `handles_errors.rb` renders them: 404
//!   `Couldn't find Ticket with 'id'=…`, 422 for lookups and validation; outages are a 503 HTML
//!   page from the proxy; failures injected with [`FakeZammad::fail_next`] come after auth;
//! - every change of a ticket (create, update, new article, link) sets its `updated_at` to the
//!   current time with millisecond precision, strictly increasing across the whole fake; that a
//!   link touches both tickets is \[U\];
//! - `POST /tickets` takes the group, state, priority, owner and organization by name or id,
//!   `customer_id` as an id or `guess:<email>` (finding or creating the customer), `note`, custom
//!   attributes as top-level keys (unknown keys are dropped, as `param_cleanup` does), and the
//!   first article; it answers 201 with the ticket's columns (names too with `expand=true`);
//!   that Zammad accepts any organization regardless of the customer's is \[U\];
//! - a pending state needs a `pending_time` (422 otherwise) \[U: enforced by core workflows\];
//! - articles: `type` defaults to `note`, `sender` to `Agent` for agents; `from` is filled like
//!   `FillupFromGeneral` does (`First Last <email>` for web/phone, `First Last` for other
//!   non-email types); attachments are base64 (strictly decoded) with `filename`, `data`,
//!   `mime-type`, stored with preference `Mime-Type`; `size` is a string, as Zammad's column;
//!   `message_id` is stored as given;
//! - `GET /tickets/search` implements the subset of Elasticsearch's query-string syntax a client
//!   of this fake needs: clauses joined by ` AND `, each `field:[from TO to]` (`{…}` exclusive,
//!   `*` open), `field:>=v` (and `>`, `<`, `<=`), `field:"phrase"` (token sequence, case-insensitive)
//!   or `field:term`, on `updated_at`, `created_at`, `id`, `number`, `title`, `note`,
//!   `customer_id`, `group_id`, `state_id`, `priority_id`, `owner_id`. A query it cannot parse
//!   finds nothing, as Zammad answers when Elasticsearch rejects a query. The index is updated
//!   synchronously (real Zammad indexes in a background job, a moment later) \[U\]. `per_page`
//!   (or `limit`) defaults to 50 and is capped at 200, `page` starts at 1; `sort_by`/`order_by`
//!   sort by `updated_at`, `created_at` or `id`; without them the order is `updated_at` desc;
//! - `POST /links/add` takes the source by number and the target by id; an unknown source is 422
//!   `No such object!`, a repeated link 422 `Object already exists!`;
//! - [`FakeZammad::add_oddities`] makes a ticket's answers carry articles of other types and
//!   senders, custom attributes of any shape and entries of unseen shapes;
//! - no rate limit (none is documented) \[U\]; [`FakeZammad::fail_next`] can inject a 429.

mod backstage;
mod oddities;
mod server;

pub use backstage::ZammadBackstage;

use crate::serve::{FakeState, serve_on_loopback};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;
use teledesk_adapter::WebhookRequest;
use time::OffsetDateTime;
use time::macros::format_description;

/// A ticket as a test sees it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FakeTicket {
    /// Ticket id.
    pub id: i64,
    /// Ticket number.
    pub number: String,
    /// Title.
    pub title: String,
    /// Group name.
    pub group: String,
    /// State name.
    pub state: String,
    /// Priority name.
    pub priority: String,
    /// Owner's full name; `None` when owned by the system user.
    pub owner: Option<String>,
    /// Customer's login.
    pub customer: String,
    /// Organization name.
    pub organization: Option<String>,
    /// The `note` column (teledesk's idempotency key).
    pub note: Option<String>,
    /// Custom attributes that are set.
    pub attributes: Map<String, Value>,
    /// Last update, as the API shows it (`2026-11-21T12:00:00.123Z`).
    pub updated_at: String,
}

/// A file of an article as a test sees it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeAttachment {
    /// Store id.
    pub id: i64,
    /// File name.
    pub filename: String,
    /// MIME type.
    pub mime_type: String,
    /// Content, byte-exact.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for FakeAttachment {
    // Bytes would flood assertion messages; their length is what helps.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAttachment")
            .field("id", &self.id)
            .field("filename", &self.filename)
            .field("mime_type", &self.mime_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// An article as a test sees it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FakeArticle {
    /// Article id.
    pub id: i64,
    /// Ticket id.
    pub ticket_id: i64,
    /// Type name (`web`, `note`, `email`).
    pub article_type: String,
    /// Sender name (`Agent`, `Customer`, `System`).
    pub sender: String,
    /// Internal note.
    pub internal: bool,
    /// `from` as stored.
    pub from: String,
    /// Body as stored.
    pub body: String,
    /// `text/plain` or `text/html`.
    pub content_type: String,
    /// Message id as stored.
    pub message_id: Option<String>,
    /// The API user that wrote it.
    pub created_by_id: i64,
    /// Creation time, as the API shows it.
    pub created_at: String,
    /// Files.
    pub attachments: Vec<FakeAttachment>,
}

/// A link between two tickets.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeLink {
    /// Source ticket id.
    pub source: i64,
    /// Target ticket id.
    pub target: i64,
    /// `normal`, `parent` or `child`.
    pub link_type: String,
}

/// One request the fake received.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ZammadCall {
    /// HTTP method (`GET`).
    pub method: String,
    /// Full path (`/api/v1/tickets/101`).
    pub path: String,
    /// Raw query string, empty when none.
    pub query: String,
    /// The JSON body, when there was one.
    pub body: Option<Value>,
    /// The status the fake answered.
    pub status: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    System,
    Agent,
    Customer,
}

#[derive(Clone, Debug)]
struct User {
    id: i64,
    login: String,
    firstname: String,
    lastname: String,
    email: String,
    token: Option<String>,
    role: Role,
    organization_id: Option<i64>,
    created_at: OffsetDateTime,
}

impl User {
    fn full_name(&self) -> String {
        format!("{} {}", self.firstname, self.lastname)
            .trim()
            .to_owned()
    }
}

#[derive(Clone, Debug)]
struct State {
    id: i64,
    name: &'static str,
    state_type_id: i64,
}

#[derive(Clone, Debug)]
struct Ticket {
    id: i64,
    number: String,
    title: String,
    group_id: i64,
    state_id: i64,
    priority_id: i64,
    owner_id: i64,
    customer_id: i64,
    organization_id: Option<i64>,
    note: Option<String>,
    pending_time: Option<OffsetDateTime>,
    attributes: Map<String, Value>,
    create_article_type_id: Option<i64>,
    create_article_sender_id: Option<i64>,
    created_by_id: i64,
    updated_by_id: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    close_at: Option<OffsetDateTime>,
    /// The SLA's escalation times: first response, and close.
    first_response_escalation_at: Option<OffsetDateTime>,
    close_escalation_at: Option<OffsetDateTime>,
}

#[derive(Clone, Debug)]
struct Article {
    id: i64,
    ticket_id: i64,
    type_id: i64,
    sender_id: i64,
    from: Option<String>,
    to: Option<String>,
    subject: Option<String>,
    body: String,
    content_type: String,
    internal: bool,
    message_id: Option<String>,
    created_by_id: i64,
    origin_by_id: Option<i64>,
    created_at: OffsetDateTime,
}

#[derive(Clone, Debug)]
struct Stored {
    id: i64,
    article_id: i64,
    filename: String,
    mime_type: String,
    bytes: Vec<u8>,
}

#[derive(Clone, Debug)]
struct Link {
    source: i64,
    target: i64,
    link_type: String,
}

/// Everything the fake knows; one lock, never held across an await.
struct World {
    users: Vec<User>,
    states: Vec<State>,
    tickets: BTreeMap<i64, Ticket>,
    articles: BTreeMap<i64, Article>,
    stored: BTreeMap<i64, Stored>,
    links: Vec<Link>,
    ticket_attributes: Vec<String>,
    next_ticket: i64,
    next_number: i64,
    next_article: i64,
    next_stored: i64,
    next_agent: i64,
    next_customer: i64,
    next_link: i64,
    last_stamp: OffsetDateTime,
    calls: Vec<ZammadCall>,
    outage: bool,
    fail_next: VecDeque<u16>,
    /// Tickets whose answers carry odd entries (see [`FakeZammad::add_oddities`]).
    oddities: BTreeSet<i64>,
}

const SYSTEM_USER: i64 = 1;
const INTEGRATION_USER: i64 = 3;
const STAFF_USER: i64 = 4;
const TOKEN: &str = "zammad-fake-token-3c1e7a";
const STAFF_TOKEN: &str = "zammad-fake-staff-token-9b2d41";
const GROUPS: [(i64, &str); 2] = [(1, "Users"), (2, "Telegram")];
const ORGANIZATIONS: [(i64, &str); 2] = [(1, "Zammad Foundation"), (2, "Acme")];
const PRIORITIES: [(i64, &str); 3] = [(1, "1 low"), (2, "2 normal"), (3, "3 high")];
/// Zammad's seeded article types.
const ARTICLE_TYPES: [(i64, &str); 12] = [
    (1, "email"),
    (2, "sms"),
    (3, "chat"),
    (4, "fax"),
    (5, "phone"),
    (6, "twitter status"),
    (7, "twitter direct-message"),
    (8, "facebook feed post"),
    (9, "facebook feed comment"),
    (10, "note"),
    (11, "web"),
    (12, "telegram personal-message"),
];
const SENDERS: [(i64, &str); 3] = [(1, "Agent"), (2, "Customer"), (3, "System")];

fn lookup_name<const N: usize>(table: &[(i64, &'static str); N], id: i64) -> &'static str {
    table
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, n)| *n)
        .unwrap_or("")
}

fn lookup_id<const N: usize>(table: &[(i64, &'static str); N], name: &str) -> Option<i64> {
    table.iter().find(|(_, n)| *n == name).map(|(i, _)| *i)
}

impl World {
    fn new() -> Self {
        let epoch = OffsetDateTime::now_utc();
        let user =
            |id, login: &str, first: &str, last: &str, token: Option<&str>, role, org| User {
                id,
                login: login.to_owned(),
                firstname: first.to_owned(),
                lastname: last.to_owned(),
                email: if login == "-" {
                    String::new()
                } else {
                    login.to_owned()
                },
                token: token.map(str::to_owned),
                role,
                organization_id: org,
                created_at: epoch,
            };
        let state = |id, name, state_type_id| State {
            id,
            name,
            state_type_id,
        };
        Self {
            users: vec![
                user(SYSTEM_USER, "-", "", "", None, Role::System, None),
                user(
                    2,
                    "nicole.braun@zammad.org",
                    "Nicole",
                    "Braun",
                    None,
                    Role::Customer,
                    Some(1),
                ),
                user(
                    INTEGRATION_USER,
                    "teledesk@acme.example",
                    "teledesk",
                    "bot",
                    Some(TOKEN),
                    Role::Agent,
                    None,
                ),
                user(
                    STAFF_USER,
                    "maria@acme.example",
                    "Мария",
                    "Иванова",
                    Some(STAFF_TOKEN),
                    Role::Agent,
                    None,
                ),
            ],
            states: vec![
                state(1, "new", 1),
                state(2, "open", 2),
                state(3, "pending reminder", 3),
                state(4, "closed", 5),
                state(5, "merged", 6),
                state(6, "removed", 7),
                state(7, "pending close", 4),
            ],
            tickets: BTreeMap::new(),
            articles: BTreeMap::new(),
            stored: BTreeMap::new(),
            links: Vec::new(),
            ticket_attributes: vec![FakeZammad::RESOLUTION_ATTRIBUTE.to_owned()],
            next_ticket: 101,
            next_number: 31001,
            next_article: 501,
            next_stored: 901,
            next_agent: 10,
            next_customer: 100,
            next_link: 1,
            last_stamp: OffsetDateTime::UNIX_EPOCH,
            calls: Vec::new(),
            outage: false,
            fail_next: VecDeque::new(),
            oddities: BTreeSet::new(),
        }
    }

    /// The next server time: now at millisecond precision, and always later than the last one.
    fn stamp(&mut self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        let now = now
            .replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
            .unwrap_or(now);
        let next = now.max(self.last_stamp + Duration::from_millis(1));
        self.last_stamp = next;
        next
    }

    fn user(&self, id: i64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    fn user_by_token(&self, token: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.token.as_deref() == Some(token))
    }

    fn user_by_login(&self, login: &str) -> Option<&User> {
        let login = login.to_lowercase();
        self.users
            .iter()
            .find(|u| u.login.to_lowercase() == login || u.email.to_lowercase() == login)
    }

    fn state(&self, id: i64) -> Option<&State> {
        self.states.iter().find(|s| s.id == id)
    }

    fn state_by_name(&self, name: &str) -> Option<&State> {
        self.states.iter().find(|s| s.name == name)
    }

    fn agent_named(&mut self, name: &str) -> i64 {
        if let Some(user) = self
            .users
            .iter()
            .find(|u| u.role == Role::Agent && u.full_name() == name)
        {
            return user.id;
        }
        let id = self.next_agent;
        self.next_agent += 1;
        let (first, last) = name.split_once(' ').unwrap_or((name, ""));
        let created_at = self.stamp();
        self.users.push(User {
            id,
            login: format!("agent{id}@acme.example"),
            firstname: first.to_owned(),
            lastname: last.to_owned(),
            email: format!("agent{id}@acme.example"),
            token: None,
            role: Role::Agent,
            organization_id: None,
            created_at,
        });
        id
    }

    /// `guess:<email>`: the user with that address, or a new customer.
    fn customer_by_email(&mut self, email: &str) -> i64 {
        if let Some(user) = self.user_by_login(email) {
            return user.id;
        }
        let id = self.next_customer;
        self.next_customer += 1;
        let created_at = self.stamp();
        self.users.push(User {
            id,
            login: email.to_lowercase(),
            firstname: String::new(),
            lastname: String::new(),
            email: email.to_owned(),
            token: None,
            role: Role::Customer,
            organization_id: None,
            created_at,
        });
        id
    }

    fn ticket_mut(&mut self, id: i64) -> &mut Ticket {
        self.tickets
            .get_mut(&id)
            .unwrap_or_else(|| panic!("FakeZammad has no ticket {id}"))
    }

    fn touch(&mut self, ticket_id: i64, by: i64) -> OffsetDateTime {
        let at = self.stamp();
        let ticket = self.ticket_mut(ticket_id);
        ticket.updated_at = at;
        ticket.updated_by_id = by;
        at
    }

    /// `FillupFromGeneral`: non-email articles are "from" their author.
    fn fill_from(&self, article: &mut Article) {
        let type_name = lookup_name(&ARTICLE_TYPES, article.type_id);
        if matches!(
            type_name,
            "email"
                | "sms"
                | "twitter status"
                | "twitter direct-message"
                | "facebook feed post"
                | "facebook feed comment"
        ) {
            return;
        }
        let author = article
            .origin_by_id
            .filter(|o| self.user(*o).is_some_and(|u| u.role != Role::Agent))
            .unwrap_or(article.created_by_id);
        let Some(user) = self.user(author) else {
            return;
        };
        article.from = Some(if matches!(type_name, "web" | "phone") {
            format!("{} <{}>", user.full_name(), user.email)
        } else {
            user.full_name()
        });
    }

    fn add_article(&mut self, mut article: Article, files: Vec<NewFile>) -> i64 {
        let created_at = self.touch(article.ticket_id, article.created_by_id);
        let id = self.next_article;
        self.next_article += 1;
        article.id = id;
        article.created_at = created_at;
        self.fill_from(&mut article);
        self.articles.insert(id, article);
        for file in files {
            let store_id = self.next_stored;
            self.next_stored += 1;
            self.stored.insert(
                store_id,
                Stored {
                    id: store_id,
                    article_id: id,
                    filename: file.filename,
                    mime_type: file.mime_type,
                    bytes: file.bytes,
                },
            );
        }
        id
    }

    fn set_state(&mut self, ticket_id: i64, state_id: i64, by: i64) {
        let closed = self
            .state(state_id)
            .is_some_and(|s| matches!(s.state_type_id, 5..=7));
        let at = self.touch(ticket_id, by);
        let ticket = self.ticket_mut(ticket_id);
        ticket.state_id = state_id;
        if closed && ticket.close_at.is_none() {
            ticket.close_at = Some(at);
        }
    }

    fn fake_ticket(&self, t: &Ticket) -> FakeTicket {
        FakeTicket {
            id: t.id,
            number: t.number.clone(),
            title: t.title.clone(),
            group: lookup_name(&GROUPS, t.group_id).to_owned(),
            state: self
                .state(t.state_id)
                .map(|s| s.name.to_owned())
                .unwrap_or_default(),
            priority: lookup_name(&PRIORITIES, t.priority_id).to_owned(),
            owner: (t.owner_id != SYSTEM_USER)
                .then(|| self.user(t.owner_id).map(User::full_name))
                .flatten(),
            customer: self
                .user(t.customer_id)
                .map(|u| u.login.clone())
                .unwrap_or_default(),
            organization: t
                .organization_id
                .map(|o| lookup_name(&ORGANIZATIONS, o).to_owned()),
            note: t.note.clone(),
            attributes: t
                .attributes
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            updated_at: format_time(t.updated_at),
        }
    }

    fn fake_article(&self, a: &Article) -> FakeArticle {
        FakeArticle {
            id: a.id,
            ticket_id: a.ticket_id,
            article_type: lookup_name(&ARTICLE_TYPES, a.type_id).to_owned(),
            sender: lookup_name(&SENDERS, a.sender_id).to_owned(),
            internal: a.internal,
            from: a.from.clone().unwrap_or_default(),
            body: a.body.clone(),
            content_type: a.content_type.clone(),
            message_id: a.message_id.clone(),
            created_by_id: a.created_by_id,
            created_at: format_time(a.created_at),
            attachments: self
                .stored
                .values()
                .filter(|s| s.article_id == a.id)
                .map(|s| FakeAttachment {
                    id: s.id,
                    filename: s.filename.clone(),
                    mime_type: s.mime_type.clone(),
                    bytes: s.bytes.clone(),
                })
                .collect(),
        }
    }

    fn new_ticket(&mut self, title: &str, customer_id: i64, by: i64) -> i64 {
        let at = self.stamp();
        let id = self.next_ticket;
        self.next_ticket += 1;
        let number = self.next_number.to_string();
        self.next_number += 1;
        let organization_id = self.user(customer_id).and_then(|u| u.organization_id);
        let attributes = self
            .ticket_attributes
            .iter()
            .map(|a| (a.clone(), Value::Null))
            .collect();
        self.tickets.insert(
            id,
            Ticket {
                id,
                number,
                title: title.to_owned(),
                group_id: 1,
                state_id: 1,
                priority_id: 2,
                owner_id: SYSTEM_USER,
                customer_id,
                organization_id,
                note: None,
                pending_time: None,
                attributes,
                create_article_type_id: None,
                create_article_sender_id: None,
                created_by_id: by,
                updated_by_id: by,
                created_at: at,
                updated_at: at,
                close_at: None,
                first_response_escalation_at: None,
                close_escalation_at: None,
            },
        );
        id
    }
}

/// A file arriving with an article.
struct NewFile {
    filename: String,
    mime_type: String,
    bytes: Vec<u8>,
}

/// Zammad's timestamp format: UTC, milliseconds, `Z`.
fn format_time(at: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.format(&format).expect("a UTC time formats")
}

/// Escapes text for an HTML body, as the agent UI would store it.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', "<br>")
}

/// A running fake Zammad; cheap to clone, every clone is the same server.
#[derive(Clone)]
pub struct FakeZammad {
    inner: Arc<FakeState<World>>,
}

impl std::fmt::Debug for FakeZammad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeZammad")
            .field("addr", &self.inner.addr())
            .finish_non_exhaustive()
    }
}

impl FakeZammad {
    /// The integration user's id (the owner of [`Self::token`]).
    pub const INTEGRATION_USER_ID: i64 = INTEGRATION_USER;
    /// The seeded agent with an API token ([`Self::staff_token`]).
    pub const STAFF_USER_ID: i64 = STAFF_USER;
    /// The seeded agent's name.
    pub const STAFF_NAME: &'static str = "Мария Иванова";
    /// Zammad's default group.
    pub const GROUP_USERS: &'static str = "Users";
    /// A second group, for per-chat defaults.
    pub const GROUP_TELEGRAM: &'static str = "Telegram";
    /// An organization besides Zammad's default one.
    pub const ORGANIZATION_ACME: &'static str = "Acme";
    /// The custom ticket attribute seeded for resolutions.
    pub const RESOLUTION_ATTRIBUTE: &'static str = "resolution";
    /// The custom ticket attribute (text) staff address a ticket to a chat with, once
    /// [`Self::add_ticket_attribute`] added it.
    pub const CHAT_ATTRIBUTE: &'static str = "telegram_chat";
    /// The custom ticket attribute (boolean) that marks an addressed ticket as an announcement,
    /// once [`Self::add_ticket_attribute`] added it.
    pub const ANNOUNCEMENT_ATTRIBUTE: &'static str = "telegram_announcement";

    /// Starts the server on `127.0.0.1:0` in the current Tokio runtime; it runs until the runtime
    /// shuts down.
    pub async fn start() -> FakeZammad {
        let fake_at = |addr| FakeZammad {
            inner: Arc::new(FakeState::new(World::new(), addr)),
        };
        serve_on_loopback("FakeZammad", fake_at, server::router).await
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.inner.world()
    }

    /// Runs `change` on the world and wakes waiters.
    fn change<T>(&self, change: impl FnOnce(&mut World) -> T) -> T {
        self.inner.change(change)
    }

    /// The site address (`http://127.0.0.1:PORT`); the API is under `/api/v1`.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr())
    }

    /// The integration user's access token.
    pub fn token(&self) -> String {
        TOKEN.to_owned()
    }

    /// The access token of agent [`Self::STAFF_NAME`], for a staff side driven over HTTP.
    pub fn staff_token(&self) -> String {
        STAFF_TOKEN.to_owned()
    }

    /// A staff side over HTTP that signs webhooks with `webhook_secret`.
    pub fn backstage(&self, webhook_secret: Option<&str>) -> ZammadBackstage {
        ZammadBackstage::new(
            &self.url(),
            &self.staff_token(),
            webhook_secret.map(str::to_owned),
        )
        .with_fake(self.clone())
    }

    /// From now on Zammad's answers about the ticket carry what Zammad may send beside the
    /// usual: an `sms` article from the `System` sender, an agent article of another channel
    /// whose id is text and whose author is `null`, a file on the staff article with a UUID id
    /// and its size in words, custom attributes holding arrays and objects. Every text in them
    /// contains [`crate::conformance::ODDITY`]. Counts as a change of the ticket.
    pub fn add_oddities(&self, ticket: i64) {
        self.change(|w| {
            w.oddities.insert(ticket);
            w.touch(ticket, STAFF_USER);
        });
    }

    /// Staff open a ticket in the UI (not through teledesk: no note) for customer Nicole Braun;
    /// returns its id.
    pub fn staff_create_ticket(&self, title: &str) -> i64 {
        self.change(|w| {
            let id = w.new_ticket(title, 2, STAFF_USER);
            let article = Article {
                id: 0,
                ticket_id: id,
                type_id: 5,
                sender_id: 2,
                from: None,
                to: None,
                subject: Some(title.to_owned()),
                body: format!("<div>{}</div>", html_escape(title)),
                content_type: "text/html".into(),
                internal: false,
                message_id: None,
                created_by_id: STAFF_USER,
                origin_by_id: Some(2),
                created_at: OffsetDateTime::UNIX_EPOCH,
            };
            w.add_article(article, Vec::new());
            id
        })
    }

    fn staff_article(
        &self,
        ticket_id: i64,
        staff_name: &str,
        text: &str,
        internal: bool,
        file: Option<(&str, Vec<u8>)>,
    ) -> i64 {
        self.change(|w| {
            let author = w.agent_named(staff_name);
            let article = Article {
                id: 0,
                ticket_id,
                type_id: 10,
                sender_id: 1,
                from: None,
                to: None,
                subject: None,
                body: format!("<div>{}</div>", html_escape(text)),
                content_type: "text/html".into(),
                internal,
                message_id: None,
                created_by_id: author,
                origin_by_id: None,
                created_at: OffsetDateTime::UNIX_EPOCH,
            };
            let files = file
                .map(|(name, bytes)| NewFile {
                    filename: name.to_owned(),
                    mime_type: "application/octet-stream".into(),
                    bytes,
                })
                .into_iter()
                .collect();
            w.add_article(article, files)
        })
    }

    /// A staff member writes a public reply (a `note` article, HTML, as the agent UI does);
    /// returns its id.
    pub fn staff_reply(&self, ticket_id: i64, staff_name: &str, text: &str) -> i64 {
        self.staff_article(ticket_id, staff_name, text, false, None)
    }

    /// A staff member writes a public reply with a file; returns the article id.
    pub fn staff_reply_with_file(
        &self,
        ticket_id: i64,
        staff_name: &str,
        text: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> i64 {
        self.staff_article(ticket_id, staff_name, text, false, Some((file_name, bytes)))
    }

    /// A staff member writes an internal note; returns its id.
    pub fn internal_note(&self, ticket_id: i64, staff_name: &str, text: &str) -> i64 {
        self.staff_article(ticket_id, staff_name, text, true, None)
    }

    /// The ticket's customer answers by e-mail (not through teledesk); returns the article id.
    pub fn customer_reply(&self, ticket_id: i64, text: &str) -> i64 {
        self.change(|w| {
            let customer = w.tickets[&ticket_id].customer_id;
            let from = w
                .user(customer)
                .map(|u| format!("{} <{}>", u.full_name(), u.email))
                .unwrap_or_default();
            let article = Article {
                id: 0,
                ticket_id,
                type_id: 1,
                sender_id: 2,
                from: Some(from),
                to: Some("support@acme.example".into()),
                subject: None,
                body: text.to_owned(),
                content_type: "text/plain".into(),
                internal: false,
                message_id: Some(format!("<reply.{ticket_id}@customer.example>")),
                created_by_id: customer,
                origin_by_id: None,
                created_at: OffsetDateTime::UNIX_EPOCH,
            };
            w.add_article(article, Vec::new())
        })
    }

    /// An SLA applies to the ticket: Zammad computes its escalation times (read-only in the API);
    /// the fake takes them as given. Moves the update time, as Zammad's escalation job saves the
    /// ticket.
    pub fn set_escalation(
        &self,
        ticket_id: i64,
        first_response: Option<OffsetDateTime>,
        close: Option<OffsetDateTime>,
    ) {
        self.change(|w| {
            let at = w.stamp();
            let ticket = w.ticket_mut(ticket_id);
            ticket.first_response_escalation_at = first_response;
            ticket.close_escalation_at = close;
            ticket.updated_at = at;
        });
    }

    /// Staff move the ticket to a state by name (pending states get a pending time a day ahead).
    pub fn set_state(&self, ticket_id: i64, state: &str) {
        self.change(|w| {
            let state = w
                .state_by_name(state)
                .cloned()
                .unwrap_or_else(|| panic!("FakeZammad has no state {state:?}"));
            if state.name.starts_with("pending") {
                let at = w.stamp() + Duration::from_secs(86_400);
                w.ticket_mut(ticket_id).pending_time = Some(at);
            }
            w.set_state(ticket_id, state.id, STAFF_USER);
        });
    }

    /// Staff make `staff_name` the owner.
    pub fn assign(&self, ticket_id: i64, staff_name: &str) {
        self.change(|w| {
            let owner = w.agent_named(staff_name);
            w.ticket_mut(ticket_id).owner_id = owner;
            w.touch(ticket_id, STAFF_USER);
        });
    }

    /// Staff set the priority by name (`1 low`, `2 normal`, `3 high`).
    pub fn set_priority(&self, ticket_id: i64, priority: &str) {
        self.change(|w| {
            let id = lookup_id(&PRIORITIES, priority)
                .unwrap_or_else(|| panic!("FakeZammad has no priority {priority:?}"));
            w.ticket_mut(ticket_id).priority_id = id;
            w.touch(ticket_id, STAFF_USER);
        });
    }

    /// Staff answer with the solution and close the ticket.
    pub fn resolve(&self, ticket_id: i64, staff_name: &str, text: &str) {
        self.staff_reply(ticket_id, staff_name, text);
        self.set_state(ticket_id, "closed");
    }

    /// Staff set a custom attribute (it must exist, like [`Self::RESOLUTION_ATTRIBUTE`]).
    pub fn set_attribute(&self, ticket_id: i64, name: &str, value: Value) {
        self.change(|w| {
            assert!(
                w.ticket_attributes.iter().any(|a| a == name),
                "FakeZammad has no ticket attribute {name:?}"
            );
            w.ticket_mut(ticket_id)
                .attributes
                .insert(name.to_owned(), value);
            w.touch(ticket_id, STAFF_USER);
        });
    }

    /// An admin adds a custom ticket attribute (a new column every ticket has).
    pub fn add_ticket_attribute(&self, name: &str) {
        self.change(|w| {
            if !w.ticket_attributes.iter().any(|a| a == name) {
                w.ticket_attributes.push(name.to_owned());
                for ticket in w.tickets.values_mut() {
                    ticket.attributes.insert(name.to_owned(), Value::Null);
                }
            }
        });
    }

    /// An admin adds a state (of a Zammad state type: 1 new … 7 removed); returns its id.
    pub fn add_state(&self, name: &'static str, state_type_id: i64) -> i64 {
        self.change(|w| {
            let id = w.states.iter().map(|s| s.id).max().unwrap_or(0) + 1;
            w.states.push(State {
                id,
                name,
                state_type_id,
            });
            id
        })
    }

    /// The webhook Zammad's trigger would send about a ticket: the default payload, signed with
    /// `secret` (`X-Hub-Signature: sha1=<hex>`) when one is given.
    pub fn webhook(&self, ticket_id: i64, secret: Option<&str>) -> WebhookRequest {
        let body = {
            let w = self.world();
            let ticket = w
                .tickets
                .get(&ticket_id)
                .unwrap_or_else(|| panic!("FakeZammad has no ticket {ticket_id}"));
            let mut ticket_json = server::ticket_json(&w, ticket, true);
            if let Some(map) = ticket_json.as_object_mut() {
                // The default payload embeds associations as objects, not names.
                for (key, id) in [
                    ("customer", ticket.customer_id),
                    ("owner", ticket.owner_id),
                    ("created_by", ticket.created_by_id),
                    ("updated_by", ticket.updated_by_id),
                ] {
                    map.insert(key.to_owned(), server::user_json(&w, id));
                }
            }
            let article = w
                .articles
                .values()
                .rev()
                .find(|a| a.ticket_id == ticket_id)
                .map(|a| server::article_json(&w, a))
                .unwrap_or(Value::Null);
            serde_json::to_vec(&json!({"ticket": ticket_json, "article": article}))
                .expect("JSON serializes")
        };
        backstage::signed_webhook(body, secret)
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

    /// A ticket's articles, oldest first.
    pub fn articles(&self, ticket_id: i64) -> Vec<FakeArticle> {
        let w = self.world();
        w.articles
            .values()
            .filter(|a| a.ticket_id == ticket_id)
            .map(|a| w.fake_article(a))
            .collect()
    }

    /// Every link between tickets.
    pub fn links(&self) -> Vec<FakeLink> {
        self.world()
            .links
            .iter()
            .map(|l| FakeLink {
                source: l.source,
                target: l.target,
                link_type: l.link_type.clone(),
            })
            .collect()
    }

    /// Every request received so far, in the order they were answered.
    pub fn calls(&self) -> Vec<ZammadCall> {
        self.world().calls.clone()
    }

    /// While on, every request gets 503 with an HTML body, as the proxy in front of Zammad sends.
    pub fn set_outage(&self, on: bool) {
        self.change(|w| w.outage = on);
    }

    /// The next `times` authenticated requests fail with `status` (429 comes with `Retry-After`).
    pub fn fail_next(&self, times: usize, status: u16) {
        self.change(|w| w.fail_next.extend(std::iter::repeat_n(status, times)));
    }

    /// Waits until `check` returns `Some`, re-checking after every change; panics after
    /// `timeout` naming `what`.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&FakeZammad) -> Option<T>,
    ) -> T {
        self.inner.wait_until(timeout, what, || check(self)).await
    }
}
