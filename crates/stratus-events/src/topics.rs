//! Topics (SNS): publish, fan-out to subscriptions with filter policies.
//!
//! OWNER: the SNS work package. [`Events::publish`] and [`PublishMessage`]
//! are used by the bus and destinations; keep their shape.

use crate::queues::MessageAttribute;
use crate::{Events, EventsError};
use std::collections::BTreeMap;

/// A message to publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishMessage {
    /// The message text.
    pub message: String,
    /// The subject, if any.
    pub subject: Option<String>,
    /// Message attributes.
    pub attributes: BTreeMap<String, MessageAttribute>,
    /// FIFO topics: the message group.
    pub group_id: Option<String>,
    /// FIFO topics: the deduplication id.
    pub dedup_id: Option<String>,
}

pub(crate) fn spawn(_events: &Events) {}

impl Events {
    /// Publishes to topic `topic` (by name) and returns the message id; every
    /// matching subscription's delivery is durable when it returns.
    /// `NotFound` for an unknown topic.
    pub async fn publish(
        &self,
        topic: &str,
        message: PublishMessage,
    ) -> Result<String, EventsError> {
        let _ = message;
        Err(EventsError::not_found(
            "NotFound",
            format!("Topic does not exist: {topic}"),
        ))
    }
}
