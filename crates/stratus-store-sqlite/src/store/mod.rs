//! The embedded store of Stratus: one data directory holding a SQLite
//! database (functions and their immutable versions, logs, invocation
//! records, queues, topics, buses, keys) and content-addressed artifact
//! files. What a node makes for itself (compiled wasm, unpacked tasks) is
//! not here: the runtimes keep it in their node-local cache.
//!
//! ```text
//! <data_dir>/stratus.db      SQLite, WAL mode, synchronous=FULL
//! <data_dir>/token           the control API's bearer token, mode 0600
//! <data_dir>/artifacts/      <sha256>.wasm, as uploaded
//! ```
//!
//! Invariants:
//! - Only this module opens the database. The backends (the parent
//!   module) go through [`Store`].
//! - Every write that returns `Ok` is durable: SQLite commits with
//!   `synchronous=FULL`, and files are written to a temporary name, fsynced,
//!   renamed and the directory fsynced. A crash at any point leaves either the
//!   old or the new state, never a mix.
//! - Writes go through one connection behind a mutex, so they are serialized
//!   within a process; reads use a small pool of other connections and run
//!   concurrently with writes (WAL).
//!
//! The API is synchronous; async callers run it on `spawn_blocking` or a
//! dedicated thread.

mod async_events;
mod bus;
mod error;
mod files;
mod functions;
mod group;
mod keys;
mod queues;
mod schedules;
mod schema;
mod telemetry;
mod topics;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

pub use error::StoreError;

use error::{IoContext, SqlContext};

/// File name of the database inside the data directory.
const DB_FILE: &str = "stratus.db";
/// How long a connection waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Read connections kept open when idle.
const MAX_IDLE_READERS: usize = 4;

/// A handle to the data directory. Cheap to clone; all clones share the same
/// connections.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: PathBuf,
    db_path: PathBuf,
    /// The only connection that writes.
    writer: Mutex<Connection>,
    /// Idle read-only connections; more are opened on demand.
    readers: Mutex<Vec<Connection>>,
    /// Small writes for the group-commit thread (see `group.rs`).
    jobs: std::sync::mpsc::Sender<group::Job>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("data_dir", &self.inner.data_dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the data directory: makes `<dir>` (mode
    /// 0700 when new) and `<dir>/artifacts/`, opens
    /// `<dir>/stratus.db` in WAL mode with `synchronous=FULL`, a busy timeout
    /// and foreign keys on, and runs the schema migrations. Temporary files
    /// left by a crash are removed.
    ///
    /// Errors with `Corrupt` if the database was written by a newer build.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let data_dir = std::path::absolute(data_dir)
            .io(|| format!("resolving data directory {}", data_dir.display()))?;
        files::create_dir_private(&data_dir)?;
        files::create_dir_private(&data_dir.join(files::ARTIFACTS_DIR))?;
        files::sweep_temp_files(&data_dir);

        let db_path = data_dir.join(DB_FILE);
        let mut writer = open_connection(&db_path)?;
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .sql("enabling write-ahead logging")?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!(
                "database refused write-ahead logging (journal mode {mode:?})"
            )));
        }
        schema::migrate(&mut writer)?;
        tracing::info!(
            data_dir = %data_dir.display(),
            schema_version = schema::SCHEMA_VERSION,
            "opened store"
        );
        let (jobs, pending) = std::sync::mpsc::channel();
        let inner = Arc::new(Inner {
            data_dir,
            db_path,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            jobs,
        });
        group::spawn(Arc::downgrade(&inner), pending)
            .io(|| "starting the group-commit thread".to_string())?;
        Ok(Store { inner })
    }

    /// The data directory, made absolute.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// Locks the write connection. A panic while it was held leaves no open
    /// transaction behind (rusqlite rolls back on drop), so a poisoned lock
    /// is safe to take over.
    fn writer(&self) -> MutexGuard<'_, Connection> {
        self.inner
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs a small write in a transaction shared with the writes that
    /// arrive meanwhile (one fsync for all); durable when it returns.
    fn grouped<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        group::run(&self.inner.jobs, f)
    }

    /// Runs `f` on a read connection from the pool.
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = open_connection(&self.inner.db_path)?;
                conn.execute_batch("PRAGMA query_only = ON")
                    .sql("making read connection read-only")?;
                conn
            }
        };
        let result = f(&conn);
        let mut idle = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

/// Opens one connection with the pragmas every connection needs.
fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).sql("opening database")?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .sql("setting busy timeout")?;
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )
    .sql("configuring database connection")?;
    Ok(conn)
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Converts an unsigned value to SQLite's integer, or `Invalid`.
fn to_sql_int(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::Invalid(format!("{what} {value} is too large to store")))
}

/// Converts a stored integer back to unsigned, or `Corrupt`.
fn from_sql_int(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("stored {what} {value} is negative")))
}
