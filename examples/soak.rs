//! The chaos scenario (issue 12.8) run over and over, each run from a new seed, for as long as
//! asked:
//!
//! ```text
//! cargo run --release --example soak -- --minutes 30 [--seed 1]
//! ```
//!
//! Each run is the one `tests/chaos.rs` makes in CI (500 client comments and 200 staff replies on
//! 20 tickets on the Redmine fake under Redmine and Telegram faults, a full disk where a tmpfs can be mounted, and a
//! SIGKILL) and fails loudly, naming its seed, on anything lost, doubled or out of order. The
//! daemon it drives is this very executable: started as `soak run --config …`, it runs
//! teledesk's own command line, so no separate build of the binary is needed.

#[path = "../tests/common/chaos.rs"]
mod chaos;

use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("run") {
        return teledesk::cli::main();
    }
    let value = |flag: &str| -> Option<u64> {
        let at = args.iter().position(|a| a == flag)?;
        args.get(at + 1)?.parse().ok()
    };
    let minutes = value("--minutes").unwrap_or(10);
    let first_seed = value("--seed").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let exe = std::env::current_exe().expect("the soak's own path");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let deadline = Instant::now() + Duration::from_secs(minutes * 60);
    let (mut runs, mut comments, mut replies, mut faults) = (0, 0, 0, 0);
    let started = Instant::now();
    while Instant::now() < deadline {
        let seed = first_seed + runs;
        let plan = chaos::Plan {
            helpdesk: "redmine",
            requests_per_second: Some(50),
            seed,
            groups: 20,
            tickets: 20,
            comments_per_ticket: 25,
            replies_per_ticket: 10,
            wait: Duration::from_secs(300),
        };
        let outcome = runtime.block_on(chaos::run(plan, &exe));
        runs += 1;
        comments += outcome.comments;
        replies += outcome.replies;
        faults += outcome.helpdesk_faults + outcome.telegram_faults + 1;
        println!(
            "run {runs} (seed {seed}): {} comments, {} staff replies, {} Redmine and {} Telegram \
             faults, a SIGKILL{}: 0 lost, 0 doubled, order kept, in {:.1?}",
            outcome.comments,
            outcome.replies,
            outcome.helpdesk_faults,
            outcome.telegram_faults,
            if outcome.disk_full {
                ", a full disk"
            } else {
                ""
            },
            outcome.elapsed
        );
    }
    println!(
        "soak: {runs} runs in {:.1?}, {comments} comments and {replies} staff replies under \
         {faults} injected faults: 0 lost, 0 doubled, order kept",
        started.elapsed()
    );
    ExitCode::SUCCESS
}
