//! The engine: every invocation, whatever triggered it, goes through
//! [`Engine::invoke`]. Limits, cold-start accounting, logs, usage and metrics
//! happen here once.

pub use crate::async_invoke::{
    AsyncOutcome, AsyncOutcomes, Condition, MAX_ASYNC_PAYLOAD_BYTES, MAX_RETRY_ATTEMPTS,
};

use crate::backend::{EngineBackends, StoreError};
use crate::limits::{Limits, Throttle};
use crate::metrics::{FunctionMetrics, Metrics};
use crate::pool::Pool;
use crate::records::{AccessKey, FunctionRecord, LogRecord};
use crate::runtime::{FunctionError, Runtime, RuntimeError};
use crate::writer::{LogWriter, WriterHandle};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use stratus_core::pricing::PriceSheet;
use stratus_core::route::Router;
use stratus_core::{FunctionConfig, RuntimeKind};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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
    /// Extra environment variables for each function (the AWS endpoint
    /// and region it calls), added when its pool is built; variables the
    /// function sets itself win.
    pub function_env: Option<FunctionEnv>,
    /// Whether each function gets its own AWS credentials
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`
    /// of its key in the [`crate::backend::KeyBackend`]) when its pool is
    /// built.
    pub function_credentials: bool,
}

/// Computes extra environment variables for a function (see
/// [`EngineConfig::function_env`]). Called when a pool is built, on an async
/// thread: it must be quick and do no IO.
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
    pub(crate) fn pool_config(
        &self,
        config: &FunctionConfig,
        credentials: Option<&AccessKey>,
    ) -> Arc<FunctionConfig> {
        let mut config = config.clone();
        if let Some(FunctionEnv(env)) = &self.function_env {
            for (key, value) in env(&config) {
                config.environment.entry(key).or_insert(value);
            }
        }
        if let Some(key) = credentials {
            let mut own = vec![
                ("AWS_ACCESS_KEY_ID", key.key_id.clone()),
                ("AWS_SECRET_ACCESS_KEY", key.secret.clone()),
            ];
            if let Some(token) = &key.session_token {
                own.push(("AWS_SESSION_TOKEN", token.clone()));
            }
            for (name, value) in own {
                config.environment.entry(name.to_string()).or_insert(value);
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
            function_credentials: false,
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
    pub(crate) fn as_str(self) -> &'static str {
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

pub(crate) struct Deployed {
    pub(crate) record: FunctionRecord,
    pub(crate) pool: Arc<Pool>,
    /// In-flight invocations of the function, shared by all its versions
    /// (reserved concurrency is a function-level limit, as on Lambda).
    pub(crate) inflight: Arc<AtomicUsize>,
    pub(crate) metrics: FunctionMetrics,
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
pub(crate) struct Registry {
    pub(crate) functions: HashMap<String, Arc<Deployed>>,
    pub(crate) router: Router<String>,
}

/// Per-function usage and cost, for `stats`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionUsage {
    #[serde(flatten)]
    pub stats: crate::records::FunctionStats,
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

pub(crate) struct Inner {
    pub(crate) backends: EngineBackends,
    pub(crate) config: EngineConfig,
    pub(crate) runtimes: HashMap<RuntimeKind, Arc<dyn Runtime>>,
    pub(crate) registry: RwLock<Registry>,
    /// Versions other than the current one that were invoked by number,
    /// loaded on demand; their idle instances are retired like any other.
    pub(crate) pinned: std::sync::Mutex<HashMap<(String, u64), Arc<Deployed>>>,
    pub(crate) deploy_lock: tokio::sync::Mutex<()>,
    pub(crate) limits: Limits,
    pub(crate) metrics: Metrics,
    pub(crate) writer: WriterHandle,
    pub(crate) accepting: AtomicBool,
    pub(crate) inflight: AtomicUsize,
    pub(crate) idle: Notify,
    pub(crate) cancel: CancellationToken,
    pub(crate) tasks: TaskTracker,
    /// Wakes the asynchronous dispatcher (an event was queued).
    pub(crate) async_wake: Notify,
    /// Bumped after every registry change (deploy, removal), so event
    /// sources can follow the functions' triggers.
    pub(crate) deploys: tokio::sync::watch::Sender<u64>,
    /// Destinations of finished asynchronous invocations (set by the event
    /// services).
    pub(crate) async_outcomes: std::sync::OnceLock<Arc<dyn crate::async_invoke::AsyncOutcomes>>,
}

/// The engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Decrements the in-flight counters when an invocation ends, however it ends.
pub(crate) struct InflightGuard<'a> {
    pub(crate) engine: &'a Inner,
    pub(crate) deployed: Arc<Deployed>,
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
    /// Builds the engine over its backends, loads the deployed functions and
    /// starts the background loops (log writer, scale-to-zero reaper,
    /// retention, the async dispatcher).
    pub async fn start(
        backends: EngineBackends,
        runtimes: Vec<Arc<dyn Runtime>>,
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let writer = LogWriter::spawn(backends.telemetry.clone());
        let inner = Arc::new(Inner {
            limits: Limits::new(config.max_concurrency),
            backends,
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
        let released = engine.inner.backends.async_queue.release_leases().await?;
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

    /// The backends the engine runs on.
    pub fn backends(&self) -> &EngineBackends {
        &self.inner.backends
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    pub(crate) fn runtime(&self, kind: RuntimeKind) -> Result<Arc<dyn Runtime>, EngineError> {
        self.inner
            .runtimes
            .get(&kind)
            .cloned()
            .ok_or_else(|| EngineError::Invalid(format!("runtime {kind:?} is not available")))
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
        let stats = self.inner.backends.telemetry.stats(month_start).await?;
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
        Ok(self
            .inner
            .backends
            .telemetry
            .logs(function, after, limit)
            .await?)
    }

    /// Prometheus text.
    pub fn metrics_text(&self) -> String {
        self.inner.metrics.render()
    }

    /// Waits until every log and usage record sent so far is committed.
    pub async fn flush(&self) {
        self.inner.writer.flush().await;
    }
}
