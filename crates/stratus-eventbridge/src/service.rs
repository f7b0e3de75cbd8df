//! EventBridge as a service of the AWS endpoint.

use crate::{EventBridge, Reply};
use async_trait::async_trait;
use stratus_aws::{AwsError, AwsRequest, Operation, Protocol, Service};
use stratus_core::function::{bus_arn, rule_arn};

/// Largest request body (256 KiB per message, batch or PutEvents, 1 MiB
/// SQS messages, and room for the JSON or form encoding around them).
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// A string member of a JSON body, if it is one.
fn member<'a>(body: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(serde_json::Value::as_str)
}

/// EventBridge on the AWS endpoint.
pub struct EventBridgeService(pub EventBridge);

#[async_trait]
impl Service for EventBridgeService {
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
        let body = crate::json_body(&request.body).unwrap_or_default();
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
        crate::wire::handle(&self.0, &operation.name, request).await
    }
}
