//! `teledesk export` and `teledesk import` (the real binary) on a store the daemon filled end to
//! end: exported while the daemon runs, the store wiped, the backup imported, exported again
//! byte for byte the same, and the daemon goes on syncing the ticket from the restored store. And
//! the refusals: a store that holds something, a newer format or schema, a backup cut short.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk_testkit::telegram::Outgoing;

const WAIT: Duration = Duration::from_secs(60);

fn teledesk(stage: &Stage, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_teledesk"));
    command.arg(args[0]).arg("--config").arg(&stage.config_path);
    command.args(&args[1..]).output().unwrap()
}

fn export(stage: &Stage) -> Vec<u8> {
    let out = teledesk(stage, &["export"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn import(stage: &Stage, file: &Path, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["import", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = teledesk(stage, &args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_wipe_import_round_trips_and_the_daemon_keeps_syncing() {
    let stage = Stage::new(1, "en", "1s").await;
    let (tg, kaiten, group, ann) = (&stage.telegram, &stage.kaiten, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let (source, card) = stage.ticket_in_group("The printer jams", WAIT).await;
    let card_msg = tg
        .wait_until(WAIT, "the card", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(&format!("#{card}")))
        })
        .await;
    kaiten.staff_reply(card, "Ivan Petrov", "Open the tray, please.");
    tg.wait_until(WAIT, "the first staff reply", |t| {
        t.messages(group)
            .into_iter()
            .any(|m| m.from_bot && m.text.contains("Open the tray"))
            .then_some(())
    })
    .await;
    tg.wait_until(WAIT, "the queues to drain", |_| {
        let q = daemon.queues();
        (q.inbox == 0 && q.jobs == 0 && q.outbox == 0).then_some(())
    })
    .await;

    // While the daemon runs: it answers on its control socket.
    let out = teledesk(&stage, &["export"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("from the running daemon"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = out.stdout;
    let text = String::from_utf8(first.clone()).unwrap();
    let header: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(header["teledesk_export"], 1);
    assert_eq!(header["schema"], teledesk::store::SCHEMA_VERSION);
    assert!(text.contains("\"space\":\"tickets\""), "{text}");
    assert!(text.lines().last().unwrap().starts_with("{\"end\":"));
    daemon.shutdown().await;

    let backup = stage.dir.path().join("backup.jsonl");
    std::fs::write(&backup, &first).unwrap();
    let store = stage.dir.path().join("store");
    // The store is there: an import would mix two stores.
    let (ok, err) = import(&stage, &backup, &[]);
    assert!(!ok && err.contains("--replace"), "{err}");

    std::fs::remove_dir_all(&store).unwrap();
    let (ok, err) = import(&stage, &backup, &[]);
    assert!(ok, "{err}");
    let second = export(&stage);
    assert!(
        first == second,
        "the restored store exports differently:\n{}\n---\n{}",
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second)
    );

    // The restored daemon knows the ticket: nothing is sent again, the next staff reply answers
    // the same card, and a client's reply to it reaches the same Kaiten card.
    let bot_before = tg.messages(group).iter().filter(|m| m.from_bot).count();
    let daemon = stage.start(Options::default()).await;
    kaiten.staff_reply(card, "Ivan Petrov", "Then restart it.");
    let reply = tg
        .wait_until(WAIT, "the staff reply after the restore", |t| {
            // The card shows the newest comments too, and may be edited before the reply is sent.
            t.messages(group).into_iter().find(|m| {
                m.from_bot
                    && m.message_id != card_msg.message_id
                    && m.text.contains("Then restart it")
            })
        })
        .await;
    assert_eq!(reply.reply_to, Some(card_msg.message_id));
    tg.send(
        group,
        ann,
        Outgoing::text("Restarted, works now").reply_to(reply.message_id),
    );
    kaiten
        .wait_until(WAIT, "the client's comment on the card", |k| {
            k.comments(card)
                .iter()
                .any(|c| c.text.contains("Restarted, works now"))
                .then_some(())
        })
        .await;
    let bot_messages: Vec<_> = tg
        .messages(group)
        .into_iter()
        .filter(|m| m.from_bot)
        .collect();
    assert_eq!(
        bot_messages.len(),
        bot_before + 1,
        "one new bot message, the reply: {bot_messages:#?}"
    );
    assert_eq!(kaiten.cards().len(), 1);
    let _ = source;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_newer_formats_and_backups_cut_short() {
    let stage = Stage::new(1, "en", "1s").await;
    let daemon = stage.start(Options::default()).await;
    stage.ticket_in_group("Scanner is down", WAIT).await;
    daemon.shutdown().await;
    let backup = export(&stage);
    let text = String::from_utf8(backup).unwrap();
    let store = stage.dir.path().join("store");
    std::fs::remove_dir_all(&store).unwrap();
    let write = |name: &str, text: &str| {
        let path = stage.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };

    let newer = text.replacen("{\"teledesk_export\":1,", "{\"teledesk_export\":2,", 1);
    let (ok, err) = import(&stage, &write("newer.jsonl", &newer), &[]);
    assert!(
        !ok && err.contains("format 2") && err.contains("newer"),
        "{err}"
    );
    let schema = teledesk::store::SCHEMA_VERSION;
    let newer = text.replacen(
        &format!("\"schema\":{schema},"),
        &format!("\"schema\":{},", schema + 1),
        1,
    );
    let (ok, err) = import(&stage, &write("newer_schema.jsonl", &newer), &[]);
    assert!(
        !ok && err.contains("schema") && err.contains("newer"),
        "{err}"
    );

    // Cut before its last line: refused, and the half-written store with it.
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines[..lines.len() - 1].join("\n") + "\n";
    let (ok, err) = import(&stage, &write("cut.jsonl", &cut), &[]);
    assert!(!ok && err.contains("cut short"), "{err}");
    let out = teledesk(&stage, &["queue", "list"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("did not finish"),
        "{stderr}"
    );
    // A whole backup over it, with --replace, restores it.
    let (ok, err) = import(&stage, &write("whole.jsonl", &text), &["--replace"]);
    assert!(ok, "{err}");
    assert_eq!(export(&stage), text.as_bytes());
}
