//! Fake GLPI (REST API v1) server (being written).
