//! What the AWS-compatible service crates (`stratus-sqs`, `stratus-sns`,
//! `stratus-eventbridge`) and the triggers share, so that no service crate
//! depends on another:
//!
//! - [`Kit`]: the engine, the settings, the cancellation token and task
//!   tracker every background loop is joined by, source metrics, and the
//!   installed [`Deliver`]er (state is reached through each service's own
//!   backend trait, not through the kit);
//! - [`ServiceError`]: an error with its AWS code, rendered by each
//!   service in its protocol;
//! - [`EventOrigin`] and [`SendMessage`]: what crosses between services;
//! - [`Deliver`]: delivery to any `TargetRef` (a function, queue, topic or
//!   bus). `stratus-triggers` implements it over the services; a service
//!   that delivers (SNS to queues, EventBridge to targets) calls it through
//!   its [`Kit`].

pub mod error;
pub mod message;
mod metrics;
pub mod origin;
pub mod wire;

pub use error::{ErrorKind, ServiceError};
pub use message::{MessageAttribute, SendMessage};
pub use metrics::{EventMetrics, SourceLabels};
pub use origin::EventOrigin;

use async_trait::async_trait;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use stratus_core::TargetRef;
use stratus_engine::Engine;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Settings of the services.
#[derive(Debug, Clone)]
pub struct ServicesConfig {
    /// The URL the AWS-compatible APIs answer on (queue URLs are built
    /// from it), e.g. `http://127.0.0.1:9070`.
    pub endpoint_url: String,
    /// How often the scheduler looks for due ticks at the latest.
    pub scheduler_poll: Duration,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            endpoint_url: "http://127.0.0.1:9070".into(),
            scheduler_poll: Duration::from_secs(1),
        }
    }
}

/// Delivery of a payload to any target; the consumer-owned seam between
/// services.
#[async_trait]
pub trait Deliver: Send + Sync + 'static {
    /// Delivers `payload` (JSON text) to `target`: a function gets an
    /// asynchronous invocation (its request id is returned), a queue a
    /// message, a topic a publication, a bus an event whose `detail` is the
    /// payload. Committed when it returns.
    async fn deliver(
        &self,
        target: &TargetRef,
        payload: String,
        origin: &EventOrigin,
    ) -> Result<String, ServiceError>;

    /// Sends `message` to the queue named `queue`; returns its message id.
    async fn send_to_queue(
        &self,
        queue: &str,
        message: SendMessage,
    ) -> Result<String, ServiceError>;
}

/// The shared context of the services; cheap to clone.
#[derive(Clone)]
pub struct Kit {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    config: ServicesConfig,
    cancel: CancellationToken,
    tasks: TaskTracker,
    metrics: EventMetrics,
    deliver: OnceLock<Arc<dyn Deliver>>,
}

impl Kit {
    /// A context over the engine (and its store).
    pub fn new(engine: Engine, config: ServicesConfig) -> Kit {
        Kit {
            inner: Arc::new(Inner {
                engine,
                config,
                cancel: CancellationToken::new(),
                tasks: TaskTracker::new(),
                metrics: EventMetrics::default(),
                deliver: OnceLock::new(),
            }),
        }
    }

    /// Installs the deliverer (once, when every service exists).
    pub fn set_deliver(&self, deliver: Arc<dyn Deliver>) {
        let _ = self.inner.deliver.set(deliver);
    }

    /// The installed deliverer.
    pub fn deliverer(&self) -> Result<&Arc<dyn Deliver>, ServiceError> {
        self.inner.deliver.get().ok_or_else(|| {
            ServiceError::new(
                ErrorKind::Throttled,
                "ServiceUnavailable",
                "the services are starting",
            )
        })
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

    /// The settings.
    pub fn config(&self) -> &ServicesConfig {
        &self.inner.config
    }

    /// Cancelled at shutdown.
    pub fn cancel(&self) -> &CancellationToken {
        &self.inner.cancel
    }

    /// Tracks background tasks, joined at shutdown.
    pub fn tasks(&self) -> &TaskTracker {
        &self.inner.tasks
    }

    /// Source metrics.
    pub fn metrics(&self) -> &EventMetrics {
        &self.inner.metrics
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
