//! The event-driven core: durable queues (SQS semantics), topics (SNS),
//! the event bus (EventBridge), schedules, the queue event-source mappings
//! that feed functions, and destinations of asynchronous invocations.
//!
//! Every service keeps its state in `stratus-store`; this crate adds the
//! behaviour around it (long polling, fan-out, rule matching, tick timing,
//! batching) and the background loops, each joined at shutdown. Wire
//! protocols (SQS JSON, SNS query, EventBridge JSON) live in the gateway.
//!
//! Asynchronous invocations of functions go through the engine's durable
//! queue (`Engine::invoke_async`); a function target of a topic, a rule or a
//! schedule is such an invocation.

pub mod bus;
pub mod deliver;
pub mod deploy;
pub mod destinations;
pub mod error;
mod metrics;
mod pollers;
pub mod queues;
pub mod scheduler;
pub mod stats;
pub mod topics;

pub use deliver::EventOrigin;
pub use error::{ErrorKind, EventsError};

use std::sync::Arc;
use std::time::Duration;
use stratus_engine::Engine;
use stratus_store::{Store, StoreError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Settings of the event services.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// The URL the AWS-compatible APIs answer on (queue URLs are built
    /// from it), e.g. `http://127.0.0.1:9070`.
    pub endpoint_url: String,
    /// How often the scheduler looks for due ticks at the latest.
    pub scheduler_poll: Duration,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            endpoint_url: "http://127.0.0.1:9070".into(),
            scheduler_poll: Duration::from_secs(1),
        }
    }
}

/// The event services; cheap to clone.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    config: EventsConfig,
    cancel: CancellationToken,
    tasks: TaskTracker,
    queues: queues::QueueState,
    bus: bus::BusState,
    topics: topics::TopicState,
    metrics: metrics::EventMetrics,
}

impl Events {
    /// Starts the event services and their background loops (scheduler,
    /// queue pollers, topic deliveries) over the engine's store.
    pub fn start(engine: Engine, config: EventsConfig) -> Events {
        let events = Events {
            inner: Arc::new(Inner {
                engine,
                config,
                cancel: CancellationToken::new(),
                tasks: TaskTracker::new(),
                queues: queues::QueueState::default(),
                bus: bus::BusState::default(),
                topics: topics::TopicState::default(),
                metrics: metrics::EventMetrics::default(),
            }),
        };
        events
            .inner
            .engine
            .set_async_outcomes(Arc::new(destinations::Destinations::new(&events)));
        events.spawn_loops();
        events
    }

    fn spawn_loops(&self) {
        scheduler::spawn(self);
        pollers::spawn(self);
        topics::spawn(self);
        queues::spawn(self);
    }

    /// Stops every background loop and waits for them (work in flight is
    /// left where a restart picks it up).
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The store.
    pub fn store(&self) -> &Store {
        self.inner.engine.store()
    }

    /// The settings.
    pub fn config(&self) -> &EventsConfig {
        &self.inner.config
    }

    /// Cancelled at shutdown.
    pub(crate) fn cancel(&self) -> &CancellationToken {
        &self.inner.cancel
    }

    /// Tracks background tasks, joined at shutdown.
    pub(crate) fn tasks(&self) -> &TaskTracker {
        &self.inner.tasks
    }

    /// Runs a store call on the blocking pool.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        context: &'static str,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, EventsError> {
        let store = self.store().clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(result) => result.map_err(|e| EventsError::store(context, e)),
            Err(join) => Err(EventsError::internal(context, &join)),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
