//! The rules of DESIGN §5, section by section.
//!
//! Each section reports what is wrong and builds what it can; a [`Config`] comes out only when no
//! section reported an error. Checks that depend on a broken value are skipped rather than piled
//! on (a chat naming a helpdesk whose own table is broken gets no "unknown helpdesk" error).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use teledesk_adapter::{ConfigProblem, ConfigTable};
use toml::de::{DeTable, DeValue};

use super::duration::parse_duration;
use super::parse::{Report, Table, as_i64};
use super::secret;
use super::size::parse_size;
use super::{
    ChatConfig, ChatMode, Config, FileLimits, Finding, HelpdeskConfig, Language, Loaded,
    OnClosedComment, Secret, ServerConfig, StoreConfig, TelegramConfig, UpdatesMode, Visibility,
};
use crate::helpdesks;
use crate::telegram::texts::ops::{ConfigText, Expected};

const DEFAULT_API_URL: &str = "https://api.telegram.org";
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);

const ROOT_KEYS: &[&str] = &["telegram", "server", "store", "helpdesks", "chats", "files"];
const TELEGRAM_KEYS: &[&str] = &[
    "token",
    "api_url",
    "updates",
    "webhook_secret",
    "admins",
    "language",
];
const SERVER_KEYS: &[&str] = &[
    "listen",
    "public_url",
    "mini_app",
    "init_data_max_age",
    "admin_listen",
];
const DEFAULT_INIT_DATA_MAX_AGE: Duration = Duration::from_secs(3600);
const STORE_KEYS: &[&str] = &["path"];
const CHAT_KEYS: &[&str] = &[
    "id",
    "mode",
    "helpdesk",
    "name",
    "companies",
    "on_closed_comment",
    "visibility",
    "ticket",
    "files",
    "categories",
    "fields",
    "registered_at",
];
const FILES_KEYS: &[&str] = &["max_count", "max_total_size"];
/// More files than this on one ticket is a mistake in the config, not a need.
const MAX_FILES_COUNT: i64 = 100;
/// The Mini App reads a form of this size plus its text fields; more is not a ticket.
const MAX_FILES_TOTAL: u64 = 1 << 30;

/// The outcome of a check: the config when it is valid, and every finding either way.
pub(crate) struct Analysis {
    pub(crate) config: Option<Config>,
    pub(crate) errors: Vec<Finding>,
    pub(crate) warnings: Vec<Finding>,
}

impl Analysis {
    pub(crate) fn into_result(self) -> Result<Loaded, Vec<Finding>> {
        match self.config {
            Some(config) if self.errors.is_empty() => Ok(Loaded {
                config,
                warnings: self.warnings,
            }),
            _ => Err(self.errors),
        }
    }

    fn unreadable(path: &Path, err: &std::io::Error) -> Self {
        Self {
            config: None,
            errors: vec![Finding {
                path: String::new(),
                line: None,
                text: ConfigText::Unreadable {
                    path: path.display().to_string(),
                    error: err.to_string(),
                },
            }],
            warnings: Vec::new(),
        }
    }
}

pub(crate) fn analyse_file(path: &Path) -> Analysis {
    match std::fs::read_to_string(path) {
        Ok(text) => analyse(&text, &|name| std::env::var(name).ok()),
        Err(err) => Analysis::unreadable(path, &err),
    }
}

pub(crate) fn analyse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Analysis {
    let mut report = Report::new(text, env);
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(err) => {
            let message = err.message().to_owned();
            report.error("", err.span(), ConfigText::InvalidToml { message });
            return finish(report, None);
        }
    };
    let root = Table::root(doc.get_ref());
    report.unknown_keys(&root, ROOT_KEYS);

    let telegram = telegram(&mut report, &root);
    let server = server(&mut report, &root);
    webhook_rules(&mut report, &root);
    let store = store(&mut report, &root);
    let helpdesks = helpdesks(&mut report, &root);
    let files = file_limits(&mut report, &root, FileLimits::DEFAULT);
    // Chats are still checked against the defaults when `[files]` is broken.
    let chats = chats(
        &mut report,
        &root,
        helpdesks.as_ref(),
        files.unwrap_or_default(),
    );

    let config = match (telegram, server, store, chats, files) {
        (Some(telegram), Some(server), Some(store), Some(chats), Some(files)) => Some(Config {
            telegram,
            server,
            store,
            helpdesks: helpdesks
                .into_iter()
                .flatten()
                .filter_map(|(name, entry)| Some((name, entry.config?)))
                .collect(),
            chats,
            files,
        }),
        _ => None,
    };
    finish(report, config)
}

fn finish(mut report: Report<'_>, config: Option<Config>) -> Analysis {
    if config.is_none() && report.errors.is_empty() {
        // Every path that yields no config reports why; this keeps `load` from ever returning an
        // empty error list should a rule forget to.
        report.error("", None, ConfigText::Incomplete);
    }
    // Sections are walked in a fixed order, but the admin reads the file top to bottom.
    report.errors.sort_by_key(|finding| finding.line);
    report.warnings.sort_by_key(|finding| finding.line);
    Analysis {
        config,
        errors: report.errors,
        warnings: report.warnings,
    }
}

fn required_table<'a, 'i>(
    report: &mut Report<'_>,
    root: &Table<'a, 'i>,
    key: &str,
) -> Option<Table<'a, 'i>> {
    if root.get(key).is_none() {
        report.error(
            key,
            None,
            ConfigText::MissingTable {
                table: key.to_owned(),
            },
        );
        return None;
    }
    report.table(root, key)
}

fn telegram(report: &mut Report<'_>, root: &Table<'_, '_>) -> Option<TelegramConfig> {
    let table = required_table(report, root, "telegram")?;
    report.unknown_keys(&table, TELEGRAM_KEYS);

    let token = secret_field(report, &table, "token");
    if token.is_none() && table.get("token").is_none() {
        report.missing(&table, "token");
    }
    let api_url = match report.string(&table, "api_url") {
        Some((text, span)) => url(report, &table.child_path("api_url"), span, text, false),
        None => Some(DEFAULT_API_URL.to_string()),
    };
    let updates = report
        .choice(
            &table,
            "updates",
            &[
                ("polling", UpdatesMode::Polling),
                ("webhook", UpdatesMode::Webhook),
            ],
        )
        .unwrap_or_default();
    let webhook_secret = secret_field(report, &table, "webhook_secret");
    if let Some(secret) = &webhook_secret {
        check_webhook_secret(report, &table, secret);
    }
    let admins = admins(report, &table);
    let language = report
        .choice(
            &table,
            "language",
            &[("ru", Language::Ru), ("en", Language::En)],
        )
        .unwrap_or_default();

    Some(TelegramConfig {
        token: token?,
        api_url: api_url?,
        updates,
        webhook_secret,
        admins,
        language,
    })
}

/// Telegram accepts 1–256 characters `A-Za-z0-9_-` as a webhook `secret_token`; catching a bad
/// one here beats a failing `setWebhook` at start-up.
fn check_webhook_secret(report: &mut Report<'_>, table: &Table<'_, '_>, secret: &Secret) {
    let value = secret.expose();
    let valid = (1..=256).contains(&value.len())
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if !valid {
        report.error(
            &table.child_path("webhook_secret"),
            table.get("webhook_secret").map(|value| value.span()),
            ConfigText::WebhookSecretChars,
        );
    }
}

fn admins(report: &mut Report<'_>, table: &Table<'_, '_>) -> Vec<i64> {
    let Some(value) = table.get("admins") else {
        return Vec::new();
    };
    let path = table.child_path("admins");
    let DeValue::Array(items) = value.get_ref() else {
        report.type_error(&path, value, Expected::AdminIds);
        return Vec::new();
    };
    let mut admins = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let path = format!("{path}[{index}]");
        match as_i64(item.get_ref()) {
            Some(id) if id > 0 => admins.push(id),
            Some(_) => report.error(&path, Some(item.span()), ConfigText::AdminNotPositive),
            None => report.type_error(&path, item, Expected::AdminId),
        }
    }
    admins
}

/// A secret-valued key: `None` when absent or broken (broken ones are reported).
fn secret_field(report: &mut Report<'_>, table: &Table<'_, '_>, key: &str) -> Option<Secret> {
    let (raw, span) = report.string(table, key)?;
    let path = table.child_path(key);
    match secret::resolve(raw, report.env) {
        Ok(resolved) => {
            if resolved.literal {
                report.warn(&path, Some(span), ConfigText::LiteralSecret);
            }
            Some(resolved.secret)
        }
        Err(text) => {
            report.error(&path, Some(span), text);
            None
        }
    }
}

/// An http(s) URL (https only when `https_only`), returned without trailing slashes so callers can
/// append paths.
fn url(
    report: &mut Report<'_>,
    path: &str,
    span: Range<usize>,
    text: &str,
    https_only: bool,
) -> Option<String> {
    // A local Bot API server (`telegram-bot-api --local`) on the same host calls plain-http
    // webhooks on loopback; nothing else may see such a URL.
    let loopback = |url: &reqwest::Url| {
        let host = url.host_str().unwrap_or_default();
        host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    let scheme_ok = |url: &reqwest::Url| {
        url.scheme() == "https" || (url.scheme() == "http" && (!https_only || loopback(url)))
    };
    match reqwest::Url::parse(text) {
        Ok(url) if scheme_ok(&url) && url.has_host() => {
            Some(text.trim_end_matches('/').to_string())
        }
        _ => {
            report.error(
                path,
                Some(span),
                ConfigText::InvalidUrl {
                    text: text.to_owned(),
                    https_only,
                },
            );
            None
        }
    }
}

fn server(report: &mut Report<'_>, root: &Table<'_, '_>) -> Option<ServerConfig> {
    let default_listen = || -> SocketAddr {
        DEFAULT_LISTEN
            .parse()
            .expect("the default listen address parses")
    };
    if root.get("server").is_none() {
        return Some(ServerConfig {
            enabled: false,
            listen: default_listen(),
            public_url: None,
            mini_app: None,
            init_data_max_age: DEFAULT_INIT_DATA_MAX_AGE,
            admin_listen: None,
        });
    }
    let table = report.table(root, "server")?;
    report.unknown_keys(&table, SERVER_KEYS);
    let listen = match socket_address(report, &table, "listen") {
        Some(parsed) => parsed,
        None => Some(default_listen()),
    };
    let admin_listen = socket_address(report, &table, "admin_listen");
    if let (Some(Some(admin)), Some(public)) = (admin_listen, listen)
        && admin == public
        && admin.port() != 0
    {
        report.error(
            &table.child_path("admin_listen"),
            table.find("admin_listen"),
            ConfigText::AdminListenSame {
                listen: public.to_string(),
            },
        );
    }
    let public_url = match report.string(&table, "public_url") {
        Some((text, span)) => Some(url(
            report,
            &table.child_path("public_url"),
            span,
            text,
            true,
        )?),
        None => None,
    };
    let mini_app = match report.string(&table, "mini_app") {
        Some((name, span)) => {
            // BotFather's rule for a Mini App's short name.
            let valid = (3..=30).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                report.error(
                    &table.child_path("mini_app"),
                    Some(span),
                    ConfigText::MiniAppName {
                        name: name.to_string(),
                    },
                );
            }
            valid.then(|| name.to_owned())
        }
        None => None,
    };
    if mini_app.is_some() && public_url.is_none() && table.get("public_url").is_none() {
        report.error(
            &table.child_path("public_url"),
            table.line_span(),
            ConfigText::PublicUrlForMiniApp,
        );
    }
    let init_data_max_age = duration_field(
        report,
        &table,
        "init_data_max_age",
        DEFAULT_INIT_DATA_MAX_AGE,
    );
    Some(ServerConfig {
        enabled: true,
        listen: listen?,
        public_url,
        mini_app,
        init_data_max_age: init_data_max_age?,
        admin_listen: match admin_listen {
            Some(parsed) => Some(parsed?),
            None => None,
        },
    })
}

/// A socket address at `key`: `None` when the key is absent, `Some(None)` when it is there but
/// invalid (reported).
fn socket_address(
    report: &mut Report<'_>,
    table: &Table<'_, '_>,
    key: &str,
) -> Option<Option<SocketAddr>> {
    match report.string(table, key) {
        Some((text, span)) => Some(match text.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                report.error(
                    &table.child_path(key),
                    Some(span),
                    ConfigText::InvalidSocket {
                        text: text.to_string(),
                    },
                );
                None
            }
        }),
        None if table.get(key).is_some() => Some(None),
        None => None,
    }
}

/// `updates = "webhook"` needs a URL for Telegram to call and a secret to recognise its calls.
fn webhook_rules(report: &mut Report<'_>, root: &Table<'_, '_>) {
    let Some(DeValue::Table(telegram)) = root.get("telegram").map(|value| value.get_ref()) else {
        return;
    };
    let Some(updates) = telegram.get("updates") else {
        return;
    };
    if !matches!(updates.get_ref(), DeValue::String(mode) if mode == "webhook") {
        return;
    }
    if telegram.get("webhook_secret").is_none() {
        report.error(
            "telegram.webhook_secret",
            Some(updates.span()),
            ConfigText::WebhookSecretRequired,
        );
    }
    let server = root.get("server");
    let has_public_url = matches!(
        server.map(|value| value.get_ref()),
        Some(DeValue::Table(table)) if table.get("public_url").is_some()
    );
    if !has_public_url {
        let span = server.map_or_else(|| updates.span(), |value| value.span());
        report.error(
            "server.public_url",
            Some(span),
            ConfigText::PublicUrlForWebhook,
        );
    }
}

fn store(report: &mut Report<'_>, root: &Table<'_, '_>) -> Option<StoreConfig> {
    let table = required_table(report, root, "store")?;
    report.unknown_keys(&table, STORE_KEYS);
    if table.get("path").is_none() {
        report.missing(&table, "path");
        return None;
    }
    let (path, span) = report.string(&table, "path")?;
    if path.is_empty() {
        report.error(&table.child_path("path"), Some(span), ConfigText::Empty);
        return None;
    }
    Some(StoreConfig {
        path: PathBuf::from(path),
    })
}

/// What chats need to know about a helpdesk, even one whose table is broken.
struct HelpdeskEntry {
    /// Set when `kind` names an available adapter.
    kind: Option<&'static str>,
    config: Option<HelpdeskConfig>,
}

/// Every helpdesk named in the file, broken ones included; `None` when `[helpdesks]` is missing,
/// broken or empty, which is reported once here rather than again by every chat.
fn helpdesks(
    report: &mut Report<'_>,
    root: &Table<'_, '_>,
) -> Option<BTreeMap<String, HelpdeskEntry>> {
    let table = required_table(report, root, "helpdesks")?;
    if table.map.is_empty() {
        report.error("helpdesks", table.line_span(), ConfigText::NoHelpdesks);
        return None;
    }
    let mut entries = BTreeMap::new();
    for (name, _) in table.map.iter() {
        let name = name.get_ref().as_ref();
        let entry = match report.table(&table, name) {
            Some(desk) => helpdesk(report, name, &desk),
            None => HelpdeskEntry {
                kind: None,
                config: None,
            },
        };
        entries.insert(name.to_string(), entry);
    }
    Some(entries)
}

fn helpdesk(report: &mut Report<'_>, name: &str, table: &Table<'_, '_>) -> HelpdeskEntry {
    let errors_before = report.errors.len();
    let kind = match report.string(table, "kind") {
        Some((kind, span)) => {
            let known = helpdesks::KINDS
                .iter()
                .copied()
                .find(|known| *known == kind);
            if known.is_none() {
                report.error(
                    &table.child_path("kind"),
                    Some(span),
                    helpdesks::unknown_kind(kind),
                );
            }
            known
        }
        None => {
            if table.get("kind").is_none() {
                report.missing(table, "kind");
            }
            None
        }
    };
    let poll_interval = duration_field(report, table, "poll_interval", DEFAULT_POLL_INTERVAL);
    let max_in_flight = max_in_flight(report, table);

    // A secret that fails to resolve is reported here and left out of the adapter's table, so the
    // adapter still checks everything else; what it says about that key would be a repeat.
    let (adapter_table, failed) = report.table_json(table, true);
    if let Some(kind) = kind {
        let problems = helpdesks::validate_helpdesk(kind, &adapter_table).unwrap_or_default();
        report.adapter_problems(table, without_failed(problems, &failed));
    }

    let valid = report.errors.len() == errors_before;
    HelpdeskEntry {
        kind,
        config: match (kind, poll_interval) {
            (Some(kind), Some(poll_interval)) if valid => Some(HelpdeskConfig {
                name: name.to_string(),
                kind: kind.to_string(),
                poll_interval,
                max_in_flight,
                table: adapter_table,
            }),
            _ => None,
        },
    }
}

fn without_failed(problems: Vec<ConfigProblem>, failed: &[String]) -> Vec<ConfigProblem> {
    problems
        .into_iter()
        .filter(|problem| {
            !failed.iter().any(|key| {
                problem.key == *key
                    || problem
                        .key
                        .strip_prefix(key.as_str())
                        .is_some_and(|rest| rest.starts_with(['.', '[']))
            })
        })
        .collect()
}

/// The most tickets of one helpdesk worked on at once that `max_in_flight` may ask for: each
/// holds a task and at most a connection, and more would only queue at the helpdesk.
const MAX_IN_FLIGHT: i64 = 1024;

/// `max_in_flight`: a whole number from 1 to [`MAX_IN_FLIGHT`], absent when not set.
fn max_in_flight(report: &mut Report<'_>, table: &Table<'_, '_>) -> Option<usize> {
    let value = table.get("max_in_flight")?;
    let path = table.child_path("max_in_flight");
    match as_i64(value.get_ref()) {
        Some(n) if (1..=MAX_IN_FLIGHT).contains(&n) => usize::try_from(n).ok(),
        Some(_) => {
            report.error(
                &path,
                Some(value.span()),
                ConfigText::MaxInFlight { max: MAX_IN_FLIGHT },
            );
            None
        }
        None => {
            report.type_error(&path, value, Expected::TicketCount);
            None
        }
    }
}

fn duration_field(
    report: &mut Report<'_>,
    table: &Table<'_, '_>,
    key: &str,
    default: Duration,
) -> Option<Duration> {
    let Some(value) = table.get(key) else {
        return Some(default);
    };
    let path = table.child_path(key);
    let DeValue::String(text) = value.get_ref() else {
        report.type_error(&path, value, Expected::Duration);
        return None;
    };
    let parsed = parse_duration(text);
    if parsed.is_none() {
        report.error(
            &path,
            Some(value.span()),
            ConfigText::InvalidDuration {
                text: text.to_string(),
            },
        );
    }
    parsed
}

fn chats(
    report: &mut Report<'_>,
    root: &Table<'_, '_>,
    helpdesks: Option<&BTreeMap<String, HelpdeskEntry>>,
    files: FileLimits,
) -> Option<Vec<ChatConfig>> {
    let Some(value) = root.get("chats") else {
        report.error("chats", None, ConfigText::NoChats);
        return None;
    };
    let items = match value.get_ref() {
        DeValue::Array(items) => items,
        _ => {
            report.type_error("chats", value, Expected::Chats);
            return None;
        }
    };
    if items.is_empty() {
        report.error("chats", Some(value.span()), ConfigText::NoChats);
        return None;
    }

    let mut chats = Vec::with_capacity(items.len());
    // id → (path, line) of the chat that has it first.
    let mut seen_ids: HashMap<i64, (String, usize)> = HashMap::new();
    let mut ok = true;
    for (index, item) in items.iter().enumerate() {
        let path = format!("chats[{index}]");
        let DeValue::Table(map) = item.get_ref() else {
            report.type_error(&path, item, Expected::Table);
            ok = false;
            continue;
        };
        let table = Table {
            path,
            span: item.span(),
            map,
        };
        let chat = chat(report, &table, helpdesks, files);
        if let Some((id, span)) = chat_id(&table) {
            if let Some((first, first_line)) = seen_ids.get(&id) {
                report.error(
                    &table.child_path("id"),
                    Some(span),
                    ConfigText::DuplicateChat {
                        id,
                        first: first.to_string(),
                        first_line: *first_line,
                    },
                );
                ok = false;
            } else {
                seen_ids.insert(id, (table.path.clone(), report.line(span.start)));
            }
        }
        match chat {
            Some(chat) => chats.push(chat),
            None => ok = false,
        }
    }
    ok.then_some(chats)
}

/// The chat's id and its span, when it is an integer (other shapes are reported by [`chat`]).
fn chat_id(table: &Table<'_, '_>) -> Option<(i64, Range<usize>)> {
    let value = table.get("id")?;
    as_i64(value.get_ref()).map(|id| (id, value.span()))
}

fn chat(
    report: &mut Report<'_>,
    table: &Table<'_, '_>,
    helpdesks: Option<&BTreeMap<String, HelpdeskEntry>>,
    files: FileLimits,
) -> Option<ChatConfig> {
    report.unknown_keys(table, CHAT_KEYS);
    for key in ["id", "mode", "helpdesk", "name"] {
        if table.get(key).is_none() {
            report.missing(table, key);
        }
    }

    let id = report.integer(table, "id");
    let mode = report.choice(
        table,
        "mode",
        &[
            ("channel", ChatMode::Channel),
            ("group", ChatMode::Group),
            ("forum", ChatMode::Forum),
        ],
    );
    if let Some((id, span)) = &id {
        check_chat_id(report, table, *id, span.clone(), mode);
    }

    let helpdesk = report.string(table, "helpdesk");
    let mut kind = None;
    if let (Some((name, span)), Some(helpdesks)) = (&helpdesk, helpdesks) {
        match helpdesks.get(*name) {
            Some(entry) => kind = entry.kind,
            None => {
                let defined: Vec<&str> = helpdesks.keys().map(String::as_str).collect();
                report.error(
                    &table.child_path("helpdesk"),
                    Some(span.clone()),
                    ConfigText::NoSuchHelpdesk {
                        name: name.to_string(),
                        defined: defined.join(", "),
                    },
                );
            }
        }
    }

    let name = report.string(table, "name");
    if let Some((text, span)) = &name
        && text.trim().is_empty()
    {
        report.error(
            &table.child_path("name"),
            Some(span.clone()),
            ConfigText::Empty,
        );
    }
    let companies = companies(report, table);
    let on_closed_comment = report
        .choice(
            table,
            "on_closed_comment",
            &[
                ("follow_up", OnClosedComment::FollowUp),
                ("reopen", OnClosedComment::Reopen),
            ],
        )
        .unwrap_or_default();
    let visibility = report
        .choice(
            table,
            "visibility",
            &[("own", Visibility::Own), ("chat", Visibility::Chat)],
        )
        .unwrap_or_default();
    let ticket = ticket_defaults(report, table, kind);
    let intake = super::intake::intake(report, table, kind, ticket.as_ref());
    let registered_at = super::intake::registered_at(report, table, kind, ticket.as_ref());
    let files = file_limits(report, table, files);

    Some(ChatConfig {
        id: id?.0,
        mode: mode?,
        helpdesk: helpdesk?.0.to_string(),
        name: name?.0.to_string(),
        companies: companies?,
        on_closed_comment,
        visibility,
        ticket: ticket?,
        intake: intake?,
        registered_at: registered_at?,
        files: files?,
    })
}

/// `files` under `parent` (`[files]`, or a chat's `[chats.files]`): each key given replaces the
/// one in `defaults`.
fn file_limits(
    report: &mut Report<'_>,
    parent: &Table<'_, '_>,
    defaults: FileLimits,
) -> Option<FileLimits> {
    if parent.get("files").is_none() {
        return Some(defaults);
    }
    let table = report.table(parent, "files")?;
    report.unknown_keys(&table, FILES_KEYS);
    let mut limits = Some(defaults);
    match report.integer(&table, "max_count") {
        Some((count, span)) if !(0..=MAX_FILES_COUNT).contains(&count) => {
            report.error(
                &table.child_path("max_count"),
                Some(span),
                ConfigText::FileCount {
                    max: MAX_FILES_COUNT,
                    count,
                },
            );
            limits = None;
        }
        Some((count, _)) => {
            if let Some(limits) = &mut limits {
                limits.max_count = count as usize;
            }
        }
        None if table.get("max_count").is_some() => limits = None,
        None => {}
    }
    match report.string(&table, "max_total_size") {
        Some((text, span)) => match parse_size(text) {
            Some(bytes) if (1..=MAX_FILES_TOTAL).contains(&bytes) => {
                if let Some(limits) = &mut limits {
                    limits.max_bytes = bytes;
                }
            }
            Some(_) => {
                report.error(
                    &table.child_path("max_total_size"),
                    Some(span),
                    ConfigText::FileSizeRange {
                        text: text.to_string(),
                    },
                );
                limits = None;
            }
            None => {
                report.error(
                    &table.child_path("max_total_size"),
                    Some(span),
                    ConfigText::InvalidSize {
                        text: text.to_string(),
                    },
                );
                limits = None;
            }
        },
        None if table.get("max_total_size").is_some() => limits = None,
        None => {}
    }
    limits
}

/// Channels and supergroups (which forums are) have `-100…` ids; basic groups have short negative
/// ids; positive ids are users, whom teledesk serves only in the private dialogue.
fn check_chat_id(
    report: &mut Report<'_>,
    table: &Table<'_, '_>,
    id: i64,
    span: Range<usize>,
    mode: Option<ChatMode>,
) {
    let path = table.child_path("id");
    if id >= 0 {
        report.error(&path, Some(span), ConfigText::ChatIdPositive);
        return;
    }
    let supergroup_like = id < -1_000_000_000_000 && id.to_string().starts_with("-100");
    if let Some(mode @ (ChatMode::Channel | ChatMode::Forum)) = mode
        && !supergroup_like
    {
        report.warn(
            &path,
            Some(span),
            ConfigText::BasicGroupId {
                mode: mode.as_str(),
                id,
            },
        );
    }
}

fn companies(report: &mut Report<'_>, table: &Table<'_, '_>) -> Option<Vec<String>> {
    let Some(value) = table.get("companies") else {
        return Some(Vec::new());
    };
    let path = table.child_path("companies");
    let DeValue::Array(items) = value.get_ref() else {
        report.type_error(&path, value, Expected::Strings);
        return None;
    };
    let mut companies = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    let mut ok = true;
    for (index, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{index}]");
        match item.get_ref() {
            DeValue::String(company) if company.trim().is_empty() => {
                report.error(&item_path, Some(item.span()), ConfigText::Empty);
                ok = false;
            }
            DeValue::String(company) if !seen.insert(company.as_ref()) => {
                report.error(
                    &item_path,
                    Some(item.span()),
                    ConfigText::DuplicateCompany {
                        company: company.to_string(),
                    },
                );
                ok = false;
            }
            DeValue::String(company) => companies.push(company.to_string()),
            _ => {
                report.type_error(&item_path, item, Expected::String);
                ok = false;
            }
        }
    }
    ok.then_some(companies)
}

fn ticket_defaults(
    report: &mut Report<'_>,
    chat: &Table<'_, '_>,
    kind: Option<&'static str>,
) -> Option<ConfigTable> {
    let empty = DeTable::new();
    let table = if chat.get("ticket").is_some() {
        report.table(chat, "ticket")?
    } else {
        // The adapter still sees the (empty) table: it may require defaults the helpdesk table
        // does not provide; findings then point at the chat's [[chats]] header.
        Table {
            path: chat.child_path("ticket"),
            span: chat.span.clone(),
            map: &empty,
        }
    };
    let errors_before = report.errors.len();
    let (defaults, failed) = report.table_json(&table, false);
    if let Some(kind) = kind {
        let problems = helpdesks::validate_ticket_defaults(kind, &defaults).unwrap_or_default();
        report.adapter_problems(&table, without_failed(problems, &failed));
    }
    (report.errors.len() == errors_before).then_some(defaults)
}
