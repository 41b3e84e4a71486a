//! What the daemon holds and how fast it starts: resident memory idle and with a large store,
//! startup to ready, and how fast the inbox takes updates with one flush per batch.

use crate::Opts;
use crate::report::{Goal, Report};
use crate::world::{Memory, Profile, World, ticket_link};
use std::path::Path;
use std::time::{Duration, Instant};
use teledesk::store::Store;

const MB: f64 = 1024.0 * 1024.0;

/// The subject of every ticket the store is filled with.
const SUBJECT: &str = "Не печатает принтер в бухгалтерии";

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
                            SUBJECT,
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
    sled_alone(&world.store_path(), n, memory, report);
    drop(world);

    inbox_appends(opts, report).await;
}

/// What sled itself holds, measured by this binary run again as a bare sled program (no
/// teledesk code but the store's sled configuration): once opening the daemon's store directory,
/// once opening a fresh one that holds `n` keys, one per mapping, each with a value the size of
/// a ticket record. The first says how much of the daemon's memory is sled's; the second what
/// sled costs per key, against which the store's keys per mapping set the daemon's floor.
fn sled_alone(store: &Path, n: usize, daemon: Memory, report: &mut Report) {
    let same = probe(&["open", &store.display().to_string()]);
    let keys = count_keys(store);
    let total: u64 = keys.iter().map(|(_, count)| count).sum();
    let keys_per_mapping = total as f64 / n.max(1) as f64;
    report.add(
        "footprint",
        &format!("store keys per mapping, {n} mappings"),
        keys_per_mapping,
        "keys",
        None,
        format!(
            "{total} keys in the daemon's store; by keyspace byte: {}",
            keys.iter()
                .map(|(byte, count)| format!("{byte}: {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    report.add(
        "footprint",
        &format!("RSS of sled alone, the same {n} mappings"),
        same.rss as f64 / MB,
        "MB",
        None,
        format!(
            "a bare sled program opening the daemon's store directory with the store's config, 5 s \
             later (peak {:.1} MB): {:.0} % of the daemon's RSS",
            same.peak as f64 / MB,
            same.rss as f64 * 100.0 / daemon.rss.max(1) as f64
        ),
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let value = serde_json::to_vec(&ticket_link(1, -1, 1, "1000000", SUBJECT, 1))
        .expect("a ticket record")
        .len();
    let filled = Instant::now();
    probe(&[
        "fill",
        &dir.path().display().to_string(),
        &n.to_string(),
        &value.to_string(),
    ]);
    let fill = filled.elapsed();
    let bare = probe(&["open", &dir.path().display().to_string()]);
    report.add(
        "footprint",
        &format!("RSS of sled alone, {n} keys"),
        bare.rss as f64 / MB,
        "MB",
        None,
        format!(
            "one key per mapping, {value}-byte values, written by a bare sled program ({:.0} s) \
             and opened by another, 5 s later (peak {:.1} MB): {:.0} bytes per key; the store \
             keeps {keys_per_mapping:.2} keys per mapping",
            fill.as_secs_f64(),
            bare.peak as f64 / MB,
            bare.rss as f64 / n.max(1) as f64
        ),
    );
}

/// How many keys the store holds per keyspace byte, counted by the bare sled program (after the
/// memory probes, in a process of its own: a walk of every key would fill the cache it measures).
fn count_keys(store: &Path) -> Vec<(u8, u64)> {
    let exe = std::env::current_exe().expect("this benchmark's binary");
    let output = std::process::Command::new(exe)
        .args([PROBE, "count", &store.display().to_string()])
        .output()
        .expect("the sled probe runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (byte, count) = line.split_once(' ')?;
            Some((byte.parse().ok()?, count.parse().ok()?))
        })
        .collect()
}

/// Runs this binary as a bare sled program ([`probe_main`]) and reads the memory it reports.
fn probe(args: &[&str]) -> Memory {
    let exe = std::env::current_exe().expect("this benchmark's binary");
    let output = std::process::Command::new(exe)
        .arg(PROBE)
        .args(args)
        .output()
        .expect("the sled probe runs");
    assert!(
        output.status.success(),
        "the sled probe failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let mut numbers = text
        .split_whitespace()
        .map(|n| n.parse::<u64>().unwrap_or(0));
    Memory {
        rss: numbers.next().unwrap_or(0),
        peak: numbers.next().unwrap_or(0),
    }
}

/// The argument that makes this binary the bare sled program.
pub const PROBE: &str = "--sled-probe";

/// The bare sled program: `open DIR` opens the store's tree in `DIR` with the store's config and
/// prints its VmRSS and VmHWM (bytes) 5 s later; `fill DIR N SIZE` writes `N` keys with
/// `SIZE`-byte values in batches of 10,000 and flushes; `count DIR` prints the number of keys
/// of each keyspace byte, one `byte count` line each.
pub fn probe_main(args: &[String]) {
    let dir = Path::new(&args[1]);
    let db = teledesk::store::sled_config(dir)
        .open()
        .expect("sled opens");
    let tree = db.open_tree(teledesk::store::TREE).expect("the tree");
    match args[0].as_str() {
        "open" => {
            std::thread::sleep(Duration::from_secs(5));
            let memory = own_memory();
            println!("{} {}", memory.rss, memory.peak);
        }
        "fill" => {
            let n: u64 = args[2].parse().expect("a key count");
            let value = vec![b'x'; args[3].parse().expect("a value size")];
            for start in (0..n).step_by(10_000) {
                let mut batch = sled::Batch::default();
                for key in start..(start + 10_000).min(n) {
                    batch.insert(&key.to_be_bytes(), value.as_slice());
                }
                tree.apply_batch(batch).expect("a batch");
            }
            db.flush().expect("a flush");
        }
        "count" => {
            let mut counts = std::collections::BTreeMap::<u8, u64>::new();
            for key in tree.iter().keys() {
                let key = key.expect("a key");
                *counts.entry(key.first().copied().unwrap_or(0)).or_default() += 1;
            }
            for (byte, count) in counts {
                println!("{byte} {count}");
            }
        }
        other => panic!("unknown probe {other}"),
    }
}

fn own_memory() -> Memory {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    Memory {
        rss: field("VmRSS:"),
        peak: field("VmHWM:"),
    }
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
