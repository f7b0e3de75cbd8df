//! Queues (SQS semantics): standard and FIFO, visibility, delay,
//! attributes, tags, policies, retention, redrive; long polling.
//!
//! The rules that need state live in the backend ([`crate::QueueBackend`]);
//! this module validates attributes and messages as SQS does, computes the
//! MD5 digests, wakes long polls when messages arrive (an in-memory
//! `Notify` per queue) and runs the retention sweep. Message move tasks
//! are in `moves.rs`, policy documents in `policy.rs`.
//!
//! The types and the signature of [`Sqs::send_message`] are used by
//! topics, the bus and destinations; keep them (add fields if needed, with
//! defaults).

use crate::backend::{
    HandleOutcome, NewQueueMessage, QueueInfo, QueueSettings, Redrive, StoredMessage,
};
use crate::policy::{self, RedriveAllow};
pub use crate::{MessageAttribute, SendMessage};
use crate::{ServiceError, Sqs, backend_error, now_ms};
use md5::{Digest, Md5};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stratus_core::arn::Arn;
use stratus_core::function::{ACCOUNT_ID, queue_arn};
use stratus_core::names;
use stratus_core::scope::{Region, regional_key, split_regional_key};
use tokio::sync::{Notify, watch};

/// A message to send with what only SQS's own API gives: its message
/// system attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The message.
    pub message: SendMessage,
    /// The `AWSTraceHeader` message system attribute (an X-Ray trace
    /// header).
    pub trace_header: Option<String>,
}

impl From<SendMessage> for OutgoingMessage {
    fn from(message: SendMessage) -> Self {
        OutgoingMessage {
            message,
            trace_header: None,
        }
    }
}

/// How a send was asked for: SQS words some refusals differently in a
/// batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendMode {
    /// `SendMessage`.
    Single,
    /// `SendMessageBatch`: a FIFO entry without its group or deduplication
    /// id refuses the whole batch.
    Batch,
}

/// What a send answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The message id.
    pub message_id: String,
    /// MD5 (hex) of the body.
    pub md5_of_body: String,
    /// MD5 (hex) of the attributes, SQS's encoding; None without attributes.
    pub md5_of_attributes: Option<String>,
    /// MD5 (hex) of the message system attributes, the same encoding; None
    /// without them.
    pub md5_of_system_attributes: Option<String>,
    /// FIFO: the sequence number.
    pub sequence_number: Option<String>,
}

/// A received message: everything SQS's `ReceiveMessage` and Lambda's SQS
/// event record show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The message id.
    pub message_id: String,
    /// The handle for deleting it or changing its visibility (on a FIFO
    /// queue, until its visibility timeout ends or it is received again).
    pub receipt_handle: String,
    /// The body.
    pub body: String,
    /// MD5 (hex) of the body.
    pub md5_of_body: String,
    /// MD5 (hex) of the message attributes, if any.
    pub md5_of_message_attributes: Option<String>,
    /// The message attributes.
    pub message_attributes: BTreeMap<String, MessageAttribute>,
    /// System attributes by SQS's names: `SentTimestamp`,
    /// `ApproximateReceiveCount`, `ApproximateFirstReceiveTimestamp`,
    /// `SenderId`, `AWSTraceHeader` and `DeadLetterQueueSourceArn` when
    /// the message has them, and for FIFO `MessageGroupId`,
    /// `MessageDeduplicationId`, `SequenceNumber` (timestamps in epoch
    /// milliseconds, as text).
    pub attributes: BTreeMap<String, String>,
    /// Receives so far, this one included.
    pub receive_count: u32,
    /// When it was sent (ms since the epoch).
    pub sent_ms: i64,
    /// When it was first received (ms since the epoch).
    pub first_receive_ms: i64,
    /// `SenderId`.
    pub sender_id: String,
    /// FIFO: the message group.
    pub group_id: Option<String>,
    /// FIFO: the deduplication id.
    pub dedup_id: Option<String>,
    /// FIFO: the sequence number.
    pub sequence_number: Option<String>,
}

/// A queue's attributes, typed and as SQS spells them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueAttributes {
    /// The name.
    pub name: String,
    /// The ARN.
    pub arn: String,
    /// A FIFO queue.
    pub fifo: bool,
    /// `VisibilityTimeout`, seconds.
    pub visibility_timeout_s: u32,
    /// `DelaySeconds`.
    pub delay_s: u32,
    /// `MessageRetentionPeriod`, seconds.
    pub retention_s: u32,
    /// `ReceiveMessageWaitTimeSeconds`.
    pub receive_wait_s: u32,
    /// `MaximumMessageSize`, bytes.
    pub max_message_size: u32,
    /// The redrive policy.
    pub redrive: Option<Redrive>,
    /// Every attribute, computed ones included (`ApproximateNumberOfMessages`,
    /// `QueueArn`, `CreatedTimestamp`, ...), by SQS's names.
    pub all: BTreeMap<String, String>,
}

/// Per-queue figures for `stratus stats` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueStats {
    /// The queue.
    pub name: String,
    /// Messages that can be received now.
    pub visible: u64,
    /// Received, not yet deleted nor visible again.
    pub in_flight: u64,
    /// Waiting out a delay.
    pub delayed: u64,
    /// Age of the oldest message, ms.
    pub oldest_age_ms: Option<u64>,
    /// The queue's DLQ, if it has a redrive policy.
    pub dlq: Option<String>,
}

/// SQS's largest message (body and attributes), and the default
/// `MaximumMessageSize`: 1 MiB since August 2025.
pub const MAX_MESSAGE_BYTES: usize = 1_048_576;
/// The largest batch: the messages of a `SendMessageBatch` together.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// The smallest `MaximumMessageSize`.
const MIN_MESSAGE_BYTES: u32 = 1024;
/// Most entries in one batch request.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// Most tags of a queue.
pub const MAX_TAGS: usize = 50;
/// Longest tag key.
const MAX_TAG_KEY: usize = 128;
/// Longest tag value.
const MAX_TAG_VALUE: usize = 256;
/// How often the retention sweep runs.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);
/// A long poll also looks again this often (delays and visibility
/// timeouts that end wake no one).
const POLL_RECHECK: Duration = Duration::from_millis(250);
/// In-memory state of the queues: long-polling waiters, and a way to
/// cancel each running message move task.
#[derive(Default)]
pub(crate) struct QueueState {
    waiters: Mutex<HashMap<String, Arc<Notify>>>,
    pub(crate) moves: Mutex<HashMap<String, watch::Sender<bool>>>,
}

impl QueueState {
    fn notify(&self, queue: &str) -> Arc<Notify> {
        let mut waiters = self
            .waiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        waiters
            .entry(queue.to_string())
            .or_insert_with(|| Arc::new(Notify::new()))
            .clone()
    }

    pub(crate) fn wake(&self, queue: &str) {
        let waiters = self
            .waiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(notify) = waiters.get(queue) {
            notify.notify_waiters();
        }
    }
}

/// Spawns the retention sweep: expired messages and deduplication ids are
/// removed every few seconds.
pub(crate) fn spawn(events: &Sqs) {
    let events = events.clone();
    let cancel = events.cancel().clone();
    events.tasks().clone().spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(SWEEP_INTERVAL) => {}
            }
            let now = now_ms();
            match events
                .queues
                .sweep_queues(now)
                .await
                .map_err(backend_error("sweeping expired messages"))
            {
                Ok(0) => {}
                Ok(removed) => {
                    tracing::info!(removed, "removed messages past their retention period")
                }
                Err(error) => tracing::warn!(%error, "queue retention sweep failed"),
            }
        }
    });
}

/// `QueueDoesNotExist`, in SQS's words (which name no queue).
pub fn no_such_queue(name: &str) -> ServiceError {
    tracing::debug!(queue = name, "no such queue");
    ServiceError::not_found("QueueDoesNotExist", "The specified queue does not exist.")
}

fn queue_missing(name: &str) -> impl FnOnce(ServiceError) -> ServiceError + '_ {
    move |error| {
        if error.kind == crate::ErrorKind::NotFound {
            no_such_queue(name)
        } else {
            error
        }
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::invalid("InvalidParameterValue", message)
}

fn invalid_attribute(name: &str) -> ServiceError {
    ServiceError::invalid(
        "InvalidAttributeValue",
        format!("Invalid value for the parameter {name}."),
    )
}

fn unknown_attribute(name: &str) -> ServiceError {
    ServiceError::invalid("InvalidAttributeName", format!("Unknown Attribute {name}."))
}

/// Checks a queue name with SQS's rule (`stratus_core::names`): a FIFO
/// queue's ends with `.fifo`, a standard queue's cannot.
pub fn validate_queue_name(key: &str, fifo: bool) -> Result<(), ServiceError> {
    let (_, name) = split_regional_key(key);
    names::queue_name(name, fifo).map_err(|e| invalid(e.to_string()))
}

/// The queue name in a queue URL (`http://host/000000000000/jobs`), a
/// queue ARN, or a bare name.
pub fn queue_name_of(url_or_name: &str) -> &str {
    let trimmed = url_or_name.trim_end_matches('/');
    if trimmed.starts_with("arn:") {
        return match trimmed.parse::<Arn>() {
            Ok(arn) if arn.as_queue().is_ok() => trimmed.rsplit(':').next().unwrap_or_default(),
            _ => "",
        };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// The key of the queue a request names by URL, ARN or bare name
/// ([`stratus_core::scope::regional_key`]): an ARN's own region, else the
/// request's `region`. Empty if an ARN names no queue.
pub fn queue_key_of(url_or_name: &str, region: &Region) -> String {
    let trimmed = url_or_name.trim_end_matches('/');
    if trimmed.starts_with("arn:") {
        return queue_of_arn(trimmed).unwrap_or_default();
    }
    regional_key(region, queue_name_of(trimmed))
}

/// The key of the queue a queue ARN names (in the ARN's region), if
/// `text` is one.
pub fn queue_of_arn(text: &str) -> Option<String> {
    let arn: Arn = text.parse().ok()?;
    let name = arn.as_queue().ok()?;
    Some(arn.regional_key(name))
}

fn parse_bounded(name: &str, value: &str, min: u32, max: u32) -> Result<u32, ServiceError> {
    match value.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid_attribute(name)),
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ServiceError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid_attribute(name)),
    }
}

/// Parses a `RedrivePolicy` document: `{"deadLetterTargetArn": ARN,
/// "maxReceiveCount": N}` (N a number or a numeric string, 1..=1000).
pub fn parse_redrive_policy(value: &str) -> Result<Redrive, ServiceError> {
    let bad = |why: &str| {
        invalid(format!(
            "Value {value} for parameter RedrivePolicy is invalid. Reason: {why}"
        ))
    };
    let doc: serde_json::Value =
        serde_json::from_str(value).map_err(|_| bad("Redrive policy is not a valid JSON map."))?;
    let arn = doc
        .get("deadLetterTargetArn")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            bad("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
        })?;
    let Some(dlq) = queue_of_arn(arn) else {
        return Err(bad("Invalid value for deadLetterTargetArn."));
    };
    let count = match doc.get("maxReceiveCount") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().ok(),
        None => {
            return Err(bad(
                "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
            ));
        }
        _ => None,
    };
    let count = count.filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
        let given = doc.get("maxReceiveCount").map_or_else(String::new, |v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        bad(&format!(
            "Invalid value for maxReceiveCount: {given}, valid values are from 1 to 1000 both inclusive."
        ))
    })?;
    Ok(Redrive {
        dlq: dlq.to_string(),
        max_receive_count: count as u32,
    })
}

/// The attributes a queue is created with when none are given.
fn default_attributes(fifo: bool) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::from([
        ("DelaySeconds".to_string(), "0".to_string()),
        (
            "MaximumMessageSize".to_string(),
            MAX_MESSAGE_BYTES.to_string(),
        ),
        ("MessageRetentionPeriod".to_string(), "345600".to_string()),
        ("ReceiveMessageWaitTimeSeconds".to_string(), "0".to_string()),
        ("VisibilityTimeout".to_string(), "30".to_string()),
        ("SqsManagedSseEnabled".to_string(), "true".to_string()),
    ]);
    if fifo {
        attributes.insert("FifoQueue".into(), "true".into());
        attributes.insert("ContentBasedDeduplication".into(), "false".into());
        attributes.insert("DeduplicationScope".into(), "queue".into());
        attributes.insert("FifoThroughputLimit".into(), "perQueue".into());
    }
    attributes
}

/// Whether `CreateQueue` of `name` with `attributes` makes a FIFO queue
/// (`FifoQueue` is true), after checking the name against the kind.
pub fn queue_kind(name: &str, attributes: &BTreeMap<String, String>) -> Result<bool, ServiceError> {
    let fifo = match attributes.get("FifoQueue") {
        None => false,
        Some(value) => parse_bool("FifoQueue", value)?,
    };
    validate_queue_name(name, fifo)?;
    if !fifo && attributes.contains_key("FifoQueue") {
        // A standard queue has no such attribute, even false.
        return Err(unknown_attribute("FifoQueue"));
    }
    Ok(fifo)
}

/// Checks and normalises attributes given to `CreateQueue` or
/// `SetQueueAttributes` of a queue of the kind `fifo`. Returns them with
/// canonical spellings.
pub fn normalize_attributes(
    given: &BTreeMap<String, String>,
    fifo: bool,
    creating: bool,
) -> Result<BTreeMap<String, String>, ServiceError> {
    let mut out = BTreeMap::new();
    for (name, value) in given {
        let canonical = match name.as_str() {
            "DelaySeconds" => parse_bounded(name, value, 0, 900)?.to_string(),
            "MaximumMessageSize" => {
                parse_bounded(name, value, MIN_MESSAGE_BYTES, MAX_MESSAGE_BYTES as u32)?.to_string()
            }
            "MessageRetentionPeriod" => parse_bounded(name, value, 60, 1_209_600)?.to_string(),
            "ReceiveMessageWaitTimeSeconds" => parse_bounded(name, value, 0, 20)?.to_string(),
            "VisibilityTimeout" => parse_bounded(name, value, 0, 43_200)?.to_string(),
            "RedrivePolicy" => {
                if value.is_empty() {
                    String::new()
                } else {
                    let redrive = parse_redrive_policy(value)?;
                    serde_json::json!({
                        "deadLetterTargetArn": queue_arn(&redrive.dlq),
                        "maxReceiveCount": redrive.max_receive_count,
                    })
                    .to_string()
                }
            }
            "RedriveAllowPolicy" => {
                policy::parse_redrive_allow_policy(value)?;
                value.clone()
            }
            "Policy" => {
                if !value.is_empty() && !policy::is_policy_document(value) {
                    return Err(invalid_attribute(name));
                }
                value.clone()
            }
            "KmsMasterKeyId" => value.clone(),
            "KmsDataKeyReusePeriodSeconds" => parse_bounded(name, value, 60, 86_400)?.to_string(),
            "SqsManagedSseEnabled" => parse_bool(name, value)?.to_string(),
            "FifoQueue" => {
                if !fifo {
                    return Err(unknown_attribute(name));
                }
                if !parse_bool(name, value)? {
                    return Err(ServiceError::invalid(
                        "InvalidAttributeValue",
                        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.",
                    ));
                }
                if !creating {
                    // Already true: nothing to change.
                    continue;
                }
                "true".to_string()
            }
            "ContentBasedDeduplication" if !fifo => return Err(unknown_attribute(name)),
            "DeduplicationScope" | "FifoThroughputLimit" if !fifo => {
                return Err(ServiceError::invalid(
                    "InvalidAttributeName",
                    format!("You can specify the {name} only when FifoQueue is set to true."),
                ));
            }
            "ContentBasedDeduplication" => parse_bool(name, value)?.to_string(),
            "DeduplicationScope" if matches!(value.as_str(), "queue" | "messageGroup") => {
                value.clone()
            }
            "FifoThroughputLimit" if matches!(value.as_str(), "perQueue" | "perMessageGroupId") => {
                value.clone()
            }
            "DeduplicationScope" | "FifoThroughputLimit" => return Err(invalid_attribute(name)),
            _ => return Err(unknown_attribute(name)),
        };
        out.insert(name.clone(), canonical);
    }
    Ok(out)
}

/// Typed settings from a full attribute map (defaults merged).
fn settings_from(attributes: BTreeMap<String, String>) -> Result<QueueSettings, ServiceError> {
    let number = |name: &str| -> u32 {
        attributes
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let redrive = match attributes.get("RedrivePolicy") {
        Some(policy) if !policy.is_empty() => Some(parse_redrive_policy(policy)?),
        _ => None,
    };
    Ok(QueueSettings {
        visibility_timeout_s: number("VisibilityTimeout"),
        delay_s: number("DelaySeconds"),
        retention_s: number("MessageRetentionPeriod"),
        content_based_dedup: attributes
            .get("ContentBasedDeduplication")
            .is_some_and(|v| v == "true"),
        redrive,
        attributes,
    })
}

fn max_message_size(queue: &QueueInfo) -> usize {
    queue
        .settings
        .attributes
        .get("MaximumMessageSize")
        .and_then(|v| v.parse().ok())
        .unwrap_or(MAX_MESSAGE_BYTES)
}

/// MD5 (hex) of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// SQS's MD5 of message attributes: for each attribute in name order, the
/// name, the data type (each as a 4-byte big-endian length and the bytes),
/// a transport byte (1 for string values, 2 for binary), and the value
/// (length and bytes). None without attributes.
pub fn md5_of_attributes(attributes: &BTreeMap<String, MessageAttribute>) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    fn field(buffer: &mut Vec<u8>, bytes: &[u8]) {
        buffer.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        buffer.extend_from_slice(bytes);
    }
    let mut buffer = Vec::new();
    for (name, attribute) in attributes {
        field(&mut buffer, name.as_bytes());
        field(&mut buffer, attribute.data_type.as_bytes());
        let binary = attribute.data_type.starts_with("Binary");
        match (&attribute.string_value, &attribute.binary_value) {
            (_, Some(value)) if binary => {
                buffer.push(2);
                field(&mut buffer, value);
            }
            (Some(value), _) => {
                buffer.push(1);
                field(&mut buffer, value.as_bytes());
            }
            (None, Some(value)) => {
                buffer.push(2);
                field(&mut buffer, value);
            }
            (None, None) => {
                buffer.push(1);
                field(&mut buffer, b"");
            }
        }
    }
    Some(md5_hex(&buffer))
}

/// The size SQS counts of a message: its body, and each attribute's name,
/// type and value.
pub fn message_size(message: &SendMessage) -> usize {
    message.body.len()
        + message
            .attributes
            .iter()
            .map(|(name, attribute)| {
                name.len()
                    + attribute.data_type.len()
                    + attribute.string_value.as_ref().map_or(0, String::len)
                    + attribute.binary_value.as_ref().map_or(0, Vec::len)
            })
            .sum::<usize>()
}

/// Checks a message as SQS does (body characters, attribute names, types
/// and values, size against `max_size`).
pub fn validate_message(
    message: &SendMessage,
    max_size: usize,
    mode: SendMode,
) -> Result<(), ServiceError> {
    if message.body.is_empty() {
        return Err(ServiceError::invalid(
            "MissingParameter",
            "The request must contain the parameter MessageBody.",
        ));
    }
    if let Some(bad) = message.body.chars().find(|c| !allowed_char(*c)) {
        return Err(ServiceError::invalid(
            "InvalidMessageContents",
            format!(
                "Invalid binary character '#x{:X}' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
                bad as u32
            ),
        ));
    }
    if message.attributes.len() > 10 {
        return Err(invalid(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [10].",
            message.attributes.len()
        )));
    }
    for (name, attribute) in &message.attributes {
        validate_attribute(name, attribute)?;
    }
    if message_size(message) > max_size {
        // SQS's words differ between a send and a batch entry.
        let verb = match mode {
            SendMode::Single => "are invalid",
            SendMode::Batch => "cannot be validated",
        };
        return Err(invalid(format!(
            "One or more parameters {verb}. Reason: Message must be shorter than {max_size} bytes."
        )));
    }
    Ok(())
}

fn allowed_char(c: char) -> bool {
    matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

fn validate_attribute(name: &str, attribute: &MessageAttribute) -> Result<(), ServiceError> {
    let name_ok = !name.is_empty()
        && name.len() <= 256
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !name.to_ascii_lowercase().starts_with("aws.")
        && !name.to_ascii_lowercase().starts_with("amazon.");
    if !name_ok {
        return Err(invalid(format!(
            "Message (user) attribute name '{name}' is invalid."
        )));
    }
    let base = attribute
        .data_type
        .split_once('.')
        .map_or(attribute.data_type.as_str(), |(base, _)| base);
    let empty = |kind: &str| {
        invalid(format!(
            "Message (user) attribute '{name}' must contain a non-empty value of type '{kind}'."
        ))
    };
    match base {
        "String" => match &attribute.string_value {
            Some(v) if !v.is_empty() => Ok(()),
            _ => Err(empty("String")),
        },
        "Number" => match &attribute.string_value {
            Some(v) if v.trim().parse::<f64>().is_ok_and(f64::is_finite) => Ok(()),
            Some(v) if !v.is_empty() => Err(invalid(format!(
                "Can't cast the value of message (user) attribute '{name}' to a number."
            ))),
            _ => Err(empty("Number")),
        },
        "Binary" => match &attribute.binary_value {
            Some(v) if !v.is_empty() => Ok(()),
            _ => Err(empty("Binary")),
        },
        _ => Err(invalid(format!(
            "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
        ))),
    }
}

/// The typed attributes of `queue` plus the computed ones.
fn queue_attributes_of(queue: &QueueInfo, counts: &crate::backend::QueueCounts) -> QueueAttributes {
    let number = |name: &str, default: u32| -> u32 {
        queue
            .settings
            .attributes
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let mut all = queue.settings.attributes.clone();
    all.retain(|_, v| !v.is_empty());
    let arn = queue_arn(&queue.name);
    all.insert("QueueArn".into(), arn.clone());
    all.insert(
        "ApproximateNumberOfMessages".into(),
        counts.visible.to_string(),
    );
    all.insert(
        "ApproximateNumberOfMessagesNotVisible".into(),
        counts.in_flight.to_string(),
    );
    all.insert(
        "ApproximateNumberOfMessagesDelayed".into(),
        counts.delayed.to_string(),
    );
    all.insert(
        "CreatedTimestamp".into(),
        (queue.created_ms / 1000).to_string(),
    );
    all.insert(
        "LastModifiedTimestamp".into(),
        (queue.modified_ms / 1000).to_string(),
    );
    QueueAttributes {
        name: queue.name.clone(),
        arn,
        fifo: queue.fifo,
        visibility_timeout_s: queue.settings.visibility_timeout_s,
        delay_s: queue.settings.delay_s,
        retention_s: queue.settings.retention_s,
        receive_wait_s: number("ReceiveMessageWaitTimeSeconds", 0),
        max_message_size: number("MaximumMessageSize", MAX_MESSAGE_BYTES as u32),
        redrive: queue.settings.redrive.clone(),
        all,
    }
}

fn received_from(stored: StoredMessage) -> Result<ReceivedMessage, ServiceError> {
    let message_attributes: BTreeMap<String, MessageAttribute> = match &stored.attributes {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| ServiceError::internal("reading a message's attributes", &e))?,
        None => BTreeMap::new(),
    };
    let mut attributes = BTreeMap::from([
        ("SentTimestamp".to_string(), stored.sent_ms.to_string()),
        (
            "ApproximateReceiveCount".to_string(),
            stored.receive_count.to_string(),
        ),
        (
            "ApproximateFirstReceiveTimestamp".to_string(),
            stored.first_receive_ms.to_string(),
        ),
        ("SenderId".to_string(), stored.sender.clone()),
    ]);
    if let Some(group) = &stored.group_id {
        attributes.insert("MessageGroupId".into(), group.clone());
    }
    if let Some(dedup) = &stored.dedup_id {
        attributes.insert("MessageDeduplicationId".into(), dedup.clone());
    }
    if let Some(sequence) = &stored.sequence_number {
        attributes.insert("SequenceNumber".into(), sequence.clone());
    }
    if let Some(trace) = &stored.trace_header {
        attributes.insert("AWSTraceHeader".into(), trace.clone());
    }
    if let Some(source) = &stored.dead_letter_source {
        attributes.insert("DeadLetterQueueSourceArn".into(), queue_arn(source));
    }
    Ok(ReceivedMessage {
        message_id: stored.message_id,
        receipt_handle: stored.receipt_handle,
        body: stored.body,
        md5_of_body: stored.md5_of_body,
        md5_of_message_attributes: stored.md5_of_attributes,
        message_attributes,
        attributes,
        receive_count: stored.receive_count,
        sent_ms: stored.sent_ms,
        first_receive_ms: stored.first_receive_ms,
        sender_id: stored.sender,
        group_id: stored.group_id,
        dedup_id: stored.dedup_id,
        sequence_number: stored.sequence_number,
    })
}

fn handle_result(outcome: HandleOutcome, handle: &str) -> Result<(), ServiceError> {
    let invalid_handle = |why: &str| {
        invalid(format!(
            "Value {handle} for parameter ReceiptHandle is invalid. Reason: {why}"
        ))
    };
    match outcome {
        HandleOutcome::Done => Ok(()),
        HandleOutcome::InvalidHandle => Err(ServiceError::invalid(
            "ReceiptHandleIsInvalid",
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        )),
        HandleOutcome::Gone => Err(invalid_handle(
            "Message does not exist or is not available for visibility timeout change.",
        )),
        HandleOutcome::Expired => Err(invalid_handle("The receipt handle has expired.")),
    }
}

/// Checks a tag key and value (SQS's limits: 1 to 128 and 0 to 256
/// characters).
fn validate_tag(key: &str, value: &str) -> Result<(), ServiceError> {
    if key.is_empty() || key.chars().count() > MAX_TAG_KEY {
        return Err(invalid(format!(
            "Tag keys must be between 1 and {MAX_TAG_KEY} characters in length."
        )));
    }
    if value.chars().count() > MAX_TAG_VALUE {
        return Err(invalid(format!(
            "Tag values must be between 0 and {MAX_TAG_VALUE} characters in length."
        )));
    }
    Ok(())
}

fn too_many_tags(queue: &str) -> ServiceError {
    invalid(format!("Too many tags added for queue {queue}."))
}

impl Sqs {
    /// The URL of the queue kept under `key`:
    /// `{endpoint_url}/000000000000/{name}` (the region is the request's,
    /// as on AWS, where it is the endpoint's).
    pub fn queue_url(&self, key: &str) -> String {
        let (_, name) = split_regional_key(key);
        format!(
            "{}/{ACCOUNT_ID}/{name}",
            self.config().endpoint_url.trim_end_matches('/')
        )
    }

    /// Queue `name`, or `QueueDoesNotExist`.
    pub(crate) async fn queue_info(&self, name: &str) -> Result<QueueInfo, ServiceError> {
        self.queues
            .queue(name)
            .await
            .map_err(backend_error("reading a queue"))?
            .ok_or_else(|| no_such_queue(name))
    }

    /// Creates queue `name` with `attributes` (SQS names and values).
    /// Idempotent when an existing queue has the same values for the given
    /// attributes; `QueueNameExists` if they differ.
    pub async fn create_queue(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), ServiceError> {
        self.create_queue_tagged(name, attributes, &BTreeMap::new())
            .await
    }

    /// [`Sqs::create_queue`] with the new queue's tags (an existing queue
    /// keeps its own, as on SQS).
    pub async fn create_queue_tagged(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ServiceError> {
        let fifo = queue_kind(name, attributes)?;
        let given = normalize_attributes(attributes, fifo, true)?;
        for (key, value) in tags {
            validate_tag(key, value)?;
        }
        if tags.len() > MAX_TAGS {
            return Err(too_many_tags(name));
        }
        let mut full = default_attributes(fifo);
        full.extend(given.clone());
        full.retain(|_, v| !v.is_empty());
        let settings = settings_from(full)?;
        self.check_redrive(name, fifo, settings.redrive.as_ref(), attributes)
            .await?;
        let (existing, created) = self
            .queues
            .create_queue(name, fifo, &settings, tags, now_ms())
            .await
            .map_err(backend_error("creating a queue"))?;
        if !created {
            let differs = given.iter().find(|(key, value)| {
                existing
                    .settings
                    .attributes
                    .get(*key)
                    .map_or(!value.is_empty(), |have| have != *value)
            });
            if let Some((key, _)) = differs {
                return Err(ServiceError::new(
                    crate::ErrorKind::Conflict,
                    "QueueNameExists",
                    format!(
                        "A queue already exists with the same name and a different value for attribute {key}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks a redrive policy of queue `name`: its DLQ exists, is of the
    /// same kind, and its `RedriveAllowPolicy` allows `name` as a source.
    /// `given` are the attributes of the request, for SQS's messages.
    async fn check_redrive(
        &self,
        name: &str,
        fifo: bool,
        redrive: Option<&Redrive>,
        given: &BTreeMap<String, String>,
    ) -> Result<(), ServiceError> {
        let Some(redrive) = redrive else {
            return Ok(());
        };
        let value = given.get("RedrivePolicy").cloned().unwrap_or_else(|| {
            serde_json::json!({
                "deadLetterTargetArn": queue_arn(&redrive.dlq),
                "maxReceiveCount": redrive.max_receive_count,
            })
            .to_string()
        });
        let bad = |why: &str| {
            invalid(format!(
                "Value {value} for parameter RedrivePolicy is invalid. Reason: {why}"
            ))
        };
        if redrive.dlq == name {
            return Err(bad("A queue cannot be its own dead-letter queue."));
        }
        let dlq = self
            .queues
            .queue(&redrive.dlq)
            .await
            .map_err(backend_error("reading a queue"))?
            .ok_or_else(|| bad("Dead letter target does not exist."))?;
        if dlq.fifo != fifo {
            return Err(bad(
                "Dead-letter queue must be same type of queue as the source..",
            ));
        }
        let allow = match dlq.settings.attributes.get("RedriveAllowPolicy") {
            Some(text) => policy::parse_redrive_allow_policy(text)?,
            None => RedriveAllow::AllowAll,
        };
        if !allow.allows(name) {
            return Err(bad(
                "The RedriveAllowPolicy of the dead-letter queue does not allow this queue as a source queue.",
            ));
        }
        Ok(())
    }

    /// Creates queue `name` with default attributes unless it exists (FIFO
    /// if the name ends in `.fifo`).
    pub async fn ensure_queue(&self, name: &str) -> Result<(), ServiceError> {
        let fifo = names::is_fifo(name);
        validate_queue_name(name, fifo)?;
        let settings = settings_from(default_attributes(fifo))?;
        self.queues
            .create_queue(name, fifo, &settings, &BTreeMap::new(), now_ms())
            .await
            .map_err(backend_error("creating a queue"))?;
        Ok(())
    }

    /// Deletes queue `name`, its messages, tags and move tasks.
    pub async fn delete_queue(&self, name: &str) -> Result<(), ServiceError> {
        self.queues
            .delete_queue(name)
            .await
            .map_err(backend_error("deleting a queue"))
            .map_err(queue_missing(name))?;
        self.state.wake(name);
        Ok(())
    }

    /// Keys of the queues of `region` whose names start with `prefix`,
    /// sorted.
    pub async fn list_queues(
        &self,
        region: &Region,
        prefix: &str,
    ) -> Result<Vec<String>, ServiceError> {
        let keys = self
            .queues
            .list_queues(&regional_key(region, prefix))
            .await
            .map_err(backend_error("listing queues"))?;
        // The default region's keys are bare names: leave out the others'.
        Ok(keys
            .into_iter()
            .filter(|key| split_regional_key(key).0 == *region)
            .collect())
    }

    /// The attributes of queue `name`, computed ones included.
    pub async fn queue_attributes(&self, name: &str) -> Result<QueueAttributes, ServiceError> {
        let queue = self.queue_info(name).await?;
        let counts = self
            .queues
            .queue_counts(name, now_ms())
            .await
            .map_err(backend_error("reading a queue"))
            .map_err(queue_missing(name))?;
        Ok(queue_attributes_of(&queue, &counts))
    }

    /// Changes attributes of queue `name`; an empty value removes an
    /// optional attribute (`RedrivePolicy`, `Policy`, ...).
    pub async fn set_queue_attributes(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), ServiceError> {
        let queue = self.queue_info(name).await?;
        let given = normalize_attributes(attributes, queue.fifo, false)?;
        // The redrive policy as it will be, checked against its DLQ first.
        let mut full = queue.settings.attributes.clone();
        full.extend(given.clone());
        full.retain(|_, v| !v.is_empty());
        let redrive = settings_from(full)?.redrive;
        self.check_redrive(name, queue.fifo, redrive.as_ref(), attributes)
            .await?;
        self.update_settings(name, move |settings| {
            settings.extend(given);
            Ok(())
        })
        .await
    }

    /// Changes the attributes of queue `name` by `change`, in one store
    /// transaction (so that concurrent changes are not lost).
    async fn update_settings(
        &self,
        name: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), ServiceError> + Send + 'static,
    ) -> Result<(), ServiceError> {
        self.queues
            .update_queue_settings(
                name,
                now_ms(),
                Box::new(move |queue: &QueueInfo| {
                    let mut attributes = queue.settings.attributes.clone();
                    change(&mut attributes)?;
                    attributes.retain(|_, v| !v.is_empty());
                    settings_from(attributes)
                }),
            )
            .await
            .map_err(backend_error("changing a queue"))
            .map_err(queue_missing(name))?
            .map(|_| ())
    }

    /// Grants `actions` on queue `name` to the accounts `account_ids`: a
    /// statement `label` of the queue's `Policy`.
    pub async fn add_permission(
        &self,
        name: &str,
        label: &str,
        account_ids: &[String],
        actions: &[String],
    ) -> Result<(), ServiceError> {
        let (label, account_ids, actions) =
            (label.to_string(), account_ids.to_vec(), actions.to_vec());
        let arn = queue_arn(name);
        self.update_settings(name, move |attributes| {
            let current = attributes.get("Policy").map(String::as_str);
            let next = policy::add_permission(current, &arn, &label, &account_ids, &actions)?;
            attributes.insert("Policy".into(), next);
            Ok(())
        })
        .await
    }

    /// Removes the permission `label` of queue `name`.
    pub async fn remove_permission(&self, name: &str, label: &str) -> Result<(), ServiceError> {
        let label = label.to_string();
        self.update_settings(name, move |attributes| {
            let current = attributes.get("Policy").map(String::as_str);
            match policy::remove_permission(current, &label)? {
                Some(next) => attributes.insert("Policy".into(), next),
                None => attributes.remove("Policy"),
            };
            Ok(())
        })
        .await
    }

    /// The tags of queue `name`.
    pub async fn queue_tags(&self, name: &str) -> Result<BTreeMap<String, String>, ServiceError> {
        self.queues
            .queue_tags(name)
            .await
            .map_err(backend_error("reading queue tags"))
            .map_err(queue_missing(name))
    }

    /// Adds `tags` to queue `name` (at most [`MAX_TAGS`] in all).
    pub async fn tag_queue(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ServiceError> {
        for (key, value) in tags {
            validate_tag(key, value)?;
        }
        let fits = self
            .queues
            .tag_queue(name, tags, MAX_TAGS)
            .await
            .map_err(backend_error("tagging a queue"))
            .map_err(queue_missing(name))?;
        if fits {
            Ok(())
        } else {
            Err(too_many_tags(name))
        }
    }

    /// Removes the tags `keys` of queue `name`.
    pub async fn untag_queue(&self, name: &str, keys: &[String]) -> Result<(), ServiceError> {
        for key in keys {
            validate_tag(key, "")?;
        }
        self.queues
            .untag_queue(name, keys)
            .await
            .map_err(backend_error("untagging a queue"))
            .map_err(queue_missing(name))
    }

    /// Sends one message to queue `queue` (by name); durable when it
    /// returns. `QueueDoesNotExist` for an unknown queue.
    pub async fn send_message(
        &self,
        queue: &str,
        message: SendMessage,
    ) -> Result<SentMessage, ServiceError> {
        let mut results = self
            .send_messages_as(queue, vec![message], ACCOUNT_ID)
            .await?;
        results.pop().unwrap_or_else(|| {
            Err(ServiceError::new(
                crate::ErrorKind::Internal,
                "InternalFailure",
                "a send answered nothing",
            ))
        })
    }

    /// Sends a batch to queue `queue` in one transaction; one result per
    /// message (invalid ones fail alone).
    pub async fn send_message_batch(
        &self,
        queue: &str,
        messages: Vec<SendMessage>,
    ) -> Result<Vec<Result<SentMessage, ServiceError>>, ServiceError> {
        self.send_messages_as(queue, messages, ACCOUNT_ID).await
    }

    /// [`Sqs::send_message_batch`] with the `SenderId` to record.
    pub async fn send_messages_as(
        &self,
        queue: &str,
        messages: Vec<SendMessage>,
        sender: &str,
    ) -> Result<Vec<Result<SentMessage, ServiceError>>, ServiceError> {
        let messages = messages.into_iter().map(OutgoingMessage::from).collect();
        self.send_outgoing(queue, messages, sender, SendMode::Single)
            .await
    }

    /// Sends messages of SQS's API (with their system attributes) to queue
    /// `queue` in one transaction, as `sender`. One result per message
    /// (invalid ones fail alone); in [`SendMode::Batch`] on a FIFO queue,
    /// an entry without its group (or deduplication) id refuses them all,
    /// as SQS does.
    pub async fn send_outgoing(
        &self,
        queue: &str,
        messages: Vec<OutgoingMessage>,
        sender: &str,
        mode: SendMode,
    ) -> Result<Vec<Result<SentMessage, ServiceError>>, ServiceError> {
        let info = self.queue_info(queue).await?;
        if mode == SendMode::Batch && info.fifo {
            for outgoing in &messages {
                check_fifo_ids(&info, &outgoing.message, mode)?;
            }
        }
        let max_size = max_message_size(&info);
        let mut results: Vec<Option<Result<SentMessage, ServiceError>>> = Vec::new();
        let mut valid = Vec::new();
        for outgoing in &messages {
            match prepare(&info, outgoing, max_size, sender, mode) {
                Ok((new, sent)) => {
                    valid.push((results.len(), new, sent));
                    results.push(None);
                }
                Err(error) => results.push(Some(Err(error))),
            }
        }
        if !valid.is_empty() {
            let rows: Vec<NewQueueMessage> = valid.iter().map(|(_, new, _)| new.clone()).collect();
            let outcomes = self
                .queues
                .send_messages(queue, &rows, now_ms())
                .await
                .map_err(backend_error("sending messages"))
                .map_err(queue_missing(queue))?;
            for ((index, _, sent), outcome) in valid.into_iter().zip(outcomes) {
                results[index] = Some(Ok(SentMessage {
                    message_id: outcome.message_id,
                    sequence_number: outcome.sequence_number,
                    ..sent
                }));
            }
            self.state.wake(queue);
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(ServiceError::new(
                        crate::ErrorKind::Internal,
                        "InternalFailure",
                        "a message of the batch got no outcome",
                    ))
                })
            })
            .collect())
    }

    /// Receives up to `max` (1..=10) messages from queue `queue`, making
    /// them invisible for `visibility_timeout` seconds (else the queue's).
    /// Waits up to `wait` for the first message to arrive (long polling).
    pub async fn receive_messages(
        &self,
        queue: &str,
        max: usize,
        visibility_timeout: Option<u32>,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, ServiceError> {
        let max = max.clamp(1, MAX_BATCH_ENTRIES);
        let deadline = tokio::time::Instant::now() + wait;
        let notify = self.state.notify(queue);
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let outcome = self
                .queues
                .receive_messages(queue, max, visibility_timeout, now_ms())
                .await
                .map_err(backend_error("receiving messages"))
                .map_err(queue_missing(queue))?;
            if let Some(dlq) = &outcome.dlq {
                tracing::info!(
                    queue,
                    dlq,
                    moved = outcome.moved_to_dlq,
                    "messages moved to the dead-letter queue"
                );
                self.state.wake(dlq);
            }
            if !outcome.messages.is_empty() {
                return outcome.messages.into_iter().map(received_from).collect();
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let recheck = deadline.min(now + POLL_RECHECK);
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(recheck) => {}
                _ = self.cancel().cancelled() => return Ok(Vec::new()),
            }
        }
    }

    /// Deletes `handles` of queue `queue`, then receives up to `max`
    /// messages without waiting, in one transaction (a queue trigger's
    /// "done with this batch, next please"). One result per handle.
    pub async fn delete_and_receive(
        &self,
        queue: &str,
        handles: &[String],
        max: usize,
        visibility_timeout: Option<u32>,
    ) -> Result<(Vec<Result<(), ServiceError>>, Vec<ReceivedMessage>), ServiceError> {
        let max = max.clamp(1, MAX_BATCH_ENTRIES);
        let (deleted, outcome) = self
            .queues
            .delete_and_receive(queue, handles, max, visibility_timeout, now_ms())
            .await
            .map_err(backend_error("deleting and receiving messages"))
            .map_err(queue_missing(queue))?;
        if let Some(dlq) = &outcome.dlq {
            tracing::info!(
                queue,
                dlq,
                moved = outcome.moved_to_dlq,
                "messages moved to the dead-letter queue"
            );
            self.state.wake(dlq);
        }
        let deleted = deleted
            .into_iter()
            .zip(handles)
            .map(|(outcome, handle)| handle_result(outcome, handle))
            .collect();
        let received = outcome
            .messages
            .into_iter()
            .map(received_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((deleted, received))
    }

    /// Deletes messages of queue `queue` by receipt handle, in one
    /// transaction; one result per handle (`ReceiptHandleIsInvalid`, or on
    /// a FIFO queue an expired handle).
    pub async fn delete_messages(
        &self,
        queue: &str,
        handles: &[String],
    ) -> Result<Vec<Result<(), ServiceError>>, ServiceError> {
        let outcomes = self
            .queues
            .delete_messages(queue, handles, now_ms())
            .await
            .map_err(backend_error("deleting messages"))
            .map_err(queue_missing(queue))?;
        Ok(outcomes
            .into_iter()
            .zip(handles)
            .map(|(outcome, handle)| handle_result(outcome, handle))
            .collect())
    }

    /// Makes a received message visible `secs` (0..=43200) from now.
    pub async fn change_visibility(
        &self,
        queue: &str,
        receipt_handle: &str,
        secs: u32,
    ) -> Result<(), ServiceError> {
        let mut results = self
            .change_visibility_batch(queue, &[(receipt_handle.to_string(), secs)])
            .await?;
        results.pop().unwrap_or(Ok(()))
    }

    /// [`Sqs::change_visibility`] for several messages, in one
    /// transaction; one result per entry.
    pub async fn change_visibility_batch(
        &self,
        queue: &str,
        entries: &[(String, u32)],
    ) -> Result<Vec<Result<(), ServiceError>>, ServiceError> {
        let mut results: Vec<Option<Result<(), ServiceError>>> = Vec::new();
        let mut valid = Vec::new();
        for (handle, secs) in entries {
            if *secs > 43_200 {
                results.push(Some(Err(invalid(format!(
                    "Value {secs} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200."
                )))));
            } else {
                valid.push((results.len(), handle.clone(), *secs));
                results.push(None);
            }
        }
        let rows: Vec<(String, u32)> = valid.iter().map(|(_, h, s)| (h.clone(), *s)).collect();
        let outcomes = self
            .queues
            .change_visibility(queue, &rows, now_ms())
            .await
            .map_err(backend_error("changing visibility"))
            .map_err(queue_missing(queue))?;
        for ((index, handle, _), outcome) in valid.into_iter().zip(outcomes) {
            results[index] = Some(handle_result(outcome, &handle));
        }
        self.state.wake(queue);
        Ok(results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect())
    }

    /// Deletes every message of queue `queue`; returns how many.
    pub async fn purge_queue(&self, queue: &str) -> Result<u64, ServiceError> {
        self.queues
            .purge_queue(queue)
            .await
            .map_err(backend_error("purging a queue"))
            .map_err(queue_missing(queue))
    }

    /// The queues whose redrive policy names `dlq`.
    pub async fn dead_letter_sources(&self, dlq: &str) -> Result<Vec<String>, ServiceError> {
        self.queue_info(dlq).await?;
        self.queues
            .dead_letter_sources(dlq)
            .await
            .map_err(backend_error("listing dead-letter sources"))
    }

    /// Depth, messages in flight, delayed, age of the oldest message and the
    /// DLQ of every queue.
    pub async fn queue_stats(&self) -> Result<Vec<QueueStats>, ServiceError> {
        let now = now_ms();
        let rows = self
            .queues
            .queue_stats(now)
            .await
            .map_err(backend_error("reading queue statistics"))?;
        Ok(rows
            .into_iter()
            .map(|(queue, counts)| QueueStats {
                name: queue.name,
                visible: counts.visible,
                in_flight: counts.in_flight,
                delayed: counts.delayed,
                oldest_age_ms: counts
                    .oldest_sent_ms
                    .map(|sent| u64::try_from(now - sent).unwrap_or(0)),
                dlq: queue.settings.redrive.map(|r| r.dlq),
            })
            .collect())
    }
}

/// FIFO: checks that `message` has its group id, and a deduplication id
/// unless the queue derives one from the body. SQS words the missing group
/// differently in a batch (where it refuses the whole batch).
fn check_fifo_ids(
    queue: &QueueInfo,
    message: &SendMessage,
    mode: SendMode,
) -> Result<(), ServiceError> {
    if message.group_id.is_none() {
        let text = "The request must contain the parameter MessageGroupId.";
        return Err(match mode {
            SendMode::Single => ServiceError::invalid("MissingParameter", text),
            SendMode::Batch => invalid(text),
        });
    }
    if message.dedup_id.is_none() && !queue.settings.content_based_dedup {
        return Err(invalid(
            "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
        ));
    }
    Ok(())
}

/// Checks a `MessageGroupId` or `MessageDeduplicationId`: 1 to 128
/// printable ASCII characters.
fn check_fifo_id(name: &str, value: &str) -> Result<(), ServiceError> {
    let ok = !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "Value {value} for parameter {name} is invalid. Reason: {name} can only include alphanumeric and punctuation characters. 1 to 128 in length."
        )))
    }
}

/// The message system attributes of a message, for their MD5.
fn system_attributes(trace_header: Option<&str>) -> BTreeMap<String, MessageAttribute> {
    trace_header
        .map(|trace| {
            (
                "AWSTraceHeader".to_string(),
                MessageAttribute {
                    data_type: "String".into(),
                    string_value: Some(trace.to_string()),
                    binary_value: None,
                },
            )
        })
        .into_iter()
        .collect()
}

/// Validates one message for `queue` and makes its row and its answer.
fn prepare(
    queue: &QueueInfo,
    outgoing: &OutgoingMessage,
    max_size: usize,
    sender: &str,
    mode: SendMode,
) -> Result<(NewQueueMessage, SentMessage), ServiceError> {
    let message = &outgoing.message;
    validate_message(message, max_size, mode)?;
    for (name, value) in [
        ("MessageGroupId", &message.group_id),
        ("MessageDeduplicationId", &message.dedup_id),
    ] {
        if let Some(value) = value {
            check_fifo_id(name, value)?;
        }
    }
    let (group_id, dedup_id) = if queue.fifo {
        check_fifo_ids(queue, message, mode)?;
        if let Some(delay) = message.delay_seconds.filter(|d| *d > 0) {
            return Err(invalid(format!(
                "Value {delay} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type."
            )));
        }
        let dedup = match &message.dedup_id {
            Some(id) => id.clone(),
            None => {
                use sha2::Digest as _;
                hex::encode(sha2::Sha256::digest(message.body.as_bytes()))
            }
        };
        (message.group_id.clone(), Some(dedup))
    } else {
        if let Some(delay) = message.delay_seconds
            && delay > 900
        {
            return Err(invalid(format!(
                "Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
            )));
        }
        (None, None)
    };
    let md5_of_body = md5_hex(message.body.as_bytes());
    let md5_of_system_attributes =
        md5_of_attributes(&system_attributes(outgoing.trace_header.as_deref()));
    let md5_of_attributes = md5_of_attributes(&message.attributes);
    let attributes = if message.attributes.is_empty() {
        None
    } else {
        Some(
            serde_json::to_string(&message.attributes)
                .map_err(|e| ServiceError::internal("encoding message attributes", &e))?,
        )
    };
    let message_id = uuid::Uuid::new_v4().to_string();
    Ok((
        NewQueueMessage {
            message_id: message_id.clone(),
            body: message.body.clone(),
            md5_of_body: md5_of_body.clone(),
            attributes,
            md5_of_attributes: md5_of_attributes.clone(),
            sender: sender.to_string(),
            delay_s: if queue.fifo {
                None
            } else {
                message.delay_seconds
            },
            group_id,
            dedup_id,
            trace_header: outgoing.trace_header.clone(),
        },
        SentMessage {
            message_id,
            md5_of_body,
            md5_of_attributes,
            md5_of_system_attributes,
            sequence_number: None,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_md5_of_a_trace_header_is_sqs() {
        // SQS's answer to this trace header (MD5OfMessageSystemAttributes).
        let attributes = system_attributes(Some(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        ));
        assert_eq!(
            md5_of_attributes(&attributes).as_deref(),
            Some("5ae4d5d7636402d80f4eb6d213245a88")
        );
        assert_eq!(md5_of_attributes(&system_attributes(None)), None);
    }

    #[test]
    fn queue_names_come_from_urls_arns_and_names() {
        assert_eq!(queue_name_of("http://h:1/000000000000/jobs"), "jobs");
        assert_eq!(queue_name_of("http://h:1/000000000000/jobs/"), "jobs");
        assert_eq!(
            queue_name_of("arn:aws:sqs:eu-west-1:123456789012:jobs.fifo"),
            "jobs.fifo"
        );
        assert_eq!(queue_name_of("arn:aws:sns:us-east-1:123456789012:t"), "");
        assert_eq!(queue_name_of("jobs"), "jobs");
    }

    #[test]
    fn the_kind_of_a_queue_follows_fifo_queue_and_its_name() {
        let attrs = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(queue_kind("jobs", &attrs(&[])).ok(), Some(false));
        assert_eq!(
            queue_kind("jobs.fifo", &attrs(&[("FifoQueue", "true")])).ok(),
            Some(true)
        );
        let code = |name: &str, pairs: &[(&str, &str)]| {
            queue_kind(name, &attrs(pairs)).map_err(|e| e.code).err()
        };
        assert_eq!(code("jobs.fifo", &[]), Some("InvalidParameterValue"));
        assert_eq!(
            code("jobs", &[("FifoQueue", "true")]),
            Some("InvalidParameterValue")
        );
        assert_eq!(
            code("jobs", &[("FifoQueue", "false")]),
            Some("InvalidAttributeName")
        );
        assert_eq!(
            code("jobs", &[("FifoQueue", "maybe")]),
            Some("InvalidAttributeValue")
        );
        assert_eq!(code(&"x".repeat(81), &[]), Some("InvalidParameterValue"));
    }

    #[test]
    fn attributes_follow_the_kind_of_the_queue() {
        let one = |name: &str, value: &str, fifo: bool, creating: bool| {
            normalize_attributes(
                &BTreeMap::from([(name.to_string(), value.to_string())]),
                fifo,
                creating,
            )
            .map_err(|e| (e.code, e.message))
        };
        assert_eq!(
            one("MaximumMessageSize", "1048576", false, true)
                .ok()
                .and_then(|m| m.get("MaximumMessageSize").cloned())
                .as_deref(),
            Some("1048576")
        );
        assert_eq!(
            one("MaximumMessageSize", "1048577", false, true).err(),
            Some((
                "InvalidAttributeValue",
                "Invalid value for the parameter MaximumMessageSize.".to_string()
            ))
        );
        assert_eq!(
            one("MaximumMessageSize", "1023", false, true)
                .map_err(|e| e.0)
                .err(),
            Some("InvalidAttributeValue")
        );
        assert_eq!(
            one("FifoQueue", "true", false, false).err(),
            Some((
                "InvalidAttributeName",
                "Unknown Attribute FifoQueue.".into()
            ))
        );
        assert_eq!(
            one("FifoQueue", "false", true, false).err(),
            Some((
                "InvalidAttributeValue",
                "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.".into()
            ))
        );
        assert_eq!(
            one("FifoQueue", "true", true, false).ok(),
            Some(BTreeMap::new())
        );
        assert_eq!(
            one("ContentBasedDeduplication", "true", false, true).err(),
            Some((
                "InvalidAttributeName",
                "Unknown Attribute ContentBasedDeduplication.".into()
            ))
        );
        assert_eq!(
            one("DeduplicationScope", "queue", false, true).err(),
            Some((
                "InvalidAttributeName",
                "You can specify the DeduplicationScope only when FifoQueue is set to true.".into()
            ))
        );
        assert_eq!(
            one("Policy", "[]", false, false).map_err(|e| e.0).err(),
            Some("InvalidAttributeValue")
        );
        assert_eq!(
            one(
                "RedriveAllowPolicy",
                r#"{"redrivePermission":"never"}"#,
                false,
                false
            )
            .map_err(|e| e.0)
            .err(),
            Some("InvalidAttributeValue")
        );
    }

    #[test]
    fn messages_over_the_limit_get_sqs_words() {
        let message = SendMessage {
            body: "x".repeat(1025),
            ..SendMessage::default()
        };
        let single = validate_message(&message, 1024, SendMode::Single).map_err(|e| e.message);
        assert_eq!(
            single.err().as_deref(),
            Some(
                "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."
            )
        );
        let batch = validate_message(&message, 1024, SendMode::Batch).map_err(|e| e.message);
        assert_eq!(
            batch.err().as_deref(),
            Some(
                "One or more parameters cannot be validated. Reason: Message must be shorter than 1024 bytes."
            )
        );
        assert!(validate_message(&message, 1025, SendMode::Single).is_ok());
    }
}
