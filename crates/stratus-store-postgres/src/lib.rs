//! The PostgreSQL backend: Stratus's state in one PostgreSQL database that
//! several nodes share (cluster mode).
//!
//! [`Pg::connect`] opens a connection pool on a libpq-style URL
//! (`postgres://user@host:port/db` or `host=... user=...`) and brings the
//! schema up to date: versioned migrations (`schema.rs`) run once, under an
//! advisory lock, so nodes that start together do not race; a schema newer
//! than this build is refused. Each backend trait is implemented over the
//! pool in a module of its own and held to the same conformance suite as
//! the SQLite backend (`tests/it/`, against a throwaway server).
//!
//! So far: the async invocation queue ([`PgAsyncQueue`], claimed with
//! `FOR UPDATE SKIP LOCKED` in index order) and functions with their
//! versions and artifacts ([`PgFunctions`]; artifacts in chunks of at
//! most 1 MiB, committed with their metadata) and access keys
//! ([`PgKeys`]). The other traits follow.
//!
//! Every write that returns `Ok` is committed; PostgreSQL's own
//! `synchronous_commit` (on by default) makes the commit durable before it
//! answers.

mod async_queue;
mod functions;
mod keys;
mod schema;

pub use async_queue::PgAsyncQueue;
pub use functions::PgFunctions;
pub use keys::PgKeys;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::borrow::Cow;
use stratus_core::StoreError;

/// Connections kept open to the server per node.
const POOL_SIZE: usize = 16;

/// A pool of connections to the database; cheap to clone.
#[derive(Clone)]
pub struct Pg {
    pool: Pool,
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pg").finish_non_exhaustive()
    }
}

impl Pg {
    /// Connects to the database `url` names and migrates its schema.
    /// `Invalid` for a malformed URL; `Backend` if the server cannot be
    /// reached or refuses the credentials; `Corrupt` if the schema was
    /// written by a newer Stratus.
    pub async fn connect(url: &str) -> Result<Pg, StoreError> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Invalid(format!(
                "`{}` is not a PostgreSQL URL (postgres://user@host:port/database): {e}",
                redact(url)
            ))
        })?;
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| backend("building the connection pool", e))?;
        let pg = Pg { pool };
        let mut client = pg.client().await?;
        schema::migrate(&mut client).await?;
        tracing::info!(
            database = %redact(url),
            schema_version = schema::SCHEMA_VERSION,
            "connected to PostgreSQL"
        );
        Ok(pg)
    }

    /// A connection from the pool.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| backend("connecting to PostgreSQL", e))
    }
}

/// A database error in [`StoreError::Backend`], with what was being done.
pub(crate) fn backend(
    context: &'static str,
    error: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Backend {
        context: Cow::Borrowed(context),
        source: Box::new(error),
    }
}

/// `url` with its password hidden, for messages and logs.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((user, host)) => {
                let user = user.split_once(':').map_or(user, |(u, _)| u);
                format!("{scheme}://{user}@{host}")
            }
            None => url.to_string(),
        },
        None => "(connection string)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://stratus:secret@db:5432/stratus"),
            "postgres://stratus@db:5432/stratus"
        );
        assert_eq!(redact("postgres://db/stratus"), "postgres://db/stratus");
        assert_eq!(redact("host=db password=secret"), "(connection string)");
    }
}
