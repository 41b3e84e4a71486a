//! What `teledesk export` and `teledesk import` cost as the store grows, against copying the
//! store's directory (what an admin would otherwise do, with the daemon stopped), measured in the
//! same run on the same store. And what an export costs the running daemon: the longest time a
//! write waited while an export ran (writes wait while the records are read under the store's
//! write lock), against the longest wait of the same writes without an export.
//!
//! Run: `cargo bench --bench backup`. Prints one row per store size; the figures go to
//! BENCHMARKS.md.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use teledesk::model::TicketLink;
use teledesk::store::Store;

fn ticket(local: u64) -> TicketLink {
    serde_json::from_value(serde_json::json!({
        "local": local,
        "helpdesk": "main",
        "ticket_id": local.to_string(),
        "number": local.to_string(),
        "chat_id": -1_000_000_000_000i64 - (local % 100) as i64,
        "source_message_id": local,
        "card_message_id": local + 1,
        "author": {
            "display_name": "Анна Смирнова",
            "telegram_id": 500_000 + (local % 2_000) as i64,
            "username": "anna",
            "company": "ООО Ромашка",
        },
        "view": {
            "subject": "Не печатает принтер в бухгалтерии",
            "description": "Принтер в бухгалтерии не печатает, на экране ошибка 0x0000.",
            "status": "in_progress",
            "state": "В работе",
            "assignee": "Иван Петров",
            "last_comments": [{"author": "Иван Петров", "text": "Проверяем, скоро ответим."}],
        },
        "known_comments": ["1", "2", "3"],
        "created_at": "2026-11-21T12:00:00Z",
    }))
    .expect("a ticket record")
}

fn copy_dir(from: &Path, to: &Path) -> u64 {
    std::fs::create_dir_all(to).unwrap();
    let mut bytes = 0;
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            bytes += copy_dir(&entry.path(), &target);
        } else {
            bytes += std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    // A copy is a backup once it is on disk, as the export's file is.
    std::process::Command::new("sync").status().ok();
    bytes
}

/// The longest time one of a stream of small writes waited, while `during` runs.
fn longest_write_wait(store: &Store, during: impl FnOnce()) -> Duration {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut longest = Duration::ZERO;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                store
                    .write(|tx| {
                        tx.mark_card_stale(n % 1_000);
                        Ok(())
                    })
                    .unwrap();
                longest = longest.max(started.elapsed());
                n += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            longest
        });
        // Let the writer run alone a moment, then do the work.
        std::thread::sleep(Duration::from_millis(50));
        during();
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap()
    })
}

fn main() {
    println!(
        "{:>8} | {:>9} | {:>10} {:>10} {:>6} | {:>10} {:>6} | {:>14} {:>14}",
        "tickets",
        "backup",
        "dir copy",
        "export",
        "ratio",
        "import",
        "ratio",
        "write wait: -",
        "during export"
    );
    for size in [10_000u64, 50_000] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store_dir = dir.path().join("store");
        let store = Store::open(&store_dir).expect("a store");
        for chunk in (1..=size).collect::<Vec<_>>().chunks(5_000) {
            store
                .write(|tx| {
                    for local in chunk {
                        tx.put_ticket(&ticket(*local));
                        tx.index_message(-1_000_000_000_000, *local as i32, *local);
                    }
                    Ok(())
                })
                .unwrap();
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(store.flush()).unwrap();

        let started = Instant::now();
        copy_dir(&store_dir, &dir.path().join("copy"));
        let copied = started.elapsed();

        let backup_path = dir.path().join("backup.jsonl");
        let started = Instant::now();
        let mut file = std::fs::File::create(&backup_path).unwrap();
        store.export(&mut file).unwrap();
        file.sync_all().unwrap();
        let exported = started.elapsed();
        let backup_bytes = std::fs::metadata(&backup_path).unwrap().len();

        let idle = longest_write_wait(&store, || std::thread::sleep(exported));
        let busy = longest_write_wait(&store, || {
            store.export(&mut std::io::sink()).unwrap();
        });

        let target = Store::open_for_import(&dir.path().join("imported")).unwrap();
        let started = Instant::now();
        let mut input = std::io::BufReader::new(std::fs::File::open(&backup_path).unwrap());
        target.import(&mut input, false).unwrap();
        let imported = started.elapsed();

        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
        println!(
            "{:>8} | {:>6.1} MB | {:>10} {:>10} {:>5.1}× | {:>10} {:>5.1}× | {:>14} {:>14}",
            size,
            backup_bytes as f64 / 1e6,
            ms(copied),
            ms(exported),
            exported.as_secs_f64() / copied.as_secs_f64(),
            ms(imported),
            imported.as_secs_f64() / copied.as_secs_f64(),
            ms(idle),
            ms(busy),
        );
    }
}
