//! The AWS-compatible service APIs on the control API's listener, all at
//! one endpoint (what `AWS_ENDPOINT_URL` names): a `POST /` is told apart by
//! its protocol, as AWS's own endpoints would be by host name:
//!
//! - `X-Amz-Target: AmazonSQS.<Op>` (JSON 1.0): SQS, `sqs.rs`;
//! - `X-Amz-Target: AWSEvents.<Op>` (JSON 1.1): EventBridge, `eventbridge.rs`;
//! - a form body with `Action=<Op>` (query protocol): SNS, `sns.rs`.
//!
//! Every request is authenticated with SigV4 first (`auth.rs`); the Lambda
//! Invoke API (`lambda_api.rs`) uses the same check.

pub(crate) mod auth;
pub(crate) mod eventbridge;
pub(crate) mod sns;
pub(crate) mod sqs;

use crate::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{StatusCode, header};

/// Largest request body of the service APIs (SQS and SNS allow 256 KiB per
/// message and per batch, EventBridge 256 KiB per PutEvents; the margin
/// leaves room for the JSON or form encoding around them).
pub(crate) const MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;

/// An authenticated request for one service.
pub(crate) struct AwsRequest {
    /// The operation (`SendMessage`, `Publish`, `PutEvents`).
    pub operation: String,
    /// The body as received.
    pub body: Bytes,
    /// Who signed it.
    pub caller: auth::Caller,
}

/// `POST /` (and `POST /{account}/{queue}`, SQS's queue URLs).
pub async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return plain_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body exceeds {MAX_REQUEST_BYTES} bytes"),
            );
        }
    };
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let service = match target.as_deref() {
        Some(t) if t.starts_with("AmazonSQS.") => Service::Sqs,
        Some(t) if t.starts_with("AWSEvents.") => Service::EventBridge,
        Some(t) => {
            return plain_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "unknown X-Amz-Target `{t}` (this endpoint serves AmazonSQS and AWSEvents targets, and the SNS query API)"
                ),
            );
        }
        None => Service::Sns,
    };
    let caller = match auth::verify(&state, service.signing_name(), &parts, &body).await {
        Ok(caller) => caller,
        Err(error) => return service.auth_error(error),
    };
    let operation = match &target {
        Some(t) => t
            .split_once('.')
            .map(|(_, op)| op)
            .unwrap_or("")
            .to_string(),
        None => String::new(),
    };
    let request = AwsRequest {
        operation,
        body,
        caller,
    };
    match service {
        Service::Sqs => sqs::handle(&state, request).await,
        Service::EventBridge => eventbridge::handle(&state, request).await,
        Service::Sns => sns::handle(&state, request).await,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    Sqs,
    Sns,
    EventBridge,
}

impl Service {
    /// The service name in SigV4 credential scopes.
    fn signing_name(self) -> &'static str {
        match self {
            Service::Sqs => "sqs",
            Service::Sns => "sns",
            Service::EventBridge => "events",
        }
    }

    fn auth_error(self, error: auth::AuthError) -> Response {
        match self {
            Service::Sqs => sqs::auth_error(error),
            Service::EventBridge => eventbridge::auth_error(error),
            Service::Sns => sns::auth_error(error),
        }
    }
}

/// A JSON-protocol error (`{"__type": ..., "message": ...}`), as SQS and
/// EventBridge answer. `query_code` is SQS's `x-amzn-query-error` header
/// (`AWS.SimpleQueueService.NonExistentQueue;Sender`), which boto3 turns
/// into the error code of the query protocol.
pub(crate) fn json_error(
    status: StatusCode,
    error_type: &str,
    message: &str,
    content_type: &'static str,
    query_code: Option<&str>,
) -> Response {
    let body = serde_json::json!({"__type": error_type, "message": message});
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    if let Some(code) = query_code
        && let Ok(value) = http::HeaderValue::from_str(code)
    {
        headers.insert("x-amzn-query-error", value);
    }
    if let Ok(value) = http::HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-requestid", value);
    }
    response
}

/// A JSON-protocol request body: an object (an empty body is `{}`), or
/// None when it is not one.
pub(crate) fn json_body(body: &[u8]) -> Option<serde_json::Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(serde_json::Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_slice(body) {
        Ok(value @ serde_json::Value::Object(_)) => Some(value),
        _ => None,
    }
}

/// The answer of a JSON-protocol operation: its result, or its error as
/// `render` shapes it (server failures are logged).
pub(crate) fn json_reply(
    reply: Result<serde_json::Value, stratus_events::EventsError>,
    operation: &str,
    service: &str,
    content_type: &'static str,
    render: fn(&stratus_events::EventsError) -> Response,
) -> Response {
    match reply {
        Ok(value) => json_ok(&value, content_type),
        Err(error) => {
            if error.kind == stratus_events::ErrorKind::Internal {
                tracing::warn!(operation, service, %error, "AWS API request failed");
            }
            render(&error)
        }
    }
}

/// A JSON-protocol success.
pub(crate) fn json_ok(body: &serde_json::Value, content_type: &'static str) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    if let Ok(value) = http::HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-requestid", value);
    }
    response
}

fn plain_error(status: StatusCode, message: String) -> Response {
    (status, message).into_response()
}
