//! Wire ↔ domain: the HTML teledesk writes into GLPI, how tickets and followups read back, and
//! GLPI's zone-less times.

use crate::model;
use std::collections::{BTreeMap, BTreeSet};
use teledesk_adapter::text::{
    self, FILE_LINE, FOLLOW_UP_LABEL, HtmlPiece, REGISTERED_LABEL, SOURCE_LABEL, TELEGRAM_LABEL,
};
use teledesk_adapter::{
    AttachmentRef, Comment, CommentDraft, CommentId, NoteDraft, Origin, StaffAddress, StatusClass,
    Ticket, TicketDraft, TicketId, TicketRef, Visibility,
};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Starts the marker that ties a ticket, followup or note to its Telegram message
/// (`tg-key: tg:-100123:45`).
///
/// GLPI tickets and followups have no external id, so a retry after a crash finds the earlier
/// write by this text (tickets: `GET /search/Ticket` on the description), and the reader
/// recognises teledesk's own followups even if the author check fails.
pub const MARKER: &str = text::MARKER;

pub use text::has_footer_for;

/// The longest entity name GLPI's texts are decoded with, in bytes.
const LONGEST_ENTITY: usize = 10;

/// Everything besides the payloads that mapping a ticket needs.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The web interface (`https://glpi.example.com`), for links.
    pub web_url: Option<&'a str>,
    /// Status code → class.
    pub statuses: &'a BTreeMap<i64, StatusClass>,
    /// The integration user's id: its followups are teledesk's own.
    pub integration_user: i64,
    /// The offset GLPI's times are written in.
    pub timezone: UtcOffset,
    /// The request sources that address a ticket to its entity's chat, plainly and as an
    /// announcement.
    pub address_sources: (Option<i64>, Option<i64>),
}

/// Whether the ticket's request source is one of those that address a ticket to a chat: what
/// [`address_of`] needs first, told by the ticket record alone.
pub fn has_address_source(sources: (Option<i64>, Option<i64>), ticket: &model::Ticket) -> bool {
    ticket
        .requesttypes_id
        .is_some_and(|source| [sources.0, sources.1].contains(&Some(source)))
}

/// The chat staff addressed a ticket to: when they picked one of the configured request sources,
/// the chat named like the ticket's entity (its own name, the last part of `Root entity > Acme`).
///
/// A ticket the integration user wrote is teledesk's own, whatever its source: a chat's
/// `requesttypes_id` may well be the same one.
pub fn address_of(ctx: &Context<'_>, ticket: &model::Ticket) -> Option<StaffAddress> {
    let source = ticket.requesttypes_id?;
    let announcement = match ctx.address_sources {
        (Some(plain), _) if plain == source => false,
        (Some(_), Some(notice)) if notice == source => true,
        _ => return None,
    };
    if ticket.users_id_recipient == Some(ctx.integration_user) {
        return None;
    }
    let entity = ticket.keys_names.as_ref()?.entities_id.as_deref()?;
    let chat = entity.rsplit(" > ").next().unwrap_or(entity).trim();
    (!chat.is_empty()).then(|| StaffAddress {
        chat: chat.to_owned(),
        announcement,
    })
}

/// GLPI's time format, `2026-11-21 15:05:13`, in the server's (or user's) local time.
pub fn parse_time(text: &str, timezone: UtcOffset) -> Option<OffsetDateTime> {
    let seconds = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let minutes = format_description!("[year]-[month]-[day] [hour]:[minute]");
    let text = text.trim();
    let local = PrimitiveDateTime::parse(text, &seconds)
        .or_else(|_| PrimitiveDateTime::parse(text, &minutes))
        .ok()?;
    Some(local.assume_offset(timezone).to_offset(UtcOffset::UTC))
}

/// A time as GLPI's search engine wants it: local to `timezone`, whole seconds (rounded down).
pub fn format_time(at: OffsetDateTime, timezone: UtcOffset) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let local = at.to_offset(timezone);
    let local = local.replace_nanosecond(0).unwrap_or(local);
    local
        .format(&format)
        .unwrap_or_else(|_| local.unix_timestamp().to_string())
}

fn required_time(
    what: &str,
    text: Option<&str>,
    timezone: UtcOffset,
) -> Result<OffsetDateTime, String> {
    let text = text.ok_or_else(|| format!("{what} has no time"))?;
    parse_time(text, timezone).ok_or_else(|| format!("{what} has an unreadable time {text:?}"))
}

/// The web link of a ticket.
pub fn ticket_url(web_url: Option<&str>, id: i64) -> Option<String> {
    web_url.map(|web| format!("{web}/front/ticket.form.php?id={id}"))
}

/// The reference teledesk stores for a ticket.
pub fn ticket_ref(web_url: Option<&str>, id: i64) -> TicketRef {
    TicketRef {
        id: TicketId(id.to_string()),
        number: id.to_string(),
        url: ticket_url(web_url, id),
    }
}

/// GLPI's names of its status codes, as staff see them in English.
pub fn state_name(code: i64) -> String {
    match code {
        1 => "New".into(),
        2 => "Processing (assigned)".into(),
        3 => "Processing (planned)".into(),
        4 => "Pending".into(),
        5 => "Solved".into(),
        6 => "Closed".into(),
        other => format!("Status {other}"),
    }
}

/// The class of a status code; GLPI core has no other codes, but a plugin's would be work.
pub fn status_of(code: i64, statuses: &BTreeMap<i64, StatusClass>) -> StatusClass {
    statuses
        .get(&code)
        .copied()
        .unwrap_or(StatusClass::InProgress)
}

/// GLPI's names of its priorities.
pub fn priority_name(priority: i64) -> String {
    match priority {
        1 => "Very low".into(),
        2 => "Low".into(),
        3 => "Medium".into(),
        4 => "High".into(),
        5 => "Very high".into(),
        6 => "Major".into(),
        other => format!("Priority {other}"),
    }
}

/// Escapes text for GLPI's rich-text fields.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Plain text as an HTML paragraph body: escaped, line breaks kept.
fn html_lines(text: &str) -> String {
    text.lines()
        .map(escape_html)
        .collect::<Vec<_>>()
        .join("<br>")
}

/// The ticket title: the subject, else the description's first line; GLPI's `name` is 255 chars.
pub fn title_of(draft: &TicketDraft) -> String {
    text::ticket_title(&draft.subject, &draft.description, 250)
}

/// The ticket description: the client's text, then a block staff read the requester from.
///
/// The block carries what GLPI has no field for (the requester has no GLPI account): the
/// Telegram identity and company, the exact registration time (the ticket's `date` is when
/// teledesk got through), the source link, the ticket this one follows up, and the marker.
pub fn ticket_content(draft: &TicketDraft) -> String {
    let mut html = String::new();
    let description = draft.description.trim();
    if !description.is_empty() {
        html.push_str(&format!("<p>{}</p>", html_lines(description)));
    }
    let mut block = vec![
        format!(
            "<strong>{}</strong>{}",
            TELEGRAM_LABEL.trim_end(),
            escape_html(&format!(" {}", text::requester_line(&draft.requester)))
        ),
        format!(
            "<strong>{}</strong> {}",
            REGISTERED_LABEL.trim_end(),
            text::rfc3339_utc(draft.registered_at)
        ),
    ];
    if let Some(source) = &draft.source_url {
        let source = escape_html(source);
        block.push(format!(
            "<strong>{}</strong> <a href=\"{source}\">{source}</a>",
            SOURCE_LABEL.trim_end()
        ));
    }
    if let Some(original) = &draft.follow_up_of {
        block.push(format!(
            "<strong>{}</strong> #{}",
            FOLLOW_UP_LABEL.trim_end(),
            escape_html(&original.number)
        ));
    }
    block.push(format!(
        "<small>{MARKER}{}</small>",
        escape_html(draft.key.as_str())
    ));
    html.push_str(&format!("<p>{}</p>", block.join("<br>")));
    html
}

/// The description without the block [`ticket_content`] appended; text staff added after the
/// block is kept.
pub fn strip_requester_block(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = (0..lines.len()).rev().find(|&i| {
        lines[i].starts_with(TELEGRAM_LABEL) && (i == 0 || lines[i - 1].trim().is_empty())
    });
    let Some(start) = start else {
        return text.trim().to_owned();
    };
    let mut end = start + 1;
    while end < lines.len()
        && [REGISTERED_LABEL, SOURCE_LABEL, FOLLOW_UP_LABEL, MARKER]
            .iter()
            .any(|label| lines[end].starts_with(label))
    {
        end += 1;
    }
    // Only a block teledesk wrote ends with its marker; a client line starting "Telegram: " stays.
    if !lines[end - 1].starts_with(MARKER) {
        return text.trim().to_owned();
    }
    text::join_paragraphs(&lines[..start].join("\n"), &lines[end..].join("\n"))
}

/// The followup text for a client message: who wrote it, the text, the names of its files, and
/// a small footer with the source link and the idempotency marker.
pub fn comment_content(draft: &CommentDraft) -> String {
    let author = &draft.author;
    let mut header = format!(
        "<strong>{}</strong> (Telegram",
        escape_html(&author.label())
    );
    if let Some(company) = &author.company {
        header.push_str(", ");
        header.push_str(&escape_html(company));
    }
    header.push_str("):");
    let mut html = format!("<p>{header}</p>");
    let body = draft.body.trim();
    if !body.is_empty() {
        html.push_str(&format!("<p>{}</p>", html_lines(body)));
    }
    if !draft.attachments.is_empty() {
        let files: Vec<String> = draft
            .attachments
            .iter()
            .map(|a| format!("{FILE_LINE}{}", escape_html(&a.file_name)))
            .collect();
        html.push_str(&format!("<p>{}</p>", files.join("<br>")));
    }
    let marker = format!("{MARKER}{}", escape_html(draft.key.as_str()));
    match &draft.source_url {
        Some(source) => html.push_str(&format!(
            "<p><small><a href=\"{}\">Telegram</a> · {marker}</small></p>",
            escape_html(source)
        )),
        None => html.push_str(&format!("<p><small>{marker}</small></p>")),
    }
    html
}

/// The private followup text of an internal note, with its marker.
pub fn note_content(note: &NoteDraft) -> String {
    format!(
        "<p>{}</p><p><small>{MARKER}{}</small></p>",
        html_lines(note.body.trim()),
        escape_html(note.key.as_str())
    )
}

/// An escalation's note: it records the priority step before the raise is made, so a retry
/// after a failure in between finishes the raise instead of raising twice.
pub fn escalation_note_content(note: &NoteDraft, from: i64, to: i64) -> String {
    format!(
        "<p>{}</p><p><small>{PRIORITY_STEP}{from} → {to} · {MARKER}{}</small></p>",
        html_lines(note.body.trim()),
        escape_html(note.key.as_str())
    )
}

/// The priority an escalation note recorded as its target ([`escalation_note_content`]).
pub fn recorded_priority_target(text: &str) -> Option<i64> {
    let line = text
        .lines()
        .find(|l| l.contains(PRIORITY_STEP) && l.contains(MARKER))?;
    let step = line.split(PRIORITY_STEP).nth(1)?;
    step.split(" → ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

const PRIORITY_STEP: &str = "priority ";

/// The client's own words from a followup or note teledesk wrote: no header, file lines or
/// footer.
pub fn strip_teledesk_comment(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    if lines
        .first()
        .is_some_and(|first| first.contains(" (Telegram") && first.ends_with("):"))
    {
        lines.remove(0);
    }
    text::drop_marker_footer(&mut lines);
    lines.retain(|l| !l.starts_with(FILE_LINE));
    tidy(&lines.join("\n"), false)
}

/// GLPI 10 stores rich text HTML-escaped and answers it escaped unless the request says
/// `X-GLPI-Sanitized-Content: false`; a proxy dropping that header must not turn markup into text.
fn unsanitize(content: &str) -> String {
    if content.contains("&lt;") && !content.contains('<') {
        text::decode_entities(content, LONGEST_ENTITY)
    } else {
        content.to_owned()
    }
}

/// GLPI's rich text (HTML) as plain text: tags dropped, paragraphs and line breaks kept,
/// entities decoded. Content without markup (mail collector, other API clients) keeps its line
/// breaks; inside markup, source line breaks are only whitespace, as in a browser.
pub fn html_to_text(html: &str) -> String {
    let html = unsanitize(html);
    let is_html = looks_like_html(&html);
    let mut out = String::with_capacity(html.len());
    let push_text = |out: &mut String, text: &str| {
        if is_html {
            out.extend(
                text.chars()
                    .map(|c| if c == '\n' || c == '\r' { ' ' } else { c }),
            );
        } else {
            out.push_str(text);
        }
    };
    for piece in text::html_pieces(&html) {
        let tag = match piece {
            HtmlPiece::Text(chunk) => {
                push_text(&mut out, chunk);
                continue;
            }
            HtmlPiece::Tag(tag) => tag,
        };
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let closing = tag.starts_with('/');
        match name.as_str() {
            "br" | "hr" => out.push('\n'),
            "li" | "tr" if closing => out.push('\n'),
            "p" | "div" | "blockquote" | "ul" | "ol" | "table" | "h1" | "h2" | "h3" | "h4"
            | "h5" | "h6"
                if closing =>
            {
                out.push_str("\n\n")
            }
            _ => {}
        }
    }
    tidy(&text::decode_entities(&out, LONGEST_ENTITY), is_html)
}

fn looks_like_html(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "<p", "<br", "<div", "<ul", "<ol", "<table", "<span", "<a ", "<strong", "<em",
    ]
    .iter()
    .any(|tag| lower.contains(tag))
}

/// Trims lines (only their ends for plain text, where leading spaces may matter) and keeps at
/// most one blank line between paragraphs.
fn tidy(text: &str, trim_starts: bool) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = if trim_starts {
            line.trim()
        } else {
            line.trim_end()
        };
        if line.trim().is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(if line.trim().is_empty() { "" } else { line });
    }
    lines.join("\n").trim().to_owned()
}

/// A document as an attachment reference.
pub fn attachment_ref(document: &model::Document) -> AttachmentRef {
    let file_name = document
        .filename
        .clone()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| document.name.clone());
    AttachmentRef {
        id: document.id.to_string(),
        file_name,
        content_type: document.mime.clone().filter(|m| !m.is_empty()),
        size: None,
        url: None,
    }
}

fn user_name(keys_names: Option<&model::KeysNames>, users_id: Option<i64>) -> String {
    if let Some(name) = keys_names
        .and_then(|k| k.users_id.as_deref())
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        return name.to_owned();
    }
    match users_id {
        Some(id) if id > 0 => format!("GLPI user {id}"),
        _ => "GLPI".to_owned(),
    }
}

/// One followup read back.
pub fn to_comment(
    ctx: &Context<'_>,
    requesters: &BTreeSet<i64>,
    attachments: Vec<AttachmentRef>,
    followup: &model::Followup,
) -> Result<Comment, String> {
    let text = html_to_text(followup.content.as_deref().unwrap_or_default());
    let author_id = followup.users_id.unwrap_or(0);
    // By author only: a marker in the text may be a client's typing or staff quoting teledesk's
    // followup, and neither is an echo.
    let origin = if author_id == ctx.integration_user {
        Origin::Teledesk
    } else if requesters.contains(&author_id) {
        Origin::Requester
    } else {
        Origin::Staff
    };
    let body = match origin {
        Origin::Teledesk => strip_teledesk_comment(&text),
        _ => text,
    };
    let written = followup
        .date_creation
        .as_deref()
        .or(followup.date.as_deref());
    Ok(Comment {
        id: CommentId(followup.id.to_string()),
        author: user_name(followup.keys_names.as_ref(), followup.users_id),
        body,
        visibility: if followup.is_private {
            Visibility::Internal
        } else {
            Visibility::Public
        },
        origin,
        created_at: required_time(&format!("followup {}", followup.id), written, ctx.timezone)?,
        attachments,
    })
}

/// What a ticket read consists of: the ticket and its sub-items.
#[derive(Clone, Debug, Default)]
pub struct TicketParts {
    /// `GET /Ticket/:id`.
    pub ticket: Option<model::Ticket>,
    /// `GET /Ticket/:id/ITILFollowup`.
    pub followups: Vec<model::Followup>,
    /// `GET /Ticket/:id/ITILSolution`.
    pub solutions: Vec<model::Solution>,
    /// `GET /Ticket/:id/Ticket_User`.
    pub actors: Vec<model::TicketUser>,
    /// Followup id → its documents.
    pub documents: BTreeMap<i64, Vec<AttachmentRef>>,
}

/// A ticket and its sub-items as a domain ticket.
pub fn to_ticket(ctx: &Context<'_>, parts: TicketParts) -> Result<Ticket, String> {
    let ticket = parts.ticket.ok_or("no ticket")?;
    let status = status_of(ticket.status, ctx.statuses);
    let requesters: BTreeSet<i64> = parts
        .actors
        .iter()
        .filter(|a| a.actor_type == model::ACTOR_REQUESTER)
        .map(|a| a.users_id)
        .collect();
    let assignees: Vec<String> = parts
        .actors
        .iter()
        .filter(|a| a.actor_type == model::ACTOR_ASSIGNED)
        .map(|a| user_name(a.keys_names.as_ref(), Some(a.users_id)))
        .collect();
    // A solution left over from before a reopen must not show on a ticket in work again.
    let resolution = if status.is_done() {
        parts
            .solutions
            .iter()
            .filter(|s| s.status != Some(model::SOLUTION_REFUSED))
            .max_by_key(|s| (s.date_creation.clone(), s.id))
            .map(|s| html_to_text(s.content.as_deref().unwrap_or_default()))
            .filter(|text| !text.is_empty())
    } else {
        None
    };
    let mut documents = parts.documents;
    let mut comments = parts
        .followups
        .iter()
        .map(|f| {
            let attachments = documents.remove(&f.id).unwrap_or_default();
            to_comment(ctx, &requesters, attachments, f)
        })
        .collect::<Result<Vec<_>, _>>()?;
    comments.sort_by(|a, b| {
        (a.created_at, a.id.0.parse::<i64>().unwrap_or(0))
            .cmp(&(b.created_at, b.id.0.parse::<i64>().unwrap_or(0)))
    });
    let updated = ticket
        .date_mod
        .as_deref()
        .or(ticket.date_creation.as_deref())
        .or(ticket.date.as_deref());
    Ok(Ticket {
        reference: ticket_ref(ctx.web_url, ticket.id),
        subject: ticket.name.clone(),
        description: strip_requester_block(&html_to_text(
            ticket.content.as_deref().unwrap_or_default(),
        )),
        state: state_name(ticket.status),
        status,
        assignee: (!assignees.is_empty()).then(|| assignees.join(", ")),
        resolution,
        updated_at: required_time(&format!("ticket {}", ticket.id), updated, ctx.timezone)?,
        comments,
        addressed_to: address_of(ctx, &ticket),
        due: teledesk_adapter::DueTimes {
            respond_by: ticket
                .time_to_own
                .as_deref()
                .and_then(|t| parse_time(t, ctx.timezone)),
            resolve_by: ticket
                .time_to_resolve
                .as_deref()
                .and_then(|t| parse_time(t, ctx.timezone)),
        },
        priority: None,
    })
}

/// The ticket id in a search row's `id_field` column (GLPI sends it as a number or a string).
pub fn row_id(row: &serde_json::Map<String, serde_json::Value>, id_field: &str) -> Option<i64> {
    match row.get(id_field) {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

/// One row of `GET /search/Ticket` as `(ticket, change time)`.
///
/// GLPI's `date_mod` has whole seconds, so two changes of one ticket within a second share it
/// and the cursor (which remembers `(ticket, time)` pairs) would hide the second. The sub-second
/// part of the returned time is therefore a revision tag: a hash of the row's other columns
/// (status, priority, technicians, number of followups...), so a change inside the same second
/// reads as a new time, and an unchanged ticket keeps its time.
pub fn search_row(
    row: &serde_json::Map<String, serde_json::Value>,
    date_mod_field: &str,
    id_field: &str,
    timezone: UtcOffset,
) -> Result<(TicketId, OffsetDateTime), String> {
    let id = row_id(row, id_field)
        .ok_or_else(|| format!("a search row has no ticket id: {}", compact(row)))?;
    let date_mod = row
        .get(date_mod_field)
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| format!("ticket {id} has no date_mod in the search row"))?;
    let at = parse_time(date_mod, timezone)
        .ok_or_else(|| format!("ticket {id} has an unreadable date_mod {date_mod:?}"))?;
    let mut canonical = String::new();
    let columns: BTreeMap<&String, &serde_json::Value> = row
        .iter()
        .filter(|(key, _)| key.as_str() != date_mod_field)
        .collect();
    for (key, value) in columns {
        canonical.push_str(key);
        canonical.push('=');
        canonical.push_str(&value.to_string());
        canonical.push(';');
    }
    let tag = teledesk_adapter::stable_hash(canonical.as_bytes()) % 1_000_000_000;
    let at = at + time::Duration::nanoseconds(tag as i64);
    Ok((TicketId(id.to_string()), at))
}

fn compact(row: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(row.clone())
        .to_string()
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_STATUSES;
    use teledesk_adapter::{Attachment, Requester};
    use teledesk_testkit::samples;
    use time::macros::{datetime, offset};

    const TICKET: &str = include_str!("../../../fixtures/glpi/ticket.json");
    const FOLLOWUPS: &str = include_str!("../../../fixtures/glpi/ticket_followups.json");
    const SOLUTIONS: &str = include_str!("../../../fixtures/glpi/ticket_solutions.json");
    const ACTORS: &str = include_str!("../../../fixtures/glpi/ticket_users.json");
    const DOCUMENT: &str = include_str!("../../../fixtures/glpi/document.json");
    const SEARCH: &str = include_str!("../../../fixtures/glpi/search_tickets.json");
    const SESSION: &str = include_str!("../../../fixtures/glpi/full_session.json");
    const CREATED: &str = include_str!("../../../fixtures/glpi/created.json");
    const LINKS: &str = include_str!("../../../fixtures/glpi/ticket_links.json");
    const SATISFACTION: &str = include_str!("../../../fixtures/glpi/ticket_satisfaction.json");
    const DOCUMENT_ITEMS: &str =
        include_str!("../../../fixtures/glpi/followup_document_items.json");

    const MSK: UtcOffset = offset!(+3);

    fn statuses() -> BTreeMap<i64, StatusClass> {
        DEFAULT_STATUSES.into_iter().collect()
    }

    /// The client with a company name that HTML must escape.
    fn requester() -> Requester {
        Requester {
            username: Some("anna_s".into()),
            company: Some("ООО \"Ромашка\" & Co".into()),
            ..samples::requester()
        }
    }

    /// The recorded ticket, with markup-like text for the escaping to show.
    fn draft() -> TicketDraft {
        TicketDraft {
            description: "Принтер в бухгалтерии не печатает.\nОшибка <E-05>.".into(),
            requester: requester(),
            ..samples::recorded_draft()
        }
    }

    /// A comment with a file whose name HTML must escape.
    fn comment_draft() -> CommentDraft {
        CommentDraft {
            author: requester(),
            attachments: vec![Attachment {
                file_name: "photo <1>.jpg".into(),
                ..samples::screenshot()
            }],
            ..samples::linked_comment(43, "Вот фото ошибки\nи лог")
        }
    }

    #[test]
    fn times_are_read_in_the_configured_offset() {
        assert_eq!(
            parse_time("2026-11-21 15:05:13", MSK),
            Some(datetime!(2026-11-21 12:05:13 UTC))
        );
        assert!(parse_time("2026-11-21 15:05:13", MSK).is_some_and(|t| t.offset().is_utc()));
        assert_eq!(
            parse_time("2026-11-21 15:05", UtcOffset::UTC),
            Some(datetime!(2026-11-21 15:05 UTC))
        );
        assert_eq!(parse_time("2026-11-21T15:05:13Z", MSK), None);
        assert_eq!(parse_time("", MSK), None);
    }

    #[test]
    fn query_times_are_local_whole_seconds() {
        assert_eq!(
            format_time(datetime!(2026-11-21 12:05:13.999 UTC), MSK),
            "2026-11-21 15:05:13"
        );
        assert_eq!(
            format_time(datetime!(2026-12-31 23:00:00 UTC), MSK),
            "2027-01-01 02:00:00"
        );
    }

    #[test]
    fn ticket_content_round_trips_and_shows_the_requester() {
        let html = ticket_content(&draft());
        assert!(html.contains("Ошибка &lt;E-05&gt;."), "{html}");
        assert!(!html.contains("<E-05>"));
        let text = html_to_text(&html);
        assert_eq!(
            text,
            "Принтер в бухгалтерии не печатает.\nОшибка <E-05>.\n\n\
             Telegram: Анна Смирнова (@anna_s), id 555001, ООО \"Ромашка\" & Co\n\
             Registered (UTC): 2026-11-21T11:58:00.5Z\n\
             Source: https://t.me/c/1234567890/42\n\
             tg-key: tg:-1001234567890:42"
        );
        assert!(text::has_marker_for(&text, "tg:-1001234567890:42"));
        assert_eq!(
            strip_requester_block(&text),
            "Принтер в бухгалтерии не печатает.\nОшибка <E-05>."
        );
    }

    #[test]
    fn follow_up_names_the_original_ticket() {
        let mut d = draft();
        d.follow_up_of = Some(ticket_ref(None, 77));
        d.description.clear();
        d.source_url = None;
        let text = html_to_text(&ticket_content(&d));
        assert!(text.contains("\nFollow-up of: #77\n"), "{text}");
        assert_eq!(strip_requester_block(&text), "");
    }

    #[test]
    fn staff_text_after_the_block_survives_and_client_lines_stay() {
        let text = format!(
            "{}\n\nУточнение от поддержки",
            html_to_text(&ticket_content(&draft()))
        );
        assert_eq!(
            strip_requester_block(&text),
            "Принтер в бухгалтерии не печатает.\nОшибка <E-05>.\n\nУточнение от поддержки"
        );
        let client = "Telegram: не работает бот\nЧто делать?";
        assert_eq!(strip_requester_block(client), client);
    }

    #[test]
    fn comment_content_has_header_files_and_marker() {
        let html = comment_content(&comment_draft());
        assert!(html.contains("📎 photo &lt;1&gt;.jpg"), "{html}");
        let text = html_to_text(&html);
        assert_eq!(
            text,
            "Анна Смирнова (@anna_s) (Telegram, ООО \"Ромашка\" & Co):\n\n\
             Вот фото ошибки\nи лог\n\n📎 photo <1>.jpg\n\nTelegram · tg-key: tg:-1001234567890:43"
        );
        assert!(text::has_marker_for(&text, "tg:-1001234567890:43"));
        assert_eq!(strip_teledesk_comment(&text), "Вот фото ошибки\nи лог");
    }

    #[test]
    fn note_content_is_marked() {
        let note = samples::note(9, "Оценка клиента: 4 из 5");
        let text = html_to_text(&note_content(&note));
        assert!(text::has_marker_for(&text, note.key.as_str()));
        assert_eq!(strip_teledesk_comment(&text), "Оценка клиента: 4 из 5");
    }

    #[test]
    fn html_becomes_plain_text() {
        assert_eq!(
            html_to_text(
                "<p>Здравствуйте!</p><p>Картридж &amp; бумага<br />заменены&nbsp;&#8212; ок</p>\
                 <ul><li>раз</li><li>два</li></ul><p>&amp;lt; stays</p>"
            ),
            "Здравствуйте!\n\nКартридж & бумага\nзаменены — ок\n\nраз\nдва\n\n&lt; stays"
        );
        assert_eq!(html_to_text("a & b <c"), "a & b <c");
    }

    #[test]
    fn sanitized_content_of_glpi_10_is_read_as_html() {
        assert_eq!(
            html_to_text("&lt;p&gt;Hello &amp;amp; bye&lt;/p&gt;&lt;p&gt;Second&lt;/p&gt;"),
            "Hello & bye\n\nSecond"
        );
    }

    fn parts() -> TicketParts {
        let document: model::Document = serde_json::from_str(DOCUMENT).expect("document");
        TicketParts {
            ticket: Some(serde_json::from_str(TICKET).expect("ticket")),
            followups: serde_json::from_str(FOLLOWUPS).expect("followups"),
            solutions: serde_json::from_str(SOLUTIONS).expect("solutions"),
            actors: serde_json::from_str(ACTORS).expect("actors"),
            documents: BTreeMap::from([(1003, vec![attachment_ref(&document)])]),
        }
    }

    fn ctx(statuses: &BTreeMap<i64, StatusClass>) -> Context<'_> {
        Context {
            web_url: Some("https://glpi.example.com"),
            statuses,
            integration_user: 7,
            timezone: MSK,
            address_sources: (None, None),
        }
    }

    #[test]
    fn staff_address_is_the_entity_of_a_ticket_from_the_telegram_sources() {
        let statuses = BTreeMap::new();
        let addressing = Context {
            address_sources: (Some(7), Some(8)),
            ..ctx(&statuses)
        };
        let mut ticket: model::Ticket = serde_json::from_str(TICKET).expect("ticket");
        ticket.users_id_recipient = Some(10);
        ticket.keys_names = serde_json::from_value(
            serde_json::json!({"entities_id": "Root entity > Acme", "users_id_recipient": "x"}),
        )
        .expect("names");
        let address = |ticket: &model::Ticket| address_of(&addressing, ticket);
        ticket.requesttypes_id = Some(1);
        assert_eq!(address(&ticket), None, "the Helpdesk source");
        ticket.requesttypes_id = Some(7);
        assert_eq!(
            address(&ticket),
            Some(StaffAddress {
                chat: "Acme".into(),
                announcement: false
            })
        );
        ticket.requesttypes_id = Some(8);
        assert_eq!(address(&ticket).map(|a| a.announcement), Some(true));
        assert_eq!(address_of(&ctx(&statuses), &ticket), None, "not configured");
        ticket.users_id_recipient = Some(7);
        assert_eq!(address(&ticket), None, "teledesk's own ticket");
        ticket.users_id_recipient = Some(10);
        ticket.keys_names = None;
        assert_eq!(address(&ticket), None, "no entity name");
        // PHP's empty array where an object was expected reads as no names.
        let bare: model::Ticket = serde_json::from_value(serde_json::json!({
            "id": 1, "status": 1, "requesttypes_id": "8", "_keys_names": []
        }))
        .expect("ticket");
        assert_eq!((bare.requesttypes_id, bare.keys_names), (Some(8), None));
    }

    #[test]
    fn fixtures_parse() {
        let session: model::FullSession = serde_json::from_str(SESSION).expect("session");
        assert_eq!(session.session.id, 7);
        assert_eq!(
            session.session.friendly_name.as_deref(),
            Some("teledesk bot")
        );
        let created: model::Created = serde_json::from_str(CREATED).expect("created");
        assert_eq!(created.id, 123);
        let links: Vec<model::TicketLink> = serde_json::from_str(LINKS).expect("links");
        assert_eq!((links[0].tickets_id_1, links[0].tickets_id_2), (124, 123));
        let surveys: Vec<model::Satisfaction> =
            serde_json::from_str(SATISFACTION).expect("satisfaction");
        assert_eq!(surveys[0].satisfaction, None);
        let items: Vec<model::DocumentItem> =
            serde_json::from_str(DOCUMENT_ITEMS).expect("document items");
        assert_eq!((items[0].documents_id, items[0].items_id), (55, 1003));
    }

    #[test]
    fn ticket_maps_fields() {
        let statuses = statuses();
        let t = to_ticket(&ctx(&statuses), parts()).expect("maps");
        assert_eq!(t.reference.id.0, "123");
        assert_eq!(t.reference.number, "123");
        assert_eq!(
            t.reference.url.as_deref(),
            Some("https://glpi.example.com/front/ticket.form.php?id=123")
        );
        assert_eq!(t.subject, "Не печатает принтер");
        assert_eq!(t.description, "Принтер в бухгалтерии не печатает.");
        assert_eq!(t.state, "Solved");
        assert_eq!(t.status, StatusClass::Resolved);
        assert_eq!(t.assignee.as_deref(), Some("Мария Иванова"));
        assert_eq!(t.resolution.as_deref(), Some("Заменили картридж."));
        assert_eq!(t.updated_at, datetime!(2026-11-21 12:05:13 UTC));
    }

    #[test]
    fn followups_are_classified_by_visibility_and_origin() {
        let statuses = statuses();
        let t = to_ticket(&ctx(&statuses), parts()).expect("maps");
        let summary = samples::comment_ids_and_kinds(&t);
        assert_eq!(
            summary,
            [
                ("1001", Visibility::Public, Origin::Teledesk),
                ("1002", Visibility::Internal, Origin::Staff),
                ("1003", Visibility::Public, Origin::Staff),
                ("1004", Visibility::Public, Origin::Requester),
            ]
        );
        assert_eq!(t.comments[0].body, "Вот фото ошибки");
        assert_eq!(t.comments[0].author, "teledesk bot");
        assert_eq!(t.comments[2].author, "Мария Иванова");
        assert_eq!(
            t.comments[2].body,
            "Здравствуйте! Заменили картридж, проверьте, пожалуйста."
        );
        assert_eq!(t.comments[2].created_at, datetime!(2026-11-21 12:04:00 UTC));
        assert_eq!(t.comments[2].attachments.len(), 1);
        assert_eq!(t.comments[2].attachments[0].file_name, "отчёт.pdf");
        assert_eq!(
            t.comments[2].attachments[0].content_type.as_deref(),
            Some("application/pdf")
        );
        assert!(t.comments[0].attachments.is_empty());
    }

    #[test]
    fn an_unsolved_ticket_shows_no_leftover_solution() {
        let statuses = statuses();
        let mut p = parts();
        if let Some(ticket) = p.ticket.as_mut() {
            ticket.status = 2;
        }
        let t = to_ticket(&ctx(&statuses), p).expect("maps");
        assert_eq!(t.status, StatusClass::InProgress);
        assert_eq!(t.resolution, None);
    }

    #[test]
    fn unreadable_times_are_errors() {
        let statuses = statuses();
        let mut p = parts();
        if let Some(ticket) = p.ticket.as_mut() {
            ticket.date_mod = Some("yesterday".into());
        }
        assert!(to_ticket(&ctx(&statuses), p).is_err());
    }

    #[test]
    fn states_have_names_and_classes() {
        let statuses = statuses();
        let classes: Vec<StatusClass> = (1..=6).map(|c| status_of(c, &statuses)).collect();
        assert_eq!(
            classes,
            [
                StatusClass::New,
                StatusClass::InProgress,
                StatusClass::InProgress,
                StatusClass::WaitingClient,
                StatusClass::Resolved,
                StatusClass::Closed
            ]
        );
        assert_eq!(state_name(4), "Pending");
        assert_eq!(priority_name(4), "High");
    }

    #[test]
    fn search_rows_carry_a_revision_tag() {
        let result: model::SearchResult = serde_json::from_str(SEARCH).expect("search");
        let rows: Vec<(TicketId, OffsetDateTime)> = result
            .data
            .iter()
            .map(|row| search_row(row, "19", "2", MSK).expect("row"))
            .collect();
        assert_eq!(rows[0].0.0, "123");
        assert_eq!(rows[1].0.0, "124");
        // Whole seconds are the server's; the sub-second part is the tag.
        assert_eq!(
            rows[0].1.replace_nanosecond(0).expect("ns"),
            datetime!(2026-11-21 12:05:13 UTC)
        );
        let mut changed = result.data[0].clone();
        let again = search_row(&changed, "19", "2", MSK).expect("row");
        assert_eq!(again.1, rows[0].1, "an unchanged row keeps its time");
        changed.insert("27".into(), serde_json::json!(5));
        let bumped = search_row(&changed, "19", "2", MSK).expect("row");
        assert_ne!(
            bumped.1, rows[0].1,
            "a new followup in the same second is a new time"
        );
        assert_eq!(
            bumped.1.replace_nanosecond(0).expect("ns"),
            datetime!(2026-11-21 12:05:13 UTC)
        );
        changed.remove("2");
        assert!(search_row(&changed, "19", "2", MSK).is_err());
    }

    #[test]
    fn escalation_notes_record_their_step_beside_the_marker() {
        let note = samples::note(7, "Эскалация");
        let text = html_to_text(&escalation_note_content(&note, 3, 4));
        assert!(text::has_marker_for(&text, note.key.as_str()), "{text}");
        assert_eq!(recorded_priority_target(&text), Some(4));
        assert_eq!(
            recorded_priority_target(&html_to_text(&note_content(&note))),
            None
        );
        // A client quoting "priority 1 → 5" in the note's body does not count.
        let quoted = NoteDraft {
            body: "priority 1 → 5".into(),
            ..note
        };
        assert_eq!(
            recorded_priority_target(&html_to_text(&escalation_note_content(&quoted, 2, 3))),
            Some(3)
        );
    }
}
