//! The Mini App end to end: the real daemon serving its page and API on loopback, the fake
//! Telegram signing launch data as Telegram does, the fake Kaiten taking the tickets. The HTTP
//! tests drive the API the page calls; the browser test drives the real page in headless
//! Chromium (Debian's `chromium`, Playwright from `tests/browser`), which `.ci/run` installs.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use teledesk::daemon::{Daemon, Options};
use teledesk::demo::Stage;
use teledesk::telegram::chat_token;
use teledesk_adapter::Secret;
use teledesk_testkit::kaiten::FakeKaiten;
use teledesk_testkit::telegram::ChatMessage;
use teledesk_testkit::telegram::mini_app::{Theme, launch_fragment, sign_init_data};

const WAIT: Duration = Duration::from_secs(60);
const COMPANIES: &str = r#"["Acme Moscow", "Acme Kazan"]"#;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A channel-mode stage whose chat lists two companies, with the daemon (and its HTTP server on
/// a free port) running.
async fn start() -> (Stage, Daemon, Api) {
    start_with(Options::default()).await
}

async fn start_with(options: Options) -> (Stage, Daemon, Api) {
    start_configured(options, |_| String::new()).await
}

/// [`start_with`], with what `extra` makes of the stage appended to the config (the chat's
/// table is its last).
async fn start_configured(
    options: Options,
    extra: impl FnOnce(&Stage) -> String,
) -> (Stage, Daemon, Api) {
    let stage = Stage::channel("ru", "1s").await;
    stage.set_chat_option("companies", COMPANIES);
    let extra = extra(&stage);
    if !extra.is_empty() {
        let mut text = std::fs::read_to_string(&stage.config_path).expect("config");
        text.push_str(&extra);
        std::fs::write(&stage.config_path, text).expect("config");
    }
    let daemon = stage.start(options).await;
    let addr = daemon.http_addr().expect("the stage config has [server]");
    let api = Api {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    };
    (stage, daemon, api)
}

fn channel(stage: &Stage) -> i64 {
    stage.channel.expect("a channel stage")
}

/// The `startapp` token `teledesk pin` puts in the pinned post's link for `chat_id`.
fn start_token(stage: &Stage, chat_id: i64) -> String {
    chat_token::sign(&Secret::new(stage.telegram.token()), chat_id)
}

/// Launch data for the client, opened from the channel's pinned post now.
fn launch(stage: &Stage) -> String {
    stage
        .telegram
        .mini_app_init_data(stage.client, &start_token(stage, channel(stage)), now())
}

/// The same launch with its signature broken.
fn forged(init_data: &str) -> String {
    let at = init_data.find("hash=").expect("a hash") + "hash=".len();
    let mut forged = init_data.to_owned();
    let flipped = if &forged[at..at + 1] == "0" { "1" } else { "0" };
    forged.replace_range(at..at + 1, flipped);
    forged
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn get(&self, init_data: &str, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("tma {init_data}"))
            .send()
            .await
            .expect("the daemon answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn submit(&self, init_data: &str, form: Form) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/api/app/tickets", self.base))
            .header("Authorization", format!("tma {init_data}"))
            .multipart(form)
            .send()
            .await
            .expect("the daemon answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Starts a submission as the page does — naming its id in a header — announcing a large
    /// body but sending only its first bytes, and returns the answer's head: what the server
    /// decides before reading a body.
    async fn submit_without_body(&self, init_data: &str, id: &str) -> String {
        use tokio::io::AsyncReadExt;
        let mut stream = self.start_upload(init_data, id).await;
        let mut answer = Vec::new();
        let mut buf = [0; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
                .await
                .expect("an answer without the body")
                .unwrap();
            assert!(n > 0, "the connection closed without an answer");
            answer.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&answer).to_lowercase()
    }

    /// Starts a submission's upload and leaves it hanging: headers and the body's first bytes.
    async fn start_upload(&self, init_data: &str, id: &str) -> tokio::net::TcpStream {
        use tokio::io::AsyncWriteExt;
        let addr = self.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /api/app/tickets HTTP/1.1\r\nHost: {addr}\r\nAuthorization: tma {init_data}\r\n\
             X-Submission-Id: {id}\r\nContent-Type: multipart/form-data; boundary=x\r\n\
             Content-Length: 10000000\r\n\r\n--x\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream
    }

    /// Polls the submission until its post is in the chat, as the page does.
    async fn wait_posted(&self, init_data: &str, id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (status, body) = self
                .get(init_data, &format!("/api/app/submissions/{id}"))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if body["state"] == "posted" {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "submission {id} never got posted: {body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn list(&self, init_data: &str, query: &str) -> Vec<Value> {
        let (status, body) = self
            .get(init_data, &format!("/api/app/tickets?{query}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["tickets"].as_array().cloned().unwrap_or_default()
    }
}

fn form(id: &str, company: &str, subject: &str, description: &str) -> Form {
    Form::new()
        .text("submission_id", id.to_owned())
        .text("company", company.to_owned())
        .text("subject", subject.to_owned())
        .text("description", description.to_owned())
}

fn file(name: &str, content_type: &str, bytes: Vec<u8>) -> Part {
    Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(content_type)
        .expect("a valid MIME type")
}

/// Files a ticket through the API, with `extra` form fields (the chat's intake: `category`,
/// `field.<id>`), and waits for its post; returns its number and the Kaiten card.
async fn file_ticket(
    stage: &Stage,
    api: &Api,
    id: &str,
    subject: &str,
    extra: &[(&str, &str)],
) -> (String, i64) {
    let init = launch(stage);
    let mut form = form(id, "Acme Moscow", subject, "описание");
    for (name, value) in extra {
        form = form.text(name.to_string(), value.to_string());
    }
    let (status, body) = api.submit(&init, form).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let posted = api.wait_posted(&init, id).await;
    let number = posted["ticket"]["number"]
        .as_str()
        .expect("a number")
        .to_owned();
    (
        number.clone(),
        number.parse().expect("Kaiten numbers are card ids"),
    )
}

/// The ticket's post in the channel, checked to be where the page's «Открыть заявку» leads.
async fn posted_in_channel(stage: &Stage, number: &str, url: &Value) -> ChatMessage {
    let channel = channel(stage);
    let post = stage
        .telegram
        .wait_until(WAIT, "the ticket post in the channel", |t| {
            t.messages(channel)
                .into_iter()
                .find(|m| m.text.contains(&format!("#{number}")))
        })
        .await;
    let internal = channel.to_string().trim_start_matches("-100").to_owned();
    assert_eq!(
        *url,
        format!("https://t.me/c/{internal}/{}", post.message_id)
    );
    post
}

/// Waits until the daemon has seen staff close every open ticket of the chat.
async fn wait_none_open(api: &Api, init_data: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !api.list(init_data, "scope=open").await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ticket never closed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_files_one_ticket_per_submission_with_its_files() {
    let (stage, daemon, api) = start().await;
    let init = launch(&stage);

    let page = api
        .http
        .get(format!("{}/app/", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(page.text().await.unwrap().contains("app.js"));

    let (status, health) = api.get("", "/healthz").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["queues"]["dead"], 0);

    let (status, session) = api.get(&init, "/api/app/session").await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["language"], "ru");
    assert_eq!(session["chat"]["title"], "Acme");
    assert_eq!(session["chat"]["mode"], "channel");
    assert_eq!(session["companies"][1], "Acme Kazan");
    assert_eq!(session["notifications"], "ask");
    assert_eq!(session["limits"]["max_files"], 10);

    // A double tap: the same form twice, one ticket.
    let id = "5f0c1e2a-7b3d-4c8e-9a10-000000000001";
    let png = std::fs::read(fixture("printer-error.png")).unwrap();
    let submit = || {
        form(
            id,
            "Acme Kazan",
            "Не печатает принтер в бухгалтерии",
            "Горит ошибка E-21, фото приложила.",
        )
        .part("files", file("ошибка.png", "image/png", png.clone()))
    };
    let (first, second) = tokio::join!(api.submit(&init, submit()), api.submit(&init, submit()));
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::ACCEPTED],
        "{first:?} {second:?}"
    );
    let (status, again) = api.submit(&init, submit()).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["submission_id"], id);

    let posted = api.wait_posted(&init, id).await;
    let number = posted["ticket"]["number"].as_str().unwrap().to_owned();
    let cards: Vec<_> = stage
        .kaiten
        .cards()
        .into_iter()
        .filter(|c| c.title.contains("Не печатает принтер"))
        .collect();
    assert_eq!(cards.len(), 1, "one ticket for one form");
    let card = &cards[0];
    assert_eq!(card.id.to_string(), number);
    assert_eq!(
        card.external_id.as_deref(),
        Some(format!("tg-app:{}:{id}", stage.client).as_str())
    );
    assert!(
        card.description.contains("Горит ошибка E-21"),
        "{}",
        card.description
    );
    assert!(
        card.description.contains("Acme Kazan"),
        "{}",
        card.description
    );
    assert!(
        card.description.contains("Анна Смирнова"),
        "{}",
        card.description
    );
    let files = stage.kaiten.files(card.id);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].name, "ошибка.png");
    assert_eq!(files[0].content_type, "image/png");
    assert_eq!(files[0].bytes, png);

    let post = posted_in_channel(&stage, &number, &posted["ticket"]["url"]).await;
    assert!(post.text.contains("Не печатает принтер"), "{}", post.text);

    // The lists: open now, struck through in «Последние» once staff close it.
    let open = api.list(&init, "scope=open").await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["number"], number.as_str());
    assert_eq!(open[0]["done"], false);
    assert_eq!(open[0]["author"], "Анна Смирнова");
    stage
        .kaiten
        .move_to_column(card.id, FakeKaiten::COLUMN_DONE);
    wait_none_open(&api, &init).await;
    let last = api.list(&init, "scope=last&limit=20").await;
    assert_eq!(last.len(), 1);
    assert_eq!(last[0]["done"], true);
    assert_eq!(last[0]["status_label"], "Закрыта");
    // The search box: words, a state and an order.
    let found = api
        .list(
            &init,
            "q=%D0%BF%D1%80%D0%B8%D0%BD%D1%82%D0%B5%D1%80&filter=closed",
        )
        .await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["number"], number.as_str());
    assert!(api.list(&init, "q=printer").await.is_empty());
    assert!(
        api.list(&init, "filter=open&sort=activity")
            .await
            .is_empty()
    );
    let (status, _) = api.get(&init, "/api/app/tickets?filter=done").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The list shows the helpdesk's priority once staff set one (Kaiten: the ASAP flag).
    assert_eq!(found[0]["priority"], Value::Null);
    stage.kaiten.set_asap(card.id, true);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let listed = api.list(&init, "filter=all").await;
        if listed.first().map(|t| &t["priority"]) == Some(&Value::from("ASAP")) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no priority shown: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_stale_and_foreign_launches_are_refused() {
    let (stage, daemon, api) = start().await;
    let tg = &stage.telegram;
    let token = start_token(&stage, channel(&stage));
    let refused = |status: StatusCode, code: &str, (got, body): (StatusCode, Value)| {
        assert_eq!(got, status, "{code}: {body}");
        assert_eq!(body["error"], code, "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    };

    let valid = launch(&stage);
    refused(
        StatusCode::UNAUTHORIZED,
        "init_data_invalid",
        api.get(&forged(&valid), "/api/app/session").await,
    );
    let other_bot = sign_init_data(
        "42:another-bot",
        &[
            (
                "user",
                format!(r#"{{"id":{},"first_name":"Анна"}}"#, stage.client),
            ),
            ("start_param", token.clone()),
            ("auth_date", now().to_string()),
        ],
    );
    refused(
        StatusCode::UNAUTHORIZED,
        "init_data_invalid",
        api.get(&other_bot, "/api/app/session").await,
    );
    let stale = tg.mini_app_init_data(stage.client, &token, now() - 2 * 3600);
    refused(
        StatusCode::UNAUTHORIZED,
        "init_data_expired",
        api.get(&stale, "/api/app/session").await,
    );
    refused(
        StatusCode::UNAUTHORIZED,
        "init_data_missing",
        api.get("", "/api/app/session").await,
    );
    // A signed token for a chat teledesk does not serve, and one for the channel's discussion
    // group (a configured chat, but not where tickets are filed).
    let unserved = tg.mini_app_init_data(stage.client, &start_token(&stage, -1009999), now());
    refused(
        StatusCode::FORBIDDEN,
        "chat_not_served",
        api.get(&unserved, "/api/app/session").await,
    );
    let discussion =
        tg.mini_app_init_data(stage.client, &start_token(&stage, stage.group()), now());
    refused(
        StatusCode::FORBIDDEN,
        "chat_not_served",
        api.get(&discussion, "/api/app/session").await,
    );
    // The channel's id with a tag made up by the client.
    let made_up = format!("n{}_0011223344556677", -channel(&stage));
    let made_up = tg.mini_app_init_data(stage.client, &made_up, now());
    refused(
        StatusCode::FORBIDDEN,
        "chat_token_invalid",
        api.get(&made_up, "/api/app/session").await,
    );
    // Someone who found the link but is not in the channel.
    let stranger = tg.add_user("Eve", None, Some("eve"));
    let outsider = tg.mini_app_init_data(stranger, &token, now());
    refused(
        StatusCode::FORBIDDEN,
        "not_a_member",
        api.get(&outsider, "/api/app/tickets?scope=open").await,
    );
    refused(
        StatusCode::FORBIDDEN,
        "not_a_member",
        api.submit(
            &outsider,
            form(
                "5f0c1e2a-0000-4000-8000-00000000000e",
                "Acme Moscow",
                "x",
                "",
            ),
        )
        .await,
    );
    assert!(stage.kaiten.cards().is_empty());
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_forms_get_field_errors_and_queue_nothing() {
    let (stage, daemon, api) = start().await;
    let init = launch(&stage);
    let id = "5f0c1e2a-0000-4000-8000-00000000000b";
    let png = std::fs::read(fixture("printer-error.png")).unwrap();
    let refused =
        |status: StatusCode, code: &str, field: Option<&str>, (got, body): (StatusCode, Value)| {
            assert_eq!(got, status, "{code}: {body}");
            assert_eq!(body["error"], code, "{body}");
            assert_eq!(body["field"].as_str(), field, "{body}");
        };

    let exe = form(id, "Acme Moscow", "Программа", "").part(
        "files",
        file("tool.exe", "application/x-msdownload", b"MZ\x90\0".to_vec()),
    );
    let (status, body) = api.submit(&init, exe).await;
    refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "file_type",
        Some("files"),
        (status, body.clone()),
    );
    assert!(
        body["message"].as_str().unwrap().contains("tool.exe"),
        "{body}"
    );
    let disguised = form(id, "Acme Moscow", "Фото", "").part(
        "files",
        file("photo.png", "image/png", b"MZ\x90\0rest".to_vec()),
    );
    refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "file_type",
        Some("files"),
        api.submit(&init, disguised).await,
    );
    let huge = form(id, "Acme Moscow", "Большой файл", "").part(
        "files",
        file("big.png", "image/png", vec![0; 20 * 1024 * 1024 + 1]),
    );
    refused(
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        Some("files"),
        api.submit(&init, huge).await,
    );
    let mut eleven = form(id, "Acme Moscow", "Много файлов", "");
    for i in 0..11 {
        eleven = eleven.part("files", file(&format!("{i}.png"), "image/png", png.clone()));
    }
    refused(
        StatusCode::BAD_REQUEST,
        "too_many_files",
        Some("files"),
        api.submit(&init, eleven).await,
    );
    refused(
        StatusCode::BAD_REQUEST,
        "subject_required",
        Some("subject"),
        api.submit(&init, form(id, "Acme Moscow", "   ", "текст"))
            .await,
    );
    refused(
        StatusCode::BAD_REQUEST,
        "company_required",
        Some("company"),
        api.submit(&init, form(id, "Acme Omsk", "Тема", "")).await,
    );
    refused(
        StatusCode::BAD_REQUEST,
        "subject_too_long",
        Some("subject"),
        api.submit(&init, form(id, "Acme Moscow", &"я".repeat(256), ""))
            .await,
    );
    refused(
        StatusCode::BAD_REQUEST,
        "bad_submission_id",
        None,
        api.submit(&init, form("x", "Acme Moscow", "Тема", ""))
            .await,
    );
    let json = api
        .http
        .post(format!("{}/api/app/tickets", api.base))
        .header("Authorization", format!("tma {init}"))
        .json(&serde_json::json!({"subject": "Тема"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Nothing reached the inbox; the form the page still holds can be sent again as it is.
    assert_eq!(daemon.queues().inbox, 0);
    assert!(stage.kaiten.cards().is_empty());
    let (status, body) = api
        .submit(
            &init,
            form(id, "Acme Moscow", "Тема", "").part("files", file("a.png", "image/png", png)),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    api.wait_posted(&init, id).await;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowing_the_bot_to_write_in_the_app_is_remembered() {
    let (stage, daemon, api) = start().await;
    // Launch data from before the user answered the prompt still says `allows_write_to_pm: false`.
    let init = launch(&stage);
    let (_, session) = api.get(&init, "/api/app/session").await;
    assert_eq!(session["notifications"], "ask");
    stage.telegram.grant_write_access(stage.client);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, session) = api.get(&init, "/api/app/session").await;
        if session["notifications"] == "allowed" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "write_access_allowed was never taken in: {session}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The service message is not answered.
    assert!(
        stage
            .telegram
            .messages(stage.client)
            .iter()
            .all(|m| !m.from_bot)
    );
    daemon.shutdown().await;
}

/// The browser test's chat asks a category (billing places the ticket in a Service Desk
/// service), a required contract number with a pattern and an optional choice, as a client
/// portal's form does (seed 004).
fn browser_intake(contract: i64) -> String {
    format!(
        r#"
[[chats.categories]]
id = "support"
label = "Поддержка"

[[chats.categories]]
id = "billing"
label = "Биллинг"
ticket = {{ service_id = 7 }}

[[chats.fields]]
id = "contract"
label = "№ договора"
type = "contract"
pattern = '\d{{2}}-\d{{4}}'
example = "12-3456"
required = true
target = "properties.id_{contract}"

[[chats.fields]]
id = "area"
label = "Направление"
type = "choice"
target = "properties.id_{select}"
choices = [{{ id = "Сеть", label = "Сеть" }}, {{ id = "1С", label = "1С" }}]
"#,
        select = FakeKaiten::PROPERTY_SELECT,
    )
}

/// Where the browser test writes its screenshots (kept as a CI artifact, not committed).
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("miniapp-screenshots")
}

/// Why the browser test cannot run here, if it cannot.
fn browser_missing(chromium: &str) -> Option<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !Path::new(chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (apt-get install chromium)"
        ));
    }
    if !root
        .join("tests/browser/node_modules/playwright-core")
        .exists()
    {
        return Some("no Playwright (npm ci --prefix tests/browser)".into());
    }
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        return Some("no node".into());
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_app_in_headless_chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if let Some(missing) = browser_missing(&chromium) {
        if std::env::var("TELEDESK_BROWSER_REQUIRED").as_deref() == Ok("1") {
            panic!("the browser test must run here (TELEDESK_BROWSER_REQUIRED=1): {missing}");
        }
        eprintln!("SKIPPED the_real_app_in_headless_chromium: {missing}");
        return;
    }
    let contract = std::cell::Cell::new(0);
    let (stage, daemon, api) = start_configured(Options::default(), |stage| {
        contract.set(stage.kaiten.add_property("№ договора", "string", false));
        browser_intake(contract.get())
    })
    .await;
    let (tg, channel) = (&stage.telegram, channel(&stage));

    // A ticket staff already closed, to be seen struck through in «Последние», with the
    // category it was filed in and the priority staff gave it.
    let closed_subject = "Сканер не видит сеть";
    let (_, closed_card) = file_ticket(
        &stage,
        &api,
        "5f0c1e2a-0000-4000-8000-0000000000c1",
        closed_subject,
        &[("category", "support"), ("field.contract", "77-0001")],
    )
    .await;
    stage.kaiten.set_asap(closed_card, true);
    stage
        .kaiten
        .move_to_column(closed_card, FakeKaiten::COLUMN_DONE);
    let init = launch(&stage);
    wait_none_open(&api, &init).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while api.list(&init, "scope=last").await[0]["priority"] != "ASAP" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the priority never reached the list"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The same user's Telegram speaks English: the list's words in English.
    let english = sign_init_data(
        &tg.token(),
        &[
            (
                "user",
                format!(
                    r#"{{"id":{},"first_name":"Ann","language_code":"en"}}"#,
                    stage.client
                ),
            ),
            ("start_param", start_token(&stage, channel)),
            ("auth_date", now().to_string()),
        ],
    );

    let token = start_token(&stage, channel);
    let subject = "Не печатает принтер в бухгалтерии";
    let shots = screenshot_dir();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut node = tokio::process::Command::new("node");
    node.current_dir(root)
        .arg("tests/browser/miniapp.mjs")
        .env("CHROMIUM", &chromium)
        .env("APP_URL", format!("{}/app/", api.base))
        .env("LAUNCH_OK", launch_fragment(&init, Theme::Light))
        .env(
            "LAUNCH_OK_DARK",
            launch_fragment(&launch(&stage), Theme::Dark),
        )
        .env(
            "LAUNCH_FORGED",
            launch_fragment(&forged(&init), Theme::Light),
        )
        .env(
            "LAUNCH_STALE",
            launch_fragment(
                &tg.mini_app_init_data(stage.client, &token, now() - 2 * 3600),
                Theme::Light,
            ),
        )
        .env(
            "LAUNCH_OTHER_CHAT",
            launch_fragment(
                &tg.mini_app_init_data(stage.client, &start_token(&stage, -1009999), now()),
                Theme::Light,
            ),
        )
        .env("UPLOAD_FILE", fixture("printer-error.png"))
        .env("SUBJECT", subject)
        .env("DESCRIPTION", "Горит ошибка E-21, фото приложила.")
        .env("COMPANY", "Acme Kazan")
        .env("CLOSED_SUBJECT", closed_subject)
        .env("LAUNCH_EN", launch_fragment(&english, Theme::Light))
        .env("CATEGORY", "Биллинг")
        .env("CLOSED_CATEGORY", "Поддержка")
        .env("CONTRACT_BAD", "123456")
        .env("CONTRACT_GOOD", "12-3456")
        .env("CHOICE", "1С")
        .env("SCREENSHOT_DIR", &shots)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(240), node.output())
        .await
        .expect("the browser script finishes within 4 minutes")
        .expect("node starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser script failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let result: Value = stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}\n{stderr}"));
    eprintln!("screenshots in {}", shots.display());

    // What the page showed is what happened: one ticket, with its file, posted in the channel.
    let number = result["number"].as_str().expect("the ticket number");
    let cards: Vec<_> = stage
        .kaiten
        .cards()
        .into_iter()
        .filter(|c| c.title.contains(subject))
        .collect();
    assert_eq!(
        cards.len(),
        1,
        "one ticket for one form, retries and double taps included"
    );
    assert_eq!(cards[0].id.to_string(), number);
    assert!(
        cards[0].description.contains("Acme Kazan"),
        "{}",
        cards[0].description
    );
    // The intake the page sent, checked by the server, in Kaiten's own fields: the category's
    // Service Desk service (set right after the create), the contract and the choice.
    let card = stage
        .kaiten
        .wait_until(WAIT, "the billing category's service", |k| {
            k.card(cards[0].id).filter(|c| c.service_id == Some(7))
        })
        .await;
    assert_eq!(
        card.properties.get(&format!("id_{}", contract.get())),
        Some(&serde_json::json!("12-3456")),
        "the contract number after the refused one"
    );
    assert_eq!(
        card.properties
            .get(&format!("id_{}", FakeKaiten::PROPERTY_SELECT)),
        Some(&serde_json::json!([503])),
        "the choice «1С», by its option"
    );
    let files = stage.kaiten.files(cards[0].id);
    assert_eq!(files.len(), 1);
    assert_eq!(
        files[0].bytes,
        std::fs::read(fixture("printer-error.png")).unwrap()
    );
    posted_in_channel(&stage, number, &result["post_url"]).await;
    for name in [
        "miniapp-form.png",
        "miniapp-success.png",
        "miniapp-lists.png",
        "miniapp-intake-refused.png",
    ] {
        assert!(shots.join(name).exists(), "{name} was not written");
    }
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_survives_a_helpdesk_outage_and_a_restart() {
    // A short grace: the stop leaves the ticket queued instead of waiting out the outage.
    let (stage, daemon, api) = start_with(Options {
        grace: Duration::from_millis(200),
        ..Options::default()
    })
    .await;
    let init = launch(&stage);
    let id = "5f0c1e2a-0000-4000-8000-0000000000d1";
    let png = std::fs::read(fixture("printer-error.png")).unwrap();
    stage.kaiten.set_outage(true);
    let (status, body) = api
        .submit(
            &init,
            form(id, "Acme Moscow", "Не открывается 1С", "с утра")
                .part("files", file("screen.png", "image/png", png.clone())),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // Taken in and waiting for the helpdesk; nothing is said in the chat (the app shows it).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, body) = api.get(&init, &format!("/api/app/submissions/{id}")).await;
        if body["state"] == "creating" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    daemon.shutdown().await;

    stage.kaiten.set_outage(false);
    let daemon = stage.start(Options::default()).await;
    let api = Api {
        base: format!("http://{}", daemon.http_addr().unwrap()),
        http: reqwest::Client::new(),
    };
    let posted = api.wait_posted(&init, id).await;
    let number = posted["ticket"]["number"].as_str().unwrap();
    let card = stage
        .kaiten
        .card(number.parse().unwrap())
        .expect("the card");
    assert_eq!(card.title, "Не открывается 1С");
    assert_eq!(stage.kaiten.cards().len(), 1);
    assert_eq!(stage.kaiten.files(card.id)[0].bytes, png);
    assert!(
        stage
            .telegram
            .messages(channel(&stage))
            .iter()
            .all(|m| !m.text.contains("недоступ")),
        "the chat is not told about an outage of a ticket it has no message for"
    );
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_cannot_flood_the_helpdesk_but_retries_are_free() {
    let (stage, daemon, api) = start().await;
    let init = launch(&stage);
    let id = |n: usize| format!("5f0c1e2a-0000-4000-8000-0000000001{n:02}");
    for n in 0..5 {
        let (status, body) = api
            .submit(
                &init,
                form(&id(n), "Acme Moscow", &format!("Заявка {n}"), ""),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{n}: {body}");
    }
    let (status, body) = api
        .submit(&init, form(&id(5), "Acme Moscow", "Заявка 5", ""))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "too_many_submissions");
    // Refused before its body is read, saying when to come back.
    let head = api.submit_without_body(&init, &id(6)).await;
    assert!(head.starts_with("http/1.1 429"), "{head}");
    let seconds: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .expect("Retry-After")
        .trim()
        .parse()
        .unwrap();
    assert!((1..=120).contains(&seconds), "{seconds}");
    // The same form sent again is not a new ticket, so it is not refused; the page names it in a
    // header, and the answer comes without reading the files again.
    let head = api.submit_without_body(&init, &id(0)).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    for n in 0..5 {
        api.wait_posted(&init, &id(n)).await;
    }
    assert_eq!(stage.kaiten.cards().len(), 5);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_files_tickets_in_group_and_forum_chats_too() {
    for forum in [false, true] {
        let stage = if forum {
            Stage::forum("en", "1s").await
        } else {
            Stage::new(1, "en", "1s").await
        };
        let daemon = stage.start(Options::default()).await;
        let api = Api {
            base: format!("http://{}", daemon.http_addr().unwrap()),
            http: reqwest::Client::new(),
        };
        let chat = stage.group();
        let init =
            stage
                .telegram
                .mini_app_init_data(stage.client, &start_token(&stage, chat), now());
        let (_, session) = api.get(&init, "/api/app/session").await;
        // The user's Telegram speaks Russian; the chat has no companies to choose from.
        assert_eq!(session["language"], "ru");
        assert_eq!(session["companies"], serde_json::json!([]));
        let id = "5f0c1e2a-0000-4000-8000-0000000000f1";
        let (status, body) = api
            .submit(
                &init,
                form(id, "", "Monitor flickers", "Since this morning"),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let posted = api.wait_posted(&init, id).await;
        let number = posted["ticket"]["number"].as_str().unwrap().to_owned();
        let card = stage
            .telegram
            .messages(chat)
            .into_iter()
            .find(|m| m.text.contains(&format!("#{number}")))
            .expect("the card in the chat");
        assert_eq!(
            card.reply_to.is_some(),
            forum,
            "only a topic's first message replies (to the topic)"
        );
        if forum {
            let topic = stage.telegram.topics(chat);
            assert_eq!(topic.len(), 1);
            assert_eq!(topic[0].name, format!("#{number} Monitor flickers"));
        }
        let internal = chat.to_string().trim_start_matches("-100").to_owned();
        assert_eq!(
            posted["ticket"]["url"],
            format!("https://t.me/c/{internal}/{}", card.message_id)
        );
        daemon.shutdown().await;
    }
}

/// Asks for the open list until the app refuses `init` as a non-member.
async fn wait_refused_as_non_member(api: &Api, init: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = api.get(init, "/api/app/tickets?scope=open").await;
        if status == StatusCode::FORBIDDEN {
            assert_eq!(body["error"], "not_a_member", "{body}");
            return;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the app still serves a user who left the chat"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_leaves_the_group_loses_the_app_at_once() {
    let stage = Stage::new(1, "en", "1s").await;
    let daemon = stage.start(Options::default()).await;
    let api = Api {
        base: format!("http://{}", daemon.http_addr().unwrap()),
        http: reqwest::Client::new(),
    };
    let chat = stage.group();
    let init = stage
        .telegram
        .mini_app_init_data(stage.client, &start_token(&stage, chat), now());
    // The membership is confirmed and remembered (the page refreshes its lists often).
    assert!(api.list(&init, "scope=open").await.is_empty());
    let messages_before = stage.telegram.messages(chat).len();

    stage.telegram.remove_member(chat, stage.client);
    wait_refused_as_non_member(&api, &init).await;
    // Neither the service message nor the member update is a ticket or gets an answer.
    let deadline = tokio::time::Instant::now() + WAIT;
    while daemon.queues().inbox > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the updates stay in the inbox"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stage.kaiten.cards().is_empty());
    assert_eq!(
        stage.telegram.messages(chat).len(),
        messages_before + 1,
        "only the service message itself"
    );
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_who_leaves_the_channel_loses_the_app_at_once() {
    // A channel announces no departures in its messages; the admin bot hears of it through the
    // `chat_member` update it opts in to.
    let (stage, daemon, api) = start().await;
    let init = launch(&stage);
    assert!(api.list(&init, "scope=open").await.is_empty());
    stage.telegram.remove_member(channel(&stage), stage.client);
    wait_refused_as_non_member(&api, &init).await;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_at_once_are_capped_per_user_and_for_the_server() {
    let (stage, daemon, api) = start_with(Options {
        http: teledesk::http::HttpLimits {
            max_uploads: 2,
            max_uploads_per_user: 1,
            // The uploads below send nothing after their head: on a loaded machine the 15 s
            // idle cut-off could free a slot mid-test, and Cid would find it free.
            body_idle_timeout: Duration::from_secs(600),
            ..Default::default()
        },
        ..Options::default()
    })
    .await;
    let tg = &stage.telegram;
    let member = |name: &str| {
        let user = tg.add_user(name, None, None);
        tg.add_member(channel(&stage), user);
        tg.mini_app_init_data(user, &start_token(&stage, channel(&stage)), now())
    };
    let (ann, bob, cid) = (launch(&stage), member("Bob"), member("Cid"));
    let id = |n: usize| format!("5f0c1e2a-0000-4000-8000-0000000002{n:02}");
    // A started upload holds its slot once the server has read its head, which the client
    // cannot see: until then a probe is simply a broken form (400), and is asked again.
    let refused = |init: String, id: String, status: &'static str| {
        let api = &api;
        async move {
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                let head = api.submit_without_body(&init, &id).await;
                if !head.starts_with("http/1.1 400") || tokio::time::Instant::now() > deadline {
                    assert!(head.starts_with(status), "{head}\n(probe {id})");
                    return head;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    // Ann's first upload is under way (its client is slow); a second one of hers must wait.
    let mut slow = api.start_upload(&ann, &id(0)).await;
    {
        // The server answers a started upload only when it ends; an early answer means it was
        // refused, and the rest of the test would measure nothing.
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 2000];
        let early = tokio::time::timeout(Duration::from_millis(500), slow.read(&mut buf)).await;
        if let Ok(Ok(n)) = early {
            panic!(
                "the slow upload was answered at once: {}",
                String::from_utf8_lossy(&buf[..n])
            );
        }
    }
    let head = refused(ann.clone(), id(1), "http/1.1 429").await;
    assert!(head.contains("too_many_requests"), "{head}");
    assert!(head.contains("retry-after: "), "{head}");
    // Bob takes the server's second slot; Cid finds none free.
    let mut bobs = api.start_upload(&bob, &id(2)).await;
    {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 2000];
        let early = tokio::time::timeout(Duration::from_millis(500), bobs.read(&mut buf)).await;
        if let Ok(Ok(n)) = early {
            panic!(
                "Bob's upload was answered at once: {}",
                String::from_utf8_lossy(&buf[..n])
            );
        }
    }
    let busy = |head: &str| head.starts_with("http/1.1 503") && head.contains("retry-after: ");
    let head = refused(cid.clone(), id(3), "http/1.1 503").await;
    assert!(busy(&head), "{head}");
    assert!(head.contains("uploads_busy"), "{head}");
    // Ann's client gives up: its slot is free again, and Cid's form goes through.
    drop(slow);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = api
            .submit(&cid, form(&id(3), "Acme Moscow", "Не печатает", ""))
            .await;
        if status == StatusCode::ACCEPTED {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot never came free"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    api.wait_posted(&cid, &id(3)).await;
    drop(bobs);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_holds_the_chats_own_file_limits() {
    let stage = Stage::channel("en", "1s").await;
    stage.set_chat_option("companies", COMPANIES);
    stage.set_chat_option("files", "{ max_count = 2, max_total_size = \"1MB\" }");
    let daemon = stage.start(Options::default()).await;
    let api = Api {
        base: format!("http://{}", daemon.http_addr().unwrap()),
        http: reqwest::Client::new(),
    };
    let init = launch(&stage);
    let (status, session) = api.get(&init, "/api/app/session").await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["limits"]["max_files"], 2);
    assert_eq!(session["limits"]["max_total_bytes"], 1024 * 1024);
    assert_eq!(session["limits"]["max_file_bytes"], 1024 * 1024);
    let png = std::fs::read(fixture("printer-error.png")).unwrap();
    let id = "5f0c1e2a-0000-4000-8000-000000000301";
    let mut three = form(id, "Acme Moscow", "Три файла", "");
    for i in 0..3 {
        three = three.part("files", file(&format!("{i}.png"), "image/png", png.clone()));
    }
    let (status, body) = api.submit(&init, three).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "too_many_files");
    let mut big = png.clone();
    big.resize(1024 * 1024 + 1, 0);
    let (status, body) = api
        .submit(
            &init,
            form(id, "Acme Moscow", "Большой", "").part("files", file("big.png", "image/png", big)),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(daemon.queues().inbox, 0);
    daemon.shutdown().await;
}
