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
/// Smallest memory size in MB of process (Lambda) runtimes (Lambda's limit).
pub const MIN_PROCESS_MEMORY_MB: u32 = 128;
/// Largest memory size in MB of process (Lambda) runtimes (Lambda's limit).
pub const MAX_PROCESS_MEMORY_MB: u32 = 10_240;
/// Default size of a process function's private `/tmp`, in MB (Lambda's).
pub const DEFAULT_EPHEMERAL_STORAGE_MB: u32 = 512;
/// Smallest accepted `/tmp` size in MB (Lambda's minimum is 512; smaller
/// sizes are allowed here for tests and tight hosts).
pub const MIN_EPHEMERAL_STORAGE_MB: u32 = 1;
/// Largest accepted `/tmp` size in MB (Lambda's limit).
pub const MAX_EPHEMERAL_STORAGE_MB: u32 = 10_240;

/// Which runtime executes a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// A WebAssembly component serving `wasi:http/proxy`.
    Wasm,
    /// A Python Lambda function (`python3.x`), run by `awslambdaric`.
    Python,
    /// A Node.js Lambda function (`nodejsNN.x`), run by `aws-lambda-ric`.
    Nodejs,
    /// A custom Lambda runtime (`provided`, `provided.al2023`): the package's
    /// executable `bootstrap` speaks the Runtime API itself.
    Provided,
}

impl RuntimeKind {
    /// Every kind.
    pub const ALL: [RuntimeKind; 4] = [
        RuntimeKind::Wasm,
        RuntimeKind::Python,
        RuntimeKind::Nodejs,
        RuntimeKind::Provided,
    ];

    /// The kind's wire name (as serialised): `wasm`, `python`, `nodejs`,
    /// `provided`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Wasm => "wasm",
            RuntimeKind::Python => "python",
            RuntimeKind::Nodejs => "nodejs",
            RuntimeKind::Provided => "provided",
        }
    }

    /// The kind with wire name `name`.
    pub fn from_wire(name: &str) -> Option<RuntimeKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether functions of this kind run as Lambda Runtime API processes.
    pub fn is_process(self) -> bool {
        !matches!(self, RuntimeKind::Wasm)
    }
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
    /// The runtime as the manifest spelt it (`python3.11`, `nodejs20.x`,
    /// `provided.al2023`); process runtimes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_version: Option<String>,
    /// The Lambda handler (`module.function`); process runtimes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    /// Size of the private `/tmp` in MB; process runtimes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<u32>,
}

impl FunctionConfig {
    /// The timeout as a `Duration`.
    pub fn timeout_duration(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout)
    }
}

/// The account id shown in ARNs and events (Stratus has one account).
pub const ACCOUNT_ID: &str = "000000000000";
/// The region shown in ARNs, events and `AWS_REGION`.
pub const REGION: &str = "us-east-1";

/// A function's ARN, with an optional qualifier (`$LATEST`, a version).
pub fn function_arn(name: &str, qualifier: Option<&str>) -> String {
    match qualifier {
        Some(q) => format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}:{q}"),
        None => format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"),
    }
}
