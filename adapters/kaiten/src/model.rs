//! Kaiten's wire format: what `/api/latest` sends and accepts (serde only, no logic).
//!
//! Only the fields the adapter reads are modelled; serde ignores the rest, so Kaiten adding fields
//! never breaks parsing. Fields the docs mark optional, or that the card list omits, are
//! `Option`/defaulted. Field lists: developers.kaiten.ru and the extracted spec in
//! github.com/AllDmeat/kaiten-sdk (`openapi/kaiten.yaml`).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use teledesk_adapter::lenient;
use time::OffsetDateTime;

/// A user (`GET /users/current`, comment `author`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Kaiten user id.
    pub id: i64,
    /// Display name; empty when the user never set one (Kaiten may send `null`).
    #[serde(default, deserialize_with = "null_as_default")]
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
///
/// A card's `files` mixes shapes: legacy attachments (`type` 1–10, integer `id`), links to
/// external storage (Google Drive, Dropbox... `type` 2–6), comment e-mails (7), and private
/// files (`type` 11, Kaiten's current storage for new uploads: UUID `id`, `size` as a string,
/// relative or `null` `url`) — kaiten-sdk `openapi/kaiten.yaml`, `CardFileEntry`. All of them
/// read here, so an upload stored as a private file still counts as uploaded; which of them are
/// files to forward decides [`File::is_download`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct File {
    /// File id: an integer for legacy attachments, a UUID for private files.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// File name.
    pub name: String,
    /// Download address (absolute, or relative to the site).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub url: Option<String>,
    /// Size in bytes (private files send it as a string).
    #[serde(default, deserialize_with = "lenient::opt_number")]
    pub size: Option<u64>,
    /// MIME type, when Kaiten reports one.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub mime_type: Option<String>,
    /// 1 attachment, 2–6 external storage links, 7 comment e-mail, 8 comment attachment,
    /// 10 voice recording, 11 private file.
    #[serde(rename = "type", default, deserialize_with = "lenient::opt_number")]
    pub file_type: Option<i64>,
    /// The comment the file belongs to, when it was attached to one.
    #[serde(default, deserialize_with = "lenient::opt_number")]
    pub comment_id: Option<i64>,
    /// Soft-deleted files stay in the list.
    #[serde(default, deserialize_with = "null_as_default")]
    pub deleted: bool,
}

/// File types whose bytes Kaiten stores and serves: attachment, comment attachment, voice
/// recording, private file. The others (external storage links, comment e-mails) are not files
/// teledesk can forward.
const STORED_FILE_TYPES: [i64; 4] = [1, 8, 10, 11];

impl File {
    /// Whether this entry is a stored file with an address to download it from (not deleted, not
    /// a link to external storage). A missing `type` counts as a stored file, as in older
    /// answers.
    pub fn is_download(&self) -> bool {
        !self.deleted
            && self.url.is_some()
            && self
                .file_type
                .is_none_or(|t| STORED_FILE_TYPES.contains(&t))
    }
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
    /// How many comments the card has; with `comment_last_added_at` it tells whether the
    /// comments moved without reading them.
    #[serde(default, deserialize_with = "lenient::opt_number")]
    pub comments_total: Option<u64>,
    /// The card's column, with its title.
    #[serde(default)]
    pub column: Option<Column>,
    /// The card's board.
    #[serde(default)]
    pub board: Option<Board>,
    /// Members (the list view may omit them).
    #[serde(default, deserialize_with = "lenient::vec")]
    pub members: Vec<Member>,
    /// Custom properties, `id_<n>` → value.
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// Attached files (the list view may omit them); entries of a shape never seen are skipped.
    #[serde(default, deserialize_with = "card_files")]
    pub files: Vec<File>,
    /// The card's deadline (`2026-11-25T00:00:00.000Z`), when set.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub due_date: Option<String>,
    /// Whether the deadline carries a time of day; without one the card is due by the end of
    /// that day.
    #[serde(default)]
    pub due_date_time_present: Option<bool>,
    /// The card's tags (staff address a card to a Telegram chat with `tg:<chat>`).
    #[serde(default, deserialize_with = "lenient::vec")]
    pub tags: Vec<Tag>,
}

/// A tag on a card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// The tag's text.
    pub name: String,
}

/// A card as the card list (`GET /cards`) shows it, and whether the list carried the embedded
/// objects a snapshot of the ticket needs (the column's title, the members): Kaiten's list is a
/// projection of the card, and a field it leaves out must not read as "none".
#[derive(Clone, Debug, PartialEq)]
pub struct ListedCard {
    /// The card.
    pub card: Card,
    /// The list item carried `column` and `members` (empty or not) and `comments_total`.
    pub complete: bool,
}

impl<'de> Deserialize<'de> for ListedCard {
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: Deserializer<'de>,
    {
        let value = serde_json::Value::deserialize(deserializer)?;
        let complete = ["column", "members", "comments_total"]
            .iter()
            .all(|key| value.get(key).is_some_and(|v| !v.is_null()));
        let card = Card::deserialize(value).map_err(D::Error::custom)?;
        Ok(Self { card, complete })
    }
}

/// A comment (`GET /cards/{id}/comments` items, `POST` answer).
///
/// The visibility fields stay as sent (absent is `None`, not `false`): whether a comment may reach
/// the client is decided in `map`, and an unknown value there means internal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// Comment id.
    pub id: i64,
    /// Text: markdown when `type` is 1, HTML when 2.
    #[serde(default, deserialize_with = "null_as_default")]
    pub text: String,
    /// 1 markdown, 2 HTML; a comment of any other type (a kind Kaiten added later) does not
    /// decode, so the comment list skips it rather than guess how to show it.
    #[serde(rename = "type", default, deserialize_with = "text_type")]
    pub text_type: Option<i64>,
    /// Card id.
    #[serde(default)]
    pub card_id: Option<i64>,
    /// Author id; absent on comments no user wrote.
    #[serde(default)]
    pub author_id: Option<i64>,
    /// The author, when embedded (the extracted spec does not list it; the API sends it).
    #[serde(default)]
    pub author: Option<User>,
    /// `true` internal note, `false` public; older payloads omit it.
    #[serde(default)]
    pub internal: Option<bool>,
    /// Soft-deleted.
    #[serde(default, deserialize_with = "null_as_default")]
    pub deleted: bool,
    /// The comment Service Desk shows as the request's description (the requester's own text).
    #[serde(default, deserialize_with = "null_as_default")]
    pub sd_description: bool,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// Comment text type of markdown comments.
pub const TEXT_MARKDOWN: i64 = 1;
/// Comment text type of HTML comments.
pub const TEXT_HTML: i64 = 2;

/// A custom property definition (`GET /company/custom-properties` items).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PropertyDefinition {
    /// The `<n>` of `id_<n>`.
    pub id: i64,
    /// Name, as staff see it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// `string`, `number`, `date`, `email`, `phone`, `checkbox`, `select`, `formula`, `url`,
    /// `collective_score`, `vote`, `collective_vote`, `catalog`, `user`, `attachment` (documented
    /// values; Kaiten may add more).
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// Selects only: several options may be picked.
    #[serde(default, deserialize_with = "null_as_default")]
    pub multi_select: bool,
    /// `active` or `inactive` (undocumented values may appear).
    #[serde(default)]
    pub condition: Option<String>,
}

/// An option of a select property (`GET /company/custom-properties/{id}/select-values` items).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelectValue {
    /// Option id, the value a card stores.
    pub id: i64,
    /// The option's text.
    #[serde(default, deserialize_with = "null_as_default")]
    pub value: String,
    /// Deleted options stay listed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub deleted: bool,
    /// `active` or `inactive`.
    #[serde(default)]
    pub condition: Option<String>,
}

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

/// Comment text types this adapter knows how to show: 1 markdown, 2 HTML.
fn text_type<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    let kind = serde_json::Value::deserialize(deserializer)?;
    if kind.is_null() {
        return Ok(None);
    }
    match kind.as_i64() {
        Some(known @ (1 | TEXT_HTML)) => Ok(Some(known)),
        _ => Err(D::Error::custom(
            "comment type is not markdown (1) or HTML (2)",
        )),
    }
}

/// A card's files, read tolerantly; entries that are no stored file to forward (external storage
/// links, e-mails, files without an address yet) stay in the list, since a retried create looks
/// there for its uploads, and get the one debug line that says they will not be forwarded.
fn card_files<'de, D>(deserializer: D) -> Result<Vec<File>, D::Error>
where
    D: Deserializer<'de>,
{
    let files: Vec<File> = lenient::vec(deserializer)?;
    for file in files.iter().filter(|f| !f.deleted && !f.is_download()) {
        tracing::debug!(
            file_id = %file.id,
            file_type = ?file.file_type,
            has_url = file.url.is_some(),
            "Kept a card file entry that is no file to forward."
        );
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn card_with(files: serde_json::Value) -> Card {
        serde_json::from_value(json!({
            "id": 1, "board_id": 10, "column_id": 101, "state": 1,
            "created": "2026-11-21T12:00:00.000Z", "updated": "2026-11-21T12:00:00.000Z",
            "files": files,
        }))
        .expect("card reads")
    }

    #[test]
    fn every_kind_of_file_entry_reads_and_only_stored_files_are_downloads() {
        let card = card_with(json!([
            {"id": 3001, "type": 1, "name": "a.pdf", "size": 10, "url": "https://x/a.pdf"},
            {"id": "5f0c2d1e-uuid", "type": 11, "name": "b.pdf", "size": "1024",
             "url": "/api/latest/cards/x/files/5f0c"},
            {"id": "6a1d-uuid", "type": 11, "name": "c.pdf", "size": "7", "url": null},
            {"id": 3002, "type": 2, "name": "Drive", "url": "https://drive.google.com/x"},
            {"id": {"storage": "s3"}, "type": 12, "name": null},
        ]));
        let read: Vec<(&str, Option<u64>, bool)> = card
            .files
            .iter()
            .map(|f| (f.id.as_str(), f.size, f.is_download()))
            .collect();
        assert_eq!(
            read,
            [
                ("3001", Some(10), true),
                ("5f0c2d1e-uuid", Some(1024), true),
                ("6a1d-uuid", Some(7), false),
                ("3002", None, false),
            ]
        );
    }

    #[test]
    fn comments_of_unknown_types_do_not_decode() {
        let comment = |kind: serde_json::Value| {
            serde_json::from_value::<Comment>(json!({
                "id": 1, "author_id": 2, "type": kind, "created": "2026-11-21T12:00:00Z",
            }))
        };
        assert_eq!(comment(json!(1)).expect("markdown").text_type, Some(1));
        assert_eq!(comment(json!(2)).expect("html").text_type, Some(TEXT_HTML));
        assert_eq!(comment(json!(null)).expect("untyped").text_type, None);
        assert!(comment(json!(3)).is_err());
        assert!(comment(json!("email")).is_err());
    }
}
