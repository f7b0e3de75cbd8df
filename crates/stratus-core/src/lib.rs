//! Domain types of Stratus: function configuration, manifest parsing and
//! validation, route patterns, the price sheet and the API Gateway HTTP API
//! payload format. This crate does no IO: callers hand it strings and, where
//! a file must exist, a predicate.

pub mod apigw;
pub mod arn;
pub mod durable;
pub mod events;
pub mod filter_policy;
pub mod function;
pub mod manifest;
pub mod names;
pub mod pattern;
pub mod pricing;
pub mod route;
pub mod schedule;
pub mod scope;
pub mod store;
pub mod transform;

pub use arn::{Arn, ArnError, ArnResource, FunctionRef, ResourceKind};
pub use function::{
    AsyncConfig, BusSource, EventSources, FunctionConfig, HttpRoute, RuntimeKind, ScheduleSource,
    SnsSource, SqsSource, TargetRef,
};
pub use manifest::{
    Location, Manifest, ManifestError, ManifestFunction, check_handlers, parse_manifest,
};
pub use names::{NameError, NameKind};
pub use pricing::{Cost, PriceSheet, PricingError};
pub use route::{RouteError, RouteMatch, RoutePattern, Router};
pub use scope::{AccountId, Region, ResourceScope, ScopeError};
pub use store::StoreError;

/// An error and its sources, joined by `: ` (for log lines).
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
