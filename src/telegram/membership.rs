//! Chat membership as Telegram tells it (`getChatMember`), remembered for a while and asked at a
//! bounded rate, so neither a page that polls its lists nor a flood of requests from people who
//! are not members costs a Telegram call each.
//!
//! A "yes" is remembered for the TTL the daemon gives (someone removed keeps access that long,
//! unless Telegram tells the bot they left); a "no" for [`NEGATIVE_TTL`] (someone just added
//! waits that long, unless Telegram tells the bot they joined). Lookups are limited per user and
//! per chat; past either limit the caller is told to come back later ([`LookupError::Busy`]).
//! Everything is held in bounded maps ([`crate::bounded`]).

use super::client::{TelegramClient, TgError};
use crate::bounded::{ExpiringMap, KeyedRate};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a "not a member" answer stands.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(60);

/// Lookups one user may cause: a burst of 30 (a private `/new` asks about every configured
/// chat at once), then one every 2 seconds.
const PER_USER: (Duration, u32) = (Duration::from_secs(2), 30);
/// Lookups about one chat: a burst of 60, then one a second — well under Telegram's 30 calls a
/// second for the whole bot, which the sender needs too.
const PER_CHAT: (Duration, u32) = (Duration::from_secs(1), 60);
/// Answers remembered, and users and chats whose lookups are counted, at most.
const ANSWERS: usize = 100_000;
const COUNTED: usize = 10_000;

/// Why a membership could not be told.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Telegram(#[from] TgError),
    /// Too many lookups for this user or chat lately; ask again after this long.
    #[error("too many membership lookups; try again in {0:?}")]
    Busy(Duration),
}

impl LookupError {
    /// Whether asking again later may answer: Telegram's temporary failures and [`Self::Busy`].
    pub fn is_temporary(&self) -> bool {
        match self {
            Self::Telegram(error) => error.is_temporary(),
            Self::Busy(_) => true,
        }
    }
}

pub struct Memberships {
    ttl: Duration,
    state: Mutex<State>,
}

struct State {
    answers: ExpiringMap<(i64, i64), bool>,
    per_user: KeyedRate<i64>,
    per_chat: KeyedRate<i64>,
}

impl Memberships {
    /// Remembers a confirmed membership for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            state: Mutex::new(State {
                answers: ExpiringMap::new(ANSWERS),
                per_user: KeyedRate::new(PER_USER.0, PER_USER.1, COUNTED),
                per_chat: KeyedRate::new(PER_CHAT.0, PER_CHAT.1, COUNTED),
            }),
        }
    }

    /// Whether `user_id` is a member of `chat_id`: remembered, or asked from Telegram when
    /// neither the user nor the chat is over its lookup limit.
    pub async fn is_member(
        &self,
        telegram: &TelegramClient,
        chat_id: i64,
        user_id: i64,
    ) -> Result<bool, LookupError> {
        let key = (chat_id, user_id);
        {
            let now = Instant::now();
            let mut state = self.lock();
            if let Some(member) = state.answers.get(&key, now) {
                return Ok(*member);
            }
            // Both limits are checked before either is spent.
            let wait = [
                state.per_user.check(&user_id, now),
                state.per_chat.check(&chat_id, now),
            ];
            if let Some(wait) = wait.into_iter().filter_map(Result::err).max() {
                return Err(LookupError::Busy(wait));
            }
            let _ = state.per_user.charge(&user_id, now);
            let _ = state.per_chat.charge(&chat_id, now);
        }
        let member = telegram.is_member(chat_id, user_id).await?;
        let now = Instant::now();
        let ttl = if member { self.ttl } else { NEGATIVE_TTL };
        self.lock().answers.insert(key, member, now + ttl, now);
        Ok(member)
    }

    /// Forgets what is known of `user_id` in `chat_id` (Telegram said they joined, left or were
    /// removed): the next request asks Telegram again.
    pub fn forget(&self, chat_id: i64, user_id: i64) {
        self.lock().answers.remove(&(chat_id, user_id));
    }

    /// Answers held (for tests of the bound).
    pub fn remembered(&self) -> usize {
        self.lock().answers.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
