//! The engine's background loops (idle-instance reaper, retention
//! pruner) and its shutdown.

use crate::engine::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

impl Engine {
    /// Stops taking invocations, waits up to `grace` for in-flight ones, then
    /// stops the background loops and flushes logs. Returns how many
    /// invocations were still running when the grace ran out.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        let inner = &*self.inner;
        inner.accepting.store(false, Ordering::Release);
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let notified = inner.idle.notified();
            if inner.inflight.load(Ordering::Acquire) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        let left = inner.inflight.load(Ordering::Acquire);
        inner.cancel.cancel();
        inner.tasks.close();
        inner.tasks.wait().await;
        inner.writer.flush().await;
        left
    }

    /// Stops the log writer thread and waits for it (after `shutdown`).
    pub fn join_writer(&self) {
        self.inner.writer.close_and_join();
    }

    pub(crate) fn spawn_reaper(&self) {
        let engine = self.clone();
        let keep_alive = self.inner.config.keep_alive;
        let period = (keep_alive / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
        let cancel = self.inner.cancel.clone();
        self.inner.tasks.spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let now = Instant::now();
                let mut deployed: Vec<_> = engine.read_registry().functions.values().cloned().collect();
                deployed.extend(
                    engine
                        .inner
                        .pinned
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .values()
                        .cloned(),
                );
                for d in deployed {
                    let keep = d.record.config.provisioned_concurrency as usize;
                    let retired = d.pool.retire_idle(keep_alive, keep, now);
                    if retired > 0 {
                        tracing::debug!(function = %d.record.name, retired, "scaled down idle instances");
                    }
                }
            }
        });
    }

    pub(crate) fn spawn_pruner(&self) {
        let engine = self.clone();
        let cancel = self.inner.cancel.clone();
        self.inner.tasks.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let config = engine.inner.config.clone();
                let result = engine
                    .inner
                    .backends
                    .telemetry
                    .prune(
                        now_ms(),
                        config.log_retention.as_millis() as i64,
                        config.max_log_records,
                        config.usage_retention.as_millis() as i64,
                    )
                    .await;
                match result {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "pruned old log and usage records"),
                    Err(error) => tracing::warn!(error = %crate::error_chain(&error), "retention pruning failed"),
                }
            }
        });
    }
}
