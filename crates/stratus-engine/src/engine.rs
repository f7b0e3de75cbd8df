//! The engine: every invocation, whatever triggered it, goes through
//! [`Engine::invoke`]. Limits, cold-start accounting, logs, usage and metrics
//! happen here once.

#[path = "async_invoke.rs"]
mod async_invoke;

pub use async_invoke::{
    AsyncOutcome, AsyncOutcomes, Condition, MAX_ASYNC_PAYLOAD_BYTES, MAX_RETRY_ATTEMPTS,
};

use crate::limits::{Limits, Throttle};
use crate::metrics::{FunctionMetrics, Metrics};
use crate::pool::Pool;
use crate::runtime::{
    FunctionError, FunctionErrorKind, InvokeOutput, InvokeRequest, Runtime, RuntimeError,
};
use crate::writer::{LogWriter, WriterHandle};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use stratus_core::pricing::PriceSheet;
use stratus_core::route::Router;
use stratus_core::{FunctionConfig, RuntimeKind};
use stratus_store::{
    DeployResult, FunctionRecord, InvocationRecord, LogRecord, LogStream, Outcome, Store,
    StoreError,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// Payload limit for synchronous requests and responses (Lambda's 6 MB).
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Idle time after which an unused instance is retired (scale to zero).
    pub keep_alive: Duration,
    /// Server-wide cap on concurrent invocations.
    pub max_concurrency: usize,
    /// Request and response body limit.
    pub max_payload_bytes: usize,
    /// Log records older than this are pruned.
    pub log_retention: Duration,
    /// At most this many log records are kept.
    pub max_log_records: i64,
    /// Invocation (usage) records older than this are pruned.
    pub usage_retention: Duration,
    /// Prices for `stats`.
    pub prices: PriceSheet,
    /// Delay before the first retry of a failed asynchronous invocation;
    /// the n-th retry waits n times this (Lambda: 1 min, then 2 min).
    pub async_retry_delay: Duration,
    /// Extra environment variables for each function (its own AWS
    /// credentials and endpoint), added when its pool is built; variables
    /// the function sets itself win.
    pub function_env: Option<FunctionEnv>,
}

/// Computes extra environment variables for a function (see
/// [`EngineConfig::function_env`]). Called when a pool is built, on an async
/// thread: it should be quick (a store read, or a rare write).
#[derive(Clone)]
pub struct FunctionEnv(pub Arc<FunctionEnvFn>);

/// The function behind [`FunctionEnv`].
pub type FunctionEnvFn = dyn Fn(&FunctionConfig) -> Vec<(String, String)> + Send + Sync;

impl std::fmt::Debug for FunctionEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FunctionEnv(..)")
    }
}

impl EngineConfig {
    /// The configuration a function's pool runs with: `config` plus the
    /// [`function_env`](Self::function_env) variables it does not set.
    fn pool_config(&self, config: &FunctionConfig) -> Arc<FunctionConfig> {
        let mut config = config.clone();
        if let Some(FunctionEnv(env)) = &self.function_env {
            for (key, value) in env(&config) {
                config.environment.entry(key).or_insert(value);
            }
        }
        Arc::new(config)
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            keep_alive: Duration::from_secs(300),
            max_concurrency: 1000,
            max_payload_bytes: MAX_PAYLOAD_BYTES,
            log_retention: Duration::from_secs(7 * 24 * 3600),
            max_log_records: 1_000_000,
            usage_retention: Duration::from_secs(400 * 24 * 3600),
            prices: PriceSheet::default(),
            async_retry_delay: Duration::from_secs(60),
            function_env: None,
        }
    }
}

/// Errors of engine operations, for callers to map to their protocol.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("function `{0}` not found")]
    NotFound(String),
    #[error("{0}")]
    Throttled(Throttle),
    #[error("request body is {size} bytes; the limit is {limit} bytes")]
    PayloadTooLarge { size: usize, limit: usize },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// What triggered an invocation (recorded with its usage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Http,
    Invoke,
    /// An asynchronous (`Event`) invocation, run from the durable queue.
    Event,
    /// A batch from a queue's event-source mapping.
    Queue,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Http => "http",
            Trigger::Invoke => "invoke",
            Trigger::Event => "event",
            Trigger::Queue => "queue",
        }
    }
}

/// The result of one invocation.
#[derive(Debug)]
pub struct Invocation {
    pub request_id: String,
    pub function: String,
    pub version: u64,
    pub cold: bool,
    pub duration: Duration,
    pub result: Result<http::Response<Bytes>, FunctionError>,
    /// The invocation's log lines: START, the function's lines, END, REPORT.
    pub log: Vec<String>,
}

/// A route match from the gateway's point of view.
#[derive(Debug, Clone)]
pub struct RoutedTo {
    pub function: String,
    pub route_key: String,
    pub params: Vec<(String, String)>,
}

struct Deployed {
    record: FunctionRecord,
    pool: Arc<Pool>,
    /// In-flight invocations of the function, shared by all its versions
    /// (reserved concurrency is a function-level limit, as on Lambda).
    inflight: Arc<AtomicUsize>,
    metrics: FunctionMetrics,
}

/// Which version of a function to invoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    /// The current version (`$LATEST`).
    Latest,
    /// One immutable version.
    Version(u64),
}

#[derive(Default)]
struct Registry {
    functions: HashMap<String, Arc<Deployed>>,
    router: Router<String>,
}

/// Per-function usage and cost, for `stats`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionUsage {
    #[serde(flatten)]
    pub stats: stratus_store::FunctionStats,
    /// Cost before the free tier, in USD.
    pub cost: f64,
}

/// Usage for the current month.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub since_ms: i64,
    pub functions: Vec<FunctionUsage>,
    pub total_requests: u64,
    pub total_gb_seconds: f64,
    pub cost: stratus_core::pricing::Cost,
    pub prices: PriceSheet,
}

struct Inner {
    store: Store,
    config: EngineConfig,
    runtimes: HashMap<RuntimeKind, Arc<dyn Runtime>>,
    registry: RwLock<Registry>,
    /// Versions other than the current one that were invoked by number,
    /// loaded on demand; their idle instances are retired like any other.
    pinned: std::sync::Mutex<HashMap<(String, u64), Arc<Deployed>>>,
    deploy_lock: tokio::sync::Mutex<()>,
    limits: Limits,
    metrics: Metrics,
    writer: WriterHandle,
    accepting: AtomicBool,
    inflight: AtomicUsize,
    idle: Notify,
    cancel: CancellationToken,
    tasks: TaskTracker,
    /// Wakes the asynchronous dispatcher (an event was queued).
    async_wake: Notify,
    /// Bumped after every registry change (deploy, removal), so event
    /// sources can follow the functions' triggers.
    deploys: tokio::sync::watch::Sender<u64>,
    /// Destinations of finished asynchronous invocations (set by the event
    /// services).
    async_outcomes: std::sync::OnceLock<Arc<dyn async_invoke::AsyncOutcomes>>,
}

/// The engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Decrements the in-flight counters when an invocation ends, however it ends.
struct InflightGuard<'a> {
    engine: &'a Inner,
    deployed: Arc<Deployed>,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.deployed.inflight.fetch_sub(1, Ordering::AcqRel);
        self.engine.limits.release();
        self.deployed.metrics.concurrent.dec();
        if self.engine.inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.engine.idle.notify_waiters();
        }
    }
}

impl Engine {
    /// Builds the engine over a store, loads the deployed functions and starts
    /// the background loops (log writer, scale-to-zero reaper, retention).
    pub async fn start(
        store: Store,
        runtimes: Vec<Arc<dyn Runtime>>,
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let writer = LogWriter::spawn(store.clone());
        let inner = Arc::new(Inner {
            limits: Limits::new(config.max_concurrency),
            store,
            config,
            runtimes: runtimes
                .into_iter()
                .flat_map(|r| r.kinds().iter().map(move |k| (*k, r.clone())))
                .collect(),
            registry: RwLock::new(Registry::default()),
            pinned: std::sync::Mutex::new(HashMap::new()),
            deploy_lock: tokio::sync::Mutex::new(()),
            metrics: Metrics::default(),
            writer,
            accepting: AtomicBool::new(true),
            inflight: AtomicUsize::new(0),
            idle: Notify::new(),
            cancel,
            tasks,
            async_wake: Notify::new(),
            deploys: tokio::sync::watch::Sender::new(0),
            async_outcomes: std::sync::OnceLock::new(),
        });
        let engine = Engine { inner };
        engine.reload().await?;
        // Events a previous process held when it stopped run again.
        let released = engine.blocking(|s| s.release_async_leases()).await?;
        if released > 0 {
            tracing::info!(
                released,
                "asynchronous events left running by the last process are queued again"
            );
        }
        engine.spawn_reaper();
        engine.spawn_pruner();
        engine.spawn_async_dispatcher();
        Ok(engine)
    }

    /// A receiver that changes after every deploy or removal of functions
    /// (the registry's generation).
    pub fn subscribe_deploys(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.deploys.subscribe()
    }

    /// The engine's cancellation token (cancelled at shutdown).
    pub fn cancellation(&self) -> CancellationToken {
        self.inner.cancel.clone()
    }

    /// The store behind the engine.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    fn runtime(&self, kind: RuntimeKind) -> Result<Arc<dyn Runtime>, EngineError> {
        self.inner
            .runtimes
            .get(&kind)
            .cloned()
            .ok_or_else(|| EngineError::Invalid(format!("runtime {kind:?} is not available")))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| EngineError::Internal(format!("store task failed: {e}")))?
            .map_err(EngineError::from)
    }

    /// Rebuilds the registry from the store, keeping warm pools of versions
    /// that did not change.
    async fn reload(&self) -> Result<(), EngineError> {
        let records = self.blocking(|s| s.list_functions()).await?;
        let mut fresh = Registry::default();
        let mut to_provision = Vec::new();
        {
            let current = self.read_registry();
            for record in records {
                let kept = current
                    .functions
                    .get(&record.name)
                    .filter(|d| d.record.version == record.version)
                    .cloned();
                let deployed = match kept {
                    Some(d) => d,
                    None => {
                        let inflight = current
                            .functions
                            .get(&record.name)
                            .map(|d| d.inflight.clone())
                            .unwrap_or_default();
                        let runtime = self.runtime(record.config.runtime)?;
                        let pool =
                            Pool::new(self.inner.config.pool_config(&record.config), runtime);
                        if record.config.provisioned_concurrency > 0 {
                            to_provision.push((
                                pool.clone(),
                                record.config.provisioned_concurrency as usize,
                            ));
                        }
                        Arc::new(Deployed {
                            metrics: self.inner.metrics.function(&record.name),
                            record,
                            pool,
                            inflight,
                        })
                    }
                };
                for route in &deployed.record.config.routes {
                    if let Err(error) = fresh.router.insert(
                        &route.method,
                        &route.path,
                        deployed.record.name.clone(),
                    ) {
                        tracing::warn!(function = %deployed.record.name, %error, "route skipped");
                    }
                }
                fresh
                    .functions
                    .insert(deployed.record.name.clone(), deployed);
            }
        }
        self.inner
            .pinned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(name, _), _| fresh.functions.contains_key(name));
        *self
            .inner
            .registry
            .write()
            .unwrap_or_else(|e| e.into_inner()) = fresh;
        self.inner
            .deploys
            .send_modify(|generation| *generation += 1);
        for (pool, count) in to_provision {
            if let Err(error) = pool.provision(count).await {
                tracing::error!(%error, "provisioned concurrency could not be loaded");
            }
        }
        Ok(())
    }

    fn read_registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.inner
            .registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Validates and compiles an uploaded artifact, then stores it.
    pub async fn upload_artifact(
        &self,
        kind: RuntimeKind,
        sha256: &str,
        bytes: Bytes,
    ) -> Result<(), EngineError> {
        let runtime = self.runtime(kind)?;
        let owned = sha256.to_string();
        let copy = bytes.clone();
        // Verify the hash and keep the source before compiling, so a bad
        // upload is rejected without burning a compile.
        self.blocking(move |s| s.put_artifact(&owned, &copy).map(|_| ()))
            .await?;
        runtime.prepare(sha256, bytes).await?;
        Ok(())
    }

    /// Whether an artifact is stored and compiled.
    pub fn has_artifact(&self, kind: RuntimeKind, sha256: &str) -> bool {
        self.inner.store.has_artifact(sha256)
            && self
                .inner
                .runtimes
                .get(&kind)
                .is_some_and(|r| r.is_prepared(sha256))
    }

    /// Deploys a service: a new immutable version for each changed function,
    /// switched in atomically.
    pub async fn deploy(
        &self,
        service: &str,
        configs: Vec<FunctionConfig>,
    ) -> Result<Vec<DeployResult>, EngineError> {
        let _serial = self.inner.deploy_lock.lock().await;
        for config in &configs {
            if !self.has_artifact(config.runtime, &config.artifact) {
                return Err(EngineError::Invalid(format!(
                    "artifact {} of function `{}` was not uploaded",
                    config.artifact, config.name
                )));
            }
        }
        self.check_routes(service, &configs)?;
        let mut kinds: Vec<RuntimeKind> = configs.iter().map(|c| c.runtime).collect();
        kinds.sort_by_key(|k| k.as_str());
        kinds.dedup();
        let service_owned = service.to_string();
        let results = self
            .blocking(move |s| s.deploy(&service_owned, &configs))
            .await?;
        self.reload().await?;
        for kind in kinds {
            let Ok(runtime) = self.runtime(kind) else {
                continue;
            };
            let cancel = self.inner.cancel.clone();
            self.inner.tasks.spawn(async move {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    result = runtime.prepare_kind(kind) => {
                        if let Err(error) = result {
                            tracing::warn!(runtime = kind.as_str(), error = %crate::error_chain(&error), "could not prepare the runtime; the first cold start will try again");
                        }
                    }
                }
            });
        }
        Ok(results)
    }

    /// Route conflicts against the functions of other services.
    fn check_routes(&self, service: &str, configs: &[FunctionConfig]) -> Result<(), EngineError> {
        let registry = self.read_registry();
        let mut router = Router::new();
        for deployed in registry.functions.values() {
            if deployed.record.service == service {
                continue;
            }
            for route in &deployed.record.config.routes {
                let _ = router.insert(&route.method, &route.path, deployed.record.name.clone());
            }
        }
        for config in configs {
            for route in &config.routes {
                router
                    .insert(&route.method, &route.path, config.name.clone())
                    .map_err(|e| {
                        EngineError::Conflict(format!(
                            "route `{} {}` of function `{}`: {e}",
                            route.method, route.path, config.name
                        ))
                    })?;
            }
        }
        Ok(())
    }

    /// Removes one function.
    pub async fn remove_function(&self, name: &str) -> Result<bool, EngineError> {
        let _serial = self.inner.deploy_lock.lock().await;
        let owned = name.to_string();
        let removed = self.blocking(move |s| s.remove_function(&owned)).await?;
        self.reload().await?;
        Ok(removed)
    }

    /// Removes every function of a service.
    pub async fn remove_service(&self, service: &str) -> Result<Vec<String>, EngineError> {
        let _serial = self.inner.deploy_lock.lock().await;
        let owned = service.to_string();
        let removed = self.blocking(move |s| s.remove_service(&owned)).await?;
        self.reload().await?;
        Ok(removed)
    }

    /// The deployed functions.
    pub fn functions(&self) -> Vec<FunctionRecord> {
        let mut list: Vec<_> = self
            .read_registry()
            .functions
            .values()
            .map(|d| d.record.clone())
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// One deployed function.
    pub fn function(&self, name: &str) -> Option<FunctionRecord> {
        self.read_registry()
            .functions
            .get(name)
            .map(|d| d.record.clone())
    }

    /// Loaded instances of a function (0 when scaled to zero).
    pub fn loaded_instances(&self, name: &str) -> usize {
        self.read_registry()
            .functions
            .get(name)
            .map_or(0, |d| d.pool.loaded())
    }

    /// Retires a function's idle instances now, keeping provisioned ones.
    pub fn evict(&self, name: &str) -> Result<usize, EngineError> {
        let registry = self.read_registry();
        let deployed = registry
            .functions
            .get(name)
            .ok_or_else(|| EngineError::NotFound(name.to_string()))?;
        Ok(deployed.pool.retire_idle(
            Duration::ZERO,
            deployed.record.config.provisioned_concurrency as usize,
            Instant::now(),
        ))
    }

    /// Finds the function serving an HTTP route.
    pub fn route(&self, method: &str, path: &str) -> Option<RoutedTo> {
        let registry = self.read_registry();
        let found = registry.router.lookup(method, path)?;
        Some(RoutedTo {
            function: found.value.clone(),
            route_key: found.route_key,
            params: found.params,
        })
    }

    /// Runs one invocation of a function's current version.
    pub async fn invoke(
        &self,
        function: &str,
        request: http::Request<Bytes>,
        trigger: Trigger,
    ) -> Result<Invocation, EngineError> {
        self.invoke_qualified(function, Qualifier::Latest, request, trigger)
            .await
    }

    /// The deployed version a qualifier names, loading an older version on
    /// first use.
    async fn resolve(
        &self,
        function: &str,
        qualifier: Qualifier,
    ) -> Result<Arc<Deployed>, EngineError> {
        let current = self
            .read_registry()
            .functions
            .get(function)
            .cloned()
            .ok_or_else(|| EngineError::NotFound(function.to_string()))?;
        let version = match qualifier {
            Qualifier::Latest => return Ok(current),
            Qualifier::Version(v) if v == current.record.version => return Ok(current),
            Qualifier::Version(v) => v,
        };
        let key = (function.to_string(), version);
        if let Some(found) = self
            .inner
            .pinned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(found.clone());
        }
        let name = function.to_string();
        let record = self
            .blocking(move |s| s.get_version(&name, version))
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("{function}:{version}")))?;
        let runtime = self.runtime(record.config.runtime)?;
        let deployed = Arc::new(Deployed {
            pool: Pool::new(self.inner.config.pool_config(&record.config), runtime),
            metrics: current.metrics.clone(),
            inflight: current.inflight.clone(),
            record,
        });
        Ok(self
            .inner
            .pinned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert(deployed)
            .clone())
    }

    /// Runs one invocation of a given version of a function.
    pub async fn invoke_qualified(
        &self,
        function: &str,
        qualifier: Qualifier,
        request: http::Request<Bytes>,
        trigger: Trigger,
    ) -> Result<Invocation, EngineError> {
        self.invoke_with_id(function, qualifier, request, trigger, None)
            .await
    }

    /// Runs one invocation; `request_id` keeps an id given earlier (an
    /// asynchronous event's, the same on every attempt), else a new one is
    /// made.
    async fn invoke_with_id(
        &self,
        function: &str,
        qualifier: Qualifier,
        request: http::Request<Bytes>,
        trigger: Trigger,
        request_id: Option<String>,
    ) -> Result<Invocation, EngineError> {
        let inner = &*self.inner;
        if !inner.accepting.load(Ordering::Acquire) {
            return Err(EngineError::ShuttingDown);
        }
        let size = request.body().len();
        if size > inner.config.max_payload_bytes {
            return Err(EngineError::PayloadTooLarge {
                size,
                limit: inner.config.max_payload_bytes,
            });
        }
        let deployed = self.resolve(function, qualifier).await?;
        let metrics = &deployed.metrics;
        let request_id = request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let config = &deployed.record.config;
        // Every log line of this invocation's work (cold start, the
        // runtime's handling, the sandbox) carries these fields.
        let span = tracing::info_span!(
            "invoke",
            function = %function,
            version = deployed.record.version,
            request_id = %request_id,
            trigger = trigger.as_str(),
        );

        // Limits: reserved concurrency, then the server-wide cap.
        let reserved = config.reserved_concurrency;
        let previous = deployed.inflight.fetch_add(1, Ordering::AcqRel);
        let throttle = if reserved.is_some_and(|r| previous >= r as usize) {
            Some(Throttle::reserved(reserved.unwrap_or(0)))
        } else if !inner.limits.try_acquire() {
            Some(Throttle::global(inner.config.max_concurrency))
        } else {
            None
        };
        if let Some(throttle) = throttle {
            deployed.inflight.fetch_sub(1, Ordering::AcqRel);
            metrics.throttles.inc();
            inner.writer.send(
                Vec::new(),
                vec![InvocationRecord {
                    ts_ms: now_ms(),
                    function: function.to_string(),
                    version: deployed.record.version,
                    request_id,
                    trigger: trigger.as_str().to_string(),
                    outcome: Outcome::Throttled,
                    cold: false,
                    duration_us: 0,
                    init_us: None,
                    billed_ms: 0,
                    memory_mb: config.memory_size,
                    max_memory_bytes: 0,
                }],
            );
            return Err(EngineError::Throttled(throttle));
        }
        inner.inflight.fetch_add(1, Ordering::AcqRel);
        metrics.concurrent.inc();
        let _guard = InflightGuard {
            engine: inner,
            deployed: deployed.clone(),
        };

        let lease = deployed.pool.acquire().instrument(span.clone()).await?;
        let cold = lease.init.is_some();
        if cold {
            metrics.cold_starts.inc();
        }
        let timeout = config.timeout_duration();
        let started = Instant::now();
        let invoke = lease.instance.invoke(InvokeRequest {
            request_id: request_id.clone(),
            request,
            timeout,
        });
        // Backstop: the runtime stops its own guests at the deadline; this
        // catches a runtime that fails to.
        let invoke = tokio::time::timeout(timeout + Duration::from_secs(2), invoke);
        let output = match invoke.instrument(span).await {
            Ok(output) => output,
            Err(_) => InvokeOutput {
                result: Err(FunctionError::new(FunctionErrorKind::Timeout, "")),
                logs: Vec::new(),
                max_memory_bytes: 0,
            },
        };
        let duration = started.elapsed();
        let init = lease.init;
        drop(lease);
        Ok(self.finish(&deployed, request_id, trigger, init, duration, output))
    }

    fn finish(
        &self,
        deployed: &Deployed,
        request_id: String,
        trigger: Trigger,
        init: Option<Duration>,
        duration: Duration,
        output: InvokeOutput,
    ) -> Invocation {
        let cold = init.is_some();
        let inner = &*self.inner;
        let record = &deployed.record;
        let config = &record.config;
        let metrics = &deployed.metrics;
        let billed_ms = inner.config.prices.billed_ms(duration);
        let ts = now_ms();
        let outcome = match &output.result {
            Ok(_) => Outcome::Ok,
            Err(e) if e.kind == FunctionErrorKind::Timeout => Outcome::Timeout,
            Err(_) => Outcome::Error,
        };
        metrics.invocations.inc();
        metrics.duration.observe(duration.as_secs_f64());
        if outcome != Outcome::Ok {
            metrics.errors.inc();
        }

        let mut lines: Vec<(LogStream, String)> = Vec::with_capacity(output.logs.len() + 4);
        lines.push((
            LogStream::Platform,
            format!("START RequestId: {request_id} Version: {}", record.version),
        ));
        lines.extend(output.logs);
        if let Err(error) = &output.result {
            let message = match error.kind {
                FunctionErrorKind::Timeout => {
                    format!(
                        "{request_id} Task timed out after {:.2} seconds",
                        config.timeout
                    )
                }
                _ => format!(
                    "{request_id} Error: {}: {}",
                    error.error_type(),
                    error.message
                ),
            };
            lines.push((LogStream::Platform, message));
        }
        lines.push((LogStream::Platform, format!("END RequestId: {request_id}")));
        let max_mb = output.max_memory_bytes.div_ceil(1024 * 1024);
        let mut report = format!(
            "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {billed_ms} ms\tMemory Size: {} MB\tMax Memory Used: {max_mb} MB",
            duration.as_secs_f64() * 1000.0,
            config.memory_size,
        );
        let init_us = init.map(|d| d.as_micros() as u64);
        if let Some(init) = init {
            report.push_str(&format!(
                "\tInit Duration: {:.2} ms",
                init.as_secs_f64() * 1000.0
            ));
        }
        lines.push((LogStream::Platform, report));

        let log = lines.iter().map(|(_, l)| l.clone()).collect();
        let records = lines
            .into_iter()
            .map(|(stream, message)| LogRecord {
                seq: 0,
                ts_ms: ts,
                function: record.name.clone(),
                version: record.version,
                request_id: request_id.clone(),
                stream,
                message,
            })
            .collect();
        inner.writer.send(
            records,
            vec![InvocationRecord {
                ts_ms: ts,
                function: record.name.clone(),
                version: record.version,
                request_id: request_id.clone(),
                trigger: trigger.as_str().to_string(),
                outcome,
                cold,
                duration_us: duration.as_micros() as u64,
                init_us,
                billed_ms,
                memory_mb: config.memory_size,
                max_memory_bytes: output.max_memory_bytes,
            }],
        );
        Invocation {
            request_id,
            function: record.name.clone(),
            version: record.version,
            cold,
            duration,
            result: output.result,
            log,
        }
    }

    /// Usage of the current calendar month (UTC), priced.
    pub async fn usage(&self) -> Result<Usage, EngineError> {
        use chrono::Datelike;
        let now = chrono::Utc::now();
        let month_start = now
            .date_naive()
            .with_day(1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc().timestamp_millis())
            .unwrap_or(0);
        let stats = self.blocking(move |s| s.stats(month_start)).await?;
        let prices = self.inner.config.prices.clone();
        let mut total_requests = 0;
        let mut total_gb_seconds = 0.0;
        let functions = stats
            .into_iter()
            .map(|stats| {
                total_requests += stats.invocations;
                total_gb_seconds += stats.gb_seconds;
                let cost = prices.cost(stats.invocations, stats.gb_seconds).gross;
                FunctionUsage { stats, cost }
            })
            .collect();
        Ok(Usage {
            since_ms: month_start,
            functions,
            total_requests,
            total_gb_seconds,
            cost: prices.cost(total_requests, total_gb_seconds),
            prices,
        })
    }

    /// Log records of a function after a sequence number.
    pub async fn logs(
        &self,
        function: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<LogRecord>, EngineError> {
        let owned = function.to_string();
        self.blocking(move |s| s.logs(&owned, after, limit)).await
    }

    /// Prometheus text.
    pub fn metrics_text(&self) -> String {
        self.inner.metrics.render()
    }

    /// Waits until every log and usage record sent so far is committed.
    pub async fn flush(&self) {
        self.inner.writer.flush().await;
    }

    /// Stops taking invocations, waits up to `grace` for in-flight ones, then
    /// stops the background loops and flushes logs. Returns how many
    /// invocations were still running when the grace ran out.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        let inner = &*self.inner;
        inner.accepting.store(false, Ordering::Release);
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let notified = inner.idle.notified();
            if inner.inflight.load(Ordering::Acquire) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        let left = inner.inflight.load(Ordering::Acquire);
        inner.cancel.cancel();
        inner.tasks.close();
        inner.tasks.wait().await;
        inner.writer.flush().await;
        left
    }

    /// Stops the log writer thread and waits for it (after `shutdown`).
    pub fn join_writer(&self) {
        self.inner.writer.close_and_join();
    }

    fn spawn_reaper(&self) {
        let engine = self.clone();
        let keep_alive = self.inner.config.keep_alive;
        let period = (keep_alive / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
        let cancel = self.inner.cancel.clone();
        self.inner.tasks.spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let now = Instant::now();
                let mut deployed: Vec<_> = engine.read_registry().functions.values().cloned().collect();
                deployed.extend(
                    engine
                        .inner
                        .pinned
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .values()
                        .cloned(),
                );
                for d in deployed {
                    let keep = d.record.config.provisioned_concurrency as usize;
                    let retired = d.pool.retire_idle(keep_alive, keep, now);
                    if retired > 0 {
                        tracing::debug!(function = %d.record.name, retired, "scaled down idle instances");
                    }
                }
            }
        });
    }

    fn spawn_pruner(&self) {
        let engine = self.clone();
        let cancel = self.inner.cancel.clone();
        self.inner.tasks.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let config = engine.inner.config.clone();
                let result = engine
                    .blocking(move |s| {
                        s.prune(
                            now_ms(),
                            config.log_retention.as_millis() as i64,
                            config.max_log_records,
                            config.usage_retention.as_millis() as i64,
                        )
                    })
                    .await;
                match result {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "pruned old log and usage records"),
                    Err(error) => tracing::warn!(error = %crate::error_chain(&error), "retention pruning failed"),
                }
            }
        });
    }
}
