//! The real adapter against `teledesk_testkit::znuny::FakeZnuny`: the session life cycle,
//! idempotency without a key field, what lands in Znuny, polling, escalation, webhooks, and the
//! error classes the daemon's retry logic relies on.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use std::time::Duration;
use teledesk_adapter::{
    Attachment, AttachmentRef, CommentDraft, Cursor, ErrorKind, Escalation, Helpdesk,
    IdempotencyKey, NoteDraft, Origin, StatusClass, TicketDraft, TicketId, TicketRef, Visibility,
    WebhookRequest,
};
use teledesk_testkit::samples;
use teledesk_testkit::znuny::{FakeZnuny, ZnunyCall};
use teledesk_znuny::ZnunyAdapter;
use time::OffsetDateTime;
use time::macros::{datetime, offset};

fn adapter_with(fake: &FakeZnuny, extra: Value) -> ZnunyAdapter {
    let table = samples::table_with(
        json!({
            "kind": "znuny",
            "url": fake.url(),
            "user": FakeZnuny::AGENT_LOGIN,
            "password": FakeZnuny::AGENT_PASSWORD,
            "queue": FakeZnuny::QUEUE,
            "customer_user": FakeZnuny::CUSTOMER_USER,
            "timezone": "+03:00",
            "requests_per_second": 100,
        }),
        extra,
    );
    ZnunyAdapter::from_config(&table).expect("valid config")
}

fn adapter(fake: &FakeZnuny) -> ZnunyAdapter {
    adapter_with(fake, json!({"idempotency_field": FakeZnuny::KEY_FIELD}))
}

/// The sample ticket, registered just now: without a key field, a retried create looks only at
/// tickets created shortly before `registered_at`.
fn draft(message_id: i32) -> TicketDraft {
    TicketDraft {
        registered_at: OffsetDateTime::now_utc() - Duration::from_secs(30),
        ..samples::draft(message_id)
    }
}

fn note(key: &str, body: &str) -> NoteDraft {
    NoteDraft {
        key: IdempotencyKey(key.into()),
        body: body.into(),
        retry: false,
    }
}

fn id_of(reference: &TicketRef) -> i64 {
    reference.id.0.parse().expect("numeric id")
}

fn operations(calls: &[ZnunyCall]) -> Vec<String> {
    calls
        .iter()
        .map(|c| {
            let op = c.operation.clone().unwrap_or_else(|| "-".into());
            match &c.error_code {
                Some(code) => format!("{op}!{code}"),
                None => op,
            }
        })
        .collect()
}

#[tokio::test]
async fn one_login_serves_every_call_and_an_expired_session_is_renewed_once() {
    let fake = FakeZnuny::start().await;
    let znuny = adapter(&fake);
    let identity = znuny.check().await.expect("check");
    assert_eq!(identity.id, FakeZnuny::AGENT_ID.to_string());
    assert_eq!(identity.name, "teledesk bot");
    let created = znuny.create_ticket(&draft(1)).await.expect("create");
    znuny.get_ticket(&created.id).await.expect("get");
    assert_eq!(fake.sessions_created(), 1);

    fake.expire_sessions();
    znuny
        .get_ticket(&created.id)
        .await
        .expect("get after expiry");
    assert_eq!(fake.sessions_created(), 2);
    let tail: Vec<String> = operations(&fake.calls())
        .into_iter()
        .rev()
        .take(3)
        .collect();
    assert_eq!(
        tail,
        ["TicketGet", "SessionCreate", "TicketGet!TicketGet.AuthFail"],
        "re-login between the refused and the repeated call"
    );

    // The password travels only in the login body, the session never in a POST's query string.
    for call in fake.calls() {
        assert!(!call.query.contains(FakeZnuny::AGENT_PASSWORD), "{call:?}");
        if call.method == "GET" && call.operation.as_deref() == Some("TicketGet") {
            assert!(call.query.contains("SessionID="), "{call:?}");
        }
        if call.operation.as_deref() == Some("TicketCreate") {
            let body = call.body.as_ref().expect("a body");
            assert!(body["SessionID"].is_string());
            assert!(body.get("Password").is_none());
        }
    }
}

#[tokio::test]
async fn a_wrong_password_is_permission_denied_without_a_loop() {
    let fake = FakeZnuny::start().await;
    let znuny = adapter_with(&fake, json!({"password": "wrong"}));
    let err = znuny.check().await.expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(!err.is_temporary());
    assert!(!format!("{err} {err:?} {znuny:?}").contains("wrong"));
    assert_eq!(
        operations(&fake.calls()),
        ["SessionCreate!SessionCreate.AuthFail"]
    );
}

#[tokio::test]
async fn outages_are_temporary_and_a_wrong_web_service_is_a_config_error() {
    let fake = FakeZnuny::start().await;
    let znuny = adapter(&fake);
    fake.set_outage(true);
    let err = znuny.check().await.expect_err("outage");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_temporary());
    fake.set_outage(false);
    znuny.check().await.expect("back");
    fake.fail_next(1, 500);
    let err = znuny.create_ticket(&draft(2)).await.expect_err("fault");
    assert!(err.is_temporary());
    assert!(err.message().contains("Injected failure"), "{err}");
    fake.fail_next(1, 429);
    let err = znuny.create_ticket(&draft(2)).await.expect_err("limited");
    assert_eq!(err.kind(), ErrorKind::RateLimited);

    let url = fake
        .url()
        .replace("/Webservice/teledesk", "/Webservice/other");
    let elsewhere = adapter_with(&fake, json!({"url": url}));
    let err = elsewhere.check().await.expect_err("no such web service");
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert!(!err.is_temporary());
}

#[tokio::test]
async fn create_ticket_lands_in_znuny_with_requester_and_key() {
    let fake = FakeZnuny::start().await;
    let znuny = adapter(&fake);
    let mut d = draft(3);
    d.registered_at = datetime!(2026-11-21 11:58:00.5 UTC);
    d.defaults = samples::table(json!({
        "queue": FakeZnuny::TELEGRAM_QUEUE, "priority": "4 high", "type": "Incident",
        "dynamic_fields": {"Company": "ООО Ромашка", "TeledeskKey": "overridden"},
    }));
    d.attachments = vec![Attachment {
        file_name: "screen.png".into(),
        content_type: "IMAGE/PNG; name=screen.png".into(),
        content: vec![137, 80, 78, 71, 0, 255].into(),
    }];
    let created = znuny.create_ticket(&d).await.expect("create");
    assert_eq!(
        created.url.as_deref(),
        Some(
            format!(
                "{}?Action=AgentTicketZoom;TicketID={}",
                fake.url()
                    .replace("/nph-genericinterface.pl/Webservice/teledesk", "/index.pl"),
                created.id
            )
            .as_str()
        )
    );
    let ticket = fake.ticket(id_of(&created)).expect("stored");
    assert_eq!(ticket.number, created.number);
    assert_eq!(ticket.title, "Не печатает принтер");
    assert_eq!(ticket.queue, FakeZnuny::TELEGRAM_QUEUE);
    assert_eq!(ticket.priority, "4 high");
    assert_eq!(ticket.ticket_type, "Incident");
    assert_eq!(ticket.state, "new");
    assert_eq!(ticket.customer_user, FakeZnuny::CUSTOMER_USER);
    assert_eq!(ticket.owner, "root@localhost");
    assert_eq!(
        ticket.dynamic_fields.get("TeledeskKey"),
        Some(&json!("tg:-1001234567890:3")),
        "the configured key field wins over a chat default of the same name"
    );
    assert_eq!(
        ticket.dynamic_fields.get("Company"),
        Some(&json!("ООО Ромашка"))
    );
    let articles = fake.articles(id_of(&created));
    assert_eq!(articles.len(), 1);
    let first = &articles[0];
    assert_eq!(
        (
            first.sender_type.as_str(),
            first.channel.as_str(),
            first.visible
        ),
        ("customer", "Phone", true)
    );
    assert_eq!(first.create_by, FakeZnuny::AGENT_ID);
    assert_eq!(
        first.body,
        "Принтер в бухгалтерии не печатает.\n\n---\n\
         Telegram: Анна Смирнова (@anna), id 555001, ООО Ромашка\n\
         Registered (UTC): 2026-11-21T11:58:00.5Z\n\
         Source: https://t.me/c/1234567890/3\n\
         tg-key: tg:-1001234567890:3"
    );
    assert_eq!(first.attachments.len(), 1);
    assert_eq!(first.attachments[0].content_type, "image/png");
    assert_eq!(first.attachments[0].bytes, [137, 80, 78, 71, 0, 255]);

    let read = znuny.get_ticket(&created.id).await.expect("get");
    assert_eq!(read.description, "Принтер в бухгалтерии не печатает.");
    assert!(read.comments.is_empty(), "the description is not a comment");
    assert_eq!(read.status, StatusClass::New);
    assert_eq!(read.assignee, None);
}

#[tokio::test]
async fn without_a_key_field_a_retried_create_finds_its_ticket_by_the_marker() {
    let fake = FakeZnuny::start().await;
    let znuny = adapter_with(&fake, json!({}));
    assert!(!znuny.capability().native_idempotency);
    // Someone else's ticket with a similar text must not be taken for ours.
    fake.staff_create_ticket(
        FakeZnuny::STAFF_LOGIN,
        "Не печатает принтер",
        "tg-key: tg:-1001234567890:40",
    );
    let first = znuny.create_ticket(&draft(4)).await.expect("create");
    znuny.create_ticket(&draft(5)).await.expect("another");
    let mut again = draft(4);
    again.retry = true;
    assert_eq!(znuny.create_ticket(&again).await.expect("retry"), first);
    let creates = fake
        .calls()
        .iter()
        .filter(|c| c.operation.as_deref() == Some("TicketCreate"))
        .count();
    assert_eq!(creates, 2, "the retry created nothing");

    // A retry of a create that never reached Znuny creates it.
    let mut lost = draft(40);
    lost.retry = true;
    let created = znuny.create_ticket(&lost).await.expect("create on retry");
    assert_ne!(created, first);
    assert_eq!(fake.tickets().len(), 4);
}

#[tokio::test]
async fn client_comments_keep_files_byte_exact_and_name_empty_ones() {
    let fake = FakeZnuny::start().await;
    let znuny = adapter(&fake);
    let created = znuny.create_ticket(&draft(6)).await.expect("create");
    let bytes: Vec<u8> = (0..=255u8).chain([13, 10, 0]).collect();
    let files = vec![
        Attachment {
            file_name: "отчёт.bin".into(),
            content_type: "application/octet-stream".into(),
            content: bytes.clone().into(),
        },
        Attachment {
            file_name: "empty.txt".into(),
            content_type: "text/plain".into(),
            content: Vec::new().into(),
        },
    ];
    let id = znuny
        .add_comment(
            &created.id,
            &CommentDraft {
                attachments: files,
                ..samples::comment(7, "")
            },
        )
        .await
        .expect("comment");
    let stored = fake
        .articles(id_of(&created))
        .into_iter()
        .find(|a| a.id.to_string() == id.0)
        .expect("stored");
    assert!(stored.body.contains("(empty file not attached: empty.txt)"));
    assert_eq!(stored.attachments.len(), 1);
    let ticket = znuny.get_ticket(&created.id).await.expect("get");
    let read = ticket
        .comments
        .iter()
        .find(|c| c.id == id)
        .expect("read back");
    assert_eq!(read.origin, Origin::Teledesk);
    assert_eq!(
        read.body, "",
        "only the file-less header and footer were teledesk's"
    );
    let file = znuny
        .download(&read.attachments[0])
        .await
        .expect("download");
    assert_eq!(file.file_name, "отчёт.bin");
    assert_eq!(file.content.read_all().await.unwrap(), bytes);
    let get = fake
        .calls()
        .into_iter()
        .rev()
        .find(|c| c.operation.as_deref() == Some("TicketGet"))
        .expect("a download call");
    assert!(get.query.contains("ArticleSenderType=customer"), "{get:?}");
    assert!(get.query.contains("GetAttachmentContents=1"), "{get:?}");

    let gone = AttachmentRef {
        id: format!("{}:{}:9:customer", created.id, id),
        file_name: "x".into(),
        content_type: None,
        size: None,
        url: None,
    };
    assert_eq!(
        znuny.download(&gone).await.expect_err("no file 9").kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn polling_sees_same_second_changes_of_teledesk_tickets_only() {
    let fake = FakeZnuny::start().await;
    let znuny = adapter(&fake);
    // Every write below happens in one second of Znuny's clock.
    fake.freeze_clock(Some(OffsetDateTime::now_utc()));
    let start = Cursor::starting_at(OffsetDateTime::now_utc() - Duration::from_secs(5));
    let created = znuny.create_ticket(&draft(8)).await.expect("create");
    let staff_ticket = fake.staff_create_ticket(FakeZnuny::STAFF_LOGIN, "Staff's own", "text");
    let first = znuny.changes_since(&start).await.expect("poll");
    assert_eq!(
        samples::changed_ids(&first),
        [created.id.0.as_str()],
        "staff ticket {staff_ticket} is not teledesk's"
    );
    let quiet = znuny.changes_since(&first.cursor).await.expect("poll");
    assert!(quiet.changes.is_empty(), "{:?}", quiet.changes);
    fake.internal_note(id_of(&created), FakeZnuny::STAFF_LOGIN, "Смотрю");
    let noted = znuny.changes_since(&quiet.cursor).await.expect("poll");
    assert_eq!(noted.changes.len(), 1);
    fake.set_state(id_of(&created), "open");
    let opened = znuny.changes_since(&noted.cursor).await.expect("poll");
    assert_eq!(opened.changes.len(), 1);
    let again = znuny.changes_since(&opened.cursor).await.expect("poll");
    assert!(again.changes.is_empty());
    let changed: Vec<String> = fake.tickets().into_iter().map(|t| t.changed).collect();
    assert!(
        changed.windows(2).all(|w| w[0] == w[1]),
        "one second: {changed:?}"
    );

    let search = fake
        .calls()
        .into_iter()
        .find(|c| c.operation.as_deref() == Some("TicketSearch"))
        .expect("searched");
    assert_eq!(search.method, "POST");
    let body = search.body.expect("a JSON body");
    let asked = body["TicketLastChangeTimeNewerDate"]
        .as_str()
        .expect("a date");
    let expected = (start.since.expect("since") - Duration::from_secs(2)).to_offset(offset!(+3));
    assert_eq!(
        asked,
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            expected.year(),
            u8::from(expected.month()),
            expected.day(),
            expected.hour(),
            expected.minute(),
            expected.second()
        ),
        "the search date is naive local time of the server"
    );
    assert_eq!(
        body["CreatedUserIDs"],
        json!([FakeZnuny::AGENT_ID.to_string()])
    );
    assert_eq!(body["SortBy"], "Changed");
}

/// A ticket staff started is reported once they address it (the chat field set), and its later
/// changes are too; a staff ticket not addressed stays none of teledesk's business. The second
/// search runs only where `chat_field` is configured.
#[tokio::test]
async fn polling_sees_tickets_staff_addressed_to_a_chat() {
    let fake = FakeZnuny::start().await;
    let znuny = adapter_with(
        &fake,
        json!({
            "idempotency_field": FakeZnuny::KEY_FIELD,
            "chat_field": FakeZnuny::CHAT_FIELD,
            "announcement_field": FakeZnuny::ANNOUNCEMENT_FIELD,
        }),
    );
    let start = Cursor::starting_at(OffsetDateTime::now_utc() - Duration::from_secs(5));
    let internal = fake.staff_create_ticket(FakeZnuny::STAFF_LOGIN, "Внутреннее", "text");
    let notice = fake.staff_create_ticket(FakeZnuny::STAFF_LOGIN, "Плановые работы", "text");
    let first = znuny.changes_since(&start).await.expect("poll");
    assert!(
        first.changes.is_empty(),
        "nothing addressed yet: {:?}",
        first.changes
    );
    fake.set_dynamic_field(notice, FakeZnuny::CHAT_FIELD, json!("Acme"));
    let addressed = znuny.changes_since(&first.cursor).await.expect("poll");
    assert_eq!(samples::changed_ids(&addressed), [notice.to_string()]);
    let ticket = znuny
        .get_ticket(&TicketId(notice.to_string()))
        .await
        .expect("read");
    assert_eq!(
        ticket.addressed_to.map(|a| (a.chat, a.announcement)),
        Some(("Acme".to_owned(), false))
    );
    let quiet = znuny.changes_since(&addressed.cursor).await.expect("poll");
    assert!(quiet.changes.is_empty(), "{:?}", quiet.changes);
    fake.staff_reply(notice, FakeZnuny::STAFF_LOGIN, "Начнём в 10:00");
    fake.staff_reply(internal, FakeZnuny::STAFF_LOGIN, "Только для нас");
    let replied = znuny.changes_since(&quiet.cursor).await.expect("poll");
    assert_eq!(samples::changed_ids(&replied), [notice.to_string()]);

    let searches: Vec<Value> = fake
        .calls()
        .into_iter()
        .filter(|c| c.operation.as_deref() == Some("TicketSearch"))
        .filter_map(|c| c.body)
        .collect();
    assert_eq!(searches.len(), 8, "two searches a poll");
    assert!(searches.iter().any(|body| {
        body["DynamicField_TelegramChat"] == json!({"Empty": 0})
            && body.get("CreatedUserIDs").is_none()
    }));
    // Without chat_field, one search a poll, as before.
    let plain = adapter(&fake);
    let before = fake.calls().len();
    plain.changes_since(&replied.cursor).await.expect("poll");
    let searched = fake.calls()[before..]
        .iter()
        .filter(|c| c.operation.as_deref() == Some("TicketSearch"))
        .count();
    assert_eq!(searched, 1);
}

/// When the search for addressed tickets is cut at its limit (500), the poll reports nothing
/// newer than the last ticket it saw, so teledesk's own newer change cannot carry the cursor over
/// the addressed tickets the limit held back; the next poll reports those.
#[tokio::test]
async fn a_full_search_holds_the_cursor_for_the_rest() {
    let fake = FakeZnuny::start().await;
    let znuny = adapter_with(
        &fake,
        json!({
            "idempotency_field": FakeZnuny::KEY_FIELD,
            "chat_field": FakeZnuny::CHAT_FIELD,
        }),
    );
    let start = Cursor::starting_at(OffsetDateTime::now_utc() - Duration::from_secs(5));
    let t0 = OffsetDateTime::now_utc();
    let mut addressed = Vec::new();
    for second in 0..510 {
        fake.freeze_clock(Some(t0 + Duration::from_secs(second)));
        let id = fake.staff_create_ticket(FakeZnuny::STAFF_LOGIN, "Уведомление", "text");
        fake.set_dynamic_field(id, FakeZnuny::CHAT_FIELD, json!("Acme"));
        addressed.push(id.to_string());
    }
    fake.freeze_clock(Some(t0 + Duration::from_secs(600)));
    let own = znuny.create_ticket(&draft(9)).await.expect("create");
    let mut reported = std::collections::BTreeSet::new();
    let first = znuny.changes_since(&start).await.expect("poll");
    reported.extend(samples::changed_ids(&first).into_iter().map(str::to_owned));
    assert_eq!(reported.len(), 500, "the addressed search's first 500 only");
    assert!(
        !reported.contains(own.id.0.as_str()),
        "held back: newer than the cut"
    );
    let second = znuny.changes_since(&first.cursor).await.expect("poll");
    reported.extend(samples::changed_ids(&second).into_iter().map(str::to_owned));
    let mut expected: std::collections::BTreeSet<String> = addressed.into_iter().collect();
    expected.insert(own.id.0.clone());
    assert_eq!(reported, expected);
}

#[tokio::test]
async fn a_first_poll_starts_now() {
    let fake = FakeZnuny::start().await;
    let znuny = adapter(&fake);
    znuny.create_ticket(&draft(9)).await.expect("create");
    let batch = znuny.changes_since(&Cursor::default()).await.expect("poll");
    assert!(batch.changes.is_empty());
    assert!(batch.cursor.since.is_some());
}

#[tokio::test]
async fn times_follow_the_configured_offset() {
    let fake = FakeZnuny::start_with_offset(offset!(-5:30)).await;
    let right = adapter_with(&fake, json!({"timezone": "-05:30"}));
    let created = right.create_ticket(&draft(10)).await.expect("create");
    let ticket = right.get_ticket(&created.id).await.expect("get");
    let skew = (ticket.updated_at - OffsetDateTime::now_utc()).abs();
    assert!(skew < time::Duration::minutes(1), "{skew}");
    // Left at the default, the naive times read 5.5 hours off: the reason `timezone` exists.
    let wrong = adapter_with(&fake, json!({}));
    let ticket = wrong.get_ticket(&created.id).await.expect("get");
    let skew = (ticket.updated_at - OffsetDateTime::now_utc()).abs();
    assert!(skew > time::Duration::hours(5), "{skew}");
}

#[tokio::test]
async fn set_status_uses_pending_times_and_reopens_for_client_replies() {
    let fake = FakeZnuny::start().await;
    let znuny = adapter(&fake);
    let created = znuny.create_ticket(&draft(11)).await.expect("create");
    let id = id_of(&created);
    znuny
        .set_status(&created.id, StatusClass::WaitingClient)
        .await
        .expect("pending");
    assert_eq!(fake.ticket(id).expect("t").state, "pending reminder");
    let update = fake
        .calls()
        .into_iter()
        .rev()
        .find(|c| c.operation.as_deref() == Some("TicketUpdate"))
        .expect("updated");
    assert_eq!(
        update.body.expect("body")["Ticket"],
        json!({"State": "pending reminder", "PendingTime": {"Diff": 1440}})
    );
    znuny
        .set_status(&created.id, StatusClass::ClientReplied)
        .await
        .expect("client replied");
    assert_eq!(fake.ticket(id).expect("t").state, "open");
    let err = znuny
        .set_status(&created.id, StatusClass::WaitingThirdParty)
        .await
        .expect_err("no such state");
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let missing = znuny
        .set_status(&TicketId("999999".into()), StatusClass::InProgress)
        .await
        .expect_err("missing");
    assert_eq!(missing.kind(), ErrorKind::NotFound);

    let mapped = adapter_with(
        &fake,
        json!({"statuses": {"pending auto close-": "waiting_third_party"}}),
    );
    mapped
        .set_status(&created.id, StatusClass::WaitingThirdParty)
        .await
        .expect("mapped");
    assert_eq!(fake.ticket(id).expect("t").state, "pending auto close-");
}

#[tokio::test]
async fn escalation_climbs_the_ladder_once_per_key() {
    let fake = FakeZnuny::start().await;
    let znuny = adapter(&fake);
    let created = znuny.create_ticket(&draft(12)).await.expect("create");
    let id = id_of(&created);
    let outcome = znuny
        .escalate(&created.id, &note("tg:1:1", "Эскалация"))
        .await
        .expect("escalate");
    assert_eq!(
        outcome,
        Escalation::PriorityRaised {
            to: "4 high".into()
        }
    );
    let mut retried = note("tg:1:1", "Эскалация");
    retried.retry = true;
    assert_eq!(
        znuny.escalate(&created.id, &retried).await.expect("retry"),
        outcome
    );
    assert_eq!(fake.ticket(id).expect("t").priority, "4 high");
    let notes: Vec<_> = fake
        .articles(id)
        .into_iter()
        .filter(|a| a.body.contains("Эскалация"))
        .collect();
    assert_eq!(notes.len(), 1);
    assert!(!notes[0].visible);
    assert!(notes[0].body.contains("Priority: 3 normal → 4 high"));

    znuny
        .escalate(&created.id, &note("tg:1:2", "Ещё"))
        .await
        .expect("to the top");
    assert_eq!(
        znuny
            .escalate(&created.id, &note("tg:1:3", "И ещё"))
            .await
            .expect("at the top"),
        Escalation::AlreadyHighest
    );
    assert_eq!(fake.ticket(id).expect("t").priority, "5 very high");

    let ladder = adapter_with(&fake, json!({"priorities": ["P3", "P2", "P1"]}));
    assert_eq!(
        ladder
            .escalate(&created.id, &note("tg:1:4", "Чужая шкала"))
            .await
            .expect("note only"),
        Escalation::NoteOnly
    );
}

#[tokio::test]
async fn staff_work_reads_back_with_names_visibility_and_resolution() {
    let fake = FakeZnuny::start().await;
    let znuny = adapter_with(
        &fake,
        json!({"idempotency_field": FakeZnuny::KEY_FIELD,
               "resolution_field": FakeZnuny::RESOLUTION_FIELD}),
    );
    let created = znuny.create_ticket(&draft(13)).await.expect("create");
    let id = id_of(&created);
    fake.assign(id, FakeZnuny::STAFF_LOGIN);
    fake.staff_reply_with_file(id, FakeZnuny::STAFF_LOGIN, "Патч", "fix.bin", vec![1, 2, 3]);
    fake.internal_note(id, FakeZnuny::STAFF_LOGIN, "секрет");
    znuny
        .add_internal_note(&created.id, &note("tg:2:1", "Не доставлено"))
        .await
        .expect("note");
    let ticket = znuny.get_ticket(&created.id).await.expect("get");
    assert_eq!(ticket.assignee.as_deref(), Some(FakeZnuny::STAFF_LOGIN));
    let summary: Vec<(&str, Visibility, Origin, &str)> = ticket
        .comments
        .iter()
        .map(|c| (c.body.as_str(), c.visibility, c.origin, c.author.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "Патч",
                Visibility::Public,
                Origin::Staff,
                FakeZnuny::STAFF_NAME
            ),
            (
                "секрет",
                Visibility::Internal,
                Origin::Staff,
                FakeZnuny::STAFF_NAME
            ),
            (
                "Не доставлено",
                Visibility::Internal,
                Origin::Teledesk,
                "teledesk bot"
            ),
        ]
    );
    assert_eq!(ticket.comments[0].attachments[0].size, Some(3));

    fake.resolve(id, FakeZnuny::STAFF_LOGIN, "Закрываю");
    assert_eq!(
        znuny
            .get_ticket(&created.id)
            .await
            .expect("get")
            .resolution
            .as_deref(),
        Some("Закрываю"),
        "without the field, the closing answer"
    );
    fake.set_dynamic_field(id, FakeZnuny::RESOLUTION_FIELD, json!("Заменили картридж"));
    let ticket = znuny.get_ticket(&created.id).await.expect("get");
    assert_eq!(ticket.status, StatusClass::Closed);
    assert_eq!(ticket.resolution.as_deref(), Some("Заменили картридж"));
    // Closing unlocks, but the owner who took the ticket stays its assignee.
    assert_eq!(fake.ticket(id).expect("t").lock, "unlock");
    assert_eq!(ticket.assignee.as_deref(), Some(FakeZnuny::STAFF_LOGIN));
}

#[tokio::test]
async fn webhooks_need_the_shared_secret() {
    let fake = FakeZnuny::start().await;
    let body = include_bytes!("../../../fixtures/znuny/webhook_article_create.json").to_vec();
    let basic = |password: &str| {
        (
            "authorization".to_owned(),
            format!("Basic {}", BASE64.encode(format!("znuny:{password}"))),
        )
    };
    let request = |headers: Vec<(String, String)>| WebhookRequest {
        headers,
        body: body.clone(),
    };

    let plain = adapter(&fake);
    assert!(!plain.capability().webhook);
    assert_eq!(
        plain
            .parse_webhook(&request(vec![basic("s3cret")]))
            .expect_err("no secret configured")
            .kind(),
        ErrorKind::Unsupported
    );

    let znuny = adapter_with(&fake, json!({"webhook_secret": "s3cret"}));
    assert!(znuny.capability().webhook);
    assert!(!znuny.capability().webhook_signed);
    assert_eq!(
        znuny
            .parse_webhook(&request(vec![basic("s3cret")]))
            .expect("valid"),
        [TicketId("4012".into())]
    );
    for headers in [
        vec![],
        vec![basic("wrong")],
        vec![("authorization".into(), "Bearer s3cret".into())],
    ] {
        let err = znuny.parse_webhook(&request(headers)).expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    }
    let junk = WebhookRequest {
        headers: vec![basic("s3cret")],
        body: b"{\"Event\": {}}".to_vec(),
    };
    assert_eq!(
        znuny.parse_webhook(&junk).expect_err("no id").kind(),
        ErrorKind::InvalidInput
    );
}

#[tokio::test]
async fn invalid_defaults_are_reported_before_any_call() {
    let fake = FakeZnuny::start().await;
    let znuny = adapter(&fake);
    let mut d = draft(14);
    d.defaults = samples::table(json!({"board_id": 5}));
    let err = znuny.create_ticket(&d).await.expect_err("invalid");
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert!(fake.calls().is_empty());
    d.defaults = samples::table(json!({"queue": "Nowhere"}));
    let err = znuny.create_ticket(&d).await.expect_err("unknown queue");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.message().contains("TicketCreate.InvalidParameter"),
        "{err}"
    );
}
