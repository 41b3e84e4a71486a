//! `teledesk doctor`: live checks of what a valid config still cannot promise — that the bot
//! token works, that the bot has the rights each chat's mode needs, and that every helpdesk
//! accepts its credentials — each with what the admin should do when it does not.
//!
//! [`run`] collects Telegram's and the helpdesks' [`Answers`]; [`checks`] turns them into the
//! report without I/O, so every rule is tested on plain JSON as Telegram sends it. Chats are
//! checked only once `getMe` works: with a wrong token every other call fails the same way.

use crate::config::{ChatMode, Config};
use crate::telegram::client::{TelegramClient, TgError};
use crate::telegram::texts::ops::Ops;
use crate::telegram::texts::{Lang, problems};
use serde_json::Value;
use std::time::Duration;
use teledesk_adapter::{ConfigProblem, ConfigTable, Error as HelpdeskError, ErrorKind, Identity};

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Works, but something the admin probably wants is missing.
    Warn,
    /// teledesk will not work as configured.
    Fail,
    /// Not a check: something the admin has to do by hand.
    Info,
}

impl Status {
    /// The mark printed in front of the line.
    pub fn mark(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Info => "info",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What was checked: `telegram`, `channel -100… «Title»`, `helpdesk main (kaiten)`.
    pub subject: String,
    pub status: Status,
    /// What was found and, unless it is fine, what to do about it. Never holds a secret.
    pub detail: String,
}

impl Check {
    fn new(subject: &str, status: Status, detail: impl Into<String>) -> Self {
        Self {
            subject: subject.to_owned(),
            status,
            detail: detail.into(),
        }
    }
}

/// Everything the checks look at, as Telegram and the helpdesks answered.
#[derive(Clone, Debug)]
pub struct Answers {
    /// `telegram.api_url`, named when Telegram cannot be reached.
    pub api_url: String,
    /// `getMe`.
    pub me: Result<Value, TgError>,
    /// One per `[[chats]]`, in file order; empty when `getMe` failed (nothing else would work).
    pub chats: Vec<ChatAnswers>,
    /// One per `[helpdesks.<name>]`.
    pub helpdesks: Vec<HelpdeskAnswer>,
    /// `<public_url>/app/` and the app's short name, when `[server]` configures a Mini App.
    pub mini_app: Option<(String, String)>,
    /// `getWebhookInfo`, when `getMe` worked.
    pub webhook: Option<WebhookAnswer>,
}

/// Where Telegram sends updates, against where it should.
#[derive(Clone, Debug)]
pub struct WebhookAnswer {
    /// The URL the daemon sets in webhook mode; `None` in polling mode (no webhook wanted).
    pub expected: Option<String>,
    pub info: Result<Value, TgError>,
}

/// Telegram's answers about one configured chat.
#[derive(Clone, Debug)]
pub struct ChatAnswers {
    /// The id in `[[chats]]`.
    pub id: i64,
    pub mode: ChatMode,
    /// Set when the configured basic group was upgraded: the supergroup's id, which the answers
    /// below are about.
    pub upgraded_to: Option<i64>,
    /// `getChat`.
    pub chat: Result<Value, TgError>,
    /// `getChatMember(chat, bot)`; not asked (`None`) when `getChat` failed.
    pub bot: Option<Result<Value, TgError>>,
    /// Channel mode: the linked discussion group, when `getChat` names one.
    pub discussion: Option<DiscussionAnswers>,
}

/// Telegram's answers about a channel's discussion group.
#[derive(Clone, Debug)]
pub struct DiscussionAnswers {
    pub id: i64,
    /// `getChat`.
    pub chat: Result<Value, TgError>,
    /// `getChatMember(group, bot)`.
    pub bot: Result<Value, TgError>,
}

/// A helpdesk's answer to [`teledesk_adapter::Helpdesk::check`].
#[derive(Clone, Debug)]
pub struct HelpdeskAnswer {
    pub name: String,
    pub kind: String,
    pub identity: Result<Identity, HelpdeskError>,
    /// [`teledesk_adapter::Helpdesk::check_ticket_defaults`] for each chat of this helpdesk with
    /// a `[chats.ticket]` table, asked only once `identity` is known.
    pub ticket_defaults: Vec<TicketDefaultsAnswer>,
}

/// What a helpdesk says about one chat's `[chats.ticket]` table.
#[derive(Clone, Debug)]
pub struct TicketDefaultsAnswer {
    pub chat: i64,
    pub part: TicketTable,
    /// `Err` of kind `Unsupported` when the adapter cannot check intake fields at all.
    pub problems: Result<Vec<ConfigProblem>, HelpdeskError>,
}

/// Which of a chat's ticket tables a helpdesk checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TicketTable {
    /// `[chats.ticket]`.
    Defaults,
    /// A category's table (by its id), merged over `[chats.ticket]`.
    Category(String),
    /// `[chats.ticket]` with the intake fields set to their possible values.
    Fields,
    /// `[chats.ticket]` with `registered_at`'s field set to a sample time.
    RegisteredAt,
}

/// A helpdesk that does not answer within this is reported as unreachable rather than waited for.
const HELPDESK_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs every check against the live services `config` names; the report is in `lang`.
pub async fn run(config: &Config, lang: Lang) -> Vec<Check> {
    let (answers, telegram) = ask(config, Ops(lang)).await;
    let mut report = checks_in(&answers, lang);
    // Telegram errors are scrubbed where they are made; this keeps a future slip from printing
    // the token anyway.
    if let Some(telegram) = telegram {
        for check in &mut report {
            check.detail = telegram.scrub(&check.detail);
        }
    }
    report
}

fn no_answer(t: Ops, operation: &'static str) -> HelpdeskError {
    HelpdeskError::new(
        ErrorKind::Unavailable,
        operation,
        t.no_answer(HELPDESK_TIMEOUT.as_secs()),
    )
}

/// Asks Telegram and every helpdesk what the checks need; also returns the Telegram client (for
/// scrubbing) when one could be built.
async fn ask(config: &Config, t: Ops) -> (Answers, Option<TelegramClient>) {
    let telegram = TelegramClient::new(&config.telegram.api_url, &config.telegram.token);
    let me = match &telegram {
        Ok(client) => client.get_me_raw().await,
        Err(error) => Err(TgError::Rejected(error.clone())),
    };
    let mut chats = Vec::new();
    if let (Ok(client), Some(bot_id)) =
        (&telegram, me.as_ref().ok().and_then(|me| me["id"].as_i64()))
    {
        for chat in &config.chats {
            chats.push(ask_chat(client, bot_id, chat.id, chat.mode).await);
        }
    }
    let mut helpdesks = Vec::new();
    for (name, helpdesk) in &config.helpdesks {
        let mut ticket_defaults = Vec::new();
        let identity = match crate::helpdesks::build(helpdesk) {
            Ok(adapter) => {
                let identity = tokio::time::timeout(HELPDESK_TIMEOUT, adapter.check())
                    .await
                    .unwrap_or_else(|_| Err(no_answer(t, "check")));
                // A config finding does not stop the chats' tables from being checked too.
                let reached = match &identity {
                    Ok(_) => true,
                    Err(error) => error.kind() == ErrorKind::ConfigInvalid,
                };
                if reached {
                    let check_fields = adapter.capability().check_fields;
                    for chat in config.chats.iter().filter(|c| &c.helpdesk == name) {
                        for (part, table, intake) in ticket_tables(chat) {
                            let problems = if intake && !check_fields {
                                Err(HelpdeskError::unsupported("check_ticket_defaults"))
                            } else {
                                tokio::time::timeout(
                                    HELPDESK_TIMEOUT,
                                    adapter.check_ticket_defaults(&table),
                                )
                                .await
                                .unwrap_or_else(|_| Err(no_answer(t, "check_ticket_defaults")))
                            };
                            ticket_defaults.push(TicketDefaultsAnswer {
                                chat: chat.id,
                                part,
                                problems,
                            });
                        }
                    }
                }
                identity
            }
            Err(problems) => Err(HelpdeskError::config("build", problems)),
        };
        helpdesks.push(HelpdeskAnswer {
            name: name.clone(),
            kind: helpdesk.kind.clone(),
            identity,
            ticket_defaults,
        });
    }
    let webhook = match (&telegram, &me) {
        (Ok(client), Ok(_)) => Some(WebhookAnswer {
            expected: (config.telegram.updates == crate::config::UpdatesMode::Webhook)
                .then(|| {
                    config
                        .server
                        .public_url
                        .as_ref()
                        .map(|url| format!("{url}{}", crate::http::telegram_updates::PATH))
                })
                .flatten(),
            info: client.get_webhook_info_raw().await,
        }),
        _ => None,
    };
    let mini_app = match (&config.server.public_url, &config.server.mini_app) {
        (Some(url), Some(name)) => Some((format!("{url}/app/"), name.clone())),
        _ => None,
    };
    let answers = Answers {
        api_url: config.telegram.api_url.clone(),
        me,
        chats,
        helpdesks,
        mini_app,
        webhook,
    };
    (answers, telegram.ok())
}

async fn ask_chat(client: &TelegramClient, bot_id: i64, id: i64, mode: ChatMode) -> ChatAnswers {
    let mut upgraded_to = None;
    let mut chat = client.get_chat_raw(id).await;
    if let Err(TgError::Migrated(new_id)) = chat {
        upgraded_to = Some(new_id);
        chat = client.get_chat_raw(new_id).await;
    }
    let effective = upgraded_to.unwrap_or(id);
    let bot = match &chat {
        Ok(_) => Some(client.get_chat_member_raw(effective, bot_id).await),
        Err(_) => None,
    };
    let linked = match (&chat, mode) {
        (Ok(info), ChatMode::Channel) => info["linked_chat_id"].as_i64(),
        _ => None,
    };
    let discussion = match linked {
        Some(group) => Some(DiscussionAnswers {
            id: group,
            chat: client.get_chat_raw(group).await,
            bot: client.get_chat_member_raw(group, bot_id).await,
        }),
        None => None,
    };
    ChatAnswers {
        id,
        mode,
        upgraded_to,
        chat,
        bot,
        discussion,
    }
}

/// The report for `answers`, in English (see [`checks_in`]).
pub fn checks(answers: &Answers) -> Vec<Check> {
    checks_in(answers, Lang::En)
}

/// The report for `answers` in `lang`: Telegram first, then every chat, every helpdesk, the
/// Mini App.
pub fn checks_in(answers: &Answers, lang: Lang) -> Vec<Check> {
    let t = Ops(lang);
    let mut report = Vec::new();
    let privacy_off = match &answers.me {
        Ok(me) => {
            let privacy_off = me["can_read_all_group_messages"].as_bool() == Some(true);
            let username = me["username"].as_str().unwrap_or("?");
            let id = me["id"].as_i64().unwrap_or_default();
            report.push(Check::new(
                t.telegram_subject(),
                Status::Ok,
                t.token_works(username, id, privacy_off),
            ));
            Some(privacy_off)
        }
        Err(error) => {
            report.push(Check::new(
                t.telegram_subject(),
                Status::Fail,
                token_failure(t, error, &answers.api_url),
            ));
            None
        }
    };
    if let Some(webhook) = &answers.webhook
        && let Some(check) = webhook_check(t, webhook)
    {
        report.push(check);
    }
    if let Some(privacy_off) = privacy_off {
        for chat in &answers.chats {
            report.extend(chat_checks(t, chat, privacy_off));
        }
    }
    for helpdesk in &answers.helpdesks {
        report.push(helpdesk_check(t, helpdesk));
        report.extend(
            helpdesk
                .ticket_defaults
                .iter()
                .filter_map(|answer| ticket_defaults_check(t, &helpdesk.kind, answer)),
        );
    }
    if let Some((url, name)) = &answers.mini_app {
        report.push(Check::new(
            t.mini_app_subject(),
            Status::Info,
            t.mini_app(name, url),
        ));
    }
    report
}

/// Whether Telegram delivers updates the way the config says; nothing to say for polling with no
/// webhook set.
fn webhook_check(t: Ops, answer: &WebhookAnswer) -> Option<Check> {
    let info = match &answer.info {
        Ok(info) => info,
        Err(error) => {
            return Some(Check::new(
                t.updates_subject(),
                Status::Warn,
                t.webhook_unknown(&error.to_string()),
            ));
        }
    };
    let set = info["url"].as_str().unwrap_or_default();
    let pending = info["pending_update_count"].as_i64().unwrap_or_default();
    let (status, detail) = match &answer.expected {
        None if set.is_empty() => return None,
        None => (Status::Warn, t.webhook_while_polling(set)),
        Some(_) if set.is_empty() => (Status::Warn, t.webhook_not_set()),
        Some(expected) if set != expected => (Status::Fail, t.webhook_elsewhere(set, expected)),
        Some(expected) => match info["last_error_message"].as_str() {
            Some(message) => (
                Status::Warn,
                t.webhook_failing(
                    expected,
                    message,
                    pending,
                    crate::http::telegram_updates::PATH,
                ),
            ),
            None => (Status::Ok, t.webhook_ok(expected, pending)),
        },
    };
    Some(Check::new(t.updates_subject(), status, detail))
}

fn token_failure(t: Ops, error: &TgError, api_url: &str) -> String {
    match error {
        TgError::Rejected(text) if text.starts_with("Unauthorized") => t.token_unauthorized(text),
        TgError::Rejected(text) if text.starts_with("Not Found") => {
            t.token_not_found(text, api_url)
        }
        TgError::Temporary(text) => t.telegram_silent(api_url, text),
        TgError::RetryAfter(wait) => t.flood_wait(wait.as_secs()),
        other => t.telegram_failed(&other.to_string()),
    }
}

/// Why a chat cannot be looked at, and what to do.
fn chat_failure(t: Ops, error: &TgError) -> String {
    match error {
        TgError::Rejected(text) if text.contains("chat not found") => t.chat_not_found(text),
        TgError::Forbidden(text) => t.chat_forbidden(text),
        TgError::Migrated(new_id) => t.chat_migrated(*new_id),
        other => t.get_chat_failed(&other.to_string()),
    }
}

/// The bot's place in a chat, from `getChatMember`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    Admin,
    Member,
    /// In the chat but not allowed to write.
    Muted,
    Absent,
}

fn standing(member: &Value) -> Standing {
    match member["status"].as_str().unwrap_or("") {
        "creator" | "administrator" => Standing::Admin,
        "member" => Standing::Member,
        "restricted" if member["is_member"].as_bool() == Some(false) => Standing::Absent,
        "restricted" if member["can_send_messages"].as_bool() == Some(false) => Standing::Muted,
        "restricted" => Standing::Member,
        _ => Standing::Absent,
    }
}

/// Whether an administrator holds `right`; the owner holds every right without listing them.
fn has_right(member: &Value, right: &str) -> bool {
    match member["status"].as_str() {
        Some("creator") => true,
        Some("administrator") => member[right].as_bool() == Some(true),
        _ => false,
    }
}

/// `channel -100… «Title»`: what the admin calls the chat, and its id to find it in the config.
fn describe_chat(t: Ops, what: &'static str, id: i64, chat: Option<&Value>) -> String {
    let what = t.chat_kind(what);
    match chat.and_then(|c| c["title"].as_str()) {
        Some(title) => format!("{what} {id} «{title}»"),
        None => format!("{what} {id}"),
    }
}

fn chat_checks(t: Ops, answers: &ChatAnswers, privacy_off: bool) -> Vec<Check> {
    let subject = describe_chat(
        t,
        answers.mode.as_str(),
        answers.id,
        answers.chat.as_ref().ok(),
    );
    let mut report = Vec::new();
    if let Some(new_id) = answers.upgraded_to {
        // The daemon learns the new id only from the upgrade's service message, which it misses
        // when it was not running at the time.
        report.push(Check::new(&subject, Status::Fail, t.upgraded(new_id)));
    }
    let chat = match &answers.chat {
        Ok(chat) => chat,
        Err(error) => {
            report.push(Check::new(&subject, Status::Fail, chat_failure(t, error)));
            return report;
        }
    };
    if let Some(problem) = mode_mismatch(t, answers.mode, chat) {
        report.push(Check::new(&subject, Status::Fail, problem));
        return report;
    }
    let member = match &answers.bot {
        Some(Ok(member)) => member,
        Some(Err(error)) => {
            report.push(Check::new(
                &subject,
                Status::Fail,
                t.rights_unknown(&error.to_string()),
            ));
            return report;
        }
        None => return report,
    };
    let found = match answers.mode {
        ChatMode::Channel if standing(member) == Standing::Absent => {
            vec![channel_rights(t, member)]
        }
        ChatMode::Channel => vec![
            channel_rights(t, member),
            discussion_check(t, answers.discussion.as_ref(), privacy_off),
        ],
        ChatMode::Group => group_checks(t, member, privacy_off),
        ChatMode::Forum => forum_checks(t, member),
    };
    report.extend(
        found
            .into_iter()
            .map(|(status, detail)| Check::new(&subject, status, detail)),
    );
    report
}

/// A chat whose Telegram type does not fit its configured mode.
fn mode_mismatch(t: Ops, mode: ChatMode, chat: &Value) -> Option<String> {
    let kind = chat["type"].as_str().unwrap_or("?");
    let is_forum = chat["is_forum"].as_bool() == Some(true);
    match (mode, kind) {
        (ChatMode::Channel, "channel") => None,
        (ChatMode::Channel, _) => {
            Some(t.not_a_channel(kind, if is_forum { "forum" } else { "group" }))
        }
        (ChatMode::Group | ChatMode::Forum, "channel") => Some(t.is_a_channel()),
        (_, "private") => Some(t.is_private()),
        (ChatMode::Forum, _) if !is_forum => Some(t.topics_off()),
        _ => None,
    }
}

fn channel_rights(t: Ops, member: &Value) -> (Status, String) {
    if standing(member) != Standing::Admin {
        return (Status::Fail, t.channel_not_admin());
    }
    if !has_right(member, "can_post_messages") {
        return (Status::Fail, t.channel_cannot_post());
    }
    if !has_right(member, "can_edit_messages") {
        // Telegram lets the bot edit its own posts with «Post messages» alone; pinning in a
        // channel takes «Edit messages of others».
        return (Status::Warn, t.channel_cannot_pin());
    }
    (Status::Ok, t.channel_ok())
}

fn discussion_check(
    t: Ops,
    discussion: Option<&DiscussionAnswers>,
    privacy_off: bool,
) -> (Status, String) {
    let Some(discussion) = discussion else {
        return (Status::Warn, t.no_discussion());
    };
    let group = describe_chat(
        t,
        "discussion group",
        discussion.id,
        discussion.chat.as_ref().ok(),
    );
    if let Err(error) = &discussion.chat {
        return (Status::Fail, t.in_group(&group, &chat_failure(t, error)));
    }
    let member = match &discussion.bot {
        Ok(member) => member,
        Err(error) => {
            return (
                Status::Fail,
                t.group_rights_unknown(&group, &error.to_string()),
            );
        }
    };
    match (standing(member), privacy_off) {
        (Standing::Admin, _) => (Status::Ok, t.discussion_admin(&group)),
        (Standing::Member, true) => (Status::Ok, t.discussion_member_sees(&group)),
        (Standing::Member, false) => (Status::Fail, t.discussion_member_blind(&group)),
        (Standing::Muted, _) => (Status::Fail, t.discussion_muted(&group)),
        (Standing::Absent, _) => (Status::Fail, t.discussion_absent(&group)),
    }
}

fn group_checks(t: Ops, member: &Value, privacy_off: bool) -> Vec<(Status, String)> {
    let sees = match (standing(member), privacy_off) {
        (Standing::Admin, _) => (Status::Ok, t.group_admin()),
        (Standing::Member, true) => (Status::Ok, t.group_member_sees()),
        (Standing::Member, false) => (Status::Fail, t.group_member_blind()),
        (Standing::Muted, _) => (Status::Fail, t.group_muted()),
        (Standing::Absent, _) => return vec![(Status::Fail, t.group_absent())],
    };
    vec![sees, pin_check(t, member)]
}

fn forum_checks(t: Ops, member: &Value) -> Vec<(Status, String)> {
    if standing(member) == Standing::Absent {
        return vec![(Status::Fail, t.forum_absent())];
    }
    let topics = if has_right(member, "can_manage_topics") {
        (Status::Ok, t.forum_ok())
    } else {
        (Status::Fail, t.forum_no_topics())
    };
    vec![topics, pin_check(t, member)]
}

fn pin_check(t: Ops, member: &Value) -> (Status, String) {
    if has_right(member, "can_pin_messages") {
        (Status::Ok, t.may_pin())
    } else {
        (Status::Warn, t.may_not_pin())
    }
}

/// A line only when something is wrong: a chat whose table is fine needs no mention.
/// The ticket tables a chat can create tickets with, each with its name and whether it comes
/// from the intake questions: `[chats.ticket]` itself (when set), each category's table merged
/// over it, and — when fields have targets — the table with every targeted field set to one of
/// its values, once per choice (the n-th choice of each choice field, a text field's example).
fn ticket_tables(chat: &crate::config::ChatConfig) -> Vec<(TicketTable, ConfigTable, bool)> {
    use crate::config::intake::FieldKind;
    let mut tables = Vec::new();
    if !chat.ticket.is_empty() {
        tables.push((TicketTable::Defaults, chat.ticket.clone(), false));
    }
    for category in &chat.intake.categories {
        let mut merged = chat.ticket.clone();
        teledesk_adapter::merge_table(&mut merged, &category.ticket);
        tables.push((TicketTable::Category(category.id.clone()), merged, true));
    }
    let targeted: Vec<_> = chat
        .intake
        .fields
        .iter()
        .filter(|f| f.target.is_some())
        .collect();
    let rounds = targeted
        .iter()
        .map(|f| f.choices.len())
        .max()
        .unwrap_or(0)
        .max(1);
    for round in 0..if targeted.is_empty() { 0 } else { rounds } {
        let mut table = chat.ticket.clone();
        for field in &targeted {
            let value = match field.kind {
                FieldKind::Choice => match field.choices.get(round).or(field.choices.last()) {
                    Some(choice) => choice.id.clone(),
                    None => continue,
                },
                FieldKind::Phone => serde_json::Value::String("+70000000000".into()),
                _ => serde_json::Value::String(
                    field.example.clone().unwrap_or_else(|| "sample".into()),
                ),
            };
            teledesk_adapter::set_path(
                &mut table,
                field.target.as_deref().unwrap_or_default(),
                value,
            );
        }
        tables.push((TicketTable::Fields, table, true));
    }
    if let Some(target) = &chat.registered_at {
        let mut table = chat.ticket.clone();
        let sample = crate::config::intake::REGISTERED_AT_SAMPLE;
        teledesk_adapter::set_path(&mut table, target, sample.into());
        tables.push((TicketTable::RegisteredAt, table, true));
    }
    tables
}

fn ticket_defaults_check(t: Ops, kind: &str, answer: &TicketDefaultsAnswer) -> Option<Check> {
    let subject = t.chat_ticket_subject(answer.chat, &answer.part);
    match &answer.problems {
        Err(error) if error.kind() == ErrorKind::Unsupported => {
            Some(Check::new(&subject, Status::Warn, t.fields_unchecked(kind)))
        }
        Ok(problems) if problems.is_empty() => None,
        Ok(problems) => Some(Check::new(
            &subject,
            Status::Fail,
            t.ticket_defaults_wrong(
                &problems
                    .iter()
                    .map(|p| said(t, p))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        )),
        Err(error) => Some(Check::new(
            &subject,
            Status::Warn,
            t.ticket_defaults_unchecked(&error.to_string()),
        )),
    }
}

/// An adapter's finding in the report's language, after the key it is about.
fn said(t: Ops, problem: &ConfigProblem) -> String {
    let text = problems::problem(t.0, &problem.problem);
    match problem.key.is_empty() {
        true => text,
        false => format!("{}: {text}", problem.key),
    }
}

fn helpdesk_check(t: Ops, answer: &HelpdeskAnswer) -> Check {
    let subject = t.helpdesk_subject(&answer.name, &answer.kind);
    let error = match &answer.identity {
        Ok(identity) => {
            return Check::new(
                &subject,
                Status::Ok,
                t.authorised(&identity.name, &identity.id.to_string()),
            );
        }
        Err(error) => error,
    };
    let table = format!("[helpdesks.{}]", answer.name);
    let detail = match error.kind() {
        ErrorKind::PermissionDenied => t.helpdesk_refused(error.message(), &table),
        ErrorKind::Unavailable | ErrorKind::RateLimited => {
            t.helpdesk_silent(error.message(), &table)
        }
        ErrorKind::NotFound => t.helpdesk_no_api(error.message(), &table),
        ErrorKind::ConfigInvalid => match error.config_problems() {
            Some(problems) => {
                let said: Vec<String> = problems.iter().map(|p| said(t, p)).collect();
                t.helpdesk_config(&said.join("; "), &table)
            }
            None => t.helpdesk_config(error.message(), &table),
        },
        _ => t.helpdesk_other(&error.to_string(), &table),
    };
    Check::new(&subject, Status::Fail, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use teledesk_adapter::Problem;

    const BOT: i64 = 123_456_789;

    fn me(privacy_off: bool) -> Value {
        json!({"id": BOT, "is_bot": true, "first_name": "Support", "username": "acme_support_bot",
               "can_join_groups": true, "can_read_all_group_messages": privacy_off})
    }

    fn chat(id: i64, kind: &str, title: &str) -> Value {
        json!({"id": id, "type": kind, "title": title})
    }

    fn forum(id: i64, title: &str) -> Value {
        json!({"id": id, "type": "supergroup", "title": title, "is_forum": true})
    }

    fn member() -> Value {
        json!({"user": {"id": BOT, "is_bot": true, "first_name": "Support"}, "status": "member"})
    }

    /// An administrator with the rights Telegram lists for the chat type, each set to `granted`
    /// unless named in `withheld`.
    fn admin(kind: &str, withheld: &[&str]) -> Value {
        let rights: &[&str] = match kind {
            "channel" => &[
                "can_post_messages",
                "can_edit_messages",
                "can_delete_messages",
            ],
            _ => &[
                "can_pin_messages",
                "can_manage_topics",
                "can_delete_messages",
            ],
        };
        let mut value = json!({"user": {"id": BOT, "is_bot": true, "first_name": "Support"},
                               "status": "administrator", "can_be_edited": false});
        for right in rights {
            value[*right] = json!(!withheld.contains(right));
        }
        value
    }

    fn group_answers(id: i64, mode: ChatMode, info: Value, bot: Value) -> ChatAnswers {
        ChatAnswers {
            id,
            mode,
            upgraded_to: None,
            chat: Ok(info),
            bot: Some(Ok(bot)),
            discussion: None,
        }
    }

    fn channel_answers(bot: Value, discussion: Option<DiscussionAnswers>) -> ChatAnswers {
        let mut info = chat(-1001, "channel", "Acme posts");
        if let Some(d) = &discussion {
            info["linked_chat_id"] = json!(d.id);
        }
        ChatAnswers {
            discussion,
            ..group_answers(-1001, ChatMode::Channel, info, bot)
        }
    }

    fn discussion(bot: Value) -> DiscussionAnswers {
        DiscussionAnswers {
            id: -1002,
            chat: Ok(chat(-1002, "supergroup", "Acme chat")),
            bot: Ok(bot),
        }
    }

    fn answers(privacy_off: bool, chats: Vec<ChatAnswers>) -> Answers {
        Answers {
            api_url: "https://api.telegram.org".into(),
            me: Ok(me(privacy_off)),
            chats,
            helpdesks: Vec::new(),
            mini_app: None,
            webhook: None,
        }
    }

    #[test]
    fn webhook_delivery_is_checked_against_the_mode() {
        let hook = |expected: Option<&str>, info: Value| WebhookAnswer {
            expected: expected.map(str::to_owned),
            info: Ok(info),
        };
        let url = "https://desk.example.com/telegram/updates";
        let lines: Vec<String> = [
            hook(None, json!({"url": "", "pending_update_count": 0})),
            hook(None, json!({"url": url, "pending_update_count": 3})),
            hook(Some(url), json!({"url": "", "pending_update_count": 0})),
            hook(Some(url), json!({"url": "https://old.example.com/hook", "pending_update_count": 0})),
            hook(Some(url), json!({"url": url, "pending_update_count": 2,
                                   "last_error_date": 1, "last_error_message": "Wrong response from the webhook: 502 Bad Gateway"})),
            hook(Some(url), json!({"url": url, "pending_update_count": 0})),
        ]
        .iter()
        .map(|answer| match webhook_check(Ops(Lang::En), answer) {
            Some(check) => render(&[check]),
            None => "(nothing)".to_owned(),
        })
        .collect();
        insta::assert_snapshot!(lines.join("\n"), @r#"
        (nothing)
        WARN telegram updates: a webhook is set (https://desk.example.com/telegram/updates) though updates = "polling": Telegram refuses getUpdates until the daemon's next start removes it
        WARN telegram updates: no webhook is set yet: the daemon sets it when it starts
        FAIL telegram updates: Telegram delivers updates to https://old.example.com/hook, not to https://desk.example.com/telegram/updates: another instance or program set it; stop it, then restart teledesk
        WARN telegram updates: Telegram delivers to https://desk.example.com/telegram/updates, but its last delivery failed: Wrong response from the webhook: 502 Bad Gateway (2 waiting); check that the reverse proxy passes /telegram/updates to the daemon
        ok telegram updates: Telegram delivers updates to https://desk.example.com/telegram/updates (0 waiting)
        "#);
    }

    fn render(report: &[Check]) -> String {
        report
            .iter()
            .map(|c| format!("{} {}: {}", c.status.mark(), c.subject, c.detail))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The report without the `telegram` line, which every test shares.
    fn chat_lines(answers: &Answers) -> String {
        render(&checks(answers)[1..])
    }

    #[test]
    fn a_healthy_setup_is_ok_everywhere() {
        let mut answers = answers(
            false,
            vec![
                channel_answers(
                    admin("channel", &[]),
                    Some(discussion(admin("supergroup", &[]))),
                ),
                group_answers(
                    -1003,
                    ChatMode::Group,
                    chat(-1003, "supergroup", "Acme"),
                    admin("supergroup", &[]),
                ),
                group_answers(
                    -1004,
                    ChatMode::Forum,
                    forum(-1004, "Acme topics"),
                    admin("supergroup", &[]),
                ),
                group_answers(
                    -4005,
                    ChatMode::Group,
                    chat(-4005, "group", "Basic"),
                    json!({"status": "creator"}),
                ),
            ],
        );
        answers.helpdesks.push(HelpdeskAnswer {
            name: "main".into(),
            kind: "kaiten".into(),
            identity: Ok(Identity {
                id: "7".into(),
                name: "Integration".into(),
            }),
            ticket_defaults: Vec::new(),
        });
        answers.mini_app = Some(("https://support.example.com/app/".into(), "support".into()));
        let report = checks(&answers);
        assert!(
            report
                .iter()
                .all(|c| matches!(c.status, Status::Ok | Status::Info)),
            "{}",
            render(&report)
        );
        insta::assert_snapshot!(render(&report), @"
        ok telegram: the token works: @acme_support_bot (id 123456789); privacy mode is on, so the bot sees every message only where it is an admin
        ok channel -1001 «Acme posts»: the bot is an admin that may post, edit and pin
        ok channel -1001 «Acme posts»: discussion group -1002 «Acme chat» is linked; the bot is an admin there and sees every comment
        ok group -1003 «Acme»: the bot is an admin and sees every message
        ok group -1003 «Acme»: the bot may pin the «Новая заявка» post (`teledesk pin`)
        ok forum -1004 «Acme topics»: the bot is an admin that may manage topics and sees every message
        ok forum -1004 «Acme topics»: the bot may pin the «Новая заявка» post (`teledesk pin`)
        ok group -4005 «Basic»: the bot is an admin and sees every message
        ok group -4005 «Basic»: the bot may pin the «Новая заявка» post (`teledesk pin`)
        ok helpdesk main (kaiten): authorised as Integration (id 7)
        info mini app: in @BotFather (/newapp, or /myapps for an existing app) the app with short name `support` must have the Web App URL https://support.example.com/app/
        ");
    }

    #[test]
    fn a_wrong_token_fails_and_no_chat_is_checked() {
        let mut answers = answers(false, Vec::new());
        answers.me = Err(TgError::Rejected("Unauthorized".into()));
        insta::assert_snapshot!(render(&checks(&answers)), @"FAIL telegram: the token is wrong or revoked (Telegram: Unauthorized): put the current one from @BotFather → /mybots → API Token into telegram.token");
        answers.me = Err(TgError::Rejected("Not Found".into()));
        assert!(
            checks(&answers)[0]
                .detail
                .contains("does not know this token")
        );
        answers.me = Err(TgError::Temporary("error sending request".into()));
        insta::assert_snapshot!(render(&checks(&answers)), @"FAIL telegram: Telegram did not answer at https://api.telegram.org (error sending request): check the network and telegram.api_url, then run doctor again");
    }

    #[test]
    fn privacy_mode_is_reported_on_the_telegram_line() {
        let report = checks(&answers(true, Vec::new()));
        assert_eq!(report[0].status, Status::Ok);
        assert!(
            report[0].detail.ends_with("privacy mode is off"),
            "{}",
            report[0].detail
        );
    }

    #[test]
    fn a_channel_the_bot_left_is_not_checked_further() {
        let report = checks(&answers(
            false,
            vec![channel_answers(json!({"status": "left"}), None)],
        ));
        assert_eq!(report.len(), 2, "{}", render(&report));
        assert_eq!(report[1].status, Status::Fail);
    }

    #[test]
    fn a_channel_needs_an_admin_that_may_post() {
        for bot in [
            json!({"status": "left"}),
            member(),
            admin("channel", &["can_post_messages"]),
        ] {
            let report = checks(&answers(false, vec![channel_answers(bot, None)]));
            assert_eq!(report[1].status, Status::Fail, "{}", render(&report));
            assert!(
                report[1]
                    .detail
                    .contains("«Post messages» and «Edit messages of others»")
            );
        }
        let report = answers(
            false,
            vec![channel_answers(
                admin("channel", &["can_edit_messages"]),
                None,
            )],
        );
        insta::assert_snapshot!(chat_lines(&report), @"
        WARN channel -1001 «Acme posts»: the bot may post but lacks «Edit messages of others», so `teledesk pin` cannot pin the «Новая заявка» post here: give it that right
        WARN channel -1001 «Acme posts»: no discussion group is linked, so tickets get no comments: link a discussion group to the channel (channel → Edit → Discussion) and make the bot an admin there
        ");
    }

    #[test]
    fn a_channel_without_discussion_group_gets_no_comments() {
        let report = checks(&answers(
            false,
            vec![channel_answers(admin("channel", &[]), None)],
        ));
        assert_eq!(report[2].status, Status::Warn);
        assert!(
            report[2]
                .detail
                .starts_with("no discussion group is linked"),
            "{}",
            report[2].detail
        );
    }

    #[test]
    fn the_discussion_group_needs_an_admin_or_privacy_off() {
        let channel = |bot| {
            vec![channel_answers(
                admin("channel", &[]),
                Some(discussion(bot)),
            )]
        };
        insta::assert_snapshot!(chat_lines(&answers(false, channel(member()))), @"
        ok channel -1001 «Acme posts»: the bot is an admin that may post, edit and pin
        FAIL channel -1001 «Acme posts»: the bot is not an admin of discussion group -1002 «Acme chat» and privacy mode is on, so comments never reach it: make the bot an admin of the group, or turn off privacy mode in @BotFather → Bot Settings → Group Privacy (then remove the bot from the group and add it again)
        ");
        let privacy_off = checks(&answers(true, channel(member())));
        assert_eq!(
            privacy_off[2].status,
            Status::Ok,
            "{}",
            render(&privacy_off)
        );
        insta::assert_snapshot!(chat_lines(&answers(true, channel(json!({"status": "left"})))), @"
        ok channel -1001 «Acme posts»: the bot is an admin that may post, edit and pin
        FAIL channel -1001 «Acme posts»: the bot is not in discussion group -1002 «Acme chat»: add it and make it an admin there
        ");
        let mut unknown = discussion(member());
        unknown.chat = Err(TgError::Rejected("Bad Request: chat not found".into()));
        let report = checks(&answers(
            true,
            vec![channel_answers(admin("channel", &[]), Some(unknown))],
        ));
        assert_eq!(report[2].status, Status::Fail);
        assert!(
            report[2]
                .detail
                .starts_with("discussion group -1002: Telegram knows no such chat"),
            "{}",
            report[2].detail
        );
    }

    #[test]
    fn a_group_needs_an_admin_or_privacy_off_and_pin_rights_for_teledesk_pin() {
        let group = |bot| {
            vec![group_answers(
                -1003,
                ChatMode::Group,
                chat(-1003, "supergroup", "Acme"),
                bot,
            )]
        };
        insta::assert_snapshot!(chat_lines(&answers(false, group(member()))), @"
        FAIL group -1003 «Acme»: the bot is not an admin and privacy mode is on, so comments that do not reply to the bot's own messages, and the files of albums, never reach it: make the bot an admin of the group, or turn off privacy mode in @BotFather → Bot Settings → Group Privacy (then remove the bot from the group and add it again)
        WARN group -1003 «Acme»: the bot may not pin, so `teledesk pin` cannot pin the «Новая заявка» post: make it an admin with «Pin messages»
        ");
        insta::assert_snapshot!(chat_lines(&answers(true, group(member()))), @"
        ok group -1003 «Acme»: the bot is a member with privacy mode off and sees every message
        WARN group -1003 «Acme»: the bot may not pin, so `teledesk pin` cannot pin the «Новая заявка» post: make it an admin with «Pin messages»
        ");
        let no_pin = checks(&answers(
            false,
            group(admin("supergroup", &["can_pin_messages"])),
        ));
        assert_eq!(
            no_pin[1..].iter().map(|c| c.status).collect::<Vec<_>>(),
            [Status::Ok, Status::Warn]
        );
        let muted = json!({"status": "restricted", "is_member": true, "can_send_messages": false});
        assert_eq!(checks(&answers(true, group(muted)))[1].status, Status::Fail);
        let gone = checks(&answers(true, group(json!({"status": "kicked"}))));
        assert_eq!(
            gone.len(),
            2,
            "nothing else to say about a chat the bot is not in"
        );
        assert!(gone[1].detail.starts_with("the bot is not in the group"));
    }

    #[test]
    fn a_forum_needs_topics_and_manage_topics() {
        let report = answers(
            false,
            vec![group_answers(
                -1004,
                ChatMode::Forum,
                forum(-1004, "Topics"),
                admin("supergroup", &["can_manage_topics"]),
            )],
        );
        insta::assert_snapshot!(chat_lines(&report), @"
        FAIL forum -1004 «Topics»: the bot may not manage topics, so ticket topics cannot be created or closed: make the bot an admin of the group with «Manage topics»
        ok forum -1004 «Topics»: the bot may pin the «Новая заявка» post (`teledesk pin`)
        ");
        let member_only = checks(&answers(
            true,
            vec![group_answers(
                -1004,
                ChatMode::Forum,
                forum(-1004, "Topics"),
                member(),
            )],
        ));
        assert_eq!(
            member_only[1].status,
            Status::Fail,
            "privacy off does not give topic rights"
        );
        let topics_off = answers(
            false,
            vec![group_answers(
                -1004,
                ChatMode::Forum,
                chat(-1004, "supergroup", "Plain"),
                admin("supergroup", &[]),
            )],
        );
        insta::assert_snapshot!(chat_lines(&topics_off), @r#"FAIL forum -1004 «Plain»: topics are off in this group: turn on Topics in the group's settings, or use mode = "group""#);
    }

    #[test]
    fn a_chat_of_the_wrong_type_is_named() {
        let channel_as_group = answers(
            false,
            vec![group_answers(
                -1001,
                ChatMode::Group,
                chat(-1001, "channel", "Posts"),
                admin("channel", &[]),
            )],
        );
        insta::assert_snapshot!(chat_lines(&channel_as_group), @r#"FAIL group -1001 «Posts»: this is a channel: use mode = "channel""#);
        let forum_as_channel = answers(
            false,
            vec![group_answers(
                -1004,
                ChatMode::Channel,
                forum(-1004, "Topics"),
                admin("supergroup", &[]),
            )],
        );
        insta::assert_snapshot!(chat_lines(&forum_as_channel), @r#"FAIL channel -1004 «Topics»: this is a supergroup, not a channel: use mode = "forum""#);
    }

    #[test]
    fn an_unreachable_or_upgraded_chat_says_what_to_do() {
        let mut missing = group_answers(-1009, ChatMode::Group, Value::Null, member());
        missing.chat = Err(TgError::Rejected("Bad Request: chat not found".into()));
        missing.bot = None;
        let mut kicked = group_answers(-1008, ChatMode::Group, Value::Null, member());
        kicked.chat = Err(TgError::Forbidden(
            "Forbidden: bot was kicked from the supergroup chat".into(),
        ));
        kicked.bot = None;
        let mut upgraded = group_answers(
            -4001,
            ChatMode::Group,
            chat(-1007, "supergroup", "Acme"),
            admin("supergroup", &[]),
        );
        upgraded.upgraded_to = Some(-1007);
        insta::assert_snapshot!(chat_lines(&answers(false, vec![missing, kicked, upgraded])), @"
        FAIL group -1009: Telegram knows no such chat, or the bot is not in it (Telegram: Bad Request: chat not found): check the id (supergroup and channel ids start with -100) and add the bot to the chat
        FAIL group -1008: the bot is not in the chat (Telegram: Forbidden: bot was kicked from the supergroup chat): add it and make it an admin
        FAIL group -4001 «Acme»: the group was upgraded to a supergroup with id -1007; use that id in [[chats]] (a running teledesk follows an upgrade only if it saw it happen; the checks below are about the supergroup)
        ok group -4001 «Acme»: the bot is an admin and sees every message
        ok group -4001 «Acme»: the bot may pin the «Новая заявка» post (`teledesk pin`)
        ");
    }

    #[test]
    fn ticket_defaults_problems_name_the_chat_and_the_key() {
        let mut answers = answers(false, Vec::new());
        answers.helpdesks.push(HelpdeskAnswer {
            name: "main".into(),
            kind: "kaiten".into(),
            identity: Ok(Identity {
                id: "7".into(),
                name: "Integration".into(),
            }),
            ticket_defaults: vec![
                TicketDefaultsAnswer {
                    part: TicketTable::Defaults,
                    chat: -1001,
                    problems: Ok(Vec::new()),
                },
                TicketDefaultsAnswer {
                    part: TicketTable::Defaults,
                    chat: -1003,
                    problems: Ok(vec![
                        ConfigProblem::new(
                            "properties.id_99",
                            Problem::NoSuchField {
                                id: "99".into(),
                                property: true,
                            },
                        ),
                        ConfigProblem::new(
                            "properties.id_46",
                            Problem::FieldTypeUnusable {
                                id: "46".into(),
                                name: "Стоимость".into(),
                                kind: "formula".into(),
                                for_resolution: false,
                            },
                        ),
                    ]),
                },
                TicketDefaultsAnswer {
                    part: TicketTable::Defaults,
                    chat: -1004,
                    problems: Err(HelpdeskError::new(
                        ErrorKind::Unavailable,
                        "check_ticket_defaults",
                        "connection reset",
                    )),
                },
            ],
        });
        let report = checks(&answers);
        let lines: Vec<String> = report
            .iter()
            .filter(|c| c.subject.starts_with("chat "))
            .map(|c| format!("{} {}: {}", c.status.mark(), c.subject, c.detail))
            .collect();
        assert_eq!(
            lines,
            [
                "FAIL chat -1003 [chats.ticket]: properties.id_99: the company has no custom \
                 property 99; properties.id_46: property 46 «Стоимость» is of type formula, which \
                 teledesk cannot write: new tickets of this chat will fail until it is fixed",
                "WARN chat -1004 [chats.ticket]: could not be checked against the helpdesk \
                 (check_ticket_defaults failed (Unavailable, temporary): connection reset)",
            ]
        );
    }

    #[test]
    fn ticket_tables_and_unchecked_fields_are_said_in_russian() {
        let mut answers = answers(false, Vec::new());
        answers.helpdesks.push(HelpdeskAnswer {
            name: "tracker".into(),
            kind: "rt".into(),
            identity: Err(HelpdeskError::config(
                "check",
                [ConfigProblem::new(
                    "queue",
                    Problem::NoSuchQueue {
                        queue: "Support".into(),
                    },
                )],
            )),
            ticket_defaults: vec![
                TicketDefaultsAnswer {
                    part: TicketTable::Category("net".into()),
                    chat: -1001,
                    problems: Ok(vec![ConfigProblem::new(
                        "custom_fields.9",
                        Problem::NotAnOption {
                            value: "Gold".into(),
                            id: None,
                            name: "Plan".into(),
                            options: vec!["Silver".into()],
                        },
                    )]),
                },
                TicketDefaultsAnswer {
                    part: TicketTable::Fields,
                    chat: -1001,
                    problems: Err(HelpdeskError::unsupported("check_ticket_defaults")),
                },
            ],
        });
        let lines = |lang| {
            checks_in(&answers, lang)
                .iter()
                .filter(|c| c.status != Status::Ok)
                .map(|c| format!("{} {}: {}", Ops(lang).mark(c.status), c.subject, c.detail))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            lines(Lang::Ru),
            [
                "СБОЙ хелпдеск tracker (rt): queue: в RT нет очереди \"Support\": исправьте в \
                 [helpdesks.tracker]",
                "СБОЙ чат -1001 категория \"net\": custom_fields.9: \"Gold\" — не значение \
                 списка «Plan» (возможные: Silver): новые заявки этого чата не создадутся, пока \
                 это не исправлено",
                "ВНИМ чат -1001 поля [[chats.fields]]: rt не может проверить, есть ли в хелпдеске \
                 поля анкеты (capability check_fields = false); убедитесь в этом сами",
            ]
        );
        assert_eq!(
            lines(Lang::En),
            [
                "FAIL helpdesk tracker (rt): queue: RT has no queue \"Support\": fix it in \
                 [helpdesks.tracker]",
                "FAIL chat -1001 category \"net\": custom_fields.9: \"Gold\" is not a value of \
                 the list field \"Plan\" (possible: Silver): new tickets of this chat will fail \
                 until it is fixed",
                "WARN chat -1001 fields: rt cannot tell whether the intake fields exist \
                 (capability check_fields = false); make sure they do",
            ]
        );
    }

    #[test]
    fn helpdesk_failures_name_the_table_and_the_cause() {
        let mut answers = answers(false, Vec::new());
        for (name, kind, message) in [
            (
                "main",
                ErrorKind::PermissionDenied,
                "HTTP 401: Unauthorized",
            ),
            ("backup", ErrorKind::Unavailable, "connection refused"),
            ("old", ErrorKind::NotFound, "HTTP 404"),
        ] {
            answers.helpdesks.push(HelpdeskAnswer {
                name: name.into(),
                kind: "kaiten".into(),
                identity: Err(HelpdeskError::new(kind, "check", message)),
                ticket_defaults: Vec::new(),
            });
        }
        insta::assert_snapshot!(chat_lines(&answers), @"
        FAIL helpdesk main (kaiten): the helpdesk refused the credentials (HTTP 401: Unauthorized): check the token or user and password in [helpdesks.main], and that the account may use the API
        FAIL helpdesk backup (kaiten): the helpdesk did not answer (connection refused): check url in [helpdesks.backup] and the network, then run doctor again
        FAIL helpdesk old (kaiten): no API at the configured address (HTTP 404): check url in [helpdesks.old]
        ");
    }
}
