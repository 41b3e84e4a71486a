//! The real binary on the fakes, run as systemd would (`NOTIFY_SOCKET`, `WATCHDOG_USEC`): a
//! ticket, a client comment, a staff reply, a Telegram 429, a helpdesk outage, a refused send;
//! then `/metrics` on the admin listener has every series the daemon promises with values that
//! fit what happened, `/readyz` and `/healthz` say ready and alive, and systemd got `READY=1`,
//! watchdog pings and `STOPPING=1`.

mod common;

use common::{daemon_logs, spawn_daemon_with_env};
use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;
use teledesk::demo::Stage;
use teledesk::telemetry;
use teledesk_testkit::telegram::{FakeError, Outgoing};

const WAIT: Duration = Duration::from_secs(90);

/// One sample of the text format: its labels and value.
#[derive(Debug)]
struct Sample {
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the Prometheus text format into samples by series name.
fn parse(text: &str) -> BTreeMap<String, Vec<Sample>> {
    let mut out: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("a value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').expect("closed labels")),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter(|l| !l.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once("=\"").expect("key=\"value\"");
                (key.to_owned(), value.trim_end_matches('"').to_owned())
            })
            .collect();
        out.entry(name.to_owned())
            .or_default()
            .push(Sample { labels, value });
    }
    out
}

struct Scrape(BTreeMap<String, Vec<Sample>>);

impl Scrape {
    /// The value of the one sample of `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let matching: Vec<&Sample> = self
            .0
            .get(name)
            .unwrap_or_else(|| panic!("no series {name}"))
            .iter()
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert_eq!(matching.len(), 1, "{name} {labels:?}: {matching:?}");
        matching[0].value
    }

    /// The sum of every sample of `name` whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("no series {name}"))
            .iter()
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn get(addr: &str, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_end_to_end_run_every_series_is_there_with_plausible_values() {
    let stage = Stage::new(1, "ru", "1s").await;
    let admin = format!("127.0.0.1:{}", free_port());
    let text = std::fs::read_to_string(&stage.config_path).unwrap();
    let text = text.replace(
        "listen = \"127.0.0.1:0\"\n",
        &format!("listen = \"127.0.0.1:0\"\nadmin_listen = \"{admin}\"\n"),
    );
    std::fs::write(&stage.config_path, text).unwrap();
    let socket_path = stage.dir.path().join("notify.sock");
    // systemd's side: reads every notification as it comes (the kernel queues only a few).
    let systemd = UnixDatagram::bind(&socket_path).unwrap();
    systemd
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let listening = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let listener = {
        let (heard, listening) = (heard.clone(), listening.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while listening.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(n) = systemd.recv(&mut buf) {
                    let said = String::from_utf8_lossy(&buf[..n]).into_owned();
                    heard.lock().unwrap().push(said);
                }
            }
        })
    };
    let (tg, group) = (&stage.telegram, stage.group());
    // The first message the bot sends meets Telegram's flood control.
    tg.inject_error(
        "sendMessage",
        1,
        FakeError::TooManyRequests { retry_after: 1 },
    );
    let started = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    let mut daemon = spawn_daemon_with_env(
        &stage,
        0,
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );

    // A failing wait says what the daemon logged.
    struct Logs<'a>(&'a Stage);
    impl Drop for Logs<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                eprintln!("daemon log:\n{}", daemon_logs(self.0));
            }
        }
    }
    let _logs = Logs(&stage);
    let (source, card) = stage.ticket_in_group("Не печатает касса №2", WAIT).await;
    tg.send(
        group,
        stage.client,
        Outgoing::text("Модель Атол 30Ф").reply_to(source),
    );
    stage
        .kaiten
        .wait_until(WAIT, "the client's comment in Kaiten", |k| {
            k.comments(card)
                .iter()
                .any(|c| c.text.contains("Атол"))
                .then_some(())
        })
        .await;
    // Kaiten is down for a few requests, then answers again.
    stage.kaiten.fail_next(2, 503);
    stage
        .kaiten
        .staff_reply(card, "Мария", "Перезагрузите кассу");
    // The reply's own message: the card shows the newest comments too, and may be edited first.
    let card_number = format!("#{card}");
    tg.wait_until(WAIT, "the staff reply in the group", |t| {
        t.messages(group)
            .iter()
            .any(|m| {
                m.from_bot
                    && !m.text.contains(&card_number)
                    && m.text.contains("Перезагрузите кассу")
            })
            .then_some(())
    })
    .await;
    // Telegram refuses the bot's answer to /help for good: a dead letter.
    tg.inject_error(
        "sendMessage",
        1,
        FakeError::Api {
            code: 400,
            description:
                "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"
                    .into(),
        },
    );
    tg.send(group, stage.client, Outgoing::text("/help"));

    let scrape = loop {
        let (status, text) = tokio::select! {
            scraped = get(&admin, "/metrics") => scraped,
            status = daemon.wait() => panic!("the daemon exited ({status:?}):\n{}", daemon_logs(&stage)),
        };
        assert_eq!(status, 200, "{text}");
        let scrape = Scrape(parse(&text));
        let settled = scrape.value(telemetry::QUEUE_ITEMS, &[("queue", "dead")]) >= 1.0
            && scrape.value(telemetry::QUEUE_ITEMS, &[("queue", "outbox")]) == 0.0
            && scrape.value(telemetry::HELPDESK_UP, &[("helpdesk", "main")]) == 1.0;
        if settled {
            break scrape;
        }
        assert!(
            time::OffsetDateTime::now_utc().unix_timestamp() as f64 - started < WAIT.as_secs_f64(),
            "the run did not settle:\n{text}\n{}",
            daemon_logs(&stage)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;

    // Every series promised is there.
    for name in telemetry::ALL {
        let series = if telemetry::HISTOGRAMS.contains(name) {
            format!("{name}_count")
        } else {
            (*name).to_owned()
        };
        assert!(scrape.0.contains_key(&series), "{series} missing");
    }
    // Updates: the ticket's message, /ticket, the comment, /help.
    assert!(scrape.value(telemetry::UPDATES, &[("kind", "message")]) >= 4.0);
    assert_eq!(
        scrape.value(telemetry::TICKETS_CREATED, &[("helpdesk", "main")]),
        1.0
    );
    assert!(scrape.value(telemetry::COMMENTS, &[("direction", "to_helpdesk")]) >= 1.0);
    assert_eq!(
        scrape.value(telemetry::COMMENTS, &[("direction", "to_telegram")]),
        1.0
    );
    // Helpdesk requests: most answered, the outage's two counted as such, and each one timed.
    let kaiten = [("adapter", "kaiten")];
    let ok = scrape.value(
        telemetry::HELPDESK_REQUESTS,
        &[("adapter", "kaiten"), ("outcome", "ok")],
    );
    assert!(ok >= 3.0, "{ok}");
    assert_eq!(
        scrape.value(
            telemetry::HELPDESK_REQUESTS,
            &[("adapter", "kaiten"), ("outcome", "server_error")]
        ),
        2.0
    );
    let requests = scrape.sum(telemetry::HELPDESK_REQUESTS, &kaiten);
    let timed = format!("{}_count", telemetry::HELPDESK_REQUEST_SECONDS);
    assert_eq!(scrape.value(&timed, &kaiten), requests);
    let waited = format!("{}_count", telemetry::HELPDESK_PACER_WAIT_SECONDS);
    assert_eq!(scrape.value(&waited, &kaiten), requests);
    let took = format!("{}_sum", telemetry::HELPDESK_REQUEST_SECONDS);
    assert!(scrape.value(&took, &kaiten) > 0.0);
    // Telegram: long polls, sends, the 429 and the wait it asked for, the refusal.
    let method = |m: &'static str, o: &'static str| [("method", m), ("outcome", o)];
    assert!(scrape.value(telemetry::TELEGRAM_REQUESTS, &method("getUpdates", "ok")) >= 1.0);
    assert!(scrape.value(telemetry::TELEGRAM_REQUESTS, &method("sendMessage", "ok")) >= 2.0);
    assert!(
        scrape.value(
            telemetry::TELEGRAM_REQUESTS,
            &method("sendMessage", "rate_limited")
        ) >= 1.0
    );
    assert_eq!(
        scrape.value(
            telemetry::TELEGRAM_REQUESTS,
            &method("sendMessage", "rejected")
        ),
        1.0
    );
    let asked = format!("{}_sum", telemetry::TELEGRAM_RETRY_AFTER_SECONDS);
    assert!(scrape.value(&asked, &[]) >= 1.0);
    assert_eq!(scrape.value(telemetry::TELEGRAM_UP, &[]), 1.0);
    // Queues: all drained but the dead letter, which waits since it failed.
    for queue in ["inbox", "jobs", "outbox"] {
        assert_eq!(
            scrape.value(telemetry::QUEUE_ITEMS, &[("queue", queue)]),
            0.0
        );
        assert_eq!(
            scrape.value(telemetry::QUEUE_OLDEST_SECONDS, &[("queue", queue)]),
            0.0
        );
    }
    assert_eq!(
        scrape.value(telemetry::QUEUE_ITEMS, &[("queue", "dead")]),
        1.0
    );
    let dead_age = scrape.value(telemetry::QUEUE_OLDEST_SECONDS, &[("queue", "dead")]);
    assert!(dead_age > 0.0 && dead_age < now - started, "{dead_age}");
    assert_eq!(scrape.value(telemetry::DEAD_LETTERS, &[]), 1.0);
    // Polls: many, each timed, the last a moment ago.
    let main = [("helpdesk", "main")];
    let polls = scrape.sum(telemetry::POLLS, &main);
    assert!(polls >= 2.0, "{polls}");
    let timed_polls = format!("{}_count", telemetry::POLL_SECONDS);
    assert_eq!(scrape.value(&timed_polls, &main), polls);
    let last_poll = scrape.value(telemetry::POLL_LAST_SUCCESS, &main);
    assert!(
        last_poll >= started && last_poll <= now + 1.0,
        "{last_poll}"
    );
    assert_eq!(scrape.value(telemetry::HELPDESK_UP, &main), 1.0);
    // Levels.
    assert_eq!(scrape.sum(telemetry::TICKETS, &[]), 1.0);
    let store = scrape.value(telemetry::STORE_BYTES, &[]);
    // Sampled when the daemon started, and every 15 s since.
    assert!(store > 0.0 && store < 1e9, "{store}");
    assert_eq!(scrape.value(telemetry::READY, &[]), 1.0);
    assert_eq!(
        scrape.value(
            telemetry::BUILD_INFO,
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    // No series carries a chat, a user or a ticket.
    for (name, samples) in &scrape.0 {
        for sample in samples {
            for key in sample.labels.keys() {
                assert!(
                    [
                        "kind",
                        "helpdesk",
                        "direction",
                        "adapter",
                        "outcome",
                        "method",
                        "queue",
                        "status",
                        "version",
                        "le"
                    ]
                    .contains(&key.as_str()),
                    "{name} has label {key}"
                );
            }
        }
    }

    let (status, ready) = get(&admin, "/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert!(ready.contains("\"main\":\"ok\""), "{ready}");
    let (status, health) = get(&admin, "/healthz").await;
    assert_eq!(status, 200, "{health}");

    let pid = daemon.id().expect("running");
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(60), daemon.wait())
        .await
        .expect("the daemon stops on SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}\n{}", daemon_logs(&stage));
    listening.store(false, std::sync::atomic::Ordering::SeqCst);
    listener.join().unwrap();
    let said = heard.lock().unwrap().clone();
    assert_eq!(
        said.first().map(String::as_str),
        Some("READY=1"),
        "{said:?}"
    );
    assert_eq!(
        said.last().map(String::as_str),
        Some("STOPPING=1"),
        "{said:?}"
    );
    let pings = said.iter().filter(|s| *s == "WATCHDOG=1").count();
    assert!(pings >= 2, "a ping every 0.2 s while it ran: {said:?}");
}
