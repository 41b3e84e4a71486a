//! How the Kaiten adapter spends the token's 5 requests per second: a client's write goes ahead of
//! background reads queued before it, every helpdesk table with one token shares one limit and
//! never draws a 429 at full concurrency, and a poll hands the daemon snapshots that make a
//! status-only change cost nothing. Against `FakeKaiten` with its rate limit on (5 per rolling
//! second, 429 beyond).

use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use teledesk_adapter::{Cursor, Helpdesk, StatusClass, TicketId, work};
use teledesk_kaiten::KaitenAdapter;
use teledesk_testkit::kaiten::FakeKaiten;
use teledesk_testkit::samples::{self, draft};

fn adapter(fake: &FakeKaiten) -> KaitenAdapter {
    let table = samples::table_with(fake.helpdesk_table(), json!({}));
    KaitenAdapter::from_config(&table).expect("valid config")
}

async fn card(kaiten: &KaitenAdapter, n: i32) -> TicketId {
    kaiten
        .create_ticket(&draft(n))
        .await
        .expect("create_ticket")
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_comment_goes_ahead_of_queued_background_reads() {
    let fake = FakeKaiten::start().await;
    let kaiten = Arc::new(adapter(&fake));
    let ticket = card(&kaiten, 1).await;
    // Let the create's requests leave the rate window.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let before = fake.calls().len();
    let mut reads = Vec::new();
    for _ in 0..10 {
        let (kaiten, ticket) = (kaiten.clone(), ticket.clone());
        reads.push(tokio::spawn(
            async move { kaiten.get_ticket(&ticket).await },
        ));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let started = Instant::now();
    let (written, _) =
        work::client_work(kaiten.add_comment(&ticket, &samples::comment(2, "Срочно, пожалуйста")))
            .await;
    let waited = started.elapsed();
    written.expect("the comment");
    for read in reads {
        read.await.expect("a read task").expect("get_ticket");
    }
    let calls: Vec<_> = fake.calls().into_iter().skip(before).collect();
    let post = calls
        .iter()
        .position(|c| c.method == "POST")
        .expect("the comment was written");
    let reads = calls.iter().filter(|c| c.method == "GET").count();
    eprintln!(
        "client comment: request {} of {}, waited {waited:?} behind {reads} queued reads",
        post + 1,
        calls.len()
    );
    // Background reads leave one of the 5 slots free: the comment takes it at once.
    assert!(
        post <= 5,
        "the comment waited behind background reads: {calls:?}"
    );
    assert_eq!(calls.iter().filter(|c| c.status == 429).count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tables_with_one_token_never_draw_a_429_at_full_concurrency() {
    let fake = FakeKaiten::start().await;
    let (a, b) = (Arc::new(adapter(&fake)), Arc::new(adapter(&fake)));
    let tickets = [card(&a, 1).await, card(&b, 2).await];
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..30 {
        let kaiten = if i % 2 == 0 { a.clone() } else { b.clone() };
        let ticket = tickets[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            match i % 3 {
                0 => {
                    let comment = samples::comment(100 + i as i32, "Ещё вопрос");
                    work::client_work(kaiten.add_comment(&ticket, &comment))
                        .await
                        .0
                        .map(|_| ())
                }
                1 => kaiten.get_ticket(&ticket).await.map(|_| ()),
                _ => kaiten.changes_since(&Cursor::default()).await.map(|_| ()),
            }
        }));
    }
    for task in tasks {
        task.await.expect("a task").expect("every call succeeds");
    }
    let calls = fake.calls();
    let refused = calls.iter().filter(|c| c.status == 429).count();
    let elapsed = started.elapsed().as_secs_f64();
    let sent = calls.len() as f64;
    eprintln!(
        "{} requests from two tables in {elapsed:.2} s: {:.2} requests/s, {refused} refused",
        calls.len(),
        sent / elapsed
    );
    assert_eq!(refused, 0, "the shared pace drew a 429");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_moves_come_with_snapshots_and_the_poll_costs_lists_only() {
    let fake = FakeKaiten::start().await;
    let kaiten = adapter(&fake);
    let mut cursor = kaiten
        .changes_since(&Cursor::default())
        .await
        .expect("first poll")
        .cursor;
    let mut ids = Vec::new();
    for n in 0..12 {
        ids.push(card(&kaiten, n).await);
    }
    // Settle: the sweep has looked at every card once.
    for _ in 0..10 {
        let batch = kaiten.changes_since(&cursor).await.expect("poll");
        cursor = batch.cursor;
        if batch.changes.is_empty() {
            break;
        }
    }
    for id in &ids {
        fake.move_to_column(id.0.parse().expect("a card id"), FakeKaiten::COLUMN_DONE);
    }
    let before = fake.calls().len();
    let batch = kaiten.changes_since(&cursor).await.expect("poll");
    let calls: Vec<_> = fake.calls().into_iter().skip(before).collect();
    assert_eq!(batch.changes.len(), ids.len(), "{:?}", batch.changes);
    for change in &batch.changes {
        let snapshot = change.snapshot.as_ref().expect("a snapshot");
        assert_eq!(snapshot.status, StatusClass::Closed);
        assert_eq!(snapshot.state, "Готово");
        assert_eq!(snapshot.comments.count, 0);
    }
    // Two feeds and the sweep's list; the done cards are not open, so the sweep reads none.
    let card_reads = calls.iter().filter(|c| c.path.contains("/cards/")).count();
    eprintln!(
        "{} column moves: {} requests in the poll, {card_reads} card reads",
        ids.len(),
        calls.len()
    );
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(card_reads, 0);
}
