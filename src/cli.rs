//! The command line (DESIGN §6): `run`, `check`, `doctor`, `demo`, `pin`, `queue`, `report`,
//! `export`, `import`, `rebuild`.

use crate::config;
use crate::daemon::{self, Daemon, Options};
use crate::model::DeadItem;
use crate::store::Store;
use crate::telegram::texts::Lang;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "teledesk",
    version,
    about = "A Telegram front door for an existing helpdesk"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format: human-readable text, or one JSON object per line (for journald and log shippers).
    #[arg(long, value_enum, global = true, default_value_t = LogFormat::Text, env = "TELEDESK_LOG_FORMAT")]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon.
    Run {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a config file and print every problem; exit 1 on any.
    Check {
        #[arg(long, short)]
        config: PathBuf,
        /// The language of the report; by default the environment's (LC_ALL, LC_MESSAGES, LANG:
        /// Russian for ru_*, else English).
        #[arg(long, value_enum)]
        lang: Option<LangArg>,
    },
    /// Check live that the bot token works, the bot has the rights every chat needs and each
    /// helpdesk accepts its credentials; exit 1 if any check fails.
    Doctor {
        #[arg(long, short)]
        config: PathBuf,
        /// The language of the report; by default the environment's (LC_ALL, LC_MESSAGES, LANG:
        /// Russian for ru_*, else English).
        #[arg(long, value_enum)]
        lang: Option<LangArg>,
    },
    /// Run a scripted conversation against fake Telegram and a fake helpdesk; no credentials.
    #[cfg(feature = "demo")]
    Demo {
        /// The helpdesk to play staff in.
        #[arg(long, default_value = "kaiten")]
        helpdesk: String,
        /// The language of the bot's texts.
        #[arg(long, default_value = "ru")]
        lang: String,
    },
    /// Create or refresh the pinned «Новая заявка» post of a configured chat.
    Pin {
        #[arg(long, short)]
        config: PathBuf,
        /// The chat's id, as in `[[chats]]`.
        #[arg(long, allow_hyphen_values = true)]
        chat: i64,
    },
    /// Inspect and act on the dead-letter list (work that failed for good).
    Queue {
        /// The config file (may also follow the action: `queue list --config FILE`).
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: QueueAction,
    },
    /// Write the whole store (and the files it keeps) to standard output as JSON lines: a backup
    /// for `teledesk import`. Works while the daemon runs (it answers on its control socket).
    Export {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Restore a backup written by `teledesk export` into the config's store, which must be empty
    /// (or pass --replace). Stop the daemon first.
    Import {
        #[arg(long, short)]
        config: PathBuf,
        /// The backup file; `-` reads standard input.
        file: PathBuf,
        /// Delete whatever the store holds before importing.
        #[arg(long)]
        replace: bool,
    },
    /// Recreate the ticket ↔ Telegram mappings of a lost or damaged store from the helpdesks
    /// (the keys teledesk writes into each ticket); prints what it could not map. Stop the daemon
    /// first.
    Rebuild {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Per chat and company: tickets opened, closed and reopened in a period, median and 90th
    /// percentile of first response and resolution time, ratings. Reads the store, which admits
    /// one process: stop the daemon first (or use `/report` in the private chat while it runs).
    Report {
        #[arg(long, short)]
        config: PathBuf,
        /// The first day, `YYYY-MM-DD` or `DD.MM.YYYY` (UTC).
        #[arg(long)]
        from: String,
        /// The last day, included.
        #[arg(long)]
        to: String,
        /// Only this chat (its id, as in `[[chats]]`).
        #[arg(long, allow_hyphen_values = true)]
        chat: Option<i64>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
}

/// `--lang` of the commands that talk to the people who run teledesk.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LangArg {
    Ru,
    En,
}

impl LangArg {
    /// The language asked for, else the environment's.
    fn or_env(lang: Option<Self>) -> Lang {
        match lang {
            Some(LangArg::Ru) => Lang::Ru,
            Some(LangArg::En) => Lang::En,
            None => crate::telegram::texts::ops::lang_from_env(|name| std::env::var(name).ok()),
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Csv,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum QueueAction {
    /// Show the dead letters and the size of every queue.
    List,
    /// Put dead letters back in their queue (all of them without ids).
    Retry { ids: Vec<u64> },
    /// Delete dead letters for good.
    Drop {
        #[arg(required = true)]
        ids: Vec<u64>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo and the doctor print for people; their logs would only interleave.
    #[cfg(feature = "demo")]
    let quiet = matches!(cli.command, Command::Demo { .. } | Command::Doctor { .. });
    #[cfg(not(feature = "demo"))]
    let quiet = matches!(cli.command, Command::Doctor { .. });
    init_logging(cli.log_format, quiet);
    match cli.command {
        Command::Check { config, lang } => config::run_check(&config, LangArg::or_env(lang)),
        Command::Doctor { config, lang } => doctor(&config, LangArg::or_env(lang)),
        Command::Run { config } => run(&config),
        #[cfg(feature = "demo")]
        Command::Demo { helpdesk, lang } => crate::demo::main(&helpdesk, &lang),
        Command::Pin { config, chat } => pin(&config, chat),
        Command::Export { config } => export(&config),
        Command::Rebuild { config } => rebuild(&config),
        Command::Import {
            config,
            file,
            replace,
        } => import(&config, &file, replace),
        Command::Report {
            config,
            from,
            to,
            chat,
            format,
        } => report(&config, &from, &to, chat, format),
        Command::Queue { config, action } => match config {
            Some(config) => queue(&config, action),
            None => {
                eprintln!("error: `teledesk queue` needs --config FILE");
                ExitCode::from(2)
            }
        },
    }
}

fn init_logging(format: LogFormat, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if quiet { "warn" } else { "info" };
    // TELEDESK_LOG, else the RUST_LOG every Rust operator knows, else quiet HTTP and storage crates.
    let filter = EnvFilter::try_from_env("TELEDESK_LOG")
        .or_else(|_| EnvFilter::try_from_env("RUST_LOG"))
        .unwrap_or_else(|_| EnvFilter::new(format!("{default},sled=warn,hyper=warn,reqwest=warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

/// The config, or `None` after printing every finding in `lang`.
fn load_or_report(path: &Path, lang: Lang) -> Option<config::Config> {
    match config::load(path) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                tracing::warn!(%warning, "Config warning.");
            }
            Some(loaded.config)
        }
        Err(findings) => {
            let t = crate::telegram::texts::ops::Ops(lang);
            for finding in &findings {
                eprintln!("{}: {}", t.level(true), finding.to_string_in(lang));
            }
            eprintln!(
                "{}",
                t.load_failed(&path.display().to_string(), findings.len())
            );
            None
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn run(path: &Path) -> ExitCode {
    let Some(config) = load_or_report(path, Lang::En) else {
        return ExitCode::FAILURE;
    };
    runtime().block_on(async move {
        let options = Options {
            own_process_spool: true,
            ..Options::default()
        };
        let daemon = match Daemon::start(&config, options).await {
            Ok(daemon) => daemon,
            Err(error) => {
                tracing::error!(%error, "Cannot start.");
                return ExitCode::FAILURE;
            }
        };
        let systemd = crate::daemon::systemd::Notifier::from_env();
        if let Some(systemd) = &systemd {
            systemd.notify("READY=1");
            if let Some(every) = crate::daemon::systemd::watchdog_interval_from_env() {
                daemon.start_watchdog(systemd.clone(), every);
            }
        }
        tracing::info!(
            chats = config.chats.len(),
            helpdesks = config.helpdesks.len(),
            "Running."
        );
        let failed = tokio::select! {
            _ = wait_for_signal() => false,
            _ = daemon.failed() => true,
        };
        if let Some(systemd) = &systemd {
            systemd.notify("STOPPING=1");
        }
        tracing::info!("Stopping: draining queued work.");
        daemon.shutdown().await;
        if failed {
            // EX_TEMPFAIL: systemd's Restart=on-failure starts teledesk again.
            ExitCode::from(75)
        } else {
            ExitCode::SUCCESS
        }
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// `teledesk doctor`: one line per check with its mark, then a summary.
fn doctor(path: &Path, lang: Lang) -> ExitCode {
    use crate::doctor::Status;
    let t = crate::telegram::texts::ops::Ops(lang);
    let Some(config) = load_or_report(path, lang) else {
        return ExitCode::FAILURE;
    };
    let report = runtime().block_on(crate::doctor::run(&config, lang));
    for check in &report {
        println!(
            "{:<4}  {}: {}",
            t.mark(check.status),
            check.subject,
            check.detail
        );
    }
    let count = |status| report.iter().filter(|c| c.status == status).count();
    let (failed, warned) = (count(Status::Fail), count(Status::Warn));
    match (failed, warned) {
        (0, 0) => println!("{}", t.all_passed()),
        (0, _) => println!("{}", t.only_warnings(warned)),
        _ => println!("{}", t.failures(failed, warned)),
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `teledesk pin`: the pinned «Новая заявка» post, opening the Mini App when `server.mini_app`
/// is set, else a private dialogue with the bot.
fn pin(path: &Path, chat_id: i64) -> ExitCode {
    let Some(config) = load_or_report(path, Lang::En) else {
        return ExitCode::FAILURE;
    };
    if !config.chats.iter().any(|c| c.id == chat_id) {
        eprintln!(
            "error: chat {chat_id} is not in [[chats]] of {}",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    let telegram = match crate::telegram::client::TelegramClient::new(
        &config.telegram.api_url,
        &config.telegram.token,
    ) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let lang = config.telegram.language.into();
    let result = runtime().block_on(crate::telegram::pin::pin_new_ticket_post(
        &telegram,
        &config.telegram.token,
        config.server.mini_app.as_deref(),
        lang,
        chat_id,
    ));
    match result {
        Ok(crate::telegram::pin::Pinned::Created(id)) => {
            println!("pinned a new «Новая заявка» post in chat {chat_id} (message {id})");
            ExitCode::SUCCESS
        }
        Ok(crate::telegram::pin::Pinned::Refreshed(id)) => {
            println!("refreshed the pinned «Новая заявка» post in chat {chat_id} (message {id})");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: Telegram refused: {error} (the bot must be an admin allowed to pin)");
            ExitCode::FAILURE
        }
    }
}

/// `teledesk export`: from the running daemon through its control socket, else from the store.
fn export(path: &Path) -> ExitCode {
    let Some(config) = load_or_report(path, Lang::En) else {
        return ExitCode::FAILURE;
    };
    let dir = &config.store.path;
    let socket = crate::store::control_socket(dir);
    if let Ok(stream) = std::os::unix::net::UnixStream::connect(&socket) {
        return match export_from_daemon(stream) {
            Ok(()) => {
                eprintln!("exported the store from the running daemon");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    if !dir.exists() {
        eprintln!("error: there is no store at {}", dir.display());
        return ExitCode::FAILURE;
    }
    let store = match Store::open_for_export(dir) {
        Ok(store) => store,
        Err(error) => {
            eprintln!(
                "error: {error}\n(a daemon holds the store but does not answer on {}: stop it \
                 first)",
                socket.display()
            );
            return ExitCode::FAILURE;
        }
    };
    match store.export(&mut std::io::stdout().lock()) {
        Ok(summary) => {
            for name in &summary.missing_files {
                eprintln!("warning: the store names the file {name}, which is missing");
            }
            eprintln!(
                "exported {} record(s) and {} file(s)",
                summary.records, summary.files
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Copies the daemon's answer to standard output and checks that it ended with the backup's last
/// line (a failed export stops short).
fn export_from_daemon(mut stream: std::os::unix::net::UnixStream) -> std::io::Result<()> {
    use std::io::{Read, Write};
    stream.write_all(b"export\n")?;
    let mut out = std::io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    // Enough for the last line, `{"end":{"records":…,"files":…}}`.
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > 256 {
            tail.drain(..tail.len() - 256);
        }
    }
    out.flush()?;
    let last = tail
        .strip_suffix(b"\n")
        .and_then(|t| t.split(|b| *b == b'\n').next_back())
        .unwrap_or_default();
    if last.starts_with(b"{\"end\":") {
        Ok(())
    } else {
        Err(std::io::Error::other(
            "the daemon's export stopped short (see its log); the output is not a usable backup",
        ))
    }
}

/// Opens the configured store for an offline command, or says why not (a running daemon holds it).
fn open_store_or_report(config: &config::Config) -> Option<Store> {
    match Store::open(&config.store.path) {
        Ok(store) => Some(store),
        Err(error) => {
            eprintln!(
                "error: {error}\n(if teledesk is running, stop it first: the store admits one process)"
            );
            None
        }
    }
}

/// `teledesk rebuild`: what it mapped, what it could not and why; exit 1 when anything was left
/// unmapped or a helpdesk could not be listed.
fn rebuild(path: &Path) -> ExitCode {
    let Some(config) = load_or_report(path, Lang::En) else {
        return ExitCode::FAILURE;
    };
    let Some(store) = open_store_or_report(&config) else {
        return ExitCode::FAILURE;
    };
    let report = runtime().block_on(async {
        let report = crate::rebuild::run(&config, &store).await;
        if let Err(error) = store.flush().await {
            eprintln!("error: {error}");
        }
        report
    });
    for ticket in &report.mapped {
        println!("mapped    {ticket}");
    }
    for (ticket, why) in &report.unmapped {
        println!("unmapped  {ticket}: {why}");
    }
    for (helpdesk, why) in &report.failed {
        println!("failed    [helpdesks.{helpdesk}]: {why}");
    }
    println!(
        "{} ticket(s) mapped, {} known already, {} not mapped, {} helpdesk(s) not listed",
        report.mapped.len(),
        report.known,
        report.unmapped.len(),
        report.failed.len()
    );
    if report.unmapped.is_empty() && report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `teledesk import`: into a store no daemon holds.
fn import(path: &Path, file: &Path, replace: bool) -> ExitCode {
    let Some(config) = load_or_report(path, Lang::En) else {
        return ExitCode::FAILURE;
    };
    let dir = &config.store.path;
    if std::os::unix::net::UnixStream::connect(crate::store::control_socket(dir)).is_ok() {
        eprintln!(
            "error: teledesk is running on {}; stop it first",
            dir.display()
        );
        return ExitCode::FAILURE;
    }
    let mut input: Box<dyn std::io::BufRead> = if file == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(file) {
            Ok(f) => Box::new(std::io::BufReader::with_capacity(256 * 1024, f)),
            Err(error) => {
                eprintln!("error: {}: {error}", file.display());
                return ExitCode::FAILURE;
            }
        }
    };
    let store = match Store::open_for_import(dir) {
        Ok(store) => store,
        Err(error) => {
            eprintln!(
                "error: {error}\n(if teledesk is running, stop it first: the store admits one process)"
            );
            return ExitCode::FAILURE;
        }
    };
    match store.import(&mut input, replace) {
        Ok(summary) => {
            eprintln!(
                "imported {} record(s) and {} file(s) into {}{}",
                summary.records,
                summary.files,
                dir.display(),
                if summary.schema < crate::store::SCHEMA_VERSION {
                    format!(
                        " (migrated from schema {} to {})",
                        summary.schema,
                        crate::store::SCHEMA_VERSION
                    )
                } else {
                    String::new()
                }
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn report(path: &Path, from: &str, to: &str, chat: Option<i64>, format: ReportFormat) -> ExitCode {
    use crate::report;
    let (Some(from), Some(to)) = (report::parse_date(from), report::parse_date(to)) else {
        eprintln!("error: --from and --to take a date, YYYY-MM-DD or DD.MM.YYYY");
        return ExitCode::from(2);
    };
    if from > to {
        eprintln!("error: --from is after --to");
        return ExitCode::from(2);
    }
    let Some(config) = load_or_report(path, Lang::En) else {
        return ExitCode::FAILURE;
    };
    let Some(store) = open_store_or_report(&config) else {
        return ExitCode::FAILURE;
    };
    let tickets = match store.read().tickets() {
        Ok(tickets) => tickets,
        Err(error) => {
            eprintln!("error: cannot read the store: {error}");
            return ExitCode::FAILURE;
        }
    };
    let names = report::Names::of(
        config
            .chats
            .iter()
            .map(|c| (c.id, c.name.as_str(), &c.intake)),
    );
    let period = report::Period { from, to };
    let rows = report::aggregate(
        &tickets,
        period,
        &names,
        chat,
        time::OffsetDateTime::now_utc(),
    );
    print!(
        "{}",
        match format {
            ReportFormat::Table => report::table(&rows),
            ReportFormat::Csv => report::csv(&rows),
            ReportFormat::Json => report::json(&rows, period),
        }
    );
    ExitCode::SUCCESS
}

fn queue(path: &Path, action: QueueAction) -> ExitCode {
    let Some(config) = load_or_report(path, Lang::En) else {
        return ExitCode::FAILURE;
    };
    let Some(store) = open_store_or_report(&config) else {
        return ExitCode::FAILURE;
    };
    let result = match action {
        QueueAction::List => {
            let q = daemon::queues(&store);
            println!(
                "inbox: {}  helpdesk jobs: {}  telegram outbox: {}  dead letters: {}",
                q.inbox, q.jobs, q.outbox, q.dead
            );
            match store.read().dead_letters() {
                Ok(letters) => {
                    for letter in letters {
                        println!(
                            "#{}  {}  {}\n    {}",
                            letter.id,
                            letter.failed_at,
                            letter.item.describe(),
                            letter.error
                        );
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        QueueAction::Retry { ids } => store.write(|tx| {
            let mut count = 0;
            for letter in tx.dead_letters()? {
                if !ids.is_empty() && !ids.contains(&letter.id) {
                    continue;
                }
                let now = time::OffsetDateTime::now_utc();
                match letter.item {
                    DeadItem::Job { ticket, mut job } => {
                        job.attempts = 0;
                        job.not_before = now;
                        tx.push_job(ticket, &job)?;
                    }
                    DeadItem::Send { mut item } => {
                        item.attempts = 0;
                        item.not_before = now;
                        tx.push_outgoing(&item)?;
                    }
                    DeadItem::Unreadable { .. } => {
                        println!(
                            "#{}: an unreadable record cannot be retried; drop it",
                            letter.id
                        );
                        continue;
                    }
                    DeadItem::Update { raw } => match serde_json::from_str(&raw) {
                        Ok(update) => tx.requeue_update(&update)?,
                        Err(_) => {
                            println!("#{}: not JSON, cannot be retried; drop it", letter.id);
                            continue;
                        }
                    },
                }
                tx.remove_dead(letter.id);
                count += 1;
            }
            println!("{count} dead letter(s) queued again");
            Ok(())
        }),
        QueueAction::Drop { ids } => store.write(|tx| {
            let known = tx.dead_letters()?;
            for id in &ids {
                if let Some(letter) = known.iter().find(|l| l.id == *id) {
                    // A ticket filed in the Mini App that will never be created: its files,
                    // kept in the store for it, go too.
                    if let crate::model::DeadItem::Job { job, .. } = &letter.item
                        && let crate::model::JobKind::CreateTicket { files, .. } = &job.kind
                    {
                        for upload in files.iter().filter_map(|f| f.upload_id()) {
                            tx.remove_upload(upload);
                        }
                    }
                    tx.remove_dead(*id);
                    println!("dropped #{id}");
                } else {
                    println!("no dead letter #{id}");
                }
            }
            Ok(())
        }),
    };
    let flushed = runtime().block_on(store.flush());
    match result.and(flushed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn queue_takes_config_before_or_after_the_action() {
        for args in [
            ["teledesk", "queue", "--config", "x.toml", "list"],
            ["teledesk", "queue", "list", "--config", "x.toml"],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert!(matches!(
                cli.command,
                Command::Queue {
                    config: Some(_),
                    action: QueueAction::List
                }
            ));
        }
    }
}
