//! End-to-end tests: schedules.
