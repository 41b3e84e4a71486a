//! Fake Kaiten API server (see crate docs).
//!
//! [`FakeKaiten`] serves Kaiten's REST API under `/api/latest` on loopback, in the wire format of
//! `fixtures/kaiten/*.json`, so the real adapter talks to it unchanged (in-process or from a child
//! daemon process). Tests act as support staff ([`FakeKaiten::staff_reply`],
//! [`FakeKaiten::move_to_column`], [`FakeKaiten::assign`]...) and observe what teledesk did
//! ([`FakeKaiten::cards`], [`FakeKaiten::comments`], [`FakeKaiten::calls`]).
//!
//! The world: space 1, board 10 "Поддержка", lane 201, columns 101 "Новые" (type 1, queue),
//! 102 "В работе" (type 2), 103 "Ждём клиента" (type 2), 104 "Готово" (type 3, done); and a
//! second place cards can be moved to, space 2, board 20 "Вторая линия", lane 221, columns 121
//! (type 1), 122 (type 2), 124 (type 3). User 1 "teledesk bot" owns the fake's only accepted token
//! (each fake has its own); staff users are created on demand by name, with ids from 100.
//!
//! Modelled server behaviour (assumptions where Kaiten's docs are silent are marked [U]):
//! - creating a card, `PATCH`, a column move and a move to another board or space set its
//!   `updated` to the current time with millisecond precision, strictly increasing across the
//!   whole fake (two changes in one millisecond still get different times). Comments, files and
//!   member changes (the responsible included) do **not** bump `updated`, as the live service
//!   behaves (kaiten-rs); [`FakeKaiten::set_legacy_updated`] brings back the old behaviour where
//!   they do. A comment sets the card's `comment_last_added_at` and `comments_total`;
//!   `sd_new_comment` stays `false` (the fake has no Service Desk requesters);
//! - `GET /cards` filters `external_id`, `board_id`, `space_id`, `states` (comma list),
//!   `condition` (every card is live, 1) and `updated_after` (inclusive, `>=`, ms precision);
//!   orders by `order_by` `updated`, `created`, `id` or `comment_last_added_at` with
//!   `order_direction` `asc` (default) or `desc`, ties by id, cards without a comment last in
//!   either direction [U]; without `order_by` the order is newest `updated` first [U], which moves
//!   under a client paging by offset while cards change; pages with `offset`/`limit` (default and
//!   maximum 100, larger limits are cut to 100 as the live service does); list items omit
//!   `members`, `files`, `column`, `board`, like Kaiten's card list;
//! - `PATCH /cards/{id}` with `column_id` also sets `state` from the column's type; with
//!   `board_id` of another board too, the card moves there (its space, lane and `state` follow),
//!   as [`FakeKaiten::move_to_board`] does for staff;
//! - comments posted through the API are by the token's user, `internal` only when the body says
//!   `"internal": true` [U];
//! - comments staff write carry `internal` as [`StaffComment`] says, and leave it out when it says
//!   `None` (older payloads) [U]; a comment's `type` may be a kind other than 1 (markdown) and 2
//!   (HTML) [U]; comments no user wrote have `author_id: null` and no `author` [U];
//!   `sd_description` marks the request's description; the embedded `author` object may be left
//!   out (the extracted spec lists only `author_id`), and a user's `full_name` and `username` may
//!   be `null` [U];
//! - the company has the custom properties of [`FakeKaiten::PROPERTIES`] (one per writable type,
//!   and a formula), listed by `GET /company/custom-properties` (paged, `limit` ≤ 100 [U]), with
//!   the select's options at `GET /company/custom-properties/{id}/select-values`; cards take
//!   property values only in their type's shape (select: array of option ids; date:
//!   `{"date", "time", "tzOffset"}`; `null` clears) and refuse unknown properties, wrong shapes and
//!   computed types with 400 [U];
//! - uploaded files get a `url` on this server (`/files/{id}/{name}`), which needs the token;
//! - [`FakeKaiten::add_oddities`] makes a card's answers carry entries of other kinds (private
//!   and external-storage files, comment types beyond 1 and 2, odd property shapes), as live
//!   cards do;
//! - errors are `{"message": "..."}`: 401 `Unauthorized` for a wrong or missing token [U on the
//!   text], 400 for invalid input, 404 for a missing card;
//! - requests are checked in this order: outage (503 HTML from a "proxy"), token (401), rate limit
//!   (429 with `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset`, the UTC epoch second by which a
//!   slot is free again, and no `Retry-After`, as documented; only admitted requests count towards
//!   the rolling second; admitted answers carry both headers too), then failures injected with
//!   [`FakeKaiten::fail_next`].

mod backstage;
mod oddities;
mod server;

pub use backstage::{KaitenBackstage, RESOLUTION_PROPERTY, STAFF_NAME};

use crate::blob::{Blob, Pattern};
use crate::serve::{FakeState, serve_on_loopback};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;
use time::OffsetDateTime;
use time::macros::format_description;

/// A card as a test sees it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FakeCard {
    /// Card id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Description (markdown), empty when none.
    pub description: String,
    /// The external id (teledesk's idempotency key).
    pub external_id: Option<String>,
    /// Board id.
    pub board_id: i64,
    /// Space id (follows the board).
    pub space_id: i64,
    /// Column id.
    pub column_id: i64,
    /// Lane id.
    pub lane_id: i64,
    /// Card type id.
    pub type_id: Option<i64>,
    /// Service Desk service.
    pub service_id: Option<i64>,
    /// Last update, as the API shows it (`2026-11-21T12:00:00.123Z`).
    pub updated: String,
    /// Custom properties.
    pub properties: Map<String, Value>,
    /// The responsible member's name.
    pub responsible: Option<String>,
    /// Kaiten's ASAP flag (the urgent marker; teledesk's escalation sets it).
    pub asap: bool,
}

/// A comment as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeComment {
    /// Comment id.
    pub id: i64,
    /// Author's user id (1 is the integration user; 0 when no user wrote it).
    pub author_id: i64,
    /// Author's full name.
    pub author_name: String,
    /// Text as stored.
    pub text: String,
    /// Internal note (`internal: true` on the wire; an omitted flag is not `true`).
    pub internal: bool,
    /// Creation time, as the API shows it.
    pub created: String,
}

/// A comment written in Kaiten's UI (or by Kaiten itself), with every field that decides its
/// visibility and signature under the test's control; see [`FakeKaiten::staff_comment`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StaffComment {
    /// The author's user id; `None` for a comment no user wrote (`author_id: null`, no `author`).
    pub author: Option<i64>,
    /// Markdown text.
    pub text: String,
    /// `internal` as sent; `None` leaves the field out, as older payloads do.
    pub internal: Option<bool>,
    /// The comment `type`: 1 markdown, 2 HTML; anything else is a kind teledesk does not know.
    pub kind: i64,
    /// Service Desk's `sd_description` flag (the comment shown as the request's description).
    pub sd_description: bool,
    /// Whether the comment carries the embedded `author` object (the extracted spec lists only
    /// `author_id`).
    pub embed_author: bool,
}

impl StaffComment {
    /// A public markdown comment by `author`, author object embedded.
    pub fn public(author: i64, text: &str) -> Self {
        Self {
            author: Some(author),
            text: text.to_owned(),
            internal: Some(false),
            kind: 1,
            sd_description: false,
            embed_author: true,
        }
    }
}

/// A file as a test sees it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeFile {
    /// File id.
    pub id: i64,
    /// File name.
    pub name: String,
    /// MIME type of the upload.
    pub content_type: String,
    /// Content, byte-exact, when the fake keeps the bytes (see [`FakeFile::body`]); empty for a
    /// generated file and for an upload larger than [`crate::blob::KEEP_UPLOAD_BYTES`].
    pub bytes: Vec<u8>,
    /// The body as the fake keeps it: its size and SHA-256 whatever it is.
    pub body: Blob,
    /// The comment it belongs to (staff files), `None` for card files.
    pub comment_id: Option<i64>,
}

impl std::fmt::Debug for FakeFile {
    // Bytes would flood assertion messages; their length is what helps.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeFile")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("body", &self.body)
            .field("comment_id", &self.comment_id)
            .finish()
    }
}

/// One request the fake received.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct KaitenCall {
    /// HTTP method (`GET`).
    pub method: String,
    /// Full path (`/api/latest/cards/1001`).
    pub path: String,
    /// Raw query string, empty when none.
    pub query: String,
    /// The JSON body, when there was one (multipart uploads: `None`).
    pub body: Option<Value>,
    /// The status the fake answered.
    pub status: u16,
    /// When the request reached the fake, before the rate limit and [`FakeKaiten::set_latency`]:
    /// the moment a client's call started, as a benchmark times it.
    pub received_at: std::time::Instant,
}

#[derive(Clone, Debug)]
struct User {
    id: i64,
    /// `None` is sent as `null`: a user who never set a name.
    full_name: Option<String>,
    username: Option<String>,
}

/// A company custom property; `options` are a select's values.
#[derive(Clone, Debug)]
struct Property {
    id: i64,
    name: String,
    kind: String,
    multi_select: bool,
    /// `(id, value)`.
    options: Vec<(i64, String)>,
}

#[derive(Clone, Debug)]
struct Column {
    id: i64,
    board_id: i64,
    title: &'static str,
    column_type: i64,
}

#[derive(Clone, Debug)]
struct Board {
    id: i64,
    space_id: i64,
    title: &'static str,
    lane_id: i64,
}

#[derive(Clone, Debug)]
struct Card {
    id: i64,
    title: String,
    description: Option<String>,
    board_id: i64,
    space_id: i64,
    column_id: i64,
    lane_id: i64,
    type_id: Option<i64>,
    owner_id: i64,
    external_id: Option<String>,
    service_id: Option<i64>,
    properties: Map<String, Value>,
    asap: bool,
    /// `(user id, member type)`: 1 member, 2 responsible.
    members: Vec<(i64, i64)>,
    state: i64,
    created: OffsetDateTime,
    updated: OffsetDateTime,
    /// Tag names, in the order they were added.
    tags: Vec<String>,
    /// The deadline, and whether it carries a time of day (`due_date_time_present`).
    due_date: Option<(OffsetDateTime, bool)>,
}

#[derive(Clone, Debug)]
struct Comment {
    id: i64,
    card_id: i64,
    author_id: Option<i64>,
    text: String,
    /// `None`: the field is left out of the payload.
    internal: Option<bool>,
    kind: i64,
    sd_description: bool,
    embed_author: bool,
    created: OffsetDateTime,
}

#[derive(Clone, Debug)]
struct File {
    id: i64,
    card_id: i64,
    author_id: i64,
    name: String,
    content_type: String,
    body: Blob,
    comment_id: Option<i64>,
    created: OffsetDateTime,
}

/// Everything the fake knows; one lock, never held across an await.
struct World {
    base_url: String,
    /// The only accepted token, different for every fake so that clients sharing a pace per
    /// token (as Kaiten counts its limit) do not slow each other down across tests.
    token: String,
    users: Vec<User>,
    boards: Vec<Board>,
    columns: Vec<Column>,
    properties: Vec<Property>,
    next_property: i64,
    next_option: i64,
    cards: BTreeMap<i64, Card>,
    comments: BTreeMap<i64, Comment>,
    files: BTreeMap<i64, File>,
    next_card: i64,
    next_comment: i64,
    next_file: i64,
    next_user: i64,
    last_stamp: OffsetDateTime,
    calls: Vec<KaitenCall>,
    /// `(method, path)` of every request as it reaches the fake, before the latency: a test can
    /// see a request in flight that [`FakeKaiten::calls`] lists only once answered.
    arrivals: Vec<(String, String)>,
    outage: bool,
    rate_limit: Option<u32>,
    admitted: VecDeque<tokio::time::Instant>,
    /// Added to every answer (see [`FakeKaiten::set_latency`]).
    latency: Duration,
    fail_next: VecDeque<u16>,
    /// Cards whose answers carry odd entries (see [`FakeKaiten::add_oddities`]).
    oddities: BTreeSet<i64>,
    /// Comments, files and member changes bump `updated` (the fake's old, unverified behaviour).
    legacy_updated: bool,
}

const SPACE_ID: i64 = 1;
const BOARD_TITLE: &str = "Поддержка";
const INTEGRATION_USER: i64 = 1;
const TOKEN_PREFIX: &str = "kaiten-fake-token-7f3a9c";

impl World {
    fn new(base_url: String) -> Self {
        let port = base_url.rsplit(':').next().unwrap_or_default();
        Self {
            token: format!("{TOKEN_PREFIX}-{port}"),
            base_url,
            users: vec![User {
                id: INTEGRATION_USER,
                full_name: Some("teledesk bot".into()),
                username: Some("teledesk-bot".into()),
            }],
            boards: vec![
                Board {
                    id: FakeKaiten::BOARD_ID,
                    space_id: SPACE_ID,
                    title: BOARD_TITLE,
                    lane_id: FakeKaiten::LANE_ID,
                },
                Board {
                    id: FakeKaiten::OTHER_BOARD_ID,
                    space_id: FakeKaiten::OTHER_SPACE_ID,
                    title: "Вторая линия",
                    lane_id: FakeKaiten::OTHER_LANE_ID,
                },
            ],
            properties: FakeKaiten::PROPERTIES
                .iter()
                .map(|(id, name, kind)| Property {
                    id: *id,
                    name: (*name).to_owned(),
                    kind: (*kind).to_owned(),
                    multi_select: false,
                    options: if *id == FakeKaiten::PROPERTY_SELECT {
                        FakeKaiten::SELECT_OPTIONS
                            .iter()
                            .map(|(id, value)| (*id, (*value).to_owned()))
                            .collect()
                    } else {
                        Vec::new()
                    },
                })
                .collect(),
            next_property: 100,
            next_option: 600,
            columns: [
                (FakeKaiten::COLUMN_NEW, FakeKaiten::BOARD_ID, "Новые", 1),
                (
                    FakeKaiten::COLUMN_IN_PROGRESS,
                    FakeKaiten::BOARD_ID,
                    "В работе",
                    2,
                ),
                (
                    FakeKaiten::COLUMN_WAITING,
                    FakeKaiten::BOARD_ID,
                    "Ждём клиента",
                    2,
                ),
                (FakeKaiten::COLUMN_DONE, FakeKaiten::BOARD_ID, "Готово", 3),
                (
                    FakeKaiten::OTHER_COLUMN_NEW,
                    FakeKaiten::OTHER_BOARD_ID,
                    "Входящие",
                    1,
                ),
                (
                    FakeKaiten::OTHER_COLUMN_IN_PROGRESS,
                    FakeKaiten::OTHER_BOARD_ID,
                    "Разбор",
                    2,
                ),
                (
                    FakeKaiten::OTHER_COLUMN_DONE,
                    FakeKaiten::OTHER_BOARD_ID,
                    "Решено",
                    3,
                ),
            ]
            .into_iter()
            .map(|(id, board_id, title, column_type)| Column {
                id,
                board_id,
                title,
                column_type,
            })
            .collect(),
            cards: BTreeMap::new(),
            comments: BTreeMap::new(),
            files: BTreeMap::new(),
            next_card: 1001,
            next_comment: 2001,
            next_file: 3001,
            next_user: 100,
            last_stamp: OffsetDateTime::UNIX_EPOCH,
            calls: Vec::new(),
            arrivals: Vec::new(),
            outage: false,
            rate_limit: Some(5),
            admitted: VecDeque::new(),
            latency: Duration::ZERO,
            fail_next: VecDeque::new(),
            oddities: BTreeSet::new(),
            legacy_updated: false,
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

    fn column(&self, id: i64) -> Option<&Column> {
        self.columns.iter().find(|c| c.id == id)
    }

    fn property(&self, id: i64) -> Option<&Property> {
        self.properties.iter().find(|p| p.id == id)
    }

    fn board(&self, id: i64) -> Option<&Board> {
        self.boards.iter().find(|b| b.id == id)
    }

    fn user(&self, id: i64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    fn user_named(&mut self, name: &str) -> i64 {
        if let Some(user) = self
            .users
            .iter()
            .find(|u| u.full_name.as_deref() == Some(name))
        {
            return user.id;
        }
        let id = self.next_user;
        self.add_user(Some(name.to_owned()), Some(format!("staff{id}")))
    }

    fn add_user(&mut self, full_name: Option<String>, username: Option<String>) -> i64 {
        let id = self.next_user;
        self.next_user += 1;
        self.users.push(User {
            id,
            full_name,
            username,
        });
        id
    }

    fn card_mut(&mut self, id: i64) -> &mut Card {
        self.cards
            .get_mut(&id)
            .unwrap_or_else(|| panic!("FakeKaiten has no card {id}"))
    }

    fn touch(&mut self, card_id: i64) -> OffsetDateTime {
        let at = self.stamp();
        self.card_mut(card_id).updated = at;
        at
    }

    /// The time of a change that the live service does not show in `updated` (comments, files,
    /// members); only the legacy switch makes it bump the card.
    fn touch_quietly(&mut self, card_id: i64) -> OffsetDateTime {
        if self.legacy_updated {
            self.touch(card_id)
        } else {
            self.stamp()
        }
    }

    fn add_comment(&mut self, card_id: i64, author_id: i64, text: &str, internal: bool) -> i64 {
        let comment = StaffComment {
            internal: Some(internal),
            ..StaffComment::public(author_id, text)
        };
        self.add_staff_comment(card_id, comment)
    }

    fn add_staff_comment(&mut self, card_id: i64, comment: StaffComment) -> i64 {
        let created = self.touch_quietly(card_id);
        let id = self.next_comment;
        self.next_comment += 1;
        self.comments.insert(
            id,
            Comment {
                id,
                card_id,
                author_id: comment.author,
                text: comment.text,
                internal: comment.internal,
                kind: comment.kind,
                sd_description: comment.sd_description,
                embed_author: comment.embed_author,
                created,
            },
        );
        id
    }

    fn add_file(&mut self, card_id: i64, author_id: i64, file: NewFile) -> i64 {
        let created = self.touch_quietly(card_id);
        let id = self.next_file;
        self.next_file += 1;
        self.files.insert(
            id,
            File {
                id,
                card_id,
                author_id,
                name: file.name,
                content_type: file.content_type,
                body: file.body,
                comment_id: file.comment_id,
                created,
            },
        );
        id
    }

    fn move_card(&mut self, card_id: i64, column_id: i64) -> Result<(), String> {
        let board_id = self.card_mut(card_id).board_id;
        let state = self
            .column(column_id)
            .filter(|c| c.board_id == board_id)
            .map(|c| c.column_type)
            .ok_or_else(|| format!("column {column_id} not found on board {board_id}"))?;
        let card = self.card_mut(card_id);
        card.column_id = column_id;
        card.state = state;
        self.touch(card_id);
        Ok(())
    }

    /// Moves a card to a column of another board (and so perhaps another space), onto that
    /// board's lane, as a drag in the UI or `PATCH {"board_id", "column_id"}` does.
    fn move_card_to_board(
        &mut self,
        card_id: i64,
        board_id: i64,
        column_id: i64,
    ) -> Result<(), String> {
        let board = self
            .board(board_id)
            .cloned()
            .ok_or_else(|| format!("board {board_id} not found"))?;
        let state = self
            .column(column_id)
            .filter(|c| c.board_id == board_id)
            .map(|c| c.column_type)
            .ok_or_else(|| format!("column {column_id} not found on board {board_id}"))?;
        let card = self.card_mut(card_id);
        card.board_id = board.id;
        card.space_id = board.space_id;
        card.lane_id = board.lane_id;
        card.column_id = column_id;
        card.state = state;
        self.touch(card_id);
        Ok(())
    }

    fn fake_card(&self, card: &Card) -> FakeCard {
        FakeCard {
            id: card.id,
            title: card.title.clone(),
            description: card.description.clone().unwrap_or_default(),
            external_id: card.external_id.clone(),
            board_id: card.board_id,
            space_id: card.space_id,
            column_id: card.column_id,
            lane_id: card.lane_id,
            type_id: card.type_id,
            service_id: card.service_id,
            updated: format_time(card.updated),
            properties: card.properties.clone(),
            responsible: card
                .members
                .iter()
                .find(|(_, kind)| *kind == 2)
                .and_then(|(id, _)| self.user(*id))
                .and_then(|u| u.full_name.clone()),
            asap: card.asap,
        }
    }
}

struct NewFile {
    name: String,
    content_type: String,
    body: Blob,
    comment_id: Option<i64>,
}

/// Kaiten's timestamp format: UTC, milliseconds, `Z`.
fn format_time(at: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.format(&format).expect("a UTC time formats")
}

/// A running fake Kaiten; cheap to clone, every clone is the same server.
#[derive(Clone)]
pub struct FakeKaiten {
    inner: Arc<FakeState<World>>,
}

impl std::fmt::Debug for FakeKaiten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeKaiten")
            .field("addr", &self.inner.addr())
            .finish_non_exhaustive()
    }
}

impl FakeKaiten {
    /// The support board.
    pub const BOARD_ID: i64 = 10;
    /// Column "Новые" (type 1, queue).
    pub const COLUMN_NEW: i64 = 101;
    /// Column "В работе" (type 2).
    pub const COLUMN_IN_PROGRESS: i64 = 102;
    /// Column "Ждём клиента" (type 2).
    pub const COLUMN_WAITING: i64 = 103;
    /// Column "Готово" (type 3, done).
    pub const COLUMN_DONE: i64 = 104;
    /// The board's only lane.
    pub const LANE_ID: i64 = 201;
    /// A second board, in [`Self::OTHER_SPACE_ID`], that staff can move cards to.
    pub const OTHER_BOARD_ID: i64 = 20;
    /// The space of [`Self::OTHER_BOARD_ID`].
    pub const OTHER_SPACE_ID: i64 = 2;
    /// The only lane of [`Self::OTHER_BOARD_ID`].
    pub const OTHER_LANE_ID: i64 = 221;
    /// Column "Входящие" of the second board (type 1, queue).
    pub const OTHER_COLUMN_NEW: i64 = 121;
    /// Column "Разбор" of the second board (type 2).
    pub const OTHER_COLUMN_IN_PROGRESS: i64 = 122;
    /// Column "Решено" of the second board (type 3, done).
    pub const OTHER_COLUMN_DONE: i64 = 124;
    /// The space of the board.
    pub const SPACE_ID: i64 = SPACE_ID;
    /// The integration user's id (the token's owner).
    pub const INTEGRATION_USER_ID: i64 = INTEGRATION_USER;
    /// The company's custom properties at start: `(id, name, type)`, one of each kind teledesk
    /// writes or reads, and one (`formula`) it cannot write.
    pub const PROPERTIES: [(i64, &'static str, &'static str); 9] = [
        (7, "Решение", "string"),
        (42, "Итог", "string"),
        (Self::PROPERTY_SELECT, "Категория", "select"),
        (44, "Срок", "date"),
        (45, "Рабочих мест", "number"),
        (46, "Стоимость", "formula"),
        (47, "Куратор", "user"),
        (48, "VIP", "checkbox"),
        (49, "Договор", "url"),
    ];
    /// The select property among [`Self::PROPERTIES`].
    pub const PROPERTY_SELECT: i64 = 43;
    /// Its options at start: `(id, value)`.
    pub const SELECT_OPTIONS: [(i64, &'static str); 3] =
        [(501, "Принтеры"), (502, "Сеть"), (503, "1С")];

    /// Starts the server on `127.0.0.1:0` in the current Tokio runtime; it runs until the runtime
    /// shuts down.
    pub async fn start() -> FakeKaiten {
        let fake_at = |addr| FakeKaiten {
            inner: Arc::new(FakeState::new(World::new(format!("http://{addr}")), addr)),
        };
        serve_on_loopback("FakeKaiten", fake_at, server::router).await
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.inner.world()
    }

    /// Runs `change` on the world and wakes waiters.
    fn change<T>(&self, change: impl FnOnce(&mut World) -> T) -> T {
        self.inner.change(change)
    }

    /// The site address (`http://127.0.0.1:PORT`); the API is under `/api/latest`.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr())
    }

    /// The only accepted bearer token, different for every fake; anything else gets 401
    /// `{"message":"Unauthorized"}`.
    pub fn token(&self) -> String {
        self.world().token.clone()
    }

    /// The `[helpdesks.<name>]` table of an adapter pointed at this fake (board 10, column
    /// "Новые", lane 201, polled every 5 s), as JSON for a test to extend with
    /// `samples::table_with`.
    pub fn helpdesk_table(&self) -> Value {
        serde_json::json!({
            "kind": "kaiten",
            "poll_interval": "5s",
            "url": self.url(),
            "token": self.token(),
            "board_id": Self::BOARD_ID,
            "column_id": Self::COLUMN_NEW,
            "lane_id": Self::LANE_ID,
        })
    }

    /// Staff create a card in the UI (not through teledesk: no external id) in column
    /// [`Self::COLUMN_NEW`]; returns its id.
    pub fn staff_create_card(&self, title: &str) -> i64 {
        self.change(|w| {
            let at = w.stamp();
            let id = w.next_card;
            w.next_card += 1;
            w.cards.insert(
                id,
                Card {
                    id,
                    title: title.to_owned(),
                    description: None,
                    board_id: Self::BOARD_ID,
                    space_id: SPACE_ID,
                    column_id: Self::COLUMN_NEW,
                    lane_id: Self::LANE_ID,
                    type_id: None,
                    owner_id: INTEGRATION_USER,
                    external_id: None,
                    service_id: None,
                    properties: Map::new(),
                    asap: false,
                    members: Vec::new(),
                    state: 1,
                    created: at,
                    updated: at,
                    tags: Vec::new(),
                    due_date: None,
                },
            );
            id
        })
    }

    /// Staff create a card addressed to a Telegram chat: a `tg:<chat>` tag, and a
    /// `tg:announcement` tag when it is a notice (teledesk's documented convention for Kaiten);
    /// returns its id.
    pub fn staff_address_card(
        &self,
        title: &str,
        description: &str,
        chat: &str,
        announcement: bool,
    ) -> i64 {
        let id = self.staff_create_card(title);
        self.staff_describe(id, description);
        self.staff_tag(id, &format!("tg:{chat}"));
        if announcement {
            self.staff_tag(id, "tg:announcement");
        }
        id
    }

    /// Staff add a tag to a card in the UI (`POST /cards/{id}/tags`), which moves its update
    /// time.
    pub fn staff_tag(&self, card_id: i64, tag: &str) {
        self.change(|w| {
            let at = w.stamp();
            let card = w.card_mut(card_id);
            card.tags.push(tag.to_owned());
            card.updated = at;
        })
    }

    /// Staff set or clear a card's ASAP (urgent) flag in the UI, which moves its update time.
    pub fn set_asap(&self, card_id: i64, asap: bool) {
        self.change(|w| {
            let at = w.stamp();
            let card = w.card_mut(card_id);
            card.asap = asap;
            card.updated = at;
        })
    }

    /// Staff write a description on a card in the UI.
    pub fn staff_describe(&self, card_id: i64, description: &str) {
        self.change(|w| {
            let at = w.stamp();
            let card = w.card_mut(card_id);
            card.description = Some(description.to_owned());
            card.updated = at;
        })
    }

    /// Staff set a card's deadline (`due_date`; `with_time` sets `due_date_time_present`).
    pub fn set_due_date(&self, card_id: i64, due: OffsetDateTime, with_time: bool) {
        self.change(|w| {
            let at = w.stamp();
            let card = w.card_mut(card_id);
            card.due_date = Some((due, with_time));
            card.updated = at;
        })
    }

    /// A staff member posts a public comment; returns its id.
    pub fn staff_reply(&self, card_id: i64, staff_name: &str, text: &str) -> i64 {
        self.change(|w| {
            let author = w.user_named(staff_name);
            w.add_comment(card_id, author, text, false)
        })
    }

    /// The id of the staff user named `full_name`, created on first use.
    pub fn staff_user(&self, full_name: &str) -> i64 {
        self.change(|w| w.user_named(full_name))
    }

    /// Adds a user whose name or login may be missing (sent as `null`); returns its id.
    pub fn add_user(&self, full_name: Option<&str>, username: Option<&str>) -> i64 {
        self.change(|w| w.add_user(full_name.map(str::to_owned), username.map(str::to_owned)))
    }

    /// Writes `comment` on the card exactly as described (visibility fields, author, kind);
    /// returns its id.
    pub fn staff_comment(&self, card_id: i64, comment: StaffComment) -> i64 {
        self.change(|w| w.add_staff_comment(card_id, comment))
    }

    /// A staff member posts a public comment with a file attached to it; returns the comment id.
    pub fn staff_reply_with_file(
        &self,
        card_id: i64,
        staff_name: &str,
        text: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> i64 {
        self.staff_reply_with_body(card_id, staff_name, text, file_name, Blob::from(bytes))
    }

    /// [`FakeKaiten::staff_reply_with_file`] with a file generated from `pattern` as it is
    /// downloaded: a large staff file that the test process never holds.
    pub fn staff_reply_with_generated_file(
        &self,
        card_id: i64,
        staff_name: &str,
        text: &str,
        file_name: &str,
        pattern: Pattern,
    ) -> i64 {
        self.staff_reply_with_body(card_id, staff_name, text, file_name, Blob::Pattern(pattern))
    }

    fn staff_reply_with_body(
        &self,
        card_id: i64,
        staff_name: &str,
        text: &str,
        file_name: &str,
        body: Blob,
    ) -> i64 {
        self.change(|w| {
            let author = w.user_named(staff_name);
            let comment = w.add_comment(card_id, author, text, false);
            let file = NewFile {
                name: file_name.to_owned(),
                content_type: "application/octet-stream".to_owned(),
                body,
                comment_id: Some(comment),
            };
            w.add_file(card_id, author, file);
            comment
        })
    }

    /// A staff member writes an internal note; returns its id.
    pub fn internal_note(&self, card_id: i64, staff_name: &str, text: &str) -> i64 {
        self.change(|w| {
            let author = w.user_named(staff_name);
            w.add_comment(card_id, author, text, true)
        })
    }

    /// Staff drag the card to another column (its `state` follows the column's type).
    pub fn move_to_column(&self, card_id: i64, column_id: i64) {
        self.change(|w| w.move_card(card_id, column_id))
            .unwrap_or_else(|e| panic!("FakeKaiten::move_to_column: {e}"));
    }

    /// Staff move the card to `column_id` of another board (perhaps in another space); its lane
    /// becomes that board's lane and its `state` follows the column's type.
    pub fn move_to_board(&self, card_id: i64, board_id: i64, column_id: i64) {
        self.change(|w| w.move_card_to_board(card_id, board_id, column_id))
            .unwrap_or_else(|e| panic!("FakeKaiten::move_to_board: {e}"));
    }

    /// Staff make `staff_name` the responsible member (type 2), replacing the previous one.
    /// Like every member change it leaves `updated` alone (unless [`Self::set_legacy_updated`]).
    pub fn assign(&self, card_id: i64, staff_name: &str) {
        self.change(|w| {
            let user = w.user_named(staff_name);
            let card = w.card_mut(card_id);
            card.members.retain(|(id, _)| *id != user);
            for member in &mut card.members {
                if member.1 == 2 {
                    member.1 = 1;
                }
            }
            card.members.push((user, 2));
            w.touch_quietly(card_id);
        });
    }

    /// An admin adds a custom property of `kind` (a Kaiten type name); returns its id.
    pub fn add_property(&self, name: &str, kind: &str, multi_select: bool) -> i64 {
        self.change(|w| {
            let id = w.next_property;
            w.next_property += 1;
            w.properties.push(Property {
                id,
                name: name.to_owned(),
                kind: kind.to_owned(),
                multi_select,
                options: Vec::new(),
            });
            id
        })
    }

    /// An admin adds an option to a select property; returns the option's id.
    pub fn add_select_option(&self, property_id: i64, value: &str) -> i64 {
        self.change(|w| {
            let id = w.next_option;
            w.next_option += 1;
            w.properties
                .iter_mut()
                .find(|p| p.id == property_id)
                .unwrap_or_else(|| panic!("FakeKaiten has no property {property_id}"))
                .options
                .push((id, value.to_owned()));
            id
        })
    }

    /// Staff set a custom property (`id_<n>`).
    pub fn set_property(&self, card_id: i64, key: &str, value: Value) {
        self.change(|w| {
            w.card_mut(card_id).properties.insert(key.to_owned(), value);
            w.touch(card_id);
        });
    }

    /// From now on the answers about the card carry entries an adapter may not know: its own
    /// uploads (files on no comment) shown as private files (`type` 11, UUID id, size as a
    /// string, site-relative url), a private file with a `null` url and a Google Drive link
    /// (`type` 2) on the newest staff comment, a file entry of an unseen shape, a member with a string
    /// id, comments of type 3 and of a string type without `internal`, properties shaped
    /// `{"weird": [1, "x"]}` and `[1, "x", null, {...}]`, unknown card fields. Every text in them
    /// contains [`crate::conformance::ODDITY`]. Counts as a change of the card.
    pub fn add_oddities(&self, card_id: i64) {
        self.change(|w| {
            w.oddities.insert(card_id);
            w.touch(card_id);
        });
    }

    /// Every card, by id.
    pub fn cards(&self) -> Vec<FakeCard> {
        let w = self.world();
        w.cards.values().map(|c| w.fake_card(c)).collect()
    }

    /// One card.
    pub fn card(&self, id: i64) -> Option<FakeCard> {
        let w = self.world();
        w.cards.get(&id).map(|c| w.fake_card(c))
    }

    /// A card's comments, oldest first.
    pub fn comments(&self, card_id: i64) -> Vec<FakeComment> {
        let w = self.world();
        w.comments
            .values()
            .filter(|c| c.card_id == card_id)
            .map(|c| FakeComment {
                id: c.id,
                author_id: c.author_id.unwrap_or_default(),
                author_name: c
                    .author_id
                    .and_then(|id| w.user(id))
                    .and_then(|u| u.full_name.clone())
                    .unwrap_or_default(),
                text: c.text.clone(),
                internal: c.internal == Some(true),
                created: format_time(c.created),
            })
            .collect()
    }

    /// A card's files, oldest first.
    pub fn files(&self, card_id: i64) -> Vec<FakeFile> {
        self.world()
            .files
            .values()
            .filter(|f| f.card_id == card_id)
            .map(|f| FakeFile {
                id: f.id,
                name: f.name.clone(),
                content_type: f.content_type.clone(),
                bytes: match &f.body {
                    Blob::Bytes(bytes) => bytes.to_vec(),
                    _ => Vec::new(),
                },
                body: f.body.clone(),
                comment_id: f.comment_id,
            })
            .collect()
    }

    /// Every request received so far, in the order they were answered.
    pub fn calls(&self) -> Vec<KaitenCall> {
        self.world().calls.clone()
    }

    /// How many `method` requests for `path` have reached the fake so far, answered or not.
    pub fn arrivals(&self, method: &str, path: &str) -> usize {
        self.world()
            .arrivals
            .iter()
            .filter(|(m, p)| m == method && p == path)
            .count()
    }

    /// While on, every request gets 503 with an HTML body, as a proxy in front of Kaiten sends.
    pub fn set_outage(&self, on: bool) {
        self.change(|w| w.outage = on);
    }

    /// `true` brings back the fake's old behaviour in which comments, files and member changes
    /// bump the card's `updated`; the default `false` is the live service's (kaiten-rs).
    pub fn set_legacy_updated(&self, on: bool) {
        self.change(|w| w.legacy_updated = on);
    }

    /// More than `per_second` admitted requests in a rolling second get 429; `None` turns the
    /// limit off. Default `Some(5)`, Kaiten's documented limit.
    pub fn set_rate_limit(&self, per_second: Option<u32>) {
        self.change(|w| {
            w.rate_limit = per_second;
            w.admitted.clear();
        });
    }

    /// Every answer leaves the fake `latency` after the request was admitted (or refused), as
    /// the network and a busy server delay it; the request's effect happens after the wait.
    /// Default zero. A fixed delay, where a real one varies: benchmarks set it to compare runs.
    pub fn set_latency(&self, latency: Duration) {
        self.change(|w| w.latency = latency);
    }

    /// The next `times` authenticated requests fail with `status` (429 comes with rate-limit
    /// headers, like a real one).
    pub fn fail_next(&self, times: usize, status: u16) {
        self.change(|w| w.fail_next.extend(std::iter::repeat_n(status, times)));
    }

    /// Waits until `check` returns `Some`, re-checking after every change; panics after
    /// `timeout` naming `what`.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&FakeKaiten) -> Option<T>,
    ) -> T {
        self.inner.wait_until(timeout, what, || check(self)).await
    }
}
