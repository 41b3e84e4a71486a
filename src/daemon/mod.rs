//! The running daemon: the loops around the engine and how they start and stop.
//!
//! ```text
//! intake ──▶ inbox ──▶ processor (engine) ──▶ jobs ──▶ runner ──▶ helpdesk
//!                                   │                    │
//!                                   └──▶ outbox ◀────────┴── dirty ◀── watcher
//!                                          │
//!                                        sender ──▶ Telegram
//! ```
//! Each loop is `async fn run(ctx, cancel)`; they meet only through the store and a few wake-up
//! signals, so any of them can be restarted or stopped without losing work.

mod control;
pub(crate) mod intake;
mod processor;
mod runner;
mod sender;
mod store_watch;
pub mod supervisor;
pub mod systemd;
mod watcher;

use crate::config::{Config, Language};
use crate::engine::{ChatSettings, Settings};
use crate::store::Store;
use crate::telegram::client::{TelegramClient, TgError};
use crate::telegram::membership::Memberships;
use crate::telegram::pacing::PacingLimits;
use crate::telegram::texts::Lang;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use teledesk_adapter::{ConfigTable, Helpdesk};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A membership the Mini App confirmed with Telegram is trusted this long, so list refreshes and
/// polling do not each cost a `getChatMember`. A user who leaves is forgotten at once when
/// Telegram tells the bot (`left_chat_member` in groups, `chat_member` where the bot is an admin);
/// otherwise the membership lapses with this.
const MEMBERSHIP_TTL: Duration = Duration::from_secs(600);

/// Knobs that are not part of the config file: they describe how this process runs.
#[derive(Clone, Debug)]
pub struct Options {
    pub pacing: PacingLimits,
    /// How long a graceful stop waits for work in flight.
    pub grace: Duration,
    /// Point the process-wide spool (where adapters stream helpdesk downloads) at the store's
    /// transit directory. The one daemon of a process does; tests running several daemons in one
    /// process leave it in the system's temporary directory.
    pub own_process_spool: bool,
    /// What the HTTP server takes at once and how long it waits for clients.
    pub http: crate::http::HttpLimits,
    /// How long a loop may go without a sign of progress before it counts as stalled (see
    /// [`supervisor::beat`]); tests shorten it.
    pub progress_budget: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            pacing: PacingLimits::default(),
            grace: Duration::from_secs(20),
            own_process_spool: false,
            http: crate::http::HttpLimits::default(),
            progress_budget: supervisor::DEFAULT_BUDGET,
        }
    }
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("helpdesk `{name}`: {problems}")]
    Helpdesk { name: String, problems: String },
    #[error("telegram: {0}")]
    Telegram(String),
    #[error("cannot listen on {listen} (server.listen): {error}")]
    Http {
        listen: std::net::SocketAddr,
        error: std::io::Error,
    },
}

/// Wake-up signals between the loops.
#[derive(Default)]
pub(crate) struct Signals {
    pub inbox: Notify,
    pub jobs: Notify,
    pub sends: Notify,
}

/// What every loop shares.
pub(crate) struct Context {
    pub store: Store,
    pub telegram: TelegramClient,
    pub settings: Settings,
    pub helpdesks: HashMap<String, Arc<dyn Helpdesk>>,
    /// `[chats.ticket]` of each chat.
    pub ticket_defaults: HashMap<i64, ConfigTable>,
    /// `registered_at` of each chat that names a helpdesk field for the registration time.
    pub registered_at: HashMap<i64, String>,
    pub poll_intervals: HashMap<String, Duration>,
    /// How many tickets of each helpdesk are worked on at once.
    pub max_in_flight: HashMap<String, usize>,
    pub signals: Signals,
    pub options: Options,
    /// Who the Mini App has seen to be a member of which chat; intake forgets a user who leaves.
    pub memberships: Memberships,
    /// How each supervised loop stands, for `/healthz`.
    pub health: Arc<supervisor::Health>,
    /// Telegram sends whose record failed, to be recorded instead of made again.
    pub unrecorded_sends: sender::SendMemo,
    /// Cancelled when the daemon cannot go on and must exit with an error (see
    /// [`Daemon::failed`]).
    pub fatal: CancellationToken,
    /// Levels sampled in the background for `/metrics`.
    pub sampled: crate::telemetry::Sampled,
}

impl Context {
    pub fn helpdesk(&self, name: &str) -> Option<&Arc<dyn Helpdesk>> {
        self.helpdesks.get(name)
    }
}

impl From<Language> for Lang {
    fn from(language: Language) -> Self {
        match language {
            Language::Ru => Lang::Ru,
            Language::En => Lang::En,
        }
    }
}

/// A started daemon.
pub struct Daemon {
    context: Arc<Context>,
    tracker: TaskTracker,
    intake_stop: CancellationToken,
    work_stop: CancellationToken,
    http: Option<crate::http::Bound>,
}

impl Daemon {
    /// Opens the store, builds the adapters, asks Telegram who the bot is and starts every loop.
    pub async fn start(config: &Config, options: Options) -> Result<Self, StartError> {
        // Before the first request, so that it is counted.
        crate::telemetry::handle();
        let store = Store::open(&config.store.path)?;
        // Files a killed process left between being kept and being recorded, and in transit.
        match store
            .read()
            .referenced_files()
            .map(|names| store.files().sweep(&names))
        {
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => tracing::info!(removed, "Removed files no record names."),
            Ok(Err(error)) => tracing::warn!(%error, "Cannot sweep the store's files."),
            Err(error) => tracing::warn!(%error, "Cannot list the store's files."),
        }
        if options.own_process_spool {
            teledesk_adapter::Spool::set_global(store.files().transit_spool());
        }
        let mut helpdesks = HashMap::new();
        let mut poll_intervals = HashMap::new();
        let mut max_in_flight = HashMap::new();
        for (name, helpdesk) in &config.helpdesks {
            let adapter =
                crate::helpdesks::build(helpdesk).map_err(|problems| StartError::Helpdesk {
                    name: name.clone(),
                    problems: problems
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                })?;
            let in_flight = helpdesk
                .max_in_flight
                .unwrap_or_else(|| default_max_in_flight(&adapter.capability()));
            tracing::info!(helpdesk = %name, max_in_flight = in_flight, "Tickets worked on at once.");
            max_in_flight.insert(name.clone(), in_flight);
            helpdesks.insert(name.clone(), adapter);
            poll_intervals.insert(name.clone(), helpdesk.poll_interval);
        }
        let telegram = TelegramClient::new(&config.telegram.api_url, &config.telegram.token)
            .map_err(StartError::Telegram)?;
        let me = get_me_with_patience(&telegram).await?;
        tracing::info!(bot = %me.username, bot_id = me.id, "Connected to Telegram.");
        let lang: Lang = config.telegram.language.into();
        let commands: &[(&str, &str)] = match lang {
            Lang::Ru => &[
                ("new", "Новая заявка"),
                ("ticket", "Ответом на сообщение: сделать заявку"),
                ("cancel", "Отменить оформление заявки"),
                ("escalate", "Обратите внимание. Эскалация заявки"),
                ("my", "Мои открытые заявки"),
                ("last", "Мои последние заявки"),
                ("help", "Как пользоваться поддержкой"),
            ],
            Lang::En => &[
                ("new", "New ticket"),
                ("ticket", "As a reply: turn a message into a ticket"),
                ("cancel", "Cancel the request being written"),
                ("escalate", "Attention please: escalate the ticket"),
                ("my", "My open tickets"),
                ("last", "My latest tickets"),
                ("help", "How support works here"),
            ],
        };
        if let Err(error) = telegram.set_commands(commands).await {
            tracing::warn!(%error, "Could not register the bot's command menu.");
        }
        let settings = Settings {
            bot_id: me.id,
            bot_username: me.username,
            lang,
            chats: chat_settings(&telegram, config).await,
            chat_key: config.telegram.token.clone(),
            admins: config.telegram.admins.clone(),
        };
        let context = Arc::new(Context {
            store,
            telegram,
            settings,
            helpdesks,
            ticket_defaults: config
                .chats
                .iter()
                .map(|c| (c.id, c.ticket.clone()))
                .collect(),
            registered_at: config
                .chats
                .iter()
                .filter_map(|c| Some((c.id, c.registered_at.clone()?)))
                .collect(),
            poll_intervals,
            max_in_flight,
            signals: Signals::default(),
            options: options.clone(),
            memberships: Memberships::new(MEMBERSHIP_TTL),
            health: Arc::new(supervisor::Health::with_budget(options.progress_budget)),
            fatal: CancellationToken::new(),
            sampled: Default::default(),
            unrecorded_sends: Default::default(),
        });
        let tracker = TaskTracker::new();
        let intake_stop = CancellationToken::new();
        let work_stop = CancellationToken::new();
        let webhook_mode = config.telegram.updates == crate::config::UpdatesMode::Webhook;
        if !webhook_mode {
            if let Err(error) = context.telegram.delete_webhook().await {
                tracing::warn!(%error, "Could not make sure no webhook is set; getUpdates may be refused.");
            }
            let ctx = context.clone();
            let stop = intake_stop.clone();
            supervisor::supervise(
                &tracker,
                context.health.clone(),
                "intake".into(),
                intake_stop.clone(),
                move || intake::run(ctx.clone(), stop.clone()),
            );
        }
        macro_rules! work_loop {
            ($name:expr, $run:expr) => {{
                let ctx = context.clone();
                let stop = work_stop.clone();
                supervisor::supervise(
                    &tracker,
                    context.health.clone(),
                    $name,
                    work_stop.clone(),
                    move || $run(ctx.clone(), stop.clone()),
                );
            }};
        }
        control::start(context.clone(), work_stop.clone(), &tracker);
        work_loop!("store".into(), store_watch::run);
        work_loop!("processor".into(), processor::run);
        work_loop!("runner".into(), runner::run);
        work_loop!("sender".into(), sender::run);
        work_loop!("telemetry".into(), crate::telemetry::run);
        for name in context.helpdesks.keys() {
            let helpdesk = name.clone();
            work_loop!(format!("watcher:{name}"), |ctx, stop| watcher::run(
                ctx,
                helpdesk.clone(),
                stop
            ));
        }
        // The server takes submissions into the inbox, so it stops with the intake.
        let http = if config.server.enabled {
            let settings = crate::http::ServerSettings {
                limits: context.options.http,
                init_data_max_age: config.server.init_data_max_age,
                admin_listen: config.server.admin_listen,
                webhook_secret: config
                    .telegram
                    .webhook_secret
                    .clone()
                    .filter(|_| webhook_mode),
            };
            let listen = config.server.listen;
            Some(
                crate::http::start(
                    context.clone(),
                    settings,
                    listen,
                    intake_stop.clone(),
                    &tracker,
                )
                .await
                .map_err(|error| StartError::Http { listen, error })?,
            )
        } else {
            None
        };
        if webhook_mode {
            // The server is up, so Telegram's first delivery finds it.
            let (Some(public_url), Some(secret)) =
                (&config.server.public_url, &config.telegram.webhook_secret)
            else {
                return Err(StartError::Telegram(
                    "webhook mode needs server.public_url and telegram.webhook_secret".into(),
                ));
            };
            let url = format!("{public_url}{}", crate::http::telegram_updates::PATH);
            context
                .telegram
                .set_webhook(&url, secret)
                .await
                .map_err(|error| StartError::Telegram(format!("setWebhook {url}: {error}")))?;
            tracing::info!(%url, "Telegram delivers updates to the webhook.");
        }
        tracker.close();
        Ok(Self {
            context,
            tracker,
            intake_stop,
            work_stop,
            http,
        })
    }

    /// Where the HTTP server listens (the port picked when `listen` asked for port 0), when the
    /// config has a `[server]` table.
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.http.map(|bound| bound.public)
    }

    /// Where `/healthz` and `/metrics` are served when `server.admin_listen` is set.
    pub fn admin_addr(&self) -> Option<std::net::SocketAddr> {
        self.http.and_then(|bound| bound.admin)
    }

    /// Queue sizes, for `/healthz` and tests.
    pub fn queues(&self) -> Queues {
        queues(&self.context.store)
    }

    /// Every ticket teledesk knows, oldest first (for the demo and tests).
    pub fn tickets(&self) -> Vec<crate::model::TicketLink> {
        self.context.store.read().tickets().unwrap_or_default()
    }

    /// The adapter of a configured helpdesk, to read tickets as teledesk sees them.
    pub fn helpdesk(&self, name: &str) -> Option<Arc<dyn Helpdesk>> {
        self.context.helpdesks.get(name).cloned()
    }

    /// Resolves when the daemon cannot go on (its store has not worked for a long time): the
    /// caller shuts it down and exits with an error, so the service manager starts it afresh.
    pub async fn failed(&self) {
        self.context.fatal.cancelled().await;
    }

    /// Why the store does not work right now, if it does not (for tests and `/healthz`).
    pub fn store_failure(&self) -> Option<String> {
        self.context.store.failure()
    }

    /// Whether the daemon can do its work now, as `/readyz` answers.
    pub fn readiness(&self) -> Readiness {
        readiness(&self.context)
    }

    /// Pings systemd's watchdog through `notifier` every `every` for as long as every loop makes
    /// progress, until the daemon stops (see [`systemd`]).
    pub fn start_watchdog(&self, notifier: systemd::Notifier, every: Duration) {
        tracing::info!(every = ?every, "Pinging the systemd watchdog while the loops make progress.");
        self.tracker.spawn(systemd::watchdog(
            self.context.health.clone(),
            notifier,
            every,
            self.work_stop.clone(),
        ));
    }

    /// Stops taking updates, lets queued work drain for up to `options.grace`, then stops every
    /// loop and flushes the store. Whatever is left stays queued for the next start. A failed
    /// store cannot drain, so then nothing is waited for.
    pub async fn shutdown(self) {
        self.intake_stop.cancel();
        let deadline = tokio::time::Instant::now() + self.context.options.grace;
        while tokio::time::Instant::now() < deadline && self.context.store.failure().is_none() {
            let q = self.queues();
            if q.inbox == 0 && q.jobs == 0 && q.outbox == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.work_stop.cancel();
        if tokio::time::timeout(Duration::from_secs(10), self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("Some loops did not stop in time; their work stays queued.");
        }
        if let Err(error) = self.context.store.flush().await {
            tracing::error!(%error, "Could not flush the store on shutdown.");
        }
        tracing::info!("Stopped.");
    }
}

/// Whether the daemon can do its work: its store works, Telegram answers, and every polled
/// helpdesk answered a poll lately.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Readiness {
    pub ready: bool,
    /// `ok`, or why the store does not work.
    pub store: String,
    /// `ok` while the last Bot API request got an answer, else `unreachable`.
    pub telegram: &'static str,
    /// Each helpdesk: `ok`, `never polled`, `last poll <n>s ago`, or `webhooks only` (polling
    /// off: nothing to judge it by, and not held against readiness).
    pub helpdesks: std::collections::BTreeMap<String, String>,
}

/// A polled helpdesk is recent enough when it answered within this many poll intervals (a
/// failed poll is retried within about four intervals, see the watcher)...
const RECENT_POLLS: u32 = 5;
/// ...and never stricter than this, so a helpdesk polled every few seconds is not judged on one
/// slow answer.
const RECENT_AT_LEAST: Duration = Duration::from_secs(60);

pub(crate) fn readiness(ctx: &Context) -> Readiness {
    let store = ctx.store.failure();
    let telegram = ctx.telegram.reachable();
    let mut helpdesks = std::collections::BTreeMap::new();
    let mut polls_ok = true;
    for name in ctx.helpdesks.keys() {
        let interval = ctx.poll_intervals.get(name).copied().unwrap_or_default();
        let state = if interval.is_zero() {
            "webhooks only".to_owned()
        } else {
            let recent = (interval * RECENT_POLLS).max(RECENT_AT_LEAST);
            match ctx.health.since_poll(name) {
                Some(ago) if ago <= recent => "ok".to_owned(),
                Some(ago) => {
                    polls_ok = false;
                    format!("last poll {}s ago", ago.as_secs())
                }
                None => {
                    polls_ok = false;
                    "never polled".to_owned()
                }
            }
        };
        helpdesks.insert(name.clone(), state);
    }
    Readiness {
        ready: store.is_none() && telegram && polls_ok,
        store: store.unwrap_or_else(|| "ok".to_owned()),
        telegram: if telegram { "ok" } else { "unreachable" },
        helpdesks,
    }
}

/// How much work is waiting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Queues {
    pub inbox: usize,
    pub jobs: usize,
    pub outbox: usize,
    pub dead: usize,
}

pub fn queues(store: &Store) -> Queues {
    let counts = store.counts();
    Queues {
        inbox: counts.inbox,
        jobs: counts.jobs,
        outbox: counts.outbox,
        dead: counts.dead,
    }
}

/// The engine's view of `[[chats]]`. A channel's discussion group (asked from Telegram: the
/// channel's `linked_chat_id`) gets its own entry, because comments arrive there while the
/// tickets belong to the channel.
async fn chat_settings(telegram: &TelegramClient, config: &Config) -> HashMap<i64, ChatSettings> {
    let mut chats = HashMap::new();
    for c in &config.chats {
        let settings = ChatSettings {
            id: c.id,
            ticket_chat: c.id,
            mode: c.mode,
            helpdesk: c.helpdesk.clone(),
            name: c.name.clone(),
            companies: c.companies.clone(),
            on_closed_comment: c.on_closed_comment,
            files: c.files,
            visibility: c.visibility,
            intake: std::sync::Arc::new(c.intake.clone()),
        };
        if c.mode == crate::config::ChatMode::Channel {
            match telegram.linked_chat(c.id).await {
                Ok(Some(group)) => {
                    tracing::info!(
                        channel = c.id,
                        group,
                        "Comments come from the channel's discussion group."
                    );
                    chats.insert(
                        group,
                        ChatSettings {
                            id: group,
                            ..settings.clone()
                        },
                    );
                }
                Ok(None) => tracing::warn!(
                    channel = c.id,
                    "The channel has no linked discussion group: ticket posts will have no comments."
                ),
                Err(error) => tracing::warn!(
                    channel = c.id,
                    %error,
                    "Cannot ask Telegram for the channel's discussion group; comments will not be recognised until a restart."
                ),
            }
        }
        chats.insert(c.id, settings);
    }
    chats
}

async fn get_me_with_patience(
    telegram: &TelegramClient,
) -> Result<crate::telegram::client::BotIdentity, StartError> {
    let mut wait = Duration::from_millis(500);
    loop {
        match telegram.get_me().await {
            Ok(me) => return Ok(me),
            Err(error) if error.is_temporary() => {
                tracing::warn!(%error, "Telegram is not reachable yet; retrying.");
                if let TgError::RetryAfter(d) = error {
                    wait = wait.max(d);
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
            Err(error) => return Err(StartError::Telegram(error.to_string())),
        }
    }
}

/// A queue read failed on a record this build cannot decode: the unreadable records go to the
/// dead-letter list, raw, so the rest of the queue is not stuck behind them.
pub(crate) fn set_aside_unreadable(ctx: &Context, error: &crate::store::StoreError) {
    if !matches!(error, crate::store::StoreError::Corrupt { .. }) {
        return;
    }
    match ctx.store.write(|tx| tx.set_aside_unreadable_work()) {
        Ok(moved) => tracing::error!(moved, "Unreadable queue records moved to the dead letters."),
        Err(error) => tracing::error!(%error, "Cannot set unreadable queue records aside."),
    }
}

/// Tickets of one helpdesk worked on at once when its config names no `max_in_flight` and its
/// vendor documents no rate limit (a self-hosted helpdesk): enough to keep a fast server busy,
/// few enough to bound the tasks and connections a backlog holds.
pub const UNLIMITED_IN_FLIGHT: usize = 32;

/// The default `max_in_flight` of a helpdesk: twice the burst its vendor's documented rate limit
/// allows, which keeps the shared pacer busy while answers are on their way (more would only
/// queue at the pacer, holding memory), or [`UNLIMITED_IN_FLIGHT`] without a documented limit.
pub fn default_max_in_flight(capability: &teledesk_adapter::Capability) -> usize {
    match capability.rate_limit {
        Some(limit) => (limit.requests as usize).saturating_mul(2).clamp(2, 256),
        None => UNLIMITED_IN_FLIGHT,
    }
}

/// Exponential backoff for persisted retries: 2 s, 4 s, ... up to 5 minutes.
pub(crate) fn backoff(attempts: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(attempts.min(9)).min(300))
}

/// After this many failed attempts an item goes to the dead-letter list (about an hour of
/// retrying at the capped backoff).
pub(crate) const MAX_ATTEMPTS: u32 = 20;

pub(crate) fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Waits for a signal, a tick or cancellation; returns `false` when cancelled.
pub(crate) async fn idle(signal: &Notify, tick: Duration, cancel: &CancellationToken) -> bool {
    supervisor::quiet_for(tick);
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = signal.notified() => true,
        _ = tokio::time::sleep(tick) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_in_flight_follows_the_documented_limit() {
        assert_eq!(default_max_in_flight(&teledesk_kaiten::CAPABILITY), 10);
        assert_eq!(
            default_max_in_flight(&teledesk_znuny::CAPABILITY),
            UNLIMITED_IN_FLIGHT
        );
        let tiny = teledesk_adapter::Capability {
            rate_limit: Some(teledesk_adapter::RateLimit::per_second(1)),
            ..teledesk_adapter::Capability::none()
        };
        assert_eq!(default_max_in_flight(&tiny), 2);
    }
}
