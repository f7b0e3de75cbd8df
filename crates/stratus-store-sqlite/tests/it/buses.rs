//! EventBridge's conformance cases against SQLite, each on a fresh store;
//! the async invocations a tick queued are counted in the store.

use stratus_conformance::buses::Invocations;
use stratus_store_sqlite::SqliteBuses;
use stratus_store_sqlite::Store;
use tempfile::TempDir;

/// Keeps the temporary directory alive and reads the async queue.
struct Fresh {
    _dir: TempDir,
    store: Store,
}

impl Invocations for Fresh {
    fn queued_invocations(&self) -> u64 {
        self.store
            .async_stats()
            .expect("read the async queue")
            .pending
    }
}

async fn fresh() -> (Fresh, SqliteBuses) {
    let dir = tempfile::tempdir().expect("create a temp dir");
    let store = Store::open(dir.path()).expect("open the store");
    let buses = SqliteBuses::new(store.clone());
    (Fresh { _dir: dir, store }, buses)
}

stratus_conformance::bus_tests!(fresh);
