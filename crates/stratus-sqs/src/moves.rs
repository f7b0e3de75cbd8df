//! Message move tasks: `StartMessageMoveTask` redrives the messages of a
//! dead-letter queue, to a destination queue or each back to the queue it
//! came from, in the background; `ListMessageMoveTasks` shows a queue's
//! newest tasks and `CancelMessageMoveTask` stops a running one.
//!
//! A task is a document in the store (`queue_move_tasks`), rewritten after
//! every chunk it moves, so its progress survives a restart: tasks still
//! running when the server stopped are resumed when it starts. Each chunk
//! is one store transaction; `MaxNumberOfMessagesPerSecond` makes the
//! chunks that many messages, one a second. A task moves the messages
//! that were in its queue when it started (not those arriving since, so
//! that messages failing again cannot keep it going), skipping those in
//! flight and those with no queue to go back to.
//!
//! The task loops are tracked by the kit's task tracker and stop at
//! shutdown (leaving their tasks running, to resume); a cancel reaches a
//! loop through a `watch` channel per task.

use crate::queues::{invalid, queue_of_arn};
use crate::{ErrorKind, ServiceError, Sqs, backend_error, now_ms};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::watch;

/// Messages looked at per transaction when no rate is set.
const MOVE_CHUNK: usize = 1000;
/// Most tasks `ListMessageMoveTasks` shows.
pub const MAX_LISTED_TASKS: usize = 10;
/// The largest `MaxNumberOfMessagesPerSecond`.
pub const MAX_MESSAGES_PER_SECOND: u32 = 500;

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MoveStatus {
    /// Moving.
    Running,
    /// Asked to stop; stops after the chunk it moves.
    Cancelling,
    /// Stopped by a cancel.
    Cancelled,
    /// Done.
    Completed,
    /// Stopped by an error (`failure_reason`).
    Failed,
}

impl MoveStatus {
    /// SQS's name of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            MoveStatus::Running => "RUNNING",
            MoveStatus::Cancelling => "CANCELLING",
            MoveStatus::Cancelled => "CANCELLED",
            MoveStatus::Completed => "COMPLETED",
            MoveStatus::Failed => "FAILED",
        }
    }
}

/// A message move task, as stored and as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MoveTask {
    /// Its id.
    pub task_id: String,
    /// The source queue (a DLQ).
    pub source: String,
    /// The source's ARN as the request gave it.
    pub source_arn: String,
    /// The destination queue; None to move each message back to its
    /// source.
    pub destination: Option<String>,
    /// The destination's ARN as the request gave it.
    pub destination_arn: Option<String>,
    /// `MaxNumberOfMessagesPerSecond`.
    pub max_per_second: Option<u32>,
    /// Where it is.
    pub status: MoveStatus,
    /// Messages moved so far.
    pub moved: u64,
    /// Messages in the source when it started.
    pub to_move: u64,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// When it started (ms since the epoch).
    pub started_ms: i64,
    /// The row id of the last message looked at.
    cursor: i64,
    /// The row id of the newest message when it started.
    until: Option<i64>,
}

impl MoveTask {
    /// Its `TaskHandle`: base64 of `{"taskId":…,"sourceArn":…}`, as SQS
    /// writes them.
    pub fn handle(&self) -> String {
        let text = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        let doc = format!(
            "{{\"taskId\":{},\"sourceArn\":{}}}",
            text(&self.task_id),
            text(&self.source_arn)
        );
        base64::engine::general_purpose::STANDARD.encode(doc)
    }
}

/// The source ARN a `TaskHandle` names, if it is one.
pub(crate) fn handle_source(handle: &str) -> Option<String> {
    decode_handle(handle).map(|(_, source)| source)
}

/// The task id and source ARN a `TaskHandle` names.
fn decode_handle(handle: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(handle)
        .ok()?;
    let doc: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    let field = |name: &str| doc.get(name)?.as_str().map(str::to_string);
    Some((field("taskId")?, field("sourceArn")?))
}

fn resource_not_found(parameter: &str) -> ServiceError {
    ServiceError::not_found(
        "ResourceNotFoundException",
        format!("The resource that you specified for the {parameter} parameter doesn't exist."),
    )
}

/// The queue `arn` names, or SQS's refusal of parameter `parameter`.
fn queue_of(arn: &str, parameter: &str) -> Result<String, ServiceError> {
    queue_of_arn(arn).ok_or_else(|| {
        invalid(format!(
            "You must use this format to specify the {parameter}: arn:<partition>:<service>:<region>:<account-id>:<resource-id>"
        ))
    })
}

/// A missing queue as SQS's `ResourceNotFoundException` for `parameter`;
/// other errors as they are.
fn not_found_as(parameter: &str) -> impl Fn(ServiceError) -> ServiceError + '_ {
    move |error| match error.kind {
        ErrorKind::NotFound => resource_not_found(parameter),
        _ => error,
    }
}

fn encode(task: &MoveTask) -> Result<String, ServiceError> {
    serde_json::to_string(task).map_err(|e| ServiceError::internal("writing a move task", &e))
}

fn decode(document: &str) -> Result<MoveTask, ServiceError> {
    serde_json::from_str(document).map_err(|e| ServiceError::internal("reading a move task", &e))
}

impl Sqs {
    /// Starts moving the messages of dead-letter queue `source_arn` to
    /// `destination_arn`, or each back to its source queue; answers the
    /// task's handle. One task runs per source queue at a time.
    pub async fn start_move_task(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
        max_per_second: Option<u32>,
    ) -> Result<String, ServiceError> {
        let source = queue_of(source_arn, "SourceArn")?;
        let destination = destination_arn
            .map(|arn| queue_of(arn, "DestinationArn"))
            .transpose()?;
        self.require_queue(&source, "SourceArn").await?;
        if self.dead_letter_sources(&source).await?.is_empty() {
            return Err(invalid(
                "Source queue must be configured as a Dead Letter Queue.",
            ));
        }
        if let Some(destination) = &destination {
            self.require_queue(destination, "DestinationArn").await?;
        }
        let counts = self
            .queues
            .queue_counts(&source, now_ms())
            .await
            .map_err(backend_error("reading a queue"))
            .map_err(not_found_as("SourceArn"))?;
        let until = self
            .queues
            .newest_message_id(&source)
            .await
            .map_err(backend_error("reading a queue"))
            .map_err(not_found_as("SourceArn"))?;
        let task = MoveTask {
            task_id: uuid::Uuid::new_v4().to_string(),
            source: source.clone(),
            source_arn: source_arn.to_string(),
            destination,
            destination_arn: destination_arn.map(str::to_string),
            max_per_second,
            status: MoveStatus::Running,
            moved: 0,
            to_move: counts.visible,
            failure_reason: None,
            started_ms: now_ms(),
            cursor: 0,
            until,
        };
        let document = encode(&task)?;
        let (id, started) = (task.task_id.clone(), task.started_ms);
        let recorded = self
            .queues
            .start_move_task(&source, &id, started, &document)
            .await
            .map_err(backend_error("starting a move task"))
            .map_err(not_found_as("SourceArn"))?;
        if !recorded {
            return Err(invalid(
                "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
            ));
        }
        tracing::info!(queue = %task.source, task = %task.task_id, "started a message move task");
        let handle = task.handle();
        self.run_move_task(task);
        Ok(handle)
    }

    /// The newest `max` (1..=10) move tasks of queue `source_arn`, newest
    /// first.
    pub async fn list_move_tasks(
        &self,
        source_arn: &str,
        max: usize,
    ) -> Result<Vec<MoveTask>, ServiceError> {
        let source = queue_of(source_arn, "SourceArn")?;
        let documents = self
            .queues
            .move_tasks(&source, max.clamp(1, MAX_LISTED_TASKS))
            .await
            .map_err(backend_error("listing move tasks"))
            .map_err(not_found_as("SourceArn"))?;
        let moves = self
            .state
            .moves
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        documents
            .iter()
            .map(|document| {
                let mut task = decode(document)?;
                let cancelling = moves
                    .get(&task.task_id)
                    .is_some_and(|cancel| *cancel.borrow());
                if task.status == MoveStatus::Running && cancelling {
                    task.status = MoveStatus::Cancelling;
                }
                Ok(task)
            })
            .collect()
    }

    /// Cancels the running move task `handle`; answers how many messages
    /// it moved.
    pub async fn cancel_move_task(&self, handle: &str) -> Result<u64, ServiceError> {
        let bad_handle = || invalid("Value for parameter TaskHandle is invalid.");
        let (task_id, source_arn) = decode_handle(handle).ok_or_else(bad_handle)?;
        let source = queue_of_arn(&source_arn).ok_or_else(bad_handle)?;
        let document = self
            .queues
            .move_task(&source, &task_id)
            .await
            .map_err(backend_error("reading a move task"))
            .map_err(not_found_as("SourceArn"))?
            .ok_or_else(|| {
                ServiceError::not_found("ResourceNotFoundException", "Task does not exist.")
            })?;
        let mut task = decode(&document)?;
        if task.status != MoveStatus::Running {
            return Err(invalid(format!(
                "Only a task with status RUNNING can be cancelled; this one is {}.",
                task.status.as_str()
            )));
        }
        let signalled = {
            let moves = self
                .state
                .moves
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match moves.get(&task_id) {
                Some(cancel) => {
                    cancel.send_replace(true);
                    true
                }
                None => false,
            }
        };
        if !signalled {
            // Not running here (e.g. not resumed yet): end it in the store.
            task.status = MoveStatus::Cancelled;
            let document = encode(&task)?;
            self.queues
                .update_move_task(&task_id, false, &document)
                .await
                .map_err(backend_error("cancelling a move task"))?;
        }
        tracing::info!(queue = %source, task = %task.task_id, moved = task.moved, "cancelled a message move task");
        Ok(task.moved)
    }

    /// `ResourceNotFoundException` (naming `parameter`) unless queue `name`
    /// exists.
    async fn require_queue(&self, name: &str, parameter: &str) -> Result<(), ServiceError> {
        self.queue_info(name)
            .await
            .map(|_| ())
            .map_err(not_found_as(parameter))
    }

    /// Resumes the tasks that were running when the server stopped.
    pub(crate) fn resume_move_tasks(&self) {
        let sqs = self.clone();
        self.tasks().spawn(async move {
            let documents = match sqs
                .queues
                .running_move_tasks()
                .await
                .map_err(backend_error("reading running move tasks"))
            {
                Ok(documents) => documents,
                // Logged where it failed (ServiceError::internal).
                Err(_) => return,
            };
            for document in documents {
                match decode(&document) {
                    Ok(task) => {
                        tracing::info!(queue = %task.source, task = %task.task_id, moved = task.moved, "resuming a message move task");
                        sqs.run_move_task(task);
                    }
                    Err(_) => continue,
                }
            }
        });
    }

    /// Runs `task` in the background until it is done, cancelled, failed
    /// or the server stops.
    fn run_move_task(&self, task: MoveTask) {
        let (cancel, cancelled) = watch::channel(false);
        self.state
            .moves
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(task.task_id.clone(), cancel);
        let sqs = self.clone();
        self.tasks().spawn(async move {
            let id = task.task_id.clone();
            sqs.move_loop(task, cancelled).await;
            sqs.state
                .moves
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&id);
        });
    }

    async fn move_loop(&self, mut task: MoveTask, mut cancelled: watch::Receiver<bool>) {
        let chunk = task
            .max_per_second
            .map_or(MOVE_CHUNK, |rate| rate as usize)
            .clamp(1, MOVE_CHUNK);
        let status = loop {
            if *cancelled.borrow() {
                break MoveStatus::Cancelled;
            }
            let started = tokio::time::Instant::now();
            let outcome = self
                .queues
                .move_messages(
                    &task.source,
                    task.destination.as_deref(),
                    task.cursor,
                    task.until,
                    chunk,
                    now_ms(),
                )
                .await
                .map_err(backend_error("moving messages"));
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(error) => {
                    // A server failure was logged where it happened; the
                    // end of the task is logged below, with the reason.
                    task.failure_reason = Some(match error.kind {
                        ErrorKind::NotFound => "AWS.SimpleQueueService.NonExistentQueue".into(),
                        _ => error.code.to_string(),
                    });
                    break MoveStatus::Failed;
                }
            };
            task.moved += outcome.moved;
            for queue in &outcome.destinations {
                self.state.wake(queue);
            }
            let Some(last) = outcome.last_id else {
                break MoveStatus::Completed;
            };
            task.cursor = last;
            if !self.save_move_task(&task, true).await {
                return;
            }
            let pause = match task.max_per_second {
                Some(_) => Duration::from_secs(1).saturating_sub(started.elapsed()),
                None => Duration::ZERO,
            };
            tokio::select! {
                _ = self.cancel().cancelled() => return,
                _ = cancelled.changed() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        };
        task.status = status;
        tracing::info!(
            queue = %task.source,
            task = %task.task_id,
            moved = task.moved,
            status = status.as_str(),
            failure = task.failure_reason.as_deref().unwrap_or(""),
            "a message move task ended"
        );
        self.save_move_task(&task, false).await;
    }

    /// Writes `task`; false when it is no longer running in the store (its
    /// queue was deleted, or it was cancelled there).
    async fn save_move_task(&self, task: &MoveTask, running: bool) -> bool {
        let Ok(document) = encode(task) else {
            return false;
        };
        self.queues
            .update_move_task(&task.task_id, running, &document)
            .await
            .map_err(backend_error("saving a move task"))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_handles_are_sqs_shape_and_read_back() {
        let task = MoveTask {
            task_id: "t-1".into(),
            source: "dlq".into(),
            source_arn: "arn:aws:sqs:us-east-1:000000000000:dlq".into(),
            destination: None,
            destination_arn: None,
            max_per_second: None,
            status: MoveStatus::Running,
            moved: 0,
            to_move: 0,
            failure_reason: None,
            started_ms: 0,
            cursor: 0,
            until: None,
        };
        let handle = task.handle();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&handle)
            .expect("base64");
        assert_eq!(
            String::from_utf8(raw).expect("text"),
            r#"{"taskId":"t-1","sourceArn":"arn:aws:sqs:us-east-1:000000000000:dlq"}"#
        );
        assert_eq!(
            decode_handle(&handle),
            Some((
                "t-1".into(),
                "arn:aws:sqs:us-east-1:000000000000:dlq".into()
            ))
        );
        assert_eq!(decode_handle("foobared"), None);
        assert_eq!(
            decode(&encode(&task).expect("encode")).expect("decode"),
            task
        );
    }
}
