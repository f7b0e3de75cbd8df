//! The HTTP front door: the functions' gateway (routes to functions) and the
//! control API (`/v1`, bearer token) with Prometheus `/metrics`.
//!
//! Errors are mapped to HTTP statuses in one place, `error.rs`; clients never
//! see internal error text.

mod aws;
mod control;
mod error;
mod functions;
mod services;

use bytes::Bytes;
use std::sync::Arc;
use stratus_engine::Engine;

pub use aws::router as aws_router;
pub use control::router as control_router;
pub use functions::router as functions_router;
pub use services::{ServicesFn, services_handler, services_router};

/// Shared state of both routers.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    /// The AWS-compatible services (queues, topics, bus, schedules) and
    /// their triggers.
    pub services: stratus_triggers::Triggers,
    /// The bearer token of the control API.
    pub token: Arc<str>,
    /// Base URL of the functions' gateway, e.g. `http://127.0.0.1:8080`.
    pub gateway_url: Arc<str>,
}

impl AppState {
    /// Full URLs of a function's routes, e.g. `GET http://127.0.0.1:8080/hello/{name}`.
    pub fn route_urls(&self, config: &stratus_core::FunctionConfig) -> Vec<String> {
        config
            .routes
            .iter()
            .map(|r| format!("{} {}{}", r.method, self.gateway_url, r.path))
            .collect()
    }
}

/// The HTTP request a function receives for an event that is not an HTTP
/// route (control-API invoke): see [`stratus_engine::event_request`].
pub(crate) fn event_request(
    state: &AppState,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Bytes,
) -> Result<http::Request<Bytes>, http::Error> {
    let host = state.gateway_url.trim_start_matches("http://");
    stratus_engine::event_request(host, method, path, headers, body)
}
