//! The JSON documents Stratus hands to functions and to subscribers, as
//! types: Lambda's SQS and SNS events, SNS's notification envelope (what
//! SQS queues and HTTP endpoints subscribed to a topic receive),
//! EventBridge's event envelope (scheduled events included) and Lambda's
//! destination record of an asynchronous invocation.
//!
//! # Byte-for-byte
//!
//! Stratus built these with `serde_json::json!` and `serde_json::Map`,
//! whose keys come out sorted (the workspace does not enable serde_json's
//! `preserve_order`). So every struct here declares its fields in the
//! byte order of their JSON names, and `serde_json::to_string` of a value
//! is the exact text Stratus sent: the same names, the same `null`s
//! (`Sns.Subject` of Lambda's SNS event) and the same omissions
//! (`md5OfMessageAttributes`, `stringValue`/`binaryValue`, the envelope's
//! `Subject`, `MessageAttributes` and `SequenceNumber`, an EventBridge
//! event's `replay-name` unless it is replayed, a destination
//! record's `responseContext`/`responsePayload` after `EventAgeExceeded`).
//! The tests compare against literals taken from the producers.
//!
//! Nothing here reads a clock: times are passed in, as text or as
//! milliseconds since the epoch for the formatting helpers.

use crate::arn::Arn;
use crate::scope::ResourceScope;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// `2024-01-01T00:00:00.000Z`: always three fractional digits, as SNS's
/// `Timestamp` and a destination record's `timestamp`. None out of range.
pub fn timestamp_millis(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// `2024-01-01T00:00:00Z`: whole seconds, as EventBridge's `time` of a
/// `PutEvents` event. None out of range.
pub fn event_time(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// `2024-01-01T00:00:00Z`, or `…00.250Z` when the time has a fraction: a
/// scheduled event's `time` (the tick). None out of range.
pub fn scheduled_time(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

// ---------------------------------------------------------------------------
// SQS

/// Lambda's SQS event: `{"Records": [...]}`, one record per message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records")]
    pub records: Vec<SqsRecord>,
}

/// One message of an [`SqsEvent`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsRecord {
    /// System attributes by SQS's names (`ApproximateReceiveCount`,
    /// `SentTimestamp`, `SenderId`, `ApproximateFirstReceiveTimestamp`;
    /// `AWSTraceHeader` and `DeadLetterQueueSourceArn` when the message
    /// has them; FIFO adds `MessageGroupId`, `MessageDeduplicationId`,
    /// `SequenceNumber`).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    pub aws_region: String,
    pub body: String,
    /// [`SqsRecord::EVENT_SOURCE`].
    pub event_source: String,
    #[serde(rename = "eventSourceARN")]
    pub event_source_arn: String,
    pub md5_of_body: String,
    /// Omitted when the message has no attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5_of_message_attributes: Option<String>,
    #[serde(default)]
    pub message_attributes: BTreeMap<String, SqsMessageAttribute>,
    pub message_id: String,
    pub receipt_handle: String,
}

impl SqsRecord {
    /// `eventSource` of every SQS record.
    pub const EVENT_SOURCE: &'static str = "aws:sqs";

    /// A record of a message of `queue` in `scope`, with no attributes
    /// yet: `eventSource`, `eventSourceARN` and `awsRegion` filled in.
    pub fn new(
        scope: &ResourceScope,
        queue: &str,
        message_id: impl Into<String>,
        receipt_handle: impl Into<String>,
        body: impl Into<String>,
        md5_of_body: impl Into<String>,
    ) -> SqsRecord {
        SqsRecord {
            attributes: BTreeMap::new(),
            aws_region: scope.region.to_string(),
            body: body.into(),
            event_source: SqsRecord::EVENT_SOURCE.to_string(),
            event_source_arn: Arn::queue(scope, queue).to_string(),
            md5_of_body: md5_of_body.into(),
            md5_of_message_attributes: None,
            message_attributes: BTreeMap::new(),
            message_id: message_id.into(),
            receipt_handle: receipt_handle.into(),
        }
    }
}

/// A message attribute in an [`SqsRecord`]. The list values are always
/// present (and empty: SQS has never filled them); the single values only
/// when set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsMessageAttribute {
    #[serde(default)]
    pub binary_list_values: Vec<String>,
    /// Base64 (standard alphabet, padded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<String>,
    /// `String`, `Number`, `Binary`, with an optional `.custom` suffix.
    pub data_type: String,
    #[serde(default)]
    pub string_list_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
}

impl SqsMessageAttribute {
    /// An attribute; `binary_value` is base64-encoded.
    pub fn new(
        data_type: impl Into<String>,
        string_value: Option<&str>,
        binary_value: Option<&[u8]>,
    ) -> SqsMessageAttribute {
        SqsMessageAttribute {
            binary_list_values: Vec::new(),
            binary_value: binary_value.map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
            data_type: data_type.into(),
            string_list_values: Vec::new(),
            string_value: string_value.map(str::to_string),
        }
    }
}

// ---------------------------------------------------------------------------
// SNS

/// A message attribute as SNS's documents carry it: `{"Type", "Value"}`
/// (binary values in base64).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnsMessageAttribute {
    #[serde(rename = "Type")]
    pub data_type: String,
    #[serde(rename = "Value")]
    pub value: String,
}

impl SnsMessageAttribute {
    /// From a string or binary value: the string wins, binary is
    /// base64-encoded, neither gives `""`.
    pub fn new(
        data_type: impl Into<String>,
        string_value: Option<&str>,
        binary_value: Option<&[u8]>,
    ) -> SnsMessageAttribute {
        let value = match (string_value, binary_value) {
            (Some(s), _) => s.to_string(),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD.encode(b),
            (None, None) => String::new(),
        };
        SnsMessageAttribute {
            data_type: data_type.into(),
            value,
        }
    }
}

/// SNS's notification envelope: the JSON body a topic delivers to SQS
/// queues and HTTP endpoints (unless raw delivery is on). Note the
/// upper-case `URL`s, unlike Lambda's [`SnsMessage`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnsNotification {
    pub message: String,
    /// Omitted when there are none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub message_attributes: BTreeMap<String, SnsMessageAttribute>,
    pub message_id: String,
    /// FIFO topics only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    pub signature: String,
    /// `1`.
    pub signature_version: String,
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
    /// Omitted when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `2024-01-01T00:00:00.000Z` ([`timestamp_millis`]).
    pub timestamp: String,
    pub topic_arn: String,
    /// `Notification`.
    #[serde(rename = "Type")]
    pub message_type: String,
    #[serde(rename = "UnsubscribeURL")]
    pub unsubscribe_url: String,
}

impl SnsNotification {
    /// The `Type` of a published message.
    pub const NOTIFICATION: &'static str = "Notification";
    /// The `SignatureVersion` Stratus writes.
    pub const SIGNATURE_VERSION: &'static str = "1";

    /// Lambda's record of this notification for `subscription_arn`: the
    /// same message, with Lambda's spelling (`SigningCertUrl`,
    /// `UnsubscribeUrl`, `Subject` null when absent, `MessageAttributes`
    /// always present, no `SequenceNumber`).
    pub fn lambda_record(&self, subscription_arn: impl Into<String>) -> SnsRecord {
        SnsRecord {
            event_source: SnsRecord::EVENT_SOURCE.to_string(),
            event_subscription_arn: subscription_arn.into(),
            event_version: SnsRecord::EVENT_VERSION.to_string(),
            sns: SnsMessage {
                message: self.message.clone(),
                message_attributes: self.message_attributes.clone(),
                message_id: self.message_id.clone(),
                signature: self.signature.clone(),
                signature_version: self.signature_version.clone(),
                signing_cert_url: self.signing_cert_url.clone(),
                subject: self.subject.clone(),
                timestamp: self.timestamp.clone(),
                topic_arn: self.topic_arn.clone(),
                message_type: self.message_type.clone(),
                unsubscribe_url: self.unsubscribe_url.clone(),
            },
        }
    }
}

/// Lambda's SNS event: `{"Records": [...]}` (one record).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnsEvent {
    #[serde(rename = "Records")]
    pub records: Vec<SnsRecord>,
}

/// One record of an [`SnsEvent`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnsRecord {
    /// [`SnsRecord::EVENT_SOURCE`].
    pub event_source: String,
    pub event_subscription_arn: String,
    /// [`SnsRecord::EVENT_VERSION`].
    pub event_version: String,
    pub sns: SnsMessage,
}

impl SnsRecord {
    /// `EventSource` of every SNS record.
    pub const EVENT_SOURCE: &'static str = "aws:sns";
    /// `EventVersion` of every SNS record.
    pub const EVENT_VERSION: &'static str = "1.0";
}

/// The message in an [`SnsRecord`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnsMessage {
    pub message: String,
    /// Always present, `{}` when there are none.
    #[serde(default)]
    pub message_attributes: BTreeMap<String, SnsMessageAttribute>,
    pub message_id: String,
    pub signature: String,
    pub signature_version: String,
    pub signing_cert_url: String,
    /// `null` when there is none.
    #[serde(default)]
    pub subject: Option<String>,
    pub timestamp: String,
    pub topic_arn: String,
    #[serde(rename = "Type")]
    pub message_type: String,
    pub unsubscribe_url: String,
}

// ---------------------------------------------------------------------------
// EventBridge

/// EventBridge's event envelope, as rules match it and targets receive it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventBridgeEvent {
    pub account: String,
    /// A JSON object.
    pub detail: Value,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub id: String,
    pub region: String,
    /// The replay that re-delivered the event, as EventBridge marks
    /// replayed events; omitted otherwise.
    #[serde(
        default,
        rename = "replay-name",
        skip_serializing_if = "Option::is_none"
    )]
    pub replay_name: Option<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    pub source: String,
    /// RFC 3339 in UTC with `Z` ([`event_time`], [`scheduled_time`]).
    pub time: String,
    /// [`EventBridgeEvent::VERSION`].
    pub version: String,
}

impl EventBridgeEvent {
    /// `version` of every event.
    pub const VERSION: &'static str = "0";
    /// `source` of scheduled events.
    pub const SCHEDULED_SOURCE: &'static str = "aws.events";
    /// `detail-type` of scheduled events.
    pub const SCHEDULED_DETAIL_TYPE: &'static str = "Scheduled Event";

    /// An event put on a bus in `scope`.
    pub fn new(
        scope: &ResourceScope,
        id: impl Into<String>,
        source: impl Into<String>,
        detail_type: impl Into<String>,
        time: impl Into<String>,
        detail: Value,
    ) -> EventBridgeEvent {
        EventBridgeEvent {
            account: scope.account.to_string(),
            detail,
            detail_type: detail_type.into(),
            id: id.into(),
            region: scope.region.to_string(),
            replay_name: None,
            resources: Vec::new(),
            source: source.into(),
            time: time.into(),
            version: EventBridgeEvent::VERSION.to_string(),
        }
    }

    /// The scheduled event of the rule `rule` of the default bus: source
    /// `aws.events`, detail-type `Scheduled Event`, the rule's ARN as the
    /// only resource. `time` is the tick ([`scheduled_time`]); `detail` is
    /// `{}` on AWS (Stratus adds `missedTicks`).
    pub fn scheduled(
        scope: &ResourceScope,
        id: impl Into<String>,
        rule: &str,
        time: impl Into<String>,
        detail: Value,
    ) -> EventBridgeEvent {
        let mut event = EventBridgeEvent::new(
            scope,
            id,
            EventBridgeEvent::SCHEDULED_SOURCE,
            EventBridgeEvent::SCHEDULED_DETAIL_TYPE,
            time,
            detail,
        );
        event.resources = vec![Arn::rule(scope, crate::arn::DEFAULT_BUS, rule).to_string()];
        event
    }
}

// ---------------------------------------------------------------------------
// Destinations

/// Why an asynchronous invocation ended, as a destination record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DestinationCondition {
    /// The function returned.
    Success,
    /// Every attempt failed.
    RetriesExhausted,
    /// The event waited longer than `maximumEventAge`.
    EventAgeExceeded,
}

impl DestinationCondition {
    /// Lambda's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationCondition::Success => "Success",
            DestinationCondition::RetriesExhausted => "RetriesExhausted",
            DestinationCondition::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

/// Lambda's record of a finished asynchronous invocation, sent to its
/// `onSuccess` or `onFailure` destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationRecord {
    pub request_context: DestinationRequestContext,
    /// The event, as JSON, or as a string when it was not JSON.
    pub request_payload: Value,
    /// Omitted after `EventAgeExceeded` (the function never answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_context: Option<DestinationResponseContext>,
    /// Omitted after `EventAgeExceeded`; `null` when there was no answer.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_payload: Option<Value>,
    /// `2024-01-01T00:00:00.000Z` ([`timestamp_millis`]).
    pub timestamp: String,
    /// [`DestinationRecord::VERSION`].
    pub version: String,
}

/// A field that is present is `Some`, even when `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// `requestContext` of a [`DestinationRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationRequestContext {
    pub approximate_invoke_count: u32,
    pub condition: DestinationCondition,
    /// The function's ARN, qualified with the version that ran (or
    /// `$LATEST`).
    pub function_arn: String,
    pub request_id: String,
}

/// `responseContext` of a [`DestinationRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationResponseContext {
    /// The version that ran, or `$LATEST`.
    pub executed_version: String,
    /// `Unhandled` when the function failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_error: Option<String>,
    /// Always 200: the invocation itself succeeded.
    pub status_code: u16,
}

/// What a [`DestinationRecord`] is made from: a finished asynchronous
/// invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestinationOutcome<'a> {
    pub function: &'a str,
    /// The version that ran, if one did (`$LATEST` otherwise).
    pub version: Option<u64>,
    pub request_id: &'a str,
    pub condition: DestinationCondition,
    /// Attempts made.
    pub attempts: u32,
    /// The event as it was queued.
    pub payload: &'a [u8],
    /// The function's response, on success.
    pub response: Option<&'a [u8]>,
    /// The last error: its type, message and the runtime's error document.
    pub error: Option<(&'a str, &'a str, Option<&'a [u8]>)>,
}

/// Bytes as JSON, or as a JSON string (lossy UTF-8) when they are not
/// JSON.
pub fn json_or_text(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

impl DestinationRecord {
    /// `version` of every record.
    pub const VERSION: &'static str = "1.0";
    /// `functionError` of a failed invocation.
    pub const UNHANDLED: &'static str = "Unhandled";

    /// The record of `outcome` in `scope`, stamped `timestamp`. The
    /// response payload is the function's answer (JSON or text); after a
    /// failure, the runtime's error document when it is JSON, else
    /// `{"errorType", "errorMessage"}`.
    pub fn new(
        scope: &ResourceScope,
        outcome: &DestinationOutcome<'_>,
        timestamp: impl Into<String>,
    ) -> DestinationRecord {
        let qualifier = match outcome.version {
            Some(v) => v.to_string(),
            None => "$LATEST".to_string(),
        };
        let mut function_error = None;
        let response_payload = match (outcome.response, outcome.error) {
            (Some(body), _) => json_or_text(body),
            (None, Some((error_type, message, body))) => {
                function_error = Some(DestinationRecord::UNHANDLED.to_string());
                match body {
                    Some(body) if serde_json::from_slice::<Value>(body).is_ok() => {
                        json_or_text(body)
                    }
                    _ => serde_json::json!({"errorType": error_type, "errorMessage": message}),
                }
            }
            (None, None) => Value::Null,
        };
        let answered = outcome.condition != DestinationCondition::EventAgeExceeded;
        DestinationRecord {
            request_context: DestinationRequestContext {
                approximate_invoke_count: outcome.attempts,
                condition: outcome.condition,
                function_arn: Arn::function(scope, outcome.function, Some(&qualifier)).to_string(),
                request_id: outcome.request_id.to_string(),
            },
            request_payload: json_or_text(outcome.payload),
            response_context: answered.then(|| DestinationResponseContext {
                executed_version: qualifier.clone(),
                function_error,
                status_code: 200,
            }),
            response_payload: answered.then_some(response_payload),
            timestamp: timestamp.into(),
            version: DestinationRecord::VERSION.to_string(),
        }
    }
}
