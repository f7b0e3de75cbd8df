//! The Lambda-compatible process runtime: AWS Lambda functions run unmodified
//! as sandboxed native processes (no Docker), driven through the Lambda
//! Runtime API.
//!
//! - `python3.x`: the host's Python with the real `awslambdaric`;
//! - `nodejs`: the host's Node.js with Stratus's own Runtime API client
//!   (`runtime/node/ric.mjs`; AWS's `aws-lambda-ric` needs a native build
//!   that fresh machines cannot do);
//! - `provided`: the package's own executable `bootstrap` (a shell script, a
//!   binary built with the Rust `lambda_runtime` crate, ...).
//!
//! A deployment package (zip) is unpacked once per content hash
//! (`package.rs`); the runtime clients live in managed environments installed
//! on first use (`envs.rs`). Each instance is one sandboxed process
//! (`stratus-sandbox`) with its own Runtime API listener (`api.rs`), frozen
//! between events (`instance.rs`). HTTP routes speak API Gateway's payload
//! 2.0 (`event.rs`).

mod api;
mod envs;
mod event;
mod instance;
mod output;
mod package;

pub use api::MAX_RUNTIME_PAYLOAD;
pub use package::{MAX_UNZIPPED_BYTES, MAX_ZIPPED_BYTES};

use async_trait::async_trait;
use bytes::Bytes;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use stratus_core::{FunctionConfig, RuntimeKind};
use stratus_engine::{Instance, Runtime, RuntimeError};
use stratus_sandbox::{Bind, Host, Sandboxed, Spec};

/// Where instances see their code and the runtime client.
const TASK_ROOT: &str = "/var/task";
const RUNTIME_DIR: &str = "/var/runtime";
/// Processes (and threads) one instance may run, as on Lambda.
const MAX_PIDS: u32 = 1024;

/// Settings of the process runtime.
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// The server's data dir: packages and environments live under
    /// `<data>/lambda`, and the whole dir is hidden from functions.
    pub data_dir: PathBuf,
    /// Where the managed runtime environments live; default
    /// `<data>/lambda/runtimes`. Servers may share one.
    pub runtimes_dir: Option<PathBuf>,
    /// Time between SIGTERM and SIGKILL when an instance is retired.
    pub shutdown_grace: Duration,
}

/// The runtime for `python`, `nodejs` and `provided` functions.
pub struct LambdaRuntime {
    config: LambdaConfig,
    host: Arc<Host>,
    envs: envs::Environments,
    /// Live instances' sandboxes, for shutdown.
    live: Mutex<Vec<Weak<Sandboxed>>>,
}

impl LambdaRuntime {
    /// A runtime over `host`'s sandboxing capabilities.
    pub fn new(config: LambdaConfig, host: Arc<Host>) -> LambdaRuntime {
        let envs = envs::Environments::new(
            config
                .runtimes_dir
                .clone()
                .unwrap_or_else(|| config.data_dir.join("lambda").join("runtimes")),
        );
        LambdaRuntime {
            config,
            host,
            envs,
            live: Mutex::new(Vec::new()),
        }
    }

    fn task_dir(&self, sha256: &str) -> PathBuf {
        self.config
            .data_dir
            .join("lambda")
            .join("tasks")
            .join(sha256)
    }

    /// Installs the managed environment a kind needs (first use only).
    pub async fn ensure_environment(&self, kind: RuntimeKind) -> Result<(), RuntimeError> {
        match kind {
            RuntimeKind::Python => self.envs.python().await.map(|_| ()),
            RuntimeKind::Nodejs => self.envs.node().await.map(|_| ()),
            _ => Ok(()),
        }
        .map_err(RuntimeError::Internal)
    }

    /// Instances whose process is still around.
    pub fn live_instances(&self) -> usize {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|w| w.strong_count() > 0);
        live.len()
    }

    /// Terminates every instance's process tree: SIGTERM, then SIGKILL after
    /// the grace (server shutdown).
    pub async fn shutdown(&self) {
        let sandboxes: Vec<Arc<Sandboxed>> = self
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .filter_map(|w| w.upgrade())
            .collect();
        let grace = self.config.shutdown_grace;
        let stops = sandboxes.iter().map(|sandbox| async move {
            let _ = sandbox.thaw();
            sandbox.terminate(grace).await;
        });
        futures::future::join_all(stops).await;
    }

    fn spec(
        &self,
        config: &FunctionConfig,
        task_dir: &Path,
        env_dir: Option<&envs::Env>,
    ) -> Result<Spec, RuntimeError> {
        let sandboxed = self.host.enforced().namespaces;
        let (task_root, runtime_dir) = if sandboxed {
            (PathBuf::from(TASK_ROOT), PathBuf::from(RUNTIME_DIR))
        } else {
            (
                task_dir.to_path_buf(),
                env_dir.map(|e| e.dir.clone()).unwrap_or_default(),
            )
        };
        let handler = config.handler.clone().unwrap_or_default();
        let (program, args, mut extra): (PathBuf, Vec<OsString>, Vec<(&str, String)>) = match config
            .runtime
        {
            RuntimeKind::Python => {
                let env = env_dir
                    .ok_or_else(|| RuntimeError::Internal("python environment missing".into()))?;
                (
                    env.interpreter.clone(),
                    vec!["-m".into(), "awslambdaric".into(), handler.clone().into()],
                    vec![
                        ("PYTHONPATH", runtime_dir.display().to_string()),
                        ("PYTHONDONTWRITEBYTECODE", "1".into()),
                        ("PYTHONUNBUFFERED", "1".into()),
                    ],
                )
            }
            RuntimeKind::Nodejs => {
                let env = env_dir
                    .ok_or_else(|| RuntimeError::Internal("node environment missing".into()))?;
                let ric = runtime_dir.join(envs::NODE_RIC_FILE);
                (
                    env.interpreter.clone(),
                    vec![ric.into_os_string(), handler.clone().into()],
                    vec![(
                        "NODE_PATH",
                        format!(
                            "/opt/nodejs/node_modules:{}:{}",
                            runtime_dir.join("node_modules").display(),
                            task_root.display()
                        ),
                    )],
                )
            }
            RuntimeKind::Provided => (task_root.join("bootstrap"), Vec::new(), Vec::new()),
            RuntimeKind::Wasm => {
                return Err(RuntimeError::Internal(
                    "wasm functions do not run as processes".into(),
                ));
            }
        };
        let version = config
            .runtime_version
            .clone()
            .unwrap_or_else(|| format!("{:?}", config.runtime).to_lowercase());
        let today = chrono::Utc::now().format("%Y/%m/%d");
        let instance_id = uuid::Uuid::new_v4().simple().to_string();
        let mut env: Vec<(String, String)> = config
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let reserved: Vec<(&str, String)> = vec![
            ("_HANDLER", handler),
            ("AWS_REGION", event::REGION.into()),
            ("AWS_DEFAULT_REGION", event::REGION.into()),
            ("AWS_EXECUTION_ENV", format!("AWS_Lambda_{version}")),
            ("AWS_LAMBDA_FUNCTION_NAME", config.name.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                config.memory_size.to_string(),
            ),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            (
                "AWS_LAMBDA_FUNCTION_TIMEOUT",
                format!("{}", config.timeout.ceil() as u64),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", config.name),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("{today}/[$LATEST]{instance_id}"),
            ),
            ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
            ("LAMBDA_RUNTIME_DIR", runtime_dir.display().to_string()),
            ("TZ", ":UTC".into()),
            ("LANG", "en_US.UTF-8".into()),
            (
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/bin".into(),
            ),
            ("HOME", "/tmp".into()),
        ];
        extra.extend(reserved);
        // Reserved variables win over the function's own, as on Lambda.
        env.retain(|(k, _)| !extra.iter().any(|(r, _)| r == k));
        env.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));

        let mut binds = vec![Bind {
            source: task_dir.to_path_buf(),
            target: PathBuf::from(TASK_ROOT),
            read_only: true,
        }];
        if let Some(env_dir) = env_dir {
            binds.push(Bind {
                source: env_dir.dir.clone(),
                target: PathBuf::from(RUNTIME_DIR),
                read_only: true,
            });
            // An interpreter installed outside the system folders (pyenv
            // under /root, say) is shown at its own path.
            for dir in &env_dir.extra_dirs {
                binds.push(Bind {
                    source: dir.clone(),
                    target: dir.clone(),
                    read_only: true,
                });
            }
        }
        Ok(Spec {
            program,
            args,
            env: env
                .into_iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect(),
            cwd: task_root,
            binds,
            hide: vec![self.config.data_dir.clone()],
            tmp_mb: config
                .ephemeral_storage
                .unwrap_or(stratus_core::function::DEFAULT_EPHEMERAL_STORAGE_MB),
            memory_mb: config.memory_size,
            max_pids: MAX_PIDS,
            isolate_network: config.allowed_outbound_hosts.is_empty(),
            listener_env: Some("AWS_LAMBDA_RUNTIME_API".into()),
        })
    }
}

#[async_trait]
impl Runtime for LambdaRuntime {
    fn kinds(&self) -> &'static [RuntimeKind] {
        &[
            RuntimeKind::Python,
            RuntimeKind::Nodejs,
            RuntimeKind::Provided,
        ]
    }

    fn parallel_cold_starts(&self) -> bool {
        true
    }

    async fn prepare(&self, sha256: &str, bytes: Bytes) -> Result<(), RuntimeError> {
        let dest = self.task_dir(sha256);
        tokio::task::spawn_blocking(move || package::unpack(&bytes, &dest))
            .await
            .map_err(|e| RuntimeError::Internal(format!("unpack task failed: {e}")))?
            .map_err(|e| match e {
                package::PackageError::Io { .. } => RuntimeError::Internal(e.to_string()),
                other => RuntimeError::InvalidArtifact(other.to_string()),
            })
    }

    async fn prepare_kind(&self, kind: RuntimeKind) -> Result<(), RuntimeError> {
        self.ensure_environment(kind).await
    }

    fn is_prepared(&self, sha256: &str) -> bool {
        self.task_dir(sha256).is_dir()
    }

    async fn load(&self, function: Arc<FunctionConfig>) -> Result<Arc<dyn Instance>, RuntimeError> {
        let task_dir = self.task_dir(&function.artifact);
        if !task_dir.is_dir() {
            return Err(RuntimeError::NotPrepared(function.artifact.clone()));
        }
        let env = match function.runtime {
            RuntimeKind::Python => Some(self.envs.python().await.map_err(RuntimeError::Internal)?),
            RuntimeKind::Nodejs => Some(self.envs.node().await.map_err(RuntimeError::Internal)?),
            _ => None,
        };
        if let Some(env) = env {
            tracing::debug!(function = %function.name, interpreter = %env.interpreter.display(), version = %env.version, "starting a process instance");
        }
        let spec = self.spec(&function, &task_dir, env)?;
        // Setting a sandbox up blocks for a few milliseconds (clone, mounts,
        // cgroups); keep it off the async workers.
        let host = self.host.clone();
        let spawned = tokio::task::spawn_blocking(move || host.spawn(spec))
            .await
            .map_err(|e| RuntimeError::Internal(format!("sandbox task failed: {e}")))?;
        let sandbox: Sandboxed = match spawned {
            Ok(sandbox) => sandbox,
            // The function's entry point could not be run (no `bootstrap`,
            // not executable, a bad interpreter line): Lambda reports this
            // as an init error of the function, not a platform fault.
            Err(stratus_sandbox::SandboxError::Setup { step, error })
                if step.starts_with("execve") =>
            {
                let message = format!("Couldn't find valid bootstrap(s): {step}: {error}");
                tracing::info!(function = %function.name, %message, "function entry point failed");
                return Ok(Arc::new(instance::FailedInit::new(
                    "Runtime.InvalidEntrypoint",
                    message,
                )));
            }
            Err(e) => {
                return Err(RuntimeError::Internal(format!(
                    "could not start the function's process: {e}"
                )));
            }
        };
        tracing::debug!(function = %function.name, pid = sandbox.pid(), "instance started");
        let arn = stratus_core::function::function_arn(&function.name, None);
        let instance =
            instance::ProcessInstance::start(sandbox, arn, self.config.shutdown_grace).await?;
        {
            let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
            live.retain(|w| w.strong_count() > 0);
            live.push(Arc::downgrade(instance.sandbox()));
        }
        Ok(Arc::new(instance))
    }
}
