//! RT 5 REST2's wire format: what `/REST/2.0` sends and accepts (serde only, no logic).
//!
//! Only the fields the adapter reads are modelled; serde ignores the rest. REST2 is loose about
//! types (checked on RT 5.0.3): record ids are numbers in a single record but strings in
//! collections, most numeric fields (`Priority`, `ContentLength`, `ObjectId`) are strings, an
//! empty collection has `"pages": 0.0`, and empty fields may be left out. The `flex_*` helpers
//! accept either form. Shapes: `fixtures/rt/*.json`, recorded from RT 5.0.3.

use serde::{Deserialize, Deserializer, Serialize};
use teledesk_adapter::lenient;
use time::OffsetDateTime;

/// A paged collection (`GET /tickets`, `/ticket/{id}/history`, `/ticket/{id}/attachments`,
/// `POST /transactions`...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Collection<T> {
    /// Items on this page; one of a shape the adapter does not know is skipped.
    #[serde(
        deserialize_with = "lenient::vec",
        bound(deserialize = "T: serde::de::DeserializeOwned")
    )]
    pub items: Vec<T>,
    /// This page's number, from 1.
    #[serde(default = "one", deserialize_with = "flex_i64")]
    pub page: i64,
    /// Number of pages (`0.0` when empty).
    #[serde(default, deserialize_with = "flex_f64")]
    pub pages: f64,
    /// Items across all pages.
    #[serde(default, deserialize_with = "flex_i64")]
    pub total: i64,
    /// The next page's address, when there is one.
    #[serde(default)]
    pub next_page: Option<String>,
}

fn one() -> i64 {
    1
}

/// A reference to another record (`{"type":"user","id":"root","_url":…}`): users are named by
/// login, other records by number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// The record's id (a user's login).
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// `user`, `queue`, `ticket`, `transaction`...
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// A user reference expanded with `fields[Creator]=Name,RealName,EmailAddress`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// Login (RT puts the login, not the number, in user references).
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// Login, when expanded.
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
    /// Display name, when expanded and set.
    #[serde(rename = "RealName", default)]
    pub real_name: Option<String>,
    /// E-mail, when expanded and set.
    #[serde(rename = "EmailAddress", default)]
    pub email: Option<String>,
}

/// A link in `_hyperlinks` (`ref` = `self`, `history`, `lifecycle`, `refers-to`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hyperlink {
    /// What the link is.
    #[serde(rename = "ref")]
    pub rel: String,
    /// The linked record's id, for record links.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    /// Record type, for record links.
    #[serde(rename = "type", default, deserialize_with = "lenient::opt_string")]
    pub kind: Option<String>,
}

/// One ticket custom field with its values, as in a ticket's `CustomFields`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomFieldValues {
    /// Custom field id.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// Custom field name.
    #[serde(default)]
    pub name: String,
    /// Values: text for most types; other shapes (an image's or a file's) are kept as sent.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub values: Vec<serde_json::Value>,
}

/// `GET /ticket/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// Ticket number.
    #[serde(deserialize_with = "flex_i64")]
    pub id: i64,
    /// Subject.
    #[serde(rename = "Subject", default)]
    pub subject: String,
    /// Lifecycle status (`new`, `open`, ...).
    #[serde(rename = "Status")]
    pub status: String,
    /// The queue.
    #[serde(rename = "Queue")]
    pub queue: ObjectRef,
    /// The owner; the user `Nobody` when nobody owns it.
    #[serde(rename = "Owner")]
    pub owner: ObjectRef,
    /// Requestors (users, by login).
    #[serde(rename = "Requestor", default, deserialize_with = "lenient::vec")]
    pub requestor: Vec<ObjectRef>,
    /// Priority; `None` when RT holds something that is not a number.
    #[serde(rename = "Priority", default, deserialize_with = "flex_opt_i64")]
    pub priority: Option<i64>,
    /// Creation time.
    #[serde(rename = "Created", with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Last update time.
    #[serde(rename = "LastUpdated", with = "time::serde::rfc3339")]
    pub last_updated: OffsetDateTime,
    /// Custom fields applied to the ticket, with values.
    #[serde(rename = "CustomFields", default, deserialize_with = "lenient::vec")]
    pub custom_fields: Vec<CustomFieldValues>,
    /// `Due`, ISO 8601; RT shows an unset date as the epoch (`1970-01-01T00:00:00Z`).
    #[serde(rename = "Due", default, deserialize_with = "lenient::opt_string")]
    pub due: Option<String>,
    /// Links: self, history, lifecycle actions, relations (`refers-to`, `depends-on`...).
    #[serde(rename = "_hyperlinks", default, deserialize_with = "lenient::vec")]
    pub hyperlinks: Vec<Hyperlink>,
}

/// The login RT uses for "no owner".
pub const NOBODY: &str = "Nobody";

/// An item of `GET /ticket/{id}/history?fields=Type,Created,Creator,Field,OldValue,NewValue`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    /// Transaction id.
    #[serde(deserialize_with = "flex_i64")]
    pub id: i64,
    /// `Create`, `Correspond`, `Comment`, `Status`, `Set`, `EmailRecord`...
    #[serde(rename = "Type")]
    pub kind: String,
    /// When it happened.
    #[serde(rename = "Created", with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Who did it.
    #[serde(rename = "Creator")]
    pub creator: UserRef,
    /// The changed field, for `Set`/`Status`.
    #[serde(rename = "Field", default, deserialize_with = "lenient::text")]
    pub field: String,
    /// Old value, for changes.
    #[serde(rename = "OldValue", default, deserialize_with = "lenient::text")]
    pub old_value: String,
    /// New value, for changes.
    #[serde(rename = "NewValue", default, deserialize_with = "lenient::text")]
    pub new_value: String,
}

/// Public reply.
pub const TXN_CORRESPOND: &str = "Correspond";
/// Internal comment.
pub const TXN_COMMENT: &str = "Comment";
/// The ticket's creation, carrying the first message.
pub const TXN_CREATE: &str = "Create";
/// A status change.
pub const TXN_STATUS: &str = "Status";

/// An item of `/ticket/{id}/attachments` or `/attachments` with
/// `fields=TransactionId,ContentType,Filename,ContentLength[,Content]`.
///
/// RT stores each MIME part of a message as an "attachment": the text body is one without a file
/// name. `Content` in a collection is decoded text (binary parts come out mangled), so files are
/// downloaded through [`AttachmentRecord`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentItem {
    /// Attachment id.
    #[serde(deserialize_with = "flex_i64")]
    pub id: i64,
    /// The transaction the part belongs to.
    #[serde(rename = "TransactionId", default, deserialize_with = "flex_opt_i64")]
    pub transaction_id: Option<i64>,
    /// MIME type of the part.
    #[serde(rename = "ContentType", default, deserialize_with = "lenient::text")]
    pub content_type: String,
    /// File name; empty for message bodies.
    #[serde(rename = "Filename", default, deserialize_with = "lenient::text")]
    pub filename: String,
    /// Size in bytes.
    #[serde(rename = "ContentLength", default, deserialize_with = "flex_opt_i64")]
    pub content_length: Option<i64>,
    /// Decoded content, when asked for.
    #[serde(rename = "Content", default)]
    pub content: Option<String>,
    /// Who wrote the message the part belongs to, when asked for.
    #[serde(rename = "Creator", default)]
    pub creator: Option<ObjectRef>,
}

/// `GET /attachment/{id}`: one part, `Content` base64-encoded (with MIME line breaks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRecord {
    /// Attachment id.
    #[serde(deserialize_with = "flex_i64")]
    pub id: i64,
    /// File name; empty for message bodies.
    #[serde(rename = "Filename", default, deserialize_with = "lenient::text")]
    pub filename: String,
    /// MIME type.
    #[serde(rename = "ContentType", default, deserialize_with = "lenient::text")]
    pub content_type: String,
    /// Base64 of the bytes.
    #[serde(rename = "Content", default)]
    pub content: String,
}

/// `GET /user/{id or login}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User number.
    #[serde(deserialize_with = "flex_i64")]
    pub id: i64,
    /// Login.
    #[serde(rename = "Name")]
    pub name: String,
    /// Display name.
    #[serde(rename = "RealName", default)]
    pub real_name: Option<String>,
    /// E-mail.
    #[serde(rename = "EmailAddress", default)]
    pub email: Option<String>,
}

/// `GET /queue/{id or name}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    /// Queue number.
    #[serde(deserialize_with = "flex_i64")]
    pub id: i64,
    /// Queue name.
    #[serde(rename = "Name")]
    pub name: String,
    /// The lifecycle its tickets follow.
    #[serde(rename = "Lifecycle", default)]
    pub lifecycle: Option<String>,
    /// Ticket custom fields applied to the queue (references only).
    #[serde(rename = "TicketCustomFields", default)]
    pub ticket_custom_fields: Vec<ObjectRef>,
}

/// `GET /customfield/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomField {
    /// Custom field number.
    #[serde(deserialize_with = "flex_i64")]
    pub id: i64,
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
}

/// An item of `POST /transactions` with `fields=ObjectId,Created`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundTransaction {
    /// Transaction id.
    #[serde(deserialize_with = "flex_i64")]
    pub id: i64,
    /// The ticket (for `ObjectType` `RT::Ticket`).
    #[serde(rename = "ObjectId", deserialize_with = "flex_i64")]
    pub object_id: i64,
    /// When it happened.
    #[serde(rename = "Created", with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// The answer to `POST /ticket` (`201`, plus a `Location` header).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// The new record's id.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
}

/// REST2's error body (`{"message": "..."}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub message: String,
}

/// One condition of a REST2 JSON search (`[{"field":…,"operator":…,"value":…}]`).
///
/// Unlike TicketSQL, JSON searches compare the raw database column, so a date is UTC whatever the
/// API user's time zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Limit {
    /// Column.
    pub field: &'static str,
    /// `=` when absent; `>=`, `LIKE` (RT adds the `%` around the value)...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<&'static str>,
    /// Value, as text.
    pub value: String,
}

impl Limit {
    /// `field = value`.
    pub fn equals(field: &'static str, value: impl Into<String>) -> Self {
        Self {
            field,
            operator: None,
            value: value.into(),
        }
    }

    /// The ticket-creation transactions of the user `creator` (an id): where the tickets this
    /// user created are found.
    pub fn ticket_creations_by(creator: i64) -> [Self; 3] {
        [
            Self::equals("ObjectType", "RT::Ticket"),
            Self::equals("Type", TXN_CREATE),
            Self::equals("Creator", creator.to_string()),
        ]
    }
}

/// `POST /ticket/{id}/correspond` and `/comment`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Message {
    /// The text.
    #[serde(rename = "Content")]
    pub content: String,
    /// `text/plain`.
    #[serde(rename = "ContentType")]
    pub content_type: &'static str,
}

/// `PUT /ticket/{id}`: only what teledesk changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpdateTicket {
    /// New status.
    #[serde(rename = "Status", skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// New priority.
    #[serde(rename = "Priority", skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
}

fn flex_value<'de, D>(deserializer: D) -> Result<serde_json::Value, D::Error>
where
    D: Deserializer<'de>,
{
    serde_json::Value::deserialize(deserializer)
}

fn as_i64(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An integer sent as a number or a string.
pub fn flex_i64<'de, D>(deserializer: D) -> Result<i64, D::Error>
where
    D: Deserializer<'de>,
{
    let value = flex_value(deserializer)?;
    as_i64(&value).ok_or_else(|| serde::de::Error::custom(format!("not an integer: {value}")))
}

/// An integer sent as a number or a string; empty, null or not a number is `None`.
pub fn flex_opt_i64<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(as_i64(&flex_value(deserializer)?))
}

/// A number sent as a number or a string.
pub fn flex_f64<'de, D>(deserializer: D) -> Result<f64, D::Error>
where
    D: Deserializer<'de>,
{
    match flex_value(deserializer)? {
        serde_json::Value::Number(n) => Ok(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Ok(s.trim().parse().unwrap_or_default()),
        _ => Ok(0.0),
    }
}
