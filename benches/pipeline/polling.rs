//! What watching the helpdesk costs: Kaiten requests per poll cycle with many open tickets, idle
//! and with a few changes.

use crate::Opts;
use crate::outbound::wait_shown;
use crate::report::{Goal, Report};
use crate::world::{Call, CallKind, Profile, World};
use std::time::Instant;
use teledesk_testkit::kaiten::FakeKaiten;

fn is_read(call: &Call) -> bool {
    matches!(call.kind, CallKind::TicketRead | CallKind::CommentRead)
}

pub async fn run(profile: &Profile, opts: &Opts, report: &mut Report) {
    let scenario = format!("polling/{}", profile.name);
    let open = opts.open_tickets;
    let chats = 100.min(open);
    let world = World::new(profile, chats, opts.poll).await;
    let seeding = Instant::now();
    let seeded = world.seed_kaiten_tickets(open).await;
    eprintln!(
        "polling: {open} open tickets laid out in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let daemon = world.spawn().await;
    let kaiten = world.desk.kaiten().clone();

    // Idle cycles: the requests between the starts of consecutive polls.
    let idle_cycles = 3;
    let from = world.desk.call_count();
    let starts = world
        .desk
        .wait_polls(from, idle_cycles + 1, opts.poll)
        .await;
    let calls = world.desk.calls();
    let window = &calls[starts[0]..starts[idle_cycles]];

    let idle_total = window.len() as f64 / idle_cycles as f64;
    let idle_reads = window.iter().filter(|c| is_read(c)).count() as f64 / idle_cycles as f64;
    report.add(
        &scenario,
        &format!("{open} open tickets, 0 changes: requests per poll"),
        idle_total,
        "",
        None,
        format!(
            "{:.1} of them reads of single tickets (the member sweep and what it reports); poll every {:?}",
            idle_reads, opts.poll
        ),
    );

    let mut next_card = 0;
    for changes in opts.poll_changes.iter().copied().filter(|c| *c > 0) {
        // Right after a poll started, so the changes wait for the next one, as they would.
        let from = world.desk.call_count();
        let start = world.desk.wait_polls(from, 1, opts.poll).await[0];
        let chosen = &seeded[next_card..next_card + changes];
        next_card += changes;
        let started = Instant::now();
        for (_, _, card) in chosen {
            kaiten.move_to_column(*card, FakeKaiten::COLUMN_IN_PROGRESS);
        }
        let targets: Vec<(i64, i32)> = chosen.iter().map(|(c, m, _)| (*c, *m)).collect();
        let (shown, elapsed) =
            wait_shown(&world.tg, &targets, "In progress", started, opts.deadline).await;
        // The window closes at the start of the first poll after the last change was shown.
        let after = world.desk.call_count();
        let end = world.desk.wait_polls(after, 1, opts.poll).await[0];
        let calls = world.desk.calls();
        let window = &calls[start..end];
        let cycles = window.iter().filter(|c| c.starts_poll).count().max(1) as f64;
        let reads = window.iter().filter(|c| is_read(c)).count() as f64;
        report.add(
            &scenario,
            &format!("{open} open tickets, {changes} changes: requests per poll"),
            window.len() as f64 / cycles,
            "",
            None,
            format!(
                "{} requests over the {cycles} polls until all were shown ({:.1} s{})",
                window.len(),
                elapsed.as_secs_f64(),
                if shown == changes {
                    String::new()
                } else {
                    format!("; STOPPED with {shown} of {changes} shown")
                }
            ),
        );
        report.add(
            &scenario,
            &format!("{open} open tickets, {changes} changes: extra reads per change"),
            ((reads - cycles * idle_reads) / changes as f64).max(0.0),
            "",
            Some(Goal::AtMost(0.1)),
            "single-ticket reads beyond an idle poll's, per status-only change",
        );
    }
    daemon.stop();
}
