//! End-to-end tests: sigv4.
