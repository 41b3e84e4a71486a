//! [`RtBackstage`]: RT's staff side over REST2, for the conformance suite, against [`super::FakeRt`]
//! or a live RT 5.

use crate::conformance::{Backstage, BackstageResult};
use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};
use teledesk_adapter::{Attachment, StatusClass, TicketId, WebhookRequest};
use tokio::sync::OnceCell;

/// RT 5's default `%PriorityAsString`, which the adapter's default `priorities` mirror.
const PRIORITY_LABELS: [(&str, i64); 3] = [("Low", 0), ("Medium", 50), ("High", 100)];

/// A staff member acting through RT's REST2 with their own auth token.
///
/// Against the fake that is `maria` ([`super::FakeRt::staff_token`]), a user distinct from the
/// integration user. Against the CI's live RT the only token is root's, the same account the
/// adapter uses: REST2 cannot grant rights, so a second account could not reply. The adapter tells
/// its own messages apart by author *and* marker, so root's replies without a marker still read
/// as staff.
#[derive(Debug)]
pub struct RtBackstage {
    http: reqwest::Client,
    api: String,
    token: String,
    /// `(login, display name)` of the token's owner.
    me: OnceCell<(String, String)>,
    /// The fake behind the url, where odd entries can be injected; `None` for a real RT.
    fake: Option<super::FakeRt>,
    /// The name of a ticket custom field (applied to the queue) the intake case may write.
    intake_field: Option<String>,
    /// The name of a free-text ticket custom field (applied to the queue) that takes the
    /// registration time.
    registered_field: Option<String>,
    /// Whether `token` belongs to the adapter's integration user.
    as_integration: bool,
    /// `(queue, chat field, announcement field)` for [`Backstage::staff_addressed_ticket`].
    address: Option<(String, String, String)>,
}

impl RtBackstage {
    /// A staff side for the RT at `url` (its web address), acting with `token`
    /// (`1-<user id>-<secret>`).
    pub fn new(url: &str, token: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            api: format!("{}/REST/2.0", url.trim_end_matches('/')),
            token: token.to_owned(),
            me: OnceCell::new(),
            fake: None,
            intake_field: None,
            registered_field: None,
            as_integration: false,
            address: None,
        }
    }

    /// Marks this staff side as writing as the integration user when `integration_token` belongs
    /// to the same RT user as its own token (both `1-<user id>-<secret>`).
    pub fn with_integration_token(mut self, integration_token: &str) -> Self {
        let user = |token: &str| token.split('-').nth(1).map(str::to_owned);
        self.as_integration =
            user(&self.token).is_some() && user(&self.token) == user(integration_token);
        self
    }

    /// Names a ticket custom field (applied to the tickets' queue) that the intake conformance
    /// case writes.
    pub fn with_intake_field(mut self, name: &str) -> Self {
        self.intake_field = Some(name.to_owned());
        self
    }

    /// Names a free-text ticket custom field (applied to the tickets' queue) that the
    /// registration-time conformance case writes.
    pub fn with_registered_field(mut self, name: &str) -> Self {
        self.registered_field = Some(name.to_owned());
        self
    }

    /// Creates the tickets [`Backstage::staff_addressed_ticket`] makes in `queue`, addressed with
    /// the custom fields the adapter's `chat_field` and `announcement_field` name.
    pub fn with_address_fields(
        mut self,
        queue: &str,
        chat_field: &str,
        announcement: &str,
    ) -> Self {
        self.address = Some((
            queue.to_owned(),
            chat_field.to_owned(),
            announcement.to_owned(),
        ));
        self
    }

    /// Injects odd entries through `fake` (the server at the url) for
    /// [`Backstage::add_oddities`].
    pub fn with_fake(mut self, fake: super::FakeRt) -> Self {
        self.fake = Some(fake);
        self
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> BackstageResult<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.api))
            .header("Authorization", format!("token {}", self.token))
            .query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        read(&method, path, response).await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> BackstageResult<Value> {
        self.call(Method::GET, path, query, None).await
    }

    /// The token owner's login and display name.
    async fn me(&self) -> BackstageResult<&(String, String)> {
        self.me
            .get_or_try_init(|| async {
                let id = self
                    .token
                    .split('-')
                    .nth(1)
                    .ok_or_else(|| "the staff token is not 1-<user id>-<secret>".to_owned())?;
                let user = self.get(&format!("/user/{id}"), &[]).await?;
                let login = text(&user["Name"]);
                let real = text(&user["RealName"]);
                let name = if real.trim().is_empty() {
                    login.clone()
                } else {
                    real
                };
                Ok((login, name))
            })
            .await
    }

    async fn message(
        &self,
        ticket: &TicketId,
        kind: &str,
        body: &str,
        status: Option<&str>,
        file: Option<&Attachment>,
    ) -> BackstageResult<()> {
        let path = format!("/ticket/{ticket}/{kind}");
        let mut json = json!({"Content": body, "ContentType": "text/plain"});
        if let Some(status) = status {
            json["Status"] = json!(status);
        }
        let Some(file) = file else {
            self.call(Method::POST, &path, &[], Some(&json)).await?;
            return Ok(());
        };
        // Multipart, as RT's own web UI uploads: JSON attachments with non-ASCII names fail.
        let part = reqwest::multipart::Part::bytes(crate::samples::bytes_of(file))
            .file_name(file.file_name.clone())
            .mime_str(&file.content_type)
            .map_err(|e| e.to_string())?;
        let form = reqwest::multipart::Form::new()
            .part(
                "JSON",
                reqwest::multipart::Part::text(json.to_string())
                    .mime_str("application/json")
                    .map_err(|e| e.to_string())?,
            )
            .part("Attachments", part);
        let response = self
            .http
            .post(format!("{}{path}", self.api))
            .header("Authorization", format!("token {}", self.token))
            .multipart(form)
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        read(&Method::POST, &path, response).await.map(|_| ())
    }

    async fn ticket(&self, ticket: &TicketId) -> BackstageResult<Value> {
        self.get(&format!("/ticket/{ticket}"), &[]).await
    }

    /// Sets fields and checks they took: RT answers 200 with messages even when it refused.
    async fn put(&self, ticket: &TicketId, field: &str, value: &str) -> BackstageResult<Value> {
        let messages = self
            .call(
                Method::PUT,
                &format!("/ticket/{ticket}"),
                &[],
                Some(&json!({ field: value })),
            )
            .await?;
        let now = self.ticket(ticket).await?;
        let got = match &now[field] {
            Value::Object(reference) => text(&reference["id"]),
            other => text(other),
        };
        if got.eq_ignore_ascii_case(value) {
            Ok(now)
        } else {
            Err(format!("RT did not set {field} to {value:?}: {messages}"))
        }
    }
}

async fn read(method: &Method, path: &str, response: reqwest::Response) -> BackstageResult<Value> {
    let status = response.status();
    let body = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{method} {path}: HTTP {status}: {body}"));
    }
    if body.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&body).map_err(|e| format!("{method} {path}: {e}: {body}"))
}

/// A JSON value as text (REST2 sends numbers as strings, and sometimes not).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[async_trait]
impl Backstage for RtBackstage {
    async fn staff_reply(
        &self,
        ticket: &TicketId,
        body: &str,
        file: Option<&Attachment>,
    ) -> BackstageResult<()> {
        self.message(ticket, "correspond", body, None, file).await
    }

    async fn staff_addressed_ticket(
        &self,
        subject: &str,
        body: &str,
        chat: &str,
        announcement: bool,
    ) -> BackstageResult<TicketId> {
        let (queue, chat_field, announcement_field) = self
            .address
            .as_ref()
            .ok_or("the backstage was not told the address fields")?;
        let mut fields = serde_json::Map::new();
        fields.insert(chat_field.clone(), json!(chat));
        if announcement {
            // `yes`, not `1`: the live CI server's field is a select whose one value is `yes`.
            fields.insert(announcement_field.clone(), json!("yes"));
        }
        let ticket = json!({
            "Queue": queue,
            "Subject": subject,
            "Content": body,
            "ContentType": "text/plain",
            "CustomFields": fields,
        });
        let created = self
            .call(Method::POST, "/ticket", &[], Some(&ticket))
            .await?;
        let id = text(&created["id"]);
        if id.is_empty() {
            return Err(format!("a ticket without an id: {created}"));
        }
        Ok(TicketId(id))
    }

    async fn set_due(
        &self,
        ticket: &TicketId,
        due: time::OffsetDateTime,
    ) -> BackstageResult<time::OffsetDateTime> {
        let due = due.to_offset(time::UtcOffset::UTC);
        let value = due
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .map_err(|e| e.to_string())?;
        self.call(
            Method::PUT,
            &format!("/ticket/{ticket}"),
            &[],
            Some(&json!({ "Due": value })),
        )
        .await?;
        // RT reads the value in the acting user's time zone, which a live server may not have
        // set to UTC: the due time is what RT now shows.
        let shown = text(&self.ticket(ticket).await?["Due"]);
        time::OffsetDateTime::parse(&shown, &time::format_description::well_known::Rfc3339)
            .map_err(|e| format!("RT shows Due {shown:?}: {e}"))
    }

    async fn internal_note(&self, ticket: &TicketId, body: &str) -> BackstageResult<()> {
        self.message(ticket, "comment", body, None, None).await
    }

    async fn assign(&self, ticket: &TicketId) -> BackstageResult<String> {
        let (login, name) = self.me().await?.clone();
        self.put(ticket, "Owner", &login).await?;
        Ok(name)
    }

    fn vendor_states(&self) -> Vec<(String, StatusClass)> {
        [
            ("new", StatusClass::New),
            ("open", StatusClass::InProgress),
            ("stalled", StatusClass::WaitingClient),
            ("resolved", StatusClass::Resolved),
            ("rejected", StatusClass::Closed),
            ("deleted", StatusClass::Closed),
        ]
        .into_iter()
        .map(|(state, class)| (state.to_owned(), class))
        .collect()
    }

    async fn set_state(&self, ticket: &TicketId, state: &str) -> BackstageResult<()> {
        self.put(ticket, "Status", state).await.map(|_| ())
    }

    async fn resolve(&self, ticket: &TicketId, resolution: &str) -> BackstageResult<()> {
        // RT's "Resolve" action: a reply to the requester and the status, in one update.
        self.message(ticket, "correspond", resolution, Some("resolved"), None)
            .await?;
        let now = self.ticket(ticket).await?;
        if text(&now["Status"]) == "resolved" {
            Ok(())
        } else {
            Err(format!(
                "ticket {ticket} is {} after resolving",
                now["Status"]
            ))
        }
    }

    async fn staff_text(&self, ticket: &TicketId) -> BackstageResult<String> {
        let record = self.ticket(ticket).await?;
        let mut out = vec![format!("Subject: {}", text(&record["Subject"]))];
        for requestor in record["Requestor"].as_array().into_iter().flatten() {
            out.push(format!("Requestor: {}", text(&requestor["id"])));
        }
        for field in record["CustomFields"].as_array().into_iter().flatten() {
            let values: Vec<String> = field["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            out.push(format!("{}: {}", text(&field["name"]), values.join(", ")));
        }
        for link in record["_hyperlinks"].as_array().into_iter().flatten() {
            let rel = text(&link["ref"]);
            if text(&link["type"]) == "ticket" && rel != "self" {
                out.push(format!("{rel}: #{}", text(&link["id"])));
            }
        }
        let history = self
            .get(
                &format!("/ticket/{ticket}/history"),
                &[("fields", "Type"), ("per_page", "100")],
            )
            .await?;
        let create = history["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| text(&t["Type"]) == "Create")
            .map(|t| text(&t["id"]))
            .ok_or_else(|| format!("ticket {ticket} has no Create transaction"))?;
        let parts = self
            .get(
                &format!("/transaction/{create}/attachments"),
                &[
                    ("fields", "ContentType,Filename,Content"),
                    ("per_page", "100"),
                ],
            )
            .await?;
        for part in parts["items"].as_array().into_iter().flatten() {
            if text(&part["Filename"]).is_empty() && text(&part["ContentType"]).starts_with("text/")
            {
                out.push(text(&part["Content"]));
            }
        }
        Ok(out.join("\n"))
    }

    fn intake_target(&self) -> Option<String> {
        self.intake_field
            .as_ref()
            .map(|name| format!("custom_fields.{name}"))
    }

    fn registered_target(&self) -> Option<String> {
        self.registered_field
            .as_ref()
            .map(|name| format!("custom_fields.{name}"))
    }

    async fn intake_value(
        &self,
        ticket: &TicketId,
        target: &str,
    ) -> BackstageResult<Option<String>> {
        let name = target.strip_prefix("custom_fields.").unwrap_or(target);
        let record = self.ticket(ticket).await?;
        Ok(record["CustomFields"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["name"].as_str() == Some(name))
            .and_then(|f| f["values"].as_array()?.first()?.as_str().map(str::to_owned)))
    }

    async fn placement(&self, ticket: &TicketId) -> BackstageResult<String> {
        let record = self.ticket(ticket).await?;
        let queue = text(&record["Queue"]["id"]);
        let queue = self.get(&format!("/queue/{queue}"), &[]).await?;
        Ok(text(&queue["Name"]))
    }

    async fn priority(&self, ticket: &TicketId) -> BackstageResult<Option<String>> {
        let record = self.ticket(ticket).await?;
        let raw = text(&record["Priority"]);
        Ok(Some(match raw.parse::<i64>() {
            Ok(value) => PRIORITY_LABELS
                .iter()
                .find(|(_, v)| *v == value)
                .map_or(raw.clone(), |(label, _)| (*label).to_owned()),
            Err(_) => raw,
        }))
    }

    async fn native_rating(&self, _ticket: &TicketId) -> BackstageResult<Option<u8>> {
        Ok(None)
    }

    async fn linked(&self, follow_up: &TicketId, original: &TicketId) -> BackstageResult<bool> {
        let record = self.ticket(follow_up).await?;
        Ok(record["_hyperlinks"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|link| text(&link["ref"]) == "refers-to" && text(&link["id"]) == original.0))
    }

    fn webhook(&self, _ticket: &TicketId) -> Option<WebhookRequest> {
        None
    }

    fn missing_ticket(&self) -> TicketId {
        TicketId("999999999".into())
    }

    fn writes_as_integration_account(&self) -> bool {
        self.as_integration
    }

    /// A real RT serves only what its database holds; REST2 has no way to add entries of
    /// unknown shapes, so against it this says `false`.
    async fn add_oddities(&self, ticket: &TicketId) -> BackstageResult<bool> {
        let Some(fake) = &self.fake else {
            return Ok(false);
        };
        let id = ticket
            .0
            .parse()
            .map_err(|_| format!("{ticket} is not an RT ticket number"))?;
        if fake.ticket(id).is_none() {
            return Err(format!("no ticket {id}"));
        }
        fake.add_oddities(id);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staff_token_of_the_integration_user_is_known_as_such() {
        let staff = |token: &str, integration: &str| {
            RtBackstage::new("http://rt.example", token)
                .with_integration_token(integration)
                .writes_as_integration_account()
        };
        assert!(staff("1-14-secret", "1-14-other"));
        assert!(!staff("1-15-secret", "1-14-secret"));
        assert!(!staff("garbage", "garbage"));
        assert!(!RtBackstage::new("http://rt.example", "1-14-x").writes_as_integration_account());
    }
}
