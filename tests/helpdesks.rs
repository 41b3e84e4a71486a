//! The daemon in group mode against every helpdesk kind: the scripted demo conversation (a ticket
//! with a file, a comment, staff reply, assignee, status, internal note, resolution, rating) run
//! through each adapter against its testkit fake, and against live Request Tracker 5 and Redmine 5
//! when their variables are set (`.ci/run` sets them and `TELEDESK_LIVE_REQUIRED=1`).

use teledesk::demo::{StagedHelpdesk, Target, script};

/// One test per fake kind, so they run in parallel and fail by name.
macro_rules! fake_kind {
    ($($test:ident => $kind:literal),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                run(Target::Fake($kind.to_owned())).await;
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
    fake_kaiten_serves_the_group_conversation => "kaiten",
    fake_znuny_serves_the_group_conversation => "znuny",
    fake_glpi_serves_the_group_conversation => "glpi",
    fake_rt_serves_the_group_conversation => "rt",
    fake_zammad_serves_the_group_conversation => "zammad",
    fake_redmine_serves_the_group_conversation => "redmine",
}

async fn run(target: Target) {
    let name = format!("{target:?}");
    if let Err(error) = script(target, "en").await {
        panic!("{name}: {error}");
    }
}

/// `None` when the live server's variables are not set (then the test says so, or fails when
/// `TELEDESK_LIVE_REQUIRED=1`).
fn live(kind: &str, url_var: &str, credential_var: &str) -> Option<Target> {
    match (std::env::var(url_var), std::env::var(credential_var)) {
        (Ok(url), Ok(credential)) if !url.is_empty() => Some(Target::Live {
            kind: kind.into(),
            url,
            credential,
        }),
        _ if std::env::var("TELEDESK_LIVE_REQUIRED").as_deref() == Ok("1") => {
            panic!("{url_var}/{credential_var} are not set but TELEDESK_LIVE_REQUIRED=1")
        }
        _ => {
            eprintln!("skipped: set {url_var} and {credential_var} to run against a live {kind}");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_request_tracker_serves_the_group_conversation() {
    if let Some(target) = live("rt", "RT_URL", "RT_TOKEN") {
        run(target).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_redmine_serves_the_group_conversation() {
    if let Some(target) = live("redmine", "REDMINE_URL", "REDMINE_KEY") {
        run(target).await;
    }
}
