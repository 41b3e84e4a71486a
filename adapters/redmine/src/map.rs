//! Wire ↔ domain: the texts teledesk writes into Redmine and how issues and journals read back.

use crate::config::StatusMap;
use crate::model;
use teledesk_adapter::text::{
    self, FOLLOW_UP_LABEL, REGISTERED_LABEL, SOURCE_LABEL, TELEGRAM_LABEL,
};
use teledesk_adapter::{
    AttachmentRef, Comment, CommentDraft, CommentId, DueTimes, Error, ErrorKind, Origin, Result,
    StaffAddress, StatusClass, Ticket, TicketDraft, TicketId, TicketRef, Visibility, Wanted,
};
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// Starts the marker that ties an issue or a journal to its Telegram message
/// (`tg-key: tg:-100123:45`).
///
/// Redmine journals have no external id and `PUT /issues/{id}.json` returns no journal id, so the
/// adapter finds its own journal (right after writing it, and on a retry after a crash) by this
/// text; issues carry it in the description, where `description=~` can search for it.
pub const MARKER: &str = text::MARKER;

/// First line of the requester block appended to issue descriptions; reading an issue strips it.
const BLOCK_SEPARATOR: &str = "---";
/// Redmine's subject column is 255 characters.
const MAX_SUBJECT_CHARS: usize = 255;

/// Everything besides the payloads that mapping an issue needs.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The Redmine root, for links.
    pub base: &'a str,
    /// Status id/name → class.
    pub statuses: &'a StatusMap,
    /// Every status of the instance (from `/issue_statuses.json`), to classify the status ids
    /// journal details name.
    pub known_statuses: &'a [model::IssueStatus],
    /// The integration user's id: its journals are teledesk's own.
    pub integration_user: i64,
    /// The custom field with the resolution text, when configured.
    pub resolution_field_id: Option<i64>,
    /// The custom field that addresses an issue staff created to a chat, when configured.
    pub chat_field_id: Option<i64>,
    /// The boolean custom field that makes such an issue an announcement.
    pub announcement_field_id: Option<i64>,
}

/// A filter time as Redmine's `updated_on` accepts it: UTC, whole seconds, `Z` (it refuses
/// fractions and offsets with "Updated is invalid").
pub fn query_time(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.to_offset(UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// Drops the sub-second part: Redmine shows and compares whole seconds.
pub fn floor_second(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(0).unwrap_or(at)
}

/// The web link of an issue.
pub fn issue_url(base: &str, id: i64) -> String {
    format!("{base}/issues/{id}")
}

/// The reference teledesk stores for an issue.
pub fn ticket_ref(base: &str, id: i64) -> TicketRef {
    TicketRef {
        id: TicketId(id.to_string()),
        number: id.to_string(),
        url: Some(issue_url(base, id)),
    }
}

/// Redmine stores descriptions with `\r\n`; teledesk speaks `\n`.
pub fn normalize_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// The subject: the client's, or the first line of the description, cut to Redmine's limit.
pub fn subject_of(draft: &TicketDraft) -> String {
    // Redmine rejects line breaks nowhere but shows them nowhere either.
    text::ticket_title(&draft.subject, &draft.description, MAX_SUBJECT_CHARS)
        .replace(['\r', '\n'], " ")
}

/// The issue description: the client's text, then a block staff read the requester from.
///
/// The block carries what Redmine has no field for: the Telegram identity, the exact registration
/// time (the issue's `created_on` is when teledesk got through, which can be later), the source
/// link, the closed issue a follow-up continues, and the idempotency marker. Plain lines render
/// the same under Textile and Markdown.
pub fn issue_description(draft: &TicketDraft) -> String {
    // The follow-up line's `#123` is a link to the issue in both of Redmine's text formats.
    let mut block = text::requester_lines(draft, FOLLOW_UP_LABEL);
    block.push(format!("{MARKER}{}", draft.key.as_str()));
    text::with_block(draft.description.trim(), BLOCK_SEPARATOR, &block)
}

/// The description without the requester block (and anything staff typed after it kept).
pub fn strip_requester_block(text: &str) -> String {
    let text = normalize_newlines(text);
    let lines: Vec<&str> = text.lines().collect();
    let start = (0..lines.len()).rev().find(|&i| {
        lines[i].trim() == BLOCK_SEPARATOR
            && lines
                .get(i + 1)
                .is_some_and(|next| next.starts_with(TELEGRAM_LABEL))
    });
    let Some(start) = start else {
        return text.trim().to_owned();
    };
    let mut end = start + 1;
    while end < lines.len() && is_block_line(lines[end]) {
        end += 1;
    }
    text::join_paragraphs(&lines[..start].join("\n"), &lines[end..].join("\n"))
}

fn is_block_line(line: &str) -> bool {
    [
        TELEGRAM_LABEL,
        REGISTERED_LABEL,
        SOURCE_LABEL,
        FOLLOW_UP_LABEL,
        MARKER,
    ]
    .iter()
    .any(|prefix| line.starts_with(prefix))
}

/// The footer of everything teledesk writes into a journal: link back to Telegram and the marker.
fn footer(source_url: Option<&str>, key: &str) -> String {
    match source_url {
        Some(url) => format!("Telegram: {url} · {MARKER}{key}"),
        None => format!("{MARKER}{key}"),
    }
}

/// A client comment as journal notes: who wrote it (Redmine shows the integration user as the
/// journal author), the text, and the footer. Files travel as the journal's own attachments.
pub fn comment_text(draft: &CommentDraft) -> String {
    let mut text = format!("**{}** (Telegram", draft.author.label());
    if let Some(company) = &draft.author.company {
        text.push_str(", ");
        text.push_str(company);
    }
    text.push_str("):\n\n");
    let body = draft.body.trim();
    if !body.is_empty() {
        text.push_str(body);
        text.push_str("\n\n");
    }
    text.push_str(&footer(draft.source_url.as_deref(), draft.key.as_str()));
    text
}

/// An internal note (rating, escalation, delivery failure) with its marker.
pub fn note_text(body: &str, key: &str) -> String {
    format!("{}\n\n{}", body.trim(), footer(None, key))
}

/// The client's text of a journal teledesk wrote: header line and footer removed.
pub fn strip_teledesk_comment(text: &str) -> String {
    let text = normalize_newlines(text);
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.first().is_some_and(|first| {
        first.starts_with("**") && first.contains("** (Telegram") && first.ends_with("):")
    }) {
        lines.remove(0);
    }
    text::drop_marker_footer(&mut lines);
    lines.join("\n").trim().to_owned()
}

/// The class of a status: config/default map first, then Redmine's own `is_closed`; any other
/// open status means someone works on it.
pub fn class_of(statuses: &StatusMap, id: i64, name: &str, is_closed: Option<bool>) -> StatusClass {
    statuses
        .class_of(id, name)
        .unwrap_or(if is_closed == Some(true) {
            StatusClass::Closed
        } else {
            StatusClass::InProgress
        })
}

fn class_of_status_id(ctx: &Context<'_>, issue: &model::Issue, id: i64) -> StatusClass {
    if let Some(status) = ctx.known_statuses.iter().find(|s| s.id == id) {
        return class_of(
            ctx.statuses,
            status.id,
            &status.name,
            Some(status.is_closed),
        );
    }
    if issue.status.id == id {
        return class_of(ctx.statuses, id, &issue.status.name, issue.status.is_closed);
    }
    class_of(ctx.statuses, id, "", None)
}

/// Whether teledesk wrote a journal: by its author alone, since a marker in the notes may be a
/// client's typing or staff quoting teledesk's journal, and neither is an echo.
fn is_own(ctx: &Context<'_>, journal: &model::Journal) -> bool {
    journal.user.as_ref().map(|u| u.id) == Some(ctx.integration_user)
}

fn notes_of(journal: &model::Journal) -> Option<&str> {
    journal
        .notes
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
}

/// The resolution: the configured custom field; without one, the last public staff note written
/// up to the moment the issue last entered a done status (the note of that very update included),
/// and only while it is still done.
fn resolution_of(ctx: &Context<'_>, issue: &model::Issue, status: StatusClass) -> Option<String> {
    if let Some(field) = ctx.resolution_field_id {
        return issue.custom_value(field).map(|v| normalize_newlines(&v));
    }
    if !status.is_done() {
        return None;
    }
    let mut journals: Vec<&model::Journal> = issue.journals.iter().collect();
    journals.sort_by_key(|j| j.id);
    let mut last_note: Option<&str> = None;
    let mut at_done: Option<&str> = None;
    for journal in journals {
        if !journal.private_notes
            && !is_own(ctx, journal)
            && let Some(notes) = notes_of(journal)
        {
            last_note = Some(notes);
        }
        let new_status = journal
            .details
            .iter()
            .rev()
            .find(|d| d.property == "attr" && d.name == "status_id")
            .and_then(|d| d.new_value.as_deref())
            .and_then(|v| v.parse::<i64>().ok());
        if let Some(new_status) = new_status {
            at_done = if class_of_status_id(ctx, issue, new_status).is_done() {
                last_note
            } else {
                None
            };
        }
    }
    at_done.map(normalize_newlines)
}

fn attachment_ref(attachment: &model::Attachment) -> AttachmentRef {
    AttachmentRef {
        id: attachment.id.to_string(),
        file_name: attachment.filename.clone(),
        content_type: attachment.content_type.clone().filter(|t| !t.is_empty()),
        size: attachment.filesize,
        url: attachment.content_url.clone(),
    }
}

/// One journal as a comment: journals with notes or files; pure field changes are not comments.
pub fn to_comment(
    ctx: &Context<'_>,
    issue: &model::Issue,
    journal: &model::Journal,
) -> Option<Comment> {
    let attachments: Vec<AttachmentRef> = journal
        .details
        .iter()
        .filter(|d| d.property == "attachment" && d.new_value.is_some())
        .filter_map(|d| d.name.parse::<i64>().ok())
        .filter_map(|id| issue.attachments.iter().find(|a| a.id == id))
        .map(attachment_ref)
        .collect();
    let notes = notes_of(journal);
    if notes.is_none() && attachments.is_empty() {
        return None;
    }
    let origin = if is_own(ctx, journal) {
        Origin::Teledesk
    } else {
        Origin::Staff
    };
    let plain = normalize_newlines(notes.unwrap_or_default());
    let body = match origin {
        Origin::Teledesk => strip_teledesk_comment(&plain),
        _ => plain,
    };
    let author = journal
        .user
        .as_ref()
        .map(|u| {
            if u.name.trim().is_empty() {
                format!("Redmine user {}", u.id)
            } else {
                u.name.clone()
            }
        })
        .unwrap_or_else(|| "Redmine".to_owned());
    Some(Comment {
        id: CommentId(journal.id.to_string()),
        author,
        body,
        visibility: if journal.private_notes {
            Visibility::Internal
        } else {
            Visibility::Public
        },
        origin,
        created_at: journal.created_on,
        attachments,
    })
}

/// An issue read with `include=journals,attachments` as a domain ticket.
pub fn to_ticket(ctx: &Context<'_>, issue: &model::Issue) -> Ticket {
    let status = class_of(
        ctx.statuses,
        issue.status.id,
        &issue.status.name,
        issue.status.is_closed,
    );
    let mut journals: Vec<&model::Journal> = issue.journals.iter().collect();
    journals.sort_by_key(|j| (j.created_on, j.id));
    Ticket {
        reference: ticket_ref(ctx.base, issue.id),
        subject: issue.subject.clone(),
        description: strip_requester_block(issue.description.as_deref().unwrap_or_default()),
        state: if issue.status.name.is_empty() {
            format!("status {}", issue.status.id)
        } else {
            issue.status.name.clone()
        },
        status,
        assignee: issue
            .assigned_to
            .as_ref()
            .map(|a| a.name.clone())
            .filter(|n| !n.is_empty()),
        resolution: resolution_of(ctx, issue, status),
        updated_at: issue.updated_on,
        comments: journals
            .into_iter()
            .filter_map(|j| to_comment(ctx, issue, j))
            .collect(),
        addressed_to: address_of(ctx, issue),
        due: due_of(issue),
        priority: issue
            .priority
            .as_ref()
            .map(|p| p.name.clone())
            .filter(|n| !n.is_empty()),
    }
}

/// The chat staff addressed an issue to in the `chat_field_id` custom field, and whether the
/// `announcement_field_id` field (a boolean: Redmine stores `"1"`) marks it as a notice.
pub fn address_of(ctx: &Context<'_>, issue: &model::Issue) -> Option<StaffAddress> {
    let chat = issue.custom_value(ctx.chat_field_id?)?;
    let announcement = ctx
        .announcement_field_id
        .and_then(|field| issue.custom_value(field))
        .is_some_and(|v| matches!(v.to_lowercase().as_str(), "1" | "true" | "yes" | "да"));
    Some(StaffAddress { chat, announcement })
}

/// The issue's due date as the time it is due to be resolved: the end of that day (UTC), as
/// Redmine keeps a date without a time.
pub fn due_of(issue: &model::Issue) -> DueTimes {
    let resolve_by = issue
        .due_date
        .as_deref()
        .and_then(|d| {
            time::Date::parse(
                d.get(..10)?,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .ok()
        })
        .and_then(|d| d.next_day())
        .map(|d| d.midnight().assume_utc());
    DueTimes {
        respond_by: None,
        resolve_by,
    }
}

/// The tickets a Redmine webhook (Redmine 7+) names: `issue.*` events carry `data.issue.id`;
/// other events (wiki pages, time entries, news, versions) name none.
pub fn webhook_ticket_ids(body: &[u8]) -> Result<Vec<TicketId>> {
    const OP: &str = "parse_webhook";
    let payload: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            OP,
            format!("the webhook body is not JSON: {e}"),
        )
    })?;
    let event = payload
        .get("type")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                OP,
                "the webhook body has no \"type\"",
            )
        })?;
    if !event.starts_with("issue.") {
        return Ok(Vec::new());
    }
    let id = payload
        .pointer("/data/issue/id")
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                OP,
                format!("{event} webhook without data.issue.id"),
            )
        })?;
    Ok(vec![TicketId(id.to_string())])
}

/// What a custom field of this format takes, for the formats Redmine checks a value against
/// (lib/redmine/field_format.rb); `None` for those that take any text.
pub fn format_wants(field_format: &str) -> Option<Wanted> {
    match field_format {
        "int" | "float" => Some(Wanted::Number),
        "date" => Some(Wanted::Date),
        "bool" => Some(Wanted::Boolean),
        _ => None,
    }
}

/// Whether Redmine takes `value` for a custom field of this format, as its `validate_single_value`
/// decides: an integer, a float, a date `YYYY-MM-DD`, a boolean `0`/`1`; an empty value always.
pub fn format_takes(field_format: &str, value: &str) -> bool {
    let value = value.trim();
    if value.is_empty() {
        return true;
    }
    match field_format {
        "int" => {
            let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
        "float" => value.parse::<f64>().is_ok(),
        "date" => {
            value.len() == 10
                && time::Date::parse(value, format_description!("[year]-[month]-[day]")).is_ok()
        }
        "bool" => matches!(value, "0" | "1"),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_STATUSES;
    use std::collections::BTreeMap;
    use teledesk_testkit::samples::{self, round_trip};
    use time::macros::datetime;

    const ISSUE: &str = include_str!("../../../fixtures/redmine/issue.json");
    const CREATED: &str = include_str!("../../../fixtures/redmine/issue_created.json");

    #[test]
    fn custom_values_are_checked_against_their_format_as_redmine_does() {
        let cases = [
            ("int", ["42", "-7", "+3"], ["4.2", "seven", "-"]),
            ("float", ["4.2", "-1", "3e2"], ["four", "1,5", "x1"]),
            (
                "date",
                ["2026-12-07", "2024-02-29", ""],
                ["2026-12-07T10:00:00Z", "07.12.2026", "2025-02-29"],
            ),
            ("bool", ["0", "1", " "], ["true", "да", "2"]),
        ];
        for (format, good, bad) in cases {
            assert!(format_wants(format).is_some(), "{format}");
            for value in good {
                assert!(format_takes(format, value), "{format} {value:?}");
            }
            for value in bad {
                assert!(!format_takes(format, value), "{format} {value:?}");
            }
        }
        assert_eq!(format_wants("string"), None);
        assert!(format_takes("string", "2026-12-07T10:00:00Z"));
    }
    const LIST: &str = include_str!("../../../fixtures/redmine/issues_list.json");
    const STATUSES: &str = include_str!("../../../fixtures/redmine/issue_statuses.json");
    const PRIORITIES: &str = include_str!("../../../fixtures/redmine/issue_priorities.json");
    const USER: &str = include_str!("../../../fixtures/redmine/current_user.json");
    const UPLOAD: &str = include_str!("../../../fixtures/redmine/upload_created.json");
    const RELATIONS: &str = include_str!("../../../fixtures/redmine/relations.json");
    const PROJECT: &str = include_str!("../../../fixtures/redmine/project.json");
    const ERROR_422: &str = include_str!("../../../fixtures/redmine/error_422.json");
    const WEBHOOK: &str = include_str!("../../../fixtures/redmine/webhook_issue_updated.json");

    /// A ticket from the client the Redmine fixtures know, with two lines of description,
    /// registered at half a second.
    fn draft() -> TicketDraft {
        TicketDraft {
            description: "Принтер в бухгалтерии не печатает.\nSecond line.".into(),
            requester: samples::acme_requester(),
            registered_at: datetime!(2026-11-21 13:50:00.5 UTC),
            ..samples::draft(42)
        }
    }

    /// Message 43 of the fixtures.
    fn comment_draft() -> CommentDraft {
        CommentDraft {
            author: samples::acme_requester(),
            ..samples::linked_comment(43, "Вот фото ошибки")
        }
    }

    fn known_statuses() -> Vec<model::IssueStatus> {
        serde_json::from_str::<model::IssueStatuses>(STATUSES)
            .expect("statuses")
            .issue_statuses
    }

    fn issue() -> model::Issue {
        serde_json::from_str::<model::IssueEnvelope>(ISSUE)
            .expect("issue")
            .issue
    }

    fn ticket_with(issue: &model::Issue, statuses: &StatusMap, field: Option<i64>) -> Ticket {
        let known = known_statuses();
        let ctx = Context {
            base: "https://redmine.example.com",
            statuses,
            known_statuses: &known,
            integration_user: 1,
            resolution_field_id: field,
            chat_field_id: None,
            announcement_field_id: None,
        };
        to_ticket(&ctx, issue)
    }

    fn ticket() -> Ticket {
        ticket_with(&issue(), &StatusMap::default(), None)
    }

    #[test]
    fn fixtures_round_trip() {
        let issue: model::IssueEnvelope = round_trip(ISSUE);
        assert_eq!(issue.issue.id, 5);
        assert_eq!(issue.issue.journals.len(), 8);
        assert_eq!(issue.issue.updated_on, datetime!(2026-11-21 13:48:22 UTC));
        let created: model::IssueEnvelope = round_trip(CREATED);
        assert!(created.issue.journals.is_empty());
        let list: model::IssuePage = round_trip(LIST);
        assert_eq!(list.issues.len(), 2);
        assert_eq!(list.total_count, Some(5));
        let statuses: model::IssueStatuses = round_trip(STATUSES);
        assert_eq!(statuses.issue_statuses.len(), 6);
        assert!(statuses.issue_statuses[4].is_closed);
        let priorities: model::Priorities = round_trip(PRIORITIES);
        assert_eq!(priorities.issue_priorities[1].name, "Normal");
        assert!(priorities.issue_priorities[1].is_default);
        let user: model::UserEnvelope = round_trip(USER);
        assert_eq!(user.user.display_name(), "Redmine Admin");
        assert!(user.user.admin);
        let upload: model::UploadEnvelope = round_trip(UPLOAD);
        assert!(upload.upload.token.starts_with("3."));
        let relations: model::Relations = round_trip(RELATIONS);
        assert!(relations.relations[0].joins(5, 1));
        let project: model::ProjectEnvelope = round_trip(PROJECT);
        assert_eq!(project.project.identifier, "ci-support");
        let errors: model::ErrorBody = round_trip(ERROR_422);
        assert_eq!(errors.errors, ["Subject cannot be blank"]);
    }

    #[test]
    fn every_default_status_of_the_fixture_has_its_class() {
        let map = StatusMap::default();
        let classes: Vec<StatusClass> = known_statuses()
            .iter()
            .map(|s| class_of(&map, s.id, &s.name, Some(s.is_closed)))
            .collect();
        assert_eq!(
            classes,
            [
                StatusClass::New,
                StatusClass::InProgress,
                StatusClass::Resolved,
                StatusClass::WaitingClient,
                StatusClass::Closed,
                StatusClass::Closed
            ]
        );
        assert_eq!(DEFAULT_STATUSES.len(), 12);
    }

    #[test]
    fn unknown_statuses_fall_back_to_is_closed() {
        let map = StatusMap {
            by_id: BTreeMap::new(),
            by_name: BTreeMap::new(),
        };
        assert_eq!(
            class_of(&map, 9, "Archived", Some(true)),
            StatusClass::Closed
        );
        assert_eq!(
            class_of(&map, 10, "Triage", Some(false)),
            StatusClass::InProgress
        );
        assert_eq!(class_of(&map, 10, "Triage", None), StatusClass::InProgress);
    }

    #[test]
    fn query_time_is_whole_seconds_utc() {
        assert_eq!(
            query_time(datetime!(2026-11-21 16:46:19.987 +3)),
            "2026-11-21T13:46:19Z"
        );
        assert_eq!(
            floor_second(datetime!(2026-11-21 13:46:19.987 UTC)),
            datetime!(2026-11-21 13:46:19 UTC)
        );
    }

    #[test]
    fn wire_times_parse_as_utc() {
        let issue = issue();
        assert!(issue.created_on.offset().is_utc());
        assert_eq!(issue.created_on, datetime!(2026-11-21 13:48:20 UTC));
        assert_eq!(
            issue.journals[0].created_on,
            datetime!(2026-11-21 13:48:21 UTC)
        );
    }

    #[test]
    fn description_carries_the_requester_and_strips_back() {
        let text = issue_description(&draft());
        assert_eq!(
            text,
            "Принтер в бухгалтерии не печатает.\nSecond line.\n\n---\n\
             Telegram: Анна Смирнова (@anna_smirnova), id 500001, Acme Kazan\n\
             Registered (UTC): 2026-11-21T13:50:00.5Z\n\
             Source: https://t.me/c/1234567890/42\n\
             tg-key: tg:-1001234567890:42"
        );
        assert!(text::has_footer_for(&text, "tg:-1001234567890:42"));
        // As Redmine returns it: with \r\n.
        let stored = text.replace('\n', "\r\n");
        assert_eq!(
            strip_requester_block(&stored),
            "Принтер в бухгалтерии не печатает.\nSecond line."
        );
    }

    #[test]
    fn follow_up_names_the_closed_issue() {
        let mut d = draft();
        d.follow_up_of = Some(ticket_ref("https://r.example", 17));
        let text = issue_description(&d);
        assert!(text.contains("\nFollow-up of: #17\n"), "{text}");
        assert_eq!(
            strip_requester_block(&text),
            "Принтер в бухгалтерии не печатает.\nSecond line."
        );
    }

    #[test]
    fn an_empty_description_is_only_the_block_and_strips_to_nothing() {
        let mut d = draft();
        d.description = "  ".into();
        d.source_url = None;
        let text = issue_description(&d);
        assert!(text.starts_with("---\nTelegram:"));
        assert_eq!(strip_requester_block(&text), "");
    }

    #[test]
    fn staff_text_after_the_block_survives() {
        let text = format!("{}\n\nУточнение от поддержки", issue_description(&draft()));
        assert_eq!(
            strip_requester_block(&text),
            "Принтер в бухгалтерии не печатает.\nSecond line.\n\nУточнение от поддержки"
        );
    }

    #[test]
    fn a_horizontal_rule_of_the_client_is_not_a_block() {
        assert_eq!(strip_requester_block("a\r\n\r\n---\r\nb"), "a\n\n---\nb");
    }

    #[test]
    fn subject_is_one_line_cut_to_redmines_column() {
        let mut d = draft();
        d.subject = "x".repeat(300);
        assert_eq!(subject_of(&d).chars().count(), 255);
        d.subject = "two\nlines".into();
        assert_eq!(subject_of(&d), "two lines");
    }

    #[test]
    fn comment_text_has_header_and_marker_and_strips_back() {
        let key = samples::key(43);
        let text = comment_text(&comment_draft());
        assert_eq!(
            text,
            "**Анна Смирнова (@anna_smirnova)** (Telegram, Acme Kazan):\n\nВот фото ошибки\n\n\
             Telegram: https://t.me/c/1234567890/43 · tg-key: tg:-1001234567890:43"
        );
        assert!(text::has_footer_for(&text, key.as_str()));
        assert!(!text::has_footer_for(&text, "tg:-1001234567890:4"));
        assert!(!text::has_footer_for(&text, "tg:-1001234567890:430"));
        assert_eq!(strip_teledesk_comment(&text), "Вот фото ошибки");
    }

    #[test]
    fn a_files_only_comment_strips_to_nothing() {
        let draft = CommentDraft {
            author: samples::acme_requester(),
            ..samples::comment(2, "")
        };
        let text = comment_text(&draft);
        assert!(
            text.ends_with("):\n\ntg-key: tg:-1001234567890:2"),
            "{text}"
        );
        assert_eq!(strip_teledesk_comment(&text), "");
    }

    #[test]
    fn notes_carry_the_marker() {
        let text = note_text(" Эскалация ", "tg:-5:6");
        assert_eq!(text, "Эскалация\n\ntg-key: tg:-5:6");
        assert!(text::has_footer_for(&text, "tg:-5:6"));
        assert_eq!(strip_teledesk_comment(&text), "Эскалация");
    }

    #[test]
    fn ticket_maps_issue_fields() {
        let t = ticket();
        assert_eq!(t.reference.id.0, "5");
        assert_eq!(t.reference.number, "5");
        assert_eq!(
            t.reference.url.as_deref(),
            Some("https://redmine.example.com/issues/5")
        );
        assert_eq!(t.subject, "Не печатает принтер");
        assert_eq!(
            t.description,
            "Принтер в бухгалтерии не печатает.\nSecond line."
        );
        assert_eq!(t.state, "Resolved");
        assert_eq!(t.status, StatusClass::Resolved);
        assert_eq!(t.assignee.as_deref(), Some("Пётр Probe"));
        assert_eq!(t.updated_at, datetime!(2026-11-21 13:48:22 UTC));
    }

    #[test]
    fn journals_become_comments_by_visibility_and_origin() {
        let t = ticket();
        let summary = samples::comment_ids_and_kinds(&t);
        // 12 (status/assignee), 14 (priority) and 18 (relation) change fields only.
        assert_eq!(
            summary,
            [
                ("10", Visibility::Public, Origin::Teledesk),
                ("11", Visibility::Internal, Origin::Staff),
                ("13", Visibility::Public, Origin::Staff),
                ("15", Visibility::Internal, Origin::Teledesk),
                ("16", Visibility::Public, Origin::Staff),
            ]
        );
        assert_eq!(t.comments[0].body, "Вот фото ошибки");
        assert_eq!(t.comments[0].attachments.len(), 1);
        assert_eq!(t.comments[0].attachments[0].file_name, "photo.jpg");
        assert_eq!(
            t.comments[0].attachments[0].content_type.as_deref(),
            Some("image/jpeg")
        );
        assert_eq!(t.comments[2].author, "Пётр Probe");
        assert_eq!(t.comments[2].attachments[0].file_name, "report.pdf");
        assert_eq!(t.comments[2].attachments[0].id, "4");
        assert_eq!(t.comments[2].attachments[0].size, Some(6));
        assert_eq!(t.comments[3].body, "Эскалация");
        assert!(t.comments.iter().all(|c| c.created_at.offset().is_utc()));
    }

    #[test]
    fn resolution_is_the_note_that_resolved_it() {
        assert_eq!(ticket().resolution.as_deref(), Some("Картридж заменён."));
    }

    #[test]
    fn resolution_falls_back_to_the_last_staff_note_before_closing() {
        let mut issue = issue();
        // Staff resolved without a note of their own: the reply before it is the resolution.
        let resolving = issue.journals.iter_mut().find(|j| j.id == 16).expect("16");
        resolving.notes = Some(String::new());
        let t = ticket_with(&issue, &StatusMap::default(), None);
        assert_eq!(
            t.resolution.as_deref(),
            Some("Здравствуйте! Заменили картридж, проверьте, пожалуйста.")
        );
    }

    #[test]
    fn a_reopened_issue_has_no_resolution() {
        let mut issue = issue();
        issue.status = model::StatusRef {
            id: 2,
            name: "In Progress".into(),
            is_closed: Some(false),
        };
        let t = ticket_with(&issue, &StatusMap::default(), None);
        assert_eq!(t.status, StatusClass::InProgress);
        assert_eq!(t.resolution, None);
    }

    #[test]
    fn resolution_comes_from_the_custom_field_when_configured() {
        let mut issue = issue();
        issue.custom_fields = vec![model::CustomValue {
            id: 9,
            name: "Resolution".into(),
            value: serde_json::json!("Заменили\r\nкартридж"),
        }];
        let t = ticket_with(&issue, &StatusMap::default(), Some(9));
        assert_eq!(t.resolution.as_deref(), Some("Заменили\nкартридж"));
        issue.custom_fields[0].value = serde_json::json!("");
        let t = ticket_with(&issue, &StatusMap::default(), Some(9));
        assert_eq!(t.resolution, None);
    }

    #[test]
    fn config_overrides_the_class_of_a_status() {
        let map = StatusMap {
            by_id: BTreeMap::from([(3, StatusClass::WaitingClient)]),
            by_name: BTreeMap::new(),
        };
        let t = ticket_with(&issue(), &map, None);
        assert_eq!(t.status, StatusClass::WaitingClient);
        assert_eq!(t.resolution, None);
    }

    #[test]
    fn webhook_names_the_issue() {
        assert_eq!(
            webhook_ticket_ids(WEBHOOK.as_bytes()).expect("parses"),
            vec![TicketId("5".into())]
        );
        let other = br#"{"type":"wiki_page.updated","timestamp":"2026-11-21T13:48:22Z","data":{}}"#;
        assert!(webhook_ticket_ids(other).expect("parses").is_empty());
        for bad in [
            &b"not json"[..],
            br#"{"data":{}}"#,
            br#"{"type":"issue.updated"}"#,
        ] {
            let e = webhook_ticket_ids(bad).expect_err("invalid");
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
        }
    }
}
