//! `mappings.toml`: loading, secret resolution and validation (DESIGN §5).
//!
//! Loading never stops at the first problem: the whole file is walked with the span of every key
//! and value at hand, and every problem comes back as a [`Finding`] naming its TOML path and line.
//! The daemon owns `[telegram]`, `[server]`, `[store]`, `[[chats]]` and the `kind` and
//! `poll_interval` and `max_in_flight` keys of each `[helpdesks.<name>]`; everything else in a helpdesk table and each
//! `[chats.ticket]` belongs to the adapter, which validates it through [`crate::helpdesks`].

mod check;
mod duration;
pub mod intake;
mod parse;
mod secret;
mod size;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use check::run_check;
pub use teledesk_adapter::{ConfigTable, Secret};

use crate::telegram::texts::ops::ConfigText;

/// The whole validated config.
#[derive(Clone, Debug)]
pub struct Config {
    pub telegram: TelegramConfig,
    pub server: ServerConfig,
    pub store: StoreConfig,
    /// Keyed by the `<name>` of `[helpdesks.<name>]`, which chats refer to.
    pub helpdesks: BTreeMap<String, HelpdeskConfig>,
    /// In file order; ids are unique.
    pub chats: Vec<ChatConfig>,
    /// `[files]`: what a ticket or a comment takes from a client where a chat sets nothing else.
    pub files: FileLimits,
}

/// How many files, and how many bytes of them together, one ticket or one comment takes from a
/// client: in a `/new` dialogue, `/ticket` on an album, a comment's album and the Mini App form.
/// `[files]` sets the default, a chat's `[chats.files]` its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileLimits {
    /// `max_count`: 0 takes no files at all.
    pub max_count: usize,
    /// `max_total_size`, in bytes.
    pub max_bytes: u64,
}

impl FileLimits {
    /// 10 files, 50 MB: a few screenshots and a log or two; twice the Bot API's 20 MB download
    /// limit for a single file.
    pub const DEFAULT: Self = Self {
        max_count: 10,
        max_bytes: 50 * 1024 * 1024,
    };

    /// Whether a ticket or comment already holding `count` files of `bytes` together takes one
    /// more of `size` bytes (unknown sizes count as nothing: Telegram gives them for every file it
    /// lets a bot download).
    pub fn admits(&self, count: usize, bytes: u64, size: Option<u64>) -> bool {
        count < self.max_count && bytes.saturating_add(size.unwrap_or(0)) <= self.max_bytes
    }
}

impl Default for FileLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// `[telegram]`.
#[derive(Clone, Debug)]
pub struct TelegramConfig {
    pub token: Secret,
    /// Bot API base URL without a trailing slash; a local Bot API server or a fake in tests.
    pub api_url: String,
    pub updates: UpdatesMode,
    /// Telegram's `secret_token` for webhooks; always present when `updates` is `Webhook`.
    pub webhook_secret: Option<Secret>,
    /// Telegram user ids allowed to run admin commands.
    pub admins: Vec<i64>,
    pub language: Language,
}

/// How the bot receives updates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UpdatesMode {
    #[default]
    Polling,
    Webhook,
}

/// Default language of posts and dialogues.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Language {
    #[default]
    Ru,
    En,
}

impl Language {
    /// The spelling used in the config file and in BCP 47 (`ru`, `en`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ru => "ru",
            Self::En => "en",
        }
    }
}

/// `[server]`.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Whether the config has a `[server]` table: without one no HTTP server is started (polling
    /// needs none), so a daemon never takes a port nobody asked it to.
    pub enabled: bool,
    pub listen: SocketAddr,
    /// The https URL Telegram and helpdesks reach the server at, without a trailing slash.
    pub public_url: Option<String>,
    /// The Mini App's short name (BotFather `/newapp`, URL `<public_url>/app/`): the pinned
    /// «Новая заявка» post opens `t.me/<bot>/<mini_app>?startapp=<chat token>` instead of a
    /// private dialogue with the bot.
    pub mini_app: Option<String>,
    /// How old a Mini App's `initData` (its `auth_date`) may be; Telegram sets no limit.
    pub init_data_max_age: Duration,
    /// Where `/healthz` and `/metrics` are served instead of on `listen`, so the public listener
    /// carries only what the Mini App and webhooks need (e.g. `"127.0.0.1:9090"`).
    pub admin_listen: Option<SocketAddr>,
}

/// `[store]`.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub path: PathBuf,
}

/// One `[helpdesks.<name>]`.
#[derive(Clone)]
pub struct HelpdeskConfig {
    pub name: String,
    /// A member of [`crate::helpdesks::KINDS`].
    pub kind: String,
    /// How often the watcher asks for changes; zero means "webhooks only".
    pub poll_interval: Duration,
    /// How many of its tickets are worked on at once (`max_in_flight`); `None` lets the daemon
    /// derive it from the adapter's documented rate limit.
    pub max_in_flight: Option<usize>,
    /// The whole table as the adapter sees it, `kind` and `poll_interval` included, with `env:` and
    /// `file:` secrets replaced by their values.
    pub table: ConfigTable,
}

/// The table holds resolved credentials, so `Debug` prints it with secret-named keys redacted.
impl fmt::Debug for HelpdeskConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HelpdeskConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("poll_interval", &self.poll_interval)
            .field("max_in_flight", &self.max_in_flight)
            .field("table", &redacted(&self.table))
            .finish()
    }
}

fn redacted(table: &ConfigTable) -> ConfigTable {
    table
        .iter()
        .map(|(key, value)| {
            let value = if secret::is_secret_key(key) {
                serde_json::Value::String("[redacted]".into())
            } else if let serde_json::Value::Object(inner) = value {
                serde_json::Value::Object(redacted(inner))
            } else {
                value.clone()
            };
            (key.clone(), value)
        })
        .collect()
}

/// One `[[chats]]` entry.
#[derive(Clone, Debug)]
pub struct ChatConfig {
    /// The channel (channel mode) or the group; always negative.
    pub id: i64,
    pub mode: ChatMode,
    /// A key of [`Config::helpdesks`].
    pub helpdesk: String,
    /// The client company, shown to staff.
    pub name: String,
    /// Branches a chain's client picks from; empty when the chat serves one company.
    pub companies: Vec<String>,
    pub on_closed_comment: OnClosedComment,
    /// Whose tickets a client of this chat finds (`/find`, the Mini App lists).
    pub visibility: Visibility,
    /// `[chats.ticket]`: defaults for new tickets, validated by the adapter; empty when absent.
    pub ticket: ConfigTable,
    /// `[[chats.categories]]` and `[[chats.fields]]`: what a new ticket from this chat needs.
    pub intake: intake::IntakeConfig,
    /// Where in the ticket table (`custom_fields.Registered`) the helpdesk takes each ticket's
    /// registration time, the Telegram message's own date; `None`: only in the description.
    pub registered_at: Option<String>,
    /// `[chats.files]` over `[files]`.
    pub files: FileLimits,
}

/// Which Telegram surface a chat is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChatMode {
    Channel,
    Group,
    Forum,
}

impl ChatMode {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Channel => "channel",
            Self::Group => "group",
            Self::Forum => "forum",
        }
    }
}

/// What a client comment on a closed ticket does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OnClosedComment {
    /// Opens a new ticket linked to the closed one.
    #[default]
    FollowUp,
    Reopen,
}

/// Whose tickets a client finds: their own, or everyone's in their chat (colleagues of one
/// company see each other's requests, as a helpdesk's client portal lets an organisation do).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Only the tickets they opened.
    #[default]
    Own,
    /// Every ticket of the chat, for members of the chat.
    Chat,
}

/// One problem (or warning) in the config file.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// TOML path: `telegram.token`, `helpdesks.main.board_id`, `chats[1].mode` (0-based index).
    /// Empty for problems with the file as a whole (unreadable, not valid TOML).
    pub path: String,
    /// 1-based; `None` when the problem is an absence with no line to point at.
    pub line: Option<usize>,
    /// What is wrong, as data, worded in either language by [`Finding::message_in`]. Safe to
    /// print: never contains a secret's value.
    pub text: ConfigText,
}

impl Finding {
    /// What is wrong, in `lang`.
    pub fn message_in(&self, lang: crate::telegram::texts::Lang) -> String {
        self.text.render(lang)
    }

    /// What is wrong, in English (logs, the daemon's refusal to start).
    pub fn message(&self) -> String {
        self.message_in(crate::telegram::texts::Lang::En)
    }

    /// Where the finding is and what is wrong, in `lang`: `telegram.token (строка 3): …`.
    pub fn to_string_in(&self, lang: crate::telegram::texts::Lang) -> String {
        let t = crate::telegram::texts::ops::Ops(lang);
        let place = match (self.path.is_empty(), self.line) {
            (false, Some(line)) => t.at_line(&self.path, line),
            (false, None) => self.path.clone(),
            (true, Some(line)) => t.line(line),
            (true, None) => return self.message_in(lang),
        };
        format!("{place}: {}", self.message_in(lang))
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.path.is_empty(), self.line) {
            (false, Some(line)) => write!(f, "{} (line {line}): {}", self.path, self.text),
            (false, None) => write!(f, "{}: {}", self.path, self.text),
            (true, Some(line)) => write!(f, "line {line}: {}", self.text),
            (true, None) => write!(f, "{}", self.text),
        }
    }
}

/// A valid config and the warnings it still deserves.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Finding>,
}

/// Reads and validates the config file, resolving secrets from the process environment and the
/// file system. `Err` holds every error found, in file order.
pub fn load(path: &Path) -> Result<Loaded, Vec<Finding>> {
    validate::analyse_file(path).into_result()
}

/// Validates config text. `env` looks up environment variables (so tests need not touch the
/// process environment); `file:` secrets are read from the real file system.
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, Vec<Finding>> {
    validate::analyse(text, env).into_result()
}

#[cfg(test)]
mod tests;
