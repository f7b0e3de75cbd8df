//! Integration tests of the embedded store, one binary.

mod crash;
mod deploy;
mod files;
mod queues;
mod telemetry;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use stratus_core::{FunctionConfig, HttpRoute, RuntimeKind};
use stratus_store_sqlite::Store;
use tempfile::TempDir;

/// A store in a fresh temporary directory (kept alive by the `TempDir`).
pub fn store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("create temp dir");
    let store = Store::open(dir.path()).expect("open store");
    (dir, store)
}

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Stores `bytes` as an artifact and returns its hash.
pub fn upload(store: &Store, bytes: &[u8]) -> String {
    let sha = sha(bytes);
    store.put_artifact(&sha, bytes).expect("put artifact");
    sha
}

/// A plausible config of function `name` running `artifact`.
pub fn config(name: &str, artifact: &str) -> FunctionConfig {
    FunctionConfig {
        name: name.to_owned(),
        runtime: RuntimeKind::Wasm,
        artifact: artifact.to_owned(),
        memory_size: 128,
        timeout: 3.0,
        environment: BTreeMap::from([("STAGE".to_owned(), "test".to_owned())]),
        reserved_concurrency: None,
        provisioned_concurrency: 0,
        allowed_outbound_hosts: vec![],
        routes: vec![HttpRoute {
            method: "GET".to_owned(),
            path: format!("/{name}"),
        }],
        runtime_version: None,
        handler: None,
        ephemeral_storage: None,
        events: Default::default(),
        async_config: Default::default(),
    }
}
