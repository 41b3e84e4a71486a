//! The staff side of a Znuny for the conformance suite, over the Generic Interface itself (the
//! same `teledesk-webservice.yml` routes), so it drives [`super::FakeZnuny`] and a live Znuny alike.
//!
//! Staff act as one agent, authenticating each request with `UserLogin` + `Password` (query string
//! for `GET`, JSON body otherwise). Webhooks are built as Znuny's `Ticket::Generic` invoker sends
//! them, with the HTTP Basic credentials its requester is configured with.

use crate::conformance::{Backstage, BackstageResult};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use teledesk_adapter::{Attachment, StatusClass, TicketId, WebhookRequest};

/// Znuny's default states and the classes teledesk-znuny's default map gives them.
pub const DEFAULT_STATES: [(&str, StatusClass); 9] = [
    ("new", StatusClass::New),
    ("open", StatusClass::InProgress),
    ("pending reminder", StatusClass::WaitingClient),
    ("pending auto close+", StatusClass::Resolved),
    ("pending auto close-", StatusClass::WaitingClient),
    ("closed successful", StatusClass::Closed),
    ("closed unsuccessful", StatusClass::Closed),
    ("merged", StatusClass::Closed),
    ("removed", StatusClass::Closed),
];

/// A Znuny staff member, driven through the Generic Interface.
#[derive(Clone)]
pub struct ZnunyBackstage {
    http: reqwest::Client,
    url: String,
    login: String,
    password: String,
    webhook_secret: Option<String>,
    missing_ticket: String,
    /// The fake behind `url`, where odd entries can be injected; `None` for a real server.
    fake: Option<super::FakeZnuny>,
    /// A ticket dynamic field (Text) the intake conformance case writes.
    intake_field: Option<String>,
    /// The dynamic fields that address a ticket to a chat and mark it an announcement.
    address_fields: Option<(String, String)>,
}

impl std::fmt::Debug for ZnunyBackstage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZnunyBackstage")
            .field("url", &self.url)
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

impl ZnunyBackstage {
    /// Names a ticket dynamic field (Text) that the intake conformance case writes.
    pub fn with_intake_field(mut self, name: &str) -> Self {
        self.intake_field = Some(name.to_owned());
        self
    }

    /// Staff agent `login` on the web service at `url` (the adapter's `url`).
    pub fn new(
        url: impl Into<String>,
        login: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.into().trim_end_matches('/').to_owned(),
            login: login.into(),
            password: password.into(),
            webhook_secret: None,
            missing_ticket: "987654321".to_owned(),
            fake: None,
            intake_field: None,
            address_fields: None,
        }
    }

    /// Addresses the tickets [`Backstage::staff_addressed_ticket`] creates with these dynamic
    /// fields (the adapter's `chat_field` and `announcement_field`).
    pub fn with_address_fields(mut self, chat_field: &str, announcement_field: &str) -> Self {
        self.address_fields = Some((chat_field.to_owned(), announcement_field.to_owned()));
        self
    }

    /// Injects odd entries through `fake` (the server at `url`) for
    /// [`Backstage::add_oddities`].
    pub fn with_fake(mut self, fake: super::FakeZnuny) -> Self {
        self.fake = Some(fake);
        self
    }

    /// The Basic auth password of webhooks (the adapter's `webhook_secret`).
    pub fn with_webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.webhook_secret = Some(secret.into());
        self
    }

    async fn update(&self, ticket: &TicketId, mut body: Value) -> BackstageResult<Value> {
        body["UserLogin"] = json!(self.login);
        body["Password"] = json!(self.password);
        let response = self
            .http
            .patch(format!("{}/Ticket/{}", self.url, ticket.0))
            .json(&body)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        answer(response).await
    }

    async fn get(&self, ticket: &TicketId, options: &[(&str, &str)]) -> BackstageResult<Value> {
        let mut query: Vec<(&str, &str)> = vec![
            ("UserLogin", self.login.as_str()),
            ("Password", self.password.as_str()),
        ];
        query.extend_from_slice(options);
        let response = self
            .http
            .get(format!("{}/Ticket/{}", self.url, ticket.0))
            .query(&query)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let value = answer(response).await?;
        value
            .pointer("/Ticket/0")
            .cloned()
            .ok_or_else(|| format!("no ticket in {value}"))
    }

    fn article(body: &str, public: bool) -> Value {
        json!({
            "CommunicationChannel": if public { "Email" } else { "Internal" },
            "SenderType": "agent",
            "IsVisibleForCustomer": if public { 1 } else { 0 },
            "Subject": if public { "Ответ" } else { "Заметка" },
            "Body": body,
            "ContentType": "text/plain; charset=utf-8",
        })
    }

    fn state_change(state: &str) -> Value {
        // Znuny refuses a pending state without a pending time.
        if state.starts_with("pending") {
            json!({"State": state, "PendingTime": {"Diff": 1440}})
        } else {
            json!({"State": state})
        }
    }
}

async fn answer(response: reqwest::Response) -> BackstageResult<Value> {
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {text}"));
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
    if let Some(error) = value.get("Error") {
        return Err(error.to_string());
    }
    Ok(value)
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[async_trait]
impl Backstage for ZnunyBackstage {
    /// An agent opens a ticket in the default queue for the customer `acme` with a public first
    /// article, as AgentTicketPhone does, and fills the address fields.
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
        let mut fields = vec![json!({"Name": chat_field, "Value": chat})];
        if announcement {
            fields.push(json!({"Name": announcement_field, "Value": "1"}));
        }
        let request = json!({
            "UserLogin": self.login,
            "Password": self.password,
            "Ticket": {
                "Title": subject,
                "Queue": "Support",
                "State": "open",
                "Priority": "3 normal",
                "CustomerUser": "acme",
            },
            "Article": {
                "CommunicationChannel": "Phone",
                "SenderType": "agent",
                "IsVisibleForCustomer": 1,
                "Subject": subject,
                "Body": body,
                "ContentType": "text/plain; charset=utf-8",
            },
            "DynamicField": fields,
        });
        let response = self
            .http
            .post(format!("{}/Ticket", self.url))
            .json(&request)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let created = answer(response).await?;
        Ok(TicketId(text(&created["TicketID"])))
    }

    async fn staff_reply(
        &self,
        ticket: &TicketId,
        body: &str,
        file: Option<&Attachment>,
    ) -> BackstageResult<()> {
        let mut request = json!({"Article": Self::article(body, true)});
        if let Some(file) = file {
            request["Attachment"] = json!([{
                "Content": BASE64.encode(crate::samples::bytes_of(file)),
                "ContentType": file.content_type,
                "Filename": file.file_name,
            }]);
        }
        self.update(ticket, request).await.map(|_| ())
    }

    async fn set_due(
        &self,
        ticket: &TicketId,
        due: time::OffsetDateTime,
    ) -> BackstageResult<time::OffsetDateTime> {
        // Znuny computes escalation times from SLAs and queue settings, not from an API call.
        let fake = self
            .fake
            .as_ref()
            .ok_or("a live Znuny needs an SLA to set a due time")?;
        let id: i64 = ticket.0.parse().map_err(|_| format!("{ticket} is no id"))?;
        fake.set_escalation(id, None, Some(due));
        Ok(due.replace_nanosecond(0).map_err(|e| e.to_string())?)
    }

    async fn internal_note(&self, ticket: &TicketId, body: &str) -> BackstageResult<()> {
        self.update(ticket, json!({"Article": Self::article(body, false)}))
            .await
            .map(|_| ())
    }

    async fn assign(&self, ticket: &TicketId) -> BackstageResult<String> {
        // "Lock" in the agent interface: the agent becomes owner and the ticket is locked.
        self.update(
            ticket,
            json!({"Ticket": {"Owner": self.login, "Lock": "lock"}}),
        )
        .await?;
        Ok(self.login.clone())
    }

    fn vendor_states(&self) -> Vec<(String, StatusClass)> {
        DEFAULT_STATES
            .iter()
            .map(|(state, class)| ((*state).to_owned(), *class))
            .collect()
    }

    async fn set_state(&self, ticket: &TicketId, state: &str) -> BackstageResult<()> {
        self.update(ticket, json!({"Ticket": Self::state_change(state)}))
            .await
            .map(|_| ())
    }

    async fn resolve(&self, ticket: &TicketId, resolution: &str) -> BackstageResult<()> {
        // Core Znuny has no solution field: the closing answer carries the resolution.
        self.update(
            ticket,
            json!({
                "Ticket": {"State": "closed successful"},
                "Article": Self::article(resolution, true),
            }),
        )
        .await
        .map(|_| ())
    }

    async fn staff_text(&self, ticket: &TicketId) -> BackstageResult<String> {
        let ticket = self
            .get(ticket, &[("AllArticles", "1"), ("DynamicFields", "1")])
            .await?;
        let mut lines = vec![
            text(&ticket["Title"]),
            format!("Customer: {}", text(&ticket["CustomerUserID"])),
        ];
        for field in ticket["DynamicField"].as_array().into_iter().flatten() {
            if !field["Value"].is_null() {
                lines.push(format!(
                    "{}: {}",
                    text(&field["Name"]),
                    text(&field["Value"])
                ));
            }
        }
        for article in ticket["Article"].as_array().into_iter().flatten() {
            lines.push(format!(
                "{}\n{}",
                text(&article["Subject"]),
                text(&article["Body"])
            ));
        }
        Ok(lines.join("\n"))
    }

    fn intake_target(&self) -> Option<String> {
        self.intake_field
            .as_ref()
            .map(|name| format!("dynamic_fields.{name}"))
    }

    async fn intake_value(
        &self,
        ticket: &TicketId,
        target: &str,
    ) -> BackstageResult<Option<String>> {
        let name = target.strip_prefix("dynamic_fields.").unwrap_or(target);
        let ticket = self.get(ticket, &[("DynamicFields", "1")]).await?;
        Ok(ticket["DynamicField"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["Name"].as_str() == Some(name))
            .and_then(|f| match &f["Value"] {
                Value::String(text) => Some(text.clone()),
                Value::Array(items) => items.first()?.as_str().map(str::to_owned),
                _ => None,
            }))
    }

    async fn placement(&self, ticket: &TicketId) -> BackstageResult<String> {
        let ticket = self.get(ticket, &[]).await?;
        Ok(format!(
            "{} / {}",
            text(&ticket["Queue"]),
            text(&ticket["Type"])
        ))
    }

    async fn priority(&self, ticket: &TicketId) -> BackstageResult<Option<String>> {
        let ticket = self.get(ticket, &[]).await?;
        Ok(Some(text(&ticket["Priority"])).filter(|p| !p.is_empty()))
    }

    async fn native_rating(&self, _ticket: &TicketId) -> BackstageResult<Option<u8>> {
        // Satisfaction surveys are an add-on; core Znuny stores no rating.
        Ok(None)
    }

    async fn linked(&self, _follow_up: &TicketId, _original: &TicketId) -> BackstageResult<bool> {
        // Links exist in Znuny, but no core Generic Interface operation reads them.
        Ok(false)
    }

    fn webhook(&self, ticket: &TicketId) -> Option<WebhookRequest> {
        let body = json!({
            "Event": {"Event": "ArticleCreate", "TicketID": ticket.0, "ArticleID": "1"},
            "Ticket": {"TicketID": ticket.0, "State": "open", "StateType": "open"},
        });
        let mut headers = vec![(
            "content-type".to_owned(),
            "application/json; charset=UTF-8".to_owned(),
        )];
        if let Some(secret) = &self.webhook_secret {
            let credentials = BASE64.encode(format!("znuny:{secret}"));
            headers.push(("authorization".to_owned(), format!("Basic {credentials}")));
        }
        Some(WebhookRequest {
            headers,
            body: body.to_string().into_bytes(),
        })
    }

    fn missing_ticket(&self) -> TicketId {
        TicketId(self.missing_ticket.clone())
    }

    async fn add_oddities(&self, ticket: &TicketId) -> BackstageResult<bool> {
        let Some(fake) = &self.fake else {
            return Ok(false);
        };
        let id = ticket
            .0
            .parse()
            .map_err(|_| format!("{ticket} is not a Znuny ticket id"))?;
        if fake.ticket(id).is_none() {
            return Err(format!("no ticket {id}"));
        }
        fake.add_oddities(id);
        Ok(true)
    }
}
