//! Group mode: `/new`, `/ticket`, replies that become comments, and the `/new` dialogue.

use super::dialogue::{self, Form, Input, Next};
use super::lifecycle::{self, ClosedComment};
use super::{ALBUM_WINDOW, ChatSettings, Outcome, Settings, queued, say, send, sent};
use crate::model::{
    ClientFile, Dialogue, DialogueIntake, FollowUp, Job, JobKind, OnBehalf, REMEMBERED_CATEGORY,
    SendAction, TicketLink, TicketTimes, TicketView,
};
use crate::store::{Result, Tx};
use crate::telegram::texts::escape;
use crate::telegram::wire::{CallbackQuery, Message, command};
use teledesk_adapter::{IdempotencyKey, Intake, Requester, StatusClass};
use time::OffsetDateTime;

pub fn on_message(
    tx: &mut Tx<'_>,
    settings: &Settings,
    message: &Message,
    now: OffsetDateTime,
) -> Result<Outcome> {
    if let Some(new_id) = message.migrate_to_chat_id {
        return super::migration::on_migrated(tx, settings, message.chat.id, new_id, now);
    }
    let Some(chat) = settings.chat(tx, message.chat.id)? else {
        let first_time = tx.note_unknown_chat(message.chat.id)?;
        return Ok(Outcome::skipped(if first_time {
            format!(
                "message from chat {} ({}), which is not configured in [[chats]]; further \
                 messages from it are ignored silently",
                message.chat.id,
                message.chat.title.as_deref().unwrap_or("untitled")
            )
        } else {
            String::new()
        }));
    };
    let chat = &chat;
    if message
        .from
        .as_ref()
        .is_some_and(|u| u.id == settings.bot_id)
    {
        return Ok(Outcome::skipped("the bot's own message"));
    }
    if message.is_automatic_forward {
        if chat.ticket_chat != chat.id {
            return super::channel::on_forward(tx, chat, message, now);
        }
        return Ok(Outcome::skipped("automatic forward from a linked channel"));
    }
    if message.migrate_from_chat_id.is_some() {
        return Ok(Outcome::skipped("the supergroup's note of its upgrade"));
    }
    let sent_at = OffsetDateTime::from_unix_timestamp(message.date).unwrap_or(now);
    if let Some(media_group_id) = &message.media_group_id {
        super::expiry::remember_album_item(tx, message, media_group_id, sent_at, now)?;
    }

    if let Some((name, args)) = command(message.body(), &settings.bot_username) {
        return match name.as_str() {
            "new" => start_dialogue(tx, settings, chat, message, args, now),
            "ticket" => ticket_from_reply(tx, settings, chat, message, now),
            "cancel" => {
                let user = message.from.as_ref().map(|u| u.id).unwrap_or_default();
                if let Some(dialogue) = tx.dialogue(chat.id, user)? {
                    close_dialogue(tx, &dialogue, now)?;
                    say(
                        tx,
                        chat.id,
                        Some(message.message_id),
                        settings.lang.cancelled(),
                        now,
                    )?;
                    return Ok(sent());
                }
                Ok(Outcome::skipped("/cancel without a dialogue"))
            }
            "done" => dialogue_input(tx, settings, chat, message, Input::Done, now),
            "escalate" => {
                let local = thread_ticket(tx, message)?;
                lifecycle::escalate(tx, settings, chat, local, message, now)
            }
            "help" | "start" => {
                say(
                    tx,
                    chat.id,
                    Some(message.message_id),
                    settings.lang.help(),
                    now,
                )?;
                Ok(sent())
            }
            _ => Ok(Outcome::skipped(format!("command /{name} is not ours"))),
        };
    }

    if let Some(local) = thread_ticket(tx, message)? {
        return comment_in_thread(tx, settings, chat, local, message, sent_at, now);
    }
    let user = message.from.as_ref().map(|u| u.id).unwrap_or_default();
    if tx.dialogue(chat.id, user)?.is_some() {
        let input = Input::Message {
            text: message.body().to_owned(),
            file: message.file(),
        };
        return dialogue_input(tx, settings, chat, message, input, now);
    }
    if super::channel::waits_for_its_post(tx, message, now)?
        || replies_to_a_send_in_flight(settings, message, now)
    {
        return Ok(Outcome {
            defer: true,
            ..Outcome::default()
        });
    }
    Ok(Outcome::skipped("chatter (replies to no ticket)"))
}

/// How long a reply to one of the bot's own, unrecorded messages waits for it to be recorded.
const SEND_RECORD_GRACE: time::Duration = time::Duration::seconds(10);

/// Whether a message (which maps to no ticket) replies to a message the bot sent moments ago:
/// the sender records a card only once Telegram has answered, and a quick client can reply in
/// between. Taken for chatter, the reply would be lost; it waits in the inbox instead.
fn replies_to_a_send_in_flight(
    settings: &Settings,
    message: &Message,
    now: OffsetDateTime,
) -> bool {
    let Some(replied) = &message.reply_to_message else {
        return false;
    };
    let by_bot = replied
        .from
        .as_ref()
        .is_some_and(|u| u.id == settings.bot_id);
    let sent_at = OffsetDateTime::from_unix_timestamp(replied.date).unwrap_or(now);
    by_bot && now - sent_at < SEND_RECORD_GRACE
}

/// The ticket whose thread a message belongs to: what it replies to, else its thread root.
fn thread_ticket(tx: &Tx<'_>, message: &Message) -> Result<Option<u64>> {
    if let Some(replied) = &message.reply_to_message
        && let Some(local) = tx.ticket_of_message(message.chat.id, replied.message_id)?
    {
        return Ok(Some(local));
    }
    if let Some(thread) = message.message_thread_id {
        return tx.ticket_of_message(message.chat.id, thread);
    }
    Ok(None)
}

/// A message in a ticket's thread: a comment, or — on a done ticket — a reopen or a follow-up.
pub(crate) fn comment_in_thread(
    tx: &mut Tx<'_>,
    settings: &Settings,
    chat: &ChatSettings,
    local: u64,
    message: &Message,
    sent_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<Outcome> {
    // The rest of an album follows its first item, wherever that went (a follow-up ticket).
    if let Some(group) = &message.media_group_id {
        for item in tx.album(chat.id, group)? {
            if item.message_id == message.message_id {
                continue;
            }
            if let Some(owner) = tx.ticket_of_message(chat.id, item.message_id)?
                && owner != local
            {
                return add_comment(tx, settings, chat, owner, message, sent_at, now);
            }
        }
    }
    let Some(link) = tx.ticket(local)? else {
        return Ok(Outcome::skipped("thread of a ticket that is gone"));
    };
    match lifecycle::closed_comment(tx, settings, chat, &link, message, now)? {
        Some(ClosedComment::FollowUp(original)) => {
            follow_up(tx, settings, chat, original, &link, message, now)
        }
        Some(ClosedComment::Reopened) | None => {
            add_comment(tx, settings, chat, local, message, sent_at, now)
        }
    }
}

/// A comment on a closed ticket opens a new ticket that refers to it.
fn follow_up(
    tx: &mut Tx<'_>,
    settings: &Settings,
    chat: &ChatSettings,
    original: FollowUp,
    old: &TicketLink,
    message: &Message,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let lang = settings.lang;
    let author = message
        .author(Some(chat.name.clone()))
        .unwrap_or_else(|| unknown_requester(chat));
    let subject = crate::telegram::texts::truncate(
        &lang.follow_up_subject(original.number.as_deref(), &old.view.subject),
        200,
    );
    let number = original.number.clone();
    let (files, refused) = within_limits(message.file().into_iter().collect(), chat.files);
    open_ticket(
        tx,
        chat,
        author,
        Origin::message(message, now),
        Content {
            subject,
            description: message.body().trim().to_owned(),
            files,
        },
        &[],
        Some(original),
        inherited_intake(chat, old),
        now,
    )?;
    if refused > 0 {
        say(
            tx,
            chat.id,
            Some(message.message_id),
            escape(&lang.ticket_files_refused(refused, chat.files)),
            now,
        )?;
    }
    say(
        tx,
        chat.id,
        Some(message.message_id),
        lang.follow_up_opened(number.as_deref()),
        now,
    )?;
    Ok(queued())
}

/// What a follow-up takes over from the ticket it continues: its category and its field values,
/// which the client gave already and is not asked again. They are read against the chat's
/// questions as they are now: a category or field removed since, or a value that no longer
/// passes, is left out rather than written where the helpdesk may not take it. A ticket without
/// a category (staff started it, or it predates the chat's categories) passes on the chat's
/// only one, where it has one, as every new ticket gets it.
fn inherited_intake(chat: &ChatSettings, old: &TicketLink) -> Intake {
    let category = match (old.category.as_deref(), chat.intake.categories.as_slice()) {
        (Some(id), _) => chat.intake.category(id),
        (None, [only]) => Some(only),
        (None, _) => None,
    }
    .map(|c| c.to_intake());
    let fields = chat
        .intake
        .fields
        .iter()
        .filter_map(|config| {
            let given = old.intake_fields.iter().find(|f| f.id == config.id)?;
            config.accept(&answer_of(given)).ok()
        })
        .collect();
    Intake { category, fields }
}

/// A field's answer as the client gives it again: a choice by its id (what its button sends),
/// text as typed.
fn answer_of(field: &teledesk_adapter::IntakeField) -> String {
    match &field.wire {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn add_comment(
    tx: &mut Tx<'_>,
    settings: &Settings,
    chat: &ChatSettings,
    local: u64,
    message: &Message,
    sent_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<Outcome> {
    tx.index_message(chat.id, message.message_id, local);
    let file = message.file();
    // The rest of an album joins the comment its first item opened, while that comment waits.
    if let Some(group) = &message.media_group_id {
        for (seq, mut job) in tx.jobs_of(local)? {
            let JobKind::AddComment {
                media_group_id: Some(pending_group),
                files,
                body,
                message_ids,
                files_refused,
                ..
            } = &mut job.kind
            else {
                continue;
            };
            if pending_group != group || job.not_before <= now || job.attempts > 0 {
                continue;
            }
            if message_ids.contains(&message.message_id) {
                return Ok(Outcome::skipped("album item already in its comment"));
            }
            message_ids.push(message.message_id);
            let mut tell = false;
            if let Some(file) = file {
                let bytes = files.iter().filter_map(|f| f.size).sum();
                if chat.files.admits(files.len(), bytes, file.size) {
                    files.push(file);
                } else {
                    tell = !*files_refused;
                    *files_refused = true;
                }
            }
            if let Some(caption) = &message.caption
                && !caption.trim().is_empty()
            {
                if !body.is_empty() {
                    body.push('\n');
                }
                body.push_str(caption.trim());
            }
            tx.put_job(local, seq, &job);
            if tell {
                tell_files_refused(tx, settings, chat, message, now)?;
            }
            return Ok(Outcome {
                jobs: true,
                sends: tell,
                ..Outcome::default()
            });
        }
    }
    let author = message
        .author(Some(chat.name.clone()))
        .unwrap_or_else(|| unknown_requester(chat));
    let not_before = if message.media_group_id.is_some() {
        now + ALBUM_WINDOW
    } else {
        now
    };
    let (file, refused) = match file {
        Some(file) if !chat.files.admits(0, 0, file.size) => (None, true),
        file => (file, false),
    };
    let body = message.body().trim().to_owned();
    if refused {
        tell_files_refused(tx, settings, chat, message, now)?;
        // Nothing left to pass on; the album's next item opens the comment instead.
        if body.is_empty() {
            return Ok(sent());
        }
    }
    tx.push_job(
        local,
        &Job {
            kind: JobKind::AddComment {
                key: IdempotencyKey::telegram(chat.id, message.message_id),
                author,
                body,
                files: file.into_iter().collect(),
                written_at: sent_at,
                source_url: message.link(),
                message_ids: vec![message.message_id],
                media_group_id: message.media_group_id.clone(),
                files_refused: refused,
            },
            attempts: 0,
            not_before,
            boot: 0,
            last_error: None,
            uncertain: false,
        },
    )?;
    Ok(Outcome {
        jobs: true,
        sends: refused,
        ..Outcome::default()
    })
}

/// Tells the client, in reply to `message`, that files of their comment were over the chat's
/// limits and not passed on.
fn tell_files_refused(
    tx: &mut Tx<'_>,
    settings: &Settings,
    chat: &ChatSettings,
    message: &Message,
    now: OffsetDateTime,
) -> Result<()> {
    say(
        tx,
        chat.id,
        Some(message.message_id),
        escape(&settings.lang.comment_files_refused(chat.files)),
        now,
    )
}

/// The author of a message Telegram names no sender for.
pub(crate) fn unknown_requester(chat: &ChatSettings) -> Requester {
    Requester {
        display_name: "Telegram".into(),
        telegram_id: 0,
        username: None,
        company: Some(chat.name.clone()),
    }
}

/// Where a new ticket comes from: a Telegram message, or a Mini App submission (no message).
pub(crate) struct Origin {
    /// The message in the chat the ticket is opened from.
    pub message_id: Option<i32>,
    pub key: IdempotencyKey,
    pub registered_at: OffsetDateTime,
    pub url: Option<String>,
}

impl Origin {
    pub(crate) fn message(message: &Message, now: OffsetDateTime) -> Self {
        Self {
            message_id: Some(message.message_id),
            key: IdempotencyKey::telegram(message.chat.id, message.message_id),
            registered_at: OffsetDateTime::from_unix_timestamp(message.date).unwrap_or(now),
            url: message.link(),
        }
    }
}

/// What a new ticket says: subject, description and files.
pub(crate) struct Content {
    pub subject: String,
    pub description: String,
    pub files: Vec<ClientFile>,
}

/// Opens a ticket: records the link, indexes its source messages, queues the creation. The
/// answers to the chat's intake questions are also remembered for the author's next ticket from
/// the chat.
#[allow(clippy::too_many_arguments)]
pub(crate) fn open_ticket(
    tx: &mut Tx<'_>,
    chat: &ChatSettings,
    author: Requester,
    origin: Origin,
    content: Content,
    extra_messages: &[i32],
    follow_up_of: Option<FollowUp>,
    intake: Intake,
    now: OffsetDateTime,
) -> Result<u64> {
    let Content {
        subject,
        description,
        files,
    } = content;
    // A follow-up's answers were inherited, not given: they may be a colleague's.
    if !intake.is_empty() && follow_up_of.is_none() {
        remember_intake(tx, author.telegram_id, chat.ticket_chat, &intake)?;
    }
    let local = tx.next_seq()?;
    let link = TicketLink {
        source_chat_id: (chat.ticket_chat != chat.id).then_some(chat.id),
        source_message_id: origin.message_id,
        follow_up_of: follow_up_of.clone(),
        times: TicketTimes {
            registered_at: Some(origin.registered_at),
            ..TicketTimes::default()
        },
        category: intake.category.as_ref().map(|c| c.id.clone()),
        intake_fields: intake.fields.clone(),
        ..TicketLink::new(
            local,
            chat.helpdesk.clone(),
            chat.ticket_chat,
            author,
            TicketView {
                subject: subject.clone(),
                description: description.clone(),
                status: StatusClass::New,
                state: String::new(),
                assignee: None,
                resolution: None,
                last_comments: Vec::new(),
                due: Default::default(),
                priority: None,
            },
            now,
        )
    };
    tx.put_ticket(&link);
    if let Some(message_id) = origin.message_id {
        tx.index_message(chat.id, message_id, local);
    }
    for id in extra_messages {
        tx.index_message(chat.id, *id, local);
    }
    tx.push_job(
        local,
        &Job {
            kind: JobKind::CreateTicket {
                key: origin.key,
                subject,
                description,
                files,
                registered_at: origin.registered_at,
                source_url: origin.url,
                follow_up_of: follow_up_of.map(|f| f.local),
                intake,
            },
            attempts: 0,
            not_before: now,
            boot: 0,
            last_error: None,
            uncertain: false,
        },
    )?;
    Ok(local)
}

fn ticket_from_reply(
    tx: &mut Tx<'_>,
    settings: &Settings,
    chat: &ChatSettings,
    message: &Message,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let lang = settings.lang;
    let Some(source) = message.reply_to_message.as_deref() else {
        say(
            tx,
            chat.id,
            Some(message.message_id),
            lang.ticket_usage(),
            now,
        )?;
        return Ok(sent());
    };
    if source
        .from
        .as_ref()
        .is_some_and(|u| u.id == settings.bot_id)
    {
        say(
            tx,
            chat.id,
            Some(message.message_id),
            lang.not_from_bot(),
            now,
        )?;
        return Ok(sent());
    }
    if let Some(local) = tx.ticket_of_message(chat.id, source.message_id)? {
        let number = tx.ticket(local)?.and_then(|l| l.number);
        say(
            tx,
            chat.id,
            Some(message.message_id),
            escape(&lang.already_ticket(number.as_deref())),
            now,
        )?;
        return Ok(sent());
    }
    let author = source
        .author(Some(chat.name.clone()))
        .unwrap_or_else(|| unknown_requester(chat));
    let mut files: Vec<ClientFile> = Vec::new();
    let mut extra = Vec::new();
    let mut text = source.body().trim().to_owned();
    if let Some(group) = &source.media_group_id {
        for item in tx.album(chat.id, group)? {
            if item.message_id != source.message_id {
                extra.push(item.message_id);
            }
            if let Some(caption) = item.caption.as_deref().map(str::trim)
                && !caption.is_empty()
                && !text.contains(caption)
            {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(caption);
            }
            files.push(item.file);
        }
    }
    if files.is_empty() {
        files.extend(source.file());
    }
    let (files, refused) = within_limits(files, chat.files);
    if refused > 0 {
        say(
            tx,
            chat.id,
            Some(message.message_id),
            escape(&lang.ticket_files_refused(refused, chat.files)),
            now,
        )?;
    }
    let subject = subject_from(&text, &author, files.len(), lang);
    let content = Content {
        subject,
        description: text,
        files,
    };
    let intake = if chat.intake.is_empty() {
        Intake::default()
    } else {
        match remembered_intake(tx, chat, author.telegram_id)? {
            Ok(intake) => intake,
            Err(state) => {
                return ask_missing_intake(
                    tx, settings, chat, message, source, author, content, extra, state, now,
                );
            }
        }
    };
    open_ticket(
        tx,
        chat,
        author,
        Origin::message(source, now),
        content,
        &extra,
        None,
        intake,
        now,
    )?;
    Ok(Outcome {
        jobs: true,
        sends: refused > 0,
        ..Outcome::default()
    })
}

/// `/ticket` on a message whose author has not given a required intake field (or the category)
/// in this chat before: the bot asks in the thread of the `/ticket` command, one question at a
/// time and only for what is missing, and whoever sent `/ticket` answers; the ticket opens from
/// the message with the last answer. The thread is the least noisy place that always works: a
/// private message cannot reach an author who never started the bot.
#[allow(clippy::too_many_arguments)]
fn ask_missing_intake(
    tx: &mut Tx<'_>,
    settings: &Settings,
    chat: &ChatSettings,
    command: &Message,
    source: &Message,
    author: Requester,
    content: Content,
    extra: Vec<i32>,
    mut state: DialogueIntake,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let Some(asker) = command.author(None) else {
        return Ok(Outcome::skipped("/ticket without a sender"));
    };
    if let Some(old) = tx.dialogue(chat.id, asker.telegram_id)? {
        close_dialogue(tx, &old, now)?;
    }
    state.on_behalf = Some(OnBehalf {
        author: author.clone(),
        message_id: source.message_id,
        date: OffsetDateTime::from_unix_timestamp(source.date).unwrap_or(now),
        url: source.link(),
        extra_messages: extra,
    });
    let mut dialogue = Dialogue {
        chat_id: chat.id,
        user: asker,
        step: crate::model::DialogueStep::Files,
        started_by: command.message_id,
        company: author.company.clone(),
        subject: Some(content.subject),
        description: Some(content.description),
        files: content.files,
        prompt_message_id: None,
        target_chat: None,
        started_at: now,
        touched_at: now,
        intake: state,
    };
    let form = Form::new(&[], &chat.intake);
    dialogue.step = dialogue::first_missing(&dialogue, &form);
    let mut next = dialogue::ask(dialogue.step, &form, &dialogue, settings.lang);
    if let Next::Ask { html, .. } = &mut next {
        *html = format!("{}\n{html}", settings.lang.intake_needed());
    }
    prompt(tx, &mut dialogue, command.message_id, next, now)?;
    tx.put_dialogue(&dialogue);
    Ok(sent())
}

/// The files, in order, that fit in one ticket, and how many did not.
fn within_limits(
    files: Vec<ClientFile>,
    limits: crate::config::FileLimits,
) -> (Vec<ClientFile>, usize) {
    let mut taken: Vec<ClientFile> = Vec::with_capacity(files.len().min(limits.max_count));
    let mut bytes = 0u64;
    let mut refused = 0;
    for file in files {
        if limits.admits(taken.len(), bytes, file.size) {
            bytes = bytes.saturating_add(file.size.unwrap_or(0));
            taken.push(file);
        } else {
            refused += 1;
        }
    }
    (taken, refused)
}

fn subject_from(
    text: &str,
    author: &Requester,
    files: usize,
    lang: crate::telegram::texts::Lang,
) -> String {
    match text.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(line) => crate::telegram::texts::truncate(line, 120),
        None => format!("{} — {}", author.display_name, lang.files_only(files)),
    }
}

pub(crate) fn start_dialogue(
    tx: &mut Tx<'_>,
    settings: &Settings,
    chat: &ChatSettings,
    message: &Message,
    args: &str,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let Some(user) = message.author(None) else {
        return Ok(Outcome::skipped("/new without a sender"));
    };
    if let Some(old) = tx.dialogue(chat.id, user.telegram_id)? {
        close_dialogue(tx, &old, now)?;
    }
    let remembered = tx.intake_memory(user.telegram_id, chat.ticket_chat)?;
    // In a group every question is a message the whole chat reads: as for `/ticket`, only what
    // is missing is asked. The private dialogue asks everything, offering last time's answers.
    let intake = if message.chat.kind == "private" {
        DialogueIntake {
            remembered,
            ..DialogueIntake::default()
        }
    } else {
        known_intake(chat, remembered).0
    };
    let mut dialogue = Dialogue {
        chat_id: chat.id,
        user,
        step: crate::model::DialogueStep::Subject,
        started_by: message.message_id,
        company: match chat.companies.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        },
        subject: (!args.trim().is_empty()).then(|| args.trim().to_owned()),
        description: None,
        files: Vec::new(),
        prompt_message_id: None,
        target_chat: (chat.ticket_chat != chat.id).then_some(chat.ticket_chat),
        started_at: now,
        touched_at: now,
        intake,
    };
    let refused = message
        .file()
        .is_some_and(|file| !dialogue::take_file(&mut dialogue, file, chat.files));
    let form = Form::new(&chat.companies, &chat.intake);
    dialogue.step = dialogue::first_missing(&dialogue, &form);
    let mut next = dialogue::ask(dialogue.step, &form, &dialogue, settings.lang);
    if let (true, Next::Ask { html, .. }) = (refused, &mut next) {
        *html = format!(
            "{}\n\n{html}",
            escape(&settings.lang.file_limit_reached(chat.files))
        );
    }
    prompt(tx, &mut dialogue, message.message_id, next, now)?;
    tx.put_dialogue(&dialogue);
    Ok(sent())
}

/// The intake a finished dialogue hands to the adapter: the chosen category (the only one, when
/// the chat has one) and the fields answered, in the chat's order.
pub(crate) fn dialogue_intake(chat: &ChatSettings, answers: &DialogueIntake) -> Intake {
    let category = match (&answers.category, chat.intake.categories.as_slice()) {
        (Some(id), _) => chat.intake.category(id),
        (None, [only]) => Some(only),
        _ => None,
    };
    let mut fields = answers.fields.clone();
    fields.sort_by_key(|f| chat.intake.fields.iter().position(|c| c.id == f.id));
    Intake {
        category: category.map(|c| c.to_intake()),
        fields,
    }
}

/// Keeps what the user answered, for their next ticket from the same chat.
fn remember_intake(tx: &mut Tx<'_>, user: i64, chat: i64, intake: &Intake) -> Result<()> {
    let mut memory = tx.intake_memory(user, chat)?;
    if let Some(category) = &intake.category {
        memory.insert(REMEMBERED_CATEGORY.to_owned(), category.id.clone());
    }
    for field in &intake.fields {
        memory.insert(field.id.clone(), answer_of(field));
    }
    tx.put_intake_memory(user, chat, &memory);
    Ok(())
}

/// The intake of a message turned into a ticket with `/ticket`: the author's remembered
/// answers, where they still pass; `Err` with what is known when a required field (or the
/// category) is missing.
fn remembered_intake(
    tx: &Tx<'_>,
    chat: &ChatSettings,
    author: i64,
) -> Result<std::result::Result<Intake, DialogueIntake>> {
    let remembered = tx.intake_memory(author, chat.ticket_chat)?;
    let (state, complete) = known_intake(chat, remembered);
    Ok(if complete {
        Ok(dialogue_intake(chat, &state))
    } else {
        Err(state)
    })
}

/// The intake answers a group needs not ask for: the remembered category (the only one goes
/// without saying) and the remembered fields that still pass; the optional fields never
/// answered are marked skipped, so only a missing required field (or category) is asked.
/// `true` when nothing is missing.
fn known_intake(
    chat: &ChatSettings,
    remembered: std::collections::BTreeMap<String, String>,
) -> (DialogueIntake, bool) {
    let mut state = DialogueIntake {
        remembered: remembered.clone(),
        ..DialogueIntake::default()
    };
    let mut complete = true;
    if chat.intake.categories.len() > 1 {
        let known = remembered
            .get(REMEMBERED_CATEGORY)
            .filter(|id| chat.intake.category(id).is_some());
        state.category = known.cloned();
        complete &= known.is_some();
    }
    for field in &chat.intake.fields {
        match remembered.get(&field.id).map(|v| field.accept(v)) {
            Some(Ok(value)) => state.fields.push(value),
            _ if field.required => complete = false,
            // Optional fields are not asked for: a group is asked only what the ticket cannot
            // do without.
            _ => state.skipped.push(field.id.clone()),
        }
    }
    (state, complete)
}

fn prompt(
    tx: &mut Tx<'_>,
    dialogue: &mut Dialogue,
    reply_to: i32,
    next: Next,
    now: OffsetDateTime,
) -> Result<()> {
    let Next::Ask { html, keyboard } = next else {
        return Ok(());
    };
    remove_prompt_buttons(tx, dialogue, now)?;
    send(
        tx,
        dialogue.chat_id,
        SendAction::Text {
            html,
            reply_to: Some(reply_to),
            keyboard: Some(keyboard),
            ticket: None,
            dialogue_user: Some(dialogue.user.telegram_id),
        },
        now,
    )
}

fn remove_prompt_buttons(
    tx: &mut Tx<'_>,
    dialogue: &mut Dialogue,
    now: OffsetDateTime,
) -> Result<()> {
    if let Some(message_id) = dialogue.prompt_message_id.take() {
        send(
            tx,
            dialogue.chat_id,
            SendAction::EditKeyboard {
                message_id,
                keyboard: None,
            },
            now,
        )?;
    }
    Ok(())
}

pub(crate) fn close_dialogue(
    tx: &mut Tx<'_>,
    dialogue: &Dialogue,
    now: OffsetDateTime,
) -> Result<()> {
    let mut dialogue = dialogue.clone();
    remove_prompt_buttons(tx, &mut dialogue, now)?;
    tx.remove_dialogue(dialogue.chat_id, dialogue.user.telegram_id);
    Ok(())
}

fn dialogue_input(
    tx: &mut Tx<'_>,
    settings: &Settings,
    chat: &ChatSettings,
    message: &Message,
    input: Input,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let user = message.from.as_ref().map(|u| u.id).unwrap_or_default();
    let Some(dialogue) = tx.dialogue(chat.id, user)? else {
        return Ok(Outcome::skipped("dialogue input without a dialogue"));
    };
    continue_dialogue(tx, settings, chat, dialogue, message, input, now)
}

pub(crate) fn continue_dialogue(
    tx: &mut Tx<'_>,
    settings: &Settings,
    chat: &ChatSettings,
    mut dialogue: Dialogue,
    message: &Message,
    input: Input,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let lang = settings.lang;
    if now - dialogue.touched_at > dialogue::IDLE_LIMIT {
        close_dialogue(tx, &dialogue, now)?;
        say(tx, chat.id, Some(message.message_id), lang.expired(), now)?;
        return Ok(sent());
    }
    dialogue.touched_at = now;
    let form = Form::new(&chat.companies, &chat.intake);
    match dialogue::advance(&mut dialogue, input, &form, chat.files, lang) {
        Next::Cancelled => {
            close_dialogue(tx, &dialogue, now)?;
            say(tx, chat.id, Some(message.message_id), lang.cancelled(), now)?;
            Ok(sent())
        }
        Next::Wait => {
            tx.put_dialogue(&dialogue);
            Ok(Outcome::default())
        }
        next @ Next::Ask { .. } => {
            prompt(tx, &mut dialogue, message.message_id, next, now)?;
            tx.put_dialogue(&dialogue);
            Ok(sent())
        }
        Next::Create => {
            close_dialogue(tx, &dialogue, now)?;
            // The ticket's key and registration time come from the `/new` message; the dialogue's
            // own messages are part of its thread.
            let intake = dialogue_intake(chat, &dialogue.intake);
            let content = Content {
                subject: dialogue.subject.clone().unwrap_or_default(),
                description: dialogue.description.clone().unwrap_or_default(),
                files: dialogue.files.clone(),
            };
            if let Some(behalf) = &dialogue.intake.on_behalf {
                // `/ticket`: the message is the ticket, its author the requester.
                let origin = Origin {
                    message_id: Some(behalf.message_id),
                    key: IdempotencyKey::telegram(chat.id, behalf.message_id),
                    registered_at: behalf.date,
                    url: behalf.url.clone(),
                };
                open_ticket(
                    tx,
                    chat,
                    behalf.author.clone(),
                    origin,
                    content,
                    &behalf.extra_messages,
                    None,
                    intake,
                    now,
                )?;
                return Ok(queued());
            }
            let mut source = message.clone();
            source.message_id = dialogue.started_by;
            source.date = dialogue.started_at.unix_timestamp();
            let mut author = dialogue.user.clone();
            author.company = dialogue.company.clone().or_else(|| Some(chat.name.clone()));
            open_ticket(
                tx,
                chat,
                author,
                Origin::message(&source, now),
                content,
                &[],
                None,
                intake,
                now,
            )?;
            Ok(queued())
        }
    }
}

pub fn on_callback(
    tx: &mut Tx<'_>,
    settings: &Settings,
    query: &CallbackQuery,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let lang = settings.lang;
    let answer = |tx: &mut Tx<'_>, chat_id: i64, text: Option<&str>| {
        send(
            tx,
            chat_id,
            SendAction::AnswerCallback {
                query_id: query.id.clone(),
                text: text.map(Into::into),
                alert: false,
            },
            now,
        )
    };
    let Some(message) = &query.message else {
        answer(tx, query.from.id, Some(lang.nothing_to_do()))?;
        return Ok(sent());
    };
    let private = (message.chat.kind == "private")
        .then(|| tx.dialogue(message.chat.id, query.from.id))
        .transpose()?
        .flatten()
        .and_then(|d| d.target_chat)
        .and_then(|target| settings.for_private_dialogue(target, message.chat.id));
    let Some(chat) = private.or(settings.chat(tx, message.chat.id)?) else {
        answer(tx, message.chat.id, None)?;
        return Ok(Outcome {
            sends: true,
            skipped: Some(format!("button in unconfigured chat {}", message.chat.id)),
            ..Outcome::default()
        });
    };
    let chat = &chat;
    let data = query.data.as_deref().unwrap_or("");
    let input = match data {
        "new:done" => Input::Done,
        "new:skip" => Input::Skip,
        "new:cancel" => Input::Cancel,
        "new:mem" => Input::Remembered,
        other => {
            let index = |prefix: &str| other.strip_prefix(prefix).and_then(|i| i.parse().ok());
            match (index("new:co:"), index("new:cat:"), index("new:ch:")) {
                (Some(index), _, _) => Input::Company(index),
                (_, Some(index), _) => Input::Category(index),
                (_, _, Some(index)) => Input::Choice(index),
                _ => {
                    answer(tx, chat.id, Some(lang.nothing_to_do()))?;
                    return Ok(sent());
                }
            }
        }
    };
    // A prompt answers its owner's message, so the owner is known even before the sender has
    // recorded the prompt's id (a fast tap can arrive first). Each button only acts in its own
    // step, so a tap on an older prompt of the same dialogue does nothing.
    let answers_presser = message
        .reply_to_message
        .as_ref()
        .and_then(|m| m.from.as_ref())
        .is_some_and(|u| u.id == query.from.id);
    let dialogue = tx.dialogue(chat.id, query.from.id)?;
    // In the private chat the bot's messages all belong to the one user, and while the newest
    // prompt is being sent (its id not recorded yet) the older prompts' buttons are already being
    // removed: a tap on the prompt that just arrived is taken rather than lost.
    let fresh_private =
        |d: &Dialogue| d.prompt_message_id.is_none() && message.chat.id == query.from.id;
    let Some(dialogue) = dialogue.filter(|d| {
        answers_presser || d.prompt_message_id == Some(message.message_id) || fresh_private(d)
    }) else {
        // Buttons belong to the user whose dialogue they are in; anyone else is told so.
        let owner_pressed = tx.dialogue(chat.id, query.from.id)?.is_some();
        let text = if owner_pressed {
            lang.nothing_to_do()
        } else {
            lang.not_your_dialogue()
        };
        answer(tx, chat.id, Some(text))?;
        return Ok(sent());
    };
    answer(tx, chat.id, None)?;
    let mut anchor = message.clone();
    anchor.from = Some(query.from.clone());
    continue_dialogue(tx, settings, chat, dialogue, &anchor, input, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            bot_id: 1000,
            bot_username: "desk_bot".into(),
            lang: crate::telegram::texts::Lang::Ru,
            chats: Default::default(),
            chat_key: teledesk_adapter::Secret::new("1000:token".to_owned()),
            admins: Vec::new(),
        }
    }

    fn reply(to_from: i64, to_date: i64) -> Message {
        serde_json::from_value(serde_json::json!({
            "message_id": 9, "date": 1_700_000_100,
            "chat": {"id": -100, "type": "supergroup"},
            "from": {"id": 42, "is_bot": false, "first_name": "Ann"},
            "text": "still broken",
            "reply_to_message": {
                "message_id": 8, "date": to_date,
                "chat": {"id": -100, "type": "supergroup"},
                "from": {"id": to_from, "is_bot": to_from == 1000, "first_name": "x"},
                "text": "card"
            }
        }))
        .expect("a message")
    }

    fn chat_asking(intake: crate::config::intake::IntakeConfig) -> ChatSettings {
        ChatSettings {
            id: -100,
            ticket_chat: -100,
            mode: crate::config::ChatMode::Group,
            helpdesk: "main".into(),
            name: "Acme".into(),
            companies: Vec::new(),
            on_closed_comment: crate::config::OnClosedComment::FollowUp,
            files: crate::config::FileLimits::DEFAULT,
            visibility: crate::config::Visibility::Own,
            intake: std::sync::Arc::new(intake),
        }
    }

    fn category(id: &str) -> crate::config::intake::CategoryConfig {
        crate::config::intake::CategoryConfig {
            id: id.into(),
            label: id.to_uppercase(),
            ticket: Default::default(),
        }
    }

    fn field(
        id: &str,
        kind: crate::config::intake::FieldKind,
        pattern: Option<&str>,
    ) -> crate::config::intake::FieldConfig {
        crate::config::intake::FieldConfig {
            id: id.into(),
            label: id.into(),
            kind,
            required: true,
            pattern: pattern.map(|p| regex::Regex::new(p).expect("a pattern")),
            example: None,
            target: Some(format!("custom_fields.{id}")),
            choices: vec![crate::config::intake::Choice {
                id: serde_json::json!(5),
                label: "VIP".into(),
            }],
        }
    }

    /// A follow-up passes on what the closed ticket was given, as the chat asks it now: a field
    /// removed since, or a value its new pattern refuses, is left out; a choice keeps its
    /// numeric id; a ticket without a category gets the chat's only one.
    #[test]
    fn a_follow_up_inherits_what_its_chat_still_asks() {
        use crate::config::intake::{FieldKind, IntakeConfig};
        let then = chat_asking(IntakeConfig {
            categories: vec![category("net"), category("tv")],
            fields: vec![
                field("contract", FieldKind::Contract, None),
                field("tariff", FieldKind::Choice, None),
                field("room", FieldKind::Text, None),
                field("gone", FieldKind::Text, None),
            ],
        });
        let answers = ["12-3456", "5", "Room 1", "x"];
        let old = TicketLink {
            category: Some("tv".into()),
            intake_fields: then
                .intake
                .fields
                .iter()
                .zip(answers)
                .map(|(f, a)| f.accept(a).expect("valid then"))
                .collect(),
            ..TicketLink::sample(1)
        };
        let now = chat_asking(IntakeConfig {
            categories: vec![category("net"), category("tv")],
            fields: vec![
                field("contract", FieldKind::Contract, Some(r"^\d{2}-\d{4}$")),
                field("tariff", FieldKind::Choice, None),
                field("room", FieldKind::Text, Some(r"^\d+$")),
            ],
        });
        let intake = inherited_intake(&now, &old);
        assert_eq!(intake.category.map(|c| c.id).as_deref(), Some("tv"));
        let fields: Vec<_> = intake
            .fields
            .iter()
            .map(|f| (f.id.as_str(), f.wire.clone()))
            .collect();
        assert_eq!(
            fields,
            [
                ("contract", serde_json::json!("12-3456")),
                ("tariff", serde_json::json!(5)),
            ]
        );
        // A category removed since goes nowhere; none at all takes the chat's only one.
        let one = chat_asking(IntakeConfig {
            categories: vec![category("net")],
            fields: Vec::new(),
        });
        assert!(
            inherited_intake(
                &now,
                &TicketLink {
                    category: Some("radio".into()),
                    ..old.clone()
                }
            )
            .category
            .is_none()
        );
        let staff = TicketLink::sample(2);
        assert_eq!(
            inherited_intake(&one, &staff)
                .category
                .map(|c| c.id)
                .as_deref(),
            Some("net")
        );
        assert!(inherited_intake(&now, &staff).is_empty());
    }

    #[test]
    fn a_reply_to_the_bots_fresh_message_waits_for_it_to_be_recorded() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_100).unwrap();
        let s = settings();
        assert!(replies_to_a_send_in_flight(
            &s,
            &reply(1000, 1_700_000_099),
            now
        ));
        // An old message of the bot that maps to nothing is not a card in flight.
        assert!(!replies_to_a_send_in_flight(
            &s,
            &reply(1000, 1_700_000_080),
            now
        ));
        // Nor is a colleague's message.
        assert!(!replies_to_a_send_in_flight(
            &s,
            &reply(7, 1_700_000_099),
            now
        ));
    }
}
