//! Stateful fakes of the outside world, for tests, benches and `teledesk demo`.
//!
//! - [`telegram::FakeTelegram`]: a Telegram Bot API server on loopback that models chats, users,
//!   message ids, replies and threads, files, edits, callback queries, channels with linked
//!   discussion groups and their automatic forwards, forum topics, group-to-supergroup migration
//!   and Telegram's rate limits (429 with `retry_after`), with the exact error strings of the real
//!   server; it also signs Mini App launch data as Telegram does ([`telegram::mini_app`]).
//! - One fake per helpdesk, each speaking its vendor's wire format and driven by a test like a
//!   support staff member: [`kaiten::FakeKaiten`], [`znuny::FakeZnuny`], [`glpi::FakeGlpi`],
//!   [`rt::FakeRt`], [`zammad::FakeZammad`], [`redmine::FakeRedmine`].
//! - [`conformance`]: the suite every adapter passes, against its fake and (RT, Redmine) live,
//!   through each vendor's staff side ([`conformance::Backstage`]).
//! - [`blob`]: file bodies that keep large files out of the test's memory (generated patterns,
//!   digests of large uploads).
//! - [`samples`]: the requester, tickets, comments, notes and files every adapter's tests send,
//!   and the recorded payloads in `fixtures/`.
//!
//! The fakes record every call they receive and let a test wait for a condition with
//! [`wait::Changes`] instead of sleeping.

pub mod blob;
pub mod conformance;
pub mod disk;
mod faults;
pub mod glpi;
pub mod kaiten;
pub mod redmine;
pub mod rt;
pub mod samples;
mod serve;
pub mod telegram;
pub mod wait;
pub mod zammad;
pub mod znuny;
