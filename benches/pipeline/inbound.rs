//! Client → helpdesk: how long a client's comment waits in the daemon before its helpdesk write
//! starts, what it costs in CPU, and how fast a burst of comments drains compared with a bare
//! client making the same writes one after another.

use crate::Opts;
use crate::report::{Goal, Report, quantile};
use crate::world::{CallKind, Desk, Profile, World};
use std::time::{Duration, Instant};
use teledesk_adapter::{CommentDraft, IdempotencyKey, Requester, TicketId};
use teledesk_testkit::telegram::Outgoing;

/// One ticket the daemon made from a client's `/ticket`.
struct Ticket {
    group: i64,
    card_message: i32,
    id: TicketId,
}

pub async fn run(profile: &Profile, opts: &Opts, report: &mut Report) {
    let scenario = format!("inbound/{}", profile.name);
    let tickets = opts.drain_tickets;
    let world = World::new(profile, tickets, opts.poll).await;
    let daemon = world.spawn().await;
    let made = make_tickets(&world, tickets).await;
    daemon
        .wait_idle(Duration::from_millis(300), Duration::from_secs(300))
        .await;
    // Idle includes the helpdesk's rate limit. The adapter lets `limit` requests go in any window
    // of `limit / rps` (Kaiten: 5 per 1.11 s), background work never the last of them, so a
    // client's comment goes at once only if no other client request went in its window: the
    // setup's last ticket writes must be out of it, and so must the previous comment (sent
    // back to back, 50 comments ran at 4.35 a second against the adapter's 4.5, and a poll's
    // reads among them pushed a comment half a second). A comment waiting for that window
    // would measure the rate limit's use, not the daemon.
    let window = match (profile.rate_limit, profile.client_rps) {
        (Some(limit), Some(rps)) => Duration::from_secs_f64(f64::from(limit) / rps),
        _ => Duration::ZERO,
    };
    tokio::time::sleep(window).await;

    // One comment at a time, the daemon otherwise idle (its polls go on as they would).
    let mut waits = Vec::new();
    let cpu_before = daemon.cpu();
    for i in 0..opts.latency_samples {
        let ticket = &made[i % made.len()];
        let marker = format!("bench-single-{i}");
        let from = world.desk.call_count();
        let sent = Instant::now();
        let sent_utc = time::OffsetDateTime::now_utc();
        world.tg.send(
            ticket.group,
            world.client,
            Outgoing::text(&format!("{marker}: still broken")).reply_to(ticket.card_message),
        );
        let started = world
            .desk
            .wait_until(Duration::from_secs(120), "the comment's write", || {
                comment_writes(&world.desk, from, &marker)
                    .first()
                    .map(|c| c.received_at)
            })
            .await;
        let wait_ms = started.saturating_duration_since(sent).as_secs_f64() * 1000.0;
        if std::env::var_os("TELEDESK_BENCH_LOG").is_some() {
            // To find a slow comment in the daemon's log.
            eprintln!(
                "{marker} on {}: sent {sent_utc}, write started after {wait_ms:.2} ms",
                ticket.id.0
            );
        }
        waits.push(wait_ms);
        daemon
            .wait_idle(Duration::from_millis(100), Duration::from_secs(120))
            .await;
        tokio::time::sleep_until((started + window).into()).await;
    }
    let cpu = daemon.cpu().saturating_sub(cpu_before);
    waits.sort_by(f64::total_cmp);
    let latency_ms = profile.latency.as_millis();
    for (name, p, goal) in [
        ("update → write started, p50", 0.5, Some(Goal::AtMost(5.0))),
        ("update → write started, p95", 0.95, None),
        (
            "update → write started, p99",
            0.99,
            Some(Goal::AtMost(10.0)),
        ),
    ] {
        report.add(
            &scenario,
            name,
            quantile(&waits, p),
            "ms",
            goal,
            format!(
                "{} comments one at a time, idle daemon; helpdesk answers in {latency_ms} ms",
                waits.len()
            ),
        );
    }
    report.add(
        &scenario,
        "CPU per comment (one at a time)",
        cpu.as_secs_f64() * 1000.0 / opts.latency_samples as f64,
        "ms",
        None,
        "daemon process, user + system, including its card edits and polls meanwhile",
    );

    // A burst: every comment queued at once, spread over the tickets.
    let per_ticket = opts.drain_comments / made.len();
    let total = per_ticket * made.len();
    let from = world.desk.call_count();
    let cpu_before = daemon.cpu();
    let sent = Instant::now();
    for j in 0..per_ticket {
        for (t, ticket) in made.iter().enumerate() {
            world.tg.send(
                ticket.group,
                world.client,
                Outgoing::text(&format!("bench-burst-{t}-{j}: more details"))
                    .reply_to(ticket.card_message),
            );
        }
    }
    world
        .desk
        .wait_until(
            Duration::from_secs(opts.deadline.as_secs().max(600)),
            "every comment of the burst written",
            || {
                (comment_writes(&world.desk, from, "bench-burst-")
                    .iter()
                    .filter(|c| c.status < 300)
                    .count()
                    >= total)
                    .then_some(())
            },
        )
        .await;
    let drained = sent.elapsed();
    let drain_calls = world.desk.call_count() - from;
    daemon
        .wait_idle(Duration::from_millis(300), Duration::from_secs(600))
        .await;
    let cpu = daemon.cpu().saturating_sub(cpu_before);
    // The daemon's own writes show up in the polls after the drain: the window runs until the
    // third poll after it. Every read in it counts, the member sweep's own included (a few per
    // poll), which the goal leaves room for.
    let after = world.desk.call_count();
    let end = world.desk.wait_polls(after, 3, opts.poll).await[2];
    let calls = &world.desk.calls()[from..end];
    let count = |kind: CallKind| calls.iter().filter(|c| c.kind == kind).count();
    let reads = count(CallKind::TicketRead) + count(CallKind::CommentRead);
    daemon.stop();

    let bare_from = world.desk.call_count();
    let sequential = bare_client(&world, &made, per_ticket).await;
    let bare_calls = &world.desk.calls()[bare_from..];
    let bare_refused = bare_calls.iter().filter(|c| c.status == 429).count();
    let note = format!(
        "{total} comments over {} tickets, all queued at once",
        made.len()
    );
    report.add(
        &scenario,
        "burst drain time",
        drained.as_secs_f64(),
        "s",
        None,
        note.clone(),
    );
    report.add(
        &scenario,
        "burst: speed-up over a sequential client",
        sequential.as_secs_f64() / drained.as_secs_f64(),
        "×",
        profile.rate_limit.is_none().then_some(Goal::AtLeast(10.0)),
        format!(
            "the same {total} writes one after another through the same adapter: {:.1} s, \
             {} requests, {bare_refused} refused with 429",
            sequential.as_secs_f64(),
            bare_calls.len()
        ),
    );
    if let Some(rate) = profile.rate_limit {
        let floor = crate::floor::helpdesk(total, f64::from(rate));
        report.add(
            &scenario,
            "burst: drain time / rate-limit floor",
            drained.as_secs_f64() / floor.as_secs_f64(),
            "×",
            Some(Goal::AtMost(1.1)),
            format!(
                "{total} writes at {rate} requests/s: {:.1} s",
                floor.as_secs_f64()
            ),
        );
    }
    report.add(
        &scenario,
        "burst: helpdesk reads per comment",
        reads as f64 / total as f64,
        "",
        Some(Goal::AtMost(0.1)),
        format!(
            "{drain_calls} requests during the drain; until the 3rd poll after it {}: {} writes, \
             {} ticket reads, {} comment reads, {} lists",
            calls.len(),
            count(CallKind::CommentWrite),
            count(CallKind::TicketRead),
            count(CallKind::CommentRead),
            count(CallKind::List)
        ),
    );
    report.add(
        &scenario,
        "CPU per comment (burst)",
        cpu.as_secs_f64() * 1000.0 / total as f64,
        "ms",
        None,
        "daemon process, until its queues were empty",
    );
}

/// The comment writes since call `from` whose body carries `marker`.
fn comment_writes(desk: &Desk, from: usize, marker: &str) -> Vec<crate::world::Call> {
    desk.calls()
        .into_iter()
        .skip(from)
        .filter(|c| c.kind == CallKind::CommentWrite && c.body.contains(marker))
        .collect()
}

/// The client turns a message in each group into a ticket with `/ticket`; waits until each card
/// is registered (shows its number) in Telegram.
async fn make_tickets(world: &World, count: usize) -> Vec<Ticket> {
    for (i, group) in world.groups.iter().take(count).enumerate() {
        let source = world.tg.send(
            *group,
            world.client,
            Outgoing::text(&format!(
                "bench-ticket-{i}: the printer in branch {i} is broken"
            )),
        );
        world.tg.send(
            *group,
            world.client,
            Outgoing::text("/ticket").reply_to(source),
        );
    }
    let cards: Vec<(i64, i32)> = world
        .tg
        .wait_until(
            Duration::from_secs(600),
            "every ticket card registered",
            |tg| {
                world
                    .groups
                    .iter()
                    .take(count)
                    .enumerate()
                    .map(|(i, group)| {
                        let marker = format!("bench-ticket-{i}:");
                        tg.messages(*group)
                            .into_iter()
                            .find(|m| {
                                m.from_bot && m.text.contains(&marker) && m.text.contains('#')
                            })
                            .map(|m| (*group, m.message_id))
                    })
                    .collect::<Option<Vec<_>>>()
            },
        )
        .await;
    cards
        .into_iter()
        .enumerate()
        .map(|(i, (group, card_message))| {
            let marker = format!("bench-ticket-{i}:");
            let id = match &world.desk {
                Desk::Kaiten(k) => k
                    .cards()
                    .into_iter()
                    .find(|c| c.title.contains(&marker) || c.description.contains(&marker))
                    .map(|c| c.id.to_string()),
                Desk::Znuny(z) => z
                    .tickets()
                    .into_iter()
                    .find(|t| t.title.contains(&marker))
                    .map(|t| t.id.to_string()),
            }
            .expect("the helpdesk has the ticket");
            Ticket {
                group,
                card_message,
                id: TicketId(id),
            }
        })
        .collect()
}

/// The same comment writes, one after another, through the adapter the daemon builds from the
/// same config (so the same pace and the same requests), with no daemon around it.
async fn bare_client(world: &World, made: &[Ticket], per_ticket: usize) -> Duration {
    // Let the daemon's last requests leave the rate limit's rolling second.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let adapter = world.adapter();
    let author = Requester {
        display_name: "Anna Smirnova".into(),
        telegram_id: world.client,
        username: Some("anna_acme".into()),
        company: Some("Acme 0".into()),
    };
    let started = Instant::now();
    let mut message = 900_000;
    for j in 0..per_ticket {
        for (t, ticket) in made.iter().enumerate() {
            message += 1;
            let draft = CommentDraft {
                key: IdempotencyKey::telegram(ticket.group, message),
                author: author.clone(),
                body: format!("bench-bare-{t}-{j}: more details"),
                attachments: Vec::new(),
                source_url: None,
                written_at: time::OffsetDateTime::now_utc(),
                retry: false,
            };
            adapter
                .add_comment(&ticket.id, &draft)
                .await
                .expect("the bare client's comment");
        }
    }
    started.elapsed()
}
