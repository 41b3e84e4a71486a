//! What clients who do not play nice cannot make the daemon do: the real daemon against the
//! testkit's fake Telegram and fake Kaiten, counting what reaches Telegram.

use reqwest::StatusCode;
use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk::http::HttpLimits;
use teledesk::telegram::chat_token;
use teledesk_adapter::Secret;
use teledesk_testkit::telegram::{FakeTelegram, Outgoing};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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

/// What became of a connection a test is done writing to (or still writing to).
#[derive(Debug, PartialEq)]
enum Seen {
    /// The server answered; the head of its answer, lowercased.
    Answered(String),
    /// The server closed the connection without answering.
    Closed,
    /// Nothing yet.
    Open,
}

/// Reads what the server sent on `stream` within `within`.
async fn seen(stream: &mut TcpStream, within: Duration) -> Seen {
    let mut answer = Vec::new();
    let mut buf = [0; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) if answer.is_empty() => return Seen::Open,
            Err(_) => break,
            Ok(Ok(0)) | Ok(Err(_)) if answer.is_empty() => return Seen::Closed,
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let head = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(answer.len(), |end| end);
    Seen::Answered(String::from_utf8_lossy(&answer[..head]).to_lowercase())
}

/// Writes `bytes` one at a time, `pause` apart, until done or the server stops taking them;
/// returns how many went out.
async fn trickle(stream: &mut TcpStream, bytes: &[u8], pause: Duration) -> usize {
    for (sent, byte) in bytes.iter().enumerate() {
        if stream.write_all(&[*byte]).await.is_err() {
            return sent;
        }
        tokio::time::sleep(pause).await;
        // A closed or answered connection ends the trickle.
        let mut probe = [0; 1];
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::ZERO, stream.peek(&mut probe)).await {
            return sent + 1;
        }
    }
    bytes.len()
}

fn tight(limits: HttpLimits) -> Options {
    Options {
        http: limits,
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let stage = Stage::new(1, "en", "1s").await;
    let daemon = stage
        .start(tight(HttpLimits {
            header_timeout: Duration::from_secs(1),
            body_idle_timeout: Duration::from_secs(1),
            min_body_rate: 1000,
            request_timeout: Duration::from_secs(3),
            ..HttpLimits::default()
        }))
        .await;
    let addr = daemon.http_addr().unwrap();

    // Headers a byte every 100 ms: 30 s worth, cut off after the header timeout.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET /app/ HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(300)
    );
    let started = std::time::Instant::now();
    let sent = trickle(&mut stream, head.as_bytes(), Duration::from_millis(100)).await;
    assert!(sent < head.len(), "the whole slow header went through");
    assert_ne!(seen(&mut stream, WAIT).await, Seen::Open);
    assert!(started.elapsed() < WAIT);

    // A body a byte every 200 ms to a webhook: cut off (answered or closed), not read for ever.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /hooks/main HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100000\r\n\r\n{",
        )
        .await
        .unwrap();
    let sent = trickle(&mut stream, &[b' '; 1000], Duration::from_millis(200)).await;
    assert!(sent < 1000, "the slow body went through");
    match seen(&mut stream, WAIT).await {
        Seen::Answered(head) => assert!(head.starts_with("http/1.1 4"), "{head}"),
        Seen::Closed => {}
        Seen::Open => panic!("the slow body's connection is still open"),
    }

    // A body fast enough to pass the rate check, but longer than a request may take.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /hooks/main HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 900000\r\n\r\n{",
        )
        .await
        .unwrap();
    let mut answer = Seen::Open;
    for _ in 0..100 {
        if stream.write_all(&[b' '; 2000]).await.is_err() {
            break;
        }
        answer = seen(&mut stream, Duration::from_millis(100)).await;
        if answer != Seen::Open {
            break;
        }
    }
    match answer {
        Seen::Answered(head) => assert!(head.starts_with("http/1.1 408"), "{head}"),
        other => panic!("expected 408 Request Timeout, got {other:?}"),
    }
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_wait_for_one_to_end() {
    let stage = Stage::new(1, "en", "1s").await;
    let daemon = stage
        .start(tight(HttpLimits {
            max_connections: 2,
            header_timeout: Duration::from_secs(60),
            ..HttpLimits::default()
        }))
        .await;
    let addr = daemon.http_addr().unwrap();
    let request = b"GET /app/ HTTP/1.1\r\nHost: x\r\n\r\n";
    // Two connections that send nothing hold both slots.
    let idle = TcpStream::connect(addr).await.unwrap();
    let other = TcpStream::connect(addr).await.unwrap();
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(request).await.unwrap();
    assert_eq!(
        seen(&mut third, Duration::from_millis(500)).await,
        Seen::Open
    );
    // One ends: the third is served.
    drop(idle);
    match seen(&mut third, WAIT).await {
        Seen::Answered(head) => assert!(head.starts_with("http/1.1 200"), "{head}"),
        other => panic!("the waiting connection was not served: {other:?}"),
    }
    drop(other);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_webhook_body_is_refused_with_413() {
    let stage = Stage::new(1, "en", "1s").await;
    let daemon = stage.start(Options::default()).await;
    let base = format!("http://{}", daemon.http_addr().unwrap());
    let http = reqwest::Client::new();
    // A server that refuses a body before it has all of it answers and closes; a client still
    // sending may see the connection end instead of the answer (hyper's IncompleteMessage). That
    // is a refusal too, but the hook's 413 must be seen, so it is asked until it is.
    let post = |path: &'static str, size: usize| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.post(format!("{base}{path}"))
                .header("Content-Type", "application/json")
                .body(vec![b' '; size])
                .send()
                .await
        }
    };
    for (path, size) in [
        // Any route but the hooks takes a few KB at most.
        ("/api/app/session", 64 * 1024),
        ("/nowhere", 64 * 1024),
    ] {
        match post(path, size).await {
            Ok(response) => assert!(response.status().is_client_error(), "{path}"),
            Err(error) => assert!(error.is_request() && !error.is_timeout(), "{path}: {error}"),
        }
    }
    let mut seen_413 = false;
    for _ in 0..20 {
        if let Ok(response) = post("/hooks/main", 2 * 1024 * 1024).await {
            assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
            seen_413 = true;
            break;
        }
    }
    assert!(seen_413, "an oversized webhook body is answered 413");
    daemon.shutdown().await;
}
