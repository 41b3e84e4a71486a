//! The fake's world: users, chats with their message histories, files, the update queue, and how
//! all of it looks on the wire.

use super::html::{Entity, Formatted};
use super::limits::Limiter;
use super::{
    BotRights, CHANNEL_BOT_ID, CallbackAnswer, ChatMessage, FakeError, FakeTopic,
    GROUP_ANONYMOUS_BOT_ID, MediaInfo, Outgoing, RecordedCall, SERVICE_USER_ID, TelegramOptions,
};
use crate::blob::Blob;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;

/// The first `update_id`; real ids are arbitrary positive numbers that increase by one.
const FIRST_UPDATE_ID: i64 = 100_001;
const FIRST_USER_ID: i64 = 700_000_001;
const FIRST_GROUP_ID: i64 = -4_001_000_001;
const FIRST_SUPERGROUP_ID: i64 = -1_001_000_000_001;
/// What the server answers for a topic created without `icon_color` [U].
pub(crate) const DEFAULT_TOPIC_COLOR: u32 = 0x6F_B9_F0;
/// TDLib's `MAX_FORUM_TOPIC_TITLE_LENGTH`: longer names are cut, not refused.
const MAX_TOPIC_NAME: usize = 128;
/// How long a `sendMessage` into a channel waits for its automatic forward to be fetched when
/// [`World::forward_before_response`] is on.
const FORWARD_WAIT: Duration = Duration::from_secs(5);

/// What a user sends.
#[derive(Clone, Debug)]
pub(crate) enum Content {
    Text(String),
    Photo {
        bytes: Vec<u8>,
        caption: Option<String>,
    },
    Document {
        file_name: String,
        mime_type: String,
        body: Blob,
        caption: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChatKind {
    Private,
    Group,
    Supergroup,
    Channel,
}

impl ChatKind {
    pub(crate) fn wire_name(self) -> &'static str {
        match self {
            ChatKind::Private => "private",
            ChatKind::Group => "group",
            ChatKind::Supergroup => "supergroup",
            ChatKind::Channel => "channel",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct UserRec {
    pub id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub can_dm: bool,
}

impl UserRec {
    fn full_name(&self) -> String {
        match &self.last_name {
            Some(last) => format!("{} {last}", self.first_name),
            None => self.first_name.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct ChatRec {
    pub id: i64,
    pub kind: ChatKind,
    pub title: String,
    pub members: BTreeSet<i64>,
    pub messages: BTreeMap<i32, StoredMessage>,
    pub next_message_id: i32,
    pub pinned: Option<i32>,
    pub chat_instance: String,
    /// A supergroup with topics enabled.
    pub is_forum: bool,
    /// The discussion group of a channel, or the channel of a discussion group.
    pub linked_chat: Option<i64>,
    /// Set on a basic group once it was upgraded: the supergroup that replaced it.
    pub migrated_to: Option<i64>,
    /// Forum topics by thread id (= id of the topic-creation service message).
    pub topics: BTreeMap<i32, TopicRec>,
}

impl ChatRec {
    /// Groups, supergroups and channels share the 20-a-minute limit.
    pub(crate) fn is_group(&self) -> bool {
        self.kind != ChatKind::Private
    }

    /// The update type messages of this chat arrive as.
    pub(crate) fn update_kind(&self) -> &'static str {
        if self.kind == ChatKind::Channel {
            "channel_post"
        } else {
            "message"
        }
    }
}

/// A forum topic.
#[derive(Clone, Debug)]
pub(crate) struct TopicRec {
    pub name: String,
    pub icon_color: u32,
    pub icon_custom_emoji_id: Option<String>,
    pub closed: bool,
}

/// One size of a photo.
#[derive(Clone, Debug)]
pub(crate) struct PhotoSizeRec {
    pub file_id: String,
    pub file_unique_id: String,
    pub size: usize,
    pub width: u32,
    pub height: u32,
}

#[derive(Clone, Debug)]
pub(crate) enum Media {
    Photo(Vec<PhotoSizeRec>),
    Document {
        file_id: String,
        file_unique_id: String,
        file_name: Option<String>,
        mime_type: Option<String>,
        size: usize,
    },
}

impl Media {
    fn info(&self) -> MediaInfo {
        match self {
            Media::Photo(sizes) => {
                let largest = sizes.last().expect("a photo has sizes");
                MediaInfo {
                    kind: "photo".to_owned(),
                    file_id: largest.file_id.clone(),
                    file_name: None,
                    size: largest.size,
                }
            }
            Media::Document {
                file_id,
                file_name,
                size,
                ..
            } => MediaInfo {
                kind: "document".to_owned(),
                file_id: file_id.clone(),
                file_name: file_name.clone(),
                size: *size,
            },
        }
    }

    fn to_json(&self) -> (&'static str, Value) {
        match self {
            Media::Photo(sizes) => (
                "photo",
                Value::Array(
                    sizes
                        .iter()
                        .map(|s| {
                            json!({"file_id": s.file_id, "file_unique_id": s.file_unique_id,
                                   "file_size": s.size, "width": s.width, "height": s.height})
                        })
                        .collect(),
                ),
            ),
            Media::Document {
                file_id,
                file_unique_id,
                file_name,
                mime_type,
                size,
            } => {
                let mut doc = json!({"file_id": file_id, "file_unique_id": file_unique_id, "file_size": size});
                if let Some(name) = file_name {
                    doc["file_name"] = json!(name);
                }
                if let Some(mime) = mime_type {
                    doc["mime_type"] = json!(mime);
                }
                ("document", doc)
            }
        }
    }
}

/// Where an automatic forward comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ForwardOrigin {
    pub chat: i64,
    pub message_id: i32,
    pub date: i64,
}

/// The content of a service message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    /// `pinned_message`: the id of the pinned message.
    Pinned(i32),
    TopicCreated {
        name: String,
        icon_color: u32,
        icon_custom_emoji_id: Option<String>,
    },
    TopicEdited {
        name: Option<String>,
        icon_custom_emoji_id: Option<String>,
    },
    TopicClosed,
    TopicReopened,
    MigrateTo(i64),
    MigrateFrom(i64),
    /// The user allowed the bot to write to them, answering a Mini App's `requestWriteAccess`.
    WriteAccessAllowed,
    /// `left_chat_member`: the user left the group or was removed from it.
    LeftChatMember(i64),
}

impl Service {
    /// The Message field that carries it.
    pub(crate) fn wire_key(&self) -> &'static str {
        match self {
            Service::Pinned(_) => "pinned_message",
            Service::TopicCreated { .. } => "forum_topic_created",
            Service::TopicEdited { .. } => "forum_topic_edited",
            Service::TopicClosed => "forum_topic_closed",
            Service::TopicReopened => "forum_topic_reopened",
            Service::MigrateTo(_) => "migrate_to_chat_id",
            Service::MigrateFrom(_) => "migrate_from_chat_id",
            Service::WriteAccessAllowed => "write_access_allowed",
            Service::LeftChatMember(_) => "left_chat_member",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct StoredMessage {
    pub id: i32,
    /// The wire `from`: absent on channel posts; a service account for automatic forwards and
    /// messages sent on behalf of a chat.
    pub from: Option<i64>,
    /// The wire `sender_chat`: the channel for posts and automatic forwards, the chat a user
    /// wrote as.
    pub sender_chat: Option<i64>,
    pub date: i64,
    pub edit_date: Option<i64>,
    /// The text, or the caption when `media` is set.
    pub body: Formatted,
    pub html: Option<String>,
    pub media: Option<Media>,
    pub media_group_id: Option<String>,
    /// The explicit reply.
    pub reply_to: Option<i32>,
    pub thread_id: Option<i32>,
    /// `is_topic_message`: the message is in a forum topic.
    pub is_topic: bool,
    pub is_automatic_forward: bool,
    pub forward_origin: Option<ForwardOrigin>,
    pub reply_markup: Option<Value>,
    pub edit_count: u32,
    pub service: Option<Service>,
}

impl StoredMessage {
    pub(crate) fn new(from: i64, body: Formatted) -> Self {
        Self {
            id: 0,
            from: Some(from),
            sender_chat: None,
            date: 0,
            edit_date: None,
            body,
            html: None,
            media: None,
            media_group_id: None,
            reply_to: None,
            thread_id: None,
            is_topic: false,
            is_automatic_forward: false,
            forward_origin: None,
            reply_markup: None,
            edit_count: 0,
            service: None,
        }
    }

    pub(crate) fn service(from: i64, service: Service) -> Self {
        let mut message = Self::new(from, Formatted::plain(""));
        message.service = Some(service);
        message
    }

    /// The reply on the wire: the explicit one, else the thread root when the message is inside
    /// a thread (a topic message's implicit reply to the topic-creation message), as the server's
    /// `get_same_chat_reply_to_message_id` does.
    pub(crate) fn wire_reply_to(&self) -> Option<i32> {
        self.reply_to
            .or(self.thread_id.filter(|thread| *thread < self.id))
    }

    /// Only an inline keyboard is part of a Message on the wire; force_reply is a client hint.
    pub(crate) fn wire_markup(&self) -> Option<&Value> {
        self.reply_markup
            .as_ref()
            .filter(|m| m.get("inline_keyboard").is_some())
    }
}

/// A stored file.
#[derive(Clone, Debug)]
pub(crate) struct FileRec {
    pub body: Blob,
    pub unique_id: String,
    pub path: String,
}

#[derive(Clone, Debug)]
pub(crate) struct QueryRec {
    pub answered: bool,
    pub created: tokio::time::Instant,
}

pub(crate) struct World {
    pub bot_id: i64,
    pub bot_username: String,
    pub bot_first_name: String,
    pub users: BTreeMap<i64, UserRec>,
    pub chats: BTreeMap<i64, ChatRec>,
    next_user: i64,
    next_group: i64,
    next_supergroup: i64,
    pub updates: VecDeque<(i64, Value)>,
    /// Queued updates not deliverable yet (automatic forwards waiting for the response of the
    /// post that caused them); `getUpdates` stops before the first one, keeping id order.
    pub held: BTreeSet<i64>,
    /// Update ids of the automatic forwards created by the API call being executed.
    pub new_forwards: Vec<i64>,
    /// See [`super::FakeTelegram::set_forward_before_response`].
    pub forward_before_response: bool,
    /// The bound on the wait [`Self::forward_before_response`] causes.
    pub forward_wait: Duration,
    next_update_id: i64,
    pub calls: Vec<RecordedCall>,
    pub callback_answers: Vec<CallbackAnswer>,
    pub queries: HashMap<String, QueryRec>,
    next_query: u64,
    pub files: HashMap<String, FileRec>,
    next_file: u64,
    pub injected: Vec<Injection>,
    /// Chats where the bot is not a full administrator (see [`Self::bot_rights`]).
    pub bot_rights: HashMap<i64, BotRights>,
    /// See [`super::FakeTelegram::set_privacy_mode`].
    pub privacy_mode: bool,
    /// `setWebhook`: while set, updates are POSTed there and `getUpdates` is refused.
    pub webhook: Option<super::webhook::Webhook>,
    /// The last `allowed_updates` a `getUpdates` or `setWebhook` named; Telegram keeps it until
    /// it is named again. `None`: never named, so every type but the opt-in ones.
    pub allowed_updates: Option<Vec<String>>,
    pub limiter: Limiter,
    last_date: i64,
    next_media_group: u64,
    /// Incremented by every getUpdates, so an older pending long poll learns it was superseded.
    pub poll_generation: u64,
}

/// A failure waiting for its call, see [`super::FakeTelegram::inject_error_at`].
#[derive(Debug)]
pub(crate) struct Injection {
    /// Lowercase method name.
    pub method: String,
    /// When set, only calls to this chat count.
    pub chat_id: Option<i64>,
    /// Matching calls still let through before the first failure.
    pub skip: usize,
    /// Failures left.
    pub times: usize,
    pub error: FakeError,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl World {
    pub(crate) fn new(options: &TelegramOptions) -> Self {
        let bot_id = options
            .token
            .split(':')
            .next()
            .and_then(|id| id.parse().ok())
            .unwrap_or(123_456_789);
        Self {
            bot_id,
            bot_username: options.bot_username.clone(),
            bot_first_name: "Teledesk Test Bot".to_owned(),
            users: BTreeMap::new(),
            chats: BTreeMap::new(),
            next_user: FIRST_USER_ID,
            next_group: FIRST_GROUP_ID,
            next_supergroup: FIRST_SUPERGROUP_ID,
            updates: VecDeque::new(),
            held: BTreeSet::new(),
            new_forwards: Vec::new(),
            forward_before_response: false,
            forward_wait: FORWARD_WAIT,
            next_update_id: FIRST_UPDATE_ID,
            calls: Vec::new(),
            callback_answers: Vec::new(),
            queries: HashMap::new(),
            next_query: 1,
            files: HashMap::new(),
            next_file: 1,
            injected: Vec::new(),
            bot_rights: HashMap::new(),
            privacy_mode: true,
            webhook: None,
            allowed_updates: None,
            limiter: Limiter::default(),
            last_date: 0,
            next_media_group: 1,
            poll_generation: 0,
        }
    }

    /// The bot's rights in a chat: [`BotRights::ADMIN`] unless a test set others.
    pub(crate) fn bot_rights(&self, chat_id: i64) -> BotRights {
        self.bot_rights
            .get(&chat_id)
            .copied()
            .unwrap_or(BotRights::ADMIN)
    }

    /// Unix seconds, never going backwards.
    pub(crate) fn now_date(&mut self) -> i64 {
        self.last_date = self.last_date.max(unix_now());
        self.last_date
    }

    pub(crate) fn add_user(
        &mut self,
        first_name: &str,
        last_name: Option<&str>,
        username: Option<&str>,
    ) -> i64 {
        let id = self.next_user;
        self.next_user += 1;
        self.users.insert(
            id,
            UserRec {
                id,
                first_name: first_name.to_owned(),
                last_name: last_name.map(str::to_owned),
                username: username.map(str::to_owned),
                can_dm: false,
            },
        );
        id
    }

    fn new_chat(id: i64, kind: ChatKind, title: &str) -> ChatRec {
        ChatRec {
            id,
            kind,
            title: title.to_owned(),
            members: BTreeSet::new(),
            messages: BTreeMap::new(),
            next_message_id: 1,
            pinned: None,
            // Stable per chat, shaped like real ones (a signed 64-bit number as a string).
            chat_instance: format!(
                "-{}",
                5_123_000_000_000_000_000u64 + id.unsigned_abs() % 1_000_000_000_000_000
            ),
            is_forum: false,
            linked_chat: None,
            migrated_to: None,
            topics: BTreeMap::new(),
        }
    }

    fn fresh_chat_id(&mut self, kind: ChatKind) -> i64 {
        if kind == ChatKind::Group {
            self.next_group -= 1;
            self.next_group + 1
        } else {
            // Supergroups and channels share the -100… space.
            self.next_supergroup -= 1;
            self.next_supergroup + 1
        }
    }

    pub(crate) fn add_chat(&mut self, title: &str, kind: ChatKind) -> i64 {
        let id = self.fresh_chat_id(kind);
        self.chats.insert(id, Self::new_chat(id, kind, title));
        id
    }

    pub(crate) fn add_forum(&mut self, title: &str) -> i64 {
        let id = self.add_chat(title, ChatKind::Supergroup);
        let chat = self.chats.get_mut(&id).expect("just added");
        chat.is_forum = true;
        // Id 1 is the chat's creation message, the root of the General topic; real topics start
        // after it.
        chat.next_message_id = 2;
        id
    }

    fn chat_mut(&mut self, chat_id: i64, what: &str) -> &mut ChatRec {
        self.chats
            .get_mut(&chat_id)
            .unwrap_or_else(|| panic!("{what}: unknown chat {chat_id}"))
    }

    pub(crate) fn link_discussion(&mut self, channel_id: i64, group_id: i64) {
        let channel = self.chat_mut(channel_id, "link_discussion");
        assert_eq!(
            channel.kind,
            ChatKind::Channel,
            "link_discussion: {channel_id} is not a channel"
        );
        let group = self.chat_mut(group_id, "link_discussion");
        assert_eq!(
            group.kind,
            ChatKind::Supergroup,
            "link_discussion: the discussion group {group_id} must be a supergroup"
        );
        for id in [channel_id, group_id] {
            if let Some(old) = self.chats[&id].linked_chat
                && let Some(other) = self.chats.get_mut(&old)
            {
                other.linked_chat = None;
            }
        }
        self.chat_mut(channel_id, "link_discussion").linked_chat = Some(group_id);
        self.chat_mut(group_id, "link_discussion").linked_chat = Some(channel_id);
    }

    /// Upgrades a basic group: a new supergroup with the same title and members, a fresh message
    /// id sequence, and the two migration service messages queued as updates.
    pub(crate) fn migrate(&mut self, group_id: i64) -> i64 {
        let group = self.chat_mut(group_id, "migrate_to_supergroup");
        assert_eq!(
            group.kind,
            ChatKind::Group,
            "migrate_to_supergroup: {group_id} is not a basic group"
        );
        assert!(
            group.migrated_to.is_none(),
            "migrate_to_supergroup: {group_id} was already upgraded"
        );
        let (title, members) = (group.title.clone(), group.members.clone());
        let new_id = self.fresh_chat_id(ChatKind::Supergroup);
        let mut supergroup = Self::new_chat(new_id, ChatKind::Supergroup, &title);
        supergroup.members = members.clone();
        self.chats.insert(new_id, supergroup);
        self.chat_mut(group_id, "migrate_to_supergroup").migrated_to = Some(new_id);

        // The owner did it; a group without members was upgraded by an anonymous admin.
        let mut to = StoredMessage::service(GROUP_ANONYMOUS_BOT_ID, Service::MigrateTo(new_id));
        match members.first() {
            Some(owner) => to.from = Some(*owner),
            None => to.sender_chat = Some(group_id),
        }
        self.insert_and_queue(group_id, to);
        // As captured from the real server: the new chat's first message comes from
        // GroupAnonymousBot on behalf of the supergroup itself.
        let mut from =
            StoredMessage::service(GROUP_ANONYMOUS_BOT_ID, Service::MigrateFrom(group_id));
        from.sender_chat = Some(new_id);
        self.insert_and_queue(new_id, from);
        new_id
    }

    /// Stores a message and queues it as an update of the chat's kind; returns its id.
    pub(crate) fn insert_and_queue(&mut self, chat_id: i64, message: StoredMessage) -> i32 {
        let id = self.insert_message(chat_id, message);
        let kind = self.chats[&chat_id].update_kind();
        let json = self.message_json_by_id(chat_id, id);
        self.queue_update(json!({ kind: json }));
        id
    }

    /// Creates the automatic forwards of fresh channel posts in the linked discussion group: one
    /// per post without an inline keyboard (tdesktop#8748: such posts get no comment thread [U]).
    /// Each is queued as a `message` update, held back until the API response unless
    /// [`Self::forward_before_response`] is on; their update ids go to [`Self::new_forwards`].
    pub(crate) fn forward_channel_posts(&mut self, channel_id: i64, post_ids: &[i32]) {
        let channel = &self.chats[&channel_id];
        let Some(group_id) = channel.linked_chat else {
            return;
        };
        let posts: Vec<StoredMessage> = post_ids
            .iter()
            .filter_map(|id| channel.messages.get(id))
            .filter(|post| post.wire_markup().is_none())
            .cloned()
            .collect();
        // An album stays an album in the group, under its own media_group_id [U].
        let album = posts
            .iter()
            .any(|post| post.media_group_id.is_some())
            .then(|| self.fresh_media_group_id());
        for post in posts {
            let mut forward = StoredMessage::new(SERVICE_USER_ID, post.body.clone());
            forward.sender_chat = Some(channel_id);
            forward.html = post.html.clone();
            forward.media = post.media.clone();
            forward.media_group_id = post.media_group_id.as_ref().and(album.clone());
            forward.is_automatic_forward = true;
            forward.forward_origin = Some(ForwardOrigin {
                chat: channel_id,
                message_id: post.id,
                date: post.date,
            });
            let id = self.insert_message(group_id, forward);
            let json = self.message_json_by_id(group_id, id);
            let update_id = self.queue_update(json!({ "message": json }));
            if !self.forward_before_response {
                self.held.insert(update_id);
            }
            self.new_forwards.push(update_id);
        }
    }

    /// The automatic forward of `post_id` in the channel's discussion group.
    pub(crate) fn automatic_forward(&self, channel_id: i64, post_id: i32) -> Option<i32> {
        let group = self.chats.get(&self.chats.get(&channel_id)?.linked_chat?)?;
        group
            .messages
            .values()
            .find(|m| {
                m.forward_origin
                    .is_some_and(|o| o.chat == channel_id && o.message_id == post_id)
            })
            .map(|m| m.id)
    }

    /// Creates a forum topic and its service message (queued: the bot receives its own topic
    /// service messages); returns the thread id. The caller checked the chat is a forum.
    pub(crate) fn create_topic(
        &mut self,
        chat_id: i64,
        name: String,
        icon_color: u32,
        icon_custom_emoji_id: Option<String>,
    ) -> i32 {
        let mut created = StoredMessage::service(
            self.bot_id,
            Service::TopicCreated {
                name: name.clone(),
                icon_color,
                icon_custom_emoji_id: icon_custom_emoji_id.clone(),
            },
        );
        created.is_topic = true;
        let date = self.now_date();
        let chat = self.chat_mut(chat_id, "create_topic");
        let id = chat.next_message_id;
        chat.next_message_id += 1;
        created.id = id;
        created.date = date;
        created.thread_id = Some(id);
        chat.messages.insert(id, created);
        chat.topics.insert(
            id,
            TopicRec {
                name,
                icon_color,
                icon_custom_emoji_id,
                closed: false,
            },
        );
        let json = self.message_json_by_id(chat_id, id);
        self.queue_update(json!({ "message": json }));
        id
    }

    /// Someone (a user or an administrator) deletes a message; the bot gets no update, as bots
    /// are not told about deletions.
    pub(crate) fn delete_message(&mut self, chat_id: i64, message_id: i32) {
        let chat = self.chat_mut(chat_id, "delete_message");
        assert!(
            chat.messages.remove(&message_id).is_some(),
            "delete_message: no message {message_id} in {chat_id}"
        );
        if chat.pinned == Some(message_id) {
            chat.pinned = None;
        }
    }

    /// An administrator deletes a forum topic: the topic and every message in it are gone
    /// (`deleteForumTopic`), and no update tells the bot.
    pub(crate) fn delete_topic(&mut self, chat_id: i64, topic: i32) {
        let chat = self.chat_mut(chat_id, "delete_topic");
        assert!(
            chat.topics.remove(&topic).is_some(),
            "delete_topic: no topic {topic} in {chat_id}"
        );
        chat.messages
            .retain(|_, m| m.thread_id != Some(topic) || !m.is_topic);
        if chat
            .pinned
            .is_some_and(|id| !chat.messages.contains_key(&id))
        {
            chat.pinned = None;
        }
    }

    /// Posts a topic service message (edited, closed, reopened) by the bot into the topic.
    pub(crate) fn topic_service(&mut self, chat_id: i64, topic: i32, service: Service) -> i32 {
        let mut message = StoredMessage::service(self.bot_id, service);
        message.thread_id = Some(topic);
        message.is_topic = true;
        self.insert_and_queue(chat_id, message)
    }

    pub(crate) fn topics(&self, chat_id: i64) -> Vec<FakeTopic> {
        self.chats
            .get(&chat_id)
            .map(|chat| {
                chat.topics
                    .iter()
                    .map(|(id, topic)| FakeTopic {
                        id: *id,
                        name: topic.name.clone(),
                        closed: topic.closed,
                        icon_color: topic.icon_color,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn add_member(&mut self, chat_id: i64, user_id: i64) {
        assert!(
            self.users.contains_key(&user_id),
            "add_member: unknown user {user_id}"
        );
        let chat = self
            .chats
            .get_mut(&chat_id)
            .unwrap_or_else(|| panic!("add_member: unknown chat {chat_id}"));
        chat.members.insert(user_id);
    }

    /// Takes `user_id` out of `chat_id`. Groups announce it with a `left_chat_member` service
    /// message, which bots get even in privacy mode; a channel tells no one. An administrator
    /// bot that opted in to `chat_member` also gets that update, in channels too.
    pub(crate) fn remove_member(&mut self, chat_id: i64, user_id: i64) {
        let chat = self.chat_mut(chat_id, "remove_member");
        assert!(
            chat.members.remove(&user_id),
            "remove_member: {user_id} is not a member of {chat_id}"
        );
        let kind = chat.kind;
        if kind != ChatKind::Channel {
            let left = StoredMessage::service(user_id, Service::LeftChatMember(user_id));
            self.insert_and_queue(chat_id, left);
        }
        if self.bot_rights(chat_id).admin && self.wants_update("chat_member") {
            let user = self.user_json(user_id);
            let date = self.now_date();
            let chat = self.chat_json(&self.chats[&chat_id]);
            self.queue_update(json!({"chat_member": {
                "chat": chat,
                "from": user,
                "date": date,
                "old_chat_member": {"status": "member", "user": user},
                "new_chat_member": {"status": "left", "user": user},
            }}));
        }
    }

    /// Whether the bot's `allowed_updates` takes updates of `kind`; `chat_member` and the
    /// reaction updates only when named [doc getUpdates].
    pub(crate) fn wants_update(&self, kind: &str) -> bool {
        match &self.allowed_updates {
            Some(allowed) if !allowed.is_empty() => allowed.iter().any(|a| a == kind),
            _ => !matches!(
                kind,
                "chat_member" | "message_reaction" | "message_reaction_count"
            ),
        }
    }

    pub(crate) fn set_can_dm(&mut self, user_id: i64, can: bool) {
        self.users
            .get_mut(&user_id)
            .unwrap_or_else(|| panic!("set_can_dm: unknown user {user_id}"))
            .can_dm = can;
    }

    /// The private chat with a user, created on first use.
    pub(crate) fn private_chat(&mut self, user_id: i64) -> Option<&mut ChatRec> {
        let user = self.users.get(&user_id)?;
        let title = user.full_name();
        Some(
            self.chats
                .entry(user_id)
                .or_insert_with(|| Self::new_chat(user_id, ChatKind::Private, &title)),
        )
    }

    pub(crate) fn pinned(&self, chat_id: i64) -> Option<i32> {
        self.chats.get(&chat_id).and_then(|c| c.pinned)
    }

    pub(crate) fn new_file(&mut self, body: Blob, kind: &str, extension: &str) -> (String, String) {
        let n = self.next_file;
        self.next_file += 1;
        // Prefixes like real ids (AgAC… photos, BQAC… documents); opaque to clients anyway.
        let prefix = if kind == "photo" {
            "AgACAgIAAxkBAAI"
        } else {
            "BQACAgIAAxkBAAI"
        };
        let file_id = format!("{prefix}{n:08}fAkEiD");
        let unique_id = format!("AQAD{n:06}");
        let dir = if kind == "photo" {
            "photos"
        } else {
            "documents"
        };
        self.files.insert(
            file_id.clone(),
            FileRec {
                body,
                unique_id: unique_id.clone(),
                path: format!("{dir}/file_{n}.{extension}"),
            },
        );
        (file_id, unique_id)
    }

    /// Stores `body` as a photo with a thumbnail and a full size, both downloading `body`.
    pub(crate) fn new_photo(&mut self, body: Blob) -> Media {
        let size = body.len() as usize;
        let (small_id, small_unique) = self.new_file(body.clone(), "photo", "jpg");
        let (large_id, large_unique) = self.new_file(body, "photo", "jpg");
        Media::Photo(vec![
            PhotoSizeRec {
                file_id: small_id,
                file_unique_id: small_unique,
                size,
                width: 320,
                height: 240,
            },
            PhotoSizeRec {
                file_id: large_id,
                file_unique_id: large_unique,
                size,
                width: 1280,
                height: 960,
            },
        ])
    }

    pub(crate) fn new_document(
        &mut self,
        body: Blob,
        file_name: Option<String>,
        mime_type: Option<String>,
    ) -> Media {
        let extension = file_name
            .as_deref()
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .filter(|ext| {
                !ext.is_empty() && ext.len() <= 8 && ext.chars().all(|c| c.is_ascii_alphanumeric())
            })
            .unwrap_or_else(|| "bin".to_owned());
        let size = body.len() as usize;
        let (file_id, file_unique_id) = self.new_file(body, "document", &extension);
        Media::Document {
            file_id,
            file_unique_id,
            file_name: file_name.filter(|n| !n.is_empty()),
            mime_type,
            size,
        }
    }

    /// Assigns id, date and thread to `message` and stores it in the chat.
    ///
    /// Threads exist only in supergroups [src td MessageTopic.cpp]: a message keeps a thread its
    /// caller set (a forum topic), else a reply's thread is its chain's root, inherited together
    /// with the topic flag. Channel messages are all posts: no `from`, `sender_chat` = the
    /// channel.
    pub(crate) fn insert_message(&mut self, chat_id: i64, mut message: StoredMessage) -> i32 {
        let date = self.now_date();
        let chat = self
            .chats
            .get_mut(&chat_id)
            .expect("chat checked by caller");
        message.id = chat.next_message_id;
        chat.next_message_id += 1;
        message.date = date;
        if chat.kind == ChatKind::Channel {
            message.from = None;
            message.sender_chat = Some(chat_id);
        }
        if chat.kind != ChatKind::Supergroup {
            message.thread_id = None;
            message.is_topic = false;
        } else if message.thread_id.is_none()
            && let Some(reply_to) = message.reply_to
        {
            let replied = chat.messages.get(&reply_to);
            message.thread_id = Some(replied.and_then(|m| m.thread_id).unwrap_or(reply_to));
            message.is_topic = replied.is_some_and(|m| m.is_topic);
        }
        let id = message.id;
        chat.messages.insert(id, message);
        id
    }

    pub(crate) fn restart_update_ids(&mut self, next: i64) {
        self.next_update_id = next;
    }

    /// Whether a `getUpdates` offset lies so far beyond the next update's id that TDLib's queue
    /// refuses it ("Specified from_id is in the future": more than 10 past the tail), which the Bot
    /// API server answers from the queue's head, confirming nothing.
    pub(crate) fn offset_in_the_future(&self, offset: i64) -> bool {
        offset > self.next_update_id.saturating_add(10)
    }

    pub(crate) fn queue_update(&mut self, mut update: Value) -> i64 {
        let id = self.next_update_id;
        self.next_update_id += 1;
        if let Value::Object(map) = &mut update {
            map.insert("update_id".to_owned(), json!(id));
        }
        self.updates.push_back((id, update));
        id
    }

    /// Whether a queued update can be handed out now (it and none before it is held).
    pub(crate) fn deliverable(&self) -> impl Iterator<Item = &(i64, Value)> {
        self.updates
            .iter()
            .take_while(|(id, _)| !self.held.contains(id))
    }

    pub(crate) fn user_json(&self, user_id: i64) -> Value {
        if user_id == self.bot_id {
            return json!({"id": self.bot_id, "is_bot": true, "first_name": self.bot_first_name,
                          "username": self.bot_username});
        }
        // The service accounts, as the real server shows them.
        match user_id {
            SERVICE_USER_ID => {
                return json!({"id": SERVICE_USER_ID, "is_bot": false, "first_name": "Telegram"});
            }
            CHANNEL_BOT_ID => {
                return json!({"id": CHANNEL_BOT_ID, "is_bot": true, "first_name": "Channel",
                              "username": "Channel_Bot"});
            }
            GROUP_ANONYMOUS_BOT_ID => {
                return json!({"id": GROUP_ANONYMOUS_BOT_ID, "is_bot": true, "first_name": "Group",
                              "username": "GroupAnonymousBot"});
            }
            _ => {}
        }
        let user = &self.users[&user_id];
        let mut value = json!({"id": user.id, "is_bot": false, "first_name": user.first_name, "language_code": "ru"});
        if let Some(last) = &user.last_name {
            value["last_name"] = json!(last);
        }
        if let Some(username) = &user.username {
            value["username"] = json!(username);
        }
        value
    }

    pub(crate) fn chat_json(&self, chat: &ChatRec) -> Value {
        if chat.kind == ChatKind::Private {
            let user = &self.users[&chat.id];
            let mut value =
                json!({"id": chat.id, "type": "private", "first_name": user.first_name});
            if let Some(last) = &user.last_name {
                value["last_name"] = json!(last);
            }
            if let Some(username) = &user.username {
                value["username"] = json!(username);
            }
            return value;
        }
        let mut value = json!({"id": chat.id, "type": chat.kind.wire_name(), "title": chat.title});
        if chat.is_forum {
            value["is_forum"] = json!(true);
        }
        value
    }

    /// The Message object; `nested` ones (inside reply_to_message or pinned_message) carry no
    /// further nested messages, as on the real server.
    pub(crate) fn message_json(
        &self,
        chat: &ChatRec,
        message: &StoredMessage,
        nested: bool,
    ) -> Value {
        let mut value = json!({
            "message_id": message.id,
            "chat": self.chat_json(chat),
            "date": message.date,
        });
        if let Some(from) = message.from {
            value["from"] = self.user_json(from);
        }
        if let Some(sender) = message.sender_chat.and_then(|id| self.chats.get(&id)) {
            value["sender_chat"] = self.chat_json(sender);
        }
        if let Some(thread) = message.thread_id {
            value["message_thread_id"] = json!(thread);
        }
        if message.is_topic {
            value["is_topic_message"] = json!(true);
        }
        if !nested
            && let Some(reply_to) = message.wire_reply_to()
            && let Some(replied) = chat.messages.get(&reply_to)
        {
            value["reply_to_message"] = self.message_json(chat, replied, true);
        }
        if let Some(edit_date) = message.edit_date {
            value["edit_date"] = json!(edit_date);
        }
        if let Some(origin) = message.forward_origin
            && let Some(source) = self.chats.get(&origin.chat)
        {
            let source = self.chat_json(source);
            value["forward_origin"] = json!({"type": "channel", "chat": source,
                                             "message_id": origin.message_id, "date": origin.date});
            // The legacy fields the server still emits [src JsonMessage].
            value["forward_from_chat"] = source;
            value["forward_from_message_id"] = json!(origin.message_id);
            value["forward_date"] = json!(origin.date);
        }
        if message.is_automatic_forward {
            value["is_automatic_forward"] = json!(true);
        }
        if let Some(service) = &message.service {
            value[service.wire_key()] = match service {
                Service::Pinned(pinned) => match chat.messages.get(pinned) {
                    Some(p) => self.message_json(chat, p, true),
                    None => json!({"chat": self.chat_json(chat), "message_id": pinned, "date": 0}),
                },
                Service::TopicCreated {
                    name,
                    icon_color,
                    icon_custom_emoji_id,
                } => {
                    let mut created = json!({"name": name, "icon_color": icon_color});
                    if let Some(emoji) = icon_custom_emoji_id {
                        created["icon_custom_emoji_id"] = json!(emoji);
                    }
                    created
                }
                Service::TopicEdited {
                    name,
                    icon_custom_emoji_id,
                } => {
                    let mut edited = json!({});
                    if let Some(name) = name {
                        edited["name"] = json!(name);
                    }
                    if let Some(emoji) = icon_custom_emoji_id {
                        edited["icon_custom_emoji_id"] = json!(emoji);
                    }
                    edited
                }
                Service::TopicClosed | Service::TopicReopened => json!({}),
                Service::MigrateTo(id) | Service::MigrateFrom(id) => json!(id),
                Service::WriteAccessAllowed => json!({"from_request": true}),
                Service::LeftChatMember(user) => self.user_json(*user),
            };
        } else if let Some(media) = &message.media {
            let (key, media_json) = media.to_json();
            value[key] = media_json;
            if !message.body.text.is_empty() {
                value["caption"] = json!(message.body.text);
            }
            if !message.body.entities.is_empty() {
                value["caption_entities"] = json!(message.body.entities_json());
            }
        } else {
            value["text"] = json!(message.body.text);
            if !message.body.entities.is_empty() {
                value["entities"] = json!(message.body.entities_json());
            }
        }
        if let Some(group) = &message.media_group_id {
            value["media_group_id"] = json!(group);
        }
        if let Some(markup) = message.wire_markup() {
            value["reply_markup"] = markup.clone();
        }
        value
    }

    pub(crate) fn message_json_by_id(&self, chat_id: i64, message_id: i32) -> Value {
        let chat = &self.chats[&chat_id];
        self.message_json(chat, &chat.messages[&message_id], false)
    }

    fn bot_command_entities(&self, text: &str) -> Vec<Entity> {
        if !text.starts_with('/') {
            return Vec::new();
        }
        let command = text.split(char::is_whitespace).next().unwrap_or("");
        let (name, target) = match command[1..].split_once('@') {
            Some((name, target)) => (name, Some(target)),
            None => (&command[1..], None),
        };
        let valid = !name.is_empty()
            && name.len() <= 32
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && target.is_none_or(|t| {
                !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if !valid {
            return Vec::new();
        }
        vec![Entity {
            kind: "bot_command",
            offset: 0,
            length: super::html::utf16_len(command),
            argument: None,
        }]
    }

    /// A new album id, numeric like the real ones.
    pub(crate) fn fresh_media_group_id(&mut self) -> String {
        let n = self.next_media_group;
        self.next_media_group += 1;
        format!("{}", 13_900_000_000_000_000u64 + n)
    }

    /// A user sends `items` (one update each). `as_chat` sends on behalf of a chat (a channel,
    /// or the group itself for an anonymous admin); `topic` puts the messages into a forum topic.
    /// Panics on test mistakes, like the public helpers that call it.
    /// The user accepted a Mini App's request to let the bot write to them: the bot may DM them
    /// from now on and gets a `write_access_allowed` service message in their private chat.
    pub(crate) fn grant_write_access(&mut self, user_id: i64) -> i32 {
        self.private_chat(user_id)
            .expect("grant_write_access: unknown user");
        self.users.get_mut(&user_id).expect("user exists").can_dm = true;
        self.insert_and_queue(
            user_id,
            StoredMessage::service(user_id, Service::WriteAccessAllowed),
        )
    }

    pub(crate) fn user_send(
        &mut self,
        chat_id: i64,
        from: i64,
        items: Vec<Outgoing>,
        album: bool,
        as_chat: Option<i64>,
        topic: Option<i32>,
    ) -> Vec<i32> {
        assert!(self.users.contains_key(&from), "send: unknown user {from}");
        if chat_id == from {
            // Writing to the bot at all means the user has started it.
            self.private_chat(from).expect("user exists");
            self.users.get_mut(&from).expect("user exists").can_dm = true;
        }
        let chat = self
            .chats
            .get(&chat_id)
            .unwrap_or_else(|| panic!("send: unknown chat {chat_id}"));
        if let Some(new_id) = chat.migrated_to {
            panic!("send: chat {chat_id} was upgraded to supergroup {new_id}; send there");
        }
        assert!(
            chat.kind != ChatKind::Channel,
            "send: users do not post in channel {chat_id}; only the bot does in this fake"
        );
        assert!(
            if chat.kind == ChatKind::Private {
                chat_id == from
            } else {
                chat.members.contains(&from)
            },
            "send: user {from} is not a member of chat {chat_id}; call add_member first"
        );
        // Who appears as the sender: the user, or a service account plus sender_chat.
        // Anonymous admins and choosing a channel identity exist in supergroups only.
        assert!(
            as_chat.is_none() || chat.kind == ChatKind::Supergroup,
            "send_as: chat {chat_id} is not a supergroup; only there users write as a chat"
        );
        let (wire_from, sender_chat) = match as_chat {
            None => (from, None),
            Some(id) if id == chat_id => (GROUP_ANONYMOUS_BOT_ID, Some(id)),
            Some(id) => {
                assert!(
                    self.chats
                        .get(&id)
                        .is_some_and(|c| c.kind == ChatKind::Channel),
                    "send_as: {id} is neither a channel nor chat {chat_id} itself"
                );
                (CHANNEL_BOT_ID, Some(id))
            }
        };
        if let Some(topic) = topic {
            assert!(
                chat.is_forum,
                "send_in_topic: chat {chat_id} is not a forum"
            );
            let state = chat
                .topics
                .get(&topic)
                .unwrap_or_else(|| panic!("send_in_topic: no topic {topic} in chat {chat_id}"));
            // Only admins with can_manage_topics may write in a closed topic (TOPIC_CLOSED).
            assert!(
                !state.closed,
                "send_in_topic: topic {topic} in chat {chat_id} is closed; users cannot post there"
            );
        }
        let media_group_id = album.then(|| self.fresh_media_group_id());
        let mut ids = Vec::new();
        for item in items {
            if let Some(reply_to) = item.reply_to {
                assert!(
                    self.chats[&chat_id].messages.contains_key(&reply_to),
                    "send: message {reply_to} to reply to does not exist in chat {chat_id}"
                );
            }
            let mut message = match item.content {
                Content::Text(text) => {
                    let entities = self.bot_command_entities(&text);
                    StoredMessage::new(wire_from, Formatted { text, entities })
                }
                Content::Photo { bytes, caption } => {
                    let mut m = StoredMessage::new(
                        wire_from,
                        Formatted::plain(caption.as_deref().unwrap_or("")),
                    );
                    m.media = Some(self.new_photo(Blob::from(bytes)));
                    m
                }
                Content::Document {
                    file_name,
                    mime_type,
                    body,
                    caption,
                } => {
                    let mut m = StoredMessage::new(
                        wire_from,
                        Formatted::plain(caption.as_deref().unwrap_or("")),
                    );
                    m.media = Some(self.new_document(body, Some(file_name), Some(mime_type)));
                    m
                }
            };
            message.sender_chat = sender_chat;
            message.reply_to = item.reply_to;
            message.media_group_id = media_group_id.clone();
            if topic.is_some() {
                message.thread_id = topic;
                message.is_topic = true;
            }
            ids.push(self.insert_and_queue(chat_id, message));
        }
        ids
    }

    pub(crate) fn press(&mut self, chat_id: i64, message_id: i32, from: i64, data: &str) -> String {
        assert!(self.users.contains_key(&from), "press: unknown user {from}");
        let chat = self
            .chats
            .get(&chat_id)
            .unwrap_or_else(|| panic!("press: unknown chat {chat_id}"));
        let message = match chat.messages.get(&message_id) {
            Some(m) => self.message_json(chat, m, false),
            None => json!({"chat": self.chat_json(chat), "message_id": message_id, "date": 0}),
        };
        let chat_instance = chat.chat_instance.clone();
        let id = format!("{}", 4_382_000_000_000_000_000u64 + self.next_query);
        self.next_query += 1;
        self.queries.insert(
            id.clone(),
            QueryRec {
                answered: false,
                created: tokio::time::Instant::now(),
            },
        );
        let from_json = self.user_json(from);
        self.queue_update(json!({"callback_query": {
            "id": id, "from": from_json, "message": message,
            "chat_instance": chat_instance, "data": data,
        }}));
        id
    }

    pub(crate) fn chat_messages(&self, chat_id: i64) -> Vec<ChatMessage> {
        let Some(chat) = self.chats.get(&chat_id) else {
            return Vec::new();
        };
        chat.messages
            .values()
            .map(|m| ChatMessage {
                message_id: m.id,
                from_id: m.from,
                // Only the bot posts in channels here.
                from_bot: m.from == Some(self.bot_id) || chat.kind == ChatKind::Channel,
                sender_name: self.sender_name(m),
                sender_chat_id: m.sender_chat,
                text: m.body.text.clone(),
                html: m.html.clone(),
                reply_to: m.wire_reply_to(),
                thread_id: m.thread_id,
                is_topic_message: m.is_topic,
                is_automatic_forward: m.is_automatic_forward,
                forward_origin: m.forward_origin.map(|o| (o.chat, o.message_id)),
                media: m.media.iter().map(Media::info).collect(),
                media_group_id: m.media_group_id.clone(),
                reply_markup: m.reply_markup.clone(),
                edit_count: m.edit_count,
                date: m.date,
                pinned_message_id: match m.service {
                    Some(Service::Pinned(id)) => Some(id),
                    _ => None,
                },
                service: m.service.as_ref().map(|s| s.wire_key().to_owned()),
            })
            .collect()
    }

    /// What a client shows as the author: the chat for messages on behalf of one.
    fn sender_name(&self, message: &StoredMessage) -> String {
        if let Some(chat) = message.sender_chat.and_then(|id| self.chats.get(&id)) {
            return chat.title.clone();
        }
        match message.from {
            Some(id) if id == self.bot_id => self.bot_first_name.clone(),
            Some(id) => self
                .users
                .get(&id)
                .map(UserRec::full_name)
                .unwrap_or_default(),
            None => String::new(),
        }
    }
}

/// A forum topic name as TDLib's `clean_name` leaves it: control characters become spaces,
/// surrounding whitespace goes, and it is cut to 128 characters.
pub(crate) fn clean_topic_name(name: &str) -> String {
    let spaced: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    spaced
        .trim()
        .chars()
        .take(MAX_TOPIC_NAME)
        .collect::<String>()
        .trim_end()
        .to_owned()
}
