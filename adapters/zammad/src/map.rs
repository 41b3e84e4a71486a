//! Wire ↔ domain: the texts teledesk writes into Zammad, how tickets and articles read back, the
//! status map, escalation steps and webhook signatures.

use crate::model;
use hmac::{Hmac, Mac};
use std::collections::BTreeMap;
use teledesk_adapter::http::Base64Files;
use teledesk_adapter::text::{
    self, BlockShape, FOLLOW_UP_LABEL, REGISTERED_LABEL, SOURCE_LABEL, TELEGRAM_LABEL,
};
use teledesk_adapter::{
    Attachment, AttachmentRef, Comment, CommentDraft, CommentId, IdempotencyKey, Origin,
    StaffAddress, StatusClass, Ticket, TicketDraft, TicketId, TicketRef, Visibility,
};
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// Ends every message id teledesk writes (`<tg:-100123:45@teledesk>`), so its articles are
/// recognised even when the author check cannot work (`X-On-Behalf-Of`).
pub const MESSAGE_ID_SUFFIX: &str = "@teledesk>";

/// Zammad's title column holds 250 characters.
pub const MAX_TITLE_CHARS: usize = 250;

/// The system user: a ticket owned by it has no owner.
pub const SYSTEM_USER: i64 = 1;

/// The block appended to what teledesk writes: a signature delimiter, then labelled lines.
const BLOCK_SEPARATOR: &str = "--";
const BLOCK: BlockShape<'static> = BlockShape {
    separator: BLOCK_SEPARATOR,
    first: TELEGRAM_LABEL,
    more: &[REGISTERED_LABEL, SOURCE_LABEL, FOLLOW_UP_LABEL],
};

/// The longest entity name [`html_to_text`] decodes, in bytes.
const LONGEST_ENTITY: usize = 9;

/// The line an escalation note ends with, so a retried escalation knows what the first attempt did.
const PRIORITY_LINE: &str = "Priority: ";
const PRIORITY_ARROW: &str = " → ";
const PRIORITY_TOP: &str = " (already the highest)";

/// Zammad's default states and the classes they stand for; `statuses` overrides them.
///
/// "pending close" closes by itself at its pending time unless the client answers: staff consider
/// the ticket solved, which is [`StatusClass::Resolved`].
pub const DEFAULT_STATUSES: [(&str, StatusClass); 7] = [
    ("new", StatusClass::New),
    ("open", StatusClass::InProgress),
    ("pending reminder", StatusClass::WaitingClient),
    ("pending close", StatusClass::Resolved),
    ("closed", StatusClass::Closed),
    ("merged", StatusClass::Closed),
    ("removed", StatusClass::Closed),
];

/// The class of a state by name: the `statuses` table first, then [`DEFAULT_STATUSES`].
pub fn class_by_name(name: &str, overrides: &BTreeMap<String, StatusClass>) -> Option<StatusClass> {
    overrides.get(name).copied().or_else(|| {
        DEFAULT_STATUSES
            .iter()
            .find(|(state, _)| *state == name)
            .map(|(_, class)| *class)
    })
}

/// The class of a state Zammad's admin added, by its state type (`ticket_state_types`).
pub fn class_by_type(state_type_id: i64) -> StatusClass {
    match state_type_id {
        1 => StatusClass::New,
        3 => StatusClass::WaitingClient,
        4 => StatusClass::Resolved,
        5..=7 => StatusClass::Closed,
        // 2 (open), and any type Zammad may add, means someone works on it.
        _ => StatusClass::InProgress,
    }
}

/// The state `set_status` writes for `class`: a state the `statuses` table maps to it, else the
/// default one. `None` when only a pending state would do: those need a `pending_time`, which
/// teledesk has no way to choose.
pub fn target_state(
    class: StatusClass,
    overrides: &BTreeMap<String, StatusClass>,
) -> Option<String> {
    let configured = overrides
        .iter()
        .find(|(name, c)| **c == class && !name.starts_with("pending"))
        .map(|(name, _)| name.clone());
    configured.or_else(|| {
        let default = match class {
            StatusClass::New => "new",
            // Zammad itself reopens a pending ticket to "open" when the customer writes.
            StatusClass::InProgress | StatusClass::ClientReplied => "open",
            StatusClass::Closed => "closed",
            _ => return None,
        };
        Some(default.to_owned())
    })
}

/// One step of escalation on the configured priority ladder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Move to this priority id.
    Raise(i64),
    /// Already on the top rung.
    AlreadyHighest,
}

/// The next priority above `current`. A priority not on the ladder goes to its top: whoever set it
/// by hand, an escalation asks for attention.
pub fn next_priority(current: i64, ladder: &[i64]) -> Step {
    let top = ladder.last().copied().unwrap_or(current);
    match ladder.iter().position(|id| *id == current) {
        Some(at) if at + 1 < ladder.len() => Step::Raise(ladder[at + 1]),
        Some(_) => Step::AlreadyHighest,
        None if current == top => Step::AlreadyHighest,
        None => Step::Raise(top),
    }
}

/// The escalation note: staff's text plus the priority change it comes with.
pub fn escalation_body(body: &str, from: &str, to: Option<&str>) -> String {
    let line = match to {
        Some(to) => format!("{PRIORITY_LINE}{from}{PRIORITY_ARROW}{to}"),
        None => format!("{PRIORITY_LINE}{from}{PRIORITY_TOP}"),
    };
    format!("{}\n\n{line}", body.trim_end())
}

/// What an earlier escalation note says it did: `Some(Some(to))` raised to `to`, `Some(None)`
/// found the top, `None` the text carries no priority line.
pub fn escalation_of(body: &str) -> Option<Option<String>> {
    let line = body.lines().rev().find(|l| l.starts_with(PRIORITY_LINE))?;
    let rest = &line[PRIORITY_LINE.len()..];
    if rest.ends_with(PRIORITY_TOP) {
        return Some(None);
    }
    let (_, to) = rest.split_once(PRIORITY_ARROW)?;
    Some(Some(to.trim().to_owned()))
}

/// The message id that carries `key`.
pub fn message_id(key: &IdempotencyKey) -> String {
    format!("<{key}{MESSAGE_ID_SUFFIX}")
}

/// A time as Zammad writes its own: UTC with milliseconds and `Z`.
pub fn query_time(at: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.to_offset(UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// The search for tickets updated at or after `from`.
///
/// A bracketed range, because in the `>=` shorthand Elasticsearch's query-string syntax would need
/// every `:` of the time escaped; inside brackets it does not.
pub fn changes_query(from: OffsetDateTime) -> String {
    format!("updated_at:[{} TO *]", query_time(from))
}

/// The search for the ticket whose `note` holds `key` (a phrase: the key contains `:` and `-`).
pub fn key_query(key: &IdempotencyKey) -> String {
    let escaped = key.as_str().replace('\\', "\\\\").replace('"', "\\\"");
    format!("note:\"{escaped}\"")
}

/// The agent UI link of a ticket.
pub fn ticket_url(site: &str, id: i64) -> String {
    format!("{site}/#ticket/zoom/{id}")
}

/// The reference teledesk stores for a ticket.
pub fn ticket_ref(site: &str, id: i64, number: &str) -> TicketRef {
    TicketRef {
        id: TicketId(id.to_string()),
        number: number.to_owned(),
        url: Some(ticket_url(site, id)),
    }
}

/// The ticket title: the subject, else the description's first line, cut to Zammad's limit.
pub fn title_of(draft: &TicketDraft) -> String {
    text::ticket_title(&draft.subject, &draft.description, MAX_TITLE_CHARS)
}

/// The first article of a ticket: the client's description, then a block staff read the requester
/// from (Zammad's customer is a mailbox, not the Telegram person), with the exact registration time
/// and, for a follow-up, the closed ticket it continues.
pub fn ticket_body(draft: &TicketDraft) -> String {
    let block = text::requester_lines(draft, FOLLOW_UP_LABEL);
    text::with_block(draft.description.trim(), BLOCK_SEPARATOR, &block)
}

/// A client comment: the text, then who wrote it and where.
pub fn comment_body(draft: &CommentDraft) -> String {
    let mut block = vec![format!(
        "{TELEGRAM_LABEL}{}",
        text::requester_line(&draft.author)
    )];
    if let Some(source) = &draft.source_url {
        block.push(format!("{SOURCE_LABEL}{source}"));
    }
    text::with_block(draft.body.trim(), BLOCK_SEPARATOR, &block)
}

/// The text without the block [`ticket_body`] or [`comment_body`] appended; text staff added after
/// the block is kept.
pub fn strip_block(text: &str) -> String {
    text::strip_block(text, &BLOCK)
}

/// Files for an article: base64 inside the JSON, as Zammad's API takes them. Each `data` is a
/// placeholder of `files`, whose base64 replaces it as the request is sent (no file is read here).
pub fn new_attachments(
    files: &[Attachment],
    embedded: &mut Base64Files,
) -> Vec<model::NewAttachment> {
    files
        .iter()
        .map(|file| model::NewAttachment {
            filename: file.file_name.clone(),
            data: embedded.embed(&file.content),
            mime_type: if file.content_type.trim().is_empty() {
                "application/octet-stream".to_owned()
            } else {
                file.content_type.clone()
            },
        })
        .collect()
}

/// HTML articles (the agent UI writes HTML) as plain text: tags dropped, block ends and `<br>` as
/// line breaks, `<style>`/`<script>` contents skipped, entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&text::decode_entities(&rest[..open], LONGEST_ENTITY));
        let Some(close) = rest[open..].find('>') else {
            out.push_str(&text::decode_entities(&rest[open..], LONGEST_ENTITY));
            rest = "";
            break;
        };
        let tag = rest[open + 1..open + close].trim().to_ascii_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        rest = &rest[open + close + 1..];
        if !tag.starts_with('/') && (name == "style" || name == "script") {
            let end = format!("</{name}");
            match rest.to_ascii_lowercase().find(&end) {
                Some(at) => rest = &rest[at..],
                None => rest = "",
            }
            continue;
        }
        let breaks = name == "br"
            || (tag.starts_with('/')
                && matches!(
                    name.as_str(),
                    "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "blockquote"
                ));
        if breaks {
            out.push('\n');
        }
    }
    out.push_str(&text::decode_entities(rest, LONGEST_ENTITY));
    let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
    lines.join("\n").trim().to_owned()
}

/// An article's body as plain text.
pub fn plain_body(article: &model::Article) -> String {
    let html = article
        .content_type
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().contains("html"));
    if html {
        html_to_text(&article.body)
    } else {
        article.body.trim().to_owned()
    }
}

/// The author's name from `from` (`Мария Иванова`, `"Ann" <ann@x>`, `Ann <ann@x>`).
pub fn author_of(article: &model::Article) -> String {
    let from = article.from.as_deref().unwrap_or_default().trim();
    let name = match from.find('<') {
        Some(at) if from.ends_with('>') => {
            let name = from[..at].trim().trim_matches('"').trim();
            if name.is_empty() {
                from[at + 1..from.len() - 1].trim()
            } else {
                name
            }
        }
        _ => from,
    };
    if name.is_empty() {
        format!("Zammad user {}", article.created_by_id)
    } else {
        name.to_owned()
    }
}

/// A user's display name: first and last name, else the login.
pub fn user_name(user: &model::User) -> String {
    let name = format!(
        "{} {}",
        user.firstname.as_deref().unwrap_or_default().trim(),
        user.lastname.as_deref().unwrap_or_default().trim()
    );
    let name = name.trim();
    if !name.is_empty() {
        return name.to_owned();
    }
    user.login
        .clone()
        .or_else(|| user.email.clone())
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| format!("Zammad user {}", user.id))
}

/// The id of a downloadable file: `<ticket>/<article>/<file>`, the path segments of
/// `/ticket_attachment/...`.
pub fn attachment_id(ticket_id: i64, article_id: i64, file_id: i64) -> String {
    format!("{ticket_id}/{article_id}/{file_id}")
}

/// Parses [`attachment_id`] back.
pub fn parse_attachment_id(id: &str) -> Option<(i64, i64, i64)> {
    let mut parts = id
        .split('/')
        .map(|p| p.parse::<i64>().ok().filter(|n| *n > 0));
    let ids = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(ids)
}

fn attachment_ref(
    site: &str,
    article: &model::Article,
    file: &model::ArticleAttachment,
) -> AttachmentRef {
    let content_type = ["Mime-Type", "Content-Type"]
        .iter()
        .find_map(|key| file.preferences.get(*key).and_then(|v| v.as_str()))
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
        .filter(|v| !v.is_empty());
    AttachmentRef {
        id: attachment_id(article.ticket_id, article.id, file.id),
        file_name: file.filename.clone(),
        content_type,
        size: file.size,
        url: Some(format!(
            "{site}/api/v1/ticket_attachment/{}/{}/{}",
            article.ticket_id, article.id, file.id
        )),
    }
}

/// Everything besides the payloads that mapping a ticket needs.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The site, for links.
    pub site: &'a str,
    /// The integration user's id: its articles are teledesk's own.
    pub integration_user: i64,
    /// The custom attribute holding the resolution.
    pub resolution_field: Option<&'a str>,
    /// The custom attributes staff address a ticket to a chat with, and mark it an
    /// announcement with.
    pub address_fields: (Option<&'a str>, Option<&'a str>),
}

fn is_own(ctx: &Context<'_>, article: &model::Article) -> bool {
    // Client comments go in as `Customer` articles, yet `created_by_id` stays the integration
    // user whose token wrote them, so it is the writer's identity. A message id is not: an inbound
    // e-mail carries whatever `Message-ID` its sender chose, `<tg:…@teledesk>` included.
    article.created_by_id == ctx.integration_user
}

fn is_staff_reply(ctx: &Context<'_>, article: &model::Article) -> bool {
    !article.internal && article.sender.as_deref() == Some("Agent") && !is_own(ctx, article)
}

/// One article read back.
///
/// Public staff replies are `sender == "Agent"` and not internal. `System` articles (auto-replies,
/// trigger notifications) are no staff reply to forward, so they come back internal.
pub fn to_comment(ctx: &Context<'_>, article: &model::Article) -> Comment {
    let own = is_own(ctx, article);
    let sender = article.sender.as_deref().unwrap_or_default();
    let (origin, visibility) = if own {
        let visibility = if article.internal {
            Visibility::Internal
        } else {
            Visibility::Public
        };
        (Origin::Teledesk, visibility)
    } else {
        match (sender, article.internal) {
            (_, true) => (
                if sender == "Customer" {
                    Origin::Requester
                } else {
                    Origin::Staff
                },
                Visibility::Internal,
            ),
            ("Agent", false) => (Origin::Staff, Visibility::Public),
            ("Customer", false) => (Origin::Requester, Visibility::Public),
            _ => (Origin::Staff, Visibility::Internal),
        }
    };
    let plain = plain_body(article);
    Comment {
        id: CommentId(article.id.to_string()),
        author: author_of(article),
        body: if own { strip_block(&plain) } else { plain },
        visibility,
        origin,
        created_at: article.created_at.to_offset(UtcOffset::UTC),
        attachments: article
            .attachments
            .iter()
            .map(|f| attachment_ref(ctx.site, article, f))
            .collect(),
    }
}

fn resolution_of(
    ctx: &Context<'_>,
    ticket: &model::Ticket,
    articles: &[&model::Article],
    status: StatusClass,
) -> Option<String> {
    if let Some(field) = ctx.resolution_field {
        let text = match ticket.attributes.get(field)? {
            serde_json::Value::Null => return None,
            serde_json::Value::String(s) => {
                let looks_html = s.contains("</") || s.contains("<br");
                if looks_html {
                    html_to_text(s)
                } else {
                    s.trim().to_owned()
                }
            }
            other => other.to_string(),
        };
        return (!text.is_empty()).then_some(text);
    }
    if !status.is_done() {
        return None;
    }
    articles
        .iter()
        .rev()
        .find(|a| is_staff_reply(ctx, a))
        .map(|a| plain_body(a))
        .filter(|t| !t.is_empty())
}

/// The chat staff addressed a ticket to in the `chat_field` attribute (text, select or a number),
/// and whether the `announcement_field` attribute (a boolean) marks it as a notice.
///
/// A ticket the integration user created is teledesk's own, whatever its attributes say: a
/// chat's `attributes` may well write the chat into the same one.
pub fn address_of(ctx: &Context<'_>, ticket: &model::Ticket) -> Option<StaffAddress> {
    let (chat_field, announcement_field) = ctx.address_fields;
    let chat = chat_named(chat_field, ticket)?;
    let created_by = ticket
        .attributes
        .get("created_by_id")
        .and_then(serde_json::Value::as_i64);
    if chat.is_empty() || created_by == Some(ctx.integration_user) {
        return None;
    }
    let announcement = announcement_field
        .and_then(|field| ticket.attributes.get(field))
        .is_some_and(|value| match value {
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::Number(n) => n.as_i64() == Some(1),
            serde_json::Value::String(s) => {
                matches!(
                    s.trim().to_lowercase().as_str(),
                    "1" | "true" | "yes" | "да"
                )
            }
            _ => false,
        });
    Some(StaffAddress { chat, announcement })
}

/// A ticket and its articles as a domain ticket. The first article is the description, the rest
/// are the comments.
pub fn to_ticket(
    ctx: &Context<'_>,
    ticket: &model::Ticket,
    articles: &[model::Article],
    status: StatusClass,
    assignee: Option<String>,
) -> Ticket {
    let mut articles: Vec<&model::Article> = articles.iter().collect();
    articles.sort_by_key(|a| (a.created_at, a.id));
    let description = articles
        .first()
        .map(|first| {
            let plain = plain_body(first);
            if is_own(ctx, first) {
                strip_block(&plain)
            } else {
                plain
            }
        })
        .unwrap_or_default();
    Ticket {
        reference: ticket_ref(ctx.site, ticket.id, &ticket.number),
        subject: ticket.title.clone(),
        description,
        state: ticket
            .state
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("state {}", ticket.state_id)),
        status,
        assignee,
        resolution: resolution_of(ctx, ticket, &articles, status),
        updated_at: ticket.updated_at.to_offset(UtcOffset::UTC),
        comments: articles
            .iter()
            .skip(1)
            .map(|a| to_comment(ctx, a))
            .collect(),
        addressed_to: address_of(ctx, ticket),
        due: teledesk_adapter::DueTimes {
            respond_by: ticket.first_response_escalation_at,
            resolve_by: ticket.close_escalation_at,
        },
        priority: None,
    }
}

/// The chat the ticket's `chat_field` attribute names, as staff typed it (maybe empty).
pub fn chat_named(chat_field: Option<&str>, ticket: &model::Ticket) -> Option<String> {
    match ticket.attributes.get(chat_field?)? {
        serde_json::Value::String(s) => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether `header` (`X-Hub-Signature: sha1=<hex>`) is the HMAC-SHA1 of `body` under `secret`,
/// compared in constant time.
pub fn signature_valid(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(header) = header.map(str::trim) else {
        return false;
    };
    let Some(hex_digest) = header
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("sha1="))
        .map(|_| &header[5..])
    else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The `X-Hub-Signature` value Zammad sends for `body` (for tests and fakes of the sender side).
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length; the error arm cannot happen.
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The ticket a webhook body names (`ticket.id` of the default payload).
pub fn webhook_ticket(body: &[u8]) -> Result<TicketId, String> {
    let parsed: model::WebhookBody =
        serde_json::from_slice(body).map_err(|e| format!("not a Zammad webhook body: {e}"))?;
    let id = parsed.ticket.id.trim();
    match id.parse::<i64>() {
        Ok(n) if n > 0 => Ok(TicketId(n.to_string())),
        _ => Err(format!("ticket.id {id:?} is not a ticket id")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teledesk_testkit::samples::{self, round_trip};
    use time::macros::datetime;

    const ARTICLES: &str = include_str!("../../../fixtures/zammad/articles_by_ticket.json");
    const ARTICLE_CREATED: &str = include_str!("../../../fixtures/zammad/article_created.json");
    const TICKET: &str = include_str!("../../../fixtures/zammad/ticket_expanded.json");
    const TICKET_CREATED: &str = include_str!("../../../fixtures/zammad/ticket_created.json");
    const SEARCH: &str = include_str!("../../../fixtures/zammad/tickets_search_expanded.json");
    const ME: &str = include_str!("../../../fixtures/zammad/users_me.json");
    const AGENT: &str = include_str!("../../../fixtures/zammad/user_agent.json");
    const STATES: &str = include_str!("../../../fixtures/zammad/ticket_states.json");
    const PRIORITIES: &str = include_str!("../../../fixtures/zammad/ticket_priorities.json");
    const LINKS: &str = include_str!("../../../fixtures/zammad/links.json");
    const WEBHOOK: &str = include_str!("../../../fixtures/zammad/webhook_payload.json");

    /// The recorded ticket, from the client the Zammad fixtures know.
    fn draft() -> TicketDraft {
        TicketDraft {
            requester: samples::acme_requester(),
            ..samples::recorded_draft()
        }
    }

    fn ctx() -> Context<'static> {
        Context {
            site: "https://support.acme.example",
            integration_user: 3,
            resolution_field: None,
            address_fields: (None, None),
        }
    }

    #[test]
    fn staff_address_comes_from_the_chat_attribute_unless_teledesk_wrote_the_ticket() {
        use serde_json::json;
        let addressing = Context {
            address_fields: (Some("telegram_chat"), Some("telegram_announcement")),
            ..ctx()
        };
        let mut ticket: model::Ticket = serde_json::from_str(TICKET).expect("ticket");
        ticket.attributes.insert("created_by_id".into(), json!(4));
        assert_eq!(address_of(&addressing, &ticket), None, "no attribute");
        for (chat, read) in [
            (json!(" Acme "), Some("Acme")),
            (json!(-1001234567890_i64), Some("-1001234567890")),
            (json!(""), None),
            (json!(null), None),
            (json!(["Acme"]), None),
        ] {
            ticket
                .attributes
                .insert("telegram_chat".into(), chat.clone());
            assert_eq!(
                address_of(&addressing, &ticket).map(|a| a.chat),
                read.map(str::to_owned),
                "{chat}"
            );
        }
        ticket
            .attributes
            .insert("telegram_chat".into(), json!("Acme"));
        for (value, announcement) in [
            (json!(true), true),
            (json!(false), false),
            (json!(null), false),
            (json!("true"), true),
        ] {
            ticket
                .attributes
                .insert("telegram_announcement".into(), value.clone());
            assert_eq!(
                address_of(&addressing, &ticket).map(|a| a.announcement),
                Some(announcement),
                "{value}"
            );
        }
        ticket.attributes.insert("created_by_id".into(), json!(3));
        assert_eq!(
            address_of(&addressing, &ticket),
            None,
            "teledesk's own ticket"
        );
        ticket.attributes.insert("created_by_id".into(), json!(4));
        assert_eq!(
            address_of(&ctx(), &ticket),
            None,
            "no chat_field configured"
        );
    }

    fn ticket_with(status: StatusClass, ctx: &Context<'_>) -> Ticket {
        let ticket: model::Ticket = serde_json::from_str(TICKET).expect("ticket");
        let articles: Vec<model::Article> = serde_json::from_str(ARTICLES).expect("articles");
        to_ticket(
            ctx,
            &ticket,
            &articles,
            status,
            Some("Мария Иванова".into()),
        )
    }

    #[test]
    fn fixtures_parse() {
        let ticket: model::Ticket = round_trip(TICKET);
        assert_eq!((ticket.id, ticket.number.as_str()), (101, "31001"));
        assert_eq!(ticket.updated_at, datetime!(2026-11-21 12:05:13.457 UTC));
        assert_eq!(ticket.state.as_deref(), Some("open"));
        assert_eq!(ticket.attributes["resolution"], "Заменили картридж");
        let created: model::Ticket = round_trip(TICKET_CREATED);
        assert_eq!(created.note.as_deref(), Some("tg:-1001234567890:42"));
        assert!(created.state.is_none());
        let found: Vec<model::Ticket> = round_trip(SEARCH);
        assert_eq!(found.len(), 2);
        let articles: Vec<model::Article> = round_trip(ARTICLES);
        assert_eq!(articles.len(), 6);
        assert_eq!(articles[0].attachments[0].size, Some(4));
        let article: model::Article = round_trip(ARTICLE_CREATED);
        assert_eq!(article.id, 507);
        let me: model::User = round_trip(ME);
        assert_eq!(user_name(&me), "teledesk bot");
        let agent: model::User = round_trip(AGENT);
        assert_eq!(user_name(&agent), "Мария Иванова");
        let states: Vec<model::State> = round_trip(STATES);
        assert_eq!(states.len(), 8);
        let priorities: Vec<model::Priority> = round_trip(PRIORITIES);
        assert_eq!(priorities[2].name, "3 high");
        let links: model::Links = round_trip(LINKS);
        assert_eq!(links.links[0].link_object_value, 101);
    }

    #[test]
    fn default_states_map_by_name_and_custom_ones_by_type() {
        let none = BTreeMap::new();
        for (name, class) in DEFAULT_STATUSES {
            assert_eq!(class_by_name(name, &none), Some(class), "{name}");
        }
        assert_eq!(class_by_name("waiting for vendor", &none), None);
        let states: Vec<model::State> = serde_json::from_str(STATES).expect("states");
        for state in &states {
            // The default states' types agree with the name map.
            if let Some(class) = class_by_name(&state.name, &none) {
                assert_eq!(class_by_type(state.state_type_id), class, "{}", state.name);
            }
        }
        assert_eq!(class_by_type(2), StatusClass::InProgress);
        assert_eq!(class_by_type(99), StatusClass::InProgress);
        let overrides = BTreeMap::from([("pending close".to_owned(), StatusClass::Closed)]);
        assert_eq!(
            class_by_name("pending close", &overrides),
            Some(StatusClass::Closed)
        );
    }

    #[test]
    fn target_states_avoid_pending_ones() {
        let none = BTreeMap::new();
        assert_eq!(
            target_state(StatusClass::InProgress, &none).as_deref(),
            Some("open")
        );
        assert_eq!(
            target_state(StatusClass::ClientReplied, &none).as_deref(),
            Some("open")
        );
        assert_eq!(
            target_state(StatusClass::New, &none).as_deref(),
            Some("new")
        );
        assert_eq!(
            target_state(StatusClass::Closed, &none).as_deref(),
            Some("closed")
        );
        assert_eq!(target_state(StatusClass::WaitingClient, &none), None);
        assert_eq!(target_state(StatusClass::Resolved, &none), None);
        let overrides = BTreeMap::from([
            ("customer replied".to_owned(), StatusClass::ClientReplied),
            ("pending vendor".to_owned(), StatusClass::WaitingThirdParty),
        ]);
        assert_eq!(
            target_state(StatusClass::ClientReplied, &overrides).as_deref(),
            Some("customer replied")
        );
        assert_eq!(
            target_state(StatusClass::WaitingThirdParty, &overrides),
            None
        );
    }

    #[test]
    fn priorities_step_up_the_ladder() {
        assert_eq!(next_priority(1, &[1, 2, 3]), Step::Raise(2));
        assert_eq!(next_priority(2, &[1, 2, 3]), Step::Raise(3));
        assert_eq!(next_priority(3, &[1, 2, 3]), Step::AlreadyHighest);
        assert_eq!(next_priority(7, &[1, 2, 3]), Step::Raise(3));
        assert_eq!(next_priority(4, &[4, 1, 2]), Step::Raise(1));
    }

    #[test]
    fn escalation_notes_say_what_they_did() {
        let raised = escalation_body("Обратите внимание.\n", "1 low", Some("2 normal"));
        assert_eq!(raised, "Обратите внимание.\n\nPriority: 1 low → 2 normal");
        assert_eq!(escalation_of(&raised), Some(Some("2 normal".into())));
        let top = escalation_body("Эскалация", "3 high", None);
        assert_eq!(escalation_of(&top), Some(None));
        assert_eq!(escalation_of("no line"), None);
    }

    #[test]
    fn message_ids_carry_the_key() {
        let key = IdempotencyKey::telegram(-100, 5);
        assert_eq!(message_id(&key), "<tg:-100:5@teledesk>");
    }

    #[test]
    fn queries_are_utc_with_milliseconds() {
        assert_eq!(
            query_time(datetime!(2026-11-21 15:00:00.1234 +3)),
            "2026-11-21T12:00:00.123Z"
        );
        assert_eq!(
            changes_query(datetime!(2026-11-21 12:00:00 UTC)),
            "updated_at:[2026-11-21T12:00:00.000Z TO *]"
        );
        assert_eq!(
            key_query(&IdempotencyKey::telegram(-100, 5)),
            "note:\"tg:-100:5\""
        );
        assert_eq!(
            key_query(&IdempotencyKey("a\"b\\c".into())),
            "note:\"a\\\"b\\\\c\""
        );
    }

    #[test]
    fn ticket_body_carries_the_requester_and_strips_back() {
        let text = ticket_body(&draft());
        assert_eq!(
            text,
            "Принтер в бухгалтерии не печатает.\n\n--\n\
             Telegram: Анна Смирнова (@anna_smirnova), id 500001, Acme Kazan\n\
             Registered (UTC): 2026-11-21T11:58:00.5Z\n\
             Source: https://t.me/c/1234567890/42"
        );
        assert_eq!(strip_block(&text), "Принтер в бухгалтерии не печатает.");
    }

    #[test]
    fn follow_up_names_the_closed_ticket() {
        let mut d = draft();
        d.follow_up_of = Some(ticket_ref("https://z", 101, "31001"));
        let text = ticket_body(&d);
        assert!(text.ends_with("\nFollow-up of: #31001"), "{text}");
        assert_eq!(strip_block(&text), "Принтер в бухгалтерии не печатает.");
    }

    #[test]
    fn empty_texts_are_only_the_block_and_strip_to_nothing() {
        let mut d = draft();
        d.description = String::new();
        d.source_url = None;
        let text = ticket_body(&d);
        assert!(text.starts_with("--\nTelegram:"), "{text}");
        assert_eq!(strip_block(&text), "");
    }

    #[test]
    fn comment_body_and_staff_text_after_the_block() {
        let draft = CommentDraft {
            author: samples::acme_requester(),
            ..samples::linked_comment(43, "Вот фото ошибки")
        };
        let text = comment_body(&draft);
        assert_eq!(
            text,
            "Вот фото ошибки\n\n--\nTelegram: Анна Смирнова (@anna_smirnova), id 500001, \
             Acme Kazan\nSource: https://t.me/c/1234567890/43"
        );
        let edited = format!("{text}\n\nДобавлено поддержкой");
        assert_eq!(
            strip_block(&edited),
            "Вот фото ошибки\n\nДобавлено поддержкой"
        );
        assert_eq!(strip_block("a\n\n--\nb"), "a\n\n--\nb");
    }

    #[tokio::test]
    async fn attachments_are_base64_with_a_mime_type() {
        let mut embedded = Base64Files::new();
        let files = new_attachments(
            &[Attachment {
                file_name: "a.bin".into(),
                content_type: String::new(),
                content: vec![0, 255, 10].into(),
            }],
            &mut embedded,
        );
        assert_eq!(files[0].mime_type, "application/octet-stream");
        let body = embedded.into_json("test", &files).expect("a body");
        let mut json = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut body.reader(), &mut json)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&json).expect("json");
        assert_eq!(json[0]["data"], "AP8K");
        assert_eq!(json[0]["mime-type"], "application/octet-stream");
    }

    #[test]
    fn html_becomes_plain_text() {
        assert_eq!(
            html_to_text(
                "<div>Здравствуйте!</div><div>Заменили картридж &amp; бумагу,<br>проверьте.</div>"
            ),
            "Здравствуйте!\nЗаменили картридж & бумагу,\nпроверьте."
        );
        assert_eq!(
            html_to_text("<style>p{color:red}</style><p>a&nbsp;b &#8212; &#x41; &bogus; &</p>"),
            "a b — A &bogus; &"
        );
    }

    #[test]
    fn authors_come_from_the_from_field() {
        let mut articles: Vec<model::Article> = serde_json::from_str(ARTICLES).expect("articles");
        assert_eq!(author_of(&articles[2]), "Мария Иванова");
        assert_eq!(author_of(&articles[4]), "Anna Smirnova");
        articles[4].from = Some("<anna@acme-kazan.example>".into());
        assert_eq!(author_of(&articles[4]), "anna@acme-kazan.example");
        articles[4].from = Some("\"Ann B\" <ann@x.example>".into());
        assert_eq!(author_of(&articles[4]), "Ann B");
        articles[4].from = None;
        assert_eq!(author_of(&articles[4]), "Zammad user 100");
    }

    #[test]
    fn ticket_maps_fields_and_description() {
        let t = ticket_with(StatusClass::InProgress, &ctx());
        assert_eq!(t.reference.id.0, "101");
        assert_eq!(t.reference.number, "31001");
        assert_eq!(
            t.reference.url.as_deref(),
            Some("https://support.acme.example/#ticket/zoom/101")
        );
        assert_eq!(t.subject, "Не печатает принтер");
        assert_eq!(t.description, "Принтер в бухгалтерии не печатает.");
        assert_eq!(t.state, "open");
        assert_eq!(t.assignee.as_deref(), Some("Мария Иванова"));
        assert_eq!(t.resolution, None, "not done and no resolution field");
        assert_eq!(t.updated_at, datetime!(2026-11-21 12:05:13.457 UTC));
    }

    #[test]
    fn articles_are_classified_by_visibility_and_origin() {
        let t = ticket_with(StatusClass::InProgress, &ctx());
        let summary = samples::comment_ids_and_kinds(&t);
        assert_eq!(
            summary,
            [
                ("502", Visibility::Internal, Origin::Staff),
                ("503", Visibility::Public, Origin::Staff),
                ("504", Visibility::Public, Origin::Teledesk),
                ("505", Visibility::Public, Origin::Requester),
                ("506", Visibility::Internal, Origin::Staff),
            ]
        );
        assert_eq!(
            t.comments[1].body,
            "Здравствуйте!\nЗаменили картридж & бумагу,\nпроверьте, пожалуйста."
        );
        assert_eq!(t.comments[1].author, "Мария Иванова");
        assert_eq!(t.comments[2].body, "Вот фото ошибки");
        let file = &t.comments[1].attachments[0];
        assert_eq!(file.id, "101/503/902");
        assert_eq!(file.file_name, "отчёт.pdf");
        assert_eq!(file.content_type.as_deref(), Some("application/pdf"));
        assert_eq!(file.size, Some(5));
        assert_eq!(
            file.url.as_deref(),
            Some("https://support.acme.example/api/v1/ticket_attachment/101/503/902")
        );
    }

    #[test]
    fn only_the_integration_user_makes_an_article_own() {
        let mut articles: Vec<model::Article> = serde_json::from_str(ARTICLES).expect("articles");
        assert_eq!(to_comment(&ctx(), &articles[3]).origin, Origin::Teledesk);
        // Anyone sending mail chooses its Message-ID, teledesk's form included.
        articles[3].created_by_id = 77;
        let c = to_comment(&ctx(), &articles[3]);
        assert_eq!(c.origin, Origin::Requester);
    }

    #[test]
    fn resolution_is_the_last_public_staff_reply_of_a_done_ticket() {
        let t = ticket_with(StatusClass::Closed, &ctx());
        assert_eq!(
            t.resolution.as_deref(),
            Some("Здравствуйте!\nЗаменили картридж & бумагу,\nпроверьте, пожалуйста.")
        );
    }

    #[test]
    fn resolution_field_wins_when_configured() {
        let ctx = Context {
            resolution_field: Some("resolution"),
            address_fields: (None, None),
            ..ctx()
        };
        let t = ticket_with(StatusClass::InProgress, &ctx);
        assert_eq!(t.resolution.as_deref(), Some("Заменили картридж"));
        let ctx = Context {
            resolution_field: Some("missing_field"),
            address_fields: (None, None),
            ..ctx
        };
        assert_eq!(ticket_with(StatusClass::Closed, &ctx).resolution, None);
    }

    #[test]
    fn attachment_ids_round_trip() {
        assert_eq!(attachment_id(1, 2, 3), "1/2/3");
        assert_eq!(parse_attachment_id("1/2/3"), Some((1, 2, 3)));
        for bad in ["1/2", "1/2/3/4", "a/2/3", "0/1/2", ""] {
            assert_eq!(parse_attachment_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let body = WEBHOOK.as_bytes();
        let header = signature("hook-secret", body);
        assert!(header.starts_with("sha1="));
        assert_eq!(header.len(), 5 + 40);
        assert!(signature_valid("hook-secret", body, Some(&header)));
        assert!(signature_valid(
            "hook-secret",
            body,
            Some(&header.replacen("sha1=", "SHA1=", 1))
        ));
        let mut tampered = body.to_vec();
        tampered.push(b' ');
        assert!(!signature_valid("hook-secret", &tampered, Some(&header)));
        assert!(!signature_valid("other", body, Some(&header)));
        assert!(!signature_valid("hook-secret", body, None));
        assert!(!signature_valid("hook-secret", body, Some("sha1=zz")));
        assert!(!signature_valid("hook-secret", body, Some(&header[5..])));
        let sha256 = header.replacen("sha1=", "sha256=", 1);
        assert!(!signature_valid("hook-secret", body, Some(&sha256)));
    }

    #[test]
    fn a_known_hmac_sha1_vector() {
        // RFC 2202 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn webhook_bodies_name_their_ticket() {
        assert_eq!(
            webhook_ticket(WEBHOOK.as_bytes()),
            Ok(TicketId("101".into()))
        );
        assert_eq!(
            webhook_ticket(br#"{"ticket": {"id": "7", "title": "custom payload"}}"#),
            Ok(TicketId("7".into()))
        );
        assert!(webhook_ticket(b"not json").is_err());
        assert!(webhook_ticket(br#"{"ticket": {"id": "x"}}"#).is_err());
        assert!(webhook_ticket(br#"{"article": {"id": 1}}"#).is_err());
    }
}
