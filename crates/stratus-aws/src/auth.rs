//! Who is calling, and whether they may: authentication (the control API's
//! bearer token, or a SigV4 signature by a key the [`KeyStore`] knows) and
//! the one authorization hook every operation passes before its handler
//! runs.
//!
//! Error codes follow AWS per protocol: the JSON protocols answer
//! `MissingAuthenticationToken`, `IncompleteSignature`,
//! `UnrecognizedClientException` (unknown key or token) and
//! `InvalidSignatureException` (wrong signature, scope or time); the query
//! protocol answers `InvalidClientTokenId` and `SignatureDoesNotMatch` in
//! their place; Lambda's rest-json adds `Exception` to the first two; S3
//! answers `AccessDenied`, `InvalidAccessKeyId` and `SignatureDoesNotMatch`.

use crate::error::AwsError;
use crate::protocol::Protocol;
use crate::sigv4::SigV4Error;
use async_trait::async_trait;
use http::StatusCode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The admin key (or the control API's bearer token).
    Admin,
    /// A function's own credentials.
    Function(String),
    /// No credentials: an operation its service serves to anyone holding
    /// its URL (SNS's `SubscribeURL` and `UnsubscribeURL`).
    Anonymous,
}

impl Caller {
    /// SQS's `SenderId` and similar: the account for the admin, the
    /// function's role session otherwise.
    pub fn sender_id(&self, account: &str) -> String {
        match self {
            Caller::Admin => account.to_string(),
            Caller::Function(name) => format!("AROASTRATUS:{name}"),
            Caller::Anonymous => "anonymous".to_string(),
        }
    }
}

/// An issued access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// Its secret.
    pub secret: String,
    /// Who it belongs to.
    pub caller: Caller,
    /// The session token it must be presented with (function keys).
    pub session_token: Option<String>,
}

/// Where access keys are found; the backend implements it.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The key with this id, if any. An `Err` is a server failure, already
    /// logged.
    async fn key(&self, key_id: &str) -> Result<Option<AccessKey>, AwsError>;
}

/// A [`KeyStore`] in front of another that trusts a key it read for `ttl`
/// (a removed key stops working within that time).
pub struct CachedKeys<K> {
    inner: K,
    ttl: Duration,
    cache: Mutex<HashMap<String, (AccessKey, Instant)>>,
}

impl<K: KeyStore> CachedKeys<K> {
    /// Caches `inner`'s answers for `ttl`.
    pub fn new(inner: K, ttl: Duration) -> Self {
        CachedKeys {
            inner,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl<K: KeyStore> KeyStore for CachedKeys<K> {
    async fn key(&self, key_id: &str) -> Result<Option<AccessKey>, AwsError> {
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((key, read)) = cache.get(key_id)
                && read.elapsed() < self.ttl
            {
                return Ok(Some(key.clone()));
            }
        }
        let found = self.inner.key(key_id).await?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|_, (_, read)| read.elapsed() < self.ttl);
        match &found {
            Some(key) => {
                cache.insert(key_id.to_string(), (key.clone(), Instant::now()));
            }
            None => {
                cache.remove(key_id);
            }
        }
        Ok(found)
    }
}

/// What an operation asks to do: its IAM action and the resource it acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access<'a> {
    /// Who asks.
    pub caller: &'a Caller,
    /// The IAM action, e.g. `sqs:SendMessage`.
    pub action: &'a str,
    /// The ARN of the resource (`*` for operations on no one resource,
    /// such as `ListQueues`).
    pub resource: &'a str,
    /// The region of the request's credential scope.
    pub region: &'a str,
}

/// The authorization hook: every operation passes it, after
/// authentication and before its handler runs.
#[async_trait]
pub trait Authorizer: Send + Sync + 'static {
    /// `Ok` to let the operation run; otherwise the error answered
    /// (`AccessDeniedException` in the service's shape).
    async fn authorize(&self, access: &Access<'_>) -> Result<(), AwsError>;
}

/// Lets every authenticated caller do everything (the policy until IAM
/// policies are evaluated). An anonymous caller reaches the hook only for
/// the operations its service serves unsigned.
pub struct AllowAuthenticated;

#[async_trait]
impl Authorizer for AllowAuthenticated {
    async fn authorize(&self, _access: &Access<'_>) -> Result<(), AwsError> {
        Ok(())
    }
}

/// The shared pieces of authentication.
#[derive(Clone)]
pub struct Authenticator {
    /// The issued keys.
    pub keys: Arc<dyn KeyStore>,
    /// The control API's bearer token, accepted as the admin.
    pub bearer_token: Arc<str>,
}

/// The error answered for a refused signature, in `protocol`'s codes.
pub fn sigv4_error(protocol: Protocol, error: &SigV4Error) -> AwsError {
    let query = matches!(protocol, Protocol::Query { .. });
    let code = match (error, protocol) {
        (SigV4Error::Missing, Protocol::RestJson) => "MissingAuthenticationTokenException",
        (SigV4Error::Missing, Protocol::RestXml) => "AccessDenied",
        (SigV4Error::Missing, _) => "MissingAuthenticationToken",
        (SigV4Error::Incomplete(_), Protocol::RestJson) => "IncompleteSignatureException",
        (SigV4Error::Incomplete(_), Protocol::RestXml) => "AuthorizationHeaderMalformed",
        (SigV4Error::Incomplete(_), _) => "IncompleteSignature",
        (SigV4Error::UnknownKey(_), _) => return invalid_token(protocol),
        (SigV4Error::ContentSha256Mismatch, Protocol::RestXml) => "XAmzContentSHA256Mismatch",
        (SigV4Error::BadDigest(_), Protocol::RestXml) => "BadDigest",
        (SigV4Error::MalformedBody(_), Protocol::RestXml) => "InvalidRequest",
        (SigV4Error::IncompleteBody(_), Protocol::RestXml) => "IncompleteBody",
        (SigV4Error::InvalidArgument(_), Protocol::RestXml) => "InvalidArgument",
        (
            SigV4Error::ContentSha256Mismatch
            | SigV4Error::BadDigest(_)
            | SigV4Error::MalformedBody(_)
            | SigV4Error::IncompleteBody(_)
            | SigV4Error::InvalidArgument(_),
            _,
        ) => "InvalidRequest",
        (_, Protocol::RestXml) => "SignatureDoesNotMatch",
        (_, _) if query => "SignatureDoesNotMatch",
        _ => "InvalidSignatureException",
    };
    let message = match error {
        SigV4Error::Missing => "Request is missing Authentication Token".to_string(),
        other => other.to_string(),
    };
    let status = match error {
        SigV4Error::Incomplete(_)
        | SigV4Error::ContentSha256Mismatch
        | SigV4Error::BadDigest(_)
        | SigV4Error::MalformedBody(_)
        | SigV4Error::IncompleteBody(_)
        | SigV4Error::InvalidArgument(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    };
    AwsError::new(status, code, message)
}

/// An unknown key or a wrong session token, in `protocol`'s codes.
pub fn invalid_token(protocol: Protocol) -> AwsError {
    let code = match protocol {
        Protocol::Query { .. } => "InvalidClientTokenId",
        Protocol::RestXml => "InvalidAccessKeyId",
        _ => "UnrecognizedClientException",
    };
    AwsError::new(
        StatusCode::FORBIDDEN,
        code,
        "The security token included in the request is invalid.",
    )
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: Protocol = Protocol::Query { namespace: "ns" };

    #[test]
    fn codes_by_protocol() {
        let cases: &[(SigV4Error, &str, &str, &str)] = &[
            (
                SigV4Error::Missing,
                "MissingAuthenticationToken",
                "MissingAuthenticationToken",
                "MissingAuthenticationTokenException",
            ),
            (
                SigV4Error::Incomplete("x".into()),
                "IncompleteSignature",
                "IncompleteSignature",
                "IncompleteSignatureException",
            ),
            (
                SigV4Error::UnknownKey("AKIA".into()),
                "UnrecognizedClientException",
                "InvalidClientTokenId",
                "UnrecognizedClientException",
            ),
            (
                SigV4Error::Mismatch,
                "InvalidSignatureException",
                "SignatureDoesNotMatch",
                "InvalidSignatureException",
            ),
            (
                SigV4Error::Expired("Signature expired".into()),
                "InvalidSignatureException",
                "SignatureDoesNotMatch",
                "InvalidSignatureException",
            ),
            (
                SigV4Error::BadScope("region".into()),
                "InvalidSignatureException",
                "SignatureDoesNotMatch",
                "InvalidSignatureException",
            ),
        ];
        for (error, json, query, rest) in cases {
            assert_eq!(
                sigv4_error(Protocol::Json10, error).code,
                *json,
                "{error:?}"
            );
            assert_eq!(
                sigv4_error(Protocol::Json11, error).code,
                *json,
                "{error:?}"
            );
            assert_eq!(sigv4_error(QUERY, error).code, *query, "{error:?}");
            assert_eq!(
                sigv4_error(Protocol::RestJson, error).code,
                *rest,
                "{error:?}"
            );
        }
        assert_eq!(
            sigv4_error(Protocol::Json10, &SigV4Error::Incomplete("x".into())).status,
            400
        );
        assert_eq!(
            sigv4_error(Protocol::Json10, &SigV4Error::Mismatch).status,
            403
        );
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
