//! The one place where errors become HTTP responses.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use stratus_api::ApiError;
use stratus_engine::StoreError;
use stratus_engine::{EngineError, RuntimeError};

/// A control API failure.
#[derive(Debug)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiFailure {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiFailure {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }
}

impl From<EngineError> for ApiFailure {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::NotFound(name) => Self::not_found(format!("function `{name}` not found")),
            EngineError::Throttled(t) => ApiFailure {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: t.reason,
                message: t.to_string(),
                retry_after: Some(t.retry_after_secs),
            },
            EngineError::PayloadTooLarge { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLarge",
                error.to_string(),
            ),
            EngineError::Invalid(message) => Self::new(StatusCode::BAD_REQUEST, "Invalid", message),
            EngineError::Conflict(message) => Self::new(StatusCode::CONFLICT, "Conflict", message),
            EngineError::ShuttingDown => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ShuttingDown",
                "the server is shutting down",
            ),
            EngineError::Runtime(RuntimeError::InvalidArtifact(message)) => {
                Self::new(StatusCode::BAD_REQUEST, "InvalidArtifact", message)
            }
            EngineError::Store(StoreError::NotFound(message)) => Self::not_found(message),
            EngineError::Store(StoreError::Conflict(message)) => {
                Self::new(StatusCode::CONFLICT, "Conflict", message)
            }
            EngineError::Store(StoreError::Invalid(message)) => {
                Self::new(StatusCode::BAD_REQUEST, "Invalid", message)
            }
            other => {
                tracing::error!(error = %stratus_engine::error_chain(&other), "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "internal error; see the server log",
                )
            }
        }
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ApiError {
                code: self.code.to_string(),
                message: self.message,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The functions' gateway errors, in API Gateway's shape (`{"message": ...}`).
pub fn gateway_error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "message": message }))).into_response()
}

/// Maps an engine error on the functions' gateway.
pub fn gateway_engine_error(error: EngineError) -> Response {
    match error {
        EngineError::NotFound(_) => gateway_error(StatusCode::NOT_FOUND, "Not Found"),
        EngineError::Throttled(t) => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(serde_json::json!({
                    "message": "Too Many Requests",
                    "reason": t.reason,
                    "limit": t.limit,
                    "value": t.value,
                })),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(t.retry_after_secs));
            response
        }
        EngineError::PayloadTooLarge { .. } => {
            gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large")
        }
        EngineError::ShuttingDown => {
            gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
        other => {
            tracing::error!(error = %stratus_engine::error_chain(&other), "invocation failed");
            gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}
