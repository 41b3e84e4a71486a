//! Telegram glue: reading updates, sending paced messages, and what the bot writes.

pub mod chat_token;
pub mod client;
pub mod membership;
pub mod pacing;
pub mod pin;
pub mod render;
pub mod split;
pub mod texts;
pub mod wire;
