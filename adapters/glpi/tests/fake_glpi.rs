//! The real adapter against `teledesk_testkit::glpi::FakeGlpi`: sessions, idempotency, reading
//! back, polling, and the error classes the daemon's retry logic relies on.

use serde_json::{Value, json};
use teledesk_adapter::{
    ConfigTable, Cursor, ErrorKind, Escalation, Helpdesk, Origin, Rating, RatingStored,
    StatusClass, TicketId, Visibility, WebhookRequest,
};
use teledesk_glpi::GlpiAdapter;
use teledesk_testkit::glpi::FakeGlpi;
use teledesk_testkit::samples::{self, comment, draft, file, note};
use time::OffsetDateTime;

fn table(fake: &FakeGlpi, extra: Value) -> ConfigTable {
    samples::table_with(
        json!({
            "kind": "glpi",
            "poll_interval": "5s",
            "url": fake.url(),
            "user_token": fake.user_token(),
            "app_token": fake.app_token(),
            "timezone": FakeGlpi::TIMEZONE,
            "requests_per_second": 100,
        }),
        extra,
    )
}

fn adapter_with(fake: &FakeGlpi, extra: Value) -> GlpiAdapter {
    GlpiAdapter::from_config(&table(fake, extra)).expect("valid config")
}

fn adapter(fake: &FakeGlpi) -> GlpiAdapter {
    adapter_with(fake, json!({}))
}

fn id_of(ticket: &TicketId) -> i64 {
    ticket.0.parse().expect("numeric ticket id")
}

fn count(fake: &FakeGlpi, method: &str, path: &str) -> usize {
    fake.calls()
        .iter()
        .filter(|c| c.method == method && c.path == format!("/apirest.php{path}"))
        .count()
}

#[tokio::test]
async fn check_names_the_integration_user() {
    let fake = FakeGlpi::start().await;
    let identity = adapter(&fake).check().await.expect("check");
    assert_eq!(identity.id, "7");
    assert_eq!(identity.name, "teledesk bot");
}

#[tokio::test]
async fn create_ticket_applies_defaults_and_uploads_files_byte_exact() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter_with(&fake, json!({"entities_id": 1}));
    let mut d = draft(42);
    d.attachments = vec![file("photo.jpg", 1), file("акт сверки.pdf", 2)];
    d.defaults = samples::table(
        json!({"itilcategories_id": 5, "type": 2, "urgency": 4, "_users_id_assign": 10}),
    );
    let created = glpi.create_ticket(&d).await.expect("create");
    let id = id_of(&created.id);
    assert_eq!(created.number, id.to_string());
    assert_eq!(
        created.url,
        Some(format!(
            "{}/front/ticket.form.php?id={id}",
            fake.url().trim_end_matches("/apirest.php")
        ))
    );
    let ticket = fake.ticket(id).expect("ticket");
    assert_eq!(ticket.name, "Не печатает принтер");
    assert_eq!(
        (
            ticket.entities_id,
            ticket.itilcategories_id,
            ticket.ticket_type
        ),
        (1, 5, 2)
    );
    assert_eq!((ticket.urgency, ticket.priority), (4, 4));
    assert_eq!(ticket.status, 2, "an assigned ticket is processing");
    assert_eq!(ticket.users_id_recipient, FakeGlpi::INTEGRATION_USER_ID);
    for needle in [
        "Анна Смирнова (@anna), id 555001, ООО Ромашка",
        "2026-11-21T11:58:00Z",
        "https://t.me/c/1234567890/42",
        "tg-key: tg:-1001234567890:42",
    ] {
        assert!(
            ticket.content.contains(needle),
            "{needle}: {}",
            ticket.content
        );
    }
    let documents = fake.documents_of("Ticket", id);
    assert_eq!(documents.len(), 2);
    for (document, sent) in documents.iter().zip(&d.attachments) {
        assert_eq!(document.filename, sent.file_name);
        assert!(
            document.bytes == teledesk_testkit::samples::bytes_of(sent),
            "{} is byte-exact",
            sent.file_name
        );
    }
}

#[tokio::test]
async fn create_with_retry_finds_the_ticket_and_completes_its_files() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    // The first attempt got the ticket through but crashed before its files.
    let first = glpi.create_ticket(&draft(42)).await.expect("create");
    let mut again = draft(42);
    again.retry = true;
    again.attachments = vec![file("photo.jpg", 1)];
    let found = glpi.create_ticket(&again).await.expect("retry");
    assert_eq!(found.id, first.id);
    assert_eq!(fake.tickets().len(), 1);
    assert_eq!(fake.documents_of("Ticket", id_of(&first.id)).len(), 1);
    // A further retry finds the file too.
    glpi.create_ticket(&again).await.expect("retry");
    assert_eq!(fake.documents_of("Ticket", id_of(&first.id)).len(), 1);
}

#[tokio::test]
async fn create_with_retry_matches_the_exact_key_only() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    let longer = glpi.create_ticket(&draft(45)).await.expect("create");
    let mut shorter = draft(4);
    shorter.retry = true;
    let created = glpi.create_ticket(&shorter).await.expect("create");
    assert_ne!(created.id, longer.id, "tg:…:4 is not tg:…:45");
    assert_eq!(fake.tickets().len(), 2);
}

#[tokio::test]
async fn follow_up_is_linked_once() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    let original = glpi.create_ticket(&draft(1)).await.expect("create");
    let mut follow = draft(2);
    follow.follow_up_of = Some(original.clone());
    let created = glpi.create_ticket(&follow).await.expect("follow-up");
    follow.retry = true;
    glpi.create_ticket(&follow).await.expect("retry");
    assert_eq!(fake.links(), [(id_of(&created.id), id_of(&original.id), 1)]);
    let content = fake.ticket(id_of(&created.id)).expect("ticket").content;
    assert!(
        content.contains(&format!("#{}", original.number)),
        "{content}"
    );
}

#[tokio::test]
async fn comments_are_public_marked_and_idempotent_with_their_files() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    let ticket = glpi.create_ticket(&draft(42)).await.expect("create");
    let first = glpi
        .add_comment(&ticket.id, &comment(43, "Вот лог"))
        .await
        .expect("comment");
    let mut retried = comment(43, "Вот лог");
    retried.retry = true;
    retried.attachments = vec![file("log.txt", 3)];
    let again = glpi.add_comment(&ticket.id, &retried).await.expect("retry");
    assert_eq!(again, first);
    let followups = fake.followups(id_of(&ticket.id));
    assert_eq!(followups.len(), 1);
    assert!(!followups[0].is_private);
    assert_eq!(followups[0].users_id, FakeGlpi::INTEGRATION_USER_ID);
    let documents = fake.documents_of("ITILFollowup", followups[0].id);
    assert_eq!(documents.len(), 1, "the retry attached the missing file");
    assert!(documents[0].bytes == teledesk_testkit::samples::bytes_of(&retried.attachments[0]));
}

#[tokio::test]
async fn get_ticket_tells_public_internal_own_and_requester_apart() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    let created = glpi.create_ticket(&draft(42)).await.expect("create");
    let id = id_of(&created.id);
    glpi.add_comment(&created.id, &comment(43, "Вопрос клиента"))
        .await
        .expect("comment");
    fake.internal_note(id, "Пётр Сидоров", "<p>Не звонить до обеда</p>");
    fake.staff_reply_with_file(
        id,
        "Пётр Сидоров",
        "<p>Проверьте &amp; ответьте</p>",
        "fix.bin",
        vec![0, 255, 13, 10],
    );
    fake.requester_reply(id, "<p>От имени учётки интеграции</p>");
    let ticket = glpi.get_ticket(&created.id).await.expect("get");
    assert_eq!(ticket.subject, "Не печатает принтер");
    assert_eq!(ticket.description, "Принтер в бухгалтерии не печатает.");
    assert_eq!(ticket.status, StatusClass::New);
    assert_eq!(ticket.state, "New");
    let kinds: Vec<(Visibility, Origin, &str)> = ticket
        .comments
        .iter()
        .map(|c| (c.visibility, c.origin, c.body.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (Visibility::Public, Origin::Teledesk, "Вопрос клиента"),
            (Visibility::Internal, Origin::Staff, "Не звонить до обеда"),
            (Visibility::Public, Origin::Staff, "Проверьте & ответьте"),
            // The integration account is the requester here, so its followups are teledesk's.
            (
                Visibility::Public,
                Origin::Teledesk,
                "От имени учётки интеграции"
            ),
        ]
    );
    assert_eq!(ticket.comments[2].author, "Пётр Сидоров");
    assert!(
        ticket
            .comments
            .iter()
            .all(|c| c.created_at.offset().is_utc())
    );
    let reference = &ticket.comments[2].attachments[0];
    assert_eq!(reference.file_name, "fix.bin");
    let downloaded = glpi.download(reference).await.expect("download");
    assert_eq!(
        downloaded.content.read_all().await.unwrap(),
        vec![0, 255, 13, 10]
    );
    assert_eq!(downloaded.file_name, "fix.bin");
}

#[tokio::test]
async fn a_requesters_own_portal_reply_is_origin_requester() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    let mut d = draft(42);
    d.defaults = samples::table(json!({"_users_id_requester": 10}));
    let created = glpi.create_ticket(&d).await.expect("create");
    fake.requester_reply(id_of(&created.id), "<p>Это я, клиент</p>");
    let ticket = glpi.get_ticket(&created.id).await.expect("get");
    assert_eq!(ticket.comments[0].origin, Origin::Requester);
}

#[tokio::test]
async fn status_assignee_and_resolution_are_read_back() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter_with(&fake, json!({"statuses": {"3": "waiting_third_party"}}));
    let created = glpi.create_ticket(&draft(42)).await.expect("create");
    let id = id_of(&created.id);
    fake.assign(id, "Пётр Сидоров");
    let ticket = glpi.get_ticket(&created.id).await.expect("get");
    assert_eq!(ticket.assignee.as_deref(), Some("Пётр Сидоров"));
    assert_eq!(ticket.status, StatusClass::InProgress);
    fake.set_status(id, 3);
    assert_eq!(
        glpi.get_ticket(&created.id).await.expect("get").status,
        StatusClass::WaitingThirdParty
    );
    fake.resolve(id, "Пётр Сидоров", "<p>Заменили картридж</p>");
    let ticket = glpi.get_ticket(&created.id).await.expect("get");
    assert_eq!(ticket.status, StatusClass::Resolved);
    assert_eq!(ticket.resolution.as_deref(), Some("Заменили картридж"));
    glpi.reopen(&created.id).await.expect("reopen");
    let ticket = glpi.get_ticket(&created.id).await.expect("get");
    assert_eq!(ticket.status, StatusClass::InProgress);
    assert_eq!(ticket.resolution, None, "the refused solution is not shown");
}

#[tokio::test]
async fn set_status_uses_the_statuses_table() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter_with(&fake, json!({"statuses": {"3": "waiting_third_party"}}));
    let created = glpi.create_ticket(&draft(42)).await.expect("create");
    glpi.set_status(&created.id, StatusClass::WaitingThirdParty)
        .await
        .expect("set");
    assert_eq!(fake.ticket(id_of(&created.id)).expect("ticket").status, 3);
    glpi.set_status(&created.id, StatusClass::WaitingClient)
        .await
        .expect("set");
    assert_eq!(fake.ticket(id_of(&created.id)).expect("ticket").status, 4);
    let error = glpi
        .set_status(&created.id, StatusClass::ClientReplied)
        .await
        .expect_err("no state for client_replied");
    assert_eq!(error.kind(), ErrorKind::Unsupported);
}

#[tokio::test]
async fn an_expired_session_is_replaced_without_an_error() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    let created = glpi.create_ticket(&draft(42)).await.expect("create");
    fake.expire_sessions();
    glpi.get_ticket(&created.id)
        .await
        .expect("re-authenticated");
    assert_eq!(count(&fake, "GET", "/initSession"), 2);
    let refused = fake.calls().iter().filter(|c| c.status == 401).count();
    assert_eq!(refused, 1, "one call met the expired session");
}

#[tokio::test]
async fn bad_credentials_are_permanent_permission_errors() {
    let fake = FakeGlpi::start().await;
    let wrong_token = adapter_with(&fake, json!({"user_token": "not-a-token"}));
    let error = wrong_token.check().await.expect_err("401");
    assert_eq!(error.kind(), ErrorKind::PermissionDenied);
    assert!(!error.is_temporary());
    assert!(
        error.message().contains("ERROR_GLPI_LOGIN_USER_TOKEN"),
        "{error}"
    );
    assert!(!error.message().contains("not-a-token"));
    let mut no_app_token = table(&fake, json!({}));
    no_app_token.remove("app_token");
    let error = GlpiAdapter::from_config(&no_app_token)
        .expect("valid")
        .check()
        .await
        .expect_err("400");
    assert_eq!(error.kind(), ErrorKind::PermissionDenied);
    assert!(
        error
            .message()
            .contains("ERROR_APP_TOKEN_PARAMETERS_MISSING")
    );
}

#[tokio::test]
async fn outages_are_temporary_and_missing_tickets_are_not() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    glpi.check().await.expect("check");
    fake.set_outage(true);
    let error = glpi
        .get_ticket(&TicketId("1".into()))
        .await
        .expect_err("503");
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.is_temporary());
    assert!(error.message().len() < 320);
    fake.set_outage(false);
    fake.fail_next(1, 429);
    let error = glpi.check().await.expect_err("429");
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert_eq!(error.retry_after(), Some(std::time::Duration::from_secs(1)));
    let error = glpi
        .get_ticket(&TicketId("424242".into()))
        .await
        .expect_err("404");
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(!error.is_temporary());
    let error = glpi
        .get_ticket(&TicketId("abc".into()))
        .await
        .expect_err("not an id");
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn changes_since_starts_now_and_reports_each_change_once() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    let first = glpi
        .changes_since(&Cursor::default())
        .await
        .expect("first poll");
    assert!(first.changes.is_empty());
    assert!(first.cursor.since.is_some());
    let created = glpi.create_ticket(&draft(42)).await.expect("create");
    let start = Cursor::starting_at(OffsetDateTime::now_utc() - std::time::Duration::from_secs(5));
    let batch = glpi.changes_since(&start).await.expect("poll");
    assert_eq!(
        batch.changes.iter().map(|c| &c.ticket).collect::<Vec<_>>(),
        [&created.id]
    );
    assert!(batch.changes[0].updated_at.offset().is_utc());
    let again = glpi.changes_since(&batch.cursor).await.expect("poll");
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    let search = fake
        .calls()
        .into_iter()
        .rfind(|c| c.path == "/apirest.php/search/Ticket")
        .expect("a search");
    assert!(
        search
            .query
            .contains("criteria%5B0%5D%5Bsearchtype%5D=morethan"),
        "{}",
        search.query
    );
}

#[tokio::test]
async fn changes_within_one_second_are_each_reported() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    let now = OffsetDateTime::now_utc();
    fake.pin_clock(Some(now));
    let created = glpi.create_ticket(&draft(42)).await.expect("create");
    let id = id_of(&created.id);
    let start = Cursor::starting_at(now - std::time::Duration::from_secs(5));
    let mut cursor = glpi.changes_since(&start).await.expect("poll").cursor;
    let date_mod = fake.ticket(id).expect("ticket").date_mod;
    for what in [
        "a staff reply",
        "a status change",
        "an assignment",
        "an internal note",
    ] {
        match what {
            "a staff reply" => {
                fake.staff_reply(id, "Пётр Сидоров", "<p>Смотрим</p>");
            }
            "a status change" => fake.set_status(id, 4),
            "an assignment" => fake.assign(id, "Пётр Сидоров"),
            _ => {
                fake.internal_note(id, "Пётр Сидоров", "<p>Позвонить</p>");
            }
        }
        assert_eq!(
            fake.ticket(id).expect("ticket").date_mod,
            date_mod,
            "the clock is pinned"
        );
        let batch = glpi.changes_since(&cursor).await.expect("poll");
        assert_eq!(
            batch.changes.len(),
            1,
            "{what} in the same second is reported"
        );
        let quiet = glpi.changes_since(&batch.cursor).await.expect("poll");
        assert!(quiet.changes.is_empty(), "{what} is reported once");
        cursor = quiet.cursor;
    }
}

#[tokio::test]
async fn changes_since_pages_through_many_tickets() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    for n in 0..130 {
        fake.staff_create_ticket(&format!("Ticket {n}"));
    }
    let start = Cursor::starting_at(OffsetDateTime::now_utc() - std::time::Duration::from_secs(30));
    let batch = glpi.changes_since(&start).await.expect("poll");
    assert_eq!(batch.changes.len(), 130);
    assert_eq!(count(&fake, "GET", "/search/Ticket"), 2);
}

#[tokio::test]
async fn internal_notes_are_private_and_idempotent() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    let created = glpi.create_ticket(&draft(42)).await.expect("create");
    let mut n = note(50, "Ответ не доставлен в Telegram");
    let first = glpi.add_internal_note(&created.id, &n).await.expect("note");
    n.retry = true;
    assert_eq!(
        glpi.add_internal_note(&created.id, &n)
            .await
            .expect("retry"),
        first
    );
    let followups = fake.followups(id_of(&created.id));
    assert_eq!(followups.len(), 1);
    assert!(followups[0].is_private);
    let ticket = glpi.get_ticket(&created.id).await.expect("get");
    assert_eq!(ticket.comments[0].visibility, Visibility::Internal);
    assert_eq!(ticket.comments[0].origin, Origin::Teledesk);
    assert_eq!(ticket.comments[0].body, "Ответ не доставлен в Telegram");
}

#[tokio::test]
async fn escalation_raises_urgency_and_priority_once() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    let created = glpi.create_ticket(&draft(42)).await.expect("create");
    let id = id_of(&created.id);
    let mut n = note(60, "Эскалация");
    assert_eq!(
        glpi.escalate(&created.id, &n).await.expect("escalate"),
        Escalation::PriorityRaised { to: "High".into() }
    );
    let ticket = fake.ticket(id).expect("ticket");
    assert_eq!((ticket.urgency, ticket.priority), (4, 4));
    n.retry = true;
    assert_eq!(
        glpi.escalate(&created.id, &n).await.expect("retry"),
        Escalation::PriorityRaised { to: "High".into() }
    );
    assert_eq!(fake.ticket(id).expect("ticket").priority, 4, "raised once");
    assert_eq!(fake.followups(id).len(), 1, "noted once");
    let mut top = draft(43);
    top.defaults = samples::table(json!({"priority": 5}));
    let top = glpi.create_ticket(&top).await.expect("create");
    assert_eq!(
        glpi.escalate(&top.id, &note(61, "Эскалация"))
            .await
            .expect("escalate"),
        Escalation::AlreadyHighest
    );
    assert_eq!(fake.followups(id_of(&top.id)).len(), 1);
}

fn rating(message_id: i32, score: u8, comment: Option<&str>) -> Rating {
    Rating {
        key: samples::key(message_id),
        score,
        comment: comment.map(str::to_owned),
        by: samples::requester(),
        note: format!("Оценка клиента: {score} из 5"),
        retry: false,
    }
}

#[tokio::test]
async fn ratings_and_feedback_go_to_the_satisfaction_survey() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    let created = glpi.create_ticket(&draft(42)).await.expect("create");
    let id = id_of(&created.id);
    fake.resolve(id, "Пётр Сидоров", "<p>Готово</p>");
    assert_eq!(
        glpi.rate(&created.id, &rating(70, 4, None))
            .await
            .expect("rate"),
        RatingStored::Native
    );
    assert_eq!(
        glpi.rate(&created.id, &rating(71, 4, Some("Быстро, спасибо")))
            .await
            .expect("feedback"),
        RatingStored::Native
    );
    let survey = fake.satisfaction(id).expect("a survey");
    assert_eq!(survey.satisfaction, Some(4));
    assert_eq!(survey.comment.as_deref(), Some("Быстро, спасибо"));
    assert!(fake.followups(id).is_empty());
}

#[tokio::test]
async fn a_refused_survey_answer_becomes_a_private_note() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    // Written by staff, so the integration user may not answer its survey.
    let id = fake.staff_create_ticket("Из почты");
    let ticket = TicketId(id.to_string());
    assert_eq!(
        glpi.rate(&ticket, &rating(72, 5, None))
            .await
            .expect("rate"),
        RatingStored::Note
    );
    let followups = fake.followups(id);
    assert_eq!(followups.len(), 1);
    assert!(followups[0].is_private);
    assert!(followups[0].content.contains("Оценка клиента: 5 из 5"));
}

#[tokio::test]
async fn webhooks_need_the_secret() {
    let fake = FakeGlpi::start().await;
    let body = br#"{"item":{"id":5},"event":"update"}"#.to_vec();
    let timestamp = "1795262400";
    let request = WebhookRequest {
        headers: vec![
            (
                "x-glpi-signature".into(),
                teledesk_glpi::sign_webhook("s3cret", &body, timestamp),
            ),
            ("x-glpi-timestamp".into(), timestamp.into()),
        ],
        body,
    };
    let error = adapter(&fake)
        .parse_webhook(&request)
        .expect_err("no secret configured");
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid);
    let glpi = adapter_with(&fake, json!({"webhook_secret": "s3cret"}));
    assert_eq!(
        glpi.parse_webhook(&request).expect("valid"),
        [TicketId("5".into())]
    );
}

#[tokio::test]
async fn debug_output_never_shows_credentials() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter_with(&fake, json!({"webhook_secret": "s3cret-value"}));
    glpi.check().await.expect("a session is open");
    let printed = format!("{glpi:?}");
    for secret in [
        fake.user_token(),
        fake.app_token(),
        "s3cret-value".to_owned(),
    ] {
        assert!(!printed.contains(&secret), "{printed}");
    }
    assert_eq!(fake.session_count(), 1);
}

#[tokio::test]
async fn a_retried_escalation_finishes_a_raise_that_failed_after_the_note() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter(&fake);
    let created = glpi.create_ticket(&draft(44)).await.expect("create");
    let id = id_of(&created.id);
    // The note is written, then raising the priority fails.
    fake.fail_next_method("PUT", 1, 503);
    let mut n = note(62, "Эскалация");
    let error = glpi
        .escalate(&created.id, &n)
        .await
        .expect_err("the PUT failed");
    assert!(error.is_temporary(), "{error}");
    assert_eq!(fake.ticket(id).expect("ticket").priority, 3);
    n.retry = true;
    assert_eq!(
        glpi.escalate(&created.id, &n).await.expect("retry"),
        Escalation::PriorityRaised { to: "High".into() }
    );
    let ticket = fake.ticket(id).expect("ticket");
    assert_eq!((ticket.urgency, ticket.priority), (4, 4), "raised once");
    // And a retry after everything went through changes nothing more.
    glpi.escalate(&created.id, &n).await.expect("again");
    assert_eq!(fake.ticket(id).expect("ticket").priority, 4);
    assert_eq!(fake.followups(id).len(), 1, "noted once");
}

/// Most tickets a change listing reports are nothing of teledesk's: telling so costs one request
/// (the ticket record's request source), not the five or more of a full read.
#[tokio::test]
async fn an_unaddressed_ticket_is_told_from_its_record_alone() {
    let fake = FakeGlpi::start().await;
    let glpi = adapter_with(
        &fake,
        json!({
            "chat_requesttype_id": FakeGlpi::REQUEST_TYPE_TELEGRAM,
            "announcement_requesttype_id": FakeGlpi::REQUEST_TYPE_ANNOUNCEMENT,
        }),
    );
    let staff = fake.staff_create_ticket("Printer on the 3rd floor");
    fake.staff_reply(staff, "Tech", "<p>On it</p>");
    // A session is opened once in the adapter's life, not per read.
    glpi.check().await.expect("check");
    let before = fake.calls().len();
    let probed = glpi
        .addressed_ticket(&TicketId(staff.to_string()))
        .await
        .expect("probe");
    assert!(probed.is_none());
    let calls: Vec<String> = fake.calls()[before..]
        .iter()
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    assert_eq!(
        calls,
        [format!("GET /apirest.php/Ticket/{staff}")],
        "one read of the record"
    );
}
