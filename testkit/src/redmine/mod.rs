//! Fake Redmine (REST API) server (being written).
