//! SNS: topics, subscriptions and fan-out, and its query protocol.
//!
//! - `backend.rs`: [`TopicBackend`], where topics are kept (the binary
//!   hands [`Sns::start`] one; `stratus-store-sqlite` has SQLite's);
//! - `topics.rs`: the semantics (publish with FIFO dedup, filter policies,
//!   fan-out to functions, queues, HTTP endpoints and the local outbox of
//!   email and text messages, the HTTP delivery loop) over the backend; deliveries to queues go through the shared
//!   [`Deliver`](stratus_service_kit::Deliver) seam, not through SQS;
//! - `policy.rs`: a topic's access and delivery policy documents;
//! - `wire/`: the query protocol (`Action=<Op>`, XML answers), one
//!   request and one result type per operation (`wire/types.rs`);
//! - `service.rs`: the service as the protocol layer's router sees it.

pub mod backend;
pub mod policy;
mod service;
pub mod topics;
pub mod wire;

pub use backend::TopicBackend;
pub use service::SnsService;
pub use stratus_service_kit::{
    ErrorKind, EventOrigin, Kit, MessageAttribute, SendMessage, ServiceError, now_ms,
};

use std::sync::Arc;
use stratus_core::StoreError;

/// An answer of the service.
pub(crate) type Reply = http::Response<bytes::Bytes>;

/// The topic service; cheap to clone. It derefs to the shared [`Kit`].
#[derive(Clone)]
pub struct Sns {
    kit: Kit,
    topics: Arc<dyn TopicBackend>,
    state: Arc<topics::TopicState>,
}

impl std::ops::Deref for Sns {
    type Target = Kit;

    fn deref(&self) -> &Kit {
        &self.kit
    }
}

impl Sns {
    /// The service over `kit`, its topics kept by `backend`, with its HTTP
    /// delivery loop running.
    pub fn start(kit: Kit, backend: Arc<dyn TopicBackend>) -> Sns {
        let sns = Sns {
            kit,
            topics: backend,
            state: Arc::default(),
        };
        topics::spawn(&sns);
        sns
    }

    /// Where the topics are kept.
    pub fn backend(&self) -> &Arc<dyn TopicBackend> {
        &self.topics
    }
}

/// A backend's error as SNS's kit answers it: `context` names what was
/// being done (logged for a server fault, never shown).
pub(crate) fn backend_error(context: &'static str) -> impl FnOnce(StoreError) -> ServiceError {
    move |error| ServiceError::store(context, error)
}
