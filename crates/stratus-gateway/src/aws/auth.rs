//! SigV4 verification of the AWS-compatible APIs.
//!
//! Requests are signed with keys Stratus issues (`stratus_store::AccessKey`):
//! the admin key, or a function's own key (which must also present its
//! session token in `x-amz-security-token`). The credential scope must name
//! region `us-east-1` and the request's service, and `x-amz-date` must be
//! within 15 minutes of the server's clock. The control API's bearer token
//! is accepted as the admin.
//!
//! Error codes follow AWS: the JSON protocols (SQS, EventBridge, Lambda)
//! answer `MissingAuthenticationToken`, `IncompleteSignature`,
//! `UnrecognizedClientException` (unknown key or token),
//! `InvalidSignatureException` (wrong signature, scope or time); the query
//! protocol (SNS) answers `InvalidClientTokenId` and `SignatureDoesNotMatch`
//! in their place.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderValue, StatusCode, header};
use stratus_core::sigv4::{self, RequestInfo, SigV4Error};
use stratus_store::{AccessKey, KeyKind};

use crate::AppState;

/// The region every credential scope must name.
pub const REGION: &str = "us-east-1";

/// How long a key read from the store is trusted without reading it again
/// (a removed function's key stops working within this time).
const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

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

impl AuthError {
    /// The HTTP status AWS answers with: 400 for a malformed signature, 403
    /// otherwise.
    pub fn status(&self) -> StatusCode {
        match self.code {
            "IncompleteSignature" => StatusCode::BAD_REQUEST,
            _ => StatusCode::FORBIDDEN,
        }
    }
}

/// Whether `service` speaks the query protocol (XML errors, other codes).
fn is_query(service: &str) -> bool {
    service == "sns"
}

fn error_for(service: &str, error: &SigV4Error) -> AuthError {
    let query = is_query(service);
    let code = match error {
        SigV4Error::Missing => "MissingAuthenticationToken",
        SigV4Error::Incomplete(_) => "IncompleteSignature",
        SigV4Error::UnknownKey(_) if query => "InvalidClientTokenId",
        SigV4Error::UnknownKey(_) => "UnrecognizedClientException",
        SigV4Error::BadScope(_) | SigV4Error::Expired(_) | SigV4Error::Mismatch if query => {
            "SignatureDoesNotMatch"
        }
        SigV4Error::BadScope(_) | SigV4Error::Expired(_) | SigV4Error::Mismatch => {
            "InvalidSignatureException"
        }
    };
    let message = match error {
        SigV4Error::Missing => "Request is missing Authentication Token".to_string(),
        other => other.to_string(),
    };
    AuthError { code, message }
}

fn invalid_token(service: &str) -> AuthError {
    AuthError {
        code: if is_query(service) {
            "InvalidClientTokenId"
        } else {
            "UnrecognizedClientException"
        },
        message: "The security token included in the request is invalid.".into(),
    }
}

/// Keys read recently, by data directory and key id.
type KeyCache = HashMap<(std::path::PathBuf, String), (AccessKey, Instant)>;
static KEYS: LazyLock<Mutex<KeyCache>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// The key with this id, from the cache or the store.
async fn lookup(state: &AppState, key_id: &str) -> Result<Option<AccessKey>, AuthError> {
    let store = state.engine.store().clone();
    let cache_key = (store.data_dir().to_path_buf(), key_id.to_string());
    {
        let cache = KEYS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((key, read)) = cache.get(&cache_key)
            && read.elapsed() < KEY_CACHE_TTL
        {
            return Ok(Some(key.clone()));
        }
    }
    let id = key_id.to_string();
    let found = tokio::task::spawn_blocking(move || store.access_key(&id))
        .await
        .map_err(|_| internal())?
        .map_err(|error| {
            tracing::error!(%error, "reading an access key failed");
            internal()
        })?;
    let mut cache = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|_, (_, read)| read.elapsed() < KEY_CACHE_TTL);
    match &found {
        Some(key) => {
            cache.insert(cache_key, (key.clone(), Instant::now()));
        }
        None => {
            cache.remove(&cache_key);
        }
    }
    Ok(found)
}

fn internal() -> AuthError {
    AuthError {
        code: "InternalFailure",
        message: "the access keys could not be read".into(),
    }
}

/// Checks the request's SigV4 signature for `service` (the credential
/// scope's service name).
pub async fn verify(
    state: &AppState,
    service: &str,
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<Caller, AuthError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Err(error_for(service, &SigV4Error::Missing));
    };
    if let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) {
        return if crate::control::constant_time_eq(token.as_bytes(), state.token.as_bytes()) {
            Ok(Caller::Admin)
        } else {
            Err(invalid_token(service))
        };
    }
    let authorization = value
        .to_str()
        .map_err(|_| SigV4Error::Incomplete("Authorization header is not ASCII".into()))
        .and_then(sigv4::parse_authorization)
        .map_err(|e| error_for(service, &e))?;
    let key = lookup(state, &authorization.key_id).await?;
    let request = RequestInfo::from_parts(parts, body);
    let secret = key.as_ref().map(|k| k.secret.clone());
    sigv4::verify(&request, REGION, service, chrono::Utc::now(), |_| secret).map_err(|e| {
        tracing::debug!(service, key_id = %authorization.key_id, error = %e, "SigV4 check failed");
        error_for(service, &e)
    })?;
    let Some(key) = key else {
        return Err(invalid_token(service));
    };
    match key.kind {
        KeyKind::Admin => Ok(Caller::Admin),
        KeyKind::Function => {
            let presented = parts
                .headers
                .get("x-amz-security-token")
                .map(HeaderValue::as_bytes);
            let expected = key.session_token.as_deref().map(str::as_bytes);
            match (presented, expected) {
                (Some(presented), Some(expected))
                    if crate::control::constant_time_eq(presented, expected) =>
                {
                    Ok(Caller::Function(key.function.unwrap_or_default()))
                }
                _ => Err(invalid_token(service)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_by_protocol() {
        let cases: &[(SigV4Error, &str, &str)] = &[
            (
                SigV4Error::Missing,
                "MissingAuthenticationToken",
                "MissingAuthenticationToken",
            ),
            (
                SigV4Error::Incomplete("x".into()),
                "IncompleteSignature",
                "IncompleteSignature",
            ),
            (
                SigV4Error::UnknownKey("AKIA".into()),
                "UnrecognizedClientException",
                "InvalidClientTokenId",
            ),
            (
                SigV4Error::Mismatch,
                "InvalidSignatureException",
                "SignatureDoesNotMatch",
            ),
            (
                SigV4Error::Expired("Signature expired".into()),
                "InvalidSignatureException",
                "SignatureDoesNotMatch",
            ),
            (
                SigV4Error::BadScope("region".into()),
                "InvalidSignatureException",
                "SignatureDoesNotMatch",
            ),
        ];
        for (error, json, query) in cases {
            assert_eq!(error_for("sqs", error).code, *json, "{error:?}");
            assert_eq!(error_for("lambda", error).code, *json, "{error:?}");
            assert_eq!(error_for("sns", error).code, *query, "{error:?}");
        }
        assert_eq!(
            error_for("sqs", &SigV4Error::Incomplete("x".into())).status(),
            400
        );
        assert_eq!(error_for("sqs", &SigV4Error::Mismatch).status(), 403);
    }
}
