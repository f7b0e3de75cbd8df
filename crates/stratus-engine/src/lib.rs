//! The engine: function registry, instance pools, scaling and limits,
//! invocation, metering and logs. Defines the [`Runtime`] trait that runtimes
//! implement; knows nothing of triggers or wire formats.

mod engine;
mod limits;
mod metrics;
mod pool;
pub mod runtime;
mod writer;

pub use engine::{
    AsyncOutcome, AsyncOutcomes, Condition, Engine, EngineConfig, EngineError, FunctionEnv,
    FunctionUsage, Invocation, MAX_ASYNC_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES, MAX_RETRY_ATTEMPTS,
    Qualifier, RoutedTo, Trigger, Usage,
};
pub use limits::Throttle;
pub use runtime::{
    FunctionError, FunctionErrorKind, Instance, InvokeOutput, InvokeRequest, MatchedRoute, Runtime,
    RuntimeError,
};

/// An error and its causes, joined with `: ` (for logs; `Display` of the
/// store's errors shows only the outermost context).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
