//! What a deploy needs from the event services before it commits: the
//! queues, topics and buses its functions' triggers, destinations and DLQs
//! name exist (missing ones are created, as the Serverless Framework's
//! stack would), and each queue trigger's queue has a visibility timeout
//! no shorter than its function's timeout (Lambda refuses such a mapping).

use crate::{ServiceError, Triggers};
use std::collections::BTreeMap;
use stratus_core::{FunctionConfig, TargetRef};

/// Lambda's advice for a queue that feeds a function: a visibility timeout
/// of six times the function's timeout (used for queues created here).
const VISIBILITY_PER_TIMEOUT: f64 = 6.0;
/// SQS's default visibility timeout, and the least given to created queues.
const DEFAULT_VISIBILITY: u32 = 30;
/// SQS's largest visibility timeout.
const MAX_VISIBILITY: u32 = 43_200;

impl Triggers {
    /// Checks and prepares the resources `configs` refer to; an error names
    /// the function and what is wrong, and nothing was created then.
    pub async fn prepare_deployment(&self, configs: &[FunctionConfig]) -> Result<(), ServiceError> {
        // Pass 1: check what exists.
        let mut missing_queues: BTreeMap<String, u32> = BTreeMap::new();
        for config in configs {
            let timeout = config.timeout.ceil() as u32;
            for source in &config.events.sqs {
                match self.sqs().queue_attributes(&source.queue).await {
                    Ok(attributes) => {
                        if attributes.visibility_timeout_s < timeout {
                            return Err(ServiceError::invalid(
                                "InvalidParameterValueException",
                                format!(
                                    "function `{}`: queue visibility timeout: {} seconds is less than function timeout: {} seconds (queue `{}`)",
                                    config.name,
                                    attributes.visibility_timeout_s,
                                    timeout,
                                    source.queue
                                ),
                            ));
                        }
                        if attributes.fifo && source.batch_size > 10 {
                            return Err(ServiceError::invalid(
                                "InvalidParameterValueException",
                                format!(
                                    "function `{}`: the batch size of FIFO queue `{}` is at most 10",
                                    config.name, source.queue
                                ),
                            ));
                        }
                    }
                    Err(error) if error.kind == crate::ErrorKind::NotFound => {
                        let wanted = ((config.timeout * VISIBILITY_PER_TIMEOUT).ceil() as u32)
                            .clamp(DEFAULT_VISIBILITY, MAX_VISIBILITY);
                        let entry = missing_queues.entry(source.queue.clone()).or_default();
                        *entry = (*entry).max(wanted);
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        // Pass 2: create what is missing.
        for (queue, visibility) in missing_queues {
            let mut attributes = BTreeMap::new();
            attributes.insert("VisibilityTimeout".to_string(), visibility.to_string());
            if queue.ends_with(".fifo") {
                attributes.insert("FifoQueue".to_string(), "true".to_string());
            }
            self.sqs().create_queue(&queue, &attributes).await?;
            tracing::info!(queue = %queue, visibility_timeout = visibility, "created the queue a trigger names");
        }
        for config in configs {
            for source in &config.events.sns {
                self.ensure_topic(&source.topic).await?;
            }
            for source in &config.events.event_bridge {
                self.ensure_bus(&source.bus).await?;
            }
            let settings = &config.async_config;
            for target in [
                &settings.on_success,
                &settings.on_failure,
                &settings.dead_letter,
            ]
            .into_iter()
            .flatten()
            {
                match target {
                    TargetRef::Queue(name) => self.sqs().ensure_queue(name).await?,
                    TargetRef::Topic(name) => self.ensure_topic(name).await?,
                    TargetRef::Bus(name) => self.ensure_bus(name).await?,
                    TargetRef::Function(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Creates topic `name` if it does not exist.
    async fn ensure_topic(&self, name: &str) -> Result<(), ServiceError> {
        let mut attributes = BTreeMap::new();
        if name.ends_with(".fifo") {
            attributes.insert("FifoTopic".to_string(), "true".to_string());
        }
        self.sns().create_topic(name, attributes).await.map(|_| ())
    }

    /// Creates bus `name` if it does not exist.
    async fn ensure_bus(&self, name: &str) -> Result<(), ServiceError> {
        if name == "default"
            || self
                .eventbridge()
                .describe_event_bus(Some(name))
                .await
                .is_ok()
        {
            return Ok(());
        }
        self.eventbridge()
            .create_event_bus(name, None)
            .await
            .map(|_| ())
    }
}
