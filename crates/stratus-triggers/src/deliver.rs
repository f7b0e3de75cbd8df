//! Delivery of a payload to any target: a function (asynchronous
//! invocation through the engine's durable queue), a queue, a topic or a
//! bus. Used by destinations, topic subscriptions and rule targets; every
//! delivery is committed when it returns.

use crate::{EventOrigin, Inner, ServiceError, Triggers};
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::{Arc, Weak};
use stratus_core::TargetRef;
use stratus_engine::Qualifier;
use stratus_eventbridge::bus::PutEventsEntry;
use stratus_service_kit::{Deliver, ErrorKind, SendMessage};
use stratus_sns::topics::PublishMessage;

/// The services' deliverer (weak: the services hold it through their kit).
pub(crate) struct Delivery {
    inner: Weak<Inner>,
}

impl Delivery {
    pub(crate) fn new(triggers: &Triggers) -> Delivery {
        Delivery {
            inner: Arc::downgrade(&triggers.inner),
        }
    }

    fn triggers(&self) -> Result<Triggers, ServiceError> {
        self.inner
            .upgrade()
            .map(|inner| Triggers { inner })
            .ok_or_else(|| {
                ServiceError::new(
                    ErrorKind::Throttled,
                    "ServiceUnavailable",
                    "the server is shutting down",
                )
            })
    }
}

#[async_trait]
impl Deliver for Delivery {
    async fn deliver(
        &self,
        target: &TargetRef,
        payload: String,
        origin: &EventOrigin,
    ) -> Result<String, ServiceError> {
        self.triggers()?.deliver(target, payload, origin).await
    }

    async fn send_to_queue(
        &self,
        queue: &str,
        message: SendMessage,
    ) -> Result<String, ServiceError> {
        let triggers = self.triggers()?;
        Ok(triggers
            .sqs()
            .send_message(queue, message)
            .await?
            .message_id)
    }
}

impl Triggers {
    /// Delivers `payload` (JSON text) to `target`: a function gets an
    /// asynchronous invocation (its request id is returned), a queue a
    /// message, a topic a publication, a bus an event whose `detail` is the
    /// payload (which must then be a JSON object).
    pub async fn deliver(
        &self,
        target: &TargetRef,
        payload: String,
        origin: &EventOrigin,
    ) -> Result<String, ServiceError> {
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
                .map_err(|e| ServiceError::engine("queuing an asynchronous invocation", e)),
            TargetRef::Queue(name) => {
                let (group_id, dedup_id) = origin.fifo_ids(name);
                let message = SendMessage {
                    body: payload,
                    group_id,
                    dedup_id,
                    ..SendMessage::default()
                };
                Ok(self.sqs().send_message(name, message).await?.message_id)
            }
            TargetRef::Topic(name) => {
                let (group_id, dedup_id) = origin.fifo_ids(name);
                let message = PublishMessage {
                    message: payload,
                    group_id,
                    dedup_id,
                    ..PublishMessage::default()
                };
                self.sns().publish(name, message).await
            }
            TargetRef::Bus(name) => {
                let entry = PutEventsEntry {
                    source: origin.source.clone(),
                    detail_type: origin.kind.clone(),
                    detail: payload,
                    bus: Some(name.clone()),
                    ..PutEventsEntry::default()
                };
                let mut results = Box::pin(self.eventbridge().put_events(vec![entry])).await;
                results.pop().unwrap_or_else(|| {
                    Err(ServiceError::new(
                        ErrorKind::Internal,
                        "InternalFailure",
                        "the bus answered no result",
                    ))
                })
            }
        }
    }
}
