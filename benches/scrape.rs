//! What `/metrics` and `/healthz` read from the store as it grows: the counts and the oldest
//! waiting record of each queue, kept as writes are applied, against a scan of the queues that
//! answers the same question (counting the records and reading the first), in the same run on the
//! same store.
//!
//! Run: `cargo bench --bench scrape`. Prints one row per queue size; the figures go to
//! BENCHMARKS.md.

use std::time::{Duration, Instant};
use teledesk::model::{Job, JobKind};
use teledesk::store::Store;
use teledesk_adapter::IdempotencyKey;

const READS: u32 = 2_000;

fn job(n: i32) -> Job {
    Job {
        kind: JobKind::CreateTicket {
            key: IdempotencyKey::telegram(-1, n),
            subject: "Не печатает принтер".into(),
            description: "Принтер в бухгалтерии не печатает, на экране ошибка 0x0000.".into(),
            files: vec![],
            registered_at: time::OffsetDateTime::UNIX_EPOCH,
            source_url: None,
            follow_up_of: None,
            intake: Default::default(),
        },
        attempts: 0,
        not_before: time::OffsetDateTime::UNIX_EPOCH,
        boot: 1,
        last_error: None,
        uncertain: false,
    }
}

/// The mean time of one `read`.
fn time_of(mut read: impl FnMut() -> usize, reads: u32) -> Duration {
    let started = Instant::now();
    let mut sink = 0;
    for _ in 0..reads {
        sink += std::hint::black_box(read());
    }
    std::hint::black_box(sink);
    started.elapsed() / reads
}

fn main() {
    println!("| queued jobs | tally (counts + oldest) | scan (count + first) | scan / tally |");
    println!("| ---: | ---: | ---: | ---: |");
    for size in [100, 10_000, 100_000] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::open(dir.path()).expect("the store opens");
        for chunk in (0..size).collect::<Vec<i32>>().chunks(5_000) {
            store
                .write(|tx| {
                    for n in chunk {
                        tx.push_job(*n as u64, &job(*n))?;
                    }
                    Ok(())
                })
                .expect("the jobs are queued");
        }
        let tally = time_of(|| store.counts().jobs + store.oldest().len(), READS * 10);
        // What a scrape would cost without the tally: every queued job read to count them (the
        // job heads are the first record of each ticket, the queue's front).
        let scan_reads = (READS / (size as u32 / 100).max(1)).max(3);
        let scan = time_of(
            || {
                let read = store.read();
                read.jobs_len() + read.job_heads().map(|h| h.len()).unwrap_or(0)
            },
            scan_reads,
        );
        println!(
            "| {size} | {tally:.2?} | {scan:.2?} | {:.0}× |",
            scan.as_secs_f64() / tally.as_secs_f64()
        );
    }
}
