//! Znuny / OTRS 6 / OTOBO (Generic Interface REST) adapter for teledesk (being written).
