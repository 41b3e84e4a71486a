//! `teledesk demo`: the real daemon against the testkit's fake Telegram and fake helpdesk, through
//! a scripted group conversation, printing what the client sees and what staff see.
//!
//! [`Stage`] (fakes, a config file pointing at them, a store in a temporary directory) is also what
//! the end-to-end tests build on, so the demo and the tests exercise the same wiring.

mod intake;
mod mini_app;
mod portal;
mod staged;

pub use intake::intake_scene;
pub use mini_app::mini_app_scene;
pub use portal::portal_scene;

pub use staged::{StagedHelpdesk, Target};

use crate::config::{self, Config};
use crate::daemon::{Daemon, Options};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use teledesk_testkit::kaiten::FakeKaiten;
use teledesk_testkit::telegram::{ChatMessage, FakeTelegram, Outgoing, TelegramOptions};

/// The Kaiten custom property the demo uses for resolutions.
pub const RESOLUTION_PROPERTY: &str = teledesk_testkit::kaiten::RESOLUTION_PROPERTY;

/// Which chats a stage configures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Client groups in group mode.
    Groups(usize),
    /// One channel with its linked discussion group.
    Channel,
    /// One basic (non-super) group, as a group is before Telegram upgrades it.
    BasicGroup,
    /// One forum supergroup in forum mode.
    Forum,
}

/// Fakes plus a config that points the daemon at them.
pub struct Stage {
    pub telegram: FakeTelegram,
    /// The fake Kaiten; the configured helpdesk when the stage was built for Kaiten.
    pub kaiten: FakeKaiten,
    /// The configured helpdesk's staff side, whatever its kind.
    pub helpdesk: StagedHelpdesk,
    pub dir: tempfile::TempDir,
    /// The client group(s) configured in `[[chats]]`; in channel mode, the discussion group.
    pub groups: Vec<i64>,
    /// Channel mode: the channel (configured in `[[chats]]`) whose posts are the tickets.
    pub channel: Option<i64>,
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
        Self::build(
            Target::Fake("kaiten".into()),
            Layout::Groups(groups),
            lang,
            poll,
            options,
        )
        .await
        .expect("the Kaiten stage starts")
    }

    /// A stage for any helpdesk: its testkit fake, or a live server.
    pub async fn with_helpdesk(
        target: Target,
        groups: usize,
        lang: &str,
        poll: &str,
    ) -> Result<Self, String> {
        Self::build(
            target,
            Layout::Groups(groups),
            lang,
            poll,
            TelegramOptions::default(),
        )
        .await
    }

    /// A channel-mode stage on Kaiten: the client company's channel (in `[[chats]]`) with its
    /// linked discussion group (`group()`); the client is subscribed to the one and a member of
    /// the other.
    pub async fn channel(lang: &str, poll: &str) -> Self {
        Self::build(
            Target::Fake("kaiten".into()),
            Layout::Channel,
            lang,
            poll,
            TelegramOptions::default(),
        )
        .await
        .expect("the channel stage starts")
    }

    /// A forum-mode stage on Kaiten: one forum supergroup, a topic per ticket.
    pub async fn forum(lang: &str, poll: &str) -> Self {
        Self::build(
            Target::Fake("kaiten".into()),
            Layout::Forum,
            lang,
            poll,
            TelegramOptions::default(),
        )
        .await
        .expect("the forum stage starts")
    }

    /// A group-mode stage on Kaiten with one basic group, which a test can upgrade to a
    /// supergroup.
    pub async fn basic_group(lang: &str, poll: &str) -> Self {
        Self::build(
            Target::Fake("kaiten".into()),
            Layout::BasicGroup,
            lang,
            poll,
            TelegramOptions::default(),
        )
        .await
        .expect("the basic group stage starts")
    }

    async fn build(
        target: Target,
        layout: Layout,
        lang: &str,
        poll: &str,
        options: TelegramOptions,
    ) -> Result<Self, String> {
        let telegram = FakeTelegram::start_with(options).await;
        let kaiten = FakeKaiten::start().await;
        let dir = tempfile::tempdir().expect("temporary directory");
        let helpdesk = StagedHelpdesk::start(&target, dir.path(), &kaiten).await?;
        let client = telegram.add_user("Анна", Some("Смирнова"), Some("anna_acme"));
        let mut channel = None;
        let count = match layout {
            Layout::Groups(n) => n.max(1),
            Layout::Channel | Layout::BasicGroup | Layout::Forum => 1,
        };
        let groups: Vec<i64> = (0..count)
            .map(|i| {
                let title = if i == 0 {
                    "Acme — поддержка".to_owned()
                } else {
                    format!("Acme branch {i}")
                };
                let id = match layout {
                    Layout::BasicGroup => telegram.add_group(&title),
                    Layout::Forum => telegram.add_forum(&title),
                    _ => telegram.add_supergroup(&title),
                };
                telegram.add_member(id, client);
                if layout == Layout::Channel {
                    let posts = telegram.add_channel("Acme — заявки");
                    telegram.link_discussion(posts, id);
                    telegram.add_member(posts, client);
                    channel = Some(posts);
                }
                id
            })
            .collect();
        std::fs::write(dir.path().join("telegram-token"), telegram.token()).expect("write token");
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
kind = "{kind}"
poll_interval = "{poll}"
{helpdesk}
"#,
            dir = dir.path().display(),
            tg = telegram.api_url(),
            kind = helpdesk.kind,
            helpdesk = helpdesk.toml,
        );
        for (i, id) in groups.iter().enumerate() {
            let (id, mode) = match (channel, layout) {
                (Some(channel), _) => (channel, "channel"),
                (None, Layout::Forum) => (*id, "forum"),
                (None, _) => (*id, "group"),
            };
            text.push_str(&format!(
                "\n[[chats]]\nid = {id}\nmode = \"{mode}\"\nhelpdesk = \"main\"\nname = \"Acme{}\"\n",
                if i == 0 { String::new() } else { format!(" branch {i}") }
            ));
            if !helpdesk.chat_ticket.is_empty() {
                text.push_str(&format!("[chats.ticket]\n{}\n", helpdesk.chat_ticket));
            }
        }
        let config_path = dir.path().join("mappings.toml");
        std::fs::write(&config_path, text).expect("write config");
        Ok(Self {
            telegram,
            kaiten,
            helpdesk,
            dir,
            channel,
            groups,
            client,
            config_path,
        })
    }

    pub fn group(&self) -> i64 {
        self.groups[0]
    }

    /// Makes these Telegram users the bot's admins (`[telegram] admins`, who may ask for
    /// `/report`).
    pub fn set_admins(&self, users: &[i64]) {
        let text = std::fs::read_to_string(&self.config_path).expect("read config");
        let ids: Vec<String> = users.iter().map(i64::to_string).collect();
        let text = text.replacen(
            "[telegram]\n",
            &format!("[telegram]\nadmins = [{}]\n", ids.join(", ")),
            1,
        );
        std::fs::write(&self.config_path, text).expect("write config");
    }

    /// Adds `key = value` (TOML) to the last `[[chats]]` table of the config.
    pub fn set_chat_option(&self, key: &str, value: &str) {
        let mut text = std::fs::read_to_string(&self.config_path).expect("read config");
        let header = "[[chats]]\n";
        let at = text.rfind(header).expect("a [[chats]] table") + header.len();
        text.insert_str(at, &format!("{key} = {value}\n"));
        std::fs::write(&self.config_path, text).expect("write config");
    }

    /// Adds `key = value` (TOML) to the `[helpdesks.main]` table of the config.
    pub fn set_helpdesk_option(&self, key: &str, value: &str) {
        let mut text = std::fs::read_to_string(&self.config_path).expect("read config");
        let header = "[helpdesks.main]\n";
        let at = text.find(header).expect("a [helpdesks.main] table") + header.len();
        text.insert_str(at, &format!("{key} = {value}\n"));
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

    /// Puts the store at `path` (a disk a test controls) instead of inside the stage's directory.
    pub fn set_store_path(&self, path: &std::path::Path) {
        let text = std::fs::read_to_string(&self.config_path).expect("read config");
        let old = format!("path = \"{}/store\"", self.dir.path().display());
        assert!(text.contains(&old), "the stage's [store] path");
        let text = text.replace(&old, &format!("path = \"{}\"", path.display()));
        std::fs::write(&self.config_path, text).expect("write config");
    }

    /// The client turns a message in the first group into a Kaiten ticket with `/ticket` and the
    /// bot posts its card; returns the message's id and the card's. For tests that need a ticket
    /// to work on.
    pub async fn ticket_in_group(&self, text: &str, wait: Duration) -> (i32, i64) {
        let (tg, group) = (&self.telegram, self.group());
        let source = tg.send(group, self.client, Outgoing::text(text));
        tg.send(
            group,
            self.client,
            Outgoing::text("/ticket").reply_to(source),
        );
        let card = self
            .kaiten
            .wait_until(wait, "the card", |k| {
                k.cards()
                    .iter()
                    .find(|c| c.title.contains(text) || c.description.contains(text))
                    .map(|c| c.id)
            })
            .await;
        tg.wait_until(wait, "the ticket card in the group", |t| {
            t.messages(group)
                .iter()
                .any(|m| m.from_bot && m.text.contains(&format!("#{card}")))
                .then_some(())
        })
        .await;
        (source, card)
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
    if let Some(service) = &message.service {
        line.push_str(&format!(" ({})", service.replace('_', " ")));
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
    if !StagedHelpdesk::FAKE_KINDS.contains(&helpdesk) {
        eprintln!(
            "error: no fake for helpdesk `{helpdesk}`; available: {}",
            StagedHelpdesk::FAKE_KINDS.join(", ")
        );
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
        let kind = helpdesk.to_owned();
        let lang_owned = lang.to_owned();
        let run = async move {
            script(Target::Fake(kind), &lang_owned).await?;
            channel_scene(&lang_owned).await?;
            mini_app_scene(&lang_owned).await?;
            intake_scene(&lang_owned).await?;
            portal_scene(&lang_owned).await
        };
        match tokio::time::timeout(Duration::from_secs(300), run).await {
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

/// The scripted conversation against `target`; also what the end-to-end test against live
/// helpdesks runs. Fails when the client or staff would not see what they should.
pub async fn script(target: Target, lang: &str) -> Result<(), String> {
    let stage = Stage::with_helpdesk(target, 1, lang, "1s").await?;
    let tg = &stage.telegram;
    let staff_side = stage.helpdesk.backstage.clone();
    let kind = stage.helpdesk.kind;
    let group = stage.group();
    let ann = stage.client;
    let en = lang == "en";
    say(&format!(
        "teledesk demo — the real daemon against a fake Telegram and a {kind} helpdesk on loopback."
    ));
    say(
        "Telegram's rate limits are enforced by the fake and respected by the daemon (about one message per second per chat).\n",
    );
    let daemon = stage.start(Options::default()).await;
    let adapter = daemon
        .helpdesk("main")
        .ok_or("the daemon has no helpdesk `main`")?;

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
    let (ticket_id, number) = wait_for(&format!("the ticket in {kind}"), || {
        let link = daemon.tickets().into_iter().next()?;
        Some((link.ticket_id?, link.number?))
    })
    .await?;
    let card_message = tg
        .wait_until(STEP, "the ticket card in the group", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(&format!("#{number}")))
                .map(|m| m.message_id)
        })
        .await;
    print_client(&stage);

    say(&format!(
        "\n== 2. The client replies to the card with a file; it becomes a comment in {kind} =="
    ));
    let log = b"2026-11-21 09:14:03 E3 paper jam sensor\n".to_vec();
    let log_text = if en {
        "Here is the log"
    } else {
        "Вот лог ошибки"
    };
    tg.send(
        group,
        ann,
        Outgoing::document("printer.log", "text/plain", log.clone(), Some(log_text))
            .reply_to(card_message),
    );
    let comment_landed = |ticket: &teledesk_adapter::Ticket| {
        ticket.comments.iter().any(|c| {
            c.origin == teledesk_adapter::Origin::Teledesk
                && c.body.contains(log_text)
                && c.attachments.iter().any(|a| a.file_name == "printer.log")
        })
    };
    wait_for_ticket(
        &*adapter,
        &ticket_id,
        "the client's comment with its file",
        comment_landed,
    )
    .await?;
    print_staff(&*adapter, &*staff_side, &ticket_id).await;

    say("\n== 3. Staff take it: assignee, status, a public reply and an internal note ==");
    let staff = staff_side.assign(&ticket_id).await?;
    if let Some((state, _)) = staff_side
        .vendor_states()
        .into_iter()
        .find(|(_, class)| *class == teledesk_adapter::StatusClass::InProgress)
    {
        staff_side.set_state(&ticket_id, &state).await?;
    }
    let note = if en {
        "Probably the cartridge; order one"
    } else {
        "Похоже на картридж, заказать"
    };
    staff_side.internal_note(&ticket_id, note).await?;
    let reply = if en {
        "We will come by before 3 pm today."
    } else {
        "Подойдём сегодня до 15:00."
    };
    staff_side.staff_reply(&ticket_id, reply, None).await?;
    let in_progress = if en { "In progress" } else { "В работе" };
    tg.wait_until(STEP, "the staff reply and the updated card", |t| {
        let messages = t.messages(group);
        let replied = messages
            .iter()
            .any(|m| m.from_bot && m.text.contains(reply));
        let card = messages.iter().find(|m| m.message_id == card_message)?;
        (replied && card.text.contains(in_progress) && card.text.contains(&staff)).then_some(())
    })
    .await;
    print_client(&stage);

    say("\n== 4. Staff resolve it; the card shows the resolution and asks for a rating ==");
    let resolution = if en {
        "Replaced the cartridge, test page printed"
    } else {
        "Заменили картридж, тестовая страница напечатана"
    };
    staff_side.resolve(&ticket_id, resolution).await?;
    tg.wait_until(STEP, "the closed card", |t| {
        let card = t.message(group, card_message)?;
        (card.text.contains(resolution) && card.reply_markup.is_some()).then_some(())
    })
    .await;

    say("\n== 5. The client rates it five stars ==");
    let local = daemon
        .tickets()
        .into_iter()
        .next()
        .map(|l| l.local)
        .ok_or("the ticket vanished")?;
    tg.press(group, card_message, ann, &format!("rate:{local}:5"));
    tg.wait_until(STEP, "the rated card", |t| {
        let card = t.message(group, card_message)?;
        card.text.contains("★★★★★").then_some(())
    })
    .await;
    print_client(&stage);
    print_staff(&*adapter, &*staff_side, &ticket_id).await;

    let leaked = tg.messages(group).iter().any(|m| m.text.contains(note));
    let final_ticket = adapter
        .get_ticket(&ticket_id)
        .await
        .map_err(|e| e.to_string())?;
    say("\n== Checks ==");
    say(&format!("ticket created in {kind}: #{number}"));
    say(&format!(
        "client comment with file reached {kind}: {}",
        yes(comment_landed(&final_ticket))
    ));
    say(&format!(
        "staff reply reached the group: {}",
        yes(tg.messages(group).iter().any(|m| m.text.contains(reply)))
    ));
    say(&format!("internal note stayed in {kind}: {}", yes(!leaked)));
    let q = daemon.queues();
    say(&format!(
        "queues: inbox {}, jobs {}, outbox {}, dead letters {}",
        q.inbox, q.jobs, q.outbox, q.dead
    ));
    daemon.shutdown().await;
    if leaked {
        return Err("the internal note reached Telegram".into());
    }
    if q.dead > 0 {
        return Err(format!("{} item(s) ended in dead letters", q.dead));
    }
    Ok(())
}

/// The channel experience: the ticket's post in the client's channel, comments in its thread,
/// a staff reply there, closing, a rating and a reopen (on the fake Kaiten).
pub async fn channel_scene(lang: &str) -> Result<(), String> {
    let en = lang == "en";
    say("\n\n######## Channel mode ########");
    say("The client company has a channel of ticket posts with a linked discussion group.\n");
    let stage = Stage::channel(lang, "1s").await;
    let tg = &stage.telegram;
    let (group, ann) = (stage.group(), stage.client);
    let channel = stage.channel.ok_or("no channel")?;
    let daemon = stage.start(Options::default()).await;

    say("== 1. A client files a ticket from the discussion group; the bot publishes its post ==");
    let text = if en {
        "The accounting PC does not boot"
    } else {
        "Не включается компьютер в бухгалтерии"
    };
    let source = tg.send(group, ann, Outgoing::text(text));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    let (card_id, number) = wait_for("the ticket", || {
        let link = daemon.tickets().into_iter().next()?;
        Some((link.ticket_id?, link.number?))
    })
    .await?;
    let post = tg
        .wait_until(STEP, "the ticket post", |t| {
            t.messages(channel)
                .into_iter()
                .find(|m| m.text.contains(&format!("#{number}")))
        })
        .await;
    let forward = tg
        .wait_until(STEP, "the post's comment thread", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.forward_origin == Some((channel, post.message_id)))
        })
        .await;
    print_chat(&stage, channel, "the channel");

    say("\n== 2. Comments under the post reach the helpdesk; staff answer in the thread ==");
    let comment = if en {
        "The power LED blinks orange"
    } else {
        "Индикатор питания мигает оранжевым"
    };
    tg.send(
        group,
        ann,
        Outgoing::text(comment).reply_to(forward.message_id),
    );
    let staff_side = stage.helpdesk.backstage.clone();
    let adapter = daemon.helpdesk("main").ok_or("no helpdesk")?;
    wait_for_ticket(&*adapter, &card_id, "the comment", |t| {
        t.comments.iter().any(|c| c.body.contains(comment))
    })
    .await?;
    staff_side.assign(&card_id).await?;
    let reply = if en {
        "Probably the power supply; bringing a spare."
    } else {
        "Похоже на блок питания, несём запасной."
    };
    staff_side.staff_reply(&card_id, reply, None).await?;
    tg.wait_until(STEP, "the staff reply in the thread", |t| {
        t.messages(group)
            .iter()
            .any(|m| m.from_bot && m.text.contains(reply))
            .then_some(())
    })
    .await;
    print_chat(&stage, group, "the discussion group");

    say("\n== 3. Staff close it; the client rates it, then reopens it ==");
    staff_side
        .resolve(
            &card_id,
            if en {
                "Replaced the power supply"
            } else {
                "Заменили блок питания"
            },
        )
        .await?;
    tg.wait_until(STEP, "the closed post", |t| {
        t.message(channel, post.message_id)?
            .reply_markup
            .map(|_| ())
    })
    .await;
    let local = daemon
        .tickets()
        .first()
        .map(|l| l.local)
        .ok_or("no ticket")?;
    tg.press(channel, post.message_id, ann, &format!("rate:{local}:5"));
    tg.wait_until(STEP, "the rating on the post", |t| {
        t.message(channel, post.message_id)?
            .text
            .contains("★★★★★")
            .then_some(())
    })
    .await;
    print_chat(&stage, channel, "the channel");
    tg.press(channel, post.message_id, ann, &format!("reopen:{local}"));
    wait_for_ticket(&*adapter, &card_id, "the reopened ticket", |t| {
        !t.status.is_done()
    })
    .await?;
    tg.wait_until(STEP, "the reopened post", |t| {
        t.message(channel, post.message_id)?
            .reply_markup
            .is_none()
            .then_some(())
    })
    .await;
    print_chat(&stage, channel, "the channel");
    let q = daemon.queues();
    say(&format!(
        "\nqueues: inbox {}, jobs {}, outbox {}, dead letters {}",
        q.inbox, q.jobs, q.outbox, q.dead
    ));
    daemon.shutdown().await;
    if q.dead > 0 {
        return Err(format!("{} item(s) ended in dead letters", q.dead));
    }
    Ok(())
}

fn print_chat(stage: &Stage, chat: i64, name: &str) {
    say(&format!("--- {name} ---"));
    for line in stage.transcript(chat) {
        say(&line);
    }
}

async fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> Result<T, String> {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        if let Some(value) = probe() {
            return Ok(value);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for_ticket(
    adapter: &dyn teledesk_adapter::Helpdesk,
    ticket: &teledesk_adapter::TicketId,
    what: &str,
    done: impl Fn(&teledesk_adapter::Ticket) -> bool,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        if let Ok(read) = adapter.get_ticket(ticket).await
            && done(&read)
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
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

async fn print_staff(
    adapter: &dyn teledesk_adapter::Helpdesk,
    staff_side: &dyn teledesk_testkit::conformance::Backstage,
    ticket: &teledesk_adapter::TicketId,
) {
    say(&format!("--- what staff see in {} ---", adapter.kind()));
    match staff_side.staff_text(ticket).await {
        Ok(text) => {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                say(&format!("    {line}"));
            }
        }
        Err(error) => say(&format!("(cannot read the ticket: {error})")),
    }
    let Ok(read) = adapter.get_ticket(ticket).await else {
        return;
    };
    say(&format!(
        "  state: {} · assignee: {}",
        read.state,
        read.assignee.as_deref().unwrap_or("—")
    ));
    for comment in &read.comments {
        let tag = match (comment.visibility, comment.origin) {
            (teledesk_adapter::Visibility::Internal, _) => " [internal]",
            (_, teledesk_adapter::Origin::Teledesk) => " [from Telegram]",
            _ => "",
        };
        say(&format!("  comment by {}{tag}:", comment.author));
        for line in comment.body.lines() {
            say(&format!("    {line}"));
        }
        for file in &comment.attachments {
            say(&format!("    📎 {}", file.file_name));
        }
    }
}

/// A tiny valid JPEG-like payload (the fake does not decode images).
fn demo_photo() -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend((0..2048u32).map(|i| (i * 31 % 251) as u8));
    bytes.extend([0xFF, 0xD9]);
    bytes
}
