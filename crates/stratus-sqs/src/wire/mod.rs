//! SQS over its JSON 1.0 protocol (`X-Amz-Target: AmazonSQS.<Op>`,
//! `application/x-amz-json-1.0`), so the real SDKs' `sqs` clients work.
//!
//! Errors have SQS's JSON shape, `{"__type": "com.amazonaws.sqs#Code",
//! "message": ...}`, and the `x-amzn-query-error` header with the code of
//! SQS's older query protocol (`AWS.SimpleQueueService.NonExistentQueue;
//! Sender`), which is what the SDKs surface as the error code. A `QueueUrl`
//! may be a queue URL, an ARN or a bare queue name.
//!
//! Each operation reads its request type and answers its response type
//! (`types.rs`); a request member of the wrong type or a missing one is
//! answered as SQS does (`InvalidParameterValue` "The parameter X must be
//! a string.", `MissingParameter`).

use crate::Reply;
use crate::moves::{MAX_LISTED_TASKS, MAX_MESSAGES_PER_SECOND, MoveTask};
use crate::queues::{
    MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, MessageAttribute, OutgoingMessage, ReceivedMessage,
    SendMessage, SendMode, md5_of_attributes, message_size, queue_name_of,
};
use crate::{ErrorKind, ServiceError, Sqs};
use base64::Engine as _;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;
use stratus_aws::AwsRequest;
use stratus_aws::Caller;
use stratus_aws::decode::{DecodeError, Problem, decode};
use stratus_aws::{AwsError, Protocol};
use stratus_core::scope::{Region, regional_key};
use types::*;

pub mod types;
use stratus_core::function::ACCOUNT_ID;

/// Largest `ListQueues` page.
const MAX_LIST_RESULTS: usize = 1000;

type Outcome = Result<Value, ServiceError>;

pub(crate) async fn handle(
    sqs: &Sqs,
    operation: &str,
    request: AwsRequest,
) -> Result<Reply, AwsError> {
    let events = &Events {
        sqs,
        region: crate::service::region_of(&request),
    };
    let Some(body) = crate::json_body(&request.body) else {
        return Err(to_aws(&invalid(
            "The request body is not a valid JSON object.".to_string(),
        )));
    };
    let sender = Sender {
        id: match &request.context.caller {
            Caller::Admin => ACCOUNT_ID.to_string(),
            Caller::Function(name) => format!("AROASTRATUS:{name}"),
            Caller::Anonymous => "anonymous".to_string(),
        },
        // SQS takes a message's AWSTraceHeader from X-Ray's header too.
        trace_header: request.header("x-amzn-trace-id").map(str::to_string),
    };
    let body = &body;
    let reply = match operation {
        "CreateQueue" => call(body, |r| create_queue(events, r)).await,
        "DeleteQueue" => call(body, |r| delete_queue(events, r)).await,
        "ListQueues" => call(body, |r| list_queues(events, r)).await,
        "GetQueueUrl" => call(body, |r| get_queue_url(events, r)).await,
        "SendMessage" => call(body, |r| send_message(events, r, &sender)).await,
        "SendMessageBatch" => call(body, |r| send_message_batch(events, r, &sender)).await,
        "ReceiveMessage" => call(body, |r| receive_message(events, r)).await,
        "DeleteMessage" => call(body, |r| delete_message(events, r)).await,
        "DeleteMessageBatch" => call(body, |r| delete_message_batch(events, r)).await,
        "ChangeMessageVisibility" => call(body, |r| change_visibility(events, r)).await,
        "ChangeMessageVisibilityBatch" => call(body, |r| change_visibility_batch(events, r)).await,
        "GetQueueAttributes" => call(body, |r| get_queue_attributes(events, r)).await,
        "SetQueueAttributes" => call(body, |r| set_queue_attributes(events, r)).await,
        "PurgeQueue" => call(body, |r| purge_queue(events, r)).await,
        "ListDeadLetterSourceQueues" => call(body, |r| list_dead_letter_sources(events, r)).await,
        "StartMessageMoveTask" => call(body, |r| start_message_move_task(events, r)).await,
        "ListMessageMoveTasks" => call(body, |r| list_message_move_tasks(events, r)).await,
        "CancelMessageMoveTask" => call(body, |r| cancel_message_move_task(events, r)).await,
        "ListQueueTags" => call(body, |r| list_queue_tags(events, r)).await,
        "TagQueue" => call(body, |r| tag_queue(events, r)).await,
        "UntagQueue" => call(body, |r| untag_queue(events, r)).await,
        "AddPermission" => call(body, |r| add_permission(events, r)).await,
        "RemovePermission" => call(body, |r| remove_permission(events, r)).await,
        other => Err(ServiceError::invalid(
            "UnsupportedOperation",
            format!("The operation {other} is not supported."),
        )),
    };
    let value = reply.map_err(|e| to_aws(&e))?;
    Ok(Protocol::Json10.json_ok(&value, &request.context.request_id))
}

/// Runs an operation on its typed request and response
/// ([`stratus_service_kit::wire::call`], with this service's decoder).
async fn call<'a, Req, Resp, Fut>(body: &'a Value, operation: impl FnOnce(Req) -> Fut) -> Outcome
where
    Req: Deserialize<'a>,
    Resp: Serialize,
    Fut: Future<Output = Result<Resp, ServiceError>>,
{
    stratus_service_kit::wire::call(body, read, operation).await
}

/// Reads a request (or a batch entry) of type `T` out of `body`.
fn read<'a, T: Deserialize<'a>>(body: &'a Value) -> Result<T, ServiceError> {
    decode(body).map_err(|error| decode_error(&error))
}

/// The members that are maps of strings.
const STRING_MAPS: &[&str] = &["Attributes", "Tags", "tags"];

/// The members that are lists of strings, whose wrong items SQS reports as
/// the list being wrong.
const STRING_LISTS: &[&str] = &[
    "AWSAccountIds",
    "Actions",
    "AttributeNames",
    "MessageAttributeNames",
    "MessageSystemAttributeNames",
    "TagKeys",
];

/// A request that is not its operation's type, in SQS's words.
fn decode_error(error: &DecodeError) -> ServiceError {
    let top = error.top();
    let expected = match &error.problem {
        Problem::Missing => return missing(error.leaf()),
        Problem::Invalid(_) => {
            return invalid(format!("The parameter {} is not valid.", error.dotted()));
        }
        Problem::WrongType { expected } => expected.as_str(),
    };
    if STRING_LISTS.contains(&top) {
        return wrong_type(top, "a list of strings");
    }
    if STRING_MAPS.contains(&top) {
        return match error.path.len() {
            1 => wrong_type(top, "a map of strings"),
            _ => wrong_type(&error.dotted(), "a string"),
        };
    }
    let leaf = error.leaf();
    let kind = match leaf {
        "MessageAttributes" | "MessageSystemAttributes" => "a map",
        "Entries" => "a list",
        _ if error.expects_integer() => "an integer",
        _ => expected,
    };
    wrong_type(leaf, kind)
}

/// The code of SQS's query protocol for an error code.
pub(crate) fn query_code(code: &str) -> &str {
    match code {
        "QueueDoesNotExist" => "AWS.SimpleQueueService.NonExistentQueue",
        "QueueNameExists" => "QueueAlreadyExists",
        "MessageNotInflight" => "AWS.SimpleQueueService.MessageNotInflight",
        "BatchEntryIdsNotDistinct" => "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        "TooManyEntriesInBatchRequest" => "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        "EmptyBatchRequest" => "AWS.SimpleQueueService.EmptyBatchRequest",
        "BatchRequestTooLong" => "AWS.SimpleQueueService.BatchRequestTooLong",
        "InvalidBatchEntryId" => "AWS.SimpleQueueService.InvalidBatchEntryId",
        "UnsupportedOperation" => "AWS.SimpleQueueService.UnsupportedOperation",
        "InternalFailure" => "InternalError",
        other => other,
    }
}

/// Who sends, as the request says.
struct Sender {
    /// `SenderId`.
    id: String,
    /// The request's `X-Amzn-Trace-Id`.
    trace_header: Option<String>,
}

/// An event service's error in SQS's codes and statuses.
fn to_aws(error: &ServiceError) -> AwsError {
    // Errors of other services' origins (store, engine) get SQS's codes.
    let code = match error.code {
        "ResourceNotFound" => "QueueDoesNotExist",
        "Conflict" => "QueueNameExists",
        other => other,
    };
    let status = match (error.kind, code) {
        (ErrorKind::Internal, _) => StatusCode::INTERNAL_SERVER_ERROR,
        (_, "ReceiptHandleIsInvalid" | "ResourceNotFoundException") => StatusCode::NOT_FOUND,
        (_, "OverLimit") => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    AwsError::new(status, code, error.message.clone()).with_query_code(query_code(code))
}

fn invalid(message: String) -> ServiceError {
    ServiceError::invalid("InvalidParameterValue", message)
}

fn missing(name: &str) -> ServiceError {
    ServiceError::invalid(
        "MissingParameter",
        format!("The request must contain the parameter {name}."),
    )
}

fn wrong_type(name: &str, kind: &str) -> ServiceError {
    invalid(format!("The parameter {name} must be {kind}."))
}

/// `value` of parameter `name` when it is from `min` to `max`.
fn bounded(
    value: Option<i64>,
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<u32>, ServiceError> {
    match value {
        None => Ok(None),
        Some(n) if (min..=max).contains(&n) => Ok(Some(n as u32)),
        // SQS's words differ by parameter.
        Some(n) if name == "WaitTimeSeconds" => Err(invalid(format!(
            "Value {n} for parameter {name} is invalid. Reason: Must be >= {min} and <= {max}, if provided."
        ))),
        Some(n) => Err(invalid(format!(
            "Value {n} for parameter {name} is invalid. Reason: Must be between {min} and {max}, if provided."
        ))),
    }
}

/// SQS as one request sees it: in the region its signature is scoped to.
/// Queues are kept under their regional key
/// ([`stratus_core::scope::regional_key`]), so each region is its own
/// namespace.
struct Events<'a> {
    sqs: &'a Sqs,
    region: Region,
}

impl std::ops::Deref for Events<'_> {
    type Target = Sqs;

    fn deref(&self) -> &Sqs {
        self.sqs
    }
}

impl Events<'_> {
    /// The key of the queue a request names by `QueueUrl` (a URL, a bare
    /// name, or an ARN, which names its own region).
    fn queue(&self, url: &str) -> Result<String, ServiceError> {
        let name = queue_name_of(url);
        if name.is_empty() {
            return Err(invalid(format!("The queue URL {url} is not valid.")));
        }
        if url.trim().starts_with("arn:") {
            return crate::queues::queue_of_arn(url.trim())
                .ok_or_else(|| invalid(format!("The queue URL {url} is not valid.")));
        }
        self.key(name)
    }

    /// The key of queue `name` in the request's region. No queue's name
    /// has a `:`.
    fn key(&self, name: &str) -> Result<String, ServiceError> {
        if name.contains(':') {
            return Err(crate::queues::no_such_queue(name));
        }
        Ok(regional_key(&self.region, name))
    }
}

async fn create_queue(
    events: &Events<'_>,
    request: CreateQueueRequest,
) -> Result<QueueUrlResult, ServiceError> {
    let name = &request.queue_name;
    // A name with a `:` could pass for another region's key: refuse it by
    // the naming rule first.
    crate::queues::validate_queue_name(name, name.ends_with(".fifo"))?;
    let key = events.key(name)?;
    events
        .create_queue_tagged(&key, &request.attributes, &request.tags)
        .await?;
    Ok(QueueUrlResult {
        queue_url: events.queue_url(&key),
    })
}

async fn list_queue_tags(
    events: &Events<'_>,
    request: QueueRequest,
) -> Result<ListQueueTagsResult, ServiceError> {
    let tags = events
        .queue_tags(&events.queue(&request.queue_url)?)
        .await?;
    Ok(ListQueueTagsResult { tags })
}

async fn tag_queue(events: &Events<'_>, request: TagQueueRequest) -> Result<Empty, ServiceError> {
    let queue = events.queue(&request.queue_url)?;
    if request.tags.is_empty() {
        return Err(missing("Tags"));
    }
    events.tag_queue(&queue, &request.tags).await?;
    Ok(Empty {})
}

async fn untag_queue(
    events: &Events<'_>,
    request: UntagQueueRequest,
) -> Result<Empty, ServiceError> {
    let queue = events.queue(&request.queue_url)?;
    if request.tag_keys.is_empty() {
        return Err(invalid(
            "Tag keys must be between 1 and 128 characters in length.".to_string(),
        ));
    }
    events.untag_queue(&queue, &request.tag_keys).await?;
    Ok(Empty {})
}

async fn add_permission(
    events: &Events<'_>,
    request: AddPermissionRequest,
) -> Result<Empty, ServiceError> {
    let queue = events.queue(&request.queue_url)?;
    events
        .add_permission(
            &queue,
            &request.label,
            &request.aws_account_ids,
            &request.actions,
        )
        .await?;
    Ok(Empty {})
}

async fn remove_permission(
    events: &Events<'_>,
    request: RemovePermissionRequest,
) -> Result<Empty, ServiceError> {
    let queue = events.queue(&request.queue_url)?;
    events.remove_permission(&queue, &request.label).await?;
    Ok(Empty {})
}

async fn delete_queue(events: &Events<'_>, request: QueueRequest) -> Result<Empty, ServiceError> {
    events
        .delete_queue(&events.queue(&request.queue_url)?)
        .await?;
    Ok(Empty {})
}

async fn list_queues(
    events: &Events<'_>,
    request: ListQueuesRequest,
) -> Result<ListQueuesResult, ServiceError> {
    let prefix = request.queue_name_prefix.as_deref().unwrap_or("");
    let max = match bounded(
        request.max_results,
        "MaxResults",
        1,
        MAX_LIST_RESULTS as i64,
    )? {
        Some(n) => n as usize,
        None => MAX_LIST_RESULTS,
    };
    let after = request
        .next_token
        .map(|token| {
            base64::engine::general_purpose::STANDARD
                .decode(token)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .ok_or_else(|| invalid("Invalid NextToken value.".to_string()))
        })
        .transpose()?;
    let keys = events.list_queues(&events.region, prefix).await?;
    let names: Vec<String> = keys
        .iter()
        .map(|key| stratus_core::scope::split_regional_key(key).1.to_string())
        .collect();
    let page: Vec<&String> = names
        .iter()
        .filter(|name| {
            after
                .as_ref()
                .is_none_or(|after| name.as_str() > after.as_str())
        })
        .take(max + 1)
        .collect();
    let more = page.len() > max;
    let page = &page[..page.len().min(max)];
    Ok(ListQueuesResult {
        queue_urls: page.iter().map(|n| events.queue_url(n)).collect(),
        next_token: page
            .last()
            .filter(|_| more)
            .map(|last| base64::engine::general_purpose::STANDARD.encode(last.as_bytes())),
    })
}

async fn get_queue_url(
    events: &Events<'_>,
    request: GetQueueUrlRequest,
) -> Result<QueueUrlResult, ServiceError> {
    let key = events.key(&request.queue_name)?;
    let attributes = events.queue_attributes(&key).await?;
    Ok(QueueUrlResult {
        queue_url: events.queue_url(&attributes.name),
    })
}

/// A send's `MessageAttributes`, checked.
fn message_attributes(
    attributes: BTreeMap<String, MessageAttributeValue>,
) -> Result<BTreeMap<String, MessageAttribute>, ServiceError> {
    let mut out = BTreeMap::new();
    for (name, attribute) in attributes {
        let data_type = attribute.data_type.ok_or_else(|| {
            invalid(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            ))
        })?;
        let binary_value = attribute
            .binary_value
            .map(|b64| {
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| {
                        invalid(format!(
                            "The binary value of message attribute '{name}' is not valid base64."
                        ))
                    })
            })
            .transpose()?;
        out.insert(
            name,
            MessageAttribute {
                data_type,
                string_value: attribute.string_value,
                binary_value,
            },
        );
    }
    Ok(out)
}

/// A send's `MessageSystemAttributes`: SQS has one, the `AWSTraceHeader`
/// (a `String`); without it, the request's `X-Amzn-Trace-Id`.
fn trace_header(
    attributes: Option<BTreeMap<String, MessageSystemAttributeValue>>,
    sender: &Sender,
) -> Result<Option<String>, ServiceError> {
    let mut trace = sender.trace_header.clone();
    for (name, attribute) in attributes.unwrap_or_default() {
        if name != "AWSTraceHeader" {
            return Err(invalid(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        let value = attribute.string_value.filter(|v| !v.is_empty());
        match (attribute.data_type.as_deref(), value) {
            (Some("String"), Some(value)) => trace = Some(value),
            _ => {
                return Err(invalid(format!(
                    "Message system attribute '{name}' must contain a non-empty value of type 'String'."
                )));
            }
        }
    }
    Ok(trace)
}

/// What a send (`SendMessage` or a `SendMessageBatch` entry) says of its
/// message.
struct Send {
    delay_seconds: Option<i64>,
    message_body: String,
    message_attributes: BTreeMap<String, MessageAttributeValue>,
    message_group_id: Option<String>,
    message_deduplication_id: Option<String>,
    message_system_attributes: Option<BTreeMap<String, MessageSystemAttributeValue>>,
}

impl From<SendMessageRequest> for Send {
    fn from(r: SendMessageRequest) -> Self {
        Send {
            delay_seconds: r.delay_seconds,
            message_body: r.message_body,
            message_attributes: r.message_attributes,
            message_group_id: r.message_group_id,
            message_deduplication_id: r.message_deduplication_id,
            message_system_attributes: r.message_system_attributes,
        }
    }
}

impl From<SendMessageBatchRequestEntry> for Send {
    fn from(r: SendMessageBatchRequestEntry) -> Self {
        Send {
            delay_seconds: r.delay_seconds,
            message_body: r.message_body,
            message_attributes: r.message_attributes,
            message_group_id: r.message_group_id,
            message_deduplication_id: r.message_deduplication_id,
            message_system_attributes: r.message_system_attributes,
        }
    }
}

fn send_entry(send: Send, sender: &Sender) -> Result<OutgoingMessage, ServiceError> {
    let delay_seconds = match send.delay_seconds {
        None => None,
        // The queue's rules (and words) apply above 900; below 0 is never
        // a delay.
        Some(n) if n >= 0 => Some(u32::try_from(n).unwrap_or(u32::MAX)),
        Some(n) => {
            return Err(invalid(format!(
                "Value {n} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
            )));
        }
    };
    Ok(OutgoingMessage {
        message: SendMessage {
            body: send.message_body,
            delay_seconds,
            attributes: message_attributes(send.message_attributes)?,
            group_id: send.message_group_id,
            dedup_id: send.message_deduplication_id,
        },
        trace_header: trace_header(send.message_system_attributes, sender)?,
    })
}

fn sent_result(id: Option<String>, sent: crate::queues::SentMessage) -> SendMessageResult {
    SendMessageResult {
        id,
        message_id: sent.message_id,
        md5_of_message_body: sent.md5_of_body,
        md5_of_message_attributes: sent.md5_of_attributes,
        md5_of_message_system_attributes: sent.md5_of_system_attributes,
        sequence_number: sent.sequence_number,
    }
}

async fn send_message(
    events: &Events<'_>,
    request: SendMessageRequest,
    sender: &Sender,
) -> Result<SendMessageResult, ServiceError> {
    let queue = events.queue(&request.queue_url)?;
    let message = send_entry(request.into(), sender)?;
    let mut results = events
        .send_outgoing(&queue, vec![message], &sender.id, SendMode::Single)
        .await?;
    let sent = results.pop().unwrap_or_else(|| {
        Err(ServiceError::new(
            ErrorKind::Internal,
            "InternalFailure",
            "a send answered nothing",
        ))
    })?;
    Ok(sent_result(None, sent))
}

/// Checks a batch's `Entries` of `kind` (`SendMessage`, `DeleteMessage`,
/// `ChangeMessageVisibility`): 1 to 10, distinct well-formed ids; each
/// with its id.
fn batch_entries<'a>(
    entries: &'a [Value],
    kind: &str,
) -> Result<Vec<(String, &'a Value)>, ServiceError> {
    if entries.is_empty() {
        return Err(ServiceError::invalid(
            "EmptyBatchRequest",
            format!("There should be at least one {kind}BatchRequestEntry in the request."),
        ));
    }
    if entries.len() > MAX_BATCH_ENTRIES {
        return Err(ServiceError::invalid(
            "TooManyEntriesInBatchRequest",
            format!(
                "Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {}.",
                entries.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let BatchEntryId { id } = read(entry)?;
        let well_formed = !id.is_empty()
            && id.len() <= 80
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !well_formed {
            return Err(ServiceError::invalid(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id.clone()) {
            return Err(ServiceError::invalid(
                "BatchEntryIdsNotDistinct",
                format!("Id {id} repeated."),
            ));
        }
        out.push((id, entry));
    }
    Ok(out)
}

fn failed_entry(id: &str, error: &ServiceError) -> BatchResultErrorEntry {
    BatchResultErrorEntry {
        id: id.to_string(),
        sender_fault: error.kind != ErrorKind::Internal,
        code: query_code(error.code).to_string(),
        message: error.message.clone(),
    }
}

async fn send_message_batch(
    events: &Events<'_>,
    request: BatchRequest,
    sender: &Sender,
) -> Result<BatchResult<SendMessageResult>, ServiceError> {
    let queue = events.queue(&request.queue_url)?;
    let entries = batch_entries(&request.entries, "SendMessage")?;
    let mut failed = Vec::new();
    let mut ids = Vec::new();
    let mut messages = Vec::new();
    let mut total = 0usize;
    for (n, (id, entry)) in entries.iter().enumerate() {
        let body = decode::<BatchEntryBody>(entry)
            .ok()
            .and_then(|entry| entry.message_body);
        if body.is_none_or(str::is_empty) {
            failed.push(failed_entry(
                id,
                &ServiceError::invalid(
                    "EmptyValue",
                    format!(
                        "No Value Found for SendMessageBatchRequestEntry.{}.MessageBody.",
                        n + 1
                    ),
                ),
            ));
            continue;
        }
        let message = read::<SendMessageBatchRequestEntry>(entry)
            .and_then(|entry| send_entry(entry.into(), sender));
        match message {
            Ok(message) => {
                total += message_size(&message.message);
                ids.push(id.clone());
                messages.push(message);
            }
            Err(error) => failed.push(failed_entry(id, &error)),
        }
    }
    if total > MAX_BATCH_BYTES {
        return Err(ServiceError::invalid(
            "BatchRequestTooLong",
            format!(
                "Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent {total} bytes."
            ),
        ));
    }
    let mut successful = Vec::new();
    if !messages.is_empty() {
        let results = events
            .send_outgoing(&queue, messages, &sender.id, SendMode::Batch)
            .await?;
        for (id, result) in ids.into_iter().zip(results) {
            match result {
                Ok(sent) => successful.push(sent_result(Some(id), sent)),
                Err(error) => failed.push(failed_entry(&id, &error)),
            }
        }
    }
    Ok(BatchResult { successful, failed })
}

/// Whether attribute `name` is asked for by `wanted` (`All`, `.*`, exact
/// names, `prefix.*`).
fn wanted(name: &str, wanted: &[String]) -> bool {
    wanted.iter().any(|w| {
        w == "All"
            || w == ".*"
            || w == name
            || w.strip_suffix(".*").is_some_and(|prefix| {
                name.starts_with(prefix) && name[prefix.len()..].starts_with('.')
            })
    })
}

fn message_result(message: ReceivedMessage, system: &[String], user: &[String]) -> Message {
    let selected: BTreeMap<String, MessageAttribute> = message
        .message_attributes
        .into_iter()
        .filter(|(name, _)| wanted(name, user))
        .collect();
    let md5_of_message_attributes = md5_of_attributes(&selected);
    let message_attributes = match md5_of_message_attributes {
        None => BTreeMap::new(),
        Some(_) => selected
            .into_iter()
            .map(|(name, attribute)| {
                let value = MessageAttributeValue {
                    data_type: Some(attribute.data_type),
                    string_value: attribute.string_value,
                    binary_value: attribute
                        .binary_value
                        .map(|binary| base64::engine::general_purpose::STANDARD.encode(binary)),
                };
                (name, value)
            })
            .collect(),
    };
    Message {
        message_id: message.message_id,
        receipt_handle: message.receipt_handle,
        md5_of_body: message.md5_of_body,
        body: message.body,
        attributes: message
            .attributes
            .into_iter()
            .filter(|(name, _)| wanted(name, system))
            .collect(),
        md5_of_message_attributes,
        message_attributes,
    }
}

async fn receive_message(
    events: &Events<'_>,
    request: ReceiveMessageRequest,
) -> Result<ReceiveMessageResult, ServiceError> {
    let queue = events.queue(&request.queue_url)?;
    let max = bounded(request.max_number_of_messages, "MaxNumberOfMessages", 1, 10)?.unwrap_or(1);
    let visibility = bounded(request.visibility_timeout, "VisibilityTimeout", 0, 43_200)?;
    let wait = match bounded(request.wait_time_seconds, "WaitTimeSeconds", 0, 20)? {
        Some(wait) => wait,
        None => events.queue_attributes(&queue).await?.receive_wait_s,
    };
    let mut system = request.attribute_names;
    system.extend(request.message_system_attribute_names);
    let user = request.message_attribute_names;
    let messages = events
        .receive_messages(
            &queue,
            max as usize,
            visibility,
            Duration::from_secs(u64::from(wait)),
        )
        .await?;
    Ok(ReceiveMessageResult {
        messages: messages
            .into_iter()
            .map(|m| message_result(m, &system, &user))
            .collect(),
    })
}

async fn delete_message(
    events: &Events<'_>,
    request: DeleteMessageRequest,
) -> Result<Empty, ServiceError> {
    let queue = events.queue(&request.queue_url)?;
    let mut results = events
        .delete_messages(&queue, &[request.receipt_handle])
        .await?;
    results.pop().unwrap_or(Ok(()))?;
    Ok(Empty {})
}

async fn delete_message_batch(
    events: &Events<'_>,
    request: BatchRequest,
) -> Result<BatchResult<BatchResultEntry>, ServiceError> {
    let queue = events.queue(&request.queue_url)?;
    let entries = batch_entries(&request.entries, "DeleteMessage")?;
    let mut failed = Vec::new();
    let mut ids = Vec::new();
    let mut handles = Vec::new();
    for (id, entry) in entries {
        match read::<DeleteMessageBatchRequestEntry>(entry) {
            Ok(entry) => {
                ids.push(id);
                handles.push(entry.receipt_handle);
            }
            Err(error) => failed.push(failed_entry(&id, &error)),
        }
    }
    let results = events.delete_messages(&queue, &handles).await?;
    let mut successful = Vec::new();
    for (id, result) in ids.into_iter().zip(results) {
        match result {
            Ok(()) => successful.push(BatchResultEntry { id }),
            Err(error) => failed.push(failed_entry(&id, &error)),
        }
    }
    Ok(BatchResult { successful, failed })
}

/// A visibility timeout, checked.
fn visibility_timeout(seconds: i64) -> Result<u32, ServiceError> {
    bounded(Some(seconds), "VisibilityTimeout", 0, 43_200).map(|secs| secs.unwrap_or_default())
}

async fn change_visibility(
    events: &Events<'_>,
    request: ChangeMessageVisibilityRequest,
) -> Result<Empty, ServiceError> {
    let queue = events.queue(&request.queue_url)?;
    let secs = visibility_timeout(request.visibility_timeout)?;
    events
        .change_visibility(&queue, &request.receipt_handle, secs)
        .await?;
    Ok(Empty {})
}

async fn change_visibility_batch(
    events: &Events<'_>,
    request: BatchRequest,
) -> Result<BatchResult<BatchResultEntry>, ServiceError> {
    let queue = events.queue(&request.queue_url)?;
    let entries = batch_entries(&request.entries, "ChangeMessageVisibility")?;
    let mut failed = Vec::new();
    let mut ids = Vec::new();
    let mut changes = Vec::new();
    for (id, entry) in entries {
        let parsed = read::<ChangeMessageVisibilityBatchRequestEntry>(entry).and_then(|entry| {
            let secs = visibility_timeout(entry.visibility_timeout)?;
            Ok((entry.receipt_handle, secs))
        });
        match parsed {
            Ok(change) => {
                ids.push(id);
                changes.push(change);
            }
            Err(error) => failed.push(failed_entry(&id, &error)),
        }
    }
    let results = events.change_visibility_batch(&queue, &changes).await?;
    let mut successful = Vec::new();
    for (id, result) in ids.into_iter().zip(results) {
        match result {
            Ok(()) => successful.push(BatchResultEntry { id }),
            Err(error) => failed.push(failed_entry(&id, &error)),
        }
    }
    Ok(BatchResult { successful, failed })
}

/// Every attribute name `GetQueueAttributes` knows.
const QUEUE_ATTRIBUTE_NAMES: &[&str] = &[
    "All",
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
];

async fn get_queue_attributes(
    events: &Events<'_>,
    request: GetQueueAttributesRequest,
) -> Result<GetQueueAttributesResult, ServiceError> {
    let queue = events.queue(&request.queue_url)?;
    let names = request.attribute_names;
    if let Some(unknown) = names
        .iter()
        .find(|n| !QUEUE_ATTRIBUTE_NAMES.contains(&n.as_str()))
    {
        return Err(ServiceError::invalid(
            "InvalidAttributeName",
            format!("Unknown Attribute {unknown}."),
        ));
    }
    let attributes = events.queue_attributes(&queue).await?;
    Ok(GetQueueAttributesResult {
        attributes: attributes
            .all
            .into_iter()
            .filter(|(name, _)| names.iter().any(|n| n == "All" || n == name))
            .collect(),
    })
}

async fn set_queue_attributes(
    events: &Events<'_>,
    request: SetQueueAttributesRequest,
) -> Result<Empty, ServiceError> {
    let queue = events.queue(&request.queue_url)?;
    events
        .set_queue_attributes(&queue, &request.attributes)
        .await?;
    Ok(Empty {})
}

async fn purge_queue(events: &Events<'_>, request: QueueRequest) -> Result<Empty, ServiceError> {
    let queue = events.queue(&request.queue_url)?;
    let purged = events.purge_queue(&queue).await?;
    tracing::info!(queue, purged, "purged queue");
    Ok(Empty {})
}

async fn list_dead_letter_sources(
    events: &Events<'_>,
    request: ListDeadLetterSourceQueuesRequest,
) -> Result<ListDeadLetterSourceQueuesResult, ServiceError> {
    let queue = events.queue(&request.queue_url)?;
    let max = bounded(request.max_results, "MaxResults", 1, 1000)?.map_or(1000, |n| n as usize);
    let sources = events.dead_letter_sources(&queue).await?;
    Ok(ListDeadLetterSourceQueuesResult {
        queue_urls: sources
            .iter()
            .take(max)
            .map(|name| events.queue_url(name))
            .collect(),
    })
}

async fn start_message_move_task(
    events: &Events<'_>,
    request: StartMessageMoveTaskRequest,
) -> Result<StartMessageMoveTaskResult, ServiceError> {
    let rate = bounded(
        request.max_number_of_messages_per_second,
        "MaxNumberOfMessagesPerSecond",
        1,
        i64::from(MAX_MESSAGES_PER_SECOND),
    )?;
    let task_handle = events
        .start_move_task(
            &request.source_arn,
            request.destination_arn.as_deref(),
            rate,
        )
        .await?;
    Ok(StartMessageMoveTaskResult { task_handle })
}

fn move_task_result(task: &MoveTask) -> ListMessageMoveTasksResultEntry {
    ListMessageMoveTasksResultEntry {
        task_handle: (task.status == crate::moves::MoveStatus::Running).then(|| task.handle()),
        status: task.status.as_str().to_string(),
        source_arn: task.source_arn.clone(),
        destination_arn: task.destination_arn.clone(),
        max_number_of_messages_per_second: task.max_per_second,
        approximate_number_of_messages_moved: task.moved,
        approximate_number_of_messages_to_move: task.to_move,
        failure_reason: task.failure_reason.clone(),
        started_timestamp: task.started_ms,
    }
}

async fn list_message_move_tasks(
    events: &Events<'_>,
    request: ListMessageMoveTasksRequest,
) -> Result<ListMessageMoveTasksResult, ServiceError> {
    let max = bounded(
        request.max_results,
        "MaxResults",
        1,
        MAX_LISTED_TASKS as i64,
    )?
    .unwrap_or(1);
    let tasks = events
        .list_move_tasks(&request.source_arn, max as usize)
        .await?;
    Ok(ListMessageMoveTasksResult {
        results: tasks.iter().map(move_task_result).collect(),
    })
}

async fn cancel_message_move_task(
    events: &Events<'_>,
    request: CancelMessageMoveTaskRequest,
) -> Result<CancelMessageMoveTaskResult, ServiceError> {
    let moved = events.cancel_move_task(&request.task_handle).await?;
    Ok(CancelMessageMoveTaskResult {
        approximate_number_of_messages_moved: moved,
    })
}
