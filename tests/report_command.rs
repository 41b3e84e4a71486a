//! `/report` in the private chat through the real binary on the fakes (issue 14.5): an admin gets
//! the period's figures for the chat (a ticket opened, its first response, a missed deadline
//! counted as an SLA breach); a client who is no admin is refused and learns nothing.

mod common;

use common::{daemon_logs, spawn_daemon};
use std::time::Duration;
use teledesk::demo::Stage;
use teledesk_testkit::telegram::{ChatMessage, FakeTelegram, Outgoing};

const WAIT: Duration = Duration::from_secs(60);

async fn answer(tg: &FakeTelegram, user: i64, needle: &str) -> ChatMessage {
    let needle = needle.to_owned();
    tg.wait_until(WAIT, "the bot's answer", move |t| {
        t.messages(user)
            .into_iter()
            .find(|m| m.from_bot && m.text.contains(&needle))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_gets_the_report_and_a_client_is_refused() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, kaiten) = (&stage.telegram, stage.group(), &stage.kaiten);
    let admin = tg.add_user("Ольга", Some("Админова"), Some("olga_admin"));
    stage.set_admins(&[admin]);
    let mut daemon = spawn_daemon(&stage, 0);

    let run = async {
        let (_, card) = stage.ticket_in_group("Не работает сканер", WAIT).await;
        kaiten.staff_reply(card, "Иван Петров", "Смотрим, перезвоним");
        tg.wait_until(WAIT, "the staff reply in the group", |t| {
            t.messages(group)
                .iter()
                .any(|m| m.from_bot && m.text.contains("перезвоним"))
                .then_some(())
        })
        .await;
        // The card was due an hour ago and is still open: a breach.
        kaiten.set_due_date(
            card,
            time::OffsetDateTime::now_utc() - time::Duration::hours(1),
            true,
        );
        tg.wait_until(WAIT, "the missed deadline on the card", |t| {
            t.messages(group)
                .iter()
                .any(|m| m.from_bot && m.text.contains("просрочено"))
                .then_some(())
        })
        .await;

        tg.set_can_dm(admin, true);
        tg.send(admin, admin, Outgoing::text("/report"));
        let report = answer(tg, admin, "Отчёт с").await;
        let row = report
            .text
            .lines()
            .find(|l| l.contains("Acme"))
            .unwrap_or_else(|| panic!("no row for the chat:\n{}", report.text))
            .to_owned();
        let cells: Vec<&str> = row
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        // chat, company, opened, closed, reopened, ..., SLA breaches, by category.
        assert_eq!(cells[1], "Acme", "{row}");
        assert_eq!(cells[2], "1", "one ticket opened: {row}");
        assert_eq!(cells[3], "0", "none closed: {row}");
        assert_ne!(cells[5], "—", "the first response is counted: {row}");
        assert_eq!(cells[cells.len() - 2], "1", "one SLA breach: {row}");
        assert_eq!(
            cells.last(),
            Some(&"—"),
            "no categories in this chat: {row}"
        );
        assert!(report.text.contains("SLA breaches"), "{}", report.text);

        let client = stage.client;
        tg.set_can_dm(client, true);
        tg.send(client, client, Outgoing::text("/report"));
        answer(tg, client, "только администраторам").await;
        assert!(
            !tg.messages(client)
                .iter()
                .any(|m| m.from_bot && (m.text.contains("Отчёт с") || m.text.contains("Acme"))),
            "a client sees no figures"
        );
    };
    tokio::select! {
        () = run => {}
        status = daemon.wait() => panic!("the daemon exited ({status:?}):\n{}", daemon_logs(&stage)),
    }
    daemon.kill().await.expect("stop the daemon");
}
