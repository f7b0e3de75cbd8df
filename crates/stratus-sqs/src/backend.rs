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
//! The methods answer [`StoreError`] and take and return the records
//! defined here ([`QueueInfo`], [`NewQueueMessage`], [`QueueSettings`],
//! ...): the backend depends on this crate, never the other way.

use crate::ServiceError;
use async_trait::async_trait;
use std::collections::BTreeMap;
pub use stratus_core::StoreError;

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

// The records a queue backend stores and returns.

/// How long a FIFO deduplication id is remembered.
pub const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;

/// A queue's redrive policy: where messages go after too many receives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Redrive {
    /// The dead-letter queue's name.
    pub dlq: String,
    /// A message received more than this many times moves to the DLQ.
    pub max_receive_count: u32,
}

/// A queue's settings, validated by the caller.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueSettings {
    /// Seconds a received message stays invisible.
    pub visibility_timeout_s: u32,
    /// Seconds a sent message stays invisible.
    pub delay_s: u32,
    /// Seconds a message is kept.
    pub retention_s: u32,
    /// FIFO: deduplicate by the body's SHA-256 when no id is given.
    pub content_based_dedup: bool,
    /// Where messages go after too many receives.
    pub redrive: Option<Redrive>,
    /// Every settable attribute as SQS names and spells it, for
    /// `GetQueueAttributes`.
    pub attributes: BTreeMap<String, String>,
}

/// A stored queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    /// The row id.
    pub id: i64,
    /// The name.
    pub name: String,
    /// A FIFO queue (name ends in `.fifo`).
    pub fifo: bool,
    /// Its settings.
    pub settings: QueueSettings,
    /// When it was created (ms since the epoch).
    pub created_ms: i64,
    /// When its attributes last changed.
    pub modified_ms: i64,
}

/// A message to store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewQueueMessage {
    /// The message id to answer with.
    pub message_id: String,
    /// The body.
    pub body: String,
    /// MD5 (hex) of the body.
    pub md5_of_body: String,
    /// The message attributes, encoded by the caller.
    pub attributes: Option<String>,
    /// MD5 (hex) of the attributes.
    pub md5_of_attributes: Option<String>,
    /// Who sent it (`SenderId`).
    pub sender: String,
    /// Overrides the queue's delay.
    pub delay_s: Option<u32>,
    /// FIFO: the message group.
    pub group_id: Option<String>,
    /// FIFO: the deduplication id (already derived from the body for
    /// content-based deduplication).
    pub dedup_id: Option<String>,
    /// The `AWSTraceHeader` message system attribute.
    pub trace_header: Option<String>,
}

/// What storing a message answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    /// The message's id (the original's for a duplicate).
    pub message_id: String,
    /// FIFO: the sequence number.
    pub sequence_number: Option<String>,
    /// A duplicate within the deduplication window: nothing was stored.
    pub duplicate: bool,
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The message id.
    pub message_id: String,
    /// The handle to delete it or change its visibility with.
    pub receipt_handle: String,
    /// The body.
    pub body: String,
    /// MD5 (hex) of the body.
    pub md5_of_body: String,
    /// The attributes, as the sender's caller encoded them.
    pub attributes: Option<String>,
    /// MD5 (hex) of the attributes.
    pub md5_of_attributes: Option<String>,
    /// `SenderId`.
    pub sender: String,
    /// When it was sent.
    pub sent_ms: i64,
    /// Receives so far, this one included.
    pub receive_count: u32,
    /// When it was first received.
    pub first_receive_ms: i64,
    /// FIFO: the message group.
    pub group_id: Option<String>,
    /// FIFO: the deduplication id.
    pub dedup_id: Option<String>,
    /// FIFO: the sequence number.
    pub sequence_number: Option<String>,
    /// The `AWSTraceHeader` message system attribute.
    pub trace_header: Option<String>,
    /// The queue it was moved to this one (a DLQ) from, after too many
    /// receives there.
    pub dead_letter_source: Option<String>,
}

/// What a receive did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiveOutcome {
    /// The messages delivered.
    pub messages: Vec<StoredMessage>,
    /// How many messages moved to the dead-letter queue instead.
    pub moved_to_dlq: u32,
    /// That queue's name, when some moved.
    pub dlq: Option<String>,
}

/// The result of one entry of a delete or visibility change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleOutcome {
    /// Done (a delete of a message already gone is done too).
    Done,
    /// The handle is malformed, of another queue, or was never issued.
    InvalidHandle,
    /// Changing visibility: the message is gone (deleted, expired or
    /// moved).
    Gone,
    /// FIFO: the handle is not the one of the receive in flight (the
    /// message became visible again, or was received again since).
    Expired,
}

/// Counts of one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Messages that can be received now.
    pub visible: u64,
    /// Received and not yet deleted nor visible again.
    pub in_flight: u64,
    /// Sent with a delay that has not passed.
    pub delayed: u64,
    /// When the oldest message was sent.
    pub oldest_sent_ms: Option<i64>,
}

/// What [`Store::move_messages`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveOutcome {
    /// How many moved.
    pub moved: u64,
    /// The queues they moved to (to wake their receivers).
    pub destinations: Vec<String>,
    /// The row id of the last message looked at (moved or left), to go on
    /// after; None when there was none left to look at.
    pub last_id: Option<i64>,
}
