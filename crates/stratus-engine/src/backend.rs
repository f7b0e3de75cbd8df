//! The seam between the engine and where its shared state is kept.
//!
//! Four traits, at the level of the engine's operations:
//! - [`FunctionBackend`]: artifacts, deploys (every function of a service
//!   switched to its new version in one call), the current versions,
//!   older versions by number, removals;
//! - [`TelemetryBackend`]: log lines and invocation records appended in
//!   batches, read back, summed into usage, pruned by age;
//! - [`AsyncQueueBackend`]: the durable queue of asynchronous (`Event`)
//!   invocations: enqueue, claim with a lease, complete, retry, fail;
//! - [`KeyBackend`]: the SigV4 access keys (the admin key and each
//!   function's own).
//!
//! [`EngineBackends`] bundles them for [`crate::Engine::start`]. The
//! engine never names a backend: `stratus-store-sqlite` implements all
//! four over the embedded store, and the binary builds it. The
//! conformance suite (`stratus-conformance`) holds every backend to the
//! same cases.
//!
//! Every write that returns `Ok` is durable. Methods that depend on the
//! time take it as `now_ms` (milliseconds since the epoch), so the suite
//! drives any backend through time without sleeping.
//!
//! What is local to one node is not here: compiled wasm and unpacked task
//! directories are caches each runtime keeps in its own directory, made
//! again from the artifact ([`FunctionBackend::artifact`]) when missing.

use crate::records::{
    AccessKey, AsyncEvent, AsyncQueueStats, DeployResult, FunctionRecord, FunctionStats,
    InvocationRecord, LogRecord, NewAsyncEvent,
};
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;
use stratus_core::FunctionConfig;
pub use stratus_core::StoreError;

/// Where functions, their immutable versions and their artifacts are kept.
#[async_trait]
pub trait FunctionBackend: Send + Sync + 'static {
    /// Keeps an uploaded artifact under its SHA-256 (lower-case hex).
    /// `Invalid` if the hash is malformed or does not match the bytes.
    /// Storing the same artifact again is a no-op.
    async fn put_artifact(&self, sha256: &str, bytes: Bytes) -> Result<(), StoreError>;

    /// Whether the artifact is kept (false for a malformed hash).
    async fn has_artifact(&self, sha256: &str) -> Result<bool, StoreError>;

    /// The artifact's bytes, if kept (a node that has not compiled it yet
    /// reads it here). `Invalid` for a malformed hash.
    async fn artifact(&self, sha256: &str) -> Result<Option<Bytes>, StoreError>;

    /// Deploys a service in one transaction: a new immutable version for
    /// each function of `configs` whose configuration changed, the
    /// unchanged ones kept, the service's functions missing from `configs`
    /// removed. Results come in the order of `configs`, then the removed
    /// functions by name. Nothing changes on error: `Invalid` for an
    /// empty service, an empty or repeated function name or a malformed
    /// artifact hash; `NotFound` for an artifact not kept; `Conflict` for
    /// a name that belongs to another service.
    async fn deploy(
        &self,
        service: &str,
        configs: &[FunctionConfig],
    ) -> Result<Vec<DeployResult>, StoreError>;

    /// The current version of every function, by name.
    async fn list_functions(&self) -> Result<Vec<FunctionRecord>, StoreError>;

    /// Version `version` of function `name`, if it exists (old versions
    /// are kept).
    async fn version(&self, name: &str, version: u64)
    -> Result<Option<FunctionRecord>, StoreError>;

    /// Removes a function with all its versions; whether it existed.
    async fn remove_function(&self, name: &str) -> Result<bool, StoreError>;

    /// Removes every function of a service; their names.
    async fn remove_service(&self, service: &str) -> Result<Vec<String>, StoreError>;
}

/// Where log lines and invocation records are kept.
#[async_trait]
pub trait TelemetryBackend: Send + Sync + 'static {
    /// Appends a batch of log lines and invocation records, in one
    /// transaction. Each log line gets the next sequence number of its
    /// function.
    async fn append(
        &self,
        logs: Vec<LogRecord>,
        invocations: Vec<InvocationRecord>,
    ) -> Result<(), StoreError>;

    /// Up to `limit` log lines of `function` after sequence number
    /// `after_seq`, oldest first.
    async fn logs(
        &self,
        function: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<LogRecord>, StoreError>;

    /// Usage per function of the invocations that started at or after
    /// `since_ms`, by name.
    async fn stats(&self, since_ms: i64) -> Result<Vec<FunctionStats>, StoreError>;

    /// Deletes log lines older than `max_log_age_ms` or beyond the newest
    /// `max_log_rows` (a backend that stores an invocation's lines
    /// together may count and drop them together), and invocation records
    /// older than `keep_invocations_ms`; how many log lines and records
    /// went.
    async fn prune(
        &self,
        now_ms: i64,
        max_log_age_ms: i64,
        max_log_rows: i64,
        keep_invocations_ms: i64,
    ) -> Result<u64, StoreError>;
}

/// What a claim of asynchronous events found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claimed {
    /// Events leased to the caller, their attempt counted.
    pub events: Vec<AsyncEvent>,
    /// Events found past their maximum age, now failed (for the caller to
    /// log and send to their failure destination).
    pub expired: Vec<AsyncEvent>,
}

/// Where the durable queue of asynchronous invocations is kept.
///
/// An event is committed before the caller is acknowledged, claimed under
/// a lease (a claimer that dies leaves it to be claimed again once the
/// lease ends), and deleted once done, or kept as failed.
#[async_trait]
pub trait AsyncQueueBackend: Send + Sync + 'static {
    /// Queues an event, due at once. `Conflict` if an event with its
    /// request id is queued.
    async fn enqueue(&self, event: &NewAsyncEvent, now_ms: i64) -> Result<(), StoreError>;

    /// Claims up to `limit` events due at `now_ms`, the earliest due first
    /// (a retried event is due when its retry is), each leased until
    /// `now_ms + lease_ms` with its attempt counted; events past their
    /// maximum age are failed instead. An event whose lease ended is due
    /// again, even past its last attempt: the engine decides from
    /// `attempt` what to do with it.
    async fn claim(&self, now_ms: i64, limit: usize, lease_ms: i64) -> Result<Claimed, StoreError>;

    /// Deletes a claimed event: it ran. An unknown id is no error (the
    /// event is gone either way).
    async fn complete(&self, id: i64) -> Result<(), StoreError>;

    /// Gives a claimed event back, due at `visible_ms`, with `error` as its
    /// last error; `count_attempt` false gives its attempt back too (it
    /// never ran: throttled, no slot). An unknown id is no error.
    async fn retry(
        &self,
        id: i64,
        visible_ms: i64,
        error: &str,
        count_attempt: bool,
    ) -> Result<(), StoreError>;

    /// Marks a claimed event failed with `error` (kept, never claimed
    /// again). An unknown id is no error.
    async fn fail(&self, id: i64, error: &str) -> Result<(), StoreError>;

    /// Makes the leased events due again; how many. Called once at start:
    /// with one node, every lease is a dead process's. (A backend shared
    /// by several nodes needs to know which leases were this node's: the
    /// trait will take a node identity then.)
    async fn release_leases(&self) -> Result<usize, StoreError>;

    /// When the next pending event is due, if any.
    async fn next_due(&self) -> Result<Option<i64>, StoreError>;

    /// Counts of events pending (leased ones included) and failed.
    async fn stats(&self) -> Result<AsyncQueueStats, StoreError>;
}

/// Where the SigV4 access keys are kept.
#[async_trait]
pub trait KeyBackend: Send + Sync + 'static {
    /// The admin key, created on first call.
    async fn admin_key(&self) -> Result<AccessKey, StoreError>;

    /// Function `function`'s own key, created on first call and reused
    /// after; removed with the function. `NotFound` if no such function.
    async fn function_key(&self, function: &str) -> Result<AccessKey, StoreError>;

    /// The key with this id, if any.
    async fn access_key(&self, key_id: &str) -> Result<Option<AccessKey>, StoreError>;
}

/// Checks that `s` is a SHA-256 as artifacts are named: 64 lower-case hex
/// digits; `Invalid` otherwise.
pub fn validate_sha256(s: &str) -> Result<(), StoreError> {
    if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{s:?} is not a SHA-256 (64 lower-case hex digits)"
        )))
    }
}

/// The checks every [`FunctionBackend::deploy`] makes before it touches
/// its state (an empty service, an empty or repeated function name, a
/// malformed artifact hash: `Invalid`), and each config as the JSON a
/// backend stores.
pub fn prepare_deploy(
    service: &str,
    configs: &[FunctionConfig],
) -> Result<Vec<String>, StoreError> {
    if service.is_empty() {
        return Err(StoreError::Invalid("service name is empty".into()));
    }
    let mut names = std::collections::BTreeSet::new();
    for config in configs {
        if config.name.is_empty() {
            return Err(StoreError::Invalid("function name is empty".into()));
        }
        if !names.insert(config.name.as_str()) {
            return Err(StoreError::Invalid(format!(
                "function {:?} appears twice in the deployment",
                config.name
            )));
        }
        validate_sha256(&config.artifact)?;
    }
    configs
        .iter()
        .map(|c| {
            serde_json::to_string(c).map_err(|e| {
                StoreError::Invalid(format!("cannot serialize config of {:?}: {e}", c.name))
            })
        })
        .collect()
}

/// Whether a stored config (JSON) is the same deployment as a new one: the
/// same text, or the same values once parsed (robust to fields added with
/// defaults since it was stored).
pub fn same_config(stored_json: &str, new_json: &str, new: &FunctionConfig) -> bool {
    stored_json == new_json
        || serde_json::from_str::<FunctionConfig>(stored_json).is_ok_and(|stored| stored == *new)
}

/// The backends the engine runs on.
#[derive(Clone)]
pub struct EngineBackends {
    /// Functions, versions and artifacts.
    pub functions: Arc<dyn FunctionBackend>,
    /// Logs and invocation records.
    pub telemetry: Arc<dyn TelemetryBackend>,
    /// The async invocation queue.
    pub async_queue: Arc<dyn AsyncQueueBackend>,
    /// Access keys.
    pub keys: Arc<dyn KeyBackend>,
}
