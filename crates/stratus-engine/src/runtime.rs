//! The contract between the engine and the runtimes that execute code.
//!
//! A runtime knows nothing of triggers: it turns an artifact into a loaded
//! [`Instance`] (the cold start) and runs one request on it. Limits, metering,
//! logging and tracing are the engine's job.

use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use stratus_core::{FunctionConfig, RuntimeKind};
use stratus_store::LogStream;

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
        }
    }
}

/// A function-level failure; the message is for the function's logs only.
#[derive(Debug, Clone)]
pub struct FunctionError {
    pub kind: FunctionErrorKind,
    pub message: String,
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
    /// Runs one request to completion. Must return within `timeout` plus a
    /// small grace; the engine enforces a hard stop as a backstop.
    async fn invoke(&self, request: InvokeRequest) -> InvokeOutput;
}

/// A runtime turns artifacts into instances.
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// Which `runtime:` this serves.
    fn kind(&self) -> RuntimeKind;
    /// Validates an uploaded artifact and compiles it ahead of time. Called at
    /// deploy, once per content hash; must be idempotent.
    async fn prepare(&self, sha256: &str, bytes: Bytes) -> Result<(), RuntimeError>;
    /// Whether the artifact was already prepared.
    fn is_prepared(&self, sha256: &str) -> bool;
    /// The cold start: loads the compiled artifact and builds the instance.
    async fn load(&self, function: Arc<FunctionConfig>) -> Result<Arc<dyn Instance>, RuntimeError>;
}
