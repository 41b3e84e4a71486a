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

    let table = samples::table(json!({
        "kind": "redmine",
        "url": url,
        "api_key": key,
        "project_id": project,
        "webhook_secret": WEBHOOK_SECRET,
    }));
    let adapter = RedmineAdapter::from_config(&table).expect("valid config");
    let backstage = RedmineBackstage::connect(&url, &key, &project)
        .await
        .unwrap_or_else(|e| panic!("backstage: {e}"))
        .with_webhook_secret(WEBHOOK_SECRET);
    // `.ci/redmine-up.sh` makes a string issue custom field `Contract`; Redmine's API cannot.
    let backstage = match std::env::var("REDMINE_INTAKE_FIELD") {
        Ok(name) if !name.trim().is_empty() => {
            let id = backstage
                .custom_field_id(&name)
                .await
                .unwrap_or_else(|e| panic!("REDMINE_INTAKE_FIELD {name:?}: {e}"));
            backstage.with_intake_field(id)
        }
        _ => backstage,
    };
    let defaults = samples::table(json!({ "project_id": project, "tracker_id": support }));
    Some(Subject {
        adapter: Arc::new(adapter),
        backstage: Arc::new(backstage),
        defaults,
        expected_placement: format!("{project_name} / Support"),
        keep_alive: Vec::new(),
    })
}
