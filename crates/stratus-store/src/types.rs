//! Records the store reads and writes.

use serde::{Deserialize, Serialize};
use stratus_core::FunctionConfig;

use crate::StoreError;

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
    pub(crate) fn tag(self) -> u8 {
        match self {
            LogStream::Platform => b'p',
            LogStream::Stdout => b'o',
            LogStream::Stderr => b'e',
        }
    }

    /// The stream marked by `tag` in a stored log row.
    pub(crate) fn from_tag(tag: u8) -> Result<Self, StoreError> {
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

    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
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

/// An archive of an event bus (EventBridge): the events of its bus that
/// match its pattern, kept `retention_days` (0: forever).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveRecord {
    /// Its name, unique among archives.
    pub name: String,
    /// The bus whose events it keeps.
    pub bus: String,
    /// Its description.
    pub description: Option<String>,
    /// The event pattern (JSON text); every event of the bus when None.
    pub pattern: Option<String>,
    /// Days an event is kept; 0 keeps it forever.
    pub retention_days: u32,
    /// `ENABLED` (the only state Stratus has).
    pub state: String,
    /// When it was created (ms since the epoch).
    pub created_ms: i64,
    /// How many events it holds (read only).
    pub event_count: u64,
    /// The size of those events in bytes (read only).
    pub size_bytes: u64,
}

/// An archived event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedEvent {
    /// Its position in the archives, increasing with arrival.
    pub seq: i64,
    /// The event's `time` (ms since the epoch).
    pub time_ms: i64,
    /// The event, as JSON text.
    pub event: String,
}

/// A replay of an archive's events onto its bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRecord {
    /// Its name, unique among replays.
    pub name: String,
    /// The archive replayed.
    pub archive: String,
    /// Its description.
    pub description: Option<String>,
    /// The bus the events are replayed to.
    pub bus: String,
    /// The ARNs of the rules replayed to (every rule of the bus when empty).
    pub filter_arns: Vec<String>,
    /// The first event time replayed (ms, inclusive).
    pub start_ms: i64,
    /// The last event time replayed (ms, exclusive).
    pub end_ms: i64,
    /// `STARTING`, `RUNNING`, `CANCELLING`, `COMPLETED`, `CANCELLED` or
    /// `FAILED`.
    pub state: String,
    /// Why it is in that state, if it says.
    pub state_reason: Option<String>,
    /// When it started (ms).
    pub replay_start_ms: i64,
    /// When it ended (ms).
    pub replay_end_ms: Option<i64>,
    /// The time of the last event replayed (ms).
    pub last_replayed_ms: Option<i64>,
    /// The `seq` of the last archived event replayed (0 before the first).
    pub cursor: i64,
}

/// A connection of API destinations: how to authorize with an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    /// Its name, unique among connections.
    pub name: String,
    /// The id in its ARN.
    pub id: String,
    /// Its description.
    pub description: Option<String>,
    /// `API_KEY`, `BASIC` or `OAUTH_CLIENT_CREDENTIALS`.
    pub auth_type: String,
    /// `AuthParameters` as given (JSON text, secrets included).
    pub auth: String,
    /// `AUTHORIZED`, `AUTHORIZING`, …
    pub state: String,
    /// When it was created (ms).
    pub created_ms: i64,
    /// When it last changed (ms).
    pub modified_ms: i64,
    /// When it was last authorized (ms).
    pub authorized_ms: Option<i64>,
}

/// An API destination: an HTTP endpoint rules deliver to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiDestinationRecord {
    /// Its name, unique among API destinations.
    pub name: String,
    /// The id in its ARN.
    pub id: String,
    /// Its description.
    pub description: Option<String>,
    /// The ARN of its connection.
    pub connection_arn: String,
    /// The URL events go to.
    pub endpoint: String,
    /// The HTTP method.
    pub method: String,
    /// `InvocationRateLimitPerSecond`, if given.
    pub rate_limit: Option<u32>,
    /// When it was created (ms).
    pub created_ms: i64,
    /// When it last changed (ms).
    pub modified_ms: i64,
}

/// A delivery of a rule's target waiting in the bus's outbox: the targets
/// that are not functions (queues, topics, buses, API destinations) of a
/// schedule's tick, and every delivery to an API destination, retried until
/// it succeeds or runs out of attempts or age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEventDelivery {
    /// The target's ARN.
    pub target: String,
    /// What it gets (the rendered input).
    pub payload: String,
    /// The event's `detail-type`.
    pub kind: String,
    /// The event's `source`.
    pub source: String,
    /// The event's id.
    pub event_id: Option<String>,
    /// The target's parameters (JSON text: `SqsParameters`,
    /// `HttpParameters`, …), if any.
    pub params: Option<String>,
    /// The rule's ARN (logs, metrics).
    pub rule: String,
    /// Attempts at most (first included).
    pub max_attempts: u32,
    /// How long it may be retried (ms after it was queued).
    pub max_age_ms: i64,
}

/// A delivery claimed from the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDelivery {
    /// Its id in the outbox.
    pub id: i64,
    /// Attempts made before this one.
    pub attempts: u32,
    /// When it was queued (ms).
    pub created_ms: i64,
    /// What to deliver.
    pub delivery: NewEventDelivery,
}

/// What a message of the topics' local outbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboxKind {
    /// A publication delivered to the subscription.
    Notification,
    /// The confirmation request of a new subscription (with its token).
    SubscriptionConfirmation,
}

impl OutboxKind {
    /// SNS's name of the message type.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Notification => "Notification",
            OutboxKind::SubscriptionConfirmation => "SubscriptionConfirmation",
        }
    }

    /// The kind named `text` ([`OutboxKind::as_str`]), if any.
    pub fn parse(text: &str) -> Option<OutboxKind> {
        match text {
            "Notification" => Some(OutboxKind::Notification),
            "SubscriptionConfirmation" => Some(OutboxKind::SubscriptionConfirmation),
            _ => None,
        }
    }
}

/// A message for the topics' local outbox: what an `email`, `email-json`
/// or `sms` subscription (or a publication to a phone number) would have
/// been sent, recorded instead of sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxMessage {
    /// The topic's name; empty for a publication to a phone number.
    pub topic: String,
    /// The subscription's ARN; empty for a publication to a phone number.
    pub subscription_arn: String,
    /// `email`, `email-json` or `sms`.
    pub protocol: String,
    /// The email address or phone number.
    pub endpoint: String,
    /// What the message is.
    pub kind: OutboxKind,
    /// The SNS message id.
    pub message_id: String,
    /// The subject (emails), if any.
    pub subject: Option<String>,
    /// The text that would have been sent.
    pub body: String,
}

/// A message of the topics' local outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// The row id (increasing in the order messages were recorded).
    pub id: i64,
    /// The message as it was recorded.
    pub message: NewOutboxMessage,
    /// When it was recorded (ms since the epoch).
    pub created_ms: i64,
}
