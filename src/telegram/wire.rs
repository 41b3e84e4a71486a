//! The parts of Telegram updates teledesk reads, parsed from the raw JSON kept in the inbox.
//!
//! Parsing our own lean structs (instead of teloxide's full `Update`) means a message with a
//! content type newer than our teloxide release still parses: unknown fields are ignored, so a
//! Bot API upgrade never turns a client's message into an unparseable update.

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct Update {
    pub update_id: i64,
    pub message: Option<Message>,
    pub edited_message: Option<Message>,
    pub channel_post: Option<Message>,
    pub edited_channel_post: Option<Message>,
    pub callback_query: Option<CallbackQuery>,
    pub my_chat_member: Option<serde_json::Value>,
    pub chat_member: Option<ChatMemberUpdated>,
}

impl Update {
    /// `(chat, user)` when the update says the user is no longer in the chat: a group's
    /// `left_chat_member` message, or a `chat_member` change to left, banned, or restricted and
    /// out.
    pub fn member_left(&self) -> Option<(i64, i64)> {
        if let Some(message) = &self.message
            && let Some(user) = &message.left_chat_member
        {
            return Some((message.chat.id, user.id));
        }
        let change = self.chat_member.as_ref()?;
        let member = &change.new_chat_member;
        let gone = match member.status.as_str() {
            "left" | "kicked" => true,
            "restricted" => !member.is_member,
            _ => false,
        };
        gone.then_some((change.chat.id, member.user.id))
    }

    /// `(chat, user)` of each user the update says is in the chat now: a group's
    /// `new_chat_members` message, or a `chat_member` change that is not a departure.
    pub fn members_joined(&self) -> Vec<(i64, i64)> {
        if let Some(message) = &self.message {
            return message
                .new_chat_members
                .iter()
                .map(|user| (message.chat.id, user.id))
                .collect();
        }
        match &self.chat_member {
            Some(change) if self.member_left().is_none() => {
                vec![(change.chat.id, change.new_chat_member.user.id)]
            }
            _ => Vec::new(),
        }
    }

    /// The chat an update happened in, read from its raw JSON, for keeping each chat's updates in
    /// order; `None` for updates that name no chat (they keep their order among themselves).
    pub fn chat_of(raw: &serde_json::Value) -> Option<i64> {
        const WITH_CHAT: [&str; 7] = [
            "message",
            "edited_message",
            "channel_post",
            "edited_channel_post",
            "my_chat_member",
            "chat_member",
            "chat_join_request",
        ];
        WITH_CHAT
            .iter()
            .find_map(|kind| raw[kind]["chat"]["id"].as_i64())
            .or_else(|| raw["callback_query"]["message"]["chat"]["id"].as_i64())
    }

    /// The update type's name as Telegram spells it (for logs), or `None` when it carries no
    /// field teledesk knows.
    pub fn kind(raw: &serde_json::Value) -> String {
        raw.as_object()
            .and_then(|o| o.keys().find(|k| *k != "update_id").cloned())
            .unwrap_or_else(|| "empty".to_owned())
    }
}

/// `chat_member`: someone else's membership changed. Telegram sends it only to admin bots that
/// name it in `allowed_updates`.
#[derive(Clone, Debug, Deserialize)]
pub struct ChatMemberUpdated {
    pub chat: Chat,
    pub new_chat_member: ChatMember,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ChatMember {
    pub status: String,
    pub user: User,
    /// Only `restricted` members carry it: whether they are still in the chat.
    #[serde(default)]
    pub is_member: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Chat {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub title: Option<String>,
    pub username: Option<String>,
    #[serde(default)]
    pub is_forum: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

impl User {
    /// The user as staff should see them.
    pub fn requester(&self, company: Option<String>) -> teledesk_adapter::Requester {
        teledesk_adapter::Requester {
            display_name: self.full_name(),
            telegram_id: self.id,
            username: self.username.clone(),
            company,
        }
    }

    pub fn full_name(&self) -> String {
        match &self.last_name {
            Some(last) if !last.is_empty() => format!("{} {last}", self.first_name),
            _ => self.first_name.clone(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct PhotoSize {
    pub file_id: String,
    pub file_size: Option<u64>,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
}

#[derive(Clone, Debug, Deserialize)]
pub struct FileInfo {
    pub file_id: String,
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    pub file_size: Option<u64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Message {
    pub message_id: i32,
    pub date: i64,
    pub chat: Chat,
    pub from: Option<User>,
    pub sender_chat: Option<Chat>,
    pub text: Option<String>,
    pub caption: Option<String>,
    pub photo: Option<Vec<PhotoSize>>,
    pub document: Option<FileInfo>,
    pub video: Option<FileInfo>,
    pub audio: Option<FileInfo>,
    pub voice: Option<FileInfo>,
    pub media_group_id: Option<String>,
    pub reply_to_message: Option<Box<Message>>,
    pub message_thread_id: Option<i32>,
    #[serde(default)]
    pub is_automatic_forward: bool,
    /// Where a forwarded message comes from; for a channel post's automatic forward into its
    /// discussion group: the channel and the post's id there.
    pub forward_origin: Option<ForwardOrigin>,
    pub migrate_to_chat_id: Option<i64>,
    pub migrate_from_chat_id: Option<i64>,
    /// A service message: the user allowed the bot to write to them (in a Mini App, or by
    /// logging in on a website).
    pub write_access_allowed: Option<serde_json::Value>,
    pub left_chat_member: Option<User>,
    #[serde(default)]
    pub new_chat_members: Vec<User>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ForwardOrigin {
    #[serde(rename = "type")]
    pub kind: String,
    pub chat: Option<Chat>,
    pub message_id: Option<i32>,
}

impl Message {
    /// `(channel, post id)` of an automatic forward of a channel post.
    pub fn forwarded_post(&self) -> Option<(i64, i32)> {
        let origin = self.forward_origin.as_ref()?;
        if origin.kind != "channel" {
            return None;
        }
        Some((origin.chat.as_ref()?.id, origin.message_id?))
    }

    /// The text or the caption.
    pub fn body(&self) -> &str {
        self.text
            .as_deref()
            .or(self.caption.as_deref())
            .unwrap_or("")
    }

    /// The file this message carries, if any (the largest size of a photo).
    pub fn file(&self) -> Option<crate::model::ClientFile> {
        use crate::model::ClientFile;
        if let Some(sizes) = &self.photo {
            let best = sizes
                .iter()
                .max_by_key(|s| (s.width * s.height, s.file_size))?;
            return Some(ClientFile {
                file_id: best.file_id.clone(),
                file_name: format!("photo_{}.jpg", self.message_id),
                content_type: "image/jpeg".into(),
                size: best.file_size,
                source: crate::model::FileSource::Telegram,
            });
        }
        let (info, default_name, default_type) = if let Some(d) = &self.document {
            (d, "document", "application/octet-stream")
        } else if let Some(v) = &self.video {
            (v, "video.mp4", "video/mp4")
        } else if let Some(a) = &self.audio {
            (a, "audio.mp3", "audio/mpeg")
        } else if let Some(v) = &self.voice {
            (v, "voice.ogg", "audio/ogg")
        } else {
            return None;
        };
        Some(ClientFile {
            file_id: info.file_id.clone(),
            file_name: info
                .file_name
                .clone()
                .unwrap_or_else(|| format!("{}_{default_name}", self.message_id)),
            content_type: info
                .mime_type
                .clone()
                .unwrap_or_else(|| default_type.to_owned()),
            size: info.file_size,
            source: crate::model::FileSource::Telegram,
        })
    }

    /// The person to attribute the message to: the channel or group it was sent as, else the user.
    pub fn author(&self, company: Option<String>) -> Option<teledesk_adapter::Requester> {
        if let Some(chat) = &self.sender_chat {
            return Some(teledesk_adapter::Requester {
                display_name: chat.title.clone().unwrap_or_else(|| chat.id.to_string()),
                telegram_id: chat.id,
                username: chat.username.clone(),
                company,
            });
        }
        Some(self.from.as_ref()?.requester(company))
    }

    /// `https://t.me/...` link to this message, when the chat has a public link form.
    pub fn link(&self) -> Option<String> {
        if let Some(username) = &self.chat.username {
            return Some(format!("https://t.me/{username}/{}", self.message_id));
        }
        // Supergroups and channels: t.me/c/<id without -100>/<message>; members can open it.
        let id = self.chat.id.to_string();
        id.strip_prefix("-100")
            .map(|internal| format!("https://t.me/c/{internal}/{}", self.message_id))
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct CallbackQuery {
    pub id: String,
    pub from: User,
    pub message: Option<Message>,
    pub data: Option<String>,
}

/// A bot command at the start of a message: `/new@teledesk_bot rest` → ("new", "rest").
///
/// Commands addressed to another bot (`/new@other_bot`) are not ours.
pub fn command<'a>(text: &'a str, bot_username: &str) -> Option<(String, &'a str)> {
    let text = text.trim_start();
    let rest = text.strip_prefix('/')?;
    let (word, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let (name, target) = match word.split_once('@') {
        Some((name, target)) => (name, Some(target)),
        None => (word, None),
    };
    if let Some(target) = target
        && !target.eq_ignore_ascii_case(bot_username)
    {
        return None;
    }
    if name.is_empty() {
        return None;
    }
    Some((name.to_ascii_lowercase(), args))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commands_addressed_to_us_or_nobody() {
        assert_eq!(
            command("/new Printer", "bot"),
            Some(("new".into(), "Printer"))
        );
        assert_eq!(command("/NEW@Bot  x y", "bot"), Some(("new".into(), "x y")));
        assert_eq!(command("/new@other", "bot"), None);
        assert_eq!(command("hello /new", "bot"), None);
    }

    #[test]
    fn unknown_fields_and_content_types_still_parse() {
        let raw = json!({"update_id": 1, "message": {"message_id": 5, "date": 1,
            "chat": {"id": -5, "type": "group", "title": "G"},
            "from": {"id": 7, "is_bot": false, "first_name": "Ann"},
            "paid_media_2030": {"anything": true}}});
        let update: Update = serde_json::from_value(raw).unwrap();
        assert_eq!(update.message.unwrap().body(), "");
    }

    #[test]
    fn departures_are_read_from_both_places_telegram_reports_them() {
        let user = json!({"id": 7, "is_bot": false, "first_name": "Ann"});
        let chat = json!({"id": -100, "type": "supergroup"});
        let left =
            |raw: serde_json::Value| serde_json::from_value::<Update>(raw).unwrap().member_left();
        let message = json!({"update_id": 1, "message": {"message_id": 2, "date": 0,
            "chat": chat, "from": user, "left_chat_member": user}});
        assert_eq!(left(message), Some((-100, 7)));
        let change = |member: serde_json::Value| {
            json!({"update_id": 1, "chat_member": {"chat": chat, "from": user, "date": 0,
                "old_chat_member": {"status": "member", "user": user},
                "new_chat_member": member}})
        };
        for status in ["left", "kicked"] {
            let member = json!({"status": status, "user": user});
            assert_eq!(left(change(member)), Some((-100, 7)), "{status}");
        }
        let muted = json!({"status": "restricted", "user": user, "is_member": true});
        assert_eq!(left(change(muted)), None);
        let out = json!({"status": "restricted", "user": user, "is_member": false});
        assert_eq!(left(change(out)), Some((-100, 7)));
        let promoted = json!({"status": "administrator", "user": user});
        assert_eq!(left(change(promoted.clone())), None);

        let joined = |raw: serde_json::Value| {
            serde_json::from_value::<Update>(raw)
                .unwrap()
                .members_joined()
        };
        let bob = json!({"id": 8, "is_bot": false, "first_name": "Bob"});
        let message = json!({"update_id": 1, "message": {"message_id": 2, "date": 0,
            "chat": chat, "from": user, "new_chat_members": [user, bob]}});
        assert_eq!(joined(message), [(-100, 7), (-100, 8)]);
        assert_eq!(
            joined(change(json!({"status": "member", "user": user}))),
            [(-100, 7)]
        );
        assert_eq!(joined(change(promoted)), [(-100, 7)]);
        assert!(joined(change(json!({"status": "left", "user": user}))).is_empty());
    }
}
