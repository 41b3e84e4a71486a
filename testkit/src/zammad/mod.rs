//! Fake Zammad (REST API) server (being written).
