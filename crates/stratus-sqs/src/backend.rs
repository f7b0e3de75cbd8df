//! The seam between SQS's semantics and where queues are kept.
//!
//! [`QueueBackend`] has one async method per operation SQS needs from its
//! state, at the level of SQS's operations, not rows: a send, a receive
//! that makes messages invisible (and moves those received too often to
//! the dead-letter queue), a delete and a receive in one call, a
//! visibility change, a redrive chunk, a purge, queue CRUD and settings,
//! counts, the retention sweep, tags and move-task documents. An
//! operation that touches two kinds of state (a receive that redrives, a
//! delete-and-receive, a settings change read and written together) is
//! one call, so that a backend can make it one transaction.
//!
//! Every method takes the clock as `now_ms` (milliseconds since the
//! epoch), so the conformance suite (`stratus-conformance`) drives any
//! backend through time without sleeping.
//!
//! `stratus-store-sqlite` implements it over the embedded SQLite store;
//! the binary and test harnesses build it and hand it to
//! [`crate::Sqs::start`]. This crate never names a backend.
//!
//! For now the methods answer [`StoreError`] and take and return the
//! store's types ([`QueueInfo`], [`NewQueueMessage`], [`QueueSettings`],
//! ...), re-exported from `stratus-store`. Moving those types out of the
//! store (and so reversing the dependency of this crate on
//! `stratus-store`) is the next step, not this one.

use crate::ServiceError;
use async_trait::async_trait;
use std::collections::BTreeMap;
pub use stratus_store::{
    DEDUP_WINDOW_MS, HandleOutcome, MoveOutcome, NewQueueMessage, QueueCounts, QueueInfo,
    QueueSettings, ReceiveOutcome, Redrive, SendOutcome, StoreError, StoredMessage,
};

/// A change of a queue's settings, computed from the queue as it is
/// inside the backend's transaction; an `Err` changes nothing and is
/// handed back.
pub type SettingsChange =
    Box<dyn FnOnce(&QueueInfo) -> Result<QueueSettings, ServiceError> + Send + 'static>;

/// Where queues, their messages, tags and move tasks are kept.
///
/// Every write that returns `Ok` is durable. A queue that does not exist
/// is [`StoreError::NotFound`] unless a method says otherwise.
#[async_trait]
pub trait QueueBackend: Send + Sync + 'static {
    /// Creates queue `name` with `settings` and `tags` unless it exists;
    /// returns the queue and whether it was created now (an existing
    /// queue is returned unchanged, its tags kept).
    async fn create_queue(
        &self,
        name: &str,
        fifo: bool,
        settings: &QueueSettings,
        tags: &BTreeMap<String, String>,
        now_ms: i64,
    ) -> Result<(QueueInfo, bool), StoreError>;

    /// Queue `name`, if it exists.
    async fn queue(&self, name: &str) -> Result<Option<QueueInfo>, StoreError>;

    /// Names of the queues starting with `prefix`, sorted.
    async fn list_queues(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// Deletes queue `name` with its messages, tags and move tasks.
    async fn delete_queue(&self, name: &str) -> Result<(), StoreError>;

    /// Replaces the settings of queue `name` by what `change` makes of the
    /// queue, in one transaction (concurrent changes are not lost). The
    /// inner `Err` is `change`'s refusal; nothing changed then.
    async fn update_queue_settings(
        &self,
        name: &str,
        now_ms: i64,
        change: SettingsChange,
    ) -> Result<Result<QueueInfo, ServiceError>, StoreError>;

    /// The tags of queue `name`.
    async fn queue_tags(&self, name: &str) -> Result<BTreeMap<String, String>, StoreError>;

    /// Adds (or replaces) `tags` of queue `name`; false, and nothing
    /// changed, when the queue would have more than `max_tags`.
    async fn tag_queue(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
        max_tags: usize,
    ) -> Result<bool, StoreError>;

    /// Removes the tags `keys` of queue `name` (absent ones are fine).
    async fn untag_queue(&self, name: &str, keys: &[String]) -> Result<(), StoreError>;

    /// Stores `messages` in queue `name`, in one transaction; one outcome
    /// per message. FIFO: sequence numbers grow, and a deduplication id
    /// seen within [`DEDUP_WINDOW_MS`] answers the original's id and
    /// stores nothing.
    async fn send_messages(
        &self,
        name: &str,
        messages: &[NewQueueMessage],
        now_ms: i64,
    ) -> Result<Vec<SendOutcome>, StoreError>;

    /// Receives up to `max` visible messages of queue `name`, invisible
    /// for `visibility_timeout_s` (else the queue's) from now, with a new
    /// receipt handle each. A message received more than the redrive
    /// policy's `maxReceiveCount` moves to the dead-letter queue instead.
    /// FIFO: in order within a group, and no message of a group that has
    /// one in flight.
    async fn receive_messages(
        &self,
        name: &str,
        max: usize,
        visibility_timeout_s: Option<u32>,
        now_ms: i64,
    ) -> Result<ReceiveOutcome, StoreError>;

    /// Deletes `handles`, then receives as
    /// [`QueueBackend::receive_messages`] does, in one transaction.
    async fn delete_and_receive(
        &self,
        name: &str,
        handles: &[String],
        max: usize,
        visibility_timeout_s: Option<u32>,
        now_ms: i64,
    ) -> Result<(Vec<HandleOutcome>, ReceiveOutcome), StoreError>;

    /// Deletes messages by receipt handle, in one transaction; one
    /// outcome per handle. On a standard queue every handle a message was
    /// received with deletes it; on a FIFO queue only the current
    /// receive's.
    async fn delete_messages(
        &self,
        name: &str,
        handles: &[String],
        now_ms: i64,
    ) -> Result<Vec<HandleOutcome>, StoreError>;

    /// Makes received messages visible the given seconds from now, in one
    /// transaction; one outcome per entry.
    async fn change_visibility(
        &self,
        name: &str,
        entries: &[(String, u32)],
        now_ms: i64,
    ) -> Result<Vec<HandleOutcome>, StoreError>;

    /// Deletes every message of queue `name`; returns how many.
    async fn purge_queue(&self, name: &str) -> Result<u64, StoreError>;

    /// Counts of queue `name` at `now_ms`.
    async fn queue_counts(&self, name: &str, now_ms: i64) -> Result<QueueCounts, StoreError>;

    /// Every queue with its counts at `now_ms`.
    async fn queue_stats(&self, now_ms: i64) -> Result<Vec<(QueueInfo, QueueCounts)>, StoreError>;

    /// The queues whose redrive policy names `dlq`, sorted.
    async fn dead_letter_sources(&self, dlq: &str) -> Result<Vec<String>, StoreError>;

    /// The position of the newest message of queue `name` (an opaque,
    /// growing id), None when it is empty: where a move task stops.
    async fn newest_message_id(&self, name: &str) -> Result<Option<i64>, StoreError>;

    /// Moves up to `limit` visible messages of queue `from` positioned
    /// after `after_id` (and up to `until_id`) to `to`, or back to the
    /// queue each came from when `to` is None (a message without one
    /// stays). A redrive chunk, one transaction.
    async fn move_messages(
        &self,
        from: &str,
        to: Option<&str>,
        after_id: i64,
        until_id: Option<i64>,
        limit: usize,
        now_ms: i64,
    ) -> Result<MoveOutcome, StoreError>;

    /// Records a running move task of queue `source` with its document;
    /// false when one runs there already.
    async fn start_move_task(
        &self,
        source: &str,
        task_id: &str,
        started_ms: i64,
        document: &str,
    ) -> Result<bool, StoreError>;

    /// Rewrites the document of running task `task_id` (and whether it
    /// still runs); false when it is no longer running or gone.
    async fn update_move_task(
        &self,
        task_id: &str,
        running: bool,
        document: &str,
    ) -> Result<bool, StoreError>;

    /// The documents of the newest `limit` move tasks of queue `source`,
    /// newest first.
    async fn move_tasks(&self, source: &str, limit: usize) -> Result<Vec<String>, StoreError>;

    /// The document of task `task_id` of queue `source`.
    async fn move_task(&self, source: &str, task_id: &str) -> Result<Option<String>, StoreError>;

    /// The documents of every running move task, oldest first.
    async fn running_move_tasks(&self) -> Result<Vec<String>, StoreError>;

    /// Removes messages past their queue's retention period and
    /// deduplication ids past their window; returns how many messages.
    async fn sweep_queues(&self, now_ms: i64) -> Result<u64, StoreError>;
}
