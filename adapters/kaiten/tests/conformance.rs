//! The adapter conformance suite against the testkit's fake Kaiten.

use serde_json::json;
use std::sync::Arc;
use teledesk_kaiten::KaitenAdapter;
use teledesk_testkit::conformance::Subject;
use teledesk_testkit::kaiten::{FakeKaiten, KaitenBackstage, RESOLUTION_PROPERTY};
use teledesk_testkit::samples;

teledesk_testkit::conformance_suite!(subject);

async fn subject() -> Option<Subject> {
    let fake = FakeKaiten::start().await;
    let table = samples::table(json!({
        "kind": "kaiten",
        "url": fake.url(),
        "token": fake.token(),
        "board_id": FakeKaiten::BOARD_ID,
        "column_id": FakeKaiten::COLUMN_NEW,
        "lane_id": FakeKaiten::LANE_ID,
        "resolution_property": RESOLUTION_PROPERTY,
        "reopen_column_id": FakeKaiten::COLUMN_IN_PROGRESS,
        "statuses": {
            FakeKaiten::COLUMN_WAITING.to_string(): "waiting_client",
            FakeKaiten::COLUMN_DONE.to_string(): "closed",
        },
    }));
    let adapter = KaitenAdapter::from_config(&table).expect("valid config");
    let defaults = samples::table(json!({ "column_id": FakeKaiten::COLUMN_NEW }));
    Some(Subject {
        adapter: Arc::new(adapter),
        backstage: Arc::new(KaitenBackstage::new(fake.clone())),
        defaults,
        expected_placement: format!(
            "board {} column {}",
            FakeKaiten::BOARD_ID,
            FakeKaiten::COLUMN_NEW
        ),
        keep_alive: vec![Box::new(fake)],
    })
}
