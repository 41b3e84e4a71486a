//! [`GlpiBackstage`]: GLPI's staff side for the conformance suite, over GLPI's own REST API (a
//! technician's `user_token`), so the same driver works against [`super::FakeGlpi`] and a live
//! GLPI.

use crate::conformance::{Backstage, BackstageResult};
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use teledesk_adapter::{Attachment, StatusClass, TicketId, WebhookRequest};
use tokio::sync::{Mutex, OnceCell};

/// A technician acting through GLPI's legacy REST API.
pub struct GlpiBackstage {
    http: reqwest::Client,
    url: String,
    user_token: String,
    app_token: Option<String>,
    webhook_secret: Option<String>,
    session: Mutex<Option<String>>,
    /// The technician's id and friendly name.
    me: OnceCell<(i64, String)>,
    /// The fake behind `url`, where odd entries can be injected; `None` for a real server.
    fake: Option<super::FakeGlpi>,
    /// The request sources that address a ticket to its entity's chat, plainly and as an
    /// announcement.
    address_sources: Option<(i64, i64)>,
}

impl std::fmt::Debug for GlpiBackstage {
    // Tokens stay out of test output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlpiBackstage")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// GLPI's status codes, each with its class in the adapter's default map.
const STATES: [(&str, StatusClass); 6] = [
    ("1", StatusClass::New),
    ("2", StatusClass::InProgress),
    ("3", StatusClass::InProgress),
    ("4", StatusClass::WaitingClient),
    ("5", StatusClass::Resolved),
    ("6", StatusClass::Closed),
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// What a technician reads of rich text: tags gone, paragraphs and breaks as new lines.
fn rendered(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let tag = rest[open + 1..open + close].to_ascii_lowercase();
        if tag.starts_with("br") || tag == "/p" {
            out.push('\n');
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#039;", "'")
        .replace("&amp;", "&")
}

fn priority_name(priority: i64) -> String {
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

impl GlpiBackstage {
    /// A backstage on the API at `url` (`…/apirest.php`) acting as the owner of `user_token`;
    /// `webhook_secret` is the adapter's, to sign the webhooks it makes.
    pub fn new(
        url: impl Into<String>,
        user_token: impl Into<String>,
        app_token: Option<String>,
        webhook_secret: Option<String>,
    ) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.into().trim_end_matches('/').to_owned(),
            user_token: user_token.into(),
            app_token,
            webhook_secret,
            session: Mutex::new(None),
            me: OnceCell::new(),
            fake: None,
            address_sources: None,
        }
    }

    /// Addresses the tickets [`Backstage::staff_addressed_ticket`] opens with these request
    /// sources (the adapter's `chat_requesttype_id` and `announcement_requesttype_id`).
    pub fn with_address_sources(mut self, chat: i64, announcement: i64) -> Self {
        self.address_sources = Some((chat, announcement));
        self
    }

    /// The id of the entity called `name` right under the root entity, created when there is
    /// none (as an administrator sets up a client company).
    async fn entity_named(&self, name: &str) -> BackstageResult<i64> {
        let found = self
            .get(
                "find entity",
                "/Entity",
                &[
                    ("searchText[name]", name.to_owned()),
                    ("range", "0-999".to_owned()),
                ],
            )
            .await;
        // GLPI answers 400 `ERROR_RANGE_EXCEED_TOTAL` when nothing matched.
        let rows = found
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        if let Some(id) = rows
            .iter()
            .find(|e| e["name"].as_str() == Some(name))
            .and_then(|e| e["id"].as_i64())
        {
            return Ok(id);
        }
        self.created_id(
            "add entity",
            "/Entity",
            json!({"name": name, "entities_id": 0}),
        )
        .await
    }

    /// Injects odd entries through `fake` (the server at `url`) for
    /// [`Backstage::add_oddities`].
    pub fn with_fake(mut self, fake: super::FakeGlpi) -> Self {
        self.fake = Some(fake);
        self
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut builder = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("X-GLPI-Sanitized-Content", "false");
        if let Some(app_token) = &self.app_token {
            builder = builder.header("App-Token", app_token);
        }
        builder
    }

    async fn session(&self, renew: bool) -> BackstageResult<String> {
        let mut session = self.session.lock().await;
        if let Some(token) = session.as_ref().filter(|_| !renew) {
            return Ok(token.clone());
        }
        let response = self
            .request(Method::GET, "/initSession")
            .header("Content-Type", "application/json")
            .header("Authorization", format!("user_token {}", self.user_token))
            .send()
            .await
            .map_err(|e| format!("initSession: {e}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("initSession: {e}"))?;
        let token = body
            .get("session_token")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("initSession answered {status}: {body}"))?
            .to_owned();
        *session = Some(token.clone());
        Ok(token)
    }

    /// Sends a request (built again after a session renewal) and returns the JSON answer.
    async fn call(
        &self,
        what: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
        method: Method,
        path: &str,
    ) -> BackstageResult<Value> {
        for renew in [false, true] {
            let token = self.session(renew).await?;
            let response = build(
                self.request(method.clone(), path)
                    .header("Session-Token", token),
            )
            .send()
            .await
            .map_err(|e| format!("{what}: {e}"))?;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            if status == StatusCode::UNAUTHORIZED && !renew {
                continue;
            }
            if !status.is_success() {
                return Err(format!("{what}: HTTP {status}: {text}"));
            }
            return serde_json::from_str(&text).map_err(|e| format!("{what}: {e}: {text}"));
        }
        Err(format!("{what}: the session could not be renewed"))
    }

    async fn get(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> BackstageResult<Value> {
        self.call(what, |b| b.query(query), Method::GET, path).await
    }

    async fn send(
        &self,
        what: &str,
        method: Method,
        path: &str,
        body: Value,
    ) -> BackstageResult<Value> {
        self.call(what, |b| b.json(&body), method, path).await
    }

    async fn created_id(&self, what: &str, path: &str, input: Value) -> BackstageResult<i64> {
        let answer = self
            .send(what, Method::POST, path, json!({ "input": input }))
            .await?;
        answer
            .get("id")
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("{what}: no id in {answer}"))
    }

    async fn ticket(&self, ticket: &TicketId) -> BackstageResult<Value> {
        self.get("get ticket", &format!("/Ticket/{ticket}"), &[])
            .await
    }

    async fn me(&self) -> BackstageResult<(i64, String)> {
        self.me
            .get_or_try_init(|| async {
                let session = self.get("getFullSession", "/getFullSession", &[]).await?;
                let user = &session["session"];
                let id = user["glpiID"]
                    .as_i64()
                    .ok_or_else(|| format!("getFullSession: no glpiID in {session}"))?;
                let name = user["glpifriendlyname"]
                    .as_str()
                    .or_else(|| user["glpiname"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                Ok::<_, String>((id, name))
            })
            .await
            .cloned()
    }

    async fn followup(&self, ticket: &TicketId, body: &str, private: bool) -> BackstageResult<i64> {
        let items_id: i64 = ticket
            .0
            .parse()
            .map_err(|_| format!("bad ticket {ticket}"))?;
        self.created_id(
            "add followup",
            "/ITILFollowup",
            json!({
                "itemtype": "Ticket",
                "items_id": items_id,
                "content": format!("<p>{}</p>", escape(body)),
                "is_private": i64::from(private),
            }),
        )
        .await
    }

    async fn upload(&self, file: &Attachment) -> BackstageResult<i64> {
        let manifest =
            json!({"input": {"name": file.file_name, "_filename": [file.file_name]}}).to_string();
        let answer = self
            .call(
                "upload document",
                |b| {
                    let part = reqwest::multipart::Part::bytes(crate::samples::bytes_of(file))
                        .file_name(file.file_name.clone());
                    let form = reqwest::multipart::Form::new()
                        .text("uploadManifest", manifest.clone())
                        .part("filename[0]", part);
                    b.multipart(form)
                },
                Method::POST,
                "/Document",
            )
            .await?;
        answer
            .get("id")
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("upload document: no id in {answer}"))
    }
}

#[async_trait]
impl Backstage for GlpiBackstage {
    /// A technician opens a ticket in the entity named `chat` with the Telegram request source
    /// (or the announcement one), as the ticket form's "Request source" field sets it.
    async fn staff_addressed_ticket(
        &self,
        subject: &str,
        body: &str,
        chat: &str,
        announcement: bool,
    ) -> BackstageResult<TicketId> {
        let (plain, notice) = self
            .address_sources
            .ok_or("no request sources: call with_address_sources")?;
        let entity = self.entity_named(chat).await?;
        let id = self
            .created_id(
                "add ticket",
                "/Ticket",
                json!({
                    "name": subject,
                    "content": format!("<p>{}</p>", escape(body)),
                    "entities_id": entity,
                    "requesttypes_id": if announcement { notice } else { plain },
                }),
            )
            .await?;
        Ok(TicketId(id.to_string()))
    }

    async fn staff_reply(
        &self,
        ticket: &TicketId,
        body: &str,
        file: Option<&Attachment>,
    ) -> BackstageResult<()> {
        let followup = self.followup(ticket, body, false).await?;
        if let Some(file) = file {
            let document = self.upload(file).await?;
            self.created_id(
                "link document",
                "/Document_Item",
                json!({"documents_id": document, "itemtype": "ITILFollowup", "items_id": followup}),
            )
            .await?;
        }
        Ok(())
    }

    async fn internal_note(&self, ticket: &TicketId, body: &str) -> BackstageResult<()> {
        self.followup(ticket, body, true).await.map(|_| ())
    }

    async fn set_due(
        &self,
        ticket: &TicketId,
        due: time::OffsetDateTime,
    ) -> BackstageResult<time::OffsetDateTime> {
        // GLPI's SLAs set these times; the fake takes them as an SLA would set them.
        let fake = self
            .fake
            .as_ref()
            .ok_or("a live GLPI needs an SLA to set a due time")?;
        let id: i64 = ticket.0.parse().map_err(|_| format!("{ticket} is no id"))?;
        fake.set_sla_times(id, None, Some(due));
        // GLPI keeps whole seconds.
        Ok(due.replace_nanosecond(0).map_err(|e| e.to_string())?)
    }

    async fn assign(&self, ticket: &TicketId) -> BackstageResult<String> {
        let (me, name) = self.me().await?;
        let tickets_id: i64 = ticket
            .0
            .parse()
            .map_err(|_| format!("bad ticket {ticket}"))?;
        self.created_id(
            "assign",
            "/Ticket_User",
            json!({"tickets_id": tickets_id, "users_id": me, "type": 2}),
        )
        .await?;
        Ok(name)
    }

    fn vendor_states(&self) -> Vec<(String, StatusClass)> {
        STATES
            .iter()
            .map(|(code, class)| ((*code).to_owned(), *class))
            .collect()
    }

    async fn set_state(&self, ticket: &TicketId, state: &str) -> BackstageResult<()> {
        let status: i64 = state.parse().map_err(|_| format!("bad state {state}"))?;
        self.send(
            "set status",
            Method::PUT,
            &format!("/Ticket/{ticket}"),
            json!({"input": {"status": status}}),
        )
        .await
        .map(|_| ())
    }

    async fn resolve(&self, ticket: &TicketId, resolution: &str) -> BackstageResult<()> {
        let items_id: i64 = ticket
            .0
            .parse()
            .map_err(|_| format!("bad ticket {ticket}"))?;
        self.created_id(
            "add solution",
            "/ITILSolution",
            json!({
                "itemtype": "Ticket",
                "items_id": items_id,
                "content": format!("<p>{}</p>", escape(resolution)),
            }),
        )
        .await
        .map(|_| ())
    }

    async fn staff_text(&self, ticket: &TicketId) -> BackstageResult<String> {
        let t = self.ticket(ticket).await?;
        Ok(format!(
            "{}\n{}",
            t["name"].as_str().unwrap_or_default(),
            rendered(t["content"].as_str().unwrap_or_default())
        ))
    }

    async fn placement(&self, ticket: &TicketId) -> BackstageResult<String> {
        let t = self.ticket(ticket).await?;
        Ok(format!(
            "entity {}, category {}, type {}",
            t["entities_id"], t["itilcategories_id"], t["type"]
        ))
    }

    async fn priority(&self, ticket: &TicketId) -> BackstageResult<Option<String>> {
        let t = self.ticket(ticket).await?;
        Ok(t["priority"].as_i64().map(priority_name))
    }

    async fn native_rating(&self, ticket: &TicketId) -> BackstageResult<Option<u8>> {
        let surveys = self
            .get(
                "satisfaction",
                &format!("/Ticket/{ticket}/TicketSatisfaction"),
                &[("range", "0-49".to_owned())],
            )
            .await?;
        Ok(surveys
            .as_array()
            .and_then(|rows| rows.first())
            .and_then(|row| row["satisfaction"].as_i64())
            .and_then(|s| u8::try_from(s).ok()))
    }

    async fn linked(&self, follow_up: &TicketId, original: &TicketId) -> BackstageResult<bool> {
        let (a, b): (i64, i64) = (
            follow_up.0.parse().map_err(|_| "bad ticket id")?,
            original.0.parse().map_err(|_| "bad ticket id")?,
        );
        let links = self
            .get(
                "ticket links",
                "/Ticket_Ticket",
                &[
                    ("searchText[tickets_id_1]", a.to_string()),
                    ("range", "0-999".to_owned()),
                ],
            )
            .await?;
        Ok(links.as_array().into_iter().flatten().any(|l| {
            let one = l["tickets_id_1"].as_i64();
            let two = l["tickets_id_2"].as_i64();
            (one, two) == (Some(a), Some(b)) || (one, two) == (Some(b), Some(a))
        }))
    }

    fn webhook(&self, ticket: &TicketId) -> Option<WebhookRequest> {
        let id: i64 = ticket.0.parse().ok()?;
        // GLPI's default payload (pretty-printed by `json_encode(..., JSON_PRETTY_PRINT)`); the
        // item is the v2 API's representation, of which only the id matters here.
        let body = serde_json::to_string_pretty(&json!({
            "item": {"id": id, "status": {"id": 2, "name": "Processing (assigned)"}},
            "event": "update",
        }))
        .ok()?;
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
        let secret = self.webhook_secret.clone().unwrap_or_default();
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
        mac.update(body.as_bytes());
        mac.update(timestamp.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        Some(WebhookRequest {
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-glpi-signature".into(), signature),
                ("x-glpi-timestamp".into(), timestamp),
            ],
            body: body.into_bytes(),
        })
    }

    fn missing_ticket(&self) -> TicketId {
        TicketId("99999999".into())
    }

    async fn add_oddities(&self, ticket: &TicketId) -> BackstageResult<bool> {
        let Some(fake) = &self.fake else {
            return Ok(false);
        };
        let id = ticket
            .0
            .parse()
            .map_err(|_| format!("{ticket} is not a GLPI ticket id"))?;
        if fake.ticket(id).is_none() {
            return Err(format!("no ticket {id}"));
        }
        fake.add_oddities(id);
        Ok(true)
    }
}
