//! Queues (SQS semantics): standard and FIFO, visibility, delay,
//! attributes, retention, redrive; long polling.
//!
//! OWNER: the SQS work package. The types and the signature of
//! [`Events::send_message`] are used by topics, the bus and destinations;
//! keep them (add fields if needed, with defaults).

use crate::{Events, EventsError};
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

/// In-memory state of the queues (long-polling waiters).
#[derive(Default)]
pub(crate) struct QueueState {}

impl Events {
    /// Sends one message to queue `queue` (by name); durable when it
    /// returns. `QueueDoesNotExist` for an unknown queue.
    pub async fn send_message(
        &self,
        queue: &str,
        message: SendMessage,
    ) -> Result<SentMessage, EventsError> {
        let _ = message;
        Err(EventsError::not_found(
            "AWS.SimpleQueueService.NonExistentQueue",
            format!("The specified queue {queue} does not exist."),
        ))
    }
}
