//! What clients who do not play nice cannot make the daemon do: the real daemon against the
//! testkit's fake Telegram and fake Kaiten, counting what reaches Telegram.

use reqwest::StatusCode;
use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk::telegram::chat_token;
use teledesk_adapter::Secret;
use teledesk_testkit::telegram::{FakeTelegram, Outgoing};

const WAIT: Duration = Duration::from_secs(60);

/// `getChatMember` calls the bot made about `user` (any user when `None`).
fn member_lookups(tg: &FakeTelegram, user: Option<i64>) -> usize {
    tg.calls()
        .iter()
        .filter(|c| c.method.eq_ignore_ascii_case("getChatMember"))
        .filter(|c| user.is_none_or(|u| c.params["user_id"].as_i64() == Some(u)))
        .count()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_member_typing_new_again_and_again_costs_one_lookup_per_chat() {
    let stage = Stage::new(2, "ru", "1s").await;
    let tg = &stage.telegram;
    let daemon = stage.start(Options::default()).await;
    let eve = tg.add_user("Ева", None, Some("eve_outsider"));
    tg.set_can_dm(eve, true);
    const FLOOD: usize = 10;
    for _ in 0..FLOOD {
        tg.send(eve, eve, Outgoing::text("/new"));
    }
    tg.wait_until(WAIT, "an answer to every /new", |t| {
        (t.messages(eve).iter().filter(|m| m.from_bot).count() == FLOOD).then_some(())
    })
    .await;
    assert!(
        tg.messages(eve)
            .iter()
            .filter(|m| m.from_bot)
            .all(|m| m.text.contains("не состоите")),
        "each is told they are in no client chat"
    );
    // Each "no" is remembered for a minute: one lookup per configured chat, not one per message.
    assert_eq!(member_lookups(tg, Some(eve)), 2);
    daemon.shutdown().await;
}

struct App {
    base: String,
    http: reqwest::Client,
}

impl App {
    async fn session(&self, init_data: &str) -> (StatusCode, Option<String>, serde_json::Value) {
        let response = self
            .http
            .get(format!("{}/api/app/session", self.base))
            .header("Authorization", format!("tma {init_data}"))
            .send()
            .await
            .expect("the daemon answers");
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.json().await.unwrap_or_default();
        (status, retry_after, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_members_opening_the_mini_app_cannot_drive_unlimited_member_lookups() {
    let stage = Stage::new(1, "en", "1s").await;
    let tg = &stage.telegram;
    let daemon = stage.start(Options::default()).await;
    let app = App {
        base: format!("http://{}", daemon.http_addr().unwrap()),
        http: reqwest::Client::new(),
    };
    let token = chat_token::sign(&Secret::new(tg.token()), stage.group());
    let member = tg.mini_app_init_data(stage.client, &token, now());
    assert_eq!(app.session(&member).await.0, StatusCode::OK);

    // One outsider, again and again: one lookup, then the remembered "no".
    let eve = tg.add_user("Eve", None, None);
    let init = tg.mini_app_init_data(eve, &token, now());
    for _ in 0..30 {
        let (status, _, body) = app.session(&init).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"], "not_a_member");
    }
    assert_eq!(member_lookups(tg, Some(eve)), 1);

    // Many outsiders at once (a script with many accounts): the chat's lookups are limited, and
    // those past the limit are asked to come back later instead of costing a call each.
    let before = member_lookups(tg, None);
    let (mut refused, mut later) = (0, 0);
    for n in 0..150 {
        let user = tg.add_user(&format!("Bot {n}"), None, None);
        let init = tg.mini_app_init_data(user, &token, now());
        match app.session(&init).await {
            (StatusCode::FORBIDDEN, _, _) => refused += 1,
            (StatusCode::TOO_MANY_REQUESTS, Some(retry_after), body) => {
                assert_eq!(body["error"], "too_many_requests", "{body}");
                assert!(retry_after.parse::<u64>().is_ok_and(|s| s >= 1));
                later += 1;
            }
            other => panic!("unexpected answer: {other:?}"),
        }
    }
    let lookups = member_lookups(tg, None) - before;
    assert_eq!(
        lookups, refused,
        "a lookup for each user refused, none for the others"
    );
    assert!(later > 0, "the flood meets the per-chat limit");
    // The burst of 60 and one a second while the requests came in.
    assert!(lookups < 100, "{lookups} lookups for 150 outsiders");
    // A member confirmed before the flood is still served, from memory.
    assert_eq!(app.session(&member).await.0, StatusCode::OK);
    assert_eq!(member_lookups(tg, Some(stage.client)), 1);
    daemon.shutdown().await;
}
