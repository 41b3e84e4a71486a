//! Wire ↔ domain: the texts teledesk writes into RT and how tickets and transactions read back.

use crate::config::RtConfig;
use crate::model;
use std::collections::HashMap;
use teledesk_adapter::text::{
    self, BlockShape, HtmlPiece, REGISTERED_LABEL, SOURCE_LABEL, TELEGRAM_LABEL,
};
use teledesk_adapter::{
    AttachmentRef, Comment, CommentDraft, CommentId, DueTimes, Origin, Requester, StaffAddress,
    StatusClass, Ticket, TicketDraft, TicketId, TicketRef, Visibility,
};
use time::macros::format_description;
use time::{Duration, OffsetDateTime, UtcOffset};

/// Starts the marker line that ties a message to its Telegram message (`tg-key: tg:-100123:45`).
///
/// RT's JSON search finds it in stored message parts (`Content LIKE`), so a retry after a crash
/// finds the earlier write; and together with the author it tells teledesk's own messages apart.
pub const MARKER: &str = text::MARKER;

/// RT's `Subject` column is 200 characters wide.
pub const MAX_SUBJECT_CHARS: usize = 200;

const BLOCK_SEPARATOR: &str = "---";
const BLOCK_COMPANY: &str = "Company: ";
const BLOCK_FOLLOW_UP: &str = "Follow-up of ";
const BLOCK: BlockShape<'static> = BlockShape {
    separator: BLOCK_SEPARATOR,
    first: TELEGRAM_LABEL,
    more: &[
        BLOCK_COMPANY,
        REGISTERED_LABEL,
        SOURCE_LABEL,
        BLOCK_FOLLOW_UP,
        MARKER,
    ],
};
const HEADER_SUFFIX: &str = "):";
/// Separates the marker from what follows it on the same line (the escalation's priority step).
const MARKER_EXTRA: &str = " · ";

/// Everything besides the payloads that mapping a ticket needs.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The helpdesk config: status map, resolution field, priorities, web address.
    pub config: &'a RtConfig,
    /// The integration user's login: messages it wrote with a marker are teledesk's own.
    pub integration_login: &'a str,
}

/// The web link of a ticket.
pub fn ticket_url(base: &str, id: i64) -> String {
    format!("{base}/Ticket/Display.html?id={id}")
}

/// The reference teledesk stores for a ticket; RT's ticket number is its id.
pub fn ticket_ref(base: &str, id: i64) -> TicketRef {
    TicketRef {
        id: TicketId(id.to_string()),
        number: id.to_string(),
        url: Some(ticket_url(base, id)),
    }
}

/// A date for a REST2 JSON search: the database's UTC `YYYY-MM-DD HH:MM:SS`, floored to the
/// second (RT stores whole seconds).
pub fn query_time(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    at.to_offset(UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| "1970-01-01 00:00:00".to_owned())
}

/// The time a change is reported with: the transaction's time (whole seconds in RT) plus its id
/// in nanoseconds.
///
/// RT times have second granularity, so two transactions of one ticket in the same second would
/// look like one change to the cursor's de-duplication; the id tells them apart and keeps them in
/// order, and flooring to the second gives the server time back.
pub fn change_stamp(created: OffsetDateTime, transaction_id: i64) -> OffsetDateTime {
    created + Duration::nanoseconds(transaction_id.rem_euclid(1_000_000_000))
}

/// One line: RT shows subjects on one line and stores at most [`MAX_SUBJECT_CHARS`].
pub fn subject_of(draft: &TicketDraft) -> String {
    let subject = draft
        .subject
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    text::ticket_title(&subject, &draft.description, MAX_SUBJECT_CHARS)
}

fn requester_line(requester: &Requester) -> String {
    format!("{}, id {}", requester.label(), requester.telegram_id)
}

/// The first message of a ticket: the client's text, then a block staff read the requester from,
/// ending with the marker line.
///
/// RT requestors are e-mail addresses and Telegram users have none, so the Telegram identity, the
/// exact registration time (the ticket's `Created` is when teledesk got through) and the source
/// link live here.
pub fn description(draft: &TicketDraft, base: &str) -> String {
    let requester = &draft.requester;
    let mut block = vec![format!("{TELEGRAM_LABEL}{}", requester_line(requester))];
    if let Some(company) = &requester.company {
        block.push(format!("{BLOCK_COMPANY}{company}"));
    }
    block.push(format!(
        "{REGISTERED_LABEL}{}",
        text::rfc3339_utc(draft.registered_at)
    ));
    if let Some(source) = &draft.source_url {
        block.push(format!("{SOURCE_LABEL}{source}"));
    }
    if let Some(original) = &draft.follow_up_of {
        let mut line = format!("{BLOCK_FOLLOW_UP}#{}", original.number);
        let url = original.url.clone().or_else(|| {
            original
                .id
                .0
                .parse()
                .ok()
                .map(|id: i64| ticket_url(base, id))
        });
        if let Some(url) = url {
            line.push_str(&format!(" ({url})"));
        }
        block.push(line);
    }
    block.push(format!("{MARKER}{}", draft.key.as_str()));
    text::with_block(draft.description.trim(), BLOCK_SEPARATOR, &block)
}

/// The description without the block [`description`] appended; text after the block is kept.
pub fn strip_requester_block(text: &str) -> String {
    text::strip_block(text, &BLOCK)
}

fn marker_line(key: &str, source: Option<&str>) -> String {
    match source {
        Some(source) => format!("{SOURCE_LABEL}{source}\n{MARKER}{key}"),
        None => format!("{MARKER}{key}"),
    }
}

/// A client's message as a correspondence: who wrote it, the text, and a footer with the source
/// link and the marker. Files travel as parts of the same message.
pub fn comment_text(draft: &CommentDraft) -> String {
    let author = &draft.author;
    let mut text = format!("{} (Telegram, id {}", author.label(), author.telegram_id);
    if let Some(company) = &author.company {
        text.push_str(", ");
        text.push_str(company);
    }
    text.push_str(HEADER_SUFFIX);
    text.push_str("\n\n");
    let body = draft.body.trim();
    if !body.is_empty() {
        text.push_str(body);
        text.push_str("\n\n");
    }
    text.push_str(&marker_line(
        draft.key.as_str(),
        draft.source_url.as_deref(),
    ));
    text
}

/// An internal note: the text and the marker line, which may carry `extra` after the key.
pub fn note_text(body: &str, key: &str, extra: Option<&str>) -> String {
    let mut text = body.trim().to_owned();
    if !text.is_empty() {
        text.push_str("\n\n");
    }
    text.push_str(MARKER);
    text.push_str(key);
    if let Some(extra) = extra {
        text.push_str(MARKER_EXTRA);
        text.push_str(extra);
    }
    text
}

/// The escalation's step in a note's marker line (`priority 0 → 50`), so a retried escalation can
/// finish what the first attempt started.
pub fn priority_step(from: i64, to: i64) -> String {
    format!("priority {from} → {to}")
}

/// The target of a [`priority_step`] in `text`'s marker line.
pub fn priority_step_target(text: &str) -> Option<i64> {
    let line = marker_of(text)?;
    let step = line.split(MARKER_EXTRA).nth(1)?;
    step.strip_prefix("priority ")?
        .split(" → ")
        .nth(1)?
        .trim()
        .parse()
        .ok()
}

/// The marker line when it is the message's last non-empty line: teledesk writes it there, and a
/// staff reply quoting a teledesk message carries it elsewhere (or behind `> `).
fn marker_of(text: &str) -> Option<&str> {
    text::footer_line(text).filter(|last| last.starts_with(MARKER))
}

/// Whether `text` ends with the marker of exactly `key` (not of a key it is a prefix of): the
/// shared footer rule, so a marker a client typed above teledesk's own never counts.
pub fn has_marker_for(text: &str, key: &str) -> bool {
    marker_of(text).is_some() && text::has_footer_for(text, key)
}

/// Whether `text` ends with a teledesk marker.
pub fn has_any_marker(text: &str) -> bool {
    marker_of(text).is_some()
}

/// The client's own words from a message teledesk wrote: no header, source line or marker.
pub fn strip_teledesk_text(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(last) = lines.iter().rposition(|l| !l.trim().is_empty())
        && lines[last].starts_with(MARKER)
    {
        lines.truncate(last);
        if lines.last().is_some_and(|l| l.starts_with(SOURCE_LABEL)) {
            lines.pop();
        }
    }
    if lines
        .first()
        .is_some_and(|first| first.contains(" (Telegram, id ") && first.ends_with(HEADER_SUFFIX))
    {
        lines.remove(0);
    }
    lines.join("\n").trim().to_owned()
}

/// HTML bodies (RT 5's rich-text editor) as plain text: tags dropped, paragraphs separated by a
/// blank line and line breaks kept (as RT's own HTML-to-text conversion does), common entities
/// decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    for piece in text::html_pieces(html) {
        let tag = match piece {
            HtmlPiece::Text(chunk) => {
                out.push_str(chunk);
                continue;
            }
            HtmlPiece::Tag(tag) => tag,
        };
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default();
        let closing = tag.starts_with('/');
        match name {
            "br" | "li" | "div" | "tr" => out.push('\n'),
            "p" | "blockquote" | "pre" | "ul" | "ol" | "table" | "h1" | "h2" | "h3" | "h4"
            | "h5" | "h6" => out.push_str(if closing { "\n\n" } else { "\n" }),
            _ => {}
        }
    }
    let decoded = text::decode_common_entities(&out);
    let mut text = String::new();
    let mut blank = 0;
    for line in decoded.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !text.is_empty() {
            text.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        text.push_str(line);
    }
    text
}

/// The parts of one transaction: its text body (plain preferred) and its files.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parts<'a> {
    /// The `text/plain` body, when the message has one.
    pub plain: Option<&'a str>,
    /// The `text/html` body, when the message has one.
    pub html: Option<&'a str>,
    /// Parts with a file name.
    pub files: Vec<&'a model::AttachmentItem>,
}

impl Parts<'_> {
    /// The body as plain text.
    pub fn text(&self) -> String {
        match (self.plain, self.html) {
            (Some(plain), _) => plain.trim().to_owned(),
            (None, Some(html)) => html_to_text(html),
            (None, None) => String::new(),
        }
    }
}

/// Groups a ticket's attachments by transaction. `parts` lists every part (no content);
/// `bodies` the text parts with their content.
pub fn parts_by_transaction<'a>(
    parts: &'a [model::AttachmentItem],
    bodies: &'a [model::AttachmentItem],
) -> HashMap<i64, Parts<'a>> {
    let mut by_txn: HashMap<i64, Parts<'a>> = HashMap::new();
    let content: HashMap<i64, &str> = bodies
        .iter()
        .filter_map(|b| b.content.as_deref().map(|c| (b.id, c)))
        .collect();
    let mut all: Vec<&model::AttachmentItem> = parts.iter().collect();
    // A body found only in `bodies` (a page boundary moved between the two requests) still counts.
    all.extend(
        bodies
            .iter()
            .filter(|b| !parts.iter().any(|p| p.id == b.id)),
    );
    all.sort_by_key(|p| p.id);
    for part in all {
        let Some(txn) = part.transaction_id else {
            continue;
        };
        let entry = by_txn.entry(txn).or_default();
        if !part.filename.is_empty() {
            entry.files.push(part);
            continue;
        }
        let kind = part.content_type.to_ascii_lowercase();
        let body = content.get(&part.id).copied();
        if kind == "text/plain" && entry.plain.is_none() {
            entry.plain = body;
        } else if kind == "text/html" && entry.html.is_none() {
            entry.html = body;
        }
    }
    by_txn
}

fn attachment_ref(api: &str, part: &model::AttachmentItem) -> AttachmentRef {
    AttachmentRef {
        id: part.id.to_string(),
        file_name: part.filename.clone(),
        content_type: (!part.content_type.is_empty()).then(|| part.content_type.clone()),
        size: part.content_length.and_then(|n| u64::try_from(n).ok()),
        url: Some(format!("{api}/attachment/{}", part.id)),
    }
}

fn author_of(user: &model::UserRef) -> String {
    user.real_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .or(user.name.as_deref())
        .unwrap_or(&user.id)
        .to_owned()
}

fn login_of(user: &model::UserRef) -> &str {
    user.name.as_deref().unwrap_or(&user.id)
}

/// Whether a transaction is teledesk's own: written by the integration user *and* ending with
/// the marker in its plain-text body.
///
/// Either alone is not enough: RT's reply form quotes the message replied to, marker included, so
/// a staff reply can carry it; and where the integration token belongs to a person's account
/// (a small RT, or the CI server), their own replies come from the same user.
pub fn is_own(ctx: &Context<'_>, txn: &model::Transaction, parts: Option<&Parts<'_>>) -> bool {
    login_of(&txn.creator).eq_ignore_ascii_case(ctx.integration_login)
        && parts.and_then(|p| p.plain).is_some_and(has_any_marker)
}

/// One correspondence or comment read back.
pub fn to_comment(
    ctx: &Context<'_>,
    ticket: &model::Ticket,
    txn: &model::Transaction,
    parts: Option<&Parts<'_>>,
) -> Comment {
    let own = is_own(ctx, txn, parts);
    let login = login_of(&txn.creator);
    let origin = if own {
        Origin::Teledesk
    } else if ticket
        .requestor
        .iter()
        .any(|r| r.id.eq_ignore_ascii_case(login))
    {
        Origin::Requester
    } else {
        Origin::Staff
    };
    let text = parts.map(Parts::text).unwrap_or_default();
    let api = ctx.config.api_base();
    Comment {
        id: CommentId(txn.id.to_string()),
        author: author_of(&txn.creator),
        body: if own {
            strip_teledesk_text(&text)
        } else {
            text
        },
        visibility: if txn.kind == model::TXN_CORRESPOND {
            Visibility::Public
        } else {
            Visibility::Internal
        },
        origin,
        created_at: txn.created,
        attachments: parts
            .map(|p| p.files.iter().map(|f| attachment_ref(&api, f)).collect())
            .unwrap_or_default(),
    }
}

/// The resolution: the `resolution_field` custom field when configured, else the last public
/// reply of a person (not teledesk) before the ticket entered its current done status.
pub fn resolution_of(
    ctx: &Context<'_>,
    ticket: &model::Ticket,
    status: StatusClass,
    history: &[model::Transaction],
    parts: &HashMap<i64, Parts<'_>>,
) -> Option<String> {
    if let Some(field) = &ctx.config.resolution_field {
        let values = field_values(ticket, field);
        return (!values.is_empty()).then(|| values.join("\n"));
    }
    if !status.is_done() {
        return None;
    }
    let entered = history
        .iter()
        .filter(|t| t.kind == model::TXN_STATUS && t.new_value.eq_ignore_ascii_case(&ticket.status))
        .map(|t| t.id)
        .max()
        .unwrap_or(i64::MAX);
    history
        .iter()
        .filter(|t| t.kind == model::TXN_CORRESPOND && t.id < entered)
        .filter(|t| !is_own(ctx, t, parts.get(&t.id)))
        .max_by_key(|t| t.id)
        .map(|t| parts.get(&t.id).map(Parts::text).unwrap_or_default())
        .filter(|text| !text.is_empty())
}

/// A ticket, its history and its message parts as a domain ticket.
pub fn to_ticket(
    ctx: &Context<'_>,
    ticket: &model::Ticket,
    owner: Option<&model::User>,
    history: &[model::Transaction],
    parts: &[model::AttachmentItem],
    bodies: &[model::AttachmentItem],
) -> Ticket {
    let by_txn = parts_by_transaction(parts, bodies);
    let status = ctx.config.class_of(&ticket.status);
    let description = history
        .iter()
        .filter(|t| t.kind == model::TXN_CREATE)
        .min_by_key(|t| t.id)
        .and_then(|t| by_txn.get(&t.id))
        .map(|p| strip_requester_block(&p.text()))
        .unwrap_or_default();
    let mut comments: Vec<&model::Transaction> = history
        .iter()
        .filter(|t| t.kind == model::TXN_CORRESPOND || t.kind == model::TXN_COMMENT)
        .collect();
    comments.sort_by_key(|t| (t.created, t.id));
    let assignee = (!ticket.owner.id.eq_ignore_ascii_case(model::NOBODY)).then(|| {
        owner
            .and_then(|u| u.real_name.clone())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| ticket.owner.id.clone())
    });
    Ticket {
        reference: ticket_ref(&ctx.config.url, ticket.id),
        subject: ticket.subject.clone(),
        description,
        state: ticket.status.clone(),
        status,
        assignee,
        resolution: resolution_of(ctx, ticket, status, history, &by_txn),
        updated_at: ticket.last_updated,
        comments: comments
            .into_iter()
            .map(|t| to_comment(ctx, ticket, t, by_txn.get(&t.id)))
            .collect(),
        addressed_to: address_of(ctx, ticket),
        due: due_of(ticket),
        priority: ticket
            .priority
            .map(|value| ctx.config.priority_label(value)),
    }
}

/// The non-empty values of the custom field `name` (RT matches names without case).
fn field_values(ticket: &model::Ticket, name: &str) -> Vec<String> {
    ticket
        .custom_fields
        .iter()
        .filter(|cf| cf.name.eq_ignore_ascii_case(name))
        .flat_map(|cf| cf.values.iter())
        .map(|v| match v {
            serde_json::Value::String(s) => s.trim().to_owned(),
            other => other.to_string(),
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// The chat staff addressed a ticket to in the `chat_field` custom field (its first value), and
/// whether the `announcement_field` marks it as a notice.
pub fn address_of(ctx: &Context<'_>, ticket: &model::Ticket) -> Option<StaffAddress> {
    let chat = chat_named(ctx.config, ticket)?;
    let announcement = ctx
        .config
        .announcement_field
        .as_deref()
        .is_some_and(|field| {
            field_values(ticket, field)
                .iter()
                .any(|v| matches!(v.to_lowercase().as_str(), "1" | "true" | "yes" | "да"))
        });
    Some(StaffAddress { chat, announcement })
}

/// The chat the ticket's `chat_field` names (its first value), if any.
pub fn chat_named(config: &RtConfig, ticket: &model::Ticket) -> Option<String> {
    field_values(ticket, config.chat_field.as_deref()?)
        .into_iter()
        .next()
}

/// `Due` as the time the ticket is due to be resolved; RT's epoch means none is set.
pub fn due_of(ticket: &model::Ticket) -> DueTimes {
    let resolve_by = ticket
        .due
        .as_deref()
        .and_then(|d| OffsetDateTime::parse(d, &time::format_description::well_known::Rfc3339).ok())
        .filter(|d| d.unix_timestamp() > 0);
    DueTimes {
        respond_by: None,
        resolve_by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use teledesk_adapter::ConfigTable;
    use teledesk_testkit::samples::{self, round_trip};
    use time::macros::datetime;

    const TICKET: &str = include_str!("../../../fixtures/rt/ticket.json");
    const HISTORY: &str = include_str!("../../../fixtures/rt/ticket_history.json");
    const PARTS: &str = include_str!("../../../fixtures/rt/ticket_attachments.json");
    const BODIES: &str = include_str!("../../../fixtures/rt/ticket_bodies.json");
    const OWNER: &str = include_str!("../../../fixtures/rt/user.json");
    const ATTACHMENT: &str = include_str!("../../../fixtures/rt/attachment.json");
    const QUEUE: &str = include_str!("../../../fixtures/rt/queue.json");
    const FOUND: &str = include_str!("../../../fixtures/rt/transactions_search.json");
    const EMPTY: &str = include_str!("../../../fixtures/rt/collection_empty.json");
    const CREATED: &str = include_str!("../../../fixtures/rt/ticket_created.json");
    const MESSAGE: &str = include_str!("../../../fixtures/rt/message_created.json");

    fn config(extra: serde_json::Value) -> RtConfig {
        let mut table: ConfigTable = json!({
            "url": "http://127.0.0.1:8091",
            "token": "1-14-e64463c7d8021d4e80672911497f575c",
            "queue": "General",
        })
        .as_object()
        .cloned()
        .expect("table");
        table.extend(extra.as_object().cloned().unwrap_or_default());
        RtConfig::from_table(&table).expect("valid")
    }

    /// A ticket from the client the RT fixtures know, with a subject on two lines, registered at
    /// half a second.
    fn draft() -> TicketDraft {
        TicketDraft {
            subject: "Не печатает\nпринтер ".into(),
            requester: samples::acme_requester(),
            registered_at: datetime!(2026-11-21 13:58:00.5 UTC),
            ..samples::draft(42)
        }
    }

    /// Message 43 of the fixtures.
    fn comment_draft() -> CommentDraft {
        CommentDraft {
            author: samples::acme_requester(),
            ..samples::linked_comment(43, "Вот логи")
        }
    }

    #[test]
    fn fixtures_round_trip() {
        let ticket: model::Ticket = round_trip(TICKET);
        assert_eq!(ticket.queue.id, "3");
        let history: model::Collection<model::Transaction> = round_trip(HISTORY);
        assert!(history.items.len() > 5);
        let parts: model::Collection<model::AttachmentItem> = round_trip(PARTS);
        assert!(parts.items.iter().any(|p| !p.filename.is_empty()));
        let bodies: model::Collection<model::AttachmentItem> = round_trip(BODIES);
        assert!(bodies.items.iter().all(|p| p.content.is_some()));
        let owner: model::User = round_trip(OWNER);
        assert_eq!(owner.name, "root");
        let attachment: model::AttachmentRecord = round_trip(ATTACHMENT);
        assert!(!attachment.content.is_empty());
        let queue: model::Queue = round_trip(QUEUE);
        assert_eq!(queue.name, "CI Support");
        let found: model::Collection<model::FoundTransaction> = round_trip(FOUND);
        assert!(!found.items.is_empty());
        let empty: model::Collection<model::Transaction> = round_trip(EMPTY);
        assert_eq!((empty.total, empty.pages), (0, 0.0));
        let created: model::Created = round_trip(CREATED);
        assert!(!created.id.is_empty());
        let messages: Vec<String> = serde_json::from_str(MESSAGE).expect("messages");
        assert_eq!(messages, ["Comments added"]);
    }

    #[test]
    fn query_time_is_utc_whole_seconds() {
        assert_eq!(
            query_time(datetime!(2026-11-21 16:43:35.999 +3)),
            "2026-11-21 13:43:35"
        );
    }

    #[test]
    fn change_stamps_order_same_second_transactions() {
        let at = datetime!(2026-11-21 13:43:35 UTC);
        let a = change_stamp(at, 40);
        let b = change_stamp(at, 41);
        assert!(a < b);
        assert_eq!(query_time(b), "2026-11-21 13:43:35");
    }

    #[test]
    fn subject_is_one_line_and_fits_rt() {
        assert_eq!(subject_of(&draft()), "Не печатает принтер");
        let mut d = draft();
        // Whitespace folds before the cut, which then still keeps the whole width.
        d.subject = "x  ".repeat(150);
        assert_eq!(subject_of(&d).chars().count(), MAX_SUBJECT_CHARS);
        d.subject = " ".into();
        assert_eq!(subject_of(&d), "Принтер в бухгалтерии не печатает.");
    }

    #[test]
    fn description_carries_the_requester_and_strips_back() {
        let mut d = draft();
        d.follow_up_of = Some(ticket_ref("http://rt", 12));
        let text = description(&d, "http://rt");
        assert!(text.starts_with("Принтер в бухгалтерии не печатает.\n\n---\n"));
        assert!(text.contains("Telegram: Анна Смирнова (@anna_smirnova), id 500001\n"));
        assert!(text.contains("Company: Acme Kazan\n"));
        assert!(text.contains("Registered (UTC): 2026-11-21T13:58:00.5Z\n"));
        assert!(text.contains("Source: https://t.me/c/1234567890/42\n"));
        assert!(text.contains("Follow-up of #12 (http://rt/Ticket/Display.html?id=12)\n"));
        assert!(has_marker_for(&text, "tg:-1001234567890:42"));
        assert!(!has_marker_for(&text, "tg:-1001234567890:4"));
        assert_eq!(
            strip_requester_block(&text),
            "Принтер в бухгалтерии не печатает."
        );
    }

    #[test]
    fn an_empty_description_strips_to_nothing() {
        let mut d = draft();
        d.description = String::new();
        d.source_url = None;
        d.requester.company = None;
        let text = description(&d, "http://rt");
        assert!(text.starts_with("---\nTelegram:"));
        assert_eq!(strip_requester_block(&text), "");
    }

    #[test]
    fn comment_text_has_header_and_marker_and_strips_back() {
        let text = comment_text(&comment_draft());
        assert!(text.starts_with(
            "Анна Смирнова (@anna_smirnova) (Telegram, id 500001, Acme Kazan):\n\nВот логи\n\n"
        ));
        assert!(
            text.ends_with("Source: https://t.me/c/1234567890/43\ntg-key: tg:-1001234567890:43")
        );
        assert!(has_marker_for(&text, "tg:-1001234567890:43"));
        assert!(!has_marker_for(&text, "tg:-1001234567890:430"));
        assert!(!has_marker_for(&text, "tg:-1001234567890:4"));
        assert_eq!(strip_teledesk_text(&text), "Вот логи");
    }

    #[test]
    fn a_quoted_marker_is_not_teledesks() {
        let quoted = format!(
            "Спасибо, посмотрим.\n\n> {}",
            comment_text(&comment_draft()).replace('\n', "\n> ")
        );
        assert!(!has_any_marker(&quoted));
        let top_posted = "Ответ сверху\n\nВот логи\ntg-key: tg:-100:5\n\nПодпись";
        assert!(!has_any_marker(top_posted));
    }

    #[test]
    fn notes_carry_an_escalation_step() {
        let text = note_text("Эскалация", "tg:-100:7", Some(&priority_step(0, 50)));
        assert_eq!(text, "Эскалация\n\ntg-key: tg:-100:7 · priority 0 → 50");
        assert!(has_marker_for(&text, "tg:-100:7"));
        assert_eq!(priority_step_target(&text), Some(50));
        assert_eq!(strip_teledesk_text(&text), "Эскалация");
        let plain = note_text("Оценка", "tg:-100:8", None);
        assert_eq!(priority_step_target(&plain), None);
    }

    #[test]
    fn html_bodies_become_plain_text() {
        assert_eq!(
            html_to_text("<p>Hello <b>there</b></p><p>line &amp; 2</p>\n"),
            "Hello there\n\nline & 2"
        );
        assert_eq!(html_to_text("a<br/>b<br>c"), "a\nb\nc");
    }

    fn ticket() -> (model::Ticket, Ticket) {
        let config = config(json!({}));
        let ctx = Context {
            config: &config,
            integration_login: "root",
        };
        let ticket: model::Ticket = serde_json::from_str(TICKET).expect("ticket");
        let owner: model::User = serde_json::from_str(OWNER).expect("owner");
        let history: model::Collection<model::Transaction> =
            serde_json::from_str(HISTORY).expect("history");
        let parts: model::Collection<model::AttachmentItem> =
            serde_json::from_str(PARTS).expect("parts");
        let bodies: model::Collection<model::AttachmentItem> =
            serde_json::from_str(BODIES).expect("bodies");
        let mapped = to_ticket(
            &ctx,
            &ticket,
            Some(&owner),
            &history.items,
            &parts.items,
            &bodies.items,
        );
        (ticket, mapped)
    }

    #[test]
    fn ticket_maps_fields() {
        let (wire, t) = ticket();
        assert_eq!(t.reference.id.0, wire.id.to_string());
        assert_eq!(
            t.reference.url,
            Some(format!(
                "http://127.0.0.1:8091/Ticket/Display.html?id={}",
                wire.id
            ))
        );
        assert_eq!(t.subject, wire.subject);
        assert_eq!(
            t.description,
            "Принтер в бухгалтерии не печатает.\nSecond line."
        );
        assert_eq!(t.state, "resolved");
        assert_eq!(t.status, StatusClass::Resolved);
        assert_eq!(t.assignee.as_deref(), Some("Enoch Root"));
        assert_eq!(t.resolution.as_deref(), Some("Заменили картридж"));
        assert_eq!(t.updated_at, wire.last_updated);
        assert!(t.updated_at.offset().is_utc());
    }

    #[test]
    fn comments_are_classified_by_visibility_and_origin() {
        let (_, t) = ticket();
        let summary: Vec<(Visibility, Origin, &str)> = t
            .comments
            .iter()
            .map(|c| (c.visibility, c.origin, c.body.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (Visibility::Public, Origin::Teledesk, "Вот логи и скриншот"),
                (
                    Visibility::Public,
                    Origin::Staff,
                    "Перезагрузите принтер, пожалуйста"
                ),
                (
                    Visibility::Internal,
                    Origin::Staff,
                    "секрет: клиент должен денег"
                ),
                (
                    Visibility::Internal,
                    Origin::Teledesk,
                    "Ответ сотрудника не доставлен в Telegram"
                ),
                (Visibility::Public, Origin::Staff, "Патч во вложении"),
                (Visibility::Public, Origin::Staff, "Заменили картридж"),
            ]
        );
        let own = &t.comments[0];
        let mut names: Vec<&str> = own
            .attachments
            .iter()
            .map(|a| a.file_name.as_str())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["dump.bin", "screen.png"]);
        assert!(own.attachments.iter().all(|a| a.size.is_some()));
        assert_eq!(t.comments[1].author, "Enoch Root");
        assert_eq!(t.comments[4].attachments.len(), 1);
        assert!(t.comments.iter().all(|c| c.created_at.offset().is_utc()));
    }

    #[test]
    fn a_requestors_reply_is_the_requesters() {
        let config = config(json!({}));
        let ctx = Context {
            config: &config,
            integration_login: "teledesk",
        };
        let mut ticket: model::Ticket = serde_json::from_str(TICKET).expect("ticket");
        ticket.requestor = vec![model::ObjectRef {
            id: "alice".into(),
            kind: "user".into(),
        }];
        let txn = model::Transaction {
            id: 87,
            kind: "Correspond".into(),
            created: datetime!(2026-11-21 13:46:00 UTC),
            creator: model::UserRef {
                id: "alice".into(),
                name: Some("alice".into()),
                real_name: Some("Alice Customer".into()),
                email: Some("alice@example.test".into()),
            },
            field: String::new(),
            old_value: String::new(),
            new_value: String::new(),
        };
        let comment = to_comment(&ctx, &ticket, &txn, None);
        assert_eq!(comment.origin, Origin::Requester);
        assert_eq!(comment.author, "Alice Customer");
    }

    #[test]
    fn resolution_field_wins_when_configured() {
        let config = config(json!({"resolution_field": "Resolution"}));
        let ctx = Context {
            config: &config,
            integration_login: "root",
        };
        let mut ticket: model::Ticket = serde_json::from_str(TICKET).expect("ticket");
        ticket.custom_fields = vec![model::CustomFieldValues {
            id: "2".into(),
            name: "Resolution".into(),
            values: vec![json!("Поменяли фьюзер")],
        }];
        let resolution = resolution_of(&ctx, &ticket, StatusClass::Resolved, &[], &HashMap::new());
        assert_eq!(resolution.as_deref(), Some("Поменяли фьюзер"));
        ticket.custom_fields[0].values.clear();
        assert_eq!(
            resolution_of(&ctx, &ticket, StatusClass::Resolved, &[], &HashMap::new()),
            None
        );
    }
}
