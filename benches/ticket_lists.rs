//! What a ticket list costs as the store grows: the Mini App's lists (one chat's tickets) and
//! `/my` (one user's), read through the per-chat and per-author indexes, against the full scan of
//! every ticket record they replaced (measured in the same run, on the same store).
//!
//! A second table times `/find` (a search by words with a state filter, and one by a date
//! range) at 100,000 tickets over what a client of a `visibility = "chat"` chat may see (their
//! own tickets and their chat's), against the same search over every ticket record.
//!
//! Run: `cargo bench --bench ticket_lists`. Prints one row per store size; the figures go to
//! BENCHMARKS.md.

use std::time::{Duration, Instant};
use teledesk::engine::search::Request;
use teledesk::model::TicketLink;
use teledesk::store::Store;

const CHATS: u64 = 100;
const AUTHORS: u64 = 2_000;
const ROUNDS: usize = 15;

fn ticket(local: u64) -> TicketLink {
    serde_json::from_value(serde_json::json!({
        "local": local,
        "helpdesk": "main",
        "ticket_id": local.to_string(),
        "number": local.to_string(),
        "chat_id": -1_000_000_000_000i64 - (local % CHATS) as i64,
        "source_message_id": local,
        "card_message_id": local + 1,
        "author": {
            "display_name": "Анна Смирнова",
            "telegram_id": 500_000 + (local % AUTHORS) as i64,
            "username": "anna",
            "company": "ООО Ромашка",
        },
        "view": {
            "subject": "Не печатает принтер в бухгалтерии",
            "description": "Принтер в бухгалтерии не печатает, на экране ошибка 0x0000.",
            "status": if local.is_multiple_of(3) { "closed" } else { "in_progress" },
            "state": "В работе",
            "assignee": "Иван Петров",
            "last_comments": [
                {"author": "Иван Петров", "text": "Проверяем, скоро ответим."},
            ],
        },
        "known_comments": ["1", "2", "3"],
        "created_at": "2026-11-21T12:00:00Z",
        "times": {
            "registered_at": format!("2026-{:02}-{:02}T09:00:00Z", 1 + local % 12, 1 + local % 28),
        },
    }))
    .expect("a ticket record")
}

/// The median of `ROUNDS` runs of `f`.
fn median(mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut times = Vec::with_capacity(ROUNDS);
    let mut found = 0;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        found = std::hint::black_box(f());
        times.push(started.elapsed());
    }
    times.sort();
    (times[ROUNDS / 2], found)
}

fn main() {
    println!(
        "{:>8} | {:>12} {:>12} {:>7} | {:>12} {:>12} {:>7}",
        "tickets", "chat: scan", "chat: index", "ratio", "user: scan", "user: index", "ratio"
    );
    for size in [1_000u64, 10_000, 50_000] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::open(dir.path()).expect("a store");
        store
            .write(|tx| {
                for local in 1..=size {
                    tx.put_ticket(&ticket(local));
                }
                Ok(())
            })
            .expect("tickets written");
        let chat = -1_000_000_000_000i64 - 7;
        let user = 500_000 + 7;
        let read = store.read();

        let (chat_scan, in_chat) = median(|| {
            let all = read.tickets().expect("tickets");
            all.into_iter().filter(|l| l.chat_id == chat).count()
        });
        let (chat_index, indexed) = median(|| read.tickets_in_chat(chat).expect("tickets").len());
        assert_eq!(in_chat, indexed, "both ways find the same tickets");
        let (user_scan, of_user) = median(|| {
            let all = read.tickets().expect("tickets");
            all.into_iter()
                .filter(|l| l.author.telegram_id == user)
                .count()
        });
        let (user_index, indexed) = median(|| read.tickets_by_author(user).expect("tickets").len());
        assert_eq!(of_user, indexed, "both ways find the same tickets");

        println!(
            "{size:>8} | {:>12} {:>12} {:>6.0}x | {:>12} {:>12} {:>6.0}x",
            format!("{chat_scan:.2?}"),
            format!("{chat_index:.2?}"),
            chat_scan.as_secs_f64() / chat_index.as_secs_f64(),
            format!("{user_scan:.2?}"),
            format!("{user_index:.2?}"),
            user_scan.as_secs_f64() / user_index.as_secs_f64(),
        );
    }
    println!(
        "({CHATS} chats, {AUTHORS} authors, median of {ROUNDS} runs; 'scan' reads and decodes \
         every ticket record, as the lists did before the indexes)"
    );
    search(100_000);
}

/// `/find` at `size` tickets: the visible tickets through the indexes, then the search.
fn search(size: u64) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(dir.path()).expect("a store");
    store
        .write(|tx| {
            for local in 1..=size {
                tx.put_ticket(&ticket(local));
            }
            Ok(())
        })
        .expect("tickets written");
    let chat = -1_000_000_000_000i64 - 7;
    let user = 500_000 + 7;
    let read = store.read();
    println!();
    println!(
        "{:>8} | {:>24} | {:>12} {:>12} {:>7} | {:>5}",
        "tickets", "search", "scan", "index", "ratio", "found"
    );
    for args in ["открытые принтер", "2026-04-01..2026-04-30"] {
        let request = Request::parse_args(args);
        let (scan, found_scan) = median(|| {
            let all = read.tickets().expect("tickets");
            let visible = all
                .into_iter()
                .filter(|l| l.chat_id == chat || l.author.telegram_id == user)
                .collect();
            request.run(visible).len()
        });
        let (index, found) = median(|| {
            let mut visible = read.tickets_by_author(user).expect("tickets");
            visible.extend(read.tickets_in_chat(chat).expect("tickets"));
            request.run(visible).len()
        });
        assert_eq!(found, found_scan, "both ways find the same tickets");
        println!(
            "{size:>8} | {args:>24} | {:>12} {:>12} {:>6.0}x | {found:>5}",
            format!("{scan:.2?}"),
            format!("{index:.2?}"),
            scan.as_secs_f64() / index.as_secs_f64(),
        );
    }
}
