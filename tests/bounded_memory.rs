//! Bounded memory (issue 12.2): the real daemon binary carries 30 client files of 20 MB into one
//! Kaiten ticket (three albums of ten documents replying to the ticket's thread) and large staff
//! files back to Telegram, and its peak resident memory (VmHWM) stays under 150 MB. Every file
//! arrives byte-exact exactly once, and nothing is left in the store's spool afterwards.
//!
//! The files are generated from seeds as the fake Telegram and the fake Kaiten serve them, and the
//! fakes keep only the size and SHA-256 of large uploads, so the test process does not hold the
//! gigabyte that passes through either.

mod common;

use common::{daemon_logs, spawn_daemon};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};
use teledesk::demo::Stage;
use teledesk_testkit::blob::Pattern;
use teledesk_testkit::telegram::Outgoing;
use tokio::process::Child;

/// The size of every file, client's and staff's: the most Telegram lets a bot download.
const FILE_BYTES: u64 = 20 * 1024 * 1024;
const CLIENT_FILES: usize = 30;
const STAFF_FILES: usize = 5;
/// The daemon's peak resident memory must stay under this, whatever passes through it.
const PEAK_LIMIT_BYTES: u64 = 150 * 1000 * 1000;
const WAIT: Duration = Duration::from_secs(240);
/// The fakes' own wait, which panics without the daemon's logs: longer than [`WAIT`].
const FAKE_WAIT: Duration = Duration::from_secs(300);
/// Telegram's album limit.
const ALBUM: usize = 10;

fn client_file(n: usize) -> (String, Pattern) {
    (
        format!("client-{n:02}.bin"),
        Pattern::new(1000 + n as u64, FILE_BYTES),
    )
}

fn staff_file(n: usize) -> (String, Pattern) {
    (
        format!("staff-{n:02}.bin"),
        Pattern::new(2000 + n as u64, FILE_BYTES),
    )
}

/// The daemon's peak resident set size so far, from `/proc/<pid>/status` (`VmHWM`, in KiB).
fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line");
    kib * 1024
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                files_under(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

/// Waits for `wait` (whose own timeout is longer than [`WAIT`]), failing with the daemon's logs
/// when the daemon exits or [`WAIT`] passes first.
async fn or_exit<T>(daemon: &mut Child, stage: &Stage, wait: impl Future<Output = T>) -> T {
    let pid = daemon.id().unwrap_or_default();
    tokio::select! {
        done = tokio::time::timeout(WAIT, wait) => done.unwrap_or_else(|_| {
            panic!("nothing came in {WAIT:?}:\n{}\n{}", stuck(stage, pid), daemon_logs(stage))
        }),
        status = daemon.wait() => panic!("the daemon exited early ({status:?}):\n{}", daemon_logs(stage)),
    }
}

/// What a stuck run looks like from outside: Telegram's last calls, the files waiting in the
/// spool, and the state of each of the daemon's threads (`D` is waiting on the disk).
fn stuck(stage: &Stage, pid: u32) -> String {
    let calls: Vec<String> = stage
        .telegram
        .calls()
        .iter()
        .rev()
        .take(15)
        .map(|c| format!("{} {}", c.method, c.status))
        .collect();
    let spool = files_under(&stage.dir.path().join("store/spool"));
    let threads: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            let wchan = std::fs::read_to_string(task.path().join("wchan")).unwrap_or_default();
            let state = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .to_owned();
            let name = stat.split_once('(')?.1.split_once(')')?.0.to_owned();
            Some(format!("{name} {state} {wchan}"))
        })
        .collect();
    format!(
        "last Telegram calls (newest first): {calls:?}\nspool: {spool:?}\ndaemon threads: {threads:?}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_files_of_twenty_megabytes_keep_the_daemon_under_150_mb() {
    let started = Instant::now();
    let stage = Stage::new(1, "en", "1s").await;
    // The default limits (10 files, 50 MB a comment) would leave most of an album of 200 MB out;
    // an admin who takes scans of that size raises them, and memory must stay bounded anyway.
    stage.set_chat_option("files", "{ max_count = 10, max_total_size = \"1GB\" }");
    let (tg, kaiten, group) = (&stage.telegram, &stage.kaiten, stage.group());
    let mut daemon = spawn_daemon(&stage, 0);
    let pid = daemon.id().expect("running");
    let (source, card) = or_exit(
        &mut daemon,
        &stage,
        stage.ticket_in_group("The scanner sends huge files", FAKE_WAIT),
    )
    .await;
    // What the daemon needed before any file: the figure the files' cost is added to.
    let before_files = peak_rss_bytes(pid);

    let client: Vec<(String, Pattern)> = (0..CLIENT_FILES).map(client_file).collect();
    for album in client.chunks(ALBUM) {
        let items = album
            .iter()
            .map(|(name, pattern)| {
                Outgoing::generated_document(name, "application/octet-stream", *pattern, None)
                    .reply_to(source)
            })
            .collect();
        tg.send_album(group, stage.client, items);
    }
    let uploaded = or_exit(
        &mut daemon,
        &stage,
        kaiten.wait_until(FAKE_WAIT, "every client file in Kaiten", |k| {
            let files = k.files(card);
            (files.len() >= CLIENT_FILES).then_some(files)
        }),
    )
    .await;
    let client_done = started.elapsed();
    let mut by_name: HashMap<&str, Vec<_>> = HashMap::new();
    for file in &uploaded {
        by_name.entry(file.name.as_str()).or_default().push(file);
    }
    for (name, pattern) in &client {
        let copies = by_name.get(name.as_str()).map_or(0, Vec::len);
        assert_eq!(copies, 1, "{name} arrived {copies} times in Kaiten");
        let file = by_name[name.as_str()][0];
        assert_eq!(file.body.len(), FILE_BYTES, "{name}: size in Kaiten");
        assert_eq!(
            file.body.sha256_hex(),
            pattern.sha256_hex(),
            "{name} is not byte-exact in Kaiten"
        );
    }
    assert_eq!(
        uploaded.len(),
        CLIENT_FILES,
        "no other file reached the card"
    );

    let staff: Vec<(String, Pattern)> = (0..STAFF_FILES).map(staff_file).collect();
    for (n, (name, pattern)) in staff.iter().enumerate() {
        kaiten.staff_reply_with_generated_file(
            card,
            "Мария Петрова",
            &format!("Here is file {n}"),
            name,
            *pattern,
        );
    }
    let sent = or_exit(
        &mut daemon,
        &stage,
        tg.wait_until(FAKE_WAIT, "every staff file in Telegram", |t| {
            let documents: Vec<_> = t
                .messages(group)
                .into_iter()
                .filter(|m| m.from_bot)
                .flat_map(|m| m.media)
                .filter(|m| {
                    m.file_name
                        .as_deref()
                        .is_some_and(|n| n.starts_with("staff-"))
                })
                .collect();
            (documents.len() >= STAFF_FILES).then_some(documents)
        }),
    )
    .await;
    for (name, pattern) in &staff {
        let copies: Vec<_> = sent
            .iter()
            .filter(|m| m.file_name.as_deref() == Some(name.as_str()))
            .collect();
        assert_eq!(
            copies.len(),
            1,
            "{name} arrived {} times in Telegram",
            copies.len()
        );
        assert_eq!(
            copies[0].size as u64, FILE_BYTES,
            "{name}: size in Telegram"
        );
        assert_eq!(
            tg.file_sha256(&copies[0].file_id),
            Some(pattern.sha256_hex()),
            "{name} is not byte-exact in Telegram"
        );
    }
    assert_eq!(sent.len(), STAFF_FILES, "no other staff file was sent");
    let all_done = started.elapsed();

    // A sent file's record is dropped, and with it the file, just after the send is recorded.
    let spool = stage.dir.path().join("store/spool");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !files_under(&spool).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let peak = peak_rss_bytes(pid);
    let moved = (CLIENT_FILES + STAFF_FILES) as u64 * FILE_BYTES;
    eprintln!(
        "bounded memory: daemon peak RSS (VmHWM) {:.1} MB ({:.1} MB before the first file) while \
         {} files of {} MB ({:.0} MB) passed through it; client files in Kaiten after {:.1} s, \
         staff files in Telegram after {:.1} s",
        peak as f64 / 1e6,
        before_files as f64 / 1e6,
        CLIENT_FILES + STAFF_FILES,
        FILE_BYTES / (1024 * 1024),
        moved as f64 / 1e6,
        client_done.as_secs_f64(),
        all_done.as_secs_f64(),
    );
    let left = files_under(&spool);
    assert!(left.is_empty(), "files left in the spool: {left:?}");
    assert!(
        peak < PEAK_LIMIT_BYTES,
        "the daemon's peak RSS was {:.1} MB, over {} MB\n{}",
        peak as f64 / 1e6,
        PEAK_LIMIT_BYTES / 1_000_000,
        daemon_logs(&stage)
    );

    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .expect("kill(1) is available");
    assert!(status.success());
    let status = tokio::time::timeout(Duration::from_secs(60), daemon.wait())
        .await
        .expect("the daemon stops on SIGTERM")
        .unwrap();
    assert!(
        status.success(),
        "graceful stop failed: {status:?}\n{}",
        daemon_logs(&stage)
    );
    let left = files_under(&spool);
    assert!(
        left.is_empty(),
        "files left in the spool after the stop: {left:?}"
    );
}
