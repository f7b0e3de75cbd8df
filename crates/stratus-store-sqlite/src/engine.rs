//! The engine's backends over the embedded store: functions and
//! artifacts, logs and usage, the async invocation queue, access keys.

use async_trait::async_trait;
use bytes::Bytes;
use stratus_core::FunctionConfig;
use stratus_engine::backend::{
    AsyncQueueBackend, Claimed, EngineBackends, FunctionBackend, KeyBackend, StoreError,
    TelemetryBackend,
};
use stratus_engine::records::{
    AccessKey, AsyncQueueStats, DeployResult, FunctionRecord, FunctionStats, InvocationRecord,
    LogRecord, NewAsyncEvent,
};

use crate::Store;
use std::sync::Arc;

sqlite_backend! {
    /// Functions, their versions and artifacts in the embedded store.
    SqliteFunctions
}

sqlite_backend! {
    /// Log lines and invocation records in the embedded store.
    SqliteTelemetry
}

sqlite_backend! {
    /// The async invocation queue in the embedded store.
    SqliteAsyncQueue
}

sqlite_backend! {
    /// Access keys in the embedded store.
    SqliteKeys
}

/// Every backend of the engine over one store.
pub fn engine_backends(store: &Store) -> EngineBackends {
    EngineBackends {
        functions: Arc::new(SqliteFunctions::new(store.clone())),
        telemetry: Arc::new(SqliteTelemetry::new(store.clone())),
        async_queue: Arc::new(SqliteAsyncQueue::new(store.clone())),
        keys: Arc::new(SqliteKeys::new(store.clone())),
    }
}

#[async_trait]
impl FunctionBackend for SqliteFunctions {
    async fn put_artifact(&self, sha256: &str, bytes: Bytes) -> Result<(), StoreError> {
        let sha256 = sha256.to_string();
        self.run("storing an artifact", move |s| {
            s.put_artifact(&sha256, &bytes).map(|_| ())
        })
        .await
    }

    async fn has_artifact(&self, sha256: &str) -> Result<bool, StoreError> {
        let sha256 = sha256.to_string();
        self.run("looking for an artifact", move |s| {
            Ok(s.has_artifact(&sha256))
        })
        .await
    }

    async fn artifact(&self, sha256: &str) -> Result<Option<Bytes>, StoreError> {
        let sha256 = sha256.to_string();
        self.run("reading an artifact", move |s| {
            Ok(s.read_artifact(&sha256)?.map(Bytes::from))
        })
        .await
    }

    async fn deploy(
        &self,
        service: &str,
        configs: &[FunctionConfig],
    ) -> Result<Vec<DeployResult>, StoreError> {
        let service = service.to_string();
        let configs = configs.to_vec();
        self.run("deploying", move |s| s.deploy(&service, &configs))
            .await
    }

    async fn list_functions(&self) -> Result<Vec<FunctionRecord>, StoreError> {
        self.run("listing functions", |s| s.list_functions()).await
    }

    async fn version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<FunctionRecord>, StoreError> {
        let name = name.to_string();
        self.run("reading a version", move |s| s.get_version(&name, version))
            .await
    }

    async fn remove_function(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.run("removing a function", move |s| s.remove_function(&name))
            .await
    }

    async fn remove_service(&self, service: &str) -> Result<Vec<String>, StoreError> {
        let service = service.to_string();
        self.run("removing a service", move |s| s.remove_service(&service))
            .await
    }
}

#[async_trait]
impl TelemetryBackend for SqliteTelemetry {
    async fn append(
        &self,
        logs: Vec<LogRecord>,
        invocations: Vec<InvocationRecord>,
    ) -> Result<(), StoreError> {
        self.run("writing logs", move |s| s.append(&logs, &invocations))
            .await
    }

    async fn logs(
        &self,
        function: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<LogRecord>, StoreError> {
        let function = function.to_string();
        self.run("reading logs", move |s| s.logs(&function, after_seq, limit))
            .await
    }

    async fn stats(&self, since_ms: i64) -> Result<Vec<FunctionStats>, StoreError> {
        self.run("summing usage", move |s| s.stats(since_ms)).await
    }

    async fn prune(
        &self,
        now_ms: i64,
        max_log_age_ms: i64,
        max_log_rows: i64,
        keep_invocations_ms: i64,
    ) -> Result<u64, StoreError> {
        self.run("pruning logs", move |s| {
            s.prune(now_ms, max_log_age_ms, max_log_rows, keep_invocations_ms)
        })
        .await
    }
}

#[async_trait]
impl AsyncQueueBackend for SqliteAsyncQueue {
    async fn enqueue(&self, event: &NewAsyncEvent, now_ms: i64) -> Result<(), StoreError> {
        let event = event.clone();
        self.run("queuing an asynchronous event", move |s| {
            s.enqueue_async(&event, now_ms)
        })
        .await
    }

    async fn claim(&self, now_ms: i64, limit: usize, lease_ms: i64) -> Result<Claimed, StoreError> {
        self.run("claiming asynchronous events", move |s| {
            let (events, expired) = s.claim_async(now_ms, limit, lease_ms)?;
            Ok(Claimed { events, expired })
        })
        .await
    }

    async fn complete(&self, id: i64) -> Result<(), StoreError> {
        self.run("completing an asynchronous event", move |s| {
            s.complete_async(id)
        })
        .await
    }

    async fn retry(
        &self,
        id: i64,
        visible_ms: i64,
        error: &str,
        count_attempt: bool,
    ) -> Result<(), StoreError> {
        let error = error.to_string();
        self.run("retrying an asynchronous event", move |s| {
            s.retry_async(id, visible_ms, &error, count_attempt)
        })
        .await
    }

    async fn fail(&self, id: i64, error: &str) -> Result<(), StoreError> {
        let error = error.to_string();
        self.run("failing an asynchronous event", move |s| {
            s.fail_async(id, &error)
        })
        .await
    }

    async fn release_leases(&self) -> Result<usize, StoreError> {
        self.run("releasing leases", |s| s.release_async_leases())
            .await
    }

    async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        self.run("reading the next due event", |s| s.next_async_due())
            .await
    }

    async fn stats(&self) -> Result<AsyncQueueStats, StoreError> {
        self.run("counting asynchronous events", |s| s.async_stats())
            .await
    }
}

#[async_trait]
impl KeyBackend for SqliteKeys {
    async fn admin_key(&self) -> Result<AccessKey, StoreError> {
        self.run("reading the admin key", |s| s.load_or_create_admin_key())
            .await
    }

    async fn function_key(&self, function: &str) -> Result<AccessKey, StoreError> {
        let function = function.to_string();
        self.run("reading a function key", move |s| s.function_key(&function))
            .await
    }

    async fn access_key(&self, key_id: &str) -> Result<Option<AccessKey>, StoreError> {
        let key_id = key_id.to_string();
        self.run("reading an access key", move |s| s.access_key(&key_id))
            .await
    }
}
