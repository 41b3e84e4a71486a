//! Fake Kaiten API server (see crate docs).
