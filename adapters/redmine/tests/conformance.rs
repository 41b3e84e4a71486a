//! The adapter conformance suite against `teledesk_testkit::redmine::FakeRedmine`, with the staff
//! side driven over the fake's REST API by `RedmineBackstage` (the same code `tests/live.rs` runs
//! against a real Redmine).

use serde_json::json;
use std::sync::Arc;
use teledesk_redmine::RedmineAdapter;
use teledesk_testkit::conformance::Subject;
use teledesk_testkit::redmine::{FakeRedmine, RedmineBackstage};
use teledesk_testkit::samples;

const WEBHOOK_SECRET: &str = "conformance-webhook-secret";

teledesk_testkit::conformance_suite!(subject);

async fn subject() -> Option<Subject> {
    let fake = FakeRedmine::start().await;
    let chat_field = fake.add_custom_field("Telegram chat", "string", true);
    let announcement_field = fake.add_custom_field("Announcement", "bool", true);
    let table = samples::table(json!({
        "chat_field_id": chat_field,
        "announcement_field_id": announcement_field,
        "kind": "redmine",
        "poll_interval": "5s",
        "url": fake.url(),
        "api_key": fake.admin_key(),
        "project_id": FakeRedmine::PROJECT_IDENTIFIER,
        "webhook_secret": WEBHOOK_SECRET,
    }));
    let adapter = RedmineAdapter::from_config(&table).expect("valid config");
    let backstage = RedmineBackstage::connect(
        &fake.url(),
        &fake.admin_key(),
        FakeRedmine::PROJECT_IDENTIFIER,
    )
    .await
    .expect("backstage connects")
    .with_webhook_secret(WEBHOOK_SECRET)
    .with_intake_field(fake.add_custom_field("Договор", "string", false))
    .with_registered_field(fake.add_custom_field("Registered", "string", false))
    .with_address_fields(chat_field, announcement_field)
    .with_fake(fake.clone());
    let defaults = samples::table(json!({
        "project_id": FakeRedmine::PROJECT_IDENTIFIER,
        "tracker_id": FakeRedmine::TRACKER_SUPPORT,
    }));
    Some(Subject {
        adapter: Arc::new(adapter),
        backstage: Arc::new(backstage),
        defaults,
        expected_placement: "CI Support / Support".into(),
        keep_alive: vec![Box::new(fake)],
    })
}
