//! The deployed shape of a function: what the server stores per version.

use crate::arn::Arn;
use crate::names;
use crate::scope::ResourceScope;
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
    /// Queue, topic, schedule and event-bus triggers.
    #[serde(default, skip_serializing_if = "EventSources::is_empty")]
    pub events: EventSources,
    /// Retries, maximum age, destinations and DLQ of asynchronous
    /// invocations.
    #[serde(default, skip_serializing_if = "AsyncConfig::is_default")]
    pub async_config: AsyncConfig,
}

impl FunctionConfig {
    /// The timeout as a `Duration`.
    pub fn timeout_duration(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout)
    }
}

/// The account id shown in ARNs and events (Stratus has one account).
/// An alias of [`crate::scope::DEFAULT_ACCOUNT`].
pub const ACCOUNT_ID: &str = crate::scope::DEFAULT_ACCOUNT;
/// The region shown in ARNs, events and `AWS_REGION`. An alias of
/// [`crate::scope::DEFAULT_REGION`].
pub const REGION: &str = crate::scope::DEFAULT_REGION;

/// A function's ARN in the default scope, with an optional qualifier
/// (`$LATEST`, a version). Prefer [`Arn::function`] with a scope.
pub fn function_arn(name: &str, qualifier: Option<&str>) -> String {
    Arn::function(&ResourceScope::DEFAULT, name, qualifier).to_string()
}

/// A managed resource named as the target of a destination, a DLQ, a rule
/// or a subscription. Written in manifests and APIs as an ARN
/// (`arn:aws:sqs:us-east-1:000000000000:jobs`) or, for functions, a bare name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "name", rename_all = "lowercase")]
pub enum TargetRef {
    /// A function (asynchronous invocation), by name.
    Function(String),
    /// A queue, by name (`jobs`, `orders.fifo`).
    Queue(String),
    /// A topic, by name.
    Topic(String),
    /// An event bus, by name (`default` or a custom bus).
    Bus(String),
}

impl TargetRef {
    /// Parses an ARN of a function (`function:NAME[:QUALIFIER]`, the
    /// qualifier ignored), queue, topic or bus, or a bare function name.
    /// The region and account are not checked beyond their syntax; the
    /// function name follows [`names::function_name`] in both forms.
    pub fn parse(text: &str) -> Result<TargetRef, String> {
        let text = text.trim();
        if !text.starts_with("arn:") {
            if names::function_name(text).is_ok() {
                return Ok(TargetRef::Function(text.to_string()));
            }
            return Err(format!(
                "`{text}` is neither an ARN (arn:aws:sqs|sns|lambda|events:REGION:ACCOUNT:NAME) nor a function name"
            ));
        }
        let arn: Arn = text.parse().map_err(|_| {
            format!("`{text}` is not an ARN of the form arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE")
        })?;
        match arn.service.as_str() {
            "sqs" => arn
                .as_queue()
                .map(|name| TargetRef::Queue(arn.regional_key(name)))
                .map_err(|e| e.to_string()),
            "sns" => arn
                .as_topic()
                .map(|name| TargetRef::Topic(arn.regional_key(name)))
                .map_err(|e| e.to_string()),
            "lambda" => {
                let (name, _qualifier) = arn
                    .as_function()
                    .map_err(|_| format!("`{text}`: a Lambda ARN names `function:NAME`"))?;
                names::function_name(name).map_err(|_| {
                    format!("`{text}`: invalid function name `{name}`: use 1 to 64 letters, digits, `-` or `_`")
                })?;
                Ok(TargetRef::Function(name.to_string()))
            }
            "events" => arn
                .as_bus()
                .map(|name| TargetRef::Bus(arn.regional_key(name)))
                .map_err(|_| format!("`{text}`: an EventBridge ARN names `event-bus/NAME`")),
            other => Err(format!(
                "`{text}`: service `{other}` cannot be a target (use sqs, sns, lambda or events)"
            )),
        }
    }

    /// The resource's ARN in the default scope.
    pub fn arn(&self) -> String {
        self.to_arn(&ResourceScope::DEFAULT).to_string()
    }

    /// The resource's ARN in `scope` (a function's unqualified). A
    /// queue, topic or bus whose key names a region
    /// ([`crate::scope::regional_key`]) is in that region.
    pub fn to_arn(&self, scope: &ResourceScope) -> Arn {
        let in_scope = |key: &str| -> (ResourceScope, String) {
            match key.contains(':') {
                true => {
                    let (scope, name) = ResourceScope::of_key(key);
                    (scope, name.to_string())
                }
                false => (scope.clone(), key.to_string()),
            }
        };
        match self {
            TargetRef::Function(name) => Arn::function(scope, name, None),
            TargetRef::Queue(key) => {
                let (scope, name) = in_scope(key);
                Arn::queue(&scope, &name)
            }
            TargetRef::Topic(key) => {
                let (scope, name) = in_scope(key);
                Arn::topic(&scope, &name)
            }
            TargetRef::Bus(key) => {
                let (scope, name) = in_scope(key);
                Arn::bus(&scope, &name)
            }
        }
    }
}

/// The ARN of the queue kept under `key` ([`crate::scope::regional_key`]:
/// a bare name is in the default region).
pub fn queue_arn(key: &str) -> String {
    let (scope, name) = ResourceScope::of_key(key);
    Arn::queue(&scope, name).to_string()
}

/// The ARN of the topic kept under `key`.
pub fn topic_arn(key: &str) -> String {
    let (scope, name) = ResourceScope::of_key(key);
    Arn::topic(&scope, name).to_string()
}

/// The ARN of the event bus kept under `key`.
pub fn bus_arn(key: &str) -> String {
    let (scope, name) = ResourceScope::of_key(key);
    Arn::bus(&scope, name).to_string()
}

/// The ARN of rule `rule` of the bus kept under `bus_key` (`default` bus
/// rules have no bus segment, as on AWS).
pub fn rule_arn(bus_key: &str, rule: &str) -> String {
    let (scope, bus) = ResourceScope::of_key(bus_key);
    Arn::rule(&scope, bus, rule).to_string()
}

/// Lambda's default and maximum `MaximumRetryAttempts` for asynchronous
/// invocation.
pub const MAX_RETRY_ATTEMPTS: u32 = 2;
/// Lambda's default and maximum `MaximumEventAgeInSeconds` (6 hours).
pub const MAX_EVENT_AGE_SECS: u32 = 6 * 3600;
/// Lambda's minimum `MaximumEventAgeInSeconds`.
pub const MIN_EVENT_AGE_SECS: u32 = 60;

/// How asynchronous invocations of a function are retried and where their
/// outcomes go (Lambda's `EventInvokeConfig` plus `DeadLetterConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AsyncConfig {
    /// Retries after the first attempt, 0..=2 (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    /// Seconds an event may wait, 60..=21600 (default 21600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_event_age: Option<u32>,
    /// Where a destination record goes after a success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<TargetRef>,
    /// Where a destination record goes after the last failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<TargetRef>,
    /// The dead-letter queue or topic (`onError`): gets the original event
    /// after the last failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<TargetRef>,
}

impl AsyncConfig {
    /// Retries after the first attempt.
    pub fn retries(&self) -> u32 {
        self.maximum_retry_attempts
            .unwrap_or(MAX_RETRY_ATTEMPTS)
            .min(MAX_RETRY_ATTEMPTS)
    }

    /// Maximum event age in seconds.
    pub fn max_age_secs(&self) -> u32 {
        self.maximum_event_age.unwrap_or(MAX_EVENT_AGE_SECS)
    }

    /// Whether nothing was configured.
    pub fn is_default(&self) -> bool {
        self == &AsyncConfig::default()
    }
}

/// Lambda's default SQS batch size.
pub const DEFAULT_SQS_BATCH_SIZE: u32 = 10;
/// Lambda's default SQS `maximumConcurrency` bound (and its maximum).
pub const MAX_SQS_CONCURRENCY: u32 = 1000;

/// A queue trigger (`events: - sqs: ...`), Lambda's SQS event-source mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsSource {
    /// The queue's name.
    pub queue: String,
    /// Messages per invocation, 1..=10000 (10 for FIFO queues at most).
    pub batch_size: u32,
    /// Seconds to gather a batch, 0..=300.
    #[serde(default)]
    pub maximum_batching_window: u32,
    /// Concurrent invocations for this source, 2..=1000 (None: no bound of
    /// its own beyond the function's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_concurrency: Option<u32>,
    /// `ReportBatchItemFailures`: the function answers
    /// `{"batchItemFailures": [{"itemIdentifier": id}]}`.
    #[serde(default)]
    pub report_batch_item_failures: bool,
    /// Whether the mapping runs.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A topic subscription declared in the manifest (`events: - sns: ...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnsSource {
    /// The topic's name.
    pub topic: String,
    /// A subscription filter policy (JSON text), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_policy: Option<String>,
    /// `MessageAttributes` (default) or `MessageBody`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_policy_scope: Option<String>,
}

/// A schedule (`events: - schedule: rate(5 minutes)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleSource {
    /// `rate(...)` or `cron(...)` as written.
    pub expression: String,
    /// An IANA time zone for `cron` (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Constant JSON input (text) replacing the scheduled-event envelope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Whether the schedule fires.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// An event-bus rule declared in the manifest (`events: - eventBridge: ...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusSource {
    /// The bus's name (`default` unless given).
    pub bus: String,
    /// The event pattern (JSON text).
    pub pattern: String,
    /// Constant JSON input (text) instead of the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// A JSONPath into the event whose value is the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    /// An input transformer: `{"inputPathsMap": {...}, "inputTemplate": "..."}`
    /// (JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_transformer: Option<String>,
}

/// Every trigger of a function other than HTTP routes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSources {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sqs: Vec<SqsSource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sns: Vec<SnsSource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<ScheduleSource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_bridge: Vec<BusSource>,
}

impl EventSources {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sqs.is_empty()
            && self.sns.is_empty()
            && self.schedules.is_empty()
            && self.event_bridge.is_empty()
    }
}

fn yes() -> bool {
    true
}
