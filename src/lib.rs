//! teledesk: a Telegram front door for an existing helpdesk.
