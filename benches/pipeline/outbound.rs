//! Helpdesk → Telegram: many cards changing status at once, and a burst of staff replies on one
//! ticket. How long until Telegram shows the last change, against the least time Telegram's and
//! the helpdesk's limits allow; 429s; edits per card; helpdesk reads per change.

use crate::report::{Goal, Report};
use crate::world::{CallKind, Profile, World};
use crate::{Opts, floor};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use teledesk_testkit::kaiten::FakeKaiten;
use teledesk_testkit::telegram::FakeTelegram;

/// What the card of a ticket in progress shows (English).
const IN_PROGRESS: &str = "In progress";

/// `changes` cards, spread evenly over `chats` groups, all move to «In progress» at once.
pub async fn status_changes(
    profile: &Profile,
    opts: &Opts,
    changes: usize,
    chats: usize,
    report: &mut Report,
) {
    let scenario = format!("outbound/{}", profile.name);
    let world = World::new(profile, chats, opts.poll).await;
    let seeded = world.seed_kaiten_tickets(changes).await;
    let daemon = world.spawn().await;
    // The first poll takes "now" as its cursor without asking Kaiten anything.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let kaiten = world.desk.kaiten().clone();
    let (tg_from, desk_from) = (world.tg.calls().len(), world.desk.call_count());

    let started = Instant::now();
    for (_, _, card) in &seeded {
        kaiten.move_to_column(*card, FakeKaiten::COLUMN_IN_PROGRESS);
    }
    let targets: Vec<(i64, i32)> = seeded.iter().map(|(c, m, _)| (*c, *m)).collect();
    let (shown, elapsed) =
        wait_shown(&world.tg, &targets, IN_PROGRESS, started, opts.deadline).await;
    let tg_calls = &world.tg.calls()[tg_from..];
    let desk_calls = &world.desk.calls()[desk_from..];
    daemon.stop();

    let note = format!(
        "{changes} cards over {chats} chats, poll every {:?}",
        opts.poll
    );
    let finished = shown == changes;
    let label = |what: &str| format!("{changes} status changes: {what}");
    report.add(
        &scenario,
        &label("time to the last visible change"),
        elapsed.as_secs_f64(),
        "s",
        (changes <= 100).then_some(Goal::AtMost(opts.poll.as_secs_f64() + 8.0)),
        if finished {
            note.clone()
        } else {
            format!("{note}; STOPPED at the deadline with {shown} of {changes} shown")
        },
    );
    let tg_floor = floor::telegram(&vec![changes / chats; chats]);
    report.add(
        &scenario,
        &label("time / Telegram's floor"),
        elapsed.as_secs_f64() / tg_floor.as_secs_f64().max(0.001),
        "×",
        None,
        format!(
            "one edit per card under the fake's limits: {:.1} s",
            tg_floor.as_secs_f64()
        ),
    );
    let rate = f64::from(profile.rate_limit.unwrap_or(5));
    // Seeing the changes takes one page of the changed-cards feed per 100 cards and the comment
    // feed's page; nothing else need be read for a change of status.
    let hd_floor = floor::helpdesk(changes.div_ceil(100) + 1, rate);
    report.add(
        &scenario,
        &label("time / (poll interval + helpdesk's floor)"),
        elapsed.as_secs_f64() / (opts.poll + hd_floor).as_secs_f64(),
        "×",
        None,
        format!(
            "{} list requests at {rate}/s after waiting up to one poll interval",
            changes.div_ceil(100) + 1
        ),
    );
    let refused = tg_calls.iter().filter(|c| c.status == 429).count();
    report.add(
        &scenario,
        &label("Telegram 429s"),
        refused as f64,
        "",
        Some(Goal::AtMost(0.0)),
        "",
    );
    let edits = edits_of(tg_calls, &targets);
    report.add(
        &scenario,
        &label("edits per card"),
        edits.values().sum::<usize>() as f64 / changes as f64,
        "",
        Some(Goal::AtMost(1.0)),
        format!("at most {} on one card", edits.values().max().unwrap_or(&0)),
    );
    let reads = desk_calls
        .iter()
        .filter(|c| matches!(c.kind, CallKind::TicketRead | CallKind::CommentRead))
        .count();
    report.add(
        &scenario,
        &label("helpdesk reads per change"),
        reads as f64 / changes as f64,
        "",
        Some(Goal::AtMost(0.1)),
        format!(
            "{} requests in all, {} of them lists",
            desk_calls.len(),
            desk_calls
                .iter()
                .filter(|c| c.kind == CallKind::List)
                .count()
        ),
    );
}

/// Staff write `replies` public replies on one ticket within a second.
pub async fn staff_replies(profile: &Profile, opts: &Opts, replies: usize, report: &mut Report) {
    let scenario = format!("outbound/{}", profile.name);
    let world = World::new(profile, 1, opts.poll).await;
    let seeded = world.seed_kaiten_tickets(1).await;
    let (chat, card_message, card) = seeded[0];
    let daemon = world.spawn().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let kaiten = world.desk.kaiten().clone();
    let (tg_from, desk_from) = (world.tg.calls().len(), world.desk.call_count());

    let started = Instant::now();
    for i in 0..replies {
        kaiten.staff_reply(
            card,
            "Ivan Petrov",
            &format!("bench-reply-{i}: we are on it"),
        );
        tokio::time::sleep(Duration::from_secs(1) / replies as u32).await;
    }
    let deadline = started + opts.deadline;
    let mut shown;
    loop {
        let messages = world.tg.messages(chat);
        shown = (0..replies)
            .filter(|i| {
                let marker = format!("bench-reply-{i}:");
                messages
                    .iter()
                    .any(|m| m.from_bot && m.text.contains(&marker) && m.message_id != card_message)
            })
            .count();
        if shown == replies || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    let tg_calls = &world.tg.calls()[tg_from..];
    let desk_calls = &world.desk.calls()[desk_from..];
    daemon.stop();

    let label = |what: &str| format!("{replies} staff replies on one ticket: {what}");
    report.add(
        &scenario,
        &label("time to the last reply shown"),
        elapsed.as_secs_f64(),
        "s",
        None,
        if shown == replies {
            format!("written within 1 s; poll every {:?}", opts.poll)
        } else {
            format!("STOPPED at the deadline with {shown} of {replies} shown")
        },
    );
    let tg_floor = floor::telegram(&[replies]);
    report.add(
        &scenario,
        &label("time / Telegram's floor"),
        elapsed.as_secs_f64() / tg_floor.as_secs_f64().max(0.001),
        "×",
        None,
        format!(
            "{replies} messages in one group under the fake's limits: {:.1} s",
            tg_floor.as_secs_f64()
        ),
    );
    let rate = f64::from(profile.rate_limit.unwrap_or(5));
    let hd_floor = floor::helpdesk(2, rate);
    report.add(
        &scenario,
        &label("time / (poll interval + helpdesk's floor)"),
        elapsed.as_secs_f64() / (opts.poll + hd_floor).as_secs_f64(),
        "×",
        None,
        "the comment feed's page and the ticket's comments, after up to one poll interval",
    );
    report.add(
        &scenario,
        &label("Telegram 429s"),
        tg_calls.iter().filter(|c| c.status == 429).count() as f64,
        "",
        Some(Goal::AtMost(0.0)),
        "",
    );
    let edits = edits_of(tg_calls, &[(chat, card_message)]);
    report.add(
        &scenario,
        &label("edits of the card"),
        edits.values().sum::<usize>() as f64,
        "",
        None,
        "the card shows the three newest comments",
    );
    report.add(
        &scenario,
        &label("helpdesk requests"),
        desk_calls.len() as f64,
        "",
        None,
        format!(
            "{} ticket reads, {} comment reads, {} lists",
            desk_calls
                .iter()
                .filter(|c| c.kind == CallKind::TicketRead)
                .count(),
            desk_calls
                .iter()
                .filter(|c| c.kind == CallKind::CommentRead)
                .count(),
            desk_calls
                .iter()
                .filter(|c| c.kind == CallKind::List)
                .count()
        ),
    );
}

/// Waits until every `(chat, message)` of `targets` shows `text` (or `deadline` from `started`
/// passed); returns how many do and when the last one was seen.
pub async fn wait_shown(
    tg: &FakeTelegram,
    targets: &[(i64, i32)],
    text: &str,
    started: Instant,
    deadline: Duration,
) -> (usize, Duration) {
    let mut by_chat: HashMap<i64, Vec<i32>> = HashMap::new();
    for (chat, message) in targets {
        by_chat.entry(*chat).or_default().push(*message);
    }
    loop {
        let shown: usize = by_chat
            .iter()
            .map(|(chat, wanted)| {
                let messages = tg.messages(*chat);
                wanted
                    .iter()
                    .filter(|id| {
                        messages
                            .iter()
                            .any(|m| m.message_id == **id && m.text.contains(text))
                    })
                    .count()
            })
            .sum();
        let elapsed = started.elapsed();
        if shown == targets.len() || elapsed >= deadline {
            return (shown, elapsed);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Successful edits of each target message among `calls`.
fn edits_of(
    calls: &[teledesk_testkit::telegram::RecordedCall],
    targets: &[(i64, i32)],
) -> HashMap<(i64, i32), usize> {
    let mut edits: HashMap<(i64, i32), usize> = targets.iter().map(|t| (*t, 0)).collect();
    for call in calls {
        if !call.method.to_ascii_lowercase().starts_with("editmessage") || call.status != 200 {
            continue;
        }
        let key = (
            call.params["chat_id"].as_i64().unwrap_or_default(),
            call.params["message_id"]
                .as_i64()
                .and_then(|id| i32::try_from(id).ok())
                .unwrap_or_default(),
        );
        if let Some(n) = edits.get_mut(&key) {
            *n += 1;
        }
    }
    edits
}
