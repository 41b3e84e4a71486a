//! Znuny's Generic Interface wire format (serde only, no logic).
//!
//! Field names are Znuny's (`TicketID`, `IsVisibleForCustomer`). Znuny is Perl: a value read from
//! the database is a string in JSON (`"TicketID": "123"`, `"IsVisibleForCustomer": "1"`), one
//! computed in Perl is a number, and the documentation shows numbers; every numeric field is
//! therefore read leniently from either. Only the fields the adapter reads are modelled; serde
//! ignores the rest. Sources: `Kernel/GenericInterface/Operation/{Session,Ticket}/*.pm` of
//! github.com/znuny/Znuny.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use teledesk_adapter::lenient;

/// `{"Error": {"ErrorCode": "TicketGet.AuthFail", "ErrorMessage": "…"}}`, sent with HTTP 200.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    #[serde(rename = "Error")]
    pub error: GiError,
}

/// An operation error.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct GiError {
    /// `<Operation>.<Reason>`, e.g. `TicketUpdate.AccessDenied`.
    #[serde(rename = "ErrorCode", default, deserialize_with = "text")]
    pub code: String,
    /// Human-readable detail.
    #[serde(rename = "ErrorMessage", default, deserialize_with = "text")]
    pub message: String,
}

/// HTTP 500 body when an operation fails outright: `{"faultcode": "Server", "faultstring": "…"}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Fault {
    /// Always `Server`.
    #[serde(default)]
    pub faultcode: String,
    /// What failed.
    #[serde(default)]
    pub faultstring: String,
}

/// `POST /Session` request.
#[derive(Serialize)]
pub struct SessionCreate<'a> {
    /// Agent login.
    #[serde(rename = "UserLogin")]
    pub user_login: &'a str,
    /// Agent password.
    #[serde(rename = "Password")]
    pub password: &'a str,
}

/// `POST /Session` answer.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SessionCreated {
    /// The session id, sent with every later request.
    #[serde(rename = "SessionID", deserialize_with = "text")]
    pub session_id: String,
}

/// `GET /Session/:SessionID` answer: the session's key/value pairs (user data among them).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct SessionInfo {
    /// `[{"Key": "UserID", "Value": "2"}, …]`.
    #[serde(rename = "SessionData", default, deserialize_with = "list")]
    pub data: Vec<SessionEntry>,
}

/// One session value.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct SessionEntry {
    /// `UserID`, `UserLogin`, `UserFullname`, …
    #[serde(rename = "Key", deserialize_with = "text")]
    pub key: String,
    /// The value (strings, numbers, or JSON text when `Serialized` is 1).
    #[serde(rename = "Value", default)]
    pub value: Value,
}

impl SessionInfo {
    /// A value as text, when present and non-empty.
    pub fn get(&self, key: &str) -> Option<String> {
        self.data
            .iter()
            .find(|e| e.key == key)
            .and_then(|e| match &e.value {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|s| !s.trim().is_empty())
    }
}

/// `Ticket` of a `TicketCreate` request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewTicket {
    /// Title.
    #[serde(rename = "Title")]
    pub title: String,
    /// Queue name.
    #[serde(rename = "Queue")]
    pub queue: String,
    /// State name.
    #[serde(rename = "State")]
    pub state: String,
    /// Priority name.
    #[serde(rename = "Priority")]
    pub priority: String,
    /// Customer user login (or e-mail).
    #[serde(rename = "CustomerUser")]
    pub customer_user: String,
    /// Ticket type name.
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    pub ticket_type: Option<String>,
    /// Service name.
    #[serde(rename = "Service", skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// `Article` of a `TicketCreate`/`TicketUpdate` request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewArticle {
    /// `Phone`, `Internal`, `Email`, …
    #[serde(rename = "CommunicationChannel")]
    pub channel: String,
    /// `customer`, `agent` or `system`.
    #[serde(rename = "SenderType")]
    pub sender_type: String,
    /// 1 public, 0 internal.
    #[serde(rename = "IsVisibleForCustomer")]
    pub visible_for_customer: u8,
    /// Subject (required by Znuny).
    #[serde(rename = "Subject")]
    pub subject: String,
    /// Body (required by Znuny, trimmed by it).
    #[serde(rename = "Body")]
    pub body: String,
    /// `text/plain; charset=utf8`.
    #[serde(rename = "ContentType")]
    pub content_type: String,
    /// The ticket history line.
    #[serde(rename = "HistoryComment")]
    pub history_comment: String,
}

/// An attachment sent to Znuny: base64 inside the JSON.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct NewAttachment {
    /// Base64 of the bytes; in requests teledesk builds, the placeholder of a
    /// `teledesk_adapter::http::Base64Files` that the base64 replaces as the body is sent.
    #[serde(rename = "Content")]
    pub content: String,
    /// MIME type.
    #[serde(rename = "ContentType")]
    pub content_type: String,
    /// File name.
    #[serde(rename = "Filename")]
    pub filename: String,
}

impl std::fmt::Debug for NewAttachment {
    // Base64 of a file would flood any log it reached.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAttachment")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("base64_len", &self.content.len())
            .finish()
    }
}

/// A dynamic field value sent to Znuny.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DynamicFieldValue {
    /// Field name.
    #[serde(rename = "Name")]
    pub name: String,
    /// A string, or an array for multiselect fields.
    #[serde(rename = "Value")]
    pub value: Value,
}

/// `POST /Ticket` request (without the `SessionID`, which the client adds).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TicketCreate {
    /// The ticket.
    #[serde(rename = "Ticket")]
    pub ticket: NewTicket,
    /// Its first article (the description).
    #[serde(rename = "Article")]
    pub article: NewArticle,
    /// Ticket dynamic fields.
    #[serde(rename = "DynamicField", skip_serializing_if = "Vec::is_empty")]
    pub dynamic_fields: Vec<DynamicFieldValue>,
    /// Files of the first article.
    #[serde(rename = "Attachment", skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<NewAttachment>,
}

/// `Ticket` of a `TicketUpdate` request: only what changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TicketChange {
    /// New state name.
    #[serde(rename = "State", skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Required with a pending state.
    #[serde(rename = "PendingTime", skip_serializing_if = "Option::is_none")]
    pub pending_time: Option<PendingTime>,
    /// New priority name.
    #[serde(rename = "Priority", skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
}

/// `{"Diff": minutes}`: a pending time relative to now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PendingTime {
    /// Minutes from now.
    #[serde(rename = "Diff")]
    pub diff: u32,
}

/// `PATCH /Ticket/:TicketID` request (without the `SessionID`).
///
/// Attachments go at the top level, where every Znuny and OTRS 6 accepts them (attached to the
/// article of the same request); only newer Znuny also reads `Article.Attachment`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TicketUpdate {
    /// Ticket fields to change.
    #[serde(rename = "Ticket", skip_serializing_if = "Option::is_none")]
    pub ticket: Option<TicketChange>,
    /// An article to add.
    #[serde(rename = "Article", skip_serializing_if = "Option::is_none")]
    pub article: Option<NewArticle>,
    /// Files of the article.
    #[serde(rename = "Attachment", skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<NewAttachment>,
}

/// `POST /TicketSearch` request (without the `SessionID`).
///
/// Sent as a JSON body on the route the shipped web service defines, because a `GET` body is
/// ignored (Znuny bug 14203) and a query string cannot carry a nested dynamic field filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TicketSearch {
    /// Dynamic field filters as `DynamicField_<Name>: {"Equals": …}`: the form every version
    /// reads (newer Znuny also takes `DynamicField: {"Name", …}`, OTRS 6 does not).
    #[serde(flatten)]
    pub fields: BTreeMap<String, Value>,
    /// `ticket.change_time >=` this naive local time.
    #[serde(
        rename = "TicketLastChangeTimeNewerDate",
        skip_serializing_if = "Option::is_none"
    )]
    pub changed_since: Option<String>,
    /// `ticket.create_time >=` this naive local time.
    #[serde(
        rename = "TicketCreateTimeNewerDate",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_since: Option<String>,
    /// Tickets created by these agents.
    #[serde(rename = "CreatedUserIDs", skip_serializing_if = "Vec::is_empty")]
    pub created_by: Vec<String>,
    /// Archived tickets too (ignored unless Znuny's archive system is on).
    #[serde(rename = "SearchInArchive", skip_serializing_if = "Option::is_none")]
    pub search_in_archive: Option<String>,
    /// `Changed`, `Age`, …
    #[serde(rename = "SortBy", skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<String>,
    /// `Up` or `Down`.
    #[serde(rename = "OrderBy", skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    /// At most this many ids.
    #[serde(rename = "Limit", skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl TicketSearch {
    /// Adds a filter on a ticket dynamic field that has a value: the `Empty` operator with a
    /// false term (Znuny's `DynamicField/Driver/BaseText.pm` `SearchSQLGet`: `IS NOT NULL`, and
    /// not `''` outside Oracle).
    pub fn field_not_empty(mut self, name: &str) -> Self {
        self.fields.insert(
            format!("DynamicField_{name}"),
            serde_json::json!({ "Empty": 0 }),
        );
        self
    }

    /// Adds an exact-match filter on a ticket dynamic field.
    pub fn field_equals(mut self, name: &str, value: &str) -> Self {
        self.fields.insert(
            format!("DynamicField_{name}"),
            serde_json::json!({ "Equals": value }),
        );
        self
    }
}

/// `POST /TicketSearch` answer: `{"TicketID": [...]}`, or `{}` when nothing matched.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct SearchResult {
    /// Matching ticket ids.
    #[serde(rename = "TicketID", default, deserialize_with = "ids")]
    pub ticket_ids: Vec<i64>,
}

/// `POST /Ticket` answer.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TicketCreated {
    /// The new ticket's id.
    #[serde(rename = "TicketID", deserialize_with = "id")]
    pub ticket_id: i64,
    /// Its number.
    #[serde(rename = "TicketNumber", deserialize_with = "text")]
    pub ticket_number: String,
    /// Its first article.
    #[serde(rename = "ArticleID", default, deserialize_with = "opt_id")]
    pub article_id: Option<i64>,
}

/// `PATCH /Ticket/:TicketID` answer.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TicketUpdated {
    /// The ticket.
    #[serde(rename = "TicketID", deserialize_with = "id")]
    pub ticket_id: i64,
    /// The article created, when the request had one.
    #[serde(rename = "ArticleID", default, deserialize_with = "opt_id")]
    pub article_id: Option<i64>,
}

/// `GET /Ticket/:TicketID` answer.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TicketList {
    /// One entry per requested id.
    #[serde(rename = "Ticket", default, deserialize_with = "list")]
    pub tickets: Vec<Ticket>,
}

/// A ticket as `TicketGet` returns it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Ticket {
    /// Id.
    #[serde(rename = "TicketID", deserialize_with = "id")]
    pub ticket_id: i64,
    /// Number (`2026112110000012`).
    #[serde(rename = "TicketNumber", deserialize_with = "text")]
    pub ticket_number: String,
    /// Title.
    #[serde(rename = "Title", default, deserialize_with = "text")]
    pub title: String,
    /// State name.
    #[serde(rename = "State", default, deserialize_with = "text")]
    pub state: String,
    /// State type (`new`, `open`, `pending reminder`, `pending auto`, `closed`, `merged`,
    /// `removed`).
    #[serde(rename = "StateType", default, deserialize_with = "text")]
    pub state_type: String,
    /// Priority name.
    #[serde(rename = "Priority", default, deserialize_with = "text")]
    pub priority: String,
    /// When the first response escalates (epoch seconds; `0` when no escalation applies).
    #[serde(rename = "EscalationResponseTime", default, deserialize_with = "text")]
    pub escalation_response_time: String,
    /// When the solution escalates (epoch seconds; `0` when none applies).
    #[serde(rename = "EscalationSolutionTime", default, deserialize_with = "text")]
    pub escalation_solution_time: String,
    /// Queue name.
    #[serde(rename = "Queue", default, deserialize_with = "text")]
    pub queue: String,
    /// Type name.
    #[serde(rename = "Type", default, deserialize_with = "text")]
    pub ticket_type: String,
    /// Owner login.
    #[serde(rename = "Owner", default, deserialize_with = "text")]
    pub owner: String,
    /// Owner id (1 is the admin every API-created ticket starts with).
    #[serde(rename = "OwnerID", default, deserialize_with = "opt_id")]
    pub owner_id: Option<i64>,
    /// `lock` or `unlock`.
    #[serde(rename = "Lock", default, deserialize_with = "text")]
    pub lock: String,
    /// Responsible login.
    #[serde(rename = "Responsible", default, deserialize_with = "text")]
    pub responsible: String,
    /// Customer user login.
    #[serde(rename = "CustomerUserID", default, deserialize_with = "text")]
    pub customer_user: String,
    /// Creation time, naive in the system time zone.
    #[serde(rename = "Created", default, deserialize_with = "text")]
    pub created: String,
    /// Last change time, naive in the system time zone.
    #[serde(rename = "Changed", default, deserialize_with = "text")]
    pub changed: String,
    /// The agent who created it.
    #[serde(rename = "CreateBy", default, deserialize_with = "opt_id")]
    pub create_by: Option<i64>,
    /// The agent who changed it last.
    #[serde(rename = "ChangeBy", default, deserialize_with = "opt_id")]
    pub change_by: Option<i64>,
    /// Dynamic fields (with `DynamicFields=1`), unset ones with a `null` value.
    #[serde(rename = "DynamicField", default, deserialize_with = "list")]
    pub dynamic_fields: Vec<DynamicField>,
    /// Articles (with `AllArticles=1`); absent when there are none.
    #[serde(rename = "Article", default, deserialize_with = "list")]
    pub articles: Vec<Article>,
}

impl Ticket {
    /// A dynamic field's value as text: strings as they are, arrays joined with `, `.
    pub fn field(&self, name: &str) -> Option<String> {
        let field = self.dynamic_fields.iter().find(|f| f.name == name)?;
        let text = match &field.value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            // A checkbox, where a version sends JSON booleans.
            Value::Bool(b) => u8::from(*b).to_string(),
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            _ => return None,
        };
        (!text.trim().is_empty()).then_some(text)
    }
}

/// A dynamic field value as Znuny returns it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct DynamicField {
    /// Field name.
    #[serde(rename = "Name", deserialize_with = "text")]
    pub name: String,
    /// `null`, a string, or an array.
    #[serde(rename = "Value", default)]
    pub value: Value,
}

/// An article as `TicketGet` returns it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Article {
    /// Id.
    #[serde(rename = "ArticleID", deserialize_with = "id")]
    pub article_id: i64,
    /// `agent`, `customer` or `system`.
    #[serde(rename = "SenderType", default, deserialize_with = "text")]
    pub sender_type: String,
    /// Whether the customer sees it (0 is an internal note).
    #[serde(rename = "IsVisibleForCustomer", default, deserialize_with = "flag")]
    pub visible_for_customer: bool,
    /// Channel name (`Phone`, `Internal`, `Email`); absent in some versions.
    #[serde(rename = "CommunicationChannel", default, deserialize_with = "text")]
    pub channel: String,
    /// `From` header; for agent notes the agent's full name.
    #[serde(rename = "From", default, deserialize_with = "text")]
    pub from: String,
    /// Subject.
    #[serde(rename = "Subject", default, deserialize_with = "text")]
    pub subject: String,
    /// Plain-text body (Znuny keeps an HTML version as an attachment).
    #[serde(rename = "Body", default, deserialize_with = "text")]
    pub body: String,
    /// Creation as a UNIX epoch: the one time in the API that needs no time zone.
    #[serde(rename = "IncomingTime", default, deserialize_with = "opt_id")]
    pub incoming_time: Option<i64>,
    /// Creation time, naive in the system time zone (fallback for `IncomingTime`).
    #[serde(rename = "CreateTime", default, deserialize_with = "text")]
    pub create_time: String,
    /// The agent who wrote it (for customer-sent articles written through the API: the API
    /// agent).
    #[serde(rename = "CreateBy", default, deserialize_with = "opt_id")]
    pub create_by: Option<i64>,
    /// Files (with `Attachments=1`); absent when there are none.
    #[serde(rename = "Attachment", default, deserialize_with = "list")]
    pub attachments: Vec<AttachmentData>,
}

/// An article attachment as `TicketGet` returns it.
#[derive(Clone, PartialEq, Deserialize)]
pub struct AttachmentData {
    /// Index within the article (`1`, `2`, …).
    #[serde(rename = "FileID", deserialize_with = "id")]
    pub file_id: i64,
    /// File name.
    #[serde(rename = "Filename", default, deserialize_with = "text")]
    pub filename: String,
    /// MIME type, possibly with parameters (`image/png; name="a.png"`).
    #[serde(rename = "ContentType", default, deserialize_with = "text")]
    pub content_type: String,
    /// Size in bytes.
    #[serde(rename = "FilesizeRaw", default, deserialize_with = "opt_id")]
    pub size: Option<i64>,
    /// Base64 of the bytes; empty with `GetAttachmentContents=0`.
    #[serde(rename = "Content", default, deserialize_with = "text")]
    pub content: String,
}

impl std::fmt::Debug for AttachmentData {
    // The base64 content would flood assertion messages and logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentData")
            .field("file_id", &self.file_id)
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .field("content_len", &self.content.len())
            .finish()
    }
}

/// The payload Znuny's `Ticket::Generic` invoker posts:
/// `{"Ticket": {…TicketDeepGet…}, "Event": {"TicketID": …, "ArticleID": …, …}}`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct InvokerPayload {
    /// The event data the invoker was triggered with.
    #[serde(rename = "Event", default)]
    pub event: Option<InvokerRef>,
    /// The ticket (fields may be omitted by SysConfig).
    #[serde(rename = "Ticket", default)]
    pub ticket: Option<InvokerRef>,
}

/// The part of the invoker payload that names the ticket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct InvokerRef {
    /// The ticket id.
    #[serde(rename = "TicketID", default, deserialize_with = "opt_id")]
    pub ticket_id: Option<i64>,
}

fn id<'de, D>(deserializer: D) -> Result<i64, D::Error>
where
    D: Deserializer<'de>,
{
    opt_id(deserializer)?.ok_or_else(|| de::Error::custom("an id is missing"))
}

/// A number, or a string holding one; `null` and `""` are `None`.
fn opt_id<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("{n} is not an integer"))),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("{s:?} is not an integer"))),
        other => Err(de::Error::custom(format!("{other} is not an integer"))),
    }
}

fn ids<'de, D>(deserializer: D) -> Result<Vec<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    let parse = |value: Value| -> Result<i64, D::Error> {
        id(value).map_err(|e: serde_json::Error| de::Error::custom(e.to_string()))
    };
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items.into_iter().map(parse).collect(),
        single => Ok(vec![parse(single)?]),
    }
}

/// A string, or a number as its text; `null` is empty.
fn text<'de, D>(deserializer: D) -> Result<String, D::Error>
where
    D: Deserializer<'de>,
{
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(if b { "1" } else { "0" }.to_owned()),
        other => Err(de::Error::custom(format!("{other} is not text"))),
    }
}

/// `1`/`0`, `"1"`/`"0"`, or a boolean.
fn flag<'de, D>(deserializer: D) -> Result<bool, D::Error>
where
    D: Deserializer<'de>,
{
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(b),
        Value::Number(n) => Ok(n.as_f64().is_some_and(|f| f != 0.0)),
        Value::String(s) => Ok(!matches!(s.trim(), "" | "0")),
        other => Err(de::Error::custom(format!("{other} is not a flag"))),
    }
}

/// An array; `null` is empty and a lone object is a list of one (Perl hands back a hash where a
/// list has one element in a few code paths). An element that does not decode (a dynamic field
/// of an unseen shape, an article of an unknown kind) is skipped, not fatal.
fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        Value::String(s) if s.is_empty() => return Ok(Vec::new()),
        single => vec![single],
    };
    Ok(lenient::keep_decodable(items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let path = format!("{}/../../fixtures/znuny/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn every_fixture_parses_into_its_type() {
        let session: SessionCreated = fixture("session_create.json");
        assert_eq!(session.session_id.len(), 32);
        let info: SessionInfo = fixture("session_get.json");
        assert_eq!(info.get("UserID").as_deref(), Some("2"));
        assert_eq!(info.get("Missing"), None);
        let created: TicketCreated = fixture("ticket_create.json");
        assert_eq!((created.ticket_id, created.article_id), (4012, Some(9101)));
        let updated: TicketUpdated = fixture("ticket_update.json");
        assert_eq!(updated.article_id, Some(9102));
        let fields_only: TicketUpdated = fixture("ticket_update_no_article.json");
        assert_eq!(
            (fields_only.ticket_id, fields_only.article_id),
            (4012, None)
        );
        let found: SearchResult = fixture("ticket_search.json");
        assert_eq!(found.ticket_ids, [4012, 4015]);
        let none: SearchResult = fixture("ticket_search_empty.json");
        assert!(none.ticket_ids.is_empty());
        let full: TicketList = fixture("ticket_get.json");
        assert_eq!(full.tickets[0].articles.len(), 7);
        assert_eq!(full.tickets[0].owner_id, Some(3));
        let changes: TicketList = fixture("ticket_changes.json");
        assert_eq!(changes.tickets.len(), 2);
        let download: TicketList = fixture("ticket_download.json");
        assert_eq!(
            download.tickets[0].articles[1].attachments[0].content,
            "JVBERi0="
        );
        for name in [
            "error_auth_fail.json",
            "error_session_create.json",
            "error_access_denied.json",
            "error_invalid_parameter.json",
            "error_pending_time.json",
        ] {
            let envelope: ErrorEnvelope = fixture(name);
            assert!(envelope.error.code.contains('.'), "{name}");
        }
        let fault: Fault = fixture("fault_500.json");
        assert_eq!(fault.faultcode, "Server");
        let hook: InvokerPayload = fixture("webhook_article_create.json");
        assert_eq!(hook.event.and_then(|e| e.ticket_id), Some(4012));
    }

    #[test]
    fn numbers_arrive_as_numbers_or_strings() {
        let created: TicketCreated =
            serde_json::from_value(json!({"TicketID": "12", "TicketNumber": 2026, "ArticleID": 3}))
                .expect("lenient");
        assert_eq!(created.ticket_id, 12);
        assert_eq!(created.ticket_number, "2026");
        assert_eq!(created.article_id, Some(3));
        let result: SearchResult =
            serde_json::from_value(json!({"TicketID": ["1", 2]})).expect("lenient");
        assert_eq!(result.ticket_ids, [1, 2]);
        let single: SearchResult = serde_json::from_value(json!({"TicketID": "7"})).expect("one");
        assert_eq!(single.ticket_ids, [7]);
        let empty: SearchResult = serde_json::from_value(json!({})).expect("empty");
        assert!(empty.ticket_ids.is_empty());
    }

    #[test]
    fn flags_and_lists_are_lenient() {
        let article: Article = serde_json::from_value(json!({
            "ArticleID": "5", "IsVisibleForCustomer": "0", "IncomingTime": "1795262400",
            "Attachment": {"FileID": "1", "Filename": "a.txt", "FilesizeRaw": 3},
        }))
        .expect("lenient");
        assert!(!article.visible_for_customer);
        assert_eq!(article.incoming_time, Some(1_795_262_400));
        assert_eq!(article.attachments.len(), 1);
        let visible: Article =
            serde_json::from_value(json!({"ArticleID": 6, "IsVisibleForCustomer": 1}))
                .expect("numbers");
        assert!(visible.visible_for_customer);
        assert!(serde_json::from_value::<Article>(json!({"ArticleID": "x"})).is_err());
    }

    #[test]
    fn requests_use_znunys_field_names() {
        let update = TicketUpdate {
            ticket: Some(TicketChange {
                state: Some("pending reminder".into()),
                pending_time: Some(PendingTime { diff: 1440 }),
                priority: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&update).expect("json"),
            json!({"Ticket": {"State": "pending reminder", "PendingTime": {"Diff": 1440}}})
        );
        let search = TicketSearch {
            limit: Some(2),
            ..Default::default()
        }
        .field_equals("TeledeskKey", "tg:1:2");
        assert_eq!(
            serde_json::to_value(&search).expect("json"),
            json!({"DynamicField_TeledeskKey": {"Equals": "tg:1:2"}, "Limit": 2})
        );
    }

    #[test]
    fn ticket_fields_read_as_text() {
        let ticket: Ticket = serde_json::from_value(json!({
            "TicketID": 1, "TicketNumber": "1",
            "DynamicField": [
                {"Name": "Resolution", "Value": "Заменили"},
                {"Name": "Tags", "Value": ["a", "b"]},
                {"Name": "Empty", "Value": null},
                {"Name": "Blank", "Value": " "},
            ],
        }))
        .expect("ticket");
        assert_eq!(ticket.field("Resolution").as_deref(), Some("Заменили"));
        assert_eq!(ticket.field("Tags").as_deref(), Some("a, b"));
        assert_eq!(ticket.field("Empty"), None);
        assert_eq!(ticket.field("Blank"), None);
        assert_eq!(ticket.field("Missing"), None);
    }
}
