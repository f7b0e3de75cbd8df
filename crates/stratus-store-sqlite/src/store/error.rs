//! The store's error ([`StoreError`], shared by every backend) and the
//! contexts that wrap SQLite's and the filesystem's errors in it.

use std::borrow::Cow;

pub use stratus_core::StoreError;

/// Attaches a context to SQLite errors.
pub(crate) trait SqlContext<T> {
    /// Maps an error to [`StoreError::Backend`] with `context`.
    fn sql(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for Result<T, rusqlite::Error> {
    fn sql(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Backend {
            context: Cow::Borrowed(context),
            source: Box::new(source),
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
