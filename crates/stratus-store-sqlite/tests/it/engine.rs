//! The engine cases of `stratus-conformance` against SQLite: one test per
//! case, each on the four backends of a fresh store in a temporary
//! directory.

use stratus_engine::backend::EngineBackends;
use stratus_store_sqlite::{Store, engine_backends};
use tempfile::TempDir;

async fn fresh() -> (TempDir, EngineBackends) {
    let dir = tempfile::tempdir().expect("create a temp dir");
    let store = Store::open(dir.path()).expect("open the store");
    (dir, engine_backends(&store))
}

stratus_conformance::engine_tests!(fresh);
