//! Fake Request Tracker 5 (REST2) server (being written).
