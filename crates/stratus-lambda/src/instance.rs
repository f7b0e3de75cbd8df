//! One execution environment: a sandboxed runtime process, its Runtime API
//! and its output. It takes one event at a time, is frozen between events,
//! and is dropped (terminated) after a timeout, a crash or a failed init.

use crate::api::{Event, InitOutcome, Reply, RuntimeApi};
use crate::event;
use crate::output::Output;
use crate::template::Forked;
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stratus_engine::{
    FunctionError, FunctionErrorKind, Instance, InvokeOutput, InvokeRequest, RuntimeError,
};
use stratus_sandbox::{Exit, Sandboxed};

/// The processes of one execution environment: a sandbox of its own, or a
/// fork of a Python template (see `template.rs`).
pub enum Tree {
    Sandboxed(Sandboxed),
    Forked(Forked),
}

impl Tree {
    pub async fn wait(&self) -> Exit {
        match self {
            Tree::Sandboxed(s) => s.wait().await,
            Tree::Forked(f) => f.wait().await,
        }
    }

    /// SIGKILL to every process, now.
    pub fn kill(&self) {
        match self {
            Tree::Sandboxed(s) => s.kill(),
            Tree::Forked(f) => {
                let _ = f.cgroups.thaw();
                for pid in f.cgroups.pids() {
                    // SAFETY: kill(2) with a pid read from the instance's cgroup.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub async fn terminate(&self, grace: std::time::Duration) {
        match self {
            Tree::Sandboxed(s) => s.terminate(grace).await,
            Tree::Forked(f) => f.terminate(grace).await,
        }
    }

    pub fn freeze(&self) -> Result<(), String> {
        if self.exited() {
            return Ok(());
        }
        match self {
            Tree::Sandboxed(s) => s.freeze().map_err(|e| e.to_string()),
            Tree::Forked(f) => f.cgroups.freeze().map_err(|e| e.to_string()),
        }
    }

    pub fn thaw(&self) -> Result<(), String> {
        match self {
            Tree::Sandboxed(s) => s.thaw().map_err(|e| e.to_string()),
            Tree::Forked(f) => f.cgroups.thaw().map_err(|e| e.to_string()),
        }
    }

    fn exited(&self) -> bool {
        match self {
            Tree::Sandboxed(s) => s.try_exit().is_some(),
            Tree::Forked(f) => f.try_exit().is_some(),
        }
    }

    pub fn memory_peak_bytes(&self) -> Option<u64> {
        match self {
            Tree::Sandboxed(s) => s.memory_peak_bytes(),
            Tree::Forked(f) => f.cgroups.memory_peak_bytes(),
        }
    }

    pub fn oom_killed(&self) -> bool {
        match self {
            Tree::Sandboxed(s) => s.oom_killed(),
            Tree::Forked(f) => f.cgroups.oom_killed(),
        }
    }
}
use stratus_engine::records::LogStream;

/// Lambda's limit on the init phase.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an instance stays thawed after answering before it is frozen:
/// back-to-back calls then never wait for the freezer (which takes a
/// while to settle), and an idle instance still uses no CPU.
const FREEZE_DELAY: Duration = Duration::from_millis(20);

/// A running (or failed) execution environment.
pub struct ProcessInstance {
    sandbox: Arc<Tree>,
    api: Arc<RuntimeApi>,
    output: Arc<Output>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    function_arn: String,
    healthy: AtomicBool,
    /// Set when init failed: the first invocation reports it.
    init_failure: Mutex<Option<FunctionError>>,
    /// How long the process gets between SIGTERM and SIGKILL when retired.
    grace: Duration,
    /// Serialises freezing and thawing.
    freezer: Arc<tokio::sync::Mutex<()>>,
    /// Invocations started: a deferred freeze runs only if no invocation
    /// started after the one it follows.
    generation: Arc<std::sync::atomic::AtomicU64>,
    /// Whether the processes are frozen now.
    frozen: Arc<AtomicBool>,
    /// The deferred freeze of the last invocation, if still pending.
    pending_freeze: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ProcessInstance {
    /// Starts the runtime API on the sandbox's listener and waits for init to
    /// end: the runtime's first `/next`, an `/init/error`, its exit, or
    /// [`INIT_TIMEOUT`].
    pub async fn start(
        tree: Tree,
        listener: std::net::TcpListener,
        pipes: Vec<(LogStream, std::fs::File)>,
        function_arn: String,
        grace: Duration,
        services: Option<crate::api::Services>,
    ) -> Result<ProcessInstance, RuntimeError> {
        let listener = listener
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(listener))
            .map_err(|e| RuntimeError::Internal(format!("runtime API listener: {e}")))?;
        let (output, mut tasks) = Output::start(pipes)
            .map_err(|e| RuntimeError::Internal(format!("capturing the runtime's output: {e}")))?;
        let (api, init) = RuntimeApi::new();
        if let Some(services) = services {
            api.set_services(services);
        }
        tasks.push(api.clone().serve(listener));
        let sandbox = Arc::new(tree);
        let instance = ProcessInstance {
            sandbox: sandbox.clone(),
            api,
            output,
            tasks,
            function_arn,
            healthy: AtomicBool::new(true),
            init_failure: Mutex::new(None),
            grace,
            freezer: Arc::new(tokio::sync::Mutex::new(())),
            generation: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            frozen: Arc::new(AtomicBool::new(false)),
            pending_freeze: Mutex::new(None),
        };
        let failure = tokio::select! {
            outcome = init => match outcome {
                Ok(InitOutcome::Ready) => None,
                Ok(InitOutcome::Failed { error_type, body }) => {
                    let (kind, message, body) = event::error_document(error_type.as_deref(), &body);
                    Some(FunctionError {
                        kind: FunctionErrorKind::InitError,
                        message,
                        error_type: Some(kind),
                        body: Some(body),
                    })
                }
                Err(_) => Some(FunctionError::new(FunctionErrorKind::InitError, "the Runtime API stopped during init")),
            },
            exit = sandbox.wait() => Some(exit_error(&sandbox, exit, "during init")),
            _ = tokio::time::sleep(INIT_TIMEOUT) => {
                sandbox.kill();
                let mut error = FunctionError::new(
                    FunctionErrorKind::InitError,
                    format!("Init phase timed out after {:.2} seconds", INIT_TIMEOUT.as_secs_f64()),
                );
                error.error_type = Some("Sandbox.Timedout".into());
                Some(error)
            }
        };
        if let Some(failure) = failure {
            instance.healthy.store(false, Ordering::Release);
            *instance
                .init_failure
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(failure);
        } else {
            instance.freeze_later();
        }
        Ok(instance)
    }

    /// The instance's sandbox.
    pub fn sandbox(&self) -> &Arc<Tree> {
        &self.sandbox
    }

    /// Freezes the instance off the response path: the freezer needs a
    /// moment to settle, and the caller should not wait for it. A later
    /// invocation waits for the freeze to finish before it thaws.
    fn freeze_later(&self) {
        let freezer = self.freezer.clone();
        let sandbox = self.sandbox.clone();
        let generations = self.generation.clone();
        let generation = generations.load(Ordering::Acquire);
        let frozen = self.frozen.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(FREEZE_DELAY).await;
            let guard = freezer.lock().await;
            if generations.load(Ordering::Acquire) != generation {
                return;
            }
            let done = tokio::task::spawn_blocking(move || sandbox.freeze()).await;
            match done {
                Ok(Ok(())) => frozen.store(true, Ordering::Release),
                Ok(Err(error)) => tracing::debug!(%error, "could not freeze an idle instance"),
                Err(error) => tracing::debug!(%error, "freeze task failed"),
            }
            drop(guard);
        });
        let previous = self
            .pending_freeze
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(task);
        drop(previous);
    }

    /// Thaws the instance for an invocation, after any pending freeze.
    async fn thaw_for_invocation(&self) {
        let _guard = self.freezer.lock().await;
        self.generation.fetch_add(1, Ordering::AcqRel);
        if self.frozen.swap(false, Ordering::AcqRel)
            && let Err(error) = self.sandbox.thaw()
        {
            tracing::warn!(%error, "could not thaw an instance");
        }
    }

    fn fail(&self) {
        self.healthy.store(false, Ordering::Release);
        self.api.abandon();
    }

    fn max_memory(&self) -> u64 {
        self.sandbox.memory_peak_bytes().unwrap_or(0)
    }
}

/// The error for a runtime process that exited, in Lambda's words.
fn exit_error(sandbox: &Tree, exit: Exit, when: &str) -> FunctionError {
    let oom = sandbox.oom_killed();
    let mut error = FunctionError::new(
        if when == "during init" {
            FunctionErrorKind::InitError
        } else {
            FunctionErrorKind::ExitError
        },
        format!("Runtime exited with error: {exit}"),
    );
    error.error_type = Some(if oom {
        "Runtime.OutOfMemory".to_string()
    } else {
        "Runtime.ExitError".to_string()
    });
    let message = if oom {
        format!("Runtime exited with error: {exit} (out of memory)")
    } else {
        format!("Runtime exited with error: {exit}")
    };
    let document = serde_json::json!({
        "errorType": error.error_type.as_deref().unwrap_or("Runtime.ExitError"),
        "errorMessage": message,
    });
    error.message = message;
    error.body = Some(Bytes::from(document.to_string()));
    error
}

#[async_trait]
impl Instance for ProcessInstance {
    fn capacity(&self) -> usize {
        1
    }

    fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    async fn invoke(&self, request: InvokeRequest) -> InvokeOutput {
        let failed_init = self
            .init_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(error) = failed_init {
            return InvokeOutput {
                result: Err(error),
                logs: self.output.take_all(),
                max_memory_bytes: self.max_memory(),
            };
        }
        if !self.healthy() {
            return InvokeOutput {
                result: Err(FunctionError::new(
                    FunctionErrorKind::ExitError,
                    "the execution environment is gone",
                )),
                logs: Vec::new(),
                max_memory_bytes: 0,
            };
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        let (body, http_event) = event::payload(&request.request, &request.request_id, now_ms);
        let header = |name: &str| {
            request
                .request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let trace_id = header("x-amzn-trace-id").unwrap_or_else(|| {
            format!(
                "Root=1-{:08x}-{};Parent={};Sampled=0",
                now_ms / 1000,
                &uuid::Uuid::new_v4().simple().to_string()[..24],
                &uuid::Uuid::new_v4().simple().to_string()[..16]
            )
        });
        let client_context = header("x-amz-client-context").and_then(|b64| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
        });
        let event = Event {
            request_id: request.request_id.clone(),
            deadline_ms: now_ms + request.timeout.as_millis() as i64,
            function_arn: self.function_arn.clone(),
            trace_id: Some(trace_id),
            client_context,
            body,
        };
        self.thaw_for_invocation().await;
        let answer = self.api.dispatch(event);
        let result = tokio::select! {
            reply = answer => match reply {
                Ok(Reply::Response { body, content_type }) => event::response(body, content_type, http_event),
                Ok(Reply::Error { error_type, body }) => {
                    let (kind, message, body) = event::error_document(error_type.as_deref(), &body);
                    Err(FunctionError { kind: FunctionErrorKind::Unhandled, message, error_type: Some(kind), body: Some(body) })
                }
                Ok(Reply::TooLarge) => {
                    let limit = crate::api::MAX_RUNTIME_PAYLOAD;
                    let mut error = FunctionError::new(
                        FunctionErrorKind::ResponseTooLarge,
                        format!("Response payload size exceeded maximum allowed payload size ({limit} bytes)."),
                    );
                    error.body = Some(Bytes::from(serde_json::json!({
                        "errorType": "Function.ResponseSizeTooLarge",
                        "errorMessage": error.message,
                    }).to_string()));
                    Err(error)
                }
                Err(_) => {
                    self.fail();
                    Err(FunctionError::new(FunctionErrorKind::ExitError, "the Runtime API stopped"))
                }
            },
            exit = self.sandbox.wait() => {
                self.fail();
                Err(exit_error(&self.sandbox, exit, "during invoke"))
            }
            _ = tokio::time::sleep(request.timeout) => {
                // A timeout resets the environment, as on Lambda.
                self.fail();
                self.sandbox.kill();
                Err(FunctionError::new(FunctionErrorKind::Timeout, ""))
            }
        };
        let logs = if self.healthy() {
            let logs = self.output.take();
            self.freeze_later();
            logs
        } else {
            self.output.take_all()
        };
        InvokeOutput {
            result,
            logs,
            max_memory_bytes: self.max_memory(),
        }
    }
}

/// An execution environment whose process never started (its entry point
/// could not be executed): the invocation that asked for it gets the init
/// error, and the pool drops it.
pub struct FailedInit {
    error: Mutex<Option<FunctionError>>,
}

impl FailedInit {
    pub fn new(error_type: &str, message: String) -> FailedInit {
        let mut error = FunctionError::new(FunctionErrorKind::InitError, message.clone());
        error.error_type = Some(error_type.to_string());
        error.body = Some(Bytes::from(
            serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string(),
        ));
        FailedInit {
            error: Mutex::new(Some(error)),
        }
    }
}

#[async_trait]
impl Instance for FailedInit {
    fn capacity(&self) -> usize {
        1
    }

    fn healthy(&self) -> bool {
        false
    }

    async fn invoke(&self, _request: InvokeRequest) -> InvokeOutput {
        let error = self
            .error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| {
                FunctionError::new(
                    FunctionErrorKind::InitError,
                    "the execution environment failed to start",
                )
            });
        InvokeOutput {
            result: Err(error),
            logs: Vec::new(),
            max_memory_bytes: 0,
        }
    }
}

impl Drop for ProcessInstance {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some(task) = self
            .pending_freeze
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            task.abort();
        }
        let sandbox = self.sandbox.clone();
        let _ = sandbox.thaw();
        let grace = self.grace;
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move { sandbox.terminate(grace).await });
            }
            Err(_) => sandbox.kill(),
        }
    }
}
