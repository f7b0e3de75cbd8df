//! The one error type of the AWS-compatible endpoint: AWS's error code, a
//! message safe to show, the HTTP status and the fault side. Each protocol
//! renders it in its own shape (`protocol.rs`); no service writes error
//! bodies by hand.

use http::StatusCode;

/// Whose fault an error is, as AWS's query protocol says it
/// (`<Type>Sender</Type>`) and SQS's `x-amzn-query-error` header repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request was wrong (4xx).
    Sender,
    /// The server failed (5xx).
    Receiver,
}

impl Fault {
    /// `Sender` or `Receiver`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Sender => "Sender",
            Fault::Receiver => "Receiver",
        }
    }
}

/// An error answered to an AWS client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AwsError {
    /// The HTTP status.
    pub status: StatusCode,
    /// AWS's error code, e.g. `QueueDoesNotExist`, `NotFound`,
    /// `ResourceNotFoundException`.
    pub code: String,
    /// The message for the client (never internal details).
    pub message: String,
    /// Whose fault it is.
    pub fault: Fault,
    /// The code of the service's older query protocol when it differs
    /// (SQS: `AWS.SimpleQueueService.NonExistentQueue`); JSON-protocol
    /// services send it in `x-amzn-query-error`.
    pub query_code: Option<String>,
}

impl AwsError {
    /// An error with this status and code; the fault follows the status.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        AwsError {
            status,
            code: code.into(),
            message: message.into(),
            fault: if status.is_server_error() {
                Fault::Receiver
            } else {
                Fault::Sender
            },
            query_code: None,
        }
    }

    /// A client error (400).
    pub fn sender(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A server failure. `context` (a lowercase verb phrase) and the error
    /// are logged here, once; the client sees only that the server failed.
    pub fn internal(code: &str, context: &str, error: &dyn std::error::Error) -> Self {
        tracing::error!(error = %error_chain(error), "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code,
            format!("the server failed while {context}; see its log"),
        )
    }

    /// The same error with the code of the query protocol (SQS).
    pub fn with_query_code(mut self, code: impl Into<String>) -> Self {
        self.query_code = Some(code.into());
        self
    }
}

pub use stratus_core::error_chain;
