//! The Kaiten change feed against `FakeKaiten` in its default, the live service's behaviour:
//! comments, files and member changes leave a card's `updated` alone, `updated_after` is
//! inclusive, pages are capped at 100. What a poll finds, what it costs, and that nothing is lost
//! or doubled when cards change while it pages or move to another board.

use serde_json::{Value, json};
use std::time::Duration;
use teledesk_adapter::{ChangeBatch, Cursor, DEFAULT_OVERLAP, Helpdesk, TicketId};
use teledesk_kaiten::KaitenAdapter;
use teledesk_testkit::kaiten::{FakeKaiten, KaitenCall};
use teledesk_testkit::samples::{self, draft};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const WAIT: Duration = Duration::from_secs(20);

fn adapter_with(fake: &FakeKaiten, extra: Value) -> KaitenAdapter {
    let table = samples::table_with(fake.helpdesk_table(), extra);
    KaitenAdapter::from_config(&table).expect("valid config")
}

fn adapter(fake: &FakeKaiten) -> KaitenAdapter {
    adapter_with(fake, json!({}))
}

fn id_of(ticket: &TicketId) -> i64 {
    ticket.0.parse().expect("numeric card id")
}

fn ids(batch: &ChangeBatch) -> Vec<i64> {
    batch.changes.iter().map(|c| id_of(&c.ticket)).collect()
}

/// A poll that starts now, as the daemon's first one does.
async fn start(kaiten: &KaitenAdapter) -> Cursor {
    kaiten
        .changes_since(&Cursor::default())
        .await
        .expect("first poll")
        .cursor
}

/// Polls until nothing more is reported, so that the sweep has seen every open card once.
async fn settle(kaiten: &KaitenAdapter, mut cursor: Cursor) -> Cursor {
    for _ in 0..20 {
        let batch = kaiten.changes_since(&cursor).await.expect("poll");
        cursor = batch.cursor;
        if batch.changes.is_empty() {
            return cursor;
        }
    }
    panic!("the feed never went quiet");
}

fn calls_since(fake: &FakeKaiten, before: usize) -> Vec<KaitenCall> {
    fake.calls().into_iter().skip(before).collect()
}

#[tokio::test]
async fn comments_files_and_members_do_not_bump_updated_but_are_found() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let ticket = kaiten.create_ticket(&draft(1)).await.expect("create");
    let card = id_of(&ticket.id);
    let cursor = settle(&kaiten, start(&kaiten).await).await;
    let updated = fake.card(card).expect("card").updated;

    fake.staff_reply(card, "Мария Иванова", "Посмотрим");
    assert_eq!(fake.card(card).expect("card").updated, updated);
    let batch = kaiten.changes_since(&cursor).await.expect("poll");
    assert_eq!(
        ids(&batch),
        [card],
        "a comment is found by the comment feed"
    );

    fake.staff_reply_with_file(card, "Мария Иванова", "Скан", "scan.pdf", b"%PDF".to_vec());
    assert_eq!(fake.card(card).expect("card").updated, updated);
    let batch = kaiten.changes_since(&batch.cursor).await.expect("poll");
    assert_eq!(ids(&batch), [card], "a file on a comment comes with it");

    fake.assign(card, "Пётр Сидоров");
    assert_eq!(fake.card(card).expect("card").updated, updated);
    let batch = kaiten.changes_since(&batch.cursor).await.expect("poll");
    assert_eq!(
        ids(&batch),
        [card],
        "a new responsible is found by the sweep"
    );

    let again = kaiten.changes_since(&batch.cursor).await.expect("poll");
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    let ticket = kaiten.get_ticket(&ticket.id).await.expect("get");
    assert_eq!(ticket.assignee.as_deref(), Some("Пётр Сидоров"));
}

#[tokio::test]
async fn a_change_exactly_at_the_bound_is_reported_once() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let card = fake.staff_create_card("На границе");
    let updated =
        OffsetDateTime::parse(&fake.card(card).expect("card").updated, &Rfc3339).expect("a time");
    // Asking from exactly the card's `updated`: the bound is inclusive, so it is there.
    let cursor = Cursor::starting_at(updated + DEFAULT_OVERLAP);
    let first = kaiten.changes_since(&cursor).await.expect("poll");
    assert_eq!(ids(&first), [card]);
    // The next poll asks from before it again and gets it again; the cursor drops it.
    let second = kaiten.changes_since(&first.cursor).await.expect("poll");
    assert!(second.changes.is_empty(), "{:?}", second.changes);
    let list = fake
        .calls()
        .into_iter()
        .rev()
        .find(|c| c.query.contains("updated_after"))
        .expect("a feed call");
    assert_eq!(list.status, 200);
}

#[tokio::test]
async fn cards_that_change_while_the_feed_pages_are_neither_missed_nor_doubled() {
    let fake = FakeKaiten::start().await;
    // A slow pace leaves room to change cards between the first and the second page.
    let kaiten = adapter_with(&fake, json!({"requests_per_second": 2.0}));
    let cursor = start(&kaiten).await;
    let cards: Vec<i64> = (0..150)
        .map(|n| fake.staff_create_card(&format!("Карточка {n}")))
        .collect();
    let before = fake.calls().len();
    let poll = tokio::spawn({
        let cursor = cursor.clone();
        async move { kaiten.changes_since(&cursor).await.map(|b| (b, kaiten)) }
    });
    fake.wait_until(WAIT, "the first page", |f| {
        calls_since(f, before)
            .iter()
            .any(|c| c.query.contains("updated_after"))
            .then_some(())
    })
    .await;
    // Staff edit five cards of the first page: they move to the end of the `updated` order, and
    // a client paging by offset alone would now skip the five cards that slid into page one.
    for card in &cards[..5] {
        fake.move_to_column(*card, FakeKaiten::COLUMN_IN_PROGRESS);
    }
    let (batch, kaiten) = poll.await.expect("joins").expect("poll");
    let mut reported = ids(&batch);
    assert_eq!(reported.len(), 150, "each card once: {reported:?}");
    reported.sort_unstable();
    assert_eq!(reported, cards, "nothing missed");
    let pages = calls_since(&fake, before)
        .iter()
        .filter(|c| c.query.contains("updated_after"))
        .count();
    assert_eq!(
        pages, 2,
        "the edited cards are on the second page, not a third"
    );

    // The edits are newer than what the first page showed, so they were reported at their new
    // time, and the next poll has nothing left.
    let next = kaiten.changes_since(&batch.cursor).await.expect("poll");
    assert!(next.changes.is_empty(), "{:?}", next.changes);
}

#[tokio::test]
async fn comments_while_the_comment_feed_pages_are_found_by_the_next_poll() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter_with(&fake, json!({"requests_per_second": 2.0}));
    let cards: Vec<i64> = (0..130)
        .map(|n| fake.staff_create_card(&format!("Карточка {n}")))
        .collect();
    let cursor = settle(&kaiten, start(&kaiten).await).await;
    for card in &cards {
        fake.staff_reply(*card, "Мария Иванова", "Ответ");
    }
    let before = fake.calls().len();
    let poll = tokio::spawn({
        let cursor = cursor.clone();
        async move { kaiten.changes_since(&cursor).await.map(|b| (b, kaiten)) }
    });
    fake.wait_until(WAIT, "the first comment page", |f| {
        calls_since(f, before)
            .iter()
            .any(|c| c.query.contains("comment_last_added_at"))
            .then_some(())
    })
    .await;
    // The oldest commented card (on the second page) gets another comment: it jumps to the top,
    // which shifts the second page by one.
    fake.staff_reply(cards[0], "Мария Иванова", "Ещё ответ");
    let (first, kaiten) = poll.await.expect("joins").expect("poll");
    let mut reported = ids(&first);
    reported.sort_unstable();
    // The shift repeated one card of the first page on the second (reported once) and moved the
    // oldest one above the pages already read...
    assert_eq!(reported, cards[1..], "every other commented card once");
    // ...but its new comment is newer than the cursor, so the next poll has it.
    let second = kaiten.changes_since(&first.cursor).await.expect("poll");
    assert_eq!(ids(&second), [cards[0]], "the newer comment comes next");
}

#[tokio::test]
async fn a_poll_costs_the_changes_and_a_bounded_sweep_not_one_call_per_open_ticket() {
    let fake = FakeKaiten::start().await;
    fake.set_rate_limit(None);
    let kaiten = adapter(&fake);
    let mut tickets = Vec::new();
    for n in 0..12 {
        let ticket = kaiten.create_ticket(&draft(10 + n)).await.expect("create");
        tickets.push(id_of(&ticket.id));
    }
    let mut cursor = settle(&kaiten, start(&kaiten).await).await;

    for changed in [0usize, 1, 2] {
        // `changed` cards change: one comment, one move, one new responsible.
        if changed >= 1 {
            fake.staff_reply(tickets[3], "Мария Иванова", "Ответ");
        }
        if changed >= 2 {
            fake.move_to_column(tickets[7], FakeKaiten::COLUMN_IN_PROGRESS);
        }
        let before = fake.calls().len();
        let batch = kaiten.changes_since(&cursor).await.expect("poll");
        cursor = batch.cursor.clone();
        let calls = calls_since(&fake, before);
        let lists = calls
            .iter()
            .filter(|c| c.path == "/api/latest/cards")
            .count();
        let full_cards = calls
            .iter()
            .filter(|c| c.path.starts_with("/api/latest/cards/"))
            .count();
        // Three list pages (updated, comments, sweep) and at most three full cards, with twelve
        // open tickets: the count does not grow with them, and no comments are fetched.
        assert_eq!(lists, 3, "{calls:?}");
        assert!(full_cards <= 3, "{calls:?}");
        assert!(
            calls.iter().all(|c| !c.path.ends_with("/comments")),
            "{calls:?}"
        );
        assert!(ids(&batch).len() <= changed + 3, "{:?}", batch.changes);
    }
}

#[tokio::test]
async fn every_open_ticket_is_swept_within_a_bounded_number_of_polls() {
    let fake = FakeKaiten::start().await;
    fake.set_rate_limit(None);
    let kaiten = adapter(&fake);
    let mut tickets = Vec::new();
    for n in 0..7 {
        let ticket = kaiten.create_ticket(&draft(30 + n)).await.expect("create");
        tickets.push(id_of(&ticket.id));
    }
    // Staff cards without a Telegram key are listed but never read in full.
    for n in 0..4 {
        fake.staff_create_card(&format!("Внутренняя {n}"));
    }
    let mut cursor = settle(&kaiten, start(&kaiten).await).await;
    for ticket in &tickets {
        fake.assign(*ticket, "Пётр Сидоров");
    }
    // Seven open tickets at three per poll: one lap is three polls.
    let mut found = Vec::new();
    for _ in 0..3 {
        let batch = kaiten.changes_since(&cursor).await.expect("poll");
        found.extend(ids(&batch));
        cursor = batch.cursor;
    }
    found.sort_unstable();
    assert_eq!(found, tickets);
}

#[tokio::test]
async fn a_card_moved_to_another_board_and_space_keeps_syncing() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let ticket = kaiten.create_ticket(&draft(50)).await.expect("create");
    let card = id_of(&ticket.id);
    assert_eq!(
        ticket.url.as_deref(),
        Some(format!("{}/space/{}/card/{card}", fake.url(), FakeKaiten::SPACE_ID).as_str())
    );
    let cursor = settle(&kaiten, start(&kaiten).await).await;

    fake.move_to_board(
        card,
        FakeKaiten::OTHER_BOARD_ID,
        FakeKaiten::OTHER_COLUMN_IN_PROGRESS,
    );
    let moved = kaiten.changes_since(&cursor).await.expect("poll");
    assert_eq!(ids(&moved), [card]);

    fake.staff_reply(card, "Мария Иванова", "Передали во вторую линию");
    let commented = kaiten.changes_since(&moved.cursor).await.expect("poll");
    assert_eq!(ids(&commented), [card]);
    fake.assign(card, "Пётр Сидоров");
    let assigned = kaiten.changes_since(&commented.cursor).await.expect("poll");
    assert_eq!(ids(&assigned), [card]);

    let read = kaiten.get_ticket(&ticket.id).await.expect("get");
    assert_eq!(read.assignee.as_deref(), Some("Пётр Сидоров"));
    assert!(
        read.comments
            .iter()
            .any(|c| c.body.contains("Передали во вторую линию"))
    );
    // The link opens the card where it is now.
    assert_eq!(
        read.reference.url.as_deref(),
        Some(
            format!(
                "{}/space/{}/card/{card}",
                fake.url(),
                FakeKaiten::OTHER_SPACE_ID
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn an_old_cursor_without_the_kaiten_part_keeps_working() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let ticket = kaiten.create_ticket(&draft(60)).await.expect("create");
    let card = id_of(&ticket.id);
    let mut old = settle(&kaiten, start(&kaiten).await).await;
    old.vendor = None;
    let stored = serde_json::to_string(&old).expect("stores");
    let loaded: Cursor = serde_json::from_str(&stored).expect("loads");
    fake.staff_reply(card, "Мария Иванова", "Ответ");
    let batch = kaiten.changes_since(&loaded).await.expect("poll");
    assert!(ids(&batch).contains(&card), "{:?}", batch.changes);
    assert!(batch.cursor.vendor.is_some());
}

#[tokio::test]
async fn two_helpdesk_tables_with_one_token_share_one_pace() {
    let fake = FakeKaiten::start().await;
    // Two tables (companies) for the same Kaiten user: Kaiten counts 5 requests/s per token, and
    // 4.5/s each would be 9/s together.
    let first = adapter(&fake);
    let second = adapter(&fake);
    let run = |kaiten: KaitenAdapter| async move {
        for _ in 0..8 {
            kaiten.check().await.expect("never refused");
        }
    };
    tokio::join!(run(first), run(second));
    let refused: Vec<KaitenCall> = fake
        .calls()
        .into_iter()
        .filter(|c| c.status == 429)
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

#[tokio::test]
async fn with_the_old_behaviour_a_comment_is_still_reported_once() {
    let fake = FakeKaiten::start().await;
    // A tenant where comments do bump `updated`: both feeds see the card; it is one change.
    fake.set_legacy_updated(true);
    let kaiten = adapter(&fake);
    let ticket = kaiten.create_ticket(&draft(70)).await.expect("create");
    let card = id_of(&ticket.id);
    let cursor = settle(&kaiten, start(&kaiten).await).await;
    let updated = fake.card(card).expect("card").updated;
    fake.staff_reply(card, "Мария Иванова", "Ответ");
    assert_ne!(fake.card(card).expect("card").updated, updated);
    let batch = kaiten.changes_since(&cursor).await.expect("poll");
    assert_eq!(ids(&batch), [card]);
    let again = kaiten.changes_since(&batch.cursor).await.expect("poll");
    assert!(again.changes.is_empty(), "{:?}", again.changes);
}

#[tokio::test]
async fn a_card_moved_through_the_api_follows_its_board_to_the_new_space() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let card = fake.staff_create_card("Переезд");
    let cursor = start(&kaiten).await;
    let http = reqwest::Client::new();
    let patch = |body: Value| {
        http.patch(format!("{}/api/latest/cards/{card}", fake.url()))
            .bearer_auth(fake.token())
            .json(&body)
            .send()
    };
    let refused = patch(json!({"board_id": FakeKaiten::OTHER_BOARD_ID}))
        .await
        .expect("answers");
    assert_eq!(refused.status(), 400, "a board without a column of it");
    let moved = patch(json!({
        "board_id": FakeKaiten::OTHER_BOARD_ID,
        "column_id": FakeKaiten::OTHER_COLUMN_DONE,
    }))
    .await
    .expect("answers");
    assert_eq!(moved.status(), 200);
    let body: Value = moved.json().await.expect("a card");
    assert_eq!(body["space_id"], FakeKaiten::OTHER_SPACE_ID);
    assert_eq!(body["state"], 3);
    let now = fake.card(card).expect("card");
    assert_eq!(
        (now.board_id, now.space_id, now.lane_id),
        (
            FakeKaiten::OTHER_BOARD_ID,
            FakeKaiten::OTHER_SPACE_ID,
            FakeKaiten::OTHER_LANE_ID
        )
    );
    let batch = kaiten.changes_since(&cursor).await.expect("poll");
    assert_eq!(ids(&batch), [card], "a move bumps `updated`");
}
