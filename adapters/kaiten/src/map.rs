//! Wire ↔ domain: the texts teledesk writes into Kaiten and how cards and comments read back.

use crate::model;
use std::collections::BTreeMap;
use teledesk_adapter::text::{self, BlockShape, FILE_LINE, HtmlPiece};
use teledesk_adapter::{
    AttachmentRef, Comment, CommentDraft, CommentId, CommentMark, DueTimes, NoteDraft, Origin,
    Problem, StaffAddress, StatusClass, Ticket, TicketDraft, TicketId, TicketRef, TicketSnapshot,
    Visibility, Wanted,
};
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// Starts the marker that ties a comment to its Telegram message (`tg-key: tg:-100123:45`).
///
/// Kaiten comments have no external id, so a retry after a crash finds the earlier comment by this
/// text in its footer ([`has_footer_for`]), among the integration user's comments.
pub const MARKER: &str = text::MARKER;

pub use text::has_footer_for;

/// First line of the requester block appended to card descriptions; reading a card strips it.
const BLOCK_SEPARATOR: &str = "---";
const BLOCK_TELEGRAM: &str = "**Telegram:** ";
const BLOCK_REGISTERED: &str = "**Registered (UTC):** ";
const BLOCK_SOURCE: &str = "**Source:** ";
const BLOCK_FOLLOW_UP: &str = "**Follow-up of:** ";
const BLOCK: BlockShape<'static> = BlockShape {
    separator: BLOCK_SEPARATOR,
    first: BLOCK_TELEGRAM,
    more: &[BLOCK_REGISTERED, BLOCK_SOURCE, BLOCK_FOLLOW_UP],
};

/// Everything besides the payloads that mapping a card needs.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The site (`https://acme.kaiten.ru`), for links.
    pub site: &'a str,
    /// Column id → class overrides.
    pub statuses: &'a BTreeMap<i64, StatusClass>,
    /// The custom property holding the resolution.
    pub resolution_property: Option<&'a str>,
    /// The options of the resolution property when it is a select (its values are option ids).
    pub resolution_options: &'a [model::SelectValue],
    /// The integration user's id: its comments are teledesk's own.
    pub integration_user: i64,
}

/// `updated_after` as Kaiten's own timestamps look: UTC with milliseconds and `Z`.
pub fn query_time(at: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.to_offset(UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// The web link of a card; the short form works without the space id.
pub fn card_url(site: &str, space_id: Option<i64>, card_id: i64) -> String {
    match space_id {
        Some(space) => format!("{site}/space/{space}/card/{card_id}"),
        None => format!("{site}/card/{card_id}"),
    }
}

/// The reference teledesk stores for a card.
pub fn ticket_ref(site: &str, card: &model::Card) -> TicketRef {
    TicketRef {
        id: TicketId(card.id.to_string()),
        number: card.id.to_string(),
        url: Some(card_url(site, card.space_id, card.id)),
    }
}

/// Makes a site-relative file address absolute.
pub fn absolute_url(site: &str, url: &str) -> String {
    if url.starts_with('/') {
        format!("{site}{url}")
    } else {
        url.to_owned()
    }
}

/// Escapes what markdown would otherwise eat in a name (`ann_smith` → `ann\_smith`).
fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '`' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The card description: the client's text, then a block staff read the requester from.
///
/// The block carries what Kaiten has no field for: the Telegram identity, the exact registration
/// time (the card's `created` is when teledesk got through, which can be later) and the source link.
pub fn card_description(draft: &TicketDraft) -> String {
    let requester = text::requester_line_escaped(&draft.requester, escape_markdown);
    let mut block = vec![
        format!("{BLOCK_TELEGRAM}{requester}"),
        format!(
            "{BLOCK_REGISTERED}{}",
            text::rfc3339_utc(draft.registered_at)
        ),
    ];
    if let Some(source) = &draft.source_url {
        block.push(format!("{BLOCK_SOURCE}{source}"));
    }
    if let Some(original) = &draft.follow_up_of {
        let mut line = format!("{BLOCK_FOLLOW_UP}#{}", original.number);
        if let Some(url) = &original.url {
            line.push_str(&format!(" ({url})"));
        }
        block.push(line);
    }
    text::with_block(draft.description.trim(), BLOCK_SEPARATOR, &block)
}

/// The requester [`card_description`] wrote into a card's description.
pub fn requester_of(description: &str) -> Option<teledesk_adapter::Requester> {
    text::parse_requester_labelled(description, BLOCK_TELEGRAM)
}

/// An internal note's text: the note, then the marker that finds it again on a retry.
pub fn note_text(note: &NoteDraft) -> String {
    format!("{}\n\n*{MARKER}{}*", note.body.trim(), note.key)
}

/// The description without the requester block [`card_description`] appended; text staff added
/// after the block is kept.
pub fn strip_requester_block(description: &str) -> String {
    text::strip_block(description, &BLOCK)
}

/// The comment text for a client message: who wrote it, the text, links to its files, and a small
/// footer with the source link and the idempotency marker.
pub fn comment_text(draft: &CommentDraft, files: &[(String, String)]) -> String {
    let author = &draft.author;
    let mut text = format!("**{}** (Telegram", escape_markdown(&author.label()));
    if let Some(company) = &author.company {
        text.push_str(", ");
        text.push_str(&escape_markdown(company));
    }
    text.push_str("):\n\n");
    let body = draft.body.trim();
    if !body.is_empty() {
        text.push_str(body);
        text.push_str("\n\n");
    }
    for (name, url) in files {
        text.push_str(&format!("{FILE_LINE}[{}]({url})\n", escape_markdown(name)));
    }
    if !files.is_empty() {
        text.push('\n');
    }
    match &draft.source_url {
        Some(source) => text.push_str(&format!("*[Telegram]({source}) · {MARKER}{}*", draft.key)),
        None => text.push_str(&format!("*{MARKER}{}*", draft.key)),
    }
    text
}

/// The client's own words from a comment teledesk wrote: no header, file lines or footer.
pub fn strip_teledesk_comment(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.first().is_some_and(|first| {
        first.starts_with("**") && first.contains("** (Telegram") && first.ends_with("):")
    }) {
        lines.remove(0);
    }
    text::drop_marker_footer(&mut lines);
    lines.retain(|l| !l.starts_with(FILE_LINE));
    lines.join("\n").trim().to_owned()
}

/// HTML comments (`type` 2) as plain text: tags dropped, line breaks kept, common entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    for piece in text::html_pieces(html) {
        match piece {
            HtmlPiece::Text(chunk) => out.push_str(chunk),
            HtmlPiece::Tag(tag) => {
                if tag.starts_with("br") || tag == "/p" || tag == "/div" || tag == "/li" {
                    out.push('\n');
                }
            }
        }
    }
    text::decode_common_entities(&out).trim().to_owned()
}

/// The class of a card: its column in `statuses`, else its `state`.
pub fn status_of(card: &model::Card, statuses: &BTreeMap<i64, StatusClass>) -> StatusClass {
    if let Some(class) = statuses.get(&card.column_id) {
        return *class;
    }
    match card.state {
        1 => StatusClass::New,
        3 => StatusClass::Closed,
        // 2, and anything Kaiten might add, means someone is on it.
        _ => StatusClass::InProgress,
    }
}

fn resolution_of(
    card: &model::Card,
    property: Option<&str>,
    options: &[model::SelectValue],
) -> Option<String> {
    property_text(card.properties.get(property?)?, options)
}

/// How teledesk writes and reads a custom property, by its Kaiten type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropertyShape {
    /// `string`, `email`, `phone`, `url`: a plain string.
    Text,
    /// `number`: a JSON number.
    Number,
    /// `checkbox`: a boolean.
    Checkbox,
    /// `select`: an array of option ids.
    Select,
    /// `date`: `{"date": "2026-07-16", "time": "19:00", "tzOffset": 180}`.
    Date,
    /// `user`: a numeric user id.
    User,
}

/// The shape of a Kaiten property type; `None` for types teledesk cannot write (formulas are
/// computed, votes, catalogs and attachments have endpoints of their own, and types Kaiten adds
/// later are unknown).
pub fn shape_of(kind: &str) -> Option<PropertyShape> {
    Some(match kind {
        "string" | "email" | "phone" | "url" => PropertyShape::Text,
        "number" => PropertyShape::Number,
        "checkbox" => PropertyShape::Checkbox,
        "select" => PropertyShape::Select,
        "date" => PropertyShape::Date,
        "user" => PropertyShape::User,
        _ => return None,
    })
}

/// Whether a property of this shape reads back as a resolution text (a user id or a checkbox says
/// nothing to a client).
pub fn readable_as_text(shape: PropertyShape) -> bool {
    matches!(
        shape,
        PropertyShape::Text | PropertyShape::Number | PropertyShape::Select | PropertyShape::Date
    )
}

/// The id of a usable select option: by id, or by its text (exact, then ignoring case).
fn option_id(options: &[model::SelectValue], wanted: &serde_json::Value) -> Option<i64> {
    let usable = || {
        options
            .iter()
            .filter(|o| !o.deleted && o.condition.as_deref() != Some("inactive"))
    };
    match wanted {
        serde_json::Value::Number(n) => {
            let id = n.as_i64()?;
            usable().find(|o| o.id == id).map(|o| o.id)
        }
        serde_json::Value::String(text) => {
            let text = text.trim();
            usable()
                .find(|o| o.value.trim() == text)
                .or_else(|| usable().find(|o| o.value.trim().to_lowercase() == text.to_lowercase()))
                .map(|o| o.id)
        }
        _ => None,
    }
}

/// A configured value (a TOML scalar) in the wire shape of `definition`'s type; `Err` says why
/// it does not fit, for the admin.
pub fn property_value(
    definition: &model::PropertyDefinition,
    options: &[model::SelectValue],
    value: &serde_json::Value,
) -> Result<serde_json::Value, Problem> {
    use serde_json::Value;
    let kind = &definition.kind;
    let shape = shape_of(kind).ok_or_else(|| Problem::FieldTypeUnusable {
        id: definition.id.to_string(),
        name: definition.name.clone(),
        kind: kind.clone(),
        for_resolution: false,
    })?;
    let refuse = |wanted: Wanted| {
        Err(Problem::FieldWants {
            id: definition.id.to_string(),
            name: definition.name.clone(),
            kind: kind.clone(),
            wanted,
        })
    };
    match (shape, value) {
        (PropertyShape::Text, Value::String(_)) => Ok(value.clone()),
        (PropertyShape::Text, Value::Number(n)) => Ok(Value::String(n.to_string())),
        (PropertyShape::Text, _) => refuse(Wanted::String),
        (PropertyShape::Number, Value::Number(_)) => Ok(value.clone()),
        (PropertyShape::Number, Value::String(text)) => match text.trim().parse::<f64>() {
            Ok(number) => serde_json::Number::from_f64(number)
                .map(Value::Number)
                .ok_or(())
                .or_else(|()| refuse(Wanted::Number)),
            Err(_) => refuse(Wanted::Number),
        },
        (PropertyShape::Number, _) => refuse(Wanted::Number),
        (PropertyShape::Checkbox, Value::Bool(_)) => Ok(value.clone()),
        (PropertyShape::Checkbox, _) => refuse(Wanted::Boolean),
        (PropertyShape::Select, Value::String(_) | Value::Number(_)) => {
            match option_id(options, value) {
                Some(id) => Ok(Value::Array(vec![Value::from(id)])),
                None => {
                    let known: Vec<&str> = options
                        .iter()
                        .filter(|o| !o.deleted && o.condition.as_deref() != Some("inactive"))
                        .map(|o| o.value.as_str())
                        .collect();
                    Err(Problem::NotAnOption {
                        value: value.to_string(),
                        id: Some(definition.id.to_string()),
                        name: definition.name.clone(),
                        options: known.into_iter().map(str::to_owned).collect(),
                    })
                }
            }
        }
        (PropertyShape::Select, _) => refuse(Wanted::Option),
        (PropertyShape::Date, Value::String(text)) => match date_value(text.trim()) {
            Some(date) => Ok(date),
            None => refuse(Wanted::DateTime),
        },
        (PropertyShape::Date, _) => refuse(Wanted::Date),
        (PropertyShape::User, Value::Number(n)) if n.as_i64().is_some_and(|id| id > 0) => {
            Ok(value.clone())
        }
        (PropertyShape::User, _) => refuse(Wanted::UserId),
    }
}

/// Kaiten's date object from a calendar date or an RFC 3339 time (whose offset becomes
/// `tzOffset`, in minutes east of UTC).
fn date_value(text: &str) -> Option<serde_json::Value> {
    let day = format_description!("[year]-[month]-[day]");
    if let Ok(date) = time::Date::parse(text, &day) {
        return Some(serde_json::json!({
            "date": date.format(&day).ok()?,
            "time": null,
            "tzOffset": null,
        }));
    }
    let at = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(serde_json::json!({
        "date": at.date().format(&day).ok()?,
        "time": at.time().format(&format_description!("[hour]:[minute]")).ok()?,
        "tzOffset": at.offset().whole_minutes(),
    }))
}

/// A property value as text for the client: strings and numbers as they are, a select's option
/// ids by the options' names, a date as `2026-07-16 19:00`; `None` when empty or unreadable.
pub fn property_text(value: &serde_json::Value, options: &[model::SelectValue]) -> Option<String> {
    use serde_json::Value;
    let text = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Array(ids) => {
            let names: Vec<String> = ids
                .iter()
                .filter_map(|id| {
                    let id = id.as_i64()?;
                    Some(
                        options
                            .iter()
                            .find(|o| o.id == id)
                            .map(|o| o.value.trim().to_owned())
                            .unwrap_or_else(|| format!("#{id}")),
                    )
                })
                .filter(|name| !name.is_empty())
                .collect();
            names.join(", ")
        }
        Value::Object(date) => {
            let day = date.get("date").and_then(Value::as_str)?.trim();
            match date.get("time").and_then(Value::as_str).map(str::trim) {
                Some(time) if !time.is_empty() => format!("{day} {time}"),
                _ => day.to_owned(),
            }
        }
        Value::Null | Value::Bool(_) => return None,
    };
    (!text.is_empty()).then_some(text)
}

fn attachment_ref(site: &str, file: &model::File) -> AttachmentRef {
    AttachmentRef {
        id: file.id.clone(),
        file_name: file.name.clone(),
        content_type: file.mime_type.clone(),
        size: file.size,
        url: file.url.as_deref().map(|u| absolute_url(site, u)),
    }
}

/// Whether the client may see a comment, failing closed.
///
/// Public needs positive evidence on every count: `internal` present and `false` (older payloads
/// omit it), a comment kind teledesk knows (markdown or HTML), an author (comments no user wrote
/// are Kaiten's own bookkeeping, which the Service Desk portal does not show as replies), and not
/// the request's description (the requester's own text, which Service Desk shows as the request).
pub fn visibility_of(comment: &model::Comment) -> Visibility {
    let known_kind = matches!(
        comment.text_type,
        Some(model::TEXT_MARKDOWN | model::TEXT_HTML)
    );
    if comment.internal == Some(false)
        && known_kind
        && comment.author_id.is_some()
        && !comment.sd_description
    {
        Visibility::Public
    } else {
        Visibility::Internal
    }
}

/// The name a comment is signed with: the author's full name, else their login, else their id;
/// never empty and never a literal "null".
pub fn author_name(comment: &model::Comment) -> String {
    fn usable(text: &str) -> Option<String> {
        let text = text.trim();
        (!text.is_empty() && !text.eq_ignore_ascii_case("null")).then(|| text.to_owned())
    }
    let author = comment.author.as_ref();
    author
        .and_then(|a| usable(&a.full_name))
        .or_else(|| author.and_then(|a| a.username.as_deref()).and_then(usable))
        .unwrap_or_else(|| match comment.author_id.or(author.map(|a| a.id)) {
            Some(id) => format!("Kaiten user #{id}"),
            None => "Kaiten".to_owned(),
        })
}

/// One comment read back, with the files Kaiten links to it.
pub fn to_comment(ctx: &Context<'_>, files: &[model::File], comment: &model::Comment) -> Comment {
    // Only the author says who wrote a comment: a marker in the text may be a client's typing or
    // staff quoting a teledesk comment, and treating those as echoes would hide them.
    let origin = if comment.author_id == Some(ctx.integration_user) {
        Origin::Teledesk
    } else if comment.sd_description {
        Origin::Requester
    } else {
        Origin::Staff
    };
    let plain = if comment.text_type == Some(model::TEXT_HTML) {
        html_to_text(&comment.text)
    } else {
        comment.text.trim().to_owned()
    };
    let body = match origin {
        Origin::Teledesk => strip_teledesk_comment(&plain),
        _ => plain,
    };
    Comment {
        id: CommentId(comment.id.to_string()),
        author: author_name(comment),
        body,
        visibility: visibility_of(comment),
        origin,
        created_at: comment.created,
        attachments: files
            .iter()
            .filter(|f| {
                // teledesk's own comments link card files (the API cannot attach to a comment)
                // instead of owning them.
                let linked = origin == Origin::Teledesk
                    && f.url.as_deref().is_some_and(|url| {
                        comment
                            .text
                            .contains(&format!("]({})", absolute_url(ctx.site, url)))
                    });
                f.is_download() && (f.comment_id == Some(comment.id) || linked)
            })
            .map(|f| attachment_ref(ctx.site, f))
            .collect(),
    }
}

/// The card's state as staff name it: its column's title.
fn state_name(card: &model::Card) -> String {
    card.column
        .as_ref()
        .map(|c| c.title.clone())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| format!("column {}", card.column_id))
}

fn assignee_of(card: &model::Card) -> Option<String> {
    card.members
        .iter()
        .find(|m| m.member_type == model::MEMBER_RESPONSIBLE)
        .map(|m| m.full_name.clone())
}

/// A card and its comments as a domain ticket.
pub fn to_ticket(ctx: &Context<'_>, card: &model::Card, comments: &[model::Comment]) -> Ticket {
    Ticket {
        reference: ticket_ref(ctx.site, card),
        subject: card.title.clone(),
        description: strip_requester_block(card.description.as_deref().unwrap_or_default()),
        state: state_name(card),
        status: status_of(card, ctx.statuses),
        assignee: assignee_of(card),
        resolution: resolution_of(card, ctx.resolution_property, ctx.resolution_options),
        updated_at: card.updated,
        comments: to_comments(ctx, &card.files, comments),
        addressed_to: address_of(card),
        due: due_of(card),
        priority: card.asap.then(|| "ASAP".to_owned()),
    }
}

/// Comments read back, oldest first, deleted ones left out; `files` are the card's (Kaiten lists
/// a comment's files only there).
pub fn to_comments(
    ctx: &Context<'_>,
    files: &[model::File],
    comments: &[model::Comment],
) -> Vec<Comment> {
    let mut comments: Vec<&model::Comment> = comments.iter().filter(|c| !c.deleted).collect();
    comments.sort_by_key(|c| (c.created, c.id));
    comments
        .into_iter()
        .map(|c| to_comment(ctx, files, c))
        .collect()
}

/// A card as a listing showed it, read as [`to_ticket`] reads the same card; `None` when the
/// listing did not say how many comments the card has.
pub fn to_snapshot(ctx: &Context<'_>, card: &model::Card) -> Option<TicketSnapshot> {
    Some(TicketSnapshot {
        subject: card.title.clone(),
        description: card.description.as_deref().map(strip_requester_block),
        state: state_name(card),
        status: status_of(card, ctx.statuses),
        assignee: assignee_of(card),
        resolution: resolution_of(card, ctx.resolution_property, ctx.resolution_options),
        updated_at: card.updated,
        comments: CommentMark {
            count: card.comments_total?,
            last_added_at: card.comment_last_added_at,
        },
        due: due_of(card),
        priority: card.asap.then(|| "ASAP".to_owned()),
    })
}

/// The tag prefix that addresses a card to a Telegram chat: `tg:Acme` or `tg:-1001234567890`.
pub const ADDRESS_TAG: &str = "tg:";
/// The tags (after [`ADDRESS_TAG`]) that mark an addressed card as an announcement.
pub const ANNOUNCEMENT_TAGS: [&str; 2] = ["announcement", "объявление"];

/// The chat staff addressed a card to with a `tg:<chat>` tag, and whether a `tg:announcement`
/// tag makes it a notice.
pub fn address_of(card: &model::Card) -> Option<StaffAddress> {
    let mut chat = None;
    let mut announcement = false;
    for tag in &card.tags {
        let Some(rest) = tag.name.trim().strip_prefix(ADDRESS_TAG) else {
            continue;
        };
        let rest = rest.trim();
        if ANNOUNCEMENT_TAGS.contains(&rest.to_lowercase().as_str()) {
            announcement = true;
        } else if !rest.is_empty() && chat.is_none() {
            chat = Some(rest.to_owned());
        }
    }
    Some(StaffAddress {
        chat: chat?,
        announcement,
    })
}

/// The card's deadline as a due time: the moment when it carries a time, else the end of its
/// day (UTC).
pub fn due_of(card: &model::Card) -> DueTimes {
    let resolve_by = card.due_date.as_deref().and_then(|text| {
        let at = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .ok()
            .or_else(|| {
                let date =
                    time::Date::parse(text.get(..10)?, format_description!("[year]-[month]-[day]"))
                        .ok()?;
                Some(date.midnight().assume_utc())
            })?;
        Some(if card.due_date_time_present == Some(true) {
            at
        } else {
            at.replace_time(time::Time::MIDNIGHT) + time::Duration::days(1)
        })
    });
    DueTimes {
        respond_by: None,
        resolve_by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teledesk_adapter::{CommentDraft, Requester};
    use teledesk_testkit::samples::{self, round_trip};
    use time::macros::datetime;

    const CARD: &str = include_str!("../../../fixtures/kaiten/card.json");
    const CARDS: &str = include_str!("../../../fixtures/kaiten/cards_list.json");
    const COMMENTS: &str = include_str!("../../../fixtures/kaiten/comments.json");
    const COMMENT_CREATED: &str = include_str!("../../../fixtures/kaiten/comment_created.json");
    const FILE: &str = include_str!("../../../fixtures/kaiten/file_uploaded.json");
    const USER: &str = include_str!("../../../fixtures/kaiten/current_user.json");
    const PROPERTIES: &str = include_str!("../../../fixtures/kaiten/custom_properties.json");
    const SELECT_VALUES: &str = include_str!("../../../fixtures/kaiten/select_values.json");
    const ERROR_401: &str = include_str!("../../../fixtures/kaiten/error_401.json");
    const ERROR_402: &str = include_str!("../../../fixtures/kaiten/error_402.json");

    fn statuses() -> BTreeMap<i64, StatusClass> {
        BTreeMap::from([(103, StatusClass::WaitingClient)])
    }

    #[test]
    fn fixtures_round_trip() {
        let card: model::Card = round_trip(CARD);
        assert_eq!(card.id, 1001);
        assert_eq!(card.updated, datetime!(2026-11-21 12:05:13.457 UTC));
        let cards: Vec<model::Card> = round_trip(CARDS);
        assert_eq!(cards.len(), 2);
        let comments: Vec<model::Comment> = round_trip(COMMENTS);
        assert_eq!(comments.len(), 4);
        let created: model::Comment = round_trip(COMMENT_CREATED);
        assert_eq!(created.internal, Some(false));
        let file: model::File = round_trip(FILE);
        assert!(file.url.is_some());
        let properties: Vec<model::PropertyDefinition> = round_trip(PROPERTIES);
        let kinds: Vec<&str> = properties.iter().map(|p| p.kind.as_str()).collect();
        assert_eq!(kinds, ["string", "select", "date", "formula"]);
        let options: Vec<model::SelectValue> = round_trip(SELECT_VALUES);
        assert_eq!(options[2].condition.as_deref(), Some("inactive"));
        let user: model::User = round_trip(USER);
        assert_eq!(user.full_name, "teledesk bot");
        let e401: model::ErrorBody = round_trip(ERROR_401);
        let e402: model::ErrorBody = round_trip(ERROR_402);
        assert!(!e401.message.is_empty());
        assert!(e402.message.contains("tariff"));
    }

    #[test]
    fn status_comes_from_the_statuses_map_first() {
        let mut card: model::Card = serde_json::from_str(CARD).expect("card");
        card.column_id = 103;
        card.state = 2;
        assert_eq!(status_of(&card, &statuses()), StatusClass::WaitingClient);
    }

    #[test]
    fn status_falls_back_to_the_card_state() {
        let mut card: model::Card = serde_json::from_str(CARD).expect("card");
        card.column_id = 999;
        for (state, class) in [
            (1, StatusClass::New),
            (2, StatusClass::InProgress),
            (3, StatusClass::Closed),
        ] {
            card.state = state;
            assert_eq!(status_of(&card, &statuses()), class);
        }
    }

    #[test]
    fn query_time_has_milliseconds_and_z() {
        assert_eq!(
            query_time(datetime!(2026-11-21 15:00:00.1234 +3)),
            "2026-11-21T12:00:00.123Z"
        );
        assert_eq!(
            query_time(datetime!(2026-11-21 12:00:00 UTC)),
            "2026-11-21T12:00:00.000Z"
        );
    }

    #[test]
    fn description_carries_the_requester_and_strips_back() {
        let text = card_description(&samples::recorded_draft());
        assert!(text.starts_with("Принтер в бухгалтерии не печатает.\n\n---\n"));
        assert!(text.contains("Анна Смирнова (@anna\\_s), id 555001, ООО Ромашка"));
        assert!(text.contains("2026-11-21T11:58:00.5Z"));
        assert!(text.contains("https://t.me/c/1234567890/42"));
        assert_eq!(
            strip_requester_block(&text),
            "Принтер в бухгалтерии не печатает."
        );
    }

    #[test]
    fn an_empty_description_is_only_the_block_and_strips_to_nothing() {
        let mut d = samples::recorded_draft();
        d.description = String::new();
        d.source_url = None;
        let text = card_description(&d);
        assert!(text.starts_with("---\n**Telegram:**"));
        assert_eq!(strip_requester_block(&text), "");
    }

    #[test]
    fn staff_text_after_the_block_survives() {
        let text = format!(
            "{}\n\nУточнение от поддержки",
            card_description(&samples::recorded_draft())
        );
        assert_eq!(
            strip_requester_block(&text),
            "Принтер в бухгалтерии не печатает.\n\nУточнение от поддержки"
        );
    }

    #[test]
    fn comment_text_has_header_files_and_marker() {
        let draft = CommentDraft {
            author: Requester {
                username: Some("anna_s".into()),
                ..samples::requester()
            },
            ..samples::linked_comment(43, "Вот фото ошибки")
        };
        let text = comment_text(
            &draft,
            &[(
                "photo.jpg".into(),
                "https://files.example/1/photo.jpg".into(),
            )],
        );
        assert!(text.starts_with("**Анна Смирнова (@anna\\_s)** (Telegram, ООО Ромашка):\n\n"));
        assert!(text.contains("📎 [photo.jpg](https://files.example/1/photo.jpg)"));
        assert!(text.ends_with(
            "*[Telegram](https://t.me/c/1234567890/43) · tg-key: tg:-1001234567890:43*"
        ));
        assert!(has_footer_for(&text, draft.key.as_str()));
        assert_eq!(strip_teledesk_comment(&text), "Вот фото ошибки");
    }

    #[test]
    fn html_comments_become_plain_text() {
        assert_eq!(
            html_to_text("<p>Здравствуйте!</p><p>Картридж &amp; бумага<br>заменены</p>"),
            "Здравствуйте!\nКартридж & бумага\nзаменены"
        );
    }

    fn ticket() -> Ticket {
        let card: model::Card = serde_json::from_str(CARD).expect("card");
        let comments: Vec<model::Comment> = serde_json::from_str(COMMENTS).expect("comments");
        let statuses = statuses();
        let ctx = Context {
            site: "https://acme.kaiten.ru",
            statuses: &statuses,
            resolution_property: Some("id_42"),
            resolution_options: &[],
            integration_user: 1,
        };
        to_ticket(&ctx, &card, &comments)
    }

    #[test]
    fn ticket_maps_card_fields() {
        let t = ticket();
        assert_eq!(t.reference.id.0, "1001");
        assert_eq!(t.reference.number, "1001");
        assert_eq!(
            t.reference.url.as_deref(),
            Some("https://acme.kaiten.ru/space/1/card/1001")
        );
        assert_eq!(t.subject, "Не печатает принтер");
        assert_eq!(t.description, "Принтер в бухгалтерии не печатает.");
        assert_eq!(t.state, "В работе");
        assert_eq!(t.status, StatusClass::InProgress);
        assert_eq!(t.assignee.as_deref(), Some("Мария Иванова"));
        assert_eq!(t.resolution.as_deref(), Some("Заменили картридж"));
        assert_eq!(t.updated_at, datetime!(2026-11-21 12:05:13.457 UTC));
    }

    #[test]
    fn comments_are_classified_by_visibility_and_origin() {
        let t = ticket();
        let summary = samples::comment_ids_and_kinds(&t);
        assert_eq!(
            summary,
            [
                ("2001", Visibility::Public, Origin::Teledesk),
                ("2002", Visibility::Internal, Origin::Staff),
                ("2003", Visibility::Public, Origin::Staff),
                ("2004", Visibility::Public, Origin::Staff),
            ]
        );
        assert_eq!(t.comments[0].body, "Вот фото ошибки");
        assert_eq!(t.comments[2].author, "Мария Иванова");
        assert_eq!(
            t.comments[2].body,
            "Здравствуйте! Заменили картридж, проверьте, пожалуйста."
        );
        assert_eq!(t.comments[2].attachments.len(), 1);
        assert_eq!(t.comments[2].attachments[0].file_name, "отчёт.pdf");
        assert_eq!(t.comments[2].attachments[0].size, Some(5));
        // teledesk's own comment links the card file it uploaded.
        let linked: Vec<&str> = t.comments[0]
            .attachments
            .iter()
            .map(|a| a.file_name.as_str())
            .collect();
        assert_eq!(linked, ["photo_42.jpg"]);
        assert!(t.comments[1].attachments.is_empty());
    }

    #[test]
    fn a_marker_from_another_author_is_that_authors_text() {
        // 2004 was written by a staff account and carries a marker (a client's comment copied by
        // hand): it is staff's, shown whole, so a quote with its footer still reaches the client.
        let t = ticket();
        assert_eq!(t.comments[3].origin, Origin::Staff);
        assert_eq!(t.comments[3].author, "Пётр Сидоров");
        assert!(
            t.comments[3]
                .body
                .ends_with("*tg-key: tg:-1001234567890:44*"),
            "{}",
            t.comments[3].body
        );
    }

    #[test]
    fn empty_resolution_is_none() {
        let mut card: model::Card = serde_json::from_str(CARD).expect("card");
        card.properties
            .insert("id_42".into(), serde_json::Value::String("  ".into()));
        assert_eq!(resolution_of(&card, Some("id_42"), &[]), None);
        assert_eq!(resolution_of(&card, None, &[]), None);
    }

    /// The public staff reply 2003 of the fixture, as JSON to bend.
    fn public_reply() -> serde_json::Value {
        let comments: Vec<serde_json::Value> = serde_json::from_str(COMMENTS).expect("comments");
        comments[2].clone()
    }

    fn parsed(json: serde_json::Value) -> model::Comment {
        serde_json::from_value(json).expect("a comment")
    }

    #[test]
    fn only_a_comment_known_to_be_public_is_public() {
        assert_eq!(visibility_of(&parsed(public_reply())), Visibility::Public);
        let mut cases = Vec::new();
        let mut missing = public_reply();
        missing.as_object_mut().expect("object").remove("internal");
        cases.push(("internal missing", missing));
        let mut null = public_reply();
        null["internal"] = serde_json::Value::Null;
        cases.push(("internal null", null));
        let mut internal = public_reply();
        internal["internal"] = serde_json::json!(true);
        cases.push(("internal", internal));
        let mut kind = public_reply();
        kind["type"] = serde_json::json!(3);
        cases.push(("unknown kind", kind));
        let mut no_kind = public_reply();
        no_kind.as_object_mut().expect("object").remove("type");
        cases.push(("kind missing", no_kind));
        let mut system = public_reply();
        system["author_id"] = serde_json::Value::Null;
        system["author"] = serde_json::Value::Null;
        cases.push(("no author (Service Desk bookkeeping)", system));
        let mut description = public_reply();
        description["sd_description"] = serde_json::json!(true);
        cases.push(("the request's description", description));
        for (what, json) in cases {
            // A kind teledesk does not know does not even decode: the tolerant comment list skips
            // it. Either way it never reaches the client.
            match serde_json::from_value::<model::Comment>(json) {
                Ok(comment) => assert_eq!(visibility_of(&comment), Visibility::Internal, "{what}"),
                Err(_) => assert_eq!(what, "unknown kind", "only an unknown kind is skipped"),
            }
        }
    }

    #[test]
    fn the_requests_description_is_the_requesters_not_a_staff_reply() {
        let mut json = public_reply();
        json["sd_description"] = serde_json::json!(true);
        let statuses = statuses();
        let ctx = Context {
            site: "https://acme.kaiten.ru",
            statuses: &statuses,
            resolution_property: None,
            resolution_options: &[],
            integration_user: 1,
        };
        let comment = to_comment(&ctx, &[], &parsed(json));
        assert_eq!(
            (comment.origin, comment.visibility),
            (Origin::Requester, Visibility::Internal)
        );
    }

    #[test]
    fn the_signature_falls_back_and_never_says_null() {
        let named = parsed(public_reply());
        assert_eq!(author_name(&named), "Мария Иванова");
        let mut cases = Vec::new();
        for full_name in [
            serde_json::json!(""),
            serde_json::json!("  "),
            serde_json::Value::Null,
            serde_json::json!("null"),
        ] {
            let mut json = public_reply();
            json["author"]["full_name"] = full_name.clone();
            cases.push((json, "m.ivanova", format!("full_name {full_name}")));
        }
        let mut no_login = public_reply();
        no_login["author"]["full_name"] = serde_json::Value::Null;
        no_login["author"]["username"] = serde_json::Value::Null;
        cases.push((no_login, "Kaiten user #100", "no name, no login".into()));
        let mut no_object = public_reply();
        no_object.as_object_mut().expect("object").remove("author");
        cases.push((no_object, "Kaiten user #100", "no author object".into()));
        let mut nobody = public_reply();
        nobody["author"] = serde_json::Value::Null;
        nobody["author_id"] = serde_json::Value::Null;
        cases.push((nobody, "Kaiten", "no author at all".into()));
        for (json, expected, what) in cases {
            assert_eq!(author_name(&parsed(json)), expected, "{what}");
        }
    }

    fn definition(kind: &str) -> model::PropertyDefinition {
        serde_json::from_value(serde_json::json!({"id": 9, "name": "Поле", "type": kind}))
            .expect("a definition")
    }

    fn options() -> Vec<model::SelectValue> {
        serde_json::from_value(serde_json::json!([
            {"id": 1, "value": "Принтеры"},
            {"id": 2, "value": "Сеть", "condition": "inactive"},
            {"id": 3, "value": "1С", "deleted": true},
            {"id": 4, "value": "Почта"},
        ]))
        .expect("options")
    }

    #[test]
    fn property_values_take_the_shape_of_their_type() {
        use serde_json::json;
        let shaped = |kind: &str, value: serde_json::Value| {
            property_value(&definition(kind), &options(), &value)
        };
        for (kind, given, sent) in [
            ("string", json!("VIP"), json!("VIP")),
            ("email", json!("a@b.example"), json!("a@b.example")),
            ("url", json!(42), json!("42")),
            ("number", json!(3), json!(3)),
            ("number", json!(" 2.5 "), json!(2.5)),
            ("checkbox", json!(true), json!(true)),
            ("select", json!("Почта"), json!([4])),
            ("select", json!("принтеры"), json!([1])),
            ("select", json!(4), json!([4])),
            (
                "date",
                json!("2026-07-16"),
                json!({"date": "2026-07-16", "time": null, "tzOffset": null}),
            ),
            (
                "date",
                json!("2026-07-16T19:00:00-02:30"),
                json!({"date": "2026-07-16", "time": "19:00", "tzOffset": -150}),
            ),
            ("user", json!(100), json!(100)),
        ] {
            assert_eq!(shaped(kind, given.clone()), Ok(sent), "{kind} {given}");
        }
        for (kind, given) in [
            ("string", json!(true)),
            ("number", json!("много")),
            ("checkbox", json!("да")),
            ("select", json!("Сеть")),
            ("select", json!(3)),
            ("select", json!(true)),
            ("date", json!("16.07.2026")),
            ("user", json!("ann")),
            ("formula", json!(1)),
            ("catalog", json!("x")),
            ("something_new", json!("x")),
        ] {
            assert!(shaped(kind, given.clone()).is_err(), "{kind} {given}");
        }
    }

    #[test]
    fn property_values_read_back_as_text() {
        use serde_json::json;
        let options = options();
        assert_eq!(
            property_text(&json!(" Готово "), &options).as_deref(),
            Some("Готово")
        );
        assert_eq!(
            property_text(&json!(12.5), &options).as_deref(),
            Some("12.5")
        );
        assert_eq!(
            property_text(&json!([1, 4, 77]), &options).as_deref(),
            Some("Принтеры, Почта, #77")
        );
        assert_eq!(
            property_text(
                &json!({"date": "2026-07-16", "time": "19:00", "tzOffset": 180}),
                &options
            )
            .as_deref(),
            Some("2026-07-16 19:00")
        );
        assert_eq!(
            property_text(&json!({"date": "2026-07-16", "time": null}), &options).as_deref(),
            Some("2026-07-16")
        );
        for empty in [json!(null), json!(""), json!([]), json!(true), json!({})] {
            assert_eq!(property_text(&empty, &options), None, "{empty}");
        }
    }

    #[test]
    fn card_without_space_links_the_short_form() {
        assert_eq!(
            card_url("https://a.kaiten.ru", None, 7),
            "https://a.kaiten.ru/card/7"
        );
    }
}
