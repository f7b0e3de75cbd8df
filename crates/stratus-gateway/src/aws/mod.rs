//! The AWS-compatible service APIs on the control API's listener (what
//! `AWS_ENDPOINT_URL` names), registered with the protocol layer's router
//! (`stratus_aws::AwsRouter`), which picks the service, authenticates the
//! caller, passes the authorization hook and renders errors:
//!
//! - SQS (JSON 1.0, `X-Amz-Target: AmazonSQS.<Op>`), `sqs.rs`;
//! - EventBridge (JSON 1.1, `X-Amz-Target: AWSEvents.<Op>`), `eventbridge.rs`;
//! - SNS (query protocol, a form with `Action=<Op>`, XML answers), `sns.rs`;
//! - Lambda's Invoke API (rest-json,
//!   `POST /2015-03-31/functions/{name}/invocations`), `lambda_api.rs`.
//!
//! Each service here names the IAM action and the resource ARN of every
//! operation for the hook.

pub(crate) mod eventbridge;
pub(crate) mod sns;
pub(crate) mod sqs;

use crate::AppState;
use async_trait::async_trait;
use bytes::Bytes;
use http::StatusCode;
use http::request::Parts;
use std::sync::Arc;
use std::time::Duration;
use stratus_aws::auth::{AccessKey, AllowAuthenticated, Authenticator, CachedKeys, KeyStore};
use stratus_aws::{AwsError, AwsRequest, AwsRouter, Caller, Operation, Protocol, Service};
use stratus_core::function::{bus_arn, function_arn, queue_arn, rule_arn, topic_arn};

/// An answer of a service.
pub(crate) type Reply = http::Response<Bytes>;

/// How long a key read from the store is trusted without reading it again
/// (a removed function's key stops working within this time).
const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// Largest request body of SQS, SNS and EventBridge (256 KiB per message,
/// batch or PutEvents, 1 MiB SQS messages, and room for the JSON or form
/// encoding around them).
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// The endpoint's router with every service Stratus serves.
pub fn router(state: &AppState) -> AwsRouter {
    let keys = CachedKeys::new(StoreKeys(state.clone()), KEY_CACHE_TTL);
    let auth = Authenticator {
        keys: Arc::new(keys),
        bearer_token: state.token.clone(),
    };
    let mut router = AwsRouter::new(auth, Arc::new(AllowAuthenticated));
    router
        .register(Arc::new(Sqs(state.clone())))
        .register(Arc::new(EventBridge(state.clone())))
        .register(Arc::new(crate::lambda_api::Lambda(state.clone())))
        .register(Arc::new(Sns(state.clone())));
    router
}

/// The store's access keys.
struct StoreKeys(AppState);

#[async_trait]
impl KeyStore for StoreKeys {
    async fn key(&self, key_id: &str) -> Result<Option<AccessKey>, AwsError> {
        let store = self.0.engine.store().clone();
        let id = key_id.to_string();
        let found = match tokio::task::spawn_blocking(move || store.access_key(&id)).await {
            Ok(Ok(found)) => found,
            Ok(Err(error)) => {
                return Err(AwsError::internal(
                    "InternalFailure",
                    "reading an access key",
                    &error,
                ));
            }
            Err(error) => {
                return Err(AwsError::internal(
                    "InternalFailure",
                    "reading an access key",
                    &error,
                ));
            }
        };
        Ok(found.map(|key| AccessKey {
            caller: match key.kind {
                stratus_store::KeyKind::Admin => Caller::Admin,
                stratus_store::KeyKind::Function => {
                    Caller::Function(key.function.unwrap_or_default())
                }
            },
            secret: key.secret,
            session_token: match key.kind {
                stratus_store::KeyKind::Admin => None,
                // A function key without its token is never accepted.
                stratus_store::KeyKind::Function => Some(key.session_token.unwrap_or_default()),
            },
        }))
    }
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

/// A string member of a JSON body, if it is one.
fn member<'a>(body: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(serde_json::Value::as_str)
}

/// SQS.
struct Sqs(AppState);

/// The codes of SQS's authentication errors, which SQS answers in the
/// `com.amazon.coral.service` namespace.
const CORAL_CODES: &[&str] = &[
    "MissingAuthenticationToken",
    "IncompleteSignature",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "AccessDeniedException",
];

#[async_trait]
impl Service for Sqs {
    fn signing_name(&self) -> &'static str {
        "sqs"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Json10
    }

    fn target_prefix(&self) -> Option<&'static str> {
        Some("AmazonSQS")
    }

    fn body_limit(&self) -> usize {
        MAX_REQUEST_BYTES
    }

    fn too_large(&self, limit: usize) -> AwsError {
        AwsError::sender(
            "InvalidParameterValue",
            format!("The request body is longer than the maximum allowed of {limit} bytes."),
        )
    }

    fn operation(&self, request: &AwsRequest) -> Result<Operation, AwsError> {
        let name = request.target_operation().unwrap_or_default();
        let body = json_body(&request.body).unwrap_or_default();
        let queue = match name {
            "CreateQueue" | "GetQueueUrl" => member(&body, "QueueName").map(str::to_string),
            _ => member(&body, "QueueUrl")
                .map(|url| stratus_events::queues::queue_name_of(url).to_string()),
        };
        let resource = match queue {
            Some(queue) if !queue.is_empty() => queue_arn(&queue),
            _ => "*".to_string(),
        };
        Ok(Operation::new("sqs", name, resource))
    }

    async fn call(&self, operation: &Operation, request: AwsRequest) -> Result<Reply, AwsError> {
        sqs::handle(&self.0, &operation.name, request).await
    }

    fn render(&self, error: &AwsError, request_id: &str) -> Reply {
        let namespace = if CORAL_CODES.contains(&error.code.as_str()) {
            "com.amazon.coral.service"
        } else {
            "com.amazonaws.sqs"
        };
        let mut error = error.clone();
        if error.query_code.is_none() {
            error.query_code = Some(sqs::query_code(&error.code).to_string());
        }
        Protocol::Json10.error(&error, request_id, Some(namespace))
    }
}

/// EventBridge.
struct EventBridge(AppState);

#[async_trait]
impl Service for EventBridge {
    fn signing_name(&self) -> &'static str {
        "events"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Json11
    }

    fn target_prefix(&self) -> Option<&'static str> {
        Some("AWSEvents")
    }

    fn body_limit(&self) -> usize {
        MAX_REQUEST_BYTES
    }

    fn operation(&self, request: &AwsRequest) -> Result<Operation, AwsError> {
        let name = request.target_operation().unwrap_or_default();
        let body = json_body(&request.body).unwrap_or_default();
        let bus = member(&body, "EventBusName")
            .map(|b| b.rsplit('/').next().unwrap_or(b))
            .unwrap_or("default");
        let resource = match name {
            "PutRule" | "DeleteRule" | "DescribeRule" | "EnableRule" | "DisableRule"
            | "PutTargets" | "RemoveTargets" | "ListTargetsByRule" => member(&body, "Name")
                .or_else(|| member(&body, "Rule"))
                .map_or_else(|| "*".to_string(), |rule| rule_arn(bus, rule)),
            "CreateEventBus" | "DeleteEventBus" | "DescribeEventBus" => member(&body, "Name")
                .map_or_else(
                    || bus_arn("default"),
                    |b| bus_arn(b.rsplit('/').next().unwrap_or(b)),
                ),
            "PutEvents" => {
                let first = body
                    .get("Entries")
                    .and_then(|e| e.get(0))
                    .and_then(|e| member(e, "EventBusName"));
                let bus = first.map_or("default", |b| b.rsplit('/').next().unwrap_or(b));
                bus_arn(bus)
            }
            _ => "*".to_string(),
        };
        Ok(Operation::new("events", name, resource))
    }

    async fn call(&self, operation: &Operation, request: AwsRequest) -> Result<Reply, AwsError> {
        eventbridge::handle(&self.0, &operation.name, request).await
    }
}

/// SNS.
struct Sns(AppState);

pub(crate) const SNS: Protocol = Protocol::Query {
    namespace: "http://sns.amazonaws.com/doc/2010-03-31/",
};

#[async_trait]
impl Service for Sns {
    fn signing_name(&self) -> &'static str {
        "sns"
    }

    fn protocol(&self) -> Protocol {
        SNS
    }

    /// A form POST with no scope and no target (an unsigned or
    /// bearer-token query request).
    fn claims_unsigned(&self, parts: &Parts) -> bool {
        parts.method == http::Method::POST
            && parts.uri.path() == "/"
            && parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
    }

    fn body_limit(&self) -> usize {
        MAX_REQUEST_BYTES
    }

    fn operation(&self, request: &AwsRequest) -> Result<Operation, AwsError> {
        let params: std::collections::HashMap<String, String> =
            form_urlencoded::parse(&request.body).into_owned().collect();
        let Some(action) = params.get("Action") else {
            return Err(AwsError::sender(
                "MissingAction",
                "The request must contain the parameter Action (a form-encoded SNS query request).",
            ));
        };
        let resource = if let Some(arn) = params
            .get("TopicArn")
            .or_else(|| params.get("SubscriptionArn"))
            .or_else(|| params.get("ResourceArn"))
        {
            arn.clone()
        } else if action == "CreateTopic"
            && let Some(name) = params.get("Name")
        {
            topic_arn(name)
        } else {
            "*".to_string()
        };
        Ok(Operation::new("sns", action, resource))
    }

    async fn call(&self, operation: &Operation, request: AwsRequest) -> Result<Reply, AwsError> {
        sns::handle(&self.0, &operation.name, request).await
    }
}

/// The Lambda Invoke API's resource: a function's ARN.
pub(crate) fn invoke_operation(name: &str, qualifier: Option<&str>) -> Operation {
    Operation {
        name: "Invoke".into(),
        action: "lambda:InvokeFunction".into(),
        resource: function_arn(name, qualifier),
    }
}

/// A 413 in a service's shape.
pub(crate) fn too_large(code: &str, message: String) -> AwsError {
    AwsError::new(StatusCode::PAYLOAD_TOO_LARGE, code, message)
}
