//! The conformance cases. Each takes a [`Subject`], creates its own tickets (cases run in
//! parallel against one live server) and panics with a message naming what the adapter got wrong.

use super::Subject;
use crate::samples;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use teledesk_adapter::{
    Attachment, Comment, CommentDraft, CommentMark, Cursor, ErrorKind, Escalation, IdempotencyKey,
    IntakeCategory, IntakeField, NoteDraft, Origin, Rating, RatingStored, StatusClass, Ticket,
    TicketDraft, TicketId, TicketRef, TicketSnapshot, Visibility,
};
use time::OffsetDateTime;

/// Keys unique across cases, processes and repeated live runs against the same server.
fn fresh_key() -> IdempotencyKey {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    // A negative "chat id" like Telegram's supergroups; the message part carries the uniqueness.
    IdempotencyKey(format!(
        "tg:-100{}:{}{n}",
        std::process::id(),
        (nanos / 1_000) % 1_000_000_000
    ))
}

fn skip(case: &str, why: &str) {
    eprintln!("{case}: skipped — {why}");
}

/// A draft with a unique key and subject.
pub fn draft(subject: &Subject, title: &str) -> TicketDraft {
    let key = fresh_key();
    TicketDraft {
        subject: format!("{title} [{}]", key.as_str()),
        description: "Принтер в бухгалтерии не печатает.\nSecond line.".into(),
        key,
        requester: samples::acme_requester(),
        registered_at: OffsetDateTime::now_utc(),
        defaults: subject.defaults.clone(),
        ..samples::draft(42)
    }
}

fn comment_draft(body: &str, attachments: Vec<Attachment>) -> CommentDraft {
    CommentDraft {
        key: fresh_key(),
        author: samples::acme_requester(),
        attachments,
        source_url: Some(samples::message_url(43)),
        written_at: OffsetDateTime::now_utc(),
        ..samples::comment(43, body)
    }
}

/// Every byte value, so an adapter that treats files as text (UTF-8, line endings) is caught.
fn binary_file(name: &str) -> Attachment {
    let mut bytes: Vec<u8> = (0..=255u8).collect();
    bytes.extend_from_slice(b"\r\n\n\0\xff\xfe");
    bytes.extend((0..4096u32).map(|i| (i * 7 % 251) as u8));
    Attachment {
        file_name: name.into(),
        content_type: "application/octet-stream".into(),
        content: bytes.into(),
    }
}

fn png_file() -> Attachment {
    // A real 1×1 PNG: some helpdesks inspect images.
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F,
        0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8,
        0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00,
        0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];
    Attachment {
        file_name: "screen.png".into(),
        content_type: "image/png".into(),
        content: PNG.into(),
    }
}

async fn create(subject: &Subject, title: &str) -> (TicketRef, TicketDraft) {
    let draft = draft(subject, title);
    let created = subject
        .adapter
        .create_ticket(&draft)
        .await
        .unwrap_or_else(|e| panic!("create_ticket failed: {e}"));
    (created, draft)
}

async fn read(subject: &Subject, ticket: &TicketId) -> Ticket {
    subject
        .adapter
        .get_ticket(ticket)
        .await
        .unwrap_or_else(|e| panic!("get_ticket({ticket}) failed: {e}"))
}

fn must<T>(what: &str, result: Result<T, String>) -> T {
    result.unwrap_or_else(|e| panic!("backstage {what} failed: {e}"))
}

fn find_comment<'a>(ticket: &'a Ticket, needle: &str) -> Vec<&'a Comment> {
    ticket
        .comments
        .iter()
        .filter(|c| c.body.contains(needle))
        .collect()
}

/// Some vendors update search indexes or timestamps a moment after the write; the suite polls
/// reads for a while instead of sleeping a fixed time.
async fn eventually<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(why) if tokio::time::Instant::now() >= deadline => {
                panic!("{what}: still not true after 20 s: {why}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// `check` names the integration account.
pub async fn check_identifies_the_integration_account(subject: &Subject) {
    let identity = subject
        .adapter
        .check()
        .await
        .unwrap_or_else(|e| panic!("check failed: {e}"));
    assert!(!identity.id.is_empty(), "check returned an empty id");
    assert!(!identity.name.is_empty(), "check returned an empty name");
}

/// A new ticket has the subject and description, staff see who asked (name, @username, Telegram
/// id, company, link), and it lands where `[chats.ticket]` says.
pub async fn create_ticket_carries_requester_and_defaults(subject: &Subject) {
    let (created, draft) = create(subject, "Requester").await;
    assert!(!created.number.is_empty(), "ticket number is empty");
    let ticket = read(subject, &created.id).await;
    assert_eq!(ticket.reference.id, created.id);
    assert_eq!(ticket.subject, draft.subject, "subject differs");
    assert!(
        ticket
            .description
            .contains("Принтер в бухгалтерии не печатает."),
        "description lost the client's text: {:?}",
        ticket.description
    );
    assert_eq!(ticket.status, StatusClass::New, "a new ticket is not New");
    assert!(
        ticket
            .comments
            .iter()
            .all(|c| c.visibility == Visibility::Internal || c.origin != Origin::Staff),
        "a fresh ticket shows a public staff comment: {:?}",
        ticket.comments
    );
    let staff = must(
        "staff_text",
        subject.backstage.staff_text(&created.id).await,
    );
    for needle in [
        "Анна Смирнова",
        "anna_smirnova",
        "500001",
        "Acme Kazan",
        "https://t.me/c/1234567890/42",
    ] {
        assert!(
            staff.contains(needle),
            "staff do not see {needle:?} on the ticket; they see:\n{staff}"
        );
    }
    let placement = must("placement", subject.backstage.placement(&created.id).await);
    assert_eq!(
        placement, subject.expected_placement,
        "[chats.ticket] defaults were not applied"
    );
}

/// An intake category's table, merged over the chat's (here: over none), places the ticket as
/// `[chats.ticket]` itself would: every adapter builds from [`TicketDraft::ticket_table`].
pub async fn intake_category_places_the_ticket(subject: &Subject) {
    let mut draft = draft(subject, "Category");
    draft.intake.category = Some(IntakeCategory {
        id: "billing".into(),
        label: "Биллинг".into(),
        ticket: std::mem::take(&mut draft.defaults),
    });
    let created = subject
        .adapter
        .create_ticket(&draft)
        .await
        .unwrap_or_else(|e| panic!("create_ticket with a category failed: {e}"));
    let placement = must("placement", subject.backstage.placement(&created.id).await);
    assert_eq!(
        placement, subject.expected_placement,
        "the category's ticket table was not applied"
    );
}

/// An intake field with a `target` lands in the helpdesk's own field (declared by
/// [`teledesk_adapter::Capability::custom_fields`]).
pub async fn intake_fields_reach_the_helpdesks_own_fields(subject: &Subject) {
    const CASE: &str = "intake_fields_reach_the_helpdesks_own_fields";
    if !subject.adapter.capability().custom_fields {
        return skip(CASE, "no custom_fields capability");
    }
    let Some(target) = subject.backstage.intake_target() else {
        return skip(
            CASE,
            "the helpdesk under test has no custom field set up for it",
        );
    };
    let mut draft = draft(subject, "Intake");
    let value = format!("12-{}", &draft.key.as_str()[draft.key.as_str().len() - 4..]);
    draft.intake.fields = vec![IntakeField {
        id: "contract".into(),
        label: "№ договора".into(),
        value: value.clone(),
        wire: serde_json::Value::String(value.clone()),
        target: Some(target.clone()),
    }];
    let created = subject
        .adapter
        .create_ticket(&draft)
        .await
        .unwrap_or_else(|e| panic!("create_ticket with an intake field failed: {e}"));
    let stored = must(
        "intake_value",
        subject.backstage.intake_value(&created.id, &target).await,
    );
    assert_eq!(
        stored.as_deref(),
        Some(value.as_str()),
        "the intake field did not reach `{target}`"
    );
}

/// A chat's `registered_at` target takes the Telegram message's own date, RFC 3339 in UTC, not
/// the moment the helpdesk got the ticket (issue 14.4): written through the ticket table like an
/// intake field.
pub async fn registration_time_reaches_its_field(subject: &Subject) {
    const CASE: &str = "registration_time_reaches_its_field";
    if !subject.adapter.capability().custom_fields {
        return skip(CASE, "no custom_fields capability");
    }
    let Some(target) = subject.backstage.registered_target() else {
        return skip(
            CASE,
            "the helpdesk under test has no custom field set up for it",
        );
    };
    let mut draft = draft(subject, "Registered");
    // An hour ago, as after an outage: the field must say when the client wrote.
    draft.registered_at = (time::OffsetDateTime::now_utc() - time::Duration::hours(1))
        .replace_nanosecond(0)
        .unwrap()
        .to_offset(time::macros::offset!(+3));
    draft.write_registered_at(&target);
    let created = subject
        .adapter
        .create_ticket(&draft)
        .await
        .unwrap_or_else(|e| panic!("create_ticket with a registration time failed: {e}"));
    let stored = must(
        "intake_value",
        subject.backstage.intake_value(&created.id, &target).await,
    )
    .unwrap_or_else(|| panic!("the registration time did not reach `{target}`"));
    let read = time::OffsetDateTime::parse(&stored, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("`{target}` holds {stored:?}, not RFC 3339: {e}"));
    assert_eq!(read, draft.registered_at, "`{target}` holds {stored:?}");
    assert!(stored.ends_with('Z'), "not in UTC: {stored:?}");
}

/// A retried create finds the first ticket; a different key makes a different ticket.
pub async fn create_ticket_is_idempotent(subject: &Subject) {
    let (first, mut draft) = create(subject, "Idempotent").await;
    draft.retry = true;
    let again = subject
        .adapter
        .create_ticket(&draft)
        .await
        .unwrap_or_else(|e| panic!("retried create_ticket failed: {e}"));
    assert_eq!(
        again.id, first.id,
        "a retry with the same key created a second ticket"
    );
    let (other, _) = create(subject, "Idempotent other").await;
    assert_ne!(
        other.id, first.id,
        "a different key returned the same ticket"
    );
}

/// A client comment with two files comes back as teledesk's own public comment, and every file
/// downloads byte for byte with its name.
pub async fn comment_attachments_round_trip_byte_exact(subject: &Subject) {
    let capability = subject.adapter.capability();
    if !capability.comment {
        return skip(
            "comment_attachments_round_trip_byte_exact",
            "no comment capability",
        );
    }
    let (created, _) = create(subject, "Files").await;
    let files = if capability.attachment {
        vec![binary_file("dump.bin"), png_file()]
    } else {
        Vec::new()
    };
    let draft = comment_draft("Вот логи и скриншот", files.clone());
    let id = subject
        .adapter
        .add_comment(&created.id, &draft)
        .await
        .unwrap_or_else(|e| panic!("add_comment failed: {e}"));
    let ticket = read(subject, &created.id).await;
    let comment = ticket
        .comments
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("comment {id} not in get_ticket: {:?}", ticket.comments));
    assert!(
        comment.body.contains("Вот логи и скриншот"),
        "body: {:?}",
        comment.body
    );
    assert_eq!(
        comment.origin,
        Origin::Teledesk,
        "own comment not recognised as own"
    );
    assert_eq!(
        comment.visibility,
        Visibility::Public,
        "client comment is not public"
    );
    if !capability.attachment {
        return skip("comment attachments", "no attachment capability");
    }
    let mut names: Vec<&str> = comment
        .attachments
        .iter()
        .map(|a| a.file_name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["dump.bin", "screen.png"],
        "attachments of the comment"
    );
    if !capability.download {
        return skip("attachment download", "no download capability");
    }
    for file in &files {
        let reference = comment
            .attachments
            .iter()
            .find(|a| a.file_name == file.file_name)
            .expect("listed above");
        let got = subject
            .adapter
            .download(reference)
            .await
            .unwrap_or_else(|e| panic!("download {} failed: {e}", file.file_name));
        assert_eq!(got.file_name, file.file_name);
        assert!(
            got.content == file.content,
            "{} is not byte-exact: {} bytes back, {} sent",
            file.file_name,
            got.content.len(),
            file.content.len()
        );
    }
}

/// Files too large to stay in memory (spooled to disk, streamed into the request) arrive byte for
/// byte: in a ticket create and in a comment, each sized so that its last chunk is partial.
pub async fn spooled_files_round_trip_byte_exact(subject: &Subject) {
    let capability = subject.adapter.capability();
    if !capability.attachment || !capability.comment {
        return skip(
            "spooled_files_round_trip_byte_exact",
            "no comment or attachment capability",
        );
    }
    let dir = tempfile::tempdir().expect("a spool directory");
    // Everything over 1 KiB goes to disk, as a large client file does in the daemon.
    let spool = teledesk_adapter::Spool::new(dir.path(), 1024);
    let mut files = Vec::new();
    for (name, len) in [("big-1.bin", 150_001usize), ("big-2.bin", 200_002)] {
        let bytes: Vec<u8> = (0..len as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let content = spool.keep(bytes).await.expect("spooled");
        assert!(content.path().is_some(), "{name} is not spooled");
        files.push(Attachment {
            file_name: name.into(),
            content_type: "application/octet-stream".into(),
            content,
        });
    }
    let mut draft = draft(subject, "Spooled files");
    draft.attachments = vec![files[0].clone()];
    let created = subject
        .adapter
        .create_ticket(&draft)
        .await
        .unwrap_or_else(|e| panic!("create_ticket with a spooled file failed: {e}"));
    let comment = comment_draft("Большие файлы", files.clone());
    let id = subject
        .adapter
        .add_comment(&created.id, &comment)
        .await
        .unwrap_or_else(|e| panic!("add_comment with spooled files failed: {e}"));
    if !capability.download {
        return skip("spooled file download", "no download capability");
    }
    let ticket = read(subject, &created.id).await;
    let comment = ticket
        .comments
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("comment {id} not in get_ticket: {:?}", ticket.comments));
    for file in &files {
        let reference = comment
            .attachments
            .iter()
            .find(|a| a.file_name == file.file_name)
            .unwrap_or_else(|| panic!("{} is not on the comment", file.file_name));
        let got = subject
            .adapter
            .download(reference)
            .await
            .unwrap_or_else(|e| panic!("download {} failed: {e}", file.file_name));
        assert!(
            got.content == file.content,
            "{} is not byte-exact: {} bytes back, {} sent",
            file.file_name,
            got.content.len(),
            file.content.len()
        );
    }
}

/// A retried comment finds the first one instead of writing twice.
pub async fn comment_is_idempotent(subject: &Subject) {
    if !subject.adapter.capability().comment {
        return skip("comment_is_idempotent", "no comment capability");
    }
    let (created, _) = create(subject, "Comment twice").await;
    let mut draft = comment_draft("Только один раз", Vec::new());
    let first = subject
        .adapter
        .add_comment(&created.id, &draft)
        .await
        .unwrap_or_else(|e| panic!("add_comment failed: {e}"));
    draft.retry = true;
    let again = subject
        .adapter
        .add_comment(&created.id, &draft)
        .await
        .unwrap_or_else(|e| panic!("retried add_comment failed: {e}"));
    assert_eq!(
        again, first,
        "a retry with the same key returned another comment"
    );
    let ticket = read(subject, &created.id).await;
    assert_eq!(
        find_comment(&ticket, "Только один раз").len(),
        1,
        "the comment was written twice: {:?}",
        ticket.comments
    );
}

/// A staff reply comes back public, by staff, with the author's name; an internal note never
/// comes back public.
pub async fn staff_reply_public_and_internal_note_hidden(subject: &Subject) {
    let (created, _) = create(subject, "Staff reply").await;
    must(
        "staff_reply",
        subject
            .backstage
            .staff_reply(&created.id, "Перезагрузите принтер, пожалуйста", None)
            .await,
    );
    must(
        "internal_note",
        subject
            .backstage
            .internal_note(&created.id, "секрет: клиент должен денег")
            .await,
    );
    let ticket = read(subject, &created.id).await;
    let replies = find_comment(&ticket, "Перезагрузите принтер");
    assert_eq!(
        replies.len(),
        1,
        "staff reply not read back once: {:?}",
        ticket.comments
    );
    let reply = replies[0];
    assert_eq!(reply.visibility, Visibility::Public);
    assert_eq!(
        reply.origin,
        Origin::Staff,
        "staff reply has the wrong origin"
    );
    assert!(
        !reply.author.trim().is_empty(),
        "staff reply has no author name"
    );
    for note in find_comment(&ticket, "клиент должен денег") {
        assert_eq!(
            note.visibility,
            Visibility::Internal,
            "internal note surfaced as public"
        );
    }
}

/// A file staff attach to a reply can be downloaded to forward it to Telegram.
pub async fn staff_file_downloads_byte_exact(subject: &Subject) {
    let capability = subject.adapter.capability();
    if !(capability.attachment && capability.download) {
        return skip(
            "staff_file_downloads_byte_exact",
            "no attachment/download capability",
        );
    }
    let (created, _) = create(subject, "Staff file").await;
    let file = binary_file("fix.bin");
    must(
        "staff_reply with file",
        subject
            .backstage
            .staff_reply(&created.id, "Патч во вложении", Some(&file))
            .await,
    );
    let ticket = read(subject, &created.id).await;
    let reply = find_comment(&ticket, "Патч во вложении");
    assert_eq!(
        reply.len(),
        1,
        "staff reply not read back: {:?}",
        ticket.comments
    );
    let reference = reply[0]
        .attachments
        .iter()
        .find(|a| a.file_name == "fix.bin")
        .unwrap_or_else(|| panic!("staff file not listed: {:?}", reply[0].attachments));
    let got = subject
        .adapter
        .download(reference)
        .await
        .unwrap_or_else(|e| panic!("download failed: {e}"));
    assert!(got.content == file.content, "staff file is not byte-exact");
}

/// Every vendor state of the default map is read back as its class.
pub async fn every_default_vendor_state_maps_to_its_class(subject: &Subject) {
    let (created, _) = create(subject, "States").await;
    let states = subject.backstage.vendor_states();
    assert!(!states.is_empty(), "the backstage lists no vendor states");
    for (state, class) in states {
        must(
            "set_state",
            subject.backstage.set_state(&created.id, &state).await,
        );
        let ticket = read(subject, &created.id).await;
        assert_eq!(
            ticket.status, class,
            "vendor state {state:?} read back as {:?} (state field {:?}), expected {class:?}",
            ticket.status, ticket.state
        );
        assert!(!ticket.state.is_empty(), "vendor state name is empty");
    }
}

/// `set_status` moves the ticket to the mapped state.
pub async fn set_status_moves_the_ticket(subject: &Subject) {
    if !subject.adapter.capability().set_status {
        return skip("set_status_moves_the_ticket", "no set_status capability");
    }
    let (created, _) = create(subject, "Set status").await;
    subject
        .adapter
        .set_status(&created.id, StatusClass::InProgress)
        .await
        .unwrap_or_else(|e| panic!("set_status(in_progress) failed: {e}"));
    assert_eq!(
        read(subject, &created.id).await.status,
        StatusClass::InProgress
    );
    match subject
        .adapter
        .set_status(&created.id, StatusClass::ClientReplied)
        .await
    {
        Ok(()) => {
            let status = read(subject, &created.id).await.status;
            assert!(
                matches!(status, StatusClass::ClientReplied | StatusClass::InProgress),
                "client_replied read back as {status:?}"
            );
        }
        Err(e) if e.kind() == ErrorKind::Unsupported => {}
        Err(e) => panic!("set_status(client_replied) failed: {e}"),
    }
}

/// The assignee staff set is reported by name.
pub async fn assignee_is_reported(subject: &Subject) {
    let (created, _) = create(subject, "Assignee").await;
    assert_eq!(
        read(subject, &created.id).await.assignee,
        None,
        "new ticket has an assignee"
    );
    let name = must("assign", subject.backstage.assign(&created.id).await);
    assert_eq!(
        read(subject, &created.id).await.assignee.as_deref(),
        Some(name.as_str())
    );
}

/// A resolved ticket reports its resolution text and a done class.
pub async fn resolution_is_reported_and_done(subject: &Subject) {
    let (created, _) = create(subject, "Resolution").await;
    must(
        "resolve",
        subject
            .backstage
            .resolve(&created.id, "Заменили картридж")
            .await,
    );
    let ticket = read(subject, &created.id).await;
    assert!(
        ticket.status.is_done(),
        "resolved ticket reads as {:?}",
        ticket.status
    );
    let resolution = ticket.resolution.unwrap_or_default();
    assert!(
        resolution.contains("Заменили картридж"),
        "resolution text not reported: {resolution:?}"
    );
}

/// `reopen` brings a done ticket back to work.
pub async fn reopen_undoes_done(subject: &Subject) {
    if !subject.adapter.capability().set_status {
        return skip("reopen_undoes_done", "no set_status capability");
    }
    let (created, _) = create(subject, "Reopen").await;
    must(
        "resolve",
        subject.backstage.resolve(&created.id, "Готово").await,
    );
    assert!(read(subject, &created.id).await.status.is_done());
    subject
        .adapter
        .reopen(&created.id)
        .await
        .unwrap_or_else(|e| panic!("reopen failed: {e}"));
    let status = read(subject, &created.id).await.status;
    assert!(
        !status.is_done(),
        "reopened ticket still reads as {status:?}"
    );
}

/// Polling reports a new ticket, does not report it again without a change, and reports a staff
/// change made right after (same second) exactly once.
pub async fn changes_since_reports_each_change_once(subject: &Subject) {
    if !subject.adapter.capability().poll {
        return skip(
            "changes_since_reports_each_change_once",
            "no poll capability",
        );
    }
    let (created, _) = create(subject, "Changes").await;
    let updated = read(subject, &created.id).await.updated_at;
    let start = Cursor::starting_at(updated - Duration::from_secs(3));
    let adapter = subject.adapter.clone();
    let id = created.id.clone();
    let first = eventually("the new ticket is reported", || {
        let adapter = adapter.clone();
        let start = start.clone();
        let id = id.clone();
        async move {
            let batch = adapter
                .changes_since(&start)
                .await
                .map_err(|e| e.to_string())?;
            if batch.changes.iter().filter(|c| c.ticket == id).count() == 1 {
                Ok(batch)
            } else {
                Err(format!("changes: {:?}", batch.changes))
            }
        }
    })
    .await;
    assert!(first.cursor.since.is_some(), "cursor did not advance");
    let second = subject
        .adapter
        .changes_since(&first.cursor)
        .await
        .unwrap_or_else(|e| panic!("changes_since failed: {e}"));
    assert!(
        second.changes.iter().all(|c| c.ticket != created.id),
        "an unchanged ticket was reported twice: {:?}",
        second.changes
    );
    must(
        "staff_reply",
        subject
            .backstage
            .staff_reply(&created.id, "Смотрим", None)
            .await,
    );
    let cursor = second.cursor.clone();
    let third = eventually("the staff change is reported", || {
        let adapter = adapter.clone();
        let cursor = cursor.clone();
        let id = id.clone();
        async move {
            let batch = adapter
                .changes_since(&cursor)
                .await
                .map_err(|e| e.to_string())?;
            if batch.changes.iter().filter(|c| c.ticket == id).count() == 1 {
                Ok(batch)
            } else {
                Err(format!("changes: {:?}", batch.changes))
            }
        }
    })
    .await;
    let fourth = subject
        .adapter
        .changes_since(&third.cursor)
        .await
        .unwrap_or_else(|e| panic!("changes_since failed: {e}"));
    assert!(
        fourth.changes.iter().all(|c| c.ticket != created.id),
        "the staff change was reported twice: {:?}",
        fourth.changes
    );
}

/// Server times come back in UTC and close to now (a helpdesk in another timezone, or a
/// timestamp parsed as local time, shows up as hours of skew).
pub async fn timestamps_are_utc(subject: &Subject) {
    let (created, _) = create(subject, "UTC").await;
    let ticket = read(subject, &created.id).await;
    assert!(ticket.updated_at.offset().is_utc(), "updated_at is not UTC");
    let skew = (ticket.updated_at - OffsetDateTime::now_utc()).abs();
    assert!(
        skew < time::Duration::minutes(5),
        "updated_at {} is {skew} away from now: timezone handled wrongly",
        ticket.updated_at
    );
    must(
        "staff_reply",
        subject
            .backstage
            .staff_reply(&created.id, "UTC?", None)
            .await,
    );
    let ticket = read(subject, &created.id).await;
    for comment in &ticket.comments {
        assert!(
            comment.created_at.offset().is_utc(),
            "comment time is not UTC"
        );
        let skew = (comment.created_at - OffsetDateTime::now_utc()).abs();
        assert!(
            skew < time::Duration::minutes(5),
            "comment time {skew} away from now"
        );
    }
}

/// teledesk's internal notes are internal, recognised as its own, and idempotent.
pub async fn internal_note_is_internal_own_and_idempotent(subject: &Subject) {
    if !subject.adapter.capability().internal_note {
        return skip(
            "internal_note_is_internal_own_and_idempotent",
            "no internal_note capability",
        );
    }
    let (created, _) = create(subject, "Note").await;
    let mut note = NoteDraft {
        key: fresh_key(),
        body: "Ответ сотрудника не доставлен в Telegram".into(),
        retry: false,
    };
    let first = subject
        .adapter
        .add_internal_note(&created.id, &note)
        .await
        .unwrap_or_else(|e| panic!("add_internal_note failed: {e}"));
    note.retry = true;
    let again = subject
        .adapter
        .add_internal_note(&created.id, &note)
        .await
        .unwrap_or_else(|e| panic!("retried add_internal_note failed: {e}"));
    assert_eq!(again, first, "a retried note was written twice");
    let ticket = read(subject, &created.id).await;
    let notes = find_comment(&ticket, "не доставлен в Telegram");
    assert!(
        notes.len() <= 1,
        "note written twice: {:?}",
        ticket.comments
    );
    for n in notes {
        assert_eq!(
            n.visibility,
            Visibility::Internal,
            "teledesk's note is public"
        );
        assert_eq!(
            n.origin,
            Origin::Teledesk,
            "teledesk's note not recognised as own"
        );
    }
}

/// `/escalate` raises the priority where the helpdesk has one, and always leaves a note.
pub async fn escalate_raises_priority_and_notes(subject: &Subject) {
    let capability = subject.adapter.capability();
    if !capability.internal_note {
        return skip(
            "escalate_raises_priority_and_notes",
            "no internal_note capability",
        );
    }
    let (created, _) = create(subject, "Escalate").await;
    let before = must("priority", subject.backstage.priority(&created.id).await);
    let note = NoteDraft {
        key: fresh_key(),
        body: "Обратите внимание. Эскалация заявки".into(),
        retry: false,
    };
    let outcome = subject
        .adapter
        .escalate(&created.id, &note)
        .await
        .unwrap_or_else(|e| panic!("escalate failed: {e}"));
    let after = must("priority", subject.backstage.priority(&created.id).await);
    if capability.priority {
        match &outcome {
            Escalation::PriorityRaised { to } => {
                assert_ne!(
                    before, after,
                    "escalate said raised but the priority did not change"
                );
                assert_eq!(
                    after.as_deref(),
                    Some(to.as_str()),
                    "reported priority differs"
                );
            }
            other => panic!("escalate on a fresh ticket did not raise priority: {other:?}"),
        }
    } else {
        assert_eq!(outcome, Escalation::NoteOnly);
    }
    let ticket = read(subject, &created.id).await;
    for n in find_comment(&ticket, "Эскалация заявки") {
        assert_eq!(
            n.visibility,
            Visibility::Internal,
            "escalation note is public"
        );
    }
}

/// A rating lands natively where the helpdesk has ratings, else as an internal note.
pub async fn rating_is_recorded(subject: &Subject) {
    let capability = subject.adapter.capability();
    if !(capability.native_rating || capability.internal_note) {
        return skip(
            "rating_is_recorded",
            "neither native_rating nor internal_note",
        );
    }
    let (created, _) = create(subject, "Rating").await;
    must(
        "resolve",
        subject.backstage.resolve(&created.id, "Сделано").await,
    );
    let rating = Rating {
        key: fresh_key(),
        score: 4,
        comment: None,
        by: samples::acme_requester(),
        note: "Оценка клиента: 4 из 5 — Анна Смирнова".into(),
        retry: false,
    };
    let stored = subject
        .adapter
        .rate(&created.id, &rating)
        .await
        .unwrap_or_else(|e| panic!("rate failed: {e}"));
    if capability.native_rating {
        assert_eq!(stored, RatingStored::Native);
        let native = must(
            "native_rating",
            subject.backstage.native_rating(&created.id).await,
        );
        assert_eq!(native, Some(4), "native rating not stored");
    } else {
        assert_eq!(stored, RatingStored::Note);
        let ticket = read(subject, &created.id).await;
        let notes = find_comment(&ticket, "Оценка клиента: 4 из 5");
        assert_eq!(
            notes.len(),
            1,
            "rating note not written once: {:?}",
            ticket.comments
        );
        assert_eq!(
            notes[0].visibility,
            Visibility::Internal,
            "rating note is public"
        );
    }
}

/// A follow-up ticket names the closed one (and links it natively where the helpdesk can).
pub async fn follow_up_references_the_closed_ticket(subject: &Subject) {
    let (original, _) = create(subject, "Original").await;
    must(
        "resolve",
        subject.backstage.resolve(&original.id, "Закрыли").await,
    );
    let mut follow = draft(subject, "Follow-up");
    follow.follow_up_of = Some(original.clone());
    let created = subject
        .adapter
        .create_ticket(&follow)
        .await
        .unwrap_or_else(|e| panic!("create_ticket (follow-up) failed: {e}"));
    assert_ne!(created.id, original.id);
    let staff = must(
        "staff_text",
        subject.backstage.staff_text(&created.id).await,
    );
    assert!(
        staff.contains(&format!("#{}", original.number)),
        "the follow-up does not name #{}: {staff}",
        original.number
    );
    if subject.adapter.capability().native_link {
        let linked = must(
            "linked",
            subject.backstage.linked(&created.id, &original.id).await,
        );
        assert!(linked, "the follow-up is not linked natively");
    }
}

/// A vendor webhook names the changed ticket; a tampered one is refused where the vendor signs.
pub async fn webhook_is_parsed_and_verified(subject: &Subject) {
    let capability = subject.adapter.capability();
    if !capability.webhook {
        return skip("webhook_is_parsed_and_verified", "no webhook capability");
    }
    let (created, _) = create(subject, "Webhook").await;
    let request = subject
        .backstage
        .webhook(&created.id)
        .expect("the adapter declares webhooks but the backstage makes none");
    let tickets = subject
        .adapter
        .parse_webhook(&request)
        .unwrap_or_else(|e| panic!("parse_webhook refused a valid webhook: {e}"));
    assert_eq!(tickets, vec![created.id.clone()]);
    if capability.webhook_signed {
        let mut tampered = request.clone();
        tampered.body.extend_from_slice(b" ");
        let err = subject
            .adapter
            .parse_webhook(&tampered)
            .expect_err("a tampered body passed signature verification");
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        let mut unsigned = request;
        unsigned
            .headers
            .retain(|(name, _)| !name.to_ascii_lowercase().contains("signature"));
        let err = subject
            .adapter
            .parse_webhook(&unsigned)
            .expect_err("an unsigned webhook was accepted");
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    }
}

/// A ticket staff create and address to a chat reads back with that address (and the
/// announcement mark when they set it) and is in the change feed; a ticket teledesk created has
/// no address (issue 14.3).
pub async fn staff_ticket_is_addressed_to_its_chat(subject: &Subject) {
    if !subject.adapter.capability().staff_tickets {
        return skip(
            "staff_ticket_is_addressed_to_its_chat",
            "no staff_tickets capability",
        );
    }
    for (chat, announcement) in [("Acme", false), ("-1001234567890", true)] {
        let id = must(
            "staff_addressed_ticket",
            subject
                .backstage
                .staff_addressed_ticket(
                    "Плановые работы",
                    "В субботу 10:00–12:00",
                    chat,
                    announcement,
                )
                .await,
        );
        let ticket = read(subject, &id).await;
        let updated = ticket.updated_at;
        let address = ticket
            .addressed_to
            .unwrap_or_else(|| panic!("ticket {id} addressed to {chat} reads without an address"));
        assert_eq!(address.chat, chat);
        assert_eq!(address.announcement, announcement, "{chat}");
        assert_eq!(ticket.subject, "Плановые работы");
        // What the daemon asks of a ticket it does not know yet: the same ticket, read whole.
        let probed = must(
            "addressed_ticket",
            subject
                .adapter
                .addressed_ticket(&id)
                .await
                .map_err(|e| e.to_string()),
        )
        .unwrap_or_else(|| panic!("addressed_ticket of {id} (addressed to {chat}) said no"));
        assert_eq!(probed.addressed_to, Some(address.clone()));
        assert_eq!(
            (&probed.subject, probed.comments.len()),
            (&ticket.subject, ticket.comments.len())
        );
        // The daemon finds such tickets in the change feed: one the feed never lists (say, one
        // that lists only the integration account's tickets) is never published.
        if subject.adapter.capability().poll {
            let start = Cursor::starting_at(updated - Duration::from_secs(3));
            let adapter = subject.adapter.clone();
            eventually("the staff ticket is in the change feed", || {
                let (adapter, start, id) = (adapter.clone(), start.clone(), id.clone());
                async move {
                    let batch = adapter
                        .changes_since(&start)
                        .await
                        .map_err(|e| e.to_string())?;
                    if batch.changes.iter().any(|c| c.ticket == id) {
                        Ok(())
                    } else {
                        Err(format!("changes: {:?}", batch.changes))
                    }
                }
            })
            .await;
        }
    }
    let (created, _) = create(subject, "Not addressed").await;
    assert_eq!(read(subject, &created.id).await.addressed_to, None);
    let probed = must(
        "addressed_ticket",
        subject
            .adapter
            .addressed_ticket(&created.id)
            .await
            .map_err(|e| e.to_string()),
    );
    assert!(probed.is_none(), "teledesk's own ticket read as addressed");
}

/// A due time staff set reads back as the ticket's due time (issue 14.4).
pub async fn due_time_is_reported(subject: &Subject) {
    if !subject.adapter.capability().due_times {
        return skip("due_time_is_reported", "no due_times capability");
    }
    let (created, _) = create(subject, "Due").await;
    let due = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        + time::Duration::days(3);
    let expected = must("set_due", subject.backstage.set_due(&created.id, due).await);
    let ticket = read(subject, &created.id).await;
    assert_eq!(ticket.due.resolve_by, Some(expected), "{:?}", ticket.due);
}

/// Reading a ticket that does not exist is `NotFound` (not a retryable outage).
pub async fn missing_ticket_is_not_found(subject: &Subject) {
    let missing = subject.backstage.missing_ticket();
    let err = subject
        .adapter
        .get_ticket(&missing)
        .await
        .expect_err("get_ticket of a missing ticket succeeded");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(
        !err.is_temporary(),
        "a missing ticket is reported as temporary"
    );
}

/// A ticket whose answers carry unknown fields, entries of unknown types and oddly typed values
/// (see [`super::Backstage::add_oddities`]) still reads: the staff reply and its file are there,
/// the odd entries are skipped or at least never shown to the client, retried writes find the
/// earlier ones instead of doubling them, and the change feed still reports the ticket.
pub async fn odd_entries_never_make_a_ticket_unreadable(subject: &Subject) {
    const CASE: &str = "odd_entries_never_make_a_ticket_unreadable";
    let capability = subject.adapter.capability();
    let (created, mut draft) = create(subject, "Oddities").await;
    let own = if capability.comment {
        let files = if capability.attachment {
            vec![png_file()]
        } else {
            Vec::new()
        };
        let comment = comment_draft("Клиент пишет до странностей", files);
        let id = subject
            .adapter
            .add_comment(&created.id, &comment)
            .await
            .unwrap_or_else(|e| panic!("add_comment failed: {e}"));
        Some((comment, id))
    } else {
        None
    };
    let file = (capability.attachment && capability.download).then(|| binary_file("odd-fix.bin"));
    must(
        "staff_reply",
        subject
            .backstage
            .staff_reply(&created.id, "Ответ среди странностей", file.as_ref())
            .await,
    );
    if !must(
        "add_oddities",
        subject.backstage.add_oddities(&created.id).await,
    ) {
        return skip(
            CASE,
            "this backstage drives a live server, where odd entries cannot be injected",
        );
    }

    let ticket = read(subject, &created.id).await;
    let replies = find_comment(&ticket, "Ответ среди странностей");
    assert_eq!(
        replies.len(),
        1,
        "the staff reply is not read back once next to odd entries: {:?}",
        ticket.comments
    );
    assert_eq!(replies[0].visibility, Visibility::Public);
    assert_eq!(replies[0].origin, Origin::Staff);
    for comment in &ticket.comments {
        assert!(
            !(comment.body.contains(super::ODDITY) && comment.visibility == Visibility::Public),
            "an odd entry reached the client as a public comment: {comment:?}"
        );
        for attachment in &comment.attachments {
            assert!(
                !attachment.file_name.contains(super::ODDITY),
                "an odd entry became a file to forward: {attachment:?}"
            );
        }
    }
    if let Some(file) = &file {
        let reference = replies[0]
            .attachments
            .iter()
            .find(|a| a.file_name == file.file_name)
            .unwrap_or_else(|| {
                panic!(
                    "the staff file is not listed next to odd entries: {:?}",
                    replies[0].attachments
                )
            });
        let got = subject
            .adapter
            .download(reference)
            .await
            .unwrap_or_else(|e| panic!("download next to odd entries failed: {e}"));
        assert!(
            got.content == file.content,
            "the staff file is not byte-exact"
        );
    }

    draft.retry = true;
    let again = subject
        .adapter
        .create_ticket(&draft)
        .await
        .unwrap_or_else(|e| panic!("retried create_ticket next to odd entries failed: {e}"));
    assert_eq!(
        again.id, created.id,
        "a retried create did not find the ticket with odd entries"
    );
    if let Some((mut comment, id)) = own {
        comment.retry = true;
        let again = subject
            .adapter
            .add_comment(&created.id, &comment)
            .await
            .unwrap_or_else(|e| panic!("retried add_comment next to odd entries failed: {e}"));
        assert_eq!(
            again, id,
            "a retried comment did not find the earlier one next to odd entries"
        );
        let ticket = read(subject, &created.id).await;
        let own = find_comment(&ticket, "Клиент пишет до странностей");
        assert_eq!(
            own.len(),
            1,
            "the comment was doubled: {:?}",
            ticket.comments
        );
        let names: Vec<&str> = own[0]
            .attachments
            .iter()
            .map(|a| a.file_name.as_str())
            .collect();
        let expected: &[&str] = if capability.attachment {
            &["screen.png"]
        } else {
            &[]
        };
        assert_eq!(
            names, expected,
            "the client's file is missing or was uploaded twice"
        );
    }

    if !capability.poll {
        return skip(&format!("{CASE} (change feed)"), "no poll capability");
    }
    let start = Cursor::starting_at(ticket.updated_at - Duration::from_secs(3));
    let adapter = subject.adapter.clone();
    let id = created.id.clone();
    eventually("the ticket with odd entries is reported", || {
        let adapter = adapter.clone();
        let start = start.clone();
        let id = id.clone();
        async move {
            let batch = adapter
                .changes_since(&start)
                .await
                .map_err(|e| e.to_string())?;
            if batch.changes.iter().filter(|c| c.ticket == id).count() == 1 {
                Ok(())
            } else {
                Err(format!("changes: {:?}", batch.changes))
            }
        }
    })
    .await;
}

/// The one staff reply whose body contains `needle`, public and staff's: a marker in its text,
/// quoted or typed, must neither hide it as teledesk's echo nor change who wrote it.
fn staff_reply_by_text<'a>(case: &str, ticket: &'a Ticket, needle: &str) -> &'a Comment {
    let replies = find_comment(ticket, needle);
    assert_eq!(
        replies.len(),
        1,
        "{case}: the staff reply is not read back once: {:?}",
        ticket.comments
    );
    let reply = replies[0];
    assert_eq!(
        reply.origin,
        Origin::Staff,
        "{case}: a staff reply with a marker in its text is taken for someone else's: {reply:?}"
    );
    assert_eq!(
        reply.visibility,
        Visibility::Public,
        "{case}: the staff reply is not public: {reply:?}"
    );
    reply
}

/// A staff reply quoting a client's comment, its `tg-key:` footer included, is staff's and
/// public: the quote does not make it teledesk's echo (which would keep it from the client).
pub async fn staff_reply_quoting_a_client_comment_is_staff(subject: &Subject) {
    const CASE: &str = "staff_reply_quoting_a_client_comment_is_staff";
    if !subject.adapter.capability().comment {
        return skip(CASE, "no comment capability");
    }
    let (created, _) = create(subject, "Quoted comment").await;
    let draft = comment_draft("Принтер опять зажевал бумагу", Vec::new());
    subject
        .adapter
        .add_comment(&created.id, &draft)
        .await
        .unwrap_or_else(|e| panic!("add_comment failed: {e}"));
    // What a staff member copies from the helpdesk: the client's words and teledesk's footer,
    // then their own answer below.
    let quote = format!(
        "Анна Смирнова (Telegram):\nПринтер опять зажевал бумагу\n{}{}\n\nЗаменили ролик подачи, проверьте",
        teledesk_adapter::text::MARKER,
        draft.key
    );
    must(
        "staff_reply",
        subject
            .backstage
            .staff_reply(&created.id, &quote, None)
            .await,
    );
    let ticket = read(subject, &created.id).await;
    let reply = staff_reply_by_text(CASE, &ticket, "Заменили ролик подачи");
    assert!(
        !reply.author.trim().is_empty(),
        "{CASE}: the staff reply has no author name"
    );
    let own: Vec<&Comment> = find_comment(&ticket, "Принтер опять зажевал бумагу")
        .into_iter()
        .filter(|c| c.origin == Origin::Teledesk)
        .collect();
    assert_eq!(
        own.len(),
        1,
        "{CASE}: the client's comment is not read back once as teledesk's: {:?}",
        ticket.comments
    );
    assert!(
        !own[0].body.contains("Заменили"),
        "{CASE}: staff text attributed to the client: {:?}",
        own[0]
    );
}

/// A staff reply that mentions a `tg-key:` line (say, asking the client about a message) is
/// staff's and public.
pub async fn staff_reply_with_a_marker_line_is_staff(subject: &Subject) {
    const CASE: &str = "staff_reply_with_a_marker_line_is_staff";
    let (created, _) = create(subject, "Marker in a reply").await;
    let key = fresh_key();
    let body = format!(
        "В письме стояла строка\n{}{key}\nПришлите, пожалуйста, скриншот",
        teledesk_adapter::text::MARKER
    );
    must(
        "staff_reply",
        subject
            .backstage
            .staff_reply(&created.id, &body, None)
            .await,
    );
    let ticket = read(subject, &created.id).await;
    staff_reply_by_text(CASE, &ticket, "Пришлите, пожалуйста, скриншот");
}

/// A client who types the marker of their next message as the last line of a comment does not
/// make that next message vanish: its retry (as after a transient error) finds no earlier write
/// and really writes it.
pub async fn client_typed_marker_does_not_swallow_the_next_comment(subject: &Subject) {
    const CASE: &str = "client_typed_marker_does_not_swallow_the_next_comment";
    if !subject.adapter.capability().comment {
        return skip(CASE, "no comment capability");
    }
    let (created, _) = create(subject, "Typed marker").await;
    let mut next = comment_draft("Второе сообщение клиента", Vec::new());
    let first = comment_draft(
        &format!(
            "Первое сообщение клиента\n{}{}",
            teledesk_adapter::text::MARKER,
            next.key
        ),
        Vec::new(),
    );
    let first_id = subject
        .adapter
        .add_comment(&created.id, &first)
        .await
        .unwrap_or_else(|e| panic!("add_comment failed: {e}"));
    next.retry = true;
    let next_id = subject
        .adapter
        .add_comment(&created.id, &next)
        .await
        .unwrap_or_else(|e| panic!("retried add_comment failed: {e}"));
    assert_ne!(
        next_id, first_id,
        "{CASE}: the retry took the client's earlier comment for its own write"
    );
    let ticket = read(subject, &created.id).await;
    let written = find_comment(&ticket, "Второе сообщение клиента");
    assert_eq!(
        written.len(),
        1,
        "{CASE}: the next comment was not written once: {:?}",
        ticket.comments
    );
    assert_eq!(written[0].id, next_id, "{CASE}: another comment has its id");
    assert!(
        !written[0].body.contains("Первое"),
        "{CASE}: the next comment is not a comment of its own: {:?}",
        written[0]
    );
    assert_eq!(
        find_comment(&ticket, "Первое сообщение клиента").len(),
        1,
        "{CASE}: the first comment is not read back once: {:?}",
        ticket.comments
    );
}

/// A client who types the marker of their next message as the last line of a ticket's
/// description does not make that next message's ticket vanish into it: a retried create (as
/// after a transient error) finds no earlier write and really creates the ticket.
pub async fn client_typed_marker_does_not_swallow_the_next_ticket(subject: &Subject) {
    const CASE: &str = "client_typed_marker_does_not_swallow_the_next_ticket";
    let mut next = draft(subject, "Next ticket");
    let mut first = draft(subject, "Typed marker ticket");
    first.description = format!(
        "Принтер не печатает\n{}{}",
        teledesk_adapter::text::MARKER,
        next.key
    );
    let first = subject
        .adapter
        .create_ticket(&first)
        .await
        .unwrap_or_else(|e| panic!("create_ticket failed: {e}"));
    next.retry = true;
    let again = subject
        .adapter
        .create_ticket(&next)
        .await
        .unwrap_or_else(|e| panic!("retried create_ticket failed: {e}"));
    assert_ne!(
        again.id, first.id,
        "{CASE}: the retry took the client's ticket for its own earlier create"
    );
    let ticket = read(subject, &again.id).await;
    assert!(
        ticket.subject.contains("Next ticket"),
        "{CASE}: the retried create returned another ticket: {ticket:?}"
    );
}

/// `own_tickets` lists the tickets teledesk created with the key each was created with (not a
/// marker the client typed into its text) and the requester it wrote: what `teledesk rebuild`
/// maps a lost store from. Skipped (and said so) for an adapter that declares it unsupported.
pub async fn own_tickets_lists_what_teledesk_created(subject: &Subject) {
    const CASE: &str = "own_tickets_lists_what_teledesk_created";
    let (plain, plain_draft) = create(subject, "Own ticket").await;
    let typed_key = fresh_key();
    let mut typed = draft(subject, "Own ticket with a typed marker");
    typed.description = format!(
        "Принтер не печатает\n{}{typed_key}",
        teledesk_adapter::text::MARKER
    );
    let typed_ref = subject
        .adapter
        .create_ticket(&typed)
        .await
        .unwrap_or_else(|e| panic!("create_ticket failed: {e}"));
    let listed = eventually(CASE, || async {
        let own = match subject.adapter.own_tickets().await {
            Ok(own) => own,
            Err(e) if e.kind() == ErrorKind::Unsupported => return Ok(None),
            Err(e) => panic!("{CASE}: own_tickets failed: {e}"),
        };
        let find = |id: &TicketId| own.iter().find(|t| &t.reference.id == id).cloned();
        match (find(&plain.id), find(&typed_ref.id)) {
            (Some(a), Some(b)) => Ok(Some((a, b, own.len()))),
            _ => Err(format!("{} tickets listed, ours not among them", own.len())),
        }
    })
    .await;
    let Some((a, b, _)) = listed else {
        skip(CASE, "the adapter cannot list the tickets teledesk created");
        return;
    };
    assert_eq!(a.key, plain_draft.key, "{CASE}: the key of {a:?}");
    assert_eq!(a.reference.number, plain.number, "{CASE}: {a:?}");
    assert_eq!(
        b.key, typed.key,
        "{CASE}: the key teledesk wrote, not the one the client typed"
    );
    // A rebuilt ticket's author is who `/my` lists it for and who is told of replies.
    let requester = a
        .requester
        .as_ref()
        .unwrap_or_else(|| panic!("{CASE}: the requester teledesk wrote is not read back: {a:?}"));
    assert_eq!(
        (requester.telegram_id, requester.display_name.as_str()),
        (
            plain_draft.requester.telegram_id,
            plain_draft.requester.display_name.as_str()
        ),
        "{CASE}: {requester:?}"
    );
}

/// A staff reply that ends with what reads as teledesk's footer for a client message's key (typed
/// or pasted) is staff's, and a retry of that message (as after a transient error) does not take
/// it for its own earlier write: only the integration identity's comments can be.
pub async fn staff_text_ending_in_a_footer_is_no_earlier_write(subject: &Subject) {
    const CASE: &str = "staff_text_ending_in_a_footer_is_no_earlier_write";
    if !subject.adapter.capability().comment {
        return skip(CASE, "no comment capability");
    }
    let (created, _) = create(subject, "Footer typed by staff").await;
    let mut next = comment_draft("Клиент пишет после ответа", Vec::new());
    let body = format!(
        "Ответ с чужой подписью\n\n{}{}",
        teledesk_adapter::text::MARKER,
        next.key
    );
    must(
        "staff_reply",
        subject
            .backstage
            .staff_reply(&created.id, &body, None)
            .await,
    );
    let ticket = read(subject, &created.id).await;
    let replies = find_comment(&ticket, "Ответ с чужой подписью");
    assert_eq!(
        replies.len(),
        1,
        "{CASE}: the staff reply is not read back once: {:?}",
        ticket.comments
    );
    if subject.backstage.writes_as_integration_account() {
        return skip(
            CASE,
            "the staff side writes as the integration account here, so no identity can tell \
             this reply from teledesk's own write",
        );
    }
    assert_eq!(
        replies[0].origin,
        Origin::Staff,
        "{CASE}: a staff reply ending in a footer is taken for teledesk's: {:?}",
        replies[0]
    );
    let staff_reply_id = replies[0].id.clone();
    next.retry = true;
    let written = subject
        .adapter
        .add_comment(&created.id, &next)
        .await
        .unwrap_or_else(|e| panic!("retried add_comment failed: {e}"));
    assert_ne!(
        written, staff_reply_id,
        "{CASE}: the retry took the staff reply for its own earlier write"
    );
    let ticket = read(subject, &created.id).await;
    assert_eq!(
        find_comment(&ticket, "Клиент пишет после ответа").len(),
        1,
        "{CASE}: the client's comment was not written once: {:?}",
        ticket.comments
    );
}

/// Polls from `cursor` until `ticket` is reported with a snapshot that `accept` takes; returns
/// that snapshot and the cursor after it.
async fn snapshot_where(
    subject: &Subject,
    cursor: &Cursor,
    ticket: &TicketId,
    what: &str,
    accept: impl Fn(&TicketSnapshot) -> bool,
) -> (TicketSnapshot, Cursor) {
    let mut cursor = cursor.clone();
    let mut seen = Vec::new();
    for _ in 0..60 {
        let batch = subject
            .adapter
            .changes_since(&cursor)
            .await
            .unwrap_or_else(|e| panic!("changes_since failed: {e}"));
        cursor = batch.cursor;
        for change in batch.changes.into_iter().filter(|c| c.ticket == *ticket) {
            let snapshot = change.snapshot.unwrap_or_else(|| {
                panic!("the adapter declares change_snapshot, but a change of {ticket} has none")
            });
            if accept(&snapshot) {
                return (snapshot, cursor);
            }
            seen.push(snapshot);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{what}: never reported; snapshots seen: {seen:?}");
}

/// The ticket's fields in a snapshot read exactly as `get_ticket` reads them.
fn assert_snapshot_reads_as(snapshot: &TicketSnapshot, ticket: &Ticket, when: &str) {
    let fields = |s: &TicketSnapshot| {
        (
            s.subject.clone(),
            s.state.clone(),
            s.status,
            s.assignee.clone(),
            s.resolution.clone(),
        )
    };
    let read = (
        ticket.subject.clone(),
        ticket.state.clone(),
        ticket.status,
        ticket.assignee.clone(),
        ticket.resolution.clone(),
    );
    assert_eq!(
        fields(snapshot),
        read,
        "{when}: the snapshot and get_ticket disagree"
    );
    if let Some(description) = &snapshot.description {
        assert_eq!(
            description, &ticket.description,
            "{when}: the snapshot's description is not get_ticket's"
        );
    }
}

/// Where an adapter declares `change_snapshot`: every change carries a snapshot that reads as
/// `get_ticket` does; the comment mark stays put for a state change, moves for a staff reply and
/// an internal note, and for the adapter's own comment moves exactly as `write_comment` said
/// (one more, at the time it returned), which is how the daemon knows it costs no read; and
/// `get_comments` returns what `get_ticket` does.
pub async fn change_snapshots_read_as_the_ticket(subject: &Subject) {
    const CASE: &str = "change_snapshots_read_as_the_ticket";
    if !subject.adapter.capability().change_snapshot {
        return skip(CASE, "no change_snapshot capability");
    }
    let (created, _) = create(subject, "Snapshot").await;
    let id = created.id.clone();
    let start = Cursor::starting_at(read(subject, &id).await.updated_at - Duration::from_secs(3));
    let (first, cursor) = snapshot_where(subject, &start, &id, "the new ticket", |_| true).await;
    assert_snapshot_reads_as(&first, &read(subject, &id).await, "a new ticket");

    // A state change alone: the mark stays where it was.
    let states = subject.backstage.vendor_states();
    let (state, class) = states
        .iter()
        .find(|(_, class)| *class != first.status)
        .cloned()
        .unwrap_or_else(|| panic!("{CASE}: the backstage names no second state"));
    must("set_state", subject.backstage.set_state(&id, &state).await);
    let (moved, cursor) = snapshot_where(subject, &cursor, &id, "the state change", |s| {
        s.status == class
    })
    .await;
    assert_snapshot_reads_as(&moved, &read(subject, &id).await, "after a state change");
    assert_eq!(
        moved.comments, first.comments,
        "a state change moved the comment mark"
    );

    // The adapter's own comment: one more, at the time the write said.
    let written = subject
        .adapter
        .write_comment(&id, &comment_draft("Своё", Vec::new()))
        .await
        .unwrap_or_else(|e| panic!("write_comment failed: {e}"));
    let created_at = written.created_at.unwrap_or_else(|| {
        panic!("{CASE}: write_comment must tell the comment's time where snapshots are declared")
    });
    let expected = CommentMark {
        count: moved.comments.count + 1,
        last_added_at: Some(created_at),
    };
    let (own, cursor) = snapshot_where(subject, &cursor, &id, "the adapter's own comment", |s| {
        s.comments != moved.comments
    })
    .await;
    assert_eq!(
        own.comments, expected,
        "the mark after the adapter's own comment is not the one write_comment predicts"
    );

    // A staff reply and an internal note each move it.
    must(
        "staff_reply",
        subject.backstage.staff_reply(&id, "Ответ", None).await,
    );
    let (replied, cursor) = snapshot_where(subject, &cursor, &id, "the staff reply", |s| {
        s.comments != own.comments
    })
    .await;
    assert_eq!(replied.comments.count, own.comments.count + 1);
    must(
        "internal_note",
        subject.backstage.internal_note(&id, "Заметка").await,
    );
    let (noted, _) = snapshot_where(subject, &cursor, &id, "the internal note", |s| {
        s.comments != replied.comments
    })
    .await;
    assert!(
        noted.comments.last_added_at >= replied.comments.last_added_at,
        "the mark went back in time: {noted:?}"
    );

    let ticket = read(subject, &id).await;
    let comments = subject
        .adapter
        .get_comments(&id, &[])
        .await
        .unwrap_or_else(|e| panic!("get_comments failed: {e}"));
    assert_eq!(
        comments, ticket.comments,
        "get_comments and get_ticket read the comments differently"
    );
}
