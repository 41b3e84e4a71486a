//! Helpdesk webhooks served by the daemon (`POST /hooks/<helpdesk>`), and `/metrics`. With
//! polling off (`poll_interval = "0s"`), a staff reply reaches Telegram only because the
//! helpdesk's signed webhook named the ticket; a tampered one is refused and changes nothing.

use reqwest::StatusCode;
use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::{Stage, Target};
use teledesk_adapter::WebhookRequest;
use teledesk_testkit::telegram::Outgoing;

const WAIT: Duration = Duration::from_secs(60);

async fn post(base: &str, path: &str, hook: &WebhookRequest) -> (StatusCode, String) {
    let mut request = reqwest::Client::new().post(format!("{base}{path}"));
    for (name, value) in &hook.headers {
        request = request.header(name, value);
    }
    let response = request
        .body(hook.body.clone())
        .send()
        .await
        .expect("the daemon answers");
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_bring_staff_replies_without_polling() {
    for kind in ["zammad", "glpi"] {
        let stage = Stage::with_helpdesk(Target::Fake(kind.into()), 1, "ru", "0s")
            .await
            .expect("the stage starts");
        let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
        let daemon = stage.start(Options::default()).await;
        let base = format!(
            "http://{}",
            daemon.http_addr().expect("[server] is configured")
        );

        let source = tg.send(
            group,
            ann,
            Outgoing::text("Не работает сканер на ресепшене"),
        );
        tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
        let ticket = tg
            .wait_until(WAIT, "the ticket card", |_| {
                daemon.tickets().first().and_then(|l| {
                    l.card_message_id?;
                    l.ticket_id.clone()
                })
            })
            .await;

        let reply = format!("Сканер перезапустили ({kind})");
        let staff = stage.helpdesk.backstage.clone();
        staff
            .staff_reply(&ticket, &reply, None)
            .await
            .expect("staff reply");
        let hook = staff.webhook(&ticket).expect("this vendor sends webhooks");

        let mut tampered = hook.clone();
        tampered.body.push(b' ');
        let (status, body) = post(&base, "/hooks/main", &tampered).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{kind}: {body}");
        let (status, _) = post(&base, "/hooks/nosuch", &hook).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{kind}");

        let (status, body) = post(&base, "/hooks/main", &hook).await;
        assert_eq!(status, StatusCode::OK, "{kind}: {body}");
        assert!(body.contains("\"tickets\":1"), "{kind}: {body}");
        tg.wait_until(WAIT, "the staff reply in the group", |t| {
            t.messages(group)
                .iter()
                .any(|m| m.from_bot && m.text.contains(&reply))
                .then_some(())
        })
        .await;

        let metrics = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("teledesk_queue_items{queue=\"dead\"} 0"),
            "{metrics}"
        );
        assert!(metrics.contains("teledesk_tickets{status="), "{metrics}");
        daemon.shutdown().await;
    }
}
