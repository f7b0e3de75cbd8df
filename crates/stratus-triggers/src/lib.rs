//! What is not one service: event-source mappings (the queue pollers that
//! feed functions), destinations of asynchronous invocations, delivery to
//! any `TargetRef` (the [`Deliver`] the services call through their kit),
//! the resources a deploy needs, and the figures of `/v1/stats`.
//!
//! [`Triggers::start`] builds the services (`stratus-sqs`, `stratus-sns`,
//! `stratus-eventbridge`) over one [`Kit`] and the [`Backends`] its caller
//! chose, installs the deliverer and the engine's destinations handler,
//! and starts the pollers.

mod deliver;
pub mod deploy;
mod destinations;
mod pollers;
pub mod stats;

pub use stratus_service_kit::{
    ErrorKind, EventOrigin, Kit, ServiceError, ServicesConfig, SourceLabels, now_ms,
};

use std::sync::Arc;
use stratus_engine::Engine;
use stratus_eventbridge::{BusBackend, EventBridge};
use stratus_sns::{Sns, TopicBackend};
use stratus_sqs::{QueueBackend, Sqs};

/// Where the services keep their state, chosen by the caller (the binary,
/// a test harness). Queues, topics and buses have a backend trait so far;
/// the other services still reach the engine's store through their [`Kit`].
#[derive(Clone)]
pub struct Backends {
    /// SQS's queues.
    pub queues: Arc<dyn QueueBackend>,
    /// SNS's topics.
    pub topics: Arc<dyn TopicBackend>,
    /// EventBridge's buses, rules, archives, outbox and schedules.
    pub buses: Arc<dyn BusBackend>,
}

/// The services and what joins them; cheap to clone.
#[derive(Clone)]
pub struct Triggers {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    kit: Kit,
    sqs: Sqs,
    sns: Sns,
    events: EventBridge,
}

impl std::ops::Deref for Triggers {
    type Target = Kit;

    fn deref(&self) -> &Kit {
        &self.inner.kit
    }
}

impl Triggers {
    /// Starts the services and their background loops (scheduler, queue
    /// pollers, topic deliveries, retention sweeps) over the engine and
    /// `backends`.
    pub fn start(engine: Engine, config: ServicesConfig, backends: Backends) -> Triggers {
        let kit = Kit::new(engine, config);
        let triggers = Triggers {
            inner: Arc::new(Inner {
                sqs: Sqs::start(kit.clone(), backends.queues),
                sns: Sns::start(kit.clone(), backends.topics),
                events: EventBridge::start(kit.clone(), backends.buses),
                kit,
            }),
        };
        triggers
            .kit()
            .set_deliver(Arc::new(deliver::Delivery::new(&triggers)));
        triggers
            .engine()
            .set_async_outcomes(Arc::new(destinations::Destinations::new(&triggers)));
        pollers::spawn(&triggers);
        triggers
    }

    /// Stops every background loop and waits for them.
    pub async fn shutdown(&self) {
        self.inner.kit.shutdown().await;
    }

    /// The shared kit.
    pub fn kit(&self) -> &Kit {
        &self.inner.kit
    }

    /// SQS.
    pub fn sqs(&self) -> &Sqs {
        &self.inner.sqs
    }

    /// SNS.
    pub fn sns(&self) -> &Sns {
        &self.inner.sns
    }

    /// EventBridge.
    pub fn eventbridge(&self) -> &EventBridge {
        &self.inner.events
    }
}
