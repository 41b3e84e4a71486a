//! Fake Telegram Bot API server (see crate docs).
//!
//! [`FakeTelegram`] serves `/bot<token>/<method>` and `/file/bot<token>/<path>` on loopback with
//! Telegram's JSON wire format, error bodies and HTTP statuses, so the real daemon (teloxide) can
//! talk to it unchanged. Tests build a world (users, groups, channels, forums), act as users
//! ([`FakeTelegram::send`], [`FakeTelegram::press`]) and observe what the bot did
//! ([`FakeTelegram::messages`], [`FakeTelegram::calls`]).
//!
//! Every behaviour the fake models — limits and error texts, forum topics and replies, updates
//! and webhooks, channels with their discussion groups and automatic forwards, the bot's rights,
//! chat migration, files, Mini App launch data — is listed with its source in
//! `testkit/FIDELITY.md` (section "Fake Telegram"); a change to the fake changes that list.
//!
//! Test-side actions besides sending as a user: [`FakeTelegram::add_channel`] and
//! [`FakeTelegram::link_discussion`] (channel mode), [`FakeTelegram::add_forum`] and
//! [`FakeTelegram::send_in_topic`] (forums), [`FakeTelegram::delete_message`] and
//! [`FakeTelegram::delete_topic`] (what users and administrators delete),
//! [`FakeTelegram::set_bot_rights`] and [`FakeTelegram::set_privacy_mode`],
//! [`FakeTelegram::migrate_to_supergroup`], [`FakeTelegram::set_forward_before_response`],
//! [`FakeTelegram::inject_error`], and [`mini_app`] for signed `initData`. Sends and edits are
//! rate-limited per [`limits`] unless [`TelegramOptions::enforce_limits`] is off.

mod api;
mod html;
pub mod limits;
pub mod mini_app;
mod state;
#[cfg(test)]
mod tests;
mod webhook;

use crate::blob::{Blob, Pattern};
use crate::serve::serve_on_loopback;
use crate::wait::Changes;
use serde_json::Value;
use state::{Content, World};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// The service account that sends automatic forwards ("Telegram").
pub const SERVICE_USER_ID: i64 = 777_000;
/// The placeholder `from` of messages sent on behalf of a channel (`Channel_Bot`).
pub const CHANNEL_BOT_ID: i64 = 136_817_688;
/// The placeholder `from` of anonymous group administrators (`GroupAnonymousBot`).
pub const GROUP_ANONYMOUS_BOT_ID: i64 = 1_087_968_824;

/// How the fake behaves; [`Default`] matches production-like settings.
#[derive(Clone)]
pub struct TelegramOptions {
    /// Refuse sends and edits over Telegram's flood limits with 429 (default true).
    pub enforce_limits: bool,
    /// The bot's username, without `@`; also the suffix accepted in `/command@username`.
    pub bot_username: String,
    /// The token the daemon must use; the number before `:` is the bot's user id.
    pub token: String,
}

impl std::fmt::Debug for TelegramOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is redacted: Debug output ends up in logs.
        f.debug_struct("TelegramOptions")
            .field("enforce_limits", &self.enforce_limits)
            .field("bot_username", &self.bot_username)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl Default for TelegramOptions {
    fn default() -> Self {
        Self {
            enforce_limits: true,
            bot_username: "teledesk_test_bot".to_owned(),
            token: "123456789:TEST-fake-token-for-teledesk".to_owned(),
        }
    }
}

/// The bot's standing in one chat, see [`FakeTelegram::set_bot_rights`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BotRights {
    /// An administrator; otherwise a plain member of a group, and not in a channel at all.
    pub admin: bool,
    /// Channels: «Post messages».
    pub can_post_messages: bool,
    /// Channels: «Edit messages of others», which is also what pins there.
    pub can_edit_messages: bool,
    /// Groups and supergroups: «Pin messages».
    pub can_pin_messages: bool,
    /// Supergroups: «Manage topics».
    pub can_manage_topics: bool,
}

impl BotRights {
    /// An administrator with every right: what the bot is in every chat unless a test says
    /// otherwise.
    pub const ADMIN: Self = Self {
        admin: true,
        can_post_messages: true,
        can_edit_messages: true,
        can_pin_messages: true,
        can_manage_topics: true,
    };

    /// No administrator rights at all.
    pub const MEMBER: Self = Self {
        admin: false,
        can_post_messages: false,
        can_edit_messages: false,
        can_pin_messages: false,
        can_manage_topics: false,
    };
}

/// An error a test makes the next calls of a method fail with, see [`FakeTelegram::inject_error`].
#[derive(Clone, Debug)]
pub enum FakeError {
    /// HTTP 429 `Too Many Requests: retry after N` with `parameters.retry_after` and `Retry-After`.
    TooManyRequests {
        /// Seconds the client is told to wait.
        retry_after: u32,
    },
    /// Any error body: HTTP status = `code`, `description` verbatim (include the "Bad Request: "
    /// style prefix yourself).
    Api {
        /// `error_code` and HTTP status.
        code: u16,
        /// `description`, verbatim.
        description: String,
    },
    /// HTTP 400 `group chat was upgraded to a supergroup chat` with
    /// `parameters.migrate_to_chat_id`.
    MigrateTo {
        /// The supergroup id the client should use instead.
        chat_id: i64,
    },
    /// The connection breaks before the request reaches Telegram: nothing is executed, and the
    /// client reads response headers and then a broken body. Recorded with status 0.
    Disconnect,
    /// The request is never answered and nothing is executed; the call stays open until the
    /// client gives up or goes away. Recorded with status 0 as soon as it stalls.
    Stall,
    /// The request is executed, then the connection breaks before the answer arrives: the
    /// client cannot tell this from [`FakeError::Disconnect`]. Recorded with status 0.
    LostAnswer,
    /// Not a failure: the call is executed at once, but its answer is held back until
    /// [`FakeTelegram::release_answers`], so a test can act while the client waits.
    HeldAnswer,
}

/// A message a test sends as a user; build with [`Outgoing::text`], [`Outgoing::photo`] or
/// [`Outgoing::document`].
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub(crate) content: Content,
    pub(crate) reply_to: Option<i32>,
}

impl Outgoing {
    /// A text message. A leading `/command` gets a `bot_command` entity.
    pub fn text(text: &str) -> Self {
        Self {
            content: Content::Text(text.to_owned()),
            reply_to: None,
        }
    }

    /// A photo; Telegram delivers it as two sizes whose file ids both download `bytes`.
    pub fn photo(bytes: Vec<u8>, caption: Option<&str>) -> Self {
        Self {
            content: Content::Photo {
                bytes,
                caption: caption.map(str::to_owned),
            },
            reply_to: None,
        }
    }

    /// A file sent as a document.
    pub fn document(
        file_name: &str,
        mime_type: &str,
        bytes: Vec<u8>,
        caption: Option<&str>,
    ) -> Self {
        Self::document_of(file_name, mime_type, Blob::from(bytes), caption)
    }

    /// A document whose bytes are generated from `pattern` as they are downloaded: a large file
    /// that the test process never holds.
    pub fn generated_document(
        file_name: &str,
        mime_type: &str,
        pattern: Pattern,
        caption: Option<&str>,
    ) -> Self {
        Self::document_of(file_name, mime_type, Blob::Pattern(pattern), caption)
    }

    fn document_of(file_name: &str, mime_type: &str, body: Blob, caption: Option<&str>) -> Self {
        Self {
            content: Content::Document {
                file_name: file_name.to_owned(),
                mime_type: mime_type.to_owned(),
                body,
                caption: caption.map(str::to_owned),
            },
            reply_to: None,
        }
    }

    /// Makes it a reply to `message_id` in the same chat (which must exist).
    pub fn reply_to(mut self, message_id: i32) -> Self {
        self.reply_to = Some(message_id);
        self
    }
}

/// A file attached to a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaInfo {
    /// `"photo"` or `"document"`.
    pub kind: String,
    /// The id `getFile` accepts (for photos: the largest size).
    pub file_id: String,
    /// The document's file name, if it has one.
    pub file_name: Option<String>,
    /// Size in bytes.
    pub size: usize,
}

/// A message as it currently stands in a chat (edits applied).
#[derive(Clone, Debug)]
pub struct ChatMessage {
    /// Id, unique within the chat.
    pub message_id: i32,
    /// The wire `from`: the sender's user id (the bot's id for the bot's messages), a service
    /// account ([`SERVICE_USER_ID`], [`CHANNEL_BOT_ID`], [`GROUP_ANONYMOUS_BOT_ID`]), or `None`
    /// for channel posts.
    pub from_id: Option<i64>,
    /// Whether the bot sent it (channel posts included).
    pub from_bot: bool,
    /// The sender's first and last name, or the title of the chat it was sent on behalf of.
    pub sender_name: String,
    /// `sender_chat`: the channel for posts and automatic forwards, the chat a user wrote as.
    pub sender_chat_id: Option<i64>,
    /// Plain text after HTML parsing, or the caption; empty for service messages.
    pub text: String,
    /// The HTML as sent, when the bot used `parse_mode=HTML`.
    pub html: Option<String>,
    /// The message it replies to, as on the wire: a topic message without an explicit reply
    /// replies to the topic's creation message.
    pub reply_to: Option<i32>,
    /// `message_thread_id`: the forum topic, else the reply chain's root; supergroups only.
    pub thread_id: Option<i32>,
    /// `is_topic_message`: it is in a forum topic.
    pub is_topic_message: bool,
    /// An automatic forward of a channel post into the discussion group.
    pub is_automatic_forward: bool,
    /// For an automatic forward: (channel id, post id) from `forward_origin`.
    pub forward_origin: Option<(i64, i32)>,
    /// Attached files.
    pub media: Vec<MediaInfo>,
    /// Shared by the items of one album.
    pub media_group_id: Option<String>,
    /// The reply markup as sent (inline keyboard or force_reply).
    pub reply_markup: Option<Value>,
    /// How many times it was edited.
    pub edit_count: u32,
    /// Unix seconds.
    pub date: i64,
    /// For a "pinned message" service message: the pinned message's id.
    pub pinned_message_id: Option<i32>,
    /// For a service message, the field that carries it: `pinned_message`,
    /// `forum_topic_created`, `forum_topic_edited`, `forum_topic_closed`, `forum_topic_reopened`,
    /// `migrate_to_chat_id` or `migrate_from_chat_id`.
    pub service: Option<String>,
}

/// A forum topic as it stands now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeTopic {
    /// `message_thread_id`: the id of the topic's creation message.
    pub id: i32,
    /// The current name.
    pub name: String,
    /// Whether it is closed.
    pub closed: bool,
    /// The icon color as RGB.
    pub icon_color: u32,
}

/// One HTTP call the fake received.
#[derive(Clone, Debug)]
pub struct RecordedCall {
    /// The method as the client spelled it (e.g. `sendMessage`).
    pub method: String,
    /// The JSON body, form fields or multipart text fields. Form and multipart values that are
    /// numbers, booleans or JSON objects/arrays are decoded (except free-text fields such as
    /// `text` and `caption`); file parts appear as `{"file_name": .., "size": ..}`.
    pub params: Value,
    /// The HTTP status answered; 0 when none was ([`FakeError::Disconnect`],
    /// [`FakeError::Stall`], [`FakeError::LostAnswer`]).
    pub status: u16,
}

/// An `answerCallbackQuery` the bot made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackAnswer {
    /// The query id from [`FakeTelegram::press`].
    pub query_id: String,
    /// The notification text, if any.
    pub text: Option<String>,
    /// Whether it was an alert rather than a toast.
    pub show_alert: bool,
}

pub(crate) struct Shared {
    pub(crate) world: Mutex<World>,
    pub(crate) changes: Changes,
    /// Bumped when updates are queued or a new poller takes over, to wake long polls.
    pub(crate) updates: watch::Sender<u64>,
    /// The highest `update_id` any `getUpdates` has handed out.
    pub(crate) taken: watch::Sender<i64>,
    /// Bumped by [`FakeTelegram::release_answers`].
    pub(crate) released: watch::Sender<u64>,
    pub(crate) options: TelegramOptions,
    /// Whether sends and edits are held to [`limits`] now: [`TelegramOptions::enforce_limits`]
    /// at start, then [`FakeTelegram::set_enforce_limits`].
    pub(crate) enforce_limits: std::sync::atomic::AtomicBool,
}

impl Shared {
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        // A panicking test thread must not wedge the server for the other callers.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn wake_pollers(&self) {
        self.updates.send_modify(|n| *n += 1);
    }
}

/// The fake Bot API server; a cheap handle, clone it freely.
#[derive(Clone)]
pub struct FakeTelegram {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl std::fmt::Debug for FakeTelegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No token here: Debug output ends up in logs.
        f.debug_struct("FakeTelegram")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeTelegram {
    /// Starts a server with [`TelegramOptions::default`] on 127.0.0.1 (random port), served by a
    /// task on the current tokio runtime.
    pub async fn start() -> FakeTelegram {
        Self::start_with(TelegramOptions::default()).await
    }

    /// Starts a server with `options`.
    pub async fn start_with(options: TelegramOptions) -> FakeTelegram {
        let world = World::new(&options);
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            changes: Changes::new(),
            updates: watch::channel(0).0,
            taken: watch::channel(0).0,
            released: watch::channel(0).0,
            enforce_limits: std::sync::atomic::AtomicBool::new(options.enforce_limits),
            options,
        });
        let fake_at = |addr| FakeTelegram { shared, addr };
        let router = |fake: FakeTelegram| api::router(fake.shared);
        let fake = serve_on_loopback("FakeTelegram", fake_at, router).await;
        tokio::spawn(webhook::deliver(Arc::downgrade(&fake.shared)));
        fake
    }

    /// Base URL for `Bot::set_api_url`, e.g. `http://127.0.0.1:PORT`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token the server accepts.
    pub fn token(&self) -> String {
        self.shared.options.token.clone()
    }

    /// The bot's user id (the number before `:` in the token).
    pub fn bot_id(&self) -> i64 {
        self.shared.world().bot_id
    }

    /// The bot's username, without `@`.
    pub fn bot_username(&self) -> String {
        self.shared.options.bot_username.clone()
    }

    fn mutate<R>(&self, wakes_pollers: bool, f: impl FnOnce(&mut World) -> R) -> R {
        let result = f(&mut self.shared.world());
        self.shared.changes.bump();
        if wakes_pollers {
            self.shared.wake_pollers();
        }
        result
    }

    /// Adds a user (language `ru`) and returns their id.
    pub fn add_user(
        &self,
        first_name: &str,
        last_name: Option<&str>,
        username: Option<&str>,
    ) -> i64 {
        self.mutate(false, |w| w.add_user(first_name, last_name, username))
    }

    /// Adds a basic group (type `group`, id `-4001…`) with the bot as administrator.
    pub fn add_group(&self, title: &str) -> i64 {
        self.mutate(false, |w| w.add_chat(title, state::ChatKind::Group))
    }

    /// Adds a supergroup (id `-1001…`) with the bot as administrator.
    pub fn add_supergroup(&self, title: &str) -> i64 {
        self.mutate(false, |w| w.add_chat(title, state::ChatKind::Supergroup))
    }

    /// Adds a channel (type `channel`, id `-1001…`) with the bot as administrator that may post,
    /// edit and pin. Members added with [`Self::add_member`] are its subscribers.
    pub fn add_channel(&self, title: &str) -> i64 {
        self.mutate(false, |w| w.add_chat(title, state::ChatKind::Channel))
    }

    /// Makes the supergroup `group_id` the discussion group of `channel_id` (replacing earlier
    /// links of either); `getChat` on each reports the other as `linked_chat_id`, and posts get
    /// automatic forwards into the group. Panics unless the kinds fit.
    pub fn link_discussion(&self, channel_id: i64, group_id: i64) {
        self.mutate(false, |w| w.link_discussion(channel_id, group_id))
    }

    /// Adds a forum: a supergroup with `is_forum: true` and the bot as administrator with
    /// `can_manage_topics`.
    pub fn add_forum(&self, title: &str) -> i64 {
        self.mutate(false, |w| w.add_forum(title))
    }

    /// Makes `user_id` a member of `chat_id` (a subscriber of a channel); users can only send to
    /// chats they are members of.
    pub fn add_member(&self, chat_id: i64, user_id: i64) {
        self.mutate(false, |w| w.add_member(chat_id, user_id))
    }

    /// Takes `user_id` out of `chat_id` (they left, or an admin removed them). In a group or
    /// supergroup a `left_chat_member` service message is queued as an update; leaving a channel
    /// produces none. Panics unless they were a member.
    pub fn remove_member(&self, chat_id: i64, user_id: i64) {
        self.mutate(true, |w| w.remove_member(chat_id, user_id))
    }

    /// Upgrades the basic group `group_id` to a supergroup and returns its new `-100…` id.
    /// Members carry over, message ids start afresh, and two updates are queued: the old chat's
    /// `migrate_to_chat_id` service message and the new chat's `migrate_from_chat_id` one. From
    /// then on writing to the old id fails with 400 `group chat was upgraded to a supergroup
    /// chat` and `parameters.migrate_to_chat_id`, and users must [`Self::send`] to the new id.
    pub fn migrate_to_supergroup(&self, group_id: i64) -> i64 {
        self.mutate(true, |w| w.migrate(group_id))
    }

    /// Whether the automatic forward of a channel post is handed to `getUpdates` before the
    /// response to the post's `sendMessage` (or other send) is returned. On: the response is held
    /// until a `getUpdates` call has taken the forward's update, or 5 s have passed. Off (the
    /// default): the update becomes available only once the response has been produced. The real
    /// order is not guaranteed, so the daemon must cope with both.
    pub fn set_forward_before_response(&self, on: bool) {
        self.mutate(false, |w| w.forward_before_response = on)
    }

    /// Sets the bot's rights in `chat_id` (a group, supergroup or channel), replacing
    /// [`BotRights::ADMIN`]; see the module docs for what the fake then refuses.
    pub fn set_bot_rights(&self, chat_id: i64, rights: BotRights) {
        self.mutate(false, |w| {
            assert!(
                w.chats.contains_key(&chat_id),
                "set_bot_rights: unknown chat {chat_id}"
            );
            w.bot_rights.insert(chat_id, rights);
        })
    }

    /// The bot's privacy mode (@BotFather → Bot Settings → Group Privacy), on by default: `getMe`
    /// answers `can_read_all_group_messages` = `!enabled`. Delivery is not affected.
    pub fn set_privacy_mode(&self, enabled: bool) {
        self.mutate(false, |w| w.privacy_mode = enabled)
    }

    /// Whether the bot may DM the user (they started the bot). Default false, so a DM is 403
    /// `Forbidden: bot can't initiate conversation with a user`.
    pub fn set_can_dm(&self, user_id: i64, can: bool) {
        self.mutate(false, |w| w.set_can_dm(user_id, can))
    }

    /// The user sends `message` to the chat (`chat_id == from_user` for a DM to the bot); queues
    /// a `message` update and returns the new message id. Panics on test mistakes (unknown chat,
    /// not a member, replying to a missing message).
    pub fn send(&self, chat_id: i64, from_user: i64, message: Outgoing) -> i32 {
        self.mutate(true, |w| {
            w.user_send(chat_id, from_user, vec![message], false, None, None)
        })[0]
    }

    /// The user sends an album: one update per item, all with the same fresh `media_group_id`.
    pub fn send_album(&self, chat_id: i64, from_user: i64, items: Vec<Outgoing>) -> Vec<i32> {
        self.mutate(true, |w| {
            w.user_send(chat_id, from_user, items, true, None, None)
        })
    }

    /// The user sends `message` on behalf of `as_chat`: a channel (then `from` is
    /// [`CHANNEL_BOT_ID`] "Channel_Bot") or `chat_id` itself, as an anonymous administrator (then
    /// `from` is [`GROUP_ANONYMOUS_BOT_ID`] "GroupAnonymousBot"); `sender_chat` is `as_chat`.
    /// Only supergroups allow either. Otherwise like [`Self::send`].
    pub fn send_as(&self, chat_id: i64, from_user: i64, as_chat: i64, message: Outgoing) -> i32 {
        self.mutate(true, |w| {
            w.user_send(
                chat_id,
                from_user,
                vec![message],
                false,
                Some(as_chat),
                None,
            )
        })[0]
    }

    /// The user posts `message` into the forum topic `topic_id` (`message_thread_id` and
    /// `is_topic_message` set; without [`Outgoing::reply_to`] it implicitly replies to the topic's
    /// creation message). Panics if the chat is not a forum, the topic is unknown or closed
    /// (users cannot post into closed topics), or as [`Self::send`] does.
    pub fn send_in_topic(
        &self,
        chat_id: i64,
        topic_id: i32,
        from_user: i64,
        message: Outgoing,
    ) -> i32 {
        self.mutate(true, |w| {
            w.user_send(
                chat_id,
                from_user,
                vec![message],
                false,
                None,
                Some(topic_id),
            )
        })[0]
    }

    /// Deletes a message as a user or administrator would (the bot is not told). Replies that
    /// quote it keep working for the bot only with `allow_sending_without_reply`. Panics if the
    /// message does not exist.
    pub fn delete_message(&self, chat_id: i64, message_id: i32) {
        self.mutate(false, |w| w.delete_message(chat_id, message_id))
    }

    /// Deletes a forum topic with all its messages, as an administrator would
    /// (`deleteForumTopic`; the bot is not told). Sends into it then fail with `message thread
    /// not found`, topic methods with `TOPIC_ID_INVALID`. Panics if there is no such topic.
    pub fn delete_topic(&self, chat_id: i64, topic_id: i32) {
        self.mutate(false, |w| w.delete_topic(chat_id, topic_id))
    }

    /// The user taps an inline button with `data` under the message; queues a `callback_query`
    /// update and returns the query id. A deleted message is delivered as inaccessible (`date` 0).
    pub fn press(&self, chat_id: i64, message_id: i32, from_user: i64, data: &str) -> String {
        self.mutate(true, |w| w.press(chat_id, message_id, from_user, data))
    }

    /// Queues arbitrary update JSON (e.g. types teloxide does not know) with the next `update_id`,
    /// which is returned.
    pub fn push_raw_update(&self, update: Value) -> i64 {
        self.mutate(true, |w| w.queue_update(update))
    }

    /// Telegram restarts its `update_id` sequence: the next update gets `next`, typically lower
    /// than every id before it. Telegram does this after a week without updates ("identifier of
    /// the next update will be chosen randomly instead of sequentially", Bot API `Update`).
    pub fn restart_update_ids(&self, next: i64) {
        self.mutate(false, |w| w.restart_update_ids(next));
    }

    /// The chat's messages now, oldest first, edits applied, deleted ones gone.
    pub fn messages(&self, chat_id: i64) -> Vec<ChatMessage> {
        self.shared.world().chat_messages(chat_id)
    }

    /// One message as it stands now.
    pub fn message(&self, chat_id: i64, message_id: i32) -> Option<ChatMessage> {
        self.shared
            .world()
            .chat_messages(chat_id)
            .into_iter()
            .find(|m| m.message_id == message_id)
    }

    /// The forum's topics, oldest first.
    pub fn topics(&self, chat_id: i64) -> Vec<FakeTopic> {
        self.shared.world().topics(chat_id)
    }

    /// The id of the automatic forward of channel post `post_id` in the channel's discussion
    /// group, if there is one.
    pub fn automatic_forward(&self, channel_id: i64, post_id: i32) -> Option<i32> {
        self.shared.world().automatic_forward(channel_id, post_id)
    }

    /// The chat linked to `chat_id`: a channel's discussion group or a group's channel.
    pub fn linked_chat(&self, chat_id: i64) -> Option<i64> {
        self.shared.world().chats.get(&chat_id)?.linked_chat
    }

    /// The message pinned in the chat, if any.
    pub fn pinned(&self, chat_id: i64) -> Option<i32> {
        self.shared.world().pinned(chat_id)
    }

    /// Every API call received, in order of completion.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.world().calls.clone()
    }

    /// Every `answerCallbackQuery` that succeeded, in order.
    pub fn callback_answers(&self) -> Vec<CallbackAnswer> {
        self.shared.world().callback_answers.clone()
    }

    /// The bytes behind a file id (uploaded by the bot or sent by a user); `None` for an unknown
    /// id and for an upload larger than [`crate::blob::KEEP_UPLOAD_BYTES`], of which only the digest is kept
    /// ([`FakeTelegram::file_sha256`]).
    pub fn file_bytes(&self, file_id: &str) -> Option<Vec<u8>> {
        let body = self.shared.world().files.get(file_id)?.body.clone();
        body.to_vec()
    }

    /// The SHA-256 (lowercase hex) of the file behind a file id, whatever its size.
    pub fn file_sha256(&self, file_id: &str) -> Option<String> {
        let body = self.shared.world().files.get(file_id)?.body.clone();
        Some(body.sha256_hex())
    }

    /// Updates queued that the bot has not confirmed with a higher `offset` yet.
    pub fn unconfirmed_updates(&self) -> usize {
        self.shared.world().updates.len()
    }

    /// The next `times` calls of `method` (any case) fail with `error` without executing.
    pub fn inject_error(&self, method: &str, times: usize, error: FakeError) {
        self.mutate(false, |w| {
            w.injected.push(state::Injection {
                method: method.to_ascii_lowercase(),
                chat_id: None,
                skip: 0,
                times,
                error,
            })
        })
    }

    /// Turns Telegram's flood limits on or off from now on (see [`TelegramOptions::enforce_limits`]),
    /// so a benchmark can lay out a large world through the Bot API quickly and then measure the
    /// daemon under the limits. Sends made while off are not charged afterwards.
    pub fn set_enforce_limits(&self, on: bool) {
        self.shared
            .enforce_limits
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Answers every call held by [`FakeError::HeldAnswer`].
    pub fn release_answers(&self) {
        self.shared.released.send_modify(|n| *n += 1);
    }

    /// The `nth` (1-based) next call of `method` to `chat_id` fails with `error`, once; the calls
    /// before it and calls to other chats run normally. A test aims at one part of a multi-part
    /// send this way without racing the client.
    pub fn inject_error_at(&self, method: &str, chat_id: i64, nth: usize, error: FakeError) {
        self.mutate(false, |w| {
            w.injected.push(state::Injection {
                method: method.to_ascii_lowercase(),
                chat_id: Some(chat_id),
                skip: nth.saturating_sub(1),
                times: 1,
                error,
            })
        })
    }

    /// Re-evaluates `check` on every change of the fake (and at least every 200 ms) until it
    /// returns `Some`; panics naming `what` after `timeout`.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&FakeTelegram) -> Option<T>,
    ) -> T {
        self.shared
            .changes
            .wait_until(timeout, what, || check(self))
            .await
    }
}
