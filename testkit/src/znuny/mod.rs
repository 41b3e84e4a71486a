//! Fake Znuny / OTRS 6 / OTOBO Generic Interface server (see crate docs).
//!
//! [`FakeZnuny`] serves the web service `teledesk` exactly as `adapters/znuny/teledesk-webservice.yml`
//! defines it, under `/otrs/nph-genericinterface.pl/Webservice/teledesk` (and
//! `/WebserviceID/1`), in the wire format of `fixtures/znuny/*.json`, so the real adapter talks to
//! it unchanged. Tests act as support staff, either through the Generic Interface itself (see
//! [`backstage::ZnunyBackstage`]) or directly ([`FakeZnuny::staff_reply`], [`FakeZnuny::assign`],
//! [`FakeZnuny::resolve`]...), and observe what teledesk did ([`FakeZnuny::tickets`],
//! [`FakeZnuny::articles`], [`FakeZnuny::calls`]).
//!
//! The world: Znuny's default states (ids and types as in the initial insert), priorities
//! `1 very low`…`5 very high`, communication channels Email(1), Phone(2), Internal(3), Chat(4),
//! queues `Postmaster`, `Raw`, `Junk`, `Misc`, `Support`, `Support::Telegram`, types
//! `Unclassified`, `Incident`, `Service Request`, `Problem`, service `Telegram`, customer users
//! `telegram` and `acme`, ticket dynamic fields `TeledeskKey`, `Resolution`, `TelegramChat`,
//! `Company` and the checkbox `TelegramAnnouncement` (`"1"` when ticked). Agents: 1 `root@localhost` "Admin OTRS" (the owner of every new ticket),
//! 2 `teledesk` "teledesk bot" (the integration agent), 3 `mivanova` "Мария Иванова" (staff);
//! [`FakeZnuny::add_agent`] adds more. The server's time zone (`OTRSTimeZone`) is +03:00 unless
//! [`FakeZnuny::start_with_offset`] says otherwise, so a client that takes its naive times for
//! UTC is three hours off.
//!
//! Modelled server behaviour, from Znuny's `Kernel/GenericInterface` sources (assumptions the
//! sources do not settle are marked [U]):
//! - routing as `Transport/HTTP/REST.pm`: everything up to `Webservice/<name>` is cut, the rest is
//!   matched against the route table (operations in name order, first match wins); query keys
//!   given twice become arrays; `GET` bodies are ignored; path parameters win over query ones.
//!   No route: HTTP 500 `text/plain` `HTTP::REST Error while determine Operation for request URI
//!   '<path>'.`; a body that is not JSON: 500 `Error while decoding request content.`; JSON that
//!   is not a non-empty object: 500 `Unsupported request content structure.` (Znuny also takes an
//!   array of requests; not modelled); an unknown web service name: 500 `Could not load web
//!   service configuration` [U on the text];
//! - permissions are not modelled: every agent may read and write every queue;
//! - authentication per operation (`SessionID`, or `UserLogin` + `Password`); a refused one is an
//!   HTTP 200 `{"Error": {"ErrorCode": "<Op>.AuthFail", ...}}`, as every operation error is;
//!   sessions never expire on their own, [`FakeZnuny::expire_sessions`] ends them all;
//! - `TicketGet` answers `AccessDenied` for a ticket that does not exist (the permission check
//!   comes first); `ArticleOrder=DESC` only applies together with `ArticleLimit`; attachments are
//!   listed only with `Attachments=1`, their content only with `GetAttachmentContents` (default 1);
//!   an article without files has no `Attachment` key;
//! - `TicketSearch` filters `TicketLastChangeTimeNewerDate`/`OlderDate`,
//!   `TicketCreateTimeNewerDate`/`OlderDate` (inclusive, naive local time), `CreatedUserIDs`,
//!   `Queues`, `States`, `StateType`, `Priorities`, `TicketNumber`, `CustomerUserLogin` and
//!   `DynamicField` (`{"Name", "Equals"}`, or the older `DynamicField_<Name>`); sorts by `Age`
//!   (default), `Changed` or `TicketNumber`, `OrderBy` `Down` (default) or `Up`, ties by id [U];
//!   `Limit` default 500; answers `{"TicketID": [...]}` or `{}`; an unreadable date matches
//!   nothing [U];
//! - `TicketCreate`/`TicketUpdate` validate as the sources do (title, customer user, queue,
//!   state, priority, type, service, owner, lock, sender type, channel, content type, dynamic
//!   field names, attachment fields), trim leading and trailing whitespace of every ticket and
//!   article value, lower-case attachment content types, turn `\r\n` in bodies into `\n`, default
//!   an agent article's `From` to the agent's full name, give new tickets owner 1 and lock
//!   `unlock`, unlock on a closed state, refuse a pending state without `PendingTime`, and put
//!   top-level `Attachment`s on the request's (first) article;
//! - times are second-granular: `Created`/`Changed`/`CreateTime` as naive local times,
//!   `IncomingTime` as a UNIX epoch; a write that changes nothing does not touch `Changed`;
//! - Perl-style JSON: ids, flags and epochs read from the database are strings (`"TicketID":
//!   "12"`, `"IsVisibleForCustomer": "1"`), computed values numbers [U which ones exactly];
//! - [`FakeZnuny::add_oddities`] makes a ticket's `TicketGet` answers carry `system` articles,
//!   hash-valued dynamic fields and entries of unseen shapes;
//! - requests are checked in this order: outage (503 HTML from a "proxy"), failures injected
//!   with [`FakeZnuny::fail_next`] (500 with a fault body, or the bare status), then the
//!   web service. Every request is recorded.

pub mod backstage;
mod oddities;
mod server;

use crate::serve::{FakeState, serve_on_loopback};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;
use time::macros::{format_description, offset};
use time::{OffsetDateTime, UtcOffset};

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
    /// Queue name.
    pub queue: String,
    /// State name.
    pub state: String,
    /// State type.
    pub state_type: String,
    /// Priority name.
    pub priority: String,
    /// Type name.
    pub ticket_type: String,
    /// Service name, empty when none.
    pub service: String,
    /// Customer user login.
    pub customer_user: String,
    /// Owner login.
    pub owner: String,
    /// `lock` or `unlock`.
    pub lock: String,
    /// Creation time as the API shows it (naive local).
    pub created: String,
    /// Last change time as the API shows it (naive local).
    pub changed: String,
    /// Dynamic field values that are set.
    pub dynamic_fields: BTreeMap<String, Value>,
}

/// An article as a test sees it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FakeArticle {
    /// Article id.
    pub id: i64,
    /// Ticket id.
    pub ticket_id: i64,
    /// `agent`, `customer` or `system`.
    pub sender_type: String,
    /// Channel name.
    pub channel: String,
    /// Visible to the customer.
    pub visible: bool,
    /// `From`.
    pub from: String,
    /// Subject.
    pub subject: String,
    /// Body as stored (trimmed, `\n` line ends).
    pub body: String,
    /// The agent who created it.
    pub create_by: i64,
    /// UNIX epoch of its creation.
    pub incoming_time: i64,
    /// Its files.
    pub attachments: Vec<FakeFile>,
}

/// A file as a test sees it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeFile {
    /// File name.
    pub name: String,
    /// MIME type as stored (lower case).
    pub content_type: String,
    /// Content, byte-exact.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for FakeFile {
    // Bytes would flood assertion messages; their length is what helps.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeFile")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// One request the fake received.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ZnunyCall {
    /// HTTP method.
    pub method: String,
    /// The route after the web service (`/Ticket/12`).
    pub route: String,
    /// The operation it was routed to, when one matched.
    pub operation: Option<String>,
    /// Raw query string, empty when none.
    pub query: String,
    /// The JSON body, when there was one.
    pub body: Option<Value>,
    /// The HTTP status answered.
    pub status: u16,
    /// The `ErrorCode` of an operation error answered with 200.
    pub error_code: Option<String>,
    /// When the request reached the fake, before [`FakeZnuny::set_latency`]: the moment a
    /// client's call started, as a benchmark times it.
    pub received_at: std::time::Instant,
}

#[derive(Clone, Debug)]
struct Agent {
    id: i64,
    login: String,
    password: String,
    first_name: String,
    last_name: String,
}

impl Agent {
    fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_owned()
    }

    fn email(&self) -> String {
        format!("{}@acme.example", self.login.replace('@', "."))
    }
}

#[derive(Clone, Copy, Debug)]
struct StateDef {
    id: i64,
    name: &'static str,
    type_name: &'static str,
}

/// Znuny's default states, ids as in `otrs-initial_insert`.
const STATES: [StateDef; 9] = [
    StateDef {
        id: 1,
        name: "new",
        type_name: "new",
    },
    StateDef {
        id: 2,
        name: "closed successful",
        type_name: "closed",
    },
    StateDef {
        id: 3,
        name: "closed unsuccessful",
        type_name: "closed",
    },
    StateDef {
        id: 4,
        name: "open",
        type_name: "open",
    },
    StateDef {
        id: 5,
        name: "removed",
        type_name: "removed",
    },
    StateDef {
        id: 6,
        name: "pending reminder",
        type_name: "pending reminder",
    },
    StateDef {
        id: 7,
        name: "pending auto close+",
        type_name: "pending auto",
    },
    StateDef {
        id: 8,
        name: "pending auto close-",
        type_name: "pending auto",
    },
    StateDef {
        id: 9,
        name: "merged",
        type_name: "merged",
    },
];
const PRIORITIES: [&str; 5] = ["1 very low", "2 low", "3 normal", "4 high", "5 very high"];
const CHANNELS: [&str; 4] = ["Email", "Phone", "Internal", "Chat"];
const SENDER_TYPES: [&str; 3] = ["agent", "system", "customer"];
const QUEUES: [&str; 6] = [
    "Postmaster",
    "Raw",
    "Junk",
    "Misc",
    "Support",
    "Support::Telegram",
];
const TYPES: [&str; 4] = ["Unclassified", "Incident", "Service Request", "Problem"];
const SERVICES: [&str; 1] = ["Telegram"];
const CUSTOMER_USERS: [&str; 2] = ["telegram", "acme"];
/// Ticket dynamic fields; the fake has no article dynamic fields.
const TICKET_FIELDS: [&str; 5] = [
    "TeledeskKey",
    "Resolution",
    "TelegramChat",
    "Company",
    "TelegramAnnouncement",
];

#[derive(Clone, Debug)]
struct Ticket {
    id: i64,
    number: String,
    title: String,
    queue: String,
    state: String,
    priority: String,
    ticket_type: String,
    service: String,
    customer_user: String,
    owner_id: i64,
    responsible_id: i64,
    locked: bool,
    created: OffsetDateTime,
    changed: OffsetDateTime,
    create_by: i64,
    change_by: i64,
    pending_until: Option<OffsetDateTime>,
    dynamic_fields: BTreeMap<String, Value>,
    /// The escalation times an SLA or queue sets: first response, and solution.
    escalation_response: Option<OffsetDateTime>,
    escalation_solution: Option<OffsetDateTime>,
}

#[derive(Clone, Debug)]
struct Article {
    id: i64,
    ticket_id: i64,
    sender_type: String,
    channel: String,
    visible: bool,
    from: String,
    to: String,
    subject: String,
    body: String,
    content_type: String,
    created: OffsetDateTime,
    create_by: i64,
    files: Vec<FakeFile>,
}

/// A new article, before it gets an id and a time.
struct NewArticle {
    sender_type: String,
    channel: String,
    visible: bool,
    from: Option<String>,
    to: String,
    subject: String,
    body: String,
    content_type: String,
    files: Vec<FakeFile>,
}

/// Everything the fake knows; one lock, never held across an await.
struct World {
    zone: UtcOffset,
    agents: Vec<Agent>,
    sessions: BTreeMap<String, i64>,
    tickets: BTreeMap<i64, Ticket>,
    articles: BTreeMap<i64, Article>,
    next_ticket: i64,
    next_article: i64,
    next_session: u64,
    ticket_counter: u64,
    calls: Vec<ZnunyCall>,
    outage: bool,
    fail_next: VecDeque<u16>,
    /// Added to every answer (see [`FakeZnuny::set_latency`]).
    latency: std::time::Duration,
    frozen: Option<OffsetDateTime>,
    /// Tickets whose answers carry odd entries (see [`FakeZnuny::add_oddities`]).
    oddities: BTreeSet<i64>,
}

const ROOT: i64 = 1;
const INTEGRATION_AGENT: i64 = 2;
const STAFF_AGENT: i64 = 3;

impl World {
    fn new(zone: UtcOffset) -> Self {
        let agent = |id: i64, login: &str, password: &str, first: &str, last: &str| Agent {
            id,
            login: login.to_owned(),
            password: password.to_owned(),
            first_name: first.to_owned(),
            last_name: last.to_owned(),
        };
        Self {
            zone,
            agents: vec![
                agent(ROOT, "root@localhost", "root", "Admin", "OTRS"),
                agent(
                    INTEGRATION_AGENT,
                    FakeZnuny::AGENT_LOGIN,
                    FakeZnuny::AGENT_PASSWORD,
                    "teledesk",
                    "bot",
                ),
                agent(
                    STAFF_AGENT,
                    FakeZnuny::STAFF_LOGIN,
                    FakeZnuny::STAFF_PASSWORD,
                    "Мария",
                    "Иванова",
                ),
            ],
            sessions: BTreeMap::new(),
            tickets: BTreeMap::new(),
            articles: BTreeMap::new(),
            next_ticket: 4001,
            next_article: 9001,
            next_session: 1,
            ticket_counter: 1,
            calls: Vec::new(),
            outage: false,
            fail_next: VecDeque::new(),
            latency: std::time::Duration::ZERO,
            frozen: None,
            oddities: BTreeSet::new(),
        }
    }

    /// The server's clock: now, to the second (Znuny's timestamps have no fraction).
    fn now(&self) -> OffsetDateTime {
        let now = self.frozen.unwrap_or_else(OffsetDateTime::now_utc);
        now.replace_nanosecond(0).unwrap_or(now)
    }

    fn local(&self, at: OffsetDateTime) -> String {
        let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        at.to_offset(self.zone)
            .format(&format)
            .expect("a time formats")
    }

    fn agent(&self, id: i64) -> Option<&Agent> {
        self.agents.iter().find(|a| a.id == id)
    }

    fn agent_by_login(&self, login: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.login == login)
    }

    fn login_of(&self, id: i64) -> String {
        self.agent(id).map(|a| a.login.clone()).unwrap_or_default()
    }

    fn state(&self, name: &str) -> Option<StateDef> {
        STATES.iter().copied().find(|s| s.name == name)
    }

    fn ticket_mut(&mut self, id: i64) -> &mut Ticket {
        self.tickets
            .get_mut(&id)
            .unwrap_or_else(|| panic!("FakeZnuny has no ticket {id}"))
    }

    fn touch(&mut self, ticket_id: i64, by: i64) {
        let now = self.now();
        let ticket = self.ticket_mut(ticket_id);
        ticket.changed = now;
        ticket.change_by = by;
    }

    fn new_session(&mut self, user: i64) -> String {
        let n = self.next_session;
        self.next_session += 1;
        // Znuny's session ids are 32 random alphanumerics; these are unique and as long.
        let id = format!("FakeZnunySession{n:016}");
        self.sessions.insert(id.clone(), user);
        id
    }

    fn create_ticket(&mut self, fields: NewTicket, by: i64) -> i64 {
        let now = self.now();
        let id = self.next_ticket;
        self.next_ticket += 1;
        let counter = self.ticket_counter;
        self.ticket_counter += 1;
        let date = now.to_offset(self.zone);
        let number = format!(
            "{:04}{:02}{:02}10{counter:06}",
            date.year(),
            u8::from(date.month()),
            date.day()
        );
        self.tickets.insert(
            id,
            Ticket {
                id,
                number,
                title: fields.title,
                queue: fields.queue,
                state: fields.state,
                priority: fields.priority,
                ticket_type: fields.ticket_type,
                service: fields.service,
                customer_user: fields.customer_user,
                owner_id: ROOT,
                responsible_id: ROOT,
                locked: false,
                created: now,
                changed: now,
                create_by: by,
                change_by: by,
                pending_until: None,
                dynamic_fields: BTreeMap::new(),
                escalation_response: None,
                escalation_solution: None,
            },
        );
        id
    }

    fn add_article(&mut self, ticket_id: i64, article: NewArticle, by: i64) -> i64 {
        let now = self.now();
        let id = self.next_article;
        self.next_article += 1;
        let from = article.from.unwrap_or_else(|| {
            if article.sender_type == "customer" {
                self.tickets
                    .get(&ticket_id)
                    .map(|t| t.customer_user.clone())
                    .unwrap_or_default()
            } else {
                self.agent(by).map(Agent::full_name).unwrap_or_default()
            }
        });
        self.articles.insert(
            id,
            Article {
                id,
                ticket_id,
                sender_type: article.sender_type,
                channel: article.channel,
                visible: article.visible,
                from,
                to: article.to,
                subject: article.subject,
                body: article.body.replace("\r\n", "\n"),
                content_type: article.content_type,
                created: now,
                create_by: by,
                files: article.files,
            },
        );
        self.touch(ticket_id, by);
        id
    }

    fn set_state(&mut self, ticket_id: i64, state: &str, by: i64) -> bool {
        let Some(def) = self.state(state) else {
            return false;
        };
        let ticket = self.ticket_mut(ticket_id);
        let mut changed = false;
        if def.type_name == "closed" && ticket.locked {
            ticket.locked = false;
            changed = true;
        }
        if ticket.state != def.name {
            ticket.state = def.name.to_owned();
            changed = true;
        }
        if changed {
            self.touch(ticket_id, by);
        }
        true
    }

    fn fake_ticket(&self, t: &Ticket) -> FakeTicket {
        FakeTicket {
            id: t.id,
            number: t.number.clone(),
            title: t.title.clone(),
            queue: t.queue.clone(),
            state: t.state.clone(),
            state_type: self
                .state(&t.state)
                .map(|s| s.type_name.to_owned())
                .unwrap_or_default(),
            priority: t.priority.clone(),
            ticket_type: t.ticket_type.clone(),
            service: t.service.clone(),
            customer_user: t.customer_user.clone(),
            owner: self.login_of(t.owner_id),
            lock: if t.locked { "lock" } else { "unlock" }.to_owned(),
            created: self.local(t.created),
            changed: self.local(t.changed),
            dynamic_fields: t.dynamic_fields.clone(),
        }
    }

    fn fake_article(&self, a: &Article) -> FakeArticle {
        FakeArticle {
            id: a.id,
            ticket_id: a.ticket_id,
            sender_type: a.sender_type.clone(),
            channel: a.channel.clone(),
            visible: a.visible,
            from: a.from.clone(),
            subject: a.subject.clone(),
            body: a.body.clone(),
            create_by: a.create_by,
            incoming_time: a.created.unix_timestamp(),
            attachments: a.files.clone(),
        }
    }
}

/// Ticket fields of a create, validated.
struct NewTicket {
    title: String,
    queue: String,
    state: String,
    priority: String,
    ticket_type: String,
    service: String,
    customer_user: String,
}

/// A running fake Znuny; cheap to clone, every clone is the same server.
#[derive(Clone)]
pub struct FakeZnuny {
    inner: Arc<FakeState<World>>,
}

impl std::fmt::Debug for FakeZnuny {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeZnuny")
            .field("addr", &self.inner.addr())
            .finish_non_exhaustive()
    }
}

impl FakeZnuny {
    /// The web service name (the last part of the adapter's `url`).
    pub const WEBSERVICE: &'static str = "teledesk";
    /// The integration agent's login.
    pub const AGENT_LOGIN: &'static str = "teledesk";
    /// The integration agent's password.
    pub const AGENT_PASSWORD: &'static str = "teledesk-fake-password-5b1e";
    /// The integration agent's user id.
    pub const AGENT_ID: i64 = INTEGRATION_AGENT;
    /// The staff agent's login.
    pub const STAFF_LOGIN: &'static str = "mivanova";
    /// The staff agent's password.
    pub const STAFF_PASSWORD: &'static str = "mivanova-fake-password-77c2";
    /// The staff agent's full name.
    pub const STAFF_NAME: &'static str = "Мария Иванова";
    /// The customer user standing for Telegram clients.
    pub const CUSTOMER_USER: &'static str = "telegram";
    /// The default queue.
    pub const QUEUE: &'static str = "Support";
    /// A second queue, for `[chats.ticket]` overrides.
    pub const TELEGRAM_QUEUE: &'static str = "Support::Telegram";
    /// The ticket dynamic field for the idempotency key.
    pub const KEY_FIELD: &'static str = "TeledeskKey";
    /// The ticket dynamic field for resolutions.
    pub const RESOLUTION_FIELD: &'static str = "Resolution";
    /// The ticket dynamic field (Text) staff address a ticket to a chat with.
    pub const CHAT_FIELD: &'static str = "TelegramChat";
    /// The ticket dynamic field (Checkbox) that marks an addressed ticket as an announcement.
    pub const ANNOUNCEMENT_FIELD: &'static str = "TelegramAnnouncement";

    /// Starts the server on `127.0.0.1:0` with the server time zone +03:00.
    pub async fn start() -> FakeZnuny {
        Self::start_with_offset(offset!(+3)).await
    }

    /// Starts the server with the given `OTRSTimeZone` offset; it runs until the runtime shuts
    /// down.
    pub async fn start_with_offset(zone: UtcOffset) -> FakeZnuny {
        let fake_at = |addr| FakeZnuny {
            inner: Arc::new(FakeState::new(World::new(zone), addr)),
        };
        serve_on_loopback("FakeZnuny", fake_at, server::router).await
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.inner.world()
    }

    /// Runs `change` on the world and wakes waiters.
    fn change<T>(&self, change: impl FnOnce(&mut World) -> T) -> T {
        self.inner.change(change)
    }

    /// The web service address (`http://127.0.0.1:PORT/otrs/nph-genericinterface.pl/Webservice/teledesk`).
    pub fn url(&self) -> String {
        format!(
            "http://{}/otrs/nph-genericinterface.pl/Webservice/{}",
            self.inner.addr(),
            Self::WEBSERVICE
        )
    }

    /// The server's time zone offset.
    pub fn utc_offset(&self) -> UtcOffset {
        self.world().zone
    }

    /// Adds an agent (password `<login>-password`); returns its user id.
    pub fn add_agent(&self, login: &str, first_name: &str, last_name: &str) -> i64 {
        self.change(|w| {
            let id = w.agents.iter().map(|a| a.id).max().unwrap_or(0) + 1;
            w.agents.push(Agent {
                id,
                login: login.to_owned(),
                password: format!("{login}-password"),
                first_name: first_name.to_owned(),
                last_name: last_name.to_owned(),
            });
            id
        })
    }

    fn staff_id(w: &World, login: &str) -> i64 {
        w.agent_by_login(login)
            .unwrap_or_else(|| panic!("FakeZnuny has no agent {login:?}"))
            .id
    }

    /// Staff open a ticket in the agent interface (not through teledesk); returns its id.
    pub fn staff_create_ticket(&self, login: &str, title: &str, body: &str) -> i64 {
        self.change(|w| {
            let by = Self::staff_id(w, login);
            let id = w.create_ticket(
                NewTicket {
                    title: title.to_owned(),
                    queue: Self::QUEUE.to_owned(),
                    state: "new".to_owned(),
                    priority: "3 normal".to_owned(),
                    ticket_type: "Unclassified".to_owned(),
                    service: String::new(),
                    customer_user: Self::CUSTOMER_USER.to_owned(),
                },
                by,
            );
            w.add_article(id, staff_article(body, true, Vec::new()), by);
            id
        })
    }

    /// A staff member writes a public reply (Email channel); returns the article id.
    pub fn staff_reply(&self, ticket: i64, login: &str, body: &str) -> i64 {
        self.change(|w| {
            let by = Self::staff_id(w, login);
            w.add_article(ticket, staff_article(body, true, Vec::new()), by)
        })
    }

    /// A staff member writes a public reply with a file; returns the article id.
    pub fn staff_reply_with_file(
        &self,
        ticket: i64,
        login: &str,
        body: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> i64 {
        self.change(|w| {
            let by = Self::staff_id(w, login);
            let file = FakeFile {
                name: file_name.to_owned(),
                content_type: "application/octet-stream".to_owned(),
                bytes,
            };
            w.add_article(ticket, staff_article(body, true, vec![file]), by)
        })
    }

    /// A staff member writes an internal note; returns the article id.
    pub fn internal_note(&self, ticket: i64, login: &str, body: &str) -> i64 {
        self.change(|w| {
            let by = Self::staff_id(w, login);
            w.add_article(ticket, staff_article(body, false, Vec::new()), by)
        })
    }

    /// Staff set a state by name (pending states get a pending time a day ahead).
    /// An SLA (or the queue's escalation settings) sets the ticket's escalation times; moves
    /// `Changed`.
    pub fn set_escalation(
        &self,
        ticket: i64,
        response: Option<OffsetDateTime>,
        solution: Option<OffsetDateTime>,
    ) {
        self.change(|w| {
            let now = w.now();
            let t = w.ticket_mut(ticket);
            t.escalation_response = response;
            t.escalation_solution = solution;
            t.changed = now;
        })
    }

    pub fn set_state(&self, ticket: i64, state: &str) {
        self.change(|w| {
            if w.state(state)
                .is_some_and(|s| s.type_name.starts_with("pending"))
            {
                let until = w.now() + Duration::from_secs(86_400);
                w.ticket_mut(ticket).pending_until = Some(until);
            }
            assert!(
                w.set_state(ticket, state, STAFF_AGENT),
                "FakeZnuny has no state {state:?}"
            );
        });
    }

    /// A staff member takes the ticket: owner and lock, as "Lock" in the agent interface does.
    pub fn assign(&self, ticket: i64, login: &str) {
        self.change(|w| {
            let by = Self::staff_id(w, login);
            let t = w.ticket_mut(ticket);
            t.owner_id = by;
            t.locked = true;
            w.touch(ticket, by);
        });
    }

    /// A staff member answers with `text` and closes the ticket (`closed successful`).
    pub fn resolve(&self, ticket: i64, login: &str, text: &str) {
        self.change(|w| {
            let by = Self::staff_id(w, login);
            w.add_article(ticket, staff_article(text, true, Vec::new()), by);
            w.set_state(ticket, "closed successful", by);
        });
    }

    /// Staff set a ticket dynamic field (`null` clears it).
    pub fn set_dynamic_field(&self, ticket: i64, name: &str, value: Value) {
        self.change(|w| {
            let t = w.ticket_mut(ticket);
            if value.is_null() {
                t.dynamic_fields.remove(name);
            } else {
                t.dynamic_fields.insert(name.to_owned(), value);
            }
            w.touch(ticket, STAFF_AGENT);
        });
    }

    /// From now on `TicketGet` answers about the ticket carry what a Znuny system may send
    /// beside the usual: a `system` article visible to the customer, an article whose id is a
    /// hash, an agent file without `FileID` and with its size in words, dynamic fields valued
    /// with a hash or named by one or not at all, unknown ticket keys. Every text in them
    /// contains [`crate::conformance::ODDITY`]. Counts as a change of the ticket.
    pub fn add_oddities(&self, ticket: i64) {
        self.change(|w| {
            w.oddities.insert(ticket);
            w.touch(ticket, STAFF_AGENT);
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

    /// A ticket's articles, oldest first.
    pub fn articles(&self, ticket: i64) -> Vec<FakeArticle> {
        let w = self.world();
        w.articles
            .values()
            .filter(|a| a.ticket_id == ticket)
            .map(|a| w.fake_article(a))
            .collect()
    }

    /// Every request received so far, in the order they were answered.
    pub fn calls(&self) -> Vec<ZnunyCall> {
        self.world().calls.clone()
    }

    /// How many sessions were created (logins).
    pub fn sessions_created(&self) -> u64 {
        self.world().next_session - 1
    }

    /// Ends every session, as a Znuny restart with a cleared session table or
    /// `SessionMaxIdleTime` would.
    pub fn expire_sessions(&self) {
        self.change(|w| w.sessions.clear());
    }

    /// Stops the server's clock at `at` (to the second), so every change gets the same
    /// `Changed`, as changes within one second do on a real server; `None` restarts it.
    pub fn freeze_clock(&self, at: Option<OffsetDateTime>) {
        self.change(|w| w.frozen = at);
    }

    /// While on, every request gets 503 with an HTML body, as a proxy in front of Znuny sends.
    pub fn set_outage(&self, on: bool) {
        self.change(|w| w.outage = on);
    }

    /// The next `times` requests fail with `status` (500 with a fault body like Znuny's).
    pub fn fail_next(&self, times: usize, status: u16) {
        self.change(|w| w.fail_next.extend(std::iter::repeat_n(status, times)));
    }

    /// Every answer leaves the fake `latency` after the request arrived, as the network and a
    /// busy server delay it; the request's effect happens after the wait. Default zero. A fixed
    /// delay, where a real one varies: benchmarks set it to compare runs.
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.change(|w| w.latency = latency);
    }

    /// Waits until `check` returns `Some`, re-checking after every change; panics after
    /// `timeout` naming `what`.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&FakeZnuny) -> Option<T>,
    ) -> T {
        self.inner.wait_until(timeout, what, || check(self)).await
    }
}

fn staff_article(body: &str, public: bool, files: Vec<FakeFile>) -> NewArticle {
    NewArticle {
        sender_type: "agent".to_owned(),
        channel: if public { "Email" } else { "Internal" }.to_owned(),
        visible: public,
        from: None,
        to: String::new(),
        subject: if public {
            "Ответ"
        } else {
            "Заметка"
        }
        .to_owned(),
        body: body.to_owned(),
        content_type: "text/plain; charset=utf-8".to_owned(),
        files,
    }
}

/// A JSON object, for helpers that build Znuny payloads.
type Object = Map<String, Value>;
