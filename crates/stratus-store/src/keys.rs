//! The store of access keys for SigV4: the admin key and per-function keys.

/// The schema migration that creates this module's tables.
pub(crate) const MIGRATION: &str = "CREATE TABLE placeholder_keys (id INTEGER PRIMARY KEY);";
