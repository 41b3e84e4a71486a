//! The conformance suite against a live Request Tracker 5, run by `.ci/run` after
//! `../shared/helpdesks/rt5-up.sh`:
//!
//! ```sh
//! RT_URL=http://127.0.0.1:8091 RT_TOKEN=1-14-… TELEDESK_LIVE_REQUIRED=1 \
//!     cargo test -p teledesk-rt --test live
//! ```
//!
//! - `RT_URL`: RT's web address (unset: every case skips, or fails under
//!   `TELEDESK_LIVE_REQUIRED=1`);
//! - `RT_TOKEN`: the integration user's auth token;
//! - `RT_STAFF_TOKEN` (optional): a staff user's token for the staff side; default `RT_TOKEN`,
//!   since the CI server has one token (root's) and REST2 cannot grant a second user rights;
//! - `RT_INTAKE_FIELD` (optional; `.ci/rt5-up.sh` makes `Contract`): a free-text ticket custom
//!   field applied to `RT_QUEUE`, which the intake case writes; unset, that case says it skipped;
//! - `RT_CHAT_FIELD`, `RT_ANNOUNCEMENT_FIELD` (optional; `.ci/rt5-up.sh` makes `Telegram chat`
//!   and `Announcement`, a select whose one value is `yes`): the ticket custom fields on
//!   `RT_QUEUE` that address a staff ticket to a chat; unset, the staff-ticket case skips;
//! - `RT_REGISTERED_FIELD` (optional; `.ci/rt5-up.sh` makes `Registered`): a free-text ticket
//!   custom field on `RT_QUEUE` that takes the registration time; unset, that case skips;
//! - `RT_QUEUE` (optional, default `CI Support`): the chat's queue, checked by placement;
//! - `RT_DEFAULT_QUEUE` (optional, default `General`): the helpdesk's queue;
//! - `RT_REQUESTOR` (optional, `login:password:address`, default rt5-up.sh's `alice`): a requester
//!   who may reply to her tickets in `RT_QUEUE`.
//!
//! Every case creates its own tickets with unique keys, so reruns against one server pass. After
//! the suite come a few live checks of RT behaviour the adapter works around.

use serde_json::json;
use std::sync::Arc;
use teledesk_adapter::{
    Attachment, AttachmentRef, CommentDraft, ErrorKind, Helpdesk, IdempotencyKey, Origin, TicketId,
    Visibility,
};
use teledesk_rt::RtAdapter;
use teledesk_testkit::conformance::{Subject, draft, no_subject};
use teledesk_testkit::rt::RtBackstage;
use teledesk_testkit::samples;
use time::OffsetDateTime;

teledesk_testkit::conformance_suite!(live_subject);

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

async fn live_subject() -> Option<Subject> {
    let url = env("RT_URL")?;
    let token = env("RT_TOKEN").expect("RT_URL is set but RT_TOKEN is not");
    let staff_token = env("RT_STAFF_TOKEN").unwrap_or_else(|| token.clone());
    let queue = env("RT_QUEUE").unwrap_or_else(|| "CI Support".to_owned());
    let default_queue = env("RT_DEFAULT_QUEUE").unwrap_or_else(|| "General".to_owned());
    let chat_field = env("RT_CHAT_FIELD");
    let announcement_field = env("RT_ANNOUNCEMENT_FIELD");
    let mut config = json!({
        "kind": "rt",
        "poll_interval": "10s",
        "url": url,
        "token": token,
        "queue": default_queue,
    });
    if let Some(field) = &chat_field {
        config["chat_field"] = json!(field);
    }
    if let Some(field) = &announcement_field {
        config["announcement_field"] = json!(field);
    }
    let adapter = RtAdapter::from_config(&samples::table(config)).expect("valid config");
    Some(Subject {
        adapter: Arc::new(adapter),
        backstage: Arc::new({
            let mut backstage = RtBackstage::new(&url, &staff_token).with_integration_token(&token);
            if let Some(name) = env("RT_INTAKE_FIELD") {
                backstage = backstage.with_intake_field(&name);
            }
            if let Some(name) = env("RT_REGISTERED_FIELD") {
                backstage = backstage.with_registered_field(&name);
            }
            if let (Some(chat), Some(announcement)) = (&chat_field, &announcement_field) {
                backstage = backstage.with_address_fields(&queue, chat, announcement);
            }
            backstage
        }),
        defaults: samples::table(json!({ "queue": queue })),
        expected_placement: queue,
        keep_alive: Vec::new(),
    })
}

fn unique_key(tag: u32) -> IdempotencyKey {
    let micros = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000 % 1_000_000_000_000;
    IdempotencyKey(format!("tg:-100{}:{micros}{tag}", std::process::id()))
}

/// RT 5.0.3 answers 500 to JSON attachments with non-ASCII names; the adapter uploads multipart.
#[tokio::test]
async fn live_non_ascii_file_names_round_trip() {
    let Some(subject) = live_subject().await else {
        return no_subject("live_non_ascii_file_names_round_trip");
    };
    let created = subject
        .adapter
        .create_ticket(&draft(&subject, "Files with names"))
        .await
        .expect("create_ticket");
    let pdf = Attachment {
        file_name: "Акт диагностики.pdf".into(),
        content_type: "application/pdf".into(),
        content: b"%PDF-1.4\n\x00\x01\xff binary".into(),
    };
    let comment = CommentDraft {
        key: unique_key(1),
        author: draft(&subject, "x").requester,
        body: "Акт во вложении".into(),
        attachments: vec![pdf.clone()],
        source_url: None,
        written_at: OffsetDateTime::now_utc(),
        retry: false,
    };
    let id = subject
        .adapter
        .add_comment(&created.id, &comment)
        .await
        .expect("add_comment");
    let ticket = subject
        .adapter
        .get_ticket(&created.id)
        .await
        .expect("get_ticket");
    let own = ticket
        .comments
        .iter()
        .find(|c| c.id == id)
        .expect("the comment");
    let file = subject
        .adapter
        .download(&own.attachments[0])
        .await
        .expect("download");
    assert_eq!(file.file_name, pdf.file_name);
    assert!(file.content == pdf.content, "bytes changed");
}

/// RT answers 400 to a message for a missing ticket and 500 for a missing attachment; the
/// adapter reports both as not found.
#[tokio::test]
async fn live_missing_ticket_and_attachment_are_not_found() {
    let Some(subject) = live_subject().await else {
        return no_subject("live_missing_ticket_and_attachment_are_not_found");
    };
    let comment = CommentDraft {
        key: unique_key(2),
        author: draft(&subject, "x").requester,
        body: "x".into(),
        attachments: Vec::new(),
        source_url: None,
        written_at: OffsetDateTime::now_utc(),
        retry: false,
    };
    let e = subject
        .adapter
        .add_comment(&TicketId("999999999".into()), &comment)
        .await
        .expect_err("missing ticket");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let missing = AttachmentRef {
        id: "999999999".into(),
        file_name: "x".into(),
        content_type: None,
        size: None,
        url: None,
    };
    let e = subject
        .adapter
        .download(&missing)
        .await
        .expect_err("missing attachment");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
}

/// RT 5's web UI writes replies as HTML only; they read back as staff text.
#[tokio::test]
async fn live_html_staff_reply_reads_as_text() {
    let Some(subject) = live_subject().await else {
        return no_subject("live_html_staff_reply_reads_as_text");
    };
    let created = subject
        .adapter
        .create_ticket(&draft(&subject, "HTML reply"))
        .await
        .expect("create_ticket");
    let url = env("RT_URL").expect("set");
    let token = env("RT_STAFF_TOKEN")
        .or_else(|| env("RT_TOKEN"))
        .expect("set");
    let response = reqwest::Client::new()
        .post(format!("{url}/REST/2.0/ticket/{}/correspond", created.id))
        .header("Authorization", format!("token {token}"))
        .json(&json!({
            "Content": "<p>Здравствуйте!</p><p>Заменили <b>картридж</b> &amp; барабан</p>",
            "ContentType": "text/html",
        }))
        .send()
        .await
        .expect("send");
    assert!(response.status().is_success(), "{}", response.status());
    let ticket = subject
        .adapter
        .get_ticket(&created.id)
        .await
        .expect("get_ticket");
    let reply = ticket
        .comments
        .iter()
        .find(|c| c.body.contains("Здравствуйте!"))
        .unwrap_or_else(|| panic!("reply not read: {:?}", ticket.comments));
    assert_eq!(reply.body, "Здравствуйте!\n\nЗаменили картридж & барабан");
    assert_eq!(reply.origin, Origin::Staff);
    assert_eq!(reply.visibility, Visibility::Public);
}

/// A requestor's own reply (here by e-mail's stand-in, REST2 with their password) reads as the
/// requester's, not as staff's. `rt5-up.sh` provisions `alice` (`alice@example.test`,
/// `alice-pass-1`) with the rights to reply to her tickets in `CI Support`; `RT_REQUESTOR` =
/// `login:password:address` names another.
#[tokio::test]
async fn live_requestor_reply_is_the_requesters() {
    let Some(subject) = live_subject().await else {
        return no_subject("live_requestor_reply_is_the_requesters");
    };
    let requestor =
        env("RT_REQUESTOR").unwrap_or_else(|| "alice:alice-pass-1:alice@example.test".to_owned());
    let mut fields = requestor.splitn(3, ':');
    let (Some(login), Some(password), Some(address)) =
        (fields.next(), fields.next(), fields.next())
    else {
        panic!("RT_REQUESTOR must be login:password:address");
    };
    let url = env("RT_URL").expect("set");
    let table = samples::table(json!({
        "url": url,
        "token": env("RT_TOKEN").expect("set"),
        "queue": env("RT_DEFAULT_QUEUE").unwrap_or_else(|| "General".to_owned()),
        "requestor": address,
    }));
    let adapter = RtAdapter::from_config(&table).expect("valid config");
    let created = adapter
        .create_ticket(&draft(&subject, "Requestor reply"))
        .await
        .expect("create_ticket");
    let response = reqwest::Client::new()
        .post(format!("{url}/REST/2.0/ticket/{}/correspond", created.id))
        .basic_auth(login, Some(password))
        .json(&json!({"Content": "Отвечаю по почте", "ContentType": "text/plain"}))
        .send()
        .await
        .expect("send");
    assert!(response.status().is_success(), "{}", response.status());
    let ticket = adapter.get_ticket(&created.id).await.expect("get_ticket");
    let reply = ticket
        .comments
        .iter()
        .find(|c| c.body == "Отвечаю по почте")
        .unwrap_or_else(|| panic!("reply not read: {:?}", ticket.comments));
    assert_eq!(reply.origin, Origin::Requester);
    assert_eq!(reply.visibility, Visibility::Public);
}
