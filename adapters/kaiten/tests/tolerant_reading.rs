//! A card whose answers carry what the adapter was not written for — private files (`type` 11:
//! UUID ids, sizes as strings, `null` urls), external-storage links, comments of unknown types
//! and without `internal`, property values of unseen shapes — still syncs: the watcher reports
//! it, it reads, the staff reply and its file come through, and a retried create finds its
//! earlier upload instead of uploading it again (issue 11 item 2).

use serde_json::json;
use std::time::Duration;
use teledesk_adapter::{Cursor, Helpdesk, Origin, TicketId, Visibility};
use teledesk_kaiten::KaitenAdapter;
use teledesk_testkit::conformance::ODDITY;
use teledesk_testkit::kaiten::FakeKaiten;
use teledesk_testkit::samples::{self, draft, file};
use time::OffsetDateTime;

const TEST_TIMEOUT: Duration = Duration::from_secs(30);

fn adapter(fake: &FakeKaiten) -> KaitenAdapter {
    let table = samples::table_with(
        fake.helpdesk_table(),
        json!({"resolution_property": "id_42"}),
    );
    KaitenAdapter::from_config(&table).expect("valid config")
}

fn id_of(ticket: &TicketId) -> i64 {
    ticket.0.parse().expect("numeric card id")
}

#[tokio::test]
async fn a_card_with_a_private_file_an_unknown_comment_type_and_odd_properties_syncs() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let fake = FakeKaiten::start().await;
        let kaiten = adapter(&fake);
        let since = Cursor::starting_at(OffsetDateTime::now_utc() - Duration::from_secs(60));
        let mut created_with = draft(42);
        created_with.attachments = vec![file("акт сверки.pdf", 2)];
        let created = kaiten.create_ticket(&created_with).await.expect("create");
        let card = id_of(&created.id);
        let invoice = file("счёт.pdf", 7);
        let reply = fake.staff_reply_with_file(
            card,
            "Мария Петрова",
            "Счёт во вложении",
            &invoice.file_name,
            teledesk_testkit::samples::bytes_of(&invoice),
        );
        fake.add_oddities(card);

        let batch = kaiten.changes_since(&since).await.expect("poll");
        assert!(
            batch.changes.iter().any(|c| c.ticket == created.id),
            "the odd card is not reported: {:?}",
            batch.changes
        );

        let ticket = kaiten
            .get_ticket(&created.id)
            .await
            .expect("the odd card reads");
        let staff = ticket
            .comments
            .iter()
            .find(|c| c.id.0 == reply.to_string())
            .unwrap_or_else(|| panic!("staff reply missing: {:?}", ticket.comments));
        assert_eq!(staff.body, "Счёт во вложении");
        assert_eq!(staff.visibility, Visibility::Public);
        assert_eq!(staff.origin, Origin::Staff);
        let names: Vec<&str> = staff
            .attachments
            .iter()
            .map(|a| a.file_name.as_str())
            .collect();
        // The private file without url and the Drive link on the same comment are no files to
        // forward.
        assert_eq!(names, ["счёт.pdf"]);
        let got = kaiten
            .download(&staff.attachments[0])
            .await
            .expect("download next to odd entries");
        assert!(
            got.content == invoice.content,
            "the staff file is not byte-exact"
        );
        assert!(
            ticket.comments.iter().all(|c| !c.body.contains(ODDITY)),
            "a comment of an unknown type came through: {:?}",
            ticket.comments
        );

        // The card's own upload now shows as a private file (UUID id, size as a string); a
        // retried create must still see it.
        let mut retry = created_with.clone();
        retry.retry = true;
        let again = kaiten.create_ticket(&retry).await.expect("retried create");
        assert_eq!(again.id, created.id);
        let uploads = fake
            .files(card)
            .into_iter()
            .filter(|f| f.name == "акт сверки.pdf")
            .count();
        assert_eq!(uploads, 1, "the retry uploaded the file again");
        let puts = fake
            .calls()
            .iter()
            .filter(|c| c.method == "PUT" && c.path == format!("/api/latest/cards/{card}/files"))
            .count();
        assert_eq!(puts, 1, "the retry sent a second upload");
    })
    .await
    .expect("test timed out");
}
