//! Zammad's wire format: what `/api/v1` sends and accepts (serde only, no logic).
//!
//! Only the fields the adapter reads are modelled; serde ignores the rest, so Zammad adding fields
//! never breaks parsing. Shapes come from docs.zammad.org (API → Tickets, Articles, Users, States,
//! Priorities, Links) and the controllers of github.com/zammad/zammad (`tickets_controller.rb`,
//! `ticket_articles_controller.rb`, `links_controller.rb`); `fixtures/zammad/` holds examples.

use serde::{Deserialize, Deserializer, Serialize};
use teledesk_adapter::lenient;
use time::OffsetDateTime;

/// A user (`GET /users/me`, `GET /users/{id}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub id: i64,
    /// Login (often the e-mail address); `-` for the system user 1.
    #[serde(default)]
    pub login: Option<String>,
    /// First name.
    #[serde(default)]
    pub firstname: Option<String>,
    /// Last name.
    #[serde(default)]
    pub lastname: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
}

/// A ticket as `GET /tickets/{id}?expand=true` and the expanded search send it: every column,
/// plus the names of its associations (`group`, `state`, `priority`, `owner` login...).
///
/// Custom object attributes are top-level keys and land in [`Ticket::attributes`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// Ticket id, used in API paths.
    pub id: i64,
    /// Ticket number shown to people (`31001`); a string in Zammad's JSON.
    #[serde(deserialize_with = "lenient::string")]
    pub number: String,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Group id.
    #[serde(default)]
    pub group_id: Option<i64>,
    /// State id.
    pub state_id: i64,
    /// Priority id.
    pub priority_id: i64,
    /// Owner (agent) id; 1 is the system user, i.e. nobody.
    #[serde(default)]
    pub owner_id: Option<i64>,
    /// Customer id.
    #[serde(default)]
    pub customer_id: Option<i64>,
    /// Organization id.
    #[serde(default)]
    pub organization_id: Option<i64>,
    /// The ticket's `note` column, where teledesk stores its idempotency key.
    #[serde(default)]
    pub note: Option<String>,
    /// First close time, set once.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub close_at: Option<OffsetDateTime>,
    /// When the first response is due (the SLA's escalation time), when an SLA applies.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub first_response_escalation_at: Option<OffsetDateTime>,
    /// When the ticket is due to be closed, when an SLA applies.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub close_escalation_at: Option<OffsetDateTime>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last update time (any change, including a new article).
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Group name (expanded responses only).
    #[serde(default)]
    pub group: Option<String>,
    /// State name (expanded responses only).
    #[serde(default)]
    pub state: Option<String>,
    /// Priority name (expanded responses only).
    #[serde(default)]
    pub priority: Option<String>,
    /// Everything else, custom object attributes included.
    #[serde(flatten)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// A file of an article (`attachments` of an article).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArticleAttachment {
    /// Store id, the last segment of the download path.
    pub id: i64,
    /// File name.
    pub filename: String,
    /// Size in bytes; Zammad stores it as a string column.
    #[serde(default, deserialize_with = "lenient::opt_number")]
    pub size: Option<u64>,
    /// `Mime-Type`, `Content-Type`, `Content-ID`...
    #[serde(default, deserialize_with = "null_as_default")]
    pub preferences: serde_json::Map<String, serde_json::Value>,
}

/// An article (`GET /ticket_articles/by_ticket/{id}` items, `POST /ticket_articles` answer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Article {
    /// Article id.
    pub id: i64,
    /// Ticket id.
    pub ticket_id: i64,
    /// Type name: `web`, `note`, `email`, `phone`...
    #[serde(rename = "type", default)]
    pub article_type: Option<String>,
    /// Sender name: `Agent`, `Customer` or `System`.
    #[serde(default)]
    pub sender: Option<String>,
    /// Who it is from as Zammad shows it (`Мария Иванова`, `Ann <ann@example.com>`).
    #[serde(default)]
    pub from: Option<String>,
    /// Subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// Body, HTML or plain text per `content_type`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub body: String,
    /// `text/html` or `text/plain`.
    #[serde(default)]
    pub content_type: Option<String>,
    /// An internal note, invisible to the customer.
    #[serde(default)]
    pub internal: bool,
    /// The message id; teledesk stores its idempotency key here.
    #[serde(default)]
    pub message_id: Option<String>,
    /// The API user that wrote it.
    pub created_by_id: i64,
    /// The user it was written on behalf of, when set.
    #[serde(default)]
    pub origin_by_id: Option<i64>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Files; one of a shape the adapter does not know is skipped.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub attachments: Vec<ArticleAttachment>,
}

/// A ticket state (`GET /ticket_states`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// State id.
    pub id: i64,
    /// Name (`open`).
    pub name: String,
    /// 1 new, 2 open, 3 pending reminder, 4 pending action, 5 closed, 6 merged, 7 removed.
    pub state_type_id: i64,
}

/// A ticket priority (`GET /ticket_priorities`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Priority {
    /// Priority id.
    pub id: i64,
    /// Name (`3 high`).
    pub name: String,
}

/// One entry of `GET /links`: the object on the other end of a link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// `normal`, `parent` or `child` (seen from the asked object).
    pub link_type: String,
    /// `Ticket`, `KnowledgeBase::Answer::Translation`...
    pub link_object: String,
    /// The other object's id.
    pub link_object_value: i64,
}

/// `GET /links?link_object=Ticket&link_object_value={id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Links {
    /// The links of the object.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub links: Vec<Link>,
}

/// Zammad's error body: `{"error": "...", "error_human": "..."}` (`error_human` may be absent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error, as Zammad reports it.
    #[serde(default)]
    pub error: Option<String>,
    /// A friendlier text, when Zammad has one.
    #[serde(default)]
    pub error_human: Option<String>,
}

/// A file sent inside an article: base64 inside the JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewAttachment {
    /// File name.
    pub filename: String,
    /// Base64 (standard alphabet, padded) of the bytes.
    pub data: String,
    /// MIME type, stored by Zammad as the `Mime-Type` preference.
    #[serde(rename = "mime-type")]
    pub mime_type: String,
}

/// An article to write: inside `POST /tickets` (`article`) or as `POST /ticket_articles`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewArticle {
    /// The ticket, for `POST /ticket_articles`; absent inside a ticket create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<i64>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Body.
    pub body: String,
    /// `text/plain`: teledesk writes plain text.
    pub content_type: &'static str,
    /// `web` for client messages, `note` for internal notes.
    #[serde(rename = "type")]
    pub article_type: &'static str,
    /// Internal note or not.
    pub internal: bool,
    /// `Customer` for client messages, `Agent` for notes.
    pub sender: &'static str,
    /// The idempotency key as a message id (`<tg:-100123:45@teledesk>`).
    pub message_id: String,
    /// Files.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<NewAttachment>,
}

/// `POST /tickets` with its first article.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreateTicket {
    /// Title.
    pub title: String,
    /// Group name.
    pub group: String,
    /// `guess:<email>` or a user id.
    pub customer_id: serde_json::Value,
    /// Priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_id: Option<i64>,
    /// Organization name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// The idempotency key.
    pub note: String,
    /// The first article: the client's description.
    pub article: NewArticle,
    /// Custom object attributes, as top-level keys.
    #[serde(flatten)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// `PUT /tickets/{id}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UpdateTicket {
    /// New state, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// New priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_id: Option<i64>,
}

/// `POST /links/add`: the source is named by ticket number, the target by id.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AddLink {
    /// `normal`.
    pub link_type: &'static str,
    /// `Ticket`.
    pub link_object_source: &'static str,
    /// The source ticket's number.
    pub link_object_source_number: String,
    /// `Ticket`.
    pub link_object_target: &'static str,
    /// The target ticket's id.
    pub link_object_target_value: i64,
}

/// The part of a webhook body the adapter reads: the default payload's `ticket.id`, which a custom
/// payload template renders as a string (`"#{ticket.id}"`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct WebhookBody {
    /// The ticket the trigger fired for.
    pub ticket: WebhookTicket,
}

/// `ticket` of a webhook body.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct WebhookTicket {
    /// Ticket id, a number or a numeric string.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
