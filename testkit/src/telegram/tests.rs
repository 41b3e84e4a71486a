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
