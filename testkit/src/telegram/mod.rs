//! Fake Telegram Bot API server (see crate docs).
