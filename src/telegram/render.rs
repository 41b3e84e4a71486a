//! The ticket card: what clients see of a ticket, rendered from the stored view.

use super::split::{TEXT_LIMIT, split_html, truncate_units as truncate, visible_len};
use super::texts::{Lang, escape};
use crate::model::{Button, Keyboard, TicketLink};
use std::hash::{Hash, Hasher};

/// Card text limits in UTF-16 units (how Telegram counts its 4096): the parts people write are cut
/// well below, so that even a card written in emoji fits in one message.
const SUBJECT_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 800;
const RESOLUTION_MAX: usize = 800;
const COMMENT_MAX: usize = 300;
/// Names (author, company, assignee, comment authors) come from people too.
const NAME_MAX: usize = 100;

/// The card's HTML and keyboard.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Card {
    pub html: String,
    pub keyboard: Option<Keyboard>,
}

impl Card {
    /// A hash of what Telegram would show, to skip edits that would change nothing.
    pub fn fingerprint(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.hash(&mut hasher);
        hasher.finish()
    }
}

/// Where a card is shown: a message in a group, or a post in a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    Group,
    ChannelPost,
    ForumTopic,
}

/// Renders the card of a ticket. `bot_username` makes the «Оставить отзыв» deep link.
pub fn card(link: &TicketLink, lang: Lang, bot_username: &str) -> Card {
    card_on(link, lang, bot_username, Surface::Group)
}

/// Renders the card of a ticket for where it is shown.
pub fn card_on(link: &TicketLink, lang: Lang, bot_username: &str, surface: Surface) -> Card {
    card_at(
        link,
        lang,
        bot_username,
        surface,
        time::OffsetDateTime::now_utc(),
    )
}

/// Renders the card as of `now`, which decides whether a due time is marked as missed.
pub fn card_at(
    link: &TicketLink,
    lang: Lang,
    bot_username: &str,
    surface: Surface,
    now: time::OffsetDateTime,
) -> Card {
    let labels = lang.card_labels();
    let staff = lang.staff_labels();
    let announcement = link.staff_started.is_some_and(|s| s.announcement);
    let view = &link.view;
    let mut lines = Vec::new();
    let number = match &link.number {
        Some(n) => format!("#{}", escape(n)),
        None => labels.registering.to_owned(),
    };
    lines.push(format!("📋 <b>{} {number}</b>", labels.ticket));
    if let Some(original) = &link.follow_up_of {
        let number = original
            .number
            .as_deref()
            .map(|n| format!(" #{}", escape(n)))
            .unwrap_or_default();
        lines.push(format!("<i>{}{number}</i>", labels.follow_up_of));
    }
    match link.staff_started {
        Some(s) if s.announcement => lines.push(format!("📢 <i>{}</i>", staff.announcement)),
        Some(_) => lines.push(format!("<i>{}</i>", staff.from_support)),
        None => {}
    }
    lines.push(format!(
        "<b>{}:</b> {}",
        labels.problem,
        escape(&truncate(&view.subject, SUBJECT_MAX))
    ));
    if !view.description.trim().is_empty() {
        lines.push(format!(
            "<b>{}:</b> {}",
            labels.description,
            escape(&truncate(&view.description, DESCRIPTION_MAX))
        ));
    }
    let mut author = link.author.label();
    if let Some(company) = &link.author.company {
        author.push_str(&format!(", {company}"));
    }
    lines.push(format!(
        "<b>{}:</b> {}",
        labels.author,
        escape(&truncate(&author, NAME_MAX))
    ));
    // The moment the client asked (their message's own date, not when the helpdesk got it: after
    // an outage they differ), which every SLA figure starts from. Staff started theirs in the
    // helpdesk, which shows when.
    if link.staff_started.is_none() {
        lines.push(format!(
            "<b>{}:</b> {}",
            labels.registered,
            moment(link.registered_at())
        ));
    }
    // A notice has no status to follow and no one working on it.
    if !announcement {
        lines.push(format!(
            "<b>{}:</b> {}",
            labels.status,
            lang.status(view.status)
        ));
        lines.push(format!(
            "<b>{}:</b> {}",
            labels.assignee,
            view.assignee
                .as_deref()
                .map(|name| escape(&truncate(name, NAME_MAX)))
                .unwrap_or_else(|| labels.nobody.to_owned())
        ));
        let breaches = link.breaches(now);
        for (label, due, missed) in [
            (staff.respond_by, view.due.respond_by, breaches.response),
            (staff.resolve_by, view.due.resolve_by, breaches.resolution),
        ] {
            if let Some(due) = due {
                let mark = if missed {
                    format!(" ⚠️ <b>{}</b>", staff.overdue)
                } else {
                    String::new()
                };
                lines.push(format!("<b>{label}:</b> {}{mark}", moment(due)));
            }
        }
    }
    if let Some(resolution) = view.resolution.as_deref().filter(|r| !r.trim().is_empty()) {
        lines.push(format!(
            "<b>{}:</b> {}",
            labels.resolution,
            escape(&truncate(resolution, RESOLUTION_MAX))
        ));
    }
    if !view.last_comments.is_empty() {
        lines.push(String::new());
        lines.push(format!("<b>{}:</b>", labels.last_comments));
        for comment in &view.last_comments {
            lines.push(format!(
                "— <i>{}:</i> {}",
                escape(&truncate(&comment.author, NAME_MAX)),
                escape(&truncate(&comment.text, COMMENT_MAX))
            ));
        }
    }
    let keyboard = if view.status.is_done() && !announcement {
        Some(closed_keyboard(link, lang, bot_username))
    } else {
        None
    };
    match (view.status.is_done(), link.rating) {
        _ if announcement => {
            lines.push(String::new());
            lines.push(format!("<i>{}</i>", staff.announcement_hint));
        }
        (false, _) => {
            lines.push(String::new());
            let hint = match surface {
                Surface::Group => labels.reply_hint,
                Surface::ChannelPost => labels.comment_hint,
                Surface::ForumTopic => labels.topic_hint,
            };
            lines.push(format!("<i>{hint}</i>"));
        }
        (true, Some(score)) => {
            lines.push(String::new());
            lines.push(format!("<b>{}:</b> {}", labels.rating, Lang::stars(score)));
        }
        (true, None) => {
            lines.push(String::new());
            lines.push(format!("<i>{}</i>", labels.rate_hint));
        }
    }
    let mut html = lines.join("\n");
    if visible_len(&html) > TEXT_LIMIT {
        // The field limits keep a card far below this; a card is edited in place and cannot
        // become two messages, so whatever still overflows is cut rather than refused.
        html = split_html(&html, TEXT_LIMIT - 1).swap_remove(0);
        html.push('…');
    }
    Card { html, keyboard }
}

/// A moment (registration, a due time) as the card shows it: `25.11.2026 18:00 UTC`.
fn moment(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:02}.{:02}.{} {:02}:{:02} UTC",
        at.day(),
        u8::from(at.month()),
        at.year(),
        at.hour(),
        at.minute()
    )
}

/// The buttons of a done ticket: rate it (once), then leave feedback in a DM; reopen any time.
fn closed_keyboard(link: &TicketLink, lang: Lang, bot_username: &str) -> Keyboard {
    let local = link.local;
    let mut rows = Vec::new();
    match link.rating {
        None => rows.push(
            (1..=5)
                .map(|score| {
                    Button::callback(format!("{score}⭐"), format!("rate:{local}:{score}"))
                })
                .collect(),
        ),
        Some(_) if !link.feedback_given && !bot_username.is_empty() => {
            rows.push(vec![Button::link(
                lang.button_feedback(),
                format!("https://t.me/{bot_username}?start=fb_{local}"),
            )])
        }
        Some(_) => {}
    }
    rows.push(vec![Button::callback(
        lang.button_reopen(),
        format!("reopen:{local}"),
    )]);
    Keyboard { rows }
}

#[cfg(test)]
mod tests;
