//! The fake Telegram server must be indistinguishable from the real one to teloxide 0.17: every
//! update and result it produces has to parse into teloxide's types, and its errors have to map
//! to the same `RequestError` variants.

use std::time::Duration;
use teledesk_testkit::telegram::{
    CHANNEL_BOT_ID, FakeError, FakeTelegram, GROUP_ANONYMOUS_BOT_ID, Outgoing, SERVICE_USER_ID,
    TelegramOptions,
};
use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::types::{
    ChatFullInfoKind, ChatFullInfoPublicKind, ChatMemberStatus, ChatMigration,
    InlineKeyboardButton, InlineKeyboardMarkup, InputFile, InputMedia, InputMediaPhoto, MediaKind,
    MessageEntityKind, MessageId, MessageKind, MessageOrigin, ParseMode, ReplyParameters, Rgb,
    ThreadId, UpdateKind, UserId,
};
use teloxide::{ApiError, RequestError};

fn bot(fake: &FakeTelegram) -> Bot {
    Bot::new(fake.token()).set_api_url(fake.api_url().parse().unwrap())
}

/// Fetches everything queued and confirms it, failing on updates teloxide could not parse.
async fn drain(bot: &Bot, offset: &mut i32) -> Vec<Update> {
    let updates = bot.get_updates().offset(*offset).timeout(0).await.unwrap();
    for update in &updates {
        assert!(
            !matches!(update.kind, UpdateKind::Error(_)),
            "teloxide failed to parse {update:?}"
        );
        *offset = update.id.0 as i32 + 1;
    }
    updates
}

fn message(update: &Update) -> &Message {
    match &update.kind {
        UpdateKind::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn teloxide_parses_updates_and_results() {
    let fake = FakeTelegram::start().await;
    let bot = bot(&fake);

    let me = bot.get_me().await.unwrap();
    assert_eq!(me.user.id, UserId(fake.bot_id() as u64));
    assert_eq!(me.username(), fake.bot_username());
    let webhook = bot.get_webhook_info().await.unwrap();
    assert!(webhook.url.is_none());

    let group = fake.add_supergroup("Acme support");
    let ann = fake.add_user("Анна", Some("Петрова"), Some("ann"));
    fake.add_member(group, ann);

    let first = fake.send(
        group,
        ann,
        Outgoing::text("/new@teledesk_test_bot printer is on fire"),
    );
    let reply = fake.send(group, ann, Outgoing::text("and smoking").reply_to(first));
    let photo = fake.send(
        group,
        ann,
        Outgoing::photo(vec![0xFF, 0xD8, 0xFF, 1, 2, 3], Some("look")),
    );
    let doc = fake.send(
        group,
        ann,
        Outgoing::document("report.pdf", "application/pdf", b"%PDF-1.4".to_vec(), None),
    );
    let album = fake.send_album(
        group,
        ann,
        vec![
            Outgoing::photo(vec![1; 10], Some("two shots")),
            Outgoing::photo(vec![2; 10], None),
        ],
    );

    let mut offset = 0;
    let updates = drain(&bot, &mut offset).await;
    assert_eq!(updates.len(), 6);

    let m = message(&updates[0]);
    assert_eq!(m.id, MessageId(first));
    assert_eq!(m.chat.id, ChatId(group));
    assert!(m.chat.is_supergroup());
    assert_eq!(m.from.as_ref().unwrap().first_name, "Анна");
    let entities = m.entities().unwrap();
    assert_eq!(entities[0].kind, MessageEntityKind::BotCommand);
    assert_eq!(entities[0].length, "/new@teledesk_test_bot".len());
    assert!(m.thread_id.is_none());

    let m = message(&updates[1]);
    assert_eq!(m.reply_to_message().unwrap().id, MessageId(first));
    assert_eq!(m.thread_id.unwrap().0, MessageId(first));

    let m = message(&updates[2]);
    assert_eq!(m.id, MessageId(photo));
    let sizes = m.photo().unwrap();
    assert_eq!(sizes.len(), 2);
    assert_eq!(m.caption(), Some("look"));

    let m = message(&updates[3]);
    assert_eq!(m.id, MessageId(doc));
    let document = m.document().unwrap();
    assert_eq!(document.file_name.as_deref(), Some("report.pdf"));
    assert_eq!(
        document.mime_type.as_ref().unwrap().essence_str(),
        "application/pdf"
    );

    let (a, b) = (message(&updates[4]), message(&updates[5]));
    assert_eq!(a.id, MessageId(album[0]));
    assert!(a.media_group_id().is_some());
    assert_eq!(a.media_group_id(), b.media_group_id());
    assert_eq!(b.caption(), None);

    // Confirmed updates are gone.
    assert!(drain(&bot, &mut offset).await.is_empty());
    assert_eq!(fake.unconfirmed_updates(), 0);

    // The bot answers with HTML, a reply and an inline keyboard.
    let keyboard = InlineKeyboardMarkup::new(vec![vec![
        InlineKeyboardButton::callback("Close", "close:17"),
        InlineKeyboardButton::url("Open", "https://example.com/t/17".parse().unwrap()),
    ]]);
    let sent = bot
        .send_message(ChatId(group), "<b>Ticket #17</b> opened &amp; queued")
        .parse_mode(ParseMode::Html)
        .reply_parameters(ReplyParameters::new(MessageId(reply)))
        .reply_markup(keyboard.clone())
        .await
        .unwrap();
    assert_eq!(sent.text(), Some("Ticket #17 opened & queued"));
    assert_eq!(sent.entities().unwrap()[0].kind, MessageEntityKind::Bold);
    assert_eq!(sent.reply_to_message().unwrap().id, MessageId(reply));
    assert_eq!(sent.thread_id.unwrap().0, MessageId(first));
    assert_eq!(sent.reply_markup(), Some(&keyboard));
    assert_eq!(sent.from.as_ref().unwrap().id, me.user.id);
    let stored = fake.message(group, sent.id.0).unwrap();
    assert!(stored.from_bot);
    assert_eq!(stored.text, "Ticket #17 opened & queued");

    // A user taps the button; teloxide sees the whole message with its keyboard.
    let query_id = fake.press(group, sent.id.0, ann, "close:17");
    let updates = drain(&bot, &mut offset).await;
    let UpdateKind::CallbackQuery(query) = &updates[0].kind else {
        panic!("expected a callback query, got {:?}", updates[0]);
    };
    assert_eq!(query.id.0, query_id);
    assert_eq!(query.data.as_deref(), Some("close:17"));
    let pressed = query.regular_message().unwrap();
    assert_eq!(pressed.id, sent.id);
    assert_eq!(pressed.reply_markup(), Some(&keyboard));
    bot.answer_callback_query(query.id.clone())
        .text("Closed")
        .await
        .unwrap();
    assert_eq!(fake.callback_answers()[0].text.as_deref(), Some("Closed"));
    let again = bot
        .answer_callback_query(query.id.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(again, RequestError::Api(ApiError::Unknown(ref d)) if d.contains("query is too old"))
    );

    // Edits, including the "not modified" error teloxide knows by name.
    let edited = bot
        .edit_message_text(ChatId(group), sent.id, "Ticket #17 <i>closed</i>")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    assert!(edited.edit_date().is_some());
    assert!(
        edited.reply_markup().is_none(),
        "an edit without reply_markup drops the keyboard"
    );
    let same = bot
        .edit_message_text(ChatId(group), sent.id, "Ticket #17 <i>closed</i>")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap_err();
    assert!(
        matches!(same, RequestError::Api(ApiError::MessageNotModified)),
        "{same:?}"
    );
    let bad_html = bot
        .send_message(ChatId(group), "1 < 2")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap_err();
    assert!(
        matches!(bad_html, RequestError::Api(ApiError::CantParseEntities(ref d))
        if d == "Bad Request: can't parse entities: Unsupported start tag \"\" at byte offset 2"),
        "{bad_html:?}"
    );

    let member = bot
        .get_chat_member(ChatId(group), me.user.id)
        .await
        .unwrap();
    assert_eq!(member.status(), ChatMemberStatus::Administrator);
    let member = bot
        .get_chat_member(ChatId(group), UserId(ann as u64))
        .await
        .unwrap();
    assert_eq!(member.status(), ChatMemberStatus::Member);
    let chat = bot.get_chat(ChatId(group)).await.unwrap();
    assert_eq!(chat.title(), Some("Acme support"));
    bot.pin_chat_message(ChatId(group), sent.id).await.unwrap();
    let updates = drain(&bot, &mut offset).await;
    assert!(matches!(message(&updates[0]).kind, MessageKind::Pinned(_)));
    bot.delete_message(ChatId(group), sent.id).await.unwrap();
    assert!(fake.message(group, sent.id.0).is_none());
}

#[tokio::test]
async fn teloxide_uploads_and_downloads_files() {
    let fake = FakeTelegram::start_with(TelegramOptions {
        enforce_limits: false,
        ..TelegramOptions::default()
    })
    .await;
    let bot = bot(&fake);
    let group = fake.add_group("Clients");
    let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 9, 8, 7, 6];

    let sent = bot
        .send_photo(ChatId(group), InputFile::memory(jpeg.clone()))
        .caption("<b>scan</b>")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    assert!(!sent.chat.is_supergroup());
    assert_eq!(sent.caption(), Some("scan"));
    let largest = sent.photo().unwrap().last().unwrap();
    let file = bot.get_file(largest.file.id.clone()).await.unwrap();
    assert!(file.path.starts_with("photos/"));
    let mut downloaded = Vec::new();
    bot.download_file(&file.path, &mut downloaded)
        .await
        .unwrap();
    assert_eq!(downloaded, jpeg);

    let doc = bot
        .send_document(
            ChatId(group),
            InputFile::memory(b"hello".to_vec()).file_name("notes.txt"),
        )
        .await
        .unwrap();
    let MessageKind::Common(common) = &doc.kind else {
        panic!("{doc:?}")
    };
    let MediaKind::Document(document) = &common.media_kind else {
        panic!("{doc:?}")
    };
    assert_eq!(document.document.file_name.as_deref(), Some("notes.txt"));
    assert_eq!(
        fake.file_bytes(&document.document.file.id.0).unwrap(),
        b"hello"
    );

    let album = bot
        .send_media_group(
            ChatId(group),
            vec![
                InputMedia::Photo(
                    InputMediaPhoto::new(InputFile::memory(vec![1, 2, 3])).caption("a"),
                ),
                InputMedia::Photo(InputMediaPhoto::new(InputFile::memory(vec![4, 5, 6]))),
            ],
        )
        .await
        .unwrap();
    assert_eq!(album.len(), 2);
    assert!(album[0].media_group_id().is_some());
    assert_eq!(album[0].media_group_id(), album[1].media_group_id());
    let items = fake.messages(group);
    let stored = &items[items.len() - 1];
    assert_eq!(
        fake.file_bytes(&stored.media[0].file_id).unwrap(),
        vec![4, 5, 6]
    );

    // Re-sending by file_id works without an upload.
    let again = bot
        .send_photo(ChatId(group), InputFile::file_id(largest.file.id.clone()))
        .await
        .unwrap();
    assert_eq!(
        again.photo().unwrap().last().unwrap().file.id,
        largest.file.id
    );
}

#[tokio::test]
async fn teloxide_maps_errors() {
    let fake = FakeTelegram::start().await;
    let bot = bot(&fake);
    let group = fake.add_group("Clients");
    let ann = fake.add_user("Ann", None, None);

    // Three quick sends are a burst; the fourth is refused with 429.
    for n in 0..3 {
        bot.send_message(ChatId(group), format!("burst {n}"))
            .await
            .unwrap();
    }
    let limited = bot
        .send_message(ChatId(group), "one too many")
        .await
        .unwrap_err();
    assert!(
        matches!(limited, RequestError::RetryAfter(s) if s.seconds() >= 1),
        "{limited:?}"
    );
    assert_eq!(
        fake.messages(group).len(),
        3,
        "a refused call changes nothing"
    );
    let last = fake.calls().pop().unwrap();
    assert_eq!((last.method.as_str(), last.status), ("SendMessage", 429));

    let dm = bot.send_message(ChatId(ann), "hi").await.unwrap_err();
    assert!(
        matches!(dm, RequestError::Api(ApiError::Unknown(ref d))
        if d == "Forbidden: bot can't initiate conversation with a user"),
        "{dm:?}"
    );
    fake.set_can_dm(ann, true);
    let sent = bot.send_message(ChatId(ann), "hi").await.unwrap();
    assert!(sent.chat.is_private());

    let missing = bot.send_message(ChatId(-42), "x").await.unwrap_err();
    assert!(
        matches!(missing, RequestError::Api(ApiError::ChatNotFound)),
        "{missing:?}"
    );

    fake.inject_error("sendmessage", 1, FakeError::MigrateTo { chat_id: -1009 });
    let migrated = bot.send_message(ChatId(ann), "x").await.unwrap_err();
    assert!(
        matches!(migrated, RequestError::MigrateToChatId(ChatId(-1009))),
        "{migrated:?}"
    );
    fake.inject_error(
        "SENDMESSAGE",
        1,
        FakeError::TooManyRequests { retry_after: 7 },
    );
    let injected = bot.send_message(ChatId(ann), "x").await.unwrap_err();
    assert!(
        matches!(injected, RequestError::RetryAfter(s) if s.seconds() == 7),
        "{injected:?}"
    );
}

#[tokio::test]
async fn long_poll_wakes_on_a_new_update() {
    let fake = FakeTelegram::start_with(TelegramOptions {
        enforce_limits: false,
        ..TelegramOptions::default()
    })
    .await;
    let bot = bot(&fake);
    let group = fake.add_group("Clients");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(group, ann);

    let poll = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(10).await.unwrap() }
    });
    let started = tokio::time::Instant::now();
    fake.send(group, ann, Outgoing::text("ping"));
    let updates = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updates.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
}

async fn unlimited() -> FakeTelegram {
    FakeTelegram::start_with(TelegramOptions {
        enforce_limits: false,
        ..TelegramOptions::default()
    })
    .await
}

#[tokio::test]
async fn teloxide_parses_channel_mode() {
    let fake = unlimited().await;
    let bot = bot(&fake);
    let channel = fake.add_channel("Acme Support");
    let group = fake.add_supergroup("Acme Support Chat");
    fake.link_discussion(channel, group);
    let ann = fake.add_user("Ann", None, Some("ann"));
    fake.add_member(group, ann);
    fake.add_member(channel, ann);

    let info = bot.get_chat(ChatId(channel)).await.unwrap();
    assert!(info.is_channel());
    assert_eq!(info.linked_chat_id(), Some(group));
    let info = bot.get_chat(ChatId(group)).await.unwrap();
    assert_eq!(info.linked_chat_id(), Some(channel));

    // The post: on behalf of the channel, no `from`.
    let post = bot
        .send_message(ChatId(channel), "<b>Ticket #17</b> printer")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    assert!(post.chat.is_channel());
    assert!(post.from.is_none());
    assert_eq!(post.sender_chat.as_ref().unwrap().id, ChatId(channel));

    // Its automatic forward, the only update.
    let mut offset = 0;
    let updates = drain(&bot, &mut offset).await;
    assert_eq!(updates.len(), 1);
    let forward = message(&updates[0]);
    assert!(forward.is_automatic_forward());
    assert_eq!(forward.chat.id, ChatId(group));
    let from = forward.from.as_ref().unwrap();
    assert_eq!(
        (from.id, from.is_bot),
        (UserId(SERVICE_USER_ID as u64), false)
    );
    assert_eq!(forward.sender_chat.as_ref().unwrap().id, ChatId(channel));
    let Some(MessageOrigin::Channel {
        chat, message_id, ..
    }) = forward.forward_origin()
    else {
        panic!("expected a channel origin, got {forward:?}");
    };
    assert_eq!((chat.id, *message_id), (ChatId(channel), post.id));
    assert_eq!(forward.forward_from_message_id(), Some(post.id));
    assert_eq!(forward.text(), Some("Ticket #17 printer"));
    assert!(forward.thread_id.is_none());

    // Comments: a reply to the forward, and one written as a channel replying to it.
    let comment = fake.send(
        group,
        ann,
        Outgoing::text("still broken").reply_to(forward.id.0),
    );
    let shop = fake.add_channel("Ann's shop");
    fake.send_as(
        group,
        ann,
        shop,
        Outgoing::text("from the shop").reply_to(comment),
    );
    let anonymous = fake.send_as(group, ann, group, Outgoing::text("admin"));
    let updates = drain(&bot, &mut offset).await;
    assert_eq!(updates.len(), 3);
    let m = message(&updates[0]);
    assert_eq!(m.thread_id, Some(ThreadId(forward.id)));
    assert!(m.reply_to_message().unwrap().is_automatic_forward());
    let m = message(&updates[1]);
    assert_eq!(m.thread_id, Some(ThreadId(forward.id)));
    assert_eq!(m.reply_to_message().unwrap().id, MessageId(comment));
    assert_eq!(m.sender_chat.as_ref().unwrap().id, ChatId(shop));
    let from = m.from.as_ref().unwrap();
    assert_eq!(
        (from.id, from.is_bot),
        (UserId(CHANNEL_BOT_ID as u64), true)
    );
    assert!(!m.is_automatic_forward());
    let m = message(&updates[2]);
    assert_eq!(m.id, MessageId(anonymous));
    assert_eq!(
        m.from.as_ref().unwrap().id,
        UserId(GROUP_ANONYMOUS_BOT_ID as u64)
    );
    assert_eq!(m.sender_chat.as_ref().unwrap().id, ChatId(group));

    // The forward cannot be edited; the post can, and gets buttons that subscribers press.
    let refused = bot
        .edit_message_text(ChatId(group), forward.id, "x")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, RequestError::Api(ApiError::MessageCantBeEdited)),
        "{refused:?}"
    );
    let keyboard =
        InlineKeyboardMarkup::new(vec![vec![InlineKeyboardButton::callback("5", "rate:17:5")]]);
    let rated = bot
        .edit_message_reply_markup(ChatId(channel), post.id)
        .reply_markup(keyboard.clone())
        .await
        .unwrap();
    assert_eq!(rated.reply_markup(), Some(&keyboard));
    fake.press(channel, post.id.0, ann, "rate:17:5");
    let updates = drain(&bot, &mut offset).await;
    let UpdateKind::CallbackQuery(query) = &updates[0].kind else {
        panic!("expected a callback query, got {:?}", updates[0]);
    };
    let pressed = query.regular_message().unwrap();
    assert!(pressed.chat.is_channel());
    assert!(pressed.from.is_none());
    assert_eq!(pressed.sender_chat.as_ref().unwrap().id, ChatId(channel));
    assert_eq!(pressed.reply_markup(), Some(&keyboard));
    let member = bot
        .get_chat_member(ChatId(channel), UserId(ann as u64))
        .await
        .unwrap();
    assert_eq!(member.status(), ChatMemberStatus::Member);
    let me = bot
        .get_chat_member(ChatId(channel), UserId(fake.bot_id() as u64))
        .await
        .unwrap();
    assert_eq!(me.status(), ChatMemberStatus::Administrator);
    assert!(me.can_post_messages() && me.can_edit_messages());
}

#[tokio::test]
async fn teloxide_parses_forum_topics() {
    let fake = unlimited().await;
    let bot = bot(&fake);
    let forum = fake.add_forum("Support");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(forum, ann);

    let info = bot.get_chat(ChatId(forum)).await.unwrap();
    let ChatFullInfoKind::Public(public) = &info.kind else {
        panic!("{info:?}")
    };
    let ChatFullInfoPublicKind::Supergroup(supergroup) = &public.kind else {
        panic!("{info:?}")
    };
    assert!(supergroup.is_forum);

    let topic = bot
        .create_forum_topic(ChatId(forum), "Ticket #1")
        .icon_color(Rgb::from_u32(0xFF_D6_7E))
        .await
        .unwrap();
    assert_eq!(topic.name, "Ticket #1");
    assert_eq!(topic.icon_color, Rgb::from_u32(0xFF_D6_7E));
    let thread = topic.thread_id;
    let sent = bot
        .send_message(ChatId(forum), "hello")
        .message_thread_id(thread)
        .await
        .unwrap();
    assert_eq!(sent.thread_id, Some(thread));
    assert!(sent.is_topic_message);
    assert_eq!(sent.reply_to_message().unwrap().id, thread.0);
    let question = fake.send_in_topic(forum, thread.0.0, ann, Outgoing::text("my printer"));

    bot.edit_forum_topic(ChatId(forum), thread)
        .name("Ticket #1 (waiting)")
        .await
        .unwrap();
    bot.close_forum_topic(ChatId(forum), thread).await.unwrap();
    let again = bot
        .close_forum_topic(ChatId(forum), thread)
        .await
        .unwrap_err();
    assert!(
        matches!(again, RequestError::Api(ApiError::Unknown(ref d)) if d == "Bad Request: TOPIC_NOT_MODIFIED"),
        "{again:?}"
    );
    bot.reopen_forum_topic(ChatId(forum), thread).await.unwrap();

    let mut offset = 0;
    let updates = drain(&bot, &mut offset).await;
    assert_eq!(updates.len(), 5, "{updates:?}");
    let created = message(&updates[0]);
    assert_eq!(created.id, thread.0);
    assert!(created.is_topic_message);
    let details = created.forum_topic_created().unwrap();
    assert_eq!(
        (details.name.as_str(), details.icon_color),
        ("Ticket #1", Rgb::from_u32(0xFF_D6_7E))
    );
    let m = message(&updates[1]);
    assert_eq!(m.id, MessageId(question));
    assert_eq!(m.thread_id, Some(thread));
    assert!(m.is_topic_message);
    assert_eq!(
        m.reply_to_message()
            .and_then(|r| r.forum_topic_created())
            .map(|c| c.name.as_str()),
        Some("Ticket #1")
    );
    assert_eq!(
        message(&updates[2])
            .forum_topic_edited()
            .unwrap()
            .name
            .as_deref(),
        Some("Ticket #1 (waiting)")
    );
    assert!(message(&updates[3]).forum_topic_closed().is_some());
    let reopened = message(&updates[4]);
    assert!(reopened.forum_topic_reopened().is_some());
    assert_eq!(reopened.thread_id, Some(thread));
}

#[tokio::test]
async fn teloxide_parses_chat_migration() {
    let fake = unlimited().await;
    let bot = bot(&fake);
    let group = fake.add_group("Clients");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(group, ann);
    let supergroup = fake.migrate_to_supergroup(group);

    let mut offset = 0;
    let updates = drain(&bot, &mut offset).await;
    assert_eq!(updates.len(), 2);
    let to = message(&updates[0]);
    assert_eq!(to.chat.id, ChatId(group));
    assert!(to.chat.is_group());
    assert_eq!(to.migrate_to_chat_id(), Some(&ChatId(supergroup)));
    let from = message(&updates[1]);
    assert_eq!(from.chat.id, ChatId(supergroup));
    assert!(from.chat.is_supergroup());
    assert_eq!(
        from.chat_migration(),
        Some(&ChatMigration::From {
            chat_id: ChatId(group)
        })
    );

    let refused = bot.send_message(ChatId(group), "x").await.unwrap_err();
    assert!(
        matches!(refused, RequestError::MigrateToChatId(ChatId(id)) if id == supergroup),
        "{refused:?}"
    );
    let sent = bot.send_message(ChatId(supergroup), "x").await.unwrap();
    assert!(sent.chat.is_supergroup());
}
