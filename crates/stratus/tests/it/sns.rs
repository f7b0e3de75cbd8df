//! End-to-end tests: sns.
