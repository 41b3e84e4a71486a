//! Wire ↔ domain: the texts teledesk writes into Znuny articles, and how tickets and articles read
//! back.

use crate::config::ZnunyConfig;
use crate::model;
use teledesk_adapter::http::JsonStep;
use teledesk_adapter::text::{self, REGISTERED_LABEL, SOURCE_LABEL, TELEGRAM_LABEL};
use teledesk_adapter::{
    AttachmentRef, Comment, CommentDraft, CommentId, Origin, Requester, StaffAddress, StatusClass,
    Ticket, TicketDraft, TicketId, TicketRef, Visibility,
};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Starts the marker line that ties an article to its Telegram message (`tg-key: tg:-100123:45`).
///
/// The first article of a ticket carries it even when the key is also in a dynamic field; client
/// comments and notes carry it because articles have no external id. A retry finds the earlier
/// write by it, and the poller recognises teledesk's own articles by it when the author check
/// cannot (another agent copied the text, or `CreateBy` is missing in an old version).
pub const MARKER: &str = text::MARKER;

pub use text::has_footer_for;

/// The line opening teledesk's footer block; the lines after it are the requester's
/// ([`text::requester_lines`]) and the ones below.
const SEPARATOR: &str = "---";
const LINE_FOLLOW_UP: &str = "Follow-up to: ";
const LINE_PRIORITY: &str = "Priority: ";
const HEADER_SUFFIX: &str = " via Telegram:";
const EMPTY_FILE: &str = "(empty file not attached: ";
/// Znuny's `ticket.title` column.
const MAX_TITLE_CHARS: usize = 255;
/// Subjects are informational; keep them short in the ticket zoom.
const MAX_SUBJECT_CHARS: usize = 120;
/// Owner id of every ticket the Generic Interface creates (the admin `root@localhost`): an owner
/// nobody chose.
pub const NOBODY: i64 = 1;

/// Everything besides the payloads that mapping a ticket needs.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The adapter's configuration (status map, fields, time zone, web link).
    pub config: &'a ZnunyConfig,
    /// The integration agent's user id: articles it created are teledesk's own.
    pub integration_user: i64,
}

/// `YYYY-MM-DD HH:MM:SS` in the server's time zone, as Znuny's search parameters expect.
pub fn local_time(at: OffsetDateTime, zone: UtcOffset) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    at.to_offset(zone)
        .format(&format)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// A naive Znuny time (`2026-11-21 14:58:00`) in the server's time zone, as UTC.
pub fn parse_local(text: &str, zone: UtcOffset) -> Option<OffsetDateTime> {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(text.trim(), &format)
        .ok()
        .map(|at| at.assume_offset(zone).to_offset(UtcOffset::UTC))
}

/// The agent-interface link of a ticket.
pub fn ticket_url(config: &ZnunyConfig, ticket_id: i64) -> Option<String> {
    config
        .web_base()
        .map(|base| format!("{base}?Action=AgentTicketZoom;TicketID={ticket_id}"))
}

/// The reference teledesk stores for a ticket.
pub fn ticket_ref(config: &ZnunyConfig, ticket_id: i64, number: &str) -> TicketRef {
    TicketRef {
        id: TicketId(ticket_id.to_string()),
        number: number.to_owned(),
        url: ticket_url(config, ticket_id),
    }
}

/// The ticket title: the subject, or the first line of the description, cut to Znuny's column.
pub fn title_of(draft: &TicketDraft) -> String {
    text::ticket_title(&draft.subject, &draft.description, MAX_TITLE_CHARS)
}

/// The body of a ticket's first article: the client's text, then a block staff read the
/// requester from.
///
/// The block carries what Znuny has no field for: the Telegram identity, the exact registration
/// time (the ticket's `Created` is when teledesk got through, which can be later), the source
/// link, the closed ticket this one follows up, and the idempotency marker.
pub fn description_body(draft: &TicketDraft, empty_files: &[&str]) -> String {
    let mut block = text::requester_lines(draft, LINE_FOLLOW_UP);
    block.push(format!("{MARKER}{}", draft.key.as_str()));
    let head = with_empty_files(draft.description.trim(), empty_files);
    text::with_block(&head, SEPARATOR, &block)
}

/// The subject of a ticket's first article.
pub fn description_subject(draft: &TicketDraft) -> String {
    cut(&title_of(draft), MAX_SUBJECT_CHARS)
}

/// The body of a client comment: who wrote it, the text, files that could not be attached, and
/// the footer with the source link and the marker.
pub fn comment_body(draft: &CommentDraft, empty_files: &[&str]) -> String {
    let mut head = comment_header(&draft.author);
    let body = draft.body.trim();
    if !body.is_empty() {
        head.push_str("\n\n");
        head.push_str(body);
    }
    let mut block = Vec::new();
    if let Some(source) = &draft.source_url {
        block.push(format!("{SOURCE_LABEL}{source}"));
    }
    block.push(format!("{MARKER}{}", draft.key.as_str()));
    text::with_block(&with_empty_files(&head, empty_files), SEPARATOR, &block)
}

/// `text`, then a line naming each empty file, set off by a blank line: Znuny refuses an
/// attachment without content, so an empty file is named in the text instead.
fn with_empty_files(text: &str, empty_files: &[&str]) -> String {
    let mut out = text.to_owned();
    for (i, name) in empty_files.iter().enumerate() {
        if !out.is_empty() {
            out.push_str(if i == 0 { "\n\n" } else { "\n" });
        }
        out.push_str(EMPTY_FILE);
        out.push_str(name);
        out.push(')');
    }
    out
}

fn comment_header(author: &Requester) -> String {
    match &author.company {
        Some(company) => format!("{} ({company}){HEADER_SUFFIX}", author.label()),
        None => format!("{}{HEADER_SUFFIX}", author.label()),
    }
}

/// The subject of a client comment.
pub fn comment_subject(author: &Requester) -> String {
    cut(&format!("Telegram: {}", author.label()), MAX_SUBJECT_CHARS)
}

/// The body of an internal note teledesk writes; an escalation records the priority step so a
/// retry can tell what it did.
pub fn note_body(body: &str, key: &str, priority_step: Option<(&str, &str)>) -> String {
    let mut text = body.trim().to_owned();
    text.push_str("\n\n");
    text.push_str(SEPARATOR);
    if let Some((from, to)) = priority_step {
        text.push('\n');
        text.push_str(LINE_PRIORITY);
        text.push_str(from);
        text.push_str(" → ");
        text.push_str(to);
    }
    text.push('\n');
    text.push_str(MARKER);
    text.push_str(key);
    text
}

/// The priority step an escalation note recorded (`Priority: 3 normal → 4 high`).
pub fn recorded_priority_step(body: &str) -> Option<(String, String)> {
    let line = body
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix(LINE_PRIORITY))?;
    let (from, to) = line.split_once(" → ")?;
    Some((from.trim().to_owned(), to.trim().to_owned()))
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The text without teledesk's header line and footer block; text staff added after the footer
/// is kept.
pub fn strip_teledesk_text(body: &str) -> String {
    let mut lines: Vec<&str> = body.lines().collect();
    if lines
        .first()
        .is_some_and(|first| first.trim_end().ends_with(HEADER_SUFFIX))
    {
        lines.remove(0);
    }
    let is_footer_line = |line: &str| {
        [
            TELEGRAM_LABEL,
            REGISTERED_LABEL,
            SOURCE_LABEL,
            LINE_FOLLOW_UP,
            LINE_PRIORITY,
            MARKER,
        ]
        .iter()
        .any(|prefix| line.starts_with(prefix))
    };
    let footer = (0..lines.len()).rev().find(|&i| {
        lines[i].trim_end() == SEPARATOR
            && lines.get(i + 1).is_some_and(|l| is_footer_line(l))
            && (i == 0 || lines[i - 1].trim().is_empty())
    });
    let (before, after) = match footer {
        Some(start) => {
            let mut end = start + 1;
            while end < lines.len() && is_footer_line(lines[end]) {
                end += 1;
            }
            (lines[..start].join("\n"), lines[end..].join("\n"))
        }
        None => (lines.join("\n"), String::new()),
    };
    let before: Vec<&str> = before
        .lines()
        .filter(|l| !l.starts_with(EMPTY_FILE))
        .collect();
    text::join_paragraphs(&before.join("\n"), &after)
}

/// The display name in a `From` value: `"Мария Иванова" <m@x>` → `Мария Иванова`; an address
/// alone stays as it is.
pub fn display_name(from: &str) -> String {
    let from = from.trim();
    let name = match from.find('<') {
        Some(at) if at > 0 => from[..at].trim(),
        Some(_) => from.trim_start_matches('<').trim_end_matches('>').trim(),
        None => from,
    };
    name.trim_matches('"').trim().to_owned()
}

/// The class of a ticket: its state in the configured map over the defaults, else its state type
/// (so a state an admin added still reads sensibly).
pub fn status_of(config: &ZnunyConfig, ticket: &model::Ticket) -> StatusClass {
    if let Some(class) = config.class_of(&ticket.state) {
        return class;
    }
    match ticket.state_type.as_str() {
        "new" => StatusClass::New,
        "pending reminder" | "pending auto" => StatusClass::WaitingClient,
        "closed" | "merged" | "removed" => StatusClass::Closed,
        // "open", and anything Znuny might add, means someone is on it.
        _ => StatusClass::InProgress,
    }
}

/// The state to send with a `PendingTime`: Znuny refuses a pending state without one.
pub fn is_pending_state(state: &str) -> bool {
    state
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("pending")
}

/// The encoded [`AttachmentRef::id`]: `<ticket>:<article>:<file>[:<sender type>]`; the sender type
/// lets a download ask Znuny for that sender's articles only.
pub fn attachment_id(ticket: i64, article: &model::Article, file: i64) -> String {
    if article.sender_type.is_empty() {
        format!("{ticket}:{}:{file}", article.article_id)
    } else {
        format!(
            "{ticket}:{}:{file}:{}",
            article.article_id, article.sender_type
        )
    }
}

/// Where an attachment lives, decoded from [`attachment_id`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentLocation {
    /// Ticket id.
    pub ticket: i64,
    /// Article id.
    pub article: i64,
    /// File index within the article.
    pub file: i64,
    /// The article's sender type, when known.
    pub sender_type: Option<String>,
}

/// Where `TicketGet` puts a file's base64: `Ticket[].Article[].Attachment[].Content` (indices
/// aside, since a single entry may come as an object).
pub fn is_attachment_content(path: &[JsonStep<'_>]) -> bool {
    let mut keys = path.iter().filter_map(|step| match step {
        JsonStep::Key(key) => Some(*key),
        JsonStep::Index(_) => None,
    });
    ["Ticket", "Article", "Attachment", "Content"]
        .iter()
        .all(|expected| keys.next() == Some(*expected))
        && keys.next().is_none()
}

/// Decodes an [`attachment_id`].
pub fn parse_attachment_id(id: &str) -> Option<AttachmentLocation> {
    let mut parts = id.splitn(4, ':');
    let ticket = parts.next()?.parse().ok()?;
    let article = parts.next()?.parse().ok()?;
    let file = parts.next()?.parse().ok()?;
    let sender_type = parts
        .next()
        .map(str::to_owned)
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic()));
    Some(AttachmentLocation {
        ticket,
        article,
        file,
        sender_type,
    })
}

/// The MIME type without parameters (`image/png; name="a.png"` → `image/png`).
pub fn bare_mime(content_type: &str) -> Option<String> {
    let bare = content_type.split(';').next().unwrap_or_default().trim();
    (!bare.is_empty()).then(|| bare.to_ascii_lowercase())
}

fn attachment_ref(
    ticket: i64,
    article: &model::Article,
    file: &model::AttachmentData,
) -> AttachmentRef {
    AttachmentRef {
        id: attachment_id(ticket, article, file.file_id),
        file_name: file.filename.clone(),
        content_type: bare_mime(&file.content_type),
        size: file.size.and_then(|s| u64::try_from(s).ok()),
        url: None,
    }
}

/// Whether teledesk wrote an article: the integration agent created it. Client messages go in
/// with `SenderType: customer`, so the sender says nothing about the writer; `CreateBy` records
/// the agent whose session wrote it. A marker in the body proves nothing: people type and quote it.
pub fn is_own(ctx: &Context<'_>, article: &model::Article) -> bool {
    article.create_by == Some(ctx.integration_user)
}

/// When an article was written: its `IncomingTime` epoch, else its naive `CreateTime`.
pub fn article_time(ctx: &Context<'_>, article: &model::Article) -> Option<OffsetDateTime> {
    article
        .incoming_time
        .and_then(|epoch| OffsetDateTime::from_unix_timestamp(epoch).ok())
        .or_else(|| parse_local(&article.create_time, ctx.config.timezone))
}

/// One article read back as a comment.
///
/// `system` articles (auto-replies, notifications) come back internal: they are Znuny talking to
/// itself, not staff talking to the client.
pub fn to_comment(
    ctx: &Context<'_>,
    ticket: &model::Ticket,
    article: &model::Article,
    fallback_time: OffsetDateTime,
) -> Comment {
    let own = is_own(ctx, article);
    let origin = if own {
        Origin::Teledesk
    } else if article.sender_type == "customer" {
        Origin::Requester
    } else {
        Origin::Staff
    };
    let visibility = if article.visible_for_customer && article.sender_type != "system" {
        Visibility::Public
    } else {
        Visibility::Internal
    };
    let body = if own {
        strip_teledesk_text(&article.body)
    } else {
        article.body.trim().to_owned()
    };
    let author = Some(display_name(&article.from))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| match article.create_by {
            Some(id) => format!("Znuny user {id}"),
            None => "Znuny".to_owned(),
        });
    Comment {
        id: CommentId(article.article_id.to_string()),
        author,
        body,
        visibility,
        origin,
        created_at: article_time(ctx, article).unwrap_or(fallback_time),
        attachments: article
            .attachments
            .iter()
            .map(|file| attachment_ref(ticket.ticket_id, article, file))
            .collect(),
    }
}

/// The resolution of a done ticket: the resolution field when set, else the newest public staff
/// reply (the closing answer, as staff write it without such a field).
pub fn resolution_of(
    ctx: &Context<'_>,
    ticket: &model::Ticket,
    status: StatusClass,
) -> Option<String> {
    if !status.is_done() {
        return None;
    }
    if let Some(text) = ctx
        .config
        .resolution_field
        .as_deref()
        .and_then(|f| ticket.field(f))
    {
        return Some(text.trim().to_owned());
    }
    ticket
        .articles
        .iter()
        .skip(1)
        .rev()
        .find(|a| {
            a.sender_type == "agent"
                && a.visible_for_customer
                && !is_own(ctx, a)
                && !a.body.trim().is_empty()
        })
        .map(|a| a.body.trim().to_owned())
}

/// The staff member who took the ticket: its owner, unless that is the admin every API ticket
/// starts with or teledesk's own agent.
pub fn assignee_of(ctx: &Context<'_>, ticket: &model::Ticket) -> Option<String> {
    match ticket.owner_id {
        Some(NOBODY) | None => None,
        Some(id) if id == ctx.integration_user => None,
        Some(_) => Some(ticket.owner.clone()).filter(|o| !o.trim().is_empty()),
    }
}

/// The chat staff addressed a ticket to in the `chat_field` dynamic field, and whether the
/// `announcement_field` checkbox marks it as a notice.
///
/// A ticket the integration agent created is teledesk's own, whatever its fields say: a chat's
/// `dynamic_fields` may well write the chat into the same field.
pub fn address_of(ctx: &Context<'_>, ticket: &model::Ticket) -> Option<StaffAddress> {
    let chat = ticket.field(ctx.config.chat_field.as_deref()?)?;
    if ticket.create_by == Some(ctx.integration_user) {
        return None;
    }
    let announcement = ctx
        .config
        .announcement_field
        .as_deref()
        .and_then(|field| ticket.field(field))
        .is_some_and(|v| {
            matches!(
                v.trim().to_lowercase().as_str(),
                "1" | "true" | "yes" | "да"
            )
        });
    Some(StaffAddress {
        chat: chat.trim().to_owned(),
        announcement,
    })
}

/// A ticket with all its articles as a domain ticket: the first article is the description, the
/// rest are comments, oldest first.
pub fn to_ticket(ctx: &Context<'_>, ticket: &model::Ticket) -> Ticket {
    let updated_at = parse_local(&ticket.changed, ctx.config.timezone)
        .or_else(|| parse_local(&ticket.created, ctx.config.timezone))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let mut articles: Vec<&model::Article> = ticket.articles.iter().collect();
    articles.sort_by_key(|a| a.article_id);
    let description = articles
        .first()
        .map(|first| {
            if is_own(ctx, first) {
                strip_teledesk_text(&first.body)
            } else {
                first.body.trim().to_owned()
            }
        })
        .unwrap_or_default();
    let status = status_of(ctx.config, ticket);
    Ticket {
        reference: ticket_ref(ctx.config, ticket.ticket_id, &ticket.ticket_number),
        subject: ticket.title.clone(),
        description,
        state: ticket.state.clone(),
        status,
        assignee: assignee_of(ctx, ticket),
        resolution: resolution_of(ctx, ticket, status),
        updated_at,
        comments: articles
            .iter()
            .skip(1)
            .map(|a| to_comment(ctx, ticket, a, updated_at))
            .collect(),
        addressed_to: address_of(ctx, ticket),
        due: teledesk_adapter::DueTimes {
            respond_by: escalation(&ticket.escalation_response_time),
            resolve_by: escalation(&ticket.escalation_solution_time),
        },
        priority: Some(ticket.priority.clone()).filter(|p| !p.trim().is_empty()),
    }
}

/// A change stamp for the polling cursor: the ticket's `Changed` (second granularity in Znuny)
/// plus, below the millisecond, a fingerprint of what a change alters.
///
/// Two changes of one ticket within one second share `Changed`; the cursor, which de-duplicates by
/// (ticket, stamp), would swallow the second. The fingerprint (state, priority, queue, owner, lock,
/// responsible, title, type, last changer, newest article, dynamic fields) makes the stamps differ,
/// and staying under a millisecond it keeps the cursor's overlap window intact.
pub fn change_stamp(zone: UtcOffset, ticket: &model::Ticket) -> Option<OffsetDateTime> {
    let changed = parse_local(&ticket.changed, zone)?;
    let newest_article = ticket.articles.iter().map(|a| a.article_id).max();
    let mut hash = teledesk_adapter::StableHash::new();
    let mut feed = |text: &str| {
        // 0xff never occurs in UTF-8: it ends each piece.
        hash.write(text.as_bytes());
        hash.write(&[0xff]);
    };
    for part in [
        &ticket.state,
        &ticket.priority,
        &ticket.queue,
        &ticket.owner,
        &ticket.lock,
        &ticket.responsible,
        &ticket.title,
        &ticket.ticket_type,
        &ticket.customer_user,
    ] {
        feed(part);
    }
    feed(&format!("{:?}", ticket.change_by));
    feed(&format!("{newest_article:?}"));
    for field in &ticket.dynamic_fields {
        feed(&field.name);
        feed(&field.value.to_string());
    }
    let nanos = (hash.finish() % 1_000_000) as i64;
    Some(changed + time::Duration::nanoseconds(nanos))
}

/// An escalation time from TicketGet (epoch seconds; `0` or nothing means none).
fn escalation(epoch: &str) -> Option<time::OffsetDateTime> {
    let seconds: i64 = epoch.trim().parse().ok().filter(|s| *s > 0)?;
    time::OffsetDateTime::from_unix_timestamp(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use teledesk_adapter::ConfigTable;
    use teledesk_testkit::samples;
    use time::macros::{datetime, offset};

    const TICKET_GET: &str = include_str!("../../../fixtures/znuny/ticket_get.json");

    fn config(extra: serde_json::Value) -> ZnunyConfig {
        let mut table: ConfigTable = json!({
            "url": "https://desk.example.com/otrs/nph-genericinterface.pl/Webservice/teledesk",
            "user": "teledesk", "password": "x", "queue": "Support", "customer_user": "telegram",
            "timezone": "+03:00", "idempotency_field": "TeledeskKey",
            "statuses": {"waiting for vendor": "waiting_third_party"},
        })
        .as_object()
        .cloned()
        .expect("table");
        table.extend(extra.as_object().cloned().unwrap_or_default());
        ZnunyConfig::from_table(&table).expect("valid")
    }

    fn wire() -> model::Ticket {
        let list: model::TicketList = serde_json::from_str(TICKET_GET).expect("fixture parses");
        list.tickets.into_iter().next().expect("one ticket")
    }

    #[test]
    fn local_times_round_trip_through_the_server_zone() {
        let at = datetime!(2026-11-21 11:58:07.9 UTC);
        assert_eq!(local_time(at, offset!(+3)), "2026-11-21 14:58:07");
        assert_eq!(
            parse_local("2026-11-21 14:58:07", offset!(+3)),
            Some(datetime!(2026-11-21 11:58:07 UTC))
        );
        assert_eq!(
            parse_local("2026-11-21 06:28:07", offset!(-5:30)),
            Some(datetime!(2026-11-21 11:58:07 UTC))
        );
        assert!(
            parse_local("2026-11-21 14:58:07", offset!(+3))
                .expect("parses")
                .offset()
                .is_utc()
        );
        assert_eq!(parse_local("2026-11-21T14:58:07Z", offset!(+3)), None);
        assert_eq!(parse_local("", offset!(+3)), None);
    }

    #[test]
    fn description_carries_the_requester_and_strips_back() {
        let text = description_body(&samples::recorded_draft(), &[]);
        assert_eq!(
            text,
            "Принтер в бухгалтерии не печатает.\n\n---\n\
             Telegram: Анна Смирнова (@anna_s), id 555001, ООО Ромашка\n\
             Registered (UTC): 2026-11-21T11:58:00.5Z\n\
             Source: https://t.me/c/1234567890/42\n\
             tg-key: tg:-1001234567890:42"
        );
        assert!(has_footer_for(&text, "tg:-1001234567890:42"));
        assert!(!has_footer_for(&text, "tg:-1001234567890:4"));
        assert_eq!(
            strip_teledesk_text(&text),
            "Принтер в бухгалтерии не печатает."
        );
    }

    #[test]
    fn empty_files_are_named_above_the_footer() {
        let text = description_body(&samples::draft(42), &["a.txt", "b.txt"]);
        assert!(
            text.starts_with(
                "Принтер в бухгалтерии не печатает.\n\n(empty file not attached: a.txt)\n\
                 (empty file not attached: b.txt)\n\n---\nTelegram: "
            ),
            "{text}"
        );
        assert_eq!(
            strip_teledesk_text(&text),
            "Принтер в бухгалтерии не печатает."
        );
        let only_files = TicketDraft {
            description: String::new(),
            ..samples::draft(42)
        };
        let text = description_body(&only_files, &["a.txt"]);
        assert!(
            text.starts_with("(empty file not attached: a.txt)\n\n---\nTelegram: "),
            "{text}"
        );
    }

    #[test]
    fn a_follow_up_names_the_closed_ticket() {
        let mut d = samples::recorded_draft();
        d.follow_up_of = Some(TicketRef {
            id: TicketId("7".into()),
            number: "2026112010000071".into(),
            url: None,
        });
        d.description = String::new();
        let text = description_body(&d, &[]);
        assert!(
            text.contains("\nFollow-up to: #2026112010000071\n"),
            "{text}"
        );
        assert!(text.starts_with("---\nTelegram: "));
        assert_eq!(strip_teledesk_text(&text), "");
    }

    #[test]
    fn comment_text_has_header_footer_and_strips_back() {
        let draft = CommentDraft {
            author: Requester {
                username: Some("anna_s".into()),
                ..samples::requester()
            },
            ..samples::linked_comment(43, "Вот фото ошибки\n---\nи ещё строка")
        };
        let text = comment_body(&draft, &["empty.txt"]);
        assert!(text.starts_with("Анна Смирнова (@anna_s) (ООО Ромашка) via Telegram:\n\n"));
        assert!(text.contains("(empty file not attached: empty.txt)"));
        assert!(
            text.ends_with(
                "---\nSource: https://t.me/c/1234567890/43\ntg-key: tg:-1001234567890:43"
            )
        );
        assert_eq!(
            strip_teledesk_text(&text),
            "Вот фото ошибки\n---\nи ещё строка"
        );
        assert_eq!(
            comment_subject(&draft.author),
            "Telegram: Анна Смирнова (@anna_s)"
        );
    }

    #[test]
    fn notes_record_the_priority_step() {
        let text = note_body("Эскалация", "tg:1:2", Some(("3 normal", "4 high")));
        assert_eq!(
            text,
            "Эскалация\n\n---\nPriority: 3 normal → 4 high\ntg-key: tg:1:2"
        );
        assert_eq!(
            recorded_priority_step(&text),
            Some(("3 normal".into(), "4 high".into()))
        );
        assert_eq!(strip_teledesk_text(&text), "Эскалация");
        assert_eq!(recorded_priority_step(&note_body("x", "k", None)), None);
    }

    #[test]
    fn staff_text_after_the_footer_survives() {
        let text = format!(
            "{}\n\nУточнение от поддержки",
            description_body(&samples::recorded_draft(), &[])
        );
        assert_eq!(
            strip_teledesk_text(&text),
            "Принтер в бухгалтерии не печатает.\n\nУточнение от поддержки"
        );
        assert_eq!(strip_teledesk_text("a\n\n---\nb"), "a\n\n---\nb");
    }

    #[test]
    fn display_names_come_out_of_from() {
        assert_eq!(
            display_name("\"Мария Иванова\" <m.ivanova@acme.example>"),
            "Мария Иванова"
        );
        assert_eq!(display_name("Мария Иванова <m@x>"), "Мария Иванова");
        assert_eq!(display_name("<m@x>"), "m@x");
        assert_eq!(display_name("Мария Иванова"), "Мария Иванова");
        assert_eq!(display_name(""), "");
    }

    #[test]
    fn attachment_ids_round_trip() {
        let article: model::Article =
            serde_json::from_value(json!({"ArticleID": 45, "SenderType": "agent"})).expect("a");
        let id = attachment_id(12, &article, 2);
        assert_eq!(id, "12:45:2:agent");
        assert_eq!(
            parse_attachment_id(&id),
            Some(AttachmentLocation {
                ticket: 12,
                article: 45,
                file: 2,
                sender_type: Some("agent".into()),
            })
        );
        assert_eq!(
            parse_attachment_id("12:45:2").map(|l| l.sender_type),
            Some(None)
        );
        assert_eq!(parse_attachment_id("12:x:2"), None);
        assert_eq!(parse_attachment_id("12:45"), None);
    }

    #[test]
    fn ticket_maps_fixture_fields() {
        let config = config(json!({}));
        let ctx = Context {
            config: &config,
            integration_user: 2,
        };
        let t = to_ticket(&ctx, &wire());
        assert_eq!(t.reference.id.0, "4012");
        assert_eq!(t.reference.number, "2026112110000036");
        assert_eq!(
            t.reference.url.as_deref(),
            Some("https://desk.example.com/otrs/index.pl?Action=AgentTicketZoom;TicketID=4012")
        );
        assert_eq!(t.subject, "Не печатает принтер");
        assert_eq!(t.description, "Принтер в бухгалтерии не печатает.");
        assert_eq!(t.state, "open");
        assert_eq!(t.status, StatusClass::InProgress);
        assert_eq!(t.assignee.as_deref(), Some("mivanova"));
        assert_eq!(t.resolution, None);
        assert_eq!(t.updated_at, datetime!(2026-11-21 12:06:40 UTC));
        let summary = samples::comment_ids_and_kinds(&t);
        assert_eq!(
            summary,
            [
                ("9102", Visibility::Public, Origin::Teledesk),
                ("9103", Visibility::Internal, Origin::Staff),
                ("9104", Visibility::Public, Origin::Staff),
                ("9105", Visibility::Internal, Origin::Staff),
                ("9106", Visibility::Internal, Origin::Teledesk),
                ("9107", Visibility::Public, Origin::Staff),
            ]
        );
        let own = &t.comments[0];
        assert_eq!(own.body, "Вот фото ошибки");
        assert_eq!(own.created_at, datetime!(2026-11-21 12:01:00 UTC));
        assert_eq!(own.attachments.len(), 1);
        assert_eq!(own.attachments[0].id, "4012:9102:1:customer");
        assert_eq!(
            own.attachments[0].content_type.as_deref(),
            Some("image/jpeg")
        );
        let reply = &t.comments[2];
        assert_eq!(reply.author, "Мария Иванова");
        assert_eq!(
            reply.body,
            "Здравствуйте! Заменили картридж, проверьте, пожалуйста."
        );
        assert_eq!(reply.attachments[0].file_name, "отчёт.pdf");
        assert_eq!(reply.attachments[0].size, Some(5));
        // An article without IncomingTime falls back to its naive CreateTime.
        assert_eq!(t.comments[1].created_at, datetime!(2026-11-21 12:03:10 UTC));
        assert_eq!(
            t.comments[4].body,
            "Ответ сотрудника не доставлен в Telegram"
        );
        // 9107 was written by a staff account and carries a marker (copied by hand): staff's,
        // by its author, and shown whole.
        assert_eq!(t.comments[5].author, "Мария Иванова");
        assert!(t.comments[5].body.ends_with("tg-key: tg:-1001234567890:45"));
    }

    #[test]
    fn status_falls_back_to_the_state_type() {
        let config = config(json!({}));
        let mut ticket = wire();
        for (state, state_type, class) in [
            ("new", "new", StatusClass::New),
            ("pending auto close+", "pending auto", StatusClass::Resolved),
            ("waiting for vendor", "open", StatusClass::WaitingThirdParty),
            ("closed with workaround", "closed", StatusClass::Closed),
            ("on hold", "pending reminder", StatusClass::WaitingClient),
            ("in triage", "open", StatusClass::InProgress),
        ] {
            ticket.state = state.into();
            ticket.state_type = state_type.into();
            assert_eq!(status_of(&config, &ticket), class, "{state}");
        }
    }

    #[test]
    fn resolution_prefers_the_field_then_the_closing_reply() {
        let with_field = config(json!({"resolution_field": "Resolution"}));
        let ctx = Context {
            config: &with_field,
            integration_user: 2,
        };
        let mut ticket = wire();
        assert_eq!(resolution_of(&ctx, &ticket, StatusClass::InProgress), None);
        assert_eq!(
            resolution_of(&ctx, &ticket, StatusClass::Closed).as_deref(),
            Some("Заменили картридж в принтере")
        );
        ticket.dynamic_fields.retain(|f| f.name != "Resolution");
        // The last public staff article is 9107, a staff account's text with a marker in it.
        assert_eq!(
            resolution_of(&ctx, &ticket, StatusClass::Closed).as_deref(),
            Some(
                "Анна Смирнова (@anna_s) (ООО Ромашка) via Telegram:\n\nСпасибо, работает\n\n---\ntg-key: tg:-1001234567890:45"
            )
        );
        ticket.articles.retain(|a| a.article_id != 9107);
        assert_eq!(
            resolution_of(&ctx, &ticket, StatusClass::Closed).as_deref(),
            Some("Здравствуйте! Заменили картридж, проверьте, пожалуйста.")
        );
    }

    #[test]
    fn nobody_and_teledesk_are_not_assignees() {
        let config = config(json!({}));
        let ctx = Context {
            config: &config,
            integration_user: 2,
        };
        let mut ticket = wire();
        ticket.owner_id = Some(NOBODY);
        ticket.owner = "root@localhost".into();
        assert_eq!(assignee_of(&ctx, &ticket), None);
        ticket.owner_id = Some(2);
        assert_eq!(assignee_of(&ctx, &ticket), None);
    }

    #[test]
    fn staff_address_comes_from_the_chat_field_unless_teledesk_wrote_the_ticket() {
        let addressing = config(json!({
            "chat_field": "TelegramChat", "announcement_field": "TelegramAnnouncement"
        }));
        let ctx = Context {
            config: &addressing,
            integration_user: 2,
        };
        let mut ticket = wire();
        ticket.create_by = Some(3);
        assert_eq!(address_of(&ctx, &ticket), None, "no chat set");
        let field = |name: &str, value: serde_json::Value| model::DynamicField {
            name: name.into(),
            value,
        };
        ticket.dynamic_fields = vec![
            field("TelegramChat", json!(" Acme ")),
            field("TelegramAnnouncement", serde_json::Value::Null),
        ];
        let address = |ticket: &model::Ticket| address_of(&ctx, ticket);
        assert_eq!(
            address(&ticket),
            Some(StaffAddress {
                chat: "Acme".into(),
                announcement: false
            })
        );
        for (value, announcement) in [
            (json!("1"), true),
            (json!(1), true),
            (json!(true), true),
            (json!("0"), false),
        ] {
            ticket.dynamic_fields[1] = field("TelegramAnnouncement", value.clone());
            assert_eq!(
                address(&ticket).map(|a| a.announcement),
                Some(announcement),
                "{value}"
            );
        }
        ticket.create_by = Some(2);
        assert_eq!(address(&ticket), None, "teledesk's own ticket");
        let unset = config(json!({}));
        let ctx = Context {
            config: &unset,
            integration_user: 2,
        };
        ticket.create_by = Some(3);
        assert_eq!(address_of(&ctx, &ticket), None, "no chat_field configured");
    }

    #[test]
    fn change_stamps_differ_within_one_second() {
        let ticket = wire();
        let first = change_stamp(offset!(+3), &ticket).expect("stamp");
        assert_eq!(
            first.replace_nanosecond(0).expect("ns"),
            datetime!(2026-11-21 12:06:40 UTC)
        );
        assert!(first.nanosecond() < 1_000_000);
        assert_eq!(change_stamp(offset!(+3), &ticket), Some(first));
        let mut replied = ticket.clone();
        let mut article = replied.articles[0].clone();
        article.article_id = 9999;
        replied.articles.push(article);
        assert_ne!(change_stamp(offset!(+3), &replied), Some(first));
        let mut moved = ticket.clone();
        moved.state = "closed successful".into();
        assert_ne!(change_stamp(offset!(+3), &moved), Some(first));
    }

    #[test]
    fn pending_states_are_recognised_by_name() {
        assert!(is_pending_state("pending reminder"));
        assert!(is_pending_state("Pending customer"));
        assert!(!is_pending_state("open"));
    }

    #[test]
    fn titles_fit_znunys_column_and_subjects_are_shorter() {
        let d = TicketDraft {
            subject: "я".repeat(300),
            ..samples::draft(42)
        };
        assert_eq!(title_of(&d).chars().count(), 255);
        assert_eq!(description_subject(&d).chars().count(), 120);
    }
}
