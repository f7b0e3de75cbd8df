//! The one error type of the store.

use std::borrow::Cow;

/// What can go wrong in the store. Callers branch on the case: `NotFound`
/// and `Conflict` and `Invalid` are the caller's fault (4xx), `Corrupt`, `Io`
/// and `Sqlite` are the server's (5xx).
///
/// `Display` shows only this error's own message; the underlying cause of
/// `Io` and `Sqlite` is reachable through [`std::error::Error::source`] (print
/// the chain, e.g. with anyhow's `{:#}`).
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
        /// What the store was doing, as a lowercase verb phrase.
        context: Cow<'static, str>,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("{context}")]
    Sqlite {
        /// What the store was doing, as a lowercase verb phrase.
        context: Cow<'static, str>,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
}

/// Attaches a context to SQLite errors.
pub(crate) trait SqlContext<T> {
    /// Maps an error to [`StoreError::Sqlite`] with `context`.
    fn sql(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for Result<T, rusqlite::Error> {
    fn sql(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite {
            context: Cow::Borrowed(context),
            source,
        })
    }
}

/// Attaches a context to IO errors.
pub(crate) trait IoContext<T> {
    /// Maps an error to [`StoreError::Io`] with a lazily built context.
    fn io<C: Into<Cow<'static, str>>>(self, context: impl FnOnce() -> C) -> Result<T, StoreError>;
}

impl<T> IoContext<T> for Result<T, std::io::Error> {
    fn io<C: Into<Cow<'static, str>>>(self, context: impl FnOnce() -> C) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Io {
            context: context().into(),
            source,
        })
    }
}
