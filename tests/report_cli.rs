//! `teledesk report` (the real binary) on a store filled through the store API: the figures of
//! each chat for the period, in every format, and a clear refusal while the daemon holds the store.

use std::process::Command;
use teledesk::demo::Stage;
use teledesk::model::{TicketLink, TicketTimes};
use teledesk::store::Store;
use time::macros::datetime;

fn ticket(local: u64, chat_id: i64, times: TicketTimes, rating: Option<u8>) -> TicketLink {
    let mut link: TicketLink = serde_json::from_value(serde_json::json!({
        "local": local,
        "helpdesk": "main",
        "ticket_id": local.to_string(),
        "number": local.to_string(),
        "chat_id": chat_id,
        "source_message_id": local,
        "card_message_id": null,
        "author": {"display_name": "Анна", "telegram_id": 5, "username": null, "company": null},
        "view": {"subject": "s", "description": "", "status": "closed", "state": "",
                 "assignee": null, "resolution": null, "last_comments": []},
        "rendered_hash": null,
        "known_comments": [],
        "created_at": "2026-11-21T12:00:00Z",
    }))
    .unwrap();
    link.times = times;
    link.rating = rating;
    link
}

fn report(stage: &Stage, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_teledesk"))
        .arg("report")
        .arg("--config")
        .arg(&stage.config_path)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_prints_each_chats_figures_for_the_period() {
    let stage = Stage::new(2, "ru", "1s").await;
    let (acme, branch) = (stage.groups[0], stage.groups[1]);
    {
        let store = Store::open(&stage.dir.path().join("store")).unwrap();
        let at = datetime!(2026-11-10 09:00 UTC);
        let minutes = |m| Some(at + time::Duration::minutes(m));
        store
            .write(|tx| {
                tx.put_ticket(&ticket(
                    1,
                    acme,
                    TicketTimes {
                        registered_at: Some(at),
                        first_response_at: minutes(15),
                        resolved_at: minutes(180),
                        ..TicketTimes::default()
                    },
                    Some(5),
                ));
                tx.put_ticket(&ticket(
                    2,
                    acme,
                    TicketTimes {
                        registered_at: Some(at),
                        first_response_at: minutes(45),
                        ..TicketTimes::default()
                    },
                    None,
                ));
                tx.put_ticket(&ticket(
                    3,
                    branch,
                    TicketTimes {
                        registered_at: Some(datetime!(2026-10-01 09:00 UTC)),
                        ..TicketTimes::default()
                    },
                    None,
                ));
                Ok(())
            })
            .unwrap();
        store.flush().await.unwrap();
    }
    let (ok, table, err) = report(&stage, &["--from", "2026-11-01", "--to", "30.11.2026"]);
    assert!(ok, "{err}");
    // The chat's id varies by run; a placeholder of its width keeps the columns.
    let id = acme.to_string();
    let table = table.replace(&id, &format!("{:<1$}", "<acme>", id.len()));
    insta::assert_snapshot!(table, @r"
              chat  company  opened  closed  reopened  first response median  first response p90  resolution median  resolution p90  ratings  rating mean  SLA breaches  by category
    <acme>          Acme          2       1         0                    15m                 45m             3h 00m          3h 00m        1         5.00             0  —
    ");

    let (ok, csv, _) = report(
        &stage,
        &[
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-31",
            "--format",
            "csv",
            "--chat",
            &branch.to_string(),
        ],
    );
    assert!(ok);
    assert_eq!(
        csv.lines().nth(1),
        Some(format!("{branch},Acme branch 1,1,0,0,,,,,0,,0,").as_str()),
        "{csv}"
    );
    let (ok, json, _) = report(
        &stage,
        &[
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--format",
            "json",
        ],
    );
    assert!(ok);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["rows"][0]["first_response"]["median_secs"], 900);

    let (ok, _, err) = report(&stage, &["--from", "2026-11-30", "--to", "2026-11-01"]);
    assert!(!ok && err.contains("--from is after --to"), "{err}");

    // While the daemon runs, the store is taken: the command says what to do.
    let daemon = stage.start(teledesk::daemon::Options::default()).await;
    let (ok, _, err) = report(&stage, &["--from", "2026-11-01", "--to", "2026-11-30"]);
    assert!(!ok && err.contains("stop it first"), "{err}");
    daemon.shutdown().await;
}
