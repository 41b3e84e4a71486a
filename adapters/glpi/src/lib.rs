//! GLPI (REST API v1) adapter for teledesk (being written).
