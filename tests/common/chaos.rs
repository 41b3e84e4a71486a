//! The chaos scenario (issue 12.8), shared by `tests/chaos.rs` (one run in CI) and
//! `examples/soak.rs` (runs for as long as asked): the real daemon binary through a burst of client
//! comments and staff replies across tickets in several groups, under a random mix of faults drawn
//! from a seed: Telegram 429s and dropped connections at chosen sends, Kaiten 503s, 429s and an
//! outage, a full disk under the store (where a small tmpfs can be mounted), and a SIGKILL. It
//! panics unless every comment is in Kaiten exactly once and every staff reply in Telegram exactly
//! once, each in order per ticket.
//!
//! The staff replies go out after the SIGKILL: a send Telegram accepted whose record a kill
//! interrupted is the one window the daemon cannot close (Telegram has no idempotency key), and
//! this scenario counts doubles, so it does not open that window on purpose.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use teledesk::demo::Stage;
use teledesk::demo::Target;
use teledesk_testkit::disk::SmallDisk;
use teledesk_testkit::kaiten::FakeKaiten;
use teledesk_testkit::redmine::FakeRedmine;
use teledesk_testkit::telegram::{FakeError, Outgoing};
use tokio::process::{Child, Command};

/// How a staff reply starts in the chat (the ticket card, which quotes comments, does not).
const STAFF_REPLY: &str = "💬";

/// The size of one run.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// `kaiten` (the SaaS: 5 requests a second, so a few hundred comments take minutes) or
    /// `redmine` (self-hosted: no rate limit, so the volume is what the faults let through).
    pub helpdesk: &'static str,
    /// The daemon's pace for the helpdesk (`requests_per_second`), when not the adapter's
    /// default: a self-hosted helpdesk can be allowed more than the cautious default.
    pub requests_per_second: Option<u32>,
    pub seed: u64,
    pub groups: usize,
    pub tickets: usize,
    pub comments_per_ticket: usize,
    pub replies_per_ticket: usize,
    /// How long each phase may take before the run fails.
    pub wait: Duration,
}

/// What a run did.
#[derive(Debug)]
pub struct Outcome {
    pub comments: usize,
    pub replies: usize,
    pub helpdesk_faults: usize,
    pub telegram_faults: usize,
    pub disk_full: bool,
    pub elapsed: Duration,
}

/// xorshift64*: enough randomness for a fault schedule, and the same schedule for the same seed.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// What the scenario needs from the fake helpdesk.
trait Desk {
    /// (title, id) of every ticket.
    fn tickets(&self) -> Vec<(String, i64)>;
    /// The texts of a ticket's comments, oldest first.
    fn comments(&self, ticket: i64) -> Vec<String>;
    fn staff_reply(&self, ticket: i64, text: &str);
    fn fail_next(&self, times: usize, status: u16);
    fn set_outage(&self, on: bool);
}

impl Desk for FakeKaiten {
    fn tickets(&self) -> Vec<(String, i64)> {
        self.cards().into_iter().map(|c| (c.title, c.id)).collect()
    }
    fn comments(&self, ticket: i64) -> Vec<String> {
        let mut comments = FakeKaiten::comments(self, ticket);
        comments.sort_by_key(|c| c.id);
        comments.into_iter().map(|c| c.text).collect()
    }
    fn staff_reply(&self, ticket: i64, text: &str) {
        FakeKaiten::staff_reply(self, ticket, "Мария Петрова", text);
    }
    fn fail_next(&self, times: usize, status: u16) {
        FakeKaiten::fail_next(self, times, status);
    }
    fn set_outage(&self, on: bool) {
        FakeKaiten::set_outage(self, on);
    }
}

impl Desk for FakeRedmine {
    fn tickets(&self) -> Vec<(String, i64)> {
        self.issues()
            .into_iter()
            .map(|i| (i.subject, i.id))
            .collect()
    }
    fn comments(&self, ticket: i64) -> Vec<String> {
        let mut journals = self.journals(ticket);
        journals.sort_by_key(|j| j.id);
        journals.into_iter().filter_map(|j| j.notes).collect()
    }
    fn staff_reply(&self, ticket: i64, text: &str) {
        FakeRedmine::staff_reply(self, ticket, "Мария Петрова", text);
    }
    fn fail_next(&self, times: usize, status: u16) {
        FakeRedmine::fail_next(self, times, status);
    }
    fn set_outage(&self, on: bool) {
        FakeRedmine::set_outage(self, on);
    }
}

/// Waits until `ready`, checking every 50 ms, for at most `wait`; tells whether it came.
async fn settle(wait: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while !ready() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// Waits until `ready` gives a value, checking every 50 ms; panics after `wait`.
async fn wait_for<T>(wait: Duration, what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some(value) = ready() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {wait:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts `<exe> run` on the stage's config; run `n` logs to `daemon-<n>.log` in the stage's
/// directory. Killed when dropped.
fn spawn(exe: &Path, stage: &Stage, run: usize) -> Child {
    let log = std::fs::File::create(stage.dir.path().join(format!("daemon-{run}.log"))).unwrap();
    Command::new(exe)
        .arg("run")
        .arg("--config")
        .arg(&stage.config_path)
        .env(
            "TELEDESK_LOG",
            std::env::var("TELEDESK_TEST_LOG").unwrap_or_else(|_| "warn,teledesk=info".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .expect("the daemon binary starts")
}

/// Every run's log, oldest first, for a failure message.
fn logs(stage: &Stage) -> String {
    (0..)
        .map_while(|run| {
            std::fs::read_to_string(stage.dir.path().join(format!("daemon-{run}.log"))).ok()
        })
        .collect::<Vec<_>>()
        .join("\n----- restart -----\n")
}

/// One run of the scenario with the daemon binary `exe`.
pub async fn run(plan: Plan, exe: &Path) -> Outcome {
    let Plan {
        helpdesk,
        requests_per_second,
        seed,
        groups: group_count,
        tickets: ticket_count,
        comments_per_ticket,
        replies_per_ticket,
        wait,
    } = plan;
    let started = std::time::Instant::now();
    let mut dice = Dice(seed.max(1));
    let disk = SmallDisk::mount(256);
    let stage = Stage::with_helpdesk(Target::Fake(helpdesk.into()), group_count, "ru", "1s")
        .await
        .expect("the stage starts");
    if let Some(disk) = &disk {
        stage.set_store_path(&disk.path.join("store"));
    }
    if let Some(rate) = requests_per_second {
        stage.set_helpdesk_option("requests_per_second", &rate.to_string());
    }
    let tg = &stage.telegram;
    let desk: &dyn Desk = match helpdesk {
        "kaiten" => &stage.kaiten,
        "redmine" => stage
            .helpdesk
            .fake::<FakeRedmine>()
            .expect("the Redmine fake"),
        other => panic!("no chaos for helpdesk {other}"),
    };
    let mut daemon = spawn(exe, &stage, 0);
    let mut runs = 1;
    let mut helpdesk_faults = 0;

    // The tickets, each from a message turned into a ticket in one of the groups.
    let mut tickets = Vec::new();
    for t in 0..ticket_count {
        let group = stage.groups[t % group_count];
        let source = tg.send(
            group,
            stage.client,
            Outgoing::text(&format!("Problem {t}: scanner")),
        );
        tg.send(
            group,
            stage.client,
            Outgoing::text("/ticket").reply_to(source),
        );
        tickets.push((group, source));
    }
    let cards: BTreeMap<usize, i64> = wait_for(wait, "every ticket", || {
        let cards = desk.tickets();
        (cards.len() >= ticket_count).then(|| {
            cards
                .iter()
                .map(|(title, id)| (ticket_of(title), *id))
                .collect()
        })
    })
    .await;

    // Phase 1: the comments, under Kaiten faults, a full disk and a SIGKILL: each of the last two
    // once, in a round the dice pick, the Kaiten faults in the other rounds.
    let disk_round = dice.below(comments_per_ticket);
    let kill_round = loop {
        let round = comments_per_ticket / 3 + dice.below(comments_per_ticket * 2 / 3);
        if round != disk_round {
            break round;
        }
    };
    for c in 0..comments_per_ticket {
        for (t, (group, source)) in tickets.iter().enumerate() {
            tg.send(
                *group,
                stage.client,
                Outgoing::text(&format!("t{t} c{c}")).reply_to(*source),
            );
        }
        if c == disk_round {
            if let Some(disk) = &disk {
                eprintln!("round {c}: the disk under the store is full for a moment");
                disk.fill();
                tokio::time::sleep(Duration::from_millis(500 + dice.below(1500) as u64)).await;
                disk.free();
            }
            continue;
        }
        if c == kill_round {
            eprintln!("round {c}: SIGKILL");
            tokio::time::sleep(Duration::from_millis(dice.below(800) as u64)).await;
            daemon.kill().await.expect("SIGKILL");
            daemon = spawn(exe, &stage, runs);
            runs += 1;
            continue;
        }
        helpdesk_faults += 1;
        match dice.below(4) {
            0 => {
                eprintln!("round {c}: {helpdesk} answers the next requests 503");
                desk.fail_next(1 + dice.below(3), 503);
            }
            1 => {
                eprintln!("round {c}: {helpdesk} answers the next request 429");
                desk.fail_next(1, 429);
            }
            2 => {
                eprintln!("round {c}: {helpdesk} is down for a moment");
                desk.set_outage(true);
                tokio::time::sleep(Duration::from_millis(300 + dice.below(1500) as u64)).await;
                desk.set_outage(false);
            }
            _ => {
                helpdesk_faults -= 1;
                tokio::time::sleep(Duration::from_millis(dice.below(300) as u64)).await
            }
        }
    }
    let total = ticket_count * comments_per_ticket;
    let comments_in = || -> usize {
        cards
            .iter()
            .map(|(t, card)| {
                let marker = format!("t{t} c");
                desk.comments(*card)
                    .iter()
                    .filter(|c| number_after(c, &marker).is_some())
                    .count()
            })
            .sum()
    };
    tokio::select! {
        arrived = settle(wait, || comments_in() >= total) => assert!(
            arrived,
            "seed {seed}: {} of {total} comments in the helpdesk after {wait:?}\n{}",
            comments_in(),
            logs(&stage)
        ),
        status = daemon.wait() => panic!("the daemon exited ({status:?}):\n{}", logs(&stage)),
    }

    // Phase 2: staff replies, under Telegram 429s and dropped connections.
    let mut telegram_faults = 0;
    for r in 0..replies_per_ticket {
        for (t, card) in &cards {
            desk.staff_reply(*card, &format!("s{t} r{r}"));
            if dice.below(3) == 0 {
                let group = tickets[*t].0;
                let error = if dice.below(2) == 0 {
                    FakeError::TooManyRequests { retry_after: 1 }
                } else {
                    FakeError::Disconnect
                };
                tg.inject_error_at("sendMessage", group, 1 + dice.below(3), error);
                telegram_faults += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(dice.below(1000) as u64)).await;
    }
    eprintln!("staff replies: {telegram_faults} Telegram 429s and dropped connections injected");
    let replies_in = |t: &teledesk_testkit::telegram::FakeTelegram| -> usize {
        stage
            .groups
            .iter()
            .flat_map(|g| t.messages(*g))
            .filter(|m| m.from_bot && m.text.starts_with(STAFF_REPLY))
            .count()
    };
    let replies = ticket_count * replies_per_ticket;
    tokio::select! {
        _ = tg.wait_until(wait, "every staff reply in Telegram", |t| (replies_in(t) >= replies).then_some(())) => {}
        status = daemon.wait() => panic!("the daemon exited ({status:?}):\n{}", logs(&stage)),
    }
    daemon.kill().await.expect("stop");

    // Exactly once, in order, per ticket.
    for (t, card) in &cards {
        let order: Vec<usize> = desk
            .comments(*card)
            .iter()
            .filter_map(|c| number_after(c, &format!("t{t} c")))
            .collect();
        assert_eq!(
            order,
            (0..comments_per_ticket).collect::<Vec<_>>(),
            "seed {seed}, ticket {t}: every comment once, in order\n{}",
            logs(&stage)
        );
        let group = tickets[*t].0;
        let mut sent = tg.messages(group);
        sent.sort_by_key(|m| m.message_id);
        let order: Vec<usize> = sent
            .iter()
            .filter(|m| m.from_bot && m.text.starts_with(STAFF_REPLY))
            .filter_map(|m| number_after(&m.text, &format!("s{t} r")))
            .collect();
        assert_eq!(
            order,
            (0..replies_per_ticket).collect::<Vec<_>>(),
            "seed {seed}, ticket {t}: every staff reply once, in order\n{}",
            logs(&stage)
        );
    }
    assert_eq!(desk.tickets().len(), ticket_count, "each ticket once");
    Outcome {
        comments: total,
        replies,
        helpdesk_faults,
        telegram_faults,
        disk_full: disk.is_some(),
        elapsed: started.elapsed(),
    }
}

fn ticket_of(title: &str) -> usize {
    number_after(title, "Problem ").expect("titles name their ticket")
}

/// The number written right after `marker` in `text`.
fn number_after(text: &str, marker: &str) -> Option<usize> {
    let at = text.find(marker)? + marker.len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}
