//! Tolerant reading of vendor payloads: one entry the adapter does not understand never makes a
//! whole ticket unreadable.
//!
//! Helpdesks put things into their lists that an adapter was never written for: Kaiten `files`
//! entries that are links to external storage (UUID ids, sizes as strings, `null` urls), comments
//! of kinds a vendor added later, custom fields of shapes nobody documented. A strict `Vec<T>`
//! fails on the first such element and takes the ticket, its queue and every retry down with it.
//! The helpers here keep what decodes, skip what does not with one `tracing` debug line (the
//! element type, its position, its id when it has one and the decoder's reason with quoted values
//! cut out, so no client text reaches the log) and carry on.
//!
//! Use them on the wire types with serde's field attributes:
//!
//! ```
//! use serde::Deserialize;
//! use teledesk_adapter::lenient;
//!
//! #[derive(Deserialize)]
//! struct File {
//!     id: i64,
//!     #[serde(default, deserialize_with = "lenient::opt_number")]
//!     size: Option<u64>,
//! }
//!
//! #[derive(Deserialize)]
//! struct Card {
//!     #[serde(default, deserialize_with = "lenient::vec")]
//!     files: Vec<File>,
//! }
//!
//! let card: Card = serde_json::from_str(
//!     r#"{"files": [{"id": 1, "size": "1024"}, {"id": "5f0c2d1e-uuid", "type": 11}]}"#,
//! )
//! .unwrap();
//! assert_eq!(card.files.len(), 1);
//! assert_eq!(card.files[0].size, Some(1024));
//! ```
//!
//! A whole answer that is a list (`GET /cards/{id}/comments`) reads as [`Lenient<T>`].

use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::any::type_name;
use std::fmt::Display;
use std::str::FromStr;

/// A list read tolerantly: the elements that decode as `T`, in order; the others are skipped
/// with a debug line (see the [module docs](self)).
///
/// `null` and a missing list read as empty; a value that is not a list at all reads as empty
/// with a debug line. Deserializing a `Lenient<T>` never fails for a well-formed JSON value.
/// It serializes as the plain list of what was kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Lenient<T>(pub Vec<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> Lenient<T> {
    /// The elements that decoded.
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

impl<'de, T> Deserialize<'de> for Lenient<T>
where
    T: DeserializeOwned,
{
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: Deserializer<'de>,
    {
        vec(deserializer).map(Self)
    }
}

/// Reads a list tolerantly, for `#[serde(default, deserialize_with = "lenient::vec")]` on a
/// `Vec<T>` field: keeps the elements that decode as `T`, skips each other one with a debug line.
///
/// `null` and a value that is not a list read as an empty list (the latter with a debug line);
/// add `#[serde(default)]` so a missing field does too. Fails only when the input is not valid
/// JSON.
pub fn vec<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Value::deserialize(deserializer)? {
        Value::Null => Vec::new(),
        Value::Array(items) => keep_decodable(items),
        other => {
            tracing::debug!(
                element = type_name::<T>(),
                found = json_kind(&other),
                "Skipped a list that is not a list."
            );
            Vec::new()
        }
    })
}

/// The elements of `items` that decode as `T`, in order; each other one is skipped with a debug
/// line naming `T`, its index, its `id` when it has one, and why it did not decode.
///
/// For adapters that hold raw JSON elements already (for example after looking at a `type`
/// field themselves).
pub fn keep_decodable<T>(items: Vec<Value>) -> Vec<T>
where
    T: DeserializeOwned,
{
    let mut kept = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let id = entry_id(&item);
        match serde_json::from_value::<T>(item) {
            Ok(value) => kept.push(value),
            Err(error) => tracing::debug!(
                element = type_name::<T>(),
                index,
                id = id.as_deref().unwrap_or("-"),
                reason = %without_quoted_values(&error),
                "Skipped a list entry that does not decode."
            ),
        }
    }
    kept
}

/// Reads a number that a vendor sends as a JSON number or as a string holding one (`1024` or
/// `"1024"`), for `#[serde(deserialize_with = "lenient::number")]`.
///
/// Fails, like a strict field would, when the value is neither; use [`opt_number`] where the
/// field may be left out.
pub fn number<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
{
    let value = Value::deserialize(deserializer)?;
    parse_number(&value).ok_or_else(|| {
        D::Error::custom(format!(
            "expected {} as a number or a numeric string, found {}",
            type_name::<T>(),
            json_kind(&value)
        ))
    })
}

/// Reads an optional number sent as a JSON number or a numeric string, for
/// `#[serde(default, deserialize_with = "lenient::opt_number")]`.
///
/// `null`, an empty string and anything else that is no number read as `None` (the last with a
/// debug line): an optional detail is not worth losing the entry it belongs to.
pub fn opt_number<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
{
    let value = Value::deserialize(deserializer)?;
    if value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty()) {
        return Ok(None);
    }
    let parsed = parse_number(&value);
    if parsed.is_none() {
        tracing::debug!(
            expected = type_name::<T>(),
            found = json_kind(&value),
            "Read an optional number that is none as absent."
        );
    }
    Ok(parsed)
}

/// Reads a text that a vendor sends as a JSON string or as a number or boolean (`"42"` or `42`),
/// for `#[serde(deserialize_with = "lenient::string")]`.
///
/// Fails when the value is `null`, a list or an object; use [`opt_string`] where it may be
/// absent.
pub fn string<'de, D>(deserializer: D) -> Result<String, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    scalar_text(&value).ok_or_else(|| {
        D::Error::custom(format!(
            "expected a string or a number, found {}",
            json_kind(&value)
        ))
    })
}

/// Reads an optional text sent as a string, number or boolean, for
/// `#[serde(default, deserialize_with = "lenient::opt_string")]`.
///
/// `null`, lists and objects read as `None` (lists and objects with a debug line).
pub fn opt_string<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    let text = scalar_text(&value);
    if text.is_none() && !value.is_null() {
        tracing::debug!(
            found = json_kind(&value),
            "Read an optional text that is none as absent."
        );
    }
    Ok(text)
}

/// Reads a text field that a vendor may send as `null`, a number or a boolean instead of a
/// string, for `#[serde(default, deserialize_with = "lenient::text")]` on a `String`.
///
/// Strings come through unchanged, numbers and booleans as their JSON text, and `null`, lists
/// and objects as the empty string (lists and objects with a debug line).
pub fn text<'de, D>(deserializer: D) -> Result<String, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(opt_string(deserializer)?.unwrap_or_default())
}

fn parse_number<T: FromStr>(value: &Value) -> Option<T> {
    match value {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// An entry's own id, for the log line: ids are the vendor's, never client text. Long strings are
/// not ids.
fn entry_id(item: &Value) -> Option<String> {
    let id = item.as_object()?.get("id")?;
    match id {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if s.chars().count() <= 64 => Some(s.clone()),
        _ => None,
    }
}

/// The decoder's reason with every double-quoted value replaced by `"…"`: serde quotes the
/// offending value (`invalid type: string "Иван, 8 999…", expected i64`), which may be client
/// text. Field and variant names stay: serde puts those in backticks.
fn without_quoted_values(reason: &dyn Display) -> String {
    let reason = reason.to_string();
    let mut out = String::with_capacity(reason.len());
    let mut chars = reason.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' {
            continue;
        }
        out.push('…');
        while let Some(inner) = chars.next() {
            match inner {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    out.push('"');
                    break;
                }
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct File {
        id: i64,
        name: String,
        #[serde(default, deserialize_with = "opt_number")]
        size: Option<u64>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Card {
        #[serde(default, deserialize_with = "vec")]
        files: Vec<File>,
        #[serde(deserialize_with = "number")]
        id: i64,
        #[serde(default, deserialize_with = "opt_string")]
        number: Option<String>,
    }

    fn file(id: i64, name: &str, size: Option<u64>) -> File {
        File {
            id,
            name: name.into(),
            size,
        }
    }

    #[test]
    fn a_list_keeps_what_decodes_and_skips_the_rest() {
        let card: Card = serde_json::from_str(
            r#"{"id": 7, "files": [
                {"id": 1, "name": "a.png", "size": 10},
                {"id": "5f0c2d1e-8b1a-4c3e-9d2f-0a1b2c3d4e5f", "type": 11, "name": "Drive", "size": "1024", "url": null},
                {"id": 2, "name": "b.pdf", "size": "2048", "extra": {"nested": [1, "x"]}},
                "not even an object",
                null,
                {"id": 3}
            ]}"#,
        )
        .expect("tolerant");
        assert_eq!(
            card.files,
            [file(1, "a.png", Some(10)), file(2, "b.pdf", Some(2048))]
        );
    }

    #[test]
    fn null_missing_and_non_list_read_as_empty() {
        for json in [
            r#"{"id": 1, "files": null}"#,
            r#"{"id": 1}"#,
            r#"{"id": 1, "files": {"0": {"id": 1, "name": "a"}}}"#,
            r#"{"id": 1, "files": "none"}"#,
        ] {
            let card: Card = serde_json::from_str(json).expect(json);
            assert!(card.files.is_empty(), "{json}");
        }
    }

    #[test]
    fn a_whole_answer_reads_as_lenient() {
        let files: Lenient<File> =
            serde_json::from_str(r#"[{"id": 1, "name": "a"}, {"id": "x", "name": "b"}]"#)
                .expect("tolerant");
        assert_eq!(files.into_inner(), [file(1, "a", None)]);
    }

    #[test]
    fn numbers_come_as_numbers_or_numeric_strings() {
        let card: Card = serde_json::from_str(r#"{"id": "42"}"#).expect("string id");
        assert_eq!(card.id, 42);
        let card: Card = serde_json::from_str(r#"{"id": 42}"#).expect("number id");
        assert_eq!(card.id, 42);
        assert!(serde_json::from_str::<Card>(r#"{"id": "forty-two"}"#).is_err());
        assert!(serde_json::from_str::<Card>(r#"{"id": null}"#).is_err());
    }

    #[test]
    fn optional_numbers_that_are_no_numbers_read_as_absent() {
        let files: Lenient<File> = serde_json::from_str(
            r#"[{"id": 1, "name": "a", "size": "big"},
                {"id": 2, "name": "b", "size": ""},
                {"id": 3, "name": "c", "size": -5},
                {"id": 4, "name": "d", "size": {"bytes": 5}}]"#,
        )
        .expect("tolerant");
        assert_eq!(
            files.0,
            [
                file(1, "a", None),
                file(2, "b", None),
                file(3, "c", None),
                file(4, "d", None)
            ]
        );
    }

    #[test]
    fn texts_come_as_strings_numbers_or_booleans() {
        for (json, want) in [
            (r#"{"id": 1, "number": "A-17"}"#, Some("A-17")),
            (r#"{"id": 1, "number": 17}"#, Some("17")),
            (r#"{"id": 1, "number": true}"#, Some("true")),
            (r#"{"id": 1, "number": null}"#, None),
            (r#"{"id": 1, "number": [1, "x"]}"#, None),
            (r#"{"id": 1}"#, None),
        ] {
            let card: Card = serde_json::from_str(json).expect(json);
            assert_eq!(card.number.as_deref(), want, "{json}");
        }
        #[derive(Deserialize)]
        struct Strict {
            #[serde(deserialize_with = "string")]
            name: String,
        }
        #[derive(Deserialize)]
        struct Field {
            #[serde(default, deserialize_with = "text")]
            value: String,
        }
        for (json, want) in [
            (r#"{"value": "a"}"#, "a"),
            (r#"{"value": 5}"#, "5"),
            (r#"{"value": null}"#, ""),
            (r#"{"value": {"weird": [1, "x"]}}"#, ""),
            (r#"{}"#, ""),
        ] {
            let field: Field = serde_json::from_str(json).expect(json);
            assert_eq!(field.value, want, "{json}");
        }
        let strict: Strict = serde_json::from_str(r#"{"name": 5}"#).expect("number as text");
        assert_eq!(strict.name, "5");
        assert!(serde_json::from_str::<Strict>(r#"{"name": {"weird": [1, "x"]}}"#).is_err());
    }

    #[test]
    fn reasons_keep_field_names_and_drop_values() {
        let error = serde_json::from_value::<File>(serde_json::json!({
            "id": "Иван \"Петров\", +7 999 123-45-67",
            "name": "a"
        }))
        .expect_err("string id");
        let reason = without_quoted_values(&error);
        assert!(!reason.contains("Иван"), "{reason}");
        assert!(!reason.contains("999"), "{reason}");
        assert!(reason.contains("invalid type: string \"…\""), "{reason}");
        let missing =
            serde_json::from_value::<File>(serde_json::json!({"id": 1})).expect_err("no name");
        assert_eq!(without_quoted_values(&missing), "missing field `name`");
    }

    #[test]
    fn entry_ids_are_short_scalars_only() {
        use serde_json::json;
        assert_eq!(entry_id(&json!({"id": 5})).as_deref(), Some("5"));
        assert_eq!(entry_id(&json!({"id": "5f0c"})).as_deref(), Some("5f0c"));
        assert_eq!(entry_id(&json!({"id": "x".repeat(65)})), None);
        assert_eq!(entry_id(&json!({"id": {"a": 1}})), None);
        assert_eq!(entry_id(&json!([1])), None);
    }
}
