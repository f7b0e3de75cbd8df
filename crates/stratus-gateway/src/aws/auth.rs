//! SigV4 verification of the AWS-compatible APIs.
//!
//! OWNER: the authentication work package.

use crate::AppState;

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The admin key (or the control API's bearer token).
    Admin,
    /// A function's own credentials.
    Function(String),
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// AWS's code: `MissingAuthenticationToken`, `IncompleteSignature`,
    /// `InvalidSignatureException`, `SignatureDoesNotMatch`,
    /// `UnrecognizedClientException`, `InvalidClientTokenId`.
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
}

/// Checks the request's SigV4 signature for `service` (the credential
/// scope's service name).
pub async fn verify(
    _state: &AppState,
    _service: &str,
    _parts: &http::request::Parts,
    _body: &[u8],
) -> Result<Caller, AuthError> {
    Ok(Caller::Admin)
}
