//! SQS: queues with AWS's semantics and its JSON 1.0 protocol.
//!
//! - `backend.rs`: [`QueueBackend`], where queues are kept (the binary
//!   hands [`Sqs::start`] one; `stratus-store-sqlite` has SQLite's);
//! - `queues.rs`: the semantics (attributes, tags, validation, MD5 digests,
//!   long polling on a `Notify` per queue, the retention sweep) over the
//!   backend;
//! - `moves.rs`: message move tasks (DLQ redrives) run in the background;
//! - `policy.rs`: the `Policy` documents permissions edit, and the
//!   `RedriveAllowPolicy` of dead-letter queues;
//! - `wire/`: the protocol (`X-Amz-Target: AmazonSQS.<Op>`), each
//!   operation's request and response types (`wire/types.rs`), each
//!   operation mapped to the semantics and errors to SQS's codes;
//! - `service.rs`: the service as the protocol layer's router sees it:
//!   signing name, target prefix, IAM action and resource per operation,
//!   and SQS's error shape.

pub mod backend;
pub mod moves;
pub mod policy;
pub mod queues;
mod service;
pub mod wire;

pub use backend::QueueBackend;
pub use service::SqsService;
pub use stratus_service_kit::{
    ErrorKind, EventOrigin, Kit, MessageAttribute, SendMessage, ServiceError, now_ms,
};

use std::sync::Arc;
use stratus_core::StoreError;

/// An answer of the service.
pub(crate) type Reply = http::Response<bytes::Bytes>;

/// The queue service; cheap to clone. It derefs to the shared [`Kit`].
#[derive(Clone)]
pub struct Sqs {
    kit: Kit,
    queues: Arc<dyn QueueBackend>,
    state: Arc<queues::QueueState>,
}

impl std::ops::Deref for Sqs {
    type Target = Kit;

    fn deref(&self) -> &Kit {
        &self.kit
    }
}

impl Sqs {
    /// The service over `kit`, its queues kept by `queues`, with its
    /// retention sweep running and the message move tasks of an earlier
    /// run resumed.
    pub fn start(kit: Kit, queues: Arc<dyn QueueBackend>) -> Sqs {
        let sqs = Sqs {
            kit,
            queues,
            state: Arc::default(),
        };
        queues::spawn(&sqs);
        sqs.resume_move_tasks();
        sqs
    }

    /// Where the queues are kept.
    pub fn backend(&self) -> &Arc<dyn QueueBackend> {
        &self.queues
    }
}

/// A backend's error as SQS answers it: `context` names what was being
/// done (logged for a server fault, never shown).
pub(crate) fn backend_error(context: &'static str) -> impl FnOnce(StoreError) -> ServiceError {
    move |error| ServiceError::store(context, error)
}

pub(crate) use stratus_aws::protocol::json_object as json_body;
