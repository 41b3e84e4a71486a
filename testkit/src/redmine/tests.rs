//! The fake's wire behaviour, checked over HTTP as the live server answered the same requests.

use super::FakeRedmine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct Client {
    http: reqwest::Client,
    url: String,
    key: String,
    switch: Option<String>,
}

impl Client {
    fn new(fake: &FakeRedmine) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            url: fake.url(),
            key: fake.admin_key(),
            switch: None,
        }
    }

    fn as_user(fake: &FakeRedmine, login: &str) -> Self {
        Self {
            switch: Some(login.to_owned()),
            ..Self::new(fake)
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, String) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("X-Redmine-API-Key", &self.key);
        if let Some(login) = &self.switch {
            request = request.header("X-Redmine-Switch-User", login);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        (status, response.text().await.expect("body"))
    }

    async fn json(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, text) = self.send(method.clone(), path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
    }

    async fn create(&self, subject: &str) -> i64 {
        let created = self
            .json(
                Method::POST,
                "/issues.json",
                Some(
                    json!({"issue": {"project_id": "ci-support", "subject": subject,
                    "description": "a\nb"}}),
                ),
            )
            .await;
        created["issue"]["id"].as_i64().expect("id")
    }
}

#[tokio::test]
async fn auth_failures_look_like_redmines() {
    let fake = FakeRedmine::start().await;
    let response = reqwest::get(format!("{}/users/current.json", fake.url()))
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"Redmine API\""
    );
    assert_eq!(response.text().await.expect("body"), "");
    let mut unknown = Client::as_user(&fake, "nobody");
    let (status, body) = unknown.send(Method::GET, "/users/current.json", None).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::PRECONDITION_FAILED, "")
    );
    unknown.switch = Some("alice".into());
    let me = unknown.json(Method::GET, "/users/current.json", None).await;
    assert_eq!(me["user"]["login"], "alice");
    // A non-admin key cannot switch.
    let alice = Client {
        key: fake.api_key_of("alice").expect("key"),
        switch: Some("admin".into()),
        ..Client::new(&fake)
    };
    let me = alice.json(Method::GET, "/users/current.json", None).await;
    assert_eq!(me["user"]["login"], "alice");
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}/attachments/download/1", fake.url()))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn issues_store_crlf_and_updates_answer_204() {
    let fake = FakeRedmine::start().await;
    let admin = Client::new(&fake);
    let id = admin.create("Probe").await;
    let issue = admin
        .json(Method::GET, &format!("/issues/{id}.json"), None)
        .await;
    assert_eq!(issue["issue"]["description"], "a\r\nb");
    assert_eq!(
        issue["issue"]["status"],
        json!({"id": 1, "name": "New", "is_closed": false})
    );
    assert_eq!(issue["issue"]["tracker"]["name"], "Bug");
    assert!(issue["issue"].get("journals").is_none());
    let (status, body) = admin
        .send(
            Method::PUT,
            &format!("/issues/{id}.json"),
            Some(json!({"issue": {"notes": "x\ny"}})),
        )
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::NO_CONTENT, ""));
    let issue = admin
        .json(
            Method::GET,
            &format!("/issues/{id}.json?include=journals"),
            None,
        )
        .await;
    assert_eq!(issue["issue"]["journals"][0]["notes"], "x\ny");
    let (status, body) = admin.send(Method::GET, "/issues/999.json", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::NOT_FOUND, ""));
    let (status, body) = admin
        .send(
            Method::POST,
            "/issues.json",
            Some(json!({"issue": {"project_id": "ci-support", "subject": " "}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body, r#"{"errors":["Subject cannot be blank"]}"#);
}

#[tokio::test]
async fn private_notes_with_changes_are_split_and_hidden_from_reporters() {
    let fake = FakeRedmine::start().await;
    let admin = Client::new(&fake);
    let id = admin.create("Split").await;
    admin
        .send(
            Method::PUT,
            &format!("/issues/{id}.json"),
            Some(json!({"issue": {"notes": "secret", "private_notes": true, "priority_id": 3}})),
        )
        .await;
    let journals = fake.journals(id);
    assert_eq!(journals.len(), 2);
    assert_eq!(journals[0].notes, None);
    assert!(!journals[0].private_notes);
    assert_eq!(journals[1].notes.as_deref(), Some("secret"));
    assert!(journals[1].private_notes);
    let alice = Client::as_user(&fake, "alice");
    let seen = alice
        .json(
            Method::GET,
            &format!("/issues/{id}.json?include=journals"),
            None,
        )
        .await;
    let seen = seen["issue"]["journals"]
        .as_array()
        .expect("journals")
        .len();
    assert_eq!(seen, 1, "a Reporter sees the private note");
    // A Reporter's private note is stored public and her status change is dropped.
    alice
        .send(
            Method::PUT,
            &format!("/issues/{id}.json"),
            Some(json!({"issue": {"notes": "mine", "private_notes": true, "status_id": 5}})),
        )
        .await;
    let last = fake.journals(id).pop().expect("journal");
    assert!(!last.private_notes);
    assert!(last.details.is_empty());
    assert_eq!(fake.issue(id).expect("issue").status_id, 1);
}

#[tokio::test]
async fn time_filters_follow_redmines_date_clause() {
    let fake = FakeRedmine::start().await;
    let admin = Client::new(&fake);
    let id = admin.create("Time").await;
    let updated = fake.issue(id).expect("issue").updated_on;
    let count = |v: Value| v["total_count"].as_u64().expect("count");
    let list = admin
        .json(
            Method::GET,
            &format!("/issues.json?status_id=*&updated_on=%3E%3D{updated}"),
            None,
        )
        .await;
    assert_eq!(count(list), 1);
    let list = admin
        .json(
            Method::GET,
            &format!("/issues.json?status_id=*&updated_on=%3C%3D{updated}"),
            None,
        )
        .await;
    // The stored time has microseconds after the shown second.
    assert!(count(list) <= 1);
    for bad in [
        "%3E%3D2026-11-21T13:46:18.5Z",
        "%3E%3D2026-11-21T16:46:19%2B03:00",
        "soon",
    ] {
        let (status, body) = admin
            .send(Method::GET, &format!("/issues.json?updated_on={bad}"), None)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(body, r#"{"errors":["Updated is invalid"]}"#);
    }
    let (status, _) = admin
        .send(Method::GET, "/issues.json?project_id=nope", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn list_filters_and_defaults() {
    let fake = FakeRedmine::start().await;
    let admin = Client::new(&fake);
    let open = admin.create("Open one").await;
    let closed = admin.create("Closed one").await;
    fake.set_status(closed, FakeRedmine::STATUS_CLOSED);
    let ids = |v: &Value| -> Vec<i64> {
        v["issues"]
            .as_array()
            .expect("issues")
            .iter()
            .map(|i| i["id"].as_i64().expect("id"))
            .collect()
    };
    let default = admin.json(Method::GET, "/issues.json", None).await;
    assert_eq!(
        ids(&default),
        [open],
        "closed issues show without status_id=*"
    );
    assert_eq!(default["limit"], 25);
    let all = admin
        .json(Method::GET, "/issues.json?status_id=*&sort=id", None)
        .await;
    assert_eq!(ids(&all), [open, closed]);
    let words = admin
        .json(
            Method::GET,
            "/issues.json?status_id=*&subject=~one%20CLOSED",
            None,
        )
        .await;
    assert_eq!(ids(&words), [closed]);
    let unknown_filter = admin
        .json(Method::GET, "/issues.json?status_id=*&cf_9=x", None)
        .await;
    assert_eq!(ids(&unknown_filter).len(), 2, "unknown filters are ignored");
    let capped = admin
        .json(Method::GET, "/issues.json?limit=500", None)
        .await;
    assert_eq!(capped["limit"], 100);
}

#[tokio::test]
async fn uploads_take_octets_only_and_bad_tokens_fail_the_write() {
    let fake = FakeRedmine::start().await;
    let admin = Client::new(&fake);
    let id = admin.create("Files").await;
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}/uploads.json?filename=a.txt", fake.url()))
        .header("X-Redmine-API-Key", fake.admin_key())
        .header("Content-Type", "text/plain")
        .body("x")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
    let response = http
        .post(format!("{}/uploads.json?filename=big.bin", fake.url()))
        .header("X-Redmine-API-Key", fake.admin_key())
        .header("Content-Type", "application/octet-stream")
        .body(vec![0u8; 5 * 1024 * 1024 + 1])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = admin
        .send(
            Method::PUT,
            &format!("/issues/{id}.json"),
            Some(
                json!({"issue": {"notes": "x", "uploads": [{"token": "9.abc", "filename": "z"}]}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body, r#"{"errors":["1 file(s) could not be saved."]}"#);
    assert!(fake.journals(id).is_empty());
}

#[tokio::test]
async fn relations_are_normalised_and_unique() {
    let fake = FakeRedmine::start().await;
    let admin = Client::new(&fake);
    let a = admin.create("A").await;
    let b = admin.create("B").await;
    let before = fake.issue(a).expect("a").updated_on;
    let created = admin
        .json(
            Method::POST,
            &format!("/issues/{b}/relations.json"),
            Some(json!({"relation": {"issue_to_id": a, "relation_type": "relates"}})),
        )
        .await;
    assert_eq!(created["relation"]["issue_id"], a);
    assert_eq!(created["relation"]["issue_to_id"], b);
    let (status, body) = admin
        .send(
            Method::POST,
            &format!("/issues/{a}/relations.json"),
            Some(json!({"relation": {"issue_to_id": b, "relation_type": "relates"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("already been taken"), "{body}");
    assert_eq!(fake.issue(a).expect("a").updated_on, before);
    assert_eq!(fake.journals(a)[0].details[0].0, "relation");
}

#[tokio::test]
async fn users_and_memberships_for_the_backstage() {
    let fake = FakeRedmine::start().await;
    let admin = Client::new(&fake);
    let created = admin
        .json(
            Method::POST,
            "/users.json",
            Some(
                json!({"user": {"login": "staff", "firstname": "S", "lastname": "T",
                "mail": "s@example.test"}}),
            ),
        )
        .await;
    let id = created["user"]["id"].as_i64().expect("id");
    assert!(created["user"]["api_key"].is_string());
    let (status, body) = admin
        .send(
            Method::POST,
            "/users.json",
            Some(
                json!({"user": {"login": "staff", "firstname": "S", "lastname": "T",
                "mail": "other@example.test"}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body, r#"{"errors":["Login has already been taken"]}"#);
    let listed = admin
        .json(Method::GET, "/users.json?name=staff", None)
        .await;
    assert_eq!(listed["users"][0]["id"], id);
    assert!(listed["users"][0].get("api_key").is_none());
    let membership = json!({"membership": {"user_id": id, "role_ids": [3]}});
    admin
        .json(
            Method::POST,
            "/projects/ci-support/memberships.json",
            Some(membership.clone()),
        )
        .await;
    let (status, body) = admin
        .send(
            Method::POST,
            "/projects/ci-support/memberships.json",
            Some(membership),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body, r#"{"errors":["User has already been taken"]}"#);
    let alice = Client::as_user(&fake, "alice");
    let (status, _) = alice.send(Method::GET, "/users.json", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
