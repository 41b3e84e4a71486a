//! Config validation shared between adapters and `teledesk check`: the findings, and the reader
//! every adapter validates its tables with.

use crate::StatusClass;
use crate::problem::{Address, Problem};
use serde_json::{Map, Value};
use std::fmt;
use time::UtcOffset;

/// A config table handed to an adapter: `[helpdesks.<name>]` or a chat's `[chats.ticket]`, with
/// `env:`/`file:` secrets already resolved by the daemon.
pub type ConfigTable = serde_json::Map<String, serde_json::Value>;

/// Keys of every `[helpdesks.<name>]` table that the daemon reads itself (`kind` picks the
/// adapter, `poll_interval` paces polling, `max_in_flight` bounds the tickets worked on at once);
/// an adapter accepts and ignores them, typically by passing them as `ignored` to
/// [`TableReader::reject_unknown`].
pub const DAEMON_KEYS: &[&str] = &["kind", "poll_interval", "max_in_flight"];

/// The value of `requests_per_second` that lifts the client-side limit of a self-hosted helpdesk
/// (see [`TableReader::requests_per_second`]).
pub const UNLIMITED: &str = "unlimited";

/// One problem found in a config table.
///
/// `key` is relative to the table the adapter was given (`"board_id"`, `"statuses.17"`); the daemon
/// prefixes the table's own path, adds the line number and words `problem` in the operator's
/// language, so the admin reads `helpdesks.main.board_id (line 14): must be a positive integer`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigProblem {
    /// The key the problem is about, relative to the table; empty for the table itself.
    pub key: String,
    /// What is wrong, as data; its `Display` is the English wording.
    pub problem: Problem,
}

impl ConfigProblem {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, problem: Problem) -> Self {
        Self {
            key: key.into(),
            problem,
        }
    }
}

/// `key: problem`, in English.
impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "{}: {}", self.key, self.problem)
        }
    }
}

/// Reads the keys of one [`ConfigTable`], collecting every problem rather than stopping at the
/// first, so that one run of `teledesk check` shows the admin all of them.
///
/// Each reading method returns `None` (or an empty value) both when the key is absent and when
/// its value is wrong; only in the second case has it recorded a [`ConfigProblem`] named by the
/// key. Whether an absent key is an error is the caller's to say, with [`TableReader::required`].
/// Checks only one vendor needs are written against [`TableReader::get`] and
/// [`TableReader::problem`] with a [`Problem`] that names what is wrong.
///
/// ```
/// use teledesk_adapter::{ConfigTable, DAEMON_KEYS, TableReader};
///
/// let table: ConfigTable =
///     serde_json::from_str(r#"{"kind": "kaiten", "token": " ", "board": 5}"#).unwrap();
/// let mut r = TableReader::new(&table);
/// r.reject_unknown(&["token", "board_id"], DAEMON_KEYS);
/// let token = r.required("token", |r| r.non_empty_string("token"));
/// let board_id = r.required("board_id", |r| r.positive_id("board_id", "Kaiten"));
/// let problems: Vec<String> = r
///     .finish((token, board_id))
///     .unwrap_err()
///     .iter()
///     .map(ToString::to_string)
///     .collect();
/// assert_eq!(
///     problems,
///     [
///         "board: unknown key; expected one of token, board_id",
///         "token: must not be empty",
///         "board_id: required",
///     ]
/// );
/// ```
#[derive(Debug)]
pub struct TableReader<'a> {
    table: &'a ConfigTable,
    problems: Vec<ConfigProblem>,
}

impl<'a> TableReader<'a> {
    /// A reader of `table` with no problems yet.
    pub fn new(table: &'a ConfigTable) -> Self {
        Self {
            table,
            problems: Vec::new(),
        }
    }

    /// The raw value of `key`, for checks of the adapter's own.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.table.get(key)
    }

    /// Records a problem with `key` (or with an entry of it, like `"statuses.17"`).
    pub fn problem(&mut self, key: impl Into<String>, problem: Problem) {
        self.problems.push(ConfigProblem::new(key, problem));
    }

    /// Whether a problem with exactly `key` has been recorded, so that a cross-key check can stay
    /// quiet about a value already reported wrong.
    pub fn has_problem(&self, key: &str) -> bool {
        self.problems.iter().any(|p| p.key == key)
    }

    /// Whether no problem has been recorded so far.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// The problems recorded, in the order they were found.
    pub fn into_problems(self) -> Vec<ConfigProblem> {
        self.problems
    }

    /// `value` when no problem was recorded, else every problem.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<ConfigProblem>> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(self.problems)
        }
    }

    /// Reports each key that is neither `known` nor `ignored`, naming the `known` ones (in their
    /// order) so that a typo is easy to fix.
    pub fn reject_unknown(&mut self, known: &[&str], ignored: &[&str]) {
        let table = self.table;
        for key in table.keys() {
            if !known.contains(&key.as_str()) && !ignored.contains(&key.as_str()) {
                self.problem(
                    key.clone(),
                    Problem::UnknownKey {
                        expected: known.iter().map(|k| (*k).to_owned()).collect(),
                    },
                );
            }
        }
    }

    /// Runs `read`, and reports `key` as `required` when it is absent from the table (a present
    /// but wrong value has been reported by `read` already).
    pub fn required<T>(
        &mut self,
        key: &str,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<T> {
        let value = read(self);
        if value.is_none() && !self.table.contains_key(key) {
            self.problem(key, Problem::Required);
        }
        value
    }

    /// A string with something besides white space, trimmed.
    pub fn non_empty_string(&mut self, key: &str) -> Option<String> {
        match self.table.get(key)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::String(_) => {
                self.problem(key, Problem::Empty);
                None
            }
            _ => {
                self.problem(key, Problem::NotAString);
                None
            }
        }
    }

    /// A [non-empty string](TableReader::non_empty_string) that also passes `check`, which says
    /// what is wrong with it otherwise (a vendor's naming rule, say).
    pub fn checked_string(
        &mut self,
        key: &str,
        check: impl FnOnce(&str) -> Result<(), Problem>,
    ) -> Option<String> {
        let text = self.non_empty_string(key)?;
        match check(&text) {
            Ok(()) => Some(text),
            Err(problem) => {
                self.problem(key, problem);
                None
            }
        }
    }

    /// A whole number that `accept` takes; anything else is reported as `problem`.
    pub fn integer(
        &mut self,
        key: &str,
        accept: impl FnOnce(i64) -> bool,
        problem: Problem,
    ) -> Option<i64> {
        match self.table.get(key)?.as_i64() {
            Some(n) if accept(n) => Some(n),
            _ => {
                self.problem(key, problem);
                None
            }
        }
    }

    /// A positive whole number naming one of the helpdesk's objects: `vendor = "Kaiten"` reports
    /// `must be a positive integer (a Kaiten id)`.
    pub fn positive_id(&mut self, key: &str, vendor: &str) -> Option<i64> {
        self.integer(
            key,
            |n| n > 0,
            Problem::PositiveId {
                vendor: vendor.to_owned(),
            },
        )
    }

    /// The address of the helpdesk: `https://` (or `http://`, for test servers on a private
    /// network) with a host and without query, fragment or trailing slashes.
    ///
    /// Unlike the other methods this one reports an absent key itself, naming the `address` and
    /// its example. `is_base` gets the address without trailing slashes and tells whether it is
    /// the base this vendor's adapter expects; when not, [`Problem::AddressRefused`] is reported.
    pub fn base_url(
        &mut self,
        key: &str,
        address: Address,
        is_base: impl FnOnce(&str) -> bool,
    ) -> Option<String> {
        if !self.table.contains_key(key) {
            self.problem(key, Problem::AddressRequired(address));
            return None;
        }
        let text = self.non_empty_string(key)?;
        let Some(rest) = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
        else {
            self.problem(key, Problem::AddressScheme);
            return None;
        };
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || text.contains(char::is_whitespace) {
            self.problem(key, Problem::AddressMalformed(address));
            return None;
        }
        if text.contains('?') || text.contains('#') {
            self.problem(key, Problem::AddressQuery);
            return None;
        }
        let trimmed = text.trim_end_matches('/');
        if is_base(trimmed) {
            Some(trimmed.to_owned())
        } else {
            self.problem(key, Problem::AddressRefused(address));
            None
        }
    }

    /// A client-side request rate: a number above 0 and at most `max`.
    ///
    /// `vendor_limit` names the vendor when the bound is its own limit (Kaiten: 5 requests per
    /// second), which the admin cannot lift. Without it the bound only guards against typos in front of
    /// a self-hosted helpdesk that limits nothing by itself, and the string `"unlimited"` is
    /// accepted too: it reads as [`f64::INFINITY`], which the pacer takes as no pacing at all
    /// (only a 429's `Retry-After` holds requests back), leaving the daemon's `max_in_flight` to
    /// bound how much is sent at once.
    pub fn requests_per_second(
        &mut self,
        key: &str,
        max: f64,
        vendor_limit: Option<&str>,
    ) -> Option<f64> {
        let value = self.table.get(key)?;
        let unlimited = value.as_str().map(str::trim) == Some(UNLIMITED);
        if unlimited && vendor_limit.is_none() {
            return Some(f64::INFINITY);
        }
        match value.as_f64() {
            Some(rate) if rate > 0.0 && rate <= max => Some(rate),
            _ => {
                let vendor = vendor_limit.map(str::to_owned);
                let problem = match vendor {
                    Some(vendor) if unlimited => Problem::RateNotUnlimited { vendor, max },
                    Some(vendor) => Problem::RateOverVendorLimit { vendor, max },
                    None => Problem::RateOutOfRange { max },
                };
                self.problem(key, problem);
                None
            }
        }
    }

    /// A sub-table, reported as `must be a table of <shape>` when it is something else; its
    /// entries are for the caller to check (as `"<key>.<name>"`).
    pub fn table_of(&mut self, key: &str, shape: &str) -> Option<&'a Map<String, Value>> {
        let value = self.table.get(key)?;
        let map = value.as_object();
        if map.is_none() {
            self.problem(
                key,
                Problem::TableOf {
                    shape: shape.to_owned(),
                },
            );
        }
        map
    }

    /// A [`StatusClass`] by its config name, reported under `entry` with the list of names when
    /// `value` is none.
    pub fn status_class(&mut self, entry: &str, value: &Value) -> Option<StatusClass> {
        let class = value.as_str().and_then(StatusClass::parse);
        if class.is_none() {
            let expected = StatusClass::ALL
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect();
            self.problem(entry, Problem::OneOf { expected });
        }
        class
    }

    /// The `statuses` table: `"<vendor state>" = "<status class>"` entries, in table order.
    ///
    /// `state` names the vendor's key in the message for a value that is not a table
    /// (`"<column id>"` → `must be a table of "<column id>" = "<status class>"`). `parse_state`
    /// turns an entry's key into the vendor's state or says what is wrong with it; an entry with a
    /// wrong key and a wrong class gets both reported, the key first.
    pub fn statuses<K>(
        &mut self,
        key: &str,
        state: &str,
        mut parse_state: impl FnMut(&str) -> Result<K, Problem>,
    ) -> Vec<(K, StatusClass)> {
        let mut statuses = Vec::new();
        let Some(map) = self.table_of(key, &format!("\"{state}\" = \"<status class>\"")) else {
            return statuses;
        };
        for (name, class) in map {
            let entry = format!("{key}.{name}");
            let parsed = match parse_state(name) {
                Ok(parsed) => Some(parsed),
                Err(problem) => {
                    self.problem(entry.clone(), problem);
                    None
                }
            };
            let class = self.status_class(&entry, class);
            if let (Some(parsed), Some(class)) = (parsed, class) {
                statuses.push((parsed, class));
            }
        }
        statuses
    }

    /// A table of names to plain values (string, number or boolean), such as the custom fields a
    /// chat sets on every ticket. `check_name` says what is wrong with a name the vendor would
    /// refuse; an entry with a wrong name and a wrong value gets both reported, the name first.
    pub fn scalar_table(
        &mut self,
        key: &str,
        shape: &str,
        mut check_name: impl FnMut(&str) -> Result<(), Problem>,
    ) -> Map<String, Value> {
        let mut scalars = Map::new();
        let Some(map) = self.table_of(key, shape) else {
            return scalars;
        };
        for (name, value) in map {
            let entry = format!("{key}.{name}");
            let mut ok = true;
            if let Err(problem) = check_name(name) {
                self.problem(entry.clone(), problem);
                ok = false;
            }
            if !matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                self.problem(entry, Problem::NotAScalar);
                ok = false;
            }
            if ok {
                scalars.insert(name.clone(), value.clone());
            }
        }
        scalars
    }
}

/// A fixed UTC offset as `+HH:MM` or `-HH:MM` (hours up to 14), the way helpdesks show the
/// offset of the naive local times their APIs speak.
pub fn parse_utc_offset(text: &str) -> Option<UtcOffset> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let hours: i8 = hours.parse().ok()?;
    let minutes: i8 = minutes.parse().ok()?;
    if hours > 14 || minutes > 59 {
        return None;
    }
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table(value: Value) -> ConfigTable {
        value.as_object().expect("a table").clone()
    }

    fn found(r: TableReader<'_>) -> Vec<String> {
        r.into_problems().iter().map(ToString::to_string).collect()
    }

    fn no_api(url: &str) -> bool {
        !url.contains("/api")
    }

    #[test]
    fn unknown_keys_name_the_known_ones_and_skip_the_ignored() {
        let t = table(json!({"kind": "x", "tokn": 1, "token": "t"}));
        let mut r = TableReader::new(&t);
        r.reject_unknown(&["token", "url"], DAEMON_KEYS);
        assert_eq!(found(r), ["tokn: unknown key; expected one of token, url"]);
    }

    #[test]
    fn required_reports_only_absent_keys() {
        let t = table(json!({"wrong": 5}));
        let mut r = TableReader::new(&t);
        assert_eq!(r.required("wrong", |r| r.non_empty_string("wrong")), None);
        assert_eq!(r.required("absent", |r| r.non_empty_string("absent")), None);
        assert_eq!(found(r), ["wrong: must be a string", "absent: required"]);
    }

    #[test]
    fn strings_are_trimmed_and_checked() {
        let t = table(json!({"a": " x ", "b": " ", "c": 1, "d": "a b"}));
        let mut r = TableReader::new(&t);
        assert_eq!(r.non_empty_string("a").as_deref(), Some("x"));
        assert_eq!(r.non_empty_string("b"), None);
        assert_eq!(r.non_empty_string("c"), None);
        assert_eq!(r.non_empty_string("absent"), None);
        let one_word = |s: &str| {
            if s.contains(' ') {
                Err(Problem::NotOneLine)
            } else {
                Ok(())
            }
        };
        assert_eq!(r.checked_string("a", one_word).as_deref(), Some("x"));
        assert_eq!(r.checked_string("d", one_word), None);
        assert_eq!(
            found(r),
            [
                "b: must not be empty",
                "c: must be a string",
                "d: must be one line"
            ]
        );
    }

    fn glpi_type() -> Problem {
        Problem::NumberChoice {
            of: crate::problem::Choice::GlpiType,
        }
    }

    #[test]
    fn integers_and_ids() {
        let t = table(json!({"id": 7, "zero": 0, "text": "7", "frac": 1.5, "level": 3}));
        let mut r = TableReader::new(&t);
        assert_eq!(r.positive_id("id", "Acme"), Some(7));
        assert_eq!(r.positive_id("zero", "Acme"), None);
        assert_eq!(r.positive_id("text", "Acme"), None);
        assert_eq!(r.positive_id("frac", "Acme"), None);
        assert_eq!(r.positive_id("absent", "Acme"), None);
        assert_eq!(r.integer("level", |n| n <= 2, glpi_type()), None);
        assert_eq!(r.integer("zero", |n| n >= 0, glpi_type()), Some(0));
        assert!(r.has_problem("frac"));
        assert!(!r.has_problem("id"));
        assert_eq!(
            found(r),
            [
                "zero: must be a positive integer (a Acme id)",
                "text: must be a positive integer (a Acme id)",
                "frac: must be a positive integer (a Acme id)",
                "level: must be 1 (incident) or 2 (request)"
            ]
        );
    }

    #[test]
    fn base_urls() {
        let read = |url: Value| {
            let t = table(json!({ "url": url }));
            let mut r = TableReader::new(&t);
            let url = r.base_url("url", Address::KaitenSite, no_api);
            (url, found(r))
        };
        assert_eq!(
            read(json!("https://acme.example//")),
            (Some("https://acme.example".to_owned()), vec![])
        );
        assert_eq!(
            read(json!("http://127.0.0.1:8080/desk/")).0.as_deref(),
            Some("http://127.0.0.1:8080/desk")
        );
        for (url, message) in [
            (json!(""), "url: must not be empty"),
            (json!(5), "url: must be a string"),
            (
                json!("acme.example"),
                "url: must start with https:// (or http://)",
            ),
            (
                json!("https:///x"),
                "url: must be a site address like https://acme.kaiten.ru",
            ),
            (
                json!("https://acme .example"),
                "url: must be a site address like https://acme.kaiten.ru",
            ),
            (
                json!("https://acme.example/?a=1"),
                "url: must not contain a query or fragment",
            ),
            (
                json!("https://acme.example/api/"),
                "url: give the site address without /api/...; the adapter adds /api/latest",
            ),
        ] {
            assert_eq!(read(url.clone()), (None, vec![message.to_owned()]), "{url}");
        }
        let t = ConfigTable::new();
        let mut r = TableReader::new(&t);
        assert_eq!(r.base_url("url", Address::KaitenSite, no_api), None);
        assert_eq!(
            found(r),
            ["url: required: the Kaiten site, like https://acme.kaiten.ru"]
        );
    }

    #[test]
    fn request_rates() {
        let t = table(json!({
            "ok": 5, "zero": 0, "high": 5.5, "text": "fast", "far": 101,
            "unlimited": "unlimited", "spaced": " unlimited ", "upper": "Unlimited", "neg": -1,
        }));
        let mut r = TableReader::new(&t);
        assert_eq!(r.requests_per_second("ok", 5.0, None), Some(5.0));
        assert_eq!(r.requests_per_second("absent", 5.0, None), None);
        assert_eq!(r.requests_per_second("zero", 5.0, None), None);
        assert_eq!(r.requests_per_second("high", 5.0, Some("Acme")), None);
        assert_eq!(r.requests_per_second("text", 5.0, None), None);
        assert_eq!(r.requests_per_second("far", 100.0, None), None);
        assert_eq!(
            r.requests_per_second("unlimited", 100.0, None),
            Some(f64::INFINITY)
        );
        assert_eq!(
            r.requests_per_second("spaced", 100.0, None),
            Some(f64::INFINITY)
        );
        assert_eq!(r.requests_per_second("upper", 100.0, None), None);
        assert_eq!(r.requests_per_second("neg", 100.0, None), None);
        // A vendor's own limit cannot be lifted.
        assert_eq!(r.requests_per_second("unlimited", 5.0, Some("Acme")), None);
        let guard = "must be a number greater than 0 and at most";
        let lift = "or \"unlimited\" (no client-side limit)";
        assert_eq!(
            found(r),
            [
                format!("zero: {guard} 5, {lift}"),
                format!("high: {guard} 5 (Acme allows 5 requests per second)"),
                format!("text: {guard} 5, {lift}"),
                format!("far: {guard} 100, {lift}"),
                format!("upper: {guard} 100, {lift}"),
                format!("neg: {guard} 100, {lift}"),
                "unlimited: cannot be \"unlimited\" (Acme allows 5 requests per second); give a \
                 number greater than 0 and at most 5"
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn statuses_report_keys_and_classes() {
        let t = table(json!({
            "statuses": {"1": "new", "x": "resolved", "2": "bogus", "y": 3},
            "flat": "new",
        }));
        let mut r = TableReader::new(&t);
        let column = |k: &str| {
            k.parse::<i64>().map_err(|_| Problem::StatusKey {
                must_be: crate::problem::StatusKeyForm::ColumnId,
            })
        };
        assert_eq!(
            r.statuses("statuses", "<column id>", column),
            [(1, StatusClass::New)]
        );
        assert!(r.statuses("flat", "<column id>", column).is_empty());
        assert!(r.statuses("absent", "<column id>", column).is_empty());
        let problems = found(r);
        let classes = StatusClass::ALL.map(StatusClass::as_str).join(", ");
        assert_eq!(
            problems,
            [
                format!("statuses.2: must be one of {classes}"),
                "statuses.x: the key must be a column id (a positive integer)".to_owned(),
                "statuses.y: the key must be a column id (a positive integer)".to_owned(),
                format!("statuses.y: must be one of {classes}"),
                "flat: must be a table of \"<column id>\" = \"<status class>\"".to_owned(),
            ]
        );
    }

    #[test]
    fn scalar_tables_keep_plain_values_with_good_names() {
        let t = table(json!({
            "fields": {"a": "x", "b": 2, "c": true, "d": null, "E": [1], "F": "y"},
            "flat": 1,
        }));
        let mut r = TableReader::new(&t);
        let lower = |name: &str| {
            if name.chars().all(|c| c.is_ascii_lowercase()) {
                Ok(())
            } else {
                Err(Problem::FieldKey {
                    must_be: crate::problem::FieldKeyForm::Attribute,
                })
            }
        };
        let fields = r.scalar_table("fields", "\"<name>\" = value", lower);
        assert_eq!(
            fields.keys().map(String::as_str).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert!(
            r.scalar_table("flat", "\"<name>\" = value", lower)
                .is_empty()
        );
        let attribute = "must name a ticket attribute: lower case letters, digits and _, \
                         starting with a letter";
        assert_eq!(
            found(r),
            [
                format!("fields.E: {attribute}"),
                "fields.E: must be a string, a number or a boolean".to_owned(),
                format!("fields.F: {attribute}"),
                "fields.d: must be a string, a number or a boolean".to_owned(),
                "flat: must be a table of \"<name>\" = value".to_owned(),
            ]
        );
    }

    #[test]
    fn finish_returns_the_value_only_when_clean() {
        let t = ConfigTable::new();
        let r = TableReader::new(&t);
        assert!(r.is_clean());
        assert_eq!(r.finish(1), Ok(1));
        let mut r = TableReader::new(&t);
        r.problem("", Problem::Required);
        assert!(!r.is_clean());
        assert_eq!(
            r.finish(1),
            Err(vec![ConfigProblem::new("", Problem::Required)])
        );
    }

    #[test]
    fn utc_offsets() {
        assert_eq!(parse_utc_offset("+00:00"), Some(UtcOffset::UTC));
        assert_eq!(
            parse_utc_offset("-05:30"),
            UtcOffset::from_hms(-5, -30, 0).ok()
        );
        assert_eq!(
            parse_utc_offset("+14:00"),
            UtcOffset::from_hms(14, 0, 0).ok()
        );
        for bad in [
            "", "UTC", "03:00", "+3:00", "+03:0", "+15:00", "+03:60", "+0300",
        ] {
            assert_eq!(parse_utc_offset(bad), None, "{bad}");
        }
    }
}
