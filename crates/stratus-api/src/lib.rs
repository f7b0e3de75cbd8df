//! Wire types of the control API (`/v1`), shared by the CLI and the server.
//! This is the only crate that defines JSON shapes of the control API; the
//! full reference is `docs/api.md`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The deployment document: a manifest resolved by the CLI into plain data
/// (artifacts already uploaded, defaults applied). The server accepts only this.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentRequest {
    /// Version of this document's format.
    pub format: u32,
    pub service: String,
    /// Function configurations, as stored per version (`FunctionConfig`).
    pub functions: Vec<Value>,
}

/// Format version the server accepts.
pub const DEPLOYMENT_FORMAT: u32 = 1;

/// One function's outcome of a deploy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeployedFunction {
    pub name: String,
    /// `created`, `updated`, `unchanged` or `removed`.
    pub status: String,
    pub version: u64,
    /// Full URLs of the function's routes, e.g. `GET http://127.0.0.1:8080/hello/{name}`.
    #[serde(default)]
    pub urls: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentResponse {
    pub service: String,
    pub functions: Vec<DeployedFunction>,
}

/// Answer to an artifact upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactResponse {
    pub sha256: String,
    pub size: u64,
}

/// A deployed function, for `ls` and `info`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionInfo {
    pub name: String,
    pub service: String,
    pub version: u64,
    pub updated_ms: i64,
    /// Instances loaded right now (0 when scaled to zero).
    pub instances: usize,
    pub config: Value,
    #[serde(default)]
    pub urls: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionList {
    pub functions: Vec<FunctionInfo>,
}

/// Body of `POST /v1/functions/{name}/invoke`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvokeRequest {
    /// HTTP method of the request the function sees (default `POST`).
    #[serde(default)]
    pub method: Option<String>,
    /// Path and query the function sees (default `/`).
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Body, base64-encoded.
    #[serde(default)]
    pub body_base64: String,
}

/// Answer of `POST /v1/functions/{name}/invoke`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvokeResponse {
    pub request_id: String,
    pub version: u64,
    pub cold: bool,
    pub duration_ms: f64,
    /// HTTP status the function answered, or the platform's for errors.
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body_base64: String,
    /// Set when the function failed: e.g. `Runtime.Trap`, `Sandbox.Timedout`.
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
    /// The invocation's log lines (START .. REPORT).
    pub log: Vec<String>,
}

/// One log record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    pub seq: i64,
    pub ts_ms: i64,
    pub request_id: String,
    pub version: u64,
    /// `platform`, `stdout` or `stderr`.
    pub stream: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsResponse {
    pub records: Vec<LogLine>,
    /// Pass as `after` to get the next records.
    pub next: i64,
}

/// One message of the topics' local outbox: what an `email`, `email-json`
/// or `sms` subscription (or a publication to a phone number) would have
/// been sent; Stratus records these instead of sending them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxMessage {
    /// Increases in the order messages were recorded.
    pub id: i64,
    /// When it was recorded (ms since the Unix epoch).
    pub ts_ms: i64,
    /// The topic's name; empty for a publication to a phone number.
    pub topic: String,
    /// The subscription's ARN; empty for a publication to a phone number.
    pub subscription_arn: String,
    /// `email`, `email-json` or `sms`.
    pub protocol: String,
    /// The email address or phone number.
    pub endpoint: String,
    /// `Notification` or `SubscriptionConfirmation`.
    pub kind: String,
    /// The SNS message id.
    pub message_id: String,
    /// The email's subject (none for text messages).
    #[serde(default)]
    pub subject: Option<String>,
    /// The text: an email's body, `email-json`'s JSON document, an SMS.
    pub body: String,
}

/// Answer of `GET /v1/sns/outbox?topic=T&limit=N`: the newest messages,
/// oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxResponse {
    pub messages: Vec<OutboxMessage>,
}

/// Error body of every control API error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    /// A stable code: `Unauthorized`, `NotFound`, `InvalidArtifact`, ...
    pub code: String,
    pub message: String,
}
