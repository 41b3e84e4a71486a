//! The helpdesk side of a [`super::Stage`]: a testkit fake (or a live server) of any kind, the
//! `[helpdesks.main]` keys that point the daemon at it, and its staff side (a
//! [`Backstage`]) that the demo and the end-to-end tests act through.

use std::any::Any;
use std::path::Path;
use std::sync::Arc;
use teledesk_testkit::conformance::Backstage;
use teledesk_testkit::glpi::{FakeGlpi, GlpiBackstage};
use teledesk_testkit::kaiten::{FakeKaiten, KaitenBackstage, RESOLUTION_PROPERTY};
use teledesk_testkit::redmine::{FakeRedmine, RedmineBackstage};
use teledesk_testkit::rt::{FakeRt, RtBackstage};
use teledesk_testkit::zammad::FakeZammad;
use teledesk_testkit::znuny::FakeZnuny;
use teledesk_testkit::znuny::backstage::ZnunyBackstage;

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
    pub const FAKE_KINDS: &[&str] = &["kaiten", "znuny", "glpi", "rt", "zammad", "redmine"];

    /// The webhook secret configured for the fakes whose vendor signs webhooks (GLPI, Zammad);
    /// their staff side signs the webhooks it makes with it.
    pub const WEBHOOK_SECRET: &str = "staged-webhook-secret";

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
                "znuny" => {
                    let fake = FakeZnuny::start().await;
                    Ok(Self {
                        kind: "znuny",
                        toml: format!(
                            "url = \"{url}\"\nuser = \"{user}\"\npassword = \"{password}\"\n\
                             queue = \"{queue}\"\ncustomer_user = \"{customer}\"\n\
                             idempotency_field = \"{key}\"\ntimezone = \"+03:00\"\n\
                             chat_field = \"{chat}\"\nannouncement_field = \"{notice}\"\n",
                            url = fake.url(),
                            user = FakeZnuny::AGENT_LOGIN,
                            password = secret("znuny", FakeZnuny::AGENT_PASSWORD),
                            queue = FakeZnuny::QUEUE,
                            customer = FakeZnuny::CUSTOMER_USER,
                            key = FakeZnuny::KEY_FIELD,
                            chat = FakeZnuny::CHAT_FIELD,
                            notice = FakeZnuny::ANNOUNCEMENT_FIELD,
                        ),
                        chat_ticket: String::new(),
                        backstage: Arc::new(
                            ZnunyBackstage::new(
                                fake.url(),
                                FakeZnuny::STAFF_LOGIN,
                                FakeZnuny::STAFF_PASSWORD,
                            )
                            .with_address_fields(
                                FakeZnuny::CHAT_FIELD,
                                FakeZnuny::ANNOUNCEMENT_FIELD,
                            ),
                        ),
                        _server: Some(Box::new(fake)),
                    })
                }
                "glpi" => {
                    let fake = FakeGlpi::start().await;
                    Ok(Self {
                        kind: "glpi",
                        toml: format!(
                            "url = \"{url}\"\nuser_token = \"{user}\"\napp_token = \"{app}\"\n\
                             timezone = \"{zone}\"\nwebhook_secret = \"{hook}\"\n\
                             chat_requesttype_id = {chat}\nannouncement_requesttype_id = {notice}\n",
                            url = fake.url(),
                            user = secret("glpi-user", &fake.user_token()),
                            app = secret("glpi-app", &fake.app_token()),
                            zone = FakeGlpi::TIMEZONE,
                            hook = secret("glpi-webhook", Self::WEBHOOK_SECRET),
                            chat = FakeGlpi::REQUEST_TYPE_TELEGRAM,
                            notice = FakeGlpi::REQUEST_TYPE_ANNOUNCEMENT,
                        ),
                        chat_ticket: format!("entities_id = {}\n", FakeGlpi::ENTITY_ACME),
                        backstage: Arc::new(
                            GlpiBackstage::new(
                                fake.url(),
                                fake.staff_token(),
                                Some(fake.app_token()),
                                Some(Self::WEBHOOK_SECRET.to_owned()),
                            )
                            .with_address_sources(
                                FakeGlpi::REQUEST_TYPE_TELEGRAM,
                                FakeGlpi::REQUEST_TYPE_ANNOUNCEMENT,
                            ),
                        ),
                        _server: Some(Box::new(fake)),
                    })
                }
                "rt" => {
                    let fake = FakeRt::start().await;
                    Ok(Self::rt(
                        &fake.url(),
                        &fake.token(),
                        &fake.staff_token(),
                        "General",
                        &secret,
                    )
                    .with_server(fake))
                }
                "zammad" => {
                    let fake = FakeZammad::start().await;
                    // As an administrator adds them (Admin → Objects → Ticket).
                    fake.add_ticket_attribute(FakeZammad::CHAT_ATTRIBUTE);
                    fake.add_ticket_attribute(FakeZammad::ANNOUNCEMENT_ATTRIBUTE);
                    Ok(Self {
                        kind: "zammad",
                        toml: format!(
                            "url = \"{url}\"\ntoken = \"{token}\"\ngroup = \"{group}\"\n\
                             customer = \"guess:tg{{telegram_id}}@telegram.acme.example\"\n\
                             webhook_secret = \"{hook}\"\n\
                             chat_field = \"{chat}\"\nannouncement_field = \"{notice}\"\n",
                            url = fake.url(),
                            token = secret("zammad", &fake.token()),
                            group = FakeZammad::GROUP_USERS,
                            hook = secret("zammad-webhook", Self::WEBHOOK_SECRET),
                            chat = FakeZammad::CHAT_ATTRIBUTE,
                            notice = FakeZammad::ANNOUNCEMENT_ATTRIBUTE,
                        ),
                        chat_ticket: String::new(),
                        backstage: Arc::new(
                            fake.backstage(Some(Self::WEBHOOK_SECRET))
                                .with_address_fields(
                                    FakeZammad::CHAT_ATTRIBUTE,
                                    FakeZammad::ANNOUNCEMENT_ATTRIBUTE,
                                ),
                        ),
                        _server: Some(Box::new(fake)),
                    })
                }
                "redmine" => {
                    let fake = FakeRedmine::start().await;
                    let staged = Self::redmine(
                        &fake.url(),
                        &fake.admin_key(),
                        FakeRedmine::PROJECT_IDENTIFIER,
                        &secret,
                    )
                    .await?;
                    Ok(staged.with_server(fake))
                }
                other => Err(unknown(other)),
            },
            Target::Live {
                kind,
                url,
                credential,
            } => match kind.as_str() {
                // rt5-up.sh provisions one token (root's) and the "CI Support" queue.
                "rt" => Ok(Self::rt(url, credential, credential, "CI Support", &secret)),
                // redmine-up.sh provisions an admin key and the "ci-support" project.
                "redmine" => Self::redmine(url, credential, "ci-support", &secret).await,
                other => Err(format!("no live setup for helpdesk `{other}`")),
            },
        }
    }

    fn rt(
        url: &str,
        token: &str,
        staff_token: &str,
        queue: &str,
        secret: &dyn Fn(&str, &str) -> String,
    ) -> Self {
        Self {
            kind: "rt",
            toml: format!(
                "url = \"{url}\"\ntoken = \"{token}\"\nqueue = \"{queue}\"\n",
                token = secret("rt", token),
            ),
            chat_ticket: String::new(),
            backstage: Arc::new(RtBackstage::new(url, staff_token).with_integration_token(token)),
            _server: None,
        }
    }

    async fn redmine(
        url: &str,
        admin_key: &str,
        project: &str,
        secret: &dyn Fn(&str, &str) -> String,
    ) -> Result<Self, String> {
        let backstage = RedmineBackstage::connect(url, admin_key, project)
            .await
            .map_err(|e| format!("redmine staff side: {e}"))?;
        Ok(Self {
            kind: "redmine",
            toml: format!(
                "url = \"{url}\"\napi_key = \"{key}\"\nproject_id = \"{project}\"\n",
                key = secret("redmine", admin_key),
            ),
            chat_ticket: String::new(),
            backstage: Arc::new(backstage),
            _server: None,
        })
    }

    /// The fake server behind the stage, as its own type (`FakeRedmine`, …), for tests that
    /// inject faults into it or read what it holds.
    pub fn fake<T: Any>(&self) -> Option<&T> {
        self._server.as_ref()?.downcast_ref::<T>()
    }

    fn with_server(mut self, server: impl Any + Send + Sync) -> Self {
        self._server = Some(Box::new(server));
        self
    }
}

fn unknown(kind: &str) -> String {
    format!(
        "no fake for helpdesk `{kind}`; available: {}",
        StagedHelpdesk::FAKE_KINDS.join(", ")
    )
}
