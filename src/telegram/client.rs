//! Talking to the Bot API: teloxide for sending, a raw `getUpdates` for intake.
//!
//! Intake reads updates as raw JSON so the inbox keeps exactly what Telegram sent (a content type
//! newer than our teloxide release must not turn a client's message into an unparseable update).
//! Every error that leaves this module has the bot token scrubbed from it.

use crate::model::Keyboard;
use crate::telegram::split::{TEXT_LIMIT, split_html};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use teledesk_adapter::{Content, Secret, Spool};
use teloxide::payloads::{
    EditMessageReplyMarkupSetters, EditMessageTextSetters, SendDocumentSetters, SendMessageSetters,
};
use teloxide::prelude::Requester;
use teloxide::types::{
    ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, MessageId, ParseMode,
    ReplyParameters, ThreadId,
};
use teloxide::{ApiError, Bot, RequestError};

/// A Telegram failure, classified by what the caller should do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TgError {
    /// Telegram's flood control: wait this long.
    #[error("Telegram asks to retry after {0:?}")]
    RetryAfter(Duration),
    /// The group became a supergroup with this id.
    #[error("the group was upgraded to supergroup {0}")]
    Migrated(i64),
    /// An edit that would change nothing (not a failure).
    #[error("message is not modified")]
    NotModified,
    /// The bot may not write there (blocked, never started, kicked).
    #[error("{0}")]
    Forbidden(String),
    /// The request itself is wrong; retrying will not help.
    #[error("{0}")]
    Rejected(String),
    /// Network trouble or a Telegram-side error; retry later.
    #[error("{0}")]
    Temporary(String),
}

impl TgError {
    pub fn is_temporary(&self) -> bool {
        matches!(self, TgError::Temporary(_) | TgError::RetryAfter(_))
    }
}

/// The bot's identity, from `getMe`.
#[derive(Clone, Debug)]
pub struct BotIdentity {
    pub id: i64,
    pub username: String,
}

/// The Bot API client.
#[derive(Clone)]
pub struct TelegramClient {
    bot: Bot,
    /// The same bot with [`FILE_TRANSFER_TIMEOUT`] instead of teloxide's 17 s, for the requests
    /// that carry a file: a 20 MB download or a 50 MB upload takes longer than that below about
    /// 10 and 25 Mbit/s, and would otherwise time out on every attempt until it is dead-lettered.
    files: Bot,
    http: reqwest::Client,
    api_url: String,
    token: Secret,
    /// Forum topics (chat, thread) Telegram said no longer exist, so later messages of their
    /// tickets go straight to General instead of failing first each time.
    gone_topics: Arc<Mutex<HashSet<(i64, i32)>>>,
    /// Whether the last request got an answer from Telegram (any answer, a refusal too), for
    /// `/readyz`. True until a request fails to get one.
    answered: Arc<AtomicBool>,
}

impl std::fmt::Debug for TelegramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramClient")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// Updates teledesk asks for. `chat_member` (delivered only where the bot is an admin) tells the
/// Mini App's membership cache that someone left, which a channel announces no other way;
/// reactions are not used.
const ALLOWED_UPDATES: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "my_chat_member",
    "chat_member",
];

impl TelegramClient {
    pub fn new(api_url: &str, token: &Secret) -> Result<Self, String> {
        let api_url = api_url.trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&api_url)
            .map_err(|e| format!("telegram.api_url `{api_url}` is not a URL: {e}"))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // Long polls wait up to POLL_TIMEOUT on the server; give the answer time to arrive.
            .timeout(Duration::from_secs(POLL_TIMEOUT_SECS + 15))
            .build()
            .map_err(|e| e.to_string())?;
        let bot = Bot::new(token.expose()).set_api_url(url.clone());
        let transfers = teloxide::net::default_reqwest_settings()
            // No read timeout: reqwest counts it from the start of the request, so it would cut
            // an upload that takes longer than it to send.
            .timeout(FILE_TRANSFER_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        let files = Bot::with_client(token.expose(), transfers).set_api_url(url);
        Ok(Self {
            bot,
            files,
            http,
            api_url,
            token: token.clone(),
            gone_topics: Arc::default(),
            answered: Arc::new(AtomicBool::new(true)),
        })
    }

    /// Whether Telegram answered the last request (with a result or a refusal): `false` after a
    /// network failure, a timeout or a 5xx, until a request gets an answer again.
    pub fn reachable(&self) -> bool {
        self.answered.load(Ordering::Relaxed)
    }

    /// Counts a request to `method` by how it ended (see [`crate::telemetry`]) and notes whether
    /// Telegram answered it; passes the result through.
    fn observe<T>(&self, method: &'static str, result: Result<T, TgError>) -> Result<T, TgError> {
        let outcome = match &result {
            Ok(_) => "ok",
            Err(TgError::NotModified) => "not_modified",
            Err(TgError::RetryAfter(wait)) => {
                crate::telemetry::telegram_retry_after(*wait);
                "rate_limited"
            }
            Err(TgError::Migrated(_)) => "migrated",
            Err(TgError::Forbidden(_)) => "forbidden",
            Err(TgError::Rejected(_)) => "rejected",
            Err(TgError::Temporary(_)) => "failed",
        };
        self.answered.store(outcome != "failed", Ordering::Relaxed);
        crate::telemetry::telegram_request(method, outcome);
        result
    }

    /// Removes the token from any text that might contain a URL.
    pub fn scrub(&self, text: &str) -> String {
        let token = self.token.expose();
        if token.is_empty() {
            return text.to_owned();
        }
        text.replace(token, "[token]")
    }

    fn classify(&self, error: RequestError) -> TgError {
        match error {
            RequestError::RetryAfter(seconds) => TgError::RetryAfter(seconds.duration()),
            RequestError::MigrateToChatId(chat) => TgError::Migrated(chat.0),
            RequestError::Api(ApiError::MessageNotModified) => TgError::NotModified,
            RequestError::Api(api) => {
                // teloxide matches descriptions exactly and some of its strings are stale, so
                // classify by the prefix Telegram puts on every description.
                let text = match &api {
                    ApiError::Unknown(text) => text.clone(),
                    other => other.to_string(),
                };
                let text = self.scrub(&text);
                if text.starts_with("Forbidden") || text.contains("bot was blocked") {
                    TgError::Forbidden(text)
                } else if text.contains("Internal Server Error") || text.starts_with("Bad Gateway")
                {
                    TgError::Temporary(text)
                } else {
                    TgError::Rejected(text)
                }
            }
            RequestError::Network(e) => TgError::Temporary(self.scrub(&e.to_string())),
            RequestError::Io(e) => TgError::Temporary(self.scrub(&e.to_string())),
            RequestError::InvalidJson { source, .. } => {
                TgError::Temporary(format!("unreadable answer from Telegram: {source}"))
            }
        }
    }

    pub async fn get_me(&self) -> Result<BotIdentity, TgError> {
        let me = self.observe(
            "getMe",
            self.bot.get_me().await.map_err(|e| self.classify(e)),
        )?;
        Ok(BotIdentity {
            id: me.user.id.0 as i64,
            username: me.user.username.clone().unwrap_or_default(),
        })
    }

    /// Registers the commands shown in Telegram's menu.
    pub async fn set_commands(&self, commands: &[(&str, &str)]) -> Result<(), TgError> {
        let commands = commands
            .iter()
            .map(|(c, d)| teloxide::types::BotCommand::new(*c, *d))
            .collect::<Vec<_>>();
        let result = self.bot.set_my_commands(commands).await;
        self.observe(
            "setMyCommands",
            result.map(|_| ()).map_err(|e| self.classify(e)),
        )
    }

    /// Webhook mode: Telegram POSTs updates to `url` with `secret` in
    /// `X-Telegram-Bot-Api-Secret-Token`. One connection at a time, so updates arrive in order and
    /// the stored offset can tell a retried delivery from a new one.
    pub async fn set_webhook(&self, url: &str, secret: &Secret) -> Result<(), TgError> {
        self.raw(
            "setWebhook",
            serde_json::json!({
                "url": url,
                "secret_token": secret.expose(),
                "max_connections": 1,
                "allowed_updates": ALLOWED_UPDATES,
            }),
        )
        .await
        .map(|_| ())
    }

    /// Polling mode: a webhook left from an earlier webhook-mode run would make every
    /// `getUpdates` fail with 409. Pending updates are kept.
    pub async fn delete_webhook(&self) -> Result<(), TgError> {
        self.raw(
            "deleteWebhook",
            serde_json::json!({ "drop_pending_updates": false }),
        )
        .await
        .map(|_| ())
    }

    /// One long poll. Returns the raw updates.
    pub async fn get_updates(&self, offset: i64) -> Result<Vec<serde_json::Value>, TgError> {
        let result = self.poll_updates(offset).await;
        self.observe("getUpdates", result)
    }

    async fn poll_updates(&self, offset: i64) -> Result<Vec<serde_json::Value>, TgError> {
        let url = format!("{}/bot{}/getUpdates", self.api_url, self.token.expose());
        let body = serde_json::json!({
            "offset": offset,
            "timeout": POLL_TIMEOUT_SECS,
            "allowed_updates": ALLOWED_UPDATES,
        });
        let response = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| TgError::Temporary(self.scrub(&e.without_url().to_string())))?;
        let status = response.status();
        let answer: serde_json::Value = response
            .json()
            .await
            .map_err(|e| TgError::Temporary(self.scrub(&e.without_url().to_string())))?;
        if answer["ok"].as_bool() == Some(true) {
            return Ok(answer["result"].as_array().cloned().unwrap_or_default());
        }
        let description = self.scrub(answer["description"].as_str().unwrap_or("no description"));
        if let Some(seconds) = answer["parameters"]["retry_after"].as_u64() {
            return Err(TgError::RetryAfter(Duration::from_secs(seconds)));
        }
        Err(match status.as_u16() {
            401 | 404 => TgError::Rejected(format!(
                "{description} (is telegram.token right and telegram.api_url a Bot API server?)"
            )),
            409 => TgError::Temporary(description),
            500..=599 => TgError::Temporary(description),
            _ => TgError::Rejected(description),
        })
    }

    pub async fn send_html(
        &self,
        chat_id: i64,
        html: &str,
        reply_to: Option<i32>,
        keyboard: Option<&Keyboard>,
    ) -> Result<i32, TgError> {
        self.send_html_in(chat_id, None, html, reply_to, keyboard)
            .await
    }

    /// [`Self::send_html`] into a forum topic (`topic`), where the chat is a forum. Delivered
    /// once whatever became of the topic or the message it answers, see [`Self::placed`].
    pub async fn send_html_in(
        &self,
        chat_id: i64,
        topic: Option<i32>,
        html: &str,
        reply_to: Option<i32>,
        keyboard: Option<&Keyboard>,
    ) -> Result<i32, TgError> {
        self.placed(chat_id, topic, reply_to, |topic, reply_to| {
            let mut request = self
                .bot
                .send_message(ChatId(chat_id), html)
                .parse_mode(ParseMode::Html);
            if let Some(topic) = topic {
                request = request.message_thread_id(ThreadId(MessageId(topic)));
            }
            if let Some(id) = reply_to {
                request = request.reply_parameters(
                    ReplyParameters::new(MessageId(id)).allow_sending_without_reply(),
                );
            }
            if let Some(keyboard) = keyboard {
                request = request.reply_markup(markup(keyboard));
            }
            async move {
                let result = request.await.map(|m| m.id.0).map_err(|e| self.classify(e));
                self.observe("sendMessage", result)
            }
        })
        .await
    }

    /// [`Self::send_html_in`] for a text that may be longer than one message: it is cut by
    /// [`split_html`] and sent part by part, the keyboard under the last part, where the reader
    /// ends up. Returns the ids in order.
    pub async fn send_html_parts(
        &self,
        chat_id: i64,
        topic: Option<i32>,
        html: &str,
        reply_to: Option<i32>,
        keyboard: Option<&Keyboard>,
    ) -> Result<Vec<i32>, TgError> {
        let parts = split_html(html, TEXT_LIMIT);
        let mut ids = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let keyboard = keyboard.filter(|_| i + 1 == parts.len());
            ids.push(
                self.send_html_in(chat_id, topic, part, reply_to, keyboard)
                    .await?,
            );
        }
        Ok(ids)
    }

    /// Sends a file as a document, placed like [`Self::send_html_in`].
    pub async fn send_file(
        &self,
        chat_id: i64,
        topic: Option<i32>,
        file_name: &str,
        content: &Content,
        reply_to: Option<i32>,
    ) -> Result<i32, TgError> {
        self.placed(chat_id, topic, reply_to, |topic, reply_to| {
            // A spooled file is streamed from disk by teloxide, never read whole.
            let file = match content.path() {
                Some(path) => InputFile::file(path.to_owned()),
                None => InputFile::memory(content.in_memory().unwrap_or_default().to_vec()),
            }
            .file_name(file_name.to_owned());
            let mut request = self.files.send_document(ChatId(chat_id), file);
            if let Some(topic) = topic {
                request = request.message_thread_id(ThreadId(MessageId(topic)));
            }
            if let Some(id) = reply_to {
                request = request.reply_parameters(
                    ReplyParameters::new(MessageId(id)).allow_sending_without_reply(),
                );
            }
            async move {
                let result = request.await.map(|m| m.id.0).map_err(|e| self.classify(e));
                self.observe("sendDocument", result)
            }
        })
        .await
    }

    /// Runs `send(topic, reply_to)` and, when Telegram refuses where the message was to go,
    /// sends it once more without what is gone, so it is delivered once and never dropped:
    /// - the topic was deleted (`message thread not found`): the message goes to General. An
    ///   administrator deleted the ticket's topic on purpose; re-creating it would undo that,
    ///   while General is where every member of the forum still sees the answer. The quote goes
    ///   too, as the message it quoted went with the topic;
    /// - the quoted message was deleted (`message to be replied not found`, which
    ///   `allow_sending_without_reply` should already prevent): the message goes without quote.
    ///
    /// A refused send creates nothing, so the second attempt cannot double the message.
    async fn placed<F, Fut>(
        &self,
        chat_id: i64,
        topic: Option<i32>,
        reply_to: Option<i32>,
        send: F,
    ) -> Result<i32, TgError>
    where
        F: Fn(Option<i32>, Option<i32>) -> Fut,
        Fut: std::future::Future<Output = Result<i32, TgError>>,
    {
        let gone = |topic: i32| {
            self.gone_topics
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&(chat_id, topic))
        };
        let (topic, reply_to) = match topic {
            Some(t) if gone(t) => (None, None),
            _ => (topic, reply_to),
        };
        match send(topic, reply_to).await {
            Err(TgError::Rejected(text))
                if text.contains("message thread not found")
                    && let Some(topic) = topic =>
            {
                tracing::warn!(
                    chat_id,
                    topic,
                    "The forum topic was deleted; posting in General instead."
                );
                self.gone_topics
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert((chat_id, topic));
                send(None, None).await
            }
            Err(TgError::Rejected(text))
                if reply_to.is_some() && text.contains("message to be replied not found") =>
            {
                tracing::info!(
                    chat_id,
                    "The quoted message was deleted; sending without it."
                );
                send(topic, None).await
            }
            other => other,
        }
    }

    pub async fn edit_html(
        &self,
        chat_id: i64,
        message_id: i32,
        html: &str,
        keyboard: Option<&Keyboard>,
    ) -> Result<(), TgError> {
        let mut request = self
            .bot
            .edit_message_text(ChatId(chat_id), MessageId(message_id), html)
            .parse_mode(ParseMode::Html);
        if let Some(keyboard) = keyboard {
            request = request.reply_markup(markup(keyboard));
        }
        let result = request.await.map_err(|e| self.classify(e));
        match self.observe("editMessageText", result) {
            Ok(_) | Err(TgError::NotModified) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn edit_keyboard(
        &self,
        chat_id: i64,
        message_id: i32,
        keyboard: Option<&Keyboard>,
    ) -> Result<(), TgError> {
        let mut request = self
            .bot
            .edit_message_reply_markup(ChatId(chat_id), MessageId(message_id));
        if let Some(keyboard) = keyboard {
            request = request.reply_markup(markup(keyboard));
        }
        let result = request.await.map_err(|e| self.classify(e));
        match self.observe("editMessageReplyMarkup", result) {
            Ok(_) | Err(TgError::NotModified) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn answer_callback(
        &self,
        query_id: &str,
        text: Option<&str>,
        alert: bool,
    ) -> Result<(), TgError> {
        use teloxide::payloads::AnswerCallbackQuerySetters;
        let mut request = self
            .bot
            .answer_callback_query(teloxide::types::CallbackQueryId(query_id.to_owned()));
        if let Some(text) = text {
            request = request.text(text).show_alert(alert);
        }
        let result = request.await.map(|_| ()).map_err(|e| self.classify(e));
        self.observe("answerCallbackQuery", result)
    }

    /// The discussion group linked to a channel (or the channel linked to a group), from
    /// `getChat`. Read raw: teloxide's `ChatFullInfo` layout changes between Bot API versions.
    pub async fn linked_chat(&self, chat_id: i64) -> Result<Option<i64>, TgError> {
        let chat = self
            .raw("getChat", serde_json::json!({ "chat_id": chat_id }))
            .await?;
        Ok(chat["linked_chat_id"].as_i64())
    }

    /// Creates a forum topic; returns its thread id.
    pub async fn create_forum_topic(&self, chat_id: i64, name: &str) -> Result<i32, TgError> {
        let result = self
            .raw(
                "createForumTopic",
                serde_json::json!({"chat_id": chat_id, "name": name}),
            )
            .await?;
        result["message_thread_id"]
            .as_i64()
            .map(|id| id as i32)
            .ok_or_else(|| {
                TgError::Temporary("createForumTopic answered without a thread id".into())
            })
    }

    /// Closes (`closed`) or reopens a forum topic; doing what is already done, or what cannot be
    /// done because the topic was deleted, is not an error.
    pub async fn set_forum_topic_closed(
        &self,
        chat_id: i64,
        topic: i32,
        closed: bool,
    ) -> Result<(), TgError> {
        let method = if closed {
            "closeForumTopic"
        } else {
            "reopenForumTopic"
        };
        let body = serde_json::json!({"chat_id": chat_id, "message_thread_id": topic});
        match self.raw(method, body).await {
            Err(TgError::Rejected(text)) if text.contains("TOPIC_NOT_MODIFIED") => Ok(()),
            // A deleted topic has nothing left to close or reopen.
            Err(TgError::Rejected(text))
                if text.contains("TOPIC_ID_INVALID") || text.contains("thread not found") =>
            {
                self.gone_topics
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert((chat_id, topic));
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    /// A Bot API call by name with a JSON body, for methods teloxide models differently across
    /// Bot API versions. Errors are classified like teloxide's.
    async fn raw(
        &self,
        method: &'static str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, TgError> {
        let result = self.raw_call(method, body).await;
        self.observe(method, result)
    }

    async fn raw_call(
        &self,
        method: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, TgError> {
        let url = format!("{}/bot{}/{method}", self.api_url, self.token.expose());
        let answer: serde_json::Value = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| TgError::Temporary(self.scrub(&e.without_url().to_string())))?
            .json()
            .await
            .map_err(|e| TgError::Temporary(self.scrub(&e.without_url().to_string())))?;
        if answer["ok"].as_bool() == Some(true) {
            return Ok(answer["result"].clone());
        }
        if let Some(seconds) = answer["parameters"]["retry_after"].as_u64() {
            return Err(TgError::RetryAfter(Duration::from_secs(seconds)));
        }
        if let Some(chat) = answer["parameters"]["migrate_to_chat_id"].as_i64() {
            return Err(TgError::Migrated(chat));
        }
        let text = self.scrub(answer["description"].as_str().unwrap_or("no description"));
        Err(if text.starts_with("Forbidden") {
            TgError::Forbidden(text)
        } else if answer["error_code"].as_i64().is_some_and(|c| c >= 500) {
            TgError::Temporary(text)
        } else {
            TgError::Rejected(text)
        })
    }

    /// The chat's pinned message as Telegram shows it (raw JSON), if any.
    pub async fn pinned_message(&self, chat_id: i64) -> Result<Option<serde_json::Value>, TgError> {
        let chat = self
            .raw("getChat", serde_json::json!({"chat_id": chat_id}))
            .await?;
        Ok(chat.get("pinned_message").cloned())
    }

    /// Pins a message without notifying the chat's members.
    pub async fn pin(&self, chat_id: i64, message_id: i32) -> Result<(), TgError> {
        let body = serde_json::json!({
            "chat_id": chat_id,
            "message_id": message_id,
            "disable_notification": true,
        });
        self.raw("pinChatMessage", body).await.map(|_| ())
    }

    /// Whether `user_id` is in `chat_id` now (owner, admin, member, or restricted but present).
    /// Telegram answers "user not found" for people who never joined: that is a plain no.
    pub async fn is_member(&self, chat_id: i64, user_id: i64) -> Result<bool, TgError> {
        let user = teloxide::types::UserId(user_id as u64);
        let result = self.bot.get_chat_member(ChatId(chat_id), user).await;
        match self.observe("getChatMember", result.map_err(|e| self.classify(e))) {
            Ok(member) => Ok(member.kind.is_present()),
            Err(TgError::Rejected(text)) if text.contains("user not found") => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// `getMe` as Telegram answered it, for fields teloxide's `Me` may not model
    /// (`can_read_all_group_messages` says whether privacy mode is off).
    pub async fn get_me_raw(&self) -> Result<serde_json::Value, TgError> {
        self.raw("getMe", serde_json::json!({})).await
    }

    /// `getWebhookInfo` as Telegram answered it (`url`, `pending_update_count`,
    /// `last_error_date`, `last_error_message`).
    pub async fn get_webhook_info_raw(&self) -> Result<serde_json::Value, TgError> {
        self.raw("getWebhookInfo", serde_json::json!({})).await
    }

    /// `getChat` as Telegram answered it (`type`, `title`, `is_forum`, `linked_chat_id`...).
    pub async fn get_chat_raw(&self, chat_id: i64) -> Result<serde_json::Value, TgError> {
        self.raw("getChat", serde_json::json!({ "chat_id": chat_id }))
            .await
    }

    /// `getChatMember` as Telegram answered it: `status` and, for an administrator, its `can_*`
    /// rights, which differ by chat type.
    pub async fn get_chat_member_raw(
        &self,
        chat_id: i64,
        user_id: i64,
    ) -> Result<serde_json::Value, TgError> {
        let body = serde_json::json!({ "chat_id": chat_id, "user_id": user_id });
        self.raw("getChatMember", body).await
    }

    /// Downloads a file a client sent (Telegram lets bots download up to 20 MB) into `spool`,
    /// chunk by chunk: it is never whole in memory.
    pub async fn download(&self, file_id: &str, spool: &Spool) -> Result<Content, TgError> {
        use teloxide::net::Download;
        let file = self
            .bot
            .get_file(teloxide::types::FileId(file_id.to_owned()))
            .await
            .map_err(|e| self.classify(e));
        let file = self.observe("getFile", file)?;
        // A full or failing disk is temporary: the file can be fetched again later.
        let local = |e: std::io::Error| TgError::Temporary(format!("cannot spool the file: {e}"));
        let path = spool.fresh_path().map_err(local)?;
        let downloaded = async {
            let mut out = tokio::fs::File::create(&path).await.map_err(local)?;
            let fetched = self
                .files
                .download_file(&file.path, &mut out)
                .await
                .map_err(|e| TgError::Temporary(self.scrub(&e.to_string())));
            self.observe("file", fetched)?;
            tokio::io::AsyncWriteExt::flush(&mut out)
                .await
                .map_err(local)?;
            Content::adopt(&path).map_err(local)
        }
        .await;
        if downloaded.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        downloaded
    }
}

/// The long-poll wait; below teloxide's and our own 17 s+ client timeouts.
pub const POLL_TIMEOUT_SECS: u64 = 10;

/// How long one file upload or download may take: 50 MB at about 1 Mbit/s.
pub const FILE_TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);

fn markup(keyboard: &Keyboard) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(keyboard.rows.iter().map(|row| {
        row.iter()
            .map(
                |b| match b.url.as_deref().and_then(|u| reqwest::Url::parse(u).ok()) {
                    Some(url) => InlineKeyboardButton::url(b.label.clone(), url),
                    None => InlineKeyboardButton::callback(b.label.clone(), b.data.clone()),
                },
            )
            .collect::<Vec<_>>()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Button;
    use teledesk_testkit::telegram::{FakeError, FakeTelegram, TelegramOptions};

    async fn fake_and_client() -> (FakeTelegram, TelegramClient) {
        let fake = FakeTelegram::start_with(TelegramOptions {
            enforce_limits: false,
            ..TelegramOptions::default()
        })
        .await;
        let client =
            TelegramClient::new(&fake.api_url(), &Secret::new(fake.token())).expect("a client");
        (fake, client)
    }

    /// A file whose upload takes longer than teloxide's 17 s (a large file, a slow link) is
    /// waited for once, instead of being cut and sent again on every attempt.
    #[tokio::test(start_paused = true)]
    async fn a_file_send_outlasts_an_ordinary_calls_timeout() {
        let (fake, client) = fake_and_client().await;
        let group = fake.add_group("Clients");
        fake.inject_error("sendDocument", 1, FakeError::HeldAnswer);
        let releaser = fake.clone();
        tokio::spawn(async move {
            // Time is paused: it moves on only while everything waits, so this is the first
            // deadline the client meets unless its own timeout comes sooner.
            tokio::time::sleep(Duration::from_secs(60)).await;
            releaser.release_answers();
        });
        let id = client
            .send_file(group, None, "scan.pdf", &Content::from(b"%PDF"), None)
            .await
            .expect("sent after a minute");
        assert!(fake.message(group, id).is_some());
        let sends = fake
            .calls()
            .iter()
            .filter(|c| c.method.eq_ignore_ascii_case("sendDocument"))
            .count();
        assert_eq!(sends, 1, "sent once");
    }

    fn refused(fake: &FakeTelegram) -> Vec<String> {
        fake.calls()
            .into_iter()
            .filter(|c| c.status >= 400)
            .map(|c| c.method)
            .collect()
    }

    #[tokio::test]
    async fn a_long_text_goes_out_in_parts_with_the_buttons_under_the_last() {
        let (fake, client) = fake_and_client().await;
        let group = fake.add_group("Clients");
        // 30 lines of 120 emoji: 7,230 units, so two messages cut at a line break.
        let line = format!("{}\n", "😀".repeat(120));
        let html = format!("<b>Tickets</b>\n{}", line.repeat(30));
        let keyboard = Keyboard {
            rows: vec![vec![Button::callback("Open", "open:1")]],
        };
        let ids = client
            .send_html_parts(group, None, &html, None, Some(&keyboard))
            .await
            .expect("sent");
        assert_eq!(ids.len(), 2);
        assert!(refused(&fake).is_empty(), "{:?}", refused(&fake));
        let sent: Vec<_> = ids
            .iter()
            .map(|id| fake.message(group, *id).unwrap())
            .collect();
        assert!(sent[0].reply_markup.is_none());
        assert!(sent[1].reply_markup.is_some());
        let emoji: usize = sent.iter().map(|m| m.text.matches('😀').count()).sum();
        assert_eq!(emoji, 120 * 30);
        assert_eq!(
            sent[0].text.matches('😀').count() % 120,
            0,
            "cut at a line break"
        );
    }

    #[tokio::test]
    async fn a_deleted_topic_or_quote_costs_the_placement_not_the_message() {
        let (fake, client) = fake_and_client().await;
        let forum = fake.add_forum("Support");
        let topic = client
            .create_forum_topic(forum, "#1 Printer")
            .await
            .unwrap();
        let card = client
            .send_html_in(forum, Some(topic), "card", None, None)
            .await
            .unwrap();
        fake.delete_topic(forum, topic);
        let first = client
            .send_html_in(forum, Some(topic), "reply", Some(card), None)
            .await
            .expect("sent to General");
        let stored = fake.message(forum, first).unwrap();
        assert_eq!((stored.thread_id, stored.reply_to), (None, None));
        // Known gone: the next send does not try the topic again.
        let calls = fake.calls().len();
        let bytes = teledesk_adapter::Content::from(b"scan");
        let file = client
            .send_file(forum, Some(topic), "scan.txt", &bytes, Some(card))
            .await
            .expect("sent to General");
        assert_eq!(fake.calls().len(), calls + 1, "one call");
        assert_eq!(fake.message(forum, file).unwrap().thread_id, None);
        // Closing a deleted topic has nothing left to do.
        client
            .set_forum_topic_closed(forum, topic, true)
            .await
            .unwrap();

        // A server that refuses the quote instead of dropping it: sent once without it.
        let group = fake.add_group("Clients");
        let quoted = client.send_html(group, "q", None, None).await.unwrap();
        fake.inject_error(
            "sendMessage",
            1,
            FakeError::Api {
                code: 400,
                description: "Bad Request: message to be replied not found".into(),
            },
        );
        let id = client
            .send_html(group, "answer", Some(quoted), None)
            .await
            .expect("sent without the quote");
        assert_eq!(fake.message(group, id).unwrap().reply_to, None);
        let answers = fake
            .messages(group)
            .iter()
            .filter(|m| m.text == "answer")
            .count();
        assert_eq!(answers, 1);
        // Anything else is still the caller's to handle.
        fake.inject_error(
            "sendMessage",
            1,
            FakeError::Api {
                code: 400,
                description: "Bad Request: chat not found".into(),
            },
        );
        assert!(matches!(
            client.send_html(group, "x", None, None).await,
            Err(TgError::Rejected(_))
        ));
    }
}
