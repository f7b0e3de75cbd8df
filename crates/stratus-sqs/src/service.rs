//! SQS as a service of the AWS endpoint.

use crate::{Reply, Sqs};
use async_trait::async_trait;
use stratus_aws::{AwsError, AwsRequest, Operation, Protocol, Service};
use stratus_core::function::queue_arn;

/// Largest request body: a batch of 1 MiB of messages in JSON, where SDKs
/// may escape each non-ASCII character as `\uXXXX` (up to three times its
/// UTF-8 size, e.g. botocore's `ensure_ascii`), and room for the rest of the
/// request.
const MAX_REQUEST_BYTES: usize = 3 * crate::queues::MAX_BATCH_BYTES + 1024 * 1024;

/// A string member of a JSON body, if it is one.
fn member<'a>(body: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(serde_json::Value::as_str)
}

/// SQS on the AWS endpoint.
pub struct SqsService(pub Sqs);

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
impl Service for SqsService {
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
        let body = crate::json_body(&request.body).unwrap_or_default();
        let queue = match name {
            "CreateQueue" | "GetQueueUrl" => member(&body, "QueueName")
                .map(|name| stratus_core::scope::regional_key(&region_of(request), name)),
            "StartMessageMoveTask" | "ListMessageMoveTasks" => {
                member(&body, "SourceArn").and_then(crate::queues::queue_of_arn)
            }
            "CancelMessageMoveTask" => member(&body, "TaskHandle")
                .and_then(crate::moves::handle_source)
                .and_then(|arn| crate::queues::queue_of_arn(&arn)),
            _ => member(&body, "QueueUrl")
                .map(|url| crate::queues::queue_key_of(url, &region_of(request))),
        };
        let resource = match queue {
            Some(queue) if !queue.is_empty() => queue_arn(&queue),
            _ => "*".to_string(),
        };
        Ok(Operation::new("sqs", name, resource))
    }

    async fn call(&self, operation: &Operation, request: AwsRequest) -> Result<Reply, AwsError> {
        crate::wire::handle(&self.0, &operation.name, request).await
    }

    fn render(&self, error: &AwsError, request_id: &str) -> Reply {
        let namespace = if CORAL_CODES.contains(&error.code.as_str()) {
            "com.amazon.coral.service"
        } else {
            "com.amazonaws.sqs"
        };
        let mut error = error.clone();
        if error.query_code.is_none() {
            error.query_code = Some(crate::wire::query_code(&error.code).to_string());
        }
        // The JSON protocol's `__type` names SQS's shape, which for two
        // codes of the query protocol is another name.
        error.code = match error.code.as_str() {
            "InvalidParameterValue" => "InvalidParameterValueException".into(),
            "MissingParameter" => "MissingRequiredParameterException".into(),
            _ => error.code,
        };
        Protocol::Json10.error(&error, request_id, Some(namespace))
    }
}

/// The region a request is signed for (the default region if its scope
/// names none that parses).
pub(crate) fn region_of(request: &AwsRequest) -> stratus_core::scope::Region {
    request.context.region.parse().unwrap_or_default()
}
