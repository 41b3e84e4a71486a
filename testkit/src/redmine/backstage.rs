//! The staff side of a Redmine for the conformance suite, over Redmine's own REST API.
//!
//! Built from an administrator's API key (all `redmine-up.sh` provisions), it makes sure a staff
//! user exists (`teledesk-staff`, "Мария Петрова", Manager in the project; created with
//! `POST /users.json` and `POST /projects/<p>/memberships.json` when missing) and then acts as
//! that user with `X-Redmine-Switch-User`, so staff journals have another author than the
//! integration user. The same code drives [`super::FakeRedmine`] and a real Redmine 5.

use crate::conformance::{Backstage, BackstageResult};
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use teledesk_adapter::{Attachment, StatusClass, TicketId, WebhookRequest};
use time::OffsetDateTime;
use time::macros::format_description;

/// The staff side of one Redmine project.
pub struct RedmineBackstage {
    http: reqwest::Client,
    url: String,
    admin_key: String,
    staff_id: i64,
    webhook_secret: Option<String>,
    /// The fake behind the url, where odd entries can be injected; `None` for a real Redmine.
    fake: Option<super::FakeRedmine>,
    /// The id of a string issue custom field the intake case may write.
    intake_field: Option<i64>,
    /// A string issue custom field that takes the registration time.
    registered_field: Option<i64>,
    /// The project staff create issues in.
    project: String,
    /// The custom fields that address an issue to a chat and mark it an announcement.
    address_fields: Option<(i64, i64)>,
}

impl std::fmt::Debug for RedmineBackstage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedmineBackstage")
            .field("url", &self.url)
            .field("staff_id", &self.staff_id)
            .finish_non_exhaustive()
    }
}

impl RedmineBackstage {
    /// The staff user's login.
    pub const STAFF_LOGIN: &'static str = "teledesk-staff";
    /// The staff user's first name.
    pub const STAFF_FIRSTNAME: &'static str = "Мария";
    /// The staff user's last name.
    pub const STAFF_LASTNAME: &'static str = "Петрова";
    /// The role the staff user gets in the project.
    pub const STAFF_ROLE: &'static str = "Manager";

    /// Connects with an administrator's key and makes sure the staff user is a Manager in
    /// `project` (id or identifier). Safe to call concurrently and repeatedly.
    pub async fn connect(url: &str, admin_key: &str, project: &str) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let mut backstage = Self {
            http,
            url: url.trim_end_matches('/').to_owned(),
            admin_key: admin_key.to_owned(),
            staff_id: 0,
            webhook_secret: None,
            fake: None,
            intake_field: None,
            registered_field: None,
            project: project.to_owned(),
            address_fields: None,
        };
        let me = backstage
            .call(Method::GET, "/users/current.json", false, None)
            .await?;
        if me.pointer("/user/admin") != Some(&Value::Bool(true)) {
            return Err("the backstage needs an administrator's API key".into());
        }
        backstage.staff_id = backstage.ensure_staff_user().await?;
        backstage.ensure_membership(project).await?;
        Ok(backstage)
    }

    /// Signs the webhooks [`Backstage::webhook`] makes with `secret`, as a Redmine webhook with
    /// that secret does.
    pub fn with_webhook_secret(mut self, secret: &str) -> Self {
        self.webhook_secret = Some(secret.to_owned());
        self
    }

    /// Addresses the issues [`Backstage::staff_addressed_ticket`] creates with these custom
    /// fields (the adapter's `chat_field_id` and `announcement_field_id`).
    pub fn with_address_fields(mut self, chat_field: i64, announcement_field: i64) -> Self {
        self.address_fields = Some((chat_field, announcement_field));
        self
    }

    /// Injects odd entries through `fake` (the server at the url) for
    /// [`Backstage::add_oddities`].
    pub fn with_fake(mut self, fake: super::FakeRedmine) -> Self {
        self.fake = Some(fake);
        self
    }

    /// The id of the issue custom field named `name` (`GET /custom_fields.json`, as an
    /// administrator).
    pub async fn custom_field_id(&self, name: &str) -> Result<i64, String> {
        let list = self
            .call(Method::GET, "/custom_fields.json", false, None)
            .await?;
        list["custom_fields"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["name"] == name && f["customized_type"] == "issue")
            .and_then(|f| f["id"].as_i64())
            .ok_or_else(|| format!("no issue custom field named {name:?}"))
    }

    /// Names a string issue custom field (by id) that the intake conformance case writes;
    /// Redmine's API cannot create one (the fake's `add_custom_field`, or the server's setup).
    pub fn with_intake_field(mut self, id: i64) -> Self {
        self.intake_field = Some(id);
        self
    }

    /// Names a string issue custom field (by id) that the registration-time conformance case
    /// writes.
    pub fn with_registered_field(mut self, id: i64) -> Self {
        self.registered_field = Some(id);
        self
    }

    /// The staff user's display name, as Redmine shows it by default ("First Last").
    pub fn staff_name() -> String {
        format!("{} {}", Self::STAFF_FIRSTNAME, Self::STAFF_LASTNAME)
    }

    async fn find_staff_user(&self) -> Result<Option<i64>, String> {
        let found = self
            .call(
                Method::GET,
                &format!("/users.json?name={}&status=", Self::STAFF_LOGIN),
                false,
                None,
            )
            .await?;
        Ok(found
            .get("users")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|u| u.get("login").and_then(Value::as_str) == Some(Self::STAFF_LOGIN))
            .and_then(|u| u.get("id").and_then(Value::as_i64)))
    }

    async fn ensure_staff_user(&self) -> Result<i64, String> {
        if let Some(id) = self.find_staff_user().await? {
            return Ok(id);
        }
        let body = json!({ "user": {
            "login": Self::STAFF_LOGIN,
            "firstname": Self::STAFF_FIRSTNAME,
            "lastname": Self::STAFF_LASTNAME,
            "mail": format!("{}@example.test", Self::STAFF_LOGIN),
        }});
        match self
            .call(Method::POST, "/users.json", false, Some(body))
            .await
        {
            Ok(created) => created
                .pointer("/user/id")
                .and_then(Value::as_i64)
                .ok_or_else(|| format!("POST /users.json answered without an id: {created}")),
            // A parallel case created it first.
            Err(e) if e.contains("422") => self
                .find_staff_user()
                .await?
                .ok_or_else(|| format!("cannot create or find the staff user: {e}")),
            Err(e) => Err(e),
        }
    }

    async fn ensure_membership(&self, project: &str) -> Result<(), String> {
        let members = self
            .call(
                Method::GET,
                &format!("/projects/{project}/memberships.json?limit=100"),
                false,
                None,
            )
            .await?;
        let is_member = members
            .get("memberships")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|m| m.pointer("/user/id").and_then(Value::as_i64) == Some(self.staff_id));
        if is_member {
            return Ok(());
        }
        let roles = self.call(Method::GET, "/roles.json", false, None).await?;
        let role = roles
            .get("roles")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|r| r.get("name").and_then(Value::as_str) == Some(Self::STAFF_ROLE))
            .and_then(|r| r.get("id").and_then(Value::as_i64))
            .ok_or_else(|| format!("no role named {}", Self::STAFF_ROLE))?;
        let body = json!({ "membership": { "user_id": self.staff_id, "role_ids": [role] } });
        match self
            .call(
                Method::POST,
                &format!("/projects/{project}/memberships.json"),
                false,
                Some(body),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.contains("already been taken") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One API call; `as_staff` acts as the staff user. 204 answers `Value::Null`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        as_staff: bool,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .header("X-Redmine-API-Key", &self.admin_key);
        if as_staff {
            request = request.header("X-Redmine-Switch-User", Self::STAFF_LOGIN);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        Self::read(&method, path, response).await
    }

    async fn read(
        method: &Method,
        path: &str,
        response: reqwest::Response,
    ) -> Result<Value, String> {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("{method} {path}: HTTP {}: {text}", status.as_u16()));
        }
        if status == StatusCode::NO_CONTENT || text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| format!("{method} {path}: {e}: {text}"))
    }

    async fn upload_as_staff(&self, file: &Attachment) -> Result<String, String> {
        let path = "/uploads.json";
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .query(&[("filename", file.file_name.as_str())])
            .header("X-Redmine-API-Key", &self.admin_key)
            .header("X-Redmine-Switch-User", Self::STAFF_LOGIN)
            .header("Content-Type", "application/octet-stream")
            .body(crate::samples::bytes_of(file))
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let answer = Self::read(&Method::POST, path, response).await?;
        answer
            .pointer("/upload/token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("upload without a token: {answer}"))
    }

    async fn update(&self, ticket: &TicketId, issue: Value) -> BackstageResult<()> {
        self.call(
            Method::PUT,
            &format!("/issues/{ticket}.json"),
            true,
            Some(json!({ "issue": issue })),
        )
        .await
        .map(|_| ())
    }

    async fn issue(&self, ticket: &TicketId, include: &str) -> BackstageResult<Value> {
        let answer = self
            .call(
                Method::GET,
                &format!("/issues/{ticket}.json?include={include}"),
                true,
                None,
            )
            .await?;
        answer
            .get("issue")
            .cloned()
            .ok_or_else(|| format!("no issue in {answer}"))
    }

    async fn status_id(&self, name: &str) -> BackstageResult<i64> {
        let statuses = self
            .call(Method::GET, "/issue_statuses.json", true, None)
            .await?;
        statuses
            .get("issue_statuses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
            .and_then(|s| s.get("id").and_then(Value::as_i64))
            .ok_or_else(|| format!("no issue status named {name:?}"))
    }
}

fn name_of(issue: &Value, key: &str) -> String {
    issue
        .pointer(&format!("/{key}/name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[async_trait]
impl Backstage for RedmineBackstage {
    async fn staff_reply(
        &self,
        ticket: &TicketId,
        body: &str,
        file: Option<&Attachment>,
    ) -> BackstageResult<()> {
        let mut issue = json!({ "notes": body });
        if let Some(file) = file {
            let token = self.upload_as_staff(file).await?;
            issue["uploads"] = json!([{
                "token": token,
                "filename": file.file_name,
                "content_type": file.content_type,
            }]);
        }
        self.update(ticket, issue).await
    }

    async fn staff_addressed_ticket(
        &self,
        subject: &str,
        body: &str,
        chat: &str,
        announcement: bool,
    ) -> BackstageResult<TicketId> {
        let (chat_field, announcement_field) = self
            .address_fields
            .ok_or("the backstage was not told the address fields")?;
        let issue = json!({
            "project_id": self.project,
            "subject": subject,
            "description": body,
            "custom_fields": [
                { "id": chat_field, "value": chat },
                { "id": announcement_field, "value": if announcement { "1" } else { "0" } },
            ],
        });
        let answer = self
            .call(
                Method::POST,
                "/issues.json",
                true,
                Some(json!({ "issue": issue })),
            )
            .await?;
        answer
            .pointer("/issue/id")
            .and_then(Value::as_i64)
            .map(|id| TicketId(id.to_string()))
            .ok_or_else(|| format!("an issue without an id: {answer}"))
    }

    async fn set_due(
        &self,
        ticket: &TicketId,
        due: OffsetDateTime,
    ) -> BackstageResult<OffsetDateTime> {
        let date = due.to_offset(time::UtcOffset::UTC).date();
        let mut update = json!({ "due_date": date.to_string() });
        // Redmine refuses a due date before the start date, which is the day the issue was
        // opened: staff setting a past deadline move the start back with it.
        if date < OffsetDateTime::now_utc().date() {
            update["start_date"] = json!(date.to_string());
        }
        self.update(ticket, update).await?;
        // Redmine keeps the date only: due by the end of that day.
        Ok(date
            .next_day()
            .ok_or("no next day")?
            .midnight()
            .assume_utc())
    }

    async fn internal_note(&self, ticket: &TicketId, body: &str) -> BackstageResult<()> {
        self.update(ticket, json!({ "notes": body, "private_notes": true }))
            .await
    }

    async fn assign(&self, ticket: &TicketId) -> BackstageResult<String> {
        self.update(ticket, json!({ "assigned_to_id": self.staff_id }))
            .await?;
        Ok(Self::staff_name())
    }

    fn vendor_states(&self) -> Vec<(String, StatusClass)> {
        [
            ("New", StatusClass::New),
            ("In Progress", StatusClass::InProgress),
            ("Resolved", StatusClass::Resolved),
            ("Feedback", StatusClass::WaitingClient),
            ("Closed", StatusClass::Closed),
            ("Rejected", StatusClass::Closed),
        ]
        .into_iter()
        .map(|(name, class)| (name.to_owned(), class))
        .collect()
    }

    async fn set_state(&self, ticket: &TicketId, state: &str) -> BackstageResult<()> {
        let id = self.status_id(state).await?;
        self.update(ticket, json!({ "status_id": id })).await?;
        // Redmine drops a transition its workflow forbids without an error; say so here.
        let now = self.issue(ticket, "").await?;
        if now.pointer("/status/id").and_then(Value::as_i64) != Some(id) {
            return Err(format!(
                "Redmine kept #{ticket} in {:?} instead of {state:?} (workflow)",
                name_of(&now, "status")
            ));
        }
        Ok(())
    }

    async fn resolve(&self, ticket: &TicketId, resolution: &str) -> BackstageResult<()> {
        let resolved = self.status_id("Resolved").await?;
        self.update(
            ticket,
            json!({ "notes": resolution, "status_id": resolved }),
        )
        .await
    }

    async fn staff_text(&self, ticket: &TicketId) -> BackstageResult<String> {
        let issue = self.issue(ticket, "relations").await?;
        let mut text = String::new();
        for key in ["subject", "description"] {
            if let Some(value) = issue.get(key).and_then(Value::as_str) {
                text.push_str(value);
                text.push('\n');
            }
        }
        for field in issue
            .get("custom_fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            text.push_str(&format!(
                "{}: {}\n",
                field
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                field.get("value").map(Value::to_string).unwrap_or_default()
            ));
        }
        for relation in issue
            .get("relations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            text.push_str(&format!(
                "{} #{} → #{}\n",
                relation
                    .get("relation_type")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                relation
                    .get("issue_id")
                    .map(Value::to_string)
                    .unwrap_or_default(),
                relation
                    .get("issue_to_id")
                    .map(Value::to_string)
                    .unwrap_or_default()
            ));
        }
        Ok(text)
    }

    fn intake_target(&self) -> Option<String> {
        self.intake_field.map(|id| format!("custom_fields.{id}"))
    }

    fn registered_target(&self) -> Option<String> {
        self.registered_field
            .map(|id| format!("custom_fields.{id}"))
    }

    async fn intake_value(
        &self,
        ticket: &TicketId,
        target: &str,
    ) -> BackstageResult<Option<String>> {
        let id: i64 = target
            .strip_prefix("custom_fields.")
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| format!("not a Redmine custom field target: {target}"))?;
        let issue = self.issue(ticket, "").await?;
        Ok(issue["custom_fields"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["id"].as_i64() == Some(id))
            .and_then(|f| f["value"].as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_owned))
    }

    async fn placement(&self, ticket: &TicketId) -> BackstageResult<String> {
        let issue = self.issue(ticket, "").await?;
        Ok(format!(
            "{} / {}",
            name_of(&issue, "project"),
            name_of(&issue, "tracker")
        ))
    }

    async fn priority(&self, ticket: &TicketId) -> BackstageResult<Option<String>> {
        let issue = self.issue(ticket, "").await?;
        Ok(Some(name_of(&issue, "priority")).filter(|p| !p.is_empty()))
    }

    async fn native_rating(&self, _ticket: &TicketId) -> BackstageResult<Option<u8>> {
        // Redmine has no satisfaction rating.
        Ok(None)
    }

    async fn linked(&self, follow_up: &TicketId, original: &TicketId) -> BackstageResult<bool> {
        let answer = self
            .call(
                Method::GET,
                &format!("/issues/{follow_up}/relations.json"),
                true,
                None,
            )
            .await?;
        let ids = |r: &Value, key: &str| r.get(key).and_then(Value::as_i64).map(|v| v.to_string());
        Ok(answer
            .get("relations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|r| {
                let pair = (ids(r, "issue_id"), ids(r, "issue_to_id"));
                pair == (Some(follow_up.0.clone()), Some(original.0.clone()))
                    || pair == (Some(original.0.clone()), Some(follow_up.0.clone()))
            }))
    }

    fn webhook(&self, ticket: &TicketId) -> Option<WebhookRequest> {
        // Redmine 7's payload (`app/models/webhook_payload.rb`); the adapter reads the issue id.
        let now = OffsetDateTime::now_utc();
        let stamp = now
            .format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .unwrap_or_default();
        let id: Value = ticket
            .0
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(ticket.0.clone()));
        let body = json!({
            "type": "issue.updated",
            "timestamp": stamp,
            "data": {
                "issue": { "id": id, "updated_on": stamp },
                "journal": {
                    "id": 0, "created_on": stamp, "notes": "",
                    "user": { "id": self.staff_id, "name": Self::staff_name() },
                    "details": [],
                },
            },
        })
        .to_string()
        .into_bytes();
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("user-agent".to_owned(), "Redmine".to_owned()),
        ];
        if let Some(secret) = &self.webhook_secret {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
            mac.update(&body);
            headers.push((
                "x-redmine-signature-256".to_owned(),
                format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
            ));
        }
        Some(WebhookRequest { headers, body })
    }

    fn missing_ticket(&self) -> TicketId {
        TicketId("999999999".into())
    }

    /// A real Redmine serves only what its database holds; its API has no way to add entries
    /// of unknown shapes, so against it this says `false`.
    async fn add_oddities(&self, ticket: &TicketId) -> BackstageResult<bool> {
        let Some(fake) = &self.fake else {
            return Ok(false);
        };
        let id = ticket
            .0
            .parse()
            .map_err(|_| format!("{ticket} is not a Redmine issue id"))?;
        if fake.issue(id).is_none() {
            return Err(format!("no issue {id}"));
        }
        fake.add_oddities(id);
        Ok(true)
    }
}
