//! Zammad's staff side over its own REST API, for the conformance suite: the same driver works
//! against [`super::FakeZammad`] and a real Zammad (an agent's access token with `ticket.agent`).

use crate::conformance::{Backstage, BackstageResult};
use async_trait::async_trait;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use teledesk_adapter::{Attachment, StatusClass, TicketId, WebhookRequest};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::OnceCell;

/// The adapter's default status map: Zammad's default states and their classes.
const DEFAULT_STATES: [(&str, StatusClass); 7] = [
    ("new", StatusClass::New),
    ("open", StatusClass::InProgress),
    ("pending reminder", StatusClass::WaitingClient),
    ("pending close", StatusClass::Resolved),
    ("closed", StatusClass::Closed),
    ("merged", StatusClass::Closed),
    ("removed", StatusClass::Closed),
];

/// An agent of a Zammad, acting through the REST API.
pub struct ZammadBackstage {
    http: reqwest::Client,
    api: String,
    token: String,
    webhook_secret: Option<String>,
    /// The agent's id and display name, learned on first need.
    me: OnceCell<(i64, String)>,
    /// The fake behind the url, where odd entries can be injected; `None` for a real Zammad.
    fake: Option<super::FakeZammad>,
    /// A ticket object attribute (text) the intake conformance case writes.
    intake_field: Option<String>,
    /// The object attributes (text, boolean) that address a ticket to a chat and mark it an
    /// announcement.
    address_fields: Option<(String, String)>,
}

impl std::fmt::Debug for ZammadBackstage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZammadBackstage")
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

impl ZammadBackstage {
    /// A staff side for the Zammad at `url` (the site, without `/api/v1`), acting with an agent's
    /// access token; webhooks are signed with `webhook_secret` when given.
    pub fn new(url: &str, staff_token: &str, webhook_secret: Option<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            api: format!("{}/api/v1", url.trim_end_matches('/')),
            token: staff_token.to_owned(),
            webhook_secret,
            me: OnceCell::new(),
            fake: None,
            intake_field: None,
            address_fields: None,
        }
    }

    /// Addresses the tickets [`Backstage::staff_addressed_ticket`] creates with these object
    /// attributes (the adapter's `chat_field` and `announcement_field`).
    pub fn with_address_fields(mut self, chat_field: &str, announcement_field: &str) -> Self {
        self.address_fields = Some((chat_field.to_owned(), announcement_field.to_owned()));
        self
    }

    /// Names a ticket object attribute (text) that the intake conformance case writes.
    pub fn with_intake_field(mut self, name: &str) -> Self {
        self.intake_field = Some(name.to_owned());
        self
    }

    /// Injects odd entries through `fake` (the server at the url) for
    /// [`Backstage::add_oddities`].
    pub fn with_fake(mut self, fake: super::FakeZammad) -> Self {
        self.fake = Some(fake);
        self
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> BackstageResult<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.api))
            .header("authorization", format!("Token token={}", self.token))
            .query(query);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{method} {path}: {e}: {text}"))
    }

    async fn me(&self) -> BackstageResult<(i64, String)> {
        self.me
            .get_or_try_init(|| async {
                let user = self.call(Method::GET, "/users/me", &[], None).await?;
                let id = user["id"].as_i64().ok_or("users/me has no id")?;
                let name = format!(
                    "{} {}",
                    user["firstname"].as_str().unwrap_or_default(),
                    user["lastname"].as_str().unwrap_or_default()
                )
                .trim()
                .to_owned();
                Ok::<_, String>((id, name))
            })
            .await
            .cloned()
    }

    async fn ticket(&self, ticket: &TicketId) -> BackstageResult<Value> {
        self.call(
            Method::GET,
            &format!("/tickets/{ticket}"),
            &[("expand", "true".into())],
            None,
        )
        .await
    }

    async fn update(&self, ticket: &TicketId, body: Value) -> BackstageResult<Value> {
        self.call(
            Method::PUT,
            &format!("/tickets/{ticket}"),
            &[("expand", "true".into())],
            Some(body),
        )
        .await
    }

    async fn article(
        &self,
        ticket: &TicketId,
        body: &str,
        internal: bool,
        file: Option<&Attachment>,
    ) -> BackstageResult<()> {
        let html = body
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\n', "<br>");
        let attachments: Vec<Value> = file
            .map(|f| {
                json!({
                    "filename": f.file_name,
                    "data": base64::engine::general_purpose::STANDARD.encode(crate::samples::bytes_of(f)),
                    "mime-type": f.content_type,
                })
            })
            .into_iter()
            .collect();
        let ticket_id: i64 = ticket
            .0
            .parse()
            .map_err(|_| format!("{ticket} is no Zammad ticket id"))?;
        self.call(
            Method::POST,
            "/ticket_articles",
            &[],
            Some(json!({
                "ticket_id": ticket_id,
                "body": format!("<div>{html}</div>"),
                "content_type": "text/html",
                "type": "note",
                "internal": internal,
                "sender": "Agent",
                "attachments": attachments,
            })),
        )
        .await
        .map(|_| ())
    }
}

/// A webhook request as Zammad sends it: JSON body, Zammad's headers, and `X-Hub-Signature:
/// sha1=<hex HMAC-SHA1 of the body>` when a signature token is set.
pub(super) fn signed_webhook(body: Vec<u8>, secret: Option<&str>) -> WebhookRequest {
    static DELIVERY: AtomicU64 = AtomicU64::new(1);
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("user-agent".to_owned(), "Zammad User Agent".to_owned()),
        ("x-zammad-trigger".to_owned(), "teledesk".to_owned()),
        (
            "x-zammad-delivery".to_owned(),
            format!("fake-delivery-{}", DELIVERY.fetch_add(1, Ordering::Relaxed)),
        ),
    ];
    if let Some(secret) = secret {
        // HMAC takes keys of any length.
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(&body);
        headers.push((
            "x-hub-signature".to_owned(),
            format!("sha1={}", hex::encode(mac.finalize().into_bytes())),
        ));
    }
    WebhookRequest { headers, body }
}

#[async_trait]
impl Backstage for ZammadBackstage {
    /// An agent opens a ticket for the customer Nicole Braun in the `Users` group with a public
    /// first article (a phone call noted by the agent, as the agent UI's "outbound call" does)
    /// and fills the address attributes.
    async fn staff_addressed_ticket(
        &self,
        subject: &str,
        body: &str,
        chat: &str,
        announcement: bool,
    ) -> BackstageResult<TicketId> {
        let (chat_field, announcement_field) = self
            .address_fields
            .as_ref()
            .ok_or("no address fields: call with_address_fields")?;
        let mut ticket = json!({
            "title": subject,
            "group": "Users",
            "customer_id": "guess:nicole.braun@zammad.org",
            "article": {
                "subject": subject,
                "body": body,
                "content_type": "text/plain",
                "type": "phone",
                "sender": "Agent",
                "internal": false,
            },
        });
        ticket[chat_field.as_str()] = json!(chat);
        ticket[announcement_field.as_str()] = json!(announcement);
        let created = self
            .call(Method::POST, "/tickets", &[], Some(ticket))
            .await?;
        let id = created["id"].as_i64().ok_or("the new ticket has no id")?;
        Ok(TicketId(id.to_string()))
    }

    fn intake_target(&self) -> Option<String> {
        self.intake_field
            .as_ref()
            .map(|name| format!("attributes.{name}"))
    }

    async fn intake_value(
        &self,
        ticket: &TicketId,
        target: &str,
    ) -> BackstageResult<Option<String>> {
        let name = target.strip_prefix("attributes.").unwrap_or(target);
        let ticket = self.ticket(ticket).await?;
        Ok(ticket[name].as_str().map(str::to_owned))
    }

    async fn staff_reply(
        &self,
        ticket: &TicketId,
        body: &str,
        file: Option<&Attachment>,
    ) -> BackstageResult<()> {
        self.article(ticket, body, false, file).await
    }

    async fn set_due(
        &self,
        ticket: &TicketId,
        due: time::OffsetDateTime,
    ) -> BackstageResult<time::OffsetDateTime> {
        // Zammad computes escalation times from its SLAs; the API cannot set them.
        let fake = self
            .fake
            .as_ref()
            .ok_or("a live Zammad needs an SLA to set a due time")?;
        let id: i64 = ticket.0.parse().map_err(|_| format!("{ticket} is no id"))?;
        fake.set_escalation(id, None, Some(due));
        Ok(due)
    }

    async fn internal_note(&self, ticket: &TicketId, body: &str) -> BackstageResult<()> {
        self.article(ticket, body, true, None).await
    }

    async fn assign(&self, ticket: &TicketId) -> BackstageResult<String> {
        let (id, name) = self.me().await?;
        self.update(ticket, json!({ "owner_id": id })).await?;
        Ok(name)
    }

    fn vendor_states(&self) -> Vec<(String, StatusClass)> {
        DEFAULT_STATES
            .iter()
            .map(|(name, class)| ((*name).to_owned(), *class))
            .collect()
    }

    async fn set_state(&self, ticket: &TicketId, state: &str) -> BackstageResult<()> {
        let mut body = json!({ "state": state });
        if state.starts_with("pending") {
            let at = OffsetDateTime::now_utc() + time::Duration::days(1);
            body["pending_time"] = json!(at.format(&Rfc3339).map_err(|e| e.to_string())?);
        }
        self.update(ticket, body).await.map(|_| ())
    }

    async fn resolve(&self, ticket: &TicketId, resolution: &str) -> BackstageResult<()> {
        // Zammad has no solution field by default: the closing reply carries the resolution.
        self.article(ticket, resolution, false, None).await?;
        self.set_state(ticket, "closed").await
    }

    async fn staff_text(&self, ticket: &TicketId) -> BackstageResult<String> {
        let found = self.ticket(ticket).await?;
        let articles = self
            .call(
                Method::GET,
                &format!("/ticket_articles/by_ticket/{ticket}"),
                &[],
                None,
            )
            .await?;
        let links = self
            .call(
                Method::GET,
                "/links",
                &[
                    ("link_object", "Ticket".into()),
                    ("link_object_value", ticket.0.clone()),
                ],
                None,
            )
            .await?;
        let mut text = serde_json::to_string_pretty(&found).map_err(|e| e.to_string())?;
        for article in articles.as_array().into_iter().flatten() {
            text.push_str("\n\n");
            text.push_str(article["from"].as_str().unwrap_or_default());
            text.push('\n');
            text.push_str(article["body"].as_str().unwrap_or_default());
        }
        text.push_str("\n\n");
        text.push_str(&links.to_string());
        Ok(text)
    }

    async fn placement(&self, ticket: &TicketId) -> BackstageResult<String> {
        let found = self.ticket(ticket).await?;
        Ok(format!(
            "{} / {}",
            found["group"].as_str().unwrap_or_default(),
            found["priority"].as_str().unwrap_or_default()
        ))
    }

    async fn priority(&self, ticket: &TicketId) -> BackstageResult<Option<String>> {
        let found = self.ticket(ticket).await?;
        Ok(found["priority"].as_str().map(str::to_owned))
    }

    async fn native_rating(&self, _ticket: &TicketId) -> BackstageResult<Option<u8>> {
        // Zammad has no satisfaction rating.
        Ok(None)
    }

    async fn linked(&self, follow_up: &TicketId, original: &TicketId) -> BackstageResult<bool> {
        let links = self
            .call(
                Method::GET,
                "/links",
                &[
                    ("link_object", "Ticket".into()),
                    ("link_object_value", follow_up.0.clone()),
                ],
                None,
            )
            .await?;
        let original: i64 = original
            .0
            .parse()
            .map_err(|_| format!("{original} is no Zammad ticket id"))?;
        Ok(links["links"].as_array().into_iter().flatten().any(|l| {
            l["link_object"] == "Ticket" && l["link_object_value"].as_i64() == Some(original)
        }))
    }

    fn webhook(&self, ticket: &TicketId) -> Option<WebhookRequest> {
        // The default payload carries the whole ticket; `ticket.id` is what a receiver needs, and
        // this method cannot ask the server for the rest.
        let id = ticket.0.parse::<i64>().ok()?;
        let body = json!({
            "ticket": {"id": id, "article_ids": []},
            "article": {"ticket_id": id, "sender": "Agent", "internal": false},
        });
        let body = serde_json::to_vec(&body).ok()?;
        Some(signed_webhook(body, self.webhook_secret.as_deref()))
    }

    fn missing_ticket(&self) -> TicketId {
        TicketId("999999999".into())
    }

    async fn add_oddities(&self, ticket: &TicketId) -> BackstageResult<bool> {
        let Some(fake) = &self.fake else {
            return Ok(false);
        };
        let id = ticket
            .0
            .parse()
            .map_err(|_| format!("{ticket} is not a Zammad ticket id"))?;
        if fake.ticket(id).is_none() {
            return Err(format!("no ticket {id}"));
        }
        fake.add_oddities(id);
        Ok(true)
    }
}
