//! `teledesk demo`: the real daemon against the testkit's fake Telegram and fake helpdesk, through
//! a scripted group conversation, printing what the client sees and what staff see.
//!
//! [`Stage`] (fakes, a config file pointing at them, a store in a temporary directory) is also what
//! the end-to-end tests build on, so the demo and the tests exercise the same wiring.

use crate::config::{self, Config};
use crate::daemon::{Daemon, Options};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use teledesk_testkit::kaiten::FakeKaiten;
use teledesk_testkit::telegram::{ChatMessage, FakeTelegram, Outgoing, TelegramOptions};

/// The Kaiten custom property the demo uses for resolutions.
pub const RESOLUTION_PROPERTY: &str = "id_7";

/// Fakes plus a config that points the daemon at them.
pub struct Stage {
    pub telegram: FakeTelegram,
    pub kaiten: FakeKaiten,
    pub dir: tempfile::TempDir,
    /// The client group(s) configured in `[[chats]]`.
    pub groups: Vec<i64>,
    /// A client employee, member of every group.
    pub client: i64,
    pub config_path: PathBuf,
}

impl Stage {
    /// Starts the fakes and writes a config with `groups` client groups (supergroups), language
    /// `lang`, polling the helpdesk every `poll`.
    pub async fn new(groups: usize, lang: &str, poll: &str) -> Self {
        Self::with_options(groups, lang, poll, TelegramOptions::default()).await
    }

    pub async fn with_options(
        groups: usize,
        lang: &str,
        poll: &str,
        options: TelegramOptions,
    ) -> Self {
        let telegram = FakeTelegram::start_with(options).await;
        let kaiten = FakeKaiten::start().await;
        let dir = tempfile::tempdir().expect("temporary directory");
        let client = telegram.add_user("Анна", Some("Смирнова"), Some("anna_acme"));
        let groups: Vec<i64> = (0..groups.max(1))
            .map(|i| {
                let title = if i == 0 {
                    "Acme — поддержка".to_owned()
                } else {
                    format!("Acme branch {i}")
                };
                let id = telegram.add_supergroup(&title);
                telegram.add_member(id, client);
                id
            })
            .collect();
        std::fs::write(dir.path().join("telegram-token"), telegram.token()).expect("write token");
        std::fs::write(dir.path().join("kaiten-token"), kaiten.token()).expect("write token");
        let mut text = format!(
            r#"[telegram]
token = "file:{dir}/telegram-token"
api_url = "{tg}"
language = "{lang}"

[server]
listen = "127.0.0.1:0"

[store]
path = "{dir}/store"

[helpdesks.main]
kind = "kaiten"
url = "{kaiten}"
token = "file:{dir}/kaiten-token"
poll_interval = "{poll}"
board_id = {board}
column_id = {column}
resolution_property = "{resolution}"

[helpdesks.main.statuses]
"{waiting}" = "waiting_client"
"{done}" = "closed"
"#,
            dir = dir.path().display(),
            tg = telegram.api_url(),
            kaiten = kaiten.url(),
            board = FakeKaiten::BOARD_ID,
            column = FakeKaiten::COLUMN_NEW,
            waiting = FakeKaiten::COLUMN_WAITING,
            done = FakeKaiten::COLUMN_DONE,
            resolution = RESOLUTION_PROPERTY,
        );
        for (i, id) in groups.iter().enumerate() {
            text.push_str(&format!(
                "\n[[chats]]\nid = {id}\nmode = \"group\"\nhelpdesk = \"main\"\nname = \"Acme{}\"\n",
                if i == 0 { String::new() } else { format!(" branch {i}") }
            ));
        }
        let config_path = dir.path().join("mappings.toml");
        std::fs::write(&config_path, text).expect("write config");
        Self {
            telegram,
            kaiten,
            dir,
            groups,
            client,
            config_path,
        }
    }

    pub fn group(&self) -> i64 {
        self.groups[0]
    }

    /// Adds `key = value` (TOML) to the last `[[chats]]` table of the config.
    pub fn set_chat_option(&self, key: &str, value: &str) {
        let mut text = std::fs::read_to_string(&self.config_path).expect("read config");
        text.push_str(&format!("{key} = {value}\n"));
        std::fs::write(&self.config_path, text).expect("write config");
    }

    pub fn config(&self) -> Config {
        match config::load(&self.config_path) {
            Ok(loaded) => loaded.config,
            Err(findings) => panic!(
                "the stage's config is invalid: {}",
                findings
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }
    }

    /// Starts the daemon in this process, with the same code path as `teledesk run`.
    pub async fn start(&self, options: Options) -> Daemon {
        Daemon::start(&self.config(), options)
            .await
            .expect("daemon starts")
    }

    /// The bot's messages and the users' in a chat, as text lines.
    pub fn transcript(&self, chat_id: i64) -> Vec<String> {
        self.telegram
            .messages(chat_id)
            .iter()
            .map(describe_message)
            .collect()
    }
}

/// One chat message as the client would read it.
pub fn describe_message(message: &ChatMessage) -> String {
    let who = if message.from_bot {
        "🤖 bot".to_owned()
    } else {
        message.sender_name.clone()
    };
    let mut line = format!("{who}:");
    if let Some(reply) = message.reply_to {
        line.push_str(&format!(" ↩ #{reply}"));
    }
    let text = message.text.trim();
    if !text.is_empty() {
        if text.contains('\n') {
            for part in text.lines() {
                line.push_str(&format!("\n    {part}"));
            }
        } else {
            line.push(' ');
            line.push_str(text);
        }
    }
    for media in &message.media {
        line.push_str(&format!(
            "\n    📎 {} {} ({} bytes)",
            media.kind,
            media.file_name.as_deref().unwrap_or(""),
            media.size
        ));
    }
    if let Some(markup) = &message.reply_markup
        && let Some(rows) = markup["inline_keyboard"].as_array()
    {
        let buttons: Vec<String> = rows
            .iter()
            .flat_map(|row| row.as_array().cloned().unwrap_or_default())
            .filter_map(|b| b["text"].as_str().map(|t| format!("[{t}]")))
            .collect();
        if !buttons.is_empty() {
            line.push_str(&format!("\n    {}", buttons.join(" ")));
        }
    }
    if message.edit_count > 0 {
        line.push_str(&format!("\n    (edited {}×)", message.edit_count));
    }
    format!("#{} {line}", message.message_id)
}

const STEP: Duration = Duration::from_secs(60);

/// Entry point of `teledesk demo`.
pub fn main(helpdesk: &str, lang: &str) -> ExitCode {
    if helpdesk != "kaiten" {
        eprintln!("error: no fake for helpdesk `{helpdesk}` yet; available: kaiten");
        return ExitCode::FAILURE;
    }
    if lang != "ru" && lang != "en" {
        eprintln!("error: --lang must be ru or en");
        return ExitCode::FAILURE;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        match tokio::time::timeout(Duration::from_secs(300), script(lang)).await {
            Ok(Ok(())) => ExitCode::SUCCESS,
            Ok(Err(error)) => {
                eprintln!("demo failed: {error}");
                ExitCode::FAILURE
            }
            Err(_) => {
                eprintln!("demo failed: it took longer than 5 minutes");
                ExitCode::FAILURE
            }
        }
    })
}

fn say(line: &str) {
    println!("{line}");
}

async fn script(lang: &str) -> Result<(), String> {
    let stage = Stage::new(1, lang, "1s").await;
    let tg = &stage.telegram;
    let kaiten = &stage.kaiten;
    let group = stage.group();
    let ann = stage.client;
    let en = lang == "en";
    say("teledesk demo — the real daemon against a fake Telegram and a fake Kaiten on loopback.");
    say(
        "Telegram's rate limits are enforced by the fake and respected by the daemon (about one message per second per chat).\n",
    );
    let daemon = stage.start(Options::default()).await;

    say("== 1. A client opens a ticket with /new; the bot asks for what is missing ==");
    let subject = if en {
        "The printer does not print"
    } else {
        "Не печатает принтер"
    };
    tg.send(group, ann, Outgoing::text(&format!("/new {subject}")));
    let prompt = wait_bot_message(tg, group, 1).await?;
    tg.send(
        group,
        ann,
        Outgoing::text(if en {
            "HP printer in accounting shows error E3 since this morning"
        } else {
            "HP в бухгалтерии с утра показывает ошибку E3"
        })
        .reply_to(prompt),
    );
    let files_prompt = wait_bot_message(tg, group, 2).await?;
    let photo = demo_photo();
    tg.send(
        group,
        ann,
        Outgoing::photo(photo.clone(), None).reply_to(files_prompt),
    );
    let received = wait_bot_message(tg, group, 3).await?;
    tg.press(group, received, ann, "new:done");
    let card_id = kaiten
        .wait_until(STEP, "the card in Kaiten", |k| {
            k.cards().first().map(|c| c.id)
        })
        .await;
    let card_message = tg
        .wait_until(STEP, "the ticket card in the group", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(&format!("#{card_id}")))
                .map(|m| m.message_id)
        })
        .await;
    print_client(&stage);

    say("\n== 2. The client replies to the card with a file; it becomes a comment in Kaiten ==");
    let log = b"2026-11-21 09:14:03 E3 paper jam sensor\n".to_vec();
    tg.send(
        group,
        ann,
        Outgoing::document(
            "printer.log",
            "text/plain",
            log.clone(),
            Some(if en {
                "Here is the log"
            } else {
                "Вот лог ошибки"
            }),
        )
        .reply_to(card_message),
    );
    kaiten
        .wait_until(STEP, "the client's comment with its file", |k| {
            (!k.comments(card_id).is_empty() && k.files(card_id).iter().any(|f| f.bytes == log))
                .then_some(())
        })
        .await;
    print_staff(&stage, card_id);

    say("\n== 3. Staff take it: assignee, status, a public reply and an internal note ==");
    let staff = if en {
        "Ivan Petrov"
    } else {
        "Иван Петров"
    };
    kaiten.assign(card_id, staff);
    kaiten.move_to_column(card_id, FakeKaiten::COLUMN_IN_PROGRESS);
    let note = if en {
        "Probably the cartridge; order one"
    } else {
        "Похоже на картридж, заказать"
    };
    kaiten.internal_note(card_id, staff, note);
    let reply = if en {
        "We will come by before 3 pm today."
    } else {
        "Подойдём сегодня до 15:00."
    };
    kaiten.staff_reply(card_id, staff, reply);
    let in_progress = if en { "In progress" } else { "В работе" };
    tg.wait_until(STEP, "the staff reply and the updated card", |t| {
        let messages = t.messages(group);
        let replied = messages
            .iter()
            .any(|m| m.from_bot && m.text.contains(reply));
        let card = messages.iter().find(|m| m.message_id == card_message)?;
        (replied && card.text.contains(in_progress) && card.text.contains(staff)).then_some(())
    })
    .await;
    print_client(&stage);

    say("\n== 4. Staff resolve it; the card shows the resolution ==");
    let resolution = if en {
        "Replaced the cartridge, test page printed"
    } else {
        "Заменили картридж, тестовая страница напечатана"
    };
    kaiten.set_property(card_id, RESOLUTION_PROPERTY, serde_json::json!(resolution));
    kaiten.move_to_column(card_id, FakeKaiten::COLUMN_DONE);
    tg.wait_until(STEP, "the closed card", |t| {
        let card = t.message(group, card_message)?;
        card.text.contains(resolution).then_some(())
    })
    .await;
    print_client(&stage);
    print_staff(&stage, card_id);

    let leaked = tg.messages(group).iter().any(|m| m.text.contains(note));
    say("\n== Checks ==");
    say(&format!("ticket created in Kaiten: card #{card_id}"));
    say(&format!(
        "client comment with file reached Kaiten: {}",
        yes(kaiten.files(card_id).iter().any(|f| f.bytes == log))
    ));
    say(&format!(
        "staff reply reached the group: {}",
        yes(tg.messages(group).iter().any(|m| m.text.contains(reply)))
    ));
    say(&format!("internal note stayed in Kaiten: {}", yes(!leaked)));
    let q = daemon.queues();
    say(&format!(
        "queues: inbox {}, jobs {}, outbox {}, dead letters {}",
        q.inbox, q.jobs, q.outbox, q.dead
    ));
    daemon.shutdown().await;
    if leaked {
        return Err("the internal note reached Telegram".into());
    }
    Ok(())
}

fn yes(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

async fn wait_bot_message(tg: &FakeTelegram, chat: i64, nth: usize) -> Result<i32, String> {
    Ok(tg
        .wait_until(STEP, "the bot's next message", |t| {
            let bots: Vec<i32> = t
                .messages(chat)
                .iter()
                .filter(|m| m.from_bot)
                .map(|m| m.message_id)
                .collect();
            bots.get(nth - 1).copied()
        })
        .await)
}

fn print_client(stage: &Stage) {
    say("--- what the client sees in Telegram ---");
    for line in stage.transcript(stage.group()) {
        say(&line);
    }
}

fn print_staff(stage: &Stage, card_id: i64) {
    say("--- what staff see in Kaiten ---");
    let Some(card) = stage.kaiten.card(card_id) else {
        say("(no card)");
        return;
    };
    say(&format!(
        "card #{} «{}» column {} ({})",
        card.id,
        card.title,
        card.column_id,
        match card.column_id {
            FakeKaiten::COLUMN_NEW => "Новые",
            FakeKaiten::COLUMN_IN_PROGRESS => "В работе",
            FakeKaiten::COLUMN_WAITING => "Ждём клиента",
            _ => "Готово",
        }
    ));
    for line in card.description.lines() {
        say(&format!("    {line}"));
    }
    for comment in stage.kaiten.comments(card_id) {
        let tag = if comment.internal { " [internal]" } else { "" };
        say(&format!(
            "  comment #{} by {}{tag}:",
            comment.id, comment.author_name
        ));
        for line in comment.text.lines() {
            say(&format!("    {line}"));
        }
    }
    for file in stage.kaiten.files(card_id) {
        say(&format!(
            "  file {} ({} bytes)",
            file.name,
            file.bytes.len()
        ));
    }
}

/// A tiny valid JPEG-like payload (the fake does not decode images).
fn demo_photo() -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend((0..2048u32).map(|i| (i * 31 % 251) as u8));
    bytes.extend([0xFF, 0xD9]);
    bytes
}
