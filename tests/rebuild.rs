//! `teledesk rebuild` (the real binary), against every helpdesk's fake: after an end-to-end run the
//! store is deleted and rebuilt from the helpdesk, and the next staff reply still reaches the
//! ticket's thread in Telegram, the client's answer reaches the same ticket, and nothing said
//! before the loss is said again.

use std::process::Command;
use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::{Stage, StagedHelpdesk, Target};
use teledesk_testkit::telegram::{ChatMessage, Outgoing};

const WAIT: Duration = Duration::from_secs(60);

macro_rules! fake_kind {
    ($($test:ident => $kind:literal),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                a_lost_store_is_rebuilt_and_sync_goes_on($kind).await;
            }
        )*

        #[test]
        fn every_fake_kind_has_a_test() {
            let tested = [$($kind),*];
            assert_eq!(tested.as_slice(), StagedHelpdesk::FAKE_KINDS);
        }
    };
}

fake_kind! {
    kaiten_rebuilds_a_lost_store => "kaiten",
    znuny_rebuilds_a_lost_store => "znuny",
    glpi_rebuilds_a_lost_store => "glpi",
    rt_rebuilds_a_lost_store => "rt",
    zammad_rebuilds_a_lost_store => "zammad",
    redmine_rebuilds_a_lost_store => "redmine",
}

async fn a_lost_store_is_rebuilt_and_sync_goes_on(kind: &str) {
    let stage = Stage::with_helpdesk(Target::Fake(kind.into()), 1, "en", "1s")
        .await
        .unwrap();
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let backstage = stage.helpdesk.backstage.clone();
    let daemon = stage.start(Options::default()).await;
    let source = tg.send(group, ann, Outgoing::text("The printer jams"));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    let link = tg
        .wait_until(WAIT, "the ticket and its card", |_| {
            daemon
                .tickets()
                .into_iter()
                .find(|l| l.ticket_id.is_some() && l.card_message_id.is_some())
        })
        .await;
    let (ticket, number) = (
        link.ticket_id.clone().unwrap(),
        link.number.clone().unwrap(),
    );
    let old_card = link.card_message_id.unwrap();
    backstage
        .staff_reply(&ticket, "Open the tray, please.", None)
        .await
        .unwrap();
    let old_reply = bot_message(&stage, "the first staff reply", |m| {
        m.text.contains("Open the tray")
    })
    .await;
    if kind == "kaiten" {
        // A card staff made themselves carries no key: not teledesk's, not mapped.
        stage.kaiten.staff_create_card("Internal task");
    }
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
        "{kind}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("mapped    main #{number}")),
        "{kind}: {stdout}"
    );
    assert!(stdout.contains("1 ticket(s) mapped"), "{kind}: {stdout}");

    let daemon = stage.start(Options::default()).await;
    let new_card = bot_message(&stage, "a fresh card answering the source message", |m| {
        m.message_id != old_card && m.text.contains(&format!("#{number}"))
    })
    .await;
    assert_eq!(new_card.reply_to, Some(source), "{kind}");
    backstage
        .staff_reply(&ticket, "Then restart it.", None)
        .await
        .unwrap();
    // The card shows the newest comments too, and may be edited before the reply is sent.
    let reply = bot_message(&stage, "the staff reply after the rebuild", |m| {
        m.message_id != new_card.message_id && m.text.contains("Then restart it")
    })
    .await;
    assert_eq!(reply.reply_to, Some(new_card.message_id), "{kind}");
    // The client answers the reply: the comment reaches the same ticket.
    tg.send(
        group,
        ann,
        Outgoing::text("Restarted, works now").reply_to(reply.message_id),
    );
    // A reply to a message from before the rebuild (no store knows its id any more) reaches it
    // too: a supergroup reply names its chain's root, the source message the rebuild indexed.
    tg.send(
        group,
        ann,
        Outgoing::text("The tray was empty").reply_to(old_reply.message_id),
    );
    let helpdesk = daemon.helpdesk("main").unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let read = helpdesk.get_ticket(&ticket).await.unwrap();
        let has = |text: &str| read.comments.iter().any(|c| c.body.contains(text));
        if has("Restarted, works now") && has("The tray was empty") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{kind}: the client's comments never reached the ticket: {read:#?}"
        );
        // The helpdesk is read, not watched: ask again shortly.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let said = |text: &str| {
        tg.messages(group)
            .iter()
            .filter(|m| {
                m.from_bot && m.text.contains(text) && !m.text.contains(&format!("#{number}"))
            })
            .count()
    };
    assert_eq!(
        said("Open the tray"),
        1,
        "{kind}: the old reply is mirrored again"
    );
    assert_eq!(said("Then restart it"), 1, "{kind}");
    daemon.shutdown().await;
}

async fn bot_message(
    stage: &Stage,
    what: &str,
    matches: impl Fn(&ChatMessage) -> bool,
) -> ChatMessage {
    let group = stage.group();
    stage
        .telegram
        .wait_until(WAIT, what, |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && matches(m))
        })
        .await
}
