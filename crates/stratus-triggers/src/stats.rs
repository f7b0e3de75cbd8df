//! The event sources' figures for `stratus stats` (`/v1/stats`) and
//! `/metrics`: per queue its depth, messages in flight and delayed, the age
//! of its oldest message and its DLQ's depth; per source its deliveries,
//! retries and failures; and the asynchronous-invocation queue.

use crate::{ServiceError, Triggers};
use serde::Serialize;
use std::fmt::Write as _;

/// One queue's figures.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueFigures {
    /// The queue.
    pub name: String,
    /// Messages that can be received now (queue depth).
    pub visible: u64,
    /// Received and not yet deleted.
    pub in_flight: u64,
    /// Waiting out a delay.
    pub delayed: u64,
    /// Age of the oldest message, seconds.
    pub oldest_age_seconds: Option<f64>,
    /// The queue's dead-letter queue, if it has a redrive policy.
    pub dlq: Option<String>,
    /// Messages in that dead-letter queue.
    pub dlq_depth: Option<u64>,
}

/// One source's counters since the server started.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceFigures {
    /// `sqs`, `sns`, `schedule`, `eventbridge`, `destination`, `dlq`.
    pub kind: String,
    /// The queue, topic, rule or function.
    pub name: String,
    /// Events handed on.
    pub deliveries: u64,
    /// Events handed on again after a failure.
    pub retries: u64,
    /// Deliveries that failed.
    pub failures: u64,
}

/// The asynchronous-invocation queue.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AsyncFigures {
    /// Events waiting or running.
    pub pending: u64,
    /// Events whose attempts are spent and that no destination took.
    pub failed: u64,
}

/// Everything, as `/v1/stats` shows it next to the functions' usage.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventFigures {
    /// Per queue.
    pub queues: Vec<QueueFigures>,
    /// Per source.
    pub sources: Vec<SourceFigures>,
    /// Asynchronous invocations.
    pub async_invocations: AsyncFigures,
}

impl Triggers {
    /// The current figures.
    pub async fn figures(&self) -> Result<EventFigures, ServiceError> {
        let stats = self.sqs().queue_stats().await?;
        let depth = |name: &str| {
            stats
                .iter()
                .find(|q| q.name == name)
                .map(|q| q.visible + q.in_flight + q.delayed)
        };
        let queues = stats
            .iter()
            .map(|q| QueueFigures {
                name: q.name.clone(),
                visible: q.visible,
                in_flight: q.in_flight,
                delayed: q.delayed,
                oldest_age_seconds: q.oldest_age_ms.map(|ms| ms as f64 / 1000.0),
                dlq: q.dlq.clone(),
                dlq_depth: q.dlq.as_deref().and_then(depth),
            })
            .collect();
        let sources = self
            .metrics()
            .snapshot()
            .into_iter()
            .map(|(labels, deliveries, retries, failures)| SourceFigures {
                kind: labels.kind,
                name: labels.name,
                deliveries,
                retries,
                failures,
            })
            .collect();
        let queue = self
            .engine()
            .async_queue()
            .await
            .map_err(|e| ServiceError::engine("reading the asynchronous queue", e))?;
        Ok(EventFigures {
            queues,
            sources,
            async_invocations: AsyncFigures {
                pending: queue.pending,
                failed: queue.failed,
            },
        })
    }

    /// The figures in Prometheus text format, without a `# EOF` line (the
    /// caller appends this to the engine's metrics).
    pub async fn metrics_text(&self) -> String {
        let mut text = self.metrics().render();
        let figures = match self.figures().await {
            Ok(figures) => figures,
            Err(error) => {
                tracing::warn!(%error, "queue figures unavailable for /metrics");
                return text;
            }
        };
        let gauge = |text: &mut String, name: &str, help: &str, rows: &[(String, f64)]| {
            let _ = writeln!(text, "# HELP stratus_{name} {help}");
            let _ = writeln!(text, "# TYPE stratus_{name} gauge");
            for (labels, value) in rows {
                let _ = writeln!(text, "stratus_{name}{{{labels}}} {value}");
            }
        };
        let label = |queue: &str| format!("queue=\"{}\"", queue.replace(['"', '\\', '\n'], "_"));
        let rows = |f: &dyn Fn(&QueueFigures) -> Option<f64>| -> Vec<(String, f64)> {
            figures
                .queues
                .iter()
                .filter_map(|q| f(q).map(|v| (label(&q.name), v)))
                .collect()
        };
        gauge(
            &mut text,
            "queue_messages_visible",
            "Messages that can be received now (queue depth)",
            &rows(&|q| Some(q.visible as f64)),
        );
        gauge(
            &mut text,
            "queue_messages_in_flight",
            "Messages received and not yet deleted",
            &rows(&|q| Some(q.in_flight as f64)),
        );
        gauge(
            &mut text,
            "queue_messages_delayed",
            "Messages waiting out a delay",
            &rows(&|q| Some(q.delayed as f64)),
        );
        gauge(
            &mut text,
            "queue_oldest_message_age_seconds",
            "Age of the oldest message",
            &rows(&|q| q.oldest_age_seconds),
        );
        gauge(
            &mut text,
            "queue_dlq_messages",
            "Messages in the queue's dead-letter queue",
            &rows(&|q| q.dlq_depth.map(|d| d as f64)),
        );
        gauge(
            &mut text,
            "async_events",
            "Asynchronous invocations queued (pending) or given up (failed)",
            &[
                (
                    "state=\"pending\"".to_string(),
                    figures.async_invocations.pending as f64,
                ),
                (
                    "state=\"failed\"".to_string(),
                    figures.async_invocations.failed as f64,
                ),
            ],
        );
        text
    }
}
