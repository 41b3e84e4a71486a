//! GLPI's legacy REST API (`apirest.php`) wire format: what it sends and accepts (serde only, no
//! logic).
//!
//! Only the fields the adapter reads are modelled; serde ignores the rest (GLPI adds `links`
//! and many more). GLPI 10 answers integers as JSON numbers, older versions and some columns as
//! numeric strings, so ids and codes accept both. Times are `YYYY-MM-DD HH:MM:SS` strings without
//! a zone and are parsed in `map`. Field lists: `apirest.md`, `src/Api/API.php` and the itemtype
//! classes of github.com/glpi-project/glpi.

use serde::{Deserialize, Deserializer, Serialize};
use teledesk_adapter::lenient;

/// `GET /initSession` answer.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct SessionToken {
    /// Sent back as the `Session-Token` header.
    pub session_token: String,
}

/// `GET /getFullSession` answer (GLPI's whole PHP `$_SESSION`; only the user is read).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FullSession {
    /// The session variables.
    pub session: SessionUser,
}

/// The logged-in user inside `getFullSession`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct SessionUser {
    /// The user id.
    #[serde(rename = "glpiID", deserialize_with = "int")]
    pub id: i64,
    /// The login.
    #[serde(rename = "glpiname", default)]
    pub login: String,
    /// "Firstname Realname" as GLPI shows the user.
    #[serde(rename = "glpifriendlyname", default)]
    pub friendly_name: Option<String>,
}

/// `POST /<itemtype>` answer for one item: 201 `{"id": 123, "message": ""}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Created {
    /// The new item's id.
    #[serde(deserialize_with = "int")]
    pub id: i64,
    /// GLPI's message after redirect (informational).
    #[serde(default)]
    pub message: String,
}

/// A ticket (`GET /Ticket/:id`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Ticket {
    /// Ticket id, also its number.
    #[serde(deserialize_with = "int")]
    pub id: i64,
    /// Entity.
    #[serde(default, deserialize_with = "opt_int")]
    pub entities_id: Option<i64>,
    /// Title.
    #[serde(default)]
    pub name: String,
    /// Description (HTML).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub content: Option<String>,
    /// Status code 1–6.
    #[serde(deserialize_with = "int")]
    pub status: i64,
    /// Priority 1–6.
    #[serde(default, deserialize_with = "opt_int")]
    pub priority: Option<i64>,
    /// Urgency 1–5.
    #[serde(default, deserialize_with = "opt_int")]
    pub urgency: Option<i64>,
    /// Opening date.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub date: Option<String>,
    /// Last modification.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub date_mod: Option<String>,
    /// When the ticket is due to be taken (owned) by a technician, from its SLA.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub time_to_own: Option<String>,
    /// When the ticket is due to be resolved, from its SLA.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub time_to_resolve: Option<String>,
    /// Creation of the row.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub date_creation: Option<String>,
    /// The user who wrote the ticket (the integration user for teledesk's tickets).
    #[serde(default, deserialize_with = "opt_int")]
    pub users_id_recipient: Option<i64>,
    /// The request source (Helpdesk, E-Mail, Phone… or one an admin added).
    #[serde(default, deserialize_with = "opt_int")]
    pub requesttypes_id: Option<i64>,
    /// Names of the foreign keys asked for with `add_keys_names[]` (the entity's complete name).
    #[serde(rename = "_keys_names", default, deserialize_with = "keys_names")]
    pub keys_names: Option<KeysNames>,
}

/// Friendly names GLPI adds with `add_keys_names[]=<fkey>` (since 9.5).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct KeysNames {
    /// The name of `users_id`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub users_id: Option<String>,
    /// The complete name of `entities_id` (`Root entity > Acme`).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub entities_id: Option<String>,
}

/// `_keys_names` as an object; anything else (PHP encodes an empty array as `[]`) as none.
fn keys_names<'de, D>(deserializer: D) -> Result<Option<KeysNames>, D::Error>
where
    D: Deserializer<'de>,
{
    match serde_json::Value::deserialize(deserializer)? {
        value @ serde_json::Value::Object(_) => Ok(serde_json::from_value(value).ok()),
        _ => Ok(None),
    }
}

/// A followup (`GET /Ticket/:id/ITILFollowup`, `GET /ITILFollowup/:id`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Followup {
    /// Followup id.
    #[serde(deserialize_with = "int")]
    pub id: i64,
    /// Parent itemtype (`Ticket`).
    #[serde(default)]
    pub itemtype: String,
    /// Parent id.
    #[serde(default, deserialize_with = "opt_int")]
    pub items_id: Option<i64>,
    /// Author.
    #[serde(default, deserialize_with = "opt_int")]
    pub users_id: Option<i64>,
    /// Text (HTML).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub content: Option<String>,
    /// 1 for a private followup (an internal note).
    #[serde(default, deserialize_with = "flag")]
    pub is_private: bool,
    /// When it was written.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub date: Option<String>,
    /// Creation of the row.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub date_creation: Option<String>,
    /// Names of the foreign keys asked for.
    #[serde(rename = "_keys_names", default)]
    pub keys_names: Option<KeysNames>,
}

/// A solution (`GET /Ticket/:id/ITILSolution`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Solution {
    /// Solution id.
    #[serde(deserialize_with = "int")]
    pub id: i64,
    /// Text (HTML).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub content: Option<String>,
    /// 1 none, 2 waiting for approval, 3 accepted, 4 refused.
    #[serde(default, deserialize_with = "opt_int")]
    pub status: Option<i64>,
    /// Creation of the row.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub date_creation: Option<String>,
}

/// Solution status of a refused solution (`CommonITILValidation::REFUSED`).
pub const SOLUTION_REFUSED: i64 = 4;

/// An actor of a ticket (`GET /Ticket/:id/Ticket_User`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TicketUser {
    /// Row id.
    #[serde(deserialize_with = "int")]
    pub id: i64,
    /// The user.
    #[serde(deserialize_with = "int")]
    pub users_id: i64,
    /// 1 requester, 2 assigned, 3 observer.
    #[serde(rename = "type", deserialize_with = "int")]
    pub actor_type: i64,
    /// Names of the foreign keys asked for.
    #[serde(rename = "_keys_names", default)]
    pub keys_names: Option<KeysNames>,
}

/// `Ticket_User.type` of requesters.
pub const ACTOR_REQUESTER: i64 = 1;
/// `Ticket_User.type` of assigned technicians.
pub const ACTOR_ASSIGNED: i64 = 2;

/// A link between a document and an item (`GET /<itemtype>/:id/Document_Item`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct DocumentItem {
    /// Row id.
    #[serde(deserialize_with = "int")]
    pub id: i64,
    /// The document.
    #[serde(deserialize_with = "int")]
    pub documents_id: i64,
    /// The item's type (`Ticket`, `ITILFollowup`).
    #[serde(default)]
    pub itemtype: String,
    /// The item's id.
    #[serde(deserialize_with = "int")]
    pub items_id: i64,
}

/// A document (`GET /Document/:id` as JSON, `getMultipleItems`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Document {
    /// Document id.
    #[serde(deserialize_with = "int")]
    pub id: i64,
    /// The document's title.
    #[serde(default)]
    pub name: String,
    /// The uploaded file's name.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub filename: Option<String>,
    /// MIME type as GLPI detected it.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub mime: Option<String>,
}

/// A satisfaction survey of a ticket (`GET /Ticket/:id/TicketSatisfaction`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Satisfaction {
    /// Row id.
    #[serde(deserialize_with = "int")]
    pub id: i64,
    /// The rating, `null` until answered.
    #[serde(default, deserialize_with = "opt_int")]
    pub satisfaction: Option<i64>,
}

/// A link between two tickets (`GET /Ticket_Ticket`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TicketLink {
    /// Row id.
    #[serde(deserialize_with = "int")]
    pub id: i64,
    /// One ticket.
    #[serde(deserialize_with = "int")]
    pub tickets_id_1: i64,
    /// The other ticket.
    #[serde(deserialize_with = "int")]
    pub tickets_id_2: i64,
}

/// `Ticket_Ticket.link` of "linked to" (2 duplicates, 3 son of, 4 parent of).
pub const LINK_TO: i64 = 1;

/// `GET /search/Ticket` answer; `data` is absent when nothing matched.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct SearchResult {
    /// Rows matching, over all pages.
    #[serde(deserialize_with = "int")]
    pub totalcount: i64,
    /// Rows in this answer.
    #[serde(default, deserialize_with = "opt_int")]
    pub count: Option<i64>,
    /// One object per row: search option id (as a string) → value; a row that is not an object
    /// is skipped.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub data: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// Body of `POST`/`PUT`: GLPI wants the fields inside `input`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Input<T> {
    /// The item's fields.
    pub input: T,
}

/// `POST /ITILFollowup`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewFollowup {
    /// Always `Ticket`.
    pub itemtype: &'static str,
    /// The ticket.
    pub items_id: i64,
    /// HTML text.
    pub content: String,
    /// 1 for an internal note.
    pub is_private: i64,
}

/// `POST /Document_Item`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewDocumentItem {
    /// The uploaded document.
    pub documents_id: i64,
    /// `Ticket` or `ITILFollowup`.
    pub itemtype: &'static str,
    /// The ticket or followup.
    pub items_id: i64,
}

/// `POST /Ticket_Ticket`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewTicketLink {
    /// The new ticket.
    pub tickets_id_1: i64,
    /// The ticket it follows up.
    pub tickets_id_2: i64,
    /// [`LINK_TO`].
    pub link: i64,
}

fn int<'de, D>(deserializer: D) -> Result<i64, D::Error>
where
    D: Deserializer<'de>,
{
    opt_int(deserializer)?.ok_or_else(|| serde::de::Error::custom("expected an integer"))
}

/// An integer sent as a number or a numeric string; `null` and `""` are `None`, and so is
/// anything else that holds no integer (a dropdown's name, an object), with a debug line.
fn opt_int<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("{n} is not an integer"))),
        serde_json::Value::String(s) if s.trim().is_empty() => Ok(None),
        serde_json::Value::String(s) => Ok(s.trim().parse().ok().or_else(|| {
            // `expand_dropdowns` and plugins put names where ids were: a required id still
            // fails in `int`, an optional one is simply unknown.
            tracing::debug!("Read a GLPI id given as a name as absent.");
            None
        })),
        serde_json::Value::Bool(b) => Ok(Some(i64::from(b))),
        other => {
            tracing::debug!(
                found = if other.is_array() {
                    "a list"
                } else {
                    "an object"
                },
                "Read a GLPI id of an unseen shape as absent."
            );
            Ok(None)
        }
    }
}

/// GLPI's booleans: `0`/`1`, `"0"`/`"1"` or `true`/`false`.
fn flag<'de, D>(deserializer: D) -> Result<bool, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(opt_int(deserializer)?.unwrap_or(0) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_come_as_numbers_or_strings() {
        let f: Followup = serde_json::from_str(
            r#"{"id": "5", "items_id": 7, "users_id": "", "is_private": "1", "itemtype": "Ticket"}"#,
        )
        .expect("parses");
        assert_eq!((f.id, f.items_id, f.users_id), (5, Some(7), None));
        assert!(f.is_private);
        let f: Followup =
            serde_json::from_str(r#"{"id": 6, "is_private": false}"#).expect("parses");
        assert!(!f.is_private);
        assert!(serde_json::from_str::<Followup>(r#"{"id": "x"}"#).is_err());
        assert!(serde_json::from_str::<Followup>(r#"{"id": 1.5}"#).is_err());
    }

    #[test]
    fn empty_search_has_no_data() {
        let r: SearchResult = serde_json::from_str(
            r#"{"totalcount":0,"count":0,"sort":[19],"order":["ASC"],"content-range":"0--1/0"}"#,
        )
        .expect("parses");
        assert!(r.data.is_empty());
    }
}
