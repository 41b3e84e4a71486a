//! What the daemon holds and how fast it starts: resident memory idle and with a large store,
//! startup to ready, and how fast the inbox takes updates with one flush per batch.

use crate::Opts;
use crate::report::{Goal, Report};
use crate::world::{Profile, World, ticket_link};
use std::time::{Duration, Instant};
use teledesk::store::Store;

const MB: f64 = 1024.0 * 1024.0;

pub async fn run(profile: &Profile, opts: &Opts, report: &mut Report) {
    let scenario = "footprint";

    // An empty store.
    let world = World::new(profile, 1, opts.poll).await;
    let daemon = world.spawn().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let memory = daemon.memory();
    report.add(
        scenario,
        "startup to ready, empty store",
        daemon.ready_after.as_secs_f64() * 1000.0,
        "ms",
        None,
        "spawn of the release binary to its READY=1 (systemd notify)",
    );
    report.add(
        scenario,
        "RSS idle, empty store",
        memory.rss as f64 / MB,
        "MB",
        None,
        format!(
            "VmRSS 3 s after ready; peak (VmHWM) {:.1} MB",
            memory.peak as f64 / MB
        ),
    );
    daemon.stop();
    drop(world);

    // A large store, written directly through the store API.
    let n = opts.mappings;
    let chats = 100;
    let world = World::new(profile, chats, opts.poll).await;
    let filling = Instant::now();
    {
        let store = Store::open(&world.store_path()).expect("the store");
        let batch = 10_000;
        let mut written = 0;
        while written < n {
            let count = batch.min(n - written);
            store
                .write(|tx| {
                    for i in written..written + count {
                        let local = tx.next_seq()?;
                        let chat = world.groups[i % chats];
                        let message = i32::try_from(i / chats + 1).expect("a message id");
                        let link = ticket_link(
                            local,
                            chat,
                            message,
                            &(1_000_000 + i).to_string(),
                            "Не печатает принтер в бухгалтерии",
                            world.client,
                        );
                        tx.put_ticket(&link);
                        tx.index_message(chat, message, local);
                    }
                    Ok(())
                })
                .expect("mappings written");
            written += count;
        }
        store.flush().await.expect("the store flushed");
    }
    let fill = filling.elapsed();
    let on_disk = directory_size(&world.store_path());
    report.add(
        scenario,
        &format!("store fill, {n} mappings"),
        n as f64 / fill.as_secs_f64(),
        "mappings/s",
        None,
        format!(
            "a ticket link and its message index each, batches of 10,000 ({:.0} s; {:.0} MB on disk)",
            fill.as_secs_f64(),
            on_disk as f64 / MB
        ),
    );
    let daemon = world.spawn().await;
    report.add(
        scenario,
        &format!("startup to ready, {n} mappings"),
        daemon.ready_after.as_secs_f64() * 1000.0,
        "ms",
        None,
        "spawn to READY=1",
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let memory = daemon.memory();
    report.add(
        scenario,
        &format!("RSS idle, {n} mappings"),
        memory.rss as f64 / MB,
        "MB",
        (n >= 1_000_000).then_some(Goal::AtMost(80.0)),
        format!(
            "VmRSS 5 s after ready; peak (VmHWM) {:.1} MB",
            memory.peak as f64 / MB
        ),
    );
    daemon.stop();
    drop(world);

    inbox_appends(opts, report).await;
}

/// Updates into the inbox as intake stores them: a batch in one write (each accepted by id,
/// the offset moved past it), then one flush to disk.
async fn inbox_appends(opts: &Opts, report: &mut Report) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(dir.path()).expect("the store");
    let mut next_id = 100_001i64;
    for (batch, updates) in [(1usize, 500usize), (10, 3_000), (100, 20_000)] {
        let updates = if opts.quick { updates / 5 } else { updates };
        let started = Instant::now();
        for _ in 0..updates / batch {
            let first = next_id;
            next_id += batch as i64;
            store
                .write(|tx| {
                    for id in first..first + batch as i64 {
                        tx.accept_update(id, &update(id))?;
                    }
                    tx.set_telegram_offset(first + batch as i64);
                    Ok(())
                })
                .expect("updates stored");
            store.flush().await.expect("the inbox flushed");
        }
        let rate = (updates / batch * batch) as f64 / started.elapsed().as_secs_f64();
        report.add(
            "footprint",
            &format!("inbox appends, {batch} per flush"),
            rate,
            "updates/s",
            None,
            "the intake's write and flush, in this process",
        );
    }
}

/// A client's text message as Telegram delivers it.
fn update(id: i64) -> serde_json::Value {
    serde_json::json!({
        "update_id": id,
        "message": {
            "message_id": id - 100_000,
            "date": 1_796_000_000,
            "chat": {"id": -1_001_000_000_001i64, "type": "supergroup", "title": "Acme branch 0"},
            "from": {"id": 700_001, "is_bot": false, "first_name": "Anna", "last_name": "Smirnova",
                     "username": "anna_acme", "language_code": "ru"},
            "reply_to_message": {"message_id": 7, "date": 1_796_000_000,
                                 "chat": {"id": -1_001_000_000_001i64, "type": "supergroup"},
                                 "from": {"id": 123_456_789, "is_bot": true, "first_name": "teledesk"}},
            "text": "Принтер снова не печатает, на экране ошибка 0x0000. Перезагрузка не помогла.",
        }
    })
}

fn directory_size(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(m) if m.is_dir() => directory_size(&entry.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
