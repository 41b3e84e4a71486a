//! Tickets started by staff (issue 14.3), due times and the registration time (14.4) with the
//! real daemon binary and the fake Telegram, on Request Tracker and Redmine: staff create a ticket
//! in the helpdesk addressed to the chat through the REST API (the custom field the adapter's
//! `chat_field` names), the daemon publishes it in the chat once, the client's reply becomes a
//! comment on the ticket and a staff reply reaches the chat; an announcement shows without status
//! or buttons; a due time staff set in the past shows on the card as missed; and a client's ticket
//! carries the Telegram message's own date in the helpdesk's `Registered` field.
//!
//! Runs on the testkit's fake RT and fake Redmine always, and on the live servers when `.ci/run`'s
//! variables are set (see `.ci/rt5-up.sh`, `.ci/redmine-up.sh`): `RT_URL`, `RT_TOKEN`,
//! `RT_CHAT_FIELD`, `RT_ANNOUNCEMENT_FIELD`, `RT_REGISTERED_FIELD` (and `RT_QUEUE`, default
//! `CI Support`); `REDMINE_URL`, `REDMINE_KEY`, `REDMINE_CHAT_FIELD`, `REDMINE_ANNOUNCEMENT_FIELD`,
//! `REDMINE_REGISTERED_FIELD` (field names; `REDMINE_PROJECT`, default `ci-support`). Without them
//! the live tests say they skipped, or fail when `TELEDESK_LIVE_REQUIRED=1`. Every run addresses
//! its tickets to a chat name of its own, so reruns against one server pass and earlier runs'
//! tickets are not published again.

mod common;

use common::{daemon_logs, spawn_daemon};
use std::sync::Arc;
use std::time::Duration;
use teledesk::demo::{Stage, Target};
use teledesk_adapter::{Helpdesk, TicketId, text::rfc3339_utc};
use teledesk_testkit::conformance::Backstage;
use teledesk_testkit::redmine::{FakeRedmine, RedmineBackstage};
use teledesk_testkit::rt::{FakeRt, RtBackstage};
use teledesk_testkit::telegram::{ChatMessage, FakeTelegram, Outgoing};
use time::OffsetDateTime;
use tokio::process::Child;

const WAIT: Duration = Duration::from_secs(90);

/// What the test needs of the helpdesk besides the stage's own setup.
struct Setup {
    /// Staff, acting through the vendor's REST API with the address fields set up.
    backstage: Arc<dyn Backstage>,
    /// `[helpdesks.main]` keys (TOML values) that name the address fields.
    helpdesk_options: Vec<(&'static str, String)>,
    /// The ticket-table path of the registration time field (`[[chats]] registered_at`).
    registered_at: String,
}

const RT_VARS: [&str; 5] = [
    "RT_URL",
    "RT_TOKEN",
    "RT_CHAT_FIELD",
    "RT_ANNOUNCEMENT_FIELD",
    "RT_REGISTERED_FIELD",
];

const REDMINE_VARS: [&str; 5] = [
    "REDMINE_URL",
    "REDMINE_KEY",
    "REDMINE_CHAT_FIELD",
    "REDMINE_ANNOUNCEMENT_FIELD",
    "REDMINE_REGISTERED_FIELD",
];

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The variables' values, or `None` (the test then says it skipped, or fails when
/// `TELEDESK_LIVE_REQUIRED=1`).
fn vars<const N: usize>(names: [&str; N]) -> Option<[String; N]> {
    let values = names.map(env);
    if values.iter().all(Option::is_some) {
        return Some(values.map(Option::unwrap_or_default));
    }
    let missing: Vec<&str> = names
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| *n)
        .collect();
    if std::env::var("TELEDESK_LIVE_REQUIRED").as_deref() == Ok("1") {
        panic!(
            "{} not set but TELEDESK_LIVE_REQUIRED=1",
            missing.join(", ")
        );
    }
    eprintln!(
        "skipped: set {} to run against the live helpdesk",
        missing.join(", ")
    );
    None
}

fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn rt_setup(
    backstage: RtBackstage,
    queue: &str,
    chat: &str,
    announcement: &str,
    registered: &str,
) -> Setup {
    Setup {
        backstage: Arc::new(backstage.with_address_fields(queue, chat, announcement)),
        helpdesk_options: vec![
            ("chat_field", toml_string(chat)),
            ("announcement_field", toml_string(announcement)),
        ],
        registered_at: format!("custom_fields.{registered}"),
    }
}

fn redmine_setup(
    backstage: RedmineBackstage,
    chat: i64,
    announcement: i64,
    registered: i64,
) -> Setup {
    Setup {
        backstage: Arc::new(backstage.with_address_fields(chat, announcement)),
        helpdesk_options: vec![
            ("chat_field_id", chat.to_string()),
            ("announcement_field_id", announcement.to_string()),
        ],
        registered_at: format!("custom_fields.{registered}"),
    }
}

/// The staff side and fields of the stage's helpdesk: its fake's, or those of the live server
/// the variables name.
async fn setup(stage: &Stage) -> Setup {
    if let Some(fake) = stage.helpdesk.fake::<FakeRt>() {
        return rt_setup(
            RtBackstage::new(&fake.url(), &fake.staff_token()),
            "General",
            FakeRt::CF_CHAT,
            FakeRt::CF_ANNOUNCEMENT,
            FakeRt::CF_REGISTERED,
        );
    }
    if let Some(fake) = stage.helpdesk.fake::<FakeRedmine>() {
        let backstage = RedmineBackstage::connect(
            &fake.url(),
            &fake.admin_key(),
            FakeRedmine::PROJECT_IDENTIFIER,
        )
        .await
        .unwrap_or_else(|e| panic!("redmine staff side: {e}"));
        return redmine_setup(
            backstage,
            fake.add_custom_field("Telegram chat", "string", true),
            fake.add_custom_field("Announcement", "bool", true),
            fake.add_custom_field("Registered", "string", false),
        );
    }
    match stage.helpdesk.kind {
        "rt" => {
            let [url, token, chat, announcement, registered] = vars(RT_VARS).expect("checked");
            let queue = env("RT_QUEUE").unwrap_or_else(|| "CI Support".to_owned());
            let backstage = RtBackstage::new(&url, &token).with_integration_token(&token);
            rt_setup(backstage, &queue, &chat, &announcement, &registered)
        }
        "redmine" => {
            let [url, key, chat, announcement, registered] = vars(REDMINE_VARS).expect("checked");
            let project = env("REDMINE_PROJECT").unwrap_or_else(|| "ci-support".to_owned());
            let backstage = RedmineBackstage::connect(&url, &key, &project)
                .await
                .unwrap_or_else(|e| panic!("redmine staff side: {e}"));
            let mut ids = Vec::new();
            for name in [chat, announcement, registered] {
                let id = backstage
                    .custom_field_id(&name)
                    .await
                    .unwrap_or_else(|e| panic!("{name:?}: {e}"));
                ids.push(id);
            }
            redmine_setup(backstage, ids[0], ids[1], ids[2])
        }
        other => panic!("no staff-ticket setup for {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_rt_publishes_staff_tickets_and_records_registration() {
    run(Target::Fake("rt".into())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_redmine_publishes_staff_tickets_and_records_registration() {
    run(Target::Fake("redmine".into())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_request_tracker_publishes_staff_tickets_and_records_registration() {
    if let Some([url, token, ..]) = vars(RT_VARS) {
        run(Target::Live {
            kind: "rt".into(),
            url,
            credential: token,
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_redmine_publishes_staff_tickets_and_records_registration() {
    if let Some([url, key, ..]) = vars(REDMINE_VARS) {
        run(Target::Live {
            kind: "redmine".into(),
            url,
            credential: key,
        })
        .await;
    }
}

/// Whether `text` names ticket `number` (`#123`, not `#1234`).
fn names_ticket(text: &str, number: &str) -> bool {
    let tag = format!("#{number}");
    text.match_indices(&tag)
        .any(|(at, _)| !text[at + tag.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// The bot's messages in `chat` that carry the card of ticket `number`.
fn cards_of(tg: &FakeTelegram, chat: i64, number: &str) -> Vec<ChatMessage> {
    tg.messages(chat)
        .into_iter()
        .filter(|m| m.from_bot && names_ticket(&m.text, number))
        .collect()
}

/// Waits for the bot's message `find` returns, failing with the daemon's log if the daemon
/// exits or nothing comes.
async fn bot_message<F>(stage: &Stage, daemon: &mut Child, what: &str, find: F) -> ChatMessage
where
    F: Fn(&FakeTelegram) -> Option<ChatMessage>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(found) = find(&stage.telegram) {
            return found;
        }
        if let Ok(Some(status)) = daemon.try_wait() {
            panic!("the daemon exited ({status}):\n{}", daemon_logs(stage));
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: nothing in {WAIT:?}; the daemon logged:\n{}",
            daemon_logs(stage)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls the helpdesk until `ticket` has a comment containing `needle`.
async fn comment_reaches(adapter: &dyn Helpdesk, ticket: &TicketId, needle: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let read = adapter.get_ticket(ticket).await;
        if let Ok(read) = &read
            && read.comments.iter().any(|c| c.body.contains(needle))
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{needle:?} never reached ticket {ticket}: {read:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn run(target: Target) {
    let stage = Stage::with_helpdesk(target, 1, "en", "1s")
        .await
        .unwrap_or_else(|e| panic!("stage: {e}"));
    let live = setup(&stage).await;
    let (tg, group, client) = (&stage.telegram, stage.group(), stage.client);
    let unique = format!(
        "{}-{}",
        std::process::id(),
        OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000 % 1_000_000_000_000
    );
    // A chat name of this run's own, which staff address the tickets to.
    let chat_name = format!("Acme e2e {unique}");
    let config = std::fs::read_to_string(&stage.config_path).expect("read config");
    assert!(config.contains("name = \"Acme\"\n"), "{config}");
    std::fs::write(
        &stage.config_path,
        config.replacen("name = \"Acme\"\n", &format!("name = \"{chat_name}\"\n"), 1),
    )
    .expect("write config");
    for (key, value) in &live.helpdesk_options {
        stage.set_helpdesk_option(key, value);
    }
    stage.set_chat_option("registered_at", &toml_string(&live.registered_at));
    let adapter = teledesk::helpdesks::build(&stage.config().helpdesks["main"])
        .unwrap_or_else(|e| panic!("adapter: {e:?}"));

    // The client writes while teledesk is down, so the helpdesk gets the ticket after the
    // message's own date: the date the `registered_at` field must hold.
    let problem = format!("Printer jams on every page {unique}");
    let source = tg.send(group, client, Outgoing::text(&problem));
    tg.send(group, client, Outgoing::text("/ticket").reply_to(source));
    let sent_at = tg
        .messages(group)
        .into_iter()
        .find(|m| m.message_id == source)
        .expect("the client's message")
        .date;
    let sent_at = OffsetDateTime::from_unix_timestamp(sent_at).expect("a date");
    // The outage lasts into the second after next, so a time taken when the ticket is created
    // cannot pass for the message's date.
    while OffsetDateTime::now_utc() < sent_at + time::Duration::seconds(2) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut daemon = spawn_daemon(&stage, 0);
    let needle = problem.clone();
    let client_card = bot_message(&stage, &mut daemon, "the client's ticket card", move |t| {
        t.messages(group)
            .into_iter()
            .find(|m| m.from_bot && m.text.contains(&needle) && m.text.contains('#'))
    })
    .await;
    let client_ticket: String = client_card.text[client_card.text.find('#').expect("#") + 1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let client_ticket = TicketId(client_ticket);
    let stored = live
        .backstage
        .intake_value(&client_ticket, &live.registered_at)
        .await
        .unwrap_or_else(|e| panic!("registered field: {e}"));
    assert_eq!(
        stored.as_deref(),
        Some(rfc3339_utc(sent_at).as_str()),
        "ticket {client_ticket}'s `{}`",
        live.registered_at
    );

    // A staff reply to it reaches the chat: from here on the daemon polls for changes (its first
    // poll only marks where they start).
    let reply = format!("Please send a photo of the jam {unique}");
    live.backstage
        .staff_reply(&client_ticket, &reply, None)
        .await
        .unwrap_or_else(|e| panic!("staff reply: {e}"));
    let needle = reply.clone();
    bot_message(
        &stage,
        &mut daemon,
        "the staff reply to the client",
        move |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(&needle))
        },
    )
    .await;

    // Staff start two tickets for the chat: a message that expects an answer, and a notice.
    let notice = live
        .backstage
        .staff_addressed_ticket(
            &format!("Suspicious login {unique}"),
            "Someone signed in from a new device at 23:10. Was it you?",
            &chat_name,
            false,
        )
        .await
        .unwrap_or_else(|e| panic!("staff ticket: {e}"));
    let announcement = live
        .backstage
        .staff_addressed_ticket(
            &format!("Maintenance on Saturday {unique}"),
            "The service is down from 10:00 to 12:00.",
            &chat_name,
            true,
        )
        .await
        .unwrap_or_else(|e| panic!("announcement: {e}"));
    let notice_number = adapter
        .get_ticket(&notice)
        .await
        .expect("read the staff ticket")
        .reference
        .number;
    let announcement_number = adapter
        .get_ticket(&announcement)
        .await
        .expect("read the announcement")
        .reference
        .number;

    // Published in the chat as a card, from support.
    let number = notice_number.clone();
    let card = bot_message(&stage, &mut daemon, "the staff ticket's card", move |t| {
        cards_of(t, group, &number)
            .into_iter()
            .find(|m| m.text.contains("Suspicious login"))
    })
    .await;
    assert!(card.text.contains("Message from support"), "{}", card.text);
    assert!(card.text.contains("Status"), "{}", card.text);

    // The client's reply becomes a comment on the real ticket.
    let answer = format!("No, it was not us {unique}");
    tg.send(
        group,
        client,
        Outgoing::text(&answer).reply_to(card.message_id),
    );
    comment_reaches(adapter.as_ref(), &notice, &answer).await;

    // A staff reply reaches the chat.
    let reply = format!("We closed that session {unique}");
    live.backstage
        .staff_reply(&notice, &reply, None)
        .await
        .unwrap_or_else(|e| panic!("staff reply: {e}"));
    let needle = reply.clone();
    bot_message(
        &stage,
        &mut daemon,
        "the staff reply in the chat",
        move |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(&needle))
        },
    )
    .await;

    // The announcement: no status, no buttons, no replies expected.
    let number = announcement_number.clone();
    let posted = bot_message(&stage, &mut daemon, "the announcement", move |t| {
        cards_of(t, group, &number)
            .into_iter()
            .find(|m| m.text.contains("Maintenance on Saturday"))
    })
    .await;
    assert!(posted.text.contains("Announcement"), "{}", posted.text);
    assert!(!posted.text.contains("Status"), "{}", posted.text);
    assert!(posted.reply_markup.is_none(), "{:?}", posted.reply_markup);

    // A due time staff set two days ago: the card shows it, marked as missed.
    let past = OffsetDateTime::now_utc() - time::Duration::days(2);
    live.backstage
        .set_due(&notice, past)
        .await
        .unwrap_or_else(|e| panic!("set due: {e}"));
    let number = notice_number.clone();
    let edited = bot_message(
        &stage,
        &mut daemon,
        "the missed due time on the card",
        move |t| {
            cards_of(t, group, &number)
                .into_iter()
                .find(|m| m.text.contains("Resolution due") && m.text.contains("overdue"))
        },
    )
    .await;
    assert_eq!(edited.message_id, card.message_id, "the card is edited");

    // Each staff ticket was published once, however many polls saw it.
    assert_eq!(cards_of(tg, group, &notice_number).len(), 1);
    assert_eq!(cards_of(tg, group, &announcement_number).len(), 1);
    daemon.kill().await.expect("SIGKILL");
}
