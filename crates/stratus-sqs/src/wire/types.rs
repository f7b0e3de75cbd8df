//! SQS's requests and responses, one type per operation's input and output,
//! named and shaped as SQS's JSON protocol has them (`QueueUrl`, `tags`,
//! `queueUrls`, ...).
//!
//! Requests are read with [`stratus_aws::decode`]; what SQS checks beyond a
//! member's type (ranges, batch sizes, names) the handlers check. A
//! response's optional member is absent, not `null`, when it has nothing.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// `CreateQueue`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateQueueRequest {
    /// The queue's name.
    pub queue_name: String,
    /// Its attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Its tags (lower case, as SQS names the member).
    #[serde(default, rename = "tags")]
    pub tags: BTreeMap<String, String>,
}

/// The answer of `CreateQueue` and `GetQueueUrl`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueUrlResult {
    /// The queue's URL.
    pub queue_url: String,
}

/// A request about one queue and nothing else: `DeleteQueue`,
/// `PurgeQueue`, `ListQueueTags`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueRequest {
    /// The queue: its URL, ARN or name.
    pub queue_url: String,
}

/// The answer of an operation that answers nothing.
#[derive(Debug, Serialize)]
pub struct Empty {}

/// `ListQueueTags`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueueTagsResult {
    /// The tags; absent when there are none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// `TagQueue`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagQueueRequest {
    /// The queue.
    pub queue_url: String,
    /// The tags to set (SQS wants at least one).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// `UntagQueue`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagQueueRequest {
    /// The queue.
    pub queue_url: String,
    /// The tags to remove (SQS wants at least one).
    #[serde(default)]
    pub tag_keys: Vec<String>,
}

/// `AddPermission`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionRequest {
    /// The queue.
    pub queue_url: String,
    /// The statement's id.
    pub label: String,
    /// The principals.
    #[serde(rename = "AWSAccountIds")]
    pub aws_account_ids: Vec<String>,
    /// The actions.
    pub actions: Vec<String>,
}

/// `RemovePermission`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovePermissionRequest {
    /// The queue.
    pub queue_url: String,
    /// The statement's id.
    pub label: String,
}

/// `ListQueues`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueuesRequest {
    /// Only the queues whose names start with it.
    pub queue_name_prefix: Option<String>,
    /// The largest page.
    pub max_results: Option<i64>,
    /// Where the page starts, as the last page said.
    pub next_token: Option<String>,
}

/// `ListQueues`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueuesResult {
    /// The queues' URLs; absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queue_urls: Vec<String>,
    /// Where the next page starts, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `GetQueueUrl`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueUrlRequest {
    /// The queue's name.
    pub queue_name: String,
}

/// A message attribute, as a send gives it and a receive answers it.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageAttributeValue {
    /// `String`, `Number`, `Binary`, optionally with a `.label`. SQS
    /// wants one (checked by the handler, in its words).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    /// Base64 of a binary value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<String>,
    /// A string (or number) value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
}

/// A message system attribute of a send (SQS has one, `AWSTraceHeader`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageSystemAttributeValue {
    /// Must be `String`.
    pub data_type: Option<String>,
    /// The value.
    pub string_value: Option<String>,
}

/// `SendMessage`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageRequest {
    /// The queue.
    pub queue_url: String,
    /// The delay, in seconds.
    pub delay_seconds: Option<i64>,
    /// The body.
    pub message_body: String,
    /// The message attributes.
    #[serde(default)]
    pub message_attributes: BTreeMap<String, MessageAttributeValue>,
    /// FIFO: the message group.
    pub message_group_id: Option<String>,
    /// FIFO: the deduplication id.
    pub message_deduplication_id: Option<String>,
    /// The message system attributes.
    pub message_system_attributes: Option<BTreeMap<String, MessageSystemAttributeValue>>,
}

/// A `SendMessageBatch` entry (its `Id` and `MessageBody` are read first,
/// on their own).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatchRequestEntry {
    /// The entry's id.
    pub id: String,
    /// The delay, in seconds.
    pub delay_seconds: Option<i64>,
    /// The body.
    pub message_body: String,
    /// The message attributes.
    #[serde(default)]
    pub message_attributes: BTreeMap<String, MessageAttributeValue>,
    /// FIFO: the message group.
    pub message_group_id: Option<String>,
    /// FIFO: the deduplication id.
    pub message_deduplication_id: Option<String>,
    /// The message system attributes.
    pub message_system_attributes: Option<BTreeMap<String, MessageSystemAttributeValue>>,
}

/// The answer of a send: `SendMessage`'s, and with an `Id` each
/// successful entry of `SendMessageBatch`.
#[derive(Debug, Serialize)]
pub struct SendMessageResult {
    /// The batch entry's id.
    #[serde(rename = "Id", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The message's id.
    #[serde(rename = "MessageId")]
    pub message_id: String,
    /// MD5 (hex) of the body.
    #[serde(rename = "MD5OfMessageBody")]
    pub md5_of_message_body: String,
    /// MD5 (hex) of the message attributes, if any.
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub md5_of_message_attributes: Option<String>,
    /// MD5 (hex) of the message system attributes, if any.
    #[serde(
        rename = "MD5OfMessageSystemAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub md5_of_message_system_attributes: Option<String>,
    /// FIFO: the sequence number.
    #[serde(rename = "SequenceNumber", skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
}

/// A batch request: the queue and its entries, each read on its own since
/// a bad entry fails alone (`SendMessageBatch`, `DeleteMessageBatch`,
/// `ChangeMessageVisibilityBatch`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchRequest {
    /// The queue.
    pub queue_url: String,
    /// The entries, read by the handler as its operation's entry type.
    #[serde(default)]
    pub entries: Vec<Value>,
}

/// A batch entry's `Id`, read before the rest of the entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchEntryId {
    /// The id, distinct in the batch.
    pub id: String,
}

/// A `SendMessageBatch` entry's body alone: a missing, empty or non-text
/// body fails the entry with `EmptyValue` before anything else is read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchEntryBody<'a> {
    /// The body.
    #[serde(borrow)]
    pub message_body: Option<&'a str>,
}

/// A failed batch entry.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchResultErrorEntry {
    /// The entry's id.
    pub id: String,
    /// Whether the request was at fault.
    pub sender_fault: bool,
    /// The error's code (the query protocol's).
    pub code: String,
    /// The error's message.
    pub message: String,
}

/// A successful entry of `DeleteMessageBatch` or
/// `ChangeMessageVisibilityBatch`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchResultEntry {
    /// The entry's id.
    pub id: String,
}

/// A batch's answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchResult<T> {
    /// The entries done.
    pub successful: Vec<T>,
    /// The entries failed.
    pub failed: Vec<BatchResultErrorEntry>,
}

/// `ReceiveMessage`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessageRequest {
    /// The queue.
    pub queue_url: String,
    /// At most this many messages (1 to 10).
    pub max_number_of_messages: Option<i64>,
    /// The received messages' visibility timeout.
    pub visibility_timeout: Option<i64>,
    /// How long to wait for a message.
    pub wait_time_seconds: Option<i64>,
    /// The system attributes to answer (the older member).
    #[serde(default)]
    pub attribute_names: Vec<String>,
    /// The system attributes to answer.
    #[serde(default)]
    pub message_system_attribute_names: Vec<String>,
    /// The message attributes to answer.
    #[serde(default)]
    pub message_attribute_names: Vec<String>,
}

/// A received message.
#[derive(Debug, Serialize)]
pub struct Message {
    /// Its id.
    #[serde(rename = "MessageId")]
    pub message_id: String,
    /// The handle to delete it or change its visibility with.
    #[serde(rename = "ReceiptHandle")]
    pub receipt_handle: String,
    /// MD5 (hex) of the body.
    #[serde(rename = "MD5OfBody")]
    pub md5_of_body: String,
    /// The body.
    #[serde(rename = "Body")]
    pub body: String,
    /// The system attributes asked for; absent when none.
    #[serde(rename = "Attributes", skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// MD5 (hex) of the message attributes answered, if any.
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub md5_of_message_attributes: Option<String>,
    /// The message attributes asked for; absent when none.
    #[serde(
        rename = "MessageAttributes",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub message_attributes: BTreeMap<String, MessageAttributeValue>,
}

/// `ReceiveMessage`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessageResult {
    /// The messages (maybe none).
    pub messages: Vec<Message>,
}

/// `DeleteMessage`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageRequest {
    /// The queue.
    pub queue_url: String,
    /// The message's receipt handle.
    pub receipt_handle: String,
}

/// A `DeleteMessageBatch` entry (its `Id` read apart).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageBatchRequestEntry {
    /// The message's receipt handle.
    pub receipt_handle: String,
}

/// `ChangeMessageVisibility`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeMessageVisibilityRequest {
    /// The queue.
    pub queue_url: String,
    /// The message's receipt handle.
    pub receipt_handle: String,
    /// The new timeout from now, in seconds.
    pub visibility_timeout: i64,
}

/// A `ChangeMessageVisibilityBatch` entry (its `Id` read apart).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeMessageVisibilityBatchRequestEntry {
    /// The message's receipt handle.
    pub receipt_handle: String,
    /// The new timeout from now, in seconds.
    pub visibility_timeout: i64,
}

/// `GetQueueAttributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueAttributesRequest {
    /// The queue.
    pub queue_url: String,
    /// The attributes to answer (`All` for every one).
    #[serde(default)]
    pub attribute_names: Vec<String>,
}

/// `GetQueueAttributes`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueAttributesResult {
    /// The attributes asked for; absent when none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// `SetQueueAttributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetQueueAttributesRequest {
    /// The queue.
    pub queue_url: String,
    /// The attributes to set.
    pub attributes: BTreeMap<String, String>,
}

/// `ListDeadLetterSourceQueues`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListDeadLetterSourceQueuesRequest {
    /// The dead-letter queue.
    pub queue_url: String,
    /// At most this many.
    pub max_results: Option<i64>,
}

/// `ListDeadLetterSourceQueues`'s answer.
#[derive(Debug, Serialize)]
pub struct ListDeadLetterSourceQueuesResult {
    /// The source queues' URLs (lower camel, as SQS names the member).
    #[serde(rename = "queueUrls")]
    pub queue_urls: Vec<String>,
}

/// `StartMessageMoveTask`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartMessageMoveTaskRequest {
    /// The dead-letter queue's ARN.
    pub source_arn: String,
    /// Where to move; absent to move each message back to its source.
    pub destination_arn: Option<String>,
    /// The rate.
    pub max_number_of_messages_per_second: Option<i64>,
}

/// `StartMessageMoveTask`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartMessageMoveTaskResult {
    /// The task's handle.
    pub task_handle: String,
}

/// `ListMessageMoveTasks`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMessageMoveTasksRequest {
    /// The dead-letter queue's ARN.
    pub source_arn: String,
    /// At most this many (the latest first).
    pub max_results: Option<i64>,
}

/// A move task as `ListMessageMoveTasks` answers it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMessageMoveTasksResultEntry {
    /// The handle, while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_handle: Option<String>,
    /// `RUNNING`, `COMPLETED`, `CANCELLING`, `CANCELLED`, `FAILED`.
    pub status: String,
    /// The dead-letter queue's ARN.
    pub source_arn: String,
    /// Where it moves, if not back to each message's source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_arn: Option<String>,
    /// The rate, if the task has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_number_of_messages_per_second: Option<u32>,
    /// Messages moved so far.
    pub approximate_number_of_messages_moved: u64,
    /// Messages in the source when it started.
    pub approximate_number_of_messages_to_move: u64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// When it started (ms since the epoch).
    pub started_timestamp: i64,
}

/// `ListMessageMoveTasks`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMessageMoveTasksResult {
    /// The tasks.
    pub results: Vec<ListMessageMoveTasksResultEntry>,
}

/// `CancelMessageMoveTask`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelMessageMoveTaskRequest {
    /// The task's handle.
    pub task_handle: String,
}

/// `CancelMessageMoveTask`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelMessageMoveTaskResult {
    /// Messages moved before it stopped.
    pub approximate_number_of_messages_moved: u64,
}
