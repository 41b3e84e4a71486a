//! Every text the bot writes, in Russian and English.
//!
//! Texts are HTML (Telegram `parse_mode=HTML`); anything that comes from people is escaped with
//! [`escape`] before it is put in.

pub mod ops;
pub mod problems;

use crate::config::FileLimits;
use teledesk_adapter::StatusClass;

/// The language of the bot's texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    Ru,
    En,
}

impl Lang {
    /// The BCP 47 code (`ru`, `en`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }
}

/// Escapes text for Telegram's HTML parse mode.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Shortens `text` to at most `max` characters, ending with "…" when cut.
pub fn truncate(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut = cut.trim_end().to_owned();
    cut.push('…');
    cut
}

impl Lang {
    pub fn status(self, status: StatusClass) -> &'static str {
        use StatusClass::*;
        match (self, status) {
            (Lang::Ru, New) => "Новая",
            (Lang::Ru, InProgress) => "В работе",
            (Lang::Ru, WaitingClient) => "⏱️ клиента",
            (Lang::Ru, ClientReplied) => "Клиент ответил",
            (Lang::Ru, WaitingThirdParty) => "⏱️ разраб",
            (Lang::Ru, Resolved) => "✅ на проверке",
            (Lang::Ru, Closed) => "Закрыта",
            (Lang::En, New) => "New",
            (Lang::En, InProgress) => "In progress",
            (Lang::En, WaitingClient) => "⏱️ waiting for you",
            (Lang::En, ClientReplied) => "You replied",
            (Lang::En, WaitingThirdParty) => "⏱️ waiting for a third party",
            (Lang::En, Resolved) => "✅ resolved, please check",
            (Lang::En, Closed) => "Closed",
        }
    }

    pub fn card_labels(self) -> CardLabels {
        match self {
            Lang::Ru => CardLabels {
                ticket: "Заявка",
                registering: "регистрируется…",
                problem: "Проблема",
                description: "Описание",
                author: "Автор",
                registered: "Зарегистрирована",
                status: "Статус",
                assignee: "Ответственный",
                nobody: "не назначен",
                resolution: "Описание решения",
                last_comments: "Последние комментарии",
                reply_hint: "Ответьте на это сообщение, чтобы добавить комментарий.",
                comment_hint: "Комментарии к заявке — в обсуждении под этим постом.",
                topic_hint: "Сообщения в этой теме становятся комментариями к заявке.",
                rating: "Оценка",
                follow_up_of: "Продолжение заявки",
                rate_hint: "Оцените, пожалуйста, решение заявки:",
            },
            Lang::En => CardLabels {
                ticket: "Ticket",
                registering: "registering…",
                problem: "Problem",
                description: "Description",
                author: "Author",
                registered: "Registered",
                status: "Status",
                assignee: "Assignee",
                nobody: "not assigned",
                resolution: "Resolution",
                last_comments: "Latest comments",
                reply_hint: "Reply to this message to add a comment.",
                comment_hint: "Comment on the ticket in the discussion under this post.",
                topic_hint: "Messages in this topic become comments on the ticket.",
                rating: "Rating",
                follow_up_of: "Follow-up of ticket",
                rate_hint: "Please rate how the ticket was solved:",
            },
        }
    }

    /// The words of a card's due times and of a ticket staff started (issue 14.3, 14.4).
    pub fn staff_labels(self) -> StaffLabels {
        match self {
            Lang::Ru => StaffLabels {
                announcement: "Объявление",
                from_support: "Сообщение от поддержки",
                support: "Служба поддержки",
                respond_by: "Ответ до",
                resolve_by: "Решение до",
                overdue: "просрочено",
                announcement_hint: "Это уведомление, отвечать на него не нужно.",
            },
            Lang::En => StaffLabels {
                announcement: "Announcement",
                from_support: "Message from support",
                support: "Support",
                respond_by: "Response due",
                resolve_by: "Resolution due",
                overdue: "overdue",
                announcement_hint: "This is a notice; no reply is needed.",
            },
        }
    }

    /// Who a ticket staff started comes from, when no one is assigned to it.
    pub fn support_name(self) -> &'static str {
        self.staff_labels().support
    }

    pub fn ask_company(self) -> &'static str {
        match self {
            Lang::Ru => "Для какой компании заявка?",
            Lang::En => "Which company is this request for?",
        }
    }

    pub fn ask_subject(self) -> &'static str {
        match self {
            Lang::Ru => "Кратко опишите проблему — это будет тема заявки.",
            Lang::En => "Describe the problem in one line — this becomes the ticket's subject.",
        }
    }

    pub fn ask_description(self) -> &'static str {
        match self {
            Lang::Ru => "Опишите подробнее: что случилось, где, что уже пробовали.",
            Lang::En => "Tell us more: what happened, where, what you have tried.",
        }
    }

    pub fn ask_files(self) -> &'static str {
        match self {
            Lang::Ru => "Приложите фото или файлы, если есть, и нажмите «Готово».",
            Lang::En => "Attach photos or files if you have any, then press “Done”.",
        }
    }

    pub fn files_received(self, count: usize) -> String {
        match self {
            Lang::Ru => format!("Файлов получено: {count}. Ещё или «Готово»?"),
            Lang::En => format!("Files received: {count}. More, or “Done”?"),
        }
    }

    /// A file that would take the ticket being written over its limits, which it did not take.
    pub fn file_limit_reached(self, limits: FileLimits) -> String {
        match self {
            _ if limits.max_count == 0 => self.files_not_taken().to_owned(),
            Lang::Ru => format!(
                "Этот файл не добавлен: к одной заявке — не больше {}.",
                self.limits_text(limits)
            ),
            Lang::En => format!(
                "This file was not added: one ticket takes at most {}.",
                self.limits_text(limits)
            ),
        }
    }

    /// Files of a comment (an album over the limits, a file too large) that were not passed on
    /// to support; said once per comment.
    pub fn comment_files_refused(self, limits: FileLimits) -> String {
        match self {
            _ if limits.max_count == 0 => self.files_not_taken().to_owned(),
            Lang::Ru => format!(
                "Файлы сверх лимита не переданы в поддержку: к одному комментарию — не больше {}.",
                self.limits_text(limits)
            ),
            Lang::En => format!(
                "Files over the limit were not passed on to support: one comment takes at most {}.",
                self.limits_text(limits)
            ),
        }
    }

    /// Files of an album turned into a ticket (`/ticket`) that did not fit in it.
    pub fn ticket_files_refused(self, refused: usize, limits: FileLimits) -> String {
        match self {
            _ if limits.max_count == 0 => self.files_not_taken().to_owned(),
            Lang::Ru => format!(
                "Не вошло в заявку файлов: {refused}. К одной заявке — не больше {}.",
                self.limits_text(limits)
            ),
            Lang::En => format!(
                "Files left out of the ticket: {refused}. One ticket takes at most {}.",
                self.limits_text(limits)
            ),
        }
    }

    fn files_not_taken(self) -> &'static str {
        match self {
            Lang::Ru => "Файлы здесь не принимаются: в поддержку передан только текст.",
            Lang::En => "Files are not accepted here: only the text was passed on to support.",
        }
    }

    /// "10 files and 50 MB together".
    fn limits_text(self, limits: FileLimits) -> String {
        let n = limits.max_count;
        let size = self.size(limits.max_bytes);
        match self {
            // Genitive after «не больше»: 1 файла, 2 файлов, 21 файла.
            Lang::Ru if n % 10 == 1 && n % 100 != 11 => format!("{n} файла и {size} вместе"),
            Lang::Ru => format!("{n} файлов и {size} вместе"),
            Lang::En if n == 1 => format!("1 file and {size}"),
            Lang::En => format!("{n} files and {size} together"),
        }
    }

    /// A size as people read it: «50 МБ», «1,5 МБ», «500 КБ».
    pub fn size(self, bytes: u64) -> String {
        const KB: u64 = 1024;
        const MB: u64 = 1024 * 1024;
        let (units, unit) = match self {
            Lang::Ru if bytes >= MB => (bytes, ("МБ", MB)),
            Lang::En if bytes >= MB => (bytes, ("MB", MB)),
            Lang::Ru if bytes >= KB => (bytes, ("КБ", KB)),
            Lang::En if bytes >= KB => (bytes, ("KB", KB)),
            Lang::Ru => return format!("{bytes} байт"),
            Lang::En => return format!("{bytes} bytes"),
        };
        let (name, scale) = unit;
        let whole = units / scale;
        // One decimal, rounded down: a limit is never shown larger than it is.
        let tenths = units % scale * 10 / scale;
        if tenths == 0 {
            format!("{whole} {name}")
        } else if self == Lang::Ru {
            format!("{whole},{tenths} {name}")
        } else {
            format!("{whole}.{tenths} {name}")
        }
    }

    /// The bot had to ask Telegram too often for this user or chat lately.
    pub fn too_many_requests(self) -> &'static str {
        match self {
            Lang::Ru => "Слишком много запросов подряд. Попробуйте ещё раз через минуту.",
            Lang::En => "Too many requests in a row. Please try again in a minute.",
        }
    }

    pub fn button_done(self) -> &'static str {
        match self {
            Lang::Ru => "Готово",
            Lang::En => "Done",
        }
    }

    pub fn button_skip(self) -> &'static str {
        match self {
            Lang::Ru => "Пропустить",
            Lang::En => "Skip",
        }
    }

    pub fn button_cancel(self) -> &'static str {
        match self {
            Lang::Ru => "Отмена",
            Lang::En => "Cancel",
        }
    }

    pub fn cancelled(self) -> &'static str {
        match self {
            Lang::Ru => "Заявка отменена.",
            Lang::En => "The request was cancelled.",
        }
    }

    pub fn expired(self) -> &'static str {
        match self {
            Lang::Ru => "Прошло слишком много времени, начните заново: /new",
            Lang::En => "That took too long; start again with /new",
        }
    }

    pub fn creating(self) -> &'static str {
        match self {
            Lang::Ru => "Регистрирую заявку…",
            Lang::En => "Registering your request…",
        }
    }

    pub fn not_your_dialogue(self) -> &'static str {
        match self {
            Lang::Ru => "Это не ваша заявка: начните свою командой /new",
            Lang::En => "This is someone else's request; start yours with /new",
        }
    }

    pub fn nothing_to_do(self) -> &'static str {
        match self {
            Lang::Ru => "Эта кнопка больше не действует.",
            Lang::En => "This button is no longer active.",
        }
    }

    pub fn ticket_usage(self) -> &'static str {
        match self {
            Lang::Ru => "Ответьте командой /ticket на сообщение, из которого нужно сделать заявку.",
            Lang::En => "Reply /ticket to the message you want to turn into a ticket.",
        }
    }

    pub fn already_ticket(self, number: Option<&str>) -> String {
        match (self, number) {
            (Lang::Ru, Some(n)) => format!("Это сообщение уже в заявке #{n}."),
            (Lang::Ru, None) => "Это сообщение уже в заявке (она регистрируется).".into(),
            (Lang::En, Some(n)) => format!("This message is already part of ticket #{n}."),
            (Lang::En, None) => "This message is already part of a ticket being registered.".into(),
        }
    }

    pub fn not_from_bot(self) -> &'static str {
        match self {
            Lang::Ru => "Заявку можно сделать только из сообщения клиента.",
            Lang::En => "Only a client's message can become a ticket.",
        }
    }

    pub fn help(self) -> &'static str {
        match self {
            Lang::Ru => {
                "<b>Поддержка в этом чате</b>\n\
                 /new [тема] — новая заявка (бот спросит подробности)\n\
                 /ticket — ответом на сообщение: сделать из него заявку\n\
                 Чтобы добавить комментарий, ответьте на карточку заявки или на ответ поддержки."
            }
            Lang::En => {
                "<b>Support in this chat</b>\n\
                 /new [subject] — new ticket (the bot asks for details)\n\
                 /ticket — as a reply to a message: turn it into a ticket\n\
                 To comment, reply to the ticket card or to a support reply."
            }
        }
    }

    pub fn staff_reply_header(self, author: &str) -> String {
        match self {
            Lang::Ru => format!("💬 <b>{}</b> (поддержка):", escape(author)),
            Lang::En => format!("💬 <b>{}</b> (support):", escape(author)),
        }
    }

    pub fn helpdesk_unavailable(self) -> &'static str {
        match self {
            Lang::Ru => {
                "Система заявок сейчас недоступна. Ваше сообщение сохранено и будет \
                 зарегистрировано автоматически."
            }
            Lang::En => {
                "The helpdesk is unavailable right now. Your message is saved and will be \
                 registered automatically."
            }
        }
    }

    pub fn not_delivered(self) -> &'static str {
        match self {
            Lang::Ru => {
                "⚠️ Не удалось передать это сообщение в поддержку. Администратор получил \
                 уведомление; попробуйте ещё раз позже."
            }
            Lang::En => {
                "⚠️ This message could not be delivered to support. The administrator has \
                 been notified; please try again later."
            }
        }
    }

    pub fn attachment_too_big(self, name: &str) -> String {
        match self {
            Lang::Ru => format!("(файл «{}» слишком большой для Telegram)", escape(name)),
            Lang::En => format!("(file “{}” is too large for Telegram)", escape(name)),
        }
    }

    pub fn button_reopen(self) -> &'static str {
        match self {
            Lang::Ru => "Переоткрыть",
            Lang::En => "Reopen",
        }
    }

    pub fn button_feedback(self) -> &'static str {
        match self {
            Lang::Ru => "Оставить отзыв",
            Lang::En => "Leave feedback",
        }
    }

    /// Five stars, `score` of them filled.
    pub fn stars(score: u8) -> String {
        (1..=5u8)
            .map(|i| if i <= score { '★' } else { '☆' })
            .collect()
    }

    pub fn rated(self) -> &'static str {
        match self {
            Lang::Ru => "Спасибо за оценку!",
            Lang::En => "Thank you for the rating!",
        }
    }

    pub fn already_rated(self) -> &'static str {
        match self {
            Lang::Ru => "Оценка этой заявки уже сохранена.",
            Lang::En => "This ticket has already been rated.",
        }
    }

    pub fn not_closed_yet(self) -> &'static str {
        match self {
            Lang::Ru => "Заявка ещё не закрыта.",
            Lang::En => "The ticket is not closed yet.",
        }
    }

    pub fn members_only(self) -> &'static str {
        match self {
            Lang::Ru => "Оценивать и переоткрывать заявку могут только участники этого чата.",
            Lang::En => "Only members of this chat can rate or reopen the ticket.",
        }
    }

    pub fn reopen_requested(self) -> &'static str {
        match self {
            Lang::Ru => "Заявка будет переоткрыта.",
            Lang::En => "The ticket will be reopened.",
        }
    }

    pub fn reopened_by(self, who: &str) -> String {
        match self {
            Lang::Ru => format!("🔄 Заявка переоткрыта по просьбе {}.", escape(who)),
            Lang::En => format!("🔄 Ticket reopened at the request of {}.", escape(who)),
        }
    }

    pub fn follow_up_opened(self, number: Option<&str>) -> String {
        let number = number
            .map(|n| format!(" #{}", escape(n)))
            .unwrap_or_default();
        match self {
            Lang::Ru => format!(
                "Заявка{number} уже закрыта, поэтому по этому сообщению открыта новая заявка, \
                 связанная с ней."
            ),
            Lang::En => format!(
                "Ticket{number} is already closed, so this message opens a new ticket linked to it."
            ),
        }
    }

    pub fn follow_up_subject(self, number: Option<&str>, subject: &str) -> String {
        let number = number.map(|n| format!(" #{n}")).unwrap_or_default();
        match self {
            Lang::Ru => format!("Продолжение{number}: {subject}"),
            Lang::En => format!("Follow-up{number}: {subject}"),
        }
    }

    pub fn escalated(self, number: Option<&str>) -> String {
        let number = number
            .map(|n| format!(" #{}", escape(n)))
            .unwrap_or_default();
        match self {
            Lang::Ru => format!("⚡ Заявка{number} эскалирована: поддержка получила сигнал."),
            Lang::En => format!("⚡ Ticket{number} escalated: support has been alerted."),
        }
    }

    pub fn escalated_already(self) -> &'static str {
        match self {
            Lang::Ru => "Эскалация уже отправлена в течение последнего часа, поддержка в курсе.",
            Lang::En => "This ticket was escalated within the last hour; support is on it.",
        }
    }

    pub fn escalate_usage(self) -> &'static str {
        match self {
            Lang::Ru => {
                "Команду /escalate нужно отправить ответом на карточку заявки или в её ветке."
            }
            Lang::En => "Send /escalate as a reply to a ticket card or inside its thread.",
        }
    }

    /// The bot command menu entry of `/escalate`.
    pub fn escalate_command(self) -> &'static str {
        match self {
            Lang::Ru => "Обратите внимание. Эскалация заявки",
            Lang::En => "Attention please: escalate the ticket",
        }
    }

    /// Internal note for staff: what happened and who did it.
    /// The internal note staff get when their reply could not be delivered to Telegram.
    /// `delivered`: how many of the reply's messages (it is split when long) reached the chat
    /// before Telegram refused the next; a resend sends only the rest.
    pub fn reply_undelivered_note(self, reply: &str, error: &str, delivered: usize) -> String {
        match (self, delivered) {
            (Lang::Ru, 0) => format!(
                "⚠️ Ответ не доставлен в Telegram: клиент его не увидит. Ошибка Telegram: {error}. \
                 Свяжитесь с клиентом иначе или повторите отправку (teledesk queue retry).\n\
                 Ответ: «{reply}»"
            ),
            (Lang::Ru, n) => format!(
                "⚠️ Ответ доставлен в Telegram не целиком: клиент видит только первые сообщения \
                 ({n}). Ошибка Telegram: {error}. Свяжитесь с клиентом иначе или повторите \
                 отправку (teledesk queue retry): уйдёт только недоставленное.\n\
                 Ответ: «{reply}»"
            ),
            (Lang::En, 0) => format!(
                "⚠️ Reply not delivered to Telegram: the client will not see it. Telegram said: \
                 {error}. Reach the client another way or resend it (teledesk queue retry).\n\
                 Reply: “{reply}”"
            ),
            (Lang::En, n) => format!(
                "⚠️ Reply only partly delivered to Telegram: the client sees its first messages \
                 ({n}) only. Telegram said: {error}. Reach the client another way or resend it \
                 (teledesk queue retry): only the undelivered rest goes out.\n\
                 Reply: “{reply}”"
            ),
        }
    }

    pub fn escalation_note(self, who: &str) -> String {
        match self {
            Lang::Ru => format!("Обратите внимание. Эскалация заявки — клиент {who} (Telegram)."),
            Lang::En => format!("Attention please: ticket escalated by client {who} (Telegram)."),
        }
    }

    pub fn rating_note(self, score: u8, who: &str, comment: Option<&str>) -> String {
        let stars = Self::stars(score);
        let mut note = match self {
            Lang::Ru => format!("Оценка клиента: {score} из 5 {stars} — {who} (Telegram)."),
            Lang::En => format!("Client rating: {score} of 5 {stars} — {who} (Telegram)."),
        };
        if let Some(comment) = comment {
            note.push_str(match self {
                Lang::Ru => "\nОтзыв: ",
                Lang::En => "\nFeedback: ",
            });
            note.push_str(comment);
        }
        note
    }

    pub fn feedback_prompt(self, number: Option<&str>) -> String {
        let number = number
            .map(|n| format!(" #{}", escape(n)))
            .unwrap_or_default();
        match self {
            Lang::Ru => {
                format!("Напишите одним сообщением отзыв о заявке{number}. /cancel — отмена.")
            }
            Lang::En => {
                format!("Write your feedback on ticket{number} in one message. /cancel to cancel.")
            }
        }
    }

    pub fn feedback_thanks(self) -> &'static str {
        match self {
            Lang::Ru => "Спасибо! Отзыв передан в поддержку.",
            Lang::En => "Thank you! Your feedback has been passed to support.",
        }
    }

    pub fn feedback_unavailable(self) -> &'static str {
        match self {
            Lang::Ru => "Отзыв можно оставить только после оценки закрытой заявки.",
            Lang::En => "Feedback can be left only after rating a closed ticket.",
        }
    }

    pub fn notify_reply(self, number: Option<&str>, subject: &str, author: &str) -> String {
        let number = number
            .map(|n| format!(" #{}", escape(n)))
            .unwrap_or_default();
        match self {
            Lang::Ru => format!(
                "💬 {} ответил(а) по вашей заявке{number} «{}».",
                escape(author),
                escape(&truncate(subject, 120))
            ),
            Lang::En => format!(
                "💬 {} replied to your ticket{number} “{}”.",
                escape(author),
                escape(&truncate(subject, 120))
            ),
        }
    }

    pub fn notify_done(self, number: Option<&str>, subject: &str) -> String {
        let number = number
            .map(|n| format!(" #{}", escape(n)))
            .unwrap_or_default();
        match self {
            Lang::Ru => format!(
                "✅ Заявка{number} «{}» решена. Оцените, пожалуйста, решение в чате.",
                escape(&truncate(subject, 120))
            ),
            Lang::En => format!(
                "✅ Your ticket{number} “{}” is resolved. Please rate the solution in the chat.",
                escape(&truncate(subject, 120))
            ),
        }
    }

    pub fn button_open_thread(self) -> &'static str {
        match self {
            Lang::Ru => "Открыть заявку",
            Lang::En => "Open the ticket",
        }
    }

    pub fn private_help(self) -> &'static str {
        match self {
            Lang::Ru => {
                "Я бот поддержки. Заявки создаются в чате вашей компании командой /new; \
                 сюда приходят уведомления об ответах и здесь можно оставить отзыв.\n\
                 /my — ваши открытые заявки\n/last — последние 10 заявок (/last 20 — последние 20)\n\
                 /find — поиск по номеру, словам темы или дате (/find 21.11.2026, /find 01.11.2026-30.11.2026, \
                 /find открытые принтер)"
            }
            Lang::En => {
                "I am the support bot. Tickets are opened in your company's chat with /new; \
                 here you get notifications about replies and can leave feedback.\n\
                 /my — your open tickets\n/last — your last 10 tickets (/last 20 — the last 20)\n\
                 /find — search by number, subject words or date (/find 2026-11-21, \
                 /find 2026-11-01..2026-11-30, /find open printer)"
            }
        }
    }

    pub fn no_client_chat(self) -> &'static str {
        match self {
            Lang::Ru => "Вы не состоите ни в одном чате поддержки, с которым работает этот бот.",
            Lang::En => "You are not a member of any support chat this bot serves.",
        }
    }

    pub fn choose_chat(self) -> &'static str {
        match self {
            Lang::Ru => "Для какой компании заявка?",
            Lang::En => "Which company is the ticket for?",
        }
    }

    pub fn link_invalid(self) -> &'static str {
        match self {
            Lang::Ru => {
                "Ссылка недействительна. Откройте «Новая заявку» из закреплённого сообщения в чате вашей компании."
            }
            Lang::En => {
                "This link is not valid. Open «New ticket» from the pinned message in your company's chat."
            }
        }
    }

    pub fn members_only_new(self) -> &'static str {
        match self {
            Lang::Ru => "Оставлять заявки по этой ссылке могут только участники чата компании.",
            Lang::En => "Only members of the company's chat can file tickets through this link.",
        }
    }

    /// The pinned post that opens a new ticket.
    /// The pinned «Новая заявка» post: its button opens the Mini App form, or a private dialogue
    /// with the bot when no Mini App is configured.
    pub fn pin_text(self, mini_app: bool) -> &'static str {
        match (self, mini_app) {
            (Lang::Ru, true) => {
                "📝 <b>Новая заявка</b>\nНажмите кнопку ниже и заполните форму: тема, описание, файлы. Заявка появится здесь, ответы поддержки — в обсуждении."
            }
            (Lang::En, true) => {
                "📝 <b>New ticket</b>\nPress the button below and fill in the form: subject, description, files. The ticket appears here, support answers in its discussion."
            }
            (Lang::Ru, false) => {
                "📝 <b>Новая заявка</b>\nНажмите кнопку ниже, чтобы оформить заявку в поддержку: бот спросит тему, описание и файлы."
            }
            (Lang::En, false) => {
                "📝 <b>New ticket</b>\nPress the button below to file a ticket with support: the bot asks for the subject, description and files."
            }
        }
    }

    pub fn button_new_ticket(self) -> &'static str {
        match self {
            Lang::Ru => "Новая заявка",
            Lang::En => "New ticket",
        }
    }

    pub fn my_tickets(self, count: usize) -> String {
        match (self, count) {
            (Lang::Ru, 0) => "Открытых заявок нет.".into(),
            (Lang::En, 0) => "You have no open tickets.".into(),
            (Lang::Ru, n) => format!("<b>Ваши открытые заявки ({n}):</b>"),
            (Lang::En, n) => format!("<b>Your open tickets ({n}):</b>"),
        }
    }

    pub fn last_tickets(self, count: usize) -> String {
        match (self, count) {
            (Lang::Ru, 0) => "Заявок пока нет.".into(),
            (Lang::En, 0) => "You have no tickets yet.".into(),
            (Lang::Ru, n) => format!("<b>Ваши последние заявки ({n}):</b>"),
            (Lang::En, n) => format!("<b>Your latest tickets ({n}):</b>"),
        }
    }

    pub fn admins_only(self) -> &'static str {
        match self {
            Lang::Ru => "Отчёты доступны только администраторам бота.",
            Lang::En => "Reports are for the bot's admins only.",
        }
    }

    pub fn report_usage(self) -> &'static str {
        match self {
            Lang::Ru => {
                "Формат: /report [с [по]], даты ГГГГ-ММ-ДД или ДД.ММ.ГГГГ; без дат — с начала месяца."
            }
            Lang::En => {
                "Usage: /report [from [to]], dates YYYY-MM-DD or DD.MM.YYYY; without dates, from the first of the month."
            }
        }
    }

    pub fn report_head(self, from: &str, to: &str) -> String {
        match self {
            Lang::Ru => format!(
                "<b>Отчёт с {from} по {to}</b> (время реакции и решения — медиана и 90-й процентиль)"
            ),
            Lang::En => format!(
                "<b>Report from {from} to {to}</b> (response and resolution times: median and 90th percentile)"
            ),
        }
    }

    /// The head of `/find`'s answer: how many tickets answer, and how many are listed.
    pub fn found_tickets(self, total: usize, shown: usize) -> String {
        match (self, total) {
            (Lang::Ru, 0) => "Ничего не найдено.".into(),
            (Lang::En, 0) => "Nothing found.".into(),
            (Lang::Ru, n) if n > shown => format!("<b>Найдено заявок: {n}</b> (показаны {shown})"),
            (Lang::En, n) if n > shown => format!("<b>Tickets found: {n}</b> (showing {shown})"),
            (Lang::Ru, n) => format!("<b>Найдено заявок: {n}</b>"),
            (Lang::En, n) => format!("<b>Tickets found: {n}</b>"),
        }
    }

    /// «priority: ASAP» after a found ticket; `priority` is the helpdesk's own name of it.
    pub fn found_priority(self, priority: &str) -> String {
        match self {
            Lang::Ru => format!("приоритет: {priority}"),
            Lang::En => format!("priority: {priority}"),
        }
    }

    /// «category: Billing» after a found ticket; `label` is the category as the chat shows it.
    pub fn found_category(self, label: &str) -> String {
        match self {
            Lang::Ru => format!("категория: {label}"),
            Lang::En => format!("category: {label}"),
        }
    }

    /// «changed 21.11.2026» after a found ticket.
    pub fn last_activity(self, day: &str) -> String {
        match self {
            Lang::Ru => format!("изм. {day}"),
            Lang::En => format!("changed {day}"),
        }
    }

    pub fn filter_label(self, filter: crate::engine::search::Filter) -> &'static str {
        use crate::engine::search::Filter;
        match (self, filter) {
            (Lang::Ru, Filter::All) => "Все",
            (Lang::Ru, Filter::Open) => "Открытые",
            (Lang::Ru, Filter::Closed) => "Закрытые",
            (Lang::En, Filter::All) => "All",
            (Lang::En, Filter::Open) => "Open",
            (Lang::En, Filter::Closed) => "Closed",
        }
    }

    pub fn sort_label(self, sort: crate::engine::search::Sort) -> &'static str {
        use crate::engine::search::Sort;
        match (self, sort) {
            (Lang::Ru, Sort::Newest) => "Сначала новые",
            (Lang::Ru, Sort::Oldest) => "Сначала старые",
            (Lang::Ru, Sort::Activity) => "По изменению",
            (Lang::En, Sort::Newest) => "Newest",
            (Lang::En, Sort::Oldest) => "Oldest",
            (Lang::En, Sort::Activity) => "Last changed",
        }
    }

    pub fn files_only(self, count: usize) -> String {
        match self {
            Lang::Ru => format!("Файлы: {count}"),
            Lang::En => format!("Files: {count}"),
        }
    }
}

/// See [`Lang::staff_labels`].
pub struct StaffLabels {
    /// The header of a ticket staff marked as an announcement.
    pub announcement: &'static str,
    /// The header of a ticket staff started.
    pub from_support: &'static str,
    pub support: &'static str,
    pub respond_by: &'static str,
    pub resolve_by: &'static str,
    /// Marks a due time that was missed.
    pub overdue: &'static str,
    pub announcement_hint: &'static str,
}

/// The field labels of a ticket card.
pub struct CardLabels {
    pub ticket: &'static str,
    pub registering: &'static str,
    pub problem: &'static str,
    pub description: &'static str,
    pub author: &'static str,
    /// When the client asked: the Telegram message's own date (issue 14.4).
    pub registered: &'static str,
    pub status: &'static str,
    pub assignee: &'static str,
    pub nobody: &'static str,
    pub resolution: &'static str,
    pub last_comments: &'static str,
    pub reply_hint: &'static str,
    /// The hint on a channel post, whose comments live in the discussion group.
    pub comment_hint: &'static str,
    /// The hint on a card in a forum topic, where every message is a comment.
    pub topic_hint: &'static str,
    pub rating: &'static str,
    pub follow_up_of: &'static str,
    pub rate_hint: &'static str,
}

/// Intake questions: the category and a chat's extra fields (`[[chats.categories]]`,
/// `[[chats.fields]]`).
impl Lang {
    pub fn ask_category(self) -> &'static str {
        match self {
            Lang::Ru => "Выберите, к чему относится заявка:",
            Lang::En => "Choose what the request is about:",
        }
    }

    /// The question for a field (HTML; `label` and `example` are escaped here).
    pub fn ask_field(self, label: &str, required: bool, example: Option<&str>) -> String {
        let mut html = format!("<b>{}</b>", escape(label));
        if !required {
            html.push_str(match self {
                Lang::Ru => " (необязательно)",
                Lang::En => " (optional)",
            });
        }
        html.push(':');
        if let Some(example) = example {
            html.push_str(&match self {
                Lang::Ru => format!("\nНапример: <code>{}</code>", escape(example)),
                Lang::En => format!("\nFor example: <code>{}</code>", escape(example)),
            });
        }
        html
    }

    /// The button that answers a field with the value the user gave last time.
    pub fn button_remembered(self, value: &str) -> String {
        format!("↩ {}", truncate(value, 40))
    }

    /// Why an answer to a field was not taken, and what to send instead (plain text).
    pub fn field_rejected(
        self,
        label: &str,
        why: crate::config::intake::Rejection,
        example: Option<&str>,
    ) -> String {
        use crate::config::intake::Rejection::*;
        let reason = match (self, why) {
            (Lang::Ru, Empty) => format!("Поле «{label}» обязательно."),
            (Lang::En, Empty) => format!("“{label}” is required."),
            (Lang::Ru, TooLong) => {
                format!("«{label}»: нужна одна строка, не длиннее 255 символов.")
            }
            (Lang::En, TooLong) => {
                format!("“{label}”: one line of at most 255 characters, please.")
            }
            (Lang::Ru, Phone) => format!(
                "«{label}»: это не похоже на номер телефона. Нужны цифры (7–15), можно с «+» в начале."
            ),
            (Lang::En, Phone) => format!(
                "“{label}”: that does not look like a phone number. Send 7 to 15 digits, optionally with “+” in front."
            ),
            (Lang::Ru, Pattern) => format!("«{label}»: значение не подходит по формату."),
            (Lang::En, Pattern) => {
                format!("“{label}”: the value does not have the expected format.")
            }
            (Lang::Ru, Choice) => format!("«{label}»: выберите один из вариантов кнопкой."),
            (Lang::En, Choice) => format!("“{label}”: pick one of the options with a button."),
        };
        // Quoted and closed by a full stop: the example is a value, and the sentence after it
        // must not read as part of it.
        let example = example.map(|e| match self {
            Lang::Ru => format!(" Например: «{e}»."),
            Lang::En => format!(" For example: “{e}”."),
        });
        let again = match self {
            Lang::Ru => " Попробуйте ещё раз.",
            Lang::En => " Please try again.",
        };
        format!("{reason}{}{again}", example.unwrap_or_default())
    }

    /// `/ticket` on a message whose author has not given every required field yet: what the
    /// bot asks for in the thread before it opens the ticket.
    pub fn intake_needed(self) -> &'static str {
        match self {
            Lang::Ru => "Чтобы оформить заявку, не хватает данных:",
            Lang::En => "To file the request, a few details are missing:",
        }
    }

    /// The Mini App's answer to a form whose intake fields do not pass (plain text).
    pub fn category_required(self) -> &'static str {
        match self {
            Lang::Ru => "Выберите категорию заявки.",
            Lang::En => "Choose the request's category.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_truncates() {
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("  ab ", 4), "ab");
    }

    #[test]
    fn sizes_and_file_limits_read_naturally() {
        assert_eq!(Lang::Ru.size(50 * 1024 * 1024), "50 МБ");
        assert_eq!(Lang::En.size(3 * 512 * 1024), "1.5 MB");
        assert_eq!(Lang::Ru.size(3 * 512 * 1024), "1,5 МБ");
        assert_eq!(Lang::En.size(500 * 1024), "500 KB");
        assert_eq!(Lang::Ru.size(100), "100 байт");
        let limits = |max_count| FileLimits {
            max_count,
            max_bytes: 20 * 1024 * 1024,
        };
        assert!(
            Lang::Ru
                .file_limit_reached(limits(1))
                .contains("не больше 1 файла и 20 МБ")
        );
        assert!(
            Lang::Ru
                .file_limit_reached(limits(21))
                .contains("не больше 21 файла")
        );
        assert!(
            Lang::Ru
                .file_limit_reached(limits(3))
                .contains("не больше 3 файлов")
        );
        assert!(
            Lang::En
                .file_limit_reached(limits(1))
                .contains("at most 1 file and 20 MB")
        );
        assert!(
            Lang::En
                .comment_files_refused(limits(3))
                .contains("at most 3 files and 20 MB")
        );
        assert!(
            Lang::Ru
                .ticket_files_refused(1, limits(0))
                .contains("не принимаются")
        );
    }

    #[test]
    fn every_status_has_a_label_in_both_languages() {
        for lang in [Lang::Ru, Lang::En] {
            for status in StatusClass::ALL {
                assert!(!lang.status(status).is_empty());
            }
        }
    }
}
