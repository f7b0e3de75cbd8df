//! The store of topics and subscriptions (SNS), and the outbox of HTTP deliveries.

/// The schema migration that creates this module's tables.
pub(crate) const MIGRATION: &str = "CREATE TABLE placeholder_topics (id INTEGER PRIMARY KEY);";
