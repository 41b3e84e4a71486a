//! The span-aware side of config loading: a walk over `toml::de::DeTable` (which keeps the byte
//! span of every key and value) that turns spans into line numbers and collects findings instead
//! of stopping at the first one.

use std::ops::Range;

use serde_json::Value as Json;
use teledesk_adapter::{ConfigProblem, ConfigTable};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::Finding;
use super::secret;
use crate::telegram::texts::ops::{ConfigText, Expected, TomlType};

pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// Byte offset → 1-based line number.
pub(crate) struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    pub(crate) fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Self { starts }
    }

    pub(crate) fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }
}

/// Everything found so far, plus what resolving secrets needs.
pub(crate) struct Report<'e> {
    lines: Lines,
    pub(crate) env: &'e dyn Fn(&str) -> Option<String>,
    pub(crate) errors: Vec<Finding>,
    pub(crate) warnings: Vec<Finding>,
}

impl<'e> Report<'e> {
    pub(crate) fn new(text: &str, env: &'e dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            lines: Lines::new(text),
            env,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub(crate) fn line(&self, offset: usize) -> usize {
        self.lines.line(offset)
    }

    fn finding(&self, path: &str, span: Option<Range<usize>>, text: ConfigText) -> Finding {
        Finding {
            path: path.to_string(),
            line: span.map(|span| self.lines.line(span.start)),
            text,
        }
    }

    /// An error teledesk says in both languages.
    pub(crate) fn error(&mut self, path: &str, span: Option<Range<usize>>, text: ConfigText) {
        let finding = self.finding(path, span, text);
        self.errors.push(finding);
    }

    /// A warning teledesk says in both languages.
    pub(crate) fn warn(&mut self, path: &str, span: Option<Range<usize>>, text: ConfigText) {
        let finding = self.finding(path, span, text);
        self.warnings.push(finding);
    }

    /// Reports every key of `table` that is not in `allowed`.
    pub(crate) fn unknown_keys(&mut self, table: &Table<'_, '_>, allowed: &[&str]) {
        for (key, _) in table.map.iter() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                self.error(
                    &table.child_path(key.get_ref()),
                    Some(key.span()),
                    ConfigText::UnknownKey {
                        key: key.get_ref().to_string(),
                        allowed: allowed.join(", "),
                    },
                );
            }
        }
    }

    pub(crate) fn type_error(&mut self, path: &str, value: &Value<'_>, expected: Expected) {
        let found = match value.get_ref() {
            DeValue::String(_) => TomlType::String,
            DeValue::Integer(_) => TomlType::Integer,
            DeValue::Float(_) => TomlType::Float,
            DeValue::Boolean(_) => TomlType::Boolean,
            DeValue::Datetime(_) => TomlType::Datetime,
            DeValue::Array(_) => TomlType::Array,
            DeValue::Table(_) => TomlType::Table,
        };
        self.error(
            path,
            Some(value.span()),
            ConfigText::WrongType { expected, found },
        );
    }

    /// Reports a required key that is absent, at the line of its table's header.
    pub(crate) fn missing(&mut self, table: &Table<'_, '_>, key: &str) {
        self.error(
            &table.child_path(key),
            table.line_span(),
            ConfigText::MissingKey,
        );
    }

    /// A string value, or `None` (with a finding) when it has another type.
    pub(crate) fn string<'a>(
        &mut self,
        table: &Table<'a, '_>,
        key: &str,
    ) -> Option<(&'a str, Range<usize>)> {
        let value = table.get(key)?;
        match value.get_ref() {
            DeValue::String(text) => Some((text.as_ref(), value.span())),
            _ => {
                self.type_error(&table.child_path(key), value, Expected::String);
                None
            }
        }
    }

    /// An integer value, or `None` (with a finding) when it has another type.
    pub(crate) fn integer(
        &mut self,
        table: &Table<'_, '_>,
        key: &str,
    ) -> Option<(i64, Range<usize>)> {
        let value = table.get(key)?;
        match as_i64(value.get_ref()) {
            Some(number) => Some((number, value.span())),
            None => {
                self.type_error(&table.child_path(key), value, Expected::Integer);
                None
            }
        }
    }

    /// A string that must be one of `choices`; the finding lists them.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        table: &Table<'_, '_>,
        key: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let (text, span) = self.string(table, key)?;
        let found = choices.iter().find(|(name, _)| *name == text);
        if found.is_none() {
            let names: Vec<_> = choices.iter().map(|(name, _)| *name).collect();
            self.error(
                &table.child_path(key),
                Some(span),
                ConfigText::UnknownValue {
                    value: text.to_owned(),
                    expected: names.join(", "),
                },
            );
        }
        found.map(|(_, value)| *value)
    }

    /// A sub-table, or `None` (with a finding) when the key holds something else.
    pub(crate) fn table<'a, 'i>(
        &mut self,
        parent: &Table<'a, 'i>,
        key: &str,
    ) -> Option<Table<'a, 'i>> {
        let value = parent.get(key)?;
        let path = parent.child_path(key);
        match value.get_ref() {
            DeValue::Table(map) => Some(Table {
                path,
                span: value.span(),
                map,
            }),
            _ => {
                self.type_error(&path, value, Expected::Table);
                None
            }
        }
    }

    /// Converts a TOML value to JSON for an adapter, resolving `env:`/`file:` in secret-named keys
    /// at any depth when `resolve_secrets` is set.
    pub(crate) fn value_json(
        &mut self,
        path: &str,
        key: Option<&str>,
        value: &Value<'_>,
        resolve_secrets: bool,
    ) -> Option<Json> {
        if resolve_secrets && key.is_some_and(secret::is_secret_key) {
            let DeValue::String(raw) = value.get_ref() else {
                self.type_error(path, value, Expected::Secret);
                return None;
            };
            return match secret::resolve(raw, self.env) {
                Ok(resolved) => {
                    if resolved.literal {
                        self.warn(path, Some(value.span()), ConfigText::LiteralSecret);
                    }
                    Some(Json::String(resolved.secret.expose().to_string()))
                }
                Err(text) => {
                    self.error(path, Some(value.span()), text);
                    None
                }
            };
        }
        Some(match value.get_ref() {
            DeValue::String(text) => Json::String(text.to_string()),
            DeValue::Integer(_) => match as_i64(value.get_ref()) {
                Some(number) => Json::from(number),
                None => {
                    self.error(path, Some(value.span()), ConfigText::IntegerOutOfRange);
                    return None;
                }
            },
            DeValue::Float(float) => {
                let number = float
                    .as_str()
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64);
                match number {
                    Some(number) => Json::Number(number),
                    None => {
                        self.error(path, Some(value.span()), ConfigText::NotFinite);
                        return None;
                    }
                }
            }
            DeValue::Boolean(flag) => Json::Bool(*flag),
            DeValue::Datetime(datetime) => Json::String(datetime.to_string()),
            DeValue::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (index, item) in items.iter().enumerate() {
                    match self.value_json(&format!("{path}[{index}]"), None, item, resolve_secrets)
                    {
                        Some(json) => out.push(json),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                Json::Array(out)
            }
            DeValue::Table(map) => {
                let table = Table {
                    path: path.to_string(),
                    span: value.span(),
                    map,
                };
                let (map, failed) = self.table_json(&table, resolve_secrets);
                return failed.is_empty().then_some(Json::Object(map));
            }
        })
    }

    /// Converts a table (see [`Report::value_json`]). Keys whose values cannot be converted are
    /// reported, left out, and returned by name, so the caller can still hand the rest to an
    /// adapter and drop what it says about those keys.
    pub(crate) fn table_json(
        &mut self,
        table: &Table<'_, '_>,
        resolve_secrets: bool,
    ) -> (ConfigTable, Vec<String>) {
        let mut out = ConfigTable::new();
        let mut failed = Vec::new();
        for (key, value) in table.map.iter() {
            let key = key.get_ref().as_ref();
            match self.value_json(&table.child_path(key), Some(key), value, resolve_secrets) {
                Some(json) => {
                    out.insert(key.to_string(), json);
                }
                None => failed.push(key.to_string()),
            }
        }
        (out, failed)
    }

    /// Turns an adapter's findings into ours: the key gets the table's path as a prefix and the
    /// line of the value it names, or of the table header when that key is not in the file.
    pub(crate) fn adapter_problems(&mut self, table: &Table<'_, '_>, problems: Vec<ConfigProblem>) {
        for problem in problems {
            let path = if problem.key.is_empty() {
                table.path.clone()
            } else {
                table.child_path(&problem.key)
            };
            let span = table.find(&problem.key).or_else(|| table.line_span());
            self.error(&path, span, ConfigText::Adapter(Box::new(problem.problem)));
        }
    }
}

/// A TOML table being walked: its dotted path (`helpdesks.main`, `chats[1]`), the span of its
/// header (or inline value), and its entries.
pub(crate) struct Table<'a, 'i> {
    pub(crate) path: String,
    pub(crate) span: Range<usize>,
    pub(crate) map: &'a DeTable<'i>,
}

impl<'a, 'i> Table<'a, 'i> {
    pub(crate) fn root(map: &'a DeTable<'i>) -> Self {
        Self {
            path: String::new(),
            span: 0..0,
            map,
        }
    }

    pub(crate) fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value<'i>> {
        self.map.get(key)
    }

    /// The header's span, or `None` for the document root, which has no line of its own.
    pub(crate) fn line_span(&self) -> Option<Range<usize>> {
        (!self.path.is_empty()).then(|| self.span.clone())
    }

    /// The span of a value named by a relative key such as `statuses.17` or `properties[0]`.
    ///
    /// Walks as deep as the key goes and answers with the deepest value found, so a problem about
    /// a missing `statuses.99` still points at the `statuses` table.
    pub(crate) fn find(&self, key: &str) -> Option<Range<usize>> {
        let mut found = None;
        let mut current: Option<&Value<'i>> = None;
        for segment in key.split('.') {
            let (name, indexes) = split_indexes(segment);
            let next = match current {
                None => self.get(name),
                Some(value) => match value.get_ref() {
                    DeValue::Table(map) => map.get(name),
                    _ => None,
                },
            };
            let Some(mut value) = next else { break };
            found = Some(value.span());
            for index in indexes {
                match value.get_ref() {
                    DeValue::Array(items) if index < items.len() => {
                        value = &items[index];
                        found = Some(value.span());
                    }
                    _ => return found,
                }
            }
            current = Some(value);
        }
        found
    }
}

/// `properties[0][1]` → (`properties`, [0, 1]); a segment without brackets has no indexes.
fn split_indexes(segment: &str) -> (&str, Vec<usize>) {
    let Some(open) = segment.find('[') else {
        return (segment, Vec::new());
    };
    let indexes = segment[open..]
        .split(['[', ']'])
        .filter_map(|part| part.parse().ok())
        .collect();
    (&segment[..open], indexes)
}

pub(crate) fn as_i64(value: &DeValue<'_>) -> Option<i64> {
    match value {
        DeValue::Integer(int) => i64::from_str_radix(int.as_str(), int.radix()).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based() {
        let lines = Lines::new("a\nbb\n\nc");
        assert_eq!(lines.line(0), 1);
        assert_eq!(lines.line(1), 1);
        assert_eq!(lines.line(2), 2);
        assert_eq!(lines.line(5), 3);
        assert_eq!(lines.line(6), 4);
    }

    #[test]
    fn find_walks_tables_and_arrays() {
        let text = "[t]\na = 1\nlist = [\n  1,\n  2,\n]\n[t.sub]\nx = 2\n";
        let doc = DeTable::parse(text).unwrap();
        let root = Table::root(doc.get_ref());
        let mut report = Report::new(text, &|_| None);
        let t = report.table(&root, "t").unwrap();
        let lines = Lines::new(text);
        let line = |key: &str| t.find(key).map(|span| lines.line(span.start));
        assert_eq!(line("a"), Some(2));
        assert_eq!(line("list[1]"), Some(5));
        assert_eq!(line("list[9]"), Some(3));
        assert_eq!(line("sub.x"), Some(8));
        assert_eq!(line("sub.missing"), Some(7));
        assert_eq!(line("missing"), None);
        assert!(report.errors.is_empty());
    }

    #[test]
    fn integers_keep_their_value_through_radix_and_underscores() {
        let doc = DeTable::parse("a = 1_000\nb = 0x10\nc = -1001234567890\n").unwrap();
        let get = |key: &str| as_i64(doc.get_ref().get(key).unwrap().get_ref());
        assert_eq!(get("a"), Some(1000));
        assert_eq!(get("b"), Some(16));
        assert_eq!(get("c"), Some(-1001234567890));
    }
}
