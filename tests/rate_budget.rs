//! What the daemon spends of Kaiten's 5 requests per second, counted on the fake Kaiten's call
//! log: a new ticket and a status change cost no read, the daemon's own comment costs nothing
//! when it comes back in the next poll, a comment costs exactly one write with no idempotency
//! lookup unless a write may have landed (a 5xx) and never after a plain refusal (a 429), and
//! staff comments cost one read of the comments (plus the card, for a public reply's files).
//! The real daemon against the fake Telegram and fake Kaiten (group mode).

use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk_testkit::kaiten::{FakeKaiten, KaitenCall};
use teledesk_testkit::telegram::Outgoing;

const SETUP: Duration = Duration::from_secs(60);
const WITHIN: Duration = Duration::from_secs(20);

fn card_path(card: i64) -> String {
    format!("/api/latest/cards/{card}")
}

fn comments_path(card: i64) -> String {
    format!("/api/latest/cards/{card}/comments")
}

fn is_poll(call: &KaitenCall) -> bool {
    call.query.contains("order_by=updated")
}

fn is_sweep_list(call: &KaitenCall) -> bool {
    call.query.contains("order_by=created")
}

/// Waits until the watcher has begun `polls` more polls after the call at `from`.
async fn polls_after(kaiten: &FakeKaiten, from: usize, polls: usize) {
    kaiten
        .wait_until(SETUP, "the next polls", |k| {
            let later = k.calls().iter().skip(from).filter(|c| is_poll(c)).count();
            (later > polls).then_some(())
        })
        .await;
}

/// `GET /cards/{id}` of `cards` after `from` that the daemon made to read a ticket, not the
/// watcher's member sweep (which reads the open cards a sweep listing named, within its poll).
fn ticket_reads(calls: &[KaitenCall], from: usize, cards: &[i64]) -> usize {
    let paths: Vec<String> = cards.iter().map(|c| card_path(*c)).collect();
    let mut count = 0;
    for (at, call) in calls.iter().enumerate().skip(from) {
        if call.method != "GET" || !paths.contains(&call.path) {
            continue;
        }
        // The latest poll or sweep listing before this read: a read right after a sweep listing
        // made before the cards moved (when they were still open) is the sweep's.
        let swept = calls[..at]
            .iter()
            .rposition(|c| is_poll(c) || is_sweep_list(c))
            .is_some_and(|i| is_sweep_list(&calls[i]) && i < from);
        if !swept {
            count += 1;
        }
    }
    count
}

fn count(calls: &[KaitenCall], from: usize, method: &str, paths: &[String]) -> usize {
    calls
        .iter()
        .skip(from)
        .filter(|c| c.method == method && paths.contains(&c.path))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_changes_and_own_comments_cost_no_read_staff_comments_one() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, kaiten) = (&stage.telegram, stage.group(), &stage.kaiten);
    let daemon = stage.start(Options::default()).await;
    let mut tickets = Vec::new();
    for n in 0..4 {
        let (_, card) = stage
            .ticket_in_group(&format!("Не работает принтер №{n}"), SETUP)
            .await;
        let message = tg
            .wait_until(SETUP, "the ticket card", |t| {
                t.messages(group)
                    .into_iter()
                    .find(|m| m.from_bot && m.text.contains(&format!("#{card}")))
                    .map(|m| m.message_id)
            })
            .await;
        tickets.push((card, message));
    }
    let cards: Vec<i64> = tickets.iter().map(|(card, _)| *card).collect();
    let comments: Vec<String> = cards.iter().map(|c| comments_path(*c)).collect();
    let created = kaiten.calls().len();
    polls_after(kaiten, created, 2).await;
    let calls = kaiten.calls();
    assert_eq!(
        count(&calls, 0, "GET", &comments),
        0,
        "new tickets have no comments to read"
    );

    // Phase 1: a client comment on each ticket. One write each, no lookup, and its echo in the
    // next poll costs nothing.
    let before = kaiten.calls().len();
    for (n, (_, message)) in tickets.iter().enumerate() {
        tg.send(
            group,
            stage.client,
            Outgoing::text(&format!("Уточнение {n}")).reply_to(*message),
        );
    }
    kaiten
        .wait_until(SETUP, "four client comments", |k| {
            let written = cards.iter().map(|c| k.comments(*c).len()).sum::<usize>();
            (written == cards.len()).then_some(())
        })
        .await;
    let written = kaiten.calls().len();
    polls_after(kaiten, written, 2).await;
    let calls = kaiten.calls();
    let writes = count(&calls, before, "POST", &comments);
    let lookups = count(&calls, before, "GET", &comments);
    eprintln!(
        "client comments: {writes} writes, {lookups} comment reads for {} comments",
        cards.len()
    );
    assert_eq!(writes, cards.len(), "exactly one write per client comment");
    assert_eq!(
        lookups, 0,
        "no idempotency lookup, and the daemon's own comments came back at no cost"
    );

    // Phase 2: staff close every ticket. The listing's snapshot shows it; nothing is read.
    let moved = kaiten.calls().len();
    for card in &cards {
        kaiten.move_to_column(*card, FakeKaiten::COLUMN_DONE);
    }
    for (card, message) in &tickets {
        tg.wait_until(WITHIN, "the closed status on the card", |t| {
            let m = t.message(group, *message)?;
            m.text.contains("Закрыта").then_some(())
        })
        .await;
        let _ = card;
    }
    let shown = kaiten.calls().len();
    polls_after(kaiten, shown, 1).await;
    let calls = kaiten.calls();
    let reads = ticket_reads(&calls, moved, &cards) + count(&calls, moved, "GET", &comments);
    eprintln!(
        "status-only changes: {reads} reads for {} changed cards ({:.2} per card)",
        cards.len(),
        reads as f64 / cards.len() as f64
    );
    assert_eq!(reads, 0, "a status-only change costs no read");

    // Phase 3: staff reply on two tickets and write an internal note on a third: one read of the
    // comments each, plus the card for a reply (its files are listed there).
    let staff = kaiten.calls().len();
    kaiten.staff_reply(cards[0], "Мария Петрова", "Заменили картридж");
    kaiten.staff_reply(cards[1], "Мария Петрова", "Перезагрузили сервер печати");
    kaiten.internal_note(cards[2], "Мария Петрова", "Проверить гарантию");
    for text in ["Заменили картридж", "Перезагрузили сервер печати"]
    {
        tg.wait_until(WITHIN, "the staff reply in Telegram", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(text))
        })
        .await;
    }
    let replied = kaiten.calls().len();
    polls_after(kaiten, replied, 2).await;
    let calls = kaiten.calls();
    let comment_reads = count(&calls, staff, "GET", &comments);
    let card_reads = ticket_reads(&calls, staff, &cards);
    eprintln!(
        "staff comments: {comment_reads} comment reads and {card_reads} card reads for 2 replies and 1 note"
    );
    assert_eq!(
        comment_reads, 3,
        "one read of the comments per commented card"
    );
    assert_eq!(card_reads, 2, "the card only for the public replies' files");
    let refused = calls.iter().filter(|c| c.status == 429).count();
    assert_eq!(refused, 0, "the daemon's pace hit Kaiten's rate limit");
    assert!(
        !tg.messages(group)
            .iter()
            .any(|m| m.text.contains("Проверить гарантию")),
        "an internal note reached Telegram"
    );
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_only_follows_a_write_that_may_have_landed() {
    // No polling: the call log holds only what the comments cost.
    let stage = Stage::new(1, "ru", "0s").await;
    let (tg, group, kaiten) = (&stage.telegram, stage.group(), &stage.kaiten);
    let daemon = stage.start(Options::default()).await;
    let (_, card) = stage.ticket_in_group("Не печатает принтер", SETUP).await;
    let message = tg
        .wait_until(SETUP, "the ticket card", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(&format!("#{card}")))
                .map(|m| m.message_id)
        })
        .await;
    let comments = [comments_path(card)];
    let comment = |text: &str, fail: Option<u16>| {
        let before = kaiten.calls().len();
        if let Some(status) = fail {
            kaiten.fail_next(1, status);
        }
        tg.send(group, stage.client, Outgoing::text(text).reply_to(message));
        before
    };
    // The call log records a request once it is answered, so it is what is waited on.
    let path = comments_path(card);
    let written = |text: &'static str| {
        let path = path.clone();
        kaiten.wait_until(WITHIN, "the comment in Kaiten", move |k| {
            k.calls()
                .iter()
                .any(|c| {
                    c.method == "POST"
                        && c.path == path
                        && c.status == 200
                        && c.body
                            .as_ref()
                            .is_some_and(|b| b.to_string().contains(text))
                })
                .then_some(())
        })
    };

    let before = comment("Первый", None);
    written("Первый").await;
    let calls = kaiten.calls();
    assert_eq!(count(&calls, before, "POST", &comments), 1);
    assert_eq!(
        count(&calls, before, "GET", &comments),
        0,
        "a lookup on the happy path"
    );

    // A 429 wrote nothing: the retry writes without looking.
    let before = comment("Второй", Some(429));
    written("Второй").await;
    let calls = kaiten.calls();
    let posts: Vec<u16> = calls
        .iter()
        .skip(before)
        .filter(|c| c.method == "POST" && c.path == comments[0])
        .map(|c| c.status)
        .collect();
    assert_eq!(posts, [429, 200], "{calls:?}");
    assert_eq!(
        count(&calls, before, "GET", &comments),
        0,
        "a lookup after a 429"
    );

    // A 503 may have landed: the retry looks for the earlier write first, then writes once.
    let before = comment("Третий", Some(503));
    written("Третий").await;
    let calls = kaiten.calls();
    let posts: Vec<u16> = calls
        .iter()
        .skip(before)
        .filter(|c| c.method == "POST" && c.path == comments[0])
        .map(|c| c.status)
        .collect();
    assert_eq!(posts, [503, 200], "{calls:?}");
    assert_eq!(
        count(&calls, before, "GET", &comments),
        1,
        "no lookup after a write that may have landed"
    );
    for text in ["Первый", "Второй", "Третий"] {
        let copies = kaiten
            .comments(card)
            .iter()
            .filter(|c| c.text.contains(text))
            .count();
        assert_eq!(copies, 1, "{text} written {copies} times");
    }
    daemon.shutdown().await;
}

/// Kaiten's answers come this late in the next test: long enough that a read in flight is still
/// unanswered when a client's comment arrives a second after it began.
const SLOW: Duration = Duration::from_secs(4);

/// A client's job stops a refresh of its ticket that still waits at the pacer (unit test in the
/// runner), but one whose read is in flight is let finish: stopping it would throw the read away
/// and make another, which is what the reads-per-comment figure of the pipeline bench counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_whose_read_is_in_flight_is_not_thrown_away_for_a_comment() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, kaiten) = (&stage.telegram, stage.group(), &stage.kaiten);
    let daemon = stage.start(Options::default()).await;
    let (_, card) = stage.ticket_in_group("Не печатает принтер", SETUP).await;
    let message = tg
        .wait_until(SETUP, "the ticket card", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(&format!("#{card}")))
                .map(|m| m.message_id)
        })
        .await;
    polls_after(kaiten, kaiten.calls().len(), 1).await;

    // A staff reply makes the ticket dirty with new comments: its refresh reads them, slowly.
    kaiten.set_latency(SLOW);
    let path = comments_path(card);
    let reads_before = kaiten.arrivals("GET", &path);
    kaiten.staff_reply(card, "Мария Петрова", "Заменили картридж");
    let replied = std::time::Instant::now();
    kaiten
        .wait_until(SETUP, "a poll listing the reply", |k| {
            k.calls()
                .iter()
                .any(|c| is_poll(c) && c.received_at > replied)
                .then_some(())
        })
        .await;
    // The poll is answered and the refresh has sent its read of the comments (on a busy machine
    // that can take longer than the poll's answer: wait for the read to reach Kaiten).
    kaiten
        .wait_until(SETUP, "the refresh's read of the comments in flight", |k| {
            (k.arrivals("GET", &path) > reads_before).then_some(())
        })
        .await;
    tg.send(
        group,
        stage.client,
        Outgoing::text("Уточнение").reply_to(message),
    );
    tg.wait_until(SETUP, "the staff reply in Telegram", |t| {
        t.messages(group)
            .into_iter()
            .find(|m| m.from_bot && m.text.contains("Заменили картридж"))
    })
    .await;
    let calls = kaiten
        .wait_until(SETUP, "the client's comment in Kaiten", |k| {
            let calls = k.calls();
            calls
                .iter()
                .any(|c| c.method == "POST" && c.path == path && c.status == 200)
                .then_some(calls)
        })
        .await;
    let write = calls
        .iter()
        .find(|c| c.method == "POST" && c.path == path)
        .expect("the comment's write");
    let reads: Vec<_> = calls
        .iter()
        .filter(|c| c.method == "GET" && c.path == path && c.received_at > replied)
        .collect();
    // The fake records a request when it answers it: a read dropped half-way is not in the log,
    // and the one that replaced it came after the write.
    assert!(
        reads
            .iter()
            .any(|read| read.received_at + SLOW <= write.received_at),
        "the refresh's read was thrown away for the comment: reads {reads:?}, write {write:?}"
    );
    kaiten.set_latency(Duration::ZERO);
    daemon.shutdown().await;
}
