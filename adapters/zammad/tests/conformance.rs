//! The adapter conformance suite (`teledesk_testkit::conformance`) against
//! `teledesk_testkit::zammad::FakeZammad`, with the staff side driven over the fake's REST API by
//! `ZammadBackstage`.

use serde_json::json;
use std::sync::Arc;
use teledesk_testkit::conformance::Subject;
use teledesk_testkit::samples::table;
use teledesk_testkit::zammad::FakeZammad;
use teledesk_zammad::ZammadAdapter;

const WEBHOOK_SECRET: &str = "conformance-webhook-secret";

teledesk_testkit::conformance_suite!(subject);

async fn subject() -> Option<Subject> {
    let fake = FakeZammad::start().await;
    fake.add_ticket_attribute(FakeZammad::CHAT_ATTRIBUTE);
    fake.add_ticket_attribute(FakeZammad::ANNOUNCEMENT_ATTRIBUTE);
    let helpdesk = table(json!({
        "chat_field": FakeZammad::CHAT_ATTRIBUTE,
        "announcement_field": FakeZammad::ANNOUNCEMENT_ATTRIBUTE,
        "kind": "zammad",
        "poll_interval": "10s",
        "url": fake.url(),
        "token": fake.token(),
        "group": FakeZammad::GROUP_USERS,
        "customer": "guess:telegram@acme.example",
        "webhook_secret": WEBHOOK_SECRET,
    }));
    assert_eq!(teledesk_zammad::validate_helpdesk(&helpdesk), []);
    let adapter = ZammadAdapter::from_config(&helpdesk).expect("valid config");
    // Every chat default differs from the helpdesk's, so the placement proves they were applied.
    let defaults = table(json!({
        "group": FakeZammad::GROUP_TELEGRAM,
        "priority_id": 1,
        "customer": "guess:tg{telegram_id}@telegram.acme.example",
    }));
    assert_eq!(teledesk_zammad::validate_ticket_defaults(&defaults), []);
    Some(Subject {
        adapter: Arc::new(adapter),
        // Free here: this subject configures no resolution_field.
        backstage: Arc::new(
            fake.backstage(Some(WEBHOOK_SECRET))
                .with_intake_field(FakeZammad::RESOLUTION_ATTRIBUTE)
                .with_address_fields(
                    FakeZammad::CHAT_ATTRIBUTE,
                    FakeZammad::ANNOUNCEMENT_ATTRIBUTE,
                ),
        ),
        defaults,
        expected_placement: format!("{} / 1 low", FakeZammad::GROUP_TELEGRAM),
        keep_alive: vec![Box::new(fake)],
    })
}
