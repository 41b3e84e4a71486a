//! What teledesk says to the people who run it (`teledesk check`, `teledesk doctor`), in Russian
//! and English. Plain text for a terminal, not Telegram HTML. Config keys, Telegram's and the
//! helpdesks' own words, and @BotFather's menu items stay as the admin will see them there.

use super::{Lang, problems};
use teledesk_adapter::Problem;

/// A capability teledesk offers that a helpdesk's adapter does not have (`teledesk check` notes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingCapability {
    StaffTickets,
    DueTimes,
}

/// The operator's texts in one language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ops(pub Lang);

impl Ops {
    fn pick<T>(self, ru: T, en: T) -> T {
        match self.0 {
            Lang::Ru => ru,
            Lang::En => en,
        }
    }

    // --- teledesk check ----------------------------------------------------------------

    /// A note that `helpdesks.<name>` (of `kind`) lacks a capability, pointing to the README.
    pub fn capability_missing(self, name: &str, kind: &str, missing: MissingCapability) -> String {
        let what = match missing {
            MissingCapability::StaffTickets => self.pick(
                "не публикует заявки, которые сотрудники заводят в хелпдеске (staff_tickets)",
                "does not publish tickets staff start in the helpdesk (staff_tickets)",
            ),
            MissingCapability::DueTimes => self.pick(
                "не показывает сроки на карточках и не считает нарушения SLA (due_times)",
                "shows no due times on cards and counts no SLA breaches (due_times)",
            ),
        };
        self.pick(
            format!("примечание: helpdesks.{name} ({kind}) {what}; подробности в README адаптера"),
            format!("note: helpdesks.{name} ({kind}) {what}; see the adapter's README"),
        )
    }

    /// `error` / `warning` in front of a finding.
    pub fn level(self, error: bool) -> &'static str {
        match (self.0, error) {
            (Lang::Ru, true) => "ошибка",
            (Lang::Ru, false) => "предупреждение",
            (Lang::En, true) => "error",
            (Lang::En, false) => "warning",
        }
    }

    /// Where a finding is: `telegram.token (line 3)`.
    pub fn at_line(self, path: &str, line: usize) -> String {
        self.pick(
            format!("{path} (строка {line})"),
            format!("{path} (line {line})"),
        )
    }

    /// A finding about the file as a whole, at a line.
    pub fn line(self, line: usize) -> String {
        self.pick(format!("строка {line}"), format!("line {line}"))
    }

    /// The verdict of a valid config.
    pub fn config_ok(self, path: &str, helpdesks: usize, chats: usize) -> String {
        match self.0 {
            Lang::Ru => format!(
                "{path}: OK ({}, {})",
                ru_count(helpdesks, "хелпдеск", "хелпдеска", "хелпдесков"),
                ru_count(chats, "чат", "чата", "чатов")
            ),
            Lang::En => format!(
                "{path}: OK ({}, {})",
                en_count(helpdesks, "helpdesk"),
                en_count(chats, "chat")
            ),
        }
    }

    /// The verdict of a config with errors.
    pub fn config_problems(self, path: &str, errors: usize) -> String {
        match self.0 {
            Lang::Ru => format!(
                "{path}: {}",
                ru_count(errors, "проблема", "проблемы", "проблем")
            ),
            Lang::En => format!("{path}: {}", en_count(errors, "problem")),
        }
    }

    /// Why a command that needs a valid config stops.
    pub fn load_failed(self, path: &str, errors: usize) -> String {
        match self.0 {
            Lang::Ru => format!(
                "{path}: {}; запустите `teledesk check --config {path}`",
                ru_count(errors, "проблема", "проблемы", "проблем")
            ),
            Lang::En => format!(
                "{path}: {}; run `teledesk check --config {path}`",
                en_count(errors, "problem")
            ),
        }
    }

    // --- teledesk doctor: the summary ----------------------------------------------------

    /// The mark in front of a line of the report.
    pub fn mark(self, status: crate::doctor::Status) -> &'static str {
        use crate::doctor::Status;
        match (self.0, status) {
            (_, Status::Ok) => "ok",
            (Lang::Ru, Status::Warn) => "ВНИМ",
            (Lang::Ru, Status::Fail) => "СБОЙ",
            (Lang::Ru, Status::Info) => "инфо",
            (Lang::En, Status::Warn) => "WARN",
            (Lang::En, Status::Fail) => "FAIL",
            (Lang::En, Status::Info) => "info",
        }
    }

    pub fn all_passed(self) -> &'static str {
        self.pick("все проверки пройдены", "all checks passed")
    }

    pub fn only_warnings(self, warned: usize) -> String {
        self.pick(
            format!("сбоев нет, предупреждений: {warned}"),
            format!("no failures, {warned} warning(s)"),
        )
    }

    pub fn failures(self, failed: usize, warned: usize) -> String {
        self.pick(
            format!("не пройдено проверок: {failed}, предупреждений: {warned}"),
            format!("{failed} check(s) failed, {warned} warning(s)"),
        )
    }

    // --- teledesk doctor: Telegram ---------------------------------------------------------

    /// What the token check is about: the bot's account.
    pub fn telegram_subject(self) -> &'static str {
        self.pick("Telegram", "telegram")
    }

    /// Where Telegram delivers updates (the webhook check).
    pub fn updates_subject(self) -> &'static str {
        self.pick("обновления Telegram", "telegram updates")
    }

    pub fn mini_app_subject(self) -> &'static str {
        self.pick("мини-приложение", "mini app")
    }

    pub fn token_works(self, username: &str, id: i64, privacy_off: bool) -> String {
        let privacy = match (self.0, privacy_off) {
            (Lang::Ru, true) => "режим приватности выключен",
            (Lang::Ru, false) => {
                "режим приватности включён, поэтому бот видит все сообщения только там, где он \
                 администратор"
            }
            (Lang::En, true) => "privacy mode is off",
            (Lang::En, false) => {
                "privacy mode is on, so the bot sees every message only where it is an admin"
            }
        };
        self.pick(
            format!("токен работает: @{username} (id {id}); {privacy}"),
            format!("the token works: @{username} (id {id}); {privacy}"),
        )
    }

    pub fn mini_app(self, name: &str, url: &str) -> String {
        self.pick(
            format!(
                "в @BotFather (/newapp, или /myapps для существующего приложения) у приложения с \
                 коротким именем `{name}` должен быть Web App URL {url}"
            ),
            format!(
                "in @BotFather (/newapp, or /myapps for an existing app) the app with short name \
                 `{name}` must have the Web App URL {url}"
            ),
        )
    }

    pub fn webhook_unknown(self, error: &str) -> String {
        self.pick(
            format!("не удалось спросить Telegram, куда идут обновления (getWebhookInfo): {error}"),
            format!("cannot ask Telegram where updates go (getWebhookInfo): {error}"),
        )
    }

    pub fn webhook_while_polling(self, set: &str) -> String {
        self.pick(
            format!(
                "установлен вебхук ({set}), хотя updates = \"polling\": Telegram отказывает в \
                 getUpdates, пока его не снимет следующий запуск демона"
            ),
            format!(
                "a webhook is set ({set}) though updates = \"polling\": Telegram refuses \
                 getUpdates until the daemon's next start removes it"
            ),
        )
    }

    pub fn webhook_not_set(self) -> String {
        self.pick(
            "вебхук ещё не установлен: демон установит его при запуске",
            "no webhook is set yet: the daemon sets it when it starts",
        )
        .to_owned()
    }

    pub fn webhook_elsewhere(self, set: &str, expected: &str) -> String {
        self.pick(
            format!(
                "Telegram отправляет обновления на {set}, а не на {expected}: его установил \
                 другой экземпляр или программа; остановите её и перезапустите teledesk"
            ),
            format!(
                "Telegram delivers updates to {set}, not to {expected}: another instance or \
                 program set it; stop it, then restart teledesk"
            ),
        )
    }

    pub fn webhook_failing(
        self,
        expected: &str,
        message: &str,
        pending: i64,
        path: &str,
    ) -> String {
        self.pick(
            format!(
                "Telegram отправляет на {expected}, но последняя доставка не удалась: {message} \
                 (ожидают: {pending}); проверьте, что обратный прокси передаёт {path} демону"
            ),
            format!(
                "Telegram delivers to {expected}, but its last delivery failed: {message} \
                 ({pending} waiting); check that the reverse proxy passes {path} to the daemon"
            ),
        )
    }

    pub fn webhook_ok(self, expected: &str, pending: i64) -> String {
        self.pick(
            format!("Telegram отправляет обновления на {expected} (ожидают: {pending})"),
            format!("Telegram delivers updates to {expected} ({pending} waiting)"),
        )
    }

    fn privacy_off_how(self) -> &'static str {
        self.pick(
            "выключите режим приватности в @BotFather → Bot Settings → Group Privacy (затем \
             удалите бота из группы и добавьте снова)",
            "turn off privacy mode in @BotFather → Bot Settings → Group Privacy (then remove the \
             bot from the group and add it again)",
        )
    }

    pub fn token_unauthorized(self, text: &str) -> String {
        self.pick(
            format!(
                "токен неверен или отозван (Telegram: {text}): укажите в telegram.token текущий \
                 из @BotFather → /mybots → API Token"
            ),
            format!(
                "the token is wrong or revoked (Telegram: {text}): put the current one from \
                 @BotFather → /mybots → API Token into telegram.token"
            ),
        )
    }

    pub fn token_not_found(self, text: &str, api_url: &str) -> String {
        self.pick(
            format!(
                "Telegram не знает этот токен (Telegram: {text}): проверьте telegram.token и что \
                 telegram.api_url ({api_url}) — сервер Bot API"
            ),
            format!(
                "Telegram does not know this token (Telegram: {text}): check telegram.token, and \
                 that telegram.api_url ({api_url}) is a Bot API server"
            ),
        )
    }

    pub fn telegram_silent(self, api_url: &str, text: &str) -> String {
        self.pick(
            format!(
                "Telegram не ответил по адресу {api_url} ({text}): проверьте сеть и \
                 telegram.api_url, затем запустите doctor снова"
            ),
            format!(
                "Telegram did not answer at {api_url} ({text}): check the network and \
                 telegram.api_url, then run doctor again"
            ),
        )
    }

    pub fn flood_wait(self, secs: u64) -> String {
        self.pick(
            format!("защита Telegram от флуда просит подождать {secs} с: запустите doctor позже"),
            format!("Telegram's flood control asks to wait {secs} s: run doctor again later"),
        )
    }

    pub fn telegram_failed(self, error: &str) -> String {
        self.pick(
            format!("не удалось спросить Telegram: {error}"),
            format!("cannot ask Telegram: {error}"),
        )
    }

    // --- teledesk doctor: chats --------------------------------------------------------------

    pub fn chat_not_found(self, text: &str) -> String {
        self.pick(
            format!(
                "Telegram не знает такого чата, или бота в нём нет (Telegram: {text}): проверьте \
                 id (id супергрупп и каналов начинаются с -100) и добавьте бота в чат"
            ),
            format!(
                "Telegram knows no such chat, or the bot is not in it (Telegram: {text}): check \
                 the id (supergroup and channel ids start with -100) and add the bot to the chat"
            ),
        )
    }

    pub fn chat_forbidden(self, text: &str) -> String {
        self.pick(
            format!("бота нет в чате (Telegram: {text}): добавьте его и сделайте администратором"),
            format!("the bot is not in the chat (Telegram: {text}): add it and make it an admin"),
        )
    }

    pub fn chat_migrated(self, new_id: i64) -> String {
        self.pick(
            format!("группа преобразована в супергруппу с id {new_id}; используйте этот id"),
            format!("the group was upgraded to a supergroup with id {new_id}; use that id"),
        )
    }

    pub fn get_chat_failed(self, error: &str) -> String {
        self.pick(
            format!("getChat не удался ({error}): запустите doctor снова"),
            format!("getChat failed ({error}): run doctor again"),
        )
    }

    /// What the admin calls a chat of `mode`: `channel`, `group`, `forum`, `discussion group`.
    pub fn chat_kind(self, kind: &'static str) -> &'static str {
        match (self.0, kind) {
            (Lang::Ru, "channel") => "канал",
            (Lang::Ru, "group") => "группа",
            (Lang::Ru, "forum") => "форум",
            (Lang::Ru, "discussion group") => "группа обсуждения",
            (_, kind) => kind,
        }
    }

    pub fn upgraded(self, new_id: i64) -> String {
        self.pick(
            format!(
                "группа преобразована в супергруппу с id {new_id}; укажите этот id в [[chats]] \
                 (работающий teledesk следует за преобразованием, только если видел его; \
                 проверки ниже — о супергруппе)"
            ),
            format!(
                "the group was upgraded to a supergroup with id {new_id}; use that id in \
                 [[chats]] (a running teledesk follows an upgrade only if it saw it happen; the \
                 checks below are about the supergroup)"
            ),
        )
    }

    pub fn rights_unknown(self, error: &str) -> String {
        self.pick(
            format!(
                "не удалось прочитать права бота (getChatMember: {error}); запустите doctor снова"
            ),
            format!("cannot read the bot's rights (getChatMember: {error}); run doctor again"),
        )
    }

    pub fn not_a_channel(self, kind: &str, mode: &str) -> String {
        self.pick(
            format!("это {kind}, а не канал: укажите mode = \"{mode}\""),
            format!("this is a {kind}, not a channel: use mode = \"{mode}\""),
        )
    }

    pub fn is_a_channel(self) -> String {
        self.pick(
            "это канал: укажите mode = \"channel\"",
            "this is a channel: use mode = \"channel\"",
        )
        .to_owned()
    }

    pub fn is_private(self) -> String {
        self.pick(
            "это личный чат, а не группа: проверьте id",
            "this is a private chat, not a group: check the id",
        )
        .to_owned()
    }

    pub fn topics_off(self) -> String {
        self.pick(
            "в этой группе выключены темы: включите «Темы» в настройках группы или укажите \
             mode = \"group\"",
            "topics are off in this group: turn on Topics in the group's settings, or use \
             mode = \"group\"",
        )
        .to_owned()
    }

    fn channel_admin_how(self) -> &'static str {
        self.pick(
            "сделайте бота администратором канала с правами «Публикация сообщений» и \
             «Редактирование чужих публикаций»",
            "make the bot an admin of the channel with «Post messages» and «Edit messages of \
             others»",
        )
    }

    pub fn channel_not_admin(self) -> String {
        let how = self.channel_admin_how();
        self.pick(
            format!("бот не администратор канала: {how}"),
            format!("the bot is not an admin of the channel: {how}"),
        )
    }

    pub fn channel_cannot_post(self) -> String {
        let how = self.channel_admin_how();
        self.pick(
            format!("бот не может публиковать посты заявок: {how}"),
            format!("the bot may not post ticket posts: {how}"),
        )
    }

    pub fn channel_cannot_pin(self) -> String {
        self.pick(
            "бот может публиковать, но без права «Редактирование чужих публикаций» `teledesk \
             pin` не закрепит здесь пост «Новая заявка»: дайте ему это право",
            "the bot may post but lacks «Edit messages of others», so `teledesk pin` cannot pin \
             the «Новая заявка» post here: give it that right",
        )
        .to_owned()
    }

    pub fn channel_ok(self) -> String {
        self.pick(
            "бот — администратор, который может публиковать, редактировать и закреплять",
            "the bot is an admin that may post, edit and pin",
        )
        .to_owned()
    }

    pub fn no_discussion(self) -> String {
        self.pick(
            "группа обсуждения не привязана, поэтому у заявок нет комментариев: привяжите группу \
             обсуждения к каналу (канал → Изменить → Обсуждение) и сделайте бота администратором \
             в ней",
            "no discussion group is linked, so tickets get no comments: link a discussion group \
             to the channel (channel → Edit → Discussion) and make the bot an admin there",
        )
        .to_owned()
    }

    pub fn in_group(self, group: &str, detail: &str) -> String {
        format!("{group}: {detail}")
    }

    pub fn group_rights_unknown(self, group: &str, error: &str) -> String {
        self.pick(
            format!("{group}: не удалось прочитать права бота (getChatMember: {error})"),
            format!("{group}: cannot read the bot's rights (getChatMember: {error})"),
        )
    }

    pub fn discussion_admin(self, group: &str) -> String {
        self.pick(
            format!("{group} привязана; бот в ней администратор и видит все комментарии"),
            format!("{group} is linked; the bot is an admin there and sees every comment"),
        )
    }

    pub fn discussion_member_sees(self, group: &str) -> String {
        self.pick(
            format!(
                "{group} привязана; бот в ней участник с выключенным режимом приватности и видит \
                 все комментарии"
            ),
            format!(
                "{group} is linked; the bot is a member there with privacy mode off and sees \
                 every comment"
            ),
        )
    }

    pub fn discussion_member_blind(self, group: &str) -> String {
        let how = self.privacy_off_how();
        self.pick(
            format!(
                "бот не администратор в {group}, и режим приватности включён, поэтому комментарии \
                 до него не доходят: сделайте бота администратором группы или {how}"
            ),
            format!(
                "the bot is not an admin of {group} and privacy mode is on, so comments never \
                 reach it: make the bot an admin of the group, or {how}"
            ),
        )
    }

    pub fn discussion_muted(self, group: &str) -> String {
        self.pick(
            format!(
                "бот не может писать в {group}, поэтому ответы сотрудников не опубликовать: \
                 снимите с него ограничения и сделайте администратором"
            ),
            format!(
                "the bot may not write in {group}, so staff replies cannot be posted: lift its \
                 restrictions and make it an admin"
            ),
        )
    }

    pub fn discussion_absent(self, group: &str) -> String {
        self.pick(
            format!("бота нет в {group}: добавьте его и сделайте там администратором"),
            format!("the bot is not in {group}: add it and make it an admin there"),
        )
    }

    pub fn group_admin(self) -> String {
        self.pick(
            "бот — администратор и видит все сообщения",
            "the bot is an admin and sees every message",
        )
        .to_owned()
    }

    pub fn group_member_sees(self) -> String {
        self.pick(
            "бот — участник с выключенным режимом приватности и видит все сообщения",
            "the bot is a member with privacy mode off and sees every message",
        )
        .to_owned()
    }

    pub fn group_member_blind(self) -> String {
        let how = self.privacy_off_how();
        self.pick(
            format!(
                "бот не администратор, и режим приватности включён, поэтому комментарии, которые \
                 не отвечают на сообщения самого бота, и файлы альбомов до него не доходят: \
                 сделайте бота администратором группы или {how}"
            ),
            format!(
                "the bot is not an admin and privacy mode is on, so comments that do not reply \
                 to the bot's own messages, and the files of albums, never reach it: make the bot \
                 an admin of the group, or {how}"
            ),
        )
    }

    pub fn group_muted(self) -> String {
        self.pick(
            "бот не может здесь писать: снимите с него ограничения и сделайте администратором",
            "the bot may not write here: lift its restrictions and make it an admin",
        )
        .to_owned()
    }

    pub fn group_absent(self) -> String {
        self.pick(
            "бота нет в группе: добавьте его и сделайте администратором",
            "the bot is not in the group: add it and make it an admin",
        )
        .to_owned()
    }

    pub fn forum_absent(self) -> String {
        self.pick(
            "бота нет в форуме: добавьте его и сделайте администратором с правом «Управление \
             темами»",
            "the bot is not in the forum: add it and make it an admin with «Manage topics»",
        )
        .to_owned()
    }

    pub fn forum_ok(self) -> String {
        self.pick(
            "бот — администратор, который может управлять темами, и видит все сообщения",
            "the bot is an admin that may manage topics and sees every message",
        )
        .to_owned()
    }

    pub fn forum_no_topics(self) -> String {
        self.pick(
            "бот не может управлять темами, поэтому темы заявок не создать и не закрыть: \
             сделайте бота администратором группы с правом «Управление темами»",
            "the bot may not manage topics, so ticket topics cannot be created or closed: make \
             the bot an admin of the group with «Manage topics»",
        )
        .to_owned()
    }

    pub fn may_pin(self) -> String {
        self.pick(
            "бот может закрепить пост «Новая заявка» (`teledesk pin`)",
            "the bot may pin the «Новая заявка» post (`teledesk pin`)",
        )
        .to_owned()
    }

    pub fn may_not_pin(self) -> String {
        self.pick(
            "бот не может закреплять, поэтому `teledesk pin` не закрепит пост «Новая заявка»: \
             сделайте его администратором с правом «Закрепление сообщений»",
            "the bot may not pin, so `teledesk pin` cannot pin the «Новая заявка» post: make it \
             an admin with «Pin messages»",
        )
        .to_owned()
    }

    // --- teledesk doctor: helpdesks ----------------------------------------------------------

    /// `part`: the table checked (`[chats.ticket]`, a category's, the intake fields').
    pub fn chat_ticket_subject(self, chat: i64, part: &crate::doctor::TicketTable) -> String {
        use crate::doctor::TicketTable;
        let part = match part {
            TicketTable::Defaults => "[chats.ticket]".to_owned(),
            TicketTable::Category(id) => {
                self.pick(format!("категория \"{id}\""), format!("category \"{id}\""))
            }
            TicketTable::Fields => self.pick("поля [[chats.fields]]", "fields").to_owned(),
            TicketTable::RegisteredAt => self
                .pick("время регистрации registered_at", "registered_at")
                .to_owned(),
        };
        self.pick(format!("чат {chat} {part}"), format!("chat {chat} {part}"))
    }

    pub fn fields_unchecked(self, kind: &str) -> String {
        self.pick(
            format!(
                "{kind} не может проверить, есть ли в хелпдеске поля анкеты (capability \
                 check_fields = false); убедитесь в этом сами"
            ),
            format!(
                "{kind} cannot tell whether the intake fields exist (capability check_fields = \
                 false); make sure they do"
            ),
        )
    }

    pub fn ticket_defaults_wrong(self, problems: &str) -> String {
        self.pick(
            format!("{problems}: новые заявки этого чата не создадутся, пока это не исправлено"),
            format!("{problems}: new tickets of this chat will fail until it is fixed"),
        )
    }

    pub fn ticket_defaults_unchecked(self, error: &str) -> String {
        self.pick(
            format!("не удалось проверить по хелпдеску ({error})"),
            format!("could not be checked against the helpdesk ({error})"),
        )
    }

    /// A helpdesk that did not answer within `secs`.
    pub fn no_answer(self, secs: u64) -> String {
        self.pick(
            format!("нет ответа за {secs} с"),
            format!("no answer in {secs} s"),
        )
    }

    pub fn helpdesk_subject(self, name: &str, kind: &str) -> String {
        self.pick(
            format!("хелпдеск {name} ({kind})"),
            format!("helpdesk {name} ({kind})"),
        )
    }

    pub fn authorised(self, name: &str, id: &str) -> String {
        self.pick(
            format!("авторизован как {name} (id {id})"),
            format!("authorised as {name} (id {id})"),
        )
    }

    pub fn helpdesk_refused(self, message: &str, table: &str) -> String {
        self.pick(
            format!(
                "хелпдеск отклонил учётные данные ({message}): проверьте токен или пользователя \
                 и пароль в {table} и что учётной записи разрешён API"
            ),
            format!(
                "the helpdesk refused the credentials ({message}): check the token or user and \
                 password in {table}, and that the account may use the API"
            ),
        )
    }

    pub fn helpdesk_silent(self, message: &str, table: &str) -> String {
        self.pick(
            format!(
                "хелпдеск не ответил ({message}): проверьте url в {table} и сеть, затем \
                 запустите doctor снова"
            ),
            format!(
                "the helpdesk did not answer ({message}): check url in {table} and the network, \
                 then run doctor again"
            ),
        )
    }

    pub fn helpdesk_no_api(self, message: &str, table: &str) -> String {
        self.pick(
            format!("по указанному адресу нет API ({message}): проверьте url в {table}"),
            format!("no API at the configured address ({message}): check url in {table}"),
        )
    }

    pub fn helpdesk_config(self, message: &str, table: &str) -> String {
        self.pick(
            format!("{message}: исправьте в {table}"),
            format!("{message}: fix it in {table}"),
        )
    }

    pub fn helpdesk_other(self, error: &str, table: &str) -> String {
        self.pick(
            format!("{error}: проверьте {table}"),
            format!("{error}: check {table}"),
        )
    }
}

/// A finding of `teledesk check` that teledesk says in both languages. The values in it are the
/// config's own words (keys, names, paths) and stay as they are.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigText {
    /// What an adapter found wrong in its table (boxed: the largest kinds would make every
    /// finding as large).
    Adapter(Box<Problem>),
    /// An intake field's sample value that the adapter refuses at `key` of the ticket.
    CannotWrite {
        kind: String,
        key: String,
        problem: Box<Problem>,
    },
    /// A helpdesk `kind` that is not in this build; `planned` when it is a kind teledesk plans.
    UnknownKind {
        kind: String,
        available: String,
        planned: bool,
    },
    UnknownKey {
        key: String,
        allowed: String,
    },
    WrongType {
        expected: Expected,
        found: TomlType,
    },
    MissingKey,
    UnknownValue {
        value: String,
        expected: String,
    },
    MissingTable {
        table: String,
    },
    LiteralSecret,
    NoHelpdesks,
    NoChats,
    EnvNeedsName,
    EnvNotSet {
        name: String,
    },
    EnvEmpty {
        name: String,
    },
    FileNeedsPath,
    FileUnreadable {
        path: String,
        why: String,
    },
    FileEmpty {
        path: String,
    },
    SecretEmpty,
    // --- the file ---
    /// The file cannot be read; `error` is the system's words.
    Unreadable {
        path: String,
        error: String,
    },
    /// Not valid TOML; `message` is the TOML parser's words.
    InvalidToml {
        message: String,
    },
    Incomplete,
    // --- values ---
    Empty,
    IntegerOutOfRange,
    NotFinite,
    InvalidUrl {
        text: String,
        https_only: bool,
    },
    InvalidSocket {
        text: String,
    },
    InvalidDuration {
        text: String,
    },
    InvalidSize {
        text: String,
    },
    // --- [telegram] and [server] ---
    WebhookSecretChars,
    WebhookSecretRequired,
    PublicUrlForWebhook,
    AdminNotPositive,
    AdminListenSame {
        listen: String,
    },
    MiniAppName {
        name: String,
    },
    PublicUrlForMiniApp,
    // --- helpdesks and chats ---
    MaxInFlight {
        max: i64,
    },
    DuplicateChat {
        id: i64,
        first: String,
        first_line: usize,
    },
    NoSuchHelpdesk {
        name: String,
        defined: String,
    },
    ChatIdPositive,
    BasicGroupId {
        mode: &'static str,
        id: i64,
    },
    DuplicateCompany {
        company: String,
    },
    FileCount {
        max: i64,
        count: i64,
    },
    FileSizeRange {
        text: String,
    },
    // --- categories and intake fields ---
    IdForm,
    DuplicateCategory {
        id: String,
        line: usize,
    },
    SingleCategory,
    DuplicateField {
        id: String,
        line: usize,
    },
    TargetTwice {
        target: String,
        other: String,
        line: usize,
    },
    /// `reason` is the regex library's words.
    InvalidRegex {
        reason: String,
    },
    TargetForm,
    ChoicesOnlyForChoice {
        kind: &'static str,
    },
    NoPatternFor {
        kind: &'static str,
    },
    ExampleMismatch {
        example: String,
    },
    TargetUnconfirmed {
        kind: String,
        target: String,
    },
    NoChoices,
    ChoiceIdTooLong,
    DuplicateChoice {
        id: String,
    },
    NoCustomFields {
        kind: String,
    },
    /// `registered_at` on a helpdesk `kind` without custom ticket fields.
    NoRegisteredField {
        kind: String,
    },
}

impl ConfigText {
    pub fn render(&self, lang: Lang) -> String {
        use ConfigText::*;
        match (lang, self) {
            (_, Adapter(problem)) => problems::problem(lang, problem),
            (Lang::En, CannotWrite { kind, key, problem }) => {
                format!("{kind} cannot write `{key}`: {problem}")
            }
            (Lang::Ru, CannotWrite { kind, key, problem }) => format!(
                "{kind} не может записать `{key}`: {}",
                problems::problem(lang, problem)
            ),
            (
                Lang::En,
                UnknownKind {
                    kind,
                    available,
                    planned: true,
                },
            ) => format!(
                "helpdesk kind `{kind}` is not available in this build yet; available: {available}"
            ),
            (
                Lang::Ru,
                UnknownKind {
                    kind,
                    available,
                    planned: true,
                },
            ) => format!(
                "хелпдеск вида `{kind}` в этой сборке пока недоступен; доступны: {available}"
            ),
            (
                Lang::En,
                UnknownKind {
                    kind,
                    available,
                    planned: false,
                },
            ) => {
                format!("unknown kind `{kind}`; expected one of {available}")
            }
            (
                Lang::Ru,
                UnknownKind {
                    kind,
                    available,
                    planned: false,
                },
            ) => {
                format!("неизвестный вид `{kind}`; ожидается один из: {available}")
            }
            (Lang::En, UnknownKey { key, allowed }) => {
                format!("unknown key `{key}`; expected one of {allowed}")
            }
            (Lang::Ru, UnknownKey { key, allowed }) => {
                format!("неизвестный ключ `{key}`; ожидается один из: {allowed}")
            }
            (Lang::En, WrongType { expected, found }) => {
                format!("must be {}, found {}", expected.say(lang), found.say(lang))
            }
            (Lang::Ru, WrongType { expected, found }) => format!(
                "ожидается {}, найдено: {}",
                expected.say(lang),
                found.say(lang)
            ),
            (Lang::En, MissingKey) => "missing required key".into(),
            (Lang::Ru, MissingKey) => "не хватает обязательного ключа".into(),
            (Lang::En, UnknownValue { value, expected }) => {
                format!("unknown value \"{value}\"; expected one of {expected}")
            }
            (Lang::Ru, UnknownValue { value, expected }) => {
                format!("неизвестное значение \"{value}\"; ожидается одно из: {expected}")
            }
            (Lang::En, MissingTable { table }) => format!("missing required table [{table}]"),
            (Lang::Ru, MissingTable { table }) => {
                format!("не хватает обязательной таблицы [{table}]")
            }
            (Lang::En, LiteralSecret) => {
                "literal secret in the config file; use env:NAME or file:/path".into()
            }
            (Lang::Ru, LiteralSecret) => {
                "секрет записан прямо в файле конфигурации; используйте env:NAME или file:/path"
                    .into()
            }
            (Lang::En, NoHelpdesks) => {
                "at least one helpdesk is required, e.g. [helpdesks.main]".into()
            }
            (Lang::Ru, NoHelpdesks) => {
                "нужна хотя бы одна helpdesk-система, например [helpdesks.main]".into()
            }
            (Lang::En, NoChats) => "at least one chat is required: add a [[chats]] section".into(),
            (Lang::Ru, NoChats) => "нужен хотя бы один чат: добавьте раздел [[chats]]".into(),
            (Lang::En, EnvNeedsName) => {
                "`env:` needs a variable name, e.g. \"env:TELEDESK_BOT_TOKEN\"".into()
            }
            (Lang::Ru, EnvNeedsName) => {
                "после `env:` нужно имя переменной, например \"env:TELEDESK_BOT_TOKEN\"".into()
            }
            (Lang::En, EnvNotSet { name }) => format!("environment variable `{name}` is not set"),
            (Lang::Ru, EnvNotSet { name }) => format!("переменная окружения `{name}` не задана"),
            (Lang::En, EnvEmpty { name }) => format!("environment variable `{name}` is empty"),
            (Lang::Ru, EnvEmpty { name }) => format!("переменная окружения `{name}` пуста"),
            (Lang::En, FileNeedsPath) => {
                "`file:` needs a path, e.g. \"file:/run/secrets/token\"".into()
            }
            (Lang::Ru, FileNeedsPath) => {
                "после `file:` нужен путь, например \"file:/run/secrets/token\"".into()
            }
            (Lang::En, FileUnreadable { path, why }) => {
                format!("cannot read secret file `{path}`: {why}")
            }
            (Lang::Ru, FileUnreadable { path, why }) => {
                format!("не удаётся прочитать файл секрета `{path}`: {why}")
            }
            (Lang::En, FileEmpty { path }) => format!("secret file `{path}` is empty"),
            (Lang::Ru, FileEmpty { path }) => format!("файл секрета `{path}` пуст"),
            (Lang::En, SecretEmpty) => "must not be empty; use env:NAME or file:/path".into(),
            (Lang::Ru, SecretEmpty) => {
                "не может быть пустым; используйте env:NAME или file:/path".into()
            }
            (Lang::En, Unreadable { path, error }) => format!("cannot read {path}: {error}"),
            (Lang::Ru, Unreadable { path, error }) => {
                format!("не удаётся прочитать {path}: {error}")
            }
            (Lang::En, InvalidToml { message }) => format!("invalid TOML: {message}"),
            (Lang::Ru, InvalidToml { message }) => {
                format!("файл не является корректным TOML (сообщение разборщика: {message})")
            }
            (Lang::En, Incomplete) => "the config is incomplete".into(),
            (Lang::Ru, Incomplete) => "конфигурация неполна".into(),
            (Lang::En, Empty) => "must not be empty".into(),
            (Lang::Ru, Empty) => "не может быть пустым".into(),
            (Lang::En, IntegerOutOfRange) => "integer out of range".into(),
            (Lang::Ru, IntegerOutOfRange) => "целое число вне допустимого диапазона".into(),
            (Lang::En, NotFinite) => "must be a finite number".into(),
            (Lang::Ru, NotFinite) => "должно быть конечным числом".into(),
            (Lang::En, InvalidUrl { text, https_only }) => format!(
                "invalid URL \"{text}\"; expected {}",
                if *https_only {
                    "an https URL, e.g. \"https://desk.example.com\" (http only on loopback)"
                } else {
                    "an http or https URL, e.g. \"https://api.telegram.org\""
                }
            ),
            (Lang::Ru, InvalidUrl { text, https_only }) => format!(
                "недопустимый URL \"{text}\"; ожидается {}",
                if *https_only {
                    "URL с https, например \"https://desk.example.com\" (http — только на \
                     loopback)"
                } else {
                    "URL с http или https, например \"https://api.telegram.org\""
                }
            ),
            (Lang::En, InvalidSocket { text }) => format!(
                "invalid socket address \"{text}\"; expected an IP and a port, e.g. \
                 \"127.0.0.1:8080\" or \"[::]:8080\""
            ),
            (Lang::Ru, InvalidSocket { text }) => format!(
                "недопустимый адрес \"{text}\"; ожидаются IP и порт, например \
                 \"127.0.0.1:8080\" или \"[::]:8080\""
            ),
            (Lang::En, InvalidDuration { text }) => format!(
                "invalid duration \"{text}\"; expected a whole number and a unit: {}",
                examples(lang, DURATIONS)
            ),
            (Lang::Ru, InvalidDuration { text }) => format!(
                "недопустимая длительность \"{text}\"; ожидается целое число и единица: {}",
                examples(lang, DURATIONS)
            ),
            (Lang::En, InvalidSize { text }) => format!(
                "invalid size \"{text}\"; expected a whole number and a unit: {}",
                examples(lang, SIZES)
            ),
            (Lang::Ru, InvalidSize { text }) => format!(
                "недопустимый размер \"{text}\"; ожидается целое число и единица: {}",
                examples(lang, SIZES)
            ),
            (Lang::En, WebhookSecretChars) => {
                "Telegram requires 1-256 characters of A-Z, a-z, 0-9, _ and -".into()
            }
            (Lang::Ru, WebhookSecretChars) => {
                "Telegram требует от 1 до 256 символов из A-Z, a-z, 0-9, _ и -".into()
            }
            (Lang::En, WebhookSecretRequired) => {
                "required when updates = \"webhook\"; Telegram sends it with every webhook call"
                    .into()
            }
            (Lang::Ru, WebhookSecretRequired) => "обязателен при updates = \"webhook\": Telegram \
                                                  присылает его с каждым вызовом вебхука"
                .into(),
            (Lang::En, PublicUrlForWebhook) => "required when telegram.updates = \"webhook\"; \
                                                Telegram needs an https URL to call"
                .into(),
            (Lang::Ru, PublicUrlForWebhook) => "обязателен при telegram.updates = \"webhook\": \
                                                Telegram нужен https-адрес для вызовов"
                .into(),
            (Lang::En, AdminNotPositive) => "must be a positive Telegram user id".into(),
            (Lang::Ru, AdminNotPositive) => {
                "должно быть положительным id пользователя Telegram".into()
            }
            (Lang::En, AdminListenSame { listen }) => format!(
                "the same address as server.listen ({listen}); give the admin listener its own"
            ),
            (Lang::Ru, AdminListenSame { listen }) => format!(
                "тот же адрес, что и server.listen ({listen}); дайте служебному адресу свой"
            ),
            (Lang::En, MiniAppName { name }) => format!(
                "invalid Mini App short name \"{name}\"; expected the 3-30 letters, digits or \
                 underscores given to BotFather's /newapp, e.g. \"desk\""
            ),
            (Lang::Ru, MiniAppName { name }) => format!(
                "недопустимое короткое имя Mini App \"{name}\"; ожидаются 3–30 латинских букв, \
                 цифр или подчёркиваний, заданных в /newapp у BotFather, например \"desk\""
            ),
            (Lang::En, PublicUrlForMiniApp) => {
                "required with server.mini_app; BotFather's Mini App URL is <public_url>/app/"
                    .into()
            }
            (Lang::Ru, PublicUrlForMiniApp) => "обязателен при server.mini_app: URL Mini App в \
                                                BotFather — <public_url>/app/"
                .into(),
            (Lang::En, MaxInFlight { max }) => {
                format!("must be from 1 to {max} (tickets worked on at once)")
            }
            (Lang::Ru, MaxInFlight { max }) => {
                format!("должно быть от 1 до {max} (заявок в работе одновременно)")
            }
            (
                Lang::En,
                DuplicateChat {
                    id,
                    first,
                    first_line,
                },
            ) => format!("duplicate chat id {id}; already used by {first} (line {first_line})"),
            (
                Lang::Ru,
                DuplicateChat {
                    id,
                    first,
                    first_line,
                },
            ) => format!("повторяется id чата {id}; он уже указан в {first} (строка {first_line})"),
            (Lang::En, NoSuchHelpdesk { name, defined }) => {
                format!("no helpdesk named `{name}` ([helpdesks.{name}]); defined: {defined}")
            }
            (Lang::Ru, NoSuchHelpdesk { name, defined }) => {
                format!("нет хелпдеска `{name}` ([helpdesks.{name}]); заданы: {defined}")
            }
            (Lang::En, ChatIdPositive) => "must be a negative chat id (a group, supergroup or \
                                           channel); positive ids are users"
                .into(),
            (Lang::Ru, ChatIdPositive) => "должно быть отрицательным id чата (группы, \
                                           супергруппы или канала); положительные id — это \
                                           пользователи"
                .into(),
            (Lang::En, BasicGroupId { mode, id }) => format!(
                "{mode} ids start with -100 (e.g. -1001234567890); {id} looks like a basic group"
            ),
            (Lang::Ru, BasicGroupId { mode, id }) => format!(
                "id для mode = \"{mode}\" начинаются с -100 (например -1001234567890); {id} \
                 похож на обычную группу"
            ),
            (Lang::En, DuplicateCompany { company }) => {
                format!("duplicate company \"{company}\"")
            }
            (Lang::Ru, DuplicateCompany { company }) => {
                format!("компания \"{company}\" указана дважды")
            }
            (Lang::En, FileCount { max, count }) => {
                format!("must be between 0 (no files) and {max}, found {count}")
            }
            (Lang::Ru, FileCount { max, count }) => {
                format!("должно быть от 0 (без файлов) до {max}, найдено {count}")
            }
            (Lang::En, FileSizeRange { text }) => format!(
                "must be more than 0 and at most \"1GB\", found \"{text}\"; max_count = 0 takes \
                 no files"
            ),
            (Lang::Ru, FileSizeRange { text }) => format!(
                "должно быть больше 0 и не больше \"1GB\", найдено \"{text}\"; чтобы не \
                 принимать файлы, укажите max_count = 0"
            ),
            (Lang::En, IdForm) => "must be at most 32 characters of a-z, A-Z, 0-9, _ and -".into(),
            (Lang::Ru, IdForm) => {
                "должно быть не длиннее 32 символов из a-z, A-Z, 0-9, _ и -".into()
            }
            (Lang::En, DuplicateCategory { id, line }) => {
                format!("duplicate category id \"{id}\"; already used on line {line}")
            }
            (Lang::Ru, DuplicateCategory { id, line }) => {
                format!("повторяется id категории \"{id}\"; он уже указан в строке {line}")
            }
            (Lang::En, SingleCategory) => "a single category is never asked: every ticket goes \
                                           there; set its table in [chats.ticket] instead"
                .into(),
            (Lang::Ru, SingleCategory) => "единственную категорию не спрашивают: все заявки \
                                           попадают в неё; задайте её таблицу в [chats.ticket]"
                .into(),
            (Lang::En, DuplicateField { id, line }) => {
                format!("duplicate field id \"{id}\"; already used on line {line}")
            }
            (Lang::Ru, DuplicateField { id, line }) => {
                format!("повторяется id поля \"{id}\"; он уже указан в строке {line}")
            }
            (
                Lang::En,
                TargetTwice {
                    target,
                    other,
                    line,
                },
            ) => format!(
                "helpdesk field `{target}` is mapped twice: field \"{other}\" (line {line}) \
                 already writes it"
            ),
            (
                Lang::Ru,
                TargetTwice {
                    target,
                    other,
                    line,
                },
            ) => format!(
                "поле хелпдеска `{target}` указано дважды: его уже заполняет поле \"{other}\" \
                 (строка {line})"
            ),
            (Lang::En, InvalidRegex { reason }) => format!("invalid regular expression: {reason}"),
            (Lang::Ru, InvalidRegex { reason }) => {
                format!("недопустимое регулярное выражение (сообщение библиотеки: {reason})")
            }
            (Lang::En, TargetForm) => {
                "must name a ticket field like \"custom_fields.8\" or \"locations_id\"".into()
            }
            (Lang::Ru, TargetForm) => {
                "должно называть поле заявки, например \"custom_fields.8\" или \"locations_id\""
                    .into()
            }
            (Lang::En, ChoicesOnlyForChoice { kind }) => {
                format!("only a field of type \"choice\" has choices, not \"{kind}\"")
            }
            (Lang::Ru, ChoicesOnlyForChoice { kind }) => {
                format!("варианты бывают только у поля типа \"choice\", не \"{kind}\"")
            }
            (Lang::En, NoPatternFor { kind }) => {
                format!("a field of type \"{kind}\" takes no pattern")
            }
            (Lang::Ru, NoPatternFor { kind }) => {
                format!("у поля типа \"{kind}\" не бывает pattern")
            }
            (Lang::En, ExampleMismatch { example }) => {
                format!("\"{example}\" does not match the field's own pattern")
            }
            (Lang::Ru, ExampleMismatch { example }) => {
                format!("\"{example}\" не подходит под pattern этого же поля")
            }
            (Lang::En, TargetUnconfirmed { kind, target }) => format!(
                "{kind} cannot confirm that `{target}` exists in the helpdesk (capability \
                 check_fields = false; teledesk doctor cannot either): make sure it does, or the \
                 helpdesk may drop the value"
            ),
            (Lang::Ru, TargetUnconfirmed { kind, target }) => format!(
                "{kind} не может подтвердить, что `{target}` есть в хелпдеске (capability \
                 check_fields = false; teledesk doctor тоже не сможет): убедитесь в этом сами, \
                 иначе хелпдеск может отбросить значение"
            ),
            (Lang::En, NoChoices) => "a choice field needs at least one choice".into(),
            (Lang::Ru, NoChoices) => "полю типа choice нужен хотя бы один вариант".into(),
            (Lang::En, ChoiceIdTooLong) => "must be at most 40 bytes".into(),
            (Lang::Ru, ChoiceIdTooLong) => "должно быть не длиннее 40 байт".into(),
            (Lang::En, DuplicateChoice { id }) => format!("duplicate choice id {id}"),
            (Lang::Ru, DuplicateChoice { id }) => format!("повторяется id варианта {id}"),
            (Lang::En, NoCustomFields { kind }) => format!(
                "{kind} has no custom ticket fields (capability custom_fields = false): only a \
                 choice field can target one of the ticket's own fields; remove `target` to keep \
                 the value in the description"
            ),
            (Lang::Ru, NoCustomFields { kind }) => format!(
                "у {kind} нет пользовательских полей заявок (capability custom_fields = false): \
                 только поле типа choice может заполнять собственное поле заявки; уберите \
                 `target`, чтобы значение осталось в описании"
            ),
            (Lang::En, NoRegisteredField { kind }) => format!(
                "{kind} has no custom ticket fields (capability custom_fields = false): the \
                 registration time stays in the ticket's description; remove `registered_at`"
            ),
            (Lang::Ru, NoRegisteredField { kind }) => format!(
                "у {kind} нет пользовательских полей заявок (capability custom_fields = false): \
                 время регистрации остаётся в описании заявки; уберите `registered_at`"
            ),
        }
    }
}

/// What a value must be ([`ConfigText::WrongType`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    String,
    Integer,
    Boolean,
    Table,
    Strings,
    /// `[[chats]]`.
    Chats,
    /// `[[chats.<key>]]`.
    Tables(String),
    AdminIds,
    AdminId,
    TicketCount,
    /// A secret reference or the secret itself.
    Secret,
    /// A choice's id.
    StringOrInteger,
    Duration,
}

impl Expected {
    fn say(&self, lang: Lang) -> String {
        let ru = lang == Lang::Ru;
        let text = |ru_text: &str, en: &str| {
            if ru {
                ru_text.to_owned()
            } else {
                en.to_owned()
            }
        };
        match self {
            Self::String => text("строка", "a string"),
            Self::Integer => text("целое число", "an integer"),
            Self::Boolean => text("true или false", "true or false"),
            Self::Table => text("таблица", "a table"),
            Self::Strings => text("массив строк", "an array of strings"),
            Self::Chats => text(
                "массив таблиц ([[chats]])",
                "an array of tables ([[chats]])",
            ),
            Self::Tables(key) => text(
                &format!("массив таблиц ([[...{key}]])"),
                &format!("an array of tables ([[...{key}]])"),
            ),
            Self::AdminIds => text(
                "массив id пользователей Telegram",
                "an array of Telegram user ids",
            ),
            Self::AdminId => text(
                "целое число (id пользователя Telegram)",
                "an integer (a Telegram user id)",
            ),
            Self::TicketCount => text("целое число заявок", "a whole number of tickets"),
            Self::Secret => text(
                "строка (\"env:NAME\", \"file:/path\" или сам секрет)",
                "a string (\"env:NAME\", \"file:/path\" or the secret)",
            ),
            Self::StringOrInteger => text(
                "непустая строка или целое число",
                "a non-empty string or an integer",
            ),
            Self::Duration => format!(
                "{} {}",
                text("строка длительности, например", "a duration string like"),
                examples(lang, DURATIONS)
            ),
        }
    }
}

/// A TOML value's type, as a finding names what it found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TomlType {
    String,
    Integer,
    Float,
    Boolean,
    Datetime,
    Array,
    Table,
}

impl TomlType {
    fn say(self, lang: Lang) -> &'static str {
        match (lang, self) {
            (Lang::En, Self::String) => "string",
            (Lang::En, Self::Integer) => "integer",
            (Lang::En, Self::Float) => "float",
            (Lang::En, Self::Boolean) => "boolean",
            (Lang::En, Self::Datetime) => "datetime",
            (Lang::En, Self::Array) => "array",
            (Lang::En, Self::Table) => "table",
            (Lang::Ru, Self::String) => "строка",
            (Lang::Ru, Self::Integer) => "целое число",
            (Lang::Ru, Self::Float) => "дробное число",
            (Lang::Ru, Self::Boolean) => "логическое значение",
            (Lang::Ru, Self::Datetime) => "дата и время",
            (Lang::Ru, Self::Array) => "массив",
            (Lang::Ru, Self::Table) => "таблица",
        }
    }
}

/// The shapes of a duration and of a size that findings show (`config::duration`, `config::size`).
const DURATIONS: &[&str] = &["500ms", "30s", "5m", "1h"];
const SIZES: &[&str] = &["500KB", "20MB", "1GB"];

/// `"500ms", "30s", "5m" or "1h"`, with the language's "or".
fn examples(lang: Lang, items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("\"{item}\"")).collect();
    let (last, rest) = quoted.split_last().expect("examples are not empty");
    let or = if lang == Lang::Ru { "или" } else { "or" };
    format!("{} {or} {last}", rest.join(", "))
}

/// English, as the findings' `message` holds it.
impl std::fmt::Display for ConfigText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

fn en_count(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// `1 чат`, `2 чата`, `5 чатов`: Russian picks the form by the last digits.
fn ru_count(count: usize, one: &str, few: &str, many: &str) -> String {
    let form = match (count % 10, count % 100) {
        (1, n) if n != 11 => one,
        (2..=4, n) if !(12..=14).contains(&n) => few,
        _ => many,
    };
    format!("{count} {form}")
}

/// The language of operator messages when `--lang` is not given: Russian when the environment's
/// locale is (`LC_ALL`, then `LC_MESSAGES`, then `LANG`, as POSIX orders them), else English.
pub fn lang_from_env(get: impl Fn(&str) -> Option<String>) -> Lang {
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|name| get(name))
        .find(|value| !value.is_empty())
        .unwrap_or_default();
    if locale.to_ascii_lowercase().starts_with("ru") {
        Lang::Ru
    } else {
        Lang::En
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One finding of every kind and sub-kind (with every [`Expected`] and every [`TomlType`]).
    fn every_config_text() -> Vec<ConfigText> {
        use ConfigText::*;
        let s = |text: &str| text.to_owned();
        let mut all = vec![
            Adapter(Box::new(Problem::Required)),
            CannotWrite {
                kind: s("rt"),
                key: s("custom_fields.Contract"),
                problem: Box::new(Problem::NotOneLine),
            },
            UnknownKey {
                key: s("admin"),
                allowed: s("token, admins"),
            },
            MissingKey,
            UnknownValue {
                value: s("poll"),
                expected: s("polling, webhook"),
            },
            MissingTable { table: s("store") },
            LiteralSecret,
            NoHelpdesks,
            NoChats,
            EnvNeedsName,
            EnvNotSet {
                name: s("KAITEN_TOKEN"),
            },
            EnvEmpty {
                name: s("KAITEN_TOKEN"),
            },
            FileNeedsPath,
            FileUnreadable {
                path: s("/run/secrets/token"),
                why: s("permission denied"),
            },
            FileEmpty {
                path: s("/run/secrets/token"),
            },
            SecretEmpty,
            Unreadable {
                path: s("m.toml"),
                error: s("No such file or directory (os error 2)"),
            },
            InvalidToml {
                message: s("expected `=`"),
            },
            Incomplete,
            Empty,
            IntegerOutOfRange,
            NotFinite,
            InvalidSocket {
                text: s("localhost"),
            },
            InvalidDuration {
                text: s("30 seconds"),
            },
            InvalidSize { text: s("2 GB") },
            WebhookSecretChars,
            WebhookSecretRequired,
            PublicUrlForWebhook,
            AdminNotPositive,
            AdminListenSame {
                listen: s("127.0.0.1:8080"),
            },
            MiniAppName { name: s("a b") },
            PublicUrlForMiniApp,
            MaxInFlight { max: 1024 },
            DuplicateChat {
                id: -1001,
                first: s("chats[0]"),
                first_line: 15,
            },
            NoSuchHelpdesk {
                name: s("mian"),
                defined: s("main"),
            },
            ChatIdPositive,
            BasicGroupId {
                mode: "group",
                id: -4001,
            },
            DuplicateCompany { company: s("A") },
            FileCount {
                max: 100,
                count: 101,
            },
            FileSizeRange { text: s("2GB") },
            IdForm,
            DuplicateCategory {
                id: s("net"),
                line: 3,
            },
            SingleCategory,
            DuplicateField {
                id: s("inn"),
                line: 3,
            },
            TargetTwice {
                target: s("custom_fields.8"),
                other: s("inn"),
                line: 3,
            },
            InvalidRegex {
                reason: s("unclosed group"),
            },
            TargetForm,
            ChoicesOnlyForChoice { kind: "text" },
            NoPatternFor { kind: "choice" },
            ExampleMismatch { example: s("12") },
            TargetUnconfirmed {
                kind: s("rt"),
                target: s("custom_fields.Contract"),
            },
            NoChoices,
            ChoiceIdTooLong,
            DuplicateChoice { id: s("a") },
            NoCustomFields { kind: s("kaiten") },
            NoRegisteredField { kind: s("glpi") },
        ];
        for planned in [true, false] {
            all.push(UnknownKind {
                kind: s("jira"),
                available: s("kaiten, rt"),
                planned,
            });
        }
        for https_only in [true, false] {
            all.push(InvalidUrl {
                text: s("ftp://x"),
                https_only,
            });
        }
        let expected = [
            Expected::String,
            Expected::Integer,
            Expected::Boolean,
            Expected::Table,
            Expected::Strings,
            Expected::Chats,
            Expected::Tables(s("fields")),
            Expected::AdminIds,
            Expected::AdminId,
            Expected::TicketCount,
            Expected::Secret,
            Expected::StringOrInteger,
            Expected::Duration,
        ];
        let found = [
            TomlType::String,
            TomlType::Integer,
            TomlType::Float,
            TomlType::Boolean,
            TomlType::Datetime,
            TomlType::Array,
            TomlType::Table,
        ];
        for (i, expected) in expected.into_iter().enumerate() {
            all.push(WrongType {
                expected,
                found: found[i % found.len()],
            });
        }
        all
    }

    /// The kind of `text`, numbered; no catch-all arm, so a new kind fails to compile here and
    /// then fails the test until it has a sample above.
    fn ordinal(text: &ConfigText) -> usize {
        use ConfigText::*;
        match text {
            Adapter(_) => 0,
            CannotWrite { .. } => 1,
            UnknownKind { .. } => 2,
            UnknownKey { .. } => 3,
            WrongType { .. } => 4,
            MissingKey => 5,
            UnknownValue { .. } => 6,
            MissingTable { .. } => 7,
            LiteralSecret => 8,
            NoHelpdesks => 9,
            NoChats => 10,
            EnvNeedsName => 11,
            EnvNotSet { .. } => 12,
            EnvEmpty { .. } => 13,
            FileNeedsPath => 14,
            FileUnreadable { .. } => 15,
            FileEmpty { .. } => 16,
            SecretEmpty => 17,
            Unreadable { .. } => 18,
            InvalidToml { .. } => 19,
            Incomplete => 20,
            Empty => 21,
            IntegerOutOfRange => 22,
            NotFinite => 23,
            InvalidUrl { .. } => 24,
            InvalidSocket { .. } => 25,
            InvalidDuration { .. } => 26,
            InvalidSize { .. } => 27,
            WebhookSecretChars => 28,
            WebhookSecretRequired => 29,
            PublicUrlForWebhook => 30,
            AdminNotPositive => 31,
            AdminListenSame { .. } => 32,
            MiniAppName { .. } => 33,
            PublicUrlForMiniApp => 34,
            MaxInFlight { .. } => 35,
            DuplicateChat { .. } => 36,
            NoSuchHelpdesk { .. } => 37,
            ChatIdPositive => 38,
            BasicGroupId { .. } => 39,
            DuplicateCompany { .. } => 40,
            FileCount { .. } => 41,
            FileSizeRange { .. } => 42,
            IdForm => 43,
            DuplicateCategory { .. } => 44,
            SingleCategory => 45,
            DuplicateField { .. } => 46,
            TargetTwice { .. } => 47,
            InvalidRegex { .. } => 48,
            TargetForm => 49,
            ChoicesOnlyForChoice { .. } => 50,
            NoPatternFor { .. } => 51,
            ExampleMismatch { .. } => 52,
            TargetUnconfirmed { .. } => 53,
            NoChoices => 54,
            ChoiceIdTooLong => 55,
            DuplicateChoice { .. } => 56,
            NoCustomFields { .. } => 57,
            NoRegisteredField { .. } => 58,
        }
    }
    const KINDS: usize = 59;

    fn cyrillic(text: &str) -> bool {
        text.chars()
            .any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё'))
    }

    #[test]
    fn every_config_text_is_said_in_both_languages() {
        let all = every_config_text();
        let mut seen = [false; KINDS];
        for text in &all {
            seen[ordinal(text)] = true;
        }
        let missing: Vec<usize> = (0..KINDS).filter(|i| !seen[*i]).collect();
        assert!(missing.is_empty(), "no sample of kinds {missing:?}");
        let mut russian = std::collections::HashSet::new();
        for text in &all {
            let (ru, en) = (text.render(Lang::Ru), text.render(Lang::En));
            assert!(cyrillic(&ru), "{text:?} has no Russian: {ru}");
            assert!(!cyrillic(&en), "{text:?}: {en}");
            assert_eq!(en, text.to_string());
            assert!(russian.insert(ru.clone()), "said twice: {ru}");
        }
        let wrong = ConfigText::WrongType {
            expected: Expected::String,
            found: TomlType::Integer,
        };
        assert_eq!(
            wrong.render(Lang::Ru),
            "ожидается строка, найдено: целое число"
        );
        assert_eq!(wrong.render(Lang::En), "must be a string, found integer");
        let duration = ConfigText::InvalidDuration {
            text: "30 seconds".into(),
        };
        assert_eq!(
            duration.render(Lang::Ru),
            "недопустимая длительность \"30 seconds\"; ожидается целое число и единица: \
             \"500ms\", \"30s\", \"5m\" или \"1h\""
        );
        // A message we do not own is kept whole inside our frame.
        let toml = ConfigText::InvalidToml {
            message: "expected `=`".into(),
        };
        assert!(toml.render(Lang::Ru).contains("expected `=`"));
    }

    #[test]
    fn russian_counts_take_the_right_form() {
        let chats = |n| ru_count(n, "чат", "чата", "чатов");
        assert_eq!(chats(1), "1 чат");
        assert_eq!(chats(3), "3 чата");
        assert_eq!(chats(5), "5 чатов");
        assert_eq!(chats(11), "11 чатов");
        assert_eq!(chats(21), "21 чат");
        assert_eq!(chats(112), "112 чатов");
    }

    #[test]
    fn the_locale_picks_the_language() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(lang_from_env(env(&[("LANG", "ru_RU.UTF-8")])), Lang::Ru);
        assert_eq!(lang_from_env(env(&[("LANG", "en_US.UTF-8")])), Lang::En);
        assert_eq!(lang_from_env(env(&[])), Lang::En);
        assert_eq!(
            lang_from_env(env(&[("LC_ALL", "C"), ("LANG", "ru_RU.UTF-8")])),
            Lang::En,
            "LC_ALL wins"
        );
        assert_eq!(
            lang_from_env(env(&[("LC_ALL", ""), ("LANG", "ru_RU.UTF-8")])),
            Lang::Ru,
            "an empty variable counts as unset"
        );
    }
}
