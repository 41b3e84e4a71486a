//! Fake Znuny / OTRS 6 / OTOBO (Generic Interface REST) server (being written).
