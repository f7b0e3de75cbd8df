//! Server wiring: store, runtimes, engine, and the two HTTP listeners, with a
//! graceful stop on SIGINT/SIGTERM.

use crate::client::{ServerFile, current_file, server_file};
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use stratus_core::pricing::PriceSheet;
use stratus_engine::{Engine, EngineConfig};
use stratus_gateway::AppState;
use stratus_lambda::{LambdaConfig, LambdaRuntime};
use stratus_store_sqlite::Store;
use stratus_wasm::{WasmConfig, WasmRuntime};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, clap::Args)]
pub struct ServerOptions {
    /// Data directory: SQLite database, artifacts, token.
    #[arg(
        long = "data-dir",
        id = "server_data_dir",
        env = "STRATUS_DATA_DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,
    /// Address of the functions' HTTP gateway.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Address of the control API.
    #[arg(long, default_value = "127.0.0.1:9070")]
    pub api_listen: SocketAddr,
    /// Seconds an idle instance stays warm before scaling to zero.
    #[arg(long, default_value_t = 300.0)]
    pub keep_alive: f64,
    /// Server-wide cap on concurrent invocations.
    #[arg(long, default_value_t = 1000)]
    pub max_concurrency: usize,
    /// Seconds to let in-flight invocations finish on shutdown.
    #[arg(long, default_value_t = 30.0)]
    pub grace: f64,
    /// Days of logs to keep.
    #[arg(long, default_value_t = 7.0)]
    pub log_retention_days: f64,
    /// JSON price sheet (default: AWS Lambda's public x86 price).
    #[arg(long)]
    pub price_sheet: Option<PathBuf>,
    /// Where the managed runtime environments of Lambda functions (Python's
    /// awslambdaric and boto3, the Node.js runtime client) are installed on
    /// first use; servers may share one (default: <data-dir>/lambda/runtimes).
    #[arg(long, env = "STRATUS_RUNTIMES_DIR")]
    pub runtimes_dir: Option<PathBuf>,
    /// Seconds before the first retry of a failed asynchronous (`Event`)
    /// invocation; the second waits twice as long (Lambda: 60).
    #[arg(long, default_value_t = 60.0)]
    pub async_retry_delay: f64,
    /// Start every Python instance with a fresh interpreter instead of
    /// forking it from a pre-initialised template (awslambdaric and boto3
    /// already imported) per package.
    #[arg(long, env = "STRATUS_NO_PYTHON_TEMPLATES")]
    pub no_python_templates: bool,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STRATUS_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,wasmtime=warn,cranelift=warn")
    });
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs a server future on a multi-threaded runtime, with logging set up.
pub fn block_on<F: std::future::Future<Output = Result<()>>>(future: F) -> Result<()> {
    init_tracing();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

fn seconds(value: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| anyhow::anyhow!("{what} must be a non-negative number of seconds"))
}

/// A started server.
pub struct Running {
    pub api_url: String,
    pub gateway_url: String,
    pub data_dir: PathBuf,
    engine: Engine,
    services: stratus_triggers::Triggers,
    lambda: Arc<LambdaRuntime>,
    host: Arc<stratus_sandbox::Host>,
    stop: CancellationToken,
    servers: Vec<JoinHandle<std::io::Result<()>>>,
    grace: Duration,
}

/// Starts everything and returns once both listeners accept connections.
pub async fn start(options: ServerOptions) -> Result<Running> {
    let prices = match &options.price_sheet {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("read price sheet {}", path.display()))?;
            PriceSheet::from_json(&text)
                .with_context(|| format!("parse price sheet {}", path.display()))?
        }
        None => PriceSheet::default(),
    };
    // Bound first: functions are given the API URL (AWS_ENDPOINT_URL).
    let gateway = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listen on {}", options.listen))?;
    let api = TcpListener::bind(options.api_listen)
        .await
        .with_context(|| format!("listen on {}", options.api_listen))?;
    let gateway_url = format!("http://{}", gateway.local_addr()?);
    let api_url = format!("http://{}", api.local_addr()?);
    let config = EngineConfig {
        keep_alive: seconds(options.keep_alive, "--keep-alive")?,
        max_concurrency: options.max_concurrency,
        log_retention: seconds(options.log_retention_days * 86400.0, "--log-retention-days")?,
        prices,
        async_retry_delay: seconds(options.async_retry_delay, "--async-retry-delay")?,
        ..EngineConfig::default()
    };
    let grace = seconds(options.grace, "--grace")?;
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("create data dir {}", options.data_dir.display()))?;
    let data_dir = options
        .data_dir
        .canonicalize()
        .with_context(|| format!("resolve data dir {}", options.data_dir.display()))?;
    let store = Store::open(&data_dir).context("open the store")?;
    let token = store.load_or_create_token().context("load the API token")?;
    store
        .load_or_create_admin_key()
        .context("load the admin access key")?;
    let config = EngineConfig {
        function_env: Some(function_env(api_url.clone())),
        function_credentials: true,
        ..config
    };
    let cache = stratus_engine::NodeCache::open(&data_dir).context("open the node's cache")?;
    let wasm = WasmRuntime::new(
        cache.clone(),
        WasmConfig {
            max_instances: options.max_concurrency.clamp(16, 10_000) as u32,
            always_allowed_hosts: vec![api_url.clone()],
            ..WasmConfig::default()
        },
    )
    .context("start the wasm runtime")?;
    let host = Arc::new(stratus_sandbox::Host::detect(&format!(
        "stratus-{}",
        std::process::id()
    )));
    for line in host.report() {
        tracing::info!(target: "stratus::sandbox", "{line}");
    }
    let lambda = Arc::new(LambdaRuntime::new(
        LambdaConfig {
            data_dir: cache.root().to_path_buf(),
            runtimes_dir: options.runtimes_dir.clone(),
            shutdown_grace: Duration::from_millis(500),
            python_templates: !options.no_python_templates,
        },
        host.clone(),
    ));
    // Functions without network access reach the AWS APIs through their
    // Runtime API listener. Set before the engine starts (instances of
    // provisioned concurrency start with it); the router, which needs the
    // engine, is filled in below.
    let runtime_api_services: Arc<std::sync::OnceLock<stratus_gateway::ServicesFn>> =
        Arc::default();
    lambda.set_services(
        {
            let services = runtime_api_services.clone();
            Arc::new(move |request| match services.get() {
                Some(handler) => handler(request),
                None => Box::pin(async {
                    let mut response = axum::http::Response::new(axum::body::Bytes::from_static(
                        b"the AWS APIs are starting",
                    ));
                    *response.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
                    response
                }),
            })
        },
        api_url.clone(),
    );
    let engine = Engine::start(
        stratus_store_sqlite::engine_backends(&store),
        vec![Arc::new(wasm), lambda.clone()],
        config,
    )
    .await
    .context("start the engine")?;

    let services = stratus_triggers::Triggers::start(
        engine.clone(),
        stratus_triggers::ServicesConfig {
            endpoint_url: api_url.clone(),
            ..stratus_triggers::ServicesConfig::default()
        },
        stratus_triggers::Backends {
            queues: Arc::new(stratus_store_sqlite::SqliteQueues::new(store.clone())),
            topics: Arc::new(stratus_store_sqlite::SqliteTopics::new(store.clone())),
            buses: Arc::new(stratus_store_sqlite::SqliteBuses::new(store.clone())),
        },
    );
    let state = AppState {
        engine: engine.clone(),
        services: services.clone(),
        token: token.into(),
        gateway_url: gateway_url.clone().into(),
    };
    let _ = runtime_api_services.set(stratus_gateway::services_handler(state.clone()));
    let stop = CancellationToken::new();
    let mut servers = Vec::new();
    for (listener, router) in [
        (gateway, stratus_gateway::functions_router(state.clone())),
        (api, stratus_gateway::control_router(state)),
    ] {
        let stop = stop.clone();
        servers.push(tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        }));
    }

    let record = ServerFile {
        api: api_url.clone(),
        gateway: gateway_url.clone(),
        data_dir: data_dir.clone(),
        pid: std::process::id(),
    };
    let json = serde_json::to_string_pretty(&record)?;
    std::fs::write(server_file(&data_dir), &json).context("write server.json")?;
    if let Some(current) = current_file() {
        if let Some(parent) = current.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(current, &json);
    }
    tracing::info!(gateway = %gateway_url, api = %api_url, data_dir = %data_dir.display(), functions = engine.functions().len(), "stratus is serving");
    eprintln!(
        "stratus: functions at {gateway_url}, control API at {api_url}, data in {}",
        data_dir.display()
    );
    Ok(Running {
        api_url,
        gateway_url,
        data_dir,
        engine,
        services,
        lambda,
        host,
        stop,
        servers,
        grace,
    })
}

/// The API URL as each function's `AWS_ENDPOINT_URL`, and the region.
/// (Its own credentials come from the engine's key backend:
/// [`EngineConfig::function_credentials`].)
fn function_env(api_url: String) -> stratus_engine::FunctionEnv {
    stratus_engine::FunctionEnv(Arc::new(move |_config| {
        vec![
            ("AWS_ENDPOINT_URL".to_string(), api_url.clone()),
            ("AWS_REGION".to_string(), "us-east-1".to_string()),
            ("AWS_DEFAULT_REGION".to_string(), "us-east-1".to_string()),
        ]
    }))
}

async fn signal() -> Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("install SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("install SIGINT handler")?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}

impl Running {
    /// Waits for SIGINT or SIGTERM, then stops: no new connections, in-flight
    /// invocations get the grace period, logs are flushed.
    pub async fn wait_for_signal_and_stop(self) -> Result<()> {
        let name = signal().await?;
        tracing::info!(
            signal = name,
            grace_secs = self.grace.as_secs_f64(),
            "stopping"
        );
        self.stop().await
    }

    pub async fn stop(self) -> Result<()> {
        self.stop.cancel();
        let deadline = tokio::time::Instant::now() + self.grace;
        for server in self.servers {
            match tokio::time::timeout_at(deadline, server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(error))) => tracing::warn!(%error, "listener ended with an error"),
                Ok(Err(error)) => tracing::warn!(%error, "listener task failed"),
                Err(_) => tracing::warn!("connections still open after the grace period"),
            }
        }
        // Event sources stop feeding the engine first; what they held is
        // picked up again after a restart.
        self.services.shutdown().await;
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let left = self.engine.shutdown(remaining).await;
        if left > 0 {
            tracing::warn!(
                invocations = left,
                "invocations still running at shutdown were abandoned"
            );
        }
        // Function processes get SIGTERM, then SIGKILL.
        self.lambda.shutdown().await;
        self.host.cleanup();
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || engine.join_writer())
            .await
            .context("join the log writer")?;
        let _ = std::fs::remove_file(server_file(&self.data_dir));
        tracing::info!("stopped");
        Ok(())
    }
}
