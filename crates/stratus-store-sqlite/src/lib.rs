//! The SQLite backend: every state Stratus keeps, in one embedded store
//! (`store/`: one data directory with a SQLite database in WAL mode,
//! `synchronous=FULL`, and content-addressed artifact files).
//!
//! It implements every backend trait, each in a module of its own over
//! the one [`Store`]:
//! - the engine's ([`stratus_engine::backend`]): [`SqliteFunctions`],
//!   [`SqliteTelemetry`], [`SqliteAsyncQueue`] and [`SqliteKeys`]
//!   (`engine.rs`; [`engine_backends`] bundles them);
//! - SQS's [`QueueBackend`](stratus_sqs::backend::QueueBackend):
//!   [`SqliteQueues`] (`queues.rs`);
//! - SNS's [`TopicBackend`](stratus_sns::backend::TopicBackend):
//!   [`SqliteTopics`] (`topics.rs`);
//! - EventBridge's [`BusBackend`](stratus_eventbridge::backend::BusBackend),
//!   schedules included: [`SqliteBuses`] (`buses.rs`).
//!
//! Each trait method is one call of the store (its rules, transactions and
//! group commit are there), run on the blocking pool. This crate depends
//! on the crates whose traits it implements, never the other way; only
//! the binary and test harnesses name it. `stratus-conformance`'s suite
//! runs against it in `tests/it/`.

use std::borrow::Cow;
pub use store::{Store, StoreError};

mod store;

/// A backend over the SQLite store: the struct, `new`, `store`, `From<Store>`
/// and `run` (one store call on the blocking pool, [`blocking`]).
macro_rules! sqlite_backend {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(crate::store::Store);

        impl $name {
            /// The backend over `store`.
            pub fn new(store: crate::store::Store) -> $name {
                $name(store)
            }

            /// The store.
            pub fn store(&self) -> &crate::store::Store {
                &self.0
            }

            /// Runs `f` on the blocking pool ([`crate::blocking`]).
            async fn run<T: Send + 'static>(
                &self,
                context: &'static str,
                f: impl FnOnce(&crate::store::Store) -> Result<T, crate::store::StoreError>
                + Send
                + 'static,
            ) -> Result<T, crate::store::StoreError> {
                crate::blocking(&self.0, context, f).await
            }
        }

        impl From<crate::store::Store> for $name {
            fn from(store: crate::store::Store) -> Self {
                $name(store)
            }
        }
    };
}

mod buses;
mod engine;
mod queues;
mod topics;
pub use buses::SqliteBuses;
pub use engine::{SqliteAsyncQueue, SqliteFunctions, SqliteKeys, SqliteTelemetry, engine_backends};
pub use queues::SqliteQueues;
pub use topics::SqliteTopics;

/// Runs a store call on the blocking pool: every backend method is one
/// such call. A task that panicked or was cancelled is an IO error of
/// `context`.
pub(crate) async fn blocking<T: Send + 'static>(
    store: &Store,
    context: &'static str,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|join| StoreError::Io {
            context: Cow::Borrowed(context),
            source: std::io::Error::other(join),
        })?
}
