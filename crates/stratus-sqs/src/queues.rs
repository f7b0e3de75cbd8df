//! Queues (SQS semantics): standard and FIFO, visibility, delay,
//! attributes, retention, redrive; long polling.
//!
//! The rules that need state live in the store (`stratus_store::queues`);
//! this module validates attributes and messages as SQS does, computes the
//! MD5 digests, wakes long polls when messages arrive (an in-memory
//! `Notify` per queue) and runs the retention sweep.
//!
//! The types and the signature of [`Sqs::send_message`] are used by
//! topics, the bus and destinations; keep them (add fields if needed, with
//! defaults).

pub use crate::{MessageAttribute, SendMessage};
use crate::{ServiceError, Sqs, now_ms};
use md5::{Digest, Md5};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stratus_core::function::{ACCOUNT_ID, queue_arn};
use stratus_store::{
    HandleOutcome, NewQueueMessage, QueueInfo, QueueSettings, Redrive, StoredMessage,
};
use tokio::sync::Notify;

/// What a send answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The message id.
    pub message_id: String,
    /// MD5 (hex) of the body.
    pub md5_of_body: String,
    /// MD5 (hex) of the attributes, SQS's encoding; None without attributes.
    pub md5_of_attributes: Option<String>,
    /// FIFO: the sequence number.
    pub sequence_number: Option<String>,
}

/// A received message: everything SQS's `ReceiveMessage` and Lambda's SQS
/// event record show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The message id.
    pub message_id: String,
    /// The handle for deleting it or changing its visibility; outdated
    /// once the message is received again.
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
    /// `SenderId`, and for FIFO `MessageGroupId`, `MessageDeduplicationId`,
    /// `SequenceNumber` (timestamps in epoch milliseconds, as text).
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
/// `MaximumMessageSize`.
pub const MAX_MESSAGE_BYTES: usize = 262_144;
/// Most entries in one batch request.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// How often the retention sweep runs.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);
/// A long poll also looks again this often (delays and visibility
/// timeouts that end wake no one).
const POLL_RECHECK: Duration = Duration::from_millis(250);
/// Messages moved per transaction by a redrive.
const MOVE_CHUNK: usize = 1000;

/// In-memory state of the queues (long-polling waiters).
#[derive(Default)]
pub(crate) struct QueueState {
    waiters: Mutex<HashMap<String, Arc<Notify>>>,
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

    fn wake(&self, queue: &str) {
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
                .blocking("sweeping expired messages", move |store| {
                    store.sweep_queues(now)
                })
                .await
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

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::invalid("InvalidParameterValue", message)
}

fn invalid_attribute(name: &str) -> ServiceError {
    ServiceError::invalid(
        "InvalidAttributeValue",
        format!("Invalid value for the parameter {name}."),
    )
}

/// Checks a queue name: 1 to 80 letters, digits, `-` and `_`, with a
/// `.fifo` suffix for FIFO queues.
pub fn validate_queue_name(name: &str) -> Result<(), ServiceError> {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    let ok = !base.is_empty()
        && name.len() <= 80
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ))
    }
}

/// The queue name in a queue URL (`http://host/000000000000/jobs`), an ARN,
/// or a bare name.
pub fn queue_name_of(url_or_name: &str) -> &str {
    let trimmed = url_or_name.trim_end_matches('/');
    if trimmed.starts_with("arn:") {
        return trimmed.rsplit(':').next().unwrap_or(trimmed);
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
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
    if !arn.starts_with("arn:aws:sqs:") || arn.split(':').count() != 6 {
        return Err(bad("Invalid value for deadLetterTargetArn."));
    }
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
        bad("Invalid value for maxReceiveCount: must be an integer from 1 to 1000.")
    })?;
    Ok(Redrive {
        dlq: queue_name_of(arn).to_string(),
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

/// Checks and normalises attributes given to `CreateQueue` or
/// `SetQueueAttributes`. Returns them with canonical spellings.
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
                parse_bounded(name, value, 1024, MAX_MESSAGE_BYTES as u32)?.to_string()
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
            "RedriveAllowPolicy" | "Policy" => {
                if !value.is_empty() && serde_json::from_str::<serde_json::Value>(value).is_err() {
                    return Err(invalid_attribute(name));
                }
                value.clone()
            }
            "KmsMasterKeyId" => value.clone(),
            "KmsDataKeyReusePeriodSeconds" => parse_bounded(name, value, 60, 86_400)?.to_string(),
            "SqsManagedSseEnabled" => parse_bool(name, value)?.to_string(),
            "FifoQueue" => {
                let wanted = parse_bool(name, value)?;
                if !creating {
                    return Err(ServiceError::invalid(
                        "InvalidAttributeName",
                        "Attribute FifoQueue can only be set when creating a queue.",
                    ));
                }
                if wanted != fifo {
                    return Err(invalid(
                        "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.",
                    ));
                }
                wanted.to_string()
            }
            "ContentBasedDeduplication" | "DeduplicationScope" | "FifoThroughputLimit" => {
                if !fifo {
                    return Err(ServiceError::invalid(
                        "InvalidAttributeName",
                        format!("Unknown Attribute {name}."),
                    ));
                }
                match name.as_str() {
                    "ContentBasedDeduplication" => parse_bool(name, value)?.to_string(),
                    "DeduplicationScope" if matches!(value.as_str(), "queue" | "messageGroup") => {
                        value.clone()
                    }
                    "FifoThroughputLimit"
                        if matches!(value.as_str(), "perQueue" | "perMessageGroupId") =>
                    {
                        value.clone()
                    }
                    _ => return Err(invalid_attribute(name)),
                }
            }
            _ => {
                return Err(ServiceError::invalid(
                    "InvalidAttributeName",
                    format!("Unknown Attribute {name}."),
                ));
            }
        };
        out.insert(name.clone(), canonical);
    }
    if creating && fifo && !out.contains_key("FifoQueue") {
        return Err(invalid(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length (and FifoQueue must be true).",
        ));
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

/// Checks a message as SQS does (body characters, attribute names, types
/// and values, size against `max_size`).
pub fn validate_message(message: &SendMessage, max_size: usize) -> Result<(), ServiceError> {
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
    let mut size = message.body.len();
    for (name, attribute) in &message.attributes {
        validate_attribute(name, attribute)?;
        size += name.len()
            + attribute.data_type.len()
            + attribute.string_value.as_ref().map_or(0, String::len)
            + attribute.binary_value.as_ref().map_or(0, Vec::len);
    }
    if size > max_size {
        return Err(invalid(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {max_size} bytes."
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
            "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{kind}'."
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
fn queue_attributes_of(queue: &QueueInfo, counts: &stratus_store::QueueCounts) -> QueueAttributes {
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
    match outcome {
        HandleOutcome::Done => Ok(()),
        HandleOutcome::InvalidHandle => Err(ServiceError::invalid(
            "ReceiptHandleIsInvalid",
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        )),
        HandleOutcome::NotInFlight => Err(ServiceError::invalid(
            "MessageNotInflight",
            "Message does not exist or is not available for visibility timeout change.",
        )),
    }
}

impl Sqs {
    /// A queue's URL: `{endpoint_url}/000000000000/{name}`.
    pub fn queue_url(&self, name: &str) -> String {
        format!(
            "{}/{ACCOUNT_ID}/{name}",
            self.config().endpoint_url.trim_end_matches('/')
        )
    }

    /// Creates queue `name` with `attributes` (SQS names and values).
    /// Idempotent when an existing queue has the same values for the given
    /// attributes; `QueueNameExists` if they differ.
    pub async fn create_queue(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), ServiceError> {
        validate_queue_name(name)?;
        let fifo = name.ends_with(".fifo");
        let given = normalize_attributes(attributes, fifo, true)?;
        let mut full = default_attributes(fifo);
        full.extend(given.clone());
        let settings = settings_from(full)?;
        self.check_redrive(name, fifo, settings.redrive.as_ref())
            .await?;
        let owned = name.to_string();
        let (existing, created) = self
            .blocking("creating a queue", move |store| {
                store.create_queue(&owned, fifo, &settings, now_ms())
            })
            .await?;
        if !created {
            let differs = given.iter().any(|(key, value)| {
                existing.settings.attributes.get(key).map(String::as_str) != Some(value.as_str())
            });
            if differs {
                return Err(ServiceError::new(
                    crate::ErrorKind::Conflict,
                    "QueueNameExists",
                    format!(
                        "A queue already exists with the same name ({name}) and a different value for attribute(s)."
                    ),
                ));
            }
        }
        Ok(())
    }

    async fn check_redrive(
        &self,
        name: &str,
        fifo: bool,
        redrive: Option<&Redrive>,
    ) -> Result<(), ServiceError> {
        let Some(redrive) = redrive else {
            return Ok(());
        };
        let bad = |why: &str| {
            invalid(format!(
                "Value for parameter RedrivePolicy is invalid. Reason: {why}"
            ))
        };
        if redrive.dlq == name {
            return Err(bad("A queue cannot be its own dead-letter queue."));
        }
        let dlq_name = redrive.dlq.clone();
        let dlq = self
            .blocking("reading a queue", move |store| store.queue(&dlq_name))
            .await?
            .ok_or_else(|| bad("Dead letter target does not exist."))?;
        if dlq.fifo != fifo {
            return Err(bad(
                "The dead-letter queue of a FIFO queue must also be a FIFO queue (and of a standard queue a standard queue).",
            ));
        }
        Ok(())
    }

    /// Creates queue `name` with default attributes unless it exists (FIFO
    /// if the name ends in `.fifo`).
    pub async fn ensure_queue(&self, name: &str) -> Result<(), ServiceError> {
        validate_queue_name(name)?;
        let fifo = name.ends_with(".fifo");
        let settings = settings_from(default_attributes(fifo))?;
        let owned = name.to_string();
        self.blocking("creating a queue", move |store| {
            store.create_queue(&owned, fifo, &settings, now_ms())
        })
        .await?;
        Ok(())
    }

    /// Deletes queue `name` and its messages.
    pub async fn delete_queue(&self, name: &str) -> Result<(), ServiceError> {
        let owned = name.to_string();
        self.blocking("deleting a queue", move |store| store.delete_queue(&owned))
            .await
            .map_err(queue_missing(name))?;
        self.state.wake(name);
        Ok(())
    }

    /// Names of the queues starting with `prefix`, sorted.
    pub async fn list_queues(&self, prefix: &str) -> Result<Vec<String>, ServiceError> {
        let prefix = prefix.to_string();
        self.blocking("listing queues", move |store| store.list_queues(&prefix))
            .await
    }

    /// The attributes of queue `name`, computed ones included.
    pub async fn queue_attributes(&self, name: &str) -> Result<QueueAttributes, ServiceError> {
        let owned = name.to_string();
        let (queue, counts) = self
            .blocking("reading a queue", move |store| {
                let queue = store
                    .queue(&owned)?
                    .ok_or_else(|| stratus_store::StoreError::NotFound(owned.clone()))?;
                let counts = store.queue_counts(&owned, now_ms())?;
                Ok((queue, counts))
            })
            .await
            .map_err(queue_missing(name))?;
        Ok(queue_attributes_of(&queue, &counts))
    }

    /// Changes attributes of queue `name`.
    pub async fn set_queue_attributes(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), ServiceError> {
        let owned = name.to_string();
        let queue = self
            .blocking("reading a queue", move |store| store.queue(&owned))
            .await?
            .ok_or_else(|| no_such_queue(name))?;
        let given = normalize_attributes(attributes, queue.fifo, false)?;
        let mut full = queue.settings.attributes.clone();
        full.extend(given);
        full.retain(|_, v| !v.is_empty());
        let settings = settings_from(full)?;
        self.check_redrive(name, queue.fifo, settings.redrive.as_ref())
            .await?;
        let owned = name.to_string();
        self.blocking("changing a queue", move |store| {
            store.set_queue_settings(&owned, &settings, now_ms())
        })
        .await
        .map_err(queue_missing(name))?;
        Ok(())
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
        let owned = queue.to_string();
        let info = self
            .blocking("reading a queue", move |store| store.queue(&owned))
            .await?
            .ok_or_else(|| no_such_queue(queue))?;
        let max_size = max_message_size(&info);
        let mut results: Vec<Option<Result<SentMessage, ServiceError>>> = Vec::new();
        let mut valid = Vec::new();
        for message in messages {
            match prepare(&info, &message, max_size, sender) {
                Ok((new, sent)) => {
                    valid.push((results.len(), new, sent));
                    results.push(None);
                }
                Err(error) => results.push(Some(Err(error))),
            }
        }
        if !valid.is_empty() {
            let rows: Vec<NewQueueMessage> = valid.iter().map(|(_, new, _)| new.clone()).collect();
            let owned = queue.to_string();
            let outcomes = self
                .blocking("sending messages", move |store| {
                    store.send_messages(&owned, &rows, now_ms())
                })
                .await
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
            let owned = queue.to_string();
            let outcome = self
                .blocking("receiving messages", move |store| {
                    store.receive_messages(&owned, max, visibility_timeout, now_ms())
                })
                .await
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
        let owned = queue.to_string();
        let list = handles.to_vec();
        let (deleted, outcome) = self
            .blocking("deleting and receiving messages", move |store| {
                let refs: Vec<&str> = list.iter().map(String::as_str).collect();
                store.delete_and_receive(&owned, &refs, max, visibility_timeout, now_ms())
            })
            .await
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
    /// transaction; one result per handle (`ReceiptHandleIsInvalid`).
    pub async fn delete_messages(
        &self,
        queue: &str,
        handles: &[String],
    ) -> Result<Vec<Result<(), ServiceError>>, ServiceError> {
        let owned = queue.to_string();
        let list = handles.to_vec();
        let outcomes = self
            .blocking("deleting messages", move |store| {
                let refs: Vec<&str> = list.iter().map(String::as_str).collect();
                store.delete_messages(&owned, &refs)
            })
            .await
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
        let owned = queue.to_string();
        let rows: Vec<(String, u32)> = valid.iter().map(|(_, h, s)| (h.clone(), *s)).collect();
        let outcomes = self
            .blocking("changing visibility", move |store| {
                let refs: Vec<(&str, u32)> = rows.iter().map(|(h, s)| (h.as_str(), *s)).collect();
                store.change_visibility(&owned, &refs, now_ms())
            })
            .await
            .map_err(queue_missing(queue))?;
        for ((index, handle, _), outcome) in valid.into_iter().zip(outcomes) {
            results[index] = Some(handle_result(outcome, &handle));
        }
        self.state.wake(queue);
        Ok(results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect())
    }

    /// Deletes every message of queue `queue`; returns how many.
    pub async fn purge_queue(&self, queue: &str) -> Result<u64, ServiceError> {
        let owned = queue.to_string();
        self.blocking("purging a queue", move |store| store.purge_queue(&owned))
            .await
            .map_err(queue_missing(queue))
    }

    /// The queues whose redrive policy names `dlq`.
    pub async fn dead_letter_sources(&self, dlq: &str) -> Result<Vec<String>, ServiceError> {
        let owned = dlq.to_string();
        let exists = self
            .blocking("reading a queue", move |store| store.queue(&owned))
            .await?;
        if exists.is_none() {
            return Err(no_such_queue(dlq));
        }
        let owned = dlq.to_string();
        self.blocking("listing dead-letter sources", move |store| {
            store.dead_letter_sources(&owned)
        })
        .await
    }

    /// Moves the messages of dead-letter queue `dlq` back to the queues
    /// they came from, or to `destination`. Returns how many moved.
    pub async fn redrive(&self, dlq: &str, destination: Option<&str>) -> Result<u64, ServiceError> {
        let sources = self.dead_letter_sources(dlq).await?;
        if sources.is_empty() {
            return Err(invalid(format!(
                "Source queue {dlq} must be configured as a Dead Letter Queue."
            )));
        }
        if let Some(to) = destination {
            let owned = to.to_string();
            let found = self
                .blocking("reading a queue", move |store| store.queue(&owned))
                .await?;
            if found.is_none() {
                return Err(no_such_queue(to));
            }
        }
        let mut total = 0;
        loop {
            let from = dlq.to_string();
            let to = destination.map(str::to_string);
            let outcome = self
                .blocking("moving messages", move |store| {
                    store.move_messages(&from, to.as_deref(), MOVE_CHUNK, now_ms())
                })
                .await
                .map_err(queue_missing(dlq))?;
            total += outcome.moved;
            for queue in &outcome.destinations {
                self.state.wake(queue);
            }
            if (outcome.moved as usize) < MOVE_CHUNK {
                break;
            }
        }
        tracing::info!(
            dlq,
            moved = total,
            "redrove messages from a dead-letter queue"
        );
        Ok(total)
    }

    /// Depth, messages in flight, delayed, age of the oldest message and the
    /// DLQ of every queue.
    pub async fn queue_stats(&self) -> Result<Vec<QueueStats>, ServiceError> {
        let now = now_ms();
        let rows = self
            .blocking("reading queue statistics", move |store| {
                store.queue_stats(now)
            })
            .await?;
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

/// Validates one message for `queue` and makes its row and its answer.
fn prepare(
    queue: &QueueInfo,
    message: &SendMessage,
    max_size: usize,
    sender: &str,
) -> Result<(NewQueueMessage, SentMessage), ServiceError> {
    validate_message(message, max_size)?;
    let (group_id, dedup_id) = if queue.fifo {
        let group = message.group_id.clone().ok_or_else(|| {
            ServiceError::invalid(
                "MissingParameter",
                "The request must contain the parameter MessageGroupId.",
            )
        })?;
        if message.delay_seconds.is_some_and(|d| d > 0) {
            return Err(invalid(format!(
                "Value {} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.",
                message.delay_seconds.unwrap_or(0)
            )));
        }
        let dedup = match &message.dedup_id {
            Some(id) => id.clone(),
            None if queue.settings.content_based_dedup => {
                use sha2::Digest as _;
                hex::encode(sha2::Sha256::digest(message.body.as_bytes()))
            }
            None => {
                return Err(invalid(
                    "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                ));
            }
        };
        for (name, value) in [
            ("MessageGroupId", &group),
            ("MessageDeduplicationId", &dedup),
        ] {
            let ok = !value.is_empty()
                && value.len() <= 128
                && value.chars().all(|c| c.is_ascii_graphic());
            if !ok {
                return Err(invalid(format!(
                    "Value {value} for parameter {name} is invalid. Reason: it must be 1 to 128 printable ASCII characters."
                )));
            }
        }
        (Some(group), Some(dedup))
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
        },
        SentMessage {
            message_id,
            md5_of_body,
            md5_of_attributes,
            sequence_number: None,
        },
    ))
}
