//! Contract tests: the adapter against wiremock serving the recorded payloads in
//! `fixtures/znuny/`, checking the exact requests it sends.

use serde_json::{Value, json};
use teledesk_adapter::{
    AttachmentRef, Cursor, ErrorKind, Helpdesk, Origin, StatusClass, TicketDraft, TicketId,
    Visibility,
};
use teledesk_testkit::samples;
use teledesk_znuny::ZnunyAdapter;
use time::macros::datetime;
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const BASE: &str = "/otrs/nph-genericinterface.pl/Webservice/teledesk";
const SESSION: &str = "gUSc8EELbyBnK1x2dVfCuRgL2uQ0xuSu";

fn fixture_text(name: &str) -> String {
    samples::fixture_text("znuny", name)
}

fn fixture(name: &str) -> Value {
    samples::fixture("znuny", name)
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(fixture(name))
}

fn route(route: &str) -> String {
    format!("{BASE}{route}")
}

fn adapter(server: &MockServer, extra: Value) -> ZnunyAdapter {
    let table = samples::table_with(
        json!({
            "kind": "znuny",
            "url": format!("{}{BASE}", server.uri()),
            "user": "teledesk",
            "password": "contract-password",
            "queue": "Support",
            "customer_user": "telegram",
            "idempotency_field": "TeledeskKey",
            "timezone": "+03:00",
            "requests_per_second": 100,
        }),
        extra,
    );
    ZnunyAdapter::from_config(&table).expect("valid config")
}

/// A server that accepts the login and tells who the agent is.
async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(route("/Session")))
        .and(body_partial_json(
            json!({"UserLogin": "teledesk", "Password": "contract-password"}),
        ))
        .respond_with(ok("session_create.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(route(&format!("/Session/{SESSION}"))))
        .respond_with(ok("session_get.json"))
        .mount(&server)
        .await;
    server
}

/// The recorded ticket, with the client's company in a dynamic field.
fn draft() -> TicketDraft {
    TicketDraft {
        defaults: samples::table(json!({"dynamic_fields": {"Company": "ООО Ромашка"}})),
        ..samples::recorded_draft()
    }
}

fn body_of(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.expect("recorded")
}

#[tokio::test]
async fn check_logs_in_and_reads_the_session() {
    let server = server().await;
    let identity = adapter(&server, json!({})).check().await.expect("check");
    assert_eq!(
        (identity.id.as_str(), identity.name.as_str()),
        ("2", "teledesk bot")
    );
}

#[tokio::test]
async fn create_ticket_sends_the_documented_request() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(route("/Ticket")))
        .respond_with(ok("ticket_create.json"))
        .expect(1)
        .mount(&server)
        .await;
    let reference = adapter(&server, json!({}))
        .create_ticket(&draft())
        .await
        .expect("create");
    assert_eq!(reference.id, TicketId("4012".into()));
    assert_eq!(reference.number, "2026112110000036");
    assert_eq!(
        reference.url,
        Some(format!(
            "{}/otrs/index.pl?Action=AgentTicketZoom;TicketID=4012",
            server.uri()
        ))
    );
    let all = requests(&server).await;
    let create = all
        .iter()
        .find(|r| r.url.path() == route("/Ticket"))
        .expect("POST /Ticket");
    assert_eq!(create.url.query(), None, "nothing in the query string");
    assert_eq!(
        body_of(create),
        json!({
            "SessionID": SESSION,
            "Ticket": {
                "Title": "Не печатает принтер",
                "Queue": "Support",
                "State": "new",
                "Priority": "3 normal",
                "CustomerUser": "telegram",
            },
            "Article": {
                "CommunicationChannel": "Phone",
                "SenderType": "customer",
                "IsVisibleForCustomer": 1,
                "Subject": "Не печатает принтер",
                "Body": "Принтер в бухгалтерии не печатает.\n\n---\n\
                    Telegram: Анна Смирнова (@anna_s), id 555001, ООО Ромашка\n\
                    Registered (UTC): 2026-11-21T11:58:00.5Z\n\
                    Source: https://t.me/c/1234567890/42\n\
                    tg-key: tg:-1001234567890:42",
                "ContentType": "text/plain; charset=utf8",
                "HistoryComment": "teledesk (Telegram)",
            },
            "DynamicField": [
                {"Name": "Company", "Value": "ООО Ромашка"},
                {"Name": "TeledeskKey", "Value": "tg:-1001234567890:42"},
            ],
            "Attachment": [
                {"Content": "iVBORw==", "ContentType": "image/png", "Filename": "screenshot.png"},
            ],
        })
    );
}

#[tokio::test]
async fn a_retried_create_searches_the_key_field_first() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(route("/TicketSearch")))
        .and(body_partial_json(json!({
            "SessionID": SESSION,
            "DynamicField_TeledeskKey": {"Equals": "tg:-1001234567890:42"},
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"TicketID": ["4012"]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(route("/Ticket/4012")))
        .respond_with(ok("ticket_get.json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(route("/Ticket")))
        .respond_with(ok("ticket_create.json"))
        .expect(0)
        .mount(&server)
        .await;
    let mut d = draft();
    d.retry = true;
    let found = adapter(&server, json!({}))
        .create_ticket(&d)
        .await
        .expect("found");
    assert_eq!(found.number, "2026112110000036");
}

#[tokio::test]
async fn get_ticket_maps_the_recorded_ticket() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(route("/Ticket/4012")))
        .and(query_param("SessionID", SESSION))
        .and(query_param("AllArticles", "1"))
        .and(query_param("DynamicFields", "1"))
        .and(query_param("Attachments", "1"))
        .and(query_param("GetAttachmentContents", "0"))
        .respond_with(ok("ticket_get.json"))
        .expect(1)
        .mount(&server)
        .await;
    let ticket = adapter(&server, json!({"resolution_field": "Resolution"}))
        .get_ticket(&TicketId("4012".into()))
        .await
        .expect("get");
    assert_eq!(ticket.status, StatusClass::InProgress);
    assert_eq!(ticket.state, "open");
    assert_eq!(ticket.assignee.as_deref(), Some("mivanova"));
    // Open tickets report no resolution even when the field is filled.
    assert_eq!(ticket.resolution, None);
    assert_eq!(ticket.updated_at, datetime!(2026-11-21 12:06:40 UTC));
    assert_eq!(ticket.description, "Принтер в бухгалтерии не печатает.");
    assert_eq!(
        samples::comment_kinds(&ticket),
        [
            (Visibility::Public, Origin::Teledesk),
            (Visibility::Internal, Origin::Staff),
            (Visibility::Public, Origin::Staff),
            (Visibility::Internal, Origin::Staff),
            (Visibility::Internal, Origin::Teledesk),
            // 9107 carries a marker but a staff agent created it: staff's, by `CreateBy`.
            (Visibility::Public, Origin::Staff),
        ]
    );
}

#[tokio::test]
async fn changes_since_searches_then_reads_in_one_batch() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(route("/TicketSearch")))
        .and(body_partial_json(json!({
            "TicketLastChangeTimeNewerDate": "2026-11-21 15:06:30",
            "CreatedUserIDs": ["2"],
            "SortBy": "Changed",
            "OrderBy": "Up",
            "Limit": 500,
        })))
        .respond_with(ok("ticket_search.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(route("/Ticket/4012,4015")))
        .and(query_param("ArticleLimit", "1"))
        .and(query_param("ArticleOrder", "DESC"))
        .and(query_param("DynamicFields", "1"))
        .respond_with(ok("ticket_changes.json"))
        .expect(1)
        .mount(&server)
        .await;
    let cursor = Cursor::starting_at(datetime!(2026-11-21 12:06:32 UTC));
    let batch = adapter(&server, json!({}))
        .changes_since(&cursor)
        .await
        .expect("poll");
    assert_eq!(samples::changed_ids(&batch), ["4012", "4015"]);
    let since = batch.cursor.since.expect("advanced");
    assert_eq!(
        since.replace_nanosecond(0).expect("ns"),
        datetime!(2026-11-21 12:07:02 UTC),
        "the newest server time seen, read in the server's zone"
    );
}

#[tokio::test]
async fn nothing_changed_is_an_empty_object() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(route("/TicketSearch")))
        .respond_with(ok("ticket_search_empty.json"))
        .mount(&server)
        .await;
    let cursor = Cursor::starting_at(datetime!(2026-11-21 12:06:32 UTC));
    let batch = adapter(&server, json!({}))
        .changes_since(&cursor)
        .await
        .expect("poll");
    assert!(batch.changes.is_empty());
    assert_eq!(batch.cursor, cursor);
}

#[tokio::test]
async fn download_decodes_the_recorded_content() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(route("/Ticket/4012")))
        .and(query_param("GetAttachmentContents", "1"))
        .and(query_param("ArticleSenderType", "agent"))
        .respond_with(ok("ticket_download.json"))
        .expect(1)
        .mount(&server)
        .await;
    let file = adapter(&server, json!({}))
        .download(&AttachmentRef {
            id: "4012:9104:1:agent".into(),
            file_name: "отчёт.pdf".into(),
            content_type: Some("application/pdf".into()),
            size: Some(5),
            url: None,
        })
        .await
        .expect("download");
    assert_eq!(file.file_name, "отчёт.pdf");
    assert_eq!(file.content_type, "application/pdf");
    assert_eq!(file.content.read_all().await.unwrap(), b"%PDF-");
}

#[tokio::test]
async fn a_refused_session_is_replaced_once() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(route("/Ticket/4012")))
        .respond_with(ok("error_auth_fail.json"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(route("/Ticket/4012")))
        .respond_with(ok("ticket_get.json"))
        .mount(&server)
        .await;
    let znuny = adapter(&server, json!({}));
    // The first login happens for the agent's id; the refusal forces the second.
    znuny
        .get_ticket(&TicketId("4012".into()))
        .await
        .expect("re-authenticated");
    let logins = requests(&server)
        .await
        .iter()
        .filter(|r| r.url.path() == route("/Session"))
        .count();
    assert_eq!(logins, 2);
}

#[tokio::test]
async fn a_session_refused_again_is_permission_denied() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(route("/Ticket/4012")))
        .respond_with(ok("error_auth_fail.json"))
        .mount(&server)
        .await;
    let err = adapter(&server, json!({}))
        .get_ticket(&TicketId("4012".into()))
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    let attempts = requests(&server)
        .await
        .iter()
        .filter(|r| r.url.path() == route("/Ticket/4012"))
        .count();
    assert_eq!(attempts, 2, "one repeat with a fresh session, no loop");
}

#[tokio::test]
async fn errors_sent_with_200_and_500_are_classified() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(route("/Ticket/4012")))
        .respond_with(ok("error_access_denied.json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(route("/Ticket")))
        .respond_with(
            ResponseTemplate::new(500)
                .insert_header("content-type", "text/plain; charset=UTF-8")
                .set_body_string(fixture_text("fault_500.json")),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(route("/TicketSearch")))
        .respond_with(ResponseTemplate::new(500).set_body_string(fixture_text("route_missing.txt")))
        .mount(&server)
        .await;
    let znuny = adapter(&server, json!({}));
    let err = znuny
        .get_ticket(&TicketId("4012".into()))
        .await
        .expect_err("denied");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(!err.is_temporary());
    let err = znuny.create_ticket(&draft()).await.expect_err("fault");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_temporary());
    let err = znuny
        .changes_since(&Cursor::starting_at(datetime!(2026-11-21 12:00:00 UTC)))
        .await
        .expect_err("no route");
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
}

#[test]
fn the_shipped_web_service_defines_every_route_the_client_uses() {
    let yaml = std::fs::read_to_string(format!(
        "{}/teledesk-webservice.yml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("teledesk-webservice.yml");
    // RouteOperationMapping entries: operation, method, route.
    for (operation, method, route) in [
        ("SessionCreate", "POST", "/Session"),
        ("SessionGet", "GET", "/Session/:SessionID"),
        ("TicketCreate", "POST", "/Ticket"),
        ("TicketGet", "GET", "/Ticket/:TicketID"),
        ("TicketSearch", "POST", "/TicketSearch"),
        ("TicketUpdate", "PATCH", "/Ticket/:TicketID"),
    ] {
        let entry = format!(
            "        {operation}:\n          RequestMethod:\n          - {method}\n          Route: {route}\n"
        );
        assert!(yaml.contains(&entry), "missing route mapping:\n{entry}");
        let kind = if operation.starts_with("Session") {
            format!("Type: Session::{operation}")
        } else {
            format!("Type: Ticket::{operation}")
        };
        assert!(yaml.contains(&kind), "missing operation {kind}");
    }
    assert!(yaml.contains("Type: HTTP::REST"));
}
