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
    Engine, EngineConfig, EngineError, FunctionUsage, Invocation, MAX_PAYLOAD_BYTES, RoutedTo,
    Trigger, Usage,
};
pub use limits::Throttle;
pub use runtime::{
    FunctionError, FunctionErrorKind, Instance, InvokeOutput, InvokeRequest, Runtime, RuntimeError,
};
