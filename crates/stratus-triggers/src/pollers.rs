//! Queue event-source mappings (`events: - sqs: ...`), Lambda's SQS
//! trigger: for each enabled mapping of a current function, pollers
//! receive batches, invoke the function synchronously with Lambda's SQS
//! event, and delete what it processed.
//!
//! - **Batching:** up to `batchSize` messages, gathered for at most
//!   `maximumBatchingWindow` seconds (with no window, a batch is what one
//!   long poll returns, at most 10).
//! - **Outcome:** success deletes the whole batch; a function error (or a
//!   wasm function's non-2xx answer) deletes nothing, so the messages come
//!   back after the queue's visibility timeout and move to its DLQ past
//!   `maxReceiveCount`. With `ReportBatchItemFailures` the answer
//!   `{"batchItemFailures": [{"itemIdentifier": id}]}` keeps only the
//!   named messages; an answer that cannot be read, or names a message not
//!   in the batch, fails the whole batch, as on Lambda. In a FIFO queue the
//!   messages of a group after a failed one are kept too, to keep order.
//! - **Throttles:** a throttled batch is made visible again at once and the
//!   poller backs off.
//! - **Scaling** follows queue depth: a mapping starts with one poller; a
//!   poller that got a full batch while more messages wait starts another,
//!   up to `maximumConcurrency` (default [`DEFAULT_MAX_POLLERS`]); a
//!   poller whose long poll came back empty stops unless it is the last.
//! - Mappings follow deploys: a changed or removed mapping's pollers stop
//!   (after their batch), new ones start.

use crate::{ServiceError, Triggers as Events};
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use stratus_core::SqsSource;
use stratus_core::events::{SqsEvent, SqsMessageAttribute, SqsRecord};
use stratus_core::function::queue_arn;
use stratus_core::scope::ResourceScope;
use stratus_engine::{EngineError, Trigger};
use stratus_sqs::queues::ReceivedMessage;
use tokio_util::sync::CancellationToken;

/// Pollers of one mapping when it sets no `maximumConcurrency`.
pub const DEFAULT_MAX_POLLERS: usize = 16;
/// Longest long poll of an idle poller.
const LONG_POLL: Duration = Duration::from_secs(20);
/// Back-off after a throttle or a store error.
const BACKOFF: Duration = Duration::from_millis(200);
/// SQS's largest receive.
const RECEIVE_MAX: usize = 10;

/// One mapping: a function and one of its `sqs` events.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MappingKey {
    function: String,
    version: u64,
    source: String,
}

struct Mapping {
    function: String,
    source: SqsSource,
    cap: usize,
    pollers: AtomicUsize,
    cancel: CancellationToken,
}

pub(crate) fn spawn(events: &Events) {
    let events = events.clone();
    let tracker = events.tasks().clone();
    tracker.spawn(async move { supervise(events).await });
}

/// Follows deploys, starting and stopping mappings.
async fn supervise(events: Events) {
    let mut deploys = events.engine().subscribe_deploys();
    let mut running: HashMap<MappingKey, Arc<Mapping>> = HashMap::new();
    loop {
        let wanted = wanted_mappings(&events);
        let keys: HashSet<&MappingKey> = wanted.iter().map(|(k, _, _)| k).collect();
        running.retain(|key, mapping| {
            let keep = keys.contains(key);
            if !keep {
                tracing::info!(function = %mapping.function, queue = %mapping.source.queue, "queue trigger stopped");
                mapping.cancel.cancel();
            }
            keep
        });
        for (key, function, source) in wanted {
            if running.contains_key(&key) {
                continue;
            }
            let cap = source
                .maximum_concurrency
                .map_or(DEFAULT_MAX_POLLERS, |c| c as usize)
                .max(1);
            let mapping = Arc::new(Mapping {
                function,
                source,
                cap,
                pollers: AtomicUsize::new(0),
                cancel: events.cancel().child_token(),
            });
            tracing::info!(function = %mapping.function, queue = %mapping.source.queue, batch_size = mapping.source.batch_size, max_pollers = cap, "queue trigger started");
            start_poller(&events, &mapping);
            running.insert(key, mapping);
        }
        tokio::select! {
            _ = events.cancel().cancelled() => break,
            changed = deploys.changed() => if changed.is_err() { break },
        }
    }
    for mapping in running.values() {
        mapping.cancel.cancel();
    }
}

fn wanted_mappings(events: &Events) -> Vec<(MappingKey, String, SqsSource)> {
    let mut wanted = Vec::new();
    for record in events.engine().functions() {
        for source in &record.config.events.sqs {
            if !source.enabled {
                continue;
            }
            let key = MappingKey {
                function: record.name.clone(),
                version: record.version,
                source: serde_json::to_string(source).unwrap_or_default(),
            };
            wanted.push((key, record.name.clone(), source.clone()));
        }
    }
    wanted
}

fn start_poller(events: &Events, mapping: &Arc<Mapping>) {
    mapping.pollers.fetch_add(1, Ordering::AcqRel);
    let events_for_task = events.clone();
    let mapping = mapping.clone();
    events.tasks().spawn(async move {
        poll(&events_for_task, &mapping).await;
        mapping.pollers.fetch_sub(1, Ordering::AcqRel);
    });
}

/// One poller's loop. The messages a batch processed are deleted together
/// with the receive of the next batch (one commit for both).
async fn poll(events: &Events, mapping: &Arc<Mapping>) {
    let queue = mapping.source.queue.clone();
    let mut warned_missing = false;
    let mut done: Vec<String> = Vec::new();
    loop {
        if mapping.cancel.is_cancelled() {
            break;
        }
        let batch = tokio::select! {
            _ = mapping.cancel.cancelled() => break,
            batch = gather(events, mapping, &mut done) => batch,
        };
        let messages = match batch {
            Ok(messages) => {
                warned_missing = false;
                messages
            }
            Err(error) => {
                if !warned_missing {
                    tracing::warn!(function = %mapping.function, queue = %queue, %error, "queue trigger cannot receive; retrying");
                    warned_missing = true;
                }
                tokio::select! {
                    _ = mapping.cancel.cancelled() => break,
                    _ = tokio::time::sleep(BACKOFF * 5) => {}
                }
                continue;
            }
        };
        if messages.is_empty() {
            // Idle: all but the last poller stop.
            if mapping.pollers.load(Ordering::Acquire) > 1 {
                break;
            }
            continue;
        }
        // Busy: more messages may wait; add a poller up to the cap.
        let full = messages.len() >= (mapping.source.batch_size as usize).min(RECEIVE_MAX);
        if full && mapping.pollers.load(Ordering::Acquire) < mapping.cap {
            start_poller(events, mapping);
        }
        // The batch runs to its end even at shutdown (the engine's grace
        // applies); what is not deleted comes back after the visibility
        // timeout.
        done = run_batch(events, mapping, messages).await;
    }
    if !done.is_empty() {
        delete(events, &mapping.function, &queue, &done).await;
    }
}

/// Deletes processed messages (when no receive follows).
async fn delete(events: &Events, function: &str, queue: &str, handles: &[String]) {
    match events.sqs().delete_messages(queue, handles).await {
        Ok(results) => report_stale(function, queue, &results),
        Err(error) => {
            tracing::warn!(function = %function, queue = %queue, %error, "could not delete processed messages; they will be delivered again");
        }
    }
}

fn report_stale(function: &str, queue: &str, results: &[Result<(), ServiceError>]) {
    let stale = results.iter().filter(|r| r.is_err()).count();
    if stale > 0 {
        tracing::warn!(function = %function, queue = %queue, stale, "processed messages could not be deleted (their visibility timeout ran out); they will be delivered again");
    }
}

/// Receives one batch: up to `batch_size` messages within the batching
/// window. `done` (handles of the last batch's processed messages) is
/// deleted in the same commit as the first receive, and emptied.
async fn gather(
    events: &Events,
    mapping: &Mapping,
    done: &mut Vec<String>,
) -> Result<Vec<ReceivedMessage>, ServiceError> {
    let source = &mapping.source;
    let want = source.batch_size.max(1) as usize;
    let mut batch = Vec::new();
    if !done.is_empty() {
        let (deleted, received) = events
            .sqs()
            .delete_and_receive(&source.queue, done, want.min(RECEIVE_MAX), None)
            .await?;
        report_stale(&mapping.function, &source.queue, &deleted);
        done.clear();
        batch = received;
    }
    if batch.is_empty() {
        batch = events
            .sqs()
            .receive_messages(&source.queue, want.min(RECEIVE_MAX), None, LONG_POLL)
            .await?;
    }
    if source.maximum_batching_window == 0 || batch.is_empty() {
        return Ok(batch);
    }
    let deadline = tokio::time::Instant::now()
        + Duration::from_secs(u64::from(source.maximum_batching_window));
    while batch.len() < want {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            break;
        }
        let more = events
            .sqs()
            .receive_messages(
                &source.queue,
                (want - batch.len()).min(RECEIVE_MAX),
                None,
                deadline - now,
            )
            .await?;
        batch.extend(more);
    }
    Ok(batch)
}

/// Lambda's SQS event for a batch. The records carry the messages'
/// system attributes as the queue reported them (`AWSTraceHeader` and
/// `DeadLetterQueueSourceArn` included, when a message has them).
pub fn sqs_event(queue: &str, messages: &[ReceivedMessage]) -> SqsEvent {
    let scope = ResourceScope::DEFAULT;
    SqsEvent {
        records: messages
            .iter()
            .map(|m| {
                let mut record = SqsRecord::new(
                    &scope,
                    queue,
                    m.message_id.as_str(),
                    m.receipt_handle.as_str(),
                    m.body.as_str(),
                    m.md5_of_body.as_str(),
                );
                record.attributes = m.attributes.clone();
                record.md5_of_message_attributes = m.md5_of_message_attributes.clone();
                record.message_attributes = m
                    .message_attributes
                    .iter()
                    .map(|(name, a)| {
                        (
                            name.clone(),
                            SqsMessageAttribute::new(
                                a.data_type.as_str(),
                                a.string_value.as_deref(),
                                a.binary_value.as_deref(),
                            ),
                        )
                    })
                    .collect();
                record
            })
            .collect(),
    }
}

/// What the function said about a batch.
#[derive(Debug, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Delete every message.
    AllDone,
    /// Keep every message.
    AllFailed(String),
    /// Keep these message ids, delete the rest.
    SomeFailed(Vec<String>),
}

/// Reads a `ReportBatchItemFailures` answer against the batch's message
/// ids, with Lambda's rules: an empty body, `null`, `{}` or an empty list
/// is success; an answer that is not that shape, or names an id not in the
/// batch (or an empty one), fails the whole batch.
pub fn read_batch_response(body: &[u8], ids: &[&str]) -> BatchOutcome {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() || text == "null" {
        return BatchOutcome::AllDone;
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        // Not JSON at all: Lambda treats a non-object answer as success
        // only when it is empty; anything else is "no failures reported".
        return BatchOutcome::AllDone;
    };
    let Some(object) = value.as_object() else {
        return BatchOutcome::AllDone;
    };
    let Some(failures) = object.get("batchItemFailures") else {
        return BatchOutcome::AllDone;
    };
    let failures = match failures {
        serde_json::Value::Null => return BatchOutcome::AllDone,
        serde_json::Value::Array(list) => list,
        _ => {
            return BatchOutcome::AllFailed("`batchItemFailures` is not a list".into());
        }
    };
    let mut failed = Vec::new();
    for item in failures {
        let id = item.get("itemIdentifier").and_then(|v| v.as_str());
        match id {
            Some(id) if !id.is_empty() && ids.contains(&id) => failed.push(id.to_string()),
            Some(id) if !id.is_empty() => {
                return BatchOutcome::AllFailed(format!(
                    "batchItemFailures names `{id}`, which is not in the batch"
                ));
            }
            _ => {
                return BatchOutcome::AllFailed(
                    "a batchItemFailures entry has no itemIdentifier".into(),
                );
            }
        }
    }
    if failed.is_empty() {
        BatchOutcome::AllDone
    } else {
        BatchOutcome::SomeFailed(failed)
    }
}

/// In a FIFO batch, the messages after a failed one in the same group are
/// kept too, so the group's order holds.
pub fn keep_group_order(messages: &[ReceivedMessage], failed: &mut Vec<String>) {
    let mut blocked: HashSet<String> = HashSet::new();
    for m in messages {
        let Some(group) = &m.group_id else { continue };
        if blocked.contains(group) {
            if !failed.contains(&m.message_id) {
                failed.push(m.message_id.clone());
            }
        } else if failed.contains(&m.message_id) {
            blocked.insert(group.clone());
        }
    }
}

async fn run_batch(
    events: &Events,
    mapping: &Mapping,
    messages: Vec<ReceivedMessage>,
) -> Vec<String> {
    let queue = &mapping.source.queue;
    let function = &mapping.function;
    let metrics = events.metrics();
    let count = messages.len() as u64;
    let redelivered = messages.iter().filter(|m| m.receive_count > 1).count() as u64;
    if redelivered > 0 {
        metrics.retried("sqs", queue, redelivered);
    }
    let event = match serde_json::to_vec(&sqs_event(queue, &messages)) {
        Ok(event) => event,
        Err(error) => {
            tracing::error!(function = %function, queue = %queue, %error, "could not build the SQS event");
            return Vec::new();
        }
    };
    let request = http::Request::builder()
        .method("POST")
        .uri("/")
        .header("content-type", "application/json")
        .header("host", "localhost")
        .header("ce-specversion", "1.0")
        .header("ce-type", "aws.sqs.batch")
        .header("ce-source", queue_arn(queue))
        .header("ce-id", uuid::Uuid::new_v4().to_string())
        .body(Bytes::from(event));
    let request = match request {
        Ok(request) => request,
        Err(error) => {
            tracing::error!(function = %function, queue = %queue, %error, "could not build the SQS event");
            return Vec::new();
        }
    };
    let outcome = match events
        .engine()
        .invoke(function, request, Trigger::Queue)
        .await
    {
        Ok(invocation) => match invocation.result {
            Ok(response) if !response.status().is_success() => BatchOutcome::AllFailed(format!(
                "the function answered HTTP {}",
                response.status().as_u16()
            )),
            Ok(response) if mapping.source.report_batch_item_failures => {
                let ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
                read_batch_response(response.body(), &ids)
            }
            Ok(_) => BatchOutcome::AllDone,
            Err(error) => {
                BatchOutcome::AllFailed(format!("{}: {}", error.error_type(), error.message))
            }
        },
        Err(EngineError::Throttled(throttle)) => {
            tracing::debug!(function = %function, queue = %queue, %throttle, "queue batch throttled; messages made visible again");
            let handles: Vec<(String, u32)> = messages
                .iter()
                .map(|m| (m.receipt_handle.clone(), 0))
                .collect();
            if let Err(error) = events.sqs().change_visibility_batch(queue, &handles).await {
                tracing::warn!(function = %function, queue = %queue, %error, "could not return throttled messages; they come back after the visibility timeout");
            }
            tokio::time::sleep(BACKOFF).await;
            return Vec::new();
        }
        Err(EngineError::ShuttingDown) => return Vec::new(),
        Err(error) => BatchOutcome::AllFailed(stratus_engine::error_chain(&error)),
    };
    let keep: Vec<String> = match outcome {
        BatchOutcome::AllDone => Vec::new(),
        BatchOutcome::AllFailed(why) => {
            tracing::info!(function = %function, queue = %queue, messages = count, error = %why, "queue batch failed; its messages come back after the visibility timeout");
            metrics.failed("sqs", queue, count);
            metrics.delivered("sqs", queue, count);
            return Vec::new();
        }
        BatchOutcome::SomeFailed(mut failed) => {
            keep_group_order(&messages, &mut failed);
            tracing::info!(function = %function, queue = %queue, failed = failed.len(), messages = count, "queue batch partly failed");
            failed
        }
    };
    metrics.delivered("sqs", queue, count);
    metrics.failed("sqs", queue, keep.len() as u64);
    messages
        .iter()
        .filter(|m| !keep.contains(&m.message_id))
        .map(|m| m.receipt_handle.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, group: Option<&str>) -> ReceivedMessage {
        ReceivedMessage {
            message_id: id.into(),
            receipt_handle: format!("h-{id}"),
            body: String::new(),
            md5_of_body: String::new(),
            md5_of_message_attributes: None,
            message_attributes: Default::default(),
            attributes: Default::default(),
            receive_count: 1,
            sent_ms: 0,
            first_receive_ms: 0,
            sender_id: String::new(),
            group_id: group.map(str::to_string),
            dedup_id: None,
            sequence_number: None,
        }
    }

    #[test]
    fn batch_responses_follow_lambdas_rules() {
        let ids = ["a", "b", "c"];
        let cases: &[(&str, BatchOutcome)] = &[
            ("", BatchOutcome::AllDone),
            ("null", BatchOutcome::AllDone),
            ("{}", BatchOutcome::AllDone),
            (r#"{"batchItemFailures": []}"#, BatchOutcome::AllDone),
            (r#"{"batchItemFailures": null}"#, BatchOutcome::AllDone),
            (r#""done""#, BatchOutcome::AllDone),
            (
                r#"{"batchItemFailures": [{"itemIdentifier": "b"}]}"#,
                BatchOutcome::SomeFailed(vec!["b".into()]),
            ),
            (
                r#"{"batchItemFailures": [{"itemIdentifier": "z"}]}"#,
                BatchOutcome::AllFailed(
                    "batchItemFailures names `z`, which is not in the batch".into(),
                ),
            ),
            (
                r#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#,
                BatchOutcome::AllFailed("a batchItemFailures entry has no itemIdentifier".into()),
            ),
            (
                r#"{"batchItemFailures": [{"id": "a"}]}"#,
                BatchOutcome::AllFailed("a batchItemFailures entry has no itemIdentifier".into()),
            ),
            (
                r#"{"batchItemFailures": "a"}"#,
                BatchOutcome::AllFailed("`batchItemFailures` is not a list".into()),
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(
                &read_batch_response(body.as_bytes(), &ids),
                expected,
                "{body}"
            );
        }
    }

    #[test]
    fn fifo_failures_keep_the_rest_of_their_group() {
        let batch = [
            message("1", Some("g1")),
            message("2", Some("g2")),
            message("3", Some("g1")),
            message("4", Some("g2")),
            message("5", Some("g1")),
        ];
        let mut failed = vec!["3".to_string()];
        keep_group_order(&batch, &mut failed);
        assert_eq!(failed, ["3", "5"]);
    }

    #[test]
    fn sqs_events_have_lambdas_shape() {
        let mut m = message("id-1", None);
        m.body = "hello".into();
        m.attributes
            .insert("ApproximateReceiveCount".into(), "1".into());
        let event = serde_json::to_value(sqs_event("jobs", &[m])).expect("serialises");
        let record = &event["Records"][0];
        assert_eq!(record["messageId"], "id-1");
        assert_eq!(record["receiptHandle"], "h-id-1");
        assert_eq!(record["body"], "hello");
        assert_eq!(record["eventSource"], "aws:sqs");
        assert_eq!(
            record["eventSourceARN"],
            "arn:aws:sqs:us-east-1:000000000000:jobs"
        );
        assert_eq!(record["attributes"]["ApproximateReceiveCount"], "1");
        assert_eq!(record["awsRegion"], "us-east-1");
    }
}
