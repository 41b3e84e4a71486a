//! The ticket card: what clients see of a ticket, rendered from the stored view.

use super::texts::{Lang, escape, truncate};
use crate::model::{Keyboard, TicketLink};
use std::hash::{Hash, Hasher};

/// Card text limits: Telegram allows 4096 characters; the parts people write are cut well below
/// so that the card always fits.
const SUBJECT_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 800;
const RESOLUTION_MAX: usize = 800;
const COMMENT_MAX: usize = 300;

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

/// Renders the card of a ticket.
pub fn card(link: &TicketLink, lang: Lang) -> Card {
    let labels = lang.card_labels();
    let view = &link.view;
    let mut lines = Vec::new();
    let number = match &link.number {
        Some(n) => format!("#{}", escape(n)),
        None => labels.registering.to_owned(),
    };
    lines.push(format!("📋 <b>{} {number}</b>", labels.ticket));
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
    lines.push(format!("<b>{}:</b> {}", labels.author, escape(&author)));
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
            .map(escape)
            .unwrap_or_else(|| labels.nobody.to_owned())
    ));
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
                escape(&comment.author),
                escape(&truncate(&comment.text, COMMENT_MAX))
            ));
        }
    }
    if !view.status.is_done() {
        lines.push(String::new());
        lines.push(format!("<i>{}</i>", labels.reply_hint));
    }
    Card {
        html: lines.join("\n"),
        keyboard: None,
    }
}

#[cfg(test)]
mod tests;
