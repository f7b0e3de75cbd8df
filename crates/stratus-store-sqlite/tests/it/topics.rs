//! The topic cases of `stratus-conformance` against SQLite: one test per
//! case, each on a fresh store in a temporary directory.

use stratus_store_sqlite::SqliteTopics;
use stratus_store_sqlite::Store;
use tempfile::TempDir;

async fn fresh() -> (TempDir, SqliteTopics) {
    let dir = tempfile::tempdir().expect("create a temp dir");
    let store = Store::open(dir.path()).expect("open the store");
    (dir, SqliteTopics::new(store))
}

stratus_conformance::topic_tests!(fresh);
