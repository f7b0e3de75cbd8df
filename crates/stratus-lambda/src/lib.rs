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
mod template;

pub use api::{MAX_RUNTIME_PAYLOAD, Services};
pub use package::{MAX_UNZIPPED_BYTES, MAX_ZIPPED_BYTES};

use async_trait::async_trait;
use bytes::Bytes;
use instance::Tree;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use stratus_core::{FunctionConfig, RuntimeKind};
use stratus_engine::records::LogStream;
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
    /// Start Python instances by forking a pre-initialised template (see
    /// `template.rs`) where the host allows it; else each starts Python.
    pub python_templates: bool,
}

/// Python templates kept before idle ones are stopped.
const MAX_TEMPLATES: usize = 16;

/// Which template serves a function: one per configuration.
fn template_key(function: &FunctionConfig) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(function)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}

/// The first uid of instances forked from templates (the sandbox crate
/// hands out 20000..60000 for its own spawns).
const FORKED_UID_FIRST: u32 = 100_000;
/// How many uids forked instances cycle through.
const FORKED_UID_COUNT: u32 = 100_000;

/// The Runtime API's address inside an instance's own network namespace.
const CHILD_RUNTIME_API: &str = "127.0.0.1:9001";

/// The runtime for `python`, `nodejs` and `provided` functions.
pub struct LambdaRuntime {
    config: LambdaConfig,
    host: Arc<Host>,
    envs: envs::Environments,
    /// Live instances' processes, for shutdown.
    live: Mutex<Vec<Weak<Tree>>>,
    /// Python templates by function configuration (each starts with that
    /// function's environment); a `None` entry marks a configuration whose
    /// template failed, which then starts Python per instance.
    templates: tokio::sync::Mutex<HashMap<u64, Option<Arc<template::Template>>>>,
    /// The next uid offset for forked instances.
    next_uid: AtomicU32,
    /// The AWS service APIs served on each instance's Runtime API listener,
    /// and the API URL functions are otherwise given as `AWS_ENDPOINT_URL`.
    services: OnceLock<(Services, String)>,
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
            templates: tokio::sync::Mutex::new(HashMap::new()),
            next_uid: AtomicU32::new(std::process::id() % FORKED_UID_COUNT),
            services: OnceLock::new(),
        }
    }

    /// Serves the AWS service APIs on every instance's Runtime API listener
    /// from now on (set once, after the gateway's router exists).
    /// `endpoint_url` is the API URL that functions are given as
    /// `AWS_ENDPOINT_URL`: an instance without network access gets its own
    /// listener's address there instead.
    pub fn set_services(&self, services: Services, endpoint_url: String) {
        let _ = self.services.set((services, endpoint_url));
    }

    fn services(&self) -> Option<Services> {
        self.services.get().map(|(s, _)| s.clone())
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
        let sandboxes: Vec<Arc<Tree>> = self
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
        for template in self.templates.lock().await.drain().filter_map(|(_, t)| t) {
            template.kill();
        }
    }

    /// The template for a Python function's package, started on first use.
    /// `None` when templates are off, the host cannot isolate forked
    /// children, or the template failed (then it is not tried again).
    async fn template(
        &self,
        function: &FunctionConfig,
        spec: &Spec,
    ) -> Option<Arc<template::Template>> {
        let enforced = self.host.enforced();
        if !self.config.python_templates
            || function.runtime != RuntimeKind::Python
            || !spec.isolate_network
            || !enforced.namespaces
            || !enforced.memory_limit
        {
            return None;
        }
        let key = template_key(function);
        let mut templates = self.templates.lock().await;
        if let Some(found) = templates.get(&key) {
            match found {
                Some(t) if t.alive() => return Some(t.clone()),
                Some(_) => {}
                None => return None,
            }
        }
        let host = self.host.clone();
        let spec = spec.clone();
        let started = std::time::Instant::now();
        let made = tokio::task::spawn_blocking(move || template::Template::start(&host, spec))
            .await
            .map_err(|e| format!("template task failed: {e}"))
            .and_then(|r| r);
        let entry = match made {
            Ok(template) => {
                tracing::info!(function = %function.name, package = %function.artifact, ms = started.elapsed().as_millis() as u64, "started a Python template");
                Some(Arc::new(template))
            }
            Err(error) => {
                tracing::warn!(function = %function.name, %error, "no Python template for this package; instances start Python afresh");
                None
            }
        };
        // Templates of configurations no longer in use pile up with
        // redeploys: past the cap, stop those without live instances (an
        // instance holds its template; stopping one would end them).
        if templates.len() >= MAX_TEMPLATES {
            templates.retain(|_, t| t.as_ref().is_some_and(|t| Arc::strong_count(t) > 1));
        }
        templates.insert(key, entry.clone());
        entry
    }

    /// Forks an instance from `template`; `None` if that failed (logged).
    async fn fork(
        &self,
        template: Arc<template::Template>,
        function: &FunctionConfig,
        spec: &Spec,
    ) -> Option<template::Spawned> {
        let offset = self.next_uid.fetch_add(1, Ordering::Relaxed) % FORKED_UID_COUNT;
        let uid = FORKED_UID_FIRST + offset;
        let mut env: Vec<(String, String)> = spec
            .env
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        env.push((
            "AWS_LAMBDA_RUNTIME_API".to_string(),
            CHILD_RUNTIME_API.to_string(),
        ));
        let request = template::ForkRequest {
            env,
            handler: function.handler.clone().unwrap_or_default(),
            uid,
            gid: uid,
            tmp_mb: spec.tmp_mb,
            memory_mb: spec.memory_mb,
            max_pids: spec.max_pids,
            isolate_network: spec.isolate_network,
        };
        let host = self.host.clone();
        let forked = tokio::task::spawn_blocking(move || template.fork(&host, &request))
            .await
            .map_err(|e| format!("fork task failed: {e}"))
            .and_then(|r| r);
        match forked {
            Ok(forked) => Some(forked),
            Err(error) => {
                tracing::warn!(function = %function.name, %error, "could not fork from the Python template; starting Python afresh");
                self.templates.lock().await.remove(&template_key(function));
                None
            }
        }
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
        // Without network access, the AWS APIs are reached through the
        // instance's Runtime API listener (in its network namespace, at
        // 127.0.0.1:9001), which serves them too.
        let enforced = self.host.enforced();
        let own_network = config.allowed_outbound_hosts.is_empty()
            && enforced.namespaces
            && enforced.network_isolation;
        if own_network && let Some((_, api_url)) = self.services.get() {
            for (key, value) in &mut env {
                if key == "AWS_ENDPOINT_URL" && value == api_url {
                    *value = format!("http://{CHILD_RUNTIME_API}");
                }
            }
        }

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
            keep_root: false,
            pass_fd: None,
        })
    }
}

impl LambdaRuntime {
    fn track(&self, instance: &instance::ProcessInstance) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(instance.sandbox()));
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
        let arn = stratus_core::function::function_arn(&function.name, None);
        let grace = self.config.shutdown_grace;
        if let Some(template) = self.template(&function, &spec).await
            && let Some(forked) = self.fork(template, &function, &spec).await
        {
            let (forked, listener, stdout, stderr) = forked;
            let pipes = vec![
                (LogStream::Stdout, std::fs::File::from(stdout)),
                (LogStream::Stderr, std::fs::File::from(stderr)),
            ];
            let instance = instance::ProcessInstance::start(
                Tree::Forked(forked),
                listener,
                pipes,
                arn,
                grace,
                self.services(),
            )
            .await?;
            self.track(&instance);
            return Ok(Arc::new(instance));
        }
        // Setting a sandbox up blocks for a few milliseconds (clone, mounts,
        // cgroups); keep it off the async workers.
        let host = self.host.clone();
        let spawned = tokio::task::spawn_blocking(move || host.spawn(spec))
            .await
            .map_err(|e| RuntimeError::Internal(format!("sandbox task failed: {e}")))?;
        let mut sandbox: Sandboxed = match spawned {
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
        let listener = sandbox.listener.take().ok_or_else(|| {
            RuntimeError::Internal("the sandbox has no Runtime API listener".into())
        })?;
        let mut pipes = Vec::new();
        if let Some(fd) = sandbox.stdout.take() {
            pipes.push((LogStream::Stdout, std::fs::File::from(fd)));
        }
        if let Some(fd) = sandbox.stderr.take() {
            pipes.push((LogStream::Stderr, std::fs::File::from(fd)));
        }
        let instance = instance::ProcessInstance::start(
            Tree::Sandboxed(sandbox),
            listener,
            pipes,
            arn,
            grace,
            self.services(),
        )
        .await?;
        self.track(&instance);
        Ok(Arc::new(instance))
    }
}
