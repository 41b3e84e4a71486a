//! A chat's intake questions: `[[chats.categories]]` (which queue, service, column, tracker or
//! group a ticket goes to) and `[[chats.fields]]` (typed extra fields, each written to a field of
//! the helpdesk's own), and the rules a client's answer must pass.
//!
//! Both are checked against the chat's adapter at load: a category's `ticket` table merged over
//! `[chats.ticket]`, and each field's `target` with every value it can take (each choice's id, a
//! sample text), go through the same `[chats.ticket]` validator the adapter uses when it creates
//! the ticket, so a mapping that loads is one the adapter can write.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use regex::Regex;
use serde_json::Value as Json;
use teledesk_adapter::{ConfigProblem, ConfigTable, IntakeCategory, IntakeField, set_path};
use toml::de::DeValue;

use super::parse::{Report, Table, as_i64};
use crate::helpdesks;
use crate::telegram::texts::ops::{ConfigText, Expected};

const CATEGORY_KEYS: &[&str] = &["id", "label", "ticket"];
const FIELD_KEYS: &[&str] = &[
    "id", "label", "type", "required", "pattern", "example", "target", "choices",
];
const CHOICE_KEYS: &[&str] = &["id", "label"];

/// The longest text value a field takes: helpdesks' string custom fields are 255 characters.
pub const MAX_VALUE_CHARS: usize = 255;

/// What a chat asks for a new ticket besides subject, description and files.
#[derive(Clone, Debug, Default)]
pub struct IntakeConfig {
    /// The categories a client picks one of; empty when the chat offers none.
    pub categories: Vec<CategoryConfig>,
    /// The extra fields, in the order they are asked.
    pub fields: Vec<FieldConfig>,
}

impl IntakeConfig {
    /// `true` when the chat asks nothing beyond the usual.
    pub fn is_empty(&self) -> bool {
        self.categories.is_empty() && self.fields.is_empty()
    }

    /// The category with this id.
    pub fn category(&self, id: &str) -> Option<&CategoryConfig> {
        self.categories.iter().find(|c| c.id == id)
    }

    /// The field with this id.
    pub fn field(&self, id: &str) -> Option<&FieldConfig> {
        self.fields.iter().find(|f| f.id == id)
    }
}

/// One `[[chats.categories]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct CategoryConfig {
    /// Stable id (reports group by it).
    pub id: String,
    /// What the client sees on the button.
    pub label: String,
    /// Merged over `[chats.ticket]` when the category is chosen.
    pub ticket: ConfigTable,
}

impl CategoryConfig {
    /// The category as the adapter receives it.
    pub fn to_intake(&self) -> IntakeCategory {
        IntakeCategory {
            id: self.id.clone(),
            label: self.label.clone(),
            ticket: self.ticket.clone(),
        }
    }
}

/// The kind of value a field takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// Any one-line text (`ФИО`).
    Text,
    /// A phone number: digits with an optional leading `+`, spaces, dashes and brackets allowed
    /// and dropped.
    Phone,
    /// A contract (or account) number; usually with a `pattern`.
    Contract,
    /// One of `choices`, picked with a button.
    Choice,
}

impl FieldKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Phone => "phone",
            Self::Contract => "contract",
            Self::Choice => "choice",
        }
    }
}

/// One option of a choice field.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    /// What the helpdesk's field takes (an option name, an id): a string or a number.
    pub id: Json,
    /// What the client sees.
    pub label: String,
}

impl Choice {
    /// The id as text (callback data, the Mini App's form, remembered values).
    pub fn key(&self) -> String {
        match &self.id {
            Json::String(text) => text.clone(),
            other => other.to_string(),
        }
    }
}

/// One `[[chats.fields]]` entry.
#[derive(Clone, Debug)]
pub struct FieldConfig {
    pub id: String,
    pub label: String,
    pub kind: FieldKind,
    pub required: bool,
    /// Anchored: the whole answer must match.
    pub pattern: Option<Regex>,
    /// A sample answer shown with the question and with the retry message.
    pub example: Option<String>,
    /// Where the value goes in the ticket table (`custom_fields.8`); `None`: the description.
    pub target: Option<String>,
    pub choices: Vec<Choice>,
}

impl PartialEq for FieldConfig {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.label == other.label
            && self.kind == other.kind
            && self.required == other.required
            && self.pattern.as_ref().map(Regex::as_str) == other.pattern.as_ref().map(Regex::as_str)
            && self.example == other.example
            && self.target == other.target
            && self.choices == other.choices
    }
}

/// Why an answer was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Nothing was given for a required field.
    Empty,
    /// Longer than [`MAX_VALUE_CHARS`] or more than one line.
    TooLong,
    /// Not a phone number.
    Phone,
    /// Does not match the field's `pattern`.
    Pattern,
    /// Not one of the choices.
    Choice,
}

impl FieldConfig {
    /// Checks a typed answer (or a choice's key) and returns the field as the adapter receives
    /// it: the value people read and the value the helpdesk's field takes.
    pub fn accept(&self, answer: &str) -> Result<IntakeField, Rejection> {
        let answer = answer.trim();
        if answer.is_empty() {
            return Err(Rejection::Empty);
        }
        let (value, wire) = match self.kind {
            FieldKind::Choice => {
                let choice = self
                    .choices
                    .iter()
                    .find(|c| c.key() == answer || c.label == answer)
                    .ok_or(Rejection::Choice)?;
                (choice.label.clone(), choice.id.clone())
            }
            FieldKind::Phone => {
                let phone = normalize_phone(answer).ok_or(Rejection::Phone)?;
                (phone.clone(), Json::String(phone))
            }
            FieldKind::Text | FieldKind::Contract => {
                if answer.chars().count() > MAX_VALUE_CHARS || answer.contains('\n') {
                    return Err(Rejection::TooLong);
                }
                (answer.to_owned(), Json::String(answer.to_owned()))
            }
        };
        if let Some(pattern) = &self.pattern
            && !pattern.is_match(&value)
        {
            return Err(Rejection::Pattern);
        }
        Ok(IntakeField {
            id: self.id.clone(),
            label: self.label.clone(),
            value,
            wire,
            target: self.target.clone(),
        })
    }
}

/// `+7 (999) 123-45-67` → `+79991234567`: 7 to 15 digits (E.164 allows 15), one optional `+`
/// in front; spaces, dots, dashes and brackets are dropped.
pub fn normalize_phone(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.trim().chars().enumerate() {
        match c {
            '+' if i == 0 => out.push('+'),
            '0'..='9' => out.push(c),
            ' ' | '-' | '(' | ')' | '.' => {}
            _ => return None,
        }
    }
    let digits = out.trim_start_matches('+').len();
    (7..=15).contains(&digits).then_some(out)
}

/// Reads and checks a chat's `categories` and `fields`; `None` (with findings) when either is
/// broken. `ticket` is the chat's `[chats.ticket]` when it is valid; the adapter checks of the
/// mappings run only then, so a broken chat table is not reported once per category.
pub(super) fn intake(
    report: &mut Report<'_>,
    chat: &Table<'_, '_>,
    kind: Option<&'static str>,
    ticket: Option<&ConfigTable>,
) -> Option<IntakeConfig> {
    let errors_before = report.errors.len();
    let categories = categories(report, chat, kind, ticket);
    let fields = fields(report, chat, kind, ticket);
    (report.errors.len() == errors_before).then(|| IntakeConfig {
        categories: categories.unwrap_or_default(),
        fields: fields.unwrap_or_default(),
    })
}

/// The registration time a sample ticket table is checked with: what
/// [`teledesk_adapter::TicketDraft::write_registered_at`] writes.
pub const REGISTERED_AT_SAMPLE: &str = "2026-01-31T23:59:59Z";

/// Reads a chat's `registered_at`: the ticket-table path (`custom_fields.Registered`) that takes
/// each ticket's registration time. It is checked as an intake field's `target` is: the helpdesk
/// kind must have custom fields, and `[chats.ticket]` with a sample time there must pass the
/// adapter's validator. `None` (with findings) when it is broken; `Some(None)` when absent.
pub(super) fn registered_at(
    report: &mut Report<'_>,
    chat: &Table<'_, '_>,
    kind: Option<&'static str>,
    ticket: Option<&ConfigTable>,
) -> Option<Option<String>> {
    if chat.get("registered_at").is_none() {
        return Some(None);
    }
    let errors_before = report.errors.len();
    let (target, span) = text(report, chat, "registered_at")?;
    let Some(kind) = kind else {
        return Some(Some(target));
    };
    if !helpdesks::capability(kind).is_some_and(|c| c.custom_fields) {
        report.error(
            &chat.child_path("registered_at"),
            Some(span),
            ConfigText::NoRegisteredField {
                kind: kind.to_owned(),
            },
        );
        return None;
    }
    if let Some(ticket) = ticket {
        let base = helpdesks::validate_ticket_defaults(kind, ticket).unwrap_or_default();
        let mut with = ticket.clone();
        set_path(
            &mut with,
            &target,
            Json::String(REGISTERED_AT_SAMPLE.into()),
        );
        let problems = helpdesks::validate_ticket_defaults(kind, &with).unwrap_or_default();
        for problem in problems.into_iter().filter(|p| !base.contains(p)) {
            report.error(
                &chat.child_path("registered_at"),
                Some(span.clone()),
                ConfigText::CannotWrite {
                    kind: kind.to_owned(),
                    key: problem.key,
                    problem: Box::new(problem.problem),
                },
            );
        }
    }
    if report.errors.len() != errors_before {
        return None;
    }
    if !helpdesks::capability(kind).is_some_and(|c| c.check_fields) {
        report.warn(
            &chat.child_path("registered_at"),
            Some(span),
            ConfigText::TargetUnconfirmed {
                kind: kind.to_owned(),
                target: target.clone(),
            },
        );
    }
    Some(Some(target))
}

/// The entries of an array of tables under `key`, each with its path.
fn entries<'a, 'i>(
    report: &mut Report<'_>,
    parent: &Table<'a, 'i>,
    key: &str,
) -> Option<Vec<Table<'a, 'i>>> {
    let value = parent.get(key)?;
    let path = parent.child_path(key);
    let DeValue::Array(items) = value.get_ref() else {
        report.type_error(&path, value, Expected::Tables(key.to_owned()));
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{index}]");
        match item.get_ref() {
            DeValue::Table(map) => out.push(Table {
                path: item_path,
                span: item.span(),
                map,
            }),
            _ => report.type_error(&item_path, item, Expected::Table),
        }
    }
    Some(out)
}

/// A required, non-empty string.
fn text(
    report: &mut Report<'_>,
    table: &Table<'_, '_>,
    key: &str,
) -> Option<(String, Range<usize>)> {
    if table.get(key).is_none() {
        report.missing(table, key);
        return None;
    }
    let (text, span) = report.string(table, key)?;
    if text.trim().is_empty() {
        report.error(&table.child_path(key), Some(span), ConfigText::Empty);
        return None;
    }
    Some((text.trim().to_owned(), span))
}

/// An id: letters, digits, `_` and `-` (it travels in callback data and form names).
fn id(report: &mut Report<'_>, table: &Table<'_, '_>) -> Option<(String, Range<usize>)> {
    let (id, span) = text(report, table, "id")?;
    if id.len() > 32
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        report.error(&table.child_path("id"), Some(span), ConfigText::IdForm);
        return None;
    }
    Some((id, span))
}

fn categories(
    report: &mut Report<'_>,
    chat: &Table<'_, '_>,
    kind: Option<&'static str>,
    ticket: Option<&ConfigTable>,
) -> Option<Vec<CategoryConfig>> {
    let tables = entries(report, chat, "categories")?;
    let base_problems = match (kind, ticket) {
        (Some(kind), Some(ticket)) => {
            Some(helpdesks::validate_ticket_defaults(kind, ticket).unwrap_or_default())
        }
        _ => None,
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(tables.len());
    for table in &tables {
        report.unknown_keys(table, CATEGORY_KEYS);
        let id = id(report, table);
        let label = text(report, table, "label");
        if let Some((id, span)) = &id {
            if let Some(line) = seen.get(id) {
                report.error(
                    &table.child_path("id"),
                    Some(span.clone()),
                    ConfigText::DuplicateCategory {
                        id: id.clone(),
                        line: *line,
                    },
                );
            } else {
                seen.insert(id.clone(), report.line(span.start));
            }
        }
        let overrides = match table.get("ticket") {
            None => Some((ConfigTable::new(), None)),
            Some(_) => report.table(table, "ticket").map(|t| {
                let (json, _) = report.table_json(&t, false);
                (json, Some(t))
            }),
        };
        let Some((overrides, ticket_table)) = overrides else {
            continue;
        };
        if let (Some(kind), Some(base), Some(base_problems), Some(ticket_table)) =
            (kind, ticket, &base_problems, &ticket_table)
        {
            let mut merged = base.clone();
            teledesk_adapter::merge_table(&mut merged, &overrides);
            let problems: Vec<ConfigProblem> = helpdesks::validate_ticket_defaults(kind, &merged)
                .unwrap_or_default()
                .into_iter()
                .filter(|p| !base_problems.contains(p))
                .collect();
            report.adapter_problems(ticket_table, problems);
        }
        if let (Some((id, _)), Some((label, _))) = (id, label) {
            out.push(CategoryConfig {
                id,
                label,
                ticket: overrides,
            });
        }
    }
    if !tables.is_empty() && out.len() == 1 {
        report.warn(
            &chat.child_path("categories"),
            chat.get("categories").map(|v| v.span()),
            ConfigText::SingleCategory,
        );
    }
    Some(out)
}

fn fields(
    report: &mut Report<'_>,
    chat: &Table<'_, '_>,
    kind: Option<&'static str>,
    ticket: Option<&ConfigTable>,
) -> Option<Vec<FieldConfig>> {
    let tables = entries(report, chat, "fields")?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut targets: HashMap<String, (String, usize)> = HashMap::new();
    let mut out = Vec::with_capacity(tables.len());
    for table in &tables {
        if let Some(field) = field(report, table, kind, ticket) {
            let id_span = table.find("id");
            if let Some(line) = seen.get(&field.id) {
                report.error(
                    &table.child_path("id"),
                    id_span,
                    ConfigText::DuplicateField {
                        id: field.id.clone(),
                        line: *line,
                    },
                );
                continue;
            }
            seen.insert(
                field.id.clone(),
                id_span.map_or(0, |s| report.line(s.start)),
            );
            if let Some(target) = &field.target {
                let span = table.find("target");
                if let Some((other, line)) = targets.get(target) {
                    report.error(
                        &table.child_path("target"),
                        span,
                        ConfigText::TargetTwice {
                            target: target.clone(),
                            other: other.clone(),
                            line: *line,
                        },
                    );
                    continue;
                }
                targets.insert(
                    target.clone(),
                    (field.id.clone(), span.map_or(0, |s| report.line(s.start))),
                );
            }
            out.push(field);
        }
    }
    Some(out)
}

fn field(
    report: &mut Report<'_>,
    table: &Table<'_, '_>,
    kind: Option<&'static str>,
    ticket: Option<&ConfigTable>,
) -> Option<FieldConfig> {
    let errors_before = report.errors.len();
    report.unknown_keys(table, FIELD_KEYS);
    let id = id(report, table);
    let label = text(report, table, "label");
    if table.get("type").is_none() {
        report.missing(table, "type");
    }
    let field_kind = report.choice(
        table,
        "type",
        &[
            ("text", FieldKind::Text),
            ("phone", FieldKind::Phone),
            ("contract", FieldKind::Contract),
            ("choice", FieldKind::Choice),
        ],
    );
    let required = match table.get("required") {
        None => false,
        Some(value) => match value.get_ref() {
            DeValue::Boolean(flag) => *flag,
            _ => {
                report.type_error(&table.child_path("required"), value, Expected::Boolean);
                false
            }
        },
    };
    let pattern = match report.string(table, "pattern") {
        None => None,
        Some((text, span)) => match Regex::new(&format!("^(?:{text})$")) {
            Ok(regex) => Some(regex),
            Err(err) => {
                let reason = err.to_string();
                let reason = reason.lines().last().unwrap_or("").trim();
                let reason = reason.strip_prefix("error: ").unwrap_or(reason);
                report.error(
                    &table.child_path("pattern"),
                    Some(span),
                    ConfigText::InvalidRegex {
                        reason: reason.to_string(),
                    },
                );
                None
            }
        },
    };
    let example = report
        .string(table, "example")
        .map(|(t, _)| t.trim().to_owned());
    let target = match report.string(table, "target") {
        Some((text, span))
            if text.trim().is_empty() || text.starts_with('.') || text.ends_with('.') =>
        {
            report.error(
                &table.child_path("target"),
                Some(span),
                ConfigText::TargetForm,
            );
            None
        }
        other => other.map(|(t, _)| t.trim().to_owned()),
    };
    let choices = choices(report, table, field_kind);
    if let Some(field_kind) = field_kind {
        if field_kind != FieldKind::Choice && table.get("choices").is_some() {
            report.error(
                &table.child_path("choices"),
                table.find("choices"),
                ConfigText::ChoicesOnlyForChoice {
                    kind: field_kind.as_str(),
                },
            );
        }
        if matches!(field_kind, FieldKind::Choice | FieldKind::Phone)
            && table.get("pattern").is_some()
        {
            report.error(
                &table.child_path("pattern"),
                table.find("pattern"),
                ConfigText::NoPatternFor {
                    kind: field_kind.as_str(),
                },
            );
        }
        if let (Some(pattern), Some(example)) = (&pattern, &example)
            && !pattern.is_match(example)
        {
            report.error(
                &table.child_path("example"),
                table.find("example"),
                ConfigText::ExampleMismatch {
                    example: example.to_string(),
                },
            );
        }
    }
    let field = FieldConfig {
        id: id?.0,
        label: label?.0,
        kind: field_kind?,
        required,
        pattern,
        example,
        target,
        choices: choices.unwrap_or_default(),
    };
    if report.errors.len() != errors_before {
        return None;
    }
    if let (Some(target), Some(kind)) = (&field.target, kind) {
        check_target(report, table, &field, target, kind, ticket);
        if !helpdesks::capability(kind).is_some_and(|c| c.check_fields) {
            report.warn(
                &table.child_path("target"),
                table.find("target"),
                ConfigText::TargetUnconfirmed {
                    kind: kind.to_string(),
                    target: target.to_string(),
                },
            );
        }
    }
    (report.errors.len() == errors_before).then_some(field)
}

fn choices(
    report: &mut Report<'_>,
    field: &Table<'_, '_>,
    kind: Option<FieldKind>,
) -> Option<Vec<Choice>> {
    if field.get("choices").is_none() {
        if kind == Some(FieldKind::Choice) {
            report.missing(field, "choices");
        }
        return None;
    }
    let tables = entries(report, field, "choices")?;
    if tables.is_empty() && kind == Some(FieldKind::Choice) {
        report.error(
            &field.child_path("choices"),
            field.find("choices"),
            ConfigText::NoChoices,
        );
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(tables.len());
    for table in &tables {
        report.unknown_keys(table, CHOICE_KEYS);
        let label = text(report, table, "label");
        let id = match table.get("id") {
            None => {
                report.missing(table, "id");
                None
            }
            Some(value) => match value.get_ref() {
                DeValue::String(text) if !text.trim().is_empty() => {
                    Some((Json::String(text.trim().to_owned()), value.span()))
                }
                DeValue::Integer(_) => {
                    as_i64(value.get_ref()).map(|n| (Json::from(n), value.span()))
                }
                _ => {
                    report.type_error(&table.child_path("id"), value, Expected::StringOrInteger);
                    None
                }
            },
        };
        if let (Some((id, span)), Some((label, _))) = (id, label) {
            let choice = Choice { id, label };
            // Bytes of callback data are few (64); a long id would not fit in a button.
            if choice.key().len() > 40 {
                report.error(
                    &table.child_path("id"),
                    Some(span),
                    ConfigText::ChoiceIdTooLong,
                );
                continue;
            }
            if !seen.insert(choice.key()) {
                report.error(
                    &table.child_path("id"),
                    Some(span),
                    ConfigText::DuplicateChoice {
                        id: choice.id.to_string(),
                    },
                );
                continue;
            }
            out.push(choice);
        }
    }
    Some(out)
}

/// Checks that the adapter can write the field at `target`: the helpdesk kind must have custom
/// fields (unless the field is a choice, whose ids may name a ticket's own field), and the ticket
/// table with the field set to each value it can take must pass the adapter's validator.
fn check_target(
    report: &mut Report<'_>,
    table: &Table<'_, '_>,
    field: &FieldConfig,
    target: &str,
    kind: &'static str,
    ticket: Option<&ConfigTable>,
) {
    let custom = helpdesks::capability(kind).is_some_and(|c| c.custom_fields);
    if !custom && field.kind != FieldKind::Choice {
        report.error(
            &table.child_path("target"),
            table.find("target"),
            ConfigText::NoCustomFields {
                kind: kind.to_string(),
            },
        );
        return;
    }
    let Some(ticket) = ticket else { return };
    let samples: Vec<(Json, Option<String>)> = match field.kind {
        FieldKind::Choice => field
            .choices
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), Some(format!("choices[{i}].id"))))
            .collect(),
        FieldKind::Phone => vec![(Json::String("+70000000000".into()), None)],
        _ => vec![(
            Json::String(field.example.clone().unwrap_or_else(|| "sample".into())),
            None,
        )],
    };
    let base = helpdesks::validate_ticket_defaults(kind, ticket).unwrap_or_default();
    for (sample, at) in samples {
        let mut with = ticket.clone();
        set_path(&mut with, target, sample);
        let problems = helpdesks::validate_ticket_defaults(kind, &with).unwrap_or_default();
        for problem in problems.into_iter().filter(|p| !base.contains(p)) {
            let key = at.clone().unwrap_or_else(|| "target".to_owned());
            report.error(
                &table.child_path(&key),
                table.find(&key),
                ConfigText::CannotWrite {
                    kind: kind.to_owned(),
                    key: problem.key,
                    problem: Box::new(problem.problem),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Finding, parse};

    const BASE: &str = r#"[telegram]
token = "env:BOT_TOKEN"

[store]
path = "/var/lib/teledesk"

[helpdesks.main]
kind = "kaiten"
url = "https://example.kaiten.ru"
token = "env:KAITEN_TOKEN"
board_id = 1
column_id = 2

[[chats]]
id = -1001234567890
mode = "group"
helpdesk = "main"
name = "Acme"
"#;

    fn env(name: &str) -> Option<String> {
        Some(format!("{name}-value"))
    }

    fn lines(findings: &[Finding]) -> String {
        findings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn errors(extra: &str) -> String {
        match parse(&format!("{BASE}{extra}"), &env) {
            Ok(_) => panic!("expected errors"),
            Err(errors) => lines(&errors),
        }
    }

    const FORM: &str = r#"
[[chats.categories]]
id = "internet"
label = "Интернет"
ticket = { column_id = 7 }

[[chats.categories]]
id = "tv"
label = "ТВ"
ticket = { lane_id = 3, properties = { id_9 = "TV" } }

[[chats.fields]]
id = "contract"
label = "№ договора"
type = "contract"
pattern = '\d{2}-\d{4}'
example = "12-3456"
required = true
target = "properties.id_7"

[[chats.fields]]
id = "phone"
label = "Контактный телефон"
type = "phone"

[[chats.fields]]
id = "tariff"
label = "Тариф"
type = "choice"
target = "properties.id_8"
choices = [{ id = 1, label = "Базовый" }, { id = "vip", label = "VIP" }]
"#;

    #[test]
    fn a_form_loads_with_its_categories_and_typed_fields() {
        let loaded = parse(&format!("{BASE}{FORM}"), &env).expect("valid");
        let intake = &loaded.config.chats[0].intake;
        assert_eq!(intake.categories.len(), 2);
        assert_eq!(intake.categories[1].ticket["lane_id"], 3);
        let contract = intake.field("contract").expect("declared");
        assert!(contract.required);
        assert_eq!(contract.target.as_deref(), Some("properties.id_7"));
        assert_eq!(
            contract.accept(" 12-3456 ").map(|f| f.value),
            Ok("12-3456".into())
        );
        assert_eq!(contract.accept("123456"), Err(Rejection::Pattern));
        assert_eq!(contract.accept("  "), Err(Rejection::Empty));
        let phone = intake.field("phone").expect("declared");
        assert!(!phone.required && phone.target.is_none());
        assert_eq!(
            phone.accept("+7 (999) 123-45-67").map(|f| f.wire),
            Ok(Json::String("+79991234567".into()))
        );
        assert_eq!(phone.accept("call me"), Err(Rejection::Phone));
        assert_eq!(phone.accept("12345"), Err(Rejection::Phone));
        let tariff = intake.field("tariff").expect("declared");
        let vip = tariff.accept("vip").expect("a choice id");
        assert_eq!((vip.value.as_str(), &vip.wire), ("VIP", &Json::from("vip")));
        assert_eq!(tariff.accept("1").map(|f| f.wire), Ok(Json::from(1)));
        assert_eq!(tariff.accept("Базовый").map(|f| f.wire), Ok(Json::from(1)));
        assert_eq!(tariff.accept("gold"), Err(Rejection::Choice));
    }

    #[test]
    fn every_mistake_in_a_form_is_named_by_key_and_line() {
        let text = r#"
[[chats.categories]]
id = "internet"
label = "Интернет"
ticket = { column_id = "seven" }

[[chats.categories]]
id = "internet"
label = "Дубль"

[[chats.fields]]
id = "contract"
label = "№ договора"
type = "contract"
pattern = '\d{2-'
target = "properties.id_5"

[[chats.fields]]
id = "again"
label = "Ещё раз"
type = "text"
target = "properties.id_7"

[[chats.fields]]
id = "third"
label = "Третье"
type = "text"
target = "properties.id_7"

[[chats.fields]]
id = "tariff"
label = "Тариф"
type = "choice"
choices = [{ label = "Базовый" }, { id = "vip", label = "VIP" }, { id = "vip", label = "VIP 2" }]

[[chats.fields]]
id = "name"
label = "ФИО"
type = "text"
target = "properties.fio"

[[chats.fields]]
id = "note"
label = "Примечание"
type = "text"
choices = []

[[chats.fields]]
id = "kind"
label = "Вид"
type = "list"
"#;
        insta::assert_snapshot!(errors(text), @r#"
        chats[0].categories[0].ticket.column_id (line 23): must be a positive integer (a Kaiten id)
        chats[0].categories[1].id (line 26): duplicate category id "internet"; already used on line 21
        chats[0].fields[0].pattern (line 33): invalid regular expression: unclosed counted repetition
        chats[0].fields[2].target (line 46): helpdesk field `properties.id_7` is mapped twice: field "again" (line 40) already writes it
        chats[0].fields[3].choices[0].id (line 52): missing required key
        chats[0].fields[3].choices[2].id (line 52): duplicate choice id "vip"
        chats[0].fields[4].target (line 58): kaiten cannot write `properties.fio`: the key must name a custom property as id_<n>
        chats[0].fields[5].choices (line 64): only a field of type "choice" has choices, not "text"
        chats[0].fields[6].type (line 69): unknown value "list"; expected one of text, phone, contract, choice
        "#);
    }

    #[test]
    fn a_helpdesk_without_custom_fields_takes_only_choices_at_ticket_fields() {
        let glpi = BASE
            .replace("kind = \"kaiten\"", "kind = \"glpi\"")
            .replace(
                "token = \"env:KAITEN_TOKEN\"\nboard_id = 1\ncolumn_id = 2",
                "user_token = \"env:GLPI\"\napp_token = \"env:APP\"\nentities_id = 0",
            );
        let text = format!(
            "{glpi}{}",
            r#"
[[chats.fields]]
id = "contract"
label = "№ договора"
type = "contract"
target = "contract_no"

[[chats.fields]]
id = "place"
label = "Офис"
type = "choice"
target = "locations_id"
choices = [{ id = 4, label = "Москва" }, { id = "kazan", label = "Казань" }]
"#
        );
        let errors = match parse(&text, &env) {
            Ok(_) => panic!("expected errors"),
            Err(errors) => lines(&errors),
        };
        insta::assert_snapshot!(errors, @"
        chats[0].fields[0].target (line 24): glpi has no custom ticket fields (capability custom_fields = false): only a choice field can target one of the ticket's own fields; remove `target` to keep the value in the description
        chats[0].fields[1].choices[1].id (line 31): glpi cannot write `locations_id`: must be a positive integer (a GLPI id)
        ");
    }

    #[test]
    fn check_says_where_no_one_can_confirm_a_target() {
        let rt = BASE.replace(
            "kind = \"kaiten\"\nurl = \"https://example.kaiten.ru\"\ntoken = \"env:KAITEN_TOKEN\"\nboard_id = 1\ncolumn_id = 2",
            "kind = \"rt\"\nurl = \"https://rt.example.com\"\ntoken = \"1-14-0123456789abcdef0123456789abcdef\"\nqueue = \"Support\"",
        );
        let text = format!(
            "{rt}{}",
            r#"
[[chats.fields]]
id = "contract"
label = "Contract"
type = "contract"
target = "custom_fields.Contract"
"#
        );
        let loaded = parse(&text, &env).expect("valid");
        insta::assert_snapshot!(lines(&loaded.warnings), @"
        helpdesks.main.token (line 10): literal secret in the config file; use env:NAME or file:/path
        chats[0].fields[0].target (line 23): rt cannot confirm that `custom_fields.Contract` exists in the helpdesk (capability check_fields = false; teledesk doctor cannot either): make sure it does, or the helpdesk may drop the value
        ");
    }

    #[test]
    fn registered_at_names_a_field_the_adapter_can_write() {
        let rt = BASE.replace(
            "kind = \"kaiten\"\nurl = \"https://example.kaiten.ru\"\ntoken = \"env:KAITEN_TOKEN\"\nboard_id = 1\ncolumn_id = 2",
            "kind = \"rt\"\nurl = \"https://rt.example.com\"\ntoken = \"1-14-0123456789abcdef0123456789abcdef\"\nqueue = \"Support\"",
        );
        let loaded = parse(
            &format!("{rt}registered_at = \"custom_fields.Registered\"\n"),
            &env,
        )
        .expect("valid");
        assert_eq!(
            loaded.config.chats[0].registered_at.as_deref(),
            Some("custom_fields.Registered")
        );
        insta::assert_snapshot!(lines(&loaded.warnings), @"
        helpdesks.main.token (line 10): literal secret in the config file; use env:NAME or file:/path
        chats[0].registered_at (line 18): rt cannot confirm that `custom_fields.Registered` exists in the helpdesk (capability check_fields = false; teledesk doctor cannot either): make sure it does, or the helpdesk may drop the value
        ");
        let absent = parse(&rt, &env).expect("valid");
        assert_eq!(absent.config.chats[0].registered_at, None);

        // Kaiten validates a property id; GLPI has no custom fields at all.
        insta::assert_snapshot!(errors("registered_at = \"properties.seven\"\n"), @"chats[0].registered_at (line 19): kaiten cannot write `properties.seven`: the key must name a custom property as id_<n>");
        let glpi = BASE
            .replace("kind = \"kaiten\"", "kind = \"glpi\"")
            .replace(
                "token = \"env:KAITEN_TOKEN\"\nboard_id = 1\ncolumn_id = 2",
                "user_token = \"env:GLPI\"\napp_token = \"env:APP\"\nentities_id = 0",
            );
        let failed = match parse(
            &format!("{glpi}registered_at = \"custom_fields.9\"\n"),
            &env,
        ) {
            Ok(_) => panic!("expected errors"),
            Err(errors) => lines(&errors),
        };
        insta::assert_snapshot!(failed, @"chats[0].registered_at (line 19): glpi has no custom ticket fields (capability custom_fields = false): the registration time stays in the ticket's description; remove `registered_at`");
        insta::assert_snapshot!(errors("registered_at = \"\"\n"), @"chats[0].registered_at (line 19): must not be empty");
    }
}
