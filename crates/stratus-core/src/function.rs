//! The deployed shape of a function: what the server stores per version.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default memory size in MB (Lambda's default).
pub const DEFAULT_MEMORY_MB: u32 = 128;
/// Smallest accepted memory size in MB.
pub const MIN_MEMORY_MB: u32 = 16;
/// Largest accepted memory size in MB for wasm (a 32-bit linear memory tops out at 4 GiB).
pub const MAX_WASM_MEMORY_MB: u32 = 4096;
/// Default timeout in seconds (Lambda's default).
pub const DEFAULT_TIMEOUT_SECS: f64 = 3.0;
/// Largest accepted timeout in seconds (Lambda's limit).
pub const MAX_TIMEOUT_SECS: f64 = 900.0;

/// Which runtime executes a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// A WebAssembly component serving `wasi:http/proxy`.
    Wasm,
}

/// One HTTP route that triggers a function (`events: - httpApi: {method, path}`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HttpRoute {
    /// Upper-case HTTP method, or `*` for any method.
    pub method: String,
    /// Path pattern, e.g. `/hello/{name}` or `/files/{proxy+}`.
    pub path: String,
}

/// Everything the server needs to run one version of a function. Two configs
/// that compare equal are the same deployment ("unchanged").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionConfig {
    pub name: String,
    pub runtime: RuntimeKind,
    /// SHA-256 (lower-case hex) of the uploaded artifact.
    pub artifact: String,
    pub memory_size: u32,
    /// Timeout in seconds.
    pub timeout: f64,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
    #[serde(default)]
    pub provisioned_concurrency: u32,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub routes: Vec<HttpRoute>,
}

impl FunctionConfig {
    /// The timeout as a `Duration`.
    pub fn timeout_duration(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout)
    }
}
