//! The private chat with the bot: deep links (`/start fb_<ticket>`), feedback after a rating, help.

use super::search::{Filter, Request, Sort};
use super::{Facts, Outcome, Settings, push_job, queued, say, send, sent};
use crate::config::Visibility;
use crate::model::{Button, Keyboard, SendAction};
use crate::model::{JobKind, LocalId};
use crate::store::{Result, Tx};
use crate::telegram::chat_token;
use crate::telegram::texts::{escape, truncate};
use crate::telegram::wire::CallbackQuery;
use crate::telegram::wire::{Message, command};
use teledesk_adapter::IdempotencyKey;
use time::OffsetDateTime;

/// The `/start` payload of the «Оставить отзыв» button.
const FEEDBACK_PREFIX: &str = "fb_";

/// The `/start` payload of the pinned «Новая заявка» link: a signed chat token follows.
const NEW_PREFIX: &str = "new_";

/// The chat whose membership acting on a private message needs: a feedback deep link or the
/// feedback itself (the ticket's chat), or a «Новая заявка» link (the chat it was signed for).
pub fn chat_concerned(tx: &Tx<'_>, settings: &Settings, message: &Message) -> Result<Option<i64>> {
    let Some(user) = &message.from else {
        return Ok(None);
    };
    let local = match command(message.body(), &settings.bot_username) {
        Some((name, args)) if name == "start" => {
            let payload = args.trim();
            if let Some(token) = payload.strip_prefix(NEW_PREFIX) {
                return Ok(chat_token::verify(&settings.chat_key, token));
            }
            payload
                .strip_prefix(FEEDBACK_PREFIX)
                .and_then(|id| id.parse().ok())
        }
        Some(_) => None,
        None => tx.pending_feedback(user.id)?,
    };
    Ok(match local {
        Some(local) => tx.ticket(local)?.map(|link| link.chat_id),
        None => None,
    })
}

pub fn on_message(
    tx: &mut Tx<'_>,
    settings: &Settings,
    message: &Message,
    facts: Facts,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let lang = settings.lang;
    let Some(user) = message.from.clone() else {
        return Ok(Outcome::skipped("private message without a sender"));
    };
    if user.id == settings.bot_id {
        return Ok(Outcome::skipped("the bot's own message"));
    }
    // Writing to the bot is what lets it write back (notifications of replies).
    tx.set_dm_state(user.id, crate::model::DmState::Started);
    if message.write_access_allowed.is_some() {
        // The Mini App asked and the user agreed: nothing to answer, the bot may write now.
        return Ok(Outcome::skipped(""));
    }
    let chat = message.chat.id;
    if let Some((name, args)) = command(message.body(), &settings.bot_username) {
        if let Some(dialogue) = tx.dialogue(chat, user.id)?
            && matches!(name.as_str(), "cancel" | "done")
            && let Some(target) = dialogue.target_chat
            && let Some(settings_here) = settings.for_private_dialogue(target, chat)
        {
            let input = if name == "done" {
                super::dialogue::Input::Done
            } else {
                super::dialogue::Input::Cancel
            };
            return super::group::continue_dialogue(
                tx,
                settings,
                &settings_here,
                dialogue,
                message,
                input,
                now,
            );
        }
        return match name.as_str() {
            "start" => {
                let payload = args.trim();
                if let Some(token) = payload.strip_prefix(NEW_PREFIX) {
                    return start_new(tx, settings, message, token, facts, now);
                }
                match payload
                    .strip_prefix(FEEDBACK_PREFIX)
                    .and_then(|id| id.parse().ok())
                {
                    Some(local) => start_feedback(tx, settings, message, local, facts, now),
                    None => {
                        say(tx, chat, None, lang.private_help(), now)?;
                        Ok(sent())
                    }
                }
            }
            "new" => offer_chats(tx, settings, message, facts, now),
            "my" => {
                let html = ticket_list(tx, settings, user.id, None)?;
                say(tx, chat, None, html, now)?;
                Ok(sent())
            }
            "last" => {
                let limit = if args.trim() == "20" { 20 } else { 10 };
                let html = ticket_list(tx, settings, user.id, Some(limit))?;
                say(tx, chat, None, html, now)?;
                Ok(sent())
            }
            "find" => {
                let request = Request::parse_args(args);
                find(tx, settings, chat, user.id, &request, &facts.member_of, now)?;
                Ok(sent())
            }
            "report" => {
                let html = report(tx, settings, user.id, args, now)?;
                say(tx, chat, None, html, now)?;
                Ok(sent())
            }
            "cancel" if tx.pending_feedback(user.id)?.is_some() => {
                tx.remove_pending_feedback(user.id);
                say(tx, chat, Some(message.message_id), lang.cancelled(), now)?;
                Ok(sent())
            }
            _ => {
                say(tx, chat, None, lang.private_help(), now)?;
                Ok(sent())
            }
        };
    }
    if let Some(dialogue) = tx.dialogue(chat, user.id)?
        && let Some(target) = dialogue.target_chat
        && let Some(settings_here) = settings.for_private_dialogue(target, chat)
    {
        let input = super::dialogue::Input::Message {
            text: message.body().to_owned(),
            file: message.file(),
        };
        return super::group::continue_dialogue(
            tx,
            settings,
            &settings_here,
            dialogue,
            message,
            input,
            now,
        );
    }
    let Some(local) = tx.pending_feedback(user.id)? else {
        say(tx, chat, None, lang.private_help(), now)?;
        return Ok(sent());
    };
    let text = message.body().trim();
    if text.is_empty() {
        // A sticker or a photo without caption is not feedback; keep waiting for words.
        say(
            tx,
            chat,
            Some(message.message_id),
            lang.feedback_prompt(None),
            now,
        )?;
        return Ok(sent());
    }
    tx.remove_pending_feedback(user.id);
    let Some(mut link) = tx.ticket(local)? else {
        return Ok(Outcome::skipped("feedback for a ticket that is gone"));
    };
    let (Some(score), Some(true)) = (link.rating, facts.presser_is_member) else {
        say(
            tx,
            chat,
            Some(message.message_id),
            lang.feedback_unavailable(),
            now,
        )?;
        return Ok(sent());
    };
    let company = settings.chats.get(&link.chat_id).map(|c| c.name.clone());
    link.feedback_given = true;
    tx.put_ticket(&link);
    tx.mark_card_stale(local);
    push_job(
        tx,
        local,
        JobKind::Rate {
            key: IdempotencyKey::telegram(chat, message.message_id),
            score,
            comment: Some(text.to_owned()),
            by: user.requester(company),
        },
        now,
    )?;
    say(
        tx,
        chat,
        Some(message.message_id),
        lang.feedback_thanks(),
        now,
    )?;
    Ok(queued())
}

fn start_feedback(
    tx: &mut Tx<'_>,
    settings: &Settings,
    message: &Message,
    local: LocalId,
    facts: Facts,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let lang = settings.lang;
    let chat = message.chat.id;
    let link = tx.ticket(local)?;
    let open = link
        .as_ref()
        .is_some_and(|l| l.rating.is_some() && !l.feedback_given);
    if !open || facts.presser_is_member != Some(true) {
        say(tx, chat, None, lang.feedback_unavailable(), now)?;
        return Ok(sent());
    }
    let user = message.from.as_ref().map(|u| u.id).unwrap_or(chat);
    tx.put_pending_feedback(user, local);
    let number = link.and_then(|l| l.number);
    say(tx, chat, None, lang.feedback_prompt(number.as_deref()), now)?;
    Ok(sent())
}

/// `/my` (open tickets, `limit` None) or `/last` (the newest `limit`, done ones struck through):
/// the user's tickets, newest first, each linking to its card or post.
fn ticket_list(
    tx: &Tx<'_>,
    settings: &Settings,
    user: i64,
    limit: Option<usize>,
) -> Result<String> {
    let lang = settings.lang;
    let mut tickets: Vec<_> = tx
        .tickets_by_author(user)?
        .into_iter()
        .filter(|l| limit.is_some() || !l.view.status.is_done())
        .collect();
    tickets.sort_by_key(|l| std::cmp::Reverse((l.created_at, l.local)));
    tickets.truncate(limit.unwrap_or(usize::MAX));
    let mut lines = vec![match limit {
        None => lang.my_tickets(tickets.len()),
        Some(_) => lang.last_tickets(tickets.len()),
    }];
    for link in &tickets {
        let line = ticket_line(settings, link, None);
        lines.push(if link.view.status.is_done() {
            format!("<s>{line}</s>")
        } else {
            line
        });
    }
    Ok(lines.join("\n"))
}

/// `/report [from [to]]` for an admin: every configured chat's figures, from the first of this
/// month to today unless the days are given.
fn report(
    tx: &Tx<'_>,
    settings: &Settings,
    user: i64,
    args: &str,
    now: OffsetDateTime,
) -> Result<String> {
    use crate::report;
    let lang = settings.lang;
    if !settings.admins.contains(&user) {
        return Ok(lang.admins_only().to_owned());
    }
    let today = now.date();
    let mut days = args.split_whitespace().map(report::parse_date);
    let period = match (days.next(), days.next(), days.next()) {
        (None, _, _) => report::Period {
            from: today.replace_day(1).expect("the first is a day"),
            to: today,
        },
        (Some(Some(from)), None, _) => report::Period { from, to: today },
        (Some(Some(from)), Some(Some(to)), None) if from <= to => report::Period { from, to },
        _ => return Ok(lang.report_usage().to_owned()),
    };
    let names = report::Names::of(
        settings
            .chats
            .values()
            .filter(|c| c.id == c.ticket_chat)
            .map(|c| (c.id, c.name.as_str(), c.intake.as_ref())),
    );
    let rows = report::aggregate(&tx.tickets()?, period, &names, None, now);
    Ok(format!(
        "{}\n<pre>{}</pre>",
        lang.report_head(&period.from.to_string(), &period.to.to_string()),
        escape(&report::table(&rows))
    ))
}

/// The most tickets one `/find` answer lists.
pub const FIND_SHOWN: usize = 20;

/// Callback data of `/find`'s filter and sort buttons: `find:<filter>:<sort>:<text>`.
const FIND_PREFIX: &str = "find:";

/// The search a `/find` button asks for.
pub fn find_request(data: &str) -> Option<Request> {
    let rest = data.strip_prefix(FIND_PREFIX)?;
    let mut parts = rest.splitn(3, ':');
    let filter = Filter::parse(parts.next()?)?;
    let sort = Sort::parse(parts.next()?)?;
    Some(Request::new(parts.next().unwrap_or(""), filter, sort))
}

fn find_button_data(request: &Request, filter: Filter, sort: Sort) -> String {
    let mut data = format!("{FIND_PREFIX}{}:{}:", filter.as_str(), sort.as_str());
    // Telegram takes at most 64 bytes of callback data: a longer search keeps its start, which
    // finds at least what the whole text would.
    for c in request.text.chars() {
        if data.len() + c.len_utf8() > 64 {
            break;
        }
        data.push(c);
    }
    data
}

/// The tickets `user` may find: their own, and of the chats among `member_of` (checked with
/// Telegram before this runs) every ticket where the chat's `visibility` is `chat`, else those
/// staff started (they are addressed to the whole chat).
pub fn visible_tickets(
    tx: &Tx<'_>,
    settings: &Settings,
    user: i64,
    member_of: &[i64],
) -> Result<Vec<crate::model::TicketLink>> {
    let mut tickets = tx.tickets_by_author(user)?;
    let mut staff_chats = Vec::new();
    for chat in member_of {
        if settings
            .chats
            .get(chat)
            .is_some_and(|c| c.visibility == Visibility::Chat)
        {
            tickets.extend(
                tx.tickets_in_chat(*chat)?
                    .into_iter()
                    .filter(|l| l.author.telegram_id != user),
            );
        } else {
            staff_chats.push(*chat);
        }
    }
    // Staff-started tickets have no Telegram author (id 0), so they are filed under it.
    if !staff_chats.is_empty() {
        tickets.extend(
            tx.tickets_by_author(crate::engine::staff::STAFF_AUTHOR)?
                .into_iter()
                .filter(|l| l.staff_started.is_some() && staff_chats.contains(&l.chat_id)),
        );
    }
    Ok(tickets)
}

/// One ticket in a list the private chat shows (`/my`, `/last`, `/find`): its number (linked to
/// its card or post), subject, status, priority and category where it has them, and the day of its
/// last activity when `changed` is given.
fn ticket_line(
    settings: &Settings,
    link: &crate::model::TicketLink,
    changed: Option<&str>,
) -> String {
    let lang = settings.lang;
    let number = match &link.number {
        Some(n) => format!("#{}", escape(n)),
        None => "#…".to_owned(),
    };
    let number = match link.post_link() {
        Some(url) => format!("<a href=\"{}\">{number}</a>", escape(&url)),
        None => number,
    };
    let mut facts = vec![lang.status(link.view.status).to_owned()];
    if let Some(priority) = &link.view.priority {
        facts.push(escape(&lang.found_priority(&truncate(priority, 40))));
    }
    if let Some(id) = &link.category {
        // By the label its chat shows; a category no longer configured by its id.
        let label = settings
            .chats
            .get(&link.chat_id)
            .and_then(|c| c.intake.category(id))
            .map_or(id.as_str(), |c| c.label.as_str());
        facts.push(escape(&lang.found_category(label)));
    }
    if let Some(changed) = changed {
        facts.push(lang.last_activity(changed));
    }
    format!(
        "{number} {} — {}",
        escape(&truncate(&link.view.subject, 80)),
        facts.join(" · ")
    )
}

/// Answers a search in the private chat: the tickets found, with buttons that repeat it with
/// another filter or order.
fn find(
    tx: &mut Tx<'_>,
    settings: &Settings,
    chat: i64,
    user: i64,
    request: &Request,
    member_of: &[i64],
    now: OffsetDateTime,
) -> Result<()> {
    let lang = settings.lang;
    let found = request.run(visible_tickets(tx, settings, user, member_of)?);
    let mut lines = vec![lang.found_tickets(found.len(), found.len().min(FIND_SHOWN))];
    let day = time::macros::format_description!("[day].[month].[year]");
    for link in found.iter().take(FIND_SHOWN) {
        let changed = link.last_activity_at().format(&day).unwrap_or_default();
        lines.push(ticket_line(settings, link, Some(&changed)));
    }
    let mark = |label: &str, on: bool| {
        if on {
            format!("• {label}")
        } else {
            label.to_owned()
        }
    };
    let filters = Filter::ALL
        .iter()
        .map(|&f| {
            Button::callback(
                mark(lang.filter_label(f), f == request.filter),
                find_button_data(request, f, request.sort),
            )
        })
        .collect();
    let sorts = Sort::ALL
        .iter()
        .map(|&s| {
            Button::callback(
                mark(lang.sort_label(s), s == request.sort),
                find_button_data(request, request.filter, s),
            )
        })
        .collect();
    send(
        tx,
        chat,
        SendAction::Text {
            html: lines.join("\n"),
            reply_to: None,
            keyboard: Some(Keyboard {
                rows: vec![filters, sorts],
            }),
            ticket: None,
            dialogue_user: None,
        },
        now,
    )
}

/// A `/find` button: the search again with the filter or order it names.
pub fn on_find_button(
    tx: &mut Tx<'_>,
    settings: &Settings,
    query: &CallbackQuery,
    request: &Request,
    facts: Facts,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let chat = query.message.as_ref().map_or(query.from.id, |m| m.chat.id);
    send(
        tx,
        chat,
        SendAction::AnswerCallback {
            query_id: query.id.clone(),
            text: None,
            alert: false,
        },
        now,
    )?;
    find(
        tx,
        settings,
        chat,
        query.from.id,
        request,
        &facts.member_of,
        now,
    )?;
    Ok(sent())
}

/// `/start new_<token>` from the pinned «Новая заявка» post: a `/new` dialogue in this private
/// chat for the chat the token was signed for, if the user is a member of it.
fn start_new(
    tx: &mut Tx<'_>,
    settings: &Settings,
    message: &Message,
    token: &str,
    facts: Facts,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let lang = settings.lang;
    let chat = message.chat.id;
    let target = chat_token::verify(&settings.chat_key, token)
        .and_then(|target| settings.for_private_dialogue(target, chat));
    let Some(settings_here) = target else {
        say(tx, chat, None, lang.link_invalid(), now)?;
        return Ok(sent());
    };
    if facts.presser_is_member != Some(true) {
        say(tx, chat, None, lang.members_only_new(), now)?;
        return Ok(sent());
    }
    super::group::start_dialogue(tx, settings, &settings_here, message, "", now)
}

/// Callback data of a chat offered to a private `/new`.
const CHOOSE_PREFIX: &str = "new:chat:";

/// The chat a «which chat is it for?» button names.
pub fn chosen_chat(data: &str) -> Option<i64> {
    data.strip_prefix(CHOOSE_PREFIX)?.parse().ok()
}

/// `/new` typed in the private chat: the chats the user is a member of (asked from Telegram
/// before this runs) — the dialogue starts at once for one, a choice is offered for several.
fn offer_chats(
    tx: &mut Tx<'_>,
    settings: &Settings,
    message: &Message,
    facts: Facts,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let lang = settings.lang;
    let chat = message.chat.id;
    match facts.member_of.as_slice() {
        [] => {
            say(tx, chat, None, lang.no_client_chat(), now)?;
            Ok(sent())
        }
        [only] => match settings.for_private_dialogue(*only, chat) {
            Some(here) => super::group::start_dialogue(tx, settings, &here, message, "", now),
            None => Ok(Outcome::skipped("offered chat vanished from the settings")),
        },
        several => {
            let rows = several
                .iter()
                .filter_map(|id| settings.chats.get(id))
                .map(|c| {
                    vec![Button::callback(
                        c.name.clone(),
                        format!("{CHOOSE_PREFIX}{}", c.id),
                    )]
                })
                .collect();
            send(
                tx,
                chat,
                SendAction::Text {
                    html: lang.choose_chat().into(),
                    reply_to: Some(message.message_id),
                    keyboard: Some(Keyboard { rows }),
                    ticket: None,
                    dialogue_user: None,
                },
                now,
            )?;
            Ok(sent())
        }
    }
}

/// A chat chosen for a private `/new`: the dialogue starts, if the user is still a member.
pub fn on_chat_chosen(
    tx: &mut Tx<'_>,
    settings: &Settings,
    query: &CallbackQuery,
    target: i64,
    facts: Facts,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let lang = settings.lang;
    let Some(prompt) = query.message.as_ref() else {
        return Ok(Outcome::skipped("chat choice without its message"));
    };
    let chat = prompt.chat.id;
    send(
        tx,
        chat,
        SendAction::AnswerCallback {
            query_id: query.id.clone(),
            text: None,
            alert: false,
        },
        now,
    )?;
    send(
        tx,
        chat,
        SendAction::EditKeyboard {
            message_id: prompt.message_id,
            keyboard: None,
        },
        now,
    )?;
    let here = settings.for_private_dialogue(target, chat);
    let Some(here) = here.filter(|_| facts.presser_is_member == Some(true)) else {
        say(tx, chat, None, lang.members_only_new(), now)?;
        return Ok(sent());
    };
    // The dialogue belongs to whoever pressed, and its key names the prompt they answered.
    let mut anchor = prompt.clone();
    anchor.from = Some(query.from.clone());
    super::group::start_dialogue(tx, settings, &here, &anchor, "", now)
}
