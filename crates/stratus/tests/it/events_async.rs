//! End-to-end tests: events_async.
