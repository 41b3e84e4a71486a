//! `teledesk rebuild` (the real binary): after an end-to-end run the store is deleted, rebuilt from
//! Kaiten's cards, and the next staff reply still reaches the ticket's thread in Telegram, while
//! nothing said before the loss is said again.

use std::process::Command;
use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk_testkit::telegram::Outgoing;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_store_is_rebuilt_from_the_helpdesk_and_sync_goes_on() {
    let stage = Stage::new(1, "en", "1s").await;
    let (tg, kaiten, group, ann) = (&stage.telegram, &stage.kaiten, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let (source, card) = stage.ticket_in_group("The printer jams", WAIT).await;
    let old_card = tg
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
    // A card staff made themselves carries no key: not teledesk's, not mapped.
    kaiten.staff_create_card("Internal task");
    daemon.shutdown().await;

    std::fs::remove_dir_all(stage.dir.path().join("store")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_teledesk"))
        .args(["rebuild", "--config"])
        .arg(&stage.config_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("mapped    main #{card}")),
        "{stdout}"
    );
    assert!(stdout.contains("1 ticket(s) mapped"), "{stdout}");

    let daemon = stage.start(Options::default()).await;
    let new_card = tg
        .wait_until(WAIT, "a fresh card answering the source message", |t| {
            t.messages(group).into_iter().find(|m| {
                m.from_bot
                    && m.message_id != old_card.message_id
                    && m.text.contains(&format!("#{card}"))
            })
        })
        .await;
    assert_eq!(new_card.reply_to, Some(source));
    kaiten.staff_reply(card, "Ivan Petrov", "Then restart it.");
    let reply = tg
        .wait_until(WAIT, "the staff reply after the rebuild", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains("Then restart it"))
        })
        .await;
    assert_eq!(reply.reply_to, Some(new_card.message_id));
    // The client answers the reply: the comment reaches the same card.
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
    let said = |text: &str| {
        tg.messages(group)
            .iter()
            .filter(|m| {
                m.from_bot && m.text.contains(text) && !m.text.contains(&format!("#{card}"))
            })
            .count()
    };
    assert_eq!(
        said("Open the tray"),
        1,
        "the old reply is not mirrored again"
    );
    assert_eq!(said("Then restart it"), 1);
    assert_eq!(kaiten.cards().len(), 2, "no card created by the rebuild");
    daemon.shutdown().await;
}
