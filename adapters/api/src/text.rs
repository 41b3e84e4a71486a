//! The plain-text pieces several vendors write into their helpdesk and read back the same way.
//!
//! Most helpdesks have no field for a Telegram identity, the exact time a message was registered,
//! its link, or the idempotency key of a write, so adapters put them into the text itself: a block
//! of labelled lines after the client's words, and a marker line that ties a comment to its
//! Telegram message. Staff read that block, the adapter reads it back (to strip it from what it
//! reports, and to find an earlier write on a retry), and recorded fixtures pin it, so every
//! byte of what is written here is part of the contract with the helpdesks.
//!
//! Only what is the same for several vendors lives here. A vendor's own markup (Markdown, HTML),
//! its header lines and its length limits stay in its crate and come in as parameters.

use crate::{IdempotencyKey, Requester, TicketDraft};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Starts the marker that ties a text teledesk wrote to its Telegram message
/// (`tg-key: tg:-100123:45`).
///
/// Where a helpdesk has no external id for a ticket or comment, a retry after a crash finds the
/// earlier write by this text ([`has_footer_for`], written by the integration identity). It never
/// says on its own that a comment is teledesk's: people can type and quote it.
pub const MARKER: &str = "tg-key: ";

/// Starts the line that names a file of a comment, where the helpdesk cannot attach the file to
/// the comment itself; reading the comment back drops these lines.
pub const FILE_LINE: &str = "📎 ";

/// Labels the line with the requester's Telegram identity ([`requester_line`]).
pub const TELEGRAM_LABEL: &str = "Telegram: ";

/// Labels the line with the time the client's message reached teledesk, in UTC ([`rfc3339_utc`]).
///
/// The helpdesk's own creation time is when teledesk got through, which can be much later.
pub const REGISTERED_LABEL: &str = "Registered (UTC): ";

/// Labels the line with the link to the client's message in Telegram.
pub const SOURCE_LABEL: &str = "Source: ";

/// Labels the line naming the closed ticket a new ticket continues (`Follow-up of: #123`).
pub const FOLLOW_UP_LABEL: &str = "Follow-up of: ";

/// `at` in UTC as RFC 3339 (`2026-11-21T11:58:00.5Z`): the sub-second part only when there is one.
///
/// A time outside RFC 3339's years (0 to 9999) cannot be written; it comes out as Unix seconds
/// instead of failing the whole write.
pub fn rfc3339_utc(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// Who the requester is, for staff: `Анна Смирнова (@anna), id 555001, ООО Ромашка`.
///
/// The Telegram id stays in the line because names and usernames change, and the company is left
/// out when it is unknown.
pub fn requester_line(requester: &Requester) -> String {
    requester_line_escaped(requester, str::to_owned)
}

/// [`requester_line`] for a markup language: `escape` is applied to the label and the company,
/// the parts a client chose, so `anna_s` cannot turn the rest of a Markdown line italic.
pub fn requester_line_escaped<F>(requester: &Requester, escape: F) -> String
where
    F: Fn(&str) -> String,
{
    let mut line = format!(
        "{}, id {}",
        escape(&requester.label()),
        requester.telegram_id
    );
    if let Some(company) = &requester.company {
        line.push_str(", ");
        line.push_str(&escape(company));
    }
    line
}

/// Reads back the requester of a ticket's description: the [`TELEGRAM_LABEL`] line
/// [`requester_lines`] wrote (`Анна Смирнова (@anna), id 555001, ООО Ромашка`). Backslash escapes
/// of a markup language are undone; `None` when there is no such line.
pub fn parse_requester(description: &str) -> Option<Requester> {
    parse_requester_labelled(description, TELEGRAM_LABEL)
}

/// [`parse_requester`] for a vendor that writes the label its own way (`**Telegram:** ` in
/// Markdown).
pub fn parse_requester_labelled(description: &str, label: &str) -> Option<Requester> {
    let line = description
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))?;
    let line = unescape(line);
    let at = line.rfind(", id ")?;
    let (label, rest) = (&line[..at], &line[at + 5..]);
    let (id, company) = match rest.split_once(", ") {
        Some((id, company)) => (id, Some(company.trim().to_owned())),
        None => (rest, None),
    };
    let telegram_id = id.trim().parse().ok()?;
    let (display_name, username) = match label.strip_suffix(')').and_then(|l| l.rsplit_once(" (@"))
    {
        Some((name, username)) => (name.to_owned(), Some(username.to_owned())),
        None => (label.to_owned(), None),
    };
    Some(Requester {
        display_name,
        telegram_id,
        username,
        company,
    })
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// The title of a new ticket: `subject` without surrounding whitespace, or when that is empty the
/// first non-blank line of `description`, or `Telegram` when both are empty; cut to the first
/// `max_chars` characters, since helpdesks refuse (or cut mid-character) a longer title.
pub fn ticket_title(subject: &str, description: &str, max_chars: usize) -> String {
    let subject = subject.trim();
    let title = if subject.is_empty() {
        description
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("Telegram")
    } else {
        subject
    };
    title.chars().take(max_chars).collect()
}

/// The block lines of a new ticket in plain text: the requester ([`TELEGRAM_LABEL`]), the
/// registration time ([`REGISTERED_LABEL`]), the source link ([`SOURCE_LABEL`]) when there is
/// one, and the closed ticket it follows up (`follow_up_label` and `#<number>`) when it is one.
///
/// The follow-up label is a parameter because helpdesks that already hold tickets written with
/// another wording must keep reading them.
pub fn requester_lines(draft: &TicketDraft, follow_up_label: &str) -> Vec<String> {
    let mut lines = vec![
        format!("{TELEGRAM_LABEL}{}", requester_line(&draft.requester)),
        format!("{REGISTERED_LABEL}{}", rfc3339_utc(draft.registered_at)),
    ];
    if let Some(source) = &draft.source_url {
        lines.push(format!("{SOURCE_LABEL}{source}"));
    }
    if let Some(original) = &draft.follow_up_of {
        lines.push(format!("{follow_up_label}#{}", original.number));
    }
    lines
}

/// `text`, then a block: `separator` on a line of its own and `lines`, one a line.
///
/// A blank line sets the block off from `text`, so that a `---` separator stays a horizontal rule
/// in Markdown instead of turning the line above into a heading; an empty `text` leaves only the
/// block. `text` is written as given: callers trim what the client sent.
pub fn with_block(text: &str, separator: &str, lines: &[String]) -> String {
    let mut out = String::with_capacity(text.len() + 200);
    if !text.is_empty() {
        out.push_str(text);
        out.push_str("\n\n");
    }
    out.push_str(separator);
    for line in lines {
        out.push('\n');
        out.push_str(line);
    }
    out
}

/// How to recognise the block [`with_block`] appended, so [`strip_block`] can cut it out again.
#[derive(Clone, Copy, Debug)]
pub struct BlockShape<'a> {
    /// The line that opens the block (`---`, or Zammad's `--` signature delimiter).
    pub separator: &'a str,
    /// The label of the line right after the separator. A separator followed by anything else is
    /// the client's own horizontal rule and stays.
    pub first: &'a str,
    /// The labels of the lines that may follow the first, in any order; the block ends at the
    /// first line without one of them.
    pub more: &'a [&'a str],
}

/// `text` without its last block of the given shape; what stood before and after it is kept
/// (text staff typed below the block, for instance), set apart by a blank line.
///
/// Only a separator line at the start of the text or after a blank line opens a block, as
/// [`with_block`] writes it. Without a block, `text` comes back trimmed.
pub fn strip_block(text: &str, shape: &BlockShape<'_>) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = (0..lines.len()).rev().find(|&i| {
        lines[i].trim_end() == shape.separator
            && lines.get(i + 1).is_some_and(|l| l.starts_with(shape.first))
            && (i == 0 || lines[i - 1].trim().is_empty())
    });
    let Some(start) = start else {
        return text.trim().to_owned();
    };
    let mut end = start + 2;
    while end < lines.len() && shape.more.iter().any(|p| lines[end].starts_with(p)) {
        end += 1;
    }
    join_paragraphs(&lines[..start].join("\n"), &lines[end..].join("\n"))
}

/// `before` and `after`, each trimmed, with a blank line between them; an empty one is left out
/// with its blank line. What remains around a block that was cut out of a text.
pub fn join_paragraphs(before: &str, after: &str) -> String {
    match (before.trim(), after.trim()) {
        (before, "") => before.to_owned(),
        ("", after) => after.to_owned(),
        (before, after) => format!("{before}\n\n{after}"),
    }
}

/// Whether `text` carries the marker of exactly `key` anywhere, not the marker of a longer key
/// that starts with `key` (`tg:-100:5` is not found in `tg-key: tg:-100:50`).
pub fn has_marker_for(text: &str, key: &str) -> bool {
    let needle = format!("{MARKER}{key}");
    text.match_indices(&needle)
        .any(|(at, _)| ends_key(&text[at + needle.len()..]))
}

/// Whether `text` carries any teledesk marker.
///
/// Only for reading text apart (a priority step beside a marker, a footer to strip): anyone can
/// type or quote a marker, so it never says who wrote a comment; [`has_footer_for`] and the
/// author do.
pub fn has_any_marker(text: &str) -> bool {
    text.contains(MARKER)
}

/// The footer line of `text`: its last non-blank line, when that line carries a [`MARKER`].
///
/// Teledesk appends its footer after everything else it writes (the client's words, file lines,
/// the source link), so whatever a client or staff member typed stands above it: a marker they
/// typed, even on their own last line, is never the footer of a comment teledesk wrote.
pub fn footer_line(text: &str) -> Option<&str> {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .filter(|l| l.contains(MARKER))
}

/// Whether the footer of `text` ([`footer_line`]) names exactly `key`: the one test a retry uses
/// to recognise the earlier write of `key`, together with the integration identity as its author.
///
/// A marker anywhere else in the text (a client typing `tg-key: …` of their next message, staff
/// quoting a teledesk comment above their reply) does not count, so it can neither make a retry
/// "find" a comment that is not its own nor hide someone else's comment.
pub fn has_footer_for(text: &str, key: &str) -> bool {
    footer_line(text).is_some_and(|line| has_marker_for(line, key))
}

/// The key the footer of `text` ([`footer_line`]) names: what a ticket or comment teledesk wrote
/// was written for. Like the footer itself it tells whose key it is, not who wrote the text.
pub fn footer_key(text: &str) -> Option<IdempotencyKey> {
    let line = footer_line(text)?;
    let at = line.rfind(MARKER)? + MARKER.len();
    let key: String = line[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_'))
        .collect();
    (!key.is_empty()).then_some(IdempotencyKey(key))
}

/// Whether `rest`, the text right after a key, ends that key: it is empty or does not start with a
/// character keys are made of (ASCII letters and digits, `:`, `-`, `_`).
pub fn ends_key(rest: &str) -> bool {
    rest.chars()
        .next()
        .is_none_or(|c| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_')))
}

/// Drops the footer teledesk ends a comment with: the last non-blank line and what follows it,
/// when that line carries a [`MARKER`]. A text without that footer stays as it is.
pub fn drop_marker_footer(lines: &mut Vec<&str>) {
    if let Some(last) = lines.iter().rposition(|l| !l.trim().is_empty())
        && lines[last].contains(MARKER)
    {
        lines.truncate(last);
    }
}

/// One piece of an HTML text, as [`html_pieces`] splits it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HtmlPiece<'a> {
    /// Text up to the next tag, its entities still encoded. A `<` that no `>` closes is text.
    Text(&'a str),
    /// What stands between `<` and `>`, trimmed and lower-cased (`br /`, `/p`, `a href="…"`).
    Tag(String),
}

/// Splits `html` into text and tags, in order, for the vendors' HTML-to-text conversions, which
/// differ only in what each tag becomes.
///
/// It is a tokenizer for the small HTML helpdesk editors write, not a parser: comments, CDATA
/// and `>` inside attribute values are not understood. Two text pieces can follow each other;
/// readers treat them as one.
pub fn html_pieces(html: &str) -> impl Iterator<Item = HtmlPiece<'_>> {
    let mut rest = Some(html);
    let mut pending_tag: Option<String> = None;
    std::iter::from_fn(move || {
        if let Some(tag) = pending_tag.take() {
            return Some(HtmlPiece::Tag(tag));
        }
        let current = rest.take()?;
        let Some((open, close)) = current
            .find('<')
            .and_then(|open| current[open..].find('>').map(|close| (open, open + close)))
        else {
            return Some(HtmlPiece::Text(current));
        };
        pending_tag = Some(current[open + 1..close].trim().to_ascii_lowercase());
        rest = Some(&current[close + 1..]);
        Some(HtmlPiece::Text(&current[..open]))
    })
}

/// Decodes the entities rich-text editors write most, one after the other: `&nbsp;`, `&lt;`,
/// `&gt;`, `&quot;`, `&#39;`, and `&amp;` last, so `&amp;lt;` becomes `&lt;`, not `<`. Other
/// entities stay as they are.
pub fn decode_common_entities(text: &str) -> String {
    text.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Decodes HTML entities in one pass (`&amp;lt;` becomes `&lt;`, not `<`): `&amp;`, `&lt;`,
/// `&gt;`, `&quot;`, `&apos;`, `&nbsp;` (as a plain space) and numeric ones (`&#8212;`, `&#x41;`).
///
/// An unknown or invalid entity stays as written, and so does an `&` whose `;` comes more than
/// `longest_name` bytes after it, so a lone `&` in prose does not swallow the text up to some far
/// `;`.
pub fn decode_entities(text: &str, longest_name: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest[1..]
            .find(';')
            .filter(|name_len| *name_len <= longest_name)
            .and_then(|name_len| decode_entity(&rest[1..=name_len]).map(|c| (c, name_len + 2)));
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConfigTable, TicketId, TicketRef};
    use time::macros::datetime;

    #[test]
    fn the_requester_line_reads_back() {
        let requester = Requester {
            display_name: "Анна Смирнова".into(),
            telegram_id: 555001,
            username: Some("anna_s".into()),
            company: Some("ООО Ромашка".into()),
        };
        let description = format!(
            "Не печатает\n\n---\n{TELEGRAM_LABEL}{}\nRegistered: x",
            requester_line_escaped(&requester, |t| t.replace('_', "\\_"))
        );
        assert_eq!(parse_requester(&description), Some(requester));
        let bare = format!("{TELEGRAM_LABEL}Bob, id 7");
        let bob = parse_requester(&bare).unwrap();
        assert_eq!((bob.display_name.as_str(), bob.telegram_id), ("Bob", 7));
        assert_eq!((bob.username, bob.company), (None, None));
        assert_eq!(parse_requester("no block"), None);
        let key = IdempotencyKey::telegram(-100123, 45);
        let written = format!("Не печатает\r\n{MARKER}tg:1:2 typed\r\n\r\n{MARKER}{key}\r\n");
        assert_eq!(footer_key(&written), Some(key.clone()));
        assert_eq!(footer_key(&format!("{MARKER}{key}\nthanks")), None);
        assert_eq!(
            IdempotencyKey::telegram(-100123, 45).telegram_message(),
            Some((-100123, 45))
        );
        assert_eq!(IdempotencyKey::mini_app(5, "x").telegram_message(), None);
    }

    fn requester() -> Requester {
        Requester {
            display_name: "Анна Смирнова".into(),
            telegram_id: 555_001,
            username: Some("anna_s".into()),
            company: Some("ООО Ромашка".into()),
        }
    }

    fn draft() -> TicketDraft {
        TicketDraft {
            follow_up_of: None,
            key: IdempotencyKey::telegram(-1001234567890, 42),
            subject: "Не печатает принтер".into(),
            description: "Принтер в бухгалтерии не печатает.".into(),
            requester: requester(),
            source_url: Some("https://t.me/c/1234567890/42".into()),
            registered_at: datetime!(2026-11-21 14:58:00.5 +3),
            attachments: Vec::new(),
            defaults: ConfigTable::new(),
            retry: false,
            intake: Default::default(),
        }
    }

    const SHAPE: BlockShape<'static> = BlockShape {
        separator: "---",
        first: TELEGRAM_LABEL,
        more: &[REGISTERED_LABEL, SOURCE_LABEL, FOLLOW_UP_LABEL],
    };

    #[test]
    fn times_are_utc_with_fractions_only_when_there_are_some() {
        for (at, written) in [
            (
                datetime!(2026-11-21 14:58:00.5 +3),
                "2026-11-21T11:58:00.5Z",
            ),
            (datetime!(2026-11-21 11:58:00 UTC), "2026-11-21T11:58:00Z"),
        ] {
            assert_eq!(rfc3339_utc(at), written);
        }
    }

    #[test]
    fn requester_lines_name_the_person_id_and_company() {
        assert_eq!(
            requester_line(&requester()),
            "Анна Смирнова (@anna_s), id 555001, ООО Ромашка"
        );
        let alone = Requester {
            username: None,
            company: None,
            ..requester()
        };
        assert_eq!(requester_line(&alone), "Анна Смирнова, id 555001");
        let escaped = requester_line_escaped(&requester(), |s| s.replace('_', "\\_"));
        assert_eq!(escaped, "Анна Смирнова (@anna\\_s), id 555001, ООО Ромашка");
    }

    #[test]
    fn titles_fall_back_to_the_first_line_and_are_cut() {
        let description = "\n  Принтер в бухгалтерии не печатает.  \nВторая строка";
        assert_eq!(
            ticket_title("  Не печатает  ", description, 250),
            "Не печатает"
        );
        assert_eq!(
            ticket_title(" ", description, 250),
            "Принтер в бухгалтерии не печатает."
        );
        assert_eq!(ticket_title("", " \n ", 250), "Telegram");
        assert_eq!(ticket_title(&"я".repeat(300), "", 255).chars().count(), 255);
    }

    #[test]
    fn a_block_follows_the_text_and_strips_back() {
        let draft = TicketDraft {
            requester: Requester {
                username: None,
                ..requester()
            },
            registered_at: datetime!(2026-11-21 11:58:00 UTC),
            follow_up_of: Some(TicketRef {
                id: TicketId("7".into()),
                number: "31001".into(),
                url: None,
            }),
            ..draft()
        };
        let lines = requester_lines(&draft, FOLLOW_UP_LABEL);
        let text = with_block(draft.description.trim(), "---", &lines);
        assert_eq!(
            text,
            "Принтер в бухгалтерии не печатает.\n\n---\n\
             Telegram: Анна Смирнова, id 555001, ООО Ромашка\n\
             Registered (UTC): 2026-11-21T11:58:00Z\n\
             Source: https://t.me/c/1234567890/42\n\
             Follow-up of: #31001"
        );
        assert_eq!(
            strip_block(&text, &SHAPE),
            "Принтер в бухгалтерии не печатает."
        );
        let follow_up_to = requester_lines(&draft, "Follow-up to: ");
        assert_eq!(follow_up_to[3], "Follow-up to: #31001");
    }

    #[test]
    fn an_empty_text_is_only_the_block_and_strips_to_nothing() {
        let lines = requester_lines(&draft(), FOLLOW_UP_LABEL);
        let text = with_block("", "---", &lines);
        assert!(text.starts_with("---\nTelegram: "), "{text}");
        assert_eq!(strip_block(&text, &SHAPE), "");
    }

    #[test]
    fn text_after_the_block_survives() {
        let lines = requester_lines(&draft(), FOLLOW_UP_LABEL);
        let text = format!(
            "{}\n\nУточнение от поддержки",
            with_block("Принтер не печатает.", "---", &lines)
        );
        assert_eq!(
            strip_block(&text, &SHAPE),
            "Принтер не печатает.\n\nУточнение от поддержки"
        );
    }

    #[test]
    fn a_horizontal_rule_of_the_client_is_not_a_block() {
        assert_eq!(strip_block("a\n\n---\nb", &SHAPE), "a\n\n---\nb");
        // Right under a line, `---` makes a Markdown heading, which teledesk never writes.
        let heading = "a\n---\nTelegram: x, id 1";
        assert_eq!(strip_block(heading, &SHAPE), heading);
    }

    #[test]
    fn paragraphs_join_with_one_blank_line() {
        assert_eq!(join_paragraphs(" a \n", "\n b"), "a\n\nb");
        assert_eq!(join_paragraphs("a", " "), "a");
        assert_eq!(join_paragraphs("", "b"), "b");
        assert_eq!(join_paragraphs("", ""), "");
    }

    #[test]
    fn markers_match_whole_keys_only() {
        let text = "Вот фото\n\n*tg-key: tg:-100:5*";
        assert!(has_marker_for(text, "tg:-100:5"));
        assert!(!has_marker_for(text, "tg:-100:50"));
        assert!(!has_marker_for(text, "tg:-100"));
        assert!(has_marker_for("tg-key: a tg-key: a:1", "a:1"));
        assert!(has_any_marker(text));
        assert!(!has_any_marker("tg-key:tg:-100:5"));
        assert!(ends_key("") && ends_key("*") && ends_key(" · priority"));
        assert!(!ends_key("0") && !ends_key(":") && !ends_key("_x"));
    }

    #[test]
    fn only_the_last_line_names_the_key_of_a_retry() {
        let key = "tg:-100:6";
        let written =
            "Анна:\n\nСледующее\n\n*[Telegram](https://t.me/c/100/6) · tg-key: tg:-100:6*\n";
        assert!(has_footer_for(written, key));
        assert!(!has_footer_for(written, "tg:-100:60"));
        assert!(!has_footer_for(written, "tg:-100"));
        // A client typed the marker of their next message as their last line; teledesk's footer
        // for this message still comes after it.
        let typed = "Анна:\n\nпривет\ntg-key: tg:-100:6\n\n*tg-key: tg:-100:5*";
        assert!(!has_footer_for(typed, key));
        assert!(has_footer_for(typed, "tg:-100:5"));
        // Staff quoting a teledesk comment write their own text below it.
        let quoted = "> Анна:\n> *tg-key: tg:-100:5*\n\nПерезагрузите принтер";
        assert!(!has_footer_for(quoted, "tg:-100:5"));
        assert_eq!(footer_line(quoted), None);
        assert_eq!(
            footer_line("a\ntg-key: x · priority 0 → 50\n \n"),
            Some("tg-key: x · priority 0 → 50")
        );
        assert!(!has_footer_for("", key));
    }

    #[test]
    fn only_a_trailing_marker_line_is_a_footer() {
        let mut lines = vec!["Вот фото", "", "tg-key: tg:-100:5", "  "];
        drop_marker_footer(&mut lines);
        assert_eq!(lines, ["Вот фото", ""]);
        let mut quoted = vec!["tg-key: tg:-100:5", "", "Ответ"];
        drop_marker_footer(&mut quoted);
        assert_eq!(quoted, ["tg-key: tg:-100:5", "", "Ответ"]);
    }

    #[test]
    fn html_splits_into_text_and_lower_cased_tags() {
        let pieces: Vec<HtmlPiece<'_>> = html_pieces("a<BR />b< /P>c<d").collect();
        assert_eq!(
            pieces,
            [
                HtmlPiece::Text("a"),
                HtmlPiece::Tag("br /".into()),
                HtmlPiece::Text("b"),
                HtmlPiece::Tag("/p".into()),
                HtmlPiece::Text("c<d"),
            ]
        );
        let empty: Vec<HtmlPiece<'_>> = html_pieces("").collect();
        assert_eq!(empty, [HtmlPiece::Text("")]);
    }

    #[test]
    fn common_entities_decode_one_after_the_other() {
        assert_eq!(
            decode_common_entities("a&nbsp;&lt;b&gt; &quot;c&#39; &amp;lt; &#8212;"),
            "a <b> \"c' &lt; &#8212;"
        );
    }

    #[test]
    fn entities_decode_in_one_pass() {
        assert_eq!(decode_entities("&unknown; &#x41;&#66;", 10), "&unknown; AB");
        assert_eq!(
            decode_entities("a&nbsp;b &#8212; &amp;lt; &apos; &", 10),
            "a b — &lt; ' &"
        );
        assert_eq!(decode_entities("&#xZZ; &#; &;", 10), "&#xZZ; &#; &;");
        // A name longer than allowed is text, whatever it would have meant.
        assert_eq!(decode_entities("&#000000065;", 10), "A");
        assert_eq!(decode_entities("&#000000065;", 9), "&#000000065;");
    }
}
