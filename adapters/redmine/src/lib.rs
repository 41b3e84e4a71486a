//! Redmine (REST API) adapter for teledesk (being written).
