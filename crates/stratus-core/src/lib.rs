//! Domain types of Stratus: function configuration, manifest parsing and
//! validation, route patterns, the price sheet and the API Gateway HTTP API
//! payload format. This crate does no IO: callers hand it strings and, where
//! a file must exist, a predicate.

pub mod apigw;
pub mod filter_policy;
pub mod function;
pub mod manifest;
pub mod pattern;
pub mod pricing;
pub mod route;
pub mod schedule;
pub mod sigv4;
pub mod transform;

pub use function::{
    AsyncConfig, BusSource, EventSources, FunctionConfig, HttpRoute, RuntimeKind, ScheduleSource,
    SnsSource, SqsSource, TargetRef,
};
pub use manifest::{
    Location, Manifest, ManifestError, ManifestFunction, check_handlers, parse_manifest,
};
pub use pricing::{Cost, PriceSheet, PricingError};
pub use route::{RouteError, RouteMatch, RoutePattern, Router};
