//! The fake's world: users, chats with their message histories, files, the update queue, and how
//! all of it looks on the wire.

use super::html::{Entity, Formatted};
use super::limits::Limiter;
use super::{
    CallbackAnswer, ChatMessage, FakeError, MediaInfo, Outgoing, RecordedCall, TelegramOptions,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

/// The first `update_id`; real ids are arbitrary positive numbers that increase by one.
const FIRST_UPDATE_ID: i64 = 100_001;
const FIRST_USER_ID: i64 = 700_000_001;
const FIRST_GROUP_ID: i64 = -4_001_000_001;
const FIRST_SUPERGROUP_ID: i64 = -1_001_000_000_001;

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
        bytes: Vec<u8>,
        caption: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChatKind {
    Private,
    Group,
    Supergroup,
}

impl ChatKind {
    pub(crate) fn wire_name(self) -> &'static str {
        match self {
            ChatKind::Private => "private",
            ChatKind::Group => "group",
            ChatKind::Supergroup => "supergroup",
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
}

impl ChatRec {
    pub(crate) fn is_group(&self) -> bool {
        self.kind != ChatKind::Private
    }
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

#[derive(Clone, Debug)]
pub(crate) struct StoredMessage {
    pub id: i32,
    pub from: i64,
    pub date: i64,
    pub edit_date: Option<i64>,
    /// The text, or the caption when `media` is set.
    pub body: Formatted,
    pub html: Option<String>,
    pub media: Option<Media>,
    pub media_group_id: Option<String>,
    pub reply_to: Option<i32>,
    pub thread_id: Option<i32>,
    pub reply_markup: Option<Value>,
    pub edit_count: u32,
    /// Set on the "pinned message" service message.
    pub pinned_message: Option<i32>,
}

impl StoredMessage {
    pub(crate) fn new(from: i64, body: Formatted) -> Self {
        Self {
            id: 0,
            from,
            date: 0,
            edit_date: None,
            body,
            html: None,
            media: None,
            media_group_id: None,
            reply_to: None,
            thread_id: None,
            reply_markup: None,
            edit_count: 0,
            pinned_message: None,
        }
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
    pub bytes: Arc<Vec<u8>>,
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
    next_update_id: i64,
    pub calls: Vec<RecordedCall>,
    pub callback_answers: Vec<CallbackAnswer>,
    pub queries: HashMap<String, QueryRec>,
    next_query: u64,
    pub files: HashMap<String, FileRec>,
    next_file: u64,
    pub injected: Vec<(String, usize, FakeError)>,
    pub limiter: Limiter,
    last_date: i64,
    next_media_group: u64,
    /// Incremented by every getUpdates, so an older pending long poll learns it was superseded.
    pub poll_generation: u64,
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
            next_update_id: FIRST_UPDATE_ID,
            calls: Vec::new(),
            callback_answers: Vec::new(),
            queries: HashMap::new(),
            next_query: 1,
            files: HashMap::new(),
            next_file: 1,
            injected: Vec::new(),
            limiter: Limiter::default(),
            last_date: 0,
            next_media_group: 1,
            poll_generation: 0,
        }
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
        }
    }

    pub(crate) fn add_chat(&mut self, title: &str, kind: ChatKind) -> i64 {
        let id = match kind {
            ChatKind::Group => {
                self.next_group -= 1;
                self.next_group + 1
            }
            _ => {
                self.next_supergroup -= 1;
                self.next_supergroup + 1
            }
        };
        self.chats.insert(id, Self::new_chat(id, kind, title));
        id
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

    pub(crate) fn new_file(
        &mut self,
        bytes: Arc<Vec<u8>>,
        kind: &str,
        extension: &str,
    ) -> (String, String) {
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
                bytes,
                unique_id: unique_id.clone(),
                path: format!("{dir}/file_{n}.{extension}"),
            },
        );
        (file_id, unique_id)
    }

    /// Stores `bytes` as a photo with a thumbnail and a full size, both downloading `bytes`.
    pub(crate) fn new_photo(&mut self, bytes: Vec<u8>) -> Media {
        let bytes = Arc::new(bytes);
        let size = bytes.len();
        let (small_id, small_unique) = self.new_file(bytes.clone(), "photo", "jpg");
        let (large_id, large_unique) = self.new_file(bytes, "photo", "jpg");
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
        bytes: Vec<u8>,
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
        let size = bytes.len();
        let (file_id, file_unique_id) = self.new_file(Arc::new(bytes), "document", &extension);
        Media::Document {
            file_id,
            file_unique_id,
            file_name: file_name.filter(|n| !n.is_empty()),
            mime_type,
            size,
        }
    }

    /// Assigns id, date and thread to `message` and stores it in the chat.
    pub(crate) fn insert_message(&mut self, chat_id: i64, mut message: StoredMessage) -> i32 {
        let date = self.now_date();
        let chat = self
            .chats
            .get_mut(&chat_id)
            .expect("chat checked by caller");
        message.id = chat.next_message_id;
        chat.next_message_id += 1;
        message.date = date;
        message.thread_id = match (chat.kind, message.reply_to) {
            // Threads exist only in supergroups; a reply's thread is its chain's root.
            (ChatKind::Supergroup, Some(reply_to)) => Some(
                chat.messages
                    .get(&reply_to)
                    .and_then(|m| m.thread_id)
                    .unwrap_or(reply_to),
            ),
            _ => None,
        };
        let id = message.id;
        chat.messages.insert(id, message);
        id
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

    pub(crate) fn user_json(&self, user_id: i64) -> Value {
        if user_id == self.bot_id {
            return json!({"id": self.bot_id, "is_bot": true, "first_name": self.bot_first_name,
                          "username": self.bot_username});
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
        json!({"id": chat.id, "type": chat.kind.wire_name(), "title": chat.title})
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
            "from": self.user_json(message.from),
            "chat": self.chat_json(chat),
            "date": message.date,
        });
        if let Some(thread) = message.thread_id {
            value["message_thread_id"] = json!(thread);
        }
        if !nested
            && let Some(reply_to) = message.reply_to
            && let Some(replied) = chat.messages.get(&reply_to)
        {
            value["reply_to_message"] = self.message_json(chat, replied, true);
        }
        if let Some(edit_date) = message.edit_date {
            value["edit_date"] = json!(edit_date);
        }
        if let Some(pinned) = message.pinned_message {
            value["pinned_message"] = match chat.messages.get(&pinned) {
                Some(p) => self.message_json(chat, p, true),
                None => json!({"chat": self.chat_json(chat), "message_id": pinned, "date": 0}),
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

    pub(crate) fn user_send(
        &mut self,
        chat_id: i64,
        from: i64,
        items: Vec<Outgoing>,
        album: bool,
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
        assert!(
            if chat.kind == ChatKind::Private {
                chat_id == from
            } else {
                chat.members.contains(&from)
            },
            "send: user {from} is not a member of chat {chat_id}; call add_member first"
        );
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
                    StoredMessage::new(from, Formatted { text, entities })
                }
                Content::Photo { bytes, caption } => {
                    let mut m = StoredMessage::new(
                        from,
                        Formatted::plain(caption.as_deref().unwrap_or("")),
                    );
                    m.media = Some(self.new_photo(bytes));
                    m
                }
                Content::Document {
                    file_name,
                    mime_type,
                    bytes,
                    caption,
                } => {
                    let mut m = StoredMessage::new(
                        from,
                        Formatted::plain(caption.as_deref().unwrap_or("")),
                    );
                    m.media = Some(self.new_document(bytes, Some(file_name), Some(mime_type)));
                    m
                }
            };
            message.reply_to = item.reply_to;
            message.media_group_id = media_group_id.clone();
            let id = self.insert_message(chat_id, message);
            let json = self.message_json_by_id(chat_id, id);
            self.queue_update(json!({"message": json}));
            ids.push(id);
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
                from_id: Some(m.from),
                from_bot: m.from == self.bot_id,
                sender_name: if m.from == self.bot_id {
                    self.bot_first_name.clone()
                } else {
                    self.users
                        .get(&m.from)
                        .map(UserRec::full_name)
                        .unwrap_or_default()
                },
                text: m.body.text.clone(),
                html: m.html.clone(),
                reply_to: m.reply_to,
                thread_id: m.thread_id,
                media: m.media.iter().map(Media::info).collect(),
                media_group_id: m.media_group_id.clone(),
                reply_markup: m.reply_markup.clone(),
                edit_count: m.edit_count,
                date: m.date,
                pinned_message_id: m.pinned_message,
            })
            .collect()
    }
}
