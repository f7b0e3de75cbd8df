//! EventBridge: buses, rules, targets, schedules, archives and replays,
//! connections and API destinations, and its JSON 1.1 protocol.
//!
//! - `backend.rs`: [`BusBackend`], where EventBridge's state is kept (the
//!   binary hands [`EventBridge::start`] one; `stratus-store-sqlite` has
//!   SQLite's);
//! - `bus.rs`: buses, rules, targets, permissions, tags, and PutEvents (the
//!   envelope, the bus's archives, every enabled rule of the bus matched,
//!   targets delivered through the shared
//!   [`Deliver`](stratus_service_kit::Deliver) seam with their input
//!   transformer; an event never re-enters a bus it passed);
//! - `targets.rs`: what a target's ARN names, its parameters
//!   (`SqsParameters`, `HttpParameters`, `RetryPolicy`), and the outbox of
//!   deliveries retried until they succeed;
//! - `scheduler.rs`: schedule ticks of manifests and of rules, each fired
//!   once with EventBridge's scheduled-event envelope;
//! - `archives.rs`: archives and replays;
//! - `connections.rs`: connections and API destinations (HTTP delivery);
//! - `wire/`: the protocol (`X-Amz-Target: AWSEvents.<Op>`), with each
//!   operation's request and response types (`wire/types.rs`);
//! - `service.rs`: the service as the protocol layer's router sees it.
//!
//! Background work (the scheduler, the outbox, replays, pruning archives)
//! runs on the kit's task tracker and stops with its cancellation token.

pub mod archives;
pub mod backend;
pub mod bus;
pub mod connections;
pub mod scheduler;
mod service;
pub mod targets;
pub mod wire;

pub use backend::BusBackend;
pub use service::EventBridgeService;
pub use stratus_service_kit::{ErrorKind, EventOrigin, Kit, ServiceError, now_ms};

use std::sync::Arc;
use stratus_core::StoreError;
use stratus_core::scope::Region;

/// An answer of the service.
pub(crate) type Reply = http::Response<bytes::Bytes>;

/// The event bus service; cheap to clone. It derefs to the shared [`Kit`].
#[derive(Clone)]
pub struct EventBridge {
    kit: Kit,
    backend: Arc<dyn BusBackend>,
    state: Arc<bus::BusState>,
    /// The region a request is served in ([`EventBridge::in_region`]);
    /// `None` for the service's own work, which names buses by key.
    region: Option<Region>,
}

impl std::ops::Deref for EventBridge {
    type Target = Kit;

    fn deref(&self) -> &Kit {
        &self.kit
    }
}

impl EventBridge {
    /// The service over `kit`, its state kept by `backend`, with its
    /// background loops running: the scheduler, the outbox, the replays a
    /// restart cut, and the pruning of archives.
    pub fn start(kit: Kit, backend: Arc<dyn BusBackend>) -> EventBridge {
        let events = EventBridge {
            kit,
            backend,
            state: Arc::default(),
            region: None,
        };
        scheduler::spawn(&events);
        let tasks = events.tasks().clone();
        tasks.spawn(events.clone().delivery_loop());
        tasks.spawn(events.clone().prune_loop());
        let resumer = events.clone();
        tasks.spawn(async move { resumer.resume_replays().await });
        events
    }

    /// Where buses, rules, archives, the outbox and schedules are kept.
    pub fn backend(&self) -> &Arc<dyn BusBackend> {
        &self.backend
    }

    /// The service as a request signed for `region` sees it: buses (and
    /// so their rules) are kept under their regional key
    /// ([`stratus_core::scope::regional_key`]), so each region is its own
    /// namespace with its own `default` bus; names given are refused if
    /// they could pass for a key.
    pub fn in_region(&self, region: Region) -> EventBridge {
        EventBridge {
            region: Some(region),
            ..self.clone()
        }
    }

    /// The key of an archive, replay, connection or API destination named
    /// `name` (its `member` in errors) in the request's region; the
    /// service's own calls pass keys through. No such name has a `:`.
    pub(crate) fn key_of(&self, name: &str, member: &str) -> Result<String, ServiceError> {
        match &self.region {
            None => Ok(name.to_string()),
            Some(_) if name.contains(':') => Err(ServiceError::invalid(
                "ValidationException",
                format!(
                    "1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
                ),
            )),
            Some(region) => Ok(stratus_core::scope::regional_key(region, name)),
        }
    }

    /// Whether `key` is of the request's region (every key is, for the
    /// service's own calls): the List operations show those.
    pub(crate) fn in_scope(&self, key: &str) -> bool {
        self.region
            .as_ref()
            .is_none_or(|region| stratus_core::scope::split_regional_key(key).0 == *region)
    }

    /// `prefix` as a prefix of the request's region's keys.
    pub(crate) fn key_prefix(&self, prefix: &str) -> String {
        match &self.region {
            None => prefix.to_string(),
            Some(region) => stratus_core::scope::regional_key(region, prefix),
        }
    }

    /// The service for its own calls, which name buses by key.
    pub(crate) fn unscoped(&self) -> EventBridge {
        EventBridge {
            region: None,
            ..self.clone()
        }
    }
}

/// A backend's error as EventBridge answers it: `context` names what was
/// being done (logged for a server fault, never shown).
pub(crate) fn backend_error(context: &'static str) -> impl FnOnce(StoreError) -> ServiceError {
    move |error| ServiceError::store(context, error)
}

pub(crate) use stratus_aws::protocol::json_object as json_body;
