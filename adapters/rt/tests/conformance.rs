//! The conformance suite against `teledesk_testkit::rt::FakeRt`, with the staff side acting as a
//! staff user distinct from the integration user.

use serde_json::json;
use std::sync::Arc;
use teledesk_rt::RtAdapter;
use teledesk_testkit::conformance::Subject;
use teledesk_testkit::rt::{FakeRt, RtBackstage};
use teledesk_testkit::samples::table;

teledesk_testkit::conformance_suite!(subject);

async fn subject() -> Option<Subject> {
    let fake = FakeRt::start().await;
    let adapter = RtAdapter::from_config(&table(json!({
        "kind": "rt",
        "poll_interval": "10s",
        "url": fake.url(),
        "token": fake.token(),
        "queue": "General",
        "chat_field": FakeRt::CF_CHAT,
        "announcement_field": FakeRt::CF_ANNOUNCEMENT,
        // The fake has no rate limit; the default pacing would only slow the suite down.
        "requests_per_second": 100,
    })))
    .expect("valid config");
    Some(Subject {
        adapter: Arc::new(adapter),
        backstage: Arc::new(
            RtBackstage::new(&fake.url(), &fake.staff_token())
                .with_address_fields("General", FakeRt::CF_CHAT, FakeRt::CF_ANNOUNCEMENT)
                .with_fake(fake.clone())
                // A free text custom field: this subject keeps its idempotency key in the text.
                .with_intake_field(FakeRt::CF_KEY)
                .with_registered_field(FakeRt::CF_REGISTERED),
        ),
        // A chat-level queue, so the placement check proves `[chats.ticket]` was applied.
        defaults: table(json!({"queue": "Support"})),
        expected_placement: "Support".into(),
        keep_alive: vec![Box::new(fake)],
    })
}
