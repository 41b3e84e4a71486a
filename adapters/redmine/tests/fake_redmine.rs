//! The real adapter against `teledesk_testkit::redmine::FakeRedmine`: what the conformance suite
//! does not cover — optional config (custom fields, status and priority steps), permission
//! problems Redmine hides behind a 204, retries after a crash, paging, the wire format of
//! requests, and the error classes the daemon's retry logic relies on.

use serde_json::{Value, json};
use std::time::Duration;
use teledesk_adapter::{
    AttachmentRef, Cursor, ErrorKind, Escalation, Helpdesk, Origin, StatusClass, TicketId,
    TicketRef, Visibility,
};
use teledesk_redmine::RedmineAdapter;
use teledesk_testkit::redmine::FakeRedmine;
use teledesk_testkit::samples::{self, comment, draft, file, note};
use time::OffsetDateTime;

const STAFF: &str = "Мария Петрова";

fn adapter_with(fake: &FakeRedmine, extra: Value) -> RedmineAdapter {
    let table = samples::table_with(
        json!({
            "kind": "redmine",
            "poll_interval": "5s",
            "url": fake.url(),
            "api_key": fake.admin_key(),
            "project_id": FakeRedmine::PROJECT_IDENTIFIER,
            "tracker_id": FakeRedmine::TRACKER_SUPPORT,
            // Tests create many issues; the fake has no rate limit.
            "requests_per_second": 100,
        }),
        extra,
    );
    RedmineAdapter::from_config(&table).expect("valid config")
}

fn adapter(fake: &FakeRedmine) -> RedmineAdapter {
    adapter_with(fake, json!({}))
}

fn id_of(ticket: &TicketRef) -> i64 {
    ticket.id.0.parse().expect("numeric id")
}

/// Polls `changes_since` until `done` holds (a change is reported once its second is over).
async fn poll_until(
    adapter: &RedmineAdapter,
    mut cursor: Cursor,
    mut done: impl FnMut(&[TicketId]) -> bool,
) -> (Vec<TicketId>, Cursor) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut reported = Vec::new();
    loop {
        let batch = adapter.changes_since(&cursor).await.expect("changes_since");
        reported.extend(batch.changes.into_iter().map(|c| c.ticket));
        cursor = batch.cursor;
        if done(&reported) {
            return (reported, cursor);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "changes not reported in time; so far {reported:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn check_names_the_integration_user_and_the_project_must_exist() {
    let fake = FakeRedmine::start().await;
    let identity = adapter(&fake).check().await.expect("check");
    assert_eq!(identity.id, "1");
    assert_eq!(identity.name, "Redmine Admin");
    let e = adapter_with(&fake, json!({"project_id": "nope"}))
        .check()
        .await
        .expect_err("unknown project");
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
    assert!(e.message().contains("nope"), "{e}");
}

#[tokio::test]
async fn a_wrong_key_is_permission_denied() {
    let fake = FakeRedmine::start().await;
    let e = adapter_with(&fake, json!({"api_key": "0000"}))
        .check()
        .await
        .expect_err("wrong key");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(!e.is_temporary());
    assert!(!e.to_string().contains("0000"), "{e}");
}

#[tokio::test]
async fn outages_and_proxy_rate_limits_are_temporary() {
    let fake = FakeRedmine::start().await;
    let a = adapter(&fake);
    fake.set_outage(true);
    let e = a.check().await.expect_err("outage");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.is_temporary());
    assert!(e.message().len() < 320);
    fake.set_outage(false);
    fake.fail_next(1, 429);
    let e = a.check().await.expect_err("429");
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    fake.fail_next(1, 500);
    assert!(a.check().await.expect_err("500").is_temporary());
    a.check().await.expect("back to normal");
}

#[tokio::test]
async fn missing_issues_and_files_are_not_found() {
    let fake = FakeRedmine::start().await;
    let a = adapter(&fake);
    let missing = TicketId("424242".into());
    for e in [
        a.get_ticket(&missing).await.expect_err("get"),
        a.add_comment(&missing, &comment(1, "x"))
            .await
            .expect_err("comment"),
        a.add_internal_note(&missing, &note(2, "x"))
            .await
            .expect_err("note"),
    ] {
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        assert!(!e.is_temporary());
    }
    let reference = AttachmentRef {
        id: "777".into(),
        file_name: "x.bin".into(),
        content_type: None,
        size: None,
        url: None,
    };
    let e = a.download(&reference).await.expect_err("download");
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn create_sends_redmines_wire_format_and_attaches_files_to_the_issue() {
    let fake = FakeRedmine::start().await;
    let a = adapter(&fake);
    let mut d = draft(10);
    d.attachments = vec![file("a.bin", 1), file("b.bin", 2)];
    d.defaults = samples::table(json!({"priority_id": 3, "category_id": 1, "project_id": 1}));
    let created = a.create_ticket(&d).await.expect("create");
    let id = id_of(&created);
    assert_eq!(created.url, Some(format!("{}/issues/{id}", fake.url())));

    let calls = fake.calls();
    let uploads: Vec<_> = calls.iter().filter(|c| c.path == "/uploads.json").collect();
    assert_eq!(uploads.len(), 2);
    assert_eq!(uploads[0].query, "filename=a.bin");
    assert_eq!(uploads[0].status, 201);
    let create = calls
        .iter()
        .find(|c| c.method == "POST" && c.path == "/issues.json")
        .expect("a create");
    let body = &create.body.as_ref().expect("JSON body")["issue"];
    assert_eq!(body["project_id"], json!(1));
    assert_eq!(body["tracker_id"], json!(3));
    assert_eq!(body["priority_id"], json!(3));
    assert_eq!(body["category_id"], json!(1));
    assert_eq!(body["subject"], json!("Не печатает принтер"));
    assert_eq!(body["uploads"].as_array().map(Vec::len), Some(2));
    assert_eq!(body["uploads"][0]["filename"], json!("a.bin"));

    let issue = fake.issue(id).expect("stored");
    assert_eq!(issue.tracker_id, 3);
    assert_eq!(issue.priority_id, 3);
    assert!(issue.description.contains("tg-key: tg:-1001234567890:10"));
    assert!(issue.description.contains("\r\n"), "Redmine stores CRLF");
    let files = fake.attachments(id);
    assert_eq!(files.len(), 2);
    assert_eq!(
        files[1].bytes,
        teledesk_testkit::samples::bytes_of(&file("b.bin", 2))
    );
    assert!(
        fake.journals(id).is_empty(),
        "files at create write no journal"
    );
    let ticket = a.get_ticket(&created.id).await.expect("read");
    assert_eq!(ticket.description, "Принтер в бухгалтерии не печатает.");
    assert!(ticket.comments.is_empty());
}

#[tokio::test]
async fn a_bad_chat_table_is_a_config_error_before_any_request() {
    let fake = FakeRedmine::start().await;
    let a = adapter(&fake);
    let mut d = draft(11);
    d.defaults = samples::table(json!({"queue": "x"}));
    let e = a.create_ticket(&d).await.expect_err("invalid defaults");
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn the_idempotency_field_stores_the_key_and_finds_it_again() {
    let fake = FakeRedmine::start().await;
    let field = fake.add_custom_field("Telegram key", "string", true);
    let a = adapter_with(&fake, json!({ "idempotency_field_id": field }));
    let mut d = draft(20);
    let first = a.create_ticket(&d).await.expect("create");
    let stored = fake.issue(id_of(&first)).expect("stored");
    assert_eq!(
        stored.custom_values.get(&field).map(String::as_str),
        Some("tg:-1001234567890:20")
    );
    d.retry = true;
    let again = a.create_ticket(&d).await.expect("retry");
    assert_eq!(again.id, first.id);
    assert_eq!(fake.issues().len(), 1);
    assert!(
        fake.calls()
            .iter()
            .any(|c| c.path == "/issues.json" && c.query.contains(&format!("cf_{field}="))),
        "the retry did not search by the custom field"
    );
}

#[tokio::test]
async fn a_retry_falls_back_to_the_description_marker() {
    let fake = FakeRedmine::start().await;
    // The first attempt ran before the custom field was configured.
    let mut d = draft(21);
    let first = adapter(&fake).create_ticket(&d).await.expect("create");
    let field = fake.add_custom_field("Telegram key", "string", true);
    d.retry = true;
    let again = adapter_with(&fake, json!({ "idempotency_field_id": field }))
        .create_ticket(&d)
        .await
        .expect("retry");
    assert_eq!(again.id, first.id);
    // A key that is a prefix of another does not match it.
    let mut other = draft(2);
    other.retry = true;
    let created = adapter(&fake).create_ticket(&other).await.expect("create");
    assert_ne!(created.id, first.id);
    assert_eq!(fake.issues().len(), 2);
}

#[tokio::test]
async fn a_follow_up_retry_adds_a_missing_relation() {
    let fake = FakeRedmine::start().await;
    let a = adapter(&fake);
    let original = a.create_ticket(&draft(30)).await.expect("original");
    // The first attempt created the issue and crashed before linking it.
    let mut follow = draft(31);
    let first = a.create_ticket(&follow).await.expect("create");
    assert!(fake.relations(id_of(&first)).is_empty());
    follow.follow_up_of = Some(original.clone());
    follow.retry = true;
    let again = a.create_ticket(&follow).await.expect("retry");
    assert_eq!(again.id, first.id);
    assert_eq!(
        fake.relations(id_of(&first)),
        vec![(id_of(&original), "relates".to_owned())]
    );
    // A second retry does not link twice.
    a.create_ticket(&follow).await.expect("retry again");
    assert_eq!(fake.relations(id_of(&first)).len(), 1);
}

#[tokio::test]
async fn comment_files_belong_to_their_journal() {
    let fake = FakeRedmine::start().await;
    let a = adapter(&fake);
    let created = a.create_ticket(&draft(40)).await.expect("create");
    let mut c = comment(41, "");
    c.attachments = vec![file("only.bin", 9)];
    let id = a.add_comment(&created.id, &c).await.expect("comment");
    let journals = fake.journals(id_of(&created));
    assert_eq!(journals.len(), 1);
    assert_eq!(journals[0].id.to_string(), id.0);
    assert_eq!(journals[0].details[0].0, "attachment");
    let ticket = a.get_ticket(&created.id).await.expect("read");
    let read = &ticket.comments[0];
    assert_eq!(read.origin, Origin::Teledesk);
    assert_eq!(read.body, "");
    assert_eq!(read.attachments.len(), 1);
    let got = a.download(&read.attachments[0]).await.expect("download");
    assert_eq!(got.content, file("only.bin", 9).content);
    assert_eq!(got.file_name, "only.bin");
}

#[tokio::test]
async fn a_staff_file_without_text_is_a_comment() {
    let fake = FakeRedmine::start().await;
    let a = adapter(&fake);
    let created = a.create_ticket(&draft(42)).await.expect("create");
    fake.staff_reply_with_file(id_of(&created), STAFF, "", "scan.pdf", b"%PDF-1.4".to_vec());
    let ticket = a.get_ticket(&created.id).await.expect("read");
    assert_eq!(ticket.comments.len(), 1);
    assert_eq!(ticket.comments[0].origin, Origin::Staff);
    assert_eq!(ticket.comments[0].author, STAFF);
    assert_eq!(ticket.comments[0].attachments[0].file_name, "scan.pdf");
}

#[tokio::test]
async fn field_changes_are_not_comments() {
    let fake = FakeRedmine::start().await;
    let a = adapter(&fake);
    let created = a.create_ticket(&draft(43)).await.expect("create");
    fake.set_status(id_of(&created), FakeRedmine::STATUS_IN_PROGRESS);
    fake.assign(id_of(&created), STAFF);
    let ticket = a.get_ticket(&created.id).await.expect("read");
    assert!(ticket.comments.is_empty(), "{:?}", ticket.comments);
    assert_eq!(ticket.status, StatusClass::InProgress);
    assert_eq!(ticket.assignee.as_deref(), Some(STAFF));
}

#[tokio::test]
async fn notes_that_redmine_made_public_are_an_error() {
    let fake = FakeRedmine::start().await;
    // An integration user whose role lacks "Set notes as private" (a Reporter).
    fake.add_user("bot", "Tele", "Desk", Some(5));
    let key = fake.api_key_of("bot").expect("key");
    let a = adapter_with(&fake, json!({ "api_key": key }));
    let created = a.create_ticket(&draft(50)).await.expect("create");
    let e = a
        .add_internal_note(&created.id, &note(51, "секрет"))
        .await
        .expect_err("note went public");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(e.message().contains("Set notes as private"), "{e}");
    // A retry finds the public note and says the same, instead of writing it again.
    let mut retry = note(51, "секрет");
    retry.retry = true;
    let e = a
        .add_internal_note(&created.id, &retry)
        .await
        .expect_err("still public");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert_eq!(fake.journals(id_of(&created)).len(), 1);
}

#[tokio::test]
async fn a_status_the_workflow_drops_is_an_error() {
    let fake = FakeRedmine::start().await;
    fake.add_user("bot", "Tele", "Desk", Some(5));
    let key = fake.api_key_of("bot").expect("key");
    let a = adapter_with(&fake, json!({ "api_key": key }));
    let created = a.create_ticket(&draft(52)).await.expect("create");
    let e = a
        .set_status(&created.id, StatusClass::InProgress)
        .await
        .expect_err("workflow");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(!e.is_temporary());
    assert!(e.message().contains("workflow"), "{e}");
}

#[tokio::test]
async fn client_replied_needs_a_status_and_reopen_uses_the_configured_one() {
    let fake = FakeRedmine::start().await;
    let plain = adapter(&fake);
    let created = plain.create_ticket(&draft(60)).await.expect("create");
    let e = plain
        .set_status(&created.id, StatusClass::ClientReplied)
        .await
        .expect_err("no client_replied status");
    assert_eq!(e.kind(), ErrorKind::Unsupported);

    let configured = adapter_with(
        &fake,
        json!({"client_replied_status_id": 2, "reopen_status_id": 4, "statuses": {"4": "in_progress"}}),
    );
    configured
        .set_status(&created.id, StatusClass::ClientReplied)
        .await
        .expect("client replied");
    assert_eq!(fake.issue(id_of(&created)).expect("issue").status_id, 2);
    fake.resolve(id_of(&created), STAFF, "Готово");
    configured.reopen(&created.id).await.expect("reopen");
    assert_eq!(
        fake.issue(id_of(&created)).expect("issue").status_id,
        FakeRedmine::STATUS_FEEDBACK
    );
    // With the default map the first "in progress" status is the reopen target.
    plain
        .set_status(&created.id, StatusClass::Closed)
        .await
        .expect("closed exists");
    plain.reopen(&created.id).await.expect("reopen");
    assert_eq!(
        fake.issue(id_of(&created)).expect("issue").status_id,
        FakeRedmine::STATUS_IN_PROGRESS
    );
}

#[tokio::test]
async fn escalation_climbs_the_configured_steps_and_stops_at_the_top() {
    let fake = FakeRedmine::start().await;
    let a = adapter_with(&fake, json!({"priority_ids": [2, 3]}));
    let created = a.create_ticket(&draft(70)).await.expect("create");
    let first = a
        .escalate(&created.id, &note(71, "Эскалация 1"))
        .await
        .expect("escalate");
    assert_eq!(first, Escalation::PriorityRaised { to: "High".into() });
    let second = a
        .escalate(&created.id, &note(72, "Эскалация 2"))
        .await
        .expect("escalate");
    assert_eq!(second, Escalation::AlreadyHighest);
    let issue = fake.issue(id_of(&created)).expect("issue");
    assert_eq!(issue.priority_id, FakeRedmine::PRIORITY_HIGH);
    let ticket = a.get_ticket(&created.id).await.expect("read");
    let notes: Vec<_> = ticket
        .comments
        .iter()
        .map(|c| (c.body.as_str(), c.visibility, c.origin))
        .collect();
    assert_eq!(
        notes,
        [
            ("Эскалация 1", Visibility::Internal, Origin::Teledesk),
            ("Эскалация 2", Visibility::Internal, Origin::Teledesk),
        ]
    );
    // The raise and its note are one update, split by Redmine into two journals.
    let journals = fake.journals(id_of(&created));
    assert_eq!(journals[0].notes, None);
    assert!(!journals[0].private_notes);
    assert!(journals[1].private_notes);
    assert_eq!(journals[0].created_on, journals[1].created_on);
}

#[tokio::test]
async fn a_retried_escalation_reports_what_the_first_did() {
    let fake = FakeRedmine::start().await;
    let a = adapter(&fake);
    let created = a.create_ticket(&draft(73)).await.expect("create");
    let mut n = note(74, "Эскалация");
    let first = a.escalate(&created.id, &n).await.expect("escalate");
    assert_eq!(first, Escalation::PriorityRaised { to: "High".into() });
    n.retry = true;
    let again = a.escalate(&created.id, &n).await.expect("retry");
    assert_eq!(again, first);
    assert_eq!(
        fake.issue(id_of(&created)).expect("issue").priority_id,
        FakeRedmine::PRIORITY_HIGH,
        "the retry raised the priority a second time"
    );
    assert_eq!(fake.journals(id_of(&created)).len(), 2);
}

#[tokio::test]
async fn resolution_comes_from_the_configured_field() {
    let fake = FakeRedmine::start().await;
    let field = fake.add_custom_field("Resolution", "text", false);
    let a = adapter_with(&fake, json!({ "resolution_field_id": field }));
    let created = a.create_ticket(&draft(80)).await.expect("create");
    fake.resolve(id_of(&created), STAFF, "Смотрите решение в поле");
    assert_eq!(
        a.get_ticket(&created.id).await.expect("read").resolution,
        None
    );
    fake.set_custom_value(id_of(&created), field, "Заменили картридж");
    let ticket = a.get_ticket(&created.id).await.expect("read");
    assert_eq!(ticket.status, StatusClass::Resolved);
    assert_eq!(ticket.resolution.as_deref(), Some("Заменили картридж"));
}

#[tokio::test]
async fn the_first_poll_starts_now_and_later_polls_use_redmines_filter() {
    let fake = FakeRedmine::start().await;
    let a = adapter(&fake);
    a.create_ticket(&draft(90)).await.expect("create");
    let before = OffsetDateTime::now_utc() - Duration::from_secs(1);
    let first = a.changes_since(&Cursor::default()).await.expect("poll");
    assert!(
        first.changes.is_empty(),
        "history replayed: {:?}",
        first.changes
    );
    assert!(
        first
            .cursor
            .since
            .is_some_and(|s| s >= before.replace_nanosecond(0).expect("ok"))
    );
    a.changes_since(&first.cursor).await.expect("poll");
    let list = fake
        .calls()
        .into_iter()
        .rfind(|c| c.path == "/issues.json")
        .expect("a list call");
    for part in [
        "status_id=*",
        "author_id=me",
        "sort=updated_on",
        "limit=100",
        "updated_on=%3E%3D",
    ] {
        assert!(
            list.query.contains(part),
            "{part} missing in {}",
            list.query
        );
    }
    assert!(
        list.query.contains("Z&") || list.query.ends_with('Z'),
        "{}",
        list.query
    );
}

#[tokio::test]
async fn a_change_is_reported_once_its_second_is_over() {
    let fake = FakeRedmine::start().await;
    let a = adapter(&fake);
    let start = Cursor::starting_at(OffsetDateTime::now_utc() - Duration::from_secs(5));
    let created = a.create_ticket(&draft(91)).await.expect("create");
    let early = a.changes_since(&start).await.expect("poll");
    assert!(
        early.changes.is_empty(),
        "a change of the current second was reported: {:?}",
        early.changes
    );
    let (reported, cursor) = poll_until(&a, start, |r| r.contains(&created.id)).await;
    assert_eq!(reported, vec![created.id.clone()]);
    // Staff reply and teledesk comment in the same second: one change, reported once.
    fake.staff_reply(id_of(&created), STAFF, "Смотрим");
    a.add_comment(&created.id, &comment(92, "Спасибо"))
        .await
        .expect("comment");
    let (reported, cursor) = poll_until(&a, cursor, |r| r.contains(&created.id)).await;
    assert_eq!(reported, vec![created.id.clone()]);
    let again = a.changes_since(&cursor).await.expect("poll");
    assert!(again.changes.is_empty(), "{:?}", again.changes);
}

#[tokio::test]
async fn polling_pages_past_a_hundred_issues_and_ignores_other_authors() {
    let fake = FakeRedmine::start().await;
    let a = adapter(&fake);
    let start = Cursor::starting_at(OffsetDateTime::now_utc() - Duration::from_secs(5));
    let ours: Vec<i64> = (0..130)
        .map(|n| fake.create_issue(FakeRedmine::ADMIN_ID, &format!("bulk {n}")))
        .collect();
    let theirs = fake.create_issue(FakeRedmine::REQUESTER_ID, "filed by alice");
    let (reported, _) = poll_until(&a, start, |r| r.len() >= ours.len()).await;
    let mut ids: Vec<i64> = reported.iter().map(|t| t.0.parse().expect("id")).collect();
    ids.sort_unstable();
    assert_eq!(ids, ours, "each issue exactly once, only teledesk's");
    assert!(!ids.contains(&theirs));
}

#[tokio::test]
async fn webhooks_of_other_objects_name_no_ticket() {
    use hmac::{Hmac, Mac};
    let fake = FakeRedmine::start().await;
    let a = adapter_with(&fake, json!({"webhook_secret": "s"}));
    let body = br#"{"type":"time_entry.created","timestamp":"2026-11-21T13:48:22Z","data":{"time_entry":{"id":1}}}"#;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s").expect("key");
    mac.update(body);
    let request = teledesk_adapter::WebhookRequest {
        headers: vec![(
            "X-Redmine-Signature-256".into(),
            format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
        )],
        body: body.to_vec(),
    };
    assert!(a.parse_webhook(&request).expect("valid").is_empty());
}

/// A value a field's format refuses (the registration time aimed at a date field) is a finding of
/// `teledesk check`, named by its key, not a 422 and a dead letter at the first ticket — and the
/// fake refuses it as Redmine does.
#[tokio::test]
async fn a_value_its_field_format_refuses_is_a_config_finding() {
    let fake = FakeRedmine::start().await;
    let date = fake.add_custom_field("Registered", "date", false);
    let count = fake.add_custom_field("Seats", "int", false);
    let redmine = adapter(&fake);
    let table = samples::table(json!({
        "custom_fields": {
            date.to_string(): "2026-12-07T10:00:00Z",
            count.to_string(): "12",
        }
    }));
    let problems = redmine.check_ticket_defaults(&table).await.expect("check");
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, [format!("custom_fields.{date}")], "{problems:?}");
    assert!(problems[0].to_string().contains("date"), "{}", problems[0]);

    let mut refused = draft(1);
    refused.defaults = table.clone();
    let error = redmine.create_ticket(&refused).await.expect_err("422");
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    assert!(
        error.to_string().contains("Registered is not a valid date"),
        "{error}"
    );

    let fine = samples::table(json!({
        "custom_fields": { date.to_string(): "2026-12-07", count.to_string(): "12" }
    }));
    assert!(
        redmine
            .check_ticket_defaults(&fine)
            .await
            .expect("check")
            .is_empty()
    );
}
