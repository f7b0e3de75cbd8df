//! The engine: function registry, instance pools, scaling and limits,
//! invocation, metering and logs. Defines the [`Runtime`] trait that runtimes
//! implement; knows nothing of triggers or wire formats.

mod async_invoke;
pub mod backend;
mod cache;
mod engine;
mod invoke;
mod lifecycle;
mod limits;
mod metrics;
mod pool;
pub mod records;
mod registry;
pub mod runtime;
mod writer;

pub use engine::{
    AsyncOutcome, AsyncOutcomes, Condition, Engine, EngineConfig, EngineError, FunctionEnv,
    FunctionUsage, Invocation, MAX_ASYNC_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES, MAX_RETRY_ATTEMPTS,
    Qualifier, RoutedTo, Trigger, Usage,
};
pub use invoke::event_request;
pub use limits::Throttle;
pub use runtime::{
    FunctionError, FunctionErrorKind, Instance, InvokeOutput, InvokeRequest, MatchedRoute, Runtime,
    RuntimeError,
};

pub use backend::{EngineBackends, StoreError};
pub use cache::NodeCache;
pub use stratus_core::error_chain;
