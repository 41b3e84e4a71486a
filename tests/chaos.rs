//! Chaos (issue 12.8): the chaos scenario (tests/common/chaos.rs) in CI, from a fixed, printed
//! seed (`TELEDESK_CHAOS_SEED=<n>` replays a run; `cargo run --release --example soak --
//! --minutes N` runs it over and over with new seeds):
//! - on Redmine (self-hosted, no rate limit): 500 client comments and 200 staff replies across 20
//!   tickets in 20 groups;
//! - on Kaiten (the SaaS, 5 requests a second): a smaller burst, for its 429s and outages under
//!   that limit.

#[path = "common/chaos.rs"]
mod chaos;

use std::time::Duration;

fn seed() -> u64 {
    let seed = std::env::var("TELEDESK_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_206);
    eprintln!("chaos seed: {seed} (TELEDESK_CHAOS_SEED={seed} replays it)");
    seed
}

async fn run(plan: chaos::Plan) {
    let outcome = chaos::run(plan, env!("CARGO_BIN_EXE_teledesk").as_ref()).await;
    eprintln!(
        "chaos on {}: {} comments and {} staff replies on {} tickets, 0 lost, 0 doubled, order \
         kept, under {} helpdesk faults, {} Telegram faults, a SIGKILL{}, in {:.1?} (seed {})",
        plan.helpdesk,
        outcome.comments,
        outcome.replies,
        plan.tickets,
        outcome.helpdesk_faults,
        outcome.telegram_faults,
        if outcome.disk_full {
            " and a full disk"
        } else {
            ""
        },
        outcome.elapsed,
        plan.seed,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_comments_and_two_hundred_replies_arrive_once_in_order_under_faults() {
    run(chaos::Plan {
        helpdesk: "redmine",
        requests_per_second: Some(50),
        seed: seed(),
        groups: 20,
        tickets: 20,
        comments_per_ticket: 25,
        replies_per_ticket: 10,
        wait: Duration::from_secs(150),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kaiten_under_its_rate_limit_loses_and_doubles_nothing_under_faults() {
    run(chaos::Plan {
        helpdesk: "kaiten",
        requests_per_second: None,
        seed: seed(),
        groups: 4,
        tickets: 8,
        comments_per_ticket: 6,
        replies_per_ticket: 4,
        wait: Duration::from_secs(150),
    })
    .await;
}
