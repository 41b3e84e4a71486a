//! Crash safety (DESIGN §3 rules 1 and 2): the daemon process is killed with SIGKILL twice in the
//! middle of a burst of 20 tickets and 200 comments, restarted each time, and in the end every
//! ticket exists exactly once in Kaiten and every comment exactly once, in order per ticket.

mod common;

use common::{daemon_logs, spawn_daemon};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use teledesk::demo::Stage;
use teledesk_testkit::telegram::Outgoing;
use tokio::process::Child;

const TICKETS: usize = 20;
const COMMENTS_PER_TICKET: usize = 10;
const GROUPS: usize = 5;

fn comment_count(stage: &Stage) -> usize {
    stage
        .kaiten
        .cards()
        .iter()
        .map(|card| stage.kaiten.comments(card.id).len())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_nothing_and_doubles_nothing() {
    let stage = Stage::new(GROUPS, "ru", "0s").await;
    let tg = &stage.telegram;
    let mut daemon = spawn_daemon(&stage, 0);

    // The burst: each ticket is a client message turned into a ticket with /ticket, followed by
    // ten replies to that message (its thread), all queued in Telegram at once.
    let mut sources = Vec::new();
    for t in 0..TICKETS {
        let group = stage.groups[t % GROUPS];
        let source = tg.send(
            group,
            stage.client,
            Outgoing::text(&format!("Problem {t}: the printer is on fire")),
        );
        tg.send(
            group,
            stage.client,
            Outgoing::text("/ticket").reply_to(source),
        );
        sources.push((group, source));
    }
    for c in 0..COMMENTS_PER_TICKET {
        for (t, (group, source)) in sources.iter().enumerate() {
            tg.send(
                *group,
                stage.client,
                Outgoing::text(&format!("t{t} c{c}")).reply_to(*source),
            );
        }
    }

    let total = TICKETS * COMMENTS_PER_TICKET;
    for (run, kill_at) in [(1, total / 4), (2, total * 3 / 5)] {
        let reached = stage.kaiten.wait_until(
            Duration::from_secs(120),
            "comments reaching Kaiten before the kill",
            |_| (comment_count(&stage) >= kill_at).then_some(()),
        );
        tokio::select! {
            _ = reached => {}
            status = daemon.wait() => panic!("the daemon exited early ({status:?}):\n{}", daemon_logs(&stage)),
        }
        daemon.kill().await.expect("SIGKILL");
        daemon = spawn_daemon(&stage, run);
    }

    let done = stage
        .kaiten
        .wait_until(Duration::from_secs(240), "every comment in Kaiten", |k| {
            (k.cards().len() >= TICKETS && comment_count(&stage) >= total).then_some(())
        });
    tokio::select! {
        _ = done => {}
        status = daemon.wait() => panic!("the daemon exited early ({status:?}):\n{}", daemon_logs(&stage)),
    }
    // A graceful stop drains what is left, so a late duplicate would show up below.
    let pid = daemon.id().expect("running") as i32;
    send_sigterm(pid);
    let status = tokio::time::timeout(Duration::from_secs(60), daemon.wait())
        .await
        .expect("the daemon stops on SIGTERM")
        .unwrap();
    assert!(
        status.success(),
        "graceful stop failed: {status:?}\n{}",
        daemon_logs(&stage)
    );

    let cards = stage.kaiten.cards();
    assert_eq!(
        cards.len(),
        TICKETS,
        "each ticket exactly once:\n{}",
        daemon_logs(&stage)
    );
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for card in &cards {
        *by_key
            .entry(card.external_id.clone().unwrap_or_default())
            .or_default() += 1;
    }
    assert!(
        by_key.values().all(|n| *n == 1),
        "duplicate external ids: {by_key:?}"
    );

    let mut per_ticket: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for card in &cards {
        let t: usize = card
            .title
            .strip_prefix("Problem ")
            .and_then(|rest| rest.split(':').next())
            .and_then(|n| n.parse().ok())
            .expect("titles name their ticket");
        let mut comments = stage.kaiten.comments(card.id);
        comments.sort_by_key(|c| c.id);
        let order: Vec<usize> = comments
            .iter()
            .map(|c| {
                let marker = format!("t{t} c");
                let at = c
                    .text
                    .find(&marker)
                    .unwrap_or_else(|| panic!("comment {:?} belongs to ticket {t}", c.text));
                c.text[at + marker.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .unwrap()
            })
            .collect();
        per_ticket.insert(t, order);
    }
    let expected: Vec<usize> = (0..COMMENTS_PER_TICKET).collect();
    for (t, order) in &per_ticket {
        assert_eq!(
            order,
            &expected,
            "ticket {t}: every comment once, in order\n{}",
            daemon_logs(&stage)
        );
    }
    assert_eq!(per_ticket.len(), TICKETS);

    // Nothing is left behind in the store either.
    let store = teledesk::store::Store::open(&stage.config().store.path).unwrap();
    let queues = teledesk::daemon::queues(&store);
    assert_eq!(
        (queues.inbox, queues.jobs, queues.dead),
        (0, 0, 0),
        "{queues:?}"
    );
}

/// Awaits `condition`, failing with the daemon's logs if the daemon exits first.
async fn while_running<T>(
    stage: &Stage,
    daemon: &mut Child,
    condition: impl Future<Output = T>,
) -> T {
    tokio::select! {
        value = condition => value,
        status = daemon.wait() => {
            panic!("the daemon exited early ({status:?}):\n{}", daemon_logs(stage))
        }
    }
}

/// A staff reply long enough for four messages (about 3.5 × 4,000 characters); every line names
/// its number.
fn four_part_reply() -> String {
    (0..140)
        .map(|line| format!("l{line:03} {}", "x".repeat(95)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The reply's line numbers in the bot's messages other than the card, in message order, and
/// how many messages carry them.
fn reply_lines(stage: &Stage, card_message: i32) -> (Vec<usize>, usize) {
    let mut lines = Vec::new();
    let mut carrying = 0;
    for message in stage.telegram.messages(stage.group()) {
        if !message.from_bot || message.message_id == card_message {
            continue;
        }
        let before = lines.len();
        lines.extend(message.text.lines().filter_map(|line| {
            line.strip_prefix('l')
                .and_then(|rest| rest.get(..3))
                .and_then(|n| n.parse::<usize>().ok())
        }));
        carrying += usize::from(lines.len() > before);
    }
    (lines, carrying)
}

/// Telegram item 8: the daemon is SIGKILLed while part 3 of a 4-part staff reply is in flight
/// (Telegram never answers it); after a restart parts 3 and 4 follow, and no part is repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_between_parts_of_a_reply_sends_the_rest_once() {
    const WAIT: Duration = Duration::from_secs(90);
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group) = (&stage.telegram, stage.group());
    let mut daemon = spawn_daemon(&stage, 0);

    let source = tg.send(group, stage.client, Outgoing::text("Сломался сканер"));
    tg.send(
        group,
        stage.client,
        Outgoing::text("/ticket").reply_to(source),
    );
    let card = stage
        .kaiten
        .wait_until(WAIT, "the card", |k| k.cards().first().cloned())
        .await;
    let card_message = tg
        .wait_until(WAIT, "the ticket card in the group", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(&format!("#{}", card.id)))
                .map(|m| m.message_id)
        })
        .await;

    tg.inject_error_at(
        "sendMessage",
        group,
        3,
        teledesk_testkit::telegram::FakeError::Stall,
    );
    stage
        .kaiten
        .staff_reply(card.id, "Иван Петров", &four_part_reply());
    let stalled = tg.wait_until(WAIT, "part 3 in flight", |t| {
        t.calls()
            .iter()
            .any(|c| c.status == 0 && c.params["chat_id"].as_i64() == Some(group))
            .then_some(())
    });
    while_running(&stage, &mut daemon, stalled).await;
    let (lines, parts) = reply_lines(&stage, card_message);
    assert_eq!(parts, 2, "parts 1 and 2 were sent before the kill");
    let cut = lines.len();
    daemon.kill().await.expect("SIGKILL");
    daemon = spawn_daemon(&stage, 1);

    let done = tg.wait_until(WAIT, "the rest of the reply", |_| {
        let (lines, _) = reply_lines(&stage, card_message);
        (lines.last() == Some(&139)).then_some(())
    });
    while_running(&stage, &mut daemon, done).await;
    send_sigterm(daemon.id().expect("running") as i32);
    let status = tokio::time::timeout(Duration::from_secs(60), daemon.wait())
        .await
        .expect("the daemon stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}\n{}", daemon_logs(&stage));

    let (lines, parts) = reply_lines(&stage, card_message);
    assert_eq!(
        lines,
        (0..140).collect::<Vec<_>>(),
        "every line once, in order (the kill came after line {cut})\n{}",
        daemon_logs(&stage)
    );
    assert_eq!(parts, 4, "each part once");
    let store = teledesk::store::Store::open(&stage.config().store.path).unwrap();
    let queues = teledesk::daemon::queues(&store);
    assert_eq!((queues.outbox, queues.dead), (0, 0), "{queues:?}");
}

fn send_sigterm(pid: i32) {
    // Sending SIGTERM by PID to our own child; std has no API for signals other than SIGKILL.
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .expect("kill(1) is available");
    assert!(status.success());
}
