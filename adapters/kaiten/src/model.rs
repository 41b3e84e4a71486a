//! Kaiten's wire format: what `/api/latest` sends and accepts (serde only, no logic).
//!
//! Only the fields the adapter reads are modelled; serde ignores the rest, so Kaiten adding fields
//! never breaks parsing. Fields the docs mark optional, or that the card list omits, are
//! `Option`/defaulted. Field lists: developers.kaiten.ru and the extracted spec in
//! github.com/AllDmeat/kaiten-sdk (`openapi/kaiten.yaml`).

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

/// A user (`GET /users/current`, comment `author`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Kaiten user id.
    pub id: i64,
    /// Display name.
    #[serde(default)]
    pub full_name: String,
    /// Login.
    #[serde(default)]
    pub username: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
}

/// A column as embedded in a card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Column id.
    pub id: i64,
    /// Column title, shown to staff as the card's state.
    #[serde(default)]
    pub title: String,
    /// 1 queue, 2 in progress, 3 done.
    #[serde(rename = "type", default)]
    pub column_type: Option<i64>,
}

/// A board as embedded in a card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Board {
    /// Board id.
    pub id: i64,
    /// Board title.
    #[serde(default)]
    pub title: String,
}

/// A card member; `type` 2 is the responsible one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// User id.
    pub id: i64,
    /// Display name.
    #[serde(default)]
    pub full_name: String,
    /// 1 member, 2 responsible.
    #[serde(rename = "type", default)]
    pub member_type: i64,
}

/// Card member type of the responsible person.
pub const MEMBER_RESPONSIBLE: i64 = 2;

/// A file attached to a card (`PUT /cards/{id}/files` answer, card `files`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct File {
    /// File id.
    pub id: i64,
    /// File name.
    pub name: String,
    /// Download address (absolute, or relative to the site).
    #[serde(default)]
    pub url: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// MIME type, when Kaiten reports one.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// The comment the file belongs to, when it was attached to one.
    #[serde(default)]
    pub comment_id: Option<i64>,
    /// Soft-deleted files stay in the list.
    #[serde(default)]
    pub deleted: bool,
}

/// A card (`GET /cards/{id}`, items of `GET /cards`, `POST /cards` answer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Card {
    /// Card id, also its number in the UI.
    pub id: i64,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Markdown description.
    #[serde(default)]
    pub description: Option<String>,
    /// Board id.
    pub board_id: i64,
    /// Column id.
    pub column_id: i64,
    /// Lane id.
    #[serde(default)]
    pub lane_id: Option<i64>,
    /// Space id, for the web link; not in every payload.
    #[serde(default)]
    pub space_id: Option<i64>,
    /// 1 queued, 2 in progress, 3 done (derived from the column's type).
    pub state: i64,
    /// The ASAP (urgent) flag.
    #[serde(default)]
    pub asap: bool,
    /// The idempotency key teledesk stored on create.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Service Desk service, when the card is a request.
    #[serde(default)]
    pub service_id: Option<i64>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Last update time.
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
    /// When the newest comment was added: comments do not move `updated`, so this is how the
    /// change feed finds them.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub comment_last_added_at: Option<OffsetDateTime>,
    /// The card's column, with its title.
    #[serde(default)]
    pub column: Option<Column>,
    /// The card's board.
    #[serde(default)]
    pub board: Option<Board>,
    /// Members (the list view may omit them).
    #[serde(default, deserialize_with = "null_as_default")]
    pub members: Vec<Member>,
    /// Custom properties, `id_<n>` → value.
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// Attached files (the list view may omit them).
    #[serde(default, deserialize_with = "null_as_default")]
    pub files: Vec<File>,
}

/// A comment (`GET /cards/{id}/comments` items, `POST` answer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// Comment id.
    pub id: i64,
    /// Text: markdown when `type` is 1, HTML when 2.
    #[serde(default)]
    pub text: String,
    /// 1 markdown, 2 HTML.
    #[serde(rename = "type", default)]
    pub text_type: Option<i64>,
    /// Card id.
    #[serde(default)]
    pub card_id: Option<i64>,
    /// Author id.
    pub author_id: i64,
    /// The author, when embedded.
    #[serde(default)]
    pub author: Option<User>,
    /// An internal note, invisible to the requester.
    #[serde(default)]
    pub internal: bool,
    /// Soft-deleted.
    #[serde(default)]
    pub deleted: bool,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// Comment text type of HTML comments.
pub const TEXT_HTML: i64 = 2;

/// Kaiten's error body (`{"message": "..."}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub message: String,
}

/// `POST /cards`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreateCard {
    /// Title.
    pub title: String,
    /// Board.
    pub board_id: i64,
    /// Column.
    pub column_id: i64,
    /// Lane.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lane_id: Option<i64>,
    /// Card type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_id: Option<i64>,
    /// Owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<i64>,
    /// Responsible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responsible_id: Option<i64>,
    /// Custom properties.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<serde_json::Map<String, serde_json::Value>>,
    /// The idempotency key.
    pub external_id: String,
    /// Markdown description.
    pub description: String,
    /// 1: the description is markdown (as in the docs' create example).
    pub text_format_type_id: i64,
}

/// `PATCH /cards/{id}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UpdateCard {
    /// Set or clear the ASAP flag (Kaiten's urgency marker).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asap: Option<bool>,
    /// Move to this column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column_id: Option<i64>,
    /// Set the Service Desk service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_id: Option<i64>,
}

/// `POST /cards/{id}/comments`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreateComment {
    /// Markdown text.
    pub text: String,
    /// An internal note, hidden from the requester; omitted for public comments.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
