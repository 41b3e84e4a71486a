//! Chat membership as Telegram tells it (`getChatMember`), with a "yes" remembered for a while:
//! a page that polls and refreshes its lists must not cost a Telegram call per request. A "no" is
//! never remembered, so someone just added is let in at once.

use super::client::{TelegramClient, TgError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Memberships {
    ttl: Duration,
    confirmed: Mutex<HashMap<(i64, i64), Instant>>,
}

impl Memberships {
    /// Remembers a confirmed membership for `ttl` (someone removed from the chat keeps access
    /// that long).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            confirmed: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `user_id` is a member of `chat_id`.
    pub async fn is_member(
        &self,
        telegram: &TelegramClient,
        chat_id: i64,
        user_id: i64,
    ) -> Result<bool, TgError> {
        let key = (chat_id, user_id);
        let fresh = self
            .lock()
            .get(&key)
            .is_some_and(|at| at.elapsed() < self.ttl);
        if fresh {
            return Ok(true);
        }
        let member = telegram.is_member(chat_id, user_id).await?;
        if member {
            let mut confirmed = self.lock();
            confirmed.retain(|_, at| at.elapsed() < self.ttl);
            confirmed.insert(key, Instant::now());
        }
        Ok(member)
    }

    /// Forgets that `user_id` is a member of `chat_id` (they left, or were removed): the next
    /// request asks Telegram again.
    pub fn forget(&self, chat_id: i64, user_id: i64) {
        self.lock().remove(&(chat_id, user_id));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(i64, i64), Instant>> {
        self.confirmed.lock().unwrap_or_else(|e| e.into_inner())
    }
}
