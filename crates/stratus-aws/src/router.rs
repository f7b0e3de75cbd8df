//! The AWS-compatible endpoint: one router in front of every registered
//! service. It picks the service, reads the body within the service's
//! limit, authenticates the caller, names the operation, passes the
//! authorization hook, runs the handler inside a span, and renders errors
//! in the service's protocol.
//!
//! The service is picked by, in order:
//! 1. the credential scope's service (`Authorization` header or a
//!    presigned URL's `X-Amz-Credential`): `sqs`, `sns`, `events`, ...;
//! 2. the `X-Amz-Target` prefix (`AmazonSQS`, `AWSEvents`);
//! 3. the services' own claims on the host and path, in registration order
//!    (Lambda's `/2015-03-31/functions/...`), and for requests with no
//!    scope, weaker claims (SNS's forms);
//! 4. the one greedy service (S3's path-style and virtual-hosted-style
//!    addressing), last.
//!
//! A target or a path claim outranks the scope: a request for Lambda's
//! path signed for `sqs` goes to Lambda, whose signature check refuses it
//! (as AWS's endpoints, chosen by host name, would).
//!
//! A scope or target naming a service Stratus does not serve gets that
//! protocol's "unknown operation" error.

use crate::auth::{Access, Authenticator, Authorizer, Caller, constant_time_eq, invalid_token};
use crate::error::AwsError;
use crate::protocol::{Protocol, new_request_id};
use crate::sigv4::{self, SigV4Error};
use crate::stream::{BodyStream, Check, StreamedBody, Wording};
use async_trait::async_trait;
use bytes::Bytes;
use http::{Response, StatusCode, header, request::Parts};
use http_body_util::BodyExt;
use std::sync::Arc;
use stratus_core::function::{ACCOUNT_ID, REGION};
use tracing::Instrument;

/// The largest body a service reads unless it says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Who called, where, and the id of this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The authenticated caller.
    pub caller: Caller,
    /// The region of the credential scope (the default region for the
    /// bearer token).
    pub region: String,
    /// The account.
    pub account: String,
    /// This request's id (`x-amzn-RequestId`).
    pub request_id: String,
}

/// A request for one service, authenticated, its body read (or, for a
/// service that streams it, ready to stream).
#[derive(Debug)]
pub struct AwsRequest {
    /// Method, URI and headers.
    pub parts: Parts,
    /// The body (empty when it streams: [`AwsRequest::take_stream`]).
    pub body: Bytes,
    /// Caller, region and request id.
    pub context: Context,
    /// The streamed body, for a request its service streams.
    pub stream: Option<BodyStream>,
}

impl AwsRequest {
    /// The body of a request its service streams
    /// ([`Service::streams_body`]), checked as it arrives; `None` for a
    /// buffered request or once taken.
    pub fn take_stream(&self) -> Option<StreamedBody> {
        self.stream.as_ref().and_then(BodyStream::take)
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The operation named by `X-Amz-Target` (`AmazonSQS.SendMessage` →
    /// `SendMessage`).
    pub fn target_operation(&self) -> Option<&str> {
        self.header("x-amz-target")
            .and_then(|t| t.split_once('.'))
            .map(|(_, op)| op)
    }
}

/// What an operation is, for the authorization hook and the span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Its name (`SendMessage`).
    pub name: String,
    /// The IAM action (`sqs:SendMessage`).
    pub action: String,
    /// The ARN of the resource it acts on, or `*`.
    pub resource: String,
}

impl Operation {
    /// `service:name` on `resource`.
    pub fn new(service: &str, name: &str, resource: impl Into<String>) -> Self {
        Operation {
            name: name.to_string(),
            action: format!("{service}:{name}"),
            resource: resource.into(),
        }
    }
}

/// One AWS service on the endpoint.
#[async_trait]
pub trait Service: Send + Sync + 'static {
    /// The service's name in SigV4 credential scopes (`sqs`, `events`).
    fn signing_name(&self) -> &'static str;

    /// Its protocol, for errors answered before its handler runs.
    fn protocol(&self) -> Protocol;

    /// The `X-Amz-Target` prefix of its operations (`AmazonSQS`), if it
    /// speaks a JSON protocol.
    fn target_prefix(&self) -> Option<&'static str> {
        None
    }

    /// Whether a request is this service's by its host or path (Lambda's
    /// `/2015-03-31/functions/`), whatever its scope names.
    fn claims(&self, _parts: &Parts) -> bool {
        false
    }

    /// Whether a request with no scope, no target and no other claim is
    /// this service's, by weaker signs such as its content type (SNS's
    /// forms, sent unsigned or with the bearer token).
    fn claims_unsigned(&self, _parts: &Parts) -> bool {
        false
    }

    /// Whether this service takes every request no other one claimed
    /// (S3's addressing). At most one service is greedy.
    fn greedy(&self) -> bool {
        false
    }

    /// Whether this request may come without a signature: an operation AWS
    /// serves to anyone holding its URL (SNS's `SubscribeURL`). The caller
    /// is then [`Caller::Anonymous`], and the authorization hook still
    /// runs.
    fn allows_unsigned(&self, _parts: &Parts) -> bool {
        false
    }

    /// The largest body it reads.
    fn body_limit(&self) -> usize {
        DEFAULT_BODY_LIMIT
    }

    /// Whether it reads this request's body as a stream (S3's uploads)
    /// rather than whole: the router then checks the signature of the
    /// headers before the body arrives, and hands the service a body that
    /// is decoded and checked as it streams ([`AwsRequest::take_stream`]),
    /// bounded by [`Service::body_limit`].
    fn streams_body(&self, _parts: &Parts) -> bool {
        false
    }

    /// The error for a body over [`Service::body_limit`].
    fn too_large(&self, limit: usize) -> AwsError {
        AwsError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("The request body is longer than the maximum allowed of {limit} bytes."),
        )
    }

    /// Names the request's operation, its IAM action and its resource. A
    /// request that names no known operation is refused here.
    fn operation(&self, request: &AwsRequest) -> Result<Operation, AwsError>;

    /// Runs the operation; the authorization hook has allowed it.
    async fn call(
        &self,
        operation: &Operation,
        request: AwsRequest,
    ) -> Result<Response<Bytes>, AwsError>;

    /// `error` in this service's shape.
    fn render(&self, error: &AwsError, request_id: &str) -> Response<Bytes> {
        self.protocol().error(error, request_id, None)
    }
}

/// Which service a request is for.
enum Route {
    Service(Arc<dyn Service>),
    Unknown { protocol: Protocol, name: String },
}

/// The endpoint's router.
#[derive(Clone)]
pub struct AwsRouter {
    services: Vec<Arc<dyn Service>>,
    auth: Authenticator,
    authorizer: Arc<dyn Authorizer>,
}

impl AwsRouter {
    /// A router with no services yet.
    pub fn new(auth: Authenticator, authorizer: Arc<dyn Authorizer>) -> Self {
        AwsRouter {
            services: Vec::new(),
            auth,
            authorizer,
        }
    }

    /// Adds a service.
    pub fn register(&mut self, service: Arc<dyn Service>) -> &mut Self {
        self.services.push(service);
        self
    }

    /// The signing names of the registered services.
    pub fn service_names(&self) -> Vec<&'static str> {
        self.services.iter().map(|s| s.signing_name()).collect()
    }

    fn route(&self, parts: &Parts) -> Route {
        // The service the request's target or path names, if one does.
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(|t| t.split_once('.').map_or(t, |(p, _)| p));
        let claimant = match target {
            Some(prefix) => self
                .services
                .iter()
                .find(|s| s.target_prefix() == Some(prefix)),
            None => self.services.iter().find(|s| s.claims(parts)),
        };
        if let Some((_, service)) = sigv4::scope_of(parts) {
            // A request that names one service by its target or path but is
            // signed for another goes to the one it names, whose signature
            // check refuses it (as AWS's endpoints, chosen by host, do).
            if let Some(found) = claimant {
                return Route::Service(found.clone());
            }
            return match self.services.iter().find(|s| s.signing_name() == service) {
                Some(found) => Route::Service(found.clone()),
                None => Route::Unknown {
                    protocol: guess_protocol(parts),
                    name: service,
                },
            };
        }
        if let Some(found) = claimant {
            return Route::Service(found.clone());
        }
        if target.is_none()
            && let Some(found) = self.services.iter().find(|s| s.claims_unsigned(parts))
        {
            return Route::Service(found.clone());
        }
        if let Some(prefix) = target {
            return Route::Unknown {
                protocol: guess_protocol(parts),
                name: prefix.to_string(),
            };
        }
        if let Some(found) = self.services.iter().find(|s| s.greedy()) {
            return Route::Service(found.clone());
        }
        Route::Unknown {
            protocol: guess_protocol(parts),
            name: String::new(),
        }
    }

    /// Answers one request.
    pub async fn handle<B>(&self, request: http::Request<B>) -> Response<Bytes>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let request_id = new_request_id();
        let (parts, body) = request.into_parts();
        let service = match self.route(&parts) {
            Route::Service(service) => service,
            Route::Unknown { protocol, name } => {
                let served = self.service_names().join(", ");
                let message = if name.is_empty() {
                    format!(
                        "The request names no AWS service this endpoint serves ({served}): sign it with SigV4 or send an X-Amz-Target."
                    )
                } else {
                    format!(
                        "Stratus does not serve the AWS service `{name}`; this endpoint serves {served}."
                    )
                };
                let code = match protocol {
                    Protocol::Query { .. } => "InvalidAction",
                    _ => "UnknownOperationException",
                };
                return protocol.error(&AwsError::sender(code, message), &request_id, None);
            }
        };
        let limit = service.body_limit();
        let protocol = service.protocol();
        let unsigned = !parts.headers.contains_key(header::AUTHORIZATION)
            && !parts
                .uri
                .query()
                .is_some_and(|q| q.contains("X-Amz-Credential="))
            && service.allows_unsigned(&parts);
        if service.streams_body(&parts) {
            let authenticated = if unsigned {
                Ok((Caller::Anonymous, REGION.to_string(), Check::None))
            } else {
                self.authenticate(protocol, service.signing_name(), &parts, None)
                    .await
            };
            let (caller, region, check) = match authenticated {
                Ok(found) => found,
                Err(error) => return service.render(&error, &request_id),
            };
            let wording = Wording {
                refused: crate::auth::sigv4_error,
                protocol,
                too_large: service.too_large(limit),
            };
            let stream = BodyStream::new(crate::stream::checked(body, limit, check, wording));
            let request = AwsRequest {
                parts,
                body: Bytes::new(),
                context: Context {
                    caller,
                    region,
                    account: ACCOUNT_ID.to_string(),
                    request_id: request_id.clone(),
                },
                stream: Some(stream),
            };
            return self.dispatch(service, request).await;
        }
        let body = match http_body_util::Limited::new(body, limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                if error.is::<http_body_util::LengthLimitError>() {
                    return service.render(&service.too_large(limit), &request_id);
                }
                tracing::debug!(%error, "reading an AWS request body failed");
                let error = AwsError::sender(
                    "IncompleteBody",
                    "The request body could not be read to its end.",
                );
                return service.render(&error, &request_id);
            }
        };
        let authenticated = if unsigned {
            Ok((Caller::Anonymous, REGION.to_string(), Check::None))
        } else {
            let hash = sigv4::sha256_hex(&body);
            self.authenticate(protocol, service.signing_name(), &parts, Some(&hash))
                .await
        };
        let (caller, region, check) = match authenticated {
            Ok(found) => found,
            Err(error) => return service.render(&error, &request_id),
        };
        let body = match decoded(body, check) {
            Ok(body) => body,
            Err(error) => {
                return service.render(&crate::auth::sigv4_error(protocol, &error), &request_id);
            }
        };
        let request = AwsRequest {
            parts,
            body,
            context: Context {
                caller,
                region,
                account: ACCOUNT_ID.to_string(),
                request_id: request_id.clone(),
            },
            stream: None,
        };
        self.dispatch(service, request).await
    }

    /// Names the operation, asks the authorization hook, and runs it in
    /// its span.
    async fn dispatch(&self, service: Arc<dyn Service>, request: AwsRequest) -> Response<Bytes> {
        let request_id = request.context.request_id.clone();
        let operation = match service.operation(&request) {
            Ok(operation) => operation,
            Err(error) => return service.render(&error, &request_id),
        };
        let function = match &request.context.caller {
            Caller::Function(name) => name.as_str(),
            Caller::Admin | Caller::Anonymous => "",
        };
        let span = tracing::info_span!(
            "aws",
            service = service.signing_name(),
            operation = %operation.name,
            request_id = %request_id,
            function,
        );
        let access = Access {
            caller: &request.context.caller,
            action: &operation.action,
            resource: &operation.resource,
            region: &request.context.region,
        };
        if let Err(error) = self.authorizer.authorize(&access).await {
            return service.render(&error, &request_id);
        }
        match service.call(&operation, request).instrument(span).await {
            Ok(response) => response,
            Err(error) => service.render(&error, &request_id),
        }
    }

    /// The caller, the region of the request's credential scope, and what
    /// is left to check of the body once the signature held: with the
    /// body's SHA-256 (`body_sha256`, a buffered body) everything but an
    /// `aws-chunked` body's chunks is checked here.
    async fn authenticate(
        &self,
        protocol: Protocol,
        service: &str,
        parts: &Parts,
        body_sha256: Option<&str>,
    ) -> Result<(Caller, String, Check), AwsError> {
        let refused = |e: &SigV4Error| crate::auth::sigv4_error(protocol, e);
        if let Some(token) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            return if constant_time_eq(token.as_bytes(), self.auth.bearer_token.as_bytes()) {
                Ok((Caller::Admin, REGION.to_string(), Check::None))
            } else {
                Err(invalid_token(protocol))
            };
        }
        let signed = sigv4::parse_request(parts)
            .map_err(|e| refused(&e))?
            .ok_or_else(|| refused(&SigV4Error::Missing))?;
        if signed.service != service {
            return Err(refused(&SigV4Error::BadScope(format!(
                "Credential should be scoped to correct service: '{service}'. "
            ))));
        }
        let key = self.auth.keys.key(&signed.key_id).await?;
        let Some(key) = key else {
            return Err(invalid_token(protocol));
        };
        let check = sigv4::verify_request(
            parts,
            &signed,
            &key.secret,
            chrono::Utc::now(),
            body_sha256,
        )
        .map_err(|e| {
            tracing::debug!(service, key_id = %signed.key_id, error = %e, "SigV4 check failed");
            refused(&e)
        })?;
        let check = match check {
            sigv4::PayloadCheck::Verified => Check::None,
            sigv4::PayloadCheck::MustHash(declared) => Check::Sha256(declared),
            sigv4::PayloadCheck::Chunked(decoder) => Check::Chunked(decoder),
        };
        if let Some(expected) = &key.session_token {
            let presented = signed.session_token.as_deref().map(str::as_bytes);
            if !presented.is_some_and(|p| constant_time_eq(p, expected.as_bytes())) {
                return Err(invalid_token(protocol));
            }
        }
        Ok((key.caller, signed.region, check))
    }
}

/// A buffered body as its service reads it, its last check done (an
/// `aws-chunked` body decoded and verified).
fn decoded(body: Bytes, check: Check) -> Result<Bytes, SigV4Error> {
    match check {
        Check::None => Ok(body),
        Check::Sha256(declared) => {
            let hash = sigv4::sha256_hex(&body);
            if constant_time_eq(declared.to_ascii_lowercase().as_bytes(), hash.as_bytes()) {
                Ok(body)
            } else {
                Err(SigV4Error::ContentSha256Mismatch)
            }
        }
        Check::Chunked(mut decoder) => {
            let mut decoded = Vec::with_capacity(body.len());
            for piece in decoder.push_bytes(body)? {
                decoded.extend_from_slice(&piece);
            }
            decoder.finish()?;
            Ok(Bytes::from(decoded))
        }
    }
}

/// The protocol a request for an unknown service most likely speaks.
fn guess_protocol(parts: &Parts) -> Protocol {
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/x-amz-json-1.0") {
        return Protocol::Json10;
    }
    if parts.headers.contains_key("x-amz-target") {
        return Protocol::Json11;
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        Protocol::Query {
            namespace: "https://amazonaws.com/doc/",
        }
    } else {
        Protocol::RestJson
    }
}
