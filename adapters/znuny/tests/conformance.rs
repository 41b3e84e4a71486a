//! The shared adapter conformance suite against `teledesk_testkit::znuny::FakeZnuny`, with the
//! staff side driven through the Generic Interface by `ZnunyBackstage`.

use serde_json::json;
use std::sync::Arc;
use teledesk_testkit::conformance::Subject;
use teledesk_testkit::samples;
use teledesk_testkit::znuny::FakeZnuny;
use teledesk_testkit::znuny::backstage::ZnunyBackstage;
use teledesk_znuny::ZnunyAdapter;

const WEBHOOK_SECRET: &str = "conformance-webhook-secret";

teledesk_testkit::conformance_suite!(subject);

async fn subject() -> Option<Subject> {
    let fake = FakeZnuny::start().await;
    let table = samples::table(json!({
        "kind": "znuny",
        "poll_interval": "5s",
        "url": fake.url(),
        "user": FakeZnuny::AGENT_LOGIN,
        "password": FakeZnuny::AGENT_PASSWORD,
        "queue": FakeZnuny::QUEUE,
        "customer_user": FakeZnuny::CUSTOMER_USER,
        "idempotency_field": FakeZnuny::KEY_FIELD,
        "chat_field": FakeZnuny::CHAT_FIELD,
        "announcement_field": FakeZnuny::ANNOUNCEMENT_FIELD,
        "timezone": "+03:00",
        "webhook_secret": WEBHOOK_SECRET,
        // The suite's cases poll and read a lot; pacing at Znuny's default would only slow it.
        "requests_per_second": 100,
    }));
    let adapter = ZnunyAdapter::from_config(&table).expect("valid config");
    let backstage = ZnunyBackstage::new(
        fake.url(),
        FakeZnuny::STAFF_LOGIN,
        FakeZnuny::STAFF_PASSWORD,
    )
    .with_webhook_secret(WEBHOOK_SECRET)
    // Free here: this subject configures no resolution_field.
    .with_intake_field("Resolution")
    .with_address_fields(FakeZnuny::CHAT_FIELD, FakeZnuny::ANNOUNCEMENT_FIELD)
    .with_fake(fake.clone());
    let defaults = samples::table(json!({"queue": FakeZnuny::TELEGRAM_QUEUE, "type": "Incident"}));
    Some(Subject {
        adapter: Arc::new(adapter),
        backstage: Arc::new(backstage),
        defaults,
        expected_placement: format!("{} / Incident", FakeZnuny::TELEGRAM_QUEUE),
        keep_alive: vec![Box::new(fake)],
    })
}
