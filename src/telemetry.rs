//! The daemon's metrics: their names, the Prometheus recorder behind the `metrics` facade, and
//! what `/metrics` renders.
//!
//! Events are counted where they happen, through the facade: updates at intake, helpdesk
//! requests once in the adapters' shared HTTP layer (`teledesk_adapter::http`), Telegram requests
//! in its client, polls in the watchers. Levels (queue depths and ages, tickets by status,
//! readiness) are read at scrape time from what the store and the daemon already keep in memory,
//! so a scrape costs the same whatever the store holds. Labels are few and bounded: a helpdesk's
//! name from the config, an adapter kind, a Bot API method, an outcome; never a chat, a user or a
//! ticket.
//!
//! The recorder is the process's (the facade has one global recorder, as `tracing` has one
//! subscriber); a production process runs one daemon. Tests that run several daemons in one
//! process share its counters, and each scrape sets the levels of the daemon asked.

use crate::daemon::Context;
use crate::store::Queue;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use teledesk_adapter::http::{METRIC_PACER_WAIT_SECONDS, METRIC_REQUEST_SECONDS, METRIC_REQUESTS};
use tokio_util::sync::CancellationToken;

/// Telegram updates taken into the inbox, by kind (`message`, `channel_post`,
/// `callback_query`, ..., `mini_app` for a Mini App submission).
pub const UPDATES: &str = "teledesk_updates_received_total";
/// Tickets registered in a helpdesk, by helpdesk (its name in the config).
pub const TICKETS_CREATED: &str = "teledesk_tickets_created_total";
/// Comments carried across, by direction: `to_helpdesk` (a client's message), `to_telegram`
/// (a staff reply).
pub const COMMENTS: &str = "teledesk_comments_mirrored_total";
/// Helpdesk requests, by adapter and outcome (recorded by the adapters' HTTP layer).
pub const HELPDESK_REQUESTS: &str = METRIC_REQUESTS;
/// Helpdesk request latency (histogram, by adapter).
pub const HELPDESK_REQUEST_SECONDS: &str = METRIC_REQUEST_SECONDS;
/// Time helpdesk requests waited for the vendor's rate limit (histogram, by adapter).
pub const HELPDESK_PACER_WAIT_SECONDS: &str = METRIC_PACER_WAIT_SECONDS;
/// Bot API requests, by method and outcome (`ok`, `not_modified`, `rate_limited`, `migrated`,
/// `forbidden`, `rejected`, `failed`).
pub const TELEGRAM_REQUESTS: &str = "teledesk_telegram_requests_total";
/// The waits Telegram's 429s asked for (histogram): its count is the 429s, its sum the time.
pub const TELEGRAM_RETRY_AFTER_SECONDS: &str = "teledesk_telegram_retry_after_seconds";
/// 1 while the last Bot API request got an answer, 0 after one that got none.
pub const TELEGRAM_UP: &str = "teledesk_telegram_up";
/// Records in each work queue (`inbox`, `jobs`, `outbox`, `dirty`, `dead`).
pub const QUEUE_ITEMS: &str = "teledesk_queue_items";
/// How long the oldest record of each queue has waited, in seconds (0 when empty).
pub const QUEUE_OLDEST_SECONDS: &str = "teledesk_queue_oldest_age_seconds";
/// Dead letters made since the daemon started.
pub const DEAD_LETTERS: &str = "teledesk_dead_letters_total";
/// Helpdesk polls, by helpdesk and outcome (`ok`, `failed`).
pub const POLLS: &str = "teledesk_polls_total";
/// How long one poll for changes took (histogram, by helpdesk).
pub const POLL_SECONDS: &str = "teledesk_poll_duration_seconds";
/// When each helpdesk last answered a poll (Unix seconds).
pub const POLL_LAST_SUCCESS: &str = "teledesk_poll_last_success_timestamp_seconds";
/// 1 while a helpdesk's last poll succeeded, 0 after one that failed.
pub const HELPDESK_UP: &str = "teledesk_helpdesk_up";
/// Tickets teledesk knows, by status class.
pub const TICKETS: &str = "teledesk_tickets";
/// The store's size on disk, in bytes (sampled every [`SAMPLE_EVERY`]).
pub const STORE_BYTES: &str = "teledesk_store_size_bytes";
/// 1 while `/readyz` says ready.
pub const READY: &str = "teledesk_ready";
/// Always 1, with the running version as a label.
pub const BUILD_INFO: &str = "teledesk_build_info";

/// Every metric the daemon exports, by the name a query uses (a histogram's series add
/// `_bucket`, `_sum` and `_count`).
pub const ALL: &[&str] = &[
    UPDATES,
    TICKETS_CREATED,
    COMMENTS,
    HELPDESK_REQUESTS,
    HELPDESK_REQUEST_SECONDS,
    HELPDESK_PACER_WAIT_SECONDS,
    TELEGRAM_REQUESTS,
    TELEGRAM_RETRY_AFTER_SECONDS,
    TELEGRAM_UP,
    QUEUE_ITEMS,
    QUEUE_OLDEST_SECONDS,
    DEAD_LETTERS,
    POLLS,
    POLL_SECONDS,
    POLL_LAST_SUCCESS,
    HELPDESK_UP,
    TICKETS,
    STORE_BYTES,
    READY,
    BUILD_INFO,
];

/// The histograms, which are exported with buckets (Prometheus histograms, so a dashboard can
/// take quantiles across instances).
pub const HISTOGRAMS: &[&str] = &[
    HELPDESK_REQUEST_SECONDS,
    HELPDESK_PACER_WAIT_SECONDS,
    TELEGRAM_RETRY_AFTER_SECONDS,
    POLL_SECONDS,
];

/// How often the store's size is sampled and the recorder's histograms are folded.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(15);

/// Request and poll times: from a quick local answer to the minutes a file may take.
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            // Someone else's recorder (a test harness): ours still renders, empty of their
            // events.
            tracing::warn!("A metrics recorder was installed already; /metrics shows levels only.");
        }
        describe();
        handle
    })
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(UPDATES, "Telegram updates taken into the inbox, by kind.");
    describe_counter!(TICKETS_CREATED, "Tickets registered in a helpdesk.");
    describe_counter!(COMMENTS, "Comments mirrored, by direction.");
    describe_counter!(
        HELPDESK_REQUESTS,
        "Helpdesk HTTP requests, by adapter and outcome."
    );
    describe_histogram!(
        HELPDESK_REQUEST_SECONDS,
        Unit::Seconds,
        "Helpdesk HTTP request latency, to the answer's headers."
    );
    describe_histogram!(
        HELPDESK_PACER_WAIT_SECONDS,
        Unit::Seconds,
        "Time a helpdesk request waited for the vendor's rate limit."
    );
    describe_counter!(
        TELEGRAM_REQUESTS,
        "Bot API requests, by method and outcome."
    );
    describe_histogram!(
        TELEGRAM_RETRY_AFTER_SECONDS,
        Unit::Seconds,
        "Waits Telegram's 429 answers asked for."
    );
    describe_gauge!(
        TELEGRAM_UP,
        "1 while the last Bot API request got an answer."
    );
    describe_gauge!(QUEUE_ITEMS, "Records waiting in each work queue.");
    describe_gauge!(
        QUEUE_OLDEST_SECONDS,
        Unit::Seconds,
        "How long the oldest record of each queue has waited."
    );
    describe_counter!(DEAD_LETTERS, "Dead letters made since the daemon started.");
    describe_counter!(POLLS, "Helpdesk polls for changes, by outcome.");
    describe_histogram!(POLL_SECONDS, Unit::Seconds, "How long one poll took.");
    describe_gauge!(
        POLL_LAST_SUCCESS,
        Unit::Seconds,
        "When each helpdesk last answered a poll (Unix time)."
    );
    describe_gauge!(HELPDESK_UP, "1 while a helpdesk's last poll succeeded.");
    describe_gauge!(TICKETS, "Tickets teledesk knows, by status class.");
    describe_gauge!(STORE_BYTES, Unit::Bytes, "The store's size on disk.");
    describe_gauge!(READY, "1 while /readyz says ready.");
    describe_gauge!(BUILD_INFO, "The running version.");
}

/// The kind of a raw Telegram update: its one field besides `update_id`, if it is one teledesk
/// asks for (`other` otherwise, so a new kind cannot grow the label set).
pub fn update_kind(update: &serde_json::Value) -> &'static str {
    const KINDS: [&str; 7] = [
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "callback_query",
        "my_chat_member",
        "chat_member",
    ];
    KINDS
        .into_iter()
        .find(|kind| update.get(kind).is_some())
        .unwrap_or("other")
}

/// Counts an update taken into the inbox.
pub fn update_received(kind: &'static str) {
    metrics::counter!(UPDATES, "kind" => kind).increment(1);
}

/// Counts a ticket registered in `helpdesk`.
pub fn ticket_created(helpdesk: &str) {
    metrics::counter!(TICKETS_CREATED, "helpdesk" => helpdesk.to_owned()).increment(1);
}

/// Counts a comment mirrored `to_helpdesk` or `to_telegram`.
pub fn comment_mirrored(direction: &'static str) {
    metrics::counter!(COMMENTS, "direction" => direction).increment(1);
}

/// Counts one poll of `helpdesk` that took `took`.
pub fn polled(helpdesk: &str, ok: bool, took: Duration) {
    let outcome = if ok { "ok" } else { "failed" };
    metrics::counter!(POLLS, "helpdesk" => helpdesk.to_owned(), "outcome" => outcome).increment(1);
    metrics::histogram!(POLL_SECONDS, "helpdesk" => helpdesk.to_owned()).record(took.as_secs_f64());
    metrics::gauge!(HELPDESK_UP, "helpdesk" => helpdesk.to_owned()).set(if ok { 1.0 } else { 0.0 });
    if ok {
        let now = time::OffsetDateTime::now_utc();
        metrics::gauge!(POLL_LAST_SUCCESS, "helpdesk" => helpdesk.to_owned())
            .set(now.unix_timestamp_nanos() as f64 / 1e9);
    }
}

/// Counts one Bot API request by `method` and how it ended.
pub fn telegram_request(method: &'static str, outcome: &'static str) {
    metrics::counter!(TELEGRAM_REQUESTS, "method" => method, "outcome" => outcome).increment(1);
    metrics::gauge!(TELEGRAM_UP).set(if outcome == "failed" { 0.0 } else { 1.0 });
}

/// Records a wait a 429 asked for.
pub fn telegram_retry_after(wait: Duration) {
    metrics::histogram!(TELEGRAM_RETRY_AFTER_SECONDS).record(wait.as_secs_f64());
}

/// The store's size, sampled by [`run`] (never measured by a scrape).
#[derive(Debug, Default)]
pub(crate) struct Sampled {
    store_bytes: std::sync::atomic::AtomicU64,
}

/// The `/metrics` text: the recorded events, and the levels of `ctx`'s daemon as they stand.
pub(crate) fn render(ctx: &Context) -> String {
    let handle = handle();
    let counts = ctx.store.counts();
    let oldest = ctx.store.oldest();
    let now = time::OffsetDateTime::now_utc();
    for queue in Queue::ALL {
        let label = queue.name();
        metrics::gauge!(QUEUE_ITEMS, "queue" => label).set(counts.of(queue) as f64);
        let age = oldest
            .get(&queue)
            .map_or(0.0, |since| (now - *since).as_seconds_f64().max(0.0));
        metrics::gauge!(QUEUE_OLDEST_SECONDS, "queue" => label).set(age);
    }
    for status in teledesk_adapter::StatusClass::ALL {
        let n = counts.tickets.get(&status).copied().unwrap_or(0);
        metrics::gauge!(TICKETS, "status" => status.as_str()).set(n as f64);
    }
    metrics::counter!(DEAD_LETTERS).absolute(ctx.store.buried());
    metrics::gauge!(STORE_BYTES).set(
        ctx.sampled
            .store_bytes
            .load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
    metrics::gauge!(READY).set(if crate::daemon::readiness(ctx).ready {
        1.0
    } else {
        0.0
    });
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    handle.render()
}

/// Samples the store's size and folds the histograms' recent values, every [`SAMPLE_EVERY`]:
/// without the folding, values recorded between scrapes (or with no scraper at all) would pile
/// up in memory.
pub(crate) async fn run(ctx: Arc<Context>, cancel: CancellationToken) {
    loop {
        crate::daemon::supervisor::beat();
        if ctx.store.failure().is_none() {
            match ctx.store.size_on_disk() {
                Ok(bytes) => ctx
                    .sampled
                    .store_bytes
                    .store(bytes, std::sync::atomic::Ordering::Relaxed),
                Err(error) => tracing::debug!(%error, "Cannot read the store's size."),
            }
        }
        handle().run_upkeep();
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(SAMPLE_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_is_counted_by_its_kind_and_unknown_kinds_share_one_label() {
        let message = serde_json::json!({"update_id": 1, "message": {"message_id": 2}});
        let callback = serde_json::json!({"update_id": 2, "callback_query": {"id": "x"}});
        let reaction = serde_json::json!({"update_id": 3, "message_reaction": {}});
        assert_eq!(update_kind(&message), "message");
        assert_eq!(update_kind(&callback), "callback_query");
        assert_eq!(update_kind(&reaction), "other");
    }
}
