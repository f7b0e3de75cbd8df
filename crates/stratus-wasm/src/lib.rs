//! The WebAssembly runtime: components serving the `wasi:http/proxy` world
//! (WASI 0.2), run by wasmtime with a pooling allocator.
//!
//! - `prepare` validates an uploaded component and compiles it ahead of time
//!   into the data dir, keyed by content hash and engine fingerprint.
//! - `load` (the cold start) maps the compiled artifact and builds the
//!   pre-instance once per function version.
//! - every request gets a fresh store from the pool; epoch interruption stops
//!   it at the function's timeout, a resource limiter caps its memory, and an
//!   outbound policy denies HTTP to hosts not in `allowedOutboundHosts`.

mod capture;
mod outbound;

use async_trait::async_trait;
use bytes::Bytes;
use capture::LineCapture;
use http_body_util::{BodyExt, Full, Limited};
use outbound::OutboundPolicy;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use stratus_core::{FunctionConfig, RuntimeKind};
use stratus_engine::NodeCache;
use stratus_engine::{
    FunctionError, FunctionErrorKind, Instance, InvokeOutput, InvokeRequest, Runtime, RuntimeError,
};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, PoolingAllocationConfig, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// How often the epoch advances; the granularity of timeouts and of yields
/// from long-running guests back to the scheduler.
const EPOCH_TICK: Duration = Duration::from_millis(5);
/// Most bytes of stdout plus stderr kept per request.
const MAX_LOG_BYTES: usize = 256 * 1024;
/// The export every function must provide.
const HANDLER_EXPORT: &str = "wasi:http/incoming-handler";

/// Settings of the wasm runtime.
#[derive(Debug, Clone)]
pub struct WasmConfig {
    /// Component instances that may exist at once (the pool size).
    pub max_instances: u32,
    /// Response body limit.
    pub max_response_bytes: usize,
    /// Hosts every function may call besides its `allowedOutboundHosts`
    /// (the API listener, so AWS SDKs reach Stratus's services), in the
    /// same pattern syntax.
    pub always_allowed_hosts: Vec<String>,
}

impl Default for WasmConfig {
    fn default() -> Self {
        WasmConfig {
            max_instances: 1000,
            max_response_bytes: stratus_engine::MAX_PAYLOAD_BYTES,
            always_allowed_hosts: Vec::new(),
        }
    }
}

/// Per-store state.
struct Host {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    outbound: OutboundPolicy,
    memory: MemoryLimiter,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// Caps linear memory at the function's `memorySize` and records the peak.
struct MemoryLimiter {
    limit: usize,
    peak: usize,
    denied: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.denied = true;
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// Advances the engine's epoch until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("stratus-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The wasm [`Runtime`].
pub struct WasmRuntime {
    engine: Engine,
    linker: Arc<Linker<Host>>,
    cache: NodeCache,
    engine_key: String,
    config: WasmConfig,
    _ticker: EpochTicker,
}

impl WasmRuntime {
    /// Builds the wasmtime engine (pooling allocator, epoch interruption) and
    /// the linker with WASI 0.2 and `wasi:http`.
    pub fn new(cache: NodeCache, config: WasmConfig) -> Result<WasmRuntime, RuntimeError> {
        let internal = |e: wasmtime::Error| RuntimeError::Internal(format!("{e:#}"));
        let mut pool = PoolingAllocationConfig::default();
        let n = config.max_instances;
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(8))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(4))
            .total_stacks(n)
            .max_memory_size(stratus_core::function::MAX_WASM_MEMORY_MB as usize * 1024 * 1024)
            // Reset only the pages a request dirtied (Linux PAGEMAP_SCAN,
            // where available) and keep small heaps resident: reusing a slot
            // then costs a few page copies instead of madvise calls, whose
            // TLB shootdowns dominated the warm path in profiles.
            .pagemap_scan(wasmtime::Enabled::Auto)
            .linear_memory_keep_resident(4 << 20)
            .table_keep_resident(1 << 16)
            .decommit_batch_size(32);
        let mut wasm = Config::new();
        wasm.epoch_interruption(true)
            .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(internal)?;
        let mut linker = Linker::<Host>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(internal)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(internal)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("{:016x}", hasher.finish());
        let ticker = EpochTicker::start(engine.clone())
            .map_err(|e| RuntimeError::Internal(format!("start epoch thread: {e}")))?;
        Ok(WasmRuntime {
            engine,
            linker: Arc::new(linker),
            cache,
            engine_key,
            config,
            _ticker: ticker,
        })
    }

    fn compiled_path(&self, sha256: &str) -> Result<PathBuf, RuntimeError> {
        self.cache
            .compiled_path(&self.engine_key, sha256)
            .map_err(|e| RuntimeError::Internal(e.to_string()))
    }

    /// Checks the component's shape; returns a user-facing error.
    fn validate(&self, bytes: &[u8]) -> Result<Vec<u8>, RuntimeError> {
        let invalid = |m: String| RuntimeError::InvalidArtifact(m);
        if bytes.len() < 8 || &bytes[0..4] != b"\0asm" {
            return Err(invalid(
                "artifact is not WebAssembly: it does not start with the `\\0asm` magic bytes"
                    .into(),
            ));
        }
        if bytes[4..8] == [1, 0, 0, 0] {
            return Err(invalid(
                "artifact is a core WebAssembly module, not a component; build it for the \
                 `wasm32-wasip2` target (or wrap it with `wasm-tools component new`)"
                    .into(),
            ));
        }
        let compiled = self
            .engine
            .precompile_component(bytes)
            .map_err(|e| invalid(format!("artifact is not a valid component: {e:#}")))?;
        // SAFETY: the bytes were produced just above by this engine.
        let component = unsafe { Component::deserialize(&self.engine, &compiled) }
            .map_err(|e| RuntimeError::Internal(format!("{e:#}")))?;
        let exports: Vec<String> = component
            .component_type()
            .exports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        if !exports.iter().any(|e| e.starts_with(HANDLER_EXPORT)) {
            let shown = if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            };
            return Err(invalid(format!(
                "component does not export `{HANDLER_EXPORT}@0.2.x` (it exports {shown}); \
                 a Stratus wasm function must target the `wasi:http/proxy` world"
            )));
        }
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            invalid(format!(
                "component needs imports that Stratus does not provide: {e:#}"
            ))
        })?;
        ProxyPre::new(pre).map_err(|e| {
            invalid(format!(
                "component's `{HANDLER_EXPORT}` export has an unsupported version or shape: {e:#}"
            ))
        })?;
        Ok(compiled)
    }
}

#[async_trait]
impl Runtime for WasmRuntime {
    fn kinds(&self) -> &'static [RuntimeKind] {
        &[RuntimeKind::Wasm]
    }

    async fn prepare(&self, sha256: &str, bytes: Bytes) -> Result<(), RuntimeError> {
        if self.is_prepared(sha256) {
            return Ok(());
        }
        let path = self.compiled_path(sha256)?;
        let started = Instant::now();
        let compiled = tokio::task::block_in_place(|| self.validate(&bytes))?;
        self.cache
            .write(&path, &compiled)
            .map_err(|e| RuntimeError::Internal(e.to_string()))?;
        tracing::info!(
            artifact = sha256,
            bytes = bytes.len(),
            compiled_bytes = compiled.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compiled component"
        );
        Ok(())
    }

    fn is_prepared(&self, sha256: &str) -> bool {
        self.compiled_path(sha256).is_ok_and(|p| p.exists())
    }

    async fn load(&self, function: Arc<FunctionConfig>) -> Result<Arc<dyn Instance>, RuntimeError> {
        let path = self.compiled_path(&function.artifact)?;
        if !path.exists() {
            return Err(RuntimeError::NotPrepared(function.artifact.clone()));
        }
        // SAFETY: files under compiled/<engine_key>/ are written only by
        // `prepare`, atomically, from this engine's own compiler output.
        let component = unsafe { Component::deserialize_file(&self.engine, &path) }
            .map_err(|e| RuntimeError::Internal(format!("load {}: {e:#}", path.display())))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(ProxyPre::new)
            .map_err(|e| RuntimeError::Internal(format!("link: {e:#}")))?;
        let mut env: Vec<(String, String)> = function
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.push(("STRATUS_FUNCTION_NAME".into(), function.name.clone()));
        env.push((
            "STRATUS_FUNCTION_MEMORY_SIZE".into(),
            function.memory_size.to_string(),
        ));
        Ok(Arc::new(WasmInstance {
            engine: self.engine.clone(),
            pre,
            env: Arc::new(env),
            outbound: OutboundPolicy::new(
                &function
                    .allowed_outbound_hosts
                    .iter()
                    .chain(&self.config.always_allowed_hosts)
                    .cloned()
                    .collect::<Vec<_>>(),
            ),
            memory_limit: function.memory_size as usize * 1024 * 1024,
            max_response_bytes: self.config.max_response_bytes,
        }))
    }
}

/// One pre-instantiated function version.
struct WasmInstance {
    engine: Engine,
    pre: ProxyPre<Host>,
    env: Arc<Vec<(String, String)>>,
    outbound: OutboundPolicy,
    memory_limit: usize,
    max_response_bytes: usize,
}

enum Responded {
    Ok(http::Response<Bytes>),
    TooLarge,
    Failed(String),
}

#[async_trait]
impl Instance for WasmInstance {
    fn capacity(&self) -> usize {
        usize::MAX
    }

    async fn invoke(&self, request: InvokeRequest) -> InvokeOutput {
        let stdout = LineCapture::new(MAX_LOG_BYTES);
        let stderr = stdout.sibling();
        let wasi = WasiCtxBuilder::new()
            .envs(&self.env)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let mut store = Store::new(
            &self.engine,
            Host {
                wasi,
                http: WasiHttpCtx::new(),
                table: ResourceTable::new(),
                outbound: self.outbound.clone(),
                memory: MemoryLimiter {
                    limit: self.memory_limit,
                    peak: 0,
                    denied: false,
                },
            },
        );
        store.limiter(|host| &mut host.memory);
        let started = Instant::now();
        let deadline = started + request.timeout;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });

        let (tx, rx) = tokio::sync::oneshot::channel();
        let (parts, body) = request.request.into_parts();
        let body = Full::new(body).map_err(
            |never: std::convert::Infallible| -> wasmtime_wasi_http::Error { match never {} },
        );
        let setup = store
            .data_mut()
            .http()
            .new_incoming_request(
                wasmtime_wasi_http::p2::bindings::http::types::Scheme::Http,
                http::Request::from_parts(parts, body),
            )
            .and_then(|req| Ok((req, store.data_mut().http().new_response_outparam(tx)?)));
        let (req, out) = match setup {
            Ok(pair) => pair,
            Err(e) => {
                return InvokeOutput {
                    result: Err(FunctionError::new(
                        FunctionErrorKind::BadResponse,
                        format!("could not pass the request to the function: {e:#}"),
                    )),
                    logs: Vec::new(),
                    max_memory_bytes: 0,
                };
            }
        };

        let pre = self.pre.clone();
        let call = async move {
            let result = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await
            }
            .await;
            let memory = (store.data().memory.peak, store.data().memory.denied);
            // Dropping the store drops an unset response outparam, which
            // wakes the response side below.
            drop(store);
            (result, memory)
        };
        let limit = self.max_response_bytes;
        let respond = async move {
            match rx.await {
                Ok(Ok(response)) => {
                    let (parts, body) = response.into_parts();
                    match Limited::new(body, limit).collect().await {
                        Ok(collected) => {
                            Responded::Ok(http::Response::from_parts(parts, collected.to_bytes()))
                        }
                        Err(e) if e.is::<http_body_util::LengthLimitError>() => Responded::TooLarge,
                        Err(e) => Responded::Failed(format!("response body failed: {e}")),
                    }
                }
                Ok(Err(code)) => {
                    Responded::Failed(format!("function answered with error {code:?}"))
                }
                Err(_) => Responded::Failed("function returned without setting a response".into()),
            }
        };
        let joined =
            tokio::time::timeout(request.timeout, async { tokio::join!(call, respond) }).await;
        let timed_out = Instant::now() >= deadline;
        let (result, max_memory_bytes) = match joined {
            Err(_) => (
                Err(FunctionError::new(
                    FunctionErrorKind::Timeout,
                    String::new(),
                )),
                0,
            ),
            Ok(((call_result, (peak, denied)), responded)) => {
                let result = match (call_result, responded) {
                    (_, _) if timed_out => Err(FunctionError::new(
                        FunctionErrorKind::Timeout,
                        String::new(),
                    )),
                    (Err(e), _) if denied => Err(FunctionError::new(
                        FunctionErrorKind::OutOfMemory,
                        format!(
                            "memory limit of {} MB reached: {e}",
                            self.memory_limit >> 20
                        ),
                    )),
                    (_, Responded::TooLarge) => Err(FunctionError::new(
                        FunctionErrorKind::ResponseTooLarge,
                        format!("response body exceeds {limit} bytes"),
                    )),
                    (Err(e), _) => Err(FunctionError::new(
                        FunctionErrorKind::Trap,
                        format!("{e:#}").replace('\n', " "),
                    )),
                    (Ok(()), Responded::Ok(response)) => Ok(response),
                    (Ok(()), Responded::Failed(message)) => {
                        Err(FunctionError::new(FunctionErrorKind::BadResponse, message))
                    }
                };
                (result, peak as u64)
            }
        };
        let mut logs = Vec::new();
        stdout.drain_lines(&mut logs);
        InvokeOutput {
            result,
            logs,
            max_memory_bytes,
        }
    }
}
