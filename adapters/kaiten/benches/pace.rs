//! What the shared pacer costs a client and what it lets through, against `FakeKaiten` on
//! loopback with its rate limit on (5 requests per rolling second, 429 beyond), printed as a table
//! and JSON lines. Every figure is a ratio to a baseline measured in the same run:
//!
//! - an idle client comment through the adapter against the same `POST` sent by a bare reqwest
//!   client (the pacer's and the adapter's overhead);
//! - a client comment sent while 40 background reads are queued, against the idle comment (the
//!   priority of client work);
//! - 60 background reads against the limit's floor (the time 4.5 per second needs after the first
//!   burst): background work leaves one of the 5 slots of every window to clients, so it gets 4/5
//!   of the limit when it alone saturates it, and the expected ratio is 1.25.
//!
//! `cargo bench -p teledesk-kaiten --bench pace`; about 40 s.

use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use teledesk_adapter::{Helpdesk, work};
use teledesk_kaiten::KaitenAdapter;
use teledesk_testkit::kaiten::FakeKaiten;
use teledesk_testkit::samples;

const IDLE_ROUNDS: usize = 8;
const QUEUED_READS: usize = 40;
const BULK_READS: usize = 60;
/// Long enough for the rate window to empty between idle rounds.
const QUIET: Duration = Duration::from_millis(1200);

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let fake = FakeKaiten::start().await;
    let table = samples::table_with(fake.helpdesk_table(), json!({}));
    let kaiten = Arc::new(KaitenAdapter::from_config(&table).expect("valid config"));
    let ticket = kaiten
        .create_ticket(&samples::draft(1))
        .await
        .expect("a card")
        .id;
    let card: i64 = ticket.0.parse().expect("a card id");
    let bare = reqwest::Client::new();
    let url = format!("{}/api/latest/cards/{card}/comments", fake.url());
    let token = fake.token();

    // Idle: the adapter's comment and a bare POST, alternating, each after a quiet window.
    let mut adapter_idle = Vec::new();
    let mut bare_idle = Vec::new();
    for round in 0..IDLE_ROUNDS {
        tokio::time::sleep(QUIET).await;
        let comment = samples::comment(100 + round as i32, "Принтер снова не печатает");
        let started = Instant::now();
        let (written, _) = work::client_work(kaiten.add_comment(&ticket, &comment)).await;
        adapter_idle.push(started.elapsed());
        written.expect("the comment");
        tokio::time::sleep(QUIET).await;
        let started = Instant::now();
        let answer = bare
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({"text": "Принтер снова не печатает"}))
            .send()
            .await
            .expect("the bare POST");
        bare_idle.push(started.elapsed());
        assert!(answer.status().is_success(), "{}", answer.status());
    }
    let (adapter_p50, bare_p50) = (median(adapter_idle), median(bare_idle));

    // A client comment behind a queue of background reads.
    tokio::time::sleep(QUIET).await;
    let mut reads = Vec::new();
    for _ in 0..QUEUED_READS {
        let (kaiten, ticket) = (kaiten.clone(), ticket.clone());
        reads.push(tokio::spawn(async move {
            kaiten.get_comments(&ticket, &[]).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let started = Instant::now();
    let (written, _) =
        work::client_work(kaiten.add_comment(&ticket, &samples::comment(900, "Срочно"))).await;
    let queued = started.elapsed();
    written.expect("the comment");
    for read in reads {
        read.await.expect("a read").expect("get_comments");
    }

    // Bulk background reads against the limit's floor.
    tokio::time::sleep(QUIET).await;
    let started = Instant::now();
    let mut reads = Vec::new();
    for _ in 0..BULK_READS {
        let (kaiten, ticket) = (kaiten.clone(), ticket.clone());
        reads.push(tokio::spawn(async move {
            kaiten.get_comments(&ticket, &[]).await
        }));
    }
    for read in reads {
        read.await.expect("a read").expect("get_comments");
    }
    let bulk = started.elapsed();
    // The limit's floor: 4 at once (the fifth slot is a client's), then 4.5 per second.
    let floor = Duration::from_secs_f64((BULK_READS - 4) as f64 / 4.5);
    let refused = fake.calls().iter().filter(|c| c.status == 429).count();

    let rows = [
        (
            "idle client comment, p50",
            ms(adapter_p50),
            "bare POST p50",
            ms(bare_p50),
        ),
        (
            "client comment behind 40 queued reads",
            ms(queued),
            "idle comment p50",
            ms(adapter_p50),
        ),
        (
            "60 background reads",
            ms(bulk),
            "rate-limit floor",
            ms(floor),
        ),
    ];
    println!(
        "{:<40} {:>10} {:<22} {:>10} {:>7}",
        "measure", "ms", "baseline", "ms", "ratio"
    );
    for (what, value, baseline, base) in rows {
        println!(
            "{what:<40} {value:>10.2} {baseline:<22} {base:>10.2} {:>7.2}",
            value / base
        );
    }
    println!("429 answers: {refused}");
    for (what, value, baseline, base) in rows {
        println!(
            "{}",
            json!({"bench": "kaiten_pace", "measure": what, "ms": value,
                   "baseline": baseline, "baseline_ms": base, "ratio": value / base})
        );
    }
    println!(
        "{}",
        json!({"bench": "kaiten_pace", "measure": "429 answers", "count": refused})
    );
}
