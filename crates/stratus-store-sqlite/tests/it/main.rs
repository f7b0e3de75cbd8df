//! The conformance suite of `stratus-conformance` against SQLite: one
//! test per case, each on a fresh store in a temporary directory.

mod buses;
mod engine;
mod replays;
mod store;
mod topics;

use stratus_store_sqlite::SqliteQueues;
use stratus_store_sqlite::Store;
use tempfile::TempDir;

async fn fresh() -> (TempDir, SqliteQueues) {
    let dir = tempfile::tempdir().expect("create a temp dir");
    let store = Store::open(dir.path()).expect("open the store");
    (dir, SqliteQueues::new(store))
}

stratus_conformance::queue_tests!(fresh);
