//! `server.admin_listen`: `/healthz` and `/metrics` move to an address of their own, and the public
//! listener serves only what the Mini App and webhooks need. Both answer from counts the store
//! keeps as it writes, so a scrape reads nothing.

use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk_testkit::telegram::Outgoing;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_live_on_the_admin_listener_only() {
    let stage = Stage::new(1, "ru", "1s").await;
    let text = std::fs::read_to_string(&stage.config_path).unwrap();
    let text = text.replace(
        "listen = \"127.0.0.1:0\"\n",
        "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n",
    );
    std::fs::write(&stage.config_path, text).unwrap();
    let daemon = stage.start(Options::default()).await;
    let public = daemon.http_addr().expect("public listener");
    let admin = daemon.admin_addr().expect("admin listener");
    assert_ne!(public, admin);

    let (_, card) = stage.ticket_in_group("Не печатает касса №2", WAIT).await;
    stage
        .telegram
        .send(stage.group(), stage.client, Outgoing::text("/help"));
    let get = |addr: std::net::SocketAddr, path: &str| {
        let url = format!("http://{addr}{path}");
        async move {
            let response = reqwest::get(url).await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(get(public, "/healthz").await.0, 404);
    assert_eq!(get(public, "/metrics").await.0, 404);
    assert_eq!(
        get(public, "/app/").await.0,
        200,
        "the Mini App stays public"
    );
    let (status, health) = get(admin, "/healthz").await;
    assert_eq!(status, 200, "{health}");
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    let (status, metrics) = get(admin, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("teledesk_tickets{status=\"new\"} 1"),
        "card {card}: {metrics}"
    );
    assert!(
        metrics.contains("teledesk_queue_items{queue=\"dead\"} 0"),
        "{metrics}"
    );
    daemon.shutdown().await;
}
