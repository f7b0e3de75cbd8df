//! Delivery of a payload to any target: a function (asynchronous
//! invocation through the engine's durable queue), a queue, a topic or a
//! bus. Used by destinations, topic subscriptions and rule targets; every
//! delivery is committed when it returns.

use crate::bus::PutEventsEntry;
use crate::queues::SendMessage;
use crate::topics::PublishMessage;
use crate::{Events, EventsError};
use bytes::Bytes;
use stratus_core::TargetRef;
use stratus_engine::Qualifier;

/// What an event is, for the CloudEvents headers a function receives and
/// the envelope of a bus event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOrigin {
    /// `ce-type` (and a bus event's `detail-type`).
    pub kind: String,
    /// `ce-source` (and a bus event's `source`).
    pub source: String,
    /// `ce-id`: the event's id, if it has one of its own.
    pub id: Option<String>,
}

impl EventOrigin {
    /// The message group and deduplication id a FIFO queue or topic named
    /// `name` needs (None for standard ones): events of one origin share a
    /// group, so they keep their order.
    fn fifo_ids(&self, name: &str) -> (Option<String>, Option<String>) {
        if !name.ends_with(".fifo") {
            return (None, None);
        }
        let dedup = self
            .id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        (Some(self.source.clone()), Some(dedup))
    }

    /// The CloudEvents headers for a function.
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![
            ("ce-type".to_string(), self.kind.clone()),
            ("ce-source".to_string(), self.source.clone()),
        ];
        if let Some(id) = &self.id {
            headers.push(("ce-id".to_string(), id.clone()));
        }
        headers
    }
}

impl Events {
    /// Delivers `payload` (JSON text) to `target`: a function gets an
    /// asynchronous invocation (its request id is returned), a queue a
    /// message, a topic a publication, a bus an event whose `detail` is the
    /// payload (which must then be a JSON object).
    pub async fn deliver(
        &self,
        target: &TargetRef,
        payload: String,
        origin: &EventOrigin,
    ) -> Result<String, EventsError> {
        match target {
            TargetRef::Function(name) => self
                .engine()
                .invoke_async(
                    name,
                    Qualifier::Latest,
                    Bytes::from(payload),
                    origin.headers(),
                )
                .await
                .map_err(|e| EventsError::engine("queuing an asynchronous invocation", e)),
            TargetRef::Queue(name) => {
                let (group_id, dedup_id) = origin.fifo_ids(name);
                let message = SendMessage {
                    body: payload,
                    group_id,
                    dedup_id,
                    ..SendMessage::default()
                };
                Ok(self.send_message(name, message).await?.message_id)
            }
            TargetRef::Topic(name) => {
                let (group_id, dedup_id) = origin.fifo_ids(name);
                let message = PublishMessage {
                    message: payload,
                    group_id,
                    dedup_id,
                    ..PublishMessage::default()
                };
                self.publish(name, message).await
            }
            TargetRef::Bus(name) => {
                let entry = PutEventsEntry {
                    source: origin.source.clone(),
                    detail_type: origin.kind.clone(),
                    detail: payload,
                    bus: Some(name.clone()),
                    ..PutEventsEntry::default()
                };
                let mut results = Box::pin(self.put_events(vec![entry])).await;
                results.pop().unwrap_or_else(|| {
                    Err(EventsError::new(
                        crate::ErrorKind::Internal,
                        "InternalFailure",
                        "the bus answered no result",
                    ))
                })
            }
        }
    }
}
