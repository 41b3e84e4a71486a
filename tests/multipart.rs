//! Multi-part output resumes where it stopped (issue 11, Telegram item 8): a staff reply long
//! enough for four messages, with Telegram failing one part in turn, reaches the group with every
//! part exactly once and in order. The real daemon runs in-process against the fake Telegram and
//! fake Kaiten; the SIGKILL variant is in `tests/crash.rs`.

use std::time::Duration;
use teledesk::daemon::{Daemon, Options};
use teledesk::demo::Stage;
use teledesk::telegram::pacing::PacingLimits;
use teledesk_testkit::telegram::{ChatMessage, FakeError, Outgoing, TelegramOptions};

const WAIT: Duration = Duration::from_secs(60);
const PARTS: usize = 4;

/// A staff reply of about 3.5 × 4,000 characters, so four messages under any splitter that cuts
/// near Telegram's 4,096 limit. Every line names its reply and its number.
fn long_reply(reply: usize) -> String {
    (0..140)
        .map(|line| format!("r{reply} l{line:03} {}", "x".repeat(92)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The line numbers of `reply` in each of the bot's messages that carry some, other than the
/// ticket card of Kaiten card `card` (which quotes the last comments), in message order.
fn parts_seen(messages: &[ChatMessage], card: i64, reply: usize) -> Vec<Vec<usize>> {
    let marker = format!("r{reply} l");
    let card = format!("#{card}");
    messages
        .iter()
        .filter(|m| m.from_bot && !m.text.contains(&card))
        .map(|m| {
            m.text
                .lines()
                .filter_map(|line| line.strip_prefix(&marker))
                .map(|rest| rest[..3].parse().expect("a line number"))
                .collect::<Vec<usize>>()
        })
        .filter(|lines| !lines.is_empty())
        .collect()
}

/// [`parts_seen`] as all lines in order, and the number of messages.
fn lines_seen(messages: &[ChatMessage], card: i64, reply: usize) -> (Vec<usize>, usize) {
    let parts = parts_seen(messages, card, reply);
    (parts.concat(), parts.len())
}

/// A stage with one ticket whose card is in the group: (stage, daemon, Kaiten card id). Pacing
/// is relaxed on both sides so that the only refusals are the injected ones.
async fn stage_with_ticket() -> (Stage, Daemon, i64) {
    let stage = Stage::with_options(
        1,
        "ru",
        "1s",
        TelegramOptions {
            enforce_limits: false,
            ..TelegramOptions::default()
        },
    )
    .await;
    let daemon = stage
        .start(Options {
            pacing: PacingLimits {
                per_chat_per_second: 4,
                per_chat_burst: 4,
                per_group_per_minute: 600,
                overall_per_second: 30,
            },
            ..Options::default()
        })
        .await;
    let (tg, group) = (&stage.telegram, stage.group());
    let source = tg.send(
        group,
        stage.client,
        Outgoing::text("Принтер печатает пустые листы"),
    );
    tg.send(
        group,
        stage.client,
        Outgoing::text("/ticket").reply_to(source),
    );
    let card = stage
        .kaiten
        .wait_until(WAIT, "the card", |k| k.cards().first().cloned())
        .await;
    tg.wait_until(WAIT, "the ticket card in the group", |t| {
        t.messages(group)
            .into_iter()
            .find(|m| m.from_bot && m.text.contains(&format!("#{}", card.id)))
    })
    .await;
    (stage, daemon, card.id)
}

/// Sends four long replies; reply `k` has `fault` injected at its part `k`. Each must arrive
/// whole: every line once, in order, in exactly four messages, after exactly one failed call.
async fn each_part_once_with_a_fault_at_every_part(fault: FakeError, failed_status: u16) {
    let (stage, daemon, card) = stage_with_ticket().await;
    let (tg, group) = (&stage.telegram, stage.group());
    let sends_in_group = |status: u16| {
        tg.calls()
            .iter()
            .filter(|c| c.method.eq_ignore_ascii_case("sendMessage"))
            .filter(|c| c.params["chat_id"].as_i64() == Some(group) && c.status == status)
            .count()
    };
    for (reply, part) in (1..=PARTS).enumerate() {
        tg.inject_error_at("sendMessage", group, part, fault.clone());
        let failed_before = sends_in_group(failed_status);
        stage
            .kaiten
            .staff_reply(card, "Иван Петров", &long_reply(reply));
        tg.wait_until(WAIT, &format!("reply {reply} complete"), |t| {
            let (lines, _) = lines_seen(&t.messages(group), card, reply);
            (lines.last() == Some(&139)).then_some(())
        })
        .await;
        let (lines, messages) = lines_seen(&tg.messages(group), card, reply);
        assert_eq!(
            lines,
            (0..140).collect::<Vec<_>>(),
            "reply {reply} (fault at part {part}): every line once, in order"
        );
        assert_eq!(
            messages, PARTS,
            "reply {reply} (fault at part {part}): each part once"
        );
        assert_eq!(
            sends_in_group(failed_status),
            failed_before + 1,
            "the fault at part {part} happened"
        );
    }
    // Nothing is still queued that could arrive as a late duplicate.
    stage
        .telegram
        .wait_until(WAIT, "an empty outbox", |_| {
            (daemon.queues().outbox == 0).then_some(())
        })
        .await;
    for reply in 0..PARTS {
        assert_eq!(lines_seen(&tg.messages(group), card, reply).1, PARTS);
    }
    assert_eq!(daemon.queues().dead, 0);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_at_any_part_of_a_long_staff_reply_sends_each_part_once_in_order() {
    each_part_once_with_a_fault_at_every_part(FakeError::TooManyRequests { retry_after: 1 }, 429)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_error_at_any_part_of_a_long_staff_reply_sends_each_part_once_in_order() {
    each_part_once_with_a_fault_at_every_part(FakeError::Disconnect, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_at_a_reply_file_sends_the_text_once_and_the_file_once() {
    let (stage, daemon, card) = stage_with_ticket().await;
    let (tg, group) = (&stage.telegram, stage.group());
    tg.inject_error_at(
        "sendDocument",
        group,
        1,
        FakeError::TooManyRequests { retry_after: 1 },
    );
    stage.kaiten.staff_reply_with_file(
        card,
        "Иван Петров",
        &long_reply(7),
        "act.pdf",
        b"%PDF-1.4 act".to_vec(),
    );
    let file = tg
        .wait_until(WAIT, "the file", |t| {
            t.messages(group).into_iter().find(|m| !m.media.is_empty())
        })
        .await;
    tg.wait_until(WAIT, "an empty outbox", |_| {
        (daemon.queues().outbox == 0).then_some(())
    })
    .await;
    let messages = tg.messages(group);
    let (lines, carrying) = lines_seen(&messages, card, 7);
    assert_eq!(lines, (0..140).collect::<Vec<_>>());
    assert_eq!(carrying, PARTS, "each text part once");
    assert_eq!(
        messages.iter().filter(|m| !m.media.is_empty()).count(),
        1,
        "the file once"
    );
    let last_text = messages
        .iter()
        .filter(|m| m.text.contains("r7 l"))
        .map(|m| m.message_id)
        .max();
    assert!(
        last_text < Some(file.message_id),
        "the file comes after the text"
    );
    let refused = tg
        .calls()
        .iter()
        .filter(|c| c.method.eq_ignore_ascii_case("sendDocument") && c.status == 429)
        .count();
    assert_eq!(refused, 1, "the 429 happened");
    daemon.shutdown().await;
}

/// The one window no client can close: Telegram sends part 2 but its answer is lost. That part
/// alone is sent again; parts 1, 3 and 4 go out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_repeats_that_one_part_only() {
    let (stage, daemon, card) = stage_with_ticket().await;
    let (tg, group) = (&stage.telegram, stage.group());
    tg.inject_error_at("sendMessage", group, 2, FakeError::LostAnswer);
    stage
        .kaiten
        .staff_reply(card, "Иван Петров", &long_reply(0));
    tg.wait_until(WAIT, "the reply complete", |t| {
        let (lines, _) = lines_seen(&t.messages(group), card, 0);
        (lines.last() == Some(&139)).then_some(())
    })
    .await;
    tg.wait_until(WAIT, "an empty outbox", |_| {
        (daemon.queues().outbox == 0).then_some(())
    })
    .await;
    let mut parts = parts_seen(&tg.messages(group), card, 0);
    assert_eq!(parts.len(), PARTS + 1, "{parts:?}");
    assert_eq!(parts[1], parts[2], "part 2 twice, back to back");
    parts.remove(2);
    assert_eq!(parts.concat(), (0..140).collect::<Vec<_>>());
    daemon.shutdown().await;
}

/// A group upgraded to a supergroup while part 2 of a reply is in flight (Telegram sent it, the
/// answer has not arrived, the daemon has already moved the chat's queue): part 2 is recorded on
/// the moved reply, so the supergroup gets parts 3 and 4 only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_in_flight_while_the_group_is_upgraded_is_not_sent_again() {
    let stage = Stage::basic_group("ru", "1s").await;
    let daemon = stage.start(Options::default()).await;
    let (tg, old) = (&stage.telegram, stage.group());
    let source = tg.send(old, stage.client, Outgoing::text("Не печатает принтер"));
    tg.send(
        old,
        stage.client,
        Outgoing::text("/ticket").reply_to(source),
    );
    let card = stage
        .kaiten
        .wait_until(WAIT, "the card", |k| k.cards().first().map(|c| c.id))
        .await;
    tg.wait_until(WAIT, "the ticket card in the group", |t| {
        t.messages(old)
            .into_iter()
            .find(|m| m.from_bot && m.text.contains(&format!("#{card}")))
    })
    .await;

    tg.inject_error_at("sendMessage", old, 2, FakeError::HeldAnswer);
    stage
        .kaiten
        .staff_reply(card, "Иван Петров", &long_reply(0));
    tg.wait_until(WAIT, "part 2 sent, its answer held", |t| {
        (parts_seen(&t.messages(old), card, 0).len() == 2).then_some(())
    })
    .await;
    let new = tg.migrate_to_supergroup(old);
    tg.wait_until(WAIT, "the upgrade taken", |t| {
        (t.unconfirmed_updates() == 0 && daemon.queues().inbox == 0).then_some(())
    })
    .await;
    tg.release_answers();

    tg.wait_until(WAIT, "the rest of the reply in the supergroup", |t| {
        let (lines, _) = lines_seen(&t.messages(new), card, 0);
        (lines.last() == Some(&139)).then_some(())
    })
    .await;
    tg.wait_until(WAIT, "an empty outbox", |_| {
        (daemon.queues().outbox == 0).then_some(())
    })
    .await;
    let in_old = parts_seen(&tg.messages(old), card, 0);
    let in_new = parts_seen(&tg.messages(new), card, 0);
    assert_eq!(
        (in_old.len(), in_new.len()),
        (2, 2),
        "parts 1-2 in the old group, 3-4 in the supergroup: {in_old:?} {in_new:?}"
    );
    assert_eq!(
        [in_old, in_new].concat().concat(),
        (0..140).collect::<Vec<_>>()
    );
    assert_eq!(daemon.queues().dead, 0);
    daemon.shutdown().await;
}

/// Telegram refuses part 3 for good (the bot was removed): staff are told that the client saw
/// only the first two messages, and once the bot is back, `teledesk queue retry` sends parts 3
/// and 4 only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_refused_midway_is_noted_as_partial_and_a_retry_sends_the_rest() {
    let (stage, daemon, card) = stage_with_ticket().await;
    let (tg, group) = (&stage.telegram, stage.group());
    tg.inject_error_at(
        "sendMessage",
        group,
        3,
        FakeError::Api {
            code: 403,
            description: "Forbidden: bot was kicked from the supergroup chat".into(),
        },
    );
    stage
        .kaiten
        .staff_reply(card, "Иван Петров", &long_reply(0));
    let note = stage
        .kaiten
        .wait_until(WAIT, "the note about the partial reply", |k| {
            k.comments(card)
                .into_iter()
                .find(|c| c.internal && c.text.contains("не целиком"))
        })
        .await;
    assert!(note.text.contains("(2)"), "{}", note.text);
    assert_eq!(parts_seen(&tg.messages(group), card, 0).len(), 2);
    assert_eq!(daemon.queues().dead, 1);
    daemon.shutdown().await;

    let retried = std::process::Command::new(env!("CARGO_BIN_EXE_teledesk"))
        .args(["queue", "retry", "--config"])
        .arg(&stage.config_path)
        .output()
        .expect("the binary runs");
    assert!(
        retried.status.success(),
        "{}",
        String::from_utf8_lossy(&retried.stderr)
    );
    let daemon = stage.start(Options::default()).await;
    tg.wait_until(WAIT, "the rest of the reply", |t| {
        let (lines, _) = lines_seen(&t.messages(group), card, 0);
        (lines.last() == Some(&139)).then_some(())
    })
    .await;
    tg.wait_until(WAIT, "an empty outbox", |_| {
        (daemon.queues().outbox == 0).then_some(())
    })
    .await;
    let (lines, messages) = lines_seen(&tg.messages(group), card, 0);
    assert_eq!(lines, (0..140).collect::<Vec<_>>());
    assert_eq!(messages, PARTS);
    assert_eq!(daemon.queues().dead, 0);
    daemon.shutdown().await;
}
