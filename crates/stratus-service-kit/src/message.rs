//! A queue message as every service hands it over: SQS sends it, SNS
//! delivers notifications to queues with it, destinations and DLQs send
//! records with it.

use std::collections::BTreeMap;

/// A message attribute (SQS `MessageAttributeValue`; also SNS's).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MessageAttribute {
    /// `String`, `Number`, `Binary`, or those with a `.custom` suffix.
    pub data_type: String,
    /// For `String` and `Number`.
    pub string_value: Option<String>,
    /// For `Binary`.
    pub binary_value: Option<Vec<u8>>,
}

/// A message to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendMessage {
    /// The body (SQS bodies are text).
    pub body: String,
    /// Seconds before the message becomes visible (overrides the queue's
    /// `DelaySeconds`; not allowed per message on FIFO queues).
    pub delay_seconds: Option<u32>,
    /// Message attributes.
    pub attributes: BTreeMap<String, MessageAttribute>,
    /// FIFO: the message group.
    pub group_id: Option<String>,
    /// FIFO: the deduplication id (else the body's SHA-256 when the queue
    /// has `ContentBasedDeduplication`).
    pub dedup_id: Option<String>,
}
