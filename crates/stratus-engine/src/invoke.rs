//! The invocation path every trigger takes: limits, a warm or cold
//! instance, the runtime's answer, then logs, usage and metrics, once.

use crate::engine::*;
use crate::limits::Throttle;
use crate::records::{InvocationRecord, LogRecord, LogStream, Outcome};
use crate::runtime::{FunctionError, FunctionErrorKind, InvokeOutput, InvokeRequest};
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tracing::Instrument;

impl Engine {
    /// Runs one invocation of a function's current version.
    pub async fn invoke(
        &self,
        function: &str,
        request: http::Request<Bytes>,
        trigger: Trigger,
    ) -> Result<Invocation, EngineError> {
        self.invoke_qualified(function, Qualifier::Latest, request, trigger)
            .await
    }

    /// Runs one invocation of a given version of a function.
    pub async fn invoke_qualified(
        &self,
        function: &str,
        qualifier: Qualifier,
        request: http::Request<Bytes>,
        trigger: Trigger,
    ) -> Result<Invocation, EngineError> {
        self.invoke_with_id(function, qualifier, request, trigger, None)
            .await
    }

    /// Runs one invocation; `request_id` keeps an id given earlier (an
    /// asynchronous event's, the same on every attempt), else a new one is
    /// made.
    pub(crate) async fn invoke_with_id(
        &self,
        function: &str,
        qualifier: Qualifier,
        request: http::Request<Bytes>,
        trigger: Trigger,
        request_id: Option<String>,
    ) -> Result<Invocation, EngineError> {
        let inner = &*self.inner;
        if !inner.accepting.load(Ordering::Acquire) {
            return Err(EngineError::ShuttingDown);
        }
        let size = request.body().len();
        if size > inner.config.max_payload_bytes {
            return Err(EngineError::PayloadTooLarge {
                size,
                limit: inner.config.max_payload_bytes,
            });
        }
        let deployed = self.resolve(function, qualifier).await?;
        let metrics = &deployed.metrics;
        let request_id = request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let config = &deployed.record.config;
        // Every log line of this invocation's work (cold start, the
        // runtime's handling, the sandbox) carries these fields.
        let span = tracing::info_span!(
            "invoke",
            function = %function,
            version = deployed.record.version,
            request_id = %request_id,
            trigger = trigger.as_str(),
        );

        // Limits: reserved concurrency, then the server-wide cap.
        let reserved = config.reserved_concurrency;
        let previous = deployed.inflight.fetch_add(1, Ordering::AcqRel);
        let throttle = if reserved.is_some_and(|r| previous >= r as usize) {
            Some(Throttle::reserved(reserved.unwrap_or(0)))
        } else if !inner.limits.try_acquire() {
            Some(Throttle::global(inner.config.max_concurrency))
        } else {
            None
        };
        if let Some(throttle) = throttle {
            deployed.inflight.fetch_sub(1, Ordering::AcqRel);
            metrics.throttles.inc();
            inner.writer.send(
                Vec::new(),
                vec![InvocationRecord {
                    ts_ms: now_ms(),
                    function: function.to_string(),
                    version: deployed.record.version,
                    request_id,
                    trigger: trigger.as_str().to_string(),
                    outcome: Outcome::Throttled,
                    cold: false,
                    duration_us: 0,
                    init_us: None,
                    billed_ms: 0,
                    memory_mb: config.memory_size,
                    max_memory_bytes: 0,
                }],
            );
            return Err(EngineError::Throttled(throttle));
        }
        inner.inflight.fetch_add(1, Ordering::AcqRel);
        metrics.concurrent.inc();
        let _guard = InflightGuard {
            engine: inner,
            deployed: deployed.clone(),
        };

        let lease = deployed.pool.acquire().instrument(span.clone()).await?;
        let cold = lease.init.is_some();
        if cold {
            metrics.cold_starts.inc();
        }
        let timeout = config.timeout_duration();
        let started = Instant::now();
        let invoke = lease.instance.invoke(InvokeRequest {
            request_id: request_id.clone(),
            request,
            timeout,
        });
        // Backstop: the runtime stops its own guests at the deadline; this
        // catches a runtime that fails to.
        let invoke = tokio::time::timeout(timeout + Duration::from_secs(2), invoke);
        let output = match invoke.instrument(span).await {
            Ok(output) => output,
            Err(_) => InvokeOutput {
                result: Err(FunctionError::new(FunctionErrorKind::Timeout, "")),
                logs: Vec::new(),
                max_memory_bytes: 0,
            },
        };
        let duration = started.elapsed();
        let init = lease.init;
        drop(lease);
        Ok(self.finish(&deployed, request_id, trigger, init, duration, output))
    }

    pub(crate) fn finish(
        &self,
        deployed: &Deployed,
        request_id: String,
        trigger: Trigger,
        init: Option<Duration>,
        duration: Duration,
        output: InvokeOutput,
    ) -> Invocation {
        let cold = init.is_some();
        let inner = &*self.inner;
        let record = &deployed.record;
        let config = &record.config;
        let metrics = &deployed.metrics;
        let billed_ms = inner.config.prices.billed_ms(duration);
        let ts = now_ms();
        let outcome = match &output.result {
            Ok(_) => Outcome::Ok,
            Err(e) if e.kind == FunctionErrorKind::Timeout => Outcome::Timeout,
            Err(_) => Outcome::Error,
        };
        metrics.invocations.inc();
        metrics.duration.observe(duration.as_secs_f64());
        if outcome != Outcome::Ok {
            metrics.errors.inc();
        }

        let mut lines: Vec<(LogStream, String)> = Vec::with_capacity(output.logs.len() + 4);
        lines.push((
            LogStream::Platform,
            format!("START RequestId: {request_id} Version: {}", record.version),
        ));
        lines.extend(output.logs);
        if let Err(error) = &output.result {
            let message = match error.kind {
                FunctionErrorKind::Timeout => {
                    format!(
                        "{request_id} Task timed out after {:.2} seconds",
                        config.timeout
                    )
                }
                _ => format!(
                    "{request_id} Error: {}: {}",
                    error.error_type(),
                    error.message
                ),
            };
            lines.push((LogStream::Platform, message));
        }
        lines.push((LogStream::Platform, format!("END RequestId: {request_id}")));
        let max_mb = output.max_memory_bytes.div_ceil(1024 * 1024);
        let mut report = format!(
            "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {billed_ms} ms\tMemory Size: {} MB\tMax Memory Used: {max_mb} MB",
            duration.as_secs_f64() * 1000.0,
            config.memory_size,
        );
        let init_us = init.map(|d| d.as_micros() as u64);
        if let Some(init) = init {
            report.push_str(&format!(
                "\tInit Duration: {:.2} ms",
                init.as_secs_f64() * 1000.0
            ));
        }
        lines.push((LogStream::Platform, report));

        let log = lines.iter().map(|(_, l)| l.clone()).collect();
        let records = lines
            .into_iter()
            .map(|(stream, message)| LogRecord {
                seq: 0,
                ts_ms: ts,
                function: record.name.clone(),
                version: record.version,
                request_id: request_id.clone(),
                stream,
                message,
            })
            .collect();
        inner.writer.send(
            records,
            vec![InvocationRecord {
                ts_ms: ts,
                function: record.name.clone(),
                version: record.version,
                request_id: request_id.clone(),
                trigger: trigger.as_str().to_string(),
                outcome,
                cold,
                duration_us: duration.as_micros() as u64,
                init_us,
                billed_ms,
                memory_mb: config.memory_size,
                max_memory_bytes: output.max_memory_bytes,
            }],
        );
        Invocation {
            request_id,
            function: record.name.clone(),
            version: record.version,
            cold,
            duration,
            result: output.result,
            log,
        }
    }
}

/// The HTTP request a function receives for an event that is not an HTTP
/// route (an Invoke API call, a control-API invoke): a request to `path` on
/// `host` with CloudEvents headers, JSON unless `headers` say otherwise.
pub fn event_request(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Bytes,
) -> Result<http::Request<Bytes>, http::Error> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, host)
        .header("ce-specversion", "1.0")
        .header("ce-type", "dev.stratus.invoke")
        .header("ce-source", "stratus")
        .header("ce-id", uuid::Uuid::new_v4().to_string());
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        builder = builder.header(http::header::CONTENT_TYPE, "application/json");
    }
    for (key, value) in headers {
        builder = builder.header(key.as_str(), value.as_str());
    }
    builder.body(body)
}
