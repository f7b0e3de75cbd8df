//! The event bus (EventBridge): buses, rules with event patterns, targets
//! with input transformers, PutEvents.
//!
//! OWNER: the EventBridge work package. [`Events::put_events`] and
//! [`PutEventsEntry`] are used by destinations; keep their shape.

use crate::{Events, EventsError};

/// One entry of PutEvents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutEventsEntry {
    /// `Source`.
    pub source: String,
    /// `DetailType`.
    pub detail_type: String,
    /// `Detail`: a JSON object as text.
    pub detail: String,
    /// `EventBusName` (name or ARN); `default` when None.
    pub bus: Option<String>,
    /// `Resources`.
    pub resources: Vec<String>,
    /// `Time` (RFC 3339); now when None.
    pub time: Option<String>,
}

impl Events {
    /// Puts events on their buses, matching every rule; one result per
    /// entry (its event id, or why it was refused), like PutEvents.
    pub async fn put_events(
        &self,
        entries: Vec<PutEventsEntry>,
    ) -> Vec<Result<String, EventsError>> {
        entries
            .into_iter()
            .map(|e| {
                Err(EventsError::not_found(
                    "ResourceNotFoundException",
                    format!(
                        "Event bus {} does not exist.",
                        e.bus.as_deref().unwrap_or("default")
                    ),
                ))
            })
            .collect()
    }
}
