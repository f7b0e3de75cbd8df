//! Destinations and dead-letter queues of asynchronous invocations: the
//! engine hands every finished event of a function that configures one to
//! [`Destinations::settled`], which sends Lambda's destination record to
//! `onSuccess`/`onFailure` and the original event to the DLQ (`onError`).

use crate::{EventOrigin, Triggers};
use std::collections::BTreeMap;
use stratus_core::events::{DestinationCondition, DestinationOutcome, DestinationRecord};
use stratus_core::scope::ResourceScope;
use stratus_core::{AsyncConfig, TargetRef};
use stratus_engine::{AsyncOutcome, AsyncOutcomes, Condition};
use stratus_service_kit::{MessageAttribute, SendMessage};
use stratus_sns::topics::PublishMessage;

/// The engine's handler of asynchronous outcomes.
pub(crate) struct Destinations {
    /// A weak handle: the engine holds this handler, and the event services
    /// hold the engine.
    events: std::sync::Weak<crate::Inner>,
}

impl Destinations {
    pub(crate) fn new(events: &Triggers) -> Destinations {
        Destinations {
            events: std::sync::Arc::downgrade(&events.inner),
        }
    }
}

/// Lambda's destination record for `outcome` (`stratus_core::events`).
pub fn destination_record(outcome: &AsyncOutcome, timestamp: &str) -> String {
    let condition = match outcome.condition {
        Condition::Success => DestinationCondition::Success,
        Condition::RetriesExhausted => DestinationCondition::RetriesExhausted,
        Condition::EventAgeExceeded => DestinationCondition::EventAgeExceeded,
    };
    let error = outcome
        .error
        .as_ref()
        .map(|(kind, message, body)| (kind.as_str(), message.as_str(), body.as_deref()));
    let record = DestinationRecord::new(
        &ResourceScope::DEFAULT,
        &DestinationOutcome {
            function: &outcome.function,
            version: outcome.version,
            request_id: &outcome.request_id,
            condition,
            attempts: outcome.attempts,
            payload: &outcome.payload,
            response: outcome.response.as_deref(),
            error,
        },
        timestamp,
    );
    // Plain data of our own making: it always serialises.
    serde_json::to_string(&record).unwrap_or_default()
}

fn string_attribute(value: &str) -> MessageAttribute {
    MessageAttribute {
        data_type: "String".into(),
        string_value: Some(value.to_string()),
        binary_value: None,
    }
}

#[async_trait::async_trait]
impl AsyncOutcomes for Destinations {
    async fn settled(&self, config: &AsyncConfig, outcome: AsyncOutcome) -> Result<(), String> {
        let Some(inner) = self.events.upgrade() else {
            return Err("the event services have stopped".into());
        };
        let events = Triggers { inner };
        let timestamp = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let success = outcome.condition == Condition::Success;
        let destination = if success {
            config.on_success.as_ref()
        } else {
            config.on_failure.as_ref()
        };
        let origin = EventOrigin {
            kind: if success {
                "Lambda Function Invocation Result - Success".into()
            } else {
                "Lambda Function Invocation Result - Failure".into()
            },
            source: "lambda".into(),
            id: None,
        };
        let mut errors = Vec::new();
        if let Some(target) = destination {
            let record = destination_record(&outcome, &timestamp);
            match events.deliver(target, record, &origin).await {
                Ok(_) => {
                    events.metrics().destination(&outcome.function, success);
                    tracing::info!(function = %outcome.function, request_id = %outcome.request_id, destination = %target.arn(), condition = outcome.condition.as_str(), "sent a destination record");
                }
                Err(error) => errors.push(format!("destination {}: {error}", target.arn())),
            }
        }
        if !success && let Some(dlq) = &config.dead_letter {
            let (code, message) = match &outcome.error {
                Some((code, message, _)) => (code.clone(), message.clone()),
                None => (
                    "EventAgeExceeded".to_string(),
                    "the event was older than the function's maximumEventAge".to_string(),
                ),
            };
            let mut attributes = BTreeMap::new();
            attributes.insert(
                "RequestID".to_string(),
                string_attribute(&outcome.request_id),
            );
            attributes.insert("ErrorCode".to_string(), string_attribute(&code));
            attributes.insert("ErrorMessage".to_string(), string_attribute(&message));
            let body = String::from_utf8_lossy(&outcome.payload).into_owned();
            let sent = match dlq {
                TargetRef::Queue(name) => events
                    .sqs()
                    .send_message(
                        name,
                        SendMessage {
                            body,
                            attributes,
                            group_id: name.ends_with(".fifo").then(|| outcome.function.clone()),
                            dedup_id: name.ends_with(".fifo").then(|| outcome.request_id.clone()),
                            ..SendMessage::default()
                        },
                    )
                    .await
                    .map(|sent| sent.message_id),
                TargetRef::Topic(name) => {
                    events
                        .sns()
                        .publish(
                            name,
                            PublishMessage {
                                message: body,
                                attributes,
                                ..PublishMessage::default()
                            },
                        )
                        .await
                }
                other => Err(crate::ServiceError::invalid(
                    "InvalidParameterValue",
                    format!("{} cannot be a dead-letter queue", other.arn()),
                )),
            };
            match sent {
                Ok(_) => {
                    events.metrics().dead_lettered(&outcome.function);
                    tracing::info!(function = %outcome.function, request_id = %outcome.request_id, dlq = %dlq.arn(), "sent a failed event to the dead-letter queue");
                }
                Err(error) => errors.push(format!("dead-letter queue {}: {error}", dlq.arn())),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}
