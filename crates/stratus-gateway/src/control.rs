//! The control API (`/v1`): artifacts, deployments, functions, invoke, logs,
//! stats, the topics' local outbox, and Prometheus `/metrics`, plus
//! Lambda's Invoke API. Every `/v1`
//! route but `/v1/health` needs the bearer token.

use crate::AppState;
use crate::error::ApiFailure;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use std::str::FromStr;
use stratus_api as api;
use stratus_aws::auth::constant_time_eq;
use stratus_core::{FunctionConfig, RuntimeKind};
use stratus_engine::Trigger;
use stratus_engine::records::FunctionRecord;

/// Largest artifact accepted by an upload.
const MAX_ARTIFACT_BYTES: usize = 256 * 1024 * 1024;

/// The router of `--api-listen`.
pub fn router(state: AppState) -> Router {
    let authed = Router::new()
        .route(
            "/v1/artifacts/{sha256}",
            put(put_artifact).head(head_artifact),
        )
        .route("/v1/deployments", post(deploy))
        .route("/v1/functions", get(list_functions))
        .route(
            "/v1/functions/{name}",
            get(get_function).delete(delete_function),
        )
        .route("/v1/functions/{name}/invoke", post(invoke))
        .route("/v1/functions/{name}/logs", get(logs))
        .route("/v1/functions/{name}/evict", post(evict))
        .route(
            "/v1/services/{service}",
            axum::routing::delete(delete_service),
        )
        .route("/v1/stats", get(stats))
        .route("/v1/sns/outbox", get(sns_outbox))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_ARTIFACT_BYTES))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route(
            "/v1/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .merge(authed)
        // Every other request is for the AWS-compatible services (SQS,
        // SNS, EventBridge, Lambda's Invoke API), which authenticate with
        // SigV4 (or the bearer token) in the protocol layer.
        .fallback(aws_endpoint(crate::aws::router(&state)))
        .with_state(state)
}

/// The AWS endpoint as the fallback of a router; unknown `/v1` paths stay
/// the control API's 404.
fn aws_endpoint(
    aws: stratus_aws::AwsRouter,
) -> impl Fn(Request) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    let aws = std::sync::Arc::new(aws);
    move |request: Request| {
        let aws = aws.clone();
        Box::pin(async move {
            if request.uri().path().starts_with("/v1/") {
                return ApiFailure::not_found("no such endpoint").into_response();
            }
            aws.handle(request).await.map(axum::body::Body::from)
        })
    }
}

async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), state.token.as_bytes()) => {
            next.run(request).await
        }
        Some(_) => ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "the bearer token is not valid for this server",
        )
        .into_response(),
        None => ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "missing `Authorization: Bearer <token>` header; the token is in <data-dir>/token",
        )
        .into_response(),
    }
}

#[derive(Deserialize)]
struct RuntimeQuery {
    runtime: Option<String>,
}

fn runtime_of(query: &RuntimeQuery) -> Result<RuntimeKind, ApiFailure> {
    let name = query.runtime.as_deref().unwrap_or("wasm");
    RuntimeKind::from_wire(name).ok_or_else(|| {
        let known: Vec<&str> = RuntimeKind::ALL.iter().map(|k| k.as_str()).collect();
        ApiFailure::bad_request(format!(
            "unknown runtime `{name}`; supported: {}",
            known.join(", ")
        ))
    })
}

fn valid_sha(sha: &str) -> Result<(), ApiFailure> {
    if sha.len() == 64
        && sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(ApiFailure::bad_request(
            "artifact id must be the lower-case hex SHA-256 of its bytes",
        ))
    }
}

async fn head_artifact(
    State(state): State<AppState>,
    Path(sha): Path<String>,
    Query(query): Query<RuntimeQuery>,
) -> Result<StatusCode, ApiFailure> {
    valid_sha(&sha)?;
    let kind = runtime_of(&query)?;
    Ok(if state.engine.has_artifact(kind, &sha).await? {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    })
}

async fn put_artifact(
    State(state): State<AppState>,
    Path(sha): Path<String>,
    Query(query): Query<RuntimeQuery>,
    body: Bytes,
) -> Result<Json<api::ArtifactResponse>, ApiFailure> {
    valid_sha(&sha)?;
    let kind = runtime_of(&query)?;
    let size = body.len() as u64;
    state.engine.upload_artifact(kind, &sha, body).await?;
    Ok(Json(api::ArtifactResponse { sha256: sha, size }))
}

async fn deploy(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<api::DeploymentResponse>, ApiFailure> {
    let request: api::DeploymentRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiFailure::bad_request(format!("malformed deployment document: {e}")))?;
    if request.format != api::DEPLOYMENT_FORMAT {
        return Err(ApiFailure::bad_request(format!(
            "deployment format {} is not supported; this server takes format {}",
            request.format,
            api::DEPLOYMENT_FORMAT
        )));
    }
    let mut configs = Vec::with_capacity(request.functions.len());
    for value in request.functions {
        let config: FunctionConfig = serde_json::from_value(value)
            .map_err(|e| ApiFailure::bad_request(format!("malformed function config: {e}")))?;
        configs.push(config);
    }
    // Queues, topics and buses the triggers name must exist (or are made).
    state
        .services
        .prepare_deployment(&configs)
        .await
        .map_err(|e| match e.kind {
            stratus_triggers::ErrorKind::Internal => {
                ApiFailure::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal", e.message)
            }
            _ => ApiFailure::bad_request(e.message),
        })?;
    let results = state.engine.deploy(&request.service, configs).await?;
    let functions = results
        .into_iter()
        .map(|r| {
            let urls = state
                .engine
                .function(&r.name)
                .map(|f| state.route_urls(&f.config))
                .unwrap_or_default();
            api::DeployedFunction {
                status: r.status.as_str().to_string(),
                name: r.name,
                version: r.version,
                urls,
            }
        })
        .collect();
    Ok(Json(api::DeploymentResponse {
        service: request.service,
        functions,
    }))
}

fn info(state: &AppState, record: FunctionRecord) -> api::FunctionInfo {
    api::FunctionInfo {
        instances: state.engine.loaded_instances(&record.name),
        urls: state.route_urls(&record.config),
        config: serde_json::to_value(&record.config).unwrap_or_default(),
        name: record.name,
        service: record.service,
        version: record.version,
        updated_ms: record.updated_ms,
    }
}

async fn list_functions(State(state): State<AppState>) -> Json<api::FunctionList> {
    let functions = state
        .engine
        .functions()
        .into_iter()
        .map(|r| info(&state, r))
        .collect();
    Json(api::FunctionList { functions })
}

async fn get_function(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<api::FunctionInfo>, ApiFailure> {
    let record = state
        .engine
        .function(&name)
        .ok_or_else(|| ApiFailure::not_found(format!("function `{name}` not found")))?;
    Ok(Json(info(&state, record)))
}

async fn delete_function(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiFailure> {
    if state.engine.remove_function(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiFailure::not_found(format!(
            "function `{name}` not found"
        )))
    }
}

async fn delete_service(
    State(state): State<AppState>,
    Path(service): Path<String>,
) -> Result<Json<serde_json::Value>, ApiFailure> {
    let removed = state.engine.remove_service(&service).await?;
    if removed.is_empty() {
        return Err(ApiFailure::not_found(format!(
            "service `{service}` has no functions"
        )));
    }
    Ok(Json(
        serde_json::json!({ "service": service, "removed": removed }),
    ))
}

async fn evict(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiFailure> {
    let retired = state.engine.evict(&name)?;
    Ok(Json(serde_json::json!({ "retired": retired })))
}

async fn invoke(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<api::InvokeResponse>, ApiFailure> {
    let request: api::InvokeRequest = if body.is_empty() {
        api::InvokeRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiFailure::bad_request(format!("malformed invoke request: {e}")))?
    };
    let payload = base64::engine::general_purpose::STANDARD
        .decode(request.body_base64.as_bytes())
        .map_err(|e| ApiFailure::bad_request(format!("bodyBase64 is not base64: {e}")))?;
    let method = http::Method::from_str(request.method.as_deref().unwrap_or("POST"))
        .map_err(|_| ApiFailure::bad_request("method is not a valid HTTP method"))?;
    let path = request.path.as_deref().unwrap_or("/");
    if !path.starts_with('/') {
        return Err(ApiFailure::bad_request("path must start with `/`"));
    }
    let request = crate::event_request(
        &state,
        method.as_str(),
        path,
        &request.headers,
        Bytes::from(payload),
    )
    .map_err(|e| ApiFailure::bad_request(format!("invalid request: {e}")))?;
    let invocation = state.engine.invoke(&name, request, Trigger::Invoke).await?;
    let (status, headers, body, error_type, error_message) = match invocation.result {
        Ok(response) => {
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            (status, headers, response.into_body(), None, None)
        }
        Err(error) => {
            let status = match error.kind {
                stratus_engine::FunctionErrorKind::Timeout => 504,
                stratus_engine::FunctionErrorKind::ResponseTooLarge => 413,
                _ => 500,
            };
            let message = match error.kind {
                stratus_engine::FunctionErrorKind::Timeout => "Task timed out".to_string(),
                _ => error.message.clone(),
            };
            let error_type = error.error_type().to_string();
            (
                status,
                Vec::new(),
                error.body.unwrap_or_default(),
                Some(error_type),
                Some(message),
            )
        }
    };
    Ok(Json(api::InvokeResponse {
        request_id: invocation.request_id,
        version: invocation.version,
        cold: invocation.cold,
        duration_ms: invocation.duration.as_secs_f64() * 1000.0,
        status,
        headers,
        body_base64: base64::engine::general_purpose::STANDARD.encode(&body),
        error_type,
        error_message,
        log: invocation.log,
    }))
}

#[derive(Deserialize)]
struct LogsQuery {
    after: Option<i64>,
    limit: Option<usize>,
}

async fn logs(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Result<Json<api::LogsResponse>, ApiFailure> {
    if state.engine.function(&name).is_none() {
        return Err(ApiFailure::not_found(format!(
            "function `{name}` not found"
        )));
    }
    let after = query.after.unwrap_or(0);
    let limit = query.limit.unwrap_or(1000).clamp(1, 10_000);
    // Read your writes: records of invocations that already answered are
    // committed before we look.
    state.engine.flush().await;
    let records = state.engine.logs(&name, after, limit).await?;
    let next = records.last().map_or(after, |r| r.seq);
    let records = records
        .into_iter()
        .map(|r| api::LogLine {
            seq: r.seq,
            ts_ms: r.ts_ms,
            request_id: r.request_id,
            version: r.version,
            stream: r.stream.as_str().to_string(),
            message: r.message,
        })
        .collect();
    Ok(Json(api::LogsResponse { records, next }))
}

async fn stats(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiFailure> {
    state.engine.flush().await;
    let usage = state.engine.usage().await?;
    let mut body = serde_json::to_value(&usage).map_err(|e| {
        ApiFailure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal",
            format!("encoding usage: {e}"),
        )
    })?;
    match state.services.figures().await {
        Ok(figures) => {
            if let (Some(object), Ok(serde_json::Value::Object(extra))) =
                (body.as_object_mut(), serde_json::to_value(&figures))
            {
                object.extend(extra);
            }
        }
        Err(error) => tracing::warn!(%error, "event figures unavailable for stats"),
    }
    Ok(Json(body))
}

#[derive(Deserialize)]
struct OutboxQuery {
    /// A topic's name or ARN.
    topic: Option<String>,
    limit: Option<usize>,
}

/// The newest messages of the topics' local outbox (what email and SMS
/// subscriptions would have been sent), of one topic if asked.
async fn sns_outbox(
    State(state): State<AppState>,
    Query(query): Query<OutboxQuery>,
) -> Result<Json<api::OutboxResponse>, ApiFailure> {
    let topic = match query.topic.as_deref() {
        Some(arn) if arn.starts_with("arn:") => {
            let parsed = arn
                .parse::<stratus_core::arn::Arn>()
                .map_err(|e| ApiFailure::bad_request(e.to_string()))?;
            let name = parsed
                .as_topic()
                .map_err(|e| ApiFailure::bad_request(e.to_string()))?;
            Some(name.to_string())
        }
        other => other.map(str::to_string),
    };
    let limit = query.limit.unwrap_or(20).clamp(1, 1000);
    let messages = state
        .services
        .sns()
        .local_outbox(topic.as_deref(), limit)
        .await
        .map_err(|e| ApiFailure::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal", e.message))?;
    let messages = messages
        .into_iter()
        .map(|m| api::OutboxMessage {
            id: m.id,
            ts_ms: m.created_ms,
            topic: m.message.topic,
            subscription_arn: m.message.subscription_arn,
            protocol: m.message.protocol,
            endpoint: m.message.endpoint,
            kind: m.message.kind.as_str().to_string(),
            message_id: m.message.message_id,
            subject: m.message.subject,
            body: m.message.body,
        })
        .collect();
    Ok(Json(api::OutboxResponse { messages }))
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        {
            let engine = state.engine.metrics_text();
            let events = state.services.metrics_text().await;
            let body = engine.strip_suffix("# EOF\n").unwrap_or(&engine);
            format!("{body}{events}# EOF\n")
        },
    )
        .into_response()
}
