//! The records the engine keeps through its backends: functions and their
//! versions, deploy results, logs and invocation records, usage, the async
//! invocation queue and access keys. Backends
//! ([`crate::backend`]) store and return them.

use crate::backend::StoreError;
use serde::{Deserialize, Serialize};
use stratus_core::FunctionConfig;

/// One version of a function as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionRecord {
    /// Function name, unique across services.
    pub name: String,
    /// The service (manifest) that owns the function.
    pub service: String,
    /// Version number, from 1.
    pub version: u64,
    /// The configuration of this version.
    pub config: FunctionConfig,
    /// When the function was first created (ms since the Unix epoch).
    pub created_ms: i64,
    /// When this version was created (ms since the Unix epoch). For the
    /// current version that is when the function last changed.
    pub updated_ms: i64,
}

/// What a deploy did to one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployStatus {
    /// The function did not exist; version 1 was created.
    Created,
    /// The config differed from the current version's; a new version is current.
    Updated,
    /// The config equalled the current version's; nothing changed.
    Unchanged,
    /// The function belonged to the service but was not in the deploy; it was
    /// deleted with all its versions.
    Removed,
}

impl DeployStatus {
    /// The lowercase name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            DeployStatus::Created => "created",
            DeployStatus::Updated => "updated",
            DeployStatus::Unchanged => "unchanged",
            DeployStatus::Removed => "removed",
        }
    }
}

/// The effect of a deploy on one function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployResult {
    /// Function name.
    pub name: String,
    /// What happened.
    pub status: DeployStatus,
    /// The current version afterwards; for `Removed`, the version that was
    /// current before the removal.
    pub version: u64,
}

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    /// Written by the platform (START/END/REPORT lines, errors).
    Platform,
    /// The function's standard output.
    Stdout,
    /// The function's standard error.
    Stderr,
}

impl LogStream {
    /// The lowercase name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            LogStream::Platform => "platform",
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }

    /// The byte that marks a line of this stream in a stored log row.
    pub fn tag(self) -> u8 {
        match self {
            LogStream::Platform => b'p',
            LogStream::Stdout => b'o',
            LogStream::Stderr => b'e',
        }
    }

    /// The stream marked by `tag` in a stored log row.
    pub fn from_tag(tag: u8) -> Result<Self, StoreError> {
        match tag {
            b'p' => Ok(LogStream::Platform),
            b'o' => Ok(LogStream::Stdout),
            b'e' => Ok(LogStream::Stderr),
            other => Err(StoreError::Corrupt(format!(
                "unknown log stream tag {other:#04x} in database"
            ))),
        }
    }
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogRecord {
    /// Position in the log, assigned by the store on append (pass 0).
    /// Strictly increasing and never reused, so `seq` is a tailing cursor.
    /// Not dense: consecutive lines may have gaps between their `seq`s.
    pub seq: i64,
    /// When the line was written (ms since the Unix epoch).
    pub ts_ms: i64,
    /// Function name.
    pub function: String,
    /// Function version.
    pub version: u64,
    /// The invocation's request id.
    pub request_id: String,
    /// Which stream.
    pub stream: LogStream,
    /// The line, without its trailing newline.
    pub message: String,
}

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The function returned a response.
    Ok,
    /// The function failed (trap, crash, error response from the runtime).
    Error,
    /// The function ran past its timeout.
    Timeout,
    /// The invocation was refused by a concurrency limit and never ran.
    Throttled,
}

impl Outcome {
    /// The lowercase name, as serialized and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Throttled => "throttled",
        }
    }

    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "ok" => Ok(Outcome::Ok),
            "error" => Ok(Outcome::Error),
            "timeout" => Ok(Outcome::Timeout),
            "throttled" => Ok(Outcome::Throttled),
            other => Err(StoreError::Corrupt(format!(
                "unknown outcome {other:?} in database"
            ))),
        }
    }
}

/// The metering record of one invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationRecord {
    /// When the invocation started (ms since the Unix epoch).
    pub ts_ms: i64,
    /// Function name.
    pub function: String,
    /// Function version.
    pub version: u64,
    /// Request id.
    pub request_id: String,
    /// What triggered it: `"http"` or `"invoke"` (free text, stored as is).
    pub trigger: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Whether it needed a new instance.
    pub cold: bool,
    /// Wall time of the invocation in microseconds (excluding init).
    pub duration_us: u64,
    /// Instance start time in microseconds, for cold starts.
    pub init_us: Option<u64>,
    /// Billed duration in milliseconds.
    pub billed_ms: u64,
    /// Configured memory size in MB.
    pub memory_mb: u32,
    /// Peak memory the instance used, in bytes.
    pub max_memory_bytes: u64,
}

/// Aggregates of one function's invocations over a time window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionStats {
    /// Function name.
    pub function: String,
    /// Invocations that ran (all outcomes but `Throttled`).
    pub invocations: u64,
    /// Invocations that ended in `Error` or `Timeout`.
    pub errors: u64,
    /// Invocations refused as `Throttled`.
    pub throttles: u64,
    /// Invocations that were cold starts.
    pub cold_starts: u64,
    /// Median duration in ms (nearest rank) of the invocations that ran.
    pub p50_ms: Option<f64>,
    /// 99th percentile duration in ms (nearest rank) of the invocations that ran.
    pub p99_ms: Option<f64>,
    /// Sum of billed milliseconds.
    pub billed_ms: u64,
    /// Sum of `billed_ms / 1000 * memory_mb / 1024` (GB-seconds).
    pub gb_seconds: f64,
}
/// An event to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAsyncEvent {
    /// The invocation's request id, returned to the caller and kept across
    /// retries so handlers can deduplicate.
    pub request_id: String,
    /// The function to invoke.
    pub function: String,
    /// `None` for the current version, else a version number as text.
    pub qualifier: Option<String>,
    /// The event payload.
    pub payload: Vec<u8>,
    /// Request headers to replay (e.g. `x-amzn-trace-id`).
    pub headers: Vec<(String, String)>,
    /// Attempts in all: 1 + `maximumRetryAttempts`.
    pub max_attempts: u32,
    /// Events older than this are not run again (`maximumEventAge`).
    pub max_age_ms: i64,
}

/// A claimed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncEvent {
    /// The row id (for completing or retrying the event).
    pub id: i64,
    /// The invocation's request id, the same on every attempt.
    pub request_id: String,
    /// The function to invoke.
    pub function: String,
    /// `None` for the current version, else a version number as text.
    pub qualifier: Option<String>,
    /// The event payload.
    pub payload: Vec<u8>,
    /// Request headers to replay.
    pub headers: Vec<(String, String)>,
    /// When the event was accepted (ms since the epoch).
    pub enqueued_ms: i64,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// Attempts in all.
    pub max_attempts: u32,
    /// The event's maximum age.
    pub max_age_ms: i64,
}

/// Counts of the queue, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AsyncQueueStats {
    /// Events waiting or running.
    pub pending: u64,
    /// Events whose attempts are spent.
    pub failed: u64,
}
/// The admin key in AWS's shared-credentials format.
pub const CREDENTIALS_FILE: &str = "credentials";

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Everything (the operator's key).
    Admin,
    /// One function's own credentials.
    Function,
}

impl KeyKind {
    /// The stored name: `admin` or `function`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Admin => "admin",
            KeyKind::Function => "function",
        }
    }
}

/// An access key.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// `AKIA...` (admin) or `ASIA...` (function).
    pub key_id: String,
    /// The secret access key (40 characters).
    pub secret: String,
    /// Admin or function.
    pub kind: KeyKind,
    /// The function, for a function key.
    pub function: Option<String>,
    /// The session token a function key must present
    /// (`x-amz-security-token`).
    pub session_token: Option<String>,
    /// When it was created, ms since the epoch.
    pub created_ms: i64,
}

impl AccessKey {
    /// A new key of `kind` (for `function`, a function key), made now from
    /// the thread's CSPRNG (seeded by the OS): `AKIA` or `ASIA` and 16
    /// upper-case alphanumerics, a 40-character secret, and for a function
    /// key a 96-character session token.
    pub fn generate(kind: KeyKind, function: Option<&str>, now_ms: i64) -> AccessKey {
        use rand::Rng;
        const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        const SECRET_CHARS: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut rng = rand::rng();
        let mut random = |alphabet: &[u8], len: usize| -> String {
            (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
                .collect()
        };
        let prefix = match kind {
            KeyKind::Admin => "AKIA",
            KeyKind::Function => "ASIA",
        };
        let session_token = match kind {
            KeyKind::Admin => None,
            KeyKind::Function => Some(random(SECRET_CHARS, 96)),
        };
        AccessKey {
            key_id: format!("{prefix}{}", random(UPPER_ALNUM, 16)),
            secret: random(SECRET_CHARS, 40),
            kind,
            function: function.map(str::to_string),
            session_token,
            created_ms: now_ms,
        }
    }
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("key_id", &self.key_id)
            .field("kind", &self.kind)
            .field("function", &self.function)
            .finish_non_exhaustive()
    }
}
