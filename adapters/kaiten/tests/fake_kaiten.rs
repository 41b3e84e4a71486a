//! The real adapter against `teledesk_testkit::kaiten::FakeKaiten`: conformance of every declared
//! capability, idempotency, polling, and the error classes the daemon's retry logic relies on.

use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use teledesk_adapter::{
    Cursor, DEFAULT_OVERLAP, ErrorKind, Helpdesk, Origin, StatusClass, TicketId, Visibility,
};
use teledesk_kaiten::KaitenAdapter;
use teledesk_testkit::kaiten::{FakeKaiten, StaffComment};
use teledesk_testkit::samples::{self, comment, draft, file};
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

const WAIT: Duration = Duration::from_secs(10);

fn adapter_with(fake: &FakeKaiten, extra: Value) -> KaitenAdapter {
    let mut table = samples::table_with(
        fake.helpdesk_table(),
        json!({
            "reopen_column_id": FakeKaiten::COLUMN_IN_PROGRESS,
            "resolution_property": "id_42",
            "statuses": {"103": "waiting_client", "104": "resolved"},
        }),
    );
    table.extend(extra.as_object().cloned().unwrap_or_default());
    KaitenAdapter::from_config(&table).expect("valid config")
}

fn adapter(fake: &FakeKaiten) -> KaitenAdapter {
    adapter_with(fake, json!({}))
}

fn id_of(ticket: &TicketId) -> i64 {
    ticket.0.parse().expect("numeric card id")
}

fn count(fake: &FakeKaiten, method: &str, path: &str) -> usize {
    fake.calls()
        .iter()
        .filter(|c| c.method == method && c.path == path)
        .count()
}

#[tokio::test]
async fn check_names_the_integration_user() {
    let fake = FakeKaiten::start().await;
    let identity = adapter(&fake).check().await.expect("check");
    assert_eq!(identity.id, "1");
    assert_eq!(identity.name, "teledesk bot");
}

#[tokio::test]
async fn create_ticket_places_the_card_and_uploads_files_byte_exact() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter_with(&fake, json!({"service_id": 7, "type_id": 5}));
    let mut d = draft(42);
    d.attachments = vec![file("photo.jpg", 1), file("акт сверки.pdf", 2)];
    d.defaults = samples::table(json!({"properties": {"id_7": "VIP"}, "responsible_id": 1}));
    let reference = kaiten.create_ticket(&d).await.expect("create");

    let card = fake.card(id_of(&reference.id)).expect("card exists");
    assert_eq!(reference.number, card.id.to_string());
    assert_eq!(
        reference.url,
        Some(format!("{}/space/1/card/{}", fake.url(), card.id))
    );
    assert_eq!(card.title, "Не печатает принтер");
    assert_eq!(card.external_id.as_deref(), Some("tg:-1001234567890:42"));
    assert_eq!(card.column_id, FakeKaiten::COLUMN_NEW);
    assert_eq!(card.lane_id, FakeKaiten::LANE_ID);
    assert_eq!(card.type_id, Some(5));
    assert_eq!(card.service_id, Some(7));
    assert_eq!(card.properties.get("id_7"), Some(&json!("VIP")));
    assert_eq!(card.responsible.as_deref(), Some("teledesk bot"));
    assert!(
        card.description
            .starts_with("Принтер в бухгалтерии не печатает.\n\n---\n")
    );
    assert!(
        card.description
            .contains("Анна Смирнова (@anna), id 555001, ООО Ромашка")
    );
    assert!(card.description.contains("2026-11-21T11:58:00Z"));
    assert!(card.description.contains("https://t.me/c/1234567890/42"));

    let files = fake.files(card.id);
    assert_eq!(files.len(), 2);
    for (stored, sent) in files.iter().zip(&d.attachments) {
        assert_eq!(stored.name, sent.file_name);
        assert_eq!(stored.bytes, teledesk_testkit::samples::bytes_of(sent));
        assert_eq!(stored.comment_id, None);
    }
}

#[tokio::test]
async fn create_with_retry_returns_the_earlier_card() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter_with(&fake, json!({"service_id": 7}));
    let mut d = draft(43);
    d.attachments = vec![file("a.bin", 3)];
    let first = kaiten.create_ticket(&d).await.expect("create");
    d.retry = true;
    let second = kaiten.create_ticket(&d).await.expect("retry");
    assert_eq!(first, second);
    assert_eq!(fake.cards().len(), 1);
    assert_eq!(count(&fake, "POST", "/api/latest/cards"), 1);
    // The earlier attempt finished, so nothing is uploaded or patched twice.
    assert_eq!(fake.files(id_of(&first.id)).len(), 1);
    assert_eq!(
        count(&fake, "PATCH", &format!("/api/latest/cards/{}", first.id)),
        1
    );
}

#[tokio::test]
async fn create_with_retry_creates_when_nothing_came_through() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let mut d = draft(44);
    d.retry = true;
    let reference = kaiten.create_ticket(&d).await.expect("create");
    assert_eq!(fake.cards().len(), 1);
    assert_eq!(fake.cards()[0].id, id_of(&reference.id));
}

#[tokio::test]
async fn create_is_refused_for_an_unknown_column() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let mut d = draft(45);
    d.defaults = samples::table(json!({"column_id": 999}));
    let error = kaiten.create_ticket(&d).await.expect_err("400");
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(!error.is_temporary());
    assert!(error.message().contains("Column 999"), "{error}");
}

#[tokio::test]
async fn comment_with_attachments_is_byte_exact_and_marked() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let ticket = kaiten.create_ticket(&draft(50)).await.expect("create");
    let mut c = comment(51, "Вот фото ошибки");
    c.attachments = vec![file("one.png", 4), file("two.png", 5)];
    let comment_id = kaiten.add_comment(&ticket.id, &c).await.expect("comment");

    let card_id = id_of(&ticket.id);
    let comments = fake.comments(card_id);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].id.to_string(), comment_id.0);
    assert_eq!(comments[0].author_id, FakeKaiten::INTEGRATION_USER_ID);
    assert!(!comments[0].internal);
    let text = &comments[0].text;
    assert!(
        text.starts_with("**Анна Смирнова (@anna)** (Telegram, ООО Ромашка):\n\nВот фото ошибки")
    );
    assert!(text.contains("[one.png]("));
    assert!(text.contains("[two.png]("));
    assert!(text.ends_with("*tg-key: tg:-1001234567890:51*"), "{text}");
    let files = fake.files(card_id);
    assert_eq!(files.len(), 2);
    assert_eq!(
        files[0].bytes,
        teledesk_testkit::samples::bytes_of(&c.attachments[0])
    );
    assert_eq!(
        files[1].bytes,
        teledesk_testkit::samples::bytes_of(&c.attachments[1])
    );
}

#[tokio::test]
async fn comment_with_retry_finds_the_earlier_comment() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let ticket = kaiten.create_ticket(&draft(60)).await.expect("create");
    // A neighbouring key whose text contains ours as a prefix must not match.
    kaiten
        .add_comment(&ticket.id, &comment(610, "другое"))
        .await
        .expect("comment");
    let mut c = comment(61, "Спасибо");
    c.attachments = vec![file("x.txt", 6)];
    let first = kaiten.add_comment(&ticket.id, &c).await.expect("comment");
    c.retry = true;
    let again = kaiten.add_comment(&ticket.id, &c).await.expect("retry");
    assert_eq!(first, again);
    let card_id = id_of(&ticket.id);
    assert_eq!(fake.comments(card_id).len(), 2);
    assert_eq!(fake.files(card_id).len(), 1);
}

#[tokio::test]
async fn get_ticket_tells_public_internal_and_own_apart() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let ticket = kaiten.create_ticket(&draft(70)).await.expect("create");
    let card_id = id_of(&ticket.id);
    let own = kaiten
        .add_comment(&ticket.id, &comment(71, "Ещё деталь"))
        .await
        .expect("comment");
    let reply = fake.staff_reply_with_file(
        card_id,
        "Мария Иванова",
        "Заменили картридж",
        "отчёт.pdf",
        vec![1, 2, 3, 0, 255],
    );
    let note = fake.internal_note(card_id, "Мария Иванова", "проверить склад");

    let t = kaiten.get_ticket(&ticket.id).await.expect("get");
    assert_eq!(t.subject, "Не печатает принтер");
    assert_eq!(t.description, "Принтер в бухгалтерии не печатает.");
    assert_eq!(t.state, "Новые");
    assert_eq!(t.status, StatusClass::New);
    let summary: Vec<(String, Visibility, Origin)> = t
        .comments
        .iter()
        .map(|c| (c.id.0.clone(), c.visibility, c.origin))
        .collect();
    assert_eq!(
        summary,
        [
            (own.0.clone(), Visibility::Public, Origin::Teledesk),
            (reply.to_string(), Visibility::Public, Origin::Staff),
            (note.to_string(), Visibility::Internal, Origin::Staff),
        ]
    );
    assert_eq!(t.comments[0].body, "Ещё деталь");
    assert_eq!(t.comments[1].author, "Мария Иванова");
    assert_eq!(t.comments[1].body, "Заменили картридж");
    assert_eq!(t.comments[1].attachments.len(), 1);

    let downloaded = kaiten
        .download(&t.comments[1].attachments[0])
        .await
        .expect("download");
    assert_eq!(downloaded.file_name, "отчёт.pdf");
    assert_eq!(
        downloaded.content.read_all().await.unwrap(),
        vec![1, 2, 3, 0, 255]
    );
}

#[tokio::test]
async fn only_comments_known_to_be_public_are_public_and_each_is_signed() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let ticket = kaiten.create_ticket(&draft(72)).await.expect("create");
    let card_id = id_of(&ticket.id);
    let maria = fake.staff_user("Мария Иванова");
    let login_only = fake.add_user(None, Some("n.petrov"));
    let nameless = fake.add_user(None, None);

    let public = fake.staff_comment(card_id, StaffComment::public(maria, "Публичный ответ"));
    let by_login = fake.staff_comment(card_id, StaffComment::public(login_only, "По логину"));
    let by_id = fake.staff_comment(card_id, StaffComment::public(nameless, "По номеру"));
    let mut bare = StaffComment::public(maria, "Без объекта автора");
    bare.embed_author = false;
    let bare = fake.staff_comment(card_id, bare);

    let mut unflagged = StaffComment::public(maria, "Флаг internal не пришёл");
    unflagged.internal = None;
    let mut unknown_kind = StaffComment::public(maria, "Неизвестный вид");
    unknown_kind.kind = 7;
    let mut system = StaffComment::public(maria, "Заявка получена по почте");
    system.author = None;
    let mut description = StaffComment::public(maria, "Текст заявки");
    description.sd_description = true;
    let hidden: Vec<i64> = [unflagged, unknown_kind, system, description]
        .into_iter()
        .map(|c| fake.staff_comment(card_id, c))
        .collect();

    let t = kaiten.get_ticket(&ticket.id).await.expect("get");
    let public_ones: Vec<(String, String)> = t
        .comments
        .iter()
        .filter(|c| c.visibility == Visibility::Public)
        .map(|c| (c.id.0.clone(), c.author.clone()))
        .collect();
    assert_eq!(
        public_ones,
        [
            (public.to_string(), "Мария Иванова".to_owned()),
            (by_login.to_string(), "n.petrov".to_owned()),
            (by_id.to_string(), format!("Kaiten user #{nameless}")),
            (bare.to_string(), format!("Kaiten user #{maria}")),
        ]
    );
    for id in hidden {
        // A kind teledesk does not know is skipped by the tolerant comment list; the others are
        // read, as internal.
        let Some(comment) = t.comments.iter().find(|c| c.id.0 == id.to_string()) else {
            continue;
        };
        assert_eq!(comment.visibility, Visibility::Internal, "{}", comment.body);
        assert!(!comment.author.is_empty() && !comment.author.contains("null"));
    }
}

#[tokio::test]
async fn status_follows_the_column_and_the_statuses_table() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let ticket = kaiten.create_ticket(&draft(80)).await.expect("create");
    let card_id = id_of(&ticket.id);
    for (column, title, class) in [
        (
            FakeKaiten::COLUMN_IN_PROGRESS,
            "В работе",
            StatusClass::InProgress,
        ),
        (
            FakeKaiten::COLUMN_WAITING,
            "Ждём клиента",
            StatusClass::WaitingClient,
        ),
        (FakeKaiten::COLUMN_DONE, "Готово", StatusClass::Resolved),
        (FakeKaiten::COLUMN_NEW, "Новые", StatusClass::New),
    ] {
        fake.move_to_column(card_id, column);
        let t = kaiten.get_ticket(&ticket.id).await.expect("get");
        assert_eq!((t.state.as_str(), t.status), (title, class));
    }
}

#[tokio::test]
async fn done_column_without_a_mapping_is_closed() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter_with(&fake, json!({"statuses": {}}));
    let ticket = kaiten.create_ticket(&draft(81)).await.expect("create");
    fake.move_to_column(id_of(&ticket.id), FakeKaiten::COLUMN_DONE);
    let t = kaiten.get_ticket(&ticket.id).await.expect("get");
    assert_eq!(t.status, StatusClass::Closed);
}

#[tokio::test]
async fn assignee_and_resolution_are_read_back() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let ticket = kaiten.create_ticket(&draft(90)).await.expect("create");
    let card_id = id_of(&ticket.id);
    let t = kaiten.get_ticket(&ticket.id).await.expect("get");
    assert_eq!((t.assignee, t.resolution), (None, None));

    fake.assign(card_id, "Мария Иванова");
    fake.assign(card_id, "Пётр Сидоров");
    fake.set_property(card_id, "id_42", json!("Заменили картридж"));
    let t = kaiten.get_ticket(&ticket.id).await.expect("get");
    assert_eq!(t.assignee.as_deref(), Some("Пётр Сидоров"));
    assert_eq!(t.resolution.as_deref(), Some("Заменили картридж"));
    assert_eq!(
        kaiten_time(t.updated_at),
        fake.card(card_id).expect("card").updated
    );
}

/// Kaiten's timestamp spelling: UTC, three fraction digits, `Z`.
fn kaiten_time(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .expect("formats")
}

#[tokio::test]
async fn changes_since_starts_now_and_reports_each_change_once() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let before = kaiten.create_ticket(&draft(100)).await.expect("create");

    // A first poll does not replay history.
    let first = kaiten
        .changes_since(&Cursor::default())
        .await
        .expect("poll");
    assert!(first.changes.is_empty());
    let since = first.cursor.since.expect("starts at now");
    assert_eq!(count(&fake, "GET", "/api/latest/cards"), 0);

    // Two cards changed within the same second are both reported.
    let a = kaiten.create_ticket(&draft(101)).await.expect("create");
    fake.staff_reply(id_of(&before.id), "Мария Иванова", "Ответ");
    let batch = kaiten.changes_since(&first.cursor).await.expect("poll");
    assert_eq!(
        samples::changed_ids(&batch),
        [a.id.0.as_str(), before.id.0.as_str()]
    );

    let call = fake
        .calls()
        .into_iter()
        .find(|c| c.path == "/api/latest/cards" && c.method == "GET")
        .expect("a list call");
    let query = call.query.replace("%3A", ":");
    let from = since - DEFAULT_OVERLAP;
    let expected = format!("updated_after={}", kaiten_time(from));
    assert!(query.contains(&expected), "{query} lacks {expected}");
    assert!(query.contains("order_by=updated"), "{query}");
    assert!(!query.contains("board_id"), "{query}");
    assert!(query.contains("limit=100"));
    assert!(query.contains("offset=0"));

    // Polling again inside the overlap window reports nothing new...
    let again = kaiten.changes_since(&batch.cursor).await.expect("poll");
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    // ...but a later change of an already reported card is reported.
    fake.move_to_column(id_of(&a.id), FakeKaiten::COLUMN_IN_PROGRESS);
    let later = kaiten.changes_since(&again.cursor).await.expect("poll");
    assert_eq!(samples::changed_ids(&later), [a.id.0.as_str()]);
    assert!(later.cursor.since > batch.cursor.since);
}

#[tokio::test]
async fn changes_since_pages_through_more_than_a_hundred_cards() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let start = kaiten
        .changes_since(&Cursor::default())
        .await
        .expect("poll")
        .cursor;
    for n in 0..101 {
        fake.staff_create_card(&format!("Карточка {n}"));
    }
    let batch = kaiten.changes_since(&start).await.expect("poll");
    assert_eq!(batch.changes.len(), 101);
    let pages: Vec<String> = fake
        .calls()
        .into_iter()
        .filter(|c| {
            c.method == "GET" && c.path == "/api/latest/cards" && c.query.contains("updated_after")
        })
        .map(|c| c.query.replace("%3A", ":"))
        .collect();
    // The second page starts at the 100th card's `updated` (the bound is inclusive, so that one
    // card is skipped by offset), not at offset 100 of a list that may have moved meanwhile.
    let hundredth = fake.cards()[99].updated.clone();
    assert!(pages[0].contains("offset=0"), "{}", pages[0]);
    assert!(
        pages[1].contains(&format!("updated_after={hundredth}")) && pages[1].contains("offset=1"),
        "{}",
        pages[1]
    );
}

#[tokio::test]
async fn a_change_right_after_the_cursor_is_not_hidden_by_it() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let start = kaiten
        .changes_since(&Cursor::default())
        .await
        .expect("poll")
        .cursor;
    let a = fake.staff_create_card("A");
    let first = kaiten.changes_since(&start).await.expect("poll");
    assert_eq!(first.changes.len(), 1);
    // Within the same second as the cursor (the fake's clock is millisecond-exact).
    let b = fake.staff_create_card("B");
    fake.staff_reply(a, "Мария Иванова", "ещё");
    let second = kaiten.changes_since(&first.cursor).await.expect("poll");
    let ids: Vec<String> = second.changes.iter().map(|c| c.ticket.0.clone()).collect();
    assert_eq!(ids, [b.to_string(), a.to_string()]);
}

#[tokio::test]
async fn set_status_moves_the_card() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter_with(&fake, json!({"client_replied_column_id": 103}));
    let ticket = kaiten.create_ticket(&draft(110)).await.expect("create");
    let card_id = id_of(&ticket.id);
    fake.move_to_column(card_id, FakeKaiten::COLUMN_DONE);

    kaiten
        .set_status(&ticket.id, StatusClass::InProgress)
        .await
        .expect("reopen");
    assert_eq!(
        fake.card(card_id).expect("card").column_id,
        FakeKaiten::COLUMN_IN_PROGRESS
    );
    kaiten
        .set_status(&ticket.id, StatusClass::ClientReplied)
        .await
        .expect("client replied");
    assert_eq!(
        fake.card(card_id).expect("card").column_id,
        FakeKaiten::COLUMN_WAITING
    );

    let error = kaiten
        .set_status(&ticket.id, StatusClass::Resolved)
        .await
        .expect_err("no column for resolved");
    assert_eq!(error.kind(), ErrorKind::Unsupported);
}

#[tokio::test]
async fn client_replied_without_a_column_is_unsupported() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let ticket = kaiten.create_ticket(&draft(111)).await.expect("create");
    let error = kaiten
        .set_status(&ticket.id, StatusClass::ClientReplied)
        .await
        .expect_err("unsupported");
    assert_eq!(error.kind(), ErrorKind::Unsupported);
}

#[tokio::test]
async fn a_used_up_quota_is_waited_out_instead_of_refused() {
    let fake = FakeKaiten::start().await;
    fake.set_rate_limit(Some(1));
    let kaiten = adapter(&fake);
    // At 4.5 rps against a 1 rps limit the second call would be refused, but every answer says
    // how much of the second is left (`X-RateLimit-Remaining: 0` after the first) and until when.
    let started = std::time::Instant::now();
    for _ in 0..3 {
        kaiten.check().await.expect("paced, not refused");
    }
    assert!(
        fake.calls().iter().all(|c| c.status != 429),
        "{:?}",
        fake.calls()
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn injected_429_is_rate_limited_until_the_reset() {
    let fake = FakeKaiten::start().await;
    fake.fail_next(1, 429);
    let error = adapter(&fake).check().await.expect_err("429");
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert!(error.is_temporary());
    // Until the `X-RateLimit-Reset` epoch second, a second or so away, to the millisecond.
    let wait = error.retry_after().expect("a wait");
    assert!(
        wait > Duration::from_millis(900) && wait <= Duration::from_secs(2),
        "{wait:?}"
    );
}

#[tokio::test]
async fn outage_is_temporary_and_recovers() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    fake.set_outage(true);
    let error = kaiten.check().await.expect_err("503");
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.is_temporary());
    assert!(error.message().starts_with("HTTP 503"));
    fake.set_outage(false);
    kaiten.check().await.expect("back");
}

#[tokio::test]
async fn an_unreachable_server_is_temporary() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter_with(&fake, json!({"url": "http://127.0.0.1:1"}));
    let error = kaiten.check().await.expect_err("no server");
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.is_temporary());
}

#[tokio::test]
async fn wrong_token_is_permission_denied_and_never_printed() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter_with(&fake, json!({"token": "wrong-token-123"}));
    let error = kaiten.check().await.expect_err("401");
    assert_eq!(error.kind(), ErrorKind::PermissionDenied);
    assert!(!error.is_temporary());
    let printed = format!("{error} {error:?} {kaiten:?}");
    assert!(!printed.contains("wrong-token-123"), "{printed}");
}

#[tokio::test]
async fn missing_card_is_not_found() {
    let fake = FakeKaiten::start().await;
    let error = adapter(&fake)
        .get_ticket(&TicketId("999999".into()))
        .await
        .expect_err("404");
    assert_eq!(error.kind(), ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_keeps_a_burst_under_the_servers_limit() {
    let fake = FakeKaiten::start().await;
    let kaiten = Arc::new(adapter(&fake));
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let kaiten = Arc::clone(&kaiten);
            tokio::spawn(async move { kaiten.check().await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("check");
    }
    let calls = fake
        .wait_until(WAIT, "30 recorded calls", |f| {
            let calls = f.calls();
            (calls.len() >= 30).then_some(calls)
        })
        .await;
    assert!(calls.iter().all(|c| c.status == 200), "{calls:?}");
}

#[tokio::test]
async fn chat_properties_are_written_in_the_shape_of_their_type() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let mut d = draft(120);
    d.defaults = samples::table(json!({"properties": {
        "id_7": "VIP",
        "id_43": "Сеть",
        "id_44": "2026-07-16T19:00:00+03:00",
        "id_45": "12",
        "id_47": 1,
        "id_48": true,
        "id_49": "https://acme.example/contract/7",
    }}));
    let reference = kaiten.create_ticket(&d).await.expect("create");
    let card = fake.card(id_of(&reference.id)).expect("card");
    assert_eq!(
        Value::Object(card.properties),
        json!({
            "id_7": "VIP",
            "id_43": [502],
            "id_44": {"date": "2026-07-16", "time": "19:00", "tzOffset": 180},
            "id_45": 12.0,
            "id_47": 1,
            "id_48": true,
            "id_49": "https://acme.example/contract/7",
        })
    );

    // Definitions are cached; an option an admin adds later is found by re-reading the options.
    let new_option = fake.add_select_option(FakeKaiten::PROPERTY_SELECT, "Видеонаблюдение");
    let mut d = draft(121);
    d.defaults =
        samples::table(json!({"properties": {"id_43": "видеонаблюдение", "id_44": "2026-08-01"}}));
    let reference = kaiten.create_ticket(&d).await.expect("create");
    let card = fake.card(id_of(&reference.id)).expect("card");
    assert_eq!(card.properties["id_43"], json!([new_option]));
    assert_eq!(
        card.properties["id_44"],
        json!({"date": "2026-08-01", "time": null, "tzOffset": null})
    );
    assert_eq!(
        count(&fake, "GET", "/api/latest/company/custom-properties"),
        1
    );
}

#[tokio::test]
async fn a_missing_or_unwritable_property_refuses_the_card_and_says_which() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    for (properties, names) in [
        (
            json!({"id_99": "x"}),
            ["properties.id_99", "no custom property 99"],
        ),
        (json!({"id_46": 5}), ["properties.id_46", "formula"]),
        (
            json!({"id_43": "Нет такой"}),
            ["properties.id_43", "Принтеры, Сеть, 1С"],
        ),
    ] {
        let mut d = draft(130);
        d.defaults = samples::table(json!({ "properties": properties }));
        let error = kaiten.create_ticket(&d).await.expect_err("refused");
        assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
        assert!(!error.is_temporary());
        for name in names {
            assert!(error.message().contains(name), "{name}: {error}");
        }
    }
    assert!(fake.cards().is_empty());
}

#[tokio::test]
async fn the_resolution_is_read_back_by_type() {
    let fake = FakeKaiten::start().await;
    // Several adapters, each with its own pacer, share this fake.
    fake.set_rate_limit(None);
    let select = adapter_with(&fake, json!({"resolution_property": "id_43"}));
    let ticket = select.create_ticket(&draft(140)).await.expect("create");
    let card_id = id_of(&ticket.id);
    fake.set_property(card_id, "id_43", json!([501, 503]));
    let t = select.get_ticket(&ticket.id).await.expect("get");
    assert_eq!(t.resolution.as_deref(), Some("Принтеры, 1С"));
    // An option added after the options were cached is named too.
    let added = fake.add_select_option(FakeKaiten::PROPERTY_SELECT, "Заменили кабель");
    fake.set_property(card_id, "id_43", json!([added]));
    let t = select.get_ticket(&ticket.id).await.expect("get");
    assert_eq!(t.resolution.as_deref(), Some("Заменили кабель"));

    let date = adapter_with(&fake, json!({"resolution_property": "id_44"}));
    fake.set_property(
        card_id,
        "id_44",
        json!({"date": "2026-07-16", "time": "19:00", "tzOffset": 180}),
    );
    let t = date.get_ticket(&ticket.id).await.expect("get");
    assert_eq!(t.resolution.as_deref(), Some("2026-07-16 19:00"));
}

#[tokio::test]
async fn check_reports_a_resolution_property_that_is_missing_or_unreadable() {
    let fake = FakeKaiten::start().await;
    // Several adapters, each with its own pacer, share this fake.
    fake.set_rate_limit(None);
    adapter(&fake)
        .check()
        .await
        .expect("id_42 is a string property");
    for (key, says) in [("id_99", "no custom property 99"), ("id_46", "formula")] {
        let error = adapter_with(&fake, json!({ "resolution_property": key }))
            .check()
            .await
            .expect_err("reported");
        assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
        assert!(error.message().contains("resolution_property"), "{error}");
        assert!(error.message().contains(says), "{error}");
    }
}

#[tokio::test]
async fn check_ticket_defaults_names_every_bad_property() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let ok = samples::table(json!({"properties": {"id_7": "VIP", "id_43": 501}}));
    assert_eq!(kaiten.check_ticket_defaults(&ok).await.expect("check"), []);
    let bad = samples::table(json!({"properties": {
        "id_7": "VIP", "id_99": 1, "id_46": 3, "id_43": "Нет такой", "id_45": "много",
    }}));
    let problems = kaiten.check_ticket_defaults(&bad).await.expect("check");
    let mut keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "properties.id_43",
            "properties.id_45",
            "properties.id_46",
            "properties.id_99"
        ]
    );
}

#[tokio::test]
async fn property_definitions_are_read_page_by_page() {
    let fake = FakeKaiten::start().await;
    fake.set_rate_limit(None);
    let added: Vec<i64> = (0..120)
        .map(|n| fake.add_property(&format!("Поле {n}"), "string", false))
        .collect();
    let last = added[added.len() - 1];
    let kaiten = adapter(&fake);
    let table = samples::table(json!({"properties": {format!("id_{last}"): "x"}}));
    assert_eq!(
        kaiten.check_ticket_defaults(&table).await.expect("check"),
        []
    );
    assert_eq!(
        count(&fake, "GET", "/api/latest/company/custom-properties"),
        2
    );
}

#[tokio::test]
async fn large_uploads_are_kept_by_digest_and_generated_staff_files_download_whole() {
    use teledesk_testkit::blob::{KEEP_UPLOAD_BYTES, Pattern};
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let dir = tempfile_dir();
    let spool = teledesk_adapter::Spool::new(&dir, 1024);
    let large = Pattern::new(5, KEEP_UPLOAD_BYTES as u64 + 1);
    let mut d = draft(44);
    d.attachments = vec![teledesk_adapter::Attachment {
        file_name: "scan.bin".into(),
        content_type: "application/octet-stream".into(),
        content: spool.keep(large.to_vec()).await.expect("spooled"),
    }];
    let card = id_of(&kaiten.create_ticket(&d).await.expect("create").id);
    let stored = fake.files(card);
    assert_eq!(stored.len(), 1);
    assert!(stored[0].bytes.is_empty(), "only the digest is kept");
    assert_eq!(stored[0].body.len(), large.len);
    assert_eq!(stored[0].body.sha256_hex(), large.sha256_hex());
    // Serving a digest is refused loudly rather than with wrong bytes.
    let url = format!("{}/files/{}/scan.bin", fake.url(), stored[0].id);
    let status = reqwest::Client::new()
        .get(&url)
        .bearer_auth(fake.token())
        .send()
        .await
        .expect("an answer")
        .status();
    assert_eq!(status.as_u16(), 500);

    // A staff file generated as it is served downloads whole.
    let generated = Pattern::new(6, 300_001);
    fake.staff_reply_with_generated_file(card, "Мария Иванова", "Готово", "out.bin", generated);
    let ticket = kaiten
        .get_ticket(&TicketId(card.to_string()))
        .await
        .expect("get");
    let reply = ticket
        .comments
        .iter()
        .find(|c| c.body == "Готово")
        .expect("the staff reply");
    let downloaded = kaiten
        .download(&reply.attachments[0])
        .await
        .expect("download");
    assert!(downloaded.content.read_all().await.unwrap() == generated.to_vec());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh directory for a spool, without a dev-dependency for it.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "teledesk-kaiten-test-{}-{}",
        std::process::id(),
        OffsetDateTime::now_utc().unix_timestamp_nanos()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}
