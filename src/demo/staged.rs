//! The helpdesk side of a [`super::Stage`]: a testkit fake (or a live server) of any kind, the
//! `[helpdesks.main]` keys that point the daemon at it, and its staff side (a
//! [`Backstage`]) that the demo and the end-to-end tests act through.

use std::any::Any;
use std::path::Path;
use std::sync::Arc;
use teledesk_testkit::conformance::Backstage;
use teledesk_testkit::kaiten::{FakeKaiten, KaitenBackstage, RESOLUTION_PROPERTY};

/// Which helpdesk a stage runs against.
#[derive(Clone, Debug)]
pub enum Target {
    /// The testkit's fake of this kind.
    Fake(String),
    /// A real server (CI brings up Request Tracker 5 and Redmine 5).
    Live {
        kind: String,
        url: String,
        /// The API token or key.
        credential: String,
    },
}

/// A running helpdesk as a stage needs it.
pub struct StagedHelpdesk {
    pub kind: &'static str,
    /// `[helpdesks.main]` lines after `kind` and `poll_interval` (secrets as `file:` references).
    pub toml: String,
    /// `[chats.ticket]` lines for every chat; empty for none.
    pub chat_ticket: String,
    /// Acting as support staff.
    pub backstage: Arc<dyn Backstage>,
    /// Keeps the fake server running as long as the stage.
    _server: Option<Box<dyn Any + Send + Sync>>,
}

impl StagedHelpdesk {
    /// The kinds `teledesk demo --helpdesk` accepts.
    pub const FAKE_KINDS: &[&str] = &["kaiten"];

    pub(crate) async fn start(
        target: &Target,
        dir: &Path,
        kaiten: &FakeKaiten,
    ) -> Result<Self, String> {
        let secret = |name: &str, value: &str| -> String {
            let path = dir.join(format!("{name}-secret"));
            std::fs::write(&path, value).expect("write a secret file");
            format!("file:{}", path.display())
        };
        match target {
            Target::Fake(kind) => match kind.as_str() {
                "kaiten" => Ok(Self {
                    kind: "kaiten",
                    toml: format!(
                        "url = \"{url}\"\ntoken = \"{token}\"\nboard_id = {board}\ncolumn_id = {column}\n\
                         resolution_property = \"{RESOLUTION_PROPERTY}\"\n\n\
                         [helpdesks.main.statuses]\n\"{waiting}\" = \"waiting_client\"\n\"{done}\" = \"closed\"\n",
                        url = kaiten.url(),
                        token = secret("kaiten", &kaiten.token()),
                        board = FakeKaiten::BOARD_ID,
                        column = FakeKaiten::COLUMN_NEW,
                        waiting = FakeKaiten::COLUMN_WAITING,
                        done = FakeKaiten::COLUMN_DONE,
                    ),
                    chat_ticket: String::new(),
                    backstage: Arc::new(KaitenBackstage::new(kaiten.clone())),
                    _server: None,
                }),
                other => Err(unknown(other)),
            },
            Target::Live { kind, .. } => Err(format!("no live setup for helpdesk `{kind}`")),
        }
    }
}

fn unknown(kind: &str) -> String {
    format!(
        "no fake for helpdesk `{kind}`; available: {}",
        StagedHelpdesk::FAKE_KINDS.join(", ")
    )
}
