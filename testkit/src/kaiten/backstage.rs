//! The staff side of [`FakeKaiten`] for the conformance suite.
//!
//! Kaiten is SaaS and never runs here, so unlike the vendors with a live server this backstage
//! drives the fake directly instead of going through Kaiten's HTTP API.

use super::FakeKaiten;
use crate::conformance::{Backstage, BackstageResult};
use async_trait::async_trait;
use serde_json::Value;
use teledesk_adapter::{Attachment, StatusClass, TicketId, WebhookRequest};

/// The staff member the backstage acts as.
pub const STAFF_NAME: &str = "Мария Петрова";

/// The property that holds the resolution text in the conformance setup.
pub const RESOLUTION_PROPERTY: &str = "id_7";

/// Acts as Kaiten staff on a [`FakeKaiten`].
pub struct KaitenBackstage {
    fake: FakeKaiten,
}

impl KaitenBackstage {
    /// A backstage for `fake`.
    pub fn new(fake: FakeKaiten) -> Self {
        Self { fake }
    }

    fn card_id(ticket: &TicketId) -> BackstageResult<i64> {
        ticket
            .0
            .parse()
            .map_err(|_| format!("{ticket} is not a Kaiten card id"))
    }

    fn card(&self, ticket: &TicketId) -> BackstageResult<super::FakeCard> {
        let id = Self::card_id(ticket)?;
        self.fake.card(id).ok_or_else(|| format!("no card {id}"))
    }
}

#[async_trait]
impl Backstage for KaitenBackstage {
    async fn staff_reply(
        &self,
        ticket: &TicketId,
        body: &str,
        file: Option<&Attachment>,
    ) -> BackstageResult<()> {
        let id = Self::card_id(ticket)?;
        self.card(ticket)?;
        match file {
            Some(file) => self.fake.staff_reply_with_file(
                id,
                STAFF_NAME,
                body,
                &file.file_name,
                crate::samples::bytes_of(file),
            ),
            None => self.fake.staff_reply(id, STAFF_NAME, body),
        };
        Ok(())
    }

    async fn staff_addressed_ticket(
        &self,
        subject: &str,
        body: &str,
        chat: &str,
        announcement: bool,
    ) -> BackstageResult<TicketId> {
        let id = self
            .fake
            .staff_address_card(subject, body, chat, announcement);
        Ok(TicketId(id.to_string()))
    }

    async fn set_due(
        &self,
        ticket: &TicketId,
        due: time::OffsetDateTime,
    ) -> BackstageResult<time::OffsetDateTime> {
        self.card(ticket)?;
        self.fake.set_due_date(Self::card_id(ticket)?, due, true);
        Ok(due)
    }

    async fn internal_note(&self, ticket: &TicketId, body: &str) -> BackstageResult<()> {
        self.card(ticket)?;
        self.fake
            .internal_note(Self::card_id(ticket)?, STAFF_NAME, body);
        Ok(())
    }

    async fn assign(&self, ticket: &TicketId) -> BackstageResult<String> {
        self.card(ticket)?;
        self.fake.assign(Self::card_id(ticket)?, STAFF_NAME);
        Ok(STAFF_NAME.to_owned())
    }

    /// The columns of the fake's board with the classes of the conformance config: the queue and
    /// work columns by their type, "waiting" and "done" by the `statuses` table.
    fn vendor_states(&self) -> Vec<(String, StatusClass)> {
        vec![
            (FakeKaiten::COLUMN_NEW.to_string(), StatusClass::New),
            (
                FakeKaiten::COLUMN_IN_PROGRESS.to_string(),
                StatusClass::InProgress,
            ),
            (
                FakeKaiten::COLUMN_WAITING.to_string(),
                StatusClass::WaitingClient,
            ),
            (FakeKaiten::COLUMN_DONE.to_string(), StatusClass::Closed),
        ]
    }

    async fn set_state(&self, ticket: &TicketId, state: &str) -> BackstageResult<()> {
        self.card(ticket)?;
        let column = state
            .parse()
            .map_err(|_| format!("{state} is not a column id"))?;
        self.fake.move_to_column(Self::card_id(ticket)?, column);
        Ok(())
    }

    async fn resolve(&self, ticket: &TicketId, resolution: &str) -> BackstageResult<()> {
        let id = Self::card_id(ticket)?;
        self.card(ticket)?;
        self.fake.set_property(
            id,
            RESOLUTION_PROPERTY,
            Value::String(resolution.to_owned()),
        );
        self.fake.move_to_column(id, FakeKaiten::COLUMN_DONE);
        Ok(())
    }

    async fn staff_text(&self, ticket: &TicketId) -> BackstageResult<String> {
        let card = self.card(ticket)?;
        // Staff read the description rendered, so markdown escapes (`anna\_smirnova`) are gone.
        let rendered = unescape_markdown(&card.description);
        Ok(format!(
            "{}\n{rendered}\n{}",
            card.title,
            Value::Object(card.properties)
        ))
    }

    fn intake_target(&self) -> Option<String> {
        // «Итог», a string property that is not the resolution property.
        Some("properties.id_42".into())
    }

    async fn intake_value(
        &self,
        ticket: &TicketId,
        target: &str,
    ) -> BackstageResult<Option<String>> {
        let key = target.strip_prefix("properties.").unwrap_or(target);
        Ok(self
            .card(ticket)?
            .properties
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    async fn placement(&self, ticket: &TicketId) -> BackstageResult<String> {
        let card = self.card(ticket)?;
        Ok(format!("board {} column {}", card.board_id, card.column_id))
    }

    async fn priority(&self, ticket: &TicketId) -> BackstageResult<Option<String>> {
        Ok(self.card(ticket)?.asap.then(|| "ASAP".to_owned()))
    }

    async fn native_rating(&self, _ticket: &TicketId) -> BackstageResult<Option<u8>> {
        Ok(None)
    }

    async fn linked(&self, _follow_up: &TicketId, _original: &TicketId) -> BackstageResult<bool> {
        Ok(false)
    }

    fn webhook(&self, _ticket: &TicketId) -> Option<WebhookRequest> {
        None
    }

    fn missing_ticket(&self) -> TicketId {
        TicketId("999999".into())
    }

    async fn add_oddities(&self, ticket: &TicketId) -> BackstageResult<bool> {
        self.card(ticket)?;
        self.fake.add_oddities(Self::card_id(ticket)?);
        Ok(true)
    }
}

fn unescape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek().is_some_and(|next| next.is_ascii_punctuation()) {
            continue;
        }
        out.push(c);
    }
    out
}
