//! AWS Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`),
//! so the AWS SDKs (boto3's `lambda` client with `endpoint_url`) invoke
//! Stratus functions unchanged.
//!
//! A service of the protocol layer (`stratus_aws::Service`): the router
//! authenticates the caller (SigV4 scoped to `lambda`, or the control API's
//! bearer token) and passes the authorization hook with
//! `lambda:InvokeFunction` on the function's ARN before [`LambdaService`]
//! runs; the invocation goes through the engine like every other.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use stratus_aws::{AwsError, AwsRequest, Operation, Protocol, Service};
use stratus_core::function::function_arn as arn;
use stratus_engine::Engine;
use stratus_engine::{EngineError, FunctionErrorKind, Qualifier, Trigger};

/// The tail of the log returned with `X-Amz-Log-Type: Tail`.
const LOG_TAIL_BYTES: usize = 4096;

/// An error in the Lambda service's shape: `x-amzn-ErrorType` plus a JSON body.
#[derive(Debug)]
pub struct LambdaError {
    status: StatusCode,
    kind: &'static str,
    body: serde_json::Value,
    retry_after: Option<u64>,
}

impl LambdaError {
    fn user(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        LambdaError {
            status,
            kind,
            body: serde_json::json!({ "Type": "User", "message": message.into() }),
            retry_after: None,
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::user(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            message,
        )
    }

    fn not_found(arn: &str) -> Self {
        LambdaError {
            status: StatusCode::NOT_FOUND,
            kind: "ResourceNotFoundException",
            body: serde_json::json!({ "Type": "User", "Message": format!("Function not found: {arn}") }),
            retry_after: None,
        }
    }
}

impl IntoResponse for LambdaError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        let headers = response.headers_mut();
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.kind));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Splits `FunctionName` into name and qualifier. It may be a name,
/// `name:qualifier`, a partial ARN `account:function:name[:qualifier]`, or a
/// full ARN `arn:aws:lambda:region:account:function:name[:qualifier]`.
pub fn parse_function_name(raw: &str) -> Result<(String, Option<String>), String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        [name] => (*name, None),
        [name, q] => (*name, Some(*q)),
        [_, "function", name] => (*name, None),
        [_, "function", name, q] => (*name, Some(*q)),
        ["arn", _, "lambda", _, _, "function", name] => (*name, None),
        ["arn", _, "lambda", _, _, "function", name, q] => (*name, Some(*q)),
        _ => return Err(format!("`{raw}` is not a function name or ARN")),
    };
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(format!(
            "function name `{name}` must be 1 to 64 letters, digits, hyphens or underscores"
        ));
    }
    if qualifier.is_some_and(str::is_empty) {
        return Err("the qualifier after `:` is empty".into());
    }
    Ok((name.to_string(), qualifier.map(str::to_string)))
}

/// Lambda's Invoke API as a service of the AWS endpoint.
pub struct LambdaService {
    engine: Engine,
    /// The functions' gateway host (`127.0.0.1:8080`), the authority of
    /// the requests functions receive.
    gateway_host: String,
}

impl LambdaService {
    /// The Invoke API over `engine`; `gateway_url` is the functions'
    /// gateway (`http://127.0.0.1:8080`).
    pub fn new(engine: Engine, gateway_url: &str) -> Self {
        LambdaService {
            engine,
            gateway_host: gateway_url.trim_start_matches("http://").to_string(),
        }
    }
}

/// The path prefix of the Invoke API.
const INVOKE_PREFIX: &str = "/2015-03-31/functions/";

/// The `{FunctionName}` of an Invoke path, decoded.
fn function_of_path(path: &str) -> Option<String> {
    let name = path
        .strip_prefix(INVOKE_PREFIX)?
        .strip_suffix("/invocations")?;
    (!name.is_empty() && !name.contains('/')).then(|| stratus_aws::protocol::percent_decode(name))
}

#[async_trait::async_trait]
impl Service for LambdaService {
    fn signing_name(&self) -> &'static str {
        "lambda"
    }

    fn protocol(&self) -> Protocol {
        Protocol::RestJson
    }

    fn claims(&self, parts: &http::request::Parts) -> bool {
        parts.uri.path().starts_with(INVOKE_PREFIX)
    }

    fn body_limit(&self) -> usize {
        self.engine.config().max_payload_bytes
    }

    fn too_large(&self, limit: usize) -> AwsError {
        AwsError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
        )
    }

    fn operation(&self, request: &AwsRequest) -> Result<Operation, AwsError> {
        let path = request.parts.uri.path();
        let Some(raw) =
            function_of_path(path).filter(|_| request.parts.method == http::Method::POST)
        else {
            return Err(AwsError::new(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                format!(
                    "Stratus serves Lambda's Invoke API only (POST {INVOKE_PREFIX}{{FunctionName}}/invocations), not {} {path}",
                    request.parts.method
                ),
            ));
        };
        Ok(match parse_function_name(&raw) {
            Ok((name, qualifier)) => invoke_operation(&name, qualifier.as_deref()),
            // Refused by the handler, with Lambda's message.
            Err(_) => invoke_operation(&raw, None),
        })
    }

    async fn call(
        &self,
        _operation: &Operation,
        request: AwsRequest,
    ) -> Result<http::Response<bytes::Bytes>, AwsError> {
        let outcome = match InvokeRequest::from_http(&request.parts, request.body) {
            Ok(invoke) => run(self, invoke).await,
            Err(error) => Err(error),
        };
        let response = match outcome {
            Ok(response) => response.into_response(),
            Err(error) => error.into_response(),
        };
        let (parts, body) = response.into_parts();
        match http_body_util::BodyExt::collect(body).await {
            Ok(collected) => Ok(http::Response::from_parts(parts, collected.to_bytes())),
            Err(error) => Err(AwsError::internal(
                "ServiceException",
                "reading an invocation's answer",
                &error,
            )),
        }
    }
}

/// How `Invoke` runs the function (`X-Amz-Invocation-Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    /// Synchronously, answering the function's answer (the default).
    RequestResponse,
    /// Asynchronously: queued, answered 202 at once.
    Event,
    /// Not at all: whether the function (version) exists.
    DryRun,
}

impl std::str::FromStr for InvocationType {
    type Err = LambdaError;

    fn from_str(text: &str) -> Result<Self, LambdaError> {
        match text {
            "RequestResponse" => Ok(InvocationType::RequestResponse),
            "Event" => Ok(InvocationType::Event),
            "DryRun" => Ok(InvocationType::DryRun),
            other => Err(LambdaError::invalid(format!(
                "InvocationType must be RequestResponse, Event or DryRun, not `{other}`"
            ))),
        }
    }
}

/// Lambda's `Invoke` request, as its rest-json binding places it: the
/// function in the path, `Qualifier` in the query, the options in
/// headers, the payload as the body.
#[derive(Debug)]
pub struct InvokeRequest {
    /// The function's name (from `FunctionName`, a name or an ARN).
    pub function_name: String,
    /// Its version or `$LATEST`, from `FunctionName` or `Qualifier`.
    pub qualifier: Option<String>,
    /// What the qualifier resolves to.
    pub resolved: Qualifier,
    /// `X-Amz-Invocation-Type`.
    pub invocation_type: InvocationType,
    /// `X-Amz-Log-Type: Tail`: answer the log's tail.
    pub tail: bool,
    /// `X-Amzn-Trace-Id`, passed on to the function.
    pub trace_id: Option<String>,
    /// The event.
    pub payload: bytes::Bytes,
}

impl InvokeRequest {
    /// Reads the request out of its HTTP parts, checking them in Lambda's
    /// order: the function name, the qualifier, the log type, the
    /// invocation type.
    pub fn from_http(
        parts: &http::request::Parts,
        payload: bytes::Bytes,
    ) -> Result<Self, LambdaError> {
        let raw_name = function_of_path(parts.uri.path()).unwrap_or_default();
        let query_qualifier = parts.uri.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "Qualifier")
                .map(|(_, v)| v.into_owned())
        });
        let (function_name, derived) =
            parse_function_name(&raw_name).map_err(LambdaError::invalid)?;
        let qualifier = match (derived, query_qualifier) {
            (Some(a), Some(b)) if a != b => {
                return Err(LambdaError::invalid(
                    "The derived qualifier from the function name does not match the specified qualifier.",
                ));
            }
            (a, b) => a.or(b),
        };
        let resolved = match qualifier.as_deref() {
            None | Some("$LATEST") => Qualifier::Latest,
            Some(q) => match q.parse::<u64>() {
                Ok(v) => Qualifier::Version(v),
                // Aliases are not supported yet: no function has one.
                Err(_) => return Err(LambdaError::not_found(&arn(&function_name, Some(q)))),
            },
        };
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let tail = match header("x-amz-log-type").as_deref() {
            None | Some("None") => false,
            Some("Tail") => true,
            Some(other) => {
                return Err(LambdaError::invalid(format!(
                    "X-Amz-Log-Type must be None or Tail, not `{other}`"
                )));
            }
        };
        let invocation_type = match header("x-amz-invocation-type") {
            None => InvocationType::RequestResponse,
            Some(text) => text.parse()?,
        };
        Ok(InvokeRequest {
            function_name,
            qualifier,
            resolved,
            invocation_type,
            tail,
            trace_id: header("x-amzn-trace-id"),
            payload,
        })
    }
}

/// Lambda's `Invoke` answer: the status, the payload, and the headers its
/// rest-json binding puts its other members in.
#[derive(Debug)]
pub enum InvokeResponse {
    /// `DryRun`: the function exists (204).
    DryRun,
    /// `Event`: queued (202), with the invocation's request id.
    Queued {
        /// The invocation's request id.
        request_id: String,
    },
    /// `RequestResponse`: the function's answer (200).
    Answered {
        /// The answer (or the function's error document).
        payload: Body,
        /// The payload's content type, if the function gave one.
        content_type: Option<HeaderValue>,
        /// `X-Amz-Function-Error`: the function failed.
        function_error: bool,
        /// The invocation's request id.
        request_id: String,
        /// `X-Amz-Executed-Version`.
        executed_version: u64,
        /// `X-Amz-Log-Result`: the log's tail in base64, when asked for.
        log_result: Option<String>,
    },
}

impl IntoResponse for InvokeResponse {
    fn into_response(self) -> Response {
        match self {
            InvokeResponse::DryRun => StatusCode::NO_CONTENT.into_response(),
            InvokeResponse::Queued { request_id } => {
                let mut response = StatusCode::ACCEPTED.into_response();
                if let Ok(value) = HeaderValue::from_str(&request_id) {
                    response.headers_mut().insert("x-amzn-requestid", value);
                }
                response
            }
            InvokeResponse::Answered {
                payload,
                content_type,
                function_error,
                request_id,
                executed_version,
                log_result,
            } => {
                let mut response = Response::new(payload);
                let headers = response.headers_mut();
                if let Some(content_type) = content_type {
                    headers.insert(header::CONTENT_TYPE, content_type);
                }
                if function_error {
                    headers.insert(
                        "x-amz-function-error",
                        HeaderValue::from_static("Unhandled"),
                    );
                }
                if let Ok(id) = HeaderValue::from_str(&request_id) {
                    headers.insert("x-amzn-requestid", id);
                }
                headers.insert(
                    "x-amz-executed-version",
                    HeaderValue::from(executed_version),
                );
                if let Some(log) = log_result.and_then(|log| HeaderValue::from_str(&log).ok()) {
                    headers.insert("x-amz-log-result", log);
                }
                response
            }
        }
    }
}

async fn run(state: &LambdaService, request: InvokeRequest) -> Result<InvokeResponse, LambdaError> {
    let InvokeRequest {
        function_name: name,
        qualifier,
        resolved,
        invocation_type,
        tail,
        trace_id,
        payload,
    } = request;
    let mut headers = Vec::new();
    if let Some(trace) = trace_id {
        headers.push(("x-amzn-trace-id".to_string(), trace));
    }
    match invocation_type {
        InvocationType::RequestResponse => {}
        InvocationType::DryRun => {
            let exists = match resolved {
                Qualifier::Latest => state.engine.function(&name).is_some(),
                Qualifier::Version(v) => {
                    state.engine.function(&name).is_some_and(|f| v <= f.version)
                }
            };
            return if exists {
                Ok(InvokeResponse::DryRun)
            } else {
                Err(LambdaError::not_found(&arn(&name, qualifier.as_deref())))
            };
        }
        InvocationType::Event => {
            headers.push(("host".to_string(), state.gateway_host.clone()));
            let request_id = state
                .engine
                .invoke_async(&name, resolved, payload, headers)
                .await
                .map_err(|error| engine_error(error, &name, qualifier.as_deref()))?;
            return Ok(InvokeResponse::Queued { request_id });
        }
    }
    let event = stratus_engine::event_request(&state.gateway_host, "POST", "/", &headers, payload)
        .map_err(|e| LambdaError::invalid(format!("invalid request: {e}")))?;
    let invocation = state
        .engine
        .invoke_qualified(&name, resolved, event, Trigger::Invoke)
        .await
        .map_err(|error| engine_error(error, &name, qualifier.as_deref()))?;

    let (payload, content_type, function_error) = match invocation.result {
        Ok(answer) => {
            let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
            (Body::from(answer.into_body()), content_type, false)
        }
        Err(error) => {
            let message = match error.kind {
                FunctionErrorKind::Timeout => format!(
                    "{} {} Task timed out after {:.2} seconds",
                    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
                    invocation.request_id,
                    state
                        .engine
                        .function(&name)
                        .map_or(0.0, |f| f.config.timeout)
                ),
                _ => error.message.clone(),
            };
            let json = HeaderValue::from_static("application/json");
            match (&error.kind, error.body.clone()) {
                // A Lambda runtime's own error document, relayed verbatim.
                (kind, Some(body)) if *kind != FunctionErrorKind::Timeout => {
                    (Body::from(body), Some(json), true)
                }
                _ => {
                    let document = serde_json::json!({ "errorMessage": message, "errorType": error.error_type() });
                    (Body::from(document.to_string()), Some(json), true)
                }
            }
        }
    };
    let log_result = tail.then(|| {
        let mut log = invocation.log.join("\n");
        log.push('\n');
        let start = log.len().saturating_sub(LOG_TAIL_BYTES);
        let start = (start..log.len())
            .find(|&i| log.is_char_boundary(i))
            .unwrap_or(log.len());
        base64::engine::general_purpose::STANDARD.encode(&log.as_bytes()[start..])
    });
    Ok(InvokeResponse::Answered {
        payload,
        content_type,
        function_error,
        request_id: invocation.request_id,
        executed_version: invocation.version,
        log_result,
    })
}

/// An engine error in the Lambda service's words.
fn engine_error(error: EngineError, name: &str, qualifier: Option<&str>) -> LambdaError {
    match error {
        EngineError::NotFound(_) => LambdaError::not_found(&arn(name, qualifier)),
        EngineError::Throttled(t) => LambdaError {
            status: StatusCode::TOO_MANY_REQUESTS,
            kind: "TooManyRequestsException",
            body: serde_json::json!({ "Reason": t.reason, "Type": "User", "message": "Rate Exceeded." }),
            retry_after: Some(t.retry_after_secs),
        },
        EngineError::PayloadTooLarge { limit, .. } => LambdaError::user(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
        ),
        EngineError::ShuttingDown => LambdaError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            kind: "ServiceException",
            body: serde_json::json!({ "Type": "Service", "message": "the server is shutting down" }),
            retry_after: Some(1),
        },
        other => {
            tracing::error!(error = %stratus_engine::error_chain(&other), "invoke failed");
            LambdaError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                kind: "ServiceException",
                body: serde_json::json!({ "Type": "Service", "message": "internal error; see the server log" }),
                retry_after: None,
            }
        }
    }
}

/// The Invoke operation on a function: its IAM action and ARN.
fn invoke_operation(name: &str, qualifier: Option<&str>) -> Operation {
    Operation {
        name: "Invoke".into(),
        action: "lambda:InvokeFunction".into(),
        resource: arn(name, qualifier),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_function_name;

    #[test]
    fn function_names_and_arns() {
        let ok: &[(&str, &str, Option<&str>)] = &[
            ("hello", "hello", None),
            ("hello:3", "hello", Some("3")),
            ("hello:$LATEST", "hello", Some("$LATEST")),
            ("123456789012:function:hello", "hello", None),
            ("123456789012:function:hello:prod", "hello", Some("prod")),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:hello",
                "hello",
                None,
            ),
            (
                "arn:aws:lambda:eu-west-1:1:function:my_fn-2:7",
                "my_fn-2",
                Some("7"),
            ),
        ];
        for (raw, name, qualifier) in ok {
            let (n, q) = parse_function_name(raw).expect(raw);
            assert_eq!((n.as_str(), q.as_deref()), (*name, *qualifier), "{raw}");
        }
        for bad in [
            "",
            "a:b:c",
            "bad name",
            "x:",
            "arn:aws:s3:::bucket",
            &"a".repeat(65),
        ] {
            assert!(parse_function_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
