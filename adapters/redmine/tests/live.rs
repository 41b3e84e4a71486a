//! The adapter conformance suite against a real Redmine (5.x), e.g. the one
//! `shared/helpdesks/redmine-up.sh` brings up:
//!
//! ```sh
//! eval "$(bash shared/helpdesks/redmine-up.sh 8092 | tail -2)"   # sets REDMINE_URL, REDMINE_KEY
//! REDMINE_URL=$REDMINE_URL REDMINE_KEY=$REDMINE_KEY cargo test -p teledesk-redmine --test live
//! ```
//!
//! `REDMINE_INTAKE_FIELD` (optional; `.ci/redmine-up.sh` makes `Contract`) names a string issue
//! custom field the intake case writes; unset, that case says it skipped.
//! `REDMINE_CHAT_FIELD` and `REDMINE_ANNOUNCEMENT_FIELD` (optional; `.ci/redmine-up.sh` makes
//! `Telegram chat`, string, and `Announcement`, bool) name the custom fields that address a staff
//! issue to a chat (the adapter's `chat_field_id`, `announcement_field_id`); unset, the
//! staff-ticket case skips. `REDMINE_REGISTERED_FIELD` (optional; the script makes `Registered`,
//! string) names the field the registration-time case writes.
//! `REDMINE_KEY` must be an administrator's API key (the integration user, and the backstage acts
//! as a staff user it creates, through `X-Redmine-Switch-User`). `REDMINE_PROJECT` names the
//! project (default `ci-support`); it must use the tracker "Support". Every case creates its own
//! issues with unique keys, so reruns against the same server pass. Without `REDMINE_URL` the
//! cases are skipped, or fail when `TELEDESK_LIVE_REQUIRED=1`.

use serde_json::{Value, json};
use std::sync::Arc;
use teledesk_redmine::RedmineAdapter;
use teledesk_testkit::conformance::Subject;
use teledesk_testkit::redmine::RedmineBackstage;
use teledesk_testkit::samples;

const WEBHOOK_SECRET: &str = "live-webhook-secret";

teledesk_testkit::conformance_suite!(live_subject);

async fn get(url: &str, key: &str, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{url}{path}"))
        .header("X-Redmine-API-Key", key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert!(
        response.status().is_success(),
        "GET {path}: HTTP {}",
        response.status()
    );
    response
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// The id of the issue custom field the variable `var` names, if it is set.
async fn field_id(backstage: &RedmineBackstage, var: &str) -> Option<i64> {
    let name = std::env::var(var).ok().filter(|n| !n.trim().is_empty())?;
    let id = backstage
        .custom_field_id(&name)
        .await
        .unwrap_or_else(|e| panic!("{var} {name:?}: {e}"));
    Some(id)
}

async fn live_subject() -> Option<Subject> {
    let url = std::env::var("REDMINE_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    let url = url.trim_end_matches('/').to_owned();
    let key = std::env::var("REDMINE_KEY").expect("REDMINE_KEY must be set with REDMINE_URL");
    let project = std::env::var("REDMINE_PROJECT").unwrap_or_else(|_| "ci-support".to_owned());

    let project_name =
        get(&url, &key, &format!("/projects/{project}.json")).await["project"]["name"]
            .as_str()
            .expect("a project name")
            .to_owned();
    let trackers = get(&url, &key, "/trackers.json").await;
    let support = trackers["trackers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == "Support")
        .and_then(|t| t["id"].as_i64())
        .expect("a tracker named Support");

    let mut config = json!({
        "kind": "redmine",
        "url": url,
        "api_key": key,
        "project_id": project,
        "webhook_secret": WEBHOOK_SECRET,
    });
    let backstage = RedmineBackstage::connect(&url, &key, &project)
        .await
        .unwrap_or_else(|e| panic!("backstage: {e}"))
        .with_webhook_secret(WEBHOOK_SECRET);
    // `.ci/redmine-up.sh` makes a string issue custom field `Contract`; Redmine's API cannot.
    let mut backstage = match field_id(&backstage, "REDMINE_INTAKE_FIELD").await {
        Some(id) => backstage.with_intake_field(id),
        None => backstage,
    };
    if let Some(id) = field_id(&backstage, "REDMINE_REGISTERED_FIELD").await {
        backstage = backstage.with_registered_field(id);
    }
    let chat_field = field_id(&backstage, "REDMINE_CHAT_FIELD").await;
    let announcement_field = field_id(&backstage, "REDMINE_ANNOUNCEMENT_FIELD").await;
    if let (Some(chat), Some(announcement)) = (chat_field, announcement_field) {
        backstage = backstage.with_address_fields(chat, announcement);
        config["chat_field_id"] = json!(chat);
        config["announcement_field_id"] = json!(announcement);
    }
    let adapter = RedmineAdapter::from_config(&samples::table(config)).expect("valid config");
    let defaults = samples::table(json!({ "project_id": project, "tracker_id": support }));
    Some(Subject {
        adapter: Arc::new(adapter),
        backstage: Arc::new(backstage),
        defaults,
        expected_placement: format!("{project_name} / Support"),
        keep_alive: Vec::new(),
    })
}
