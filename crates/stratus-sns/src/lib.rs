//! SNS: topics, subscriptions and fan-out, and its query protocol.
//!
//! - `topics.rs`: the semantics (publish with FIFO dedup, filter policies,
//!   fan-out to functions, queues, HTTP endpoints and the local outbox of
//!   email and text messages, the HTTP delivery loop) over the store; deliveries to queues go through the shared
//!   [`Deliver`](stratus_service_kit::Deliver) seam, not through SQS;
//! - `policy.rs`: a topic's access and delivery policy documents;
//! - `wire.rs`: the query protocol (`Action=<Op>`, XML answers);
//! - `service.rs`: the service as the protocol layer's router sees it.

pub mod policy;
mod service;
pub mod topics;
pub mod wire;

pub use service::SnsService;
pub use stratus_service_kit::{
    ErrorKind, EventOrigin, Kit, MessageAttribute, SendMessage, ServiceError, now_ms,
};

use std::sync::Arc;

/// An answer of the service.
pub(crate) type Reply = http::Response<bytes::Bytes>;

/// The topic service; cheap to clone. It derefs to the shared [`Kit`].
#[derive(Clone)]
pub struct Sns {
    kit: Kit,
    state: Arc<topics::TopicState>,
}

impl std::ops::Deref for Sns {
    type Target = Kit;

    fn deref(&self) -> &Kit {
        &self.kit
    }
}

impl Sns {
    /// The service over `kit`, with its HTTP delivery loop running.
    pub fn start(kit: Kit) -> Sns {
        let sns = Sns {
            kit,
            state: Arc::default(),
        };
        topics::spawn(&sns);
        sns
    }
}
