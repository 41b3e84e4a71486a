//! teledesk: a Telegram front door for an existing helpdesk.

pub mod bounded;
pub mod cli;
pub mod config;
pub mod daemon;
#[cfg(feature = "demo")]
pub mod demo;
pub mod doctor;
pub mod engine;
pub mod helpdesks;
pub mod http;
pub mod model;
pub mod rebuild;
pub mod report;
pub mod store;
pub mod telegram;
pub mod telemetry;
