//! The pipeline benchmark (issue 13): the real `teledesk` binary against the testkit's fake
//! Telegram and fake helpdesks on loopback, with the helpdesk's latency and rate limit as
//! parameters. Prints one JSON line per figure as it is measured, then a Markdown table with the
//! issue's goal beside each figure.
//!
//! ```text
//! cargo bench --bench pipeline                          # everything (about 25 minutes today)
//! cargo bench --bench pipeline -- --quick               # smaller sizes (about 8 minutes)
//! cargo bench --bench pipeline -- inbound outbound      # some scenarios only
//! cargo bench --bench pipeline -- inbound:znuny         # inbound against one helpdesk only
//! cargo bench --bench pipeline -- --latency-ms 50 --rate 5 --poll-s 10 --mappings 1000000
//! ```
//!
//! Scenarios: `inbound` (client comments → helpdesk writes, at Kaiten's limit and on a Znuny
//! without one), `outbound` (status changes and staff replies → Telegram), `polling` (requests
//! per poll with many open tickets), `footprint` (memory, startup, inbox appends). Every time is
//! compared with a baseline measured in the same run (a bare client) or computed from the limits
//! the fakes enforce (the floors); absolute times depend on the machine.

mod floor;
mod footprint;
mod inbound;
mod outbound;
mod polling;
mod report;
mod world;

use std::time::Duration;
use world::{Kind, Profile};

/// What to run and at which sizes.
pub struct Opts {
    pub quick: bool,
    pub latency: Duration,
    /// Kaiten's rate limit in the fake.
    pub rate: u32,
    pub poll: Duration,
    /// How long a scenario waits for the last change before it reports what it has.
    pub deadline: Duration,
    pub latency_samples: usize,
    pub drain_comments: usize,
    pub drain_tickets: usize,
    /// `(changes, chats)` for each status-change run.
    pub status_runs: Vec<(usize, usize)>,
    pub staff_replies: usize,
    pub open_tickets: usize,
    pub poll_changes: Vec<usize>,
    pub mappings: usize,
}

const SCENARIOS: [&str; 4] = ["inbound", "outbound", "polling", "footprint"];

/// `inbound` against one of its two helpdesks only.
const INBOUND_ALONE: [&str; 2] = ["inbound:kaiten", "inbound:znuny"];

fn usage() -> ! {
    eprintln!(
        "usage: cargo bench --bench pipeline -- [--quick] [--latency-ms N] [--rate N] [--poll-s N] \
         [--mappings N] [--deadline-s N] [{} | {}]...",
        SCENARIOS.join(" | "),
        INBOUND_ALONE.join(" | ")
    );
    std::process::exit(2);
}

fn parse() -> (Opts, Vec<String>) {
    let mut args = std::env::args().skip(1);
    let mut chosen = Vec::new();
    let (mut quick, mut latency, mut rate, mut poll, mut mappings, mut deadline) =
        (false, 20u64, 5u32, 10u64, None, None);
    let number = |args: &mut dyn Iterator<Item = String>| -> u64 {
        args.next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| usage())
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // cargo bench passes this to every bench binary.
            "--bench" => {}
            "--quick" => quick = true,
            "--latency-ms" => latency = number(&mut args),
            "--rate" => rate = u32::try_from(number(&mut args)).unwrap_or_else(|_| usage()),
            "--poll-s" => poll = number(&mut args),
            "--mappings" => mappings = Some(number(&mut args) as usize),
            "--deadline-s" => deadline = Some(number(&mut args)),
            name if SCENARIOS.contains(&name) || INBOUND_ALONE.contains(&name) => {
                chosen.push(name.to_owned())
            }
            _ => usage(),
        }
    }
    if chosen.is_empty() {
        chosen = SCENARIOS.iter().map(|s| (*s).to_owned()).collect();
    }
    let opts = Opts {
        quick,
        latency: Duration::from_millis(latency),
        rate,
        poll: Duration::from_secs(poll),
        deadline: Duration::from_secs(deadline.unwrap_or(if quick { 120 } else { 900 })),
        latency_samples: if quick { 15 } else { 50 },
        drain_comments: if quick { 60 } else { 200 },
        drain_tickets: if quick { 6 } else { 20 },
        status_runs: if quick {
            vec![(100, 10)]
        } else {
            vec![(100, 10), (1_000, 100)]
        },
        staff_replies: if quick { 10 } else { 50 },
        open_tickets: 10_000,
        poll_changes: if quick { vec![0, 10] } else { vec![0, 10, 100] },
        mappings: mappings.unwrap_or(if quick { 100_000 } else { 1_000_000 }),
    };
    (opts, chosen)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(footprint::PROBE) {
        footprint::probe_main(&args[1..]);
        return;
    }
    let (opts, chosen) = parse();
    floor::self_check();
    let kaiten = Profile {
        name: format!("kaiten {} ms {} rps", opts.latency.as_millis(), opts.rate),
        kind: Kind::Kaiten,
        latency: opts.latency,
        rate_limit: Some(opts.rate),
        // The Kaiten adapter's default pace (4.5/s, under the documented 5/s).
        client_rps: Some((f64::from(opts.rate) * 0.9).min(4.5)),
    };
    let unlimited = Profile {
        name: format!("znuny {} ms unlimited", opts.latency.as_millis()),
        kind: Kind::Znuny,
        latency: opts.latency,
        rate_limit: None,
        // A self-hosted server without a limit, and the adapter told so
        // (`requests_per_second = "unlimited"`): `max_in_flight` alone bounds the daemon.
        client_rps: None,
    };
    eprintln!(
        "pipeline benchmark: {} on {} cores{}; the daemon is {}",
        chosen.join(", "),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if opts.quick { ", quick sizes" } else { "" },
        env!("CARGO_BIN_EXE_teledesk")
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut report = report::Report::default();
    runtime.block_on(async {
        for scenario in &chosen {
            let started = std::time::Instant::now();
            match scenario.as_str() {
                "inbound" => {
                    inbound::run(&kaiten, &opts, &mut report).await;
                    inbound::run(&unlimited, &opts, &mut report).await;
                }
                "inbound:kaiten" => inbound::run(&kaiten, &opts, &mut report).await,
                "inbound:znuny" => inbound::run(&unlimited, &opts, &mut report).await,
                "outbound" => {
                    for (changes, chats) in &opts.status_runs {
                        outbound::status_changes(&kaiten, &opts, *changes, *chats, &mut report)
                            .await;
                    }
                    outbound::staff_replies(&kaiten, &opts, opts.staff_replies, &mut report).await;
                }
                "polling" => polling::run(&kaiten, &opts, &mut report).await,
                "footprint" => footprint::run(&kaiten, &opts, &mut report).await,
                _ => unreachable!("checked when parsed"),
            }
            eprintln!(
                "{scenario}: done in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    });
    report.print_table();
}
