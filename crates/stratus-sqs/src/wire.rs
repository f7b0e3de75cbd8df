//! SQS over its JSON 1.0 protocol (`X-Amz-Target: AmazonSQS.<Op>`,
//! `application/x-amz-json-1.0`), so the real SDKs' `sqs` clients work.
//!
//! Errors have SQS's JSON shape, `{"__type": "com.amazonaws.sqs#Code",
//! "message": ...}`, and the `x-amzn-query-error` header with the code of
//! SQS's older query protocol (`AWS.SimpleQueueService.NonExistentQueue;
//! Sender`), which is what the SDKs surface as the error code. A `QueueUrl`
//! may be a queue URL, an ARN or a bare queue name.

use crate::Reply;
use crate::moves::{MAX_LISTED_TASKS, MAX_MESSAGES_PER_SECOND, MoveTask};
use crate::queues::{
    MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, MessageAttribute, OutgoingMessage, ReceivedMessage,
    SendMessage, SendMode, md5_of_attributes, message_size, queue_name_of,
};
use crate::{ErrorKind, ServiceError, Sqs as Events};
use base64::Engine as _;
use http::StatusCode;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;
use stratus_aws::AwsRequest;
use stratus_aws::Caller;
use stratus_aws::{AwsError, Protocol};
use stratus_core::function::ACCOUNT_ID;

/// Largest `ListQueues` page.
const MAX_LIST_RESULTS: usize = 1000;

type Outcome = Result<Value, ServiceError>;

pub(crate) async fn handle(
    events: &Events,
    operation: &str,
    request: AwsRequest,
) -> Result<Reply, AwsError> {
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
    let reply = match operation {
        "CreateQueue" => create_queue(events, &body).await,
        "DeleteQueue" => delete_queue(events, &body).await,
        "ListQueues" => list_queues(events, &body).await,
        "GetQueueUrl" => get_queue_url(events, &body).await,
        "SendMessage" => send_message(events, &body, &sender).await,
        "SendMessageBatch" => send_message_batch(events, &body, &sender).await,
        "ReceiveMessage" => receive_message(events, &body).await,
        "DeleteMessage" => delete_message(events, &body).await,
        "DeleteMessageBatch" => delete_message_batch(events, &body).await,
        "ChangeMessageVisibility" => change_visibility(events, &body).await,
        "ChangeMessageVisibilityBatch" => change_visibility_batch(events, &body).await,
        "GetQueueAttributes" => get_queue_attributes(events, &body).await,
        "SetQueueAttributes" => set_queue_attributes(events, &body).await,
        "PurgeQueue" => purge_queue(events, &body).await,
        "ListDeadLetterSourceQueues" => list_dead_letter_sources(events, &body).await,
        "StartMessageMoveTask" => start_message_move_task(events, &body).await,
        "ListMessageMoveTasks" => list_message_move_tasks(events, &body).await,
        "CancelMessageMoveTask" => cancel_message_move_task(events, &body).await,
        "ListQueueTags" => list_queue_tags(events, &body).await,
        "TagQueue" => tag_queue(events, &body).await,
        "UntagQueue" => untag_queue(events, &body).await,
        "AddPermission" => add_permission(events, &body).await,
        "RemovePermission" => remove_permission(events, &body).await,
        other => Err(ServiceError::invalid(
            "UnsupportedOperation",
            format!("The operation {other} is not supported."),
        )),
    };
    let value = reply.map_err(|e| to_aws(&e))?;
    Ok(Protocol::Json10.json_ok(&value, &request.context.request_id))
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

fn opt_str<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, ServiceError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(name, "a string")),
    }
}

fn req_str<'a>(body: &'a Value, name: &str) -> Result<&'a str, ServiceError> {
    opt_str(body, name)?.ok_or_else(|| missing(name))
}

fn opt_int(body: &Value, name: &str) -> Result<Option<i64>, ServiceError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| wrong_type(name, "an integer")),
        Some(_) => Err(wrong_type(name, "an integer")),
    }
}

fn bounded(body: &Value, name: &str, min: i64, max: i64) -> Result<Option<u32>, ServiceError> {
    match opt_int(body, name)? {
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

fn string_map(body: &Value, name: &str) -> Result<BTreeMap<String, String>, ServiceError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(wrong_type(&format!("{name}.{k}"), "a string")),
            })
            .collect(),
        Some(_) => Err(wrong_type(name, "a map of strings")),
    }
}

fn string_list(body: &Value, name: &str) -> Result<Vec<String>, ServiceError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| wrong_type(name, "a list of strings"))
            })
            .collect(),
        Some(_) => Err(wrong_type(name, "a list of strings")),
    }
}

/// The queue a request names (`QueueUrl`).
fn queue_of(body: &Value) -> Result<String, ServiceError> {
    let url = req_str(body, "QueueUrl")?;
    let name = queue_name_of(url);
    if name.is_empty() {
        return Err(invalid(format!("The queue URL {url} is not valid.")));
    }
    Ok(name.to_string())
}

async fn create_queue(events: &Events, body: &Value) -> Outcome {
    let name = req_str(body, "QueueName")?;
    let attributes = string_map(body, "Attributes")?;
    let tags = string_map(body, "tags")?;
    events.create_queue_tagged(name, &attributes, &tags).await?;
    Ok(json!({"QueueUrl": events.queue_url(name)}))
}

async fn list_queue_tags(events: &Events, body: &Value) -> Outcome {
    let tags = events.queue_tags(&queue_of(body)?).await?;
    if tags.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({"Tags": tags}))
}

async fn tag_queue(events: &Events, body: &Value) -> Outcome {
    let queue = queue_of(body)?;
    let tags = string_map(body, "Tags")?;
    if tags.is_empty() {
        return Err(missing("Tags"));
    }
    events.tag_queue(&queue, &tags).await?;
    Ok(json!({}))
}

async fn untag_queue(events: &Events, body: &Value) -> Outcome {
    let queue = queue_of(body)?;
    let keys = string_list(body, "TagKeys")?;
    if keys.is_empty() {
        return Err(invalid(
            "Tag keys must be between 1 and 128 characters in length.".to_string(),
        ));
    }
    events.untag_queue(&queue, &keys).await?;
    Ok(json!({}))
}

async fn add_permission(events: &Events, body: &Value) -> Outcome {
    let queue = queue_of(body)?;
    let label = req_str(body, "Label")?;
    if body.get("AWSAccountIds").is_none() {
        return Err(missing("AWSAccountIds"));
    }
    if body.get("Actions").is_none() {
        return Err(missing("Actions"));
    }
    let accounts = string_list(body, "AWSAccountIds")?;
    let actions = string_list(body, "Actions")?;
    events
        .add_permission(&queue, label, &accounts, &actions)
        .await?;
    Ok(json!({}))
}

async fn remove_permission(events: &Events, body: &Value) -> Outcome {
    let queue = queue_of(body)?;
    let label = req_str(body, "Label")?;
    events.remove_permission(&queue, label).await?;
    Ok(json!({}))
}

async fn delete_queue(events: &Events, body: &Value) -> Outcome {
    events.delete_queue(&queue_of(body)?).await?;
    Ok(json!({}))
}

async fn list_queues(events: &Events, body: &Value) -> Outcome {
    let prefix = opt_str(body, "QueueNamePrefix")?.unwrap_or("");
    let max = match bounded(body, "MaxResults", 1, MAX_LIST_RESULTS as i64)? {
        Some(n) => n as usize,
        None => MAX_LIST_RESULTS,
    };
    let after = opt_str(body, "NextToken")?
        .map(|token| {
            base64::engine::general_purpose::STANDARD
                .decode(token)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .ok_or_else(|| invalid("Invalid NextToken value.".to_string()))
        })
        .transpose()?;
    let names = events.list_queues(prefix).await?;
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
    let mut reply = Map::new();
    if !page.is_empty() {
        reply.insert(
            "QueueUrls".into(),
            page.iter()
                .map(|n| Value::String(events.queue_url(n)))
                .collect(),
        );
    }
    if more && let Some(last) = page.last() {
        reply.insert(
            "NextToken".into(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(last.as_bytes())),
        );
    }
    Ok(Value::Object(reply))
}

async fn get_queue_url(events: &Events, body: &Value) -> Outcome {
    let name = req_str(body, "QueueName")?;
    let attributes = events.queue_attributes(name).await?;
    Ok(json!({"QueueUrl": events.queue_url(&attributes.name)}))
}

/// Reads `MessageAttributes` of a send.
fn message_attributes(body: &Value) -> Result<BTreeMap<String, MessageAttribute>, ServiceError> {
    let Some(value) = body.get("MessageAttributes") else {
        return Ok(BTreeMap::new());
    };
    let map = match value {
        Value::Null => return Ok(BTreeMap::new()),
        Value::Object(map) => map,
        _ => return Err(wrong_type("MessageAttributes", "a map")),
    };
    let mut out = BTreeMap::new();
    for (name, attribute) in map {
        let data_type = opt_str(attribute, "DataType")?.ok_or_else(|| {
            invalid(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            ))
        })?;
        let binary_value = opt_str(attribute, "BinaryValue")?
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
            name.clone(),
            MessageAttribute {
                data_type: data_type.to_string(),
                string_value: opt_str(attribute, "StringValue")?.map(str::to_string),
                binary_value,
            },
        );
    }
    Ok(out)
}

/// Reads `MessageSystemAttributes` of a send: SQS has one, the
/// `AWSTraceHeader` (a `String`); without it, the request's
/// `X-Amzn-Trace-Id`.
fn trace_header(entry: &Value, sender: &Sender) -> Result<Option<String>, ServiceError> {
    let map = match entry.get("MessageSystemAttributes") {
        None | Some(Value::Null) => return Ok(sender.trace_header.clone()),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(wrong_type("MessageSystemAttributes", "a map")),
    };
    let mut trace = sender.trace_header.clone();
    for (name, attribute) in map {
        if name != "AWSTraceHeader" {
            return Err(invalid(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        let data_type = opt_str(attribute, "DataType")?;
        let value = opt_str(attribute, "StringValue")?.filter(|v| !v.is_empty());
        match (data_type, value) {
            (Some("String"), Some(value)) => trace = Some(value.to_string()),
            _ => {
                return Err(invalid(format!(
                    "Message system attribute '{name}' must contain a non-empty value of type 'String'."
                )));
            }
        }
    }
    Ok(trace)
}

fn send_entry(entry: &Value, sender: &Sender) -> Result<OutgoingMessage, ServiceError> {
    let delay_seconds = match opt_int(entry, "DelaySeconds")? {
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
            body: req_str(entry, "MessageBody")?.to_string(),
            delay_seconds,
            attributes: message_attributes(entry)?,
            group_id: opt_str(entry, "MessageGroupId")?.map(str::to_string),
            dedup_id: opt_str(entry, "MessageDeduplicationId")?.map(str::to_string),
        },
        trace_header: trace_header(entry, sender)?,
    })
}

fn sent_json(sent: &crate::queues::SentMessage) -> Map<String, Value> {
    let mut reply = Map::new();
    reply.insert("MessageId".into(), json!(sent.message_id));
    reply.insert("MD5OfMessageBody".into(), json!(sent.md5_of_body));
    if let Some(md5) = &sent.md5_of_attributes {
        reply.insert("MD5OfMessageAttributes".into(), json!(md5));
    }
    if let Some(md5) = &sent.md5_of_system_attributes {
        reply.insert("MD5OfMessageSystemAttributes".into(), json!(md5));
    }
    if let Some(sequence) = &sent.sequence_number {
        reply.insert("SequenceNumber".into(), json!(sequence));
    }
    reply
}

async fn send_message(events: &Events, body: &Value, sender: &Sender) -> Outcome {
    let queue = queue_of(body)?;
    let message = send_entry(body, sender)?;
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
    Ok(Value::Object(sent_json(&sent)))
}

/// Reads and checks a batch's `Entries` of `kind` (`SendMessage`,
/// `DeleteMessage`, `ChangeMessageVisibility`): 1 to 10, distinct
/// well-formed ids.
fn batch_entries<'a>(
    body: &'a Value,
    kind: &str,
) -> Result<Vec<(String, &'a Value)>, ServiceError> {
    let entries: &[Value] = match body.get("Entries") {
        None | Some(Value::Null) => &[],
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(wrong_type("Entries", "a list")),
    };
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
        let id = req_str(entry, "Id")?;
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
        if !seen.insert(id) {
            return Err(ServiceError::invalid(
                "BatchEntryIdsNotDistinct",
                format!("Id {id} repeated."),
            ));
        }
        out.push((id.to_string(), entry));
    }
    Ok(out)
}

fn failed_json(id: &str, error: &ServiceError) -> Value {
    json!({
        "Id": id,
        "SenderFault": error.kind != ErrorKind::Internal,
        "Code": query_code(error.code),
        "Message": error.message,
    })
}

async fn send_message_batch(events: &Events, body: &Value, sender: &Sender) -> Outcome {
    let queue = queue_of(body)?;
    let entries = batch_entries(body, "SendMessage")?;
    let mut failed = Vec::new();
    let mut ids = Vec::new();
    let mut messages = Vec::new();
    let mut total = 0usize;
    for (n, (id, entry)) in entries.iter().enumerate() {
        if opt_str(entry, "MessageBody")
            .ok()
            .flatten()
            .is_none_or(str::is_empty)
        {
            failed.push(failed_json(
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
        match send_entry(entry, sender) {
            Ok(message) => {
                total += message_size(&message.message);
                ids.push(id.clone());
                messages.push(message);
            }
            Err(error) => failed.push(failed_json(id, &error)),
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
        for (id, result) in ids.iter().zip(results) {
            match result {
                Ok(sent) => {
                    let mut entry = sent_json(&sent);
                    entry.insert("Id".into(), json!(id));
                    successful.push(Value::Object(entry));
                }
                Err(error) => failed.push(failed_json(id, &error)),
            }
        }
    }
    Ok(json!({"Successful": successful, "Failed": failed}))
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

fn message_json(message: ReceivedMessage, system: &[String], user: &[String]) -> Value {
    let mut reply = Map::new();
    reply.insert("MessageId".into(), json!(message.message_id));
    reply.insert("ReceiptHandle".into(), json!(message.receipt_handle));
    reply.insert("MD5OfBody".into(), json!(message.md5_of_body));
    reply.insert("Body".into(), json!(message.body));
    let attributes: Map<String, Value> = message
        .attributes
        .iter()
        .filter(|(name, _)| wanted(name, system))
        .map(|(name, value)| (name.clone(), json!(value)))
        .collect();
    if !attributes.is_empty() {
        reply.insert("Attributes".into(), Value::Object(attributes));
    }
    let selected: BTreeMap<String, MessageAttribute> = message
        .message_attributes
        .into_iter()
        .filter(|(name, _)| wanted(name, user))
        .collect();
    if let Some(md5) = md5_of_attributes(&selected) {
        reply.insert("MD5OfMessageAttributes".into(), json!(md5));
        let rendered: Map<String, Value> = selected
            .into_iter()
            .map(|(name, attribute)| {
                let mut value = Map::new();
                value.insert("DataType".into(), json!(attribute.data_type));
                if let Some(text) = attribute.string_value {
                    value.insert("StringValue".into(), json!(text));
                }
                if let Some(binary) = attribute.binary_value {
                    value.insert(
                        "BinaryValue".into(),
                        json!(base64::engine::general_purpose::STANDARD.encode(binary)),
                    );
                }
                (name, Value::Object(value))
            })
            .collect();
        reply.insert("MessageAttributes".into(), Value::Object(rendered));
    }
    Value::Object(reply)
}

async fn receive_message(events: &Events, body: &Value) -> Outcome {
    let queue = queue_of(body)?;
    let max = bounded(body, "MaxNumberOfMessages", 1, 10)?.unwrap_or(1);
    let visibility = bounded(body, "VisibilityTimeout", 0, 43_200)?;
    let wait = match bounded(body, "WaitTimeSeconds", 0, 20)? {
        Some(wait) => wait,
        None => events.queue_attributes(&queue).await?.receive_wait_s,
    };
    let mut system = string_list(body, "AttributeNames")?;
    system.extend(string_list(body, "MessageSystemAttributeNames")?);
    let user = string_list(body, "MessageAttributeNames")?;
    let messages = events
        .receive_messages(
            &queue,
            max as usize,
            visibility,
            Duration::from_secs(u64::from(wait)),
        )
        .await?;
    let messages: Vec<Value> = messages
        .into_iter()
        .map(|m| message_json(m, &system, &user))
        .collect();
    Ok(json!({"Messages": messages}))
}

async fn delete_message(events: &Events, body: &Value) -> Outcome {
    let queue = queue_of(body)?;
    let handle = req_str(body, "ReceiptHandle")?.to_string();
    let mut results = events.delete_messages(&queue, &[handle]).await?;
    results.pop().unwrap_or(Ok(()))?;
    Ok(json!({}))
}

async fn delete_message_batch(events: &Events, body: &Value) -> Outcome {
    let queue = queue_of(body)?;
    let entries = batch_entries(body, "DeleteMessage")?;
    let mut failed = Vec::new();
    let mut ids = Vec::new();
    let mut handles = Vec::new();
    for (id, entry) in &entries {
        match req_str(entry, "ReceiptHandle") {
            Ok(handle) => {
                ids.push(id.clone());
                handles.push(handle.to_string());
            }
            Err(error) => failed.push(failed_json(id, &error)),
        }
    }
    let results = events.delete_messages(&queue, &handles).await?;
    let mut successful = Vec::new();
    for (id, result) in ids.iter().zip(results) {
        match result {
            Ok(()) => successful.push(json!({"Id": id})),
            Err(error) => failed.push(failed_json(id, &error)),
        }
    }
    Ok(json!({"Successful": successful, "Failed": failed}))
}

async fn change_visibility(events: &Events, body: &Value) -> Outcome {
    let queue = queue_of(body)?;
    let handle = req_str(body, "ReceiptHandle")?;
    let secs = bounded(body, "VisibilityTimeout", 0, 43_200)?
        .ok_or_else(|| missing("VisibilityTimeout"))?;
    events.change_visibility(&queue, handle, secs).await?;
    Ok(json!({}))
}

async fn change_visibility_batch(events: &Events, body: &Value) -> Outcome {
    let queue = queue_of(body)?;
    let entries = batch_entries(body, "ChangeMessageVisibility")?;
    let mut failed = Vec::new();
    let mut ids = Vec::new();
    let mut changes = Vec::new();
    for (id, entry) in &entries {
        let parsed = req_str(entry, "ReceiptHandle").and_then(|handle| {
            let secs = bounded(entry, "VisibilityTimeout", 0, 43_200)?
                .ok_or_else(|| missing("VisibilityTimeout"))?;
            Ok((handle.to_string(), secs))
        });
        match parsed {
            Ok(change) => {
                ids.push(id.clone());
                changes.push(change);
            }
            Err(error) => failed.push(failed_json(id, &error)),
        }
    }
    let results = events.change_visibility_batch(&queue, &changes).await?;
    let mut successful = Vec::new();
    for (id, result) in ids.iter().zip(results) {
        match result {
            Ok(()) => successful.push(json!({"Id": id})),
            Err(error) => failed.push(failed_json(id, &error)),
        }
    }
    Ok(json!({"Successful": successful, "Failed": failed}))
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

async fn get_queue_attributes(events: &Events, body: &Value) -> Outcome {
    let queue = queue_of(body)?;
    let names = string_list(body, "AttributeNames")?;
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
    let selected: Map<String, Value> = attributes
        .all
        .into_iter()
        .filter(|(name, _)| names.iter().any(|n| n == "All" || n == name))
        .map(|(name, value)| (name, Value::String(value)))
        .collect();
    if selected.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({"Attributes": selected}))
}

async fn set_queue_attributes(events: &Events, body: &Value) -> Outcome {
    let queue = queue_of(body)?;
    let attributes = string_map(body, "Attributes")?;
    if body.get("Attributes").is_none() {
        return Err(missing("Attributes"));
    }
    events.set_queue_attributes(&queue, &attributes).await?;
    Ok(json!({}))
}

async fn purge_queue(events: &Events, body: &Value) -> Outcome {
    let queue = queue_of(body)?;
    let purged = events.purge_queue(&queue).await?;
    tracing::info!(queue, purged, "purged queue");
    Ok(json!({}))
}

async fn list_dead_letter_sources(events: &Events, body: &Value) -> Outcome {
    let queue = queue_of(body)?;
    let max = bounded(body, "MaxResults", 1, 1000)?.map_or(1000, |n| n as usize);
    let sources = events.dead_letter_sources(&queue).await?;
    let urls: Vec<Value> = sources
        .iter()
        .take(max)
        .map(|name| Value::String(events.queue_url(name)))
        .collect();
    Ok(json!({"queueUrls": urls}))
}

async fn start_message_move_task(events: &Events, body: &Value) -> Outcome {
    let source = req_str(body, "SourceArn")?;
    let destination = opt_str(body, "DestinationArn")?;
    let rate = bounded(
        body,
        "MaxNumberOfMessagesPerSecond",
        1,
        i64::from(MAX_MESSAGES_PER_SECOND),
    )?;
    let handle = events.start_move_task(source, destination, rate).await?;
    Ok(json!({"TaskHandle": handle}))
}

fn move_task_json(task: &MoveTask) -> Value {
    let mut entry = Map::new();
    if task.status == crate::moves::MoveStatus::Running {
        entry.insert("TaskHandle".into(), json!(task.handle()));
    }
    entry.insert("Status".into(), json!(task.status.as_str()));
    entry.insert("SourceArn".into(), json!(task.source_arn));
    if let Some(destination) = &task.destination_arn {
        entry.insert("DestinationArn".into(), json!(destination));
    }
    if let Some(rate) = task.max_per_second {
        entry.insert("MaxNumberOfMessagesPerSecond".into(), json!(rate));
    }
    entry.insert("ApproximateNumberOfMessagesMoved".into(), json!(task.moved));
    entry.insert(
        "ApproximateNumberOfMessagesToMove".into(),
        json!(task.to_move),
    );
    if let Some(reason) = &task.failure_reason {
        entry.insert("FailureReason".into(), json!(reason));
    }
    entry.insert("StartedTimestamp".into(), json!(task.started_ms));
    Value::Object(entry)
}

async fn list_message_move_tasks(events: &Events, body: &Value) -> Outcome {
    let source = req_str(body, "SourceArn")?;
    let max = bounded(body, "MaxResults", 1, MAX_LISTED_TASKS as i64)?.unwrap_or(1);
    let tasks = events.list_move_tasks(source, max as usize).await?;
    let results: Vec<Value> = tasks.iter().map(move_task_json).collect();
    Ok(json!({"Results": results}))
}

async fn cancel_message_move_task(events: &Events, body: &Value) -> Outcome {
    let handle = req_str(body, "TaskHandle")?;
    let moved = events.cancel_move_task(handle).await?;
    Ok(json!({"ApproximateNumberOfMessagesMoved": moved}))
}
