//! The real adapter against `teledesk_testkit::zammad::FakeZammad`: what the conformance suite does
//! not reach — paging, error classes, retries that complete half-done work, custom states, the
//! resolution field, the full webhook payload.

use serde_json::{Value, json};
use std::time::Duration;
use teledesk_adapter::{
    Attachment, Cursor, ErrorKind, Escalation, Helpdesk, Origin, StatusClass, TicketId, TicketRef,
    Visibility,
};
use teledesk_testkit::samples::{self, draft, note};
use teledesk_testkit::zammad::FakeZammad;
use teledesk_zammad::ZammadAdapter;
use time::OffsetDateTime;

const SECRET: &str = "fake-webhook-secret";

fn adapter_with(fake: &FakeZammad, extra: Value) -> ZammadAdapter {
    let table = samples::table_with(
        json!({
            "kind": "zammad",
            "poll_interval": "5s",
            "url": fake.url(),
            "token": fake.token(),
            "group": FakeZammad::GROUP_USERS,
            "customer": "guess:telegram@acme.example",
            "webhook_secret": SECRET,
        }),
        extra,
    );
    ZammadAdapter::from_config(&table).expect("valid config")
}

fn adapter(fake: &FakeZammad) -> ZammadAdapter {
    adapter_with(fake, json!({}))
}

fn id_of(ticket: &TicketRef) -> i64 {
    ticket.id.0.parse().expect("numeric id")
}

#[tokio::test]
async fn a_new_ticket_keeps_its_files_key_and_customer() {
    let fake = FakeZammad::start().await;
    let mut d = draft(1);
    d.attachments = vec![Attachment {
        file_name: "dump.bin".into(),
        content_type: "application/octet-stream".into(),
        content: (0..=255u8).chain([0, 13, 10]).collect::<Vec<u8>>().into(),
    }];
    let created = adapter(&fake).create_ticket(&d).await.expect("create");
    assert_ne!(created.id.0, created.number, "id and number are different");
    let ticket = fake.ticket(id_of(&created)).expect("stored");
    assert_eq!(ticket.note.as_deref(), Some("tg:-1001234567890:1"));
    assert_eq!(ticket.customer, "telegram@acme.example");
    assert_eq!(ticket.group, FakeZammad::GROUP_USERS);
    assert_eq!(ticket.state, "new");
    let articles = fake.articles(id_of(&created));
    assert_eq!(articles.len(), 1);
    assert_eq!(articles[0].article_type, "web");
    assert_eq!(articles[0].sender, "Customer");
    assert_eq!(
        articles[0].message_id.as_deref(),
        Some("<tg:-1001234567890:1@teledesk>")
    );
    assert_eq!(
        articles[0].attachments[0].bytes,
        teledesk_testkit::samples::bytes_of(&d.attachments[0])
    );
}

#[tokio::test]
async fn organization_and_attributes_from_the_chat_reach_the_ticket() {
    let fake = FakeZammad::start().await;
    fake.add_ticket_attribute("contract");
    let mut d = draft(2);
    d.defaults = samples::table(json!({
        "organization": FakeZammad::ORGANIZATION_ACME,
        "attributes": {"contract": "VIP-7", "not_a_column": "dropped"},
    }));
    let created = adapter(&fake).create_ticket(&d).await.expect("create");
    let ticket = fake.ticket(id_of(&created)).expect("stored");
    assert_eq!(
        ticket.organization.as_deref(),
        Some(FakeZammad::ORGANIZATION_ACME)
    );
    assert_eq!(ticket.attributes.get("contract"), Some(&json!("VIP-7")));
    assert!(!ticket.attributes.contains_key("not_a_column"));
}

#[tokio::test]
async fn an_unknown_group_is_a_permanent_error_and_creates_nothing() {
    let fake = FakeZammad::start().await;
    let mut d = draft(3);
    d.defaults = samples::table(json!({"group": "Sales"}));
    let err = adapter(&fake).create_ticket(&d).await.expect_err("422");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(!err.is_temporary());
    assert!(err.message().contains("'group'"), "{err}");
    assert!(fake.tickets().is_empty());
}

#[tokio::test]
async fn polling_pages_past_a_full_page_and_reports_each_ticket_once() {
    let fake = FakeZammad::start().await;
    let zammad = adapter(&fake);
    let start = Cursor::starting_at(OffsetDateTime::now_utc() - Duration::from_secs(5));
    for n in 0..230 {
        fake.staff_create_ticket(&format!("Ticket {n}"));
    }
    let batch = zammad.changes_since(&start).await.expect("changes");
    assert_eq!(batch.changes.len(), 230);
    let mut ids: Vec<&str> = batch.changes.iter().map(|c| c.ticket.0.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 230, "a ticket was reported twice");
    let searches = fake
        .calls()
        .iter()
        .filter(|c| c.path == "/api/v1/tickets/search")
        .count();
    assert!(searches <= 4, "{searches} searches for 230 changes");
    let again = zammad.changes_since(&batch.cursor).await.expect("changes");
    assert!(again.changes.is_empty(), "{:?}", again.changes);
}

#[tokio::test]
async fn outages_and_injected_failures_are_temporary() {
    let fake = FakeZammad::start().await;
    let zammad = adapter(&fake);
    fake.set_outage(true);
    let err = zammad.check().await.expect_err("outage");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_temporary());
    assert!(err.message().len() < 320);
    fake.set_outage(false);
    zammad.check().await.expect("back");

    fake.fail_next(1, 500);
    let err = zammad.check().await.expect_err("500");
    assert!(err.is_temporary());
    assert!(err.message().contains("Error ID"), "{err}");
    fake.fail_next(1, 429);
    let err = zammad.check().await.expect_err("429");
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
}

#[tokio::test]
async fn a_wrong_token_is_permission_denied() {
    let fake = FakeZammad::start().await;
    let zammad = adapter_with(&fake, json!({"token": "not-the-token"}));
    let err = zammad.check().await.expect_err("401");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(!err.is_temporary());
    assert!(!format!("{err} {zammad:?}").contains("not-the-token"));
}

#[tokio::test]
async fn staff_and_customer_articles_read_back_with_their_origin() {
    let fake = FakeZammad::start().await;
    let zammad = adapter(&fake);
    let created = zammad.create_ticket(&draft(4)).await.expect("create");
    let id = id_of(&created);
    fake.staff_reply(id, "Пётр Сидоров", "Перезагрузите <принтер> & ждите");
    fake.internal_note(id, "Пётр Сидоров", "секрет");
    fake.customer_reply(id, "Спасибо, заработало.");
    fake.assign(id, "Пётр Сидоров");
    let ticket = zammad.get_ticket(&created.id).await.expect("ticket");
    assert_eq!(ticket.assignee.as_deref(), Some("Пётр Сидоров"));
    let summary: Vec<(&str, Visibility, Origin, &str)> = ticket
        .comments
        .iter()
        .map(|c| (c.body.as_str(), c.visibility, c.origin, c.author.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "Перезагрузите <принтер> & ждите",
                Visibility::Public,
                Origin::Staff,
                "Пётр Сидоров"
            ),
            (
                "секрет",
                Visibility::Internal,
                Origin::Staff,
                "Пётр Сидоров"
            ),
            (
                "Спасибо, заработало.",
                Visibility::Public,
                Origin::Requester,
                "telegram@acme.example"
            ),
        ]
    );
}

#[tokio::test]
async fn a_ticket_staff_opened_reads_its_html_description() {
    let fake = FakeZammad::start().await;
    let id = fake.staff_create_ticket("Звонок: не работает почта");
    let ticket = adapter(&fake)
        .get_ticket(&TicketId(id.to_string()))
        .await
        .expect("ticket");
    assert_eq!(ticket.description, "Звонок: не работает почта");
    assert!(ticket.comments.is_empty());
    assert_eq!(ticket.assignee, None);
    assert_eq!(ticket.status, StatusClass::New);
}

#[tokio::test]
async fn the_resolution_field_is_read_when_configured() {
    let fake = FakeZammad::start().await;
    let zammad = adapter_with(
        &fake,
        json!({"resolution_field": FakeZammad::RESOLUTION_ATTRIBUTE}),
    );
    let created = zammad.create_ticket(&draft(5)).await.expect("create");
    let id = id_of(&created);
    fake.resolve(id, FakeZammad::STAFF_NAME, "Закрываю");
    let ticket = zammad.get_ticket(&created.id).await.expect("ticket");
    assert_eq!(
        ticket.resolution, None,
        "with a field, a closing reply is no resolution"
    );
    fake.set_attribute(
        id,
        FakeZammad::RESOLUTION_ATTRIBUTE,
        json!("Заменили картридж"),
    );
    let ticket = zammad.get_ticket(&created.id).await.expect("ticket");
    assert_eq!(ticket.resolution.as_deref(), Some("Заменили картридж"));
}

#[tokio::test]
async fn custom_states_follow_their_type_or_the_statuses_table() {
    let fake = FakeZammad::start().await;
    fake.add_state("waiting for customer ok", 4);
    fake.add_state("with vendor", 3);
    let zammad = adapter_with(
        &fake,
        json!({"statuses": {"with vendor": "waiting_third_party"}}),
    );
    let created = zammad.create_ticket(&draft(6)).await.expect("create");
    let id = id_of(&created);
    fake.set_state(id, "waiting for customer ok");
    let ticket = zammad.get_ticket(&created.id).await.expect("ticket");
    assert_eq!(ticket.state, "waiting for customer ok");
    assert_eq!(ticket.status, StatusClass::Resolved);
    fake.set_state(id, "with vendor");
    let ticket = zammad.get_ticket(&created.id).await.expect("ticket");
    assert_eq!(ticket.status, StatusClass::WaitingThirdParty);
}

#[tokio::test]
async fn a_retried_escalation_finishes_the_step_without_climbing_again() {
    let fake = FakeZammad::start().await;
    let zammad = adapter(&fake);
    let created = zammad.create_ticket(&draft(7)).await.expect("create");
    let id = id_of(&created);
    assert_eq!(fake.ticket(id).expect("ticket").priority, "2 normal");
    let mut escalation = note(70, "Обратите внимание. Эскалация заявки");
    let outcome = zammad
        .escalate(&created.id, &escalation)
        .await
        .expect("escalate");
    assert_eq!(
        outcome,
        Escalation::PriorityRaised {
            to: "3 high".into()
        }
    );
    // As if the first attempt had crashed between the note and the priority change.
    fake.set_priority(id, "2 normal");
    escalation.retry = true;
    let outcome = zammad
        .escalate(&created.id, &escalation)
        .await
        .expect("retry");
    assert_eq!(
        outcome,
        Escalation::PriorityRaised {
            to: "3 high".into()
        }
    );
    assert_eq!(fake.ticket(id).expect("ticket").priority, "3 high");
    let notes = fake
        .articles(id)
        .into_iter()
        .filter(|a| a.body.contains("Эскалация"))
        .count();
    assert_eq!(notes, 1, "the retry wrote a second note");
    // Already on top: only a note.
    let top = zammad
        .escalate(&created.id, &note(71, "Ещё раз"))
        .await
        .expect("escalate");
    assert_eq!(top, Escalation::AlreadyHighest);
    let last = fake.articles(id).pop().expect("a note");
    assert!(last.internal);
    assert!(
        last.body
            .ends_with("Priority: 3 high (already the highest)")
    );
}

#[tokio::test]
async fn a_retried_follow_up_links_a_ticket_created_before_a_crash() {
    let fake = FakeZammad::start().await;
    let zammad = adapter(&fake);
    let original = zammad.create_ticket(&draft(8)).await.expect("original");
    fake.resolve(id_of(&original), FakeZammad::STAFF_NAME, "Готово");
    // The follow-up reached Zammad, the link did not.
    let mut follow = draft(9);
    let unlinked = zammad.create_ticket(&follow).await.expect("follow-up");
    assert!(fake.links().is_empty());
    follow.follow_up_of = Some(original.clone());
    follow.retry = true;
    let found = zammad.create_ticket(&follow).await.expect("retry");
    assert_eq!(found.id, unlinked.id);
    let again = zammad.create_ticket(&follow).await.expect("retry again");
    assert_eq!(again.id, unlinked.id);
    let links = fake.links();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(
        (links[0].source, links[0].target),
        (id_of(&original), id_of(&unlinked))
    );
    assert_eq!(fake.tickets().len(), 2);
}

#[tokio::test]
async fn the_full_default_webhook_payload_is_accepted() {
    let fake = FakeZammad::start().await;
    let zammad = adapter(&fake);
    let created = zammad.create_ticket(&draft(10)).await.expect("create");
    fake.staff_reply(id_of(&created), FakeZammad::STAFF_NAME, "Смотрим");
    let request = fake.webhook(id_of(&created), Some(SECRET));
    let unsigned = fake.webhook(id_of(&created), None);
    assert_eq!(zammad.parse_webhook(&request).expect("valid"), [created.id]);
    assert_eq!(
        zammad
            .parse_webhook(&unsigned)
            .expect_err("unsigned")
            .kind(),
        ErrorKind::PermissionDenied
    );
}

#[tokio::test]
async fn a_file_of_another_ticket_is_refused() {
    let fake = FakeZammad::start().await;
    let zammad = adapter(&fake);
    let first = zammad.create_ticket(&draft(11)).await.expect("create");
    let second = zammad.create_ticket(&draft(12)).await.expect("create");
    let article = fake.staff_reply_with_file(
        id_of(&first),
        FakeZammad::STAFF_NAME,
        "Файл",
        "fix.bin",
        vec![1, 2, 3],
    );
    let file = fake
        .articles(id_of(&first))
        .into_iter()
        .find(|a| a.id == article)
        .expect("article")
        .attachments[0]
        .id;
    let reference = teledesk_adapter::AttachmentRef {
        id: format!("{}/{article}/{file}", id_of(&second)),
        file_name: "fix.bin".into(),
        content_type: None,
        size: None,
        url: None,
    };
    let err = zammad.download(&reference).await.expect_err("403");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
}

/// Most tickets a change listing reports are nothing of teledesk's: the ticket's own attributes
/// tell so in one request; one staff addressed is then read whole.
#[tokio::test]
async fn an_unaddressed_ticket_is_told_from_the_ticket_alone() {
    let fake = FakeZammad::start().await;
    fake.add_ticket_attribute("telegram_chat");
    let zammad = adapter_with(&fake, json!({"chat_field": "telegram_chat"}));
    let staff = fake.staff_create_ticket("Printer on the 3rd floor");
    fake.staff_reply(staff, "Agent Smith", "On it");
    let id = TicketId(staff.to_string());
    let before = fake.calls().len();
    assert!(zammad.addressed_ticket(&id).await.expect("probe").is_none());
    let calls: Vec<String> = fake.calls()[before..]
        .iter()
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    assert_eq!(calls, [format!("GET /api/v1/tickets/{staff}")]);

    fake.set_attribute(staff, "telegram_chat", json!("Acme"));
    let ticket = zammad
        .addressed_ticket(&id)
        .await
        .expect("probe")
        .expect("addressed now");
    assert_eq!(ticket.addressed_to.map(|a| a.chat).as_deref(), Some("Acme"));
    assert!(ticket.comments.iter().any(|c| c.body.contains("On it")));
}
