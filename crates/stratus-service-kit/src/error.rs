//! The error of every event service. Each carries the AWS error code its
//! protocol answers with (`QueueDoesNotExist`, `NotFound`,
//! `ResourceNotFoundException`, ...); the gateway renders it in the
//! protocol's shape and picks the status.

use stratus_core::StoreError;
use stratus_engine::EngineError;

/// What kind of failure, for the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Something named does not exist.
    NotFound,
    /// The request is malformed or breaks a rule.
    Invalid,
    /// The request contradicts existing state.
    Conflict,
    /// A message or payload is too large.
    TooLarge,
    /// Too many requests for now; retry later.
    Throttled,
    /// The server failed; the message is safe to show.
    Internal,
}

/// An event service's error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ServiceError {
    /// For the HTTP status.
    pub kind: ErrorKind,
    /// The AWS error code, e.g. `QueueDoesNotExist`.
    pub code: &'static str,
    /// A message for the client.
    pub message: String,
}

impl ServiceError {
    /// An error of `kind` with AWS code `code`.
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        ServiceError {
            kind,
            code,
            message: message.into(),
        }
    }

    /// A malformed request (`InvalidParameterValue`-like codes).
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message)
    }

    /// Something named does not exist.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, code, message)
    }

    /// A server-side failure; the details go to the server log, not the client.
    pub fn internal(context: &str, error: &dyn std::error::Error) -> Self {
        tracing::error!(error = %stratus_engine::error_chain(error), "{context}");
        Self::new(
            ErrorKind::Internal,
            "InternalFailure",
            format!("the server failed while {context}; see its log"),
        )
    }

    /// A store error, keeping the client's cases (not found, conflict,
    /// invalid) and hiding the server's.
    pub fn store(context: &str, error: StoreError) -> Self {
        match error {
            StoreError::NotFound(m) => Self::new(ErrorKind::NotFound, "ResourceNotFound", m),
            StoreError::Conflict(m) => Self::new(ErrorKind::Conflict, "Conflict", m),
            StoreError::Invalid(m) => Self::new(ErrorKind::Invalid, "InvalidParameterValue", m),
            other => Self::internal(context, &other),
        }
    }

    /// An engine error met while handing an event to a function.
    pub fn engine(context: &str, error: EngineError) -> Self {
        match error {
            EngineError::NotFound(m) => Self::new(
                ErrorKind::NotFound,
                "ResourceNotFoundException",
                format!("function not found: {m}"),
            ),
            EngineError::PayloadTooLarge { size, limit } => Self::new(
                ErrorKind::TooLarge,
                "RequestEntityTooLargeException",
                format!("payload of {size} bytes exceeds the limit of {limit} bytes"),
            ),
            EngineError::ShuttingDown => Self::new(
                ErrorKind::Throttled,
                "ServiceUnavailable",
                "the server is shutting down",
            ),
            other => Self::internal(context, &other),
        }
    }
}
