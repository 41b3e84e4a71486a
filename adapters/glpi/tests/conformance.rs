//! The shared conformance suite (`teledesk_testkit::conformance`) against `FakeGlpi`, with the
//! staff side driven through GLPI's own REST API by `GlpiBackstage`.

use serde_json::json;
use std::sync::Arc;
use teledesk_glpi::GlpiAdapter;
use teledesk_testkit::conformance::Subject;
use teledesk_testkit::glpi::{FakeGlpi, GlpiBackstage};
use teledesk_testkit::samples;

const WEBHOOK_SECRET: &str = "8fK2mQ9xL4vT7rW1nB6cY3hJ0pD5sA8eG2uZ4kN7";

async fn subject() -> Option<Subject> {
    let fake = FakeGlpi::start().await;
    let table = samples::table(json!({
        "kind": "glpi",
        "poll_interval": "30s",
        "url": fake.url(),
        "user_token": fake.user_token(),
        "app_token": fake.app_token(),
        "timezone": FakeGlpi::TIMEZONE,
        "webhook_secret": WEBHOOK_SECRET,
        "requests_per_second": 100,
        "chat_requesttype_id": FakeGlpi::REQUEST_TYPE_TELEGRAM,
        "announcement_requesttype_id": FakeGlpi::REQUEST_TYPE_ANNOUNCEMENT,
    }));
    let adapter = GlpiAdapter::from_config(&table).expect("valid config");
    let defaults = samples::table(json!({
        "entities_id": FakeGlpi::ENTITY_ACME,
        "itilcategories_id": 5,
        "type": 2,
        // teledesk's own tickets from the source staff address tickets with: still not staff's.
        "requesttypes_id": FakeGlpi::REQUEST_TYPE_TELEGRAM,
    }));
    let backstage = GlpiBackstage::new(
        fake.url(),
        fake.staff_token(),
        Some(fake.app_token()),
        Some(WEBHOOK_SECRET.to_owned()),
    )
    .with_address_sources(
        FakeGlpi::REQUEST_TYPE_TELEGRAM,
        FakeGlpi::REQUEST_TYPE_ANNOUNCEMENT,
    )
    .with_fake(fake.clone());
    Some(Subject {
        adapter: Arc::new(adapter),
        backstage: Arc::new(backstage),
        defaults,
        expected_placement: format!("entity {}, category 5, type 2", FakeGlpi::ENTITY_ACME),
        keep_alive: vec![Box::new(fake)],
    })
}

teledesk_testkit::conformance_suite!(subject);
