//! What every scenario stands on: the testkit's fake Telegram and a fake helpdesk in this process,
//! a config pointing at them, a store laid out in advance where a scenario needs one, and the
//! real `teledesk` binary run as a child process against them (so its CPU time and memory are
//! its own, not the fakes').

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use teledesk::model::TicketLink;
use teledesk::store::Store;
use teledesk_testkit::kaiten::FakeKaiten;
use teledesk_testkit::telegram::FakeTelegram;
use teledesk_testkit::znuny::FakeZnuny;

/// The helpdesk a scenario runs against, and how fast it answers.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    pub kind: Kind,
    /// Added to every answer of the fake.
    pub latency: Duration,
    /// The fake's rate limit (requests per rolling second); `None`: unlimited.
    pub rate_limit: Option<u32>,
    /// `requests_per_second` in the helpdesk table: the adapter's own pace; `None`:
    /// `"unlimited"` (no client-side pace).
    pub client_rps: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Kaiten,
    Znuny,
}

/// The fake helpdesk.
#[derive(Clone)]
pub enum Desk {
    Kaiten(FakeKaiten),
    Znuny(FakeZnuny),
}

/// What a helpdesk request did, as the scenarios count them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// A client's comment written (Kaiten `POST /cards/{id}/comments`, Znuny `TicketUpdate`).
    CommentWrite,
    /// Any other write (create, move, upload).
    OtherWrite,
    /// One ticket read in full (Kaiten `GET /cards/{id}`, Znuny `TicketGet`).
    TicketRead,
    /// A ticket's comments read (Kaiten `GET /cards/{id}/comments`).
    CommentRead,
    /// A list or search (the poll's feeds).
    List,
    /// Anything else (the integration user, sessions, properties).
    Other,
}

/// One helpdesk request as the fake recorded it.
#[derive(Clone, Debug)]
pub struct Call {
    pub kind: CallKind,
    pub received_at: Instant,
    pub status: u16,
    /// The request body as text, to find a comment's marker in.
    pub body: String,
    /// The first request of a poll (Kaiten's changed-cards feed, Znuny's ticket search).
    pub starts_poll: bool,
}

impl Desk {
    pub fn calls(&self) -> Vec<Call> {
        match self {
            Desk::Kaiten(k) => k
                .calls()
                .into_iter()
                .map(|c| {
                    let ticket_path = c
                        .path
                        .strip_prefix("/api/latest/cards/")
                        .map(|rest| rest.split('/').collect::<Vec<_>>());
                    let kind = match (c.method.as_str(), ticket_path.as_deref()) {
                        ("POST", Some([_, "comments"])) => CallKind::CommentWrite,
                        ("GET", Some([_, "comments"])) => CallKind::CommentRead,
                        ("GET", Some([_])) => CallKind::TicketRead,
                        ("GET", _) if c.path == "/api/latest/cards" => CallKind::List,
                        ("POST" | "PATCH" | "PUT", _) => CallKind::OtherWrite,
                        _ => CallKind::Other,
                    };
                    Call {
                        kind,
                        received_at: c.received_at,
                        status: c.status,
                        body: c
                            .body
                            .map(|b| b.to_string())
                            .unwrap_or_else(|| format!("{} {}?{}", c.method, c.path, c.query)),
                        starts_poll: kind == CallKind::List && c.query.contains("updated_after"),
                    }
                })
                .collect(),
            Desk::Znuny(z) => z
                .calls()
                .into_iter()
                .map(|c| {
                    let kind = match c.operation.as_deref() {
                        Some("TicketUpdate")
                            if c.body.as_ref().is_some_and(|b| b.get("Article").is_some()) =>
                        {
                            CallKind::CommentWrite
                        }
                        Some("TicketUpdate" | "TicketCreate") => CallKind::OtherWrite,
                        Some("TicketGet") => CallKind::TicketRead,
                        Some("TicketSearch") => CallKind::List,
                        _ => CallKind::Other,
                    };
                    Call {
                        kind,
                        received_at: c.received_at,
                        status: c.status,
                        body: c.body.map(|b| b.to_string()).unwrap_or_default(),
                        starts_poll: kind == CallKind::List,
                    }
                })
                .collect(),
        }
    }

    /// How many requests the fake has recorded; calls from this index on are a scenario's.
    pub fn call_count(&self) -> usize {
        match self {
            Desk::Kaiten(k) => k.calls().len(),
            Desk::Znuny(z) => z.calls().len(),
        }
    }

    fn set_latency(&self, latency: Duration) {
        match self {
            Desk::Kaiten(k) => k.set_latency(latency),
            Desk::Znuny(z) => z.set_latency(latency),
        }
    }

    /// Unlimited and instant while a world is laid out; the profile's timing afterwards.
    pub fn set_timing(&self, profile: Option<&Profile>) {
        self.set_latency(profile.map_or(Duration::ZERO, |p| p.latency));
        if let Desk::Kaiten(k) = self {
            k.set_rate_limit(profile.and_then(|p| p.rate_limit));
        }
    }

    /// Waits until `count` polls have started since call `from`; returns the index of each
    /// start.
    pub async fn wait_polls(&self, from: usize, count: usize, poll: Duration) -> Vec<usize> {
        let timeout = poll * (count as u32 + 1) * 4 + Duration::from_secs(120);
        self.wait_until(timeout, "the next polls", || {
            let starts: Vec<usize> = self
                .calls()
                .iter()
                .enumerate()
                .skip(from)
                .filter(|(_, c)| c.starts_poll)
                .map(|(i, _)| i)
                .collect();
            (starts.len() >= count).then(|| starts[..count].to_vec())
        })
        .await
    }

    pub fn kaiten(&self) -> &FakeKaiten {
        match self {
            Desk::Kaiten(k) => k,
            Desk::Znuny(_) => panic!("this scenario needs the Kaiten fake"),
        }
    }

    /// Waits until the fake changed and `check` holds (or panics after `timeout`).
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut() -> Option<T>,
    ) -> T {
        match self {
            Desk::Kaiten(k) => k.wait_until(timeout, what, |_| check()).await,
            Desk::Znuny(z) => z.wait_until(timeout, what, |_| check()).await,
        }
    }
}

/// The fakes, a config for the daemon, and the directory both live in.
pub struct World {
    pub tg: FakeTelegram,
    pub desk: Desk,
    pub profile: Profile,
    pub dir: tempfile::TempDir,
    /// Client supergroups, each in `[[chats]]` in group mode.
    pub groups: Vec<i64>,
    /// The client employee, a member of every group.
    pub client: i64,
    pub config_path: PathBuf,
    /// Where the daemon serves `/healthz`.
    pub http_port: u16,
}

pub const LANG: &str = "en";

/// `requests_per_second`'s value in TOML.
fn rps_value(rps: Option<f64>) -> String {
    rps.map_or_else(|| "\"unlimited\"".to_owned(), |rps| rps.to_string())
}

impl World {
    /// Starts the fakes (instant and unlimited until [`World::spawn`] applies the profile) and
    /// writes the config: `groups` client supergroups, the helpdesk polled every `poll`.
    pub async fn new(profile: &Profile, groups: usize, poll: Duration) -> World {
        let tg = FakeTelegram::start().await;
        let desk = match profile.kind {
            Kind::Kaiten => Desk::Kaiten(FakeKaiten::start().await),
            Kind::Znuny => Desk::Znuny(FakeZnuny::start().await),
        };
        desk.set_timing(None);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let client = tg.add_user("Anna", Some("Smirnova"), Some("anna_acme"));
        let groups: Vec<i64> = (0..groups)
            .map(|i| {
                let id = tg.add_supergroup(&format!("Acme branch {i}"));
                tg.add_member(id, client);
                id
            })
            .collect();
        let secret = |name: &str, value: &str| {
            let path = dir.path().join(format!("{name}-secret"));
            std::fs::write(&path, value).expect("a secret file");
            path.display().to_string()
        };
        let helpdesk = match &desk {
            Desk::Kaiten(k) => format!(
                "url = \"{url}\"\ntoken = \"file:{token}\"\nboard_id = {board}\ncolumn_id = {column}\n\
                 requests_per_second = {rps}\n\n[helpdesks.main.statuses]\n\"{waiting}\" = \"waiting_client\"\n\
                 \"{done}\" = \"closed\"\n",
                url = k.url(),
                token = secret("kaiten", &k.token()),
                board = FakeKaiten::BOARD_ID,
                column = FakeKaiten::COLUMN_NEW,
                rps = rps_value(profile.client_rps),
                waiting = FakeKaiten::COLUMN_WAITING,
                done = FakeKaiten::COLUMN_DONE,
            ),
            Desk::Znuny(z) => format!(
                "url = \"{url}\"\nuser = \"{user}\"\npassword = \"file:{password}\"\nqueue = \"{queue}\"\n\
                 customer_user = \"{customer}\"\nidempotency_field = \"{key}\"\ntimezone = \"+03:00\"\n\
                 requests_per_second = {rps}\n",
                url = z.url(),
                user = FakeZnuny::AGENT_LOGIN,
                password = secret("znuny", FakeZnuny::AGENT_PASSWORD),
                queue = FakeZnuny::QUEUE,
                customer = FakeZnuny::CUSTOMER_USER,
                key = FakeZnuny::KEY_FIELD,
                rps = rps_value(profile.client_rps),
            ),
        };
        let http_port = free_port();
        let mut text = format!(
            "[telegram]\ntoken = \"file:{token}\"\napi_url = \"{api}\"\nlanguage = \"{LANG}\"\n\n\
             [server]\nlisten = \"127.0.0.1:{http_port}\"\n\n[store]\npath = \"{store}\"\n\n\
             [helpdesks.main]\nkind = \"{kind}\"\npoll_interval = \"{poll}ms\"\n{helpdesk}",
            token = secret("telegram", &tg.token()),
            api = tg.api_url(),
            store = dir.path().join("store").display(),
            kind = match profile.kind {
                Kind::Kaiten => "kaiten",
                Kind::Znuny => "znuny",
            },
            poll = poll.as_millis(),
        );
        for (i, id) in groups.iter().enumerate() {
            text.push_str(&format!(
                "\n[[chats]]\nid = {id}\nmode = \"group\"\nhelpdesk = \"main\"\nname = \"Acme {i}\"\n"
            ));
        }
        let config_path = dir.path().join("mappings.toml");
        std::fs::write(&config_path, text).expect("the config");
        World {
            tg,
            desk,
            profile: profile.clone(),
            dir,
            groups,
            client,
            config_path,
            http_port,
        }
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The adapter the daemon builds from the same config, for a bare client in this process.
    pub fn adapter(&self) -> std::sync::Arc<dyn teledesk_adapter::Helpdesk> {
        let config = match teledesk::config::load(&self.config_path) {
            Ok(loaded) => loaded.config,
            Err(problems) => panic!("the bench's config is invalid: {problems:?}"),
        };
        teledesk::helpdesks::build(&config.helpdesks["main"]).expect("the adapter builds")
    }

    /// Applies the profile's latency and rate limit and Telegram's flood limits, then starts the
    /// daemon binary and waits for it to tell systemd it is ready.
    pub async fn spawn(&self) -> Daemon {
        self.desk.set_timing(Some(&self.profile));
        self.tg.set_enforce_limits(true);
        Daemon::start(self).await
    }

    /// Posts `text` as the bot through the Bot API (limits must be off while laying out a world);
    /// returns the message id.
    pub async fn bot_message(&self, http: &reqwest::Client, chat: i64, text: &str) -> i32 {
        let url = format!("{}/bot{}/sendMessage", self.tg.api_url(), self.tg.token());
        let answer: serde_json::Value = http
            .post(url)
            .json(&serde_json::json!({"chat_id": chat, "text": text}))
            .send()
            .await
            .expect("sendMessage")
            .json()
            .await
            .expect("sendMessage's answer");
        answer["result"]["message_id"]
            .as_i64()
            .and_then(|id| i32::try_from(id).ok())
            .unwrap_or_else(|| panic!("sendMessage failed: {answer}"))
    }

    /// Lays out `count` tickets the daemon already knows, spread over the groups: a bot card
    /// message in Telegram, a Kaiten card carrying teledesk's key, and the link in the store (with
    /// the card's view as the daemon would render it, so nothing is stale at start). Returns
    /// `(chat, card message, card id)` for each.
    pub async fn seed_kaiten_tickets(&self, count: usize) -> Vec<(i64, i32, i64)> {
        let kaiten = self.desk.kaiten().clone();
        let http = reqwest::Client::new();
        self.tg.set_enforce_limits(false);
        self.desk.set_timing(None);
        let mut seeded = Vec::with_capacity(count);
        for i in 0..count {
            let chat = self.groups[i % self.groups.len()];
            let title = format!("Bench ticket {i}");
            let message = self
                .bot_message(&http, chat, &format!("Ticket {title}\nStatus: New"))
                .await;
            let card: serde_json::Value = http
                .post(format!("{}/api/latest/cards", kaiten.url()))
                .bearer_auth(kaiten.token())
                .json(&serde_json::json!({
                    "title": title,
                    "board_id": FakeKaiten::BOARD_ID,
                    "column_id": FakeKaiten::COLUMN_NEW,
                    "external_id": format!("tg:{chat}:{message}"),
                }))
                .send()
                .await
                .expect("POST /cards")
                .json()
                .await
                .expect("the card");
            let id = card["id"].as_i64().expect("a card id");
            seeded.push((chat, message, id));
        }
        let store = Store::open(&self.store_path()).expect("the store");
        for (n, chunk) in seeded.chunks(1_000).enumerate() {
            store
                .write(|tx| {
                    for (i, (chat, message, card)) in chunk.iter().enumerate() {
                        let local = tx.next_seq()?;
                        let link = ticket_link(
                            local,
                            *chat,
                            *message,
                            &card.to_string(),
                            &format!("Bench ticket {}", n * 1_000 + i),
                            self.client,
                        );
                        tx.put_ticket(&link);
                        tx.index_message(*chat, *message, local);
                    }
                    Ok(())
                })
                .expect("tickets stored");
        }
        store.flush().await.expect("the store flushed");
        drop(store);
        // The seeded tickets are to be old news, as a help desk's open tickets are. Polls re-read
        // a short overlap before their cursor (teledesk_adapter::DEFAULT_OVERLAP), and the fake
        // gives each change its own millisecond, so thousands of cards made in a second carry
        // times ahead of the clock: the daemon starts once the newest of them is older than that.
        let newest = kaiten
            .cards()
            .iter()
            .filter_map(|c| {
                time::OffsetDateTime::parse(
                    &c.updated,
                    &time::format_description::well_known::Rfc3339,
                )
                .ok()
            })
            .max()
            .unwrap_or_else(time::OffsetDateTime::now_utc);
        let ahead =
            Duration::try_from(newest - time::OffsetDateTime::now_utc()).unwrap_or_default();
        tokio::time::sleep(ahead + teledesk_adapter::DEFAULT_OVERLAP + Duration::from_millis(500))
            .await;
        seeded
    }
}

/// A ticket link as the daemon stores one: a card in group `chat` shown by the bot's message
/// `card_message`, created from the Mini App (no source message), status new.
pub fn ticket_link(
    local: u64,
    chat: i64,
    card_message: i32,
    ticket_id: &str,
    subject: &str,
    author: i64,
) -> TicketLink {
    serde_json::from_value(serde_json::json!({
        "local": local,
        "helpdesk": "main",
        "ticket_id": ticket_id,
        "number": ticket_id,
        "chat_id": chat,
        "source_message_id": null,
        "card_message_id": card_message,
        "author": {
            "display_name": "Anna Smirnova",
            "telegram_id": author,
            "username": "anna_acme",
            "company": "Acme",
        },
        "view": {
            "subject": subject,
            "description": "",
            "status": "new",
            "state": "Новые",
            "assignee": null,
            "last_comments": [],
        },
        "known_comments": [],
        "created_at": "2026-12-01T12:00:00Z",
    }))
    .expect("a ticket record")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Memory of a process, from `/proc/<pid>/status`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Resident now (VmRSS), bytes.
    pub rss: u64,
    /// Peak resident (VmHWM), bytes.
    pub peak: u64,
}

/// The daemon binary, running; killed when dropped.
pub struct Daemon {
    child: Child,
    pid: u32,
    /// From spawn to `READY=1`.
    pub ready_after: Duration,
    http_port: u16,
    http: reqwest::Client,
    log: PathBuf,
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 on Linux unless
/// the kernel says otherwise).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

impl Daemon {
    async fn start(world: &World) -> Daemon {
        let socket_path = world.dir.path().join("notify.sock");
        let _ = std::fs::remove_file(&socket_path);
        let socket = tokio::net::UnixDatagram::bind(&socket_path).expect("the notify socket");
        let log = world
            .dir
            .path()
            .join(format!("daemon-{}.log", world.desk.call_count()));
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_teledesk"))
            .arg("run")
            .arg("--config")
            .arg(&world.config_path)
            .env("NOTIFY_SOCKET", &socket_path)
            // TELEDESK_BENCH_LOG sets the daemon's log filter (its log is kept in the world's
            // temporary directory), to see where a figure comes from.
            .env(
                "TELEDESK_LOG",
                std::env::var("TELEDESK_BENCH_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(&log).expect("the daemon's log"),
            ))
            .spawn()
            .expect("the daemon binary starts");
        let pid = child.id();
        let mut buffer = [0u8; 256];
        let ready = async {
            loop {
                let n = socket.recv(&mut buffer).await.expect("the notify socket");
                if buffer[..n].starts_with(b"READY=1") {
                    return;
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(300), ready)
            .await
            .is_err()
        {
            panic!(
                "the daemon did not become ready: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        Daemon {
            child,
            pid,
            ready_after: started.elapsed(),
            http_port: world.http_port,
            http: reqwest::Client::new(),
            log,
        }
    }

    pub fn memory(&self) -> Memory {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
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

    /// User plus system CPU time of every thread of the daemon so far.
    pub fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // Fields after the command name, which is in parentheses and may hold spaces.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let ticks: f64 = [11, 12]
            .iter()
            .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<f64>().ok()))
            .sum();
        Duration::from_secs_f64(ticks / clock_ticks())
    }

    /// `inbox + jobs + outbox` as `/healthz` reports them.
    pub async fn queued(&self) -> Option<u64> {
        let url = format!("http://127.0.0.1:{}/healthz", self.http_port);
        let body: serde_json::Value = self.http.get(url).send().await.ok()?.json().await.ok()?;
        let q = &body["queues"];
        Some(
            ["inbox", "jobs", "outbox"]
                .iter()
                .filter_map(|k| q[k].as_u64())
                .sum(),
        )
    }

    /// Waits until nothing is queued, seen twice `gap` apart.
    pub async fn wait_idle(&self, gap: Duration, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut quiet = 0;
        while quiet < 2 {
            assert!(
                Instant::now() < deadline,
                "the daemon did not go idle: {}",
                self.log_tail()
            );
            quiet = if self.queued().await == Some(0) {
                quiet + 1
            } else {
                0
            };
            tokio::time::sleep(gap).await;
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Kills the daemon and waits for it to be gone.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The world's directory goes with the world (the footprint's holds gigabytes): a log asked
        // for is kept beside the system's temporary files, and named on stderr.
        if std::env::var_os("TELEDESK_BENCH_LOG").is_some() {
            let dir = std::env::temp_dir().join("teledesk-bench-logs");
            let kept = dir.join(format!("daemon-{}.log", self.pid));
            if std::fs::create_dir_all(&dir).is_ok() && std::fs::copy(&self.log, &kept).is_ok() {
                eprintln!("the daemon's log: {}", kept.display());
            }
        }
    }
}
