//! The store of event buses, rules and targets (EventBridge).

/// The schema migration that creates this module's tables.
pub(crate) const MIGRATION: &str = "CREATE TABLE placeholder_bus (id INTEGER PRIMARY KEY);";
