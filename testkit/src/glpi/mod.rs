//! Fake GLPI server: the legacy REST API (`apirest.php`) of GLPI 10/11 (see crate docs).
//!
//! [`FakeGlpi`] serves `/apirest.php/...` on loopback in the wire format of `fixtures/glpi/*.json`
//! and of GLPI's own `src/Api/API.php`/`APIRest.php`, so the real adapter talks to it unchanged.
//! Tests act as support staff ([`FakeGlpi::staff_reply`], [`FakeGlpi::set_status`],
//! [`FakeGlpi::assign`], [`FakeGlpi::resolve`]...) or go through the same API with
//! [`GlpiBackstage`], and observe what teledesk did ([`FakeGlpi::tickets`],
//! [`FakeGlpi::followups`], [`FakeGlpi::calls`]).
//!
//! The world: entities 0 "Root entity" and 1 "Root entity > Acme"; user 7 `teledesk` ("teledesk
//! bot", the integration user, token [`FakeGlpi::user_token`]); user 10 `m.ivanova` ("Иванова
//! Мария", a technician with token [`FakeGlpi::staff_token`]); further staff users are created by
//! name from id 100. Every API client must send [`FakeGlpi::app_token`]. The server's clock is
//! UTC+03:00 ([`FakeGlpi::TIMEZONE`]): every time in and out is `YYYY-MM-DD HH:MM:SS` local.
//!
//! Modelled server behaviour (assumptions the docs do not settle are marked [U]):
//! - checks in GLPI's order: outage (503 HTML from a proxy), `App-Token` (400
//!   `ERROR_APP_TOKEN_PARAMETERS_MISSING` / `ERROR_WRONG_APP_TOKEN_PARAMETER`), then for every
//!   endpoint but `initSession` the `Session-Token` (400 `ERROR_SESSION_TOKEN_MISSING`, 401
//!   `ERROR_SESSION_TOKEN_INVALID`), then failures injected with [`FakeGlpi::fail_next`]; errors
//!   are `["ERROR_CODE", "message"]`, with GLPI's "; view documentation…" suffix where it adds one;
//! - `initSession` takes `Authorization: user_token <t>` (401 `ERROR_GLPI_LOGIN_USER_TOKEN` when
//!   unknown); [`FakeGlpi::expire_sessions`] forgets every session, as PHP's garbage collector does;
//! - a GET with a body is 400 `ERROR_JSON_PAYLOAD_FORBIDDEN`; a missing item 404
//!   `ERROR_ITEM_NOT_FOUND`; an unknown itemtype 400 `ERROR_RESOURCE_NOT_FOUND_NOR_COMMONDBTM`;
//! - lists and sub-item lists page with `range=start-end` (default `0-14`, the user's list limit),
//!   answer 206 when partial, `Content-Range: start-end/total` (only when total > 0) and
//!   `Accept-Range: <itemtype> 1000`, and 400 `ERROR_RANGE_EXCEED_TOTAL` past the end;
//!   sub-items are filtered as `getItems` does: by the parent's foreign key, else by
//!   `itemtype`/`items_id`, else not at all (`/Ticket/1/Ticket_Ticket` lists every link);
//!   `searchText[field]=v` is a case-insensitive substring match; `add_keys_names[]=users_id`
//!   adds `_keys_names` with the user's friendly name ("Realname Firstname", else the login);
//! - `GET /search/Ticket` knows options 1 name, 2 id, 3 priority, 5 technicians (logins), 12
//!   status, 15 opening date, 19 `date_mod`, 21 description, 27 number of followups, 80 entity;
//!   `contains`, `equals`, `notequals`, `lessthan`, `morethan` (strict) and `AND`/`OR` links;
//!   columns are 1, 80, the criteria's and `forcedisplay`'s (display preferences are not
//!   modelled [U]); `data` is left out when nothing matched, as GLPI does;
//! - every change of a ticket or of its followups, solutions, actors, documents, links and
//!   surveys sets its `date_mod` to now, in whole seconds: two changes within one second share it
//!   (like MySQL `datetime`), which is why the adapter tags search rows with a revision;
//! - creating a ticket: `entities_id` must be 0 or 1 (else 400 `ERROR_GLPI_ADD` "You don't have
//!   permission…"), a description is required [U], the session user becomes `users_id_recipient`
//!   and, unless `_users_id_requester` names another, the requester; `_users_id_assign` makes it
//!   "assigned" (2); priority comes from GLPI's default urgency × impact matrix unless given [U];
//!   `_groups_*` are accepted and not modelled;
//! - followups default to the session user; a solution sets the ticket to 5 (solved); adding an
//!   assigned technician to a new ticket makes it 2; moving a ticket out of 5/6 refuses its
//!   waiting solution and moving it to 6 accepts it [U]; setting 2 without a technician is kept
//!   as 2 [U]; updating urgency or impact without a priority recomputes it;
//! - `POST /Document` takes `multipart/form-data` with `uploadManifest` and any file part
//!   (`filename[0]`), stores the bytes as sent and the part's MIME type (GLPI sniffs it [U]),
//!   refuses files over GLPI's default 2 MB `document_max_size` [U] and links the document when
//!   the manifest names `itemtype`/`items_id` [U]; identical files are not de-duplicated [U];
//!   `GET /Document/:id` with `Accept: application/octet-stream` (or `?alt=media`) sends the file;
//! - a `Document_Item` linking the same document to the same item twice is refused [U];
//! - [`FakeGlpi::add_oddities`] makes a ticket's answers carry dropdowns as names, numbers as
//!   strings and sub-item rows of unseen shapes;
//! - `TicketSatisfaction` rows are created by API only (no survey cron), one per ticket, and only
//!   the ticket's writer or a requester may create or answer them [U]; `satisfaction` is 0–5;
//! - content is stored as sent and answered unchanged when the request says
//!   `X-GLPI-Sanitized-Content: false`, else HTML-escaped like GLPI 10.

mod backstage;
mod oddities;
mod server;

pub use backstage::GlpiBackstage;

use crate::serve::{FakeState, serve_on_loopback};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;
use time::macros::{format_description, offset};
use time::{OffsetDateTime, UtcOffset};

/// A ticket as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeTicket {
    /// Ticket id.
    pub id: i64,
    /// Entity.
    pub entities_id: i64,
    /// Title.
    pub name: String,
    /// Description (HTML as stored).
    pub content: String,
    /// Status code 1–6.
    pub status: i64,
    /// Urgency 1–5.
    pub urgency: i64,
    /// Priority 1–6.
    pub priority: i64,
    /// 1 incident, 2 request.
    pub ticket_type: i64,
    /// Category.
    pub itilcategories_id: i64,
    /// Request source.
    pub requesttypes_id: i64,
    /// The user who wrote it.
    pub users_id_recipient: i64,
    /// Last update, as the API shows it (server-local).
    pub date_mod: String,
}

/// A followup as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeFollowup {
    /// Followup id.
    pub id: i64,
    /// The ticket.
    pub ticket: i64,
    /// Author's user id.
    pub users_id: i64,
    /// Author's friendly name.
    pub author: String,
    /// HTML as stored.
    pub content: String,
    /// A private followup (internal note).
    pub is_private: bool,
}

/// A document as a test sees it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeDocument {
    /// Document id.
    pub id: i64,
    /// Title.
    pub name: String,
    /// File name.
    pub filename: String,
    /// MIME type.
    pub mime: String,
    /// Content, byte-exact.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for FakeDocument {
    // Bytes would flood assertion messages; their length is what helps.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeDocument")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("filename", &self.filename)
            .field("mime", &self.mime)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// A satisfaction survey as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeSatisfaction {
    /// Row id.
    pub id: i64,
    /// 0–5, `None` until answered.
    pub satisfaction: Option<i64>,
    /// The requester's comment.
    pub comment: Option<String>,
}

/// One request the fake received.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct GlpiCall {
    /// HTTP method (`GET`).
    pub method: String,
    /// Full path (`/apirest.php/Ticket/123`).
    pub path: String,
    /// Raw query string, empty when none.
    pub query: String,
    /// The JSON body, when there was one (multipart uploads: `None`).
    pub body: Option<serde_json::Value>,
    /// The status the fake answered.
    pub status: u16,
}

#[derive(Clone, Debug)]
struct User {
    id: i64,
    login: String,
    realname: String,
    firstname: String,
    token: Option<String>,
}

impl User {
    /// GLPI's default name format: "Realname Firstname", else the login.
    fn friendly(&self) -> String {
        let name = format!("{} {}", self.realname, self.firstname)
            .trim()
            .to_owned();
        if name.is_empty() {
            self.login.clone()
        } else {
            name
        }
    }
}

#[derive(Clone, Debug)]
struct Ticket {
    id: i64,
    entities_id: i64,
    name: String,
    content: String,
    status: i64,
    urgency: i64,
    impact: i64,
    priority: i64,
    ticket_type: i64,
    itilcategories_id: i64,
    requesttypes_id: i64,
    locations_id: i64,
    users_id_recipient: i64,
    users_id_lastupdater: i64,
    date: OffsetDateTime,
    date_mod: OffsetDateTime,
    solvedate: Option<OffsetDateTime>,
    closedate: Option<OffsetDateTime>,
    /// The SLA's times: to own (take) the ticket, and to resolve it.
    time_to_own: Option<OffsetDateTime>,
    time_to_resolve: Option<OffsetDateTime>,
}

#[derive(Clone, Debug)]
struct Followup {
    id: i64,
    ticket: i64,
    users_id: i64,
    content: String,
    is_private: bool,
    requesttypes_id: i64,
    date: OffsetDateTime,
}

#[derive(Clone, Debug)]
struct Solution {
    id: i64,
    ticket: i64,
    users_id: i64,
    content: String,
    /// 2 waiting, 3 accepted, 4 refused.
    status: i64,
    date: OffsetDateTime,
}

#[derive(Clone, Debug)]
struct Actor {
    id: i64,
    ticket: i64,
    users_id: i64,
    /// 1 requester, 2 assigned, 3 observer.
    actor_type: i64,
}

#[derive(Clone, Debug)]
struct Document {
    id: i64,
    entities_id: i64,
    name: String,
    filename: Option<String>,
    mime: Option<String>,
    bytes: Vec<u8>,
    users_id: i64,
    date: OffsetDateTime,
}

#[derive(Clone, Debug)]
struct DocumentItem {
    id: i64,
    documents_id: i64,
    itemtype: String,
    items_id: i64,
    users_id: i64,
    date: OffsetDateTime,
}

#[derive(Clone, Debug)]
struct Link {
    id: i64,
    ticket_1: i64,
    ticket_2: i64,
    link: i64,
}

#[derive(Clone, Debug)]
struct Satisfaction {
    id: i64,
    ticket: i64,
    survey_type: i64,
    date_begin: OffsetDateTime,
    date_answered: Option<OffsetDateTime>,
    satisfaction: Option<i64>,
    comment: Option<String>,
}

/// Everything the fake knows; one lock, never held across an await.
struct World {
    base_url: String,
    /// Entities by id, with their complete names (`Root entity > Acme`).
    entities: BTreeMap<i64, String>,
    app_token: Option<String>,
    users: Vec<User>,
    sessions: BTreeMap<String, i64>,
    next_session: u64,
    tickets: BTreeMap<i64, Ticket>,
    followups: BTreeMap<i64, Followup>,
    solutions: BTreeMap<i64, Solution>,
    actors: BTreeMap<i64, Actor>,
    documents: BTreeMap<i64, Document>,
    document_items: BTreeMap<i64, DocumentItem>,
    links: BTreeMap<i64, Link>,
    satisfactions: BTreeMap<i64, Satisfaction>,
    next_id: i64,
    calls: Vec<GlpiCall>,
    outage: bool,
    fail_next: crate::faults::InjectedFailures,
    /// A pinned server time, for tests of same-second changes.
    clock: Option<OffsetDateTime>,
    /// Tickets whose answers carry odd entries (see [`FakeGlpi::add_oddities`]).
    oddities: BTreeSet<i64>,
    /// Followups shown with odd field shapes (names for ids, numbers as strings).
    odd_followups: BTreeSet<i64>,
}

const INTEGRATION_USER: i64 = 7;
const STAFF_USER: i64 = 10;
const USER_TOKEN: &str = "glpi-fake-user-token-4f1c9e2a7b";
const STAFF_TOKEN: &str = "glpi-fake-staff-token-8d3b6a0e5c";
const APP_TOKEN: &str = "glpi-fake-app-token-2e7f4c1d9a";
/// GLPI's default `document_max_size` is 2 MB.
const MAX_DOCUMENT_SIZE: usize = 2 * 1024 * 1024;

/// The entities the fake starts with, with their complete names; `POST /Entity` adds more.
const ENTITIES: [(i64, &str); 2] = [(0, "Root entity"), (1, "Root entity > Acme")];

impl World {
    fn new(base_url: String) -> Self {
        Self {
            base_url,
            app_token: Some(APP_TOKEN.to_owned()),
            users: vec![
                User {
                    id: INTEGRATION_USER,
                    login: "teledesk".into(),
                    realname: "teledesk bot".into(),
                    firstname: String::new(),
                    token: Some(USER_TOKEN.into()),
                },
                User {
                    id: STAFF_USER,
                    login: "m.ivanova".into(),
                    realname: "Иванова".into(),
                    firstname: "Мария".into(),
                    token: Some(STAFF_TOKEN.into()),
                },
            ],
            sessions: BTreeMap::new(),
            next_session: 1,
            tickets: BTreeMap::new(),
            followups: BTreeMap::new(),
            solutions: BTreeMap::new(),
            actors: BTreeMap::new(),
            documents: BTreeMap::new(),
            document_items: BTreeMap::new(),
            links: BTreeMap::new(),
            entities: ENTITIES
                .iter()
                .map(|(id, name)| (*id, (*name).to_owned()))
                .collect(),
            satisfactions: BTreeMap::new(),
            next_id: 1,
            calls: Vec::new(),
            outage: false,
            fail_next: Default::default(),
            clock: None,
            oddities: BTreeSet::new(),
            odd_followups: BTreeSet::new(),
        }
    }

    /// Ids are unique across itemtypes, which makes mixed-up ids in an adapter fail loudly.
    fn id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Now, in whole seconds, as GLPI's `datetime` columns keep it.
    fn now(&self) -> OffsetDateTime {
        let now = self.clock.unwrap_or_else(OffsetDateTime::now_utc);
        now.replace_nanosecond(0).unwrap_or(now)
    }

    fn user(&self, id: i64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    fn user_named(&mut self, name: &str) -> i64 {
        if let Some(user) = self
            .users
            .iter()
            .find(|u| u.friendly() == name || u.login == name)
        {
            return user.id;
        }
        let id = 100 + self.users.iter().filter(|u| u.id >= 100).count() as i64;
        self.users.push(User {
            id,
            login: format!("staff{id}"),
            realname: name.to_owned(),
            firstname: String::new(),
            token: None,
        });
        id
    }

    fn friendly_name(&self, id: i64) -> String {
        self.user(id).map(User::friendly).unwrap_or_default()
    }

    fn ticket_mut(&mut self, id: i64) -> &mut Ticket {
        self.tickets
            .get_mut(&id)
            .unwrap_or_else(|| panic!("FakeGlpi has no ticket {id}"))
    }

    /// Records a change of a ticket (or of one of its sub-items) by `user`.
    fn touch(&mut self, ticket: i64, user: i64) {
        let now = self.now();
        if let Some(t) = self.tickets.get_mut(&ticket) {
            t.date_mod = now;
            t.users_id_lastupdater = user;
        }
    }

    fn add_followup(&mut self, ticket: i64, user: i64, content: &str, private: bool) -> i64 {
        let id = self.id();
        let date = self.now();
        self.followups.insert(
            id,
            Followup {
                id,
                ticket,
                users_id: user,
                content: content.to_owned(),
                is_private: private,
                requesttypes_id: 1,
                date,
            },
        );
        self.touch(ticket, user);
        id
    }

    fn add_actor(&mut self, ticket: i64, user: i64, actor_type: i64) -> i64 {
        let id = self.id();
        self.actors.insert(
            id,
            Actor {
                id,
                ticket,
                users_id: user,
                actor_type,
            },
        );
        if actor_type == 2 && self.tickets.get(&ticket).is_some_and(|t| t.status == 1) {
            self.ticket_mut(ticket).status = 2;
        }
        self.touch(ticket, user);
        id
    }

    fn add_solution(&mut self, ticket: i64, user: i64, content: &str) -> i64 {
        let id = self.id();
        let date = self.now();
        self.solutions.insert(
            id,
            Solution {
                id,
                ticket,
                users_id: user,
                content: content.to_owned(),
                status: 2,
                date,
            },
        );
        self.set_status(ticket, 5, user);
        id
    }

    fn add_document(&mut self, user: i64, entities_id: i64, file: NewFile) -> i64 {
        let id = self.id();
        let date = self.now();
        self.documents.insert(
            id,
            Document {
                id,
                entities_id,
                name: file.name,
                filename: file.filename,
                mime: file.mime,
                bytes: file.bytes,
                users_id: user,
                date,
            },
        );
        id
    }

    /// The ticket an item belongs to, for `date_mod` bumps.
    fn ticket_of(&self, itemtype: &str, id: i64) -> Option<i64> {
        match itemtype {
            "Ticket" => self.tickets.contains_key(&id).then_some(id),
            "ITILFollowup" => self.followups.get(&id).map(|f| f.ticket),
            "ITILSolution" => self.solutions.get(&id).map(|s| s.ticket),
            _ => None,
        }
    }

    fn link_document(&mut self, user: i64, document: i64, itemtype: &str, items_id: i64) -> i64 {
        let id = self.id();
        let date = self.now();
        self.document_items.insert(
            id,
            DocumentItem {
                id,
                documents_id: document,
                itemtype: itemtype.to_owned(),
                items_id,
                users_id: user,
                date,
            },
        );
        if let Some(ticket) = self.ticket_of(itemtype, items_id) {
            self.touch(ticket, user);
        }
        id
    }

    fn set_status(&mut self, ticket: i64, status: i64, user: i64) {
        let now = self.now();
        let old = self.ticket_mut(ticket).status;
        {
            let t = self.ticket_mut(ticket);
            t.status = status;
            if status == 5 && old != 5 {
                t.solvedate = Some(now);
            }
            if status == 6 {
                t.closedate = Some(now);
            }
            if status < 5 {
                t.solvedate = None;
                t.closedate = None;
            }
        }
        let verdict = if old >= 5 && status < 5 {
            Some(4)
        } else if status == 6 {
            Some(3)
        } else {
            None
        };
        if let Some(verdict) = verdict {
            for solution in self.solutions.values_mut() {
                if solution.ticket == ticket && solution.status == 2 {
                    solution.status = verdict;
                }
            }
        }
        self.touch(ticket, user);
    }

    fn entity_name(&self, id: i64) -> String {
        self.entities.get(&id).cloned().unwrap_or_default()
    }

    fn fake_ticket(&self, t: &Ticket) -> FakeTicket {
        FakeTicket {
            id: t.id,
            entities_id: t.entities_id,
            name: t.name.clone(),
            content: t.content.clone(),
            status: t.status,
            urgency: t.urgency,
            priority: t.priority,
            ticket_type: t.ticket_type,
            itilcategories_id: t.itilcategories_id,
            requesttypes_id: t.requesttypes_id,
            users_id_recipient: t.users_id_recipient,
            date_mod: format_time(t.date_mod),
        }
    }
}

struct NewFile {
    name: String,
    filename: Option<String>,
    mime: Option<String>,
    bytes: Vec<u8>,
}

/// The fake server's timezone; GLPI's times carry none.
const SERVER_TZ: UtcOffset = offset!(+3);

/// GLPI's time format in the server's timezone.
fn format_time(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    at.to_offset(SERVER_TZ)
        .format(&format)
        .expect("a time formats")
}

/// Reads GLPI's time format in the server's timezone.
fn parse_time(text: &str) -> Option<OffsetDateTime> {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(text.trim(), &format)
        .ok()
        .map(|t| t.assume_offset(SERVER_TZ).to_offset(UtcOffset::UTC))
}

/// GLPI's default priority matrix (`priority_matrix`), urgency × impact → priority [U].
fn priority_of(urgency: i64, impact: i64) -> i64 {
    const MATRIX: [[i64; 5]; 5] = [
        [1, 1, 2, 2, 2],
        [1, 2, 2, 3, 3],
        [2, 2, 3, 4, 4],
        [2, 3, 4, 4, 5],
        [2, 3, 4, 5, 5],
    ];
    let u = (urgency.clamp(1, 5) - 1) as usize;
    let i = (impact.clamp(1, 5) - 1) as usize;
    MATRIX[u][i]
}

/// A running fake GLPI; cheap to clone, every clone is the same server.
#[derive(Clone)]
pub struct FakeGlpi {
    inner: Arc<FakeState<World>>,
}

impl std::fmt::Debug for FakeGlpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGlpi")
            .field("addr", &self.inner.addr())
            .finish_non_exhaustive()
    }
}

impl FakeGlpi {
    /// The integration user (owner of [`Self::user_token`]).
    pub const INTEGRATION_USER_ID: i64 = INTEGRATION_USER;
    /// The technician owning [`Self::staff_token`].
    pub const STAFF_USER_ID: i64 = STAFF_USER;
    /// The technician's friendly name.
    pub const STAFF_NAME: &'static str = "Иванова Мария";
    /// The offset of the server's clock, as the adapter's `timezone` must say.
    pub const TIMEZONE: &'static str = "+03:00";
    /// The entity "Root entity > Acme".
    pub const ENTITY_ACME: i64 = 1;
    /// The request source "Telegram" an administrator added (GLPI ships 1–6: Helpdesk, E-Mail,
    /// Phone, Direct, Written, Other); staff pick it to address a ticket to a chat.
    pub const REQUEST_TYPE_TELEGRAM: i64 = 7;
    /// The request source "Telegram announcement" an administrator added.
    pub const REQUEST_TYPE_ANNOUNCEMENT: i64 = 8;

    /// Starts the server on `127.0.0.1:0` in the current Tokio runtime; it runs until the runtime
    /// shuts down.
    pub async fn start() -> FakeGlpi {
        let fake_at = |addr| FakeGlpi {
            inner: Arc::new(FakeState::new(
                World::new(format!("http://{addr}/apirest.php")),
                addr,
            )),
        };
        serve_on_loopback("FakeGlpi", fake_at, server::router).await
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.inner.world()
    }

    /// Runs `change` on the world and wakes waiters.
    fn change<T>(&self, change: impl FnOnce(&mut World) -> T) -> T {
        self.inner.change(change)
    }

    /// The API base (`http://127.0.0.1:PORT/apirest.php`), as the adapter's `url`.
    pub fn url(&self) -> String {
        format!("http://{}/apirest.php", self.inner.addr())
    }

    /// The integration user's API token.
    pub fn user_token(&self) -> String {
        USER_TOKEN.to_owned()
    }

    /// The technician [`Self::STAFF_USER_ID`]'s API token, for [`GlpiBackstage`].
    pub fn staff_token(&self) -> String {
        STAFF_TOKEN.to_owned()
    }

    /// The `App-Token` every call must carry.
    pub fn app_token(&self) -> String {
        APP_TOKEN.to_owned()
    }

    /// Turns the API client's `App-Token` requirement off (`None`) or on.
    pub fn require_app_token(&self, required: bool) {
        self.change(|w| w.app_token = required.then(|| APP_TOKEN.to_owned()));
    }

    /// Staff open a ticket in the UI (no teledesk marker) in the root entity; returns its id.
    pub fn staff_create_ticket(&self, title: &str) -> i64 {
        self.change(|w| {
            let id = w.id();
            let now = w.now();
            w.tickets.insert(
                id,
                Ticket {
                    id,
                    entities_id: 0,
                    name: title.to_owned(),
                    content: format!("<p>{title}</p>"),
                    status: 1,
                    urgency: 3,
                    impact: 3,
                    priority: 3,
                    ticket_type: 1,
                    itilcategories_id: 0,
                    requesttypes_id: 1,
                    locations_id: 0,
                    users_id_recipient: STAFF_USER,
                    users_id_lastupdater: STAFF_USER,
                    date: now,
                    date_mod: now,
                    solvedate: None,
                    closedate: None,
                    time_to_own: None,
                    time_to_resolve: None,
                },
            );
            w.add_actor(id, STAFF_USER, 1);
            id
        })
    }

    /// A staff member writes a public followup; returns its id.
    pub fn staff_reply(&self, ticket: i64, staff_name: &str, html: &str) -> i64 {
        self.change(|w| {
            let user = w.user_named(staff_name);
            w.add_followup(ticket, user, html, false)
        })
    }

    /// A staff member writes a public followup with a file linked to it; returns the followup id.
    pub fn staff_reply_with_file(
        &self,
        ticket: i64,
        staff_name: &str,
        html: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> i64 {
        self.change(|w| {
            let user = w.user_named(staff_name);
            let followup = w.add_followup(ticket, user, html, false);
            let entity = w.tickets.get(&ticket).map_or(0, |t| t.entities_id);
            let file = NewFile {
                name: format!("Document Ticket {ticket}"),
                filename: Some(file_name.to_owned()),
                mime: Some("application/octet-stream".to_owned()),
                bytes,
            };
            let document = w.add_document(user, entity, file);
            w.link_document(user, document, "ITILFollowup", followup);
            followup
        })
    }

    /// A staff member writes a private followup (an internal note); returns its id.
    pub fn internal_note(&self, ticket: i64, staff_name: &str, html: &str) -> i64 {
        self.change(|w| {
            let user = w.user_named(staff_name);
            w.add_followup(ticket, user, html, true)
        })
    }

    /// The requester writes a followup in the self-service portal; returns its id.
    pub fn requester_reply(&self, ticket: i64, html: &str) -> i64 {
        self.change(|w| {
            let requester = w
                .actors
                .values()
                .find(|a| a.ticket == ticket && a.actor_type == 1)
                .map_or(INTEGRATION_USER, |a| a.users_id);
            w.add_followup(ticket, requester, html, false)
        })
    }

    /// Staff change the status (1–6).
    /// An SLA (or staff) sets the ticket's time to own and time to resolve; moves `date_mod`.
    pub fn set_sla_times(
        &self,
        ticket: i64,
        time_to_own: Option<OffsetDateTime>,
        time_to_resolve: Option<OffsetDateTime>,
    ) {
        self.change(|w| {
            let now = w.now();
            let t = w.ticket_mut(ticket);
            t.time_to_own = time_to_own;
            t.time_to_resolve = time_to_resolve;
            t.date_mod = now;
        })
    }

    pub fn set_status(&self, ticket: i64, status: i64) {
        self.change(|w| w.set_status(ticket, status, STAFF_USER));
    }

    /// Staff assign `staff_name` as technician.
    pub fn assign(&self, ticket: i64, staff_name: &str) {
        self.change(|w| {
            let user = w.user_named(staff_name);
            w.add_actor(ticket, user, 2);
        });
    }

    /// Staff add a solution (the ticket becomes solved); returns its id.
    pub fn resolve(&self, ticket: i64, staff_name: &str, html: &str) -> i64 {
        self.change(|w| {
            let user = w.user_named(staff_name);
            w.add_solution(ticket, user, html)
        })
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

    /// From now on the answers about the ticket carry what GLPI may send beside the usual:
    /// dropdown fields as names (`entities_id`, `locations_id`), numbers as strings, a private
    /// followup whose author and request type are names, a followup whose id is an object, a
    /// `Document_Item` of the staff followup whose document id is no number, plugin fields.
    /// Every text in them contains [`crate::conformance::ODDITY`]. Counts as a change.
    pub fn add_oddities(&self, ticket: i64) {
        self.change(|w| {
            w.oddities.insert(ticket);
            let mailgate = w.user_named("glpi-mailgate");
            let note = format!("<p>{}: mail collector note</p>", crate::conformance::ODDITY);
            let followup = w.add_followup(ticket, mailgate, &note, true);
            w.odd_followups.insert(followup);
        });
    }

    /// A ticket's followups, oldest first.
    pub fn followups(&self, ticket: i64) -> Vec<FakeFollowup> {
        let w = self.world();
        w.followups
            .values()
            .filter(|f| f.ticket == ticket)
            .map(|f| FakeFollowup {
                id: f.id,
                ticket: f.ticket,
                users_id: f.users_id,
                author: w.friendly_name(f.users_id),
                content: f.content.clone(),
                is_private: f.is_private,
            })
            .collect()
    }

    /// The documents linked to an item (`"Ticket"` or `"ITILFollowup"`), oldest link first.
    pub fn documents_of(&self, itemtype: &str, id: i64) -> Vec<FakeDocument> {
        let w = self.world();
        w.document_items
            .values()
            .filter(|l| l.itemtype == itemtype && l.items_id == id)
            .filter_map(|l| w.documents.get(&l.documents_id))
            .map(|d| FakeDocument {
                id: d.id,
                name: d.name.clone(),
                filename: d.filename.clone().unwrap_or_default(),
                mime: d.mime.clone().unwrap_or_default(),
                bytes: d.bytes.clone(),
            })
            .collect()
    }

    /// Every `Ticket_Ticket` link as `(tickets_id_1, tickets_id_2, link)`.
    pub fn links(&self) -> Vec<(i64, i64, i64)> {
        self.world()
            .links
            .values()
            .map(|l| (l.ticket_1, l.ticket_2, l.link))
            .collect()
    }

    /// The ticket's satisfaction survey, if one exists.
    pub fn satisfaction(&self, ticket: i64) -> Option<FakeSatisfaction> {
        self.world()
            .satisfactions
            .values()
            .find(|s| s.ticket == ticket)
            .map(|s| FakeSatisfaction {
                id: s.id,
                satisfaction: s.satisfaction,
                comment: s.comment.clone(),
            })
    }

    /// The names of the assigned technicians of a ticket.
    pub fn technicians(&self, ticket: i64) -> Vec<String> {
        let w = self.world();
        w.actors
            .values()
            .filter(|a| a.ticket == ticket && a.actor_type == 2)
            .map(|a| w.friendly_name(a.users_id))
            .collect()
    }

    /// Every request received so far, in the order they were answered.
    pub fn calls(&self) -> Vec<GlpiCall> {
        self.world().calls.clone()
    }

    /// Forgets every session, as PHP's session garbage collection does; the next call with an
    /// old `Session-Token` gets 401 `ERROR_SESSION_TOKEN_INVALID`.
    pub fn expire_sessions(&self) {
        self.change(|w| w.sessions.clear());
    }

    /// Stops the server's clock at `at` (`None` lets it run again): every change then happens in
    /// the same second, as a burst of changes does on a real server.
    pub fn pin_clock(&self, at: Option<OffsetDateTime>) {
        self.change(|w| w.clock = at);
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.world().sessions.len()
    }

    /// While on, every request gets 503 with an HTML body, as a proxy in front of GLPI sends.
    pub fn set_outage(&self, on: bool) {
        self.change(|w| w.outage = on);
    }

    /// The next `times` authenticated requests fail with `status` (5xx and 429 as a proxy's HTML
    /// page, others as GLPI's `["ERROR", …]`).
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
        mut check: impl FnMut(&FakeGlpi) -> Option<T>,
    ) -> T {
        self.inner.wait_until(timeout, what, || check(self)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_use_the_server_offset() {
        let at = time::macros::datetime!(2026-11-21 12:05:13 UTC);
        assert_eq!(format_time(at), "2026-11-21 15:05:13");
        assert_eq!(parse_time("2026-11-21 15:05:13"), Some(at));
    }

    #[test]
    fn priority_follows_the_default_matrix() {
        assert_eq!(priority_of(3, 3), 3);
        assert_eq!(priority_of(5, 5), 5);
        assert_eq!(priority_of(1, 1), 1);
        assert_eq!(priority_of(4, 3), 4);
    }

    #[test]
    fn friendly_names_follow_glpis_default_format() {
        let user = User {
            id: 1,
            login: "m.ivanova".into(),
            realname: "Иванова".into(),
            firstname: "Мария".into(),
            token: None,
        };
        assert_eq!(user.friendly(), "Иванова Мария");
        let bare = User {
            realname: String::new(),
            firstname: String::new(),
            ..user
        };
        assert_eq!(bare.friendly(), "m.ivanova");
    }
}
