//! What the tests of the real daemon binary share: starting it on a stage's config and reading
//! what it logged.

use std::process::Stdio;
use teledesk::demo::Stage;
use tokio::process::{Child, Command};

/// Starts `teledesk run` on the stage's config; run `n` logs to `daemon-<n>.log` in the stage's
/// directory. Killed when dropped.
#[allow(dead_code)]
pub fn spawn_daemon(stage: &Stage, run: usize) -> Child {
    spawn_daemon_with_env(stage, run, &[])
}

/// [`spawn_daemon`] with more environment variables (systemd's `NOTIFY_SOCKET`, say).
#[allow(dead_code)]
pub fn spawn_daemon_with_env(stage: &Stage, run: usize, env: &[(&str, &str)]) -> Child {
    let log = std::fs::File::create(stage.dir.path().join(format!("daemon-{run}.log"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_teledesk"))
        .envs(env.iter().copied())
        .arg("run")
        .arg("--config")
        .arg(&stage.config_path)
        // TELEDESK_TEST_LOG gives a failing run more to say (`teledesk=debug`).
        .env(
            "TELEDESK_LOG",
            std::env::var("TELEDESK_TEST_LOG").unwrap_or_else(|_| "warn,teledesk=info".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .expect("the daemon binary starts")
}

/// Every run's log, oldest first, for a failure message.
pub fn daemon_logs(stage: &Stage) -> String {
    (0..)
        .map_while(|run| {
            std::fs::read_to_string(stage.dir.path().join(format!("daemon-{run}.log"))).ok()
        })
        .collect::<Vec<_>>()
        .join("\n----- restart -----\n")
}
