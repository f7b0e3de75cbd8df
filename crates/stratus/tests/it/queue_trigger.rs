//! End-to-end tests: queue_trigger.
