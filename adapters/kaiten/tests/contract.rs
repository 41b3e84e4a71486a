//! Contract tests: the adapter against wiremock serving the recorded payloads in
//! `fixtures/kaiten/`, checking the exact requests it sends.

use serde_json::{Value, json};
use std::time::Duration;
use teledesk_adapter::{
    CommentDraft, Cursor, ErrorKind, Helpdesk, Origin, StatusClass, TicketId, Visibility,
};
use teledesk_kaiten::KaitenAdapter;
use teledesk_testkit::samples;
use time::macros::datetime;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "contract-token";

fn fixture(name: &str) -> Value {
    samples::fixture("kaiten", name)
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(fixture(name))
}

fn adapter(server: &MockServer, extra: Value) -> KaitenAdapter {
    let table = samples::table_with(
        json!({
            "kind": "kaiten",
            "url": server.uri(),
            "token": TOKEN,
            "board_id": 10,
            "column_id": 101,
            "lane_id": 201,
            "resolution_property": "id_42",
            "statuses": {"103": "waiting_client"},
        }),
        extra,
    );
    KaitenAdapter::from_config(&table).expect("valid config")
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    // Requests without the bearer token fall through to this and fail loudly.
    Mock::given(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(method("GET"))
        .and(path("/api/latest/users/current"))
        .respond_with(ok("current_user.json"))
        .mount(&server)
        .await;
    Mock::given(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(method("GET"))
        .and(path("/api/latest/company/custom-properties"))
        .and(query_param("offset", "0"))
        .respond_with(ok("custom_properties.json"))
        .mount(&server)
        .await;
    Mock::given(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(method("GET"))
        .and(path(
            "/api/latest/company/custom-properties/43/select-values",
        ))
        .respond_with(ok("select_values.json"))
        .mount(&server)
        .await;
    server
}

fn body_of(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

#[tokio::test]
async fn check_reads_the_current_user() {
    let server = server().await;
    let identity = adapter(&server, json!({})).check().await.expect("check");
    assert_eq!(
        (identity.id.as_str(), identity.name.as_str()),
        ("1", "teledesk bot")
    );
}

#[tokio::test]
async fn create_ticket_sends_the_documented_requests() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/latest/cards"))
        .respond_with(ok("card.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/api/latest/cards/1001"))
        .and(body_partial_json(json!({"service_id": 8})))
        .respond_with(ok("card.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/latest/cards/1001/files"))
        .respond_with(ok("file_uploaded.json"))
        .expect(1)
        .mount(&server)
        .await;
    let kaiten = adapter(&server, json!({"service_id": 8}));
    let reference = kaiten
        .create_ticket(&samples::recorded_draft())
        .await
        .expect("create");
    assert_eq!(reference.id, TicketId("1001".into()));
    assert_eq!(reference.number, "1001");
    assert_eq!(
        reference.url,
        Some(format!("{}/space/1/card/1001", server.uri()))
    );

    let requests = server.received_requests().await.expect("recorded");
    let create = requests
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("POST /cards");
    assert_eq!(
        create
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer contract-token")
    );
    assert_eq!(
        body_of(create),
        json!({
            "title": "Не печатает принтер",
            "board_id": 10,
            "column_id": 101,
            "lane_id": 201,
            "external_id": "tg:-1001234567890:42",
            "text_format_type_id": 1,
            "description": "Принтер в бухгалтерии не печатает.\n\n---\n\
                **Telegram:** Анна Смирнова (@anna\\_s), id 555001, ООО Ромашка\n\
                **Registered (UTC):** 2026-11-21T11:58:00.5Z\n\
                **Source:** https://t.me/c/1234567890/42",
        })
    );
    let upload = requests
        .iter()
        .find(|r| r.method.as_str() == "PUT")
        .expect("PUT files");
    let content_type = upload
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(content_type.starts_with("multipart/form-data"));
    let multipart = String::from_utf8_lossy(&upload.body);
    assert!(multipart.contains("name=\"file\"; filename=\"screenshot.png\""));
    assert!(multipart.contains("image/png"));
}

#[tokio::test]
async fn chat_properties_go_out_in_the_shape_of_their_type() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/latest/cards"))
        .respond_with(ok("card.json"))
        .expect(1)
        .mount(&server)
        .await;
    let kaiten = adapter(&server, json!({}));
    let mut draft = samples::recorded_draft();
    draft.attachments.clear();
    draft.defaults = samples::table(json!({"properties": {
        "id_42": "VIP", "id_43": "Сеть", "id_44": "2026-07-16T19:00:00+03:00",
    }}));
    kaiten.create_ticket(&draft).await.expect("create");
    let requests = server.received_requests().await.expect("recorded");
    let create = requests
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("POST /cards");
    assert_eq!(
        body_of(create)["properties"],
        json!({
            "id_42": "VIP",
            "id_43": [502],
            "id_44": {"date": "2026-07-16", "time": "19:00", "tzOffset": 180},
        })
    );

    // An inactive option, a formula and a property the company lacks: nothing is created.
    for (key, value) in [
        ("id_43", json!("Старое")),
        ("id_46", json!(1)),
        ("id_77", json!("x")),
    ] {
        draft.defaults = samples::table(json!({ "properties": { key: value } }));
        let error = kaiten.create_ticket(&draft).await.expect_err("refused");
        assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
        assert!(error.message().contains(key), "{error}");
    }
}

#[tokio::test]
async fn a_select_resolution_reads_as_the_options_names() {
    let server = server().await;
    let mut card = fixture("card.json");
    card["properties"] = json!({"id_43": [502, 501]});
    Mock::given(method("GET"))
        .and(path("/api/latest/cards/1001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(card))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/latest/cards/1001/comments"))
        .respond_with(ok("comments.json"))
        .mount(&server)
        .await;
    let ticket = adapter(&server, json!({"resolution_property": "id_43"}))
        .get_ticket(&TicketId("1001".into()))
        .await
        .expect("get");
    assert_eq!(ticket.resolution.as_deref(), Some("Сеть, Принтеры"));
}

#[tokio::test]
async fn create_with_retry_looks_up_the_external_id() {
    let server = server().await;
    let list = Value::Array(vec![fixture("cards_list.json")[0].clone()]);
    Mock::given(method("GET"))
        .and(path("/api/latest/cards"))
        .and(query_param("external_id", "tg:-1001234567890:42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/latest/cards/1001"))
        .respond_with(ok("card.json"))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/latest/cards/1001/files"))
        .respond_with(ok("file_uploaded.json"))
        .expect(1)
        .mount(&server)
        .await;
    let mut d = samples::recorded_draft();
    d.retry = true;
    let reference = adapter(&server, json!({}))
        .create_ticket(&d)
        .await
        .expect("found");
    assert_eq!(reference.id.0, "1001");
    // The card had no screenshot.png yet, so the interrupted upload is completed; no new card.
    let posts = server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 0);
}

#[tokio::test]
async fn get_ticket_maps_the_recorded_card() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/latest/cards/1001"))
        .respond_with(ok("card.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/latest/cards/1001/comments"))
        .respond_with(ok("comments.json"))
        .mount(&server)
        .await;
    let ticket = adapter(&server, json!({}))
        .get_ticket(&TicketId("1001".into()))
        .await
        .expect("get");
    assert_eq!(ticket.status, StatusClass::InProgress);
    assert_eq!(ticket.state, "В работе");
    assert_eq!(ticket.assignee.as_deref(), Some("Мария Иванова"));
    assert_eq!(ticket.resolution.as_deref(), Some("Заменили картридж"));
    assert_eq!(ticket.description, "Принтер в бухгалтерии не печатает.");
    assert_eq!(
        samples::comment_kinds(&ticket),
        [
            (Visibility::Public, Origin::Teledesk),
            (Visibility::Internal, Origin::Staff),
            (Visibility::Public, Origin::Staff),
            // 2004 carries a marker but a staff account wrote it: staff's, by its author.
            (Visibility::Public, Origin::Staff),
        ]
    );
}

#[tokio::test]
async fn a_retried_comment_finds_only_the_integration_users_footer() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/latest/cards/1001/comments"))
        .respond_with(ok("comments.json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/latest/cards/1001/comments"))
        .respond_with(ok("comment_created.json"))
        .expect(1)
        .mount(&server)
        .await;
    let adapter = adapter(&server, json!({}));
    let retried = |n: i32| CommentDraft {
        author: samples::recorded_draft().requester,
        retry: true,
        ..samples::comment(n, "Ещё вопрос")
    };
    // 2001 is the integration user's comment with the footer of message 43: the earlier write.
    let found = adapter
        .add_comment(&TicketId("1001".into()), &retried(43))
        .await
        .expect("found");
    assert_eq!(found.0, "2001");
    // 2004 ends with the footer of message 44 but a staff account wrote it: not teledesk's write,
    // so the retry writes the comment.
    let written = adapter
        .add_comment(&TicketId("1001".into()), &retried(44))
        .await
        .expect("written");
    assert_eq!(written.0, "2005");
}

#[tokio::test]
async fn add_comment_posts_the_marked_text() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/latest/cards/1001/comments"))
        .respond_with(ok("comment_created.json"))
        .expect(1)
        .mount(&server)
        .await;
    let draft = CommentDraft {
        author: samples::recorded_draft().requester,
        source_url: Some(samples::message_url(45)),
        written_at: datetime!(2026-11-21 12:10:00 UTC),
        ..samples::comment(45, "Ещё вопрос")
    };
    let id = adapter(&server, json!({}))
        .add_comment(&TicketId("1001".into()), &draft)
        .await
        .expect("comment");
    assert_eq!(id.0, "2005");
    let requests = server.received_requests().await.expect("recorded");
    let post = requests
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("POST");
    // The fixture is what Kaiten stored for exactly this text.
    assert_eq!(
        body_of(post),
        json!({"text": fixture("comment_created.json")["text"]})
    );
}

#[tokio::test]
async fn changes_since_reads_the_three_feeds_with_the_overlap() {
    let server = server().await;
    // Feed 1: `updated`, oldest first, from the cursor minus the overlap, on every board.
    Mock::given(method("GET"))
        .and(path("/api/latest/cards"))
        .and(query_param("updated_after", "2026-11-21T11:59:58.000Z"))
        .and(query_param("order_by", "updated"))
        .and(query_param("order_direction", "asc"))
        .and(query_param("limit", "100"))
        .and(query_param("offset", "0"))
        .respond_with(ok("cards_list.json"))
        .expect(1)
        .mount(&server)
        .await;
    // Feed 2: newest comment first; 1001's comment is after the cursor, 1002 has none.
    Mock::given(method("GET"))
        .and(path("/api/latest/cards"))
        .and(query_param("order_by", "comment_last_added_at"))
        .and(query_param("order_direction", "desc"))
        .respond_with(ok("cards_list.json"))
        .expect(1)
        .mount(&server)
        .await;
    // Feed 3: one page of open cards in creation order; none of them open here.
    Mock::given(method("GET"))
        .and(path("/api/latest/cards"))
        .and(query_param("order_by", "created"))
        .and(query_param("states", "1,2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let cursor = Cursor::starting_at(datetime!(2026-11-21 12:00:00 UTC));
    let batch = adapter(&server, json!({}))
        .changes_since(&cursor)
        .await
        .expect("poll");
    assert_eq!(samples::changed_ids(&batch), ["1001", "1002"]);
    assert_eq!(
        batch.cursor.since,
        Some(datetime!(2026-11-21 12:05:13.901 UTC))
    );
    let requests = server.received_requests().await.expect("recorded");
    assert!(
        requests
            .iter()
            .all(|r| !r.url.query().unwrap_or_default().contains("board_id")),
        "a card moved to another board must stay in the feeds"
    );
}

#[tokio::test]
async fn rate_limited_answers_hold_the_pacer_and_are_temporary() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1795262401")
                .set_body_json(fixture("rate_limited.json")),
        )
        .mount(&server)
        .await;
    let error = adapter(&server, json!({})).check().await.expect_err("429");
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert!(error.is_temporary());
    assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
}

#[tokio::test]
async fn kaiten_errors_keep_their_message() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/latest/users/current"))
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("error_401.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(402).set_body_json(fixture("error_402.json")))
        .mount(&server)
        .await;
    let kaiten = adapter(&server, json!({}));
    let error = kaiten.check().await.expect_err("401");
    assert_eq!(error.kind(), ErrorKind::PermissionDenied);
    assert_eq!(error.message(), "HTTP 401: Unauthorized");
    let mut d = samples::recorded_draft();
    d.attachments.clear();
    let error = kaiten.create_ticket(&d).await.expect_err("402");
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(!error.is_temporary());
    assert_eq!(
        error.message(),
        "HTTP 402: Feature is not supported by tariff"
    );
}

#[tokio::test]
async fn garbage_in_a_2xx_is_unexpected() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>login</html>"))
        .mount(&server)
        .await;
    let error = adapter(&server, json!({})).check().await.expect_err("html");
    assert_eq!(error.kind(), ErrorKind::Unexpected);
    assert!(!error.is_temporary());
}

#[tokio::test]
async fn options_the_token_may_not_read_show_as_ids_without_stalling_the_ticket() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/latest/users/current"))
        .respond_with(ok("current_user.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/api/latest/company/custom-properties/43/select-values",
        ))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "Forbidden"})))
        .mount(&server)
        .await;
    let mut card = fixture("card.json");
    card["properties"] = json!({"id_43": [502]});
    Mock::given(method("GET"))
        .and(path("/api/latest/cards/1001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(card))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/latest/cards/1001/comments"))
        .respond_with(ok("comments.json"))
        .mount(&server)
        .await;
    let ticket = adapter(&server, json!({"resolution_property": "id_43"}))
        .get_ticket(&TicketId("1001".into()))
        .await
        .expect("get");
    assert_eq!(ticket.resolution.as_deref(), Some("#502"));
}

#[tokio::test]
async fn a_token_that_may_not_read_property_definitions_still_creates_cards() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/latest/company/custom-properties"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "Forbidden"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/latest/cards"))
        .respond_with(ok("card.json"))
        .expect(1)
        .mount(&server)
        .await;
    let mut draft = samples::recorded_draft();
    draft.attachments.clear();
    draft.defaults = samples::table(json!({"properties": {"id_42": "VIP", "id_45": 3}}));
    Mock::given(method("GET"))
        .and(path("/api/latest/users/current"))
        .respond_with(ok("current_user.json"))
        .mount(&server)
        .await;
    let kaiten = adapter(&server, json!({}));
    kaiten.check().await.expect("the token works");
    kaiten.create_ticket(&draft).await.expect("created");
    let requests = server.received_requests().await.expect("recorded");
    let create = requests
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("POST /cards");
    assert_eq!(
        body_of(create)["properties"],
        json!({"id_42": "VIP", "id_45": 3})
    );
}

#[tokio::test]
async fn a_429_is_waited_out_until_the_reset_epoch_it_names() {
    let server = MockServer::start().await;
    // Only the documented headers: no Retry-After, the reset three seconds ahead.
    let reset = time::OffsetDateTime::now_utc().unix_timestamp() + 3;
    Mock::given(method("GET"))
        .and(path("/api/latest/users/current"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .set_body_json(fixture("rate_limited.json")),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/latest/users/current"))
        .respond_with(ok("current_user.json"))
        .mount(&server)
        .await;
    // `check` also reads the property definitions, to check `resolution_property`.
    Mock::given(method("GET"))
        .and(path("/api/latest/company/custom-properties"))
        .respond_with(ok("custom_properties.json"))
        .mount(&server)
        .await;
    // A token of its own: the pace is shared per token, and this test holds it for seconds.
    let kaiten = adapter(&server, json!({"token": "contract-token-429"}));
    let error = kaiten.check().await.expect_err("429");
    let refused_at = std::time::Instant::now();
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert!(error.is_temporary());
    let wait = error.retry_after().expect("a wait");
    assert!(
        wait > Duration::from_secs(2) && wait <= Duration::from_secs(3),
        "until the reset, not a fixed second: {wait:?}"
    );
    // The next request, whoever sends it, is held until the reset instead of being refused.
    kaiten.check().await.expect("after the reset");
    assert!(
        refused_at.elapsed() + Duration::from_millis(20) >= wait,
        "sent {:?} after the 429, before the reset {wait:?}",
        refused_at.elapsed()
    );
}

/// A staff comment and its file appear together (the file attached as the comment is written):
/// a ticket read while that happens must never show the comment without its file, or the daemon
/// mirrors the text and the file is lost for good. Each read here sees the card as it was before
/// the reply or after, in the order the adapter sends them: the comments must be read first,
/// so a comment in them has its files in the card read after.
#[tokio::test]
async fn a_comment_read_while_staff_attach_a_file_is_never_without_it() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let server = server().await;
    let reads = Arc::new(AtomicUsize::new(0));
    let before_reply = |name: &str| {
        let mut value = fixture(name);
        match value.as_array_mut() {
            Some(comments) => comments.retain(|c| c["id"] != 2003),
            None => value["files"]
                .as_array_mut()
                .expect("files")
                .retain(|f| f["comment_id"] != 2003),
        }
        value
    };
    for (route, name) in [
        ("/api/latest/cards/1001", "card.json"),
        ("/api/latest/cards/1001/comments", "comments.json"),
    ] {
        let (old, new) = (before_reply(name), fixture(name));
        let reads = reads.clone();
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(move |_: &Request| {
                // The first read of a ticket is before the reply, the later ones after it.
                let body = if reads.fetch_add(1, Ordering::SeqCst) == 0 {
                    old.clone()
                } else {
                    new.clone()
                };
                ResponseTemplate::new(200).set_body_json(body)
            })
            .mount(&server)
            .await;
    }
    let ticket = adapter(&server, json!({}))
        .get_ticket(&TicketId("1001".into()))
        .await
        .expect("get");
    if let Some(reply) = ticket.comments.iter().find(|c| c.id.0 == "2003") {
        assert_eq!(
            reply.attachments.len(),
            1,
            "the staff reply was read without its file"
        );
    }
}
