//! The store of the state of schedules: the last tick fired per schedule.

/// The schema migration that creates this module's tables.
pub(crate) const MIGRATION: &str = "CREATE TABLE placeholder_schedules (id INTEGER PRIMARY KEY);";
