//! Wire-level tests of the fake over real HTTP (teloxide parsing is covered by the root crate's
//! `tests/fake_telegram_teloxide.rs`).

use super::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Reply {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

async fn raw(
    fake: &FakeTelegram,
    http_method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(fake.addr).await.unwrap();
    let head = format!(
        "{http_method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a full response");
    let headers = String::from_utf8_lossy(&response[..split]).to_string();
    let status = headers[9..12].parse().unwrap();
    Reply {
        status,
        headers,
        body: response[split + 4..].to_vec(),
    }
}

/// Calls `method` with a JSON body; returns HTTP status and the parsed reply.
async fn call(fake: &FakeTelegram, method: &str, params: Value) -> (u16, Value) {
    let path = format!("/bot{}/{method}", fake.token());
    let reply = raw(
        fake,
        "POST",
        &path,
        "application/json",
        params.to_string().as_bytes(),
    )
    .await;
    (reply.status, reply.json())
}

async fn ok(fake: &FakeTelegram, method: &str, params: Value) -> Value {
    let (status, body) = call(fake, method, params).await;
    assert_eq!(status, 200, "{method}: {body}");
    body["result"].clone()
}

async fn err(fake: &FakeTelegram, method: &str, params: Value) -> (u16, String) {
    let (status, body) = call(fake, method, params).await;
    assert_eq!(body["ok"], json!(false), "{method}: {body}");
    assert_eq!(body["error_code"], json!(status));
    (status, body["description"].as_str().unwrap().to_owned())
}

async fn unlimited() -> FakeTelegram {
    FakeTelegram::start_with(TelegramOptions {
        enforce_limits: false,
        ..TelegramOptions::default()
    })
    .await
}

#[tokio::test]
async fn routing_token_and_method_names() {
    let fake = FakeTelegram::start().await;
    let reply = raw(&fake, "GET", "/bot1:wrong/getMe", "text/plain", b"").await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.json(),
        json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
    );

    let (status, description) = err(&fake, "sendPigeon", json!({})).await;
    assert_eq!(
        (status, description.as_str()),
        (404, "Not Found: method not found")
    );

    let path = format!("/bot{}/GETME", fake.token());
    let reply = raw(&fake, "GET", &path, "text/plain", b"").await;
    assert_eq!(reply.status, 200);
    let me = reply.json()["result"].clone();
    assert_eq!(me["id"], json!(123_456_789));
    assert_eq!(me["is_bot"], json!(true));
    assert_eq!(me["username"], json!("teledesk_test_bot"));
    assert_eq!(fake.bot_id(), 123_456_789);

    let calls = fake.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!((calls[0].method.as_str(), calls[0].status), ("getMe", 401));
    assert_eq!(calls[2].method, "GETME");
}

#[tokio::test]
async fn form_and_query_parameters_are_typed() {
    let fake = unlimited().await;
    let group = fake.add_group("Clients");
    let path = format!("/bot{}/sendMessage", fake.token());
    let body =
        format!("chat_id={group}&text=42+%26+%3Cb%3E&reply_markup=%7B%22force_reply%22%3Atrue%7D");
    let reply = raw(
        &fake,
        "POST",
        &path,
        "application/x-www-form-urlencoded",
        body.as_bytes(),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.json()["result"]["text"], json!("42 & <b>"));
    let call = fake.calls().pop().unwrap();
    assert_eq!(call.params["chat_id"], json!(group));
    assert_eq!(call.params["text"], json!("42 & <b>"));
    assert_eq!(call.params["reply_markup"], json!({"force_reply": true}));
    // force_reply is kept for observation but is not part of the wire Message.
    let stored = fake.messages(group).pop().unwrap();
    assert_eq!(stored.reply_markup, Some(json!({"force_reply": true})));
    assert!(reply.json()["result"].get("reply_markup").is_none());

    let path = format!("/bot{}/getChat?chat_id={group}", fake.token());
    let reply = raw(&fake, "GET", &path, "text/plain", b"").await;
    let chat = reply.json()["result"].clone();
    assert_eq!(chat["type"], json!("group"));
    assert_eq!(chat["title"], json!("Clients"));
    assert_eq!(chat["max_reaction_count"], json!(11));
}

#[tokio::test]
async fn updates_are_confirmed_by_offset() {
    let fake = unlimited().await;
    let group = fake.add_group("Clients");
    let ann = fake.add_user("Ann", None, Some("ann"));
    fake.add_member(group, ann);
    for n in 0..3 {
        fake.send(group, ann, Outgoing::text(&format!("m{n}")));
    }
    let raw_id = fake.push_raw_update(json!({"message_reaction": {"x": 1}}));
    assert_eq!(raw_id, 100_004);

    let updates = ok(&fake, "getUpdates", json!({"limit": 2})).await;
    let ids: Vec<i64> = updates
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["update_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![100_001, 100_002]);
    assert_eq!(updates[0]["message"]["text"], json!("m0"));
    assert_eq!(updates[0]["message"]["from"]["language_code"], json!("ru"));
    assert_eq!(fake.unconfirmed_updates(), 4, "reading does not confirm");

    let updates = ok(&fake, "getUpdates", json!({"offset": 100_003})).await;
    assert_eq!(updates.as_array().unwrap().len(), 2);
    assert_eq!(updates[1]["message_reaction"], json!({"x": 1}));
    assert_eq!(fake.unconfirmed_updates(), 2);

    let updates = ok(&fake, "getUpdates", json!({"offset": -1})).await;
    assert_eq!(updates[0]["update_id"], json!(100_004));
    assert_eq!(fake.unconfirmed_updates(), 1);
    let info = ok(&fake, "getWebhookInfo", json!({})).await;
    assert_eq!(info["pending_update_count"], json!(1));
}

#[tokio::test]
async fn long_poll_wakes_on_update_and_yields_to_a_newer_poll() {
    let fake = unlimited().await;
    let group = fake.add_group("Clients");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(group, ann);
    let generation = |f: &FakeTelegram| f.shared.world().poll_generation;

    let poll = tokio::spawn({
        let fake = fake.clone();
        async move { call(&fake, "getUpdates", json!({"timeout": 30})).await }
    });
    fake.wait_until(Duration::from_secs(5), "the poll to start", |f| {
        (generation(f) == 1).then_some(())
    })
    .await;
    fake.send(group, ann, Outgoing::text("wake up"));
    let (status, body) = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["result"][0]["message"]["text"], json!("wake up"));

    let old = tokio::spawn({
        let fake = fake.clone();
        async move {
            call(
                &fake,
                "getUpdates",
                json!({"offset": 100_002, "timeout": 30}),
            )
            .await
        }
    });
    fake.wait_until(Duration::from_secs(5), "the first poll", |f| {
        (generation(f) == 2).then_some(())
    })
    .await;
    let newer = ok(&fake, "getUpdates", json!({"timeout": 0})).await;
    assert_eq!(newer, json!([]));
    let (status, body) = tokio::time::timeout(Duration::from_secs(5), old)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 409);
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .starts_with("Conflict: terminated by other getUpdates")
    );
}

#[tokio::test]
async fn threads_and_replies() {
    let fake = unlimited().await;
    let supergroup = fake.add_supergroup("Discussion");
    let group = fake.add_group("Basic");
    assert!(supergroup < -1_001_000_000_000);
    assert!((-4_002_000_000..-4_001_000_000).contains(&group));
    let ann = fake.add_user("Ann", Some("Lee"), None);
    fake.add_member(supergroup, ann);
    fake.add_member(group, ann);

    let root = fake.send(supergroup, ann, Outgoing::text("root"));
    let bot_reply = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": supergroup, "text": "ack", "reply_parameters": {"message_id": root},
               "message_thread_id": 999}),
    )
    .await;
    assert_eq!(
        bot_reply["message_thread_id"],
        json!(root),
        "thread ids are ignored outside forums"
    );
    let bot_reply_id = bot_reply["message_id"].as_i64().unwrap() as i32;
    let deep = fake.send(
        supergroup,
        ann,
        Outgoing::text("deep").reply_to(bot_reply_id),
    );
    let stored = fake.message(supergroup, deep).unwrap();
    assert_eq!(
        (stored.reply_to, stored.thread_id),
        (Some(bot_reply_id), Some(root))
    );
    assert_eq!(stored.sender_name, "Ann Lee");

    let updates = ok(&fake, "getUpdates", json!({})).await;
    let last = &updates.as_array().unwrap().last().unwrap()["message"];
    assert_eq!(last["reply_to_message"]["text"], json!("ack"));
    assert_eq!(last["reply_to_message"]["from"]["is_bot"], json!(true));
    assert!(
        last["reply_to_message"].get("reply_to_message").is_none(),
        "no nesting"
    );

    let basic = fake.send(group, ann, Outgoing::text("q"));
    let reply = fake.send(group, ann, Outgoing::text("r").reply_to(basic));
    assert_eq!(fake.message(group, reply).unwrap().thread_id, None);

    let (_, description) = err(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": "x", "reply_to_message_id": 777}),
    )
    .await;
    assert_eq!(description, "Bad Request: message to be replied not found");
    let sent = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": "x",
               "reply_parameters": {"message_id": 777, "allow_sending_without_reply": true}}),
    )
    .await;
    assert!(sent.get("reply_to_message").is_none());
}

#[tokio::test]
async fn text_validation() {
    let fake = unlimited().await;
    let group = fake.add_group("Clients");
    let (_, d) = err(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": "  \n "}),
    )
    .await;
    assert_eq!(d, "Bad Request: message text is empty");
    let (_, d) = err(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": "<b> </b>", "parse_mode": "HTML"}),
    )
    .await;
    assert_eq!(d, "Bad Request: message text is empty");
    // 4096 UTF-16 units fit, one more does not; an emoji counts twice.
    ok(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": "я".repeat(4096)}),
    )
    .await;
    let (_, d) = err(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": "😀".repeat(2049)}),
    )
    .await;
    assert_eq!(d, "Bad Request: message is too long");
    // Markup does not count towards the limit.
    let long_html = format!("<b>{}</b>", "x".repeat(4090));
    ok(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": long_html, "parse_mode": "HTML"}),
    )
    .await;
    let (_, d) = err(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": "<foo>x</foo>", "parse_mode": "HTML"}),
    )
    .await;
    assert_eq!(
        d,
        "Bad Request: can't parse entities: Unsupported start tag \"foo\" at byte offset 0"
    );
    let (_, d) = err(&fake, "sendMessage", json!({"chat_id": -1, "text": "x"})).await;
    assert_eq!(d, "Bad Request: chat not found");
    let (_, d) = err(&fake, "sendMessage", json!({"text": "x"})).await;
    assert_eq!(d, "Bad Request: chat_id is empty");
    let markup = json!({"inline_keyboard": [[{"text": "x", "callback_data": "y".repeat(65)}]]});
    let (_, d) = err(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": "x", "reply_markup": markup}),
    )
    .await;
    assert_eq!(d, "Bad Request: BUTTON_DATA_INVALID");

    let html = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": "<a href=\"https://t.me/x\">link</a> &amp; <code>c</code>", "parse_mode": "HTML"}),
    )
    .await;
    assert_eq!(html["text"], json!("link & c"));
    assert_eq!(
        html["entities"],
        json!([{"type": "text_link", "offset": 0, "length": 4, "url": "https://t.me/x"},
               {"type": "code", "offset": 7, "length": 1}])
    );
    let stored = fake.messages(group).pop().unwrap();
    assert_eq!(
        stored.html.as_deref(),
        Some("<a href=\"https://t.me/x\">link</a> &amp; <code>c</code>")
    );
}

#[tokio::test]
async fn edits_deletes_and_pins() {
    let fake = unlimited().await;
    let group = fake.add_supergroup("Clients");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(group, ann);
    let users_message = fake.send(group, ann, Outgoing::text("mine"));
    let keyboard = json!({"inline_keyboard": [[{"text": "Close", "callback_data": "close"}]]});
    let sent = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": "ticket", "reply_markup": keyboard}),
    )
    .await;
    let id = sent["message_id"].clone();

    let not_modified = "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";
    let (_, d) = err(
        &fake,
        "editMessageText",
        json!({"chat_id": group, "message_id": id, "text": "ticket", "reply_markup": keyboard}),
    )
    .await;
    assert_eq!(d, not_modified);
    let (_, d) = err(
        &fake,
        "editMessageReplyMarkup",
        json!({"chat_id": group, "message_id": id, "reply_markup": keyboard}),
    )
    .await;
    assert_eq!(d, not_modified);
    let (_, d) = err(
        &fake,
        "editMessageText",
        json!({"chat_id": group, "message_id": 999, "text": "x"}),
    )
    .await;
    assert_eq!(d, "Bad Request: message to edit not found");
    let (_, d) = err(
        &fake,
        "editMessageText",
        json!({"chat_id": group, "message_id": users_message, "text": "x"}),
    )
    .await;
    assert_eq!(d, "Bad Request: message can't be edited");

    let edited = ok(
        &fake,
        "editMessageText",
        json!({"chat_id": group, "message_id": id, "text": "ticket!", "reply_markup": keyboard}),
    )
    .await;
    assert_eq!(edited["reply_markup"], keyboard);
    assert!(edited["edit_date"].as_i64().unwrap() >= edited["date"].as_i64().unwrap());
    let cleared = ok(
        &fake,
        "editMessageReplyMarkup",
        json!({"chat_id": group, "message_id": id}),
    )
    .await;
    assert!(cleared.get("reply_markup").is_none());
    let stored = fake.message(group, id.as_i64().unwrap() as i32).unwrap();
    assert_eq!(
        (stored.text.as_str(), stored.edit_count, stored.reply_markup),
        ("ticket!", 2, None)
    );

    ok(
        &fake,
        "pinChatMessage",
        json!({"chat_id": group, "message_id": id}),
    )
    .await;
    assert_eq!(fake.pinned(group), id.as_i64().map(|i| i as i32));
    let updates = ok(&fake, "getUpdates", json!({"offset": 100_002})).await;
    assert_eq!(updates[0]["message"]["pinned_message"]["message_id"], id);
    let (_, d) = err(
        &fake,
        "pinChatMessage",
        json!({"chat_id": group, "message_id": 999}),
    )
    .await;
    assert_eq!(d, "Bad Request: message to pin not found");

    assert_eq!(
        ok(
            &fake,
            "deleteMessage",
            json!({"chat_id": group, "message_id": id})
        )
        .await,
        json!(true)
    );
    let (_, d) = err(
        &fake,
        "deleteMessage",
        json!({"chat_id": group, "message_id": id}),
    )
    .await;
    assert_eq!(d, "Bad Request: message to delete not found");
    assert_eq!(fake.pinned(group), None);
    // A tap on a deleted message arrives as an inaccessible message.
    fake.press(group, id.as_i64().unwrap() as i32, ann, "close");
    let updates = ok(&fake, "getUpdates", json!({"offset": -1})).await;
    assert_eq!(updates[0]["callback_query"]["message"]["date"], json!(0));
}

#[tokio::test]
async fn private_chats_and_members() {
    let fake = unlimited().await;
    let group = fake.add_group("Clients");
    let ann = fake.add_user("Ann", None, Some("ann"));
    let bob = fake.add_user("Bob", None, None);
    fake.add_member(group, ann);

    let (status, d) = err(&fake, "sendMessage", json!({"chat_id": ann, "text": "hi"})).await;
    assert_eq!(
        (status, d.as_str()),
        (
            403,
            "Forbidden: bot can't initiate conversation with a user"
        )
    );
    fake.send(ann, ann, Outgoing::text("/start"));
    let sent = ok(&fake, "sendMessage", json!({"chat_id": ann, "text": "hi"})).await;
    assert_eq!(
        sent["chat"],
        json!({"id": ann, "type": "private", "first_name": "Ann", "username": "ann"})
    );
    fake.set_can_dm(ann, false);
    let (_, d) = err(&fake, "sendMessage", json!({"chat_id": ann, "text": "hi"})).await;
    assert_eq!(d, "Forbidden: bot was blocked by the user");

    let status_of = |v: Value| v["status"].as_str().unwrap().to_owned();
    let bot = fake.bot_id();
    assert_eq!(
        status_of(
            ok(
                &fake,
                "getChatMember",
                json!({"chat_id": group, "user_id": bot})
            )
            .await
        ),
        "administrator"
    );
    assert_eq!(
        status_of(
            ok(
                &fake,
                "getChatMember",
                json!({"chat_id": group, "user_id": ann})
            )
            .await
        ),
        "member"
    );
    assert_eq!(
        status_of(
            ok(
                &fake,
                "getChatMember",
                json!({"chat_id": group, "user_id": bob})
            )
            .await
        ),
        "left"
    );
    let (_, d) = err(
        &fake,
        "getChatMember",
        json!({"chat_id": -5, "user_id": ann}),
    )
    .await;
    assert_eq!(d, "Bad Request: chat not found");
}

#[tokio::test]
async fn leaving_a_group_is_announced_and_leaving_a_channel_is_not() {
    let fake = unlimited().await;
    let group = fake.add_group("Clients");
    let channel = fake.add_channel("News");
    let ann = fake.add_user("Ann", None, Some("ann"));
    let bob = fake.add_user("Bob", None, None);
    for user in [ann, bob] {
        fake.add_member(group, user);
        fake.add_member(channel, user);
    }

    fake.remove_member(channel, ann);
    fake.remove_member(group, ann);
    let updates = ok(&fake, "getUpdates", json!({"timeout": 0})).await;
    let updates = updates.as_array().expect("a list");
    assert_eq!(updates.len(), 1, "only the group says it: {updates:?}");
    let message = &updates[0]["message"];
    assert_eq!(message["chat"]["id"], json!(group));
    assert_eq!(message["from"]["id"], json!(ann));
    assert_eq!(
        message["left_chat_member"],
        json!({"id": ann, "is_bot": false, "first_name": "Ann", "username": "ann", "language_code": "ru"})
    );
    for chat in [group, channel] {
        let member = ok(
            &fake,
            "getChatMember",
            json!({"chat_id": chat, "user_id": ann}),
        )
        .await;
        assert_eq!(member["status"], "left");
    }

    // An admin bot that opts in to `chat_member` hears of it in a channel too; the list is
    // remembered until named again.
    let offset = updates[0]["update_id"].as_i64().unwrap() + 1;
    let allowed =
        json!({"offset": offset, "timeout": 0, "allowed_updates": ["message", "chat_member"]});
    assert_eq!(ok(&fake, "getUpdates", allowed).await, json!([]));
    fake.remove_member(channel, bob);
    let updates = ok(&fake, "getUpdates", json!({"offset": offset, "timeout": 0})).await;
    let update = &updates.as_array().expect("a list")[0]["chat_member"];
    assert_eq!(update["chat"]["id"], json!(channel));
    assert_eq!(update["old_chat_member"]["status"], "member");
    assert_eq!(update["new_chat_member"]["status"], "left");
    assert_eq!(update["new_chat_member"]["user"]["id"], json!(bob));
}

#[tokio::test]
async fn rate_limits_refuse_without_changing_state() {
    let fake = FakeTelegram::start().await;
    let group = fake.add_group("Clients");
    for n in 0..3 {
        ok(
            &fake,
            "sendMessage",
            json!({"chat_id": group, "text": format!("m{n}")}),
        )
        .await;
    }
    let path = format!("/bot{}/sendMessage", fake.token());
    let body = json!({"chat_id": group, "text": "over"}).to_string();
    let reply = raw(&fake, "POST", &path, "application/json", body.as_bytes()).await;
    assert_eq!(reply.status, 429);
    let json = reply.json();
    let seconds = json["parameters"]["retry_after"].as_u64().unwrap();
    assert!(seconds >= 1);
    assert_eq!(
        json["description"],
        json!(format!("Too Many Requests: retry after {seconds}"))
    );
    assert!(
        reply
            .headers
            .to_ascii_lowercase()
            .contains(&format!("retry-after: {seconds}"))
    );
    assert_eq!(fake.messages(group).len(), 3);
    // Edits share the budget; unlimited methods do not.
    let (status, _) = err(
        &fake,
        "editMessageText",
        json!({"chat_id": group, "message_id": 1, "text": "e"}),
    )
    .await;
    assert_eq!(status, 429);
    ok(&fake, "getChat", json!({"chat_id": group})).await;
}

#[tokio::test]
async fn limits_can_be_suspended_to_lay_out_a_world_and_then_apply_again() {
    let fake = FakeTelegram::start().await;
    let group = fake.add_group("Clients");
    fake.set_enforce_limits(false);
    for n in 0..40 {
        ok(
            &fake,
            "sendMessage",
            json!({"chat_id": group, "text": format!("m{n}")}),
        )
        .await;
    }
    assert_eq!(fake.messages(group).len(), 40);
    fake.set_enforce_limits(true);
    // The 40 sends made while off are not charged: a fresh chat's burst is there.
    for n in 0..3 {
        ok(
            &fake,
            "sendMessage",
            json!({"chat_id": group, "text": format!("after {n}")}),
        )
        .await;
    }
    let (status, _) = err(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": "over"}),
    )
    .await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn callbacks_files_and_injected_errors() {
    let fake = unlimited().await;
    let group = fake.add_group("Clients");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(group, ann);
    let sent = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": "rate us"}),
    )
    .await;
    let query = fake.press(
        group,
        sent["message_id"].as_i64().unwrap() as i32,
        ann,
        "rate:5",
    );
    let updates = ok(&fake, "getUpdates", json!({})).await;
    let cq = &updates[0]["callback_query"];
    assert_eq!(cq["id"], json!(query));
    assert_eq!(cq["message"]["text"], json!("rate us"));
    assert!(cq["chat_instance"].as_str().unwrap().starts_with('-'));
    ok(
        &fake,
        "answerCallbackQuery",
        json!({"callback_query_id": query, "text": "Thanks", "show_alert": true}),
    )
    .await;
    assert_eq!(
        fake.callback_answers(),
        vec![CallbackAnswer {
            query_id: query,
            text: Some("Thanks".into()),
            show_alert: true
        }]
    );
    let (_, d) = err(
        &fake,
        "answerCallbackQuery",
        json!({"callback_query_id": "nope"}),
    )
    .await;
    assert_eq!(
        d,
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    );

    let big = fake.send(
        group,
        ann,
        Outgoing::document(
            "dump.bin",
            "application/octet-stream",
            vec![0; 21 * 1024 * 1024],
            None,
        ),
    );
    let small = fake.send(
        group,
        ann,
        Outgoing::document("a.pdf", "application/pdf", b"%PDF".to_vec(), Some("see")),
    );
    let big_id = fake.message(group, big).unwrap().media[0].file_id.clone();
    let small_msg = fake.message(group, small).unwrap();
    assert_eq!(small_msg.text, "see");
    let (_, d) = err(&fake, "getFile", json!({"file_id": big_id})).await;
    assert_eq!(d, "Bad Request: file is too big");
    let (_, d) = err(&fake, "getFile", json!({"file_id": "AgAC-unknown"})).await;
    assert_eq!(d, "Bad Request: invalid file_id");
    let file = ok(
        &fake,
        "getFile",
        json!({"file_id": small_msg.media[0].file_id}),
    )
    .await;
    assert!(
        file["file_path"]
            .as_str()
            .unwrap()
            .starts_with("documents/file_")
    );
    assert!(file["file_path"].as_str().unwrap().ends_with(".pdf"));
    let path = format!(
        "/file/bot{}/{}",
        fake.token(),
        file["file_path"].as_str().unwrap()
    );
    let reply = raw(&fake, "GET", &path, "text/plain", b"").await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, b"%PDF".as_slice())
    );

    fake.inject_error(
        "getChat",
        2,
        FakeError::Api {
            code: 403,
            description: "Forbidden: bot was kicked from the group chat".into(),
        },
    );
    for _ in 0..2 {
        let (status, d) = err(&fake, "getchat", json!({"chat_id": group})).await;
        assert_eq!(
            (status, d.as_str()),
            (403, "Forbidden: bot was kicked from the group chat")
        );
    }
    ok(&fake, "getChat", json!({"chat_id": group})).await;
    fake.inject_error("getChat", 1, FakeError::MigrateTo { chat_id: -100_777 });
    let (_, body) = call(&fake, "getChat", json!({"chat_id": group})).await;
    assert_eq!(body["parameters"], json!({"migrate_to_chat_id": -100_777}));
}

/// Fetches what is deliverable and confirms it by moving `offset` past it.
async fn drain(fake: &FakeTelegram, offset: &mut i64) -> Vec<Value> {
    let updates = ok(fake, "getUpdates", json!({"offset": *offset})).await;
    let updates = updates.as_array().unwrap().clone();
    if let Some(last) = updates.last() {
        *offset = last["update_id"].as_i64().unwrap() + 1;
    }
    updates
}

fn id32(value: &Value) -> i32 {
    value.as_i64().unwrap() as i32
}

/// A channel "Acme Support" with the discussion group "Acme Support Chat".
fn channel_with_discussion(fake: &FakeTelegram) -> (i64, i64) {
    let channel = fake.add_channel("Acme Support");
    let group = fake.add_supergroup("Acme Support Chat");
    fake.link_discussion(channel, group);
    (channel, group)
}

#[tokio::test]
async fn channel_posts_get_automatic_forwards() {
    let fake = unlimited().await;
    let (channel, group) = channel_with_discussion(&fake);
    assert!(channel < -1_001_000_000_000);
    assert_eq!(fake.linked_chat(channel), Some(group));
    let info = ok(&fake, "getChat", json!({"chat_id": channel})).await;
    assert_eq!(
        (&info["type"], &info["title"], &info["linked_chat_id"]),
        (&json!("channel"), &json!("Acme Support"), &json!(group))
    );
    let info = ok(&fake, "getChat", json!({"chat_id": group})).await;
    assert_eq!(info["linked_chat_id"], json!(channel));

    let ann = fake.add_user("Ann", None, Some("ann"));
    fake.add_member(group, ann);
    fake.add_member(channel, ann);
    fake.send(group, ann, Outgoing::text("hello"));
    let mut offset = 0;
    assert_eq!(drain(&fake, &mut offset).await.len(), 1);

    let post = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": channel, "text": "<b>Ticket #17</b> printer", "parse_mode": "HTML"}),
    )
    .await;
    assert_eq!(post["chat"]["type"], json!("channel"));
    assert_eq!(post["sender_chat"]["id"], json!(channel));
    assert!(
        post.get("from").is_none(),
        "a channel post has no from: {post}"
    );
    let post_id = id32(&post["message_id"]);
    let stored = fake.message(channel, post_id).unwrap();
    assert_eq!(
        (stored.from_id, stored.from_bot, stored.sender_chat_id),
        (None, true, Some(channel))
    );

    // No channel_post for the bot's own post, only the forward in the group.
    let updates = drain(&fake, &mut offset).await;
    assert_eq!(updates.len(), 1, "{updates:?}");
    let forward = &updates[0]["message"];
    assert_eq!(forward["chat"]["id"], json!(group));
    assert_eq!(
        forward["message_id"],
        json!(2),
        "the group's own id sequence"
    );
    assert_eq!(
        forward["from"],
        json!({"id": 777_000, "is_bot": false, "first_name": "Telegram"})
    );
    let channel_json = json!({"id": channel, "type": "channel", "title": "Acme Support"});
    assert_eq!(forward["sender_chat"], channel_json);
    assert_eq!(forward["is_automatic_forward"], json!(true));
    assert_eq!(
        forward["forward_origin"],
        json!({"type": "channel", "chat": channel_json, "message_id": post_id,
               "date": post["date"]})
    );
    assert_eq!(forward["forward_from_chat"], channel_json);
    assert_eq!(forward["forward_from_message_id"], json!(post_id));
    assert_eq!(forward["forward_date"], post["date"]);
    assert_eq!(forward["text"], json!("Ticket #17 printer"));
    assert_eq!(forward["entities"], post["entities"]);
    assert!(forward.get("message_thread_id").is_none());
    let forward_id = id32(&forward["message_id"]);
    assert_eq!(fake.automatic_forward(channel, post_id), Some(forward_id));
    let stored = fake.message(group, forward_id).unwrap();
    assert!(stored.is_automatic_forward);
    assert_eq!(stored.forward_origin, Some((channel, post_id)));
    assert_eq!(
        (
            stored.from_id,
            stored.sender_chat_id,
            stored.sender_name.as_str()
        ),
        (Some(SERVICE_USER_ID), Some(channel), "Acme Support")
    );

    // Edits of the post are not mirrored, a keyboard added later keeps the forward, and the
    // forward itself cannot be edited.
    let keyboard = json!({"inline_keyboard": [[{"text": "Reopen", "callback_data": "reopen:17"}]]});
    ok(
        &fake,
        "editMessageText",
        json!({"chat_id": channel, "message_id": post_id, "text": "Ticket #17 closed"}),
    )
    .await;
    ok(
        &fake,
        "editMessageReplyMarkup",
        json!({"chat_id": channel, "message_id": post_id, "reply_markup": keyboard}),
    )
    .await;
    assert_eq!(fake.message(channel, post_id).unwrap().edit_count, 2);
    let stored = fake.message(group, forward_id).unwrap();
    assert_eq!(
        (stored.text.as_str(), stored.edit_count),
        ("Ticket #17 printer", 0)
    );
    assert!(
        drain(&fake, &mut offset).await.is_empty(),
        "no updates for own edits"
    );
    let (_, d) = err(
        &fake,
        "editMessageText",
        json!({"chat_id": group, "message_id": forward_id, "text": "x"}),
    )
    .await;
    assert_eq!(d, "Bad Request: message can't be edited");

    // A post with an inline keyboard gets no comment thread.
    let rated = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": channel, "text": "Rate us", "reply_markup": keyboard}),
    )
    .await;
    assert!(drain(&fake, &mut offset).await.is_empty());
    assert_eq!(
        fake.automatic_forward(channel, id32(&rated["message_id"])),
        None
    );

    // Media posts and albums are forwarded with their files; an album stays one.
    let photo = fake.send(
        group,
        ann,
        Outgoing::photo(vec![0xFF, 0xD8, 1, 2], Some("from ann")),
    );
    drain(&fake, &mut offset).await;
    let file_id = fake.message(group, photo).unwrap().media[0].file_id.clone();
    ok(
        &fake,
        "sendPhoto",
        json!({"chat_id": channel, "photo": file_id, "caption": "scan"}),
    )
    .await;
    let updates = drain(&fake, &mut offset).await;
    let forward = &updates[0]["message"];
    assert_eq!(forward["caption"], json!("scan"));
    assert_eq!(
        forward["photo"].as_array().unwrap().last().unwrap()["file_id"],
        json!(file_id)
    );
    let album = ok(
        &fake,
        "sendMediaGroup",
        json!({"chat_id": channel, "media": [{"type": "photo", "media": file_id, "caption": "a"},
                                             {"type": "photo", "media": file_id}]}),
    )
    .await;
    let updates = drain(&fake, &mut offset).await;
    assert_eq!(updates.len(), 2);
    let group_ids: Vec<&Value> = updates
        .iter()
        .map(|u| &u["message"]["media_group_id"])
        .collect();
    assert!(group_ids[0].is_string());
    assert_eq!(group_ids[0], group_ids[1]);
    assert_ne!(group_ids[0], &album[0]["media_group_id"]);
    assert_eq!(
        updates[1]["message"]["forward_origin"]["message_id"],
        album[1]["message_id"]
    );

    // Pins in a channel arrive as channel_post; a channel without a group forwards nothing.
    ok(
        &fake,
        "pinChatMessage",
        json!({"chat_id": channel, "message_id": post_id}),
    )
    .await;
    let updates = drain(&fake, &mut offset).await;
    assert_eq!(updates.len(), 1);
    let pin = &updates[0]["channel_post"];
    assert_eq!(pin["pinned_message"]["message_id"], json!(post_id));
    assert_eq!(pin["sender_chat"]["id"], json!(channel));
    assert!(pin.get("from").is_none());
    let news = fake.add_channel("News");
    ok(&fake, "sendMessage", json!({"chat_id": news, "text": "hi"})).await;
    assert!(drain(&fake, &mut offset).await.is_empty());
}

#[tokio::test]
async fn comments_carry_the_thread_of_the_forward() {
    let fake = unlimited().await;
    let (channel, group) = channel_with_discussion(&fake);
    let ann = fake.add_user("Ann", None, None);
    let bob = fake.add_user("Bob", None, None);
    fake.add_member(group, ann);
    fake.add_member(group, bob);
    let post = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": channel, "text": "Ticket #1"}),
    )
    .await;
    let forward = fake
        .automatic_forward(channel, id32(&post["message_id"]))
        .unwrap();

    let first = fake.send(group, ann, Outgoing::text("still broken").reply_to(forward));
    let second = fake.send(group, bob, Outgoing::text("me too").reply_to(first));
    let loose = fake.send(group, ann, Outgoing::text("unrelated"));
    let stored = fake.message(group, first).unwrap();
    assert_eq!(
        (stored.reply_to, stored.thread_id),
        (Some(forward), Some(forward))
    );
    let stored = fake.message(group, second).unwrap();
    assert_eq!(
        (stored.reply_to, stored.thread_id),
        (Some(first), Some(forward))
    );
    assert!(!stored.is_topic_message);
    assert_eq!(fake.message(group, loose).unwrap().thread_id, None);

    let reply = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": "on it", "reply_parameters": {"message_id": second},
               "message_thread_id": 12345}),
    )
    .await;
    assert_eq!(reply["message_thread_id"], json!(forward));
    assert!(reply.get("is_topic_message").is_none());

    let mut offset = 0;
    let updates = drain(&fake, &mut offset).await;
    let messages: Vec<&Value> = updates.iter().map(|u| &u["message"]).collect();
    // [forward, first, second, loose]
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[1]["message_thread_id"], json!(forward));
    assert_eq!(
        messages[1]["reply_to_message"]["is_automatic_forward"],
        json!(true)
    );
    assert_eq!(messages[2]["message_thread_id"], json!(forward));
    assert_eq!(messages[2]["reply_to_message"]["message_id"], json!(first));
    assert!(messages[3].get("message_thread_id").is_none());
    assert!(messages[3].get("reply_to_message").is_none());
}

#[tokio::test]
async fn users_send_as_a_channel_or_anonymously() {
    let fake = unlimited().await;
    let (channel, group) = channel_with_discussion(&fake);
    let own_channel = fake.add_channel("Ann's blog");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(group, ann);
    let post = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": channel, "text": "Ticket #2"}),
    )
    .await;
    let forward = fake
        .automatic_forward(channel, id32(&post["message_id"]))
        .unwrap();

    let as_channel = fake.send_as(
        group,
        ann,
        own_channel,
        Outgoing::text("as my channel").reply_to(forward),
    );
    let anonymous = fake.send_as(group, ann, group, Outgoing::text("admin here"));
    let stored = fake.message(group, as_channel).unwrap();
    assert_eq!(
        (stored.from_id, stored.sender_chat_id, stored.thread_id),
        (Some(CHANNEL_BOT_ID), Some(own_channel), Some(forward))
    );
    assert!(!stored.is_automatic_forward);
    assert_eq!(stored.sender_name, "Ann's blog");
    let stored = fake.message(group, anonymous).unwrap();
    assert_eq!(
        (stored.from_id, stored.sender_chat_id),
        (Some(GROUP_ANONYMOUS_BOT_ID), Some(group))
    );

    let mut offset = 0;
    let updates = drain(&fake, &mut offset).await;
    let m = &updates[1]["message"];
    assert_eq!(
        m["from"],
        json!({"id": 136_817_688, "is_bot": true, "first_name": "Channel",
               "username": "Channel_Bot"})
    );
    assert_eq!(m["sender_chat"]["id"], json!(own_channel));
    assert!(m.get("is_automatic_forward").is_none());
    let m = &updates[2]["message"];
    assert_eq!(
        m["from"],
        json!({"id": 1_087_968_824, "is_bot": true, "first_name": "Group",
               "username": "GroupAnonymousBot"})
    );
    assert_eq!(
        m["sender_chat"],
        json!({"id": group, "type": "supergroup", "title": "Acme Support Chat"})
    );
}

#[tokio::test]
#[should_panic(expected = "is neither a channel nor chat")]
async fn send_as_needs_a_channel_or_the_chat_itself() {
    let fake = unlimited().await;
    let group = fake.add_supergroup("A");
    let other = fake.add_supergroup("B");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(group, ann);
    fake.send_as(group, ann, other, Outgoing::text("x"));
}

#[tokio::test]
#[should_panic(expected = "is not a supergroup; only there users write as a chat")]
async fn basic_groups_have_no_anonymous_admins() {
    let fake = unlimited().await;
    let group = fake.add_group("A");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(group, ann);
    fake.send_as(group, ann, group, Outgoing::text("x"));
}

#[tokio::test]
#[should_panic(expected = "users do not post in channel")]
async fn users_cannot_post_in_channels() {
    let fake = unlimited().await;
    let channel = fake.add_channel("A");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(channel, ann);
    fake.send(channel, ann, Outgoing::text("x"));
}

#[tokio::test]
async fn channel_buttons_and_subscribers() {
    let fake = unlimited().await;
    let channel = fake.add_channel("Acme Support");
    let ann = fake.add_user("Ann", None, None);
    let bob = fake.add_user("Bob", None, None);
    fake.add_member(channel, ann);
    let keyboard = json!({"inline_keyboard": [[{"text": "5", "callback_data": "rate:17:5"}]]});
    let post = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": channel, "text": "Ticket #17 closed", "reply_markup": keyboard}),
    )
    .await;
    let query = fake.press(channel, id32(&post["message_id"]), ann, "rate:17:5");
    let updates = ok(&fake, "getUpdates", json!({})).await;
    let cq = &updates[0]["callback_query"];
    assert_eq!(cq["id"], json!(query));
    assert_eq!(cq["from"]["id"], json!(ann));
    let message = &cq["message"];
    assert_eq!(message["chat"]["type"], json!("channel"));
    assert_eq!(message["sender_chat"]["id"], json!(channel));
    assert!(message.get("from").is_none(), "{message}");
    assert_eq!(message["reply_markup"], keyboard);
    assert_eq!(message["text"], json!("Ticket #17 closed"));

    let member = |user: i64| {
        let fake = fake.clone();
        async move {
            call(
                &fake,
                "getChatMember",
                json!({"chat_id": channel, "user_id": user}),
            )
            .await
            .1
        }
    };
    assert_eq!(member(ann).await["result"]["status"], json!("member"));
    assert_eq!(member(bob).await["result"]["status"], json!("left"));
    assert_eq!(
        member(42).await["description"],
        json!("Bad Request: user not found")
    );
    let bot = member(fake.bot_id()).await["result"].clone();
    assert_eq!(bot["status"], json!("administrator"));
    assert_eq!(
        (&bot["can_post_messages"], &bot["can_edit_messages"]),
        (&json!(true), &json!(true))
    );
    assert!(bot.get("can_manage_topics").is_none());
}

/// Index of the last recorded call of `method`.
fn last_call(fake: &FakeTelegram, method: &str) -> usize {
    fake.calls()
        .iter()
        .rposition(|c| c.method == method)
        .unwrap_or_else(|| panic!("no {method} call"))
}

#[tokio::test]
async fn automatic_forward_follows_the_response_by_default() {
    let fake = unlimited().await;
    let (channel, _) = channel_with_discussion(&fake);
    let generation = |f: &FakeTelegram| f.shared.world().poll_generation;
    let poll = tokio::spawn({
        let fake = fake.clone();
        async move { call(&fake, "getUpdates", json!({"timeout": 30})).await }
    });
    fake.wait_until(Duration::from_secs(5), "the poll to start", |f| {
        (generation(f) == 1).then_some(())
    })
    .await;
    ok(
        &fake,
        "sendMessage",
        json!({"chat_id": channel, "text": "post"}),
    )
    .await;
    let (status, body) = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        body["result"][0]["message"]["is_automatic_forward"],
        json!(true)
    );
    // Calls are recorded as they complete: the post was answered before the poll returned.
    assert!(last_call(&fake, "sendMessage") < last_call(&fake, "getUpdates"));

    // A held forward keeps later updates back too, so ids are handed out in order.
    let group = fake.linked_chat(channel).unwrap();
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(group, ann);
    let held_id = fake.shared.world().queue_update(json!({"message": {}}));
    fake.shared.world().held.insert(held_id);
    fake.send(group, ann, Outgoing::text("later"));
    let updates = ok(&fake, "getUpdates", json!({"offset": held_id})).await;
    assert_eq!(updates, json!([]));
    assert_eq!(fake.unconfirmed_updates(), 2);
}

#[tokio::test]
async fn automatic_forward_before_the_response_on_request() {
    let fake = unlimited().await;
    let (channel, group) = channel_with_discussion(&fake);
    fake.set_forward_before_response(true);
    fake.shared.world().forward_wait = Duration::from_secs(30);
    let generation = |f: &FakeTelegram| f.shared.world().poll_generation;
    let poll = tokio::spawn({
        let fake = fake.clone();
        async move { call(&fake, "getUpdates", json!({"timeout": 30})).await }
    });
    fake.wait_until(Duration::from_secs(5), "the poll to start", |f| {
        (generation(f) == 1).then_some(())
    })
    .await;
    // Answered because the poll took the forward, well before the 30 s bound.
    let post = tokio::time::timeout(
        Duration::from_secs(10),
        ok(
            &fake,
            "sendMessage",
            json!({"chat_id": channel, "text": "post"}),
        ),
    )
    .await
    .expect("the response follows the poll");
    let forward = fake
        .automatic_forward(channel, id32(&post["message_id"]))
        .unwrap();
    let (_, body) = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body["result"][0]["message"]["message_id"], json!(forward));
    assert_eq!(body["result"][0]["message"]["chat"]["id"], json!(group));

    // Without a poller the response comes anyway once the bound has passed.
    fake.shared.world().forward_wait = Duration::from_millis(300);
    let started = tokio::time::Instant::now();
    ok(
        &fake,
        "sendMessage",
        json!({"chat_id": channel, "text": "nobody polls"}),
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    let updates = ok(&fake, "getUpdates", json!({"offset": -1})).await;
    assert_eq!(
        updates[0]["message"]["text"],
        json!("nobody polls"),
        "the forward stays queued"
    );
}

#[tokio::test]
async fn forum_topics() {
    let fake = unlimited().await;
    let forum = fake.add_forum("Support");
    let ann = fake.add_user("Ann", None, None);
    let bob = fake.add_user("Bob", None, None);
    fake.add_member(forum, ann);
    fake.add_member(forum, bob);
    let info = ok(&fake, "getChat", json!({"chat_id": forum})).await;
    assert_eq!(
        (&info["type"], &info["is_forum"]),
        (&json!("supergroup"), &json!(true))
    );
    let bot = ok(
        &fake,
        "getChatMember",
        json!({"chat_id": forum, "user_id": fake.bot_id()}),
    )
    .await;
    assert_eq!(bot["can_manage_topics"], json!(true));

    let topic = ok(
        &fake,
        "createForumTopic",
        json!({"chat_id": forum, "name": "  Ticket #1  "}),
    )
    .await;
    assert_eq!(
        topic,
        json!({"message_thread_id": 2, "name": "Ticket #1", "icon_color": 7_322_096})
    );
    let t = id32(&topic["message_thread_id"]);
    let long = ok(
        &fake,
        "createForumTopic",
        json!({"chat_id": forum, "name": "я".repeat(130), "icon_color": 16_766_590}),
    )
    .await;
    assert_eq!(long["name"].as_str().unwrap().chars().count(), 128);
    assert_eq!(long["icon_color"], json!(16_766_590));
    let mut offset = 0;
    let updates = drain(&fake, &mut offset).await;
    assert_eq!(
        updates.len(),
        2,
        "the bot gets its own topic service messages"
    );
    let created = &updates[0]["message"];
    assert_eq!(
        created["forum_topic_created"],
        json!({"name": "Ticket #1", "icon_color": 7_322_096})
    );
    assert_eq!(
        (
            &created["message_id"],
            &created["message_thread_id"],
            &created["is_topic_message"]
        ),
        (&json!(t), &json!(t), &json!(true))
    );
    assert_eq!(created["from"]["id"], json!(fake.bot_id()));
    assert_eq!(created["chat"]["is_forum"], json!(true));
    assert!(created.get("reply_to_message").is_none());
    assert_eq!(
        fake.message(forum, t).unwrap().service.as_deref(),
        Some("forum_topic_created")
    );

    // The bot and users write into the topic; replies inherit it.
    let sent = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": forum, "text": "hello", "message_thread_id": t}),
    )
    .await;
    assert_eq!(
        (&sent["message_thread_id"], &sent["is_topic_message"]),
        (&json!(t), &json!(true))
    );
    assert_eq!(sent["reply_to_message"]["message_id"], json!(t));
    assert_eq!(
        sent["reply_to_message"]["forum_topic_created"]["name"],
        json!("Ticket #1")
    );
    let question = fake.send_in_topic(forum, t, ann, Outgoing::text("my printer"));
    let stored = fake.message(forum, question).unwrap();
    assert_eq!(
        (stored.thread_id, stored.is_topic_message, stored.reply_to),
        (Some(t), true, Some(t))
    );
    let answer = fake.send(forum, bob, Outgoing::text("same").reply_to(question));
    let stored = fake.message(forum, answer).unwrap();
    assert_eq!(
        (stored.thread_id, stored.is_topic_message, stored.reply_to),
        (Some(t), true, Some(question))
    );
    let reply = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": forum, "text": "on it", "reply_parameters": {"message_id": question}}),
    )
    .await;
    assert_eq!(
        (&reply["message_thread_id"], &reply["is_topic_message"]),
        (&json!(t), &json!(true))
    );
    // The General topic is no topic: replies there carry their chain's root only.
    let general = fake.send(forum, ann, Outgoing::text("general"));
    let general_reply = fake.send(forum, bob, Outgoing::text("re").reply_to(general));
    let stored = fake.message(forum, general).unwrap();
    assert_eq!((stored.thread_id, stored.is_topic_message), (None, false));
    let stored = fake.message(forum, general_reply).unwrap();
    assert_eq!(
        (stored.thread_id, stored.is_topic_message),
        (Some(general), false)
    );
    let updates = drain(&fake, &mut offset).await;
    let question_json = &updates[0]["message"];
    assert_eq!(question_json["reply_to_message"]["message_id"], json!(t));
    assert_eq!(question_json["is_topic_message"], json!(true));
    for thread in [999, 1] {
        let (_, d) = err(
            &fake,
            "sendMessage",
            json!({"chat_id": forum, "text": "x", "message_thread_id": thread}),
        )
        .await;
        assert_eq!(d, "Bad Request: message thread not found");
    }
    let plain = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": forum, "text": "x", "message_thread_id": 0}),
    )
    .await;
    assert!(plain.get("message_thread_id").is_none());

    // Edit, close and reopen, each with its service message in the topic.
    let edit = json!({"chat_id": forum, "message_thread_id": t, "name": "Ticket #1 [closed]"});
    assert_eq!(ok(&fake, "editForumTopic", edit.clone()).await, json!(true));
    let (_, d) = err(&fake, "editForumTopic", edit).await;
    assert_eq!(d, "Bad Request: TOPIC_NOT_MODIFIED");
    ok(
        &fake,
        "editForumTopic",
        json!({"chat_id": forum, "message_thread_id": t}),
    )
    .await;
    let toggle = json!({"chat_id": forum, "message_thread_id": t});
    ok(&fake, "closeForumTopic", toggle.clone()).await;
    let (_, d) = err(&fake, "closeForumTopic", toggle.clone()).await;
    assert_eq!(d, "Bad Request: TOPIC_NOT_MODIFIED");
    assert_eq!(
        fake.topics(forum)[0],
        FakeTopic {
            id: t,
            name: "Ticket #1 [closed]".into(),
            closed: true,
            icon_color: 7_322_096
        }
    );
    ok(
        &fake,
        "sendMessage",
        json!({"chat_id": forum, "text": "closed, admins may still write", "message_thread_id": t}),
    )
    .await;
    ok(&fake, "reopenForumTopic", toggle.clone()).await;
    let (_, d) = err(&fake, "reopenForumTopic", toggle).await;
    assert_eq!(d, "Bad Request: TOPIC_NOT_MODIFIED");
    assert!(!fake.topics(forum)[0].closed);
    let updates = drain(&fake, &mut offset).await;
    let services: Vec<(&str, &Value)> = updates
        .iter()
        .map(|u| &u["message"])
        .filter_map(|m| {
            [
                "forum_topic_edited",
                "forum_topic_closed",
                "forum_topic_reopened",
            ]
            .into_iter()
            .find(|k| m.get(*k).is_some())
            .map(|k| (k, m))
        })
        .collect();
    assert_eq!(services.len(), 3, "{updates:?}");
    assert_eq!(
        services[0].1["forum_topic_edited"],
        json!({"name": "Ticket #1 [closed]"})
    );
    assert_eq!(services[1].1["forum_topic_closed"], json!({}));
    assert_eq!(services[2].1["forum_topic_reopened"], json!({}));
    for (_, m) in &services {
        assert_eq!(
            (&m["message_thread_id"], &m["is_topic_message"]),
            (&json!(t), &json!(true))
        );
        assert_eq!(m["reply_to_message"]["message_id"], json!(t));
    }

    // Errors.
    let supergroup = fake.add_supergroup("Plain");
    let cases = [
        (
            "createForumTopic",
            json!({"chat_id": supergroup, "name": "x"}),
            "Bad Request: the chat is not a forum",
        ),
        (
            "createForumTopic",
            json!({"chat_id": -5, "name": "x"}),
            "Bad Request: chat not found",
        ),
        (
            "createForumTopic",
            json!({"chat_id": forum, "name": " \n "}),
            "Bad Request: title must be non-empty",
        ),
        (
            "createForumTopic",
            json!({"chat_id": forum, "name": "x", "icon_color": -1}),
            "Bad Request: invalid icon color specified",
        ),
        (
            "closeForumTopic",
            json!({"chat_id": forum, "message_thread_id": 999}),
            "Bad Request: TOPIC_ID_INVALID",
        ),
        (
            "closeForumTopic",
            json!({"chat_id": forum}),
            "Bad Request: invalid message thread identifier specified",
        ),
        (
            "editForumTopic",
            json!({"chat_id": supergroup, "message_thread_id": t, "name": "y"}),
            "Bad Request: the chat is not a forum",
        ),
        (
            "reopenForumTopic",
            json!({"chat_id": forum, "message_thread_id": general}),
            "Bad Request: TOPIC_ID_INVALID",
        ),
    ];
    for (method, params, expected) in cases {
        let (status, d) = err(&fake, method, params).await;
        assert_eq!((status, d.as_str()), (400, expected), "{method}");
    }
    // Outside forums message_thread_id is ignored.
    let sent = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": supergroup, "text": "x", "message_thread_id": t}),
    )
    .await;
    assert!(sent.get("message_thread_id").is_none());
}

#[tokio::test]
async fn creating_a_topic_counts_as_sending() {
    let fake = FakeTelegram::start().await;
    let forum = fake.add_forum("Support");
    for n in 0..3 {
        ok(
            &fake,
            "createForumTopic",
            json!({"chat_id": forum, "name": format!("t{n}")}),
        )
        .await;
    }
    let (status, d) = err(
        &fake,
        "createForumTopic",
        json!({"chat_id": forum, "name": "t3"}),
    )
    .await;
    assert_eq!(status, 429, "{d}");
    let (status, _) = err(&fake, "sendMessage", json!({"chat_id": forum, "text": "x"})).await;
    assert_eq!(status, 429);
    assert_eq!(fake.topics(forum).len(), 3);
}

#[tokio::test]
#[should_panic(expected = "is closed; users cannot post there")]
async fn users_cannot_post_in_closed_topics() {
    let fake = unlimited().await;
    let forum = fake.add_forum("Support");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(forum, ann);
    let topic = ok(
        &fake,
        "createForumTopic",
        json!({"chat_id": forum, "name": "t"}),
    )
    .await;
    let t = id32(&topic["message_thread_id"]);
    ok(
        &fake,
        "closeForumTopic",
        json!({"chat_id": forum, "message_thread_id": t}),
    )
    .await;
    fake.send_in_topic(forum, t, ann, Outgoing::text("x"));
}

#[tokio::test]
async fn basic_group_migrates_to_a_supergroup() {
    let fake = unlimited().await;
    let group = fake.add_group("Clients");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(group, ann);
    let before = fake.send(group, ann, Outgoing::text("before"));
    let mut offset = 0;
    drain(&fake, &mut offset).await;

    let supergroup = fake.migrate_to_supergroup(group);
    assert!(supergroup < -1_001_000_000_000);
    let updates = drain(&fake, &mut offset).await;
    assert_eq!(updates.len(), 2);
    let to = &updates[0]["message"];
    assert_eq!(
        (&to["chat"]["id"], &to["chat"]["type"], &to["from"]["id"]),
        (&json!(group), &json!("group"), &json!(ann))
    );
    assert_eq!(to["migrate_to_chat_id"], json!(supergroup));
    assert_eq!(to["message_id"], json!(before + 1));
    assert!(to.get("text").is_none());
    let from = &updates[1]["message"];
    assert_eq!(
        (
            &from["chat"]["id"],
            &from["chat"]["type"],
            &from["message_id"]
        ),
        (&json!(supergroup), &json!("supergroup"), &json!(1))
    );
    assert_eq!(from["migrate_from_chat_id"], json!(group));
    assert_eq!(from["from"]["username"], json!("GroupAnonymousBot"));
    assert_eq!(from["sender_chat"]["id"], json!(supergroup));
    assert_eq!(
        fake.messages(supergroup)[0].service.as_deref(),
        Some("migrate_from_chat_id")
    );

    // Every write to the old id is refused the same way the injected error is.
    let expected = json!({"ok": false, "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": supergroup}});
    let writes = [
        ("sendMessage", json!({"chat_id": group, "text": "x"})),
        (
            "editMessageText",
            json!({"chat_id": group, "message_id": before, "text": "x"}),
        ),
        (
            "deleteMessage",
            json!({"chat_id": group, "message_id": before}),
        ),
        (
            "pinChatMessage",
            json!({"chat_id": group, "message_id": before}),
        ),
        (
            "sendChatAction",
            json!({"chat_id": group, "action": "typing"}),
        ),
        ("createForumTopic", json!({"chat_id": group, "name": "x"})),
    ];
    for (method, params) in writes {
        let (status, body) = call(&fake, method, params).await;
        assert_eq!((status, &body), (400, &expected), "{method}");
    }
    fake.inject_error(
        "sendMessage",
        1,
        FakeError::MigrateTo {
            chat_id: supergroup,
        },
    );
    let (_, injected) = call(
        &fake,
        "sendMessage",
        json!({"chat_id": supergroup, "text": "x"}),
    )
    .await;
    assert_eq!(injected, expected);
    // Reads still answer for the old chat.
    assert_eq!(
        ok(&fake, "getChat", json!({"chat_id": group})).await["type"],
        json!("group")
    );

    // Members carried over and write in the new chat, whose ids start afresh.
    let after = fake.send(supergroup, ann, Outgoing::text("after"));
    assert_eq!(after, 2);
    let member = ok(
        &fake,
        "getChatMember",
        json!({"chat_id": supergroup, "user_id": ann}),
    )
    .await;
    assert_eq!(member["status"], json!("member"));
    ok(
        &fake,
        "sendMessage",
        json!({"chat_id": supergroup, "text": "hi"}),
    )
    .await;
}

#[tokio::test]
#[should_panic(expected = "was upgraded to supergroup")]
async fn users_write_in_the_new_chat_after_migration() {
    let fake = unlimited().await;
    let group = fake.add_group("Clients");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(group, ann);
    fake.migrate_to_supergroup(group);
    fake.send(group, ann, Outgoing::text("x"));
}

#[tokio::test]
async fn missing_bot_rights_are_reported_and_refused() {
    let fake = unlimited().await;
    let (channel, group, forum) = (
        fake.add_channel("Posts"),
        fake.add_supergroup("Chat"),
        fake.add_forum("Topics"),
    );
    let me = ok(&fake, "getMe", json!({})).await;
    assert_eq!(me["can_read_all_group_messages"], json!(false));
    fake.set_privacy_mode(false);
    let me = ok(&fake, "getMe", json!({})).await;
    assert_eq!(me["can_read_all_group_messages"], json!(true));

    let post = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": channel, "text": "before"}),
    )
    .await;
    let bot = |chat: i64| json!({"chat_id": chat, "user_id": fake.bot_id()});
    fake.set_bot_rights(
        channel,
        BotRights {
            can_post_messages: false,
            can_edit_messages: false,
            ..BotRights::ADMIN
        },
    );
    let rights = ok(&fake, "getChatMember", bot(channel)).await;
    assert_eq!(
        (
            &rights["status"],
            &rights["can_post_messages"],
            &rights["can_edit_messages"]
        ),
        (&json!("administrator"), &json!(false), &json!(false))
    );
    assert_eq!(
        err(
            &fake,
            "sendMessage",
            json!({"chat_id": channel, "text": "after"})
        )
        .await,
        (
            400,
            "Bad Request: need administrator rights in the channel chat".into()
        )
    );
    assert_eq!(
        err(
            &fake,
            "pinChatMessage",
            json!({"chat_id": channel, "message_id": post["message_id"]})
        )
        .await,
        (
            400,
            "Bad Request: not enough rights to pin a message".into()
        )
    );
    fake.set_bot_rights(channel, BotRights::MEMBER);
    assert_eq!(
        ok(&fake, "getChatMember", bot(channel)).await["status"],
        json!("left")
    );
    assert_eq!(
        err(
            &fake,
            "sendMessage",
            json!({"chat_id": channel, "text": "after"})
        )
        .await,
        (
            403,
            "Forbidden: bot is not a member of the channel chat".into()
        )
    );

    fake.set_bot_rights(group, BotRights::MEMBER);
    let member = ok(&fake, "getChatMember", bot(group)).await;
    assert_eq!(member["status"], json!("member"));
    assert_eq!(member.get("can_pin_messages"), None);
    let message = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": "hi"}),
    )
    .await;
    assert_eq!(
        err(
            &fake,
            "pinChatMessage",
            json!({"chat_id": group, "message_id": message["message_id"]})
        )
        .await,
        (
            400,
            "Bad Request: not enough rights to pin a message".into()
        )
    );

    fake.set_bot_rights(
        forum,
        BotRights {
            can_manage_topics: false,
            ..BotRights::ADMIN
        },
    );
    assert_eq!(
        ok(&fake, "getChatMember", bot(forum)).await["can_manage_topics"],
        json!(false)
    );
    assert_eq!(
        err(
            &fake,
            "createForumTopic",
            json!({"chat_id": forum, "name": "Ticket"})
        )
        .await,
        (
            400,
            "Bad Request: not enough rights to create a topic".into()
        )
    );
}

#[tokio::test]
async fn webhook_mode_delivers_in_order_retries_and_refuses_polling() {
    use std::sync::{Arc, Mutex};
    let fake = unlimited().await;
    let group = fake.add_supergroup("Clients");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(group, ann);

    // The bot's endpoint: refuses the first call, then records (secret header, update).
    type Received = Arc<Mutex<Vec<(Option<String>, Value)>>>;
    let received: Received = Arc::default();
    let refused_once = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let app = {
        let received = received.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, axum::Json(update): axum::Json<Value>| {
                    let received = received.clone();
                    let refused_once = refused_once.clone();
                    async move {
                        if !refused_once.swap(true, std::sync::atomic::Ordering::SeqCst) {
                            return axum::http::StatusCode::BAD_GATEWAY;
                        }
                        let secret = headers
                            .get("x-telegram-bot-api-secret-token")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        received.lock().unwrap().push((secret, update));
                        axum::http::StatusCode::OK
                    }
                },
            ),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    assert_eq!(
        err(
            &fake,
            "setWebhook",
            json!({"url": "http://example.com/hook"})
        )
        .await,
        (
            400,
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook".into()
        )
    );
    ok(
        &fake,
        "setWebhook",
        json!({"url": url, "secret_token": "s3cret", "max_connections": 1}),
    )
    .await;
    assert_eq!(
        err(&fake, "getUpdates", json!({})).await,
        (
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first".into()
        )
    );
    fake.send(group, ann, Outgoing::text("first"));
    fake.send(group, ann, Outgoing::text("second"));
    fake.wait_until(Duration::from_secs(10), "both deliveries", |_| {
        (received.lock().unwrap().len() == 2).then_some(())
    })
    .await;
    let received = received.lock().unwrap().clone();
    assert_eq!(received[0].0.as_deref(), Some("s3cret"));
    assert_eq!(received[0].1["message"]["text"], "first");
    assert_eq!(received[1].1["message"]["text"], "second");
    let info = ok(&fake, "getWebhookInfo", json!({})).await;
    assert_eq!(info["url"], json!(url));
    assert_eq!(info["pending_update_count"], 0);
    assert_eq!(
        info["last_error_message"],
        "Wrong response from the webhook: 502 Bad Gateway"
    );

    ok(&fake, "deleteWebhook", json!({})).await;
    fake.send(group, ann, Outgoing::text("third"));
    let updates = ok(&fake, "getUpdates", json!({})).await;
    assert_eq!(updates[0]["message"]["text"], "third");
}

/// Texts and captions are measured in UTF-16 units of the visible text: exactly at the limit is
/// accepted whatever the script, one unit more is refused with Telegram's words.
#[tokio::test]
async fn lengths_at_the_exact_limit_in_every_script() {
    let fake = unlimited().await;
    let group = fake.add_group("Clients");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(group, ann);
    let fits = [
        "😀".repeat(2048),
        "ж".repeat(4096),
        "漢".repeat(4096),
        format!("{}😀", "ж".repeat(4094)),
    ];
    for text in &fits {
        ok(
            &fake,
            "sendMessage",
            json!({"chat_id": group, "text": text}),
        )
        .await;
    }
    for text in [
        "😀".repeat(2048) + "ж",
        "ж".repeat(4097),
        "漢".repeat(4097),
        format!("{}😀", "ж".repeat(4095)),
    ] {
        let (status, d) = err(
            &fake,
            "sendMessage",
            json!({"chat_id": group, "text": text}),
        )
        .await;
        assert_eq!(
            (status, d.as_str()),
            (400, "Bad Request: message is too long")
        );
    }
    // Entities cost one unit, tags nothing; surrounding whitespace is trimmed before counting.
    let html = format!("<i>{}</i>&amp;", "ж".repeat(4095));
    ok(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": html, "parse_mode": "HTML"}),
    )
    .await;
    let padded = format!("\n  {}  \n", "ж".repeat(4096));
    ok(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": padded}),
    )
    .await;
    // Edits are held to the same limit.
    let sent = ok(&fake, "sendMessage", json!({"chat_id": group, "text": "x"})).await;
    let (_, d) = err(
        &fake,
        "editMessageText",
        json!({"chat_id": group, "message_id": sent["message_id"], "text": "ж".repeat(4097)}),
    )
    .await;
    assert_eq!(d, "Bad Request: message is too long");

    // Captions: 0 to 1024 units.
    let photo = fake.send(group, ann, Outgoing::photo(vec![0xFF, 0xD8, 1], None));
    let file_id = fake.message(group, photo).unwrap().media[0].file_id.clone();
    for caption in ["", "😀😀".repeat(256).as_str(), &"漢".repeat(1024)] {
        ok(
            &fake,
            "sendPhoto",
            json!({"chat_id": group, "photo": file_id, "caption": caption}),
        )
        .await;
    }
    for caption in ["😀".repeat(512) + "ж", "ж".repeat(1025)] {
        let (_, d) = err(
            &fake,
            "sendPhoto",
            json!({"chat_id": group, "photo": file_id, "caption": caption}),
        )
        .await;
        assert_eq!(d, "Bad Request: message caption is too long");
    }
}

/// `message_thread_id` counts only where topics exist: refused when it names no topic in a forum
/// or a private chat, ignored in groups, channels and plain supergroups.
#[tokio::test]
async fn message_thread_id_only_where_topics_exist() {
    let fake = unlimited().await;
    let group = fake.add_group("Clients");
    let supergroup = fake.add_supergroup("Clients+");
    let channel = fake.add_channel("News");
    for chat in [group, supergroup, channel] {
        let sent = ok(
            &fake,
            "sendMessage",
            json!({"chat_id": chat, "text": "x", "message_thread_id": 42}),
        )
        .await;
        assert!(sent.get("message_thread_id").is_none(), "{sent}");
    }
    let ann = fake.add_user("Ann", None, None);
    fake.set_can_dm(ann, true);
    let (_, d) = err(
        &fake,
        "sendMessage",
        json!({"chat_id": ann, "text": "x", "message_thread_id": 42}),
    )
    .await;
    assert_eq!(d, "Bad Request: message thread not found");
}

/// A deleted topic takes its messages with it: sends into it fail with `message thread not
/// found` (before any check of the message replied to), topic methods with `TOPIC_ID_INVALID`.
#[tokio::test]
async fn deleted_topics_and_messages() {
    let fake = unlimited().await;
    let forum = fake.add_forum("Support");
    let topic = ok(
        &fake,
        "createForumTopic",
        json!({"chat_id": forum, "name": "Ticket #1"}),
    )
    .await;
    let t = topic["message_thread_id"].as_i64().unwrap();
    let card = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": forum, "text": "card", "message_thread_id": t}),
    )
    .await;
    let card_id = card["message_id"].as_i64().unwrap();
    let outside = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": forum, "text": "general"}),
    )
    .await;
    fake.delete_topic(forum, t as i32);
    assert!(fake.topics(forum).is_empty());
    assert!(
        fake.message(forum, card_id as i32).is_none(),
        "gone with its topic"
    );
    assert!(fake.message(forum, id32(&outside["message_id"])).is_some());
    let (_, d) = err(
        &fake,
        "sendMessage",
        json!({"chat_id": forum, "text": "x", "message_thread_id": t,
               "reply_parameters": {"message_id": card_id}}),
    )
    .await;
    assert_eq!(d, "Bad Request: message thread not found");
    let (_, d) = err(
        &fake,
        "closeForumTopic",
        json!({"chat_id": forum, "message_thread_id": t}),
    )
    .await;
    assert_eq!(d, "Bad Request: TOPIC_ID_INVALID");
    // Without the topic, a quote of a deleted message is dropped only when allowed.
    let (_, d) = err(
        &fake,
        "sendMessage",
        json!({"chat_id": forum, "text": "x", "reply_parameters": {"message_id": card_id}}),
    )
    .await;
    assert_eq!(d, "Bad Request: message to be replied not found");
    let sent = ok(
        &fake,
        "sendMessage",
        json!({"chat_id": forum, "text": "x",
               "reply_parameters": {"message_id": card_id, "allow_sending_without_reply": true}}),
    )
    .await;
    assert!(sent.get("reply_to_message").is_none());

    fake.delete_message(forum, id32(&outside["message_id"]));
    assert!(fake.message(forum, id32(&outside["message_id"])).is_none());
    let (_, d) = err(
        &fake,
        "editMessageText",
        json!({"chat_id": forum, "message_id": outside["message_id"], "text": "y"}),
    )
    .await;
    assert_eq!(d, "Bad Request: message to edit not found");
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// A JSON call through reqwest, as the daemon makes it; `Err` when no complete answer came.
async fn call_over_reqwest(
    fake: &FakeTelegram,
    method: &str,
    params: Value,
    timeout: Duration,
) -> Result<Value, reqwest::Error> {
    let url = format!("{}/bot{}/{method}", fake.api_url(), fake.token());
    let client = reqwest::Client::builder().timeout(timeout).build()?;
    let response = client.post(url).json(&params).send().await?;
    response.json().await
}

#[tokio::test]
async fn errors_injected_at_the_nth_call_of_a_chat() {
    let fake = unlimited().await;
    let group = fake.add_supergroup("Clients");
    let other = fake.add_supergroup("Others");
    fake.inject_error_at(
        "sendMessage",
        group,
        2,
        FakeError::TooManyRequests { retry_after: 7 },
    );
    // Calls to another chat do not count.
    ok(&fake, "sendMessage", json!({"chat_id": other, "text": "o"})).await;
    ok(&fake, "sendMessage", json!({"chat_id": group, "text": "1"})).await;
    let (status, description) =
        err(&fake, "sendMessage", json!({"chat_id": group, "text": "2"})).await;
    assert_eq!(
        (status, description.as_str()),
        (429, "Too Many Requests: retry after 7")
    );
    ok(&fake, "sendMessage", json!({"chat_id": group, "text": "2"})).await;
    let texts: Vec<String> = fake.messages(group).into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["1", "2"], "the refused call executed nothing");

    // A broken connection: no answer, nothing sent, recorded with status 0.
    fake.inject_error_at("sendMessage", group, 1, FakeError::Disconnect);
    let params = json!({"chat_id": group, "text": "3"});
    let broken = call_over_reqwest(&fake, "sendMessage", params.clone(), TIMEOUT).await;
    assert!(broken.is_err(), "no complete answer: {broken:?}");
    assert_eq!(fake.messages(group).len(), 2);
    let sent = call_over_reqwest(&fake, "sendMessage", params, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(sent["ok"], json!(true));

    // A stalled call: never answered, nothing sent, visible as soon as it stalls.
    fake.inject_error_at("sendMessage", group, 1, FakeError::Stall);
    let params = json!({"chat_id": group, "text": "4"});
    let stalled = call_over_reqwest(
        &fake,
        "sendMessage",
        params.clone(),
        Duration::from_millis(300),
    )
    .await;
    assert!(stalled.is_err_and(|e| e.is_timeout()));
    assert_eq!(fake.messages(group).len(), 3);
    let statuses: Vec<u16> = fake
        .calls()
        .iter()
        .filter(|c| c.method == "sendMessage" && c.params["chat_id"] == json!(group))
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, [200, 429, 200, 0, 200, 0]);
    let texts: Vec<String> = fake.messages(group).into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["1", "2", "3"]);

    // A lost answer: the client sees a broken connection, but the message was sent.
    fake.inject_error_at("sendMessage", group, 1, FakeError::LostAnswer);
    let lost = call_over_reqwest(
        &fake,
        "sendMessage",
        json!({"chat_id": group, "text": "5"}),
        TIMEOUT,
    )
    .await;
    assert!(lost.is_err(), "no complete answer: {lost:?}");
    let texts: Vec<String> = fake.messages(group).into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["1", "2", "3", "5"]);
    assert_eq!(fake.calls().last().map(|c| c.status), Some(0));

    // A held answer: executed at once, answered on release.
    fake.inject_error_at("sendMessage", group, 1, FakeError::HeldAnswer);
    let waiting = tokio::spawn({
        let fake = fake.clone();
        async move {
            call_over_reqwest(
                &fake,
                "sendMessage",
                json!({"chat_id": group, "text": "6"}),
                TIMEOUT,
            )
            .await
        }
    });
    fake.wait_until(TIMEOUT, "the held message sent", |f| {
        f.messages(group)
            .iter()
            .any(|m| m.text == "6")
            .then_some(())
    })
    .await;
    assert!(!waiting.is_finished(), "the answer waits for the release");
    fake.release_answers();
    let answer = waiting.await.unwrap().unwrap();
    assert_eq!(answer["result"]["text"], json!("6"));
}

#[tokio::test]
async fn large_bot_uploads_keep_their_digest_and_generated_files_download_their_pattern() {
    use crate::blob::{KEEP_UPLOAD_BYTES, Pattern};
    let fake = unlimited().await;
    let group = fake.add_group("Clients");
    let ann = fake.add_user("Ann", None, None);
    fake.add_member(group, ann);

    // A user's generated document downloads as its pattern, byte for byte.
    let pattern = Pattern::new(9, 1024 * 1024 + 3);
    let sent = fake.send(
        group,
        ann,
        Outgoing::generated_document("scan.bin", "application/octet-stream", pattern, None),
    );
    let media = fake.message(group, sent).unwrap().media[0].clone();
    assert_eq!(media.size as u64, pattern.len);
    let file = ok(&fake, "getFile", json!({"file_id": media.file_id})).await;
    let path = format!(
        "/file/bot{}/{}",
        fake.token(),
        file["file_path"].as_str().unwrap()
    );
    let reply = raw(&fake, "GET", &path, "text/plain", b"").await;
    assert_eq!(reply.status, 200);
    assert!(reply.body == pattern.to_vec(), "the generated bytes");

    // The bot uploads one file just over the kept size and one under it.
    let url = format!("{}/bot{}/sendDocument", fake.api_url(), fake.token());
    let mut ids = Vec::new();
    for len in [KEEP_UPLOAD_BYTES + 1, 10] {
        let bytes = Pattern::new(len as u64, len as u64).to_vec();
        let form = reqwest::multipart::Form::new()
            .text("chat_id", group.to_string())
            .part(
                "document",
                reqwest::multipart::Part::bytes(bytes).file_name("out.bin"),
            );
        let answer: Value = reqwest::Client::new()
            .post(&url)
            .multipart(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["ok"], json!(true), "{answer}");
        ids.push(
            answer["result"]["document"]["file_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let large = Pattern::new(KEEP_UPLOAD_BYTES as u64 + 1, KEEP_UPLOAD_BYTES as u64 + 1);
    assert_eq!(fake.file_bytes(&ids[0]), None, "only the digest is kept");
    assert_eq!(fake.file_sha256(&ids[0]), Some(large.sha256_hex()));
    assert_eq!(
        fake.file_bytes(&ids[1]),
        Some(Pattern::new(10, 10).to_vec())
    );
    let file = ok(&fake, "getFile", json!({"file_id": ids[0]})).await;
    let path = format!(
        "/file/bot{}/{}",
        fake.token(),
        file["file_path"].as_str().unwrap()
    );
    let reply = raw(&fake, "GET", &path, "text/plain", b"").await;
    assert_eq!(reply.status, 500, "a digest cannot be served");
}
