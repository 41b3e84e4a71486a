//! Contract tests: the adapter against wiremock serving the payloads in `fixtures/zammad/`,
//! checking the exact requests it sends.

use serde_json::{Value, json};
use std::time::Duration;
use teledesk_adapter::{
    Attachment, AttachmentRef, CommentDraft, Cursor, ErrorKind, Escalation, Helpdesk, StatusClass,
    TicketDraft, TicketId, WebhookRequest,
};
use teledesk_testkit::samples;
use teledesk_zammad::ZammadAdapter;
use time::macros::datetime;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "contract-token";
const SECRET: &str = "contract-webhook-secret";

fn fixture(name: &str) -> Value {
    samples::fixture("zammad", name)
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(fixture(name))
}

fn created(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(fixture(name))
}

fn adapter(server: &MockServer, extra: Value) -> ZammadAdapter {
    let table = samples::table_with(
        json!({
            "kind": "zammad",
            "url": server.uri(),
            "token": TOKEN,
            "group": "Users",
            "customer": "guess:telegram@acme.example",
            "webhook_secret": SECRET,
        }),
        extra,
    );
    ZammadAdapter::from_config(&table).expect("valid config")
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    // Requests without the token fall through to wiremock's 404 and fail loudly.
    Mock::given(header(
        "authorization",
        format!("Token token={TOKEN}").as_str(),
    ))
    .and(method("GET"))
    .and(path("/api/v1/users/me"))
    .respond_with(ok("users_me.json"))
    .mount(&server)
    .await;
    server
}

/// The recorded ticket, from the client as the Zammad fixtures know her.
fn draft() -> TicketDraft {
    TicketDraft {
        requester: samples::acme_requester(),
        ..samples::recorded_draft()
    }
}

/// The recorded comment: message 44 with a second photo.
fn comment() -> CommentDraft {
    let photo = Attachment {
        file_name: "photo2.jpg".into(),
        content_type: "image/jpeg".into(),
        content: vec![255, 216, 255].into(),
    };
    CommentDraft {
        author: samples::acme_requester(),
        attachments: vec![photo],
        source_url: Some(samples::message_url(44)),
        written_at: datetime!(2026-11-21 12:06:00 UTC),
        ..samples::comment(44, "Ещё одно фото")
    }
}

fn body_of(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

async fn requests(server: &MockServer, verb: &str, url_path: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("recorded")
        .into_iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == url_path)
        .collect()
}

#[tokio::test]
async fn check_reads_the_current_user_with_a_token_header() {
    let server = server().await;
    let identity = adapter(&server, json!({})).check().await.expect("check");
    assert_eq!(
        (identity.id.as_str(), identity.name.as_str()),
        ("3", "teledesk bot")
    );
}

#[tokio::test]
async fn create_ticket_sends_the_documented_request() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/tickets"))
        .respond_with(created("ticket_created.json"))
        .expect(1)
        .mount(&server)
        .await;
    let mut draft = draft();
    draft.defaults = samples::table(json!({
        "group": "Telegram", "priority_id": 1, "organization": "Acme",
        "customer": "guess:tg{telegram_id}@telegram.acme.example",
        "attributes": {"contract": "VIP-7"},
    }));
    let reference = adapter(&server, json!({}))
        .create_ticket(&draft)
        .await
        .expect("create");
    assert_eq!(reference.id, TicketId("101".into()));
    assert_eq!(reference.number, "31001");
    assert_eq!(
        reference.url,
        Some(format!("{}/#ticket/zoom/101", server.uri()))
    );

    let posts = requests(&server, "POST", "/api/v1/tickets").await;
    assert_eq!(
        body_of(&posts[0]),
        json!({
            "title": "Не печатает принтер",
            "group": "Telegram",
            "customer_id": "guess:tg500001@telegram.acme.example",
            "priority_id": 1,
            "organization": "Acme",
            "note": "tg:-1001234567890:42",
            "contract": "VIP-7",
            "article": {
                "subject": "Не печатает принтер",
                "body": "Принтер в бухгалтерии не печатает.\n\n--\n\
                         Telegram: Анна Смирнова (@anna_smirnova), id 500001, Acme Kazan\n\
                         Registered (UTC): 2026-11-21T11:58:00.5Z\n\
                         Source: https://t.me/c/1234567890/42",
                "content_type": "text/plain",
                "type": "web",
                "internal": false,
                "sender": "Customer",
                "message_id": "<tg:-1001234567890:42@teledesk>",
                "attachments": [
                    {"filename": "screenshot.png", "data": "iVBORw==", "mime-type": "image/png"}
                ],
            },
        })
    );
}

#[tokio::test]
async fn create_ticket_without_chat_defaults_uses_the_helpdesk_ones() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/tickets"))
        .and(body_partial_json(json!({
            "group": "Users",
            "customer_id": "guess:telegram@acme.example",
        })))
        .respond_with(created("ticket_created.json"))
        .expect(1)
        .mount(&server)
        .await;
    adapter(&server, json!({}))
        .create_ticket(&draft())
        .await
        .expect("create");
    let body = body_of(&requests(&server, "POST", "/api/v1/tickets").await[0]);
    assert!(body.get("priority_id").is_none(), "{body}");
    assert!(body.get("organization").is_none(), "{body}");
}

#[tokio::test]
async fn create_ticket_rejects_invalid_chat_defaults_without_a_request() {
    let server = server().await;
    let mut draft = draft();
    draft.defaults = samples::table(json!({"queue": "x"}));
    let err = adapter(&server, json!({}))
        .create_ticket(&draft)
        .await
        .expect_err("invalid defaults");
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert!(
        requests(&server, "POST", "/api/v1/tickets")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_retried_create_finds_the_ticket_by_its_note() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/tickets/search"))
        .and(query_param("query", "note:\"tg:-1001234567890:42\""))
        .and(query_param("expand", "true"))
        .respond_with(ok("tickets_search_expanded.json"))
        .expect(1)
        .mount(&server)
        .await;
    let mut draft = draft();
    draft.retry = true;
    let reference = adapter(&server, json!({}))
        .create_ticket(&draft)
        .await
        .expect("found");
    assert_eq!(reference.id, TicketId("101".into()));
    assert!(
        requests(&server, "POST", "/api/v1/tickets")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_follow_up_is_linked_to_the_closed_ticket_by_number() {
    let server = server().await;
    let mut created_ticket = fixture("ticket_created.json");
    created_ticket["id"] = json!(105);
    created_ticket["number"] = json!("31005");
    Mock::given(method("POST"))
        .and(path("/api/v1/tickets"))
        .respond_with(ResponseTemplate::new(201).set_body_json(created_ticket))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/links/add"))
        .respond_with(created("link_added.json"))
        .expect(1)
        .mount(&server)
        .await;
    let mut draft = draft();
    draft.follow_up_of = Some(teledesk_adapter::TicketRef {
        id: TicketId("101".into()),
        number: "31001".into(),
        url: None,
    });
    let reference = adapter(&server, json!({}))
        .create_ticket(&draft)
        .await
        .expect("create");
    assert_eq!(reference.number, "31005");
    let post = body_of(&requests(&server, "POST", "/api/v1/tickets").await[0]);
    assert!(
        post["article"]["body"]
            .as_str()
            .is_some_and(|b| b.ends_with("Follow-up of: #31001")),
        "{post}"
    );
    let link = body_of(&requests(&server, "POST", "/api/v1/links/add").await[0]);
    assert_eq!(
        link,
        json!({
            "link_type": "normal",
            "link_object_source": "Ticket",
            "link_object_source_number": "31001",
            "link_object_target": "Ticket",
            "link_object_target_value": 105,
        })
    );
}

#[tokio::test]
async fn a_refused_link_does_not_fail_the_follow_up() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/tickets"))
        .respond_with(created("ticket_created.json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/links/add"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({"error": "No such object!"})))
        .mount(&server)
        .await;
    let mut draft = draft();
    draft.follow_up_of = Some(teledesk_adapter::TicketRef {
        id: TicketId("99".into()),
        number: "30099".into(),
        url: None,
    });
    adapter(&server, json!({}))
        .create_ticket(&draft)
        .await
        .expect("the ticket exists even if the original is gone");
}

#[tokio::test]
async fn add_comment_posts_a_customer_web_article() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/ticket_articles"))
        .respond_with(created("article_created.json"))
        .expect(1)
        .mount(&server)
        .await;
    let id = adapter(&server, json!({}))
        .add_comment(&TicketId("101".into()), &comment())
        .await
        .expect("comment");
    assert_eq!(id.0, "507");
    let post = body_of(&requests(&server, "POST", "/api/v1/ticket_articles").await[0]);
    assert_eq!(
        post,
        json!({
            "ticket_id": 101,
            "body": "Ещё одно фото\n\n--\nTelegram: Анна Смирнова (@anna_smirnova), id 500001, \
                     Acme Kazan\nSource: https://t.me/c/1234567890/44",
            "content_type": "text/plain",
            "type": "web",
            "internal": false,
            "sender": "Customer",
            "message_id": "<tg:-1001234567890:44@teledesk>",
            "attachments": [{"filename": "photo2.jpg", "data": "/9j/", "mime-type": "image/jpeg"}],
        })
    );
}

#[tokio::test]
async fn a_retried_comment_finds_the_article_by_message_id() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/ticket_articles/by_ticket/101"))
        .respond_with(ok("articles_by_ticket.json"))
        .mount(&server)
        .await;
    let mut draft = comment();
    draft.key = samples::key(43);
    draft.retry = true;
    let id = adapter(&server, json!({}))
        .add_comment(&TicketId("101".into()), &draft)
        .await
        .expect("found");
    assert_eq!(id.0, "504");
    assert!(
        requests(&server, "POST", "/api/v1/ticket_articles")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_retry_ignores_an_article_of_someone_else_with_its_message_id() {
    let server = server().await;
    // A mail whose sender chose teledesk's message id for the key: not teledesk's earlier write.
    let mut articles = fixture("articles_by_ticket.json");
    let forged = articles
        .as_array_mut()
        .and_then(|a| a.iter_mut().find(|a| a["id"] == json!(504)))
        .expect("article 504 in the fixture");
    forged["created_by_id"] = json!(77);
    Mock::given(method("GET"))
        .and(path("/api/v1/ticket_articles/by_ticket/101"))
        .respond_with(ResponseTemplate::new(200).set_body_json(articles))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/ticket_articles"))
        .respond_with(created("article_created.json"))
        .expect(1)
        .mount(&server)
        .await;
    let mut draft = comment();
    draft.key = samples::key(43);
    draft.retry = true;
    let id = adapter(&server, json!({}))
        .add_comment(&TicketId("101".into()), &draft)
        .await
        .expect("written");
    assert_eq!(id.0, "507");
}

async fn mount_ticket(server: &MockServer, ticket: Value) {
    Mock::given(method("GET"))
        .and(path("/api/v1/tickets/101"))
        .and(query_param("expand", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ticket))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/ticket_articles/by_ticket/101"))
        .respond_with(ok("articles_by_ticket.json"))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users/4"))
        .respond_with(ok("user_agent.json"))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/ticket_states"))
        .respond_with(ok("ticket_states.json"))
        .mount(server)
        .await;
}

#[tokio::test]
async fn get_ticket_reads_ticket_articles_and_owner() {
    let server = server().await;
    mount_ticket(&server, fixture("ticket_expanded.json")).await;
    let ticket = adapter(&server, json!({}))
        .get_ticket(&TicketId("101".into()))
        .await
        .expect("ticket");
    assert_eq!(ticket.status, StatusClass::InProgress);
    assert_eq!(ticket.state, "open");
    assert_eq!(ticket.assignee.as_deref(), Some("Мария Иванова"));
    assert_eq!(ticket.description, "Принтер в бухгалтерии не печатает.");
    assert_eq!(ticket.comments.len(), 5);
    // A default state by name needs no state list.
    assert!(
        requests(&server, "GET", "/api/v1/ticket_states")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_custom_state_is_classed_by_its_state_type() {
    let server = server().await;
    let mut ticket = fixture("ticket_expanded.json");
    ticket["state_id"] = json!(8);
    ticket["state"] = json!("waiting for vendor");
    ticket["owner_id"] = json!(1);
    mount_ticket(&server, ticket).await;
    let zammad = adapter(&server, json!({}));
    let read = zammad
        .get_ticket(&TicketId("101".into()))
        .await
        .expect("ticket");
    assert_eq!(read.status, StatusClass::InProgress);
    assert_eq!(read.assignee, None, "owner 1 is nobody");
    let configured = adapter(
        &server,
        json!({"statuses": {"waiting for vendor": "waiting_third_party"}}),
    );
    let read = configured
        .get_ticket(&TicketId("101".into()))
        .await
        .expect("ticket");
    assert_eq!(read.status, StatusClass::WaitingThirdParty);
    // The state list was read once, by the adapter without the override, and cached.
    zammad
        .get_ticket(&TicketId("101".into()))
        .await
        .expect("ticket");
    assert_eq!(
        requests(&server, "GET", "/api/v1/ticket_states")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn changes_since_searches_by_update_time() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/tickets/search"))
        .and(query_param(
            "query",
            "updated_at:[2026-11-21T12:04:58.000Z TO *]",
        ))
        .and(query_param("sort_by", "updated_at"))
        .and(query_param("order_by", "asc"))
        .and(query_param("per_page", "100"))
        .and(query_param("page", "1"))
        .and(query_param("expand", "true"))
        .respond_with(ok("tickets_search_expanded.json"))
        .expect(1)
        .mount(&server)
        .await;
    let cursor = Cursor::starting_at(datetime!(2026-11-21 12:05:00 UTC));
    let batch = adapter(&server, json!({}))
        .changes_since(&cursor)
        .await
        .expect("changes");
    assert_eq!(samples::changed_ids(&batch), ["101", "102"]);
    assert_eq!(
        batch.cursor.since,
        Some(datetime!(2026-11-21 12:06:00.010 UTC))
    );
}

#[tokio::test]
async fn the_first_poll_starts_now_without_a_request() {
    let server = server().await;
    let batch = adapter(&server, json!({}))
        .changes_since(&Cursor::default())
        .await
        .expect("changes");
    assert!(batch.changes.is_empty());
    assert!(batch.cursor.since.is_some());
    assert!(
        requests(&server, "GET", "/api/v1/tickets/search")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn set_status_writes_the_state_by_name() {
    let server = server().await;
    Mock::given(method("PUT"))
        .and(path("/api/v1/tickets/101"))
        .and(query_param("expand", "true"))
        .respond_with(ok("ticket_expanded.json"))
        .expect(2)
        .mount(&server)
        .await;
    let zammad = adapter(&server, json!({}));
    let ticket = TicketId("101".into());
    zammad.reopen(&ticket).await.expect("reopen");
    zammad
        .set_status(&ticket, StatusClass::ClientReplied)
        .await
        .expect("client replied");
    let err = zammad
        .set_status(&ticket, StatusClass::WaitingClient)
        .await
        .expect_err("a pending state needs a time");
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let puts = requests(&server, "PUT", "/api/v1/tickets/101").await;
    assert_eq!(body_of(&puts[0]), json!({"state": "open"}));
    assert_eq!(body_of(&puts[1]), json!({"state": "open"}));
}

#[tokio::test]
async fn download_reads_the_attachment_path() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/ticket_attachment/101/503/902"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/octet-stream")
                .set_body_bytes(vec![37, 80, 68, 70, 0]),
        )
        .mount(&server)
        .await;
    let reference = AttachmentRef {
        id: "101/503/902".into(),
        file_name: "отчёт.pdf".into(),
        content_type: Some("application/pdf".into()),
        size: Some(5),
        url: None,
    };
    let file = adapter(&server, json!({}))
        .download(&reference)
        .await
        .expect("download");
    assert_eq!(file.content.read_all().await.unwrap(), [37, 80, 68, 70, 0]);
    assert_eq!(file.file_name, "отчёт.pdf");
    assert_eq!(file.content_type, "application/pdf");
    let bad = AttachmentRef {
        id: "https://elsewhere.example/file".into(),
        ..reference
    };
    let err = adapter(&server, json!({}))
        .download(&bad)
        .await
        .expect_err("not an attachment id");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn escalate_notes_first_then_raises_the_priority() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/tickets/101"))
        .respond_with(ok("ticket_expanded.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/ticket_priorities"))
        .respond_with(ok("ticket_priorities.json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/ticket_articles"))
        .respond_with(created("article_created.json"))
        .mount(&server)
        .await;
    let mut raised = fixture("ticket_expanded.json");
    raised["priority_id"] = json!(2);
    raised["priority"] = json!("2 normal");
    Mock::given(method("PUT"))
        .and(path("/api/v1/tickets/101"))
        .respond_with(ResponseTemplate::new(200).set_body_json(raised))
        .mount(&server)
        .await;
    let note = samples::note(50, "Обратите внимание. Эскалация заявки");
    let outcome = adapter(&server, json!({}))
        .escalate(&TicketId("101".into()), &note)
        .await
        .expect("escalate");
    assert_eq!(
        outcome,
        Escalation::PriorityRaised {
            to: "2 normal".into()
        }
    );
    let all = server.received_requests().await.expect("recorded");
    let post = all
        .iter()
        .position(|r| r.method.as_str() == "POST")
        .expect("a note");
    let put = all
        .iter()
        .position(|r| r.method.as_str() == "PUT")
        .expect("a priority change");
    assert!(post < put, "the note comes before the priority change");
    assert_eq!(
        body_of(&all[post]),
        json!({
            "ticket_id": 101,
            "body": "Обратите внимание. Эскалация заявки\n\nPriority: 1 low → 2 normal",
            "content_type": "text/plain",
            "type": "note",
            "internal": true,
            "sender": "Agent",
            "message_id": "<tg:-1001234567890:50@teledesk>",
        })
    );
    assert_eq!(body_of(&all[put]), json!({"priority_id": 2}));
}

fn webhook(body: &[u8], signature: Option<String>) -> WebhookRequest {
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-zammad-trigger".to_owned(), "teledesk".to_owned()),
    ];
    if let Some(signature) = signature {
        headers.push(("x-hub-signature".to_owned(), signature));
    }
    WebhookRequest {
        headers,
        body: body.to_vec(),
    }
}

#[tokio::test]
async fn webhooks_are_verified_then_read() {
    let server = server().await;
    let zammad = adapter(&server, json!({}));
    let body = serde_json::to_vec(&fixture("webhook_payload.json")).expect("json");
    let signed = webhook(&body, Some(teledesk_zammad::signature(SECRET, &body)));
    assert_eq!(
        zammad.parse_webhook(&signed).expect("valid"),
        [TicketId("101".into())]
    );
    let mut tampered = signed.clone();
    tampered.body[10] ^= 1;
    assert_eq!(
        zammad
            .parse_webhook(&tampered)
            .expect_err("tampered")
            .kind(),
        ErrorKind::PermissionDenied
    );
    let wrong_key = webhook(&body, Some(teledesk_zammad::signature("other", &body)));
    assert_eq!(
        zammad.parse_webhook(&wrong_key).expect_err("wrong").kind(),
        ErrorKind::PermissionDenied
    );
    assert_eq!(
        zammad
            .parse_webhook(&webhook(&body, None))
            .expect_err("unsigned")
            .kind(),
        ErrorKind::PermissionDenied
    );
    let junk = b"{\"hello\": 1}";
    let signed_junk = webhook(junk, Some(teledesk_zammad::signature(SECRET, junk)));
    assert_eq!(
        zammad.parse_webhook(&signed_junk).expect_err("junk").kind(),
        ErrorKind::InvalidInput
    );
}

#[tokio::test]
async fn without_a_secret_webhooks_are_off() {
    let server = server().await;
    let mut table = samples::table(json!({
        "url": server.uri(), "token": TOKEN, "group": "Users", "customer": 2,
    }));
    table.remove("webhook_secret");
    let zammad = ZammadAdapter::from_config(&table).expect("valid");
    assert!(!zammad.capability().webhook);
    assert!(!zammad.capability().webhook_signed);
    assert!(zammad.capability().poll);
    let body = b"{\"ticket\": {\"id\": 1}}";
    assert_eq!(
        zammad
            .parse_webhook(&webhook(body, None))
            .expect_err("off")
            .kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        adapter(&server, json!({})).capability(),
        teledesk_zammad::CAPABILITY
    );
}

#[tokio::test]
async fn http_errors_map_to_kinds() {
    let refused = MockServer::start().await;
    Mock::given(path("/api/v1/users/me"))
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("error_401.json")))
        .mount(&refused)
        .await;
    let err = adapter(&refused, json!({})).check().await.expect_err("401");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.message().contains("Can't find User for Token"), "{err}");
    assert!(!err.to_string().contains(TOKEN), "{err}");

    let server = server().await;
    Mock::given(path("/api/v1/tickets/999999"))
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error_404.json")))
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/tickets/search"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "3")
                .set_body_string("slow down"),
        )
        .mount(&server)
        .await;
    let zammad = adapter(&server, json!({}));
    let err = zammad
        .get_ticket(&TicketId("999999".into()))
        .await
        .expect_err("404");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(!err.is_temporary());
    let err = zammad
        .changes_since(&Cursor::starting_at(datetime!(2026-11-21 12:00:00 UTC)))
        .await
        .expect_err("429");
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.is_temporary());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
    let err = zammad
        .get_ticket(&TicketId("not-a-number".into()))
        .await
        .expect_err("bad id");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}
