//! Contract tests: the adapter against wiremock serving the recorded payloads in
//! `fixtures/glpi/`, checking the exact requests it sends.

use serde_json::{Value, json};
use teledesk_adapter::{
    AttachmentRef, Cursor, ErrorKind, Helpdesk, Origin, StatusClass, TicketDraft, TicketId,
    Visibility,
};
use teledesk_glpi::GlpiAdapter;
use teledesk_testkit::samples;
use time::macros::datetime;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const USER_TOKEN: &str = "contract-user-token";
const APP_TOKEN: &str = "contract-app-token";
const SESSION: &str = "83af7e620c83a50a18d3eac2f6ed05a3ca0bea62";

fn fixture(name: &str) -> Value {
    samples::fixture("glpi", name)
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(fixture(name))
}

fn adapter(server: &MockServer, extra: Value) -> GlpiAdapter {
    let table = samples::table_with(
        json!({
            "kind": "glpi",
            "url": format!("{}/apirest.php", server.uri()),
            "user_token": USER_TOKEN,
            "app_token": APP_TOKEN,
            "timezone": "+03:00",
            "requests_per_second": 100,
        }),
        extra,
    );
    GlpiAdapter::from_config(&table).expect("valid config")
}

/// A server that opens sessions for the right token; calls without the session token (or with
/// a wrong one) match nothing and fail loudly.
async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/apirest.php/initSession"))
        .and(header(
            "authorization",
            format!("user_token {USER_TOKEN}").as_str(),
        ))
        .and(header("app-token", APP_TOKEN))
        .respond_with(ok("init_session.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/apirest.php/getFullSession"))
        .and(header("session-token", SESSION))
        .respond_with(ok("full_session.json"))
        .mount(&server)
        .await;
    server
}

/// The recorded ticket in a category, without the screenshot: only
/// `files_go_up_as_multipart_and_are_linked` mocks the upload.
fn draft() -> TicketDraft {
    TicketDraft {
        attachments: Vec::new(),
        defaults: samples::table(json!({"itilcategories_id": 5, "type": 2})),
        ..samples::recorded_draft()
    }
}

fn body_of(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

fn header_of<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn check_opens_a_session_and_reads_the_user() {
    let server = server().await;
    let identity = adapter(&server, json!({})).check().await.expect("check");
    assert_eq!(
        (identity.id.as_str(), identity.name.as_str()),
        ("7", "teledesk bot")
    );
    let requests = server.received_requests().await.expect("recorded");
    let session = requests
        .iter()
        .find(|r| r.url.path().ends_with("/getFullSession"))
        .expect("getFullSession");
    assert_eq!(header_of(session, "session-token"), Some(SESSION));
    assert_eq!(header_of(session, "app-token"), Some(APP_TOKEN));
    assert_eq!(
        header_of(session, "x-glpi-sanitized-content"),
        Some("false")
    );
    assert!(
        session.body.is_empty(),
        "GET requests must have an empty body"
    );
    assert_eq!(
        header_of(session, "authorization"),
        None,
        "the user token is sent once"
    );
}

#[tokio::test]
async fn create_ticket_posts_the_documented_input() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/apirest.php/Ticket"))
        .and(header("session-token", SESSION))
        .respond_with(ResponseTemplate::new(201).set_body_json(fixture("created.json")))
        .expect(1)
        .mount(&server)
        .await;
    let reference = adapter(&server, json!({"entities_id": 1}))
        .create_ticket(&draft())
        .await
        .expect("create");
    assert_eq!(reference.id, TicketId("123".into()));
    assert_eq!(reference.number, "123");
    assert_eq!(
        reference.url,
        Some(format!("{}/front/ticket.form.php?id=123", server.uri()))
    );
    let requests = server.received_requests().await.expect("recorded");
    let create = requests
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("POST /Ticket");
    assert_eq!(
        body_of(create),
        json!({"input": {
            "name": "Не печатает принтер",
            "content": "<p>Принтер в бухгалтерии не печатает.</p><p><strong>Telegram:</strong> \
                Анна Смирнова (@anna_s), id 555001, ООО Ромашка<br><strong>Registered (UTC):\
                </strong> 2026-11-21T11:58:00.5Z<br><strong>Source:</strong> \
                <a href=\"https://t.me/c/1234567890/42\">https://t.me/c/1234567890/42</a><br>\
                <small>tg-key: tg:-1001234567890:42</small></p>",
            "entities_id": 1,
            "itilcategories_id": 5,
            "type": 2,
        }})
    );
    // The fixture ticket is what GLPI stores for exactly this content.
    assert_eq!(
        body_of(create)["input"]["content"],
        fixture("ticket.json")["content"]
    );
}

#[tokio::test]
async fn files_go_up_as_multipart_and_are_linked() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/apirest.php/Ticket"))
        .respond_with(ResponseTemplate::new(201).set_body_json(fixture("created.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/apirest.php/Document"))
        .respond_with(ResponseTemplate::new(201).set_body_json(fixture("document_uploaded.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/apirest.php/Document_Item"))
        .and(body_json(json!({"input": {
            "documents_id": 56, "itemtype": "Ticket", "items_id": 123,
        }})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 90, "message": ""})))
        .expect(1)
        .mount(&server)
        .await;
    let mut d = draft();
    d.attachments = vec![samples::screenshot()];
    adapter(&server, json!({}))
        .create_ticket(&d)
        .await
        .expect("create");
    let requests = server.received_requests().await.expect("recorded");
    let upload = requests
        .iter()
        .find(|r| r.url.path().ends_with("/Document"))
        .expect("POST /Document");
    assert!(
        header_of(upload, "content-type").is_some_and(|v| v.starts_with("multipart/form-data"))
    );
    let multipart = String::from_utf8_lossy(&upload.body);
    assert!(multipart.contains("name=\"uploadManifest\""), "{multipart}");
    assert!(
        multipart.contains(r#"{"input":{"_filename":["screenshot.png"],"name":"screenshot.png"}}"#),
        "{multipart}"
    );
    assert!(multipart.contains("name=\"filename[0]\"; filename=\"screenshot.png\""));
    assert!(multipart.contains("image/png"));
}

#[tokio::test]
async fn get_ticket_maps_the_recorded_ticket() {
    let server = server().await;
    for (route, fixture_name) in [
        ("/apirest.php/Ticket/123", "ticket.json"),
        (
            "/apirest.php/Ticket/123/ITILFollowup",
            "ticket_followups.json",
        ),
        (
            "/apirest.php/Ticket/123/ITILSolution",
            "ticket_solutions.json",
        ),
        ("/apirest.php/Ticket/123/Ticket_User", "ticket_users.json"),
        (
            "/apirest.php/ITILFollowup/1003/Document_Item",
            "followup_document_items.json",
        ),
        ("/apirest.php/getMultipleItems", "multiple_documents.json"),
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .and(header("session-token", SESSION))
            .respond_with(ok(fixture_name))
            .mount(&server)
            .await;
    }
    for followup in [1001, 1002, 1004] {
        Mock::given(method("GET"))
            .and(path(format!(
                "/apirest.php/ITILFollowup/{followup}/Document_Item"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .mount(&server)
            .await;
    }
    let ticket = adapter(&server, json!({}))
        .get_ticket(&TicketId("123".into()))
        .await
        .expect("get");
    assert_eq!(ticket.status, StatusClass::Resolved);
    assert_eq!(ticket.state, "Solved");
    assert_eq!(ticket.assignee.as_deref(), Some("Мария Иванова"));
    assert_eq!(ticket.resolution.as_deref(), Some("Заменили картридж."));
    assert_eq!(ticket.description, "Принтер в бухгалтерии не печатает.");
    assert_eq!(ticket.updated_at, datetime!(2026-11-21 12:05:13 UTC));
    assert_eq!(
        samples::comment_kinds(&ticket),
        [
            (Visibility::Public, Origin::Teledesk),
            (Visibility::Internal, Origin::Staff),
            (Visibility::Public, Origin::Staff),
            (Visibility::Public, Origin::Requester),
        ]
    );
    assert_eq!(ticket.comments[2].attachments[0].id, "55");
    let requests = server.received_requests().await.expect("recorded");
    let followups = requests
        .iter()
        .find(|r| r.url.path().ends_with("/Ticket/123/ITILFollowup"))
        .expect("followups");
    let query: Vec<(String, String)> = followups.url.query_pairs().into_owned().collect();
    assert!(query.contains(&("add_keys_names[]".into(), "users_id".into())));
    assert!(query.contains(&("range".into(), "0-99".into())));
    let multiple = requests
        .iter()
        .find(|r| r.url.path().ends_with("/getMultipleItems"))
        .expect("documents");
    let query: Vec<(String, String)> = multiple.url.query_pairs().into_owned().collect();
    assert_eq!(
        query,
        [
            ("items[0][itemtype]".to_owned(), "Document".to_owned()),
            ("items[0][items_id]".to_owned(), "55".to_owned()),
        ]
    );
}

#[tokio::test]
async fn changes_since_searches_date_mod_in_the_servers_time() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/apirest.php/search/Ticket"))
        .and(query_param("criteria[0][field]", "19"))
        .and(query_param("criteria[0][searchtype]", "morethan"))
        .and(query_param("criteria[0][value]", "2026-11-21 14:59:58"))
        .and(query_param("sort", "19"))
        .and(query_param("order", "ASC"))
        .and(query_param("range", "0-99"))
        .and(query_param("forcedisplay[0]", "2"))
        .and(query_param("forcedisplay[1]", "19"))
        .respond_with(ok("search_tickets.json"))
        .expect(1)
        .mount(&server)
        .await;
    let cursor = Cursor::starting_at(datetime!(2026-11-21 12:00:00 UTC));
    let batch = adapter(&server, json!({}))
        .changes_since(&cursor)
        .await
        .expect("poll");
    assert_eq!(samples::changed_ids(&batch), ["123", "124"]);
    let newest = batch.cursor.since.expect("a cursor");
    assert_eq!(
        newest.replace_nanosecond(0).expect("ns"),
        datetime!(2026-11-21 12:07:41 UTC)
    );
}

#[tokio::test]
async fn an_empty_search_keeps_the_cursor() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/apirest.php/search/Ticket"))
        .respond_with(ok("search_empty.json"))
        .mount(&server)
        .await;
    let cursor = Cursor::starting_at(datetime!(2026-11-21 12:00:00 UTC));
    let batch = adapter(&server, json!({}))
        .changes_since(&cursor)
        .await
        .expect("poll");
    assert!(batch.changes.is_empty());
    assert_eq!(batch.cursor.since, cursor.since);
}

#[tokio::test]
async fn an_expired_session_is_opened_again_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/apirest.php/initSession"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"session_token": "old"})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/apirest.php/initSession"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"session_token": "new"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/apirest.php/getFullSession"))
        .and(header("session-token", "old"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(fixture("error_session_token_invalid.json")),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/apirest.php/getFullSession"))
        .and(header("session-token", "new"))
        .respond_with(ok("full_session.json"))
        .mount(&server)
        .await;
    let identity = adapter(&server, json!({})).check().await.expect("check");
    assert_eq!(identity.id, "7");
    let inits = server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|r| r.url.path().ends_with("/initSession"))
        .count();
    assert_eq!(inits, 2);
}

#[tokio::test]
async fn a_session_refused_twice_is_a_permission_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/apirest.php/initSession"))
        .respond_with(ok("init_session.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/apirest.php/getFullSession"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(fixture("error_session_token_invalid.json")),
        )
        .expect(2)
        .mount(&server)
        .await;
    let error = adapter(&server, json!({})).check().await.expect_err("401");
    assert_eq!(error.kind(), ErrorKind::PermissionDenied);
    assert!(!error.is_temporary());
}

#[tokio::test]
async fn download_asks_for_the_file() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/apirest.php/Document/55"))
        .and(header("accept", "application/octet-stream"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/pdf")
                .set_body_bytes(b"%PDF-1.4\r\n\x00\xff".to_vec()),
        )
        .mount(&server)
        .await;
    let file = adapter(&server, json!({}))
        .download(&AttachmentRef {
            id: "55".into(),
            file_name: "отчёт.pdf".into(),
            content_type: Some("application/pdf".into()),
            size: None,
            url: None,
        })
        .await
        .expect("download");
    assert_eq!(
        file.content.read_all().await.unwrap(),
        b"%PDF-1.4\r\n\x00\xff"
    );
    assert_eq!(file.content_type, "application/pdf");
    assert_eq!(file.file_name, "отчёт.pdf");
}

#[tokio::test]
async fn glpi_errors_are_classified() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/apirest.php/Ticket/9"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(fixture("error_item_not_found.json")),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/apirest.php/Ticket"))
        .respond_with(ResponseTemplate::new(400).set_body_json(fixture("error_glpi_add.json")))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/apirest.php/Ticket/10"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"10": false, "message": ""}])),
        )
        .mount(&server)
        .await;
    let glpi = adapter(&server, json!({}));
    let error = glpi
        .get_ticket(&TicketId("9".into()))
        .await
        .expect_err("404");
    assert_eq!(error.kind(), ErrorKind::NotFound);
    let error = glpi.create_ticket(&draft()).await.expect_err("400");
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(!error.is_temporary());
    assert_eq!(
        error.message(),
        "HTTP 400: ERROR_GLPI_ADD: You don't have permission to perform this action."
    );
    let error = glpi
        .set_status(&TicketId("10".into()), StatusClass::InProgress)
        .await
        .expect_err("refused update");
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn wrong_user_token_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/apirest.php/initSession"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(fixture("error_user_token_invalid.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let error = adapter(&server, json!({})).check().await.expect_err("401");
    assert_eq!(error.kind(), ErrorKind::PermissionDenied);
    assert!(!error.message().contains(USER_TOKEN));
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
