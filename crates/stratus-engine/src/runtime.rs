//! The contract between the engine and the runtimes that execute code.
//!
//! A runtime knows nothing of triggers: it turns an artifact into a loaded
//! [`Instance`] (the cold start) and runs one request on it. Limits, metering,
//! logging and tracing are the engine's job.

use crate::records::LogStream;
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use stratus_core::{FunctionConfig, RuntimeKind};

/// Why an artifact or a function could not be prepared or loaded.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The artifact is not acceptable (wrong format, wrong world). The message
    /// is safe to show to the user who uploaded it.
    #[error("{0}")]
    InvalidArtifact(String),
    /// The compiled artifact is missing: it was never prepared.
    #[error("compiled artifact {0} is missing; deploy it again")]
    NotPrepared(String),
    /// Anything else; logged, shown to clients as an internal error.
    #[error("{0}")]
    Internal(String),
}

/// One request handed to an instance.
#[derive(Debug)]
pub struct InvokeRequest {
    pub request_id: String,
    /// The request, with its whole body (already limited by the engine).
    pub request: http::Request<Bytes>,
    /// The function's time limit for this request.
    pub timeout: Duration,
}

/// Why a function failed to produce a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionErrorKind {
    /// The function ran past its timeout and was stopped.
    Timeout,
    /// The function trapped (panic, unreachable, stack overflow, ...).
    Trap,
    /// The function tried to grow memory past its `memorySize`.
    OutOfMemory,
    /// The response body is larger than the limit.
    ResponseTooLarge,
    /// The function finished without producing a valid response.
    BadResponse,
    /// The function's code reported an error (a Lambda handler raised); its
    /// error document is in [`FunctionError::body`].
    Unhandled,
    /// The function's process exited during the invocation
    /// (`Runtime.ExitError`); the next invocation starts a new one.
    ExitError,
    /// The function's initialisation failed (import error, syntax error,
    /// init timeout); the next invocation runs init again.
    InitError,
}

impl FunctionErrorKind {
    /// Lambda-style error type name, e.g. `Runtime.OutOfMemory`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Timeout => "Sandbox.Timedout",
            Self::Trap => "Runtime.Trap",
            Self::OutOfMemory => "Runtime.OutOfMemory",
            Self::ResponseTooLarge => "Function.ResponseSizeTooLarge",
            Self::BadResponse => "Runtime.InvalidResponse",
            Self::Unhandled => "Unhandled",
            Self::ExitError => "Runtime.ExitError",
            Self::InitError => "Runtime.InitError",
        }
    }
}

/// A function-level failure; the message is for the function's logs only.
#[derive(Debug, Clone)]
pub struct FunctionError {
    pub kind: FunctionErrorKind,
    pub message: String,
    /// The precise error type when the runtime knows better than `kind`
    /// (e.g. `Runtime.ImportModuleError` from a Lambda runtime).
    pub error_type: Option<String>,
    /// The error document (`{"errorMessage","errorType",...}`) to hand to
    /// callers verbatim, as Lambda does; `None` builds one from the kind.
    pub body: Option<Bytes>,
}

impl FunctionError {
    /// An error of `kind` with a message for the logs.
    pub fn new(kind: FunctionErrorKind, message: impl Into<String>) -> Self {
        FunctionError {
            kind,
            message: message.into(),
            error_type: None,
            body: None,
        }
    }

    /// The error type callers see, e.g. `Runtime.ExitError`.
    pub fn error_type(&self) -> &str {
        self.error_type
            .as_deref()
            .unwrap_or_else(|| self.kind.error_type())
    }
}

/// Set as an extension on requests that came through an HTTP route, so
/// runtimes that build events (API Gateway payload 2.0) know the route.
/// Event invocations (Invoke API, control API) carry none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRoute {
    /// `GET /hello/{name}`.
    pub route_key: String,
    pub params: Vec<(String, String)>,
}

/// What an instance reports back for one request.
#[derive(Debug)]
pub struct InvokeOutput {
    pub result: Result<http::Response<Bytes>, FunctionError>,
    /// The guest's output lines, in order.
    pub logs: Vec<(LogStream, String)>,
    /// Peak memory the request used, in bytes.
    pub max_memory_bytes: u64,
}

/// A loaded function version, ready to serve requests. For wasm this is the
/// pre-instantiated component shared by all concurrent requests.
#[async_trait]
pub trait Instance: Send + Sync + 'static {
    /// How many requests this instance serves at once.
    fn capacity(&self) -> usize;
    /// Whether the instance can take more requests. An instance whose process
    /// died or timed out answers `false` and is dropped by its pool.
    fn healthy(&self) -> bool {
        true
    }
    /// Runs one request to completion. Must return within `timeout` plus a
    /// small grace; the engine enforces a hard stop as a backstop.
    async fn invoke(&self, request: InvokeRequest) -> InvokeOutput;
}

/// A runtime turns artifacts into instances.
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// Which `runtime:` kinds this serves.
    fn kinds(&self) -> &'static [RuntimeKind];
    /// Validates an uploaded artifact and compiles it ahead of time. Called at
    /// deploy, once per content hash; must be idempotent.
    async fn prepare(&self, sha256: &str, bytes: Bytes) -> Result<(), RuntimeError>;
    /// Whether cold starts of one function may run side by side. Runtimes
    /// whose instances take one request at a time (processes) answer `true`;
    /// for the others a burst waits for one shared cold start.
    fn parallel_cold_starts(&self) -> bool {
        false
    }
    /// Gets a runtime kind ready ahead of its first cold start (e.g. installs
    /// a managed environment on first use). Called in the background after a
    /// deploy that names the kind; failures are logged, and the first cold
    /// start tries again.
    async fn prepare_kind(&self, _kind: RuntimeKind) -> Result<(), RuntimeError> {
        Ok(())
    }
    /// Whether the artifact was already prepared.
    fn is_prepared(&self, sha256: &str) -> bool;
    /// The cold start: loads the compiled artifact and builds the instance.
    async fn load(&self, function: Arc<FunctionConfig>) -> Result<Arc<dyn Instance>, RuntimeError>;
}
