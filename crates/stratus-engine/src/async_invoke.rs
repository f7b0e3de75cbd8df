//! Asynchronous invocation (Lambda's `Event` type): the caller's event is
//! committed to the store's durable queue before it is acknowledged, then a
//! dispatcher loop claims due events and runs each through the ordinary
//! invocation path with [`Trigger::Event`], keeping the event's request id
//! on every attempt.
//!
//! - A function error is retried after `async_retry_delay` times the attempt
//!   number, up to the event's attempts (1 + retries, 3 by default).
//! - Throttles and shutdowns give the attempt back and retry later.
//! - Events older than their maximum age, or whose attempts are spent, are
//!   kept as `failed` with a warning in the server log.
//! - A crash leaves claimed events leased; the next start releases them, so
//!   every acknowledged event runs at least once.

use crate::backend::Claimed;
use crate::engine::{Engine, EngineError, Qualifier, Trigger, now_ms};
use crate::records::{AsyncEvent, NewAsyncEvent};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

/// Largest asynchronous payload (Lambda's 1 MB for `Event` invocations).
pub const MAX_ASYNC_PAYLOAD_BYTES: usize = 1024 * 1024;
/// Lambda's default and maximum `MaximumRetryAttempts`.
pub const MAX_RETRY_ATTEMPTS: u32 = stratus_core::function::MAX_RETRY_ATTEMPTS;
/// Asynchronous invocations running at once, server-wide.
const MAX_IN_FLIGHT: usize = 256;
/// How long a claimed event stays leased within this process: longer than
/// any function's timeout, so a lease never expires under a running event.
const LEASE: Duration = Duration::from_secs(960);
/// The longest the dispatcher sleeps between looks at the queue.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Delay before retrying an event that was throttled or interrupted.
const THROTTLE_RETRY: Duration = Duration::from_secs(1);

impl Engine {
    /// Queues an asynchronous invocation durably and returns its request id.
    /// `headers` are replayed on the request the function receives.
    /// Errors: `NotFound` for an unknown function or version,
    /// `PayloadTooLarge` past [`MAX_ASYNC_PAYLOAD_BYTES`], `ShuttingDown`.
    pub async fn invoke_async(
        &self,
        function: &str,
        qualifier: Qualifier,
        payload: Bytes,
        headers: Vec<(String, String)>,
    ) -> Result<String, EngineError> {
        let event = self
            .async_event(function, qualifier, payload, headers, None)
            .await?;
        let request_id = event.request_id.clone();
        self.queue().enqueue(&event, now_ms()).await?;
        self.wake_async();
        tracing::debug!(function, request_id = %request_id, "queued an asynchronous invocation");
        Ok(request_id)
    }

    /// Builds (without queuing) the asynchronous event for an invocation of
    /// `function`, with the function's retry and age settings, for callers
    /// that commit it together with their own writes (then call
    /// [`Engine::wake_async`]). `request_id` defaults to a fresh UUID.
    /// Errors as [`Engine::invoke_async`].
    pub async fn async_event(
        &self,
        function: &str,
        qualifier: Qualifier,
        payload: Bytes,
        headers: Vec<(String, String)>,
        request_id: Option<String>,
    ) -> Result<NewAsyncEvent, EngineError> {
        if !self
            .inner
            .accepting
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return Err(EngineError::ShuttingDown);
        }
        if payload.len() > MAX_ASYNC_PAYLOAD_BYTES {
            return Err(EngineError::PayloadTooLarge {
                size: payload.len(),
                limit: MAX_ASYNC_PAYLOAD_BYTES,
            });
        }
        // The function (and version) must exist now, as on Lambda.
        let deployed = self.resolve(function, qualifier).await?;
        let settings = &deployed.record.config.async_config;
        Ok(NewAsyncEvent {
            request_id: request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            function: function.to_string(),
            qualifier: match qualifier {
                Qualifier::Latest => None,
                Qualifier::Version(v) => Some(v.to_string()),
            },
            payload: payload.to_vec(),
            headers,
            max_attempts: 1 + settings.retries(),
            max_age_ms: i64::from(settings.max_age_secs()) * 1000,
        })
    }

    /// Wakes the dispatcher after events were committed.
    pub fn wake_async(&self) {
        self.inner.async_wake.notify_one();
    }

    /// Pending and failed asynchronous events.
    pub async fn async_queue(&self) -> Result<crate::records::AsyncQueueStats, EngineError> {
        Ok(self.queue().stats().await?)
    }

    pub(super) fn spawn_async_dispatcher(&self) {
        let engine = self.clone();
        let cancel = self.inner.cancel.clone();
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
        self.inner.tasks.spawn(async move {
            loop {
                let wait = engine.next_wait().await;
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = engine.inner.async_wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
                if !engine.inner.accepting.load(std::sync::atomic::Ordering::Acquire) {
                    continue;
                }
                let free = slots.available_permits();
                if free == 0 {
                    continue;
                }
                let claimed = engine
                    .queue()
                    .claim(now_ms(), free, LEASE.as_millis() as i64)
                    .await;
                let Claimed { events, expired } = match claimed {
                    Ok(found) => found,
                    Err(error) => {
                        tracing::warn!(error = %crate::error_chain(&error), "could not claim asynchronous events");
                        tokio::time::sleep(IDLE_POLL).await;
                        continue;
                    }
                };
                for event in expired {
                    engine.expired(event).await;
                }
                for event in events {
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        // Cannot happen (we claimed no more than were free);
                        // put the event back rather than lose it.
                        let id = event.id;
                        let _ = engine.queue().retry(id, now_ms(), "no dispatch slot", false).await;
                        continue;
                    };
                    let engine = engine.clone();
                    let cancel = cancel.clone();
                    engine.inner.tasks.clone().spawn(async move {
                        tokio::select! {
                            // Shutdown: the event stays leased and runs
                            // again after the next start.
                            _ = cancel.cancelled() => {}
                            _ = engine.run_event(event) => {}
                        }
                        drop(permit);
                        engine.inner.async_wake.notify_one();
                    });
                }
            }
        });
    }

    /// How long the dispatcher may sleep: until the next due event, at most
    /// [`IDLE_POLL`].
    async fn next_wait(&self) -> Duration {
        match self.queue().next_due().await {
            Ok(Some(due)) => {
                let ms = (due - now_ms()).clamp(0, IDLE_POLL.as_millis() as i64);
                Duration::from_millis(ms as u64)
            }
            _ => IDLE_POLL,
        }
    }

    async fn run_event(&self, event: AsyncEvent) {
        let qualifier = match event.qualifier.as_deref().map(str::parse::<u64>) {
            None => Qualifier::Latest,
            Some(Ok(v)) => Qualifier::Version(v),
            Some(Err(_)) => {
                self.settle(
                    &event,
                    Settle::Fail("the event's qualifier is not a version".into()),
                )
                .await;
                return;
            }
        };
        let request = match build_request(&event) {
            Ok(request) => request,
            Err(error) => {
                self.settle(
                    &event,
                    Settle::Fail(format!("the event cannot be replayed: {error}")),
                )
                .await;
                return;
            }
        };
        let outcome = self
            .invoke_with_id(
                &event.function,
                qualifier,
                request,
                Trigger::Event,
                Some(event.request_id.clone()),
            )
            .await;
        let settle = match outcome {
            Ok(invocation) => match invocation.result {
                // An HTTP function (wasm) says it failed with a non-2xx
                // answer; Lambda functions answer 200 unless they erred.
                Ok(response) if !response.status().is_success() => Settle::Retry(Failure {
                    error_type: "Unhandled".into(),
                    message: format!("the function answered HTTP {}", response.status().as_u16()),
                    body: Some(response.into_body()),
                    version: Some(invocation.version),
                }),
                Ok(response) => Settle::Done(response.into_body(), invocation.version),
                Err(error) => Settle::Retry(Failure {
                    error_type: error.error_type().to_string(),
                    message: error.message.clone(),
                    body: error.body.clone(),
                    version: Some(invocation.version),
                }),
            },
            Err(EngineError::Throttled(_)) | Err(EngineError::ShuttingDown) => Settle::Later,
            Err(EngineError::NotFound(what)) => {
                Settle::Fail(format!("function {what} no longer exists"))
            }
            Err(error) => Settle::Retry(Failure {
                error_type: "ServiceException".into(),
                message: crate::error_chain(&error),
                body: None,
                version: None,
            }),
        };
        self.settle(&event, settle).await;
    }

    /// Hands the outcome of a finished event to the destinations handler,
    /// if one is set and the function configures a destination or DLQ.
    /// Returns whether a destination took it.
    async fn report(&self, event: &AsyncEvent, outcome: AsyncOutcome) -> bool {
        let Some(handler) = self.inner.async_outcomes.get() else {
            return false;
        };
        let config = self
            .function(&event.function)
            .map(|record| record.config.async_config.clone())
            .unwrap_or_default();
        let wanted = match outcome.condition {
            Condition::Success => config.on_success.is_some(),
            _ => config.on_failure.is_some() || config.dead_letter.is_some(),
        };
        if !wanted {
            return false;
        }
        match handler.settled(&config, outcome).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(function = %event.function, request_id = %event.request_id, %error, "could not deliver the outcome of an asynchronous invocation to its destination");
                false
            }
        }
    }

    async fn settle(&self, event: &AsyncEvent, settle: Settle) {
        let id = event.id;
        let now = now_ms();
        let delay = self.inner.config.async_retry_delay;
        let outcome =
            |condition, failure: Option<Failure>, response: Option<Bytes>, version| AsyncOutcome {
                function: event.function.clone(),
                version,
                request_id: event.request_id.clone(),
                payload: Bytes::from(event.payload.clone()),
                condition,
                attempts: event.attempt,
                response,
                error: failure.map(|f| (f.error_type, f.message, f.body)),
            };
        let result = match settle {
            Settle::Done(response, version) => {
                self.report(
                    event,
                    outcome(Condition::Success, None, Some(response), Some(version)),
                )
                .await;
                self.queue().complete(id).await
            }
            Settle::Later => {
                let at = now + THROTTLE_RETRY.as_millis() as i64;
                self.queue().retry(id, at, "throttled", false).await
            }
            Settle::Retry(failure) if event.attempt < event.max_attempts => {
                let error = format!("{}: {}", failure.error_type, failure.message);
                let at = now + (delay * event.attempt).as_millis() as i64;
                tracing::info!(function = %event.function, request_id = %event.request_id, attempt = event.attempt, error = %error, "asynchronous invocation failed; will retry");
                self.queue().retry(id, at, &error, true).await
            }
            Settle::Retry(failure) => {
                let error = format!("{}: {}", failure.error_type, failure.message);
                tracing::warn!(function = %event.function, request_id = %event.request_id, attempts = event.attempt, error = %error, "asynchronous invocation failed for good");
                let version = failure.version;
                let delivered = self
                    .report(
                        event,
                        outcome(Condition::RetriesExhausted, Some(failure), None, version),
                    )
                    .await;
                if delivered {
                    self.queue().complete(id).await
                } else {
                    self.queue().fail(id, &error).await
                }
            }
            Settle::Fail(error) => {
                tracing::warn!(function = %event.function, request_id = %event.request_id, attempts = event.attempt, error = %error, "asynchronous invocation failed for good");
                self.queue().fail(id, &error).await
            }
        };
        if let Err(error) = result {
            tracing::warn!(request_id = %event.request_id, error = %crate::error_chain(&error), "could not record the outcome of an asynchronous event; it will run again");
        }
    }

    /// An event that grew older than its maximum age before it could run:
    /// its failure destination or DLQ gets it (condition
    /// `EventAgeExceeded`); the store already marked it failed.
    async fn expired(&self, event: AsyncEvent) {
        tracing::warn!(function = %event.function, request_id = %event.request_id, "asynchronous event dropped: older than its maximum age");
        let outcome = AsyncOutcome {
            function: event.function.clone(),
            version: None,
            request_id: event.request_id.clone(),
            payload: Bytes::from(event.payload.clone()),
            condition: Condition::EventAgeExceeded,
            attempts: event.attempt,
            response: None,
            error: None,
        };
        if self.report(&event, outcome).await {
            let id = event.id;
            if let Err(error) = self.queue().complete(id).await {
                tracing::warn!(request_id = %event.request_id, error = %crate::error_chain(&error), "could not remove an expired asynchronous event");
            }
        }
    }

    /// The async queue's backend.
    fn queue(&self) -> &dyn crate::backend::AsyncQueueBackend {
        self.inner.backends.async_queue.as_ref()
    }

    /// Sets the handler of finished asynchronous invocations (destinations
    /// and dead-letter queues); the event services set it once at start.
    pub fn set_async_outcomes(&self, handler: Arc<dyn AsyncOutcomes>) {
        if self.inner.async_outcomes.set(handler).is_err() {
            tracing::warn!("the handler of asynchronous outcomes was already set");
        }
    }
}

/// Why an asynchronous invocation ended (Lambda's destination
/// `condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The function returned.
    Success,
    /// Every attempt failed.
    RetriesExhausted,
    /// The event waited longer than `maximumEventAge`.
    EventAgeExceeded,
}

impl Condition {
    /// Lambda's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Success => "Success",
            Condition::RetriesExhausted => "RetriesExhausted",
            Condition::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

/// A finished asynchronous invocation, for its destination.
#[derive(Debug, Clone)]
pub struct AsyncOutcome {
    /// The function.
    pub function: String,
    /// The version that ran, if one did.
    pub version: Option<u64>,
    /// The request id (the same on every attempt).
    pub request_id: String,
    /// The event as it was queued.
    pub payload: Bytes,
    /// Why it ended.
    pub condition: Condition,
    /// Attempts made.
    pub attempts: u32,
    /// The function's response, on success.
    pub response: Option<Bytes>,
    /// The last error: its type, message and the runtime's error document.
    pub error: Option<(String, String, Option<Bytes>)>,
}

/// Delivers the outcomes of asynchronous invocations to destinations and
/// dead-letter queues (implemented by the event services). An `Err` leaves
/// the event `failed` in the queue (on failure) and is logged.
#[async_trait::async_trait]
pub trait AsyncOutcomes: Send + Sync + 'static {
    /// Delivers `outcome` as `config` (the function's current settings)
    /// says: `onSuccess`, or `onFailure` and the DLQ.
    async fn settled(
        &self,
        config: &stratus_core::AsyncConfig,
        outcome: AsyncOutcome,
    ) -> Result<(), String>;
}

enum Settle {
    Done(Bytes, u64),
    Later,
    Retry(Failure),
    Fail(String),
}

struct Failure {
    error_type: String,
    message: String,
    body: Option<Bytes>,
    version: Option<u64>,
}

/// The request a function receives for an asynchronous event: a POST of the
/// payload with CloudEvents headers, like every non-HTTP event.
fn build_request(event: &AsyncEvent) -> Result<http::Request<Bytes>, http::Error> {
    let has = |name: &str| {
        event
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    let mut builder = http::Request::builder()
        .method("POST")
        .uri("/")
        .header("ce-specversion", "1.0");
    // A source (topic, rule, schedule) says what the event is; its own
    // CloudEvents headers replace the defaults.
    for (name, default) in [
        ("ce-type", "dev.stratus.invoke.async"),
        ("ce-source", "stratus"),
        ("ce-id", event.request_id.as_str()),
        ("content-type", "application/json"),
        // HTTP functions (wasm) need an authority.
        ("host", "localhost"),
    ] {
        if !has(name) {
            builder = builder.header(name, default);
        }
    }
    for (key, value) in &event.headers {
        builder = builder.header(key.as_str(), value.as_str());
    }
    builder.body(Bytes::from(event.payload.clone()))
}
