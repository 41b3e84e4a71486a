//! Stateful fakes of the outside world, for tests, benches and `teledesk demo`.
//!
//! - [`telegram::FakeTelegram`]: a Telegram Bot API server on loopback that models chats, users,
//!   message ids, replies and threads, files, edits, callback queries and Telegram's rate limits
//!   (429 with `retry_after`), with the exact error strings of the real server.
//! - [`kaiten::FakeKaiten`]: a Kaiten API server on loopback speaking Kaiten's wire format, that a
//!   test drives like a support staff member (reply, internal note, move column, assign).
//!
//! Both record every call they receive, and both let a test wait for a condition with
//! [`wait::Changes`] instead of sleeping.

pub mod conformance;
pub mod glpi;
pub mod kaiten;
pub mod redmine;
pub mod rt;
pub mod telegram;
pub mod wait;
pub mod zammad;
pub mod znuny;
