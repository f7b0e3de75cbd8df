//! The store of queues and their messages (SQS).

/// The schema migration that creates this module's tables.
pub(crate) const MIGRATION: &str = "CREATE TABLE placeholder_queues (id INTEGER PRIMARY KEY);";
