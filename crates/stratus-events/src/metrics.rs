//! Prometheus metrics of the event sources: deliveries and retries per
//! source, and (rendered at scrape time from the store) queue depth, age of
//! the oldest message and DLQ depth per queue.

/// Counters kept in memory.
#[derive(Default)]
pub(crate) struct EventMetrics {}
