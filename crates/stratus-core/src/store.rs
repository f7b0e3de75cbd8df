//! The one error type of every backend of Stratus's state (the embedded
//! SQLite store today, PostgreSQL next). The backend traits live with
//! what they serve (the engine, each service); they all answer
//! [`StoreError`], so callers branch on the same cases whatever the
//! backend.

use std::borrow::Cow;

/// What can go wrong in a backend. Callers branch on the case: `NotFound`,
/// `Conflict` and `Invalid` are the caller's fault (4xx); `Corrupt`, `Io`
/// and `Backend` are the server's (5xx).
///
/// `Display` shows only this error's own message; the underlying cause of
/// `Io` and `Backend` is reachable through [`std::error::Error::source`]
/// (print the chain, e.g. with [`crate::error_chain`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Something the request names does not exist (e.g. an artifact).
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts existing state (e.g. a function name owned by
    /// another service). Nothing was changed.
    #[error("{0}")]
    Conflict(String),
    /// The request itself is malformed (bad hash, bad name, hash mismatch).
    #[error("{0}")]
    Invalid(String),
    /// Stored data could not be understood (bad JSON, unknown enum value,
    /// schema newer than this build).
    #[error("{0}")]
    Corrupt(String),
    /// A filesystem operation failed.
    #[error("{context}")]
    Io {
        /// What the backend was doing, as a lowercase verb phrase.
        context: Cow<'static, str>,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The database failed (SQLite, PostgreSQL).
    #[error("{context}")]
    Backend {
        /// What the backend was doing, as a lowercase verb phrase.
        context: Cow<'static, str>,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl StoreError {
    /// Whether the error is the server's (5xx) rather than the caller's.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            StoreError::Corrupt(_) | StoreError::Io { .. } | StoreError::Backend { .. }
        )
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it): the
/// clock every backend method that takes `now_ms` is given.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
